# vi:filetype=perl
#
# tools/cometchat-check, the operators' smoke check, run as operators run
# it, against the HTTPS fake (COMETCHAT_API_URL and COMETCHAT_CA_FILE are
# the only test overrides): the whole pipeline passes and the test user is
# deleted again; a wrong key, an unknown certificate and missing variables
# fail with a line that says why; the key and the proxy's credentials are
# never printed.

use strict;
use warnings;

use lib 't/lib';
use JSON::PP ();
use Test::More;
use CometChatEnv;
use CometChatTLS;

my $Check = 'tools/cometchat-check';
my $Key = 'test-rest-key';

my %Base = (
    COMETCHAT_APP_ID  => 'testapp',
    COMETCHAT_REGION  => 'eu',
    COMETCHAT_API_KEY => $Key,
    COMETCHAT_API_URL => $ENV{TEST_NGINX_FAKE_URL},
    COMETCHAT_CA_FILE => "$ENV{TEST_NGINX_TLS_DIR}/ca.pem",
);

# the nginx and module the suites use (the ASan build has it compiled in)
my $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $Module = ($ENV{TEST_NGINX_LOAD_MODULES} // '') =~ /(\S+)/ ? $1 : 'none';

sub check {
    my %env = @_;
    local %ENV = %ENV;
    delete @ENV{grep { /^COMETCHAT_/ } keys %ENV};
    $ENV{COMETCHAT_NGINX} = $Nginx;
    $ENV{COMETCHAT_MODULE} = $Module;
    for my $k (keys %env) {
        if (defined $env{$k}) {
            $ENV{$k} = $env{$k};
        } else {
            delete $ENV{$k};
        }
    }
    my $out = `$Check 2>&1`;
    return ($? >> 8, $out);
}

fake_get('/_fake/reset');

# 1. all steps pass; the user made for the check is gone again
my ($rc, $out) = check(%Base);
is($rc, 0, '082 - the check passes against the HTTPS fake') or diag($out);
like($out, qr/^PASS nginx -t\nPASS create user and mint a token \(page with widget\)\nPASS token endpoint\nPASS second page from the cache\nPASS delete the test user\ncometchat-check: PASS \(5 steps\)\n\z/m,
     '082 - one PASS line per step, then the sum');
my ($uid) = $out =~ /test user (cometchat-check-\d+-\d+)/;
ok($uid, '082 - the test user is named uniquely');
my $st = fake_stats();
is_deeply($st->{calls},
          {create_user => 1, create_token => 1, delete_user => 1,
           update_user => 0, other => 0, total => 3},
          '082 - created (after a token call), then deleted');
is_deeply($st->{users}, {}, '082 - no test user is left');
ok($st->{last_apikey_ok}, '082 - the delete carried the key');
ok($st->{tls}{handshakes} >= 2, '082 - over TLS: the module\'s and the delete\'s')
    or diag(JSON::PP::encode_json($st->{tls}));
unlike($out, qr/\Q$Key\E/, '082 - the key is not printed');

# 2. a wrong key: fails, with CometChat's code, without the key
fake_get('/_fake/reset');
($rc, $out) = check(%Base, COMETCHAT_API_KEY => 'wrong-key-4711');
is($rc, 1, '082 - a wrong key fails the check') or diag($out);
like($out, qr/^FAIL create user and mint a token: status error: CometChat rejected the REST API key \(AUTH_ERR_APIKEY_NOT_FOUND\)/m,
     '082 - the mint step says CometChat rejected the key');
like($out, qr/^FAIL delete the test user: HTTP 401, "code":"AUTH_ERR_APIKEY_NOT_FOUND"/m,
     '082 - so does the delete step');
like($out, qr/^cometchat-check: FAIL \(1 passed, 4 failed\)$/m, '082 - the sum');
unlike($out, qr/wrong-key-4711/, '082 - the wrong key is not printed');

# 3. the system's CA store does not know the test CA
fake_get('/_fake/reset');
($rc, $out) = check(%Base, COMETCHAT_CA_FILE => undef);
is($rc, 1, '082 - an unknown CA fails the check') or diag($out);
like($out, qr/^FAIL create user and mint a token: status error: CometChat "create auth token" call for uid "cometchat-check-\d+-\d+" failed: TLS with localhost:\d+: SSL certificate problem: unable to get local issuer certificate$/m,
     '082 - naming the host and the reason');
is(fake_stats()->{calls}{total}, 0, '082 - and nothing reached CometChat');

# 4. through a proxy with credentials: the module and the delete both
# tunnel; the credentials are not printed
my $pport = start_proxy(user => 'puser', password => 'pr0xy-s3cret');
fake_get('/_fake/reset');
($rc, $out) = check(%Base,
                    COMETCHAT_PROXY => "http://puser:pr0xy-s3cret\@127.0.0.1:$pport");
is($rc, 0, '082 - the check passes through a proxy') or diag($out);
like(proxy_get($pport, '/_proxy/stats'), qr/^\{"tunnels":2,"requests":0,"auth_failed":0,/,
     '082 - two tunnels: the module\'s and the delete\'s');
like($out, qr{through http://\*\*\*\@127\.0\.0\.1:$pport,}, '082 - the proxy shown masked');
unlike($out, qr/pr0xy-s3cret|puser/, '082 - its credentials are not printed');

# 5. nothing set: says what is missing
($rc, $out) = check(COMETCHAT_API_URL => undef, COMETCHAT_CA_FILE => undef);
is($rc, 2, '082 - without the variables the check exits 2');
like($out, qr/missing COMETCHAT_APP_ID COMETCHAT_REGION COMETCHAT_API_KEY/,
     '082 - naming them');

($rc, $out) = check(%Base, COMETCHAT_REGION => undef);
is($rc, 2, '082 - one missing variable is enough to stop');
like($out, qr/FAIL: missing COMETCHAT_REGION$/m, '082 - and it is named');

done_testing();
