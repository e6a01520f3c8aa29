/* test_perms.c: permission sets (ops/perms.c): parsing the --allow-*
 * lists, narrowing a grant to what a job asks for, equality and hashing,
 * the checks ops make, and narrowing bounded against hostile lists.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_link.h"
#include "iso_ops.h"
#include "iso_proto.h"
#include "ops_harness.h"
#include "tap.h"

static void check_describe(const iso_perms* p, const char* want) {
  char buf[256];
  int n = iso_perms_describe(p, buf, sizeof buf);
  CHECK_STR(buf, want);
  CHECK_EQ(n, strlen(want));
}

static void check_parse_err(const char* r, const char* e, const char* want) {
  iso_perms* p = NULL;
  char err[256] = "";
  CHECK_EQ(iso_perms_parse(r, NULL, e, &p, err, sizeof err), ISO_EINVAL);
  CHECK(p == NULL);
  CHECK_STR(err, want);
}

static void t_perms_parse(void) {
  iso_perms* p = perms("data/,cache/x,data/sub,a/./b", NULL, "LANG,HOME,LANG");
  check_describe(p, "read=a/b,cache/x,data write=none env=HOME,LANG net=none");
  iso_perms_unref(p);
  p = perms(".", "", NULL);
  check_describe(p, "read=* write=* env=none net=none");
  iso_perms_unref(p);
  check_describe(iso_perms_none(), "read=none write=none env=none net=none");
  check_describe(NULL, "read=none write=none env=none net=none");
  check_parse_err("/etc", NULL,
                  "--allow-read: entry \"/etc\" is an absolute path (paths "
                  "are relative to the data root)");
  check_parse_err("a/../b", NULL,
                  "--allow-read: entry \"a/../b\" has a \"..\" component");
  check_parse_err("..", NULL,
                  "--allow-read: entry \"..\" has a \"..\" component");
  check_parse_err("a//b", NULL,
                  "--allow-read: entry \"a//b\" has an empty component");
  check_parse_err("a,,b", NULL, "--allow-read: entry \"\" is empty");
  check_parse_err("a,", NULL, "--allow-read: entry \"\" is empty");
  check_parse_err(NULL, "A=B", "--allow-env: entry \"A=B\" contains '='");
  /* describe follows snprintf's rule */
  char small[8];
  p = perms("data", NULL, NULL);
  CHECK_EQ(iso_perms_describe(p, small, sizeof small),
           strlen("read=data write=none env=none net=none"));
  CHECK_STR(small, "read=da");
  iso_perms_unref(p);
}

/* Narrows g by `permissions` JSON the way the service does: the request
 * decoder reads the field (a malformed one is its ISO_EPROTO, with the
 * message a client gets in bad_request), then iso_perms_narrow. */
static int narrow(const iso_perms* g,
                  const char* json,
                  iso_perms** out,
                  char* err) {
  char req[512];
  snprintf(req, sizeof req,
           "{\"v\":1,\"kind\":\"eval\",\"source\":\"1\",\"permissions\":%s}",
           json);
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_json_to_msgpack(req, strlen(req), &b), 0);
  err[0] = '\0';
  *out = NULL;
  iso_proto_msg m;
  int rc = iso_proto_decode(b.data, b.len, &m, err, 256);
  if (rc == 0) {
    rc = iso_perms_narrow(g, &m.reqs[0].permissions, out, err, 256);
  }
  iso_proto_msg_close(&m);
  iso_buf_close(&b);
  return rc;
}

static void check_narrow(const iso_perms* g,
                         const char* json,
                         const char* want) {
  iso_perms* p;
  char err[256];
  CHECK_EQ(narrow(g, json, &p, err), 0);
  CHECK_STR(err, "");
  check_describe(p, want);
  iso_perms_unref(p);
}

static void check_narrow_err(const iso_perms* g,
                             const char* json,
                             int rc,
                             const char* want) {
  iso_perms* p;
  char err[256];
  CHECK_EQ(narrow(g, json, &p, err), rc);
  CHECK(p == NULL);
  CHECK_STR(err, want);
}

