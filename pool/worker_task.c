/* worker_task.c: a worker thread's tasks: made from TASK records, run,
 * and finished into DONE records with the reply the worker encodes.
 *
 * DESIGN: a TASK record arrives as a view into the jobs link's message;
 * its task copies what it keeps (its strings, arguments and the client's
 * id, into one buffer the task keeps for reuse, as it keeps the task) and
 * starts at once, on the worker's own thread: an eval job in a fresh
 * realm of its own, a call job in the warm realm for its module and
 * permissions (worker_warm.c; evaluated on first use). The runtime calls
 * back as evaluations settle; the worker's flush (worker.c, after the
 * runtime's tick in each loop iteration) finishes the settled tasks: each
 * reply map is encoded here and goes out in a DONE record naming the job
 * by its token, with the others of the iteration in one message. A CANCEL
 * record (the front answered the job) ends its task without a reply, or
 * keeps it from starting if it comes first (w->cancelled, per slot).
 *
 * Deadlines: one uv_timer at the earliest deadline of the active tasks
 * (kept sorted) answers overdue ones `timeout`; JavaScript that never
 * returns to the loop is stopped by its group's watchdog (group.c), which
 * also halts it when the service stops (pool__runner_halt).
 *
 * Permission sets come with the first TASK that names their id on this
 * worker (the front's table decides: records.h, POOL_PERM_ID); the
 * worker makes the set (iso_perms_from_req) and keeps it under that id
 * until another set takes the id. Thread: the runner's, all of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_private.h"

/* Log lines a task keeps, and their total size. */
#define POOL_MAX_LOGS 100
#define POOL_MAX_LOG_BYTES (16 * 1024)

/* Tasks are kept for reuse (up to TASKS_KEPT), so a job's start costs no
 * allocation of the worker's own; a task keeps its buffer unless it grew
 * past TASK_MEM_KEPT. */
#define TASKS_KEPT 256
#define TASK_MEM_KEPT ((size_t)64 << 10)

/* ---- task results ---- */

static void copy_error(iso_js_error* dst, const iso_js_error* src) {
  iso_js_error_close(dst);
  dst->name = src->name ? strdup(src->name) : NULL;
  dst->message = strdup(src->message ? src->message : "");
  dst->stack = src->stack ? strdup(src->stack) : NULL;
  dst->kind = src->kind;
  dst->code = src->code;
}

/* Settles the job with an error; this overrides a value not yet sent
 * (the realm failed in the same loop iteration), but the first error
 * stands. */
static void settle_error(pool_task* t, int status, const iso_js_error* err) {
  if (t->settled && t->status != 0) {
    return;
  }
  free(t->value);
  t->value = NULL;
  t->value_len = 0;
  t->settled = 1;
  t->status = status ? status : ISO_EJS;
  copy_error(&t->err, err);
}

static void eval_cb(iso_realm* realm,
                    void* data,
                    int status,
                    const uint8_t* mp,
                    size_t len,
                    const iso_js_error* err) {
  pool_task* t = data;
  /* its costs: the evaluation is freed after this callback */
  t->have_stats = iso_realm_eval_stats(realm, t, &t->stats) == 0;
  if (status != 0) {
    settle_error(t, status, err);
    return;
  }
  if (t->settled) {
    return;
  }
  t->settled = 1;
  t->status = 0;
  if (mp != NULL) {
    t->value = malloc(len);
    if (t->value != NULL) {
      memcpy(t->value, mp, len);
      t->value_len = len;
    }
  }
}

static iso_log_level level_of(const char* level) {
  switch (level[0]) {
    case 'i':
      return ISO_LOG_INFO;
    case 'd':
      return ISO_LOG_DEBUG;
    case 'w':
      return ISO_LOG_WARN;
    case 'e':
      return ISO_LOG_ERROR;
    default:
      return ISO_LOG_LOG;
  }
}

