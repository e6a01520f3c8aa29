/* test_proto_client.c: the job protocol's client half
 * (ipc/iso_proto_client.c): decoding replies (every field through a round
 * trip, tolerance of what a newer server may add, batch replies) and
 * encoding requests (round trips through the server's decoder, and what
 * the encoder refuses to send). (What the halves share: test_proto.c; the
 * server half: test_proto_server.c.) Messages are written as parts
 * (support/msg_spec.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_check.h"
#include "msg_spec.h"
#include "proto_check.h"
#include "tap.h"

/* ---- decoding replies --------------------------------------------------- */

static void t_reply_round_trip(void) {
  iso_buf value = msg("J:{\"sum\":3,\"list\":[\"a\",null,1.5]}");
  iso_buf id = msg("J:\"job-1\"");
  iso_log logs[] = {{ISO_LOG_LOG, "l", 1},
                    {ISO_LOG_INFO, "i", 1},
                    {ISO_LOG_DEBUG, "d", 1},
                    {ISO_LOG_WARN, "w", 1},
                    {ISO_LOG_ERROR, "e\nwith a newline", 16}};
  iso_proto_reply rp = {.id = {id.data, id.len},
                        .status = ISO_STATUS_FULFILLED,
                        .value = {value.data, value.len},
                        .logs = logs,
                        .nlogs = 5,
                        .stats = {3, 1234, 5678}};
  iso_buf out;
  iso_buf_init(&out);
  CHECK_EQ(iso_proto_encode_reply(&rp, &out), 0);
  iso_result r;
  CHECK_EQ(iso_proto_decode_reply(out.data, out.len, &r), 0);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK(r.id_len == id.len && memcmp(r.id, id.data, id.len) == 0);
  CHECK(r.value_len == value.len &&
        memcmp(r.value, value.data, value.len) == 0);
  CHECK_EQ(r.nlogs, 5);
  for (size_t i = 0; i < 5 && i < r.nlogs; i++) {
    CHECK_EQ(r.logs[i].level, logs[i].level);
    CHECK_STR(r.logs[i].text, logs[i].text);
    CHECK_EQ(r.logs[i].len, logs[i].len);
  }
  CHECK_EQ(r.stats.worker, 3);
  CHECK_EQ(r.stats.queue_us, 1234);
  CHECK_EQ(r.stats.run_us, 5678);
  CHECK_STR(r.message, "");
  iso_result_close(&r);
  CHECK(r.mem_ == NULL);
  iso_result_close(&r);
  iso_result_close(NULL);

  /* every error code survives the trip */
  for (int code = ISO_CODE_BAD_REQUEST; code <= ISO_CODE_INTERNAL; code++) {
    iso_proto_reply re = {.status = ISO_STATUS_ERROR,
                          .code = (iso_proto_code)code,
                          .message = iso_str_of("why")};
    iso_buf_reset(&out);
    CHECK_EQ(iso_proto_encode_reply(&re, &out), 0);
    CHECK_EQ(iso_proto_decode_reply(out.data, out.len, &r), 0);
    CHECK_EQ(r.status, ISO_STATUS_ERROR);
    CHECK_EQ(r.code, code);
    CHECK_STR(r.code_name, iso_proto_code_name((iso_proto_code)code));
    CHECK_STR(r.message, "why");
    CHECK_BYTES(r.id, r.id_len, "c0");
    CHECK(r.value == NULL);
    iso_result_close(&r);
  }
  /* a rejection */
  iso_proto_reply rj = {.status = ISO_STATUS_REJECTED,
                        .name = iso_str_of("RangeError"),
                        .message = iso_str_of("too big"),
                        .stack = {"RangeError: too big\0junk", 19}};
  iso_buf_reset(&out);
  CHECK_EQ(iso_proto_encode_reply(&rj, &out), 0);
  CHECK_EQ(iso_proto_decode_reply(out.data, out.len, &r), 0);
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  CHECK_STR(r.name, "RangeError");
  CHECK_STR(r.message, "too big");
  CHECK_STR(r.stack, "RangeError: too big");
  CHECK_EQ(r.stats.worker, 0);
  iso_result_close(&r);
  iso_buf_close(&out);
  iso_buf_close(&value);
  iso_buf_close(&id);
}

