/* worker.c: a worker thread: one isolate, its runtime and its libuv loop.
 *
 * DESIGN: the worker side of a job is a pool_task, made from the TASK
 * record the front sent (records.h); the worker never sees the front's
 * pool_job, and answers by sending a DONE record that names the job by
 * its token and carries the reply map the worker encoded; the front
 * claims the answer (answer.c). The worker's loop polls the receive fd of
 * its end of the bus (uv_poll on iso_bus_fd); when the front has sent
 * batches of records, the loop reads every batch waiting (iso_bus_drain)
 * straight into the start of each task, on the worker's own thread: an
 * eval job in a fresh realm of its own, a call job in the warm realm for
 * its module and permissions (evaluated on first use). No NNG thread,
 * queue or lock stands between the dispatcher's send and the task's
 * start. The runtime's tick then runs at once. The runtime calls back as
 * evaluations settle; a uv_prepare handle, which runs after the runtime's
 * tick in each loop iteration, then finishes the settled tasks (encodes
 * their replies into DONE records) and sends the records in one batch. A
 * CANCEL record (the front answered the job) ends its task without a
 * reply, or keeps it from starting if it comes first (w->cancelled, per
 * slot).
 *
 * Everything else comes as records too, in order with the tasks: RELOAD
 * (answered RELOADED), RECYCLE (a fresh isolate once idle, then STATE
 * running), STOP (what is left answered shutting_down, STATE stopped, the
 * loop ends). The worker tells the front what only it knows with INFO
 * (heap, warm modules: every 500 ms), STATE (a condemned runtime asks for
 * no new jobs) and READY (its runtime is up, or why not: its first
 * record). It sees no structure of the front's: it includes pool_base.h,
 * worker.h and group_private.h only, and was given what it needs at its
 * start (pool_runner_opts).
 *
 * Deadlines: one uv_timer at the earliest deadline of the active tasks
 * (kept sorted) answers overdue ones `timeout`; JavaScript that never
 * returns to the loop is stopped by its group's watchdog (group.c), which
 * also halts it when the service stops (pool__runner_halt). Only the
 * worker's thread touches its runtime, its realms and its tasks; the
 * group's watchdog reads w->rt under rt_lock and sets `halted`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "group_private.h"
#include "iso_err.h"

/* iso_pool_opts.background_ms's default. */
#define POOL_BACKGROUND_MS 1000

/* Log lines a task keeps, and their total size. */
#define POOL_MAX_LOGS 100
#define POOL_MAX_LOG_BYTES (16 * 1024)

/* A warm realm: call jobs run in the one for their module and
 * permissions, up to POOL_MAX_WARM of them per worker. */
#define POOL_MAX_WARM 32

typedef struct pool_task pool_task;

/* A warm realm: the calls to one module with one permission set. */
typedef struct pool_warm {
  iso_realm* realm; /* NULL: a free slot */
  char* module;     /* the module's URL (owned) */
  iso_perms* perms;
  uint64_t used; /* for replacing the least recently used */
  int stale;     /* dropped by poolctl reload: freed once idle, no new calls */
} pool_warm;

/* A worker thread: everything here is its own (Thread: its own) but rt,
 * which the watchdog reads under rt_lock. */
struct pool_runner {
  pool_runner_opts o; /* o.modules owned */
  int id;
  pool_group* group; /* its watchdog's */
  pthread_t thread;
  int thread_started;
  uv_loop_t loop;
  uv_poll_t bus_poll; /* its bus's receive fd: records arrive */
  uv_poll_t ops_poll; /* op batches come back */
  uv_prepare_t flush;
  uv_timer_t deadline;
  uv_timer_t info_timer; /* an INFO record every 500 ms */
  iso_rt* rt;            /* NULL before start and after, under rt_lock */
  pthread_mutex_t rt_lock;
  pool_warm warm[POOL_MAX_WARM]; /* call jobs; replaced when one fails */
  uint64_t warm_clock;
  /* records for the front, sent once per loop iteration (send_done) */
  pool_rec** done;
  size_t ndone, capdone;
  pool_task* active; /* the tasks started, sorted by deadline */
  pool_task* spare;  /* finished tasks kept for reuse */
  int nspare;
  /* per slot, the generation a CANCEL record named (its TASK may come
   * after it) */
  uint32_t* cancelled;
  uint32_t nslots;
  /* the permission sets the front sent, by id (POOL_PERM_ID): the index
   * into the table and the generation the set came with */
  struct {
    iso_perms* perms;
    uint32_t gen;
  } * perms;
  uint32_t nperms;
  int recycle_wanted; /* a fresh isolate once nothing is in flight */
  int stopping;       /* a STOP record came */
  atomic_int halted;  /* pool__runner_halt: the stop is coming */
};

static void publish_info(pool_runner* w);
static void maybe_recycle(pool_runner* w);
static void free_stale_warm(pool_runner* w);

/* A job on this worker, made from its TASK record: the worker's side of
 * it, which the front never sees (the front's is its pool_job). */
