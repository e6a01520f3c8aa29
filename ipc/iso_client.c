/* iso_client.c: the client library (iso_client.h).
 *
 * DESIGN: every request runs on a slot: an NNG REQ context plus one aio
 * whose callback (slot_cb) drives send -> receive -> decode -> user
 * callback. Slots are created on demand up to max_inflight and kept on a
 * free list; c->mu guards only that list, the slot table, `closing` and
 * `in_nng`, and is never held while NNG runs a callback or the user's code
 * runs. A slot returns to the free list as the last thing its callback
 * does, so a slot is never reused while its callback is still touching it.
 * The blocking calls are the async path plus a waiter (mutex + condition)
 * on the caller's stack. Connection state comes from NNG pipe events and
 * is used only to tell "never connected" (ISO_ECONNECT) from "no reply in
 * time" (ISO_ETIMEDOUT).
 *
 * Closing: NNG 1.5.2 lets two of its own threads lock a socket's protocol
 * mutex after nng_close destroyed it ("panic: pthread_mutex_lock: Invalid
 * argument"), so the client makes sure neither is at work when it closes
 * the socket:
 *   - a thread inside nng_ctx_send or nng_ctx_recv holds a reference to
 *     the context; when the close marks the context closed, that call's
 *     release destroys it after the close stopped waiting for it
 *     (nni_ctx_rele). It happens when a receive completes at once (the
 *     reply was already in, or the deadline gone): the reply's callback
 *     runs on another thread and wakes a caller that closes the client
 *     while slot_cb has not returned from nng_ctx_recv. So those two calls
 *     are made only between io_enter and io_leave, which count them under
 *     c->mu; iso_client_free sets `closing`, after which no new one
 *     starts (the request completes with ISO_ECLOSED instead), and waits
 *     for the count to reach 0.
 *   - the aio expiry thread, cancelling an aio whose deadline passed just
 *     as its reply came in, calls the protocol's cancel (which locks the
 *     socket) after the reply's callback woke the caller that closes. So
 *     iso_client_free frees the slots (nng_aio_free waits for an expiry
 *     under way, nng_aio_stop does not) and closes their contexts before
 *     it closes the socket.
 *
 * Not worked around (an NNG 1.5.2 transport bug, seen with ipc; tcp has
 * the same code): a close that cuts a message being received can hang. The
 * pipe's next read is started on the aio the close just stopped, so that read
 * never ends, the protocol's receive on the pipe never completes, and NNG's
 * reaper waits for it forever (nng_close does not return). A client closed
 * while a late reply is arriving (after ISO_ETIMEDOUT) runs that risk;
 * close_after_call in tests/test_client.c keeps its server silent for that
 * reason. The same kind of hang follows a connection the server cuts
 * while this client is still writing a message to it (one over twice the
 * server's --max-message and larger than the socket's buffer): the pipe is
 * never reaped, so the dialer never dials again and every later request
 * fails ISO_ECONNECT at its deadline (about one cut in a hundred here).
 */
#include "iso_client.h"
#include "iso_client_private.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"

enum { MODE_ONE, MODE_BATCH, MODE_RAW };
enum { ST_IDLE, ST_SENDING, ST_RECEIVING };

typedef void (*raw_cb)(void* data, int status, const uint8_t* p, size_t n);

typedef struct slot {
  iso_client* c;
  nng_ctx ctx;
  nng_aio* aio;
  struct slot* next_free;
  int state;
  int mode;
  int has_deadline;
  nng_time expire;
  size_t n;       /* requests in the message (1 unless a batch) */
  iso_buf enc;    /* encoding scratch, kept for its capacity */
  iso_buf ids;    /* the requests' ids, concatenated */
  size_t* id_end; /* n end offsets into ids */
  size_t id_end_cap;
  iso_client_cb cb;
  iso_client_batch_cb batch_cb;
  raw_cb raw;
  void* data;
} slot;

struct iso_client {
  nng_socket sock;
  nng_dialer dialer;
  nng_tls_config* tls;
  pthread_mutex_t mu;
  pthread_cond_t cv;   /* a slot came free, or closing */
  pthread_cond_t idle; /* in_nng fell to 0 while closing */
  int in_nng;          /* threads inside nng_ctx_send/_recv (io_enter) */
  slot** slots;
  int nslots;
  int max_slots;
  slot* free_list;
  atomic_int closing; /* written under mu, read anywhere */
  atomic_int npipes;
  atomic_uint_fast64_t next_id;
  size_t max_msg;
};

