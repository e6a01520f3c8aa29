/* test_admin.c: the admin protocol's codec (ipc/iso_admin.h): the reply
 * codec (iso_admin_reply.c): what the service encodes, byte for byte as
 * the wire has it (docs/protocol.md, "Admin replies"), and what clients
 * decode, leniently; and the request codec (iso_admin.c): what the service
 * takes, checked completely. Requests the JSON bridge cannot write are
 * written as parts (support/msg_spec.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "json_check.h"
#include "msg_spec.h"
#include "tap.h"

/* The JSON text of r's encoding. */
#define CHECK_ENCODED(r, want)                     \
  do {                                             \
    iso_buf e_;                                    \
    iso_buf_init(&e_);                             \
    CHECK_EQ(iso_admin_encode_reply((r), &e_), 0); \
    CHECK_JSON(e_.data, e_.len, want);             \
    iso_buf_close(&e_);                            \
  } while (0)

/* Decodes the reply given as JSON for cmd into *r (0 or the error). */
static int decode_json(iso_admin_cmd cmd,
                       const char* json,
                       iso_buf* keep,
                       iso_admin_reply* r) {
  *keep = mp_of(json);
  return iso_admin_decode_reply(cmd, keep->data, keep->len, r);
}

static int str_is(iso_admin_str s, const char* want) {
  return s.ptr != NULL && s.len == strlen(want) &&
         memcmp(s.ptr, want, s.len) == 0;
}

/* Every command's result, as the service fills it: the wire's keys, in
 * the wire's order, and its number forms. */
