# vi:filetype=perl
#
# CometChat failing: 500, 429 (Retry-After honoured), garbage JSON, JSON of
# the wrong shape, a dropped connection, connection refused, a timeout and
# a wrong REST API key.  In every case the page is served as the app sent
# it (no widget), $cometchat_token_status is "error", exactly one clear
# line is logged and nothing crashes; the REST API key goes out in the
# apikey header and never shows in a response or in the log.
#
# Error-log checks run after every request of a block; with
# check_accum_error_log they see the whole log so far, so "exactly this one
# line" holds over all the requests of a block (and of the blocks sharing
# its nginx).  The fake is set up in --- init, so that the page is the
# first request and its line is there from the first check on.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;

no_shuffle();
check_accum_error_log();
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    return unless defined $block->config;

    $block->set_value('config', common_config() . <<'_EOC_' . $block->config);
    location = /page.html {
        cometchat on;
        cometchat_session /_whoami;
        add_header X-CC-Status $cometchat_token_status always;
    }

_EOC_

    if (!defined $block->user_files) {
        $block->set_value('user_files', <<'_EOF_');
>>> page.html
<html><head><title>app</title></head><body><p>the app's page</p></body></html>
_EOF_
    }
});

# the page exactly as the app sent it: no widget, nothing added
our $Page = qr{\A<html><head><title>app</title></head><body><p>the app's page</p></body></html>\n\z};

# the control: a user who got a token gets the widget (with that token, and
# never the REST API key) before </body>
sub widget_page {
    my $uid = shift;
    return qr{\A(?!.*test-rest-key)<html><head><title>app</title></head><body><p>the app's page</p><div id="cometChatMount"></div>.*authToken: "\Q$uid\E_\d{10}[0-9a-f]{32}".*</script>\s*</body></html>\n\z}s;
}

# the error and warning lines the module writes, without nginx's
# ", client: ..." tail
our $Logged = qr/\[(?:error|warn)\] \d+#\d+: (?:\*\d+ )?\Kcometchat: .*?(?=, client: |$)/;

run_tests();

__DATA__

=== TEST 1: CometChat answers 500: page served without widget, status error, one log line
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?fail_on=create_token&fail_status=500&fail_times=1');
--- request eval
["GET /page.html", "GET /_fake/stats", "GET /_status"]
--- more_headers
Cookie: uid=e500-070
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: error", "", ""]
--- response_body_like eval
[
    $::Page,
    CometChatEnv::fake_calls({create_token => 1}, qr/,/),
    qr/cometchat_tokens_minted_total 0\n.*cometchat_api_calls_total\{outcome="ok"\} 0\n.*cometchat_api_calls_total\{outcome="server_error"\} 1\n/s,
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out
cometchat: CometChat "create auth token" call for uid "e500-070" failed: HTTP 500, code ERR_INTERNAL_SERVER_ERROR
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: 503 while creating the user: the failing call is named, no user is left half made
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?fail_on=create_user&fail_status=503&fail_code=ERR_SERVICE_UNAVAILABLE&fail_times=1');
--- request eval
["GET /page.html", "GET /_fake/stats"]
--- more_headers
Cookie: uid=c503-070
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: error", ""]
--- response_body_like eval
[
    $::Page,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1}, qr/,.*"users":\{\}/),
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out
cometchat: CometChat "create user" call for uid "c503-070" failed: HTTP 503, code ERR_SERVICE_UNAVAILABLE
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 3: 429 with Retry-After: no call for that user until then
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?ratelimit_on=create_token&retry_after=2&ratelimit_times=1');
--- request eval
["GET /page.html", "GET /page.html", "GET /page.html", "GET /_fake/stats", "GET /_status"]
--- more_headers
Cookie: uid=rl-070
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["X-CC-Status: error", "X-CC-Status: error", "X-CC-Status: error", "", ""]
--- response_body_like eval
[
    $::Page,
    $::Page,
    $::Page,
    CometChatEnv::fake_calls({create_token => 1}, qr/,/),
    qr/cometchat_api_calls_total\{outcome="rate_limited"\} 1\n/,
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "rl-070" failed: HTTP 429, code ERR_TOO_MANY_REQUESTS \(rate limited, retry after 2 s\); no CometChat call for "rl-070" for [12] s\n\z/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: (same nginx) once Retry-After has passed, the user is minted
--- init
# Retry-After was 2 s: wait well past it
select(undef, undef, undef, 3.5);
--- request eval
["GET /page.html", "GET /_fake/stats"]
--- more_headers
Cookie: uid=rl-070; name=Rita
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: minted", ""]
--- response_body_like eval
[
    main::widget_page("rl-070"),
    CometChatEnv::fake_calls({create_user => 1, create_token => 2}, qr/,/),
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "rl-070" failed: HTTP 429, code ERR_TOO_MANY_REQUESTS \(rate limited, retry after 2 s\); no CometChat call for "rl-070" for [12] s\n\z/
--- no_error_log
[alert]



=== TEST 5: 429 with only X-RateLimit-Reset (an epoch): honoured too
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?ratelimit_on=create_token&retry_after=300&ratelimit_times=1&ratelimit_headers=new');
--- request eval
["GET /page.html", "GET /page.html", "GET /_fake/stats"]
--- more_headers
Cookie: uid=rlr-070
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: error", "X-CC-Status: error", ""]
--- response_body_like eval
[
    $::Page,
    $::Page,
    CometChatEnv::fake_calls({create_token => 1, others => 'any', total => 1}, qr/,/),
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "rlr-070" failed: HTTP 429, code ERR_TOO_MANY_REQUESTS \(rate limited, retry after (?:29\d|300) s\); no CometChat call for "rlr-070" for (?:29\d|300) s\n\z/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: garbage instead of JSON: a bad reply, counted as one, not a crash
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?garbage_on=create_token&garbage_times=1');
--- request eval
["GET /page.html", "GET /_fake/stats", "GET /_status"]
--- more_headers
Cookie: uid=garb-070
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: error", "", ""]
--- response_body_like eval
[
    $::Page,
    CometChatEnv::fake_calls({create_token => 1, others => 'any', total => 1}, qr/,/),
    qr/cometchat_api_calls_total\{outcome="ok"\} 0\n(?:.*\n)*?cometchat_api_calls_total\{outcome="transport_error"\} 1\n/,
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out
cometchat: CometChat "create auth token" call for uid "garb-070" gave a bad reply: HTTP 200, cannot read "data.authToken": invalid JSON: lexical error: invalid char in json text.
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 7: JSON of the wrong shape from the user creation: a bad reply
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?garbage_on=create_user&garbage_times=1&garbage_body=%7B%22data%22%3A%7B%22uid%22%3A%22shape-070%22%2C%22authToken%22%3A%7B%22x%22%3A1%7D%7D%7D');
--- request
GET /page.html
--- more_headers
Cookie: uid=shape-070
--- response_headers
X-CC-Status: error
--- response_body_like eval
$::Page
--- grep_error_log eval
$::Logged
--- grep_error_log_out
cometchat: CometChat "create user" call for uid "shape-070" gave a bad reply: HTTP 200, JSON field "data.authToken" is an object, not a string
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 8: CometChat drops the connection
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?drop_on=create_token&drop_times=1');
--- request
GET /page.html
--- more_headers
Cookie: uid=drop-070
--- response_headers
X-CC-Status: error
--- response_body_like eval
$::Page
--- grep_error_log eval
$::Logged
--- grep_error_log_out
cometchat: CometChat "create auth token" call for uid "drop-070" failed: Empty reply from server
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 9: connection refused
--- config
    location = /refused.html {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_url http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v3;
        add_header X-CC-Status $cometchat_token_status always;
        alias html/page.html;
    }
--- request
GET /refused.html
--- more_headers
Cookie: uid=refused-070
--- response_headers
X-CC-Status: error
--- response_body_like eval
$::Page
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "refused-070" failed: Failed to connect to 127\.0\.0\.1 port \d+ after \d+ ms: Couldn't connect to server\n\z/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 10: timeout: CometChat slower than cometchat_api_timeout
--- config
    location = /slow.html {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_timeout 300ms;
        add_header X-CC-Status $cometchat_token_status always;
        alias html/page.html;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?delay_ms=2000&delay_on=create_token');
--- request
GET /slow.html
--- more_headers
Cookie: uid=slow-070
--- response_headers
X-CC-Status: error
--- response_body_like eval
$::Page
--- grep_error_log eval
$::Logged
--- grep_error_log_out
cometchat: CometChat "create auth token" call for uid "slow-070" failed: timed out
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 11: a wrong REST API key: logged clearly once, then no more calls with it
--- config
    location = /badkey.html {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_key wrong-key-070-SECRET;
        add_header X-CC-Status $cometchat_token_status always;
        alias html/page.html;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
["GET /badkey.html", "GET /badkey.html", "GET /badkey.html", "GET /_fake/stats"]
--- more_headers
Cookie: uid=key-070
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-CC-Status: error", "X-CC-Status: error", "X-CC-Status: error", ""]
--- response_body_like eval
[
    $::Page,
    $::Page,
    $::Page,
    CometChatEnv::fake_calls({create_token => 1, others => 'any', total => 1}, qr/,"max_concurrency":1,"in_flight":0,"last_apikey_ok":false,/),
]
--- raw_response_headers_unlike eval
["SECRET", "SECRET", "SECRET", "SECRET"]
--- grep_error_log eval
qr/cometchat: CometChat rejected the REST API key.*/
--- grep_error_log_out
cometchat: CometChat rejected the REST API key (AUTH_ERR_APIKEY_NOT_FOUND): check cometchat_api_key; no CometChat calls with it from this worker for 30 s
--- no_error_log
SECRET
(the REST API key was rejected)
[alert]
[crit]
[emerg]



=== TEST 12: a cometchat_api_url without "/v3": the URL called is named, with a hint
--- config
    location = /nov3.html {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_url http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        add_header X-CC-Status $cometchat_token_status always;
        alias html/page.html;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request
GET /nov3.html
--- more_headers
Cookie: uid=nov3-070
--- response_headers
X-CC-Status: error
--- response_body_like eval
$::Page
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr{\Acometchat: CometChat "create auth token" call for uid "nov3-070" failed: HTTP 404, no error code in the reply from "http://127\.0\.0\.1:\d+/users/nov3-070/auth_tokens"; check cometchat_api_url \(https://APP_ID\.api-REGION\.cometchat\.io/v3\)\n\z}
--- no_error_log
test-rest-key
[alert]
[crit]
[emerg]



=== TEST 13: a server with its own error_log: CometChat's failure is told there, not in the main log
--- config
    error_log logs/site.log;

    location = /site.log {
        default_type text/plain;
        alias logs/site.log;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?fail_on=create_token&fail_status=500&fail_times=1');
--- request eval
["GET /page.html", "GET /site.log"]
--- more_headers
Cookie: uid=site-070
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: error", ""]
--- response_body_like eval
[
    $::Page,
    qr/\A(?:.*\n)*?\S+ \S+ \[error\] \d+#\d+: \*\d+ cometchat: CometChat "create auth token" call for uid "site-070" failed: HTTP 500, code ERR_INTERNAL_SERVER_ERROR\n/,
]
--- no_error_log
call for uid "site-070"
[alert]
[crit]
[emerg]



=== TEST 14: control: a token gives the widget; the key goes out in the apikey header and never shows in a response
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
["GET /page.html", "GET /t", "GET /_status", "GET /_fake/stats"]
--- more_headers
Cookie: uid=ok-070
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-CC-Status: minted", "X-CC-Status: hit", "", ""]
--- response_body_like eval
[
    main::widget_page("ok-070"),
    qr/^status=hit token=ok-070_\d{10}[0-9a-f]{32}\n\z/,
    qr/^(?!.*test-rest-key).*cometchat_tokens_minted_total 1\n/s,
    qr/^(?!.*test-rest-key)\{"calls":\{[^}]*"total":2\},"max_concurrency":1,"in_flight":0,"last_apikey_ok":true,"last_headers":\{[^}]*"apikey":"<redacted>","content-type":"application\/json","accept":"application\/json"/,
]
--- raw_response_headers_unlike eval
["test-rest-key", "test-rest-key", "test-rest-key", "test-rest-key"]
--- no_error_log
test-rest-key
[error]
[alert]
