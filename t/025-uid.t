# vi:filetype=perl
#
# The application's user id as a CometChat uid (cometchat_uid_map,
# docs/operations.md "Users and identity"): one-to-one, and always a valid
# uid (a-z, 0-9, "_", "-", at most 100 characters), or refused as an error
# of the session.
#
# A property test first: a few hundred distinct ids, generated with a fixed
# seed (random bytes, mixed case, e-mail addresses, UUIDs in both cases,
# numeric ids, non-ASCII names, long ids, ids that look like escapes or
# hashes), each sent through the session in a request of its own.  Every
# answer must carry the uid uid_of() below gives, every one is minted (no
# two ids share a key), and after the blocks all those uids are distinct,
# valid, in Redis and in the fake's users.
#
# Ids reach the module two ways: raw bytes in a response header (from /_who,
# proxied so that add_header applies; the id travels in the client's
# X-Test-Id header, which the subrequest shares), and JSON strings with
# \u escapes (X-Test-Json, put in the session body by "return").

use utf8;
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;
use Digest::SHA ();
use Encode ();
use JSON::PP ();

# the mapping as docs/operations.md states it; $id is bytes
sub uid_of {
    my ($prefix, $map, $id) = @_;
    my $src = $map eq 'lowercase' ? ($id =~ tr/A-Z/a-z/r) : $id;
    my $esc = join '', map { /[a-z0-9-]/ ? $_ : sprintf('_%02x', ord) }
                       split //, $src;
    return length($prefix) + length($esc) <= 100
           ? $prefix . $esc
           : $prefix . '_h' . Digest::SHA::sha256_hex($src);
}

# a JSON string body (no quotes) for a character string, all ASCII
sub json_text {
    my ($s) = @_;
    my $out = '';
    for my $c (split //, $s) {
        my $o = ord $c;
        if ($c =~ /[A-Za-z0-9.@+_ -]/) {
            $out .= $c;
        } elsif ($o > 0xffff) {
            $o -= 0x10000;
            $out .= sprintf('\\u%04x\\u%04x', 0xd800 + ($o >> 10),
                            0xdc00 + ($o & 0x3ff));
        } else {
            $out .= sprintf('\\u%04x', $o);
        }
    }
    return $out;
}

srand(25);

sub pick { $_[int rand @_] }
sub rstr {
    my ($chars, $min, $max) = @_;
    return join '', map { substr($chars, int rand length $chars, 1) }
                    1 .. $min + int rand($max - $min + 1);
}

my $alnum = join '', 'a' .. 'z', 'A' .. 'Z', 0 .. 9;
my $hex = '0123456789abcdef';

# raw bytes, through a header: no CR, LF, NUL, no space at either end
my (%seen, @raw);
my @bytes = (0x21 .. 0x7e, 0x80 .. 0xff);
while (@raw < 150) {
    my $id = join '', map { chr pick(@bytes) } 1 .. 1 + int rand 60;
    $id =~ s/(?<=.)_(?=.)/ / if rand() < 0.2;       # an inner space
    push @raw, $id unless $seen{$id}++;
}

# characters, through JSON
my @chars;
for (1 .. 60) {                                       # e-mail addresses
    push @chars, rstr($alnum, 1, 12) . pick('.', '_', '+', '-', '')
                 . rstr($alnum, 0, 8) . '@' . rstr($alnum, 2, 10) . '.'
                 . pick('com', 'COM', 'org', 'co.uk', 'de');
}
for (1 .. 40) {                                       # UUIDs, both cases
    my $u = join '-', map { rstr($hex, $_, $_) } 8, 4, 4, 4, 12;
    push @chars, $u, uc $u;
}
push @chars, map { 1 + int rand 1e12 } 1 .. 40;       # numeric
push @chars, 0, 7, 42, '007';
for (1 .. 40) {                                       # any language
    push @chars, join '', map {
        chr pick(0xe0 .. 0xff, 0x391 .. 0x3c9, 0x4e00 .. 0x4e80,
                 0x1f600 .. 0x1f640, 0x41 .. 0x5a, 0x61 .. 0x7a)
    } 1 .. 1 + int rand 12;
}
push @chars, 'José', 'JOSÉ', 'josé', 'Jose', 'Straße', 'STRASSE',
    '山田太郎', 'Admin', 'admin', 'ADMIN', 'aDmIn', 'Bob.Smith',
    'bob.smith', 'bob_smith', 'bob-smith', 'bob smith';
