/* iso_proto_private.h: what the two halves of the job protocol codec
 * share (ipc/ only; iso_proto.h is the public side).
 *
 *   iso_proto.c         names (codes, log levels, msgpack types) and the
 *                       reading of a job's `permissions`
 *   iso_proto_server.c  request decoding, reply encoding
 *   iso_proto_client.c  request encoding, reply decoding
 *
 * The client library (isopool_client) builds iso_proto.c and the client
 * half only. Everything here is pure. Thread: any.
 */
#ifndef ISO_PROTO_PRIVATE_H
#define ISO_PROTO_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "iso_mp.h"
#include "iso_perm_req.h"
#include "iso_proto.h"

/* Room for every entry of a `permissions` map the decoder accepts. */
#define ISO__PROTO_PERM_ITEMS (ISO_PERM_REQ_KINDS * ISO_PROTO_MAX_PERM_ENTRIES)

/* iso__proto_type_name: "a string", "an integer", ... for messages. */
const char* iso__proto_type_name(iso_mp_type t);

/* iso__proto_printable: a name from the wire (n bytes at s), safe to put
 * in a message: bytes outside printable ASCII become '?', and a name too
 * long for dst (cap bytes) ends in "...". */
void iso__proto_printable(char* dst, size_t cap, const uint8_t* s, uint32_t n);

/* iso__proto_code_from_name: a job reply's code by its wire name; the
 * admin-only codes and unknown names give ISO_CODE_UNKNOWN. */
iso_proto_code iso__proto_code_from_name(const uint8_t* s, size_t n);

/* iso__proto_level_from_name: 1 and *out for a known console level name,
 * else 0. */
int iso__proto_level_from_name(const uint8_t* s, size_t n, iso_log_level* out);

/* iso__proto_perms_decode: reads a `permissions` value (the one msgpack
 * value in [p, p+len)) into *out, the entries' views into items (room for
 * ISO__PROTO_PERM_ITEMS, the caller's) and their number into *used.
 * Returns 0, or ISO_EINVAL with err (errlen bytes, may be NULL) naming the
 * key and the problem, *out then half filled. The one reading of the
 * field: the server's decoder and iso_proto_check_permissions use it. */
int iso__proto_perms_decode(const uint8_t* p,
                            size_t len,
                            iso_perm_req* out,
                            iso_str* items,
                            uint32_t* used,
                            char* err,
                            size_t errlen);

/* iso__proto_encode_stamped: appends one request (n = 1, !is_batch) or a
 * batch of n, as iso_proto_encode_request and iso_proto_encode_batch do,
 * except that with stamps (n entries) each job's timeout_ms, when > 0,
 * goes out at full width (0xcf and 8 bytes) and stamps[i] is its offset
 * in out (0: the job has none), so the client can change it in place
 * with iso__proto_restamp when it sends the message again. Returns as
 * iso_proto_encode_request. */
int iso__proto_encode_stamped(const iso_job* jobs,
                              size_t n,
                              int is_batch,
                              iso_buf* out,
                              size_t* stamps);

/* iso__proto_restamp: writes ms as the full-width integer at msg + at. */
void iso__proto_restamp(uint8_t* msg, size_t at, uint64_t ms);

#endif /* ISO_PROTO_PRIVATE_H */
