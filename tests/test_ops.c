/* test_ops.c: the op mechanism in process: an op table of the test's own
 * (the way an embedder adds ops) passed in iso_rt_opts.ops, sync results
 * of each type, errors crossing as classes, async ops batched per tick,
 * pending ops and the event loop (ref'd, unref'd, the run command), ops
 * that outlive their realm, many ops at once, permissions, and the
 * isopool: built-in modules.
 *
 * Most cases use their own op_send hook: it keeps each batch in a list
 * (recording how many records it had) and the test decides when to run it
 * (on its own thread or on a pthread) and hand it back with
 * iso_rt_ops_done on the loop, so what is in flight at each point is
 * known. The loop is run with UV_RUN_DEFAULT until it has nothing left: a
 * held batch is not a libuv handle, so the loop returns while it is held.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"

/* ---- the test's op table ---- */

static int op_values(iso_op_call* c) {
  int64_t k;
  if (iso_op_arg_int(c, 0, "which", 0, 100, 0, &k) != 0) {
    return -1;
  }
  switch (k) {
    case 0:
      return iso_op_ret_int(c, 42);
    case 1:
      return iso_op_ret_int(c, -7);
    case 2:
      return iso_op_ret_double(c, 1.5);
    case 3:
      return iso_op_ret_int(c, (int64_t)1 << 60); /* beyond 2^53: BigInt */
    case 4:
      return iso_op_ret_str(c, "h\xc3\xa9llo", 6);
    case 5:
      return iso_op_ret_bin(c, "\x01\x02\xff", 3);
    case 6: /* [1, "two", [3]] */
      return (iso_op_ret_array(c, 3) || iso_op_ret_int(c, 1) ||
              iso_op_ret_str(c, "two", 3) || iso_op_ret_array(c, 1) ||
              iso_op_ret_int(c, 3))
                 ? -1
                 : 0;
    case 7: /* {a: 1, b: "x"}: string keys, a plain object */
      return (iso_op_ret_map(c, 2) || iso_op_ret_str(c, "a", 1) ||
              iso_op_ret_int(c, 1) || iso_op_ret_str(c, "b", 1) ||
              iso_op_ret_str(c, "x", 1))
                 ? -1
                 : 0;
    case 8: /* {1: "one"}: a number key, a Map */
      return (iso_op_ret_map(c, 1) || iso_op_ret_int(c, 1) ||
              iso_op_ret_str(c, "one", 3))
                 ? -1
                 : 0;
    case 9:
      return 0; /* nothing written: undefined */
    case 10:
      return iso_op_ret_nil(c);
    case 11:
      return iso_op_ret_bool(c, 1);
    case 12:
      return iso_op_ret_bin(c, "", 0);
    default:
      return iso_op_fail(c, ISO_OPERR_INVALID_DATA, "no value %lld",
                         (long long)k);
  }
}

/* Fails with class k (iso_op_err); 0: without a class or message; 100:
 * with a message but no class. */
static int op_fail(iso_op_call* c) {
  int64_t k;
  if (iso_op_arg_int(c, 0, "class", 0, 100, 0, &k) != 0) {
    return -1;
  }
  if (k == 0) {
    return -1;
  }
  if (k == 100) {
    snprintf(c->msg, sizeof(c->msg), "custom message, no class");
    return -1;
  }
  return iso_op_fail(c, (iso_op_err)k, "%s: class %s", c->def->name,
                     iso_op_err_class((iso_op_err)k));
}

/* (name: string of at most 15 bytes, data: bytes, count: integer in
 * [0, 10] (default 3), flag: boolean (default false)) */
static int op_args(iso_op_call* c) {
  char name[16];
  const uint8_t* p;
  size_t len;
  int64_t count;
  int flag;
  if (iso_op_arg_str(c, 0, "name", name, sizeof(name)) != 0 ||
      iso_op_arg_bytes(c, 1, "data", &p, &len) != 0 ||
      iso_op_arg_int(c, 2, "count", 0, 10, 3, &count) != 0 ||
      iso_op_arg_bool(c, 3, "flag", 0, &flag) != 0) {
    return -1;
  }
  unsigned sum = 0;
  for (size_t i = 0; i < len; i++) {
    sum += p[i];
  }
  char out[128];
  int n = snprintf(out, sizeof(out), "%s len=%zu sum=%u count=%lld flag=%d",
                   name, len, sum, (long long)count, flag);
  return iso_op_ret_str(c, out, (size_t)n);
}

static int op_echo(iso_op_call* c) {
  const uint8_t* v;
  size_t len;
  if (iso_op_arg_value(c, 0, "value", &v, &len) != 0) {
    return -1;
  }
  return iso_op_ret_raw(c, v, len);
}

static int op_gate(iso_op_call* c) {
  return iso_op_ret_str(c, "opened", 6);
}

static int op_ok(iso_op_call* c) {
  char msg[64];
  int n = snprintf(msg, sizeof(msg), "%s ok", c->def->name);
  return iso_op_ret_str(c, msg, (size_t)n);
}

/* Blocks its op thread until the test opens the gate (g_gate_open). */
static pthread_mutex_t g_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cv = PTHREAD_COND_INITIALIZER;
static int g_gate_open;

