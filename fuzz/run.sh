#!/usr/bin/env bash
# run.sh: runs every fuzz harness for a while, one after the other.
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Each harness starts from the committed seeds (fuzz/corpus/<target>) plus
# what earlier runs found (BUILD_DIR/fuzz-corpus/<target>, where new inputs
# go, so the committed seeds stay as they are). A harness that finds a
# crash, a sanitizer report or a broken invariant stops the run: the input
# is in BUILD_DIR/fuzz-artifacts/ and the log in BUILD_DIR/fuzz-logs/.
# Prints executions and executions per second for each.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
secs=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(proto_decode reply_decode admin_decode admin_reply
           json_to_msgpack msgpack_to_json link_decode v8_values)
fi
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
failed=0
for t in "${targets[@]}"; do
  bin="$build/bin/fuzz_$t"
  corpus="$build/fuzz-corpus/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus"
  # -rss_limit_mb: a decoder that allocates past it is a finding too. V8
  # keeps memory between inputs by design (heap, caches), which the leak
  # check would report after every input: the runtime's own leaks are the
  # ASan suites' to find.
  extra=(-rss_limit_mb=1024)
  if [ "$t" = v8_values ]; then
    extra=(-rss_limit_mb=3072 -detect_leaks=0)
  fi
  if [ -f "$top/fuzz/$t.dict" ]; then
    extra+=(-dict="$top/fuzz/$t.dict")
  fi
  if "$bin" "$corpus" "$top/fuzz/corpus/$t" -max_total_time="$secs" \
       -print_final_stats=1 "${extra[@]}" \
       -artifact_prefix="$build/fuzz-artifacts/$t-" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    conv=$(sed -n 's/^fuzz_v8_values: \([0-9]*\) inputs converted.*/, \1 of them converted in the runtime/p' "$log")
    echo "fuzz_$t: ${execs:-?} executions in ${secs} s (${rate:-?}/s)${conv}, clean"
  else
    echo "fuzz_$t: FAILED; the log is $log, the input in $build/fuzz-artifacts/" >&2
    grep -E "invariant broken|ERROR: |runtime error|SUMMARY" "$log" | head -5 >&2
    failed=1
  fi
done
exit $failed
