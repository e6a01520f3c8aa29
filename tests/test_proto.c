/* test_proto.c: what both halves of the job protocol codec share
 * (ipc/iso_proto.c): the one reading of a job's `permissions` (through the
 * server's decoder, and iso_proto_check_permissions, the client's check),
 * and the names of codes and log levels. The halves have their own suites:
 * test_proto_server.c (iso_proto_server.c: decoding requests, encoding
 * replies) and test_proto_client.c (iso_proto_client.c: encoding
 * requests, decoding replies). Messages are written as parts
 * (support/msg_spec.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_proto.h"
#include "msg_spec.h"
#include "proto_check.h"
#include "tap.h"

/* ---- permissions ------------------------------------------------------- */

/* A call request with `permissions` given as message parts. */
static iso_buf perms_req(const char* perms_spec) {
  iso_buf b =
      msg("H:84|J:\"v\"|J:1|J:\"kind\"|J:\"call\"|J:\"module\"|J:\"m\"|"
          "J:\"permissions\"");
  iso_buf p = msg(perms_spec);
  iso_buf_append(&b, p.data, p.len);
  iso_buf_close(&p);
  return b;
}

static void t_permissions(void) {
  /* absent: {NULL, 0} (the job gets what the service grants) */
  iso_buf b = msg("J:{\"v\":1,\"kind\":\"call\",\"module\":\"m\"}");
  iso_proto_msg m;
  CHECK_EQ(iso_proto_decode(b.data, b.len, &m, NULL, 0), 0);
  CHECK_STR(perm_text(&m.reqs[0].permissions), "absent");
  iso_proto_msg_close(&m);
  iso_buf_close(&b);

  /* each value form, decoded once; the entries point into the message */
  static const struct {
    const char* spec;
    const char* want; /* perm_text of the decoded field */
  } good[] = {
      {"J:{}", "read=- write=- env=-"},
      {"J:{\"read\":true}", "read=* write=- env=-"},
      {"J:{\"write\":false}", "read=- write=- env=-"},
      {"J:{\"env\":[]}", "read=- write=- env=[]"},
      {"J:{\"read\":[\"data\",\"cache/x\"],\"write\":[\"cache\"],"
       "\"env\":[\"HOME\"]}",
       "read=[data,cache/x] write=[cache] env=[HOME]"},
      {"J:{\"env\":true,\"read\":[\"\u00e9t\u00e9\"]}",
       "read=[\u00e9t\u00e9] write=- env=*"},
      {"J:{\"net\":[\"example.com\",\"[::1]:80\"]}",
       "read=- write=- env=- net=[example.com,[::1]:80]"},
      {"J:{\"net\":true,\"env\":false}", "read=- write=- env=- net=*"},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    b = perms_req(good[i].spec);
    int failed = iso_test_failed;
    char err[ISO_PROTO_ERRMSG_MAX] = "";
    CHECK_EQ(iso_proto_decode(b.data, b.len, &m, err, sizeof err), 0);
    CHECK_STR(err, "");
    if (m.count == 1) {
      const iso_proto_req* q = &m.reqs[0];
      CHECK_EQ(q->err, 0);
      CHECK_STR(perm_text(&q->permissions), good[i].want);
      CHECK(perm_inside(&q->permissions, b.data, b.len));
    }
    if (iso_test_failed && !failed) {
      fprintf(stderr, "    case: %s\n", good[i].spec);
    }
    iso_proto_msg_close(&m);
    iso_buf_close(&b);
  }

  /* in a batch, a bad `permissions` fails only its element */
  b =
      msg("J:{\"v\":1,\"batch\":["
          "{\"id\":1,\"kind\":\"eval\",\"source\":\"1\","
          "\"permissions\":{\"read\":[\"a\"]}},"
          "{\"id\":2,\"kind\":\"eval\",\"source\":\"1\","
          "\"permissions\":{\"read\":[2]}},"
          "{\"id\":3,\"kind\":\"eval\",\"source\":\"1\"}]}");
  CHECK_EQ(iso_proto_decode(b.data, b.len, &m, NULL, 0), 0);
  CHECK_EQ(m.count, 3);
  CHECK_EQ(m.reqs[0].err, 0);
  CHECK_STR(perm_text(&m.reqs[0].permissions), "read=[a] write=- env=-");
  CHECK_EQ(m.reqs[1].err, ISO_EPROTO);
  CHECK_STR(m.reqs[1].errmsg,
            "'permissions.read[0]' must be a string (got an integer)");
  CHECK_BYTES(m.reqs[1].id.data, m.reqs[1].id.len, "02");
  CHECK_STR(perm_text(&m.reqs[1].permissions), "absent"); /* refused */
  CHECK_EQ(m.reqs[2].err, 0);
  CHECK_STR(perm_text(&m.reqs[2].permissions), "absent");
  iso_proto_msg_close(&m);
  iso_buf_close(&b);
}

