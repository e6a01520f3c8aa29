#!/usr/bin/env bash
# bench_smoke.sh BIN SRC: the benchmarks still run and still check what they
# claim (ctest bench_smoke). Not a measurement: each runs briefly.
# - isopool-bench against a real service with pool processes: every mode
#   must exit 0 (each reply is checked against the value expected);
# - isopool-bench --mode kill: a pool process SIGKILLed under load; it must
#   exit 0 (no job unanswered, none answered wrongly, no worker_lost
#   before the kill) and report the kill;
# - --mode kill against --processes 0 must fail (nothing to kill);
# - op_bench, one round: both pools answer its measurements.
set -u
bin=$1 src=$2
dir=$(mktemp -d /tmp/isopool-bench-smoke.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "bench_smoke: FAIL: $*"; exit 1; }
serve() {
  "$bin/isopool" serve --listen "ipc://$dir/s.ipc" --modules "$src/bench/modules" \
    --workers 2 --admin none --quiet "$@" 2>>"$dir/serve.log" &
  pid=$!
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }

serve
"$bin/isopool-bench" --url "ipc://$dir/s.ipc" --server-pid "$pid" \
  --duration 0.3 >"$dir/all.txt" 2>&1 || { cat "$dir/all.txt"; fail "--mode all"; }
for m in call batch latency eval; do
  grep -q "^$m " "$dir/all.txt" || { cat "$dir/all.txt"; fail "no $m row"; }
done
"$bin/isopool-bench" --url "ipc://$dir/s.ipc" --server-pid "$pid" --mode kill \
  --duration 1 >"$dir/kill.txt" 2>&1 || { cat "$dir/kill.txt" "$dir/serve.log"; fail "--mode kill"; }
grep -q "^kill: SIGKILL of pool process" "$dir/kill.txt" || fail "no kill reported"
grep -q "unanswered 0$" "$dir/kill.txt" || { cat "$dir/kill.txt"; fail "a job unanswered"; }
stop
echo "ok - isopool-bench: every mode, and kill: $(grep -o 'worker_lost [0-9]*' "$dir/kill.txt" | head -1)"

serve --processes 0
if "$bin/isopool-bench" --url "ipc://$dir/s.ipc" --server-pid "$pid" --mode kill \
  --duration 0.3 >"$dir/kill0.txt" 2>&1; then
  cat "$dir/kill0.txt"; fail "--mode kill with no pool process exited 0"
fi
grep -q "no pool process to kill" "$dir/kill0.txt" || { cat "$dir/kill0.txt"; fail "no reason given"; }
stop
echo "ok - isopool-bench --mode kill refuses a service without pool processes"

"$bin/op_bench" 1 >"$dir/op.txt" 2>&1 || { cat "$dir/op.txt"; fail "op_bench"; }
grep -q "async no-op op, 1 in flight" "$dir/op.txt" || { cat "$dir/op.txt"; fail "op_bench figures"; }
echo "ok - op_bench"
