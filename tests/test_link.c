/* test_link.c: the link's transport (ipc/iso_link.c): framed batches of
 * bytes over a connected AF_UNIX stream socketpair, between two ends of
 * the case and to a second process that inherited its end.
 *
 * The case's callback ends are read on a hub (iso_link_hub) polled by a
 * thread of the case, as the front's are; an owner-read end is polled
 * and drained by its owner, as a worker's loop does. The second process
 * is this program again (fork, then exec of /proc/self/exe with --child
 * MODE FD ...): it wraps the inherited descriptor, reads with
 * iso_link_fd/iso_link_drain, and does one of: echo each message's
 * records back, take and drop everything, or flood. It exits once its
 * peer is gone. Records here are fixed-size blobs (the codec is
 * test_link_msg.c's), so a receiver splits a message by size; every
 * message starts with HEAD.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
  int gone;
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
  (void)l;
  (void)ev; /* PEER_GONE, the only event */
  pthread_mutex_lock(&s->mu);
  s->gone++;
  s->gone_ms = now_ms();
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

/* ---- the case's hub ---------------------------------------------------- */

static iso_link_hub* g_hub;
static pthread_t g_hub_thread;
static atomic_int g_hub_stop;

static void* hub_main(void* arg) {
  (void)arg;
  struct pollfd p = {.fd = iso_link_hub_fd(g_hub), .events = POLLIN};
  while (!atomic_load(&g_hub_stop)) {
    poll(&p, 1, 5);
    iso_link_hub_run(g_hub);
  }
  return NULL;
}

/* The hub, started on first use in the case (each case is a process). */
static iso_link_hub* hub(void) {
  if (g_hub == NULL) {
    CHECK_EQ(iso_link_hub_new(&g_hub), 0);
    CHECK_EQ(pthread_create(&g_hub_thread, NULL, hub_main, NULL), 0);
  }
  return g_hub;
}

static void hub_end(void) {
  if (g_hub != NULL) {
    atomic_store(&g_hub_stop, 1);
    pthread_join(g_hub_thread, NULL);
    iso_link_hub_free(g_hub);
    g_hub = NULL;
  }
}

/* ---- opening ends ---------------------------------------------------------
 */

static void pair(int fds[2]) {
  char err[128] = "";
  CHECK_EQ(iso_link_socketpair(fds, err, sizeof err), 0);
}

/* A case's two sinks, empty, and a connected pair for its two ends. */
static void two_ends(sink* sa, sink* sb, int fds[2]) {
  sink_init(sa);
  sink_init(sb);
  pair(fds);
}

/* Its send buffer as small as the kernel allows: the outbox then holds
 * what a burst would otherwise leave in the socket. */
static void small_sndbuf(int fd) {
  int v = 1;
  CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
}

/* An end on fd: on the hub with its messages and events going to s, or
 * (s NULL) read by its owner, no events. */
static iso_link* open_end(int fd, sink* s, size_t max_msg, size_t max_queued) {
  iso_link_opts o = {.fd = fd,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .max_recv = max_msg,
                     .max_send = max_msg,
                     .max_queued = max_queued,
                     .hub = s ? hub() : NULL,
                     .msg_cb = s ? sink_msg : NULL,
                     .event_cb = s ? sink_event : NULL,
                     .arg = s};
  iso_link* l = NULL;
  char err[256] = "";
  int rc = iso_link_new(&o, &l, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "  iso_link_new(%d): %s: %s\n", fd, iso_err_name(rc), err);
  }
  CHECK_EQ(rc, 0);
  return l;
}

/* A connected pair of hub ends, read into their sinks. */
static void open_pair(sink* sa, sink* sb, iso_link** a, iso_link** b) {
  int fds[2];
  pair(fds);
  *a = open_end(fds[0], sa, 0, 0);
  *b = open_end(fds[1], sb, 0, 0);
  CHECK(*a != NULL && *b != NULL);
}

