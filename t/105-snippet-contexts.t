# vi:filetype=perl
#
# Custom templates (cometchat_snippet_file) where the template compiler
# and a browser's tokenizer could disagree on where a value stands, found
# by tools/fuzz/fuzz_template.c: each is refused when the configuration
# is loaded, or read as the browser reads it.

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
});

run_tests();

__DATA__

=== TEST 1: configuration error: a value right after "<" in text could be a tag ("<$a>" with "img src=x onerror=...")
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<p>1 <$arg_a></p>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may not stand right after a "<", "</", "<!" or "<?": it could start a tag or a comment



=== TEST 2: configuration error: a value before a ">" in a comment could end it ("--")
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<!-- x $arg_a> <script>var a = $arg_a;</script> -->
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may not stand next to a "-", "!" or ">" in a comment: it could end the comment



=== TEST 3: configuration error: a value after "</tit" in a <title> could end it
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<title>x</tit$arg_a></title>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may not stand right after a "<" in raw text: it could end the element



=== TEST 4: configuration error: a quote after a value that starts an unquoted attribute value (an empty value would open a quoted one)
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a title=$arg_a"><b title="$arg_b">x</b></a>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: a quote right after a variable that starts an unquoted attribute value



=== TEST 5: configuration error: a value that could finish "<!DOCTYPE" or "<![CDATA[" (a CDATA section in SVG ends only at "]]>"); after the whole keyword, or in other "<!" text, it is text
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<!doctype $arg_a><!x$arg_a><!DOCTYPE$arg_a>
<svg><![CDAT$arg_a]]></svg>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_a" may not stand in "<!DOCTYPE" or "<![CDATA[": it could finish the keyword (a CDATA section in SVG ends only at "]]>")



=== TEST 6: configuration error: "<!DOC" and a value
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<p>x</p><!DoC$arg_a>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may not stand in "<!DOCTYPE" or "<![CDATA[": it could finish the keyword (a CDATA section in SVG ends only at "]]>")



=== TEST 7: configuration error: a value right after a "*" in a JavaScript block comment ("/" first in it would end the comment); elsewhere in the comment it stays in it
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<script>/* $arg_a * $arg_a ** /$arg_a */ var a = "*$arg_a";
/* x $arg_b*$arg_a */</script>
--- must_die
--- error_log
"cometchat_snippet_file": line 2: the variable "$arg_a" may not stand right after a "*" in a JavaScript /* comment */: a "/" first in its value would end the comment



=== TEST 8: configuration error: a tag name runs up to a blank, "/" or ">", as in browsers: a value there is in the tag name
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<a,title="$arg_a">x</a>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may stand only in text, in an attribute value, in a script or in a style element



=== TEST 9: configuration error: "</script" and a blank: what follows is in the end tag, "=" first in an attribute name is a part of it
--- config
    location / {
        cometchat on;
        cometchat_snippet_file ../html/t.html;
        root html;
    }
--- user_files
>>> a.html
>>> t.html
<script>var a;</script = '$arg_a'>
--- must_die
--- error_log
"cometchat_snippet_file": line 1: the variable "$arg_a" may stand only in text, in an attribute value, in a script or in a style element



=== TEST 10: read as browsers read it: <title> is raw text (its "<!--" is text, the script after it runs); an end tag has attributes, a quoted ">" does not end it; "\</script>" in a JS string ends the script; "$${" in a template literal is JavaScript's "${" (code up to its "}"); an empty value before a blank is ""; "$$" then a quote starts an unquoted value
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
<title><!--</title><script>var t = $arg_a;</script>-->
<script>var s = `$${ $arg_a } and $${ {k: "}"}.k } $arg_a`;</script>
<a title=$arg_b class=x>1</a> <a title=$arg_a class=x>2</a> <a title=$arg_b>3</a>
<p title=$$"$arg_a">4</p>
</p x='>'><a title="$arg_a">5</a>
<script>var s = "\</script><p title=$arg_a>6</p>";</script>
<script>var b;</script title="$arg_a">7
--- request
GET /a.html?a=alert(1)&b=
--- more_headers
Cookie: uid=u105a
--- response_body
<html><body><p>x</p><title><!--</title><script>var t = "alert\u00281\u0029";</script>-->
<script>var s = `${ "alert\u00281\u0029" } and ${ {k: "}"}.k } alert\u00281\u0029`;</script>
<a title="" class=x>1</a> <a title=alert(1) class=x>2</a> <a title=>3</a>
<p title=$"alert(1)">4</p>
</p x='>'><a title="alert(1)">5</a>
<script>var s = "\</script><p title=alert(1)>6</p>";</script>
<script>var b;</script title="alert(1)">7
</body></html>
