/* json_check.h: msgpack checks that read as JSON, for the suites that talk
 * the wire protocol (library iso_test_ipc).
 *
 *   iso_buf b = mp_of("[1, \"x\"]");       msgpack of a JSON text
 *   CHECK_JSON(bytes, len, "[1,\"x\"]");   msgpack bytes print as this
 */
#ifndef ISO_JSON_CHECK_H
#define ISO_JSON_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "iso_buf.h"
#include "tap.h"

/* mp_of: msgpack of a JSON text; the caller frees it (iso_buf_close). Bad
 * JSON fails the case. */
iso_buf mp_of(const char* json);

/* json_of: the JSON text of msgpack bytes, "(none)" for none or garbage;
 * the caller frees it. */
char* json_of(const uint8_t* p, size_t n);

#define CHECK_JSON(p, n, want)    \
  do {                            \
    char* j_ = json_of((p), (n)); \
    CHECK_STR(j_, want);          \
    free(j_);                     \
  } while (0)

#endif /* ISO_JSON_CHECK_H */
