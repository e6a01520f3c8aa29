/* fuzz_link_decode.c: the link's record decoder, iso_link_rd_init and
 * iso_link_rd_next: what the front runs on every message a pool process
 * sends (docs/link.md, "The trust rule").
 *
 * Input: one byte of mode, then a message. The mode's low three bits pick
 * the channel (which records the reader accepts; 6 and 7 are 1 and 2
 * again); bit 3 puts the link header in front of the rest, so most inputs
 * reach the records (the header holds a layout hash the seeds cannot
 * know), the others test the header itself.
 *
 * For any input: each call returns as documented (0 or ISO_EPROTO from
 * init; 1, 0 or ISO_EPROTO from next) with a NUL-terminated UTF-8 message
 * on a refusal; every record handed out is of the reader's channel and
 * keeps the decoder's promises: numbers within their bounds, strings and
 * raw values inside the input, strings valid UTF-8 (names without NUL)
 * and within their bounds, raw values exactly one msgpack value of their
 * type, a reply a map open for its last entry (closed with one, one map)
 * whose strings are all UTF-8 (nil exactly for a DONE without status), perms
 * readable by iso_link_get_perms, the rules between fields. Round trip: the
 * records re-encoded (iso_link_put) make a message that decodes to as many
 * records, which re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "iso_link.h"

static const uint8_t* g_in;
static size_t g_len;

static void check_str(iso_str s, size_t max, int nil_ok, int name) {
  if (s.ptr == NULL) {
    FUZZ_CHECK(nil_ok && s.len == 0);
    return;
  }
  FUZZ_CHECK(fuzz_inside(s.ptr, s.len, g_in, g_len));
  FUZZ_CHECK(s.len <= max && iso_utf8_valid(s.ptr, s.len));
  FUZZ_CHECK(!name || memchr(s.ptr, 0, s.len) == NULL);
}

/* One msgpack value of type t (ISO_MP_NIL: any) inside the input. */
static void check_raw(iso_bytes b, int t) {
  FUZZ_CHECK(b.data != NULL && fuzz_inside(b.data, b.len, g_in, g_len));
  FUZZ_CHECK(fuzz_one_value(b.data, b.len));
  FUZZ_CHECK(iso_mp_one(b.data, b.len, ISO_LINK_MAX_DEPTH) == 0);
  if (t != ISO_MP_NIL) {
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, b.data, b.len);
    FUZZ_CHECK(iso_mp_read(&r, &o) == 0 && (int)o.type == t);
  }
}

/* A reply: a map open for its last entry (the stats the front adds):
 * closed with one more entry, it is one map of UTF-8 strings. */
static void check_open_map(iso_bytes b) {
  FUZZ_CHECK(b.data != NULL && fuzz_inside(b.data, b.len, g_in, g_len));
  uint8_t* closed = malloc(b.len + 2);
  FUZZ_CHECK(closed != NULL);
  memcpy(closed, b.data, b.len);
  closed[b.len] = 0xc0; /* nil: nil */
  closed[b.len + 1] = 0xc0;
  iso_bytes c = {closed, b.len + 2};
  FUZZ_CHECK(fuzz_one_value(c.data, c.len));
  FUZZ_CHECK(iso_mp_one(c.data, c.len, ISO_LINK_MAX_DEPTH) == 0);
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, c.data, c.len);
  FUZZ_CHECK(iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_MAP);
  FUZZ_CHECK(fuzz_strings_utf8(c.data, c.len));
  free(closed);
}

