/* test_console.c: console (bootstrap/prelude/20-console.js) through
 * `isopool run`: format strings (%s %d %i %f %o %O %j %c %%), the methods
 * and their print levels (stdout, stderr), trace, assert, count, group,
 * time, table.
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

/* ---- format strings ---- */

static void t_format_s(void) {
  EXPECT_RUN(JS(console.log("%s|%s|%s|%s", "str", 42, null, [ 1, 2 ]);),
             0, "str|42|null|1,2\n", "");
}

static void t_format_d_i(void) {
  EXPECT_RUN(
      JS(console.log("%d %i %d %d %i %d", 42.9, -7.5, "12", 10n, {}, -0);),
      0, "42 -7 NaN 10n NaN 0\n", "");
}

static void t_format_f(void) {
  EXPECT_RUN(JS(console.log("%f %f %f", 1.5, -2, "3");), 0,
             "1.5 -2 NaN\n", "");
}

static void t_format_o(void) {
  EXPECT_RUN(JS(console.log("%o and %O", "q", { a: [1, { b: "c" }] });), 0,
             "\"q\" and { a: [ 1, { b: \"c\" } ] }\n", "");
}

static void t_format_j(void) {
  EXPECT_RUN(JS(const c = { n: 1 }; c.c = c;
                console.log("%j %j %j", { a: [1, "x"] }, c, undefined);),
             0, "{\"a\":[1,\"x\"]} [Circular] undefined\n", "");
}

static void t_format_c_percent(void) {
  EXPECT_RUN(JS(console.log("%cred%c and 100%%", "color: red", "");
                console.log("100%%"); console.log("%% %s", "x");),
             0, "red and 100%\n100%%\n% x\n", "");
}

static void t_format_extra_and_missing(void) {
  EXPECT_RUN(JS(console.log("%s %s", "a"); console.log("a", 1, "b", { x: 1 });
                console.log("%x %s", "y", "z"); console.log();
                console.log(1, "two"); console.log("%s", "a", "b", 3);),
             0, "a %s\na 1 b { x: 1 }\n%x y z\n\n1 two\na b 3\n", "");
}

/* ---- console methods ---- */

static void t_stderr_levels(void) {
  EXPECT_RUN(JS(console.log("log"); console.info("info");
                console.debug("debug"); console.warn("warn", { a: 1 });
                console.error("error %d", 7);),
             0, "log\ninfo\ndebug\n", "warn { a: 1 }\nerror 7\n");
}

static void t_trace(void) {
  js_run r;
  CHECK(run_js(JS(function where() { console.trace("here %s", "now"); }
                  where();),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "");
  CHECK(starts_with(r.err, "Trace: here now\n    at where (file://"));
  run_free(&r);
}

static void t_assert_count(void) {
  EXPECT_RUN(JS(console.assert(true, "silent"); console.assert(false);
                console.assert(false, "msg %d", 5);
                console.assert(false, { a: 1 });
                console.count(); console.count(); console.count("x");
                console.countReset(); console.count();
                console.countReset("nope");),
             0, "default: 1\ndefault: 2\nx: 1\ndefault: 1\n",
             "Assertion failed\nAssertion failed: msg 5\n"
             "Assertion failed: { a: 1 }\nCount for 'nope' does not exist\n");
}

static void t_group(void) {
  EXPECT_RUN(JS(console.group("G"); console.log("in\nmulti"); console.group();
                console.info({ k: 1 }); console.warn("w"); console.groupEnd();
                console.groupEnd(); console.groupEnd(); console.log("out");),
             0, "G\n  in\n  multi\n    { k: 1 }\nout\n", "    w\n");
}

static void t_time(void) {
  js_run r;
  CHECK(run_js(JS(console.time("t"); console.timeLog("t", "mid");
                  console.timeEnd("t"); console.timeEnd("t");
                  console.time(); console.time();),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK(starts_with(r.out, "t: "));
  CHECK_CONTAINS(r.out, "ms mid\nt: ");
  CHECK(r.out != NULL && strlen(r.out) > 3 &&
        strcmp(r.out + strlen(r.out) - 3, "ms\n") == 0);
  CHECK_STR(r.err,
            "Timer 't' does not exist\nTimer 'default' already exists\n");
  run_free(&r);
}

static void t_table(void) {
  EXPECT_RUN(JS(console.table([{ a: 1, b: "x" }, { a: 2, c: true }]);
                console.table(["p", 10]); console.table(5);),
             0,
             "┌───────┬───┬─────┬──────┐\n"
             "│ (idx) │ a │  b  │  c   │\n"
             "├───────┼───┼─────┼──────┤\n"
             "│   0   │ 1 │ \"x\" │      │\n"
             "│   1   │ 2 │     │ true │\n"
             "└───────┴───┴─────┴──────┘\n"
             "┌───────┬────────┐\n"
             "│ (idx) │ Values │\n"
             "├───────┼────────┤\n"
             "│   0   │  \"p\"   │\n"
             "│   1   │   10   │\n"
             "└───────┴────────┘\n"
             "5\n",
             "");
}

// clang-format on

static const iso_test cases[] = {
    {"format_s", t_format_s},
    {"format_d_i", t_format_d_i},
    {"format_f", t_format_f},
    {"format_o", t_format_o},
    {"format_j", t_format_j},
    {"format_c_percent", t_format_c_percent},
    {"format_extra_and_missing", t_format_extra_and_missing},
    {"stderr_levels", t_stderr_levels},
    {"trace", t_trace},
    {"assert_count", t_assert_count},
    {"group", t_group},
    {"time", t_time},
    {"table", t_table},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
