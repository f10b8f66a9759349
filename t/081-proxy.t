# vi:filetype=perl
#
# cometchat_api_proxy: CometChat calls through an egress proxy
# (tools/fake/proxy.py, Basic auth on).  HTTPS goes through a CONNECT
# tunnel, kept alive and reused; plain HTTP is forwarded as requests.
# The proxy's credentials never show: not in the error log (a wrong
# password, a proxy that is down), not in nginx -t messages.  The proxy's
# "connections" count includes the /proxy request reading its stats.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;
use CometChatTLS;

no_shuffle();
check_accum_error_log();
worker_connections(1024);
timeout(60);

$ENV{TEST_NGINX_PROXY_PORT} = start_proxy(user => 'puser',
                                          password => 's3cret-pass');
$ENV{TEST_NGINX_DOWN_PORT} = CometChatEnv::free_port();

add_block_preprocessor(sub {
    my $block = shift;

    return unless defined $block->config;

    $block->set_value('config', common_config() . <<'_EOC_' . $block->config);
    cometchat_api_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.pem;

    location = /proxy {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROXY_PORT/_proxy/stats;
    }

_EOC_
});

our $Logged = qr/\[(?:error|warn)\] \d+#\d+: (?:\*\d+ )?\Kcometchat: .*?(?=, client: |$)/;

our $PPort = $ENV{TEST_NGINX_PROXY_PORT};
our $Tls = $ENV{TEST_NGINX_FAKE_TLS_PORT};
our $Plain = $ENV{TEST_NGINX_FAKE_PORT};

run_tests();

my ($rc, $out) = nginx_t(<<'_EOC_');
    cometchat_api_proxy http://puser:s3cret-pass@proxy.example;
_EOC_
isnt($rc, 0, '081 - a proxy without a port fails nginx -t');
like($out, qr/\[emerg\] \d+#\d+: "cometchat_api_proxy" must be "http:\/\/\[user:password\@\]host:port": "http:\/\/\*\*\*\@proxy\.example"/,
     '081 - saying what it must be, the value masked');
unlike($out, qr/s3cret|puser/, '081 - the credentials are not shown');

($rc, $out) = nginx_t(<<'_EOC_');
    cometchat_api_proxy socks5://puser:s3cret-pass@proxy.example:1080;
_EOC_
isnt($rc, 0, '081 - a socks5 proxy fails nginx -t');
like($out, qr/"cometchat_api_proxy" must begin with "http:\/\/": "socks5:\/\/\*\*\*\@proxy\.example:1080"/,
     '081 - naming the scheme it needs, the value masked');
unlike($out, qr/s3cret|puser/, '081 - the credentials are not shown');

($rc, $out) = nginx_t(<<'_EOC_');
    cometchat_api_proxy http://puser:s3cret-pass@proxy.example:3128;
    location / {
        cometchat_api_proxy off;
        return 204;
    }
_EOC_
is($rc, 0, '081 - a proxy with credentials and a port, and "off", pass nginx -t')
    or diag($out);
unlike($out, qr/s3cret|puser/, '081 - nothing shows the credentials');

__DATA__

=== TEST 1: HTTPS through the proxy: a CONNECT tunnel, both calls in it, minted
--- config
    cometchat_api_proxy http://puser:s3cret-pass@127.0.0.1:$TEST_NGINX_PROXY_PORT;
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::proxy_get($ENV{TEST_NGINX_PROXY_PORT}, '/_proxy/reset');
--- request eval
["GET /tt", "GET /proxy", "GET /_fake/stats"]
--- more_headers
Cookie: uid=tun-081; name=Tun
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: minted", "", ""]
--- response_body_like eval
[
    qr/\Atoken=tun-081_\d{10}[0-9a-f]{32}\n\z/,
    qr/\A\{"tunnels":1,"requests":0,"auth_failed":0,"connections":2,"targets":\{"localhost:$::Tls":1\}\}\z/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1},
        qr/,.*"last_apikey_ok":true,.*"connections":\{"http":\d+,"tls":1\},"tls":\{"handshakes":1,/),
]
--- no_error_log
[error]
[warn]
s3cret



