# ngx_http_cometchat_module
#
#   make          build build/ngx_http_cometchat_module.so for /usr/sbin/nginx
#   make deps     install the Debian packages for build, tests and demo
#   make test     deps + build + layout check + the Test::Nginx suites in t/
#   make test-upstream TEST_NGINX_LIB=DIR
#                 the suites under an upstream Test::Nginx checkout's lib/
#   make demo     deps + build + the demo stack; prints its URL
#   make asan     nginx with the module static, ASan + UBSan (build/asan)
#   make fuzz     libFuzzer: every harness in tools/fuzz briefly (5 s each)
#   make fuzz-long  the same for FUZZ_SECONDS (600) each
#   make soak     RSS soak under mixed load, reloads, Redis restart (tools/soak)
#   make valgrind the suites with nginx under valgrind (tools/run-valgrind-tests)
#   make bench    benchmark against sub_filter and a Lua peer (tools/bench)
#   make bench-deps  the benchmark's packages (wrk, valgrind, strace, Lua peer)
#   make deb      build/libnginx-mod-http-cometchat_<version>_<arch>.deb (tools/deb)

B       ?= build
SO      := $(B)/ngx_http_cometchat_module.so
SRCS    := $(wildcard ngx_http_cometchat_module/*.c ngx_http_cometchat_module/*.h)

.PHONY: all deps test test-upstream demo asan test-asan fuzz fuzz-long soak \
        valgrind bench bench-deps deb clean

all: $(SO)

$(SO): $(SRCS) config tools/build
	tools/build $(B)

deps:
	tools/deps
	tools/deps-browser

# the suites twice: the distro nginx loading the .so, then nginx with the
# module compiled in under ASan and UBSan
test: deps
	$(MAKE) all
	tools/check-layout
	tools/run-tests
	$(MAKE) test-asan

demo: deps
	$(MAKE) all
	tools/demo/run

asan:
	tools/build-asan $(B)/asan

test-upstream: all
	@test -n "$(TEST_NGINX_LIB)" || { echo "make test-upstream:" \
	    "set TEST_NGINX_LIB to an upstream Test::Nginx checkout's lib/" >&2; \
	    exit 2; }
	TEST_NGINX_LIB="$(TEST_NGINX_LIB)" tools/run-tests

test-asan: asan
	tools/run-asan-tests $(B)/asan

fuzz:
	tools/fuzz/run $${FUZZ_SECONDS:-5}

fuzz-long:
	tools/fuzz/run $${FUZZ_SECONDS:-600}

soak: all
	tools/soak/run

valgrind: all
	tools/run-valgrind-tests

bench-deps:
	tools/bench/deps

bench: all
	tools/bench/run

deb:
	tools/deb $(B)

clean:
	rm -rf $(B) t/servroot*
