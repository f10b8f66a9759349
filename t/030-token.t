# vi:filetype=perl
#
# The token cache: Redis key cometchat:APP_ID:token:UID with the configured
# TTL, hits without REST calls, minting on a real miss (creating the
# CometChat user when needed, and only then), the per-host cache without
# Redis or while Redis is down, the write-back of such tokens when Redis
# returns, and 429 answers honoured per user (locally and through Redis).
#
# Every block uses its own uids; t/lib/CometChatToken.pm checks that each
# uid gets one token in the whole file, the one the fake minted.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;

no_shuffle();
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

add_response_body_check(\&check_tokens);

redis_cmd('FLUSHDB');

run_tests();

# what the blocks left in Redis

my $ttl = redis_cmd('TTL', 'cometchat:testapp:token:_41nn-030');
ok($ttl > 86400 - 600 && $ttl <= 86400,
   "030 - the minted token is kept with the default TTL of 24h ($ttl)");
is(redis_cmd('EXISTS', 'cometchat:testapp:token:ann-030'), 0,
   '030 - the key holds the mapped uid ("A" escaped), not a lowercased one');

$ttl = redis_cmd('TTL', 'cometchat:testapp:token:dave-030');
ok($ttl > 3000 && $ttl <= 3600,
   "030 - cometchat_token_ttl 1h gives the key a TTL of 1h ($ttl)");

is(redis_cmd('EXISTS', 'cometchat:testapp:token:erin-030'), 0,
   '030 - without cometchat_redis nothing is written to Redis');

my $back = redis_cmd('GET', 'cometchat:testapp:token:gina-030');
like($back // '', qr/^gina-030_\d{10}[0-9a-f]{32}$/,
     '030 - a token minted while Redis was down was written back');
$ttl = redis_cmd('TTL', 'cometchat:testapp:token:gina-030');
ok($ttl > 0 && $ttl <= 86400, "030 - ... with the rest of its TTL ($ttl)");

my $pttl = redis_cmd('PTTL', 'cometchat:testapp:retry:rl-030');
ok($pttl > 0 && $pttl <= 120000,
   "030 - a 429 is shared through Redis until Retry-After ($pttl ms)");
like(redis_cmd('GET', 'cometchat:testapp:retry:rl-030') // '', qr/^\d{10}$/,
     '030 - ... holding the time calls may resume');

is(redis_cmd('EXISTS', 'cometchat:testapp:lock:_41nn-030'), 0,
   '030 - the minting lock is released');

is(redis_cmd('EXISTS', 'cometchat:testapp:token:iris-030'), 0,
   '030 - a token read from Redis is not written back after its key was '
   . 'deleted');

__DATA__

=== TEST 1: Redis down: the token minted now lives in the per-host cache
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cometchat_redis_timeout 300ms;
--- config
--- init
CometChatEnv::stop_redis();
--- request eval
["GET /_fake/reset", "GET /t", "GET /t"]
--- more_headers
Cookie: uid=gina-030
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted", "X-CC-Status: hit"]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=gina-030_\w+\n\z/,
    qr/^status=hit token=gina-030_\w+\n\z/,
]
--- no_error_log
[alert]



=== TEST 2: (same nginx) Redis back, still without the key: the local token is written back, not minted again
--- init
CometChatEnv::start_redis();
# wait until this nginx has reconnected (it backs off after errors)
for (1 .. 500) {
    my $list = CometChatEnv::redis_cmd('CLIENT', 'LIST') // '';
    my @clients = split /\n/, $list;
    last if @clients >= 2;
    select(undef, undef, undef, 0.02);
}
--- request eval
["GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=gina-030
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^status=hit token=gina-030_\w+\n\z/,
    CometChatEnv::fake_calls({create_user => 1, others => 'any', total => 2}),
]
--- no_error_log
[alert]



=== TEST 3: new user: created with name and avatar, token minted and cached; then a hit without REST calls
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- request eval
["GET /_fake/reset", "GET /t", "GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=Ann-030; name=Ann; avatar=https://img.example/ann.png
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=_41nn-030_\d{10}[0-9a-f]{32}\n\z/,
    qr/^status=hit token=_41nn-030_\d{10}[0-9a-f]{32}\n\z/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}, qr/,.*"users":\{"_41nn-030":\{"uid":"_41nn-030","name":"Ann","avatar":"https:\/\/img\.example\/ann\.png"/s),
]
--- no_error_log
[error]
[alert]



=== TEST 4: a token in Redis is served as it is, keyed by the mapped uid, without any REST call
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- init
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:token:_42_4f_42-030',
                        'bob-preset-token', 'EX', 600);
