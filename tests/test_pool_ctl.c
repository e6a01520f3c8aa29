/* test_pool_ctl.c: the workers' group and its control link, as the front
 * sees them (pool/watchdog.c's DESIGN; docs/link.md, "Records"): a pool
 * in this process (iso_pool_new on its own ipc:// socket, jobs through
 * the client library), whose insides the cases reach through the pool's
 * private headers to do what no client can: stall the group's watchdog,
 * or hand the front's end of the link a message the group never sent.
 *
 * - silent_group_loses_late_worker: the group's ALIVE records stop (its
 *   watchdog is held inside a round, so it neither stops the job's
 *   JavaScript nor says WEDGED): after POOL_SILENT_MS of silence the
 *   front declares the worker of the job past its deadline lost, the job
 *   is answered worker_lost, and a new worker answers the next job.
 * - garbage_control_message: a message that does not decode is logged
 *   and the group is distrusted: its ALIVE no longer counts (it is
 *   silent from then on); jobs still run.
 * - wedged_over_the_link: a WEDGED naming one of the group's workers
 *   makes the front replace it; one naming a worker the front never gave
 *   the group is logged and distrusts the group.
 * - process_bound_refused: iso_pool_new refuses a pool process data bound
 *   below iso_pool_process_min_mb (for embedders: isopool serve's option
 *   parser refuses it first, test_service_contain), before it starts
 *   anything; the threads per process that least is counted for.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "group_private.h"
#include "iso_client.h"
#include "iso_link.h"
#include "iso_rt.h"
#include "pool_private.h"
#include "tap.h"

/* The pool of a case, its client and its log (the pool logs to stderr,
 * which the case sends to a file until it is done). */
typedef struct fixture {
  iso_pool* pool;
  iso_client* c;
  char path[DAEMON_PATH_LEN];
  char url[DAEMON_URL_LEN];
  char log[DAEMON_PATH_LEN];
  int saved_stderr;
} fixture;

static int fixture_start(fixture* f, int workers) {
  memset(f, 0, sizeof *f);
  daemon_names("ctl", f->path, f->url, f->log);
  CHECK_EQ(iso_rt_init_process(NULL), 0);
  fflush(stderr);
  f->saved_stderr = dup(STDERR_FILENO);
  int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  dup2(fd, STDERR_FILENO);
  close(fd);
  const char* listen[] = {f->url};
  iso_pool_opts o = {
      .workers = workers,
      .listen = listen,
      .nlisten = 1,
      .modules = ISO_FIXTURES "/service",
      .admin_url = "none",
      .log_level = "debug",
  };
  char err[256];
  int rc = iso_pool_new(&o, &f->pool, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "  iso_pool_new: %s\n", err);
  }
  CHECK_EQ(rc, 0);
  CHECK_EQ(iso_client_new(f->url, NULL, &f->c), 0);
  return rc;
}

/* Stops the pool; the log goes back to stderr (printed) and is returned
 * (the caller frees it). */
static char* fixture_stop(fixture* f) {
  iso_client_free(f->c);
  if (f->pool != NULL) {
    iso_pool_shutdown(f->pool);
    iso_pool_free(f->pool);
  }
  fflush(stderr);
  dup2(f->saved_stderr, STDERR_FILENO);
  close(f->saved_stderr);
  char* text = NULL;
  FILE* in = fopen(f->log, "r");
  if (in != NULL) {
    size_t cap = 1 << 20;
    text = calloc(1, cap);
    size_t n = fread(text, 1, cap - 1, in);
    text[n] = '\0';
    fclose(in);
    fprintf(stderr, "  the pool's log:\n%s", text);
  }
  unlink(f->log);
  unlink(f->path);
  return text;
}

static uint64_t alive_ns(fixture* f) {
  return atomic_load(&f->pool->group_alive_ns);
}

/* The group says ALIVE over the link: one arrives after this call began.
 * (Not within a fixed time: a loaded machine delays the group's watchdog
 * thread by hundreds of ms; the front's own bound is POOL_SILENT_MS.) */
static void check_alive(fixture* f) {
  uint64_t t0 = pool__now();
  uint64_t end = t0 + (uint64_t)(POOL_SILENT_MS * iso_test_scale()) * 1000000;
  while (alive_ns(f) <= t0 && pool__now() < end) {
    sleep_ms(POOL_ALIVE_MS / 4);
  }
  CHECK(alive_ns(f) > t0);
}

