/* fetch.c: the ops fetch() is built on (bootstrap/prelude/95-fetch.js):
 * op_fetch_start, op_fetch_send, op_fetch_read, op_fetch_cancel, and
 * op_fetch_release, which the runtime sends itself.
 *
 * DESIGN: each op checks its arguments on the op thread, defers
 * (iso_op_defer: its record goes back with its batch as ISO_OPERR_LATER,
 * the promise stays pending) and hands the command to the service's
 * iso_net (iso_ops_env_set_net), whose net thread answers the ticket when
 * the network has: an op thread never waits for the network, and the
 * other ops of the batch never wait for the fetch. A transfer belongs to
 * the route of the batch its start came in (the pool: the worker; in
 * process: 0) and to the job that started it (realm << 32 | tag), so a
 * worker reaches only its own transfers and a realm freed or a job
 * cancelled can end its own (op_fetch_release).
 *
 * Permissions: the first hop is checked here, before anything else, with
 * the record's permissions (resolved by the transport, never a worker's
 * word); iso_net checks every hop again, redirects included. A runtime
 * without a net (`isopool run` without --allow-net) still refuses with
 * the same PermissionDenied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_mp.h"
#include "iso_net.h"
#include "iso_utf8.h"
#include "ops_private.h"

/* A URL longer than this is refused (TypeError): browsers and servers
 * stop well before. */
#define MAX_URL_BYTES ((size_t)64 << 10)

/* A start that sends and answers with the head (op_fetch_start's `send`):
 * the rid from iso_net_start goes straight to iso_net_send, on the net
 * thread, and the head answers the ticket. */
typedef struct start_send {
  iso_op_ticket* ticket;
  iso_net* net;
  uint64_t owner;
} start_send;

static void answered(void* data, const iso_net_done* d);

static void started(void* data, const iso_net_done* d) {
  start_send* ss = data;
  iso_mp_rd r;
  iso_mp_obj o;
  if (d->err == ISO_OPERR_NONE) {
    iso_mp_rd_init(&r, d->value, d->len);
    if (iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_UINT) {
      iso_net_send(ss->net, ss->owner, (uint32_t)o.v.u, answered, ss->ticket);
      free(ss);
      return;
    }
  }
  answered(ss->ticket, d); /* start failed */
  free(ss);
}

/* The net's answer to a deferred op, passed on to its ticket. */
static void answered(void* data, const iso_net_done* d) {
  iso_op_ticket* t = data;
  if (d->err == ISO_OPERR_NONE) {
    iso_op_ticket_answer(t, ISO_OPERR_NONE, d->value, d->len);
    return;
  }
  /* "AbortError" and "BadResource" travel in the message, which the
   * prelude reads ("AbortError: ..."); a network failure is a TypeError */
  iso_op_err err = d->err;
  char msg[512];
  const char* m = d->msg != NULL ? d->msg : "fetch failed";
  if (d->name != NULL && strcmp(d->name, "TypeError") == 0) {
    err = ISO_OPERR_TYPE;
    snprintf(msg, sizeof msg, "%s", m);
  } else if (d->name != NULL) {
    snprintf(msg, sizeof msg, "%s: %s", d->name, m);
  } else {
    snprintf(msg, sizeof msg, "%s", m);
  }
  iso_op_ticket_answer(t, err, msg, strlen(msg));
}

/* The service's net, or a PermissionDenied / Error for a runtime that
 * has none. */
static iso_net* need_net(iso_op_call* call) {
  iso_net* net = iso__ops_env_net(call->env);
  if (net == NULL) {
    iso_op_fail(call, ISO_OPERR_OTHER,
                "fetch: this runtime has no network (the service starts "
                "one with --allow-net)");
  }
  return net;
}

/* A string argument of up to max bytes, NUL-terminated in a new buffer
 * (free() it). */
