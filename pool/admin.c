/* admin.c: the admin plane: the admin socket, its commands, and the
 * metrics server's documents: the metrics page, the health checks and
 * the dashboard (dashboard.html and its JSON, the reading commands'
 * replies) (the counters are metrics.c's, recorded by answer.c).
 *
 * DESIGN: the admin socket is a second REP0 listener (ipc/iso_server.h)
 * whose callback runs on an NNG thread, like the job socket's; nothing
 * sent to the job socket reaches it. Requests are decoded and replies
 * encoded by ipc/iso_admin.h, the codec poolctl uses too: a command's
 * handler (kOps, the command table) fills the typed result of its command,
 * or refuses with one of the admin codes of iso_proto.h's code table.
 * Reading commands (status, workers, jobs, stats) read atomics, the
 * metrics recorder (metrics.h) and, under pool->lock or pool->jobs_lock,
 * the routing state and the registry of requests with unanswered jobs;
 * they never touch an isolate; what a worker alone knows (its heap, its
 * warm modules) is the front's copy of its last INFO record. Commands
 * that change a worker send it a record on its jobs link (cancel:
 * CANCEL, reload: RELOAD, recycle: RECYCLE; ipc/iso_link.h); the worker does
 * the work on its own thread. reload waits (briefly) for each worker's RELOADED
 * record. drain and shutdown record how
 * to stop and call the owner's stop_cb; the owner's thread runs
 * iso_pool_shutdown. A command marked changes_state in kOps is refused
 * (conflict) once the service is stopping.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_err.h"
#include "iso_http.h"
#include "iso_json.h"
#include "iso_version.h"
#include "pool_private.h"

#define MAX_JOBS_LISTED 1000
/* A client id longer than this (msgpack) is listed as nil: its JSON
 * could not fit the 255 bytes shown anyway, for any id but a few floats
 * and binaries, and copying it under jobs_lock would cost its size. */
#define JOB_ID_COPY_MAX 512
#define JOB_ID_JSON_MAX 255
#define RELOAD_WAIT_MS 2000
#define WHY_MAX 256

/* ---- one command's reply ---- */

/* What a handler fills: the typed reply, and the memory its arrays and
 * strings live in until the reply is sent. */
typedef struct admin_out {
  iso_admin_reply reply;
  char why[WHY_MAX]; /* an error's message */
  void* owned[4];    /* freed after the reply is sent */
  int nowned;
  iso_buf ids; /* jobs: the client ids */
} admin_out;

/* Keeps p (may be NULL) until the reply is sent; returns it. */
static void* keep(admin_out* o, void* p) {
  if (p != NULL) {
    assert(o->nowned < (int)(sizeof(o->owned) / sizeof(o->owned[0])));
    o->owned[o->nowned++] = p;
  }
  return p;
}

/* Makes o's reply an error; returns -1 for the handler to return. */
static int refuse(admin_out* o, iso_proto_code code, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(admin_out* o, iso_proto_code code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->why, sizeof(o->why), fmt, ap);
  va_end(ap);
  o->reply.ok = 0;
  o->reply.error.code = code;
  o->reply.error.message = iso_admin_str_of(o->why);
  return -1;
}

static int out_of_memory(admin_out* o) {
  return refuse(o, ISO_CODE_INTERNAL, "out of memory");
}

/* Sends r (an error reply if it cannot be encoded). */
static void send_reply(iso_server_req* sreq, const iso_admin_reply* r) {
  iso_buf mp;
  iso_buf_init(&mp);
  if (iso_admin_encode_reply(r, &mp) != 0 && r->ok) {
    iso_admin_reply e = {
        .cmd = r->cmd,
        .error = {.code = ISO_CODE_INTERNAL,
                  .message = iso_admin_str_of("the reply could not be "
                                              "encoded")}};
    iso_buf_reset(&mp);
    iso_admin_encode_reply(&e, &mp);
  }
  iso_server_reply(sreq, mp.data, mp.len);
  iso_buf_close(&mp);
}

static void reply_error(iso_server_req* sreq,
                        iso_admin_cmd cmd,
                        iso_proto_code code,
                        const char* message) {
  iso_admin_reply e = {
      .cmd = cmd,
      .error = {.code = code, .message = iso_admin_str_of(message)}};
  send_reply(sreq, &e);
}

/* ---- reading commands ---- */

static const char* pool_state_name(int state) {
  switch (state) {
    case ISO_POOL_DRAINING:
      return "draining";
    case ISO_POOL_SHUTTING_DOWN:
      return "shutting_down";
    default:
      return "running";
  }
}

static void count_workers(iso_pool* pool,
                          int* configured,
                          int* alive,
                          int* inflight,
                          int* q) {
  *alive = *inflight = 0;
  pool__mutex_lock(&pool->lock);
  *configured = pool->configured;
  for (int i = 0; i < pool->nworkers; i++) {
    int st = atomic_load(&pool->workers[i]->state);
    *alive += st == POOL_W_RUNNING || st == POOL_W_RECYCLING;
    *inflight += pool->workers[i]->inflight;
  }
  *q = pool->qlen;
  pool__mutex_unlock(&pool->lock);
}

/* The counts of h; called with the lock. A service that refuses jobs
 * (pool->draining, set under the lock before `state` changes) is not
 * RUNNING, whatever `state` said a moment before. */
