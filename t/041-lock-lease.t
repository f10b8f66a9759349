# vi:filetype=perl
#
# The Redis lock is a lease of one cometchat_api_timeout: a lock whose
# holder makes no progress (here one set by hand with a long expiry) is
# taken over after about one API timeout, and the user gets exactly one
# new token.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use CometChatToken;

no_shuffle();
repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

redis_cmd('FLUSHDB');

run_tests();

is(redis_cmd('EXISTS', 'cometchat:testapp:lock:hand-041'), 0,
   '041 - the lock taken over was released after the mint');

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
qr/^\{"calls":\{"create_user":1,"get_user":0,"update_user":0,"delete_user":0,"create_token":1,.*"total":2\}/
--- no_error_log
[alert]
