/* test_fetch.c: fetch's transfers (ops/net.c, iso_net.h) against an HTTP
 * server the case starts on 127.0.0.1 (support/http_server.h, on NNG's
 * HTTP server), with a net thread of the case's own running iso_net_run
 * as the front's does: GET, JSON, POST with its body and headers echoed,
 * 404, redirects (followed, to a host not granted, manual, error, too
 * many), permissions, resource ids per owner, cancel, release by owner
 * and by job, a deadline against a slow response, the body limit, a
 * large body streamed through the pause and many transfers at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"
#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "iso_net.h"
#include "iso_ops.h"
#include "tap.h"

/* ---- the fixture: a server, a net and its thread ---- */

static http_server* g_srv;
static iso_net* g_net;
static pthread_t g_thread;
static atomic_int g_run;
static iso_perms* g_local; /* --allow-net=127.0.0.1:PORT */
static char g_base[64];    /* http://127.0.0.1:PORT */

static void* net_main(void* arg) {
  (void)arg;
  while (atomic_load(&g_run) && iso_net_run(g_net, 200)) {
  }
  return NULL;
}

static void start_net(size_t max_body) {
  char err[256] = "";
  iso_net_opts o = {.max_body_bytes = max_body};
  CHECK_EQ(iso_net_new(&o, &g_net, err, sizeof err), 0);
  CHECK_STR(err, "");
  atomic_store(&g_run, 1);
  pthread_create(&g_thread, NULL, net_main, NULL);
}

static void stop_net(void) {
  if (g_net == NULL) {
    return;
  }
  atomic_store(&g_run, 0);
  iso_net_wakeup(g_net);
  pthread_join(g_thread, NULL);
  iso_net_free(g_net);
  g_net = NULL;
}

static void case_setup(void) {
  g_srv = http_server_start();
  CHECK(g_srv != NULL);
  if (g_srv == NULL) {
    return;
  }
  snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d",
           http_server_port(g_srv));
  char grant[64], err[256] = "";
  snprintf(grant, sizeof grant, "127.0.0.1:%d", http_server_port(g_srv));
  iso_perm_flags f = {.net = grant};
  CHECK_EQ(iso_perms_parse_flags(&f, &g_local, err, sizeof err), 0);
  start_net(0);
}

static void case_teardown(void) {
  stop_net();
  iso_perms_unref(g_local);
  g_local = NULL;
  http_server_stop(g_srv);
  g_srv = NULL;
}

/* ---- commands, waited for ---- */

typedef struct answer {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  iso_op_err err;
  char name[64];
  char msg[512];
  iso_buf value;
} answer;

static void answer_init(answer* a) {
  memset(a, 0, sizeof *a);
  pthread_mutex_init(&a->mu, NULL);
  pthread_cond_init(&a->cv, NULL);
  iso_buf_init(&a->value);
}

static void answer_close(answer* a) {
  iso_buf_close(&a->value);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->cv);
}