static void check_perms(iso_bytes p) {
  if (p.data == NULL) {
    return;
  }
  check_raw(p, ISO_MP_ARRAY);
  static iso_str items[ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES];
  iso_perm_req req;
  FUZZ_CHECK(
      iso_link_get_perms(p, &req, items,
                         ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES) == 0);
  const iso_perm_list* k[ISO_PERM_REQ_KINDS] = {&req.read, &req.write, &req.env,
                                                &req.net};
  for (int i = 0; i < ISO_PERM_REQ_KINDS; i++) {
    FUZZ_CHECK(k[i]->n <= ISO_LINK_MAX_PERM_ENTRIES);
    for (uint32_t j = 0; k[i]->ask == ISO_PERM_ASK_LIST && j < k[i]->n; j++) {
      FUZZ_CHECK(k[i]->items[j].len >= 1);
      check_str(k[i]->items[j], ISO_LINK_MAX_PERM_ENTRY, 0, 1);
    }
  }
}

static void check_rec(const iso_link_rec* r, iso_link_chan chan) {
  static const iso_link_chan chan_of[256] = {
#define CHAN_OF(e, v, c) [v] = ISO_LINK_##c,
      ISO_LINK_KIND_TABLE(CHAN_OF)
#undef CHAN_OF
  };
  FUZZ_CHECK(iso_link_kind_name(r->kind) != NULL);
  FUZZ_CHECK(chan_of[r->kind] == chan);
  switch (r->kind) {
    case ISO_LINK_TASK: {
      const iso_link_task* t = &r->u.task;
      FUZZ_CHECK(t->kind == ISO_JOB_EVAL || t->kind == ISO_JOB_CALL);
      check_str(t->module, ISO_LINK_MAX_NAME, 1, 1);
      check_str(t->export_name, ISO_PROTO_MAX_EXPORT, 1, 1);
      check_str(t->source, UINT32_MAX, 1, 0);
      if (t->kind == ISO_JOB_CALL) {
        FUZZ_CHECK(t->module.ptr != NULL && t->export_name.ptr != NULL);
      } else {
        FUZZ_CHECK(t->export_name.ptr == NULL);
        FUZZ_CHECK(t->module.ptr != NULL || t->source.ptr != NULL);
      }
      check_raw(t->args, ISO_MP_ARRAY);
      check_perms(t->perms);
      if (t->id.data != NULL) {
        check_raw(t->id, ISO_MP_NIL);
      }
      break;
    }
    case ISO_LINK_RELOAD:
      FUZZ_CHECK(r->u.reload.spec.ptr != NULL);
      check_str(r->u.reload.spec, ISO_LINK_MAX_NAME, 0, 1);
      break;
    case ISO_LINK_STOP:
      FUZZ_CHECK(r->u.stop.grace_ms <= ISO_LINK_MAX_GRACE_MS);
      break;
    case ISO_LINK_DONE: {
      const iso_link_done* d = &r->u.done;
      FUZZ_CHECK(d->status >= ISO_STATUS_NONE && d->status <= ISO_STATUS_ERROR);
      FUZZ_CHECK((d->status == ISO_STATUS_ERROR) ==
                 (d->code != ISO_CODE_UNKNOWN));
      FUZZ_CHECK(d->code == ISO_CODE_UNKNOWN ||
                 (iso_proto_code_where(d->code) & ISO_CODE_JOB) != 0);
      FUZZ_CHECK(d->finished_ns >= d->started_ns);
      FUZZ_CHECK((d->status == ISO_STATUS_NONE) == (d->reply.data == NULL));
      if (d->reply.data != NULL) {
        check_open_map(d->reply);
      }
      check_str(d->note, ISO_LINK_MAX_TEXT, 1, 0);
      break;
    }
    case ISO_LINK_READY:
      FUZZ_CHECK(r->u.ready.rc <= ISO_LINK_MAX_RC);
      FUZZ_CHECK((r->u.ready.rc == 0) == (r->u.ready.error.ptr == NULL));
      check_str(r->u.ready.error, ISO_LINK_MAX_TEXT, 1, 0);
      break;
    case ISO_LINK_STATE:
      FUZZ_CHECK(iso_link_wstate_name(r->u.state.state) != NULL);
      break;
    case ISO_LINK_RECYCLED:
      FUZZ_CHECK(iso_link_reason_name(r->u.recycled.reason) != NULL);
      FUZZ_CHECK(r->u.recycled.how == ISO_LINK_HOW_SPARE ||
                 r->u.recycled.how == ISO_LINK_HOW_COLD);
      break;
    case ISO_LINK_OP:
      check_raw(r->u.op.args, ISO_MP_ARRAY);
      break;
    case ISO_LINK_OP_RESULT: {
      const iso_link_op_result* o = &r->u.op_result;
      FUZZ_CHECK(o->err <= ISO_LINK_MAX_OP_ERR);
      FUZZ_CHECK(o->result.data != NULL &&
                 fuzz_inside(o->result.data, o->result.len, g_in, g_len));
      if (o->err != 0) {
        FUZZ_CHECK(o->result.len <= ISO_LINK_MAX_TEXT &&
                   iso_utf8_valid(o->result.data, o->result.len));
      } else if (o->result.len > 0) {
        check_raw(o->result, ISO_MP_NIL);
      }
      break;
    }
    default: /* CANCEL, RECYCLE, INFO, RELOADED, HALT, WEDGED, ALIVE:
                numbers only */
      break;
  }
}