struct pool_task {
  pool_rec_task* rec; /* what it runs (owned) */
  pool_task* anext;   /* the worker's active list, by deadline */
  iso_realm* realm;   /* eval: its own realm; call: the worker's warm realm */
  uint64_t started_ns;
  int settled;   /* the evaluation called back */
  int status;    /* 0, or ISO_E* */
  int cancelled; /* a CANCEL record named it: no reply is made */
  iso_js_error err;
  uint8_t* value;
  size_t value_len;
  iso_log* logs; /* POOL_MAX_LOGS + 1 entries once the task logs */
  size_t nlogs, log_bytes, logs_dropped;
};

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

static void task_log(pool_task* t,
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

/* ---- eval realms: one per job ---- */

static void eval_log_cb(iso_realm* realm,
                        void* data,
                        const char* level,
                        const char* text,
                        size_t len) {
  task_log(data, level, text, len);
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

/* ---- warm realms: call jobs ---- */

/* Frees a warm slot's realm and what identifies it. */
static void warm_clear(pool_warm* s) {
  iso_realm_free(s->realm);
  iso_perms_unref(s->perms);
  free(s->module);
  *s = (pool_warm){0};
}

static void warm_log_cb(iso_realm* realm,
                        void* data,
                        const char* level,
                        const char* text,
                        size_t len) {
  pool_task* t = iso_realm_current(realm);
  if (t != NULL) {
    task_log(t, level, text, len);
    return;
  }
  /* output of code a call left running after it ended has no job to go
   * to: it is kept out of the service's log unless asked (--log-jobs) */
  pool_runner* w = data;
  if (w->o.log_jobs) {
    pool__logf(&w->o.log, "info", "worker %d: job output: %s: %.*s", w->id,
               level, (int)len, text);
  }
}

static void warm_error_cb(iso_realm* realm,
                          void* data,
                          const iso_js_error* err) {
  pool_runner* w = data;
  /* the warm realm is dead (it survives JavaScript errors, so this is the
   * runtime giving up on it): its pending calls fail, the next call gets
   * a fresh realm */
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t->realm == realm && !t->settled) {
      settle_error(t, err->code, err);
    }
  }
  pool__logf(&w->o.log, "warn",
             "worker %d: the warm realm failed (%s); starting a new one", w->id,
             err->message);
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    if (w->warm[i].realm == realm) {
      warm_clear(&w->warm[i]);
    }
  }
}

/* An error in the warm realm: the call whose JavaScript caused it is
 * rejected (even if it already returned: it has not been answered until the
 * loop iteration ends); one nobody can be blamed for goes to the log. */
static void warm_job_error_cb(iso_realm* realm,
                              void* data,
                              void* culprit,
                              const iso_js_error* err) {
  pool_runner* w = data;
  for (pool_task* t = w->active; culprit != NULL && t != NULL; t = t->anext) {
    if (t == culprit) {
      settle_error(t, err->code, err);
      return;
    }
  }
  char* text = iso_js_error_format(err);
  pool__logf(&w->o.log, "warn", "worker %d: %s", w->id,
             text ? text : err->message);
  free(text);
}

static const iso_realm_cbs kWarmCbs = {
    .log_cb = warm_log_cb,
    .error_cb = warm_error_cb,
    .job_error_cb = warm_job_error_cb,
};

static int realm_busy(const pool_runner* w, const iso_realm* realm) {
  for (const pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t->realm == realm) {
      return 1;
    }
  }
  return 0;
}

/* The warm realm for calls to `module` (its URL) with `perms`. Each module
 * has realms of its own, one per permission set: no other module's code
 * can see or change its globals, its prototypes or its calls' arguments,
 * and code never runs with another set's permissions. Up to POOL_MAX_WARM
 * per worker; a new one replaces the least recently used idle one.
 * Returns NULL when none can be made (every slot runs calls now). */
static iso_realm* warm_for(pool_runner* w,
                           iso_perms* perms,
                           const char* module) {
  assert(pool__on_worker(w));
  pool_warm* empty = NULL;
  pool_warm* lru = NULL; /* the least recently used idle realm */
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->realm == NULL) {
      empty = empty != NULL ? empty : s;
    } else if (s->stale || iso_realm_broken(s->realm)) {
      /* dropped by a reload, or a stop lost its promise jobs: it only
       * finishes its calls */
      s->stale = 1;
      continue;
    } else if (iso_perms_equal(s->perms, perms) &&
               strcmp(s->module, module) == 0) {
      s->used = ++w->warm_clock;
      return s->realm;
    } else if ((lru == NULL || s->used < lru->used) &&
               !realm_busy(w, s->realm)) {
      lru = s;
    }
  }
  pool_warm* slot = empty != NULL ? empty : lru;
  if (slot == NULL) {
    return NULL;
  }
  warm_clear(slot);
  slot->module = strdup(module);
  if (slot->module == NULL ||
      iso_realm_new(w->rt, &kWarmCbs, w, &slot->realm) != 0) {
    warm_clear(slot);
    return NULL;
  }
  iso_realm_set_perms(slot->realm, perms);
  slot->perms = iso_perms_ref(perms);
  slot->used = ++w->warm_clock;
  return slot->realm;
}

