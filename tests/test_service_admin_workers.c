/* test_service_admin_workers.c: the commands that change the workers,
 * under load (pool/admin.c; pool/pool.c): resize up and down and recycle
 * with nothing lost and warm state starting again only where a worker was
 * recycled, reload dropping warm realms, so changed module files are
 * read again, and a resize that grows while a spare pool process starts
 * (pool/procs.c).
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
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_path.h"
#include "procfs.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

/* Frees a tracker whose client stays open: first every job it sent must
 * have had its callback (a case that failed may have left some pending;
 * their deadline, 60 s, bounds the wait), else a late one would write to
 * the freed tracker. */
static void tracker_end(tracker* t) {
  tracker_wait(t, tracker_sent(t), 65000);
  tracker_free(t);
}

/* Two count.js(ms) calls at once, so both workers take one; fills
 * value[w] with the count worker w answered (-1: none). */
static void count_on_both(svc* s, int ms, int value[2]) {
  tracker t;
  tracker_init(&t, 2);
  char args[32];
  snprintf(args, sizeof args, "[%d]", ms);
  for (int i = 0; i < 2; i++) {
    iso_buf keep;
    tracker_submit_ok(&t, s->c, i, call_job("count.js", args, &keep), 60000);
    iso_buf_close(&keep);
  }
  CHECK(tracker_wait(&t, 2, 20000));
  value[0] = value[1] = -1;
  for (int i = 0; i < 2; i++) {
    rec* r = &t.r[i];
    CHECK_EQ(r->status, ISO_STATUS_FULFILLED);
    if (r->status == ISO_STATUS_FULFILLED && r->worker >= 0 && r->worker < 2) {
      value[r->worker] = atoi(r->value);
    }
  }
  if (value[0] < 0 || value[1] < 0) {
    fprintf(stderr, "  both count calls ran on worker %lld (rc %s, %s)\n",
            (long long)t.r[0].worker, iso_err_name(t.r[0].rc),
            iso_err_name(t.r[1].rc));
    iso_test_failed = 1;
  }
  tracker_end(&t);
}

/* resize 2 -> 4 -> 1 -> 2 while ~200 jobs are in flight or queued. */
static void t_resize_under_load(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.inflight = "2"}) != 0) {
    svc_stop(&s);
    return;
  }
  enum { N = 200 };
  tracker t;
  tracker_init(&t, N);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_sleeps(&t, s.c, 0, N, 40);
  wait_accepted(&s, acc0 + N, 10000);
  int before = tracker_done(&t);

  static const struct {
    const char* n;
    int workers;
  } steps[] = {{"4", 4}, {"1", 1}, {"2", 2}};
  int saw_retiring = 0;
  for (size_t k = 0; k < 3; k++) {
    char want[64];
    snprintf(want, sizeof want, "resizing to %s workers", steps[k].n);
    char* out = pc_human(&s, "resize", steps[k].n);
    CHECK_CONTAINS(out, want);
    free(out);
    st = admin(&s, ISO_ADMIN_STATUS);
    CHECK_EQ(js_num(st, "workers.configured"), steps[k].workers);
    free(st);
    /* the retiring ones disappear, the new ones start */
    int64_t end = now_ms() + 10000;
    char* w = NULL;
    for (;;) {
      free(w);
      w = pc_json(&s, "workers", NULL);
      int len = js_len(w, "workers");
      for (int i = 0; i < len; i++) {
        char p[32];
        snprintf(p, sizeof p, "workers.%d.state", i);
        saw_retiring |= js_is(w, p, "retiring");
      }
      st = admin(&s, ISO_ADMIN_STATUS);
      int alive = (int)js_num(st, "workers.alive");
      free(st);
      if (len == steps[k].workers && alive == steps[k].workers) {
        break;
      }
      if (now_ms() >= end) {
        fprintf(stderr, "  after resize %s: %s\n", steps[k].n, w);
        CHECK(!"the pool reached its size");
        break;
      }
      sleep_ms(5);
    }
    free(w);
    st = pc_json(&s, "status", NULL);
    CHECK_EQ(js_num(st, "workers.configured"), steps[k].workers);
    CHECK_EQ(js_num(st, "workers.alive"), steps[k].workers);
    free(st);
  }
  int during = tracker_done(&t);
  fprintf(stderr,
          "    %d of %d answered before the first resize, %d after the "
          "last; retiring seen: %s\n",
          before, N, during, saw_retiring ? "yes" : "no");
  CHECK(before < N / 2); /* the resizes happened under load */
  CHECK(tracker_wait(&t, N, 30000));
  tracker_check_once(&t);
  expect_own_numbers(&t, 0, N);
  st = admin(&s, ISO_ADMIN_STATUS);
  CHECK_EQ(js_num(st, "totals.accepted") - acc0, N);
  CHECK_EQ(js_num(st, "totals.fulfilled") - acc0, N);
  free(st);
  svc_stop(&s); /* its client's callbacks end before the tracker */
  tracker_free(&t);
}

