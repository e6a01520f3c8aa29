/* test_pool_link.c: the front against a worker that sends what no worker
 * sends (pool/dispatch.c, pool/ops.c; docs/link.md, "The trust rule").
 *
 * The suite plays the worker side itself: it points the front's
 * pool__runners (pool_private.h) at a fake runner that opens its ends of
 * the real front's two links (the sockets the front gives it), says READY and
 * answers TASK records as its case's scenario says, then, once the front stops
 * it, gives back what it holds and says STATE stopped, as a worker does. The
 * first fake of a pool misbehaves; the ones the front starts in its place (a
 * lost worker is replaced) answer every job with its arguments. Jobs go to the
 * real front through the client library, over ipc://.
 *
 * Each misbehaviour (bytes that are not a record, a record of the
 * front's kinds, a DONE for a job never sent, a reply over --max-message)
 * must make the worker lost: its job answered worker_lost saying "invalid
 * reply from worker 0: ..." with the reason, and the next job served by
 * its replacement. Ops with an index outside the table or a permission
 * set never granted fail, each on its own (TypeError, PermissionDenied),
 * and the worker goes on.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_client.h"
#include "iso_err.h"
#include "iso_link.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "iso_pool.h"
#include "iso_proto.h"
#include "pool_private.h"
#include "tap.h"

typedef enum scenario {
  GOOD = 0,
  GARBAGE,    /* bytes that are no record (after the link's header) */
  WRONG_LINK, /* a TASK record, the front's, on its jobs link */
  NEVER_SENT, /* a DONE whose token names no job sent to it */
  TOO_BIG,    /* a reply over --max-message */
  BAD_OPS,    /* an op index outside the table, a perm_id never granted */
} scenario;

static scenario g_first; /* the first fake's; the others are GOOD */
static atomic_int g_fakes;

#define MAX_MESSAGE ((size_t)64 << 10)
#define HELD 64

/* A fake worker thread (the front sees a pool_runner*). */
typedef struct fake {
  int id;
  scenario sc;
  iso_link* jobs;
  iso_link* ops;
  pthread_t thread;
  atomic_int done;
  int stopping;
  uint32_t held_slot[HELD], held_gen[HELD];
  int nheld;
  /* BAD_OPS: the job waiting for its ops, and what they said */
  uint32_t op_slot, op_gen;
  iso_buf op_id;
  int nresults;
  char results[2][200];
} fake;

static void send_rec(iso_link* l, const iso_link_rec* r) {
  CHECK_EQ(iso_link_send_rec(l, r), 0);
}

static void done_none(fake* f, uint32_t slot, uint32_t gen) {
  iso_link_rec r = {.kind = ISO_LINK_DONE,
                    .u.done = {.slot = slot, .gen = gen, .finished_ns = 1}};
  send_rec(f->jobs, &r);
}

/* A fulfilled DONE whose value is `value` (raw msgpack). */
static void done_value(fake* f,
                       uint32_t slot,
                       uint32_t gen,
                       iso_bytes id,
                       iso_bytes value) {
  iso_buf reply;
  iso_buf_init(&reply);
  iso_proto_reply p = {
      .id = id, .status = ISO_STATUS_FULFILLED, .value = value};
  CHECK_EQ(iso_proto_encode_reply_open(&p, &reply), 0);
  iso_link_rec r = {.kind = ISO_LINK_DONE,
                    .u.done = {.slot = slot,
                               .gen = gen,
                               .status = ISO_STATUS_FULFILLED,
                               .started_ns = 1,
                               .finished_ns = 2,
                               .reply = {reply.data, reply.len}}};
  send_rec(f->jobs, &r);
  iso_buf_close(&reply);
}

static void hold(fake* f, uint32_t slot, uint32_t gen) {
  if (f->nheld < HELD) {
    f->held_slot[f->nheld] = slot;
    f->held_gen[f->nheld++] = gen;
  }
}

static uint32_t op_index(const char* name) {
  const iso_op_table* t = iso_ops_builtin();
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->defs[i].name, name) == 0) {
      return (uint32_t)i;
    }
  }
  return 0;
}

