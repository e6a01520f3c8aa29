/* test_ops.c: the op mechanism in process (isolate/rt_ops.c, the shim's
 * ops): sync results of each type, errors crossing as classes, the
 * argument readers, arguments whose getters call ops, async ops batched
 * per tick, async errors and a transport that refuses a batch,
 * permissions, and the isopool: built-in modules. Pending ops and the
 * event loop: test_ops_loop.c; ops that outlive their realm or runtime:
 * test_ops_lifetime.c; many ops at once and the memory they may hold:
 * test_ops_many.c.
 *
 * Each case makes its runtime on the harness of support/rt_ops_harness.h:
 * the test's own op table, and most often an op_send hook that holds each
 * batch until the case runs it (on its own thread or on a pthread) and
 * hands it back, so what is in flight at each point is known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_rt.h"
#include "rt_harness.h"
#include "rt_ops_harness.h"
#include "tap.h"

/* ---- 1. sync ops ---- */

static void t_sync_values(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tev e;
  eval_all(&t,
           "const { ops, opSync } = Isopool.core;\n"
           "const d = (v) =>\n"
           "  v === undefined ? 'undefined'\n"
           "  : v instanceof Uint8Array ? `u8:${[...v].join(',')}`\n"
           "  : v instanceof Map ? `map:${JSON.stringify([...v])}`\n"
           "  : typeof v === 'bigint' ? `bigint:${v}`\n"
           "  : Array.isArray(v) ? `array:${JSON.stringify(v)}`\n"
           "  : `${v === null ? 'null' : typeof v}:${JSON.stringify(v)}`;\n"
           "const out = [];\n"
           "for (let i = 0; i <= 12; i++) out.push(d(ops.op_t_values(i)));\n"
           "out.push(d(opSync('op_t_values', 0)));\n"
           "export default out;\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value,
            "[\"number:42\",\"number:-7\",\"number:1.5\","
            "\"bigint:1152921504606846976\",\"string:\\\"h\xc3\xa9llo\\\"\","
            "\"u8:1,2,255\",\"array:[1,\\\"two\\\",[3]]\","
            "\"object:{\\\"a\\\":1,\\\"b\\\":\\\"x\\\"}\","
            "\"map:[[1,\\\"one\\\"]]\",\"undefined\",\"null:null\","
            "\"boolean:true\",\"u8:\",\"number:42\"]");
  CHECK_EQ(t.nsent, 0); /* sync ops never go through op_send */
  ev_free(&e);
  tctx_free(&t);
}

/* The JavaScript that calls `op` with each class 1..7, 0 and 100, and
 * describes each error as "ctor|instanceof|name|message". */
#define ERROR_CLASSES_JS                                                     \
  "const E = Isopool.errors;\n"                                              \
  "const classes = [null, TypeError, E.NotFound, E.PermissionDenied,\n"      \
  "  E.AlreadyExists, E.InvalidData, E.TimedOut, Error];\n"                  \
  "const desc = (e, cls) => `${e.constructor === cls}|${e instanceof cls}|`" \
  " +\n"                                                                     \
  "  `${e instanceof Error}|${e.name}|${e.message}`;\n"

static const char kErrorsWant[] =
    "[\"true|true|true|TypeError|OP: class TypeError\","
    "\"true|true|true|NotFound|OP: class NotFound\","
    "\"true|true|true|PermissionDenied|OP: class PermissionDenied\","
    "\"true|true|true|AlreadyExists|OP: class AlreadyExists\","
    "\"true|true|true|InvalidData|OP: class InvalidData\","
    "\"true|true|true|TimedOut|OP: class TimedOut\","
    "\"true|true|true|Error|OP: class Error\","
    "\"true|true|true|Error|OP failed\","
    "\"true|true|true|Error|custom message, no class\"]";

