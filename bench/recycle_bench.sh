#!/bin/sh
# recycle_bench.sh: what recycling costs the latency of a steady load, in
# one run, side by side (issue 14's target: p99 during recycles at most 2x
# the steady p99).
#
#   bench/recycle_bench.sh            # after a build in build/
#   N=500 C=8 D=5 W=2 S=1 BIN=build/bin bench/recycle_bench.sh
#
# Three services, one after the other, each `isopool serve --workers W` on
# bench/modules with the same unbatched call load (isopool-bench --mode
# call, C jobs in flight, D seconds):
#   steady  no recycling;
#   spare   --recycle-after-jobs N --spare-isolates S: each worker's
#           isolate is replaced every N jobs by a spare built in advance
#           (S per pool process, default 1: the service's default);
#   cold    the same with --spare-isolates 0: the worker rebuilds its
#           isolate on its own thread, out of rotation meanwhile (the
#           behaviour before spares).
# Each row: jobs/s, p50 and p99 latency (us), p99 against the steady p99,
# and from `poolctl status` the recycles and those that had no spare ready
# (cold). The floor is the steady row.
set -eu
BIN=${BIN:-build/bin}
N=${N:-500}
C=${C:-8}
D=${D:-5}
W=${W:-2}
S=${S:-1}
MODS=$(dirname "$0")/modules
TMP=$(mktemp -d /tmp/isopool-recycle-bench-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# run NAME FLAGS...: one service, the load, its row's figures in $TMP/NAME
run() {
  name=$1
  shift
  sock="ipc://$TMP/$name.ipc"
  admin="ipc://$TMP/$name.admin"
  "$BIN/isopool" serve --listen "$sock" --admin "$admin" --modules "$MODS" \
    --workers "$W" --quiet "$@" 2>"$TMP/$name.log" &
  pid=$!
  i=0
  while ! "$BIN/poolctl" --admin "$admin" status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
      echo "recycle_bench: the $name service did not start:" >&2
      cat "$TMP/$name.log" >&2
      kill "$pid" 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
  "$BIN/isopool-bench" --url "$sock" --mode call --concurrency "$C" \
    --duration "$D" --no-floor >"$TMP/$name.out"
  "$BIN/poolctl" --admin "$admin" --json status >"$TMP/$name.json"
  kill "$pid"
  wait "$pid" || true
  # the call row: mode, in flight, x, sockets, jobs/s, msgs/s, p50, p90,
  # p99, errors, ...
  awk '$1 == "call" { print $5, $7, $9, $10 }' "$TMP/$name.out" \
    >"$TMP/$name.row"
}

num() { # num FILE KEY: an integer member of status's recycling map
  sed -n "s/.*\"recycling\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$1"
}

run steady
run spare --recycle-after-jobs "$N" --spare-isolates "$S"
run cold --recycle-after-jobs "$N" --spare-isolates 0

read -r _ _ steady_p99 _ <"$TMP/steady.row"
echo "recycle_bench: $W workers, $C call jobs in flight, ${D} s each;" \
  "recycling every $N jobs per worker; $S spare(s) per pool process"
printf '%-8s %10s %10s %10s %12s %9s %6s %7s\n' config jobs/s "p50 us" \
  "p99 us" "p99/steady" recycles cold errors
for name in steady spare cold; do
  read -r jobs p50 p99 errors <"$TMP/$name.row"
  ratio=$(awk -v a="$p99" -v b="$steady_p99" 'BEGIN { printf "%.2f", a / b }')
  printf '%-8s %10s %10s %10s %12s %9s %6s %7s\n' "$name" "$jobs" "$p50" \
    "$p99" "$ratio" "$(num "$TMP/$name.json" recycles)" \
    "$(num "$TMP/$name.json" recycles_cold)" "$errors"
done
