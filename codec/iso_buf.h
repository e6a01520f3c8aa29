/* iso_buf.h: a growable byte buffer and two read-only views.
 *
 * iso_buf is what every encoder appends to (iso_mp.h's writer, JSON text,
 * raw reply bytes). Appending functions never shrink the buffer and on
 * failure leave its contents as they were. iso_bytes and iso_str are
 * borrowed views (pointer + length, not NUL-terminated) used where a decoder
 * points into the caller's message instead of copying.
 */
#ifndef ISO_BUF_H
#define ISO_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_buf {
  uint8_t* data; /* NULL until the first append */
  size_t len;    /* bytes in use */
  size_t cap;    /* bytes allocated */
} iso_buf;

/* A borrowed byte range; {NULL, 0} means "absent". */
typedef struct iso_bytes {
  const uint8_t* data;
  size_t len;
} iso_bytes;

/* A borrowed string, not NUL-terminated; {NULL, 0} means "absent". */
typedef struct iso_str {
  const char* ptr;
  size_t len;
} iso_str;

/* iso_str_of: a view of a NUL-terminated string (NULL gives "absent").
 * Thread: any. */
static inline iso_str iso_str_of(const char* s) {
  iso_str v = {s, s ? strlen(s) : 0};
  return v;
}

/* iso_buf_init: an empty buffer that owns nothing. Constructor; cannot fail.
 * Thread: any (the buffer is not shared). */
void iso_buf_init(iso_buf* b);

/* iso_buf_close: releases the memory and leaves an empty buffer (init
 * state, so it may be used again). Destructor of the caller's storage;
 * accepts NULL. Thread: any. */
void iso_buf_close(iso_buf* b);

/* iso_buf_free: the name of iso_buf_close in 0.1 (an iso_buf is the
 * caller's storage: _init/_close). Deprecated; kept for code built
 * against the installed headers. */
__attribute__((deprecated("use iso_buf_close"))) static inline void
iso_buf_free(iso_buf* b) {
  iso_buf_close(b);
}

/* iso_buf_reset: forgets the contents but keeps the allocation for reuse.
 * Thread: any. */
void iso_buf_reset(iso_buf* b);

/* iso_buf_reserve: makes room for `extra` more bytes past len.
 * Returns 0 or ISO_ENOMEM (also when len + extra overflows). Thread: any. */
int iso_buf_reserve(iso_buf* b, size_t extra);

/* iso_buf_append: copies n bytes of p to the end. n == 0 is a no-op (p may
 * then be NULL). Returns 0 or ISO_ENOMEM (contents unchanged). Thread: any. */
int iso_buf_append(iso_buf* b, const void* p, size_t n);

/* iso_buf_terminate: writes a NUL just past len without counting it, so
 * data can be read as a C string. Returns 0 or ISO_ENOMEM. Thread: any. */
int iso_buf_terminate(iso_buf* b);

#ifdef __cplusplus
}
#endif

#endif /* ISO_BUF_H */
