# ngx_http_cometchat_module
#
#   make          build build/ngx_http_cometchat_module.so for /usr/sbin/nginx
#   make deps     install the Debian packages for build, tests and demo
#   make test     deps + build + the Test::Nginx suites in t/
#   make demo     deps + build + the demo stack; prints its URL
#   make asan     nginx with the module static, ASan + UBSan (build/asan)
#   make fuzz     libFuzzer run of the </body> matcher (bounded)
#   make bench    benchmark against sub_filter and a Lua peer (tools/bench)
#   make bench-deps  the benchmark's packages (wrk, valgrind, strace, Lua peer)
#   make deb      build/libnginx-mod-http-cometchat_<version>_<arch>.deb (tools/deb)

B       ?= build
SO      := $(B)/ngx_http_cometchat_module.so
SRCS    := $(wildcard ngx_http_cometchat_module/*.c ngx_http_cometchat_module/*.h)

.PHONY: all deps test demo asan test-asan fuzz bench bench-deps deb clean

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
	tools/run-tests
	$(MAKE) test-asan

demo: deps
	$(MAKE) all
	tools/demo/run

asan:
	tools/build-asan $(B)/asan

test-asan: asan
	tools/run-asan-tests $(B)/asan

fuzz:
	tools/fuzz/run

bench-deps:
	tools/bench/deps

bench: all
	tools/bench/run

deb:
	tools/deb $(B)

clean:
	rm -rf $(B) t/servroot*