static void health_locked(iso_pool* pool, iso_pool_health* h) {
  assert(pool__mutex_held(&pool->lock));
  if (pool->draining && h->state == ISO_POOL_RUNNING) {
    h->state = ISO_POOL_SHUTTING_DOWN;
  }
  h->responsive = 1;
  h->workers = pool->configured;
  h->in_flight = pool->qlen;
  for (int i = 0; i < pool->nworkers; i++) {
    int st = atomic_load(&pool->workers[i]->state);
    h->running += st == POOL_W_RUNNING || st == POOL_W_RECYCLING;
    h->in_flight += pool->workers[i]->inflight;
  }
}

void pool__health_read(iso_pool* pool, iso_pool_health* h) {
  memset(h, 0, sizeof *h);
  h->state = atomic_load(&pool->state);
  pool__mutex_lock(&pool->lock);
  health_locked(pool, h);
  pool__mutex_unlock(&pool->lock);
}

int pool__health_ready(const iso_pool_health* h) {
  return h->responsive && h->state == ISO_POOL_RUNNING && h->workers > 0 &&
         h->running >= h->workers;
}

void iso_pool_health_get(iso_pool* pool, int wait_ms, iso_pool_health* h) {
  memset(h, 0, sizeof *h);
  h->state = atomic_load(&pool->state);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (pool__mutex_trylock(&pool->lock) != 0) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
        wait_ms) {
      return; /* h->responsive stays 0 */
    }
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  health_locked(pool, h);
  pool__mutex_unlock(&pool->lock);
}

/* The pool processes' counts and counters (all 0 with --processes 0);
 * last: the last death's line (cap bytes; "" none), *ago_ns how long
 * since. */
typedef struct procs_count {
  int active, spare, starting;
  long restarts, jobs_lost;
  uint64_t death_ns;
} procs_count;

static void count_procs(iso_pool* pool,
                        procs_count* c,
                        char* last,
                        size_t cap) {
  pthread_mutex_lock(&pool->procs_lock);
  c->active = pool->nactive;
  c->spare = pool->nspare;
  c->starting = pool->nstarting;
  c->death_ns = pool->last_death_ns;
  if (last != NULL) {
    snprintf(last, cap, "%s", pool->last_death);
  }
  pthread_mutex_unlock(&pool->procs_lock);
  c->restarts = atomic_load(&pool->restarts);
  c->jobs_lost = atomic_load(&pool->jobs_lost);
}

/* Milliseconds between two pool__now() times, whole. */
static double ms_between(uint64_t from_ns, uint64_t to_ns) {
  return (double)((to_ns - from_ns) / 1000000);
}

static int cmd_status(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  size_t nlisten = pool->opts.nlisten;
  iso_metrics_snap* snap = keep(o, malloc(sizeof(*snap)));
  iso_admin_str* listen =
      keep(o, calloc(nlisten > 0 ? nlisten : 1, sizeof(*listen)));
  iso_admin_error_count* errors =
      keep(o, calloc(ISO_METRICS_NCODES, sizeof(*errors)));
  if (snap == NULL || listen == NULL || errors == NULL ||
      iso_metrics_snapshot(pool->metrics, snap) != 0) {
    return out_of_memory(o);
  }
  int configured, alive, inflight, queued;
  count_workers(pool, &configured, &alive, &inflight, &queued);
  char* last = keep(o, malloc(sizeof pool->last_death));
  if (last == NULL) {
    return out_of_memory(o);
  }
  procs_count pc;
  count_procs(pool, &pc, last, sizeof pool->last_death);
  for (size_t i = 0; i < nlisten; i++) {
    listen[i] = iso_admin_str_of(pool->opts.listen[i]);
  }
  const iso_metrics_totals* t = &snap->totals[ISO_METRICS_ALL];
  size_t nerrors = 0;
  for (int c = 0; c < ISO_METRICS_NCODES; c++) {
    if (t->errors[c] != 0) {
      errors[nerrors++] = (iso_admin_error_count){
          .code = iso_admin_str_of(iso_proto_code_name((iso_proto_code)c)),
          .count = (int64_t)t->errors[c]};
    }
  }
  o->reply.status = (iso_admin_status){
      .version = iso_admin_str_of(ISO_VERSION),
      .uptime_ms = ms_between(pool->started_ns, pool__now()),
      .listen = listen,
      .nlisten = nlisten,
      .admin = iso_admin_str_of(pool->admin_url ? pool->admin_url : ""),
      .metrics = iso_admin_str_of(pool->opts.metrics_url),
      .kv = iso_admin_str_of(pool->opts.kv_path),
      .state = iso_admin_str_of(pool_state_name(atomic_load(&pool->state))),
      .workers = {.configured = configured, .alive = alive},
      .queue = queued,
      .inflight = inflight,
      .accepted = (int64_t)t->accepted,
      .fulfilled = (int64_t)t->fulfilled,
      .rejected = (int64_t)t->rejected,
      .errors = errors,
      .nerrors = nerrors,
      .rate_1s = snap->rate_1s,
      .rate_10s = snap->rate_10s,
      .rate_60s = snap->rate_60s,
      .procs_active = pc.active,
      .procs_spare = pc.spare,
      .procs_starting = pc.starting,
      .procs_restarts = pc.restarts,
      .jobs_lost = pc.jobs_lost,
      .last_death = iso_admin_str_of(last[0] != '\0' ? last : NULL),
      .last_death_ago_ms =
          pc.death_ns != 0 ? ms_between(pc.death_ns, pool__now()) : (double)NAN,
      .spare_isolates = POOL_SPARES(&pool->opts),
      .recycle_after_jobs = pool->opts.recycle_jobs,
      .heap_soft_mb = pool->opts.heap_soft_mb,
      .recycle_heap_mb = pool->opts.recycle_heap_mb,
      .idle_timeout_s = pool->opts.idle_timeout_ms / 1000,
      .spare_builds = atomic_load(&pool->spare_builds),
      .recycles_cold = atomic_load(&pool->recycles_cold),
  };
  long ready;
  long long bytes;
  pool__spares_count(pool, &ready, &bytes);
  o->reply.status.spares_ready = ready;
  pool_code_count cc;
  pool__code_count(pool, &cc);
  iso_admin_status* st = &o->reply.status;
  st->code_limit_mb = (int64_t)(ISO_POOL_CODE_CACHE_BYTES(&pool->opts) >> 20);
  st->code_hits = (int64_t)cc.hits;
  st->code_misses = (int64_t)cc.misses;
  st->code_rejected = (int64_t)cc.rejected;
  st->code_evicted = (int64_t)cc.evicted;
  st->code_made = (int64_t)cc.made;
  st->code_from_front = (int64_t)cc.put;
  st->code_entries = (int64_t)cc.entries;
  st->code_bytes = (int64_t)cc.bytes;
  st->code_front_entries = (int64_t)cc.front_entries;
  st->code_front_bytes = (int64_t)cc.front_bytes;
  for (int r = 0; r < ISO_LINK_R_COUNT; r++) {
    o->reply.status.recycles += atomic_load(&pool->recycles[r]);
  }
  return 0;
}