static void answer_cb(void* data, const iso_net_done* d) {
  answer* a = data;
  pthread_mutex_lock(&a->mu);
  CHECK(!a->done); /* exactly one answer */
  a->err = d->err;
  snprintf(a->name, sizeof a->name, "%s",
           d->name != NULL            ? d->name
           : d->err != ISO_OPERR_NONE ? iso_op_err_class(d->err)
                                      : "");
  snprintf(a->msg, sizeof a->msg, "%s", d->msg != NULL ? d->msg : "");
  if (d->err == ISO_OPERR_NONE) {
    iso_buf_append(&a->value, d->value, d->len);
  }
  a->done = 1;
  pthread_cond_signal(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

static void wait_answer(answer* a) {
  pthread_mutex_lock(&a->mu);
  while (!a->done) {
    pthread_cond_wait(&a->cv, &a->mu);
  }
  pthread_mutex_unlock(&a->mu);
}

/* The value as JSON text (static; bins print as JSON does them). */
static const char* json_of(const answer* a) {
  static iso_buf out;
  iso_buf_reset(&out);
  if (iso_json_from_msgpack(a->value.data, a->value.len, &out) != 0) {
    return "(not msgpack)";
  }
  return (const char*)out.data;
}

static const uint64_t OWNER = 7;

static uint32_t start(const iso_perms* p, const iso_net_req* req) {
  answer a;
  answer_init(&a);
  iso_net_start(g_net, OWNER, p, req, answer_cb, &a);
  wait_answer(&a);
  uint32_t rid = 0;
  if (a.err == ISO_OPERR_NONE) {
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, a.value.data, a.value.len);
    CHECK_EQ(iso_mp_read(&r, &o), 0);
    CHECK_EQ(o.type, ISO_MP_UINT);
    rid = (uint32_t)o.v.u;
  } else {
    fprintf(stderr, "    start: %s: %s\n", a.name, a.msg);
  }
  answer_close(&a);
  return rid;
}

/* Sends rid and waits for its head into a (answer_init'ed). */
static void send_rid(uint32_t rid, answer* a) {
  iso_net_send(g_net, OWNER, rid, answer_cb, a);
  wait_answer(a);
}

/* Reads rid's whole body into body; returns 0 or the failed answer's
 * class in `fail` (64 bytes) and message in msg. */
static int read_all(uint32_t rid, iso_buf* body, char* fail, char* msg) {
  for (int i = 0;; i++) {
    answer a;
    answer_init(&a);
    iso_net_read(g_net, OWNER, rid, answer_cb, &a);
    wait_answer(&a);
    if (a.err != ISO_OPERR_NONE) {
      snprintf(fail, 64, "%s", a.name);
      snprintf(msg, 512, "%s", a.msg);
      answer_close(&a);
      return -1;
    }
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, a.value.data, a.value.len);
    CHECK_EQ(iso_mp_read(&r, &o), 0);
    int end = o.type == ISO_MP_NIL;
    if (!end) {
      CHECK_EQ(o.type, ISO_MP_BIN);
      CHECK(o.len > 0 && o.len <= ISO_NET_BUFFER_BYTES);
      iso_buf_append(body, o.data, o.len);
    }
    answer_close(&a);
    if (end) {
      return 0;
    }
  }
}

/* The body a head carries when the whole body had come by the time it
 * was answered (the transfer is then done): 1 and the bytes appended to
 * body, else 0. */
static int head_body(const answer* head, iso_buf* body) {
  iso_mp_rd r;
  iso_mp_obj o, k, v;
  iso_mp_rd_init(&r, head->value.data, head->value.len);
  CHECK_EQ(iso_mp_read(&r, &o), 0);
  CHECK_EQ(o.type, ISO_MP_MAP);
  for (uint32_t i = 0; i < o.len; i++) {
    CHECK_EQ(iso_mp_read(&r, &k), 0);
    if (k.type == ISO_MP_STR && k.len == 4 && memcmp(k.data, "body", 4) == 0) {
      CHECK_EQ(iso_mp_read(&r, &v), 0);
      CHECK_EQ(v.type, ISO_MP_BIN);
      iso_buf_append(body, v.data, v.len);
      return 1;
    }
    int deep = 0;
    CHECK_EQ(iso_mp_skip(&r, 1, 64, &deep), 0);
  }
  return 0;
}

/* rid's whole body: carried by its head, else read. */
static int take_body(uint32_t rid,
                     const answer* head,
                     iso_buf* body,
                     char* fail,
                     char* msg) {
  return head_body(head, body) ? 0 : read_all(rid, body, fail, msg);
}

static char* url(const char* path) {
  static char u[8][256];
  static int i;
  char* s = u[i++ % 8];
  snprintf(s, 256, "%s%s", g_base, path);
  return s;
}

/* One whole fetch: head JSON into head (static), body text into body. */
typedef struct outcome {
  char head[4096];
  char body[4096];
  char fail[64];
  char msg[512];
} outcome;

static void fetch(const iso_perms* p, const iso_net_req* req, outcome* o) {
  memset(o, 0, sizeof *o);
  uint32_t rid = start(p, req);
  if (rid == 0) {
    snprintf(o->fail, sizeof o->fail, "start");
    return;
  }
  answer a;
  answer_init(&a);
  send_rid(rid, &a);
  if (a.err != ISO_OPERR_NONE) {
    snprintf(o->fail, sizeof o->fail, "%s", a.name);
    snprintf(o->msg, sizeof o->msg, "%s", a.msg);
    answer_close(&a);
    return;
  }
  snprintf(o->head, sizeof o->head, "%s", json_of(&a));
  iso_buf body;
  iso_buf_init(&body);
  int rc = take_body(rid, &a, &body, o->fail, o->msg);
  answer_close(&a);
  if (rc == 0) {
    snprintf(o->body, sizeof o->body, "%.*s", (int)body.len,
             body.data ? (const char*)body.data : "");
  }
  iso_buf_close(&body);
}

