/* test_service_deadlines.c: `isopool serve` end to end: job deadlines
 * (pool/watchdog.c and the worker's stop). An infinite loop and a sleeping
 * job stopped at their deadline while the other worker answers, a call's
 * deadline stopping only its own JavaScript in the warm realm, and the
 * server's default deadline (--timeout) against a job's own timeout_ms.
 *
 * Each case starts the real daemon on fixtures/service with the flags it
 * needs (support/service.h), talks to it only through ipc/iso_client.h,
 * and ends by sending SIGTERM and checking that the daemon exits 0;
 * asynchronous jobs go through a tracker (tracker.h): exactly one reply
 * per request id.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "iso_buf.h"
#include "iso_proto.h"
#include "json_check.h"
#include "service.h"
#include "tap.h"
#include "tracker.h"

/* while (true) {} is stopped at its deadline while the other worker keeps
 * answering; the stopped worker serves again afterwards. */
static void t_timeout_infinite_loop(void) {
  svc s;
  if (svc_start(&s, NULL, 0) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 64);
  iso_buf keep;
  /* a call (the warm realm) and, later, an eval (its own realm) */
  for (int round = 0; round < 2; round++) {
    int spin_id = round * 32;
    iso_job spin = round == 0 ? call_job("spin.js", "spin", NULL, &keep)
                              : eval_src("while (true) {}");
    spin.timeout_ms = 200;
    int64_t t0 = now_ms();
    CHECK_EQ(tracker_submit(&t, s.c, spin_id, spin, 10000), 0);
    iso_buf_close(&keep);
    sleep_ms(30); /* the loop is running on one worker */
    /* sequential calls go to the least-loaded worker: the other one; each
     * must finish while the loop still runs (it is stopped at 200 ms) */
    int fast = 0, fast_late = 0;
    for (int i = 1; i < 32 && now_ms() - t0 < 150; i++) {
      iso_result r;
      call(&s, call_job("double.js", NULL, "[5]", &keep), 5000, &r);
      iso_buf_close(&keep);
      CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
      CHECK_JSON(r.value, r.value_len, "10");
      if (tracker_calls(&t, spin_id) > 0 || now_ms() - t0 >= 190) {
        fast_late++;
      } else {
        fast++;
      }
      iso_result_close(&r);
    }
    if (fast < 1 || fast_late != 0) {
      fprintf(stderr,
              "    round %d: %d fast calls during the loop, %d after "
              "it was stopped\n",
              round, fast, fast_late);
    }
    CHECK(fast >= 1);
    CHECK_EQ(fast_late, 0);
    CHECK(tracker_wait(&t, round + 1, 5000));
    rec* r = &t.r[spin_id];
    CHECK_EQ(r->status, ISO_STATUS_ERROR);
    CHECK_EQ(r->code, ISO_CODE_TIMEOUT);
    CHECK_CONTAINS(r->message, "200 ms");
    CHECK(r->done_ms - t0 >= 180);
    CHECK(r->done_ms - t0 < 2000);
    int64_t spun_on = r->worker;
    CHECK(spun_on == 0 || spun_on == 1);
    /* the worker that was stopped serves again: four concurrent sleepers
     * are spread over both workers */
    tracker t2;
    tracker_init(&t2, 4);
    for (int i = 0; i < 4; i++) {
      tracker_submit(&t2, s.c, i,
                     call_job("sleep.js", NULL, "[100, \"again\"]", &keep),
                     5000);
      iso_buf_close(&keep);
    }
    CHECK(tracker_wait(&t2, 4, 5000));
    int on_it = 0;
    for (int i = 0; i < 4; i++) {
      CHECK_EQ(t2.r[i].status, ISO_STATUS_FULFILLED);
      CHECK_STR(t2.r[i].value, "\"again\"");
      on_it +=
          t2.r[i].worker == spun_on && t2.r[i].status == ISO_STATUS_FULFILLED;
    }
    CHECK(on_it > 0);
    tracker_check_once(&t2);
    tracker_free(&t2);
  }
  tracker_check_once(&t);
  tracker_free(&t);
  svc_stop(&s);
}

/* A job that sleeps on a timer past its timeout_ms is answered `timeout`
 * at its deadline, not when the timer fires: the first call on a worker
 * (its warm realm is created then) and eval jobs (a realm each). */
static void t_timeout_sleeping_job(void) {
  const char* flags[] = {"--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  for (int k = 0; k < 4; k++) {
    iso_buf keep;
    iso_result r;
    /* the brief's 5 s once; 1.5 s elsewhere, so a miss costs less */
    iso_job j = k == 0   ? call_job("sleep.js", NULL, "[1500, \"late\"]", &keep)
                : k == 1 ? eval_src(
                               "await new Promise((r) => "
                               "setTimeout(r, 5000));\n"
                               "export default 'late';")
                         : eval_src(
                               "await new Promise((r) => "
                               "setTimeout(r, 1500));\n"
                               "export default 'late';");
    j.timeout_ms = 100;
    int64_t t0 = now_ms();
    call(&s, j, 10000, &r);
    int64_t took = now_ms() - t0;
    if (k == 0) {
      iso_buf_close(&keep);
    }
    if (r.status != ISO_STATUS_ERROR || r.code != ISO_CODE_TIMEOUT ||
        took >= 1000) {
      fprintf(stderr,
              "    %s #%d, timeout_ms 100, sleeping %s s: %s %s "
              "after %lld ms\n",
              k == 0 ? "call" : "eval", k, k == 1 ? "5" : "1.5",
              r.status == ISO_STATUS_FULFILLED ? "fulfilled" : r.code_name,
              r.status == ISO_STATUS_FULFILLED ? "" : r.message,
              (long long)took);
    }
    CHECK_EQ(r.status, ISO_STATUS_ERROR);
    CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
    CHECK_CONTAINS(r.message, "100 ms");
    CHECK(took >= 90 && took < 1000);
    iso_result_close(&r);
  }
  /* a later call, once the warm realm exists */
  iso_buf keep;
  iso_result r;
  iso_job j = call_job("sleep.js", NULL, "[1500, \"late\"]", &keep);
  j.timeout_ms = 100;
  int64_t t0 = now_ms();
  call(&s, j, 10000, &r);
  int64_t took = now_ms() - t0;
  iso_buf_close(&keep);
  CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
  CHECK(took >= 90 && took < 1000);
  iso_result_close(&r);
  svc_stop(&s);
}