/* A TASK, as the fake's scenario says. */
static void take_task(fake* f, const iso_link_task* t) {
  if (f->stopping) {
    done_none(f, t->slot, t->gen);
    return;
  }
  scenario sc = f->sc;
  f->sc = GOOD; /* one misbehaviour per fake */
  switch (sc) {
    case GOOD:
      done_value(f, t->slot, t->gen, t->id, t->args);
      return;
    case GARBAGE:
      CHECK_EQ(iso_link_send(f->jobs, "garbage!", 8), 0);
      break;
    case WRONG_LINK: {
      iso_link_rec r = {.kind = ISO_LINK_TASK, .u.task = *t};
      r.u.task.perms = (iso_bytes){NULL, 0};
      send_rec(f->jobs, &r);
      break;
    }
    case NEVER_SENT:
      done_none(f, t->slot, t->gen + 1);
      break;
    case TOO_BIG: {
      /* a value of max_message bytes: the reply map is over it */
      iso_buf v;
      iso_buf_init(&v);
      iso_mp_wr w;
      iso_mp_wr_init(&w, &v);
      char* big = calloc(1, MAX_MESSAGE);
      iso_mp_put_bin(&w, big, MAX_MESSAGE);
      free(big);
      done_value(f, t->slot, t->gen, t->id, (iso_bytes){v.data, v.len});
      iso_buf_close(&v);
      return; /* it gave the job back: the front answers it */
    }
    case BAD_OPS: {
      f->op_slot = t->slot;
      f->op_gen = t->gen;
      iso_buf_reset(&f->op_id);
      iso_buf_append(&f->op_id, t->id.data, t->id.len);
      uint8_t buf[256];
      iso_buf out;
      iso_buf_init_with(&out, buf, sizeof buf);
      iso_link_rec a = {.kind = ISO_LINK_OP,
                        .u.op = {.op = 99999,
                                 .promise = 1,
                                 .realm = 1,
                                 .perm_id = t->perm_id,
                                 .args = {(const uint8_t*)"\x90", 1}}};
      iso_link_rec b = {.kind = ISO_LINK_OP,
                        .u.op = {.op = op_index("op_fs_read_file"),
                                 .promise = 2,
                                 .realm = 1,
                                 .perm_id = 0x7777u, /* never granted */
                                 .args = {(const uint8_t*)"\x91\xa5x.txt", 7}}};
      CHECK_EQ(iso_link_put(&out, &a), 0);
      CHECK_EQ(iso_link_put(&out, &b), 0);
      CHECK_EQ(iso_link_send(f->ops, out.data, out.len), 0); /* one message */
      iso_buf_close(&out);
      return; /* answered once the ops are back */
    }
  }
  hold(f, t->slot, t->gen);
}