static int is_warm(const pool_runner* w, const iso_realm* realm) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    if (w->warm[i].realm != NULL && w->warm[i].realm == realm) {
      return 1;
    }
  }
  return 0;
}

/* ---- deadlines ---- */

static void deadline_cb(uv_timer_t* t);

static void arm_deadline(pool_runner* w) {
  pool_task* head = NULL;
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (!t->settled && t->rec->deadline_ns != 0) {
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
  uv_update_time(&w->loop);
  uint64_t now = pool__now();
  uint64_t deadline = head->rec->deadline_ns;
  uint64_t ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
  uv_timer_start(&w->deadline, deadline_cb, ms, 0);
}

/* A warm realm's deadline: the earliest of its unsettled calls. */
static void update_warm_deadline(pool_runner* w) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    iso_realm* warm = w->warm[i].realm;
    if (warm == NULL) {
      continue;
    }
    uint64_t d = 0;
    for (pool_task* t = w->active; t != NULL; t = t->anext) {
      uint64_t td = t->rec->deadline_ns;
      if (t->realm == warm && !t->settled && td != 0 && (d == 0 || td < d)) {
        d = td;
      }
    }
    iso_realm_set_deadline(warm, d);
  }
}

static void deadline_cb(uv_timer_t* t) {
  pool_runner* w = t->data;
  assert(pool__on_worker(w));
  uint64_t now = pool__now();
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (!t->settled && t->rec->deadline_ns != 0 && t->rec->deadline_ns <= now) {
      t->settled = 1;
      t->status = ISO_ETIMEDOUT;
    }
  }
  /* the prepare handle finishes them in this loop iteration; a timer that
   * fired a little early (millisecond rounding) is armed again */
  arm_deadline(w);
}

/* ---- starting and finishing tasks ---- */

static void active_insert(pool_runner* w, pool_task* t) {
  uint64_t d = t->rec->deadline_ns;
  pool_task** pp = &w->active;
  while (*pp != NULL && (d == 0 || ((*pp)->rec->deadline_ns != 0 &&
                                    (*pp)->rec->deadline_ns <= d))) {
    pp = &(*pp)->anext;
  }
  t->anext = *pp;
  *pp = t;
}

/* A record for the front, sent with this loop iteration's (send_done). */
static void done_push(pool_runner* w, pool_rec* r) {
  assert(pool__on_worker(w));
  if (w->ndone == w->capdone) {
    size_t cap = w->capdone ? w->capdone * 2 : 64;
    pool_rec** grown = realloc(w->done, cap * sizeof(*grown));
    if (grown == NULL) {
      abort(); /* a job would be lost; nothing sane is left to do */
    }
    w->done = grown;
    w->capdone = cap;
  }
  w->done[w->ndone++] = r;
}

/* A CANCEL record named this task's token. */
static int cancelled(const pool_runner* w, pool_token token) {
  return token.slot < w->nslots && w->cancelled[token.slot] == token.gen;
}

/* The job's DONE record, made of its TASK record: `reply` (taken; its
 * status and code) is the answer, if any. */
static void give_back(pool_runner* w,
                      pool_rec_task* rec,
                      uint64_t started_ns,
                      iso_buf* reply,
                      int status,
                      int code) {
  pool_rec_done* d = pool__rec_done_of(rec);
  d->started_ns = started_ns;
  d->finished_ns = pool__now();
  if (reply != NULL) {
    d->reply = *reply;
    iso_buf_init(reply);
    d->status = (uint8_t)status;
    d->code = (uint16_t)code;
  }
  done_push(w, &d->hdr);
}

/* The shutdown's answer for a job that did not finish. */
static void give_back_stopping(pool_runner* w,
                               pool_rec_task* rec,
                               uint64_t started_ns) {
  iso_buf reply;
  iso_buf_init(&reply);
  pool__reply_error(&reply, rec->id, ISO_CODE_SHUTTING_DOWN,
                    "the service is shutting down", w->id);
  give_back(w, rec, started_ns, &reply, ISO_STATUS_ERROR,
            ISO_CODE_SHUTTING_DOWN);
}

/* Gives a task's record back without running it: answered
 * shutting_down (stopping), or without a reply (cancelled). */
static void give_back_record(pool_runner* w, pool_rec_task* rec, int stopping) {
  if (stopping && !cancelled(w, rec->token)) {
    give_back_stopping(w, rec, 0);
  } else {
    give_back(w, rec, 0, NULL, 0, 0);
  }
}

/* Tasks are kept for reuse (up to TASKS_KEPT), so a job's start costs no
 * allocation of the worker's own. */
#define TASKS_KEPT 256

static pool_task* task_new(pool_runner* w) {
  pool_task* t = w->spare;
  if (t != NULL) {
    w->spare = t->anext;
    w->nspare--;
    memset(t, 0, sizeof(*t));
    return t;
  }
  t = calloc(1, sizeof(*t));
  if (t == NULL) {
    abort(); /* a job would be lost; nothing sane is left to do */
  }
  return t;
}

