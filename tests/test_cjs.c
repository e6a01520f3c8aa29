/* test_cjs.c: CommonJS modules imported from ES modules and require()
 * (isolate/rt_cjs.c, v8s_cjs.cc, rt_pkg.c's require resolution), as
 * Node's ESM->CJS interop runs them, through the real loader in-process.
 *
 * Each case copies the package fixture (fixtures/pkg: the cjs-* packages
 * and src/plain.cjs, src/ct are the ones written for these cases) into a
 * fresh module root, writes an ES module that imports from it, runs it
 * (rt_harness.h) and checks the value or the error's text. `isopool run`
 * and a service job importing a CommonJS package are in test_run.c and
 * test_service.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

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

/* Runs `src`; it fails with `code` and the error's text holds each of the
 * parts, where "~" stands for the module root (rt_expect_error). */
static void expect_error(const char* src, int code, const char* const* parts) {
  pkg_root();
  rt_write("case.js", "%s", src);
  rt_expect_error("case.js", code, parts);
}

#define PARTS RT_PARTS

/* a package's "main" (extension searched), relative require with and
 * without ".js", a JSON file, a package by name; module.exports is the
 * default export and its properties the named ones; exports, module,
 * require, __filename, __dirname, require.resolve, require.cache, `this`
 * and `global` are Node's */
static void t_main_and_require(void) {
  expect_value(
      "import m, { greet, count, data, dep, quoted, defined, same, file,\n"
      "  dir, resolved, cached, thisIsExports, globalIsGlobalThis,\n"
      "  loadedYet } from 'cjs-main';\n"
      "export default [greet('bob'), count, data.x, dep, quoted, defined,\n"
      "  same, file, dir, resolved, cached, thisIsExports,\n"
      "  globalIsGlobalThis, loadedYet, m.greet === greet];",
      "[\"hi bob\",3,1,\"dep-require\",\"q\",\"d\",true,true,true,true,"
      "true,true,true,false,true]");
  /* named exports of `module.exports = {...}`, methods included */
  expect_value(
      "import h, { prefix, add, list } from 'cjs-main/lib/helper.js';\n"
      "export default [prefix, add(2, 3), list, h.prefix];",
      "[\"hi \",5,[1,2],\"hi \"]");
}

/* one module.exports per realm: an import and a require of one file share
 * it, and the file runs once */
static void t_one_instance(void) {
  expect_value(
      "import h from 'cjs-main/lib/helper.js';\n"
      "import m from 'cjs-main';\n"
      "const again = await import('cjs-main/lib/helper.js');\n"
      "export default [h === again.default, m.same];",
      "[true,true]");
}

/* "exports" conditions: "require" for require(), "import" for import */
static void t_conditions(void) {
  expect_value(
      "import d from 'cjs-dep';\n"
      "import { dep } from 'cjs-main';\n"
      "export default [d, dep];",
      "[\"dep-import\",\"dep-require\"]");
}

/* a cycle between two files, and one across two packages: the second
 * sees the first's exports as they are so far, as in Node */
static void t_cycles(void) {
  expect_value(
      "import a from 'cjs-cycle';\n"
      "export default [a.early, a.late, a.bSaw, a.bSeesLate()];",
      "[\"a-early\",\"a-late\",[\"a-early\",\"partial\"],\"a-late\"]");
  expect_value(
      "import { name, pong, pongSaw } from 'cjs-ping';\n"
      "export default [name, pong, pongSaw];",
      "[\"ping\",\"pong\",\"ping\"]");
}

/* a transpiled ES module (__esModule): the default export is still
 * module.exports, as in Node; its "default" property is there */
static void t_esmodule_interop(void) {
  expect_value(
      "import d, { named, __esModule } from 'cjs-esmodule';\n"
      "import * as ns from 'cjs-esmodule';\n"
      "export default [d.default, named, __esModule, ns.default === d];",
      "[\"the-default\",\"the-named\",true,true]");
}

/* module.exports = require("./x") and __exportStar(require("./y")) give
 * x's and y's names; so do Babel's and TypeScript's re-exports */
static void t_reexports(void) {
  expect_value(
      "import { alpha, beta, gamma } from 'cjs-reexport';\n"
      "export default [alpha, beta, gamma];",
      "[\"A\",\"B\",\"G\"]");
  /* Babel's Object.keys(_x).forEach(...) with _x = require("./x") (or
   * wrapped), TypeScript's (0, tslib.__exportStar)(require("./x")) */
  expect_value(
      "import { gamma, delta } from 'cjs-reexport/lib/babel.js';\n"
      "export default [gamma, delta];",
      "[\"G\",\"D\"]");
}

/* .cjs is CommonJS anywhere (a "#!" line too); a .js file is CommonJS
 * outside node_modules only where its package.json says "commonjs" */