void pool__task_log(pool_task* t,
                    const char* level,
                    const char* text,
                    size_t len) {
  if (t->nlogs >= POOL_MAX_LOGS || t->log_bytes + len > POOL_MAX_LOG_BYTES) {
    t->logs_dropped++;
    return;
  }
  if (t->logs == NULL) {
    /* one more for the "lines dropped" note */
    t->logs = malloc((POOL_MAX_LOGS + 1) * sizeof(iso_log));
  }
  char* copy = t->logs != NULL ? malloc(len + 1) : NULL;
  if (copy == NULL) {
    t->logs_dropped++;
    return;
  }
  memcpy(copy, text, len);
  copy[len] = '\0';
  t->logs[t->nlogs++] = (iso_log){level_of(level), copy, len};
  t->log_bytes += len;
}

int pool__task_busy(const pool_runner* w, const iso_realm* realm) {
  for (const pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t->realm == realm) {
      return 1;
    }
  }
  return 0;
}

void pool__tasks_fail_realm(pool_runner* w,
                            const iso_realm* realm,
                            const iso_js_error* err) {
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t->realm == realm && !t->settled) {
      settle_error(t, err->code, err);
    }
  }
}

int pool__task_blame(pool_runner* w, void* culprit, const iso_js_error* err) {
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t == culprit) {
      settle_error(t, err->code, err);
      return 1;
    }
  }
  return 0;
}

/* ---- eval realms: one per job ---- */

static void eval_log_cb(iso_realm* realm,
                        void* data,
                        const char* level,
                        const char* text,
                        size_t len) {
  pool__task_log(data, level, text, len);
}

static void eval_error_cb(iso_realm* realm,
                          void* data,
                          const iso_js_error* err) {
  /* an unhandled rejection in the tick that produced the value still
   * fails the job, as it would fail `isopool run` */
  settle_error(data, err->code, err);
}

static const iso_realm_cbs kEvalCbs = {
    .log_cb = eval_log_cb,
    .error_cb = eval_error_cb,
};

/* ---- deadlines ---- */

static void deadline_cb(uv_timer_t* t);

void pool__tasks_arm(pool_runner* w) {
  pool_task* head = NULL;
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (!t->settled && t->deadline_ns != 0) {
      head = t;
      break;
    }
  }
  if (head == NULL) {
    uv_timer_stop(&w->deadline);
    return;
  }
  /* libuv counts from the loop's cached time, which running JavaScript
   * has left behind */
  uv_update_time(w->loop);
  uint64_t now = pool__now();
  uint64_t deadline = head->deadline_ns;
  uint64_t ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
  uv_timer_start(&w->deadline, deadline_cb, ms, 0);
}

static void deadline_cb(uv_timer_t* h) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  uint64_t now = pool__now();
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (!t->settled && t->deadline_ns != 0 && t->deadline_ns <= now) {
      t->settled = 1;
      t->status = ISO_ETIMEDOUT;
    }
  }
  /* the prepare handle finishes them in this loop iteration; a timer that
   * fired a little early (millisecond rounding) is armed again */
  pool__tasks_arm(w);
}

/* ---- giving jobs back: DONE records ---- */

/* A job's DONE record: `reply` (its status and code; NULL: none, the job
 * only comes back) is the answer, `note` (NULL: none) for poolctl
 * workers. */
static void give_back(pool_runner* w,
                      uint32_t slot,
                      uint32_t gen,
                      uint64_t started_ns,
                      const iso_buf* reply,
                      int status,
                      int code,
                      const char* note,
                      const iso_stats* stats) {
  uint64_t now = pool__now();
  iso_link_rec r = {
      .kind = ISO_LINK_DONE,
      .u.done = {.slot = slot,
                 .gen = gen,
                 .started_ns = started_ns,
                 .finished_ns = now > started_ns ? now : started_ns},
  };
  if (reply != NULL) {
    r.u.done.status = (iso_status)status;
    r.u.done.code = (iso_proto_code)code;
    r.u.done.reply = (iso_bytes){reply->data, reply->len};
    r.u.done.note = iso_str_of(note != NULL && note[0] ? note : NULL);
  }
  if (reply != NULL && stats != NULL) {
    r.u.done.cpu_us = (uint64_t)stats->cpu_us;
    r.u.done.heap_bytes = (uint64_t)stats->heap_bytes;
    r.u.done.ops = (uint64_t)stats->ops;
    r.u.done.limit = stats->limit;
  }
  pool__runner_put(w, &r);
}

