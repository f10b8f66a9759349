# vi:filetype=perl
#
# The test harness itself: the Test::Nginx features and plain nginx
# behaviour the module's suites rely on (request arrays, absent headers,
# must_die with error_log, user_files, chunked bodies, per-block logs), and
# the CometChatEnv helpers. Runs under upstream Test::Nginx and t/compat.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

# CometChatEnv: services are up and the helpers talk to them
like($ENV{TEST_NGINX_REDIS_PORT}, qr/^\d+$/, 'harness - redis port exported');
like($ENV{TEST_NGINX_FAKE_PORT}, qr/^\d+$/, 'harness - fake port exported');
is($ENV{TEST_NGINX_FAKE_URL},
   "http://127.0.0.1:$ENV{TEST_NGINX_FAKE_PORT}/v3",
   'harness - fake url exported');
is(redis_cmd('SET', 'harness:000', "a b\r\nc", 'EX', 60), 'OK',
   'harness - redis SET');
is(redis_cmd('GET', 'harness:000'), "a b\r\nc", 'harness - redis GET');
is(redis_cmd('DEL', 'harness:000'), 1, 'harness - redis DEL');
is(redis_cmd('GET', 'harness:000'), undef, 'harness - redis nil');
like(redis_cmd('NOSUCHCOMMAND'), qr/^-ERR/, 'harness - redis error reply');
is(fake_get('/_fake/ping'), '{"ok":true}', 'harness - fake ping');

stop_redis();
is(redis_cmd('PING'), undef, 'harness - redis stopped');
start_redis();
is(redis_cmd('PING'), 'PONG', 'harness - redis started again');

run_tests();

__DATA__

=== TEST 1: request arrays: each request is checked against its element
--- config
    location = /a { return 200 "a"; }
    location = /b { return 404; }
    location = /c { return 302 /a; }
--- request eval
["GET /a", "GET /b", "GET /c"]
--- error_code eval
[200, 404, 302]
--- response_headers eval
["Content-Length: 1", "!Location", "Location: http://localhost:$ENV{TEST_NGINX_SERVER_PORT}/a"]
--- response_body_like eval
[qr/^a$/, qr/404 Not Found/, qr/302 Found/]



=== TEST 2: !Name means absent; values compare exactly
--- config
    location = /h {
        add_header X-Present yes;
        add_header Cache-Control "private, max-age=0";
        return 200 "h\n";
    }
--- request
GET /h
--- response_headers
X-Present: yes
Cache-Control: private, max-age=0
!X-Absent
!Set-Cookie
--- response_body
h



=== TEST 3: a bad directive makes nginx die and the reason is checked
--- config
    location = /x {
        no_such_directive on;
    }
--- must_die
--- error_log
unknown directive "no_such_directive"



=== TEST 4: user_files are served from html/, bodies compared exactly
--- user_files
>>> page.html
<html><body>hello</body></html>
>>> sub/other.txt
other
--- config
    location /sub/ { root html; }
--- request eval
["GET /page.html", "GET /sub/other.txt"]
--- response_body eval
["<html><body>hello</body></html>\n", "other\n"]
--- response_headers eval
["Content-Type: text/html", "Content-Type: text/plain"]



=== TEST 5: a chunked response is decoded (sub_filter drops Content-Length)
--- user_files
>>> c.html
<html><body>x</body></html>
--- config
    location = /c.html {
        sub_filter '</body>' '<i>in</i></body>';
    }
--- request
GET /c.html
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
<html><body>x<i>in</i></body></html>



=== TEST 6: HEAD gets headers and no body
--- config
    location = /h { return 200 "body"; }
--- request
HEAD /h
--- response_headers
Content-Length: 4
--- response_body chomp



=== TEST 7: more_headers reach a location proxied to this server
--- config
    location = /front {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "cookie=$cookie_sid ua=$http_user_agent\n";
    }
--- more_headers
Cookie: sid=abc123
User-Agent: harness
--- request
GET /front
--- response_body
cookie=abc123 ua=harness
--- no_error_log
[error]



=== TEST 8: a request body is sent with its Content-Length
--- config
    location = /post {
        client_body_buffer_size 16k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "len=$http_content_length\n";
    }
--- request
POST /post
{"a":1}
--- response_body
len=7



=== TEST 9: error_log sees the lines of its own block only
--- config
    location = /m { return 200 "m\n"; }
--- request
GET /harness-missing-file-9
--- error_code: 404
--- error_log
harness-missing-file-9
--- no_error_log
harness-missing-file-10



=== TEST 10: error_log sees the lines of its own block only (pair)
--- config
    location = /m { return 200 "m\n"; }
--- request
GET /harness-missing-file-10
--- error_code: 404
--- error_log
harness-missing-file-10
--- no_error_log
harness-missing-file-9



=== TEST 11: $TEST_NGINX_ variables expand in every config section
--- main_config
    env HARNESS_UNUSED;
--- http_config
    map $uri $harness_redis { default "$TEST_NGINX_REDIS_PORT"; }
--- config
    location = /v {
        return 200 "$harness_redis $TEST_NGINX_FAKE_PORT\n";
    }
--- request
GET /v
--- response_body eval
"$ENV{TEST_NGINX_REDIS_PORT} $ENV{TEST_NGINX_FAKE_PORT}\n"
