/* mp.h: ipc/'s private msgpack reader and writer (not installed).
 *
 * The reader is a minimal, allocation-free cursor over untrusted bytes. It
 * reads one object header at a time (str/bin/ext payloads are returned as
 * pointers into the input) and refuses anything a valid message could not
 * hold: truncated data, the never-used byte 0xc1, and array/map counts
 * larger than the remaining bytes could possibly contain (each element needs
 * at least one byte), so a 5-byte message cannot make anyone allocate for
 * four billion elements. iso__mp_skip() steps over a whole value with a
 * bounded recursion depth and reports nesting past a limit.
 *
 * The writer wraps msgpack-c's packer around an iso_buf with a sticky error,
 * so a sequence of puts is checked once at the end.
 */
#ifndef ISO_IPC_MP_H
#define ISO_IPC_MP_H

#include <msgpack.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_utf8.h"

/* Reader errors (structural: the rest of the message cannot be trusted). */
enum {
  ISO__MP_ETRUNC = -1, /* ends in the middle of an object */
  ISO__MP_EBYTE = -2,  /* 0xc1, which msgpack never uses */
  ISO__MP_ECOUNT = -3  /* a count larger than the remaining bytes */
};

typedef enum iso__mp_type {
  ISO__MP_NIL,
  ISO__MP_BOOL,
  ISO__MP_UINT, /* every non-negative integer, whatever its encoding */
  ISO__MP_INT,  /* negative integers only */
  ISO__MP_F32,
  ISO__MP_F64,
  ISO__MP_STR,
  ISO__MP_BIN,
  ISO__MP_ARRAY,
  ISO__MP_MAP,
  ISO__MP_EXT
} iso__mp_type;

typedef struct iso__mp_obj {
  iso__mp_type type;
  union {
    int b;
    uint64_t u;
    int64_t i;
    double f; /* F32 and F64 (F32 widened) */
  } v;
  const uint8_t* data; /* STR/BIN/EXT payload */
  uint32_t len;        /* payload bytes, or ARRAY/MAP element/pair count */
  int8_t ext;          /* EXT type */
} iso__mp_obj;

typedef struct iso__mp_rd {
  const uint8_t* p;
  const uint8_t* end;
} iso__mp_rd;

static inline void iso__mp_rd_init(iso__mp_rd* r, const uint8_t* p, size_t n) {
  r->p = p;
  r->end = p + n;
}

/* iso__mp_read: reads one object header (and a str/bin/ext payload). On
 * error the cursor is unspecified. Returns 0 or ISO__MP_E*. The one-byte
 * forms (fixint, fixstr, fixarray, fixmap), which are most of any request,
 * are decoded inline; the rest in iso__mp_read_slow. */
int iso__mp_read_slow(iso__mp_rd* r, iso__mp_obj* o);

static inline int iso__mp_read(iso__mp_rd* r, iso__mp_obj* o) {
  if (r->p < r->end) {
    uint8_t c = *r->p;
    size_t left = (size_t)(r->end - r->p) - 1;
    if (c <= 0x7f) {
      o->type = ISO__MP_UINT;
      o->v.u = c;
      r->p++;
      return 0;
    }
    if (c >= 0xa0 && c <= 0xbf && (size_t)(c & 0x1f) <= left) {
      o->type = ISO__MP_STR;
      o->data = r->p + 1;
      o->len = c & 0x1f;
      r->p += 1 + o->len;
      return 0;
    }
    if (c <= 0x9f && (size_t)(c & 0x0f) * (c <= 0x8f ? 2 : 1) <= left) {
      o->type = c <= 0x8f ? ISO__MP_MAP : ISO__MP_ARRAY;
      o->len = c & 0x0f;
      r->p++;
      return 0;
    }
  }
  return iso__mp_read_slow(r, o);
}

/* iso__mp_skip: steps over one whole value. `depth` is the nesting level a
 * container read here would have (1 for a top-level value); containers
 * deeper than max_depth set *too_deep and are skipped without recursion.
 * Returns 0 or ISO__MP_E*. */
int iso__mp_skip(iso__mp_rd* r, int depth, int max_depth, int* too_deep);

/* iso__mp_one: 0 iff [p, p+n) is exactly one msgpack value nesting no deeper
 * than max_depth; else ISO__MP_E*, or 1 for too deep, or 2 for trailing
 * bytes. */
int iso__mp_one(const uint8_t* p, size_t n, int max_depth);

/* iso__mp_strings_utf8: 1 iff every string in [p, p+n) (map keys
 * included) is valid UTF-8 and the bytes read as msgpack objects to the
 * end; 0 otherwise. One flat pass: containers' elements follow their
 * headers. */
int iso__mp_strings_utf8(const uint8_t* p, size_t n);

/* iso__mp_strerror: text for an ISO__MP_E* code. */
const char* iso__mp_strerror(int rc);

/* Writer: msgpack-c's packer appending to an iso_buf. */
typedef struct iso__mp_wr {
  msgpack_packer pk;
  iso_buf* buf;
  int err; /* first ISO_E* error, sticky */
} iso__mp_wr;

void iso__mp_wr_init(iso__mp_wr* w, iso_buf* out);

/* Helpers that name the common shapes. All record errors in w->err. */
void iso__mp_put_raw(iso__mp_wr* w, const void* p, size_t n);
void iso__mp_put_str(iso__mp_wr* w, const char* s, size_t n);
void iso__mp_put_cstr(iso__mp_wr* w, const char* s);
void iso__mp_put_nil(iso__mp_wr* w);
void iso__mp_put_bool(iso__mp_wr* w, int b);
void iso__mp_put_int(iso__mp_wr* w, int64_t v);
void iso__mp_put_uint(iso__mp_wr* w, uint64_t v);
void iso__mp_put_double(iso__mp_wr* w, double v);
void iso__mp_put_bin(iso__mp_wr* w, const void* p, size_t n);
void iso__mp_put_array(iso__mp_wr* w, uint32_t n);
void iso__mp_put_map(iso__mp_wr* w, uint32_t n);

/* iso__mp_container_header: the smallest array or map header for n into
 * hdr (5 bytes at most); returns its length. */
size_t iso__mp_container_header(uint8_t* hdr, int is_map, uint32_t n);

/* The UTF-8 checks under their older names (ops/ uses them); the one
 * implementation is iso_utf8.h's. */
static inline int iso__mp_utf8_valid(const uint8_t* s, size_t n) {
  return iso_utf8_valid(s, n);
}

static inline int iso__mp_utf8_seq(const uint8_t* s, size_t n) {
  return iso_utf8_seq(s, n);
}

#endif /* ISO_IPC_MP_H */