/* A worker's error reply (open for its stats) into out, with the
 * request's id unless that makes it too large for --max-message: then
 * with a nil id, the one reply the client can still receive (its id may
 * take nearly all the request's room; a reply over the limit would be
 * the worker's fault, which loses the worker). */
static void reply_error(const pool_runner* w,
                        iso_buf* out,
                        iso_bytes id,
                        iso_proto_code code,
                        const char* msg) {
  size_t mark = out->len;
  pool__reply_error(out, id, code, msg, NULL);
  if (out->len - mark + ISO_PROTO_STATS_MAX > w->o.max_message) {
    out->len = mark;
    pool__reply_error(out, (iso_bytes){NULL, 0}, code, msg, NULL);
  }
}

/* The shutdown's answer for a job that did not finish: `cancelled` for
 * one that started (some of its JavaScript may have run), or
 * `shutting_down` for one whose TASK came after the STOP (it never ran:
 * a client may send it elsewhere). */
static void give_back_stopping(pool_runner* w,
                               uint32_t slot,
                               uint32_t gen,
                               iso_bytes id,
                               uint64_t started_ns,
                               int started) {
  iso_proto_code code = started ? ISO_CODE_CANCELLED : ISO_CODE_SHUTTING_DOWN;
  iso_buf reply;
  iso_buf_init(&reply);
  reply_error(w, &reply, id, code,
              started ? POOL_STOPPED_MSG : "the service is shutting down");
  give_back(w, slot, gen, started_ns, &reply, ISO_STATUS_ERROR, code, NULL,
            NULL);
  iso_buf_close(&reply);
}

/* A CANCEL record named this job. */
static int cancelled(const pool_runner* w, uint32_t slot, uint32_t gen) {
  return slot < w->nslots && w->cancelled[slot] == gen;
}

/* ---- starting tasks ---- */

static pool_task* task_new(pool_runner* w) {
  pool_task* t = w->spare;
  if (t != NULL) {
    w->spare = t->anext;
    w->nspare--;
    iso_buf mem = t->mem;
    memset(t, 0, sizeof(*t));
    t->mem = mem;
    iso_buf_reset(&t->mem);
    return t;
  }
  t = calloc(1, sizeof(*t));
  if (t == NULL) {
    abort(); /* a job would be lost; nothing sane is left to do */
  }
  iso_buf_init(&t->mem);
  return t;
}

/* Copies what the TASK record says into t (its strings NUL-terminated,
 * all in t->mem). Returns 0 or ISO_ENOMEM. */