/* Drains an owner-read end until its sink holds `bytes` or ms pass. */
static void drain_until(iso_link* l, sink* s, size_t bytes, int ms) {
  int64_t end = now_ms() + ms;
  while (sink_bytes(s) < bytes && now_ms() < end) {
    struct pollfd p = {.fd = iso_link_fd(l), .events = POLLIN};
    poll(&p, 1, 10);
    iso_link_drain(l, sink_msg, s);
  }
}

/* ---- the second process ----------------------------------------------------
 */

static atomic_int child_gone;

static void child_event(iso_link* l, iso_link_event ev, void* arg) {
  (void)l;
  (void)arg;
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

/* --child MODE FD [RECORD_BYTES]: wrap the inherited FD and run MODE
 * until the peer is gone (echo, sink, flood). */
static int child_main(const char* mode, int fd, size_t rec_bytes) {
  iso_link_opts o = {.fd = fd,
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .max_send = 1 << 20, /* the parents' max_recv */
                     .max_recv = 1 << 20,
                     .max_queued = (size_t)8 << 20,
                     .event_cb = child_event};
  child_ctx c = {.mode = mode};
  char err[256];
  int rc = iso_link_new(&o, &c.link, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "child: %s\n", err);
    return 2;
  }
  int pfd = iso_link_fd(c.link);
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
      } else if (s != 0 && s != ISO_ECLOSED) {
        break;
      }
    }
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    poll(&p, 1, big != NULL ? 0 : 10);
    iso_link_drain(c.link, child_msg, &c);
  }
  free(big);
  iso_link_free(c.link);
  return 0;
}

/* Starts this program as a child in MODE with *fd, the other end of a
 * new pair, which it inherits (the caller's copy is closed); returns its
 * pid, the case's end in *mine. */
static pid_t child_start(const char* mode, size_t rec_bytes, int* mine) {
  int fds[2];
  pair(fds);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    fcntl(fds[1], F_SETFD, 0); /* inherited across the exec */
    char fd[16], bytes[32];
    snprintf(fd, sizeof fd, "%d", fds[1]);
    snprintf(bytes, sizeof bytes, "%zu", rec_bytes);
    execl("/proc/self/exe", "test_link", "--child", mode, fd, bytes,
          (char*)NULL);
    _exit(4);
  }
  close(fds[1]);
  *mine = fds[0];
  return pid;
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

/* Records both ways; every message starts with the head; a close is the
 * peer's PEER_GONE, once, and never its own. */
static void t_round_trip(void) {
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  iso_link *a, *b;
  open_pair(&sa, &sb, &a, &b);
  CHECK_EQ(send_recs(a, 0, 10), 0);
  CHECK_EQ(send_recs(b, 100, 5), 0);
  CHECK(SINK_WAIT(&sb, data.len, 10 * REC, 5000));
  CHECK(SINK_WAIT(&sa, data.len, 5 * REC, 5000));
  CHECK(recs_ok(&sb.data, 0, 10));
  CHECK(recs_ok(&sa.data, 100, 5));
  CHECK(!sa.bad_head && !sb.bad_head);
  CHECK_EQ(iso_link_send(a, NULL, 0), 0); /* nothing to send */
  iso_link_free(b);
  CHECK(SINK_WAIT(&sa, gone, 1, 5000));
  CHECK_EQ(send_recs(a, 0, 1), ISO_ECLOSED);
  sleep_ms(20);
  iso_link_free(a);
  CHECK_EQ(sa.gone, 1);
  CHECK_EQ(sb.gone, 0);
  hub_end();
  sink_free(&sa);
  sink_free(&sb);
}

/* EOF at close, both ways: what an end sent before its close arrives
 * whole, then PEER_GONE, though 2000 records are more than the socket
 * holds (the close waits for the reader to take the outbox); a peer that only
 * shuts down its writing side (or closes a plain socket) is gone too. */
