#!/bin/sh
# ab_bench.sh: two builds of the service (or one build with two sets of
# flags) under the same load, alternated round by round in one run, so a
# noisy machine moves both alike: the ratio B/A per round and its median.
#
#   A=/path/to/old/build/bin B=build/bin bench/ab_bench.sh
#   A=build/bin B=build/bin B_FLAGS="--cpu-ms 1000" bench/ab_bench.sh
#
# Each round starts A's service and B's (in an order that alternates),
# each `isopool serve --workers W` on bench/modules with its flags, and
# measures it with B's isopool-bench (the same client for both): unbatched
# calls (C in flight) and batches (256 jobs, 4 in flight), D seconds each.
# Beside each jobs/s, the service's CPU time per job (its processes' user
# and system time over the jobs it answered), which load that the machine
# adds moves less than jobs/s. The last line has the medians of the
# per-round ratios, B/A.
set -eu
A=${A:?A: the bin directory of the first build}
B=${B:-build/bin}
A_FLAGS=${A_FLAGS:-}
B_FLAGS=${B_FLAGS:-}
ROUNDS=${ROUNDS:-6}
C=${C:-64}
D=${D:-3}
W=${W:-2}
MODS=$(dirname "$0")/modules
TMP=$(mktemp -d /tmp/isopool-ab-bench-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# serve NAME BIN FLAGS: starts a service, waits until it answers
serve() {
  name=$1
  bin=$2
  shift 2
  sock="ipc://$TMP/$name.ipc"
  admin="ipc://$TMP/$name.admin"
  # shellcheck disable=SC2086 # the flags are words
  "$bin/isopool" serve --listen "$sock" --admin "$admin" --modules "$MODS" \
    --workers "$W" --quiet $* 2>"$TMP/$name.log" &
  echo $! >"$TMP/$name.pid"
  i=0
  while ! "$B/poolctl" --admin "$admin" status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
      echo "ab_bench: the $name service did not start:" >&2
      cat "$TMP/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

# jobs_per_s URL MODE: the jobs/s column of isopool-bench's MODE row (not
# its floor's: a B from before the floor has no --no-floor)
no_floor=
if "$B/isopool-bench" --help | grep -q -- --no-floor; then
  no_floor=--no-floor
fi
jobs_per_s() {
  "$B/isopool-bench" --url "$1" --mode "$2" --concurrency "$C" \
    --duration "$D" $no_floor >"$TMP/bench.out"
  awk -v m="$2" '$1 == m { print $5 }' "$TMP/bench.out"
}

# cpu_ticks NAME: the CPU time (clock ticks) the service NAME's processes
# (the front and its pool processes) have used so far
cpu_ticks() {
  pid=$(cat "$TMP/$1.pid")
  for p in $pid $(ps -o pid= --ppid "$pid"); do
    cat "/proc/$p/stat" 2>/dev/null || true
  done | awk '{ s += $14 + $15 } END { print s + 0 }'
}

# measure_mode NAME MODE: "JOBS/S NS/JOB", the service's CPU time per job
measure_mode() {
  t0=$(cpu_ticks "$1")
  n=$(jobs_per_s "ipc://$TMP/$1.ipc" "$2")
  t1=$(cpu_ticks "$1")
  awk -v n="$n" -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v d="$D" \
    'BEGIN { printf "%s %.0f\n", n, (n > 0 ? t * 1e9 / hz / (n * d) : 0) }'
}

# measure NAME: its call and batch jobs/s and CPU time per job, appended
# to $TMP/NAME.rows
measure() {
  call=$(measure_mode "$1" call)
  batch=$(measure_mode "$1" batch)
  echo "$call $batch" >>"$TMP/$1.rows"
}

stop() {
  pid=$(cat "$TMP/$1.pid")
  kill "$pid"
  wait "$pid" || true
}

echo "ab_bench: A=$A $A_FLAGS; B=$B $B_FLAGS; $W workers; $ROUNDS rounds;" \
  "calls $C in flight, batches of 256 x 4; ${D} s each"
printf '%5s %10s %10s %6s %7s %7s %6s %10s %10s %6s %7s %7s %6s\n' round \
  "A calls/s" "B calls/s" ratio "A ns/job" "B ns/job" ratio \
  "A batch/s" "B batch/s" ratio "A ns/job" "B ns/job" ratio
r=1
while [ $r -le "$ROUNDS" ]; do
  if [ $((r % 2)) -eq 1 ]; then order="a b"; else order="b a"; fi
  for x in $order; do
    if [ "$x" = a ]; then serve a "$A" "$A_FLAGS"; else serve b "$B" "$B_FLAGS"; fi
    measure "$x"
    stop "$x"
  done
  paste -d' ' "$TMP/a.rows" "$TMP/b.rows" | sed -n "${r}p" |
    awk -v r="$r" '{
      printf "%5d %10.0f %10.0f %6.3f %7.0f %7.0f %6.3f %10.0f %10.0f %6.3f %7.0f %7.0f %6.3f\n",
        r, $1, $5, $5 / $1, $2, $6, $6 / $2, $3, $7, $7 / $3, $4, $8, $8 / $4 }' |
    tee -a "$TMP/ratios"
  r=$((r + 1))
done
median() { # median COLUMN of $TMP/ratios
  awk -v c="$1" '{ print $c }' "$TMP/ratios" | sort -n |
    awk '{ v[NR] = $1 } END {
      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "median B/A: calls/s $(median 4), batched/s $(median 10);" \
  "service CPU per job: calls $(median 7), batched $(median 13)"