/* ---- cases ---- */

static void t_fetch_get(void) {
  outcome o;
  iso_net_req req = {.url = url("/text")};
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "");
  CHECK_CONTAINS(o.head, "\"status\":200,\"statusText\":\"OK\"");
  CHECK_CONTAINS(o.head, "\"url\":\"http://127.0.0.1:");
  CHECK_CONTAINS(o.head, "\"redirected\":false");
  CHECK_STR(o.body, "hello");
  /* the transfer ended with its body: its rid is gone */
  CHECK_EQ(iso_net_count(g_net), 0);
  req.url = url("/json");
  fetch(g_local, &req, &o);
  CHECK_STR(o.body, "{\"a\":1,\"b\":[true,null]}");
  CHECK_CONTAINS(o.head, "[\"content-type\",");
  req.url = url("/headers");
  fetch(g_local, &req, &o);
  CHECK_CONTAINS(o.head, "[\"x-one\",");
  CHECK_CONTAINS(o.head, "[\"x-two\",");
}

static void t_fetch_post_echo(void) {
  static const char body[] = "{\"q\":\"caf\xc3\xa9\"}";
  iso_str hdrs[] = {iso_str_of("X-Test"), iso_str_of("yes \"quoted\""),
                    iso_str_of("content-type"), iso_str_of("application/json")};
  iso_net_req req = {.method = "post",
                     .url = url("/echo"),
                     .headers = hdrs,
                     .nheaders = 2,
                     .body = (const uint8_t*)body,
                     .body_len = strlen(body)};
  outcome o;
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "");
  CHECK_STR(
      o.body,
      "{\"method\":\"POST\",\"body\":\"{\\\"q\\\":\\\"caf\\u00c3\\u00a9\\\"}"
      "\",\"x_test\":\"yes \\\"quoted\\\"\",\"type\":\"application/"
      "json\",\"auth\":\"\"}");
  /* PUT with a body, DELETE without */
  req.method = "PUT";
  fetch(g_local, &req, &o);
  CHECK_CONTAINS(o.body, "\"method\":\"PUT\",\"body\":\"{");
  req = (iso_net_req){.method = "DELETE", .url = url("/echo")};
  fetch(g_local, &req, &o);
  CHECK_CONTAINS(o.body, "\"method\":\"DELETE\",\"body\":\"\"");
}

static void t_fetch_status(void) {
  iso_net_req req = {.url = url("/status/404")};
  outcome o;
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, ""); /* a 404 is a response, not an error */
  CHECK_CONTAINS(o.head, "\"status\":404,\"statusText\":\"Not Found\"");
  CHECK_STR(o.body, "status 404");
  req.url = url("/status/503");
  fetch(g_local, &req, &o);
  CHECK_CONTAINS(o.head, "\"status\":503");
  req.url = url("/nowhere");
  fetch(g_local, &req, &o);
  CHECK_CONTAINS(o.head, "\"status\":404");
}

