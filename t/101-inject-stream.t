# vi:filetype=perl
#
# The streaming body filter: the snippet lands before the last "</body>"
# however the page is cut into buffers (every size from one byte on,
# static files read through tiny output_buffers, chunked and non-buffered
# upstreams, buffered upstreams spilling to a temporary file, sendfile),
# with a tail after "</body>" longer than what may be held (then it is
# appended), many "</body>", big pages, gzip and gunzip.
#
# Expected bodies come from expected() below: the same rule, applied to
# the whole page at once.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use IO::Uncompress::Gunzip ();
use URI::Escape ();

no_shuffle();
no_root_location();
no_long_string();
timeout(30);

our $TailMax = 32768;

our $Common = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_session  /_whoami;
    cometchat_snippet_file ../html/snip.html;

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

    if (!defined $block->response_body_filters) {
        $block->set_value('response_body_filters', [\&hide_tokens]);
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n");
    }

    # a block without one runs on the nginx of the block before
    return unless defined $block->config;

    $block->set_value('config', $Common . $block->config);
    $block->set_value('http_config',
        "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n"
        . ($block->http_config // ''));

    my $files = $block->user_files // [];
    $files = [@$files, ['snip.html',
                        "[cc:\$cometchat_uid:\$cometchat_auth_token]\n"]];
    $block->set_value('user_files', $files);
});

sub gunzip_hide {
    my $s = shift;
    my $out;
    IO::Uncompress::Gunzip::gunzip(\$s => \$out)
        or return "gunzip failed: $IO::Uncompress::Gunzip::GunzipError";
    return hide_tokens($out);
}

sub is_doc {
    my $p = shift;
    my $head = substr($p, 0, 1024);
    $head =~ s/^\xef\xbb\xbf//;
    for (;;) {
        $head =~ s/^[ \t\r\n\f]+//;
        if ($head =~ s/^<!--.*?-->//s) {
            next;
        }
        return $head =~ /^<(!doctype|html|head|body|\?xml)/i ? 1 : 0;
    }
}

# the rule, on the whole page at once
sub expected {
    my ($page, $uid) = @_;
    my $snip = "[cc:$uid:TOKEN]\n";
    my $pos = -1;

    while ($page =~ m{</body>}gi) {
        $pos = $-[0];
    }

    if ($pos >= 0 && length($page) - $pos - 7 <= $TailMax) {
        substr($page, $pos, 0) = $snip;
        return $page;
    }

    return is_doc($page) ? $page . $snip : $page;
}

# pages with what may trip a matcher at buffer edges
our %Pages = (
    tricky => "<!DOCTYPE html>\n<html><body>\n"
              . "<p>a < b </ c </b </bo </bod </body </bodyx> <</body>>\n"
              . "<script>var s = \"</body>\";</script>\n"
              . "<!-- </BODY> --></bo<dy>\n</Body></html>\n",
    partial => "<html><p>no end tag, but the page ends with </bo",
    nearly => "<html><p>x</p></body",
    tail => "<html><body><p>x</p></bOdY>"
            . ("<script>/* after the body */</script>\n" x 10),
);

our $Uid = 'u101';

# no "</body>", more than the 1 KB looked at for the document check
our $BigFrag = "<div class=\"list\">\n" . ("<p>item</p>\n" x 800) . "</div>\n";
our $BigDoc = "\n<!-- generated -->\n<!doctype html>\n<p>x</p>\n"
              . ("<p>line</p>\n" x 800) . "</bo";

sub page_files {
    return [map { ["$_.html", $Pages{$_}] } sort keys %Pages];
}

sub big_page {
    my ($size, $tail, $seed) = @_;
    my $p = "<!DOCTYPE html>\n<html><body>\n";
    my $i = $seed // 0;
    while (length($p) < $size - $tail - 7) {
        $p .= "<p class=\"c$i\">line $i <b>bold</b> </bo <</p>\n";
        $i++;
    }
    $p = substr($p, 0, $size - $tail - 7) . "</body>";
    $p .= substr("\n<p>after the body</p>" x (1 + $tail / 20), 0, $tail);
    return $p;
}

