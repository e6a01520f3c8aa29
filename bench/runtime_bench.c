/* runtime_bench.c: what the runtime costs on this machine, next to bare V8
 * measured in the same run (isolate/v8_baseline.h).
 *
 *   runtime_bench [N] [isolate|context|module]
 *                                        N iterations per figure (default
 *                                        2000); naming a figure measures
 *                                        only that one (for profilers)
 *
 * Prints one line per figure: isolate creation, context creation, a trivial
 * module's compile + instantiate + evaluate, a 460-line module's in a new
 * isolate with the process's code cache and without (the ratio is the
 * median of the rounds' ratios too), a setTimeout(0) round trip, and
 * the runtime's cost over bare V8's. The module figure is the median of 21
 * short rounds that alternate the two sides, and its ratio the median of
 * the rounds' ratios, so that the machine's noise hits both alike.
 * Then, for scripts/bench.sh's table of issue 15's targets
 * (bench/README.md, "Targets"), a `target` line for isolate creation
 * against bare V8's and a `figure` line for bare V8's Context::New (the
 * baseline of the eval target, which bench.sh computes); `isolate` and
 * `context` alone print the one of them they measure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "v8_baseline.h"

static double now_us(void) {
  return (double)uv_hrtime() / 1e3;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static iso_rt* rt_open(uv_loop_t* loop, const char* root) {
  iso_rt* rt = NULL;
  iso_rt_opts o = {.loop = loop, .root = root};
  if (iso_rt_new(&o, &rt) != 0) {
    fprintf(stderr, "runtime_bench: iso_rt_new failed\n");
    exit(1);
  }
  return rt;
}

static void rt_close(iso_rt* rt, uv_loop_t* loop) {
  iso_rt_free(rt);
  uv_run(loop, UV_RUN_DEFAULT);
}

static double isolate_us(int n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    rt_close(rt_open(&loop, "/tmp"), &loop);
  }
  double us = (now_us() - t0) / n;
  uv_loop_close(&loop);
  return us;
}

static double context_us(int n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = rt_open(&loop, "/tmp");
  iso_realm_cbs cbs = {0};
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    iso_realm* realm = NULL;
    if (iso_realm_new(rt, &cbs, NULL, &realm) != 0) {
      exit(1);
    }
    iso_realm_free(realm);
  }
  double us = (now_us() - t0) / n;
  rt_close(rt, &loop);
  uv_loop_close(&loop);
  return us;
}

typedef struct wait_state {
  uv_loop_t* loop;
  int status;
  int done;
} wait_state;

static void eval_cb(iso_realm* realm,
                    void* data,
                    int status,
                    const uint8_t* mp,
                    size_t len,
                    const iso_js_error* err) {
  wait_state* w = data;
  w->status = status;
  w->done = 1;
  if (status != 0) {
    fprintf(stderr, "runtime_bench: %s\n", err->message);
  }
}

/* Evaluates o in realm and waits for its callback: as the pool does, the
 * tick right away, the loop only if need be. Exits on a refusal. */
static void eval_wait(iso_rt* rt,
                      iso_realm* realm,
                      const iso_eval_opts* o,
                      wait_state* w) {
  w->done = 0;
  if (iso_realm_eval(realm, o, eval_cb, w) != 0) {
    exit(1);
  }
  iso_rt_tick(rt);
  while (!w->done) {
    uv_run(w->loop, UV_RUN_ONCE);
  }
}

/* The module figure: each module is new text in a realm of a realistic
 * size (a fresh realm every 100 modules, made and freed off the clock), as
 * the bare-V8 loop's modules do not pile up either. */
static double module_us(int n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = rt_open(&loop, "/tmp");
  iso_realm_cbs cbs = {0};
  iso_realm* realm = NULL;
  wait_state w = {.loop = &loop};
  double spent = 0;
  for (int i = 0; i < n; i++) {
    if (i % 100 == 0) {
      iso_realm_free(realm);
      iso_realm_new(rt, &cbs, NULL, &realm);
    }
    char src[64], spec[64];
    snprintf(src, sizeof(src), "export default %d;", i);
    snprintf(spec, sizeof(spec), "/tmp/bench-%d.js", i);
    iso_eval_opts o = {
        .specifier = spec, .source = src, .source_len = strlen(src)};
    double t0 = now_us();
    eval_wait(rt, realm, &o, &w);
    spent += now_us() - t0;
    if (w.status != 0) {
      exit(1);
    }
  }
  iso_realm_free(realm);
  rt_close(rt, &loop);
  uv_loop_close(&loop);
  return spent / n;
}

