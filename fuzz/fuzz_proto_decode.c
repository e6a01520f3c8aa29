/* fuzz_proto_decode.c: the request decoder, iso_proto_decode(), the first
 * code that touches bytes from the network.
 *
 * For any input: the result is 0 or ISO_EPROTO (ISO_ENOMEM aside); a
 * refusal has a NUL-terminated UTF-8 message and echoes an id only if it
 * is one msgpack value inside the input whose strings are UTF-8; an
 * accepted message holds 1..ISO_PROTO_MAX_BATCH requests, and each good one
 * obeys every rule of docs/protocol.md (kinds, names, UTF-8, args an array,
 * permissions decoded into entries that point into the input, within the
 * limits). Then the round trips: each good request
 * re-encoded as a client would (iso_proto_encode_request) decodes to the
 * same fields, and the reply the service would send for each request
 * (iso_proto_encode_reply) decodes on the client side to the same id,
 * status and message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_err.h"
#include "iso_proto.h"

static int is_array(iso_bytes b) {
  uint8_t c = b.len > 0 ? b.data[0] : 0;
  return (c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd;
}

static void check_name(iso_str s, size_t max) {
  FUZZ_CHECK(s.ptr != NULL && s.len >= 1 && s.len <= max);
  FUZZ_CHECK(memchr(s.ptr, 0, s.len) == NULL);
  FUZZ_CHECK(iso_utf8_valid(s.ptr, s.len));
}

static int same_str(iso_str a, iso_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int same_bytes(iso_bytes a, iso_bytes b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static const iso_perm_list* perm_list(const iso_perm_req* pr, int k) {
  const iso_perm_list* lists[ISO_PERM_REQ_KINDS] = {&pr->read, &pr->write,
                                                    &pr->env, &pr->net};
  return lists[k];
}

/* A decoded `permissions`: known asks, entries inside the input within the
 * limits, valid UTF-8 without NUL bytes. */
static void check_perms(const iso_perm_req* pr,
                        const uint8_t* data,
                        size_t size) {
  for (int k = 0; k < ISO_PERM_REQ_KINDS; k++) {
    const iso_perm_list* l = perm_list(pr, k);
    FUZZ_CHECK(pr->present || l->ask == ISO_PERM_ASK_NOTHING);
    FUZZ_CHECK(l->ask == ISO_PERM_ASK_NOTHING || l->ask == ISO_PERM_ASK_ALL ||
               l->ask == ISO_PERM_ASK_LIST);
    if (l->ask != ISO_PERM_ASK_LIST) {
      FUZZ_CHECK(l->n == 0);
      continue;
    }
    FUZZ_CHECK(l->n <= ISO_PROTO_MAX_PERM_ENTRIES);
    for (uint32_t i = 0; i < l->n; i++) {
      FUZZ_CHECK(fuzz_inside(l->items[i].ptr, l->items[i].len, data, size));
      check_name(l->items[i], ISO_PROTO_MAX_PERM_ENTRY);
    }
  }
}

static int same_perms(const iso_perm_req* a, const iso_perm_req* b) {
  if (a->present != b->present) {
    return 0;
  }
  for (int k = 0; k < ISO_PERM_REQ_KINDS; k++) {
    const iso_perm_list *x = perm_list(a, k), *y = perm_list(b, k);
    if (x->ask != y->ask || x->n != y->n) {
      return 0;
    }
    for (uint32_t i = 0; i < x->n; i++) {
      if (!same_str(x->items[i], y->items[i])) {
        return 0;
      }
    }
  }
  return 1;
}

/* The decoded `permissions` as msgpack again (every key written, nothing
 * as false), which is what a client sends in iso_job. */
static void put_perms(iso_buf* out, const iso_perm_req* pr) {
  static const char* const names[] = {"read", "write", "env", "net"};
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, ISO_PERM_REQ_KINDS);
  for (int k = 0; k < ISO_PERM_REQ_KINDS; k++) {
    const iso_perm_list* l = perm_list(pr, k);
    iso_mp_put_cstr(&w, names[k]);
    if (l->ask == ISO_PERM_ASK_LIST) {
      iso_mp_put_array(&w, l->n);
      for (uint32_t i = 0; i < l->n; i++) {
        iso_mp_put_str(&w, l->items[i].ptr, l->items[i].len);
      }
    } else {
      iso_mp_put_bool(&w, l->ask == ISO_PERM_ASK_ALL);
    }
  }
}

