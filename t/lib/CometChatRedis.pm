package CometChatRedis;

# Extra redis-server / redis-sentinel processes for the suites of
# t/061..064: each on a free port (or a given address), in a temporary
# directory, stopped when the test file ends (or by stop()).

use strict;
use warnings;

use File::Temp ();
use POSIX ();
use Time::HiRes ();

use CometChatEnv;

my $Owner = $$;
my %Pids;                # port => pid
my $Dir;

sub dir {
    $Dir //= File::Temp::tempdir('cc-redis-XXXXXX', TMPDIR => 1,
                                 CLEANUP => 1);
    return $Dir;
}

sub bin {
    my $name = shift;
    for my $d (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/sbin') {
        return "$d/$name" if -x "$d/$name";
    }
    return undef;
}

# start(port => N, bind => IP, sentinel => 1, conf => "text", args => [...])
sub start {
    my %o = @_;
    my $port = $o{port} // CometChatEnv::free_port();
    my $bind = $o{bind} // '127.0.0.1';
    my $d = dir() . "/$bind-$port";
    mkdir $d;
    my @cmd;
    if ($o{sentinel}) {
        open my $fh, '>', "$d/sentinel.conf" or die "$d: $!\n";
        print $fh "port $port\nbind $bind\ndir $d\n$o{conf}";
        close $fh;
        @cmd = (bin('redis-sentinel') || bin('redis-server'),
                "$d/sentinel.conf",
                bin('redis-sentinel') ? () : ('--sentinel'));
    } else {
        @cmd = (bin('redis-server'), '--port', $port, '--bind', $bind,
                '--save', '', '--appendonly', 'no', '--daemonize', 'no',
                '--dir', $d, @{ $o{args} // [] });
    }
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$d/log";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $Pids{"$bind:$port"} = $pid;
    for (1 .. 500) {
        my $r = cmd("$bind:$port", 'PING');
        return $port if defined $r && $r eq 'PONG';
        die "redis on $bind:$port exited; see $d/log\n"
            if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.02);
    }
    die "redis on $bind:$port did not start; see $d/log\n";
}

sub pid { $Pids{ _at($_[0]) } }

sub _at { my $a = shift; $a =~ /:/ ? $a : "127.0.0.1:$a" }

# SIGKILL (or $sig) and reap
sub kill_server {
    my ($at, $sig) = @_;
    my $pid = delete $Pids{ _at($at) } or return;
    kill $sig // 'KILL', $pid;
    waitpid($pid, 0);
}

sub stop { kill_server($_[0], 'TERM') }

# one command; undef and $CometChatEnv::RedisError on failure.
# $at: "IP:PORT" or a port on 127.0.0.1; {at => ..., user =>, password =>}
sub cmd {
    my $at = shift;
    my %o = ref $at eq 'HASH' ? %$at : (at => $at);
    my ($host, $port) = _at($o{at}) =~ /^(.*):(\d+)$/;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                  Proto => 'tcp', Timeout => 3);
    if (!$s) {
        $CometChatEnv::RedisError = "connect to $host:$port: $!";
        return undef;
    }
    binmode $s;
    my @cmds = ((defined $o{password}
                 ? (['AUTH', (defined $o{user} ? $o{user} : ()),
                     $o{password}]) : ()), [@_]);
    for my $c (@cmds) {
        my $req = '*' . @$c . "\r\n";
        $req .= '$' . length($_) . "\r\n$_\r\n" for map { $_ // '' } @$c;
        print $s $req;
    }
    my $reply = eval { my $r; $r = CometChatEnv::_resp_read($s) for @cmds; $r };
    undef $CometChatEnv::RedisError;
    if ($@) {
        chomp($CometChatEnv::RedisError = $@);
        $reply = undef;
    }
    close $s;
    return $reply;
}

sub wait_for {
    my ($what, $secs, $cond) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $deadline) {
        my $r = $cond->();
        return $r if $r;
        Time::HiRes::sleep(0.1);
    }
    die "timed out waiting for $what\n";
}

END {
    if ($$ == $Owner) {
        for my $pid (values %Pids) {
            kill 'CONT', $pid;
            kill 'TERM', $pid;
        }
        waitpid($_, 0) for values %Pids;
    }
}

1;
