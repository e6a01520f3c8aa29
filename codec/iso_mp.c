/* iso_mp.c: the msgpack reader and writer (iso_mp.h). */
#include "iso_mp.h"

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
      return ISO_MP_ETRUNC;           \
    }                                 \
  } while (0)

static int payload(iso_mp_rd* r,
                   const uint8_t* p,
                   iso_mp_obj* o,
                   iso_mp_type t,
                   uint64_t len) {
  if ((uint64_t)(r->end - p) < len) {
    return ISO_MP_ETRUNC;
  }
  o->type = t;
  o->data = p;
  o->len = (uint32_t)len;
  r->p = p + len;
  return 0;
}

static int container(iso_mp_rd* r,
                     const uint8_t* p,
                     iso_mp_obj* o,
                     iso_mp_type t,
                     uint64_t n) {
  uint64_t min_bytes = t == ISO_MP_MAP ? 2 * n : n;
  if (min_bytes > (uint64_t)(r->end - p)) {
    return ISO_MP_ECOUNT;
  }
  o->type = t;
  o->len = (uint32_t)n;
  r->p = p;
  return 0;
}

static int ext(iso_mp_rd* r, const uint8_t* p, iso_mp_obj* o, uint64_t len) {
  if (r->end == p) {
    return ISO_MP_ETRUNC;
  }
  o->ext = (int8_t)*p;
  return payload(r, p + 1, o, ISO_MP_EXT, len);
}

static void set_int(iso_mp_obj* o, int64_t v) {
  if (v >= 0) {
    o->type = ISO_MP_UINT;
    o->v.u = (uint64_t)v;
  } else {
    o->type = ISO_MP_INT;
    o->v.i = v;
  }
}

int iso_mp_read_slow(iso_mp_rd* r, iso_mp_obj* o) {
  const uint8_t* p = r->p;
  if (p >= r->end) {
    return ISO_MP_ETRUNC;
  }
  uint8_t c = *p++;
  if (c <= 0x7f) {
    o->type = ISO_MP_UINT;
    o->v.u = c;
    r->p = p;
    return 0;
  }
  if (c <= 0x8f) {
    return container(r, p, o, ISO_MP_MAP, c & 0x0f);
  }
  if (c <= 0x9f) {
    return container(r, p, o, ISO_MP_ARRAY, c & 0x0f);
  }
  if (c <= 0xbf) {
    return payload(r, p, o, ISO_MP_STR, c & 0x1f);
  }
  if (c >= 0xe0) {
    o->type = ISO_MP_INT;
    o->v.i = (int8_t)c;
    r->p = p;
    return 0;
  }
  switch (c) {
    case 0xc0:
      o->type = ISO_MP_NIL;
      break;
    case 0xc1:
      return ISO_MP_EBYTE;
    case 0xc2:
    case 0xc3:
      o->type = ISO_MP_BOOL;
      o->v.b = c == 0xc3;
      break;
    case 0xc4:
      NEED(1);
      return payload(r, p + 1, o, ISO_MP_BIN, p[0]);
    case 0xc5:
      NEED(2);
      return payload(r, p + 2, o, ISO_MP_BIN, be16(p));
    case 0xc6:
      NEED(4);
      return payload(r, p + 4, o, ISO_MP_BIN, be32(p));
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
      o->type = ISO_MP_F32;
      o->v.f = f;
      p += 4;
      break;
    }
    case 0xcb: {
      NEED(8);
      uint64_t bits = be64(p);
      memcpy(&o->v.f, &bits, 8);
      o->type = ISO_MP_F64;
      p += 8;
      break;
    }
    case 0xcc:
      NEED(1);
      o->type = ISO_MP_UINT;
      o->v.u = p[0];
      p += 1;
      break;
    case 0xcd:
      NEED(2);
      o->type = ISO_MP_UINT;
      o->v.u = be16(p);
      p += 2;
      break;
    case 0xce:
      NEED(4);
      o->type = ISO_MP_UINT;
      o->v.u = be32(p);
      p += 4;
      break;
    case 0xcf:
      NEED(8);
      o->type = ISO_MP_UINT;
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
      return payload(r, p + 1, o, ISO_MP_STR, p[0]);
    case 0xda:
      NEED(2);
      return payload(r, p + 2, o, ISO_MP_STR, be16(p));
    case 0xdb:
      NEED(4);
      return payload(r, p + 4, o, ISO_MP_STR, be32(p));
    case 0xdc:
      NEED(2);
      return container(r, p + 2, o, ISO_MP_ARRAY, be16(p));
    case 0xdd:
      NEED(4);
      return container(r, p + 4, o, ISO_MP_ARRAY, be32(p));
    case 0xde:
      NEED(2);
      return container(r, p + 2, o, ISO_MP_MAP, be16(p));
    case 0xdf:
      NEED(4);
      return container(r, p + 4, o, ISO_MP_MAP, be32(p));
  }
  r->p = p;
  return 0;
}