static void gate_set(int open) {
  pthread_mutex_lock(&g_gate_mu);
  g_gate_open = open;
  pthread_cond_broadcast(&g_gate_cv);
  pthread_mutex_unlock(&g_gate_mu);
}

static int op_wait(iso_op_call* c) {
  pthread_mutex_lock(&g_gate_mu);
  while (!g_gate_open) {
    pthread_cond_wait(&g_gate_cv, &g_gate_mu);
  }
  pthread_mutex_unlock(&g_gate_mu);
  return iso_op_ret_str(c, "waited", 6);
}

/* A sync op whose result is `mib` MiB of zeros. */
static int op_big(iso_op_call* c) {
  int64_t mib;
  if (iso_op_arg_int(c, 0, "mib", 0, 128, 0, &mib) != 0) {
    return -1;
  }
  void* p = calloc(1, (size_t)mib << 20);
  int rc = p != NULL ? iso_op_ret_bin(c, p, (size_t)mib << 20) : -1;
  free(p);
  return rc;
}

#define OP(n, k, p, f) \
  { .name = n, .kind = k, .perm = p, .fn = f }

static const iso_op_def kDefs[] = {
    OP("op_t_values", ISO_OP_SYNC, ISO_PERM_NONE, op_values),
    OP("op_t_fail", ISO_OP_SYNC, ISO_PERM_NONE, op_fail),
    OP("op_t_fail_async", ISO_OP_ASYNC, ISO_PERM_NONE, op_fail),
    OP("op_t_args", ISO_OP_SYNC, ISO_PERM_NONE, op_args),
    OP("op_t_echo", ISO_OP_ASYNC, ISO_PERM_NONE, op_echo),
    OP("op_t_values_async", ISO_OP_ASYNC, ISO_PERM_NONE, op_values),
    OP("gate", ISO_OP_ASYNC, ISO_PERM_NONE, op_gate),
    OP("op_t_wait", ISO_OP_ASYNC, ISO_PERM_NONE, op_wait),
    OP("op_t_read", ISO_OP_SYNC, ISO_PERM_READ, op_ok),
    OP("op_t_read_async", ISO_OP_ASYNC, ISO_PERM_READ, op_ok),
    OP("op_t_env", ISO_OP_SYNC, ISO_PERM_ENV, op_ok),
    OP("op_t_env_async", ISO_OP_ASYNC, ISO_PERM_ENV, op_ok),
    OP("op_t_big", ISO_OP_SYNC, ISO_PERM_NONE, op_big),
};

static const iso_op_table kTable = {
    .defs = kDefs,
    .n = sizeof(kDefs) / sizeof(kDefs[0]),
};

/* ---- a runtime whose op batches the test holds ---- */

#define MAX_BATCHES 64

typedef struct tctx {
  uv_loop_t loop;
  iso_rt* rt;
  iso_ops_env* env;
  iso_op_batch* held[MAX_BATCHES]; /* sent and not yet handed back */
  int nheld;
  size_t sent[MAX_BATCHES]; /* records per batch, in the order sent */
  int nsent;
  int refuse; /* hold_send fails every batch */
} tctx;

static int hold_send(void* data, iso_op_batch* b) {
  tctx* t = data;
  if (t->refuse || t->nheld == MAX_BATCHES || t->nsent == MAX_BATCHES) {
    return ISO_ENOMEM; /* the runtime fails the batch itself */
  }
  t->held[t->nheld++] = b;
  t->sent[t->nsent++] = b->n;
  return 0;
}

typedef struct topts {
  int hold;               /* 1: hold_send; 0: libuv's thread pool */
  int builtin;            /* 1: the built-in table instead of kTable */
  int with_env;           /* 1: an iso_ops_env (the kv store) */
  int with_data;          /* 1: and the case's root as its data root */
  size_t max_pending_ops; /* 0: the default */
} topts;

static void tctx_init(tctx* t, topts o) {
  rt_init_process();
  memset(t, 0, sizeof(*t));
  rt_root();
  uv_loop_init(&t->loop);
  if (o.with_env) {
    char err[256];
    iso_ops_env_opts eo = {.data_root = o.with_data ? rt_root_path() : NULL};
    if (iso_ops_env_new(&eo, &t->env, err, sizeof(err)) != 0) {
      fprintf(stderr, "iso_ops_env_new: %s\n", err);
      exit(2);
    }
  }
  iso_rt_opts ro = {
      .loop = &t->loop,
      .root = rt_root_path(),
      .ops = o.builtin ? NULL : &kTable,
      .ops_env = t->env,
      .op_send = o.hold ? hold_send : NULL,
      .op_send_data = t,
      .max_pending_ops = o.max_pending_ops,
  };
  if (iso_rt_new(&ro, &t->rt) != 0) {
    fprintf(stderr, "iso_rt_new failed\n");
    exit(2);
  }
}

/* Runs the loop until it has nothing left to do. */
static void drain(tctx* t) {
  uv_run(&t->loop, UV_RUN_DEFAULT);
}