static const char* worker_state_name(int st) {
  static const char* const kNames[] = {
      [POOL_W_STARTING] = "starting",   [POOL_W_RUNNING] = "running",
      [POOL_W_RECYCLING] = "recycling", [POOL_W_RETIRING] = "retiring",
      [POOL_W_STOPPED] = "stopped",     [POOL_W_LOST] = "lost"};
  return st >= 0 && st <= POOL_W_LOST ? kNames[st] : "unknown";
}

typedef char last_error_copy[sizeof(((pool_worker*)0)->last_error)];
typedef char process_name[24]; /* "<num>.<gen>" */

static int cmd_workers(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  iso_admin_worker* list = keep(o, calloc(POOL_MAX_WORKERS, sizeof(*list)));
  last_error_copy* last = keep(o, calloc(POOL_MAX_WORKERS, sizeof(*last)));
  process_name* procs = keep(o, calloc(POOL_MAX_WORKERS, sizeof(*procs)));
  if (list == NULL || last == NULL || procs == NULL) {
    return out_of_memory(o);
  }
  pool__mutex_lock(&pool->lock);
  int n = pool->nworkers;
  for (int i = 0; i < n; i++) {
    pool_worker* w = pool->workers[i];
    pthread_mutex_lock(&w->info_lock);
    memcpy(last[i], w->last_error, sizeof(last[i]));
    pthread_mutex_unlock(&w->info_lock);
    last[i][sizeof(last[i]) - 1] = '\0';
    list[i] = (iso_admin_worker){
        .id = w->id,
        .state = iso_admin_str_of(worker_state_name(atomic_load(&w->state))),
        .inflight = w->inflight,
        .done = atomic_load(&w->answered),
        .heap_used = (double)atomic_load(&w->heap_used),
        .heap_limit = (double)atomic_load(&w->heap_limit),
        .warm_modules = atomic_load(&w->warm_modules),
        .last_error = iso_admin_str_of(last[i][0] != '\0' ? last[i] : NULL),
        .process = iso_admin_str_of(NULL),
        .pid = ISO_ADMIN_NO_INT,
    };
    if (w->proc != NULL) { /* its number and generation are fixed */
      snprintf(procs[i], sizeof procs[i], "%u.%u", w->proc->num, w->proc->gen);
      list[i].process = iso_admin_str_of(procs[i]);
      list[i].pid = atomic_load(&w->proc->pid);
    }
  }
  pool__mutex_unlock(&pool->lock);
  o->reply.workers = (iso_admin_workers){.list = list, .n = (size_t)n};
  return 0;
}

/* The next job after (*req, *i) that is not answered yet, walking the
 * registry in order; start with *req NULL. Called with jobs_lock. */
static pool_job* next_unanswered(iso_pool* pool, pool_req** req, size_t* i) {
  assert(pool__mutex_held(&pool->jobs_lock));
  pool_req* q = *req != NULL ? *req : pool->reqs_head;
  size_t k = *req != NULL ? *i + 1 : 0;
  for (; q != NULL; q = q->rnext, k = 0) {
    for (; k < q->msg.count; k++) {
      if (!atomic_load(&q->jobs[k].answered)) {
        *req = q;
        *i = k;
        return &q->jobs[k];
      }
    }
  }
  return NULL;
}

/* What poolctl jobs shows of one job, copied under jobs_lock. */
typedef struct job_row {
  int64_t sid;
  int kind;
  int worker;
  uint64_t received_ns;
  uint8_t id[JOB_ID_COPY_MAX]; /* the client's id (msgpack), if it fits */
  size_t id_len;               /* 0: none, or too long to show */
  size_t id_at;                /* where its listed id starts in ids */
  int has_module;
  char module[ISO_PROTO_MAX_MODULE + 1];
} job_row;

/* The listing's client_id of a row: the id as its JSON text reads back
 * (a binary as base64, a timestamp as its ISO text, ...), appended to ids;
 * nil (returns 0 bytes) when it has none or the text needs more than
 * JOB_ID_JSON_MAX bytes, so no work is spent making text that would be
 * dropped. */
