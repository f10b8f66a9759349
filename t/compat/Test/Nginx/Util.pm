package Test::Nginx::Util;

# Minimal stand-in for openresty's Test::Nginx::Util, used only when the
# real Test::Nginx is not installed (tools/run-tests adds -I t/compat).
# It keeps the names, defaults and environment variables of the original
# so that the same .t files run under both; see t/README.md for what is
# left out.

use strict;
use warnings;

use base 'Exporter';

use Config ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Test::More ();
use Time::HiRes qw(sleep time);

our $VERSION = '0.29_compat';

sub bail_out (@);

sub find_nginx {
    for my $dir (split /:/, $ENV{PATH} // '') {
        next if $dir eq '';
        my $f = "$dir/nginx";
        return $f if -f $f && -x $f;
    }
    return '/usr/sbin/nginx';
}

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || find_nginx();
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled = 'on';
our $Workers = 1;
our $WorkerConnections = 64;
our $NoRootLocation = 0;
our $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $RepeatEach = 1;
our $NoLongString;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Verbose = $ENV{TEST_NGINX_VERBOSE};
our $ConfigPreamble = '';
our $NoNginxManager = 0;
our $UseHup = 0;
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;

our ($NginxVersion, $NginxRawVersion);
our $ErrLogFilePos = 0;
our $RunTestHelper;
our $CheckErrorLog;
our $CheckShutdownErrorLog;
our $PrevBlock;
our $PrevConfig;
our $NginxPid;
our $InSubprocess;

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# nginx's own stderr while starting: Debian builds log to stderr until
# the error_log directive takes effect, so configuration errors land here
our $StderrFile = "$ServRoot/nginx.stderr";

our @EXPORT = qw(
    env_to_nginx is_str check_accum_error_log is_running
    $NoLongString no_long_string $ServerAddr server_addr $ServerName
    server_name parse_time verbose sleep_time bail_out add_cleanup_handler
    access_log_data error_log_data setup_server_root write_config_file
    get_canon_version get_nginx_version trim show_all_chars parse_headers
    run_tests get_pid_from_pidfile $ServerPortForClient $ServerPort
    $NginxVersion $PidFile $ServRoot $ConfFile $RunTestHelper
    $CheckErrorLog $CheckShutdownErrorLog $NoNginxManager $RepeatEach
    add_block_preprocessor timeout worker_connections workers master_on
    master_off config_preamble repeat_each master_process_enabled
    log_level no_shuffle no_root_location html_dir server_root
    server_port server_port_for_client no_nginx_manager use_hup
);


sub no_long_string () { $NoLongString = 1 }
sub no_shuffle () { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub no_nginx_manager () { $NoNginxManager = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub config_preamble ($) { $ConfigPreamble = shift }
sub verbose { $Verbose }
sub sleep_time { $TestNginxSleep }
sub html_dir () { $HtmlDir }
sub server_root () { $ServRoot }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub use_hup () {
    # reloading with HUP is not implemented: every block restarts nginx
    $UseHup = 0;
}

sub _getset {
    my ($ref, @args) = @_;
    $$ref = $args[0] if @args;
    return $$ref;
}

sub server_addr (@) { _getset(\$ServerAddr, @_) }
sub server_name (@) { _getset(\$ServerName, @_) }
sub server_port (@) { _getset(\$ServerPort, @_) }
sub server_port_for_client (@) { _getset(\$ServerPortForClient, @_) }
sub timeout (@) { _getset(\$Timeout, @_) }
sub workers (@) { _getset(\$Workers, @_) }
sub worker_connections (@) { _getset(\$WorkerConnections, @_) }
sub log_level (@) { _getset(\$LogLevel, @_) }
sub repeat_each (@) { _getset(\$RepeatEach, @_) }

sub master_process_enabled (@) {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled;
}

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    require Test::LongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

sub parse_time ($) {
    my $tm = shift;
    return $tm unless defined $tm;
    $tm =~ s/^\s+|\s+$//g;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm = $tm / 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

# "Name: value" lines; "!Name" means the header must be absent (undef).
# Returns a list of [name, value] pairs in the order written.
sub parse_headers ($) {
    my $s = shift;
    my @pairs;
    for my $line (split /\n/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @pairs, [$line, undef];
            next;
        }
        my ($key, $val) = split /\s*:\s*/, $line, 2;
        push @pairs, [$key, $val];
    }
    return \@pairs;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of $NginxBinary: "
                 . ($out // ''));
    }
    if ($out =~ m{/(\d+)\.(\d+)\.(\d+)}) {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out");
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# A daemonised nginx is not our child: when it exits it may stay a zombie
# until someone reaps it, and a zombie holds no sockets, so count it as gone.
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st> // '';
        close $st;
        return 0 if $line =~ /^\d+ \(.*\) [ZX]/s;
    }
    return 1;
}

sub _wait_gone {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        waitpid($pid, WNOHANG);
        return 1 unless is_running($pid);
        sleep 0.02;
    }
    waitpid($pid, WNOHANG);
    return !is_running($pid);
}

sub _is_nginx_pid {
    my $pid = shift;
    open my $in, '<', "/proc/$pid/cmdline" or return 0;
    my $cmd = do { local $/; <$in> } // '';
    close $in;
    return $cmd =~ /nginx/;
}

# QUIT first (lets exit_process handlers run), then TERM, then KILL of the
# whole process group (nginx daemonises with setsid, so pgid == pid).
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return unless is_running($pid);

    kill SIGQUIT, $pid;
    return if _wait_gone($pid, $Timeout);

    warn "$name - nginx $pid did not exit on QUIT; sending TERM\n";
    kill SIGTERM, $pid;
    return if _wait_gone($pid, 2);

    warn "$name - killing nginx $pid with force\n";
    kill SIGKILL, -$pid;
    kill SIGKILL, $pid;
    _wait_gone($pid, 2);
}

