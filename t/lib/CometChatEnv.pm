package CometChatEnv;

# Services the suites need: a real redis-server and the fake CometChat.
#
#   use lib 't/lib';
#   use CometChatEnv;      # before or after use Test::Nginx::Socket
#
# tools/run-tests starts both once and exports TEST_NGINX_REDIS_PORT and
# TEST_NGINX_FAKE_PORT; when they are unset (plain `prove t/x.t`, with the
# compat runner or upstream Test::Nginx) this module starts its own on free
# loopback ports and stops them when the test file ends.
#
# Exported helpers (plain Perl, usable anywhere in a .t file; from a block's
# `--- init` or `eval` sections call them fully qualified, e.g.
# CometChatEnv::redis_cmd(...), as upstream evaluates those elsewhere):
#   redis_cmd(@args)      one command over RESP; returns the reply (string,
#                         integer, undef for nil, arrayref for arrays); an
#                         error reply comes back as a string starting with
#                         "-"; undef if Redis cannot be reached (then
#                         $CometChatEnv::RedisError says why)
#   redis_cmd(\%at, @args)  the same on another Redis or database: %at has
#                         at (a port, or a unix socket path; default
#                         the shared Redis), password (AUTH first), db
#                         (SELECT first)
#   fake_get($path)       GET on the fake (e.g. "/_fake/stats"); the body
#   fake_request($method, $path[, $body])  returns ($status, $body)
#   fake_calls(\%counts[, $more])  a regex for a /_fake/stats reply whose
#                         "calls" object holds exactly these counts, e.g.
#                         fake_calls({create_user => 1, create_token => 1});
#                         operations not named are 0 and "total" is the sum,
#                         unless others => 'any' (then they match any count
#                         and total must be given); $more (a regex) must
#                         follow the object
#   hide_tokens($body)    every CometChat auth token in $body replaced by
#                         "TOKEN" (a response_body_filters filter)
#   stop_redis()          stop Redis (SHUTDOWN NOSAVE), wait until the port
#                         refuses connections
#   start_redis()         start it again on the same port, wait for PONG

use strict;
use warnings;

use Cwd ();
use Exporter 'import';
use File::Basename ();
use File::Temp ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(redis_cmd fake_get fake_request fake_calls hide_tokens
                 stop_redis start_redis);
our @EXPORT_OK = qw(redis_port fake_port free_port);

our $RedisError;

my $Top = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../..');
my $RedisBin = $ENV{TEST_NGINX_REDIS_BIN} || _which('redis-server')
               || '/usr/bin/redis-server';
my $Python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $FakeScript = "$Top/tools/fake/run";

my $Owner = $$;          # only the process that loaded us cleans up
my %Owned;               # name => pid of what we started and must stop
my $RedisShared;         # Redis belongs to tools/run-tests, not to us
my $TmpDir;

sub _which {
    my $prog = shift;
    for my $dir (split /:/, $ENV{PATH} // '') {
        return "$dir/$prog" if $dir ne '' && -x "$dir/$prog";
    }
    return undef;
}

sub free_port {
    my %avoid = map { $_ => 1 } grep { defined } @_,
                $ENV{TEST_NGINX_SERVER_PORT};
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Proto => 'tcp',
                                      Listen => 1)
            or die "CometChatEnv: cannot bind a free port: $!\n";
        my $port = $s->sockport;
        close $s;
        return $port unless $avoid{$port};
    }
    die "CometChatEnv: no free port\n";
}

sub redis_port { $ENV{TEST_NGINX_REDIS_PORT} }
sub fake_port { $ENV{TEST_NGINX_FAKE_PORT} }

sub _port_open {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub _tmpdir {
    $TmpDir //= File::Temp::tempdir('cometchat-env-XXXXXX', TMPDIR => 1,
                                    CLEANUP => 1);
    return $TmpDir;
}

# fork + exec with output to a log file; $detach makes it outlive us
sub _spawn {
    my ($log, $detach, @cmd) = @_;
    my $pid = fork();
    die "CometChatEnv: fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        if ($detach) {
            POSIX::setsid();
            my $p2 = fork();
            POSIX::_exit(0) if !defined $p2 || $p2 != 0;
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    if ($detach) {
        waitpid($pid, 0);
        return undef;
    }
    return $pid;
}