# what the worker remembers of a page: "2 at N" (before the "</body>" at
# N), "1 at -1" (appended), "0 at -1" (none)
sub verdict {
    my $page = shift;
    my $pos = -1;

    while ($page =~ m{</body>}gi) {
        $pos = $-[0];
    }

    if ($pos >= 0 && length($page) - $pos - 7 <= $TailMax) {
        return "2 at $pos";
    }

    return is_doc($page) ? "1 at -1" : "0 at -1";
}

# pages on each side of the size a known page is sent from memory up to
our @Known = (["small", big_page(5000, 20)],
              ["append", "<!DOCTYPE html><p>no end tag</p>\n"],
              ["edge", big_page(16384, 20)],
              ["big", big_page(16385, 20)]);

run_tests();

__DATA__

=== TEST 1: static pages read through output_buffers of 1 to 40 bytes
--- config eval
my $c = '';
for my $n (1 .. 40) {
    $c .= "location /s$n/ { cometchat on; sendfile off; "
          . "output_buffers 1 $n; alias html/; }\n";
}
$c
--- user_files eval
main::page_files()
--- request eval
my @r;
for my $n (1 .. 40) {
    push @r, map { "GET /s$n/$_.html" } sort keys %main::Pages;
}
\@r
--- more_headers
Cookie: uid=u101
--- response_body eval
my @r;
for my $n (1 .. 40) {
    push @r, map { main::expected($main::Pages{$_}, 'u101') }
             sort keys %main::Pages;
}
\@r



=== TEST 2: the same pages with sendfile: read at their end only
--- config
    location / {
        cometchat on;
        sendfile on;
        root html;
    }
--- user_files eval
main::page_files()
--- request eval
[map { "GET /$_.html" } sort keys %main::Pages]
--- more_headers
Cookie: uid=u101
--- response_body eval
[map { main::expected($main::Pages{$_}, 'u101') } sort keys %main::Pages]



=== TEST 3: big pages, sendfile on and off: windows, a "</body>" across a window edge, a tail too long to hold, none (document or not)
--- config
    location /on/ {
        cometchat on;
        sendfile on;
        alias html/;
    }
    location /off/ {
        cometchat on;
        sendfile off;
        alias html/;
    }
    location /small/ {
        cometchat on;
        sendfile off;
        output_buffers 3 1000;
        alias html/;
    }
--- user_files eval
[["near.html", main::big_page(100_000, 20)],
 ["far.html", main::big_page(100_000, 10_000)],
 ["edge.html", main::big_page(100_000, 4096 - 3)],
 ["edge2.html", main::big_page(100_000, 2 * 4096 - 14)],
 ["max.html", main::big_page(100_000, 32768)],
 ["over.html", main::big_page(100_000, 32769)],
 ["huge.html", main::big_page(1_000_000, 40_000)],
 ["mega.html", main::big_page(1_000_000, 5)],
 ["bigfrag.html", $main::BigFrag],
 ["bigdoc.html", $main::BigDoc]]
--- request eval
my @r;
for my $l (qw(on off small)) {
    push @r, map { "GET /$l/$_.html" }
             qw(near far edge edge2 max over huge mega bigfrag bigdoc);
}
\@r
--- more_headers
Cookie: uid=u101
--- response_body eval
my @r;
for my $l (qw(on off small)) {
    push @r, main::expected(main::big_page(100_000, 20), 'u101'),
             main::expected(main::big_page(100_000, 10_000), 'u101'),
             main::expected(main::big_page(100_000, 4096 - 3), 'u101'),
             main::expected(main::big_page(100_000, 2 * 4096 - 14), 'u101'),
             main::expected(main::big_page(100_000, 32768), 'u101'),
             main::expected(main::big_page(100_000, 32769), 'u101'),
             main::expected(main::big_page(1_000_000, 40_000), 'u101'),
             main::expected(main::big_page(1_000_000, 5), 'u101'),
             main::expected($main::BigFrag, 'u101'),
             main::expected($main::BigDoc, 'u101');
}
\@r



