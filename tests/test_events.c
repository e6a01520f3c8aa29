/* test_events.c: Event, CustomEvent, ErrorEvent and EventTarget
 * (bootstrap/prelude/50-events.js) and reportError (35-microtasks.js)
 * through `isopool run`: listeners and their options, a listener that
 * throws, globalThis as an EventTarget, event handler attributes, the
 * ErrorEvent reportError dispatches, and the load and unload events the
 * runtime dispatches; the details side by side with Deno.
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

static void t_event_details_as_deno(void) {
  /* the details Deno and the DOM standard agree on (Deno runs a target's
   * listeners in registration order, capture or not; the standard, and
   * isopool, run its capture listeners first: not compared here) */
  EXPECT_AS_DENO(
      JS(const e = new Event("foo", { cancelable: true });
         console.log(Object.getOwnPropertyNames(e), e.isTrusted, e.eventPhase,
                     e.srcElement, e.returnValue, e.cancelBubble, e.composedPath());
         console.log(Event.NONE, Event.CAPTURING_PHASE, Event.AT_TARGET,
                     Event.BUBBLING_PHASE, e.BUBBLING_PHASE);
         const t = new EventTarget(); const log = [];
         const h = { handleEvent(ev) { log.push("obj" + (this === h) + ev.eventPhase); } };
         t.addEventListener("foo", h); t.addEventListener("foo", h);
         t.addEventListener("foo", () => log.push("once"), { once: true });
         t.addEventListener("foo", (ev) => {
           ev.preventDefault(); log.push("passive" + ev.defaultPrevented);
         }, { passive: true });
         function r() { log.push("r"); }
         t.addEventListener("foo", r, true); t.removeEventListener("foo", r);
         t.addEventListener("foo", (ev) => log.push("path" + ev.composedPath().length));
         console.log(t.dispatchEvent(e), e.defaultPrevented, log.sort().join(","),
                     e.eventPhase, e.currentTarget, e.target === t, e.composedPath());
         t.removeEventListener("foo", r, { capture: true });
         log.length = 0; t.dispatchEvent(new Event("foo")); console.log(log.join(","));
         const t2 = new EventTarget(); const l2 = [];
         function a() { l2.push("a"); t2.removeEventListener("z", b); }
         function b() { l2.push("b"); }
         function c(ev) { l2.push("c"); ev.stopImmediatePropagation(); }
         t2.addEventListener("z", a); t2.addEventListener("z", b);
         t2.addEventListener("z", c); t2.addEventListener("z", () => l2.push("d"));
         t2.dispatchEvent(new Event("z")); console.log(l2.join(","));
         const se = new Event("s", { cancelable: true }); se.returnValue = false;
         se.cancelBubble = true;
         console.log(se.defaultPrevented, se.returnValue, se.cancelBubble);
         t2.addEventListener("s", () => console.log("not heard"));
         console.log(t2.dispatchEvent(se));
         const ce = new CustomEvent("c", { detail: { x: 1 } });
         console.log(ce.detail, ce instanceof Event);),
      "[] false 0 null true false []\n0 1 2 3 3\n"
      "true false objtrue2,once,passivefalse,path1,r 0 null true []\n"
      "objtrue2,passivefalse,path1\n"
      "a,c\ntrue false true\nfalse\n{ x: 1 } true\n");
}

static void t_capture_first(void) {
  /* at the target, capture listeners run before the others (the DOM
   * standard since 2021; Deno keeps registration order) */
  EXPECT_RUN(JS(const t = new EventTarget(); const log = [];
                t.addEventListener("x", () => log.push("bubble"));
                t.addEventListener("x", () => log.push("capture"), { capture: true });
                t.dispatchEvent(new Event("x"));
                const e = new Event("a"); e.initEvent("b", true, true);
                console.log(log.join(","), e.type, e.bubbles, e.cancelable,
                            new CustomEvent("c").detail, e.timeStamp > 0);),
             0, "capture,bubble b true true null true\n", "");
}

