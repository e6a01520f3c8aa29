/* fuzz_json_to_msgpack.c: JSON -> msgpack (iso_json_to_msgpack_ex), what
 * poolctl sends job arguments and permissions with.
 *
 * For any input: 0, ISO_EPROTO (with a position inside the text and a
 * message) or ISO_ENOMEM, out unchanged on error. Accepted text becomes
 * exactly one msgpack value, nesting no deeper than JSON text may, whose
 * strings are valid UTF-8. Round trip: that value printed as JSON
 * (iso_json_from_msgpack) parses back to the same bytes, unless it holds a
 * float that JSON cannot write (1e400 became Infinity, printed as null).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_err.h"
#include "iso_json.h"

/* 1 if the one msgpack value [p, p+n) holds a NaN or an infinity. */
static int has_nonfinite(const uint8_t* p, size_t n) {
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, p, n);
  while (r.p < r.end) {
    if (iso_mp_read(&r, &o) != 0) {
      return 0;
    }
    if ((o.type == ISO_MP_F64 || o.type == ISO_MP_F32) && !isfinite(o.v.f)) {
      return 1;
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = (const char*)data;
  iso_buf out;
  iso_buf_init(&out);
  iso_buf_append(&out, "x", 1); /* what was there stays */
  iso_json_error e;
  memset(&e, 0, sizeof e);
  int rc = iso_json_to_msgpack_ex(text, size, &out, &e);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO || rc == ISO_ENOMEM);
  FUZZ_CHECK(out.len >= 1 && out.data[0] == 'x');
  if (rc == ISO_EPROTO) {
    FUZZ_CHECK(out.len == 1);
    FUZZ_CHECK(e.offset <= size && e.line >= 1 && e.column >= 1);
    FUZZ_CHECK(e.message[0] != 0 && fuzz_text_ok(e.message, sizeof e.message));
  }
  if (rc != 0) {
    iso_buf_close(&out);
    return 0;
  }
  const uint8_t* mp = out.data + 1;
  size_t n = out.len - 1;
  FUZZ_CHECK(iso_mp_one(mp, n, ISO_JSON_MAX_DEPTH) == 0);
  FUZZ_CHECK(fuzz_strings_utf8(mp, n));

  iso_buf json, back;
  iso_buf_init(&json);
  iso_buf_init(&back);
  rc = iso_json_from_msgpack(mp, n, &json);
  FUZZ_CHECK(rc == 0 || rc == ISO_ENOMEM);
  if (rc == 0) {
    rc = iso_json_to_msgpack((const char*)json.data, json.len, &back);
    FUZZ_CHECK(rc == 0 || rc == ISO_ENOMEM);
    if (rc == 0 && !has_nonfinite(mp, n)) {
      FUZZ_CHECK(back.len == n && memcmp(back.data, mp, n) == 0);
    }
  }
  iso_buf_close(&json);
  iso_buf_close(&back);
  iso_buf_close(&out);
  return 0;
}
