# vi:filetype=perl
#
# Bounded outbound work.  CometChat counts its rate limit per app: after a
# 429 (with its Retry-After) no worker and no host on the same Redis calls
# CometChat for that app until it has passed, new users get "error" at once
# without waiting, users with a cached token are served as before, and the
# status shows the pause and the calls skipped; without Redis the per-host
# zone does the same across workers.  cometchat_api_max_concurrent caps the
# calls in flight on a host: with the fake slowed down, exactly N calls
# reach it at once and the other new users fail at once, counted.
#
# The fanout is the fake's /_fake/fanout through nginx, with "{i}" in the
# cookie: one new user per request.

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

    workers(2);
    master_on();

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

redis_cmd('FLUSHDB');

run_tests();

stop_second_nginx();

__DATA__

=== TEST 1: a 429 pauses the app on both workers; cached users still served
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ft&n=20&conns=20&cookie=uid%3Dnew%7Bi%7D-071a&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:pause');
--- request eval
[
    "GET /_fake/reset",
    "GET /t",
    "GET /_fake/set?ratelimit_on=create_token&retry_after=40&ratelimit_times=1",
    "GET /t",
    "GET /fan",
    "GET /t",
    "GET /_fake/stats",
    "GET /_status",
]
--- more_headers eval
[
    "",
    "Cookie: uid=cached-071a",
    "",
    "Cookie: uid=first-071a",
    "",
    "Cookie: uid=cached-071a",
    "",
    "",
]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=cached-071a_/,
    qr/"ok":true/,
    qr/^status=error token=\n/,
    qr/^\{"n":20,"statuses":\{"200":20\},"distinct_bodies":1,.*"errors":0,"header_values":\{"error":20\}\}$/,
    qr/^status=(?:hit|minted) token=cached-071a_/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 2}),
    qr/\ncometchat_api_paused_seconds (?:3\d|40)\n(?s:.*)\ncometchat_api_calls_rejected_total\{reason="paused"\} 20\ncometchat_api_calls_rejected_total\{reason="concurrency"\} 0\n/,
]
--- no_error_log
[error]
[alert]



=== TEST 2: the pause is shared through Redis: a second nginx makes no call
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /second {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SECOND_PORT/t;
    }
    location = /second_status {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SECOND_PORT/_status;
    }
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:pause');
CometChatToken::start_second_nginx();
--- request eval
[
    "GET /_fake/reset",
    "GET /second",
    "GET /_fake/set?ratelimit_on=create_token&retry_after=40&ratelimit_times=1",
    "GET /t",
    "GET /second",
    "GET /second",
    "GET /_fake/stats",
    "GET /second_status",
]
--- more_headers eval
[
    "",
    "Cookie: uid=cached-071b",
    "",
    "Cookie: uid=first-071b",
    "Cookie: uid=other-071b",
    "Cookie: uid=cached-071b",
    "",
    "",
]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=cached-071b_/,
    qr/"ok":true/,
    qr/^status=error token=\n/,
    qr/^status=error token=\n/,
    qr/^status=hit token=cached-071b_/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 2}),
    qr/\ncometchat_api_paused_seconds (?:3\d|40)\n(?s:.*)\ncometchat_api_calls_rejected_total\{reason="paused"\} 1\n/,
]
--- no_error_log
[error]
[alert]



=== TEST 3: no Redis: the per-host zone pauses both workers
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ft&n=20&conns=20&cookie=uid%3Dnew%7Bi%7D-071c&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /t",
    "GET /_fake/set?ratelimit_on=create_token&retry_after=40&ratelimit_times=1",
    "GET /t",
    "GET /fan",
    "GET /t",
    "GET /_fake/stats",
    "GET /_status",
]
--- more_headers eval
[
    "",
    "Cookie: uid=cached-071c",
    "",
    "Cookie: uid=first-071c",
    "",
    "Cookie: uid=cached-071c",
    "",
    "",
]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=cached-071c_/,
    qr/"ok":true/,
    qr/^status=error token=\n/,
    qr/^\{"n":20,"statuses":\{"200":20\},"distinct_bodies":1,.*"errors":0,"header_values":\{"error":20\}\}$/,
    qr/^status=hit token=cached-071c_/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 2}),
    qr/\ncometchat_api_paused_seconds (?:3\d|40)\n(?s:.*)\ncometchat_api_calls_rejected_total\{reason="paused"\} 20\n/,
]
--- no_error_log
[error]
[alert]



=== TEST 4: cometchat_api_max_concurrent 4: four calls at once, the rest fail at once
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cometchat_api_max_concurrent 4;
--- config
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Ft&n=12&conns=12&cookie=uid%3Dcap%7Bi%7D-071d&capture_header=X-CC-Status&timeout=40;
        proxy_read_timeout 60s;
    }
--- init
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:pause');
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=2000&delay_on=create_token,create_user",
    "GET /fan",
    "GET /_fake/stats",
    "GET /_status",
]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"n":12,"statuses":\{"200":12\},"distinct_bodies":5,.*"errors":0,"header_values":\{(?=.*"error":8)(?=.*"minted":4)("\w+":\d+,?){2}\}\}$/,
    CometChatEnv::fake_calls({create_user => 4, create_token => 4}, ',"max_concurrency":4,"in_flight":0,'),
    qr/\ncometchat_api_in_flight 0\n(?s:.*)\ncometchat_api_calls_rejected_total\{reason="paused"\} 0\ncometchat_api_calls_rejected_total\{reason="concurrency"\} 8\n/,
]
--- no_error_log
[error]
[alert]