static char* errors_want(const char* op) {
  char* s = malloc(4096);
  size_t n = 0;
  for (const char* p = kErrorsWant; *p != '\0';) {
    if (strncmp(p, "OP", 2) == 0) {
      n += (size_t)snprintf(s + n, 4096 - n, "%s", op);
      p += 2;
    } else {
      s[n++] = *p++;
    }
  }
  s[n] = '\0';
  return s;
}

static void t_sync_errors(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tev e;
  eval_all(&t,
           ERROR_CLASSES_JS
           "const out = [];\n"
           "for (const k of [1, 2, 3, 4, 5, 6, 7, 0, 100]) {\n"
           "  try { Isopool.core.ops.op_t_fail(k); out.push('no throw'); }\n"
           "  catch (e) { out.push(desc(e, classes[k] ?? Error)); }\n"
           "}\n"
           "let nf;\n"
           "try { Isopool.core.ops.op_t_fail(2); } catch (e) { nf = e; }\n"
           "export default [out, nf instanceof Isopool.errors.NotFound,\n"
           "  nf instanceof Isopool.errors.TimedOut];\n",
           &e);
  CHECK_EQ(e.status, 0);
  char* want = errors_want("op_t_fail");
  char full[4200];
  snprintf(full, sizeof(full), "[%s,true,false]", want);
  CHECK_STR(e.value, full);
  free(want);
  ev_free(&e);
  tctx_free(&t);
}

