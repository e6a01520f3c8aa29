/* test_service_shutdown.c: `isopool serve` end to end: each job answered
 * exactly once (pool/answer.c), and the daemon's shutdown (SIGTERM and
 * its grace period). Slow jobs finishing, the ones still running at the
 * end of the grace answered cancelled and new ones shutting_down, JavaScript
 * that never returns to the loop, storms of every outcome with and without a
 * SIGTERM in the middle, and SIGTERM while a client floods the socket.
 *
 * Each case starts the real daemon on fixtures/service with the flags it
 * needs (support/service.h), talks to it only through ipc/iso_client.h,
 * and ends with the daemon gone and its exit status 0. Asynchronous jobs
 * go through a tracker (tracker.h) that counts callbacks per request id,
 * so every case checks that each request got exactly one completion.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "service.h"
#include "tap.h"
#include "tracker.h"

/* Under ThreadSanitizer (make test-tsan) the daemon is built the same way
 * and is 5-15x slower to take a signal and to end (test_service_hostile.c
 * likewise): the bounds on the shutdown's time get SLOW_MS more. */
#if defined(__SANITIZE_THREAD__)
enum { SLOW_MS = 3000 };
#else
enum { SLOW_MS = 0 };
#endif

/* SIGTERM with --grace-ms 1000: slow jobs finish, the endless one is
 * answered cancelled at the end of the grace (it ran in part: a client
 * must not send it elsewhere), new jobs are refused shutting_down (they
 * never ran), and the daemon exits 0 within grace + 2 s. */
