# vi:filetype=perl
#
# The Redis connection (ngx_http_cometchat_redis.c) as the token pipeline
# uses it: db= and password= are honoured for reads and writes, unix:
# sockets work, a Redis that goes away or stops answering costs neither
# pages nor a flood of log lines, and the module comes back when it does.
#
# Besides the shared Redis (CometChatEnv), this file starts its own
# redis-server with a password and a unix socket; it pauses that one
# (SIGSTOP) to play a Redis that accepts but never answers.  Checks on what
# landed in Redis run in the `--- init` of the block after the one that
# wrote it (blocks without `--- config` keep the same nginx running).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our ($Redis2Pid, $Redis2Dir);
my $owner = $$;

# a second Redis: password, unix socket, and ours to pause
sub start_redis2 {
    $Redis2Dir = File::Temp::tempdir('cc-redis2-XXXXXX', TMPDIR => 1,
                                     CLEANUP => 1);
    my $port = CometChatEnv::free_port($ENV{TEST_NGINX_REDIS_PORT},
                                       $ENV{TEST_NGINX_FAKE_PORT});
    my $pass = 'r2-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 12);

    $ENV{TEST_NGINX_REDIS2_PORT} = $port;
    $ENV{TEST_NGINX_REDIS2_SOCK} = "$Redis2Dir/redis.sock";
    $ENV{TEST_NGINX_REDIS2_PASS} = $pass;

    my $bin = $ENV{TEST_NGINX_REDIS_BIN} || 'redis-server';
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$Redis2Dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec $bin, '--port', $port, '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--daemonize', 'no', '--dir', $Redis2Dir,
             '--requirepass', $pass,
             '--unixsocket', "$Redis2Dir/redis.sock",
             '--unixsocketperm', '777'
            or POSIX::_exit(127);
    }
    $Redis2Pid = $pid;

    for (1 .. 250) {
        my $r = eval { redis2(0, 'PING') };
        return if defined $r && $r eq 'PONG';
        Time::HiRes::sleep(0.02);
    }
    die "redis2 did not start; see $Redis2Dir/redis.log\n";
}

END {
    if ($$ == $owner && $Redis2Pid) {
        kill 'CONT', $Redis2Pid;
        kill 'TERM', $Redis2Pid;
        waitpid($Redis2Pid, 0);
    }
}

# one command in database $db of the Redis at $where (a port or a unix
# socket path), after AUTH when $pass is set; dies when Redis cannot be
# reached or the connection breaks
sub rcmd {
    my ($where, $pass, $db, @cmd) = @_;
    my $reply = CometChatEnv::redis_cmd({at => $where, password => $pass,
                                         db => $db}, @cmd);
    die "redis: $CometChatEnv::RedisError\n" if defined $CometChatEnv::RedisError;
    return $reply;
}

sub redis1 { rcmd($ENV{TEST_NGINX_REDIS_PORT}, undef, @_) }
sub redis2 { rcmd($ENV{TEST_NGINX_REDIS2_PORT}, $ENV{TEST_NGINX_REDIS2_PASS},
                  @_) }

sub key { "cometchat:testapp:token:$_[0]" }

# the newest token the fake CometChat minted for uid
sub fake_token {
    my ($uid) = @_;
    my $stats = JSON::PP::decode_json(CometChatEnv::fake_get('/_fake/stats'));
    my $list = $stats->{tokens}{$uid} || [];
    return ref $list->[-1] ? $list->[-1]{authToken} : $list->[-1];
}

sub fake_reset { CometChatEnv::fake_get('/_fake/reset') }

# wait (bounded) until the worker's Redis gauge says "up"
sub wait_redis_up {
    my $port = server_port();
    for (1 .. 150) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 2);
        if ($s) {
            print $s "GET /st HTTP/1.0\r\nHost: localhost\r\n\r\n";
            my $r = do { local $/; <$s> } // '';
            return 1 if $r =~ /^cometchat_redis_up 1$/m;
        }
        Time::HiRes::sleep(0.1);
    }
    die "nginx did not reconnect to Redis\n";
}

