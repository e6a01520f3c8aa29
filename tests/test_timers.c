/* test_timers.c: timers (bootstrap/prelude/25-timers.js) and
 * queueMicrotask (35-microtasks.js) through `isopool run`: order by
 * deadline then creation, intervals, clearing, arguments and ids, a
 * callback that throws, and the runtime's side of the contract
 * (timerArm/fireTimers).
 *
 * Each case writes a small ES module to a fresh temporary directory, runs
 * `isopool run main.js` in a child process and checks the exact stdout,
 * stderr and exit status, the way a user of the command sees them
 * (support/js_run.h), so a failure may point at the prelude or at its
 * contract with the runtime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_run.h"
#include "tap.h"

/* The cases are kept out of `make format` (js_run.h). */
// clang-format off

/* ---- timers and microtasks ---- */

static void t_timer_order(void) {
  EXPECT_RUN(JS(setTimeout(() => console.log("t10"), 10);
                setTimeout(() => {
                  console.log("t0a");
                  Promise.resolve().then(() => console.log("t0a micro"));
                }, 0);
                setTimeout(() => console.log("t0b"), 0);
                Promise.resolve().then(() => console.log("promise"));
                queueMicrotask(() => console.log("queueMicrotask"));
                console.log("sync");),
             0, "sync\npromise\nqueueMicrotask\nt0a\nt0a micro\nt0b\nt10\n",
             "");
}

static void t_timer_deadline_order(void) {
  /* A 20 ms timer set before a 30 ms busy wait is due before a 0 ms timer
   * set after it: order is by deadline, not by delay. */
  EXPECT_RUN(JS(setTimeout(() => console.log("t20"), 20);
                const until = performance.now() + 30;
                while (performance.now() < until) {}
                setTimeout(() => console.log("t0"), 0);
                for (let i = 0; i < 3; i++) {
                  setTimeout(() => console.log("same", i), 5);
                }),
             0, "t20\nt0\nsame 0\nsame 1\nsame 2\n", "");
}

static void t_interval(void) {
  EXPECT_RUN(JS(let n = 0;
                const id = setInterval(() => {
                  n++;
                  console.log("tick", n);
                  if (n === 3) {
                    clearInterval(id);
                    setTimeout(() => console.log("done", n), 20);
                  }
                }, 5);),
             0, "tick 1\ntick 2\ntick 3\ndone 3\n", "");
}

static void t_clear_timeout(void) {
  /* A cleared timer neither fires nor keeps the loop alive. */
  js_run r;
  CHECK(run_js(JS(const never = setTimeout(() => console.log("never"), 60000);
                  const also = setTimeout(() => console.log("also never"), 5);
                  setTimeout(() => clearTimeout(also), 0);
                  clearTimeout(never); clearTimeout(undefined);
                  clearTimeout(12345); console.log("cleared");),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "cleared\n");
  CHECK_STR(r.err, "");
  CHECK(r.secs < 10);
  run_free(&r);
}

static void t_timer_args_ids(void) {
  EXPECT_RUN(JS(const a = setTimeout((x, y) => console.log(x, y), 0, "x", 2);
                const b = setInterval(() => {}, 1); clearInterval(b);
                clearTimeout(b);
                setTimeout(() => console.log("nan delay"), NaN);
                setTimeout(() => console.log("negative delay"), -5);
                console.log(Number.isInteger(a) && a > 0, b > a);),
             0, "true true\nx 2\nnan delay\nnegative delay\n", "");
}

static void t_timer_throws(void) {
  js_run r;
  CHECK(run_js(JS(setTimeout(() => { throw new Error("timer threw"); }, 0);),
               &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK(starts_with(r.err, "error: Uncaught Error: timer threw\n    at "));
  run_free(&r);
}

static void t_queue_microtask(void) {
  EXPECT_RUN(JS(Promise.resolve().then(() => console.log("p1"));
                queueMicrotask(() => console.log("q1"));
                Promise.resolve().then(() => console.log("p2"));
                queueMicrotask(() => queueMicrotask(() => console.log("q3")));
                try { queueMicrotask(1); } catch (e) {
                  console.log(e.name, e instanceof TypeError);
                }
                console.log("sync");),
             0, "TypeError true\nsync\np1\nq1\np2\nq3\n", "");
}

// clang-format on

static const iso_test cases[] = {
    {"timer_order", t_timer_order},
    {"timer_deadline_order", t_timer_deadline_order},
    {"interval", t_interval},
    {"clear_timeout", t_clear_timeout},
    {"timer_args_ids", t_timer_args_ids},
    {"timer_throws", t_timer_throws},
    {"queue_microtask", t_queue_microtask},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