static char* arg_strdup(iso_op_call* call, int i, const char* what) {
  const uint8_t* mp;
  size_t len;
  iso_mp_obj o;
  iso_mp_rd r;
  if (iso_op_arg_value(call, i, what, &mp, &len) != 0) {
    return NULL;
  }
  iso_mp_rd_init(&r, mp, len);
  if (iso_mp_read(&r, &o) != 0 || o.type != ISO_MP_STR ||
      o.len >= MAX_URL_BYTES || memchr(o.data, 0, o.len) != NULL ||
      !iso_utf8_valid(o.data, o.len)) {
    iso_op_fail(call, ISO_OPERR_TYPE,
                "%s: argument %d (%s) must be a string of less than %zu KiB "
                "without NUL bytes",
                call->def->name, i + 1, what, MAX_URL_BYTES >> 10);
    return NULL;
  }
  char* s = malloc((size_t)o.len + 1);
  if (s == NULL) {
    iso_op_fail(call, ISO_OPERR_OTHER, "out of memory");
    return NULL;
  }
  memcpy(s, o.data, o.len);
  s[o.len] = '\0';
  return s;
}

/* Argument i, [[name (str), value (bin or str)], ...], as name/value
 * pairs into *out (views into the arguments; free() *out). */
static int arg_headers(iso_op_call* call, int i, iso_str** out, size_t* n) {
  const uint8_t* mp;
  size_t len;
  iso_mp_rd r;
  iso_mp_obj o;
  *out = NULL;
  *n = 0;
  if (iso_op_arg_value(call, i, "headers", &mp, &len) != 0) {
    return ISO_EOP;
  }
  iso_mp_rd_init(&r, mp, len);
  if (iso_mp_read(&r, &o) != 0 || o.type != ISO_MP_ARRAY ||
      o.len > ISO_NET_MAX_HEADERS) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: argument %d (headers) must be an array of at "
                       "most %d [name, value] pairs",
                       call->def->name, i + 1, ISO_NET_MAX_HEADERS);
  }
  iso_str* h = calloc((size_t)o.len * 2 + 1, sizeof *h);
  if (h == NULL) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "out of memory");
  }
  uint32_t pairs = o.len;
  for (uint32_t k = 0; k < pairs; k++) {
    iso_mp_obj pair, name, value;
    if (iso_mp_read(&r, &pair) != 0 || pair.type != ISO_MP_ARRAY ||
        pair.len != 2 || iso_mp_read(&r, &name) != 0 ||
        name.type != ISO_MP_STR || iso_mp_read(&r, &value) != 0 ||
        (value.type != ISO_MP_STR && value.type != ISO_MP_BIN)) {
      free(h);
      return iso_op_fail(call, ISO_OPERR_TYPE,
                         "%s: header %u must be [name (string), value "
                         "(string or bytes)]",
                         call->def->name, k + 1);
    }
    h[2 * k] = (iso_str){(const char*)name.data, name.len};
    h[2 * k + 1] = (iso_str){(const char*)value.data, value.len};
  }
  *out = h;
  *n = pairs;
  return 0;
}

/* op_fetch_start(method, url, headers, body (bytes or null), redirect
 * ("follow" | "manual" | "error"), send (bool, default false)): a
 * transfer, its request sent at once; its rid, or with send, its head
 * (op_fetch_send's answer, which carries the rid): one op for a small
 * response when nothing may cancel it before its head. */
