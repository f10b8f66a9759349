#!/usr/bin/perl
# The demo in a real browser: headless Chromium signs in through the sample
# app, loads pages through nginx and checks the chat widget (see
# tools/browser/browser-test.js, which prints the TAP for this file).
#
# The widget script is a local STAND-IN (tools/browser/chat-embed-standin.js)
# with the same global API as CometChat's, because the test machine has no
# internet: the test proves what nginx puts in the page and what the page's
# snippet hands to the widget API, not CometChat's own widget.
#
# Needs /usr/bin/chromium, node >= 18 and playwright-core in
# tools/browser/node_modules (tools/deps-browser installs them); without
# them this file prints "1..0 # SKIP <reason>". Plain TAP, no Test::Nginx:
# it runs the same under upstream Test::Nginx and the bundled runner.
# Honours TEST_NGINX_BINARY and TEST_NGINX_LOAD_MODULES.

use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Cwd qw(abs_path);

my $top = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..'));
my $browser = "$top/tools/browser";
my $chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';

sub skip_all {
    print "1..0 # SKIP $_[0]\n";
    exit 0;
}

sub which {
    my ($prog) = @_;
    for my $dir (split /:/, $ENV{PATH} || '') {
        return "$dir/$prog" if -x "$dir/$prog";
    }
    return undef;
}

skip_all("$chromium not found (tools/deps-browser installs chromium)")
    unless -x $chromium;

my $node = which('node');
skip_all('node not found (tools/deps-browser installs nodejs)')
    unless $node;

my $version = `"$node" --version 2>/dev/null` || '';
skip_all("node >= 18 needed for playwright-core, found "
         . ($version =~ s/\s+$//r || 'none'))
    unless $version =~ /^v(\d+)\./ && $1 >= 18;

skip_all('playwright-core not installed in tools/browser/node_modules '
         . '(tools/deps-browser)')
    unless -f "$browser/node_modules/playwright-core/package.json";

skip_all('@cometchat/chat-sdk-javascript not installed in '
         . 'tools/browser/node_modules (tools/deps-browser)')
    unless -f "$browser/node_modules/\@cometchat/chat-sdk-javascript/"
              . "package.json";

skip_all('redis-server not found') unless which('redis-server');

# the nginx and module the rest of the suite uses
$ENV{DEMO_NGINX} = $ENV{TEST_NGINX_BINARY} if $ENV{TEST_NGINX_BINARY};
if (defined $ENV{TEST_NGINX_LOAD_MODULES}) {
    my ($so) = grep { /cometchat/ } split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
    $ENV{DEMO_MODULE} = $so // '';  # empty: built into TEST_NGINX_BINARY
}
my $so = $ENV{DEMO_MODULE} // "$top/build/ngx_http_cometchat_module.so";
if ($so ne '' && !-f $so) {
    # not a skip: make test builds it first, so its absence is a failure
    print "1..1\nnot ok 1 - module $so exists (run 'make')\n";
    exit 1;
}

# the node script prints the plan and the ok / not ok lines itself
exec $node, "$browser/browser-test.js"
    or do { print "1..1\nnot ok 1 - run node: $!\n"; exit 1 };
