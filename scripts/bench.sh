#!/usr/bin/env bash
# bench.sh [--targets] [BIN]: the figures, side by side in one run: the
# runtime against bare V8 (runtime_bench), the op bus against a bare NNG
# round trip (op_bench), isopool:kv in memory beside LMDB with each sync
# setting (kv_bench), fetch beside Deno's (fetch_bench), a cold `isopool
# run` of the seed's hello world beside `deno run` (cold_bench), then a
# service on an ipc:// socket with 2 workers measured by isopool-bench in
# its own process (threads in the front, then pool processes, then a pool
# process killed under load), each mode beside its floor, a bare NNG
# REQ/REP echo of the same requests over ipc:// measured in the same run,
# with the ratios to it, then the admin plane's cost to the job path
# (admin_overhead.sh), then memory per idle worker with each number of
# threads per pool process (mem_bench.sh). Used by `make bench`.
#
# Last, the table of issue 15's targets: each program prints, besides its
# own table, machine-readable `target` and `figure` lines (bench/README.md,
# "Targets"); they are kept out of the screen, collected here, and printed
# as one table, each figure beside its baseline, the ratio, the target and
# whether this run met it. The figures of the service are those of its
# default (pool processes), not of --processes 0. Under it, p50 and
# unbatched jobs/s again against the relayed echo (isopool-bench's relay
# rows), which pays the hop through another process that every job takes.
#
# --targets (`make bench-targets`): only what the table needs, shorter:
# runtime_bench's isolate and context figures, op_bench in 3 rounds,
# cold_bench, the default service under isopool-bench for 3 s a mode, and
# memory per idle worker at the default's 2 threads per pool process; no
# kv, fetch, --processes 0, kill or admin runs (about a minute on the
# shared 2-core machine).
#
# Env: RUNTIME_N, OP_ROUNDS, KV_BENCH_DIR, KV_SECONDS, FETCH_N,
# FETCH_CONCURRENCY, COLD_ROUNDS, DURATION, WORKERS (2), DENO (the deno
# binary; default: scripts/deno.sh's, `skip` for none), and mem_bench.sh's.
# A program that fails is named and its rows are left empty; the exit
# status is then 1, after the table.
set -euo pipefail
targets=0
if [ "${1:-}" = --targets ]; then
  targets=1
  shift
fi
bin=${1:-build/bin}
out=$(mktemp -d /tmp/isopool-bench.XXXXXX)
sock=/tmp/isopool-bench-$$.ipc
pid=
trap '[ -z "$pid" ] || kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$out"' EXIT
failed=

# step NAME CMD...: runs CMD; its output is shown without its target and
# figure lines, and kept in $out/NAME.txt for the table. A failure is
# noted in $failed, and the run goes on.
step() {
  local name=$1
  shift
  if ! "$@" | tee "$out/$name.txt" |
    { grep --line-buffered -Ev $'^(target|figure)\t' || true; }; then
    echo "bench.sh: $name failed"
    failed="$failed $name"
  fi
}

# serve SERVE-ARGS: a service on $sock; returns once it listens (at most
# 10 s: isopool-bench fails at once on a socket that is not there yet)
serve() {
  "$bin/isopool" serve --listen "ipc://$sock" --modules bench/modules \
    --workers "${WORKERS:-2}" --admin none --quiet "$@" &
  pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
}
stop() {
  kill -TERM $pid 2>/dev/null
  wait $pid 2>/dev/null || true
  pid=
}

# service NAME MODE-ARGS -- SERVE-ARGS: isopool-bench against a service
service() {
  local name=$1 bench=() args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do bench+=("$1"); shift; done
  shift
  args=("$@")
  echo "isopool serve ${args[*]:-(pool processes: the default)}"
  serve "${args[@]}"
  step "$name" "$bin/isopool-bench" --url "ipc://$sock" --server-pid "$pid" \
    "${bench[@]}"
  stop
}

