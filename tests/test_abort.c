/* test_abort.c: AbortController and AbortSignal
 * (bootstrap/prelude/75-abort.js) through `isopool run`, most cases side
 * by side with Deno (EXPECT_AS_DENO): the abort event fired once,
 * onabort, reasons, throwIfAborted, AbortSignal.abort/timeout/any with
 * the dependent-signal rules, the signal option of addEventListener, a
 * timeout that does not keep the loop alive, and dependents held weakly.
 *
 * Each case writes a small ES module to a fresh temporary directory and
 * runs `isopool run main.js` (support/js_run.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_run.h"
#include "tap.h"

/* The cases are kept out of `make format` (js_run.h). */
// clang-format off

static void t_controller(void) {
  EXPECT_AS_DENO(
      JS(const c = new AbortController(); let n = 0;
         console.log(c.signal === c.signal, c.signal.aborted, c.signal.reason,
                     c.signal.onabort, c.signal instanceof EventTarget);
         c.signal.addEventListener("abort", (e) => {
           n++;
           console.log("event", e.type, e.isTrusted, e.target === c.signal,
                       e.cancelable, e.bubbles, c.signal.aborted);
         });
         c.signal.onabort = () => console.log("onabort after", n);
         c.abort(); c.abort("again");
         c.signal.addEventListener("abort", () => console.log("late"));
         const r = c.signal.reason;
         console.log(c.signal.aborted, r instanceof DOMException, r.name,
                     r.message, r.code, n);
         try { c.signal.throwIfAborted(); } catch (e) { console.log(e === r); }
         const c2 = new AbortController(); c2.abort(42);
         try { c2.signal.throwIfAborted(); } catch (e) { console.log("threw", e); }
         new AbortController().signal.throwIfAborted();
         console.log(String(c.signal), Object.prototype.toString.call(c));),
      "true false undefined null true\n"
      "event abort true true false false true\n"
      "onabort after 1\n"
      "true true AbortError The signal has been aborted 20 1\n"
      "true\nthrew 42\n[object AbortSignal] [object AbortController]\n");
}

static void t_controller_inspect(void) {
  EXPECT_AS_DENO(JS(const c = new AbortController(); console.log(c);
                    console.log(Object.getOwnPropertyNames(AbortController.prototype));),
                 "AbortController {\n"
                 "  signal: AbortSignal { aborted: false, reason: undefined, onabort: null }\n"
                 "}\n"
                 "[ \"constructor\", \"signal\", \"abort\" ]\n");
}

static void t_shape(void) {
  EXPECT_AS_DENO(
      JS(console.log(Object.getOwnPropertyNames(AbortSignal),
                     Object.getOwnPropertyNames(AbortSignal.prototype).length);
         for (const f of [() => new AbortSignal(),
                          () => AbortSignal.prototype.aborted,
                          () => AbortController.prototype.abort.call({}),
                          () => AbortSignal.any(),
                          () => AbortSignal.any([1]),
                          () => AbortSignal.any(1),
                          () => AbortSignal.timeout(),
                          () => AbortSignal.timeout(-1),
                          () => new EventTarget().addEventListener("x", () => {}, { signal: 1 })]) {
           try { f(); console.log("no throw"); } catch (e) { console.log(e.name); }
         }),
      "[ \"length\", \"name\", \"prototype\", \"any\", \"abort\", \"timeout\" ] 7\n"
      "TypeError\nTypeError\nTypeError\nTypeError\nTypeError\nTypeError\n"
      "TypeError\nTypeError\nTypeError\n");
}

static void t_static_abort(void) {
  EXPECT_AS_DENO(JS(const s = AbortSignal.abort();
                    console.log(s.aborted, s.reason.name, s.reason.code);
                    console.log(AbortSignal.abort(null).reason,
                                AbortSignal.abort("why").reason);
                    s.onabort = () => console.log("never");
                    s.addEventListener("abort", () => console.log("never"));),
                 "true AbortError 20\nnull why\n");
}

static void t_timeout(void) {
  EXPECT_AS_DENO(JS(const t0 = Date.now(); const s = AbortSignal.timeout(30);
                    console.log(s.aborted);
                    s.onabort = () => {
                      console.log("timeout", s.reason.name, s.reason.code,
                                  s.reason.message, Date.now() - t0 >= 25);
                      try { s.throwIfAborted(); } catch (e) { console.log(e === s.reason); }
                    };),
                 "false\n"
                 "timeout TimeoutError 23 The operation was aborted due to timeout true\n"
                 "true\n");
}

