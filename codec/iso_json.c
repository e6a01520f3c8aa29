/* iso_json.c: msgpack <-> JSON text (iso_json.h).
 *
 * msgpack -> JSON walks the input with the codec's reader (iso_mp.h), so the
 * same checks that guard the protocol decoder (truncation, absurd counts,
 * depth) guard this path too. JSON -> msgpack is a recursive-descent parser
 * bounded by ISO_JSON_MAX_DEPTH; a container's element count is only known
 * at its end, so its header is inserted in front of the already-written
 * elements (a memmove only for containers of 16 or more elements).
 */
#include "iso_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_utf8.h"

/* ---- msgpack -> JSON ---------------------------------------------------- */

/* The writer: out, the bytes it may still append (the output budget), and
 * how many non-string map keys enclose what it writes (each one quotes the
 * text once more, see emit_key). */
typedef struct jw {
  iso_buf* b;
  int err;
  size_t room;
  int keys;
} jw;

static void put(jw* w, const void* p, size_t n) {
  if (w->err != 0) {
    return;
  }
  if (n > w->room) {
    w->err = ISO_ETOOBIG;
    return;
  }
  w->room -= n;
  w->err = iso_buf_append(w->b, p, n);
}

static void putc_(jw* w, char c) {
  put(w, &c, 1);
}

static void puts_(jw* w, const char* s) {
  put(w, s, strlen(s));
}

static const char k_hex[] = "0123456789abcdef";

/* A JSON string from bytes that are meant to be UTF-8. */
static void put_string(jw* w, const uint8_t* s, size_t n) {
  putc_(w, '"');
  size_t run = 0; /* start of the pending run of bytes copied verbatim */
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      i++;
      continue;
    }
    if (c >= 0x80) {
      int k = iso_utf8_seq(s + i, n - i);
      if (k > 0) {
        i += (size_t)k;
        continue;
      }
      put(w, s + run, i - run);
      put(w, "\xef\xbf\xbd", 3); /* U+FFFD */
      i += (size_t)(-k);
      run = i;
      continue;
    }
    put(w, s + run, i - run);
    char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
    size_t elen = 2;
    switch (c) {
      case '"':
        esc[1] = '"';
        break;
      case '\\':
        esc[1] = '\\';
        break;
      case '\b':
        esc[1] = 'b';
        break;
      case '\f':
        esc[1] = 'f';
        break;
      case '\n':
        esc[1] = 'n';
        break;
      case '\r':
        esc[1] = 'r';
        break;
      case '\t':
        esc[1] = 't';
        break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = k_hex[c >> 4];
        esc[5] = k_hex[c & 15];
        elen = 6;
    }
    put(w, esc, elen);
    i++;
    run = i;
  }
  put(w, s + run, n - run);
  putc_(w, '"');
}

static const char k_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(jw* w, const uint8_t* s, size_t n) {
  char q[4];
  putc_(w, '"');
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
    q[0] = k_b64[v >> 18];
    q[1] = k_b64[(v >> 12) & 63];
    q[2] = k_b64[(v >> 6) & 63];
    q[3] = k_b64[v & 63];
    put(w, q, 4);
  }
  if (i < n) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < n) {
      v |= (uint32_t)s[i + 1] << 8;
    }
    q[0] = k_b64[v >> 18];
    q[1] = k_b64[(v >> 12) & 63];
    q[2] = i + 1 < n ? k_b64[(v >> 6) & 63] : '=';
    q[3] = '=';
    put(w, q, 4);
  }
  putc_(w, '"');
}

/* The shortest decimal that reads back to the same value, laid out the way
 * JavaScript prints numbers: plain notation for exponents -7 < e < 21,
 * otherwise d.ddde+X; ".0" is added to integral values so they stay floats
 * when read back. */