static void t_sync_argument_types(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tev e;
  eval_all(
      &t,
      "const { op_t_args } = Isopool.core.ops;\n"
      "const u8 = new Uint8Array([1, 2, 3]);\n"
      "const out = [op_t_args('ok', u8), op_t_args('ab', u8.buffer, 10, "
      "true),\n"
      "  op_t_args('nul', new Uint8Array(0), null, null)];\n"
      "for (const args of [[1, u8], ['x', 'not bytes'], ['x', u8, 11],\n"
      "    ['x', u8, 1.5], ['x', u8, 1, 'yes'], ['0123456789abcdef', u8],\n"
      "    ['a\\0b', u8], [], [() => 1, u8]]) {\n"
      "  try { out.push(`returned ${op_t_args(...args)}`); }\n"
      "  catch (e) { out.push(`${e instanceof TypeError}|${e.name}|` +\n"
      "    (args.length && typeof args[0] === 'function' ? 'fn' : "
      "e.message)); }\n"
      "}\n"
      "export default out;\n",
      &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(
      e.value,
      "[\"ok len=3 sum=6 count=3 flag=0\","
      "\"ab len=3 sum=6 count=10 flag=1\","
      "\"nul len=0 sum=0 count=3 flag=0\","
      "\"true|TypeError|op_t_args: argument 1 (name) must be a string\","
      "\"true|TypeError|op_t_args: argument 2 (data) must be a Uint8Array "
      "or ArrayBuffer\","
      "\"true|TypeError|op_t_args: argument 3 (count) must be an integer in "
      "[0, 10]\","
      "\"true|TypeError|op_t_args: argument 3 (count) must be an integer in "
      "[0, 10]\","
      "\"true|TypeError|op_t_args: argument 4 (flag) must be a boolean\","
      "\"true|TypeError|op_t_args: argument 1 (name) is too long (at most 15 "
      "bytes)\","
      "\"true|TypeError|op_t_args: argument 1 (name) must be valid UTF-8 "
      "without NUL bytes\","
      "\"true|TypeError|op_t_args: argument 1 (name) must be a string\","
      "\"true|TypeError|fn\"]");
  ev_free(&e);
  tctx_free(&t);
}

/* An argument whose getter calls ops (sync and async, with arguments that
 * fit the shim's inline buffer and arguments past it) while the outer op's
 * arguments are being encoded: each call encodes into a buffer of its own,
 * so the outer arguments arrive whole, whether they sat in the inline
 * buffer or already on the heap when the getter ran. */
static void t_args_getter_calls_op(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tev e;
  eval_all(
      &t,
      "const { ops, opAsync } = Isopool.core;\n"
      "const big = 'y'.repeat(1000);\n"
      "const u8 = new Uint8Array([1, 2]);\n"
      "const inner = [];\n"
      "const nested = [];\n"
      "const getter = (tag) => ({ get k() {\n"
      "  inner.push(ops.op_t_values(4));\n"
      "  inner.push(ops.op_t_args(tag, u8, 2, true));\n"
      "  inner.push(ops.op_t_args(tag, new Uint8Array(600), 1, false));\n"
      "  nested.push(opAsync('op_t_echo', [tag, big]));\n"
      "  nested.push(opAsync('op_t_echo', tag));\n"
      "  return tag + big.slice(0, 3);\n"
      "} });\n"
      "const small = await opAsync('op_t_echo', [getter('a'), 'end']);\n"
      "const heap = await opAsync('op_t_echo', [big, getter('b'), 'end']);\n"
      "const sync = ops.op_t_args('s', u8, 3, true, getter('c'));\n"
      "const echoed = (await Promise.all(nested)).map((v) =>\n"
      "  Array.isArray(v) ? `${v[0]}:${v[1] === big}` : v);\n"
      "export default [small, heap[0] === big, heap.slice(1), sync,\n"
      "  inner.length, inner.slice(0, 3), echoed];\n",
      &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value,
            "[[{\"k\":\"ayyy\"},\"end\"],true,[{\"k\":\"byyy\"},\"end\"],"
            "\"s len=2 sum=3 count=3 flag=1\",9,"
            "[\"h\xc3\xa9llo\",\"a len=2 sum=3 count=2 flag=1\","
            "\"a len=600 sum=0 count=1 flag=0\"],"
            "[\"a:true\",\"a\",\"b:true\",\"b\",\"c:true\",\"c\"]]");
  ev_free(&e);
  tctx_free(&t);
}

/* ---- 2. one batch per tick ---- */

static void t_async_one_batch_per_tick(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const { opAsync } = Isopool.core;\n"
             "const order = [];\n"
             "const ps = [];\n"
             "for (let i = 0; i < 100; i++) {\n"
             "  ps.push(opAsync('op_t_echo', i).then((v) => order.push(v)));\n"
             "}\n"
             "await Promise.all(ps);\n"
             "const second = await Promise.all([opAsync('op_t_echo', 'a'),\n"
             "  Isopool.core.ops.op_t_echo('b')]);\n"
             "const third = await opAsync('op_t_echo', { c: [1] });\n"
             "export default [order.length,\n"
             "  order.every((v, i) => v === i), second, third];\n",
             &e);
  drain(&t);
  CHECK_EQ(e.done, 0);
  CHECK_EQ(t.nsent, 1);
  CHECK_EQ(t.sent[0], 100); /* 100 calls in one tick: one batch */
  CHECK_EQ(iso_realm_pending_ops(r.realm), 100);

  release_on_thread(&t, 0); /* run on an op thread, back through uv_async */
  CHECK_EQ(e.done, 0);
  CHECK_EQ(t.nsent, 2); /* the ops after the await: a later batch */
  CHECK_EQ(t.sent[1], 2);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 2);

  release(&t, 0);
  drain(&t);
  CHECK_EQ(t.nsent, 3);
  CHECK_EQ(t.sent[2], 1);
  release_on_thread(&t, 0);

  CHECK_EQ(e.done, 1);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value, "[100,true,[\"a\",\"b\"],{\"c\":[1]}]");
  CHECK_EQ(iso_realm_pending_ops(r.realm), 0);
  CHECK_EQ(t.nsent, 3);
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 0);
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

/* ---- 3. async errors ---- */

