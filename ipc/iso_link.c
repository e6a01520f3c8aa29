/* iso_link.c: framed batches of bytes over a connected AF_UNIX stream
 * socket (see iso_link.h).
 *
 * The outbox is one byte buffer of whole frames, [out_off, out_len)
 * still to write. Its last frame takes more records while none of its
 * bytes has left (`tail` is where it starts; tail_open), up to max_send;
 * a frame partly written is closed. When the outbox is empty, a send
 * writes the new frame straight from the caller's bytes (sendmsg with
 * the length, the head and the records as three pieces) and copies only
 * what the socket did not take. The end's poller is told to watch for
 * writable exactly while the outbox holds something (want_out).
 *
 * The reading side (one thread at a time: the hub's, or the owner's in
 * iso_link_drain) keeps the message under way in `in`: it reads what the
 * socket has, hands every whole frame to the callback in place, and
 * keeps a partial one; a frame's length is checked against max_recv
 * before the buffer grows for it. It reads at most READ_BUDGET bytes per
 * turn, so that one flooding peer does not starve a hub's other ends
 * (the poll is level-triggered: the rest comes next turn).
 *
 * The hub: one epoll set; each event names its link. A link freed on
 * another thread must not be in use by the hub's thread, nor named by an
 * event of the batch the hub is working through: the hub takes a batch
 * (epoll_wait, not blocking) under its lock, and under that lock
 * iso_link_free removes the link from the set, blanks its events in the
 * batch and waits while the hub runs that link's callbacks (`running`);
 * on the hub's own thread (a callback freeing another link) no wait is
 * needed. (A batch taken outside the lock could name a link freed before
 * the batch was in view: TSan found it, test_service_hostile.)
 */
#include "iso_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"

/* The reading buffer's first size, and the most it keeps between
 * messages (a larger one, grown for a big message, is given back). */
#define IN_FIRST (64u << 10)
#define IN_KEEP (1u << 20)
/* Bytes one turn reads from one end before it lets the others go. */
#define READ_BUDGET (1u << 20)
/* The outbox's most kept between bursts. */
#define OUT_KEEP (1u << 20)
/* How long iso_link_free waits for a peer to take what the outbox
 * holds. */
#define LINGER_MS 100
/* Events a hub takes per epoll_wait. */
#define HUB_BATCH 64

struct iso_link_hub {
  int epfd;
  pthread_mutex_t lock;
  pthread_cond_t idle;
  int waiters;       /* frees waiting for `running` to change */
  iso_link* running; /* whose callbacks the hub's thread runs now */
  pthread_t thread;  /* the thread in iso_link_hub_run, */
  int in_run;        /* while it is there */
  struct epoll_event evs[HUB_BATCH];
  int nev; /* the batch under way */
};

struct iso_link {
  int fd;
  int epfd; /* the poller: the hub's, or this end's own (owner-read) */
  iso_link_hub* hub;
  size_t max_recv, max_send, max_queued;
  uint8_t* head;
  size_t head_len;
  iso_link_msg_cb msg_cb;
  iso_link_event_cb event_cb;
  void* arg;

  /* the outbox, under lock */
  pthread_mutex_t lock;
  uint8_t* out;
  size_t out_off, out_len, out_cap;
  size_t tail; /* where the last frame starts */
  int tail_open;
  int want_out;    /* the poller watches for writable */
  atomic_int dead; /* the connection failed (a write), or the peer went */

  /* the reading side (its thread's only) */
  uint8_t* in;
  size_t in_off, in_len, in_cap;
  atomic_int gone; /* PEER_GONE reported, or the link is closing */
};

static int set_err(char* err, size_t errlen, int rc, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_err(char* err, size_t errlen, int rc, const char* fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static void put_len(uint8_t* p, size_t len) {
  p[0] = (uint8_t)len;
  p[1] = (uint8_t)(len >> 8);
  p[2] = (uint8_t)(len >> 16);
  p[3] = (uint8_t)(len >> 24);
}

static size_t get_len(const uint8_t* p) {
  return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
         (size_t)p[3] << 24;
}

/* ---- the poller ---------------------------------------------------------- */

/* Watches l's socket for readable, and writable when `out` is set. The
 * link's own epoll, or its hub's: epoll_ctl is safe from any thread. */
static void watch(iso_link* l, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u),
                           .data.ptr = l};
  (void)epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->fd, &ev); /* ENOENT: gone */
}

/* Called with l->lock held. */
static void want_out_locked(iso_link* l, int on) {
  if (l->want_out != on && !atomic_load(&l->dead)) {
    l->want_out = on;
    watch(l, on);
  }
}

