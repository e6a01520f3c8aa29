/* link_bench.c: the link's round trip (ipc/iso_link.h), beside a bare
 * socketpair echo and bare NNG PAIR1's (the link's transport before it
 * was a socketpair: the old floor), in one run.
 *
 *   link_bench [TRIPS]
 *
 * One record each way, one in flight, as the front and a worker would
 * exchange them: the front's end (on a hub, polled by a thread, as the
 * front's hub thread does) sends a TASK; the worker's end (read by its
 * owner: poll() on iso_link_fd, then iso_link_drain, as a worker's
 * uv_poll does) decodes it and answers a DONE with a small reply; the
 * front's callback decodes that and wakes the sender. The worker end on
 * a thread, and in another process (this program again, with --worker
 * FD: it inherits its end). Beside them: a bare AF_UNIX socketpair, the
 * same bytes as the TASK's frame written and echoed back by a process
 * (--sp-echo FD) with blocking read/write; and bare NNG, one PAIR1
 * socket each side over ipc://, echoed by a process (--echo URL) with
 * blocking nng_recvmsg/nng_sendmsg. Prints the median, p90 and p99 of
 * TRIPS round trips (default 20000) after 2000 not counted. This program
 * uses NNG directly for the baseline (an exception in
 * scripts/check-includes.sh).
 */
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_link.h"
#include "iso_mp.h"

#define WARMUP 2000

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

static void print_row(const char* what, int64_t* lat, int n) {
  qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
  printf("  %-40s p50 %6.1f us  p90 %6.1f us  p99 %6.1f us\n", what,
         lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3);
}

/* ---- the records: a call TASK, answered by a DONE -------------------------
 */

static iso_buf g_args, g_reply;

static void records_init(void) {
  iso_buf_init(&g_args);
  iso_buf_init(&g_reply);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &g_args);
  iso_mp_put_array(&w, 2);
  iso_mp_put_uint(&w, 2);
  iso_mp_put_uint(&w, 3);
  iso_mp_wr_init(&w, &g_reply);
  iso_mp_put_map(&w, 3); /* open for the stats the front adds */
  iso_mp_put_lit(&w, "status");
  iso_mp_put_lit(&w, "fulfilled");
  iso_mp_put_lit(&w, "value");
  iso_mp_put_uint(&w, 5);
}

static void put_task(iso_buf* out, uint32_t slot) {
  iso_link_rec r = {ISO_LINK_TASK,
                    .u.task = {.slot = slot,
                               .gen = 1,
                               .kind = ISO_JOB_CALL,
                               .module = iso_str_of("lib/math.js"),
                               .export_name = iso_str_of("add"),
                               .args = {g_args.data, g_args.len},
                               .deadline_ns = 1,
                               .sid = slot,
                               .perm_id = 1}};
  iso_link_put(out, &r);
}

/* ---- the worker's end: poll, drain, answer --------------------------------
 */

static atomic_int g_worker_gone;

static void worker_event(iso_link* l, iso_link_event ev, void* arg) {
  if (ev == ISO_LINK_PEER_GONE) {
    atomic_store(&g_worker_gone, 1);
  }
}

static void worker_msg(const uint8_t* d, size_t n, void* arg) {
  iso_link* l = arg;
  iso_link_rd rd;
  iso_link_rec r;
  char err[128];
  if (iso_link_rd_init(&rd, ISO_LINK_FRONT_JOBS, d, n, err, sizeof err)) {
    fprintf(stderr, "worker: %s\n", err);
    return;
  }
  while (iso_link_rd_next(&rd, &r, err, sizeof err) == 1) {
    if (r.kind == ISO_LINK_TASK) {
      iso_link_rec done = {ISO_LINK_DONE,
                           .u.done = {.slot = r.u.task.slot,
                                      .gen = r.u.task.gen,
                                      .status = ISO_STATUS_FULFILLED,
                                      .reply = {g_reply.data, g_reply.len}}};
      iso_link_send_rec(l, &done);
    }
  }
}

/* Wraps fd and answers until the front goes. */
static int worker_run(int fd) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_link_opts o = {
      .fd = fd, .head = head, .head_len = hl, .event_cb = worker_event};
  iso_link* l = NULL;
  char err[256];
  if (iso_link_new(&o, &l, err, sizeof err) != 0) {
    fprintf(stderr, "worker: %s\n", err);
    return 1;
  }
  struct pollfd p = {.fd = iso_link_fd(l), .events = POLLIN};
  while (!atomic_load(&g_worker_gone)) {
    if (poll(&p, 1, 100) > 0) {
      iso_link_drain(l, worker_msg, l);
    }
  }
  iso_link_free(l);
  return 0;
}

static void* worker_thread(void* arg) {
  worker_run((int)(intptr_t)arg);
  return NULL;
}

