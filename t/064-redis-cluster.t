# vi:filetype=perl
#
# cometchat_redis cluster: keys go to the primary of their slot, and a
# slot migrated while requests run is followed (ASK during the migration,
# MOVED after it).  Three primaries on free loopback ports, made a cluster
# by redis-cli --cluster create.  60 users are minted: their tokens land
# on all three nodes, under hash-tagged keys.  Then the slot of one user
# is migrated by hand (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT
# NODE) under a load of requests for that user and others: every
# response is a 200 "hit", no command fails (cometchat_redis_errors_total
# stays 0), cometchat_redis_redirects_total grows in both phases, and
# nobody is minted again.

use lib 't/lib';
use Test::Nginx::Socket;
use CometChatEnv;
use CometChatRedis;

use JSON::PP ();
use POSIX ();
use Time::HiRes ();

BEGIN {
    my $cli = CometChatRedis::bin('redis-cli');
    if (!CometChatRedis::bin('redis-server') || !$cli) {
        print "1..0 # SKIP redis-server or redis-cli not found\n";
        exit 0;
    }
    if (`$cli --cluster help 2>&1` !~ /create/) {
        print "1..0 # SKIP this redis-cli has no --cluster create\n";
        exit 0;
    }
}

plan 'no_plan';

# a cluster node also listens on its port + 10000: both must be free
sub cluster_port {
    for (1 .. 200) {
        my $p = 20000 + int(rand(30000));
        next if $p == $ENV{TEST_NGINX_SERVER_PORT};
        my @s = map {
            IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        } $p, $p + 10000;
        return $p if $s[0] && $s[1];
    }
    die "no free pair of ports for a cluster node\n";
}

our @P = map {
    CometChatRedis::start(port => cluster_port(),
                          args => ['--cluster-enabled', 'yes',
                                   '--cluster-config-file', 'nodes.conf',
                                   '--cluster-node-timeout', '2000'])
} 1 .. 3;

{
    my $cli = CometChatRedis::bin('redis-cli');
    my $out = `$cli --cluster create @{[ map { "127.0.0.1:$_" } @P ]} --cluster-replicas 0 --cluster-yes 2>&1`;
    die "redis-cli --cluster create failed:\n$out" if $?;
}

CometChatRedis::wait_for('the cluster to be ok', 30, sub {
    for my $p (@P) {
        my $info = CometChatRedis::cmd($p, 'CLUSTER', 'INFO') // '';
        return 0 unless $info =~ /cluster_state:ok/;
    }
    1;
});

$ENV{TEST_NGINX_CLUSTER} = join ' ', map { "127.0.0.1:$_" } @P[0, 1];

our @Users = map { "cl$_" } 1 .. 60;

sub key { "cometchat:testapp:token:{$_[0]}" }
sub node_cmd { CometChatRedis::cmd(@_) }

# the node whose primary serves the key (asked directly, no redirect)
sub owner {
    my $k = shift;
    for my $p (@P) {
        return $p if node_cmd($p, 'EXISTS', $k) =~ /^1$/;
    }
    return undef;
}

sub fake_stats {
    JSON::PP::decode_json(CometChatEnv::fake_get('/_fake/stats'));
}

sub get {
    my ($path, $user) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(), Timeout => 5)
        or return ('000', '', '');
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n"
             . ($user ? "X-User: $user\r\n" : '') . "\r\n";
    my $r = do { local $/; <$s> } // '';
    my ($code) = $r =~ m{^HTTP/\S+ (\d+)};
    my ($st) = $r =~ /^X-CC-Status: (\S+)/mi;
    my ($tok) = $r =~ /^X-CC-Token: (\S+)/mi;
    return ($code // '000', $st // '', $tok // '', $r);
}

sub status { (get('/st'))[3] }

sub counter {
    my $name = shift;
    my ($n) = status() =~ /^\Q$name\E (\d+)$/m;
    return $n // -1;
}

our ($LoadPid, $LoadFile);

# requests for @_ in turn until told to stop
sub start_load {
    my @u = @_;
    $LoadFile = CometChatRedis::dir() . '/load';
    unlink $LoadFile, "$LoadFile.stop";
    $LoadPid = fork();
    die "fork: $!\n" unless defined $LoadPid;
    if ($LoadPid == 0) {
        open my $out, '>', $LoadFile or POSIX::_exit(1);
        $out->autoflush(1);
        my $i = 0;
        my $deadline = time + 60;
        while (!-e "$LoadFile.stop" && time < $deadline) {
            my $u = $u[$i++ % @u];
            my ($code, $st, $tok) = get('/page.txt', $u);
            print $out "$u $code $st $tok\n";
        }
        close $out;
        POSIX::_exit(0);
    }
}

sub stop_load {
    open my $fh, '>', "$LoadFile.stop";
    close $fh;
    waitpid($LoadPid, 0);
    open my $in, '<', $LoadFile or die "$LoadFile: $!\n";
    my @lines = <$in>;
    chomp @lines;
    return @lines;
}

