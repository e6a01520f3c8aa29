/* ops.c: the op threads, the front's side of the workers' ops links.
 *
 * DESIGN: a worker sends the async op requests of one event loop tick
 * (iso_rt's op_send) as OP records, one message per batch, on its ops
 * link (ipc/iso_link.h); the link's callback (the link hub's thread) decodes
 * the message into a batch of the front's own (iso_op_batch) and puts it on one
 * NNG work queue (ipc/iso_queue.h, PUSH/PULL inproc); --op-threads threads
 * block on it, each takes a whole batch, runs its ops in order
 * (iso_op_batch_run) and writes their responses as OP_RESULT records in
 * one message (more only past the link's bound) on the same worker's
 * ops link, whose fd the worker's loop polls. So an op costs two link
 * hops and one queue hop, and a tick's thousand ops the same three
 * messages, each encoded once and decoded once.
 *
 * What a batch says of its worker is not taken on trust (step 4: a pool
 * process may be compromised). Its route is the link it came on: the
 * front's batch carries the worker's token in pool->routes, which the op
 * thread looks up under routes_lock when it sends the responses back (a
 * worker freed meanwhile has left the table: the responses are dropped).
 * Its records name their permissions by id, and each gets the set that
 * id names in its worker's table (pool_worker.perms, the sets the front
 * sent that worker with its jobs; an id that names none gets no
 * permission, so the op fails PermissionDenied if it needs one), never a
 * set the worker names: a worker can have at most the permissions of the
 * jobs sent to it. An op index outside the table fails that op (TypeError)
 * as the batch runs. The table is written by routing (pool__perm_id, as a
 * TASK record is sent) and read as a message is decoded, under the
 * worker's perm_lock. A message that does not decode makes the worker bad
 * (pool__worker_bad), and nothing more is read from its ops link.
 *
 * The net thread runs fetch's transfers (ops/net.c): it loops in
 * iso_net_run, which waits in curl_multi_poll for sockets, libcurl's
 * timers and commands (curl_multi_wakeup), so it never blocks an op
 * thread and needs no loop of its own; a worker's transfers end when its
 * route goes (route_clear: iso_net_release).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "pool_private.h"

#define DEFAULT_OP_THREADS 2

/* An op thread's buffer of OP_RESULT records is kept up to this. */
#define OUT_KEPT ((size_t)1 << 20)

/* ---- the permission sets sent to each worker ---- */

uint32_t pool__perm_id(pool_worker* w, iso_perms* perms, int* send) {
  pool_perm* last = &w->perms[w->perm_last];
  pool_perm* e = NULL;
  if (last->perms == perms && perms != NULL) {
    e = last; /* the usual case: one set for most jobs */
  } else {
    uint64_t h = iso_perms_hash(perms);
    pool_perm* spare = NULL; /* free, or the least recently used unused */
    for (uint32_t i = 0; i < w->nperms; i++) {
      pool_perm* p = &w->perms[i];
      if (p->perms != NULL && p->hash == h &&
          iso_perms_equal(p->perms, perms)) {
        e = p;
        break;
      }
      if (p->users == 0 &&
          (spare == NULL || (spare->perms != NULL &&
                             (p->perms == NULL || p->used < spare->used)))) {
        spare = p;
      }
    }
    if (e == NULL) {
      /* a new id: nslots jobs use at most nslots entries of 2 * nslots,
       * so there is a spare */
      assert(spare != NULL);
      e = spare;
      iso_perms_unref(e->perms);
      e->perms = iso_perms_ref(perms);
      e->hash = h;
      e->gen = (e->gen + 1) & 0xffffu;
      e->gen = e->gen != 0 ? e->gen : 1;
      *send = 1;
    }
  }
  w->perm_last = (uint32_t)(e - w->perms);
  e->users++;
  e->used = ++w->perm_clock;
  return POOL_PERM_ID(w->perm_last, e->gen);
}

