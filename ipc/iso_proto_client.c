/* iso_proto_client.c: the client's half of the job protocol codec
 * (iso_proto.h, docs/protocol.md): request encoding and reply decoding.
 * The client library (isopool_client) builds this half and iso_proto.c,
 * not the server's.
 *
 * A job is checked the way the server would check it before it is
 * encoded, so a client's mistake surfaces as ISO_EINVAL here rather than
 * as a bad_request reply. Replies come from the server and are read
 * leniently where that is safe (unknown fields skipped, unknown error
 * codes kept by name) and strictly where a result depends on it; a decoded
 * reply is copied into one block the result owns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_proto.h"
#include "iso_proto_private.h"
#include "iso_utf8.h"

static const uint8_t k_nil[1] = {0xc0};

/* ---- request encoding --------------------------------------------------- */

static int check_job(const iso_job* job, int in_batch) {
  if (job == NULL) {
    return ISO_EINVAL;
  }
  if (job->kind == ISO_JOB_PING) {
    /* a heartbeat: nothing but its id, and alone (the server refuses a
     * ping's other fields, and a ping in a batch). Its timeout_ms is not
     * sent (put_request), not refused: the client library gives every
     * job its deadline, and a ping is answered at once anyway */
    if (in_batch || job->source != NULL || job->module != NULL ||
        job->export_name != NULL || job->args != NULL || job->cpu_ms > 0 ||
        job->permissions != NULL) {
      return ISO_EINVAL;
    }
  } else if (job->kind == ISO_JOB_EVAL) {
    if ((job->source == NULL && job->module == NULL) ||
        job->export_name != NULL) {
      return ISO_EINVAL;
    }
  } else if (job->kind == ISO_JOB_CALL) {
    if (job->module == NULL) {
      return ISO_EINVAL;
    }
  } else {
    return ISO_EINVAL;
  }
  if (job->module != NULL &&
      (job->module[0] == 0 || strlen(job->module) > ISO_PROTO_MAX_MODULE ||
       !iso_utf8_valid(job->module, strlen(job->module)))) {
    return ISO_EINVAL;
  }
  if (job->export_name != NULL &&
      (job->export_name[0] == 0 ||
       strlen(job->export_name) > ISO_PROTO_MAX_EXPORT ||
       !iso_utf8_valid(job->export_name, strlen(job->export_name)))) {
    return ISO_EINVAL;
  }
  if (job->source != NULL &&
      !iso_utf8_valid(job->source, job->source_len ? job->source_len
                                                   : strlen(job->source))) {
    return ISO_EINVAL;
  }
  if (job->args != NULL) {
    uint8_t c = job->args_len > 0 ? job->args[0] : 0;
    int is_array = (c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd;
    if (!is_array ||
        iso_mp_one(job->args, job->args_len, ISO_PROTO_MAX_DEPTH - 1) != 0) {
      return ISO_EINVAL;
    }
  }
  if (job->id != NULL &&
      (iso_mp_one(job->id, job->id_len, ISO_PROTO_MAX_DEPTH - 1) != 0 ||
       !iso_mp_strings_utf8(job->id, job->id_len))) {
    return ISO_EINVAL;
  }
  if (job->permissions != NULL &&
      iso_proto_check_permissions(job->permissions, job->permissions_len, NULL,
                                  0) != 0) {
    return ISO_EINVAL;
  }
  return 0;
}

/* Writes one request map. With stamp, a timeout_ms goes out at full width
 * (0xcf and 8 bytes) and *stamp is its offset in the buffer (0: none), for
 * iso__proto_restamp. A ping sends no timeout_ms. */
static void put_request(iso_mp_wr* w,
                        const iso_job* job,
                        int with_v,
                        size_t* stamp) {
  int timeout = job->timeout_ms > 0 && job->kind != ISO_JOB_PING;
  uint32_t n = (with_v ? 1 : 0) + 1 + (job->id != NULL) +
               (job->source != NULL) + (job->module != NULL) +
               (job->export_name != NULL) + (job->args != NULL) + timeout +
               (job->cpu_ms > 0) + (job->permissions != NULL);
  iso_mp_put_map(w, n);
  if (with_v) {
    iso_mp_put_lit(w, "v");
    iso_mp_put_uint(w, ISO_PROTO_VERSION);
  }
  if (job->id != NULL) {
    iso_mp_put_lit(w, "id");
    iso_mp_put_raw(w, job->id, job->id_len);
  }
  iso_mp_put_lit(w, "kind");
  iso_mp_put_cstr(w, job->kind == ISO_JOB_EVAL   ? "eval"
                     : job->kind == ISO_JOB_CALL ? "call"
                                                 : "ping");
  if (job->source != NULL) {
    iso_mp_put_lit(w, "source");
    iso_mp_put_str(w, job->source,
                   job->source_len ? job->source_len : strlen(job->source));
  }
  if (job->module != NULL) {
    iso_mp_put_lit(w, "module");
    iso_mp_put_cstr(w, job->module);
  }
  if (job->export_name != NULL) {
    iso_mp_put_lit(w, "export");
    iso_mp_put_cstr(w, job->export_name);
  }
  if (job->args != NULL) {
    iso_mp_put_lit(w, "args");
    iso_mp_put_raw(w, job->args, job->args_len);
  }
  if (stamp != NULL) {
    *stamp = 0;
  }
  if (timeout) {
    iso_mp_put_lit(w, "timeout_ms");
    if (stamp != NULL) {
      uint8_t wide[9] = {0xcf};
      size_t at = w->buf->len;
      iso_mp_put_raw(w, wide, sizeof wide);
      if (w->err == 0) {
        *stamp = at;
        iso__proto_restamp(w->buf->data, at, (uint64_t)job->timeout_ms);
      }
    } else {
      iso_mp_put_int(w, job->timeout_ms);
    }
  }
  if (job->cpu_ms > 0) {
    iso_mp_put_lit(w, "cpu_ms");
    iso_mp_put_int(w, job->cpu_ms);
  }
  if (job->permissions != NULL) {
    iso_mp_put_lit(w, "permissions");
    iso_mp_put_raw(w, job->permissions, job->permissions_len);
  }
}

int iso_proto_encode_request(const iso_job* job, iso_buf* out) {
  int rc = check_job(job, 0);
  if (rc != 0) {
    return rc;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  put_request(&w, job, 1, NULL);
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

int iso_proto_encode_batch(const iso_job* jobs, size_t n, iso_buf* out) {
  return iso__proto_encode_stamped(jobs, n, 1, out, NULL);
}

void iso__proto_restamp(uint8_t* msg, size_t at, uint64_t ms) {
  msg[at] = 0xcf;
  for (int i = 0; i < 8; i++) {
    msg[at + 1 + i] = (uint8_t)(ms >> (56 - 8 * i));
  }
}

int iso__proto_encode_stamped(const iso_job* jobs,
                              size_t n,
                              int is_batch,
                              iso_buf* out,
                              size_t* stamps) {
  if (jobs == NULL || n == 0 || n > ISO_PROTO_MAX_BATCH ||
      (!is_batch && n != 1)) {
    return ISO_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    int rc = check_job(&jobs[i], is_batch);
    if (rc != 0) {
      return rc;
    }
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  if (is_batch) {
    iso_mp_put_map(&w, 2);
    iso_mp_put_lit(&w, "v");
    iso_mp_put_uint(&w, ISO_PROTO_VERSION);
    iso_mp_put_lit(&w, "batch");
    iso_mp_put_array(&w, n);
  }
  for (size_t i = 0; i < n; i++) {
    put_request(&w, &jobs[i], !is_batch, stamps ? &stamps[i] : NULL);
  }
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

/* ---- reply decoding ----------------------------------------------------- */

/* The parts of one reply, as views into the message, before copying. */
typedef struct rview {
  iso_status status;
  iso_bytes id, value;
  iso_bytes name, message, stack, code; /* str payloads */
  iso_bytes logs;                       /* raw logs array */
  uint32_t nlogs;
  size_t log_bytes; /* sum of log text lengths */
  iso_stats stats;
} rview;

static int key_is(const iso_mp_obj* k, const char* name) {
  size_t n = strlen(name);
  return k->type == ISO_MP_STR && k->len == n && memcmp(k->data, name, n) == 0;
}

static int skip_any(iso_mp_rd* r) {
  int too_deep = 0; /* replies come from the server: depth is not policed */
  return iso_mp_skip(r, 2, ISO_PROTO_MAX_DEPTH, &too_deep) ? ISO_EPROTO : 0;
}

static int read_int(iso_mp_rd* r, int64_t* out) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type == ISO_MP_INT) {
    *out = o.v.i;
  } else if (o.type == ISO_MP_UINT && o.v.u <= (uint64_t)INT64_MAX) {
    *out = (int64_t)o.v.u;
  } else {
    return ISO_EPROTO;
  }
  return 0;
}

static int read_str(iso_mp_rd* r, iso_bytes* out) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_STR) {
    return ISO_EPROTO;
  }
  out->data = o.data;
  out->len = o.len;
  return 0;
}

static int read_error_map(iso_mp_rd* r, rview* v) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    iso_bytes* dst = key_is(&k, "name")      ? &v->name
                     : key_is(&k, "message") ? &v->message
                     : key_is(&k, "stack")   ? &v->stack
                     : key_is(&k, "code")    ? &v->code
                                             : NULL;
    int rc = dst ? read_str(r, dst) : skip_any(r);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

static int read_logs(iso_mp_rd* r, rview* v) {
  const uint8_t* start = r->p;
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_ARRAY) {
    return ISO_EPROTO;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj pair;
    iso_bytes level, text;
    if (iso_mp_read(r, &pair) != 0 || pair.type != ISO_MP_ARRAY ||
        pair.len != 2 || read_str(r, &level) != 0 || read_str(r, &text) != 0) {
      return ISO_EPROTO;
    }
    v->log_bytes += text.len + 1;
  }
  v->logs.data = start;
  v->logs.len = (size_t)(r->p - start);
  v->nlogs = o.len;
  return 0;
}