static size_t listed_id(const job_row* row, iso_buf* ids, iso_buf* text) {
  size_t at = ids->len;
  iso_buf_reset(text);
  if (row->id_len == 0 ||
      iso_json_from_msgpack_max(row->id, row->id_len, JOB_ID_JSON_MAX, text) !=
          0 ||
      iso_json_to_msgpack((const char*)text->data, text->len, ids) != 0) {
    ids->len = at;
  }
  return ids->len - at;
}

/* Lists the unanswered jobs, oldest first. Under the locks it only copies
 * (a bounded number of bytes per job); the client's ids are converted
 * after they are dropped, so no client's bytes are worked on under a
 * lock. */
static int cmd_jobs(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  uint64_t now = pool__now();
  job_row* rows = keep(o, malloc(MAX_JOBS_LISTED * sizeof(*rows)));
  iso_admin_job* list = keep(o, calloc(MAX_JOBS_LISTED, sizeof(*list)));
  iso_buf* ids = &o->ids;
  if (rows == NULL || list == NULL) {
    return out_of_memory(o);
  }
  int n = 0, truncated = 0;
  pool__mutex_lock(&pool->jobs_lock);
  pool__mutex_lock(&pool->lock); /* on_worker, target */
  pool_req* req = NULL;
  size_t at = 0;
  for (pool_job* j; (j = next_unanswered(pool, &req, &at)) != NULL;) {
    if (n == MAX_JOBS_LISTED) {
      truncated = 1;
      break;
    }
    const iso_proto_req* in = j->in;
    job_row* row = &rows[n++];
    row->sid = j->sid;
    row->kind = in->kind;
    row->worker = j->on_worker ? j->target->id : -1;
    row->received_ns = j->received_ns;
    row->id_len = 0;
    if (in->id.data != NULL && in->id.len <= sizeof(row->id)) {
      memcpy(row->id, in->id.data, in->id.len);
      row->id_len = in->id.len;
    }
    size_t m = in->module.ptr != NULL ? in->module.len : 0;
    m = m < sizeof(row->module) - 1 ? m : sizeof(row->module) - 1;
    if (m > 0) {
      memcpy(row->module, in->module.ptr, m);
    }
    row->module[m] = '\0';
    row->has_module = in->module.ptr != NULL;
  }
  pool__mutex_unlock(&pool->lock);
  pool__mutex_unlock(&pool->jobs_lock);
  /* the ids go into one buffer, which may move as it grows: offsets
   * first, pointers once it is whole */
  iso_buf text;
  iso_buf_init(&text);
  for (int i = 0; i < n; i++) {
    job_row* row = &rows[i];
    row->id_at = ids->len;
    list[i] = (iso_admin_job){
        .id = row->sid,
        .client_id = {NULL, listed_id(row, ids, &text)},
        .kind = iso_admin_str_of(row->kind == ISO_JOB_CALL ? "call" : "eval"),
        .module = iso_admin_str_of(row->has_module ? row->module : NULL),
        .worker = row->worker,
        .age_ms = ms_between(row->received_ns, now),
    };
  }
  iso_buf_close(&text);
  for (int i = 0; i < n; i++) {
    if (list[i].client_id.len > 0) {
      list[i].client_id.data = ids->data + rows[i].id_at;
    }
  }
  o->reply.jobs =
      (iso_admin_jobs){.list = list, .n = (size_t)n, .truncated = truncated};
  return 0;
}

/* A histogram from a snapshot's: its buckets with jobs go into b (room for
 * ISO_METRICS_NBUCKETS). */
static iso_admin_hist hist_of(const iso_metrics_hist* h, iso_admin_bucket* b) {
  size_t n = 0;
  for (size_t i = 0; i < ISO_METRICS_NBUCKETS; i++) {
    if (h->buckets[i] != 0) {
      b[n++] = (iso_admin_bucket){.le = i + 1 < ISO_METRICS_NBUCKETS
                                            ? iso_metrics_bucket_le_us(i)
                                            : INFINITY,
                                  .count = (int64_t)h->buckets[i]};
    }
  }
  return (iso_admin_hist){.count = (int64_t)h->count,
                          .sum = (int64_t)h->sum_us,
                          .p50 = h->p50,
                          .p90 = h->p90,
                          .p99 = h->p99,
                          .p999 = h->p999,
                          .max = (double)h->max_us,
                          .buckets = b,
                          .nbuckets = n};
}

static int cmd_stats(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  enum { NKINDS = ISO_METRICS_ALL + 1 };
  static const char* const kKinds[NKINDS] = {"eval", "call", "all"};
  iso_metrics_snap* snap = keep(o, malloc(sizeof(*snap)));
  iso_admin_kind* kinds = keep(o, calloc(NKINDS, sizeof(*kinds)));
  iso_admin_bucket* b =
      keep(o, calloc(NKINDS * (ISO_METRICS_NSTAGES + 1) * ISO_METRICS_NBUCKETS,
                     sizeof(*b)));
  if (snap == NULL || kinds == NULL || b == NULL ||
      iso_metrics_snapshot(pool->metrics, snap) != 0) {
    return out_of_memory(o);
  }
  for (int k = 0; k < NKINDS; k++, b += 4 * ISO_METRICS_NBUCKETS) {
    kinds[k] = (iso_admin_kind){
        .name = iso_admin_str_of(kKinds[k]),
        .queue = hist_of(&snap->hist[k][ISO_METRICS_QUEUE], b),
        .run =
            hist_of(&snap->hist[k][ISO_METRICS_RUN], b + ISO_METRICS_NBUCKETS),
        .total = hist_of(&snap->hist[k][ISO_METRICS_TOTAL],
                         b + 2 * ISO_METRICS_NBUCKETS),
        .cpu = hist_of(&snap->costs[k][ISO_METRICS_CPU],
                       b + 3 * ISO_METRICS_NBUCKETS),
    };
  }
  o->reply.stats = (iso_admin_stats){.kinds = kinds, .nkinds = NKINDS};
  return 0;
}

