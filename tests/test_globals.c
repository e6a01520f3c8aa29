/* test_globals.c: the rest of the global scope through `isopool run`:
 * structuredClone (bootstrap/prelude/35-microtasks.js: transfer, the
 * types V8 clones, DOMException, platform objects, Blob and File),
 * DOMException (10-domexception.js),
 * navigator (76-navigator.js), performance
 * (55-performance.js), and the globals the prelude installs and hides
 * (99-globals.js), those it makes on first need included (their names,
 * descriptors, and a replaced or deleted one).
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

/* The web APIs the prelude makes on a context's first need (lazy data
 * properties, bootstrap/README.md "Lazy parts"): the global scope's names
 * in the order the eager prelude had them, each listed before it is read,
 * and read as the eager ones were (a value, writable, not enumerable,
 * configurable), the descriptor read first too. */
static void t_lazy_globals(void) {
  EXPECT_RUN(JS(const lazy = ["console", "TextEncoder", "TextDecoder", "atob",
                              "btoa", "DOMException", "Event", "CustomEvent",
                              "ErrorEvent", "PromiseRejectionEvent",
                              "Performance", "PerformanceEntry",
                              "PerformanceMark", "PerformanceMeasure",
                              "performance", "Crypto", "crypto",
                              "SubtleCrypto", "CryptoKey", "URL",
                              "URLSearchParams", "URLPattern",
                              "AbortController", "AbortSignal", "Navigator",
                              "navigator", "fetch", "Blob", "Request",
                              "ReadableStream", "TextDecoderStream"];
                const names = Object.getOwnPropertyNames(globalThis).join(" ");
                const shown = lazy.map((n) => {
                  const d = Object.getOwnPropertyDescriptor(globalThis, n);
                  return `${n}:${typeof d.value}${d.writable ? "w" : ""}${d.enumerable ? "e" : ""}${d.configurable ? "c" : ""}`;
                });
                console.log(names);
                console.log(shown.join(" "));
                console.log(Object.getOwnPropertyNames(globalThis).join(" ") === names);),
             0,
             "Object Function Array Number parseFloat parseInt Infinity NaN "
             "undefined Boolean String Symbol Date Promise RegExp Error "
             "AggregateError EvalError RangeError ReferenceError SyntaxError "
             "TypeError URIError globalThis JSON Math Intl ArrayBuffer "
             "Uint8Array Int8Array Uint16Array Int16Array Uint32Array "
             "Int32Array Float32Array Float64Array Uint8ClampedArray "
             "BigUint64Array BigInt64Array DataView Map BigInt Set WeakMap "
             "WeakSet Proxy Reflect FinalizationRegistry WeakRef decodeURI "
             "decodeURIComponent encodeURI encodeURIComponent escape unescape "
             "eval isFinite isNaN console ErrorEvent PromiseRejectionEvent "
             "onerror CryptoKey URL URLSearchParams URLPattern AbortController "
             "AbortSignal Navigator navigator ReadableStream "
             "ReadableStreamDefaultReader ReadableStreamBYOBReader "
             "ReadableStreamBYOBRequest ReadableByteStreamController "
             "ReadableStreamDefaultController WritableStream "
             "WritableStreamDefaultWriter WritableStreamDefaultController "
             "TransformStream TransformStreamDefaultController "
             "ByteLengthQueuingStrategy CountQueuingStrategy TextEncoderStream "
             "TextDecoderStream Blob File Headers FormData Request Response "
             "CompressionStream DecompressionStream fetch setTimeout "
             "setInterval clearTimeout clearInterval queueMicrotask "
             "structuredClone reportError TextEncoder TextDecoder atob btoa "
             "DOMException Event CustomEvent EventTarget Window Performance "
             "PerformanceEntry PerformanceMark PerformanceMeasure performance "
             "Crypto SubtleCrypto crypto self window onload onunload "
             "onunhandledrejection onrejectionhandled Isopool SharedArrayBuffer "
             "Atomics WebAssembly\n"
             "console:objectwc TextEncoder:functionwc TextDecoder:functionwc "
             "atob:functionwc btoa:functionwc DOMException:functionwc "
             "Event:functionwc CustomEvent:functionwc ErrorEvent:functionwc "
             "PromiseRejectionEvent:functionwc Performance:functionwc "
             "PerformanceEntry:functionwc PerformanceMark:functionwc "
             "PerformanceMeasure:functionwc performance:objectwc "
             "Crypto:functionwc crypto:objectwc SubtleCrypto:functionwc "
             "CryptoKey:functionwc URL:functionwc URLSearchParams:functionwc "
             "URLPattern:functionwc AbortController:functionwc "
             "AbortSignal:functionwc Navigator:functionwc navigator:objectwc "
             "fetch:functionwc Blob:functionwc Request:functionwc "
             "ReadableStream:functionwc TextDecoderStream:functionwc\n"
             "true\n",
             "");
}

