# vi:filetype=perl
#
# The session check: the access handler's subrequest, how its answer is
# read (status, headers, JSON body), how the CometChat uid is formed, and
# that the module never changes what other access modules decide.
#
# Tokens for known users are put in Redis first (cometchat:testapp:token:UID),
# so "hit" proves the uid was formed exactly as expected; the tests that
# need a new user created go through the fake CometChat.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use Digest::SHA ();

my $prelude = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_api_timeout 3s;

    add_header X-CC-Status $cometchat_token_status always;
    add_header X-CC-Uid $cometchat_uid always;

    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n");
    }

    $block->set_value("config", $prelude . ($block->config // ''));

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> page.txt\npage\n");
    }
});

# a cached token for uid, so that the lookup is a hit
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

=== TEST 1: identity from a response header, uppercase lowered by cometchat_uid_map lowercase, cached token
--- init
main::seed("alice42", "tok-alice42");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_uid_map lowercase;
        add_header X-CC-Status $cometchat_token_status always;
        add_header X-CC-Uid $cometchat_uid always;
        add_header X-CC-Token $cometchat_auth_token always;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:Alice42;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: alice42
X-CC-Status: hit
X-CC-Token: tok-alice42
--- response_body
page
--- no_error_log
[error]



=== TEST 2: identity from a nested JSON path, numeric id, uid prefix
--- init
main::seed("user_42", "tok-user42");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:user.id;
        cometchat_uid_prefix User_;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"id":"wrong","user":{"roles":["a",{"id":"no"}],"profile":{"id":"no"},"id":42},"more":{"id":1}}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: user_42
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]



=== TEST 3: JSON string id, deeper path, an uppercase letter escaped
--- init
main::seed("_42ob-7", "tok-bob7");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:data.account.uid;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"data":{"account":{"uid":"Bob-7","name":"Bob"}}}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: _42ob-7
X-CC-Status: hit
--- no_error_log
[error]



=== TEST 4: custom header name matched case-insensitively, prefix
--- init
main::seed("shop-_43arol_5f9", "tok-carol");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid header:X-App-Account;
        cometchat_uid_prefix shop-;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=x-app-account:Carol_9&header=X-User-Id:not-this-one;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: shop-_43arol_5f9
X-CC-Status: hit
--- no_error_log
[error]



=== TEST 5: a new user is created with the name and avatar of the session
--- init
main::forget("dave");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass "http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:dave&header=X-User-Name:Dave%20Smith&header=X-User-Avatar:https://example.com/d.png";
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request eval
["GET /_fake/reset", "GET /page.txt", "GET /_fake/stats"]
--- response_headers eval
["", "X-CC-Uid: dave\nX-CC-Status: minted", ""]
--- response_body_like eval
[qr/"ok"/, qr/^page$/, qr{"users":\s*\{"dave":\s*\{"uid":\s*"dave",\s*"name":\s*"Dave Smith",\s*"avatar":\s*"https://example\.com/d\.png"}]
--- no_error_log
[error]



=== TEST 6: without a name the uid is the name; JSON name and avatar
--- init
main::forget("erin", "frank");
--- config
    location = /erin.txt {
        cometchat on;
        cometchat_session /_whoami_erin;
        alias html/page.txt;
    }
    location = /frank.txt {
        cometchat on;
        cometchat_session /_whoami_frank;
        cometchat_session_uid json:id;
        cometchat_session_name json:profile.fullName;
        cometchat_session_avatar json:profile.avatar;
        alias html/page.txt;
    }
    location = /_whoami_erin {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:erin;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
    location = /_whoami_frank {
        internal;
        default_type application/json;
        return 200 '{"id":"frank","profile":{"fullName":"Fr\u00e4nk \\\"F\\\" Jones","avatar":"https://example.com/f.png"}}';
    }
--- request eval
["GET /_fake/reset", "GET /erin.txt", "GET /frank.txt", "GET /_fake/stats"]
--- response_headers eval
["", "X-CC-Uid: erin\nX-CC-Status: minted", "X-CC-Uid: frank\nX-CC-Status: minted", ""]
--- response_body_like eval
[qr/"ok"/, qr/^page$/, qr/^page$/, qr{"erin":\s*\{"uid":\s*"erin",\s*"name":\s*"erin"[,\}].*"frank":\s*\{"uid":\s*"frank",\s*"name":\s*"Fr\\u00e4nk \\"F\\" Jones",\s*"avatar":\s*"https://example\.com/f\.png"}s]
--- no_error_log
[error]



=== TEST 7: invalid user id (a control character): an error of the session, not a signed-out user; logged escaped, page served
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"id":"a b\u0001<c>\\""}';
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: invalid user id "a%20b%01%3Cc%3E%22" (json:id) from "/_whoami": has a control character



=== TEST 8: a uid longer than 100 characters with the prefix takes the hashed form
--- init
main::forget("p__h" . Digest::SHA::sha256_hex("x" x 99));
--- config eval
q~
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_uid_prefix p_;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"id":"~ . ("x" x 99) . q~"}';
    }
~
--- request
GET /page.txt
--- response_headers eval
"X-CC-Status: minted\nX-CC-Uid: p__h" . Digest::SHA::sha256_hex("x" x 99)
--- response_body
page
--- no_error_log
[error]



=== TEST 9: an id over 1024 bytes is refused, and cut in the log line
--- config eval
q~
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"id":"~ . ("y" x 1025) . q~"}';
    }