static void put_float(jw* w, double d, int is_f32) {
  if (isnan(d) || isinf(d)) {
    puts_(w, "null");
    return;
  }
  char sci[40];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
    if (is_f32 ? strtof(sci, NULL) == (float)d : strtod(sci, NULL) == d) {
      break;
    }
  }
  snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
  /* sci is [-]d[.ddd]e(+|-)XX: collect the digits and the exponent. */
  const char* p = sci;
  char out[64];
  size_t o = 0;
  if (*p == '-') {
    out[o++] = '-';
    p++;
  }
  char digits[20] = {0};
  int nd = 0;
  for (; *p != 'e'; p++) {
    if (*p != '.') {
      digits[nd++] = *p;
    }
  }
  int e = atoi(p + 1);
  if (e > -7 && e < 21) {
    if (e < 0) {
      out[o++] = '0';
      out[o++] = '.';
      for (int i = 0; i < -e - 1; i++) {
        out[o++] = '0';
      }
      memcpy(out + o, digits, (size_t)nd);
      o += (size_t)nd;
    } else {
      for (int i = 0; i <= e; i++) {
        out[o++] = i < nd ? digits[i] : '0';
      }
      out[o++] = '.';
      if (nd > e + 1) {
        memcpy(out + o, digits + e + 1, (size_t)(nd - e - 1));
        o += (size_t)(nd - e - 1);
      } else {
        out[o++] = '0';
      }
    }
  } else {
    out[o++] = digits[0];
    if (nd > 1) {
      out[o++] = '.';
      memcpy(out + o, digits + 1, (size_t)(nd - 1));
      o += (size_t)(nd - 1);
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "e%+d", e);
  }
  put(w, out, o);
}

/* Days since 1970-01-01 -> proleptic Gregorian date (H. Hinnant's
 * civil_from_days), valid for the whole int64 range of seconds / 86400. */
static void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* A timestamp ext -> ISO-8601; returns 0 if o is not a valid timestamp
 * (then the caller writes the generic ext form). */
static int put_timestamp(jw* w, const iso_mp_obj* o) {
  int64_t sec;
  uint32_t nsec;
  if (!iso_mp_timestamp(o, &sec, &nsec) || nsec >= 1000000000u) {
    return 0;
  }
  int64_t days = sec / 86400;
  int64_t rem = sec % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  char year[24];
  if (y >= 0 && y <= 9999) {
    snprintf(year, sizeof year, "%04" PRId64, y);
  } else {
    snprintf(year, sizeof year, "%+07" PRId64, y);
  }
  char buf[80];
  snprintf(buf, sizeof buf, "\"%s-%02u-%02uT%02u:%02u:%02u.%03uZ\"", year, mo,
           d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
           (unsigned)(rem % 60), nsec / 1000000u);
  puts_(w, buf);
  return 1;
}

static int emit(iso_mp_rd* r, jw* w, int depth);

/* A non-string map key: the JSON text of the key, as a JSON string. Each
 * level of such keys escapes the text inside it once more ('"' becomes
 * '\"', '\' becomes '\\'), which can double it: 62 levels in 150 bytes
 * would ask for 2^62 bytes. So the levels are capped, and the key's text is
 * written under the budget left minus its two quotes (escaping never makes
 * text shorter, so a key over that could not fit anyway). */
static int emit_key(iso_mp_rd* r, jw* w, int depth) {
  iso_mp_rd peek = *r;
  iso_mp_obj o;
  if (iso_mp_read(&peek, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type == ISO_MP_STR) {
    *r = peek;
    put_string(w, o.data, o.len);
    return 0;
  }
  if (w->keys >= ISO_JSON_MAX_KEY_DEPTH || w->room < 2) {
    return ISO_ETOOBIG;
  }
  iso_buf tmp;
  iso_buf_init(&tmp);
  jw kw = {&tmp, 0, w->room - 2, w->keys + 1};
  int rc = emit(r, &kw, depth);
  if (rc == 0) {
    rc = kw.err;
  }
  if (rc == 0) {
    put_string(w, tmp.data, tmp.len);
  }
  iso_buf_close(&tmp);
  return rc;
}

static int emit(iso_mp_rd* r, jw* w, int depth) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0) {
    return ISO_EPROTO;
  }
  char num[32];
  switch (o.type) {
    case ISO_MP_NIL:
      puts_(w, "null");
      break;
    case ISO_MP_BOOL:
      puts_(w, o.v.b ? "true" : "false");
      break;
    case ISO_MP_UINT:
      snprintf(num, sizeof num, "%" PRIu64, o.v.u);
      puts_(w, num);
      break;
    case ISO_MP_INT:
      snprintf(num, sizeof num, "%" PRId64, o.v.i);
      puts_(w, num);
      break;
    case ISO_MP_F32:
    case ISO_MP_F64:
      put_float(w, o.v.f, o.type == ISO_MP_F32);
      break;
    case ISO_MP_STR:
      put_string(w, o.data, o.len);
      break;
    case ISO_MP_BIN:
      put_base64(w, o.data, o.len);
      break;
    case ISO_MP_ARRAY:
    case ISO_MP_MAP: {
      int is_map = o.type == ISO_MP_MAP;
      if (depth > ISO_JSON_MAX_PRINT_DEPTH) {
        return ISO_EPROTO;
      }
      putc_(w, is_map ? '{' : '[');
      for (uint32_t i = 0; i < o.len; i++) {
        if (i > 0) {
          putc_(w, ',');
        }
        int rc;
        if (is_map) {
          rc = emit_key(r, w, depth + 1);
          if (rc != 0) {
            return rc;
          }
          putc_(w, ':');
        }
        rc = emit(r, w, depth + 1);
        if (rc != 0) {
          return rc;
        }
      }
      putc_(w, is_map ? '}' : ']');
      break;
    }
    case ISO_MP_EXT:
      if (put_timestamp(w, &o)) {
        break;
      }
      snprintf(num, sizeof num, "{\"ext\":%d,\"data\":", o.ext);
      puts_(w, num);
      put_base64(w, o.data, o.len);
      putc_(w, '}');
      break;
  }
  return w->err;
}

