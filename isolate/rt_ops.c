/* rt_ops.c: the runtime's half of the op bus (the seed's pending_ops and
 * Deno's SharedQueue).
 *
 * Sync ops run inline: the shim encodes the arguments and calls
 * iso__rt_host_op_sync, which runs the op on this thread and hands its result
 * back. An async op's request is appended to the runtime's current batch
 * (rt->op_batch) and counted in its realm's pending_ops; a uv_prepare
 * handle, which runs once the loop iteration's JavaScript is done, sends
 * the whole batch in one message (op_send: the pool's NNG bus; without
 * one, a job on libuv's thread pool). When the batch comes back,
 * iso_rt_ops_done resolves each realm's promises with one call into the
 * prelude's resolveOps hook.
 *
 * A response names its realm by id, not pointer: a realm freed while its
 * ops were in flight (a job that timed out) is simply not found, and its
 * responses are dropped. An unref'd op (Isopool.core.unrefOp) moves from
 * pending_ops to pending_unref_ops, so it no longer keeps the realm's
 * event loop alive.
 *
 * Memory: an op's arguments are a copy of its JavaScript values, and the
 * same large Uint8Array passed a thousand times would be a thousand
 * copies outside V8's heap limit; so the bytes of arguments in flight are
 * capped per runtime (MAX_ARGS_IN_FLIGHT) and, at half that, per realm
 * (MAX_REALM_ARGS_IN_FLIGHT), so one job cannot take all the room of the
 * others on its runtime; the call throws past either. The results of its
 * batches share one budget per runtime and one per realm (op_budget,
 * ops/): op threads working through queued batches while the runtime is
 * busy in JavaScript stop producing results past ISO_OP_BATCH_RES_MAX, or
 * a realm's past ISO_OP_CALLER_RES_MAX. What the runtime keeps between
 * ticks (the spare batch, the sync result buffer, the results scratch) is
 * trimmed back when a tick made it large.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "rt_private.h"

#define DEFAULT_MAX_PENDING_OPS 100000
/* Bytes of async op arguments in flight per runtime (above the shim's
 * 256 MiB for one op's arguments, so any op that may be called fits). */
#define MAX_ARGS_IN_FLIGHT ((size_t)512 << 20)
#define MAX_ARGS_IN_FLIGHT_MIB 512
#define MAX_REALM_ARGS_IN_FLIGHT ((size_t)256 << 20)
#define MAX_REALM_ARGS_IN_FLIGHT_MIB 256
/* what the runtime keeps between ticks */
#define KEEP_OUT_BYTES ((size_t)1 << 20)
#define KEEP_RESULTS 4096

/* A batch on libuv's thread pool (no op_send); orphaned (rt NULL) when
 * the runtime is freed first. */
typedef struct rt_op_work {
  uv_work_t work;
  struct rt_op_work* next;
  iso_rt* rt;
  iso_op_batch* batch;
} rt_op_work;

/* The in-process transport's mailbox for answers later than their batch
 * (iso_op_defer): tickets post to it from the op and net threads; the
 * runtime takes what it holds on its loop (late_async). It lives until
 * the runtime and every ticket that may still post are done with it
 * (refs); once the runtime is gone (closed), answers are dropped. */
typedef struct rt_mailbox {
  pthread_mutex_t lock;
  int refs;
  int closed;
  iso_op_batch* late; /* answers not taken yet */
  uv_async_t* async;  /* the runtime's late_async, while not closed */
} rt_mailbox;

static void mailbox_unref(rt_mailbox* m) {
  pthread_mutex_lock(&m->lock);
  int last = --m->refs == 0;
  pthread_mutex_unlock(&m->lock);
  if (last) {
    iso_op_batch_free(m->late);
    pthread_mutex_destroy(&m->lock);
    free(m);
  }
}

static void mailbox_hold(void* arg, int delta) {
  rt_mailbox* m = arg;
  if (delta > 0) {
    pthread_mutex_lock(&m->lock);
    m->refs++;
    pthread_mutex_unlock(&m->lock);
  } else {
    mailbox_unref(m);
  }
}

