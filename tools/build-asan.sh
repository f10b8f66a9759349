#!/usr/bin/env bash
# Builds an nginx with the module compiled in statically, with
# AddressSanitizer and UndefinedBehaviorSanitizer, from the upstream source
# of the distro's nginx version (Debian's orig tarball).
#   tools/build-asan.sh [DIR]      -> DIR/nginx  (default build/asan)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
d=${1:-$top/build/asan}
case $d in /*) ;; *) d=$top/$d ;; esac
ver=$(/usr/sbin/nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')

mkdir -p "$d/src"
tarball=$(ls "$d"/src/nginx_"$ver".orig.tar.gz 2>/dev/null || true)

if [ -z "$tarball" ]; then
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
       && ! grep -qs '^deb-src' /etc/apt/sources.list
    then
        sed 's/^Types: deb$/Types: deb-src/' \
            /etc/apt/sources.list.d/debian.sources \
            > /etc/apt/sources.list.d/cometchat-src.sources
        apt-get update -qq
    fi
    # the orig tarball is all we need; a missing .dsc on a mirror is fine
    (cd "$d/src" && apt-get source --download-only -qq "nginx" \
        > "$d/src/apt.log" 2>&1) || true
    tarball=$(ls "$d"/src/nginx_"$ver".orig.tar.gz 2>/dev/null || true)
    if [ -z "$tarball" ]; then
        cat "$d/src/apt.log" >&2
        echo "build-asan: could not fetch nginx $ver source" >&2
        exit 1
    fi
fi

tree=$d/src/nginx-$ver
if [ ! -f "$tree/configure" ]; then
    tar -xzf "$tarball" -C "$d/src"
fi

# nginx core itself passes NULL to memcpy() with length 0 and reads
# unaligned words when parsing: not ours to fix, so not reported
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
san="$san -fno-sanitize=nonnull-attribute,alignment"
stamp=$tree/objs/.cometchat-config
if [ ! -f "$tree/objs/Makefile" ] || ! cmp -s "$top/config" "$stamp"; then
    (cd "$tree" && ./configure \
        --prefix="$d" --sbin-path="$d/nginx" \
        --with-debug --with-threads \
        --with-http_sub_module --with-http_addition_module \
        --with-http_gunzip_module --with-http_auth_request_module \
        --with-http_ssl_module \
        --with-cc-opt="-O1 -g -fno-omit-frame-pointer $san" \
        --with-ld-opt="$san" \
        --add-module="$top" > "$d/configure.log" 2>&1) || {
        tail -30 "$d/configure.log" >&2
        exit 1
    }
    cp "$top/config" "$stamp"
fi

(cd "$tree" && make -j"$(nproc)" > "$d/make.log" 2>&1) || {
    grep -E 'error:|warning:' "$d/make.log" >&2 || tail -30 "$d/make.log" >&2
    exit 1
}

cp "$tree/objs/nginx" "$d/nginx"
echo "built $d/nginx (static module, ASan + UBSan)"