/* Runs held batch i and hands it back, on the test's thread. */
static void release(tctx* t, int i) {
  iso_op_batch* b = t->held[i];
  memmove(&t->held[i], &t->held[i + 1],
          (size_t)(t->nheld - i - 1) * sizeof(t->held[0]));
  t->nheld--;
  iso_op_batch_run(b);
  iso_rt_ops_done(t->rt, b);
}

static void release_all(tctx* t) {
  while (t->nheld > 0) {
    release(t, 0);
  }
}

/* Held batch i run on a pthread (an op thread), which wakes the loop with
 * a uv_async to hand it back; the loop is drained meanwhile. */
typedef struct thread_job {
  uv_async_t wake;
  tctx* t;
  iso_op_batch* batch;
} thread_job;

static void* op_thread(void* arg) {
  thread_job* j = arg;
  iso_op_batch_run(j->batch);
  uv_async_send(&j->wake);
  return NULL;
}

static void back_on_loop_cb(uv_async_t* h) {
  thread_job* j = h->data;
  iso_rt_ops_done(j->t->rt, j->batch);
  uv_close((uv_handle_t*)&j->wake, NULL);
}

static void release_on_thread(tctx* t, int i) {
  thread_job j = {.t = t, .batch = t->held[i]};
  memmove(&t->held[i], &t->held[i + 1],
          (size_t)(t->nheld - i - 1) * sizeof(t->held[0]));
  t->nheld--;
  uv_async_init(&t->loop, &j.wake, back_on_loop_cb);
  j.wake.data = &j;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, op_thread, &j), 0);
  drain(t); /* until the batch is back and its promises settled */
  pthread_join(th, NULL);
}

static void rm_root(void) {
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt_root_path());
  if (system(cmd) != 0) {
    fprintf(stderr, "cleanup of %s failed\n", rt_root_path());
  }
}

/* Frees the runtime; batches still held are the transport's to free. */
static void tctx_free(tctx* t) {
  iso_rt_free(t->rt);
  for (int i = 0; i < t->nheld; i++) {
    iso_op_batch_free(t->held[i]);
  }
  t->nheld = 0;
  uv_run(&t->loop, UV_RUN_DEFAULT);
  CHECK_EQ(uv_loop_close(&t->loop), 0);
  iso_ops_env_free(t->env);
  rm_root();
}

/* ---- realms and evaluations ---- */

typedef struct tealm {
  iso_realm* realm;
  iso_buf out; /* console output, "level: text\n" */
  char* error; /* error_cb's formatted error, or NULL */
} tealm;

typedef struct tev {
  int done;
  int status;
  char* value;   /* the value as JSON, or NULL */
  char* error;   /* the formatted error, or NULL */
  char* message; /* the error's message, or NULL */
} tev;

static void realm_log_cb(iso_realm* realm,
                         void* data,
                         const char* level,
                         const char* text,
                         size_t len) {
  tealm* r = data;
  iso_buf_append(&r->out, level, strlen(level));
  iso_buf_append(&r->out, ": ", 2);
  iso_buf_append(&r->out, text, len);
  iso_buf_append(&r->out, "\n", 1);
}

static void realm_error_cb(iso_realm* realm,
                           void* data,
                           const iso_js_error* err) {
  tealm* r = data;
  free(r->error);
  r->error = iso_js_error_format(err);
}

static void realm_open(tctx* t, tealm* r) {
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  iso_realm_cbs cbs = {.log_cb = realm_log_cb, .error_cb = realm_error_cb};
  if (iso_realm_new(t->rt, &cbs, r, &r->realm) != 0) {
    fprintf(stderr, "iso_realm_new failed\n");
    exit(2);
  }
}

static void realm_close(tealm* r) {
  iso_realm_free(r->realm);
  r->realm = NULL;
  iso_buf_free(&r->out);
  free(r->error);
  r->error = NULL;
}

static const char* realm_out(tealm* r) {
  iso_buf_append(&r->out, "", 1);
  r->out.len--;
  return (const char*)r->out.data;
}

static void ev_cb(iso_realm* realm,
                  void* data,
                  int status,
                  const uint8_t* mp,
                  size_t len,
                  const iso_js_error* err) {
  tev* e = data;
  e->done++;
  e->status = status;
  if (mp != NULL) {
    iso_buf json;
    iso_buf_init(&json);
    if (iso_json_from_msgpack(mp, len, &json) == 0) {
      e->value = strndup((const char*)json.data, json.len);
    }
    iso_buf_free(&json);
  }
  if (err != NULL) {
    e->error = iso_js_error_format(err);
    e->message = err->message ? strdup(err->message) : NULL;
  }
}

/* Starts evaluating `src` as module root/name in the realm; its default
 * export is the value. */
static void eval_start(tealm* r, const char* name, const char* src, tev* e) {
  memset(e, 0, sizeof(*e));
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/%s", rt_root_path(), name);
  iso_eval_opts o = {
      .specifier = spec, .source = src, .source_len = strlen(src)};
  CHECK_EQ(iso_realm_eval(r->realm, &o, ev_cb, e), 0);
}

