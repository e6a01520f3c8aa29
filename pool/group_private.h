/* group_private.h: what the worker side's two files share: worker.c (a
 * worker thread, the runner) and group.c (the group of runners and its
 * watchdog). The front does not include it.
 */
#ifndef ISO_POOL_GROUP_PRIVATE_H
#define ISO_POOL_GROUP_PRIVATE_H

#include "worker.h"

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

#endif /* ISO_POOL_GROUP_PRIVATE_H */
