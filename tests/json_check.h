/* json_check.h: msgpack checks that read as JSON, for the suites that talk
 * the wire protocol (tests/tap.h must come first).
 *
 *   iso_buf b = mp_of("[1, \"x\"]");       msgpack of a JSON text
 *   CHECK_JSON(bytes, len, "[1,\"x\"]");   msgpack bytes print as this
 */
#ifndef ISO_JSON_CHECK_H
#define ISO_JSON_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_json.h"
#include "tap.h"

/* mp_of: msgpack of a JSON text; the caller frees it. Bad JSON fails the
 * case. */
static inline iso_buf mp_of(const char* json) {
  iso_buf b;
  iso_buf_init(&b);
  if (iso_json_to_msgpack(json, strlen(json), &b) != 0) {
    fprintf(stderr, "  bad test JSON: %s\n", json);
    iso_test_failed_ = 1;
  }
  return b;
}

/* json_of: the JSON text of msgpack bytes, "(none)" for none or garbage;
 * the caller frees it. */
static inline char* json_of(const uint8_t* p, size_t n) {
  iso_buf out;
  iso_buf_init(&out);
  if (p == NULL || n == 0 || iso_json_from_msgpack(p, n, &out) != 0) {
    iso_buf_free(&out);
    return strdup("(none)");
  }
  return (char*)out.data;
}

#define CHECK_JSON(p, n, want)    \
  do {                            \
    char* j_ = json_of((p), (n)); \
    CHECK_STR(j_, want);          \
    free(j_);                     \
  } while (0)

#endif /* ISO_JSON_CHECK_H */