~
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log eval
qr/invalid user id "y{128}\.\.\." \(json:id\) from "\/_whoami": longer than 1024 bytes/



=== TEST 10: exactly 100 characters is a uid as it is
--- init
main::seed("p_" . ("z" x 98), "tok-long");
--- config eval
q~
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_uid_prefix p_;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"id":"~ . ("z" x 98) . q~"}';
    }
~
--- request
GET /page.txt
--- response_headers eval
"X-CC-Status: hit\nX-CC-Uid: p_" . ("z" x 98)
--- no_error_log
[error]



=== TEST 11: 401 from the session: anonymous, page as the app sent it
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        return 401;
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: anonymous
!X-CC-Uid
--- response_body
page
--- no_error_log
[error]



=== TEST 12: 403 from a JSON session: anonymous, whatever the body
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?status=403&body=%3Chtml%3Eforbidden%3C/html%3E;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: anonymous
!X-CC-Uid
--- response_body
page
--- no_error_log
[error]



=== TEST 13: 401 with a body too big for memory is still anonymous
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        subrequest_output_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?status=401&size=20000;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: anonymous
--- response_body
page
--- no_error_log
cometchat: session check failed



=== TEST 14: session 500: error logged, page served
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?status=500&header=X-User-Id:gus;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: status 500 from "/_whoami"



=== TEST 15: session timeout: error, page served
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?delay_ms=1500&header=X-User-Id:hal;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
upstream timed out
cometchat: session check failed: status 504 from "/_whoami"



=== TEST 16: session application down (connection refused): error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:1/whoami;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: error
--- response_body
page
--- error_log
cometchat: session check failed: status 502 from "/_whoami"



=== TEST 17: non-JSON body: error with a clear log line
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        default_type text/html;
        return 200 '<html><body>Welcome back, Ida</body></html>';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: no user id (json:id) in the response from "/_whoami": cannot read "id": invalid JSON: lexical error: invalid char in json text.



=== TEST 18: empty 200 body with a JSON source: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        return 204;
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
--- response_body
page
--- error_log
cometchat: session check failed: no user id (json:id) in the response from "/_whoami": empty body



=== TEST 19: missing JSON field: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:user.id;
    }
    location = /_whoami {
        internal;
        default_type application/json;
        return 200 '{"user":{"uid":"jack"},"id":"jack"}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: no user id (json:user.id) in the response from "/_whoami": missing



=== TEST 20: a JSON object where the id should be: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":{"value":"kim"}}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: no user id (json:id) in the response from "/_whoami": JSON field "id" is an object, not a string or number



=== TEST 21: a boolean id: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":true}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: no user id (json:id) in the response from "/_whoami": JSON field "id" is a boolean, not a string or number



=== TEST 22: a null id: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":null}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: no user id (json:id) in the response from "/_whoami"



=== TEST 23: missing header: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Name:Nobody;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: no user id (header:X-User-Id) in the response from "/_whoami": missing



=== TEST 24: JSON body over subrequest_output_buffer_size: error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        subrequest_output_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?body=%7B%22id%22%3A%22fred%22%2C%22pad%22%3A%22&size=5000&suffix=%22%7D;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
too big subrequest response
cometchat: session check failed: subrequest to "/_whoami" did not complete



=== TEST 25: the same body fits a larger buffer (control for TEST 24)
--- init
main::seed("fred", "tok-fred");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        subrequest_output_buffer_size 16k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?body=%7B%22id%22%3A%22fred%22%2C%22pad%22%3A%22&size=5000&suffix=%22%7D;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: fred
X-CC-Status: hit
--- no_error_log
[error]



=== TEST 26: chunked JSON body over the buffer (no Content-Length): error
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        subrequest_output_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?body=%7B%22id%22%3A%22fred%22%2C%22pad%22%3A%22&size=8000&suffix=%22%7D&chunked=1&chunk_size=500;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_http_version 1.1;
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
--- response_body
page
--- error_log
too big subrequest response
cometchat: session check failed: subrequest to "/_whoami"



=== TEST 27: a header-only session ignores a big body
--- init
main::seed("gina", "tok-gina");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        subrequest_output_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:gina&size=200000;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: gina
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]



