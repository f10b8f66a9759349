# vi:filetype=perl
#
# CometChat over HTTPS, as in production: the fake serves the REST API
# with throwaway certificates (t/lib/CometChatTLS.pm), the module checks
# them against cometchat_api_ssl_trusted_certificate (the test CA).
#
# A trusted chain mints.  An unknown CA, a wrong host name, an expired
# certificate or a handshake that never ends fail open: the page is served
# as the app sent it, $cometchat_token_status is "error", the token
# endpoint answers 503, one error line names the host and curl's reason,
# and no HTTP request reaches the fake (the REST key was never sent).
# Connections are kept alive and reused (200 mints, one handshake); a
# connection made again resumes its TLS session.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;
use CometChatTLS;

no_shuffle();
check_accum_error_log();
worker_connections(1024);
timeout(120);

add_block_preprocessor(sub {
    my $block = shift;

    return unless defined $block->config;

    $block->set_value('config', common_config() . <<'_EOC_' . $block->config);
    cometchat_api_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.pem;

    location = /page.html {
        cometchat on;
        cometchat_session /_whoami;
        add_header X-CC-Status $cometchat_token_status always;
    }

    location = /token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }

_EOC_

    if (!defined $block->user_files) {
        $block->set_value('user_files', <<'_EOF_');
>>> page.html
<html><head><title>app</title></head><body><p>the app's page</p></body></html>
_EOF_
    }
});