sub _wait_until {
    my ($what, $secs, $pid, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        if ($pid && waitpid($pid, POSIX::WNOHANG()) == $pid) {
            die "CometChatEnv: $what exited while starting\n";
        }
        sleep 0.02;
    }
    die "CometChatEnv: $what not ready after ${secs}s\n";
}

sub _stop_pid {
    my ($pid) = @_;
    return unless $pid && kill 0, $pid;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (time < $deadline) {
        return if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}


# ---- Redis ----------------------------------------------------------------

sub _resp_read_line {
    my ($s) = @_;
    my $line = <$s>;
    die "connection closed\n" unless defined $line;
    $line =~ s/\r\n\z//;
    return $line;
}

sub _resp_read {
    my ($s) = @_;
    my $line = _resp_read_line($s);
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $type eq '+';
    return "-$rest" if $type eq '-';
    return $rest + 0 if $type eq ':';
    if ($type eq '$') {
        return undef if $rest < 0;
        my $buf = '';
        while (length $buf < $rest + 2) {
            my $n = read($s, $buf, $rest + 2 - length $buf, length $buf);
            die "connection closed\n" unless $n;
        }
        return substr($buf, 0, $rest);
    }
    if ($type eq '*') {
        return undef if $rest < 0;
        return [map { _resp_read($s) } 1 .. $rest];
    }
    die "bad RESP reply: $line\n";
}

sub redis_cmd {
    my %at = ref $_[0] eq 'HASH' ? %{ shift @_ } : ();
    my @args = @_;
    undef $RedisError;
    my $where = $at{at} // $ENV{TEST_NGINX_REDIS_PORT};
    my $s = $where =~ m{^/}
            ? IO::Socket::UNIX->new(Peer => $where)
            : IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                    PeerPort => $where, Proto => 'tcp',
                                    Timeout => 3);
    if (!$s) {
        $RedisError = "connect to $where: $!";
        return undef;
    }
    binmode $s;
    # AUTH and SELECT first when asked; the reply is the last command's
    my @cmds = ((defined $at{password} ? (['AUTH', $at{password}]) : ()),
                (defined $at{db} ? (['SELECT', $at{db}]) : ()), \@args);
    for my $c (@cmds) {
        my $req = '*' . @$c . "\r\n";
        $req .= '$' . length($_) . "\r\n$_\r\n" for map { $_ // '' } @$c;
        print $s $req;
    }
    my $reply = eval { my $r; $r = _resp_read($s) for @cmds; $r };
    if ($@) {
        chomp($RedisError = $@);
        $reply = undef;
    }
    close $s;
    return $reply;
}

sub _redis_up {
    my $r = redis_cmd('PING');
    return defined $r && $r eq 'PONG';
}

sub start_redis {
    my $port = $ENV{TEST_NGINX_REDIS_PORT};
    my @cmd = ($RedisBin, '--port', $port, '--bind', '127.0.0.1',
               '--save', '', '--appendonly', 'no', '--daemonize', 'no',
               '--dir', _tmpdir());
    my $log = _tmpdir() . '/redis.log';
    # a Redis restarted on behalf of tools/run-tests must outlive this file;
    # run-tests shuts it down through its port at the end
    my $pid = _spawn($log, $RedisShared, @cmd);
    $Owned{redis} = $pid if $pid;
    _wait_until("redis-server on port $port", 10, $pid, \&_redis_up);
    return 1;
}

sub stop_redis {
    my $port = $ENV{TEST_NGINX_REDIS_PORT};
    if (my $pid = delete $Owned{redis}) {
        _stop_pid($pid);
    } else {
        redis_cmd('SHUTDOWN', 'NOSAVE');
    }
    _wait_until("redis-server on port $port to stop", 10, undef,
                sub { !_port_open($port) });
    return 1;
}


# ---- the fake CometChat -----------------------------------------------------

sub fake_request {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_FAKE_PORT};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "CometChatEnv: cannot connect to the fake on $port: $!\n";
    binmode $s;
    $body //= '';
    print $s "$method $path HTTP/1.0\r\nHost: 127.0.0.1:$port\r\n"
             . ($body ne '' ? "Content-Type: application/json\r\n" : '')
             . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    my $resp = do { local $/; <$s> } // '';
    close $s;
    my ($head, $rbody) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\S+\s+(\d+)};
    return ($status, $rbody // '');
}