static int read_stats(iso_mp_rd* r, rview* v) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    if (key_is(&k, "limit")) {
      /* a limit this library does not know reads as none */
      iso_mp_obj l;
      if (iso_mp_read(r, &l) != 0) {
        return ISO_EPROTO;
      }
      v->stats.limit = ISO_LIMIT_NONE;
#define ISO_LIMIT_KEY(name, str)                 \
  if (l.type == ISO_MP_STR && key_is(&l, str)) { \
    v->stats.limit = ISO_LIMIT_##name;           \
  }
      ISO_LIMIT_TABLE(ISO_LIMIT_KEY)
#undef ISO_LIMIT_KEY
      if (l.type != ISO_MP_STR && l.type != ISO_MP_NIL) {
        return ISO_EPROTO;
      }
      continue;
    }
    int64_t* dst = key_is(&k, "worker")       ? &v->stats.worker
                   : key_is(&k, "queue_us")   ? &v->stats.queue_us
                   : key_is(&k, "run_us")     ? &v->stats.run_us
                   : key_is(&k, "cpu_us")     ? &v->stats.cpu_us
                   : key_is(&k, "wall_us")    ? &v->stats.wall_us
                   : key_is(&k, "heap_bytes") ? &v->stats.heap_bytes
                   : key_is(&k, "ops")        ? &v->stats.ops
                                              : NULL;
    int rc = dst ? read_int(r, dst) : skip_any(r);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

