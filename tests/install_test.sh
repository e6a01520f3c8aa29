#!/bin/sh
# install_test.sh: `make install` checked from the outside (ctest
# install_test, label install; part of `make test`).
#
#   tests/install_test.sh BUILD SOURCE LIBDIR VERSION LIBNODE_DIR BUNDLED
#                         CONFIG
#
# Installs the build tree BUILD with `cmake --install --prefix /usr` into a
# temporary DESTDIR, then:
#   - every file is where README.md ("Install") says (LIBDIR: the tree's
#     CMAKE_INSTALL_LIBDIR), libnode.so.108 in LIBDIR/isopool when BUNDLED
#     is 1 (no ISO_SYSTEM_LIBNODE), the config file at CONFIG (the path
#     isopool reads, deploy/);
#   - no installed ELF file has a RUNPATH or RPATH other than $ORIGIN-
#     relative ones, isopool's is $ORIGIN/../LIBDIR/isopool, and with a
#     clean environment ldd resolves its libnode.so.108 inside the DESTDIR;
#   - with the checkout, the build tree and (BUNDLED) the prefix of
#     LIBNODE_DIR, where the build found libnode, out of reach (a mount
#     namespace with empty tmpfs over them: unshare -rm; where the kernel
#     refuses one, a note, and they stay visible), and LD_LIBRARY_PATH
#     unset: each installed binary's --version says VERSION, the installed
#     `isopool serve` (module root: the installed examples) answers a call
#     job from the installed poolctl and an eval job from a program built
#     against the installed client library, reports VERSION in `poolctl
#     status`, and exits 0 after `poolctl shutdown`;
#   - that program builds against the DESTDIR through the installed
#     pkg-config file (PKG_CONFIG_SYSROOT_DIR) and through the installed
#     CMake package (find_package with CMAKE_PREFIX_PATH);
#   - `man --warnings -l` renders both man pages without a warning, and
#     every option `isopool help serve|run` and `poolctl --help` list (and each
#     poolctl command) is in its page's source;
#   - the bash completion files pass `bash -n` and complete poolctl's
#     commands and isopool's options.
# Prints what failed; exit status 0 when everything held, 1 otherwise.
set -u
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
libdir=$3 version=$4 libnode_dir=$5 bundled=$6 config=$7

fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}

tmp=$(mktemp -d /tmp/isopool-install-XXXXXX)
serve_pid=""
# cmake --install rewrites BUILD/install_manifest.txt, which `make
# uninstall` reads: the one of a real install is put back
manifest=$build/install_manifest.txt
if [ -f "$manifest" ]; then cp "$manifest" "$tmp/manifest"; fi
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null; fi
  if [ -f "$tmp/manifest" ]; then
    cp "$tmp/manifest" "$manifest"
  else
    rm -f "$manifest"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
dest=$tmp/stage
root=$dest/usr

if ! DESTDIR=$dest cmake --install "$build" --prefix /usr \
  >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  fail "cmake --install"
  exit 1
fi

# ---- where everything went ----
for f in bin/isopool bin/poolctl bin/isopool-bench \
  "$libdir/libisopool-client.so" "$libdir/libisopool-client.so.${version%%.*}" \
  "$libdir/pkgconfig/isopool-client.pc" \
  "$libdir/cmake/isopool-client/isopool-client-config.cmake" \
  "$libdir/cmake/isopool-client/isopool-client-config-version.cmake" \
  include/isopool/iso_client.h include/isopool/iso_proto.h \
  include/isopool/iso_version.h share/man/man1/isopool.1 \
  share/man/man1/poolctl.1 share/bash-completion/completions/isopool \
  share/bash-completion/completions/poolctl \
  share/doc/isopool/examples/double.js; do
  [ -e "$root/$f" ] || fail "not installed: /usr/$f"
done
# the config file where the installed isopool looks for it (an absolute
# path compiled in: the prefix of the build's configuration, not --prefix)
[ -f "$dest$config" ] || fail "not installed: $config (isopool reads it)"
for b in isopool poolctl isopool-bench; do
  [ -x "$root/bin/$b" ] || fail "/usr/bin/$b is not executable"
