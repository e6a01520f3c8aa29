/* test_client_nodes.c: the client library over several nodes
 * (ipc/iso_client.h, "Several nodes"; docs/scaling.md).
 *
 * Each node is a fake_server.h REP0 server on its own ipc:// URL (and one
 * case a tcp:// one, for a host name), in a mode that plays a node's part:
 * answering, refusing `busy` or `shutting_down`, dropping its connection
 * with a job on it, or hanging (SILENT: neither jobs nor pings answered).
 * The servers count the jobs they receive, which is how the cases see
 * where a job went and that none ran twice.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare */
#endif
#include <errno.h>
#include <nng/nng.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "fake_server.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "tap.h"

static iso_client* open_nodes(server* a, server* b, const iso_client_opts* o) {
  const char* urls[2] = {a->url, b->url};
  iso_client* c = NULL;
  CHECK_EQ(iso_client_new_nodes(urls, 2, o, &c), 0);
  return c;
}

/* Waits until n of c's nodes are connected (and in); 1 if they are. */
static int wait_up(iso_client* c, int n, int ms) {
  for (int t = 0; t < ms; t += 5) {
    iso_client_node v[ISO_CLIENT_MAX_NODES];
    int k = iso_client_nodes(c, v, ISO_CLIENT_MAX_NODES);
    int up = 0;
    for (int i = 0; i < k; i++) {
      up += v[i].up;
    }
    if (up >= n) {
      return 1;
    }
    sleep_ms(5);
  }
  return 0;
}

/* c's view of the node dialing url. */
static iso_client_node view_of(iso_client* c, const char* url) {
  iso_client_node v[ISO_CLIENT_MAX_NODES], none;
  memset(&none, 0, sizeof none);
  int k = iso_client_nodes(c, v, ISO_CLIENT_MAX_NODES);
  for (int i = 0; i < k; i++) {
    if (strcmp(v[i].url, url) == 0) {
      return v[i];
    }
  }
  return none;
}

static iso_job job_eval(void) {
  iso_job j = {.kind = ISO_JOB_EVAL, .source = "x()"};
  return j;
}

/* One call: its rc, and the reply's status and code when rc is 0. */
typedef struct outcome {
  int rc;
  iso_status status;
  iso_proto_code code;
} outcome;

static outcome call(iso_client* c, const iso_job* j, int64_t deadline_ms) {
  iso_result r;
  outcome o = {iso_client_call(c, j, deadline_ms, &r), 0, 0};
  if (o.rc == 0) {
    o.status = r.status;
    o.code = r.code;
    iso_result_close(&r);
  }
  return o;
}

/* ---- async bookkeeping -------------------------------------------------- */

#define MAXJ 64

typedef struct tally {
  pthread_mutex_t mu;
  int done;
  int calls[MAXJ]; /* callbacks per job: each must be 1 */
  int rc[MAXJ];
  iso_status status[MAXJ];
} tally;

typedef struct ticket {
  tally* t;
  int i;
} ticket;

static void tally_cb(void* data, int rc, iso_result* r) {
  ticket* k = data;
  pthread_mutex_lock(&k->t->mu);
  k->t->calls[k->i]++;
  k->t->rc[k->i] = rc;
  k->t->status[k->i] = rc == 0 ? r->status : ISO_STATUS_NONE;
  k->t->done++;
  pthread_mutex_unlock(&k->t->mu);
}

static int tally_wait(tally* t, int n, int ms) {
  for (int w = 0; w < ms; w += 5) {
    pthread_mutex_lock(&t->mu);
    int done = t->done;
    pthread_mutex_unlock(&t->mu);
    if (done >= n) {
      return 1;
    }
    sleep_ms(5);
  }
  return 0;
}

/* ---- the cases ---------------------------------------------------------- */

/* Both nodes take jobs, each job runs once, and the counts add up. */
static void t_balance(void) {
  server* a = server_start(SRV_ECHO, 0);
  server* b = server_start(SRV_ECHO, 0);
  iso_client* c = open_nodes(a, b, NULL);
  CHECK(wait_up(c, 2, 5000));
  iso_job j = job_eval();
  for (int i = 0; i < 200; i++) {
    outcome o = call(c, &j, 5000);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(o.status, ISO_STATUS_FULFILLED);
  }
  int na = atomic_load(&a->requests), nb = atomic_load(&b->requests);
  fprintf(stderr, "    200 jobs: %d on one node, %d on the other\n", na, nb);
  CHECK_EQ(na + nb, 200);
  CHECK(na >= 40 && nb >= 40); /* two random choices, one at a time */
  iso_client_node va = view_of(c, a->url), vb = view_of(c, b->url);
  CHECK_EQ((int)va.sent, na);
  CHECK_EQ((int)vb.sent, nb);
  CHECK_EQ(iso_client_nodes(c, NULL, 0), 2);
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
}

