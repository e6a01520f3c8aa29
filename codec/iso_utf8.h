/* iso_utf8.h: the one UTF-8 validator, for every string isopool sends.
 *
 * The wire promises valid UTF-8 in every string (docs/protocol.md): names
 * a request carries are refused when they are not (iso_proto_decode), and
 * text that comes from outside and is sent on (error messages quoting a
 * client's input, console output, ids) is repaired with U+FFFD. Both use
 * these functions, so "valid" means one thing everywhere: well-formed per
 * Unicode (table 3-7: no overlongs, no surrogates, nothing past U+10FFFF),
 * and a repair replaces each maximal ill-formed subpart with one U+FFFD, as
 * WHATWG's decoder and V8's String::NewFromUtf8 do.
 */
#ifndef ISO_UTF8_H
#define ISO_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* iso_utf8_valid: 1 iff [s, s+n) is well-formed UTF-8 (n == 0: 1, and s
 * may then be NULL). Thread: any. */
int iso_utf8_valid(const void* s, size_t n);

/* iso_utf8_seq: the length (1..4) of the well-formed sequence that starts
 * at s (n >= 1 bytes available), or -k when its first k bytes (k >= 1) are
 * an ill-formed or truncated prefix that becomes one U+FFFD. Thread: any. */
int iso_utf8_seq(const uint8_t* s, size_t n);

/* iso_utf8_append: appends [s, s+n) to out with each maximal ill-formed
 * subpart replaced by U+FFFD (EF BF BD); valid text is copied as it is.
 * Returns 0 or ISO_ENOMEM (out->len then unchanged). Thread: any. */
int iso_utf8_append(iso_buf* out, const void* s, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* ISO_UTF8_H */
