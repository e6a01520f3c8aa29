/* test_loader.c: the module loader: graphs, cycles, specifier forms, JSON
 * modules, dynamic import, import.meta, and every way loading can fail. */
#include "rt_harness.h"
#include "tap.h"

static void t_diamond_compiled_once(void) {
  rt_root();
  rt_write("main.js",
           "import { a } from './a.js';\n"
           "import { b } from './b.js';\n"
           "export default a + b;\n");
  rt_write("a.js", "import { c } from './c.js'; export const a = c + 1;\n");
  rt_write("b.js", "import { c } from './c.js'; export const b = c + 2;\n");
  rt_write("c.js", "console.log('c evaluated'); export const c = 10;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "23");
  CHECK_STR(rt_out(&r), "c evaluated\n<value>\n");
  rt_result_free(&r);
}

static void t_cycle(void) {
  rt_root();
  rt_write("main.js",
           "import { even } from './even.js';\n"
           "export default [even(10), even(7)];\n");
  rt_write("even.js",
           "import { odd } from './odd.js';\n"
           "export function even(n) { return n === 0 ? true : odd(n - 1); }\n");
  rt_write(
      "odd.js",
      "import { even } from './even.js';\n"
      "export function odd(n) { return n === 0 ? false : even(n - 1); }\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[true,false]");
  rt_result_free(&r);
}

static void t_specifier_forms(void) {
  const char* root = rt_root();
  rt_write("main.js",
           "import { x } from './sub/x.js';\n"
           "import { y } from '%s/y.js';\n"
           "import { z } from 'file://%s/z.js';\n"
           "export default x + y + z;\n",
           root, root);
  rt_write("sub/x.js", "import { w } from '../w.js'; export const x = w;\n");
  rt_write("w.js", "export const w = 'w';\n");
  rt_write("y.js", "export const y = 'y';\n");
  rt_write("z.js", "export const z = 'z';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"wyz\"");
  rt_result_free(&r);
}

static void t_json_modules(void) {
  rt_root();
  rt_write("main.js",
           "import a from './d.json' with { type: 'json' };\n"
           "import b from './d.json' assert { type: 'json' };\n"
           "const c = await import('./d.json', { assert: { type: 'json' } });\n"
           "export default { k: a.k, same: a === b && b === c.default };\n");
  rt_write("d.json", "{\"k\": [1, \"two\", null]}");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "{\"k\":[1,\"two\",null],\"same\":true}");
  rt_result_free(&r);
}

static void t_json_bad(void) {
  rt_root();
  rt_write("main.js", "import a from './d.json' with { type: 'json' };\n");
  rt_write("d.json", "{nope");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESYNTAX);
  CHECK_CONTAINS(r.error, "SyntaxError");
  CHECK_CONTAINS(r.error, "d.json");
  rt_result_free(&r);
}

static void t_dynamic_import(void) {
  rt_root();
  rt_write("main.js",
           "const m1 = await import('./lazy.js');\n"
           "const m2 = await import('./lazy.js');\n"
           "export default [m1.value, m1 === m2, globalThis.count];\n");
  rt_write("lazy.js",
           "globalThis.count = (globalThis.count || 0) + 1;\n"
           "await new Promise((r) => setTimeout(r, 5));\n"
           "export const value = 'lazy';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"lazy\",true,1]");
  rt_result_free(&r);
}

