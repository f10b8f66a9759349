# vi:filetype=perl
#
# Non-blocking: with one worker and the fake delaying mints by 3 s, a
# request for a user whose token is cached completes while another user's
# mint is pending on the same worker. The fake's /_fake/race starts the
# slow request, waits gap_ms, starts the fast one and reports the order in
# which they completed (no timing is asserted).
#
# TEST 4 loads t/lib/slowdns.c (LD_PRELOAD) so that getaddrinfo() of
# *.slowdns.test stalls for 10 s, as a dead DNS server would: a CometChat
# call that times out during its name lookup must not wait for the lookup.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;
use File::Temp ();

no_shuffle();
worker_connections(1024);
timeout(30);
workers(1);
master_off();

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

add_response_body_check(\&check_tokens);

redis_cmd('FLUSHDB');

our $SlowDns;

{
    my $dir = File::Temp::tempdir(CLEANUP => 1);

    if (system('cc', '-shared', '-fPIC', '-o', "$dir/slowdns.so",
               't/lib/slowdns.c', '-ldl') == 0)
    {
        # upstream Test::Nginx resets LD_PRELOAD before starting nginx
        # and documents TEST_NGINX_LD_PRELOAD for this; t/compat too
        $SlowDns = "$dir/slowdns.so";
        $ENV{TEST_NGINX_LD_PRELOAD} = $SlowDns;
        $ENV{SLOWDNS_SECONDS} = 10;

        # an ASan build of nginx wants its runtime first otherwise
        $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
                             $ENV{ASAN_OPTIONS}, 'verify_asan_link_order=0';
    }
}

run_tests();

__DATA__

=== TEST 1: Redis hit for one user while another user's mint is pending
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /race {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/race?port=$TEST_NGINX_SERVER_PORT&slow=%2Ft&fast=%2Ft&cookie_slow=uid%3Dslow1-045&cookie_fast=uid%3Dfast1-045&gap_ms=300&timeout=20;
        proxy_read_timeout 30s;
    }
--- init
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:token:fast1-045',
                        'fast1-preset-token', 'EX', 600);
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=3000&delay_on=create_token,create_user",
    "GET /race",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^(?=.*"first":"fast")(?=.*"order":\["fast","slow"\])(?=.*"fast_status":200)(?=.*"fast_body":"status=hit token=fast1-preset-token\\n")(?=.*"slow_status":200)(?=.*"slow_body":"status=minted token=slow1-045_\w+\\n")/s,
    CometChatEnv::fake_calls({create_user => 1, others => 'any', total => 2}),
]
--- no_error_log
[error]
[alert]



=== TEST 2: the same without Redis: a per-host cache hit is not held up by a pending mint
--- config
    location = /race {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/race?port=$TEST_NGINX_SERVER_PORT&slow=%2Ft&fast=%2Ft&cookie_slow=uid%3Dslow2-045&cookie_fast=uid%3Dfast2-045&gap_ms=300&timeout=20;
        proxy_read_timeout 30s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /t",
    "GET /_fake/set?delay_ms=3000&delay_on=create_token,create_user",
    "GET /race",
    "GET /_fake/stats",
]
--- more_headers
Cookie: uid=fast2-045
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^status=minted token=fast2-045_\w+\n\z/,
    qr/"ok":true/,
    qr/^(?=.*"first":"fast")(?=.*"order":\["fast","slow"\])(?=.*"fast_status":200)(?=.*"fast_body":"status=hit token=fast2-045_\w+\\n")(?=.*"slow_status":200)(?=.*"slow_body":"status=minted token=slow2-045_\w+\\n")/s,
    CometChatEnv::fake_calls({create_user => 2, others => 'any', total => 4}),
]
--- no_error_log
[error]
[alert]



=== TEST 3: an anonymous request is not held up by a pending mint either
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /race {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/race?port=$TEST_NGINX_SERVER_PORT&slow=%2Ft&fast=%2Ft&cookie_slow=uid%3Dslow3-045&gap_ms=300&timeout=20;
        proxy_read_timeout 30s;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?delay_ms=3000&delay_on=create_token,create_user",
    "GET /race",
]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^(?=.*"first":"fast")(?=.*"fast_body":"status=anonymous token=\\n")(?=.*"slow_body":"status=minted token=slow3-045_\w+\\n")/s,
]
--- no_error_log
[error]
[alert]



=== TEST 4: a name lookup that outlives cometchat_api_timeout does not hold the worker
With curl's default, a call that times out while its resolver thread still
runs joins that thread: the worker would wait the 10 s for getaddrinfo().
--- skip_eval: 5: !$main::SlowDns
--- config
    location = /s {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_url http://api.slowdns.test:$TEST_NGINX_FAKE_PORT/v3;
        cometchat_api_timeout 300ms;
        proxy_pass http://127.0.0.1:$server_port/_echo;
        proxy_set_header X-CC-Status $cometchat_token_status;
        add_header X-CC-Status $cometchat_token_status always;
    }
--- more_headers
Cookie: uid=slowdns1-045
--- request
GET /s
--- timeout: 5
--- error_code: 200
--- response_headers
X-CC-Status: error
--- response_body
status=error token=
--- error_log
CometChat "create auth token" call for uid "slowdns1-045" failed: timed out
--- no_error_log
[alert]
