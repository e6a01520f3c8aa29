/* fake_server.c: a small NNG REP0 job server (fake_server.h). */
#include "fake_server.h"

#include <nng/protocol/reqrep0/rep.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_proto.h"
#include "iso_server.h"
#include "tap.h"

static atomic_int url_seq;

void make_url(char* buf, size_t n) {
  snprintf(buf, n, "ipc:///tmp/isopool-test-client-%d-%d.ipc", (int)getpid(),
           atomic_fetch_add(&url_seq, 1) + 1);
}

/* ---- the server --------------------------------------------------------- */

static void reply_one(const iso_proto_req* q,
                      int worker,
                      int timeouts,
                      iso_buf* out) {
  iso_proto_reply rp = {.id = q->id, .stats = {worker, 2, 3}};
  uint8_t tmo[9] = {0xc0};
  iso_log log = {ISO_LOG_INFO, NULL, 0};
  if (q->err != 0) {
    rp.status = ISO_STATUS_ERROR;
    rp.code = ISO_CODE_BAD_REQUEST;
    rp.message = iso_str_of(q->errmsg);
    rp.stats.worker = -1;
  } else {
    rp.status = ISO_STATUS_FULFILLED;
    rp.value = q->args;
    if (timeouts) {
      /* the timeout_ms the request carried, as a uint64 (nil: none) */
      if (q->timeout_ms >= 0) {
        tmo[0] = 0xcf;
        for (int i = 0; i < 8; i++) {
          tmo[1 + i] = (uint8_t)((uint64_t)q->timeout_ms >> (56 - 8 * i));
        }
      }
      rp.value.data = tmo;
      rp.value.len = q->timeout_ms >= 0 ? 9 : 1;
    }
    iso_str what = q->module.ptr ? q->module : q->source;
    log.text = what.ptr;
    log.len = what.len;
    rp.logs = &log;
    rp.nlogs = 1;
  }
  iso_proto_encode_reply(&rp, out);
}

static void echo(const uint8_t* p, size_t n, int timeouts, iso_buf* out) {
  iso_proto_msg m;
  char err[ISO_PROTO_ERRMSG_MAX];
  if (iso_proto_decode(p, n, &m, err, sizeof err) != 0) {
    iso_proto_reply rp = {.id = m.err_id,
                          .status = ISO_STATUS_ERROR,
                          .code = ISO_CODE_BAD_REQUEST,
                          .message = iso_str_of(err),
                          .stats = {-1, 0, 0}};
    iso_proto_encode_reply(&rp, out);
  } else if (m.is_batch) {
    iso_proto_encode_batch_header(m.count, out);
    for (size_t i = 0; i < m.count; i++) {
      reply_one(&m.reqs[i], (int)i, timeouts, out);
    }
  } else {
    reply_one(&m.reqs[0], 1, timeouts, out);
  }
  iso_proto_msg_close(&m);
}

static int server_listen(server* s) {
  int rv = nng_rep0_open(&s->sock);
  if (rv == 0) {
    nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, 20);
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, 64u << 20);
    rv = nng_listen(s->sock, s->url, NULL, 0);
  }
  if (rv != 0) {
    fprintf(stderr, "  server on %s: %s\n", s->url, nng_strerror(rv));
  }
  return rv;
}

/* The client library's heartbeat, as it sends it: {"v": 1, "kind": "ping"}. */
static const uint8_t k_ping[] = {0x82, 0xa1, 'v',  0x01, 0xa4, 'k', 'i',
                                 'n',  'd',  0xa4, 'p',  'i',  'n', 'g'};

static int is_ping(const nng_msg* m) {
  return nng_msg_len(m) == sizeof k_ping &&
         memcmp(nng_msg_body((nng_msg*)m), k_ping, sizeof k_ping) == 0;
}

/* A status "error" reply with a nil id (for a batch too: the client
 * copies it into every job's result). */
static void refuse(iso_proto_code code, iso_buf* out) {
  iso_proto_reply rp = {.status = ISO_STATUS_ERROR,
                        .code = code,
                        .message = iso_str_of("refused by the test server"),
                        .stats = {-1, 0, 0}};
  iso_proto_encode_reply(&rp, out);
}