=== TEST 28: a compressed JSON body is an error that says what to do
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?body=%7B%22id%22%3A%22gil%22%7D&gzip=1;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
the body is compressed; set "proxy_set_header Accept-Encoding "";" in the session location



=== TEST 29: the subrequest is a GET carrying the client's headers
--- init
main::seed("hank", "tok-hank");
--- config
    location = /page {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:headers.x-app-user;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?echo_headers=1;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?echo_headers=1;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
POST /page
hello=world
--- more_headers
X-App-User: hank
Cookie: sid=abc
--- error_code: 200
--- response_headers
X-CC-Uid: hank
X-CC-Status: hit
--- response_body_like eval
qr/^\{"method": ?"POST", ?"path": ?"\/_fake\/echo\?echo_headers=1", ?"headers": ?\{.*"content-length": ?"11"/
--- no_error_log
[error]



=== TEST 30: the session request is a GET whatever the client's method
--- init
main::seed("get-_47_45_54", "tok-get");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:method;
        cometchat_uid_prefix get-;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?echo_headers=1;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
POST /page.txt
x=1
--- error_code: 405
--- response_headers
X-CC-Uid: get-_47_45_54
X-CC-Status: hit
--- no_error_log
[alert]



=== TEST 31: satisfy any: allow still grants access, the pipeline still runs
--- init
main::seed("ivy", "tok-ivy");
--- config
    location = /page.txt {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        auth_basic "members";
        auth_basic_user_file /nonexistent/htpasswd;
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:ivy;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Uid: ivy
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]



=== TEST 32: deny all still denies a signed-in user
--- init
main::seed("jay", "tok-jay");
--- config
    location = /page.txt {
        deny all;
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:jay;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 403
--- response_headers
X-CC-Uid: jay



=== TEST 33: auth_basic still asks for credentials of an anonymous user
--- config
    location = /page.txt {
        auth_basic "members";
        auth_basic_user_file /nonexistent/htpasswd;
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        return 401;
    }
--- request
GET /page.txt
--- error_code: 401
--- response_headers
X-CC-Status: anonymous
WWW-Authenticate: Basic realm="members"



=== TEST 34: try_files redirect: one session subrequest per request
--- init
main::seed("kurt", "tok-kurt");
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    log_format session_only "$uri $status";
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        try_files /nonexistent.txt /final/session1.log;
    }
    location /final/ {
        cometchat on;
        cometchat_session /_whoami;
        alias logs/;
    }
    location = /_whoami {
        internal;
        log_subrequest on;
        access_log logs/session1.log session_only;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:kurt;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Uid: kurt
X-CC-Status: hit
--- response_body
/_whoami 200
--- no_error_log
[error]



=== TEST 35: error_page redirect: one session subrequest, result kept
--- init
main::seed("lena", "tok-lena");
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    log_format session_only "$uri $status";
--- config
    location = /missing.txt {
        cometchat on;
        cometchat_session /_whoami;
        error_page 404 = /final/session2.log;
    }
    location /final/ {
        cometchat on;
        cometchat_session /_whoami_other;
        alias logs/;
    }
    location = /_whoami {
        internal;
        log_subrequest on;
        access_log logs/session2.log session_only;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:lena;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
    location = /_whoami_other {
        internal;
        log_subrequest on;
        access_log logs/session2.log session_only;
        return 401;
    }
--- request
GET /missing.txt
--- error_code: 200
--- response_headers
X-CC-Uid: lena
X-CC-Status: hit
--- response_body
/_whoami 200



=== TEST 36: an anonymous result survives an internal redirect too
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    log_format session_only "$uri $status";
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        try_files /nonexistent.txt /final/session3.log;
    }
    location /final/ {
        cometchat on;
        cometchat_session /_whoami;
        alias logs/;
    }
    location = /_whoami {
        internal;
        log_subrequest on;
        access_log logs/session3.log session_only;
        return 403;
    }
--- request
GET /page.txt
--- error_code: 200
--- response_headers
X-CC-Status: anonymous
--- response_body
/_whoami 403



=== TEST 37: cometchat off: no subrequest, variables empty
--- config
    location = /page.txt {
        cometchat off;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        return 500;
    }
--- request
GET /page.txt
--- response_headers
!X-CC-Status
!X-CC-Uid
--- response_body
page
--- no_error_log
cometchat session subrequest
[error]



=== TEST 38: HEAD requests run the pipeline too
--- init
main::seed("mia", "tok-mia");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:mia;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
--- request
HEAD /page.txt
--- response_headers
X-CC-Uid: mia
X-CC-Status: hit
--- response_body
--- no_error_log
[error]



=== TEST 39: counters: pipeline runs, anonymous users, session errors
--- config
    location = /anon.txt {
        cometchat on;
        cometchat_session /_whoami_anon;
        alias html/page.txt;
    }
    location = /broken.txt {
        cometchat on;
        cometchat_session /_whoami_broken;
        alias html/page.txt;
    }
    location = /_whoami_anon {
        internal;
        return 401;
    }
    location = /_whoami_broken {
        internal;
        return 500;
    }
    location = /status {
        cometchat_status;
    }
--- request eval
["GET /anon.txt", "GET /broken.txt", "GET /broken.txt", "GET /status"]
--- response_body_like eval
[qr/^page$/, qr/^page$/, qr/^page$/, qr/^cometchat_requests_total 3\n.*^cometchat_anonymous_total 1\n.*^cometchat_session_errors_total 2\n.*^cometchat_errors_total 2\n/sm]
--- no_error_log
[alert]



=== TEST 40: a bad name or avatar is dropped, not fatal
--- init
main::seed("nina", "tok-nina");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
        cometchat_session_name json:name;
        cometchat_session_avatar json:avatar;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"nina","name":["not","text"],"avatar":{"url":"x"}}';
    }
--- request
GET /page.txt
--- response_headers
X-CC-Uid: nina
X-CC-Status: hit
--- error_log
cometchat: user name (json:name) from "/_whoami" ignored
--- no_error_log
[alert]



=== TEST 41: a session URI with arguments
--- init
main::seed("q-zed", "tok-zed");
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami?who=zed&x=1;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        return 200 '{"id":"q-$arg_who","x":"$arg_x"}';
    }
--- request
GET /page.txt?who=mallory
--- response_headers
X-CC-Uid: q-zed
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]



