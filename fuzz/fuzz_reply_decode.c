/* fuzz_reply_decode.c: the client's reply decoders, iso_proto_decode_reply
 * and iso_proto_decode_batch_reply (what iso_client runs on every reply).
 *
 * For any input: 0, ISO_EPROTO or ISO_ENOMEM, and a refused reply leaves
 * every result zeroed. A decoded result is whole: a known status, an id
 * that is one msgpack value, a value for "fulfilled", NUL-terminated
 * strings, logs as counted. Round trip: the result encoded again as the
 * service would (iso_proto_encode_reply) decodes to the same result, with
 * its text now valid UTF-8 (ill-formed bytes become U+FFFD, valid text is
 * unchanged). The first input byte picks the batch size to try.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_err.h"
#include "iso_proto.h"

static int zeroed(const iso_result* r) {
  static const iso_result zero;
  return memcmp(r, &zero, sizeof zero) == 0;
}

/* b is a's text after the encoder's repair: equal if a was valid UTF-8,
 * and valid UTF-8 in any case. */
static void check_repaired(const char* a, size_t na, const char* b, size_t nb) {
  FUZZ_CHECK(iso_utf8_valid(b, nb));
  if (iso_utf8_valid(a, na)) {
    FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0);
  }
}

static void check_result(const iso_result* r) {
  FUZZ_CHECK(r->status == ISO_STATUS_FULFILLED ||
             r->status == ISO_STATUS_REJECTED || r->status == ISO_STATUS_ERROR);
  FUZZ_CHECK(fuzz_one_value(r->id, r->id_len));
  if (r->status == ISO_STATUS_FULFILLED) {
    FUZZ_CHECK(fuzz_one_value(r->value, r->value_len));
  }
  FUZZ_CHECK(r->name && r->message && r->stack && r->code_name);
  (void)strlen(r->name);
  (void)strlen(r->message);
  (void)strlen(r->stack);
  (void)strlen(r->code_name);
  FUZZ_CHECK((r->nlogs == 0) == (r->logs == NULL));
  for (size_t i = 0; i < r->nlogs; i++) {
    FUZZ_CHECK(r->logs[i].text != NULL && r->logs[i].text[r->logs[i].len] == 0);
    FUZZ_CHECK(r->logs[i].level >= ISO_LOG_LOG &&
               r->logs[i].level <= ISO_LOG_ERROR);
  }

  /* the round trip; an unknown error code cannot be encoded */
  if (r->status == ISO_STATUS_ERROR && r->code == ISO_CODE_UNKNOWN) {
    return;
  }
  iso_proto_reply rp = {
      .id = {r->id, r->id_len},
      .status = r->status,
      .value = {r->value, r->value_len},
      .name = iso_str_of(r->name),
      .message = iso_str_of(r->message),
      .stack = iso_str_of(r->stack),
      .code = r->code,
      .logs = r->logs,
      .nlogs = r->nlogs,
      .stats = r->stats,
  };
  iso_result b;
  if (!fuzz_reply_round_trip(&rp, &b)) {
    return;
  }
  FUZZ_CHECK(b.status == r->status);
  FUZZ_CHECK(b.id_len == r->id_len && memcmp(b.id, r->id, r->id_len) == 0);
  if (r->status == ISO_STATUS_FULFILLED) {
    FUZZ_CHECK(b.value_len == r->value_len &&
               memcmp(b.value, r->value, r->value_len) == 0);
  }
  /* field by field: the struct has padding after `limit` */
  FUZZ_CHECK(b.stats.worker == r->stats.worker &&
             b.stats.queue_us == r->stats.queue_us &&
             b.stats.run_us == r->stats.run_us &&
             b.stats.cpu_us == r->stats.cpu_us &&
             b.stats.wall_us == r->stats.wall_us &&
             b.stats.heap_bytes == r->stats.heap_bytes &&
             b.stats.ops == r->stats.ops && b.stats.limit == r->stats.limit);
  check_repaired(r->message, strlen(r->message), b.message, strlen(b.message));
  if (r->status == ISO_STATUS_REJECTED) {
    check_repaired(r->name, strlen(r->name), b.name, strlen(b.name));
    check_repaired(r->stack, strlen(r->stack), b.stack, strlen(b.stack));
  }
  if (r->status == ISO_STATUS_ERROR) {
    FUZZ_CHECK(b.code == r->code);
  }
  FUZZ_CHECK(b.nlogs == r->nlogs);
  for (size_t i = 0; i < b.nlogs; i++) {
    FUZZ_CHECK(b.logs[i].level == r->logs[i].level);
    check_repaired(r->logs[i].text, r->logs[i].len, b.logs[i].text,
                   b.logs[i].len);
  }
  iso_result_close(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  size_t n = 1 + data[0] % 4;
  data++;
  size--;
  iso_result one;
  int rc = iso_proto_decode_reply(data, size, &one);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO || rc == ISO_ENOMEM);
  if (rc == 0) {
    check_result(&one);
    iso_result_close(&one);
  } else {
    FUZZ_CHECK(zeroed(&one));
  }
  iso_result many[4];
  rc = iso_proto_decode_batch_reply(data, size, many, n);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO || rc == ISO_ENOMEM);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0) {
      check_result(&many[i]);
      iso_result_close(&many[i]);
    } else {
      FUZZ_CHECK(zeroed(&many[i]));
    }
  }
  return 0;
}