static void t_perms_narrow(void) {
  iso_perms* g = perms("data,cache", "data/out", "HOME");
  iso_perms* p = NULL;
  char err[256];
  CHECK_EQ(iso_perms_narrow(g, NULL, &p, err, sizeof err), 0);
  CHECK(p == g); /* a new reference to the same set */
  iso_perms_unref(p);
  iso_perm_req absent = {0}; /* no `permissions` field: the same */
  CHECK_EQ(iso_perms_narrow(g, &absent, &p, err, sizeof err), 0);
  CHECK(p == g);
  iso_perms_unref(p);
  check_narrow(g, "{}", "read=none write=none env=none net=none");
  check_narrow(g, "{\"read\":true,\"write\":false}",
               "read=cache,data write=none env=none net=none");
  check_narrow(g, "{\"read\":[\"data/x\",\"data\"],\"write\":[\"data/out/a\"]}",
               "read=data write=data/out/a env=none net=none");
  check_narrow(g, "{\"read\":[],\"env\":[\"HOME\"]}",
               "read=none write=none env=HOME net=none");
  check_narrow(g_all, "{\"read\":true,\"write\":[\".\"]}",
               "read=* write=* env=none net=none");
  check_narrow_err(g, "{\"read\":[\"database\"]}", ISO_EPERM,
                   "permissions: read \"database\" is not granted by the "
                   "service (--allow-read=cache,data)");
  check_narrow_err(g, "{\"write\":[\"data\"]}", ISO_EPERM,
                   "permissions: write \"data\" is not granted by the "
                   "service (--allow-write=data/out)");
  check_narrow_err(iso_perms_none(), "{\"env\":[\"HOME\"]}", ISO_EPERM,
                   "permissions: env \"HOME\" is not granted by the service "
                   "(no --allow-env)");
  /* the field's shape is the decoder's to check, with its messages */
  check_narrow_err(g, "{\"sys\":true}", ISO_EPROTO,
                   "unknown key 'permissions.sys' (the keys are read, write, "
                   "env and net)");
  check_narrow_err(g, "{\"read\":true,\"read\":false}", ISO_EPROTO,
                   "duplicate key 'permissions.read'");
  check_narrow_err(g, "{\"read\":1}", ISO_EPROTO,
                   "'permissions.read' must be true, false or an array of "
                   "strings (got an integer)");
  check_narrow_err(g, "{\"env\":null}", ISO_EPROTO,
                   "'permissions.env' must be true, false or an array of "
                   "strings (got nil)");
  check_narrow_err(g, "{\"read\":[1]}", ISO_EPROTO,
                   "'permissions.read[0]' must be a string (got an integer)");
  check_narrow_err(g, "[true]", ISO_EPROTO,
                   "'permissions' must be a map (got an array)");
  /* what each entry means is narrowing's */
  check_narrow_err(g, "{\"read\":[\"/etc\"]}", ISO_EINVAL,
                   "permissions: read: entry \"/etc\" is an absolute path "
                   "(paths are relative to the data root)");
  check_narrow_err(g, "{\"read\":[\"data/../x\"]}", ISO_EINVAL,
                   "permissions: read: entry \"data/../x\" has a \"..\" "
                   "component");
  /* a list built in C rather than decoded still gets C-string checks */
  iso_str bad_items[] = {{"da\0ta", 5}, {"caf\xc3", 4}};
  for (int i = 0; i < 2; i++) {
    iso_perm_req r = {.present = 1,
                      .read = {ISO_PERM_ASK_LIST, 1, &bad_items[i]}};
    p = NULL;
    CHECK_EQ(iso_perms_narrow(g, &r, &p, err, sizeof err), ISO_EINVAL);
    CHECK_STR(err,
              "permissions: read: entries must be UTF-8 without NUL "
              "bytes");
    CHECK(p == NULL);
  }
  static char longest[PATH_MAX + 1];
  memset(longest, 'a', PATH_MAX);
  iso_str long_item = {longest, PATH_MAX};
  iso_perm_req r = {.present = 1, .env = {ISO_PERM_ASK_LIST, 1, &long_item}};
  CHECK_EQ(iso_perms_narrow(g, &r, &p, err, sizeof err), ISO_EINVAL);
  CHECK_CONTAINS(err, "permissions: env: entry \"aaaa");
  CHECK_CONTAINS(err, "...\" is too long");
  r = (iso_perm_req){.present = 1, .write = {(iso_perm_ask)7, 0, NULL}};
  CHECK_EQ(iso_perms_narrow(g, &r, &p, err, sizeof err), ISO_EINVAL);
  CHECK_STR(err,
            "permissions: write must be true, false or an array of "
            "strings");
  iso_perms_unref(g);
}

