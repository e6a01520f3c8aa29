/* test_service_admin_shutdown.c: ending the service through the admin
 * plane, under load (pool/admin.c, drain and shutdown): a drain answering
 * every job it took, a shutdown with a grace period, and SIGTERM while a
 * resize starts workers.
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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_check.h"
#include "json_path.h"
#include "proc.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

/* A data root (--data) for gate.js: jobs that stay in flight until the
 * test opens the gate (creates the file), whatever the machine's speed. */
typedef struct gate {
  char dir[64];
  char file[96];
  char flag[96]; /* --data=... */
} gate;

static void gate_init(gate* g) {
  snprintf(g->dir, sizeof g->dir, "/tmp/isopool-adm-gate-XXXXXX");
  CHECK(mkdtemp(g->dir) != NULL);
  snprintf(g->file, sizeof g->file, "%s/open", g->dir);
}

static void gate_open(gate* g) {
  FILE* f = fopen(g->file, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fclose(f);
  }
}

static void gate_clean(gate* g) {
  unlink(g->file);
  rmdir(g->dir);
}

/* Submits gate.js("open", i) as id i for i in [from, to). */
static void submit_gated(tracker* t, iso_client* c, int from, int to) {
  for (int i = from; i < to; i++) {
    char args[64];
    snprintf(args, sizeof args, "[\"open\",%d]", i);
    iso_buf keep;
    tracker_submit_ok(t, c, i, call_job("gate.js", args, &keep), 60000);
    iso_buf_close(&keep);
  }
}

/* drain: every job taken, running or queued, is answered with its value;
 * jobs sent while it drains get shutting_down; changes are refused; the
 * daemon exits 0 by itself once the last job is done. The jobs wait on a
 * gate, so the drain is surely under way while the late jobs arrive, under
 * ThreadSanitizer too. */
static void t_drain(void) {
  gate g;
  gate_init(&g);
  const char* extra[] = {"--data", g.dir, "--allow-read", NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.inflight = "2", .extra = extra}) != 0) {
    svc_stop(&s);
    gate_clean(&g);
    return;
  }
  enum { N = 6, LATE = 5 }; /* 4 on the two workers, 2 queued */
  tracker t;
  tracker_init(&t, N + LATE);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_gated(&t, s.c, 0, N);
  wait_accepted(&s, acc0 + N, 10000);
  char* out = pc_human(&s, "drain", NULL);
  CHECK_CONTAINS(out, "draining");
  free(out);
  st = admin(&s, ISO_ADMIN_STATUS);
  CHECK(js_is(st, "state", "draining"));
  CHECK_EQ(js_num(st, "inflight"), 4);
  CHECK_EQ(js_num(st, "queue"), N - 4);
  free(st);
  /* changes are refused while it drains */
  iso_admin_req q = areq(ISO_ADMIN_RESIZE);
  q.workers = 3;
  st = admin_req(&s, q);
  CHECK(js_is(st, "code", "conflict"));
  free(st);
  /* new jobs get shutting_down at once; the gated ones are still there */
  submit_sleeps(&t, s.c, N, N + LATE, 1);
  CHECK(tracker_wait(&t, LATE, 10000));
  for (int i = N; i < N + LATE; i++) {
    expect_error(&t, i, ISO_CODE_SHUTTING_DOWN);
  }
  for (int i = 0; i < N; i++) {
    CHECK_EQ(tracker_calls(&t, i), 0);
  }
  int64_t t0 = now_ms();
  gate_open(&g);
  CHECK(tracker_wait(&t, N + LATE, 30000));
  int rc = daemon_wait(&s.pid, 15000);
  CHECK_EQ(rc, 0);
  fprintf(stderr, "    exited %lld ms after the gate opened\n",
          (long long)(now_ms() - t0));
  tracker_check_once(&t);
  expect_own_numbers(&t, 0, N);
  /* the client first: closing it completes what is still pending, and
   * the tracker must outlive those callbacks */
  svc_stop(&s);
  tracker_free(&t);
  gate_clean(&g);
}

/* A resize on its own thread (the admin client is used by it alone). */
typedef struct resize_call {
  svc* s;
  int workers;
  int rc;
  char* json; /* the reply, or NULL */
} resize_call;

static void* resize_main(void* arg) {
  resize_call* rc = arg;
  iso_admin_req q = areq(ISO_ADMIN_RESIZE);
  q.workers = rc->workers;
  iso_buf req, reply;
  iso_buf_init(&req);
  iso_buf_init(&reply);
  iso_admin_encode(&q, &req);
  rc->rc = iso_client_request_raw(rc->s->a, req.data, req.len, 5000, &reply);
  rc->json = rc->rc == 0 ? json_of(reply.data, reply.len) : NULL;
  iso_buf_close(&req);
  iso_buf_close(&reply);
  return NULL;
}

