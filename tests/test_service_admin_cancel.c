/* test_service_admin_cancel.c: cancelling jobs through the admin plane,
 * under load (pool/admin.c, cancel; pool/answer.c): a running job and a
 * queued one answered `cancelled` at once, running JavaScript stopped at
 * once, and a client whose connection closes having its jobs cancelled
 * and counted, one or eighty at a time.
 *
 * Each case starts `isopool serve` with its admin socket
 * (support/service_admin.h: fixtures/admin unless the case writes its own
 * module root), loads it with call jobs tracked per request id (exactly
 * one reply each, with the right value), sends its commands through the
 * built poolctl (human output within 80 columns, and --json) and as raw
 * admin requests, and reads the replies as JSON text (json_path.h). Every
 * case ends with the daemon gone: SIGTERM and exit 0, or the exit 0 of a
 * drain or shutdown; its stderr (a log file) is printed when the case
 * failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_path.h"
#include "proc.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

/* How long the running job (A) sleeps: it began after the case's t0, so
 * an A that was not stopped, or a job that waited for it, ends after
 * t0 + CANCEL_SLEEP_MS however slow the machine is. */
#define CANCEL_SLEEP_MS 20000

/* cancel: a running job and a queued one, answered `cancelled` at once. */
static void t_cancel(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.workers = "1", .inflight = "1"}) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 4);
  iso_buf keep;
  int64_t t0 = now_ms();
  /* one after the other: async submits may overtake each other */
  char args[32];
  snprintf(args, sizeof args, "[%d,\"A\"]", CANCEL_SLEEP_MS);
  tracker_submit_ok(&t, s.c, 0, call_job("sleep.js", args, &keep), 60000);
  iso_buf_close(&keep);
  char* jobs = NULL;
  for (int want = 1; want <= 2; want++) {
    int64_t end = now_ms() + 5000;
    do {
      free(jobs);
      jobs = admin(&s, ISO_ADMIN_JOBS);
    } while (js_len(jobs, "jobs") < want && now_ms() < end && (sleep_ms(5), 1));
    if (want == 1) {
      tracker_submit_ok(&t, s.c, 1, call_job("count.js", "[]", &keep), 60000);
      iso_buf_close(&keep);
    }
  }
  CHECK_EQ(js_len(jobs, "jobs"), 2);
  /* oldest first: A on the worker, B queued */
  CHECK_EQ(js_num(jobs, "jobs.0.client_id"), 0);
  CHECK_EQ(js_num(jobs, "jobs.0.worker"), 0);
  CHECK_EQ(js_num(jobs, "jobs.1.client_id"), 1);
  CHECK_EQ(js_num(jobs, "jobs.1.worker"), -1);
  CHECK(js_is(jobs, "jobs.1.module", "count.js"));
  char a_id[32], b_id[32];
  snprintf(a_id, sizeof a_id, "%.0f", js_num(jobs, "jobs.0.id"));
  snprintf(b_id, sizeof b_id, "%.0f", js_num(jobs, "jobs.1.id"));
  free(jobs);

  /* the queued one, through poolctl */
  int64_t c0 = now_ms();
  char* out = pc_human(&s, "cancel", b_id);
  CHECK_CONTAINS(out, b_id);
  free(out);
  CHECK(tracker_wait(&t, 1, 2000));
  CHECK_EQ(tracker_calls(&t, 1), 1);
  CHECK_EQ(tracker_calls(&t, 0), 0);
  expect_error(&t, 1, ISO_CODE_CANCELLED);
  CHECK(t.r[1].done_ms - c0 < 1000);

  /* the running one, as a raw request */
  iso_admin_req q = areq(ISO_ADMIN_CANCEL);
  q.job = strtoll(a_id, NULL, 10);
  c0 = now_ms();
  char* rep = admin_req(&s, q);
  CHECK(strncmp(js_at(rep, "ok"), "true", 4) == 0);
  CHECK_EQ(js_num(rep, "job"), q.job);
  free(rep);
  CHECK(tracker_wait(&t, 2, 3000));
  expect_error(&t, 0, ISO_CODE_CANCELLED);
  CHECK_CONTAINS(t.r[0].message, "cancelled");
  CHECK(t.r[0].done_ms - c0 < 1000);
  /* stopped, not waited for: its sleep would end after t0 + the sleep (a
   * bound from t0 counts the set-up above too: the machine's speed) */
  CHECK(t.r[0].done_ms - t0 < CANCEL_SLEEP_MS);
  fprintf(stderr,
          "    cancelled the running job %lld ms after the command, %lld ms "
          "after its submit\n",
          (long long)(t.r[0].done_ms - c0), (long long)(t.r[0].done_ms - t0));

  /* the worker is free: the next job runs at once, and the cancelled
   * count.js call never ran (the count starts at 1) */
  tracker_submit_ok(&t, s.c, 2, call_job("count.js", "[]", &keep), 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 3, 3000));
  expect_fulfilled(&t, 2, "1");
  CHECK(t.r[2].done_ms - t0 < CANCEL_SLEEP_MS); /* not behind A's sleep */

  /* ids not in flight: the finished one, an unknown one */
  PC_FAILS(&s, "not_found", "cancel", a_id);
  PC_FAILS(&s, "poolctl: not_found: ", "cancel", "999999");
  proc_result r;
  PC(&s, &r, "--json", "cancel", "999999");
  CHECK_EQ(r.status, 1);
  CHECK(js_is(r.out, "code", "not_found"));
  CHECK(strncmp(js_at(r.out, "ok"), "false", 5) == 0);
  show(&r);
  proc_result_free(&r);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  CHECK_EQ(js_num(st, "totals.errors.cancelled"), 2);
  free(st);
  tracker_check_once(&t);
  svc_stop(&s); /* its client's callbacks end before the tracker */
  tracker_free(&t);
}

