/* test_link_msg.c: the link's records (ipc/iso_link_msg.c): every kind
 * written and read back, the header, and every refusal, each a row
 * (message written with msg_spec.h's parts, after the link header).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_link.h"
#include "iso_mp.h"
#include "iso_utf8.h"
#include "json_check.h"
#include "msg_spec.h"
#include "tap.h"

/* ---- helpers ------------------------------------------------------------- */

/* A message: the link header, then spec's bytes (msg_spec.h). */
static iso_buf link_msg(const char* spec) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_buf b;
  iso_buf_init(&b);
  iso_buf_append(&b, head, hl);
  if (spec != NULL && spec[0] != '\0') {
    iso_buf body = msg(spec);
    iso_buf_append(&b, body.data, body.len);
    iso_buf_close(&body);
  }
  return b;
}

/* Reads every record of [p, p+n) from chan into recs (up to cap). Returns
 * the count, or the error with err filled. */
static int read_all(iso_link_chan chan,
                    const uint8_t* p,
                    size_t n,
                    iso_link_rec* recs,
                    int cap,
                    char* err,
                    size_t errlen) {
  iso_link_rd rd;
  err[0] = '\0';
  int rc = iso_link_rd_init(&rd, chan, p, n, err, errlen);
  if (rc != 0) {
    return rc;
  }
  int count = 0;
  iso_link_rec scratch;
  for (;;) {
    rc = iso_link_rd_next(&rd, count < cap ? &recs[count] : &scratch, err,
                          errlen);
    if (rc <= 0) {
      return rc < 0 ? rc : count;
    }
    count++;
  }
}

static iso_str S(const char* s) {
  return iso_str_of(s);
}

static iso_bytes B(const iso_buf* b) {
  return (iso_bytes){b->data, b->len};
}

/* ---- the samples: one or more records of every kind ---------------------- */

typedef struct sample {
  iso_link_chan chan;
  iso_link_rec rec;
} sample;

static iso_buf g_args, g_reply, g_perms, g_result, g_errmsg, g_opargs, g_id;

static int make_samples(sample* s) {
  g_args = mp_of("[1, \"two\", {\"three\": [3]}]");
  /* a worker's reply map is open for its stats: one entry more than it
   * holds (a fixmap's header counts them) */
  g_reply = mp_of("{\"status\": \"fulfilled\", \"value\": \"héllo\"}");
  g_reply.data[0]++;
  g_result = mp_of("{\"bytes\": 5}");
  iso_buf_init(&g_errmsg); /* an op error's message: the text itself */
  iso_buf_append(&g_errmsg, "no such file: a/b", 17);
  g_opargs = mp_of("[\"hits\", 1]");
  g_id = mp_of("{\"job\": \"a-1\"}");
  iso_buf_init(&g_perms);
  iso_str reads[2] = {S("data"), S("cache/x")};
  iso_perm_req pr = {.present = 1,
                     .read = {ISO_PERM_ASK_LIST, 2, reads},
                     .write = {ISO_PERM_ASK_NOTHING},
                     .env = {ISO_PERM_ASK_ALL}};
  CHECK_EQ(iso_link_put_perms(&g_perms, &pr), 0);
  int n = 0;
  s[n++] =
      (sample){ISO_LINK_FRONT_JOBS,
               {ISO_LINK_TASK, .u.task = {.slot = 7,
                                          .gen = 3,
                                          .kind = ISO_JOB_CALL,
                                          .module = S("file:///m/a.js"),
                                          .export_name = S("run"),
                                          .args = B(&g_args),
                                          .deadline_ns = 123456789012345ull,
                                          .sid = 99,
                                          .perm_id = 4,
                                          .perms = B(&g_perms),
                                          .id = B(&g_id),
                                          .received_ns = 12345600000ull,
                                          .timeout_ms = 30000}}};
  s[n++] =
      (sample){ISO_LINK_FRONT_JOBS,
               {ISO_LINK_TASK, .u.task = {.slot = UINT32_MAX,
                                          .gen = 0,
                                          .kind = ISO_JOB_EVAL,
                                          .source = S("export default 1 + 1;"),
                                          .args = B(&g_args),
                                          .deadline_ns = 1}}};
  s[n++] = (sample){ISO_LINK_FRONT_JOBS,
                    {ISO_LINK_TASK, .u.task = {.kind = ISO_JOB_EVAL,
                                               .module = S("b.js"),
                                               .source = S(""),
                                               .args = B(&g_args)}}};
  s[n++] = (sample){ISO_LINK_FRONT_JOBS,
                    {ISO_LINK_CANCEL, .u.cancel = {.slot = 7, .gen = 3}}};
  s[n++] = (sample){ISO_LINK_FRONT_JOBS,
                    {ISO_LINK_RELOAD, .u.reload = {.spec = S("a.js")}}};
  s[n++] = (sample){ISO_LINK_FRONT_JOBS,
                    {ISO_LINK_RELOAD, .u.reload = {.spec = S("")}}};
  s[n++] = (sample){ISO_LINK_FRONT_JOBS, {ISO_LINK_RECYCLE}};
  s[n++] = (sample){ISO_LINK_FRONT_JOBS,
                    {ISO_LINK_STOP, .u.stop = {.grace_ms = 5000}}};
  s[n++] = (sample){ISO_LINK_WORKER_JOBS,
                    {ISO_LINK_DONE, .u.done = {.slot = 7,
                                               .gen = 3,
                                               .status = ISO_STATUS_FULFILLED,
                                               .started_ns = 10,
                                               .finished_ns = 20,
                                               .reply = B(&g_reply)}}};
  s[n++] = (sample){ISO_LINK_WORKER_JOBS,
                    {ISO_LINK_DONE, .u.done = {.status = ISO_STATUS_ERROR,
                                               .code = ISO_CODE_TIMEOUT,
                                               .started_ns = 5,
                                               .finished_ns = 5,
                                               .reply = B(&g_reply),
                                               .note = S("Error: x")}}};
  s[n++] =
      (sample){ISO_LINK_WORKER_JOBS,
               {ISO_LINK_DONE,
                .u.done = {.slot = 1, .gen = 2, .status = ISO_STATUS_NONE}}};
  s[n++] =
      (sample){ISO_LINK_WORKER_JOBS,
               {ISO_LINK_INFO, .u.info = {.heap_used = 1 << 20,
                                          .heap_limit = (uint64_t)512 << 20,
                                          .warm_modules = 3}}};
  s[n++] = (sample){ISO_LINK_WORKER_JOBS,
                    {ISO_LINK_INFO, .u.info = {.heap_used = 1}}};
  s[n++] = (sample){ISO_LINK_WORKER_JOBS,
                    {ISO_LINK_RELOADED, .u.reloaded = {.n = 2}}};
  s[n++] =
      (sample){ISO_LINK_WORKER_JOBS,
               {ISO_LINK_STATE, .u.state = {.state = ISO_LINK_W_RECYCLING}}};
  s[n++] = (sample){ISO_LINK_WORKER_JOBS, {ISO_LINK_READY}};
  s[n++] = (sample){
      ISO_LINK_WORKER_JOBS,
      {ISO_LINK_RECYCLED,
       .u.recycled = {.reason = ISO_LINK_R_IDLE, .how = ISO_LINK_HOW_COLD}}};
  s[n++] = (sample){ISO_LINK_WORKER_JOBS,
                    {ISO_LINK_READY,
                     .u.ready = {.rc = 1, .error = S("worker 3: no memory")}}};
  s[n++] = (sample){ISO_LINK_WORKER_OPS,
                    {ISO_LINK_OP, .u.op = {.op = 12,
                                           .promise = 4096,
                                           .realm = 2,
                                           .tag = 5,
                                           .perm_id = 4,
                                           .args = B(&g_opargs)}}};
  s[n++] = (sample){
      ISO_LINK_FRONT_OPS,
      {ISO_LINK_OP_RESULT,
       .u.op_result = {
           .promise = 4096, .realm = 2, .tag = 5, .result = B(&g_result)}}};
  s[n++] = (sample){
      ISO_LINK_FRONT_OPS,
      {ISO_LINK_OP_RESULT,
       .u.op_result = {.promise = 1, .err = 2, .result = B(&g_errmsg)}}};
  s[n++] = (sample){
      ISO_LINK_FRONT_CTL,
      {ISO_LINK_HALT, .u.halt = {.worker = 3, .deadline_ns = 987654321ull}}};
  s[n++] = (sample){ISO_LINK_FRONT_CTL,
                    {ISO_LINK_HALT, .u.halt = {.worker = UINT32_MAX}}};
  s[n++] = (sample){ISO_LINK_GROUP_CTL,
                    {ISO_LINK_WEDGED, .u.wedged = {.worker = 3}}};
  s[n++] = (sample){ISO_LINK_GROUP_CTL, {ISO_LINK_ALIVE}};
  s[n++] = (sample){
      ISO_LINK_GROUP_CTL,
      {ISO_LINK_SPARES,
       .u.spares = {.ready = 1, .builds = 7, .bytes = (uint64_t)3 << 20}}};
  static const uint8_t key[ISO_LINK_CODE_KEY] = {'m', 1, 2, 3};
  static const uint8_t cache[300] = {0xc0, 0xde};
  iso_link_code code = {.key = {key, sizeof key},
                        .data = {cache, sizeof cache}};
  s[n++] = (sample){ISO_LINK_GROUP_CTL, {ISO_LINK_CODE, .u.code = code}};
  s[n++] = (sample){ISO_LINK_FRONT_CTL, {ISO_LINK_CODE_PUT, .u.code = code}};
  s[n++] = (sample){
      ISO_LINK_GROUP_CTL,
      {ISO_LINK_CODE_STATS, .u.code_stats = {.hits = 5,
                                             .misses = 2,
                                             .rejected = 1,
                                             .evicted = 3,
                                             .made = 2,
                                             .put = 4,
                                             .bytes = (uint64_t)5 << 30,
                                             .entries = 6,
                                             .tag = 0xdeadbeef}}};
  return n;
}

