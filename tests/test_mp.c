/* test_mp.c: the codec's msgpack reader and writer (codec/iso_mp.h).
 *
 * The writer's forms at every boundary (they are msgpack-c's packer's, byte
 * for byte, and the V8 shim's), the timestamp shapes, the sticky error; the
 * reader's refusals (truncation, 0xc1, counts the bytes cannot hold), its
 * inline fast path against the general one for every one-byte form, the
 * depth bound of iso_mp_skip and iso_mp_one, a buffer that starts in its
 * caller's storage (iso_buf_init_with), and the small helpers. The
 * protocol and JSON suites cover the codec through its users.
 */
#include <stdint.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "tap.h"

/* The buffer's bytes as lowercase hex, in a static string. */
static const char* hex(const iso_buf* b) {
  static char s[256];
  size_t n = b->len < 120 ? b->len : 120;
  for (size_t i = 0; i < n; i++) {
    snprintf(s + 2 * i, 3, "%02x", b->data[i]);
  }
  s[2 * n] = 0;
  return s;
}

typedef enum { P_INT, P_UINT, P_STR, P_BIN, P_ARRAY, P_MAP } put_kind;

typedef struct put_row {
  const char* name;
  put_kind kind;
  int64_t v;        /* the value, or the length / count */
  const char* want; /* the first bytes, in hex (a str/bin body is 'x's) */
} put_row;

static const put_row kPuts[] = {
    {"int 0", P_INT, 0, "00"},
    {"int 127", P_INT, 127, "7f"},
    {"int 128", P_INT, 128, "cc80"},
    {"int 255", P_INT, 255, "ccff"},
    {"int 256", P_INT, 256, "cd0100"},
    {"int 65535", P_INT, 65535, "cdffff"},
    {"int 65536", P_INT, 65536, "ce00010000"},
    {"int 2^32-1", P_INT, 4294967295LL, "ceffffffff"},
    {"int 2^32", P_INT, 4294967296LL, "cf0000000100000000"},
    {"int max", P_INT, INT64_MAX, "cf7fffffffffffffff"},
    {"int -1", P_INT, -1, "ff"},
    {"int -32", P_INT, -32, "e0"},
    {"int -33", P_INT, -33, "d0df"},
    {"int -128", P_INT, -128, "d080"},
    {"int -129", P_INT, -129, "d1ff7f"},
    {"int -32768", P_INT, -32768, "d18000"},
    {"int -32769", P_INT, -32769, "d2ffff7fff"},
    {"int -2^31", P_INT, -2147483648LL, "d280000000"},
    {"int -2^31-1", P_INT, -2147483649LL, "d3ffffffff7fffffff"},
    {"int min", P_INT, INT64_MIN, "d38000000000000000"},
    {"uint 2^64-1", P_UINT, -1, "cfffffffffffffffff"},
    {"str 0", P_STR, 0, "a0"},
    {"str 31", P_STR, 31, "bf78"},
    {"str 32", P_STR, 32, "d92078"},
    {"str 255", P_STR, 255, "d9ff78"},
    {"str 256", P_STR, 256, "da010078"},
    {"str 65536", P_STR, 65536, "db0001000078"},
    {"bin 0", P_BIN, 0, "c400"},
    {"bin 255", P_BIN, 255, "c4ff78"},
    {"bin 256", P_BIN, 256, "c5010078"},
    {"bin 65536", P_BIN, 65536, "c60001000078"},
    {"array 15", P_ARRAY, 15, "9f"},
    {"array 16", P_ARRAY, 16, "dc0010"},
    {"array 65536", P_ARRAY, 65536, "dd00010000"},
    {"map 15", P_MAP, 15, "8f"},
    {"map 16", P_MAP, 16, "de0010"},
    {"map 65536", P_MAP, 65536, "df00010000"},
};

static char xs[70000];