# [error] lines about Redis in this nginx's log so far (the whole file: a
# block without --- config keeps the previous block's nginx and log)
# the lines about the Redis connection; a lookup's "using the local token
# cache" line is a kind of its own (it goes to the error_log of the server
# of the request), counted by fallback_lines()
sub redis_errors {
    my $log = server_root() . '/logs/error.log';
    open my $in, '<', $log or die "$log: $!\n";
    my @lines = grep { /\[error\].*cometchat: redis/
                       && !/using the local token cache/ } <$in>;
    close $in;
    return @lines;
}

sub fallback_lines {
    my $log = server_root() . '/logs/error.log';
    open my $in, '<', $log or die "$log: $!\n";
    my @lines = grep { /\[error\].*using the local token cache/ } <$in>;
    close $in;
    return @lines;
}

sub error_lines {
    my $log = server_root() . '/logs/error.log';
    open my $in, '<', $log or die "$log: $!\n";
    my @lines = grep { /\[error\]/ } <$in>;
    close $in;
    return @lines;
}

sub log_mentions {
    my ($needle) = @_;
    my $log = server_root() . '/logs/error.log';
    open my $in, '<', $log or die "$log: $!\n";
    my $n = grep { index($_, $needle) >= 0 } <$in>;
    close $in;
    return $n;
}

start_redis2();

my $prelude = <<'_EOC_';
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_api_timeout 3s;

    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
        add_header X-CC-Status $cometchat_token_status always;
        add_header X-CC-Uid $cometchat_uid always;
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

    if (defined $block->config) {
        $block->set_value("config", $prelude . $block->config);
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> page.txt\npage\n");
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: db= is read: the token in db 5 is used, not the one in db 0
--- init
main::redis1(5, 'SET', main::key('dbuser'), 'tok-in-db5', 'EX', 600);
main::redis1(0, 'SET', main::key('dbuser'), 'tok-in-db0', 'EX', 600);
main::fake_reset();
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=5;
--- config
--- request
GET /page.txt
--- more_headers
X-User: dbuser
--- response_headers
X-CC-Status: hit
X-CC-Token: tok-in-db5
--- response_body
page
--- no_error_log
[error]



=== TEST 2: db= is written: a new user's token goes to db 5 only
--- init
main::fake_reset();
main::redis1($_, 'DEL', main::key('dbnew')) for 0, 5;
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=5;
--- config
--- request
GET /page.txt
--- more_headers
X-User: dbnew
--- response_headers
X-CC-Status: minted
--- response_headers_like
X-CC-Token: ^dbnew_\w+$
--- response_body
page
--- no_error_log
[error]



=== TEST 3: (same nginx) the minted token is in db 5 with a TTL, not in db 0
--- init
my $t = main::fake_token('dbnew');
Test::More::ok(defined $t, "TEST 3 - the fake minted a token for dbnew");
Test::More::is(main::redis1(5, 'GET', main::key('dbnew')), $t,
               "TEST 3 - db 5 holds the minted token");
Test::More::cmp_ok(main::redis1(5, 'TTL', main::key('dbnew')), '>', 0,
                   "TEST 3 - with an expiry");
Test::More::is(main::redis1(0, 'GET', main::key('dbnew')), undef,
               "TEST 3 - db 0 does not");
--- request
GET /page.txt
--- more_headers
X-User: dbnew
--- response_headers
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]



=== TEST 4: password= and db= over TCP: a token seeded behind AUTH is read
--- init
main::redis2(3, 'SET', main::key('pwuser'), 'tok-behind-auth', 'EX', 600);
main::fake_reset();
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS2_PORT db=3 password=$TEST_NGINX_REDIS2_PASS;
--- config
--- request
GET /page.txt
--- more_headers
X-User: pwuser
--- response_headers
X-CC-Status: hit
X-CC-Token: tok-behind-auth
--- response_body
page
--- no_error_log eval
["[error]", $ENV{TEST_NGINX_REDIS2_PASS}]



