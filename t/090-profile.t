# vi:filetype=perl
#
# Profile sync: when the session reports another name or avatar than the
# module last sent for a user, one update user (PUT /users/{uid}) follows,
# detached from the page: exactly one for many concurrent pages (within a
# worker, across workers), none when nothing changed, none after the mint
# that created the user, none with cometchat_profile_sync off. A failing
# update leaves the page alone, is logged and is retried after its lock
# expires; a 429 stops updates for that user until Retry-After. A field the
# session lacks is left out: the uid never replaces a real name.
#
# /as/NAME serves a page as uid $uid with name NAME (the test's cookie
# gives the uid and avatar); the fake's /_fake/wait returns once its
# update_user count is reached and nothing is in flight, so blocks do not
# race the update that runs after the page.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;

no_shuffle();
check_accum_error_log();
worker_connections(1024);
timeout(60);

add_block_preprocessor(sub {
    my $block = shift;

    my $n = $block->can('worker_processes') ? $block->worker_processes : 1;
    $n = 1 unless defined $n && $n =~ /(\d+)/;
    $n = $1 if $n =~ /(\d+)/;

    if ($n > 1) {
        workers($n);
        master_on();

    } else {
        workers(1);
        master_off();
    }

    if (defined $block->config) {
        $block->set_value('config', common_config() . <<'_EOC_'
    location ~ ^/as/(?<as_name>[^/]*)$ {
        proxy_pass http://127.0.0.1:$server_port/page;
        proxy_set_header Cookie "$http_cookie; name=$as_name";
    }

    location = /page {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_html;
        add_header X-CC-Status $cometchat_token_status always;
    }

    location = /_html {
        default_type text/html;
        return 200 "<html><body><p>page</p></body></html>\n";
    }
_EOC_
            . $block->config);
    }
});

add_response_body_check(\&check_tokens);

redis_cmd('FLUSHDB');

run_tests();

like(redis_cmd('GET', 'cometchat:testapp:profile:p1-090') // '',
     qr/^[0-9a-f]{16}-{16}$/,
     '090 - the mint that created the user stored what it sent '
     . '(a name, no avatar)');
my $ttl = redis_cmd('TTL', 'cometchat:testapp:profile:p1-090');
ok($ttl > 86400 - 600 && $ttl <= 86400,
   "090 - ... with the token's lifetime ($ttl)");
is(redis_cmd('EXISTS', 'cometchat:testapp:profile_lock:p2-090'), 0,
   '090 - the update lock is released after a successful update');
is(redis_cmd('EXISTS', 'cometchat:testapp:profile:p8-090'), 0,
   '090 - nothing is stored with cometchat_profile_sync off');

__DATA__

=== TEST 1: the mint that creates the user sends the profile: no update
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- request eval
[
    "GET /_fake/reset",
    "GET /as/Pat",
    "GET /as/Pat",
    "GET /_fake/wait?op=total&n=2",
    "GET /_fake/stats",
    "GET /_status",
]
--- more_headers
Cookie: uid=p1-090
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted", "X-CC-Status: hit", "", "", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/p1-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/p1-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/^\{"ok":true,"total":2\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1},
                             qr/,.*"users":\{"p1-090":\{"uid":"p1-090","name":"Pat"/s),
    qr/\ncometchat_profile_updates_total 0\n/,
]
--- no_error_log
[error]
[alert]



=== TEST 2: a rename: one update with the new name, then nothing
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- request eval
[
    "GET /_fake/reset",
    "GET /as/Old",
    "GET /as/New",
    "GET /_fake/wait?op=update_user&n=1",
    "GET /as/New",
    "GET /as/New",
    "GET /_fake/stats",
    "GET /_status",
]
--- more_headers
Cookie: uid=p2-090
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted", "X-CC-Status: hit", "", "X-CC-Status: hit",
 "X-CC-Status: hit", "", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/<\/body>/,
    qr/p2-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/<\/body>/,
    qr/<\/body>/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1,
                              update_user => 1},
        qr/,.*"last_request":\{"op":"update_user","method":"PUT","path":"\/v3\/users\/p2-090","query":"","body":\{"name":"New"\}\}.*"users":\{"p2-090":\{"uid":"p2-090","name":"New"/s),
    qr/\ncometchat_api_calls_total\{outcome="ok"\} 2\n.*\ncometchat_profile_updates_total 1\n/s,
]
--- no_error_log
[error]
[alert]