static void t_put_forms(void) {
  memset(xs, 'x', sizeof xs);
  for (size_t i = 0; i < sizeof kPuts / sizeof kPuts[0]; i++) {
    const put_row* r = &kPuts[i];
    iso_buf b;
    iso_buf_init(&b);
    iso_mp_wr w;
    iso_mp_wr_init(&w, &b);
    size_t body = 0;
    switch (r->kind) {
      case P_INT:
        iso_mp_put_int(&w, r->v);
        break;
      case P_UINT:
        iso_mp_put_uint(&w, (uint64_t)r->v);
        break;
      case P_STR:
        iso_mp_put_str(&w, xs, (size_t)r->v);
        body = (size_t)r->v;
        break;
      case P_BIN:
        iso_mp_put_bin(&w, xs, (size_t)r->v);
        body = (size_t)r->v;
        break;
      case P_ARRAY:
        iso_mp_put_array(&w, (size_t)r->v);
        break;
      case P_MAP:
        iso_mp_put_map(&w, (size_t)r->v);
        break;
    }
    CHECK_EQ(w.err, 0);
    const char* got = hex(&b);
    if (strncmp(got, r->want, strlen(r->want)) != 0) {
      fprintf(stderr, "  %s: got %s, want %s...\n", r->name, got, r->want);
      CHECK(0);
    }
    size_t head = strlen(r->want) / 2 - (body > 0 ? 1 : 0);
    CHECK_EQ(b.len, head + body);
    iso_buf_close(&b);
  }
}

static void t_put_scalars(void) {
  iso_buf b;
  iso_buf_init(&b);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &b);
  iso_mp_put_nil(&w);
  iso_mp_put_bool(&w, 1);
  iso_mp_put_bool(&w, 0);
  iso_mp_put_double(&w, 1.5);
  iso_mp_put_double(&w, 2.0); /* a whole double stays float 64 */
  iso_mp_put_cstr(&w, "ab");
  iso_mp_put_str_head(&w, 2);
  iso_mp_put_raw(&w, "cd", 2);
  iso_mp_put_raw(&w, NULL, 0);
  iso_mp_put_str(&w, NULL, 0);
  CHECK_EQ(w.err, 0);
  CHECK_STR(hex(&b),
            "c0c3c2cb3ff8000000000000cb4000000000000000a26162a26364a0");
  iso_buf_close(&b);
}

/* iso_mp_put_text: valid UTF-8 goes out as it is; an ill-formed subpart
 * becomes U+FFFD (ef bf bd) with the length counted after the repair; NULL
 * with 0 bytes is the empty string. */
static void t_put_text(void) {
  iso_buf b;
  iso_buf_init(&b);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &b);
  iso_mp_put_text(&w, "h\xc3\xa9", 3); /* "hé", valid */
  iso_mp_put_text(&w, "a\xffz", 3);    /* a lone 0xff */
  iso_mp_put_text(&w, "\xe2\x82", 2);  /* a truncated sequence: one */
  iso_mp_put_text(&w, NULL, 0);
  CHECK_EQ(w.err, 0);
  CHECK_STR(hex(&b), "a368c3a9a561efbfbd7aa3efbfbda0");
  iso_buf_close(&b);
}

/* The shapes the V8 shim writes for a Date: timestamp 64 for seconds in
 * [0, 2^34), timestamp 96 otherwise; never timestamp 32. */
static void t_put_timestamp(void) {
  static const struct {
    int64_t sec;
    uint32_t nsec;
    const char* want;
  } rows[] = {
      {0, 0, "d7ff0000000000000000"},
      {1, 0, "d7ff0000000000000001"},
      {1700000000, 123000000, "d7ff1d5353006553f100"},
      {(INT64_C(1) << 34) - 1, 999999999, "d7ffee6b27ffffffffff"},
      {INT64_C(1) << 34, 0, "c70cff000000000000000400000000"},
      {-1, 500000000, "c70cff1dcd6500ffffffffffffffff"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    iso_buf b;
    iso_buf_init(&b);
    iso_mp_wr w;
    iso_mp_wr_init(&w, &b);
    iso_mp_put_timestamp(&w, rows[i].sec, rows[i].nsec);
    CHECK_EQ(w.err, 0);
    CHECK_STR(hex(&b), rows[i].want);
    /* and back */
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, b.data, b.len);
    CHECK_EQ(iso_mp_read(&r, &o), 0);
    int64_t sec = 7;
    uint32_t nsec = 7;
    CHECK(iso_mp_timestamp(&o, &sec, &nsec));
    CHECK_EQ(sec, rows[i].sec);
    CHECK_EQ(nsec, rows[i].nsec);
    iso_buf_close(&b);
  }
  /* timestamp 32 reads as unsigned seconds; other exts are not times */
  static const uint8_t ts32[] = {0xd6, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t ext1[] = {0xd6, 0x01, 0, 0, 0, 1};
  static const uint8_t ext_len2[] = {0xd5, 0xff, 0, 1};
  iso_mp_rd r;
  iso_mp_obj o;
  int64_t sec = 7;
  uint32_t nsec = 7;
  iso_mp_rd_init(&r, ts32, sizeof ts32);
  CHECK_EQ(iso_mp_read(&r, &o), 0);
  CHECK(iso_mp_timestamp(&o, &sec, &nsec));
  CHECK_EQ(sec, 4294967295LL);
  CHECK_EQ(nsec, 0);
  iso_mp_rd_init(&r, ext1, sizeof ext1);
  CHECK_EQ(iso_mp_read(&r, &o), 0);
  CHECK(!iso_mp_timestamp(&o, &sec, &nsec));
  iso_mp_rd_init(&r, ext_len2, sizeof ext_len2);
  CHECK_EQ(iso_mp_read(&r, &o), 0);
  CHECK(!iso_mp_timestamp(&o, &sec, &nsec));
  CHECK_EQ(sec, 4294967295LL); /* untouched */
}

/* The first error sticks and nothing more is appended. */
static void t_put_sticky(void) {
  iso_buf b;
  iso_buf_init(&b);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &b);
  iso_mp_put_nil(&w);
  iso_mp_put_timestamp(&w, 0, 1000000000u);
  CHECK_EQ(w.err, ISO_EINVAL);
  iso_mp_put_nil(&w);
  iso_mp_put_cstr(&w, "x");
  CHECK_EQ(b.len, 1);
  if (sizeof(size_t) > 4) {
    iso_mp_wr_init(&w, &b);
    iso_mp_put_array(&w, (size_t)UINT32_MAX + 1);
    CHECK_EQ(w.err, ISO_ETOOBIG);
    iso_mp_put_str_head(&w, 1);
    CHECK_EQ(w.err, ISO_ETOOBIG);
    CHECK_EQ(b.len, 1);
  }
  iso_buf_close(&b);
}