static void t_encode(void) {
  iso_admin_str listen[] = {iso_admin_str_of("tcp://127.0.0.1:7447"),
                            iso_admin_str_of("ipc:///tmp/x.ipc")};
  iso_admin_error_count errors[] = {{iso_admin_str_of("busy"), 1},
                                    {iso_admin_str_of("timeout"), 3}};
  iso_admin_reply r = {.cmd = ISO_ADMIN_STATUS, .ok = 1};
  r.status = (iso_admin_status){
      .version = iso_admin_str_of("0.1.0"),
      .uptime_ms = 7384000,
      .listen = listen,
      .nlisten = 2,
      .admin = iso_admin_str_of("ipc:///a.sock"),
      .metrics = iso_admin_str_of(NULL),
      .kv = iso_admin_str_of("/var/lib/isopool/kv.mdb"),
      .state = iso_admin_str_of("running"),
      .workers = {.configured = 2, .alive = 2},
      .queue = 3,
      .inflight = 5,
      .accepted = 1234,
      .fulfilled = 1200,
      .rejected = 30,
      .errors = errors,
      .nerrors = 2,
      .rate_1s = 12.5,
      .rate_10s = 1.0 / 3,
      .rate_60s = 0.0005,
      .procs_active = 2,
      .procs_spare = 1,
      .procs_starting = 0,
      .procs_restarts = 3,
      .jobs_lost = 31,
      .last_death = iso_admin_str_of("pool process 1.1 (pid 9148): killed"),
      .last_death_ago_ms = 1500,
      .spare_isolates = 1,
      .recycle_after_jobs = 100,
      .heap_soft_mb = 64,
      .idle_timeout_s = 30,
      .spares_ready = 1,
      .spare_builds = 4,
      .recycles = 3,
      .recycles_cold = 1,
      .code_limit_mb = 32,
      .code_hits = 40,
      .code_misses = 12,
      .code_rejected = 1,
      .code_evicted = 2,
      .code_made = 6,
      .code_from_front = 5,
      .code_entries = 9,
      .code_bytes = 123456,
      .code_front_entries = 6,
      .code_front_bytes = 98765,
  };
  CHECK_ENCODED(&r,
                "{\"ok\":true,\"version\":\"0.1.0\",\"uptime_ms\":7384000,"
                "\"listen\":[\"tcp://127.0.0.1:7447\",\"ipc:///tmp/x.ipc\"],"
                "\"admin\":\"ipc:///a.sock\",\"metrics\":null,"
                "\"kv\":\"/var/lib/isopool/kv.mdb\",\"state\":"
                "\"running\",\"workers\":{\"configured\":2,\"alive\":2},"
                "\"queue\":3,\"inflight\":5,\"totals\":{\"accepted\":1234,"
                "\"fulfilled\":1200,\"rejected\":30,\"errors\":{\"busy\":1,"
                "\"timeout\":3}},\"rate\":{\"1s\":12.5,\"10s\":0.333,"
                "\"60s\":0.001},\"processes\":{\"active\":2,\"spare\":1,"
                "\"starting\":0,\"restarts\":3,\"jobs_lost\":31,"
                "\"last_death\":\"pool process 1.1 (pid 9148): killed\","
                "\"last_death_ago_ms\":1500},\"recycling\":{"
                "\"spare_isolates\":1,\"recycle_after_jobs\":100,"
                "\"heap_soft_mb\":64,\"recycle_heap_mb\":0,"
                "\"idle_timeout_s\":30,\"spares_ready\":1,"
                "\"spare_builds\":4,\"recycles\":3,\"recycles_cold\":1},"
                "\"code_cache\":{\"limit_mb\":32,\"hits\":40,\"misses\":12,"
                "\"rejected\":1,\"evicted\":2,\"made\":6,\"from_front\":5,"
                "\"entries\":9,\"bytes\":123456,\"front_entries\":6,"
                "\"front_bytes\":98765}}");

  iso_admin_worker ws[] = {
      {.id = 0,
       .state = iso_admin_str_of("running"),
       .inflight = 1,
       .done = 1234,
       .heap_used = 12939264,
       .heap_limit = 268435456,
       .warm_modules = 3,
       .last_error = iso_admin_str_of(NULL),
       .process = iso_admin_str_of("0.1"),
       .pid = 4242},
      {.id = 1,
       .state = iso_admin_str_of("recycling"),
       .last_error = {"bad \xc3\x28 text", 11, 0}, /* repaired */
       .process = iso_admin_str_of(NULL),
       .pid = ISO_ADMIN_NO_INT}, /* a thread of the front */
  };
  r = (iso_admin_reply){.cmd = ISO_ADMIN_WORKERS, .ok = 1};
  r.workers = (iso_admin_workers){.list = ws, .n = 2};
  CHECK_ENCODED(&r,
                "{\"ok\":true,\"workers\":[{\"id\":0,\"state\":\"running\","
                "\"inflight\":1,\"done\":1234,\"heap_used\":12939264,"
                "\"heap_limit\":268435456,\"warm_modules\":3,\"last_error\":"
                "null,\"process\":\"0.1\",\"pid\":4242},{\"id\":1,\"state\":"
                "\"recycling\",\"inflight\":0,"
                "\"done\":0,\"heap_used\":0,\"heap_limit\":0,"
                "\"warm_modules\":0,\"last_error\":\"bad \xef\xbf\xbd( "
                "text\",\"process\":null,\"pid\":null}]}");

  iso_buf id = mp_of("[7,\"x\"]");
  iso_admin_job js[] = {
      {.id = 12,
       .client_id = {id.data, id.len},
       .kind = iso_admin_str_of("call"),
       .module = iso_admin_str_of("lib/a.js"),
       .worker = 0,
       .age_ms = 4500},
      {.id = 13,
       .kind = iso_admin_str_of("eval"),
       .module = iso_admin_str_of(NULL),
       .worker = -1,
       .age_ms = 120},
  };
  r = (iso_admin_reply){.cmd = ISO_ADMIN_JOBS, .ok = 1};
  r.jobs = (iso_admin_jobs){.list = js, .n = 2};
  CHECK_ENCODED(&r,
                "{\"ok\":true,\"jobs\":[{\"id\":12,\"client_id\":[7,\"x\"],"
                "\"kind\":\"call\",\"module\":\"lib/a.js\",\"worker\":0,"
                "\"age_ms\":4500},{\"id\":13,\"client_id\":null,\"kind\":"
                "\"eval\",\"module\":null,\"worker\":-1,\"age_ms\":120}]}");
  r.jobs.truncated = 1;
  r.jobs.n = 0;
  CHECK_ENCODED(&r, "{\"ok\":true,\"jobs\":[],\"truncated\":true}");
  iso_buf_close(&id);

  /* buckets: whole bounds below 10^6 are integers, the rest floats of
   * 6 significant digits, the last nil; quantiles with 1 decimal */
  iso_admin_bucket b[] = {{1, 2},   {1.25, 1},   {125000, 4},
                          {1e6, 5}, {1.25e6, 6}, {INFINITY, 7}};
  iso_admin_kind kinds[1] = {{.name = iso_admin_str_of("all")}};
  kinds[0].total = (iso_admin_hist){.count = 25,
                                    .sum = 99,
                                    .p50 = 1.25,
                                    .p90 = 2.04,
                                    .p99 = 1e6,
                                    .p999 = 0.05,
                                    .max = 1500000,
                                    .buckets = b,
                                    .nbuckets = 6};
  r = (iso_admin_reply){.cmd = ISO_ADMIN_STATS, .ok = 1};
  r.stats = (iso_admin_stats){.kinds = kinds, .nkinds = 1};
  CHECK_ENCODED(
      &r,
      "{\"ok\":true,\"kinds\":{\"all\":{\"queue\":{\"count\":0,\"sum\":0,"
      "\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0,"
      "\"buckets\":[]},\"run\":{\"count\":0,\"sum\":0,\"p50\":0.0,\"p90\":"
      "0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0,\"buckets\":[]},\"total\":{"
      "\"count\":25,\"sum\":99,\"p50\":1.2,\"p90\":2.0,\"p99\":1000000.0,"
      "\"p999\":0.1,\"max\":1500000,\"buckets\":[[1,2],[1.25,1],[125000,4],"
      "[1000000.0,5],[1250000.0,6],[null,7]]},\"cpu\":{\"count\":0,\"sum\":"
      "0,\"p50\":0.0,\"p90\":0.0,\"p99\":0.0,\"p999\":0.0,\"max\":0,"
      "\"buckets\":[]}}}}");

  int64_t ids[] = {0, 1};
  struct {
    iso_admin_reply r;
    const char* json;
  } small[] = {
      {{.cmd = ISO_ADMIN_CANCEL, .ok = 1, .cancel = {12}},
       "{\"ok\":true,\"job\":12}"},
      {{.cmd = ISO_ADMIN_RESIZE, .ok = 1, .resize = {{4, 2}}},
       "{\"ok\":true,\"workers\":{\"configured\":4,\"alive\":2}}"},
      {{.cmd = ISO_ADMIN_RECYCLE, .ok = 1, .recycle = {ids, 2}},
       "{\"ok\":true,\"workers\":[0,1]}"},
      {{.cmd = ISO_ADMIN_RELOAD, .ok = 1, .reload = {3}},
       "{\"ok\":true,\"realms\":3}"},
      {{.cmd = ISO_ADMIN_DRAIN,
        .ok = 1,
        .state = {iso_admin_str_of("draining")}},
       "{\"ok\":true,\"state\":\"draining\"}"},
      {{.cmd = ISO_ADMIN_SHUTDOWN,
        .ok = 1,
        .state = {iso_admin_str_of("shutting_down")}},
       "{\"ok\":true,\"state\":\"shutting_down\"}"},
      {{.cmd = ISO_ADMIN_RESIZE,
        .error = {.code = ISO_CODE_CONFLICT,
                  .message = iso_admin_str_of("a resize is under way")}},
       "{\"ok\":false,\"code\":\"conflict\",\"message\":\"a resize is "
       "under way\"}"},
      {{.cmd = ISO_ADMIN_NONE,
        .error = {.code = ISO_CODE_BAD_REQUEST,
                  .message = iso_admin_str_of("no 'v'")}},
       "{\"ok\":false,\"code\":\"bad_request\",\"message\":\"no 'v'\"}"},
  };
  for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
    CHECK_ENCODED(&small[i].r, small[i].json);
  }
}