int iso_json_from_msgpack_max(const uint8_t* mp,
                              size_t len,
                              size_t max_out,
                              iso_buf* out) {
  size_t mark = out->len;
  if (mp == NULL) {
    return ISO_EPROTO; /* and no NULL + 0 below */
  }
  iso_mp_rd r;
  iso_mp_rd_init(&r, mp, len);
  jw w = {out, 0, max_out, 0};
  int rc = emit(&r, &w, 1);
  if (rc == 0 && r.p != r.end) {
    rc = ISO_EPROTO; /* trailing bytes */
  }
  if (rc == 0) {
    rc = iso_buf_terminate(out);
  }
  if (rc != 0) {
    out->len = mark;
  }
  return rc;
}

int iso_json_from_msgpack(const uint8_t* mp, size_t len, iso_buf* out) {
  size_t max = SIZE_MAX;
  if (len <= (SIZE_MAX - ISO_JSON_MAX_OUT_SLACK) / ISO_JSON_MAX_OUT_FACTOR) {
    max = len * ISO_JSON_MAX_OUT_FACTOR + ISO_JSON_MAX_OUT_SLACK;
  }
  return iso_json_from_msgpack_max(mp, len, max, out);
}

/* ---- JSON -> msgpack ---------------------------------------------------- */

typedef struct jp {
  const char* start;
  const char* p;
  const char* end;
  iso_mp_wr w;
  iso_buf scratch; /* decoded string bodies */
  const char* err;
  const char* err_at;
} jp;

static int fail(jp* j, const char* at, const char* msg) {
  if (j->err == NULL) {
    j->err = msg;
    j->err_at = at;
  }
  return ISO_EPROTO;
}

static void skip_ws(jp* j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
    j->p++;
  }
}

static int hex4(const char* p, uint32_t* out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= (uint32_t)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= (uint32_t)(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= (uint32_t)(c - 'A' + 10);
    } else {
      return ISO_EPROTO;
    }
  }
  *out = v;
  return 0;
}

static int put_utf8(iso_buf* b, uint32_t cp) {
  uint8_t u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (uint8_t)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (uint8_t)(0xc0 | (cp >> 6));
    u[1] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (uint8_t)(0xe0 | (cp >> 12));
    u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    u[0] = (uint8_t)(0xf0 | (cp >> 18));
    u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return iso_buf_append(b, u, n);
}

/* Parses a string starting at the opening quote and writes it as a msgpack
 * str. Strings without escapes are copied straight from the text. */