static void free_samples(void) {
  iso_buf_close(&g_args);
  iso_buf_close(&g_reply);
  iso_buf_close(&g_perms);
  iso_buf_close(&g_result);
  iso_buf_close(&g_errmsg);
  iso_buf_close(&g_opargs);
  iso_buf_close(&g_id);
}

static int str_eq(iso_str a, iso_str b) {
  return (a.ptr == NULL) == (b.ptr == NULL) && a.len == b.len &&
         (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int bytes_eq(iso_bytes a, iso_bytes b) {
  return (a.data == NULL) == (b.data == NULL) && a.len == b.len &&
         (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* ---- cases --------------------------------------------------------------- */

/* Every sample written alone, read back: the same kind and fields, and
 * written again, the same bytes. */
static void t_round_trip_every_kind(void) {
  sample s[32];
  int n = make_samples(s);
  int kinds_seen[256] = {0};
  for (int i = 0; i < n; i++) {
    iso_buf m = link_msg(NULL);
    size_t start = m.len;
    CHECK_EQ(iso_link_put(&m, &s[i].rec), 0);
    iso_link_rec got[2];
    char err[256];
    CHECK_EQ(read_all(s[i].chan, m.data, m.len, got, 2, err, sizeof err), 1);
    if (err[0] != '\0') {
      fprintf(stderr, "  sample %d: %s\n", i, err);
    }
    CHECK_EQ(got[0].kind, s[i].rec.kind);
    iso_buf again;
    iso_buf_init(&again);
    CHECK_EQ(iso_link_put(&again, &got[0]), 0);
    CHECK(again.len == m.len - start &&
          memcmp(again.data, m.data + start, again.len) == 0);
    kinds_seen[got[0].kind] = 1;
    iso_buf_close(&again);
    iso_buf_close(&m);
  }
#define SEEN(e, v, chan) CHECK(kinds_seen[v]);
  ISO_LINK_KIND_TABLE(SEEN)
#undef SEEN
  free_samples();
}

/* The fields themselves, for the two richest kinds; strings and raw
 * values point into the message. */
static void t_fields_read_back(void) {
  sample s[32];
  make_samples(s);
  iso_buf m = link_msg(NULL);
  CHECK_EQ(iso_link_put(&m, &s[0].rec), 0); /* a call TASK */
  CHECK_EQ(iso_link_put(&m, &s[1].rec), 0); /* an eval TASK */
  iso_link_rec r[2];
  char err[256];
  CHECK_EQ(read_all(ISO_LINK_FRONT_JOBS, m.data, m.len, r, 2, err, sizeof err),
           2);
  const iso_link_task *a = &r[0].u.task, *want = &s[0].rec.u.task;
  CHECK_EQ(a->slot, 7);
  CHECK_EQ(a->gen, 3);
  CHECK_EQ(a->kind, ISO_JOB_CALL);
  CHECK(str_eq(a->module, want->module));
  CHECK(str_eq(a->export_name, want->export_name));
  CHECK(a->source.ptr == NULL);
  CHECK(bytes_eq(a->args, want->args));
  CHECK(a->args.data > m.data && a->args.data < m.data + m.len);
  CHECK(a->deadline_ns == 123456789012345ull);
  CHECK_EQ(a->sid, 99);
  CHECK_EQ(a->perm_id, 4);
  CHECK(bytes_eq(a->perms, want->perms));
  CHECK(bytes_eq(a->id, want->id));
  CHECK(a->received_ns == 12345600000ull);
  CHECK_EQ(a->timeout_ms, 30000);
  const iso_link_task* b = &r[1].u.task;
  CHECK_EQ(b->slot, UINT32_MAX);
  CHECK(b->module.ptr == NULL && b->export_name.ptr == NULL);
  CHECK(b->perms.data == NULL && b->id.data == NULL);
  CHECK(str_eq(b->source, S("export default 1 + 1;")));
  iso_buf_close(&m);

  m = link_msg(NULL);
  CHECK_EQ(iso_link_put(&m, &s[8].rec), 0);  /* a DONE */
  CHECK_EQ(iso_link_put(&m, &s[11].rec), 0); /* an INFO */
  CHECK_EQ(read_all(ISO_LINK_WORKER_JOBS, m.data, m.len, r, 2, err, sizeof err),
           2);
  CHECK_EQ(r[0].u.done.status, ISO_STATUS_FULFILLED);
  CHECK_EQ(r[0].u.done.code, ISO_CODE_UNKNOWN);
  CHECK_EQ(r[0].u.done.finished_ns, 20);
  CHECK(bytes_eq(r[0].u.done.reply, s[8].rec.u.done.reply));
  CHECK_EQ(r[1].u.info.heap_limit, (uint64_t)512 << 20);
  CHECK_EQ(r[1].u.info.warm_modules, 3);
  iso_buf_close(&m);
  free_samples();
}

/* A TASK written ahead of routing, then routed, reads back as the record
 * iso_link_put writes (the two TASK samples: perms and none, slots up to
 * UINT32_MAX); bytes that are not written ahead are refused. */
static void t_task_ahead(void) {
  sample s[32];
  make_samples(s);
  for (int i = 0; i < 2; i++) {
    const iso_link_task* want = &s[i].rec.u.task;
    iso_link_task t = *want;
    t.slot = t.gen = t.perm_id = 12345; /* not used */
    t.perms = (iso_bytes){(const uint8_t*)"\x90", 1};
    iso_buf ahead;
    iso_buf_init(&ahead);
    iso_buf_append(&ahead, "xy", 2); /* records follow others */
    size_t perms_at = 0;
    CHECK_EQ(iso_link_put_task_ahead(&ahead, &t, &perms_at), 0);
    iso_buf m = link_msg(NULL);
    CHECK_EQ(iso_link_put_task_routed(&m, ahead.data + 2, ahead.len - 2,
                                      perms_at, want->slot, want->gen,
                                      want->perm_id, want->perms),
             0);
    iso_link_rec got[2];
    char err[256];
    CHECK_EQ(
        read_all(ISO_LINK_FRONT_JOBS, m.data, m.len, got, 2, err, sizeof err),
        1);
    iso_buf again, put;
    iso_buf_init(&again);
    iso_buf_init(&put);
    CHECK_EQ(iso_link_put(&again, &got[0]), 0);
    CHECK_EQ(iso_link_put(&put, &s[i].rec), 0);
    CHECK(again.len == put.len && memcmp(again.data, put.data, put.len) == 0);
    size_t before = m.len;
    CHECK_EQ(iso_link_put_task_routed(&m, ahead.data, ahead.len, perms_at, 1, 1,
                                      1, (iso_bytes){NULL, 0}),
             ISO_EINVAL); /* off by the two bytes before it */
    CHECK_EQ(m.len, before);
    iso_buf_close(&again);
    iso_buf_close(&put);
    iso_buf_close(&ahead);
    iso_buf_close(&m);
  }
  /* a record the rules refuse is not written ahead either */
  iso_link_task bad = s[0].rec.u.task;
  bad.export_name = (iso_str){NULL, 0};
  iso_buf b;
  iso_buf_init(&b);
  size_t at = 0;
  CHECK_EQ(iso_link_put_task_ahead(&b, &bad, &at), ISO_EINVAL);
  CHECK_EQ(b.len, 0);
  iso_buf_close(&b);
  free_samples();
}

/* Many records in one message come back in order; a message with none is
 * fine. */
static void t_batch(void) {
  iso_buf m = link_msg(NULL);
  for (uint32_t i = 0; i < 1000; i++) {
    iso_link_rec r = {ISO_LINK_CANCEL, .u.cancel = {.slot = i, .gen = i * 3}};
    CHECK_EQ(iso_link_put(&m, &r), 0);
  }
  iso_link_rd rd;
  char err[128];
  CHECK_EQ(iso_link_rd_init(&rd, ISO_LINK_FRONT_JOBS, m.data, m.len, err,
                            sizeof err),
           0);
  iso_link_rec r;
  uint32_t n = 0;
  int rc;
  while ((rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    CHECK_EQ(r.u.cancel.slot, n);
    CHECK_EQ(r.u.cancel.gen, n * 3);
    n++;
  }
  CHECK_EQ(rc, 0);
  CHECK_EQ(n, 1000);
  iso_buf_close(&m);
  iso_buf e = link_msg(NULL);
  CHECK_EQ(read_all(ISO_LINK_FRONT_JOBS, e.data, e.len, &r, 1, err, sizeof err),
           0);
  iso_buf_close(&e);
}

/* The header: another program, another version, another layout, each
 * said; the same header written in longer forms is the same header. */
static void t_header(void) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  CHECK(hl >= 15 && hl <= 32);
  char err[256];
  iso_link_rd rd;
  struct {
    const char* spec;
    const char* want;
  } rows[] = {
      {"", "not a link message"},
      {"H:c1", "not a link message"},
      {"J:[\"isopool-lonk\", 1, 0]", "not a link message"},
      {"J:{\"isopool-link\": 1}", "not a link message"},
      {"J:[\"isopool-link\", 2, 0]", "link version 2, this build 1"},
      {"J:[\"isopool-link\", 1, 12345]", "different builds"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    iso_buf b = msg(rows[i].spec[0] ? rows[i].spec : "H:");
    CHECK_EQ(iso_link_rd_init(&rd, ISO_LINK_FRONT_JOBS, b.data, b.len, err,
                              sizeof err),
             ISO_EPROTO);
    CHECK_CONTAINS(err, rows[i].want);
    iso_buf_close(&b);
  }
  /* the layout in a longer form: our header's values, re-read */
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, head, hl);
  for (int i = 0; i < 4; i++) {
    iso_mp_read(&r, &o);
  }
  iso_buf b;
  iso_buf_init(&b);
  append_hex(&b, "93 ac", 5);
  iso_buf_append(&b, "isopool-link", 12);
  append_hex(&b, "cd 00 01 cf", 11); /* version as a uint16, layout u64 */
  uint64_t lay = o.v.u;
  for (int i = 7; i >= 0; i--) {
    uint8_t c = (uint8_t)(lay >> (8 * i));
    iso_buf_append(&b, &c, 1);
  }
  append_hex(&b, "91 04", 5); /* and a RECYCLE */
  iso_link_rec rec;
  CHECK_EQ(
      read_all(ISO_LINK_FRONT_JOBS, b.data, b.len, &rec, 1, err, sizeof err),
      1);
  CHECK_EQ(rec.kind, ISO_LINK_RECYCLE);
  iso_buf_close(&b);
  CHECK_STR(iso_link_kind_name(ISO_LINK_OP_RESULT), "OP_RESULT");
  CHECK(iso_link_kind_name((iso_link_kind)6) == NULL);
  CHECK_STR(iso_link_wstate_name(ISO_LINK_W_RUNNING), "running");
  CHECK(iso_link_wstate_name(ISO_LINK_W_COUNT) == NULL);
}

/* A refusal: a record (after the header) read from chan fails with err
 * holding want. */
typedef struct refusal {
  const char* name;
  iso_link_chan chan;
  const char* spec;
  const char* want;
} refusal;

#define TASK_HEAD "J:1|J:7|J:3"
#define ARGS "J:[]"
#define TAIL "J:1|J:2|J:3|H:c0|H:c0|J:0|J:0|J:0"

static const refusal k_refusals[] = {
    /* records as a whole */
    {"not_an_array", ISO_LINK_FRONT_JOBS, "J:4", "not an array"},
    {"empty_array", ISO_LINK_FRONT_JOBS, "J:[]", "not an array"},
    {"kind_not_uint", ISO_LINK_FRONT_JOBS, "J:[\"TASK\"]", "not an array"},
    {"unknown_kind", ISO_LINK_FRONT_JOBS, "J:[6]", "unknown kind 6"},
    {"kind_of_another_link", ISO_LINK_WORKER_JOBS, "J:[4]",
     "a RECYCLE record, which a worker's jobs link does not carry"},
    {"done_on_front_link", ISO_LINK_FRONT_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "a DONE record, which the front's jobs link"},
    {"too_few_fields", ISO_LINK_FRONT_JOBS, "J:[2, 1]",
     "(CANCEL): 1 fields, not 2"},
    {"too_many_fields", ISO_LINK_FRONT_JOBS, "J:[4, 1]",
     "(RECYCLE): 1 fields, not 0"},
    {"truncated", ISO_LINK_FRONT_JOBS, "H:93 02 01", "record 1: "},
    {"truncated_field", ISO_LINK_FRONT_JOBS, "H:93 02 01 cd 00",
     "(CANCEL): 'gen' truncated msgpack"},
    {"second_record_bad", ISO_LINK_FRONT_JOBS, "J:[4]|J:[2, -1, 0]",
     "record 2 (CANCEL): 'slot' must be an unsigned integer"},
    {"bad_byte", ISO_LINK_FRONT_JOBS, "H:92 02 c1", "record 1"},
    /* numbers */
    {"slot_negative", ISO_LINK_FRONT_JOBS, "J:[2, -1, 0]",
     "'slot' must be an unsigned integer"},
    {"slot_float", ISO_LINK_FRONT_JOBS, "J:[2, 1.5, 0]",
     "'slot' must be an unsigned integer"},
    {"slot_past_32_bits", ISO_LINK_FRONT_JOBS, "J:[2, 4294967296, 0]",
     "'slot' 4294967296 is out of its bounds"},
    {"grace_past_an_hour", ISO_LINK_FRONT_JOBS, "J:[5, 3600001]",
     "'grace_ms' 3600001 is out of its bounds"},
    {"task_kind_3", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:3|J:\"m\"|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "'kind' 3 is out of its bounds (1 to 2)"},
    {"task_kind_0", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:0|J:\"m\"|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "'kind' 0 is out of its bounds"},
    {"status_4", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:4|J:0|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "'status' 4 is out"},
    {"none_with_reply", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:0|J:0|J:0|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "a reply comes with a status, and only with one"},
    {"fulfilled_without_reply", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:0|J:2|H:c0|H:c0|J:0|J:0|J:0|J:0",
     "a reply comes with a status, and only with one"},
    {"note_not_utf8", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:3|J:3|J:0|J:2|H:c4 01 81|H:a1 ff|J:0|J:0|J:0|J:0",
     "'note' is not valid UTF-8"},
    {"code_past_table", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:3|J:11|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "'code' 11 is out"},
    {"limit_past_table", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:3|J:1|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:4",
     "'limit' 4 is out"},
    {"state_past_table", ISO_LINK_WORKER_JOBS, "J:[19, 5]", "'state' 5 is out"},
    {"op_err_past_bound", ISO_LINK_FRONT_OPS,
     "H:96|J:48|J:1|J:1|J:1|J:64|H:c4 00", "'err' 64 is out"},
    {"op_result_not_bin", ISO_LINK_FRONT_OPS, "J:[48, 1, 1, 1, 0, 5]",
     "'result' must be a bin"},
    {"op_result_two_values", ISO_LINK_FRONT_OPS,
     "H:96|J:48|J:1|J:1|J:1|J:0|H:c4 02 01 02",
     "an op's result holds one msgpack value"},
    {"op_result_truncated", ISO_LINK_FRONT_OPS,
     "H:96|J:48|J:1|J:1|J:1|J:0|H:c4 01 92",
     "an op's result holds one msgpack value"},
    /* strings */
    {"module_not_str", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:5|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "'module' must be a string or nil"},
    {"module_not_utf8", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|H:a2 c3 28|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "'module' is not valid UTF-8"},
    {"module_surrogate", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|H:a3 ed a0 80|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "'module' is not valid UTF-8"},
    {"module_nul", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|H:a3 61 00 62|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "'module' contains a NUL byte"},
    {"source_not_utf8", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:1|H:c0|H:c0|H:a1 ff|" ARGS "|" TAIL,
     "'source' is not valid UTF-8"},
    {"spec_nil", ISO_LINK_FRONT_JOBS, "J:[3, null]", "'spec' must be a string"},
    {"ready_error_not_utf8", ISO_LINK_WORKER_JOBS, "H:93|J:20|J:1|H:a2 e2 82",
     "'error' is not valid UTF-8"},
    {"ready_rc_past_bound", ISO_LINK_WORKER_JOBS, "J:[20, 256, \"x\"]",
     "'rc' 256 is out"},
    {"ready_failed_without_error", ISO_LINK_WORKER_JOBS, "J:[20, 12, null]",
     "a failed start, and only one, has an error"},
    {"ready_started_with_error", ISO_LINK_WORKER_JOBS, "J:[20, 0, \"x\"]",
     "a failed start, and only one, has an error"},
    {"info_with_last_error", ISO_LINK_WORKER_JOBS, "J:[17, 1, 2, 3, null]",
     "(INFO): 4 fields, not 3"},
    /* raw values */
    {"args_not_array", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|J:{}|" TAIL,
     "'args' must be an array"},
    {"args_nil", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|H:c0|" TAIL,
     "'args' must be an array"},
    {"record_past_the_end", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|H:92 01",
     "record 1: array/map count larger than the message could hold"},
    {"args_truncated", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|H:91 da 00 10|" TAIL,
     "'args' truncated msgpack"},
    {"args_absurd_count", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|H:dd ff ff ff ff|" TAIL,
     "'args' array/map count larger than the message could hold"},
    {"op_args_not_array", ISO_LINK_WORKER_OPS, "J:[32, 1, 2, 3, 4, 5, 6]",
     "'args' must be an array"},
    {"perms_not_four", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|" ARGS
     "|J:1|J:2|J:3|J:[true, false]|H:c0|J:0|J:0",
     "'perms' must be nil or [read, write, env, net]"},
    {"perms_kind_number", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|" ARGS
     "|J:1|J:2|J:3|J:[true, false, true, 1]|H:c0|J:0|J:0",
     "'perms' holds a kind that is not false, true or an array"},
    {"perms_empty_name", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|" ARGS
     "|J:1|J:2|J:3|J:[[\"\"], false, true, false]|H:c0|J:0|J:0",
     "'perms' holds a name that is not 1 to 4096 bytes"},
    {"perms_name_nul", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|J:\"e\"|H:c0|" ARGS
     "|J:1|J:2|J:3|H:94 91 a2 61 00 c2 c2 c2|H:c0|J:0|J:0",
     "'perms' holds a name that is not"},
    /* the reply */
    {"reply_not_bin", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|J:{}|H:c0|J:0|J:0|J:0|J:0",
     "'reply' must be a bin (the encoded reply) or nil"},
    {"reply_not_map", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 01 90|H:c0|J:0|J:0|J:0|J:0",
     "'reply' must hold a msgpack map with an entry to come"},
    {"reply_empty", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 00|H:c0|J:0|J:0|J:0|J:0",
     "'reply' must hold a msgpack map with an entry to come"},
    {"reply_map_closed_empty", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 01 80|H:c0|J:0|J:0|J:0|J:0",
     "'reply' must hold a msgpack map with an entry to come"},
    {"reply_closed", ISO_LINK_WORKER_JOBS, /* its last entry is the front's */
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 03 81 c0 c0|H:c0|J:0|J:0|J:0|J:0",
     "'reply' holds bytes after its map's entries but the last"},
    {"reply_trailing", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 05 82 c0 c0 c0 c0|H:c0|J:0|J:0|"
     "J:0|J:0",
     "'reply' holds bytes after its map's entries but the last"},
    {"reply_truncated", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 03 82 a1 76|H:c0|J:0|J:0|J:0|J:0",
     "'reply' does not hold a msgpack map but its last entry"},
    {"reply_not_utf8", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 07 82 a1 76 a3 e0 80 "
     "80|H:c0|J:0|J:0|J:0|J:0",
     "'reply' holds a string that is not valid UTF-8"},
    {"reply_key_not_utf8", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 04 82 a1 ff "
     "c0|H:c0|J:0|J:0|J:0|J:0",
     "'reply' holds a string that is not valid UTF-8"},
    /* the rules between fields */
    {"call_without_export", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|J:\"m\"|H:c0|H:c0|" ARGS "|" TAIL,
     "a call names its module and its export"},
    {"call_without_module", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:2|H:c0|J:\"e\"|J:\"src\"|" ARGS "|" TAIL,
     "a call names its module and its export"},
    {"eval_with_export", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:1|J:\"m\"|J:\"e\"|H:c0|" ARGS "|" TAIL,
     "an eval has no export"},
    {"eval_with_nothing", ISO_LINK_FRONT_JOBS,
     "H:dc 00 10|" TASK_HEAD "|J:1|H:c0|H:c0|H:c0|" ARGS "|" TAIL,
     "an eval has a module or a source"},
    {"error_without_code", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:3|J:0|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "an error, and only an error, has a code"},
    {"fulfilled_with_code", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:2|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "an error, and only an error, has a code"},
    {"finished_before_started", ISO_LINK_WORKER_JOBS,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:5|J:4|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "the job finished before it started"},
    {"op_error_not_text", ISO_LINK_FRONT_OPS,
     "H:96|J:48|J:1|J:1|J:1|J:2|H:c4 01 ff",
     "an op error's result is its message"},
    /* the control link: what the front reads from a pool process's
     * watchdog, and what it sends there */
    {"halt_on_group_link", ISO_LINK_GROUP_CTL, "J:[64, 1, 0]",
     "a HALT record, which a pool process's control link does not carry"},
    {"wedged_on_front_link", ISO_LINK_FRONT_CTL, "J:[80, 1]",
     "a WEDGED record, which the front's control link does not carry"},
    {"alive_on_jobs_link", ISO_LINK_WORKER_JOBS, "J:[81]",
     "an ALIVE record, which a worker's jobs link"},
    {"done_on_group_link", ISO_LINK_GROUP_CTL,
     "H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2|H:c4 01 81|H:c0|J:0|J:0|J:0|J:0",
     "a DONE record, which a pool process's control link"},
    {"unknown_ctl_kind", ISO_LINK_GROUP_CTL, "J:[85]", "unknown kind 85"},
    {"code_stats_short", ISO_LINK_GROUP_CTL, "J:[84, 1, 2, 3]",
     "(CODE_STATS): 3 fields, not 9"},
    {"code_stats_tag_past_32_bits", ISO_LINK_GROUP_CTL,
     "J:[84, 1, 2, 3, 4, 5, 6, 7, 8, 4294967296]", "(CODE_STATS): 'tag'"},
    {"code_key_short", ISO_LINK_GROUP_CTL, "H:93|J:83|H:c40102|H:c401ff",
     "a code cache entry has a key of 37 bytes and a cache"},
    {"code_key_long", ISO_LINK_GROUP_CTL,
     "H:93|J:83|H:c4266d00000000000000000000000000000000000000"
     "000000000000000000000000000000000000|H:c401ff",
     "(CODE): 'key'"},
    {"code_empty", ISO_LINK_FRONT_CTL,
     "H:93|J:65|H:c4256d00000000000000000000000000000000000000"
     "0000000000000000000000000000000000|H:c400",
     "a code cache entry has a key of 37 bytes and a cache"},
    {"code_put_on_group_link", ISO_LINK_GROUP_CTL, "J:[65]", "CODE_PUT"},
    {"spares_short", ISO_LINK_GROUP_CTL, "J:[82, 1, 2]",
     "(SPARES): 2 fields, not 3"},
    {"recycled_reason_past_table", ISO_LINK_WORKER_JOBS, "J:[21, 6, 0]",
     "'reason' 6 is out"},
    {"recycled_how_past_table", ISO_LINK_WORKER_JOBS, "J:[21, 0, 2]",
     "'how' 2 is out"},
    {"alive_with_field", ISO_LINK_GROUP_CTL, "J:[81, 1]",
     "(ALIVE): 1 fields, not 0"},
    {"wedged_no_worker", ISO_LINK_GROUP_CTL, "J:[80]",
     "(WEDGED): 0 fields, not 1"},
    {"wedged_worker_negative", ISO_LINK_GROUP_CTL, "J:[80, -1]",
     "'worker' must be an unsigned integer"},
    {"wedged_worker_past_32_bits", ISO_LINK_GROUP_CTL, "J:[80, 4294967296]",
     "'worker' 4294967296 is out of its bounds"},
    {"wedged_worker_str", ISO_LINK_GROUP_CTL, "J:[80, \"0\"]",
     "'worker' must be an unsigned integer"},
    {"halt_deadline_float", ISO_LINK_FRONT_CTL, "J:[64, 1, 1.5]",
     "(HALT): 'deadline_ns' must be an unsigned integer"},
    {"alive_then_garbage", ISO_LINK_GROUP_CTL, "J:[81]|H:c1", "record 2"},
};

static void run_refusal(const void* row) {
  const refusal* r = row;
  iso_buf m = link_msg(r->spec);
  char err[256];
  iso_link_rec rec[4];
  int rc = read_all(r->chan, m.data, m.len, rec, 4, err, sizeof err);
  CHECK_EQ(rc, ISO_EPROTO);
  CHECK_CONTAINS(err, r->want);
  CHECK(iso_utf8_valid(err, strlen(err)));
  iso_buf_close(&m);
}

/* An op error's message that is not UTF-8; an op's result that is nil
 * (null) is a value, an empty one is none (undefined). Strings past their
 * bounds. */
static void t_op_error_message(void) {
  iso_buf m = link_msg("H:96|J:48|J:1|J:1|J:1|J:2|H:c4 01 80");
  char err[256];
  iso_link_rec rec;
  CHECK_EQ(
      read_all(ISO_LINK_FRONT_OPS, m.data, m.len, &rec, 1, err, sizeof err),
      ISO_EPROTO);
  CHECK_CONTAINS(err, "an op error's result is its message");
  iso_buf_close(&m);
  /* nil is a value (null); nothing is undefined, and not NULL */
  m = link_msg("H:96|J:48|J:1|J:1|J:1|J:0|H:c4 01 c0");
  CHECK_EQ(
      read_all(ISO_LINK_FRONT_OPS, m.data, m.len, &rec, 1, err, sizeof err), 1);
  CHECK(rec.u.op_result.result.len == 1);
  iso_buf_close(&m);
  m = link_msg("H:96|J:48|J:1|J:1|J:1|J:0|H:c4 00");
  CHECK_EQ(
      read_all(ISO_LINK_FRONT_OPS, m.data, m.len, &rec, 1, err, sizeof err), 1);
  CHECK(rec.u.op_result.result.len == 0 && rec.u.op_result.result.data != NULL);
  iso_buf_close(&m);
  /* a RELOAD spec of 4096 bytes is fine, of 4097 not */
  for (int n = ISO_LINK_MAX_NAME; n <= ISO_LINK_MAX_NAME + 1; n++) {
    m = link_msg("H:92 03 da");
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    iso_buf_append(&m, len, 2);
    append_n(&m, "a", n);
    int rc =
        read_all(ISO_LINK_FRONT_JOBS, m.data, m.len, &rec, 1, err, sizeof err);
    if (n == ISO_LINK_MAX_NAME) {
      CHECK_EQ(rc, 1);
    } else {
      CHECK_EQ(rc, ISO_EPROTO);
      CHECK_CONTAINS(err, "'spec' is longer than 4096 bytes");
    }
    iso_buf_close(&m);
  }
}

/* Raw values nest at most ISO_LINK_MAX_DEPTH deep, counting themselves. */
static void t_depth(void) {
  for (int depth = ISO_LINK_MAX_DEPTH; depth <= ISO_LINK_MAX_DEPTH + 1;
       depth++) {
    iso_buf m = link_msg("H:97|J:32|J:1|J:2|J:3|J:4|J:5");
    append_n(&m, "\x91", depth - 1);
    iso_buf_append(&m, "\x90", 1);
    char err[256];
    iso_link_rec rec;
    int rc =
        read_all(ISO_LINK_WORKER_OPS, m.data, m.len, &rec, 1, err, sizeof err);
    if (depth <= ISO_LINK_MAX_DEPTH) {
      CHECK_EQ(rc, 1);
    } else {
      CHECK_EQ(rc, ISO_EPROTO);
      CHECK_CONTAINS(err, "'args' nests deeper than 128 levels");
    }
    iso_buf_close(&m);
  }
}

/* A reply's open map counts as its first level: with the values in it,
 * at most ISO_LINK_MAX_DEPTH. */
static void t_reply_depth(void) {
  for (int depth = ISO_LINK_MAX_DEPTH; depth <= ISO_LINK_MAX_DEPTH + 1;
       depth++) {
    iso_buf m = link_msg("H:9d|J:16|J:1|J:1|J:1|J:0|J:1|J:2");
    /* {"a": [[...[]...]], <the stats to come>}: the map and depth - 1
     * arrays */
    uint8_t head[5] = {0xc4, (uint8_t)(depth + 2), 0x82, 0xa1, 'a'};
    iso_buf_append(&m, head, sizeof head);
    append_n(&m, "\x91", depth - 2);
    iso_buf_append(&m, "\x90\xc0\x00\x00\x00\x00", 6);
    char err[256];
    iso_link_rec rec;
    int rc =
        read_all(ISO_LINK_WORKER_JOBS, m.data, m.len, &rec, 1, err, sizeof err);
    if (depth <= ISO_LINK_MAX_DEPTH) {
      CHECK_EQ(rc, 1);
      CHECK_EQ(rec.u.done.reply.len, (size_t)depth + 2);
    } else {
      CHECK_EQ(rc, ISO_EPROTO);
      CHECK_CONTAINS(err,
                     "'reply' does not hold a msgpack map but its last "
                     "entry: nests deeper than 128 levels");
    }
    iso_buf_close(&m);
  }
}

/* Writing: text is made valid UTF-8; names are written as given; an
 * absent raw value that is not optional, an unknown kind or a record the
 * rules between fields refuse is refused and leaves the buffer as it was. */
static void t_put(void) {
  iso_buf m = link_msg(NULL);
  size_t len0 = m.len;
  iso_link_rec bad = {ISO_LINK_TASK,
                      .u.task = {.kind = ISO_JOB_EVAL, .source = S("1")}};
  CHECK_EQ(iso_link_put(&m, &bad), ISO_EINVAL); /* no args */
  bad.kind = (iso_link_kind)7;
  CHECK_EQ(iso_link_put(&m, &bad), ISO_EINVAL);
  iso_link_rec done = {ISO_LINK_DONE, .u.done = {.status = 1}};
  CHECK_EQ(iso_link_put(&m, &done), ISO_EINVAL); /* fulfilled, no reply */
  CHECK_EQ(m.len, len0);
  iso_link_rec ready = {ISO_LINK_READY,
                        .u.ready = {.rc = 1, .error = {"bad \xff text", 10}}};
  CHECK_EQ(iso_link_put(&m, &ready), 0);
  iso_link_rec r;
  char err[128];
  CHECK_EQ(
      read_all(ISO_LINK_WORKER_JOBS, m.data, m.len, &r, 1, err, sizeof err), 1);
  CHECK(str_eq(r.u.ready.error, S("bad \xef\xbf\xbd text")));
  iso_buf_close(&m);
}

/* Permission sets: written by iso_link_put_perms, carried by a TASK, read
 * by iso_link_get_perms into the same lists. */
static void t_perms(void) {
  iso_str reads[3] = {S("data"), S("cache/x"), S("é")};
  iso_str envs[1] = {S("HOME")};
  iso_str nets[1] = {S("[::1]:8080")};
  iso_perm_req want = {.present = 1,
                       .read = {ISO_PERM_ASK_LIST, 3, reads},
                       .write = {ISO_PERM_ASK_ALL},
                       .env = {ISO_PERM_ASK_LIST, 1, envs},
                       .net = {ISO_PERM_ASK_LIST, 1, nets}};
  iso_buf p;
  iso_buf_init(&p);
  CHECK_EQ(iso_link_put_perms(&p, &want), 0);
  iso_buf args = mp_of("[]");
  iso_link_rec t = {ISO_LINK_TASK, .u.task = {.kind = ISO_JOB_EVAL,
                                              .source = S("x"),
                                              .args = B(&args),
                                              .perms = B(&p)}};
  iso_buf m = link_msg(NULL);
  CHECK_EQ(iso_link_put(&m, &t), 0);
  iso_link_rec r;
  char err[128];
  CHECK_EQ(read_all(ISO_LINK_FRONT_JOBS, m.data, m.len, &r, 1, err, sizeof err),
           1);
  iso_perm_req got;
  iso_str items[8];
  CHECK_EQ(iso_link_get_perms(r.u.task.perms, &got, items, 8), 0);
  CHECK_EQ(got.present, 1);
  CHECK_EQ(got.read.ask, ISO_PERM_ASK_LIST);
  CHECK_EQ(got.read.n, 3);
  for (int i = 0; i < 3; i++) {
    CHECK(str_eq(got.read.items[i], reads[i]));
  }
  CHECK_EQ(got.write.ask, ISO_PERM_ASK_ALL);
  CHECK_EQ(got.env.ask, ISO_PERM_ASK_LIST);
  CHECK(str_eq(got.env.items[0], S("HOME")));
  CHECK_EQ(got.net.ask, ISO_PERM_ASK_LIST);
  CHECK(str_eq(got.net.items[0], S("[::1]:8080")));
  CHECK_EQ(iso_link_get_perms(r.u.task.perms, &got, items, 4), ISO_ETOOBIG);
  iso_perm_req none = {.present = 1};
  iso_buf_close(&p);
  iso_buf_init(&p);
  CHECK_EQ(iso_link_put_perms(&p, &none), 0);
  CHECK_EQ(iso_link_get_perms(B(&p), &got, items, 0), 0);
  CHECK(got.read.ask == ISO_PERM_ASK_NOTHING &&
        got.env.ask == ISO_PERM_ASK_NOTHING &&
        got.net.ask == ISO_PERM_ASK_NOTHING);
  iso_bytes junk = {(const uint8_t*)"\x93\xc3\xc3", 3};
  CHECK_EQ(iso_link_get_perms(junk, &got, items, 8), ISO_EPROTO);
  iso_buf_close(&p);
  iso_buf_close(&m);
  iso_buf_close(&args);
}

/* Whatever the bytes, the reader returns a record, the end or ISO_EPROTO:
 * every prefix of a message of every kind, and every one-byte change of
 * it (the fuzzer, fuzz_link_decode, goes further). */
static void t_any_bytes(void) {
  sample s[32];
  int n = make_samples(s);
  static const iso_link_chan chans[] = {
      ISO_LINK_FRONT_JOBS, ISO_LINK_WORKER_JOBS, ISO_LINK_WORKER_OPS,
      ISO_LINK_FRONT_OPS,  ISO_LINK_FRONT_CTL,   ISO_LINK_GROUP_CTL};
  for (int c = 0; c < 6; c++) {
    iso_buf m = link_msg(NULL);
    for (int i = 0; i < n; i++) {
      if (s[i].chan == chans[c]) {
        CHECK_EQ(iso_link_put(&m, &s[i].rec), 0);
      }
    }
    uint8_t* copy = malloc(m.len);
    char err[256];
    iso_link_rec rec[32];
    for (size_t cut = 0; cut <= m.len; cut++) {
      memcpy(copy, m.data, cut);
      int rc = read_all(chans[c], copy, cut, rec, 32, err, sizeof err);
      CHECK(rc >= 0 || rc == ISO_EPROTO);
    }
    for (size_t at = 0; at < m.len; at++) {
      for (int v = 0; v < 256; v += 37) {
        memcpy(copy, m.data, m.len);
        copy[at] = (uint8_t)v;
        int rc = read_all(chans[c], copy, m.len, rec, 32, err, sizeof err);
        CHECK(rc >= 0 || rc == ISO_EPROTO);
        if (rc == ISO_EPROTO) {
          CHECK(iso_utf8_valid(err, strlen(err)));
        }
      }
    }
    free(copy);
    iso_buf_close(&m);
  }
  free_samples();
}

/* Records over a real link: the header as the link's head, records sent
 * one by one with iso_link_send_rec, read back from the messages. */
typedef struct got {
  int recs;
  int bad;
} got;

static void on_msg(const uint8_t* d, size_t n, void* arg) {
  got* g = arg;
  iso_link_rd rd;
  iso_link_rec r;
  char err[128];
  if (iso_link_rd_init(&rd, ISO_LINK_WORKER_JOBS, d, n, err, sizeof err)) {
    g->bad++;
    return;
  }
  int rc;
  while ((rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    g->recs += r.kind == ISO_LINK_RELOADED && r.u.reloaded.n == 42;
  }
  g->bad += rc != 0;
}

static void t_over_a_link(void) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  int fds[2];
  CHECK_EQ(iso_link_socketpair(fds, NULL, 0), 0);
  iso_link_opts la = {.fd = fds[0], .head = head, .head_len = hl};
  iso_link_opts lb = la;
  lb.fd = fds[1];
  iso_link *a = NULL, *b = NULL;
  CHECK_EQ(iso_link_new(&la, &a, NULL, 0), 0);
  CHECK_EQ(iso_link_new(&lb, &b, NULL, 0), 0);
  iso_link_rec r = {ISO_LINK_RELOADED, .u.reloaded = {.n = 42}};
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(iso_link_send_rec(b, &r), 0);
  }
  got g = {0};
  int fd = iso_link_fd(a);
  int64_t end = now_ms() + 5000;
  while (g.recs < 100 && g.bad == 0 && now_ms() < end) {
    iso_link_drain(a, on_msg, &g);
    (void)fd;
    sleep_ms(1);
  }
  CHECK_EQ(g.recs, 100);
  CHECK_EQ(g.bad, 0);
  iso_link_free(b);
  iso_link_free(a);
}

/* What reading costs: a message of 256 call TASKs (the shape isopool-bench
 * sends), and of 256 DONEs with small replies. Printed, not checked. */
static void t_decode_cost(void) {
  sample s[32];
  make_samples(s);
  for (int k = 0; k < 2; k++) {
    const iso_link_rec* one = k == 0 ? &s[0].rec : &s[8].rec;
    iso_link_chan chan = k == 0 ? ISO_LINK_FRONT_JOBS : ISO_LINK_WORKER_JOBS;
    iso_buf m = link_msg(NULL);
    for (int i = 0; i < 256; i++) {
      CHECK_EQ(iso_link_put(&m, one), 0);
    }
    int rounds = 2000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int total = 0;
    for (int i = 0; i < rounds; i++) {
      iso_link_rd rd;
      iso_link_rec r;
      char err[128];
      iso_link_rd_init(&rd, chan, m.data, m.len, err, sizeof err);
      while (iso_link_rd_next(&rd, &r, err, sizeof err) == 1) {
        total++;
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ(total, 256 * rounds);
    double ns =
        ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / total;
    printf("  %s: %.0f ns a record (%zu bytes each)\n",
           k == 0 ? "TASK" : "DONE", ns, (m.len - 20) / 256);
    iso_buf_close(&m);
  }
  free_samples();
}

static const iso_test cases[] = {
    {"round_trip_every_kind", t_round_trip_every_kind},
    {"fields_read_back", t_fields_read_back},
    {"task_ahead", t_task_ahead},
    {"batch", t_batch},
    {"header", t_header},
    {"op_error_message", t_op_error_message},
    {"depth", t_depth},
    {"reply_depth", t_reply_depth},
    {"put", t_put},
    {"perms", t_perms},
    {"any_bytes", t_any_bytes},
    {"over_a_link", t_over_a_link},
    {"decode_cost", t_decode_cost},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_rows(argc, argv, k_refusals,
                       sizeof k_refusals / sizeof k_refusals[0],
                       sizeof k_refusals[0], run_refusal, cases);
}