=== TEST 4: a chunked upstream, unbuffered, cut into pieces of 1 to 24 bytes
--- config eval
my $c = '';
for my $name (sort keys %main::Pages) {
    my $body = URI::Escape::uri_escape($main::Pages{$name});
    $c .= "location = /up/$name {\n"
          . "    cometchat on;\n"
          . "    proxy_buffering off;\n"
          . "    proxy_buffer_size 256;\n"
          . "    proxy_http_version 1.1;\n"
          . "    proxy_pass \"http://127.0.0.1:\$TEST_NGINX_FAKE_PORT/_fake/echo"
          . "?chunked=1&chunk_delay_ms=1&chunk_size=\$arg_cs&body=$body\";\n"
          . "}\n";
}
$c
--- request eval
my @r;
for my $n (1 .. 24) {
    push @r, map { "GET /up/$_?cs=$n" } sort keys %main::Pages;
}
\@r
--- more_headers
Cookie: uid=u101
--- response_body eval
my @r;
for my $n (1 .. 24) {
    push @r, map { main::expected($main::Pages{$_}, 'u101') }
             sort keys %main::Pages;
}
\@r



=== TEST 5: a buffered upstream spilling to its temporary file under a slow client
--- config
    proxy_temp_path $TEST_NGINX_SERVER_ROOT/proxy_temp;

    location /slow/ {
        cometchat on;
        sendfile on;
        limit_rate 300k;
        proxy_buffer_size 1k;
        proxy_buffers 4 1k;
        proxy_busy_buffers_size 2k;
        rewrite ^/[a-z]+/(.*)$ /origin/$1 break;
        proxy_pass http://127.0.0.1:$server_port;
    }
    location /origin/ {
        cometchat off;
        sendfile on;
        alias html/;
    }
--- user_files eval
[["a.html", main::big_page(600_000, 100)]]
--- request
GET /slow/a.html
--- more_headers
Cookie: uid=u101
--- response_body eval
main::expected(main::big_page(600_000, 100), 'u101')
--- error_log
an upstream response is buffered to a temporary file
--- no_error_log
[alert]
[crit]
--- timeout: 30



=== TEST 6: a cached upstream page: through the temp file, then from the cache file
--- http_config
    proxy_cache_path $TEST_NGINX_SERVER_ROOT/cache keys_zone=inject101:1m;
    proxy_temp_path $TEST_NGINX_SERVER_ROOT/proxy_temp;
--- config
    location /on/ {
        cometchat on;
        sendfile on;
        proxy_cache inject101;
        proxy_cache_valid 200 1h;
        proxy_cache_key $request_uri$pid;
        add_header X-Cache $upstream_cache_status;
        rewrite ^/[a-z]+/(.*)$ /origin/$1 break;
        proxy_pass http://127.0.0.1:$server_port;
    }
    location /off/ {
        cometchat on;
        sendfile off;
        output_buffers 2 3000;
        proxy_cache inject101;
        proxy_cache_valid 200 1h;
        proxy_cache_key $request_uri$pid;
        add_header X-Cache $upstream_cache_status;
        rewrite ^/[a-z]+/(.*)$ /origin/$1 break;
        proxy_pass http://127.0.0.1:$server_port;
    }
    location /origin/ {
        cometchat off;
        sendfile on;
        alias html/;
    }
--- user_files eval
[["a.html", main::big_page(600_000, 100)],
 ["b.html", main::big_page(300_000, 20_000)]]
--- request eval
["GET /on/a.html", "GET /on/a.html", "GET /on/b.html", "GET /on/b.html",
 "GET /off/a.html?x", "GET /off/a.html?x", "GET /off/b.html?x",
 "GET /off/b.html?x"]
--- more_headers
Cookie: uid=u101
--- response_body eval
[(main::expected(main::big_page(600_000, 100), 'u101'),
  main::expected(main::big_page(600_000, 100), 'u101'),
  main::expected(main::big_page(300_000, 20_000), 'u101'),
  main::expected(main::big_page(300_000, 20_000), 'u101')) x 2]