static void t_eof_at_close(void) {
  for (int owner = 0; owner <= 1; owner++) {
    /* the sender: a hub end, then an end read by its owner (who never
     * drains it: its close writes the outbox); the receiver a hub end */
    sink sa, sb;
    int fds[2];
    two_ends(&sa, &sb, fds);
    iso_link* a = open_end(fds[0], &sa, 0, 0);
    iso_link* b = open_end(fds[1], owner ? NULL : &sb, 0, 0);
    CHECK_EQ(send_recs(b, 0, 2000), 0);
    iso_link_free(b); /* the sender goes at once */
    CHECK(SINK_WAIT(&sa, gone, 1, 5000));
    CHECK(recs_ok(&sa.data, 0, 2000));
    iso_link_free(a);
    CHECK_EQ(sb.gone, 0);
    sink_free(&sa);
    sink_free(&sb);
  }
  /* a plain socket as the peer: shutdown(SHUT_WR) is EOF */
  sink s;
  sink_init(&s);
  int fds[2];
  pair(fds);
  iso_link* l = open_end(fds[0], &s, 0, 0);
  CHECK_EQ(shutdown(fds[1], SHUT_WR), 0);
  CHECK(SINK_WAIT(&s, gone, 1, 5000));
  sleep_ms(20);
  CHECK_EQ(s.gone, 1); /* once */
  iso_link_free(l);
  close(fds[1]);
  hub_end();
  sink_free(&s);
}

/* An owner-read end tells its owner of the peer's going in its drain. */
static void t_owner_told_gone(void) {
  sink s;
  sink_init(&s);
  int fds[2];
  pair(fds);
  iso_link_opts o = {.fd = fds[0], .event_cb = sink_event, .arg = &s};
  iso_link* l = NULL;
  CHECK_EQ(iso_link_new(&o, &l, NULL, 0), 0);
  close(fds[1]);
  int64_t end = now_ms() + 5000;
  while (s.gone == 0 && now_ms() < end) {
    struct pollfd p = {.fd = iso_link_fd(l), .events = POLLIN};
    poll(&p, 1, 10);
    iso_link_drain(l, sink_msg, &s);
  }
  CHECK_EQ(s.gone, 1);
  /* its fd polls idle from then on: a loop on it does not spin */
  struct pollfd p = {.fd = iso_link_fd(l), .events = POLLIN};
  CHECK_EQ(poll(&p, 1, 50), 0);
  CHECK_EQ(iso_link_drain(l, sink_msg, &s), 0);
  CHECK_EQ(s.gone, 1);
  iso_link_free(l);
  sink_free(&s);
}

/* A burst of 1000 records sent one by one, the socket's buffer small and
 * the receiver busy with the first message: what the socket does not
 * take waits in the outbox, where records join one message, so the burst
 * is a few messages. Free-running, how many depends on the machine (the
 * figure is printed). */
static void t_burst_batches(void) {
  for (int busy = 1; busy >= 0; busy--) {
    sink sa, sb;
    int fds[2];
    two_ends(&sa, &sb, fds);
    sb.first_sleep_ms = busy ? 100 : 0;
    small_sndbuf(fds[0]);
    iso_link* a = open_end(fds[0], &sa, 0, 0);
    iso_link* b = open_end(fds[1], &sb, 0, 0);
    CHECK_EQ(send_recs(a, 0, 1000), 0);
    CHECK(SINK_WAIT(&sb, data.len, 1000 * REC, 5000));
    CHECK(recs_ok(&sb.data, 0, 1000));
    printf("  1000 records in %zu messages (%s receiver)\n", sb.msgs,
           busy ? "a busy" : "a free");
    if (busy) {
      CHECK(sb.msgs <= 100); /* those the small buffer took, then one */
    }
    iso_link_free(a);
    iso_link_free(b);
    sink_free(&sa);
    sink_free(&sb);
  }
  hub_end();
}

/* A message never exceeds max_send: a burst is split between records; a
 * record that could never fit is refused. */
static void t_max_send_splits(void) {
  sink sa, sb;
  int fds[2];
  two_ends(&sa, &sb, fds);
  sb.first_sleep_ms = 50; /* the outbox fills meanwhile */
  small_sndbuf(fds[0]);
  iso_link* a = open_end(fds[0], &sa, HEAD_LEN + 10 * REC, 0);
  iso_link* b = open_end(fds[1], &sb, 0, 0);
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
  hub_end();
  sink_free(&sa);
  sink_free(&sb);
}

