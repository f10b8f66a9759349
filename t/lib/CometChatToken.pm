package CometChatToken;

# Shared by the token suites (t/030-token.t, t/040-coalesce.t,
# t/045-nonblocking.t).
#
#   use lib 't/lib';
#   use Test::Nginx::Socket 'no_plan';
#   use CometChatEnv;
#   use CometChatToken;
#
# common_config()       server-level text prepended to every block's config
#                       (see token_suite_setup in the suites): app id, region,
#                       key and fake URL, a cookie-driven session location
#                       (/_whoami, answered by /_who from the cookies uid,
#                       name and avatar; no uid: 401),
#                       the pipeline locations /t ("status=S token=T") and
#                       /tt ("token=T", the status in X-CC-Status), the fake's
#                       control API under /_fake/ and cometchat_status at
#                       /_status.
# check_tokens(...)     an add_response_body_check handler: every fake token
#                       seen in a response (its uid is its prefix) must be
#                       the one token seen for that uid in the whole file,
#                       and a /_fake/stats body must list exactly that one
#                       token for the uid: one mint per user, ever.
# start_second_nginx($server_config)
#                       a second nginx (own prefix, port second_port(),
#                       master on, one worker) with the same module, Redis and
#                       fake; common_config() plus $server_config in its
#                       server block. stop_second_nginx() stops it (also done
#                       at exit). second_access_count($re) counts its access
#                       log lines matching $re.
# second_worker_pids()  the pids of the second nginx's workers
# end_second_nginx($how)
#                       ends the second nginx abruptly and waits until its
#                       master and workers are gone: 'stop' runs
#                       `nginx -s stop` (fast shutdown, SIGTERM), 'kill'
#                       sends SIGKILL to the master, then to the workers

use strict;
use warnings;

use Cwd ();
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Test::More ();
use Time::HiRes qw(sleep time);

use CometChatEnv ();

our @EXPORT = qw(common_config check_tokens start_second_nginx
                 stop_second_nginx second_port second_access_count
                 second_worker_pids end_second_nginx);

my $Owner = $$;
my %Seen;               # uid => the token seen for it
my ($SecondRoot, $SecondPid);

# fake tokens: {uid}_{unix time}{32 hex}
my $TokenRe = qr/([a-z0-9_-]+_\d{10}[0-9a-f]{32})/;

sub common_config {
    return <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;

    # the session: add_header does not apply to subrequests, so the
    # answer comes from /_who over HTTP, with the client's cookies
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$server_port/_who;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location = /_who {
        if ($cookie_uid = "") {
            return 401;
        }
        add_header X-User-Id $cookie_uid;
        add_header X-User-Name $cookie_name;
        add_header X-User-Avatar $cookie_avatar;
        return 204;
    }

    location = /t {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_echo;
        proxy_set_header X-CC-Status $cometchat_token_status;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }

    location = /tt {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_echo_token;
        proxy_set_header X-CC-Token $cometchat_auth_token;
        add_header X-CC-Status $cometchat_token_status always;
    }

    location = /_echo {
        return 200 "status=$http_x_cc_status token=$http_x_cc_token\n";
    }

    location = /_echo_token {
        return 200 "token=$http_x_cc_token\n";
    }

    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
        proxy_read_timeout 60s;
    }

    location = /_status {
        cometchat_status;
    }

_EOC_
}

sub _uid_of {
    my ($token) = @_;
    return substr($token, 0, length($token) - 43);
}

sub check_tokens {
    my ($block, $body, $req_idx, $repeated_idx, $dry_run) = @_;

    return if $dry_run || !defined $body;

    my $name = $block->name;

    if ($body =~ /^\{"calls":/) {
        my $stats = eval { JSON::PP::decode_json($body) };
        if (!$stats) {
            Test::More::fail("$name - fake stats are JSON: $@");
            return;
        }
        for my $uid (sort keys %{ $stats->{tokens} || {} }) {
            next unless defined $Seen{$uid};
            Test::More::is_deeply($stats->{tokens}{$uid}, [$Seen{$uid}],
                                  "$name - the fake minted one token for "
                                  . "$uid, the one served");
        }
        return;
    }

    my %here;
    while ($body =~ /token=$TokenRe/g) {
        $here{$1} = 1;
    }

    for my $token (sort keys %here) {
        my $uid = _uid_of($token);
        $Seen{$uid} //= $token;
        Test::More::is($token, $Seen{$uid},
                       "$name - one token for $uid in the whole file");
    }
}

sub second_port {
    $ENV{TEST_NGINX_SECOND_PORT} //= CometChatEnv::free_port(
        $ENV{TEST_NGINX_REDIS_PORT}, $ENV{TEST_NGINX_FAKE_PORT});
    return $ENV{TEST_NGINX_SECOND_PORT};
}