static void t_report_error(void) {
  /* reportError and a listener's exception dispatch an ErrorEvent on
   * globalThis; preventDefault (or onerror returning true) keeps them from
   * being reported as uncaught */
  EXPECT_AS_DENO(
      JS(addEventListener("error", (ev) => {
           console.log(ev.constructor.name, ev.message, "|", ev.error?.message,
                       typeof ev.filename, ev.lineno > 0, ev.colno > 0, ev.cancelable);
           ev.preventDefault();
         });
         const t = new EventTarget();
         t.addEventListener("w", () => { throw new Error("boom"); });
         t.addEventListener("w", () => console.log("after boom"));
         t.dispatchEvent(new Event("w"));
         reportError(new TypeError("reported"));
         reportError({ a: 1 }); reportError("plain");
         reportError(new DOMException("d", "AbortError"));
         globalThis.onerror = (ev) => { console.log("onerror", ev.message); return true; };
         reportError(1);
         try { reportError(); } catch (e) { console.log(e.name); }
         const ee = new ErrorEvent("error", { message: "m", error: 1, lineno: 3 });
         console.log(ee.message, ee.error, ee.lineno, ee.colno, ee.filename,
                     ee instanceof Event);),
      "ErrorEvent Uncaught Error: boom | boom string true true true\n"
      "after boom\n"
      "ErrorEvent Uncaught TypeError: reported | reported string true true true\n"
      "ErrorEvent Uncaught { a: 1 } | undefined string true true true\n"
      "ErrorEvent Uncaught \"plain\" | undefined string true true true\n"
      "ErrorEvent Uncaught AbortError: d | d string true true true\n"
      "ErrorEvent Uncaught 1 | undefined string true true true\n"
      "onerror Uncaught 1\nTypeError\n"
      "m 1 3 0  true\n");
}