static void t_perms_equal_hash(void) {
  iso_perms* a = perms("b,a", NULL, "X");
  iso_perms* b = perms("a,b,a/c", NULL, "X,X");
  iso_perms* c = perms("a", NULL, "X");
  iso_perms* n = perms(NULL, NULL, NULL);
  iso_perms* w = perms(NULL, "a,b", "X"); /* same lists, other kind */
  CHECK(iso_perms_equal(a, b));
  CHECK_EQ(iso_perms_hash(a), iso_perms_hash(b));
  CHECK(!iso_perms_equal(a, c));
  CHECK(iso_perms_hash(a) != iso_perms_hash(c));
  CHECK(!iso_perms_equal(a, w));
  CHECK(iso_perms_hash(a) != iso_perms_hash(w));
  CHECK(iso_perms_equal(n, iso_perms_none()));
  CHECK_EQ(iso_perms_hash(n), iso_perms_hash(iso_perms_none()));
  /* ref/unref: the static set is never counted; NULL is fine */
  CHECK(iso_perms_ref(iso_perms_none()) == iso_perms_none());
  iso_perms_unref(iso_perms_none());
  iso_perms_unref(NULL);
  CHECK(iso_perms_ref(a) == a);
  iso_perms_unref(a);
  iso_perms_unref(a);
  iso_perms_unref(b);
  iso_perms_unref(c);
  iso_perms_unref(n);
  iso_perms_unref(w);
}

static void t_perms_allows(void) {
  iso_perms* p = perms("data,x/y", NULL, "HOME");
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "data"));
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "data/x"));
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "data/x/y/z"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "database"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "dat"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, ""));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "x"));
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "x/y"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "x/yz"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_WRITE, "data"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_ENV, "data"));
  CHECK(iso_perms_allows(p, ISO_PERM_READ));
  CHECK(!iso_perms_allows(p, ISO_PERM_WRITE));
  CHECK(iso_perms_allows(p, ISO_PERM_ENV));
  CHECK(iso_perms_allows(p, ISO_PERM_NONE));
  CHECK(iso_perms_allows(NULL, ISO_PERM_NONE));
  CHECK(!iso_perms_allows(NULL, ISO_PERM_READ));
  CHECK(iso_perms_allows_name(p, "HOME"));
  CHECK(!iso_perms_allows_name(p, "HOMER"));
  CHECK(!iso_perms_allows_name(p, "HOM"));
  CHECK(iso_perms_allows_path(g_all, ISO_PERM_WRITE, ""));
  CHECK(iso_perms_allows_name(g_all, "ANY"));
  CHECK(!iso_perms_allows_path(iso_perms_none(), ISO_PERM_READ, "a"));
  iso_perms_unref(p);
}

/* ---- hostile input ---- */

/* A job's permission lists are bounded: narrowing stays quick whatever a
 * request holds (it runs on the service's NNG threads). */