=== TEST 5: password= and db= over TCP: a new user's token is written there
--- init
main::fake_reset();
main::redis2(3, 'DEL', main::key('pwnew'));
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS2_PORT db=3 password=$TEST_NGINX_REDIS2_PASS;
--- config
--- request
GET /page.txt
--- more_headers
X-User: pwnew
--- response_headers
X-CC-Status: minted
--- response_body
page
--- no_error_log eval
["[error]", $ENV{TEST_NGINX_REDIS2_PASS}]



=== TEST 6: (same nginx) the token is in db 3 of the Redis with the password
--- init
my $t = main::fake_token('pwnew');
Test::More::ok(defined $t, "TEST 6 - the fake minted a token for pwnew");
Test::More::is(main::redis2(3, 'GET', main::key('pwnew')), $t,
               "TEST 6 - db 3 holds it");
--- request
GET /page.txt
--- more_headers
X-User: pwnew
--- response_headers
X-CC-Status: hit
--- response_body
page
--- no_error_log
[error]



=== TEST 7: unix: socket with password=: read and write
--- init
main::fake_reset();
main::redis2(0, 'SET', main::key('unixuser'), 'tok-over-unix', 'EX', 600);
main::redis2(0, 'DEL', main::key('unixnew'));
--- http_config
    cometchat_redis unix:$TEST_NGINX_REDIS2_SOCK password=$TEST_NGINX_REDIS2_PASS;
--- config
--- request eval
["GET /page.txt", "GET /page.txt"]
--- more_headers eval
["X-User: unixuser", "X-User: unixnew"]
--- response_headers eval
["X-CC-Status: hit\nX-CC-Token: tok-over-unix", "X-CC-Status: minted"]
--- response_body eval
["page\n", "page\n"]
--- no_error_log eval
["[error]", $ENV{TEST_NGINX_REDIS2_PASS}]



=== TEST 8: (same nginx) the unix connection wrote the new token
--- init
my $t = main::fake_token('unixnew');
Test::More::ok(defined $t, "TEST 8 - the fake minted a token for unixnew");
Test::More::is(main::rcmd($ENV{TEST_NGINX_REDIS2_SOCK},
                          $ENV{TEST_NGINX_REDIS2_PASS}, 0,
                          'GET', main::key('unixnew')),
               $t, "TEST 8 - Redis holds it");
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_up 1$/m
--- no_error_log
[error]