our $Page = qr{\A<html><head><title>app</title></head><body><p>the app's page</p></body></html>\n\z};

our $Logged = qr/\[(?:error|warn)\] \d+#\d+: (?:\*\d+ )?\Kcometchat: .*?(?=, client: |$)/;

our $Port = $ENV{TEST_NGINX_FAKE_TLS_PORT};

# /_fake/stats after a TLS failure: connections made, no HTTP request;
# $tls: the handshake counters
sub refused {
    my ($tls) = @_;
    return CometChatEnv::fake_calls({},
        qr/,.*"last_apikey_ok":null,.*"connections":\{"http":\d+,"tls":[1-9]\d*\},"tls":\{$tls,/);
}

run_tests();

# warnings at nginx -t, which a running test server logs before any
# request's log is watched

my ($rc, $out) = nginx_t(<<'_EOC_');
    location / {
        cometchat_api_ssl_verify off;
        return 204;
    }
    location /b {
        cometchat_api_ssl_verify on;
        return 204;
    }
_EOC_
is($rc, 0, '080 - cometchat_api_ssl_verify off passes nginx -t') or diag($out);
like($out, qr/\[warn\] .*"cometchat_api_ssl_verify off": CometChat's certificate is not checked; anyone on the network path can pose as CometChat and read the REST API key in .*nginx\.conf:\d+/,
     '080 - and warns');
# the "off" is on line 8 of nginx_t's file, 9 after a load_module line; an
# nginx may print the warning on stderr and log it too
my $off_line = 8 + (($ENV{TEST_NGINX_LOAD_MODULES} // '') =~ /\S/ ? 1 : 0);
my %warned = map { $_ => 1 }
             $out =~ /"cometchat_api_ssl_verify off": .*? in \S*nginx\.conf:(\d+)/g;
is_deeply([sort keys %warned], [$off_line],
          '080 - for the one "off", naming its line');

($rc, $out) = nginx_t(<<'_EOC_');
    cometchat_api_ssl_verify maybe;
_EOC_
isnt($rc, 0, '080 - cometchat_api_ssl_verify maybe fails nginx -t');
like($out, qr/\[emerg\] \d+#\d+: invalid value "maybe" in "cometchat_api_ssl_verify", it must be "on" or "off"/,
     '080 - naming the directive and the value');

__DATA__

=== TEST 1: a trusted chain: minted over HTTPS, the key sent, one connection
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
["GET /page.html", "GET /token", "GET /_fake/stats"]
--- more_headers
Cookie: uid=ok-080; name=Ok
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: minted", "", ""]
--- response_body_like eval
[
    qr{<div id="cometChatMount"></div>.*authToken: "ok-080_\d{10}[0-9a-f]{32}".*</body>}s,
    qr{\A\{"uid":"ok-080","authToken":"ok-080_\d{10}[0-9a-f]{32}"},
    CometChatEnv::fake_calls({create_user => 1, create_token => 1},
        qr/,.*"last_apikey_ok":true,.*"connections":\{"http":\d+,"tls":1\},"tls":\{"handshakes":1,"resumed":0,"failed":0,"stalled":0,/),
]
--- no_error_log
[error]
[warn]
[alert]



=== TEST 2: a certificate from an unknown CA: no widget, error, 503, one line, no request
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::tls_cert('unknown');
--- request eval
["GET /page.html", "GET /token", "GET /_fake/stats"]
--- more_headers
Cookie: uid=uca-080
--- error_code eval
[200, 503, 200]
--- response_headers eval
["X-CC-Status: error", "", ""]
--- response_body_like eval
[$::Page, qr/\A\{"error":"cometchat unavailable"\}\z/, main::refused('"handshakes":0,"resumed":0,"failed":2,"stalled":0')]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "uca-080" failed: TLS with localhost:$::Port: SSL certificate problem: unable to get local issuer certificate\n\z/
--- no_error_log
[alert]
[crit]
test-rest-key



=== TEST 3: a certificate for another host name
(the TLS 1.3 handshake completes on the fake's side before curl checks the
name, and a second connection may resume that session: curl checks the
name again, and nothing is sent)
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::tls_cert('wrong-name');
--- request eval
["GET /page.html", "GET /token", "GET /_fake/stats"]
--- more_headers
Cookie: uid=name-080
--- error_code eval
[200, 503, 200]
--- response_headers eval
["X-CC-Status: error", "", ""]
--- response_body_like eval
[$::Page, qr/\A\{"error":"cometchat unavailable"\}\z/, main::refused('"handshakes":\d+,"resumed":\d+,"failed":\d+,"stalled":0')]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "name-080" failed: TLS with localhost:$::Port: SSL: no alternative certificate subject name matches target host name 'localhost'\n\z/
--- no_error_log
[alert]
[crit]
test-rest-key



=== TEST 4: an expired certificate
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::tls_cert('expired');
--- request eval
["GET /page.html", "GET /token", "GET /_fake/stats"]
--- more_headers
Cookie: uid=exp-080
--- error_code eval
[200, 503, 200]
--- response_headers eval
["X-CC-Status: error", "", ""]
--- response_body_like eval
[$::Page, qr/\A\{"error":"cometchat unavailable"\}\z/, main::refused('"handshakes":0,"resumed":0,"failed":2,"stalled":0')]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "exp-080" failed: TLS with localhost:$::Port: SSL certificate problem: certificate has expired\n\z/
--- no_error_log
[alert]
[crit]
test-rest-key



=== TEST 5: a handshake that never ends times out, and says so
--- config
    cometchat_api_timeout 500ms;
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?tls_stall=1');
--- request eval
["GET /page.html", "GET /_fake/stats"]
--- more_headers
Cookie: uid=stall-080
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: error", ""]
--- response_body_like eval
[$::Page, main::refused('"handshakes":0,"resumed":0,"failed":0,"stalled":1')]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "stall-080" failed: TLS handshake with localhost:$::Port timed out\n\z/
--- no_error_log
[alert]
[crit]



=== TEST 6: 200 mints for different users, one after another: one TLS handshake
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
[
    "GET /_fake/fanout?port=$ENV{TEST_NGINX_SERVER_PORT}&path=%2Ftt&n=200&conns=1&cookie=uid%3Dreuse{i}-080&capture_header=X-CC-Status&timeout=60",
    "GET /_fake/stats",
]
--- error_code eval
[200, 200]
--- response_body_like eval
[
    qr/\A\{"n":200,"statuses":\{"200":200\},"distinct_bodies":200,.*"errors":0,"header_values":\{"minted":200\}\}\z/,
    CometChatEnv::fake_calls({create_user => 200, create_token => 200},
        qr/,.*"connections":\{"http":\d+,"tls":1\},"tls":\{"handshakes":1,"resumed":0,"failed":0,"stalled":0,/),
]
--- no_error_log
[error]
[alert]



=== TEST 7: a connection CometChat closed is made again with the TLS session resumed
--- config
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/set?close_on=create_user&close_times=1');
--- request eval
["GET /tt", "GET /tt", "GET /_fake/stats"]
--- more_headers eval
["Cookie: uid=res1-080", "Cookie: uid=res2-080", ""]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: minted", "X-CC-Status: minted", ""]
--- response_body_like eval
[
    qr/\Atoken=res1-080_/,
    qr/\Atoken=res2-080_/,
    CometChatEnv::fake_calls({create_user => 2, create_token => 2},
        qr/,.*"connections":\{"http":\d+,"tls":2\},"tls":\{"handshakes":2,"resumed":1,"failed":0,"stalled":0,/),
]
--- no_error_log
[error]
[alert]



=== TEST 8: cometchat_api_ssl_trusted_certificate: a missing file fails nginx -t, naming the directive
--- config
    location = /x {
        cometchat_api_ssl_trusted_certificate /nonexistent/ca.pem;
        return 204;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"cometchat_api_ssl_trusted_certificate": cannot open "\/nonexistent\/ca\.pem" \(2: No such file or directory\)/



=== TEST 9: a file without a certificate fails nginx -t
--- config
    location = /x {
        cometchat_api_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/server.key;
        return 204;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"cometchat_api_ssl_trusted_certificate": ".*\/server\.key" holds no PEM certificate/



=== TEST 10: without the test CA (the system's store), the test CA's certificate is refused
--- config
    location = /sys {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
        proxy_pass http://127.0.0.1:$server_port/_echo_token;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
["GET /sys", "GET /_fake/stats"]
--- more_headers
Cookie: uid=sys-080
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: error", ""]
--- response_body_like eval
[qr/\Atoken=\n\z/, main::refused('"handshakes":0,"resumed":0,"failed":1,"stalled":0')]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "sys-080" failed: TLS with localhost:$::Port: SSL certificate problem: unable to get local issuer certificate\n\z/



=== TEST 11: cometchat_api_ssl_verify off: the expired certificate is accepted (the warning: below)
--- config
    location = /nv {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_ssl_verify off;
        proxy_pass http://127.0.0.1:$server_port/_echo_token;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::tls_cert('expired');
--- request eval
["GET /nv", "GET /_fake/stats"]
--- more_headers
Cookie: uid=nv-080
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: minted", ""]
--- response_body_like eval
[qr/\Atoken=nv-080_/, CometChatEnv::fake_calls({create_user => 1, create_token => 1}, qr/,/)]
--- no_error_log
[error]
