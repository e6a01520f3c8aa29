#!/usr/bin/env bash
# mem_bench.sh [BIN]: memory per idle worker, side by side in one run: the
# service with its worker threads in the front (--processes 0) and with 1,
# 2 and 4 threads per pool process, each at 4 and at 8 workers, no spare;
# then what a spare adds. Memory is PSS (/proc/PID/smaps_rollup) of the
# front and its pool processes, summed: RSS would count the binary's and
# the libraries' shared pages once per process. Each worker has run call
# jobs first (isopool-bench's call mode, 0.3 s), so its isolate, realm and
# module are built. Per idle worker: (PSS at 8 workers - PSS at 4) / 4.
# Then `target` lines (bench/README.md, "Targets") with the figure of the
# service's default, 2 threads per pool process, and that of its workers
# as threads of one process (--processes 0), as Deno's and Node's workers
# are, which the issue's 1.67 MB was. Env MEM_THREADS: the
# threads per process to measure (default "0 1 2 4"; 0: in the front),
# MEM_SPARE=0: not what a spare adds, MEM_SETTLE: seconds idle before
# each measure (1). Used by `make bench` (`--targets`: MEM_THREADS="0 2"
# MEM_SPARE=0).
set -euo pipefail
bin=${1:-build/bin}
dir=$(mktemp -d /tmp/isopool-mem.XXXXXX)
pid=
# (kill with no pid would fail the trap, and under set -e the script)
trap '[ -z "$pid" ] || kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

# the PSS in kB of pid and its children
pss_tree() {
  local total=0 p kids
  kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
  for p in "$1" $kids; do
    total=$((total + $(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# measure WORKERS ARGS...: the PSS in kB of an idle service that ran jobs
measure() {
  local workers=$1; shift
  "$bin/isopool" serve --listen "ipc://$dir/s.ipc" --modules bench/modules \
    --workers "$workers" --admin none --quiet "$@" 2>>"$dir/serve.log" &
  pid=$!
  for _ in $(seq 100); do [ -S "$dir/s.ipc" ] && break; sleep 0.1; done
  "$bin/isopool-bench" --url "ipc://$dir/s.ipc" --mode call --duration 0.3 \
    --concurrency $((workers * 8)) --no-floor >/dev/null
  sleep "${MEM_SETTLE:-1}" # idle: let the heaps settle
  pss_tree "$pid"
  kill -TERM "$pid"; wait "$pid" || true; pid=
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

echo "memory per idle worker: PSS of the front and its pool processes"
printf '  %-28s %10s %10s %16s\n' "threads per process" "4 workers" "8 workers" "per idle worker"
target=
threads=
for t in ${MEM_THREADS:-0 1 2 4}; do
  if [ "$t" = 0 ]; then
    a=$(measure 4 --processes 0); b=$(measure 8 --processes 0)
    name="in the front (--processes 0)"
  else
    a=$(measure 4 --processes $((4 / t)) --spare-processes 0)
    b=$(measure 8 --processes $((8 / t)) --spare-processes 0)
    name="$t"
  fi
  printf '  %-28s %10s %10s %16s\n' "$name" "$(mb "$a")" "$(mb "$b")" "$(mb $(((b - a) / 4)))"
  if [ "$t" = 2 ]; then target=$(((b - a) / 4)); fi
  if [ "$t" = 0 ]; then threads=$(((b - a) / 4)); fi
done
if [ "${MEM_SPARE:-1}" != 0 ]; then
  a=$(measure 4 --processes 2 --spare-processes 0)
  b=$(measure 4 --processes 2 --spare-processes 1)
  echo "  a spare of 2 threads adds $(mb $((b - a))) (4 workers, 2 processes)"
fi
if [ -n "$target" ]; then
  printf 'target\tidle_worker_mem\t%s\tMB\t-\t-\t-\n' \
    "$(awk -v k="$target" 'BEGIN { printf "%.2f", k / 1024 }')"
fi
if [ -n "$threads" ]; then
  printf 'target\tidle_worker_mem_threads\t%s\tMB\t-\t-\t-\n' \
    "$(awk -v k="$threads" 'BEGIN { printf "%.2f", k / 1024 }')"
fi
