# vi:filetype=perl
#
# cometchat_status: Prometheus text, counters summed over all workers
# (shared memory), exact once the traffic has stopped.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;

no_shuffle();
master_on();
workers(2);
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

redis_cmd('FLUSHDB');
fake_get('/_fake/reset');

run_tests();

__DATA__

=== TEST 1: counters after known traffic on two workers
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /as-alice {
        proxy_pass http://127.0.0.1:$server_port/t;
        proxy_set_header Cookie "uid=alice-200";
    }
    location = /anon {
        proxy_pass http://127.0.0.1:$server_port/t;
        proxy_set_header Cookie "";
    }
    location = /page {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_page;
        proxy_set_header Cookie "uid=alice-200";
    }
    location = /_page {
        default_type text/html;
        return 200 "<html><body>hi</body></html>";
    }
--- request eval
[
    "GET /as-alice",
    "GET /as-alice",
    "GET /as-alice",
    "GET /as-alice",
    "GET /as-alice",
    "GET /anon",
    "GET /page",
    "GET /_status",
]
--- more_headers
Cookie: uid=alice-200
--- response_body_like eval
[
    qr/^status=minted token=alice-200_\d+/,
    qr/^status=hit token=alice-200_\d+/,
    qr/^status=hit token=alice-200_\d+/,
    qr/^status=hit token=alice-200_\d+/,
    qr/^status=hit token=alice-200_\d+/,
    qr/^status=anonymous token=$/,
    qr/<script/,
    qr/^# HELP cometchat_requests_total .*
^# TYPE cometchat_requests_total counter
^cometchat_requests_total 7
(?s:.*)^cometchat_anonymous_total 1
(?s:.*)^cometchat_cache_hits_total 5
(?s:.*)^cometchat_cache_misses_total 1
(?s:.*)^cometchat_tokens_minted_total 1
(?s:.*)^cometchat_api_calls_total\{outcome="ok"\} 1
^cometchat_api_calls_total\{outcome="client_error"\} 0
^cometchat_api_calls_total\{outcome="user_missing"\} 1
^cometchat_api_calls_total\{outcome="rate_limited"\} 0
^cometchat_api_calls_total\{outcome="server_error"\} 0
^cometchat_api_calls_total\{outcome="transport_error"\} 0
(?s:.*)^cometchat_users_created_total 1
(?s:.*)^cometchat_redis_errors_total 0
(?s:.*)^cometchat_session_errors_total 0
(?s:.*)^cometchat_errors_total 0
(?s:.*)^cometchat_snippets_injected_total 1
(?s:.*)^cometchat_token_endpoint_total 0
(?s:.*)^cometchat_redis_up 2$/m,
]
--- no_error_log
[alert]
[crit]



=== TEST 2: session errors, pipeline errors and the token endpoint count
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /broken {
        cometchat on;
        cometchat_session /_broken_session;
        proxy_pass http://127.0.0.1:$server_port/_page;
    }
    location = /_page {
        return 200 "page\n";
    }
    location = /_broken_session {
        internal;
        return 500;
    }
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
    location = /as-bob {
        proxy_pass http://127.0.0.1:$server_port/_cometchat/token;
        proxy_set_header Cookie "uid=bob-200";
    }
--- request eval
[
    "GET /broken",
    "GET /broken",
    "GET /as-bob",
    "GET /as-bob",
    "POST /_cometchat/token\nbody",
    "GET /_status",
]
--- error_code eval
[200, 200, 200, 200, 405, 200]
--- response_body_like eval
[
    qr/^page$/,
    qr/^page$/,
    qr/"uid":"bob-200"/,
    qr/"uid":"bob-200"/,
    qr/method not allowed/,
    qr/^cometchat_requests_total 4
(?s:.*)^cometchat_cache_hits_total 1
(?s:.*)^cometchat_tokens_minted_total 1
(?s:.*)^cometchat_session_errors_total 2
(?s:.*)^cometchat_errors_total 2
(?s:.*)^cometchat_snippets_injected_total 0
(?s:.*)^cometchat_token_endpoint_total 3$/m,
]



=== TEST 3: Prometheus text format
--- config
--- request
GET /_status
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like
^# HELP cometchat_requests_total Requests the pipeline ran for.
# TYPE cometchat_requests_total counter
cometchat_requests_total 0
