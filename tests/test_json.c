/* test_json.c: msgpack <-> JSON (codec/iso_json.h).
 *
 * Exact outputs for every msgpack type in both directions, the escapes and
 * UTF-8 repair, timestamps, the depth limit, and the errors (with positions)
 * for malformed JSON. Inputs are written as hex so each case shows the bytes
 * it is about.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_utf8.h"
#include "tap.h"

/* "93 01 c0" -> bytes (spaces ignored). */
static iso_buf hex(const char* h) {
  iso_buf b;
  iso_buf_init(&b);
  unsigned v = 0;
  int half = 0;
  for (; *h; h++) {
    char c = *h;
    if (c == ' ') {
      continue;
    }
    v = (v << 4) | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    if (++half == 2) {
      uint8_t byte = (uint8_t)v;
      iso_buf_append(&b, &byte, 1);
      v = 0;
      half = 0;
    }
  }
  return b;
}

static char* to_hex(const uint8_t* p, size_t n) {
  char* s = malloc(n * 2 + 1);
  for (size_t i = 0; i < n; i++) {
    snprintf(s + 2 * i, 3, "%02x", p[i]);
  }
  s[2 * n] = 0;
  return s;
}

/* Strips spaces so expectations can be written grouped. */
static char* compact(const char* h) {
  char* s = malloc(strlen(h) + 1);
  char* o = s;
  for (; *h; h++) {
    if (*h != ' ') {
      *o++ = *h;
    }
  }
  *o = 0;
  return s;
}

typedef struct mp_case {
  const char* mp;   /* hex */
  const char* json; /* expected text */
} mp_case;

static void run_to_json(const mp_case* t) {
  for (; t->mp != NULL; t++) {
    iso_buf in = hex(t->mp);
    iso_buf out;
    iso_buf_init(&out);
    int rc = iso_json_from_msgpack(in.data, in.len, &out);
    CHECK_EQ(rc, 0);
    if (rc == 0) {
      CHECK_STR((const char*)out.data, t->json);
      CHECK_EQ(out.len, strlen(t->json));
    } else {
      fprintf(stderr, "    input: %s\n", t->mp);
    }
    iso_buf_close(&in);
    iso_buf_close(&out);
  }
}

typedef struct json_case {
  const char* json;
  const char* mp; /* expected hex */
} json_case;

static void run_to_mp(const json_case* t) {
  for (; t->json != NULL; t++) {
    iso_buf out;
    iso_buf_init(&out);
    iso_json_error e;
    int rc = iso_json_to_msgpack_ex(t->json, strlen(t->json), &out, &e);
    CHECK_EQ(rc, 0);
    if (rc != 0) {
      fprintf(stderr, "    input: %s (%s)\n", t->json, e.message);
    } else {
      char* got = to_hex(out.data, out.len);
      char* want = compact(t->mp);
      CHECK_STR(got, want);
      free(got);
      free(want);
    }
    iso_buf_close(&out);
  }
}

/* ---- msgpack -> JSON ---------------------------------------------------- */

static void t_scalars(void) {
  static const mp_case cases[] = {
      {"c0", "null"},
      {"c2", "false"},
      {"c3", "true"},
      {"00", "0"},
      {"7f", "127"},
      {"cc ff", "255"},
      {"cd ffff", "65535"},
      {"ce ffffffff", "4294967295"},
      {"cf ffffffffffffffff", "18446744073709551615"},
      {"e0", "-32"},
      {"ff", "-1"},
      {"d0 80", "-128"},
      {"d0 05", "5"}, /* a signed encoding of a positive number */
      {"d1 8000", "-32768"},
      {"d2 80000000", "-2147483648"},
      {"d3 8000000000000000", "-9223372036854775808"},
      {NULL, NULL}};
  run_to_json(cases);
}