static int task_copy(pool_task* t, const iso_link_task* rec) {
  size_t need = (rec->module.ptr ? rec->module.len + 1 : 0) +
                (rec->export_name.ptr ? rec->export_name.len + 1 : 0) +
                (rec->source.ptr ? rec->source.len + 1 : 0) + rec->args.len +
                rec->id.len;
  if (iso_buf_reserve(&t->mem, need) != 0) {
    return ISO_ENOMEM;
  }
  /* room made: nothing below moves the buffer */
  uint8_t* base = t->mem.data;
  size_t at[5] = {0};
  const void* src[5] = {rec->module.ptr, rec->export_name.ptr, rec->source.ptr,
                        rec->args.data, rec->id.data};
  size_t len[5] = {rec->module.len, rec->export_name.len, rec->source.len,
                   rec->args.len, rec->id.len};
  for (int i = 0; i < 5; i++) {
    at[i] = t->mem.len;
    if (src[i] != NULL) {
      iso_buf_append(&t->mem, src[i], len[i]);
      if (i < 3) {
        iso_buf_append(&t->mem, "", 1);
      }
    }
  }
  assert(t->mem.data == base);
  t->module = rec->module.ptr ? (const char*)base + at[0] : NULL;
  t->export_name = rec->export_name.ptr ? (const char*)base + at[1] : NULL;
  t->source = rec->source.ptr ? (const char*)base + at[2] : NULL;
  t->source_len = rec->source.len;
  t->args = (iso_bytes){base + at[3], rec->args.len};
  t->id = rec->id.data ? (iso_bytes){base + at[4], rec->id.len}
                       : (iso_bytes){NULL, 0};
  t->slot = rec->slot;
  t->gen = rec->gen;
  t->kind = rec->kind;
  t->deadline_ns = rec->deadline_ns;
  t->received_ns = rec->received_ns;
  t->perm_id = rec->perm_id;
  t->timeout_ms = rec->timeout_ms;
  t->cpu_ms = rec->cpu_ms;
  return 0;
}

/* The permission set a TASK record names by id: the one it brings (kept
 * under that id from now on, in place of the id's last), or the one kept;
 * NULL for an id the front never gave, or a set that cannot be made (the
 * front's fault, or no memory: logged). */
static iso_perms* perms_of(pool_runner* w, const iso_link_task* rec) {
  uint32_t i = POOL_PERM_INDEX(rec->perm_id);
  uint32_t gen = POOL_PERM_GEN(rec->perm_id);
  if (i >= w->nperms) {
    return NULL;
  }
  if (rec->perms.data != NULL) {
    static _Thread_local iso_str
        items[ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES];
    iso_perm_req req;
    iso_perms* set = NULL;
    char err[256] = "";
    int rc = iso_link_get_perms(rec->perms, &req, items,
                                sizeof items / sizeof items[0]);
    if (rc == 0) {
      rc = iso_perms_from_req(&req, &set, err, sizeof err);
    }
    if (rc != 0) {
      pool__logf(&w->o.log, "error",
                 "worker %d: permission set %u cannot be made: %s", w->id,
                 rec->perm_id, err[0] ? err : iso_strerror(rc));
      return NULL;
    }
    iso_perms_unref(w->perms[i].perms);
    w->perms[i].perms = set;
    w->perms[i].gen = gen;
  }
  return w->perms[i].gen == gen ? w->perms[i].perms : NULL;
}

static void active_insert(pool_runner* w, pool_task* t) {
  uint64_t d = t->deadline_ns;
  pool_task* last = w->active_last;
  if (last != NULL && d != 0 && last->deadline_ns != 0 &&
      last->deadline_ns <= d) {
    /* the usual case: jobs come in the order of their deadlines */
    t->anext = NULL;
    last->anext = t;
    w->active_last = t;
    return;
  }
  pool_task** pp = &w->active;
  while (*pp != NULL &&
         (d == 0 || ((*pp)->deadline_ns != 0 && (*pp)->deadline_ns <= d))) {
    pp = &(*pp)->anext;
  }
  t->anext = *pp;
  *pp = t;
  if (t->anext == NULL) {
    w->active_last = t;
  }
}

