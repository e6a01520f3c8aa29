/* test_service.c: `isopool serve` end to end, through the client library:
 * the job path. Many jobs at once on both workers, listeners (a second
 * one, TLS), the forms of eval and call jobs and their args, the warm
 * realm of calls, batches (mixed outcomes, the reply limit), rejections
 * with their stacks, unhandled rejections and stalls blamed on their own
 * job, unhandled rejections an "unhandledrejection" listener cancels,
 * console output in replies. Deadlines: test_service_deadlines.c;
 * limits and malformed input: test_service_limits.c; shutdown and exactly
 * one reply: test_service_shutdown.c. The prelude's lazy web APIs first
 * used in an eval job's fresh context and in a warm realm.
 *
 * Each case starts the real daemon on fixtures/service with the flags it
 * needs (support/service.h), talks to it only through ipc/iso_client.h,
 * and ends by sending SIGTERM and checking that the daemon exits 0.
 * Asynchronous jobs go through a tracker (tracker.h) that counts callbacks
 * per request id (ids are set by the test, msgpack uint32), so every case
 * also checks that each request got exactly one reply, and no reply came
 * for an id that was never sent.
 */
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_check.h"
#include "service.h"
#include "tap.h"
#include "tracker.h"

/* ---- jobs, forms and outcomes ------------------------------------------ */

/* 600 async calls in flight against two workers; all answered right, and
 * both workers did some. */
static void t_many_concurrent_jobs(void) {
  enum { N = 600 };
  svc s;
  if (svc_start(&s, NULL, 1024) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, N);
  for (int i = 0; i < N; i++) {
    char args[32];
    snprintf(args, sizeof args, "[%d]", i);
    iso_buf keep;
    iso_job j = call_job("double.js", NULL, args, &keep);
    int rc = tracker_submit(&t, s.c, i, j, 60000);
    iso_buf_close(&keep);
    if (rc != 0) {
      fprintf(stderr, "  submit %d: %s\n", i, iso_strerror(rc));
    }
    CHECK_EQ(rc, 0);
  }
  CHECK_EQ(tracker_sent(&t), N);
  CHECK(tracker_wait(&t, N, 30000));
  int per_worker[2] = {0, 0}, wrong = 0;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    char want[32];
    snprintf(want, sizeof want, "%d", i * 2);
    if (r->rc != 0 || r->status != ISO_STATUS_FULFILLED || r->value == NULL ||
        strcmp(r->value, want) != 0) {
      if (wrong++ < 5) {
        fprintf(stderr, "  job %d: rc %d status %d value %s (%s)\n", i, r->rc,
                r->status, r->value ? r->value : "-",
                r->message ? r->message : "");
      }
    }
    if (r->worker == 0 || r->worker == 1) {
      per_worker[r->worker]++;
    }
  }
  CHECK_EQ(wrong, 0);
  CHECK_EQ(per_worker[0] + per_worker[1], N);
  CHECK(per_worker[0] > 0);
  CHECK(per_worker[1] > 0);
  tracker_check_once(&t);
  tracker_free(&t);
  svc_stop(&s);
}