/* Reads one reply map into views. */
static int read_reply(iso_mp_rd* r, rview* v) {
  memset(v, 0, sizeof *v);
  v->stats.worker = -1;
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  int have_v = 0, have_error = 0;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    int rc = 0;
    const uint8_t* at = r->p;
    if (key_is(&k, "v")) {
      int64_t ver;
      rc = read_int(r, &ver);
      if (rc == 0 && ver != ISO_PROTO_VERSION) {
        rc = ISO_EPROTO;
      }
      have_v = 1;
    } else if (key_is(&k, "id") || key_is(&k, "value")) {
      rc = skip_any(r);
      iso_bytes* dst = key_is(&k, "id") ? &v->id : &v->value;
      dst->data = at;
      dst->len = (size_t)(r->p - at);
    } else if (key_is(&k, "status")) {
      iso_bytes s;
      rc = read_str(r, &s);
      if (rc == 0) {
        if (s.len == 9 && memcmp(s.data, "fulfilled", 9) == 0) {
          v->status = ISO_STATUS_FULFILLED;
        } else if (s.len == 8 && memcmp(s.data, "rejected", 8) == 0) {
          v->status = ISO_STATUS_REJECTED;
        } else if (s.len == 5 && memcmp(s.data, "error", 5) == 0) {
          v->status = ISO_STATUS_ERROR;
        } else {
          rc = ISO_EPROTO;
        }
      }
    } else if (key_is(&k, "error")) {
      rc = read_error_map(r, v);
      have_error = 1;
    } else if (key_is(&k, "logs")) {
      rc = read_logs(r, v);
    } else if (key_is(&k, "stats")) {
      rc = read_stats(r, v);
    } else {
      rc = skip_any(r);
    }
    if (rc != 0) {
      return rc;
    }
  }
  if (!have_v || v->status == ISO_STATUS_NONE ||
      (v->status != ISO_STATUS_FULFILLED && !have_error)) {
    return ISO_EPROTO;
  }
  return 0;
}

