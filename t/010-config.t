# Configuration: every directive parses, merges and fails `nginx -t`
# with a message naming the directive.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CometChatEnv;

# a key file with surrounding whitespace, as editors leave it
my $key_file = "/tmp/cometchat-test-$$.key";
open my $fh, '>', $key_file or die "$key_file: $!";
print $fh "  file-rest-key-123\n\n";
close $fh;
END { unlink $key_file }
$ENV{TEST_NGINX_KEY_FILE} = $key_file;

# a key file too large to be a key
my $big_file = "/tmp/cometchat-test-$$-big.key";
open $fh, '>', $big_file or die "$big_file: $!";
print $fh 'k' x 5000;
close $fh;
END { unlink $big_file }
$ENV{TEST_NGINX_BIG_KEY_FILE} = $big_file;

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: the interface example loads, variables exist and are empty
--- http_config
    cometchat_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=0;
    cometchat_redis_timeout 500ms;
--- config
    cometchat_app_id   2615f9e1a4b5;
    cometchat_region   eu;
    cometchat_api_key  secret-rest-key;
    cometchat_api_timeout 2s;
    cometchat_token_ttl 1h;

    location /app {
        cometchat          on;
        cometchat_session  /_whoami;
        cometchat_session_uid    json:id;
        cometchat_session_name   json:fullName;
        cometchat_session_avatar json:avatarUrl;
        cometchat_uid_prefix     user_;
        cometchat_inject_types   text/html application/xhtml+xml;
        return 200 "app";
    }

    location = /_whoami {
        internal;
        return 401;
    }

    location = /_cometchat/token {
        cometchat_session  /_whoami;
        cometchat_session_uid json:id;
        cometchat_uid_prefix  user_;
        cometchat_token_endpoint;
    }

    location = /vars {
        return 200 "[$cometchat_uid][$cometchat_token_status][$cometchat_auth_token]";
    }
--- request
GET /vars
--- response_body chomp
[][][]
--- no_error_log
[emerg]
[alert]



=== TEST 2: cometchat on without cometchat_app_id
--- config
    location / {
        cometchat on;
        cometchat_region eu;
        cometchat_api_key k;
        cometchat_session /_whoami;
    }
--- must_die
--- error_log
"cometchat on" requires "cometchat_app_id"



=== TEST 3: cometchat on without cometchat_region
--- config
    location / {
        cometchat on;
        cometchat_app_id app1;
        cometchat_api_key k;
        cometchat_session /_whoami;
    }
--- must_die
--- error_log
"cometchat on" requires "cometchat_region"



=== TEST 4: cometchat on without a REST API key
--- config
    location / {
        cometchat on;
        cometchat_app_id app1;
        cometchat_region eu;
        cometchat_session /_whoami;
    }
--- must_die
--- error_log
"cometchat on" requires "cometchat_api_key" or "cometchat_api_key_file"



=== TEST 5: settings are reachable by merge from http and server levels
--- http_config
    cometchat_app_id app1;
    cometchat_api_key k;
--- config
    cometchat_region in;
    location / {
        cometchat on;
        cometchat_session /_whoami;
        return 200 "ok";
    }
    location = /_whoami { internal; return 401; }
--- request
GET /
--- response_body chomp
ok
--- no_error_log
[emerg]



=== TEST 6: cometchat_token_endpoint without cometchat_session
--- config
    cometchat_app_id app1;
    cometchat_region eu;
    cometchat_api_key k;
    location = /token {
        cometchat_token_endpoint;
    }
--- must_die
--- error_log
"cometchat_token_endpoint" requires "cometchat_session"



=== TEST 7: cometchat_api_key and cometchat_api_key_file at one level
--- config
    cometchat_api_key k;
    cometchat_api_key_file /etc/hostname;
--- must_die
--- error_log
"cometchat_api_key_file" directive conflicts with "cometchat_api_key" at the same level



=== TEST 8: unreadable cometchat_api_key_file
--- config
    cometchat_api_key_file /nonexistent/cometchat.key;
--- must_die
--- error_log eval
qr{"cometchat_api_key_file": cannot open "/nonexistent/cometchat.key" \(2: No such file or directory\)}



=== TEST 9: empty cometchat_api_key_file
--- config
    cometchat_api_key_file /dev/null;
