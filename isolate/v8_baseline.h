/* v8_baseline.h: bare V8, for bench/runtime_bench only.
 *
 * The same work the runtime does, straight on V8's API with nothing of
 * isopool's around it, so the benchmark can print the runtime's overhead
 * over V8 in the same run. Each function returns the mean microseconds per
 * iteration over n iterations. V8 must be initialised (iso_rt_init_process).
 * Thread: one at a time, on a thread that owns no isolate.
 */
#ifndef ISO_V8_BASELINE_H
#define ISO_V8_BASELINE_H

#ifdef __cplusplus
extern "C" {
#endif

/* An isolate created and disposed. */
double v8b_isolate_us(int n);
/* A context created (in one isolate). */
double v8b_context_us(int n);
/* A trivial module ("export default <i>;", distinct text each time)
 * compiled, instantiated and evaluated, its promise read and its default
 * export taken, in one context. */
double v8b_module_us(int n);

#ifdef __cplusplus
}
#endif

#endif /* ISO_V8_BASELINE_H */