done
if [ "$bundled" = 1 ]; then
  [ -f "$root/$libdir/isopool/libnode.so.108" ] ||
    fail "not installed: /usr/$libdir/isopool/libnode.so.108"
fi

# ---- RUNPATH: nothing of the checkout, only $ORIGIN ----
find "$root" -type f | while read -r f; do
  head -c 4 "$f" | grep -q 'ELF' || continue
  paths=$(readelf -d "$f" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
  old_ifs=$IFS
  IFS=:
  for p in $paths; do
    case $p in
      '$ORIGIN' | '$ORIGIN/'*) ;;
      *) echo "FAIL: ${f#"$dest"} has RUNPATH $p" >&2 ;;
    esac
  done
  IFS=$old_ifs
done 2>"$tmp/runpath.err"
if [ -s "$tmp/runpath.err" ]; then
  cat "$tmp/runpath.err" >&2
  fail "a RUNPATH outside \$ORIGIN"
fi
runpath=$(readelf -d "$root/bin/isopool" |
  sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
if [ "$bundled" = 1 ]; then
  [ "$runpath" = "\$ORIGIN/../$libdir/isopool" ] ||
    fail "isopool's RUNPATH is \"$runpath\", not \$ORIGIN/../$libdir/isopool"
  got=$(env -i PATH=/usr/bin:/bin ldd "$root/bin/isopool" |
    sed -n 's/^[[:space:]]*libnode\.so\.108 => \([^ ]*\).*/\1/p')
  got=$(realpath -e "$got" 2>/dev/null || echo "$got")
  [ "$got" = "$(realpath "$root/$libdir/isopool/libnode.so.108")" ] ||
    fail "ldd finds libnode.so.108 at \"$got\", not in the DESTDIR"
fi
if env -i PATH=/usr/bin:/bin ldd "$root/bin/isopool" | grep -q 'not found'; then
  fail "isopool: $(ldd "$root/bin/isopool" | grep 'not found')"
fi

# ---- the client program: pkg-config and the CMake package ----
cp "$src/tests/install/client.c" "$src/tests/install/CMakeLists.txt" "$tmp/"
pc() {
  PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$root/$libdir/pkgconfig \
    pkg-config "$@" isopool-client
}
[ "$(pc --modversion)" = "$version" ] ||
  fail "pkg-config --modversion isopool-client: \"$(pc --modversion)\""
# shellcheck disable=SC2046 # the flags are words
if ! cc -o "$tmp/client-pc" "$tmp/client.c" $(pc --cflags) $(pc --libs) \
  2>"$tmp/cc.log"; then
  cat "$tmp/cc.log" >&2
  fail "the client program does not build with pkg-config's flags"
fi
want_minor=$(echo "$version" | cut -d. -f1,2)
if ! cmake -S "$tmp" -B "$tmp/cmk" -DCMAKE_PREFIX_PATH="$root" \
  -DISO_WANT_VERSION="$want_minor" >"$tmp/cmk.log" 2>&1 ||
  ! cmake --build "$tmp/cmk" >>"$tmp/cmk.log" 2>&1; then
  cat "$tmp/cmk.log" >&2
  fail "the client program does not build with find_package(isopool-client)"
fi
# a version the package must refuse: the next minor
next_minor=$(echo "$version" | awk -F. '{ print $1 "." $2 + 1 }')
if cmake -S "$tmp" -B "$tmp/cmk-next" -DCMAKE_PREFIX_PATH="$root" \
  -DISO_WANT_VERSION="$next_minor" >"$tmp/cmk-next.log" 2>&1; then
  fail "find_package(isopool-client $next_minor) accepted $version"
fi

# ---- man pages ----
for page in isopool poolctl; do
  warn=$(man --warnings -l "$root/share/man/man1/$page.1" 2>&1 >/dev/null)
  [ -z "$warn" ] || fail "man --warnings -l $page.1: $warn"
  [ -n "$(MANWIDTH=80 man -l "$root/share/man/man1/$page.1" 2>/dev/null)" ] ||
    fail "man -l $page.1 renders nothing"
done
for opt in $({ "$root/bin/isopool" help serve; "$root/bin/isopool" help run; } |
  grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u); do
  grep -qE -- "$opt([^a-z0-9-]|\$)" "$src/dist/man/isopool.1.scd" ||
    fail "isopool.1 does not mention $opt (isopool help serve or run does)"
done
for opt in $("$root/bin/poolctl" --help |
  grep -o -- '--[a-z][a-z-]*' | sort -u); do
  grep -qE -- "$opt([^a-z-]|\$)" "$src/dist/man/poolctl.1.scd" ||
    fail "poolctl.1 does not mention $opt (poolctl --help does)"
done
for cmd in $("$root/bin/poolctl" --help |
  sed -n 's/^.*poolctl \[OPTIONS\] \([a-z][a-z]*\).*$/\1/p' | sort -u); do
  grep -q "^\*$cmd\*" "$src/dist/man/poolctl.1.scd" ||
    fail "poolctl.1 has no entry for the command $cmd"
done

# ---- bash completion ----
comp=$root/share/bash-completion/completions
for f in isopool poolctl; do
  bash -n "$comp/$f" || fail "bash -n completions/$f"
done
complete_words() { # FILE FUNCTION WORD...: what completing the last gives
  f=$1 fn=$2
  shift 2
  PATH=$root/bin:/usr/bin:/bin bash -c '
    . "$1"; fn=$2; shift 2
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    "$fn"; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' \
    sh "$f" "$fn" "$@"
}
got=$(complete_words "$comp/poolctl" _poolctl poolctl st)
[ "$got" = "stats status " ] || fail "poolctl st<Tab>: \"$got\""
got=$(complete_words "$comp/poolctl" _poolctl poolctl --json help re)
[ "$got" = "recycle reload resize " ] || fail "poolctl help re<Tab>: \"$got\""
got=$(complete_words "$comp/isopool" _isopool isopool s)
[ "$got" = "serve " ] || fail "isopool s<Tab>: \"$got\""
got=$(complete_words "$comp/isopool" _isopool isopool serve --work)
[ "$got" = "--workers " ] || fail "isopool serve --work<Tab>: \"$got\""
got=$(cd "$tmp" && complete_words "$comp/isopool" _isopool isopool serve \
  --config install.l)
[ "$got" = "install.log " ] ||
  fail "isopool serve --config install.l<Tab>: \"$got\""
got=$(complete_words "$comp/isopool" _isopool isopool serve --log-level w)
[ "$got" = "warn " ] || fail "isopool serve --log-level w<Tab>: \"$got\""

# ---- the installed service, the checkout out of reach ----
# One script, run in a mount namespace where SOURCE, BUILD and LIBNODE_DIR
# are empty, with a clean environment. It prints FAIL lines itself.
cat >"$tmp/run.sh" <<'EOF'
set -u
root=$1 tmp=$2 version=$3
shift 3
for d in "$@"; do
  if [ -n "$d" ] && [ -d "$d" ]; then
    mount -t tmpfs -o size=1m isopool-hidden "$d" ||
      echo "FAIL: could not hide $d" >&2
  fi
done
for d in "$@"; do
  if [ -n "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
    echo "FAIL: $d is still visible" >&2
  fi
done
check_version() { # BIN FIRST-LINE
  got=$("$root/bin/$1" --version 2>&1 | head -n 1)
  [ "$got" = "$2" ] || echo "FAIL: $1 --version: \"$got\", not \"$2\"" >&2
}
check_version isopool "isopool $version"
check_version poolctl "poolctl (isopool) $version"
check_version isopool-bench "isopool-bench (isopool) $version"
job=ipc://$tmp/job.ipc
admin=ipc://$tmp/admin.ipc
"$root/bin/isopool" serve --listen "$job" --admin "$admin" --workers 1 \
  --modules "$root/share/doc/isopool/examples" --quiet 2>"$tmp/serve.log" &
pid=$!
echo "$pid" >"$tmp/serve.pid"
up=0
for _ in $(seq 1 300); do
  if "$root/bin/poolctl" --admin "$admin" --timeout 1000 status \
    >"$tmp/status.out" 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ $up = 0 ]; then
  echo "FAIL: the installed isopool serve did not answer status" >&2
  cat "$tmp/serve.log" >&2
else
  grep -q "^version     $version\$" "$tmp/status.out" ||
    echo "FAIL: poolctl status does not say version $version" >&2
  got=$("$root/bin/poolctl" --url "$job" call double.js 21 2>&1)
  [ "$got" = '{"input":21,"doubled":42}' ] ||
    echo "FAIL: poolctl call double.js 21: \"$got\"" >&2
  for c in "$tmp/client-pc" "$tmp/cmk/client"; do
    [ -x "$c" ] || continue
    got=$(LD_LIBRARY_PATH=$root/$(cat "$tmp/libdir") "$c" "$job" 2>&1)
    [ "$got" = 42 ] || echo "FAIL: $c $job: \"$got\"" >&2
    got=$(LD_LIBRARY_PATH=$root/$(cat "$tmp/libdir") "$c" 2>&1)
    [ "$got" = "$version" ] || echo "FAIL: $c says ISO_VERSION \"$got\"" >&2
  done
  "$root/bin/poolctl" --admin "$admin" shutdown >/dev/null 2>&1 ||
    echo "FAIL: poolctl shutdown" >&2
fi
wait "$pid"
rc=$?
if [ "$rc" != 0 ]; then
  echo "FAIL: isopool serve exited $rc" >&2
  cat "$tmp/serve.log" >&2
fi
rm -f "$tmp/serve.pid"
echo "ran: $(grep -c . "$tmp/status.out" 2>/dev/null) status lines"
EOF
echo "$libdir" >"$tmp/libdir"
hide="$src $(cd "$build" && pwd -P)"
# the libnode the build linked (its prefix, e.g. .deps/libnode), unless it
# is the system's
if [ "$bundled" = 1 ]; then
  prefix=$(cd "$libnode_dir/../../.." 2>/dev/null && pwd -P)
  case $prefix in
    / | /usr | /usr/local | "") ;;
    *) hide="$hide $prefix" ;;
  esac