/* An end read by its owner's loop: poll its fd, drain; its sends that the
 * socket holds back leave from its drain (its fd polls readable for
 * them). */
static void t_poll_mode(void) {
  sink sa, sb;
  int fds[2];
  two_ends(&sa, &sb, fds);
  iso_link* a = open_end(fds[0], &sa, 0, 0);
  iso_link_opts o = {.fd = fds[1],
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .event_cb = sink_event,
                     .arg = &sb};
  iso_link* b = NULL;
  CHECK_EQ(iso_link_new(&o, &b, NULL, 0), 0);
  CHECK(a != NULL && b != NULL);
  CHECK_EQ(iso_link_fd(a), ISO_EINVAL);          /* a hub end has none */
  CHECK_EQ(iso_link_drain(b, sink_msg, &sb), 0); /* nothing yet */
  CHECK(iso_link_fd(b) >= 0);
  CHECK_EQ(send_recs(a, 0, 500), 0);
  drain_until(b, &sb, 500 * REC, 5000);
  CHECK(recs_ok(&sb.data, 0, 500));
  /* and back */
  CHECK_EQ(send_recs(b, 7, 3), 0);
  CHECK(SINK_WAIT(&sa, data.len, 3 * REC, 5000));
  CHECK(recs_ok(&sa.data, 7, 3));
  iso_link_free(b);
  CHECK(SINK_WAIT(&sa, gone, 1, 5000)); /* b's close: a's peer is gone */
  CHECK_EQ(send_recs(a, 0, 1), ISO_ECLOSED);
  iso_link_free(a);
  hub_end();
  sink_free(&sa);
  sink_free(&sb);
}

/* A message larger than the socket's buffer (several MB) arrives whole,
 * both ways, while the receiver drains slowly: from a hub end to an
 * owner's (which sleeps between drains), and from an owner's (whose
 * drain writes what the socket held back) to a hub end whose callback
 * is slow. */
static void t_big_message_slow_reader(void) {
  enum { BIG = 6 << 20 };
  uint8_t* big = malloc(BIG);
  for (size_t i = 0; i < BIG; i++) {
    big[i] = (uint8_t)(i * 31 + 7);
  }
  sink sa, sb;
  int fds[2];
  two_ends(&sa, &sb, fds);
  sa.sleep_ms = 2;
  iso_link* a = open_end(fds[0], &sa, 8 << 20, 0);
  iso_link_opts o = {.fd = fds[1],
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .max_recv = 8 << 20,
                     .max_send = 8 << 20};
  iso_link* b = NULL;
  CHECK_EQ(iso_link_new(&o, &b, NULL, 0), 0);
  CHECK_EQ(iso_link_send(a, big, BIG), 0); /* never blocks */
  CHECK_EQ(iso_link_send(b, big, BIG), 0);
  int64_t end = now_ms() + 20000;
  while ((sink_bytes(&sb) < BIG || sink_bytes(&sa) < BIG) && now_ms() < end) {
    struct pollfd p = {.fd = iso_link_fd(b), .events = POLLIN};
    poll(&p, 1, 10);
    iso_link_drain(b, sink_msg, &sb);
    sleep_ms(3); /* a slow owner */
  }
  CHECK_EQ(sb.msgs, 1);
  CHECK_EQ(sa.msgs, 1);
  CHECK(sb.data.len == BIG && memcmp(sb.data.data, big, BIG) == 0);
  CHECK(sa.data.len == BIG && memcmp(sa.data.data, big, BIG) == 0);
  iso_link_free(b);
  iso_link_free(a);
  hub_end();
  free(big);
  sink_free(&sa);
  sink_free(&sb);
}

/* Bad options, and descriptors that are no stream socket: refused, the
 * descriptor closed. */
static int is_open(int fd) {
  return fcntl(fd, F_GETFD) >= 0;
}

