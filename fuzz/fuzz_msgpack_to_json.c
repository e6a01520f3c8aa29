/* fuzz_msgpack_to_json.c: msgpack -> JSON (iso_json_from_msgpack), what
 * poolctl and the admin plane print values and ids with.
 *
 * For any input: 0, ISO_EPROTO, ISO_ETOOBIG or ISO_ENOMEM, out unchanged
 * on error. Accepted text is valid UTF-8, within the budget (16 bytes per
 * input byte plus 1 MiB, and any smaller budget of
 * iso_json_from_msgpack_max: the same text if it fits, ISO_ETOOBIG if not),
 * and valid JSON: it parses back (iso_json_to_msgpack) unless it nests
 * deeper than JSON text may, and the JSON of what it parses to is the same
 * text (the JSON it writes is a fixed point).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_err.h"
#include "iso_json.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iso_buf out;
  iso_buf_init(&out);
  iso_buf_append(&out, "x", 1); /* what was there stays */
  int rc = iso_json_from_msgpack(data, size, &out);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO || rc == ISO_ETOOBIG ||
             rc == ISO_ENOMEM);
  FUZZ_CHECK(out.len >= 1 && out.data[0] == 'x');
  if (rc != 0) {
    FUZZ_CHECK(out.len == 1);
    iso_buf_close(&out);
    return 0;
  }
  const char* text = (const char*)out.data + 1;
  size_t len = out.len - 1;
  FUZZ_CHECK(text[len] == 0);
  FUZZ_CHECK(iso_utf8_valid(text, len));
  FUZZ_CHECK(len <= ISO_JSON_MAX_OUT_FACTOR * size + ISO_JSON_MAX_OUT_SLACK);

  /* a budget of one's own: exactly the text fits, one byte less does not */
  iso_buf b;
  iso_buf_init(&b);
  rc = iso_json_from_msgpack_max(data, size, len, &b);
  FUZZ_CHECK(rc == 0 || rc == ISO_ENOMEM);
  if (rc == 0) {
    FUZZ_CHECK(b.len == len && memcmp(b.data, text, len) == 0);
  }
  iso_buf_reset(&b);
  if (len > 0) {
    rc = iso_json_from_msgpack_max(data, size, len - 1, &b);
    FUZZ_CHECK(rc == ISO_ETOOBIG || rc == ISO_ENOMEM);
    FUZZ_CHECK(b.len == 0);
  }
  iso_buf_close(&b);

  /* valid JSON, and a fixed point */
  iso_buf mp, again;
  iso_buf_init(&mp);
  iso_buf_init(&again);
  iso_json_error e;
  rc = iso_json_to_msgpack_ex(text, len, &mp, &e);
  if (rc == ISO_EPROTO) {
    /* only for nesting JSON text may not have (printing allows more). An
     * ext prints as an object ({"ext":..,"data":..}), one level more than
     * it had, so the msgpack nests at least ISO_JSON_MAX_DEPTH deep (JSON
     * text past ISO_JSON_MAX_DEPTH, less the ext's level) */
    FUZZ_CHECK(strstr(e.message, "nesting deeper") != NULL);
    FUZZ_CHECK(iso_mp_one(data, size, ISO_JSON_MAX_DEPTH - 1) == 1);
  } else if (rc == 0) {
    rc = iso_json_from_msgpack_max(mp.data, mp.len, SIZE_MAX, &again);
    FUZZ_CHECK(rc == 0 || rc == ISO_ENOMEM);
    if (rc == 0) {
      FUZZ_CHECK(again.len == len && memcmp(again.data, text, len) == 0);
    }
  }
  iso_buf_close(&mp);
  iso_buf_close(&again);
  iso_buf_close(&out);
  return 0;
}
