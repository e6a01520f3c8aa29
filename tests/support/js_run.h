/* js_run.h: runs a module's text through `isopool run`, the way a user
 * of the command does, for the suites of the prelude's globals
 * (test_console, test_inspect, test_timers, test_encoding, test_events,
 * test_globals). Library iso_test_support; the isopool it runs is the
 * build tree's (ISO_BIN_DIR).
 *
 *   EXPECT_RUN(JS(console.log("%s", 1);), 0, "1\n", "");
 *
 * JS(...) stringizes its argument: the module reads as code in the suite,
 * and arrives as one line (so stack frames all say main.js:1). Inside
 * JS(...), use double-quoted strings only, and no '#' or unbalanced
 * parentheses outside strings. Suites keep their cases out of `make
 * format` (// clang-format off): clang-format would reflow the JavaScript
 * as if it were C, and splitting a token such as => changes the source.
 */
#ifndef ISO_JS_RUN_H
#define ISO_JS_RUN_H

#include "tap.h"

#define JS(...) #__VA_ARGS__

typedef struct js_run {
  int status;  /* exit status; -1 when killed or not exited normally */
  char* out;   /* stdout, NUL-terminated; owned */
  char* err;   /* stderr, NUL-terminated; owned */
  double secs; /* wall time of the child */
} js_run;

/* run_js: runs `isopool run main.js` on source in a fresh temporary
 * directory (removed after), killed after 30 s. Returns 0 and fills r
 * (release it with run_free), or -1 when the child could not be started
 * or its output not read. */
int run_js(const char* source, js_run* r);

/* run_js_flag: run_js with one option before main.js (`isopool run FLAG
 * main.js`, e.g. "--v8-flags=--expose-gc"). */
int run_js_flag(const char* flag, const char* source, js_run* r);
/* run_js_flags: run_js with options before main.js (NULL-ended, at most
 * 8), e.g. {"--allow-net=127.0.0.1:8080", NULL}. */
int run_js_flags(const char* const* flags, const char* source, js_run* r);
void run_free(js_run* r);

/* js_run_ready: 0 when the build's isopool exists; else -1 and says so
 * (a suite's setup). */
int js_run_ready(void);

/* run_deno: runs `deno run --quiet main.js` on source, as run_js does,
 * with Deno from scripts/deno.sh (npm's @deno/linux-x64-glibc, pinned and
 * checked), the reference the web platform suites compare with. Returns
 * -1 when Deno cannot be had (the script says why) or run. deno_ready: 0
 * when it can be had (asked once per process). */
int run_deno(const char* source, js_run* r);
/* run_deno_flags: run_deno with options (as run_js_flags). */
int run_deno_flags(const char* const* flags, const char* source, js_run* r);
int deno_ready(void);

/* starts_with: whether s (may be NULL) starts with prefix. */
int starts_with(const char* s, const char* prefix);

/* Runs src and checks the exit status and the exact stdout and stderr. A
 * macro, so a failure names the case's own line. */
#define EXPECT_RUN(src, want_status, want_out, want_err) \
  do {                                                   \
    js_run r_;                                           \
    CHECK(run_js((src), &r_) == 0);                      \
    CHECK_EQ(r_.status, (want_status));                  \
    CHECK_STR(r_.out, (want_out));                       \
    CHECK_STR(r_.err, (want_err));                       \
    run_free(&r_);                                       \
  } while (0)

/* Runs src under isopool and under Deno, each with the options in flags
 * (NULL-ended, or NULL: none), and checks that both exit 0 with the same
 * stdout, and that it is want_out (NULL: whatever they agree on). A run
 * that fails shows its stderr. Without Deno, only isopool's run is
 * checked, and the first such case of a suite says so. */
#define EXPECT_AS_DENO_FLAGS(flags, src, want_out)                    \
  do {                                                                \
    js_run r_, d_;                                                    \
    CHECK(run_js_flags((flags), (src), &r_) == 0);                    \
    if (r_.status != 0) {                                             \
      fprintf(stderr, "  isopool: %s\n", r_.err);                     \
    }                                                                 \
    CHECK_EQ(r_.status, 0);                                           \
    if ((want_out) != NULL) {                                         \
      CHECK_STR(r_.out, (const char*)(want_out));                     \
    }                                                                 \
    if (run_deno_flags((flags), (src), &d_) == 0) {                   \
      if (d_.status != 0) {                                           \
        fprintf(stderr, "  deno: %s\n", d_.err);                      \
      }                                                               \
      CHECK_EQ(d_.status, 0);                                         \
      CHECK_STR(r_.out, d_.out);                                      \
      run_free(&d_);                                                  \
    } else {                                                          \
      static int said_;                                               \
      if (!said_++) {                                                 \
        fprintf(stderr, "  (Deno is not available: isopool only)\n"); \
      }                                                               \
    }                                                                 \
    run_free(&r_);                                                    \
  } while (0)

/* EXPECT_AS_DENO_FLAGS without options. */
#define EXPECT_AS_DENO(src, want_out) EXPECT_AS_DENO_FLAGS(NULL, src, want_out)

#endif /* ISO_JS_RUN_H */
