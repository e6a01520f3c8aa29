#!/usr/bin/env bash
# deno.sh: Deno, the runtime the web platform tests compare isopool with.
#
# Deno publishes its Linux binary on npm (@deno/linux-x64-glibc). This
# fetches the pinned version once with `npm pack`, checks the tarball
# against the integrity npm's registry lists for it (pinned here too), and
# unpacks it into .deps/deno/VERSION (git-ignored). Prints the binary's
# path. Exits 1 with one line on stderr when it can't be had (no npm, no
# registry, another architecture): the tests that compare with Deno then
# skip with that line.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
version=2.9.6
integrity='sha512-3md4TKLCuzsLDmfOoC5KN7NAZaxSVkMgm64vg6foD00JBADCpYS2/5QqXfzgnP5ZQz3iLP9vBQJtEgc116OAoQ=='
dir="$top/.deps/deno/$version"
bin="$dir/deno"

if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
fail() { echo "deno.sh: $*" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || fail "no Deno package for $(uname -m) is pinned"
command -v npm >/dev/null || fail "npm is not installed (Deno comes from the npm registry)"
command -v openssl >/dev/null || fail "openssl is not installed (to check the package)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && timeout 300 npm pack --silent "@deno/linux-x64-glibc@$version" \
   >/dev/null 2>"$tmp/err") ||
  fail "npm pack @deno/linux-x64-glibc@$version failed: $(tail -1 "$tmp/err")"
tgz=$(ls "$tmp"/*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)"
[ "$got" = "$integrity" ] || fail "the package's integrity is $got, not the pinned $integrity"
mkdir -p "$tmp/x"
tar -xzf "$tgz" -C "$tmp/x"
mkdir -p "$dir"
install -m 0755 "$tmp/x/package/deno" "$bin.part"
mv "$bin.part" "$bin"
echo "$bin"