/* The permission set a TASK record names by id: the one it brings (kept
 * under that id from now on, in place of the id's last), or the one kept;
 * NULL for an id the front never gave (the front's fault). */
static iso_perms* perms_of(pool_runner* w, pool_rec_task* rec) {
  uint32_t i = POOL_PERM_INDEX(rec->perm_id);
  uint32_t gen = POOL_PERM_GEN(rec->perm_id);
  if (i >= w->nperms) {
    return NULL;
  }
  if (rec->perms != NULL) {
    iso_perms_unref(w->perms[i].perms);
    w->perms[i].perms = rec->perms; /* the record's reference, taken */
    w->perms[i].gen = gen;
    rec->perms = NULL;
  }
  return w->perms[i].gen == gen ? w->perms[i].perms : NULL;
}

static void start_task(pool_runner* w, pool_rec_task* rec) {
  assert(pool__on_worker(w));
  iso_perms* perms = perms_of(w, rec); /* first: it may bring a set */
  if (cancelled(w, rec->token)) {
    give_back_record(w, rec, 0); /* answered before it got here */
    return;
  }
  pool_task* t = task_new(w);
  t->rec = rec;
  t->started_ns = pool__now();
  /* the record's strings are NUL-terminated copies */
  const char* spec = rec->module.ptr != NULL ? rec->module.ptr : "";
  const char* exp = rec->export_name.ptr != NULL ? rec->export_name.ptr : "";
  iso_eval_opts o = {
      .specifier = spec[0] ? spec : NULL,
      .source = rec->source.ptr,
      .source_len = rec->source.len,
      .export_name = exp[0] ? exp : "default",
      .call = 1,
      .args_mp = rec->args.data,
      .args_len = rec->args.len,
      .deadline_ns = rec->deadline_ns,
  };
  int rc;
  if (perms == NULL) {
    pool__logf(&w->o.log, "error",
               "worker %d: a task names permission set %u, which it was "
               "never sent",
               w->id, rec->perm_id);
    rc = ISO_EINTERNAL;
  } else if (rec->kind == ISO_JOB_EVAL) {
    o.main = 1;
    rc = iso_realm_new(w->rt, &kEvalCbs, t, &t->realm);
    if (rc == 0) {
      iso_realm_set_perms(t->realm, perms);
      iso_realm_set_perm_id(t->realm, rec->perm_id);
      iso_realm_set_deadline(t->realm, rec->deadline_ns);
      rc = iso_realm_eval(t->realm, &o, eval_cb, t);
    }
  } else {
    /* the realm is the module's: by its URL, so "x.js" and "./x.js" share
     * one; a specifier that does not resolve fails in the evaluation */
    char* url = NULL;
    if (iso_rt_module_url(w->rt, spec, &url) != 0) {
      url = NULL;
    }
    t->realm = warm_for(w, perms, url != NULL ? url : spec);
    free(url);
    if (t->realm != NULL) {
      /* its ops from now on go under this call's id of the set (an equal
       * set: the realm is the set's) */
      iso_realm_set_perm_id(t->realm, rec->perm_id);
    }
    rc = t->realm ? iso_realm_eval(t->realm, &o, eval_cb, t) : ISO_EBUSY;
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

/* Frees what the task holds (not its record) and keeps it for reuse. */
static void task_free(pool_runner* w, pool_task* t) {
  free(t->value);
  iso_js_error_close(&t->err);
  for (size_t i = 0; i < t->nlogs; i++) {
    free((char*)t->logs[i].text);
  }
  free(t->logs);
  if (w->nspare < TASKS_KEPT) {
    t->anext = w->spare;
    w->spare = t;
    w->nspare++;
  } else {
    free(t);
  }
}

/* A finished task's answer: the reply map, its status and code, and a
 * note of an error for poolctl workers. */
typedef struct pool_reply {
  iso_buf reply;
  int status, code;
  char note[sizeof(((pool_rec_done*)0)->note)];
} pool_reply;

/* The reply map of a task that finished: its value, or its error with the
 * code the runtime's status maps to (too_large if over --max-message). */
static void encode_reply(pool_runner* w, pool_task* t, pool_reply* d) {
  iso_buf_init(&d->reply);
  d->note[0] = '\0';
  const pool_rec_task* rec = t->rec;
  uint64_t now = pool__now();
  iso_proto_reply r = {
      .id = rec->id,
      .logs = t->logs,
      .nlogs = t->nlogs,
      .stats = {.worker = w->id,
                .queue_us = (int64_t)(t->started_ns - rec->received_ns) / 1000,
                .run_us = (int64_t)(now - t->started_ns) / 1000},
  };
  char msg[256];
  int status = t->status;
  if (status == 0) {
    r.status = ISO_STATUS_FULFILLED;
    r.value = (iso_bytes){t->value, t->value_len};
  } else if (status == ISO_ETERMINATED &&
             (w->stopping || atomic_load(&w->halted))) {
    /* stopped by the shutdown, not by its deadline */
    r.status = ISO_STATUS_ERROR;
    r.code = iso_proto_code_from_err(ISO_ESHUTDOWN);
    r.message = iso_str_of("the service is shutting down");
  } else if (status == ISO_ETIMEDOUT || status == ISO_ETERMINATED) {
    r.status = ISO_STATUS_ERROR;
    r.code = iso_proto_code_from_err(status);
    snprintf(
        msg, sizeof(msg), "the job ran past its deadline of %u ms%s",
        rec->timeout_ms,
        status == ISO_ETERMINATED ? " and its JavaScript was stopped" : "");
    r.message = iso_str_of(msg);
  } else if (status == ISO_ETOOBIG || status == ISO_EINTERNAL ||
             status == ISO_ELOST) {
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
  if (r.status != ISO_STATUS_FULFILLED) {
    const char* what =
        r.status == ISO_STATUS_ERROR ? iso_proto_code_name(r.code) : r.name.ptr;
    snprintf(d->note, sizeof(d->note), "%s: %.*s",
             what != NULL ? what : "Error", (int)r.message.len,
             r.message.ptr != NULL ? r.message.ptr : "");
  }
  size_t max = w->o.max_message;
  if (iso_proto_encode_reply(&r, &d->reply) != 0) {
    iso_buf_reset(&d->reply);
    pool__reply_error(&d->reply, rec->id, ISO_CODE_INTERNAL,
                      "the reply could not be encoded", w->id);
    d->status = ISO_STATUS_ERROR;
    d->code = ISO_CODE_INTERNAL;
  } else if (d->reply.len > max) {
    /* the client would drop it (its receive limit): say so instead */
    char big[160];
    snprintf(big, sizeof(big),
             "the reply is %zu bytes; the limit is %zu (--max-message)",
             d->reply.len, max);
    iso_buf_reset(&d->reply);
    pool__reply_error(&d->reply, rec->id, ISO_CODE_TOO_LARGE, big, w->id);
    d->status = ISO_STATUS_ERROR;
    d->code = ISO_CODE_TOO_LARGE;
  }
}

/* Frees the task's realm (eval) or drops its evaluation (call), makes its
 * DONE record (with its reply unless it was cancelled, or `stopping`: the
 * shutdown's answer for what did not finish) and frees it. */
static void finish_task(pool_runner* w, pool_task* t, int stopping) {
  assert(pool__on_worker(w));
  if (t->realm != NULL && t->rec->kind == ISO_JOB_EVAL) {
    iso_realm_free(t->realm); /* its late op responses are dropped */
  } else if (t->realm != NULL && is_warm(w, t->realm)) {
    iso_realm_eval_cancel(t->realm, t); /* no-op once it called back */
  }
  t->realm = NULL;
  if (t->cancelled) {
    give_back(w, t->rec, t->started_ns, NULL, 0, 0); /* answered: no reply */
  } else if (stopping) {
    give_back_stopping(w, t->rec, t->started_ns);
  } else {
    pool_reply r;
    encode_reply(w, t, &r);
    pool_rec_done* d = pool__rec_done_of(t->rec);
    d->started_ns = t->started_ns;
    d->finished_ns = pool__now();
    d->reply = r.reply;
    d->status = (uint8_t)r.status;
    d->code = (uint16_t)r.code;
    memcpy(d->note, r.note, sizeof(d->note));
    done_push(w, &d->hdr);
  }
  t->rec = NULL; /* now the DONE record */
  task_free(w, t);
}

static void send_done(pool_runner* w) {
  assert(pool__on_worker(w));
  if (w->ndone > 0) {
    if (iso_bus_send(w->o.end, (void* const*)w->done, w->ndone) != 0) {
      for (size_t i = 0; i < w->ndone; i++) { /* the bus is closing */
        pool__rec_up_free(w->done[i]);
      }
    }
    w->ndone = 0;
  }
}

/* A record of the worker's own for the front (not a DONE), sent with this
 * iteration's records; NULL (out of memory) is dropped. */
static void push(pool_runner* w, pool_rec* r) {
  if (r != NULL) {
    done_push(w, r);
  }
}

static void push_state(pool_runner* w, int state) {
  pool_rec_state* r =
      (pool_rec_state*)pool__rec_new(POOL_REC_STATE, sizeof(*r));
  if (r != NULL) {
    r->state = (uint8_t)state;
  }
  push(w, (pool_rec*)r);
}

/* The runtime asks for a new isolate (iso_rt_condemned): the worker asks
 * the front for no new jobs (STATE recycling), answers the ones it has,
 * and recycles, as `poolctl recycle` does. */
static void check_condemned(pool_runner* w) {
  assert(pool__on_worker(w));
  const char* why = w->rt != NULL ? iso_rt_condemned(w->rt) : NULL;
  if (why == NULL || w->recycle_wanted) {
    return;
  }
  push_state(w, POOL_W_RECYCLING);
  w->recycle_wanted = 1;
  pool__logf(&w->o.log, "warn", "worker %d: %s; recycling its isolate", w->id,
             why);
}

/* Runs after the runtime's tick in every loop iteration. */
static void flush_cb(uv_prepare_t* h) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  check_condemned(w);
  int any = 0;
  pool_task** pp = &w->active;
  while (*pp != NULL) {
    pool_task* t = *pp;
    if (t->settled) {
      *pp = t->anext;
      finish_task(w, t, 0);
      any = 1;
    } else {
      pp = &t->anext;
    }
  }
  if (any) {
    update_warm_deadline(w);
    arm_deadline(w);
    free_stale_warm(w);
  }
  if (w->recycle_wanted) {
    maybe_recycle(w);
  }
  send_done(w);
}

/* Batches back from the op threads (the transport's op_back first). */
static void ops_back_cb(void* const* items, size_t n, void* arg) {
  pool_runner* w = arg;
  assert(pool__on_worker(w));
  for (size_t i = 0; i < n; i++) {
    iso_op_batch* b = items[i];
    w->o.op_back(w->o.op_data, b);
    if (w->rt != NULL && b->owner == w->rt) {
      iso_rt_ops_done(w->rt, b);
    } else {
      iso_op_batch_free(b); /* its runtime was recycled or freed */
    }
  }
}

/* Op responses are back: settle their promises, run what that made
 * runnable and finish the jobs it settled, all in this iteration. */
static void ops_poll_cb(uv_poll_t* h, int status, int events) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  if (iso_bus_drain(w->o.ops_end, ops_back_cb, w) > 0) {
    iso_rt_tick(w->rt);
    flush_cb(&w->flush);
  }
}

/* ---- the front's requests: records ---- */

/* Frees the warm realms a reload dropped once their calls are done. */
static void free_stale_warm(pool_runner* w) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->stale && s->realm != NULL && !realm_busy(w, s->realm)) {
      warm_clear(s);
    }
  }
}

