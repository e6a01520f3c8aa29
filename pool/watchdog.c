/* watchdog.c: the front's watchdog thread: the half of the watchdog that
 * needs no isolate (group.c has the other).
 *
 * DESIGN: the watchdog wakes every WATCHDOG_PERIOD_MS. Each round it
 * declares lost (pool__worker_lost) the workers that sent what no worker
 * sends (pool__worker_bad, which wakes it), those whose group said
 * WEDGED (JavaScript its watchdog stopped ran on for POOL_LOST_GRACE_MS),
 * and,
 * every 100 ms, those with a job past its deadline and the grace while
 * their group has said nothing for POOL_SILENT_MS (it says ALIVE every
 * POOL_ALIVE_MS): what is left to the front when a group cannot speak
 * (step 3b: a pool process that does not answer); and, whatever the
 * group says, those with a job unanswered POOL_HELD_MS past its deadline
 * (held_job): the front's own bound, for a group that lies (a pool
 * process compromised, or whose WEDGED was lost) and keeps saying ALIVE
 * while its worker never answers. A job only late (its worker's loop
 * held by another job's JavaScript, within that job's deadline) does not
 * make its worker lost: the bound counts from the latest deadline of the
 * jobs that were on the worker with it before it was overdue. No
 * RLIMIT_CPU backs this: it is a budget for a process's whole life (it
 * would end healthy busy processes, jobs and all) and does not see a
 * thread blocked off the CPU. Each round it also answers the jobs of a
 * pool process the front killed or whose links went, once it has ended
 * and before its reap (pool__procs_watch, for the one whose links went a
 * moment before it became a zombie). It then answers `timeout` for
 * queued jobs past their deadline, and every 100 ms frees the workers a
 * resize retired once they are idle (pool__reap): it is the only thread
 * that frees a worker while the service runs, and it reads the workers
 * from a snapshot taken under pool->lock, whose pointers stay good for the
 * round for that reason. It reads no worker's memory: only the front's
 * records of them.
 *
 * The group's news comes on its control link (ipc/iso_link.h's records:
 * HALT from the front; WEDGED and ALIVE back), whose front end this file
 * keeps too (a socketpair whose other end the group gets: the pool
 * process inherits it). Its messages are read on the link hub's thread
 * (pool__ctl_msg_cb),
 * which only marks a worker wedged or the group alive for the watchdog
 * thread. The front trusts nothing it reads there: a message that does
 * not decode, a WEDGED naming a worker the front never gave the group,
 * or the group's end going away while the service runs is logged, and
 * the group is distrusted from then on: its ALIVE no longer counts, so
 * it is silent, and its workers with a job past its deadline and the
 * grace are lost at the next slow round, by the rule above. A pool
 * process's group (--processes > 0: one control link per process, read
 * by pool__procs_ctl_msg_cb) gets the process-level answer at once: the
 * front SIGKILLs the process (pool__proc_kill), whose exit answers the
 * jobs of all its workers, and a spare takes its place (procs.c). A
 * worker of a process declared lost here is answered the same way: its
 * process is killed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"
#include "pool_private.h"

#define WATCHDOG_PERIOD_MS 2

/* The front's own bound: how long past its deadline a job may stay
 * unanswered on a worker whose group still says ALIVE (past the latest
 * deadline of the jobs it may wait behind: held_job). A well-behaved
 * group stops JavaScript at its deadline and says WEDGED POOL_LOST_GRACE_MS
 * later if it ran on; POOL_SILENT_MS more is the margin for a WEDGED that
 * never came (lost, or a pool process that lies). */
#define POOL_HELD_MS (POOL_LOST_GRACE_MS + POOL_SILENT_MS)

/* Why the watchdog gives up on a worker (lost_why says it in words). */
typedef enum {
  LOST_NOT = 0,
  LOST_BAD,    /* it sent what no worker sends */
  LOST_WEDGED, /* its group said WEDGED */
  LOST_SILENT, /* its group went silent with a job overdue */
  LOST_HELD,   /* a job on it is past POOL_HELD_MS, whatever ALIVE says */
} lost_kind;

