/* test_link.c: the link's transport (ipc/iso_link.c): batches of bytes
 * over PAIR1, inproc:// within the case and ipc:// to a second process.
 *
 * The second process is this program again (fork + exec of
 * /proc/self/exe with --child MODE URL ...), so it starts NNG afresh, as
 * a pool process does; it dials, reads with iso_link_fd/iso_link_drain as
 * a worker's loop does, and does one of: echo each message's records back,
 * take and drop everything, or flood. It exits once its peer is gone.
 * Records here are fixed-size blobs (the codec is test_link_msg.c's), so
 * a receiver splits a message by size; every message starts with HEAD.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_link.h"
#include "tap.h"

#define HEAD "HD"
#define HEAD_LEN 2

/* ---- a receiving end's record of what it got ----------------------------- */

typedef struct sink {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t msgs;
  size_t max_msg; /* the largest message, head included */
  int bad_head;   /* a message did not start with HEAD */
  iso_buf data;   /* every message's bytes after HEAD, in order */
  int up, gone;
  int64_t gone_ms;
  int sleep_ms;       /* in each message callback (close during one) */
  int first_sleep_ms; /* in the first one only (a busy receiver) */
} sink;

static void sink_init(sink* s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  iso_buf_init(&s->data);
}

static void sink_free(sink* s) {
  iso_buf_close(&s->data);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
}