/* iso_op_late_fn of the in-process transport. Thread: any. */
static void mailbox_post(void* arg,
                         uint64_t route,
                         uint32_t promise,
                         uint32_t realm,
                         uint32_t tag,
                         iso_op_err err,
                         const void* res,
                         size_t len) {
  (void)route;
  rt_mailbox* m = arg;
  pthread_mutex_lock(&m->lock);
  if (!m->closed) {
    if (m->late == NULL) {
      m->late = iso_op_batch_new(iso_ops_builtin(), NULL);
    }
    iso_op_caller who = {.realm = realm, .tag = tag};
    if (m->late == NULL ||
        iso_op_batch_add(m->late, 0, promise, &who, NULL, 0) != 0) {
      abort(); /* its promise would never settle */
    }
    iso_op_batch_respond(m->late, m->late->n - 1, err, res, len);
    uv_async_send(m->async);
  }
  pthread_mutex_unlock(&m->lock);
}

static void late_ref(iso_rt* rt) {
  if (rt->late_pending > 0) {
    uv_ref((uv_handle_t*)&rt->late_async);
  } else {
    uv_unref((uv_handle_t*)&rt->late_async);
  }
}

void iso__rt_ops_late_cb(uv_async_t* h) {
  iso_rt* rt = h->data;
  rt_mailbox* m = rt->mailbox;
  if (m == NULL) {
    return;
  }
  pthread_mutex_lock(&m->lock);
  iso_op_batch* b = m->late;
  m->late = NULL;
  pthread_mutex_unlock(&m->lock);
  if (b != NULL) {
    rt->late_pending -= (int)b->n;
    late_ref(rt);
    b->owner = rt;
    iso_rt_ops_done(rt, b);
  }
}

static void flush_cb(uv_prepare_t* h);

int iso__rt_ops_init(iso_rt* rt, const iso_rt_opts* opts) {
  rt->ops = opts->ops != NULL ? opts->ops : iso_ops_builtin();
  rt->ops_env = opts->ops_env;
  rt->default_perms = iso_perms_ref(
      opts->default_perms != NULL ? opts->default_perms : iso_perms_none());
  rt->op_send = opts->op_send;
  rt->op_send_data = opts->op_send_data;
  rt->op_perm_ids = opts->op_perm_ids;
  rt->max_pending_ops =
      opts->max_pending_ops ? opts->max_pending_ops : DEFAULT_MAX_PENDING_OPS;
  iso_buf_init(&rt->op_out);
  /* NULL when out of memory: each batch's results are then bounded on
   * their own */
  rt->op_budget = iso_op_budget_new();
  rt->op_fetch_first = rt->op_fetch_release = UINT32_MAX;
  rt->op_fetch_end = 0;
  for (size_t i = 0; i < rt->ops->n; i++) {
    const char* name = rt->ops->defs[i].name;
    if (strncmp(name, "op_fetch_", 9) == 0) {
      rt->op_fetch_first =
          rt->op_fetch_first == UINT32_MAX ? (uint32_t)i : rt->op_fetch_first;
      rt->op_fetch_end = (uint32_t)i + 1; /* the table keeps them together */
    }
    if (strcmp(name, "op_fetch_release") == 0) {
      rt->op_fetch_release = (uint32_t)i;
    }
  }
  if (rt->op_send == NULL) {
    rt->mailbox = calloc(1, sizeof *rt->mailbox);
    if (rt->mailbox != NULL) {
      pthread_mutex_init(&rt->mailbox->lock, NULL);
      rt->mailbox->refs = 1;
      rt->mailbox->async = &rt->late_async;
    }
  }
  return 0;
}

void iso__rt_ops_close(iso_rt* rt) {
  for (rt_op_work* w = rt->op_works; w != NULL; w = w->next) {
    w->rt = NULL;
  }
  rt->op_works = NULL;
  if (rt->mailbox != NULL) {
    pthread_mutex_lock(&rt->mailbox->lock);
    rt->mailbox->closed = 1; /* late_async is closed next */
    pthread_mutex_unlock(&rt->mailbox->lock);
    mailbox_unref(rt->mailbox);
    rt->mailbox = NULL;
  }
  iso_op_batch_free(rt->op_batch);
  iso_op_batch_free(rt->op_spare);
  rt->op_batch = rt->op_spare = NULL;
  iso_buf_close(&rt->op_out);
  iso_op_budget_unref(rt->op_budget); /* batches out keep it alive */
  rt->op_budget = NULL;
  free(rt->op_results);
  rt->op_results = NULL;
  iso_perms_unref(rt->default_perms);
  rt->default_perms = NULL;
}

