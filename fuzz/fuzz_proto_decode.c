/* fuzz_proto_decode.c: the request decoder, iso_proto_decode(), the first
 * code that touches bytes from the network.
 *
 * For any input: the result is 0 or ISO_EPROTO (ISO_ENOMEM aside); a
 * refusal has a NUL-terminated UTF-8 message and echoes an id only if it
 * is one msgpack value inside the input whose strings are UTF-8; an
 * accepted message holds 1..ISO_PROTO_MAX_BATCH requests, and each good one
 * obeys every rule of docs/protocol.md (kinds, names, UTF-8, args an array,
 * permissions of the right shape). Then the round trips: each good request
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

static char* cstr(iso_str s) {
  char* c = malloc(s.len + 1);
  if (c != NULL) {
    memcpy(c, s.ptr, s.len);
    c[s.len] = 0;
  }
  return c;
}

/* A good request, sent again the way a client sends it, decodes to the
 * same request (timeout_ms 0 is not sent, so it comes back absent). */
static void round_trip_request(const iso_proto_req* q) {
  char* module = q->module.ptr ? cstr(q->module) : NULL;
  char* export_name = NULL;
  if (q->kind == ISO_JOB_CALL) {
    export_name = cstr(q->export_name);
  }
  iso_job job = {
      .kind = q->kind,
      /* source_len 0 means strlen: "" is NUL-terminated */
      .source = q->source.ptr ? (q->source.len ? q->source.ptr : "") : NULL,
      .source_len = q->source.len,
      .module = module,
      .export_name = export_name,
      .args = q->args.data,
      .args_len = q->args.len,
      .timeout_ms = q->timeout_ms,
      .id = q->id.data,
      .id_len = q->id.len,
      .permissions = q->permissions.data,
      .permissions_len = q->permissions.len,
  };
  iso_buf enc;
  iso_buf_init(&enc);
  int rc = iso_proto_encode_request(&job, &enc);
  if (rc == ISO_ENOMEM) {
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
  FUZZ_CHECK(same_bytes(b->permissions, q->permissions));
  FUZZ_CHECK(b->timeout_ms == (q->timeout_ms > 0 ? q->timeout_ms : -1));
  iso_proto_msg_free(&m);
out:
  iso_buf_free(&enc);
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
  iso_buf enc;
  iso_buf_init(&enc);
  int rc = iso_proto_encode_reply(&rp, &enc);
  if (rc == ISO_ENOMEM) {
    iso_buf_free(&enc);
    return;
  }
  FUZZ_CHECK(rc == 0);
  iso_result r;
  rc = iso_proto_decode_reply(enc.data, enc.len, &r);
  FUZZ_CHECK(rc == 0 || rc == ISO_ENOMEM);
  if (rc == 0) {
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
    iso_result_free(&r);
  }
  iso_buf_free(&enc);
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
    round_trip_reply(q->id, q->errmsg, q->args);
    return;
  }
  FUZZ_CHECK(q->kind == ISO_JOB_EVAL || q->kind == ISO_JOB_CALL);
  if (q->source.ptr != NULL) {
    FUZZ_CHECK(fuzz_inside(q->source.ptr, q->source.len, data, size));
    FUZZ_CHECK(iso_utf8_valid(q->source.ptr, q->source.len));
  }
  if (q->module.ptr != NULL) {
    FUZZ_CHECK(fuzz_inside(q->module.ptr, q->module.len, data, size));
    check_name(q->module, ISO_PROTO_MAX_MODULE);
  }
  if (q->kind == ISO_JOB_EVAL) {
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
  if (q->permissions.data != NULL) {
    FUZZ_CHECK(iso_proto_check_permissions(q->permissions.data,
                                           q->permissions.len, NULL, 0) == 0);
  }
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
      check_request(&m.reqs[i], data, size);
    }
  }
  iso_proto_msg_free(&m);
  return 0;
}
