package Test::Nginx::Socket;

# Minimal stand-in for openresty's Test::Nginx::Socket, used only when the
# real Test::Nginx is not installed (tools/run-tests adds -I t/compat).
# Built on Test::Base like the original, so sections, filters (eval, chomp,
# ...), ONLY/SKIP/LAST and blocks() behave the same. See t/README.md.

use strict;
use warnings;

use Test::Base -base;

our $VERSION = '0.29_compat';

use Digest::MD5 ();
use Errno ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(sleep time);

use Test::Nginx::Util;

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each
    config_preamble worker_connections master_process_enabled
    no_long_string workers master_on master_off log_level no_shuffle
    no_root_location use_hup server_name server_addr server_root html_dir
    server_port server_port_for_client timeout no_nginx_manager
    check_accum_error_log add_block_preprocessor bail_out
    add_cleanup_handler add_response_body_check
);

our @ResponseBodyChecks;

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}


# ---- building requests ---------------------------------------------------

sub parse_more_headers ($) {
    my ($in) = @_;
    my ($out, $is_chunked) = ('', 0);
    for my $header (split /\n+/, $in // '') {
        next if $header =~ /^\s*#/;
        next if $header =~ /^\s*$/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $val =~ s/\r$//;
        $is_chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# "METHOD [URI [VERSION]]" on the first line, the body after it.
sub build_request ($$$$) {
    my ($name, $req, $more_headers, $conn) = @_;

    $req //= '';
    1 while $req =~ s/^\s*#[^\n]*\n|^\s+//s;

    my ($first, $content) = split /\n/, $req, 2;
    $first //= '';
    $first =~ s/\r$//;
    $first =~ /^\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*$/
        or bail_out("$name - Request line is not valid: \"$first\"");
    my ($meth, $uri, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my ($hdrs, $is_chunked) = parse_more_headers($more_headers);

    $content //= '';
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $hdrs !~ /(?:^|\n)Content-Length:/i)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/i;

    return "$head$hdrs$len_header\r\n$content";
}

sub _indexed_headers {
    my ($more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $h = $more_headers->[$i];
        bail_out("--- more_headers lacks data for request $i")
            unless defined $h;
        return $h;
    }
    return $more_headers;
}

# Returns a list of requests; each is a list of packets (strings) that are
# written one after another.
sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;
    my @reqs;

    if (defined(my $raw = $block->raw_request)) {
        push @reqs, ref $raw eq 'ARRAY' ? [@$raw] : [$raw];
        return \@reqs;
    }

    my $more_headers = $block->more_headers // '';

    if (defined(my $pipelined = $block->pipelined_requests)) {
        ref $pipelined eq 'ARRAY'
            or bail_out("$name - invalid entries in --- pipelined_requests");
        my $data = '';
        for my $i (0 .. $#$pipelined) {
            my $conn = $i == $#$pipelined ? 'close' : 'keep-alive';
            $data .= build_request($name, $pipelined->[$i],
                                   _indexed_headers($more_headers, $i),
                                   $conn);
        }
        push @reqs, [$data];
        return \@reqs;
    }

    my $request = $block->request;
    bail_out("$name - no --- request section") unless defined $request;

    my @list = ref $request eq 'ARRAY' ? @$request : ($request);
    for my $i (0 .. $#list) {
        my $one = $list[$i];
        # a request given as packets is joined and sent in one go
        if (ref $one eq 'ARRAY') {
            $one = join '', map { ref $_ eq 'HASH' ? $_->{value} : $_ } @$one;
        }
        push @reqs, [build_request($name, $one,
                                   _indexed_headers($more_headers, $i),
                                   'close')];
    }
    return \@reqs;
}


# ---- talking to nginx ----------------------------------------------------

sub _connect {
    my ($block, $timeout) = @_;
    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $deadline = time + ($timeout > 2 ? $timeout : 2);
    my $err;
    while (1) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                         PeerPort => $ServerPortForClient,
                                         Proto => 'tcp',
                                         Timeout => $timeout);
        return ($sock) if $sock;
        $err = "$!";
        last if time > $deadline;
        sleep 0.05;
    }
    return (undef, "Can't connect to $addr:$ServerPortForClient: $err");
}

