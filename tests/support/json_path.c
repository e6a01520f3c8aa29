/* json_path.c: JSON text read by path (json_path.h), from
 * test_service_admin.c. */
#include "json_path.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char* js_ws(const char* p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
    p++;
  }
  return p;
}

const char* js_skip(const char* p) {
  p = js_ws(p);
  if (*p == '"') {
    for (p++; *p != '\0' && *p != '"'; p++) {
      if (*p == '\\' && p[1] != '\0') {
        p++;
      }
    }
    return *p != '\0' ? p + 1 : NULL;
  }
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = js_ws(p + 1);
    if (*p == close) {
      return p + 1;
    }
    for (;;) {
      if (close == '}') {
        p = js_skip(p);
        if (p == NULL || *(p = js_ws(p)) != ':') {
          return NULL;
        }
        p++;
      }
      p = js_skip(p);
      if (p == NULL) {
        return NULL;
      }
      p = js_ws(p);
      if (*p == ',') {
        p++;
        continue;
      }
      return *p == close ? p + 1 : NULL;
    }
  }
  if (*p == '\0') {
    return NULL;
  }
  while (*p != '\0' && strchr(",]}: \n\t\r", *p) == NULL) {
    p++;
  }
  return p;
}

const char* js_at(const char* json, const char* path) {
  const char* p = json != NULL ? js_ws(json) : NULL;
  while (p != NULL && *path != '\0') {
    const char* dot = strchr(path, '.');
    size_t klen = dot != NULL ? (size_t)(dot - path) : strlen(path);
    if (*p == '{') {
      const char* found = NULL;
      p = js_ws(p + 1);
      while (p != NULL && *p == '"') {
        const char* kend = js_skip(p);
        if (kend == NULL || *(kend = js_ws(kend)) != ':') {
          return NULL;
        }
        const char* v = js_ws(kend + 1);
        if ((size_t)(kend - p) >= 2 && (size_t)(kend - p - 2) == klen &&
            memcmp(p + 1, path, klen) == 0) {
          found = v;
          break;
        }
        p = js_skip(v);
        if (p != NULL && *(p = js_ws(p)) == ',') {
          p = js_ws(p + 1);
        }
      }
      p = found;
    } else if (*p == '[') {
      long idx = strtol(path, NULL, 10);
      p = js_ws(p + 1);
      for (long i = 0; p != NULL && *p != ']' && i < idx; i++) {
        p = js_skip(p);
        if (p != NULL && *(p = js_ws(p)) == ',') {
          p = js_ws(p + 1);
        }
      }
      if (p != NULL && *p == ']') {
        p = NULL;
      }
    } else {
      return NULL;
    }
    path += klen + (dot != NULL ? 1 : 0);
  }
  return p;
}

double js_num(const char* json, const char* path) {
  const char* p = js_at(json, path);
  if (p == NULL || !(*p == '-' || (*p >= '0' && *p <= '9'))) {
    return NAN;
  }
  return strtod(p, NULL);
}

int js_len(const char* json, const char* path) {
  const char* p = js_at(json, path);
  if (p == NULL || *p != '[') {
    return -1;
  }
  int n = 0;
  for (p = js_ws(p + 1); *p != ']'; n++) {
    p = js_skip(p);
    if (p == NULL) {
      return -1;
    }
    if (*(p = js_ws(p)) == ',') {
      p = js_ws(p + 1);
    }
  }
  return n;
}

int js_is(const char* json, const char* path, const char* s) {
  const char* p = js_at(json, path);
  size_t n = strlen(s);
  return p != NULL && *p == '"' && strncmp(p + 1, s, n) == 0 && p[n + 1] == '"';
}

double js_sum(const char* json, const char* path) {
  const char* p = js_at(json, path);
  double sum = 0;
  if (p == NULL || *p != '{') {
    return NAN;
  }
  for (p = js_ws(p + 1); *p == '"';) {
    const char* v = js_ws(js_ws(js_skip(p)) + 1);
    sum += strtod(v, NULL);
    p = js_ws(js_skip(v));
    if (*p == ',') {
      p = js_ws(p + 1);
    }
  }
  return sum;
}