static void t_open_refusals(void) {
  iso_link* l = NULL;
  char err[256] = "";
  iso_link_opts o = {.fd = -1};
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  CHECK_CONTAINS(err, "descriptor -1 is not open");
  int p[2];
  CHECK_EQ(pipe(p), 0);
  o.fd = p[0];
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  CHECK_CONTAINS(err, "is not a socket");
  CHECK(!is_open(p[0]));
  close(p[1]);
  CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, p), 0);
  o.fd = p[0];
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  CHECK_CONTAINS(err, "is not an AF_UNIX stream socket");
  CHECK_EQ(iso_link_check_fd(p[1], NULL, 0), ISO_EINVAL);
  close(p[1]);
  int fds[2];
  pair(fds);
  CHECK_EQ(iso_link_check_fd(fds[0], NULL, 0), 0);
  o.fd = fds[0];
  o.head = "x";
  o.head_len = 10;
  o.max_send = 10; /* no room for a record */
  CHECK_EQ(iso_link_new(&o, &l, err, sizeof err), ISO_EINVAL);
  CHECK(!is_open(fds[0]));
  iso_link_opts q = {.fd = fds[1], .hub = hub()}; /* a hub end, no msg_cb */
  CHECK_EQ(iso_link_new(&q, &l, err, sizeof err), ISO_EINVAL);
  CHECK(!is_open(fds[1]));
  CHECK(l == NULL);
  iso_link_free(NULL);
  hub_end();
}

/* A frame above the receiver's max_recv ends the link before anything is
 * allocated for it: not delivered, PEER_GONE at both ends; so does a
 * frame no end sends (length 0), and one claiming 4 GB from a raw peer. */
static void t_oversized_refused(void) {
  for (int owner = 0; owner <= 1; owner++) {
    sink sa, sb;
    int fds[2];
    two_ends(&sa, &sb, fds);
    iso_link_opts o = {.fd = fds[0],
                       .head = HEAD,
                       .head_len = HEAD_LEN,
                       .max_recv = 1000,
                       .hub = owner ? NULL : hub(),
                       .msg_cb = owner ? NULL : sink_msg,
                       .event_cb = sink_event,
                       .arg = &sa};
    iso_link* a = NULL;
    CHECK_EQ(iso_link_new(&o, &a, NULL, 0), 0);
    iso_link* b = open_end(fds[1], &sb, 0, 0);
    uint8_t ok[500] = {1}, big[1200] = {2};
    CHECK_EQ(iso_link_send(b, ok, sizeof ok), 0);
    CHECK_EQ(iso_link_send(b, big, sizeof big), 0);
    if (owner) {
      int64_t end = now_ms() + 5000;
      while (sa.gone == 0 && now_ms() < end) {
        struct pollfd p = {.fd = iso_link_fd(a), .events = POLLIN};
        poll(&p, 1, 10);
        iso_link_drain(a, sink_msg, &sa);
      }
    }
    CHECK(SINK_WAIT(&sa, gone, 1, 5000));
    CHECK(SINK_WAIT(&sb, gone, 1, 5000));
    CHECK_EQ(sink_bytes(&sa), sizeof ok);
    CHECK_EQ(iso_link_send(b, ok, sizeof ok), ISO_ECLOSED);
    iso_link_free(b);
    iso_link_free(a);
    sink_free(&sa);
    sink_free(&sb);
  }
  const uint8_t frames[2][4] = {{0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 0}};
  for (int k = 0; k < 2; k++) {
    sink s;
    sink_init(&s);
    int fds[2];
    pair(fds);
    iso_link* l = open_end(fds[0], &s, 0, 0);
    CHECK_EQ(write(fds[1], frames[k], 4), 4);
    CHECK(SINK_WAIT(&s, gone, 1, 5000));
    CHECK_EQ(s.msgs, 0);
    char c;
    CHECK_EQ(read(fds[1], &c, 1), 0); /* the link shut its end */
    iso_link_free(l);
    close(fds[1]);
    sink_free(&s);
  }
  hub_end();
}

/* A peer that stops reading: the sender never blocks, and the outbox
 * holds at most max_queued beyond what the socket took. */