static void ev_free(tev* e) {
  free(e->value);
  free(e->error);
  free(e->message);
  memset(e, 0, sizeof(*e));
}

/* One realm, one module, the loop run to completion (all batches, held or
 * not, released as they come). */
static void eval_all(tctx* t, const char* src, tev* e) {
  tealm r;
  realm_open(t, &r);
  eval_start(&r, "main.js", src, e);
  drain(t);
  while (t->nheld > 0) {
    release_all(t);
    drain(t);
  }
  CHECK_EQ(e->done, 1);
  if (e->status != 0) {
    fprintf(stderr, "  eval failed: %s\n", e->error ? e->error : "?");
  }
  if (r.error != NULL) {
    fprintf(stderr, "  realm failed: %s\n", r.error);
  }
  CHECK(r.error == NULL);
  realm_close(&r);
}

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

/* ---- 4. pending ops and the event loop ---- */

static const char kStall[] =
    "error: Module evaluation is still pending but there are no pending ops "
    "or dynamic imports. This situation is often caused by unresolved "
    "promise.";

static void t_pending_op_keeps_eval(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "export default await Isopool.core.opAsync('gate');\n", &e);
  drain(&t); /* the loop has nothing to do but the op is pending */
  CHECK_EQ(e.done, 0);
  CHECK_EQ(t.nheld, 1);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 1);
  drain(&t); /* still no stall */
  CHECK_EQ(e.done, 0);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(e.done, 1);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value, "\"opened\"");
  CHECK(r.error == NULL);
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

static void t_unrefed_op_stalls(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const p = Isopool.core.opAsync('gate');\n"
             "Isopool.core.unrefOp(p);\n"
             "p.then((v) => console.log('late', v));\n"
             "export default await p;\n",
             &e);
  drain(&t);
  CHECK_EQ(t.nheld, 1); /* still held */
  CHECK_EQ(e.done, 1);
  CHECK_EQ(e.status, ISO_ESTALL);
  CHECK_STR(e.error, kStall);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 1); /* unref'd, still counted */
  /* the response still reaches the realm's JavaScript */
  release(&t, 0);
  drain(&t);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 0);
  CHECK_STR(realm_out(&r), "log: late opened\n");
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 0);
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

static void t_refop_again(void) {
  /* unrefOp then refOp: the op keeps the evaluation alive again */
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const p = Isopool.core.opAsync('gate');\n"
             "Isopool.core.unrefOp(p);\n"
             "Isopool.core.refOp(p);\n"
             "export default await p;\n",
             &e);
  drain(&t);
  CHECK_EQ(e.done, 0);
  CHECK_EQ(t.nheld, 1);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(e.done, 1);
  CHECK_STR(e.value, "\"opened\"");
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

/* The run command on a runtime with the test's transport. */
static void run_start(tctx* t, const char* src, rt_result* r, iso_run** run) {
  rt_write("main.js", "%s", src);
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  r->loop = &t->loop;
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/main.js", rt_root_path());
  iso_eval_opts eo = {.specifier = spec, .call = 1};
  iso_run_cbs cbs = rt_cbs();
  CHECK_EQ(iso_run_new(t->rt, &eo, &cbs, r, run), 0);
}

static void run_result_free(rt_result* r) {
  free(r->value);
  free(r->hex);
  free(r->error);
  iso_buf_free(&r->out);
}

static const char* run_out(rt_result* r) {
  iso_buf_append(&r->out, "", 1);
  r->out.len--;
  return rt_out(r);
}

static void t_run_refed_op_keeps_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  run_start(&t, "Isopool.core.opAsync('gate').then((v) => console.log(v));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 0); /* the held op keeps the run alive */
  CHECK_EQ(t.nheld, 1);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(r.done, 1);
  CHECK_EQ(r.status, 0);
  CHECK_STR(run_out(&r), "<value>\nopened\n");
  iso_run_free(run);
  run_result_free(&r);
  tctx_free(&t);
}

static void t_run_unrefed_op_ends_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  run_start(&t,
            "const p = Isopool.core.opAsync('gate');\n"
            "Isopool.core.unrefOp(p);\n"
            "p.then((v) => console.log(v));\n"
            "addEventListener('unload', () => console.log('unload'));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 1); /* done while the batch is still held */
  CHECK_EQ(r.status, 0);
  CHECK_EQ(t.nheld, 1);
  CHECK_STR(run_out(&r), "<value>\nunload\n");
  /* the run's realm is gone: its response is dropped */
  iso_run_free(run);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 1);
  CHECK_STR(run_out(&r), "<value>\nunload\n");
  run_result_free(&r);
  tctx_free(&t);
}

static uint64_t ms_since(uint64_t start_ns) {
  return (uv_hrtime() - start_ns) / 1000000;
}

static void t_run_unrefed_timer_ends_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  uint64_t start = uv_hrtime();
  run_start(&t,
            "Isopool.unrefTimer(setTimeout(() => console.log('never'), "
            "10000));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 1);
  CHECK_EQ(r.status, 0);
  CHECK(ms_since(start) < 5000);
  CHECK_STR(run_out(&r), "<value>\n");
  iso_run_free(run);
  run_result_free(&r);
  tctx_free(&t);
}