sub stop_nginx ($) {
    my ($name) = @_;
    my $pid = $NginxPid;
    if (!defined $pid) {
        $pid = get_pid_from_pidfile($name);
        # a pid file left by an earlier run may name an unrelated process
        undef $pid if defined $pid && !_is_nginx_pid($pid);
    }
    undef $NginxPid;
    return unless defined $pid;
    kill_process($pid, 1, $name);
    unlink $PidFile;
}

sub cleanup () {
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }
}

sub bail_out (@) {
    cleanup();
    stop_nginx('bail_out') unless $InSubprocess;
    Test::More::BAIL_OUT(join '', @_);
}

sub setup_server_root () {
    if (-d $ServRoot) {
        # remove only what we create, in case TEST_NGINX_SERVROOT points
        # somewhere with real data
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"),
                    glob("$ServRoot/*_cache"));
        unlink $StderrFile;
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $d;
        make_path($d) or bail_out("Failed to mkdir $d: $!");
    }

    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub gen_rand_port {
    my ($used) = @_;
    for (1 .. 1000) {
        my $port = int(rand 40000) + 20000;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                         LocalPort => $port,
                                         Proto => 'tcp', ReuseAddr => 1);
        next unless $sock;
        close $sock;
        return $port;
    }
    return undef;
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return $text unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = ($ServerPort => 1,
                            map { $_ => 1 } values %$rand_ports);
                $rand_ports->{$var} = gen_rand_port(\%used)
                    // bail_out("$name - no free port for $var");
            }
            $val = $rand_ports->{$var};
        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless defined $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if defined $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if defined $fname;
        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - user_files: only a string or an ARRAY is accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - cannot mkdir $1");
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - cannot set the date of $path");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $main_config = expand_env_in_text($block->main_config // '', $name,
                                         $rand_ports);
    my $post_main_config = expand_env_in_text($block->post_main_config
                                              // '', $name, $rand_ports);
    my $http_config = expand_env_in_text($block->http_config // '', $name,
                                         $rand_ports);
    my $server_name = $block->server_name // $ServerName;
    my $log_level = $block->log_level || $LogLevel;
    $config //= '';

    my $modules = join '', map { "load_module $_;\n" }
                           grep { $_ ne '' } split /\s+/, $LoadModules;
    my $env = join '', map { my $v = $_; $v = "'$v'" if $v =~ /\s/;
                             "env $v;\n" } @EnvToNginx;
    my $root = '';
    if (!$NoRootLocation) {
        $root = <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }
    my $user = $> == 0 ? "user root;\n" : '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!");
    print $out <<_EOC_;
# generated by the t/compat Test::Nginx for $name
$modules
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $log_level;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
}
$user
_EOC_
    close $out;
}

# Starts nginx and waits for the launching process to exit (daemon on).
# Returns (wait status, what nginx wrote to stderr).
sub start_nginx ($) {
    my ($name) = @_;

    if (!-x $NginxBinary) {
        bail_out("$name - cannot run the nginx binary $NginxBinary");
    }

    my $pid = fork();
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        $InSubprocess = 1;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        # upstream's way to preload a library into nginx alone
        if (defined $ENV{TEST_NGINX_LD_PRELOAD}) {
            $ENV{LD_PRELOAD} = join ' ', grep { defined && length }
                               $ENV{TEST_NGINX_LD_PRELOAD}, $ENV{LD_PRELOAD};
        }
        exec $NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile
            or POSIX::_exit(127);
    }

    my $status;
    my $deadline = time + 30;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            $status = $?;
            last;
        }
        if (time > $deadline) {
            warn "$name - nginx did not finish starting in 30s; killing\n";
            kill SIGKILL, $pid;
            waitpid($pid, 0);
            $status = -1;
            last;
        }
        sleep 0.005;
    }

    my $stderr = '';
    if (open my $in, '<', $StderrFile) {
        local $/;
        $stderr = <$in> // '';
        close $in;
    }
    return ($status, $stderr);
}

# After a successful start the daemon writes the pid file a moment later.
sub wait_for_pid ($) {
    my ($name) = @_;
    my $deadline = time + 5;
    while (time < $deadline) {
        my $pid = get_pid_from_pidfile($name);
        return $pid if defined $pid;
        sleep 0.005;
    }
    return undef;
}