void pool__perm_release(pool_worker* w, uint32_t id) {
  uint32_t i = POOL_PERM_INDEX(id);
  if (i < w->nperms && w->perms[i].gen == POOL_PERM_GEN(id) &&
      w->perms[i].users > 0) {
    w->perms[i].users--;
  }
}

const iso_perms* pool__perm_resolve(pool_worker* w, uint32_t id) {
  uint32_t i = POOL_PERM_INDEX(id);
  if (id != 0 && i < w->nperms && w->perms[i].perms != NULL &&
      w->perms[i].gen == POOL_PERM_GEN(id)) {
    return iso_perms_ref(w->perms[i].perms);
  }
  return iso_perms_none();
}

/* ---- the net thread ---- */

static void* net_thread_main(void* arg) {
  iso_pool* pool = arg;
  pthread_setname_np(pthread_self(), "isopool-net");
  while (!atomic_load(&pool->net_quit) && iso_net_run(pool->net, -1)) {
  }
  return NULL;
}

static int net_start(iso_pool* pool, char* err, size_t errlen) {
  iso_net_opts no = {.max_body_bytes =
                         pool->opts.fetch_max_mb * ((size_t)1 << 20)};
  char why[256] = "";
  int rc = iso_net_new(&no, &pool->net, why, sizeof why);
  if (rc != 0) {
    snprintf(err, errlen, "fetch: %s", why[0] ? why : iso_strerror(rc));
    return rc;
  }
  atomic_store(&pool->net_quit, 0);
  if (pthread_create(&pool->net_thread, NULL, net_thread_main, pool) != 0) {
    snprintf(err, errlen, "cannot start the net thread");
    return ISO_ENOMEM;
  }
  pool->net_started = 1;
  return 0;
}

static void net_stop(iso_pool* pool) {
  if (pool->net_started) {
    atomic_store(&pool->net_quit, 1);
    iso_net_wakeup(pool->net);
    pthread_join(pool->net_thread, NULL);
    pool->net_started = 0;
  }
  if (pool->net != NULL) {
    iso_net_stop(pool->net); /* what waits is answered; no thread runs it */
  }
}

/* ---- the op threads ---- */

/* The worker a batch's route token names, or NULL. Called with
 * routes_lock, which keeps it alive. */
static pool_worker* route_of(iso_pool* pool, uint64_t route) {
  assert(pool__mutex_held(&pool->routes_lock));
  uint32_t i = (uint32_t)route;
  uint32_t gen = (uint32_t)(route >> 32);
  if (i < POOL_MAX_ROUTES && pool->routes[i].w != NULL &&
      pool->routes[i].gen == gen) {
    return pool->routes[i].w;
  }
  return NULL;
}

/* Writes the responses of b as OP_RESULT records on the ops link of the
 * worker its route names, in as few messages as the link's bound allows
 * (one, but for results of hundreds of MiB); dropped when that worker is
 * gone. */
static void send_back(iso_pool* pool, iso_op_batch* b, iso_buf* buf) {
  iso_buf out = *buf; /* the op thread's, kept for its next batch */
  iso_buf_reset(&out);
  size_t head_len;
  iso_link_head(&head_len);
  size_t limit = POOL_OPS_LINK_MAX - head_len;
  pool__mutex_lock(&pool->routes_lock);
  pool_worker* w = route_of(pool, b->route);
  for (size_t i = 0; i < b->n && w != NULL; i++) {
    const iso_op_rec* r = &b->recs[i];
    iso_link_rec rec = {
        .kind = ISO_LINK_OP_RESULT,
        .u.op_result = {.promise = r->promise,
                        .realm = r->realm,
                        .tag = r->tag,
                        .err = (uint32_t)r->err,
                        .result = {r->res_len > 0 ? b->res.data + r->res_off
                                                  : NULL,
                                   r->res_len}},
    };
    size_t mark = out.len;
    int rc = iso_link_put(&out, &rec);
    if (rc == 0 && out.len - mark > limit) {
      out.len = mark;
      rc = ISO_ETOOBIG;
    }
    if (rc != 0) { /* it fails, with a message */
      static const char kMsg[] = "the op's result is too large to send";
      rec.u.op_result.err = ISO_OPERR_OTHER;
      rec.u.op_result.result =
          (iso_bytes){(const uint8_t*)kMsg, sizeof kMsg - 1};
      if (iso_link_put(&out, &rec) != 0) {
        abort(); /* its promise would never settle */
      }
    }
    if (out.len > limit) { /* what was before goes first */
      iso_link_send(w->ops, out.data, mark);
      memmove(out.data, out.data + mark, out.len - mark);
      out.len -= mark;
    }
  }
  if (w != NULL) {
    iso_link_send(w->ops, out.data, out.len); /* closing: dropped */
  }
  pool__mutex_unlock(&pool->routes_lock);
  if (out.cap > OUT_KEPT) { /* one huge batch's room is not kept */
    iso_buf_close(&out);
  }
  *buf = out;
}

