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
 * (step 3b: a pool process that does not answer). A job only late
 * (its worker's loop held by another job's JavaScript, within that
 * job's deadline) does not make its worker lost while its group speaks.
 * It then answers `timeout` for queued jobs past their deadline, and
 * every 100 ms frees the workers a resize retired once they are idle
 * (pool__reap): it is the only thread that frees a worker while the
 * service runs, and it reads the workers from a snapshot taken under
 * pool->lock, whose pointers stay good for the round for that reason. It
 * reads no worker's memory: only the front's records of them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "pool_private.h"

#define WATCHDOG_PERIOD_MS 2

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
    if (slow_round) {
      pool__reap(pool); /* retired workers with nothing left in flight */
    }
    /* a group that has been silent: its workers' late jobs count */
    int silent = slow_round && now - atomic_load(&pool->group_alive_ns) >
                                   POOL_SILENT_MS * 1000000ull;
    /* a snapshot under the lock: only this thread reaps workers, and the
     * shutdown frees them after this thread ended, so the pointers stay
     * good for the round */
    pool_worker* lost[POOL_MAX_WORKERS];
    int bad[POOL_MAX_WORKERS];
    int nlost = 0;
    pool__mutex_lock(&pool->lock);
    for (int i = 0; i < pool->nworkers; i++) {
      pool_worker* w = pool->workers[i];
      int b = 1; /* pool__worker_bad's, once */
      bad[nlost] = atomic_compare_exchange_strong(&w->bad, &b, 2);
      if (bad[nlost] || atomic_exchange(&w->wedged, 0) ||
          (silent && overdue_job(w, now))) {
        lost[nlost++] = w;
      }
    }
    pool__mutex_unlock(&pool->lock);
    for (int i = 0; i < nlost; i++) {
      /* bad_why was written before bad was set */
      pool__worker_lost(pool, lost[i], bad[i] ? lost[i]->bad_why : NULL);
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
