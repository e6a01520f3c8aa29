/* fuzz_check.h: what every harness asserts with.
 *
 * A harness checks invariants, not only "no crash": FUZZ_CHECK aborts with
 * the condition's text, so libFuzzer saves the input as a crash artifact
 * (crash-<sha1> in -artifact_prefix) and the message says which promise
 * broke. Also the two properties every decoder's output must have: valid
 * UTF-8 (iso_utf8.h) and exactly one msgpack value (iso_mp.h, the codec's
 * reader). And the round trip both protocol harnesses end with: a reply
 * encoded as the service would, decoded as a client would.
 */
#ifndef ISO_FUZZ_CHECK_H
#define ISO_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_proto.h"
#include "iso_utf8.h"

#define FUZZ_CHECK(cond)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
              #cond);                                                      \
      abort();                                                             \
    }                                                                      \
  } while (0)

/* A NUL-terminated message of at most cap bytes that is valid UTF-8. */
static inline int fuzz_text_ok(const char* s, size_t cap) {
  if (s == NULL) {
    return 0;
  }
  size_t n = strnlen(s, cap);
  return n < cap && iso_utf8_valid(s, n);
}

/* [p, p+n) is exactly one msgpack value, at any depth (past 200 levels
 * the reader steps over without recursing). */
static inline int fuzz_one_value(const uint8_t* p, size_t n) {
  if (p == NULL || n == 0) {
    return 0;
  }
  iso_mp_rd r;
  int too_deep = 0;
  iso_mp_rd_init(&r, p, n);
  return iso_mp_skip(&r, 1, 200, &too_deep) == 0 && r.p == r.end;
}

/* Every string in the one msgpack value [p, p+n) is valid UTF-8. */
static inline int fuzz_strings_utf8(const uint8_t* p, size_t n) {
  return iso_mp_strings_utf8(p, n);
}

/* p lies inside the fuzzer's input. */
static inline int fuzz_inside(const void* p,
                              size_t n,
                              const uint8_t* in,
                              size_t len) {
  const uint8_t* q = p;
  return q >= in && n <= len && q - in <= (ptrdiff_t)(len - n);
}

/* Encodes rp as the service would (iso_proto_encode_reply) and decodes
 * the bytes as a client would (iso_proto_decode_reply): 1 with *back (the
 * caller frees it with iso_result_close), 0 if memory ran out. Both must
 * succeed otherwise: the encoder takes any reply a harness builds from a
 * decoded message, and the decoder any reply the encoder wrote. */
static inline int fuzz_reply_round_trip(const iso_proto_reply* rp,
                                        iso_result* back) {
  iso_buf enc;
  iso_buf_init(&enc);
  int rc = iso_proto_encode_reply(rp, &enc);
  if (rc == ISO_ENOMEM) {
    iso_buf_close(&enc);
    return 0;
  }
  FUZZ_CHECK(rc == 0);
  rc = iso_proto_decode_reply(enc.data, enc.len, back);
  FUZZ_CHECK(rc == 0 || rc == ISO_ENOMEM);
  iso_buf_close(&enc);
  return rc == 0;
}

#endif /* ISO_FUZZ_CHECK_H */