static char* cstr(iso_str s) {
  char* c = malloc(s.len + 1);
  if (c != NULL) {
    memcpy(c, s.ptr, s.len);
    c[s.len] = 0;
  }
  return c;
}

/* A good request, sent again the way a client sends it, decodes to the
 * same request (timeout_ms and cpu_ms 0 are not sent, so they come back
 * absent). */
static void round_trip_request(const iso_proto_req* q) {
  char* module = q->module.ptr ? cstr(q->module) : NULL;
  char* export_name = NULL;
  if (q->kind == ISO_JOB_CALL) {
    export_name = cstr(q->export_name);
  }
  iso_buf perms;
  iso_buf_init(&perms);
  if (q->permissions.present) {
    put_perms(&perms, &q->permissions);
  }
  iso_job job = {
      .kind = q->kind,
      /* source_len 0 means strlen: "" is NUL-terminated */
      .source = q->source.ptr ? (q->source.len ? q->source.ptr : "") : NULL,
      .source_len = q->source.len,
      .module = module,
      .export_name = export_name,
      /* a ping has the decoder's empty args and sends none */
      .args = q->kind == ISO_JOB_PING ? NULL : q->args.data,
      .args_len = q->kind == ISO_JOB_PING ? 0 : q->args.len,
      .timeout_ms = q->timeout_ms,
      .cpu_ms = q->cpu_ms,
      .id = q->id.data,
      .id_len = q->id.len,
      .permissions = q->permissions.present ? perms.data : NULL,
      .permissions_len = perms.len,
  };
  iso_buf enc;
  iso_buf_init(&enc);
  int rc = iso_proto_encode_request(&job, &enc);
  if (rc == ISO_ENOMEM || (q->permissions.present && perms.data == NULL)) {
    goto out;
  }
  /* the decoder took it, so the client's checks must too */
  FUZZ_CHECK(rc == 0);
  iso_proto_msg m;
  char err[ISO_PROTO_ERRMSG_MAX];
  rc = iso_proto_decode(enc.data, enc.len, &m, err, sizeof err);
  FUZZ_CHECK(rc == 0 && m.count == 1 && !m.is_batch);
  const iso_proto_req* b = &m.reqs[0];
  FUZZ_CHECK(b->err == 0);
  FUZZ_CHECK(b->kind == q->kind);
  FUZZ_CHECK(same_str(b->source, q->source));
  FUZZ_CHECK((b->source.ptr == NULL) == (q->source.ptr == NULL));
  FUZZ_CHECK(same_str(b->module, q->module));
  FUZZ_CHECK(same_str(b->export_name, q->export_name));
  FUZZ_CHECK(same_bytes(b->args, q->args));
  FUZZ_CHECK(same_bytes(b->id, q->id));
  FUZZ_CHECK(same_perms(&b->permissions, &q->permissions));
  FUZZ_CHECK(b->timeout_ms == (q->timeout_ms > 0 ? q->timeout_ms : -1));
  FUZZ_CHECK(b->cpu_ms == (q->cpu_ms > 0 ? q->cpu_ms : -1));
  iso_proto_msg_close(&m);
out:
  iso_buf_close(&perms);
  iso_buf_close(&enc);
  free(module);
  free(export_name);
}

/* The service's answer to a request (a bad_request error for a refused
 * one, else a fulfilled reply with the args as value) reads back the same
 * on the client's side. */
static void round_trip_reply(iso_bytes id, const char* errmsg, iso_bytes args) {
  iso_proto_reply rp = {.id = id};
  if (errmsg != NULL) {
    rp.status = ISO_STATUS_ERROR;
    rp.code = ISO_CODE_BAD_REQUEST;
    rp.message = iso_str_of(errmsg);
  } else {
    rp.status = ISO_STATUS_FULFILLED;
    rp.value = args;
  }
  iso_result r;
  if (!fuzz_reply_round_trip(&rp, &r)) {
    return;
  }
  FUZZ_CHECK(r.status == rp.status);
  if (id.data != NULL) {
    FUZZ_CHECK(r.id_len == id.len && memcmp(r.id, id.data, id.len) == 0);
  } else {
    FUZZ_CHECK(r.id_len == 1 && r.id[0] == 0xc0);
  }
  if (errmsg != NULL) {
    FUZZ_CHECK(r.code == ISO_CODE_BAD_REQUEST);
    FUZZ_CHECK(strcmp(r.message, errmsg) == 0);
  } else {
    FUZZ_CHECK(r.value_len == args.len &&
               memcmp(r.value, args.data, args.len) == 0);
  }
  iso_result_close(&r);
}