--- request eval
["GET /_fake/reset", "GET /t", "GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=BOB-030
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: hit", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=hit token=bob-preset-token\n\z/,
    qr/^status=hit token=bob-preset-token\n\z/,
    CometChatEnv::fake_calls({others => 'any', total => 0}),
]
--- no_error_log
[error]
[alert]



=== TEST 5: existing CometChat user, no cached token: minted without creating the user again
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    # the renaming that would follow is t/090-profile.t's
    cometchat_profile_sync off;
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/seed_user?uid=carol-030&name=Carol%20Old",
    "GET /t",
    "GET /t",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=carol-030; name=CarolNew
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["", "", "X-CC-Status: minted", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"uid":"carol-030"/,
    qr/^status=minted token=carol-030_\d{10}[0-9a-f]{32}\n\z/,
    qr/^status=hit token=carol-030_\d{10}[0-9a-f]{32}\n\z/,
    CometChatEnv::fake_calls({create_token => 1}, qr/,.*"users":\{"carol-030":\{"uid":"carol-030","name":"Carol Old"/s),
]
--- no_error_log
[error]
[alert]



=== TEST 6: cometchat_token_ttl sets the Redis expiry (checked after the blocks)
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_token_ttl 1h;
--- request eval
["GET /_fake/reset", "GET /t", "GET /t"]
--- more_headers
Cookie: uid=dave-030
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=dave-030_\w+\n\z/,
    qr/^status=hit token=dave-030_\w+\n\z/,
]
--- no_error_log
[error]



=== TEST 7: without cometchat_redis the per-host cache serves the second request
--- config
--- request eval
["GET /_fake/reset", "GET /t", "GET /t", "GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=erin-030
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted", "X-CC-Status: hit", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=erin-030_\w+\n\z/,
    qr/^status=hit token=erin-030_\w+\n\z/,
    qr/^status=hit token=erin-030_\w+\n\z/,
    CometChatEnv::fake_calls({create_user => 1, others => 'any', total => 2}),
]
--- no_error_log
[error]
[alert]



=== TEST 8: Redis unreachable: minted directly, and the Redis failure is logged
--- http_config
    cometchat_redis 127.0.0.1:1;
    cometchat_redis_timeout 200ms;
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request
GET /t
--- more_headers
Cookie: uid=fred-030
--- response_headers
X-CC-Status: minted
--- response_body_like eval
qr/^status=minted token=fred-030_\w+\n\z/
--- error_log
cometchat: redis
--- no_error_log
[alert]



=== TEST 9: (same nginx) Redis still unreachable: served from the per-host cache, no second mint
--- request eval
["GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=fred-030
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^status=hit token=fred-030_\w+\n\z/,
    CometChatEnv::fake_calls({create_user => 1, others => 'any', total => 2}),
]
--- no_error_log
[alert]



=== TEST 10: 429: no call for that user, nor for another user of the app (CometChat counts per app), until Retry-After
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /_whoami_other {
        internal;
        proxy_pass http://127.0.0.1:$server_port/_who_other;
    }
    location = /_who_other {
        add_header X-User-Id other-030;
        return 204;
    }
    location = /t_other {
        cometchat on;
        cometchat_session /_whoami_other;
        proxy_pass http://127.0.0.1:$server_port/_echo;
        proxy_set_header X-CC-Status $cometchat_token_status;
        proxy_set_header X-CC-Token $cometchat_auth_token;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?ratelimit_on=create_token&retry_after=120&ratelimit_times=1",
    "GET /t",
    "GET /t",
    "GET /t_other",
    "GET /t",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=rl-030
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "", "X-CC-Status: error", "X-CC-Status: error", "", "X-CC-Status: error", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^status=error token=\n\z/,
    qr/^status=error token=\n\z/,
    qr/^status=error token=\n\z/,
    qr/^status=error token=\n\z/,
    CometChatEnv::fake_calls({create_token => 1}, qr/,.*"users":\{\}/s),
]
--- no_error_log
[alert]



=== TEST 11: a 429 another host recorded in Redis holds here too
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:pause');
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:retry:ext-030',
                        int(time()) + 120, 'PX', 120000);
--- request eval
["GET /_fake/reset", "GET /t", "GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=ext-030
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: error", "X-CC-Status: error", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=error token=\n\z/,
    qr/^status=error token=\n\z/,
    CometChatEnv::fake_calls({others => 'any', total => 0}),
]
--- no_error_log
[alert]



=== TEST 12: a CometChat failure other than 429 is not remembered: the next request mints
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?fail_on=create_token&fail_status=500&fail_times=1",
    "GET /t",
    "GET /t",
    "GET /t",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=hal-030
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "", "X-CC-Status: error", "X-CC-Status: minted", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^status=error token=\n\z/,
    qr/^status=minted token=hal-030_\w+\n\z/,
    qr/^status=hit token=hal-030_\w+\n\z/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 2,
                             others => 'any', total => '\d+'}),
]
--- no_error_log
[alert]



