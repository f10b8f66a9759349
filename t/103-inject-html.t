# vi:filetype=perl
#
# Where the snippet goes when "</body>" also appears where it is not a
# tag: in a script string, a comment, a <textarea>, a <title>, a <style>,
# a bogus comment ("<![CDATA[", "<?"), double-escaped script data.  The
# snippet goes before the last "</body>" that is a real end tag, else at
# the end of a document, and the page is cut into buffers at every
# position (static files read through output_buffers of 1 to 64 bytes,
# a chunked unbuffered upstream in pieces of 1 to 12 bytes).
#
# Each page marks with "@@" where the snippet must be; the page served is
# the same without "@@".

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use URI::Escape ();

no_root_location();
no_long_string();
timeout(30);

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

    return unless defined $block->config;

    $block->set_value('config', $Common . $block->config);
    $block->set_value('http_config',
        "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n"
        . ($block->http_config // ''));

    my $files = $block->user_files // [];
    $files = [@$files, ['snip.html',
                        "[cc:\$cometchat_uid:\$cometchat_auth_token]\n"]];
    $block->set_value('user_files', $files);

    if (!defined $block->response_body_filters) {
        $block->set_value('response_body_filters', [\&hide_tokens]);
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n");
    }
});

our %Pages = (
    # the issue: no "</body>" of its own, one in a string of its script
    script_write => "<!DOCTYPE html>\n<html><head><title>w</title></head>"
        . "<body>\n<script>\nvar w = window.open();\n"
        . "w.document.write(\"<html><body>hi</body></html>\");\n"
        . "</script>\n<p>end</p>\n@@",
    # the page closes its body after a script with "</body>" in a string
    script_then_body => "<html><body><script>var s = \"</body>\";</script>"
        . "<p>x</p>@@</body>\n</html>\n",
    # a comment at the end holding "</body>", with and without a real one
    comment_after => "<html><body><p>x</p>@@</body></html>\n"
        . "<!-- old layout: </body> -->\n",
    comment_only => "<!doctype html><p>x</p>\n<!-- </body> -->\n@@",
    textarea => "<html><body><form><textarea name=\"t\">a</body>b"
        . "</textareax></body></TEXTAREA></form>\n@@",
    title => "<!DOCTYPE html><html><head><title>x </body> y</TITLE >"
        . "</head><p>z</p>\n@@",
    style => "<html><body><p>x</p><style>p::after { content: \"</body>\" }"
        . "</style>\n@@",
    cdata => "<html><body><p>x</p><![CDATA[</body>]]>\n@@",
    pi => "<html><body><p>x</p><?php echo '</body>' ?>\n@@",
    # "<!--<script>" in a script: "</script>" does not end it until "-->"
    double_escaped => "<html><body><script><!--<script></script></body>"
        . "--></script><p>y</p>\n@@",
    escaped_only => "<html><body><script><!-- x = 1; </script><p>a</p>@@"
        . "</body>",
    # comments ended by "--!>", "<!-->", "<!--->", not by "--!x"
    comment_bang => "<html><body><!-- --!x </body> --!><p>z</p>@@</body>"
        . "</html>",
    comment_short => "<html><body><!--><p>x</p><!---><p>y</p>@@</body>",
    # a ">" in a quoted attribute value does not end a script's start tag
    script_attr => "<html><body><script data-x=\"a>b</body>\" src='/x.js'"
        . " async>var a = \"</body>\";</script >@@</body>",
    uppercase => "<HTML><BODY><SCRIPT TYPE=\"text/javascript\">"
        . "document.write(\"</BODY>\")</SCRIPT><P>X</P>@@</BODY></HTML>",
    # not a document, and its only "</body>" in a script: left alone
    fragment => "<div><script>x = \"</body>\";</script></div>\n",
);

our $Snip = "[cc:u103:TOKEN]\n";

sub served {
    my $p = $Pages{$_[0]};
    $p =~ s/\@\@//;
    return $p;
}

sub expected {
    my $p = $Pages{$_[0]};
    $p =~ s/\@\@/$Snip/;
    return $p;
}

sub page_files {
    return [map { ["$_.html", served($_)] } sort keys %Pages];
}

run_tests();

__DATA__

=== TEST 1: each page whole, with sendfile: the snippet where the page marks it
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
Cookie: uid=u103
--- response_body eval
[map { main::expected($_) } sort keys %main::Pages]



=== TEST 2: read through output_buffers of 1 to 64 bytes: cut at every position
--- config eval
my $c = '';
for my $n (1 .. 64) {
    $c .= "location /s$n/ { cometchat on; sendfile off; "
          . "output_buffers 1 $n; alias html/; }\n";
}
$c
--- user_files eval
main::page_files()
--- request eval
my @r;
for my $n (1 .. 64) {
    push @r, map { "GET /s$n/$_.html" } sort keys %main::Pages;
}
\@r
--- more_headers
Cookie: uid=u103
--- response_body eval
my @r;
for my $n (1 .. 64) {
    push @r, map { main::expected($_) } sort keys %main::Pages;
}
\@r



=== TEST 3: a chunked upstream, unbuffered, cut into pieces of 1 to 12 bytes
--- config eval
my $c = '';
for my $name (sort keys %main::Pages) {
    my $body = URI::Escape::uri_escape(main::served($name));
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
for my $n (1 .. 12) {
    push @r, map { "GET /up/$_?cs=$n" } sort keys %main::Pages;
}
\@r
--- more_headers
Cookie: uid=u103
--- response_body eval
my @r;
for my $n (1 .. 12) {
    push @r, map { main::expected($_) } sort keys %main::Pages;
}
\@r



=== TEST 4: a long script with "</body>" in strings, then the real one across buffer edges
--- config
    location /a/ {
        cometchat on;
        sendfile off;
        output_buffers 2 1000;
        alias html/;
    }
    location /b/ {
        cometchat on;
        sendfile on;
        alias html/;
    }
--- user_files eval
my $s = "<html><body>\n<script>\n"
        . ("w.document.write(\"<p>x</p></body>\"); // </body> --> <!--\n"
           x 2000)
        . "</script>\n<!-- </body> -->\n";
[["long.html", $s . "</body></html>\n"], ["nobody.html", $s]]
--- request eval
["GET /a/long.html", "GET /b/long.html", "GET /a/nobody.html",
 "GET /b/nobody.html"]
--- more_headers
Cookie: uid=u103
--- response_body eval
my $s = "<html><body>\n<script>\n"
        . ("w.document.write(\"<p>x</p></body>\"); // </body> --> <!--\n"
           x 2000)
        . "</script>\n<!-- </body> -->\n";
[$s . $main::Snip . "</body></html>\n", $s . $main::Snip . "</body></html>\n",
 $s . $main::Snip, $s . $main::Snip]