/* ---- steering commands ---- */

/* Sends w a record (RELOAD, RECYCLE). Called with pool->lock, which
 * keeps w in the array (not reaped) and its loop running (the shutdown
 * stops workers only after it set POOL_STOP_WORKERS under the lock). */
static void send_to(iso_pool* pool, pool_worker* w, const iso_link_rec* rec) {
  assert(pool__mutex_held(&pool->lock));
  if (pool->stopping >= POOL_STOP_WORKERS) {
    return;
  }
  pool__worker_send(w, rec);
}

static int cmd_cancel(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  int64_t sid = q->job;
  pool_cancel c = {0};
  pool__mutex_lock(&pool->jobs_lock);
  pool_req* req = NULL;
  size_t at = 0;
  for (pool_job* j; (j = next_unanswered(pool, &req, &at)) != NULL;) {
    if (j->sid == sid) {
      /* under jobs_lock its request cannot be freed; the claim settles a
       * race with its answer */
      pool__cancel_begin(pool, j, &c);
      break;
    }
  }
  pool__mutex_unlock(&pool->jobs_lock);
  if (c.job == NULL) {
    return refuse(o, ISO_CODE_NOT_FOUND,
                  "job %lld is not in flight (see `poolctl jobs`)",
                  (long long)sid);
  }
  pool__cancel_end(pool, &c, "the job was cancelled by an operator (poolctl)");
  pool__log(pool, "info", "admin: cancelled job %lld", (long long)sid);
  o->reply.cancel.job = sid;
  return 0;
}

/* Drops the warm realms of module ("" every module) on every worker and
 * waits (RELOAD_WAIT_MS at most) for their answers. Returns the realms
 * dropped by the workers that answered. */
static int reload(iso_pool* pool, const char* module) {
  pool_worker* ws[POOL_MAX_WORKERS];
  int n = 0;
  /* no worker is reaped while we wait for its answer (the reaper reads
   * this under the lock) */
  pool__mutex_lock(&pool->lock);
  atomic_fetch_add(&pool->admin_waiting, 1);
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    pthread_mutex_lock(&w->info_lock);
    w->reload_pending = 1; /* until its RELOADED record */
    pthread_mutex_unlock(&w->info_lock);
    iso_link_rec rec = {.kind = ISO_LINK_RELOAD,
                        .u.reload = {.spec = iso_str_of(module)}};
    send_to(pool, w, &rec);
    ws[n++] = w;
  }
  pool__mutex_unlock(&pool->lock);
  int dropped = 0;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += RELOAD_WAIT_MS / 1000;
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&ws[i]->info_lock);
    while (ws[i]->reload_pending &&
           pthread_cond_timedwait(&ws[i]->info_cond, &ws[i]->info_lock,
                                  &until) == 0) {
    }
    dropped += ws[i]->reload_pending ? 0 : ws[i]->reload_realms;
    pthread_mutex_unlock(&ws[i]->info_lock);
  }
  atomic_fetch_sub(&pool->admin_waiting, 1);
  return dropped;
}

static int cmd_reload(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  int dropped = reload(pool, q->module);
  pool__log(pool, "info", "admin: reload %s: %d warm realms dropped",
            q->module[0] ? q->module : "(all)", dropped);
  o->reply.reload.realms = dropped;
  return 0;
}

int iso_pool_reload(iso_pool* pool) {
  return reload(pool, "");
}

static int cmd_recycle(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  int id = q->worker, all = q->all;
  int64_t* ids = keep(o, calloc(POOL_MAX_WORKERS, sizeof(*ids)));
  if (ids == NULL) {
    return out_of_memory(o);
  }
  int n = 0;
  pool__mutex_lock(&pool->lock);
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    if ((all || w->id == id) && atomic_load(&w->state) == POOL_W_RUNNING) {
      atomic_store(&w->state, POOL_W_RECYCLING); /* no new jobs */
      iso_link_rec rec = {.kind = ISO_LINK_RECYCLE};
      send_to(pool, w, &rec);
      ids[n++] = w->id;
    } else if (!all && w->id == id) {
      n = -1; /* there, but not running */
    }
  }
  pool__mutex_unlock(&pool->lock);
  if (!all && n <= 0) {
    return refuse(o, ISO_CODE_NOT_FOUND,
                  n < 0 ? "worker %d is not running (see `poolctl workers`)"
                        : "there is no worker %d (see `poolctl workers`)",
                  id);
  }
  pool__log(pool, "info", "admin: recycling %d worker(s)", n);
  o->reply.recycle = (iso_admin_recycle){.workers = ids, .n = (size_t)n};
  return 0;
}

static int cmd_resize(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  char why[WHY_MAX];
  int rc = pool__resize(pool, q->workers, why, sizeof(why));
  if (rc != 0) {
    return refuse(o, iso_proto_code_for(rc, ISO_CODE_ADMIN), "%s", why);
  }
  int configured, alive, inflight, queued;
  count_workers(pool, &configured, &alive, &inflight, &queued);
  pool__log(pool, "info", "admin: resize to %d workers", q->workers);
  o->reply.resize.workers =
      (iso_admin_size){.configured = q->workers, .alive = alive};
  return 0;
}

