// ops.js: the op figures' JavaScript side (bench/op_bench.c calls these
// exports as call jobs on a one-worker pool). Each returns what it
// measured, timed with performance.now() inside the isolate.
const { ops, opAsync } = Isopool.core;

// A sync no-op op: ns per call, over n calls.
export function sync(n) {
  const noop = ops.op_noop;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    noop();
  }
  return ((performance.now() - t0) * 1e6) / n;
}

// An empty JavaScript function, for scale: ns per call.
export function jsCall(n) {
  const f = () => {};
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    f();
  }
  return ((performance.now() - t0) * 1e6) / n;
}

// An async no-op op with one in flight: each op's latency in us, sorted
// into the median by the caller (returned as an array).
export async function latency(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await opAsync("op_noop_async");
    out.push((performance.now() - t0) * 1000);
  }
  out.sort((a, b) => a - b);
  return out[out.length >> 1];
}

// `inflight` async no-op ops at once, `rounds` times: ops per second.
export async function throughput(inflight, rounds) {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const ps = new Array(inflight);
    for (let i = 0; i < inflight; i++) {
      ps[i] = opAsync("op_noop_async");
    }
    await Promise.all(ps);
  }
  return (inflight * rounds) / ((performance.now() - t0) / 1000);
}