sub _expand {
    my ($text) = @_;
    $text =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        defined $ENV{$1} ? $ENV{$1}
                         : die "CometChatToken: \$$1 is not set\n"
    }ge;
    return $text;
}

sub _port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port, Proto => 'tcp',
                                  Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub start_second_nginx {
    my ($server_config) = @_;

    stop_second_nginx();

    my $port = second_port();
    my $base = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    $SecondRoot = Cwd::abs_path('.') . '/' . $base . '-second';
    $SecondRoot = $base . '-second' if $base =~ m{^/};

    remove_tree($SecondRoot);
    make_path("$SecondRoot/conf", "$SecondRoot/logs", "$SecondRoot/html");

    my $modules = join '', map { "load_module $_;\n" }
                  grep { $_ ne '' }
                  split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $user = $> == 0 ? "user root;\n" : '';
    my $server = _expand(common_config() . ($server_config // ''));
    my $redis = $ENV{TEST_NGINX_REDIS_PORT};

    open my $out, '>', "$SecondRoot/conf/nginx.conf"
        or die "CometChatToken: cannot write the second nginx.conf: $!\n";
    print $out <<_EOC_;
# the second nginx of a token suite
$modules
$user
worker_processes 1;
daemon on;
master_process on;
error_log $SecondRoot/logs/error.log debug;
pid $SecondRoot/logs/nginx.pid;

events {
    worker_connections 1024;
}

http {
    access_log $SecondRoot/logs/access.log;
    default_type text/plain;

    cometchat_redis 127.0.0.1:$redis;

    server {
        listen 127.0.0.1:$port;
        server_name second;

$server
    }
}
_EOC_
    close $out;

    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $rc = system($bin, '-p', "$SecondRoot/", '-c',
                    "$SecondRoot/conf/nginx.conf",
                    '-e', "$SecondRoot/logs/error.log");
    die "CometChatToken: the second nginx did not start ($rc); see "
        . "$SecondRoot/logs/error.log\n" if $rc != 0;

    my $deadline = time + 10;
    until (_port_open($port)) {
        die "CometChatToken: the second nginx does not listen on $port\n"
            if time > $deadline;
        sleep 0.02;
    }

    if (open my $in, '<', "$SecondRoot/logs/nginx.pid") {
        ($SecondPid) = <$in> =~ /(\d+)/;
        close $in;
    }

    return $port;
}

sub stop_second_nginx {
    return unless $SecondPid;

    my $pid = $SecondPid;
    undef $SecondPid;

    kill 'QUIT', $pid;
    my $deadline = time + 10;
    while (kill 0, $pid) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            last;
        }
        sleep 0.02;
    }
}

sub second_worker_pids {
    return () unless $SecondPid;

    my @pids;
    opendir my $dir, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dir) {
        open my $in, '<', "/proc/$pid/stat" or next;
        my $stat = <$in> // '';
        close $in;
        # pid (comm) state ppid ...
        push @pids, $pid if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $SecondPid;
    }
    closedir $dir;
    return sort { $a <=> $b } @pids;
}

sub _gone {
    my ($pid) = @_;
    return 1 unless kill 0, $pid;
    open my $in, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$in> // '';
    close $in;
    return $stat =~ /\)\s+Z/ ? 1 : 0;
}

sub end_second_nginx {
    my ($how) = @_;

    return unless $SecondPid;

    my $master = $SecondPid;
    my @workers = second_worker_pids();
    undef $SecondPid;

    if ($how eq 'stop') {
        my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
        system($bin, '-p', "$SecondRoot/", '-c',
               "$SecondRoot/conf/nginx.conf",
               '-e', "$SecondRoot/logs/error.log", '-s', 'stop') == 0
            or die "CometChatToken: nginx -s stop failed ($?)\n";

    } elsif ($how eq 'kill') {
        # the master first: it would start a new worker for a killed one
        kill 'KILL', $master;
        kill 'KILL', @workers if @workers;

    } else {
        die "CometChatToken: end_second_nginx('stop' or 'kill')\n";
    }

    my $deadline = time + 10;
    until (!grep { !_gone($_) } $master, @workers) {
        die "CometChatToken: the second nginx does not go away\n"
            if time > $deadline;
        sleep 0.02;
    }
}

sub second_access_count {
    my ($re) = @_;
    return 0 unless $SecondRoot;
    open my $in, '<', "$SecondRoot/logs/access.log" or return 0;
    my $n = grep { $_ =~ $re } <$in>;
    close $in;
    return $n;
}

END {
    if ($$ == $Owner) {
        local $?;
        stop_second_nginx();
    }
}

1;
