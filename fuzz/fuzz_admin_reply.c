/* fuzz_admin_reply.c: the admin reply decoder, iso_admin_decode_reply(),
 * which poolctl runs on whatever the admin URL it was given answers.
 *
 * The first byte picks the command whose reply the rest is read as. For
 * any input: 0, ISO_EPROTO or ISO_ETOOBIG (past the memory budget); a
 * decoded reply's strings and client ids lie inside the input, its arrays
 * hold what their counts say, an error's code is an admin code or
 * ISO_CODE_UNKNOWN. Round trip: the decoded reply encoded as the service
 * would (iso_admin_encode_reply) is valid msgpack with valid UTF-8 keys
 * and text, decodes again, and encodes to the same bytes (encoding what
 * was decoded is a fixed point after one step).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_admin.h"
#include "iso_err.h"

static const uint8_t* lo;
static const uint8_t* hi;

static void check_str(iso_admin_str s) {
  FUZZ_CHECK(s.ptr == NULL || ((const uint8_t*)s.ptr >= lo &&
                               (const uint8_t*)s.ptr + s.len <= hi));
  FUZZ_CHECK(s.ptr != NULL || s.len == 0);
  FUZZ_CHECK(s.ptr == NULL || !s.nil);
}

static void check_hist(const iso_admin_hist* h) {
  FUZZ_CHECK(h->buckets != NULL || h->nbuckets == 0);
  for (size_t i = 0; i < h->nbuckets; i++) {
    (void)h->buckets[i].le; /* touch every element */
    (void)h->buckets[i].count;
  }
}

static void check_reply(const iso_admin_reply* r) {
  if (!r->ok) {
    check_str(r->error.code_name);
    check_str(r->error.message);
    FUZZ_CHECK(r->error.code == ISO_CODE_UNKNOWN ||
               (iso_proto_code_where(r->error.code) & ISO_CODE_ADMIN));
    return;
  }
  switch (r->cmd) {
    case ISO_ADMIN_STATUS:
      check_str(r->status.version);
      for (size_t i = 0; i < r->status.nlisten; i++) {
        check_str(r->status.listen[i]);
      }
      for (size_t i = 0; i < r->status.nerrors; i++) {
        check_str(r->status.errors[i].code);
      }
      check_str(r->status.metrics);
      break;
    case ISO_ADMIN_WORKERS:
      for (size_t i = 0; i < r->workers.n; i++) {
        check_str(r->workers.list[i].state);
        check_str(r->workers.list[i].last_error);
      }
      break;
    case ISO_ADMIN_JOBS:
      for (size_t i = 0; i < r->jobs.n; i++) {
        const iso_admin_job* j = &r->jobs.list[i];
        check_str(j->kind);
        check_str(j->module);
        FUZZ_CHECK(j->client_id.data == NULL ||
                   (j->client_id.data >= lo &&
                    j->client_id.data + j->client_id.len <= hi &&
                    fuzz_one_value(j->client_id.data, j->client_id.len)));
      }
      break;
    case ISO_ADMIN_STATS:
      for (size_t i = 0; i < r->stats.nkinds; i++) {
        check_str(r->stats.kinds[i].name);
        check_hist(&r->stats.kinds[i].queue);
        check_hist(&r->stats.kinds[i].run);
        check_hist(&r->stats.kinds[i].total);
        check_hist(&r->stats.kinds[i].cpu);
      }
      break;
    case ISO_ADMIN_RECYCLE:
      for (size_t i = 0; i < r->recycle.n; i++) {
        (void)r->recycle.workers[i];
      }
      break;
    default:
      break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  iso_admin_cmd cmd = (iso_admin_cmd)(1 + data[0] % ISO_ADMIN_SHUTDOWN);
  lo = data + 1;
  hi = data + size;
  (void)iso_admin_reply_is_job(data + 1, size - 1);
  iso_admin_reply r;
  int rc = iso_admin_decode_reply(cmd, data + 1, size - 1, &r);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO || rc == ISO_ETOOBIG ||
             rc == ISO_ENOMEM);
  if (rc != 0) {
    FUZZ_CHECK(r.mem_ == NULL);
    iso_admin_reply_close(&r);
    return 0;
  }
  FUZZ_CHECK(r.cmd == cmd);
  check_reply(&r);

  iso_buf a, b;
  iso_buf_init(&a);
  iso_buf_init(&b);
  rc = iso_admin_encode_reply(&r, &a);
  if (!r.ok && r.error.code == ISO_CODE_UNKNOWN) {
    FUZZ_CHECK(rc == ISO_EINVAL); /* the service sends admin codes only */
  } else if (rc == 0) {
    FUZZ_CHECK(fuzz_one_value(a.data, a.len));
    iso_admin_reply r2;
    FUZZ_CHECK(iso_admin_decode_reply(cmd, a.data, a.len, &r2) == 0);
    FUZZ_CHECK(r2.ok == r.ok);
    FUZZ_CHECK(iso_admin_encode_reply(&r2, &b) == 0);
    /* what the service writes is valid UTF-8 throughout, except a client
     * id, which it copies as the request had it */
    if (r.cmd != ISO_ADMIN_JOBS || !r.ok) {
      FUZZ_CHECK(iso_mp_strings_utf8(b.data, b.len));
    }
    iso_buf c;
    iso_buf_init(&c);
    iso_admin_reply r3;
    FUZZ_CHECK(iso_admin_decode_reply(cmd, b.data, b.len, &r3) == 0);
    FUZZ_CHECK(iso_admin_encode_reply(&r3, &c) == 0);
    FUZZ_CHECK(c.len == b.len && memcmp(c.data, b.data, b.len) == 0);
    iso_admin_reply_close(&r3);
    iso_buf_close(&c);
    iso_admin_reply_close(&r2);
  } else {
    FUZZ_CHECK(rc == ISO_ENOMEM || rc == ISO_ETOOBIG);
  }
  iso_buf_close(&a);
  iso_buf_close(&b);
  iso_admin_reply_close(&r);
  return 0;
}
