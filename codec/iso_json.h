/* iso_json.h: msgpack <-> JSON text, for people and tools at the edges.
 *
 * poolctl prints replies as JSON and takes job arguments as JSON; the wire
 * itself is msgpack (docs/protocol.md). Both directions are total over their
 * input language and refuse rather than guess: malformed input gives
 * ISO_EPROTO and leaves the output buffer as it was.
 *
 * msgpack -> JSON (one line, compact, no trailing newline):
 *   nil -> null; bool; integers exactly; floats in the shortest form that
 *   reads back to the same float (float32 values to the same float32), with
 *   ".0" added to integral values so they stay floats on the way back;
 *   NaN and +-Infinity -> null; str -> JSON string (invalid UTF-8: each
 *   maximal ill-formed subsequence becomes U+FFFD); bin -> base64 string
 *   (RFC 4648, padded); arrays; maps -> objects, where a non-string key is
 *   written as the JSON text of the key ({1: 2} -> {"1":2}, {[1]: 2} ->
 *   {"[1]":2}); timestamp ext (-1) -> "2024-01-02T03:04:05.678Z" (UTC,
 *   milliseconds truncated toward the past, years outside 0..9999 as
 *   "+012345"/"-000001" like JavaScript's toISOString); any other ext, or a
 *   timestamp with a bad length or nanoseconds >= 1e9 -> {"ext": type,
 *   "data": base64}.
 *
 * JSON -> msgpack (RFC 8259, strict): one value with optional surrounding
 *   whitespace; no comments, trailing commas, single quotes, NaN, leading
 *   zeros or a BOM; strings must be valid UTF-8 without raw control
 *   characters. Integers (no fraction or exponent) that fit int64 or uint64
 *   stay integers, in the smallest msgpack encoding; "-0" and every other
 *   number become float64 (1e400 becomes +Infinity). An escaped lone
 *   surrogate (\ud800) becomes U+FFFD. Duplicate object keys are kept as
 *   they are (msgpack maps allow them; the reader decides).
 *
 * JSON text may nest ISO_JSON_MAX_DEPTH containers deep; msgpack printed
 * as JSON may nest ISO_JSON_MAX_PRINT_DEPTH deep, more than the runtime
 * ever produces (values nest at most 100 deep, docs/values.md).
 *
 * The JSON text of msgpack is bounded: a non-string map key is quoted, and
 * a key inside such a key is quoted again, which can double the text at
 * each level (62 levels fit in 150 bytes of msgpack and would print as 2^62
 * bytes). So such keys nest at most ISO_JSON_MAX_KEY_DEPTH deep, and the
 * text has a budget: iso_json_from_msgpack_max() takes one, and
 * iso_json_from_msgpack() allows ISO_JSON_MAX_OUT_FACTOR bytes per msgpack
 * byte plus ISO_JSON_MAX_OUT_SLACK, which prints every value whose
 * non-string keys are not themselves maps with non-string keys (JavaScript
 * Maps keyed by Maps keyed by Maps), and small ones even then. Past either
 * limit the result is ISO_ETOOBIG, after at most about max_out bytes of
 * work.
 * Numbers are formatted and parsed in the "C" locale, the one isopool
 * processes run in (nothing calls setlocale).
 */
#ifndef ISO_JSON_H
#define ISO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* JSON text may nest this deep (64 nested arrays are fine, 65 are not). */
#define ISO_JSON_MAX_DEPTH 64
/* msgpack given to iso_json_from_msgpack may nest this deep. */
#define ISO_JSON_MAX_PRINT_DEPTH 128
/* Non-string map keys inside non-string map keys: this many levels. */
#define ISO_JSON_MAX_KEY_DEPTH 8
/* iso_json_from_msgpack's budget: FACTOR * len + SLACK bytes of text. */
#define ISO_JSON_MAX_OUT_FACTOR 16
#define ISO_JSON_MAX_OUT_SLACK ((size_t)1 << 20)

/* Where and why JSON text was refused. */
typedef struct iso_json_error {
  size_t offset;    /* byte offset of the problem in the text */
  int line;         /* 1-based */
  int column;       /* 1-based, in bytes */
  char message[96]; /* "expected ':' after an object key" */
} iso_json_error;

/* iso_json_from_msgpack: appends the JSON text of the one msgpack value in
 * [mp, mp+len) to out, then NUL-terminates out (the NUL is not counted in
 * out->len). Returns 0; ISO_EPROTO if the bytes are not exactly one msgpack
 * value (truncated, trailing bytes, 0xc1, nesting deeper than
 * ISO_JSON_MAX_PRINT_DEPTH); ISO_ETOOBIG if the text would be longer than
 * ISO_JSON_MAX_OUT_FACTOR * len + ISO_JSON_MAX_OUT_SLACK bytes or non-string
 * keys nest deeper than ISO_JSON_MAX_KEY_DEPTH; ISO_ENOMEM. On error
 * out->len is unchanged. Thread: any. */
int iso_json_from_msgpack(const uint8_t* mp, size_t len, iso_buf* out);

/* iso_json_from_msgpack_max: iso_json_from_msgpack with a budget of its
 * own: ISO_ETOOBIG as soon as the text would be longer than max_out bytes
 * (the NUL not counted), so a caller that keeps only short texts (an id in
 * a listing) spends no more than that. Thread: any. */
int iso_json_from_msgpack_max(const uint8_t* mp,
                              size_t len,
                              size_t max_out,
                              iso_buf* out);

/* iso_json_to_msgpack: appends the msgpack encoding of the JSON text
 * [text, text+len) (need not be NUL-terminated) to out. Returns 0,
 * ISO_EPROTO for anything but one well-formed JSON value, or ISO_ENOMEM. On
 * error out->len is unchanged. Thread: any. */
int iso_json_to_msgpack(const char* text, size_t len, iso_buf* out);

/* iso_json_to_msgpack_ex: iso_json_to_msgpack that also says where and why
 * the text was refused; err (may be NULL) is filled only on ISO_EPROTO.
 * Thread: any. */
int iso_json_to_msgpack_ex(const char* text,
                           size_t len,
                           iso_buf* out,
                           iso_json_error* err);

#ifdef __cplusplus
}
#endif

#endif /* ISO_JSON_H */
