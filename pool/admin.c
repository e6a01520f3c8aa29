/* admin.c: the admin plane: the admin socket, its commands and the
 * metrics page (the counters are metrics.c's, recorded by answer.c).
 *
 * DESIGN: the admin socket is a second REP0 listener (ipc/iso_server.h)
 * whose callback runs on an NNG thread, like the job socket's; nothing
 * sent to the job socket reaches it. Reading commands (status, workers,
 * jobs, stats) read atomics, the metrics recorder (metrics.h) and, under
 * pool->lock or pool->jobs_lock, the routing state and the registry of
 * requests with unanswered jobs; they never touch an isolate. Commands that
 * change a worker (cancel, reload, recycle) set a bit in its `ctl` word and
 * wake its loop (uv_async_send); the worker does the work on its own thread.
 * reload waits (briefly) for the workers' answers. drain and shutdown record
 * how to stop and call the owner's stop_cb; the owner's thread runs
 * iso_pool_shutdown. Replies are built as JSON text and converted to
 * msgpack (iso_json), which keeps them readable here; the admin socket is
 * not a hot path.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "pool_private.h"

#define MAX_JOBS_LISTED 1000
/* A client id longer than this (msgpack) is listed as null: its JSON
 * could not fit the 255 bytes shown anyway, for any id but a few floats
 * and binaries, and copying it under jobs_lock would cost its size. */
#define JOB_ID_COPY_MAX 512
#define RELOAD_WAIT_MS 2000

/* ---- JSON text (the replies are written as JSON) ---- */

/* Appends s as a JSON string (quoted, escaped). */
static void jw_str(iso_buf* b, const char* s) {
  iso_buf_append(b, "\"", 1);
  for (const unsigned char* p = (const unsigned char*)s; *p != '\0'; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      iso_buf_append(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", *p);
      iso_buf_append(b, esc, 6);
    } else {
      iso_buf_append(b, p, 1);
    }
  }
  iso_buf_append(b, "\"", 1);
}

static void jw(iso_buf* b, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void jw(iso_buf* b, const char* fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0) {
    iso_buf_append(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp));
  }
}

/* ---- replies ---- */

typedef struct reply {
  iso_buf json;
  int failed;
} reply;

static void reply_error(iso_server_req* sreq,
                        const char* code,
                        const char* message) {
  iso_buf j, mp;
  iso_buf_init(&j);
  iso_buf_init(&mp);
  jw(&j, "{\"ok\":false,\"code\":");
  jw_str(&j, code);
  jw(&j, ",\"message\":");
  jw_str(&j, message);
  jw(&j, "}");
  iso_json_to_msgpack((const char*)j.data, j.len, &mp);
  iso_server_reply(sreq, mp.data, mp.len);
  iso_buf_free(&j);
  iso_buf_free(&mp);
}

