/* iso_client.c: the client library (iso_client.h).
 *
 * DESIGN: three kinds of object.
 *   - A request (req): one job, one batch, one raw message or one node's
 *     ping, encoded once, with its deadline, its callback and the nodes
 *     it was sent to (`tried`). At most max_inflight requests exist (the
 *     free list; a blocking call waits for one), plus one ping per node.
 *   - A node: one NNG REQ socket and dialer (one URL), its slots, and what
 *     the balancing reads (in_flight, connected, out).
 *   - A slot: an NNG context of a node's socket plus one aio, whose
 *     callback (slot_cb) drives send -> receive for the request it
 *     carries. When it ends, the request is finished (finish): answered
 *     (deliver: decode, the user's callback, the request freed) or, for a
 *     reply `busy`/`shutting_down`, a request its node never received or
 *     an idempotent job whose node was lost, sent to another node
 *     (dispatch). The slot is back on its node's free list before that.
 * Locks: c->mu guards the node table, the slot and request free lists,
 * `closing`, and each slot's `busy`; it is never held while the user's
 * code or an NNG call that can wait runs. Each slot's s->mu guards its
 * state, its request and `abandon`, and is held across nng_ctx_send/_recv and
 * nng_aio_abort on it, so a request is taken back (node_down: abandon set, the
 * aio aborted) either before its next NNG call starts (which then does not
 * start) or while the call is under way (which the abort ends), never in
 * between. Neither lock is taken while the other is held: node_down
 * lists a node's busy slots under c->mu, then takes each s->mu.
 *
 * The node thread (only with more than one node, or a name to look up)
 * sends each node a ping every heartbeat_ms, takes a node out from its
 * second missed ping in a row (and its requests with it: node_down), or
 * when it says it is not ready or is shutting down; puts it back in when
 * a ping is answered; moves requests waiting on a node that lost its
 * connection to a node that is up; looks host names up again every
 * resolve_ms, adding a node per new address and closing, once idle, the
 * nodes of addresses that left. It never blocks on a request.
 *
 * Closing: NNG 1.5.2 lets two of its own threads lock a socket's protocol
 * mutex after nng_close destroyed it ("panic: pthread_mutex_lock: Invalid
 * argument"), so the client makes sure neither is at work when it closes
 * a socket:
 *   - a thread inside nng_ctx_send or nng_ctx_recv holds a reference to
 *     the context; when the close marks the context closed, that call's
 *     release destroys it after the close stopped waiting for it
 *     (nni_ctx_rele). Those calls are made under the slot's s->mu after a
 *     look at `closing`; iso_client_free sets `closing`, then takes and
 *     drops every slot's s->mu, after which no such call is under way or
 *     starts (the request completes with ISO_ECLOSED instead).
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
 * The node thread closes a node whose address left the DNS answer only
 * once nothing is out on it, so no reply of its own can be arriving.
 */
#include "iso_client.h"
#include "iso_client_private.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_proto_private.h"

enum { MODE_ONE, MODE_BATCH, MODE_RAW, MODE_PING };
enum { ST_IDLE, ST_SENDING, ST_RECEIVING };
/* Why a request was taken back from its slot (slot.abandon). */
enum { AB_NONE, AB_MOVE, AB_LOST };
/* How a slot's exchange ended, besides an ISO_E* code (finish). */
enum { END_MOVE = 1, END_LOST = 2 };

#define URL_MAX 256

typedef void (*raw_cb)(void* data, int status, const uint8_t* p, size_t n);

typedef struct node node;

typedef struct req {
  iso_client* c;
  struct req* next_free;
  int mode;
  int has_deadline;
  nng_time expire;
  size_t n;        /* jobs in the message (1 unless a batch) */
  iso_buf enc;     /* the message, kept for a resend */
  iso_buf ids;     /* the jobs' ids, concatenated */
  size_t* id_end;  /* n end offsets into ids */
  size_t* stamps;  /* n offsets of the jobs' timeout_ms (0: none) */
  int64_t* own;    /* n timeouts the jobs asked for themselves */
  size_t cap;      /* entries of the three arrays */
  int idempotent;  /* every job of it is */
  int resent;      /* sent once more after its node was lost */
  uint64_t tried;  /* bit i: sent to nodes[i] */
  node* ping_node; /* MODE_PING: whose */
  iso_client_cb cb;
  iso_client_batch_cb batch_cb;
  raw_cb raw;
  void* data;
} req;

typedef struct slot {
  node* nd;
  nng_ctx ctx;
  nng_aio* aio;
  struct slot* next_free;
  int busy;           /* c->mu: carries a request */
  pthread_mutex_t mu; /* the next three */
  int state;          /* ST_* */
  int abandon;        /* AB_* */
  req* r;
} slot;

struct node {
  iso_client* c;
  int index;
  char url[URL_MAX];  /* as dialed */
  char name[URL_MAX]; /* the URL it came from (its host: TLS's name) */
  nng_socket sock;
  nng_dialer dialer;
  nng_tls_config* tls;
  slot** slots; /* c->mu */
  int nslots;
  slot* free_list;
  slot* ping;   /* its own slot: never waits for a free one */
  req ping_req; /* node thread, and its callback */
  atomic_int ping_out;
  atomic_int npipes;
  atomic_int in_flight;
  atomic_int out;    /* 1: takes no request (missed pings, not ready) */
  atomic_int lost;   /* node_down(AB_LOST) due: node thread */
  atomic_int misses; /* pings missed in a row */
  int gone;          /* c->mu: its address left the DNS answer */
  int seen;          /* node thread: in the latest answer */
  atomic_uint_fast64_t sent, nlost, retried;
};

/* A URL whose host name is looked up again and again. */
typedef struct name {
  char url[URL_MAX];
  char scheme[16];
  char host[URL_MAX];
  char port[16];
} name;