/* The less loaded node gets the job: with a node holding slow jobs, the
 * other takes (nearly) all the quick ones. */
static void t_least_loaded(void) {
  server* slow = server_start(SRV_SILENT, 0);
  server* fast = server_start(SRV_ECHO, 0);
  iso_client_opts o = {.heartbeat_ms = -1}; /* the silent one stays in */
  iso_client* c = open_nodes(slow, fast, &o);
  CHECK(wait_up(c, 2, 5000));
  iso_job j = job_eval();
  tally t;
  memset(&t, 0, sizeof t);
  pthread_mutex_init(&t.mu, NULL);
  ticket k[MAXJ];
  int n = 0;
  /* jobs until 3 wait on the silent node (the others are answered) */
  while (n < MAXJ && view_of(c, slow->url).in_flight < 3) {
    k[n] = (ticket){&t, n};
    CHECK_EQ(iso_client_submit(c, &j, 2000, tally_cb, &k[n]), 0);
    n++;
  }
  for (int w = 0; w < 2000 && view_of(c, fast->url).in_flight > 0; w++) {
    sleep_ms(1);
  }
  int before = atomic_load(&fast->requests);
  for (int i = 0; i < 50; i++) {
    outcome r = call(c, &j, 5000);
    CHECK_EQ(r.rc, 0);
  }
  int on_fast = atomic_load(&fast->requests) - before;
  fprintf(stderr,
          "    with 3 jobs waiting on one node: %d of 50 on the other\n",
          on_fast);
  CHECK_EQ(on_fast, 50);
  CHECK(tally_wait(&t, n, 10000));
  iso_client_free(c);
  server_stop(slow);
  server_stop(fast);
}

/* busy: sent on to the other node (the job never ran on the first); every
 * node busy: the busy reply, after one try on each. */
static void t_busy_elsewhere(void) {
  server* a = server_start(SRV_BUSY, 0);
  server* b = server_start(SRV_ECHO, 0);
  iso_client* c = open_nodes(a, b, NULL);
  CHECK(wait_up(c, 2, 5000));
  iso_job j = job_eval();
  for (int i = 0; i < 40; i++) {
    outcome o = call(c, &j, 5000);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(o.status, ISO_STATUS_FULFILLED);
  }
  int na = atomic_load(&a->requests);
  CHECK_EQ(atomic_load(&b->requests), 40);
  CHECK(na >= 1); /* chosen at least once in 40 (odds of none: 2^-40) */
  CHECK_EQ((int)view_of(c, a->url).retried, na);
  /* both busy */
  atomic_store(&b->mode, SRV_BUSY);
  int before = atomic_load(&a->requests) + atomic_load(&b->requests);
  outcome o = call(c, &j, 5000);
  CHECK_EQ(o.rc, 0);
  CHECK_EQ(o.status, ISO_STATUS_ERROR);
  CHECK_EQ(o.code, ISO_CODE_BUSY);
  CHECK_EQ(atomic_load(&a->requests) + atomic_load(&b->requests), before + 2);
  /* a batch refused whole goes on too */
  atomic_store(&b->mode, SRV_ECHO);
  iso_job js[3] = {job_eval(), job_eval(), job_eval()};
  iso_result rs[3];
  for (int i = 0; i < 10; i++) {
    CHECK_EQ(iso_client_batch(c, js, 3, 5000, rs), 0);
    for (int x = 0; x < 3; x++) {
      CHECK_EQ(rs[x].status, ISO_STATUS_FULFILLED);
      iso_result_close(&rs[x]);
    }
  }
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
}

/* The deadline holds across a retry: the second node is told what is
 * left of it, not the whole. */
static void t_deadline_across_retry(void) {
  server* a = server_start(SRV_BUSY, 300); /* busy, after 300 ms */
  server* b = server_start(SRV_TIMEOUTS, 0);
  iso_client* c = open_nodes(a, b, NULL);
  CHECK(wait_up(c, 2, 5000));
  iso_job j = job_eval();
  int seen_retry = 0;
  for (int i = 0; i < 30 && !seen_retry; i++) {
    int before = atomic_load(&a->requests);
    iso_result r;
    CHECK_EQ(iso_client_call(c, &j, 2000, &r), 0);
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    /* the value: the timeout_ms b saw (a uint64) */
    CHECK_EQ(r.value_len, 9u);
    uint64_t seen = 0;
    for (int x = 1; x < 9; x++) {
      seen = seen << 8 | r.value[x];
    }
    if (atomic_load(&a->requests) > before) {
      seen_retry = 1;
      fprintf(stderr, "    after 300 ms on a busy node: timeout_ms %llu\n",
              (unsigned long long)seen);
      CHECK(seen <= 1700 && seen >= 500);
    } else {
      CHECK(seen > 1700 && seen <= 2000);
    }
    iso_result_close(&r);
  }
  CHECK(seen_retry);
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
}

