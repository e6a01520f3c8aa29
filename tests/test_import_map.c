/* test_import_map.c: import maps (isolate/rt_importmap.c), the WICG
 * standard as Deno uses it: the parser (fatal errors, warnings and the
 * null entries they leave) and "resolve a module specifier" on the
 * examples of the proposal's README (bare specifiers, "/"-ended package
 * prefixes, scopes and their inheritance, remapped URLs, the longest
 * prefix first, blocked and backtracking entries); then a map in use by
 * the loader in-process (a mapped bare specifier before node_modules, a
 * scope, a target outside the module root refused). `isopool run
 * --import-map` and a service job are in test_run.c and test_service.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"

#define MAP_URL "file:///app/importmap.json"

static iso_import_map* map_of(const char* json) {
  iso_import_map* m = NULL;
  char err[256] = "";
  char* warnings = NULL;
  int rc =
      iso_import_map_new(json, strlen(json), MAP_URL, &m, &warnings, err, 256);
  if (rc != 0) {
    fprintf(stderr, "  map refused: %s\n", err);
  }
  CHECK_EQ(rc, 0);
  free(warnings);
  return m;
}

/* What `spec` imported from `base` becomes: the URL, "(none)" when the
 * map leaves it alone, "error: ..." when it refuses it. */
static char* res(const iso_import_map* m, const char* spec, const char* base) {
  static char buf[1024];
  char* out = NULL;
  char err[512] = "";
  int rc = iso_import_map_resolve(m, spec, base, &out, err, sizeof err);
  if (rc != 0) {
    snprintf(buf, sizeof buf, "error: %s", err);
  } else {
    snprintf(buf, sizeof buf, "%s", out != NULL ? out : "(none)");
  }
  free(out);
  return buf;
}

static void t_bare_specifiers(void) {
  iso_import_map* m = map_of(
      "{\"imports\": {\"moment\": \"/node_modules/moment/src/moment.js\",\n"
      " \"lodash\": \"/node_modules/lodash-es/lodash.js\"}}");
  const char* b = "file:///app/main.js";
  CHECK_STR(res(m, "moment", b), "file:///node_modules/moment/src/moment.js");
  CHECK_STR(res(m, "lodash", b), "file:///node_modules/lodash-es/lodash.js");
  /* not a package prefix: "moment/" is no key */
  CHECK_STR(res(m, "moment/x.js", b), "(none)");
  CHECK_STR(res(m, "./moment", b), "(none)");
  CHECK_STR(res(m, "other", b), "(none)");
  iso_import_map_free(m);
}

static void t_package_prefixes(void) {
  iso_import_map* m = map_of(
      "{\"imports\": {\"moment\": \"/node_modules/moment/src/moment.js\",\n"
      " \"moment/\": \"/node_modules/moment/src/\",\n"
      " \"lodash\": \"/node_modules/lodash-es/lodash.js\",\n"
      " \"lodash/\": \"/node_modules/lodash-es/\"}}");
  const char* b = "file:///app/main.js";
  CHECK_STR(res(m, "moment", b), "file:///node_modules/moment/src/moment.js");
  CHECK_STR(res(m, "moment/locale/zh-cn.js", b),
            "file:///node_modules/moment/src/locale/zh-cn.js");
  CHECK_STR(res(m, "lodash/fp/map.js", b),
            "file:///node_modules/lodash-es/fp/map.js");
  iso_import_map_free(m);
}

/* The longest key that matches wins, whatever the order in the JSON. */
static void t_longest_prefix(void) {
  iso_import_map* m = map_of(
      "{\"imports\": {\"a/\": \"./1/\", \"a/b/\": \"./2/\",\n"
      " \"a/b/c\": \"./exact.js\"}}");
  const char* b = "file:///app/main.js";
  CHECK_STR(res(m, "a/b/c", b), "file:///app/exact.js");
  CHECK_STR(res(m, "a/b/d", b), "file:///app/2/d");
  CHECK_STR(res(m, "a/c", b), "file:///app/1/c");
  iso_import_map_free(m);
}