static int from_nng(int rv) {
  switch (rv) {
    case 0:
      return 0;
    case NNG_ENOMEM:
      return ISO_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
    case NNG_ENOENT:
      return ISO_EINVAL;
    default:
      return ISO_EIO;
  }
}

/* An aio failure -> the error the user sees. */
static int aio_error(iso_client* c, int rv, int sending) {
  if (atomic_load(&c->closing)) {
    return ISO_ECLOSED; /* whatever NNG says while the socket goes down */
  }
  switch (rv) {
    case NNG_ETIMEDOUT:
      /* A send that times out never reached a connection. */
      if (sending && atomic_load(&c->npipes) == 0) {
        return ISO_ECONNECT;
      }
      return ISO_ETIMEDOUT;
    case NNG_ECLOSED:
    case NNG_ECANCELED:
      return ISO_ECLOSED;
    case NNG_ECONNRESET:
    case NNG_ECONNREFUSED:
    case NNG_ECONNSHUT:
    case NNG_ECONNABORTED:
      return ISO_ECONNECT;
    case NNG_ENOMEM:
      return ISO_ENOMEM;
    case NNG_EMSGSIZE:
      return ISO_ETOOBIG;
    default:
      return ISO_EIO;
  }
}

/* The longest deadline taken as it is (nng_duration is an int32 of ms, so
 * about 24.8 days); longer ones are this. */
#define MAX_DEADLINE_MS INT32_MAX

static nng_duration remaining(const slot* s) {
  if (!s->has_deadline) {
    return NNG_DURATION_INFINITE;
  }
  nng_time now = nng_clock();
  return s->expire > now ? (nng_duration)(s->expire - now) : NNG_DURATION_ZERO;
}

/* When a deadline of deadline_ms from now expires (clamped, so neither
 * the sum nor remaining() can overflow). */
static nng_time expiry(int64_t deadline_ms) {
  if (deadline_ms > MAX_DEADLINE_MS) {
    deadline_ms = MAX_DEADLINE_MS;
  }
  return nng_clock() + (nng_time)deadline_ms;
}

/* ---- context calls ------------------------------------------------------ */

/* Before nng_ctx_send or nng_ctx_recv: 0 once the client is closing (do
 * not make the call), else 1, and io_leave must follow the call (the
 * DESIGN above). Thread: any. */
static int io_enter(iso_client* c) {
  pthread_mutex_lock(&c->mu);
  int ok = !atomic_load(&c->closing);
  if (ok) {
    c->in_nng++;
  }
  pthread_mutex_unlock(&c->mu);
  return ok;
}

/* After the call io_enter allowed. It touches only c, which
 * iso_client_free keeps until every io_leave is done: the slot itself may
 * have been completed and reused by then. */
static void io_leave(iso_client* c) {
  pthread_mutex_lock(&c->mu);
  if (--c->in_nng == 0 && atomic_load(&c->closing)) {
    pthread_cond_broadcast(&c->idle);
  }
  pthread_mutex_unlock(&c->mu);
}

/* ---- slots -------------------------------------------------------------- */

static void slot_cb(void* arg);

static int slot_new(iso_client* c, slot** out) {
  slot* s = calloc(1, sizeof *s);
  if (s == NULL) {
    return ISO_ENOMEM;
  }
  s->c = c;
  int rv = nng_ctx_open(&s->ctx, c->sock);
  if (rv == 0) {
    rv = nng_aio_alloc(&s->aio, slot_cb, s);
    if (rv != 0) {
      nng_ctx_close(s->ctx);
    }
  }
  if (rv != 0) {
    free(s);
    return rv == NNG_ECLOSED ? ISO_ECLOSED : from_nng(rv);
  }
  iso_buf_init(&s->enc);
  iso_buf_init(&s->ids);
  *out = s;
  return 0;
}

/* Before the socket closes (iso_client_free). */
static void slot_free(slot* s) {
  nng_aio_free(s->aio); /* waits for a running callback and an expiry */
  nng_ctx_close(s->ctx);
  iso_buf_close(&s->enc);
  iso_buf_close(&s->ids);
  free(s->id_end);
  free(s);
}