struct iso_client {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a request came free, or closing */
  atomic_int closing;
  node* nodes[ISO_CLIENT_MAX_NODES]; /* c->mu; holes where one was closed */
  int nnodes;                        /* the table's high-water mark */
  req** reqs;
  int nreqs;
  int max_reqs;
  req* free_reqs;
  atomic_uint_fast64_t next_id;
  atomic_uint_fast64_t rng;
  size_t max_msg;
  nng_duration resend;
  int heartbeat_ms;
  int resolve_ms;
  iso_client_opts tls; /* the tls_* options, strings owned */
  name* names;
  size_t nnames;
  /* the node thread */
  int thread_on;
  pthread_t thread;
  pthread_mutex_t tmu;
  pthread_cond_t tcv; /* close, or a node changed */
  int wake;
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

/* The longest deadline taken as it is (nng_duration is an int32 of ms, so
 * about 24.8 days); longer ones are this. */
#define MAX_DEADLINE_MS INT32_MAX

static nng_duration remaining(const req* r) {
  if (!r->has_deadline) {
    return NNG_DURATION_INFINITE;
  }
  nng_time now = nng_clock();
  return r->expire > now ? (nng_duration)(r->expire - now) : NNG_DURATION_ZERO;
}

/* When a deadline of deadline_ms from now expires (clamped, so neither
 * the sum nor remaining() can overflow). */
static nng_time expiry(int64_t deadline_ms) {
  if (deadline_ms > MAX_DEADLINE_MS) {
    deadline_ms = MAX_DEADLINE_MS;
  }
  return nng_clock() + (nng_time)deadline_ms;
}

/* A random number (splitmix64 over a counter). Thread: any. */
static uint64_t rnd(iso_client* c) {
  uint64_t z = atomic_fetch_add(&c->rng, 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void wake_thread(iso_client* c) {
  if (!c->thread_on) {
    return;
  }
  pthread_mutex_lock(&c->tmu);
  c->wake = 1;
  pthread_cond_signal(&c->tcv);
  pthread_mutex_unlock(&c->tmu);
}

/* ---- requests ----------------------------------------------------------- */

static int req_grow(req* r, size_t n) {
  if (r->cap >= n) {
    return 0;
  }
  size_t* a = realloc(r->id_end, n * sizeof *a);
  if (a != NULL) {
    r->id_end = a;
  }
  size_t* b = a ? realloc(r->stamps, n * sizeof *b) : NULL;
  if (b != NULL) {
    r->stamps = b;
  }
  int64_t* o = b ? realloc(r->own, n * sizeof *o) : NULL;
  if (o == NULL) {
    return ISO_ENOMEM;
  }
  r->own = o;
  r->cap = n;
  return 0;
}

static void req_free(req* r) {
  iso_buf_close(&r->enc);
  iso_buf_close(&r->ids);
  free(r->id_end);
  free(r->stamps);
  free(r->own);
  free(r);
}

/* Takes a free request (making one if allowed). With wait set, blocks
 * until one is free or `expire` (if has_deadline) passes. */
static int req_acquire(iso_client* c,
                       int wait,
                       int has_deadline,
                       nng_time expire,
                       req** out) {
  int rc = 0;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    if (atomic_load(&c->closing)) {
      rc = ISO_ECLOSED;
      break;
    }
    if (c->free_reqs != NULL) {
      *out = c->free_reqs;
      c->free_reqs = (*out)->next_free;
      break;
    }
    if (c->nreqs < c->max_reqs) {
      req** grown = realloc(c->reqs, (size_t)(c->nreqs + 1) * sizeof *grown);
      req* r = grown ? calloc(1, sizeof *r) : NULL;
      if (grown != NULL) {
        c->reqs = grown;
      }
      if (r == NULL) {
        rc = ISO_ENOMEM;
        break;
      }
      r->c = c;
      iso_buf_init(&r->enc);
      iso_buf_init(&r->ids);
      c->reqs[c->nreqs++] = r;
      *out = r;
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
    req* r = *out;
    iso_buf_reset(&r->enc);
    iso_buf_reset(&r->ids);
    r->has_deadline = has_deadline;
    r->expire = expire;
    r->idempotent = 0;
    r->resent = 0;
    r->tried = 0;
  }
  return rc;
}

static void req_release(req* r) {
  iso_client* c = r->c;
  pthread_mutex_lock(&c->mu);
  r->next_free = c->free_reqs;
  c->free_reqs = r;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* ---- slots -------------------------------------------------------------- */

static void slot_cb(void* arg);

static int slot_new(node* nd, slot** out) {
  slot* s = calloc(1, sizeof *s);
  if (s == NULL) {
    return ISO_ENOMEM;
  }
  s->nd = nd;
  int rv = nng_ctx_open(&s->ctx, nd->sock);
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
  pthread_mutex_init(&s->mu, NULL);
  *out = s;
  return 0;
}

/* Before the socket closes (node_free). */
static void slot_free(slot* s) {
  nng_aio_free(s->aio); /* waits for a running callback and an expiry */
  nng_ctx_close(s->ctx);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* A free slot of nd, made if none is free. Under c->mu. */
static int slot_take(node* nd, slot** out) {
  slot* s = nd->free_list;
  if (s != NULL) {
    nd->free_list = s->next_free;
  } else {
    slot** grown = realloc(nd->slots, (size_t)(nd->nslots + 1) * sizeof *grown);
    if (grown == NULL) {
      return ISO_ENOMEM;
    }
    nd->slots = grown;
    int rc = slot_new(nd, &s);
    if (rc != 0) {
      return rc;
    }
    nd->slots[nd->nslots++] = s;
  }
  s->busy = 1;
  *out = s;
  return 0;
}

/* The slot goes back to its node's free list. Thread: its callback. */
static void slot_put(slot* s) {
  node* nd = s->nd;
  iso_client* c = nd->c;
  pthread_mutex_lock(&s->mu);
  s->state = ST_IDLE;
  s->abandon = AB_NONE;
  s->r = NULL;
  pthread_mutex_unlock(&s->mu);
  if (s == nd->ping) {
    atomic_store(&nd->ping_out, 0);
    return;
  }
  atomic_fetch_sub(&nd->in_flight, 1);
  pthread_mutex_lock(&c->mu);
  s->busy = 0;
  s->next_free = nd->free_list;
  nd->free_list = s;
  pthread_mutex_unlock(&c->mu);
}

/* Starts r on s: its message out, with what is left of its deadline. On
 * error the caller still owns both. */
static int slot_start(slot* s, req* r) {
  iso_client* c = r->c;
  if (r->enc.len > c->max_msg) {
    return ISO_ETOOBIG;
  }
  nng_msg* m;
  if (nng_msg_alloc(&m, r->enc.len) != 0) {
    return ISO_ENOMEM;
  }
  if (r->enc.len > 0) { /* an empty raw request has no buffer at all */
    memcpy(nng_msg_body(m), r->enc.data, r->enc.len);
  }
  pthread_mutex_lock(&s->mu);
  if (atomic_load(&c->closing)) {
    pthread_mutex_unlock(&s->mu);
    nng_msg_free(m);
    return ISO_ECLOSED;
  }
  s->r = r;
  s->abandon = AB_NONE;
  s->state = ST_SENDING;
  nng_aio_set_msg(s->aio, m);
  nng_aio_set_timeout(s->aio, remaining(r));
  nng_ctx_send(s->ctx, s->aio);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

/* ---- nodes: choosing one ------------------------------------------------ */

static int node_connected(const node* nd) {
  return atomic_load(&nd->npipes) > 0;
}

/* How good a node is for a request: 0 connected and in, 1 in, 2 out, 3
 * not a candidate (closed, gone, tried). Under c->mu. */
static int node_tier(const node* nd, const req* r) {
  if (nd == NULL || nd->gone || (r->tried >> nd->index) & 1u) {
    return 3;
  }
  if (atomic_load(&nd->out)) {
    return 2;
  }
  return node_connected(nd) ? 0 : 1;
}

/* Power of two choices: of the candidates in the best tier, the less
 * loaded of two picked at random. NULL if there is no candidate. Under
 * c->mu. */
static node* pick(iso_client* c, const req* r) {
  node* in_tier[ISO_CLIENT_MAX_NODES];
  for (int tier = 0; tier < 3; tier++) {
    int k = 0;
    for (int i = 0; i < c->nnodes; i++) {
      if (node_tier(c->nodes[i], r) == tier) {
        in_tier[k++] = c->nodes[i];
      }
    }
    if (k == 0) {
      continue;
    }
    if (k == 1) {
      return in_tier[0];
    }
    uint64_t x = rnd(c);
    node* a = in_tier[x % (uint64_t)k];
    node* b = in_tier[(x / (uint64_t)k) % (uint64_t)(k - 1)];
    if (b == a) {
      b = in_tier[k - 1]; /* the second pick skips the first */
    }
    return atomic_load(&a->in_flight) <= atomic_load(&b->in_flight) ? a : b;
  }
  return NULL;
}

/* Is there a node, other than those r was sent to, that could take it? */
static int another_node(iso_client* c, const req* r) {
  pthread_mutex_lock(&c->mu);
  node* nd = pick(c, r);
  pthread_mutex_unlock(&c->mu);
  return nd != NULL;
}

/* Sends r to a node: 0 (its slot's callback finishes it), or an error
 * (no node left: ISO_ECONNECT; ISO_ECLOSED ...) and r is still the
 * caller's. */
static int dispatch(req* r) {
  iso_client* c = r->c;
  slot* s = NULL;
  node* nd = NULL;
  pthread_mutex_lock(&c->mu);
  int rc = atomic_load(&c->closing) ? ISO_ECLOSED : 0;
  if (rc == 0) {
    nd = pick(c, r);
    rc = nd == NULL ? ISO_ECONNECT : slot_take(nd, &s);
  }
  if (rc == 0) {
    r->tried |= 1ull << nd->index;
    atomic_fetch_add(&nd->in_flight, 1);
  }
  pthread_mutex_unlock(&c->mu);
  if (rc != 0) {
    return rc;
  }
  atomic_fetch_add(&nd->sent, 1);
  rc = slot_start(s, r);
  if (rc != 0) {
    slot_put(s);
  }
  return rc;
}

/* ---- completion --------------------------------------------------------- */

static int is_nil(const uint8_t* p, size_t n) {
  return n == 1 && p[0] == 0xc0;
}

/* The reply must echo the request's id, except a status "error" reply with
 * a nil id (the server could not read the request). */
static int id_matches(const req* r, size_t i, const iso_result* res) {
  size_t start = i == 0 ? 0 : r->id_end[i - 1];
  size_t len = r->id_end[i] - start;
  if (res->status == ISO_STATUS_ERROR && is_nil(res->id, res->id_len)) {
    return 1;
  }
  return res->id_len == len && memcmp(res->id, r->ids.data + start, len) == 0;
}

/* A reply that says the job never ran here and may run elsewhere. */
static int refused(const iso_result* res) {
  return res->status == ISO_STATUS_ERROR &&
         (res->code == ISO_CODE_BUSY || res->code == ISO_CODE_SHUTTING_DOWN);
}

static void results_close(iso_result* res, size_t n) {
  for (size_t i = 0; res != NULL && i < n; i++) {
    iso_result_close(&res[i]);
  }
  free(res);
}

/* Answers r (the user's callback) and frees it. m: the reply, or NULL. */
static void deliver(req* r, int rc, nng_msg* m, iso_result* decoded) {
  const uint8_t* body = m ? nng_msg_body(m) : NULL;
  size_t len = m ? nng_msg_len(m) : 0;
  void* data = r->data;
  if (r->mode == MODE_ONE) {
    iso_result one;
    memset(&one, 0, sizeof one);
    if (rc == 0) {
      one = decoded[0];
    }
    r->cb(data, rc, rc == 0 ? &one : NULL);
    iso_result_close(&one);
  } else if (r->mode == MODE_BATCH) {
    r->batch_cb(data, rc, rc == 0 ? decoded : NULL, rc == 0 ? r->n : 0);
  } else {
    r->raw(data, rc, body, len);
  }
  if (r->mode == MODE_BATCH) {
    results_close(decoded, rc == 0 ? r->n : 0);
  } else if (decoded != NULL) {
    free(decoded);
  }
  if (m != NULL) {
    nng_msg_free(m);
  }
  req_release(r);
}

/* Decodes a reply to r's jobs into a new array of r->n results. */
static int decode(const req* r, nng_msg* m, iso_result** out) {
  size_t n = r->n;
  iso_result* res = calloc(n, sizeof *res);
  if (res == NULL) {
    return ISO_ENOMEM;
  }
  const uint8_t* body = nng_msg_body(m);
  size_t len = nng_msg_len(m);
  int rc = r->mode == MODE_ONE
               ? iso_proto_decode_reply(body, len, res)
               : iso_proto_decode_batch_reply(body, len, res, n);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (!id_matches(r, i, &res[i])) {
      rc = ISO_EPROTO;
    }
  }
  if (rc != 0) {
    for (size_t i = 0; i < n; i++) {
      iso_result_close(&res[i]);
    }
    free(res);
    return rc;
  }
  *out = res;
  return 0;
}

/* The timeout_ms a job goes out with: a client that gives up at its
 * deadline has no use for the job after it, so the server is told to stop
 * it then (the job's own timeout_ms when that is shorter). At least 1: 0
 * would mean the server's default. */
static int64_t job_timeout(const req* r, int64_t own) {
  if (!r->has_deadline) {
    return own;
  }
  int64_t left = (int64_t)remaining(r);
  if (left < 1) {
    left = 1;
  }
  return own > 0 && own < left ? own : left;
}

/* Sends r again, to a node it has not been to, with what is left of its
 * deadline; answers it (with rc, m, decoded) when there is none, or no
 * time. */
static void resend(req* r, int rc, nng_msg* m, iso_result* decoded) {
  if (r->has_deadline && remaining(r) == 0) {
    deliver(r, rc, m, decoded);
    return;
  }
  if (r->mode == MODE_ONE || r->mode == MODE_BATCH) {
    for (size_t i = 0; i < r->n; i++) {
      if (r->stamps[i] != 0) {
        iso__proto_restamp(r->enc.data, r->stamps[i],
                           (uint64_t)job_timeout(r, r->own[i]));
      }
    }
  }
  if (dispatch(r) != 0) {
    deliver(r, rc, m, decoded);
    return;
  }
  if (r->mode == MODE_BATCH) {
    results_close(decoded, r->n);
  } else if (decoded != NULL) {
    iso_result_close(&decoded[0]);
    free(decoded);
  }
  if (m != NULL) {
    nng_msg_free(m);
  }
}

static void ping_done(node* nd, int rc, nng_msg* m);

/* What r's end means for it: 0 answered, else sent on. */
static void go_on(node* nd, req* r, int rc, nng_msg* m) {
  iso_client* c = r->c;
  if (rc == END_MOVE) {
    if (!atomic_load(&c->closing) && another_node(c, r)) {
      resend(r, ISO_ECONNECT, NULL, NULL);
    } else {
      deliver(r, atomic_load(&c->closing) ? ISO_ECLOSED : ISO_ECONNECT, NULL,
              NULL);
    }
    return;
  }
  if (rc == END_LOST) {
    atomic_fetch_add(&nd->nlost, 1);
    if (r->idempotent && !r->resent && !atomic_load(&c->closing) &&
        another_node(c, r)) {
      r->resent = 1;
      resend(r, ISO_ENODELOST, NULL, NULL);
    } else {
      deliver(r, ISO_ENODELOST, NULL, NULL);
    }
    return;
  }
  if (rc != 0 || r->mode == MODE_RAW) {
    deliver(r, rc, m, NULL);
    return;
  }
  iso_result* res = NULL;
  rc = decode(r, m, &res);
  if (rc != 0) {
    deliver(r, rc, m, NULL);
    return;
  }
  int all_refused = 1, draining = 0;
  for (size_t i = 0; i < r->n; i++) {
    all_refused &= refused(&res[i]);
    draining |= res[i].code == ISO_CODE_SHUTTING_DOWN;
  }
  if (all_refused && draining) {
    atomic_store(&nd->out, 1); /* its pings put it back, if it comes back */
  }
  if (all_refused && !atomic_load(&c->closing) && another_node(c, r)) {
    atomic_fetch_add(&nd->retried, 1);
    resend(r, 0, m, res);
    return;
  }
  deliver(r, 0, m, res);
}

/* The end of a slot's exchange: rc is 0 (m is the reply), an ISO_E* code,
 * END_MOVE (nd never received it) or END_LOST (nd may have). The slot
 * goes back to its node last, after the user's callback (the node thread
 * closes a node only when none of its slots is busy). Thread: the slot's
 * callback. */
static void finish(slot* s, int rc, nng_msg* m) {
  node* nd = s->nd;
  req* r = s->r;
  if (r->mode == MODE_PING) {
    ping_done(nd, rc, m);
  } else {
    go_on(nd, r, rc, m);
  }
  slot_put(s);
}

/* A transport failure -> what the request's owner sees. */
static int aio_error(iso_client* c, int rv, int sending, const node* nd) {
  if (atomic_load(&c->closing)) {
    return ISO_ECLOSED; /* whatever NNG says while the socket goes down */
  }
  switch (rv) {
    case NNG_ETIMEDOUT:
      /* A send that times out never reached a connection. */
      if (sending && !node_connected(nd)) {
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
      /* sent (NNG fails a request, resend being off, whose connection
       * drops while it waits for the reply) */
      return sending ? ISO_ECONNECT : END_LOST;
    case NNG_ENOMEM:
      return ISO_ENOMEM;
    case NNG_EMSGSIZE:
      return ISO_ETOOBIG;
    default:
      return ISO_EIO;
  }
}

static void slot_cb(void* arg) {
  slot* s = arg;
  node* nd = s->nd;
  iso_client* c = nd->c;
  int rv = nng_aio_result(s->aio);
  pthread_mutex_lock(&s->mu);
  int ab = s->abandon;
  if (s->state == ST_SENDING) {
    if (rv != 0) {
      pthread_mutex_unlock(&s->mu);
      nng_msg* m = nng_aio_get_msg(s->aio);
      nng_aio_set_msg(s->aio, NULL);
      if (m != NULL) {
        nng_msg_free(m);
      }
      /* a send that did not complete never reached a connection */
      finish(s, ab != AB_NONE ? END_MOVE : aio_error(c, rv, 1, nd), NULL);
      return;
    }
    if (ab != AB_NONE || atomic_load(&c->closing)) {
      /* it reached a connection: the node may run it */
      pthread_mutex_unlock(&s->mu);
      finish(s, atomic_load(&c->closing) ? ISO_ECLOSED : END_LOST, NULL);
      return;
    }
    s->state = ST_RECEIVING;
    nng_aio_set_timeout(s->aio, remaining(s->r));
    nng_ctx_recv(s->ctx, s->aio);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  pthread_mutex_unlock(&s->mu);
  nng_msg* m = NULL;
  if (rv == 0) {
    m = nng_aio_get_msg(s->aio);
    nng_aio_set_msg(s->aio, NULL);
    finish(s, 0, m); /* a reply is the truth, taken back or not */
    return;
  }
  finish(s,
         ab != AB_NONE && !atomic_load(&c->closing) ? END_LOST
                                                    : aio_error(c, rv, 0, nd),
         NULL);
}

/* Takes back nd's requests: those still waiting to be sent (they move to
 * another node), and with `lost` those it may have received (END_LOST).
 * A slot listed busy that has finished since and carries a new request
 * by the time its lock is taken is still nd's: that request is taken back
 * too, as it should be. Thread: the node thread. */
static void node_down(node* nd, int lost) {
  iso_client* c = nd->c;
  pthread_mutex_lock(&c->mu);
  slot** busy = malloc(((size_t)nd->nslots + 1) * sizeof *busy);
  int k = 0;
  for (int i = 0; busy != NULL && i < nd->nslots; i++) {
    if (nd->slots[i]->busy) {
      busy[k++] = nd->slots[i];
    }
  }
  pthread_mutex_unlock(&c->mu);
  for (int i = 0; i < k; i++) {
    slot* s = busy[i];
    pthread_mutex_lock(&s->mu);
    if (s->abandon == AB_NONE &&
        (s->state == ST_SENDING || (lost && s->state == ST_RECEIVING))) {
      s->abandon = s->state == ST_SENDING ? AB_MOVE : AB_LOST;
      nng_aio_abort(s->aio, NNG_ECANCELED);
    }
    pthread_mutex_unlock(&s->mu);
  }
  free(busy);
}

/* ---- pings -------------------------------------------------------------- */

/* {"v": 1, "kind": "ping"}: no id, so the reply's is nil. */
static const uint8_t k_ping[] = {0x82, 0xa1, 'v',  0x01, 0xa4, 'k', 'i',
                                 'n',  'd',  0xa4, 'p',  'i',  'n', 'g'};

/* 0 if a ping's value says the node is not ready ({ready: false}), else
 * 1 (a map without the key too). */
static int value_ready(const uint8_t* p, size_t n) {
  iso_mp_rd rd;
  iso_mp_obj o;
  iso_mp_rd_init(&rd, p, n);
  if (iso_mp_read(&rd, &o) != 0 || o.type != ISO_MP_MAP) {
    return 1;
  }
  for (uint32_t i = o.len; i > 0; i--) {
    iso_mp_obj k, v;
    if (iso_mp_read(&rd, &k) != 0) {
      return 1;
    }
    int is_ready =
        k.type == ISO_MP_STR && k.len == 5 && memcmp(k.data, "ready", 5) == 0;
    if (is_ready) {
      return iso_mp_read(&rd, &v) != 0 || v.type != ISO_MP_BOOL || v.v.b;
    }
    int deep = 0;
    if (iso_mp_skip(&rd, 2, 8, &deep) != 0) {
      return 1;
    }
  }
  return 1;
}

/* A ping's answer. Alive: anything the node said (a server that does not
 * know the kind says bad_request: alive and taking jobs); in when it
 * said ready, out when it said not ready or shutting_down. Two missed in
 * a row: out, and its requests lost (by the node thread). Thread: the
 * ping slot's callback. */
static void ping_done(node* nd, int rc, nng_msg* m) {
  int alive = 0, ready = 0;
  if (rc == 0 && m != NULL) {
    iso_result res;
    if (iso_proto_decode_reply(nng_msg_body(m), nng_msg_len(m), &res) == 0) {
      alive = 1;
      if (res.status == ISO_STATUS_FULFILLED) {
        ready = value_ready(res.value, res.value_len);
      } else {
        ready =
            res.status == ISO_STATUS_ERROR && res.code == ISO_CODE_BAD_REQUEST;
      }
      iso_result_close(&res);
    }
  }
  if (m != NULL) {
    nng_msg_free(m);
  }
  if (rc == ISO_ECLOSED) {
    return;
  }
  if (alive) {
    atomic_store(&nd->misses, 0);
    atomic_store(&nd->out, !ready);
    return;
  }
  if (atomic_fetch_add(&nd->misses, 1) + 1 == 2) {
    atomic_store(&nd->out, 1);
    atomic_store(&nd->lost, 1);
    wake_thread(nd->c);
  }
}

/* Sends nd a ping, unless the last one is still out. Thread: the node
 * thread. */
static void ping_send(node* nd) {
  iso_client* c = nd->c;
  if (atomic_exchange(&nd->ping_out, 1)) {
    return;
  }
  req* r = &nd->ping_req;
  int ms = c->heartbeat_ms * 9 / 10; /* answered or missed by the next */
  r->has_deadline = 1;
  r->expire = expiry(ms > 0 ? ms : 1);
  if (slot_start(nd->ping, r) != 0) {
    atomic_store(&nd->ping_out, 0);
  }
}

/* ---- nodes: opening, closing -------------------------------------------- */

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void* arg) {
  node* nd = arg;
  (void)p;
  if (ev == NNG_PIPE_EV_ADD_POST) {
    atomic_fetch_add(&nd->npipes, 1);
  } else if (ev == NNG_PIPE_EV_REM_POST) {
    if (atomic_fetch_sub(&nd->npipes, 1) == 1) {
      wake_thread(nd->c); /* requests waiting on it may move */
    }
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

/* Options, pipe events, the dialer (and its TLS) on nd's new socket. */
static int node_dial(iso_client* c, node* nd) {
  int rv = nng_socket_set_ms(nd->sock, NNG_OPT_REQ_RESENDTIME, c->resend);
  if (rv == 0) {
    rv = nng_socket_set_size(nd->sock, NNG_OPT_RECVMAXSZ, c->max_msg);
  }
  if (rv == 0) {
    rv = nng_socket_set_ms(nd->sock, NNG_OPT_RECONNMINT, 100);
  }
  if (rv == 0) {
    rv = nng_socket_set_ms(nd->sock, NNG_OPT_RECONNMAXT, 2000);
  }
  if (rv == 0) {
    rv = nng_pipe_notify(nd->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, nd);
  }
  if (rv == 0) {
    rv = nng_pipe_notify(nd->sock, NNG_PIPE_EV_REM_POST, pipe_cb, nd);
  }
  if (rv != 0) {
    return from_nng(rv);
  }
  rv = nng_dialer_create(&nd->dialer, nd->sock, nd->url);
  if (rv != 0) {
    return rv == NNG_ENOMEM ? ISO_ENOMEM : ISO_EINVAL;
  }
  if (strncmp(nd->url, "tls+", 4) == 0) {
    /* the name's host is the one the certificate must carry */
    int rc = iso__client_tls(nd->dialer, nd->name, &c->tls, &nd->tls);
    if (rc != 0) {
      return rc;
    }
  }
  return from_nng(nng_dialer_start(nd->dialer, NNG_FLAG_NONBLOCK));
}

/* After its socket's slots are idle: closes and frees nd. */
static void node_free(node* nd) {
  if (nd == NULL) {
    return;
  }
  for (int i = 0; i < nd->nslots; i++) {
    slot_free(nd->slots[i]);
  }
  free(nd->slots);
  if (nd->ping != NULL) {
    slot_free(nd->ping);
  }
  nng_close(nd->sock);
  if (nd->tls != NULL) {
    nng_tls_config_free(nd->tls);
  }
  iso_buf_close(&nd->ping_req.enc);
  iso_buf_close(&nd->ping_req.ids);
  free(nd);
}

/* A node dialing url (from the URL name), in table entry `index`. */
static int node_open(iso_client* c,
                     const char* url,
                     const char* from,
                     int index,
                     node** out) {
  if (strlen(url) >= URL_MAX || strlen(from) >= URL_MAX) {
    return ISO_EINVAL;
  }
  node* nd = calloc(1, sizeof *nd);
  if (nd == NULL) {
    return ISO_ENOMEM;
  }
  nd->c = c;
  nd->index = index;
  strcpy(nd->url, url);
  strcpy(nd->name, from);
  nd->seen = 1;
  req* pr = &nd->ping_req;
  pr->c = c;
  pr->mode = MODE_PING;
  pr->ping_node = nd;
  iso_buf_init(&pr->enc);
  iso_buf_init(&pr->ids);
  int rv = nng_req0_open(&nd->sock);
  if (rv != 0) {
    free(nd);
    return from_nng(rv);
  }
  int rc = iso_buf_append(&pr->enc, k_ping, sizeof k_ping);
  if (rc == 0) {
    rc = node_dial(c, nd);
  }
  if (rc == 0) {
    rc = slot_new(nd, &nd->ping);
  }
  if (rc != 0) {
    node_free(nd);
    return rc;
  }
  *out = nd;
  return 0;
}

/* Adds a node for url (from `from`), or finds it (and marks it seen, and
 * no longer gone). 0, or an error (the table is full: ISO_EBUSY). */
static int node_add(iso_client* c, const char* url, const char* from) {
  pthread_mutex_lock(&c->mu);
  int hole = -1;
  for (int i = 0; i < c->nnodes; i++) {
    node* nd = c->nodes[i];
    if (nd == NULL) {
      hole = hole < 0 ? i : hole;
    } else if (strcmp(nd->url, url) == 0) {
      nd->seen = 1;
      nd->gone = 0;
      pthread_mutex_unlock(&c->mu);
      return 0;
    }
  }
  int at = hole >= 0 ? hole : c->nnodes;
  pthread_mutex_unlock(&c->mu);
  if (at >= ISO_CLIENT_MAX_NODES) {
    return ISO_EBUSY;
  }
  node* nd;
  int rc = node_open(c, url, from, at, &nd);
  if (rc != 0) {
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  c->nodes[at] = nd; /* only this thread (or iso_client_new) adds */
  if (at == c->nnodes) {
    c->nnodes++;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* ---- names -------------------------------------------------------------- */

/* Splits a tcp:// or tls+tcp:// URL whose host is a name (not an address
 * literal) into *n. 1 if it is one, else 0. */
static int name_parse(const char* url, name* n) {
  const char* schemes[] = {"tcp://", "tls+tcp://"};
  const char* rest = NULL;
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
    size_t k = strlen(schemes[i]);
    if (strncmp(url, schemes[i], k) == 0) {
      rest = url + k;
      memcpy(n->scheme, schemes[i], k + 1);
    }
  }
  if (rest == NULL || rest[0] == '[' || strlen(url) >= URL_MAX) {
    return 0; /* another scheme, or an IPv6 literal */
  }
  const char* colon = strrchr(rest, ':');
  if (colon == NULL || colon == rest || strlen(colon + 1) >= sizeof n->port ||
      strchr(colon + 1, '/') != NULL) {
    return 0;
  }
  memcpy(n->host, rest, (size_t)(colon - rest));
  n->host[colon - rest] = '\0';
  strcpy(n->port, colon + 1);
  struct in_addr a4;
  if (inet_pton(AF_INET, n->host, &a4) == 1 || strcmp(n->host, "*") == 0) {
    return 0;
  }
  strcpy(n->url, url);
  return 1;
}

/* Looks n up: a node per address (new ones opened), and n's nodes whose
 * address is not in the answer marked gone. A failed lookup changes
 * nothing. Returns how many addresses it gave (0: failed). */
static int name_resolve(iso_client* c, const name* n) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  if (getaddrinfo(n->host, n->port, &hints, &res) != 0) {
    return 0;
  }
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nnodes; i++) {
    if (c->nodes[i] != NULL && strcmp(c->nodes[i]->name, n->url) == 0) {
      c->nodes[i]->seen = 0;
    }
  }
  pthread_mutex_unlock(&c->mu);
  int count = 0;
  for (struct addrinfo* a = res; a != NULL; a = a->ai_next) {
    char host[INET6_ADDRSTRLEN] = "";
    char url[URL_MAX];
    const void* where =
        a->ai_family == AF_INET
            ? (const void*)&((struct sockaddr_in*)a->ai_addr)->sin_addr
            : (const void*)&((struct sockaddr_in6*)a->ai_addr)->sin6_addr;
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        inet_ntop(a->ai_family, where, host, sizeof host) == NULL) {
      continue;
    }
    snprintf(url, sizeof url, a->ai_family == AF_INET ? "%s%s:%s" : "%s[%s]:%s",
             n->scheme, host, n->port);
    if (node_add(c, url, n->url) == 0) {
      count++;
    }
  }
  freeaddrinfo(res);
  if (count > 0) {
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->nnodes; i++) {
      node* nd = c->nodes[i];
      if (nd != NULL && strcmp(nd->name, n->url) == 0 && !nd->seen) {
        nd->gone = 1;
      }
    }
    pthread_mutex_unlock(&c->mu);
  }
  return count;
}

/* ---- the node thread ---------------------------------------------------- */

/* Is a node other than nd connected and in? Under c->mu. */
static int other_up(iso_client* c, const node* nd) {
  for (int i = 0; i < c->nnodes; i++) {
    node* o = c->nodes[i];
    if (o != NULL && o != nd && !o->gone && !atomic_load(&o->out) &&
        node_connected(o)) {
      return 1;
    }
  }
  return 0;
}

/* Closes the nodes that left the DNS answer and have nothing out. */
static void close_gone(iso_client* c) {
  node* closing[ISO_CLIENT_MAX_NODES];
  int k = 0;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nnodes; i++) {
    node* nd = c->nodes[i];
    if (nd == NULL || !nd->gone || atomic_load(&nd->in_flight) > 0 ||
        atomic_load(&nd->ping_out)) {
      continue;
    }
    int busy = 0;
    for (int j = 0; j < nd->nslots; j++) {
      busy |= nd->slots[j]->busy;
    }
    if (!busy) {
      c->nodes[i] = NULL;
      closing[k++] = nd;
    }
  }
  pthread_mutex_unlock(&c->mu);
  for (int i = 0; i < k; i++) {
    node_free(closing[i]);
  }
}

static uint64_t now_ms(void) {
  return (uint64_t)nng_clock();
}

static void* node_thread(void* arg) {
  iso_client* c = arg;
  uint64_t next_ping = now_ms();
  uint64_t next_resolve = now_ms() + (uint64_t)c->resolve_ms;
  for (;;) {
    uint64_t now = now_ms();
    uint64_t until = c->heartbeat_ms >= 0 ? next_ping : now + 250;
    if (c->nnames > 0 && c->resolve_ms >= 0 && next_resolve < until) {
      until = next_resolve;
    }
    pthread_mutex_lock(&c->tmu);
    if (!c->wake && !atomic_load(&c->closing) && until > now) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) * 1000000u;
      ts.tv_sec += (time_t)(ns / 1000000000u);
      ts.tv_nsec = (long)(ns % 1000000000u);
      pthread_cond_timedwait(&c->tcv, &c->tmu, &ts);
    }
    c->wake = 0;
    pthread_mutex_unlock(&c->tmu);
    if (atomic_load(&c->closing)) {
      break;
    }
    now = now_ms();
    if (c->nnames > 0 && c->resolve_ms >= 0 && now >= next_resolve) {
      for (size_t i = 0; i < c->nnames; i++) {
        name_resolve(c, &c->names[i]);
      }
      next_resolve = now + (uint64_t)c->resolve_ms;
    }
    /* nodes are freed by this thread only: the pointers stay good */
    node* nodes[ISO_CLIENT_MAX_NODES];
    int move[ISO_CLIENT_MAX_NODES];
    int k = 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->nnodes; i++) {
      node* nd = c->nodes[i];
      if (nd != NULL) {
        move[k] = !node_connected(nd) && atomic_load(&nd->in_flight) > 0 &&
                  other_up(c, nd);
        nodes[k++] = nd;
      }
    }
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < k; i++) {
      if (atomic_exchange(&nodes[i]->lost, 0)) {
        node_down(nodes[i], 1);
      } else if (move[i]) {
        node_down(nodes[i], 0);
      }
    }
    if (c->heartbeat_ms >= 0 && now >= next_ping) {
      for (int i = 0; i < k; i++) {
        pthread_mutex_lock(&c->mu);
        int gone = nodes[i]->gone;
        pthread_mutex_unlock(&c->mu);
        if (!gone) {
          ping_send(nodes[i]);
        }
      }
      next_ping = now + (uint64_t)(c->heartbeat_ms > 0 ? c->heartbeat_ms : 1);
    }
    close_gone(c);
  }
  return NULL;
}

/* ---- open / close ------------------------------------------------------- */

static char* dup_or_null(const char* s, int* failed) {
  if (s == NULL) {
    return NULL;
  }
  char* d = strdup(s);
  *failed |= d == NULL;
  return d;
}

static void tls_free(iso_client_opts* t) {
  free((char*)t->tls_ca_file);
  free((char*)t->tls_server_name);
  free((char*)t->tls_cert_key_file);
  free((char*)t->tls_cert_file);
  free((char*)t->tls_key_file);
}

/* The opts' TLS options, copied (a node may be opened later). */
static int tls_copy(iso_client_opts* t, const iso_client_opts* o) {
  int failed = 0;
  memset(t, 0, sizeof *t);
  t->tls_ca_file = dup_or_null(o->tls_ca_file, &failed);
  t->tls_server_name = dup_or_null(o->tls_server_name, &failed);
  t->tls_cert_key_file = dup_or_null(o->tls_cert_key_file, &failed);
  t->tls_cert_file = dup_or_null(o->tls_cert_file, &failed);
  t->tls_key_file = dup_or_null(o->tls_key_file, &failed);
  t->tls_insecure = o->tls_insecure;
  return failed ? ISO_ENOMEM : 0;
}

/* The nodes of the user's URLs: names looked up (a name whose lookup
 * fails is dialed as it is: NNG looks it up at each dial), the rest as
 * they are. */
static int open_nodes(iso_client* c, const char* const* urls, size_t n) {
  c->names = calloc(n, sizeof *c->names);
  if (c->names == NULL) {
    return ISO_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (urls[i] == NULL) {
      return ISO_EINVAL;
    }
    name* nm = &c->names[c->nnames];
    int rc = 0;
    if (name_parse(urls[i], nm)) {
      c->nnames++;
      if (name_resolve(c, nm) == 0) {
        rc = node_add(c, urls[i], urls[i]);
      }
    } else {
      rc = node_add(c, urls[i], urls[i]);
    }
    if (rc != 0) {
      return rc == ISO_EBUSY ? ISO_EINVAL : rc;
    }
  }
  return 0;
}

int iso_client_new_nodes(const char* const* urls,
                         size_t n,
                         const iso_client_opts* opts,
                         iso_client** out) {
  static const iso_client_opts defaults;
  const iso_client_opts* o = opts ? opts : &defaults;
  if (out != NULL) {
    *out = NULL;
  }
  if (out == NULL || urls == NULL || n == 0 || n > ISO_CLIENT_MAX_NODES ||
      o->max_inflight < 0 || o->max_inflight > ISO_CLIENT_MAX_INFLIGHT ||
      o->resend_ms < 0) {
    return ISO_EINVAL;
  }
  iso_client* c = calloc(1, sizeof *c);
  if (c == NULL) {
    return ISO_ENOMEM;
  }
  c->max_msg = o->max_msg ? o->max_msg : ISO_PROTO_MAX_MSG_DEFAULT;
  c->max_reqs = o->max_inflight ? o->max_inflight : ISO_CLIENT_DEFAULT_INFLIGHT;
  c->resend = o->resend_ms > 0 ? o->resend_ms : NNG_DURATION_INFINITE;
  c->heartbeat_ms =
      o->heartbeat_ms ? o->heartbeat_ms : ISO_CLIENT_DEFAULT_HEARTBEAT_MS;
  c->resolve_ms = o->resolve_ms ? o->resolve_ms : ISO_CLIENT_DEFAULT_RESOLVE_MS;
  atomic_init(&c->closing, 0);
  atomic_init(&c->next_id, 1);
  struct timespec seed;
  clock_gettime(CLOCK_MONOTONIC, &seed);
  atomic_init(&c->rng, (uint64_t)seed.tv_nsec ^ (uint64_t)(uintptr_t)c);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_cond_init(&c->tcv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&c->mu, NULL);
  pthread_mutex_init(&c->tmu, NULL);
  int rc = tls_copy(&c->tls, o);
  if (rc == 0) {
    rc = open_nodes(c, urls, n);
  }
  int live = 0;
  for (int i = 0; i < c->nnodes; i++) {
    live += c->nodes[i] != NULL;
  }
  if (rc == 0 && (live > 1 || c->nnames > 0)) {
    c->thread_on = pthread_create(&c->thread, NULL, node_thread, c) == 0;
    rc = c->thread_on ? 0 : ISO_ENOMEM;
  }
  if (rc != 0) {
    iso_client_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

int iso_client_new(const char* url,
                   const iso_client_opts* opts,
                   iso_client** out) {
  return iso_client_new_nodes(&url, 1, opts, out);
}

void iso_client_free(iso_client* c) {
  if (c == NULL) {
    return;
  }
  pthread_mutex_lock(&c->mu);
  atomic_store(&c->closing, 1);
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  if (c->thread_on) {
    wake_thread(c);
    pthread_join(c->thread, NULL);
  }
  /* no context call under way from here on (DESIGN): each is made under
   * its slot's lock after a look at `closing` */
  for (int i = 0; i < c->nnodes; i++) {
    node* nd = c->nodes[i];
    for (int j = 0; nd != NULL && j < nd->nslots; j++) {
      pthread_mutex_lock(&nd->slots[j]->mu);
      pthread_mutex_unlock(&nd->slots[j]->mu);
    }
    if (nd != NULL && nd->ping != NULL) {
      pthread_mutex_lock(&nd->ping->mu);
      pthread_mutex_unlock(&nd->ping->mu);
    }
  }
  /* The slots before each socket (DESIGN): freeing a slot's aio fails
   * what it has under way with NNG_ECLOSED (its callback completes the
   * request with ISO_ECLOSED before nng_aio_free returns) and waits for
   * NNG's expiry thread if that is cancelling it. */
  for (int i = 0; i < c->nnodes; i++) {
    node_free(c->nodes[i]);
  }
  for (int i = 0; i < c->nreqs; i++) {
    req_free(c->reqs[i]);
  }
  free(c->reqs);
  free(c->names);
  tls_free(&c->tls);
  pthread_cond_destroy(&c->cv);
  pthread_cond_destroy(&c->tcv);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->tmu);
  free(c);
}

int iso_client_connected(iso_client* c) {
  if (c == NULL) {
    return 0;
  }
  int up = 0;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nnodes && !up; i++) {
    up = c->nodes[i] != NULL && node_connected(c->nodes[i]);
  }
  pthread_mutex_unlock(&c->mu);
  return up;
}

int iso_client_nodes(iso_client* c, iso_client_node* out, size_t cap) {
  if (c == NULL) {
    return 0;
  }
  int k = 0;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nnodes; i++) {
    node* nd = c->nodes[i];
    if (nd == NULL) {
      continue;
    }
    if ((size_t)k < cap) {
      iso_client_node* v = &out[k];
      memset(v, 0, sizeof *v);
      snprintf(v->url, sizeof v->url, "%s", nd->url);
      v->connected = node_connected(nd);
      v->up = !nd->gone && !atomic_load(&nd->out) && v->connected;
      v->in_flight = atomic_load(&nd->in_flight);
      v->sent = atomic_load(&nd->sent);
      v->lost = atomic_load(&nd->nlost);
      v->retried = atomic_load(&nd->retried);
    }
    k++;
  }
  pthread_mutex_unlock(&c->mu);
  return k;
}