=== TEST 9: a wrong password: pages served, the password never logged
--- init
main::fake_reset();
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS2_PORT password=not-the-password;
--- config
--- request eval
["GET /page.txt", "GET /page.txt", "GET /page.txt", "GET /st"]
--- more_headers eval
["X-User: wrongpw1", "X-User: wrongpw2", "X-User: wrongpw3", ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["^page\$", "^page\$", "^page\$", "cometchat_redis_up 0\n"]
--- response_headers eval
["X-CC-Status: minted", "X-CC-Status: minted", "X-CC-Status: minted", ""]
--- no_error_log
not-the-password



=== TEST 9b: (same nginx) one clear log line for the refused AUTH, no flood
--- init
my @e = main::redis_errors();
Test::More::is(scalar @e, 1, "TEST 9b - one Redis error line")
    or Test::More::diag(@e);
my @f = main::fallback_lines();
Test::More::ok(@f <= 1, "TEST 9b - at most one fallback line")
    or Test::More::diag(@f);
Test::More::like($e[0], qr/cometchat: redis AUTH on "127\.0\.0\.1:\d+" failed: WRONGPASS/,
                 "TEST 9b - it says what failed and where");
Test::More::is(main::log_mentions('not-the-password'), 0,
               "TEST 9b - the password is not in the log");
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_up 0$/m



=== TEST 10: a Redis that accepts but does not answer: timeout, page served
--- init
main::fake_reset();
main::redis2(4, 'DEL', main::key('pauseuser'));
main::wait_redis_up();
kill 'STOP', $main::Redis2Pid;
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS2_PORT db=4 password=$TEST_NGINX_REDIS2_PASS;
    cometchat_redis_timeout 300ms;
--- config
--- request eval
["GET /page.txt", "GET /page.txt", "GET /st"]
--- more_headers eval
["X-User: pauseuser", "X-User: pauseuser2", ""]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
["^page\$", "^page\$", "cometchat_redis_up 0\n"]
--- response_headers eval
["X-CC-Status: minted", "X-CC-Status: minted", ""]
--- no_error_log
[alert]



=== TEST 10b: (same nginx) one line for the timeout; answering again: back
--- init
my @e = main::redis_errors();
Test::More::is(scalar @e, 1, "TEST 10b - one Redis error line")
    or Test::More::diag(@e);
my @f = main::fallback_lines();
Test::More::ok(@f <= 1, "TEST 10b - at most one fallback line")
    or Test::More::diag(@f);
Test::More::like($e[0], qr/cometchat: redis command on "127\.0\.0\.1:\d+" failed: timed out after 300 ms/,
                 "TEST 10b - it says what failed and where");
kill 'CONT', $main::Redis2Pid;
main::wait_redis_up();
--- request
GET /st
--- response_body_like eval
qr/^cometchat_redis_up 1$/m
--- no_error_log
[alert]



=== TEST 11: the shared Redis, up: a new user is minted and cached
--- init
main::fake_reset();
main::redis1(0, 'DEL', main::key($_)) for qw(down1 down2 down3);
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
--- request
GET /page.txt
--- more_headers
X-User: down1
--- response_headers
X-CC-Status: minted
--- response_body
page
--- no_error_log
[error]



=== TEST 12: (same nginx) Redis stopped: pages served, one log line
--- init
CometChatEnv::stop_redis();
--- request eval
["GET /page.txt", "GET /page.txt", "GET /page.txt", "GET /page.txt", "GET /st"]
--- more_headers eval
["X-User: down2", "X-User: down1", "X-User: down2", "X-User: down3", ""]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
["^page\$", "^page\$", "^page\$", "^page\$", "cometchat_redis_up 0\n"]
--- response_headers_like eval
["X-CC-Status: minted\nX-CC-Token: ^down2_\\w+\$",
 "X-CC-Status: hit\nX-CC-Token: ^down1_\\w+\$",
 "X-CC-Status: hit\nX-CC-Token: ^down2_\\w+\$",
 "X-CC-Status: minted\nX-CC-Token: ^down3_\\w+\$",
 ""]
--- no_error_log
[alert]



=== TEST 13: (same nginx) one log line for the outage; back: reconnected
--- init
my @e = main::redis_errors();
Test::More::is(scalar @e, 1, "TEST 13 - one Redis error line for the outage")
    or Test::More::diag(@e);
my @f = main::fallback_lines();
Test::More::ok(@f <= 1, "TEST 13 - at most one fallback line")
    or Test::More::diag(@f);
Test::More::like($e[0], qr/cometchat: redis connection to "127\.0\.0\.1:\d+" failed: /,
                 "TEST 13 - it says what failed and where");
CometChatEnv::start_redis();
main::wait_redis_up();
main::redis1(0, 'DEL', main::key('down4'));
--- request eval
["GET /page.txt", "GET /st"]
--- more_headers eval
["X-User: down4", ""]
--- response_headers eval
["X-CC-Status: minted", ""]
--- response_body_like eval
["^page\$", "cometchat_redis_up 1\n"]
--- no_error_log
[alert]



=== TEST 14: (same nginx) the token minted after recovery is in Redis
--- init
my $t = main::fake_token('down4');
Test::More::ok(defined $t, "TEST 14 - the fake minted a token for down4");
Test::More::is(main::redis1(0, 'GET', main::key('down4')), $t,
               "TEST 14 - Redis holds it");
my @e = grep { !/using the local token cache/ } main::error_lines();
Test::More::is(scalar @e, 1,
               "TEST 14 - still only the outage's error line")
    or Test::More::diag(@e);
--- request
GET /page.txt
--- more_headers
X-User: down4
--- response_headers
X-CC-Status: hit
--- response_body
page
--- no_error_log
[alert]
