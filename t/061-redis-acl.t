# vi:filetype=perl
#
# Redis ACL users (cometchat_redis ... username= password=): a user with
# exactly the ACL docs/operations.md gives runs the whole pipeline (lock,
# mint, write, read) without one denied command; a user without those
# rights costs no page: the error log says what was refused, the token is
# minted and kept per host.  Neither password reaches a log line or an
# "nginx -t" message.  This file starts its own redis-server.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatRedis;

use JSON::PP ();

our $Port = CometChatRedis::start();
our $Pass = 'acl-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 12);
our $Bad = 'nope-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 12);

$ENV{TEST_NGINX_ACL_PORT} = $Port;
$ENV{TEST_NGINX_ACL_PASS} = $Pass;
$ENV{TEST_NGINX_ACL_BAD} = $Bad;

# the ACL of docs/operations.md, "Redis in production", word for word
my @acl = ('ACL', 'SETUSER', 'cometchat', 'reset', 'on', ">$Pass",
           '~cometchat:*', 'resetchannels', '-@all',
           '+get', '+mget', '+set', '+eval', '+pexpire', '+del', '+ping',
           '+select');
my $r = CometChatRedis::cmd($Port, @acl);
die "ACL SETUSER: " . ($r // $CometChatEnv::RedisError) . "\n"
    unless defined $r && $r eq 'OK';

# a user that may log in and PING, and nothing else
$r = CometChatRedis::cmd($Port, 'ACL', 'SETUSER', 'weak', 'reset', 'on',
                         ">$Bad", '-@all', '+ping');
die "ACL SETUSER weak: $r\n" unless defined $r && $r eq 'OK';

sub rcmd { CometChatRedis::cmd($Port, @_) }
sub key { "cometchat:testapp:token:$_[0]" }
sub fake_reset { CometChatEnv::fake_get('/_fake/reset') }
sub fake_token {
    my ($uid) = @_;
    my $stats = JSON::PP::decode_json(CometChatEnv::fake_get('/_fake/stats'));
    my $list = $stats->{tokens}{$uid} || [];
    return ref $list->[-1] ? $list->[-1]{authToken} : $list->[-1];
}

my $prelude = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;

    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        add_header X-CC-Status $cometchat_token_status always;
    }

    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/echo?header=X-User-Id:$http_x_user;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("config", $prelude . $block->config)
        if defined $block->config;
    $block->set_value("user_files", ">>> page.txt\npage\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the documented ACL: a new user is locked, minted and written
--- init
main::fake_reset();
main::rcmd('ACL', 'LOG', 'RESET');
main::rcmd('DEL', main::key('acl1'));
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_ACL_PORT username=cometchat password=$TEST_NGINX_ACL_PASS;
--- config
--- request
GET /page.txt
--- more_headers
X-User: acl1
--- response_headers
X-CC-Status: minted
--- response_body
page
--- no_error_log eval
["[error]", $ENV{TEST_NGINX_ACL_PASS}]



=== TEST 2: (same nginx) the token is in Redis, read back; nothing was denied
--- init
my $t = main::fake_token('acl1');
Test::More::ok(defined $t, 'TEST 2 - the fake minted a token for acl1');
Test::More::is(main::rcmd('GET', main::key('acl1')), $t,
               'TEST 2 - Redis holds it');
--- request
GET /page.txt
--- more_headers
X-User: acl1
--- response_headers
X-CC-Status: hit
--- response_body
page
--- no_error_log eval
["[error]", $ENV{TEST_NGINX_ACL_PASS}]



=== TEST 3: (same nginx) ACL LOG: the module never ran a command it may not
--- request
GET /page.txt
--- more_headers
X-User: acl1
--- response_body
page
--- response_headers
X-CC-Status: hit
--- init
my $log = main::rcmd('ACL', 'LOG');
Test::More::is(ref $log && scalar(@$log), 0, 'TEST 3 - ACL LOG is empty')
    or Test::More::diag(JSON::PP->new->canonical->encode($log));



=== TEST 4: a user without the rights: the page is served, the error says NOPERM
--- init
main::fake_reset();
main::rcmd('DEL', main::key('weak1'));
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_ACL_PORT username=weak password=$TEST_NGINX_ACL_BAD;
--- config
--- request
GET /page.txt
--- more_headers
X-User: weak1
--- response_headers
X-CC-Status: minted
--- response_body
page
--- error_log
NOPERM
the ACL user lacks a command or key pattern the module needs
--- no_error_log eval
[$ENV{TEST_NGINX_ACL_BAD}]



=== TEST 5: (same nginx) the token is kept per host: no second mint, not in Redis
--- init
Test::More::is(main::rcmd('GET', main::key('weak1')), undef,
               'TEST 5 - nothing reached Redis');
--- request
GET /page.txt
--- more_headers
X-User: weak1
--- response_headers
X-CC-Status: hit
--- response_body
page
--- no_error_log eval
[$ENV{TEST_NGINX_ACL_BAD}]



=== TEST 6: (same nginx) the fake minted once for weak1
--- request
GET /_fake_calls
--- config
    location = /_fake_calls {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT/_fake/stats;
    }
--- response_body_like eval
CometChatEnv::fake_calls({create_user => 1, create_token => 1})



=== TEST 7: a wrong password: Redis' WRONGPASS is logged, the password is not
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_ACL_PORT username=cometchat password=$TEST_NGINX_ACL_BAD;
--- config
--- request
GET /page.txt
--- more_headers
X-User: acl1
--- response_body
page
--- error_log
WRONGPASS
--- no_error_log eval
[$ENV{TEST_NGINX_ACL_BAD}]



=== TEST 8: nginx -t: a mistyped password= is refused without its value
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_ACL_PORT username=cometchat pasword=$TEST_NGINX_ACL_PASS;
--- config
--- must_die
--- error_log
"cometchat_redis": invalid parameter "pasword=..."
--- no_error_log eval
[$ENV{TEST_NGINX_ACL_PASS}]



=== TEST 9: username= without password= is refused
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_ACL_PORT username=cometchat;
--- config
--- must_die
--- error_log
takes "username=" only with "password="