void iso__rt_ops_realm_init(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  /* unique in the process, not only in the runtime: a batch that comes
   * back to a worker whose runtime was replaced meanwhile (poolctl
   * recycle) finds none of its realms */
  static atomic_uint next_id;
  realm->id = atomic_fetch_add(&next_id, 1) + 1;
  if (realm->id == 0) { /* 2^32 realms later */
    realm->id = atomic_fetch_add(&next_id, 1) + 1;
  }
  realm->perms = iso_perms_ref(rt->default_perms);
  realm->op_args_out = 0;
  realm->op_budget = iso_op_budget_new(); /* NULL: the runtime's alone */
}

void iso__rt_ops_realm_close(iso_realm* realm) {
  iso_perms_unref(realm->perms);
  realm->perms = NULL;
  iso_op_budget_unref(realm->op_budget); /* records in flight keep it */
  realm->op_budget = NULL;
  free(realm->unref_ids);
  realm->unref_ids = NULL;
}

void iso_realm_set_perms(iso_realm* realm, const iso_perms* perms) {
  assert(iso__rt_on_thread(realm->rt));
  iso_perms* old = realm->perms;
  realm->perms = iso_perms_ref(perms != NULL ? perms : iso_perms_none());
  iso_perms_unref(old);
}

void iso_realm_set_perm_id(iso_realm* realm, uint32_t perm_id) {
  assert(iso__rt_on_thread(realm->rt));
  realm->perm_id = perm_id;
}

int iso_realm_pending_ops(const iso_realm* realm) {
  assert(iso__rt_on_thread(realm->rt));
  return realm->pending_ops + realm->pending_unref_ops;
}

uint64_t iso_rt_ops_dropped(const iso_rt* rt) {
  assert(iso__rt_on_thread(rt));
  return rt->ops_dropped;
}

/* ---- from JavaScript (the shim's natives) ---- */

/* Fails an op call before it runs: class Error, the message in the
 * runtime's op call. Returns ISO_EOP, for the shim's op natives. */
static int op_error(iso_rt* rt,
                    const char** cls,
                    const char** msg,
                    const char* fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static int op_error(iso_rt* rt,
                    const char** cls,
                    const char** msg,
                    const char* fmt,
                    ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rt->op_call.msg, sizeof(rt->op_call.msg), fmt, ap);
  va_end(ap);
  *cls = iso_op_err_class(ISO_OPERR_OTHER);
  *msg = rt->op_call.msg;
  return ISO_EOP;
}

/* Counts an op for the job that asks (its tag, else the entry's charge:
 * iso_eval_stats.ops). */
static void count_op(iso_realm* realm, uint32_t tag) {
  rt_eval* ev = tag != 0 ? iso__rt_eval_by_tag(realm, tag) : NULL;
  if (ev == NULL) {
    ev = realm->rt->charge;
  }
  if (ev != NULL) {
    ev->ops++;
  }
}

int iso__rt_host_op_sync(void* realm_p,
                         uint32_t op,
                         const uint8_t* args,
                         size_t len,
                         const uint8_t** res,
                         size_t* res_len,
                         const char** err_class,
                         const char** err_msg) {
  iso_realm* realm = realm_p;
  iso_rt* rt = realm->rt;
  iso_op_call* c = &rt->op_call;
  count_op(realm, v8s_job_tag(rt->iso));
  c->def = &rt->ops->defs[op];
  c->perms = realm->perms;
  c->env = rt->ops_env;
  c->out = &rt->op_out;
  c->err = ISO_OPERR_NONE;
  c->msg[0] = '\0';
  if (rt->op_out.cap > KEEP_OUT_BYTES) {
    iso_buf_close(&rt->op_out); /* the last result was large: not kept */
  }
  rt->op_out.len = 0;
  if (iso_op_invoke(c, args, len) != 0) {
    *err_class = iso_op_err_class(c->err);
    *err_msg = c->msg;
    return ISO_EOP;
  }
  *res = rt->op_out.data;
  *res_len = rt->op_out.len;
  if (rt->op_out.cap > KEEP_OUT_BYTES &&
      !uv_is_active((uv_handle_t*)&rt->op_flush)) {
    /* the shim copies the result before JavaScript goes on; the buffer is
     * freed at the end of this loop iteration, not kept */
    uv_prepare_start(&rt->op_flush, flush_cb);
  }
  return 0;
}

