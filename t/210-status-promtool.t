# vi:filetype=perl
#
# cometchat_status is valid Prometheus text: after some traffic its output
# passes `promtool check metrics` (format and lint), and it carries a
# cometchat_build_info gauge whose version label is the one in
# ngx_http_cometchat_module/ngx_http_cometchat_version.h.  The version is
# also logged at notice level when the configuration is read.

use lib 't/lib';
use Test::Nginx::Socket;
use CometChatEnv;
use CometChatToken;
use File::Temp ();

our ($Promtool) = grep { -x } map { "$_/promtool" }
                  split(/:/, $ENV{PATH} // ''), '/usr/bin';

if (!$Promtool) {
    plan(skip_all => 'promtool not found (apt-get install prometheus)');
} else {
    plan('no_plan');
}

our $Version = do {
    open my $fh, '<', 'ngx_http_cometchat_module/ngx_http_cometchat_version.h'
        or die "version header: $!\n";
    my ($v) = map { /^#define NGX_HTTP_COMETCHAT_VERSION\s+"([^"]+)"/ ? $1 : () }
              <$fh>;
    die "NGX_HTTP_COMETCHAT_VERSION not found\n" unless defined $v;
    $v;
};

no_shuffle();
master_on();
workers(2);

# every status page seen goes through promtool
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_idx, $dry_run) = @_;

    return if $dry_run || !defined $body || $body !~ /^# HELP cometchat_/;

    my $tmp = File::Temp->new(SUFFIX => '.prom');
    print $tmp $body;
    close $tmp;

    my $out = `'$Promtool' check metrics < '$tmp' 2>&1`;
    my $rc = $?;
    Test::More::is($rc, 0, $block->name . " - promtool check metrics exit "
                           . "status (request $req_idx)")
        or Test::More::diag($out);
    Test::More::is($out, '', $block->name . " - promtool check metrics "
                             . "reports no lint problems");

    # the start-up line: logged once by the master when it read the
    # configuration (init_module), not once per worker
    return unless $body =~ /^cometchat_build_info/m;
    my $log = server_root() . '/logs/error.log';
    open my $fh, '<', $log or die "$log: $!\n";
    my $n = grep { /\[notice\] .*cometchat module version \Q$Version\E \(nginx \d/ }
            <$fh>;
    close $fh;
    Test::More::is($n, 1, $block->name . " - the version is logged once at "
                          . "notice level");
});

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config) {
        $block->set_value('config', common_config() . $block->config);
    }
});

redis_cmd('FLUSHDB');
fake_get('/_fake/reset');

run_tests();

__DATA__

=== TEST 1: status after traffic passes promtool, build_info has the version
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /as-carol {
        proxy_pass http://127.0.0.1:$server_port/t;
        proxy_set_header Cookie "uid=carol-210";
    }
    location = /anon {
        proxy_pass http://127.0.0.1:$server_port/t;
        proxy_set_header Cookie "";
    }
    location = /page {
        cometchat on;
        cometchat_session /_whoami;
        proxy_pass http://127.0.0.1:$server_port/_page;
        proxy_set_header Cookie "uid=carol-210";
    }
    location = /_page {
        default_type text/html;
        return 200 "<html><body>hi</body></html>";
    }
    location = /_cometchat/token {
        cometchat_session /_whoami;
        cometchat_token_endpoint;
    }
--- request eval
[
    "GET /_status",
    "GET /as-carol",
    "GET /as-carol",
    "GET /anon",
    "GET /page",
    "GET /_cometchat/token",
    "GET /_status",
]
--- more_headers
Cookie: uid=carol-210
--- response_body_like eval
[
    qr/^# HELP cometchat_requests_total /,
    qr/^status=minted /,
    qr/^status=hit /,
    qr/^status=anonymous /,
    qr/<script/,
    qr/"uid":"carol-210"/,
    qr/^cometchat_requests_total [1-9]
(?s:.*)^# HELP cometchat_build_info .+
^# TYPE cometchat_build_info gauge
^cometchat_build_info\{version="\Q$main::Version\E",nginx="\d+\.\d+\.\d+",hiredis="\d+\.\d+\.\d+",libcurl="\d+\.\d+\.\d+[^"]*",yajl="\d+\.\d+\.\d+"\} 1$/m,
]
--- no_error_log
[alert]
[crit]