/* A realistic module: some 460 lines of functions, classes and tables, a
 * few of them run while it evaluates (the rest compiled lazily, if ever). */
static char* big_module(size_t* len) {
  size_t cap = 64 * 1024, o = 0;
  char* src = malloc(cap);
  if (src == NULL) {
    exit(1);
  }
  for (int i = 0; i < 14; i++) {
    o += (size_t)snprintf(
        src + o, cap - o,
        "export function hash%d(s) {\n"
        "  let h = 2166136261 ^ %d;\n"
        "  for (let i = 0; i < s.length; i++) {\n"
        "    h = Math.imul(h ^ s.charCodeAt(i), 16777619);\n"
        "  }\n"
        "  return h >>> 0;\n"
        "}\n"
        "export class Store%d {\n"
        "  constructor(name) {\n"
        "    this.name = name;\n"
        "    this.rows = new Map();\n"
        "  }\n"
        "  put(k, v) {\n"
        "    this.rows.set(hash%d(String(k)), { k, v, at: %d });\n"
        "    return this;\n"
        "  }\n"
        "  get(k) {\n"
        "    const r = this.rows.get(hash%d(String(k)));\n"
        "    return r === undefined ? undefined : r.v;\n"
        "  }\n"
        "  toJSON() {\n"
        "    return [...this.rows.values()].map((r) => [r.k, r.v]);\n"
        "  }\n"
        "}\n"
        "const defaults%d = { retries: %d, backoff: [10, 20, 40], tag: 'p%d' "
        "};\n"
        "export function configure%d(opts = {}) {\n"
        "  const o = { ...defaults%d, ...opts };\n"
        "  if (o.retries < 0) {\n"
        "    throw new RangeError('retries');\n"
        "  }\n"
        "  return Object.freeze(o);\n"
        "}\n",
        i, i, i, i, i, i, i, i, i, i, i);
  }
  o += (size_t)snprintf(src + o, cap - o,
                        "const s = new Store0('main').put('a', 1).put('b', "
                        "configure1().retries);\n"
                        "export default s.get('b') + hash2('xyz') %% 7;\n");
  *len = o;
  return src;
}

/* The realistic module's compile + instantiate + evaluate in a fresh
 * isolate (made and freed off the clock), as a pool's next worker or a
 * recycled one meets it: with the process's code cache (its entry made
 * by the first two) or without it (bound 0: compiled from the text). */
