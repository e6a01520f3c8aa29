#!/bin/sh
# code_cache_bench.sh: what `--code-cache DIR` gives a cold service start
# (issue 15): its first eval job that imports bench/modules/lib.js (the
# job isopool-bench --eval-import ./lib.js sends: `import './lib.js';
# export default 1 + 1;`), with an empty DIR and with a warm one, side by
# side in one run.
#
#   bench/code_cache_bench.sh            # after a build in build/
#   R=9 BIN=build/bin bench/code_cache_bench.sh
#
# First a service on a fresh DIR runs the job twice (the second compile
# makes the entries: lib.js's and the job's own text) and stops once the
# front has written them: that DIR is the warm one. Then R rounds, each
# starting two services one after the other, `isopool serve --workers 1
# --spare-processes 0 --code-cache DIR` on bench/modules, the order
# flipped every round: cold, on an empty DIR; warm, on a copy of the warm
# DIR (cp -a: the same modes and key). Each waits for `poolctl status`,
# then sends the job once (`poolctl eval --stats`) and takes its run time
# on the worker (run_us: the realm, the loading and compile of the job
# and lib.js, the evaluation), the CPU time its JavaScript took on the
# worker's thread (cpu_us: the compiles are in it) and its wall time (the
# reply's, from its arrival), then stops. Prints the medians, warm against cold (the floor: what a start
# without the disk cache costs), and the median of the rounds' ratios.
set -eu
BIN=${BIN:-build/bin}
R=${R:-9}
MODS=$(dirname "$0")/modules
TMP=$(mktemp -d /tmp/isopool-code-cache-bench-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
printf "import './lib.js';\nexport default 1 + 1;\n" >"$TMP/job.js"

# serve NAME DIR [N]: a service on DIR, the job sent N times (1), the last
# one's "run wall" (us) in $TMP/NAME.fig; with N > 1, waits for N written
# entries before it stops
serve() {
  name=$1
  dir=$2
  n=${3:-1}
  sock="ipc://$TMP/$name.ipc"
  admin="ipc://$TMP/$name.admin"
  "$BIN/isopool" serve --listen "$sock" --admin "$admin" --modules "$MODS" \
    --workers 1 --spare-processes 0 --log-level debug --code-cache "$dir" \
    2>"$TMP/$name.log" &
  pid=$!
  i=0
  while ! "$BIN/poolctl" --admin "$admin" status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 200 ]; then
      echo "code_cache_bench: the $name service did not start:" >&2
      cat "$TMP/$name.log" >&2
      kill "$pid" 2>/dev/null || true
      exit 1
    fi
    sleep 0.05
  done
  k=0
  while [ $k -lt "$n" ]; do
    "$BIN/poolctl" --url "$sock" --stats eval "$TMP/job.js" \
      >"$TMP/$name.out" 2>"$TMP/$name.stats"
    k=$((k + 1))
  done
  if [ "$(cat "$TMP/$name.out")" != 2 ]; then
    echo "code_cache_bench: the $name job answered:" >&2
    cat "$TMP/$name.out" "$TMP/$name.stats" >&2
    kill "$pid"
    exit 1
  fi
  if [ "$n" -gt 1 ]; then
    i=0
    while [ "$(grep -c ' written$' "$TMP/$name.log" || true)" -lt 2 ]; do
      i=$((i + 1))
      if [ $i -gt 200 ]; then
        echo "code_cache_bench: no entries written:" >&2
        cat "$TMP/$name.log" >&2
        kill "$pid"
        exit 1
      fi
      sleep 0.05
    done
  fi
  kill "$pid"
  wait "$pid" || true
  # "stats: worker 0, queue Q us, run R us, cpu C us, wall W us, ..."
  sed -n 's/.*run \([0-9]*\) us, cpu \([0-9]*\) us, wall \([0-9]*\) us.*/\1 \2 \3/p' \
    "$TMP/$name.stats" >"$TMP/$name.fig"
}

serve prep "$TMP/warm" 2
r=0
: >"$TMP/cold.all"
: >"$TMP/warm.all"
while [ $r -lt "$R" ]; do
  rm -rf "$TMP/cold" "$TMP/w"
  cp -a "$TMP/warm" "$TMP/w"
  if [ $((r % 2)) -eq 0 ]; then
    serve cold "$TMP/cold"
    serve warm "$TMP/w"
  else
    serve warm "$TMP/w"
    serve cold "$TMP/cold"
  fi
  grep -q "2 entries loaded" "$TMP/warm.log" || {
    echo "code_cache_bench: the warm service loaded:" >&2
    grep code-cache "$TMP/warm.log" >&2
    exit 1
  }
  cat "$TMP/cold.fig" >>"$TMP/cold.all"
  cat "$TMP/warm.fig" >>"$TMP/warm.all"
  r=$((r + 1))
done

paste "$TMP/cold.all" "$TMP/warm.all" | awk -v R="$R" '
function median(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) {
    t = a[i]
    for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
    a[j + 1] = t
  }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ cr[NR] = $1; cc[NR] = $2; cw[NR] = $3; wr[NR] = $4; wc[NR] = $5; ww[NR] = $6
  rr[NR] = $4 / $1; rc[NR] = $5 / $2; rw[NR] = $6 / $3 }
END {
  printf "first eval job importing lib.js after a cold start, %d rounds (us, medians)\n", NR
  printf "%-34s %10s %10s %10s\n", "", "run", "cpu", "wall"
  printf "%-34s %10d %10d %10d\n", "cold: empty --code-cache DIR", median(cr, NR), median(cc, NR), median(cw, NR)
  printf "%-34s %10d %10d %10d\n", "warm: DIR from an earlier run", median(wr, NR), median(wc, NR), median(ww, NR)
  printf "%-34s %10.2f %10.2f %10.2f\n", "warm / cold, median of rounds", median(rr, NR), median(rc, NR), median(rw, NR)
}'