static void t_cjs_files(void) {
  expect_value(
      "import p from './src/plain.cjs';\n"
      "import { kind } from './src/ct/x.js';\n"
      "export default [p, kind];",
      "[{\"kind\":\"cjs\",\"file\":true,\"dir\":true},\"typed-commonjs\"]");
}

/* require("pkg/") is the package's folder, as in Node (the npm package
 * punycode, not the built-in "punycode", which is refused); an import of
 * "pkg/" stays an error, as in Node's ESM */
static void t_trailing_slash(void) {
  expect_value("import s from './src/slash.cjs'; export default s;",
               "\"userland punycode\"");
  expect_error(
      "import p from 'punycode/';", ISO_EINVAL,
      PARTS("Invalid module specifier \"punycode/\"", "ends with \"/\""));
  expect_error(
      "import p from './src/builtin-punycode.cjs';", ISO_EJS,
      PARTS("Cannot require \"punycode\"", "it is a Node.js built-in module"));
}

/* a Node built-in: the error names the package and the built-in */
static void t_builtin_named(void) {
  expect_error("import p from 'cjs-needs-fs';", ISO_EJS,
               PARTS("Cannot require \"node:path\" from "
                     "\"~/node_modules/cjs-needs-fs/index.js\": package "
                     "\"cjs-needs-fs\" needs the Node.js built-in module "
                     "\"node:path\", which isopool does not have"));
}

/* require() of an ES module fails as Node's ERR_REQUIRE_ESM (.mjs, a
 * "type": "module" package, a .js file with import/export); a missing
 * file is MODULE_NOT_FOUND, a native addon refused by name; import() from
 * CommonJS works; a JSON file's byte order mark is skipped */
static void t_require_esm_and_missing(void) {
  expect_value(
      "import r from 'cjs-requires-esm';\n"
      "const out = [];\n"
      "for (const k of ['mjs', 'typed', 'detected', 'missing']) {\n"
      "  try { r[k](); out.push('loaded'); }\n"
      "  catch (e) { out.push(e.code); }\n"
      "}\n"
      "out.push((await r.dyn()).default);\n"
      "export default out;",
      "[\"ERR_REQUIRE_ESM\",\"ERR_REQUIRE_ESM\",\"ERR_REQUIRE_ESM\","
      "\"MODULE_NOT_FOUND\",\"m-mjs\"]");
  expect_value(
      "import r from 'cjs-requires-esm';\n"
      "let m, n;\n"
      "try { r.mjs(); } catch (e) { m = e.message; }\n"
      "try { r.missing(); } catch (e) { n = e.message; }\n"
      "let a; try { r.addon(); } catch (e) { a = e.message; }\n"
      "export default [m.includes('require() of ES Module ') &&\n"
      "  m.includes('/cjs-requires-esm/m.mjs'), n.includes('\"./nope\"'),\n"
      "  a.includes('addon.node is a native addon (.node)'), r.bom()];",
      "[true,true,true,{\"bom\":true}]");
}

/* a syntax error names the file and line; a throwing module fails the
 * import with its error */
static void t_errors(void) {
  expect_error("import s from 'cjs-errors/syntax.js';", ISO_ESYNTAX,
               PARTS("SyntaxError", "node_modules/cjs-errors/syntax.js:2"));
  expect_error("import t from 'cjs-errors/throws.js';", ISO_EJS,
               PARTS("cjs throws"));
}

/* the lexer skips comments, strings, templates and regular expressions
 * (a quote inside one does not throw it off); a name assigned only on a
 * branch not taken is exported as undefined, as in Node; require of a
 * directory (its index.js) and of "." */
static void t_lexer(void) {
  expect_value(
      "import * as ns from 'cjs-lexer';\n"
      "export default [Object.keys(ns).sort(), ns.conditional, ns.dir,\n"
      "  ns.self, ns.afterDivision, ns.alsoReal];",
      "[[\"afterDivision\",\"alsoReal\",\"conditional\",\"default\",\"dir\","
      "\"real\",\"self\",\"viaModule\"],null,\"sub-index\",true,2,2]");
  /* names that are not UTF-8 (here two, which V8 reads as one, U+FFFD)
   * are left to the default export */
  expect_value(
      "import * as ns from 'cjs-lexer/badutf8.js';\n"
      "export default [Object.keys(ns), Object.keys(ns.default).length];",
      "[[\"default\",\"ok\"],2]");
}

/* a name the lexer did not find: V8's error, with Node's hint that the
 * module is CommonJS and how to get the name from its default export; an
 * ES module's missing export gets no such hint */
static void t_missing_named_export(void) {
  expect_error("import { nothere } from 'cjs-main';", ISO_EJS,
               PARTS("The requested module 'cjs-main' does not provide an "
                     "export named 'nothere' (it is a CommonJS module",
                     "import pkg from 'cjs-main'; const { nothere } = pkg;"));
  pkg_root();
  rt_write("case.js", "import { nothere } from 'cjs-dep';");
  rt_result r;
  rt_run("case.js", &r);
  CHECK_EQ(r.status, ISO_EJS);
  CHECK_CONTAINS(r.error ? r.error : "", "export named 'nothere'");
  CHECK(r.error == NULL || strstr(r.error, "CommonJS") == NULL);
  rt_result_free(&r);
}