/* shutting_down: sent on, and the draining node is out (its pings say
 * shutting_down too) until it answers again. */
static void t_draining_out(void) {
  server* a = server_start(SRV_DRAINING, 0);
  server* b = server_start(SRV_ECHO, 0);
  iso_client_opts o = {.heartbeat_ms = 100};
  iso_client* c = open_nodes(a, b, &o);
  CHECK(wait_up(c, 1, 5000));
  for (int t = 0; t < 5000 && atomic_load(&a->pings) == 0; t += 5) {
    sleep_ms(5); /* its first ping said so */
  }
  sleep_ms(20);
  CHECK_EQ(view_of(c, a->url).up, 0);
  iso_job j = job_eval();
  for (int i = 0; i < 30; i++) {
    outcome r = call(c, &j, 5000);
    CHECK_EQ(r.rc, 0);
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  }
  CHECK_EQ(atomic_load(&a->requests), 0);
  CHECK_EQ(atomic_load(&b->requests), 30);
  /* it comes back */
  atomic_store(&a->mode, SRV_ECHO);
  CHECK(wait_up(c, 2, 5000));
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
}

/* A node that drops its connection with a job on it: that job is
 * answered ISO_ENODELOST, once, and ran (was received) once; the node
 * is used again once it is back. */
static void t_lost_once(void) {
  server* a = server_start(SRV_DROP, 0);
  server* b = server_start(SRV_ECHO, 0);
  iso_client* c = open_nodes(a, b, NULL);
  CHECK(wait_up(c, 2, 5000));
  iso_job j = job_eval();
  int lost = 0, ok = 0;
  for (int i = 0; i < 60; i++) {
    outcome o = call(c, &j, 5000);
    if (o.rc == ISO_ENODELOST) {
      lost++;
    } else {
      CHECK_EQ(o.rc, 0);
      ok++;
    }
  }
  fprintf(stderr, "    60 jobs, one node dropping its first: %d lost\n", lost);
  CHECK_EQ(lost, 1);
  CHECK_EQ(atomic_load(&a->requests) + atomic_load(&b->requests), 60);
  CHECK_EQ((int)view_of(c, a->url).lost, 1);
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
}

/* The same with idempotent jobs: the lost one is sent once more,
 * elsewhere, and answered; a job lost twice is ISO_ENODELOST (one
 * resend only). */
static void t_idempotent_resent(void) {
  server* a = server_start(SRV_DROP, 0);
  server* b = server_start(SRV_ECHO, 0);
  iso_client* c = open_nodes(a, b, NULL);
  CHECK(wait_up(c, 2, 5000));
  iso_job j = job_eval();
  j.idempotent = 1;
  for (int i = 0; i < 60; i++) {
    outcome o = call(c, &j, 5000);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(o.status, ISO_STATUS_FULFILLED);
  }
  /* the lost job was received twice: once by a, once by b */
  CHECK_EQ(atomic_load(&a->requests) + atomic_load(&b->requests), 61);
  iso_client_free(c);
  server_stop(a);
  server_stop(b);

  /* both drop: the job is lost after its one resend */
  a = server_start(SRV_DROP, 0);
  b = server_start(SRV_DROP, 0);
  c = open_nodes(a, b, NULL);
  CHECK(wait_up(c, 2, 5000));
  outcome o = call(c, &j, 5000);
  CHECK_EQ(o.rc, ISO_ENODELOST);
  CHECK_EQ(atomic_load(&a->requests), 1);
  CHECK_EQ(atomic_load(&b->requests), 1);
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
}

/* A node that hangs (its connection stays up, nothing is answered): after
 * two missed pings it is out and its jobs are answered ISO_ENODELOST, long
 * before their deadline; idempotent ones are answered by the other node.
 * New jobs avoid it meanwhile. */
