/* test_inspect.c: how values print (bootstrap/prelude/15-inspect.js,
 * Deno.inspect without colors) through `isopool run`: primitives, strings
 * nested, functions and classes, arrays, objects, maps and sets, builtins,
 * promises, cycles, depth, long lists and lines, errors and an uncaught
 * one.
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
             "DOMException { message: \"m\", name: \"DataCloneError\", code: 25 }\n",
             "");
}

/* A DOMException as Deno shows it: a string stack as it is (no own
 * properties, no cause, nothing indented when nested), else its three
 * attributes. The stacks are set here, so both runtimes print the same. */
static void t_domexception(void) {
  EXPECT_AS_DENO(
      JS(const d = new DOMException("m", "AbortError");
         d.stack = "AbortError: m\n    at here"; d.foo = 1;
         console.log(d);
         console.log([d], { e: { d } });
         const c = new DOMException("c", { name: "NotFoundError", cause: 1 });
         c.stack = "S"; console.log(c, [c]);
         class MyEx extends DOMException {}
         const x = new MyEx("sub", "NotFoundError");
         Object.defineProperty(x, "stack", { value: 42 });
         const y = new DOMException("n"); delete y.stack;
         console.log(x, [y]);
         console.log(DOMException.prototype);
         console.log("%o", d);),
      "AbortError: m\n    at here\n"
      "[\n  AbortError: m\n    at here\n] {\n  e: {\n    d: AbortError: m\n"
      "    at here\n  }\n}\n"
      "S [ S ]\n"
      "MyEx { message: \"sub\", name: \"NotFoundError\", code: 8 } "
      "[ DOMException { message: \"n\", name: \"Error\", code: 0 } ]\n"
      "DOMException { message: [Getter], name: [Getter], code: [Getter] }\n"
      "AbortError: m\n    at here\n");
  js_run r;
  CHECK(run_js(JS(console.log(new DOMException("m", "AbortError"));
                  console.log([new DOMException("")]);),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK(starts_with(r.out, "AbortError: m\n    at file://"));
  CHECK_CONTAINS(r.out, "/main.js:1:");
  CHECK_CONTAINS(r.out, "\n[\n  Error\n    at file://");
  run_free(&r);
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

// clang-format on

static const iso_test cases[] = {
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
    {"domexception", t_domexception},
    {"uncaught_error", t_uncaught_error},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