/* ---- encoding into a request -------------------------------------------- */

/* The msgpack form of an automatic id (a positive integer). */
static size_t auto_id(iso_client* c, uint8_t* buf) {
  uint64_t v = atomic_fetch_add(&c->next_id, 1);
  buf[0] = 0xcf;
  for (int i = 0; i < 8; i++) {
    buf[1 + i] = (uint8_t)(v >> (56 - 8 * i));
  }
  return 9;
}

/* Encodes jobs (one, or a batch when is_batch) into r->enc and records
 * their ids and where their timeout_ms is. Jobs without an id get one;
 * every job carries the deadline as its timeout_ms (job_timeout). */
static int req_encode(req* r, const iso_job* jobs, size_t n, int is_batch) {
  iso_client* c = r->c;
  int rc = req_grow(r, n);
  iso_job* copy = rc == 0 ? malloc(n * sizeof *copy) : NULL;
  uint8_t* auto_ids = copy != NULL ? malloc(n * 9) : NULL;
  if (auto_ids == NULL) {
    free(copy);
    return ISO_ENOMEM;
  }
  r->idempotent = 1;
  for (size_t i = 0; i < n && rc == 0; i++) {
    iso_job j = jobs[i];
    r->own[i] = j.timeout_ms;
    r->idempotent &= j.idempotent != 0;
    j.timeout_ms = job_timeout(r, j.timeout_ms);
    if (j.id == NULL) {
      j.id = auto_ids + 9 * i;
      j.id_len = auto_id(c, auto_ids + 9 * i);
    }
    rc = iso_buf_append(&r->ids, j.id, j.id_len);
    r->id_end[i] = r->ids.len;
    copy[i] = j;
  }
  if (rc == 0) {
    rc = iso__proto_encode_stamped(copy, n, is_batch, &r->enc, r->stamps);
  }
  free(copy);
  free(auto_ids);
  r->n = n;
  return rc;
}