/* A job on w past its deadline and the grace, with no DONE record.
 * Called with the lock. */
static int overdue_job(pool_worker* w, uint64_t now) {
  assert(pool__mutex_held(&w->pool->lock));
  for (uint32_t i = 0; i < w->nslots; i++) {
    const pool_job* job = w->slots[i].job;
    if (job != NULL && !atomic_load(&job->answered) &&
        now > job->deadline_ns + POOL_LOST_GRACE_MS * 1000000ull) {
      return 1;
    }
  }
  return 0;
}

/* A job on w held past any well-behaved worker's answer: unanswered
 * POOL_HELD_MS past its deadline, or past the latest deadline of the
 * jobs that were on w with it before it was overdue, if later (their
 * JavaScript may hold w's loop until then, and the job's answer waits
 * for the loop: the group stops each at its own deadline, or says
 * WEDGED). Jobs that came later do not count: a process that keeps taking
 * and answering new jobs cannot hold an old one for ever. Returns how
 * many ms past its deadline the job is, or 0. Each job's held_until_ns is
 * kept here, under the lock, from its first sight (the slow rounds only:
 * a job past its deadline and the grace when first seen still counts the
 * jobs with it then). Called with the lock. */
static uint64_t held_job(pool_worker* w, uint64_t now) {
  assert(pool__mutex_held(&w->pool->lock));
  if (w->inflight == 0) {
    return 0;
  }
  uint64_t horizon = 0; /* the latest deadline on w now */
  for (uint32_t i = 0; i < w->nslots; i++) {
    const pool_job* job = w->slots[i].job;
    if (job != NULL && job->deadline_ns > horizon) {
      horizon = job->deadline_ns;
    }
  }
  uint64_t late = 0;
  for (uint32_t i = 0; i < w->nslots; i++) {
    pool_job* job = w->slots[i].job;
    if (job == NULL) {
      continue;
    }
    if (job->held_until_ns == 0 ||
        now <= job->deadline_ns + POOL_LOST_GRACE_MS * 1000000ull) {
      if (horizon > job->held_until_ns) {
        job->held_until_ns = horizon;
      }
    }
    if (!atomic_load(&job->answered) &&
        now > job->held_until_ns + POOL_HELD_MS * 1000000ull &&
        now - job->deadline_ns > late) {
      late = now - job->deadline_ns;
    }
  }
  return late / 1000000;
}

/* Why w is lost, for its jobs' answers and the log (pool__worker_lost):
 * it sent what no worker sends (bad), its group said WEDGED, its group
 * (its pool process, or the front's group of worker threads) went silent
 * with a job overdue, or a job on it is held past the front's bound
 * (late_ms past its deadline) while the group still says ALIVE. */
static void lost_why(iso_pool* pool,
                     pool_worker* w,
                     lost_kind kind,
                     uint64_t late_ms,
                     uint64_t now,
                     char* out,
                     size_t cap) {
  const char* group = w->proc != NULL ? "pool process" : "group of threads";
  uint64_t alive = w->proc != NULL ? atomic_load(&w->proc->alive_ns)
                                   : atomic_load(&pool->group_alive_ns);
  if (kind == LOST_BAD) {
    snprintf(out, cap, "%s", w->bad_why);
  } else if (kind == LOST_WEDGED) {
    snprintf(out, cap,
             "worker %d was lost: its JavaScript ran on %d ms after it was "
             "stopped at its deadline",
             w->id, POOL_LOST_GRACE_MS);
  } else if (kind == LOST_HELD) {
    snprintf(out, cap,
             "worker %d was lost: a job on it was unanswered %llu ms past "
             "its deadline while its %s kept saying it was alive (the "
             "front's bound: %d ms past the deadlines it could wait behind)",
             w->id, (unsigned long long)late_ms, group, POOL_HELD_MS);
  } else if (alive == 0) { /* distrust() */
    snprintf(out, cap,
             "worker %d was lost: its %s sent what none sends (the log "
             "says what) and is not heard from, and a job on it was over "
             "%d ms past its deadline",
             w->id, group, POOL_LOST_GRACE_MS);
  } else {
    snprintf(out, cap,
             "worker %d was lost: its %s stopped answering (its watchdog "
             "said nothing for %llu ms) while a job on it was over %d ms "
             "past its deadline",
             w->id, group, (unsigned long long)((now - alive) / 1000000),
             POOL_LOST_GRACE_MS);
  }
}

