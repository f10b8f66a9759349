# vi:filetype=perl
#
# The snippet: the built-in widget (CometChat's Widget Builder embed, or
# the legacy CometChatWidget) and each cometchat_widget parameter; the
# CSP nonce on injected <script> elements; custom templates
# (cometchat_snippet_file) with variables escaped for where they stand,
# hostile values included; configuration errors.

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
                          ">>> a.html\n<html><body><p>x</p></body></html>\n");
    }

    if (!defined $block->response_body_filters) {
        $block->set_value('response_body_filters', [\&hide_tokens]);
    }
});

our $Start = <<'_EOS_';
  function start() {
    var app = window.CometChatApp;
    if (!app || !app.CometChatAuth) {
      fail("the widget script did not load");
      return;
    }
    try {
      Promise.resolve(app.CometChatAuth.start(config)).then(function () {
        config.authToken = "";
_EOS_

our $End = <<'_EOS_';
        console.info("[cometchat] widget started for uid " + uid);
      }, fail);
    } catch (e) {
      fail(e);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
</script>
_EOS_

our $Fail = <<'_EOS_';
  function fail(e) {
    console.error("[cometchat] widget failed: " + (e && e.message ? e.message : e));
  }
_EOS_

# before the widget starts: another user's stored CometChat session goes
our $Switch = <<'_EOS_';
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
  try {
    var seen = localStorage.getItem(store + "common_store/user");
    for (var i = 0; i < 3 && typeof seen === "string"; i++) {
      seen = JSON.parse(seen);
    }
    if (seen !== null && !(seen && String(seen.uid).toLowerCase() === uid.toLowerCase())) {
      forget();
      console.info("[cometchat] another user's chat session was stored here: removed");
    }
  } catch (e) {
    try {
      forget();
    } catch (e2) {
    }
  }
_EOS_

run_tests();

__DATA__

=== TEST 1: the built-in widget: the Widget Builder embed, logged in with the auth token, docked bottom-right
--- config
    location / {
        cometchat on;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: uid=u102a
--- response_body eval
"<html><body><p>x</p>"
. qq~<div id="cometChatMount"></div>\n~
. qq~<script defer src="https://cdn.jsdelivr.net/npm/\@cometchat/chat-embed\@1.0.36/dist/main.js"></script>\n~
. qq~<script>\n(function () {\n  var uid = "u102a";\n~
. $main::Fail . $main::Switch
. qq~  var config = {\n~
. qq~    appID: "testapp", region: "eu",\n~
. qq~    mode: "authToken", authToken: "TOKEN",\n~
. qq~    mount: "#cometChatMount", isDocked: true, dockedAlignment: "right", width: "450px", height: "80vh"\n~
. qq~  };\n~
. $main::Start . $main::End
. "</body></html>\n"
--- response_body_unlike
(authKey|test-rest-key)



=== TEST 2: each cometchat_widget parameter
--- config
    location / {
        cometchat on;
        root html;
    }
    location /p1/ { cometchat on; alias html/; cometchat_widget position=bottom-left; }
    location /p2/ { cometchat on; alias html/; cometchat_widget docked=off; }
    location /p3/ { cometchat on; alias html/; cometchat_widget width=500px height=70%; }
    location /p4/ { cometchat on; alias html/; cometchat_widget variant=v_1-b; }
    location /p5/ { cometchat on; alias html/; cometchat_widget chat_type=group default_chat=support-1; }
    location /p6/ { cometchat on; alias html/; cometchat_widget language=pt-BR; }
    location /p7/ { cometchat on; alias html/; cometchat_widget "script=https://cdn.example.com/w.js?v=1&x=2"; }
    location /p8/ { cometchat on; alias html/; cometchat_widget script=/static/chat-embed.js flavor=embed docked=on position=bottom-right; }
--- request eval
[map { "GET /p$_/a.html" } 1 .. 8]
--- more_headers
Cookie: uid=u102b
--- response_body_like eval
[qr/isDocked: true, dockedAlignment: "left", width: "450px"/,
 qr/isDocked: false, dockedAlignment: "right"/,
 qr/dockedAlignment: "right", width: "500px", height: "70%"\n/,
 qr/height: "80vh", variantID: "v_1-b"\n  };/,
 qr/height: "80vh", chatType: "group", defaultChatID: "support-1"\n  };/,
 qr/height: "80vh", language: "pt-BR"\n  };/,
 qr{<script defer src="https://cdn.example.com/w.js\?v=1&#38;x=2"></script>},
 qr{<div id="cometChatMount"></div>\n<script defer src="/static/chat-embed.js"></script>\n.*isDocked: true, dockedAlignment: "right", width: "450px", height: "80vh"\n}s]



=== TEST 3: parameters are inherited one by one
--- config
    cometchat_widget position=bottom-left variant=dark;
    location / {
        cometchat on;
        cometchat_widget width=320px variant=light;
        root html;
    }
--- request
GET /a.html
--- more_headers
Cookie: uid=u102c
--- response_body_like
dockedAlignment: "left", width: "320px", height: "80vh", variantID: "light"



=== TEST 4: the legacy widget
--- config
    location / {
        cometchat on;
        cometchat_widget flavor=legacy widget_id=abc-123;
        root html;
    }
    location /emb/ {
        cometchat on;
        cometchat_widget flavor=legacy widget_id=w2 docked=off position=bottom-left
                         chat_type=user default_chat=superhero1 height=600px;
        alias html/;
    }
--- request eval
["GET /a.html", "GET /emb/a.html"]
--- more_headers
Cookie: uid=u102d
--- response_body eval
["<html><body><p>x</p>"
 . qq~<script defer src="https://widget-js.cometchat.io/v3/cometchatwidget.js"></script>\n~
 . qq~<script>\n(function () {\n  var uid = "u102d";\n~
 . $main::Fail . $main::Switch
 . qq~  function start() {\n~
 . qq~    var w = window.CometChatWidget;\n~
 . qq~    if (!w) {\n~
 . qq~      fail("the widget script did not load");\n~
 . qq~      return;\n~
 . qq~    }\n~
 . qq~    try {\n~
 . qq~      w.init({appID: "testapp", appRegion: "eu"}).then(function () {\n~
 . qq~        return w.login({authToken: "TOKEN"});\n~
 . qq~      }).then(function () {\n~
 . qq~        w.launch({roundedCorners: "true", widgetID: "abc-123", docked: "true", alignment: "right", width: "450px", height: "80vh"});\n~
 . $main::End
 . "</body></html>\n",
 "<html><body><p>x</p>"
 . qq~<div id="cometChatMount"></div>\n~
 . qq~<script defer src="https://widget-js.cometchat.io/v3/cometchatwidget.js"></script>\n~
 . qq~<script>\n(function () {\n  var uid = "u102d";\n~
 . $main::Fail . $main::Switch
 . qq~  function start() {\n~
 . qq~    var w = window.CometChatWidget;\n~
 . qq~    if (!w) {\n~
 . qq~      fail("the widget script did not load");\n~
 . qq~      return;\n~
 . qq~    }\n~
 . qq~    try {\n~
 . qq~      w.init({appID: "testapp", appRegion: "eu"}).then(function () {\n~
 . qq~        return w.login({authToken: "TOKEN"});\n~
 . qq~      }).then(function () {\n~
 . qq~        w.launch({roundedCorners: "true", widgetID: "w2", target: "#cometChatMount", width: "450px", height: "600px", defaultType: "user", defaultID: "superhero1"});\n~
 . $main::End
 . "</body></html>\n"]



=== TEST 5: the CSP nonce goes on the injected <script> elements
--- http_config
    map $arg_case $csp {
        1 "default-src 'self'; script-src 'nonce-r4nd0m+/=' 'strict-dynamic'";
        2 "default-src 'nonce-fromDefault'";
        3 "script-src 'nonce-generic'; script-src-elem 'NONCE-elem_-1'";
        4 "img-src *, script-src 'nonce-second'";
        5 "script-src 'nonce-bad\"quote'";
        6 "script-src 'self'";
        7 "";
        8 "default-src 'nonce-enforced'";
        default "";
    }
    map $arg_case $csp_ro {
        7 "script-src 'nonce-reportonly'";
        8 "script-src 'nonce-reportonly'";
        default "";
    }
--- config
    location / {
        cometchat on;
        root html;
        add_header Content-Security-Policy $csp;
        add_header Content-Security-Policy-Report-Only $csp_ro;
    }
--- request eval
[map { "GET /a.html?case=$_" } 1 .. 8]
--- more_headers
Cookie: uid=u102e
--- response_body_like eval
[(map { qr{<script nonce="\Q$_\E" defer src="https://[^"]+"></script>\n<script nonce="\Q$_\E">\n\(function}s }
  "r4nd0m+/=", "fromDefault", "elem_-1", "second"),
 qr{<script defer src="https://[^"]+"></script>\n<script>\n\(function}s,
 qr{<script defer src="https://[^"]+"></script>\n<script>\n\(function}s,
 qr{<script nonce="reportonly" defer src=}s,
 qr{<script nonce="enforced" defer src=}s]



=== TEST 6: a custom template: each value escaped for where it stands, hostile ones included
--- http_config
    map $http_x_url $url {
        "lead-space" " javascript:x";
        default $http_x_url;
    }
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        set $nl "a\nb\rc";
        add_header Content-Security-Policy "script-src 'nonce-$arg_n'";
        root html;
    }
--- user_files
>>> a.html
<html><body><p>x</p></body></html>
>>> t.html
<p title="$http_x_h" data-x=$http_x_h>$http_x_h</p>
<a href="$url">l</a> <a href=$url>m</a> <a href="/base?q=$url">n</a>
<!-- $http_x_h --><i>$nl</i>
<style>.a { content: "$http_x_h"; }</style>
<script>var a = "$http_x_h", b = '$http_x_h', c = `$http_x_h`, d = $http_x_h; // $http_x_h
/* $http_x_h */ var e = $$; var f = "${cometchat_uid}x", g = "$cometchat_auth_token"; jq = $('#x'); var nl = "$nl";</script>
<SCRIPT src=/x.js></SCRIPT>
--- request eval
["GET /a.html?n=", "GET /a.html?n=", "GET /a.html?n=", "GET /a.html?n=", "GET /a.html?n=", "GET /a.html?n=n0nce", "GET /a.html?n="]
--- more_headers eval
['Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: javascript:alert(1)',
 'Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: lead-space',
 'Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: JaVaScRiPt:x',
 'Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: data:text/html,x',
 'Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: https://ok.example/a?b=1&c=2',
 'Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: /rel/x',
 'Cookie: uid=u102f
X-H: "\'`</script><!--<b>&\\${a}*/-->	 é 😀   � end
X-Url: a/b:c']
--- response_body eval
['<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="about:invalid#cometchat-unsafe-url">l</a> <a href=about:invalid#cometchat-unsafe-url>m</a> <a href="/base?q=javascript:alert(1)">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script>var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT src=/x.js></SCRIPT>
</body></html>
',
 '<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="about:invalid#cometchat-unsafe-url">l</a> <a href=about:invalid#cometchat-unsafe-url>m</a> <a href="/base?q= javascript:x">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script>var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT src=/x.js></SCRIPT>
</body></html>
',
 '<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="about:invalid#cometchat-unsafe-url">l</a> <a href=about:invalid#cometchat-unsafe-url>m</a> <a href="/base?q=JaVaScRiPt:x">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script>var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT src=/x.js></SCRIPT>
</body></html>
',
 '<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="about:invalid#cometchat-unsafe-url">l</a> <a href=about:invalid#cometchat-unsafe-url>m</a> <a href="/base?q=data:text/html,x">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script>var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT src=/x.js></SCRIPT>
</body></html>
',
 '<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="https://ok.example/a?b=1&#38;c=2">l</a> <a href=https://ok.example/a?b&#61;1&#38;c&#61;2>m</a> <a href="/base?q=https://ok.example/a?b=1&#38;c=2">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script>var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT src=/x.js></SCRIPT>
</body></html>
',
 '<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="/rel/x">l</a> <a href=/rel/x>m</a> <a href="/base?q=/rel/x">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script nonce="n0nce">var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT nonce="n0nce" src=/x.js></SCRIPT>
</body></html>
',
 '<html><body><p>x</p><p title="&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end" data-x=&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9;&#32;&#233;&#32;&#128512;&#32;&#8232;&#32;&#65533;&#32;end>&#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end</p>
<a href="a/b:c">l</a> <a href=a/b:c>m</a> <a href="/base?q=a/b:c">n</a>
<!-- &#34;&#39;&#96;&#60;/script&#62;&#60;!--&#60;b&#62;&#38;&#92;&#36;&#123;a&#125;&#42;/--&#62;&#9; &#233; &#128512; &#8232; &#65533; end --><i>a&#10;b&#13;c</i>
<style>.a { content: "\\000022\\000027\\000060\\00003c\\00002fscript\\00003e\\00003c\\000021\\00002d\\00002d\\00003cb\\00003e\\000026\\00005c\\000024\\00007ba\\00007d\\00002a\\00002f\\00002d\\00002d\\00003e\\000009\\000020\\0000e9\\000020\\01f600\\000020\\002028\\000020\\00fffd\\000020end"; }</style>
<script>var a = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end", b = \'\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end\', c = `\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end`, d = "\\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end"; // \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end
/* \\u0022\\u0027\\u0060\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026\\u005c\\u0024\\u007ba\\u007d\\u002a/--\\u003e\\u0009 \\u00e9 \\ud83d\\ude00 \\u2028 \\ufffd end */ var e = $; var f = "u102fx", g = "TOKEN"; jq = $(\'#x\'); var nl = "a\\u000ab\\u000dc";</script>
<SCRIPT src=/x.js></SCRIPT>
</body></html>
']



=== TEST 7: a custom template: every <script> gets the nonce; "$$" is a "$"; other variables; <script/> does not end the script (HTML rules), so what follows is script
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        add_header Content-Security-Policy "script-src 'nonce-abc'";
        root html;
    }
--- user_files
>>> a.html
<html><body><p>x</p></body></html>
>>> t.html
<script src="/w.js" defer></script><SCRIPT>go($cometchat_uid, "$$5", "$request_uri", $('#a'), "$cometchat_token_status")</SCRIPT><script/>
<noscript>$cometchat_uid</noscript>
--- request
GET /a.html?q=%3Cb%3E
--- more_headers
Cookie: uid=u102g
--- response_body
<html><body><p>x</p><script nonce="abc" src="/w.js" defer></script><SCRIPT nonce="abc">go("u102g", "$5", "/a.html?q\u003d%3Cb%3E", $('#a'), "minted")</SCRIPT><script nonce="abc"/>
<noscript>"u102g"</noscript>
</body></html>



=== TEST 8: configuration error: an unknown parameter
--- config
    location / {
        cometchat on;
        cometchat_widget foo=bar;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": unknown parameter "foo"


=== TEST 9: configuration error: a parameter without a value
--- config
    location / {
        cometchat on;
        cometchat_widget position;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid parameter "position", expected NAME=VALUE


=== TEST 10: configuration error: a duplicate parameter
--- config
    location / {
        cometchat on;
        cometchat_widget width=1px width=2px;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": duplicate parameter "width"


=== TEST 11: configuration error: a bad position
--- config
    location / {
        cometchat on;
        cometchat_widget position=top-left;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "top-left" for "position", expected "bottom-right" or "bottom-left"


=== TEST 12: configuration error: a bad docked
--- config
    location / {
        cometchat on;
        cometchat_widget docked=yes;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "yes" for "docked", expected "on" or "off"


=== TEST 13: configuration error: a bad width
--- config
    location / {
        cometchat on;
        cometchat_widget width=10furlongs;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "10furlongs" for "width", expected a CSS length such as "450px" or "80vh"


=== TEST 14: configuration error: a bad height
--- config
    location / {
        cometchat on;
        cometchat_widget "height=1px;color:red";
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "1px;color:red" for "height"


=== TEST 15: configuration error: a bad variant
--- config
    location / {
        cometchat on;
        cometchat_widget "variant=a\"b";
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "a"b" for "variant", expected up to 100 letters, digits, "-" and "_"


=== TEST 16: configuration error: a bad chat_type
--- config
    location / {
        cometchat on;
        cometchat_widget chat_type=room;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "room" for "chat_type", expected "user" or "group"


=== TEST 17: configuration error: a bad default_chat
--- config
    location / {
        cometchat on;
        cometchat_widget default_chat=</script>;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "</script>" for "default_chat"


=== TEST 18: configuration error: a bad language
--- config
    location / {
        cometchat on;
        cometchat_widget language=e;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "e" for "language", expected a language tag such as "en" or "pt-BR"


=== TEST 19: configuration error: a javascript: script URL
--- config
    location / {
        cometchat on;
        cometchat_widget script=javascript:alert(1);
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "javascript:alert(1)" for "script"


=== TEST 20: configuration error: a script URL with a quote
--- config
    location / {
        cometchat on;
        cometchat_widget "script=https://x/a\"b.js";
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "https://x/a"b.js" for "script"


=== TEST 21: configuration error: a bad flavor
--- config
    location / {
        cometchat on;
        cometchat_widget flavor=classic;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": invalid value "classic" for "flavor", expected "embed" or "legacy"


=== TEST 22: configuration error: legacy without widget_id
--- config
    location / {
        cometchat on;
        cometchat_widget flavor=legacy;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": "flavor=legacy" requires "widget_id"


=== TEST 23: configuration error: widget_id without legacy
--- config
    location / {
        cometchat on;
        cometchat_widget widget_id=w1;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": "widget_id" requires "flavor=legacy"


=== TEST 24: configuration error: variant with legacy
--- config
    location / {
        cometchat on;
        cometchat_widget flavor=legacy widget_id=w1 variant=v;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_widget": "variant" is not supported with "flavor=legacy"


=== TEST 25: configuration error: a missing snippet file
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/nowhere.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_snippet_file": cannot open


=== TEST 26: configuration error: an empty snippet file
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/empty.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_snippet_file": "


=== TEST 27: configuration error: a variable inside a tag
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t1.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_a" may stand only in text, in an attribute value, in a script or in a style element


=== TEST 28: configuration error: a variable in an event handler
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t2.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may not stand in an event handler, "style" or "srcdoc" attribute


=== TEST 29: configuration error: a variable in a style attribute
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t3.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may not stand in an event handler


=== TEST 30: configuration error: an unterminated ${
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t4.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "${arg_a" has no closing "}"


=== TEST 31: configuration error: an unknown variable
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t5.html;
        root html;
    }
--- user_files
>>> empty.html
>>> t1.html
<p>ok $arg_a</p>
<div $arg_a></div>
>>> t2.html
<a onclick="go('$arg_a')">x</a>
>>> t3.html
<a style="color: $arg_a">x</a>
>>> t4.html
<p>${arg_a</p>
>>> t5.html
<p>$no_such_thing</p>
--- must_die
--- error_log
unknown "no_such_thing" variable



=== TEST 32: a custom template: no value leaves where it stands, even where the compiler could be misled: CSS punctuation, a regular expression literal with a quote, a URL made of several values or after spaces; a variable not found is empty
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
<style>p { color: $arg_c }</style>
<script>var r = /"/; var x = "$arg_v";</script>
<a href="$arg_a$arg_b">1</a> <a href=" $arg_b">2</a> <a href=$arg_a$arg_b>3</a> <a href="$arg_d$arg_e">4</a>
<script>var none = $cookie_none, nothing = "$cookie_none";</script>
--- request
GET /a.html?c=red;background:url(//evil.example/x)&v=;alert(1);//&a=&b=javascript:alert(1)&d=/p&e=?q=1:2
--- more_headers
Cookie: uid=u102z
--- response_body
<html><body><p>x</p><style>p { color: red\00003bbackground\00003aurl\000028\00002f\00002fevil\00002eexample\00002fx\000029 }</style>
<script>var r = /"/; var x = ""\u003balert\u00281\u0029\u003b//"";</script>
<a href="about:invalid#cometchat-unsafe-url">1</a> <a href=" about:invalid#cometchat-unsafe-url">2</a> <a href=about:invalid#cometchat-unsafe-url>3</a> <a href="/p?q=1:2">4</a>
<script>var none = "", nothing = "";</script>
</body></html>



=== TEST 33: a value in a URL attribute cannot break out of it nor bring a script scheme: the expected bytes follow the rule (attribute escaping; a value that starts the URL must have no scheme or a harmless one)
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
<a href="$http_x_room">1</a> <a href="/chat?room=$http_x_room">2</a> <a href=$http_x_room>3</a> <a href="mailto:$http_x_room">4</a>
--- request eval
[("GET /a.html") x 8]
--- more_headers eval
[map { "Cookie: uid=u102r\nX-Room: $_" }
 q{x');document.body.setAttribute('data-pwned','yes');//},
 q{x%27);alert(1);//},
 q{x&#x27;);alert(1);//},
 q{x\u0027);alert(1);//},
 q{x</a><img src=x onerror=alert(1)>},
 q{x%0aalert(1)//},
 q{javascript:alert(1)},
 q{JaVaScRiPt:alert(1)}]
--- response_body_like eval
my @q = (
    [q{x&#39;);document.body.setAttribute(&#39;data-pwned&#39;,&#39;yes&#39;);//}],
    [q{x%27);alert(1);//}],
    [q{x&#38;#x27;);alert(1);//}],
    [q{x&#92;u0027);alert(1);//}],
    [q{x&#60;/a&#62;&#60;img src=x onerror=alert(1)&#62;},
     q{x&#60;/a&#62;&#60;img&#32;src&#61;x&#32;onerror&#61;alert(1)&#62;}],
    [q{x%0aalert(1)//}],
    [q{javascript:alert(1)}, q{about:invalid#cometchat-unsafe-url}],
    [q{JaVaScRiPt:alert(1)}, q{about:invalid#cometchat-unsafe-url}],
);
[map {
    my ($v, $unq) = @$_;
    my $start = $v =~ /^javascript:/i ? $unq : $v;
    $unq = $start if !defined $unq || $v =~ /^javascript:/i;
    qr{^<html><body><p>x</p><a href="\Q$start\E">1</a> <a href="/chat\?room=\Q$v\E">2</a> <a href=\Q$unq\E>3</a> <a href="mailto:\Q$v\E">4</a>\n</body></html>\n?$}s
} @q]



=== TEST 34: configuration error: a variable in a javascript: URL (issue 16)
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a href="https://x.example/?q=$arg_room">ok</a>
<a id="openchat" href="javascript:openChat('$arg_room')">Open chat</a>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_room" may not stand in a "javascript:", "vbscript:" or "data:" URL



=== TEST 35: configuration error: a javascript: URL spelled with references, case, blanks and a tab
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a href=" &#x0a;JaVa&#x53;cr	ipt&colon;go(1)" title="$arg_a">ok</a>
<a href=' &#x0a;JaVa&#x53;cr	ipt&colon;go("$arg_room")'>x</a>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_room" may not stand in a "javascript:", "vbscript:" or "data:" URL



=== TEST 36: configuration error: a variable in a data: URL
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<iframe src=&#100;ata:text/html,$arg_room></iframe>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_room" may not stand in a "javascript:", "vbscript:" or "data:" URL



=== TEST 37: configuration error: a variable in a vbscript: URL
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a href="VBScript:go($arg_room)">x</a>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_room" may not stand in a "javascript:", "vbscript:" or "data:" URL



=== TEST 38: configuration error: a variable before a literal ":" would choose the scheme
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a href="/p?q=$arg_a:b">ok</a> <a href="$arg_a&amp;b=1">ok</a>
<a href="$arg_s:alert(1)">x</a>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: a variable may not stand in the scheme of a URL



=== TEST 39: configuration error: the ":" after a value spelled as a reference
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a href="$arg_s&#x3A;alert(1)">x</a>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: a variable may not stand in the scheme of a URL



=== TEST 40: comments end where browsers end them ("--!>", "<!-->", "<!--->"): the URL after each is a URL, not comment text
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
<!-- a --!><a href="$arg_b">1</a>
<!--><a href="$arg_b">2</a>
<!---><a href="$arg_b">3</a>
<!-- "$arg_b" --></ x="$arg_b"><a href="$arg_b">4</a>
--- request
GET /a.html?b=javascript:alert(1)
--- more_headers
Cookie: uid=u102c
--- response_body
<html><body><p>x</p><!-- a --!><a href="about:invalid#cometchat-unsafe-url">1</a>
<!--><a href="about:invalid#cometchat-unsafe-url">2</a>
<!---><a href="about:invalid#cometchat-unsafe-url">3</a>
<!-- "javascript:alert(1)" --></ x="javascript:alert(1)"><a href="about:invalid#cometchat-unsafe-url">4</a>
</body></html>



=== TEST 41: a script's escaped state ("<!--" ... "-->") keeps the script going: values in it are JavaScript, and "</script>" still ends it
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
<script><!--
var x = "$arg_v";
//--></script><a href="$arg_b">1</a>
--- request
GET /a.html?v=";alert(1)//&b=javascript:alert(1)
--- more_headers
Cookie: uid=u102d
--- response_body
<html><body><p>x</p><script><!--
var x = "\u0022\u003balert\u00281\u0029//";
//--></script><a href="about:invalid#cometchat-unsafe-url">1</a>
</body></html>



=== TEST 42: "<script" after "<!--" in a script: the "</script>" after it does not end the script (double-escaped), what follows up to "-->" and "</script>" is still script
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
<script><!-- var s = "<script>";
</script><a href="$arg_b">x</a> --></script>
--- request
GET /a.html?b=javascript:alert(1)
--- more_headers
Cookie: uid=u102f
--- response_body
<html><body><p>x</p><script><!-- var s = "<script>";
</script><a href="javascript:alert\u00281\u0029">x</a> --></script>
</body></html>



=== TEST 43: configuration error: a variable in the double-escaped part of a script is refused
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<script><!-- <script>
var x = "$arg_v"; </script> --></script>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_v" may not stand in the double-escaped part of a script ("<!--" and then "<script"): with the text around it, it could change where the browser ends the script



=== TEST 44: configuration error: a value that could finish a "</script" begun by the template
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<script>var ok = "<" + "$arg_v";
var t = "</scr$arg_v";</script>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_v" may not stand right after a "<" in a script: with the text around it, it could change where the browser ends the script



=== TEST 45: configuration error: after "<!--" in a script, a value next to "-" could finish a "-->"
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<script><!--
var n = 1 - $arg_v, m = 2 -$arg_v;
--></script>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_v" may not stand next to a "-" or ">" after "<!--" in a script: with the text around it, it could change where the browser ends the script



=== TEST 46: a URL attribute: after a literal scheme a value is only data; after a "/" a later ":" is no scheme of a value
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
<a href="x:$arg_b">1</a> <a href="$arg_d/x:y">2</a> <a href="https:$arg_b">3</a>
--- request
GET /a.html?b=javascript:alert(1)&d=/p
--- more_headers
Cookie: uid=u102e
--- response_body
<html><body><p>x</p><a href="x:javascript:alert(1)">1</a> <a href="/p/x:y">2</a> <a href="https:javascript:alert(1)">3</a>
</body></html>
