/* wpt_source.c: tests/url/wpt.js with web-platform-tests' URL data before
 * it, for test_url (through `isopool run`, beside Deno) and test_url_rt
 * (in-process, in the ASan tree). */
#include "url/wpt_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file; NULL (and says so) if it cannot. The caller frees. */
static char* read_all(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "  cannot open %s\n", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
  }
  return buf;
}

/* The harness with `const WPT = {...};` before it; NULL if a file is
 * missing. The caller frees. */
char* wpt_source(void) {
  static const struct {
    const char* key;
    const char* file;
  } data[] = {
      {"urltestdata", "urltestdata.json"},  {"setters", "setters_tests.json"},
      {"toascii", "toascii.json"},          {"idna", "IdnaTestV2.json"},
      {"percent", "percent-encoding.json"},
  };
  size_t n = sizeof(data) / sizeof(data[0]);
  char* parts[8] = {0};
  size_t len = 64;
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ISO_URL_WPT_DIR, data[i].file);
    parts[i] = read_all(path);
    ok = ok && parts[i] != NULL;
    len += (parts[i] != NULL ? strlen(parts[i]) : 0) + 32;
  }
  parts[n] = read_all(ISO_URL_HARNESS);
  ok = ok && parts[n] != NULL;
  char* src = NULL;
  if (ok) {
    len += strlen(parts[n]);
    src = malloc(len);
  }
  if (src != NULL) {
    size_t at = (size_t)sprintf(src, "const WPT = {\n");
    for (size_t i = 0; i < n; i++) {
      at += (size_t)sprintf(src + at, "%s: %s,\n", data[i].key, parts[i]);
    }
    sprintf(src + at, "};\n%s", parts[n]);
  }
  for (size_t i = 0; i <= n; i++) {
    free(parts[i]);
  }
  return src;
}