static void* watchdog_main(void* arg) {
  iso_pool* pool = arg;
  unsigned rounds = 0;
  pthread_setname_np(pthread_self(), "isopool-watch");
#ifndef NDEBUG
  pool__this_watchdog = pool; /* for pool__on_watchdog */
#endif
  for (;;) {
    pthread_mutex_lock(&pool->wd_lock);
    if (!pool->wd_stop) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&pool->wd_cond, &pool->wd_lock, &ts);
    }
    int stop = pool->wd_stop;
    pthread_mutex_unlock(&pool->wd_lock);
    if (stop) {
      return NULL;
    }
    uint64_t now = pool__now();
    int slow_round = ++rounds % 50 == 0;
    if (pool->opts.processes > 0) {
      pool__procs_watch(pool); /* ended, not reaped: answered now */
    }
    if (slow_round) {
      pool__reap(pool);       /* retired workers with nothing left in flight */
      pool__procs_reap(pool); /* dead pool processes */
    }
    /* a snapshot under the lock: only this thread reaps workers, and the
     * shutdown frees them after this thread ended, so the pointers stay
     * good for the round */
    pool_worker* lost[POOL_MAX_WORKERS];
    lost_kind kind[POOL_MAX_WORKERS];
    uint64_t late[POOL_MAX_WORKERS];
    int nlost = 0;
    pool__mutex_lock(&pool->lock);
    for (int i = 0; i < pool->nworkers; i++) {
      pool_worker* w = pool->workers[i];
      int b = 1; /* pool__worker_bad's, once */
      int bad = atomic_compare_exchange_strong(&w->bad, &b, 2);
      /* a group that has been silent: its workers' late jobs count */
      uint64_t alive = w->proc != NULL ? atomic_load(&w->proc->alive_ns)
                                       : atomic_load(&pool->group_alive_ns);
      int silent = slow_round && now - alive > POOL_SILENT_MS * 1000000ull;
      int wedged = atomic_exchange(&w->wedged, 0);
      uint64_t held = slow_round ? held_job(w, now) : 0;
      lost_kind k = bad                             ? LOST_BAD
                    : wedged                        ? LOST_WEDGED
                    : silent && overdue_job(w, now) ? LOST_SILENT
                    : held > 0                      ? LOST_HELD
                                                    : LOST_NOT;
      if (k != LOST_NOT) {
        late[nlost] = held;
        kind[nlost] = k;
        lost[nlost++] = w;
      }
    }
    pool__mutex_unlock(&pool->lock);
    for (int i = 0; i < nlost; i++) {
      /* bad_why was written before bad was set */
      char why[320];
      lost_why(pool, lost[i], kind[i], late[i], now, why, sizeof why);
      pool__worker_lost(pool, lost[i], why);
    }
    /* queued jobs past their deadline */
    pool_job* expired = NULL;
    pool__mutex_lock(&pool->lock);
    pool_job** pp = &pool->qhead;
    pool->qtail = NULL;
    while (*pp != NULL) {
      pool_job* job = *pp;
      if (job->deadline_ns <= now) {
        *pp = job->qnext;
        pool->qlen--;
        job->qnext = expired;
        expired = job;
      } else {
        pool->qtail = job;
        pp = &job->qnext;
      }
    }
    pool__mutex_unlock(&pool->lock);
    while (expired != NULL) {
      pool_job* job = expired;
      expired = job->qnext;
      char msg[160];
      snprintf(msg, sizeof(msg),
               "the job waited for a worker past its deadline of %u ms",
               job->timeout_ms);
      pool__answer_refuse(job, ISO_CODE_TIMEOUT, msg);
    }
  }
}

int pool__watchdog_start(iso_pool* pool) {
  return pthread_create(&pool->watchdog, NULL, watchdog_main, pool) == 0
             ? 0
             : ISO_ENOMEM;
}