static int parse_string(jp* j) {
  const char* open = j->p++;
  const char* q = j->p;
  int escaped = 0;
  while (q < j->end && *q != '"') {
    unsigned char c = (unsigned char)*q;
    if (c < 0x20) {
      return fail(j, q, "raw control character in a string");
    }
    if (c == '\\') {
      if (j->end - q < 2) {
        return fail(j, open, "unterminated string");
      }
      escaped = 1;
      q += 2;
      continue;
    }
    if (c >= 0x80) {
      int k = iso_utf8_seq((const uint8_t*)q, (size_t)(j->end - q));
      if (k < 0) {
        return fail(j, q, "invalid UTF-8 in a string");
      }
      q += k;
      continue;
    }
    q++;
  }
  if (q >= j->end) {
    return fail(j, open, "unterminated string");
  }
  if (!escaped) {
    iso_mp_put_str(&j->w, j->p, (size_t)(q - j->p));
    j->p = q + 1;
    return 0;
  }
  iso_buf* s = &j->scratch;
  iso_buf_reset(s);
  const char* p = j->p;
  while (p < q) {
    const char* run = p;
    while (p < q && *p != '\\') {
      p++;
    }
    if (iso_buf_append(s, run, (size_t)(p - run)) != 0) {
      return ISO_ENOMEM;
    }
    if (p >= q) {
      break;
    }
    const char* esc = p;
    p++; /* the backslash; the scan above guarantees p < q */
    char c = *p++;
    char one = 0;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        one = c;
        break;
      case 'b':
        one = '\b';
        break;
      case 'f':
        one = '\f';
        break;
      case 'n':
        one = '\n';
        break;
      case 'r':
        one = '\r';
        break;
      case 't':
        one = '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (q - p < 4 || hex4(p, &cp) != 0) {
          return fail(j, esc, "bad \\u escape (need 4 hex digits)");
        }
        p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && q - p >= 6 && p[0] == '\\' &&
            p[1] == 'u') {
          uint32_t lo;
          if (hex4(p + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
          }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) {
          cp = 0xfffd; /* a lone surrogate has no UTF-8 form */
        }
        if (put_utf8(s, cp) != 0) {
          return ISO_ENOMEM;
        }
        continue;
      }
      default:
        return fail(j, esc, "bad escape in a string");
    }
    if (iso_buf_append(s, &one, 1) != 0) {
      return ISO_ENOMEM;
    }
  }
  iso_mp_put_str(&j->w, (const char*)s->data, s->len);
  j->p = q + 1;
  return 0;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int parse_number(jp* j) {
  const char* s = j->p;
  const char* p = s;
  int neg = 0, is_int = 1;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p >= j->end || !is_digit(*p)) {
    return fail(j, s, "bad number");
  }
  if (*p == '0') {
    p++;
    if (p < j->end && is_digit(*p)) {
      return fail(j, s, "leading zero in a number");
    }
  } else {
    while (p < j->end && is_digit(*p)) {
      p++;
    }
  }
  if (p < j->end && *p == '.') {
    is_int = 0;
    p++;
    if (p >= j->end || !is_digit(*p)) {
      return fail(j, s, "bad number (digit expected after '.')");
    }
    while (p < j->end && is_digit(*p)) {
      p++;
    }
  }
  if (p < j->end && (*p == 'e' || *p == 'E')) {
    is_int = 0;
    p++;
    if (p < j->end && (*p == '+' || *p == '-')) {
      p++;
    }
    if (p >= j->end || !is_digit(*p)) {
      return fail(j, s, "bad number (digit expected in the exponent)");
    }
    while (p < j->end && is_digit(*p)) {
      p++;
    }
  }
  j->p = p;
  if (is_int) {
    uint64_t v = 0;
    int overflow = 0;
    for (const char* d = s + neg; d < p; d++) {
      unsigned dig = (unsigned)(*d - '0');
      if (v > (UINT64_MAX - dig) / 10) {
        overflow = 1;
        break;
      }
      v = v * 10 + dig;
    }
    if (!overflow && !neg) {
      iso_mp_put_uint(&j->w, v);
      return 0;
    }
    if (!overflow && neg && v != 0 && v <= (uint64_t)INT64_MAX + 1) {
      iso_mp_put_int(&j->w,
                     v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v);
      return 0;
    }
    /* "-0" and integers beyond 64 bits fall through to float64. */
  }
  char small[64];
  size_t n = (size_t)(p - s);
  char* buf = n < sizeof small ? small : malloc(n + 1);
  if (buf == NULL) {
    return ISO_ENOMEM;
  }
  memcpy(buf, s, n);
  buf[n] = 0;
  double d = strtod(buf, NULL);
  if (buf != small) {
    free(buf);
  }
  iso_mp_put_double(&j->w, d);
  return 0;
}

static int literal(jp* j, const char* word) {
  size_t n = strlen(word);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
    return fail(j, j->p, "unexpected character (expected a JSON value)");
  }
  j->p += n;
  return 0;
}

