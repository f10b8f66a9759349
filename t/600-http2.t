# vi:filetype=perl
#
# HTTP/2: the distro nginx with "listen ... ssl http2" (1.22 syntax) and a
# throwaway certificate made with openssl at test time; curl --http2.
# Injection, the token endpoint and the status page work over HTTP/2; a
# 200 KB page (more than a stream's 64 KB flow-control window) gets the
# snippet exactly once before </body> and is otherwise byte-identical; a
# client that resets a stream mid-body (RST_STREAM with python3-h2, and
# curl giving up mid-transfer) leaves the worker serving the next request
# with no [alert] or crash in the error log.
#
# Skipped without curl with HTTP2, openssl, or an nginx without
# http_v2_module.

use strict;
use warnings;

use lib 't/lib';
use Cwd ();
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $Top = Cwd::abs_path('.');

sub which {
    my $prog = shift;
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/sbin') {
        return "$dir/$prog" if -x "$dir/$prog";
    }
    return undef;
}

my $curl = which('curl');
plan skip_all => 'curl not found' unless $curl;
plan skip_all => 'curl lacks HTTP2' unless `'$curl' -V 2>&1` =~ /^Features:.*\bHTTP2\b/m;
plan skip_all => 'openssl not found' unless which('openssl');
plan skip_all => "$Nginx lacks http_v2_module or http_ssl_module"
    unless `'$Nginx' -V 2>&1` =~ /--with-http_v2_module/
        && `'$Nginx' -V 2>&1` =~ /--with-http_ssl_module/;

my @modules = grep { $_ ne '' } split /\s+/,
    $ENV{TEST_NGINX_LOAD_MODULES} // "$Top/build/ngx_http_cometchat_module.so";
for (@modules) {
    plan skip_all => "module $_ not built (make)" unless -f $_;
}

require CometChatEnv;
CometChatEnv->import(qw(redis_cmd fake_get free_port));

my $root = ($ENV{TEST_NGINX_SERVROOT} || "$Top/t/servroot") . '-http2';
$root = "$Top/$root" unless $root =~ m{^/};
remove_tree($root);
make_path("$root/conf", "$root/logs", "$root/html");

my $nginx_pid;

END {
    local $?;
    if ($nginx_pid) {
        kill 'QUIT', $nginx_pid;
        my $deadline = time + 10;
        while (kill 0, $nginx_pid) {
            if (time > $deadline) { kill 'KILL', $nginx_pid; last }
            sleep 0.05;
        }
    }
}