static char* copy_str(char** at, iso_bytes s) {
  char* dst = *at;
  if (s.len > 0) {
    memcpy(dst, s.data, s.len);
  }
  dst[s.len] = 0;
  *at += s.len + 1;
  return dst;
}

/* Copies a view into an owned result (one allocation). The result
 * carries only what its status does (iso_proto.h: name and stack when
 * rejected, message when rejected or error): an `error` map beside a
 * fulfilled status is ignored, whatever order the keys came in. */
static int make_result(const rview* given, iso_result* out) {
  memset(out, 0, sizeof *out);
  rview kept = *given;
  const rview* v = &kept;
  if (kept.status != ISO_STATUS_REJECTED) {
    kept.name = (iso_bytes){NULL, 0};
    kept.stack = (iso_bytes){NULL, 0};
  }
  if (kept.status != ISO_STATUS_REJECTED && kept.status != ISO_STATUS_ERROR) {
    kept.message = (iso_bytes){NULL, 0};
  }
  iso_bytes id = v->id;
  if (id.len == 0) {
    id.data = k_nil;
    id.len = 1;
  }
  iso_bytes value = v->value;
  if (v->status == ISO_STATUS_FULFILLED && value.len == 0) {
    value.data = k_nil;
    value.len = 1;
  }
  size_t size = v->nlogs * sizeof(iso_log) + id.len + value.len + v->name.len +
                v->message.len + v->stack.len + v->code.len + 4 + v->log_bytes;
  char* mem = malloc(size);
  if (mem == NULL) {
    return ISO_ENOMEM;
  }
  iso_log* logs = (iso_log*)mem;
  char* at = mem + v->nlogs * sizeof(iso_log);
  memcpy(at, id.data, id.len);
  out->id = (const uint8_t*)at;
  out->id_len = id.len;
  at += id.len;
  if (value.len > 0) {
    memcpy(at, value.data, value.len);
    out->value = (const uint8_t*)at;
    out->value_len = value.len;
    at += value.len;
  }
  out->name = copy_str(&at, v->name);
  out->message = copy_str(&at, v->message);
  out->stack = copy_str(&at, v->stack);
  out->code_name = copy_str(&at, v->code);
  if (v->status == ISO_STATUS_ERROR) {
    out->code = iso__proto_code_from_name(v->code.data, v->code.len);
  }
  iso_mp_rd r = {NULL, NULL};
  iso_mp_obj o;
  if (v->nlogs > 0) {
    /* only then: a reply without logs has logs.data NULL, and NULL + 0 is
     * undefined */
    iso_mp_rd_init(&r, v->logs.data, v->logs.len);
    iso_mp_read(&r, &o); /* the array header, validated by read_logs */
  }
  for (uint32_t i = 0; i < v->nlogs; i++) {
    iso_bytes level = {k_nil, 0}, text = {k_nil, 0};
    iso_mp_read(&r, &o);
    read_str(&r, &level);
    read_str(&r, &text);
    if (!iso__proto_level_from_name(level.data, level.len, &logs[i].level)) {
      logs[i].level = ISO_LOG_LOG;
    }
    logs[i].text = copy_str(&at, text);
    logs[i].len = text.len;
  }
  out->status = v->status;
  out->logs = v->nlogs ? logs : NULL;
  out->nlogs = v->nlogs;
  out->stats = v->stats;
  out->mem_ = mem;
  return 0;
}