void pool__watchdog_stop(iso_pool* pool) {
  pthread_mutex_lock(&pool->wd_lock);
  pool->wd_stop = 1;
  pthread_cond_signal(&pool->wd_cond);
  pthread_mutex_unlock(&pool->wd_lock);
  pthread_join(pool->watchdog, NULL);
}

/* ---- the group's control link ---- */

/* The group (the front's own, p NULL, or pool process p's) sent what a
 * well-behaved one never does (or its end went away): said once, and from
 * now on the group is silent to the watchdog; a pool process is SIGKILLed
 * (its exit answers its jobs). Thread: the link hub's. */
static void distrust(iso_pool* pool, pool_proc* p, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void distrust(iso_pool* pool, pool_proc* p, const char* fmt, ...) {
  char why[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  if (p != NULL) {
    atomic_store(&p->alive_ns, 0);
    if (!atomic_exchange(&p->distrusted, 1)) {
      pool__proc_kill(p, "its workers' group: %s", why);
    }
    return;
  }
  atomic_store(&pool->group_alive_ns, 0); /* silent since ever */
  if (atomic_exchange(&pool->group_distrusted, 1)) {
    return;
  }
  pool__log(pool, "error",
            "the workers' group: %s; it is taken as silent from now on: its "
            "workers with a job past its deadline are lost",
            why);
}

/* A WEDGED for worker `id`: the watchdog declares it lost. An id the
 * front never gave the group is a lie; one of a worker already gone
 * (reaped, or lost and freed) is only late. A pool process's group has
 * the workers it was started with (fixed, and freed only with it). */
static void wedged(iso_pool* pool, pool_proc* p, uint32_t id) {
  int known = 0;
  if (p != NULL) {
    for (int k = 0; k < p->nworkers; k++) {
      if ((uint32_t)p->workers[k]->id == id) {
        atomic_store(&p->workers[k]->wedged, 1);
        known = 1;
      }
    }
    if (!known) {
      distrust(pool, p, "WEDGED names worker %u, which is not one of its own",
               id);
    }
    return;
  }
  pool__mutex_lock(&pool->lock);
  int given = id < (uint32_t)pool->next_worker_id;
  for (int k = 0; given && k < pool->nworkers; k++) {
    if ((uint32_t)pool->workers[k]->id == id) {
      atomic_store(&pool->workers[k]->wedged, 1); /* the watchdog's */
      known = 1;
    }
  }
  pool__mutex_unlock(&pool->lock);
  if (!given) {
    distrust(pool, NULL, "WEDGED names worker %u, which is not one of its own",
             id);
  } else if (!known) {
    pool__log(pool, "debug", "WEDGED for worker %u, which is gone", id);
  }
}

static void ctl_msg(iso_pool* pool,
                    pool_proc* p,
                    const uint8_t* data,
                    size_t len) {
  _Atomic uint64_t* alive = p != NULL ? &p->alive_ns : &pool->group_alive_ns;
  atomic_int* distrusted = p != NULL ? &p->distrusted : &pool->group_distrusted;
  iso_link_rd rd;
  iso_link_rec rec;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_GROUP_CTL, data, len, err, sizeof(err));
  while (rc == 0) {
    int got = iso_link_rd_next(&rd, &rec, err, sizeof(err));
    if (got != 1) {
      rc = got; /* 0: the end; else what was wrong */
      break;
    }
    if (rec.kind == ISO_LINK_ALIVE) {
      if (!atomic_load(distrusted)) {
        atomic_store(alive, pool__now());
      }
      if (p != NULL) {
        pool__code_offer(pool, p);
      }
    } else if (rec.kind == ISO_LINK_CODE) {
      if (p != NULL) { /* the front's own workers share its cache */
        pool__code_take(pool->code, p, &rec.u.code);
      }
    } else if (rec.kind == ISO_LINK_SPARES) {
      pool_spares* s = p != NULL ? &p->spares : &pool->group_spares;
      const iso_link_spares* r = &rec.u.spares;
      atomic_store(&s->ready, (long)(r->ready <= INT32_MAX ? r->ready : 0));
      atomic_store(&s->bytes,
                   (long long)(r->bytes <= INT64_MAX ? r->bytes : 0));
      if (r->builds > s->builds) { /* a counter: what it grew by */
        atomic_fetch_add(&pool->spare_builds, (long)(r->builds - s->builds));
      }
      s->builds = r->builds;
    } else if (rec.kind == ISO_LINK_CODE_STATS) {
      pool__code_figures(pool, p, &rec.u.code_stats);
    } else if (rec.kind == ISO_LINK_WEDGED) {
      wedged(pool, p, rec.u.wedged.worker);
    }
  }
  if (rc != 0) { /* the records before the fault were read and stand */
    distrust(pool, p, "a control message that does not decode: %s", err);
  }
}

void pool__spares_count(iso_pool* pool, long* ready, long long* bytes) {
  *ready = atomic_load(&pool->group_spares.ready);
  *bytes = atomic_load(&pool->group_spares.bytes);
  pthread_mutex_lock(&pool->procs_lock);
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    pool_proc* p = pool->procs[i];
    if (p != NULL) {
      *ready += atomic_load(&p->spares.ready);
      *bytes += atomic_load(&p->spares.bytes);
    }
  }
  pthread_mutex_unlock(&pool->procs_lock);
}