/* What the encoder refuses: no such command, a code that is not an
 * admin code; the buffer is left as it was. */
static void t_encode_refused(void) {
  iso_buf out;
  iso_buf_init(&out);
  iso_buf_append(&out, "x", 1);
  iso_admin_reply r = {.cmd = ISO_ADMIN_NONE, .ok = 1};
  CHECK_EQ(iso_admin_encode_reply(&r, &out), ISO_EINVAL);
  r = (iso_admin_reply){.cmd = (iso_admin_cmd)99, .ok = 1};
  CHECK_EQ(iso_admin_encode_reply(&r, &out), ISO_EINVAL);
  r = (iso_admin_reply){.cmd = ISO_ADMIN_STATUS,
                        .error = {.code = ISO_CODE_BUSY}};
  CHECK_EQ(iso_admin_encode_reply(&r, &out), ISO_EINVAL);
  r.error.code = ISO_CODE_UNKNOWN;
  CHECK_EQ(iso_admin_encode_reply(&r, &out), ISO_EINVAL);
  CHECK_EQ(out.len, 1);
  iso_buf_close(&out);
}

/* The decoder takes back what the encoder wrote. */
static void t_round_trip(void) {
  iso_admin_str listen[] = {iso_admin_str_of("tcp://h:1")};
  iso_admin_reply in = {.cmd = ISO_ADMIN_STATUS, .ok = 1};
  in.status = (iso_admin_status){.version = iso_admin_str_of("1.2.3"),
                                 .uptime_ms = 5,
                                 .listen = listen,
                                 .nlisten = 1,
                                 .admin = iso_admin_str_of("ipc:///a"),
                                 .metrics = iso_admin_str_of(NULL),
                                 .kv = iso_admin_str_of("/k/kv.mdb"),
                                 .state = iso_admin_str_of("draining"),
                                 .workers = {3, 1},
                                 .queue = 9,
                                 .inflight = 2,
                                 .accepted = 40,
                                 .fulfilled = 30,
                                 .rejected = 10,
                                 .rate_1s = 2.5,
                                 .code_hits = 7,
                                 .code_front_bytes = 4096};
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_admin_encode_reply(&in, &b), 0);
  iso_admin_reply r;
  CHECK_EQ(iso_admin_decode_reply(ISO_ADMIN_STATUS, b.data, b.len, &r), 0);
  CHECK_EQ(r.ok, 1);
  CHECK(str_is(r.status.version, "1.2.3"));
  CHECK(r.status.uptime_ms == 5);
  CHECK_EQ(r.status.nlisten, 1);
  CHECK(str_is(r.status.listen[0], "tcp://h:1"));
  CHECK(r.status.metrics.ptr == NULL && r.status.metrics.nil);
  CHECK(str_is(r.status.kv, "/k/kv.mdb"));
  CHECK(str_is(r.status.state, "draining"));
  CHECK_EQ(r.status.workers.configured, 3);
  CHECK_EQ(r.status.workers.alive, 1);
  CHECK_EQ(r.status.queue, 9);
  CHECK_EQ(r.status.rejected, 10);
  CHECK(r.status.errors != NULL && r.status.nerrors == 0);
  CHECK(r.status.rate_1s == 2.5 && r.status.rate_10s == 0);
  CHECK_EQ(r.status.code_hits, 7);
  CHECK_EQ(r.status.code_front_bytes, 4096);
  CHECK_EQ(r.status.code_misses, 0);
  iso_admin_reply_close(&r);
  CHECK(r.mem_ == NULL);
  iso_admin_reply_close(&r);
  iso_admin_reply_close(NULL);

  iso_admin_reply e = {
      .cmd = ISO_ADMIN_CANCEL,
      .error = {.code = ISO_CODE_NOT_FOUND,
                .message = iso_admin_str_of("job 9 is not in flight")}};
  iso_buf_reset(&b);
  CHECK_EQ(iso_admin_encode_reply(&e, &b), 0);
  CHECK_EQ(iso_admin_decode_reply(ISO_ADMIN_CANCEL, b.data, b.len, &r), 0);
  CHECK_EQ(r.ok, 0);
  CHECK_EQ(r.error.code, ISO_CODE_NOT_FOUND);
  CHECK(str_is(r.error.code_name, "not_found"));
  CHECK(str_is(r.error.message, "job 9 is not in flight"));
  iso_admin_reply_close(&r);
  iso_buf_close(&b);
}