/* A lazy global assigned or deleted before its first read is gone for
 * user code, not for the prelude: a Request still parses its URL and has
 * an AbortSignal, atob still throws a DOMException, TextDecoderStream
 * still decodes, an abort still dispatches an Event (the prelude's
 * classes, one per context); with the startup snapshot and without. */
static void lazy_replaced(void) {
  EXPECT_RUN(JS(URL = 5;
                delete globalThis.URLSearchParams;
                delete globalThis.AbortSignal;
                delete globalThis.DOMException;
                delete globalThis.TextDecoder;
                globalThis.Event = null;
                console.log(URL, typeof URLSearchParams, "AbortSignal" in globalThis, Event);
                const r = new Request("http://a.test/x?y=1#z");
                console.log(r.url, r.signal.constructor.name, Object.prototype.toString.call(r.signal));
                let e;
                try { atob("*"); } catch (x) { e = x; }
                console.log(e.constructor.name, e.name, e.code, e instanceof Error);
                console.log(new TextDecoderStream().encoding, new URLPattern({ pathname: "/a" }).test("http://x.test/a"));
                const c = new AbortController();
                c.signal.addEventListener("abort", (ev) => console.log(ev.constructor.name, ev.isTrusted));
                c.abort();
                console.log(c.signal.aborted, c.signal.reason.constructor.name);),
             0,
             "5 undefined false null\n"
             "http://a.test/x?y=1#z AbortSignal [object AbortSignal]\n"
             "DOMException InvalidCharacterError 5 true\n"
             "utf-8 true\n"
             "Event true\n"
             "true DOMException\n",
             "");
  js_run r;
  CHECK(run_js(JS(delete globalThis.console; console.log(1);), &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK_CONTAINS(r.err,
                 "error: Uncaught ReferenceError: console is not defined\n");
  run_free(&r);
}

static void t_lazy_replaced(void) {
  lazy_replaced();
  setenv("ISOPOOL_SNAPSHOT", "0", 1);
  lazy_replaced();
  unsetenv("ISOPOOL_SNAPSHOT");
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

static void t_clone_transfer(void) {
  EXPECT_AS_DENO(
      JS(const ab = new ArrayBuffer(8); const u = new Uint8Array(ab); u[0] = 7;
         const r = structuredClone({ u, same: u }, { transfer: [ab] });
         console.log(ab.byteLength, u.length, r.u[0], r.u.buffer.byteLength,
                     r.same === r.u, r.u.buffer !== ab);
         for (const t of [[1], [ab], [new SharedArrayBuffer(4)], [new Uint8Array(2)]]) {
           try { structuredClone(1, { transfer: t }); console.log("ok"); } catch (e) {
             console.log(e.name, e.message);
           }
         }
         try { structuredClone(1, { transfer: 5 }); } catch (e) { console.log(e.name); }
         const big = new ArrayBuffer(1 << 20);
         const moved = structuredClone(big, { transfer: [big] });
         console.log(big.byteLength, moved.byteLength);),
      "0 0 7 8 true true\n"
      "TypeError Failed to execute 'structuredClone': 'transfer' of "
      "'StructuredSerializeOptions' (Argument 2), index 0 is not an object\n"
      "DataCloneError ArrayBuffer at index 0 is already detached\n"
      "DataCloneError Value not transferable\n"
      "DataCloneError Value not transferable\nTypeError\n0 1048576\n");
}

static void t_clone_types(void) {
  /* what V8's serializer clones, and how it refuses */
  EXPECT_AS_DENO(
      JS(const e = new RangeError("r", { cause: { n: 1 } }); e.extra = 5;
         const ce = structuredClone(e);
         console.log(ce instanceof RangeError, ce.message, ce.cause, ce.extra,
                     ce.stack === e.stack, Object.getOwnPropertyNames(ce));
         console.log(structuredClone(new Boolean(false)), structuredClone(Object(1n)),
                     structuredClone(/a/gi), structuredClone(new DataView(new ArrayBuffer(3))).byteLength,
                     structuredClone(new Float64Array([1.5]))[0], structuredClone(-0),
                     structuredClone([1, , 3]));
         const s = new SharedArrayBuffer(4); const c = structuredClone(s);
         new Uint8Array(c)[0] = 9; console.log(new Uint8Array(s)[0], c === s);
         for (const v of [Symbol(), { f() {} }, new WeakMap(), Promise.resolve()]) {
           try { structuredClone(v); } catch (x) { console.log(x.name, x.message, x.code); }
         }),
      "true r { n: 1 } undefined true [ \"stack\", \"message\", \"cause\" ]\n"
      "[Boolean: false] [BigInt: 1n] /a/gi 3 1.5 -0 [ 1, <1 empty item>, 3 ]\n"
      "9 false\n"
      "DataCloneError Symbol() could not be cloned. 25\n"
      "DataCloneError f() {} could not be cloned. 25\n"
      "DataCloneError #<WeakMap> could not be cloned. 25\n"
      "DataCloneError #<Promise> could not be cloned. 25\n");
}

/* Platform objects: a URL, URLSearchParams, Headers, Request or Response
 * given to structuredClone is a DataCloneError (the standard; Deno too);
 * one nested in an object is copied as a plain object, `{}`, as Deno does
 * (the standard says DataCloneError there too: 35-microtasks.js says why
 * only the value itself is checked). Blob and File are serializable:
 * copied with their bytes, type, name and lastModified, one copy per
 * original (as Deno). */
static void t_clone_platform(void) {
  EXPECT_AS_DENO(
      JS(const tryClone = (name, v) => {
           try { const c = structuredClone(v); console.log(name, "cloned", c); }
           catch (e) { console.log(name, e.name, e.message, e instanceof DOMException, e.code); }
         };
         tryClone("URL", new URL("http://a/b"));
         tryClone("URLSearchParams", new URLSearchParams("a=1"));
         tryClone("Headers", new Headers({ a: "1" }));
         tryClone("Request", new Request("http://a/"));
         tryClone("Response", new Response("x"));
         tryClone("nested", { u: new URL("http://a/"), h: [new Headers()] });
         const bytes = new Uint8Array(256);
         for (let i = 0; i < 256; i++) { bytes[i] = i; }
         const b = new Blob(["h\u00e9", bytes], { type: "Text/Plain" });
         const c = structuredClone({ a: b, again: b, s: b.slice(1, 3, "x/y"), e: new Blob() });
         console.log(c.a instanceof Blob, c.a === c.again, c.a !== b, c.a.size, c.a.type,
                     c.s.type, c.e.size);
         const got = new Uint8Array(await c.a.arrayBuffer());
         console.log(got.length, got[0], got[1], got[2], got[3], got[258], await c.s.text());
         const f = new File(["x\u20acy"], "n\u00e4me.txt", { type: "A/B", lastModified: 1234 });
         const g = structuredClone(f);
         console.log(g instanceof File, g instanceof Blob, g.name, g.type, g.size, g.lastModified,
                     await g.text(), Object.prototype.toString.call(g));
         console.log(g, [structuredClone(new Blob(["zz"]))]);),
      "URL DataCloneError Cannot clone object of unsupported type. true 25\n"
      "URLSearchParams DataCloneError Cannot clone object of unsupported type. true 25\n"
      "Headers DataCloneError Cannot clone object of unsupported type. true 25\n"
      "Request DataCloneError Cannot clone object of unsupported type. true 25\n"
      "Response DataCloneError Cannot clone object of unsupported type. true 25\n"
      "nested cloned { u: {}, h: [ {} ] }\n"
      "true true true 259 text/plain x/y 0\n"
      "259 104 195 169 0 255 \u00e9\n"
      "true true n\u00e4me.txt a/b 5 1234 x\u20acy [object File]\n"
      "File { name: \"n\u00e4me.txt\", size: 5, type: \"a/b\" } "
      "[ Blob { size: 2, type: \"\" } ]\n");
}

/* The streams given to structuredClone: a DataCloneError with the same
 * message as Deno's (they are not transferable here: no MessagePort). */
static void t_clone_streams(void) {
  EXPECT_AS_DENO(
      JS(for (const v of [new ReadableStream(), new WritableStream(), new TransformStream()]) {
           try { structuredClone(v); console.log("cloned"); }
           catch (e) { console.log(e.name, e.message, e.code); }
         }
         console.log(structuredClone({ s: Object.create(ReadableStream.prototype) }));),
      "DataCloneError Cannot clone object of unsupported type. 25\n"
      "DataCloneError Cannot clone object of unsupported type. 25\n"
      "DataCloneError Cannot clone object of unsupported type. 25\n"
      "{ s: {} }\n");
}

/* Where isopool follows the standard and Deno does not: a FormData is a
 * platform object that is not serializable (Deno copies it as `{}`). A
 * platform object's prototype without its brand is a plain object. */
static void t_clone_platform_standard(void) {
  EXPECT_RUN(JS(try { structuredClone(new FormData()); } catch (e) { console.log(e.name, e.code); }
                console.log(structuredClone(Object.create(URL.prototype)));),
             0, "DataCloneError 25\n{}\n", "");
}

static void t_clone_domexception(void) {
  EXPECT_AS_DENO(
      JS(const e = new DOMException("m", "AbortError");
         console.log(Object.getOwnPropertyNames(e), e instanceof Error,
                     Object.getPrototypeOf(DOMException.prototype) === Error.prototype,
                     Object.getPrototypeOf(DOMException) === Error,
                     e.stack.split("\n")[0], String(e), Object.prototype.toString.call(e));
         const c = structuredClone(e);
         console.log(c instanceof DOMException, c !== e, c.name, c.message, c.code,
                     c.stack === e.stack, Object.getOwnPropertyNames(c));
         const nested = structuredClone({ list: [e, e], t: new DOMException("t", "TimeoutError") });
         console.log(nested.list[0] === nested.list[1], nested.list[0].name, nested.t.code);
         class Sub extends DOMException {}
         const sub = new Sub("s", "DataError");
         console.log(sub instanceof Sub, sub instanceof DOMException, sub.name, sub.code);
         const cause = new DOMException("c", { name: "NotFoundError", cause: 1 });
         console.log(cause.name, cause.code, cause.cause, new DOMException().name,
                     new DOMException().message === "");),
      "[ \"stack\" ] true true false AbortError: m AbortError: m [object DOMException]\n"
      "true true AbortError m 20 true [ \"stack\" ]\n"
      "true AbortError 23\n"
      "true true DataError 0\n"
      "NotFoundError 8 1 Error true\n");
}

static void t_clone_duplicate_transfer(void) {
  /* the HTML standard: a buffer listed twice is a DataCloneError (Deno
   * ignores the duplicate), and nothing is detached; nor is anything when
   * the value cannot be serialized (Deno detaches first) */
  EXPECT_RUN(JS(const b = new ArrayBuffer(2);
                try { structuredClone(b, { transfer: [b, b] }); } catch (e) {
                  console.log(e.name, e.message, b.byteLength);
                }
                const keep = new ArrayBuffer(4);
                try { structuredClone({ keep, f() {} }, { transfer: [keep] }); } catch (e) {
                  console.log(e.name, keep.byteLength);
                }),
             0,
             "DataCloneError ArrayBuffer at index 1 is a duplicate of an "
             "earlier ArrayBuffer 2\nDataCloneError 4\n",
             "");
}

static void t_domexception_codes(void) {
  EXPECT_AS_DENO(
      JS(const names = ["IndexSizeError", "HierarchyRequestError", "WrongDocumentError",
                        "InvalidCharacterError", "NoModificationAllowedError",
                        "NotFoundError", "NotSupportedError", "InUseAttributeError",
                        "InvalidStateError", "SyntaxError", "InvalidModificationError",
                        "NamespaceError", "InvalidAccessError", "TypeMismatchError",
                        "SecurityError", "NetworkError", "AbortError", "URLMismatchError",
                        "QuotaExceededError", "TimeoutError", "InvalidNodeTypeError",
                        "DataCloneError", "EncodingError", "NotReadableError",
                        "UnknownError", "ConstraintError", "DataError",
                        "TransactionInactiveError", "ReadOnlyError", "VersionError",
                        "OperationError", "NotAllowedError", "Bogus"];
         console.log(names.map((n) => new DOMException("", n).code).join(","));
         const k = Object.keys(DOMException).filter((x) => x.endsWith("_ERR"));
         console.log(k.length, k.every((x) => DOMException[x] === DOMException.prototype[x]),
                     DOMException.DATA_CLONE_ERR, DOMException.VALIDATION_ERR);
         try { DOMException.prototype.name; } catch (e) { console.log(e.name); }),
      "1,3,4,5,7,8,9,10,11,12,13,14,15,17,18,19,20,21,22,23,24,25,0,0,0,0,0,0,0,0,0,0,0\n"
      "25 true 25 16\nTypeError\n");
}

// clang-format on

static const iso_test cases[] = {
    {"structured_clone", t_structured_clone},
    {"structured_clone_error", t_structured_clone_error},
    {"globals", t_globals},
    {"lazy_globals", t_lazy_globals},
    {"lazy_replaced", t_lazy_replaced},
    {"performance", t_performance},
    {"time_origin", t_time_origin},
    {"as_deno", t_as_deno},
    {"navigator", t_navigator},
    {"clone_transfer", t_clone_transfer},
    {"clone_types", t_clone_types},
    {"clone_domexception", t_clone_domexception},
    {"clone_platform", t_clone_platform},
    {"clone_platform_standard", t_clone_platform_standard},
    {"clone_streams", t_clone_streams},
    {"clone_duplicate_transfer", t_clone_duplicate_transfer},
    {"domexception_codes", t_domexception_codes},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
