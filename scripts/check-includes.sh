#!/bin/sh
# check-includes.sh: the module graph (docs/architecture.md), enforced on
# the #include lines of every C, C++ and header file in the tree.
#
#   scripts/check-includes.sh [TOP]      check the tree at TOP (default: ..)
#   scripts/check-includes.sh --self-test
#
# Rules, each reported as FILE:LINE: #include ...: RULE: why:
#   v8       V8 and Node headers (<v8.h>, <v8-*.h>, <libplatform/...>,
#            <cppgc/...>, <node*.h>) only in isolate/ (<uv.h> is fine
#            anywhere);
#   nng      <nng/...> only in ipc/;
#   msgpack  <msgpack.h>, <msgpack/...> only in codec/;
#   sandbox  libseccomp's <seccomp.h> and the kernel's <linux/seccomp.h>,
#            <linux/landlock.h> only in sandbox/;
#   private  a folder's header that is not in its PUBLIC list below is
#            included from that folder only;
#   graph    a folder includes public headers only of the folders it may
#            use (ALLOWED below: the target_link_libraries graph).
# EXCEPTIONS names each file that may break a rule for its subject (tests/
# and bench/ talking NNG themselves, a test built from a private source),
# with the reason: a new one is a visible edit here. An exception that no
# longer matches an include is an error too, so the list stays true.
# Exit status 0 when the tree is clean, 1 otherwise. Run by ctest as
# check_includes (`make test`). POSIX sh, find and awk.
set -eu

# The public headers of each folder; every other header in it is private.
PUBLIC='
common: iso_err.h iso_suggest.h
codec: iso_buf.h iso_json.h iso_mp.h iso_perm_req.h iso_utf8.h
bootstrap: iso_bootstrap.h
ipc: iso_admin.h iso_client.h iso_http.h iso_link.h iso_proto.h iso_queue.h iso_server.h
ops: iso_ops.h iso_net.h
isolate: iso_rt.h v8_baseline.h
pool: iso_pool.h
sandbox: iso_sandbox.h
'

# The folders whose public headers each folder may include (its own are
# always allowed). A folder not listed may include no other folder's.
ALLOWED='
codec: common
ipc: codec common
ops: codec common
sandbox: common
isolate: bootstrap ops codec common
pool: isolate ops ipc sandbox codec common
cli: pool isolate ops ipc codec common
bench: pool isolate ops ipc codec common
tests: pool sandbox isolate ops ipc codec common
fuzz: isolate ops ipc codec common
'

# FILE  HEADER (a glob)  why. One per line.
EXCEPTIONS='
tests/test_client.c nng/* runs its own NNG REP0 server: the other end of the client library
tests/test_client_nodes.c nng/* runs NNG REP0 servers as the nodes of the client library (nng_fini between cases)
tests/support/fake_server.h nng/* the NNG REP0 server the client suites run: the other end of the client library
tests/support/fake_server.c nng/* the NNG REP0 server the client suites run: the other end of the client library
tests/test_code_cache.c v8s.h spoils code cache entries as another V8 would make them (v8s_code_cache_flip), a hook for tests only
tests/test_sandbox.c nng/* a connected ipc:// pair under the filter, as a pool process holds its sockets
tests/test_poolctl_admin.c nng/* a fake admin socket for poolctl: its own NNG REP0 server
tests/support/http_server.c nng/* the HTTP server of the fetch suites, on the HTTP server of NNG (no HTTP code of our own)
bench/fetch_bench.c http_server.h runs the HTTP server of the fetch suites (tests/support) to fetch from
bench/fetch_bench.c proc.h runs Deno beside it, as the suites run programs (tests/support)
bench/op_bench.c nng/* its baseline is the bare NNG inproc round trip, with nothing of isopool around it
bench/isopool_bench.c nng/* its floor is a bare NNG REQ/REP echo (REP contexts in a process of its own), with nothing of isopool around it
bench/link_bench.c nng/* its old floor is the bare NNG PAIR1 round trip over ipc://, with nothing of isopool around it
tests/test_metrics.c metrics.h builds pool/metrics.c from source, alone (no V8, no rest of pool)
tests/test_super.c super.h builds pool/super.c and log.c from source (no V8, no rest of pool)
tests/test_pool_proc_args.c pool_proc.h builds pool/proc_args.c from source (no V8, no rest of pool)
tests/test_pool_proc.c pool_proc.h plays the front of a real pool process: writes its command line, with the descriptors of its links
tests/test_pool_proc.c super.h spawns the pool process with the real supervisor, which gives it the ends of its links
tests/test_pool_proc.c worker.h the bounds of the links the front listens on (POOL_LINK_MAX, POOL_CTL_MAX_MSG)
tests/test_pool_link.c pool_private.h plays the worker side against the real front, through pool__runners
tests/test_pool_ctl.c pool_private.h stalls the watchdog of the workers group and feeds the front end of the control link what no group sends
tests/test_pool_ctl.c group_private.h holds the rt_lock of a runner, which stalls the watchdog of its group as a wedged pool process would
tests/test_registry.c ops_private.h checks the tables ops/ shares inside (errno to class, the codes of the path normaliser) row by row
tests/test_snapshot.c v8s.h checks the header of the startup snapshot against this process (v8s_snapshot_check) on altered copies of the embedded blob
'

# The C, C++ and header files under TOP's folders, skipping symlinks
# (.deps), build trees (a CMakeCache.txt at their top) and dot folders.
list_sources() {
  for d in */; do
    d=${d%/}
    if [ -L "$d" ] || [ -f "$d/CMakeCache.txt" ]; then
      continue
    fi
    find "$d" \( -name CMakeFiles -o -name '.?*' \) -prune -o -type f \
      \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.cpp' \
      -o -name '*.hh' \) -print
  done
}