/* Takes a free slot (creating one if allowed). With wait set, blocks until
 * one is free or `expire` (if has_deadline) passes. */
static int slot_acquire(iso_client* c,
                        int wait,
                        int has_deadline,
                        nng_time expire,
                        slot** out) {
  int rc = 0;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    if (atomic_load(&c->closing)) {
      rc = ISO_ECLOSED;
      break;
    }
    if (c->free_list != NULL) {
      *out = c->free_list;
      c->free_list = (*out)->next_free;
      break;
    }
    if (c->nslots < c->max_slots) {
      slot** grown = realloc(c->slots, (size_t)(c->nslots + 1) * sizeof *grown);
      if (grown == NULL) {
        rc = ISO_ENOMEM;
        break;
      }
      c->slots = grown;
      rc = slot_new(c, out);
      if (rc == 0) {
        c->slots[c->nslots++] = *out;
      }
      break;
    }
    if (!wait) {
      rc = ISO_EBUSY;
      break;
    }
    if (!has_deadline) {
      pthread_cond_wait(&c->cv, &c->mu);
      continue;
    }
    nng_time now = nng_clock();
    if (now >= expire) {
      rc = ISO_ETIMEDOUT;
      break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(expire - now) * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
  }
  pthread_mutex_unlock(&c->mu);
  if (rc == 0) {
    (*out)->state = ST_IDLE;
    iso_buf_reset(&(*out)->enc);
    iso_buf_reset(&(*out)->ids);
  }
  return rc;
}

static void slot_release(slot* s) {
  iso_client* c = s->c;
  pthread_mutex_lock(&c->mu);
  s->state = ST_IDLE;
  s->next_free = c->free_list;
  c->free_list = s;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Hands the encoded request in s->enc to NNG. On error the slot is
 * released and no callback will run. */
static int slot_start(slot* s) {
  iso_client* c = s->c;
  if (s->enc.len > c->max_msg) {
    slot_release(s);
    return ISO_ETOOBIG;
  }
  nng_msg* m;
  int rv = nng_msg_alloc(&m, s->enc.len);
  if (rv != 0) {
    slot_release(s);
    return ISO_ENOMEM;
  }
  if (s->enc.len > 0) { /* an empty raw request has no buffer at all */
    memcpy(nng_msg_body(m), s->enc.data, s->enc.len);
  }
  if (!io_enter(c)) {
    nng_msg_free(m);
    slot_release(s);
    return ISO_ECLOSED;
  }
  s->state = ST_SENDING;
  nng_aio_set_msg(s->aio, m);
  nng_aio_set_timeout(s->aio, remaining(s));
  nng_ctx_send(s->ctx, s->aio);
  io_leave(c);
  return 0;
}

/* ---- completion --------------------------------------------------------- */

static int is_nil(const uint8_t* p, size_t n) {
  return n == 1 && p[0] == 0xc0;
}

/* The reply must echo the request's id, except a status "error" reply with
 * a nil id (the server could not read the request). */
static int id_matches(const slot* s, size_t i, const iso_result* r) {
  size_t start = i == 0 ? 0 : s->id_end[i - 1];
  size_t len = s->id_end[i] - start;
  if (r->status == ISO_STATUS_ERROR && is_nil(r->id, r->id_len)) {
    return 1;
  }
  return r->id_len == len && memcmp(r->id, s->ids.data + start, len) == 0;
}

static void complete(slot* s, int rc, nng_msg* m) {
  const uint8_t* body = m ? nng_msg_body(m) : NULL;
  size_t len = m ? nng_msg_len(m) : 0;
  void* data = s->data;
  if (s->mode == MODE_ONE) {
    iso_result res;
    memset(&res, 0, sizeof res);
    if (rc == 0) {
      rc = iso_proto_decode_reply(body, len, &res);
    }
    if (rc == 0 && !id_matches(s, 0, &res)) {
      iso_result_close(&res);
      rc = ISO_EPROTO;
    }
    s->cb(data, rc, rc == 0 ? &res : NULL);
    iso_result_close(&res);
  } else if (s->mode == MODE_BATCH) {
    size_t n = s->n;
    iso_result* res = NULL;
    if (rc == 0) {
      res = calloc(n, sizeof *res);
      rc = res ? iso_proto_decode_batch_reply(body, len, res, n) : ISO_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
      if (!id_matches(s, i, &res[i])) {
        rc = ISO_EPROTO;
      }
    }
    if (rc != 0 && res != NULL) {
      for (size_t i = 0; i < n; i++) {
        iso_result_close(&res[i]);
      }
    }
    s->batch_cb(data, rc, rc == 0 ? res : NULL, rc == 0 ? n : 0);
    if (res != NULL) {
      for (size_t i = 0; i < n; i++) {
        iso_result_close(&res[i]);
      }
      free(res);
    }
  } else {
    s->raw(data, rc, body, len);
  }
  if (m != NULL) {
    nng_msg_free(m);
  }
  slot_release(s);
}

static void slot_cb(void* arg) {
  slot* s = arg;
  iso_client* c = s->c;
  int rv = nng_aio_result(s->aio);
  if (s->state == ST_SENDING) {
    if (rv != 0) {
      nng_msg* m = nng_aio_get_msg(s->aio);
      nng_aio_set_msg(s->aio, NULL);
      if (m != NULL) {
        nng_msg_free(m);
      }
      complete(s, aio_error(c, rv, 1), NULL);
      return;
    }
    if (!io_enter(c)) {
      complete(s, ISO_ECLOSED, NULL); /* closing: the receive would fail */
      return;
    }
    s->state = ST_RECEIVING;
    nng_aio_set_timeout(s->aio, remaining(s));
    nng_ctx_recv(s->ctx, s->aio);
    io_leave(c); /* s may be completed and reused by now */
    return;
  }
  nng_msg* m = NULL;
  if (rv == 0) {
    m = nng_aio_get_msg(s->aio);
    nng_aio_set_msg(s->aio, NULL);
  }
  complete(s, rv == 0 ? 0 : aio_error(c, rv, 0), m);
}

/* ---- open / close ------------------------------------------------------- */

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void* arg) {
  iso_client* c = arg;
  (void)p;
  if (ev == NNG_PIPE_EV_ADD_POST) {
    atomic_fetch_add(&c->npipes, 1);
  } else if (ev == NNG_PIPE_EV_REM_POST) {
    atomic_fetch_sub(&c->npipes, 1);
  }
}