--- must_die
--- error_log
"cometchat_api_key_file": "/dev/null" is empty



=== TEST 10: a key file is read and trimmed (the key is never printed)
--- config
    cometchat_app_id app1;
    cometchat_region eu;
    cometchat_api_key_file $TEST_NGINX_KEY_FILE;
    location / {
        cometchat on;
        cometchat_session /_whoami;
        return 200 "ok";
    }
    location = /_whoami { internal; return 401; }
--- request
GET /
--- response_body chomp
ok
--- no_error_log
file-rest-key-123



=== TEST 11: bad Redis address
--- http_config
    cometchat_redis 300.1.2.3:6379;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_redis": invalid address "300.1.2.3:6379"



=== TEST 12: bad Redis port
--- http_config
    cometchat_redis 127.0.0.1:99999;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_redis": invalid address "127.0.0.1:99999": invalid port



=== TEST 13: unknown Redis parameter
--- http_config
    cometchat_redis 127.0.0.1:6379 database=2;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_redis": invalid parameter "database=..."



=== TEST 14: bad Redis db
--- http_config
    cometchat_redis unix:/tmp/redis.sock db=two;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_redis": invalid db "db=two"



=== TEST 15: cometchat_redis only at http level
--- config
    location / {
        cometchat_redis 127.0.0.1:6379;
    }
--- must_die
--- error_log
"cometchat_redis" directive is not allowed here



=== TEST 16: bad cometchat_session_uid source
--- config
    cometchat_session_uid cookie:uid;
--- must_die
--- error_log
"cometchat_session_uid" takes "header:NAME" or "json:PATH" (dot path, e.g. "json:user.id"), not "cookie:uid"



=== TEST 17: empty component in a JSON path
--- config
    cometchat_session_name json:user..name;
--- must_die
--- error_log
"cometchat_session_name" takes "header:NAME" or "json:PATH" (dot path, e.g. "json:user.id"), not "json:user..name"



=== TEST 18: cometchat_session needs a URI
--- config
    cometchat_session whoami;
--- must_die
--- error_log
"cometchat_session" takes a URI beginning with "/" or "off", not "whoami"



=== TEST 19: cometchat_session off at a lower level disables an inherited one
--- config
    cometchat_app_id app1;
    cometchat_region eu;
    cometchat_api_key k;
    cometchat_session /_whoami;
    location /token {
        cometchat_session off;
        cometchat_token_endpoint;
    }
--- must_die
--- error_log
"cometchat_token_endpoint" requires "cometchat_session"



=== TEST 20: invalid uid prefix
--- config
    cometchat_uid_prefix "user:";
--- must_die
--- error_log
"cometchat_uid_prefix" may contain only letters, digits, "-" and "_"



=== TEST 21: bad API URL scheme
--- config
    cometchat_api_url ftp://example.com/v3;
--- must_die
--- error_log
"cometchat_api_url" must begin with "http://" or "https://": "ftp://example.com/v3"



=== TEST 22: app id with characters that do not belong in a host name
--- config
    cometchat_app_id "app.example/x";
--- must_die
--- error_log
"cometchat_app_id" directive may contain only letters, digits, "-" and "_"



=== TEST 23: bad time values name the directive
--- config
    cometchat_token_ttl forever;
--- must_die
--- error_log
"cometchat_token_ttl" directive invalid value



=== TEST 24: cometchat_token_endpoint only in a location
--- config
    cometchat_token_endpoint;
--- must_die
--- error_log
"cometchat_token_endpoint" directive is not allowed here



=== TEST 25: cometchat takes on or off
--- config
    cometchat yes;
--- must_die
--- error_log
invalid value "yes" in "cometchat" directive, it must be "on" or "off"



=== TEST 26: a zero Redis timeout is refused
--- http_config
    cometchat_redis_timeout 0;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_redis_timeout" must be greater than 0



=== TEST 27: a zero CometChat timeout is refused: curl would wait forever
--- config
    cometchat_api_timeout 0;
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_api_timeout" must be greater than 0



=== TEST 28: a mistyped Redis password parameter does not show its value
--- http_config
    cometchat_redis 127.0.0.1:6379 pasword=s3cret-redis-pass;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_redis": invalid parameter "pasword=..."
--- no_error_log
s3cret-redis-pass