static void t_run_refed_timer_keeps_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  uint64_t start = uv_hrtime();
  run_start(&t,
            "const id = setTimeout(() => console.log('fired'), 30);\n"
            "Isopool.unrefTimer(id);\n"
            "Isopool.refTimer(id);\n"
            "addEventListener('unload', () => console.log('unload'));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 1);
  CHECK_EQ(r.status, 0);
  CHECK(ms_since(start) >= 25);
  CHECK_STR(run_out(&r), "<value>\nfired\nunload\n");
  iso_run_free(run);
  run_result_free(&r);
  tctx_free(&t);
}

/* ---- 5. ops that outlive their realm ---- */

static void t_realm_freed_with_ops_in_flight(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm a, b;
  realm_open(&t, &a);
  realm_open(&t, &b);
  tev ea, eb;
  eval_start(&a, "a.js",
             "const { opAsync } = Isopool.core;\n"
             "export default await Promise.all([opAsync('op_t_echo', 'a1'),\n"
             "  opAsync('op_t_echo', 'a2'), opAsync('op_t_echo', 'a3')]);\n",
             &ea);
  eval_start(&b, "b.js",
             "const { opAsync } = Isopool.core;\n"
             "export default await Promise.all([opAsync('op_t_echo', 'b1'),\n"
             "  opAsync('op_t_echo', 'b2')]);\n",
             &eb);
  drain(&t);
  CHECK_EQ(t.nsent, 1); /* both realms' ops in one batch */
  CHECK_EQ(t.sent[0], 5);
  CHECK_EQ(iso_realm_pending_ops(a.realm), 3);
  CHECK_EQ(iso_realm_pending_ops(b.realm), 2);
  realm_close(&a); /* while its ops are in flight */
  /* a new realm (a new id) with an op of its own in a second batch; the
   * batches come back in the other order */
  tealm c;
  realm_open(&t, &c);
  tev ec;
  eval_start(&c, "c.js",
             "export default await Isopool.core.opAsync('op_t_echo', 'c1');\n",
             &ec);
  drain(&t);
  CHECK_EQ(t.nsent, 2);
  CHECK_EQ(t.sent[1], 1);
  release(&t, 1);
  drain(&t);
  CHECK_EQ(ec.done, 1);
  CHECK_STR(ec.value, "\"c1\"");
  CHECK_EQ(eb.done, 0);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 3);
  CHECK_EQ(ea.done, 0);
  CHECK_EQ(eb.done, 1);
  CHECK_EQ(eb.status, 0);
  CHECK_STR(eb.value, "[\"b1\",\"b2\"]");
  CHECK(b.error == NULL);
  CHECK(c.error == NULL);
  CHECK_EQ(ec.done, 1);
  ev_free(&ea);
  ev_free(&eb);
  ev_free(&ec);
  realm_close(&b);
  realm_close(&c);
  tctx_free(&t);
}

/* ---- 5b. a cancelled call's ops: forgotten, and logs by job ---- */

/* Which evaluation each console line belongs to (iso_realm_current). */
typedef struct blame {
  char text[8][64];
  void* job[8];
  int n;
} blame;

static void blame_log_cb(iso_realm* realm,
                         void* data,
                         const char* level,
                         const char* text,
                         size_t len) {
  blame* b = data;
  if (b->n < 8) {
    snprintf(b->text[b->n], sizeof(b->text[0]), "%.*s", (int)len, text);
    b->job[b->n++] = iso_realm_current(realm);
  }
}

static void* blamed(const blame* b, const char* text) {
  for (int i = 0; i < b->n; i++) {
    if (strcmp(b->text[i], text) == 0) {
      return b->job[i];
    }
  }
  return NULL;
}

static void call_start(iso_realm* realm,
                       const char* export_name,
                       const char* arg,
                       tev* e) {
  memset(e, 0, sizeof(*e));
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/calls.js", rt_root_path());
  static const char src[] =
      "const { opAsync } = Isopool.core;\n"
      "export async function slow(x) {\n"
      "  const v = await opAsync('op_t_echo', x);\n"
      "  console.log('after ' + v);\n"
      "  globalThis.seen = (globalThis.seen ?? '') + v;\n"
      "  return v;\n"
      "}\n"
      "export const seen = () => globalThis.seen ?? 'none';\n";
  uint8_t args[8] = {0x91, 0xa1, (uint8_t)arg[0]};
  iso_eval_opts o = {.specifier = spec,
                     .source = src,
                     .source_len = strlen(src),
                     .export_name = export_name,
                     .call = 1,
                     .args_mp = args,
                     .args_len = 3};
  CHECK_EQ(iso_realm_eval(realm, &o, ev_cb, e), 0);
}

/* A warm realm: two calls await an op each; one is cancelled (its job
 * timed out) while the batch is away. Its response is forgotten: the code
 * after its await never runs; the other call's continuation runs and its
 * console line is blamed on it, though it ran after the await (V8 carries
 * the job tag across it). */
