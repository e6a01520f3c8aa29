/* iso_buf.h: a growable byte buffer and two read-only views.
 *
 * iso_buf is what every encoder appends to (iso_mp.h's writer, JSON text,
 * raw reply bytes). Appending functions never shrink the buffer and on
 * failure leave its contents as they were. A buffer may start in storage
 * its caller provides (iso_buf_init_with: a stack array for a short-lived
 * encode, so the common small case never allocates) and moves to the heap
 * only when an append needs more. iso_bytes and iso_str are
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
  uint8_t* data;  /* NULL until the first append (or the caller's storage) */
  size_t len;     /* bytes in use */
  size_t cap;     /* bytes available at data */
  uint8_t* fixed; /* the caller's storage (iso_buf_init_with), never freed */
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

/* iso_buf_init_with: an empty buffer whose first `size` bytes are the
 * caller's `storage`; appends stay there while they fit, and a larger one
 * moves the contents to the heap. The storage must outlive the buffer, and
 * data may point into it: read it, never take or free it (iso_buf_close
 * frees only what the buffer allocated). Constructor; cannot fail.
 * Thread: any (the buffer is not shared). Inline: it starts every op
 * call's argument encoding (isolate/v8s_ops.cc). */
static inline void iso_buf_init_with(iso_buf* b, void* storage, size_t size) {
  b->data = (uint8_t*)storage;
  b->len = 0;
  b->cap = storage != NULL ? size : 0;
  b->fixed = (uint8_t*)storage;
}

/* iso_buf_close: releases the memory the buffer allocated and leaves an
 * empty buffer that owns nothing (iso_buf_init's state, so it may be used
 * again; the storage of iso_buf_init_with is not). Destructor of the
 * caller's storage; accepts NULL. Thread: any. */
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