/* Skips `pending` values without tracking depth: a counter of values still
 * to read is all it takes, and it can never exceed the bytes left. */
static int skip_flat(iso_mp_rd* r, uint64_t pending) {
  iso_mp_obj o;
  while (pending > 0) {
    int rc = iso_mp_read(r, &o);
    if (rc != 0) {
      return rc;
    }
    pending--;
    if (o.type == ISO_MP_ARRAY) {
      pending += o.len;
    } else if (o.type == ISO_MP_MAP) {
      pending += 2 * (uint64_t)o.len;
    }
    if (pending > (uint64_t)(r->end - r->p)) {
      return ISO_MP_ECOUNT;
    }
  }
  return 0;
}

int iso_mp_skip(iso_mp_rd* r, int depth, int max_depth, int* too_deep) {
  iso_mp_obj o;
  int rc = iso_mp_read(r, &o);
  if (rc != 0) {
    return rc;
  }
  if (o.type != ISO_MP_ARRAY && o.type != ISO_MP_MAP) {
    return 0;
  }
  uint64_t n = o.type == ISO_MP_MAP ? 2 * (uint64_t)o.len : o.len;
  if (depth > max_depth) {
    *too_deep = 1;
    return skip_flat(r, n);
  }
  for (uint64_t i = 0; i < n; i++) {
    rc = iso_mp_skip(r, depth + 1, max_depth, too_deep);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

int iso_mp_one(const uint8_t* p, size_t n, int max_depth) {
  iso_mp_rd r;
  int too_deep = 0;
  iso_mp_rd_init(&r, p, n);
  int rc = iso_mp_skip(&r, 1, max_depth, &too_deep);
  if (rc != 0) {
    return rc;
  }
  if (too_deep) {
    return 1;
  }
  return r.p == r.end ? 0 : 2;
}

const char* iso_mp_strerror(int rc) {
  switch (rc) {
    case ISO_MP_ETRUNC:
      return "truncated msgpack";
    case ISO_MP_EBYTE:
      return "invalid msgpack byte 0xc1";
    case ISO_MP_ECOUNT:
      return "array/map count larger than the message could hold";
    default:
      return "malformed msgpack";
  }
}

int iso_mp_strings_utf8(const uint8_t* p, size_t n) {
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, p, n);
  while (r.p < r.end) {
    if (iso_mp_read(&r, &o) != 0) {
      return 0;
    }
    if (o.type == ISO_MP_STR && !iso_utf8_valid(o.data, o.len)) {
      return 0;
    }
  }
  return 1;
}

int iso_mp_str_is(const iso_mp_obj* o, const char* s) {
  size_t n = strlen(s);
  return o->type == ISO_MP_STR && o->len == n && memcmp(o->data, s, n) == 0;
}

int iso_mp_timestamp(const iso_mp_obj* o, int64_t* sec, uint32_t* nsec) {
  if (o->type != ISO_MP_EXT || o->ext != -1) {
    return 0;
  }
  const uint8_t* p = o->data;
  switch (o->len) {
    case 4: /* timestamp 32: unsigned seconds */
      *sec = be32(p);
      *nsec = 0;
      return 1;
    case 8: { /* timestamp 64: 30 bits of nsec, 34 of unsigned seconds */
      uint64_t v = be64(p);
      *nsec = (uint32_t)(v >> 34);
      *sec = (int64_t)(v & ((1ull << 34) - 1));
      return 1;
    }
    case 12: /* timestamp 96: nsec, then signed seconds */
      *nsec = be32(p);
      *sec = (int64_t)be64(p + 4);
      return 1;
    default:
      return 0;
  }
}

/* ---- writer ---------------------------------------------------------------
 *
 * The bytes are written here rather than by msgpack-c's packer: each put
 * is one reserve and a few stores into the buffer (the packer went through
 * a callback and an append per piece, twice for a string), the header
 * needs no msgpack-c type, and the forms are the packer's (smallest ones
 * for integers and headers, float 64 for doubles), so the output is byte
 * for byte what it was. */

/* Room for n more bytes at the end of the buffer, or NULL after recording
 * the error (and when one is already recorded). */
static uint8_t* room(iso_mp_wr* w, size_t n) {
  if (w->err != 0) {
    return NULL;
  }
  iso_buf* b = w->buf;
  if (b->cap - b->len < n) {
    int rc = iso_buf_reserve(b, n);
    if (rc != 0) {
      w->err = rc;
      return NULL;
    }
  }
  return b->data + b->len;
}

static inline void put_be(uint8_t* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

/* A one-byte code and an n-byte big-endian value. */
static void put_code(iso_mp_wr* w, uint8_t code, uint64_t v, int n) {
  uint8_t* p = room(w, 1 + (size_t)n);
  if (p != NULL) {
    p[0] = code;
    put_be(p + 1, v, n);
    w->buf->len += 1 + (size_t)n;
  }
}

/* A str, bin, array or map header: the fix form when there is one (fix !=
 * 0) and n fits, else the 8-bit form when there is one (b8 != 0), else
 * the 16- or 32-bit form. */
static void put_head(iso_mp_wr* w,
                     uint8_t fix,
                     uint32_t fix_max,
                     uint8_t b8,
                     uint8_t b16,
                     uint8_t b32,
                     size_t n) {
  if (n > UINT32_MAX) {
    if (w->err == 0) {
      w->err = ISO_ETOOBIG;
    }
    return;
  }
  if (fix != 0 && n <= fix_max) {
    put_code(w, (uint8_t)(fix | n), 0, 0);
  } else if (b8 != 0 && n <= 0xff) {
    put_code(w, b8, n, 1);
  } else if (n <= 0xffff) {
    put_code(w, b16, n, 2);
  } else {
    put_code(w, b32, n, 4);
  }
}

void iso_mp_wr_init(iso_mp_wr* w, iso_buf* out) {
  w->buf = out;
  w->err = 0;
}

void iso_mp_put_raw(iso_mp_wr* w, const void* p, size_t n) {
  if (n == 0) {
    return;
  }
  uint8_t* d = room(w, n);
  if (d != NULL) {
    memcpy(d, p, n);
    w->buf->len += n;
  }
}

void iso_mp_put_nil(iso_mp_wr* w) {
  put_code(w, 0xc0, 0, 0);
}

void iso_mp_put_bool(iso_mp_wr* w, int b) {
  put_code(w, b ? 0xc3 : 0xc2, 0, 0);
}

/* A code byte and v's low n bytes, big-endian, at p; the byte after. */
static uint8_t* code_at(uint8_t* p, uint8_t code, uint64_t v, int n) {
  p[0] = code;
  put_be(p + 1, v, n);
  return p + 1 + n;
}

static uint8_t* uint_at(uint8_t* p, uint64_t v) {
  if (v <= 0x7f) {
    *p = (uint8_t)v;
    return p + 1;
  }
  if (v <= 0xff) {
    return code_at(p, 0xcc, v, 1);
  }
  if (v <= 0xffff) {
    return code_at(p, 0xcd, v, 2);
  }
  if (v <= 0xffffffff) {
    return code_at(p, 0xce, v, 4);
  }
  return code_at(p, 0xcf, v, 8);
}

uint8_t* iso_mp_int_at(uint8_t* p, int64_t v) {
  if (v >= 0) {
    return uint_at(p, (uint64_t)v);
  }
  if (v >= -32) {
    *p = (uint8_t)v; /* negative fixint: the byte itself */
    return p + 1;
  }
  if (v >= INT8_MIN) {
    return code_at(p, 0xd0, (uint64_t)v, 1);
  }
  if (v >= INT16_MIN) {
    return code_at(p, 0xd1, (uint64_t)v, 2);
  }
  if (v >= INT32_MIN) {
    return code_at(p, 0xd2, (uint64_t)v, 4);
  }
  return code_at(p, 0xd3, (uint64_t)v, 8);
}

void iso_mp_put_uint(iso_mp_wr* w, uint64_t v) {
  uint8_t* p = room(w, ISO_MP_INT_MAX);
  if (p != NULL) {
    w->buf->len = (size_t)(uint_at(p, v) - w->buf->data);
  }
}

void iso_mp_put_int(iso_mp_wr* w, int64_t v) {
  uint8_t* p = room(w, ISO_MP_INT_MAX);
  if (p != NULL) {
    w->buf->len = (size_t)(iso_mp_int_at(p, v) - w->buf->data);
  }
}

void iso_mp_put_double(iso_mp_wr* w, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  put_code(w, 0xcb, bits, 8);
}

void iso_mp_put_str_head(iso_mp_wr* w, size_t n) {
  put_head(w, 0xa0, 31, 0xd9, 0xda, 0xdb, n);
}

void iso_mp_put_text(iso_mp_wr* w, const char* s, size_t n) {
  if (iso_utf8_valid(s, n)) {
    iso_mp_put_str(w, s, n);
    return;
  }
  iso_buf fixed; /* rare: only ill-formed text is copied */
  iso_buf_init(&fixed);
  int rc = iso_utf8_append(&fixed, s, n);
  if (rc == 0) {
    iso_mp_put_str(w, (const char*)fixed.data, fixed.len);
  } else if (w->err == 0) {
    w->err = rc;
  }
  iso_buf_close(&fixed);
}

void iso_mp_put_str(iso_mp_wr* w, const char* s, size_t n) {
  if (n <= 31) { /* a fixstr (most map keys): the header is one byte */
    uint8_t* p = room(w, 1 + n);
    if (p != NULL) {
      p[0] = (uint8_t)(0xa0 | n);
      if (n > 0) {
        memcpy(p + 1, s, n);
      }
      w->buf->len += 1 + n;
    }
    return;
  }
  if (n > UINT32_MAX) {
    iso_mp_put_str_head(w, n); /* records ISO_ETOOBIG */
    return;
  }
  /* one reserve for the header and the bytes, so a failure appends
   * neither */
  uint8_t* p = room(w, 5 + n);
  if (p != NULL) {
    iso_mp_put_str_head(w, n);
    if (n > 0) { /* s may be NULL then: memcpy's arguments must not be */
      memcpy(w->buf->data + w->buf->len, s, n);
      w->buf->len += n;
    }
  }
}

void iso_mp_put_cstr(iso_mp_wr* w, const char* s) {
  iso_mp_put_str(w, s, strlen(s));
}

void iso_mp_put_bin(iso_mp_wr* w, const void* p, size_t n) {
  if (n > UINT32_MAX) {
    put_head(w, 0, 0, 0xc4, 0xc5, 0xc6, n); /* records ISO_ETOOBIG */
    return;
  }
  uint8_t* d = room(w, 5 + n);
  if (d != NULL) {
    put_head(w, 0, 0, 0xc4, 0xc5, 0xc6, n);
    if (n > 0) {
      memcpy(w->buf->data + w->buf->len, p, n);
      w->buf->len += n;
    }
  }
}

void iso_mp_put_array(iso_mp_wr* w, size_t n) {
  put_head(w, 0x90, 15, 0, 0xdc, 0xdd, n);
}

void iso_mp_put_map(iso_mp_wr* w, size_t n) {
  put_head(w, 0x80, 15, 0, 0xde, 0xdf, n);
}

void iso_mp_put_timestamp(iso_mp_wr* w, int64_t sec, uint32_t nsec) {
  if (nsec > 999999999u) {
    if (w->err == 0) {
      w->err = ISO_EINVAL;
    }
    return;
  }
  if (sec >= 0 && sec < (INT64_C(1) << 34)) {
    uint8_t* p = room(w, 10);
    if (p != NULL) {
      p[0] = 0xd7;
      p[1] = 0xff;
      put_be(p + 2, ((uint64_t)nsec << 34) | (uint64_t)sec, 8);
      w->buf->len += 10;
    }
  } else {
    uint8_t* p = room(w, 15);
    if (p != NULL) {
      p[0] = 0xc7;
      p[1] = 12;
      p[2] = 0xff;
      put_be(p + 3, nsec, 4);
      put_be(p + 7, (uint64_t)sec, 8);
      w->buf->len += 15;
    }
  }
}

size_t iso_mp_container_header(uint8_t* hdr, int is_map, uint32_t n) {
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