static void t_cancelled_call_ops_forgotten(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  blame b = {0};
  iso_realm_cbs cbs = {.log_cb = blame_log_cb};
  iso_realm* realm = NULL;
  CHECK_EQ(iso_realm_new(t.rt, &cbs, &b, &realm), 0);
  tev ea, eb, es;
  call_start(realm, "slow", "A", &ea);
  call_start(realm, "slow", "B", &eb);
  drain(&t);
  CHECK_EQ(t.nsent, 1);
  CHECK_EQ(t.sent[0], 2);
  CHECK_EQ(iso_realm_eval_cancel(realm, &ea), 1);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(ea.done, 0);
  CHECK_EQ(eb.done, 1);
  CHECK_STR(eb.value, "\"B\"");
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 1);
  CHECK_EQ(b.n, 1);
  CHECK(blamed(&b, "after B") == &eb);
  CHECK(blamed(&b, "after A") == NULL);
  call_start(realm, "seen", "-", &es);
  drain(&t);
  CHECK_STR(es.value, "\"B\"");
  CHECK_EQ(iso_realm_pending_ops(realm), 0);
  ev_free(&ea);
  ev_free(&eb);
  ev_free(&es);
  iso_realm_free(realm);
  tctx_free(&t);
}

/* Two realms with a response each in one batch: the console.log that the
 * first one's response runs frees both realms from inside iso_rt_ops_done
 * (the second one's response is then dropped). */
static tealm* g_victims[2];

static void freeing_log_cb(iso_realm* realm,
                           void* data,
                           const char* level,
                           const char* text,
                           size_t len) {
  realm_log_cb(realm, data, level, text, len);
  for (int i = 0; i < 2; i++) {
    if (g_victims[i] != NULL) {
      iso_realm_free(g_victims[i]->realm);
      g_victims[i]->realm = NULL;
      g_victims[i] = NULL;
    }
  }
}

static void t_realm_freed_during_resolve(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm a, b;
  memset(&a, 0, sizeof(a));
  iso_buf_init(&a.out);
  iso_realm_cbs cbs = {.log_cb = freeing_log_cb, .error_cb = realm_error_cb};
  CHECK_EQ(iso_realm_new(t.rt, &cbs, &a, &a.realm), 0);
  memset(&b, 0, sizeof(b));
  iso_buf_init(&b.out);
  CHECK_EQ(iso_realm_new(t.rt, &cbs, &b, &b.realm), 0);
  static const char src[] =
      "const v = await Isopool.core.opAsync('op_t_echo', 'v');\n"
      "console.log(v);\n"
      "export default v;\n";
  tev ea, eb;
  eval_start(&a, "a.js", src, &ea);
  eval_start(&b, "b.js", src, &eb);
  drain(&t);
  CHECK_EQ(t.nsent, 1);
  CHECK_EQ(t.sent[0], 2);
  g_victims[0] = &b;
  g_victims[1] = &a;
  release(&t, 0);
  drain(&t);
  CHECK(a.realm == NULL);
  CHECK(b.realm == NULL);
  CHECK_EQ(ea.done + eb.done, 0);
  CHECK_EQ(a.out.len + b.out.len, strlen("log: v\n")); /* one logged */
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 1);
  ev_free(&ea);
  ev_free(&eb);
  realm_close(&a);
  realm_close(&b);
  tctx_free(&t);
}

static void t_runtime_freed_with_batch_held(void) {
  /* tctx_free frees the held batch after the runtime: the transport's */
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "export default await Isopool.core.opAsync('op_t_echo', 1);\n",
             &e);
  drain(&t);
  CHECK_EQ(t.nheld, 1);
  iso_op_batch_run(t.held[0]); /* ran, never handed back */
  realm_close(&r);
  CHECK_EQ(e.done, 0);
  ev_free(&e);
  tctx_free(&t);
}

static void t_runtime_freed_with_ops_on_threadpool(void) {
  /* the default transport: the runtime is freed while its batch is on
   * libuv's thread pool (held there by op_t_wait); the batch comes back
   * to no runtime */
  tctx t;
  tctx_init(&t, (topts){.hold = 0});
  gate_set(0);
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const { opAsync } = Isopool.core;\n"
             "const ps = [opAsync('op_t_wait')];\n"
             "for (let i = 0; i < 1000; i++) ps.push(opAsync('op_t_echo', "
             "i));\n"
             "export default (await Promise.all(ps)).length;\n",
             &e);
  for (int i = 0; i < 100 && iso_realm_pending_ops(r.realm) == 0; i++) {
    uv_run(&t.loop, UV_RUN_NOWAIT); /* evaluate, flush to the pool */
  }
  CHECK_EQ(iso_realm_pending_ops(r.realm), 1001);
  realm_close(&r);
  CHECK_EQ(e.done, 0);
  ev_free(&e);
  gate_set(1); /* the batch finishes; its after-work runs in tctx_free */
  tctx_free(&t);
}

/* ---- 6. many ops ---- */