static void t_report_error_uncaught(void) {
  /* not canceled: reported as uncaught, the run fails */
  js_run r;
  CHECK(run_js(JS(let seen = 0; addEventListener("error", () => seen++);
                  reportError(new Error("loud")); console.log("seen", seen);),
               &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "seen 1\n");
  CHECK(starts_with(r.err, "error: Uncaught Error: loud\n"));
  run_free(&r);
}

static void t_error_listener_throws(void) {
  /* an error listener that throws is reported at once, not dispatched
   * again */
  js_run r;
  CHECK(run_js(JS(addEventListener("error", (e) => { throw new Error("again"); });
                  reportError(new Error("first")); console.log("returned");),
               &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "returned\n");
  CHECK(starts_with(r.err, "error: Uncaught Error: again\n"));
  run_free(&r);
}

static void t_event_handler_attribute(void) {
  EXPECT_AS_DENO(JS(const c = new AbortController(); const log = [];
                    c.signal.addEventListener("abort", () => log.push("first"));
                    c.signal.onabort = () => log.push("old");
                    c.signal.addEventListener("abort", () => log.push("third"));
                    c.signal.onabort = function (e) { log.push("new" + (this === c.signal)); };
                    console.log(typeof c.signal.onabort);
                    c.abort(); console.log(log.join(","));
                    const d = new AbortController(); d.signal.onabort = () => log.push("x");
                    d.signal.onabort = null; d.abort(); console.log(log.length, d.signal.onabort);),
                 "function\nfirst,newtrue,third\n3 null\n");
}

/* ---- promise rejection events ---- */

/* Runs src under isopool and under Deno (when it can be had) and checks
 * that both exit 1 with stdout want_out, and that isopool's stderr starts
 * with want_err. */
#define EXPECT_FAIL_AS_DENO(src, want_out, want_err)  \
  do {                                                \
    js_run r_, d_;                                    \
    CHECK(run_js((src), &r_) == 0);                   \
    CHECK_EQ(r_.status, 1);                           \
    CHECK_STR(r_.out, (want_out));                    \
    CHECK(starts_with(r_.err, (want_err)));           \
    if (!starts_with(r_.err, (want_err))) {           \
      fprintf(stderr, "    stderr: %s\n", r_.err);    \
    }                                                 \
    if (run_deno((src), &d_) == 0) {                  \
      CHECK_EQ(d_.status, 1);                         \
      CHECK_STR(d_.out, (want_out));                  \
      run_free(&d_);                                  \
    }                                                 \
    run_free(&r_);                                    \
  } while (0)

static void t_promise_rejection_event(void) {
  EXPECT_AS_DENO(
      JS(const p = Promise.resolve(1);
         const e = new PromiseRejectionEvent("x", { promise: p, reason: 5, cancelable: true });
         console.log(e.promise === p, e.reason, e.cancelable, e.type, e instanceof Event,
                     String(e), PromiseRejectionEvent.name,
                     Object.getOwnPropertyNames(PromiseRejectionEvent.prototype));
         const e2 = new PromiseRejectionEvent("y", { promise: p });
         console.log(e2.reason, e2.cancelable, e2.bubbles, e2.defaultPrevented);
         const thenable = { then() {} };
         console.log(new PromiseRejectionEvent("z", { promise: thenable }).promise === thenable);
         const get = Object.getOwnPropertyDescriptor(PromiseRejectionEvent.prototype, "reason").get;
         try { get.call(new Event("x")); } catch (err) { console.log(err.name); }
         try { PromiseRejectionEvent("x", { promise: p }); } catch (err) { console.log(err.name); }
         const d = Object.getOwnPropertyDescriptor(globalThis, "PromiseRejectionEvent");
         console.log(d.writable, d.enumerable, d.configurable);
         class Sub extends PromiseRejectionEvent {}
         console.log(new Sub("s", { promise: p, reason: "r" }).reason);),
      "true 5 true x true [object PromiseRejectionEvent] PromiseRejectionEvent "
      "[ \"constructor\", \"promise\", \"reason\" ]\n"
      "undefined false false false\ntrue\nTypeError\nTypeError\n"
      "true false true\nr\n");
  /* inspected as Deno does (its timeStamp differs) */
  js_run r;
  CHECK(run_js(JS(console.log(new PromiseRejectionEvent("x", {
                    promise: Promise.resolve(1), reason: 5 }));),
               &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK(starts_with(r.out, "PromiseRejectionEvent {\n  bubbles: false,\n"));
  CHECK_CONTAINS(r.out, "  type: \"x\",\n  promise: Promise { 1 },\n"
                        "  reason: 5\n}\n");
  run_free(&r);
}

static void t_promise_rejection_event_init(void) {
  /* the init dictionary and its promise are required (WebIDL; Deno takes
   * anything) */
  EXPECT_RUN(JS(const tries = [[], ["x"], ["x", {}], ["x", { promise: 1 }],
                               ["x", { promise: null }], ["x", 5], ["x", undefined]];
                for (const args of tries) {
                  try { new PromiseRejectionEvent(...args); console.log("made"); }
                  catch (e) { console.log(e.name, e.message); }
                }
                console.log(PromiseRejectionEvent.length);),
             0,
             "TypeError Failed to construct 'PromiseRejectionEvent': 2 "
             "arguments required, but only 0 present.\n"
             "TypeError Failed to construct 'PromiseRejectionEvent': 2 "
             "arguments required, but only 1 present.\n"
             "TypeError Failed to construct 'PromiseRejectionEvent': Failed "
             "to read the 'promise' property from 'PromiseRejectionEventInit'"
             ": Required member is undefined.\n"
             "TypeError Failed to construct 'PromiseRejectionEvent': Failed "
             "to read the 'promise' property from 'PromiseRejectionEventInit'"
             ": The provided value is not of type 'object'.\n"
             "TypeError Failed to construct 'PromiseRejectionEvent': Failed "
             "to read the 'promise' property from 'PromiseRejectionEventInit'"
             ": The provided value is not of type 'object'.\n"
             "TypeError Failed to construct 'PromiseRejectionEvent': The "
             "provided value is not of type 'PromiseRejectionEventInit'.\n"
             "TypeError Failed to construct 'PromiseRejectionEvent': Failed "
             "to read the 'promise' property from 'PromiseRejectionEventInit'"
             ": Required member is undefined.\n"
             "2\n",
             "");
}

static void t_unhandled_rejection_prevented(void) {
  /* a listener that cancels the event keeps the program alive; the
   * events of one tick come one after another, their listeners'
   * microtasks after the last (as in Deno) */
  EXPECT_AS_DENO(
      JS(let p;
         addEventListener("unhandledrejection", (e) => {
           console.log(e.constructor.name, e.type, e.reason.message ?? e.reason,
                       e.promise === p || e.reason === 2, e.cancelable, e.isTrusted,
                       e.target === globalThis, e.eventPhase);
           e.preventDefault();
           queueMicrotask(() => console.log("microtask of", e.reason.message ?? e.reason));
         });
         console.log("start");
         p = Promise.reject(new Error("boom"));
         Promise.reject(2);
         setTimeout(() => console.log("after", Object.hasOwn(globalThis, "onunhandledrejection")), 100);),
      "start\n"
      "PromiseRejectionEvent unhandledrejection boom true true false true 2\n"
      "PromiseRejectionEvent unhandledrejection 2 true true false true 2\n"
      "microtask of boom\nmicrotask of 2\nafter true\n");
  /* the handler attribute, called after the listeners (isopool: always,
   * as onerror; Deno: in the order the listeners and the handler were
   * first set); an async function's rejection */
  EXPECT_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => console.log("listener"));
         globalThis.onunhandledrejection = (e) => {
           console.log("on", String(e.reason), e.defaultPrevented);
           e.preventDefault();
         };
         (async () => { throw new TypeError("async"); })();
         setTimeout(() => {
           Promise.reject(3); setTimeout(() => console.log("end"), 20);
         }, 5);),
      "listener\non TypeError: async false\nlistener\non 3 false\nend\n");
}

static void t_unhandled_rejection_not_prevented(void) {
  /* seen but not canceled: the error it is without listeners, and the
   * events after it are not dispatched */
  EXPECT_FAIL_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => console.log("seen", e.reason.message));
         Promise.reject(new Error("boom")); Promise.reject(new Error("second"));
         setTimeout(() => console.log("not reached"), 1000);),
      "seen boom\n", "error: Uncaught (in promise) Error: boom\n    at ");
  EXPECT_FAIL_AS_DENO(
      JS(globalThis.onunhandledrejection = (e) => { console.log("on", e.reason); return false; };
         Promise.reject(1); setTimeout(() => console.log("not reached"), 1000);),
      "on 1\n", "error: Uncaught (in promise) 1\n");
  /* a listener that handles the promise does not cancel the event */
  EXPECT_FAIL_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => { e.promise.catch(() => {}); });
         Promise.reject(7); setTimeout(() => console.log("not reached"), 1000);),
      "", "error: Uncaught (in promise) 7\n");
  /* no listener: as before */
  EXPECT_FAIL_AS_DENO(JS(Promise.reject(new RangeError("plain")); console.log("body");),
                      "body\n",
                      "error: Uncaught (in promise) RangeError: plain\n    at ");
}