/* Sends r's JSON object ({"ok":true, ...}) as msgpack. */
static void reply_send(iso_server_req* sreq, reply* r) {
  iso_buf mp;
  iso_buf_init(&mp);
  if (iso_json_to_msgpack((const char*)r->json.data, r->json.len, &mp) != 0) {
    reply_error(sreq, "internal", "the reply could not be encoded");
  } else {
    iso_server_reply(sreq, mp.data, mp.len);
  }
  iso_buf_free(&mp);
  iso_buf_free(&r->json);
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

static void jw_totals(iso_buf* b, const iso_metrics_totals* t) {
  jw(b, "{\"accepted\":%llu,\"fulfilled\":%llu,\"rejected\":%llu,\"errors\":{",
     (unsigned long long)t->accepted, (unsigned long long)t->fulfilled,
     (unsigned long long)t->rejected);
  int first = 1;
  for (int c = 0; c < ISO_METRICS_NCODES; c++) {
    if (t->errors[c] == 0) {
      continue;
    }
    const char* name = iso_proto_code_name((iso_proto_code)c);
    jw(b, "%s", first ? "" : ",");
    jw_str(b, name != NULL ? name : "unknown");
    jw(b, ":%llu", (unsigned long long)t->errors[c]);
    first = 0;
  }
  jw(b, "}}");
}

static void cmd_status(iso_pool* pool, reply* r) {
  iso_metrics_snap* snap = malloc(sizeof(*snap));
  if (snap == NULL || iso_metrics_snapshot(pool->metrics, snap) != 0) {
    free(snap);
    r->failed = 1;
    return;
  }
  int configured, alive, inflight, queued;
  count_workers(pool, &configured, &alive, &inflight, &queued);
  iso_buf* b = &r->json;
  jw(b, "{\"ok\":true,\"version\":\"%s\",\"uptime_ms\":%llu,\"listen\":[",
     ISO_POOL_VERSION,
     (unsigned long long)((pool__now() - pool->started_ns) / 1000000));
  for (size_t i = 0; i < pool->opts.nlisten; i++) {
    jw(b, "%s", i ? "," : "");
    jw_str(b, pool->opts.listen[i]);
  }
  jw(b, "],\"admin\":");
  jw_str(b, pool->admin_url != NULL ? pool->admin_url : "");
  jw(b, ",\"metrics\":");
  if (pool->opts.metrics_url != NULL) {
    jw_str(b, pool->opts.metrics_url);
  } else {
    jw(b, "null");
  }
  jw(b, ",\"state\":\"%s\",\"workers\":{\"configured\":%d,\"alive\":%d}",
     pool_state_name(atomic_load(&pool->state)), configured, alive);
  jw(b, ",\"queue\":%d,\"inflight\":%d,\"totals\":", queued, inflight);
  jw_totals(b, &snap->totals[ISO_METRICS_ALL]);
  jw(b, ",\"rate\":{\"1s\":%.3f,\"10s\":%.3f,\"60s\":%.3f}}", snap->rate_1s,
     snap->rate_10s, snap->rate_60s);
  free(snap);
}

static const char* worker_state_name(int st) {
  static const char* const kNames[] = {
      [POOL_W_STARTING] = "starting",   [POOL_W_RUNNING] = "running",
      [POOL_W_RECYCLING] = "recycling", [POOL_W_RETIRING] = "retiring",
      [POOL_W_STOPPED] = "stopped",     [POOL_W_LOST] = "lost"};
  return st >= 0 && st <= POOL_W_LOST ? kNames[st] : "unknown";
}

static void cmd_workers(iso_pool* pool, reply* r) {
  iso_buf* b = &r->json;
  jw(b, "{\"ok\":true,\"workers\":[");
  pool__mutex_lock(&pool->lock);
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    char last[sizeof(w->last_error)];
    pthread_mutex_lock(&w->info_lock);
    memcpy(last, w->last_error, sizeof(last));
    pthread_mutex_unlock(&w->info_lock);
    jw(b,
       "%s{\"id\":%d,\"state\":\"%s\",\"inflight\":%d,\"done\":%ld,"
       "\"heap_used\":%lld,\"heap_limit\":%lld,\"warm_modules\":%d,"
       "\"last_error\":",
       i ? "," : "", w->id, worker_state_name(atomic_load(&w->state)),
       w->inflight, atomic_load(&w->answered), atomic_load(&w->heap_used),
       atomic_load(&w->heap_limit), atomic_load(&w->warm_modules));
    if (last[0] != '\0') {
      jw_str(b, last);
    } else {
      jw(b, "null");
    }
    jw(b, "}");
  }
  pool__mutex_unlock(&pool->lock);
  jw(b, "]}");
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
  int has_module;
  char module[ISO_PROTO_MAX_MODULE + 1];
} job_row;

/* Lists the unanswered jobs, oldest first. Under the locks it only copies
 * (a bounded number of bytes per job); the client's ids become JSON after
 * they are dropped, so no client's bytes are worked on under a lock. */