static void jobs_cb(const uint8_t* data, size_t len, void* arg) {
  fake* f = arg;
  iso_link_rd rd;
  iso_link_rec r;
  char err[256];
  CHECK_EQ(
      iso_link_rd_init(&rd, ISO_LINK_FRONT_JOBS, data, len, err, sizeof err),
      0);
  int rc;
  while ((rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    if (r.kind == ISO_LINK_TASK) {
      take_task(f, &r.u.task);
    } else if (r.kind == ISO_LINK_STOP) {
      CHECK_EQ(r.u.stop.grace_ms, 0);
      f->stopping = 1;
    }
  }
  CHECK_EQ(rc, 0);
}

static void ops_cb(const uint8_t* data, size_t len, void* arg) {
  fake* f = arg;
  iso_link_rd rd;
  iso_link_rec r;
  char err[256];
  CHECK_EQ(
      iso_link_rd_init(&rd, ISO_LINK_FRONT_OPS, data, len, err, sizeof err), 0);
  int rc;
  while ((rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    const iso_link_op_result* o = &r.u.op_result;
    if (f->nresults < 2) {
      const char* cls = iso_op_err_class((iso_op_err)o->err);
      snprintf(f->results[f->nresults++], sizeof f->results[0], "%u %s: %.*s",
               o->promise, cls ? cls : "none", (int)o->result.len,
               (const char*)o->result.data);
    }
  }
  CHECK_EQ(rc, 0);
  if (f->nresults == 2) { /* both back: the job's value says what they got */
    f->nresults++;
    iso_buf v;
    iso_buf_init(&v);
    iso_mp_wr w;
    iso_mp_wr_init(&w, &v);
    iso_mp_put_array(&w, 2);
    iso_mp_put_cstr(&w, f->results[0]);
    iso_mp_put_cstr(&w, f->results[1]);
    done_value(f, f->op_slot, f->op_gen,
               (iso_bytes){f->op_id.data, f->op_id.len},
               (iso_bytes){v.data, v.len});
    iso_buf_close(&v);
  }
}

static void* fake_main(void* arg) {
  fake* f = arg;
  iso_link_rec ready = {.kind = ISO_LINK_READY};
  send_rec(f->jobs, &ready);
  struct pollfd p[2] = {{.fd = iso_link_fd(f->jobs), .events = POLLIN},
                        {.fd = iso_link_fd(f->ops), .events = POLLIN}};
  while (!f->stopping) {
    poll(p, 2, 20);
    iso_link_drain(f->jobs, jobs_cb, f);
    iso_link_drain(f->ops, ops_cb, f);
  }
  /* STOP: every job it holds goes back, then its last record */
  for (int i = 0; i < f->nheld; i++) {
    done_none(f, f->held_slot[i], f->held_gen[i]);
  }
  iso_link_rec st = {.kind = ISO_LINK_STATE,
                     .u.state = {.state = ISO_LINK_W_STOPPED}};
  send_rec(f->jobs, &st);
  return NULL;
}

static int fake_start(pool_group* g,
                      const pool_runner_opts* o,
                      pool_runner** out,
                      char* err,
                      size_t errlen) {
  fake* f = calloc(1, sizeof *f);
  f->id = o->id;
  f->sc = atomic_fetch_add(&g_fakes, 1) == 0 ? g_first : GOOD;
  iso_buf_init(&f->op_id);
  size_t head_len;
  const uint8_t* head = iso_link_head(&head_len);
  iso_link_opts lo = {.fd = o->jobs_fd,
                      .max_recv = POOL_LINK_MAX(o->max_message),
                      .max_send = POOL_LINK_MAX(o->max_message),
                      .head = head,
                      .head_len = head_len};
  int rc = iso_link_new(&lo, &f->jobs, err, errlen);
  lo.fd = o->ops_fd;
  lo.max_recv = lo.max_send = POOL_OPS_LINK_MAX;
  if (rc == 0) {
    rc = iso_link_new(&lo, &f->ops, err, errlen);
  } else {
    close(o->ops_fd); /* the start takes both */
  }
  if (rc == 0) {
    rc = pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : ISO_ENOMEM;
  }
  if (rc != 0) {
    iso_link_free(f->jobs);
    iso_link_free(f->ops);
    free(f);
    return rc;
  }
  *out = (pool_runner*)f;
  return 0;
}

static int fake_join(pool_runner* r, uint64_t until_ns) {
  fake* f = (fake*)r;
  if (!f->done) {
    pthread_join(f->thread, NULL);
    f->done = 1;
  }
  return 0;
}

static void fake_free(pool_runner* r) {
  fake* f = (fake*)r;
  if (f == NULL) {
    return;
  }
  iso_link_free(f->jobs);
  iso_link_free(f->ops);
  iso_buf_close(&f->op_id);
  free(f);
}

static const pool_runner_impl k_fakes = {
    .start = fake_start,
    .join = fake_join,
    .free = fake_free,
};

/* ---- the front ---- */

typedef struct front {
  iso_pool* pool;
  iso_client* c;
  char url[128];
} front;

static int front_start(front* s, scenario first) {
  g_first = first;
  pool__runners = &k_fakes;
  snprintf(s->url, sizeof s->url, "ipc:///tmp/isopool-test-link-%d.ipc",
           (int)getpid());
  const char* listen[] = {s->url};
  iso_pool_opts o = {
      .workers = 1,
      .listen = listen,
      .nlisten = 1,
      .modules = ISO_FIXTURES "/service",
      .max_message = MAX_MESSAGE,
      .timeout_ms = 10000,
      .admin_url = "none",
      .quiet = 1,
      .log_level = "error",
  };
  char err[256];
  int rc = iso_pool_new(&o, &s->pool, err, sizeof err);
  CHECK_EQ(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "  %s\n", err);
    return rc;
  }
  iso_client_opts co = {.max_msg = 4 * MAX_MESSAGE};
  CHECK_EQ(iso_client_new(s->url, &co, &s->c), 0);
  return 0;
}

static void front_stop(front* s) {
  iso_client_free(s->c);
  if (s->pool != NULL) {
    iso_pool_shutdown(s->pool);
    iso_pool_free(s->pool);
  }
}

/* One eval job with args [n]; its result in *out. */
static int call(front* s, int n, iso_result* out) {
  char args[8] = {(char)0x91, (char)n};
  iso_job job = {.kind = ISO_JOB_EVAL,
                 .source = "export default 1;",
                 .args = (const uint8_t*)args,
                 .args_len = 2};
  int rc = iso_client_call(s->c, &job, 10000, out);
  CHECK_EQ(rc, 0);
  return rc;
}

/* The first job meets the misbehaviour: answered worker_lost naming it;
 * the next one is served by the worker that took its place. */
static void expect_lost(scenario sc, const char* why) {
  front s = {0};
  if (front_start(&s, sc) != 0) {
    front_stop(&s);
    return;
  }
  iso_result r;
  if (call(&s, 1, &r) == 0) {
    CHECK_EQ(r.status, ISO_STATUS_ERROR);
    CHECK_EQ(r.code, ISO_CODE_WORKER_LOST);
    CHECK_CONTAINS(r.message, "invalid reply from worker 0: ");
    CHECK_CONTAINS(r.message, why);
    iso_result_close(&r);
  }
  if (call(&s, 2, &r) == 0) {
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_EQ(r.stats.worker, 1); /* its replacement */
    CHECK(r.value_len == 2 && r.value[0] == 0x91 && r.value[1] == 2);
    iso_result_close(&r);
  }
  front_stop(&s);
  CHECK_EQ(atomic_load(&g_fakes), 2);
}

static void t_garbage(void) {
  expect_lost(GARBAGE, "record 1: not an array that starts with its kind");
}

static void t_record_on_the_wrong_link(void) {
  expect_lost(WRONG_LINK, "a TASK record, which a worker's jobs link");
}

static void t_done_for_a_job_never_sent(void) {
  expect_lost(NEVER_SENT, "a DONE record names no job sent to it");
}

static void t_reply_over_the_limit(void) {
  expect_lost(TOO_BIG, "over the limit of 65536 (--max-message)");
}

/* A good worker is not lost: its jobs come back fulfilled. */
static void t_good_worker(void) {
  front s = {0};
  if (front_start(&s, GOOD) != 0) {
    front_stop(&s);
    return;
  }
  for (int i = 0; i < 5; i++) {
    iso_result r;
    if (call(&s, i, &r) == 0) {
      CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
      CHECK_EQ(r.stats.worker, 0);
      iso_result_close(&r);
    }
  }
  front_stop(&s);
  CHECK_EQ(atomic_load(&g_fakes), 1);
}

/* Ops the front cannot run fail one by one; the worker is not lost. */
static void t_bad_ops(void) {
  front s = {0};
  if (front_start(&s, BAD_OPS) != 0) {
    front_stop(&s);
    return;
  }
  iso_result r;
  if (call(&s, 1, &r) == 0) {
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    iso_mp_rd rd;
    iso_mp_obj a, x, y;
    iso_mp_rd_init(&rd, r.value, r.value_len);
    CHECK(iso_mp_read(&rd, &a) == 0 && a.type == ISO_MP_ARRAY && a.len == 2);
    CHECK(iso_mp_read(&rd, &x) == 0 && x.type == ISO_MP_STR);
    CHECK(iso_mp_read(&rd, &y) == 0 && y.type == ISO_MP_STR);
    char one[256], two[256];
    snprintf(one, sizeof one, "%.*s", (int)x.len, (const char*)x.data);
    snprintf(two, sizeof two, "%.*s", (int)y.len, (const char*)y.data);
    CHECK_CONTAINS(one, "1 TypeError: ");
    CHECK_CONTAINS(one, "out of range");
    CHECK_CONTAINS(two, "2 PermissionDenied: ");
    iso_result_close(&r);
  }
  if (call(&s, 2, &r) == 0) { /* the same worker goes on */
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_EQ(r.stats.worker, 0);
    iso_result_close(&r);
  }
  front_stop(&s);
  CHECK_EQ(atomic_load(&g_fakes), 1);
}

static const iso_test cases[] = {
    {"good_worker", t_good_worker},
    {"garbage", t_garbage},
    {"record_on_the_wrong_link", t_record_on_the_wrong_link},
    {"done_for_a_job_never_sent", t_done_for_a_job_never_sent},
    {"reply_over_the_limit", t_reply_over_the_limit},
    {"bad_ops", t_bad_ops},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return iso_test_main(argc, argv, cases);
}