=== TEST 13: anonymous requests never reach the token cache
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- request eval
["GET /_fake/reset", "GET /t", "GET /_fake/stats"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "X-CC-Status: anonymous", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=anonymous token=\n\z/,
    CometChatEnv::fake_calls({others => 'any', total => 0}),
]
--- no_error_log
[error]
[alert]



=== TEST 14: a token read from Redis is kept on this host (first-level cache)
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /t0 {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_token_local_ttl 0;
        proxy_pass http://127.0.0.1:$server_port/_echo;
        proxy_set_header X-CC-Status $cometchat_token_status;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }
--- init
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:token:iris-030',
                        'iris-preset-token', 'EX', 600);
--- request eval
["GET /_fake/reset", "GET /t"]
--- more_headers
Cookie: uid=iris-030
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-CC-Status: hit"]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=hit token=iris-preset-token\n\z/,
]
--- no_error_log
[error]
[alert]



=== TEST 15: (same nginx) its Redis key deleted: still answered on this host within cometchat_token_local_ttl, without REST calls
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:token:iris-030');
--- request eval
["GET /t", "GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=iris-030
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: hit", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^status=hit token=iris-preset-token\n\z/,
    qr/^status=hit token=iris-preset-token\n\z/,
    CometChatEnv::fake_calls({others => 'any', total => 0}),
]
--- no_error_log
[error]
[alert]



=== TEST 16: (same nginx) where the local cache is off, a Redis miss does not write that copy back (the mint fails here; Redis checked after the blocks)
--- init
CometChatEnv::fake_get('/_fake/set?fail_on=create_token&fail_status=500'
                       . '&fail_times=1');
--- request eval
["GET /t0", "GET /_fake/stats"]
--- more_headers
Cookie: uid=iris-030
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: error", ""]
--- response_body_like eval
[
    qr/^status=error token=\n\z/,
    CometChatEnv::fake_calls({create_token => 1, others => 'any', total => 1}),
]
--- no_error_log
[alert]



=== TEST 17: cometchat_token_local_ttl 0: a token read from Redis is not kept on this host
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_token_local_ttl 0;

    # the status only: TEST 20 mints a second token for one uid
    location = /ts {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_echo_status;
        proxy_set_header X-CC-Status $cometchat_token_status;
    }

    location = /_echo_status {
        return 200 "status=$http_x_cc_status\n";
    }
--- init
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:token:jack-030',
                        'jack-preset-token', 'EX', 600);
--- request eval
["GET /_fake/reset", "GET /t"]
--- more_headers
Cookie: uid=jack-030
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-CC-Status: hit"]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=hit token=jack-preset-token\n\z/,
]
--- no_error_log
[error]
[alert]



=== TEST 18: (same nginx) its Redis key deleted: a real miss, minted at once
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:token:jack-030');
--- request eval
["GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=jack-030
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: minted", ""]
--- response_body_like eval
[
    qr/^status=minted token=jack-030_\d{10}[0-9a-f]{32}\n\z/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1, others => 'any', total => 2}),
]
--- no_error_log
[error]
[alert]



=== TEST 19: (same nginx) a token minted here and stored in Redis
--- request
GET /ts
--- more_headers
Cookie: uid=kate-030
--- response_body
status=minted
--- no_error_log
[error]



=== TEST 20: (same nginx) its key deleted in Redis: not written back from this host, minted again
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:token:kate-030');
--- request
GET /ts
--- more_headers
Cookie: uid=kate-030
--- response_body
status=minted
--- no_error_log
[error]



=== TEST 21: Redis unreachable, a server with its own error_log: the connection's failure is in the main log, not the lookup's
--- http_config
    cometchat_redis 127.0.0.1:1;
    cometchat_redis_timeout 200ms;
--- config
    error_log logs/site.log;

    location = /site.log {
        default_type text/plain;
        alias logs/site.log;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request
GET /t
--- more_headers
Cookie: uid=lena-030
--- response_body_like eval
qr/^status=minted token=lena-030_\w+\n\z/
--- error_log
cometchat: redis connect to "127.0.0.1:1" failed
--- no_error_log
using the local token cache
[alert]



=== TEST 22: (same nginx) ... the lookup's is in the server's error_log
--- request
GET /site.log
--- response_body_like eval
qr/\[error\] \d+#\d+: \*\d+ cometchat: redis (?:unavailable|GET failed), using the local token cache and minting without the shared lock\n/
--- no_error_log
[alert]