fi
# the checkout's own .deps may be a link to another checkout's
if [ -L "$src/.deps" ]; then
  hide="$hide $(cd "$src/.deps" && pwd -P)"
fi
run_env="env -i PATH=/usr/bin:/bin HOME=$tmp"
if unshare -rm true 2>/dev/null; then
  # shellcheck disable=SC2086 # the paths are words
  $run_env unshare -rm sh "$tmp/run.sh" "$root" "$tmp" "$version" $hide \
    >"$tmp/run.out" 2>"$tmp/run.err"
else
  echo "note: no mount namespace here (unshare -rm): the checkout stays" \
    "visible; RUNPATH and ldd above are the proof" >&2
  $run_env sh "$tmp/run.sh" "$root" "$tmp" "$version" >"$tmp/run.out" \
    2>"$tmp/run.err"
fi
if ! grep -q '^ran: ' "$tmp/run.out"; then
  cat "$tmp/run.out" "$tmp/run.err" >&2
  fail "the installed service's part did not run to its end"
fi
if grep -q '^FAIL' "$tmp/run.err"; then
  cat "$tmp/run.err" >&2
  fails=$((fails + $(grep -c '^FAIL' "$tmp/run.err")))
fi
if [ -f "$tmp/serve.pid" ]; then serve_pid=$(cat "$tmp/serve.pid"); fi

if [ "$fails" -gt 0 ]; then
  echo "install_test: $fails failed" >&2
  exit 1
fi
echo "install_test: ok (DESTDIR install, prefix /usr, $libdir)"