sub fake_get {
    my ($path) = @_;
    my (undef, $body) = fake_request('GET', $path);
    return $body;
}

# the operations the fake counts, in the order of its "calls" object
# (tools/fake/cometchat.py, OPS)
our @FakeOps = qw(create_user update_user delete_user create_token);

sub fake_calls {
    my ($want, $more) = @_;
    my %w = %$want;
    my $any = delete $w{others};
    my $total = delete $w{total};
    my ($sum, @parts) = (0);
    for my $op (@FakeOps, 'other') {
        my $n = delete $w{$op} // ($any ? undef : 0);
        $sum += $n if defined $n;
        push @parts, qq{"$op":} . ($n // '\\d+');
    }
    die "fake_calls: not an operation: @{[sort keys %w]}\n" if %w;
    die "fake_calls: others => 'any' needs a total\n" if $any && !defined $total;
    push @parts, '"total":' . ($total // $sum);
    my $re = '\\{"calls":\\{' . join(',', @parts) . '\\}';
    $more //= '';
    return qr/^$re$more/;
}

# the fake's tokens: {uid}_{unixtime}{32 hex}
sub hide_tokens {
    my $s = shift;
    $s =~ s/\b[a-z0-9_-]+_\d{10}[0-9a-f]{32}\b/TOKEN/g;
    return $s;
}

sub _start_fake {
    my $port = $ENV{TEST_NGINX_FAKE_PORT};
    -f $FakeScript or die "CometChatEnv: $FakeScript not found\n";
    my $pid = _spawn(_tmpdir() . '/fake.log', 0, $Python, $FakeScript,
                     '--port', $port);
    $Owned{fake} = $pid;
    _wait_until("fake CometChat on port $port", 15, $pid,
                sub { _port_open($port) });
}


# ---- setup and teardown -----------------------------------------------------

# Debian's nginx is built with --error-log-path=stderr, so a configuration
# it refuses is reported on stderr only, where upstream Test::Nginx does
# not look for a must_die block's error_log.  Unless the caller chose a
# binary (tools/run-tests does), run nginx with "-e logs/error.log".
sub _nginx_logs_to_file {
    return if $ENV{TEST_NGINX_BINARY};

    my $nginx = _which('nginx') || '/usr/sbin/nginx';
    my $wrapper = _tmpdir() . '/nginx';

    open my $fh, '>', $wrapper or die "CometChatEnv: $wrapper: $!\n";
    print $fh "#!/bin/sh\nexec '$nginx' -e logs/error.log \"\$@\"\n";
    close $fh;
    chmod 0755, $wrapper;

    $ENV{TEST_NGINX_BINARY} = $wrapper;

    # when Test::Nginx was loaded first it has read the variable already
    no warnings 'once';
    $Test::Nginx::Util::NginxBinary = $wrapper
        if defined $Test::Nginx::Util::NginxBinary;
}

sub _setup {
    $ENV{TEST_NGINX_REDIS_BIN} //= $RedisBin;

    _nginx_logs_to_file();

    if ($ENV{TEST_NGINX_REDIS_PORT}) {
        $RedisShared = 1;
    } else {
        $ENV{TEST_NGINX_REDIS_PORT} = free_port();
        start_redis();
    }

    if (!$ENV{TEST_NGINX_FAKE_PORT}) {
        $ENV{TEST_NGINX_FAKE_PORT}
            = free_port($ENV{TEST_NGINX_REDIS_PORT});
        _start_fake();
    }
    $ENV{TEST_NGINX_FAKE_URL}
        //= "http://127.0.0.1:$ENV{TEST_NGINX_FAKE_PORT}/v3";
}

_setup();

END {
    if ($$ == $Owner) {
        local $?;
        _stop_pid(delete $Owned{fake}) if $Owned{fake};
        _stop_pid(delete $Owned{redis}) if $Owned{redis};
        # a test that stopped the shared Redis leaves it running for the
        # next file
        if ($RedisShared && !_redis_up()) {
            eval { start_redis() };
            warn $@ if $@;
        }
    }
}

1;
