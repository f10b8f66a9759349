package CometChatTLS;

# The HTTPS suites' CometChat: a fake of its own for the test file, serving
# the REST API over HTTPS too, with throwaway certificates made now by
# t/lib/make-test-certs (none are committed).
#
#   use lib 't/lib';
#   use Test::Nginx::Socket 'no_plan';
#   use CometChatTLS;        # loads CometChatEnv; after it, not before
#
# Exports to the environment (for --- config):
#   TEST_NGINX_FAKE_PORT       this file's fake, plain HTTP: the controls
#                              (fake_get, fake_calls, /_fake/ locations)
#   TEST_NGINX_FAKE_URL        https://localhost:TLSPORT/v3, so that
#                              CometChatToken::common_config() calls
#                              CometChat over HTTPS
#   TEST_NGINX_FAKE_HTTP_URL   http://127.0.0.1:PORT/v3, the same API plain
#   TEST_NGINX_FAKE_TLS_PORT   the HTTPS port
#   TEST_NGINX_TLS_DIR         the certificates: ca.pem, server, wrong-name,
#                              expired, unknown (.pem/.key), other-ca.pem
#
# tls_cert($name)   make the fake present $name's certificate to new
#                   connections ("server", "wrong-name", "expired",
#                   "unknown"); /_fake/reset goes back to "server"
# fake_stats()      /_fake/stats decoded
# start_proxy(%opt) tools/fake/proxy.py on a free port (user, password:
#                   Basic auth required); returns its port, stopped at exit
# proxy_get($port, $path)  GET /_proxy/stats or /_proxy/reset on it: body
# nginx_t($server)  "nginx -t" of a configuration with $server in its
#                   server block (and the module loaded): ($status, what
#                   nginx printed and logged); for warnings, which a
#                   running test server logs before any request is watched

use strict;
use warnings;

use Cwd ();
use Exporter 'import';
use File::Basename ();
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

use CometChatEnv qw(free_port fake_get);

our @EXPORT = qw(tls_cert fake_stats nginx_t start_proxy proxy_get);

my $Top = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../..');
my $Python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $Owner = $$;
my $FakePid;
my @ProxyPids;

my $Dir = File::Temp::tempdir('cometchat-tls-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);

system("$Top/t/lib/make-test-certs", $Dir) == 0
    or die "CometChatTLS: make-test-certs failed\n";

sub _port_open {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub _start {
    my $port = free_port($ENV{TEST_NGINX_REDIS_PORT},
                         $ENV{TEST_NGINX_FAKE_PORT});
    my $tls_port = free_port($port, $ENV{TEST_NGINX_REDIS_PORT},
                             $ENV{TEST_NGINX_FAKE_PORT});

    $FakePid = fork();
    die "CometChatTLS: fork: $!\n" unless defined $FakePid;
    if ($FakePid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$Dir/fake.log";
        open STDERR, '>&', \*STDOUT;
        exec $Python, "$Top/tools/fake/run", '--port', $port,
             '--tls-port', $tls_port, '--tls-cert', "$Dir/server.pem",
             '--tls-key', "$Dir/server.key"
            or POSIX::_exit(127);
    }

    my $deadline = time + 15;
    until (_port_open($port) && _port_open($tls_port)) {
        die "CometChatTLS: the fake did not start (see $Dir/fake.log)\n"
            if time > $deadline
               || waitpid($FakePid, POSIX::WNOHANG()) == $FakePid;
        sleep 0.02;
    }

    $ENV{TEST_NGINX_FAKE_PORT} = $port;
    $ENV{TEST_NGINX_FAKE_TLS_PORT} = $tls_port;
    $ENV{TEST_NGINX_FAKE_URL} = "https://localhost:$tls_port/v3";
    $ENV{TEST_NGINX_FAKE_HTTP_URL} = "http://127.0.0.1:$port/v3";
    $ENV{TEST_NGINX_TLS_DIR} = $Dir;
}

sub tls_cert {
    my $name = shift;
    my $r = fake_get("/_fake/set?tls_cert=$Dir/$name.pem"
                     . "&tls_key=$Dir/$name.key");
    die "CometChatTLS: tls_cert $name: $r\n" unless $r =~ /"ok":true/;
    return 1;
}

sub fake_stats {
    return JSON::PP::decode_json(fake_get('/_fake/stats'));
}

sub start_proxy {
    my %opt = @_;
    my $port = free_port($ENV{TEST_NGINX_REDIS_PORT},
                         $ENV{TEST_NGINX_FAKE_PORT},
                         $ENV{TEST_NGINX_FAKE_TLS_PORT});
    my @auth = defined $opt{user}
               ? ('--user', $opt{user}, '--password', $opt{password})
               : ();
    my $pid = fork();
    die "CometChatTLS: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$Dir/proxy.log";
        open STDERR, '>&', \*STDOUT;
        exec $Python, "$Top/tools/fake/proxy.py", '--port', $port, @auth
            or POSIX::_exit(127);
    }
    push @ProxyPids, $pid;
    my $deadline = time + 15;
    until (_port_open($port)) {
        die "CometChatTLS: the proxy did not start\n"
            if time > $deadline || waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.02;
    }
    return $port;
}

sub proxy_get {
    my ($port, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "CometChatTLS: proxy on $port: $!\n";
    print $s "GET $path HTTP/1.1\r\nHost: x\r\n\r\n";
    my $resp = do { local $/; <$s> } // '';
    close $s;
    my (undef, $body) = split /\r\n\r\n/, $resp, 2;
    return $body // '';
}

my $NginxT = 0;

sub nginx_t {
    my ($server) = @_;
    my $dir = "$Dir/nginx-t-" . $NginxT++;
    mkdir $dir;
    mkdir "$dir/logs";
    my $load = join '', map { "load_module $_;\n" }
               split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!\n";
    print $fh "${load}error_log $dir/logs/error.log;\npid $dir/logs/nginx.pid;\n"
              . "events {}\nhttp {\nserver {\nlisten 127.0.0.1:1;\n"
              . "$server\n}\n}\n";
    close $fh;
    my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $out = `$nginx -t -p $dir/ -c $dir/nginx.conf 2>&1`;
    my $status = $? >> 8;
    if (open my $log, '<', "$dir/logs/error.log") {
        local $/;
        $out .= <$log> // '';
    }
    return ($status, $out);
}

_start();

END {
    if ($$ == $Owner) {
        local $?;
        for my $pid (grep { $_ } $FakePid, @ProxyPids) {
            kill 'TERM', $pid;
            waitpid($pid, 0);
        }
    }
}

1;