/* rt->op_batch, the requests of this tick: the spare, or a new one (left
 * NULL when out of memory). */
static void tick_batch(iso_rt* rt) {
  if (rt->op_batch == NULL) {
    rt->op_batch = rt->op_spare;
    rt->op_spare = NULL;
    if (rt->op_batch == NULL) {
      rt->op_batch = iso_op_batch_new(rt->ops, rt->ops_env);
      if (rt->op_batch != NULL) {
        /* its results count against the runtime's other batches' */
        iso_op_batch_set_budget(rt->op_batch, rt->op_budget);
      }
    }
  }
}

int iso__rt_host_op_async(void* realm_p,
                          uint32_t op,
                          uint32_t promise,
                          const uint8_t* args,
                          size_t len,
                          const char** err_class,
                          const char** err_msg) {
  iso_realm* realm = realm_p;
  iso_rt* rt = realm->rt;
  if ((size_t)(realm->pending_ops + realm->pending_unref_ops) >=
      rt->max_pending_ops) {
    return op_error(rt, err_class, err_msg,
                    "%s: too many ops in flight (%zu): await some first",
                    rt->ops->defs[op].name, rt->max_pending_ops);
  }
  if (len > MAX_REALM_ARGS_IN_FLIGHT - realm->op_args_out) {
    return op_error(rt, err_class, err_msg,
                    "%s: the arguments of this realm's ops in flight would "
                    "pass %d MiB: await some first",
                    rt->ops->defs[op].name, MAX_REALM_ARGS_IN_FLIGHT_MIB);
  }
  if (len > MAX_ARGS_IN_FLIGHT - rt->op_args_out) {
    return op_error(rt, err_class, err_msg,
                    "%s: the arguments of the ops in flight would pass %d MiB: "
                    "await some first",
                    rt->ops->defs[op].name, MAX_ARGS_IN_FLIGHT_MIB);
  }
  tick_batch(rt);
  /* the job whose JavaScript (or a continuation of it) asks */
  uint32_t tag = v8s_job_tag(rt->iso);
  count_op(realm, tag);
  iso_op_caller who = {.realm = realm->id,
                       .tag = tag,
                       .perms = rt->op_perm_ids ? NULL : realm->perms,
                       .perm_id = realm->perm_id,
                       .budget = realm->op_budget};
  if (rt->op_batch == NULL ||
      iso_op_batch_add(rt->op_batch, op, promise, &who, args, len) != 0) {
    return op_error(rt, err_class, err_msg, "%s: out of memory",
                    rt->ops->defs[op].name);
  }
  rt->op_args_out += len;
  realm->op_args_out += len;
  realm->pending_ops++;
  realm->fetched |= op >= rt->op_fetch_first && op < rt->op_fetch_end;
  realm->idle_notified = 0;
  if (!uv_is_active((uv_handle_t*)&rt->op_flush)) {
    uv_prepare_start(&rt->op_flush, flush_cb);
  }
  return 0;
}

static int unref_find(const iso_realm* realm, uint32_t promise) {
  for (size_t i = 0; i < realm->nunref; i++) {
    if (realm->unref_ids[i] == promise) {
      return (int)i;
    }
  }
  return -1;
}

static void unref_remove(iso_realm* realm, int i) {
  realm->unref_ids[i] = realm->unref_ids[--realm->nunref];
}

void iso__rt_host_op_ref(void* realm_p, uint32_t promise, int ref) {
  iso_realm* realm = realm_p;
  int i = unref_find(realm, promise);
  if (ref && i >= 0) {
    unref_remove(realm, i);
    realm->pending_unref_ops--;
    realm->pending_ops++;
  } else if (!ref && i < 0 && realm->pending_ops > 0) {
    if (realm->nunref == realm->capunref) {
      size_t cap = realm->capunref ? realm->capunref * 2 : 8;
      uint32_t* ids = realloc(realm->unref_ids, cap * sizeof(*ids));
      if (ids == NULL) {
        return; /* stays ref'd */
      }
      realm->unref_ids = ids;
      realm->capunref = cap;
    }
    realm->unref_ids[realm->nunref++] = promise;
    realm->pending_ops--;
    realm->pending_unref_ops++;
    iso__rt_wake(realm->rt); /* the loop may have nothing else */
  }
}

