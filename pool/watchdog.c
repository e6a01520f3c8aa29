/* watchdog.c: the watchdog thread.
 *
 * DESIGN: the watchdog wakes every WATCHDOG_PERIOD_MS. Each round it reads
 * what every worker's runtime runs (iso_rt_running: the entry's
 * generation and the deadline of the realm it runs for) and stops
 * JavaScript that runs past that deadline (iso_rt_terminate_gen, which
 * stops that entry only if it still runs, so a late watchdog never stops
 * the next job): a job stuck in `while (true) {}` costs its own worker
 * that job only. For a job cancelled on its worker (pool->cancels) the
 * deadline counts as now; dispatch.c's DESIGN says how the job's
 * JavaScript is told by its deadline. A worker whose stopped entry still
 * runs POOL_LOST_GRACE_MS later is declared lost (pool__worker_lost). It
 * then answers `timeout` for queued jobs past their deadline, and every
 * 100 ms frees the workers a resize retired once they are idle
 * (pool__reap): it is the only thread that frees a worker while the
 * service runs, and it reads the workers from a snapshot taken under
 * pool->lock, whose pointers stay good for the round for that reason.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "pool_private.h"

#define WATCHDOG_PERIOD_MS 2

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
    if (++rounds % 50 == 0) {
      pool__reap(pool); /* retired workers with nothing left in flight */
    }
    /* a snapshot under the lock: only this thread reaps workers, and the
     * shutdown frees them after this thread ended, so the pointers stay
     * good for the round */
    pool_worker* ws[POOL_MAX_WORKERS];
    pool__mutex_lock(&pool->lock);
    int nw = pool->nworkers;
    memcpy(ws, pool->workers, (size_t)nw * sizeof(ws[0]));
    int any_cancelled = pool->cancels != NULL;
    pool__mutex_unlock(&pool->lock);
    /* what each runs now, and whether it runs past its deadline */
    struct {
      iso_rt* rt;
      uint64_t gen, deadline;
      int stop;
    } run[POOL_MAX_WORKERS];
    for (int i = 0; i < nw; i++) {
      iso_rt* rt = pool__runner_rt_lock(ws[i]->runner);
      uint64_t since;
      run[i].rt = rt;
      if (rt == NULL ||
          !iso_rt_running(rt, &run[i].gen, &since, &run[i].deadline)) {
        run[i].deadline = 0;
      }
      pool__runner_rt_unlock(ws[i]->runner);
      run[i].stop = run[i].deadline != 0 && now > run[i].deadline;
    }
    /* or for a cancelled job on it (its deadline is now) */
    if (any_cancelled) {
      pool__mutex_lock(&pool->lock);
      for (pool_job* j = pool->cancels; j != NULL; j = j->cnext) {
        for (int i = 0; i < nw; i++) {
          if (j->target == ws[i] && run[i].deadline == j->deadline_ns) {
            run[i].stop = 1;
          }
        }
      }
      pool__mutex_unlock(&pool->lock);
    }
    pool_worker* lost[POOL_MAX_WORKERS];
    int nlost = 0;
    for (int i = 0; i < nw; i++) {
      if (!run[i].stop) {
        continue;
      }
      /* the same runtime (not a recycled one) and still the same entry */
      iso_rt* rt = pool__runner_rt_lock(ws[i]->runner);
      if (rt != NULL && rt == run[i].rt) {
        iso_rt_terminate_gen(rt, run[i].gen);
      }
      pool__runner_rt_unlock(ws[i]->runner);
      /* the entry it stopped before and still runs: how long since? */
      if (ws[i]->stop_gen != run[i].gen) {
        ws[i]->stop_gen = run[i].gen;
        ws[i]->stop_ns = now;
      } else if (now - ws[i]->stop_ns > POOL_LOST_GRACE_MS * 1000000ull) {
        lost[nlost++] = ws[i];
      }
    }
    for (int i = 0; i < nlost; i++) {
      pool__worker_lost(pool, lost[i]);
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
