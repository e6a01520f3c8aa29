#!/usr/bin/env bash
# deps.sh: install what isopool needs to build and run, and nothing more.
#
# Idempotent and quiet when everything is already there. Debian packages come
# from apt; V8 10.2 comes from Debian's libnode108/libnode-dev. Where the
# system libnode-dev cannot be installed (a conflicting nodejs package, as on
# our CI machines) both packages are downloaded and unpacked into .deps/libnode
# inside the tree (git-ignored), and CMake is pointed there.
#
# Prints the libnode prefix CMake should use on its last line when called
# with --print-prefix.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
prefix_local="$top/.deps/libnode"

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

pkgs=(build-essential cmake pkg-config libuv1-dev libnng-dev libssl-dev liblmdb-dev
      libcurl4-openssl-dev zlib1g-dev libicu-dev
      libbrotli1 libc-ares2 libicu72 libnghttp2-14 libssl3 zlib1g
      libuv1 valgrind openssl clang libclang-rt-14-dev clang-format-14
      libseccomp-dev libsystemd-dev libinih-dev
      scdoc   # scdoc: the man pages (dist/man/)
      chromium)  # chromium: test_service_admin_dashboard's browser cases
pkgs+=(curl xz-utils)  # fetching ada (below)
# the clients in other languages (examples/clients/, tests/clients_test.sh):
# Python's msgpack, Go and ugorji's msgpack codec for it (GOPATH mode, no
# module proxy); Node's packages come from npm (package-lock.json)
pkgs+=(python3-msgpack golang-go golang-github-ugorji-go-codec-dev)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q \
    "${missing[@]}" >/dev/null
fi

# The npm packages the prelude embeds (bootstrap/vendor/README.md): each
# pinned by version and by the integrity npm's registry lists for it,
# fetched once with `npm pack`, checked with openssl and unpacked into
# .deps/npm/NAME/VERSION (git-ignored); bootstrap/CMakeLists.txt reads them
# from there. Debian 12's own `npm` when there is none: it depends on
# Debian's nodejs and libnode108, the same V8 10.2 the build wants.
npm_pins=(
  "web-streams-polyfill 4.3.0 sha512-/Gnggvj9oSrEvJbDyyPtAnxBt5fGQM2iWOKQNu7ie1OxDgK40iZpyV3TKaRiEzVj1oA1UxKnEy9XPXh6PW3eVw=="
  "urlpattern-polyfill 10.1.0 sha512-IGjKp/o0NL3Bso1PymYURCJxMPNAf/ILOpendP9f5B6e1rTJgdgiOvgfoT8VxCAdY+Wisb9uhGaJJf3yZ2V9nw=="
)
for pin in "${npm_pins[@]}"; do
  read -r name version integrity <<<"$pin"
  dir="$top/.deps/npm/$name/$version"
  [ -f "$dir/package/package.json" ] && continue
  if ! command -v npm >/dev/null; then
    echo "deps: installing npm (for $name)" >&2
    "${sudo_cmd[@]}" apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q npm >/dev/null
  fi
  echo "deps: fetching $name@$version from npm into .deps/npm" >&2
  ntmp=$(mktemp -d)
  (cd "$ntmp" && timeout 300 npm pack --silent "$name@$version" >/dev/null) || {
    echo "deps: npm pack $name@$version failed" >&2; rm -rf "$ntmp"; exit 1; }
  tgz=$(ls "$ntmp"/*.tgz)
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)"
  if [ "$got" != "$integrity" ]; then
    echo "deps: $name@$version's integrity is $got, not the pinned $integrity" >&2
    rm -rf "$ntmp"; exit 1
  fi
  mkdir -p "$ntmp/x" "$(dirname "$dir")"
  tar -xzf "$tgz" -C "$ntmp/x"
  rm -rf "$dir.part"; mv "$ntmp/x" "$dir.part"; mv "$dir.part" "$dir"
  rm -rf "$ntmp"
done

# V8 10.2: a system libnode-dev whose headers really are V8 10.2, or ours.
system_ok() {
  [ -f /usr/include/node/v8-version.h ] &&
    grep -q 'V8_MAJOR_VERSION 10$' /usr/include/node/v8-version.h &&
    grep -q 'V8_MINOR_VERSION 2$' /usr/include/node/v8-version.h &&
    ls /usr/lib/*/libnode.so >/dev/null 2>&1
}
if system_ok; then
  prefix=/usr