check() {
  cd "$1"
  list_sources | sort | PUBLIC=$PUBLIC ALLOWED=$ALLOWED \
    EXCEPTIONS=$EXCEPTIONS awk '
function folder(path) {
  return substr(path, 1, index(path, "/") - 1)
}
function base(path, n, parts) {
  n = split(path, parts, "/")
  return parts[n]
}
# "folder: a b c" lines into set[folder SUBSEP item]
function table(text, set, lines, n, i, w, m, j, key) {
  n = split(text, lines, "\n")
  for (i = 1; i <= n; i++) {
    m = split(lines[i], w, /[ \t]+/)
    if (m < 1 || w[1] == "") {
      continue
    }
    key = w[1]
    sub(/:$/, "", key)
    for (j = 2; j <= m; j++) {
      set[key SUBSEP w[j]] = 1
    }
  }
}
function glob_re(g) {
  gsub(/\./, "\\.", g)
  gsub(/\*/, ".*", g)
  return "^" g "$"
}
function excepted(file, hdr, i) {
  for (i = 1; i <= nexc; i++) {
    if (exc_file[i] == file && hdr ~ exc_re[i]) {
      exc_used[i] = 1
      return 1
    }
  }
  return 0
}
function report(file, line, text, rule, why) {
  printf "%s:%d: %s: %s: %s\n", file, line, text, rule, why
  bad = 1
}
BEGIN {
  table(ENVIRON["PUBLIC"], public)
  table(ENVIRON["ALLOWED"], allowed)
  n = split(ENVIRON["EXCEPTIONS"], lines, "\n")
  for (i = 1; i <= n; i++) {
    m = split(lines[i], w, /[ \t]+/)
    if (m < 2 || w[1] == "") {
      continue
    }
    nexc++
    exc_file[nexc] = w[1]
    exc_glob[nexc] = w[2]
    exc_re[nexc] = glob_re(w[2])
  }
}
{ files[++nfiles] = $0 }
/\.(h|hh)$/ {
  b = base($0)
  if (b in home && home[b] != folder($0)) {
    home[b] = "?" # two folders: resolved by the includer (see below)
  } else {
    home[b] = folder($0)
  }
  has[folder($0) SUBSEP b] = 1
}
END {
  for (f = 1; f <= nfiles; f++) {
    file = files[f]
    own = folder(file)
    ln = 0
    while ((getline line < file) > 0) {
      ln++
      if (line !~ /^[ \t]*#[ \t]*include[ \t]*[<"]/) {
        continue
      }
      rest = line
      sub(/^[ \t]*#[ \t]*include[ \t]*/, "", rest)
      open = substr(rest, 1, 1)
      quoted = open == "\""
      shut = quoted ? "\"" : ">"
      hdr = substr(rest, 2)
      if (index(hdr, shut) > 0) {
        hdr = substr(hdr, 1, index(hdr, shut) - 1)
      }
      text = "#include " open hdr shut
      if (hdr ~ /^(v8\.h|v8-.*\.h|v8config\.h|libplatform\/|cppgc\/|node[^\/]*\.h$|node\/)/) {
        if (own != "isolate" && !excepted(file, hdr)) {
          report(file, ln, text, "v8", "V8 and Node headers only in isolate/")
        }
        continue
      }
      if (hdr ~ /^nng\//) {
        if (own != "ipc" && !excepted(file, hdr)) {
          report(file, ln, text, "nng", "NNG headers only in ipc/")
        }
        continue
      }
      if (hdr ~ /^(msgpack\.h$|msgpack\/)/) {
        if (own != "codec" && !excepted(file, hdr)) {
          report(file, ln, text, "msgpack", "msgpack-c headers only in codec/")
        }
        continue
      }
      if (hdr ~ /^(seccomp\.h|linux\/seccomp\.h|linux\/landlock\.h)$/) {
        if (own != "sandbox" && !excepted(file, hdr)) {
          report(file, ln, text, "sandbox",
                 "seccomp and Landlock headers only in sandbox/")
        }
        continue
      }
      if (!quoted || index(hdr, "/") > 0) {
        continue # a system header, or a path: not a folder header
      }
      # the folder the header comes from: the includer first (as the
      # compiler looks), else the one folder holding that name
      if ((own SUBSEP hdr) in has) {
        continue
      }
      if (!(hdr in home)) {
        continue # not in the tree (generated in the build tree)
      }
      from = home[hdr]
      if (from == "?") {
        report(file, ln, text, "private",
               "a header name held by two folders: rename one")
        continue
      }
      if (!((from SUBSEP hdr) in public)) {
        if (!excepted(file, hdr)) {
          report(file, ln, text, "private",
                 "a private header of " from "/ (not in its PUBLIC list)")
        }
        continue
      }
      if (!((own SUBSEP from) in allowed) && !excepted(file, hdr)) {
        report(file, ln, text, "graph",
               own "/ may not use " from "/ (ALLOWED in scripts/check-includes.sh)")
      }
    }
    close(file)
  }
  for (i = 1; i <= nexc; i++) {
    if (!exc_used[i]) {
      printf "scripts/check-includes.sh: the exception \"%s %s\" matches no include: remove it\n", exc_file[i], exc_glob[i]
      bad = 1
    }
  }
  if (!bad) {
    printf "check-includes: %d files, clean\n", nfiles
  }
  exit bad
}'
}

# A tree that holds every exception and a clean include of each kind must
# pass; then each forbidden include, added alone, must fail with its rule.
self_test() {
  t=$(mktemp -d "${TMPDIR:-/tmp}/check-includes.XXXXXX")
  trap 'rm -rf "$t"' EXIT INT TERM
  mkdir -p "$t/isolate" "$t/ipc" "$t/codec" "$t/ops" "$t/pool" "$t/tests" \
    "$t/bench" "$t/sandbox"
  printf '#include <v8.h>\n#include <libplatform/libplatform.h>\n#include "iso_ops.h"\n' >"$t/isolate/a.cc"
  printf '#include <nng/nng.h>\n#include "iso_buf.h"\n' >"$t/ipc/a.c"
  printf '#include <msgpack.h>\n#include <uv.h>\n' >"$t/codec/a.c"
  printf '#include <seccomp.h>\n#include <linux/landlock.h>\n' >"$t/sandbox/a.c"
  : >"$t/codec/iso_buf.h"
  : >"$t/ops/iso_ops.h"
  : >"$t/ops/ops_private.h"
  : >"$t/isolate/v8s.h"
  printf '#include "pool_private.h"\n#include "iso_ops.h"\n' >"$t/pool/a.c"
  : >"$t/pool/pool_private.h"
  : >"$t/pool/iso_pool.h"
  : >"$t/pool/metrics.h"
  : >"$t/pool/super.h"
  : >"$t/pool/group_private.h"
  : >"$t/pool/pool_proc.h"
  : >"$t/pool/worker.h"
  mkdir -p "$t/tests/support"
  : >"$t/tests/support/http_server.h"
  : >"$t/tests/support/proc.h"
  printf '%s\n' "$EXCEPTIONS" | while read -r file hdr _; do
    if [ -n "$file" ]; then
      mkdir -p "$t/$(dirname "$file")"
      case $hdr in
        */*) inc="<$(printf '%s' "$hdr" | sed 's/\*/x.h/')>" ;;
        *) inc="\"$hdr\"" ;;
      esac
      printf '#include %s\n' "$inc" >>"$t/$file"
    fi
  done
  failed=0
  if ! out=$(check "$t" 2>&1); then
    printf 'self-test: the clean tree failed:\n%s\n' "$out" >&2
    failed=1
  fi
  # file, include, rule
  while read -r file inc rule; do
    printf '#include %s\n' "$inc" >"$t/$file"
    if out=$(check "$t" 2>&1); then
      printf 'self-test: %s in %s passed\n' "$inc" "$file" >&2
      failed=1
    elif ! printf '%s\n' "$out" | grep -q "^$file:1: #include .*: $rule: "; then
      printf 'self-test: %s in %s: want rule %s, got:\n%s\n' "$inc" "$file" \
        "$rule" "$out" >&2
      failed=1
    fi
    rm -f "$t/$file"
  done <<'EOF'
pool/b.c <v8.h> v8
ops/b.c <v8-isolate.h> v8
pool/b.cc <libplatform/libplatform.h> v8
tests/b.c <node.h> v8
pool/b.c <nng/nng.h> nng
tests/b.c <nng/protocol/reqrep0/rep.h> nng
ops/b.c <msgpack.h> msgpack
ipc/b.c <msgpack/pack.h> msgpack
pool/b.c <seccomp.h> sandbox
tests/b.c <linux/landlock.h> sandbox
isolate/b.c <linux/seccomp.h> sandbox
ops/b.c "pool_private.h" private
isolate/b.c "ops_private.h" private
sandbox/b.c "iso_ops.h" graph
tests/b.c "metrics.h" private
codec/b.c "iso_ops.h" graph
ops/b.c "iso_pool.h" graph
EOF
  # a stale exception
  rm -f "$t/bench/op_bench.c"
  if check "$t" >/dev/null 2>&1; then
    printf 'self-test: a stale exception passed\n' >&2
    failed=1
  fi
  if [ "$failed" = 0 ]; then
    echo "check-includes self-test: ok"
  fi
  return "$failed"
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
  exit $?
fi
check "${1:-$(dirname "$0")/..}"