=== TEST 42: a session that answers every request with HTML does not flood the log
The JSON error is told in the session error line, which is rate-limited:
three requests, one line.
--- config
    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_session_uid json:id;
    }
    location = /_whoami {
        internal;
        default_type text/html;
        return 200 '<html><body>Sign in</body></html>';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$TEST_NGINX_SERVER_PORT&path=%2Fpage.txt&n=3&conns=1&timeout=10;
    }
--- request
GET /fan
--- response_body_like eval
qr/"statuses":\{"200":3\},"distinct_bodies":1,"bodies_sample":\["page\\n"\],"errors":0/
--- grep_error_log eval
qr/\[error\].*/
--- grep_error_log_out eval
qr/\A\[error\] [^\n]* cometchat: session check failed: no user id \(json:id\) in the response from "\/_whoami": cannot read "id": invalid JSON: lexical error: invalid char in json text\.[^\n]*\n\z/



=== TEST 43: a POST page: the session subrequest carries no body nor its headers, and the keep-alive session upstream stays in step
--- init
main::seed("ka-cl-te-n1", "tok-ka1");
main::seed("ka-cl-te-n2", "tok-ka2");
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    upstream ka_020 {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        keepalive 4;
    }
--- config
    location = /post {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_sink;
    }
    location = /_sink {
        return 200 "posted $content_length\n";
    }

    # neither proxy_pass_request_body off nor Content-Length ""
    location = /_whoami {
        internal;
        proxy_pass http://ka_020/_who_ka;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
    location = /_who_ka {
        add_header X-User-Id "ka-cl$http_content_length-te$http_transfer_encoding-n$connection_requests";
        return 204;
    }
--- request eval
["POST /post\nhello world", "POST /post\nhello again, longer"]
--- response_headers eval
["X-CC-Uid: ka-cl-te-n1\nX-CC-Status: hit", "X-CC-Uid: ka-cl-te-n2\nX-CC-Status: hit"]
--- response_body eval
["posted 11\n", "posted 19\n"]
--- no_error_log
[error]