/* In the warm realm, a call's deadline stops only its own JavaScript: a
 * call that sleeps with 100 ms to live times out while another call
 * computes for 400 ms (its own deadline 5 s), and that one is not
 * stopped for it. */
static void t_warm_deadline_is_the_calls(void) {
  const char* flags[] = {"--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 2);
  iso_buf keep;
  iso_job short_lived = call_job("sleep.js", NULL, "[2000, \"late\"]", &keep);
  short_lived.timeout_ms = 100;
  CHECK_EQ(tracker_submit(&t, s.c, 0, short_lived, 10000), 0);
  iso_buf_close(&keep);
  iso_job busy = call_job("spin.js", "busy", "[400]", &keep);
  busy.timeout_ms = 5000;
  CHECK_EQ(tracker_submit(&t, s.c, 1, busy, 10000), 0);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 2, 10000));
  CHECK_EQ(t.r[0].status, ISO_STATUS_ERROR);
  CHECK_EQ(t.r[0].code, ISO_CODE_TIMEOUT);
  CHECK_EQ(t.r[1].status, ISO_STATUS_FULFILLED);
  if (t.r[1].status != ISO_STATUS_FULFILLED) {
    fprintf(stderr, "    the busy call: %s\n",
            t.r[1].message ? t.r[1].message : "?");
  }
  CHECK_STR(t.r[1].value, "\"done\"");
  tracker_free(&t);
  svc_stop(&s);
}

/* The server's default deadline (--timeout) applies to jobs without
 * timeout_ms; a job's own timeout_ms overrides it; a job that waits in the
 * queue past its deadline is answered timeout. Call jobs on a warm realm,
 * so this case does not depend on the first-job deadline (see
 * timeout_sleeping_job). */
static void t_timeout_server_default(void) {
  const char* flags[] = {"--workers", "1",         "--max-inflight-per-worker",
                         "1",         "--timeout", "300",
                         NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  iso_result r;
  expect_value(&s, call_job("double.js", NULL, "[1]", &keep), "2");
  iso_buf_close(&keep);
  /* no timeout_ms: the server's --timeout 300 (a client with a deadline
   * sends it as the job's timeout_ms, so this one waits for ever) */
  int64_t t0 = now_ms();
  call(&s, call_job("sleep.js", NULL, "[1500, \"late\"]", &keep),
       ISO_CLIENT_FOREVER, &r);
  int64_t took = now_ms() - t0;
  iso_buf_close(&keep);
  if (r.code != ISO_CODE_TIMEOUT || took >= 1000) {
    fprintf(stderr,
            "    no timeout_ms, --timeout 300, sleeping 1.5 s: %s %s "
            "after %lld ms\n",
            r.status == ISO_STATUS_FULFILLED ? "fulfilled" : r.code_name,
            r.status == ISO_STATUS_FULFILLED ? "" : r.message, (long long)took);
  }
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
  CHECK_CONTAINS(r.message, "300 ms");
  CHECK(took >= 280 && took < 1000);
  iso_result_close(&r);
  /* a job's own timeout_ms overrides the default, upwards too */
  iso_job j = call_job("sleep.js", NULL, "[600, \"on time\"]", &keep);
  j.timeout_ms = 3000;
  expect_value(&s, j, "\"on time\"");
  iso_buf_close(&keep);
  /* the worker is taken (1 in flight); a queued job's deadline passes */
  tracker t;
  tracker_init(&t, 2);
  j = call_job("sleep.js", NULL, "[600, \"first\"]", &keep);
  j.timeout_ms = 3000;
  tracker_submit(&t, s.c, 0, j, 10000);
  iso_buf_close(&keep);
  sleep_ms(50);
  j = call_job("double.js", NULL, "[1]", &keep);
  j.timeout_ms = 100;
  tracker_submit(&t, s.c, 1, j, 10000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 2, 10000));
  CHECK_EQ(t.r[1].status, ISO_STATUS_ERROR);
  CHECK_EQ(t.r[1].code, ISO_CODE_TIMEOUT);
  CHECK_CONTAINS(t.r[1].message, "waited for a worker");
  CHECK(t.r[1].done_ms < t.r[0].done_ms);
  CHECK_EQ(t.r[0].status, ISO_STATUS_FULFILLED);
  CHECK_STR(t.r[0].value, "\"first\"");
  tracker_check_once(&t);
  tracker_free(&t);
  /* and it still serves */
  expect_value(&s, call_job("double.js", NULL, "[7]", &keep), "14");
  iso_buf_close(&keep);
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"timeout_infinite_loop", t_timeout_infinite_loop},
    {"timeout_sleeping_job", t_timeout_sleeping_job},
    {"warm_deadline_is_the_calls", t_warm_deadline_is_the_calls},
    {"timeout_server_default", t_timeout_server_default},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return iso_test_main(argc, argv, cases);
}