static void t_many_ops_default_transport(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 0});
  tev e;
  eval_all(&t,
           "const { opAsync } = Isopool.core;\n"
           "const n = 10000;\n"
           "const vs = await Promise.all(Array.from({ length: n },\n"
           "  (_, i) => opAsync('op_t_echo', { i, s: `v${i}` })));\n"
           "export default [vs.length,\n"
           "  vs.every((v, i) => v.i === i && v.s === `v${i}`)];\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value, "[10000,true]");
  ev_free(&e);
  tctx_free(&t);
}

static void t_max_pending_ops(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 0, .max_pending_ops = 100});
  tev e;
  eval_all(&t,
           "const { opAsync } = Isopool.core;\n"
           "const ps = [];\n"
           "for (let i = 0; i < 100; i++) ps.push(opAsync('op_t_echo', i));\n"
           "let threw = 'no';\n"
           "let over;\n"
           "try { over = opAsync('op_t_echo', 100); }\n"
           "catch (e) { threw = 'sync throw'; }\n"
           "const err = await over.then(() => null, (e) => e);\n"
           "const vs = await Promise.all(ps);\n"
           "const again = await opAsync('op_t_echo', 'again');\n"
           "export default [threw, err?.constructor === Error, err?.name,\n"
           "  err?.message, vs.length, again];\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value,
            "[\"no\",true,\"Error\",\"op_t_echo: too many ops in flight "
            "(100): await some first\",100,\"again\"]");
  ev_free(&e);
  tctx_free(&t);
}

/* ASan keeps freed memory in its quarantine (256 MiB), so resident
 * memory says nothing about what the runtime keeps there. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL 1
#endif

/* Resident memory of the process, in MiB. */
static long rss_mib(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
      resident = 0;
    }
    fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE) / (1 << 20);
}

/* The case: 40 writeFile calls of 15 MiB each, all denied (no
 * write permission), started in one tick by one job (realm A), while
 * another job (realm B) on the same runtime makes 15 of its own. A's
 * arguments in flight stop at its realm's 256 MiB (17 calls; the other 23
 * fail at once with an error that says so), B's all go; a third job (C),
 * in the next tick while that batch is still out, meets the runtime's 512
 * MiB (2 of its 3 calls go). Once the batches are back nothing of them
 * stays resident: the runtime keeps its spare batch small. Printed: RSS
 * before, with the batches in flight, after. */
static const char* write_job(int n) {
  static char src[1024];
  snprintf(src, sizeof(src),
           "const { opAsync } = Isopool.core;\n"
           "const big = new Uint8Array(15 << 20);\n"
           "const ps = [];\n"
           "for (let i = 0; i < %d; i++) {\n"
           "  ps.push(opAsync('op_fs_write_file', 'x', big));\n"
           "}\n"
           "const rs = await Promise.allSettled(ps);\n"
           "const n = (re) => rs.filter((r) => re.test(r.reason?.name + "
           "': ' +\n"
           "  r.reason?.message)).length;\n"
           "export default [n(/^PermissionDenied: op_fs_write_file: requires "
           "--allow-write/),\n"
           "  n(/^Error: op_fs_write_file: the arguments of this realm's ops "
           "in flight would pass 256 MiB: await some first$/),\n"
           "  n(/^Error: op_fs_write_file: the arguments of the ops in "
           "flight would pass 512 MiB: await some first$/)];\n",
           n);
  return src;
}

static void t_op_memory_bounded(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1, .builtin = 1});
  tealm a, b, c;
  realm_open(&t, &a);
  realm_open(&t, &b);
  realm_open(&t, &c);
  long before = rss_mib();
  tev ea, eb, ec;
  eval_start(&a, "a.js", write_job(40), &ea);
  eval_start(&b, "b.js", write_job(15), &eb);
  drain(&t);
  CHECK_EQ(t.nheld, 1);
  if (t.nheld == 1) {
    CHECK_EQ(t.held[0]->n, 32);
  }
  eval_start(&c, "c.js", write_job(3), &ec);
  drain(&t);
  CHECK_EQ(t.nheld, 2);
  if (t.nheld == 2) {
    CHECK_EQ(t.held[1]->n, 2);
    CHECK(t.held[0]->args.len + t.held[1]->args.len <= (size_t)512 << 20);
  }
  long peak = rss_mib();
  while (t.nheld > 0) {
    release_all(&t);
    drain(&t);
  }
  long after = rss_mib();
  CHECK_EQ(ea.done + eb.done + ec.done, 3);
  CHECK_STR(ea.value, "[17,23,0]");
  CHECK_STR(eb.value, "[15,0,0]");
  CHECK_STR(ec.value, "[2,0,1]");
  fprintf(stderr,
          "  # RSS: %ld MiB before, %ld MiB with the batches in flight, %ld "
          "MiB after\n",
          before, peak, after);
  CHECK(peak - before >= 400); /* the batches really held their arguments */
  CHECK(!RSS_MEANINGFUL || after - before < 100);
  ev_free(&ea);
  ev_free(&eb);
  ev_free(&ec);
  realm_close(&a);
  realm_close(&b);
  realm_close(&c);
  tctx_free(&t);
}

/* Two ticks' batches of large reads (200 MiB each), both run by op threads
 * before the runtime takes either back (it is busy). Realm A's first tick:
 * its third read meets A's own 256 MiB; realm B's tick, run after it:
 * B's first read goes (B has room), the next meet the runtime's 512 MiB.
 * Once the results are taken, reads work again in both. */
