# vi:filetype=perl
#
# The Debian package (make deb, tools/deb): dpkg -i it, run the distro
# nginx with a configuration that loads the module through
# /etc/nginx/modules-enabled/*.conf as /etc/nginx/nginx.conf does, check a
# page gets the widget, then dpkg -r and dpkg -P and check nothing is left.
#
# Installs into the real system: runs only as root, where dpkg-deb and
# /usr/sbin/nginx exist and the package is not installed already; puts
# /etc/nginx/modules-enabled back as it was.  Uses build/*.deb when there
# is one (COMETCHAT_DEB=path to choose), else builds it with tools/deb.

use strict;
use warnings;

use lib 't/lib';
use Cwd ();
use File::Temp ();
use HTTP::Tiny ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $Pkg = 'libnginx-mod-http-cometchat';
my $So = '/usr/lib/nginx/modules/ngx_http_cometchat_module.so';
my $Conf = '/usr/share/nginx/modules-available/mod-http-cometchat.conf';
my $EnabledDir = '/etc/nginx/modules-enabled';
my $Link = "$EnabledDir/50-mod-http-cometchat.conf";
my $Doc = "/usr/share/doc/$Pkg";
my $Nginx = '/usr/sbin/nginx';

sub which {
    my $prog = shift;
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/sbin') {
        return "$dir/$prog" if -x "$dir/$prog";
    }
    return undef;
}

sub installed {
    my $st = `dpkg-query -W -f='\${db:Status-Status}' $Pkg 2>/dev/null`;
    return $st // '';
}

plan skip_all => 'needs root: installs a package with dpkg' if $> != 0;
plan skip_all => 'dpkg-deb not found' unless which('dpkg-deb');
plan skip_all => "$Nginx not found" unless -x $Nginx;
plan skip_all => "$Pkg is installed on this machine; not touching it"
    if installed() =~ /^(?:installed|config-files|half-)/;
plan skip_all => "$EnabledDir missing: no Debian nginx here"
    unless -d $EnabledDir;

# only now: CometChatEnv starts Redis and the fake when they are not shared
require CometChatEnv;
CometChatEnv->import(qw(redis_cmd free_port));

my $top = Cwd::abs_path('.');
my @enabled_before = sort glob("$EnabledDir/*");
my ($tmp, $nginx_pid, $we_installed);

