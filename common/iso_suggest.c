/* iso_suggest.c: the nearest candidate by edit distance (iso_suggest.h). */
#include "iso_suggest.h"

#include <string.h>

/* The edit distance of a and b where swapping two neighbours is one
 * edit (optimal string alignment: "stauts" is one from "status"), or 64
 * past 63 characters. */
static size_t distance(const char* a, const char* b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) {
    return 64;
  }
  size_t d[64][64];
  for (size_t i = 0; i <= la; i++) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= lb; j++) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= la; i++) {
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) {
        best = d[i - 1][j] + 1;
      }
      if (d[i][j - 1] + 1 < best) {
        best = d[i][j - 1] + 1;
      }
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best) {
        best = d[i - 2][j - 2] + 1;
      }
      d[i][j] = best;
    }
  }
  return d[la][lb];
}

const char* iso_suggest(const char* word,
                        const void* candidates,
                        size_t n,
                        size_t stride) {
  const char* best = NULL;
  size_t best_d = 3, len = strlen(word);
  for (size_t i = 0; i < n; i++) {
    const char* c;
    memcpy(&c, (const char*)candidates + i * stride, sizeof c);
    if (c == NULL) {
      continue;
    }
    size_t d = distance(word, c);
    if (d < best_d && d < len) {
      best_d = d;
      best = c;
    }
  }
  return best;
}