/* drain (grace POOL_DRAIN) or shutdown: the owner's thread stops us. */
static int stop(iso_pool* pool, int64_t grace_ms, admin_out* o) {
  if (pool->opts.stop_cb == NULL) {
    return refuse(o, ISO_CODE_CONFLICT,
                  "this service cannot be stopped from the admin socket");
  }
  pool__mutex_lock(&pool->lock);
  pool->stop_grace_ms = grace_ms;
  pool->draining = 1; /* new jobs: shutting_down from now on */
  pool__mutex_unlock(&pool->lock);
  atomic_store(&pool->state, grace_ms == POOL_DRAIN ? ISO_POOL_DRAINING
                                                    : ISO_POOL_SHUTTING_DOWN);
  pool__log(pool, "info", "admin: %s",
            grace_ms == POOL_DRAIN
                ? "drain: finishing every job taken, then exiting"
                : "shutdown");
  o->reply.state.state =
      iso_admin_str_of(pool_state_name(atomic_load(&pool->state)));
  pool->opts.stop_cb(pool->opts.stop_arg);
  return 0;
}

static int cmd_drain(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  return stop(pool, POOL_DRAIN, o);
}

static int cmd_shutdown(iso_pool* pool, const iso_admin_req* q, admin_out* o) {
  return stop(pool, q->grace_ms, o);
}

/* ---- the command table ---- */

/* A command's handler fills o->reply's result for q and returns 0, or
 * returns -1 after refuse(). Runs on an NNG thread. */
typedef int (*admin_handler)(iso_pool* pool,
                             const iso_admin_req* q,
                             admin_out* o);

static const struct admin_op {
  iso_admin_cmd cmd;
  admin_handler handler;
  int changes_state; /* refused (conflict) while the service stops */
} kOps[] = {
    {.cmd = ISO_ADMIN_STATUS, .handler = cmd_status, .changes_state = 0},
    {.cmd = ISO_ADMIN_WORKERS, .handler = cmd_workers, .changes_state = 0},
    {.cmd = ISO_ADMIN_JOBS, .handler = cmd_jobs, .changes_state = 0},
    {.cmd = ISO_ADMIN_STATS, .handler = cmd_stats, .changes_state = 0},
    {.cmd = ISO_ADMIN_CANCEL, .handler = cmd_cancel, .changes_state = 1},
    {.cmd = ISO_ADMIN_RESIZE, .handler = cmd_resize, .changes_state = 1},
    {.cmd = ISO_ADMIN_RECYCLE, .handler = cmd_recycle, .changes_state = 1},
    {.cmd = ISO_ADMIN_RELOAD, .handler = cmd_reload, .changes_state = 1},
    {.cmd = ISO_ADMIN_DRAIN, .handler = cmd_drain, .changes_state = 1},
    {.cmd = ISO_ADMIN_SHUTDOWN, .handler = cmd_shutdown, .changes_state = 1},
};

static const struct admin_op* op_of(iso_admin_cmd cmd) {
  for (size_t i = 0; i < sizeof(kOps) / sizeof(kOps[0]); i++) {
    if (kOps[i].cmd == cmd) {
      return &kOps[i];
    }
  }
  return NULL;
}

/* ---- the dashboard ---- */

static int put_text(iso_buf* out, const char* text) {
  return iso_buf_append(out, text, strlen(text));
}

/* The page at / (pool/dashboard.html, embedded by bootstrap/embed.cmake). */
extern const char pool__dashboard_html[];
extern const size_t pool__dashboard_html_len;

/* The dashboard's JSON: a reading command's reply as the admin socket
 * sends it, under its key. */
static const struct dashboard_part {
  const char* key;
  iso_admin_cmd cmd;
  admin_handler handler;
} kDashboard[] = {
    {"status", ISO_ADMIN_STATUS, cmd_status},
    {"workers", ISO_ADMIN_WORKERS, cmd_workers},
    {"stats", ISO_ADMIN_STATS, cmd_stats},
};

static int render_dashboard(void* arg, iso_buf* out, int* status) {
  (void)arg;
  (void)status;
  return iso_buf_append(out, pool__dashboard_html, pool__dashboard_html_len);
}

/* /api/dashboard: {"status": ..., "workers": ..., "stats": ...}, the
 * replies of those commands (each {"ok": true, ...}, or {"ok": false,
 * code, message} if its handler refused) built by their handlers and
 * encoded by the admin codec, then turned into JSON; status without the
 * service's addresses (listen, admin, kv), which the metrics do not show
 * either. The handlers hold pool->lock only to copy what they read, as
 * for the admin socket, whose NNG threads run them concurrently too. */
static int render_dashboard_json(void* arg, iso_buf* out, int* status) {
  iso_pool* pool = arg;
  (void)status;
  iso_buf mp;
  iso_buf_init(&mp);
  int rc = put_text(out, "{");
  for (size_t i = 0; rc == 0 && i < sizeof kDashboard / sizeof kDashboard[0];
       i++) {
    const struct dashboard_part* part = &kDashboard[i];
    iso_admin_req q = {.cmd = part->cmd, .worker = -1, .grace_ms = -1};
    admin_out o = {.reply = {.cmd = part->cmd, .ok = 1}};
    if (part->handler(pool, &q, &o) == 0 && part->cmd == ISO_ADMIN_STATUS) {
      o.reply.status.nlisten = 0;
      o.reply.status.admin = iso_admin_str_of(NULL);
      o.reply.status.kv = iso_admin_str_of(NULL);
    }
    iso_buf_reset(&mp);
    rc = iso_admin_encode_reply(&o.reply, &mp);
    if (rc == 0) {
      char key[32];
      snprintf(key, sizeof key, "%s\"%s\":", i > 0 ? "," : "", part->key);
      rc = put_text(out, key);
    }
    if (rc == 0) {
      rc = iso_json_from_msgpack(mp.data, mp.len, out);
    }
    for (int k = 0; k < o.nowned; k++) {
      free(o.owned[k]);
    }
    iso_buf_close(&o.ids);
  }
  if (rc == 0) {
    rc = put_text(out, "}\n");
  }
  iso_buf_close(&mp);
  return rc;
}

