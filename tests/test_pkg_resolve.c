/* test_pkg_resolve.c: bare and "#" specifiers (isolate/rt_pkg.c), resolved
 * as Node's ESM resolver does, through the real loader in-process.
 *
 * Each case copies the package fixture (fixtures/pkg: an app with
 * "exports" and "imports", and a node_modules tree of packages written
 * for these cases) into a fresh module root, writes a module that imports
 * from it, runs it (rt_harness.h) and checks the value, or the error's
 * code and the parts of its text that name the specifier, the importer
 * and what was tried. `isopool run` and a service job importing a package
 * are in test_run.c and test_service.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"

/* A fresh module root holding fixtures/pkg. */
static const char* pkg_root(void) {
  return rt_root_fixture("pkg");
}

/* Runs `src` as case.js at the root of the fixture; its value is `want`. */
static void expect_value(const char* src, const char* want) {
  pkg_root();
  rt_write("case.js", "%s", src);
  rt_expect_value("case.js", want);
}

/* Runs `src` (case.js, or `file` when not NULL) at the root of the
 * fixture; it fails with `code`, and the error's text holds each of the
 * parts, where "~" stands for the module root (rt_expect_error). */
static void expect_error(const char* file,
                         const char* src,
                         int code,
                         const char* const* parts) {
  pkg_root();
  rt_write(file ? file : "case.js", "%s", src);
  rt_expect_error(file ? file : "case.js", code, parts);
}

#define PARTS RT_PARTS

/* exports: a string is the package's only entry; "main" is not used then */
static void t_exports_string(void) {
  expect_value("import a from 'exp-string'; export default a;",
               "\"exp-string\"");
  expect_error(NULL, "import a from 'exp-string/other.js';", ISO_ENOENT,
               PARTS("Package subpath \"./other.js\" is not defined by "
                     "\"exports\" in ~/node_modules/exp-string/package.json",
                     "imported as \"exp-string/other.js\" from "
                     "\"file://~/case.js\""));
}

/* exports: a subpath map; a file it does not list is not importable, even
 * though it exists; a JSON file through it */
static void t_exports_subpaths(void) {
  expect_value(
      "import a from 'exp-map';\n"
      "import b from 'exp-map/sub';\n"
      "import d from 'exp-map/data.json' with { type: 'json' };\n"
      "export default [a, b, d.k];",
      "[\"exp-map\",\"exp-map-sub\",[1,2]]");
  expect_error(NULL, "import a from 'exp-map/lib/hidden.js';", ISO_ENOENT,
               PARTS("Package subpath \"./lib/hidden.js\" is not defined by "
                     "\"exports\" in ~/node_modules/exp-map/package.json"));
  expect_error(NULL, "import a from 'exp-map/';", ISO_EINVAL,
               PARTS("Invalid module specifier \"exp-map/\"", "ends with"));
}

/* patterns: one "*", the longest prefix before it first (then the longer
 * key), "*" replaced in the whole target; a null target excludes what a
 * shorter pattern would have exported */
static void t_exports_patterns(void) {
  expect_value(
      "import a from 'exp-pattern/other';\n"
      "import b from 'exp-pattern/feat/y';\n"
      "import c from 'exp-pattern/feat/deep/z';\n"
      "import d from 'exp-pattern/feat/special/x';\n"
      "import e from 'exp-pattern/feat/q.mjs';\n"
      "import f from 'exp-pattern/twice/a';\n"
      "export default [a, b, c, d, e, f];",
      "[\"all-other\",\"feat-y\",\"feat-deep-z\",\"special-x\",\"mjs-q\","
      "\"twice-a\"]");
  expect_error(NULL, "import a from 'exp-pattern/internal/x';", ISO_ENOENT,
               PARTS("Package subpath \"./internal/x\" is not defined"));
}

/* conditions: matched in the package's order among import, module and
 * default; others (require, node, browser, types) skipped; nested; an
 * object where none matches falls through to the next; null excludes */