/* Scopes: the importer's URL picks them, the most specific first, each
 * falling back to the wider ones and then to the top-level imports. */
static void t_scopes(void) {
  iso_import_map* m = map_of(
      "{\"imports\": {\"querystringify\": "
      "\"/node_modules/querystringify/index.js\"},\n"
      " \"scopes\": {\"/node_modules/socksjs-client/\": {\"querystringify\": "
      "\"/node_modules/socksjs-client/querystringify/index.js\"}}}");
  CHECK_STR(res(m, "querystringify", "file:///app/main.js"),
            "file:///node_modules/querystringify/index.js");
  CHECK_STR(
      res(m, "querystringify", "file:///node_modules/socksjs-client/lib/x.js"),
      "file:///node_modules/socksjs-client/querystringify/index.js");
  iso_import_map_free(m);
  m = map_of(
      "{\"imports\": {\"a\": \"/a-1.mjs\", \"b\": \"/b-1.mjs\", \"c\": "
      "\"/c-1.mjs\"},\n"
      " \"scopes\": {\"/scope2/\": {\"a\": \"/a-2.mjs\"},\n"
      "  \"/scope2/scope3/\": {\"b\": \"/b-3.mjs\"},\n"
      "  \"/exact.mjs\": {\"c\": \"/c-exact.mjs\"}}}");
  const char* s1 = "file:///scope1/foo.mjs";
  const char* s2 = "file:///scope2/foo.mjs";
  const char* s3 = "file:///scope2/scope3/foo.mjs";
  CHECK_STR(res(m, "a", s1), "file:///a-1.mjs");
  CHECK_STR(res(m, "b", s1), "file:///b-1.mjs");
  CHECK_STR(res(m, "a", s2), "file:///a-2.mjs");
  CHECK_STR(res(m, "b", s2), "file:///b-1.mjs");
  CHECK_STR(res(m, "a", s3), "file:///a-2.mjs");
  CHECK_STR(res(m, "b", s3), "file:///b-3.mjs");
  CHECK_STR(res(m, "c", s3), "file:///c-1.mjs");
  /* a prefix without "/" names that one module only */
  CHECK_STR(res(m, "c", "file:///exact.mjs"), "file:///c-exact.mjs");
  CHECK_STR(res(m, "c", "file:///exact.mjs2"), "file:///c-1.mjs");
  iso_import_map_free(m);
}

/* Keys that are URLs (relative to the map) remap URLs: an import of that
 * file, by any spelling, goes to the address. */
static void t_remapped_urls(void) {
  iso_import_map* m = map_of(
      "{\"imports\": {\"/app/helper\": \"./node_modules/helper/index.mjs\",\n"
      " \"./lib/\": \"./vendor/lib/\",\n"
      " \"https://example.com/vue/\": \"/vendor/vue/\"}}");
  CHECK_STR(res(m, "/app/helper", "file:///x/y.js"),
            "file:///app/node_modules/helper/index.mjs");
  CHECK_STR(res(m, "../helper", "file:///app/sub/y.js"),
            "file:///app/node_modules/helper/index.mjs");
  CHECK_STR(res(m, "./lib/x.js", "file:///app/main.js"),
            "file:///app/vendor/lib/x.js");
  CHECK_STR(res(m, "file:///app/lib/./y/../z.js", "file:///q.js"),
            "file:///app/vendor/lib/z.js");
  CHECK_STR(res(m, "https://example.com/vue/dist/vue.mjs", "file:///q.js"),
            "file:///vendor/vue/dist/vue.mjs");
  /* a bare specifier that looks like the key's prefix is no URL */
  CHECK_STR(res(m, "lib/x.js", "file:///app/main.js"), "(none)");
  iso_import_map_free(m);
}

