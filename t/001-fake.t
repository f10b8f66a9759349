# vi:filetype=perl
#
# The fake CometChat REST API (tools/fake/run) answers like the
# real one (docs/cometchat-api.md) and obeys its control interface.
# nginx only proxies here: every other suite trusts this fake.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

run_tests();

__DATA__

=== TEST 1: create user: data envelope, uid lowercased, withAuthToken
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "POST /v3/users\n"
    . '{"uid":"User_42","name":"Jo","avatar":"https://example.com/a.png",'
    . '"withAuthToken":true}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^(?!.*t001-key)\{"ok":true,/s,
    qr{^\{"data":\{"uid":"user_42","name":"Jo","avatar":"https:\\/\\/example\.com\\/a\.png","status":"offline","role":"default","createdAt":\d{10},"authToken":"user_42_\d{10}[0-9a-f]{32}"\}\}$},
    CometChatEnv::fake_calls({create_user => 1}, qr/,.*"last_apikey_ok":true,.*"users":\{"user_42":\{"uid":"user_42","name":"Jo",.*"tokens":\{"user_42":\["user_42_\d{10}[0-9a-f]{32}"\]\}/s),
]
--- no_error_log
[error]



=== TEST 2: auth tokens: create, with force or not
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "GET /_fake/seed_user?uid=Ann&name=Ann",
    "POST /v3/users/ann/auth_tokens\n" . '{"force":true}',
    "POST /v3/users/ann/auth_tokens",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"ann","name":"Ann",/,
    qr/^\{"data":\{"uid":"ann","authToken":"ann_\d{10}[0-9a-f]{32}","createdAt":\d{10}\}\}$/,
    qr/^\{"data":\{"uid":"ann","authToken":"ann_\d{10}[0-9a-f]{32}","createdAt":\d{10}\}\}$/,
    CometChatEnv::fake_calls({create_token => 2}, qr/,.*"users":\{"ann":.*"tokens":\{"ann":\["ann_\w+","ann_\w+"\]\}/s),
]
--- no_error_log
[error]



=== TEST 3: missing and wrong apikey: 401 with their codes, key never shown
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /nokey/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/;
    }
    location /badkey/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/;
        proxy_set_header apikey wrong-key-t001;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "POST /nokey/v3/users\n" . '{"uid":"kim","name":"Kim"}',
    "GET /_fake/stats",
    "POST /badkey/v3/users\n" . '{"uid":"kim","name":"Kim"}',
    "GET /_fake/stats",
    "POST /v3/users\n" . '{"uid":"kim","name":"Kim"}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 401, 200, 401, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"AUTH_ERR_EMPTY_APIKEY"\}\}$/,
    qr/^\{"calls":\{"create_user":1,.*"total":1\},.*"last_apikey_ok":false,"last_headers":\{(?![^}]*"apikey")[^}]*\}/s,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"AUTH_ERR_APIKEY_NOT_FOUND"\}\}$/,
    qr/^(?!.*wrong-key-t001)\{"calls":\{"create_user":2,.*"last_apikey_ok":false,"last_headers":\{[^}]*"apikey":"<redacted>"[^}]*\},.*"users":\{\}/s,
    qr/^\{"data":\{"uid":"kim","name":"Kim",/,
    qr/^(?!.*t001-key)\{"calls":\{"create_user":3,.*"last_apikey_ok":true,"last_headers":\{[^}]*"apikey":"<redacted>"/s,
]
--- no_error_log
[error]



=== TEST 4: unknown user: ERR_UID_NOT_FOUND 404 for token and update
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "POST /v3/users/ghost/auth_tokens\n" . '{"force":true}',
    "PUT /v3/users/ghost\n" . '{"name":"Ghost"}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 404, 404, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"error":\{"message":"[^"]*ghost[^"]*","devMessage":"[^"]+","source":"chat-api","code":"ERR_UID_NOT_FOUND"\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_UID_NOT_FOUND"\}\}$/,
    CometChatEnv::fake_calls({update_user => 1, create_token => 1}, qr/,.*"tokens":\{\}/s),
]
--- no_error_log
[error]



=== TEST 5: ERR_UID_ALREADY_EXISTS, whatever the case; 409 when asked
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "POST /v3/users\n" . '{"uid":"Dup","name":"One"}',
    "POST /v3/users\n" . '{"uid":"dup","name":"Two"}',
    "GET /_fake/set?exists_status=409",
    "POST /v3/users\n" . '{"uid":"DUP","name":"Three"}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 400, 200, 409, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"dup","name":"One",/,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"ERR_UID_ALREADY_EXISTS"\}\}$/,
    qr/"exists_status":409/,
    qr/^\{"error":\{.*"code":"ERR_UID_ALREADY_EXISTS"\}\}$/,
    qr/"users":\{"dup":\{"uid":"dup","name":"One",/,
]
--- no_error_log
[error]



=== TEST 6: validation: bad uid, long uid, no name, long name, bad JSON
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "POST /v3/users\n" . '{"uid":"bad uid!","name":"x"}',
    "POST /v3/users\n" . '{"uid":"' . ("a" x 101) . '","name":"x"}',
    "POST /v3/users\n" . '{"uid":"noname"}',
    "POST /v3/users\n" . '{"uid":"longname","name":"' . ("n" x 101) . '"}',
    "POST /v3/users\n" . '{"uid":"broken",',
    "POST /v3/users/noname/auth_tokens\n" . '{"force":',
    "POST /v3/users\n" . '{"uid":"' . ("a" x 100) . '","name":"' . ("n" x 100) . '"}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 400, 400, 400, 400, 400, 400, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"ERR_INVALID_UID","details":\{"uid":\["[^"]+"\]\}\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_INVALID_UID","details":\{"uid":\["[^"]*100[^"]*"\]\}\}\}$/,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"ERR_BAD_REQUEST","details":\{"name":\["[^"]+"\]\}\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_BAD_REQUEST","details":\{"name":\["[^"]*100[^"]*"\]\}\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_BAD_REQUEST"\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_BAD_REQUEST"\}\}$/,
    qr/^\{"data":\{"uid":"a{100}","name":"n{100}",/,
    CometChatEnv::fake_calls({create_user => 6, create_token => 1}, qr/,.*"users":\{"a{100}":\{[^}]+\}\},/s),
]
--- no_error_log
[error]



=== TEST 7: rate limit headers; forced 429 with Retry-After, then normal
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "GET /_fake/seed_user?uid=rl",
    "PUT /v3/users/rl\n" . '{"name":"R1"}',
    "GET /_fake/set?ratelimit_on=update_user&retry_after=7&ratelimit_times=1",
    "PUT /v3/users/rl\n" . '{"name":"R2"}',
    "PUT /v3/users/rl\n" . '{"name":"R3"}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200, 200, 429, 200, 200]
--- response_headers eval
[
    "", "", "",
    "X-Rate-Limit: 10000\nX-Rate-Limit-Remaining: 9999\n!Retry-After",
    "",
    "Retry-After: 7\nX-Rate-Limit-Remaining: 0",
    "X-Rate-Limit: 10000\n!Retry-After",
    "",
]
--- raw_response_headers_like eval
[
    "", "", "", "", "",
    "\r\nX-Rate-Limit-Reset: \\d{10}\r\n",
    "", "",
]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"rl",/,
    qr/^\{"data":\{"uid":"rl",/,
    qr/"ratelimit":\{"update_user":\{"retry_after":7,"times":1\}\}/,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"ERR_TOO_MANY_REQUESTS"\}\}$/,
    qr/^\{"data":\{"uid":"rl",/,
    CometChatEnv::fake_calls({update_user => 3}),
]
--- no_error_log
[error]



=== TEST 8: garbage: 200 with a body that is not JSON, once
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "GET /_fake/seed_user?uid=gg",
    "GET /_fake/set?garbage_on=create_token&garbage_times=1",
    "POST /v3/users/gg/auth_tokens",
    "POST /v3/users/gg/auth_tokens",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"gg",/,
    qr/"garbage":\{"create_token":/,
    qr/^<html><body>this is not JSON \{<\/body><\/html>$/,
    qr/^\{"data":\{"uid":"gg","authToken":"gg_\d{10}[0-9a-f]{32}","createdAt":\d+\}\}$/,
    qr/^\{"calls":\{.*"create_token":2,.*"tokens":\{"gg":\["gg_\w+"\]\}/s,
]
--- no_error_log
[error]



=== TEST 9: fail_times: the error envelope twice, then normal replies
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "GET /_fake/seed_user?uid=ff",
    "GET /_fake/set?fail_on=create_token&fail_status=503&fail_code=ERR_X&fail_times=2",
    "POST /v3/users/ff/auth_tokens",
    "POST /v3/users/ff/auth_tokens",
    "POST /v3/users/ff/auth_tokens",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200, 503, 503, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"ff",/,
    qr/"fail":\{"create_token":\{"status":503,"code":"ERR_X",/,
    qr/^\{"error":\{"message":"[^"]+","devMessage":"[^"]+","source":"chat-api","code":"ERR_X"\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_X"\}\}$/,
    qr/^\{"data":\{"uid":"ff","authToken":"ff_\w+",/,
    CometChatEnv::fake_calls({create_token => 3}, qr/,.*"tokens":\{"ff":\["ff_\w+"\]\}/s),
]
--- no_error_log
[error]



=== TEST 10: stats count every call by op; reset clears all, key included
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "POST /v3/users\n" . '{"uid":"st","name":"Old"}',
    "PUT /v3/users/st\n" . '{"name":"New"}',
    "POST /v3/users\n" . '{"uid":"gone","name":"Gone"}',
    "POST /v3/users/st/auth_tokens\n" . '{"force":true}',
    "DELETE /v3/users/gone",
    "DELETE /v3/users/gone",
    "GET /_fake/stats",
    "GET /_fake/reset",
    "GET /_fake/stats",
    "PUT /v3/users/st\n" . '{"name":"X"}',
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404, 200, 200, 200, 401]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"st","name":"Old",/,
    qr/^\{"data":\{"uid":"st","name":"New",.*"updatedAt":\d{10}\}\}$/,
    qr/^\{"data":\{"uid":"gone","name":"Gone",/,
    qr/^\{"data":\{"uid":"st","authToken":/,
    qr/^\{"data":\{"success":true,"message":"[^"]+"\}\}$/,
    qr/^\{"error":\{.*"code":"ERR_UID_NOT_FOUND"\}\}$/,
    CometChatEnv::fake_calls({create_user => 2, update_user => 1, delete_user => 2, create_token => 1}, qr/,"max_concurrency":1,"in_flight":0,.*"users":\{"st":\{"uid":"st","name":"New",[^}]*\}\},/s),
    qr/^\{"ok":true\}$/,
    CometChatEnv::fake_calls({}, qr/,"max_concurrency":0,"in_flight":0,"last_apikey_ok":null,.*"users":\{\},"tokens":\{\},/s),
    qr/^\{"error":\{.*"code":"AUTH_ERR_APIKEY_NOT_FOUND"\}\}$/,
]
--- no_error_log
[error]



=== TEST 11: drop_on closes the connection without a reply, once
# nginx logs "upstream prematurely closed connection" for request 4; error
# logs are checked after every request, so that cannot be asserted here:
# the 502 and the fake counting the call show the reply was dropped.
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key",
    "GET /_fake/seed_user?uid=dd",
    "GET /_fake/set?drop_on=update_user&drop_times=1",
    "PUT /v3/users/dd\n" . '{"name":"D1"}',
    "PUT /v3/users/dd\n" . '{"name":"D2"}',
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200, 502, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"ok":true/,
    qr/^\{"data":\{"uid":"dd",/,
    qr/"drop":\{"update_user":\{"times":1\}\}/,
    qr/502 Bad Gateway/,
    qr/^\{"data":\{"uid":"dd",/,
    CometChatEnv::fake_calls({update_user => 2}),
]



=== TEST 12: delay + fanout: concurrent calls overlap, each counted
--- config
    location /v3/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_set_header apikey t001-key;
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
    location = /t/mint {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/v3/users/fan/auth_tokens;
        proxy_method POST;
        proxy_set_header apikey t001-key;
    }
    location = /t/fanout {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/fanout?port=$server_port&path=%2Ft%2Fmint&n=10&conns=10;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/set?api_key=t001-key&delay_ms=300&delay_on=create_token&token_reuse=1",
    "GET /_fake/seed_user?uid=fan&with_token=1",
    "GET /t/fanout",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/"delay":\{"create_token":300\}/,
    qr/^\{"data":\{"uid":"fan",/,
    qr/^\{"n":10,"statuses":\{"200":10\},"distinct_bodies":1,"bodies_sample":\["\{\\"data\\":\{\\"uid\\":\\"fan\\",[^\]]*\],"errors":0\}$/,
    CometChatEnv::fake_calls({create_token => 10}, qr/,"max_concurrency":([2-9]|10),"in_flight":0,/),
]
--- no_error_log
[error]



=== TEST 13: race: the fast request completes first
--- config
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
    location = /t/race {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/race?port=$server_port&slow=%2F_fake%2Fecho%3Fdelay_ms%3D2000%26body%3Dslow&fast=%2F_fake%2Fecho%3Fbody%3Dfast&gap_ms=200;
    }
--- request
GET /t/race
--- response_body_like chomp
^\{"first":"fast","slow_status":200,"fast_status":200,"order":\["fast","slow"\],.*"fast_body":"fast",.*"slow_body":"slow",
--- no_error_log
[error]



=== TEST 14: echo: status, headers, body, size, counted apart from REST
--- config
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
--- request eval
[
    "GET /_fake/reset",
    "GET /_fake/echo?status=201&body=%7B%22id%22%3A42%7D&header=X-User-Id:42&header=X-Other:%20b",
    "GET /_fake/echo?status=401",
    "GET /_fake/echo?body=%3Chtml%3E&size=5000&suffix=%3C%2Fhtml%3E&content_type=text/html",
    "GET /_fake/stats",
]
--- error_code eval
[200, 201, 401, 200, 200]
--- response_headers eval
[
    "",
    "X-User-Id: 42\nX-Other: b\nContent-Type: application/json\nContent-Length: 9",
    "Content-Length: 0",
    "Content-Type: text/html\nContent-Length: 5013",
    "",
]
--- response_body_like eval
[
    qr/^\{"ok":true\}$/,
    qr/^\{"id":42\}$/,
    qr/^$/,
    qr/^<html>x{5000}<\/html>$/,
    qr/"total":0\}.*"echo_calls":3,/s,
]
--- no_error_log
[error]