static double big_module_us(int n, int cached, int one_isolate) {
  size_t len = 0;
  char* src = big_module(&len);
  iso_rt_code_limit(cached ? (size_t)32 << 20 : 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_realm_cbs cbs = {0};
  wait_state w = {.loop = &loop};
  double spent = 0;
  iso_rt* one = one_isolate ? rt_open(&loop, "/tmp") : NULL;
  for (int i = 0; i < n; i++) {
    iso_rt* rt = one != NULL ? one : rt_open(&loop, "/tmp");
    iso_realm* realm = NULL;
    iso_realm_new(rt, &cbs, NULL, &realm);
    iso_eval_opts o = {
        .specifier = "/tmp/bench-big.js", .source = src, .source_len = len};
    double t0 = now_us();
    eval_wait(rt, realm, &o, &w);
    spent += now_us() - t0;
    if (w.status != 0) {
      exit(1);
    }
    iso_realm_free(realm);
    if (one == NULL) {
      rt_close(rt, &loop);
    }
  }
  if (one != NULL) {
    rt_close(one, &loop);
  }
  uv_loop_close(&loop);
  free(src);
  iso_rt_code_limit((size_t)32 << 20);
  return spent / n;
}

/* The warm-call figure: one module evaluated once, then its export
 * called n times in the same realm (the pool's call job on the runtime),
 * with the per-evaluation costs counted (each entry's time, the heap read
 * once per evaluation: iso_eval_stats) or not (no_costs). */
static double warm_call_us(int n, int no_costs) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = "/tmp", .no_costs = no_costs};
  if (iso_rt_new(&ro, &rt) != 0) {
    fprintf(stderr, "runtime_bench: iso_rt_new failed\n");
    exit(1);
  }
  iso_realm_cbs cbs = {0};
  iso_realm* realm = NULL;
  iso_realm_new(rt, &cbs, NULL, &realm);
  wait_state w = {.loop = &loop};
  static const char src[] = "export default (x) => ({x, y: [x, x * 2]});";
  static const uint8_t args[] = {0x91, 0x07}; /* [7] */
  double spent = 0;
  for (int i = 0; i <= n; i++) {
    iso_eval_opts o = {.specifier = "/tmp/bench-warm.js",
                       .source = src,
                       .source_len = sizeof src - 1,
                       .call = 1,
                       .args_mp = args,
                       .args_len = sizeof args};
    double t0 = now_us();
    eval_wait(rt, realm, &o, &w);
    if (i > 0) { /* the first compiles the module */
      spent += now_us() - t0;
    }
  }
  iso_realm_free(realm);
  rt_close(rt, &loop);
  uv_loop_close(&loop);
  return spent / n;
}

static double timeout_us(int n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = rt_open(&loop, "/tmp");
  iso_realm_cbs cbs = {0};
  iso_realm* realm = NULL;
  iso_realm_new(rt, &cbs, NULL, &realm);
  wait_state w = {.loop = &loop};
  char src[200];
  snprintf(src, sizeof(src),
           "for (let i = 0; i < %d; i++) {\n"
           "  await new Promise((r) => setTimeout(r, 0));\n"
           "}\n",
           n);
  iso_eval_opts o = {.specifier = "/tmp/bench-timeout.js",
                     .source = src,
                     .source_len = strlen(src)};
  double t0 = now_us();
  iso_realm_eval(realm, &o, eval_cb, &w);
  while (!w.done) {
    uv_run(&loop, UV_RUN_ONCE);
  }
  double us = (now_us() - t0) / n;
  iso_realm_free(realm);
  rt_close(rt, &loop);
  uv_loop_close(&loop);
  return us;
}

/* The machine-readable lines (bench/README.md, "Targets"). */
static void print_isolate_target(double rt, double v8) {
  printf("target\tisolate\t%.1f\tus\tbare V8\t%.1f\t%.3f\n", rt, v8, rt / v8);
}