static void t_fetch_redirects(void) {
  outcome o;
  iso_net_req req = {.url = url("/redirect/3")};
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "");
  CHECK_CONTAINS(o.head, "\"status\":200");
  CHECK_CONTAINS(o.head, "/text\",\"redirected\":true");
  CHECK_STR(o.body, "hello");
  /* 303 turns a POST into a GET without its body */
  req = (iso_net_req){.method = "POST",
                      .url = url("/see-other"),
                      .body = (const uint8_t*)"x",
                      .body_len = 1};
  fetch(g_local, &req, &o);
  CHECK_CONTAINS(o.body, "\"method\":\"GET\",\"body\":\"\"");
  /* a redirect to a host the permission does not name: refused */
  req = (iso_net_req){.url = url("/away")};
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "PermissionDenied");
  char want[128];
  snprintf(want, sizeof want, "net access to \"localhost:%d\" was not granted",
           http_server_port(g_srv));
  CHECK_CONTAINS(o.msg, want);
  /* manual: the redirect itself; error: a TypeError */
  req = (iso_net_req){.url = url("/redirect/1"), .redirect = ISO_NET_MANUAL};
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "");
  CHECK_CONTAINS(o.head, "\"status\":302");
  CHECK_CONTAINS(o.head, "[\"location\",");
  CHECK_STR(o.body, "moved");
  req.redirect = ISO_NET_ERROR;
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "TypeError");
  CHECK_CONTAINS(o.msg, "redirect mode is \"error\"");
  req = (iso_net_req){.url = url("/loop")};
  long before = http_server_hits(g_srv);
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "TypeError");
  CHECK_STR(o.msg, "fetch failed: more than 20 redirects");
  CHECK_EQ(http_server_hits(g_srv) - before, 21);
  CHECK_EQ(iso_net_count(g_net), 0);
}