/* require() stays inside the module root: a symlink to a file outside it
 * fails with a message that says so, and so does a path that climbs out;
 * the error is thrown where require() was called, so it can be caught */
static void t_require_confined(void) {
  const char* root = pkg_root();
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "mkdir -p '%s.out' && echo 'module.exports = 1;' > '%s.out/x.js' "
           "&& ln -s '%s.out/x.js' '%s/link.js'",
           root, root, root, root);
  CHECK(system(cmd) == 0);
  rt_write(
      "req.cjs",
      "const out = [];\n"
      "for (const s of ['./link.js', '../' + require('path-base')]) {\n"
      "  try { out.push(require(s)); } catch (e) { out.push(e.message); }\n"
      "}\n"
      "module.exports = out;\n");
  rt_write("node_modules/path-base/index.js", "module.exports = '%s.out/x.js';",
           strrchr(root, '/') + 1);
  rt_write("case.js", "import out from './req.cjs'; export default out;");
  rt_result r;
  rt_run("case.js", &r);
  CHECK_EQ(r.status, 0);
  const char* v = r.value ? r.value : "";
  CHECK_CONTAINS(v, "[\"Cannot require \\\"./link.js\\\" from ");
  CHECK_CONTAINS(v, "\",\"Cannot require \\\"../");
  const char* first = strstr(v, "outside the module root");
  CHECK(first != NULL && strstr(first + 1, "outside the module root"));
  rt_result_free(&r);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s.out'", root);
  CHECK(system(cmd) == 0);
}

static void once_cb(iso_realm* realm,
                    void* data,
                    int status,
                    const uint8_t* mp,
                    size_t len,
                    const iso_js_error* err) {
  int* st = data;
  *st = status != 0 ? status : 1;
}

/* a realm freed before its CommonJS module evaluated (the graph failed on
 * a missing file after the module compiled) leaves nothing behind: each
 * would otherwise keep its context alive through the compiled wrapper
 * (about 250 KiB each), so 300 such realms on one runtime would hold
 * some 75 MiB of heap */
static void t_failed_graph_leaves_nothing(void) {
  const char* root = pkg_root();
  rt_write("fail.js",
           "import m from 'cjs-main';\n"
           "import j from './cjs-data.json' with { type: 'json' };\n"
           "import x from './missing.js';\n"
           "export default [m, j, x];\n");
  rt_write("cjs-data.json", "{\"k\": 1}\n");
  rt_init_process();
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = root};
  CHECK(iso_rt_new(&ro, &rt) == 0);
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/fail.js", root);
  size_t base = 0, used = 0, limit = 0;
  for (int i = 0; rt != NULL && i < 300; i++) {
    iso_realm* realm = NULL;
    iso_realm_cbs cbs = {0};
    CHECK(iso_realm_new(rt, &cbs, NULL, &realm) == 0);
    int st = 0;
    iso_eval_opts eo = {.specifier = spec};
    CHECK(iso_realm_eval(realm, &eo, once_cb, &st) == 0);
    while (st == 0 && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    CHECK_EQ(st, ISO_ENOENT);
    iso_realm_free(realm);
    uv_run(&loop, UV_RUN_NOWAIT);
    if (i == 30) {
      iso_rt_collect(rt); /* what is alive, not garbage yet to collect */
      iso_rt_heap(rt, &base, &limit);
    }
  }
  iso_rt_collect(rt);
  iso_rt_heap(rt, &used, &limit);
  if (used > base + ((size_t)32 << 20)) {
    fprintf(stderr, "  heap: %zu KiB after 30 realms, %zu KiB after 300\n",
            base >> 10, used >> 10);
  }
  CHECK(used <= base + ((size_t)32 << 20));
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  rt_result r = {0};
  iso_buf_init(&r.out);
  rt_result_free(&r);
}

static const iso_test cases[] = {
    {"main_and_require", t_main_and_require},
    {"one_instance", t_one_instance},
    {"conditions", t_conditions},
    {"cycles", t_cycles},
    {"esmodule_interop", t_esmodule_interop},
    {"reexports", t_reexports},
    {"lexer", t_lexer},
    {"cjs_files", t_cjs_files},
    {"builtin_named", t_builtin_named},
    {"trailing_slash", t_trailing_slash},
    {"require_esm_and_missing", t_require_esm_and_missing},
    {"errors", t_errors},
    {"require_confined", t_require_confined},
    {"missing_named_export", t_missing_named_export},
    {"failed_graph_leaves_nothing", t_failed_graph_leaves_nothing},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