static void t_import_meta(void) {
  const char* root = rt_root();
  rt_write("main.js",
           "import { meta } from './dep.js';\n"
           "export default [import.meta.url, import.meta.main, meta.main,\n"
           "  meta.url.endsWith('/dep.js')];\n");
  rt_write("dep.js", "export const meta = import.meta;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  char want[1024];
  snprintf(want, sizeof(want), "[\"file://%s/main.js\",true,false,true]", root);
  CHECK_STR(r.value, want);
  rt_result_free(&r);
}

static void t_bare_specifier(void) {
  const char* root = rt_root();
  rt_write("main.js", "import _ from 'lodash';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ENOENT);
  CHECK_CONTAINS(r.error, "\"lodash\"");
  char importer[600];
  snprintf(importer, sizeof(importer), "file://%s/main.js", root);
  CHECK_CONTAINS(r.error, importer);
  rt_result_free(&r);
}

static void t_missing_file(void) {
  rt_root();
  rt_write("main.js", "import './a.js';\n");
  rt_write("a.js", "import './gone.js';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ENOENT);
  CHECK_CONTAINS(r.error, "Module not found");
  CHECK_CONTAINS(r.error, "gone.js");
  CHECK_CONTAINS(r.error, "imported as \"./gone.js\" from");
  CHECK_CONTAINS(r.error, "/a.js");
  rt_result_free(&r);
}

static void t_missing_main(void) {
  rt_root();
  rt_result r;
  rt_run("nothing-here.js", &r);
  CHECK_EQ(r.status, ISO_ENOENT);
  CHECK_CONTAINS(r.error, "Module not found");
  CHECK_CONTAINS(r.error, "nothing-here.js");
  rt_result_free(&r);
}

static void t_outside_root(void) {
  rt_root();
  rt_write("main.js", "import '../../../etc/passwd';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EPERM);
  CHECK_CONTAINS(r.error, "outside the module root");
  CHECK_CONTAINS(r.error, "\"../../../etc/passwd\"");
  rt_result_free(&r);
}

static void t_symlink_escape(void) {
  const char* root = rt_root();
  rt_write("main.js", "import './link.js';\n");
  char link[600];
  snprintf(link, sizeof(link), "%s/link.js", root);
  CHECK(symlink("/etc/hostname", link) == 0);
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EPERM);
  CHECK_CONTAINS(r.error, "outside the module root");
  rt_result_free(&r);
}

static void t_unreadable(void) {
  const char* root = rt_root();
  rt_write("main.js", "import './dir.js';\n");
  char dir[600];
  snprintf(dir, sizeof(dir), "%s/dir.js", root);
  CHECK(mkdir(dir, 0755) == 0);
  rt_result r;
  rt_run("main.js", &r);
  CHECK(r.status != 0);
  CHECK_CONTAINS(r.error, "not a regular file");
  rt_result_free(&r);
}

static void t_syntax_error_position(void) {
  const char* root = rt_root();
  rt_write("main.js", "import './bad.js';\n");
  rt_write("bad.js", "const ok = 1;\nlet x = ;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ESYNTAX);
  char where[600];
  snprintf(where, sizeof(where), "file://%s/bad.js:2:9", root);
  CHECK_CONTAINS(r.error, where);
  CHECK_CONTAINS(r.error, "SyntaxError: Unexpected token ';'");
  rt_result_free(&r);
}

static void t_missing_export(void) {
  rt_root();
  rt_write("main.js", "import { nope } from './a.js';\n");
  rt_write("a.js", "export const yes = 1;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK(r.status != 0);
  CHECK_CONTAINS(r.error, "does not provide an export named 'nope'");
  rt_result_free(&r);
}

static void t_dynamic_import_errors_are_catchable(void) {
  rt_root();
  rt_write(
      "main.js",
      "const out = [];\n"
      "for (const s of ['garbage!', './missing.js', '../../x.js',\n"
      "                 './bad.js', 42]) {\n"
      "  try { await import(s); out.push('loaded ' + s); }\n"
      "  catch (e) { out.push(e.name + ': ' + e.message.split(' ')[0]); }\n"
      "}\n"
      "export default out;\n");
  rt_write("bad.js", "export let = 3;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value,
            "[\"TypeError: Relative\",\"TypeError: Module\","
            "\"TypeError: Import\",\"SyntaxError: Unexpected\","
            "\"TypeError: Relative\"]");
  rt_result_free(&r);
}

static void t_top_level_await(void) {
  rt_root();
  rt_write("main.js",
           "import { v } from './slow.js';\n"
           "export default v;\n");
  rt_write("slow.js",
           "export const v = await new Promise((r) => setTimeout(() => "
           "r('slow'), 20));\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "\"slow\"");
  rt_result_free(&r);
}

static const iso_test cases[] = {
    {"diamond_compiled_once", t_diamond_compiled_once},
    {"cycle", t_cycle},
    {"specifier_forms", t_specifier_forms},
    {"json_modules", t_json_modules},
    {"json_bad", t_json_bad},
    {"dynamic_import", t_dynamic_import},
    {"import_meta", t_import_meta},
    {"bare_specifier", t_bare_specifier},
    {"missing_file", t_missing_file},
    {"missing_main", t_missing_main},
    {"outside_root", t_outside_root},
    {"symlink_escape", t_symlink_escape},
    {"unreadable", t_unreadable},
    {"syntax_error_position", t_syntax_error_position},
    {"missing_export", t_missing_export},
    {"dynamic_import_errors_are_catchable",
     t_dynamic_import_errors_are_catchable},
    {"top_level_await", t_top_level_await},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