# ids that look like what the mapping makes of others
push @chars, 'a@', 'a_40', '_', '_5f', 'A', '_41', '_h', 'h', '__', '-',
    '_' . Digest::SHA::sha256_hex('y' x 200),
    '_h' . Digest::SHA::sha256_hex('y' x 200);
for my $len (33, 34, 50, 99, 100, 101, 150, 300, 1024) {   # long
    push @chars, rstr($alnum, $len, $len), 'z' x $len;
}
push @chars, 'y' x 200, 'Y' x 200, 'Z' x 33, 'z' x 33;

my (@json, %seen_bytes);
$seen_bytes{$_}++ for @raw;
for my $c (@chars) {
    my $b = Encode::encode('UTF-8', "$c");
    push @json, [$c, $b] unless $seen_bytes{$b}++;
}

# what each property block sends and expects

our %Expected;          # uid => id, over the escape-mode blocks

our @RawUids = map { uid_of('', 'escape', $_) } @raw;
our @JsonUids = map { uid_of('', 'escape', $_->[1]) } @json;
our @Raw = @raw;
our @Json = map { json_text($_->[0]) } @json;
our @Prefixed = @Json[0 .. 59];
our @PrefixedUids = map { uid_of('pre-', 'escape', $_->[1]) } @json[0 .. 59];

$Expected{$RawUids[$_]} = $raw[$_] for 0 .. $#raw;
$Expected{$JsonUids[$_]} = $json[$_][1] for 0 .. $#json;
$Expected{$_} = 1 for @PrefixedUids;

sub minted { [map { "X-CC-Status: minted\nX-CC-Uid: $_" } @_] }

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
        "    cometchat_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n");

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    cometchat_app_id   testapp;
    cometchat_region   eu;
    cometchat_api_key  test-rest-key;
    cometchat_api_url  $TEST_NGINX_FAKE_URL;
    cometchat_api_timeout 5s;

    add_header X-CC-Status $cometchat_token_status always;
    add_header X-CC-Uid $cometchat_uid always;
    add_header X-CC-Token $cometchat_auth_token always;

    location = /page.txt {
        cometchat on;
        cometchat_session /_whoami;
    }
    location = /json.txt {
        cometchat on;
        cometchat_session /_whoami_json;
        cometchat_session_uid json:id;
        alias html/page.txt;
    }
    location = /prefixed.txt {
        cometchat on;
        cometchat_session /_whoami_json;
        cometchat_session_uid json:id;
        cometchat_uid_prefix pre-;
        alias html/page.txt;
    }
    location = /lower.txt {
        cometchat on;
        cometchat_session /_whoami_json;
        cometchat_session_uid json:id;
        cometchat_uid_prefix lc-;
        cometchat_uid_map lowercase;
        alias html/page.txt;
    }

    # add_header does not apply to subrequests: the header comes over HTTP
    location = /_whoami {
        internal;
        proxy_pass http://127.0.0.1:$server_port/_who;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
    location = /_who {
        add_header X-User-Id $http_x_test_id;
        return 204;
    }
    location = /_whoami_json {
        internal;
        default_type application/json;
        return 200 '{"id":"$http_x_test_json"}';
    }
    location /_fake/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_FAKE_PORT;
    }
_EOC_

    $block->set_value('user_files', ">>> page.txt\npage\n");
    $block->set_value('timeout', 120);
});