/* A deferred op's answer (iso_op_ticket_answer, from the net thread or an
 * op thread): one OP_RESULT on its worker's ops link, which fills the
 * record if the batch's LATER answer has not come yet, else settles the
 * promise on its own (pool/worker_ops.c); dropped when the worker is
 * gone. */
static void late_answer(void* arg,
                        uint64_t route,
                        uint32_t promise,
                        uint32_t realm,
                        uint32_t tag,
                        iso_op_err err,
                        const void* res,
                        size_t len) {
  iso_pool* pool = arg;
  iso_buf out;
  iso_buf_init(&out);
  iso_link_rec rec = {
      .kind = ISO_LINK_OP_RESULT,
      .u.op_result = {.promise = promise,
                      .realm = realm,
                      .tag = tag,
                      .err = (uint32_t)err,
                      .result = {len > 0 ? res : NULL, len}},
  };
  if (iso_link_put(&out, &rec) != 0) {
    static const char kMsg[] = "the op's result is too large to send";
    iso_buf_reset(&out);
    rec.u.op_result.err = ISO_OPERR_OTHER;
    rec.u.op_result.result = (iso_bytes){(const uint8_t*)kMsg, sizeof kMsg - 1};
    if (iso_link_put(&out, &rec) != 0) {
      abort(); /* its promise would never settle */
    }
  }
  pool__mutex_lock(&pool->routes_lock);
  pool_worker* w = route_of(pool, route);
  if (w != NULL) {
    iso_link_send(w->ops, out.data, out.len);
  }
  pool__mutex_unlock(&pool->routes_lock);
  iso_buf_close(&out);
}

static void* op_thread_main(void* arg) {
  iso_pool* pool = arg;
  pthread_setname_np(pthread_self(), "isopool-op");
  iso_buf out;
  iso_buf_init(&out);
  void* item;
  while (iso_queue_recv(pool->opq, &item) == 0) {
    iso_op_batch* b = item;
    iso_op_batch_run(b);
    send_back(pool, b, &out);
    iso_op_batch_free(b);
  }
  iso_buf_close(&out);
  return NULL;
}

/* ---- the front's end of an ops link ---- */