static void t_floats(void) {
  static const mp_case cases[] = {
      {"cb 3ff8000000000000", "1.5"},
      {"cb 3fb999999999999a", "0.1"},
      {"cb 3fd3333333333334", "0.30000000000000004"},
      {"cb 4000000000000000", "2.0"}, /* integral floats stay floats */
      {"cb 8000000000000000", "-0.0"},
      {"cb 4415af1d78b58c40", "100000000000000000000.0"},
      {"cb 444b1ae4d6e2ef50", "1e+21"}, /* exponent form from 1e21 up */
      {"cb 3eb0c6f7a0b5ed8d", "0.000001"},
      {"cb 3e8421f5f40d8376", "1.5e-7"}, /* ... and below 1e-6 */
      {"cb 40fe240c9fbe76c9", "123456.789"},
      {"cb bf647ae147ae147b", "-0.0025"},
      {"cb 0000000000000001", "5e-324"},
      {"cb 7fefffffffffffff", "1.7976931348623157e+308"},
      {"cb 7ff8000000000000", "null"}, /* NaN */
      {"cb 7ff0000000000000", "null"}, /* Infinity */
      {"cb fff0000000000000", "null"}, /* -Infinity */
      {"ca 3dcccccd", "0.1"},          /* float32 0.1, not 0.100000001 */
      {"ca 3fc00000", "1.5"},
      {"ca 7fc00000", "null"},
      {NULL, NULL}};
  run_to_json(cases);
}