static void t_unhandled_rejection_listener_throws(void) {
  /* reported as an uncaught exception (an error event first), canceled
   * or not */
  EXPECT_FAIL_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => {
           console.log("seen", String(e.reason)); e.preventDefault();
           throw new Error("in listener");
         });
         addEventListener("error", (e) => console.log("error event", e.message));
         Promise.reject(new Error("boom"));
         setTimeout(() => console.log("not reached"), 1000);),
      "seen Error: boom\nerror event Uncaught Error: in listener\n",
      "error: Uncaught Error: in listener\n    at ");
  /* unless an error listener cancels that in turn */
  EXPECT_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => {
           e.preventDefault(); throw new Error("in listener");
         });
         addEventListener("error", (e) => { console.log("error event", e.message); e.preventDefault(); });
         Promise.reject(1);
         setTimeout(() => console.log("end"), 100);),
      "error event Uncaught Error: in listener\nend\n");
}

static void t_rejection_handled(void) {
  /* a promise reported unhandled that gets a handler later: a
   * rejectionhandled event at the end of that tick, after its microtasks;
   * none for one handled before the end of its own tick */
  EXPECT_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => {
           console.log("unhandled", e.reason); e.preventDefault();
         });
         addEventListener("rejectionhandled", (e) => {
           console.log("handled", e.constructor.name, e.reason, e.cancelable, e.promise === p);
           queueMicrotask(() => console.log("microtask of handled"));
         });
         const p = Promise.reject(7);
         Promise.reject(8).catch(() => console.log("caught 8"));
         setTimeout(() => {
           p.catch(() => console.log("caught 7"));
           p.catch(() => console.log("caught 7 again"));
           Promise.resolve().then(() => Promise.resolve()).then(() => console.log("chain"));
           setTimeout(() => console.log("end"), 20);
         }, 10);),
      "caught 8\nunhandled 7\ncaught 7\ncaught 7 again\nchain\n"
      "handled PromiseRejectionEvent 7 false true\nmicrotask of handled\nend\n");
  /* handled while the events run, by another event's listener or its
   * own: still dispatched, then rejectionhandled (as in Deno) */
  EXPECT_AS_DENO(
      JS(let q;
         addEventListener("unhandledrejection", (e) => {
           console.log("unhandled", e.reason); e.preventDefault();
           if (e.reason === 1) { q.catch(() => console.log("q caught")); }
           if (e.reason === 3) { e.promise.catch(() => console.log("own caught")); }
         });
         addEventListener("rejectionhandled", (e) => console.log("handled", e.reason));
         Promise.reject(1); q = Promise.reject(2); Promise.reject(3);
         setTimeout(() => console.log("end"), 200);),
      "unhandled 1\nunhandled 2\nunhandled 3\nq caught\nown caught\n"
      "handled 2\nhandled 3\nend\n");
  /* globalThis.onrejectionhandled (HTML's; Deno has none) */
  EXPECT_RUN(JS(globalThis.onunhandledrejection = (e) => e.preventDefault();
                globalThis.onrejectionhandled = (e) => console.log("on", e.type, e.reason);
                const p = Promise.reject(4);
                setTimeout(() => p.catch(() => {}), 5);),
             0, "on rejectionhandled 4\n", "");
}

