# vi:filetype=perl
#
# cometchat_documents_only and cometchat_when: which requests in a
# "cometchat on" location run the pipeline.  A navigation (Sec-Fetch-Dest
# document/iframe, or Accept with text/html when Sec-Fetch-Dest is absent,
# or neither header nor more than curl's "Accept: */*") gets the session check and the
# widget; fetch() calls and assets (scripts, styles, images) skip it: the
# session backend sees no call, $cometchat_token_status is empty and the
# response is what "cometchat off" serves.
#
# The session backend is the fake's echo route: its echo_calls counter
# (GET /_fake/stats, zeroed by /_fake/reset) counts session subrequests.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

no_root_location();
no_long_string();
timeout(30);

our $Page = "<html><body>page</body></html>\n";
our $Widget = "<html><body>page[cc:u026:tok-u026]\n</body></html>\n";

our $Common = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_session  /_whoami;
    cometchat_snippet_file ../html/snip.html;

    add_header X-CC-Status $cometchat_token_status always;

    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }

    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:u026;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location /off/ {
        alias html/;
        cometchat off;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', $Common . ($block->config // ''));
    $block->set_value('http_config',
        "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n");

    $block->set_value('user_files', [
        ['page.html', $Page],
        ['app.js', "var x = '</body>';\n"],
        ['app.css', "body { color: red }\n"],
        ['snip.html', "[cc:\$cometchat_uid:\$cometchat_auth_token]\n"],
    ]);

    if (!defined $block->init) {
        $block->set_value('init', 'main::seed()');
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n");
    }
});