/* Starts t in its realm; returns 0 or why not. */
static int task_run(pool_runner* w, pool_task* t, iso_perms* perms) {
  const char* spec = t->module != NULL ? t->module : "";
  const char* exp = t->export_name != NULL ? t->export_name : "";
  iso_eval_opts o = {
      .specifier = spec[0] ? spec : NULL,
      .source = t->source,
      .source_len = t->source_len,
      .export_name = exp[0] ? exp : "default",
      .call = 1,
      .args_mp = t->args.data,
      .args_len = t->args.len,
      .deadline_ns = t->deadline_ns,
      .cpu_ms = t->cpu_ms,
  };
  if (perms == NULL) {
    pool__logf(&w->o.log, "error",
               "worker %d: a task names permission set %u, which it was "
               "never sent",
               w->id, t->perm_id);
    return ISO_EINTERNAL;
  }
  if (t->kind == ISO_JOB_EVAL) {
    o.main = 1;
    int rc = iso_realm_new(w->rt, &kEvalCbs, t, &t->realm);
    if (rc == 0) {
      iso_realm_set_perms(t->realm, perms);
      iso_realm_set_perm_id(t->realm, t->perm_id);
      iso_realm_set_deadline(t->realm, t->deadline_ns);
      rc = iso_realm_eval(t->realm, &o, eval_cb, t);
    }
    return rc;
  }
  /* the realm is the module's: by its URL, so "x.js" and "./x.js" share
   * one; a specifier that does not resolve fails in the evaluation. The
   * specifier the last call used finds it without resolving. */
  t->realm = pool__warm_by_spec(w, perms, spec);
  if (t->realm == NULL) {
    char* url = NULL;
    if (iso_rt_module_url(w->rt, spec, &url) != 0) {
      url = NULL;
    }
    t->realm = pool__warm_for(w, perms, url != NULL ? url : spec, spec);
    free(url);
  }
  if (t->realm == NULL) {
    return ISO_EBUSY;
  }
  /* its ops from now on go under this call's id of the set (an equal set:
   * the realm is the set's) */
  iso_realm_set_perm_id(t->realm, t->perm_id);
  return iso_realm_eval(t->realm, &o, eval_cb, t);
}

void pool__task_take(pool_runner* w, const iso_link_task* rec) {
  assert(pool__on_worker(w));
  iso_perms* perms = perms_of(w, rec); /* first: it may bring a set */
  if (w->stopping && !cancelled(w, rec->slot, rec->gen)) {
    give_back_stopping(w, rec->slot, rec->gen, rec->id, 0, 0);
    return;
  }
  if (w->stopping || cancelled(w, rec->slot, rec->gen)) {
    give_back(w, rec->slot, rec->gen, 0, NULL, 0, 0, NULL, NULL); /* answered */
    return;
  }
  pool_task* t = task_new(w);
  int rc = task_copy(t, rec);
  if (rc != 0) { /* what the job needs to be answered is kept */
    t->slot = rec->slot;
    t->gen = rec->gen;
    t->kind = rec->kind;
    t->timeout_ms = rec->timeout_ms;
  }
  t->started_ns = pool__now();
  if (rc == 0) {
    rc = task_run(w, t, perms);
  }
  if (rc != 0) {
    char msg[160];
    if (rc == ISO_EBUSY) {
      snprintf(msg, sizeof(msg),
               "the worker runs calls to %d other modules or permission "
               "sets now; retry later",
               POOL_MAX_WARM);
    } else {
      snprintf(msg, sizeof(msg), "%s", iso_strerror(rc));
    }
    iso_js_error e = {.name = "Error", .message = msg, .code = ISO_EINTERNAL};
    settle_error(t, ISO_EINTERNAL, &e);
  }
  active_insert(w, t);
}

void pool__task_cancel(pool_runner* w, uint32_t slot, uint32_t gen) {
  assert(pool__on_worker(w));
  if (slot < w->nslots) {
    w->cancelled[slot] = gen;
  }
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t->slot == slot && t->gen == gen) {
      /* its JavaScript will not run again: the watchdog may forget it */
      pool__group_uncancel(w->group, w, t->deadline_ns);
      t->cancelled = 1;
      if (!t->settled) {
        t->settled = 1;
        t->status = ISO_ETIMEDOUT;
      }
    }
  }
}

/* ---- finishing tasks ---- */

/* Frees what the task holds and keeps it for reuse. */
static void task_free(pool_runner* w, pool_task* t) {
  free(t->value);
  iso_js_error_close(&t->err);
  for (size_t i = 0; i < t->nlogs; i++) {
    free((char*)t->logs[i].text);
  }
  free(t->logs);
  if (w->nspare < TASKS_KEPT) {
    if (t->mem.cap > TASK_MEM_KEPT) {
      iso_buf_close(&t->mem);
    }
    t->anext = w->spare;
    w->spare = t;
    w->nspare++;
  } else {
    iso_buf_close(&t->mem);
    free(t);
  }
}

