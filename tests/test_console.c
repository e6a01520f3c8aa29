/* test_console.c: the prelude's globals, seen through `isopool run`.
 *
 * Each case writes a small ES module to a fresh temporary directory, runs
 * `isopool run main.js` in a child process with stdout and stderr captured
 * to separate files, and checks the exact text and exit status, the way a
 * user of the command sees them. This covers bootstrap/prelude/ (console
 * formatting, timers, text encoding, base64, structuredClone, events) and
 * its contract with the runtime (print levels, timerArm/fireTimers, load and
 * unload), so a failure may point at either side.
 *
 * The JavaScript is written with JS(...), which stringizes its argument:
 * the module reads as code here, and arrives as one line (so stack frames
 * all say main.js:1). Inside JS(...), use double-quoted strings only, and no
 * '#' or unbalanced parentheses outside strings.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#define JS(...) #__VA_ARGS__

/* A child that runs longer than this is killed and the case fails. */
#define RUN_TIMEOUT_S 30

typedef struct js_run {
  int status;  /* exit status; -1 when killed or not exited normally */
  char* out;   /* stdout, NUL-terminated; owned */
  char* err;   /* stderr, NUL-terminated; owned */
  double secs; /* wall time of the child */
} js_run;

static double mono_secs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a whole file; NULL if it cannot. The caller frees. */
static char* slurp(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char* buf = malloc(cap);
  size_t n;
  while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len - 1 == 0) {
      char* grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf != NULL) {
    buf[len] = '\0';
  }
  return buf;
}

static int write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "wb");
  if (f == NULL) {
    return -1;
  }
  size_t n = strlen(text);
  int ok = fwrite(text, 1, n, f) == n;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Runs `isopool run main.js` on source in a fresh temporary directory.
 * Returns 0 and fills r (release it with run_free), or -1 when the child
 * could not be started or its output not read. */
static int run_js(const char* source, js_run* r) {
  memset(r, 0, sizeof(*r));
  r->status = -1;
  const char* tmp = getenv("TMPDIR");
  char dir[512], main_js[600], out_path[600], err_path[600];
  snprintf(dir, sizeof(dir), "%s/iso-console-XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return -1;
  }
  snprintf(main_js, sizeof(main_js), "%s/main.js", dir);
  snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
  snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
  int rc = -1;
  if (write_file(main_js, source) != 0) {
    perror("write main.js");
    goto done;
  }
  double start = mono_secs();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    goto done;
  }
  if (pid == 0) {
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0 || chdir(dir) != 0) {
      _exit(127);
    }
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execl(ISO_BIN_DIR "/isopool", "isopool", "run", main_js, (char*)NULL);
    _exit(127);
  }
  int wstatus = 0;
  for (;;) {
    pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) {
      break;
    }
    if (w < 0 && errno != EINTR) {
      perror("waitpid");
      goto done;
    }
    if (mono_secs() - start > RUN_TIMEOUT_S) {
      fprintf(stderr, "  isopool ran over %ds; killed\n", RUN_TIMEOUT_S);
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      wstatus = -1;
      break;
    }
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  r->secs = mono_secs() - start;
  if (wstatus != -1 && WIFEXITED(wstatus)) {
    r->status = WEXITSTATUS(wstatus);
  }
  r->out = slurp(out_path);
  r->err = slurp(err_path);
  rc = (r->out != NULL && r->err != NULL) ? 0 : -1;
done:
  unlink(main_js);
  unlink(out_path);
  unlink(err_path);
  rmdir(dir);
  return rc;
}