static void t_exports_conditions(void) {
  expect_value(
      "import a from 'exp-cond';\n"
      "import b from 'exp-cond/import-first';\n"
      "import c from 'exp-cond/nested';\n"
      "import d from 'exp-cond/fallthrough';\n"
      "import e from 'exp-cond/dflt';\n"
      "export default [a, b, c, d, e];",
      "[\"cond-module\",\"cond-import\",\"cond-nested-import\","
      "\"cond-default\",\"cond-default\"]");
  expect_error(NULL, "import a from 'exp-cond/none';", ISO_ENOENT,
               PARTS("Package subpath \"./none\" is not defined"));
  expect_error(NULL, "import a from 'exp-cond/excluded';", ISO_ENOENT,
               PARTS("Package subpath \"./excluded\" is not defined"));
}

/* arrays: an invalid target or null goes on to the next fallback, an
 * empty array excludes, and when all are invalid the last error stands */
static void t_exports_arrays(void) {
  expect_value(
      "import a from 'exp-array';\n"
      "import b from 'exp-array/nullfirst';\n"
      "import c from 'exp-array/cond';\n"
      "export default [a, b, c];",
      "[\"array-ok\",\"array-ok\",\"array-ok\"]");
  expect_error(NULL, "import a from 'exp-array/all-bad';", ISO_EINVAL,
               PARTS("Invalid \"exports\" target \"/abs.js\" for "
                     "\"./all-bad\" in ~/node_modules/exp-array/package.json"));
  expect_error(NULL, "import a from 'exp-array/empty';", ISO_ENOENT,
               PARTS("Package subpath \"./empty\" is not defined"));
}

/* targets must start with "./" and stay inside the package: no "..", "."
 * or node_modules segment (any case, percent-encoded too), no absolute
 * path, URL or package name; a pattern's match obeys the same rule */