static void t_graceful_shutdown(void) {
  const char* flags[] = {"--grace-ms", "1000", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  enum { SLOW = 4, NEVER = 4, AFTER = 5, N = 6 };
  tracker t;
  tracker_init(&t, N);
  submit_sleeps(&s, &t, 0, SLOW, 300);
  iso_buf keep;
  iso_job never = eval_src("await new Promise((r) => setTimeout(r, 60000));");
  never.timeout_ms = 120000;
  CHECK_EQ(tracker_submit(&t, s.c, NEVER, never, 10000), 0);
  sleep_ms(50); /* all are running */
  int64_t t0 = now_ms();
  kill(s.pid, SIGTERM);
  sleep_ms(SLOW_MS ? 400 : 100); /* it took the signal; the grace runs */
  CHECK_EQ(tracker_submit(&t, s.c, AFTER,
                          call_job("double.js", NULL, "[1]", &keep), 5000),
           0);
  iso_buf_close(&keep);
  int status = daemon_wait(&s.pid, 3000 + SLOW_MS);
  int64_t exited = now_ms() - t0;
  fprintf(stderr, "    exited %lld ms after SIGTERM\n", (long long)exited);
  CHECK_EQ(status, 0);
  CHECK(exited < 3000 + SLOW_MS);
  CHECK(tracker_wait(&t, N, 6000));
  for (int i = 0; i < SLOW; i++) {
    char want[8];
    snprintf(want, sizeof want, "%d", i);
    CHECK_EQ(t.r[i].rc, 0);
    CHECK_EQ(t.r[i].status, ISO_STATUS_FULFILLED);
    CHECK_STR(t.r[i].value, want);
  }
  rec* r = &t.r[NEVER];
  CHECK_EQ(r->rc, 0);
  CHECK_EQ(r->status, ISO_STATUS_ERROR);
  CHECK_EQ(r->code, ISO_CODE_CANCELLED);
  CHECK(r->message != NULL && strstr(r->message, "--grace-ms") != NULL);
  CHECK(r->done_ms - t0 >= 900); /* not before the grace was over */
  r = &t.r[AFTER];
  fprintf(stderr, "    a job sent in the grace after SIGTERM: rc %s, %s\n",
          r->rc == 0 ? "0" : iso_err_name(r->rc),
          r->rc == 0 ? iso_proto_code_name(r->code) : "-");
  CHECK_EQ(r->rc, 0);
  CHECK_EQ(r->status, ISO_STATUS_ERROR);
  CHECK_EQ(r->code, ISO_CODE_SHUTTING_DOWN);
  CHECK(r->done_ms - t0 < 900); /* refused at once, not after the grace */
  tracker_check_once(&t);
  tracker_free(&t);
  svc_stop(&s);
}

/* JavaScript that never returns to the loop when SIGTERM comes: after the
 * grace the daemon stops it, answers the job cancelled (it ran in part;
 * it did not run past its own deadline: its stats name no limit) and
 * exits 0. */
static void t_shutdown_stuck_javascript(void) {
  const char* flags[] = {"--workers", "1", "--grace-ms", "300", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 2);
  iso_buf keep;
  iso_job j = call_job("spin.js", "spin", NULL, &keep);
  j.timeout_ms = 20000;
  CHECK_EQ(tracker_submit(&t, s.c, 0, j, 10000), 0);
  iso_buf_close(&keep);
  j = eval_src("while (true) {}");
  j.timeout_ms = 20000;
  CHECK_EQ(tracker_submit(&t, s.c, 1, j, 10000), 0);
  sleep_ms(100);
  int64_t t0 = now_ms();
  kill(s.pid, SIGTERM);
  CHECK_EQ(daemon_wait(&s.pid, 2300 + SLOW_MS + 1000), 0);
  CHECK(now_ms() - t0 < 2300 + SLOW_MS);
  CHECK(tracker_wait(&t, 2, 5000));
  for (int i = 0; i < 2; i++) {
    rec* r = &t.r[i];
    if (r->rc != 0 || r->code != ISO_CODE_CANCELLED) {
      fprintf(stderr,
              "    %s stuck at SIGTERM (timeout_ms 20000): rc %d "
              "%s \"%s\" after %lld ms\n",
              i == 0 ? "call" : "eval", r->rc, iso_proto_code_name(r->code),
              r->message ? r->message : "", (long long)(r->done_ms - t0));
    }
    CHECK_EQ(r->rc, 0);
    CHECK_EQ(r->status, ISO_STATUS_ERROR);
    CHECK_EQ(r->code, ISO_CODE_CANCELLED);
    CHECK_EQ(r->limit, ISO_LIMIT_NONE); /* no limit of its own ended it */
    CHECK(r->done_ms - t0 < 2300 + SLOW_MS);
  }
  tracker_check_once(&t);
  tracker_free(&t);
  svc_stop(&s);
}

/* A storm of every kind of outcome against a small daemon: fulfilled,
 * rejected, timeout (timer and infinite loop), busy, stall; each request id
 * is answered exactly once and with an outcome its job can have. */
static void t_exactly_one_reply(void) {
  const char* flags[] = {
      "--workers", "2",           "--max-inflight-per-worker",
      "3",         "--max-queue", "6",
      "--timeout", "3000",        NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  enum { N = 120, KINDS = 6 };
  tracker t;
  tracker_init(&t, N);
  iso_buf keep;
  for (int i = 0; i < N; i++) {
    iso_job j;
    iso_buf_init(&keep);
    switch (i % KINDS) {
      case 0:
        j = call_job("double.js", NULL, "[1]", &keep);
        break;
      case 1:
        j = call_job("sleep.js", NULL, "[40, \"s\"]", &keep);
        break;
      case 2:
        j = call_job("thrower.js", "fail", "[\"x\"]", &keep);
        break;
      case 3: /* fulfilled would be a missed deadline */
        j = call_job("sleep.js", NULL, "[1000, \"t\"]", &keep);
        j.timeout_ms = 100;
        break;
      case 4:
        j = eval_src("while (true) {}");
        j.timeout_ms = 100;
        break;
      default:
        j = eval_src("await new Promise(() => {});");
        break;
    }
    CHECK_EQ(tracker_submit(&t, s.c, i, j, 20000), 0);
    iso_buf_close(&keep);
    if (i % 10 == 9) {
      sleep_ms(15);
    }
  }
  CHECK(tracker_wait(&t, N, 20000));
  int busy = 0, odd = 0;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    if (r->rc != 0) {
      odd++;
      continue;
    }
    if (r->status == ISO_STATUS_ERROR && r->code == ISO_CODE_BUSY) {
      busy++;
      continue;
    }
    int ok;
    switch (i % KINDS) {
      case 0:
        ok = r->status == ISO_STATUS_FULFILLED && strcmp(r->value, "2") == 0;
        break;
      case 1:
        ok = r->status == ISO_STATUS_FULFILLED;
        break;
      case 2:
        ok = r->status == ISO_STATUS_REJECTED;
        break;
      case 3:
      case 4:
        ok = r->status == ISO_STATUS_ERROR && r->code == ISO_CODE_TIMEOUT;
        break;
      default:
        ok = r->status == ISO_STATUS_REJECTED &&
             strcmp(r->message, STALL_MESSAGE) == 0;
        break;
    }
    if (!ok) {
      if (odd < 5) {
        fprintf(stderr, "    id %d (kind %d): rc %d status %d code %d %s\n", i,
                i % KINDS, r->rc, r->status, r->code,
                r->message ? r->message : "");
      }
      odd++;
    }
  }
  fprintf(stderr, "    %d of %d refused busy\n", busy, N);
  CHECK_EQ(odd, 0);
  CHECK(busy > 0); /* the storm did overflow the queue */
  CHECK(busy < N);
  tracker_check_once(&t);
  tracker_free(&t);
  svc_stop(&s);
}

/* The same while the daemon shuts down: jobs running, queued, refused and
 * sent after SIGTERM each get exactly one completion (a reply, or
 * ECONNECT once the daemon is gone), and the daemon exits 0 in time. */
static void t_exactly_one_reply_shutdown(void) {
  const char* flags[] = {
      "--workers",  "2",           "--max-inflight-per-worker",
      "2",          "--max-queue", "10",
      "--grace-ms", "300",         NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  enum { N = 80, KINDS = 4 };
  tracker t;
  tracker_init(&t, N);
  iso_buf keep;
  int64_t term_ms = 0;
  for (int i = 0; i < N; i++) {
    iso_job j;
    iso_buf_init(&keep);
    switch (i % KINDS) {
      case 0:
        j = call_job("double.js", NULL, "[1]", &keep);
        break;
      case 1:
        j = call_job("sleep.js", NULL, "[100, \"s\"]", &keep);
        break;
      case 2:
        j = call_job("sleep.js", NULL, "[5000, \"never\"]", &keep);
        break;
      default:
        j = eval_src("while (true) {}");
        j.timeout_ms = 2000;
        break;
    }
    CHECK_EQ(tracker_submit(&t, s.c, i, j, 10000), 0);
    iso_buf_close(&keep);
    if (i % 20 == 19) {
      sleep_ms(40);
    }
    if (i == 39) {
      kill(s.pid, SIGTERM);
      term_ms = now_ms();
    }
  }
  int status = daemon_wait(&s.pid, 2300 + 1000);
  int64_t exited = now_ms() - term_ms;
  CHECK_EQ(status, 0);
  CHECK(exited < 2300 + 500);
  CHECK(tracker_wait(&t, N, 10000));
  int counts[8] = {0};
  int odd = 0;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    int k;
    if (r->rc == ISO_ECONNECT || r->rc == ISO_ENODELOST) {
      k = 0;
    } else if (r->rc != 0) {
      k = -1;
    } else if (r->status == ISO_STATUS_FULFILLED) {
      k = 1;
    } else if (r->status == ISO_STATUS_ERROR && r->code == ISO_CODE_BUSY) {
      k = 2;
    } else if (r->status == ISO_STATUS_ERROR &&
               r->code == ISO_CODE_SHUTTING_DOWN) {
      k = 3;
    } else if (r->status == ISO_STATUS_ERROR && r->code == ISO_CODE_TIMEOUT) {
      k = 4;
    } else if (r->status == ISO_STATUS_ERROR && r->code == ISO_CODE_CANCELLED) {
      k = 5; /* on a worker when the grace ran out */
    } else {
      k = -1;
    }
    /* what each kind of job may end as */
    int ok = k >= 0 && (k != 1 || i % KINDS <= 1) && (k != 4 || i % KINDS == 3);
    if (!ok) {
      if (odd++ < 5) {
        fprintf(stderr, "    id %d (kind %d): rc %d status %d code %d %s\n", i,
                i % KINDS, r->rc, r->status, r->code,
                r->message ? r->message : "");
      }
    } else {
      counts[k]++;
    }
  }
  fprintf(stderr,
          "    %d fulfilled, %d busy, %d shutting_down, %d cancelled, "
          "%d timeout, %d connection lost\n",
          counts[1], counts[2], counts[3], counts[5], counts[4], counts[0]);
  CHECK_EQ(odd, 0);
  CHECK(counts[1] > 0);
  CHECK(counts[3] > 0);
  CHECK(counts[5] > 0); /* the 5 s sleeps on the workers at the grace's end */
  tracker_check_once(&t);
  tracker_free(&t);
  svc_stop(&s);
}

/* SIGTERM while a client floods the socket, several rounds: the listener
 * closes while NNG threads are still reposting receives and the workers'
 * replies still arrive (ipc/iso_server.c, io_enter). The daemon must exit
 * 0 every time (an NNG call racing the socket's close aborted it:
 * "pthread_mutex_lock: Invalid argument"), and every job sent gets
 * exactly one completion. */
static void t_shutdown_under_flood(void) {
  const char* flags[] = {"--grace-ms", "200", NULL};
  enum { ROUNDS = 4, N = 3000, TERM_AT = 600 };
  for (int round = 0; round < ROUNDS; round++) {
    svc s;
    if (svc_start(&s, flags, 128) != 0) {
      svc_stop(&s);
      return;
    }
    tracker t;
    tracker_init(&t, N);
    /* as fast as the client's 128 slots free up; SIGTERM at a different
     * point each round, then 500 more */
    int term_at = TERM_AT + round * 300;
    int64_t end = now_ms() + 8000;
    for (int i = 0; i < N && i < term_at + 500 && now_ms() < end;) {
      iso_buf keep;
      iso_buf_init(&keep);
      iso_job j = call_job("double.js", NULL, "[1]", &keep);
      int rc = tracker_submit(&t, s.c, i, j, 3000);
      iso_buf_close(&keep);
      if (rc == ISO_EBUSY) {
        sched_yield();
        continue;
      }
      if (i == term_at) {
        kill(s.pid, SIGTERM);
      }
      i++;
    }
    int status = daemon_wait(&s.pid, 5000);
    CHECK_EQ(status, 0);
    CHECK(tracker_wait(&t, tracker_sent(&t), 10000));
    tracker_check_once(&t);
    fprintf(stderr, "    round %d: %d sent, %d completed, exit status %d\n",
            round, tracker_sent(&t), tracker_done(&t), status);
    iso_client_free(s.c);
    s.c = NULL;
    tracker_free(&t);
    svc_stop(&s);
  }
}

static const iso_test cases[] = {
    {"graceful_shutdown", t_graceful_shutdown},
    {"shutdown_stuck_javascript", t_shutdown_stuck_javascript},
    {"exactly_one_reply", t_exactly_one_reply},
    {"exactly_one_reply_shutdown", t_exactly_one_reply_shutdown},
    {"shutdown_under_flood", t_shutdown_under_flood},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return iso_test_main(argc, argv, cases);
}