void pool__tasks_close(pool_runner* w) {
  while (w->spare != NULL) {
    pool_task* t = w->spare;
    w->spare = t->anext;
    iso_buf_close(&t->mem);
    free(t);
  }
  w->nspare = 0;
}

/* A finished task's answer: the reply map, its status and code, a note
 * of an error for poolctl workers, and its costs. */
typedef struct pool_reply {
  iso_buf* reply; /* the runner's, kept for reuse */
  int status, code;
  char note[160];
  iso_stats stats; /* its costs and limit, for the DONE record */
} pool_reply;

/* The reply map of a task that finished, open for the stats the front
 * adds (iso_proto_encode_reply_open): its value, or its error with the
 * code the runtime's status maps to (too_large if over --max-message with
 * the stats). */
static void encode_reply(pool_runner* w, pool_task* t, pool_reply* d) {
  d->reply = &w->reply;
  iso_buf_reset(d->reply);
  d->note[0] = '\0';
  iso_proto_reply r = {
      .id = t->id,
      .logs = t->logs,
      .nlogs = t->nlogs,
      .stats = {.cpu_us = (int64_t)(t->stats.cpu_ns / 1000),
                .heap_bytes = (int64_t)t->stats.heap_bytes,
                .ops = (int64_t)t->stats.ops},
  };
  char msg[256];
  int status = t->status;
  r.stats.limit = status == ISO_ECPULIMIT    ? ISO_LIMIT_CPU
                  : status == ISO_EHEAPLIMIT ? ISO_LIMIT_MEMORY
                                             : ISO_LIMIT_NONE;
  if (status == 0) {
    r.status = ISO_STATUS_FULFILLED;
    r.value = (iso_bytes){t->value, t->value_len};
  } else if (status == ISO_ETERMINATED &&
             (w->stopping || atomic_load(&w->halted))) {
    /* stopped by the shutdown, not by its deadline: it ran in part */
    r.status = ISO_STATUS_ERROR;
    r.code = ISO_CODE_CANCELLED;
    r.message = iso_str_of(POOL_STOPPED_MSG);
  } else if (status == ISO_ETIMEDOUT || status == ISO_ETERMINATED) {
    r.stats.limit = ISO_LIMIT_WALL; /* its deadline stopped it */
    r.status = ISO_STATUS_ERROR;
    r.code = iso_proto_code_from_err(status);
    snprintf(
        msg, sizeof(msg), "the job ran past its deadline of %u ms%s",
        t->timeout_ms,
        status == ISO_ETERMINATED ? " and its JavaScript was stopped" : "");
    r.message = iso_str_of(msg);
  } else if (status == ISO_ETOOBIG || status == ISO_EINTERNAL ||
             status == ISO_ELOST || status == ISO_ECPULIMIT ||
             status == ISO_EHEAPLIMIT) {
    /* the service's failures, with their wire codes; any other status is
     * the job's own: a rejection */
    r.status = ISO_STATUS_ERROR;
    r.code = iso_proto_code_from_err(status);
    r.message = iso_str_of(t->err.message);
  } else {
    r.status = ISO_STATUS_REJECTED;
    r.name = iso_str_of(t->err.name ? t->err.name : "Error");
    r.message = iso_str_of(t->err.message);
    r.stack = iso_str_of(t->err.stack);
  }
  if (t->logs_dropped > 0 && t->logs != NULL) {
    char note[96];
    int n = snprintf(note, sizeof(note), "(%zu more log lines dropped)",
                     t->logs_dropped);
    t->logs[t->nlogs] = (iso_log){ISO_LOG_WARN, strdup(note), (size_t)n};
    r.nlogs = ++t->nlogs;
  }
  d->status = r.status;
  d->code = r.status == ISO_STATUS_ERROR ? (int)r.code : 0;
  d->stats = r.stats;
  if (r.status != ISO_STATUS_FULFILLED) {
    const char* what =
        r.status == ISO_STATUS_ERROR ? iso_proto_code_name(r.code) : r.name.ptr;
    snprintf(d->note, sizeof(d->note), "%s: %.*s",
             what != NULL ? what : "Error", (int)r.message.len,
             r.message.ptr != NULL ? r.message.ptr : "");
  }
  size_t max = w->o.max_message;
  if (iso_proto_encode_reply_open(&r, d->reply) != 0) {
    iso_buf_reset(d->reply);
    reply_error(w, d->reply, t->id, ISO_CODE_INTERNAL,
                "the reply could not be encoded");
    d->status = ISO_STATUS_ERROR;
    d->code = ISO_CODE_INTERNAL;
  } else if (d->reply->len + ISO_PROTO_STATS_MAX > max) {
    /* the client would drop it (its receive limit): say so instead */
    char big[160];
    snprintf(big, sizeof(big),
             "the reply is %zu bytes and its stats up to %d; the limit is "
             "%zu (--max-message)",
             d->reply->len, ISO_PROTO_STATS_MAX, max);
    iso_buf_reset(d->reply);
    reply_error(w, d->reply, t->id, ISO_CODE_TOO_LARGE, big);
    d->status = ISO_STATUS_ERROR;
    d->code = ISO_CODE_TOO_LARGE;
  }
}