/* Null entries block; a prefix entry may not lead out of its address. */
static void t_blocked_and_backtracking(void) {
  iso_import_map* m = map_of(
      "{\"imports\": {\"blocked\": null, \"pkg/\": \"/pkgs/pkg/\",\n"
      " \"gone/\": null}}");
  const char* b = "file:///app/main.js";
  CHECK_CONTAINS(res(m, "blocked", b),
                 "error: Import of \"blocked\" from \"file:///app/main.js\" "
                 "is blocked by the import map");
  CHECK_CONTAINS(res(m, "gone/x.js", b), "is blocked by the import map");
  CHECK_STR(res(m, "pkg/a/b.js", b), "file:///pkgs/pkg/a/b.js");
  CHECK_CONTAINS(res(m, "pkg/../../etc/passwd", b),
                 "error: Import of \"pkg/../../etc/passwd\"");
  CHECK_CONTAINS(res(m, "pkg/../../etc/passwd", b),
                 "which is not inside that entry's address");
  iso_import_map_free(m);
}

/* Errors the spec calls fatal refuse the map, saying why. */
static void t_fatal_errors(void) {
  static const struct {
    const char* json;
    const char* want;
  } cases[] = {
      {"[]", "the import map must be a JSON object"},
      {"{\"imports\": []}", "\"imports\" is not a JSON object"},
      {"{\"imports\": {\"a\": \"/a\"}, \"scopes\": 1}",
       "\"scopes\" is not a JSON object"},
      {"{\"scopes\": {\"/x/\": \"/y\"}}",
       "the import map's scope \"/x/\" is not a JSON object"},
      {"{\"imports\": {\"a\": \"/a\",}}", "the import map is not valid JSON: "},
      {"{\"imports\":\n {\"a\" \"/a\"}}", "at line 2, column"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    iso_import_map* m = NULL;
    char err[256] = "";
    int rc = iso_import_map_new(cases[i].json, strlen(cases[i].json), MAP_URL,
                                &m, NULL, err, sizeof err);
    CHECK_EQ(rc, ISO_EINVAL);
    CHECK(m == NULL);
    CHECK_CONTAINS(err, cases[i].want);
  }
  iso_import_map* m = NULL;
  char err[256] = "";
  CHECK_EQ(iso_import_map_new("{}", 2, "/app/map.json", &m, NULL, err, 256),
           ISO_EINVAL);
  CHECK_CONTAINS(err, "file:// URL");
  /* larger than a pool process's command line could take */
  size_t n = ISO_IMPORT_MAP_MAX + 1;
  char* big = malloc(n);
  CHECK(big != NULL);
  if (big != NULL) {
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    CHECK_EQ(iso_import_map_new(big, n, MAP_URL, &m, NULL, err, 256),
             ISO_EINVAL);
    CHECK_CONTAINS(err, "the import map is larger than 122880 bytes");
    CHECK_EQ(iso_import_map_new(big, n - 1, MAP_URL, &m, NULL, err, 256),
             ISO_EINVAL); /* "{" and spaces: not JSON */
    big[n - 2] = '}';
    CHECK_EQ(iso_import_map_new(big, n - 1, MAP_URL, &m, NULL, err, 256), 0);
    iso_import_map_free(m);
    free(big);
  }
}

/* The rest are warnings, and what they name is null (blocked). */
static void t_warnings(void) {
  const char* json =
      "{\"imports\": {\"\": \"/x.js\", \"num\": 1, \"bare\": \"bare-addr\",\n"
      " \"dir/\": \"/no-slash\", \"ok\": \"./ok.js\"},\n"
      " \"scopes\": {\"http://[bad/\": {}},\n"
      " \"integrity\": {}, \"other\": 1}";
  iso_import_map* m = NULL;
  char err[256] = "";
  char* w = NULL;
  CHECK_EQ(iso_import_map_new(json, strlen(json), MAP_URL, &m, &w, err, 256),
           0);
  CHECK(w != NULL);
  if (w != NULL) {
    CHECK_CONTAINS(w, "import map: an empty specifier key is ignored\n");
    CHECK_CONTAINS(w, "the address of \"num\" is not a string");
    CHECK_CONTAINS(w, "the address \"bare-addr\" of \"bare\" is not a URL");
    CHECK_CONTAINS(w, "the address \"/no-slash\" of \"dir/\" does not end");
    CHECK_CONTAINS(w, "the top-level key \"other\" is not known");
    CHECK_CONTAINS(w, "the top-level key \"integrity\" is not known");
  }
  free(w);
  const char* b = "file:///app/main.js";
  CHECK_CONTAINS(res(m, "num", b), "is blocked by the import map");
  CHECK_CONTAINS(res(m, "bare", b), "is blocked by the import map");
  CHECK_CONTAINS(res(m, "dir/x", b), "is blocked by the import map");
  CHECK_STR(res(m, "ok", b), "file:///app/ok.js");
  iso_import_map_free(m);
  /* a map with nothing to say has no warnings */
  CHECK_EQ(iso_import_map_new("{}", 2, MAP_URL, &m, &w, err, 256), 0);
  CHECK(w == NULL);
  iso_import_map_free(m);
}

/* ---- in the loader ---- */

/* Runs main.js of the current root (rt_root) with the map `json` (at the
 * root, as importmap.json). */
static void run_mapped(const char* json, rt_result* r) {
  const char* root = rt_root_path();
  char url[1100];
  snprintf(url, sizeof url, "file://%s/importmap.json", root);
  iso_import_map* m = NULL;
  char err[256] = "";
  CHECK_EQ(iso_import_map_new(json, strlen(json), url, &m, NULL, err, 256), 0);
  rt_run_opts_map("main.js", m, r);
  iso_import_map_free(m);
}

static void t_loader(void) {
  rt_root();
  rt_write("main.js",
           "import a from 'lib';\n"
           "import b from 'lib/extra.js';\n"
           "import c from './scoped/uses.js';\n"
           "import { x } from 'node-pkg';\n"
           "export default [a, b, c, x];\n");
  rt_write("vendor/lib/index.js", "export default 'lib';\n");
  rt_write("vendor/lib/extra.js", "export default 'extra';\n");
  rt_write("vendor/lib2/index.js", "export default 'lib2';\n");
  rt_write("scoped/uses.js", "import l from 'lib';\nexport default l;\n");
  rt_write("node_modules/node-pkg/package.json",
           "{\"exports\": \"./main.js\"}");
  rt_write("node_modules/node-pkg/main.js", "export const x = 'node';\n");
  rt_write("node_modules/lib/package.json", "{\"exports\": \"./no.js\"}");
  rt_write("node_modules/lib/no.js", "export default 'node_modules';\n");
  rt_result r;
  run_mapped(
      "{\"imports\": {\"lib\": \"./vendor/lib/index.js\",\n"
      " \"lib/\": \"./vendor/lib/\"},\n"
      " \"scopes\": {\"./scoped/\": {\"lib\": \"./vendor/lib2/index.js\"}}}",
      &r);
  if (r.status != 0) {
    fprintf(stderr, "  %s\n", r.error);
  }
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"lib\",\"extra\",\"lib2\",\"node\"]");
  rt_result_free(&r);
  /* a target outside the module root is refused as a path would be */
  rt_root();
  rt_write("main.js", "import p from 'passwd';\nexport default p;\n");
  run_mapped("{\"imports\": {\"passwd\": \"/etc/passwd\"}}", &r);
  CHECK(r.status != 0);
  CHECK_CONTAINS(r.error, "outside the module root");
  rt_result_free(&r);
  /* a blocked one, with the map's sentence */
  rt_root();
  rt_write("main.js", "import p from 'nope';\nexport default p;\n");
  run_mapped("{\"imports\": {\"nope\": null}}", &r);
  CHECK(r.status != 0);
  CHECK_CONTAINS(r.error, "is blocked by the import map");
  rt_result_free(&r);
}

static const iso_test cases[] = {
    {"bare_specifiers", t_bare_specifiers},
    {"package_prefixes", t_package_prefixes},
    {"longest_prefix", t_longest_prefix},
    {"scopes", t_scopes},
    {"remapped_urls", t_remapped_urls},
    {"blocked_and_backtracking", t_blocked_and_backtracking},
    {"fatal_errors", t_fatal_errors},
    {"warnings", t_warnings},
    {"loader", t_loader},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