cold() {
  local deno=${DENO:-} why
  if [ "$deno" = skip ]; then
    why="DENO=skip"
    deno=
  elif [ -z "$deno" ]; then
    deno=$(scripts/deno.sh 2>"$out/deno.err") || {
      why=$(tail -1 "$out/deno.err")
      deno=
    }
  fi
  if [ -n "$deno" ]; then
    step cold "$bin/cold_bench" --rounds "${COLD_ROUNDS:-20}" --deno "$deno" \
      examples/hello.js
  else
    step cold "$bin/cold_bench" --rounds "${COLD_ROUNDS:-20}" --no-deno "$why" \
      examples/hello.js
  fi
}

if [ "$targets" = 1 ]; then
  step isolate "$bin/runtime_bench" "${RUNTIME_N:-200}" isolate
  step context "$bin/runtime_bench" "${RUNTIME_N:-800}" context
  step op "$bin/op_bench" "${OP_ROUNDS:-3}"
  cold
  service default --duration "${DURATION:-3}" --
  MEM_THREADS=${MEM_THREADS:-0 2} MEM_SPARE=${MEM_SPARE:-0} \
    step mem scripts/mem_bench.sh "$bin"
else
  step runtime "$bin/runtime_bench" "${RUNTIME_N:-2000}"
  step op "$bin/op_bench" "${OP_ROUNDS:-7}"
  step kv "$bin/kv_bench" "${KV_BENCH_DIR:-/tmp}" "${KV_SECONDS:-1}"
  step fetch "$bin/fetch_bench" "${FETCH_N:-3000}" "${FETCH_CONCURRENCY:-32}"
  cold
  # the service with its worker threads in the front (--processes 0; not
  # in the table) and with its defaults (pool processes), one after the
  # other, then a pool process killed under load
  service front --duration "${DURATION:-5}" -- --processes 0
  service default --duration "${DURATION:-5}" --
  service kill --mode kill --duration "${DURATION:-5}" --
  step admin scripts/admin_overhead.sh "$bin"
  step mem scripts/mem_bench.sh "$bin"
fi