static void t_perms_narrow_bounded(void) {
  iso_perms* granted = perms("a", NULL, "HOME");
  enum { MANY = 100000 };
  iso_str* items = calloc(MANY, sizeof *items);
  char(*names)[16] = calloc(1024, sizeof *names);
  for (int i = 0; i < MANY; i++) {
    items[i] = iso_str_of("a");
  }
  iso_perm_req req = {.present = 1, .read = {ISO_PERM_ASK_LIST, MANY, items}};
  iso_perms* out = NULL;
  char err[256] = "";
  time_t t0 = time(NULL);
  CHECK_EQ(iso_perms_narrow(granted, &req, &out, err, sizeof err), ISO_EINVAL);
  CHECK_STR(err, "permissions: read: at most 1024 entries (got 100000)");
  CHECK(time(NULL) - t0 < 2);
  CHECK(out == NULL);
  /* 1024 of them are fine, and canonical */
  for (int i = 0; i < 1024; i++) {
    snprintf(names[i], sizeof names[i], "a/%d", i % 7);
    items[i] = iso_str_of(names[i]);
  }
  req.read.n = 1024;
  CHECK_EQ(iso_perms_narrow(granted, &req, &out, err, sizeof err), 0);
  check_describe(
      out, "read=a/0,a/1,a/2,a/3,a/4,a/5,a/6 write=none env=none net=none");
  iso_perms_unref(out);
  free(names);
  free(items);
  iso_perms_unref(granted);
}

/* A set written as the pool's link writes it ([read, write, env, net]:
 * iso_perms_to_req, iso_link_put_perms) and made again from the bytes
 * (iso_link_get_perms, iso_perms_from_req) is the same set: equal, with
 * the same hash, so a worker keeps one warm realm for it. */
static void round_trip(const iso_perms* p) {
  static iso_str items[ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES];
  iso_perm_req req;
  CHECK_EQ(iso_perms_to_req(p, &req, items,
                            ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES),
           0);
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_link_put_perms(&b, &req), 0);
  iso_perm_req back;
  static iso_str back_items[ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES];
  CHECK_EQ(iso_link_get_perms((iso_bytes){b.data, b.len}, &back, back_items,
                              ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES),
           0);
  iso_perms* q = NULL;
  char err[256] = "";
  CHECK_EQ(iso_perms_from_req(&back, &q, err, sizeof err), 0);
  CHECK(iso_perms_equal(p, q));
  CHECK(iso_perms_hash(p) == iso_perms_hash(q));
  char a[256], c[256];
  iso_perms_describe(p, a, sizeof a);
  iso_perms_describe(q, c, sizeof c);
  CHECK_STR(a, c);
  iso_perms_unref(q);
  iso_buf_close(&b);
}

static void t_perms_link_round_trip(void) {
  const char* specs[][3] = {
      {"data,cache/x,é", "", "HOME,LANG"},
      {NULL, NULL, NULL},
      {"", "", ""},
      {"a/b", NULL, "X"},
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    iso_perms* p = NULL;
    char err[256];
    CHECK_EQ(iso_perms_parse(specs[i][0], specs[i][1], specs[i][2], &p, err,
                             sizeof err),
             0);
    round_trip(p);
    iso_perms_unref(p);
  }
  round_trip(iso_perms_none());
  /* a narrowed set, as the front sends them */
  iso_perms *granted = NULL, *job = NULL;
  char err[256];
  CHECK_EQ(iso_perms_parse("data,logs", "", NULL, &granted, err, sizeof err),
           0);
  iso_str reads[1] = {{"data/x", 6}};
  iso_perm_req ask = {.present = 1,
                      .read = {ISO_PERM_ASK_LIST, 1, reads},
                      .write = {ISO_PERM_ASK_ALL}};
  CHECK_EQ(iso_perms_narrow(granted, &ask, &job, err, sizeof err), 0);
  round_trip(job);
  /* too little room for its names */
  iso_str one[1];
  iso_perm_req req;
  CHECK_EQ(iso_perms_to_req(granted, &req, one, 1), ISO_ETOOBIG);
  iso_perms_unref(job);
  iso_perms_unref(granted);
  /* bytes naming what no set may hold are refused */
  iso_str bad[1] = {{"../etc", 6}};
  iso_perm_req worse = {.present = 1, .read = {ISO_PERM_ASK_LIST, 1, bad}};
  iso_perms* q = NULL;
  CHECK_EQ(iso_perms_from_req(&worse, &q, err, sizeof err), ISO_EINVAL);
  CHECK(q == NULL);
  iso_perm_req absent = {0};
  CHECK_EQ(iso_perms_from_req(&absent, &q, err, sizeof err), ISO_EINVAL);
}