/* Runs source as an eval job; returns its result (the caller closes). */
static iso_result run(fixture* f, const char* source, int64_t timeout_ms) {
  iso_job j = {
      .kind = ISO_JOB_EVAL, .source = source, .timeout_ms = timeout_ms};
  iso_result r;
  int rc = iso_client_call(f->c, &j, 20000, &r);
  CHECK_EQ(rc, 0);
  return r;
}

static void expect_two(fixture* f, int worker) {
  iso_result r = run(f, "export default 1 + 1;", 5000);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK(r.value_len == 1 && r.value[0] == 2);
  if (worker >= 0) {
    CHECK_EQ(r.stats.worker, worker);
  }
  iso_result_close(&r);
}

/* A message of the group's records, as its end would send them, with
 * `tail` (raw bytes) after them. */
static iso_buf ctl_msg(const iso_link_rec* recs,
                       int n,
                       const char* tail,
                       size_t tail_len) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_buf b;
  iso_buf_init(&b);
  iso_buf_append(&b, head, hl);
  for (int i = 0; i < n; i++) {
    CHECK_EQ(iso_link_put(&b, &recs[i]), 0);
  }
  iso_buf_append(&b, tail, tail_len);
  return b;
}

static pool_runner* runner_of(fixture* f, int i) {
  pool__mutex_lock(&f->pool->lock);
  pool_runner* r = f->pool->workers[i]->runner;
  pool__mutex_unlock(&f->pool->lock);
  return r;
}

/* ---- cases --------------------------------------------------------------- */

static void t_silent_group_loses_late_worker(void) {
  fixture f;
  if (fixture_start(&f, 1) != 0) {
    free(fixture_stop(&f));
    return;
  }
  check_alive(&f);
  /* the watchdog's next round waits for this lock, holding its own: no
   * ALIVE, no stop of the job's JavaScript, no WEDGED */
  pool_runner* r = runner_of(&f, 0);
  pool__runner_rt_lock(r);
  int64_t t0 = now_ms();
  iso_result res = run(&f, "while (true) {}", 300);
  int64_t took = now_ms() - t0;
  uint64_t silent_for = pool__now() - alive_ns(&f);
  pool__runner_rt_unlock(r);
  CHECK_EQ(res.status, ISO_STATUS_ERROR);
  CHECK_EQ(res.code, ISO_CODE_WORKER_LOST);
  /* what happened, not the WEDGED rule's "ran on ... after it was
   * stopped": its JavaScript was never stopped */
  CHECK_CONTAINS(res.message,
                 "worker 0 was lost: its group of threads stopped answering "
                 "(its watchdog said nothing for ");
  CHECK_CONTAINS(res.message, "ms past its deadline; a new worker took");
  CHECK(strstr(res.message, "ran on") == NULL);
  iso_result_close(&res);
  /* by the silence rule: not before POOL_SILENT_MS without an ALIVE */
  CHECK(took >= POOL_SILENT_MS - 2 * POOL_ALIVE_MS);
  CHECK(took < POOL_SILENT_MS + 3000);
  CHECK(silent_for > (uint64_t)POOL_SILENT_MS * 1000000ull);
  /* the new worker (1) answers; the group speaks again */
  expect_two(&f, 1);
  check_alive(&f);
  CHECK(!atomic_load(&f.pool->group_distrusted));
  char* log = fixture_stop(&f);
  CHECK(log != NULL && strstr(log,
                              "worker 0 was lost: its group of threads stopped "
                              "answering") != NULL);
  free(log);
}

static void t_garbage_control_message(void) {
  fixture f;
  if (fixture_start(&f, 1) != 0) {
    free(fixture_stop(&f));
    return;
  }
  check_alive(&f);
  /* an ALIVE, then a byte that is no msgpack */
  iso_link_rec alive = {.kind = ISO_LINK_ALIVE};
  iso_buf m = ctl_msg(&alive, 1, "\xc1", 1);
  pool__ctl_msg_cb(m.data, m.len, f.pool);
  iso_buf_close(&m);
  CHECK(atomic_load(&f.pool->group_distrusted));
  CHECK_EQ(alive_ns(&f), 0);
  /* its ALIVE records keep coming and no longer count */
  sleep_ms(5 * POOL_ALIVE_MS);
  CHECK_EQ(alive_ns(&f), 0);
  /* not another program's bytes either: a message without the header */
  m = ctl_msg(NULL, 0, "\x91\x51", 2);
  pool__ctl_msg_cb(m.data + m.len - 2, 2, f.pool);
  iso_buf_close(&m);
  CHECK_EQ(alive_ns(&f), 0);
  /* the workers still run jobs (the rule only loses late ones) */
  expect_two(&f, 0);
  char* log = fixture_stop(&f);
  CHECK(log != NULL &&
        strstr(log, "a control message that does not decode: record 2") !=
            NULL &&
        strstr(log, "taken as silent") != NULL);
  /* said once */
  const char* first = log != NULL ? strstr(log, "taken as silent") : NULL;
  CHECK(first != NULL && strstr(first + 1, "taken as silent") == NULL);
  free(log);
}

