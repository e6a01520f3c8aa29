/* msg_spec.h: msgpack messages written as parts, for the suites that feed
 * a decoder bytes JSON cannot say (non-string keys, absurd counts,
 * trailing bytes): test_proto*.c and test_admin.c (library iso_test_ipc).
 *
 * A message is parts joined by '|', each "J:<json>" (its msgpack, through
 * ipc's JSON bridge) or "H:<hex>" (the bytes; spaces are skipped):
 *
 *   iso_buf b = msg("H:82|J:\"v\"|J:1|J:\"id\"|H:d0 05");
 *   CHECK_BYTES(q->id.data, q->id.len, "d0 05");   bytes are these
 */
#ifndef ISO_MSG_SPEC_H
#define ISO_MSG_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "iso_buf.h"
#include "tap.h"

/* msg: the bytes of spec; the caller frees them (iso_buf_close). Bad JSON
 * in a part fails the case. */
iso_buf msg(const char* spec);

/* append_hex: appends the bytes hex digits h[0..n) spell (spaces
 * skipped) to b. */
void append_hex(iso_buf* b, const char* h, size_t n);

/* append_n: appends the string s to b n times. */
void append_n(iso_buf* b, const char* s, int n);

/* hex_of: n bytes as 2n lowercase hex digits; the caller frees it. */
char* hex_of(const uint8_t* p, size_t n);

#define CHECK_BYTES(ptr, n, want_hex)   \
  do {                                  \
    iso_buf w_ = msg("H:" want_hex);    \
    char* g_ = hex_of((ptr), (n));      \
    char* e_ = hex_of(w_.data, w_.len); \
    CHECK_STR(g_, e_);                  \
    free(g_);                           \
    free(e_);                           \
    iso_buf_close(&w_);                 \
  } while (0)

#endif /* ISO_MSG_SPEC_H */