/* ---- the front's end: send a TASK, wait for its DONE ----------------------
 */

typedef struct front {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint32_t done; /* DONE records read */
} front;

static void front_msg(const uint8_t* d, size_t n, void* arg) {
  front* f = arg;
  iso_link_rd rd;
  iso_link_rec r;
  char err[128];
  uint32_t got = 0;
  if (iso_link_rd_init(&rd, ISO_LINK_WORKER_JOBS, d, n, err, sizeof err) == 0) {
    while (iso_link_rd_next(&rd, &r, err, sizeof err) == 1) {
      got += r.kind == ISO_LINK_DONE;
    }
  }
  pthread_mutex_lock(&f->mu);
  f->done += got;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static iso_link_hub* g_hub;
static atomic_int g_hub_stop;

static void* hub_main(void* arg) {
  (void)arg;
  struct pollfd p = {.fd = iso_link_hub_fd(g_hub), .events = POLLIN};
  while (!atomic_load(&g_hub_stop)) {
    if (poll(&p, 1, 50) > 0) {
      iso_link_hub_run(g_hub);
    }
  }
  return NULL;
}

/* Round trips over a link whose worker end start() starts with the other
 * end of the pair. */
static int link_trips(int trips,
                      int64_t* lat,
                      pid_t (*start)(int fd, pthread_t* th)) {
  front f = {.done = 0};
  pthread_mutex_init(&f.mu, NULL);
  pthread_cond_init(&f.cv, NULL);
  int fds[2];
  char err[256];
  if (iso_link_socketpair(fds, err, sizeof err) != 0 ||
      iso_link_hub_new(&g_hub) != 0) {
    fprintf(stderr, "link_bench: %s\n", err);
    return -1;
  }
  atomic_store(&g_hub_stop, 0);
  pthread_t hub_th;
  pthread_create(&hub_th, NULL, hub_main, NULL);
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_link_opts o = {.fd = fds[0],
                     .head = head,
                     .head_len = hl,
                     .hub = g_hub,
                     .msg_cb = front_msg,
                     .arg = &f};
  iso_link* l = NULL;
  if (iso_link_new(&o, &l, err, sizeof err) != 0) {
    fprintf(stderr, "link_bench: %s\n", err);
    return -1;
  }
  pthread_t th;
  pid_t pid = start(fds[1], &th);
  iso_buf task;
  iso_buf_init(&task);
  for (int i = 0; i < WARMUP + trips; i++) {
    iso_buf_reset(&task);
    put_task(&task, (uint32_t)i);
    int64_t t0 = now_ns();
    iso_link_send(l, task.data, task.len);
    pthread_mutex_lock(&f.mu);
    while (f.done < (uint32_t)i + 1) {
      pthread_cond_wait(&f.cv, &f.mu);
    }
    pthread_mutex_unlock(&f.mu);
    if (i >= WARMUP) {
      lat[i - WARMUP] = now_ns() - t0;
    }
  }
  iso_buf_close(&task);
  iso_link_free(l);
  if (pid > 0) {
    waitpid(pid, NULL, 0);
  } else {
    pthread_join(th, NULL);
  }
  atomic_store(&g_hub_stop, 1);
  pthread_join(hub_th, NULL);
  iso_link_hub_free(g_hub);
  pthread_cond_destroy(&f.cv);
  pthread_mutex_destroy(&f.mu);
  return 0;
}

/* The TASK's frame, as the link writes it. */
static void task_frame(iso_buf* out) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_buf rec;
  iso_buf_init(&rec);
  put_task(&rec, 1);
  size_t len = hl + rec.len;
  uint8_t pre[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                    (uint8_t)(len >> 24)};
  iso_buf_append(out, pre, 4);
  iso_buf_append(out, head, hl);
  iso_buf_append(out, rec.data, rec.len);
  iso_buf_close(&rec);
}

/* ---- a bare socketpair: the same bytes echoed -----------------------------
 */

static int sp_echo_run(int fd) {
  uint8_t buf[4096];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) {
      return 0;
    }
    if (write(fd, buf, (size_t)r) != r) {
      return 1;
    }
  }
}

static int read_full(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int sp_trips(int trips,
                    int64_t* lat,
                    pid_t (*start)(int fd, pthread_t* th)) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return -1;
  }
  pthread_t th;
  pid_t pid = start(fds[1], &th);
  iso_buf frame;
  iso_buf_init(&frame);
  task_frame(&frame);
  uint8_t* back = malloc(frame.len);
  for (int i = 0; i < WARMUP + trips; i++) {
    int64_t t0 = now_ns();
    if (write(fds[0], frame.data, frame.len) != (ssize_t)frame.len ||
        read_full(fds[0], back, frame.len) != 0) {
      return -1;
    }
    if (i >= WARMUP) {
      lat[i - WARMUP] = now_ns() - t0;
    }
  }
  free(back);
  iso_buf_close(&frame);
  close(fds[0]);
  waitpid(pid, NULL, 0);
  return 0;
}

