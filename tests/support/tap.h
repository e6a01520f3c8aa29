/* tap.h: the runner every suite uses: a table of named cases, each run in
 * a process of its own with a timeout of its own (libuv's test runner), so
 * a case that hangs or crashes is named, and the other cases still run.
 *
 *   static void t_foo(void) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   static const iso_test cases[] = {
 *       {"foo", t_foo},
 *       {"slow_one", t_slow_one, .timeout_s = 120},
 *       {NULL, NULL},
 *   };
 *   int main(int argc, char** argv) { return iso_test_main(argc, argv,
 *                                                          cases); }
 *
 * For each case the runner prints "- name", forks, runs the case in the
 * child, waits for it up to its timeout, and prints one TAP line:
 *   ok 3 - foo (0.02 s)
 *   not ok 4 - bar # failed
 *   not ok 7 - cancel_midway # timeout after 60 s
 *   not ok 8 - baz # signal 11 (Segmentation fault)
 *   not ok 9 - qux # exit status 1     (a sanitizer's report is above)
 * and at the end "N/M passed" (exit status 0 iff all passed). A failed
 * CHECK prints file:line and marks the case failed; the case goes on, so
 * one run shows every failure of it.
 *
 * The case's process is a fork of the runner taken after the suite's setup:
 * it sees the memory the setup left and its own changes are lost with it
 * (files, daemons started by the setup are shared). It runs in a process
 * group of its own, which the runner kills when the case ends or times out
 * (no process a case started outlives it), and dies with the runner. It
 * ends with exit(), so the leak check (LSan, in the ASan tree) looks at each
 * case on its own; an atexit handler the setup registers runs in every case
 * process, so a setup must not register one that releases shared state.
 * The runner itself starts no threads (a fork of a threaded process keeps
 * only the forking thread: NNG, V8 and libuv state belong in the case, or
 * in case_setup, not in setup).
 *
 * Arguments and environment:
 *   test_x                   every case
 *   test_x name [name...]    only the named cases (a name that matches no
 *                            case fails the run)
 *   test_x --list            the case names and timeouts, one a line
 *   ISO_TEST_NOFORK=1        every case in the runner's own process, in
 *                            order, without timeouts (for a debugger:
 *                            ISO_TEST_NOFORK=1 gdb --args test_x name)
 *   ISO_TEST_TIMEOUT_SCALE=f multiplies every timeout (the sanitizer trees
 *                            set it; see tests/CMakeLists.txt)
 */
#ifndef ISO_TAP_H
#define ISO_TAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The default timeout of one case, before ISO_TEST_TIMEOUT_SCALE: above
 * the 30 s the helpers give a program (proc_run) or a reply, so that their
 * own report comes first. */
#define ISO_TEST_TIMEOUT_S 60

typedef struct iso_test {
  const char* name;
  void (*fn)(void);
  int timeout_s; /* 0: the suite's default */
} iso_test;

/* iso_test_suite: what iso_test_run runs. Every field may be 0. */
typedef struct iso_test_suite {
  /* Cases sharing one body: run_row(row) for each of the nrows rows
   * (row_size bytes apart, each starting with its name as a const char*),
   * with the default timeout. They run before `cases`. */
  const void* rows;
  size_t nrows;
  size_t row_size;
  void (*run_row)(const void* row);
  const iso_test* cases; /* NULL-terminated */
  int timeout_s;         /* the default per case; 0: ISO_TEST_TIMEOUT_S */
  /* In the runner's process, once, around all the cases (a daemon the
   * cases share). setup returns 0, or nonzero: then no case runs and the
   * run fails. A CHECK that fails in setup fails the run too. */
  int (*setup)(void);
  void (*teardown)(void);
  /* In each case's process, around the case (state that must not cross a
   * fork: NNG sockets and threads, a V8 platform). A case_setup that fails
   * the case (CHECK, iso_test_failed) skips it; case_teardown still runs. */
  void (*case_setup)(void);
  void (*case_teardown)(void);
} iso_test_suite;

/* iso_test_failed: nonzero once the current case failed. CHECK sets it; a
 * helper sets it to fail the case, and reads it to print more context
 * only on a failure. */
extern int iso_test_failed;

/* iso_test_run: runs the suite as argv asks (above); the process's exit
 * status: 0 iff every case that ran passed and at least one ran. */
int iso_test_run(int argc, char** argv, const iso_test_suite* suite);

/* iso_test_main: iso_test_run with only cases. */
int iso_test_main(int argc, char** argv, const iso_test* cases);

/* iso_test_rows: iso_test_run with n rows (size bytes apart) run through
 * run(row), then the cases in `more` (NULL-terminated; may be NULL). */
int iso_test_rows(int argc,
                  char** argv,
                  const void* rows,
                  size_t n,
                  size_t size,
                  void (*run)(const void* row),
                  const iso_test* more);

/* now_ms: CLOCK_MONOTONIC in ms. sleep_ms: sleeps ms (restarted on EINTR).
 * Thread: any. */
int64_t now_ms(void);
void sleep_ms(int ms);

/* iso_test_scale: ISO_TEST_TIMEOUT_SCALE (1 when unset or not positive),
 * for a case's own deadlines that must grow with a slower build, as its
 * timeout does. Thread: any. */
double iso_test_scale(void);

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                    \
      iso_test_failed = 1;                                               \
    }                                                                    \
  } while (0)

#define CHECK_EQ(a, b)                                                      \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_) {                                                         \
      fprintf(stderr, "  %s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
              __FILE__, __LINE__, #a, a_, #b, b_);                          \
      iso_test_failed = 1;                                                  \
    }                                                                       \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                     \
      fprintf(stderr,                                                          \
              "  %s:%d: CHECK_STR failed: %s\n    got:      \"%s\"\n"          \
              "    expected: \"%s\"\n",                                        \
              __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
      iso_test_failed = 1;                                                     \
    }                                                                          \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                    \
  do {                                                                 \
    const char *h_ = (hay), *n_ = (needle);                            \
    if (h_ == NULL || strstr(h_, n_) == NULL) {                        \
      fprintf(stderr,                                                  \
              "  %s:%d: CHECK_CONTAINS failed: %s\n    in:   \"%s\"\n" \
              "    want: \"%s\"\n",                                    \
              __FILE__, __LINE__, #hay, h_ ? h_ : "(null)", n_);       \
      iso_test_failed = 1;                                             \
    }                                                                  \
  } while (0)

#endif /* ISO_TAP_H */