static void sink_msg(const uint8_t* d, size_t n, void* arg) {
  sink* s = arg;
  if (s->sleep_ms > 0) {
    sleep_ms(s->sleep_ms);
  }
  if (s->first_sleep_ms > 0 && s->msgs == 0) {
    sleep_ms(s->first_sleep_ms);
  }
  pthread_mutex_lock(&s->mu);
  s->msgs++;
  if (n > s->max_msg) {
    s->max_msg = n;
  }
  if (n < HEAD_LEN || memcmp(d, HEAD, HEAD_LEN) != 0) {
    s->bad_head = 1;
  } else {
    iso_buf_append(&s->data, d + HEAD_LEN, n - HEAD_LEN);
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void sink_event(iso_link* l, iso_link_event ev, void* arg) {
  sink* s = arg;
  pthread_mutex_lock(&s->mu);
  if (ev == ISO_LINK_PEER_UP) {
    s->up++;
  } else {
    s->gone++;
    s->gone_ms = now_ms();
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits until *field (a size_t or int of s, read under s->mu) reaches at
 * least want, or ms pass. Returns 1 if it did. */
#define SINK_WAIT(s, field, want, ms) \
  sink_wait_(s, &(s)->field, want, ms, sizeof((s)->field))
static int sink_wait_(sink* s,
                      const void* field,
                      size_t want,
                      int ms,
                      size_t size) {
  int64_t end = now_ms() + ms;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    size_t v = size == sizeof(int) ? (size_t) * (const int*)field
                                   : *(const size_t*)field;
    if (v >= want) {
      pthread_mutex_unlock(&s->mu);
      return 1;
    }
    int64_t left = end - now_ms();
    if (left <= 0) {
      pthread_mutex_unlock(&s->mu);
      return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (left > 5 ? 5 : left) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
  }
}

static size_t sink_bytes(sink* s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->data.len;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* ---- records: fixed-size blobs numbered from 0 ----------------------------
 */

#define REC 16

/* Record i: its number, then bytes derived from it. */
static void rec_make(uint8_t* r, uint32_t i) {
  memcpy(r, &i, 4);
  for (int k = 4; k < REC; k++) {
    r[k] = (uint8_t)(i * 7 + k);
  }
}

/* 1 iff data holds records first..first+n-1 in order, and nothing else. */
static int recs_ok(const iso_buf* data, uint32_t first, uint32_t n) {
  if (data->len != (size_t)n * REC) {
    fprintf(stderr, "  got %zu bytes, want %u records\n", data->len, n);
    return 0;
  }
  uint8_t r[REC];
  for (uint32_t i = 0; i < n; i++) {
    rec_make(r, first + i);
    if (memcmp(data->data + (size_t)i * REC, r, REC) != 0) {
      fprintf(stderr, "  record %u differs\n", i);
      return 0;
    }
  }
  return 1;
}

static int send_recs(iso_link* l, uint32_t first, uint32_t n) {
  uint8_t r[REC];
  for (uint32_t i = 0; i < n; i++) {
    rec_make(r, first + i);
    int rc = iso_link_send(l, r, REC);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

/* ---- opening ends ----------------------------------------------------------
 */

static int url_seq;

static void make_url(char* buf, size_t n, int ipc) {
  if (ipc) {
    snprintf(buf, n, "ipc:///tmp/isopool-test-link-%d-%d.ipc", (int)getpid(),
             ++url_seq);
  } else {
    snprintf(buf, n, "inproc://test-link-%d", ++url_seq);
  }
}

/* An end whose messages and events go to s (s NULL: read by its owner,
 * no events). */
static iso_link* open_end(const char* url, int listen, sink* s) {
  iso_link_opts o = {.url = url,
                     .listen = listen,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .msg_cb = s ? sink_msg : NULL,
                     .event_cb = s ? sink_event : NULL,
                     .arg = s};
  iso_link* l = NULL;
  char err[256] = "";
  int rc = iso_link_new(&o, &l, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "  iso_link_new(%s): %s: %s\n", url, iso_err_name(rc), err);
  }
  return l;
}

/* A connected pair over url: a listening and a dialing end, both read by
 * callback into their sinks. */
static void open_pair(const char* url,
                      sink* sa,
                      sink* sb,
                      iso_link** a,
                      iso_link** b) {
  *a = open_end(url, 1, sa);
  *b = open_end(url, 0, sb);
  CHECK(*a != NULL && *b != NULL);
  CHECK(SINK_WAIT(sa, up, 1, 5000));
  CHECK(SINK_WAIT(sb, up, 1, 5000));
}

/* ---- the second process ----------------------------------------------------
 */

static atomic_int child_gone;

static void child_event(iso_link* l, iso_link_event ev, void* arg) {
  if (ev == ISO_LINK_PEER_GONE) {
    atomic_store(&child_gone, 1);
  }
}

typedef struct child_ctx {
  iso_link* link;
  const char* mode;
} child_ctx;

/* A message at the child: echo its records (or take them and drop them). */
static void child_msg(const uint8_t* d, size_t n, void* arg) {
  child_ctx* c = arg;
  if (strcmp(c->mode, "echo") == 0 && n > HEAD_LEN) {
    iso_link_send(c->link, d + HEAD_LEN, n - HEAD_LEN);
  }
}

/* --child MODE URL [RECORD_BYTES]: dial URL and run MODE until the peer is
 * gone (echo, sink, flood). */
static int child_main(const char* mode, const char* url, size_t rec_bytes) {
  iso_link_opts o = {.url = url,
                     .listen = 0,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .max_send = 1 << 20, /* the parents' max_recv */
                     .max_queued = (size_t)8 << 20,
                     .event_cb = child_event};
  child_ctx c = {.mode = mode};
  char err[256];
  int rc = iso_link_new(&o, &c.link, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "child: %s\n", err);
    return 2;
  }
  int fd = iso_link_fd(c.link);
  uint8_t* big = NULL;
  if (strcmp(mode, "flood") == 0) {
    big = malloc(rec_bytes);
    memset(big, 'f', rec_bytes);
  }
  while (!atomic_load(&child_gone)) {
    if (big != NULL) {
      int s = iso_link_send(c.link, big, rec_bytes);
      if (s == ISO_EBUSY) {
        usleep(200);
      } else if (s != 0) {
        break;
      }
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, big != NULL ? 0 : 10);
    iso_link_drain(c.link, child_msg, &c);
  }
  free(big);
  iso_link_free(c.link);
  return 0;
}

/* Starts this program as a child in MODE, dialing url once the caller
 * listens (the child waits for the byte go_fd gets). Returns its pid. */
static pid_t child_start(const char* mode,
                         const char* url,
                         size_t rec_bytes,
                         int* go_fd) {
  int p[2];
  if (pipe(p) != 0) {
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1) {
      _exit(3);
    }
    close(p[0]);
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%zu", rec_bytes);
    execl("/proc/self/exe", "test_link", "--child", mode, url, bytes,
          (char*)NULL);
    _exit(4);
  }
  close(p[0]);
  *go_fd = p[1];
  return pid;
}

static void child_go(int go_fd) {
  CHECK(write(go_fd, "g", 1) == 1);
  close(go_fd);
}

/* Waits for the child to exit by itself (ms), else kills it. Returns its
 * exit status, or -1 if it had to be killed. */
static int child_reap(pid_t pid, int ms) {
  int64_t end = now_ms() + ms;
  int st;
  while (now_ms() < end) {
    if (waitpid(pid, &st, WNOHANG) == pid) {
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    sleep_ms(5);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

/* ---- the cases
 * ---------------------------------------------------------------- */

/* Records both ways over inproc; every message starts with the head. */
static void t_inproc_round_trip(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  iso_link *a, *b;
  open_pair(url, &sa, &sb, &a, &b);
  CHECK_EQ(send_recs(a, 0, 10), 0);
  CHECK_EQ(send_recs(b, 100, 5), 0);
  CHECK(SINK_WAIT(&sb, data.len, 10 * REC, 5000));
  CHECK(SINK_WAIT(&sa, data.len, 5 * REC, 5000));
  CHECK(recs_ok(&sb.data, 0, 10));
  CHECK(recs_ok(&sa.data, 100, 5));
  CHECK(!sa.bad_head && !sb.bad_head);
  CHECK_EQ(iso_link_send(a, NULL, 0), 0);     /* nothing to send */
  CHECK_EQ(iso_link_peer_pid(a), ISO_EINVAL); /* inproc: no pid */
  iso_link_free(b);
  iso_link_free(a);
  CHECK_EQ(sa.up, 1);
  CHECK_EQ(sb.up, 1);
  /* neither close reports its own end's going, and b's close is a's
   * peer going: a saw it unless it was closing already */
  CHECK(sa.gone <= 1 && sb.gone == 0);
  sink_free(&sa);
  sink_free(&sb);
}

/* A burst of 1000 records sent one by one leaves in a few messages: the
 * ones sent while a message is on its way go together. The receiver
 * takes its time over the first message, so all but the first few are
 * sent while one is on its way; free-running, how many messages depends
 * on how fast one goes compared with sending a record (the figure is
 * printed). */
static void t_burst_batches(void) {
  for (int busy = 1; busy >= 0; busy--) {
    char url[64];
    make_url(url, sizeof url, 0);
    sink sa, sb;
    sink_init(&sa);
    sink_init(&sb);
    sb.first_sleep_ms = busy ? 100 : 0;
    iso_link *a, *b;
    open_pair(url, &sa, &sb, &a, &b);
    CHECK_EQ(send_recs(a, 0, 1000), 0);
    CHECK(SINK_WAIT(&sb, data.len, 1000 * REC, 5000));
    CHECK(recs_ok(&sb.data, 0, 1000));
    printf("  1000 records in %zu messages (%s receiver)\n", sb.msgs,
           busy ? "a busy" : "a free");
    if (busy) {
      CHECK(sb.msgs <= 6); /* a few before the receiver stalls */
    }
    iso_link_free(a);
    iso_link_free(b);
    sink_free(&sa);
    sink_free(&sb);
  }
}

/* A message never exceeds max_send: a burst is split between records; a
 * record that could never fit is refused. */
static void t_max_send_splits(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  sink sb;
  sink_init(&sb);
  iso_link_opts o = {.url = url,
                     .listen = 1,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .max_send = HEAD_LEN + 10 * REC};
  iso_link* a = NULL;
  CHECK_EQ(iso_link_new(&o, &a, NULL, 0), 0);
  iso_link* b = open_end(url, 0, &sb);
  CHECK(a != NULL && b != NULL);
  CHECK_EQ(send_recs(a, 0, 1000), 0);
  CHECK(SINK_WAIT(&sb, data.len, 1000 * REC, 5000));
  CHECK(recs_ok(&sb.data, 0, 1000));
  CHECK(sb.max_msg <= HEAD_LEN + 10 * REC);
  CHECK(sb.msgs >= 100);
  uint8_t big[10 * REC + 1] = {0};
  CHECK_EQ(iso_link_send(a, big, sizeof big), ISO_ETOOBIG);
  CHECK_EQ(iso_link_send(a, big, sizeof big - 1), 0);
  iso_link_free(a);
  iso_link_free(b);
  sink_free(&sb);
}

/* An end read by its owner's loop: poll its fd, drain. */
static void t_poll_mode(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  iso_link* a = open_end(url, 1, &sa);
  iso_link_opts o = {.url = url,
                     .listen = 0,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .event_cb = sink_event,
                     .arg = &sb};
  iso_link* b = NULL;
  CHECK_EQ(iso_link_new(&o, &b, NULL, 0), 0);
  CHECK(a != NULL && b != NULL);
  CHECK_EQ(iso_link_fd(a), ISO_EINVAL);          /* a callback end has none */
  CHECK_EQ(iso_link_drain(b, sink_msg, &sb), 0); /* nothing yet */
  int fd = iso_link_fd(b);
  CHECK(fd >= 0);
  CHECK_EQ(send_recs(a, 0, 500), 0);
  int64_t end = now_ms() + 5000;
  while (sink_bytes(&sb) < 500 * REC && now_ms() < end) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) == 1) {
      CHECK(iso_link_drain(b, sink_msg, &sb) >= 1);
    }
  }
  CHECK(recs_ok(&sb.data, 0, 500));
  /* and back */
  CHECK_EQ(send_recs(b, 7, 3), 0);
  CHECK(SINK_WAIT(&sa, data.len, 3 * REC, 5000));
  CHECK(recs_ok(&sa.data, 7, 3));
  iso_link_free(b);
  CHECK(SINK_WAIT(&sa, gone, 1, 5000)); /* b's close: a's peer is gone */
  CHECK_EQ(send_recs(a, 0, 1), ISO_ECLOSED);
  iso_link_free(a);
  sink_free(&sa);
  sink_free(&sb);
}

/* Records sent before the peer connects wait for it. */
static void t_send_before_peer(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  iso_link* a = open_end(url, 1, &sa);
  CHECK(a != NULL);
  CHECK_EQ(send_recs(a, 0, 50), 0);
  sleep_ms(20);
  iso_link* b = open_end(url, 0, &sb);
  CHECK(b != NULL);
  CHECK(SINK_WAIT(&sb, data.len, 50 * REC, 5000));
  CHECK(recs_ok(&sb.data, 0, 50));
  iso_link_free(b);
  iso_link_free(a);
  sink_free(&sa);
  sink_free(&sb);
}

/* One peer per link: a second dialer is refused and the first keeps the
 * link; once the peer is gone nobody takes its place. */
static void t_one_peer(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  sink sa, sb, sc, sd;
  sink_init(&sa);
  sink_init(&sb);
  sink_init(&sc);
  sink_init(&sd);
  iso_link *a, *b;
  open_pair(url, &sa, &sb, &a, &b);
  iso_link* c = open_end(url, 0, &sc);
  if (c != NULL) { /* connected (c may have seen it up), then refused */
    CHECK(SINK_WAIT(&sc, gone, 1, 5000));
    CHECK_EQ(send_recs(c, 0, 1), ISO_ECLOSED);
  }
  CHECK_EQ(send_recs(a, 0, 3), 0);
  CHECK(SINK_WAIT(&sb, data.len, 3 * REC, 5000));
  CHECK(recs_ok(&sb.data, 0, 3));
  CHECK_EQ(sa.up, 1);
  iso_link_free(b);
  CHECK(SINK_WAIT(&sa, gone, 1, 5000));
  iso_link* d = open_end(url, 0, &sd);
  if (d != NULL) {
    CHECK(SINK_WAIT(&sd, gone, 1, 5000));
  }
  CHECK_EQ(sa.up, 1);
  iso_link_free(c);
  iso_link_free(d);
  iso_link_free(a);
  sink_free(&sa);
  sink_free(&sb);
  sink_free(&sc);
  sink_free(&sd);
}

/* A dialing end dials once: nobody there is ISO_ECONNECT; once its peer
 * is gone it reports so and does not dial again, even when someone
 * listens there anew. */
static void t_dial_once(void) {
  for (int ipc = 0; ipc <= 1; ipc++) {
    char url[128];
    make_url(url, sizeof url, ipc);
    iso_link_opts o = {.url = url};
    iso_link* x = NULL;
    char err[256] = "";
    CHECK_EQ(iso_link_new(&o, &x, err, sizeof err), ISO_ECONNECT);
    CHECK(x == NULL);
    CHECK_CONTAINS(err, url);
    sink sa, sb, sc;
    sink_init(&sa);
    sink_init(&sb);
    sink_init(&sc);
    iso_link *a, *b;
    open_pair(url, &sa, &sb, &a, &b);
    iso_link_free(a);
    CHECK(SINK_WAIT(&sb, gone, 1, 5000));
    iso_link* c = open_end(url, 1, &sc);
    CHECK(c != NULL);
    CHECK(!SINK_WAIT(&sc, up, 1, 1500)); /* nobody came back */
    CHECK_EQ(send_recs(b, 0, 1), ISO_ECLOSED);
    iso_link_free(b);
    iso_link_free(c);
    sink_free(&sa);
    sink_free(&sb);
    sink_free(&sc);
  }
}

/* Bad options and URLs. */
static void t_open_refusals(void) {
  iso_link* l = NULL;
  char err[256] = "";
  iso_link_opts o = {.url = "tcp://127.0.0.1:1", .listen = 1};
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  CHECK_CONTAINS(err, "ipc:// or inproc://");
  o.url = "inproc://x";
  o.peer_pid = 1; /* only for a listening ipc:// end */
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  o.peer_pid = 0;
  o.head = "x";
  o.head_len = 10;
  o.max_send = 10; /* no room for a record */
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  iso_link_opts p = {.url = "inproc://taken", .listen = 1};
  iso_link *a = NULL, *b = NULL;
  CHECK_EQ(iso_link_new(&p, &a, NULL, 0), 0);
  CHECK_EQ(iso_link_new(&p, &b, err, sizeof err), ISO_EIO);
  CHECK_CONTAINS(err, "inproc://taken");
  iso_link_free(a);
  CHECK(l == NULL && b == NULL);
  iso_link_free(NULL);
}

/* A message above the receiver's max_recv is refused: not delivered, and
 * the connection closes (inproc: the link's own check; ipc: NNG's). */
static void t_oversized_refused(void) {
  for (int ipc = 0; ipc <= 1; ipc++) {
    char url[128];
    make_url(url, sizeof url, ipc);
    sink sa, sb;
    sink_init(&sa);
    sink_init(&sb);
    iso_link_opts o = {.url = url,
                       .listen = 1,
                       .head = HEAD,
                       .head_len = HEAD_LEN,
                       .max_recv = 1000,
                       .msg_cb = sink_msg,
                       .event_cb = sink_event,
                       .arg = &sa};
    iso_link* a = NULL;
    CHECK_EQ(iso_link_new(&o, &a, NULL, 0), 0);
    iso_link* b = open_end(url, 0, &sb);
    CHECK(a != NULL && b != NULL);
    CHECK(SINK_WAIT(&sa, up, 1, 5000));
    uint8_t ok[500] = {1}, big[1200] = {2};
    CHECK_EQ(iso_link_send(b, ok, sizeof ok), 0);
    CHECK(SINK_WAIT(&sa, data.len, sizeof ok, 5000));
    CHECK_EQ(iso_link_send(b, big, sizeof big), 0);
    CHECK(SINK_WAIT(&sa, gone, 1, 5000));
    CHECK(SINK_WAIT(&sb, gone, 1, 5000));
    CHECK_EQ(sink_bytes(&sa), sizeof ok);
    iso_link_free(b);
    iso_link_free(a);
    sink_free(&sa);
    sink_free(&sb);
  }
}

/* A peer that stops reading costs at most max_queued. */
static void t_max_queued(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  iso_link_opts o = {.url = url, .listen = 1, .max_queued = 64 * 1024};
  iso_link* a = NULL;
  CHECK_EQ(iso_link_new(&o, &a, NULL, 0), 0);
  iso_link_opts p = {.url = url}; /* read by its owner, who never does */
  iso_link* b = NULL;
  CHECK_EQ(iso_link_new(&p, &b, NULL, 0), 0);
  uint8_t r[1024] = {0};
  int rc = 0, n = 0;
  while (rc == 0 && n < 1000) {
    rc = iso_link_send(a, r, sizeof r);
    n++;
  }
  CHECK_EQ(rc, ISO_EBUSY);
  CHECK(n >= 64 && n < 1000);
  iso_link_free(a);
  iso_link_free(b);
}

/* max_queued counts what waits, not what left: one record at a time to a
 * receiver that keeps up, many more bytes in all than the bound, never
 * refused. (The outbox once read a message's length after NNG had taken
 * it; over inproc the receiver may have freed it by then, and the count
 * drifted until every send was ISO_EBUSY: the group's ALIVE records.) */
static void t_max_queued_drains(void) {
  char url[64];
  make_url(url, sizeof url, 0);
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  iso_link* a = open_end(url, 1, &sa);
  /* the bound: 4 messages of one record; each send waits until the last
   * arrived, so at most one waits */
  iso_link_opts o = {.url = url,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .max_queued = 4 * (HEAD_LEN + REC),
                     .msg_cb = sink_msg,
                     .event_cb = sink_event,
                     .arg = &sb};
  iso_link* b = NULL;
  CHECK_EQ(iso_link_new(&o, &b, NULL, 0), 0);
  CHECK(SINK_WAIT(&sa, up, 1, 5000));
  enum { N = 3000 };
  uint8_t r[REC];
  int refused = 0;
  for (uint32_t i = 0; i < N && a != NULL && b != NULL; i++) {
    rec_make(r, i);
    refused += iso_link_send(b, r, REC) != 0;
    int arrived = SINK_WAIT(&sa, data.len, (size_t)(i + 1) * REC, 5000);
    CHECK(arrived);
    if (!arrived) {
      break;
    }
  }
  CHECK_EQ(refused, 0);
  CHECK(recs_ok(&sa.data, 0, N));
  iso_link_free(b);
  iso_link_free(a);
  sink_free(&sa);
  sink_free(&sb);
}

/* The real thing: the parent listens on ipc://, only the child's pid may
 * connect; the child (another process) dials, echoes records; kill -9 of
 * the child is PEER_GONE at the parent within a bound. */
static void t_ipc_child_echo_and_kill(void) {
  char url[128];
  make_url(url, sizeof url, 1);
  int go;
  pid_t pid = child_start("echo", url, 0, &go);
  CHECK(pid > 0);
  sink s;
  sink_init(&s);
  iso_link_opts o = {.url = url,
                     .listen = 1,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .peer_pid = pid,
                     .msg_cb = sink_msg,
                     .event_cb = sink_event,
                     .arg = &s};
  iso_link* l = NULL;
  CHECK_EQ(iso_link_new(&o, &l, NULL, 0), 0);
  child_go(go);
  CHECK(SINK_WAIT(&s, up, 1, 10000));
  CHECK_EQ(iso_link_peer_pid(l), pid);
  CHECK_EQ(send_recs(l, 0, 2000), 0);
  CHECK(SINK_WAIT(&s, data.len, 2000 * REC, 10000));
  CHECK(recs_ok(&s.data, 0, 2000));
  printf("  2000 records back in %zu messages\n", s.msgs);
  int64_t t0 = now_ms();
  kill(pid, SIGKILL);
  CHECK(SINK_WAIT(&s, gone, 1, 2000));
  printf("  peer gone %lld ms after kill -9\n", (long long)(s.gone_ms - t0));
  CHECK(s.gone_ms - t0 < 1000);
  CHECK_EQ(send_recs(l, 0, 1), ISO_ECLOSED);
  child_reap(pid, 0);
  iso_link_free(l);
  char path[160];
  snprintf(path, sizeof path, "%s.ld", url + 6);
  CHECK(access(path, F_OK) != 0); /* the socket files are gone */
  snprintf(path, sizeof path, "%s.dl", url + 6);
  CHECK(access(path, F_OK) != 0);
  sink_free(&s);
}

/* peer_pid: a connection from another process is refused before it is
 * the peer. */
static void t_ipc_peer_pid_refused(void) {
  char url[128];
  make_url(url, sizeof url, 1);
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  iso_link_opts o = {.url = url,
                     .listen = 1,
                     .peer_pid = getppid(),
                     .msg_cb = sink_msg,
                     .event_cb = sink_event,
                     .arg = &sa};
  iso_link* a = NULL;
  CHECK_EQ(iso_link_new(&o, &a, NULL, 0), 0);
  iso_link* b = open_end(url, 0, &sb);
  if (b != NULL) {
    CHECK(SINK_WAIT(&sb, gone, 1, 5000));
  }
  CHECK_EQ(sa.up, 0);
  CHECK_EQ(sa.gone, 0);
  iso_link_free(b);
  iso_link_free(a);
  sink_free(&sa);
  sink_free(&sb);
}

/* Closing while our big sends are on their way to a child that reads
 * them, and while a child floods us (read by callback, then by polling):
 * each close returns within its bound, with no crash and no hang. Many
 * rounds, since the transport's hang is a race. */
static void close_under_load(const char* mode, int poll_end, int rounds) {
  int64_t worst = 0;
  for (int round = 0; round < rounds; round++) {
    char url[128];
    make_url(url, sizeof url, 1);
    int go;
    pid_t pid = child_start(mode, url, 256 * 1024, &go);
    CHECK(pid > 0);
    sink s;
    sink_init(&s);
    iso_link_opts o = {.url = url,
                       .listen = 1,
                       .head = HEAD,
                       .head_len = HEAD_LEN,
                       .max_recv = 1 << 20,
                       .max_send = 1 << 20,
                       .max_queued = 4 << 20,
                       .msg_cb = poll_end ? NULL : sink_msg,
                       .event_cb = sink_event,
                       .arg = &s};
    iso_link* l = NULL;
    CHECK_EQ(iso_link_new(&o, &l, NULL, 0), 0);
    child_go(go);
    CHECK(SINK_WAIT(&s, up, 1, 10000));
    uint8_t* big = calloc(1, 200 * 1024);
    int64_t until = now_ms() + 30 + round * 7 % 50;
    while (now_ms() < until) {
      if (strcmp(mode, "sink") == 0) {
        int rc = iso_link_send(l, big, 200 * 1024);
        CHECK(rc == 0 || rc == ISO_EBUSY);
        if (rc == ISO_EBUSY) {
          sleep_ms(1);
        }
      } else if (poll_end) {
        struct pollfd p = {.fd = iso_link_fd(l), .events = POLLIN};
        poll(&p, 1, 1);
        iso_link_drain(l, sink_msg, &s);
      } else {
        sleep_ms(1);
      }
    }
    int64_t t0 = now_ms();
    iso_link_free(l);
    int64_t took = now_ms() - t0;
    if (took > worst) {
      worst = took;
    }
    CHECK(took < 2000);
    CHECK_EQ(child_reap(pid, 5000), 0); /* it saw us go, and left */
    free(big);
    sink_free(&s);
  }
  printf("  %d rounds, the slowest close %lld ms\n", rounds, (long long)worst);
}

/* A child that floods us while we flood it is killed (kill -9) at a
 * moment of the transfer: PEER_GONE comes, and the close returns. */
static void t_kill_mid_transfer(void) {
  int64_t worst = 0;
  for (int round = 0; round < 100; round++) {
    char url[128];
    make_url(url, sizeof url, 1);
    int go;
    pid_t pid = child_start("flood", url, 256 * 1024, &go);
    CHECK(pid > 0);
    sink s;
    sink_init(&s);
    iso_link_opts o = {.url = url,
                       .listen = 1,
                       .head = HEAD,
                       .head_len = HEAD_LEN,
                       .max_recv = 1 << 20,
                       .max_send = 1 << 20,
                       .max_queued = 4 << 20,
                       .msg_cb = sink_msg,
                       .event_cb = sink_event,
                       .arg = &s};
    iso_link* l = NULL;
    CHECK_EQ(iso_link_new(&o, &l, NULL, 0), 0);
    child_go(go);
    CHECK(SINK_WAIT(&s, up, 1, 10000));
    uint8_t* big = calloc(1, 200 * 1024);
    int64_t until = now_ms() + 5 + round % 23;
    while (now_ms() < until) {
      if (iso_link_send(l, big, 200 * 1024) == ISO_EBUSY) {
        sleep_ms(1);
      }
    }
    kill(pid, SIGKILL);
    CHECK(SINK_WAIT(&s, gone, 1, 5000));
    int64_t t0 = now_ms();
    iso_link_free(l);
    int64_t took = now_ms() - t0;
    if (took > worst) {
      worst = took;
    }
    child_reap(pid, 1000);
    free(big);
    sink_free(&s);
  }
  printf("  100 rounds, the slowest close %lld ms\n", (long long)worst);
}

static void t_close_while_sending(void) {
  close_under_load("sink", 0, 20);
}

static void t_close_while_flooded(void) {
  close_under_load("flood", 0, 20);
}

static void t_close_while_flooded_poll(void) {
  close_under_load("flood", 1, 20);
}

/* inproc: one thread floods an end while another closes it, and a close
 * that comes during a message callback waits for it. */
typedef struct flooder {
  iso_link* l;
  atomic_int stop;
} flooder;

static void* flood_main(void* arg) {
  flooder* f = arg;
  uint8_t r[4096] = {0};
  while (!atomic_load(&f->stop)) {
    if (iso_link_send(f->l, r, sizeof r) == ISO_EBUSY) {
      sleep_ms(1);
    }
  }
  return NULL;
}

static void t_close_inproc_under_load(void) {
  for (int round = 0; round < 50; round++) {
    char url[64];
    make_url(url, sizeof url, 0);
    sink sa, sb;
    sink_init(&sa);
    sink_init(&sb);
    sb.sleep_ms = round % 2; /* some closes land in a callback */
    iso_link *a, *b;
    open_pair(url, &sa, &sb, &a, &b);
    flooder f = {.l = a};
    pthread_t th;
    pthread_create(&th, NULL, flood_main, &f);
    sleep_ms(round % 5);
    int64_t t0 = now_ms();
    iso_link_free(b); /* the receiving end, mid-flood */
    CHECK(now_ms() - t0 < 2000);
    size_t got = sink_bytes(&sb);
    sleep_ms(2);
    CHECK_EQ(sink_bytes(&sb), got); /* nothing after close returned */
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    iso_link_free(a);
    sink_free(&sa);
    sink_free(&sb);
  }
}

static const iso_test cases[] = {
    {"inproc_round_trip", t_inproc_round_trip},
    {"burst_batches", t_burst_batches},
    {"max_send_splits", t_max_send_splits},
    {"poll_mode", t_poll_mode},
    {"send_before_peer", t_send_before_peer},
    {"one_peer", t_one_peer},
    {"dial_once", t_dial_once},
    {"open_refusals", t_open_refusals},
    {"oversized_refused", t_oversized_refused},
    {"max_queued", t_max_queued},
    {"max_queued_drains", t_max_queued_drains},
    {"ipc_child_echo_and_kill", t_ipc_child_echo_and_kill},
    {"ipc_peer_pid_refused", t_ipc_peer_pid_refused},
    {"kill_mid_transfer", t_kill_mid_transfer},
    {"close_while_sending", t_close_while_sending},
    {"close_while_flooded", t_close_while_flooded},
    {"close_while_flooded_poll", t_close_while_flooded_poll},
    {"close_inproc_under_load", t_close_inproc_under_load},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "--child") == 0) {
    return child_main(argv[2], argv[3],
                      argc > 4 ? (size_t)strtoull(argv[4], NULL, 10) : 0);
  }
  return iso_test_main(argc, argv, cases);
}