void pool__ctl_msg_cb(const uint8_t* data, size_t len, void* arg) {
  ctl_msg(arg, NULL, data, len);
}

void pool__procs_ctl_msg_cb(const uint8_t* data, size_t len, void* arg) {
  pool_proc* p = arg;
  ctl_msg(p->pool, p, data, len);
}

static void ctl_event_cb(iso_link* link, iso_link_event ev, void* arg) {
  iso_pool* pool = arg;
  (void)link;
  (void)ev; /* PEER_GONE, the only event */
  pool__mutex_lock(&pool->lock);
  int stopping = pool->stopping != POOL_STOP_NONE;
  pool__mutex_unlock(&pool->lock);
  if (!stopping) {
    distrust(pool, NULL, "its control link closed");
  }
}

int pool__ctl_link_new(iso_pool* pool,
                       iso_link_msg_cb msg_cb,
                       iso_link_event_cb event_cb,
                       void* arg,
                       iso_link** out,
                       int* peer,
                       char* err,
                       size_t errlen) {
  int fds[2];
  char why[256] = "";
  int rc = iso_link_socketpair(fds, why, sizeof why);
  if (rc == 0) {
    size_t hl;
    const uint8_t* head = iso_link_head(&hl);
    iso_link_opts lo = {
        .fd = fds[0],
        .max_recv = POOL_CTL_MAX_MSG,
        .max_send = POOL_CTL_MAX_MSG,
        .max_queued = POOL_CTL_MAX_QUEUED,
        .head = head,
        .head_len = hl,
        .hub = pool->hub,
        .msg_cb = msg_cb,
        .event_cb = event_cb,
        .arg = arg,
    };
    rc = iso_link_new(&lo, out, why, sizeof why);
    if (rc != 0) {
      close(fds[1]);
    }
  }
  if (rc != 0) {
    snprintf(err, errlen, "cannot open a control link: %s", why);
    return rc;
  }
  *peer = fds[1];
  return 0;
}

int pool__ctl_open(iso_pool* pool, int* peer, char* err, size_t errlen) {
  return pool__ctl_link_new(pool, pool__ctl_msg_cb, ctl_event_cb, pool,
                            &pool->ctl, peer, err, errlen);
}

void pool__ctl_close(iso_pool* pool) {
  iso_link_free(pool->ctl);
  pool->ctl = NULL;
}

void pool__halt_send(pool_worker* w, uint64_t deadline_ns) {
  iso_link_rec rec = {ISO_LINK_HALT, .u.halt = {.worker = (uint32_t)w->id,
                                                .deadline_ns = deadline_ns}};
  /* fails only when the link is closing, or past POOL_CTL_MAX_QUEUED for
   * a group that stopped reading (silent: the watchdog's rule covers its
   * workers) */
  (void)iso_link_send_rec(w->proc != NULL ? w->proc->ctl : w->pool->ctl, &rec);
}
