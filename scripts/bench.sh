#!/usr/bin/env bash
# bench.sh: the figures, side by side in one run: the runtime against bare
# V8 (runtime_bench), the op bus against a bare NNG round trip (op_bench),
# isopool:kv in memory beside LMDB with each sync setting (kv_bench),
# fetch beside Deno's (fetch_bench),
# then a service on an ipc:// socket with 2 workers measured by
# isopool-bench in its own process (threads in the front, then pool
# processes, then a pool process killed under load), each mode beside its
# floor, a bare NNG REQ/REP echo of the same requests over ipc:// measured
# in the same run, with the ratios to it, then the admin plane's
# cost to the job path (admin_overhead.sh), then memory per idle worker
# with each number of threads per pool process (mem_bench.sh). Used by
# `make bench`.
set -euo pipefail
bin=${1:-build/bin}
"$bin/runtime_bench" "${RUNTIME_N:-2000}"
"$bin/op_bench" "${OP_ROUNDS:-7}"
"$bin/kv_bench" "${KV_BENCH_DIR:-/tmp}" "${KV_SECONDS:-1}"
"$bin/fetch_bench" "${FETCH_N:-3000}" "${FETCH_CONCURRENCY:-32}"
# the service with its worker threads in the front (--processes 0) and with
# its defaults (pool processes), one after the other, then a pool process
# killed under load
sock=/tmp/isopool-bench-$$.ipc
pid=
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
serve() {
  "$bin/isopool" serve --listen "ipc://$sock" --modules bench/modules \
    --workers "${WORKERS:-2}" --admin none --quiet "$@" &
  pid=$!
}
stop() { kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; }
for mode in "--processes 0" ""; do
  echo "isopool serve ${mode:-(pool processes: the default)}"
  # shellcheck disable=SC2086
  serve $mode
  "$bin/isopool-bench" --url "ipc://$sock" --server-pid "$pid" \
    --duration "${DURATION:-5}"
  stop
done
serve
"$bin/isopool-bench" --url "ipc://$sock" --server-pid "$pid" --mode kill \
  --duration "${DURATION:-5}"
stop
trap - EXIT
scripts/admin_overhead.sh "$bin"
scripts/mem_bench.sh "$bin"