=== TEST 29: a REST API key with a control character is refused at load
The key goes into a request header line as it is.
--- config
    cometchat_api_key "abc\tdef";
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_api_key" directive contains control characters



=== TEST 30: cometchat_token_local_ttl takes a time
--- config
    cometchat_token_local_ttl soon;
    location = /t { return 204; }
--- must_die
--- error_log
"cometchat_token_local_ttl" directive invalid value



=== TEST 31: cometchat_token_local_ttl 0 is allowed (Redis asked every time)
--- config
    cometchat_token_local_ttl 0;
    location = /t { return 204; }
--- request
GET /t
--- error_code: 204
--- no_error_log
[emerg]



=== TEST 32: a cometchat_api_key_file over 4096 bytes is refused
--- config
    cometchat_api_key_file $TEST_NGINX_BIG_KEY_FILE;
    location = /t { return 204; }
--- must_die
--- error_log eval
qr{"cometchat_api_key_file": "/tmp/cometchat-test-\d+-big\.key" is not a file of at most 4096 bytes}



=== TEST 33: a merge-time error names the included file and line of "cometchat on"
Debian's layout: the site's server block is in an included file, and the
error must point there, not at the end of the http block in nginx.conf.
--- http_config
    include ../html/sites-enabled/*.conf;
--- user_files
>>> sites-enabled/app.conf
server {
    server_name app.example;

    location / {
        cometchat on;
        cometchat_region eu;
        cometchat_api_key k;
        cometchat_session /_whoami;
    }
}
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr{"cometchat on" requires "cometchat_app_id" in /\S*/html/sites-enabled/app\.conf:5(?!\d)}
--- no_error_log
conf/nginx.conf:



=== TEST 34: ... and of "cometchat_token_endpoint"
--- http_config
    include ../html/sites-enabled/*.conf;
--- user_files
>>> sites-enabled/app.conf
server {
    server_name app.example;
    cometchat_app_id app1;
    cometchat_region eu;
    cometchat_api_key k;

    location = /_cometchat/token {
        cometchat_token_endpoint;
    }
}
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr{"cometchat_token_endpoint" requires "cometchat_session" in /\S*/html/sites-enabled/app\.conf:8(?!\d)}
--- no_error_log
conf/nginx.conf:



=== TEST 35: "cometchat on" at http level is named where it stands, in a server that inherits it
--- http_config
    include ../html/cometchat.conf;
--- user_files
>>> cometchat.conf
# shared by every site
cometchat on;
cometchat_app_id app1;
cometchat_session /_whoami;
--- config
    cometchat_api_key k;
    location = /t { return 204; }
--- must_die
--- error_log eval
qr{"cometchat on" requires "cometchat_region" in /\S*/html/cometchat\.conf:2(?!\d)}
--- no_error_log
conf/nginx.conf:



=== TEST 36: cometchat_api_timeout 0 is refused where it stands, when it is read
--- http_config
    include ../html/sites-enabled/*.conf;
--- user_files
>>> sites-enabled/app.conf
server {
    server_name app.example;
    cometchat_api_timeout 0;
}
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr{"cometchat_api_timeout" must be greater than 0 in /\S*/html/sites-enabled/app\.conf:3(?!\d)}
--- no_error_log
conf/nginx.conf:
=== TEST 37: a uid prefix of 34 characters leaves room for the hashed form of a long id
--- config eval
"    cometchat_uid_prefix " . ("p" x 34) . ";\n    location = /t { return 204; }\n"
--- request
GET /t
--- error_code: 204
--- no_error_log
[emerg]



=== TEST 38: a uid prefix of 35 characters does not
--- config eval
"    cometchat_uid_prefix " . ("p" x 35) . ";\n"
--- must_die
--- error_log eval
qr/"cometchat_uid_prefix" may contain only letters, digits, "-" and "_" and must be shorter than 35 characters: "p{35}"/



=== TEST 39: cometchat_uid_map takes escape or lowercase
--- config
    cometchat_uid_map lowercase;
    location = /t {
        cometchat_uid_map escape;
        return 204;
    }
--- request
GET /t
--- error_code: 204
--- no_error_log
[emerg]



=== TEST 40: cometchat_uid_map refuses anything else
--- config
    cometchat_uid_map none;
--- must_die
--- error_log
invalid value "none"