static void t_hang_detected(void) {
  for (int idem = 0; idem < 2; idem++) {
    server* a = server_start(SRV_ECHO, 0);
    server* b = server_start(SRV_ECHO, 0);
    iso_client_opts o = {.heartbeat_ms = 200};
    iso_client* c = open_nodes(a, b, &o);
    CHECK(wait_up(c, 2, 5000));
    atomic_store(&a->mode, SRV_SILENT);
    iso_job j = job_eval();
    j.idempotent = idem;
    tally t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    ticket k[MAXJ];
    int64_t t0 = now_ms();
    for (int i = 0; i < 20; i++) {
      k[i] = (ticket){&t, i};
      CHECK_EQ(iso_client_submit(c, &j, 20000, tally_cb, &k[i]), 0);
    }
    CHECK(tally_wait(&t, 20, 10000 * iso_test_scale()));
    int64_t took = now_ms() - t0;
    int lost = 0;
    for (int i = 0; i < 20; i++) {
      CHECK_EQ(t.calls[i], 1);
      if (t.rc[i] == ISO_ENODELOST) {
        lost++;
      } else {
        CHECK_EQ(t.rc[i], 0);
        CHECK_EQ(t.status[i], ISO_STATUS_FULFILLED);
      }
    }
    int on_a = atomic_load(&a->requests);
    fprintf(stderr,
            "    %s: %d of 20 sent to the hung node, %d lost, all answered "
            "in %lld ms\n",
            idem ? "idempotent" : "not idempotent", on_a, lost,
            (long long)took);
    CHECK(on_a >= 1);
    CHECK_EQ(lost, idem ? 0 : on_a);
    CHECK(took < 5000); /* the deadline was 20 s */
    CHECK_EQ(view_of(c, a->url).up, 0);
    iso_client_free(c);
    server_stop(a);
    server_stop(b);
  }
}

/* A node that is not there: jobs waiting for its connection move to the
 * node that is up, and nothing waits for the deadline. */
static void t_unreachable_node(void) {
  server* b = server_start(SRV_ECHO, 0);
  char nowhere[128];
  make_url(nowhere, sizeof nowhere);
  const char* urls[2] = {nowhere, b->url};
  iso_client* c = NULL;
  CHECK_EQ(iso_client_new_nodes(urls, 2, NULL, &c), 0);
  iso_job j = job_eval();
  int64_t t0 = now_ms();
  for (int i = 0; i < 20; i++) {
    outcome o = call(c, &j, 10000);
    CHECK_EQ(o.rc, 0);
  }
  int64_t took = now_ms() - t0;
  fprintf(stderr, "    20 jobs with one node missing: %lld ms\n",
          (long long)took);
  CHECK(took < 3000 * iso_test_scale());
  CHECK_EQ(atomic_load(&b->requests), 20);
  iso_client_free(c);
  server_stop(b);
}

/* A host name is a node per address (here localhost: 127.0.0.1, perhaps
 * ::1 too), dialed by address. */
static void t_name_resolved(void) {
  int port = 20000 + (int)(getpid() % 20000);
  char url[64];
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
  server* s = server_start_at(url, SRV_ECHO, 0);
  char name[64];
  snprintf(name, sizeof name, "tcp://localhost:%d", port);
  iso_client* c = NULL;
  CHECK_EQ(iso_client_new(name, NULL, &c), 0);
  iso_client_node v[4];
  int n = iso_client_nodes(c, v, 4);
  CHECK(n >= 1 && n <= 2);
  int found = 0;
  for (int i = 0; i < n && i < 4; i++) {
    found |= strcmp(v[i].url, s->url) == 0;
  }
  CHECK(found);
  iso_job j = job_eval();
  for (int i = 0; i < 5; i++) {
    CHECK_EQ(call(c, &j, 5000).rc, 0);
  }
  CHECK_EQ(atomic_load(&s->requests), 5);
  iso_client_free(c);
  server_stop(s);
}

/* Writes text over the file at path in place (the same inode: a bind
 * mount of it sees the new text). */
static int rewrite(const char* path, const char* text) {
  FILE* f = fopen(path, "r+");
  if (f == NULL) {
    return -1;
  }
  int rc = fputs(text, f) < 0 || ftruncate(fileno(f), (off_t)strlen(text));
  return fclose(f) != 0 || rc != 0 ? -1 : 0;
}

/* A name's nodes follow its DNS answer (/etc/hosts here, bind-mounted
 * over in a mount namespace of the case's own): an address that comes is
 * a new node and takes jobs; one that leaves takes none and its node is
 * closed once idle. Two servers on 127.0.0.2 and 127.0.0.3, one port;
 * the name first names the one, then the other. */
