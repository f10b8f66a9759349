# vi:filetype=perl
#
# IPv6 addresses from Redis: a cluster seed given as [::1]:PORT, and a
# master that a sentinel announces as "::1".  Both are checked with
# ngx_inet6_addr(), which writes the address it parses: called with a NULL
# buffer it crashed the worker (found by tools/fuzz/fuzz_redis.c).  Nothing
# listens at the IPv6 address: the page is served without Redis, and the
# worker lives.
#
# The sentinel is a fake: a process of this file that answers every
# command with ["::1", PORT].

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

use IO::Socket::INET ();
use POSIX ();

my $owner = $$;
our $SentinelPid;

$ENV{TEST_NGINX_DEAD_PORT} = CometChatEnv::free_port(
    $ENV{TEST_NGINX_REDIS_PORT}, $ENV{TEST_NGINX_FAKE_PORT});

# a sentinel that names ::1 as the master of any name
sub start_sentinel {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 16,
                                  ReuseAddr => 1)
        or die "fake sentinel: $!\n";
    $ENV{TEST_NGINX_SENTINEL_PORT} = $l->sockport;

    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid) {
        close $l;
        $SentinelPid = $pid;
        return;
    }

    my $port = $ENV{TEST_NGINX_DEAD_PORT};
    my $reply = "*2\r\n\$3\r\n::1\r\n\$" . length($port) . "\r\n$port\r\n";

    while (my $c = $l->accept) {
        next if fork();
        # a command: "*N", then N times "$LEN" and the bytes
        while (defined(my $line = <$c>)) {
            next unless $line =~ /^\*(\d+)/;
            <$c> for 1 .. 2 * $1;
            print $c $reply;
        }
        POSIX::_exit(0);
    }
    POSIX::_exit(0);
}

END {
    # waitpid() sets $?, which would be the test's exit status
    local $?;

    if ($$ == $owner && $SentinelPid) {
        kill 'TERM', $SentinelPid;
        waitpid($SentinelPid, 0);
    }
}

start_sentinel();

my $prelude = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;

    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
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

    if (defined $block->config) {
        $block->set_value("config", $prelude . $block->config);
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> page.txt\npage\n");
    }
});

run_tests();

__DATA__

=== TEST 1: a cluster seed at an IPv6 address: the worker starts and serves
--- http_config
    cometchat_redis cluster [::1]:$TEST_NGINX_DEAD_PORT;
--- config
--- request
GET /page.txt
--- more_headers
X-User: v6seed
--- error_code: 200
--- response_body
page
--- no_error_log
exited on signal



=== TEST 2: a sentinel names an IPv6 master: read, and the worker lives
--- http_config
    cometchat_redis sentinel=mymaster 127.0.0.1:$TEST_NGINX_SENTINEL_PORT;
--- config
--- request
GET /page.txt
--- more_headers
X-User: v6master
--- error_code: 200
--- response_body
page
--- wait: 1
--- error_log eval
qr/\[::1\]:\d+|::1:\d+|::1/
--- no_error_log
exited on signal
