/* iso_perm_req.h: what a job asks for in its `permissions` field, as plain
 * data (docs/protocol.md, "Permissions").
 *
 * The request decoder (ipc/iso_proto.h) reads the field once into this
 * struct, checking its shape on the way; ops/ (iso_perms_narrow in
 * iso_ops.h) checks each entry against what the service grants, without
 * reading msgpack again. The type lives in the leaf both modules use, so
 * that neither depends on the other (docs/architecture.md). It holds no
 * msgpack: entries are borrowed views into the request message.
 */
#ifndef ISO_PERM_REQ_H
#define ISO_PERM_REQ_H

#include <stdint.h>

#include "iso_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kinds a set has, in the order the pool's link writes them
 * ([read, write, env, net]); a buffer of ISO_PERM_REQ_KINDS * the
 * per-kind limit holds the entries of any set. */
#define ISO_PERM_REQ_KINDS 4

/* What one key (read, write, env, net) asks for. */
typedef enum iso_perm_ask {
  ISO_PERM_ASK_NOTHING = 0, /* false, or the key absent */
  ISO_PERM_ASK_ALL,         /* true: all the service grants of this kind */
  ISO_PERM_ASK_LIST         /* an array: items[0..n), perhaps none */
} iso_perm_ask;

typedef struct iso_perm_list {
  iso_perm_ask ask;
  uint32_t n;           /* entries in items (ISO_PERM_ASK_LIST only) */
  const iso_str* items; /* paths relative to the data root (read, write) or
                         * variable names (env), HOST[:PORT] (net); from
                         * the decoder: 1 ..
                         * ISO_PROTO_MAX_PERM_ENTRY bytes of UTF-8 without
                         * NUL bytes, at most ISO_PROTO_MAX_PERM_ENTRIES */
} iso_perm_list;

/* A job's `permissions`. Zeroed: the field was absent, and the job gets
 * everything the service grants. */
typedef struct iso_perm_req {
  int present; /* 1: the field was sent; {} asks for nothing */
  iso_perm_list read, write, env, net;
} iso_perm_req;

#ifdef __cplusplus
}
#endif

#endif /* ISO_PERM_REQ_H */