static void check_request(const iso_proto_req* q,
                          const uint8_t* data,
                          size_t size) {
  if (q->id.data != NULL) {
    FUZZ_CHECK(fuzz_inside(q->id.data, q->id.len, data, size));
    FUZZ_CHECK(fuzz_one_value(q->id.data, q->id.len));
    FUZZ_CHECK(fuzz_strings_utf8(q->id.data, q->id.len));
  }
  if (q->err != 0) {
    FUZZ_CHECK(q->err == ISO_EPROTO);
    FUZZ_CHECK(fuzz_text_ok(q->errmsg, ISO_PROTO_ERRMSG_MAX));
    FUZZ_CHECK(!q->permissions.present); /* a refused request has none */
    round_trip_reply(q->id, q->errmsg, q->args);
    return;
  }
  FUZZ_CHECK(q->kind == ISO_JOB_EVAL || q->kind == ISO_JOB_CALL ||
             q->kind == ISO_JOB_PING);
  if (q->source.ptr != NULL) {
    FUZZ_CHECK(fuzz_inside(q->source.ptr, q->source.len, data, size));
    FUZZ_CHECK(iso_utf8_valid(q->source.ptr, q->source.len));
  }
  if (q->module.ptr != NULL) {
    FUZZ_CHECK(fuzz_inside(q->module.ptr, q->module.len, data, size));
    check_name(q->module, ISO_PROTO_MAX_MODULE);
  }
  if (q->kind == ISO_JOB_PING) {
    /* only v, kind and id; never in a batch */
    FUZZ_CHECK(q->source.ptr == NULL && q->module.ptr == NULL);
    FUZZ_CHECK(q->export_name.ptr == NULL && q->args.len == 1);
    FUZZ_CHECK(q->timeout_ms == -1 && q->cpu_ms == -1);
    FUZZ_CHECK(!q->permissions.present);
  } else if (q->kind == ISO_JOB_EVAL) {
    FUZZ_CHECK(q->source.ptr != NULL || q->module.ptr != NULL);
    FUZZ_CHECK(q->export_name.ptr == NULL);
  } else {
    FUZZ_CHECK(q->module.ptr != NULL);
    check_name(q->export_name, ISO_PROTO_MAX_EXPORT);
  }
  FUZZ_CHECK(is_array(q->args) && fuzz_one_value(q->args.data, q->args.len));
  /* the request map is level 1, so args may nest 63 levels */
  FUZZ_CHECK(iso_mp_one(q->args.data, q->args.len, ISO_PROTO_MAX_DEPTH - 1) ==
             0);
  FUZZ_CHECK(q->timeout_ms >= -1);
  FUZZ_CHECK(q->cpu_ms >= -1);
  check_perms(&q->permissions, data, size);
  round_trip_request(q);
  round_trip_reply(q->id, NULL, q->args);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iso_proto_msg m;
  char err[ISO_PROTO_ERRMSG_MAX];
  err[0] = 0;
  int rc = iso_proto_decode(data, size, &m, err, sizeof err);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO || rc == ISO_ENOMEM);
  if (rc == ISO_EPROTO) {
    FUZZ_CHECK(err[0] != 0 && fuzz_text_ok(err, sizeof err));
    FUZZ_CHECK(m.count == 0 && m.reqs == NULL);
    if (m.err_id.data != NULL) {
      FUZZ_CHECK(fuzz_inside(m.err_id.data, m.err_id.len, data, size));
      FUZZ_CHECK(fuzz_one_value(m.err_id.data, m.err_id.len));
      FUZZ_CHECK(fuzz_strings_utf8(m.err_id.data, m.err_id.len));
    }
    round_trip_reply(m.err_id, err, (iso_bytes){NULL, 0});
  } else if (rc == 0) {
    FUZZ_CHECK(m.count >= 1 && m.count <= ISO_PROTO_MAX_BATCH);
    FUZZ_CHECK(m.is_batch || (m.count == 1 && m.reqs[0].err == 0));
    for (size_t i = 0; i < m.count; i++) {
      /* a ping is answered alone: in a batch it is refused */
      FUZZ_CHECK(!m.is_batch || m.reqs[i].err != 0 ||
                 m.reqs[i].kind != ISO_JOB_PING);
      check_request(&m.reqs[i], data, size);
    }
  }
  iso_proto_msg_close(&m);
  return 0;
}
