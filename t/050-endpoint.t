# vi:filetype=perl
#
# The token endpoint (cometchat_token_endpoint): JSON answers for a signed-in
# user (200), an anonymous one (401), a failing part (503, naming it), other
# methods (405); never cached, never a secret.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

my $prelude = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_api_timeout 3s;

    add_header X-CC-Status $cometchat_token_status always;

    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }

    location = /status {
        cometchat_status;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n");
    }

    $block->set_value("config", $prelude . ($block->config // ''));
});

sub seed {
    my ($uid, $token) = @_;
    my $r = CometChatEnv::redis_cmd('SET', "cometchat:testapp:token:$uid",
                                    $token, 'EX', 600);
    die "redis: " . ($CometChatEnv::RedisError // $r) . "\n"
        unless defined $r && $r eq 'OK';
}

sub forget {
    CometChatEnv::redis_cmd('DEL', "cometchat:testapp:token:$_") for @_;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: signed in, cached token: 200 JSON, no-store
--- init
main::seed("eve", "eve-token-1");
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"eve"}';
    }
--- request
GET /_cometchat/token
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Content-Length: 71
X-CC-Status: hit
--- response_body chomp
{"uid":"eve","authToken":"eve-token-1","appId":"testapp","region":"eu"}
--- no_error_log
[error]



=== TEST 2: signed in, new user: token minted, then served from the cache
--- init
main::forget("user_e2");
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid header:X-User-Id;
        cometchat_uid_prefix user_;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:e2;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request eval
["GET /_fake/reset", "GET /_cometchat/token", "GET /_cometchat/token", "GET /_fake/stats"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["", "X-CC-Status: minted\nCache-Control: no-store", "X-CC-Status: hit\nCache-Control: no-store", ""]
--- response_body_like eval
[
    qr/"ok"/,
    qr/^\{"uid":"user_e2","authToken":"user_e2_\d{10}[0-9a-f]{32}","appId":"testapp","region":"eu"\}$/,
    qr/^\{"uid":"user_e2","authToken":"user_e2_\d{10}[0-9a-f]{32}","appId":"testapp","region":"eu"\}$/,
    qr/"tokens":\s*\{"user_e2":\s*\["user_e2_\d{10}[0-9a-f]{32}"\]\}/,
]
--- no_error_log
[error]



=== TEST 3: anonymous: 401 JSON, no-store
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 401;
    }
--- request
GET /_cometchat/token
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
X-CC-Status: anonymous
--- response_body chomp
{"error":"not signed in"}
--- no_error_log
[error]



=== TEST 4: session failing: 503 naming the session
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 502;
    }
--- request
GET /_cometchat/token
--- error_code: 503
--- response_headers
Content-Type: application/json
Cache-Control: no-store
X-CC-Status: error
--- response_body chomp
{"error":"session unavailable"}
--- error_log
cometchat: session check failed: status 502 from "/_whoami"



=== TEST 5: invalid user id: 503 naming the session and the id, not "not signed in"; the error logged
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"tab\u0009here"}';
    }
--- request
GET /_cometchat/token
--- error_code: 503
--- response_headers
X-CC-Status: error
--- response_body chomp
{"error":"session unavailable: invalid user id"}
--- error_log
invalid user id "tab%09here" (json:id) from "/_whoami": has a control character



=== TEST 6: CometChat failing: 503 naming CometChat, no secret in the answer
--- init
main::forget("frida");
CometChatEnv::fake_get("/_fake/reset");
CometChatEnv::fake_get("/_fake/set?fail_on=any&fail_status=500");
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"frida"}';
    }
--- request
GET /_cometchat/token
--- error_code: 503
--- response_headers
Content-Type: application/json
Cache-Control: no-store
X-CC-Status: error
--- response_body chomp
{"error":"cometchat unavailable"}
--- no_error_log
[alert]



