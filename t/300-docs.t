# Every nginx configuration example in README.md and docs/*.md passes
# `nginx -t` with the module loaded.  Complete examples (with an http
# block) are tested as they are; fragments are wrapped into a server
# block.  File names and upstreams the examples refer to are provided.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
my $dir = tempdir(CLEANUP => 1);

mkdir "$dir/logs";
open my $k, '>', "$dir/cometchat.key" or die $!;
print $k "docs-test-key\n";
close $k;
open my $s, '>', "$dir/snippet.html" or die $!;
print $s "<script>var uid = \"\$cometchat_uid\";</script>\n";
close $s;

sub examples {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    my ($in, $line, @ex, $buf, $start) = (0, 0);
    while (<$fh>) {
        $line++;
        if (!$in && /^\s*```nginx\s*$/) {
            ($in, $buf, $start) = (1, '', $line);
        } elsif ($in && /^\s*```\s*$/) {
            push @ex, [$start, $buf];
            $in = 0;
        } elsif ($in) {
            $buf .= $_;
        }
    }
    return @ex;
}

sub wrap {
    my ($conf) = @_;
    my $load = join '', map { "load_module $_;\n" } @modules;

    $conf =~ s{^\s*load_module\s+\S*cometchat\S*;\s*$}{}m;
    $conf =~ s{/etc/nginx/cometchat\.key}{$dir/cometchat.key}g;
    $conf =~ s{/etc/nginx/cometchat-snippet\.html}{$dir/snippet.html}g;
    $conf =~ s{\blisten\s+80\b}{listen 127.0.0.1:1}g;
    $conf =~ s{/var/log/nginx/}{$dir/logs/}g;

    my $upstream = ($conf =~ /http:\/\/app\b/ && $conf !~ /upstream\s+app\b/)
                   ? "upstream app { server 127.0.0.1:1; }\n" : '';

    if ($conf =~ /^\s*http\s*\{/m) {
        $conf =~ s/^(\s*http\s*\{)/$1\n$upstream/m;
        return "${load}error_log $dir/logs/error.log;\n"
               . "pid $dir/logs/nginx.pid;\nevents {}\n$conf";
    }

    # a fragment: http-level directives stay at http level
    my ($http, $server) = ('', '');
    for my $l (split /\n/, $conf) {
        if ($l =~ /^\s*cometchat_redis\b/ || $l =~ /^\s*log_format\b/
            || $l =~ /^\s*cometchat_redis_timeout\b/)
        {
            $http .= "$l\n";
        } else {
            $server .= "$l\n";
        }
    }
    # log_format may continue over several lines
    if ($http =~ /log_format/ && $http !~ /;\s*$/) {
        ($http, $server) = ($conf, '');
        $http =~ s/^\s*access_log.*$//m;
    }

    return "${load}error_log $dir/logs/error.log;\npid $dir/logs/nginx.pid;\n"
           . "events {}\nhttp {\n$upstream$http\nserver {\n"
           . "listen 127.0.0.1:1;\n$server\n}\n}\n";
}

my $n = 0;
for my $file ('README.md', glob('docs/*.md')) {
    for my $ex (examples($file)) {
        my ($line, $conf) = @$ex;
        my $path = "$dir/ex$n.conf";
        $n++;
        open my $fh, '>', $path or die $!;
        print $fh wrap($conf);
        close $fh;
        my $out = `$nginx -t -p $dir/ -c $path 2>&1`;
        ok($? == 0, "$file:$line passes nginx -t")
            or diag("$out\n--- tested configuration:\n" . wrap($conf));
    }
}

ok($n >= 3, "found the configuration examples ($n)");

done_testing();
