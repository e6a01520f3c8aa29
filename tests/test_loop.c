/* test_loop.c: the event loop: macrotask and microtask order, the run
 * command's load/unload, the seed's stall errors, V8's own work as pending
 * work (WebAssembly compilation, Atomics.waitAsync, FinalizationRegistry),
 * unhandled rejections and uncaught exceptions, the default export's
 * call, and the prelude's code cache shared by a process's isolates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"

static const char kModuleStall[] =
    "error: Module evaluation is still pending but there are no pending ops "
    "or dynamic imports. This situation is often caused by unresolved "
    "promise.";
static const char kDynStall[] =
    "error: Dynamically imported module evaluation is still pending but "
    "there are no pending ops. This situation is often caused by unresolved "
    "promise.";

static void t_hello_world(void) {
  rt_root();
  rt_write("main.js",
           "\"use strict\";\n"
           "function printNumber(input) { console.log(input); }\n"
           "function printString(input) { console.log(input); }\n"
           "printNumber(1);\n"
           "printString('One');\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK(r.value == NULL);
  CHECK_STR(rt_out(&r), "1\nOne\n<value>\n");
  rt_result_free(&r);
}

/* A timer is due its delay after it was set, by the clock: the 10 ms one
 * is set last, so it is due after the others however long the script
 * takes between the calls (set first, it came before a 0 ms one set more
 * than 10 ms later, which a loaded machine does). */
static void t_task_order(void) {
  rt_root();
  rt_write("main.js",
           "setTimeout(() => {\n"
           "  console.log('timeout 0');\n"
           "  Promise.resolve().then(() => console.log('micro in timeout'));\n"
           "}, 0);\n"
           "setTimeout(() => console.log('timeout 0 again'), 0);\n"
           "setTimeout(() => console.log('timeout 10'), 10);\n"
           "queueMicrotask(() => console.log('queueMicrotask'));\n"
           "Promise.resolve().then(() => console.log('then'));\n"
           "console.log('sync');\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(rt_out(&r),
            "sync\nqueueMicrotask\nthen\n<value>\ntimeout 0\n"
            "micro in timeout\ntimeout 0 again\ntimeout 10\n");
  rt_result_free(&r);
}