static void t_async_errors(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tev e;
  eval_all(&t,
           ERROR_CLASSES_JS
           "const ks = [1, 2, 3, 4, 5, 6, 7, 0, 100];\n"
           "const settled = await Promise.allSettled(ks.map((k) =>\n"
           "  Isopool.core.opAsync('op_t_fail_async', k)));\n"
           "const out = settled.map((s, i) => s.status === 'rejected' ?\n"
           "  desc(s.reason, classes[ks[i]] ?? Error) : 'fulfilled');\n"
           "const misc = [];\n"
           "for (const [name, ...args] of [['op_t_values', 0], ['nope'],\n"
           "    ['op_t_echo'], ['op_t_values_async', 50],\n"
           "    ['op_t_echo', () => 1]]) {\n"
           "  try { await Isopool.core.opAsync(name, ...args); "
           "misc.push('ok'); }\n"
           "  catch (e) { misc.push(`${e.name}|${e.message}`); }\n"
           "}\n"
           "export default [out, misc];\n",
           &e);
  CHECK_EQ(e.status, 0);
  char* want = errors_want("op_t_fail_async");
  char full[4200];
  snprintf(full, sizeof(full),
           "[%s,[\"TypeError|op_t_values is a sync op: use opSync\","
           "\"TypeError|Unknown op: nope\","
           "\"TypeError|op_t_echo: argument 1 (value) is missing\","
           "\"InvalidData|no value 50\","
           "\"TypeError|argument 1 is a function, which cannot be sent\"]]",
           want);
  CHECK_STR(e.value, full);
  free(want);
  ev_free(&e);
  tctx_free(&t);
}

static void t_op_send_refuses(void) {
  /* the transport refuses the batch: the runtime fails its ops itself */
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  t.refuse = 1;
  tev e;
  eval_all(&t,
           "const { opAsync } = Isopool.core;\n"
           "const r = await Promise.allSettled([opAsync('op_t_echo', 1),\n"
           "  opAsync('gate')]);\n"
           "export default r.map((s) => s.status === 'rejected' ?\n"
           "  `${s.reason.constructor === Error}|${s.reason.message}` : "
           "'ok');\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value,
            "[\"true|the op bus refused the ops: out of memory\","
            "\"true|the op bus refused the ops: out of memory\"]");
  CHECK_EQ(t.nsent, 0);
  ev_free(&e);
  tctx_free(&t);
}

/* ---- 7. permissions ---- */

static void t_permissions(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  iso_perms* read_a = NULL;
  char err[128];
  CHECK_EQ(iso_perms_parse("a", NULL, NULL, &read_a, err, sizeof(err)), 0);
  tealm r, none;
  realm_open(&t, &r);
  realm_open(&t, &none); /* the runtime's default: nothing */
  iso_realm_set_perms(r.realm, read_a);
  static const char src[] =
      "const { ops, opAsync } = Isopool.core;\n"
      "// the message's start: the op and the flag it needs\n"
      "const d = (e) => `${e instanceof Isopool.errors.PermissionDenied}|` +\n"
      "  `${e.name}|` +\n"
      "  (/^\\w+: requires --allow-\\w+/.exec(e.message)?.[0] ?? "
      "e.message);\n"
      "const out = [];\n"
      "for (const name of ['op_t_read', 'op_t_env']) {\n"
      "  try { out.push(ops[name]()); } catch (e) { out.push(d(e)); }\n"
      "}\n"
      "for (const name of ['op_t_read_async', 'op_t_env_async']) {\n"
      "  try { out.push(await opAsync(name)); } catch (e) { out.push(d(e)); "
      "}\n"
      "}\n"
      "export default out;\n";
  tev e1, e2;
  eval_start(&r, "p.js", src, &e1);
  eval_start(&none, "p.js", src, &e2);
  drain(&t);
  while (t.nheld > 0) {
    release_all(&t);
    drain(&t);
  }
  CHECK_EQ(e1.done, 1);
  CHECK_STR(e1.value,
            "[\"op_t_read ok\",\"true|PermissionDenied|op_t_env: requires "
            "--allow-env\",\"op_t_read_async ok\",\"true|PermissionDenied|"
            "op_t_env_async: requires --allow-env\"]");
  CHECK_EQ(e2.done, 1);
  CHECK_STR(e2.value,
            "[\"true|PermissionDenied|op_t_read: requires --allow-read\","
            "\"true|PermissionDenied|op_t_env: requires --allow-env\","
            "\"true|PermissionDenied|op_t_read_async: requires "
            "--allow-read\",\"true|PermissionDenied|op_t_env_async: "
            "requires --allow-env\"]");

  /* an op in flight keeps the permissions it was called with */
  tev e3;
  eval_start(&r, "q.js",
             "const { opAsync } = Isopool.core;\n"
             "const first = await opAsync('op_t_read_async');\n"
             "const second = await opAsync('op_t_read_async').catch(\n"
             "  (e) => e.name);\n"
             "export default [first, second];\n",
             &e3);
  drain(&t);
  CHECK_EQ(t.nheld, 1);
  iso_realm_set_perms(r.realm, NULL); /* nothing, from now on */
  release(&t, 0);
  drain(&t);
  release_all(&t);
  drain(&t);
  CHECK_EQ(e3.done, 1);
  CHECK_STR(e3.value, "[\"op_t_read_async ok\",\"PermissionDenied\"]");

  iso_perms_unref(read_a);
  ev_free(&e1);
  ev_free(&e2);
  ev_free(&e3);
  realm_close(&r);
  realm_close(&none);
  tctx_free(&t);
}