redis_cmd('FLUSHDB');
CometChatEnv::fake_get('/_fake/reset');

no_shuffle();
run_tests();

# what the property blocks left behind

my @uids = keys %Expected;
my $n = @RawUids + @JsonUids + @PrefixedUids;
is(scalar @uids, $n, "025 - $n distinct ids, $n distinct uids");
is(scalar(grep { !/\A[a-z0-9_-]{1,100}\z/ } @uids), 0,
   '025 - every uid is a valid CometChat uid');
ok(scalar(grep { /\A(pre-)?_h[0-9a-f]{64}\z/ } @uids) >= 20,
   '025 - the long ids took the hashed form');

my @missing = grep { !redis_cmd('EXISTS', "cometchat:testapp:token:$_") }
              @uids;
is(scalar @missing, 0, '025 - every uid has its own Redis key')
    or diag("missing: @missing[0 .. ($#missing > 4 ? 4 : $#missing)]");

my $stats = CometChatEnv::fake_get('/_fake/stats');
my $users = eval { JSON::PP::decode_json($stats)->{users} } // {};
@missing = grep { !exists $users->{$_} } @uids;
is(scalar @missing, 0, '025 - every uid is a CometChat user')
    or diag("missing: @missing[0 .. ($#missing > 4 ? 4 : $#missing)]");

__DATA__

=== TEST 1: property: raw bytes from a header, each its own uid
--- request eval
[map { "GET /page.txt" } @main::Raw]
--- more_headers eval
[map { "X-Test-Id: $_" } @main::Raw]
--- error_code eval
[map { 200 } @main::Raw]
--- response_headers eval
main::minted(@main::RawUids)
--- no_error_log
[error]



=== TEST 2: property: e-mails, UUIDs, numbers, names, long ids from JSON, each its own uid
--- request eval
[map { "GET /json.txt" } @main::Json]
--- more_headers eval
[map { "X-Test-Json: $_" } @main::Json]
--- error_code eval
[map { 200 } @main::Json]
--- response_headers eval
main::minted(@main::JsonUids)
--- no_error_log
[error]



=== TEST 3: property: with a prefix, which brings the hashed form sooner
--- request eval
[map { "GET /prefixed.txt" } @main::Prefixed]
--- more_headers eval
[map { "X-Test-Json: $_" } @main::Prefixed]
--- error_code eval
[map { 200 } @main::Prefixed]
--- response_headers eval
main::minted(@main::PrefixedUids)
--- no_error_log
[error]



=== TEST 4: the examples of docs/operations.md, as the property blocks saw them
--- request eval
[map { "GET /json.txt" } 1 .. 9]
--- more_headers eval
["X-Test-Json: bob.smith\@example.com",
 "X-Test-Json: Bob.Smith\@Example.com",
 "X-Test-Json: 8c1f3b9e-4f7a-4d2b-9c1e-2a7d5e6f8a9b",
 "X-Test-Json: 8C1F3B9E-4F7A-4D2B-9C1E-2A7D5E6F8A9B",
 "X-Test-Json: 12345",
 "X-Test-Json: Admin",
 "X-Test-Json: admin",
 "X-Test-Json: Jos\\u00e9",
 "X-Test-Json: bob_smith"]
--- response_headers eval
["X-CC-Status: minted\nX-CC-Uid: bob_2esmith_40example_2ecom",
 "X-CC-Status: minted\nX-CC-Uid: _42ob_2e_53mith_40_45xample_2ecom",
 "X-CC-Status: minted\nX-CC-Uid: 8c1f3b9e-4f7a-4d2b-9c1e-2a7d5e6f8a9b",
 "X-CC-Status: minted\nX-CC-Uid: 8_431_463_429_45-4_467_41-4_442_42-9_431_45-2_417_445_456_468_419_42",
 "X-CC-Status: minted\nX-CC-Uid: 12345",
 "X-CC-Status: hit\nX-CC-Uid: _41dmin",
 "X-CC-Status: hit\nX-CC-Uid: admin",
 "X-CC-Status: hit\nX-CC-Uid: _4aos_c3_a9",
 "X-CC-Status: hit\nX-CC-Uid: bob_5fsmith"]