static int submit(iso_client* c,
                  const iso_job* jobs,
                  size_t n,
                  int is_batch,
                  int64_t deadline_ms,
                  int wait,
                  req** out) {
  if (c == NULL || jobs == NULL || n == 0 ||
      (is_batch && n > ISO_PROTO_MAX_BATCH)) {
    return ISO_EINVAL;
  }
  int has_deadline = deadline_ms >= 0;
  nng_time expire = has_deadline ? expiry(deadline_ms) : 0;
  req* r;
  int rc = req_acquire(c, wait, has_deadline, expire, &r);
  if (rc != 0) {
    return rc;
  }
  rc = req_encode(r, jobs, n, is_batch);
  if (rc != 0) {
    req_release(r);
    return rc;
  }
  *out = r;
  return 0;
}

/* Sends r; on error it is released (its callback never runs). */
static int start(req* r) {
  int rc = dispatch(r);
  if (rc != 0) {
    req_release(r);
  }
  return rc;
}

/* ---- async -------------------------------------------------------------- */

int iso_client_submit(iso_client* c,
                      const iso_job* job,
                      int64_t deadline_ms,
                      iso_client_cb cb,
                      void* data) {
  req* r;
  if (cb == NULL) {
    return ISO_EINVAL;
  }
  int rc = submit(c, job, 1, 0, deadline_ms, 0, &r);
  if (rc != 0) {
    return rc;
  }
  r->mode = MODE_ONE;
  r->cb = cb;
  r->data = data;
  return start(r);
}