# The table. Each row: key, what, how the ratio or figure is judged (<=,
# >=, <) and against what, the target's text. Ratios are figure / baseline
# of this run; eval's baseline is computed here from two programs: bare
# V8's Context::New rate times the cores the service's workers can use
# (the fewer of nproc and WORKERS; the "2 cores").
cores=$(nproc)
if [ "${WORKERS:-2}" -lt "$cores" ]; then cores=${WORKERS:-2}; fi
{
  cat "$out"/{isolate,context,runtime,op,cold,default,mem}.txt 2>/dev/null || true
} | awk -F '\t' -v cores="$cores" '
BEGIN {
  n = split("cold_start eval_context p50_one unbatched batched isolate idle_worker_mem idle_worker_mem_threads async_op_p50", order, " ")
  what["cold_start"] = "cold isopool run hello.js vs deno run (wall)"
  what["eval_context"] = "eval jobs/s vs " cores " x bare Context::New/s (*)"
  what["p50_one"] = "p50 at one job in flight vs bare NNG echo"
  what["unbatched"] = "unbatched jobs/s at 64 in flight vs NNG echo"
  what["batched"] = "batched trivial jobs/s (4 x 256 in flight)"
  what["isolate"] = "isolate creation vs bare V8"
  what["idle_worker_mem"] = "memory per idle worker (2 threads/process)"
  what["idle_worker_mem_threads"] = "memory per idle worker (threads, 1 process)"
  what["async_op_p50"] = "async op p50 (pool process) vs bare NNG RTT"
  op["cold_start"] = "<"; goal["cold_start"] = 1
  op["eval_context"] = ">="; goal["eval_context"] = 0.8
  op["p50_one"] = "<="; goal["p50_one"] = 1.1
  op["unbatched"] = ">="; goal["unbatched"] = 0.8
  op["batched"] = ">="; goal["batched"] = 1000000
  op["isolate"] = "<="; goal["isolate"] = 1.2
  op["idle_worker_mem"] = "<="; goal["idle_worker_mem"] = 1.5
  op["idle_worker_mem_threads"] = "<="; goal["idle_worker_mem_threads"] = 1.5
  op["async_op_p50"] = "<="; goal["async_op_p50"] = 1.1
}
$1 == "target" && NF == 7 {
  val[$2] = $3; unit[$2] = $4; bname[$2] = $5; bval[$2] = $6; ratio[$2] = $7
}
$1 == "figure" && NF == 4 { fig[$2] = $3 }
function num(v, u) {
  if (u == "jobs/s" || u == "/s") {
    return v >= 1e6 ? sprintf("%.2fM/s", v / 1e6) : sprintf("%.1fk/s", v / 1e3)
  }
  return sprintf("%.1f %s", v, u)
}
END {
  if (("eval_jobs" in fig) && fig["context_new_bare"] > 0) {
    k = "eval_context"
    val[k] = fig["eval_jobs"]; unit[k] = "jobs/s"
    bname[k] = cores " x Context::New"
    bval[k] = cores * 1e6 / fig["context_new_bare"]
    ratio[k] = sprintf("%.3f", val[k] / bval[k])
  }
  printf "\nissue 15\047s targets, this run (ratio = figure / baseline, both measured in it)\n"
  printf "%-46s %10s %28s %7s %10s %4s\n", "figure", "value", "baseline", "ratio", "target", "met"
  misses = 0
  for (i = 1; i <= n; i++) {
    k = order[i]
    absolute = (k == "batched" || k ~ /^idle_worker_mem/)
    tgt = absolute ? op[k] " " (k == "batched" ? "1M/s" : goal[k] " MB") : op[k] " " goal[k] "x"
    if (!(k in val)) {
      printf "%-46s %10s %28s %7s %10s %4s\n", what[k], "-", "-", "-", tgt, "?"
      continue
    }
    base = bval[k] == "-" ? "-" : bname[k] " " num(bval[k], unit[k])
    r = ratio[k] == "-" ? "-" : sprintf("%.2fx", ratio[k])
    x = absolute ? val[k] : ratio[k]
    if (x == "-") {
      met = "?"
    } else if (op[k] == "<") {
      met = x + 0 < goal[k] ? "yes" : "no"
    } else if (op[k] == "<=") {
      met = x + 0 <= goal[k] ? "yes" : "no"
    } else {
      met = x + 0 >= goal[k] ? "yes" : "no"
    }
    printf "%-46s %10s %28s %7s %10s %4s\n", what[k], num(val[k], unit[k]), base, r, tgt, met
  }
  printf "(*) eval jobs/s from isopool-bench, the bare Context::New rate from runtime_bench: computed by bench.sh\n"
  # the same two figures against the floor of a path through a pool
  # process (no target: they show what the service adds beyond that hop)
  m = split("p50_one_relay unbatched_relay", extra, " ")
  what["p50_one_relay"] = "p50 at one job in flight vs relayed echo"
  what["unbatched_relay"] = "unbatched jobs/s at 64 in flight vs relayed echo"
  for (i = 1; i <= m; i++) {
    k = extra[i]
    if (!(k in val)) {
      continue
    }
    if (i == 1) {
      printf "against the relayed echo (an NNG echo whose server passes each message through\n"
      printf "another process and back, as the front passes a job to a pool process):\n"
    }
    printf "%-46s %10s %28s %7s %10s %4s\n", what[k], num(val[k], unit[k]), bname[k] " " num(bval[k], unit[k]), sprintf("%.2fx", ratio[k]), "-", "-"
  }
}'
if [ -n "$failed" ]; then
  echo "bench.sh: failed:$failed"
  exit 1
fi