/* Decodes msg from chan, re-encoding each record into out (after the
 * header). Returns the number of records, or -1 if refused. */
static int decode(iso_link_chan chan,
                  const uint8_t* msg,
                  size_t len,
                  int check,
                  iso_buf* out) {
  iso_link_rd rd;
  char err[200];
  err[0] = 0;
  int rc = iso_link_rd_init(&rd, chan, msg, len, err, sizeof err);
  FUZZ_CHECK(rc == 0 || rc == ISO_EPROTO);
  if (rc != 0) {
    FUZZ_CHECK(err[0] != 0 && fuzz_text_ok(err, sizeof err));
    return -1;
  }
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_buf_append(out, head, hl);
  int n = 0;
  for (;;) {
    iso_link_rec r;
    err[0] = 0;
    rc = iso_link_rd_next(&rd, &r, err, sizeof err);
    FUZZ_CHECK(rc == 1 || rc == 0 || rc == ISO_EPROTO);
    if (rc == ISO_EPROTO) {
      FUZZ_CHECK(err[0] != 0 && fuzz_text_ok(err, sizeof err));
      return n;
    }
    if (rc == 0) {
      return n;
    }
    if (check) {
      check_rec(&r, chan);
    }
    int put = iso_link_put(out, &r);
    FUZZ_CHECK(put == 0 || put == ISO_ENOMEM);
    if (put != 0) {
      return -2;
    }
    n++;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  iso_link_chan chan = (iso_link_chan)((data[0] & 7) % ISO_LINK_CHAN_LAST + 1);
  iso_buf in;
  iso_buf_init(&in);
  if (data[0] & 8) {
    size_t hl;
    const uint8_t* head = iso_link_head(&hl);
    iso_buf_append(&in, head, hl);
  }
  iso_buf_append(&in, data + 1, size - 1);
  g_in = in.data;
  g_len = in.len;

  iso_buf enc1, enc2;
  iso_buf_init(&enc1);
  iso_buf_init(&enc2);
  int n1 = decode(chan, in.data, in.len, 1, &enc1);
  if (n1 >= 0) {
    /* what was read, written again, reads back the same */
    g_in = enc1.data;
    g_len = enc1.len;
    int n2 = decode(chan, enc1.data, enc1.len, 1, &enc2);
    if (n2 != -2) {
      FUZZ_CHECK(n2 == n1);
      FUZZ_CHECK(enc2.len == enc1.len &&
                 memcmp(enc1.data, enc2.data, enc1.len) == 0);
    }
  }
  iso_buf_close(&enc1);
  iso_buf_close(&enc2);
  iso_buf_close(&in);
  return 0;
}