/* Every job accepted is accounted for: status's totals (fulfilled,
 * rejected, each error code) plus what is in flight or queued add up to
 * what was accepted. */
static void expect_counters_agree(svc* s) {
  char* st = admin(s, ISO_ADMIN_STATUS);
  double accepted = js_num(st, "totals.accepted");
  double answered = js_num(st, "totals.fulfilled") +
                    js_num(st, "totals.rejected") + js_sum(st, "totals.errors");
  double open = js_num(st, "inflight") + js_num(st, "queue");
  if (accepted != answered + open) {
    fprintf(stderr, "  counters disagree: %s\n", st);
    iso_test_failed = 1;
  }
  free(st);
}

/* After a client's connection closed: waits (up to timeout_ms) until no
 * job is on a worker or queued and `cancelled` jobs are counted cancelled;
 * returns the last status (the caller frees it). Both, not the first
 * alone: the service claims each of the client's jobs and wakes their
 * worker, then answers and counts them one by one
 * (pool__peer_closed_cb), while the worker gives the jobs back and its
 * count drops; so `inflight` can reach 0 before the last of them is
 * counted (a run in the ASan tree saw 75 of 81). */
static char* wait_cancels_counted(svc* s, double cancelled, int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  char* st = NULL;
  for (;;) {
    free(st);
    st = admin(s, ISO_ADMIN_STATUS);
    if ((js_num(st, "inflight") == 0 && js_num(st, "queue") == 0 &&
         js_num(st, "totals.errors.cancelled") == cancelled) ||
        now_ms() >= end) {
      return st;
    }
    sleep_ms(5);
  }
}