sub more_load {
    my $n = -s $LoadFile // 0;
    CometChatRedis::wait_for('more load', 20,
                             sub { (-s $LoadFile // 0) > $n + 300 });
}

our (@Load, $Slot, $From, $To, $Moved, @Redirects);

sub migrate {
    my $user = $Users[0];
    $Slot = node_cmd($P[0], 'CLUSTER', 'KEYSLOT', key($user));
    $From = owner(key($user)) or die "no node has " . key($user) . "\n";
    ($To) = grep { $_ != $From } @P;
    my $from_id = node_cmd($From, 'CLUSTER', 'MYID');
    my $to_id = node_cmd($To, 'CLUSTER', 'MYID');

    # the users of that slot, and a few others on the other nodes
    $Moved = node_cmd($From, 'CLUSTER', 'GETKEYSINSLOT', $Slot, 100);
    my %in = map { /\{(.*)\}/ ? ($1 => 1) : () } @$Moved;
    my @others = (grep { !$in{$_} } @Users)[0 .. 4];

    start_load((sort keys %in), @others);
    more_load();
    push @Redirects, counter('cometchat_redis_redirects_total');

    node_cmd($To, 'CLUSTER', 'SETSLOT', $Slot, 'IMPORTING', $from_id);
    node_cmd($From, 'CLUSTER', 'SETSLOT', $Slot, 'MIGRATING', $to_id);
    my $r = node_cmd($From, 'MIGRATE', '127.0.0.1', $To, '', 0, 5000,
                     'KEYS', @$Moved);
    die "MIGRATE: " . ($r // $CometChatEnv::RedisError) . "\n"
        unless defined $r && $r eq 'OK';

    # the keys are on $To, the slot still on $From: ASK
    more_load();
    push @Redirects, counter('cometchat_redis_redirects_total');

    for my $p ($To, $From, grep { $_ != $From && $_ != $To } @P) {
        node_cmd($p, 'CLUSTER', 'SETSLOT', $Slot, 'NODE', $to_id);
    }

    # the slot is on $To: MOVED, once per worker, then direct
    more_load();
    push @Redirects, counter('cometchat_redis_redirects_total');
    more_load();
    @Load = stop_load();
}

my $prelude = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_token_local_ttl 0;

    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        add_header X-CC-Status $cometchat_token_status always;
        add_header X-CC-Token $cometchat_auth_token always;
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
    $block->set_value("timeout", 120) unless defined $block->timeout;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: start: the worker asks the seeds for the slot map
--- init
CometChatEnv::fake_get('/_fake/reset');
--- http_config
    cometchat_redis cluster $TEST_NGINX_CLUSTER;
--- config
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_redirects_total 0$/m



=== TEST 2: (same nginx) 60 users minted, each token on its slot's primary
--- init
CometChatRedis::wait_for('redis up', 20,
                         sub { main::status() =~ /^cometchat_redis_up 1$/m });
--- request eval
[map { "GET /page.txt" } @main::Users]
--- more_headers eval
[map { "X-User: $_" } @main::Users]
--- response_headers eval
[map { "X-CC-Status: minted" } @main::Users]
--- response_body eval
[map { "page\n" } @main::Users]
--- no_error_log
[error]



=== TEST 3: (same nginx) the tokens are on all three nodes; migrate a slot
--- init
my %on;
for my $p (@main::P) {
    my $keys = main::node_cmd($p, 'KEYS', 'cometchat:testapp:token:*');
    $on{$p} = scalar @$keys;
    Test::More::ok(scalar(grep { !/^cometchat:testapp:token:\{cl\d+\}$/ }
                          @$keys) == 0,
                   "TEST 3 - hash-tagged token keys on $p");
}
Test::More::is(scalar(grep { $on{$_} > 0 } @main::P), 3,
               'TEST 3 - every node holds tokens: '
               . join(' ', map { $on{$_} } @main::P));
my $total = 0;
$total += $_ for values %on;
Test::More::is($total, 60, 'TEST 3 - 60 tokens in all');
main::migrate();
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_errors_total 0$/m



=== TEST 4: (same nginx) no request failed, redirects were followed
--- init
my @bad = grep { !/^cl\d+ 200 hit \S+$/ } @main::Load;
Test::More::cmp_ok(scalar(@main::Load), '>', 100,
                   'TEST 4 - the load ran: ' . scalar(@main::Load)
                   . ' requests');
Test::More::is(scalar(@bad), 0, 'TEST 4 - every response 200 with a token')
    or Test::More::diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
Test::More::note("slot $main::Slot from $main::From to $main::To, "
                 . "redirects @main::Redirects");
Test::More::is($main::Redirects[0], 0, 'TEST 4 - no redirect before');
Test::More::cmp_ok($main::Redirects[1], '>', $main::Redirects[0],
                   'TEST 4 - ASK followed during the migration');
Test::More::cmp_ok($main::Redirects[2], '>', $main::Redirects[1],
                   'TEST 4 - MOVED followed after it');
# which redirection was which: in the debug log, when nginx has one
if (open my $log, '<', $Test::Nginx::Util::ErrLogFile) {
    my $text = do { local $/; <$log> };
    if ($text =~ /\[debug\]/) {
        for my $how ('ASK', 'MOVED') {
            Test::More::like($text,
                qr/cometchat redis: $how slot $main::Slot to 127\.0\.0\.1:$main::To,/,
                "TEST 4 - $how followed to the new node (debug log)");
        }
    }
}
my $st = main::fake_stats();
Test::More::is(scalar(grep { @{ $st->{tokens}{$_} || [] } != 1 }
                      @main::Users), 0,
               'TEST 4 - nobody was minted again');
Test::More::is(main::owner(main::key($main::Users[0])), $main::To,
               'TEST 4 - the migrated token is on the new node');
--- request
GET /page.txt
--- more_headers
X-User: cl1
--- response_headers
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]