static void run_free(js_run* r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

static int starts_with(const char* s, const char* prefix) {
  return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

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

/* The cases are kept out of `make format`: clang-format would reflow the
 * JavaScript inside JS(...) as if it were C, and splitting a token such as
 * => changes the stringized source. */
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

/* ---- inspection ---- */

static void t_primitives(void) {
  EXPECT_RUN(JS(console.log(-0, 0, 1n, Symbol("s"), undefined, null, true,
                            NaN, 1e21, "top level raw");
                console.log([-0, "s", 1n, Symbol(), undefined]);),
             0,
             "-0 0 1n Symbol(s) undefined null true NaN 1e+21 top level raw\n"
             "[ -0, \"s\", 1n, Symbol(), undefined ]\n",
             "");
}

static void t_nested_strings(void) {
  EXPECT_RUN(JS(console.log(["a\"b\n\tc"], { s: "x", u: "\x01" });), 0,
             "[ \"a\\\"b\\n\\tc\" ] { s: \"x\", u: \"\\u0001\" }\n", "");
}

static void t_functions(void) {
  EXPECT_RUN(JS(class A {} class B extends A {}
                function foo() {} async function af() {}
                function* g() {}
                console.log(foo, () => {}, af, g, A, B, class {});
                console.log({ m() {}, f: Object.assign(() => {}, { p: 1 }) });),
             0,
             "[Function: foo] [Function (anonymous)] [AsyncFunction: af] "
             "[GeneratorFunction: g] [class A] [class B extends A] "
             "[class (anonymous)]\n"
             "{ m: [Function: m], f: [Function (anonymous)] { p: 1 } }\n",
             "");
}

static void t_arrays(void) {
  EXPECT_RUN(JS(const a = [1, 2]; a.extra = "x";
                console.log([1, 2, 3], [], [[]], [1, , 3, , , 6], a);
                console.log(new Array(5), [undefined, null]);),
             0,
             "[ 1, 2, 3 ] [] [ [] ] [ 1, <1 empty item>, 3, <2 empty items>, "
             "6 ] [ 1, 2, extra: \"x\" ]\n"
             "[ <5 empty items> ] [ undefined, null ]\n",
             "");
}

static void t_objects(void) {
  EXPECT_RUN(JS(console.log({ a: 1, "b-c": 2, $d: 3, [Symbol("s")]: 4 }, {});
                console.log(Object.create(null),
                            Object.assign(Object.create(null), { a: 1 }));
                const o = {};
                Object.defineProperty(o, "g", { get() { return 1; },
                                                enumerable: true });
                Object.defineProperty(o, "hidden", { value: 1 });
                console.log(o);),
             0,
             "{ a: 1, \"b-c\": 2, $d: 3, [Symbol(s)]: 4 } {}\n"
             "[Object: null prototype] {} [Object: null prototype] { a: 1 }\n"
             "{ g: [Getter] }\n",
             "");
}

static void t_class_instances(void) {
  EXPECT_RUN(JS(class Foo { constructor() { this.x = 1; this.y = [2]; } }
                class Empty {}
                class Bar extends Map {}
                console.log(new Foo(), new Empty(), new Bar([[1, 2]]));),
             0, "Foo { x: 1, y: [ 2 ] } Empty {} Bar(1) [Map] { 1 => 2 }\n",
             "");
}

static void t_nested(void) {
  EXPECT_RUN(JS(console.log({ a: { b: [1, { c: new Map([["k", true]]) }] },
                              s: new Set([[1], { d: null }]) });),
             0,
             "{\n"
             "  a: { b: [ 1, { c: Map(1) { \"k\" => true } } ] },\n"
             "  s: Set(2) { [ 1 ], { d: null } }\n"
             "}\n",
             "");
}

static void t_maps_sets(void) {
  EXPECT_RUN(JS(console.log(new Map([["a", 1]]), new Set([1, 2]), new Map(),
                            new Set());
                console.log(new Map([[{ k: 1 }, new Set(["v"])]]));
                console.log(new WeakMap(), new WeakSet());),
             0,
             "Map(1) { \"a\" => 1 } Set(2) { 1, 2 } Map(0) {} Set(0) {}\n"
             "Map(1) { { k: 1 } => Set(1) { \"v\" } }\n"
             "WeakMap { <items unknown> } WeakSet { <items unknown> }\n",
             "");
}

static void t_builtins(void) {
  EXPECT_RUN(
      JS(console.log(new Date(0), new Date(NaN), /a+b/gi);
         console.log(new Uint8Array([1, 2, 3]), new Float64Array(0),
                     new BigInt64Array([5n]));
         console.log(new Uint8Array([1, 255]).buffer);
         console.log([new Number(3), new String("ab"), new Boolean(false)]);),
      0,
      "1970-01-01T00:00:00.000Z Invalid Date /a+b/gi\n"
      "Uint8Array(3) [ 1, 2, 3 ] Float64Array(0) [] BigInt64Array(1) [ 5n ]\n"
      "ArrayBuffer { [Uint8Contents]: <01 ff>, byteLength: 2 }\n"
      "[ [Number: 3], [String: \"ab\"], [Boolean: false] ]\n",
      "");
}

static void t_promises(void) {
  EXPECT_RUN(JS(const r = Promise.reject(42); r.catch(() => {});
                console.log(Promise.resolve(1), new Promise(() => {}), r);
                console.log(Promise.resolve({ a: [1] }));),
             0,
             "Promise { 1 } Promise { <pending> } Promise { <rejected> 42 }\n"
             "Promise { { a: [ 1 ] } }\n",
             "");
}

static void t_circular(void) {
  EXPECT_RUN(JS(const a = { a: 1 }; a.self = a; a.list = [a];
                console.log(a);
                const x = { name: "x" }; const y = { name: "y", x }; x.y = y;
                console.log([x, y]);),
             0,
             "<ref *1> { a: 1, self: [Circular *1], list: [ [Circular *1] ] }\n"
             "[\n"
             "  <ref *1> { name: \"x\", y: { name: \"y\", x: [Circular *1] } "
             "},\n"
             "  <ref *2> { name: \"y\", x: <ref *1> { name: \"x\", y: "
             "[Circular *2] } }\n"
             "]\n",
             "");
}

static void t_depth(void) {
  EXPECT_RUN(JS(class Deep { constructor() { this.v = 1; } }
                console.log({ a: { b: { c: { d: { e: { f: 1 } } } } } });
                console.log([[[[[[1]]]]]]);
                console.log({ l1: { l2: { l3: { l4: { l5: new Deep() } } } } });
                console.dir({ a: { b: 1 } }, { depth: 0 });),
             0,
             "{ a: { b: { c: { d: { e: [Object] } } } } }\n"
             "[ [ [ [ [ [Array] ] ] ] ] ]\n"
             "{ l1: { l2: { l3: { l4: { l5: [Deep] } } } } }\n"
             "{ a: [Object] }\n",
             "");
}

static void t_many_items(void) {
  /* 105 items: the first 100, then a count; too wide for one line. */
  char want[1024];
  size_t n = snprintf(want, sizeof(want), "[\n");
  for (int i = 0; i < 100; i++) {
    n += snprintf(want + n, sizeof(want) - n, "  %d,\n", i);
  }
  snprintf(want + n, sizeof(want) - n, "  ... 5 more items\n]\n");
  EXPECT_RUN(JS(console.log(Array.from({ length: 105 }, (_, i) => i));), 0,
             want, "");
}

static void t_long_lines(void) {
  EXPECT_RUN(
      JS(console.log({ a: "x".repeat(63) });
         console.log({ a: "x".repeat(64) });
         console.log({ name: "isopool", tags: ["alpha", "beta", "gamma",
                       "delta", "epsilon", "zeta", "eta", "theta", "iota",
                       "kappa"], ok: true });),
      0,
      "{ a: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "\" }\n"
      "{\n"
      "  a: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "x\"\n"
      "}\n"
      "{\n"
      "  name: \"isopool\",\n"
      "  tags: [\n"
      "    \"alpha\",\n"
      "    \"beta\",\n"
      "    \"gamma\",\n"
      "    \"delta\",\n"
      "    \"epsilon\",\n"
      "    \"zeta\",\n"
      "    \"eta\",\n"
      "    \"theta\",\n"
      "    \"iota\",\n"
      "    \"kappa\"\n"
      "  ],\n"
      "  ok: true\n"
      "}\n",
      "");
}

static void t_errors(void) {
  js_run r;
  CHECK(run_js(JS(console.log(new Error("boom"));
                  const e = new RangeError("with code"); e.code = "X";
                  console.log(e);
                  console.log({ err: new TypeError("inner") });),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK(starts_with(r.out, "Error: boom\n    at file://"));
  CHECK_CONTAINS(r.out, "/main.js:1:");
  CHECK_CONTAINS(r.out, "\nRangeError: with code\n    at file://");
  CHECK_CONTAINS(r.out, " {\n  code: \"X\"\n}\n");
  CHECK_CONTAINS(r.out, "\n{\n  err: TypeError: inner\n      at file://");
  run_free(&r);
}

static void t_error_without_stack(void) {
  EXPECT_RUN(JS(const e = new Error("bare"); e.stack = undefined;
                console.log(e, [e]);
                const d = new DOMException("m", "DataCloneError");
                d.stack = undefined; console.log(d);),
             0,
             "[Error: bare] [ [Error: bare] ]\n"
             "[DOMException [DataCloneError]: m]\n",
             "");
}

static void t_uncaught_error(void) {
  js_run r;
  CHECK(run_js(JS(console.log("before"); throw new Error("uncaught boom");),
               &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "before\n");
  CHECK(starts_with(r.err, "error: Uncaught Error: uncaught boom\n    at "));
  CHECK_CONTAINS(r.err, "file://");
  run_free(&r);
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

/* ---- encoding ---- */

static void t_text_round_trip(void) {
  /* "h\u00e9llo \u20ac\U0001d11e" is 14 bytes of UTF-8. */
  EXPECT_RUN(JS(const s = "h" + String.fromCodePoint(0xe9, 0x6c, 0x6c, 0x6f,
                                                     0x20, 0x20ac, 0x1d11e);
                const enc = new TextEncoder();
                const b = enc.encode(s);
                console.log(enc.encoding, b.length, b.subarray(0, 3));
                const d = new TextDecoder();
                console.log(d.decode(b), d.decode(b) === s,
                            d.decode(b.buffer) === s, d.encoding, d.fatal);
                console.log(enc.encode().length, d.decode(),
                            d.decode(b.subarray(1, 3)));),
             0,
             "utf-8 14 Uint8Array(3) [ 104, 195, 169 ]\n"
             "h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e"
             " true true utf-8 false\n"
             "0  \xc3\xa9\n",
             "");
}

static void t_text_decoder_options(void) {
  EXPECT_RUN(
      JS(const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x41]);
         console.log(new TextDecoder().decode(bom).length,
                     new TextDecoder("utf-8", { ignoreBOM: true })
                         .decode(bom).length);
         console.log(new TextDecoder().decode(new Uint8Array([0x61, 0xff,
                                                              0x62])));
         for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
           try {
             new TextDecoder("utf-8", { fatal: true })
                 .decode(new Uint8Array(bytes));
             console.log("no error");
           } catch (e) { console.log(e.name); }
         }
         try { new TextDecoder("latin1"); } catch (e) {
           console.log(e.name);
         }
         console.log(new TextDecoder(" UTF8 ").encoding,
                     new TextDecoder("unicode-1-1-utf-8").encoding);),
      0,
      "1 2\na\xef\xbf\xbd" "b\nTypeError\nTypeError\nTypeError\nRangeError\n"
      "utf-8 utf-8\n",
      "");
}

static void t_text_streaming(void) {
  EXPECT_RUN(JS(const euro = new TextEncoder().encode(String.fromCodePoint(
                    0x20ac, 0x41));
                const d = new TextDecoder();
                const parts = [d.decode(euro.subarray(0, 1), { stream: true }),
                               d.decode(euro.subarray(1, 3), { stream: true }),
                               d.decode(euro.subarray(3), { stream: true }),
                               d.decode()];
                console.log(parts.map((p) => p.length));
                console.log(d.decode(euro.subarray(0, 2), { stream: true })
                                .length, d.decode().length);),
             0, "[ 0, 1, 1, 0 ]\n0 1\n", "");
}

static void t_encode_into(void) {
  EXPECT_RUN(JS(const enc = new TextEncoder();
                const buf = new Uint8Array(4);
                console.log(enc.encodeInto("a" + String.fromCodePoint(0x20ac)
                                           + "b", buf), buf);
                console.log(enc.encodeInto("abc", new Uint8Array(8)));),
             0,
             "{ read: 2, written: 4 } Uint8Array(4) [ 97, 226, 130, 172 ]\n"
             "{ read: 3, written: 3 }\n",
             "");
}

static void t_base64(void) {
  EXPECT_RUN(JS(console.log(btoa("hello"), atob("aGVsbG8="),
                            atob(" aGVs\nbG8 "), atob("aGVsbG8"), btoa(""));
                console.log(btoa(String.fromCharCode(255, 254, 0)),
                            atob("//4A").length);
                for (const bad of ["a", "ab=c", "a*bc", "aGVsbG8==="]) {
                  try { atob(bad); console.log("accepted", bad); } catch (e) {
                    console.log(e.name, e.code, e instanceof DOMException);
                  }
                }
                try { btoa(String.fromCharCode(0x20ac)); } catch (e) {
                  console.log(e.name, e instanceof Error);
                }),
             0,
             "aGVsbG8= hello hello hello \n"
             "//4A 3\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError true\n",
             "");
}

/* ---- structuredClone ---- */

static void t_structured_clone(void) {
  EXPECT_RUN(JS(const src = { m: new Map([["k", new Date(0)]]),
                              s: new Set([1]), list: [1, { x: 2 }] };
                src.self = src;
                const c = structuredClone(src);
                console.log(c !== src, c.self === c, c.m !== src.m,
                            c.m.get("k") instanceof Date,
                            c.m.get("k").getTime());
                console.log(c);),
             0,
             "true true true true 0\n"
             "<ref *1> {\n"
             "  m: Map(1) { \"k\" => 1970-01-01T00:00:00.000Z },\n"
             "  s: Set(1) { 1 },\n"
             "  list: [ 1, { x: 2 } ],\n"
             "  self: [Circular *1]\n"
             "}\n",
             "");
}

static void t_structured_clone_error(void) {
  EXPECT_RUN(JS(for (const v of [() => {}, { f() {} }, Symbol("s")]) {
                  try { structuredClone(v); console.log("cloned"); } catch (e) {
                    console.log(e.name, e.code, e instanceof DOMException,
                                e instanceof Error);
                  }
                }
                try { structuredClone(); } catch (e) { console.log(e.name); }),
             0,
             "DataCloneError 25 true true\nDataCloneError 25 true true\n"
             "DataCloneError 25 true true\nTypeError\n",
             "");
}

/* ---- events ---- */

static void t_event_target(void) {
  EXPECT_RUN(
      JS(const t = new EventTarget(); const log = [];
         function a(e) { log.push("a" + (e.target === t) + (this === t)); }
         t.addEventListener("x", a); t.addEventListener("x", a);
         t.addEventListener("x", () => log.push("once"), { once: true });
         t.addEventListener("x", { handleEvent(e) { log.push("obj"); } });
         t.addEventListener("x", () => log.push("capture"), true);
         console.log(t.dispatchEvent(new Event("x")), log.join(" "));
         log.length = 0; t.dispatchEvent(new Event("x"));
         console.log(log.join(" "));
         t.removeEventListener("x", a); log.length = 0;
         t.dispatchEvent(new Event("x")); console.log(log.join(" "));),
      0,
      "true capture atruetrue once obj\ncapture atruetrue obj\ncapture obj\n",
      "");
}

static void t_event(void) {
  EXPECT_RUN(
      JS(const t = new EventTarget();
         t.addEventListener("y", (e) => {
           console.log(e.eventPhase, e.currentTarget === t, e.cancelable);
           e.preventDefault(); e.stopImmediatePropagation();
         });
         t.addEventListener("y", () => console.log("not reached"));
         const ev = new Event("y", { cancelable: true });
         console.log(t.dispatchEvent(ev), ev.defaultPrevented, ev.eventPhase,
                     ev.currentTarget, ev.target === t, ev.type);
         const plain = new Event("z"); plain.preventDefault();
         console.log(plain.defaultPrevented, plain.bubbles,
                     typeof plain.timeStamp, Event.AT_TARGET);
         const ce = new CustomEvent("c", { detail: { k: 1 } });
         console.log(ce.detail, ce instanceof Event);
         try { new Event(); } catch (e) { console.log(e.name); }
         try { t.dispatchEvent({}); } catch (e) { console.log(e.name); }),
      0,
      "2 true true\nfalse true 0 null true y\nfalse false number 2\n"
      "{ k: 1 } true\nTypeError\nTypeError\n",
      "");
}

static void t_listener_throws(void) {
  /* The exception is reported as uncaught, but only after the other
   * listeners ran and dispatchEvent returned. */
  js_run r;
  CHECK(run_js(JS(const t = new EventTarget();
                  t.addEventListener("b", () => { throw new Error("bad"); });
                  t.addEventListener("b", () => console.log("second ran"));
                  console.log("returned", t.dispatchEvent(new Event("b")));),
               &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "second ran\nreturned true\n");
  CHECK(starts_with(r.err, "error: Uncaught Error: bad\n    at "));
  run_free(&r);
}

static void t_global_event_target(void) {
  EXPECT_RUN(JS(const seen = [];
                const f = (e) => seen.push(e.type + (e.target === globalThis));
                addEventListener("custom", f);
                globalThis.dispatchEvent(new Event("custom"));
                self.removeEventListener("custom", f);
                window.dispatchEvent(new Event("custom"));
                console.log(seen, globalThis instanceof EventTarget,
                            self === globalThis, window === globalThis);),
             0, "[ \"customtrue\" ] true true true\n", "");
}

static void t_load_unload(void) {
  EXPECT_RUN(JS(console.log("body");
                addEventListener("load", (e) => {
                  console.log("load", e.type, e.target === globalThis);
                  setTimeout(() => console.log("timer from load"), 0);
                });
                globalThis.onload = () => console.log("onload");
                addEventListener("unload", () => console.log("unload"));
                globalThis.onunload = () => console.log("onunload");
                Promise.resolve().then(() => console.log("microtask"));),
             0,
             "body\nmicrotask\nload load true\nonload\ntimer from load\n"
             "unload\nonunload\n",
             "");
}

/* ---- the rest of the global scope ---- */

static void t_globals(void) {
  EXPECT_RUN(JS(const names = ["console", "setTimeout", "setInterval",
                               "clearTimeout", "clearInterval",
                               "queueMicrotask", "structuredClone",
                               "TextEncoder", "TextDecoder", "atob", "btoa",
                               "DOMException", "performance", "Event",
                               "EventTarget", "self", "window"];
                console.log(names.filter((n) => !(n in globalThis)),
                            names.filter((n) => Object.getOwnPropertyDescriptor(
                                globalThis, n).enumerable));
                console.log(typeof __iso, "__iso" in globalThis);),
             0, "[] []\nundefined false\n", "");
}

static void t_performance(void) {
  EXPECT_RUN(JS(const a = performance.now(); const b = performance.now();
                console.log(typeof a, b >= a, a > 0);
                performance.mark("m");
                const m = performance.measure("x", "m");
                console.log(m.entryType, m.name, m.duration >= 0,
                            performance.getEntriesByType("mark").length);),
             0, "number true true\nmeasure x true 1\n", "");
}

static void t_time_origin(void) {
  /* __iso.timeOrigin is epoch ms when now() read 0, so the two add up to
   * the wall clock. */
  EXPECT_RUN(JS(const skew = performance.timeOrigin + performance.now()
                    - Date.now();
                console.log("timeOrigin + now() is Date.now():",
                            Math.abs(skew) < 1000);),
             0, "timeOrigin + now() is Date.now(): true\n", "");
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
    {"primitives", t_primitives},
    {"nested_strings", t_nested_strings},
    {"functions", t_functions},
    {"arrays", t_arrays},
    {"objects", t_objects},
    {"class_instances", t_class_instances},
    {"nested", t_nested},
    {"maps_sets", t_maps_sets},
    {"builtins", t_builtins},
    {"promises", t_promises},
    {"circular", t_circular},
    {"depth", t_depth},
    {"many_items", t_many_items},
    {"long_lines", t_long_lines},
    {"errors", t_errors},
    {"error_without_stack", t_error_without_stack},
    {"uncaught_error", t_uncaught_error},
    {"stderr_levels", t_stderr_levels},
    {"trace", t_trace},
    {"assert_count", t_assert_count},
    {"group", t_group},
    {"time", t_time},
    {"table", t_table},
    {"timer_order", t_timer_order},
    {"timer_deadline_order", t_timer_deadline_order},
    {"interval", t_interval},
    {"clear_timeout", t_clear_timeout},
    {"timer_args_ids", t_timer_args_ids},
    {"timer_throws", t_timer_throws},
    {"queue_microtask", t_queue_microtask},
    {"text_round_trip", t_text_round_trip},
    {"text_decoder_options", t_text_decoder_options},
    {"text_streaming", t_text_streaming},
    {"encode_into", t_encode_into},
    {"base64", t_base64},
    {"structured_clone", t_structured_clone},
    {"structured_clone_error", t_structured_clone_error},
    {"event_target", t_event_target},
    {"event", t_event},
    {"listener_throws", t_listener_throws},
    {"global_event_target", t_global_event_target},
    {"load_unload", t_load_unload},
    {"globals", t_globals},
    {"performance", t_performance},
    {"time_origin", t_time_origin},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  if (access(ISO_BIN_DIR "/isopool", X_OK) != 0) {
    fprintf(stderr, "test_console: %s/isopool is missing; build it first\n",
            ISO_BIN_DIR);
    return 1;
  }
  return iso_test_main(argc, argv, cases);
}