static void print_context_figure(double v8) {
  printf("figure\tcontext_new_bare\t%.2f\tus\n", v8);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  if (n <= 0) {
    fprintf(stderr, "usage: runtime_bench [N]\n");
    return 2;
  }
  iso_rt_init_process(NULL);
  if (argc > 2) {
    if (strcmp(argv[2], "costs") == 0) {
      double on = warm_call_us(n, 0), off = warm_call_us(n, 1);
      printf("warm call: costs counted %.2f us, not %.2f us, %.3fx\n", on, off,
             on / off);
      return 0;
    }
    int module = strcmp(argv[2], "module") == 0;
    int isolate = strcmp(argv[2], "isolate") == 0;
    double rt = module ? module_us(n) : isolate ? isolate_us(n) : context_us(n);
    double v8 = module    ? v8b_module_us(n)
                : isolate ? v8b_isolate_us(n)
                          : v8b_context_us(n);
    printf("%s: isopool %.1f us, bare V8 %.1f us, %.2fx\n", argv[2], rt, v8,
           rt / v8);
    if (isolate) {
      print_isolate_target(rt, v8);
    } else if (!module) {
      print_context_figure(v8);
    }
    return 0;
  }
  /* the module figure: short rounds, the two sides in turn, medians; this
   * machine's noise then hits both alike */
  enum { ROUNDS = 21 };
  double mr[ROUNDS], mv[ROUNDS], ratio[ROUNDS];
  int per = n / ROUNDS > 50 ? n / ROUNDS : 50;
  int few = n / 20 > 10 ? n / 20 : 10;
  /* warm up both paths once */
  module_us(50);
  v8b_module_us(50);
  double iso_rt = isolate_us(few), iso_v8 = v8b_isolate_us(few);
  double ctx_rt = context_us(few * 4), ctx_v8 = v8b_context_us(few * 4);
  for (int r = 0; r < ROUNDS; r++) {
    mr[r] = module_us(per);
    mv[r] = v8b_module_us(per);
    ratio[r] = mr[r] / mv[r];
  }
  double mod_rt = median(mr, ROUNDS), mod_v8 = median(mv, ROUNDS);
  double mod_ratio = median(ratio, ROUNDS);
  /* the code cache: fresh isolates, one side then the other per round */
  double bc[ROUNDS], bn[ROUNDS], bratio[ROUNDS];
  double rc[ROUNDS], rn[ROUNDS], rratio[ROUNDS];
  int isos = few > 20 ? 20 : few;
  big_module_us(2, 1, 0); /* its entry made */
  for (int r = 0; r < ROUNDS; r++) {
    bc[r] = big_module_us(isos, 1, 0);
    bn[r] = big_module_us(isos, 0, 0);
    bratio[r] = bc[r] / bn[r];
    rc[r] = big_module_us(isos * 4, 1, 1);
    rn[r] = big_module_us(isos * 4, 0, 1);
    rratio[r] = rc[r] / rn[r];
  }
  double big_c = median(bc, ROUNDS), big_n = median(bn, ROUNDS);
  double big_ratio = median(bratio, ROUNDS);
  double realm_c = median(rc, ROUNDS), realm_n = median(rn, ROUNDS);
  double realm_ratio = median(rratio, ROUNDS);
  double tmo = timeout_us(n);
  /* the accounting: the same rounds, each side in turn */
  double wc[ROUNDS], wn[ROUNDS], wratio[ROUNDS];
  warm_call_us(per, 0);
  for (int r = 0; r < ROUNDS; r++) {
    wc[r] = warm_call_us(per * 4, 0);
    wn[r] = warm_call_us(per * 4, 1);
    wratio[r] = wc[r] / wn[r];
  }
  double warm_costs = median(wc, ROUNDS), warm_none = median(wn, ROUNDS);
  double warm_ratio = median(wratio, ROUNDS);
  printf("runtime_bench: %d iterations (isolates: %d, contexts: %d)\n", n, few,
         few * 4);
  printf("%-44s %10s %10s %7s\n", "figure", "isopool", "bare V8", "ratio");
  printf("%-44s %8.1f us %7.1f us %6.2fx\n",
         "isolate creation (the runtime, no context)", iso_rt, iso_v8,
         iso_rt / iso_v8);
  printf("%-44s %8.1f us %7.1f us %6.2fx\n", "context creation (+ prelude)",
         ctx_rt, ctx_v8, ctx_rt / ctx_v8);
  printf("%-44s %8.1f us %7.1f us %6.2fx\n",
         "trivial module compile+instantiate+evaluate", mod_rt, mod_v8,
         mod_ratio);
  printf("%-44s %10s %10s %7s\n", "", "cached", "not", "ratio");
  printf("%-44s %8.1f us %7.1f us %6.2fx\n",
         "460-line module, new isolate: code cache", big_c, big_n, big_ratio);
  printf("%-44s %8.1f us %7.1f us %6.2fx\n",
         "460-line module, new realm, same isolate", realm_c, realm_n,
         realm_ratio);
  printf("%-44s %8.1f us %10s %7s\n", "setTimeout(0) round trip", tmo, "-",
         "-");
  printf("%-44s %10s %10s %7s\n", "", "costs", "no costs", "ratio");
  printf("%-44s %8.2f us %7.2f us %6.3fx\n",
         "warm call (CPU time, heap, ops counted)", warm_costs, warm_none,
         warm_ratio);
  print_isolate_target(iso_rt, iso_v8);
  print_context_figure(ctx_v8);
  return 0;
}
