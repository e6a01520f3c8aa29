/* iso_mp.h: isopool's msgpack reader and writer, the one codec every side
 * shares (the job and admin protocols, JSON, the ops, poolctl, the V8
 * shim).
 *
 * The reader is a minimal, allocation-free cursor over untrusted bytes. It
 * reads one object header at a time (str/bin/ext payloads are returned as
 * pointers into the input) and refuses anything a valid message could not
 * hold: truncated data, the never-used byte 0xc1, and array/map counts
 * larger than the remaining bytes could possibly contain (each element needs
 * at least one byte), so a 5-byte message cannot make anyone allocate for
 * four billion elements. iso_mp_skip() steps over a whole value with a
 * bounded recursion depth and reports nesting past a limit.
 *
 * The writer appends to an iso_buf with a sticky error, so a sequence of
 * puts is checked once at the end. It writes every number, string, binary
 * and container header in its smallest form (as msgpack-c's packer does),
 * and doubles always as float 64.
 *
 * Everything here is pure: no globals, no locks. Compiles as C11 and C++.
 */
#ifndef ISO_MP_H
#define ISO_MP_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reader ------------------------------------------------------------ */

/* Reader errors (structural: the rest of the message cannot be trusted).
 * They are rows of the one error table (iso_err.h), so a reader code that
 * travels up reads as what it is; iso_mp_strerror gives the msgpack-
 * specific text the decoders put in their messages. */
enum {
  ISO_MP_ETRUNC = ISO_ETRUNC,  /* ends in the middle of an object */
  ISO_MP_EBYTE = ISO_EBADBYTE, /* 0xc1, which msgpack never uses */
  ISO_MP_ECOUNT = ISO_ECOUNT   /* a count larger than the remaining bytes */
};

typedef enum iso_mp_type {
  ISO_MP_NIL,
  ISO_MP_BOOL,
  ISO_MP_UINT, /* every non-negative integer, whatever its encoding */
  ISO_MP_INT,  /* negative integers only */
  ISO_MP_F32,
  ISO_MP_F64,
  ISO_MP_STR,
  ISO_MP_BIN,
  ISO_MP_ARRAY,
  ISO_MP_MAP,
  ISO_MP_EXT
} iso_mp_type;

/* One object header as iso_mp_read decodes it. */
typedef struct iso_mp_obj {
  iso_mp_type type;
  union {
    int b;
    uint64_t u;
    int64_t i;
    double f; /* F32 and F64 (F32 widened) */
  } v;
  const uint8_t* data; /* STR/BIN/EXT payload, inside the reader's input */
  uint32_t len;        /* payload bytes, or ARRAY/MAP element/pair count */
  int8_t ext;          /* EXT type */
} iso_mp_obj;

/* A cursor over [p, end). Caller-owned; borrows the input. */
typedef struct iso_mp_rd {
  const uint8_t* p;
  const uint8_t* end;
} iso_mp_rd;

/* iso_mp_rd_init: a cursor at the start of [p, p+n). Cannot fail.
 * Thread: any. */
static inline void iso_mp_rd_init(iso_mp_rd* r, const uint8_t* p, size_t n) {
  r->p = p;
  r->end = p + n;
}

/* iso_mp_read_slow: iso_mp_read for every form (called by it). */
int iso_mp_read_slow(iso_mp_rd* r, iso_mp_obj* o);

/* iso_mp_read: reads one object header (and a str/bin/ext payload) and
 * moves the cursor past it: the elements of an array or map follow it. On
 * error the cursor is unspecified. Returns 0 or ISO_MP_E*. The one-byte
 * forms (fixint, fixstr, fixarray, fixmap), which are most of any request,
 * are decoded inline; the rest in iso_mp_read_slow. Thread: any. */
static inline int iso_mp_read(iso_mp_rd* r, iso_mp_obj* o) {
  if (r->p < r->end) {
    uint8_t c = *r->p;
    size_t left = (size_t)(r->end - r->p) - 1;
    if (c <= 0x7f) {
      o->type = ISO_MP_UINT;
      o->v.u = c;
      r->p++;
      return 0;
    }
    if (c >= 0xa0 && c <= 0xbf && (size_t)(c & 0x1f) <= left) {
      o->type = ISO_MP_STR;
      o->data = r->p + 1;
      o->len = c & 0x1f;
      r->p += 1 + o->len;
      return 0;
    }
    if (c <= 0x9f && (size_t)(c & 0x0f) * (c <= 0x8f ? 2 : 1) <= left) {
      o->type = c <= 0x8f ? ISO_MP_MAP : ISO_MP_ARRAY;
      o->len = c & 0x0f;
      r->p++;
      return 0;
    }
  }
  return iso_mp_read_slow(r, o);
}

/* iso_mp_skip: steps over one whole value. `depth` is the nesting level a
 * container read here would have (1 for a top-level value); containers
 * deeper than max_depth set *too_deep and are skipped without recursion.
 * Returns 0 or ISO_MP_E*. Thread: any. */
int iso_mp_skip(iso_mp_rd* r, int depth, int max_depth, int* too_deep);

/* iso_mp_one: 0 iff [p, p+n) is exactly one msgpack value nesting no deeper
 * than max_depth; else ISO_MP_E*, or 1 for too deep, or 2 for trailing
 * bytes. Thread: any. */
int iso_mp_one(const uint8_t* p, size_t n, int max_depth);

