/* hub.c: the front's link hub: one thread with a libuv loop that reads
 * and writes every front end of a link (ipc/iso_link.h: iso_link_hub).
 *
 * DESIGN: the front's ends (each worker's jobs and ops links, the control
 * links) are attached to one iso_link_hub; this thread polls its
 * descriptor and, when an end has work, runs iso_link_hub_run, which
 * writes what waits in the outboxes and runs the ends' callbacks
 * (pool__jobs_msg_cb, pool__ops_msg_cb, the control links' callbacks and
 * every PEER_GONE) here. The callbacks do their work inline (a DONE
 * answers its job and refills the worker from the wait queue; an op batch
 * is queued for the op threads) and never wait for anything that waits
 * for this thread. Sends come from any thread and write at once; the hub
 * only finishes what a socket did not take.
 */
#include <stdio.h>

#include "pool_private.h"

static void poll_cb(uv_poll_t* h, int status, int events) {
  iso_pool* pool = h->data;
  (void)status;
  (void)events;
  iso_link_hub_run(pool->hub);
}

static void stop_cb(uv_async_t* h) {
  iso_pool* pool = h->data;
  uv_close((uv_handle_t*)&pool->hub_poll, NULL);
  uv_close((uv_handle_t*)&pool->hub_stop, NULL);
}

static void* hub_main(void* arg) {
  iso_pool* pool = arg;
  pthread_setname_np(pthread_self(), "isopool-links");
  uv_run(&pool->hub_loop, UV_RUN_DEFAULT);
  return NULL;
}

static void close_walk_cb(uv_handle_t* h, void* arg) {
  (void)arg;
  if (!uv_is_closing(h)) {
    uv_close(h, NULL);
  }
}

/* Closes the loop and what it holds (the thread is not running it). */
static void loop_close(iso_pool* pool) {
  uv_walk(&pool->hub_loop, close_walk_cb, NULL);
  uv_run(&pool->hub_loop, UV_RUN_DEFAULT);
  uv_loop_close(&pool->hub_loop);
}

int pool__hub_start(iso_pool* pool, char* err, size_t errlen) {
  int rc = iso_link_hub_new(&pool->hub);
  if (rc != 0) {
    snprintf(err, errlen, "cannot make the link hub: %s", iso_strerror(rc));
    return rc;
  }
  if (uv_loop_init(&pool->hub_loop) != 0) {
    iso_link_hub_free(pool->hub);
    pool->hub = NULL;
    snprintf(err, errlen, "cannot make the link hub's loop");
    return ISO_EINTERNAL;
  }
  pool->hub_poll.data = pool;
  pool->hub_stop.data = pool;
  if (uv_poll_init(&pool->hub_loop, &pool->hub_poll,
                   iso_link_hub_fd(pool->hub)) != 0 ||
      uv_poll_start(&pool->hub_poll, UV_READABLE, poll_cb) != 0 ||
      uv_async_init(&pool->hub_loop, &pool->hub_stop, stop_cb) != 0 ||
      pthread_create(&pool->hub_thread, NULL, hub_main, pool) != 0) {
    loop_close(pool);
    iso_link_hub_free(pool->hub);
    pool->hub = NULL;
    snprintf(err, errlen, "cannot start the link hub's thread");
    return ISO_EINTERNAL;
  }
  pool->hub_started = 1;
  return 0;
}

void pool__hub_stop(iso_pool* pool) {
  if (pool->hub_started) {
    uv_async_send(&pool->hub_stop);
    pthread_join(pool->hub_thread, NULL);
    uv_loop_close(&pool->hub_loop);
    pool->hub_started = 0;
  }
  iso_link_hub_free(pool->hub);
  pool->hub = NULL;
}

int pool__on_hub(const iso_pool* pool) {
  return pool->hub_started && pthread_equal(pthread_self(), pool->hub_thread);
}