static void t_interval_and_clear(void) {
  rt_root();
  rt_write("main.js",
           "let n = 0;\n"
           "const id = setInterval(() => {\n"
           "  console.log('tick', ++n);\n"
           "  if (n === 3) clearInterval(id);\n"
           "}, 1);\n"
           "const never = setTimeout(() => console.log('never'), 5);\n"
           "clearTimeout(never);\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(rt_out(&r), "<value>\ntick 1\ntick 2\ntick 3\n");
  rt_result_free(&r);
}

static void t_load_unload_order(void) {
  rt_root();
  rt_write("main.js",
           "addEventListener('load', () => {\n"
           "  console.log('load');\n"
           "  setTimeout(() => console.log('timer from load'), 5);\n"
           "});\n"
           "addEventListener('unload', () => console.log('unload'));\n"
           "console.log('body');\n"
           "export default 'value';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"value\"");
  CHECK_STR(rt_out(&r), "body\n<value>\nload\ntimer from load\nunload\n");
  rt_result_free(&r);
}

static void t_default_function_called(void) {
  rt_root();
  rt_write("main.js",
           "export default async (a, b, c) => {\n"
           "  await new Promise((r) => setTimeout(r, 1));\n"
           "  return [typeof a, a, b, c];\n"
           "};\n");
  const char* argv[] = {"41", "{\"k\":true}", "not json"};
  rt_result r;
  rt_run_args("main.js", 3, argv, &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"number\",41,{\"k\":true},\"not json\"]");
  rt_result_free(&r);
}

static void t_module_stall(void) {
  rt_root();
  rt_write("main.js", "await new Promise(() => {});\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESTALL);
  CHECK_STR(r.error, kModuleStall);
  rt_result_free(&r);
}

static void t_value_stall(void) {
  rt_root();
  rt_write("main.js", "export default () => new Promise(() => {});\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESTALL);
  CHECK_STR(r.error, kModuleStall);
  rt_result_free(&r);
}

static void t_dyn_import_stall(void) {
  rt_root();
  rt_write("main.js", "import('./never.js');\n");
  rt_write("never.js", "await new Promise(() => {});\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESTALL);
  CHECK_STR(r.error, kDynStall);
  rt_result_free(&r);
}

static void t_pending_timer_is_not_a_stall(void) {
  rt_root();
  rt_write("main.js",
           "await new Promise((r) => setTimeout(r, 30));\n"
           "export default 'waited';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"waited\"");
  rt_result_free(&r);
}

/* ---- V8's own work keeps the loop alive (issue 12) ---- */

/* A WebAssembly module exporting add(i32, i32) -> i32, as JS source. */
#define WASM_ADD_BYTES                                                     \
  "new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0," \
  "7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11])"

/* Wasm compilation runs on V8's threads and lands as a task of its
 * platform: awaited at top level it is pending work, not a stall. */
static void t_wasm_awaited(void) {
  rt_root();
  rt_write("main.js",
           "const bytes = " WASM_ADD_BYTES
           ";\n"
           "const { instance } = await WebAssembly.instantiate(bytes);\n"
           "const m = await WebAssembly.compile(bytes);\n"
           "const i2 = await WebAssembly.instantiate(m);\n"
           "export default [instance.exports.add(2, 3), i2.exports.add(4, 5),\n"
           "  WebAssembly.Module.exports(m)[0].name];\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[5,9,\"add\"]");
  rt_result_free(&r);
}

/* The same in a dynamically imported module, and a compilation the
 * module body starts without awaiting it (a .then after the body). */
static void t_wasm_in_dyn_import(void) {
  rt_root();
  rt_write("main.js",
           "const { add } = await import('./wasm.js');\n"
           "WebAssembly.compile(" WASM_ADD_BYTES
           ").then((m) => console.log('later', m instanceof "
           "WebAssembly.Module));\n"
           "export default add(40, 2);\n");
  rt_write("wasm.js",
           "const { instance } = await WebAssembly.instantiate(" WASM_ADD_BYTES
           ");\n"
           "export const add = instance.exports.add;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "42");
  CHECK_STR(rt_out(&r), "<value>\nlater true\n");
  rt_result_free(&r);
}

/* Atomics.waitAsync with a timeout keeps the program alive until it times
 * out (V8 runs the timeout as a delayed task of its platform). */
static void t_wait_async_timeout(void) {
  rt_root();
  rt_write("main.js",
           "const ia = new Int32Array(new SharedArrayBuffer(4));\n"
           "const t0 = performance.now();\n"
           "const r = Atomics.waitAsync(ia, 0, 0, 60);\n"
           "const v = await r.value;\n"
           "const d = Object.getOwnPropertyDescriptor(Atomics, 'waitAsync');\n"
           "export default [r.async, v, performance.now() - t0 >= 55,\n"
           "  d.value.name, d.value.length, d.enumerable, d.writable];\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  /* the prelude's wrapper looks like the builtin */
  CHECK_STR(r.value, "[true,\"timed-out\",true,\"waitAsync\",4,false,true]");
  rt_result_free(&r);
}

/* Notified from a timer, with a long timeout and with none: the wait
 * settles "ok" when notified, and a long timeout no longer holds the
 * program once the wait settled. */
static void t_wait_async_notified(void) {
  rt_root();
  rt_write("main.js",
           "const ia = new Int32Array(new SharedArrayBuffer(8));\n"
           "const t0 = performance.now();\n"
           "const a = Atomics.waitAsync(ia, 0, 0, 60000);\n"
           "const b = Atomics.waitAsync(ia, 1, 0);\n"
           "setTimeout(() => Atomics.notify(ia, 0), 5);\n"
           "setTimeout(() => Atomics.notify(ia, 1), 10);\n"
           "export default [await a.value, await b.value];\n"
           "addEventListener('unload', () =>\n"
           "  console.log('fast', performance.now() - t0 < 20000));\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"ok\",\"ok\"]");
  CHECK_STR(rt_out(&r), "<value>\nfast true\n");
  rt_result_free(&r);
}

/* A wait without a timeout that nothing can notify is a stall, word for
 * word; so is one in a dynamic import. A timeout of 0 does not wait. */
static void t_wait_async_stall(void) {
  rt_root();
  rt_write("main.js",
           "const ia = new Int32Array(new SharedArrayBuffer(4));\n"
           "const z = Atomics.waitAsync(ia, 0, 0, 0);\n"
           "if (z.async !== false || z.value !== 'timed-out') throw z;\n"
           "await Atomics.waitAsync(ia, 0, 0).value;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESTALL);
  CHECK_STR(r.error, kModuleStall);
  rt_result_free(&r);
  rt_root();
  rt_write("main.js", "import('./never.js');\n");
  rt_write("never.js",
           "const ia = new Int32Array(new SharedArrayBuffer(4));\n"
           "await Atomics.waitAsync(ia, 0, 0, Infinity).value;\n");
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESTALL);
  CHECK_STR(r.error, kDynStall);
  rt_result_free(&r);
}

/* A FinalizationRegistry whose target lives keeps nothing alive: the run
 * ends (Node and Deno end too); the cleanup that gc() makes due is in
 * test_run.c (it needs --expose-gc). */
static void t_finalization_live_target(void) {
  rt_root();
  rt_write("main.js",
           "const fr = new FinalizationRegistry(() => console.log('no'));\n"
           "globalThis.keep = {};\n"
           "fr.register(globalThis.keep, 1);\n"
           "export default 'ends';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"ends\"");
  CHECK_STR(rt_out(&r), "<value>\n");
  rt_result_free(&r);
}

static void t_unhandled_rejection(void) {
  const char* root = rt_root();
  rt_write("main.js", "Promise.reject(new Error('boom'));\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EJS);
  char want[800];
  snprintf(want, sizeof(want),
           "error: Uncaught (in promise) Error: boom\n"
           "    at file://%s/main.js:1:16",
           root);
  CHECK_STR(r.error, want);
  rt_result_free(&r);
}

static void t_rejection_handled_later_in_tick(void) {
  rt_root();
  rt_write("main.js",
           "const p = Promise.reject(new Error('late'));\n"
           "await null;\n"
           "p.catch((e) => console.log('caught', e.message));\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(rt_out(&r), "caught late\n<value>\n");
  rt_result_free(&r);
}

static void t_rejection_in_timer(void) {
  rt_root();
  rt_write("main.js",
           "setTimeout(async () => { throw new TypeError('async boom'); }, "
           "1);\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EJS);
  CHECK_CONTAINS(r.error, "error: Uncaught (in promise) TypeError: async boom");
  rt_result_free(&r);
}

static void t_throw_in_timer(void) {
  const char* root = rt_root();
  rt_write("main.js",
           "setTimeout(() => {\n"
           "  throw new Error('timer boom');\n"
           "}, 1);\n"
           "setTimeout(() => console.log('not reached'), 50);\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EJS);
  char want[800];
  snprintf(want, sizeof(want),
           "error: Uncaught Error: timer boom\n    at file://%s/main.js:2:9",
           root);
  CHECK_CONTAINS(r.error, want);
  CHECK(strstr(rt_out(&r), "not reached") == NULL);
  rt_result_free(&r);
}

static void t_throw_in_microtask(void) {
  rt_root();
  rt_write("main.js",
           "queueMicrotask(() => { throw new RangeError('micro boom'); });\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK(r.status != 0);
  CHECK_CONTAINS(r.error, "error: Uncaught RangeError: micro boom");
  rt_result_free(&r);
}

static void t_top_level_throw(void) {
  rt_root();
  rt_write("main.js", "const x = 1;\nthrow new Error('top');\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EJS);
  CHECK_CONTAINS(r.error, "error: Uncaught Error: top\n    at file://");
  CHECK_CONTAINS(r.error, "main.js:2:7");
  rt_result_free(&r);
}

static void t_throw_non_error(void) {
  rt_root();
  rt_write("main.js", "export default () => { throw 'just a string'; };\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EJS);
  CHECK_STR(r.error, "error: Uncaught \"just a string\"");
  rt_result_free(&r);
}

static void t_unsendable_value(void) {
  rt_root();
  rt_write("main.js", "export default () => ({ f() {} });\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ETYPE);
  CHECK_CONTAINS(r.error, "the value.f is a function");
  rt_result_free(&r);
}

static void t_atomics_wait_refused(void) {
  /* it would block the loop every job of the isolate shares */
  rt_root();
  rt_write("main.js",
           "const a = new Int32Array(new SharedArrayBuffer(4));\n"
           "export default (() => {\n"
           "  try { Atomics.wait(a, 0, 0, 10); return 'waited'; }\n"
           "  catch (e) { return e.name; }\n"
           "})();\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"TypeError\"");
  rt_result_free(&r);
}

static void t_execute_global(void) {
  rt_init_process();
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = "/tmp"};
  CHECK_EQ(iso_rt_new(&ro, &rt), 0);
  iso_js_error err = {0};
  CHECK_EQ(iso_rt_execute(rt, "a.js", "globalThis.x = 40 + 2;", &err), 0);
  CHECK_EQ(iso_rt_execute(rt, "b.js", "if (x !== 42) throw 1;", &err), 0);
  CHECK_EQ(iso_rt_execute(rt, "c.js", "throw new TypeError('bad');", &err),
           ISO_EJS);
  CHECK_STR(err.name, "TypeError");
  CHECK_STR(err.message, "bad");
  iso_js_error_close(&err);
  CHECK_EQ(iso_rt_execute(rt, "d.js", "let = ;", &err), ISO_ESYNTAX);
  CHECK_CONTAINS(err.stack, "at d.js:1:");
  iso_js_error_close(&err);
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ(uv_loop_close(&loop), 0);
}

/* The prelude and its lazy parts are compiled once per isolate, and the
 * process's later isolates start from a V8 code cache the second one made
 * (isolate/v8s_context.cc, static_script): four runtimes in turn in one
 * process, each using lazy parts (a stack through one keeps its script
 * name), print the same. */
static void t_prelude_code_cache(void) {
  for (int i = 0; i < 4; i++) {
    rt_root();
    rt_write("main.js",
             "let where = '';\n"
             "try { new Response('', { status: 99 }); }\n"
             "catch (e) { where = e.stack.split('\\n')[1].includes("
             "'isopool:bootstrap/body'); }\n"
             "const latin1 = new TextDecoder('latin1').decode("
             "new Uint8Array([0xe9]));\n"
             "const digest = await crypto.subtle.digest('SHA-1', "
             "new Uint8Array(0));\n"
             "console.log(await new Response('x').text(), where, latin1,\n"
             "  digest.byteLength, typeof ReadableStream);\n");
    rt_result r;
    rt_run("main.js", &r);
    CHECK_EQ(r.status, 0);
    CHECK_STR(rt_out(&r), "x true \xc3\xa9 20 function\n<value>\n");
    rt_result_free(&r);
  }
}

/* A CPU budget with nobody to enforce it (no watchdog calls
 * iso_rt_cpu_stop here): the evaluation runs its JavaScript to its end
 * and then fails ISO_ECPULIMIT, its own entries' time counted across its
 * timer callbacks; one that only awaits (100 ms) spends none of its 80 ms.
 * (Without a watchdog an entry is charged its wall time: on 2 cores
 * shared with other builds, the awaiting job's short entries were once
 * charged over 20 ms.) */
static void t_cpu_budget_counted(void) {
  rt_root();
  rt_write(
      "main.js",
      "const spin = (ms) => { const end = Date.now() + ms;"
      " while (Date.now() < end) {} };\n"
      "spin(15);\n"
      "await new Promise((r) => setTimeout(() => { spin(15); r(); }, 1));\n"
      "export default 'spun';\n");
  rt_result r;
  iso_eval_opts eo = {.cpu_ms = 20};
  rt_run_opts("main.js", eo, &r);
  CHECK_EQ(r.status, ISO_ECPULIMIT);
  CHECK_CONTAINS(r.error ? r.error : "", "CPU time limit exceeded: 20 ms");
  rt_result_free(&r);

  rt_root();
  rt_write("main.js",
           "await new Promise((r) => setTimeout(r, 100));\n"
           "export default 'waited';\n");
  eo = (iso_eval_opts){.cpu_ms = 80};
  rt_run_opts("main.js", eo, &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"waited\"");
  rt_result_free(&r);
}

static const iso_test cases[] = {
    {"hello_world", t_hello_world},
    {"cpu_budget_counted", t_cpu_budget_counted},
    {"task_order", t_task_order},
    {"interval_and_clear", t_interval_and_clear},
    {"load_unload_order", t_load_unload_order},
    {"default_function_called", t_default_function_called},
    {"module_stall", t_module_stall},
    {"value_stall", t_value_stall},
    {"dyn_import_stall", t_dyn_import_stall},
    {"pending_timer_is_not_a_stall", t_pending_timer_is_not_a_stall},
    {"wasm_awaited", t_wasm_awaited},
    {"wasm_in_dyn_import", t_wasm_in_dyn_import},
    {"wait_async_timeout", t_wait_async_timeout},
    {"wait_async_notified", t_wait_async_notified},
    {"wait_async_stall", t_wait_async_stall},
    {"finalization_live_target", t_finalization_live_target},
    {"unhandled_rejection", t_unhandled_rejection},
    {"rejection_handled_later_in_tick", t_rejection_handled_later_in_tick},
    {"rejection_in_timer", t_rejection_in_timer},
    {"throw_in_timer", t_throw_in_timer},
    {"throw_in_microtask", t_throw_in_microtask},
    {"top_level_throw", t_top_level_throw},
    {"throw_non_error", t_throw_non_error},
    {"unsendable_value", t_unsendable_value},
    {"atomics_wait_refused", t_atomics_wait_refused},
    {"execute_global", t_execute_global},
    {"prelude_code_cache", t_prelude_code_cache},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