static int parse_value(jp* j, int depth);

/* Arrays and objects: the elements are written first, then the header is
 * slid in front of them. */
static int parse_container(jp* j, int depth, int is_map) {
  const char* open = j->p;
  if (depth > ISO_JSON_MAX_DEPTH) {
    return fail(j, open, "nesting deeper than 64");
  }
  j->p++;
  iso_buf* b = j->w.buf;
  size_t body = b->len;
  uint64_t count = 0;
  char close = is_map ? '}' : ']';
  skip_ws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++;
  } else {
    for (;;) {
      skip_ws(j);
      int rc;
      if (is_map) {
        if (j->p >= j->end || *j->p != '"') {
          return fail(j, j->p, "expected a string key");
        }
        rc = parse_string(j);
        if (rc != 0) {
          return rc;
        }
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') {
          return fail(j, j->p, "expected ':' after an object key");
        }
        j->p++;
      }
      rc = parse_value(j, depth + 1);
      if (rc != 0) {
        return rc;
      }
      count++;
      skip_ws(j);
      if (j->p < j->end && *j->p == ',') {
        j->p++;
        continue;
      }
      if (j->p < j->end && *j->p == close) {
        j->p++;
        break;
      }
      return fail(j, j->p,
                  is_map ? "expected ',' or '}' in an object"
                         : "expected ',' or ']' in an array");
    }
  }
  if (count > UINT32_MAX) {
    return fail(j, open, "too many elements");
  }
  if (j->w.err != 0) {
    return j->w.err;
  }
  uint8_t hdr[5];
  size_t h = iso_mp_container_header(hdr, is_map, (uint32_t)count);
  if (iso_buf_reserve(b, h) != 0) {
    return ISO_ENOMEM;
  }
  memmove(b->data + body + h, b->data + body, b->len - body);
  memcpy(b->data + body, hdr, h);
  b->len += h;
  return 0;
}

static int parse_value(jp* j, int depth) {
  skip_ws(j);
  if (j->p >= j->end) {
    return fail(j, j->p, "unexpected end of text (expected a JSON value)");
  }
  int rc;
  switch (*j->p) {
    case '{':
      return parse_container(j, depth, 1);
    case '[':
      return parse_container(j, depth, 0);
    case '"':
      return parse_string(j);
    case 't':
      rc = literal(j, "true");
      if (rc == 0) {
        iso_mp_put_bool(&j->w, 1);
      }
      return rc;
    case 'f':
      rc = literal(j, "false");
      if (rc == 0) {
        iso_mp_put_bool(&j->w, 0);
      }
      return rc;
    case 'n':
      rc = literal(j, "null");
      if (rc == 0) {
        iso_mp_put_nil(&j->w);
      }
      return rc;
    default:
      if (*j->p == '-' || is_digit(*j->p)) {
        return parse_number(j);
      }
      return fail(j, j->p, "unexpected character (expected a JSON value)");
  }
}

int iso_json_to_msgpack_ex(const char* text,
                           size_t len,
                           iso_buf* out,
                           iso_json_error* err) {
  size_t mark = out->len;
  jp j = {.start = text, .p = text, .end = text + len};
  iso_mp_wr_init(&j.w, out);
  iso_buf_init(&j.scratch);
  int rc = parse_value(&j, 1);
  if (rc == 0) {
    skip_ws(&j);
    if (j.p != j.end) {
      rc = fail(&j, j.p, "trailing characters after the JSON value");
    }
  }
  if (rc == 0 && j.w.err != 0) {
    rc = j.w.err;
  }
  iso_buf_close(&j.scratch);
  if (rc != 0) {
    out->len = mark;
  }
  if (rc == ISO_EPROTO && err != NULL) {
    size_t off = (size_t)(j.err_at - text);
    err->offset = off;
    err->line = 1;
    err->column = 1;
    for (size_t i = 0; i < off; i++) {
      if (text[i] == '\n') {
        err->line++;
        err->column = 1;
      } else {
        err->column++;
      }
    }
    snprintf(err->message, sizeof err->message, "%s", j.err);
  }
  return rc;
}

int iso_json_to_msgpack(const char* text, size_t len, iso_buf* out) {
  return iso_json_to_msgpack_ex(text, len, out, NULL);
}
