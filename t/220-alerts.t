# vi:filetype=perl
#
# The monitoring files in docs/: the alerting rules pass
# `promtool check rules` and their unit tests (`promtool test rules` on the
# recorded series of docs/cometchat-alerts.test.yml: healthy traffic with
# new users stays silent, Redis down / API errors / a rejected key / 429s
# fire); the Grafana dashboard is JSON; every metric name the rules, the
# dashboard and docs/monitoring.md use is one cometchat_status serves, and
# monitoring.md describes every metric it serves.
#
# Skipped without promtool (apt-get install prometheus).

use strict;
use warnings;

use JSON::PP ();
use Test::More;

my ($promtool) = grep { -x } map { "$_/promtool" }
                 split(/:/, $ENV{PATH} // ''), '/usr/bin';
plan skip_all => 'promtool not found (apt-get install prometheus)'
    unless $promtool;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return scalar <$fh>;
}

my $out = `cd docs && '$promtool' check rules cometchat-alerts.yml 2>&1`;
is($?, 0, 'promtool check rules docs/cometchat-alerts.yml') or diag($out);
like($out, qr/SUCCESS: 5 rules found/, '... five rules');

$out = `cd docs && '$promtool' test rules cometchat-alerts.test.yml 2>&1`;
is($?, 0, 'promtool test rules docs/cometchat-alerts.test.yml') or diag($out);

# what cometchat_status serves: the names in status.c, and build_info, and
# the outbound limits' lines quota.c writes for it
my $status_c = slurp('ngx_http_cometchat_module/ngx_http_cometchat_status.c')
               . slurp('ngx_http_cometchat_module/ngx_http_cometchat_quota.c');
my %served = map { $_ => 1 } $status_c =~ /\{\s*"(cometchat_\w+)",/g;
$served{$_} = 1 for $status_c =~ /^\s*"# TYPE (cometchat_\w+) /mg;
ok($served{cometchat_requests_total} && $served{cometchat_build_info}
   && $served{cometchat_redis_up}, 'metric names read from status.c: '
   . join(' ', sort keys %served));

my $dash = eval { JSON::PP::decode_json(slurp('docs/grafana-dashboard.json')) };
ok($dash, 'docs/grafana-dashboard.json is JSON') or diag($@);
my @exprs = map { $_->{expr} } map { @{ $_->{targets} || [] } }
            @{ $dash->{panels} || [] };
ok(@exprs >= 7, scalar(@exprs) . ' dashboard queries');

my %files = (
    'docs/cometchat-alerts.yml'      => slurp('docs/cometchat-alerts.yml'),
    'docs/cometchat-alerts.test.yml' => slurp('docs/cometchat-alerts.test.yml'),
    'docs/grafana-dashboard.json'    => join("\n", @exprs),
    'docs/monitoring.md'             => slurp('docs/monitoring.md'),
);
for my $file (sort keys %files) {
    my %used = map { $_ => 1 } $files{$file} =~ /\b(cometchat_[a-z_]+)\b/g;
    # not metrics: the module's directives and variables
    delete @used{grep { !/_(?:total|up|info)$/ } keys %used};
    my @unknown = grep { !$served{$_} } sort keys %used;
    is("@unknown", '', "$file uses only metrics cometchat_status serves");
}

my %described = map { $_ => 1 }
                $files{'docs/monitoring.md'} =~ /^\| `(cometchat_\w+)[`{]/mg;
my @missing = grep { !$described{$_} } sort keys %served;
is("@missing", '', 'docs/monitoring.md describes every metric');

done_testing();
