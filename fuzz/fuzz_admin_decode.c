/* fuzz_admin_decode.c: the admin request decoder, iso_admin_decode().
 *
 * For any input: 0 or ISO_EPROTO with a NUL-terminated UTF-8 message; an
 * accepted request names a known command and only values in range (a
 * token and a module of valid UTF-8 within their limits, workers 1..256,
 * worker ids 0..255, grace_ms 0..3600000), and each command has what it
 * needs. Round trip: the request encoded as poolctl would encode it
 * (iso_admin_encode) decodes to the same command and arguments.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_admin.h"
#include "iso_err.h"

static void check_req(const iso_admin_req* q) {
  FUZZ_CHECK(iso_admin_cmd_name(q->cmd) != NULL);
  size_t nt = strnlen(q->token, sizeof q->token);
  FUZZ_CHECK(nt <= ISO_ADMIN_MAX_TOKEN && iso_utf8_valid(q->token, nt));
  FUZZ_CHECK(q->has_token || nt == 0);
  size_t nm = strnlen(q->module, sizeof q->module);
  FUZZ_CHECK(nm <= ISO_ADMIN_MAX_MODULE && iso_utf8_valid(q->module, nm));
  FUZZ_CHECK(q->job >= -1);
  FUZZ_CHECK(q->workers >= 0 && q->workers <= ISO_ADMIN_MAX_WORKERS);
  FUZZ_CHECK(q->worker >= -1 && q->worker < ISO_ADMIN_MAX_WORKERS);
  FUZZ_CHECK(q->grace_ms >= -1 && q->grace_ms <= 3600000);
  switch (q->cmd) {
    case ISO_ADMIN_CANCEL:
      FUZZ_CHECK(q->job >= 0);
      break;
    case ISO_ADMIN_RESIZE:
      FUZZ_CHECK(q->workers >= 1);
      break;
    case ISO_ADMIN_RECYCLE:
      FUZZ_CHECK((q->worker >= 0) != (q->all != 0));
      break;
    default:
      break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iso_admin_req q;
  char err[160];
  err[0] = 0;
  int rc = iso_admin_decode(data, size, &q, err, sizeof err);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO);
  if (rc != 0) {
    FUZZ_CHECK(err[0] != 0 && fuzz_text_ok(err, sizeof err));
    return 0;
  }
  check_req(&q);
  FUZZ_CHECK(size <= ISO_ADMIN_MAX_MSG);

  iso_buf enc;
  iso_buf_init(&enc);
  rc = iso_admin_encode(&q, &enc);
  if (rc == ISO_ENOMEM) {
    iso_buf_close(&enc);
    return 0;
  }
  FUZZ_CHECK(rc == 0);
  iso_admin_req b;
  rc = iso_admin_decode(enc.data, enc.len, &b, err, sizeof err);
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(b.cmd == q.cmd);
  FUZZ_CHECK(b.has_token == q.has_token && strcmp(b.token, q.token) == 0);
  switch (q.cmd) {
    case ISO_ADMIN_CANCEL:
      FUZZ_CHECK(b.job == q.job);
      break;
    case ISO_ADMIN_RESIZE:
      FUZZ_CHECK(b.workers == q.workers);
      break;
    case ISO_ADMIN_RECYCLE:
      FUZZ_CHECK(b.all == q.all && (q.all || b.worker == q.worker));
      break;
    case ISO_ADMIN_RELOAD:
      FUZZ_CHECK(strcmp(b.module, q.module) == 0);
      break;
    case ISO_ADMIN_SHUTDOWN:
      FUZZ_CHECK(b.grace_ms == q.grace_ms);
      break;
    default:
      break;
  }
  iso_buf_close(&enc);
  return 0;
}
