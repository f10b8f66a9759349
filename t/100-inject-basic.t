# vi:filetype=perl
#
# Widget injection: which responses get the snippet and where, and what
# happens to their headers (Content-Length, Accept-Ranges, Last-Modified,
# ETag, Cache-Control); which are left alone (anonymous users, HEAD, 304,
# other statuses, other types, Content-Encoding, cometchat_inject off,
# subrequests).  At the end, untouched responses are compared byte for
# byte with the same requests to an nginx without the module.
#
# Most blocks use a small snippet file, "[cc:$cometchat_uid:$cometchat_auth_token]",
# so that bodies can be compared exactly; tokens are replaced by TOKEN.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use Compress::Zlib ();
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use POSIX ();

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

our $Snippet = '[cc:$cometchat_uid:$cometchat_auth_token]';

add_block_preprocessor(sub {
    my $block = shift;

    return unless defined $block->config;

    my $snip = $block->config =~ /cometchat_snippet_file|builtin snippet/
               ? '' : "    cometchat_snippet_file ../html/snip.html;\n";

    $block->set_value('config', $Common . $snip . $block->config);
    $block->set_value('http_config',
        "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n"
        . ($block->http_config // ''));

    if (!ref $block->user_files) {
        $block->set_value('user_files', ($block->user_files // '')
                          . ">>> snip.html\n$Snippet\n");
    }

    if (!defined $block->response_body_filters) {
        $block->set_value('response_body_filters', [\&hide_tokens]);
    }
});

# the ETag of an injected page ends in -cc + the snippet's identity: a
# CRC-32 of the template's text, then of each value put into it as its
# length (four bytes, little-endian) and its bytes
sub snippet_id {
    my ($template, @values) = @_;
    my $crc = Compress::Zlib::crc32($template);
    $crc = Compress::Zlib::crc32(pack('V', length $_) . $_, $crc)
        for @values;
    return $crc;
}

run_tests();

compare_without_module();

# The same requests to nginx with and without the module, same
# configuration otherwise: untouched responses are identical, byte for
# byte, but for the Date header.

sub compare_without_module {
    my $root = server_root() . '-plain';

    if (!$ENV{TEST_NGINX_LOAD_MODULES}) {
        # nginx has the module compiled in: there is no nginx without it
        Test::More::note("100 - module compiled in: no comparison "
                         . "with an nginx without it");
        return;
    }
    my @ports = (CometChatEnv::free_port(), CometChatEnv::free_port());
    my $fake = $ENV{TEST_NGINX_FAKE_URL};
    my $redis = $ENV{TEST_NGINX_REDIS_PORT};

    remove_tree($root);

    my $page = "<!DOCTYPE html>\n<html><body><p>same</p></body></html>\n";

    for my $with (0, 1) {
        my $dir = "$root/$with";
        make_path("$dir/conf", "$dir/logs", "$dir/html");

        write_file("$dir/html/page.html", $page);
        write_file("$dir/html/empty.html", '');
        write_file("$dir/html/style.css", "body { color: red }\n");
        write_file("$dir/html/frag.html", "<div>fragment</div>\n");
        write_file("$dir/html/page.gz.html",
                   Compress::Zlib::memGzip($page));
        system("touch", "-d", "2020-01-02 03:04:05 UTC",
               glob("$dir/html/*"));

        my $cc = $with ? <<"_EOC_" : '';
        cometchat_app_id   testapp;
        cometchat_region   eu;
        cometchat_api_key  test-rest-key;
        cometchat_api_url  $fake;
        cometchat_session  /_whoami;
        cometchat          on;
_EOC_
        my $load = $with
                   ? "load_module $ENV{TEST_NGINX_LOAD_MODULES};" : '';
        my $redis_line = $with
                         ? "cometchat_redis 127.0.0.1:$redis;" : '';

        write_file("$dir/conf/nginx.conf", <<"_EOC_");
$load
daemon on;
master_process off;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    $redis_line
    types { text/html html; text/css css; }
    server {
        listen 127.0.0.1:$ports[$with];
        root html;
        sendfile on;
$cc
        location = /_whoami {
            internal;
            proxy_pass http://127.0.0.1:$ports[$with]/_who;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location = /_who {
            if (\$cookie_uid = "") { return 401; }
            add_header X-User-Id \$cookie_uid;
            return 204;
        }
        location = /page.gz.html {
            add_header Content-Encoding gzip;
        }
        location = /off.html {
            alias html/page.html;
            ${\ ($with ? 'cometchat_inject off;' : '')}
        }
        location = /missing.html {
            error_page 404 /page.html;
            return 404;
        }
    }
}
_EOC_

        system($ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx', '-p', $dir,
               '-c', "$dir/conf/nginx.conf") == 0
            or die "cannot start nginx in $dir";
    }

    # signed-in users too, where nothing is to be injected
    my @cases = (
        ['GET /page.html', ''],
        ['GET /page.html?x=1', "Cookie: uid=plain_100\r\n"
                               . "If-Modified-Since: Thu, 02 Jan 2020 "
                               . "03:04:05 GMT\r\n"],
        ['HEAD /page.html', "Cookie: uid=plain_100\r\n"],
        ['GET /style.css', "Cookie: uid=plain_100\r\n"],
        ['GET /empty.html', "Cookie: uid=plain_100\r\n"],
        ['GET /page.gz.html', "Cookie: uid=plain_100\r\n"],
        ['GET /off.html', "Cookie: uid=plain_100\r\n"],
        ['GET /style.css', "Cookie: uid=plain_100\r\nRange: bytes=0-3\r\n"],
        ['GET /missing.html', "Cookie: uid=plain_100\r\n"],
        ['GET /nowhere.html', "Cookie: uid=plain_100\r\n"],
    );

    for my $c (@cases) {
        my @res = map { fetch($ports[$_], @$c) } 0, 1;
        s/^Date: [^\r]*\r\n//m for @res;
        is($res[1], $res[0], "100 - without and with the module: "
                             . "$c->[0] " . ($c->[1] =~ /uid=/ ? "(signed in)"
                                                               : "(anonymous)"))
            or diag("without:\n$res[0]\nwith:\n$res[1]");
    }

    for my $with (0, 1) {
        my $pid = `cat $root/$with/logs/nginx.pid`;
        chomp $pid;
        kill 'QUIT', $pid if $pid;
    }

    sleep 0.3;
}

sub write_file {
    my ($path, $data) = @_;
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
}

sub fetch {
    my ($port, $req, $headers) = @_;
    my ($method, $uri) = split / /, $req;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or die "connect $port: $!";
    print $s "$method $uri HTTP/1.1\r\nHost: localhost\r\n$headers"
             . "Connection: close\r\n\r\n";
    local $/;
    my $res = <$s>;
    close $s;
    return $res;
}

__DATA__

=== TEST 1: a static page: the snippet goes right before </body>
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<!DOCTYPE html>
<html><body>
<p>hello</p>
</body>
</html>
--- request
GET /a.html
--- more_headers
Cookie: uid=u100a
--- response_body
<!DOCTYPE html>
<html><body>
<p>hello</p>
[cc:u100a:TOKEN]
</body>
</html>
--- response_headers
!Content-Length
!Accept-Ranges
!Last-Modified
Cache-Control: private, no-cache
Transfer-Encoding: chunked
--- response_headers_like
ETag: W/"[0-9a-f]+-[0-9a-f]+-cc[0-9a-f]{8}"
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: an anonymous user gets the page untouched
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<html><body><p>hello</p></body></html>
--- request
GET /a.html
--- response_body
<html><body><p>hello</p></body></html>
--- response_headers
Content-Length: 39
Accept-Ranges: bytes
!Cache-Control
--- response_headers_like
ETag: "[0-9a-f]+-27"
Last-Modified: .+ GMT



=== TEST 3: upper and mixed case </BoDy>
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<HTML><BODY><P>X</P></BoDy></HTML>
>>> b.html
<HTML><BODY><P>X</P></BODY>
</HTML>
--- request eval
["GET /a.html", "GET /b.html"]
--- more_headers
Cookie: uid=u100b
--- response_body eval
["<HTML><BODY><P>X</P>[cc:u100b:TOKEN]\n</BoDy></HTML>\n",
 "<HTML><BODY><P>X</P>[cc:u100b:TOKEN]\n</BODY>\n</HTML>\n"]



=== TEST 4: several </body>: the last one wins
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<html><body>
<script>document.write("</body>");</script>
<!-- </body> -->
<p>x</p></body></body >
</body>
<p>after</p>
</html>
--- request
GET /a.html
--- more_headers
Cookie: uid=u100c
--- response_body
<html><body>
<script>document.write("</body>");</script>
<!-- </body> -->
<p>x</p></body></body >
[cc:u100c:TOKEN]
</body>
<p>after</p>
</html>



=== TEST 5: no </body> in a document: appended at the end
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<!DOCTYPE html><title>x</title><p>no end tag
>>> b.html

  <!-- generated --> <HTML><p>x</p></bod
>>> c.html
﻿<html><p>with a byte order mark</p>
--- request eval
["GET /a.html", "GET /b.html", "GET /c.html"]
--- more_headers
Cookie: uid=u100d
--- response_body eval
["<!DOCTYPE html><title>x</title><p>no end tag\n[cc:u100d:TOKEN]\n",
 "\n  <!-- generated --> <HTML><p>x</p></bod\n[cc:u100d:TOKEN]\n",
 "\xef\xbb\xbf<html><p>with a byte order mark</p>\n[cc:u100d:TOKEN]\n"]



=== TEST 6: no </body> in a fragment (htmx, Turbo, .load()): left alone
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<div id="list"><p>item</p></div>
>>> b.html
plain text with <b>html</b>
--- request eval
["GET /a.html", "GET /b.html"]
--- more_headers
Cookie: uid=u100e
--- response_body eval
["<div id=\"list\"><p>item</p></div>\n",
 "plain text with <b>html</b>\n"]
--- no_error_log
[error]



=== TEST 7: an empty body stays empty
--- config
    location / {
        cometchat on;
        root html;
    }
    location = /ret {
        cometchat on;
        default_type text/html;
        return 200 "";
    }
--- user_files
>>> a.html
--- request eval
["GET /a.html", "GET /ret"]
--- more_headers
Cookie: uid=u100f
--- response_body eval
["", ""]
--- response_headers eval
["Content-Length: 0", "Content-Length: 0"]



=== TEST 8: other types are left alone; cometchat_inject_types adds some (text/html stays, as with sub_filter_types)
--- config
    types {
        text/html html;
        text/plain txt;
        application/json json;
    }
    location / {
        cometchat on;
        root html;
    }
    location /txt/ {
        cometchat on;
        cometchat_inject_types text/plain application/json;
        alias html/;
    }
--- user_files
>>> a.txt
<html><body>text</body></html>
>>> a.json
{"a": "<html></body>"}
>>> a.html
<html><body>html</body></html>
--- request eval
["GET /a.txt", "GET /a.json", "GET /txt/a.txt", "GET /txt/a.json",
 "GET /txt/a.html"]
--- more_headers
Cookie: uid=u100g
--- response_body eval
["<html><body>text</body></html>\n",
 "{\"a\": \"<html></body>\"}\n",
 "<html><body>text[cc:u100g:TOKEN]\n</body></html>\n",
 "{\"a\": \"<html>[cc:u100g:TOKEN]\n</body>\"}\n",
 "<html><body>html[cc:u100g:TOKEN]\n</body></html>\n"]



=== TEST 9: cometchat_inject off, cometchat off
--- config
    location / {
        cometchat on;
        cometchat_inject off;
        add_header X-Status $cometchat_token_status;
        root html;
    }
    location /off/ {
        cometchat off;
        alias html/;
    }
--- user_files
>>> a.html
<html><body>x</body></html>
--- request eval
["GET /a.html", "GET /off/a.html"]
--- more_headers
Cookie: uid=u100h
--- response_body eval
["<html><body>x</body></html>\n", "<html><body>x</body></html>\n"]
--- response_headers_like eval
["X-Status: (hit|minted)", "Content-Length: 28"]



=== TEST 10: HEAD is left alone
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<html><body>x</body></html>
--- request
HEAD /a.html
--- more_headers
Cookie: uid=u100i
--- response_headers
Content-Length: 28
Accept-Ranges: bytes
!Cache-Control
--- response_headers_like
ETag: "[0-9a-f]+-1c"



=== TEST 11: If-Modified-Since on a static page: a plain 304
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html 202001020304.05
<html><body>x</body></html>
--- request
GET /a.html
--- more_headers
Cookie: uid=u100j
If-Modified-Since: Thu, 02 Jan 2020 03:04:05 GMT
--- error_code: 304
--- response_body
--- response_headers
!Cache-Control
ETag: "5e0d5da5-1c"



=== TEST 12: the page's ETag carries a hash of the snippet; it gives a 304 to the same user only
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/uid.html;
        root html;
    }
--- user_files
>>> a.html 202001020304.05
<html><body>x</body></html>
>>> uid.html
[cc:$cometchat_uid]
--- request eval
["GET /a.html", "GET /a.html", "GET /a.html"]
--- more_headers eval
my $tag = sprintf('W/"5e0d5da5-1c-cc%08x"',
                  main::snippet_id("[cc:\$cometchat_uid]\n", "u100k"));
["Cookie: uid=u100k",
 "Cookie: uid=u100k\nIf-None-Match: \"other\", $tag",
 "Cookie: uid=u100k2\nIf-None-Match: $tag"]
--- error_code eval
[200, 304, 200]
--- response_body eval
["<html><body>x[cc:u100k]\n</body></html>\n", "",
 "<html><body>x[cc:u100k2]\n</body></html>\n"]
--- response_headers eval
[sprintf('ETag: W/"5e0d5da5-1c-cc%08x"',
         main::snippet_id("[cc:\$cometchat_uid]\n", "u100k")),
 "Cache-Control: private, no-cache",
 sprintf('ETag: W/"5e0d5da5-1c-cc%08x"',
         main::snippet_id("[cc:\$cometchat_uid]\n", "u100k2"))]



=== TEST 13: a Range request gets the whole injected page
--- config
    location / {
        cometchat on;
        root html;
    }
--- user_files
>>> a.html
<html><body>x</body></html>
--- request
GET /a.html
--- more_headers
Cookie: uid=u100l
Range: bytes=0-5
--- error_code: 200
--- response_body
<html><body>x[cc:u100l:TOKEN]
</body></html>
--- response_headers
!Content-Range
!Accept-Ranges



=== TEST 14: a proxied page; a 206 from upstream is left alone
--- config
    location / {
        cometchat on;
        proxy_pass http://127.0.0.1:$server_port/origin$uri;
    }
    location /origin/ {
        cometchat off;
        alias html/;
    }
    location = /partial {
        cometchat on;
        proxy_pass http://127.0.0.1:$server_port/origin/a.html;
        proxy_set_header Range bytes=0-5;
    }
--- user_files
>>> a.html
<html><body>proxied</body></html>
--- request eval
["GET /a.html", "GET /partial"]
--- more_headers
Cookie: uid=u100m
--- error_code eval
[200, 206]
--- response_body eval
["<html><body>proxied[cc:u100m:TOKEN]\n</body></html>\n", "<html>"]
--- response_headers eval
["Cache-Control: private, no-cache", "Content-Range: bytes 0-5/34"]



=== TEST 15: Cache-Control: private and no-cache unless no-store; directives that allow reuse go, and unclosed quotes (case 11: merged, they would have let "public" out)
--- http_config
    map $arg_case $cc {
        1 "public, max-age=60, s-maxage=600";
        2 "no-store";
        3 "private, max-age=5";
        4 "PRIVATE";
        5 'private="Set-Cookie, X-A", max-age=5';
        6 "no-cache, proxy-revalidate";
        7 "max-age=10";
        8 "max-age=10";
        10 'max-age=60, stale-while-revalidate=30, no-cache="Set-Cookie"';
        11 'max-age=5, ext="a';
        default "";
    }
    map $arg_case $cc2 {
        7 "must-revalidate, public";
        8 "no-store";
        10 "immutable, stale-if-error=600, no-transform";
        11 'b", public, s-maxage=600';
        default "";
    }
--- config
    location /p/ {
        cometchat on;
        proxy_pass http://127.0.0.1:$server_port/origin/a.html$is_args$args;
    }
    location /origin/ {
        cometchat off;
        alias html/;
        add_header Cache-Control $cc;
        add_header Cache-Control $cc2;
        add_header CDN-Cache-Control "max-age=600";
        add_header Cloudflare-CDN-Cache-Control "max-age=600";
        add_header Surrogate-Control "max-age=600";
        add_header X-CDN-Cache-Controlled "kept";
    }
--- user_files
>>> a.html
<html><body>x</body></html>
--- request eval
[map { "GET /p/a.html?case=$_" } 1 .. 11]
--- more_headers
Cookie: uid=u100n
--- response_headers eval
["Cache-Control: private, no-cache, max-age=60\nCDN-Cache-Control:\nSurrogate-Control:\nCloudflare-CDN-Cache-Control:\nX-CDN-Cache-Controlled: kept",
 "Cache-Control: no-store\nCDN-Cache-Control:",
 "Cache-Control: private, no-cache, max-age=5",
 "Cache-Control: private, no-cache",
 "Cache-Control: private, no-cache, max-age=5",
 "Cache-Control: private, no-cache",
 "Cache-Control: private, no-cache, max-age=10, must-revalidate",
 "Cache-Control: max-age=10, no-store",
 "Cache-Control: private, no-cache",
 "Cache-Control: private, no-cache, max-age=60, no-transform",
 "Cache-Control: private, no-cache, max-age=5"]
--- response_body eval
[("<html><body>x[cc:u100n:TOKEN]\n</body></html>\n") x 11]



=== TEST 16: other statuses are left alone, error pages included
--- config
    location / {
        cometchat on;
        root html;
        error_page 404 /404.html;
    }
    location = /404.html {
        cometchat on;
        root html;
        internal;
    }
--- user_files
>>> 404.html
<html><body>not found</body></html>
--- request
GET /nowhere.html
--- more_headers
Cookie: uid=u100o
--- error_code: 404
--- response_body
<html><body>not found</body></html>
--- response_headers
Content-Length: 36



=== TEST 17: an internal redirect (try_files): injected once, one session check
--- config
    location / {
        cometchat on;
        root html;
        try_files $uri /index.html;
    }
--- user_files
>>> index.html
<html><body>app</body></html>
--- request
GET /some/route
--- more_headers
Cookie: uid=u100p
--- response_body
<html><body>app[cc:u100p:TOKEN]
</body></html>
--- grep_error_log chop
cometchat inject: before "</body>"
--- grep_error_log_out
cometchat inject: before "</body>"



=== TEST 18: SSI: the included page is a subrequest and gets nothing
--- config
    location / {
        cometchat on;
        ssi on;
        root html;
    }
--- user_files
>>> a.html
<html><body><!--#include virtual="/part.html" --><p>main</p></body></html>
>>> part.html
<p>part</p></body>
--- request
GET /a.html
--- more_headers
Cookie: uid=u100q
--- response_body
<html><body><p>part</p></body>
<p>main</p>[cc:u100q:TOKEN]
</body></html>



=== TEST 19: the snippet never holds the REST API key; the counter moves
--- config
    location / {
        cometchat on;
        # builtin snippet
        root html;
    }
    location = /status {
        cometchat_status;
    }
--- user_files
>>> a.html
<html><body>x</body></html>
--- request eval
["GET /a.html", "GET /status"]
--- more_headers
Cookie: uid=u100r
--- response_body_unlike eval
[qr/test-rest-key/, qr/^cometchat_snippets_injected_total 0$/m]
--- response_body_like eval
[qr/CometChatAuth/, qr/^cometchat_snippets_injected_total [1-9]\d*$/m]



=== TEST 20: many Cache-Control directives without spaces: each gets ", " in the one merged header
--- config eval
"    location / {
        cometchat on;
        root html;
" . ("        add_header Cache-Control \"" . CORE::join(",", ("a") x 1000)
     . "\";\n") x 10 . "    }