/* ---- the socket ---- */

static int token_ok(const iso_pool* pool, const iso_admin_req* q) {
  if (pool->admin_token == NULL) {
    return 1;
  }
  if (!q->has_token) {
    return 0;
  }
  size_t a = strlen(pool->admin_token), b = strlen(q->token);
  unsigned diff = (unsigned)(a ^ b);
  for (size_t i = 0; i < a && i < b; i++) { /* no early exit */
    diff |= (unsigned char)(pool->admin_token[i] ^ q->token[i]);
  }
  return diff == 0;
}

static void admin_cb(iso_server_req* sreq,
                     const uint8_t* data,
                     size_t len,
                     void* arg) {
  iso_pool* pool = arg;
  iso_admin_req q;
  char why[WHY_MAX] = "";
  if (iso_admin_decode(data, len, &q, why, sizeof(why)) != 0) {
    reply_error(sreq, ISO_ADMIN_NONE, ISO_CODE_BAD_REQUEST, why);
    return;
  }
  const struct admin_op* op = op_of(q.cmd);
  if (op == NULL) { /* the decoder knows no command we do not */
    reply_error(sreq, q.cmd, ISO_CODE_BAD_REQUEST, "unknown command");
    return;
  }
  if (!token_ok(pool, &q)) {
    pool__log(pool, "warn", "admin: %s refused: %s token",
              iso_admin_cmd_name(q.cmd), q.has_token ? "wrong" : "no");
    reply_error(sreq, q.cmd, ISO_CODE_UNAUTHORIZED,
                q.has_token ? "wrong admin token"
                            : "this service requires an admin token");
    return;
  }
  if (op->changes_state && atomic_load(&pool->state) != ISO_POOL_RUNNING) {
    reply_error(sreq, q.cmd, ISO_CODE_CONFLICT, "the service is stopping");
    return;
  }
  admin_out o = {.reply = {.cmd = q.cmd, .ok = 1}};
  op->handler(pool, &q, &o);
  send_reply(sreq, &o.reply);
  for (int i = 0; i < o.nowned; i++) {
    free(o.owned[i]);
  }
  iso_buf_close(&o.ids);
}

/* The default admin URL: a socket in a directory only we can enter. */
static int default_admin_path(char* path,
                              size_t len,
                              char* err,
                              size_t errlen) {
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  char dir[512];
  if (xdg != NULL && xdg[0] == '/') {
    snprintf(dir, sizeof(dir), "%s/isopool", xdg);
  } else {
    snprintf(dir, sizeof(dir), "/tmp/isopool-%u", (unsigned)getuid());
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s for the admin socket: %s", dir,
             strerror(errno));
    return ISO_EIO;
  }
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0) {
    snprintf(err, errlen,
             "%s must be a directory of this user with mode 0700 (it holds "
             "the admin socket); fix it or pass --admin URL",
             dir);
    return ISO_EPERM;
  }
  snprintf(path, len, "%s/admin.sock", dir);
  return 0;
}

/* The metrics page: the same counters, in Prometheus text. */
static int render_metrics(void* arg, iso_buf* out, int* status) {
  iso_pool* pool = arg;
  (void)status;
  iso_metrics_snap* snap = malloc(sizeof(*snap));
  if (snap == NULL || iso_metrics_snapshot(pool->metrics, snap) != 0) {
    free(snap);
    return ISO_ENOMEM;
  }
  int configured, alive, inflight, queued;
  count_workers(pool, &configured, &alive, &inflight, &queued);
  iso_metrics_gauges g = {
      .workers_configured = configured,
      .workers_alive = alive,
      .queued = queued,
      .inflight = inflight,
      .uptime_ms = (int64_t)((pool__now() - pool->started_ns) / 1000000),
      .version = ISO_VERSION,
  };
  procs_count pc;
  count_procs(pool, &pc, NULL, 0);
  g.processes_active = pc.active;
  g.processes_spare = pc.spare;
  g.processes_starting = pc.starting;
  g.process_restarts = pc.restarts;
  g.jobs_lost = pc.jobs_lost;
  g.fetch_transfers = pool->net != NULL ? (int64_t)iso_net_count(pool->net) : 0;
  g.pings = atomic_load(&pool->pings);
  for (int r = 0; r < ISO_LINK_R_COUNT && r < ISO_METRICS_MAX_REASONS; r++) {
    g.recycles[g.nrecycles].reason = iso_link_reason_name((iso_link_reason)r);
    g.recycles[g.nrecycles++].n = atomic_load(&pool->recycles[r]);
  }
  g.recycles_cold = atomic_load(&pool->recycles_cold);
  g.spare_builds = atomic_load(&pool->spare_builds);
  long ready;
  long long bytes;
  pool__spares_count(pool, &ready, &bytes);
  g.spares_ready = ready;
  g.spare_bytes = bytes;
  pool_code_count cc;
  pool__code_count(pool, &cc);
  g.code_hits = (int64_t)cc.hits;
  g.code_misses = (int64_t)cc.misses;
  g.code_rejected = (int64_t)cc.rejected;
  g.code_evicted = (int64_t)cc.evicted;
  g.code_made = (int64_t)cc.made;
  g.code_entries = (int64_t)cc.entries;
  g.code_bytes = (int64_t)cc.bytes;
  iso_metrics_worker* ws = calloc(POOL_MAX_WORKERS, sizeof *ws);
  if (ws != NULL) {
    pool__mutex_lock(&pool->lock);
    for (int i = 0; i < pool->nworkers && i < POOL_MAX_WORKERS; i++) {
      pool_worker* w = pool->workers[i];
      ws[i] = (iso_metrics_worker){
          .id = w->id,
          .state = worker_state_name(atomic_load(&w->state)),
          .heap_used = atomic_load(&w->heap_used),
          .heap_limit = atomic_load(&w->heap_limit),
          .inflight = w->inflight,
          .answered = atomic_load(&w->answered),
          .recycles = atomic_load(&w->recycles),
      };
      g.nworkers = i + 1;
    }
    pool__mutex_unlock(&pool->lock);
    g.workers = ws;
  }
  iso_metrics_process_read(&g.process);
  int rc = iso_metrics_prometheus(snap, &g, out);
  free(ws);
  free(snap);
  return rc;
}

