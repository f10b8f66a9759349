# vi:filetype=perl
#
# Sign-out: a browser given a widget is marked with the cometchat_chat
# cookie; when the session check then says anonymous, its next HTML page
# gets the sign-out snippet (which logs the front ends out and removes the
# app's CometChat storage) and the cookie is expired.  Browsers without
# the mark, and responses that are not injected anyway (HEAD, other types,
# other statuses, Content-Encoding), are left alone byte for byte.  What
# the snippet does in a browser: t/400-browser.t.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

no_root_location();
no_long_string();

our $Common = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_session  /_whoami;

    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$server_port/_who;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location = /_who {
        cometchat off;
        if ($cookie_broken) {
            return 500;
        }
        if ($cookie_uid = "") {
            return 401;
        }
        add_header X-User-Id $cookie_uid;
        return 204;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    return unless defined $block->config;

    $block->set_value('config', $Common . $block->config);
    $block->set_value('http_config',
        "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n"
        . ($block->http_config // ''));

    if (!defined $block->user_files) {
        $block->set_value('user_files',
                          ">>> a.html\n<html><body><p>x</p></body></html>\n"
                          . ">>> a.txt\n<html><body>text</body></html>\n");
    }
});

# after "<script" (and its nonce, if any)
our $Signout = <<'_EOS_';
>
(function () {
  var store = "testapp" + ":";
  function forget() {
    [window.localStorage, window.sessionStorage].forEach(function (s) {
      for (var i = s.length - 1; i >= 0; i--) {
        var k = s.key(i);
        if (k !== null && (k.indexOf(store) === 0
            || (k === "sessionId" && /^WEB-/.test(s.getItem(k))))) {
          s.removeItem(k);
        }
      }
    });
  }
  function logout(o) {
    try {
      if (o && typeof o.logout === "function") {
        Promise.resolve(o.logout()).then(null, function () {});
      }
    } catch (e) {
    }
  }
  logout(window.CometChatApp);
  logout(window.CometChatWidget);
  logout(window.CometChatUIKit || window.CometChat);
  try {
    forget();
  } catch (e) {
  }
  console.info("[cometchat] signed out: chat session removed");
})();
</script>
_EOS_

our $Page = "<html><body><p>x</p></body></html>\n";

run_tests();

__DATA__

=== TEST 1: marked browser, anonymous: the sign-out snippet before </body>, the cookie expired, the page private
--- config
    location / {
        cometchat on;
        root html;
        add_header X-Token-Status $cometchat_token_status;
    }
--- request
GET /a.html
--- more_headers
Cookie: cometchat_chat=1
--- response_body eval
"<html><body><p>x</p><script" . $main::Signout . "</body></html>\n"
--- response_headers
Set-Cookie: cometchat_chat=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax
Cache-Control: private, no-cache
X-Token-Status: anonymous
!Content-Length



=== TEST 2: not marked, anonymous: the page as the app sent it, headers included
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: other=1
--- response_body eval
$main::Page
--- response_headers eval
"!Set-Cookie\n!Cache-Control\nContent-Length: " . length($main::Page)



=== TEST 3: an empty marker (an expired cookie sent once more) does not count
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: a=b; cometchat_chat=; c=d
--- response_body eval
$main::Page
--- response_headers
!Set-Cookie
!Cache-Control



=== TEST 4: the marker among other cookies, in a second Cookie header
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: a=b
Cookie: x=y; cometchat_chat=1
--- response_body_like eval
qr{^<html><body><p>x</p><script>\n\(function \(\) \{\n.*signed out.*</script>\n</body></html>\n\z}s
--- response_headers
Set-Cookie: cometchat_chat=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax



=== TEST 5: signed in, not marked yet: the widget, and the marker cookie set
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: uid=u104a
--- response_body_like eval
qr/CometChatAuth\.start\(config\)/
--- response_headers
Set-Cookie: cometchat_chat=1; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax
Cache-Control: private, no-cache



=== TEST 6: signed in and marked: the widget, no Set-Cookie
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: uid=u104b; cometchat_chat=1
--- response_body_like eval
qr/CometChatAuth\.start\(config\)/
--- response_headers
!Set-Cookie
Cache-Control: private, no-cache



=== TEST 7: marked, anonymous, HEAD: nothing
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
HEAD /a.html
--- more_headers
Cookie: cometchat_chat=1
--- response_body
--- response_headers eval
"!Set-Cookie\n!Cache-Control\nContent-Length: " . length($main::Page)



=== TEST 8: marked, anonymous, not an HTML type: nothing
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.txt
--- more_headers
Cookie: cometchat_chat=1
--- response_body
<html><body>text</body></html>
--- response_headers
!Set-Cookie
!Cache-Control
Content-Type: text/plain



=== TEST 9: marked, anonymous, encoded or not 200: nothing
--- config
    location / {
        cometchat on;
        root html;
    }
    location = /gz.html {
        cometchat on;
        default_type text/html;
        add_header Content-Encoding gzip;
        return 200 "<html><body>gz</body></html>";
    }
    location = /404.html {
        cometchat on;
        default_type text/html;
        return 404 "<html><body>nf</body></html>";
    }
--- request eval
["GET /gz.html", "GET /404.html"]
--- more_headers
Cookie: cometchat_chat=1
--- response_body eval
["<html><body>gz</body></html>", "<html><body>nf</body></html>"]
--- response_headers eval
["!Set-Cookie\n!Cache-Control", "!Set-Cookie\n!Cache-Control"]
--- error_code eval
[200, 404]



=== TEST 10: marked, the session check failed: nobody is signed out
--- config
    location / {
        cometchat on;
        root html;
        add_header X-Token-Status $cometchat_token_status;
    }
--- request
GET /a.html
--- more_headers
Cookie: cometchat_chat=1; broken=1
--- response_body eval
$main::Page
--- response_headers
!Set-Cookie
X-Token-Status: error
--- error_log
cometchat



=== TEST 11: the CSP nonce goes on the sign-out <script>
--- config
    location / {
        cometchat on;
        root html;
        add_header Content-Security-Policy "script-src 'nonce-s1gn+/='";
    }
--- request
GET /a.html
--- more_headers
Cookie: cometchat_chat=1
--- response_body eval
"<html><body><p>x</p><script nonce=\"s1gn+/=\"" . $main::Signout . "</body></html>\n"



=== TEST 12: cometchat_inject off, or cometchat off: no sign-out either
--- config
    location / {
        cometchat on;
        cometchat_inject off;
        root html;
    }
    location /off/ {
        cometchat off;
        alias html/;
    }
--- request eval
["GET /a.html", "GET /off/a.html"]
--- more_headers
Cookie: cometchat_chat=1
--- response_body eval
[$main::Page, $main::Page]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie"]



=== TEST 13: a custom template location signs out the same way (the app ID's storage)
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
<html><body><p>x</p></body></html>
>>> t.html
<script>var t = "$cometchat_auth_token";</script>
--- request
GET /a.html
--- more_headers
Cookie: cometchat_chat=1
--- response_body eval
"<html><body><p>x</p><script" . $main::Signout . "</body></html>\n"



=== TEST 14: sign-out pages are not counted as injected
--- config
    location / {
        cometchat on;
        root html;
    }
    location = /s {
        cometchat_status;
    }
--- request eval
["GET /a.html", "GET /a.html", "GET /s"]
--- more_headers eval
["Cookie: cometchat_chat=1", "Cookie: uid=u104c", ""]
--- response_body_like eval
[qr/signed out/, qr/CometChatAuth/, qr/^cometchat_snippets_injected_total 1$/m]