int iso_client_submit_batch(iso_client* c,
                            const iso_job* jobs,
                            size_t n,
                            int64_t deadline_ms,
                            iso_client_batch_cb cb,
                            void* data) {
  req* r;
  if (cb == NULL) {
    return ISO_EINVAL;
  }
  int rc = submit(c, jobs, n, 1, deadline_ms, 0, &r);
  if (rc != 0) {
    return rc;
  }
  r->mode = MODE_BATCH;
  r->batch_cb = cb;
  r->data = data;
  return start(r);
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

/* Sends r (mode and callback set, data w) and waits for its answer. */
static int start_wait(req* r, waiter* w) {
  int rc = start(r);
  if (rc != 0) {
    waiter_close(w);
    return rc;
  }
  return waiter_wait(w);
}

int iso_client_call(iso_client* c,
                    const iso_job* job,
                    int64_t deadline_ms,
                    iso_result* out) {
  if (out == NULL) {
    return ISO_EINVAL;
  }
  memset(out, 0, sizeof *out);
  req* r;
  int rc = submit(c, job, 1, 0, deadline_ms, 1, &r);
  if (rc != 0) {
    return rc;
  }
  waiter w;
  waiter_init(&w);
  w.out = out;
  r->mode = MODE_ONE;
  r->cb = one_cb;
  r->data = &w;
  return start_wait(r, &w);
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
  req* r;
  int rc = submit(c, jobs, n, 1, deadline_ms, 1, &r);
  if (rc != 0) {
    return rc;
  }
  waiter w;
  waiter_init(&w);
  w.out = out;
  w.n = n;
  r->mode = MODE_BATCH;
  r->batch_cb = batch_cb;
  r->data = &w;
  return start_wait(r, &w);
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
  req* r;
  int rc = req_acquire(c, 1, has_deadline, expire, &r);
  if (rc != 0) {
    return rc;
  }
  r->n = 0;
  rc = iso_buf_append(&r->enc, bytes, len);
  if (rc != 0) {
    req_release(r);
    return rc;
  }
  waiter w;
  waiter_init(&w);
  w.raw = reply;
  r->mode = MODE_RAW;
  r->raw = raw_done;
  r->data = &w;
  return start_wait(r, &w);
}
