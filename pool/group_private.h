/* group_private.h: what the worker side's two files share: worker.c (a
 * worker thread, the runner) and group.c (the group of runners and its
 * watchdog). The front does not include it.
 */
#ifndef ISO_POOL_GROUP_PRIVATE_H
#define ISO_POOL_GROUP_PRIVATE_H

#include "worker.h"

/* An engine (worker.c's DESIGN): a thread, its libuv loop and the
 * runtime built on it, which runs one worker (a runner) or waits as the
 * group's spare. */
typedef struct pool_engine pool_engine;

/* An engine's states, as the group sees them (under its lock). */
enum {
  POOL_ENG_BUILDING, /* making its runtime */
  POOL_ENG_SPARE,    /* its runtime built, no worker: a spare */
  POOL_ENG_TAKEN,    /* a worker is being handed to it */
  POOL_ENG_RUNNING,  /* it runs a worker */
  POOL_ENG_ENDING,   /* it frees its runtime and closes its loop */
  POOL_ENG_ENDED     /* its thread returns: the group joins it */
};

struct pool_engine {
  pool_group* group;
  pthread_t thread;
  uv_loop_t loop;
  uv_async_t wake;       /* a worker was handed to it, or the group stops */
  iso_rt* rt;            /* built on its thread, NULL between: its own */
  iso_realm* realm;      /* as a spare: a realm of rt made in advance */
  pool_runner* w;        /* the worker it runs, or NULL: its own */
  pool_runner_opts conf; /* its runtimes' options (strings owned; no fds) */
  iso_import_map* import_map;
  int after; /* its own: what its thread does once its loop stops */
  /* under the group's lock */
  int state;           /* POOL_ENG_* */
  pool_runner* handed; /* a worker handed to it, not taken yet */
  int stop;            /* the group stops */
  int wakeable;        /* `wake` is initialised */
  uint64_t bytes;      /* as a spare: its runtime's committed memory */
  pool_engine* next;   /* the group's engines */
};

/* worker.c, for the group's watchdog */

/* pool__runner_halt: the stop's first step (a HALT record without a
 * deadline), for JavaScript that would keep the loop from reading the
 * STOP record: from now on a job whose JavaScript is stopped is answered
 * shutting_down, and the JavaScript running now is stopped. Thread: the
 * group's watchdog. */
void pool__runner_halt(pool_runner* r);

/* The runner's runtime, or NULL before it has one and after; held until
 * pool__runner_rt_unlock. Thread: any (the group's watchdog). */
iso_rt* pool__runner_rt_lock(pool_runner* r);
void pool__runner_rt_unlock(pool_runner* r);

/* group.c, for the runners */

/* pool__group_join: r (the front's worker number `id`, tokens in
 * 0..nslots-1) is watched from now on; pool__group_leave: no more (before
 * r is freed). Return 0 or ISO_ENOMEM. Thread: the one starting or
 * freeing r. */
int pool__group_join(pool_group* g, pool_runner* r, int id, uint32_t nslots);
void pool__group_leave(pool_group* g, pool_runner* r);

/* pool__group_uncancel: r has dropped the cancelled job of that deadline
 * (its CANCEL record): its JavaScript will not run again, so the
 * watchdog no longer looks for it. Thread: r's. */
void pool__group_uncancel(pool_group* g, pool_runner* r, uint64_t deadline_ns);

/* pool__group_wait_released: returns once g is not held (pool_group_opts
 * held, pool__group_release). Thread: a runner's. */
void pool__group_wait_released(pool_group* g);

/* ---- engines (the group owns them; worker.c runs them) ---- */

/* pool__group_engine_add: e (POOL_ENG_BUILDING) is the group's from now
 * on, before its thread starts; pool__group_engines_missing: how many
 * more engines the group should have (one per worker joined, and
 * pool_group_opts.spares). Thread: any but the group's watchdog. */
void pool__group_engine_add(pool_group* g, pool_engine* e);
int pool__group_engines_missing(pool_group* g);

/* pool__group_starting: a worker's first engine is to build its runtime
 * (delta 1, before it starts) or has built it (-1, whatever came of it).
 * pool__group_wait_started: returns once none is building (or the group
 * stops): a spare builds after the workers' own, which the service waits
 * for. Thread: any; wait: a spare engine's. */
void pool__group_starting(pool_group* g, int delta);
void pool__group_wait_started(pool_group* g);

/* pool__group_engine_wakeable: e's wake handle may be sent (by
 * pool__group_hand, the group's stop). Returns 1, or 0 if the group
 * stops. pool__group_engine_state: e is now `state`. Thread: e's. */
int pool__group_engine_wakeable(pool_group* g, pool_engine* e);
void pool__group_engine_state(pool_group* g, pool_engine* e, int state);

/* pool__group_spare_ready: e has built a runtime holding `bytes` and is
 * a spare (counted as a spare's build), or, returning 0, the group stops
 * and e ends. Thread: e's. */
int pool__group_spare_ready(pool_group* g, pool_engine* e, uint64_t bytes);

/* pool__group_spare_take: a spare engine, now POOL_ENG_TAKEN, or NULL
 * when none is ready. pool__group_hand: hands w to the engine it took
 * (which wakes and runs it). Thread: a runner's engine. */
pool_engine* pool__group_spare_take(pool_group* g);
void pool__group_hand(pool_group* g, pool_engine* to, pool_runner* w);

/* pool__group_mail: what woke e: the worker handed to it (NULL: none)
 * and whether the group stops (*stop). Thread: e's. */
pool_runner* pool__group_mail(pool_group* g, pool_engine* e, int* stop);

/* worker.c, for the group: pool__engine_free: frees an engine whose
 * thread was joined. Thread: any. */
void pool__engine_free(pool_engine* e);

#endif /* ISO_POOL_GROUP_PRIVATE_H */