static void t_max_queued(void) {
  int fds[2];
  pair(fds);
  iso_link* a = open_end(fds[0], NULL, 0, 64 * 1024);
  iso_link* b = open_end(fds[1], NULL, 0, 0); /* never drained */
  uint8_t r[1024] = {0};
  int rc = 0, n = 0;
  int64_t t0 = now_ms();
  while (rc == 0 && n < 100000) {
    rc = iso_link_send(a, r, sizeof r);
    n++;
  }
  CHECK_EQ(rc, ISO_EBUSY);
  CHECK(n >= 64 && n < 100000);
  CHECK(now_ms() - t0 < 2000);
  printf("  refused after %d KiB (the socket's buffer, then the bound)\n", n);
  iso_link_free(a);
  iso_link_free(b);
}

/* max_queued counts what waits, not what left: one record at a time to a
 * receiver that keeps up, many more bytes in all than the bound, never
 * refused. */
static void t_max_queued_drains(void) {
  sink sa, sb;
  int fds[2];
  two_ends(&sa, &sb, fds);
  small_sndbuf(fds[1]);
  iso_link* a = open_end(fds[0], &sa, 0, 0);
  iso_link* b =
      open_end(fds[1], &sb, 0, 4 * (ISO_LINK_FRAME_LEN + HEAD_LEN + REC));
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
  hub_end();
  sink_free(&sa);
  sink_free(&sb);
}

/* The real thing: a child process inherits its end, echoes records; kill
 * -9 of the child is PEER_GONE at the parent within a bound. */
static void t_child_echo_and_kill(void) {
  int fd;
  pid_t pid = child_start("echo", 0, &fd);
  CHECK(pid > 0);
  sink s;
  sink_init(&s);
  iso_link* l = open_end(fd, &s, 1 << 20, 0);
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
  hub_end();
  sink_free(&s);
}

/* Closing while our big sends are on their way to a child that reads
 * them, and while a child floods us (read on the hub, then by polling):
 * each close returns at once, and the child sees us go and leaves. */
static void close_under_load(const char* mode, int poll_end, int rounds) {
  int64_t worst = 0;
  for (int round = 0; round < rounds; round++) {
    int fd;
    pid_t pid = child_start(mode, 256 * 1024, &fd);
    CHECK(pid > 0);
    sink s;
    sink_init(&s);
    iso_link_opts o = {.fd = fd,
                       .head = HEAD,
                       .head_len = HEAD_LEN,
                       .max_recv = 1 << 20,
                       .max_send = 1 << 20,
                       .max_queued = 4 << 20,
                       .hub = poll_end ? NULL : hub(),
                       .msg_cb = poll_end ? NULL : sink_msg,
                       .event_cb = sink_event,
                       .arg = &s};
    iso_link* l = NULL;
    CHECK_EQ(iso_link_new(&o, &l, NULL, 0), 0);
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
    CHECK(took < 500);
    CHECK_EQ(child_reap(pid, 5000), 0); /* it saw us go, and left */
    free(big);
    sink_free(&s);
  }
  hub_end();
  printf("  %d rounds, the slowest close %lld ms\n", rounds, (long long)worst);
}

/* A child that floods us while we flood it is killed (kill -9) at a
 * moment of the transfer: PEER_GONE comes, and the close returns. */
