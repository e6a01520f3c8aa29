#!/usr/bin/env bash
# containerfile_test.sh BIN SRC: deploy/Containerfile's runtime stage has
# every library the built binaries load (ctest containerfile_test, label
# clients; part of `make test`).
#
# Not a container build (that needs a Docker or Podman daemon; README,
# "Deploy"): for each library ldd resolves for BIN/isopool and
# BIN/poolctl (and so for the libnode.so.108 the image bundles), the Debian
# package that holds it (dpkg -S) must be one the runtime stage's apt-get
# line installs, or one of their dependencies (apt-cache depends), or in
# every Debian image (priority required, and apt's own). libnode.so.108
# itself is installed with the binaries (make install). Exits 77 (skipped)
# where dpkg or apt-cache is missing, on a system other than Debian 12.
set -u
bin=$1 src=$2
file=$src/deploy/Containerfile
if ! command -v dpkg >/dev/null || ! command -v apt-cache >/dev/null ||
  ! grep -q '^12\.' /etc/debian_version 2>/dev/null; then
  echo "containerfile_test: not Debian 12: skipped"
  exit 77
fi
# the runtime stage's packages: the words of its apt-get install, up to the
# first line without a continuation
pkgs=$(sed -n '/^FROM debian:12-slim/,$p' "$file" |
  sed -n '/apt-get install/,/[^\\]$/p' | tr -d '\\&' | tr ' ' '\n' |
  grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vxE 'apt-get|install|rm')
if [ -z "$pkgs" ]; then
  echo "containerfile_test: FAIL: no apt-get install in the runtime stage" >&2
  exit 1
fi
base=$(dpkg-query -W -f '${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }')
# shellcheck disable=SC2086 # the names are words
have=$(apt-cache depends --recurse --no-recommends --no-suggests \
  --no-conflicts --no-breaks --no-replaces --no-enhances $pkgs apt $base |
  grep -v '^ ' | tr -d '<>' | sort -u)
# NAME PATH of each library, and (one dpkg -S for all) the package of
# each path or of the file it links to
libs=$( (ldd "$bin/isopool"; ldd "$bin/poolctl") |
  awk '$2 == "=>" && $3 ~ /^\// && $1 != "libnode.so.108" { print $1, $3 }' |
  sort -u)
# shellcheck disable=SC2046 # the paths are words
owners=$(dpkg -S $(awk '{ print $2 }' <<<"$libs") \
  $(awk '{ print $2 }' <<<"$libs" | xargs realpath) 2>/dev/null)
fails=0
while read -r name path; do
  real=$(realpath "$path")
  pkg=$(awk -v p="$path" -v r="$real" '$2 == p || $2 == r { print $1; exit }' \
    <<<"$owners")
  pkg=${pkg%%:*}
  if [ -z "$pkg" ]; then
    echo "containerfile_test: FAIL: $name ($path) is in no Debian package" >&2
    fails=$((fails + 1))
  elif ! grep -qx "$pkg" <<<"$have"; then
    echo "containerfile_test: FAIL: $name is in $pkg, which the runtime" \
      "stage does not install" >&2
    fails=$((fails + 1))
  fi
done <<<"$libs"
if [ $fails -gt 0 ]; then exit 1; fi
echo "containerfile_test: ok ($(wc -w <<<"$pkgs") packages: $(tr "\n" " " <<<"$pkgs"))"