void pool__ops_msg_cb(const uint8_t* data, size_t len, void* arg) {
  pool_worker* w = arg;
  iso_pool* pool = w->pool;
  if (atomic_load(&w->bad)) {
    return; /* nothing it says is taken */
  }
  iso_link_rd rd;
  iso_link_rec rec;
  char err[256];
  if (iso_link_rd_init(&rd, ISO_LINK_WORKER_OPS, data, len, err, sizeof err) !=
      0) {
    pool__worker_bad(w, "%s", err);
    return;
  }
  iso_op_batch* b = iso_op_batch_new(iso_ops_builtin(), pool->ops_env);
  if (b == NULL) {
    abort(); /* its promises would never settle */
  }
  b->route = w->route;
  b->late_fn = late_answer;
  b->late_arg = pool;
  int rc;
  /* the records of a batch mostly share one set: resolved once each run
   * of the same id */
  uint32_t last_id = 0;
  const iso_perms* perms = NULL;
  pthread_mutex_lock(&w->perm_lock);
  while ((rc = iso_link_rd_next(&rd, &rec, err, sizeof err)) == 1) {
    const iso_link_op* o = &rec.u.op;
    if (perms == NULL || o->perm_id != last_id) {
      iso_perms_unref(perms);
      perms = pool__perm_resolve(w, o->perm_id);
      last_id = o->perm_id;
    }
    iso_op_caller caller = {.realm = o->realm,
                            .tag = o->tag,
                            .perms = perms,
                            .perm_id = o->perm_id};
    if (iso_op_batch_add(b, o->op, o->promise, &caller, o->args.data,
                         o->args.len) != 0) {
      abort(); /* likewise */
    }
  }
  pthread_mutex_unlock(&w->perm_lock);
  iso_perms_unref(perms);
  if (rc < 0) {
    pool__worker_bad(w, "%s", err);
    iso_op_batch_free(b);
    return;
  }
  if (b->n == 0 || iso_queue_send(pool->opq, b) != 0) {
    iso_op_batch_free(b); /* stopping: the worker stops too */
  }
}

int pool__ops_start(iso_pool* pool, char* err, size_t errlen) {
  const iso_pool_opts* o = &pool->opts;
  iso_ops_env_opts eo = {
      .data_root = o->data_dir,
      .kv_max_bytes = o->kv_max_mb * ((size_t)1 << 20),
      .kv_path = o->kv_path,
      .kv_sync = (iso_kv_sync)o->kv_sync,
  };
  char why[512] = "";
  int rc = iso_ops_env_new(&eo, &pool->ops_env, why, sizeof(why));
  if (rc == 0) {
    iso_perm_flags flags = {.read = o->allow_read,
                            .write = o->allow_write,
                            .env = o->allow_env,
                            .net = o->allow_net};
    rc = iso_perms_parse_flags(&flags, &pool->granted, why, sizeof(why));
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s", why[0] ? why : iso_strerror(rc));
    return rc;
  }
  char name[64];
  snprintf(name, sizeof(name), "%p-ops", (void*)pool);
  rc = iso_queue_new(name, &pool->opq);
  if (rc != 0) {
    snprintf(err, errlen, "cannot open the op queue: %s", iso_strerror(rc));
    return rc;
  }
  rc = net_start(pool, err, errlen);
  if (rc != 0) {
    return rc;
  }
  iso_ops_env_set_net(pool->ops_env, pool->net); /* fetch's ops (ops/fetch.c) */
  int n = o->op_threads > 0 ? o->op_threads : DEFAULT_OP_THREADS;
  pool->op_threads = calloc((size_t)n, sizeof(pthread_t));
  if (pool->op_threads == NULL) {
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&pool->op_threads[i], NULL, op_thread_main, pool) != 0) {
      snprintf(err, errlen, "cannot start the op threads");
      return ISO_ENOMEM;
    }
    pool->nop_threads++;
  }
  return 0;
}

static void drain_cb(void* item, void* arg) {
  iso_op_batch_free(item);
}

void pool__ops_stop(iso_pool* pool) {
  net_stop(pool);
  if (pool->opq == NULL) {
    return;
  }
  iso_queue_shutdown(pool->opq, drain_cb, pool);
  for (int i = 0; i < pool->nop_threads; i++) {
    pthread_join(pool->op_threads[i], NULL);
  }
  pool->nop_threads = 0;
}

void pool__ops_close(iso_pool* pool) {
  net_stop(pool);
  iso_net_free(pool->net);
  pool->net = NULL;
  iso_queue_free(pool->opq);
  pool->opq = NULL;
  free(pool->op_threads);
  pool->op_threads = NULL;
  iso_perms_unref(pool->granted);
  pool->granted = NULL;
  iso_ops_env_free(pool->ops_env);
  pool->ops_env = NULL;
}