void iso_result_close(iso_result* r) {
  if (r == NULL) {
    return;
  }
  free(r->mem_);
  memset(r, 0, sizeof *r);
}

int iso_proto_decode_reply(const uint8_t* buf, size_t len, iso_result* out) {
  memset(out, 0, sizeof *out);
  if (buf == NULL) {
    return ISO_EPROTO;
  }
  iso_mp_rd r;
  iso_mp_rd_init(&r, buf, len);
  rview v;
  int rc = read_reply(&r, &v);
  if (rc == 0 && r.p != r.end) {
    rc = ISO_EPROTO;
  }
  if (rc != 0) {
    return rc;
  }
  return make_result(&v, out);
}

/* Finds the `batch` array of a batch reply: 1 and *r positioned at its
 * first element with *count set; 0 if there is no `batch` field; <0 if the
 * envelope is malformed. */
static int find_batch(const uint8_t* buf,
                      size_t len,
                      iso_mp_rd* r,
                      uint32_t* count) {
  iso_mp_obj o;
  iso_mp_rd_init(r, buf, len);
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  int found = 0, have_v = 0;
  iso_mp_rd at = *r;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    if (key_is(&k, "batch")) {
      at = *r;
      found = 1;
    } else if (key_is(&k, "v")) {
      int64_t ver;
      iso_mp_rd vr = *r;
      if (read_int(&vr, &ver) != 0 || ver != ISO_PROTO_VERSION) {
        return ISO_EPROTO;
      }
      have_v = 1;
    }
    if (skip_any(r) != 0) {
      return ISO_EPROTO;
    }
  }
  if (r->p != r->end) {
    return ISO_EPROTO;
  }
  if (!found) {
    return 0;
  }
  if (!have_v || iso_mp_read(&at, &o) != 0 || o.type != ISO_MP_ARRAY) {
    return ISO_EPROTO;
  }
  *r = at;
  *count = o.len;
  return 1;
}

int iso_proto_decode_batch_reply(const uint8_t* buf,
                                 size_t len,
                                 iso_result* out,
                                 size_t n) {
  for (size_t i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
  }
  if (buf == NULL || n == 0) {
    return ISO_EPROTO;
  }
  iso_mp_rd r;
  uint32_t count = 0;
  int rc = find_batch(buf, len, &r, &count);
  if (rc < 0) {
    return rc;
  }
  size_t done = 0;
  rview v;
  if (rc == 0) {
    /* A single reply refusing the whole batch. */
    rc = iso_proto_decode_reply(buf, len, &out[0]);
    if (rc == 0 && out[0].status != ISO_STATUS_ERROR) {
      rc = ISO_EPROTO;
    }
    if (rc == 0) {
      iso_mp_rd_init(&r, buf, len);
      rc = read_reply(&r, &v);
    }
    for (done = 1; rc == 0 && done < n; done++) {
      rc = make_result(&v, &out[done]);
    }
  } else if (count != n) {
    rc = ISO_EPROTO;
  } else {
    for (rc = 0; rc == 0 && done < n; done++) {
      rc = read_reply(&r, &v);
      if (rc == 0) {
        rc = make_result(&v, &out[done]);
      }
    }
  }
  if (rc != 0) {
    for (size_t i = 0; i < n; i++) {
      iso_result_close(&out[i]);
    }
  }
  return rc;
}
