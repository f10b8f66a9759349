#!/usr/bin/env bash
# Builds build/ngx_http_cometchat_module.so against the distro nginx tree.
#   tools/build.sh [BUILD_DIR]
# The nginx-dev tree (/usr/share/nginx/src) is copied once into BUILD_DIR,
# configured with Debian's own flags (conf_flags, which include --with-compat)
# and the module as a dynamic addon; later runs only recompile what changed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/build}
case $b in /*) ;; *) b=$top/$b ;; esac
src=${NGX_SRC:-/usr/share/nginx/src}
tree=$b/nginx

if [ ! -f "$src/configure" ]; then
    echo "build: $src/configure not found; run 'make deps' (nginx-dev)" >&2
    exit 1
fi

mkdir -p "$b"
if [ ! -f "$tree/configure" ]; then
    rm -rf "$tree"
    cp -a "$src" "$tree"
fi

# reconfigure when the addon script changed or the tree is new
stamp=$tree/objs/.cometchat-config
if [ ! -f "$tree/objs/Makefile" ] || [ ! -f "$stamp" ] \
   || ! cmp -s "$top/config" "$stamp"
then
    # shellcheck disable=SC1091
    . "$src/conf_flags"
    (cd "$tree" && ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="-g -O2 -fPIC -fstack-protector-strong \
-Wformat -Werror=format-security -D_FORTIFY_SOURCE=2" \
        --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
        --add-dynamic-module="$top" > "$b/configure.log" 2>&1) || {
        tail -30 "$b/configure.log" >&2
        exit 1
    }
    cp "$top/config" "$stamp"
fi

(cd "$tree" && make -f objs/Makefile modules -j"$(nproc)" > "$b/make.log" 2>&1) || {
    grep -E 'error:|warning:|undefined' "$b/make.log" >&2 || tail -30 "$b/make.log" >&2
    exit 1
}

if grep -q 'warning:' "$b/make.log"; then
    grep 'warning:' "$b/make.log" >&2
    echo "build: warnings are errors for this module" >&2
    exit 1
fi

cp "$tree/objs/ngx_http_cometchat_module.so" "$b/ngx_http_cometchat_module.so"
echo "built $b/ngx_http_cometchat_module.so"