static void cmd_jobs(iso_pool* pool, reply* r) {
  iso_buf* b = &r->json;
  uint64_t now = pool__now();
  job_row* rows = malloc(MAX_JOBS_LISTED * sizeof(*rows));
  if (rows == NULL) {
    r->failed = 1;
    return;
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
  jw(b, "{\"ok\":true,\"jobs\":[");
  for (int i = 0; i < n; i++) {
    job_row* row = &rows[i];
    jw(b, "%s{\"id\":%lld,\"client_id\":", i ? "," : "", (long long)row->sid);
    iso_buf id;
    iso_buf_init(&id);
    /* a budget of 255 bytes of JSON: an id that needs more is shown as
     * null, and no work is spent making the text that would be dropped */
    if (row->id_len > 0 &&
        iso_json_from_msgpack_max(row->id, row->id_len, 255, &id) == 0) {
      iso_buf_append(b, id.data, id.len);
    } else {
      jw(b, "null");
    }
    iso_buf_free(&id);
    jw(b, ",\"kind\":\"%s\",\"module\":",
       row->kind == ISO_JOB_CALL ? "call" : "eval");
    if (row->has_module) {
      jw_str(b, row->module);
    } else {
      jw(b, "null");
    }
    jw(b, ",\"worker\":%d,\"age_ms\":%llu}", row->worker,
       (unsigned long long)((now - row->received_ns) / 1000000));
  }
  jw(b, "]%s}", truncated ? ",\"truncated\":true" : "");
  free(rows);
}

static void jw_hist(iso_buf* b, const iso_metrics_hist* h) {
  jw(b,
     "{\"count\":%llu,\"sum\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
     "\"p999\":%.1f,\"max\":%llu,\"buckets\":[",
     (unsigned long long)h->count, (unsigned long long)h->sum_us, h->p50,
     h->p90, h->p99, h->p999, (unsigned long long)h->max_us);
  int first = 1;
  for (size_t i = 0; i < ISO_METRICS_NBUCKETS; i++) {
    if (h->buckets[i] == 0) {
      continue;
    }
    double le = iso_metrics_bucket_le_us(i);
    if (i + 1 < ISO_METRICS_NBUCKETS) {
      jw(b, "%s[%g,%llu]", first ? "" : ",", le,
         (unsigned long long)h->buckets[i]);
    } else {
      jw(b, "%s[null,%llu]", first ? "" : ",",
         (unsigned long long)h->buckets[i]);
    }
    first = 0;
  }
  jw(b, "]}");
}

static void cmd_stats(iso_pool* pool, reply* r) {
  iso_metrics_snap* snap = malloc(sizeof(*snap));
  if (snap == NULL || iso_metrics_snapshot(pool->metrics, snap) != 0) {
    free(snap);
    r->failed = 1;
    return;
  }
  static const char* const kKinds[] = {"eval", "call", "all"};
  static const char* const kStages[] = {"queue", "run", "total"};
  iso_buf* b = &r->json;
  jw(b, "{\"ok\":true,\"kinds\":{");
  for (int k = 0; k <= ISO_METRICS_ALL; k++) {
    jw(b, "%s\"%s\":{", k ? "," : "", kKinds[k]);
    for (int s = 0; s < ISO_METRICS_NSTAGES; s++) {
      jw(b, "%s\"%s\":", s ? "," : "", kStages[s]);
      jw_hist(b, &snap->hist[k][s]);
    }
    jw(b, "}");
  }
  jw(b, "}}");
  free(snap);
}

/* ---- steering commands ---- */

/* Sets a ctl bit of w and wakes its loop. Called with pool->lock, which
 * keeps w in the array (not reaped) and its loop running (the shutdown
 * stops workers only after it set POOL_STOP_WORKERS under the lock). */
static void wake(iso_pool* pool, pool_worker* w, int bit) {
  assert(pool__mutex_held(&pool->lock));
  if (pool->stopping >= POOL_STOP_WORKERS) {
    return;
  }
  atomic_fetch_or(&w->ctl, bit);
  uv_async_send(&w->async);
}

static int cmd_cancel(iso_pool* pool, int64_t sid, reply* r, char* why) {
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
    snprintf(why, 256, "job %lld is not in flight (see `poolctl jobs`)",
             (long long)sid);
    return -1;
  }
  pool__cancel_end(pool, &c, "the job was cancelled by an operator (poolctl)");
  pool__log(pool, "info", "admin: cancelled job %lld", (long long)sid);
  jw(&r->json, "{\"ok\":true,\"job\":%lld}", (long long)sid);
  return 0;
}

static int cmd_reload(iso_pool* pool, const char* module, reply* r) {
  pool_worker* ws[POOL_MAX_WORKERS];
  int n = 0;
  /* no worker is reaped while we wait for its answer (the reaper reads
   * this under the lock) */
  pool__mutex_lock(&pool->lock);
  atomic_fetch_add(&pool->admin_waiting, 1);
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    pthread_mutex_lock(&w->info_lock);
    snprintf(w->reload_spec, sizeof(w->reload_spec), "%s", module);
    w->reload_pending = 1;
    pthread_mutex_unlock(&w->info_lock);
    wake(pool, w, POOL_CTL_RELOAD);
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
  pool__log(pool, "info", "admin: reload %s: %d warm realms dropped",
            module[0] ? module : "(all)", dropped);
  jw(&r->json, "{\"ok\":true,\"realms\":%d}", dropped);
  return 0;
}

static int cmd_recycle(iso_pool* pool, int id, int all, reply* r, char* why) {
  iso_buf ids;
  iso_buf_init(&ids);
  int n = 0;
  pool__mutex_lock(&pool->lock);
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    if ((all || w->id == id) && atomic_load(&w->state) == POOL_W_RUNNING) {
      atomic_store(&w->state, POOL_W_RECYCLING); /* no new jobs */
      wake(pool, w, POOL_CTL_RECYCLE);
      jw(&ids, "%s%d", n ? "," : "", w->id);
      n++;
    } else if (!all && w->id == id) {
      n = -1; /* there, but not running */
    }
  }
  pool__mutex_unlock(&pool->lock);
  if (!all && n <= 0) {
    iso_buf_free(&ids);
    snprintf(why, 256,
             n < 0 ? "worker %d is not running (see `poolctl workers`)"
                   : "there is no worker %d (see `poolctl workers`)",
             id);
    return -1;
  }
  pool__log(pool, "info", "admin: recycling %d worker(s)", n);
  jw(&r->json, "{\"ok\":true,\"workers\":[");
  iso_buf_append(&r->json, ids.data, ids.len);
  jw(&r->json, "]}");
  iso_buf_free(&ids);
  return 0;
}