static void t_fetch_permissions(void) {
  outcome o;
  iso_net_req req = {.url = url("/text")};
  long before = http_server_hits(g_srv);
  fetch(iso_perms_none(), &req, &o);
  CHECK_STR(o.fail, "PermissionDenied");
  char want[160];
  snprintf(want, sizeof want,
           "net access to \"127.0.0.1:%d\" was not granted (it needs "
           "--allow-net=127.0.0.1:%d",
           http_server_port(g_srv), http_server_port(g_srv));
  CHECK_CONTAINS(o.msg, want);
  CHECK_EQ(http_server_hits(g_srv), before); /* never connected */
  /* another port of the same host, and a grant of the host alone */
  iso_perms* other = NULL;
  char err[256];
  iso_perm_flags f = {.net = "127.0.0.1:1"};
  CHECK_EQ(iso_perms_parse_flags(&f, &other, err, sizeof err), 0);
  fetch(other, &req, &o);
  CHECK_STR(o.fail, "PermissionDenied");
  iso_perms_unref(other);
  f.net = "127.0.0.1";
  CHECK_EQ(iso_perms_parse_flags(&f, &other, err, sizeof err), 0);
  fetch(other, &req, &o);
  CHECK_STR(o.fail, "");
  CHECK_STR(o.body, "hello");
  iso_perms_unref(other);
  /* requests that are wrong in themselves: TypeError at start */
  static const struct {
    iso_net_req req;
    const char* msg;
  } bad[] = {
      {{.url = "ftp://127.0.0.1/x"}, "scheme \"ftp\" is not supported"},
      {{.url = "not a url"}, "is not a valid URL"},
      {{.method = "GE T", .url = "http://127.0.0.1/"},
       "not a valid HTTP method"},
      {{.method = "CONNECT", .url = "http://127.0.0.1/"}, "is forbidden"},
      {{.url = "http://127.0.0.1/", .body = (const uint8_t*)"x", .body_len = 1},
       "a request with a GET method cannot have a body"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    answer a;
    answer_init(&a);
    iso_net_start(g_net, OWNER, g_local, &bad[i].req, answer_cb, &a);
    wait_answer(&a);
    CHECK_EQ(a.err, ISO_OPERR_TYPE);
    CHECK_CONTAINS(a.msg, bad[i].msg);
    answer_close(&a);
  }
  iso_str crlf[] = {iso_str_of("X-A"), iso_str_of("a\r\nX-Injected: 1")};
  iso_net_req inj = {.url = url("/echo"), .headers = crlf, .nheaders = 1};
  answer a;
  answer_init(&a);
  iso_net_start(g_net, OWNER, g_local, &inj, answer_cb, &a);
  wait_answer(&a);
  CHECK_EQ(a.err, ISO_OPERR_TYPE);
  CHECK_CONTAINS(a.msg, "has a CR, LF or NUL in its value");
  answer_close(&a);
}

/* A rid is its owner's: another owner naming it gets BadResource, and
 * the transfer is untouched. */
static void t_fetch_rids_owned(void) {
  iso_net_req req = {.url = url("/text")};
  uint32_t rid = start(g_local, &req);
  CHECK(rid != 0);
  answer a;
  answer_init(&a);
  iso_net_send(g_net, OWNER + 1, rid, answer_cb, &a);
  wait_answer(&a);
  CHECK_STR(a.name, "BadResource");
  CHECK_CONTAINS(a.msg, "names no transfer of this worker");
  answer_close(&a);
  answer_init(&a);
  iso_net_cancel(g_net, OWNER + 1, rid, answer_cb, &a);
  wait_answer(&a);
  CHECK_EQ(a.err, ISO_OPERR_NONE); /* nothing of its own to cancel */
  answer_close(&a);
  answer_init(&a);
  iso_net_read(g_net, OWNER, rid, answer_cb, &a); /* before its send */
  wait_answer(&a);
  CHECK_STR(a.name, "BadResource");
  answer_close(&a);
  answer head;
  answer_init(&head);
  send_rid(rid, &head);
  CHECK_EQ(head.err, ISO_OPERR_NONE);
  answer_init(&a);
  send_rid(rid, &a); /* twice */
  CHECK_STR(a.name, "BadResource");
  answer_close(&a);
  iso_buf body;
  iso_buf_init(&body);
  char fail[64] = "", msg[512] = "";
  CHECK_EQ(take_body(rid, &head, &body, fail, msg), 0);
  CHECK_EQ(body.len, 5);
  iso_buf_close(&body);
  answer_close(&head);
  answer_init(&a);
  iso_net_read(g_net, OWNER, 999999, answer_cb, &a);
  wait_answer(&a);
  CHECK_STR(a.name, "BadResource");
  answer_close(&a);
}

/* Cancel while the head is awaited (AbortSignal before the response),
 * and while the body is paused; release ends a job's or an owner's. */
static void t_fetch_abort(void) {
  iso_net_req req = {.url = url("/slow/3000")};
  uint32_t rid = start(g_local, &req);
  answer s;
  answer_init(&s);
  iso_net_send(g_net, OWNER, rid, answer_cb, &s);
  sleep_ms(100);
  answer c;
  answer_init(&c);
  int64_t t0 = now_ms();
  iso_net_cancel(g_net, OWNER, rid, answer_cb, &c);
  wait_answer(&c);
  wait_answer(&s);
  CHECK(now_ms() - t0 < 1000);
  CHECK_STR(s.name, "AbortError");
  CHECK_EQ(c.err, ISO_OPERR_NONE);
  CHECK_EQ(iso_net_count(g_net), 0);
  answer_close(&s);
  answer_close(&c);
  /* a large body, paused after its first buffer, cancelled */
  req = (iso_net_req){.url = url("/big/4000000")};
  rid = start(g_local, &req);
  answer_init(&s);
  send_rid(rid, &s);
  CHECK_EQ(s.err, ISO_OPERR_NONE);
  answer_close(&s);
  answer_init(&c);
  iso_net_cancel(g_net, OWNER, rid, answer_cb, &c);
  wait_answer(&c);
  answer_close(&c);
  answer_init(&s);
  iso_net_read(g_net, OWNER, rid, answer_cb, &s);
  wait_answer(&s);
  CHECK_STR(s.name, "BadResource"); /* gone */
  answer_close(&s);
  /* release: one job (realm 1, tag 1), one realm (realm 1's other job),
   * then the whole owner (realm 2) */
  iso_net_req r1 = {.url = url("/slow/3000"), .job = (1ull << 32) | 1};
  iso_net_req r2 = {.url = url("/slow/3000"), .job = (1ull << 32) | 2};
  iso_net_req r3 = {.url = url("/slow/3000"), .job = (2ull << 32) | 1};
  uint32_t a1 = start(g_local, &r1), a2 = start(g_local, &r2),
           a3 = start(g_local, &r3);
  answer s1, s2, s3;
  answer_init(&s1);
  answer_init(&s2);
  answer_init(&s3);
  iso_net_send(g_net, OWNER, a1, answer_cb, &s1);
  iso_net_send(g_net, OWNER, a2, answer_cb, &s2);
  iso_net_send(g_net, OWNER, a3, answer_cb, &s3);
  sleep_ms(100);
  t0 = now_ms();
  iso_net_release(g_net, OWNER, (1ull << 32) | 1);
  wait_answer(&s1);
  CHECK_STR(s1.name, "AbortError");
  CHECK_CONTAINS(s1.msg, "its job ended");
  CHECK_EQ(iso_net_count(g_net), 2);
  iso_net_release(g_net, OWNER, 1ull << 32);
  wait_answer(&s2);
  CHECK_STR(s2.name, "AbortError");
  CHECK_EQ(iso_net_count(g_net), 1);
  iso_net_release(g_net, OWNER, 0);
  wait_answer(&s3);
  CHECK_STR(s3.name, "AbortError");
  CHECK(now_ms() - t0 < 1000);
  CHECK_EQ(iso_net_count(g_net), 0);
  answer_close(&s1);
  answer_close(&s2);
  answer_close(&s3);
}

/* A deadline stops a slow response: TimedOut, in time. */
static void t_fetch_deadline(void) {
  int64_t t0 = now_ms();
  iso_net_req req = {.url = url("/slow/3000"),
                     .deadline_ms = (uint64_t)t0 + 300};
  outcome o;
  fetch(g_local, &req, &o);
  int64_t took = now_ms() - t0;
  CHECK_STR(o.fail, "TimedOut");
  CHECK_CONTAINS(o.msg, "deadline");
  CHECK(took >= 250 && took < 1500);
  req.deadline_ms = (uint64_t)now_ms() - 1; /* passed already */
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "TimedOut");
}