void iso__rt_ops_release(iso_realm* realm, uint32_t tag) {
  iso_rt* rt = realm->rt;
  if (!realm->fetched || rt->op_fetch_release == UINT32_MAX || rt->freeing) {
    return;
  }
  tick_batch(rt);
  /* promise 0: no promise; the answer is dropped (resolve_realm) */
  static const uint8_t no_args[] = {0x90};
  iso_op_caller who = {.realm = realm->id,
                       .tag = tag,
                       .perms = rt->op_perm_ids ? NULL : realm->perms,
                       .perm_id = realm->perm_id};
  if (rt->op_batch == NULL ||
      iso_op_batch_add(rt->op_batch, rt->op_fetch_release, 0, &who, no_args,
                       sizeof no_args) != 0) {
    return; /* out of memory: the transfers end with the worker's route */
  }
  rt->op_args_out += sizeof no_args; /* given back with its batch */
  rt->own_ops_out++;
  if (tag == 0) {
    realm->fetched = 0;
  }
  if (!uv_is_active((uv_handle_t*)&rt->op_flush)) {
    uv_prepare_start(&rt->op_flush, flush_cb);
  }
}

/* ---- sending ---- */

/* Every op of the batch fails with `message` (the bus is gone). */
static void fail_batch(iso_op_batch* b, const char* message) {
  size_t n = strlen(message);
  for (size_t i = 0; i < b->n; i++) {
    iso_op_rec* r = &b->recs[i];
    r->err = ISO_OPERR_OTHER;
    r->res_off = (uint32_t)b->res.len;
    r->res_len = iso_buf_append(&b->res, message, n) == 0 ? (uint32_t)n : 0;
  }
}

static void work_cb(uv_work_t* req) {
  rt_op_work* w = req->data;
  iso_op_batch_run(w->batch);
}

static void after_work_cb(uv_work_t* req, int status) {
  rt_op_work* w = req->data;
  iso_rt* rt = w->rt;
  if (rt == NULL) {
    iso_op_batch_free(w->batch);
    free(w);
    return;
  }
  for (rt_op_work** pp = &rt->op_works; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  }
  iso_op_batch* b = w->batch;
  free(w);
  iso_rt_ops_done(rt, b);
}

static int queue_work(iso_rt* rt, iso_op_batch* b) {
  rt_op_work* w = calloc(1, sizeof(*w));
  if (w == NULL) {
    return ISO_ENOMEM;
  }
  w->rt = rt;
  w->batch = b;
  w->work.data = w;
  int rc = uv_queue_work(rt->loop, &w->work, work_cb, after_work_cb);
  if (rc != 0) {
    free(w);
    return ISO_EIO;
  }
  w->next = rt->op_works;
  rt->op_works = w;
  return 0;
}

static void flush_cb(uv_prepare_t* h) {
  iso_rt* rt = h->data;
  uv_prepare_stop(h);
  if (rt->op_out.cap > KEEP_OUT_BYTES) {
    iso_buf_close(&rt->op_out); /* a large sync result, copied by now */
  }
  iso_op_batch* b = rt->op_batch;
  if (b == NULL || b->n == 0) {
    return;
  }
  rt->op_batch = NULL;
  b->owner = rt;
  if (rt->op_send == NULL && rt->mailbox != NULL) {
    b->late_fn = mailbox_post;
    b->late_hold = mailbox_hold;
    b->late_arg = rt->mailbox;
  }
  int rc = rt->op_send != NULL ? rt->op_send(rt->op_send_data, b)
                               : queue_work(rt, b);
  if (rc != 0) {
    char msg[128];
    snprintf(msg, sizeof(msg), "the op bus refused the ops: %s",
             iso_strerror(rc));
    fail_batch(b, msg);
    iso_rt_ops_done(rt, b);
  }
}

/* ---- responses ---- */

/* The op's promise no longer counts as pending. */
static void settle_count(iso_realm* realm, uint32_t promise) {
  if (realm->nunref > 0) {
    int i = unref_find(realm, promise);
    if (i >= 0) {
      unref_remove(realm, i);
      realm->pending_unref_ops--;
      return;
    }
  }
  if (realm->pending_ops > 0) {
    realm->pending_ops--;
  }
}

