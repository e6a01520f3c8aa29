/* iso_utf8.c: UTF-8 validation and repair (iso_utf8.h). */
#include "iso_utf8.h"

#include "iso_err.h"

/* Unicode 15, table 3-7: the second byte's range depends on the first,
 * which rules out overlongs, surrogates and values past U+10FFFF. */
int iso_utf8_seq(const uint8_t* s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) {
    return 1;
  }
  int need;
  uint8_t lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c == 0xe0) {
      lo = 0xa0;
    } else if (c == 0xed) {
      hi = 0x9f;
    }
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c == 0xf0) {
      lo = 0x90;
    } else if (c == 0xf4) {
      hi = 0x8f;
    }
  } else {
    return -1;
  }
  size_t i = 1;
  for (; i <= (size_t)need; i++) {
    if (i >= n) {
      return -(int)i;
    }
    uint8_t b = s[i];
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) {
      return -(int)i;
    }
  }
  return need + 1;
}

int iso_utf8_valid(const void* p, size_t n) {
  const uint8_t* s = p;
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    int k = iso_utf8_seq(s + i, n - i);
    if (k < 0) {
      return 0;
    }
    i += (size_t)k;
  }
  return 1;
}

int iso_utf8_append(iso_buf* out, const void* p, size_t n) {
  const uint8_t* s = p;
  size_t mark = out->len;
  size_t run = 0; /* start of the valid run not yet copied */
  size_t i = 0;
  int rc = 0;
  while (i < n && rc == 0) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    int k = iso_utf8_seq(s + i, n - i);
    if (k > 0) {
      i += (size_t)k;
      continue;
    }
    rc = iso_buf_append(out, s + run, i - run);
    if (rc == 0) {
      rc = iso_buf_append(out, "\xef\xbf\xbd", 3);
    }
    i += (size_t)(-k);
    run = i;
  }
  if (rc == 0) {
    rc = iso_buf_append(out, s + run, n - run);
  }
  if (rc != 0) {
    out->len = mark;
  }
  return rc;
}