--- response_headers eval
[("X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS", "X-Cache: HIT") x 2]
--- no_error_log
[alert]
[crit]
--- timeout: 30



=== TEST 7: many "</body>": each new one releases the held bytes (chunks recycled under back-pressure)
--- config
    location /b1/ {
        cometchat on;
        sendfile off;
        output_buffers 1 1;
        alias html/;
    }
    location /b7/ {
        cometchat on;
        sendfile off;
        output_buffers 2 7;
        alias html/;
    }
    location / {
        cometchat on;
        sendfile off;
        root html;
    }
--- user_files eval
[["few.html", "<html><body>" . ("x</body>yy" x 300) . "</html>\n"],
 ["many.html", "<html><body>" . ("</body>" . ("z" x 5000)) x 40
               . "</body></html>\n"]]
--- request eval
["GET /b1/few.html", "GET /b7/few.html", "GET /few.html",
 "GET /b7/many.html", "GET /many.html"]
--- more_headers
Cookie: uid=u101
--- response_body eval
[(main::expected("<html><body>" . ("x</body>yy" x 300) . "</html>\n",
                 'u101')) x 3,
 (main::expected("<html><body>" . ("</body>" . ("z" x 5000)) x 40
                 . "</body></html>\n", 'u101')) x 2]



=== TEST 8: one-byte buffers and a "</body>" every ten bytes: every chunk gets in flight, the filter flushes and waits
--- config
    location / {
        cometchat on;
        sendfile off;
        output_buffers 1 1;
        root html;
    }
--- user_files eval
[["few.html", "<html><body>" . ("x</body>yy" x 300) . "</html>\n"]]
--- request
GET /few.html
--- more_headers
Cookie: uid=u101
--- response_body eval
main::expected("<html><body>" . ("x</body>yy" x 300) . "</html>\n", 'u101')
--- error_log
cometchat inject: out of chunks, flush



=== TEST 9: a gzipped upstream: left alone, unless gunzip decompresses it
--- config
    location /gz {
        cometchat on;
        proxy_pass "http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?gzip=1&body=%3Chtml%3E%3Cbody%3Ezipped%3C%2Fbody%3E%3C%2Fhtml%3E";
    }
    location /gunzip {
        cometchat on;
        gunzip on;
        proxy_pass "http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?gzip=1&body=%3Chtml%3E%3Cbody%3Ezipped%3C%2Fbody%3E%3C%2Fhtml%3E";
    }
--- request eval
["GET /gz", "GET /gunzip", "GET /gunzip"]
--- more_headers eval
["Cookie: uid=u101", "Cookie: uid=u101",
 "Cookie: uid=u101\nAccept-Encoding: gzip"]
--- response_body_filters eval
[[\&main::gunzip_hide], [\&main::hide_tokens], [\&main::gunzip_hide]]
--- response_body eval
["<html><body>zipped</body></html>",
 "<html><body>zipped[cc:u101:TOKEN]\n</body></html>",
 "<html><body>zipped</body></html>"]
--- response_headers eval
["Content-Encoding: gzip\nCache-Control:",
 "Content-Encoding:\nCache-Control: private, no-cache",
 "Content-Encoding: gzip\nCache-Control:"]



=== TEST 10: gzip on: the injected page is still compressed for the client
--- config
    location / {
        cometchat on;
        gzip on;
        gzip_min_length 0;
        root html;
    }
--- user_files eval
[["a.html", main::big_page(50_000, 30)]]
--- request
GET /a.html
--- more_headers
Cookie: uid=u101
Accept-Encoding: gzip
--- response_body_filters eval
[\&main::gunzip_hide]
--- response_body eval
main::expected(main::big_page(50_000, 30), 'u101')
--- response_headers
Content-Encoding: gzip
Cache-Control: private, no-cache