/* recycle --all and recycle 0 under load: nothing lost; warm state (a
 * module global) starts again from 0 on a recycled worker only. */
static void t_recycle_under_load(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.inflight = "2"}) != 0) {
    svc_stop(&s);
    return;
  }
  int v[2];
  count_on_both(&s, 200, v);
  CHECK(v[0] == 1 && v[1] == 1);
  count_on_both(&s, 200, v);
  CHECK(v[0] == 2 && v[1] == 2); /* warm: the module kept its count */

  enum { N = 200 };
  tracker t;
  tracker_init(&t, 2 * N);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_sleeps(&t, s.c, 0, N, 20);
  wait_accepted(&s, acc0 + N, 10000);
  int before = tracker_done(&t);
  char* out = pc_human(&s, "recycle", "--all");
  CHECK_CONTAINS(out, "recycling workers 0, 1");
  free(out);
  fprintf(stderr, "    recycle --all after %d of %d answered\n", before, N);
  CHECK(before < N);
  CHECK(tracker_wait(&t, N, 30000));
  expect_own_numbers(&t, 0, N);
  wait_workers_running(&s, 2, 10000);
  count_on_both(&s, 200, v);
  CHECK(v[0] == 1 && v[1] == 1); /* fresh isolates */
  count_on_both(&s, 200, v);
  CHECK(v[0] == 2 && v[1] == 2);

  st = admin(&s, ISO_ADMIN_STATUS);
  acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_sleeps(&t, s.c, N, 2 * N, 20);
  wait_accepted(&s, acc0 + N, 10000);
  before = tracker_done(&t) - N;
  char* rep = pc_json(&s, "recycle", "0");
  CHECK(strncmp(js_at(rep, "ok"), "true", 4) == 0);
  CHECK_EQ(js_len(rep, "workers"), 1);
  CHECK_EQ(js_num(rep, "workers.0"), 0);
  free(rep);
  CHECK(before < N);
  CHECK(tracker_wait(&t, 2 * N, 30000));
  expect_own_numbers(&t, N, 2 * N);
  wait_workers_running(&s, 2, 10000);
  count_on_both(&s, 200, v);
  CHECK_EQ(v[0], 1); /* recycled */
  CHECK_EQ(v[1], 3); /* kept */
  tracker_check_once(&t);

  PC_FAILS(&s, "poolctl: not_found: there is no worker 9", "recycle", "9");
  iso_admin_req q = areq(ISO_ADMIN_RECYCLE);
  q.worker = 200;
  rep = admin_req(&s, q);
  CHECK(js_is(rep, "code", "not_found"));
  free(rep);
  svc_stop(&s); /* its client's callbacks end before the tracker */
  tracker_free(&t);
}

/* The module file of t_reload, answering `value` after ms. */
static void write_const(const char* dir, const char* value) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/const.js", dir);
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fprintf(f,
            "export default async function (ms) {\n"
            "  await new Promise((resolve) => setTimeout(resolve, ms));\n"
            "  return \"%s\";\n"
            "}\n",
            value);
    fclose(f);
  }
}

/* Two const.js calls at once (one per worker); both must answer want. */
static void expect_const(svc* s, const char* want, int line) {
  tracker t;
  tracker_init(&t, 2);
  for (int i = 0; i < 2; i++) {
    iso_buf keep;
    tracker_submit_ok(&t, s->c, i, call_job("const.js", "[200]", &keep), 60000);
    iso_buf_close(&keep);
  }
  CHECK(tracker_wait(&t, 2, 20000));
  char quoted[32];
  snprintf(quoted, sizeof quoted, "\"%s\"", want);
  int failed = iso_test_failed;
  expect_fulfilled(&t, 0, quoted);
  expect_fulfilled(&t, 1, quoted);
  CHECK(t.r[0].worker != t.r[1].worker);
  if (iso_test_failed && !failed) {
    fprintf(stderr, "  (line %d)\n", line);
  }
  tracker_end(&t);
}