static void t_strings(void) {
  static const mp_case cases[] = {
      {"a0", "\"\""},
      {"a5 68656c6c6f", "\"hello\""},
      {"a2 222f", "\"\\\"/\""}, /* quote escaped, slash not */
      {"a1 5c", "\"\\\\\""},
      {"a7 080c0a0d09017f", "\"\\b\\f\\n\\r\\t\\u0001\x7f\""},
      {"a1 1f", "\"\\u001f\""},
      {"a1 00", "\"\\u0000\""},
      {"a2 c3a9", "\"\xc3\xa9\""},             /* é passes through */
      {"a3 e282ac", "\"\xe2\x82\xac\""},       /* € */
      {"a4 f09f9880", "\"\xf0\x9f\x98\x80\""}, /* U+1F600 */
      {"a3 e280a8", "\"\xe2\x80\xa8\""},       /* U+2028 is legal JSON */
      {"d9 20 6161616161616161616161616161616161616161616161616161616161616161",
       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
      {NULL, NULL}};
  run_to_json(cases);
}

/* Each maximal ill-formed subsequence becomes one U+FFFD (Unicode 15,
 * section 3.9, "U+FFFD substitution of maximal subparts"). */
static void t_invalid_utf8(void) {
#define R "\xef\xbf\xbd"
  static const mp_case cases[] = {
      {"a1 ff", "\"" R "\""},
      {"a1 80", "\"" R "\""},             /* lone continuation */
      {"a2 e282", "\"" R "\""},           /* truncated 3-byte: one */
      {"a3 61e282", "\"a" R "\""},        /* ... at the end */
      {"a4 61e28262", "\"a" R "b\""},     /* ... in the middle */
      {"a2 c0af", "\"" R R "\""},         /* overlong lead: two */
      {"a3 eda080", "\"" R R R "\""},     /* a surrogate: three */
      {"a4 f4908080", "\"" R R R R "\""}, /* past U+10FFFF: four */
      {"a3 f09f98", "\"" R "\""},         /* truncated 4-byte */
      {"a5 c3a9ffc3a9", "\"\xc3\xa9" R "\xc3\xa9\""},
      {"a2 0aff", "\"\\n" R "\""},
      {NULL, NULL}};
#undef R
  run_to_json(cases);
}

static void t_bin(void) {
  static const mp_case cases[] = {{"c4 00", "\"\""},
                                  {"c4 01 ff", "\"/w==\""},
                                  {"c4 02 fffe", "\"//4=\""},
                                  {"c4 03 4d616e", "\"TWFu\""},
                                  {"c4 04 4d616e00", "\"TWFuAA==\""},
                                  {"c5 0003 000102", "\"AAEC\""},
                                  {"c6 00000002 fbff", "\"+/8=\""},
                                  {NULL, NULL}};
  run_to_json(cases);
}

static void t_containers(void) {
  static const mp_case cases[] = {
      {"90", "[]"},
      {"80", "{}"},
      {"93 01 a1 61 c0", "[1,\"a\",null]"},
      {"82 a1 61 01 a1 62 92 c3 c2", "{\"a\":1,\"b\":[true,false]}"},
      {"dc 0002 01 02", "[1,2]"},
      {"dd 00000001 90", "[[]]"},
      {"de 0001 a1 6b 80", "{\"k\":{}}"},
      {"91 91 91 c0", "[[[null]]]"},
      /* non-string keys: the key's JSON text becomes the name */
      {"81 01 02", "{\"1\":2}"},
      {"81 ff 02", "{\"-1\":2}"},
      {"81 c0 01", "{\"null\":1}"},
      {"81 c3 01", "{\"true\":1}"},
      {"81 92 01 02 03", "{\"[1,2]\":3}"},
      {"81 81 a1 61 01 02", "{\"{\\\"a\\\":1}\":2}"},
      {"81 c4 01 ff 01", "{\"\\\"/w==\\\"\":1}"},
      {"81 a1 22 01", "{\"\\\"\":1}"},
      {"82 a1 61 01 a1 61 02", "{\"a\":1,\"a\":2}"}, /* duplicates kept */
      {NULL, NULL}};
  run_to_json(cases);
}

static void t_timestamp(void) {
  static const mp_case cases[] = {
      {"d6 ff 00000000", "\"1970-01-01T00:00:00.000Z\""},
      {"d6 ff 65937d25", "\"2024-01-02T03:04:05.000Z\""},
      /* 64-bit form: 30-bit nanoseconds (678901234, truncated to ms) */
      {"d7 ff a1dcd7c865937d25", "\"2024-01-02T03:04:05.678Z\""},
      /* 96-bit form: before 1970 and outside 0000..9999 */
      {"c7 0c ff 00000000 ffffffffffffffff", "\"1969-12-31T23:59:59.000Z\""},
      {"c7 0c ff 1dcd6500 ffffffffffffffff", "\"1969-12-31T23:59:59.500Z\""},
      {"c7 0c ff 00000000 0000003afff44180", "\"+010000-01-01T00:00:00.000Z\""},
      {"c7 0c ff 00000000 fffffff184aa5080", "\"-000001-01-01T00:00:00.000Z\""},
      {"c7 0c ff 00000000 fffffff1868b8400", "\"0000-01-01T00:00:00.000Z\""},
      /* not a valid timestamp: the generic ext form */
      {"c7 0c ff 3b9aca00 0000000000000000", /* nanoseconds = 1e9 */
       "{\"ext\":-1,\"data\":\"O5rKAAAAAAAAAAAA\"}"},
      {"c7 03 ff 010203", "{\"ext\":-1,\"data\":\"AQID\"}"},
      /* other ext types */
      {"d4 05 ab", "{\"ext\":5,\"data\":\"qw==\"}"},
      {"c7 00 80", "{\"ext\":-128,\"data\":\"\"}"},
      {"d5 7f 0102", "{\"ext\":127,\"data\":\"AQI=\"}"},
      {NULL, NULL}};
  run_to_json(cases);
}

/* n nested arrays around null, as msgpack. */
static iso_buf nested_mp(int n) {
  iso_buf b;
  iso_buf_init(&b);
  uint8_t one_elem = 0x91, nil = 0xc0;
  for (int i = 0; i < n; i++) {
    iso_buf_append(&b, &one_elem, 1);
  }
  iso_buf_append(&b, &nil, 1);
  return b;
}

static char* nested_json(int n) {
  char* s = malloc((size_t)n * 2 + 5);
  memset(s, '[', (size_t)n);
  memcpy(s + n, "null", 4);
  memset(s + n + 4, ']', (size_t)n);
  s[2 * n + 4] = 0;
  return s;
}

static void t_depth_limit(void) {
  iso_buf out;
  iso_buf_init(&out);
  /* msgpack -> JSON prints what the runtime can produce (100 levels) and
   * up to ISO_JSON_MAX_PRINT_DEPTH */
  int depths[] = {100, ISO_JSON_MAX_PRINT_DEPTH};
  for (int i = 0; i < 2; i++) {
    iso_buf ok = nested_mp(depths[i]);
    iso_buf_reset(&out);
    CHECK_EQ(iso_json_from_msgpack(ok.data, ok.len, &out), 0);
    char* want = nested_json(depths[i]);
    CHECK_STR((const char*)out.data, want);
    free(want);
    iso_buf_close(&ok);
  }
  iso_buf deep = nested_mp(ISO_JSON_MAX_PRINT_DEPTH + 1);
  iso_buf_reset(&out);
  CHECK_EQ(iso_json_from_msgpack(deep.data, deep.len, &out), ISO_EPROTO);
  CHECK_EQ(out.len, 0);
  iso_buf_close(&deep);
  /* 100,000 levels: refused without recursing that deep */
  deep = nested_mp(100000);
  CHECK_EQ(iso_json_from_msgpack(deep.data, deep.len, &out), ISO_EPROTO);
  iso_buf_close(&deep);

  /* JSON -> msgpack: 64 levels */
  iso_buf ok = nested_mp(ISO_JSON_MAX_DEPTH);
  char* want = nested_json(ISO_JSON_MAX_DEPTH);
  iso_buf_reset(&out);
  CHECK_EQ(iso_json_to_msgpack(want, strlen(want), &out), 0);
  CHECK_EQ(out.len, ok.len);
  CHECK(memcmp(out.data, ok.data, ok.len) == 0);
  free(want);
  char* deeper = nested_json(ISO_JSON_MAX_DEPTH + 1);
  iso_json_error e;
  iso_buf_reset(&out);
  CHECK_EQ(iso_json_to_msgpack_ex(deeper, strlen(deeper), &out, &e),
           ISO_EPROTO);
  CHECK_CONTAINS(e.message, "nesting deeper than 64");
  CHECK_EQ(e.offset, ISO_JSON_MAX_DEPTH);
  CHECK_EQ(out.len, 0);
  free(deeper);
  deeper = nested_json(100000);
  CHECK_EQ(iso_json_to_msgpack(deeper, strlen(deeper), &out), ISO_EPROTO);
  free(deeper);
  iso_buf_close(&ok);
  iso_buf_close(&out);
}

/* levels maps, each the key of the next ({{{"s": nil}: nil}: nil}), around
 * the string key s: the outermost map's key nests levels - 1 deep. */
static iso_buf keyed_maps(int levels, const char* s, size_t n) {
  iso_buf b;
  iso_buf_init(&b);
  uint8_t map1 = 0x81, nil = 0xc0;
  for (int i = 0; i < levels; i++) {
    iso_buf_append(&b, &map1, 1);
  }
  uint8_t hdr[5] = {0xdb, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
                    (uint8_t)(n >> 8), (uint8_t)n};
  iso_buf_append(&b, hdr, 5);
  iso_buf_append(&b, s, n);
  for (int i = 0; i < levels; i++) {
    iso_buf_append(&b, &nil, 1);
  }
  return b;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Map keys that are maps are quoted once per level, doubling the text each
 * time: 62 levels in 140 bytes once printed 2^62 bytes. Now the levels are
 * capped and the text has a budget; past either, ISO_ETOOBIG, fast. */
static void t_key_nesting(void) {
  iso_buf out;
  iso_buf_init(&out);
  /* two levels: the key's own key is quoted twice */
  iso_buf two = keyed_maps(3, "\"", 1);
  CHECK_EQ(iso_json_from_msgpack(two.data, two.len, &out), 0);
  CHECK_STR(
      (const char*)out.data,
      "{\"{\\\"{\\\\\\\"\\\\\\\\\\\\\\\"\\\\\\\":null}\\\":null}\":null}");
  iso_buf_close(&two);

  /* the attack: 62 levels around a string of 20 quotes, 150 bytes */
  iso_buf bomb = keyed_maps(63, "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"", 20);
  CHECK(bomb.len <= 160);
  iso_buf_reset(&out);
  iso_buf_append(&out, "keep", 4);
  double t0 = now_s();
  CHECK_EQ(iso_json_from_msgpack(bomb.data, bomb.len, &out), ISO_ETOOBIG);
  CHECK_EQ(iso_json_from_msgpack_max(bomb.data, bomb.len, SIZE_MAX, &out),
           ISO_ETOOBIG);
  CHECK(now_s() - t0 < 0.5);
  CHECK_EQ(out.len, 4); /* left as it was */
  iso_buf_close(&bomb);

  /* the cap: ISO_JSON_MAX_KEY_DEPTH levels print, one more does not */
  iso_buf ok = keyed_maps(ISO_JSON_MAX_KEY_DEPTH + 1, "a", 1);
  iso_buf_reset(&out);
  CHECK_EQ(iso_json_from_msgpack(ok.data, ok.len, &out), 0);
  CHECK(out.len > 0 && out.data[0] == '{');
  iso_buf deeper = keyed_maps(ISO_JSON_MAX_KEY_DEPTH + 2, "a", 1);
  CHECK_EQ(iso_json_from_msgpack(deeper.data, deeper.len, &out), ISO_ETOOBIG);
  iso_buf_close(&ok);
  iso_buf_close(&deeper);

  /* the default budget: 16 bytes per msgpack byte + 1 MiB. 8 levels of
   * 10,000 backslashes print about 2.5 MB from 10 KB: over it, but fine
   * with a budget of one's own */
  char* bs = malloc(10000);
  memset(bs, '\\', 10000);
  iso_buf big = keyed_maps(ISO_JSON_MAX_KEY_DEPTH + 1, bs, 10000);
  free(bs);
  iso_buf_reset(&out);
  CHECK_EQ(iso_json_from_msgpack(big.data, big.len, &out), ISO_ETOOBIG);
  CHECK_EQ(out.len, 0);
  CHECK_EQ(iso_json_from_msgpack_max(big.data, big.len, SIZE_MAX, &out), 0);
  size_t full = out.len;
  CHECK(full > ISO_JSON_MAX_OUT_FACTOR * big.len + ISO_JSON_MAX_OUT_SLACK);
  iso_buf_close(&big);

  /* a budget is exact: the text's own length fits, one byte less does not */
  static const char* const hexes[] = {"93 01 a1 61 c0", "81 81 a1 61 01 02",
                                      "c4 03 4d616e", NULL};
  for (const char* const* h = hexes; *h != NULL; h++) {
    iso_buf in = hex(*h);
    iso_buf_reset(&out);
    CHECK_EQ(iso_json_from_msgpack(in.data, in.len, &out), 0);
    size_t len = out.len;
    iso_buf_reset(&out);
    CHECK_EQ(iso_json_from_msgpack_max(in.data, in.len, len, &out), 0);
    CHECK_EQ(out.len, len);
    iso_buf_reset(&out);
    CHECK_EQ(iso_json_from_msgpack_max(in.data, in.len, len - 1, &out),
             ISO_ETOOBIG);
    CHECK_EQ(out.len, 0);
    iso_buf_close(&in);
  }
  /* and a NULL input is refused, not read */
  CHECK_EQ(iso_json_from_msgpack(NULL, 0, &out), ISO_EPROTO);
  iso_buf_close(&out);
}

static void t_bad_msgpack(void) {
  static const char* const bad[] = {
      "",               /* nothing */
      "a5 6869",        /* str shorter than its length */
      "c0 c0",          /* trailing bytes */
      "c1",             /* never used */
      "92 01",          /* array missing an element */
      "dd ffffffff",    /* four billion elements in 5 bytes */
      "df 7fffffff 01", /* same for a map */
      "cb 3ff0",        /* short float */
      "c7 05 01 00",    /* short ext */
      "81 01",          /* map missing a value */
      NULL};
  for (const char* const* h = bad; *h != NULL; h++) {
    iso_buf in = hex(*h);
    iso_buf out;
    iso_buf_init(&out);
    iso_buf_append(&out, "keep", 4);
    int rc = iso_json_from_msgpack(in.data, in.len, &out);
    CHECK_EQ(rc, ISO_EPROTO);
    if (rc != ISO_EPROTO) {
      fprintf(stderr, "    input: %s\n", *h);
    }
    CHECK_EQ(out.len, 4); /* left as it was */
    iso_buf_close(&in);
    iso_buf_close(&out);
  }
}

/* ---- JSON -> msgpack ---------------------------------------------------- */

static void t_json_scalars(void) {
  static const json_case cases[] = {
      {"null", "c0"},
      {"true", "c3"},
      {"false", "c2"},
      {"0", "00"},
      {"127", "7f"},
      {"128", "cc 80"},
      {"65536", "ce 00010000"},
      {"-1", "ff"},
      {"-32", "e0"},
      {"-33", "d0 df"},
      {"18446744073709551615", "cf ffffffffffffffff"},
      {"-9223372036854775808", "d3 8000000000000000"},
      /* beyond 64 bits, or not integers: float64 */
      {"18446744073709551616", "cb 43f0000000000000"},
      {"-9223372036854775809", "cb c3e0000000000000"},
      {"-0", "cb 8000000000000000"},
      {"1.5", "cb 3ff8000000000000"},
      {"1.0", "cb 3ff0000000000000"},
      {"1e2", "cb 4059000000000000"},
      {"1E+2", "cb 4059000000000000"},
      {"-2.5e-3", "cb bf647ae147ae147b"},
      {"0.1", "cb 3fb999999999999a"},
      {"1e400", "cb 7ff0000000000000"},
      {" \t\r\n 7 \n", "07"},
      {NULL, NULL}};
  run_to_mp(cases);
}

static void t_json_strings(void) {
  static const json_case cases[] = {
      {"\"\"", "a0"},
      {"\"abc\"", "a3 616263"},
      {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "a8 225c2f080c0a0d09"},
      {"\"\\u00e9\"", "a2 c3a9"},
      {"\"\\u00E9\"", "a2 c3a9"},
      {"\"\\u0000\"", "a1 00"},
      {"\"\\u20ac\"", "a3 e282ac"},
      {"\"\\ud83d\\ude00\"", "a4 f09f9880"}, /* surrogate pair */
      {"\"\\ud800\"", "a3 efbfbd"},          /* lone high surrogate */
      {"\"\\udc00x\"", "a4 efbfbd78"},       /* lone low surrogate */
      {"\"\\ud800\\u0041\"", "a4 efbfbd41"}, /* high + non-low */
      {"\"\xc3\xa9\xf0\x9f\x98\x80\"", "a6 c3a9f09f9880"},
      {"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
       "d9 20 "
       "6161616161616161616161616161616161616161616161616161616161616161"},
      {NULL, NULL}};
  run_to_mp(cases);
}

static void t_json_containers(void) {
  static const json_case cases[] = {
      {"[]", "90"},
      {"{}", "80"},
      {"[ ]", "90"},
      {"{ }", "80"},
      {"[1,[2],{}]", "93 01 91 02 80"},
      {"{\"a\":1,\"b\":[true,null]}", "82 a1 61 01 a1 62 92 c3 c0"},
      {" { \"a\" : [ 1 , 2 ] } ", "81 a1 61 92 01 02"},
      {"{\"a\":1,\"a\":2}", "82 a1 61 01 a1 61 02"},
      {"[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "9f 010101010101010101010101010101"},
      {"[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
       "dc 0010 01010101010101010101010101010101"},
      {"[[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],2]",
       "92 dc 0010 01010101010101010101010101010101 02"},
      {NULL, NULL}};
  run_to_mp(cases);
}

static void t_json_big_containers(void) {
  /* 70,000 elements: an array32 header slid in front of the elements */
  size_t n = 70000;
  char* text = malloc(n * 2 + 2);
  text[0] = '[';
  for (size_t i = 0; i < n; i++) {
    text[1 + 2 * i] = '0';
    text[2 + 2 * i] = i + 1 < n ? ',' : ']';
  }
  text[n * 2 + 1] = 0;
  iso_buf out;
  iso_buf_init(&out);
  CHECK_EQ(iso_json_to_msgpack(text, strlen(text), &out), 0);
  CHECK_EQ(out.len, 5 + n);
  CHECK_EQ(out.data[0], 0xdd);
  CHECK_EQ((out.data[1] << 24) | (out.data[2] << 16) | (out.data[3] << 8) |
               out.data[4],
           n);
  iso_buf back;
  iso_buf_init(&back);
  CHECK_EQ(iso_json_from_msgpack(out.data, out.len, &back), 0);
  CHECK_STR((const char*)back.data, text);
  iso_buf_close(&back);
  iso_buf_close(&out);
  free(text);
}

typedef struct bad_json {
  const char* text;
  const char* message; /* expected substring */
  int line, column;
} bad_json;

static void t_json_errors(void) {
  static const bad_json cases[] = {
      {"", "unexpected end", 1, 1},
      {"   ", "unexpected end", 1, 4},
      {"[1,]", "expected a JSON value", 1, 4},
      {"{\"a\":1,}", "expected a string key", 1, 8},
      {"[1 2]", "expected ',' or ']'", 1, 4},
      {"{\"a\" 1}", "expected ':'", 1, 6},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}'", 1, 8},
      {"{1:2}", "expected a string key", 1, 2},
      {"[1", "expected ',' or ']'", 1, 3},
      {"01", "leading zero", 1, 1},
      {"-01", "leading zero", 1, 1},
      {"1.", "digit expected after '.'", 1, 1},
      {".5", "expected a JSON value", 1, 1},
      {"+1", "expected a JSON value", 1, 1},
      {"1e", "digit expected in the exponent", 1, 1},
      {"1e+", "digit expected in the exponent", 1, 1},
      {"-", "bad number", 1, 1},
      {"tru", "expected a JSON value", 1, 1},
      {"nul", "expected a JSON value", 1, 1},
      {"NaN", "expected a JSON value", 1, 1},
      {"Infinity", "expected a JSON value", 1, 1},
      {"'a'", "expected a JSON value", 1, 1},
      {"\"abc", "unterminated string", 1, 1},
      {"\"abc\\", "unterminated string", 1, 1},
      {"\"a\x01\"", "raw control character", 1, 3},
      {"\"a\nb\"", "raw control character", 1, 3},
      {"\"\\x\"", "bad escape", 1, 2},
      {"\"\\u12\"", "bad \\u escape", 1, 2},
      {"\"\\u12g4\"", "bad \\u escape", 1, 2},
      {"\"\xff\"", "invalid UTF-8", 1, 2},
      {"\"\xed\xa0\x80\"", "invalid UTF-8", 1, 2}, /* encoded surrogate */
      {"\"\xc0\xaf\"", "invalid UTF-8", 1, 2},     /* overlong */
      {"[1] x", "trailing characters", 1, 5},
      {"1 2", "trailing characters", 1, 3},
      {"\xef\xbb\xbf"
       "1",
       "expected a JSON value", 1, 1}, /* BOM */
      {"/*c*/1", "expected a JSON value", 1, 1},
      {"[\n1,\n]", "expected a JSON value", 3, 1},
      {"{\n  \"a\": [1,\n   2,,\n", "expected a JSON value", 3, 6},
      {NULL, NULL, 0, 0}};
  for (const bad_json* t = cases; t->text != NULL; t++) {
    iso_buf out;
    iso_buf_init(&out);
    iso_buf_append(&out, "keep", 4);
    iso_json_error e;
    memset(&e, 0, sizeof e);
    int rc = iso_json_to_msgpack_ex(t->text, strlen(t->text), &out, &e);
    CHECK_EQ(rc, ISO_EPROTO);
    CHECK_CONTAINS(e.message, t->message);
    CHECK_EQ(e.line, t->line);
    CHECK_EQ(e.column, t->column);
    CHECK_EQ(out.len, 4);
    if (rc != ISO_EPROTO || e.line != t->line || e.column != t->column) {
      fprintf(stderr, "    input: %s\n", t->text);
    }
    iso_buf_close(&out);
  }
  /* the text need not be NUL-terminated, and bytes past len are not read */
  iso_buf out;
  iso_buf_init(&out);
  CHECK_EQ(iso_json_to_msgpack("[1]garbage", 3, &out), 0);
  CHECK_EQ(out.len, 2);
  CHECK_EQ(iso_json_to_msgpack("\"ab\"", 3, &out), ISO_EPROTO);
  iso_buf_close(&out);
}

/* ---- both ways ---------------------------------------------------------- */

static void t_round_trips(void) {
  /* JSON that is already canonical comes back byte for byte. */
  static const char* const texts[] = {
      "null",
      "[1,-2,3.5,\"x\\n\",true,false,null,{},[]]",
      "{\"a\":{\"b\":{\"c\":[0,18446744073709551615,-9223372036854775808]}}}",
      "[0.1,1e+300,-0.0,2.0,5e-324,1.7976931348623157e+308,0.0025,1.5e-7]",
      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \\\" \\\\ \\u0000 \\u001f\"",
      "{\"\":\"\",\"k\\\"ey\":\"v\"}",
      NULL};
  for (const char* const* t = texts; *t != NULL; t++) {
    iso_buf mp, back;
    iso_buf_init(&mp);
    iso_buf_init(&back);
    CHECK_EQ(iso_json_to_msgpack(*t, strlen(*t), &mp), 0);
    CHECK_EQ(iso_json_from_msgpack(mp.data, mp.len, &back), 0);
    CHECK_STR((const char*)back.data, *t);
    /* and msgpack -> JSON -> msgpack gives the same bytes */
    iso_buf mp2;
    iso_buf_init(&mp2);
    CHECK_EQ(iso_json_to_msgpack((const char*)back.data, back.len, &mp2), 0);
    CHECK(mp2.len == mp.len && memcmp(mp2.data, mp.data, mp.len) == 0);
    iso_buf_close(&mp);
    iso_buf_close(&mp2);
    iso_buf_close(&back);
  }
  /* Non-canonical JSON normalises: escapes decoded, spaces dropped. */
  const char* in = " [ \"\\u0041\\/\" , 1E2 , {\"a\" :\t[ ] } ] ";
  iso_buf mp, back;
  iso_buf_init(&mp);
  iso_buf_init(&back);
  CHECK_EQ(iso_json_to_msgpack(in, strlen(in), &mp), 0);
  CHECK_EQ(iso_json_from_msgpack(mp.data, mp.len, &back), 0);
  CHECK_STR((const char*)back.data, "[\"A/\",100.0,{\"a\":[]}]");
  iso_buf_close(&mp);
  iso_buf_close(&back);
}

static uint32_t rnd(uint32_t* seed) {
  *seed = *seed * 1103515245u + 12345u;
  return (*seed >> 16) & 0x7fff;
}

/* Random bytes and mutated JSON must never crash or leak (ASan build), and
 * whatever JSON the converter emits must parse back. */
static void t_garbage(void) {
  uint32_t seed = 12345;
#define RND() rnd(&seed)
  uint8_t buf[64];
  iso_buf out, mp;
  iso_buf_init(&out);
  iso_buf_init(&mp);
  int accepted = 0;
  for (int i = 0; i < 50000; i++) {
    size_t n = RND() % sizeof buf;
    for (size_t k = 0; k < n; k++) {
      buf[k] = (uint8_t)RND();
    }
    iso_buf_reset(&out);
    if (iso_json_from_msgpack(buf, n, &out) == 0) {
      accepted++;
      iso_buf_reset(&mp);
      CHECK_EQ(iso_json_to_msgpack((const char*)out.data, out.len, &mp), 0);
    }
  }
  CHECK(accepted > 0);
  static const char base[] =
      "{\"a\":[1,2.5e3,\"x\\u00e9\\n\",true,null,{\"b\":[]}],\"c\":-7}";
  char text[sizeof base];
  for (int i = 0; i < 50000; i++) {
    memcpy(text, base, sizeof base);
    int edits = 1 + (int)(RND() % 3);
    for (int e = 0; e < edits; e++) {
      text[RND() % (sizeof base - 1)] = "{}[]\",:\\0-e.u \x01\xff"[RND() % 17];
    }
    iso_buf_reset(&mp);
    if (iso_json_to_msgpack(text, sizeof base - 1, &mp) == 0) {
      iso_buf_reset(&out);
      CHECK_EQ(iso_json_from_msgpack(mp.data, mp.len, &out), 0);
    }
  }
#undef RND
  iso_buf_close(&out);
  iso_buf_close(&mp);
}

/* ---- codec/iso_utf8.h, the one validator -------------------------------- */

static void t_utf8(void) {
  static const struct {
    const char* name;
    const char* in; /* hex */
    int valid;
    const char* repaired; /* hex */
  } cases[] = {
      {"empty", "", 1, ""},
      {"ascii", "61 62", 1, "61 62"},
      {"two bytes", "c3 a9", 1, "c3 a9"},
      {"four bytes", "f0 9f 98 80", 1, "f0 9f 98 80"},
      {"max", "f4 8f bf bf", 1, "f4 8f bf bf"},
      {"lone continuation", "80", 0, "ef bf bd"},
      {"overlong", "c0 af", 0, "ef bf bd ef bf bd"},
      {"surrogate", "ed a0 80", 0, "ef bf bd ef bf bd ef bf bd"},
      {"past U+10FFFF", "f4 90 80 80", 0,
       "ef bf bd ef bf bd ef bf bd ef bf bd"},
      /* a truncated sequence is one maximal subpart: one U+FFFD */
      {"truncated", "61 e2 82", 0, "61 ef bf bd"},
      {"truncated then ascii", "e2 82 61", 0, "ef bf bd 61"},
      {"ff", "ff 61", 0, "ef bf bd 61"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    iso_buf in = hex(cases[i].in);
    iso_buf want = hex(cases[i].repaired);
    iso_buf out;
    iso_buf_init(&out);
    iso_buf_append(&out, "k", 1);
    int failed = iso_test_failed;
    CHECK_EQ(iso_utf8_valid(in.data, in.len), cases[i].valid);
    CHECK_EQ(iso_utf8_append(&out, in.data, in.len), 0);
    CHECK(out.len == 1 + want.len &&
          (want.len == 0 || memcmp(out.data + 1, want.data, want.len) == 0));
    CHECK(iso_utf8_valid(out.data, out.len));
    if (iso_test_failed && !failed) {
      fprintf(stderr, "    case: %s\n", cases[i].name);
    }
    iso_buf_close(&in);
    iso_buf_close(&want);
    iso_buf_close(&out);
  }
  CHECK_EQ(iso_utf8_valid(NULL, 0), 1);
}

static const iso_test cases[] = {{"scalars", t_scalars},
                                 {"floats", t_floats},
                                 {"strings", t_strings},
                                 {"invalid_utf8", t_invalid_utf8},
                                 {"bin", t_bin},
                                 {"containers", t_containers},
                                 {"timestamp", t_timestamp},
                                 {"depth_limit", t_depth_limit},
                                 {"key_nesting", t_key_nesting},
                                 {"bad_msgpack", t_bad_msgpack},
                                 {"json_scalars", t_json_scalars},
                                 {"json_strings", t_json_strings},
                                 {"json_containers", t_json_containers},
                                 {"json_big_containers", t_json_big_containers},
                                 {"json_errors", t_json_errors},
                                 {"round_trips", t_round_trips},
                                 {"garbage", t_garbage},
                                 {"utf8", t_utf8},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