/* ---- 8. isopool: modules ---- */

static void t_unknown_builtin_module(void) {
  tctx t;
  tctx_init(&t, (topts){.builtin = 1});
  tev e;
  tealm r;
  realm_open(&t, &r);
  eval_start(&r, "main.js",
             "import * as x from 'isopool:nope';\n"
             "export default Object.keys(x);\n",
             &e);
  drain(&t);
  CHECK_EQ(e.done, 1);
  CHECK(e.status != 0);
  CHECK_CONTAINS(e.error, "\"isopool:nope\"");
  CHECK_CONTAINS(e.error, "isopool:fs");
  CHECK_CONTAINS(e.error, "isopool:kv");
  CHECK_CONTAINS(e.error, "isopool:env");
  ev_free(&e);

  /* a dynamic import rejects with the same text */
  eval_start(&r, "dyn.js",
             "export default await import('isopool:nope').then(\n"
             "  () => 'imported', (e) => `${e.name}: ${e.message}`);\n",
             &e);
  drain(&t);
  CHECK_EQ(e.done, 1);
  CHECK_EQ(e.status, 0);
  CHECK_CONTAINS(e.value, "isopool:nope");
  CHECK_CONTAINS(e.value, "isopool:fs, isopool:kv, isopool:env");
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

static void t_kv_builtin_module(void) {
  tctx t;
  tctx_init(&t, (topts){.builtin = 1, .with_env = 1});
  tev e;
  eval_all(&t,
           "import * as kv from 'isopool:kv';\n"
           "import kvDefault from 'isopool:kv';\n"
           "await kv.set('k', { a: [1, 'x'] });\n"
           "const got = await kv.get('k');\n"
           "const n = await kv.increment('n', 5);\n"
           "export default [Object.keys(kv).sort(), typeof kvDefault.get,\n"
           "  got, n];\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value,
            "[[\"default\",\"delete\",\"get\",\"increment\",\"list\","
            "\"set\"],\"function\",{\"a\":[1,\"x\"]},5]");
  ev_free(&e);
  tctx_free(&t);
}

static const iso_test cases[] = {
    {"sync_values", t_sync_values},
    {"sync_errors", t_sync_errors},
    {"sync_argument_types", t_sync_argument_types},
    {"args_getter_calls_op", t_args_getter_calls_op},
    {"async_one_batch_per_tick", t_async_one_batch_per_tick},
    {"async_errors", t_async_errors},
    {"op_send_refuses", t_op_send_refuses},
    {"permissions", t_permissions},
    {"unknown_builtin_module", t_unknown_builtin_module},
    {"kv_builtin_module", t_kv_builtin_module},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