static void t_reply_decode_tolerance(void) {
  iso_result r;
  /* unknown fields and unknown codes/levels are tolerated */
  iso_buf b =
      msg("J:{\"v\":1,\"status\":\"error\",\"future\":[1,{\"x\":2}],\"error\":{"
          "\"code\":\"overheated\",\"message\":\"m\",\"hint\":1},\"logs\":[["
          "\"trace\",\"t\"]],\"stats\":{\"worker\":1,\"gc_us\":5}}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_EQ(r.code, ISO_CODE_UNKNOWN);
  CHECK_STR(r.code_name, "overheated");
  CHECK_EQ(r.nlogs, 1);
  CHECK_EQ(r.logs[0].level, ISO_LOG_LOG);
  CHECK_EQ(r.stats.worker, 1);
  CHECK_BYTES(r.id, r.id_len, "c0");
  iso_result_close(&r);
  iso_buf_close(&b);
  /* a reply of an older server (no cpu_us, ...): zeros and no limit; a
   * limit this library does not know reads as none */
  b =
      msg("J:{\"v\":1,\"status\":\"fulfilled\",\"stats\":{\"worker\":0,"
          "\"queue_us\":1,\"run_us\":2}}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_EQ(r.stats.run_us, 2);
  CHECK_EQ(r.stats.cpu_us, 0);
  CHECK_EQ(r.stats.wall_us, 0);
  CHECK_EQ(r.stats.limit, ISO_LIMIT_NONE);
  iso_result_close(&r);
  iso_buf_close(&b);
  b =
      msg("J:{\"v\":1,\"status\":\"error\",\"error\":{\"code\":\"cpu_limit\","
          "\"message\":\"m\"},\"stats\":{\"worker\":0,\"cpu_us\":7,"
          "\"limit\":\"gpu\",\"ops\":3}}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_EQ(r.code, ISO_CODE_CPU_LIMIT);
  CHECK_EQ(r.stats.cpu_us, 7);
  CHECK_EQ(r.stats.ops, 3);
  CHECK_EQ(r.stats.limit, ISO_LIMIT_NONE);
  iso_result_close(&r);
  iso_buf_close(&b);
  b =
      msg("J:{\"v\":1,\"status\":\"error\",\"error\":{\"code\":\"timeout\","
          "\"message\":\"m\"},\"stats\":{\"limit\":\"wall\"}}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_EQ(r.stats.limit, ISO_LIMIT_WALL);
  iso_result_close(&r);
  iso_buf_close(&b);
  b =
      msg("J:{\"v\":1,\"status\":\"error\",\"error\":{\"code\":\"timeout\","
          "\"message\":\"m\"},\"stats\":{\"limit\":5}}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), ISO_EPROTO);
  iso_buf_close(&b);
  /* a minimal fulfilled reply: value nil, no logs, no stats */
  b = msg("J:{\"status\":\"fulfilled\",\"v\":1}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_BYTES(r.value, r.value_len, "c0");
  CHECK_EQ(r.stats.worker, -1);
  CHECK(r.logs == NULL && r.nlogs == 0);
  iso_result_close(&r);
  iso_buf_close(&b);
  /* a result carries only its status's fields: an error map beside
   * "fulfilled" (before or after it) is ignored; an error reply has no
   * name or stack (a fuzzer found the first: the message came through) */
  b =
      msg("J:{\"v\":1,\"error\":{\"name\":\"E\",\"message\":\"m\","
          "\"stack\":\"s\"},\"status\":\"fulfilled\"}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_STR(r.message, "");
  CHECK_STR(r.name, "");
  CHECK_STR(r.stack, "");
  iso_result_close(&r);
  iso_buf_close(&b);
  b =
      msg("J:{\"v\":1,\"status\":\"error\",\"error\":{\"code\":\"busy\","
          "\"name\":\"E\",\"message\":\"m\",\"stack\":\"s\"}}");
  CHECK_EQ(iso_proto_decode_reply(b.data, b.len, &r), 0);
  CHECK_STR(r.message, "m");
  CHECK_STR(r.name, "");
  CHECK_STR(r.stack, "");
  iso_result_close(&r);
  iso_buf_close(&b);

  static const char* const bad[] = {
      "J:[1]",
      "J:{\"status\":\"fulfilled\"}",         /* no v */
      "J:{\"v\":2,\"status\":\"fulfilled\"}", /* wrong v */
      "J:{\"v\":1}",                          /* no status */
      "J:{\"v\":1,\"status\":\"done\"}",      /* unknown status */
      "J:{\"v\":1,\"status\":\"error\"}",     /* no error map */
      "J:{\"v\":1,\"status\":\"rejected\",\"error\":[]}",
      "J:{\"v\":1,\"status\":\"fulfilled\",\"logs\":[\"x\"]}",
      "J:{\"v\":1,\"status\":\"fulfilled\",\"logs\":[[\"log\"]]}",
      "J:{\"v\":1,\"status\":\"fulfilled\",\"logs\":[[\"log\",1]]}",
      "J:{\"v\":1,\"status\":\"fulfilled\",\"stats\":{\"worker\":\"1\"}}",
      "J:{\"v\":1,\"status\":\"fulfilled\"}|H:c0", /* trailing bytes */
      "H:82 a1 76 01 a6 737461747573",             /* truncated */
      "J:{\"v\":1,\"batch\":[]}",                  /* a batch reply */
      NULL};
  for (const char* const* s = bad; *s != NULL; s++) {
    b = msg(*s);
    int rc = iso_proto_decode_reply(b.data, b.len, &r);
    CHECK_EQ(rc, ISO_EPROTO);
    CHECK(r.mem_ == NULL);
    if (rc != ISO_EPROTO) {
      fprintf(stderr, "    input: %s\n", *s);
    }
    iso_buf_close(&b);
  }
}

static void t_batch_reply(void) {
  iso_buf v0 = msg("J:\"zero\"");
  iso_proto_reply rs[3] = {
      {.status = ISO_STATUS_FULFILLED, .value = {v0.data, v0.len}},
      {.status = ISO_STATUS_REJECTED, .name = iso_str_of("Error")},
      {.status = ISO_STATUS_ERROR,
       .code = ISO_CODE_BAD_REQUEST,
       .message = iso_str_of("missing 'kind'")}};
  iso_buf whole, parts;
  iso_buf_init(&whole);
  iso_buf_init(&parts);
  CHECK_EQ(iso_proto_encode_batch_reply(rs, 3, &whole), 0);
  /* header + replies one by one gives the same bytes */
  CHECK_EQ(iso_proto_encode_batch_header(3, &parts), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(iso_proto_encode_reply(&rs[i], &parts), 0);
  }
  CHECK(whole.len == parts.len &&
        memcmp(whole.data, parts.data, whole.len) == 0);
  iso_result r[3];
  CHECK_EQ(iso_proto_decode_batch_reply(whole.data, whole.len, r, 3), 0);
  CHECK_EQ(r[0].status, ISO_STATUS_FULFILLED);
  CHECK_JSON(r[0].value, r[0].value_len, "\"zero\"");
  CHECK_EQ(r[1].status, ISO_STATUS_REJECTED);
  CHECK_STR(r[1].name, "Error");
  CHECK_EQ(r[2].status, ISO_STATUS_ERROR);
  CHECK_EQ(r[2].code, ISO_CODE_BAD_REQUEST);
  for (int i = 0; i < 3; i++) {
    iso_result_close(&r[i]);
  }
  /* the wrong count is a malformed reply */
  iso_result r4[4];
  CHECK_EQ(iso_proto_decode_batch_reply(whole.data, whole.len, r4, 4),
           ISO_EPROTO);
  CHECK_EQ(iso_proto_decode_batch_reply(whole.data, whole.len, r, 2),
           ISO_EPROTO);
  CHECK(r[0].mem_ == NULL);
  /* a single error reply answers the whole batch */
  iso_buf_reset(&whole);
  iso_proto_reply busy = {.status = ISO_STATUS_ERROR,
                          .code = ISO_CODE_BUSY,
                          .message = iso_str_of("queue full")};
  CHECK_EQ(iso_proto_encode_reply(&busy, &whole), 0);
  CHECK_EQ(iso_proto_decode_batch_reply(whole.data, whole.len, r, 3), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(r[i].code, ISO_CODE_BUSY);
    CHECK_STR(r[i].message, "queue full");
    iso_result_close(&r[i]);
  }
  /* but a single fulfilled reply cannot answer a batch */
  iso_buf_reset(&whole);
  CHECK_EQ(iso_proto_encode_reply(&rs[0], &whole), 0);
  CHECK_EQ(iso_proto_decode_batch_reply(whole.data, whole.len, r, 3),
           ISO_EPROTO);
  iso_buf_close(&whole);
  iso_buf_close(&parts);
  iso_buf_close(&v0);
}

/* ---- encoding requests -------------------------------------------------- */

static void t_request_round_trip(void) {
  iso_buf args = msg("J:[1,\"two\",[3]]");
  iso_buf id = msg("J:{\"trace\":42}");
  iso_buf perms = msg("J:{\"read\":[\"data\"],\"write\":false,\"env\":true}");
  iso_job jobs[3] = {
      {.kind = ISO_JOB_CALL,
       .module = "lib/math.js",
       .export_name = "add",
       .args = args.data,
       .args_len = args.len,
       .timeout_ms = 250,
       .cpu_ms = 40,
       .id = id.data,
       .id_len = id.len},
      {.kind = ISO_JOB_EVAL, .source = "1 + 1\0ignored", .source_len = 5},
      {.kind = ISO_JOB_EVAL,
       .source = "export default 3",
       .module = "a.js",
       .args = args.data,
       .args_len = args.len,
       .permissions = perms.data,
       .permissions_len = perms.len}};
  iso_buf out;
  iso_buf_init(&out);
  CHECK_EQ(iso_proto_encode_request(&jobs[0], &out), 0);
  CHECK_JSON(out.data, out.len,
             "{\"v\":1,\"id\":{\"trace\":42},\"kind\":\"call\",\"module\":"
             "\"lib/math.js\",\"export\":\"add\",\"args\":[1,\"two\",[3]],"
             "\"timeout_ms\":250,\"cpu_ms\":40}");
  iso_proto_msg m;
  CHECK_EQ(iso_proto_decode(out.data, out.len, &m, NULL, 0), 0);
  CHECK(str_is(m.reqs[0].export_name, "add"));
  CHECK_EQ(m.reqs[0].timeout_ms, 250);
  CHECK_EQ(m.reqs[0].cpu_ms, 40);
  iso_proto_msg_close(&m);

  iso_buf_reset(&out);
  CHECK_EQ(iso_proto_encode_batch(jobs, 3, &out), 0);
  CHECK_EQ(iso_proto_decode(out.data, out.len, &m, NULL, 0), 0);
  CHECK_EQ(m.is_batch, 1);
  CHECK_EQ(m.count, 3);
  CHECK(str_is(m.reqs[0].module, "lib/math.js"));
  CHECK_BYTES(m.reqs[0].args.data, m.reqs[0].args.len, "93 01 a3 74776f 91 03");
  CHECK(str_is(m.reqs[1].source, "1 + 1"));
  CHECK(m.reqs[1].id.data == NULL);
  CHECK_EQ(m.reqs[1].timeout_ms, -1);
  CHECK(str_is(m.reqs[2].module, "a.js"));
  CHECK_BYTES(m.reqs[2].args.data, m.reqs[2].args.len, "93 01 a3 74776f 91 03");
  CHECK_STR(perm_text(&m.reqs[0].permissions), "absent");
  CHECK_STR(perm_text(&m.reqs[2].permissions), "read=[data] write=- env=*");
  for (size_t i = 0; i < m.count; i++) {
    CHECK_EQ(m.reqs[i].err, 0);
  }
  iso_proto_msg_close(&m);

  /* a single request with permissions: the exact map, byte for byte */
  iso_job call = {.kind = ISO_JOB_CALL,
                  .module = "m.js",
                  .permissions = perms.data,
                  .permissions_len = perms.len};
  iso_buf_reset(&out);
  CHECK_EQ(iso_proto_encode_request(&call, &out), 0);
  CHECK_JSON(out.data, out.len,
             "{\"v\":1,\"kind\":\"call\",\"module\":\"m.js\","
             "\"permissions\":{\"read\":[\"data\"],\"write\":false,"
             "\"env\":true}}");
  CHECK_EQ(iso_proto_decode(out.data, out.len, &m, NULL, 0), 0);
  CHECK_EQ(m.reqs[0].err, 0);
  CHECK_STR(perm_text(&m.reqs[0].permissions), "read=[data] write=- env=*");
  iso_proto_msg_close(&m);
  /* an empty map is sent (it asks for nothing), unlike NULL */
  static const uint8_t none[] = {0x80};
  call.permissions = none;
  call.permissions_len = 1;
  iso_buf_reset(&out);
  CHECK_EQ(iso_proto_encode_request(&call, &out), 0);
  CHECK_JSON(out.data, out.len,
             "{\"v\":1,\"kind\":\"call\",\"module\":\"m.js\","
             "\"permissions\":{}}");
  iso_buf_close(&out);
  iso_buf_close(&args);
  iso_buf_close(&id);
  iso_buf_close(&perms);
}

/* A ping, byte for byte: v, id when given, kind; a timeout_ms (the client
 * library gives every job its deadline) is not sent, and the server's
 * decoder takes what this encodes. */
static void t_request_ping(void) {
  static const uint8_t id[] = {0x07};
  iso_job ping = {.kind = ISO_JOB_PING};
  iso_buf out;
  iso_buf_init(&out);
  CHECK_EQ(iso_proto_encode_request(&ping, &out), 0);
  CHECK_BYTES(out.data, out.len, "82 a1 76 01 a4 6b696e64 a4 70696e67");
  iso_buf_reset(&out);
  ping.id = id;
  ping.id_len = 1;
  ping.timeout_ms = 250;
  CHECK_EQ(iso_proto_encode_request(&ping, &out), 0);
  CHECK_BYTES(out.data, out.len,
              "83 a1 76 01 a2 6964 07 a4 6b696e64 a4 70696e67");
  iso_proto_msg m;
  char err[ISO_PROTO_ERRMSG_MAX] = "";
  CHECK_EQ(iso_proto_decode(out.data, out.len, &m, err, sizeof err), 0);
  CHECK_STR(err, "");
  CHECK_EQ(m.reqs[0].kind, ISO_JOB_PING);
  CHECK_EQ(m.reqs[0].timeout_ms, -1);
  CHECK_BYTES(m.reqs[0].id.data, m.reqs[0].id.len, "07");
  iso_proto_msg_close(&m);
  iso_buf_close(&out);
}

static void t_request_refused(void) {
  static const uint8_t one[] = {0x01}, arr_trailing[] = {0x90, 0xc0},
                       two_ids[] = {0x01, 0x02}, arr[] = {0x90},
                       short_arr[] = {0x92, 0x01},
                       perm_arr[] = {0x91, 0xa1, 0x61},
                       perm_trailing[] = {0x80, 0xc0},
                       perm_unknown[] = {0x81, 0xa3, 's', 'y', 's', 0xc3},
                       perm_int[] = {0x81, 0xa3, 'e', 'n', 'v', 0x91, 0x01},
                       perm_map[] = {0x80}, id_not_utf8[] = {0x91, 0xa1, 0xff};
  struct {
    const char* name;
    iso_job job;
  } cases[] = {
      {"no kind", {.source = "1"}},
      {"eval with nothing", {.kind = ISO_JOB_EVAL}},
      {"eval with export",
       {.kind = ISO_JOB_EVAL, .source = "1", .export_name = "f"}},
      {"call without module", {.kind = ISO_JOB_CALL, .source = "1"}},
      {"empty module", {.kind = ISO_JOB_CALL, .module = ""}},
      {"empty export",
       {.kind = ISO_JOB_CALL, .module = "m", .export_name = ""}},
      {"args not an array",
       {.kind = ISO_JOB_CALL, .module = "m", .args = one, .args_len = 1}},
      {"args with trailing bytes",
       {.kind = ISO_JOB_CALL,
        .module = "m",
        .args = arr_trailing,
        .args_len = 2}},
      {"args truncated",
       {.kind = ISO_JOB_CALL, .module = "m", .args = short_arr, .args_len = 2}},
      {"args empty bytes",
       {.kind = ISO_JOB_CALL, .module = "m", .args = arr, .args_len = 0}},
      {"two ids",
       {.kind = ISO_JOB_CALL, .module = "m", .id = two_ids, .id_len = 2}},
      {"permissions not a map",
       {.kind = ISO_JOB_CALL,
        .module = "m",
        .permissions = perm_arr,
        .permissions_len = sizeof perm_arr}},
      {"permissions with trailing bytes",
       {.kind = ISO_JOB_CALL,
        .module = "m",
        .permissions = perm_trailing,
        .permissions_len = sizeof perm_trailing}},
      {"permissions unknown key",
       {.kind = ISO_JOB_EVAL,
        .source = "1",
        .permissions = perm_unknown,
        .permissions_len = sizeof perm_unknown}},
      {"permissions non-string entry",
       {.kind = ISO_JOB_CALL,
        .module = "m",
        .permissions = perm_int,
        .permissions_len = sizeof perm_int}},
      /* what the server refuses as not UTF-8 */
      {"module not UTF-8", {.kind = ISO_JOB_CALL, .module = "m\xff"}},
      {"export not UTF-8",
       {.kind = ISO_JOB_CALL, .module = "m", .export_name = "\xc0\xaf"}},
      {"source not UTF-8", {.kind = ISO_JOB_EVAL, .source = "1\xed\xa0\x80"}},
      {"source_len not UTF-8",
       {.kind = ISO_JOB_EVAL, .source = "ok\xff", .source_len = 3}},
      {"id not UTF-8",
       {.kind = ISO_JOB_CALL,
        .module = "m",
        .id = id_not_utf8,
        .id_len = sizeof id_not_utf8}},
      {"permissions empty bytes",
       {.kind = ISO_JOB_CALL,
        .module = "m",
        .permissions = perm_map,
        .permissions_len = 0}},
      /* a ping takes nothing but its id (its timeout_ms goes unsent) */
      {"ping with source", {.kind = ISO_JOB_PING, .source = "1"}},
      {"ping with module", {.kind = ISO_JOB_PING, .module = "m"}},
      {"ping with export", {.kind = ISO_JOB_PING, .export_name = "f"}},
      {"ping with args", {.kind = ISO_JOB_PING, .args = arr, .args_len = 1}},
      {"ping with cpu_ms", {.kind = ISO_JOB_PING, .cpu_ms = 5}},
      {"ping with permissions",
       {.kind = ISO_JOB_PING, .permissions = perm_map, .permissions_len = 1}},
      {"ping with two ids", {.kind = ISO_JOB_PING, .id = two_ids, .id_len = 2}},
      {"kind 4", {.kind = (iso_job_kind)4, .source = "1"}},
  };
  iso_buf out;
  iso_buf_init(&out);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = iso_proto_encode_request(&cases[i].job, &out);
    CHECK_EQ(rc, ISO_EINVAL);
    CHECK_EQ(out.len, 0);
    if (rc != ISO_EINVAL) {
      fprintf(stderr, "    case: %s\n", cases[i].name);
    }
    CHECK_EQ(iso_proto_encode_batch(&cases[i].job, 1, &out), ISO_EINVAL);
  }
  iso_job ok = {.kind = ISO_JOB_EVAL, .source = "1"};
  CHECK_EQ(iso_proto_encode_batch(&ok, 0, &out), ISO_EINVAL);
  /* a ping is sent alone, never in a batch */
  iso_job with_ping[2] = {ok, {.kind = ISO_JOB_PING}};
  CHECK_EQ(iso_proto_encode_batch(with_ping, 2, &out), ISO_EINVAL);
  CHECK_EQ(out.len, 0);
  CHECK_EQ(iso_proto_encode_request(NULL, &out), ISO_EINVAL);
  iso_buf_close(&out);
}

static const iso_test cases[] = {
    {"reply_round_trip", t_reply_round_trip},
    {"reply_decode_tolerance", t_reply_decode_tolerance},
    {"batch_reply", t_batch_reply},
    {"request_round_trip", t_request_round_trip},
    {"request_ping", t_request_ping},
    {"request_refused", t_request_refused},
    {NULL, NULL}};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