sub send_request ($$$) {
    my ($packets, $timeout, $block) = @_;
    my $name = $block->name;
    my $middle_delay = parse_time($block->raw_request_middle_delay);

    my ($sock, $err) = _connect($block, $timeout);
    if (!$sock) {
        Test::More->builder->no_ending(1);
        Test::More::fail("$name - $err (aborted)");
        return undef;
    }

    local $SIG{PIPE} = 'IGNORE';
    for my $i (0 .. $#$packets) {
        sleep $middle_delay if $i > 0 && $middle_delay;
        my $buf = $packets->[$i];
        my $off = 0;
        while ($off < length $buf) {
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (!defined $n) {
                next if $! == Errno::EINTR;
                warn "WARNING: $name - write failed: $!\n";
                last;
            }
            $off += $n;
        }
    }

    if (defined(my $how = $block->shutdown)) {
        shutdown($sock, $how =~ /^\s*$/ ? 1 : $how);
    }

    my $resp = '';
    my $sel = IO::Select->new($sock);
    while (1) {
        my @ready = $sel->can_read($timeout);
        if (!@ready) {
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name");
            }
            last;
        }
        my $n = sysread($sock, my $chunk, 65536);
        if (!defined $n) {
            next if $! == Errno::EINTR || $! == Errno::EAGAIN;
            warn "WARNING: $name - HTTP response read failure: $!\n"
                unless $! == Errno::ECONNRESET;
            last;
        }
        last if $n == 0;
        $resp .= $chunk;
    }
    close $sock;
    return $resp;
}

sub _fail_chunked {
    my ($name, $msg) = @_;
    Test::More->builder->no_ending(1);
    Test::More::fail("$name - $msg");
}

# Returns (HTTP::Response, raw header text, bytes after this response).
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my ($raw_headers, $body);
    if ($raw =~ /^(.*?\r?\n)\r?\n/s) {
        $raw_headers = $1;
        $body = substr $raw, length $&;
    } else {
        ($raw_headers, $body) = ($raw, '');
    }

    my ($status_line, @lines) = split /\r?\n/, $raw_headers;
    my ($code, $msg);
    if (defined $status_line
        && $status_line =~ m{^HTTP/\d+\.\d+\s+(\d+)(?:\s+(.*))?$})
    {
        ($code, $msg) = ($1, $2 // '');
    }

    my @hdrs;
    for my $line (@lines) {
        if ($line =~ /^[ \t]+(.*)/ && @hdrs) {
            $hdrs[-1] .= " $1";
            next;
        }
        my ($k, $v) = split /:[ \t]*/, $line, 2;
        push @hdrs, $k, $v // '';
    }

    my $res = HTTP::Response->new($code, $msg);
    for (my $i = 0; $i < @hdrs; $i += 2) {
        $res->push_header($hdrs[$i], $hdrs[$i + 1]);
    }

    my $left;
    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if ($head_req || !defined $code || $code =~ /^1/ || $code == 204
        || $code == 304)
    {
        $left = $body if length $body;
        $body = '';

    } elsif (defined $enc && $enc =~ /\bchunked\b/i) {
        my $decoded = '';
        my $pos = 0;
        while (1) {
            my $rest = substr $body, $pos;
            if ($rest !~ /^[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/) {
                _fail_chunked($name, length $rest
                    ? "invalid chunked body received: $rest"
                    : "no last chunk found");
                last;
            }
            my $size = hex $1;
            $pos += length $&;
            if ($size == 0) {
                # trailers, if any, end with an empty line
                my $tail = substr $body, $pos;
                if ($tail =~ /^(?:[^\r\n]+\r\n)*\r\n/) {
                    $pos += length $&;
                }
                $left = substr $body, $pos if $pos < length $body;
                last;
            }
            if (length($body) - $pos < $size + 2) {
                _fail_chunked($name, 'invalid chunked data received '
                              . '(not enough octets for the data section)');
                $decoded .= substr $body, $pos;
                last;
            }
            $decoded .= substr $body, $pos, $size;
            $pos += $size;
            if (substr($body, $pos, 2) ne "\r\n") {
                _fail_chunked($name,
                              'invalid chunked data received (expected CRLF)');
                last;
            }
            $pos += 2;
        }
        $body = $decoded;

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body > $len) {
            $left = substr $body, $len;
            $body = substr $body, 0, $len;
        } elsif (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n";
        }
    }

    $res->content($body);
    return ($res, $raw_headers, $left);
}