--- no_error_log
[error]



=== TEST 5: Admin and admin in Redis: two keys, two tokens
--- request eval
["GET /json.txt", "GET /json.txt"]
--- more_headers eval
["X-Test-Json: Admin", "X-Test-Json: admin"]
--- response_headers_like eval
["X-CC-Status: hit\nX-CC-Uid: _41dmin\nX-CC-Token: _41dmin_\\d{10}[0-9a-f]{32}",
 "X-CC-Status: hit\nX-CC-Uid: admin\nX-CC-Token: admin_\\d{10}[0-9a-f]{32}"]
--- no_error_log
[error]



=== TEST 6: cometchat_uid_map lowercase: ids that differ in case share one uid and one token; e-mails and long ids still map
--- request eval
[map { "GET /lower.txt" } 1 .. 8]
--- more_headers eval
["X-Test-Json: Admin", "X-Test-Json: ADMIN", "X-Test-Json: admin",
 "X-Test-Json: Bob.Smith\@Example.COM", "X-Test-Json: bob.smith\@example.com",
 "X-Test-Json: " . ("X" x 200), "X-Test-Json: " . ("x" x 200),
 "X-Test-Json: A_b"]
--- response_headers eval
["X-CC-Status: minted\nX-CC-Uid: lc-admin",
 "X-CC-Status: hit\nX-CC-Uid: lc-admin",
 "X-CC-Status: hit\nX-CC-Uid: lc-admin",
 "X-CC-Status: minted\nX-CC-Uid: lc-bob_2esmith_40example_2ecom",
 "X-CC-Status: hit\nX-CC-Uid: lc-bob_2esmith_40example_2ecom",
 "X-CC-Status: minted\nX-CC-Uid: lc-_h" . Digest::SHA::sha256_hex("x" x 200),
 "X-CC-Status: hit\nX-CC-Uid: lc-_h" . Digest::SHA::sha256_hex("x" x 200),
 "X-CC-Status: minted\nX-CC-Uid: lc-a_5fb"]
--- no_error_log
[error]



=== TEST 7: a NUL in the id: refused, an error of the session, named in the log, escaped
--- request
GET /json.txt
--- more_headers
X-Test-Json: a\u0000b
--- response_headers
X-CC-Status: error
!X-CC-Uid
--- response_body
page
--- error_log
cometchat: session check failed: invalid user id "a%00b" (json:id) from "/_whoami_json": has a control character



=== TEST 8: other control characters: refused too
--- request eval
[map { "GET /json.txt" } 1 .. 3]
--- more_headers eval
["X-Test-Json: \\u001f", "X-Test-Json: del\\u007f",
 "X-Test-Json: Bob\\u000aSmith"]
--- response_headers eval
[map { "X-CC-Status: error\n!X-CC-Uid" } 1 .. 3]
--- no_error_log
[alert]



=== TEST 9: over 1024 bytes: refused, and cut in the log line
--- request
GET /json.txt
--- more_headers eval
"X-Test-Json: " . ("q" x 1025)
--- response_headers
X-CC-Status: error
--- error_log eval
qr/invalid user id "q{128}\.\.\." \(json:id\) from "\/_whoami_json": longer than 1024 bytes/



=== TEST 10: a raw non-UTF-8 byte and a space from a header
--- request eval
["GET /page.txt", "GET /page.txt"]
--- more_headers eval
["X-Test-Id: caf\xe9", "X-Test-Id: ann lee"]
--- response_headers eval
["X-CC-Status: minted\nX-CC-Uid: caf_e9", "X-CC-Status: minted\nX-CC-Uid: ann_20lee"]
--- no_error_log
[error]