sub sh {
    my $cmd = shift;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub stop_nginx {
    return unless $nginx_pid;
    kill 'QUIT', $nginx_pid;
    my $deadline = time + 10;
    while (kill 0, $nginx_pid) {
        if (time > $deadline) {
            kill 'KILL', $nginx_pid;
            last;
        }
        sleep 0.05;
    }
    undef $nginx_pid;
}

END {
    local $?;
    stop_nginx();
    # whatever happened above: leave the machine as it was
    system("dpkg -P $Pkg >/dev/null 2>&1") if $we_installed && installed();
}

# ---- the package -----------------------------------------------------------

my $deb = $ENV{COMETCHAT_DEB};
if (!$deb) {
    ($deb) = sort { -M $a <=> -M $b } glob("$top/build/${Pkg}_*.deb");
}
if (!$deb) {
    my ($rc, $out) = sh("'$top/tools/deb'");
    is($rc, 0, 'tools/deb builds the package') or diag($out);
    ($deb) = $out =~ m{^(/\S+\.deb)$}m;
}
ok($deb && -f $deb, 'package: ' . ($deb // 'none'))
    or BAIL_OUT('no package to install');

my ($upstream) = do {
    open my $fh, '<', "$top/ngx_http_cometchat_module/ngx_http_cometchat_version.h"
        or die $!;
    map { /^#define NGX_HTTP_COMETCHAT_VERSION\s+"([^"]+)"/ ? $1 : () } <$fh>;
};
like($deb, qr{/\Q${Pkg}_$upstream\E-\d+_[a-z0-9]+\.deb$},
     "the file name carries version $upstream");

my ($rc, $out) = sh("dpkg-deb -f '$deb' Depends Section Priority");
like($out, qr/^Depends: nginx-abi-[\d.]+-\d+, .*libhiredis.*$/m,
     'Depends: the nginx ABI first, then the libraries');
like($out, qr/^Depends: .*libcurl.*$/m, 'Depends: libcurl');
like($out, qr/^Depends: .*libyajl.*$/m, 'Depends: yajl');
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx 2>/dev/null`
            =~ /(nginx-abi-[^\s,]+)/;
SKIP: {
    skip 'the installed nginx provides no nginx-abi', 1 unless $abi;
    like($out, qr/^Depends: \Q$abi\E,/m, "the ABI is the installed one: $abi");
}

# ---- install ---------------------------------------------------------------

($rc, $out) = sh("dpkg -i '$deb'");
$we_installed = 1;
is($rc, 0, 'dpkg -i') or diag($out);
is(installed(), 'installed', 'dpkg says installed');
ok(-f $So, "$So is there");
ok(-f $Conf, "$Conf is there");
ok(-l $Link, "$Link is a symlink");
is(readlink($Link) // '', $Conf, '... to modules-available');

# ---- the distro nginx with the installed module ----------------------------

$tmp = File::Temp->newdir('cometchat-deb-XXXXXX', TMPDIR => 1);
my $p = "$tmp";
mkdir "$p/$_" for qw(conf logs html);
# Debian's layout: load_module modules/... is relative to the prefix
symlink '/usr/lib/nginx/modules', "$p/modules" or die "symlink: $!";

open my $fh, '>', "$p/html/index.html" or die $!;
print $fh "<!doctype html>\n<html><head><title>deb</title></head>"
          . "<body><p>installed from the package</p></body></html>\n";
close $fh;

my $port = free_port();
my $redis = $ENV{TEST_NGINX_REDIS_PORT};
my $fake = $ENV{TEST_NGINX_FAKE_URL};

open $fh, '>', "$p/conf/nginx.conf" or die $!;
print $fh <<_EOC_;
include $EnabledDir/*.conf;
user root;
worker_processes 1;
daemon on;
pid $p/logs/nginx.pid;
error_log $p/logs/error.log info;

events { worker_connections 64; }

http {
    access_log $p/logs/access.log;
    default_type application/octet-stream;
    types { text/html html; }

    cometchat_redis 127.0.0.1:$redis;

    server {
        listen 127.0.0.1:$port;
        root $p/html;

        cometchat_app_id   testapp;
        cometchat_region   eu;
        cometchat_api_key  test-rest-key;
        cometchat_api_url  $fake;
        cometchat_session  /_whoami;

        location / {
            cometchat on;
        }

        location = /_whoami {
            internal;
            proxy_pass http://127.0.0.1:$port/_who;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location = /_who {
            if (\$cookie_uid = "") {
                return 401;
            }
            add_header X-User-Id \$cookie_uid;
            return 204;
        }

        location = /_status {
            cometchat_status;
        }
    }
}
_EOC_
close $fh;

($rc, $out) = sh("$Nginx -p '$p/' -c '$p/conf/nginx.conf' -e '$p/logs/error.log' -t");
is($rc, 0, 'nginx -t with include modules-enabled/*.conf') or diag($out);

($rc, $out) = sh("$Nginx -p '$p/' -c '$p/conf/nginx.conf' -e '$p/logs/error.log'");
is($rc, 0, 'the distro nginx starts with the packaged module') or diag($out);
for (1 .. 200) {
    last if -s "$p/logs/nginx.pid";
    sleep 0.05;
}
if (open my $pf, '<', "$p/logs/nginx.pid") {
    ($nginx_pid) = <$pf> =~ /(\d+)/;
    close $pf;
}
ok($nginx_pid, 'nginx is running');

my $http = HTTP::Tiny->new(timeout => 10);
my $res;
for (1 .. 100) {
    $res = $http->get("http://127.0.0.1:$port/index.html",
                      { headers => { Cookie => 'uid=deb-user-500' } });
    last if $res->{status} != 599;
    sleep 0.05;
}
is($res->{status}, 200, 'signed-in page: 200');
like($res->{content}, qr/CometChatAuth\.start\(config\)/,
     'the widget snippet is in the page');
like($res->{content}, qr/deb-user-500/, '... for this user');
like($res->{content}, qr/<script.*<\/body>/s, '... before </body>');

$res = $http->get("http://127.0.0.1:$port/index.html");
is($res->{status}, 200, 'anonymous page: 200');
unlike($res->{content}, qr/CometChatAuth/, '... without the widget');

$res = $http->get("http://127.0.0.1:$port/_status");
like($res->{content},
     qr/^cometchat_build_info\{version="\Q$upstream\E",/m,
     "status: build_info says $upstream");

open my $el, '<', "$p/logs/error.log" or die $!;
my @alerts = grep { /\[(?:alert|emerg|crit)\]|signal 11/ } <$el>;
close $el;
is(scalar @alerts, 0, 'no [alert], [crit], [emerg] or crash in the error log')
    or diag(@alerts);

stop_nginx();

# ---- remove, purge ---------------------------------------------------------

($rc, $out) = sh("dpkg -r $Pkg");
is($rc, 0, 'dpkg -r') or diag($out);
ok(!-e $So, "remove: $So is gone");
ok(!-e $Conf, "remove: $Conf is gone");
ok(!-e $Link && !-l $Link, "remove: $Link is gone");
# as Debian's module packages: the link is kept aside as *.removed (it
# does not match *.conf), so that an admin's disabling survives reinstall
ok(!grep({ /cometchat/ && /\.conf$/ } glob("$EnabledDir/*")),
   'remove: modules-enabled/*.conf loads nothing of ours');

($rc, $out) = sh("dpkg -P $Pkg");
is($rc, 0, 'dpkg -P') or diag($out);
is(installed(), '', 'purge: dpkg knows nothing of the package');
ok(!-e "$Link.removed" && !-l "$Link.removed", 'purge: no *.removed link');
ok(!-e $Doc, "purge: $Doc is gone");
is_deeply([sort glob("$EnabledDir/*")], \@enabled_before,
          "$EnabledDir is as it was before the test");
undef $we_installed;

done_testing();