static int reserve_results(iso_rt* rt, size_t n) {
  if (n <= rt->cap_op_results) {
    return 0;
  }
  v8s_op_result* r = realloc(rt->op_results, n * sizeof(*r));
  if (r == NULL) {
    return ISO_ENOMEM;
  }
  rt->op_results = r;
  rt->cap_op_results = n;
  return 0;
}

/* Resolves the realm's responses in b: returns how many there were. The
 * responses of a cancelled job are forgotten, not settled: what it awaits
 * never runs. */
static size_t resolve_realm(iso_rt* rt, iso_realm* realm, iso_op_batch* b) {
  size_t k = 0, later = 0;
  for (size_t i = 0; i < b->n; i++) {
    iso_op_rec* r = &b->recs[i];
    if (r->realm != realm->id || r->promise == 0) {
      continue; /* promise 0: the runtime's own op (op_fetch_release) */
    }
    realm->op_args_out -=
        r->args_len < realm->op_args_out ? r->args_len : realm->op_args_out;
    if (r->err == ISO_OPERR_LATER) {
      /* answered later (iso_op_defer): the promise stays pending */
      later++;
      continue;
    }
    settle_count(realm, r->promise);
    int forget = iso__rt_realm_tag_cancelled(realm, r->tag);
    rt->ops_dropped += forget;
    rt->op_results[k++] = (v8s_op_result){
        .promise = r->promise,
        .err_class = forget                     ? ""
                     : r->err != ISO_OPERR_NONE ? iso_op_err_class(r->err)
                                                : NULL,
        /* a batch whose responses are all empty has no res.data, and
         * NULL + 0 is undefined */
        .data = r->res_len > 0 ? b->res.data + r->res_off : NULL,
        .len = r->res_len,
    };
  }
  if (k == 0 || realm->failed || realm->freed) {
    return k + later;
  }
  v8s_exc exc = {0};
  iso__rt_enter(rt, realm);
  int rc = v8s_ops_resolve(rt->iso, realm->ctx, realm->resolve_ops,
                           rt->op_results, k, &exc);
  iso__rt_leave_hook(rt, realm, rc, &exc);
  return k + later;
}

void iso_rt_ops_done(iso_rt* rt, iso_op_batch* b) {
  assert(iso__rt_on_thread(rt));
  rt->op_args_out -=
      b->args.len < rt->op_args_out ? b->args.len : rt->op_args_out;
  if (rt->freeing || reserve_results(rt, b->n) != 0) {
    iso_op_batch_free(b); /* the realms' counts no longer matter */
    return;
  }
  size_t found = 0;
  /* only a batch that may hold them pays for this pass: one of the
   * mailbox's transport (answers now owed to it), or any while the
   * runtime's own records (op_fetch_release, no promise) are out */
  int owed = b->late_fn == mailbox_post;
  for (size_t i = 0; (owed || rt->own_ops_out > 0) && i < b->n; i++) {
    if (b->recs[i].promise == 0) {
      found++; /* the runtime's own: not a dropped answer */
      rt->own_ops_out--;
    }
    rt->late_pending += owed && b->recs[i].err == ISO_OPERR_LATER;
  }
  rt->in_tick++; /* realms freed meanwhile are released by the tick */
  for (iso_realm* r = rt->realms; r != NULL && found < b->n; r = r->next) {
    if (!r->freed) {
      found += resolve_realm(rt, r, b);
    }
  }
  rt->in_tick--;
  rt->ops_dropped += b->n - found;
  if (rt->cap_op_results > KEEP_RESULTS) {
    free(rt->op_results);
    rt->op_results = NULL;
    rt->cap_op_results = 0;
  }
  late_ref(rt);
  iso_op_batch_reset(b); /* trims what a large tick grew */
  /* a batch of late answers (the transport's own) is not one to reuse */
  if (rt->op_spare == NULL && b->table == rt->ops && b->env == rt->ops_env &&
      b->budget == rt->op_budget) {
    rt->op_spare = b;
  } else {
    iso_op_batch_free(b);
  }
  iso__rt_wake(rt); /* evaluations may have settled; stalls re-checked */
}