=== TEST 7: POST: 405 with Allow, no session check, body discarded
--- init
CometChatEnv::fake_get("/_fake/reset");
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 500;
    }
--- request
POST /_cometchat/token
uid=someone&token=please
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/json
Cache-Control: no-store
!X-CC-Status
--- response_body chomp
{"error":"method not allowed"}
--- no_error_log
cometchat session subrequest
[error]



=== TEST 8: PUT, DELETE and OPTIONS: 405 too; a following GET still works
--- init
main::seed("gwen", "gwen-token");
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"gwen"}';
    }
--- pipelined_requests eval
["PUT /_cometchat/token\nabc", "DELETE /_cometchat/token", "OPTIONS /_cometchat/token", "GET /_cometchat/token"]
--- error_code eval
[405, 405, 405, 200]
--- response_body eval
['{"error":"method not allowed"}', '{"error":"method not allowed"}', '{"error":"method not allowed"}', '{"uid":"gwen","authToken":"gwen-token","appId":"testapp","region":"eu"}']



=== TEST 9: HEAD: the headers of the 200, no body
--- init
main::seed("hugo", "hugo-token");
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"hugo"}';
    }
--- request
HEAD /_cometchat/token
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Content-Length: 71
X-CC-Status: hit
--- response_body
--- no_error_log
[error]



=== TEST 10: reached without a session check (an SSI include): 503
--- config
    location = /page.txt {
        ssi on;
        ssi_types text/plain;
    }
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 500;
    }
--- user_files
>>> page.txt
[<!--# include virtual="/_cometchat/token" -->]
--- request
GET /page.txt
--- error_code: 200
--- response_body
[{"error":"session unavailable"}]
--- error_log
cometchat: token endpoint "/_cometchat/token": the session check did not run (session "/_whoami")



=== TEST 11: the endpoint is counted
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 403;
    }
--- request eval
["GET /_cometchat/token", "POST /_cometchat/token", "GET /status"]
--- error_code eval
[401, 405, 200]
--- response_body_like eval
[qr/not signed in/, qr/method not allowed/, qr/^cometchat_requests_total 1\n.*^cometchat_anonymous_total 1\n.*^cometchat_token_endpoint_total 2\n/sm]



=== TEST 12: an internal redirect to the endpoint reuses the page's result
--- init
main::seed("ines", "ines-token");
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    log_format session_only "$uri $status";
--- config
    location = /app {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_inject off;
        try_files /nonexistent /_cometchat/token;
    }
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        log_subrequest on;
        access_log logs/session.log session_only;
        return 200 '{"id":"ines"}';
    }
    location = /log {
        alias logs/session.log;
    }
--- request eval
["GET /app", "GET /log"]
--- error_code eval
[200, 200]
--- response_body eval
['{"uid":"ines","authToken":"ines-token","appId":"testapp","region":"eu"}', "/_whoami 200\n"]



=== TEST 13: a user created with the name the session gave: no warning
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_session_name json:name;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"named-050","name":"Ann"}';
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:token:named-050');
--- request
GET /_cometchat/token
--- response_body_like eval
qr/^\{"uid":"named-050","authToken":"named-050_\w+",/
--- no_error_log
was created with the uid as name
[alert]



=== TEST 14: a user created without a name: a warning pointing at cometchat_session_name
The endpoint's location reads no name: an empty one is none.
--- config
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_session_name json:name;
        cometchat_token_endpoint;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"noname-050","name":" "}';
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::redis_cmd('DEL', 'cometchat:testapp:token:noname-050');
--- request
GET /_cometchat/token
--- response_body_like eval
qr/^\{"uid":"noname-050","authToken":"noname-050_\w+",/
--- grep_error_log eval
qr/\[warn\] .*?\Kcometchat: CometChat user .*? was created with the uid as name[^,]*/
--- grep_error_log_out
cometchat: CometChat user "noname-050" was created with the uid as name: the session gave no name; set cometchat_session_name at server level
--- no_error_log
[alert]