/* SIGTERM while a resize starts workers: the shutdown waits for the
 * resize, which stops the worker it was adding, and the daemon exits 0
 * (a worker added after the shutdown took its list was never stopped).
 * Each delay puts the signal at another point of the resize. */
static void t_resize_during_shutdown(void) {
  static const int kDelayMs[] = {0, 5, 30, 120};
  for (size_t k = 0; k < sizeof kDelayMs / sizeof kDelayMs[0]; k++) {
    svc s;
    if (svc_start(&s, &(svc_opts){.workers = "1"}) != 0) {
      svc_stop(&s);
      return;
    }
    resize_call rc = {.s = &s, .workers = 6};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, resize_main, &rc), 0);
    sleep_ms(kDelayMs[k]);
    kill(s.pid, SIGTERM);
    int64_t t0 = now_ms();
    CHECK_EQ(daemon_wait(&s.pid, 20000), 0);
    int64_t took = now_ms() - t0;
    CHECK(took < 10000);
    pthread_join(th, NULL);
    fprintf(stderr,
            "    SIGTERM %d ms into a resize: exited after %lld ms; "
            "resize: %s\n",
            kDelayMs[k], (long long)took,
            rc.json != NULL ? rc.json : iso_err_name(rc.rc));
    /* answered ok (done before the stop) or conflict, or not at all
     * when the daemon was gone first */
    if (rc.json != NULL) {
      CHECK(strncmp(js_at(rc.json, "ok"), "true", 4) == 0 ||
            js_is(rc.json, "code", "conflict"));
    }
    free(rc.json);
    svc_stop(&s);
  }
}

/* shutdown --grace 200: long jobs in flight and queued get exactly one
 * reply each (cancelled for the ones on the workers when the grace ran
 * out, shutting_down for the queued ones), and the daemon exits 0 within
 * a second or two. */
static void t_shutdown_grace(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.inflight = "3"}) != 0) {
    svc_stop(&s);
    return;
  }
  enum { N = 12 };
  tracker t;
  tracker_init(&t, N);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_sleeps(&t, s.c, 0, 2, 100);
  submit_sleeps(&t, s.c, 2, N, 5000);
  wait_accepted(&s, acc0 + N, 10000);
  st = admin(&s, ISO_ADMIN_STATUS);
  CHECK_EQ(js_num(st, "inflight"), 6);
  CHECK_EQ(js_num(st, "queue"), N - 6);
  free(st);
  proc_result r;
  PC(&s, &r, "shutdown", "--grace", "200");
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "shutting down (grace 200 ms)");
  show(&r);
  proc_result_free(&r);
  /* from the command's answer (poolctl's own start-up is slow under
   * ThreadSanitizer on a busy machine), well before the 5 s sleeps end */
  int64_t t0 = now_ms();
  int rc = daemon_wait(&s.pid, 5000);
  int64_t took = now_ms() - t0;
  CHECK_EQ(rc, 0);
  fprintf(stderr, "    exited %lld ms after the shutdown command's answer\n",
          (long long)took);
  CHECK(took < 2500);
  CHECK(tracker_wait(&t, N, 5000));
  tracker_check_once(&t);
  int fulfilled = 0, cancelled = 0;
  for (int i = 0; i < N; i++) {
    if (t.r[i].status == ISO_STATUS_FULFILLED) {
      char want[16];
      snprintf(want, sizeof want, "%d", i);
      expect_fulfilled(&t, i, want);
      fulfilled++;
    } else if (t.r[i].code == ISO_CODE_CANCELLED) {
      expect_error(&t, i, ISO_CODE_CANCELLED);
      cancelled++;
    } else {
      expect_error(&t, i, ISO_CODE_SHUTTING_DOWN);
    }
  }
  for (int i = 2; i < N; i++) { /* 5 s is past any grace */
    CHECK(t.r[i].status != ISO_STATUS_FULFILLED);
  }
  /* the 6 slots stayed full until the shutdown (the queue refilled the
   * ones the short jobs left): each job on them ends fulfilled or
   * cancelled, and at least N - 8 were still queued */
  CHECK(fulfilled + cancelled >= 6);
  CHECK(fulfilled + cancelled <= 8);
  CHECK(cancelled >= 4);
  fprintf(stderr, "    %d fulfilled, %d cancelled, %d shutting_down\n",
          fulfilled, cancelled, N - fulfilled - cancelled);
  svc_stop(&s); /* its client's callbacks end before the tracker */
  tracker_free(&t);
}

