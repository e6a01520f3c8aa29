// A call job's module: evaluated once per worker, then kept warm.
let calls = 0; // the warm realm's: every call on this worker sees it
export function hit(name) {
  return `${name}: call ${++calls} on this worker`;
}