static void t_invalid_targets(void) {
  static const struct {
    const char* sub;
    const char* target;
  } bad[] = {
      {"up", "./../outside.js"},
      {"nm", "./node_modules/dep/index.js"},
      {"nm-upper", "./NODE_MODULES/dep/index.js"},
      {"pct", "./%2e%2e/outside.js"},
      {"abs", "/etc/passwd"},
      {"bare", "exp-string"},
      {"url", "file:///etc/passwd"},
      {"empty-seg", "./lib//a.js"},
      {"dot-seg", "./lib/./a.js"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    char src[128], want[256];
    snprintf(src, sizeof(src), "import a from 'exp-invalid/%s';", bad[i].sub);
    snprintf(want, sizeof(want),
             "Invalid \"exports\" target \"%s\" for \"./%s\"", bad[i].target,
             bad[i].sub);
    expect_error(NULL, src, ISO_EINVAL,
                 PARTS(want, "~/node_modules/exp-invalid/package.json",
                       "from \"file://~/case.js\""));
  }
  expect_error(NULL, "import a from 'exp-invalid/num';", ISO_EINVAL,
               PARTS("Invalid \"exports\" target", "\"./num\""));
  expect_value("import a from 'exp-invalid/pat/a'; export default a;",
               "\"invalid-lib-a\"");
  expect_error(NULL, "import a from 'exp-invalid/pat/../lib/a';", ISO_EINVAL,
               PARTS("Invalid module specifier \"exp-invalid/pat/../lib/a\"",
                     "\"../lib/a\" matched by \"./pat/*\""));
}

/* a broken package.json: keys mixing subpaths and conditions, a condition
 * that is an array index, JSON that does not parse (with its position) */
static void t_invalid_configs(void) {
  expect_error(NULL, "import a from 'exp-mixed';", ISO_EINVAL,
               PARTS("Invalid package configuration "
                     "~/node_modules/exp-mixed/package.json",
                     "mixes subpaths"));
  expect_error(NULL, "import a from 'exp-index-cond';", ISO_EINVAL,
               PARTS("Invalid package configuration", "array index"));
  expect_error(NULL, "import a from 'exp-badjson';", ISO_EINVAL,
               PARTS("Invalid package configuration "
                     "~/node_modules/exp-badjson/package.json",
                     "line 1, column 22"));
}

/* "imports": exact keys, patterns, conditions, a package (and a pattern
 * into one); "#" alone; undefined keys; targets that leave the package;
 * a built-in through "imports" */
static void t_imports(void) {
  expect_value(
      "import a from '#util';\n"
      "import b from '#lib/one';\n"
      "import c from '#dep';\n"
      "import d from '#dep/feat/y';\n"
      "import e from '#cond';\n"
      "export default [a, b, c, d, e];",
      "[\"util\",\"lib-one\",\"exp-string\",\"feat-y\",\"cond-module\"]");
  /* from a module deeper in the package: the same package.json */
  pkg_root();
  rt_write("src/lib/deep.js",
           "import a from '#util'; import b from '#lib/one';\n"
           "export default [a, b];");
  rt_result r;
  rt_run("src/lib/deep.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"util\",\"lib-one\"]");
  rt_result_free(&r);
  expect_error(NULL, "import a from '#nope';", ISO_ENOENT,
               PARTS("Package import specifier \"#nope\" is not defined in "
                     "~/package.json",
                     "imported from \"file://~/case.js\""));
  expect_error(NULL, "import a from '#';", ISO_EINVAL,
               PARTS("Invalid module specifier \"#\""));
  expect_error(NULL, "import a from '#up';", ISO_EINVAL,
               PARTS("Invalid \"imports\" target \"../outside.js\" for "
                     "\"#up\""));
  expect_error(NULL, "import a from '#fs';", ISO_ENOENT,
               PARTS("Cannot import \"fs\"", "Node.js built-in"));
  /* the search for the package.json stops at a node_modules folder: a
   * loose module in one does not belong to the app */
  expect_error("node_modules/loose.js", "import a from '#util';", ISO_ENOENT,
               PARTS("Package import specifier \"#util\" imported from "
                     "\"file://~/node_modules/loose.js\" is not defined: no "
                     "package.json above it"));
}

/* a package importing its own name resolves through its "exports" (and
 * the app's own name from the root); subpaths it does not export fail */
static void t_self_reference(void) {
  expect_value(
      "import s from 'selfish';\n"
      "import a from 'app';\n"
      "import f from 'app/feature';\n"
      "export default [s, a, f];",
      "[[\"selfish\",\"selfish-helper\",\"selfish-helper\"],\"app\","
      "\"app-feature\"]");
  expect_error(NULL, "import a from 'app/nope';", ISO_ENOENT,
               PARTS("Package subpath \"./nope\" is not defined by "
                     "\"exports\" in ~/package.json"));
}

/* no "exports": "main" as it is, with .js or .json, as a directory with
 * index.js; then index.js; "exports": null counts as none; "pkg/sub"
 * names the file itself */
static void t_main_and_legacy(void) {
  expect_value(
      "import a from 'legacy-main';\n"
      "import b from 'legacy-main/lib/other.js';\n"
      "import c from 'legacy-exact';\n"
      "import d from 'legacy-dir';\n"
      "import e from 'legacy-index';\n"
      "import f from 'legacy-nullexports';\n"
      "export default [a, b, c, d, e, f];",
      "[\"legacy-main-entry\",\"legacy-other\",\"legacy-exact\","
      "\"legacy-dir-index\",\"legacy-index\",\"legacy-null-exports\"]");
  expect_error(NULL, "import a from 'legacy-missing';", ISO_ENOENT,
               PARTS("Cannot find the main entry of package "
                     "\"legacy-missing\" in ~/node_modules/legacy-missing",
                     "tried gone.js, gone.js.js, gone.js.json, "
                     "gone.js/index.js, gone.js/index.json, index.js, "
                     "index.json"));
  expect_error(NULL, "import a from 'legacy-main/lib/nope.js';", ISO_ENOENT,
               PARTS("Module not found "
                     "\"file://~/node_modules/legacy-main/lib/nope.js\"",
                     "imported as \"legacy-main/lib/nope.js\""));
}

/* "@scope/name" and its subpaths; "@scope" alone is not a package name */
static void t_scoped(void) {
  expect_value(
      "import a from '@scope/pkg';\n"
      "import b from '@scope/pkg/x';\n"
      "export default [a, b];",
      "[\"scoped\",\"scoped-x\"]");
  expect_error(NULL, "import a from '@scope';", ISO_EINVAL,
               PARTS("Invalid module specifier \"@scope\""));
  expect_error(NULL, "import a from '@scope/nope';", ISO_ENOENT,
               PARTS("Cannot find package \"@scope/nope\""));
}

/* the nearest node_modules wins: outer's own dep, the app's elsewhere */
static void t_nested_node_modules(void) {
  expect_value(
      "import o from 'outer';\n"
      "import d from 'dep';\n"
      "export default [o, d];",
      "[[\"outer\",\"dep-inner\"],\"dep-outer\"]");
}

/* not found: the error lists every node_modules folder looked in, from
 * the importer's directory up to the module root and no further (a
 * package above the root: test_run's packages_above_root_not_found) */
static void t_not_found_names_what_was_tried(void) {
  expect_error("sub/case.js", "import a from 'nowhere';", ISO_ENOENT,
               PARTS("Cannot find package \"nowhere\" imported from "
                     "\"file://~/sub/case.js\" (looked in "
                     "~/sub/node_modules, ~/node_modules; packages",
                     "within the module root \"~\""));
}

/* Node's built-ins, bare or "node:", are refused with their name and the
 * importer (here a package's module, so the package is named too) */
static void t_builtins_refused(void) {
  expect_error(NULL, "import fs from 'fs';", ISO_ENOENT,
               PARTS("Cannot import \"fs\" from \"file://~/case.js\": it is a "
                     "Node.js built-in module"));
  expect_error(NULL, "import p from 'node:path';", ISO_ENOENT,
               PARTS("Cannot import \"node:path\" from \"file://~/case.js\""));
  expect_error(NULL, "import p from 'fs/promises';", ISO_ENOENT,
               PARTS("Cannot import \"fs/promises\""));
  expect_error(NULL, "import f from 'needs-fs';", ISO_ENOENT,
               PARTS("Cannot import \"node:fs\" from "
                     "\"file://~/node_modules/needs-fs/index.js\""));
  /* and through import(), catchable */
  expect_value(
      "let m;\n"
      "try { await import('path'); } catch (e) { m = e.message; }\n"
      "export default m.includes('\"path\"') && m.includes('built-in');",
      "true");
}

/* other URL schemes are refused by name; a dynamic import of a package
 * works like a static one */
static void t_schemes_and_dynamic(void) {
  expect_error(NULL, "import a from 'https://example.com/a.js';", ISO_ENOENT,
               PARTS("Unsupported URL scheme \"https:\""));
  expect_value(
      "const m = await import('exp-pattern/feat/y');\n"
      "export default m.default;",
      "\"feat-y\"");
}

/* a package linked into node_modules (as pnpm does) resolves to its real
 * path, so its own dependencies are found next to that; a link that
 * leads outside the module root is refused when read */
static void t_links(void) {
  const char* root = pkg_root();
  char cmd[4096];
  snprintf(
      cmd, sizeof(cmd),
      "mkdir -p '%s/store/linked/node_modules/real-dep' '%s/store/linked/"
      "node_modules/linked' && "
      "printf '{\"exports\":\"./i.js\"}' > "
      "'%s/store/linked/node_modules/real-dep/package.json' && "
      "echo \"export default 'real-dep';\" > "
      "'%s/store/linked/node_modules/real-dep/i.js' && "
      "printf '{\"exports\":\"./i.js\"}' > "
      "'%s/store/linked/node_modules/linked/package.json' && "
      "echo \"import d from 'real-dep'; export default ['linked', d, "
      "import.meta.url.includes('/store/')];\" > "
      "'%s/store/linked/node_modules/linked/i.js' && "
      "ln -s '%s/store/linked/node_modules/linked' '%s/node_modules/linked'",
      root, root, root, root, root, root, root, root);
  CHECK(system(cmd) == 0);
  rt_write("case.js", "import l from 'linked'; export default l;");
  rt_result r;
  rt_run("case.js", &r);
  if (r.status != 0) {
    fprintf(stderr, "  %s\n", r.error);
  }
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"linked\",\"real-dep\",true]");
  rt_result_free(&r);
}