static void t_permissions_limits(void) {
  /* 64 entries of 4096 bytes are fine; 65 entries, or 4097 bytes, are not */
  for (int extra = 0; extra <= 2; extra++) {
    int entries = ISO_PROTO_MAX_PERM_ENTRIES + (extra == 1);
    size_t bytes = ISO_PROTO_MAX_PERM_ENTRY + (extra == 2);
    iso_buf j;
    iso_buf_init(&j);
    iso_buf_append(&j, "{\"read\":[", 9);
    for (int i = 0; i < entries; i++) {
      iso_buf_append(&j, i ? ",\"" : "\"", i ? 2 : 1);
      append_n(&j, i == entries - 1 ? "b" : "a",
               i == entries - 1 ? (int)bytes : 3);
      iso_buf_append(&j, "\"", 1);
    }
    iso_buf_append(&j, "]}", 2);
    iso_buf pm;
    iso_buf_init(&pm);
    CHECK_EQ(iso_json_to_msgpack((const char*)j.data, j.len, &pm), 0);
    iso_buf b = perms_req("J:{}");
    b.len -= 1; /* drop the empty map */
    iso_buf_append(&b, pm.data, pm.len);
    iso_proto_msg m;
    char err[ISO_PROTO_ERRMSG_MAX] = "";
    int rc = iso_proto_decode(b.data, b.len, &m, err, sizeof err);
    char why[ISO_PROTO_ERRMSG_MAX] = "";
    int crc = iso_proto_check_permissions(pm.data, pm.len, why, sizeof why);
    if (extra == 0) {
      CHECK_EQ(rc, 0);
      CHECK_EQ(crc, 0);
      const iso_perm_list* read = &m.reqs[0].permissions.read;
      CHECK(read->n == (uint32_t)entries &&
            read->items[entries - 1].len == bytes);
    } else {
      const char* want = extra == 1
                             ? "'permissions.read' has 65 entries (the limit "
                               "is 64)"
                             : "'permissions.read[63]' is longer than 4096 "
                               "bytes";
      CHECK_EQ(rc, ISO_EPROTO);
      CHECK_STR(err, want);
      CHECK_EQ(crc, ISO_EINVAL);
      CHECK_STR(why, want);
    }
    iso_proto_msg_close(&m);
    iso_buf_close(&b);
    iso_buf_close(&pm);
    iso_buf_close(&j);
  }

  /* the checker on its own takes any bytes: malformed msgpack, trailing
   * bytes, NULL, and a NULL errbuf */
  static const struct {
    const char* hex;
    const char* message;
  } raw[] = {
      {"", "'permissions' is not valid msgpack"},
      {"81 a4 7265", "'permissions' is not valid msgpack"},
      {"81 a4 72656164", "'permissions.read' is not valid msgpack"},
      {"81 a4 72656164 92 a1 61", "'permissions.read[1]' is not valid msgpack"},
      {"80 c0", "1 trailing bytes after 'permissions'"},
      {"c1", "'permissions' is not valid msgpack"},
  };
  for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
    iso_buf b;
    iso_buf_init(&b);
    append_hex(&b, raw[i].hex, strlen(raw[i].hex));
    char why[ISO_PROTO_ERRMSG_MAX] = "";
    CHECK_EQ(iso_proto_check_permissions(b.data ? b.data : (const uint8_t*)"",
                                         b.len, why, sizeof why),
             ISO_EINVAL);
    CHECK_STR(why, raw[i].message);
    iso_buf_close(&b);
  }
  static const uint8_t empty_map[] = {0x80};
  CHECK_EQ(iso_proto_check_permissions(empty_map, 1, NULL, 0), 0);
  CHECK_EQ(iso_proto_check_permissions(NULL, 1, NULL, 0), ISO_EINVAL);
  char small[8];
  static const uint8_t one[] = {0x01};
  CHECK_EQ(iso_proto_check_permissions(one, 1, small, sizeof small),
           ISO_EINVAL);
  CHECK_STR(small, "'permis"); /* truncated, still terminated */
}

