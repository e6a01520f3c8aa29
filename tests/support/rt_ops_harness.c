/* rt_ops_harness.c: the op mechanism in process (rt_ops_harness.h), from
 * test_ops.c. */
#include "rt_ops_harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_json.h"
#include "rt_harness.h"
#include "tap.h"

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

void gate_set(int open) {
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

static int hold_send(void* data, iso_op_batch* b) {
  tctx* t = data;
  if (t->refuse || t->nheld == MAX_BATCHES || t->nsent == MAX_BATCHES) {
    return ISO_ENOMEM; /* the runtime fails the batch itself */
  }
  t->held[t->nheld++] = b;
  t->sent[t->nsent++] = b->n;
  return 0;
}

void tctx_init(tctx* t, topts o) {
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

void drain(tctx* t) {
  uv_run(&t->loop, UV_RUN_DEFAULT);
}

void release(tctx* t, int i) {
  iso_op_batch* b = t->held[i];
  memmove(&t->held[i], &t->held[i + 1],
          (size_t)(t->nheld - i - 1) * sizeof(t->held[0]));
  t->nheld--;
  iso_op_batch_run(b);
  iso_rt_ops_done(t->rt, b);
}

void release_all(tctx* t) {
  while (t->nheld > 0) {
    release(t, 0);
  }
}

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

void release_on_thread(tctx* t, int i) {
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

void tctx_free(tctx* t) {
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

void realm_log_cb(iso_realm* realm,
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

void realm_error_cb(iso_realm* realm, void* data, const iso_js_error* err) {
  tealm* r = data;
  free(r->error);
  r->error = iso_js_error_format(err);
}

void realm_open(tctx* t, tealm* r) {
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  iso_realm_cbs cbs = {.log_cb = realm_log_cb, .error_cb = realm_error_cb};
  if (iso_realm_new(t->rt, &cbs, r, &r->realm) != 0) {
    fprintf(stderr, "iso_realm_new failed\n");
    exit(2);
  }
}

void realm_close(tealm* r) {
  iso_realm_free(r->realm);
  r->realm = NULL;
  iso_buf_close(&r->out);
  free(r->error);
  r->error = NULL;
}

const char* realm_out(tealm* r) {
  iso_buf_append(&r->out, "", 1);
  r->out.len--;
  return (const char*)r->out.data;
}

void ev_cb(iso_realm* realm,
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
    iso_buf_close(&json);
  }
  if (err != NULL) {
    e->error = iso_js_error_format(err);
    e->message = err->message ? strdup(err->message) : NULL;
  }
}

void eval_start(tealm* r, const char* name, const char* src, tev* e) {
  memset(e, 0, sizeof(*e));
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/%s", rt_root_path(), name);
  iso_eval_opts o = {
      .specifier = spec, .source = src, .source_len = strlen(src)};
  CHECK_EQ(iso_realm_eval(r->realm, &o, ev_cb, e), 0);
}

void ev_free(tev* e) {
  free(e->value);
  free(e->error);
  free(e->message);
  memset(e, 0, sizeof(*e));
}

void eval_all(tctx* t, const char* src, tev* e) {
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