/* How long a health check waits for the front's routing lock. */
#define HEALTH_PROBE_MS 200

/* /healthz, liveness: 200 while the front routes jobs (its routing lock
 * answers within HEALTH_PROBE_MS), draining or not; else 503. */
static int render_healthz(void* arg, iso_buf* out, int* status) {
  iso_pool_health h;
  iso_pool_health_get(arg, HEALTH_PROBE_MS, &h);
  if (!h.responsive) {
    *status = 503;
    return put_text(out,
                    "unhealthy: the front's routing has not answered "
                    "for 200 ms\n");
  }
  return put_text(out, "ok\n");
}

/* /readyz, readiness: 200 when the service takes jobs: running (not
 * draining or shutting down) with every configured worker up; else 503
 * with why. */
static int render_readyz(void* arg, iso_buf* out, int* status) {
  iso_pool_health h;
  iso_pool_health_get(arg, HEALTH_PROBE_MS, &h);
  char text[160];
  if (!h.responsive) {
    snprintf(text, sizeof text,
             "not ready: the front's routing has not answered for 200 ms\n");
  } else if (h.state != ISO_POOL_RUNNING) {
    snprintf(text, sizeof text, "not ready: %s\n",
             h.state == ISO_POOL_DRAINING ? "draining" : "shutting down");
  } else if (!pool__health_ready(&h)) {
    snprintf(text, sizeof text, "not ready: %d of %d workers up\n", h.running,
             h.workers);
  } else {
    snprintf(text, sizeof text, "ready: %d of %d workers up\n", h.running,
             h.workers);
    return put_text(out, text);
  }
  *status = 503;
  return put_text(out, text);
}

/* 1 if the metrics URL's path is empty or "/" (http://HOST:PORT[/][?..]):
 * the metrics are at / and the dashboard moves to /dashboard. */
static int metrics_at_root(const char* url) {
  const char* host = strstr(url, "://");
  const char* path = host != NULL ? host + 3 + strcspn(host + 3, "/?#") : url;
  return strcspn(path, "?#") <= 1;
}

int pool__admin_start(iso_pool* pool, char* err, size_t errlen) {
  if (pool->opts.metrics_url != NULL) {
    iso_http_route routes[] = {
        {NULL, ISO_METRICS_PROMETHEUS_CONTENT_TYPE, render_metrics},
        {"/healthz", "text/plain; charset=utf-8", render_healthz},
        {"/readyz", "text/plain; charset=utf-8", render_readyz},
        {"/", "text/html; charset=utf-8", render_dashboard},
        {"/api/dashboard", "application/json", render_dashboard_json},
    };
    size_t nroutes = sizeof routes / sizeof routes[0];
    if (metrics_at_root(pool->opts.metrics_url)) {
      routes[3].path = "/dashboard"; /* / is the metrics' own */
    }
    int rc = iso_http_new(pool->opts.metrics_url, routes, nroutes, pool,
                          &pool->http, err, errlen);
    if (rc != 0) {
      return rc;
    }
  }
  const char* url = pool->opts.admin_url;
  if (url != NULL && strcmp(url, "none") == 0) {
    return 0;
  }
  char buf[600];
  if (url == NULL) {
    char path[560];
    int rc = default_admin_path(path, sizeof(path), err, errlen);
    if (rc != 0) {
      return rc;
    }
    snprintf(buf, sizeof(buf), "ipc://%s", path);
    url = buf;
  }
  pool->admin_url = strdup(url);
  if (pool->opts.admin_token != NULL) {
    pool->admin_token = strdup(pool->opts.admin_token);
  }
  const char* urls[] = {pool->admin_url};
  iso_server_opts so = {
      .urls = urls,
      .nurls = 1,
      .max_message = 64 * 1024,
      .contexts = 16,
      .cb = admin_cb,
      .arg = pool,
  };
  int rc = iso_server_new(&so, &pool->admin, err, errlen);
  if (rc == 0 && strncmp(pool->admin_url, "ipc://", 6) == 0) {
    chmod(pool->admin_url + 6, 0600); /* only this user */
  }
  return rc;
}

void pool__admin_stop(iso_pool* pool) {
  iso_http_free(pool->http);
  pool->http = NULL;
  iso_server_free(pool->admin);
  pool->admin = NULL;
  free(pool->admin_url);
  pool->admin_url = NULL;
  free(pool->admin_token);
  pool->admin_token = NULL;
}