/* A reply from a newer (or odder) service: unknown keys ignored, missing
 * or mistyped ones absent, the first of duplicates counts, arrays hold
 * every element (an element of another type is all absent). */
static void t_decode_lenient(void) {
  iso_buf m;
  iso_admin_reply r;
  CHECK_EQ(decode_json(ISO_ADMIN_STATUS,
                       "{\"newer\":{\"a\":[1,{\"b\":null}]},\"ok\":true,"
                       "\"version\":\"9.9.9\",\"version\":\"dup\","
                       "\"queue\":\"three\",\"workers\":{\"alive\":1.0},"
                       "\"totals\":{\"accepted\":18446744073709551615,"
                       "\"errors\":{\"busy\":\"x\",\"timeout\":2}},"
                       "\"rate\":{\"10s\":2},\"uptime_ms\":1.5,"
                       "\"inflight\":1e300}",
                       &m, &r),
           0);
  CHECK(str_is(r.status.version, "9.9.9"));
  CHECK_EQ(r.status.queue, ISO_ADMIN_NO_INT);
  CHECK_EQ(r.status.inflight, ISO_ADMIN_NO_INT);
  CHECK_EQ(r.status.accepted, INT64_MAX);
  CHECK_EQ(r.status.workers.alive, 1);
  CHECK_EQ(r.status.workers.configured, ISO_ADMIN_NO_INT);
  CHECK(r.status.uptime_ms == 1.5);
  CHECK(r.status.listen == NULL && r.status.nlisten == 0);
  CHECK(r.status.metrics.ptr == NULL && !r.status.metrics.nil);
  CHECK(r.status.kv.ptr == NULL && !r.status.kv.nil); /* an older service */
  CHECK_EQ(r.status.nerrors, 2);
  CHECK(str_is(r.status.errors[0].code, "busy"));
  CHECK_EQ(r.status.errors[0].count, ISO_ADMIN_NO_INT);
  CHECK_EQ(r.status.errors[1].count, 2);
  CHECK(isnan(r.status.rate_1s) && r.status.rate_10s == 2);
  iso_admin_reply_close(&r);
  iso_buf_close(&m);

  CHECK_EQ(decode_json(ISO_ADMIN_WORKERS,
                       "{\"ok\":true,\"workers\":[{\"id\":3,\"shiny\":[[[]]]},"
                       "7]}",
                       &m, &r),
           0);
  CHECK_EQ(r.workers.n, 2);
  CHECK_EQ(r.workers.list[0].id, 3);
  CHECK(r.workers.list[0].state.ptr == NULL);
  CHECK(isnan(r.workers.list[0].heap_used));
  CHECK_EQ(r.workers.list[1].id, ISO_ADMIN_NO_INT);
  iso_admin_reply_close(&r);
  iso_buf_close(&m);

  /* a kind's name as sent, whatever it is; buckets as pairs */
  CHECK_EQ(
      decode_json(ISO_ADMIN_STATS,
                  "{\"ok\":true,\"kinds\":{\"all\":{\"total\":{\"buckets\":"
                  "[[100,2],[null,3],{\"a\":1},[1.5],[\"x\",4,5]]}},"
                  "\"all\":{}}}",
                  &m, &r),
      0);
  CHECK_EQ(r.stats.nkinds, 2);
  const iso_admin_hist* h = &r.stats.kinds[0].total;
  CHECK_EQ(h->nbuckets, 5);
  CHECK(h->buckets[0].le == 100 && h->buckets[0].count == 2);
  CHECK(isnan(h->buckets[1].le) && h->buckets[1].count == 3);
  CHECK(isnan(h->buckets[2].le) && h->buckets[2].count == ISO_ADMIN_NO_INT);
  CHECK(h->buckets[3].le == 1.5 && h->buckets[3].count == ISO_ADMIN_NO_INT);
  CHECK(isnan(h->buckets[4].le) && h->buckets[4].count == 4);
  CHECK_EQ(r.stats.kinds[0].queue.count, ISO_ADMIN_NO_INT);
  CHECK(r.stats.kinds[0].queue.buckets == NULL);
  iso_admin_reply_close(&r);
  iso_buf_close(&m);

  /* an error with a code this client does not know */
  CHECK_EQ(decode_json(ISO_ADMIN_STATUS,
                       "{\"ok\":false,\"code\":\"rate_limited\","
                       "\"message\":null,\"hint\":1}",
                       &m, &r),
           0);
  CHECK_EQ(r.error.code, ISO_CODE_UNKNOWN);
  CHECK(str_is(r.error.code_name, "rate_limited"));
  CHECK(r.error.message.ptr == NULL && r.error.message.nil);
  iso_admin_reply_close(&r);
  iso_buf_close(&m);
  /* a job code is not an admin code */
  CHECK_EQ(
      decode_json(ISO_ADMIN_STATUS,
                  "{\"ok\":false,\"code\":\"busy\",\"message\":\"m\"}", &m, &r),
      0);
  CHECK_EQ(r.error.code, ISO_CODE_UNKNOWN);
  iso_admin_reply_close(&r);
  iso_buf_close(&m);
}