/* Messages the reader refuses, and where. */
static void t_read_refuses(void) {
  static const struct {
    const char* name;
    const char* bytes;
    size_t n;
    int want;
  } rows[] = {
      {"empty", "", 0, ISO_MP_ETRUNC},
      {"0xc1", "\xc1", 1, ISO_MP_EBYTE},
      {"uint16 cut", "\xcd\x01", 2, ISO_MP_ETRUNC},
      {"fixstr past the end", "\xa3xy", 3, ISO_MP_ETRUNC},
      {"str32 past the end", "\xdb\x00\x00\x00\x05xy", 7, ISO_MP_ETRUNC},
      {"array32 of 4G in 5 bytes", "\xdd\xff\xff\xff\xff", 5, ISO_MP_ECOUNT},
      {"fixarray of 3 in 2 bytes", "\x93\x01", 2, ISO_MP_ECOUNT},
      {"fixmap of 1 in 1 more byte", "\x81\x01", 2, ISO_MP_ECOUNT},
      {"map16 needs 2 bytes a pair", "\xde\x00\x02\x01\x02\x03", 6,
       ISO_MP_ECOUNT},
      {"ext8 without its type", "\xc7\x01", 2, ISO_MP_ETRUNC},
      {"fixext4 cut", "\xd6\xff\x00", 3, ISO_MP_ETRUNC},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, (const uint8_t*)rows[i].bytes, rows[i].n);
    int rc = iso_mp_read(&r, &o);
    if (rc != rows[i].want) {
      fprintf(stderr, "  %s: got %d, want %d\n", rows[i].name, rc,
              rows[i].want);
      CHECK(0);
    }
  }
  CHECK_STR(iso_mp_strerror(ISO_MP_ECOUNT),
            "array/map count larger than the message could hold");
}

/* The inline path and iso_mp_read_slow agree on every first byte, with
 * room for its payload and without. */
static void t_read_fast_path(void) {
  uint8_t msg[40] = {0};
  for (int c = 0; c < 256; c++) {
    for (size_t n = 1; n <= sizeof msg; n += sizeof msg - 1) {
      msg[0] = (uint8_t)c;
      iso_mp_rd a, b;
      iso_mp_obj oa, ob;
      memset(&oa, 0, sizeof oa);
      memset(&ob, 0, sizeof ob);
      iso_mp_rd_init(&a, msg, n);
      iso_mp_rd_init(&b, msg, n);
      int ra = iso_mp_read(&a, &oa);
      int rb = iso_mp_read_slow(&b, &ob);
      CHECK_EQ(ra, rb);
      if (ra == 0 && rb == 0) {
        CHECK(a.p == b.p);
        CHECK_EQ(oa.type, ob.type);
        CHECK_EQ(oa.len, ob.len);
        CHECK(oa.v.u == ob.v.u);
      }
    }
  }
}