static void t_wedged_over_the_link(void) {
  fixture f;
  if (fixture_start(&f, 1) != 0) {
    free(fixture_stop(&f));
    return;
  }
  expect_two(&f, 0);
  /* WEDGED for its worker 0: lost and replaced by worker 1 */
  iso_link_rec wedged = {ISO_LINK_WEDGED, .u.wedged = {.worker = 0}};
  iso_buf m = ctl_msg(&wedged, 1, NULL, 0);
  pool__ctl_msg_cb(m.data, m.len, f.pool);
  iso_buf_close(&m);
  int64_t end = now_ms() + 5000;
  int replaced = 0;
  while (!replaced && now_ms() < end) {
    sleep_ms(20);
    pool__mutex_lock(&f.pool->lock);
    for (int i = 0; i < f.pool->nworkers; i++) {
      replaced |= f.pool->workers[i]->id == 1 &&
                  atomic_load(&f.pool->workers[i]->state) == POOL_W_RUNNING;
    }
    pool__mutex_unlock(&f.pool->lock);
  }
  CHECK(replaced);
  expect_two(&f, 1);
  CHECK(!atomic_load(&f.pool->group_distrusted));
  /* WEDGED for worker 99, which the front never started */
  wedged.u.wedged.worker = 99;
  m = ctl_msg(&wedged, 1, NULL, 0);
  pool__ctl_msg_cb(m.data, m.len, f.pool);
  iso_buf_close(&m);
  CHECK(atomic_load(&f.pool->group_distrusted));
  CHECK_EQ(alive_ns(&f), 0);
  expect_two(&f, 1);
  char* log = fixture_stop(&f);
  CHECK(log != NULL &&
        strstr(log,
               "worker 0 was lost: its JavaScript ran on 1000 ms after "
               "it was stopped at its deadline") != NULL &&
        strstr(log, "WEDGED names worker 99, which is not one of its own") !=
            NULL);
  free(log);
}

static void t_process_bound_refused(void) {
  iso_pool_opts o = {.workers = 5, .processes = 2, .heap_mb = 64};
  CHECK_EQ(iso_pool_process_threads(&o), 3); /* a spare's: 5 / 2 up */
  o.processes = -1; /* one per POOL_THREADS_PER_PROCESS: 3 of 2 */
  CHECK_EQ(iso_pool_process_threads(&o), POOL_THREADS_PER_PROCESS);
  o.processes = 0; /* in this process: no bound to size */
  CHECK_EQ(iso_pool_process_threads(&o), 0);
  /* each worker thread adds its stack, its heap limit and the rest */
  size_t one = iso_pool_process_min_mb(1, 0, 64);
  size_t two = iso_pool_process_min_mb(2, 0, 64);
  CHECK(two - one > 64 + ISO_POOL_PROCESS_WORKER_MB);
  CHECK(iso_pool_process_min_mb(1, 0, 0) == iso_pool_process_min_mb(1, 0, 512));
  o.processes = 2;
  size_t least = iso_pool_process_min_mb(3, 0, 64);
  const size_t refused[] = {1, 160, least - 1};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    o.process_max_mb = refused[i];
    iso_pool* pool = NULL;
    char err[256] = "";
    CHECK_EQ(iso_pool_new(&o, &pool, err, sizeof err), ISO_EINVAL);
    CHECK(pool == NULL);
    char want[128];
    snprintf(want, sizeof want,
             "a data bound of %zu MiB per pool process is below the %zu its "
             "3 worker thread(s)",
             refused[i], least);
    CHECK_CONTAINS(err, want);
  }
}

static const iso_test cases[] = {
    {"silent_group_loses_late_worker", t_silent_group_loses_late_worker},
    {"garbage_control_message", t_garbage_control_message},
    {"wedged_over_the_link", t_wedged_over_the_link},
    {"process_bound_refused", t_process_bound_refused},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