static void t_kill_mid_transfer(void) {
  int64_t worst = 0;
  for (int round = 0; round < 40; round++) {
    int fd;
    pid_t pid = child_start("flood", 256 * 1024, &fd);
    CHECK(pid > 0);
    sink s;
    sink_init(&s);
    iso_link* l = open_end(fd, &s, 1 << 20, 4 << 20);
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
  hub_end();
  printf("  40 rounds, the slowest close %lld ms\n", (long long)worst);
}

static void t_close_while_sending(void) {
  close_under_load("sink", 0, 10);
}

static void t_close_while_flooded(void) {
  close_under_load("flood", 0, 10);
}

static void t_close_while_flooded_poll(void) {
  close_under_load("flood", 1, 10);
}

/* In one process: one thread floods an end while another closes the
 * receiving one, and a close that comes during a message callback waits
 * for it; nothing is delivered after the close returned. */
typedef struct flooder {
  iso_link* l;
  atomic_int stop;
} flooder;

static void* flood_main(void* arg) {
  flooder* f = arg;
  uint8_t r[4096] = {0};
  while (!atomic_load(&f->stop)) {
    int rc = iso_link_send(f->l, r, sizeof r);
    if (rc == ISO_EBUSY) {
      sleep_ms(1);
    } else if (rc == ISO_ECLOSED) {
      sleep_ms(1);
    }
  }
  return NULL;
}

static void t_close_under_load(void) {
  for (int round = 0; round < 50; round++) {
    sink sa, sb;
    int fds[2];
    two_ends(&sa, &sb, fds);
    sb.sleep_ms = round % 2; /* some closes land in a callback */
    iso_link* a = open_end(fds[0], &sa, 0, 1 << 20);
    iso_link* b = open_end(fds[1], &sb, 0, 0);
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
    CHECK(SINK_WAIT(&sa, gone, 1, 5000));
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    iso_link_free(a);
    sink_free(&sa);
    sink_free(&sb);
  }
  hub_end();
}

/* A hub callback may free another end of the same hub (the front's
 * callbacks may end a worker's other link): no wait for itself, and the
 * freed end's events of the same turn are not served. */
typedef struct freer {
  iso_link* victim;
  sink* s;
} freer;

static void freer_msg(const uint8_t* d, size_t n, void* arg) {
  freer* f = arg;
  sink_msg(d, n, f->s);
  iso_link_free(f->victim);
  f->victim = NULL;
}

static void t_free_from_callback(void) {
  sink sa, sb, sv;
  sink_init(&sa);
  sink_init(&sb);
  sink_init(&sv);
  int fds[2], vfds[2];
  pair(fds);
  pair(vfds);
  iso_link* v = open_end(vfds[0], &sv, 0, 0);
  freer f = {.victim = v, .s = &sa};
  iso_link_opts o = {.fd = fds[0],
                     .head = HEAD,
                     .head_len = HEAD_LEN,
                     .hub = hub(),
                     .msg_cb = freer_msg,
                     .arg = &f};
  iso_link* a = NULL;
  CHECK_EQ(iso_link_new(&o, &a, NULL, 0), 0);
  iso_link* b = open_end(fds[1], &sb, 0, 0);
  /* both ready in one turn: the victim's peer writes too */
  uint8_t r[REC] = {0};
  CHECK_EQ(write(vfds[1], "\x12\0\0\0HDxxxxxxxxxxxxxxxx", 22), 22);
  CHECK_EQ(iso_link_send(b, r, REC), 0);
  CHECK(SINK_WAIT(&sa, msgs, 1, 5000));
  sleep_ms(20);
  CHECK(f.victim == NULL);
  iso_link_free(a);
  iso_link_free(b);
  close(vfds[1]);
  hub_end();
  sink_free(&sa);
  sink_free(&sb);
  sink_free(&sv);
}

static const iso_test cases[] = {
    {"round_trip", t_round_trip},
    {"eof_at_close", t_eof_at_close},
    {"owner_told_gone", t_owner_told_gone},
    {"burst_batches", t_burst_batches},
    {"max_send_splits", t_max_send_splits},
    {"poll_mode", t_poll_mode},
    {"big_message_slow_reader", t_big_message_slow_reader},
    {"open_refusals", t_open_refusals},
    {"oversized_refused", t_oversized_refused},
    {"max_queued", t_max_queued},
    {"max_queued_drains", t_max_queued_drains},
    {"child_echo_and_kill", t_child_echo_and_kill},
    {"kill_mid_transfer", t_kill_mid_transfer},
    {"close_while_sending", t_close_while_sending},
    {"close_while_flooded", t_close_while_flooded},
    {"close_while_flooded_poll", t_close_while_flooded_poll},
    {"close_under_load", t_close_under_load},
    {"free_from_callback", t_free_from_callback},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "--child") == 0) {
    return child_main(argv[2], atoi(argv[3]),
                      argc > 4 ? (size_t)strtoull(argv[4], NULL, 10) : 0);
  }
  return iso_test_main(argc, argv, cases);
}
