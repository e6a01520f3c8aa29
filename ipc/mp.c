/* mp.c: ipc/'s msgpack reader and writer (mp.h). */
#include "mp.h"

#include <string.h>

#include "iso_err.h"
#include "iso_utf8.h"

static inline uint16_t be16(const uint8_t* p) {
  return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t be32(const uint8_t* p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t be64(const uint8_t* p) {
  return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

/* Reads an n-byte big-endian length/number that must be present. */
#define NEED(n)                       \
  do {                                \
    if ((size_t)(r->end - p) < (n)) { \
      return ISO__MP_ETRUNC;          \
    }                                 \
  } while (0)

static int payload(iso__mp_rd* r,
                   const uint8_t* p,
                   iso__mp_obj* o,
                   iso__mp_type t,
                   uint64_t len) {
  if ((uint64_t)(r->end - p) < len) {
    return ISO__MP_ETRUNC;
  }
  o->type = t;
  o->data = p;
  o->len = (uint32_t)len;
  r->p = p + len;
  return 0;
}

static int container(iso__mp_rd* r,
                     const uint8_t* p,
                     iso__mp_obj* o,
                     iso__mp_type t,
                     uint64_t n) {
  uint64_t min_bytes = t == ISO__MP_MAP ? 2 * n : n;
  if (min_bytes > (uint64_t)(r->end - p)) {
    return ISO__MP_ECOUNT;
  }
  o->type = t;
  o->len = (uint32_t)n;
  r->p = p;
  return 0;
}

static int ext(iso__mp_rd* r, const uint8_t* p, iso__mp_obj* o, uint64_t len) {
  if (r->end == p) {
    return ISO__MP_ETRUNC;
  }
  o->ext = (int8_t)*p;
  return payload(r, p + 1, o, ISO__MP_EXT, len);
}

static void set_int(iso__mp_obj* o, int64_t v) {
  if (v >= 0) {
    o->type = ISO__MP_UINT;
    o->v.u = (uint64_t)v;
  } else {
    o->type = ISO__MP_INT;
    o->v.i = v;
  }
}

int iso__mp_read_slow(iso__mp_rd* r, iso__mp_obj* o) {
  const uint8_t* p = r->p;
  if (p >= r->end) {
    return ISO__MP_ETRUNC;
  }
  uint8_t c = *p++;
  if (c <= 0x7f) {
    o->type = ISO__MP_UINT;
    o->v.u = c;
    r->p = p;
    return 0;
  }
  if (c <= 0x8f) {
    return container(r, p, o, ISO__MP_MAP, c & 0x0f);
  }
  if (c <= 0x9f) {
    return container(r, p, o, ISO__MP_ARRAY, c & 0x0f);
  }
  if (c <= 0xbf) {
    return payload(r, p, o, ISO__MP_STR, c & 0x1f);
  }
  if (c >= 0xe0) {
    o->type = ISO__MP_INT;
    o->v.i = (int8_t)c;
    r->p = p;
    return 0;
  }
  switch (c) {
    case 0xc0:
      o->type = ISO__MP_NIL;
      break;
    case 0xc1:
      return ISO__MP_EBYTE;
    case 0xc2:
    case 0xc3:
      o->type = ISO__MP_BOOL;
      o->v.b = c == 0xc3;
      break;
    case 0xc4:
      NEED(1);
      return payload(r, p + 1, o, ISO__MP_BIN, p[0]);
    case 0xc5:
      NEED(2);
      return payload(r, p + 2, o, ISO__MP_BIN, be16(p));
    case 0xc6:
      NEED(4);
      return payload(r, p + 4, o, ISO__MP_BIN, be32(p));
    case 0xc7:
      NEED(1);
      return ext(r, p + 1, o, p[0]);
    case 0xc8:
      NEED(2);
      return ext(r, p + 2, o, be16(p));
    case 0xc9:
      NEED(4);
      return ext(r, p + 4, o, be32(p));
    case 0xca: {
      NEED(4);
      uint32_t bits = be32(p);
      float f;
      memcpy(&f, &bits, 4);
      o->type = ISO__MP_F32;
      o->v.f = f;
      p += 4;
      break;
    }
    case 0xcb: {
      NEED(8);
      uint64_t bits = be64(p);
      memcpy(&o->v.f, &bits, 8);
      o->type = ISO__MP_F64;
      p += 8;
      break;
    }
    case 0xcc:
      NEED(1);
      o->type = ISO__MP_UINT;
      o->v.u = p[0];
      p += 1;
      break;
    case 0xcd:
      NEED(2);
      o->type = ISO__MP_UINT;
      o->v.u = be16(p);
      p += 2;
      break;
    case 0xce:
      NEED(4);
      o->type = ISO__MP_UINT;
      o->v.u = be32(p);
      p += 4;
      break;
    case 0xcf:
      NEED(8);
      o->type = ISO__MP_UINT;
      o->v.u = be64(p);
      p += 8;
      break;
    case 0xd0:
      NEED(1);
      set_int(o, (int8_t)p[0]);
      p += 1;
      break;
    case 0xd1:
      NEED(2);
      set_int(o, (int16_t)be16(p));
      p += 2;
      break;
    case 0xd2:
      NEED(4);
      set_int(o, (int32_t)be32(p));
      p += 4;
      break;
    case 0xd3:
      NEED(8);
      set_int(o, (int64_t)be64(p));
      p += 8;
      break;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      return ext(r, p, o, 1u << (c - 0xd4));
    case 0xd9:
      NEED(1);
      return payload(r, p + 1, o, ISO__MP_STR, p[0]);
    case 0xda:
      NEED(2);
      return payload(r, p + 2, o, ISO__MP_STR, be16(p));
    case 0xdb:
      NEED(4);
      return payload(r, p + 4, o, ISO__MP_STR, be32(p));
    case 0xdc:
      NEED(2);
      return container(r, p + 2, o, ISO__MP_ARRAY, be16(p));
    case 0xdd:
      NEED(4);
      return container(r, p + 4, o, ISO__MP_ARRAY, be32(p));
    case 0xde:
      NEED(2);
      return container(r, p + 2, o, ISO__MP_MAP, be16(p));
    case 0xdf:
      NEED(4);
      return container(r, p + 4, o, ISO__MP_MAP, be32(p));
  }
  r->p = p;
  return 0;
}

/* Skips `pending` values without tracking depth: a counter of values still
 * to read is all it takes, and it can never exceed the bytes left. */
static int skip_flat(iso__mp_rd* r, uint64_t pending) {
  iso__mp_obj o;
  while (pending > 0) {
    int rc = iso__mp_read(r, &o);
    if (rc != 0) {
      return rc;
    }
    pending--;
    if (o.type == ISO__MP_ARRAY) {
      pending += o.len;
    } else if (o.type == ISO__MP_MAP) {
      pending += 2 * (uint64_t)o.len;
    }
    if (pending > (uint64_t)(r->end - r->p)) {
      return ISO__MP_ECOUNT;
    }
  }
  return 0;
}

int iso__mp_skip(iso__mp_rd* r, int depth, int max_depth, int* too_deep) {
  iso__mp_obj o;
  int rc = iso__mp_read(r, &o);
  if (rc != 0) {
    return rc;
  }
  if (o.type != ISO__MP_ARRAY && o.type != ISO__MP_MAP) {
    return 0;
  }
  uint64_t n = o.type == ISO__MP_MAP ? 2 * (uint64_t)o.len : o.len;
  if (depth > max_depth) {
    *too_deep = 1;
    return skip_flat(r, n);
  }
  for (uint64_t i = 0; i < n; i++) {
    rc = iso__mp_skip(r, depth + 1, max_depth, too_deep);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

int iso__mp_one(const uint8_t* p, size_t n, int max_depth) {
  iso__mp_rd r;
  int too_deep = 0;
  iso__mp_rd_init(&r, p, n);
  int rc = iso__mp_skip(&r, 1, max_depth, &too_deep);
  if (rc != 0) {
    return rc;
  }
  if (too_deep) {
    return 1;
  }
  return r.p == r.end ? 0 : 2;
}

const char* iso__mp_strerror(int rc) {
  switch (rc) {
    case ISO__MP_ETRUNC:
      return "truncated msgpack";
    case ISO__MP_EBYTE:
      return "invalid msgpack byte 0xc1";
    case ISO__MP_ECOUNT:
      return "array/map count larger than the message could hold";
    default:
      return "malformed msgpack";
  }
}

/* Writer. */

static int wr_cb(void* data, const char* buf, size_t len) {
  iso__mp_wr* w = data;
  if (w->err != 0) {
    return -1;
  }
  int rc = iso_buf_append(w->buf, buf, len);
  if (rc != 0) {
    w->err = rc;
    return -1;
  }
  return 0;
}

void iso__mp_wr_init(iso__mp_wr* w, iso_buf* out) {
  w->buf = out;
  w->err = 0;
  msgpack_packer_init(&w->pk, w, wr_cb);
}

void iso__mp_put_raw(iso__mp_wr* w, const void* p, size_t n) {
  wr_cb(w, p, n);
}

void iso__mp_put_str(iso__mp_wr* w, const char* s, size_t n) {
  if (n > UINT32_MAX) {
    w->err = w->err ? w->err : ISO_ETOOBIG;
    return;
  }
  msgpack_pack_str_with_body(&w->pk, s, n);
}

void iso__mp_put_cstr(iso__mp_wr* w, const char* s) {
  iso__mp_put_str(w, s, strlen(s));
}

void iso__mp_put_nil(iso__mp_wr* w) {
  msgpack_pack_nil(&w->pk);
}

void iso__mp_put_bool(iso__mp_wr* w, int b) {
  if (b) {
    msgpack_pack_true(&w->pk);
  } else {
    msgpack_pack_false(&w->pk);
  }
}

void iso__mp_put_int(iso__mp_wr* w, int64_t v) {
  msgpack_pack_int64(&w->pk, v);
}

void iso__mp_put_uint(iso__mp_wr* w, uint64_t v) {
  msgpack_pack_uint64(&w->pk, v);
}

void iso__mp_put_double(iso__mp_wr* w, double v) {
  msgpack_pack_double(&w->pk, v);
}

void iso__mp_put_bin(iso__mp_wr* w, const void* p, size_t n) {
  if (n > UINT32_MAX) {
    w->err = w->err ? w->err : ISO_ETOOBIG;
    return;
  }
  msgpack_pack_bin_with_body(&w->pk, p, n);
}

void iso__mp_put_array(iso__mp_wr* w, uint32_t n) {
  msgpack_pack_array(&w->pk, n);
}

void iso__mp_put_map(iso__mp_wr* w, uint32_t n) {
  msgpack_pack_map(&w->pk, n);
}

size_t iso__mp_container_header(uint8_t* hdr, int is_map, uint32_t n) {
  if (n <= 15) {
    hdr[0] = (uint8_t)((is_map ? 0x80 : 0x90) | n);
    return 1;
  }
  if (n <= 0xffff) {
    hdr[0] = is_map ? 0xde : 0xdc;
    hdr[1] = (uint8_t)(n >> 8);
    hdr[2] = (uint8_t)n;
    return 3;
  }
  hdr[0] = is_map ? 0xdf : 0xdd;
  hdr[1] = (uint8_t)(n >> 24);
  hdr[2] = (uint8_t)(n >> 16);
  hdr[3] = (uint8_t)(n >> 8);
  hdr[4] = (uint8_t)n;
  return 5;
}

int iso__mp_strings_utf8(const uint8_t* p, size_t n) {
  iso__mp_rd r;
  iso__mp_obj o;
  iso__mp_rd_init(&r, p, n);
  while (r.p < r.end) {
    if (iso__mp_read(&r, &o) != 0) {
      return 0;
    }
    if (o.type == ISO__MP_STR && !iso_utf8_valid(o.data, o.len)) {
      return 0;
    }
  }
  return 1;
}