=== TEST 11: SSI and add_after_body subrequests keep the filter's chunks: many "</body>" after a slow include, memory stays bounded
--- config
    location / {
        cometchat on;
        ssi on;
        add_after_body /after.txt;
        root html;
    }
    location = /slow {
        cometchat off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?delay_ms=300&body=SLOW;
    }
--- user_files eval
[["many.html", "<html><body><!--# include virtual=\"/slow\" -->\n" . (("<p>" . ("x" x 2000) . "</p></body>\n") x 60) . "</html>\n"],
 ["after.txt", "AFTER\n"]]
--- request
GET /many.html
--- more_headers
Cookie: uid=u101
--- response_body eval
my $p = main::expected("<html><body><!--# include virtual=\"/slow\" -->\n" . (("<p>" . ("x" x 2000) . "</p></body>\n") x 60) . "</html>\n", 'u101');
$p =~ s{<!--# include virtual="/slow" -->}{SLOW};
$p . "AFTER\n";
--- grep_error_log eval
qr/cometchat inject: memory: \d+ chunks, \d+ buffers/
--- grep_error_log_out eval
qr/\Acometchat inject: memory: (?:[0-9]|[1-3][0-9]) chunks, (?:[0-9]|[1-9][0-9]) buffers\n\z/



=== TEST 12: a slow client (limit_rate) and postpone_output keep the output: many "</body>", memory stays bounded
--- config
    location / {
        cometchat on;
        sendfile off;
        output_buffers 2 4k;
        postpone_output 64k;
        limit_rate 256k;
        root html;
    }
--- user_files eval
[["slow.html", "<html><body>\n" . (("<p>" . ("y" x 3000) . "</p></body>\n") x 200) . "</html>\n"]]
--- request
GET /slow.html
--- more_headers
Cookie: uid=u101
--- response_body eval
main::expected("<html><body>\n" . (("<p>" . ("y" x 3000) . "</p></body>\n") x 200) . "</html>\n", 'u101')
--- grep_error_log eval
qr/cometchat inject: memory: \d+ chunks, \d+ buffers/
--- grep_error_log_out eval
qr/\Acometchat inject: memory: (?:[0-9]|[1-3][0-9]) chunks, (?:[0-9]|[1-9][0-9]) buffers\n\z/
=== TEST 13: static pages served again come from what the worker remembers of them (see TEST 14), byte for byte
--- config
    # the session subrequest's location must not turn sendfile off for
    # the connection: pages would be read into memory before this filter
    sendfile on;

    location /on/ {
        cometchat on;
        sendfile on;
        alias html/;
    }
--- user_files eval
[["near.html", main::big_page(100_000, 20)],
 ["far.html", main::big_page(100_000, 10_000)],
 ["max.html", main::big_page(100_000, 32768)],
 ["over.html", main::big_page(100_000, 32769)],
 ["mega.html", main::big_page(1_000_000, 5)],
 ["bigfrag.html", $main::BigFrag],
 ["bigdoc.html", $main::BigDoc],
 map { ["$_.html", $main::Pages{$_}] } sort keys %main::Pages]
--- request eval
my @p = (qw(near far max over mega bigfrag bigdoc), sort keys %main::Pages);
[map { ("GET /on/$_.html") x 3 } @p]
--- more_headers
Cookie: uid=u101
--- response_body eval
my @r;
for my $p ([100_000, 20], [100_000, 10_000], [100_000, 32768],
           [100_000, 32769], [1_000_000, 5])
{
    push @r, (main::expected(main::big_page(@$p), 'u101')) x 3;
}
push @r, (main::expected($main::BigFrag, 'u101')) x 3,
         (main::expected($main::BigDoc, 'u101')) x 3;
push @r, (main::expected($main::Pages{$_}, 'u101')) x 3
    for sort keys %main::Pages;
\@r



=== TEST 14: a page changed on disk, to a new size or only a new modification time, is matched again; the documented limit: not when both stay the same
--- config
    # the session subrequest's location must not turn sendfile off for
    # the connection: pages would be read into memory before this filter
    sendfile on;

    location /p/ {
        cometchat on;
        sendfile on;
        alias html/;
    }

    # GET /put/vN writes vN over page.html with proxy_store, and its
    # Last-Modified becomes the file's modification time
    location /put/ {
        cometchat off;
        rewrite ^/put/(.*)$ /v/$1 break;
        proxy_pass http://127.0.0.1:$server_port;
        proxy_store $document_root/page.html;
    }
    location /v/ {
        cometchat off;
        default_type text/html;
        location = /v/v2 {
            add_header Last-Modified "Mon, 01 Jan 2024 00:00:01 GMT";
            return 200 "<html><body><p>one</p></body><p>after</p></html>";
        }
        location = /v/v3 {
            add_header Last-Modified "Mon, 01 Jan 2024 00:00:02 GMT";
            return 200 "<html><body><p>two</p><p>after</p></body></html>";
        }
        location = /v/v4 {
            add_header Last-Modified "Mon, 01 Jan 2024 00:00:02 GMT";
            return 200 "<html><body><p>two</p></body><p>after</p></HTML>";
        }
    }
--- user_files eval
[["page.html", main::big_page(5000, 20)]]
--- request eval
["GET /p/page.html", "GET /p/page.html",
 "GET /put/v2", "GET /p/page.html", "GET /p/page.html",
 "GET /put/v3", "GET /p/page.html", "GET /p/page.html",
 "GET /put/v4", "GET /p/page.html"]
--- more_headers
Cookie: uid=u101
--- response_body eval
my $v2 = "<html><body><p>one</p></body><p>after</p></html>";
my $v3 = "<html><body><p>two</p><p>after</p></body></html>";
my $v4 = "<html><body><p>two</p></body><p>after</p></HTML>";
# the same size and time: the page is taken for the one before, and the
# snippet goes where it went there (a small page's bytes are read anew)
my $v4_as_v3 = $v4;
substr($v4_as_v3, index($v3, "</body>"), 0) = "[cc:u101:TOKEN]\n";
[(main::expected(main::big_page(5000, 20), 'u101')) x 2,
 $v2, (main::expected($v2, 'u101')) x 2,
 $v3, (main::expected($v3, 'u101')) x 2,
 $v4, $v4_as_v3]


=== TEST 15: a session location without sendfile leaves it on for the page: the static page still goes out with sendfile
The subrequest's location sets the connection's sendfile flag; the module
puts the page's back when the session check is done.
--- config
    location /on/ {
        cometchat on;
        sendfile on;
        alias html/;
    }
--- user_files eval
[["near.html", main::big_page(100_000, 20)]]
--- request
GET /on/near.html
--- more_headers
Cookie: uid=u101
--- response_body eval
main::expected(main::big_page(100_000, 20), 'u101')
--- error_log
sendfile: @0



=== TEST 16: small and bigger pages served a first time are matched
--- config
    sendfile on;

    location /on/ {
        cometchat on;
        sendfile on;
        alias html/;
    }
--- user_files eval
[map { ["$_->[0].html", $_->[1]] } @main::Known]
--- request eval
[map { "GET /on/$_->[0].html" } @main::Known]
--- more_headers
Cookie: uid=u101
--- response_body eval
[map { main::expected($_->[1], 'u101') } @main::Known]
--- no_error_log
known page
[error]
[alert]
[crit]



=== TEST 17: served again (the same nginx), a small known page goes out from memory (one pread(), then one write with the snippet), a bigger one as parts of its file
--- request eval
[map { "GET /on/$_->[0].html" } @main::Known]
--- more_headers
Cookie: uid=u101
--- response_body eval
[map { main::expected($_->[1], 'u101') } @main::Known]
--- grep_error_log eval
qr/known page "[^"]*", verdict \d at -?\d+(?:, from memory)?/
--- grep_error_log_out eval
# each request's own line
qr{\Aknown page "[^"]*/(?:small\.html", verdict 2 at 4973, from memory
|append\.html", verdict 1 at -1, from memory
|edge\.html", verdict 2 at 16357, from memory
|big\.html", verdict 2 at 16358
)\z}