static int cmd_resize(iso_pool* pool,
                      int n,
                      reply* r,
                      char* why,
                      const char** code) {
  int rc = pool__resize(pool, n, why, 256);
  if (rc != 0) {
    *code = rc == ISO_EBUSY || rc == ISO_ECLOSED ? "conflict" : "internal";
    return -1;
  }
  int configured, alive, inflight, queued;
  count_workers(pool, &configured, &alive, &inflight, &queued);
  pool__log(pool, "info", "admin: resize to %d workers", n);
  jw(&r->json, "{\"ok\":true,\"workers\":{\"configured\":%d,\"alive\":%d}}", n,
     alive);
  return 0;
}

/* drain (grace POOL_DRAIN) or shutdown: the owner's thread stops us. */
static int cmd_stop(iso_pool* pool, int64_t grace_ms, reply* r, char* why) {
  if (pool->opts.stop_cb == NULL) {
    snprintf(why, 256, "this service cannot be stopped from the admin socket");
    return -1;
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
  jw(&r->json, "{\"ok\":true,\"state\":\"%s\"}",
     pool_state_name(atomic_load(&pool->state)));
  pool->opts.stop_cb(pool->opts.stop_arg);
  return 0;
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
  char why[256] = "";
  if (iso_admin_decode(data, len, &q, why, sizeof(why)) != 0) {
    reply_error(sreq, "bad_request", why);
    return;
  }
  const char* name = iso_admin_cmd_name(q.cmd);
  if (!token_ok(pool, &q)) {
    pool__log(pool, "warn", "admin: %s refused: %s token", name,
              q.has_token ? "wrong" : "no");
    reply_error(sreq, "unauthorized",
                q.has_token ? "wrong admin token"
                            : "this service requires an admin token");
    return;
  }
  int changes = q.cmd >= ISO_ADMIN_CANCEL && q.cmd != ISO_ADMIN_STATS;
  if (changes && atomic_load(&pool->state) != ISO_POOL_RUNNING) {
    reply_error(sreq, "conflict", "the service is stopping");
    return;
  }
  reply r = {0};
  iso_buf_init(&r.json);
  int rc = 0;
  const char* code = "not_found";
  switch (q.cmd) {
    case ISO_ADMIN_STATUS:
      cmd_status(pool, &r);
      break;
    case ISO_ADMIN_WORKERS:
      cmd_workers(pool, &r);
      break;
    case ISO_ADMIN_JOBS:
      cmd_jobs(pool, &r);
      break;
    case ISO_ADMIN_STATS:
      cmd_stats(pool, &r);
      break;
    case ISO_ADMIN_CANCEL:
      rc = cmd_cancel(pool, q.job, &r, why);
      break;
    case ISO_ADMIN_RELOAD:
      rc = cmd_reload(pool, q.module, &r);
      break;
    case ISO_ADMIN_RECYCLE:
      rc = cmd_recycle(pool, q.worker, q.all, &r, why);
      break;
    case ISO_ADMIN_RESIZE:
      rc = cmd_resize(pool, q.workers, &r, why, &code);
      break;
    case ISO_ADMIN_DRAIN:
    case ISO_ADMIN_SHUTDOWN:
      rc = cmd_stop(pool, q.cmd == ISO_ADMIN_DRAIN ? POOL_DRAIN : q.grace_ms,
                    &r, why);
      code = "conflict";
      break;
    default:
      rc = -1;
      code = "bad_request";
      snprintf(why, sizeof(why), "unknown command");
      break;
  }
  if (rc != 0 || r.failed) {
    iso_buf_free(&r.json);
    reply_error(sreq, r.failed ? "internal" : code,
                r.failed ? "out of memory" : why);
    return;
  }
  reply_send(sreq, &r);
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
static int render_metrics(void* arg, iso_buf* out) {
  iso_pool* pool = arg;
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
      .version = ISO_POOL_VERSION,
  };
  int rc = iso_metrics_prometheus(snap, &g, out);
  free(snap);
  return rc;
}

int pool__admin_start(iso_pool* pool, char* err, size_t errlen) {
  if (pool->opts.metrics_url != NULL) {
    int rc = iso_http_serve(pool->opts.metrics_url,
                            ISO_METRICS_PROMETHEUS_CONTENT_TYPE, render_metrics,
                            pool, &pool->http, err, errlen);
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
  int rc = iso_server_start(&so, &pool->admin, err, errlen);
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