/* Waits until `jobs` lists n jobs; their ids (for cancel) into ids[]. */
static int wait_jobs_listed(svc* s, int n, char ids[][32], int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  char* jobs = NULL;
  do {
    free(jobs);
    jobs = admin(s, ISO_ADMIN_JOBS);
  } while (js_len(jobs, "jobs") < n && now_ms() < end && (sleep_ms(5), 1));
  int got = js_len(jobs, "jobs");
  for (int i = 0; i < n && i < got; i++) {
    char path[32];
    snprintf(path, sizeof path, "jobs.%d.id", i);
    snprintf(ids[i], 32, "%.0f", js_num(jobs, path));
  }
  free(jobs);
  CHECK_EQ(got, n);
  return got == n;
}

/* cancel stops running JavaScript at once: a call spinning in the warm
 * realm and an eval job spinning in its own, each with a deadline a
 * minute away, on the one worker; after the cancels the worker answers a
 * probe at once, and the counters agree (each cancel counted once, no
 * timeout later). */
static void t_cancel_running_js(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.workers = "1"}) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 3);
  iso_buf keep;
  iso_job spin = call_job("spin.js", "[60000]", &keep);
  spin.timeout_ms = 60000;
  tracker_submit_ok(&t, s.c, 0, spin, 90000);
  iso_buf_close(&keep);
  char ids[2][32];
  wait_jobs_listed(&s, 1, ids, 5000);
  iso_job loop = {.kind = ISO_JOB_EVAL,
                  .source = "while (true) {}\nexport default 1;",
                  .timeout_ms = 60000};
  tracker_submit_ok(&t, s.c, 1, loop, 90000);
  wait_jobs_listed(&s, 2, ids, 5000);
  sleep_ms(100); /* the call surely spins */
  int64_t c0 = now_ms();
  for (int i = 0; i < 2; i++) {
    char* out = pc_human(&s, "cancel", ids[i]);
    CHECK_CONTAINS(out, ids[i]);
    free(out);
    CHECK(tracker_wait(&t, i + 1, 3000));
    expect_error(&t, i, ISO_CODE_CANCELLED);
    if (i == 0) {
      sleep_ms(100); /* the eval job surely spins in its turn */
    }
  }
  /* both stopped: nothing is left on the worker (either one left
   * running would hold it for a minute) */
  int64_t end = now_ms() + 3000;
  char* st = NULL;
  for (;;) {
    free(st);
    st = admin(&s, ISO_ADMIN_STATUS);
    if (js_num(st, "inflight") == 0 || now_ms() >= end) {
      break;
    }
    sleep_ms(5);
  }
  CHECK_EQ(js_num(st, "inflight"), 0);
  free(st);
  fprintf(stderr, "    both stopped %lld ms after the first cancel\n",
          (long long)(now_ms() - c0));
  int64_t p0 = now_ms();
  tracker_submit_ok(&t, s.c, 2, call_job("count.js", "[]", &keep), 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 3, 3000));
  expect_fulfilled(&t, 2, "1");
  CHECK(t.r[2].done_ms - p0 < 2000);
  st = admin(&s, ISO_ADMIN_STATUS);
  CHECK_EQ(js_num(st, "totals.errors.cancelled"), 2);
  CHECK(js_at(st, "totals.errors.timeout") == NULL);
  free(st);
  expect_counters_agree(&s);
  tracker_check_once(&t);
  svc_stop(&s);
  tracker_free(&t);
}

/* A client whose connection closes has its jobs cancelled and counted:
 * the running one's JavaScript stops (the worker is free at once), the
 * queued one never runs, the answers go nowhere, the log says why. */