elif [ -f "$prefix_local/usr/include/node/v8-version.h" ] &&
     ls "$prefix_local"/usr/lib/*/libnode.so >/dev/null 2>&1; then
  prefix="$prefix_local/usr"
else
  echo "deps: unpacking libnode108 + libnode-dev into .deps/libnode" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download libnode108 libnode-dev >/dev/null 2>&1) || {
    "${sudo_cmd[@]}" apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download libnode108 libnode-dev >/dev/null 2>&1)
  }
  rm -rf "$prefix_local"
  mkdir -p "$prefix_local"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$prefix_local"; done
  prefix="$prefix_local/usr"
fi

# ada 2.7.8, the WHATWG URL parser Node uses (URL and
# URLSearchParams, isolate/v8s_url.cc). Bookworm has no ada package, but
# Debian's nodejs source (the one libnode108 is built from) carries it as a
# component tarball of its own; the hash is the one the signed
# nodejs_18.20.4+dfsg-1~deb12u2.dsc lists for it. Built from source into a
# static library by isolate/CMakeLists.txt (libnode's own ada symbols are
# not ours to link: no headers ship, and their ABI is Node's).
ada_url=http://deb.debian.org/debian/pool/main/n/nodejs/nodejs_18.20.4+dfsg.orig-ada.tar.xz
ada_sha256=b58fd8b7ef61255b66d42b66e32e74ccdde61c4e02facd6b5a566618e32e993e
ada_dir="$top/.deps/ada"
if [ ! -f "$ada_dir/ada-2.7.8/src/ada.cpp" ]; then
  echo "deps: fetching ada 2.7.8 (Debian's nodejs component tarball) into .deps/ada" >&2
  ada_tmp=$(mktemp -d)
  curl -fsSL -o "$ada_tmp/ada.tar.xz" "$ada_url"
  if ! echo "$ada_sha256  $ada_tmp/ada.tar.xz" | sha256sum -c --status; then
    echo "deps: $ada_url: sha256 mismatch" >&2
    rm -rf "$ada_tmp"
    exit 1
  fi
  tar -xJf "$ada_tmp/ada.tar.xz" -C "$ada_tmp"
  rm -rf "$ada_dir"
  mkdir -p "$ada_dir"
  mv "$ada_tmp/ada-2.7.8" "$ada_dir/"
  rm -rf "$ada_tmp"
fi

# Debian 12's kubectl (kubernetes-client 1.20), for k8s_test's offline
# `kubectl kustomize` of deploy/k8s: unpacked into .deps/kubernetes-client,
# not installed, so that it replaces no newer kubectl of the machine's.
kc_dir="$top/.deps/kubernetes-client"
if [ ! -x "$kc_dir/usr/bin/kubectl" ]; then
  echo "deps: unpacking kubernetes-client into .deps/kubernetes-client" >&2
  kc_tmp=$(mktemp -d)
  (cd "$kc_tmp" && apt-get download kubernetes-client >/dev/null 2>&1) || {
    "${sudo_cmd[@]}" apt-get update -q >/dev/null
    (cd "$kc_tmp" && apt-get download kubernetes-client >/dev/null 2>&1)
  }
  rm -rf "$kc_dir.part"
  mkdir -p "$kc_dir.part"
  dpkg-deb -x "$kc_tmp"/kubernetes-client_*.deb "$kc_dir.part"
  rm -rf "$kc_dir"
  mv "$kc_dir.part" "$kc_dir"
  rm -rf "$kc_tmp"
fi

if [ "${1:-}" = "--print-prefix" ]; then echo "$prefix"; fi
