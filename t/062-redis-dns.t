# vi:filetype=perl
#
# A Redis name is resolved again, through nginx's resolver, whenever the
# connection is (re)established: with "resolver" in http, a DNS change
# (a managed Redis' failover endpoint) is followed after the connection
# drops.  The name is "localhost", which the system resolves at load time
# (/etc/hosts) and a DNS server of ours (t/lib/dns-responder.py) answers
# at run time: first 127.0.0.1 (Redis A), then 127.0.0.2 (Redis B, the
# same port on another loopback address).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatRedis;

use File::Basename ();
use POSIX ();
use Time::HiRes ();

our $Port = CometChatEnv::free_port();
CometChatRedis::start(port => $Port, bind => '127.0.0.1');
CometChatRedis::start(port => $Port, bind => '127.0.0.2');

our $Zone = CometChatRedis::dir() . '/zone';
our $DnsPort = CometChatEnv::free_port($Port);
my $owner = $$;
our $DnsPid;

sub zone {
    open my $fh, '>', "$Zone.new" or die "$Zone: $!\n";
    print $fh "localhost $_[0]\n";
    close $fh;
    rename "$Zone.new", $Zone or die "$Zone: $!\n";
}

zone('127.0.0.1');

$DnsPid = fork();
die "fork: $!\n" unless defined $DnsPid;
if ($DnsPid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', ($ENV{CC_DNS_LOG} // CometChatRedis::dir() . '/dns.log');
    open STDERR, '>&', \*STDOUT;
    exec 'python3', File::Basename::dirname(__FILE__) . '/lib/dns-responder.py',
         '--port', $DnsPort, '--zone', $Zone or POSIX::_exit(127);
}

# ready when it answers
CometChatRedis::wait_for('the DNS responder', 10, sub {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $DnsPort, Proto => 'udp')
        or return 0;
    $s->send(pack('nnnnnn', 1, 0x100, 1, 0, 0, 0)
             . "\x09localhost\x00" . pack('nn', 1, 1));
    my $r = '';
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    return 0 unless select($rin, undef, undef, 0.2);
    $s->recv($r, 512);
    return length $r > 12;
});

END {
    if ($$ == $owner && $DnsPid) {
        kill 'TERM', $DnsPid;
        waitpid($DnsPid, 0);
    }
}

$ENV{TEST_NGINX_DNS_PORT} = $DnsPort;
$ENV{TEST_NGINX_RPORT} = $Port;

sub a { CometChatRedis::cmd("127.0.0.1:$Port", @_) }
sub b { CometChatRedis::cmd("127.0.0.2:$Port", @_) }
sub key { "cometchat:testapp:token:$_[0]" }

sub status {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(), Timeout => 2)
        or return '';
    print $s "GET /st HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return do { local $/; <$s> } // '';
}

# clients of a Redis other than the CLIENT LIST asking
sub clients {
    my $list = $_[0]->('CLIENT', 'LIST') // '';
    return scalar(grep { !/cmd=client/ } split /\n/, $list);
}

sub switch_to_b {
    zone('127.0.0.2');

    # the resolver keeps an answer for valid=1s, counted in whole seconds
    Time::HiRes::sleep(2.2);

    a('CLIENT', 'KILL', 'TYPE', 'normal');

    CometChatRedis::wait_for('nginx to connect to Redis B', 20,
                             sub { clients(\&b) > 0 });
    CometChatRedis::wait_for('nginx to be up again', 20,
                             sub { status() =~ /^cometchat_redis_up 1$/m });
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

    location = /st {
        cometchat_status;
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

=== TEST 1: the name resolves to Redis A: a new user's token lands there
--- init
main::a('DEL', main::key('dns1'));
main::b('DEL', main::key('dns1'));
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT valid=1s ipv6=off;
    cometchat_redis localhost:$TEST_NGINX_RPORT;
--- config
--- request
GET /page.txt
--- more_headers
X-User: dns1
--- response_headers
X-CC-Status: minted
--- response_body
page
--- no_error_log
[error]



=== TEST 2: (same nginx) DNS now says B; A drops the connection; B is used
--- init
Test::More::ok(defined main::a('GET', main::key('dns1')),
               'TEST 2 - dns1 is in A');
Test::More::ok(!defined main::b('GET', main::key('dns1')),
               'TEST 2 - and not in B');
main::a('DEL', main::key('dns2'));
main::b('DEL', main::key('dns2'));
main::switch_to_b();
--- request
GET /page.txt
--- more_headers
X-User: dns2
--- response_headers
X-CC-Status: minted
--- response_body
page
--- error_log eval
qr/cometchat: redis "localhost:\d+" is now at 127\.0\.0\.2:\d+, was 127\.0\.0\.1:\d+/



=== TEST 3: (same nginx) dns2 landed in B, not in A; one failover counted
--- init
Test::More::ok(defined main::b('GET', main::key('dns2')),
               'TEST 3 - dns2 is in B');
Test::More::ok(!defined main::a('GET', main::key('dns2')),
               'TEST 3 - and not in A');
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_up 1$(?s:.*)^cometchat_redis_failovers_total 1$/m



=== TEST 4: without a resolver the name stays as resolved at load (A)
--- init
main::zone('127.0.0.2');
main::a('DEL', main::key('dns3'));
main::b('DEL', main::key('dns3'));
--- http_config
    cometchat_redis localhost:$TEST_NGINX_RPORT;
--- config
--- request
GET /page.txt
--- more_headers
X-User: dns3
--- response_headers
X-CC-Status: minted
--- response_body
page
--- no_error_log
[error]



=== TEST 5: (same nginx) dns3 is in A
--- init
Test::More::ok(defined main::a('GET', main::key('dns3')),
               'TEST 5 - dns3 is in A');
Test::More::ok(!defined main::b('GET', main::key('dns3')),
               'TEST 5 - and not in B');
--- request
GET /page.txt
--- more_headers
X-User: dns3
--- response_headers
X-CC-Status: hit
--- response_body
page