static void t_client_gone(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.workers = "1", .inflight = "1"}) != 0) {
    svc_stop(&s);
    return;
  }
  iso_client* gone = NULL;
  CHECK_EQ(iso_client_new(s.url, NULL, &gone), 0);
  tracker t;
  tracker_init(&t, 3);
  iso_buf keep;
  iso_job spin = call_job("spin.js", "[60000]", &keep);
  spin.timeout_ms = 60000;
  tracker_submit_ok(&t, gone, 0, spin, 90000);
  iso_buf_close(&keep);
  char ids[2][32];
  /* the spinner runs before the other is sent: two requests on one
   * client go out on contexts of their own, in no promised order */
  wait_jobs_listed(&s, 1, ids, 5000);
  iso_job queued = call_job("count.js", "[]", &keep);
  tracker_submit_ok(&t, gone, 1, queued, 90000);
  iso_buf_close(&keep);
  wait_jobs_listed(&s, 2, ids, 5000);
  sleep_ms(100);
  int64_t c0 = now_ms();
  iso_client_free(gone); /* its callbacks: ECLOSED */
  CHECK_EQ(t.r[0].rc, ISO_ECLOSED);
  CHECK_EQ(t.r[1].rc, ISO_ECLOSED);
  char* st = wait_cancels_counted(&s, 2, 3000);
  CHECK_EQ(js_num(st, "inflight"), 0);
  CHECK_EQ(js_num(st, "queue"), 0);
  CHECK_EQ(js_num(st, "totals.errors.cancelled"), 2);
  free(st);
  fprintf(stderr, "    both jobs cancelled %lld ms after the close\n",
          (long long)(now_ms() - c0));
  /* the worker is free, and the cancelled count.js never ran */
  int64_t p0 = now_ms();
  tracker_submit_ok(&t, s.c, 2, call_job("count.js", "[]", &keep), 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 3, 3000));
  expect_fulfilled(&t, 2, "1");
  CHECK(t.r[2].done_ms - p0 < 2000);
  expect_counters_agree(&s);
  char* log = read_log(&s);
  CHECK_CONTAINS(log, "cancelled 2 job(s): their client's connection closed");
  free(log);
  svc_stop(&s);
  tracker_free(&t);
}

/* The same with 80 more jobs of the closed client on the worker (sleeping
 * on timers): the spinning one, cancelled first of 81, is stopped as
 * promptly (the watchdog checks every cancelled job, not the newest 64). */
static void t_client_gone_many(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.workers = "1", .inflight = "100"}) != 0) {
    svc_stop(&s);
    return;
  }
  enum { MORE = 80 };
  iso_client* gone = NULL;
  iso_client_opts co = {.max_inflight = 128};
  CHECK_EQ(iso_client_new(s.url, &co, &gone), 0);
  tracker t;
  tracker_init(&t, MORE + 2);
  iso_buf keep;
  iso_job spin = call_job("spin.js", "[60000]", &keep);
  spin.timeout_ms = 60000;
  tracker_submit_ok(&t, gone, 0, spin, 90000);
  iso_buf_close(&keep);
  char ids[1][32];
  wait_jobs_listed(&s, 1, ids, 5000);
  for (int i = 1; i <= MORE; i++) {
    tracker_submit_ok(&t, gone, i, call_job("sleep.js", "[60000,0]", &keep),
                      90000);
    iso_buf_close(&keep);
  }
  wait_accepted(&s, MORE + 2, 10000); /* the ping, the spin, the rest */
  sleep_ms(100);
  int64_t c0 = now_ms();
  iso_client_free(gone);
  char* st = wait_cancels_counted(&s, MORE + 1, 3000);
  CHECK_EQ(js_num(st, "inflight"), 0);
  CHECK_EQ(js_num(st, "queue"), 0);
  CHECK_EQ(js_num(st, "totals.errors.cancelled"), MORE + 1);
  free(st);
  fprintf(stderr,
          "    %d jobs cancelled, the worker free %lld ms after the "
          "close\n",
          MORE + 1, (long long)(now_ms() - c0));
  tracker_submit_ok(&t, s.c, MORE + 1, call_job("count.js", "[]", &keep),
                    60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, MORE + 2, 3000));
  expect_fulfilled(&t, MORE + 1, "1");
  expect_counters_agree(&s);
  svc_stop(&s);
  tracker_free(&t);
}

static const iso_test cases[] = {
    {"cancel", t_cancel},
    {"cancel_running_js", t_cancel_running_js},
    {"client_gone", t_client_gone},
    {"client_gone_many", t_client_gone_many},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