static void t_eval_and_call_forms(void) {
  svc s;
  if (svc_start(&s, NULL, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  /* eval with source */
  expect_value(&s, eval_src("export default 1 + 2;"), "3");
  /* eval of a file under the root */
  iso_job j = {.kind = ISO_JOB_EVAL, .module = "value.js"};
  expect_value(&s, j, "{\"file\":\"value.js\",\"answer\":42}");
  /* source without a module name: relative imports resolve at the root */
  expect_value(&s,
               eval_src("import { x } from './dep.js';\n"
                        "export default x * 10;"),
               "10");
  /* source with `module`: relative imports resolve where it names */
  j = eval_src("import { x } from './dep.js';\nexport default x * 10;");
  j.module = "sub/virtual.js";
  expect_value(&s, j, "70");
  /* a default export that is a function is called (here with no args) */
  expect_value(&s,
               eval_src("export default function (...a) {\n"
                        "  return ['called', a.length];\n}"),
               "[\"called\",0]");
  expect_value(&s, eval_src("export default async () => 'awaited';"),
               "\"awaited\"");
  /* JSON modules, both forms, from a source the client sent */
  expect_value(&s,
               eval_src("import a from './data.json' with { type: 'json' };\n"
                        "import b from './data.json' assert { type: 'json' };\n"
                        "export default [a.k, a === b];"),
               "[[1,2,3],true]");
  /* no default export: the value is nil */
  expect_value(&s, eval_src("export const a = 1;"), "null");
  /* every eval gets a fresh realm: no globals kept */
  const char* bump =
      "globalThis.bumps = (globalThis.bumps ?? 0) + 1;\n"
      "export default globalThis.bumps;";
  expect_value(&s, eval_src(bump), "1");
  expect_value(&s, eval_src(bump), "1");
  /* call of the default export with args, and of named exports */
  expect_value(&s, call_job("double.js", NULL, "[21]", &keep), "42");
  iso_buf_close(&keep);
  expect_value(&s, call_job("double.js", "triple", "[5]", &keep), "15");
  iso_buf_close(&keep);
  expect_value(&s, call_job("double.js", "add", "[2, 3]", &keep), "5");
  iso_buf_close(&keep);
  /* a module that does not exist is that job's failure, not a crash */
  iso_result r;
  call(&s, call_job("missing.js", NULL, NULL, &keep), 10000, &r);
  iso_buf_close(&keep);
  CHECK(r.status == ISO_STATUS_REJECTED || r.status == ISO_STATUS_ERROR);
  CHECK_CONTAINS(r.message, "missing.js");
  iso_result_close(&r);
  expect_value(&s, call_job("double.js", NULL, "[4]", &keep), "8");
  iso_buf_close(&keep);
  svc_stop(&s);
}

/* A call reads its export as an import would, on every call: a binding
 * the module changed since (a count, a function it replaced) is read
 * anew, whichever export the calls before read, and whichever specifier
 * names the module ("live.js", "./live.js": one warm realm, one state). */
static void t_call_reads_live_exports(void) {
  const char* flags[] = {"--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  static const struct {
    const char *module, *export_name, *want;
  } steps[] = {
      {"live.js", "count", "0"},          {"live.js", "bump", "1"},
      {"live.js", "count", "1"},          {"./live.js", "count", "1"},
      {"./live.js", "bump", "2"},         {"live.js", "count", "2"},
      {"live.js", "greet", "\"first\""},  {"live.js", "swap", "\"swapped\""},
      {"live.js", "greet", "\"second\""}, {"./live.js", "greet", "\"second\""},
      {"live.js", "count", "2"},
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    iso_buf keep;
    expect_value(&s,
                 call_job(steps[i].module, steps[i].export_name, NULL, &keep),
                 steps[i].want);
    iso_buf_close(&keep);
  }
  svc_stop(&s);
}

/* Packages (issue 12): a call job whose module imports a package from the
 * module root's node_modules (an "exports" map with conditions), an eval
 * importing one itself, an eval importing a CommonJS package, and the
 * resolver's refusals as that job's error (a Node built-in, by name; a package
 * that is not there, with where it looked); both in the pool processes the
 * service starts by default and with --processes 0. */
static void packages_on(const char* const* extra) {
  svc s;
  if (svc_start(&s, extra, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  expect_value(&s, call_job("uses_pkg.js", NULL, "[\"pool\"]", &keep),
               "[\"hello pool\",\"svc-pkg 1\"]");
  iso_buf_close(&keep);
  expect_value(&s, call_job("uses_pkg.js", NULL, "[\"again\"]", &keep),
               "[\"hello again\",\"svc-pkg 1\"]");
  iso_buf_close(&keep);
  expect_value(&s,
               eval_src("import { greet } from 'svc-pkg/greet';\n"
                        "export default greet('eval');"),
               "\"hello eval\"");
  /* a CommonJS package (relative require, JSON), and its require of a
   * Node built-in, named with the package */
  expect_value(&s,
               eval_src("import { shout, n } from 'svc-cjs';\n"
                        "export default [shout('cjs'), n];"),
               "[\"CJS!\",2]");
  iso_result r;
  call(&s, eval_src("import { fs } from 'svc-cjs';\nexport default fs();"),
       10000, &r);
  CHECK(r.status == ISO_STATUS_REJECTED || r.status == ISO_STATUS_ERROR);
  CHECK_CONTAINS(r.message,
                 "package \"svc-cjs\" needs the Node.js built-in "
                 "module \"fs\"");
  iso_result_close(&r);
  /* a CommonJS module stopped at its job's deadline: its JavaScript runs
   * in the synthetic module's evaluation steps, whose termination V8 must
   * see as pending; the job is answered `timeout` and the worker serves
   * on (the call of uses_pkg.js below) */
  iso_job spin = eval_src(
      "import { a } from 'svc-cjs/loop.js';\n"
      "export default a;");
  spin.timeout_ms = 300;
  call(&s, spin, 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
  iso_result_close(&r);
  call(&s, eval_src("import fs from 'node:fs';\nexport default 1;"), 10000, &r);
  CHECK(r.status == ISO_STATUS_REJECTED || r.status == ISO_STATUS_ERROR);
  CHECK_CONTAINS(r.message, "Cannot import \"node:fs\"");
  CHECK_CONTAINS(r.message, "Node.js built-in");
  iso_result_close(&r);
  call(&s, eval_src("import x from 'not-installed';\nexport default x;"), 10000,
       &r);
  CHECK(r.status == ISO_STATUS_REJECTED || r.status == ISO_STATUS_ERROR);
  CHECK_CONTAINS(r.message, "Cannot find package \"not-installed\"");
  CHECK_CONTAINS(r.message, "/node_modules");
  iso_result_close(&r);
  expect_value(&s, call_job("uses_pkg.js", NULL, "[\"still\"]", &keep),
               "[\"hello still\",\"svc-pkg 1\"]");
  iso_buf_close(&keep);
  svc_stop(&s);
}

static void t_packages(void) {
  packages_on(NULL);
  const char* in_front[] = {"--processes", "0", NULL};
  packages_on(in_front);
}

/* V8's own work keeps a job alive (issue 12): a call job whose module
 * (the warm realm's) awaits WebAssembly at top level, an eval job doing
 * the same, an eval awaiting Atomics.waitAsync (a timeout, a notify from
 * a timer), and the stall message still word for word for a wait nothing
 * can notify; in the sandboxed pool processes (V8's compilation threads
 * under seccomp) and with --processes 0. */
static void platform_work_on(const char* const* extra) {
  svc s;
  if (svc_start(&s, extra, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  expect_value(&s, call_job("wasm.js", NULL, "[20, 22]", &keep), "[42,44]");
  iso_buf_close(&keep);
  expect_value(&s, call_job("wasm.js", NULL, "[1, 2]", &keep), "[3,4]");
  iso_buf_close(&keep);
  expect_value(
      &s,
      eval_src("const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,"
               "2,127,127,1,127,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,"
               "0,32,1,106,11]);\n"
               "const m = await WebAssembly.compile(bytes);\n"
               "const { exports } = await WebAssembly.instantiate(m);\n"
               "export default exports.add(5, 6);"),
      "11");
  expect_value(&s,
               eval_src("const ia = new Int32Array(new SharedArrayBuffer(8));\n"
                        "const a = Atomics.waitAsync(ia, 0, 0, 20);\n"
                        "const b = Atomics.waitAsync(ia, 1, 0);\n"
                        "setTimeout(() => Atomics.notify(ia, 1), 5);\n"
                        "export default [await a.value, await b.value];"),
               "[\"timed-out\",\"ok\"]");
  iso_result r;
  call(&s,
       eval_src("const ia = new Int32Array(new SharedArrayBuffer(4));\n"
                "await Atomics.waitAsync(ia, 0, 0).value;"),
       10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_STR(r.message, STALL_MESSAGE);
  iso_result_close(&r);
  expect_value(&s, call_job("wasm.js", NULL, "[2, 3]", &keep), "[5,6]");
  iso_buf_close(&keep);
  svc_stop(&s);
}

static void t_platform_work(void) {
  platform_work_on(NULL);
  const char* in_front[] = {"--processes", "0", NULL};
  platform_work_on(in_front);
}

/* --import-map (issue 12): a call job's module and an eval import through
 * the service's map (fixtures/service/importmap.json: a bare specifier,
 * one mapped away from node_modules, a "/" prefix); a target outside the
 * module root is that job's error; in the sandboxed pool processes (which
 * get the map's text from the front: they cannot read it) and with
 * --processes 0. */
static void import_map_on(const char* procs) {
  const char* extra[] = {"--import-map", ISO_FIXTURES "/service/importmap.json",
                         "--processes", procs, NULL};
  svc s;
  if (svc_start(&s, extra, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  expect_value(&s, call_job("uses_map.js", NULL, NULL, &keep), "[1,7]");
  iso_buf_close(&keep);
  expect_value(&s,
               eval_src("import { x } from 'mapped/dep.js';\n"
                        "import { x as y } from 'mapped-dep';\n"
                        "export default [x, y];"),
               "[7,1]");
  iso_result r;
  call(&s, eval_src("import o from 'outside';\nexport default o;"), 10000, &r);
  CHECK(r.status == ISO_STATUS_REJECTED || r.status == ISO_STATUS_ERROR);
  CHECK_CONTAINS(r.message, "outside the module root");
  iso_result_close(&r);
  svc_stop(&s);
}

static void t_import_map(void) {
  import_map_on("1");
  import_map_on("0");
}

static void write_file(const char* dir, const char* name, const char* text) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* A worker keeps the package.json files it read (isolate/rt_pkg.c's cache)
 * but reads one again once it changed: on one worker, an eval importing a
 * package, then the package's "exports" edited, then a new eval (a fresh
 * realm on the same runtime) gets the new entry. */
static void t_packages_json_edited(void) {
  char root[] = "/tmp/isopool-pkg-XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s/node_modules", root);
  CHECK(mkdir(dir, 0755) == 0);
  snprintf(dir, sizeof(dir), "%s/node_modules/ver", root);
  CHECK(mkdir(dir, 0755) == 0);
  write_file(dir, "package.json", "{\"exports\": \"./v1.js\"}");
  write_file(dir, "v1.js", "export default 'v1';");
  write_file(dir, "v2.js", "export default 'v2';");
  const char* extra[] = {"--modules", root, "--workers", "1", NULL};
  svc s;
  if (svc_start(&s, extra, 0) == 0) {
    const char* src = "import v from 'ver'; export default v;";
    expect_value(&s, eval_src(src), "\"v1\"");
    expect_value(&s, eval_src(src), "\"v1\"");
    write_file(dir, "package.json", "{\"exports\": {\".\": \"./v2.js\"}}");
    expect_value(&s, eval_src(src), "\"v2\"");
  }
  svc_stop(&s);
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  CHECK(system(cmd) == 0);
}

/* docs/protocol.md: an eval's value is its default export, called with
 * `args` when it is a function, and awaited. */
static void t_eval_with_args(void) {
  svc s;
  if (svc_start(&s, NULL, 0) != 0) {
    svc_stop(&s);
    return;
  }
  /* on the wire, as any client would send it */
  iso_buf req = mp_of(
      "{\"v\":1,\"id\":\"ea\",\"kind\":\"eval\",\"args\":[2,3],"
      "\"source\":\"export default async (a, b) => [a + b, typeof b];\"}");
  iso_result r;
  int rc = raw(&s, req.data, req.len, &r);
  iso_buf_close(&req);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    if (r.status != ISO_STATUS_FULFILLED) {
      fprintf(stderr, "    eval with args: %s %s\n", r.code_name, r.message);
    }
    CHECK_JSON(r.id, r.id_len, "\"ea\"");
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(r.value, r.value_len, "[5,\"number\"]");
    iso_result_close(&r);
  }
  /* through the client library, with a file */
  iso_buf args = mp_of("[20]");
  iso_job j = {.kind = ISO_JOB_EVAL,
               .module = "double.js",
               .args = args.data,
               .args_len = args.len};
  rc = iso_client_call(s.c, &j, 10000, &r);
  if (rc != 0) {
    fprintf(stderr, "    iso_client_call(eval with args): %s\n",
            iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(r.value, r.value_len, "40");
    iso_result_close(&r);
  }
  iso_buf_close(&args);
  svc_stop(&s);
}

/* Documented: the warm realm of call jobs persists per worker, so module
 * state and globals survive between calls on the same worker. */
static void t_call_keeps_globals(void) {
  /* the calls below bring their module's source, which a service takes
   * only when told to */
  const char* flags[] = {"--workers", "1", "--allow-call-source", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  for (int i = 1; i <= 3; i++) {
    iso_buf keep;
    iso_result r;
    call(&s, call_job("counter.js", "next", NULL, &keep), 10000, &r);
    iso_buf_close(&keep);
    char want[32];
    snprintf(want, sizeof want, "[%d,%d]", i, i);
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(r.value, r.value_len, want);
    CHECK_EQ(r.stats.worker, 0);
    iso_result_close(&r);
  }
  /* a call may bring its module's source: it is compiled the first time,
   * then the warm module is what later calls get, whatever they send; a
   * source that failed to compile is taken again */
  static const struct {
    const char* source;
    iso_status status;
    const char* want;
  } sends[] = {
      {"export default () => 'first';", ISO_STATUS_FULFILLED, "\"first\""},
      {"export default () => 'second';", ISO_STATUS_FULFILLED, "\"first\""},
  };
  for (size_t i = 0; i < sizeof sends / sizeof sends[0]; i++) {
    iso_job j = {.kind = ISO_JOB_CALL,
                 .module = "virtual/made-by-client.js",
                 .source = sends[i].source};
    iso_result r;
    call(&s, j, 10000, &r);
    CHECK_EQ(r.status, sends[i].status);
    CHECK_JSON(r.value, r.value_len, sends[i].want);
    iso_result_close(&r);
  }
  iso_job bad = {.kind = ISO_JOB_CALL,
                 .module = "virtual/broken.js",
                 .source = "export default ( =>"};
  iso_result r;
  call(&s, bad, 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_STR(r.name, "SyntaxError");
  iso_result_close(&r);
  bad.source = "export default () => 'fixed';";
  call(&s, bad, 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK_JSON(r.value, r.value_len, "\"fixed\"");
  iso_result_close(&r);
  svc_stop(&s);
}

/* The prelude's lazy web APIs (bootstrap/README.md, "Lazy parts"), first
 * used in a fresh context (each eval job) and in a warm realm whose first
 * call touched none of them (a call job's second): the same answers, and
 * one class per context, so the objects the prelude made first (a
 * Request's signal, atob's DOMException, an abort event) are instances of
 * the globals read after them. */
static void t_lazy_apis_in_jobs(void) {
  const char* flags[] = {"--workers", "1", "--allow-call-source", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
#define LAZY_USE                                                   \
  "const sig = new Request('http://b.test/').signal;\n"            \
  "let e; try { atob('*'); } catch (x) { e = x; }\n"               \
  "const c = new AbortController(); let ev;\n"                     \
  "c.signal.onabort = (x) => { ev = x; }; c.abort();\n"            \
  "const u = new URL('http://a.test/p?q=1');\n"                    \
  "return [u.searchParams.get('q'), sig instanceof AbortSignal,\n" \
  "  e instanceof DOMException, e.name, ev instanceof Event,\n"    \
  "  new TextDecoder().decode(new TextEncoder().encode('ok')),\n"  \
  "  typeof performance.now(), crypto.randomUUID().length,\n"      \
  "  typeof fetch, new CustomEvent('x', { detail: 7 }).detail,\n"  \
  "  Object.getOwnPropertyDescriptor(globalThis, 'URL').writable];\n"
  const char* want =
      "[\"1\",true,true,\"InvalidCharacterError\",true,\"ok\",\"number\","
      "36,\"function\",7,true]";
  for (int i = 0; i < 2; i++) {
    expect_value(&s, eval_src("export default (() => {\n" LAZY_USE "})();"),
                 want);
  }
  const char* warm =
      "let n = 0;\n"
      "export default () => {\n"
      "  n += 1;\n"
      "  if (n === 1) {\n"
      "    return 'first';\n"
      "  }\n" LAZY_USE "};";
  iso_job j = {
      .kind = ISO_JOB_CALL, .module = "virtual/lazy.js", .source = warm};
  expect_value(&s, j, "\"first\"");
  expect_value(&s, j, want);
  expect_value(&s, j, want);
#undef LAZY_USE
  svc_stop(&s);
}

/* One batch: fulfilled, rejected, a bad element, a timeout, in order, each
 * with its own id. */
static void t_batch_mixed_outcomes(void) {
  svc s;
  if (svc_start(&s, NULL, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf req = mp_of(
      "{\"v\":1,\"batch\":["
      "{\"id\":\"ok\",\"kind\":\"call\",\"module\":\"double.js\","
      "\"args\":[21]},"
      "{\"id\":\"throws\",\"kind\":\"eval\","
      "\"source\":\"throw new Error('batch boom');\"},"
      "{\"id\":\"bad\",\"kind\":\"nope\"},"
      "{\"id\":\"slow\",\"kind\":\"eval\",\"timeout_ms\":100,"
      "\"source\":\"await new Promise(r => setTimeout(r, 5000));\"}"
      "]}");
  iso_buf reply;
  iso_buf_init(&reply);
  int64_t t0 = now_ms();
  int rc = iso_client_request_raw(s.c, req.data, req.len, 10000, &reply);
  int64_t took = now_ms() - t0;
  CHECK_EQ(rc, 0);
  CHECK(took < 3000); /* the timeout, not the 5 s sleep */
  iso_result out[4];
  rc = iso_proto_decode_batch_reply(reply.data, reply.len, out, 4);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_JSON(out[0].id, out[0].id_len, "\"ok\"");
    CHECK_EQ(out[0].status, ISO_STATUS_FULFILLED);
    CHECK_JSON(out[0].value, out[0].value_len, "42");

    CHECK_JSON(out[1].id, out[1].id_len, "\"throws\"");
    CHECK_EQ(out[1].status, ISO_STATUS_REJECTED);
    CHECK_STR(out[1].name, "Error");
    CHECK_STR(out[1].message, "batch boom");

    CHECK_JSON(out[2].id, out[2].id_len, "\"bad\"");
    CHECK_EQ(out[2].status, ISO_STATUS_ERROR);
    CHECK_EQ(out[2].code, ISO_CODE_BAD_REQUEST);
    CHECK_CONTAINS(out[2].message, "nope");

    CHECK_JSON(out[3].id, out[3].id_len, "\"slow\"");
    CHECK_EQ(out[3].status, ISO_STATUS_ERROR);
    CHECK_EQ(out[3].code, ISO_CODE_TIMEOUT);
    for (int i = 0; i < 4; i++) {
      iso_result_close(&out[i]);
    }
  }
  iso_buf_close(&reply);
  iso_buf_close(&req);

  /* the same through the typed API: ids numbered by the client */
  iso_buf a0 = mp_of("[3]"), a2 = mp_of("[\"batch\"]");
  iso_job jobs[3] = {
      {.kind = ISO_JOB_CALL,
       .module = "double.js",
       .export_name = "triple",
       .args = a0.data,
       .args_len = a0.len},
      eval_src("export default 'second';"),
      {.kind = ISO_JOB_CALL,
       .module = "thrower.js",
       .export_name = "fail",
       .args = a2.data,
       .args_len = a2.len},
  };
  iso_result res[3];
  rc = iso_client_batch(s.c, jobs, 3, 10000, res);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(res[0].status, ISO_STATUS_FULFILLED);
    CHECK_JSON(res[0].value, res[0].value_len, "9");
    CHECK_EQ(res[1].status, ISO_STATUS_FULFILLED);
    CHECK_JSON(res[1].value, res[1].value_len, "\"second\"");
    CHECK_EQ(res[2].status, ISO_STATUS_REJECTED);
    CHECK_STR(res[2].message, "bad batch");
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
      ids[i] = id_decode(res[i].id, res[i].id_len);
      CHECK(ids[i] > 0);
      iso_result_close(&res[i]);
    }
    CHECK(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
  }
  iso_buf_close(&a0);
  iso_buf_close(&a2);
  svc_stop(&s);
}

/* A batch's reply stays under the client's limit (--max-message 64 KiB,
 * and a client whose max_msg is the same): elements whose answers would
 * make it larger are answered too_large in their place, in order, the
 * others keep theirs; a batch that could not fit even then gets one
 * too_large error. Before, the whole reply was sent and the client lost
 * its connection. */
static void t_batch_reply_limit(void) {
  const char* flags[] = {"--max-message", "65536", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_client* c = NULL;
  iso_client_opts o = {.max_msg = 65536};
  CHECK_EQ(iso_client_new(s.url, &o, &c), 0);
  /* ~20 KB answers: three fit in 64 KiB with the others as too_large */
  const char* big = "export default 'x'.repeat(20000);";
  iso_job jobs[6] = {eval_src(big),
                     eval_src(big),
                     eval_src(big),
                     eval_src(big),
                     eval_src("export default 'small';"),
                     eval_src(big)};
  iso_result res[6];
  int rc = iso_client_batch(c, jobs, 6, 10000, res);
  if (rc != 0) {
    fprintf(stderr, "  iso_client_batch: %s\n", iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    static const int kept[6] = {1, 1, 1, 0, 1, 0};
    for (int i = 0; i < 6; i++) {
      if (kept[i]) {
        CHECK_EQ(res[i].status, ISO_STATUS_FULFILLED);
      } else {
        CHECK_EQ(res[i].status, ISO_STATUS_ERROR);
        CHECK_EQ(res[i].code, ISO_CODE_TOO_LARGE);
        CHECK_CONTAINS(res[i].message,
                       "the batch's reply would be over "
                       "65536 bytes (--max-message)");
      }
    }
    CHECK_JSON(res[4].value, res[4].value_len, "\"small\"");
    for (int i = 0; i < 6; i++) {
      iso_result_close(&res[i]);
    }
  }
  /* 400 elements whose too_large answers alone are over the limit: one
   * too_large error for the whole batch, in every entry */
  enum { MANY = 400 };
  iso_job* many = calloc(MANY, sizeof *many);
  iso_result* out = calloc(MANY, sizeof *out);
  for (int i = 0; i < MANY; i++) {
    many[i] = eval_src("export default 'y'.repeat(1000);");
  }
  rc = iso_client_batch(c, many, MANY, 20000, out);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_CONTAINS(out[0].message, "even with every element answered");
    for (int i = 0; i < MANY; i++) {
      CHECK_EQ(out[i].status, ISO_STATUS_ERROR);
      CHECK_EQ(out[i].code, ISO_CODE_TOO_LARGE);
      iso_result_close(&out[i]);
    }
  }
  free(many);
  free(out);
  /* the connection survived: the next batch is answered in full */
  iso_job two[2] = {eval_src("export default 1;"), eval_src(big)};
  rc = iso_client_batch(c, two, 2, 10000, res);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(res[0].status, ISO_STATUS_FULFILLED);
    CHECK_EQ(res[1].status, ISO_STATUS_FULFILLED);
    iso_result_close(&res[0]);
    iso_result_close(&res[1]);
  }
  iso_client_free(c);
  svc_stop(&s);
}

static void t_rejections_with_stacks(void) {
  svc s;
  if (svc_start(&s, NULL, 0) != 0) {
    svc_stop(&s);
    return;
  }
  char where[PATH_MAX + 64];
  iso_buf keep;
  iso_result r;
  /* thrown synchronously by a call */
  call(&s, call_job("thrower.js", "fail", "[\"thing\"]", &keep), 10000, &r);
  iso_buf_close(&keep);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_STR(r.name, "TypeError");
  CHECK_STR(r.message, "bad thing");
  CHECK_CONTAINS(r.stack, "TypeError: bad thing");
  CHECK_CONTAINS(r.stack, "file://");
  snprintf(where, sizeof where, "file://%s/thrower.js:4:9", fixtures_real());
  CHECK_CONTAINS(r.stack, where);
  iso_result_close(&r);
  /* an async function that throws after a timer */
  call(&s, call_job("thrower.js", "failLater", NULL, &keep), 10000, &r);
  iso_buf_close(&keep);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_STR(r.name, "RangeError");
  CHECK_STR(r.message, "later");
  snprintf(where, sizeof where, "file://%s/thrower.js:8:9", fixtures_real());
  CHECK_CONTAINS(r.stack, where);
  iso_result_close(&r);
  /* eval source: the stack names the module it was given */
  iso_job j = eval_src("const a = 1;\n  throw new SyntaxError('no: ' + a);");
  j.module = "sub/named.js";
  call(&s, j, 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_STR(r.name, "SyntaxError");
  CHECK_STR(r.message, "no: 1");
  snprintf(where, sizeof where, "file://%s/sub/named.js:2:9", fixtures_real());
  CHECK_CONTAINS(r.stack, where);
  iso_result_close(&r);
  /* a thrown non-Error still rejects */
  call(&s, eval_src("throw 'just a string';"), 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_CONTAINS(r.message, "just a string");
  iso_result_close(&r);
  svc_stop(&s);
}

/* An unhandled rejection and the stall both become their own job's
 * rejection; concurrent jobs on the same (only) worker succeed. Eval jobs
 * (a realm each). */
static void t_unhandled_and_stall_eval(void) {
  const char* flags[] = {"--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 4);
  iso_buf keep;
  tracker_submit(&t, s.c, 0,
                 eval_src("Promise.reject(new Error('nobody handles this'));\n"
                          "await new Promise((r) => setTimeout(r, 50));\n"
                          "export default 'A';"),
                 10000);
  tracker_submit(&t, s.c, 1, call_job("sleep.js", NULL, "[200, \"B\"]", &keep),
                 10000);
  iso_buf_close(&keep);
  tracker_submit(&t, s.c, 2,
                 eval_src("await new Promise(() => {});\nexport default 'C';"),
                 10000);
  tracker_submit(&t, s.c, 3,
                 eval_src("await new Promise((r) => setTimeout(r, 200));\n"
                          "export default 'D';"),
                 10000);
  CHECK(tracker_wait(&t, 4, 10000));
  CHECK_EQ(t.r[0].status, ISO_STATUS_REJECTED);
  CHECK_CONTAINS(t.r[0].message, "nobody handles this");
  CHECK_EQ(t.r[0].worker, 0);
  CHECK_EQ(t.r[1].status, ISO_STATUS_FULFILLED);
  CHECK_STR(t.r[1].value, "\"B\"");
  CHECK_EQ(t.r[2].status, ISO_STATUS_REJECTED);
  CHECK_STR(t.r[2].message, STALL_MESSAGE);
  CHECK_EQ(t.r[3].status, ISO_STATUS_FULFILLED);
  CHECK_STR(t.r[3].value, "\"D\"");
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(t.r[i].worker, 0);
  }
  tracker_check_once(&t);
  tracker_free(&t);
  /* a rejection left in the tick that produced the value still fails the
   * job (as it fails `isopool run`) */
  iso_result r;
  call(&s,
       eval_src("Promise.reject(new Error('left behind'));\n"
                "export default 'value';"),
       10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_CONTAINS(r.message, "left behind");
  iso_result_close(&r);
  svc_stop(&s);
}

/* The same with call jobs, which share the worker's warm realm: the job
 * that left the rejection (or stalled) fails; a concurrent call on the same
 * worker must not be blamed for it. */
static void t_unhandled_and_stall_call(void) {
  const char* flags[] = {"--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 6);
  iso_buf keep;
  /* twice: the culprit waits 50 ms after the rejection, or returns at
   * once; the sleeper goes first, so it is in flight when it happens */
  for (int round = 0; round < 2; round++) {
    int culprit = round * 2, sleeper = round * 2 + 1;
    tracker_submit(&t, s.c, sleeper,
                   call_job("sleep.js", NULL, "[300, \"B\"]", &keep), 10000);
    iso_buf_close(&keep);
    sleep_ms(30);
    tracker_submit(&t, s.c, culprit,
                   round == 0
                       ? call_job("unhandled.js", "lose", "[50]", &keep)
                       : call_job("unhandled.js", "loseNow", NULL, &keep),
                   10000);
    iso_buf_close(&keep);
    CHECK(tracker_wait(&t, round * 2 + 2, 10000));
    rec* c = &t.r[culprit];
    rec* b = &t.r[sleeper];
    if (c->status != ISO_STATUS_REJECTED || b->status != ISO_STATUS_FULFILLED) {
      fprintf(stderr,
              "    round %d: the culprit got %s %s, the sleeper "
              "got %s %s\n",
              round,
              c->status == ISO_STATUS_FULFILLED ? "fulfilled" : "rejected",
              c->status == ISO_STATUS_FULFILLED ? c->value : c->message,
              b->status == ISO_STATUS_FULFILLED ? "fulfilled" : "rejected",
              b->status == ISO_STATUS_FULFILLED ? b->value : b->message);
    }
    CHECK_EQ(c->status, ISO_STATUS_REJECTED);
    CHECK_CONTAINS(c->message, "nobody handles this");
    CHECK_EQ(b->status, ISO_STATUS_FULFILLED);
    CHECK_STR(b->value, "\"B\"");
  }
  /* a call that stalls, next to a call waiting on a timer */
  tracker_submit(&t, s.c, 5, call_job("sleep.js", NULL, "[200, \"D\"]", &keep),
                 10000);
  iso_buf_close(&keep);
  tracker_submit(&t, s.c, 4, call_job("unhandled.js", "stall", NULL, &keep),
                 10000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 6, 10000));
  CHECK_EQ(t.r[4].status, ISO_STATUS_REJECTED);
  CHECK_STR(t.r[4].message, STALL_MESSAGE);
  CHECK_EQ(t.r[5].status, ISO_STATUS_FULFILLED);
  CHECK_STR(t.r[5].value, "\"D\"");
  tracker_check_once(&t);
  tracker_free(&t);
  /* the worker goes on serving calls */
  expect_value(&s, call_job("double.js", NULL, "[6]", &keep), "12");
  iso_buf_close(&keep);
  svc_stop(&s);
}

static void check_log(const iso_result* r,
                      size_t i,
                      iso_log_level level,
                      const char* text) {
  CHECK(i < r->nlogs);
  if (i < r->nlogs) {
    CHECK_EQ(r->logs[i].level, level);
    CHECK_STR(r->logs[i].text, text);
  }
}

static void t_logs(void) {
  svc s;
  if (svc_start(&s, NULL, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_result r;
  call(&s,
       eval_src("console.log('hello', 1);\n"
                "console.warn('careful');\n"
                "console.info('fyi');\n"
                "console.error('bad');\n"
                "console.debug('dbg');\n"
                "export default 0;"),
       10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK_EQ(r.nlogs, 5);
  check_log(&r, 0, ISO_LOG_LOG, "hello 1");
  check_log(&r, 1, ISO_LOG_WARN, "careful");
  check_log(&r, 2, ISO_LOG_INFO, "fyi");
  check_log(&r, 3, ISO_LOG_ERROR, "bad");
  check_log(&r, 4, ISO_LOG_DEBUG, "dbg");
  iso_result_close(&r);
  /* a call job's own output */
  iso_buf keep;
  call(&s, call_job("logs.js", "chatty", "[3]", &keep), 10000, &r);
  iso_buf_close(&keep);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK_EQ(r.nlogs, 3);
  check_log(&r, 0, ISO_LOG_LOG, "log line 3");
  check_log(&r, 1, ISO_LOG_WARN, "warn line");
  check_log(&r, 2, ISO_LOG_ERROR, "error line");
  iso_result_close(&r);
  /* logs come back with a rejection too */
  call(&s, eval_src("console.log('before');\nthrow new Error('after');"), 10000,
       &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_EQ(r.nlogs, 1);
  check_log(&r, 0, ISO_LOG_LOG, "before");
  iso_result_close(&r);
  svc_stop(&s);
}

/* An unhandled rejection that an "unhandledrejection" listener cancels
 * (preventDefault) is no error: the job goes on and is fulfilled; one it
 * does not cancel fails its job as before. In an eval job's realm and in
 * the warm realm of calls, where the listener runs for the job that
 * rejected (its output is that job's). A listener that never returns is
 * stopped at the job's deadline, and the worker goes on. */
static void t_unhandled_prevented(void) {
  const char* flags[] = {"--workers", "1", "--allow-call-source", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  static const char kListen[] =
      "addEventListener('unhandledrejection', (e) => {\n"
      "  console.log('seen', e.reason.message ?? e.reason);\n"
      "  if (e.reason.message === 'quiet' || e.reason === 'quiet') {\n"
      "    e.preventDefault();\n"
      "  }\n"
      "});\n";
  char src[1024];
  iso_result r;
  snprintf(src, sizeof src,
           "%sPromise.reject(new Error('quiet'));\n"
           "await new Promise((r) => setTimeout(r, 20));\n"
           "export default 'kept';",
           kListen);
  call(&s, eval_src(src), 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK_JSON(r.value, r.value_len, "\"kept\"");
  CHECK_EQ(r.nlogs, 1);
  check_log(&r, 0, ISO_LOG_LOG, "seen quiet");
  iso_result_close(&r);
  snprintf(src, sizeof src,
           "%sPromise.reject(new Error('loud'));\n"
           "await new Promise((r) => setTimeout(r, 20));\n"
           "export default 'lost';",
           kListen);
  call(&s, eval_src(src), 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_CONTAINS(r.message, "loud");
  CHECK_EQ(r.nlogs, 1);
  check_log(&r, 0, ISO_LOG_LOG, "seen loud");
  iso_result_close(&r);
  /* calls: the warm realm keeps the listener */
  snprintf(src, sizeof src,
           "%sexport default async (how) => {\n"
           "  Promise.reject(how);\n"
           "  await new Promise((r) => setTimeout(r, 20));\n"
           "  return how;\n"
           "};",
           kListen);
  static const struct {
    const char* args;
    iso_status status;
  } calls[] = {
      {"[\"quiet\"]", ISO_STATUS_FULFILLED},
      {"[\"loud\"]", ISO_STATUS_REJECTED},
      {"[\"quiet\"]", ISO_STATUS_FULFILLED},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    iso_buf keep;
    iso_job j = call_job("virtual/prevent.js", NULL, calls[i].args, &keep);
    j.source = src;
    call(&s, j, 10000, &r);
    iso_buf_close(&keep);
    CHECK_EQ(r.status, calls[i].status);
    if (calls[i].status == ISO_STATUS_FULFILLED) {
      CHECK_JSON(r.value, r.value_len, "\"quiet\"");
      CHECK_EQ(r.nlogs, 1);
      check_log(&r, 0, ISO_LOG_LOG, "seen quiet");
    } else {
      CHECK_CONTAINS(r.message, "loud");
      CHECK_EQ(r.nlogs, 1);
      check_log(&r, 0, ISO_LOG_LOG, "seen loud");
    }
    iso_result_close(&r);
  }
  /* a listener that loops for ever */
  iso_job spin = eval_src(
      "addEventListener('unhandledrejection', () => { for (;;) {} });\n"
      "Promise.reject(1);\n"
      "await new Promise((r) => setTimeout(r, 20));\n"
      "export default 'never';");
  spin.timeout_ms = 300;
  int64_t t0 = now_ms();
  call(&s, spin, 10000, &r);
  int64_t took = now_ms() - t0;
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
  CHECK(took >= 280 && took < 3000);
  iso_result_close(&r);
  iso_buf keep;
  expect_value(&s, call_job("double.js", NULL, "[6]", &keep), "12");
  iso_buf_close(&keep);
  svc_stop(&s);
}

/* ---- listeners ---------------------------------------------------------- */

/* --listen is repeatable, and tls+tcp:// serves with a certificate made
 * here (openssl); a client trusting it gets answers, a plain tcp:// client
 * on the TLS port gets none. */
static void t_tls_and_second_listener(void) {
  char dir[] = "/tmp/isopool-tls-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char cert[160], key[160], cmd[600];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s "
           "-days 1 -subj /CN=localhost >/dev/null 2>&1",
           key, cert);
  CHECK_EQ(system(cmd), 0);
  int port = free_port();
  CHECK(port > 0);
  char tls_url[64], tcp_url[64];
  snprintf(tls_url, sizeof tls_url, "tls+tcp://127.0.0.1:%d", port);
  snprintf(tcp_url, sizeof tcp_url, "tcp://127.0.0.1:%d", port);
  const char* flags[] = {"--listen",  tls_url, "--tls-cert", cert,
                         "--tls-key", key,     NULL};
  svc s;
  if (svc_start(&s, flags, 0) == 0) {
    iso_client_opts o = {.tls_ca_file = cert, .tls_server_name = "localhost"};
    iso_client* tls = NULL;
    CHECK_EQ(iso_client_new(tls_url, &o, &tls), 0);
    iso_buf keep;
    iso_job job = call_job("double.js", NULL, "[21]", &keep);
    iso_result r;
    int rc = iso_client_call(tls, &job, 10000, &r);
    CHECK_EQ(rc, 0);
    if (rc == 0) {
      CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
      CHECK_JSON(r.value, r.value_len, "42");
      iso_result_close(&r);
    }
    iso_client_free(tls);
    /* plain TCP to the TLS port: no answer */
    iso_client* plain = NULL;
    CHECK_EQ(iso_client_new(tcp_url, NULL, &plain), 0);
    rc = iso_client_call(plain, &job, 500, &r);
    CHECK(rc != 0);
    if (rc == 0) {
      iso_result_close(&r);
    }
    iso_client_free(plain);
    iso_buf_close(&keep);
    /* the ipc listener still serves */
    expect_value(&s, call_job("double.js", NULL, "[2]", &keep), "4");
    iso_buf_close(&keep);
  }
  svc_stop(&s);
  unlink(cert);
  unlink(key);
  rmdir(dir);
}

static const iso_test cases[] = {
    {"many_concurrent_jobs", t_many_concurrent_jobs},
    {"tls_and_second_listener", t_tls_and_second_listener},
    {"eval_and_call_forms", t_eval_and_call_forms},
    {"packages", t_packages},
    {"platform_work", t_platform_work},
    {"import_map", t_import_map},
    {"packages_json_edited", t_packages_json_edited},
    {"eval_with_args", t_eval_with_args},
    {"call_keeps_globals", t_call_keeps_globals},
    {"call_reads_live_exports", t_call_reads_live_exports},
    {"lazy_apis_in_jobs", t_lazy_apis_in_jobs},
    {"batch_mixed_outcomes", t_batch_mixed_outcomes},
    {"batch_reply_limit", t_batch_reply_limit},
    {"rejections_with_stacks", t_rejections_with_stacks},
    {"unhandled_and_stall_eval", t_unhandled_and_stall_eval},
    {"unhandled_and_stall_call", t_unhandled_and_stall_call},
    {"unhandled_prevented", t_unhandled_prevented},
    {"logs", t_logs},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return iso_test_main(argc, argv, cases);
}