static void t_link_outside_root(void) {
  const char* root = pkg_root();
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "mkdir -p '%s.out/evil' && printf '{\"exports\":\"./i.js\"}' > "
           "'%s.out/evil/package.json' && echo 'export default 1;' > "
           "'%s.out/evil/i.js' && ln -s '%s.out/evil' '%s/node_modules/evil'",
           root, root, root, root, root);
  CHECK(system(cmd) == 0);
  rt_write("case.js", "import e from 'evil'; export default e;");
  rt_result r;
  rt_run("case.js", &r);
  CHECK_EQ(r.status, ISO_EPERM);
  CHECK_CONTAINS(r.error, "outside the module root");
  rt_result_free(&r);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s.out'", root);
  CHECK(system(cmd) == 0);
}

/* more packages than the runtime's package.json cache holds (256): the
 * least recently used are dropped and read again when needed (twice per
 * import: when the graph loads and when V8 links it), and every import
 * still resolves; under ASan, that nothing freed is used */
static void t_cache_bounded(void) {
  enum { N = 300 };
  const char* root = pkg_root();
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s/many/node_modules'", root);
  CHECK(system(cmd) == 0);
  size_t cap = (size_t)N * 64 + 64;
  char* src = malloc(cap);
  CHECK(src != NULL);
  size_t o = 0;
  for (int i = 0; i < N; i++) {
    char name[64], text[128];
    snprintf(name, sizeof(name), "many/node_modules/p%d/package.json", i);
    snprintf(text, sizeof(text), "{\"name\": \"p%d\", \"exports\": \"./i.js\"}",
             i);
    rt_write(name, "%s", text);
    snprintf(name, sizeof(name), "many/node_modules/p%d/i.js", i);
    rt_write(name, "export default %d;\n", i);
    o += (size_t)snprintf(src + o, cap - o, "import p%d from 'p%d';\n", i, i);
  }
  snprintf(src + o, cap - o, "export default p0 + p150 + p299;\n");
  rt_write("many/main.js", "%s", src);
  free(src);
  rt_result r;
  rt_run("many/main.js", &r);
  if (r.status != 0) {
    fprintf(stderr, "  %s\n", r.error);
  }
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "449");
  rt_result_free(&r);
}

static const iso_test cases[] = {
    {"exports_string", t_exports_string},
    {"exports_subpaths", t_exports_subpaths},
    {"exports_patterns", t_exports_patterns},
    {"exports_conditions", t_exports_conditions},
    {"exports_arrays", t_exports_arrays},
    {"invalid_targets", t_invalid_targets},
    {"invalid_configs", t_invalid_configs},
    {"imports", t_imports},
    {"self_reference", t_self_reference},
    {"main_and_legacy", t_main_and_legacy},
    {"scoped", t_scoped},
    {"nested_node_modules", t_nested_node_modules},
    {"not_found_names_what_was_tried", t_not_found_names_what_was_tried},
    {"builtins_refused", t_builtins_refused},
    {"schemes_and_dynamic", t_schemes_and_dynamic},
    {"links", t_links},
    {"link_outside_root", t_link_outside_root},
    {"cache_bounded", t_cache_bounded},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