/* --allow-net: HOST or HOST:PORT, canonical; what a fetch may reach. */
static iso_perms* net_perms(const char* net) {
  iso_perm_flags f = {.net = net};
  iso_perms* p = NULL;
  char err[256] = "";
  CHECK_EQ(iso_perms_parse_flags(&f, &p, err, sizeof err), 0);
  CHECK_STR(err, "");
  return p;
}

static void check_net_err(const char* net, const char* want) {
  iso_perm_flags f = {.net = net};
  iso_perms* p = NULL;
  char err[256] = "";
  CHECK_EQ(iso_perms_parse_flags(&f, &p, err, sizeof err), ISO_EINVAL);
  CHECK(p == NULL);
  CHECK_STR(err, want);
}

static void t_perms_net(void) {
  iso_perms* p = net_perms(
      "Example.COM,127.0.0.1:8080,[0:0:0:0:0:0:0:1]:443,example.com:80,"
      "localhost:08080");
  check_describe(p,
                 "read=none write=none env=none "
                 "net=127.0.0.1:8080,[::1]:443,example.com,localhost:8080");
  CHECK(iso_perms_allows(p, ISO_PERM_NET));
  CHECK(iso_perms_allows_net(p, "example.com", 443));
  CHECK(iso_perms_allows_net(p, "EXAMPLE.com", 80));
  CHECK(!iso_perms_allows_net(p, "sub.example.com", 443));
  CHECK(!iso_perms_allows_net(p, "example.co", 443));
  CHECK(iso_perms_allows_net(p, "127.0.0.1", 8080));
  CHECK(!iso_perms_allows_net(p, "127.0.0.1", 80));
  CHECK(iso_perms_allows_net(p, "::1", 443));
  CHECK(iso_perms_allows_net(p, "[::1]", 443));
  CHECK(iso_perms_allows_net(p, "[0::1]", 443));
  CHECK(!iso_perms_allows_net(p, "::1", 80));
  CHECK(iso_perms_allows_net(p, "localhost", 8080));
  CHECK(!iso_perms_allows_net(p, "localhost", 0));
  CHECK(!iso_perms_allows_net(p, "", 8080));
  CHECK(!iso_perms_allows_net(p, "example.com/x", 443));
  CHECK(!iso_perms_allows_net(NULL, "example.com", 443));
  CHECK(!iso_perms_allows_net(iso_perms_none(), "example.com", 443));
  CHECK(!iso_perms_allows(iso_perms_none(), ISO_PERM_NET));
  iso_perms* all = net_perms("");
  check_describe(all, "read=none write=none env=none net=*");
  CHECK(iso_perms_allows_net(all, "anything.example", 1));
  CHECK(iso_perms_allows_net(all, "[2001:db8::1]", 65535));
  /* the same grant, however written: equal and hashed alike */
  iso_perms* a = net_perms("a.com:80,A.com,b.org:443");
  iso_perms* b = net_perms("b.org:0443,a.com");
  iso_perms* c = net_perms("a.com:80,b.org:443");
  CHECK(iso_perms_equal(a, b));
  CHECK_EQ(iso_perms_hash(a), iso_perms_hash(b));
  CHECK(!iso_perms_equal(a, c));
  CHECK(iso_perms_hash(a) != iso_perms_hash(c));
  round_trip(p);
  round_trip(all);
  round_trip(c);
  /* Deno's syntax, and what it is not */
  check_net_err("http://example.com",
                "--allow-net: entry \"http://example.com\" is not "
                "HOST[:PORT] (a URL is not a host)");
  check_net_err("::1",
                "--allow-net: entry \"::1\" is not HOST[:PORT] (an IPv6 "
                "address goes in brackets)");
  check_net_err("[::1",
                "--allow-net: entry \"[::1\" has a '[' without its ']'");
  check_net_err("[nope]:80",
                "--allow-net: entry \"[nope]:80\" is not an IPv6 address in "
                "brackets");
  check_net_err("[::1]x",
                "--allow-net: entry \"[::1]x\" has something after the ']' "
                "that is not :PORT");
  check_net_err(":80", "--allow-net: entry \":80\" has no host");
  check_net_err("a:0",
                "--allow-net: entry \"a:0\" has a port that is not a number "
                "from 1 to 65535");
  check_net_err("a:65536",
                "--allow-net: entry \"a:65536\" has a port that is not a "
                "number from 1 to 65535");
  check_net_err("a:",
                "--allow-net: entry \"a:\" has a port that is not a "
                "number from 1 to 65535");
  check_net_err("a b",
                "--allow-net: entry \"a b\" has a host that is not letters, "
                "digits, '-', '.' and '_'");
  check_net_err("a..b",
                "--allow-net: entry \"a..b\" has an empty label in its "
                "host");
  check_net_err("a,,b", "--allow-net: entry \"\" is empty");
  /* narrowing: a job may ask for what the grant covers */
  iso_perms* g = net_perms("example.com,127.0.0.1:8080");
  check_narrow(g, "{\"net\":[\"example.com:443\",\"Example.com:443\"]}",
               "read=none write=none env=none net=example.com:443");
  check_narrow(g, "{\"net\":true}",
               "read=none write=none env=none net=127.0.0.1:8080,example.com");
  check_narrow(g, "{\"read\":true}", "read=none write=none env=none net=none");
  check_narrow(all, "{\"net\":[\"[::1]:80\"]}",
               "read=none write=none env=none net=[::1]:80");
  check_narrow_err(g, "{\"net\":[\"127.0.0.1\"]}", ISO_EPERM,
                   "permissions: net \"127.0.0.1\" is not granted by the "
                   "service (--allow-net=127.0.0.1:8080,example.com)");
  check_narrow_err(g, "{\"net\":[\"127.0.0.1:8081\"]}", ISO_EPERM,
                   "permissions: net \"127.0.0.1:8081\" is not granted by the "
                   "service (--allow-net=127.0.0.1:8080,example.com)");
  check_narrow_err(iso_perms_none(), "{\"net\":[\"example.com\"]}", ISO_EPERM,
                   "permissions: net \"example.com\" is not granted by the "
                   "service (no --allow-net)");
  check_narrow_err(g, "{\"net\":[\"https://example.com\"]}", ISO_EINVAL,
                   "permissions: net: entry \"https://example.com\" is not "
                   "HOST[:PORT] (a URL is not a host)");
  check_narrow_err(g, "{\"net\":\"example.com\"}", ISO_EPROTO,
                   "'permissions.net' must be true, false or an array of "
                   "strings (got a string)");
  iso_perms_unref(g);
  iso_perms_unref(a);
  iso_perms_unref(b);
  iso_perms_unref(c);
  iso_perms_unref(all);
  iso_perms_unref(p);
}

static const iso_test cases[] = {
    {"perms_net", t_perms_net},
    {"perms_parse", t_perms_parse},
    {"perms_narrow", t_perms_narrow},
    {"perms_equal_hash", t_perms_equal_hash},
    {"perms_allows", t_perms_allows},
    {"perms_narrow_bounded", t_perms_narrow_bounded},
    {"perms_link_round_trip", t_perms_link_round_trip},
    {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