int iso__op_fetch_start(iso_op_call* call) {
  char method[64], redirect[16];
  if (iso_op_arg_str(call, 0, "method", method, sizeof method) != 0 ||
      iso_op_arg_str(call, 4, "redirect", redirect, sizeof redirect) != 0) {
    return ISO_EOP;
  }
  iso_net_redirect mode = ISO_NET_FOLLOW;
  if (strcmp(redirect, "manual") == 0) {
    mode = ISO_NET_MANUAL;
  } else if (strcmp(redirect, "error") == 0) {
    mode = ISO_NET_ERROR;
  } else if (strcmp(redirect, "follow") != 0) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: redirect must be \"follow\", \"manual\" or "
                       "\"error\"",
                       call->def->name);
  }
  int send = 0;
  if (iso_op_arg_bool(call, 5, "send", 0, &send) != 0) {
    return ISO_EOP;
  }
  const uint8_t* body = NULL;
  size_t body_len = 0;
  if (iso__ops_arg_present(call, 3) &&
      iso_op_arg_bytes(call, 3, "body", &body, &body_len) != 0) {
    return ISO_EOP;
  }
  char* url = arg_strdup(call, 1, "url");
  if (url == NULL) {
    return ISO_EOP;
  }
  iso_str* headers = NULL;
  size_t nheaders = 0;
  iso_op_err err = ISO_OPERR_NONE;
  int rc = arg_headers(call, 2, &headers, &nheaders);
  if (rc == 0 && iso_net_check_url(call->perms, url, &err, call->msg,
                                   sizeof call->msg) != 0) {
    call->err = err;
    rc = ISO_EOP;
  }
  iso_net* net = rc == 0 ? need_net(call) : NULL;
  iso_op_ticket* t = NULL;
  if (net == NULL || iso_op_defer(call, &t) != 0) {
    free(url);
    free(headers);
    return ISO_EOP;
  }
  iso_net_req req = {
      .method = method,
      .url = url,
      .headers = headers,
      .nheaders = nheaders,
      /* an empty body is a body: never NULL */
      .body = body != NULL
                  ? body
                  : (iso__ops_arg_present(call, 3) ? (const uint8_t*)"" : NULL),
      .body_len = body_len,
      .redirect = mode,
      .job = iso_op_ticket_job(t),
      .send = 1, /* under way while the rid goes back */
  };
  start_send* ss = send ? malloc(sizeof *ss) : NULL;
  if (ss != NULL) {
    *ss =
        (start_send){.ticket = t, .net = net, .owner = iso_op_ticket_owner(t)};
    iso_net_start(net, ss->owner, call->perms, &req, started, ss);
  } else { /* (out of memory for ss: the rid, and JavaScript sends) */
    iso_net_start(net, iso_op_ticket_owner(t), call->perms, &req, answered, t);
  }
  free(url);
  free(headers);
  return 0;
}

/* The rid argument of send/read/cancel. */
static int arg_rid(iso_op_call* call, uint32_t* rid) {
  int64_t v;
  if (iso_op_arg_int(call, 0, "rid", 1, UINT32_MAX, 0, &v) != 0) {
    return ISO_EOP;
  }
  if (v == 0) {
    return iso_op_fail(call, ISO_OPERR_TYPE, "%s: argument 1 (rid) is missing",
                       call->def->name);
  }
  *rid = (uint32_t)v;
  return 0;
}

typedef void (*rid_cmd)(iso_net*, uint64_t, uint32_t, iso_net_cb, void*);

static int rid_op(iso_op_call* call, rid_cmd cmd) {
  uint32_t rid = 0;
  iso_op_ticket* t = NULL;
  iso_net* net = NULL;
  if (arg_rid(call, &rid) != 0 || (net = need_net(call)) == NULL ||
      iso_op_defer(call, &t) != 0) {
    return ISO_EOP;
  }
  cmd(net, iso_op_ticket_owner(t), rid, answered, t);
  return 0;
}

/* op_fetch_send(rid): the response's head (iso_net_send), with the whole
 * body when it has come by then. */
int iso__op_fetch_send(iso_op_call* call) {
  return rid_op(call, iso_net_send);
}

/* op_fetch_read(rid): the body's next bytes, or null at its end. */
int iso__op_fetch_read(iso_op_call* call) {
  return rid_op(call, iso_net_read);
}

/* op_fetch_cancel(rid): ends the transfer; undefined. */
int iso__op_fetch_cancel(iso_op_call* call) {
  return rid_op(call, iso_net_cancel);
}

/* op_fetch_release(): ends the transfers of the record's job (its tag) or,
 * with tag 0, of its whole realm. The runtime sends it (no promise) when
 * a job is cancelled or a realm that fetched is freed. Answers at once. */
int iso__op_fetch_release(iso_op_call* call) {
  iso_net* net = iso__ops_env_net(call->env);
  if (net != NULL && call->realm != 0) {
    iso_net_release(net, call->route, (uint64_t)call->realm << 32 | call->tag);
  }
  return 0;
}