static void t_rejection_handled_listener_throws(void) {
  EXPECT_FAIL_AS_DENO(
      JS(addEventListener("unhandledrejection", (e) => e.preventDefault());
         addEventListener("rejectionhandled", (e) => {
           console.log("handled", e.reason); throw new Error("in handled");
         });
         const p = Promise.reject(7);
         setTimeout(() => {
           p.catch(() => {}); setTimeout(() => console.log("not reached"), 1000);
         }, 10);),
      "handled 7\n", "error: Uncaught Error: in handled\n    at ");
}

/* WebIDL's class strings of the web platform's instances, as Deno's
 * (navigator is the one left out: Deno has none, WebIDL says Navigator). */
static void t_class_strings(void) {
  EXPECT_AS_DENO(JS(
    const t = (v) => Object.prototype.toString.call(v);
    console.log(t(new Event("x")), t(new CustomEvent("x")), t(new ErrorEvent("x")),
                t(new EventTarget()),
                t(new PromiseRejectionEvent("x", { promise: Promise.resolve() })));
    console.log(t(new TextEncoder()), t(new TextDecoder()), t(performance),
                t(performance.mark("m")), t(new URLPattern({ pathname: "/a" })));
    console.log(t(new AbortController()), t(new Headers()), t(new URL("http://a/")),
                t(crypto), t(new DOMException()), t(new Blob([])));
  ), "[object Event] [object CustomEvent] [object ErrorEvent] [object EventTarget] "
     "[object PromiseRejectionEvent]\n"
     "[object TextEncoder] [object TextDecoder] [object Performance] "
     "[object PerformanceMark] [object URLPattern]\n"
     "[object AbortController] [object Headers] [object URL] [object Crypto] "
     "[object DOMException] [object Blob]\n");
}

// clang-format on

static const iso_test cases[] = {
    {"event_target", t_event_target},
    {"class_strings", t_class_strings},
    {"event", t_event},
    {"listener_throws", t_listener_throws},
    {"global_event_target", t_global_event_target},
    {"load_unload", t_load_unload},
    {"event_details_as_deno", t_event_details_as_deno},
    {"capture_first", t_capture_first},
    {"report_error", t_report_error},
    {"report_error_uncaught", t_report_error_uncaught},
    {"error_listener_throws", t_error_listener_throws},
    {"event_handler_attribute", t_event_handler_attribute},
    {"promise_rejection_event", t_promise_rejection_event},
    {"promise_rejection_event_init", t_promise_rejection_event_init},
    {"unhandled_rejection_prevented", t_unhandled_rejection_prevented},
    {"unhandled_rejection_not_prevented", t_unhandled_rejection_not_prevented},
    {"unhandled_rejection_listener_throws",
     t_unhandled_rejection_listener_throws},
    {"rejection_handled", t_rejection_handled},
    {"rejection_handled_listener_throws", t_rejection_handled_listener_throws},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