# ---- checks --------------------------------------------------------------

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return $value->[0] if ref $value eq 'ARRAY';
    return $value;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $val = get_indexed_value($name, $block->error_code_like,
                                    $req_idx, $need_array);
        Test::More::like($got, qr/$val/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        my $val = get_indexed_value($name, $block->error_code, $req_idx,
                                    $need_array);
        Test::More::is($got, $val, "$name - status code ok");
    } else {
        Test::More::is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_like,
                                    $req_idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s,
                         "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = get_indexed_value($name,
                                    $block->raw_response_headers_unlike,
                                    $req_idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s,
                           "$name - raw resp headers unlike");
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $pairs = parse_headers(get_indexed_value($name,
                                                    $block->response_headers,
                                                    $req_idx, $need_array));
        for my $p (@$pairs) {
            my ($key, $val) = @$p;
            if (!defined $val) {
                Test::More::unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? scalar $res->header($key) : undef;
            Test::More::is($actual // '', $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $pairs = parse_headers(get_indexed_value($name,
                                              $block->response_headers_like,
                                              $req_idx, $need_array));
        for my $p (@$pairs) {
            my ($key, $val) = @$p;
            my $actual = $res ? scalar $res->header($key) : undef;
            Test::More::like($actual // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

sub run_filter_helper {
    my ($block, $filter, $content) = @_;
    return $filter->($content) if ref $filter eq 'CODE';
    return Digest::MD5::md5_hex($content) if $filter eq 'md5_hex';
    return uc $content if $filter eq 'uc';
    return lc $content if $filter eq 'lc';
    return length $content if $filter eq 'length';
    bail_out($block->name . " - unknown response_body_filters \"$filter\"");
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    my $filters = $block->response_body_filters;
    return unless defined $res && defined $filters;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$req_idx] // [];
    }

    my $content = $res->content;
    $content = run_filter_helper($block, $_, $content) for @$filters;
    $res->content($content);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array)
        = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body) {
        my $expected = get_indexed_value($name, $block->response_body,
                                         $req_idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        my $what = "(repeated req $repeated_req_idx, req $req_idx)";
        if (ref $expected) {
            Test::More::like($content, $expected,
                             "$name - response_body - like $what");
        } else {
            is_str($content, $expected,
                   "$name - response_body - response is expected $what");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my ($type, $pats) = defined $block->response_body_like
                            ? ('like', $block->response_body_like)
                            : ('unlike', $block->response_body_unlike);
        my $pat = get_indexed_value($name, $pats, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        my $summary = trim($content) // '';
        $summary = substr($summary, 0, 200) . '...' if length $summary > 200;
        my $desc = "$name - response_body_$type - response is expected "
                   . "($summary)";
        if ($type eq 'like') {
            Test::More::like($content, qr/$pat/s, $desc);
        } else {
            Test::More::unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, $dry_run);
    }
}

sub fmt_str {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub _patterns {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _value_contains {
    my ($val, $pat) = @_;
    return 0 unless defined $val;
    return index("$val", $pat) >= 0 if !ref $val || ref $val eq 'Regexp';
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if _value_contains($v, $pat);
        }
    }
    return 0;
}

sub _line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

# $lines: optional list of log lines to check instead of reading error.log
# (must_die passes nginx's stderr plus the log file).
sub check_error_log ($$$$$;$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array, $lines) = @_;
    my $name = $block->name;

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$repeated_req_idx] if ref $grep_pat eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$repeated_req_idx]
            if ref $expected eq 'ARRAY';

        $lines ||= error_log_data();
        my $matched = '';
        for my $line (@$lines) {
            if (ref $grep_pat ? $line =~ /$grep_pat/ : $line =~ /\Q$grep_pat\E/)
            {
                $matched .= "$&\n" if $& !~ /\n/;
            }
        }
        my $desc = "$name - grep_error_log_out (req $repeated_req_idx)";
        if (ref $expected eq 'Regexp') {
            Test::More::like($matched, $expected, $desc);
        } else {
            is_str($matched, $expected, $desc);
        }

    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    my %warn_for = (alert => 1, crit => 1, emerg => 1);

    # a block that expects nginx to refuse its configuration expects [emerg]
    delete $warn_for{emerg} if defined $block->must_die;

    if (defined $block->error_log) {
        my $raw = $block->error_log;
        for my $lvl (keys %warn_for) {
            delete $warn_for{$lvl} if _value_contains($raw, "[$lvl");
        }
        my $pats = _patterns($raw);
        $lines ||= error_log_data();
        for my $pat (@$pats) {
            next unless defined $pat;
            my $found = grep { _line_matches($_, $pat) } @$lines;
            if ($found) {
                Test::More::pass("$name - pattern \"$pat\" matches a line in "
                                 . "error.log (req $repeated_req_idx)");
            } else {
                Test::More::fail("$name - pattern \"$pat\" should match a "
                                 . "line in error.log (req $repeated_req_idx)");
            }
        }
    }

    if (defined $block->no_error_log) {
        my $raw = $block->no_error_log;
        for my $lvl (keys %warn_for) {
            delete $warn_for{$lvl} if _value_contains($raw, "[$lvl");
        }
        my $pats = _patterns($raw);
        $lines ||= error_log_data();
        for my $pat (@$pats) {
            next unless defined $pat;
            my $p = fmt_str($pat);
            my ($hit) = grep { _line_matches($_, $pat) } @$lines;
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$p\" should not match any "
                                 . "line in error.log but matches line \""
                                 . fmt_str($hit)
                                 . "\" (req $repeated_req_idx)");
            } else {
                Test::More::pass("$name - pattern \"$p\" does not match a "
                                 . "line in error.log (req $repeated_req_idx)");
            }
        }
    }

    return if $dry_run;

    if (%warn_for) {
        $lines ||= error_log_data();
        for my $line (@$lines) {
            if ($line =~ /\[(alert|crit|emerg)\]/ && $warn_for{$1}) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l");
        }
    }
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;
    my $lines = error_log_data();

    if (defined $block->no_shutdown_error_log) {
        for my $pat (@{ _patterns($block->no_shutdown_error_log) }) {
            my $p = fmt_str($pat);
            my ($hit) = grep { _line_matches($_, $pat) } @$lines;
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$p\" should not match any "
                                 . "line in error.log but matches line \""
                                 . fmt_str($hit) . "\"");
            } else {
                Test::More::pass("$name - pattern \"$p\" does not match a "
                                 . "line in error.log");
            }
        }
    }

    for my $pat (@{ _patterns($block->shutdown_error_log) }) {
        if (grep { _line_matches($_, $pat) } @$lines) {
            Test::More::pass("$name - pattern \"$pat\" matches a line in "
                             . "error.log");
        } else {
            Test::More::fail("$name - pattern \"$pat\" should match a line "
                             . "in error.log");
        }
    }
}