static void t_one_and_skip(void) {
  /* [[[1]]]: depth 3 */
  static const uint8_t nested[] = {0x91, 0x91, 0x91, 0x01};
  CHECK_EQ(iso_mp_one(nested, sizeof nested, 3), 0);
  CHECK_EQ(iso_mp_one(nested, sizeof nested, 2), 1);
  CHECK_EQ(iso_mp_one(nested, 3, 3), ISO_MP_ECOUNT);
  static const uint8_t two[] = {0x01, 0x02};
  CHECK_EQ(iso_mp_one(two, sizeof two, 1), 2);
  /* a deep nest is skipped without recursing past max_depth */
  static uint8_t deep[100001];
  memset(deep, 0x91, sizeof deep - 1);
  deep[sizeof deep - 1] = 0xc0;
  iso_mp_rd r;
  int too_deep = 0;
  iso_mp_rd_init(&r, deep, sizeof deep);
  CHECK_EQ(iso_mp_skip(&r, 1, 64, &too_deep), 0);
  CHECK(too_deep);
  CHECK(r.p == r.end);
}

/* iso_buf_init_with: appends stay in the caller's storage while they fit,
 * move to the heap (contents kept) when one does not, and iso_buf_close
 * frees only the heap copy. Under ASan a free of the storage or a write
 * past it fails the case. */
static void t_buf_with_storage(void) {
  uint8_t storage[8];
  iso_buf b;
  iso_buf_init_with(&b, storage, sizeof(storage));
  CHECK(b.data == storage);
  CHECK_EQ(b.cap, sizeof(storage));
  CHECK_EQ(iso_buf_append(&b, "abcdefgh", 8), 0);
  CHECK(b.data == storage); /* exactly full: still the storage */
  CHECK_EQ(iso_buf_append(&b, "ij", 2), 0);
  CHECK(b.data != storage);
  CHECK(b.cap >= 10);
  CHECK_EQ(b.len, 10);
  CHECK(memcmp(b.data, "abcdefghij", 10) == 0);
  CHECK(memcmp(storage, "abcdefgh", 8) == 0); /* left as it was */
  iso_buf_close(&b);
  CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && b.fixed == NULL);

  iso_buf_init_with(&b, storage, sizeof(storage)); /* never grown */
  iso_mp_wr w;
  iso_mp_wr_init(&w, &b);
  iso_mp_put_array(&w, 1);
  iso_mp_put_cstr(&w, "hi");
  CHECK_EQ(w.err, 0);
  CHECK_STR(hex(&b), "91a26869");
  CHECK(b.data == storage);
  iso_buf_reset(&b);
  CHECK(b.data == storage && b.len == 0);
  iso_buf_close(&b); /* frees nothing */
  CHECK(b.data == NULL);

  iso_buf_init_with(&b, NULL, 100); /* no storage: a plain buffer */
  CHECK(b.data == NULL && b.cap == 0);
  CHECK_EQ(iso_buf_append(&b, "x", 1), 0);
  iso_buf_close(&b);
}

static void t_helpers(void) {
  static const uint8_t ok[] = {0x82, 0xa1, 'k', 0xa2, 0xc3, 0xa9, 0x01, 0x02};
  static const uint8_t bad[] = {0x91, 0xa2, 0xc3, 0x28};
  CHECK(iso_mp_strings_utf8(ok, sizeof ok));
  CHECK(!iso_mp_strings_utf8(bad, sizeof bad));
  CHECK(!iso_mp_strings_utf8(ok, 4)); /* cut inside a string */
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, ok + 1, 2);
  CHECK_EQ(iso_mp_read(&r, &o), 0);
  CHECK(iso_mp_str_is(&o, "k"));
  CHECK(!iso_mp_str_is(&o, "kk"));
  CHECK(!iso_mp_str_is(&o, ""));
  uint8_t hdr[5];
  CHECK_EQ(iso_mp_container_header(hdr, 1, 16), 3);
  CHECK_EQ(hdr[0], 0xde);
  CHECK_EQ(iso_mp_container_header(hdr, 0, 70000), 5);
  CHECK_EQ(hdr[0], 0xdd);
}

static const iso_test cases[] = {
    {"put_forms", t_put_forms},
    {"put_scalars", t_put_scalars},
    {"put_text", t_put_text},
    {"put_timestamp", t_put_timestamp},
    {"put_sticky", t_put_sticky},
    {"read_refuses", t_read_refuses},
    {"read_fast_path", t_read_fast_path},
    {"one_and_skip", t_one_and_skip},
    {"buf_with_storage", t_buf_with_storage},
    {"helpers", t_helpers},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
