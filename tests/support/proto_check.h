/* proto_check.h: checks on what the job protocol's decoder hands out
 * (iso_proto.h), for test_proto.c, test_proto_server.c and
 * test_proto_client.c (library iso_test_ipc).
 */
#ifndef ISO_PROTO_CHECK_H
#define ISO_PROTO_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_perm_req.h"

/* str_is: s is a view of exactly the text want. */
int str_is(iso_str s, const char* want);

/* perm_text: a decoded `permissions` as text: "absent", or per kind "-"
 * (nothing), "*" (all) or "[a,b]" (the entries), as
 * "read=[a] write=- env=*" (then " net=..." when net is asked for). The text is
 * in a static buffer, valid until the next call. */
const char* perm_text(const iso_perm_req* pr);

/* perm_inside: every entry of a decoded `permissions` is a view into
 * [buf, buf+len). */
int perm_inside(const iso_perm_req* pr, const uint8_t* buf, size_t len);

#endif /* ISO_PROTO_CHECK_H */