"
--- user_files
>>> a.html
<html><body>x</body></html>
--- request
GET /a.html
--- more_headers
Cookie: uid=u100s
--- response_headers eval
"Cache-Control: private, no-cache, " . CORE::join(", ", ("a") x 10000)
--- response_body
<html><body>x[cc:u100s:TOKEN]
</body></html>



=== TEST 21: issue 12: a page with a token is revalidated before reuse; the 304 stays cheap
--- http_config
    map $arg_cc $cc {
        pub     "public, max-age=60";
        ns      "no-store";
        priv    "private";
        default "";
    }
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/uid.html;
        root html;
        add_header Cache-Control $cc;
    }
--- user_files
>>> a.html 202001020304.05
<html><body>x</body></html>
>>> uid.html
[cc:$cometchat_uid]
--- request eval
["GET /a.html", "GET /a.html?cc=pub", "GET /a.html?cc=ns",
 "GET /a.html?cc=priv", "GET /a.html", "GET /a.html?cc=pub"]
--- more_headers eval
my $tag = sprintf('W/"5e0d5da5-1c-cc%08x"',
                  main::snippet_id("[cc:\$cometchat_uid]\n", "u100t"));
[("Cookie: uid=u100t") x 4,
 "Cookie: uid=u100t\nIf-None-Match: $tag",
 "Cookie: uid=u100t\nIf-None-Match: $tag"]
--- error_code eval
[200, 200, 200, 200, 304, 304]
--- response_headers eval
my $tag = sprintf('W/"5e0d5da5-1c-cc%08x"',
                  main::snippet_id("[cc:\$cometchat_uid]\n", "u100t"));
["Cache-Control: private, no-cache\nETag: $tag",
 "Cache-Control: private, no-cache, max-age=60",
 "Cache-Control: no-store",
 "Cache-Control: private, no-cache",
 "Cache-Control: private, no-cache\nETag: $tag",
 "Cache-Control: private, no-cache, max-age=60\nETag: $tag"]
--- response_body eval
[("<html><body>x[cc:u100t]\n</body></html>\n") x 4, "", ""]