/* SIGTERM with jobs running past a short grace and jobs queued: each job
 * on a worker (some of its JavaScript ran) is answered cancelled, saying
 * so, and each queued one shutting_down (it never ran: a client may send
 * it to another node), each exactly once; the queued ones first, at the
 * SIGTERM, the running ones when the grace is over. The jobs wait on a
 * gate never opened, so which run and which wait is known from the
 * status before the signal, whatever the machine's speed. The workers in
 * pool processes (their jobs given back by each process as it stops), or
 * in the front's (--processes 0: by each worker thread). */
static void shutdown_split(const char* processes) {
  gate g;
  gate_init(&g);
  const char* extra[] = {"--data", g.dir,         "--allow-read", "--grace-ms",
                         "300",    "--processes", processes,      NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.inflight = "2", .extra = extra}) != 0) {
    svc_stop(&s);
    gate_clean(&g);
    return;
  }
  enum { N = 7, RUNNING = 4 }; /* 2 on each of the two workers, 3 queued */
  tracker t;
  tracker_init(&t, N);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_gated(&t, s.c, 0, N);
  wait_accepted(&s, acc0 + N, 10000);
  st = admin(&s, ISO_ADMIN_STATUS);
  CHECK_EQ(js_num(st, "inflight"), RUNNING);
  CHECK_EQ(js_num(st, "queue"), N - RUNNING);
  free(st);
  /* which ones run: the jobs command names their worker (-1: queued) */
  char* jobs = admin(&s, ISO_ADMIN_JOBS);
  CHECK_EQ(js_len(jobs, "jobs"), N);
  int on_worker[N] = {0};
  for (int k = 0; k < N && k < js_len(jobs, "jobs"); k++) {
    char path[64];
    snprintf(path, sizeof path, "jobs.%d.client_id", k);
    double id = js_num(jobs, path);
    snprintf(path, sizeof path, "jobs.%d.worker", k);
    CHECK(id >= 0 && id < N);
    if (id >= 0 && id < N) {
      on_worker[(int)id] = js_num(jobs, path) >= 0;
    }
  }
  free(jobs);
  kill(s.pid, SIGTERM);
  CHECK_EQ(daemon_wait(&s.pid, 8000), 0);
  CHECK(tracker_wait(&t, N, 5000));
  tracker_check_once(&t);
  int cancelled = 0, refused = 0;
  int64_t last_refused = 0, first_cancelled = INT64_MAX;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    CHECK_EQ(r->rc, 0);
    CHECK_EQ(r->status, ISO_STATUS_ERROR);
    if (r->code !=
        (on_worker[i] ? ISO_CODE_CANCELLED : ISO_CODE_SHUTTING_DOWN)) {
      fprintf(stderr, "    id %d (%s at SIGTERM): %s \"%s\"\n", i,
              on_worker[i] ? "running" : "queued", iso_proto_code_name(r->code),
              r->message ? r->message : "");
    }
    CHECK_EQ(r->code,
             on_worker[i] ? ISO_CODE_CANCELLED : ISO_CODE_SHUTTING_DOWN);
    if (r->code == ISO_CODE_CANCELLED) {
      cancelled++;
      CHECK(r->message != NULL && strstr(r->message, "--grace-ms") != NULL);
      first_cancelled =
          r->done_ms < first_cancelled ? r->done_ms : first_cancelled;
    } else {
      refused++;
      last_refused = r->done_ms > last_refused ? r->done_ms : last_refused;
    }
  }
  fprintf(stderr, "    %d cancelled, %d shutting_down\n", cancelled, refused);
  CHECK_EQ(cancelled, RUNNING);
  CHECK_EQ(refused, N - RUNNING);
  CHECK(last_refused <= first_cancelled); /* not held for the grace */
  svc_stop(&s);
  tracker_free(&t);
  gate_clean(&g);
}

static void t_shutdown_split(void) {
  shutdown_split("1");
}

static void t_shutdown_split_in_front(void) {
  shutdown_split("0");
}

static const iso_test cases[] = {
    {"drain", t_drain},
    {"shutdown_grace", t_shutdown_grace},
    {"shutdown_split", t_shutdown_split},
    {"shutdown_split_in_front", t_shutdown_split_in_front},
    {"resize_during_shutdown", t_resize_during_shutdown, .timeout_s = 120},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
