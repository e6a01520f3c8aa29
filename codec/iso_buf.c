/* iso_buf.c: the growable byte buffer (iso_buf.h). */
#include "iso_buf.h"

#include <stdlib.h>

#include "iso_err.h"

void iso_buf_init(iso_buf* b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->fixed = NULL;
}

void iso_buf_close(iso_buf* b) {
  if (b == NULL) {
    return;
  }
  if (b->data != b->fixed) {
    free(b->data);
  }
  iso_buf_init(b);
}

void iso_buf_reset(iso_buf* b) {
  b->len = 0;
}

int iso_buf_reserve(iso_buf* b, size_t extra) {
  if (extra > SIZE_MAX - b->len) {
    return ISO_ENOMEM;
  }
  size_t need = b->len + extra;
  if (need <= b->cap) {
    return 0;
  }
  size_t cap = b->cap < 64 ? 64 : b->cap;
  while (cap < need) {
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  }
  uint8_t* p;
  if (b->data != NULL && b->data == b->fixed) {
    p = malloc(cap); /* out of the caller's storage, which stays theirs */
    if (p != NULL) {
      memcpy(p, b->data, b->len);
    }
  } else {
    p = realloc(b->data, cap);
  }
  if (p == NULL) {
    return ISO_ENOMEM;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

int iso_buf_append(iso_buf* b, const void* p, size_t n) {
  if (n == 0) {
    return 0;
  }
  int rc = iso_buf_reserve(b, n);
  if (rc != 0) {
    return rc;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int iso_buf_terminate(iso_buf* b) {
  int rc = iso_buf_reserve(b, 1);
  if (rc != 0) {
    return rc;
  }
  b->data[b->len] = 0;
  return 0;
}