=== TEST 2: plain HTTP through the proxy: forwarded requests, no tunnel
--- config
    location = /plain {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_url $TEST_NGINX_FAKE_HTTP_URL;
        cometchat_api_proxy http://puser:s3cret-pass@127.0.0.1:$TEST_NGINX_PROXY_PORT;
        proxy_pass http://127.0.0.1:$server_port/_echo_token;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::proxy_get($ENV{TEST_NGINX_PROXY_PORT}, '/_proxy/reset');
--- request eval
["GET /plain", "GET /proxy", "GET /_fake/stats"]
--- more_headers
Cookie: uid=plain-081
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-CC-Status: minted", "", ""]
--- response_body_like eval
[
    qr/\Atoken=plain-081_\d{10}[0-9a-f]{32}\n\z/,
    qr/\A\{"tunnels":0,"requests":2,"auth_failed":0,"connections":3,"targets":\{"127\.0\.0\.1:$::Plain":2\}\}\z/,
    CometChatEnv::fake_calls({create_user => 1, create_token => 1},
        qr/,.*"last_apikey_ok":true,.*"connections":\{"http":\d+,"tls":0\}/),
]
--- no_error_log
[error]
s3cret



=== TEST 3: the proxy refuses the credentials: fail open, the proxy named masked, no call
--- config
    cometchat_api_proxy http://puser:wrong-s3cret@127.0.0.1:$TEST_NGINX_PROXY_PORT;

    location = /token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatTLS::proxy_get($ENV{TEST_NGINX_PROXY_PORT}, '/_proxy/reset');
--- request eval
["GET /tt", "GET /token", "GET /proxy", "GET /_fake/stats"]
--- more_headers
Cookie: uid=auth-081
--- error_code eval
[200, 503, 200, 200]
--- response_headers eval
["X-CC-Status: error", "", "", ""]
--- response_body_like eval
[
    qr/\Atoken=\n\z/,
    qr/\A\{"error":"cometchat unavailable"\}\z/,
    qr/\A\{"tunnels":0,"requests":0,"auth_failed":2,/,
    CometChatEnv::fake_calls({}, qr/,.*"connections":\{"http":\d+,"tls":0\}/),
]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "auth-081" failed: CONNECT tunnel failed, response 407 \(through proxy http:\/\/\*\*\*\@127\.0\.0\.1:$::PPort\)\n\z/
--- no_error_log
s3cret
puser
[alert]



=== TEST 4: the proxy is down: fail open, the proxy named masked
--- config
    cometchat_api_proxy http://puser:s3cret-pass@127.0.0.1:$TEST_NGINX_DOWN_PORT;
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
["GET /tt", "GET /_fake/stats"]
--- more_headers
Cookie: uid=down-081
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: error", ""]
--- response_body_like eval
[qr/\Atoken=\n\z/, CometChatEnv::fake_calls({})]
--- grep_error_log eval
$::Logged
--- grep_error_log_out eval
qr/\Acometchat: CometChat "create auth token" call for uid "down-081" failed: Failed to connect to 127\.0\.0\.1 port $ENV{TEST_NGINX_DOWN_PORT} after \d+ ms: Couldn't connect to server \(through proxy http:\/\/\*\*\*\@127\.0\.0\.1:$ENV{TEST_NGINX_DOWN_PORT}\)\n\z/
--- no_error_log
s3cret
puser
[alert]



=== TEST 5: "cometchat_api_proxy off" in a location: that location goes direct
--- config
    cometchat_api_proxy http://puser:s3cret-pass@127.0.0.1:$TEST_NGINX_DOWN_PORT;

    location = /direct {
        cometchat on;
        cometchat_session /_whoami;
        cometchat_api_proxy off;
        proxy_pass http://127.0.0.1:$server_port/_echo_token;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }
--- init
CometChatEnv::fake_get('/_fake/reset');
--- request eval
["GET /direct", "GET /_fake/stats"]
--- more_headers
Cookie: uid=direct-081
--- error_code eval
[200, 200]
--- response_headers eval
["X-CC-Status: minted", ""]
--- response_body_like eval
[qr/\Atoken=direct-081_/, CometChatEnv::fake_calls({create_user => 1, create_token => 1}, qr/,/)]
--- no_error_log
[error]