/* What is not an admin reply at all. */
static void t_decode_refused(void) {
  static const char* const bad[] = {
      "[1,2]",      "{\"status\":\"error\"}",
      "{\"ok\":1}", "{\"ok\":null,\"ok\":true}", /* the first "ok" counts */
      "\"ok\"",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    iso_buf m;
    iso_admin_reply r;
    CHECK_EQ(decode_json(ISO_ADMIN_STATUS, bad[i], &m, &r), ISO_EPROTO);
    CHECK(r.mem_ == NULL);
    iso_admin_reply_close(&r);
    iso_buf_close(&m);
  }
  static const uint8_t trailing[] = {0x81, 0xa2, 'o', 'k', 0xc3, 0xc0};
  static const uint8_t truncated[] = {0x82, 0xa2, 'o', 'k', 0xc3};
  static const uint8_t c1[] = {0x81, 0xa2, 'o', 'k', 0xc1};
  iso_admin_reply r;
  CHECK_EQ(
      iso_admin_decode_reply(ISO_ADMIN_STATUS, trailing, sizeof trailing, &r),
      ISO_EPROTO);
  CHECK_EQ(
      iso_admin_decode_reply(ISO_ADMIN_STATUS, truncated, sizeof truncated, &r),
      ISO_EPROTO);
  CHECK_EQ(iso_admin_decode_reply(ISO_ADMIN_STATUS, c1, sizeof c1, &r),
           ISO_EPROTO);
  CHECK_EQ(iso_admin_decode_reply(ISO_ADMIN_STATUS, NULL, 0, &r), ISO_EPROTO);
  CHECK_EQ(iso_admin_decode_reply(ISO_ADMIN_NONE, trailing, 5, &r), ISO_EINVAL);
  iso_admin_reply_close(&r);
  /* too deep: 129 nested arrays under an unknown key */
  iso_buf deep;
  iso_buf_init(&deep);
  iso_buf_append(&deep, "\x82\xa2ok\xc3\xa1x", 7);
  for (int i = 0; i < ISO_ADMIN_REPLY_MAX_DEPTH; i++) {
    iso_buf_append(&deep, "\x91", 1);
  }
  iso_buf_append(&deep, "\xc0", 1);
  CHECK_EQ(iso_admin_decode_reply(ISO_ADMIN_STATUS, deep.data, deep.len, &r),
           ISO_EPROTO);
  iso_admin_reply_close(&r);
  iso_buf_close(&deep);

  CHECK(iso_admin_reply_is_job((const uint8_t*)"\x81\xa6status\xa5"
                                               "error",
                               14));
  CHECK(!iso_admin_reply_is_job((const uint8_t*)"\x81\xa6status\x01", 9));
  CHECK(!iso_admin_reply_is_job((const uint8_t*)"\x91\x01", 2));
}

