/* test_globals.c: the rest of the global scope through `isopool run`:
 * structuredClone (bootstrap/prelude/35-microtasks.js), performance
 * (55-performance.js), and the globals the prelude installs and hides
 * (99-globals.js).
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

/* ---- the rest of the global scope ---- */

static void t_globals(void) {
  EXPECT_RUN(JS(const names = ["console", "setTimeout", "setInterval",
                               "clearTimeout", "clearInterval",
                               "queueMicrotask", "structuredClone",
                               "TextEncoder", "TextDecoder", "atob", "btoa",
                               "DOMException", "performance", "Event",
                               "EventTarget", "self", "window",
                               "AbortController", "AbortSignal", "ErrorEvent",
                               "navigator", "Navigator", "onerror"];
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

static void t_as_deno(void) {
  /* the same script under Deno prints the same lines (the suites of the
   * web platform compare this way, js_run.h) */
  EXPECT_AS_DENO(JS(const s = structuredClone({a: [1, 2n], m: new Map([[1, 2]])});
                    console.log(typeof s, s.a[1] === 2n, s.m.get(1));
                    console.log(btoa("isopool"), atob("aXNv"));
                    console.log(new TextDecoder().decode(
                        new TextEncoder().encode("caf\u00e9")).length);
                    console.log(typeof performance.now(), typeof crypto.randomUUID());),
                 "object true 2\naXNvcG9vbA== iso\n4\nnumber string\n");
}

static void t_navigator(void) {
  EXPECT_RUN(JS(console.log(navigator.userAgent.startsWith("isopool/"),
                            navigator.userAgent.split("/")[1].split(".").every((n) => n !== "" && n >= 0),
                            Number.isInteger(navigator.hardwareConcurrency),
                            navigator.hardwareConcurrency >= 1,
                            typeof navigator.language, navigator.languages[0] === navigator.language,
                            navigator.languages === navigator.languages,
                            Object.prototype.toString.call(navigator),
                            navigator instanceof Navigator);
                try { new Navigator(); } catch (e) { console.log(e.name); }
                try { Navigator.prototype.userAgent; } catch (e) { console.log(e.name); }),
             0, "true true true true string true true [object Navigator] true\n"
             "TypeError\nTypeError\n", "");
  /* the same keys and types as Deno's */
  EXPECT_AS_DENO(JS(console.log(typeof navigator.userAgent, typeof navigator.hardwareConcurrency,
                                typeof navigator.language, Array.isArray(navigator.languages));),
                 "string number string true\n");
}

// clang-format on

static const iso_test cases[] = {
    {"structured_clone", t_structured_clone},
    {"structured_clone_error", t_structured_clone_error},
    {"globals", t_globals},
    {"performance", t_performance},
    {"time_origin", t_time_origin},
    {"as_deno", t_as_deno},
    {"navigator", t_navigator},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
