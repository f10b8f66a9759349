# vi:filetype=perl
#
# Coalescing: many concurrent first requests for one new user cause one
# mint (one create_token / create_user at the fake) and every response
# carries the same token: within a worker (wait list), across workers (Redis
# lock, or the per-host zone without Redis) and across two nginx instances
# sharing one Redis. The fake delays mints so that the requests really
# overlap. Also: a lock left by a minter that died expires and the waiter
# mints; a lock held too long makes the waiter give up waiting and mint.
#
# The fanout is the fake's /_fake/fanout, reached through nginx: n GETs over
# `conns` connections started together; its reply counts statuses, distinct
# bodies (/tt answers "token=T") and the X-CC-Status values.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;

no_shuffle();
worker_connections(1024);
timeout(60);

second_port();

add_block_preprocessor(sub {
    my $block = shift;

    # --- worker_processes: N runs that block with a master and N workers
    my $n = $block->can('worker_processes') ? $block->worker_processes : 1;
    $n = 1 unless defined $n && $n =~ /^\s*(\d+)/;
    $n = $1 if $n =~ /(\d+)/;

    if ($n > 1) {
        workers($n);
        master_on();

    } else {
        workers(1);
        master_off();
    }

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

add_response_body_check(\&check_tokens);

redis_cmd('FLUSHDB');

run_tests();

ok(second_access_count(qr{"GET /tt HTTP}) > 0,
   '040 - the second nginx served part of the two-instance fanout');

stop_second_nginx();

for my $uid (qw(fan1-040 fan2-040 fan3-040)) {
    like(redis_cmd('GET', "cometchat:testapp:token:$uid") // '',
         qr/^${uid}_\d{10}[0-9a-f]{32}$/, "040 - the token of $uid is cached");
    is(redis_cmd('EXISTS', "cometchat:testapp:lock:$uid"), 0,
       "040 - the lock for $uid was released");
}

__DATA__

=== TEST 1: one worker: 50 concurrent first requests, one mint, one token
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ftt&n=50&conns=50&cookie=uid%3Dfan1-040&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=1500&delay_on=create_token,create_user",
    "GET /fan",
    "GET /_fake/stats",
    "GET /_status",
]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"n":50,"statuses":\{"200":50\},"distinct_bodies":1,"bodies_sample":\["token=fan1-040_\w+\\n"\],"errors":0,"header_values":\{"minted":50\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}),
    qr/\ncometchat_coalesced_total 49\n/,
]
--- no_error_log
[error]
[alert]



=== TEST 2: two workers (master on): still one mint and one token
--- worker_processes: 2
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ftt&n=60&conns=60&cookie=uid%3Dfan2-040&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=1500&delay_on=create_token,create_user",
    "GET /fan",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"n":60,"statuses":\{"200":60\},"distinct_bodies":1,"bodies_sample":\["token=fan2-040_\w+\\n"\],"errors":0,"header_values":\{(?:"(?:minted|hit)":\d+,?){1,2}\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}),
]
--- no_error_log
[error]
[alert]



=== TEST 3: two nginx instances sharing one Redis: one mint, one token
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    upstream both-040 {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        server 127.0.0.1:$TEST_NGINX_SECOND_PORT;
    }
--- config
    location = /split {
        proxy_pass http://both-040/tt;
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Fsplit&n=60&conns=60&cookie=uid%3Dfan3-040&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- init
CometChatToken::start_second_nginx();
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=1500&delay_on=create_token,create_user",
    "GET /fan",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"n":60,"statuses":\{"200":60\},"distinct_bodies":1,"bodies_sample":\["token=fan3-040_\w+\\n"\],"errors":0,"header_values":\{(?:"(?:minted|hit)":\d+,?){2}\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}),
]
--- no_error_log
[error]
[alert]



=== TEST 4: no Redis, two workers: the per-host zone coalesces across workers
--- worker_processes: 2
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ftt&n=60&conns=60&cookie=uid%3Dfan4-040&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=1500&delay_on=create_token,create_user",
    "GET /fan",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"n":60,"statuses":\{"200":60\},"distinct_bodies":1,"bodies_sample":\["token=fan4-040_\w+\\n"\],"errors":0,"header_values":\{(?:"(?:minted|hit)":\d+,?){1,2}\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}),
]
--- no_error_log
[error]
[alert]



=== TEST 5: Redis unreachable, two workers: minted once per host all the same
--- worker_processes: 2
--- http_config
    cometchat_redis 127.0.0.1:1;
    cometchat_redis_timeout 200ms;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ftt&n=60&conns=60&cookie=uid%3Dfan5-040&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=1500&delay_on=create_token,create_user",
    "GET /fan",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"n":60,"statuses":\{"200":60\},"distinct_bodies":1,"bodies_sample":\["token=fan5-040_\w+\\n"\],"errors":0,"header_values":\{(?:"(?:minted|hit)":\d+,?){1,2}\}\}$/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}),
]
--- no_error_log
[alert]



=== TEST 6: a lock left by a minter that died expires; the waiter then mints
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- init
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:lock:stale-040',
                        'a-host-that-died', 'PX', 1500);
--- request eval
["GET /_fake/reset", "GET /t", "GET /t", "GET /_fake/stats"]
--- more_headers
Cookie: uid=stale-040
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted", "X-CC-Status: hit", ""]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=stale-040_\w+\n\z/,
    qr/^status=hit token=stale-040_\w+\n\z/,
    CometChatEnv::fake_calls({create_user => 1, others => 'any', total => 2}),
]
--- no_error_log
[error]
[alert]



=== TEST 7: a lock held past the waiting bound: the waiter gives up waiting and mints
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_api_timeout 1s;
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:lock:slow-040',
                        'a-stuck-host', 'PX', 60000);
--- request
GET /t
--- more_headers
Cookie: uid=slow-040
--- response_headers
X-CC-Status: minted
--- response_body_like eval
qr/^status=minted token=slow-040_\w+\n\z/
--- error_log
gave up waiting for another mint of "slow-040"
--- no_error_log
[alert]



=== TEST 8: (same nginx) ... and it minted once
--- request
GET /_fake/stats
--- response_body_like eval
CometChatEnv::fake_calls({create_user => 1, others => 'any', total => 2})
--- no_error_log
[alert]