/* RELOAD (poolctl reload): drops the warm realms (those that loaded the
 * module, if one is named) so the next calls load the modules again;
 * answers with INFO, then RELOADED. */
static void reload(pool_runner* w, const char* spec) {
  assert(pool__on_worker(w));
  int dropped = 0;
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->realm != NULL && !s->stale &&
        (spec[0] == '\0' || iso_realm_has_module(s->realm, spec))) {
      s->stale = 1;
      dropped++;
    }
  }
  free_stale_warm(w);
  publish_info(w);
  pool_rec_reloaded* r =
      (pool_rec_reloaded*)pool__rec_new(POOL_REC_RELOADED, sizeof(*r));
  if (r != NULL) {
    r->realms = dropped;
  }
  push(w, (pool_rec*)r);
}

/* A CANCEL record: the front answered the job (poolctl cancel, its
 * client's connection closed). Its task ends here as if its deadline had
 * passed, without a reply; one not here yet never starts. */
static void cancel_task(pool_runner* w, const pool_rec_cancel* c) {
  assert(pool__on_worker(w));
  if (c->token.slot < w->nslots) {
    w->cancelled[c->token.slot] = c->token.gen;
  }
  for (pool_task* t = w->active; t != NULL; t = t->anext) {
    if (t->rec->token.slot == c->token.slot &&
        t->rec->token.gen == c->token.gen) {
      /* its JavaScript will not run again: the watchdog may forget it */
      pool__group_uncancel(w->group, w, t->rec->deadline_ns);
      t->cancelled = 1;
      if (!t->settled) {
        t->settled = 1;
        t->status = ISO_ETIMEDOUT;
      }
    }
  }
}

