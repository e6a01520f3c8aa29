/* json_check.c: mp_of and json_of (json_check.h), over ipc's JSON bridge
 * (iso_json.h). */
#include "json_check.h"

#include <stdio.h>
#include <string.h>

#include "iso_json.h"

iso_buf mp_of(const char* json) {
  iso_buf b;
  iso_buf_init(&b);
  if (iso_json_to_msgpack(json, strlen(json), &b) != 0) {
    fprintf(stderr, "  bad test JSON: %s\n", json);
    iso_test_failed = 1;
  }
  return b;
}

char* json_of(const uint8_t* p, size_t n) {
  iso_buf out;
  iso_buf_init(&out);
  if (p == NULL || n == 0 || iso_json_from_msgpack(p, n, &out) != 0) {
    iso_buf_close(&out);
    return strdup("(none)");
  }
  return (char*)out.data;
}