static void t_timeout_unref(void) {
  /* without abort listeners the timer does not keep the loop alive; a
   * listener makes it (Deno's rule), and removing it unrefs it again */
  js_run r;
  CHECK(run_js(JS(const s = AbortSignal.timeout(20000);
                  const f = () => console.log("never");
                  s.addEventListener("abort", f);
                  s.removeEventListener("abort", f);
                  s.onabort = f; s.onabort = null;
                  AbortSignal.timeout(0).addEventListener("abort", () => console.log("fired"));
                  console.log("end");),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "end\nfired\n");
  CHECK(r.secs < 10);
  run_free(&r);
}

static void t_any(void) {
  EXPECT_AS_DENO(
      JS(const a1 = new AbortController(), a2 = new AbortController();
         const any = AbortSignal.any([a1.signal, a2.signal]);
         const any2 = AbortSignal.any([any, a1.signal]);
         any2.onabort = () => console.log("any2", any2.reason, any.aborted);
         any.onabort = () => console.log("any", any.reason, any2.aborted);
         a1.signal.onabort = () => console.log("a1", any.aborted, any2.aborted);
         a2.abort("r2"); a1.abort("r1");
         console.log(any.reason, any2.reason, a1.signal.reason);
         console.log(AbortSignal.any([AbortSignal.abort("x"), a1.signal]).reason);
         console.log(AbortSignal.any([]).aborted);
         const t = AbortSignal.any([AbortSignal.timeout(10)]);
         t.addEventListener("abort", () => console.log("any timeout", t.reason.name));
         setTimeout(() => {}, 100);),
      "any r2 true\nany2 r2 true\na1 true true\nr2 r2 r1\nx\nfalse\n"
      "any timeout TimeoutError\n");
}

static void t_listener_signal(void) {
  EXPECT_AS_DENO(
      JS(const c = new AbortController(); const t = new EventTarget();
         t.addEventListener("x", () => console.log("x heard"), { signal: c.signal });
         t.dispatchEvent(new Event("x")); c.abort();
         t.dispatchEvent(new Event("x"));
         t.addEventListener("x", () => console.log("never"), { signal: c.signal });
         t.dispatchEvent(new Event("x"));
         console.log("done");),
      "x heard\ndone\n");
}

static void t_algorithm_throws(void) {
  /* a listener's exception does not stop the others nor the abort */
  js_run r;
  CHECK(run_js(JS(const c = new AbortController();
                  c.signal.addEventListener("abort", () => { throw new Error("bad"); });
                  c.signal.addEventListener("abort", () => console.log("second"));
                  c.abort(); console.log("aborted", c.signal.aborted);),
               &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "second\naborted true\n");
  CHECK(starts_with(r.err, "error: Uncaught Error: bad\n"));
  run_free(&r);
}

static void t_weak_dependents(void) {
  /* AbortSignal.any's signals are held weakly by their sources, unless
   * someone listens to them (then the sources keep them until they abort) */
  js_run r;
  CHECK(run_js_flag(
            "--v8-flags=--expose-gc",
            JS(const root = new AbortController();
               const tick = () => new Promise((r) => setTimeout(r, 0));
               const refs = [];
               for (let i = 0; i < 1000; i++) {
                 refs.push(new WeakRef(AbortSignal.any([root.signal])));
               }
               let heard = 0;
               const kept = (() => {
                 const s = AbortSignal.any([root.signal]);
                 s.addEventListener("abort", () => heard++);
                 return new WeakRef(s);
               })();
               const nested = (() => {
                 const s = AbortSignal.any([AbortSignal.any([root.signal])]);
                 s.onabort = () => heard++;
                 return new WeakRef(s);
               })();
               for (let i = 0; i < 3; i++) { await tick(); gc(); }
               console.log(refs.filter((r) => r.deref() === undefined).length,
                           kept.deref() !== undefined, nested.deref() !== undefined);
               root.abort(); console.log("heard", heard);),
            &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "1000 true true\nheard 2\n");
  CHECK_STR(r.err, "");
  run_free(&r);
}

// clang-format on

static const iso_test cases[] = {
    {"controller", t_controller},
    {"controller_inspect", t_controller_inspect},
    {"shape", t_shape},
    {"static_abort", t_static_abort},
    {"timeout", t_timeout},
    {"timeout_unref", t_timeout_unref},
    {"any", t_any},
    {"listener_signal", t_listener_signal},
    {"algorithm_throws", t_algorithm_throws},
    {"weak_dependents", t_weak_dependents},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