sub spew {
    my ($path, $data) = @_;
    open my $fh, '>:raw', $path or die "$path: $!\n";
    print $fh $data;
    close $fh;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

# ---- certificate, pages, configuration -------------------------------------

my $out = `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \\
    -nodes -days 1 -subj /CN=localhost -keyout '$root/conf/key.pem' \\
    -out '$root/conf/cert.pem' 2>&1`;
is($?, 0, 'openssl makes a throwaway certificate') or diag($out);

my $snippet = "[cc:\$cometchat_uid]\n";
spew("$root/html/snip.html", $snippet);

my $small = "<!DOCTYPE html>\n<html><head><title>h2</title></head>\n"
            . "<body><p>over HTTP/2</p></body></html>\n";
spew("$root/html/small.html", $small);

# 200 KB, with a decoy "</body>" early on; the last one gets the snippet
my $big = "<!DOCTYPE html>\n<html><head><title>big</title></head><body>\n"
          . "<script>var s = \"</body>\";</script>\n";
my $i = 0;
while (length $big < 200 * 1024) {
    $big .= sprintf "<p>line %06d: the quick brown fox jumps over the lazy "
                    . "dog, %s</p>\n", $i, 'x' x ($i % 50);
    $i++;
}
$big .= "</body>\n</html>\n";
spew("$root/html/big.html", $big);

my $port = free_port();
my $sport = free_port($port);      # plain HTTP, for the session answer
my $redis = $ENV{TEST_NGINX_REDIS_PORT};
my $fake = $ENV{TEST_NGINX_FAKE_URL};
my $load = join '', map { "load_module $_;\n" } @modules;
my $user = $> == 0 ? "user root;\n" : '';

spew("$root/conf/nginx.conf", <<_EOC_);
$load
$user
worker_processes 2;
daemon on;
master_process on;
pid $root/logs/nginx.pid;
error_log $root/logs/error.log info;

events { worker_connections 256; }

http {
    access_log $root/logs/access.log;
    default_type application/octet-stream;
    types { text/html html; }

    cometchat_redis 127.0.0.1:$redis;

    server {
        listen 127.0.0.1:$port ssl http2;
        server_name localhost;
        ssl_certificate     $root/conf/cert.pem;
        ssl_certificate_key $root/conf/key.pem;
        root $root/html;

        cometchat_app_id   testapp;
        cometchat_region   eu;
        cometchat_api_key  test-rest-key;
        cometchat_api_url  $fake;
        cometchat_session  /_whoami;
        cometchat_snippet_file $root/html/snip.html;

        location / {
            cometchat on;
        }

        location = /_whoami {
            internal;
            proxy_pass http://127.0.0.1:$sport/_who;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location = /_cometchat/token {
            cometchat_token_endpoint;
        }

        location = /_status {
            cometchat_status;
        }
    }

    # the session answer: X-User-Id from the uid cookie, 401 without it
    server {
        listen 127.0.0.1:$sport;

        location = /_who {
            if (\$cookie_uid = "") {
                return 401;
            }
            add_header X-User-Id \$cookie_uid;
            return 204;
        }
    }
}
_EOC_

$out = `'$Nginx' -p '$root/' -c '$root/conf/nginx.conf' -e '$root/logs/error.log' 2>&1`;
is($?, 0, 'nginx starts with listen ... ssl http2') or diag($out);
for (1 .. 200) {
    last if -s "$root/logs/nginx.pid";
    sleep 0.05;
}
($nginx_pid) = (slurp("$root/logs/nginx.pid") // '') =~ /(\d+)/;
ok($nginx_pid, 'nginx is running') or BAIL_OUT('nginx did not start');

# ---- helpers ---------------------------------------------------------------

my $n = 0;

# curl --http2; returns (exit status, "HTTP version", status, headers, body)
sub h2get {
    my ($path, @opts) = @_;
    $n++;
    my ($hf, $bf) = ("$root/logs/h$n.txt", "$root/logs/b$n.txt");
    my $cmd = join ' ', map { "'$_'" } $curl, '--http2', '-k', '-s', '-S',
        '-o', $bf, '-D', $hf, '-w', '%{http_version} %{http_code}',
        @opts, "https://127.0.0.1:$port$path";
    my $w = `$cmd 2>&1`;
    my $rc = $? >> 8;
    my ($ver, $code) = $w =~ /(\S+) (\d+)\s*$/;
    return ($rc, $ver // '', $code // '', slurp($hf) // '', slurp($bf) // '',
            $w);
}

sub log_problems {
    my $log = slurp("$root/logs/error.log") // '';
    return grep { /\[(?:alert|emerg|crit)\]|signal \d+|core dumped/ }
           split /\n/, $log;
}

for (1 .. 100) {
    last if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    sleep 0.05;
}

# ---- injection -------------------------------------------------------------

my ($rc, $ver, $code, $hdrs, $body) = h2get('/small.html', '-b', 'uid=h2-alice');
is($rc, 0, 'curl --http2 small page');
is($ver, '2', '... spoken over HTTP/2');
is($code, '200', '... 200');
(my $want = $small) =~ s{</body>}{[cc:h2-alice]\n</body>};
is($body, $want, '... the snippet before </body>, the rest unchanged');

($rc, $ver, $code, $hdrs, $body) = h2get('/small.html');
is("$ver $code", '2 200', 'anonymous over HTTP/2: 200');
is($body, $small, '... the page untouched');

# ---- token endpoint, status ------------------------------------------------

($rc, $ver, $code, $hdrs, $body) = h2get('/_cometchat/token', '-b', 'uid=h2-alice');
is("$ver $code", '2 200', 'token endpoint over HTTP/2: 200');
like($body, qr/"uid":"h2-alice"/, '... for the user');
like($body, qr/"authToken":"h2-alice_\d+[0-9a-f]+"/, '... with a token');

($rc, $ver, $code, $hdrs, $body) = h2get('/_cometchat/token');
is("$ver $code", '2 401', 'token endpoint, anonymous: 401');

($rc, $ver, $code, $hdrs, $body) = h2get('/_status');
is("$ver $code", '2 200', 'status over HTTP/2: 200');
like($hdrs, qr{^content-type: text/plain; version=0\.0\.4\r?$}mi,
     '... Prometheus text');
like($body, qr/^cometchat_snippets_injected_total [1-9]/m,
     '... counting the injected page');

# ---- a page larger than the stream window ----------------------------------

($rc, $ver, $code, $hdrs, $body) = h2get('/big.html', '-b', 'uid=h2-bob');
is("$ver $code", '2 200', '200 KB page over HTTP/2: 200');
my $count = () = $body =~ /\[cc:h2-bob\]/g;
is($count, 1, '... the snippet exactly once');
($want = $big) =~ s{</body>\n</html>\n\z}{[cc:h2-bob]\n</body>\n</html>\n};
ok($body eq $want, '... right before the last </body>, the rest '
                   . 'byte-identical (' . length($body) . ' bytes)')
    or diag('got ' . length($body) . ' bytes, want ' . length($want));
if ($hdrs =~ /^content-length: (\d+)/mi) {
    is($1, length $want, '... Content-Length is the injected length');
}

# the same page to a slow reader: nginx waits on the stream window
($rc, $ver, $code, $hdrs, $body) = h2get('/big.html', '-b', 'uid=h2-bob',
                                          '--limit-rate', '2M');
ok($body eq $want, '200 KB page, rate-limited reader: identical');

# ---- clients that go away mid-body -----------------------------------------

my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : which('python3');
SKIP: {
    skip 'python3-h2 not installed (apt-get install python3-h2)', 4
        unless $python && system("'$python' -c 'import h2' 2>/dev/null") == 0;

    my $o = `'$python' '$Top/t/lib/h2-reset-client.py' 127.0.0.1 $port /big.html /small.html uid=h2-carol 2>&1`;
    is($?, 0, 'h2 client: RST_STREAM mid-body, then a new stream')
        or diag($o);
    like($o, qr/^reset after \d+ bytes$/m, '... reset after the first DATA');
    like($o, qr/^status 200$/m, '... the next stream on the connection: 200');
    like($o, qr/\[cc:h2-carol\]\n<\/body>/, '... and injected');
}

# curl gives up after 1 s while reading the big page at 20 KB/s
($rc) = h2get('/big.html', '-b', 'uid=h2-dave', '--limit-rate', '20k',
              '--max-time', '1');
is($rc, 28, 'curl aborts the 200 KB transfer mid-body (timeout)');

($rc, $ver, $code, $hdrs, $body) = h2get('/small.html', '-b', 'uid=h2-dave');
is("$ver $code", '2 200', 'the next request works');
like($body, qr/\[cc:h2-dave\]\n<\/body>/, '... injected');

sleep 0.3;
my @problems = log_problems();
is(scalar @problems, 0, 'no [alert], [crit], [emerg] or crashed worker in '
                        . 'the error log') or diag(join "\n", @problems);

is(kill(0, $nginx_pid), 1, 'the master is still there');

done_testing();