/* ---- the outbox ---------------------------------------------------------- */

/* Drops what the outbox holds. Called with l->lock held. */
static void out_drop_locked(iso_link* l) {
  l->out_off = l->out_len = 0;
  l->tail_open = 0;
  if (l->out_cap > OUT_KEEP) {
    free(l->out);
    l->out = NULL;
    l->out_cap = 0;
  }
}

/* The connection failed under a write: nothing more is sent (the reading
 * side reports PEER_GONE, since the socket is shut down). Called with
 * l->lock held. */
static void write_failed_locked(iso_link* l) {
  atomic_store(&l->dead, 1);
  out_drop_locked(l);
  shutdown(l->fd, SHUT_RDWR);
}

/* Writes what the outbox holds while the socket takes it. Called with
 * l->lock held. */
static void flush_locked(iso_link* l) {
  while (l->out_off < l->out_len && !atomic_load(&l->dead)) {
    ssize_t w = send(l->fd, l->out + l->out_off, l->out_len - l->out_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      l->out_off += (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      write_failed_locked(l);
    }
  }
  if (l->out_off > l->tail) {
    l->tail_open = 0; /* a frame partly written is closed */
  }
  if (l->out_off == l->out_len) {
    out_drop_locked(l);
  }
  want_out_locked(l, l->out_len > l->out_off);
}

/* Makes room for n more bytes at the outbox's end, moving what waits to
 * the front first. Returns 0 or ISO_ENOMEM. Called with l->lock held. */
static int out_room_locked(iso_link* l, size_t n) {
  if (l->out_off > 0) {
    memmove(l->out, l->out + l->out_off, l->out_len - l->out_off);
    l->out_len -= l->out_off;
    l->tail = l->tail >= l->out_off ? l->tail - l->out_off : 0;
    l->out_off = 0;
  }
  if (l->out_len + n <= l->out_cap) {
    return 0;
  }
  size_t cap = l->out_cap ? l->out_cap : 4096;
  while (cap < l->out_len + n) {
    cap *= 2;
  }
  uint8_t* p = realloc(l->out, cap);
  if (p == NULL) {
    return ISO_ENOMEM;
  }
  l->out = p;
  l->out_cap = cap;
  return 0;
}

/* Appends a frame's first part (length and head) and its n bytes of
 * records as a new last frame; `skip` of its bytes left already.
 * Called with l->lock held. */
static int out_frame_locked(iso_link* l,
                            const uint8_t* pre,
                            size_t pre_len,
                            const void* bytes,
                            size_t n,
                            size_t skip) {
  size_t total = pre_len + n;
  if (out_room_locked(l, total - skip) != 0) {
    return ISO_ENOMEM;
  }
  size_t at = l->out_len;
  if (skip < pre_len) {
    memcpy(l->out + at, pre + skip, pre_len - skip);
    memcpy(l->out + at + pre_len - skip, bytes, n);
  } else {
    memcpy(l->out + at, (const uint8_t*)bytes + (skip - pre_len), total - skip);
  }
  l->out_len += total - skip;
  l->tail = at;
  l->tail_open = skip == 0;
  return 0;
}

int iso_link_send(iso_link* l, const void* bytes, size_t n) {
  if (n == 0) {
    return 0;
  }
  if (n > l->max_send - l->head_len) {
    return ISO_ETOOBIG;
  }
  pthread_mutex_lock(&l->lock);
  int rc = 0;
  size_t queued = l->out_len - l->out_off;
  if (atomic_load(&l->dead)) {
    rc = ISO_ECLOSED;
  } else if (l->max_queued != 0 && queued + n > l->max_queued) {
    rc = ISO_EBUSY;
  } else if (queued > 0 && l->tail_open &&
             l->out_len - l->tail - ISO_LINK_FRAME_LEN + n <= l->max_send) {
    /* the last frame has not started to leave: the records join it */
    if (out_room_locked(l, n) != 0) {
      rc = ISO_ENOMEM;
    } else {
      memcpy(l->out + l->out_len, bytes, n);
      l->out_len += n;
      put_len(l->out + l->tail, l->out_len - l->tail - ISO_LINK_FRAME_LEN);
    }
  } else {
    uint8_t pre[ISO_LINK_FRAME_LEN + 64];
    size_t pre_len = ISO_LINK_FRAME_LEN + l->head_len;
    put_len(pre, l->head_len + n);
    if (l->head_len > 0) {
      memcpy(pre + ISO_LINK_FRAME_LEN, l->head, l->head_len);
    }
    size_t sent = 0;
    if (queued == 0) { /* nothing ahead: straight to the socket */
      struct iovec iov[2] = {{pre, pre_len}, {(void*)bytes, n}};
      struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
      ssize_t w;
      do {
        w = sendmsg(l->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      } while (w < 0 && errno == EINTR);
      if (w >= 0) {
        sent = (size_t)w;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        write_failed_locked(l);
        rc = ISO_ECLOSED;
      }
    }
    if (rc == 0 && sent < pre_len + n) {
      rc = out_frame_locked(l, pre, pre_len, bytes, n, sent);
      if (rc != 0 && sent > 0) {
        /* half a frame left: the stream cannot go on */
        write_failed_locked(l);
      }
      want_out_locked(l, l->out_len > l->out_off);
    }
  }
  pthread_mutex_unlock(&l->lock);
  return rc;
}

/* The codec's (iso_link_msg.c) record, sent. */
int iso_link_send_rec(iso_link* link, const iso_link_rec* rec) {
  uint8_t small[256];
  iso_buf b;
  iso_buf_init_with(&b, small, sizeof small);
  int rc = iso_link_put(&b, rec);
  if (rc == 0) {
    rc = iso_link_send(link, b.data, b.len);
  }
  iso_buf_close(&b);
  return rc;
}

/* ---- the reading side ---------------------------------------------------- */

/* The peer is gone (or the link refused it): reported once; the socket
 * leaves its poller (it would poll ready for ever) and is shut down, so
 * the peer hears of it too. Thread: the reading one. */
static void peer_gone(iso_link* l) {
  if (atomic_exchange(&l->gone, 1)) {
    return;
  }
  pthread_mutex_lock(&l->lock);
  atomic_store(&l->dead, 1);
  out_drop_locked(l);
  pthread_mutex_unlock(&l->lock);
  (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
  shutdown(l->fd, SHUT_RDWR);
  free(l->in);
  l->in = NULL;
  l->in_off = l->in_len = l->in_cap = 0;
  if (l->event_cb != NULL) {
    l->event_cb(l, ISO_LINK_PEER_GONE, l->arg);
  }
}

/* Hands every whole frame in `in` to cb. Returns the number handed, or
 * -1 once the link is gone (a frame above max_recv, or an empty one,
 * which no end sends). */
static int deliver(iso_link* l, iso_link_msg_cb cb, void* arg) {
  int n = 0;
  while (l->in_len - l->in_off >= ISO_LINK_FRAME_LEN) {
    size_t len = get_len(l->in + l->in_off);
    if (len == 0 || len > l->max_recv) {
      peer_gone(l);
      return -1;
    }
    if (l->in_len - l->in_off < ISO_LINK_FRAME_LEN + len) {
      break;
    }
    const uint8_t* msg = l->in + l->in_off + ISO_LINK_FRAME_LEN;
    l->in_off += ISO_LINK_FRAME_LEN + len;
    cb(msg, len, arg);
    n++;
    if (atomic_load(&l->gone)) {
      return -1;
    }
  }
  return n;
}

/* Room to read into: the partial frame moved to the front, the buffer
 * grown for the whole of it (its length is checked: deliver ran first).
 * Returns 0 or ISO_ENOMEM. */
static int in_room(iso_link* l) {
  size_t have = l->in_len - l->in_off;
  if (l->in_off > 0) {
    memmove(l->in, l->in + l->in_off, have);
    l->in_off = 0;
    l->in_len = have;
  }
  size_t need = IN_FIRST;
  if (have >= ISO_LINK_FRAME_LEN) {
    size_t whole = ISO_LINK_FRAME_LEN + get_len(l->in);
    need = whole > need ? whole : need;
  }
  if (l->in_cap > IN_KEEP && need <= IN_KEEP) {
    need = IN_KEEP; /* give back what a big message took */
  } else if (need <= l->in_cap) {
    return 0;
  }
  uint8_t* p = realloc(l->in, need);
  if (p == NULL) {
    return ISO_ENOMEM;
  }
  l->in = p;
  l->in_cap = need;
  return 0;
}

/* Reads what the socket has (within the budget) and hands whole messages
 * to cb. Returns the number handed. Thread: the reading one. */
static int read_some(iso_link* l, iso_link_msg_cb cb, void* arg) {
  int total = 0;
  size_t budget = READ_BUDGET;
  while (!atomic_load(&l->gone)) {
    int n = deliver(l, cb, arg);
    if (n < 0) {
      break;
    }
    total += n;
    if (budget == 0) {
      break; /* level-triggered: the rest next turn */
    }
    if (in_room(l) != 0) {
      break; /* out of memory: try again next turn */
    }
    size_t room = l->in_cap - l->in_len;
    ssize_t r = recv(l->fd, l->in + l->in_len, room < budget ? room : budget,
                     MSG_DONTWAIT);
    if (r > 0) {
      l->in_len += (size_t)r;
      budget -= (size_t)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else { /* 0: the peer's end closed; ECONNRESET, EPIPE, ... */
      peer_gone(l);
    }
  }
  if (!atomic_load(&l->gone) && l->in_off == l->in_len && l->in_cap > IN_KEEP) {
    free(l->in); /* nothing under way: give a big message's room back */
    l->in = NULL;
    l->in_off = l->in_len = l->in_cap = 0;
  }
  return total;
}

/* One turn of an end: its outbox, then its messages. */
static int serve(iso_link* l, iso_link_msg_cb cb, void* arg) {
  pthread_mutex_lock(&l->lock);
  if (l->out_len > l->out_off) {
    flush_locked(l);
  }
  pthread_mutex_unlock(&l->lock);
  return read_some(l, cb, arg);
}

int iso_link_fd(iso_link* l) {
  return l->hub != NULL ? ISO_EINVAL : l->epfd;
}

int iso_link_drain(iso_link* l, iso_link_msg_cb cb, void* arg) {
  if (l->hub != NULL || atomic_load(&l->gone)) {
    return 0;
  }
  return serve(l, cb, arg);
}

/* ---- the hub ------------------------------------------------------------- */

int iso_link_hub_new(iso_link_hub** out) {
  iso_link_hub* h = calloc(1, sizeof(*h));
  if (h == NULL) {
    return ISO_ENOMEM;
  }
  h->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (h->epfd < 0) {
    int rc = errno == ENOMEM ? ISO_ENOMEM : ISO_EIO;
    free(h);
    return rc;
  }
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->idle, NULL);
  *out = h;
  return 0;
}

void iso_link_hub_free(iso_link_hub* h) {
  if (h == NULL) {
    return;
  }
  close(h->epfd);
  pthread_mutex_destroy(&h->lock);
  pthread_cond_destroy(&h->idle);
  free(h);
}

int iso_link_hub_fd(const iso_link_hub* h) {
  return h->epfd;
}

int iso_link_hub_run(iso_link_hub* h) {
  /* the batch is taken under the lock (epoll_wait does not block here):
   * a link detached after it was taken is blanked in it, and one
   * detached before is not in it */
  pthread_mutex_lock(&h->lock);
  int n;
  do {
    n = epoll_wait(h->epfd, h->evs, HUB_BATCH, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    pthread_mutex_unlock(&h->lock);
    return 0;
  }
  h->thread = pthread_self();
  h->in_run = 1;
  h->nev = n;
  for (int i = 0; i < n; i++) {
    iso_link* l = h->evs[i].data.ptr;
    if (l == NULL) {
      continue; /* freed meanwhile */
    }
    h->running = l;
    pthread_mutex_unlock(&h->lock);
    serve(l, l->msg_cb, l->arg);
    pthread_mutex_lock(&h->lock);
    h->running = NULL;
    if (h->waiters > 0) {
      pthread_cond_broadcast(&h->idle);
    }
  }
  h->nev = 0;
  h->in_run = 0;
  pthread_mutex_unlock(&h->lock);
  return n;
}

/* Takes l out of its hub: no callback of it runs once this returns. */
static void hub_detach(iso_link* l) {
  iso_link_hub* h = l->hub;
  pthread_mutex_lock(&h->lock);
  (void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, l->fd, NULL);
  for (int i = 0; i < h->nev; i++) {
    if (h->evs[i].data.ptr == l) {
      h->evs[i].data.ptr = NULL;
    }
  }
  int self = h->in_run && pthread_equal(h->thread, pthread_self());
  if (!self) {
    h->waiters++;
    while (h->running == l) {
      pthread_cond_wait(&h->idle, &h->lock);
    }
    h->waiters--;
  }
  pthread_mutex_unlock(&h->lock);
}

/* ---- open and close ------------------------------------------------------ */

int iso_link_socketpair(int fds[2], char* err, size_t errlen) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    int e = errno;
    return set_err(err, errlen,
                   e == ENOMEM || e == ENOBUFS ? ISO_ENOMEM : ISO_EIO,
                   "cannot make a link's socket pair: %s", strerror(e));
  }
  return 0;
}

int iso_link_check_fd(int fd, char* err, size_t errlen) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    return set_err(err, errlen, ISO_EINVAL, "descriptor %d is not open", fd);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return set_err(err, errlen, ISO_EINVAL, "descriptor %d is not a socket",
                   fd);
  }
  int type = 0, domain = 0;
  socklen_t tl = sizeof type, dl = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) != 0 ||
      type != SOCK_STREAM || domain != AF_UNIX) {
    return set_err(err, errlen, ISO_EINVAL,
                   "descriptor %d is not an AF_UNIX stream socket", fd);
  }
  return 0;
}

