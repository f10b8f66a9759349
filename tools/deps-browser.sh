#!/usr/bin/env bash
# Installs what the browser test (t/400-browser.t) needs: Debian's chromium,
# node (>= 18: playwright-core 1.60; bookworm has 18) and the npm packages in
# tools/browser/package-lock.json. Idempotent: skips what is present.
#
#   tools/deps-browser.sh
#
# The browser test is optional: when something cannot be installed this
# prints why and exits 0, and t/400-browser.t then skips with that reason.
# BROWSER_DEPS_STRICT=1 makes such a failure an error; SKIP_BROWSER_DEPS=1
# installs nothing.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/tools/browser
strict=${BROWSER_DEPS_STRICT:-0}

say() { echo "deps-browser: $*"; }

give_up() {
    say "$* - the browser test will be skipped"
    [ "$strict" = 1 ] && exit 1
    exit 0
}

if [ "${SKIP_BROWSER_DEPS:-0}" = 1 ]; then
    say "SKIP_BROWSER_DEPS=1: not installing chromium / playwright-core"
    exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo=sudo
fi

updated=0
apt_install() {
    # try with the current lists first; refresh them once if that fails
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "$@"; then
        return 0
    fi
    if [ "$updated" = 0 ]; then
        updated=1
        $sudo apt-get update -q || return 1
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "$@"
        return
    fi
    return 1
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# a font with Latin glyphs, so screenshots show text
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] \
    || [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
    || missing+=(fonts-liberation)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if ! command -v npm >/dev/null 2>&1; then
    # nodesource's nodejs ships npm; Debian's does not
    missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}" || give_up "could not install ${missing[*]}"
fi

ver=$(node --version 2>/dev/null || true)
major=${ver#v}
major=${major%%.*}
if ! [ "${major:-0}" -ge 18 ] 2>/dev/null; then
    give_up "node ${ver:-missing} is older than 18 (playwright-core needs 18)"
fi

# npm ci only when the lock changed since the last install
stamp=$dir/node_modules/.package-lock.json
if [ -f "$dir/node_modules/playwright-core/package.json" ] \
   && [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; then
    say "playwright-core already installed"
else
    say "npm ci in tools/browser"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) \
        || give_up "npm ci failed"
fi

say "ok: $(/usr/bin/chromium --version 2>/dev/null), node $ver," \
    "playwright-core $(node -p "require('$dir/node_modules/playwright-core/package.json').version")"