/* A PEM file's text, NUL-terminated, in a buffer of malloc (free it);
 * NULL if it cannot be read or is over 1 MiB. */
static char* read_pem(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  char* text = malloc((1u << 20) + 1);
  size_t n = text != NULL ? fread(text, 1, 1u << 20, f) : 0;
  int bad = text == NULL || ferror(f) || !feof(f) || n == 0;
  fclose(f);
  if (bad) {
    free(text);
    return NULL;
  }
  text[n] = '\0';
  return text;
}

/* The client's own certificate from two files. NNG's code or
 * NNG_EINVAL (a file that cannot be read). */
static int own_cert(nng_tls_config* cfg, const char* cert, const char* key) {
  char* c = read_pem(cert);
  char* k = read_pem(key);
  int rv = c != NULL && k != NULL ? nng_tls_config_own_cert(cfg, c, k, NULL)
                                  : NNG_EINVAL;
  free(c);
  free(k);
  return rv;
}

int iso__client_tls(nng_dialer d,
                    const char* url,
                    const iso_client_opts* o,
                    nng_tls_config** out) {
  *out = NULL;
  if (o == NULL || (o->tls_ca_file == NULL && !o->tls_insecure)) {
    return ISO_EINVAL;
  }
  if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL) ||
      (o->tls_cert_file != NULL && o->tls_cert_key_file != NULL)) {
    return ISO_EINVAL;
  }
  nng_tls_config* cfg;
  int rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
  if (rv != 0) {
    return from_nng(rv);
  }
  rv = nng_tls_config_auth_mode(cfg, o->tls_ca_file ? NNG_TLS_AUTH_MODE_REQUIRED
                                                    : NNG_TLS_AUTH_MODE_NONE);
  if (rv == 0 && o->tls_ca_file != NULL) {
    rv = nng_tls_config_ca_file(cfg, o->tls_ca_file);
  }
  if (rv == 0 && o->tls_cert_key_file != NULL) {
    rv = nng_tls_config_cert_key_file(cfg, o->tls_cert_key_file, NULL);
  }
  if (rv == 0 && o->tls_cert_file != NULL) {
    rv = own_cert(cfg, o->tls_cert_file, o->tls_key_file);
  }
  if (rv == 0) {
    if (o->tls_server_name != NULL) {
      rv = nng_tls_config_server_name(cfg, o->tls_server_name);
    } else {
      nng_url* u;
      rv = nng_url_parse(&u, url);
      if (rv == 0) {
        rv = nng_tls_config_server_name(cfg, u->u_hostname);
        nng_url_free(u);
      }
    }
  }
  if (rv == 0) {
    rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
  }
  if (rv != 0) {
    nng_tls_config_free(cfg);
    return rv == NNG_ENOMEM ? ISO_ENOMEM : ISO_EINVAL;
  }
  *out = cfg;
  return 0;
}