static void t_name_follows_dns(void) {
  char hosts[] = "/tmp/isopool-test-hosts-XXXXXX";
  int fd = mkstemp(hosts);
  CHECK(fd >= 0);
  close(fd);
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      rewrite(hosts, "127.0.0.2 isopool-test-nodes\n") != 0 ||
      mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) {
    fprintf(stderr, "    skipped: no mount namespace here (%s)\n",
            strerror(errno));
    unlink(hosts);
    return;
  }
  int port = 20000 + (int)((getpid() + 7) % 20000);
  char ua[64], ub[64], name[64];
  snprintf(ua, sizeof ua, "tcp://127.0.0.2:%d", port);
  snprintf(ub, sizeof ub, "tcp://127.0.0.3:%d", port);
  snprintf(name, sizeof name, "tcp://isopool-test-nodes:%d", port);
  server* a = server_start_at(ua, SRV_ECHO, 0);
  server* b = server_start_at(ub, SRV_ECHO, 0);
  iso_client_opts o = {.resolve_ms = 100};
  iso_client* c = NULL;
  CHECK_EQ(iso_client_new(name, &o, &c), 0);
  CHECK_EQ(iso_client_nodes(c, NULL, 0), 1);
  CHECK_STR(view_of(c, ua).url, ua);
  iso_job j = job_eval();
  for (int i = 0; i < 10; i++) {
    CHECK_EQ(call(c, &j, 5000).rc, 0);
  }
  CHECK_EQ(atomic_load(&a->requests), 10);
  /* both */
  CHECK_EQ(rewrite(hosts,
                   "127.0.0.2 isopool-test-nodes\n"
                   "127.0.0.3 isopool-test-nodes\n"),
           0);
  CHECK(wait_up(c, 2, 5000));
  /* the other only: the first node is closed once idle */
  CHECK_EQ(rewrite(hosts, "127.0.0.3 isopool-test-nodes\n"), 0);
  for (int t = 0; t < 5000 && iso_client_nodes(c, NULL, 0) != 1; t += 10) {
    sleep_ms(10);
  }
  iso_client_node v[4];
  CHECK_EQ(iso_client_nodes(c, v, 4), 1);
  CHECK_STR(v[0].url, ub);
  int before = atomic_load(&a->requests);
  for (int i = 0; i < 10; i++) {
    CHECK_EQ(call(c, &j, 5000).rc, 0);
  }
  CHECK_EQ(atomic_load(&a->requests), before);
  CHECK(atomic_load(&b->requests) >= 10);
  iso_client_free(c);
  server_stop(a);
  server_stop(b);
  umount("/etc/hosts");
  unlink(hosts);
}

static void t_bad_args(void) {
  iso_client* c = (iso_client*)1;
  const char* urls[2] = {"ipc:///tmp/x", NULL};
  CHECK_EQ(iso_client_new_nodes(urls, 0, NULL, &c), ISO_EINVAL);
  CHECK(c == NULL);
  CHECK_EQ(iso_client_new_nodes(urls, 2, NULL, &c), ISO_EINVAL);
  CHECK_EQ(iso_client_new_nodes(NULL, 1, NULL, &c), ISO_EINVAL);
  CHECK_EQ(iso_client_new_nodes(urls, ISO_CLIENT_MAX_NODES + 1, NULL, &c),
           ISO_EINVAL);
  const char* bad[2] = {"ipc:///tmp/x", "nope://y"};
  CHECK_EQ(iso_client_new_nodes(bad, 2, NULL, &c), ISO_EINVAL);
  /* the same URL twice is one node */
  const char* twice[2] = {"ipc:///tmp/isopool-test-twice",
                          "ipc:///tmp/isopool-test-twice"};
  CHECK_EQ(iso_client_new_nodes(twice, 2, NULL, &c), 0);
  CHECK_EQ(iso_client_nodes(c, NULL, 0), 1);
  iso_client_free(c);
}

static const iso_test cases[] = {
    {"balance", t_balance},
    {"least_loaded", t_least_loaded},
    {"busy_elsewhere", t_busy_elsewhere},
    {"deadline_across_retry", t_deadline_across_retry},
    {"draining_out", t_draining_out},
    {"lost_once", t_lost_once},
    {"idempotent_resent", t_idempotent_resent},
    {"hang_detected", t_hang_detected},
    {"unreachable_node", t_unreachable_node},
    {"name_resolved", t_name_resolved},
    {"name_follows_dns", t_name_follows_dns},
    {"bad_args", t_bad_args},
    {NULL, NULL}};

static void case_teardown(void) {
  nng_fini();
}

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .case_teardown = case_teardown};
  return iso_test_run(argc, argv, &suite);
}
