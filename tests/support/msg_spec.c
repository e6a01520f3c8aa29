/* msg_spec.c: messages written as parts (msg_spec.h), from test_proto.c. */
#include "msg_spec.h"

#include <stdio.h>
#include <string.h>

#include "iso_json.h"

static int hexval(char c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

void append_hex(iso_buf* b, const char* h, size_t n) {
  int half = 0;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (h[i] == ' ') {
      continue;
    }
    v = (v << 4) | (unsigned)hexval(h[i]);
    if (++half == 2) {
      uint8_t byte = (uint8_t)v;
      iso_buf_append(b, &byte, 1);
      half = 0;
      v = 0;
    }
  }
}

iso_buf msg(const char* spec) {
  iso_buf b;
  iso_buf_init(&b);
  while (*spec) {
    const char* end = strchr(spec, '|');
    size_t n = end ? (size_t)(end - spec) : strlen(spec);
    if (spec[0] == 'H') {
      append_hex(&b, spec + 2, n - 2);
    } else {
      iso_json_error e;
      if (iso_json_to_msgpack_ex(spec + 2, n - 2, &b, &e) != 0) {
        fprintf(stderr, "  bad test JSON: %.*s (%s)\n", (int)n, spec,
                e.message);
        iso_test_failed = 1;
      }
    }
    spec += n;
    if (*spec == '|') {
      spec++;
    }
  }
  return b;
}

char* hex_of(const uint8_t* p, size_t n) {
  char* s = malloc(n * 2 + 1);
  for (size_t i = 0; i < n; i++) {
    snprintf(s + 2 * i, 3, "%02x", p[i]);
  }
  s[2 * n] = 0;
  return s;
}

void append_n(iso_buf* b, const char* s, int n) {
  for (int i = 0; i < n; i++) {
    iso_buf_append(b, s, strlen(s));
  }
}