/* The body limit; a body larger than the buffer streams through pauses. */
static void t_fetch_body_limit(void) {
  stop_net();
  start_net((size_t)1 << 20); /* 1 MiB */
  iso_net_req req = {.url = url("/big/3000000")};
  outcome o;
  fetch(g_local, &req, &o);
  CHECK_STR(o.fail, "Error");
  CHECK_CONTAINS(o.msg, "is larger than 1 MiB (--fetch-max-mb)");
  CHECK_EQ(iso_net_count(g_net), 0);
  /* just under it, streamed in buffers of at most 256 KiB */
  req.url = url("/big/1048576");
  uint32_t rid = start(g_local, &req);
  answer a;
  answer_init(&a);
  send_rid(rid, &a);
  CHECK_EQ(a.err, ISO_OPERR_NONE);
  answer_close(&a);
  iso_buf body;
  iso_buf_init(&body);
  char fail[64] = "", msg[512] = "";
  CHECK_EQ(read_all(rid, &body, fail, msg), 0);
  CHECK_EQ(body.len, (size_t)1 << 20);
  CHECK(body.len > 0 && body.data[0] == 'x' && body.data[body.len - 1] == 'x');
  iso_buf_close(&body);
}

/* Many transfers at once, each answered once and right. */
static void t_fetch_many(void) {
  enum { N = 200 };
  static answer heads[N];
  static uint32_t rids[N];
  iso_net_req req = {.url = url("/json")};
  for (int i = 0; i < N; i++) {
    rids[i] = start(g_local, &req);
    answer_init(&heads[i]);
    iso_net_send(g_net, OWNER, rids[i], answer_cb, &heads[i]);
  }
  int ok = 0;
  for (int i = 0; i < N; i++) {
    wait_answer(&heads[i]);
    if (heads[i].err != ISO_OPERR_NONE) {
      fprintf(stderr, "    %d: %s: %s\n", i, heads[i].name, heads[i].msg);
      answer_close(&heads[i]);
      continue;
    }
    iso_buf body;
    iso_buf_init(&body);
    char fail[64] = "", msg[512] = "";
    if (take_body(rids[i], &heads[i], &body, fail, msg) == 0 &&
        body.len == 23) {
      ok++;
    }
    answer_close(&heads[i]);
    iso_buf_close(&body);
  }
  CHECK_EQ(ok, N);
  CHECK_EQ(iso_net_count(g_net), 0);
}