/* Frees the task's realm (eval) or drops its evaluation (call), gives
 * its job back (with its reply unless it was cancelled, or `stopping`:
 * the shutdown's answer for what did not finish) and frees it. */
static void finish_task(pool_runner* w, pool_task* t, int stopping) {
  assert(pool__on_worker(w));
  if (t->realm != NULL && !t->have_stats) {
    /* ended before its evaluation called back (its deadline): its costs
     * so far */
    t->have_stats = iso_realm_eval_stats(t->realm, t, &t->stats) == 0;
  }
  if (t->realm != NULL && t->kind == ISO_JOB_EVAL) {
    iso_realm_free(t->realm); /* its late op responses are dropped */
  } else if (t->realm != NULL && pool__warm_is(w, t->realm)) {
    iso_realm_eval_cancel(t->realm, t); /* no-op once it called back */
  }
  t->realm = NULL;
  if (t->cancelled) {
    give_back(w, t->slot, t->gen, t->started_ns, NULL, 0, 0, NULL, NULL);
  } else if (stopping) {
    give_back_stopping(w, t->slot, t->gen, t->id, t->started_ns, 1);
  } else {
    pool_reply r;
    encode_reply(w, t, &r);
    give_back(w, t->slot, t->gen, t->started_ns, r.reply, r.status, r.code,
              r.note, &r.stats);
    if (w->reply.cap > TASK_MEM_KEPT) { /* one huge reply is not kept */
      iso_buf_close(&w->reply);
    }
  }
  task_free(w, t);
}

int pool__tasks_finish(pool_runner* w) {
  assert(pool__on_worker(w));
  int any = 0;
  pool_task** pp = &w->active;
  pool_task* prev = NULL;
  while (*pp != NULL) {
    pool_task* t = *pp;
    if (t->settled) {
      *pp = t->anext;
      if (w->active_last == t) {
        w->active_last = prev;
      }
      finish_task(w, t, 0);
      any = 1;
    } else {
      prev = t;
      pp = &t->anext;
    }
  }
  return any;
}

void pool__tasks_stop(pool_runner* w) {
  assert(pool__on_worker(w));
  w->active_last = NULL;
  while (w->active != NULL) {
    pool_task* t = w->active;
    w->active = t->anext;
    /* one that made it: its value goes out */
    finish_task(w, t, !(t->settled && t->status == 0));
  }
}