/* iso_mp_strings_utf8: 1 iff every string in [p, p+n) (map keys
 * included) is valid UTF-8 (iso_utf8.h) and the bytes read as msgpack
 * objects to the end; 0 otherwise. One flat pass: containers' elements
 * follow their headers. Thread: any. */
int iso_mp_strings_utf8(const uint8_t* p, size_t n);

/* iso_mp_str_is: 1 iff o is a STR equal to the NUL-terminated s.
 * Thread: any. */
int iso_mp_str_is(const iso_mp_obj* o, const char* s);

/* iso_mp_timestamp: 1 iff o is the msgpack timestamp extension (EXT type
 * -1 with 4, 8 or 12 bytes of payload), with its seconds since the Unix
 * epoch in *sec and nanoseconds in *nsec (as sent: the spec wants it below
 * 1e9, which a caller that cares checks); else 0 and *sec, *nsec untouched.
 * Thread: any. */
int iso_mp_timestamp(const iso_mp_obj* o, int64_t* sec, uint32_t* nsec);

/* iso_mp_strerror: text for an ISO_MP_E* code. Returns a static string.
 * Thread: any. */
const char* iso_mp_strerror(int rc);

/* ---- writer ------------------------------------------------------------ */

/* Appends to an iso_buf the caller owns. Every put records the first error
 * in err (ISO_ENOMEM, or ISO_ETOOBIG for a length past msgpack's 32 bits,
 * ISO_EINVAL for a timestamp's nsec past 999999999) and does nothing once
 * err is set, so a caller checks err once after a sequence of puts. A put
 * that fails appends nothing. Caller-owned storage, nothing to close. */
typedef struct iso_mp_wr {
  iso_buf* buf;
  int err; /* 0, or the first ISO_E* error: sticky */
} iso_mp_wr;

/* iso_mp_wr_init: a writer appending to out (which keeps its contents).
 * Cannot fail. Thread: any (the buffer is not shared). */
void iso_mp_wr_init(iso_mp_wr* w, iso_buf* out);

/* The puts. Thread: any (the writer is not shared). */

/* iso_mp_put_raw: n bytes that already are msgpack, as they are. */
void iso_mp_put_raw(iso_mp_wr* w, const void* p, size_t n);
void iso_mp_put_nil(iso_mp_wr* w);
void iso_mp_put_bool(iso_mp_wr* w, int b);
/* iso_mp_put_int, iso_mp_put_uint: the smallest form that holds v
 * (positive values in the uint forms), at most ISO_MP_INT_MAX bytes. */
void iso_mp_put_int(iso_mp_wr* w, int64_t v);
void iso_mp_put_uint(iso_mp_wr* w, uint64_t v);
#define ISO_MP_INT_MAX 9
/* iso_mp_int_at: iso_mp_put_int's bytes written at p, which has room for
 * ISO_MP_INT_MAX; returns the byte after them. For an encoder of a fixed
 * shape that reserves once (iso_proto_encode_stats). */
uint8_t* iso_mp_int_at(uint8_t* p, int64_t v);
/* iso_mp_put_double: float 64, whatever v holds. */
void iso_mp_put_double(iso_mp_wr* w, double v);
/* iso_mp_put_str: a str header and the n bytes of s (not checked for
 * UTF-8: the caller's strings are, or are repaired with iso_utf8.h). */
void iso_mp_put_str(iso_mp_wr* w, const char* s, size_t n);
void iso_mp_put_cstr(iso_mp_wr* w, const char* s);
/* iso_mp_put_lit: a string literal (a map's key), its length counted
 * when compiled, not by strlen on every message. */
#define iso_mp_put_lit(w, lit) iso_mp_put_str((w), "" lit, sizeof(lit) - 1)
/* iso_mp_put_text: a str of s as valid UTF-8: as it is when it is, else
 * with each ill-formed subpart replaced by U+FFFD (iso_utf8_append), for
 * text the writer did not make itself (an error message, a log line).
 * s may be NULL when n is 0. */
void iso_mp_put_text(iso_mp_wr* w, const char* s, size_t n);
/* iso_mp_put_str_head: a str header for n bytes the caller appends next
 * (iso_mp_put_raw, or straight into the buffer). */
void iso_mp_put_str_head(iso_mp_wr* w, size_t n);
void iso_mp_put_bin(iso_mp_wr* w, const void* p, size_t n);
/* iso_mp_put_array, iso_mp_put_map: a header; the n elements (n key/value
 * pairs) are the caller's next puts. */
void iso_mp_put_array(iso_mp_wr* w, size_t n);
void iso_mp_put_map(iso_mp_wr* w, size_t n);
/* iso_mp_put_timestamp: the timestamp extension (EXT -1): timestamp 64
 * (d7 ff) when 0 <= sec < 2^34, else timestamp 96 (c7 0c ff); never the
 * 32-bit form. nsec must be below 1e9 (else ISO_EINVAL). */
void iso_mp_put_timestamp(iso_mp_wr* w, int64_t sec, uint32_t nsec);

/* iso_mp_container_header: the smallest array or map header for n into
 * hdr (5 bytes at most); returns its length. For a writer that learns a
 * count after its elements (iso_json's parser). Thread: any. */
size_t iso_mp_container_header(uint8_t* hdr, int is_map, uint32_t n);

#ifdef __cplusplus
}
#endif

#endif /* ISO_MP_H */