/* A reply cannot make its reader allocate much more than its size: 5000
 * one-byte workers fit the budget (16 bytes per byte and 1 MiB; a worker
 * is about 120 bytes decoded), a million do not. */
static void t_decode_budget(void) {
  for (int pass = 0; pass < 2; pass++) {
    uint32_t n = pass == 0 ? 5000 : 1000000;
    iso_buf m;
    iso_buf_init(&m);
    uint8_t head[] = {0x82,
                      0xa2,
                      'o',
                      'k',
                      0xc3,
                      0xa7,
                      'w',
                      'o',
                      'r',
                      'k',
                      'e',
                      'r',
                      's',
                      0xdd,
                      (uint8_t)(n >> 24),
                      (uint8_t)(n >> 16),
                      (uint8_t)(n >> 8),
                      (uint8_t)n};
    iso_buf_append(&m, head, sizeof head);
    for (uint32_t i = 0; i < n; i++) {
      iso_buf_append(&m, "\x80", 1);
    }
    iso_admin_reply r;
    int rc = iso_admin_decode_reply(ISO_ADMIN_WORKERS, m.data, m.len, &r);
    if (pass == 0) {
      CHECK_EQ(rc, 0);
      CHECK_EQ(r.workers.n, n);
    } else {
      CHECK_EQ(rc, ISO_ETOOBIG);
      CHECK(r.mem_ == NULL);
    }
    iso_admin_reply_close(&r);
    iso_buf_close(&m);
  }
}