/* STOP: answers what is still running, gives every job back, says STATE
 * stopped (its last record) and ends the loop. */
static void stop_jobs(pool_runner* w) {
  assert(pool__on_worker(w));
  while (w->active != NULL) {
    pool_task* t = w->active;
    w->active = t->anext;
    /* one that made it: its value goes out */
    finish_task(w, t, !(t->settled && t->status == 0));
  }
  push_state(w, POOL_W_STOPPED);
  send_done(w);
  uv_stop(&w->loop);
}

/* A batch of records off the bus, valid only during the call, handled in
 * order: a TASK is started now (or, once a STOP came, given back); a
 * recycle waits for maybe_recycle, which bus_poll_cb runs after. */
static void take_cb(void* const* items, size_t n, void* arg) {
  pool_runner* w = arg;
  assert(pool__on_worker(w));
  for (size_t i = 0; i < n; i++) {
    pool_rec* r = items[i];
    switch (r->type) {
      case POOL_REC_TASK:
        if (w->stopping) {
          give_back_record(w, (pool_rec_task*)r, 1);
        } else {
          start_task(w, (pool_rec_task*)r);
        }
        continue; /* the task owns the record */
      case POOL_REC_CANCEL:
        cancel_task(w, (const pool_rec_cancel*)r);
        break;
      case POOL_REC_RELOAD:
        reload(w, ((const pool_rec_reload*)r)->spec);
        break;
      case POOL_REC_RECYCLE:
        w->recycle_wanted = 1;
        break;
      case POOL_REC_STOP:
        w->stopping = 1;
        break;
      default:
        break;
    }
    pool__rec_down_free(r);
  }
}

/* The bus's fd is readable: the worker reads every batch waiting, starts
 * their tasks and runs them in this loop iteration. */
