/* test_events.c: Event, CustomEvent and EventTarget
 * (bootstrap/prelude/50-events.js) through `isopool run`: listeners and
 * their options, a listener that throws, globalThis as an EventTarget, and
 * the load and unload events the runtime dispatches.
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

// clang-format on

static const iso_test cases[] = {
    {"event_target", t_event_target},
    {"event", t_event},
    {"listener_throws", t_listener_throws},
    {"global_event_target", t_global_event_target},
    {"load_unload", t_load_unload},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