static void t_reload(void) {
  char dir[] = "/tmp/isopool-adm-mods-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  write_const(dir, "v1");
  svc s;
  if (svc_start(&s, &(svc_opts){.modules = dir}) != 0) {
    svc_stop(&s);
    return;
  }
  expect_const(&s, "v1", __LINE__);
  write_const(dir, "v2");
  sleep_ms(20);
  expect_const(&s, "v1", __LINE__); /* warm: not read again */
  char* out = pc_human(&s, "reload", NULL);
  CHECK_CONTAINS(out, "dropped 2 warm realms");
  free(out);
  expect_const(&s, "v2", __LINE__);
  /* each worker holds const.js again (published every 500 ms) */
  char* w = NULL;
  int64_t end = now_ms() + 3000;
  do {
    free(w);
    w = admin(&s, ISO_ADMIN_WORKERS);
  } while ((js_num(w, "workers.0.warm_modules") != 1 ||
            js_num(w, "workers.1.warm_modules") != 1) &&
           now_ms() < end && (sleep_ms(20), 1));
  CHECK_EQ(js_num(w, "workers.0.warm_modules"), 1);
  CHECK_EQ(js_num(w, "workers.1.warm_modules"), 1);
  free(w);

  /* reload SPEC: only the realms that loaded it */
  write_const(dir, "v3");
  sleep_ms(20);
  char* rep = pc_json(&s, "reload", "other.js");
  CHECK_EQ(js_num(rep, "realms"), 0);
  free(rep);
  expect_const(&s, "v2", __LINE__);
  iso_admin_req q = areq(ISO_ADMIN_RELOAD);
  snprintf(q.module, sizeof q.module, "const.js");
  rep = admin_req(&s, q);
  CHECK_EQ(js_num(rep, "realms"), 2);
  free(rep);
  expect_const(&s, "v3", __LINE__);
  write_const(dir, "v4");
  sleep_ms(20);
  out = pc_human(&s, "reload", "const.js");
  CHECK_CONTAINS(out, "dropped 2 warm realms that had loaded const.js");
  free(out);
  expect_const(&s, "v4", __LINE__);
  svc_stop(&s);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/const.js", dir);
  unlink(path);
  rmdir(dir);
}

/* The status's count of pool processes in `state` (active, spare,
 * starting). */
static int procs_in(svc* s, const char* state) {
  char path[64];
  snprintf(path, sizeof path, "processes.%s", state);
  char* st = admin(s, ISO_ADMIN_STATUS);
  double n = js_num(st, path);
  free(st);
  return n == n ? (int)n : -1;
}

/* Waits until the status counts `want` pool processes in `state`. */
static int wait_procs_in(svc* s, const char* state, int want, int timeout_ms) {
  int64_t end = now_ms() + timeout_ms * iso_test_scale();
  int n;
  while ((n = procs_in(s, state)) != want && now_ms() < end) {
    sleep_ms(5);
  }
  if (n != want) {
    fprintf(stderr, "  %d pool process(es) %s, not %d\n", n, state, want);
    CHECK(!"the pool processes reached their states");
  }
  return n == want;
}

/* Whether pid has exec'd `isopool pool-process` (until then it is the
 * supervisor's fork, which the supervisor waits for: stopped there, it
 * would hold every spawn after it). */
static int is_pool_process(int pid) {
  char path[64], cmd[256];
  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  FILE* f = fopen(path, "r");
  size_t n = f != NULL ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
  if (f != NULL) {
    fclose(f);
  }
  cmd[n] = '\0';
  size_t first = strlen(cmd); /* argv[0]; argv[1] follows its NUL */
  return first + 1 < n && strcmp(cmd + first + 1, "pool-process") == 0;
}

/* A child of the daemon that is none of the `n` in `known`, as soon as it
 * is a pool process (within timeout_ms); 0 when none was (never a pid for
 * kill() then: 0 is the caller's process group). */