/* ---- the request codec (ipc/iso_admin.c) ------------------------------ */

typedef struct admin_case {
  const char* name;
  const char* spec;    /* message parts */
  const char* message; /* expected substring of the error; NULL: accepted */
} admin_case;

static const admin_case k_admin[] = {
    {"status", "J:{\"v\":1,\"cmd\":\"status\"}", NULL},
    {"unknown keys are ignored", "J:{\"v\":1,\"cmd\":\"status\",\"new\":[1]}",
     NULL},
    {"whole float", "J:{\"v\":1,\"cmd\":\"resize\",\"workers\":4.0}", NULL},
    {"missing v", "J:{\"cmd\":\"status\"}", "has no 'v'"},
    {"v 2", "J:{\"v\":2,\"cmd\":\"status\"}", "'v' must be 1"},
    {"missing cmd", "J:{\"v\":1}", "has no 'cmd'"},
    {"cmd twice", "J:{\"v\":1,\"cmd\":\"status\",\"cmd\":\"drain\"}",
     "duplicate key 'cmd'"},
    {"token twice",
     "J:{\"v\":1,\"cmd\":\"status\",\"token\":\"a\",\"token\":\"b\"}",
     "duplicate key 'token'"},
    {"v twice", "J:{\"v\":1,\"v\":1,\"cmd\":\"status\"}", "duplicate key 'v'"},
    {"unknown key twice", "J:{\"v\":1,\"cmd\":\"status\",\"x\":1,\"x\":2}",
     "duplicate key 'x'"},
    {"too many keys",
     "J:{\"v\":1,\"cmd\":\"status\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,"
     "\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
     "\"o\":1}",
     "has 17 keys (the limit is 16)"},
    /* doubles out of int64's range were cast (undefined behaviour) */
    {"workers NaN",
     "H:83|J:\"v\"|J:1|J:\"cmd\"|J:\"resize\"|J:\"workers\"|"
     "H:cb 7ff8000000000000",
     "'workers' must be an integer"},
    {"workers 1e300", "J:{\"v\":1,\"cmd\":\"resize\",\"workers\":1e300}",
     "'workers' must be an integer"},
    {"job -1e300", "J:{\"v\":1,\"cmd\":\"cancel\",\"job\":-1e300}",
     "'job' must be a job number"},
    {"job 2^63", "J:{\"v\":1,\"cmd\":\"cancel\",\"job\":9223372036854775808.0}",
     "'job' must be a job number"},
    {"grace_ms infinity",
     "H:83|J:\"v\"|J:1|J:\"cmd\"|J:\"shutdown\"|"
     "J:\"grace_ms\"|H:cb 7ff0000000000000",
     "'grace_ms' must be an integer"},
    {"token too long",
     "J:{\"v\":1,\"cmd\":\"status\",\"token\":\"" /* 257 bytes */
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
     "'token' must be a string of at most 256 bytes"},
    {"token not UTF-8",
     "H:83|J:\"v\"|J:1|J:\"cmd\"|J:\"status\"|J:\"token\"|H:a2 c328",
     "'token' must be a string"},
    {"not a map", "J:[1]", "must be a msgpack map"},
    {"empty", "", "must be a msgpack map"},
    {"trailing bytes", "J:{\"v\":1,\"cmd\":\"status\"}|H:c0", "trailing bytes"},
    {NULL, NULL, NULL}};

