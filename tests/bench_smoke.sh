#!/usr/bin/env bash
# bench_smoke.sh BIN SRC: the benchmarks still run and still check what they
# claim (ctest bench_smoke). Not a measurement: each runs briefly.
# - isopool-bench against a real service with pool processes: every mode
#   must exit 0 (each reply is checked against the value expected), each
#   followed by its floor's echo row (a bare NNG echo whose every reply is
#   checked byte for byte), then the ratios against the floor, as
#   numbers; the floor's server process ends with the bench and its
#   socket file goes; --no-floor measures none;
# - the floor over tcp:// (a service on a free loopback port), and the
#   floor's server gone when the bench is SIGKILLed mid-run;
# - isopool-bench --mode kill: a pool process SIGKILLed under load; it must
#   exit 0 (no job unanswered, none answered wrongly, no worker_lost
#   before the kill) and report the kill;
# - --mode kill against --processes 0 must fail (nothing to kill);
# - op_bench, one round: both pools answer its measurements;
# - the table of issue 15's targets (scripts/bench.sh --targets, every
#   program at its shortest): each of its 9 rows with a figure and a
#   verdict, and none of the programs' machine-readable lines on the
#   screen; cold_bench without Deno says so and still measures isopool.
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
# up PATH|PORT: waits (10 s at most) until the service listens there
up() {
  for _ in $(seq 100); do
    case $1 in
    /*) [ -S "$1" ] && return 0 ;;
    *) (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0 ;;
    esac
    sleep 0.1
  done
  cat "$dir/serve.log"
  fail "the service did not listen on $1"
}
serve() {
  "$bin/isopool" serve --listen "ipc://$dir/s.ipc" --modules "$src/bench/modules" \
    --workers 2 --admin none --quiet "$@" 2>>"$dir/serve.log" &
  pid=$!
  up "$dir/s.ipc"
}
# a bench that does not end in a minute is a failure that says so, not
# ctest's timeout
bench() { timeout 60 "$bin/isopool-bench" "$@"; }
# stop: SIGTERM, and the service must be gone within 30 s; a service
# that is not says where its threads (and its pool processes') are
stop() {
  kill -TERM "$pid"
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    for p in "$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
      echo "== $p: $(tr '\0' ' ' </proc/"$p"/cmdline)"
      gdb -p "$p" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E "^#|^Thread"
    done
    tail -20 "$dir/serve.log"
    fail "the service (pid $pid) did not stop within 30 s of SIGTERM"
  fi
  wait "$pid"
  pid=
}

serve
bench --url "ipc://$dir/s.ipc" --server-pid "$pid" \
  --duration 0.3 >"$dir/all.txt" 2>&1 || { cat "$dir/all.txt"; fail "--mode all"; }
for m in call batch latency eval; do
  grep -q "^$m " "$dir/all.txt" || { cat "$dir/all.txt"; fail "no $m row"; }
  # the echo row right under the mode's, with the same shape, 0 errors
  shape=$(grep "^$m " "$dir/all.txt" | awk '{print $2, $3, $4}')
  grep -A1 "^$m " "$dir/all.txt" | tail -1 |
    grep -qE "^  echo +$shape +- +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +0 " ||
    { cat "$dir/all.txt"; fail "no echo row under $m ($shape)"; }
done
for m in call latency; do # and the relayed echo's row under the echo's
  shape=$(grep "^$m " "$dir/all.txt" | awk '{print $2, $3, $4}')
  grep -A2 "^$m " "$dir/all.txt" | tail -1 |
    grep -qE "^  relay +$shape +- +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +0 " ||
    { cat "$dir/all.txt"; fail "no relay row under $m ($shape)"; }
done
num='[0-9]+\.[0-9]+x  \([0-9.]+ / [0-9.]+ '
for r in "p50 at one job in flight vs bare NNG echo" \
  "p99 at one job in flight vs bare NNG echo" \
  "unbatched jobs/s at 64 in flight vs bare NNG echo req/s" \
  "batched jobs/s \(4 x 256\) vs bare NNG echo msgs/s x 256" \
  "eval jobs/s at 16 in flight vs bare NNG echo req/s" \
  "p50 at one job in flight vs relayed echo" \
  "unbatched jobs/s at 64 in flight vs relayed echo req/s"; do
  grep -qE "^  $r +$num" "$dir/all.txt" || { cat "$dir/all.txt"; fail "no ratio: $r"; }
done
floor_pid() { sed -n 's/.*(REP contexts, process \([0-9]*\);.*/\1/p' "$1"; }
gone() { # the process ended (or is a zombie nobody reaps yet)
  ! grep -qv '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}
fpid=$(floor_pid "$dir/all.txt")
[ -n "$fpid" ] || { cat "$dir/all.txt"; fail "no floor process named"; }
gone "$fpid" || fail "the floor's server (pid $fpid) outlived the bench"
ls "$dir"/s.ipc.floor.* 2>/dev/null && fail "the floor's socket file was left"
ls "$dir"/s.ipc.relay.* 2>/dev/null && fail "the relayed floor's socket file was left"
bench --url "ipc://$dir/s.ipc" --mode latency --no-floor \
  --duration 0.3 >"$dir/nofloor.txt" 2>&1 || { cat "$dir/nofloor.txt"; fail "--no-floor"; }
grep -q "^latency " "$dir/nofloor.txt" || { cat "$dir/nofloor.txt"; fail "--no-floor: no row"; }
grep -qE "^  echo|floor" "$dir/nofloor.txt" && { cat "$dir/nofloor.txt"; fail "--no-floor measured the floor"; }
# --json: the rows and ratios as one JSON object, nothing else on stdout
bench --url "ipc://$dir/s.ipc" --mode latency --duration 0.3 --json \
  >"$dir/json.txt" 2>"$dir/json.err" || { cat "$dir/json.txt" "$dir/json.err"; fail "--json"; }
python3 - "$dir/json.txt" <<'PY' || { cat "$dir/json.txt"; fail "--json: not the object"; }
import json, sys
o = json.load(open(sys.argv[1]))
m = o["modes"][0]
assert m["mode"] == "latency" and m["jobs_s"] > 0 and m["errors"] == 0, m
assert m["floor"]["p50_us"] > 0 and m["relay"]["p50_us"] > 0, m
assert o["ratios"]["p50_one"] > 0 and o["ratios"]["p50_one_relay"] > 0, o
PY
# a progress line on a terminal (script gives it one), none in a pipe
script -qfec "$bin/isopool-bench --url ipc://$dir/s.ipc --mode call --duration 1 --no-floor" \
  /dev/null >"$dir/tty.txt" 2>&1 || { cat "$dir/tty.txt"; fail "bench on a terminal"; }
grep -qaE $'\r\e\\[Kcall +[0-9.]+ / 1.0 s +[0-9]+ jobs' "$dir/tty.txt" ||
  { cat -v "$dir/tty.txt"; fail "no progress line on a terminal"; }
grep -qa $'\r' "$dir/nofloor.txt" && fail "a progress line in a pipe"
bench --url "ipc://$dir/s.ipc" --server-pid "$pid" --mode kill \
  --duration 1 >"$dir/kill.txt" 2>&1 || { cat "$dir/kill.txt" "$dir/serve.log"; fail "--mode kill"; }
grep -q "^kill: SIGKILL of pool process" "$dir/kill.txt" || fail "no kill reported"
grep -q "unanswered 0$" "$dir/kill.txt" || { cat "$dir/kill.txt"; fail "a job unanswered"; }
stop
echo "ok - isopool-bench: every mode with its floor, and kill: $(grep -o 'worker_lost [0-9]*' "$dir/kill.txt" | head -1)"

# the floor's server when the bench dies: its stdin ends, so it does too
serve
"$bin/isopool-bench" --url "ipc://$dir/s.ipc" --mode call --duration 30 \
  >"$dir/killed.txt" 2>&1 &
bpid=$!
for _ in $(seq 100); do
  fpid=$(floor_pid "$dir/killed.txt")
  [ -n "$fpid" ] && break
  sleep 0.1
done
[ -n "$fpid" ] || { cat "$dir/killed.txt"; fail "the floor did not start"; }
kill -KILL "$bpid"
wait "$bpid" 2>/dev/null
for _ in $(seq 50); do gone "$fpid" && break; sleep 0.1; done
gone "$fpid" || fail "the floor's server (pid $fpid) outlived a SIGKILLed bench"
ls "$dir"/s.ipc.floor.* 2>/dev/null && fail "the floor's socket file was left"
ls "$dir"/s.ipc.relay.* 2>/dev/null && fail "the relayed floor's socket file was left"
stop
echo "ok - the floor's server ends with a SIGKILLed bench, and removes its socket"

# the floor over tcp://: a service on a free loopback port
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)
if [ -n "$port" ]; then
  "$bin/isopool" serve --listen "tcp://127.0.0.1:$port" --modules "$src/bench/modules" \
    --workers 2 --admin none --quiet 2>>"$dir/serve.log" &
  pid=$!
  up "$port"
  bench --url "tcp://127.0.0.1:$port" --mode latency \
    --duration 0.3 >"$dir/tcp.txt" 2>&1 || { cat "$dir/tcp.txt" "$dir/serve.log"; fail "tcp://"; }
  grep -qE "^  at tcp://127\.0\.0\.1:[1-9][0-9]* " "$dir/tcp.txt" || { cat "$dir/tcp.txt"; fail "tcp://: the floor's address"; }
  grep -qE "^  echo +1 x 1 " "$dir/tcp.txt" || { cat "$dir/tcp.txt"; fail "tcp://: no echo row"; }
  grep -qE "^  p50 at one job in flight vs bare NNG echo +$num" "$dir/tcp.txt" || { cat "$dir/tcp.txt"; fail "tcp://: no ratio"; }
  stop
  echo "ok - the floor over tcp://"
else
  echo "ok - the floor over tcp:// # SKIP no python3 to find a free port"
fi

serve --processes 0
if bench --url "ipc://$dir/s.ipc" --server-pid "$pid" --mode kill \
  --duration 0.3 >"$dir/kill0.txt" 2>&1; then
  cat "$dir/kill0.txt"; fail "--mode kill with no pool process exited 0"
fi
grep -q "no pool process to kill" "$dir/kill0.txt" || { cat "$dir/kill0.txt"; fail "no reason given"; }
stop
echo "ok - isopool-bench --mode kill refuses a service without pool processes"

"$bin/op_bench" 1 >"$dir/op.txt" 2>&1 || { cat "$dir/op.txt"; fail "op_bench"; }
grep -q "async no-op op, 1 in flight" "$dir/op.txt" || { cat "$dir/op.txt"; fail "op_bench figures"; }
echo "ok - op_bench"

"$bin/cold_bench" --rounds 2 --no-deno "no deno here" "$src/examples/hello.js" \
  >"$dir/cold.txt" 2>&1 || { cat "$dir/cold.txt"; fail "cold_bench --no-deno"; }
grep -q "^  deno: skipped (no deno here)$" "$dir/cold.txt" || { cat "$dir/cold.txt"; fail "cold_bench: no skip line"; }
grep -qP '^target\tcold_start\t[0-9.]+\tms\tdeno run\t-\t-$' "$dir/cold.txt" ||
  { cat "$dir/cold.txt"; fail "cold_bench: no target line without deno"; }
echo "ok - cold_bench without Deno"

# Deno only if it is here already: scripts/deno.sh would fetch it
deno=
for d in "$src"/.deps/deno/*/deno; do [ -x "$d" ] && deno=$d; done
(cd "$src" && RUNTIME_N=10 OP_ROUNDS=1 COLD_ROUNDS=2 DURATION=0.5 \
  MEM_SETTLE=0.2 DENO=${deno:-skip} timeout 240 scripts/bench.sh --targets "$bin") \
  >"$dir/targets.txt" 2>&1 || { cat "$dir/targets.txt"; fail "bench.sh --targets"; }
grep -q "^issue 15's targets, this run" "$dir/targets.txt" || { cat "$dir/targets.txt"; fail "no targets table"; }
grep -qP '^(target|figure)\t' "$dir/targets.txt" && { cat "$dir/targets.txt"; fail "machine-readable lines on the screen"; }
val='[0-9.]+ (ms|us|MB)|[0-9.]+[kM]/s'
for r in "cold isopool run hello.js vs deno run" "eval jobs/s vs [0-9]+ x bare Context::New/s" \
  "p50 at one job in flight vs bare NNG echo" "unbatched jobs/s at 64 in flight vs NNG echo" \
  "batched trivial jobs/s" "isolate creation vs bare V8" \
  "memory per idle worker \(2 threads/process\)" "memory per idle worker \(threads, 1 process\)" \
  "async op p50 \(pool process\) vs bare NNG RTT"; do
  line=$(grep -E "^$r" "$dir/targets.txt") || { cat "$dir/targets.txt"; fail "no targets row: $r"; }
  # a figure, then a ratio (or - for the absolute targets), then a verdict;
  # no ratio and no verdict only for Deno's row without Deno
  if [ -z "$deno" ] && [[ $r == cold* ]]; then
    echo "$line" | grep -qE " ($val) +- +- +< 1x +\?$" || fail "row without Deno: $line"
  else
    echo "$line" | grep -qE " ($val) .* ([0-9]+\.[0-9]+x|-) +(<|<=|>=) [0-9.]+(x|M/s| MB) +(yes|no)$" ||
      { cat "$dir/targets.txt"; fail "targets row without figure or verdict: $line"; }
  fi
done
for r in "p50 at one job in flight vs relayed echo" \
  "unbatched jobs/s at 64 in flight vs relayed echo"; do
  grep -qE "^$r +($val) +relayed echo ($val) +[0-9]+\.[0-9]+x +- +-$" "$dir/targets.txt" ||
    { cat "$dir/targets.txt"; fail "no relayed echo row: $r"; }
done
echo "ok - bench.sh --targets: the table with its 9 rows and the 2 relayed echo rows"