/* ---- names -------------------------------------------------------------- */

static void t_codes(void) {
  static const struct {
    int err;
    iso_proto_code code;
    const char* name;
  } map[] = {{ISO_EPROTO, ISO_CODE_BAD_REQUEST, "bad_request"},
             {ISO_EINVAL, ISO_CODE_BAD_REQUEST, "bad_request"},
             {ISO_EBUSY, ISO_CODE_BUSY, "busy"},
             {ISO_ETIMEDOUT, ISO_CODE_TIMEOUT, "timeout"},
             {ISO_ETERMINATED, ISO_CODE_TIMEOUT, "timeout"},
             {ISO_ETOOBIG, ISO_CODE_TOO_LARGE, "too_large"},
             {ISO_ESHUTDOWN, ISO_CODE_SHUTTING_DOWN, "shutting_down"},
             {ISO_ELOST, ISO_CODE_WORKER_LOST, "worker_lost"},
             {ISO_ECLOSED, ISO_CODE_INTERNAL, "internal"},
             {ISO_ENOMEM, ISO_CODE_INTERNAL, "internal"},
             {ISO_EJS, ISO_CODE_INTERNAL, "internal"},
             {ISO_EOP, ISO_CODE_INTERNAL, "internal"},
             {0, ISO_CODE_INTERNAL, "internal"},
             {-1000, ISO_CODE_INTERNAL, "internal"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    CHECK_EQ(iso_proto_code_from_err(map[i].err), map[i].code);
    CHECK_EQ(iso_proto_code_for(map[i].err, ISO_CODE_JOB), map[i].code);
    CHECK_STR(iso_proto_code_name(map[i].code), map[i].name);
    CHECK(iso_proto_code_where(map[i].code) & ISO_CODE_JOB);
  }
  /* the admin column of the same table */
  static const struct {
    int err;
    iso_proto_code code;
  } admin[] = {{ISO_EBUSY, ISO_CODE_CONFLICT},
               {ISO_ECLOSED, ISO_CODE_CONFLICT},
               {ISO_ETIMEDOUT, ISO_CODE_INTERNAL},
               {ISO_ENOMEM, ISO_CODE_INTERNAL}};
  for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
    CHECK_EQ(iso_proto_code_for(admin[i].err, ISO_CODE_ADMIN), admin[i].code);
    CHECK(iso_proto_code_where(admin[i].code) & ISO_CODE_ADMIN);
  }
  CHECK_STR(iso_proto_code_name(ISO_CODE_UNKNOWN), "unknown");
  CHECK_STR(iso_log_level_name(ISO_LOG_DEBUG), "debug");
  CHECK_STR(iso_log_level_name(ISO_LOG_ERROR), "error");
}

static const iso_test cases[] = {{"permissions", t_permissions},
                                 {"permissions_limits", t_permissions_limits},
                                 {"codes", t_codes},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