static void bus_poll_cb(uv_poll_t* h, int status, int events) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  if (iso_bus_drain(w->o.end, take_cb, w) == 0) {
    return;
  }
  if (w->stopping) {
    stop_jobs(w);
    return;
  }
  /* the deadlines first: the watchdog reads them while the calls run
   * (flush_cb updates them again for the tasks it finishes) */
  update_warm_deadline(w);
  arm_deadline(w);
  /* run them now rather than a trip around the loop later */
  iso_rt_tick(w->rt);
  flush_cb(&w->flush);
}

static void handle_closed_cb(uv_handle_t* h) {}

/* ---- the worker's runtime: started, recycled, stopped ---- */

/* An INFO record: what poolctl workers shows that only this thread can
 * read (the heap, the warm modules). */
static void publish_info(pool_runner* w) {
  assert(pool__on_worker(w));
  if (w->rt == NULL) {
    return;
  }
  size_t used = 0, limit = 0;
  iso_rt_heap(w->rt, &used, &limit);
  int modules = 0;
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    if (w->warm[i].realm != NULL && !w->warm[i].stale) {
      modules += iso_realm_module_count(w->warm[i].realm);
    }
  }
  pool_rec_info* r = (pool_rec_info*)pool__rec_new(POOL_REC_INFO, sizeof(*r));
  if (r != NULL) {
    r->heap_used = (int64_t)used;
    r->heap_limit = (int64_t)limit;
    r->warm_modules = modules;
  }
  push(w, (pool_rec*)r);
}

static void info_timer_cb(uv_timer_t* t) {
  pool_runner* w = t->data;
  publish_info(w);
  send_done(w);
}

/* The transport's op_send, through the runner (the runtime's op_send):
 * the batch carries the runner's route token. */
static int op_send(void* data, iso_op_batch* b) {
  pool_runner* w = data;
  b->route = w->o.route;
  return w->o.op_send(w->o.op_data, b);
}

static int rt_new(pool_runner* w) {
  assert(pool__on_worker(w));
  iso_rt_opts ro = {
      .loop = &w->loop,
      .root = w->o.modules,
      .heap_max_mb = w->o.heap_mb,
      /* a larger value could not be sent back anyway */
      .value_max_bytes = w->o.max_message,
      .ops_env = w->o.ops_env,
      .op_send = op_send,
      .op_send_data = w,
      .op_perm_ids = 1, /* the front's op threads resolve them */
      .background_ms =
          w->o.background_ms ? w->o.background_ms : POOL_BACKGROUND_MS,
  };
  iso_rt* rt = NULL;
  int rc = iso_rt_new(&ro, &rt);
  pthread_mutex_lock(&w->rt_lock); /* the watchdog reads w->rt */
  w->rt = rt;
  pthread_mutex_unlock(&w->rt_lock);
  return rc;
}

/* Frees the warm realms and the runtime; its handles close as the loop
 * runs on. */
static void rt_free(pool_runner* w) {
  assert(pool__on_worker(w));
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    warm_clear(&w->warm[i]);
  }
  pthread_mutex_lock(&w->rt_lock);
  iso_rt* rt = w->rt;
  w->rt = NULL;
  pthread_mutex_unlock(&w->rt_lock);
  iso_rt_free(rt);
}

/* poolctl recycle, or a condemned runtime: once nothing is in flight
 * here, a fresh isolate; STATE running tells the front it takes jobs
 * again (it sends none meanwhile: it marked the worker recycling). */
static void maybe_recycle(pool_runner* w) {
  assert(pool__on_worker(w));
  if (!w->recycle_wanted || w->active != NULL) {
    return;
  }
  w->recycle_wanted = 0;
  rt_free(w);
  if (rt_new(w) != 0) {
    pool__logf(&w->o.log, "error", "worker %d: recycling failed; it retires",
               w->id);
    push_state(w, POOL_W_RETIRING);
    return;
  }
  pool__logf(&w->o.log, "info", "worker %d: recycled (a fresh isolate)", w->id);
  publish_info(w);
  push_state(w, POOL_W_RUNNING);
}

/* The READY record: the runtime is up, or why not. */
static void push_ready(pool_runner* w, int rc) {
  pool_rec_ready* r =
      (pool_rec_ready*)pool__rec_new(POOL_REC_READY, sizeof(*r));
  if (r == NULL) {
    abort(); /* the front would wait for it for ever */
  }
  r->rc = rc;
  if (rc != 0) {
    snprintf(r->err, sizeof(r->err), "worker %d: cannot start a runtime: %s",
             w->id, iso_strerror(rc));
  }
  push(w, (pool_rec*)r);
}