static void link_release(iso_link* l) {
  if (l->epfd >= 0 && l->hub == NULL) {
    close(l->epfd);
  }
  if (l->fd >= 0) {
    close(l->fd);
  }
  pthread_mutex_destroy(&l->lock);
  free(l->out);
  free(l->in);
  free(l->head);
  free(l);
}

int iso_link_new(const iso_link_opts* o,
                 iso_link** out,
                 char* err,
                 size_t errlen) {
  int fd = o != NULL ? o->fd : -1;
  size_t max_send =
      o != NULL && o->max_send ? o->max_send : ISO_LINK_MAX_MSG_DEFAULT;
  int rc = 0;
  if (o == NULL || o->head_len > 64 || (o->head_len > 0 && o->head == NULL) ||
      o->head_len >= max_send || max_send > UINT32_MAX ||
      o->max_recv > UINT32_MAX || (o->hub != NULL) != (o->msg_cb != NULL)) {
    rc = set_err(err, errlen, ISO_EINVAL, "bad link options");
  } else {
    rc = iso_link_check_fd(fd, err, errlen);
  }
  int fl = rc == 0 ? fcntl(fd, F_GETFL) : -1;
  if (rc == 0 && (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)) {
    rc = set_err(err, errlen, ISO_EIO,
                 "cannot make descriptor %d "
                 "non-blocking: %s",
                 fd, strerror(errno));
  }
  iso_link* l = rc == 0 ? calloc(1, sizeof(*l)) : NULL;
  if (rc == 0 && l == NULL) {
    rc = set_err(err, errlen, ISO_ENOMEM, "out of memory");
  }
  if (rc != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return rc;
  }
  l->fd = fd;
  l->epfd = -1;
  pthread_mutex_init(&l->lock, NULL);
  l->max_send = max_send;
  l->max_recv = o->max_recv ? o->max_recv : ISO_LINK_MAX_MSG_DEFAULT;
  l->max_queued = o->max_queued;
  l->msg_cb = o->msg_cb;
  l->event_cb = o->event_cb;
  l->arg = o->arg;
  l->head_len = o->head_len;
  if (o->head_len > 0) {
    l->head = malloc(o->head_len);
    if (l->head == NULL) {
      link_release(l);
      return set_err(err, errlen, ISO_ENOMEM, "out of memory");
    }
    memcpy(l->head, o->head, o->head_len);
  }
  l->hub = o->hub;
  l->epfd = o->hub != NULL ? o->hub->epfd : epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
  if (l->epfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    if (l->hub != NULL) {
      l->epfd = -1; /* the hub's: not ours to close */
    }
    link_release(l);
    return set_err(err, errlen, e == ENOMEM ? ISO_ENOMEM : ISO_EIO,
                   "cannot poll a link: %s", strerror(e));
  }
  *out = l;
  return 0;
}

void iso_link_free(iso_link* l) {
  if (l == NULL) {
    return;
  }
  if (l->hub != NULL) {
    hub_detach(l);
  }
  atomic_store(&l->gone, 1); /* no event from here on */
  /* what waits still leaves while the peer reads it, for a while: a
   * worker's last records (STATE stopped) as its process ends */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_mutex_lock(&l->lock);
  for (;;) {
    flush_locked(l);
    if (l->out_len == l->out_off || atomic_load(&l->dead)) {
      break;
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t ms = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
                 (t.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms >= LINGER_MS) {
      break; /* the rest is dropped */
    }
    pthread_mutex_unlock(&l->lock);
    struct pollfd p = {.fd = l->fd, .events = POLLOUT};
    poll(&p, 1, (int)(LINGER_MS - ms));
    pthread_mutex_lock(&l->lock);
  }
  pthread_mutex_unlock(&l->lock);
  /* the peer reads what was written, then the end: even if a copy of
   * this descriptor lives on somewhere (a child's, before its exec) */
  shutdown(l->fd, SHUT_RDWR);
  link_release(l);
}
