/* iso_link.c: batches of bytes over NNG PAIR1 (see iso_link.h).
 *
 * An end has two PAIR1 sockets: `out`, on which it only sends records,
 * and `in`, on which it only receives them (iso_link.h, DESIGN, says why).
 * On each, the first connection is the peer's (claimed in
 * NNG_PIPE_EV_ADD_PRE; later ones are closed there); the peer is up once
 * both connections are, and gone once either is removed or the peer
 * sends EOF. A dialing end closes a dialer whose connection is removed,
 * which NNG would otherwise dial again (after a random back-off that
 * 1.5.2 computes in a signed int, so half of them come at once).
 *
 * The outbox is a FIFO of NNG messages: the last one takes records until
 * the next would not fit in max_send, and the first one goes out when
 * nothing of ours is inside NNG (`sending` is 0) and the peer's hello
 * lies held on `out`. A message is built in place (nng_msg_append after
 * reserving room by doubling: NNG's own growth is exact), so records are
 * copied once, into the message.
 *
 * Three kinds of message besides records, none of which reaches the
 * owner: the hello (1 byte, the only message an end sends on `in`, when
 * that connection comes up), EOF (empty, the last message an end sends on
 * `out`) and nothing else; records are never empty, since iso_link_send
 * refuses nothing to send.
 *
 * Peer state and the event callback run under ev_lock, so PEER_UP comes
 * before PEER_GONE even when NNG runs REM_POST before ADD_POST (a
 * connection that dies as it is made).
 */
#include "iso_link.h"

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"

/* How long iso_link_free waits for idle connections, and for how much of
 * it the ends try to agree (iso_link.h, DESIGN; quiesce below). */
#define QUIESCE_MAX_MS 500
#define QUIESCE_AGREE_MS 300

/* The first room a new message gets, before doubling. */
#define MSG_FIRST_ROOM 4096

/* What `out` may receive: the hello (PAIR1 adds a 4-byte header). */
#define OUT_RECV_MAX 64

enum { PEER_NONE = 0, PEER_UP, PEER_GONE };

/* One of an end's two sockets. */
typedef struct side {
  iso_link* l;
  nng_socket sock;
  nng_dialer dialer; /* a dialing end's, else id 0 */
  int rfd, sfd;      /* NNG_OPT_RECVFD, NNG_OPT_SENDFD */
  atomic_uint pipe;  /* the claiming connection's id, 0: none yet */
  atomic_int added;  /* ADD_POST came for it */
  atomic_int up;     /* it exists: claimed, not removed */
} side;

struct iso_link {
  side out, in;
  nng_aio* send_aio; /* on out */
  nng_aio* recv_aio; /* on in, for a callback end */
  nng_aio* wait_aio; /* sleeps while the hello has not arrived */
  int is_ipc;

  /* the outbox, under lock */
  pthread_mutex_t lock;
  nng_msg** q; /* ring of q_cap: q_len messages from q_head */
  size_t q_head, q_len, q_cap;
  int tail_open;   /* the last message takes more records */
  size_t queued;   /* bytes in the outbox */
  int sending;     /* send_aio is inside NNG */
  int sending_eof; /* ... with our EOF */
  int eof_queued;  /* our EOF is on its way: nothing else may follow */
  int eof_out;     /* NNG took our EOF: we send nothing more */
  int hello_held;  /* the peer's hello lies on out: it reads no more */
  int waiting;     /* wait_aio is asleep */

  size_t max_recv, max_send, max_queued;
  uint8_t* head;
  size_t head_len;
  int want_pid;
  iso_link_msg_cb msg_cb;
  iso_link_event_cb event_cb;
  void* arg;

  /* the peer, under ev_lock (read without it as atomics) */
  pthread_mutex_t ev_lock;
  atomic_int state; /* PEER_* */
  atomic_int peer_pid;
  atomic_int eof_in; /* the peer said it sends nothing more */

  atomic_int closing; /* iso_link_free: no new NNG call, no event */
  atomic_int in_nng;  /* threads inside an NNG call (io_enter) */
};

