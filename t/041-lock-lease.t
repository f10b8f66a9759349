# vi:filetype=perl
#
# The Redis lock is a lease of one cometchat_api_timeout: a page waits
# about one API timeout at most for someone else's mint, and the user gets
# exactly one new token, whatever became of the holder:
#
#   - a lock set by hand with a long expiry is taken over after about one
#     API timeout;
#   - a second nginx stopped (nginx -s stop) while its mint call is in
#     flight deletes its lock on the way out: the page mints at once;
#   - a second nginx killed (SIGKILL) while its mint call is in flight
#     leaves its lock, which nobody renews any more: the page mints once
#     the lease has run out or it took the lock over, about one API timeout.
#
# The second nginx has a 2 s API timeout (a lease of 2 s) so that this
# script has time to end it while its call runs; the page's nginx has 1 s.
# The ended host's call reached the fake, and the fake answers it after its
# delay all the same: it mints a token nobody will see (the user exists, so
# create_token always mints). What is certain is then: two create_token
# calls and two tokens at the fake, and Redis holds the one the page got.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes qw(sleep time);

no_shuffle();
repeat_each(1);

second_port();

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

my %Page;               # uid => the token its page got
my $Pending;            # the request left on the second nginx

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_idx, $dry_run) = @_;

    return if $dry_run || !defined $body;

    if ($body =~ /^status=minted token=(([\w-]+?)_\d{10}[0-9a-f]{32})\n/) {
        $Page{$2} = $1;
        return;
    }

    return unless $body =~ /^\{"calls":/;

    my $stats = JSON::PP::decode_json($body);

    for my $uid (qw(stop-041 kill-041)) {
        next unless $block->name =~ /\b$uid\b/;

        my $page = $Page{$uid};
        my @minted = @{ $stats->{tokens}{$uid} || [] };

        ok(defined $page, $block->name . " - the page got a token");
        is(scalar @minted, 2, $block->name . " - the fake minted two tokens "
                              . "for $uid: the ended host's, the page's");
        ok(defined $page && grep({ $_ eq $page } @minted),
           $block->name . " - the page's token is one of them");
        is(redis_cmd('GET', "cometchat:testapp:token:$uid"), $page,
           $block->name . " - Redis holds the page's token");
    }
});

# a mint for $uid on a second nginx, left with its create_token call in
# flight at the fake; returns the pid of the worker holding the lock

sub mint_on_second {
    my ($uid) = @_;

    my ($stats, $lock, @workers);

    CometChatToken::start_second_nginx("    cometchat_api_timeout 2s;\n");

    $Pending = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => second_port(),
                                     Proto => 'tcp', Timeout => 5)
        or die "041: cannot connect to the second nginx: $!\n";
    print $Pending "GET /t HTTP/1.1\r\nHost: second\r\n"
                   . "Cookie: uid=$uid\r\nConnection: close\r\n\r\n";

    my $deadline = time + 10;
    for (;;) {
        $stats = JSON::PP::decode_json(fake_get('/_fake/stats'));
        last if $stats->{calls}{create_token} >= 1;
        die "041: the second nginx did not call create_token\n"
            if time > $deadline;
        sleep 0.01;
    }

    # the page's own calls are not delayed
    fake_get('/_fake/set?delay_ms=0&delay_on=create_token');

    # (its master listens before it starts the worker: ask only now)
    @workers = CometChatToken::second_worker_pids();
    die "041: the second nginx has no worker\n" unless @workers == 1;

    $lock = redis_cmd('GET', "cometchat:testapp:lock:$uid");
    like($lock // '', qr/:$workers[0]:\d+$/,
         "041 - $uid: the second nginx's worker holds the lock");

    return $workers[0];
}

sub end_second {
    my ($uid, $how, $worker) = @_;

    CometChatToken::end_second_nginx($how);
    close $Pending;
    undef $Pending;

    if ($how eq 'stop') {
        is(redis_cmd('EXISTS', "cometchat:testapp:lock:$uid"), 0,
           "041 - $uid: the stopped worker deleted its lock on exit");

    } else {
        like(redis_cmd('GET', "cometchat:testapp:lock:$uid") // '',
             qr/:$worker:\d+$/,
             "041 - $uid: the killed worker's lock is still there");
    }
}

# the ended host's call at the fake answers after its delay: wait for it

sub fake_idle {
    my $deadline = time + 15;
    until (JSON::PP::decode_json(fake_get('/_fake/stats'))->{in_flight}
           == 0)
    {
        die "041: the fake is still busy\n" if time > $deadline;
        sleep 0.05;
    }
}

redis_cmd('FLUSHDB');

run_tests();

for my $uid (qw(hand-041 stop-041 kill-041)) {
    is(redis_cmd('EXISTS', "cometchat:testapp:lock:$uid"), 0,
       "041 - the lock for $uid was released after the mint");
}

__DATA__

=== TEST 1: a lock set by hand for 60 s: taken over after about one API timeout
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_api_timeout 1s;
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::redis_cmd('SET', 'cometchat:testapp:lock:hand-041',
                        'a-host-set-by-hand', 'PX', 60000);
--- request
GET /t
--- more_headers
Cookie: uid=hand-041
--- timeout: 3
--- response_headers
X-CC-Status: minted
--- response_body_like eval
qr/^status=minted token=hand-041_\w+\n\z/
--- error_log
took over the lock of "a-host-set-by-hand"
--- no_error_log
[alert]



=== TEST 2: (same nginx) ... and exactly one token was minted
--- request
GET /_fake/stats
--- response_body_like eval
CometChatEnv::fake_calls({create_user => 1, create_token => 1})
--- no_error_log
[alert]



=== TEST 3: stop-041: a host stopped mid-mint deleted its lock; the page mints at once
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_api_timeout 1s;
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/seed_user?uid=stop-041');
CometChatEnv::fake_get('/_fake/set?delay_ms=4000&delay_on=create_token');
main::end_second('stop-041', 'stop', main::mint_on_second('stop-041'));
--- request
GET /t
--- more_headers
Cookie: uid=stop-041
--- timeout: 3
--- response_headers
X-CC-Status: minted
--- response_body_like eval
qr/^status=minted token=stop-041_\w+\n\z/
--- no_error_log
gave up waiting for another mint
[error]
[alert]



=== TEST 4: stop-041: (same nginx) ... one create_token for the page, its token in Redis
--- init
main::fake_idle();
--- request
GET /_fake/stats
--- response_body_like eval
CometChatEnv::fake_calls({create_token => 2})
--- no_error_log
[alert]



=== TEST 5: kill-041: a host killed mid-mint left its lock; the page mints within about one API timeout
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    cometchat_api_timeout 1s;
--- init
CometChatEnv::fake_get('/_fake/reset');
CometChatEnv::fake_get('/_fake/seed_user?uid=kill-041');
CometChatEnv::fake_get('/_fake/set?delay_ms=4000&delay_on=create_token');
main::end_second('kill-041', 'kill', main::mint_on_second('kill-041'));
--- request
GET /t
--- more_headers
Cookie: uid=kill-041
--- timeout: 3
--- response_headers
X-CC-Status: minted
--- response_body_like eval
qr/^status=minted token=kill-041_\w+\n\z/
--- no_error_log eval
[
    qr/another mint of "kill-041"(?!:)/,
    "[error]",
    "[alert]",
]



=== TEST 6: kill-041: (same nginx) ... one create_token for the page, its token in Redis
--- init
main::fake_idle();
--- request
GET /_fake/stats
--- response_body_like eval
CometChatEnv::fake_calls({create_token => 2})
--- no_error_log
[alert]