/* ---- bare NNG: PAIR1 over ipc://, the same bytes echoed -------------------
 */

/* Echoes until nothing comes for half a second. */
static int echo_run(const char* url) {
  nng_socket s;
  nng_msg* m;
  if (nng_pair1_open(&s) != 0 ||
      nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500) != 0 ||
      nng_dial(s, url, NULL, 0) != 0) {
    return 1;
  }
  while (nng_recvmsg(s, &m, 0) == 0) {
    if (nng_sendmsg(s, m, 0) != 0) {
      nng_msg_free(m);
      break;
    }
  }
  nng_close(s);
  return 0;
}

static int nng_trips(int trips, int64_t* lat) {
  char url[128];
  snprintf(url, sizeof url, "ipc:///tmp/isopool-link-bench-%d", (int)getpid());
  nng_socket s;
  if (nng_pair1_open(&s) != 0 || nng_listen(s, url, NULL, 0) != 0) {
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", "link_bench", "--echo", url, (char*)NULL);
    _exit(127);
  }
  iso_buf task;
  iso_buf_init(&task);
  task_frame(&task);
  for (int i = 0; i < WARMUP + trips; i++) {
    nng_msg* m;
    int64_t t0 = now_ns();
    nng_msg_alloc(&m, task.len - 4);
    memcpy(nng_msg_body(m), task.data + 4, task.len - 4);
    nng_sendmsg(s, m, 0);
    if (nng_recvmsg(s, &m, 0) != 0) {
      return -1;
    }
    nng_msg_free(m);
    if (i >= WARMUP) {
      lat[i - WARMUP] = now_ns() - t0;
    }
  }
  iso_buf_close(&task);
  nng_close(s); /* the echo ends once nothing more comes */
  waitpid(pid, NULL, 0);
  return 0;
}

/* ---- where the other end runs ---------------------------------------------
 */

static const char* g_mode; /* --worker or --sp-echo, for the child */

static pid_t start_thread(int fd, pthread_t* th) {
  pthread_create(th, NULL, worker_thread, (void*)(intptr_t)fd);
  return 0;
}

/* The child inherits fd; the parent's copy closes. */
static pid_t start_process(int fd, pthread_t* th) {
  (void)th;
  pid_t pid = fork();
  if (pid == 0) {
    fcntl(fd, F_SETFD, 0);
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    execl("/proc/self/exe", "link_bench", g_mode, num, (char*)NULL);
    _exit(127);
  }
  close(fd);
  return pid;
}

int main(int argc, char** argv) {
  records_init();
  if (argc == 3 && strcmp(argv[1], "--worker") == 0) {
    return worker_run(atoi(argv[2]));
  }
  if (argc == 3 && strcmp(argv[1], "--sp-echo") == 0) {
    return sp_echo_run(atoi(argv[2]));
  }
  if (argc == 3 && strcmp(argv[1], "--echo") == 0) {
    return echo_run(argv[2]);
  }
  int trips = argc > 1 ? atoi(argv[1]) : 20000;
  if (trips < 100) {
    trips = 100;
  }
  int64_t* lat = malloc(sizeof(int64_t) * (size_t)trips);
  iso_buf t;
  iso_buf_init(&t);
  task_frame(&t);
  printf(
      "link_bench: %d round trips of one record each way, one in flight "
      "(a TASK of %zu bytes framed, a DONE back)\n",
      trips, t.len);
  iso_buf_close(&t);
  signal(SIGPIPE, SIG_IGN);
  enum { SP, LINK_THREAD, LINK_PROC, NNG_PROC };
  struct {
    const char* name;
    int kind;
  } rows[] = {
      {"socketpair, bare echo (process)", SP},
      {"link, TASK -> DONE (thread)", LINK_THREAD},
      {"link, TASK -> DONE (process)", LINK_PROC},
      {"ipc, bare NNG PAIR1 echo (process)", NNG_PROC},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int rc;
    switch (rows[i].kind) {
      case SP:
        g_mode = "--sp-echo";
        rc = sp_trips(trips, lat, start_process);
        break;
      case LINK_THREAD:
        rc = link_trips(trips, lat, start_thread);
        break;
      case LINK_PROC:
        g_mode = "--worker";
        rc = link_trips(trips, lat, start_process);
        break;
      default:
        rc = nng_trips(trips, lat);
        break;
    }
    if (rc != 0) {
      fprintf(stderr, "link_bench: %s failed\n", rows[i].name);
      return 1;
    }
    print_row(rows[i].name, lat, trips);
  }
  free(lat);
  iso_buf_close(&g_args);
  iso_buf_close(&g_reply);
  return 0;
}