# ---- one repetition of one block ----------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    my $timeout = parse_time($block->timeout) // timeout();

    my ($n, $need_array) = (0, @$reqs > 1);
    if (defined $block->pipelined_requests) {
        $n = @{ $block->pipelined_requests };
        $need_array = 1;
    }

    my $res;
    my $req_idx = 0;

    for my $packets (@$reqs) {
        my $data = join '', @$packets;
        my $head_req = $data =~ /^\s*HEAD\s+/ ? 1 : 0;
        my $raw_resp = send_request($packets, $timeout, $block) // '';
        my $pipelined_left = $n;

        while (1) {
            my ($raw_headers, $left) = ('', undef);

            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left)
                    = parse_response($name, $raw_resp, $head_req);
            }

            if ($pipelined_left) {
                $raw_resp = $left // '';
                $pipelined_left--;
            } elsif (defined $left && length $left) {
                warn "WARNING: $name - unexpected extra bytes after the "
                     . "response: \"" . fmt_str($left) . "\"\n";
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx,
                                 $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            # like upstream: the logs are also checked between requests
            if ($pipelined_left || $req_idx < @$reqs - 1) {
                sleep parse_time($block->wait) if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);
            }

            $req_idx++;
            last unless $pipelined_left;
        }
    }

    sleep parse_time($block->wait) if $block->wait;
    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
}

1;