/* NNG 1.5.2 has crashed this project when a thread was still inside an
 * NNG call as the socket closed (iso_server.c, iso_client.c). So every
 * call on the sockets, their pipes and dialers made outside
 * iso_link_free goes between io_enter and io_leave, and the close sets
 * `closing` and waits for the count to drain before it stops anything.
 * Both atomics are sequentially consistent: either the caller sees
 * `closing` or the closer sees the count. */
static int io_enter(iso_link* l) {
  atomic_fetch_add(&l->in_nng, 1);
  if (atomic_load(&l->closing)) {
    atomic_fetch_sub(&l->in_nng, 1);
    return 0;
  }
  return 1;
}

static void io_leave(iso_link* l) {
  atomic_fetch_sub(&l->in_nng, 1);
}

static void set_err(char* err, size_t errlen, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char* err, size_t errlen, const char* fmt, ...) {
  if (err == NULL || errlen == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 iff fd polls readable now (a pollable of NNG's: raised or not). */
static int raised(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/* ---- the outbox ---------------------------------------------------------- */

static nng_msg* q_at(const iso_link* l, size_t i) {
  return l->q[(l->q_head + i) % l->q_cap];
}

/* Takes the first message off the outbox; `len` is its length, read
 * while it was still ours (once NNG took it, its receiver may already
 * have freed it: inproc hands over the message itself). */
static nng_msg* q_pop_len(iso_link* l, size_t len) {
  nng_msg* m = l->q[l->q_head];
  l->q_head = (l->q_head + 1) % l->q_cap;
  l->q_len--;
  if (l->q_len == 0) {
    l->tail_open = 0;
  }
  l->queued -= len;
  return m;
}

static nng_msg* q_pop(iso_link* l) {
  return q_pop_len(l, nng_msg_len(q_at(l, 0)));
}

/* Appends m as the new last message. Returns 0 or ISO_ENOMEM. */
static int q_push(iso_link* l, nng_msg* m) {
  if (l->q_len == l->q_cap) {
    size_t cap = l->q_cap ? l->q_cap * 2 : 8;
    nng_msg** q = malloc(cap * sizeof(*q));
    if (q == NULL) {
      return ISO_ENOMEM;
    }
    for (size_t i = 0; i < l->q_len; i++) {
      q[i] = q_at(l, i);
    }
    free(l->q);
    l->q = q;
    l->q_head = 0;
    l->q_cap = cap;
  }
  l->q[(l->q_head + l->q_len) % l->q_cap] = m;
  l->q_len++;
  l->queued += nng_msg_len(m);
  return 0;
}

/* Drops what the outbox holds. Called with l->lock held. */
static void outbox_drop_locked(iso_link* l) {
  while (l->q_len > 0) {
    nng_msg_free(q_pop(l));
  }
}

/* 1 once the peer's hello lies on out; else 0, with wait_aio asleep to
 * try again (records wait in the outbox meanwhile). Called with l->lock
 * held. */
static int hello_held_locked(iso_link* l) {
  if (!l->hello_held && raised(l->out.rfd)) {
    l->hello_held = 1;
  }
  if (!l->hello_held && !l->waiting && io_enter(l)) {
    l->waiting = 1;
    nng_sleep_aio(1, l->wait_aio);
    io_leave(l);
  }
  return l->hello_held;
}

/* Sends the outbox's first messages while NNG takes them at once; the
 * first it does not take goes to send_aio. Called with l->lock held. */
static void flush_locked(iso_link* l) {
  while (!l->sending && l->q_len > 0 && hello_held_locked(l)) {
    if (!io_enter(l)) {
      return;
    }
    nng_msg* m = q_at(l, 0);
    size_t len = nng_msg_len(m);
    int eof = len == 0;
    int rv = nng_sendmsg(l->out.sock, m, NNG_FLAG_NONBLOCK);
    if (rv == 0) { /* NNG owns it now: m is not to be read again */
      q_pop_len(l, len);
      l->eof_out |= eof;
      io_leave(l);
      continue;
    }
    if (rv == NNG_EAGAIN) { /* the connection is busy, or not there yet */
      q_pop(l);
      l->sending = 1;
      l->sending_eof = eof;
      nng_aio_set_msg(l->send_aio, m);
      nng_send_aio(l->out.sock, l->send_aio);
    }
    io_leave(l); /* else closed: the outbox is freed at close */
    return;
  }
}

static void send_cb(void* arg) {
  iso_link* l = arg;
  int ok = nng_aio_result(l->send_aio) == 0;
  if (!ok) { /* cancelled: closing */
    nng_msg_free(nng_aio_get_msg(l->send_aio));
    nng_aio_set_msg(l->send_aio, NULL);
  }
  pthread_mutex_lock(&l->lock);
  l->eof_out |= ok && l->sending_eof;
  l->sending = 0;
  flush_locked(l);
  pthread_mutex_unlock(&l->lock);
}

static void wait_cb(void* arg) {
  iso_link* l = arg;
  int ok = nng_aio_result(l->wait_aio) == 0;
  pthread_mutex_lock(&l->lock);
  l->waiting = 0;
  if (ok) {
    flush_locked(l);
  }
  pthread_mutex_unlock(&l->lock);
}

/* Makes room for n more bytes in m, doubling. Returns 0 or ISO_ENOMEM. */
static int msg_room(nng_msg* m, size_t n) {
  size_t need = nng_msg_len(m) + n;
  size_t cap = nng_msg_capacity(m);
  if (need <= cap) {
    return 0;
  }
  if (cap < MSG_FIRST_ROOM) {
    cap = MSG_FIRST_ROOM;
  }
  while (cap < need) {
    cap *= 2;
  }
  return nng_msg_reserve(m, cap) == 0 ? 0 : ISO_ENOMEM;
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
  if (atomic_load(&l->closing) || atomic_load(&l->state) == PEER_GONE) {
    rc = ISO_ECLOSED;
  } else if (l->max_queued != 0 && l->queued + n > l->max_queued) {
    rc = ISO_EBUSY;
  } else {
    nng_msg* m = l->tail_open ? q_at(l, l->q_len - 1) : NULL;
    if (m != NULL && nng_msg_len(m) + n > l->max_send) {
      l->tail_open = 0; /* full: the records start a new message */
      m = NULL;
    }
    if (m == NULL) {
      if (nng_msg_alloc(&m, 0) != 0 || msg_room(m, l->head_len + n) != 0 ||
          nng_msg_append(m, l->head, l->head_len) != 0 || q_push(l, m) != 0) {
        if (m != NULL) {
          nng_msg_free(m);
        }
        rc = ISO_ENOMEM;
      } else {
        l->tail_open = 1;
      }
    }
    if (rc == 0) {
      if (msg_room(m, n) != 0 || nng_msg_append(m, bytes, n) != 0) {
        rc = ISO_ENOMEM; /* the message is as it was */
      } else {
        l->queued += n;
      }
    }
    flush_locked(l);
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

/* ---- the peer ------------------------------------------------------------ */

static void report(iso_link* l, iso_link_event ev) {
  if (l->event_cb != NULL && !atomic_load(&l->closing)) {
    l->event_cb(l, ev, l->arg);
  }
}

/* The peer is gone (reported once). Called with ev_lock held. */
static void gone_locked(iso_link* l) {
  if (atomic_load(&l->state) != PEER_GONE) {
    atomic_store(&l->state, PEER_GONE);
    report(l, ISO_LINK_PEER_GONE);
  }
}

/* Sends our EOF (once): after whatever of ours NNG has and instead of
 * what the outbox holds. It tells the peer we are gone for it even when
 * only its `out` connection knows (its `in` reads, its `out` does not),
 * and answers the peer's own EOF, so that its close knows when nothing
 * more can arrive (iso_link_free). */
static void say_eof(iso_link* l) {
  pthread_mutex_lock(&l->lock);
  if (!l->eof_queued) {
    l->eof_queued = 1;
    outbox_drop_locked(l);
    nng_msg* eof;
    if (nng_msg_alloc(&eof, 0) == 0 && q_push(l, eof) != 0) {
      nng_msg_free(eof);
    }
    flush_locked(l);
  }
  pthread_mutex_unlock(&l->lock);
}

/* The peer sent EOF: it sends nothing more, and is closing. */
static void peer_eof(iso_link* l) {
  if (atomic_exchange(&l->eof_in, 1)) {
    return;
  }
  pthread_mutex_lock(&l->ev_lock);
  gone_locked(l);
  pthread_mutex_unlock(&l->ev_lock);
  say_eof(l);
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void* arg) {
  side* sd = arg;
  iso_link* l = sd->l;
  unsigned id = (unsigned)nng_pipe_id(p);
  int hello = 0, close_dialer = 0, eof = 0;
  pthread_mutex_lock(&l->ev_lock);
  switch (ev) {
    case NNG_PIPE_EV_ADD_PRE: {
      /* the first connection is the peer's; nobody's after it */
      int ok = atomic_load(&sd->pipe) == 0 && !atomic_load(&l->closing) &&
               atomic_load(&l->state) == PEER_NONE;
      uint64_t pid = 0;
      if (ok && l->is_ipc &&
          nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) != 0) {
        pid = 0;
      }
      if (ok && l->want_pid != 0 && pid != (uint64_t)l->want_pid) {
        ok = 0;
      }
      if (ok) {
        atomic_store(&sd->pipe, id);
        atomic_store(&sd->up, 1);
        if (sd == &l->in) {
          atomic_store(&l->peer_pid, (int)pid);
        }
      } else {
        nng_pipe_close(p); /* NNG's way to refuse a pipe here */
      }
      break;
    }
    case NNG_PIPE_EV_ADD_POST:
      if (id == atomic_load(&sd->pipe) && !atomic_load(&sd->added) &&
          atomic_load(&l->state) == PEER_NONE) {
        atomic_store(&sd->added, 1);
        hello = sd == &l->in;
        if (atomic_load(&l->in.added) && atomic_load(&l->out.added)) {
          atomic_store(&l->state, PEER_UP);
          report(l, ISO_LINK_PEER_UP);
        }
      }
      break;
    case NNG_PIPE_EV_REM_POST:
      if (id == atomic_load(&sd->pipe)) {
        atomic_store(&sd->up, 0);
        close_dialer = nng_dialer_id(sd->dialer) > 0;
        eof = sd == &l->in; /* the peer's `out` would not notice */
        gone_locked(l);
      }
      break;
    default:
      break;
  }
  pthread_mutex_unlock(&l->ev_lock);
  /* Our hello, the one message we send on `in`: held unread at the
   * peer's `out`, it keeps that connection from reading (DESIGN). */
  nng_msg* m;
  if (hello && io_enter(l)) {
    if (nng_msg_alloc(&m, 0) == 0 && nng_msg_append(m, "h", 1) == 0 &&
        nng_sendmsg(l->in.sock, m, NNG_FLAG_NONBLOCK) != 0) {
      nng_msg_free(m);
    }
    io_leave(l);
  }
  if (eof) {
    say_eof(l);
  }
  /* A dialer would dial again: close it. This runs before NNG starts its
   * redial timer, which then sees it closing. Not under ev_lock: the
   * close waits for the dialer's connect callback, which may be this
   * link's ADD_POST, waiting for ev_lock. */
  if (close_dialer && io_enter(l)) {
    nng_dialer_close(sd->dialer);
    io_leave(l);
  }
}

int iso_link_peer_pid(const iso_link* l) {
  int pid = atomic_load(&l->peer_pid);
  return atomic_load(&l->state) == PEER_UP && pid > 0 ? pid : ISO_EINVAL;
}

/* ---- receiving ----------------------------------------------------------- */

/* Hands m to cb, or refuses it (above max_recv: inproc does not check)
 * by closing its connection, or takes it as the peer's EOF (empty).
 * Frees m. */
static void deliver(iso_link* l, nng_msg* m, iso_link_msg_cb cb, void* arg) {
  size_t len = nng_msg_len(m);
  if (len == 0) {
    peer_eof(l);
  } else if (len > l->max_recv) {
    if (io_enter(l)) {
      nng_pipe_close(nng_msg_get_pipe(m));
      io_leave(l);
    }
  } else if (!atomic_load(&l->closing)) {
    cb(nng_msg_body(m), len, arg);
  }
  nng_msg_free(m);
}

static void recv_cb(void* arg) {
  iso_link* l = arg;
  int rv = nng_aio_result(l->recv_aio);
  if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
    return;
  }
  if (rv == 0) {
    nng_msg* m = nng_aio_get_msg(l->recv_aio);
    nng_aio_set_msg(l->recv_aio, NULL);
    deliver(l, m, l->msg_cb, l->arg);
  }
  if (io_enter(l)) {
    nng_recv_aio(l->in.sock, l->recv_aio);
    io_leave(l);
  }
}

int iso_link_fd(iso_link* l) {
  return l->msg_cb != NULL ? ISO_EINVAL : l->in.rfd;
}

int iso_link_drain(iso_link* l, iso_link_msg_cb cb, void* arg) {
  int n = 0;
  for (;;) {
    if (!io_enter(l)) {
      break;
    }
    nng_msg* m;
    int rv = nng_recvmsg(l->in.sock, &m, NNG_FLAG_NONBLOCK);
    io_leave(l);
    if (rv != 0) {
      break;
    }
    size_t len = nng_msg_len(m);
    deliver(l, m, cb, arg);
    if (len > 0 && len <= l->max_recv) {
      n++;
    }
  }
  return n;
}

/* ---- open and close ------------------------------------------------------ */

static int from_nng(int rv) {
  switch (rv) {
    case NNG_ENOMEM:
      return ISO_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
    case NNG_EBADTYPE:
      return ISO_EINVAL;
    case NNG_ECONNREFUSED:
    case NNG_ENOENT:
      return ISO_ECONNECT;
    default:
      return ISO_EIO;
  }
}

/* Opens one side's socket: no NNG buffers (the outbox is the buffer,
 * and the close relies on it: DESIGN), the pipe events watched before
 * any connection can come. */
static int side_open(iso_link* l, side* sd) {
  sd->l = l;
  sd->dialer = (nng_dialer)NNG_DIALER_INITIALIZER;
  sd->rfd = sd->sfd = -1;
  int rv = nng_pair1_open(&sd->sock);
  if (rv != 0) {
    return rv;
  }
  if ((rv = nng_socket_set_int(sd->sock, NNG_OPT_SENDBUF, 0)) != 0 ||
      (rv = nng_socket_set_int(sd->sock, NNG_OPT_RECVBUF, 0)) != 0 ||
      (rv = nng_socket_get_int(sd->sock, NNG_OPT_RECVFD, &sd->rfd)) != 0 ||
      (rv = nng_socket_get_int(sd->sock, NNG_OPT_SENDFD, &sd->sfd)) != 0 ||
      (rv = nng_pipe_notify(sd->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, sd)) != 0 ||
      (rv = nng_pipe_notify(sd->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, sd)) !=
          0 ||
      (rv = nng_pipe_notify(sd->sock, NNG_PIPE_EV_REM_POST, pipe_cb, sd)) !=
          0) {
    nng_close(sd->sock);
    sd->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
  }
  return rv;
}

/* Listens or dials (once) on url, with the receive bound set on the
 * endpoint before it starts. */
static int side_start(side* sd, const char* url, int listen, size_t recv_max) {
  int rv;
  if (listen) {
    nng_listener ln;
    rv = nng_listener_create(&ln, sd->sock, url);
    if (rv == 0) {
      rv = nng_listener_set_size(ln, NNG_OPT_RECVMAXSZ, recv_max);
    }
    if (rv == 0 && sd->l->is_ipc) {
      rv = nng_listener_set_int(ln, NNG_OPT_IPC_PERMISSIONS, 0600);
    }
    if (rv == 0) {
      rv = nng_listener_start(ln, 0);
    }
    return rv;
  }
  nng_dialer d;
  rv = nng_dialer_create(&d, sd->sock, url);
  if (rv == 0) {
    rv = nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, recv_max);
  }
  if (rv == 0) {
    sd->dialer = d;              /* before the pipe events can run */
    rv = nng_dialer_start(d, 0); /* blocking: one attempt, then fails */
  }
  if (rv != 0 && nng_dialer_id(d) > 0) {
    nng_dialer_close(d);
    sd->dialer = (nng_dialer)NNG_DIALER_INITIALIZER;
  }
  return rv;
}

static void link_free(iso_link* l) {
  outbox_drop_locked(l); /* nobody else is left */
  free(l->q);
  nng_aio_free(l->send_aio);
  nng_aio_free(l->recv_aio);
  nng_aio_free(l->wait_aio);
  pthread_mutex_destroy(&l->lock);
  pthread_mutex_destroy(&l->ev_lock);
  free(l->head);
  free(l);
}

/* Undoes what iso_link_new made, when it fails. */
static void new_undo(iso_link* l) {
  atomic_store(&l->closing, 1); /* no event for what follows */
  if (nng_socket_id(l->in.sock) > 0) {
    nng_close(l->in.sock);
  }
  if (nng_socket_id(l->out.sock) > 0) {
    nng_close(l->out.sock);
  }
  link_free(l);
}

int iso_link_new(const iso_link_opts* o,
                 iso_link** out,
                 char* err,
                 size_t errlen) {
  const char* url = o != NULL ? o->url : NULL;
  if (url == NULL ||
      (strncmp(url, "ipc://", 6) != 0 && strncmp(url, "inproc://", 9) != 0)) {
    set_err(err, errlen, "a link's URL is ipc:// or inproc:// (got %s)",
            url != NULL ? url : "none");
    return ISO_EINVAL;
  }
  size_t max_send = o->max_send ? o->max_send : ISO_LINK_MAX_MSG_DEFAULT;
  char ld[300], dl[300]; /* the two addresses (iso_link.h) */
  if (o->head_len >= max_send || (o->head_len > 0 && o->head == NULL) ||
      (o->peer_pid != 0 && (!o->listen || strncmp(url, "ipc://", 6) != 0)) ||
      snprintf(ld, sizeof ld, "%s.ld", url) >= (int)sizeof ld ||
      snprintf(dl, sizeof dl, "%s.dl", url) >= (int)sizeof dl) {
    set_err(err, errlen, "bad link options for %s", url);
    return ISO_EINVAL;
  }
  iso_link* l = calloc(1, sizeof(*l));
  if (l == NULL ||
      (o->head_len > 0 && (l->head = malloc(o->head_len)) == NULL)) {
    free(l);
    return ISO_ENOMEM;
  }
  if (o->head_len > 0) {
    memcpy(l->head, o->head, o->head_len);
  }
  l->head_len = o->head_len;
  l->max_send = max_send;
  l->max_recv = o->max_recv ? o->max_recv : ISO_LINK_MAX_MSG_DEFAULT;
  l->max_queued = o->max_queued;
  l->want_pid = o->peer_pid;
  l->msg_cb = o->msg_cb;
  l->event_cb = o->event_cb;
  l->arg = o->arg;
  l->is_ipc = strncmp(url, "ipc://", 6) == 0;
  pthread_mutex_init(&l->lock, NULL);
  pthread_mutex_init(&l->ev_lock, NULL);

  int rv;
  if ((rv = nng_aio_alloc(&l->send_aio, send_cb, l)) != 0 ||
      (rv = nng_aio_alloc(&l->recv_aio, recv_cb, l)) != 0 ||
      (rv = nng_aio_alloc(&l->wait_aio, wait_cb, l)) != 0 ||
      (rv = side_open(l, &l->in)) != 0 || (rv = side_open(l, &l->out)) != 0) {
    set_err(err, errlen, "cannot set up a link: %s", nng_strerror(rv));
    new_undo(l);
    return from_nng(rv);
  }
  /* The listener sends on url.ld and receives on url.dl; the dialer the
   * other way round. The dialer dials its `in` first. */
  const char* in_url = o->listen ? dl : ld;
  const char* out_url = o->listen ? ld : dl;
  const char* failed = in_url;
  /* NNG's bound counts PAIR1's 4-byte header */
  rv = side_start(&l->in, in_url, o->listen, l->max_recv + 4);
  if (rv == 0) {
    failed = out_url;
    rv = side_start(&l->out, out_url, o->listen, OUT_RECV_MAX);
  }
  if (rv != 0) {
    set_err(err, errlen, "cannot %s %s: %s", o->listen ? "listen on" : "dial",
            failed, nng_strerror(rv));
    new_undo(l);
    return from_nng(rv);
  }
  if (l->msg_cb != NULL) {
    nng_recv_aio(l->in.sock, l->recv_aio);
  }
  *out = l;
  return 0;
}

/* Waits (bounded) until both connections are idle, so that closing them
 * cannot leave the ipc transport waiting for ever (iso_link.h, DESIGN).
 * Called by iso_link_free once nothing else of ours uses NNG.
 *
 * `out` reads nothing once the hello lies on it, so it is idle once what
 * we sent has left (SENDFD readable: with no NNG buffer, PAIR1 has
 * nothing of ours). `in` writes nothing after the hello, so it is idle
 * once nothing more can arrive: we send EOF on `out` and take and drop
 * what arrives on `in` until the peer's EOF, which it sends once it has
 * ours (peer_eof) and after which it sends nothing. A peer that does not
 * answer (its owner does not read, or it is not ours) is left to a
 * second way: we stop taking messages, and with no NNG buffer `in` reads
 * no more once PAIR1 holds one message nobody takes (RECVFD readable). */
static void quiesce(iso_link* l) {
  if (!l->is_ipc) {
    return;
  }
  int64_t start = mono_ms();
  int eof_out = l->eof_out; /* we answered the peer's EOF already */
  for (;;) {
    int64_t waited = mono_ms() - start;
    int out_up = atomic_load(&l->out.up), in_up = atomic_load(&l->in.up);
    if ((!out_up && !in_up) || waited >= QUIESCE_MAX_MS) {
      return;
    }
    int agreeing = waited < QUIESCE_AGREE_MS;
    if (!l->hello_held && raised(l->out.rfd)) {
      l->hello_held = 1;
    }
    if (out_up && !eof_out && l->hello_held) {
      /* one EOF per end, and nothing after it */
      nng_msg* eof;
      if (nng_msg_alloc(&eof, 0) == 0) {
        if (nng_sendmsg(l->out.sock, eof, NNG_FLAG_NONBLOCK) == 0) {
          eof_out = 1;
        } else {
          nng_msg_free(eof); /* our last message is still being written */
        }
      }
    }
    nng_msg* m;
    while (in_up && agreeing &&
           nng_recvmsg(l->in.sock, &m, NNG_FLAG_NONBLOCK) == 0) {
      if (nng_msg_len(m) == 0) {
        atomic_store(&l->eof_in, 1);
      }
      nng_msg_free(m);
    }
    int out_idle = !out_up || (raised(l->out.sfd) &&
                               (eof_out || !l->hello_held || !agreeing));
    int in_idle =
        !in_up || atomic_load(&l->eof_in) || (!agreeing && raised(l->in.rfd));
    if (out_idle && in_idle) {
      return;
    }
    if (agreeing && in_up && !atomic_load(&l->eof_in)) {
      struct pollfd p = {.fd = l->in.rfd, .events = POLLIN};
      poll(&p, 1, 1); /* until something arrives */
    } else {
      nng_msleep(1);
    }
  }
}

void iso_link_free(iso_link* l) {
  if (l == NULL) {
    return;
  }
  pthread_mutex_lock(&l->ev_lock); /* no event callback from here on */
  atomic_store(&l->closing, 1);
  pthread_mutex_unlock(&l->ev_lock);
  while (atomic_load(&l->in_nng) > 0) {
    nng_msleep(1);
  }
  /* No NNG call of ours starts from here on. Stopping the aios cancels a
   * send waiting for the connection (its message is freed), a receive
   * and a wait, and waits for their callbacks. */
  nng_aio_stop(l->recv_aio);
  nng_aio_stop(l->send_aio);
  nng_aio_stop(l->wait_aio);
  pthread_mutex_lock(&l->lock);
  outbox_drop_locked(l);
  pthread_mutex_unlock(&l->lock);
  quiesce(l);
  nng_close(l->in.sock); /* pipe callbacks end inside these */
  nng_close(l->out.sock);
  link_free(l);
}