sub seed {
    my $r = CometChatEnv::redis_cmd('SET', 'cometchat:testapp:token:u026',
                                    'tok-u026', 'EX', 600);
    die "redis: " . ($CometChatEnv::RedisError // $r) . "\n"
        unless defined $r && $r eq 'OK';
}

our $Nav = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
           . "*/*;q=0.8\nSec-Fetch-Dest: document\nSec-Fetch-Mode: navigate";
our $Fetch = "Accept: */*\nSec-Fetch-Dest: empty\nSec-Fetch-Mode: cors";

sub calls { my $n = shift; qr/"echo_calls":$n,/ }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a navigation gets the widget; fetch() does not call the session backend and is served as with cometchat off
--- config
    location /on/ {
        alias html/;
        cometchat on;
    }
--- request eval
["GET /_fake/reset", "GET /on/page.html", "GET /on/page.html",
 "GET /off/page.html", "GET /_fake/stats"]
--- more_headers eval
["", $main::Nav, $main::Fetch, $main::Fetch, ""]
--- response_headers eval
["", "X-CC-Status: hit\nCache-Control: private, no-cache",
 "X-CC-Status:\nCache-Control:\nSet-Cookie:\nContent-Length: 31",
 "X-CC-Status:\nCache-Control:\nSet-Cookie:\nContent-Length: 31", ""]
--- response_body_like eval
[qr/ok/, qr/^\Q$main::Widget\E$/, qr/^\Q$main::Page\E$/,
 qr/^\Q$main::Page\E$/, main::calls(1)]



=== TEST 2: assets skip the session check, by Sec-Fetch-Dest or by Accept alone; the bodies are the files as they are
--- config
    location /on/ {
        alias html/;
        cometchat on;
        cometchat_inject_types text/html application/javascript text/css;
    }
--- request eval
["GET /_fake/reset", "GET /on/app.js", "GET /on/app.css", "GET /on/page.html",
 "GET /on/page.html", "GET /on/app.js", "GET /_fake/stats"]
--- more_headers eval
["", "Accept: */*\nSec-Fetch-Dest: script",
 "Accept: text/css,*/*;q=0.1\nSec-Fetch-Dest: style",
 "Accept: image/avif,image/webp,*/*\nSec-Fetch-Dest: image",
 "Accept: image/*", "Accept: application/javascript", ""]
--- response_headers eval
["", "X-CC-Status:\nContent-Length: 19", "X-CC-Status:\nContent-Length: 20",
 "X-CC-Status:\nContent-Length: 31", "X-CC-Status:\nContent-Length: 31",
 "X-CC-Status:\nContent-Length: 19", ""]
--- response_body_like eval
[qr/ok/, qr/^var x = '<\/body>';\n$/, qr/^body \{ color: red \}\n$/,
 qr/^\Q$main::Page\E$/, qr/^\Q$main::Page\E$/, qr/^var x = '<\/body>';\n$/,
 main::calls(0)]



=== TEST 3: what runs: no Accept and no Sec-Fetch-Dest, curl's bare Accept: */*, Accept with text/html, iframe, frame, a form POST; Sec-Fetch-Dest wins over Accept
--- config
    location /on/ {
        alias html/;
        cometchat on;
        error_page 405 =200 $uri;
    }
--- request eval
["GET /_fake/reset", "GET /on/page.html", "GET /on/page.html",
 "GET /on/page.html", "GET /on/page.html", "GET /on/page.html",
 "POST /on/page.html\r\nx=1", "GET /on/page.html", "GET /_fake/stats"]
--- more_headers eval
["", "", "Accept: */*", "Accept: TEXT/HTML", "Sec-Fetch-Dest: iframe",
 "Sec-Fetch-Dest: Frame\nAccept: */*",
 "$main::Nav\nContent-Type: application/x-www-form-urlencoded",
 "Sec-Fetch-Dest: empty\nAccept: text/html", ""]
--- response_headers eval
["", "X-CC-Status: hit", "X-CC-Status: hit", "X-CC-Status: hit",
 "X-CC-Status: hit", "X-CC-Status: hit", "X-CC-Status: hit", "X-CC-Status:",
 ""]
--- response_body_like eval
[qr/ok/, qr/^\Q$main::Widget\E$/, qr/^\Q$main::Widget\E$/,
 qr/^\Q$main::Widget\E$/, qr/^\Q$main::Widget\E$/, qr/^\Q$main::Widget\E$/,
 qr/^\Q$main::Widget\E$/, qr/^\Q$main::Page\E$/, main::calls(6)]



=== TEST 4: methods that are never navigations skip it, even without headers; a fetch() POST too
--- config
    location /on/ {
        cometchat on;
        return 200 "$request_method\n";
    }
--- request eval
["GET /_fake/reset", "PUT /on/x\r\nx", "DELETE /on/x", "OPTIONS /on/x",
 "POST /on/x\r\nx=1", "GET /_fake/stats"]
--- more_headers eval
["", "", "", "", $main::Fetch, ""]
--- response_headers eval
["", "X-CC-Status:", "X-CC-Status:", "X-CC-Status:", "X-CC-Status:", ""]
--- response_body_like eval
[qr/ok/, qr/^PUT$/, qr/^DELETE$/, qr/^OPTIONS$/, qr/^POST$/, main::calls(0)]



=== TEST 5: cometchat_documents_only off: every request runs the pipeline, as before
--- config
    location /on/ {
        alias html/;
        cometchat on;
        cometchat_documents_only off;
    }
--- request eval
["GET /_fake/reset", "GET /on/page.html", "GET /on/app.js",
 "GET /_fake/stats"]
--- more_headers eval
["", $main::Fetch, "Accept: */*\nSec-Fetch-Dest: script", ""]
--- response_headers eval
["", "X-CC-Status: hit", "X-CC-Status: hit", ""]
--- response_body_like eval
[qr/ok/, qr/^\Q$main::Widget\E$/, qr/^var x/, main::calls(2)]



=== TEST 6: cometchat_when: runs only when the value is neither empty nor "0", on top of documents_only; inherited from the server level
--- config
    cometchat_when $cookie_chat;

    location /on/ {
        alias html/;
        cometchat on;
    }
    location /all/ {
        alias html/;
        cometchat on;
        cometchat_documents_only off;
    }
--- request eval
["GET /_fake/reset", "GET /on/page.html", "GET /on/page.html",
 "GET /on/page.html", "GET /on/page.html", "GET /all/page.html",
 "GET /_fake/stats"]
--- more_headers eval
["", $main::Nav, "$main::Nav\nCookie: chat=0", "$main::Nav\nCookie: chat=1",
 "$main::Fetch\nCookie: chat=1", "$main::Fetch\nCookie: chat=yes", ""]
--- response_headers eval
["", "X-CC-Status:", "X-CC-Status:", "X-CC-Status: hit", "X-CC-Status:",
 "X-CC-Status: hit", ""]
--- response_body_like eval
[qr/ok/, qr/^\Q$main::Page\E$/, qr/^\Q$main::Page\E$/,
 qr/^\Q$main::Widget\E$/, qr/^\Q$main::Page\E$/, qr/^\Q$main::Widget\E$/,
 main::calls(2)]



=== TEST 7: the token endpoint always answers, fetch() headers or not
--- config
    cometchat_when "";

    location = /_cometchat/token {
        cometchat_token_endpoint;
    }
--- request eval
["GET /_fake/reset", "GET /_cometchat/token", "GET /_fake/stats"]
--- more_headers eval
["", "Accept: application/json\nSec-Fetch-Dest: empty", ""]
--- response_headers eval
["", "Content-Type: application/json", ""]
--- response_body_like eval
[qr/ok/, qr/"uid":"u026".*"authToken":"tok-u026"|"authToken":"tok-u026".*"uid":"u026"/,
 main::calls(1)]



=== TEST 8: an anonymous navigation of a browser that had the widget still gets the sign-out snippet; its fetch() gets nothing
--- config
    location = /_anon {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?status=401;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
    location /on/ {
        alias html/;
        cometchat on;
        cometchat_session /_anon;
    }
--- request eval
["GET /_fake/reset", "GET /on/page.html", "GET /on/page.html",
 "GET /off/page.html", "GET /_fake/stats"]
--- more_headers eval
["", "$main::Nav\nCookie: cometchat_chat=1",
 "$main::Fetch\nCookie: cometchat_chat=1",
 "$main::Fetch\nCookie: cometchat_chat=1", ""]
--- response_headers eval
["", "X-CC-Status: anonymous\nSet-Cookie: cometchat_chat=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax", "X-CC-Status:\nSet-Cookie:\nCache-Control:",
 "X-CC-Status:\nSet-Cookie:\nCache-Control:", ""]
--- response_body_like eval
[qr/ok/, qr/^<html><body>page.+<\/body><\/html>\n$/s,
 qr/^\Q$main::Page\E$/, qr/^\Q$main::Page\E$/, main::calls(1)]
