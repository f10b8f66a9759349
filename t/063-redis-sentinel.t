# vi:filetype=perl
#
# cometchat_redis sentinel=NAME: the sentinels are asked for the master,
# ROLE is checked, and a failover is followed.  One primary, one replica,
# three sentinels (quorum 2, down-after 1 s, failover-timeout 3 s), all
# real redis-server / redis-sentinel processes on free loopback ports.
# The primary is SIGKILLed while a load of signed-in requests for cached
# users runs: every response is a 200 with its token, a user new during
# the failover is minted once, the promoted replica gets the tokens
# minted after (and the one minted during) the failover, and
# cometchat_redis_failovers_total says 1.

use lib 't/lib';
use Test::Nginx::Socket;
use CometChatEnv;
use CometChatRedis;

use JSON::PP ();
use POSIX ();
use Time::HiRes ();

BEGIN {
    if (!CometChatRedis::bin('redis-sentinel')
        && !CometChatRedis::bin('redis-server'))
    {
        print "1..0 # SKIP redis-sentinel (and redis-server) not found\n";
        exit 0;
    }
}

plan 'no_plan';

our $P1 = CometChatRedis::start();
our $P2 = CometChatRedis::start(args => ['--replicaof', '127.0.0.1', $P1]);
our @S;
for (1 .. 3) {
    push @S, CometChatRedis::start(sentinel => 1, conf => <<"_EOS_");
sentinel monitor mymaster 127.0.0.1 $P1 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 3000
sentinel parallel-syncs mymaster 1
_EOS_
}

# the sentinels know each other and the replica before we start
CometChatRedis::wait_for('the sentinels to meet', 30, sub {
    for my $s (@S) {
        my $others = CometChatRedis::cmd($s, 'SENTINEL', 'sentinels',
                                         'mymaster');
        my $reps = CometChatRedis::cmd($s, 'SENTINEL', 'replicas',
                                       'mymaster');
        return 0 unless ref $others && @$others == 2
                        && ref $reps && @$reps == 1;
    }
    my $link = CometChatRedis::cmd($P2, 'INFO', 'replication') // '';
    return $link =~ /master_link_status:up/;
});

$ENV{TEST_NGINX_SENTINELS} = join ' ', map { "127.0.0.1:$_" } @S;

sub key { "cometchat:testapp:token:$_[0]" }
sub p1 { CometChatRedis::cmd($P1, @_) }
sub p2 { CometChatRedis::cmd($P2, @_) }

sub fake_stats {
    JSON::PP::decode_json(CometChatEnv::fake_get('/_fake/stats'));
}

sub fake_token {
    my $list = fake_stats()->{tokens}{ $_[0] } || [];
    return ref $list->[-1] ? $list->[-1]{authToken} : $list->[-1];
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

our @Cached = map { "sen$_" } 1 .. 5;
our ($LoadPid, $LoadFile);

# requests for the cached users, one after another, until told to stop
sub start_load {
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
            my $u = $Cached[$i++ % @Cached];
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

our @Load;
our ($DuringCode, $DuringStatus);

sub failover {
    start_load();
    # let the load run against the healthy primary first
    CometChatRedis::wait_for('the load to start', 10,
                             sub { (-s $LoadFile // 0) > 200 });
    CometChatRedis::kill_server($P1);

    # a user nobody has seen, while the master is gone
    ($DuringCode, $DuringStatus) = get('/page.txt', 'during1');

    CometChatRedis::wait_for('the sentinels to promote the replica', 30,
        sub {
            my $m = CometChatRedis::cmd($S[0], 'SENTINEL',
                                        'get-master-addr-by-name',
                                        'mymaster');
            ref $m && $m->[1] == $P2;
        });
    CometChatRedis::wait_for('nginx to follow', 30, sub {
        status() =~ /^cometchat_redis_up 1$/m
    });
    # a little load against the new master too
    my $n = -s $LoadFile;
    CometChatRedis::wait_for('more load', 10, sub { -s $LoadFile > $n + 200 });
    @Load = stop_load();
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
    $block->set_value("timeout", 90) unless defined $block->timeout;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: start: the worker asks the sentinels for mymaster
--- init
CometChatEnv::fake_get('/_fake/reset');
--- http_config
    cometchat_redis sentinel=mymaster $TEST_NGINX_SENTINELS;
--- config
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_failovers_total 0$/m



=== TEST 2: (same nginx) the master named by the sentinels gets the tokens
--- init
CometChatRedis::wait_for('redis up', 20,
                         sub { main::status() =~ /^cometchat_redis_up 1$/m });
--- request eval
[map { "GET /page.txt" } @main::Cached]
--- more_headers eval
[map { "X-User: $_" } @main::Cached]
--- response_headers eval
[map { "X-CC-Status: minted" } @main::Cached]
--- response_body eval
[map { "page\n" } @main::Cached]
--- no_error_log
[error]



=== TEST 3: (same nginx) SIGKILL the primary under load; a new user after it
--- init
for my $u (@main::Cached) {
    Test::More::ok(defined main::p1('GET', main::key($u)),
                   "TEST 3 - $u is on the primary");
}
main::failover();
--- request
GET /page.txt
--- more_headers
X-User: after1
--- response_headers
X-CC-Status: minted
--- response_body
page
--- error_log eval
qr/cometchat: redis "mymaster" is now at 127\.0\.0\.1:$main::P2, was 127\.0\.0\.1:$main::P1/



=== TEST 4: (same nginx) no request failed, each cached user had its token
--- init
my @bad = grep { !/^sen\d 200 hit \S+$/ } @main::Load;
Test::More::cmp_ok(scalar(@main::Load), '>', 20,
                   'TEST 4 - the load ran: ' . scalar(@main::Load)
                   . ' requests');
Test::More::is(scalar(@bad), 0, 'TEST 4 - every response 200 with a token')
    or Test::More::diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
Test::More::is($main::DuringCode, 200, 'TEST 4 - during1 got its page');
Test::More::is($main::DuringStatus, 'minted', 'TEST 4 - with a token');
my $st = main::fake_stats();
Test::More::is(scalar(@{ $st->{tokens}{during1} || [] }), 1,
               'TEST 4 - during1 was minted once');
Test::More::is(scalar(grep { @{ $st->{tokens}{$_} || [] } != 1 }
                      @main::Cached), 0,
               'TEST 4 - no cached user was minted again');
Test::More::ok(defined main::p2('GET', main::key('after1')),
               'TEST 4 - after1 landed on the new primary');
--- request
GET /page.txt
--- more_headers
X-User: during1
--- response_headers
X-CC-Status: hit
--- response_body
page



=== TEST 5: (same nginx) during1's token was written back to the new primary
--- init
Test::More::is(main::p2('GET', main::key('during1')),
               main::fake_token('during1'),
               'TEST 5 - during1 is on the new primary');
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_up 1$(?s:.*)^cometchat_redis_failovers_total 1$/m
