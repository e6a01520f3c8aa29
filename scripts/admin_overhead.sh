#!/usr/bin/env bash
# admin_overhead.sh: the admin plane must cost the job path nothing
# measurable. Runs isopool-bench's call mode against one service, ROUNDS
# times without and with `poolctl status --watch 1` polling the admin
# socket, alternating, and prints the median jobs/s of each and their
# ratio. Used by `make bench` (scripts/bench.sh).
set -euo pipefail
bin=${1:-build/bin}
rounds=${ROUNDS:-5}
duration=${DURATION:-3}
dir=$(mktemp -d /tmp/isopool-admin-bench.XXXXXX)
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin/isopool" serve --listen "ipc://$dir/jobs.ipc" --admin "ipc://$dir/admin.ipc" \
  --modules bench/modules --workers "${WORKERS:-2}" --quiet &
pid=$!
for _ in $(seq 100); do [ -S "$dir/jobs.ipc" ] && break; sleep 0.1; done
one() { # prints the call mode's jobs/s
  "$bin/isopool-bench" --url "ipc://$dir/jobs.ipc" --mode call --no-floor \
    --duration "$duration" | awk '$1 == "call" { print $5 }'
}
without=() with=()
for ((i = 0; i < rounds; i++)); do
  without+=("$(one)")
  "$bin/poolctl" --admin "ipc://$dir/admin.ipc" status --watch 1 >/dev/null &
  watch=$!
  with+=("$(one)")
  kill -TERM $watch 2>/dev/null; wait $watch 2>/dev/null || true
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
a=$(median "${without[@]}")
b=$(median "${with[@]}")
echo "admin plane overhead: call jobs/s, median of $rounds alternating rounds of ${duration} s"
echo "  without poolctl status --watch 1: $a   (rounds: ${without[*]})"
echo "  with    poolctl status --watch 1: $b   (rounds: ${with[*]})"
ratios=()
for ((i = 0; i < rounds; i++)); do
  ratios+=("$(awk -v a="${without[i]}" -v b="${with[i]}" 'BEGIN { printf "%.3f", b / a }')")
done
awk -v a="$a" -v b="$b" 'BEGIN { printf "  ratio of the medians: %.3f\n", b / a }'
echo "  median of the paired ratios (each round against the one before it):" \
  "$(median "${ratios[@]}") (goal: within 3%; rounds: ${ratios[*]})"