/* Options, pipe events, the dialer (and its TLS) on a new socket. */
static int open_socket(iso_client* c,
                       const char* url,
                       const iso_client_opts* o,
                       nng_duration resend) {
  int rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, resend);
  if (rv == 0) {
    rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_msg);
  }
  if (rv == 0) {
    rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 100);
  }
  if (rv == 0) {
    rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 2000);
  }
  if (rv == 0) {
    rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, c);
  }
  if (rv == 0) {
    rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_cb, c);
  }
  if (rv != 0) {
    return from_nng(rv);
  }
  rv = nng_dialer_create(&c->dialer, c->sock, url);
  if (rv != 0) {
    return rv == NNG_ENOMEM ? ISO_ENOMEM : ISO_EINVAL;
  }
  if (strncmp(url, "tls+", 4) == 0) {
    int rc = iso__client_tls(c->dialer, url, o, &c->tls);
    if (rc != 0) {
      return rc;
    }
  }
  return from_nng(nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK));
}

int iso_client_new(const char* url,
                   const iso_client_opts* opts,
                   iso_client** out) {
  static const iso_client_opts defaults;
  const iso_client_opts* o = opts ? opts : &defaults;
  if (out != NULL) {
    *out = NULL;
  }
  if (out == NULL || url == NULL || o->max_inflight < 0 ||
      o->max_inflight > ISO_CLIENT_MAX_INFLIGHT || o->resend_ms < 0) {
    return ISO_EINVAL;
  }
  iso_client* c = calloc(1, sizeof *c);
  if (c == NULL) {
    return ISO_ENOMEM;
  }
  c->max_msg = o->max_msg ? o->max_msg : ISO_PROTO_MAX_MSG_DEFAULT;
  c->max_slots =
      o->max_inflight ? o->max_inflight : ISO_CLIENT_DEFAULT_INFLIGHT;
  atomic_init(&c->closing, 0);
  atomic_init(&c->npipes, 0);
  atomic_init(&c->next_id, 1);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&c->idle, NULL);
  pthread_mutex_init(&c->mu, NULL);

  int rv = nng_req0_open(&c->sock);
  if (rv != 0) {
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return from_nng(rv);
  }
  nng_duration resend = o->resend_ms > 0 ? o->resend_ms : NNG_DURATION_INFINITE;
  int rc = open_socket(c, url, o, resend);
  if (rc != 0) {
    iso_client_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void iso_client_free(iso_client* c) {
  if (c == NULL) {
    return;
  }
  pthread_mutex_lock(&c->mu);
  atomic_store(&c->closing, 1);
  pthread_cond_broadcast(&c->cv);
  while (c->in_nng > 0) { /* no context call under way as the socket goes */
    pthread_cond_wait(&c->idle, &c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  /* The slots before the socket (DESIGN): freeing a slot's aio fails what
   * it has under way with NNG_ECLOSED (its callback completes the request
   * with ISO_ECLOSED before nng_aio_free returns) and waits for NNG's
   * expiry thread if that is cancelling it. */
  for (int i = 0; i < c->nslots; i++) {
    slot_free(c->slots[i]);
  }
  free(c->slots);
  nng_close(c->sock);
  if (c->tls != NULL) {
    nng_tls_config_free(c->tls);
  }
  pthread_cond_destroy(&c->cv);
  pthread_cond_destroy(&c->idle);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

int iso_client_connected(iso_client* c) {
  return c != NULL && atomic_load(&c->npipes) > 0;
}

/* ---- encoding into a slot ----------------------------------------------- */

/* The msgpack form of an automatic id (a positive integer). */
static size_t auto_id(iso_client* c, uint8_t* buf) {
  uint64_t v = atomic_fetch_add(&c->next_id, 1);
  buf[0] = 0xcf;
  for (int i = 0; i < 8; i++) {
    buf[1 + i] = (uint8_t)(v >> (56 - 8 * i));
  }
  return 9;
}

/* The timeout_ms a job goes out with: a client that gives up at its
 * deadline has no use for the job after it, so the server is told to stop
 * it then (the job's own timeout_ms when that is shorter). At least 1: 0
 * would mean the server's default. */
static int64_t job_timeout(const slot* s, int64_t own) {
  if (!s->has_deadline) {
    return own;
  }
  int64_t left = (int64_t)remaining(s);
  if (left < 1) {
    left = 1;
  }
  return own > 0 && own < left ? own : left;
}

/* Encodes jobs (one, or a batch when is_batch) into s->enc and records
 * their ids. Jobs without an id get one; every job carries the deadline as
 * its timeout_ms (job_timeout). */
static int slot_encode(slot* s, const iso_job* jobs, size_t n, int is_batch) {
  iso_client* c = s->c;
  if (s->id_end_cap < n) {
    size_t* p = realloc(s->id_end, n * sizeof *p);
    if (p == NULL) {
      return ISO_ENOMEM;
    }
    s->id_end = p;
    s->id_end_cap = n;
  }
  iso_job* copy = NULL;
  if (is_batch) {
    copy = malloc(n * sizeof *copy);
    if (copy == NULL) {
      return ISO_ENOMEM;
    }
  }
  uint8_t* auto_ids = NULL;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (jobs[i].id == NULL && auto_ids == NULL) {
      auto_ids = malloc(n * 9);
      if (auto_ids == NULL) {
        rc = ISO_ENOMEM;
        break;
      }
    }
    iso_job j = jobs[i];
    j.timeout_ms = job_timeout(s, j.timeout_ms);
    if (j.id == NULL) {
      j.id = auto_ids + 9 * i;
      j.id_len = auto_id(c, auto_ids + 9 * i);
    }
    rc = iso_buf_append(&s->ids, j.id, j.id_len);
    s->id_end[i] = s->ids.len;
    if (is_batch) {
      copy[i] = j;
    } else if (rc == 0) {
      rc = iso_proto_encode_request(&j, &s->enc);
    }
  }
  if (rc == 0 && is_batch) {
    rc = iso_proto_encode_batch(copy, n, &s->enc);
  }
  free(copy);
  free(auto_ids);
  s->n = n;
  return rc;
}

static int submit(iso_client* c,
                  const iso_job* jobs,
                  size_t n,
                  int is_batch,
                  int64_t deadline_ms,
                  int wait,
                  slot** out) {
  if (c == NULL || jobs == NULL || n == 0 ||
      (is_batch && n > ISO_PROTO_MAX_BATCH)) {
    return ISO_EINVAL;
  }
  int has_deadline = deadline_ms >= 0;
  nng_time expire = has_deadline ? expiry(deadline_ms) : 0;
  slot* s;
  int rc = slot_acquire(c, wait, has_deadline, expire, &s);
  if (rc != 0) {
    return rc;
  }
  s->has_deadline = has_deadline;
  s->expire = expire;
  rc = slot_encode(s, jobs, n, is_batch);
  if (rc != 0) {
    slot_release(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- async -------------------------------------------------------------- */

int iso_client_submit(iso_client* c,
                      const iso_job* job,
                      int64_t deadline_ms,
                      iso_client_cb cb,
                      void* data) {
  slot* s;
  if (cb == NULL) {
    return ISO_EINVAL;
  }
  int rc = submit(c, job, 1, 0, deadline_ms, 0, &s);
  if (rc != 0) {
    return rc;
  }
  s->mode = MODE_ONE;
  s->cb = cb;
  s->data = data;
  return slot_start(s);
}

int iso_client_submit_batch(iso_client* c,
                            const iso_job* jobs,
                            size_t n,
                            int64_t deadline_ms,
                            iso_client_batch_cb cb,
                            void* data) {
  slot* s;
  if (cb == NULL) {
    return ISO_EINVAL;
  }
  int rc = submit(c, jobs, n, 1, deadline_ms, 0, &s);
  if (rc != 0) {
    return rc;
  }
  s->mode = MODE_BATCH;
  s->batch_cb = cb;
  s->data = data;
  return slot_start(s);
}

/* ---- sync --------------------------------------------------------------- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  int rc;
  iso_result* out; /* one, or n for a batch */
  size_t n;
  iso_buf* raw;
} waiter;

static void waiter_init(waiter* w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
}

static void waiter_close(waiter* w) {
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

static int waiter_wait(waiter* w) {
  pthread_mutex_lock(&w->mu);
  while (!w->done) {
    pthread_cond_wait(&w->cv, &w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  waiter_close(w);
  return w->rc;
}

/* Called last by every waiter callback: after the unlock the waiter (on
 * the caller's stack) may be gone. */
static void waiter_done(waiter* w, int rc) {
  pthread_mutex_lock(&w->mu);
  w->rc = rc;
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void one_cb(void* data, int rc, iso_result* res) {
  waiter* w = data;
  if (rc == 0) {
    *w->out = *res;
    memset(res, 0, sizeof *res);
  }
  waiter_done(w, rc);
}

static void batch_cb(void* data, int rc, iso_result* res, size_t n) {
  waiter* w = data;
  if (rc == 0) {
    memcpy(w->out, res, n * sizeof *res);
    memset(res, 0, n * sizeof *res);
  }
  waiter_done(w, rc);
}

static void raw_done(void* data, int rc, const uint8_t* p, size_t n) {
  waiter* w = data;
  if (rc == 0) {
    rc = iso_buf_append(w->raw, p, n);
  }
  waiter_done(w, rc);
}

int iso_client_call(iso_client* c,
                    const iso_job* job,
                    int64_t deadline_ms,
                    iso_result* out) {
  if (out == NULL) {
    return ISO_EINVAL;
  }
  memset(out, 0, sizeof *out);
  slot* s;
  int rc = submit(c, job, 1, 0, deadline_ms, 1, &s);
  if (rc != 0) {
    return rc;
  }
  waiter w;
  waiter_init(&w);
  w.out = out;
  s->mode = MODE_ONE;
  s->cb = one_cb;
  s->data = &w;
  rc = slot_start(s);
  if (rc != 0) {
    waiter_close(&w);
    return rc;
  }
  return waiter_wait(&w);
}

int iso_client_batch(iso_client* c,
                     const iso_job* jobs,
                     size_t n,
                     int64_t deadline_ms,
                     iso_result* out) {
  if (out == NULL) {
    return ISO_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
  }
  slot* s;
  int rc = submit(c, jobs, n, 1, deadline_ms, 1, &s);
  if (rc != 0) {
    return rc;
  }
  waiter w;
  waiter_init(&w);
  w.out = out;
  w.n = n;
  s->mode = MODE_BATCH;
  s->batch_cb = batch_cb;
  s->data = &w;
  rc = slot_start(s);
  if (rc != 0) {
    waiter_close(&w);
    return rc;
  }
  return waiter_wait(&w);
}

int iso_client_request_raw(iso_client* c,
                           const uint8_t* bytes,
                           size_t len,
                           int64_t deadline_ms,
                           iso_buf* reply) {
  if (c == NULL || reply == NULL || (bytes == NULL && len > 0)) {
    return ISO_EINVAL;
  }
  int has_deadline = deadline_ms >= 0;
  nng_time expire = has_deadline ? expiry(deadline_ms) : 0;
  slot* s;
  int rc = slot_acquire(c, 1, has_deadline, expire, &s);
  if (rc != 0) {
    return rc;
  }
  s->has_deadline = has_deadline;
  s->expire = expire;
  s->n = 0;
  rc = iso_buf_append(&s->enc, bytes, len);
  if (rc != 0) {
    slot_release(s);
    return rc;
  }
  waiter w;
  waiter_init(&w);
  w.raw = reply;
  s->mode = MODE_RAW;
  s->raw = raw_done;
  s->data = &w;
  rc = slot_start(s);
  if (rc != 0) {
    waiter_close(&w);
    return rc;
  }
  return waiter_wait(&w);
}