static void* runner_main(void* arg) {
  pool_runner* w = arg;
  char name[16];
  snprintf(name, sizeof(name), "isopool-w%d", w->id);
  pthread_setname_np(pthread_self(), name);
#ifndef NDEBUG
  pool__this_worker = w; /* for pool__on_worker */
#endif
  uv_loop_init(&w->loop);
  int rc = rt_new(w);
  push_ready(w, rc);
  if (rc != 0) {
    send_done(w);
    rt_free(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    return NULL;
  }
  uv_prepare_init(&w->loop, &w->flush);
  w->flush.data = w;
  uv_prepare_start(&w->flush, flush_cb);
  uv_unref((uv_handle_t*)&w->flush);
  uv_timer_init(&w->loop, &w->deadline);
  w->deadline.data = w;
  uv_timer_init(&w->loop, &w->info_timer);
  w->info_timer.data = w;
  uv_timer_start(&w->info_timer, info_timer_cb, 500, 500);
  uv_unref((uv_handle_t*)&w->info_timer);
  uv_poll_init(&w->loop, &w->bus_poll, iso_bus_fd(w->o.end));
  w->bus_poll.data = w;
  uv_poll_start(&w->bus_poll, UV_READABLE, bus_poll_cb);
  uv_poll_init(&w->loop, &w->ops_poll, iso_bus_fd(w->o.ops_end));
  w->ops_poll.data = w;
  uv_poll_start(&w->ops_poll, UV_READABLE, ops_poll_cb);
  publish_info(w);
  send_done(w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  rt_free(w);
  uv_close((uv_handle_t*)&w->flush, handle_closed_cb);
  uv_close((uv_handle_t*)&w->deadline, handle_closed_cb);
  uv_close((uv_handle_t*)&w->info_timer, handle_closed_cb);
  uv_close((uv_handle_t*)&w->bus_poll, handle_closed_cb);
  uv_close((uv_handle_t*)&w->ops_poll, handle_closed_cb);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  return NULL;
}

/* ---- its life, as the front sees it (worker.h) ---- */

int pool__runner_start(pool_group* g,
                       const pool_runner_opts* o,
                       pool_runner** out) {
  assert(!pool__on_worker(NULL));
  pool_runner* w = calloc(1, sizeof(*w));
  if (w == NULL) {
    return ISO_ENOMEM;
  }
  w->o = *o;
  w->id = o->id;
  w->nslots = o->nslots;
  w->o.modules = strdup(o->modules);
  w->cancelled = calloc(o->nslots > 0 ? o->nslots : 1, sizeof(*w->cancelled));
  w->nperms = o->nperms;
  w->perms = calloc(o->nperms > 0 ? o->nperms : 1, sizeof(*w->perms));
  pthread_mutex_init(&w->rt_lock, NULL);
  if (w->o.modules == NULL || w->cancelled == NULL || w->perms == NULL ||
      pool__group_join(g, w, o->id, o->nslots) != 0) {
    pool__runner_free(w);
    return ISO_ENOMEM;
  }
  w->group = g; /* watched from now on */
  if (pthread_create(&w->thread, NULL, runner_main, w) != 0) {
    pool__runner_free(w);
    return ISO_ENOMEM;
  }
  w->thread_started = 1;
  *out = w;
  return 0;
}

int pool__runner_join(pool_runner* w, uint64_t until_ns) {
  assert(!pool__on_worker(w)); /* it would wait for itself */
  if (!w->thread_started) {
    return 0;
  }
  if (until_ns == 0) {
    pthread_join(w->thread, NULL);
    w->thread_started = 0;
    return 0;
  }
  /* JavaScript stuck where a stop cannot reach it (a builtin that never
   * checks, an engine bug) would hold the join for ever */
  uint64_t now = pool__now();
  uint64_t left = until_ns > now ? until_ns - now : 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(left / 1000000000u);
  ts.tv_nsec += (long)(left % 1000000000u);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  if (pthread_timedjoin_np(w->thread, NULL, &ts) != 0) {
    return ISO_ETIMEDOUT;
  }
  w->thread_started = 0;
  return 0;
}

void pool__runner_free(pool_runner* w) {
  if (w == NULL) {
    return;
  }
  assert(!pool__on_worker(w));
  assert(!w->thread_started);
  if (w->group != NULL) {
    pool__group_leave(w->group, w); /* the watchdog lets go of it */
  }
  while (w->spare != NULL) {
    pool_task* t = w->spare;
    w->spare = t->anext;
    free(t);
  }
  for (size_t i = 0; i < w->ndone; i++) { /* never sent */
    pool__rec_up_free(w->done[i]);
  }
  free(w->done);
  free(w->cancelled);
  for (uint32_t i = 0; w->perms != NULL && i < w->nperms; i++) {
    iso_perms_unref(w->perms[i].perms);
  }
  free(w->perms);
  free((char*)w->o.modules);
  pthread_mutex_destroy(&w->rt_lock);
  free(w);
}

void pool__runner_halt(pool_runner* w) {
  assert(pool__on_group(NULL));
  atomic_store(&w->halted, 1);
  pthread_mutex_lock(&w->rt_lock);
  uint64_t gen, since, deadline;
  if (w->rt != NULL && iso_rt_running(w->rt, &gen, &since, &deadline)) {
    iso_rt_terminate_gen(w->rt, gen);
  }
  pthread_mutex_unlock(&w->rt_lock);
}

iso_rt* pool__runner_rt_lock(pool_runner* w) {
  pthread_mutex_lock(&w->rt_lock);
  return w->rt;
}

void pool__runner_rt_unlock(pool_runner* w) {
  pthread_mutex_unlock(&w->rt_lock);
}