/* A worker's open transfers are bounded; another worker's are not its. */
static void t_fetch_bounded(void) {
  iso_net_req req = {.url = url("/text")};
  for (int i = 0; i < ISO_NET_MAX_PER_OWNER; i++) {
    answer a;
    answer_init(&a);
    iso_net_start(g_net, OWNER, g_local, &req, answer_cb, &a);
    wait_answer(&a);
    CHECK_EQ(a.err, ISO_OPERR_NONE);
    answer_close(&a);
  }
  answer a;
  answer_init(&a);
  iso_net_start(g_net, OWNER, g_local, &req, answer_cb, &a);
  wait_answer(&a);
  CHECK_EQ(a.err, ISO_OPERR_OTHER);
  CHECK_CONTAINS(a.msg, "this worker has 1024 transfers open already");
  answer_close(&a);
  answer_init(&a);
  iso_net_start(g_net, OWNER + 1, g_local, &req, answer_cb, &a);
  wait_answer(&a);
  CHECK_EQ(a.err, ISO_OPERR_NONE);
  answer_close(&a);
  CHECK_EQ(iso_net_count(g_net), ISO_NET_MAX_PER_OWNER + 1);
  iso_net_release(g_net, OWNER, 0); /* the worker goes: all of its */
  for (int i = 0; i < 100 && iso_net_count(g_net) != 1; i++) {
    sleep_ms(10);
  }
  CHECK_EQ(iso_net_count(g_net), 1);
}

/* A request sent at start (op_fetch_start's way): the head is held for
 * the send, even after the transfer ended and its handle is gone, and
 * carries the whole body when it had come; a slow one's send waits for
 * its head and reads its body as usual. */
static void t_fetch_send_at_start(void) {
  iso_net_req req = {.url = url("/headers"), .send = 1};
  uint32_t rid = start(g_local, &req);
  CHECK(rid != 0);
  sleep_ms(200); /* done before the send comes */
  answer head;
  answer_init(&head);
  send_rid(rid, &head);
  CHECK_EQ(head.err, ISO_OPERR_NONE);
  CHECK_CONTAINS(json_of(&head), "\"status\":200");
  CHECK_CONTAINS(json_of(&head), "[\"x-two\",");
  iso_buf body;
  iso_buf_init(&body);
  CHECK(head_body(&head, &body));
  CHECK_EQ(body.len, 1);
  CHECK_EQ(iso_net_count(g_net), 0); /* done: its rid names nothing */
  answer_close(&head);
  iso_buf_reset(&body);
  long hits = http_server_hits(g_srv);
  req.url = url("/slow/300");
  int64_t t0 = now_ms();
  rid = start(g_local, &req);
  CHECK(now_ms() - t0 < 250); /* the rid does not wait for the response */
  answer_init(&head);
  send_rid(rid, &head);
  CHECK_EQ(head.err, ISO_OPERR_NONE);
  CHECK(now_ms() - t0 >= 290);
  char fail[64] = "", msg[512] = "";
  CHECK_EQ(take_body(rid, &head, &body, fail, msg), 0);
  CHECK_EQ(body.len, 4);
  CHECK_EQ(http_server_hits(g_srv), hits + 1); /* sent once */
  answer_close(&head);
  iso_buf_close(&body);
}

/* Commands after stop are answered at once; stop answers what waits. */
static void t_fetch_stop(void) {
  iso_net_req req = {.url = url("/slow/3000")};
  uint32_t rid = start(g_local, &req);
  answer s;
  answer_init(&s);
  iso_net_send(g_net, OWNER, rid, answer_cb, &s);
  sleep_ms(100);
  stop_net(); /* iso_net_free stops: the send is answered */
  wait_answer(&s);
  CHECK_CONTAINS(s.msg, "the service is stopping");
  answer_close(&s);
}

static const iso_test cases[] = {{"fetch_get", t_fetch_get},
                                 {"fetch_post_echo", t_fetch_post_echo},
                                 {"fetch_status", t_fetch_status},
                                 {"fetch_redirects", t_fetch_redirects},
                                 {"fetch_permissions", t_fetch_permissions},
                                 {"fetch_rids_owned", t_fetch_rids_owned},
                                 {"fetch_abort", t_fetch_abort},
                                 {"fetch_deadline", t_fetch_deadline},
                                 {"fetch_body_limit", t_fetch_body_limit},
                                 {"fetch_many", t_fetch_many},
                                 {"fetch_bounded", t_fetch_bounded},
                                 {"fetch_stop", t_fetch_stop},
                                 {"fetch_send_at_start", t_fetch_send_at_start},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {
      .cases = cases, .case_setup = case_setup, .case_teardown = case_teardown};
  return iso_test_run(argc, argv, &suite);
}
