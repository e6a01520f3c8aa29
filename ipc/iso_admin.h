/* iso_admin.h: the admin protocol's request codec (docs/protocol.md, "The
 * admin protocol").
 *
 * The admin socket takes one msgpack map per request: {v, cmd, token, and
 * the command's keys}. iso_admin_decode() checks it completely (types,
 * ranges, unknown commands) so the service's handler only dispatches;
 * iso_admin_encode() builds a request for clients (poolctl). Replies are
 * built by the service (they are plain maps; see the doc).
 */
#ifndef ISO_ADMIN_H
#define ISO_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(enum suffix, wire name) */
#define ISO_ADMIN_CMD_TABLE(X) \
  X(STATUS, "status")          \
  X(WORKERS, "workers")        \
  X(JOBS, "jobs")              \
  X(CANCEL, "cancel")          \
  X(STATS, "stats")            \
  X(RESIZE, "resize")          \
  X(RECYCLE, "recycle")        \
  X(RELOAD, "reload")          \
  X(DRAIN, "drain")            \
  X(SHUTDOWN, "shutdown")

typedef enum iso_admin_cmd {
  ISO_ADMIN_NONE = 0,
#define ISO_ADMIN_CMD_ENUM(e, s) ISO_ADMIN_##e,
  ISO_ADMIN_CMD_TABLE(ISO_ADMIN_CMD_ENUM)
#undef ISO_ADMIN_CMD_ENUM
} iso_admin_cmd;

#define ISO_ADMIN_MAX_WORKERS 256
#define ISO_ADMIN_MAX_TOKEN 256
#define ISO_ADMIN_MAX_MODULE 1024
/* An admin request is at most this many bytes (the service's admin socket
 * takes no larger message) and has at most this many keys. */
#define ISO_ADMIN_MAX_MSG 65536
#define ISO_ADMIN_MAX_KEYS 16

/* A decoded admin request. Strings are NUL-terminated copies. */
typedef struct iso_admin_req {
  iso_admin_cmd cmd;
  int has_token;
  char token[ISO_ADMIN_MAX_TOKEN + 1];
  int64_t job;                           /* cancel */
  int workers;                           /* resize: 1..ISO_ADMIN_MAX_WORKERS */
  int worker;                            /* recycle: -1 with all */
  int all;                               /* recycle */
  char module[ISO_ADMIN_MAX_MODULE + 1]; /* reload: "" for all */
  int64_t grace_ms;                      /* shutdown: -1 when absent */
} iso_admin_req;

/* iso_admin_cmd_name: "status", ...; NULL for an unknown value. */
const char* iso_admin_cmd_name(iso_admin_cmd cmd);

/* iso_admin_decode: decode and check one request: a map of at most
 * ISO_ADMIN_MAX_KEYS string keys, each once, in at most ISO_ADMIN_MAX_MSG
 * bytes, with 'v' (1) and 'cmd'; unknown keys are ignored (newer clients may
 * send more). Returns 0, or ISO_EPROTO with err saying what is wrong
 * ("'workers' must be an integer from 1 to 256"). A request whose token is
 * wrong is still decoded: the caller checks has_token/token. Thread: any. */
int iso_admin_decode(const uint8_t* msg,
                     size_t len,
                     iso_admin_req* out,
                     char* err,
                     size_t errlen);

/* iso_admin_encode: append the request map for req (only the keys its
 * command takes; token when has_token). Returns 0, ISO_EINVAL (no such
 * command) or ISO_ENOMEM. Thread: any. */
int iso_admin_encode(const iso_admin_req* req, iso_buf* out);

#ifdef __cplusplus
}
#endif

#endif /* ISO_ADMIN_H */