static int new_child(int daemon, const int* known, int n, int timeout_ms) {
  int64_t end = now_ms() + timeout_ms * iso_test_scale();
  do {
    int kids[16];
    int nk = procfs_children(daemon, kids, 16);
    for (int i = 0; i < nk; i++) {
      int seen = 0;
      for (int k = 0; k < n; k++) {
        seen |= kids[i] == known[k];
      }
      if (!seen && is_pool_process(kids[i])) {
        return kids[i];
      }
    }
    sleep_ms(1);
  } while (now_ms() < end);
  fprintf(stderr, "  no pool process after the %d known\n", n);
  CHECK(!"a new pool process appeared");
  return 0;
}

typedef struct resize_call {
  svc* s;
  const char* n;
  char* out; /* poolctl's stdout */
} resize_call;

static void* resize_thread(void* arg) {
  resize_call* c = arg;
  c->out = pc_human(c->s, "resize", c->n);
  return NULL;
}

/* A resize while a spare pool process starts: the spare, when it comes
 * up first, stays a spare, and the resize's own process takes the place
 * the resize asked for. (The spare took it, with its 2 workers, and the
 * resize to 3 ended with 4 running and its own process a spare:
 * test_service_admin_access json_logs saw it 1 run in 8.) The order is
 * made with SIGSTOP: the spare's replacement is held as it starts, the
 * resize's process as it is spawned, then the replacement let go first. */
static void t_resize_while_spare_starts(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){0}) != 0) {
    svc_stop(&s);
    return;
  }
  /* --workers 2: one active process of 2 threads, one spare */
  wait_workers_running(&s, 2, 10000);
  char* w = admin(&s, ISO_ADMIN_WORKERS);
  int known[4] = {(int)js_num(w, "workers.0.pid")};
  free(w);
  CHECK(known[0] > 0);
  if (known[0] <= 0 || !wait_procs_in(&s, "spare", 1, 10000) ||
      (known[1] = new_child(s.pid, known, 1, 10000)) == 0) {
    daemon_dump_log(s.log);
    svc_stop(&s);
    return;
  }
  /* the spare dies: its replacement is held while it starts */
  CHECK_EQ(kill(known[1], SIGKILL), 0);
  known[2] = new_child(s.pid, known, 2, 10000);
  if (known[2] == 0) {
    daemon_dump_log(s.log);
    svc_stop(&s);
    return;
  }
  CHECK_EQ(kill(known[2], SIGSTOP), 0);
  CHECK_EQ(procs_in(&s, "spare"), 0);
  /* the resize waits for its own process: from a thread */
  resize_call rc = {.s = &s, .n = "3"};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, resize_thread, &rc), 0);
  known[3] = new_child(s.pid, known, 3, 10000);
  if (known[3] == 0) { /* let the replacement go: the resize may end */
    kill(known[2], SIGCONT);
    pthread_join(t, NULL);
    free(rc.out);
    daemon_dump_log(s.log);
    svc_stop(&s);
    return;
  }
  CHECK_EQ(kill(known[3], SIGSTOP), 0);
  wait_procs_in(&s, "starting", 2, 10000);
  /* the replacement comes up first */
  CHECK_EQ(kill(known[2], SIGCONT), 0);
  wait_procs_in(&s, "starting", 1, 10000);
  CHECK_EQ(kill(known[3], SIGCONT), 0);
  pthread_join(t, NULL);
  CHECK_CONTAINS(rc.out, "resizing to 3 workers");
  free(rc.out);
  wait_workers_running(&s, 3, 10000);
  CHECK_EQ(procs_in(&s, "active"), 2);
  CHECK_EQ(procs_in(&s, "spare"), 1);
  CHECK_EQ(procs_in(&s, "starting"), 0);
  /* the resize's process runs the third worker; the replacement none */
  w = admin(&s, ISO_ADMIN_WORKERS);
  int on_new = 0, on_spare = 0;
  for (int i = 0; i < js_len(w, "workers"); i++) {
    char path[32];
    snprintf(path, sizeof path, "workers.%d.pid", i);
    on_new += (int)js_num(w, path) == known[3];
    on_spare += (int)js_num(w, path) == known[2];
  }
  CHECK_EQ(on_new, 1);
  CHECK_EQ(on_spare, 0);
  if (iso_test_failed) {
    fprintf(stderr, "  workers: %s\n", w);
    daemon_dump_log(s.log);
  }
  free(w);
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"resize_under_load", t_resize_under_load},
    {"recycle_under_load", t_recycle_under_load},
    {"reload", t_reload},
    {"resize_while_spare_starts", t_resize_while_spare_starts},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