static void t_admin_decode(void) {
  for (const admin_case* t = k_admin; t->name != NULL; t++) {
    iso_buf b = msg(t->spec);
    iso_admin_req q;
    char err[160] = "";
    int rc = iso_admin_decode(b.data, b.len, &q, err, sizeof err);
    if (t->message == NULL) {
      CHECK_EQ(rc, 0);
      CHECK_STR(err, "");
    } else {
      CHECK_EQ(rc, ISO_EPROTO);
      CHECK_CONTAINS(err, t->message);
    }
    if ((rc == 0) != (t->message == NULL)) {
      fprintf(stderr, "    case: %s (%s)\n", t->name, err);
    }
    iso_buf_close(&b);
  }
  /* the size: the service's admin socket takes ISO_ADMIN_MAX_MSG bytes, so
   * the decoder takes no more, whatever the message holds: a status
   * request padded with an unknown key to exactly the limit, and one byte
   * over it */
  iso_admin_req q;
  char err[160] = "";
  for (size_t total = ISO_ADMIN_MAX_MSG; total <= ISO_ADMIN_MAX_MSG + 1;
       total++) {
    iso_buf pad = msg("H:83|J:\"v\"|J:1|J:\"cmd\"|J:\"status\"|J:\"pad\"");
    size_t n = total - pad.len - 3;
    uint8_t hdr[3] = {0xda, (uint8_t)(n >> 8), (uint8_t)n};
    iso_buf_append(&pad, hdr, 3);
    while (pad.len < total) {
      iso_buf_append(&pad, "p", 1);
    }
    err[0] = 0;
    int rc = iso_admin_decode(pad.data, pad.len, &q, err, sizeof err);
    if (total <= ISO_ADMIN_MAX_MSG) {
      CHECK_EQ(rc, 0);
    } else {
      CHECK_EQ(rc, ISO_EPROTO);
      CHECK_CONTAINS(err, "65537 bytes (the limit is 65536)");
    }
    iso_buf_close(&pad);
  }
  CHECK_EQ(iso_admin_decode(NULL, 0, &q, err, sizeof err), ISO_EPROTO);
  /* what the encoder writes, the decoder takes back */
  iso_admin_req in = {
      .cmd = ISO_ADMIN_SHUTDOWN, .has_token = 1, .grace_ms = 250};
  strcpy(in.token, "s3cret");
  iso_buf enc;
  iso_buf_init(&enc);
  CHECK_EQ(iso_admin_encode(&in, &enc), 0);
  CHECK_EQ(iso_admin_decode(enc.data, enc.len, &q, err, sizeof err), 0);
  CHECK_EQ(q.cmd, ISO_ADMIN_SHUTDOWN);
  CHECK_EQ(q.grace_ms, 250);
  CHECK_STR(q.token, "s3cret");
  iso_buf_close(&enc);
}

static const iso_test cases[] = {{"encode", t_encode},
                                 {"encode_refused", t_encode_refused},
                                 {"round_trip", t_round_trip},
                                 {"decode_lenient", t_decode_lenient},
                                 {"decode_refused", t_decode_refused},
                                 {"decode_budget", t_decode_budget},
                                 {"admin_decode", t_admin_decode},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
