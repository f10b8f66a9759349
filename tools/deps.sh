#!/usr/bin/env bash
# Installs the Debian packages needed to build the module, run its tests and
# the demo. Idempotent: installs only what is missing, and runs
# `apt-get update` only when something is.
set -euo pipefail

pkgs=(
    # build
    make gcc clang libclang-rt-14-dev
    nginx nginx-dev libhiredis-dev libcurl4-openssl-dev libyajl-dev
    # the static nginx with sanitizers (make asan)
    libpcre2-dev zlib1g-dev libssl-dev
    # tests
    redis-server python3 curl ca-certificates wrk
    libtest-base-perl libtext-diff-perl libtest-longstring-perl
    libipc-run-perl liblist-moreutils-perl libwww-perl libhttp-message-perl
    liburi-perl
    # t/210 and t/220 (promtool), t/500 (make deb, lintian), t/600 (HTTP/2)
    prometheus dpkg-dev lintian openssl python3-h2
    # benchmarks
    valgrind
)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null \
         | grep -q '^install ok installed$'
    then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "deps: missing ${missing[*]}; run as root to install" >&2
        exit 1
    fi
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