=== TEST 3: unchanged, compared through Redis (no per-host cache): no update
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_token_local_ttl 0;
--- request eval
[
    "GET /_fake/reset",
    "GET /as/Quinn",
    "GET /as/Quinn",
    "GET /as/Quinn",
    "GET /as/Quinn%20B",
    "GET /_fake/wait?op=update_user&n=1",
    "GET /as/Quinn%20B",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=p3-090; avatar=https://img.example/q.png
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/<\/body>/,
    qr/<\/body>/,
    qr/<\/body>/,
    qr/<\/body>/,
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/<\/body>/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1,
                              update_user => 1},
        qr/,.*"body":\{"name":"Quinn B"\}\}.*"users":\{"p3-090":\{"uid":"p3-090","name":"Quinn B","avatar":"https:\/\/img.example\/q.png"/s),
]
--- no_error_log
[error]
[alert]



=== TEST 4: one worker: 50 concurrent pages after a rename, one update
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Fas%2FNew&n=50&conns=50&cookie=uid%3Dp4-090&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /as/Old",
    "GET /_fake/set?delay_ms=500&delay_on=update_user",
    "GET /fan",
    "GET /_fake/wait?op=update_user&n=1",
    "GET /fan",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=p4-090
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/<\/body>/,
    qr/"ok":true/,
    qr/^\{"n":50,"statuses":\{"200":50\},"distinct_bodies":1,.*"errors":0,"header_values":\{"hit":50\}\}$/,
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/^\{"n":50,"statuses":\{"200":50\},"distinct_bodies":1,.*"errors":0,"header_values":\{"hit":50\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1,
                              update_user => 1},
        qr/,.*"users":\{"p4-090":\{"uid":"p4-090","name":"New"/s),
]
--- no_error_log
[error]
[alert]



=== TEST 5: two workers: 60 concurrent pages after a rename, one update
--- worker_processes: 2
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Fas%2FNew&n=60&conns=60&cookie=uid%3Dp5-090&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /as/Old",
    "GET /_fake/set?delay_ms=500&delay_on=update_user",
    "GET /fan",
    "GET /_fake/wait?op=update_user&n=1",
    "GET /fan",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=p5-090
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/<\/body>/,
    qr/"ok":true/,
    qr/^\{"n":60,"statuses":\{"200":60\},"distinct_bodies":1,.*"errors":0,"header_values":\{"hit":60\}\}$/,
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/^\{"n":60,"statuses":\{"200":60\},"distinct_bodies":1,.*"errors":0,"header_values":\{"hit":60\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1,
                              update_user => 1},
        qr/,.*"users":\{"p5-090":\{"uid":"p5-090","name":"New"/s),
]
--- no_error_log
[error]
[alert]



=== TEST 6: a failing update: the page is served, the error logged, a later page retries
The user exists (seeded, first seen by this block: one update is due).
The first request serves a page in the background (mirror) and answers
once the fake has answered the update with a 500.
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_api_timeout 1s;

    location = /new_then_wait {
        mirror /_mirror_new;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/wait?op=update_user&n=1;
    }

    location = /_mirror_new {
        internal;
        proxy_pass http://127.0.0.1:$server_port/as/New;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/seed_user?uid=p6-090&name=Old');
CometChatEnv::fake_get('/_fake/set?fail_on=update_user&fail_status=500&fail_times=1');
--- request eval
[
    "GET /new_then_wait",
    "GET /as/New",
    "GET /_fake/echo?delay_ms=2500&body=slept",
    "GET /as/New",
    "GET /_fake/wait?op=update_user&n=2",
    "GET /_fake/stats",
    "GET /_status",
]
--- more_headers
Cookie: uid=p6-090
--- wait: 0.2
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: hit", "", "X-CC-Status: hit", "", "", ""]
--- response_body_like eval
[
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/p6-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/^slept$/,
    qr/p6-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/^\{"ok":true,"update_user":2\}$/,
    CometChatEnv::fake_calls({create_token => 1, update_user => 2},
        qr/,.*"users":\{"p6-090":\{"uid":"p6-090","name":"New"/s),
    qr/\ncometchat_api_calls_total\{outcome="server_error"\} 1\n.*\ncometchat_profile_updates_total 1\n/s,
]
--- error_log eval
qr/\[error\] .*cometchat: CometChat "update user" call for uid "p6-090" failed: HTTP 500, code ERR_INTERNAL_SERVER_ERROR; the profile update is retried in 2000 ms at the earliest/
--- no_error_log
[alert]



=== TEST 7: a 429: no update for that user until Retry-After
After the lock's 2 s, before Retry-After's 8 s: no update; after: one.
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_api_timeout 1s;

    location = /new_then_wait {
        mirror /_mirror_new;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/wait?op=update_user&n=1;
    }

    location = /_mirror_new {
        internal;
        proxy_pass http://127.0.0.1:$server_port/as/New;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/seed_user?uid=p7-090&name=Old');
CometChatEnv::fake_get('/_fake/set?ratelimit_on=update_user&retry_after=8&ratelimit_times=1');
--- request eval
[
    "GET /new_then_wait",
    "GET /_fake/echo?delay_ms=2500&body=slept",
    "GET /as/New",
    "GET /as/New",
    "GET /_fake/stats",
    "GET /_fake/echo?delay_ms=6500&body=slept",
    "GET /as/New",
    "GET /_fake/wait?op=update_user&n=2",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=p7-090
--- wait: 0.2
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/^slept$/,
    qr/p7-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/p7-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    CometChatEnv::fake_calls({create_token => 1, update_user => 1},
        qr/,.*"users":\{"p7-090":\{"uid":"p7-090","name":"Old"/s),
    qr/^slept$/,
    qr/<\/body>/,
    qr/^\{"ok":true,"update_user":2\}$/,
    CometChatEnv::fake_calls({create_token => 1, update_user => 2},
        qr/,.*"users":\{"p7-090":\{"uid":"p7-090","name":"New"/s),
]
--- error_log eval
qr/\[warn\] .*cometchat: CometChat "update user" call for uid "p7-090" failed: HTTP 429, code ERR_TOO_MANY_REQUESTS \(rate limited, retry after 8 s\); no CometChat call for "p7-090" for 8 s/
--- no_error_log
[error]
[alert]



=== TEST 8: cometchat_profile_sync off: a rename changes nothing
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_profile_sync off;
--- request eval
[
    "GET /_fake/reset",
    "GET /as/Old",
    "GET /as/New",
    "GET /as/New",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=p8-090
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/<\/body>/,
    qr/<\/body>/,
    qr/<\/body>/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1},
        qr/,.*"users":\{"p8-090":\{"uid":"p8-090","name":"Old"/s),
]
--- no_error_log
[error]
[alert]



=== TEST 9: a user created elsewhere, session without a name: the avatar is synced, the name is left alone
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /noname {
        proxy_pass http://127.0.0.1:$server_port/page;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/seed_user?uid=p9-090&name=Real%20Name",
    "GET /noname",
    "GET /_fake/wait?op=update_user&n=1",
    "GET /noname",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=p9-090; avatar=https://img.example/p9.png
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"uid":"p9-090"/,
    qr/p9-090_\d{10}[0-9a-f]{32}.*<\/body>/s,
    qr/^\{"ok":true,"update_user":1\}$/,
    qr/<\/body>/,
    CometChatEnv::fake_calls({create_token => 1, update_user => 1},
        qr/,.*"body":\{"avatar":"https:\/\/img.example\/p9.png"\}\}.*"users":\{"p9-090":\{"uid":"p9-090","name":"Real Name",.*"avatar":"https:\/\/img.example\/p9.png"/s),
]
--- no_error_log
[error]
[alert]