/* {ready: true}, the ping's answer. */
static void pong(iso_buf* out) {
  static const uint8_t ready[] = {0x81, 0xa5, 'r', 'e', 'a', 'd', 'y', 0xc3};
  iso_proto_reply rp = {.status = ISO_STATUS_FULFILLED,
                        .value = {ready, sizeof ready},
                        .stats = {-1, 0, 0}};
  iso_proto_encode_reply(&rp, out);
}

static void* server_main(void* arg) {
  server* s = arg;
  iso_buf out;
  iso_buf_init(&out);
  while (!atomic_load(&s->stop)) {
    nng_msg* m;
    int rv = nng_recvmsg(s->sock, &m, 0);
    if (rv == NNG_ETIMEDOUT) {
      continue;
    }
    if (rv != 0) {
      break;
    }
    iso_buf_reset(&out);
    int mode = atomic_load(&s->mode);
    if (is_ping(m)) {
      atomic_fetch_add(&s->pings, 1);
      if (mode == SRV_SILENT) {
        nng_msg_free(m);
        continue;
      }
      if (mode == SRV_DRAINING) {
        refuse(ISO_CODE_SHUTTING_DOWN, &out);
      } else {
        pong(&out);
      }
      mode = -1; /* answered */
    } else {
      atomic_fetch_add(&s->requests, 1);
    }
    switch (mode) {
      case -1:
        break;
      case SRV_DRAINING:
        refuse(ISO_CODE_SHUTTING_DOWN, &out);
        break;
      case SRV_BUSY:
        for (int t = 0; t < s->delay_ms && !atomic_load(&s->stop); t += 10) {
          sleep_ms(10);
        }
        refuse(ISO_CODE_BUSY, &out);
        break;
      case SRV_SILENT:
        nng_msg_free(m);
        continue;
      case SRV_DROP:
        /* Close the connection with the request unanswered, then listen
         * again on the same address: a client that replays requests after
         * a reconnect would be seen by the new socket. */
        nng_msg_free(m);
        nng_close(s->sock);
        sleep_ms(20);
        if (server_listen(s) != 0) {
          goto done;
        }
        atomic_store(&s->mode, SRV_ECHO);
        continue;
      case SRV_GARBAGE: {
        static const uint8_t c1 = 0xc1;
        iso_buf_append(&out, &c1, 1);
        break;
      }
      case SRV_WRONG_ID: {
        iso_proto_reply rp = {.id = {(const uint8_t*)"\xa1x", 2},
                              .status = ISO_STATUS_FULFILLED};
        iso_proto_encode_reply(&rp, &out);
        break;
      }
      case SRV_SLOW:
        for (int t = 0; t < s->delay_ms && !atomic_load(&s->stop); t += 10) {
          sleep_ms(10);
        }
        /* fall through */
      case SRV_ECHO:
      case SRV_TIMEOUTS:
        echo(nng_msg_body(m), nng_msg_len(m), mode == SRV_TIMEOUTS, &out);
        break;
    }
    nng_msg_free(m);
    nng_msg* r;
    if (nng_msg_alloc(&r, out.len) == 0) {
      memcpy(nng_msg_body(r), out.data, out.len);
      if (nng_sendmsg(s->sock, r, 0) != 0) {
        nng_msg_free(r);
      } else {
        atomic_fetch_add(&s->replies, 1);
      }
    }
  }
done:
  iso_buf_close(&out);
  return NULL;
}

server* server_start_at(const char* url, srv_mode mode, int delay_ms) {
  server* s = calloc(1, sizeof *s);
  snprintf(s->url, sizeof s->url, "%s", url);
  atomic_init(&s->mode, (int)mode);
  s->delay_ms = delay_ms;
  atomic_init(&s->requests, 0);
  atomic_init(&s->pings, 0);
  atomic_init(&s->replies, 0);
  atomic_init(&s->stop, 0);
  if (server_listen(s) != 0) {
    iso_test_failed = 1;
  }
  pthread_create(&s->thread, NULL, server_main, s);
  return s;
}

server* server_start(srv_mode mode, int delay_ms) {
  char url[128];
  make_url(url, sizeof url);
  return server_start_at(url, mode, delay_ms);
}

void server_stop(server* s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  nng_close(s->sock);
  char path[160];
  snprintf(path, sizeof path, "%s", s->url + strlen("ipc://"));
  unlink(path);
  free(s);
}