static void t_op_results_budget(void) {
  tctx t;
  tctx_init(&t,
            (topts){.hold = 1, .builtin = 1, .with_env = 1, .with_data = 1});
  char path[600];
  snprintf(path, sizeof(path), "%s/big", rt_root_path());
  FILE* f = fopen(path, "w");
  CHECK(f != NULL && ftruncate(fileno(f), (off_t)200 << 20) == 0);
  fclose(f);
  iso_perms* read = NULL;
  char err[128];
  CHECK_EQ(iso_perms_parse("", NULL, NULL, &read, err, sizeof(err)), 0);
  tealm a, b;
  realm_open(&t, &a);
  realm_open(&t, &b);
  iso_realm_set_perms(a.realm, read);
  iso_realm_set_perms(b.realm, read);
  const char* src =
      "const { opAsync } = Isopool.core;\n"
      "const read = () => opAsync('op_fs_read_file', 'big');\n"
      "const rs = await Promise.allSettled([read(), read(), read()]);\n"
      "const again = await read();\n"
      "export default [rs.map((x) => x.value?.length ??\n"
      "  x.reason.message.replace(/.*(this realm|the ops).*/, '$1')),\n"
      "  again.length];\n";
  tev ea, eb;
  eval_start(&a, "a.js", src, &ea);
  drain(&t);
  eval_start(&b, "b.js", src, &eb);
  drain(&t);
  CHECK_EQ(t.nheld, 2);
  if (t.nheld == 2) {
    iso_op_batch* b0 = t.held[0];
    iso_op_batch* b1 = t.held[1];
    t.nheld = 0;
    iso_op_batch_run(b0);
    iso_op_batch_run(b1);
    iso_rt_ops_done(t.rt, b0);
    iso_rt_ops_done(t.rt, b1);
  }
  drain(&t);
  while (t.nheld > 0) {
    release_all(&t);
    drain(&t);
  }
  CHECK_EQ(ea.done + eb.done, 2);
  CHECK_STR(ea.value, "[[209715200,209715200,\"this realm\"],209715200]");
  CHECK_STR(eb.value, "[[209715200,\"the ops\",\"the ops\"],209715200]");
  ev_free(&ea);
  ev_free(&eb);
  realm_close(&a);
  realm_close(&b);
  iso_perms_unref(read);
  tctx_free(&t);
}

/* A sync op's large result is not kept: the runtime's result buffer is
 * freed at the end of the loop iteration that made it (the shim copied it
 * into JavaScript already). */
static void t_sync_result_not_kept(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 0});
  tealm r;
  realm_open(&t, &r);
  long before = rss_mib();
  tev e;
  eval_start(&r, "main.js",
             "const n = Isopool.core.ops.op_t_big(96).length;\n"
             "await new Promise((r) => setTimeout(r, 1));\n"
             "export default n;\n",
             &e);
  drain(&t);
  long after = rss_mib();
  CHECK_EQ(e.done, 1);
  CHECK_STR(e.value, "100663296");
  fprintf(stderr, "  # RSS: %ld MiB before, %ld MiB after a 96 MiB result\n",
          before, after);
  /* the ArrayBuffer JavaScript got may still wait for a GC; a kept
   * buffer would add its 96 MiB (and more: it grew by doubling) */
  CHECK(!RSS_MEANINGFUL || after - before < 150);
  ev_free(&e);
  realm_close(&r);
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
    {"async_one_batch_per_tick", t_async_one_batch_per_tick},
    {"async_errors", t_async_errors},
    {"op_send_refuses", t_op_send_refuses},
    {"pending_op_keeps_eval", t_pending_op_keeps_eval},
    {"unrefed_op_stalls", t_unrefed_op_stalls},
    {"refop_again", t_refop_again},
    {"run_refed_op_keeps_run", t_run_refed_op_keeps_run},
    {"run_unrefed_op_ends_run", t_run_unrefed_op_ends_run},
    {"run_unrefed_timer_ends_run", t_run_unrefed_timer_ends_run},
    {"run_refed_timer_keeps_run", t_run_refed_timer_keeps_run},
    {"realm_freed_with_ops_in_flight", t_realm_freed_with_ops_in_flight},
    {"realm_freed_during_resolve", t_realm_freed_during_resolve},
    {"cancelled_call_ops_forgotten", t_cancelled_call_ops_forgotten},
    {"runtime_freed_with_batch_held", t_runtime_freed_with_batch_held},
    {"runtime_freed_with_ops_on_threadpool",
     t_runtime_freed_with_ops_on_threadpool},
    {"many_ops_default_transport", t_many_ops_default_transport},
    {"max_pending_ops", t_max_pending_ops},
    {"op_memory_bounded", t_op_memory_bounded},
    {"op_results_budget", t_op_results_budget},
    {"sync_result_not_kept", t_sync_result_not_kept},
    {"permissions", t_permissions},
    {"unknown_builtin_module", t_unknown_builtin_module},
    {"kv_builtin_module", t_kv_builtin_module},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
