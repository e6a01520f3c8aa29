/* fuzz_v8_values.c: msgpack -> JavaScript value -> msgpack inside a live
 * runtime, the conversion every job's arguments and value go through
 * (docs/values.md; isolate/v8s_msgpack.cc, read through isolate/iso_rt.h).
 *
 * One runtime and one warm realm for the whole run, as a worker has: each
 * input that is one msgpack array is passed as the arguments of
 * `export default (...a) => a`, and the value comes back as msgpack. For
 * any such input the evaluation ends (the runtime never aborts the
 * process), with a value or an error that says why. A value is one
 * msgpack array whose strings are valid UTF-8, and the conversion is a
 * fixed point after one pass: sending the value back as the arguments
 * gives the same bytes (the first pass may normalise: integral floats
 * become ints, ill-formed UTF-8 becomes U+FFFD, duplicate object keys
 * merge, integer-like keys reorder).
 *
 * Its first finding: an empty bin made the shim memcpy to an empty
 * ArrayBuffer's NULL data (corpus/v8_values/bin_empty keeps it found).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fuzz_check.h"
#include "iso_err.h"
#include "iso_rt.h"

static uv_loop_t loop;
static iso_rt* rt;
static iso_realm* realm;

/* V8 keeps memory for the life of the process (its heap, caches, the
 * runtime this harness never frees): no leak check, neither per input nor
 * at exit. The runtime's own leaks are the ASan suites' to find. */
const char* __asan_default_options(void);
const char* __asan_default_options(void) {
  return "detect_leaks=0";
}

/* Inputs that reached the runtime (the others are not one msgpack array),
 * printed at exit: the figure to compare with the decoders' executions. */
static unsigned long long converted;

static void print_converted(void) {
  fprintf(stderr, "fuzz_v8_values: %llu inputs converted in the runtime\n",
          converted);
}

static const char kSource[] = "export default (...a) => a;\n";

typedef struct eval_state {
  int done;
  int status;
  uint8_t* mp;
  size_t len;
  char* error;
} eval_state;

static void on_value(iso_realm* r,
                     void* data,
                     int status,
                     const uint8_t* mp,
                     size_t len,
                     const iso_js_error* err) {
  eval_state* st = data;
  st->done = 1;
  st->status = status;
  if (status == 0 && mp != NULL) {
    st->mp = malloc(len);
    memcpy(st->mp, mp, len);
    st->len = len;
  }
  if (err != NULL) {
    st->error = iso_js_error_format(err);
  }
}

static void on_job_error(iso_realm* r,
                         void* data,
                         void* culprit,
                         const iso_js_error* err) {}
static void on_error(iso_realm* r, void* data, const iso_js_error* err) {
  char* text = iso_js_error_format(err);
  fprintf(stderr, "the warm realm failed: %s\n", text ? text : "?");
  abort();
}
static void on_log(iso_realm* r,
                   void* data,
                   const char* level,
                   const char* text,
                   size_t len) {}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  atexit(print_converted);
  FUZZ_CHECK(iso_rt_init_process(NULL) == 0);
  uv_loop_init(&loop);
  iso_rt_opts o = {.loop = &loop,
                   .root = "/tmp",
                   .heap_max_mb = 256,
                   .value_max_bytes = 16 << 20};
  FUZZ_CHECK(iso_rt_new(&o, &rt) == 0);
  iso_realm_cbs cbs = {
      .log_cb = on_log, .error_cb = on_error, .job_error_cb = on_job_error};
  FUZZ_CHECK(iso_realm_new(rt, &cbs, NULL, &realm) == 0);
  return 0;
}

/* Calls the identity export with args; fills st. */
static void round_once(const uint8_t* args, size_t len, eval_state* st) {
  memset(st, 0, sizeof *st);
  iso_eval_opts eo = {.specifier = "/tmp/isopool-fuzz-values.js",
                      .source = kSource,
                      .source_len = sizeof kSource - 1,
                      .call = 1,
                      .args_mp = args,
                      .args_len = len};
  int rc = iso_realm_eval(realm, &eo, on_value, st);
  FUZZ_CHECK(rc == 0);
  for (int i = 0; !st->done && i < 1000000; i++) {
    iso_rt_tick(rt);
    if (!st->done) {
      uv_run(&loop, UV_RUN_NOWAIT);
    }
  }
  FUZZ_CHECK(st->done);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  /* the runtime takes arguments as one msgpack array (the decoder has
   * checked that much before a job gets here) */
  uint8_t c = size > 0 ? data[0] : 0;
  if (!((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd) ||
      iso_mp_one(data, size, 63) != 0) {
    return 0;
  }
  converted++;
  eval_state a;
  round_once(data, size, &a);
  if (a.status != 0) {
    FUZZ_CHECK(a.error != NULL && a.error[0] != 0);
  } else {
    FUZZ_CHECK(a.mp != NULL && fuzz_one_value(a.mp, a.len));
    FUZZ_CHECK((a.mp[0] & 0xf0) == 0x90 || a.mp[0] == 0xdc || a.mp[0] == 0xdd);
    FUZZ_CHECK(fuzz_strings_utf8(a.mp, a.len));
    eval_state b;
    round_once(a.mp, a.len, &b);
    FUZZ_CHECK(b.status == 0);
    FUZZ_CHECK(b.len == a.len && memcmp(b.mp, a.mp, a.len) == 0);
    free(b.mp);
    free(b.error);
  }
  free(a.mp);
  free(a.error);
  return 0;
}