sub _read_log_lines ($$) {
    my ($file, $advance) = @_;
    open my $in, '<', $file or return [];
    my $pos = $CheckAccumErrLog ? 0 : $ErrLogFilePos;
    seek $in, $pos, 0 if $pos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) if $advance && !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub error_log_data () {
    # lines from the log phase and timers may land just after the response
    sleep $TestNginxSleep * 3;
    return _read_log_lines($ErrLogFile, 1);
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub error_log_size () {
    return -s $ErrLogFile || 0;
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block && defined $block->shutdown_error_log;
    $CheckShutdownErrorLog->($block, $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0);
}

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }
        $block->set_value('name', $0 . ' ' . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN}) {
        stop_nginx('run_tests');
        check_prev_block_shutdown_error_log();
        undef $PrevBlock;
    }
}

# "N: code" style skip/todo sections; returns (count, should, reason)
sub _skip_spec ($) {
    my ($block) = @_;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my ($n, $code) = ($1, $2);
        my $should = eval $code;
        bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
        return ($n, $should, 'skip_eval');
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $ver = get_canon_version($3, $4, $5);
        $reason ||= "nginx version $op $3.$4.$5";
        my $should = eval "$NginxVersion $op $ver";
        return ($n, $should, $reason);
    }

    return (undef, 0, undef);
}

sub run_test ($) {
    my ($block) = @_;
    my $name = $block->name;

    return if defined $block->SKIP;

    my ($tests_to_skip, $should_skip, $skip_reason) = _skip_spec($block);
    $skip_reason //= 'various reasons';

    my ($should_todo, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        $todo =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $todo");
        ($should_todo, $tests_to_skip, $todo_reason) = (1, $1, $2);
    }

    my $rand_ports = {};
    my $config = $block->config;
    my $dry_run = 0;

    if ($should_skip && defined $tests_to_skip) {
        for my $i (1 .. $RepeatEach) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        }
        return;
    }

    if (!defined $config) {
        # upstream silently reuses the previous nginx here and ignores these
        # sections: a suite relying on them would pass nowhere, so say so
        my @ignored = grep { defined $block->$_ }
                      qw(http_config main_config post_main_config must_die);
        if (@ignored) {
            Test::More::fail("$name - has --- @ignored but no --- config: "
                             . "Test::Nginx reuses the previous block's "
                             . "nginx then; add an empty '--- config'");
            return;
        }
        # like upstream: reuse the nginx left by the previous block
        if (!defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and "
                     . "could not get previous one.");
        }
        if (defined $block->user_files) {
            write_user_files($block, $rand_ports);
        }
        $ErrLogFilePos = error_log_size();

    } else {
        $config = expand_env_in_text($config, $name, $rand_ports);
        $PrevConfig = $config;

        stop_nginx($name);
        check_prev_block_shutdown_error_log();

        setup_server_root();
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);
        $ErrLogFilePos = 0;

        if (defined $block->must_die) {
            _run_must_die($block);
            return;
        }

        my ($status, $stderr);
        my $tries = 0;
        while (1) {
            ($status, $stderr) = start_nginx($name);
            last if $status == 0;
            # the previous nginx, or a lingering one, may still hold the port
            last unless $stderr =~ /Address already in use/;
            last if ++$tries > 50;
            sleep 0.1;
        }

        if ($status != 0) {
            chomp $stderr;
            Test::More::fail("$name - nginx failed to start (status "
                             . ($status >> 8) . "): $stderr");
            return;
        }

        $NginxPid = wait_for_pid($name);
        if (!defined $NginxPid) {
            Test::More::fail("$name - nginx wrote no pid file; stderr: "
                             . $stderr);
            return;
        }
        sleep $TestNginxSleep;
    }

    if (defined(my $init = $block->init)) {
        eval "package Test::Nginx::Util; no strict; $init";
        bail_out("$name - init failed: $@") if $@;
    }

    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block, $rand_ports) if $i > 0;

        if ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }
            next;
        }

        $RunTestHelper->($block, $dry_run, $i);
    }
}

sub _run_must_die ($) {
    my ($block) = @_;
    my $name = $block->name;
    my $must_die = $block->must_die;

    for my $i (0 .. $RepeatEach - 1) {
        my ($status, $stderr) = start_nginx($name);

        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command "
                             . "line");
        } elsif ($status & 127) {
            Test::More::fail("$name - nginx died from signal "
                             . ($status & 127));
        } elsif ($must_die =~ /^\s*\d+\s*$/) {
            Test::More::is($must_die + 0, $status >> 8,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        my @lines = map { "$_\n" } split /\n/, $stderr;
        push @lines, @{ _read_log_lines($ErrLogFile, 0) };
        $CheckErrorLog->($block, undef, 0, $i, 0, \@lines);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            $NginxPid = wait_for_pid($name);
            stop_nginx($name);
        }
    }

    # nothing is left running to serve a following block without config
    undef $PrevConfig;
}

END {
    return if $InSubprocess;
    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;
        stop_nginx('END');
    }
}

1;
