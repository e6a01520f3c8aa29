/* records.c: the error reply map both sides make (pool_base.h).
 * Thread: any.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_base.h"

void pool__reply_error(iso_buf* out,
                       iso_bytes id,
                       iso_proto_code code,
                       const char* msg,
                       const iso_stats* stats) {
  iso_proto_reply r = {
      .id = id,
      .status = ISO_STATUS_ERROR,
      .code = code,
      .message = iso_str_of(msg),
  };
  if (stats == NULL) {
    iso_proto_encode_reply_open(&r, out);
  } else {
    r.stats = *stats;
    iso_proto_encode_reply(&r, out);
  }
}
