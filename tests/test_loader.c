/* test_loader.c: the module loader: graphs, cycles, specifier forms, JSON
 * modules, dynamic import, import.meta, and every way loading can fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"

/* isolate/rt_private.h's ISO_MOD_MAX: records one realm's module map holds */
#define MOD_MAX 10000

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
  CHECK_CONTAINS(r.error, "Cannot find package \"lodash\"");
  char importer[600];
  snprintf(importer, sizeof(importer), "file://%s/main.js", root);
  CHECK_CONTAINS(r.error, importer);
  /* where it looked (test_pkg_resolve has the rest of packages) */
  snprintf(importer, sizeof(importer), "looked in %s/node_modules;", root);
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
  CHECK_CONTAINS(r.error, "not a regular file (a directory)");
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
            "[\"TypeError: Cannot\",\"TypeError: Module\","
            "\"TypeError: Import\",\"SyntaxError: Unexpected\","
            "\"TypeError: Cannot\"]");
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

/* ---- hostile module roots (what a FIFO, a device, a huge file do) ---- */

static void root_path(char* out, size_t n, const char* name) {
  snprintf(out, n, "%s/%s", rt_root_path(), name);
}

/* A FIFO opened for reading waits for a writer: the loader must refuse it
 * without opening it that way, or it holds one of libuv's pool threads for
 * ever. Nine FIFOs (more than the pool's four threads) are imported at
 * once; then a plain module must still load. */
static void t_fifo_refused(void) {
  rt_root();
  char path[600];
  for (int i = 0; i < 9; i++) {
    char name[32];
    snprintf(name, sizeof(name), "f%d.js", i);
    root_path(path, sizeof(path), name);
    CHECK(mkfifo(path, 0644) == 0);
  }
  rt_write("ok.js", "export default 'ok';\n");
  rt_write("main.js",
           "const rs = await Promise.allSettled(\n"
           "  [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => import(`./f${i}.js`)));\n"
           "const ok = await import('./ok.js');\n"
           "export default [rs.every((r) => r.status === 'rejected' &&\n"
           "  r.reason.message.includes('not a regular file (a FIFO)')),\n"
           "  ok.default];\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[true,\"ok\"]");
  rt_result_free(&r);
  /* a static import of one, and the main module being one */
  rt_root();
  root_path(path, sizeof(path), "f.js");
  CHECK(mkfifo(path, 0644) == 0);
  rt_write("main.js", "import './f.js';\n");
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EIO);
  CHECK_CONTAINS(r.error, "f.js\": not a regular file (a FIFO)");
  rt_result_free(&r);
  rt_root();
  root_path(path, sizeof(path), "main.js");
  CHECK(mkfifo(path, 0644) == 0);
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EIO);
  CHECK_CONTAINS(r.error, "not a regular file (a FIFO)");
  rt_result_free(&r);
}

/* A symlink inside the root to a FIFO inside it is refused like the FIFO;
 * one to a device (outside the root) fails the root check first; the root
 * itself is a directory. */
static void t_links_to_special_files(void) {
  rt_root();
  char path[600];
  root_path(path, sizeof(path), "fifo");
  CHECK(mkfifo(path, 0644) == 0);
  root_path(path, sizeof(path), "to-fifo.js");
  CHECK(symlink("fifo", path) == 0);
  root_path(path, sizeof(path), "zero.js");
  CHECK(symlink("/dev/zero", path) == 0);
  root_path(path, sizeof(path), "null.js");
  CHECK(symlink("/dev/null", path) == 0);
  rt_write("main.js",
           "const out = [];\n"
           "for (const s of ['./to-fifo.js', './zero.js', './null.js',\n"
           "                 '/dev/zero', './', '.']) {\n"
           "  try { await import(s); out.push('loaded'); }\n"
           "  catch (e) { out.push(e.message.includes('FIFO') ? 'fifo' :\n"
           "    e.message.includes('outside the module root') ? 'outside' :\n"
           "    e.message.includes('(a directory)') ? 'dir' : e.message); }\n"
           "}\n"
           "export default out;\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value,
            "[\"fifo\",\"outside\",\"outside\",\"outside\",\"dir\",\"dir\"]");
  rt_result_free(&r);
}

/* Sources over 64 MiB are refused before anything is read (a sparse file:
 * nothing is written); one of exactly 64 MiB loads. */
static void t_module_size_limit(void) {
  rt_root();
  char path[600];
  root_path(path, sizeof(path), "huge.js");
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  CHECK(ftruncate(fileno(f), ((off_t)64 << 20) + 1) == 0);
  fclose(f);
  rt_write("main.js", "import './huge.js';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ETOOBIG);
  CHECK_CONTAINS(r.error, "RangeError: Cannot load module");
  CHECK_CONTAINS(r.error, "larger than 64 MiB");
  rt_result_free(&r);
  /* exactly 64 MiB: a line comment of NULs after the export, loaded */
  rt_root();
  rt_write("huge.js", "export default 7; //");
  root_path(path, sizeof(path), "huge.js");
  CHECK_EQ(truncate(path, (off_t)64 << 20), 0);
  rt_write("main.js", "export { default } from './huge.js';\n");
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "7");
  rt_result_free(&r);
}

/* A failed dynamic import leaves no record behind: more failing imports
 * than the module map holds, one after the other, each of a new URL (and
 * a very long one), and the map still has room; a module that did not
 * exist at the first try loads once it does. */
static void t_failed_imports_leave_nothing(void) {
  rt_root();
  rt_write("ok.js", "export default 'ok';\n");
  rt_write(
      "main.js",
      "let failed = 0;\n"
      "for (let i = 0; i < %d; i++) {\n"
      "  try { await import(`./nope${i}.js`); } catch { failed++; }\n"
      "}\n"
      "try { await import('./' + 'x'.repeat(1 << 20)); }\n"
      "catch (e) { failed += /longer than 4095 bytes$/.test(e.message); }\n"
      "const ok = await import('./ok.js');\n"
      "export default [failed, ok.default];\n",
      MOD_MAX + 10);
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  char want[64];
  snprintf(want, sizeof(want), "[%d,\"ok\"]", MOD_MAX + 11);
  CHECK_STR(r.value, want);
  rt_result_free(&r);
}

/* Runs root/main like rt_run, with `module_root` as the module root
 * (NULL: the case's root) and isopool:fs on the case's root as its data
 * root (read and write granted). */
static void run_rooted(const char* module_root,
                       const char* main,
                       rt_result* r) {
  char err[256];
  iso_ops_env* env = NULL;
  iso_ops_env_opts eo = {.data_root = rt_root_path()};
  iso_perms* perms = NULL;
  if (iso_ops_env_new(&eo, &env, err, sizeof(err)) != 0 ||
      iso_perms_parse("", "", NULL, &perms, err, sizeof(err)) != 0) {
    fprintf(stderr, "ops env: %s\n", err);
    exit(2);
  }
  rt_init_process();
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  uv_loop_t loop;
  uv_loop_init(&loop);
  r->loop = &loop;
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop,
                    .root = module_root ? module_root : rt_root_path(),
                    .ops_env = env,
                    .default_perms = perms};
  if (iso_rt_new(&ro, &rt) != 0) {
    fprintf(stderr, "iso_rt_new failed\n");
    exit(2);
  }
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/%s", rt_root_path(), main);
  iso_eval_opts o = {.specifier = spec, .call = 1};
  iso_run_cbs cbs = rt_cbs();
  iso_run* run = NULL;
  r->status = iso_run_new(rt, &o, &cbs, r, &run);
  if (r->status == 0) {
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  iso_run_free(run);
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  iso_perms_unref(perms);
  iso_ops_env_free(env);
  iso_buf_append(&r->out, "", 1);
  r->out.len--;
}

static void t_failed_import_retried(void) {
  rt_root();
  rt_write("main.js",
           "import * as fs from 'isopool:fs';\n"
           "const out = [];\n"
           "for (let i = 0; i < 2; i++) {\n"
           "  try { out.push((await import('./later.js')).default); }\n"
           "  catch (e) { out.push(e.message.split(' ')[0]); }\n"
           "  await fs.writeTextFile('later.js', 'export default 7;');\n"
           "}\n"
           "export default out;\n");
  rt_result r;
  run_rooted(NULL, "main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[\"Module\",7]");
  rt_result_free(&r);
}

/* 2^14 distinct URLs for one small file (two directory symlinks to the
 * root, a/b/a/.../x.json): the map stops at ISO_MOD_MAX records with an
 * error that says so, and what loaded stays usable. */
static void t_module_map_bounded(void) {
  rt_root();
  char path[600];
  root_path(path, sizeof(path), "a");
  CHECK(symlink(".", path) == 0);
  root_path(path, sizeof(path), "b");
  CHECK(symlink(".", path) == 0);
  rt_write("x.json", "1");
  rt_write(
      "main.js",
      "let loaded = 0, err = '';\n"
      "for (let i = 0; i < 16384 && !err; i++) {\n"
      "  const p = i.toString(2).padStart(14, '0').replace(/0/g, 'a/')\n"
      "    .replace(/1/g, 'b/');\n"
      "  try { loaded += (await import(`./${p}x.json`)).default; }\n"
      "  catch (e) { err = e.name + ': ' + e.message; }\n"
      "}\n"
      "const again = (await import('./a/a/a/a/a/a/a/a/a/a/a/a/a/a/x.json'))"
      ".default;\n"
      "export default [loaded, err.replace(/\"[^\"]*\"/, 'URL'), again];\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  char want[256];
  snprintf(want, sizeof(want),
           "[%d,\"TypeError: Cannot load URL: this realm's module map is "
           "full (%d modules)\",1]",
           MOD_MAX - 1, MOD_MAX);
  CHECK_STR(r.value, want);
  rt_result_free(&r);
}

/* import() calls not awaited: at most 10000 in flight per realm, the next
 * one is rejected at once (each holds C memory until the next tick). */
static void t_pending_dynamic_imports_bounded(void) {
  rt_root();
  rt_write("ok.js", "export default 'ok';\n");
  rt_write("main.js",
           "const ps = [];\n"
           "for (let i = 0; i < 10005; i++) ps.push(import('./ok.js'));\n"
           "const rs = await Promise.allSettled(ps);\n"
           "const bad = rs.filter((r) => r.status === 'rejected');\n"
           "export default [rs.length - bad.length, bad.length,\n"
           "  bad[0].reason.message.includes('10000 dynamic imports are in "
           "flight')];\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[10000,5,true]");
  rt_result_free(&r);
}

/* A file:// URL whose percent escapes decode to bytes that are not UTF-8
 * is refused (the URL would reach import.meta.url and error text). */
static void t_percent_escapes_not_utf8(void) {
  const char* root = rt_root();
  rt_write("main.js",
           "try { await import('file://%s/%%ff%%fe.js'); }\n"
           "catch (e) { globalThis.msg = e.message; }\n"
           "const ok = await import('file://%s/%%6fk.js');\n"
           "export default [globalThis.msg.includes('not valid UTF-8'), "
           "ok.default];\n",
           root, root);
  rt_write("ok.js", "export default 'ok';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[true,\"ok\"]");
  rt_result_free(&r);
}

/* Writes root/main.js: n static imports of ./a.js, each spelled
 * differently ("./d7/../a.js"), so V8 keeps them apart and the loader
 * resolves every one. */
static void write_many_imports(int n) {
  char path[600];
  root_path(path, sizeof(path), "main.js");
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  for (int i = 0; f != NULL && i < n; i++) {
    fprintf(f, "import './d%d/../a.js';\n", i);
  }
  if (f != NULL) {
    fprintf(f, "export default globalThis.a;\n");
    fclose(f);
  }
}

/* Runs main.js with n static imports of a.js; its wall time in ns. */
/* The process's CPU time (every thread's, V8's compiler threads too): a
 * loaded machine stretches wall time, not this. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t time_imports(int n) {
  rt_root();
  rt_write("a.js", "globalThis.a = (globalThis.a || 0) + 1;\n");
  write_many_imports(n);
  rt_result r;
  uint64_t t0 = cpu_ns();
  rt_run("main.js", &r);
  uint64_t took = cpu_ns() - t0;
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "1");
  rt_result_free(&r);
  return took;
}

/* A module's static imports: 10000 spellings of one file load without
 * blowing up (one record, visited once), one more is refused before
 * anything is resolved: each import costs C work no deadline can stop.
 * Checked as a ratio of CPU time in one run, not a wall-clock bound that
 * a loaded machine or a sanitizer tree breaks (a ratio of wall times
 * reached 66x in CI's ASan tree at load 12): 10x the imports took 10x-30x the
 * time here (V8's own work on a module that long grows faster than
 * linearly; 30x under ASan), a loader that went through every import for
 * each would take 100x. */
static void t_module_imports_bounded(void) {
  time_imports(500); /* warm: the isolate, the prelude's code cache */
  uint64_t tenth = time_imports(1000);
  uint64_t full = time_imports(10000);
  fprintf(stderr, "    1000 imports %.0f ms CPU, 10000 %.0f ms\n", tenth / 1e6,
          full / 1e6);
  CHECK(full < 60 * tenth);
  rt_result r;
  rt_root();
  rt_write("a.js", "globalThis.a = 1;\n");
  write_many_imports(10001);
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_ETOOBIG);
  CHECK_CONTAINS(r.error, "main.js\" has 10001 static imports (at most 10000)");
  rt_result_free(&r);
}

/* A UNIX socket named like a module: refused like a FIFO, never opened. */
static void t_socket_refused(void) {
  rt_root();
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  CHECK(strlen(rt_root_path()) + 6 < sizeof(sa.sun_path));
  memcpy(sa.sun_path, rt_root_path(), strlen(rt_root_path()));
  memcpy(sa.sun_path + strlen(rt_root_path()), "/s.js", 6);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(fd >= 0 && bind(fd, (struct sockaddr*)&sa, sizeof(sa)) == 0);
  rt_write("main.js", "import './s.js';\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, ISO_EIO);
  CHECK_CONTAINS(r.error, "s.js\": not a regular file (a socket)");
  rt_result_free(&r);
  close(fd);
}

/* With "/" as the module root every path is inside it, so the root check
 * lets /dev/zero through: the file type check must refuse it (reading it
 * would never end), and /dev/null, and a directory. */
static void t_root_slash_devices(void) {
  rt_root();
  rt_write("main.js",
           "const out = [];\n"
           "for (const s of ['/dev/zero', '/dev/null', '/dev/', '/proc']) {\n"
           "  try { await import(s); out.push('loaded'); }\n"
           "  catch (e) { out.push(e.message.replace(/.*\\(|\\).*/g, '')); }\n"
           "}\n"
           "export default out;\n");
  rt_result r;
  run_rooted("/", "main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value,
            "[\"a character device\",\"a character device\","
            "\"a directory\",\"a directory\"]");
  rt_result_free(&r);
}

/* Random specifiers, 3000 of them, built from the pieces resolution and
 * loading care about (./, ../, //, file://, %xx escapes, isopool:, NUL,
 * long runs, a FIFO, a directory, a JSON file): each import loads or is
 * rejected with an Error, nothing else, and the realm goes on loading. */
static void t_dynamic_import_random_specifiers(void) {
  rt_root();
  char path[600];
  root_path(path, sizeof(path), "fifo.js");
  CHECK(mkfifo(path, 0644) == 0);
  rt_write("ok.js", "export default 'ok';\n");
  rt_write("d.json", "[1]");
  rt_write("sub/x.js", "export const x = 1;\n");
  rt_write(
      "main.js",
      "let seed = 12345;\n"
      "const rnd = (n) => { seed = (seed * 1103515245 + 12345) %% 2147483648;\n"
      "  return seed %% n; };\n"
      "const parts = ['./', '../', '/', '//', '.', '..', 'file://', '%%2e',\n"
      "  '%%2F', '%%ff', '%%00', '%%', 'isopool:', 'isopool:fs', 'ok.js',\n"
      "  'fifo.js', 'sub', 'sub/', 'x.js', 'd.json', '\\0', '?q', '#h',\n"
      "  'x'.repeat(300), '\\u00e9', '\\ud800', ' ', '\\n', 'C:\\\\'];\n"
      "let loaded = 0, rejected = 0, odd = [];\n"
      "for (let i = 0; i < 3000; i++) {\n"
      "  let s = '';\n"
      "  for (let k = 1 + rnd(6); k > 0; k--) s += parts[rnd(parts.length)];\n"
      "  try { await import(s); loaded++; }\n"
      "  catch (e) {\n"
      "    if (e instanceof Error) rejected++;\n"
      "    else if (odd.length < 3) odd.push(String(e));\n"
      "  }\n"
      "}\n"
      "const ok = await import('./ok.js');\n"
      "export default [loaded > 0, rejected > 2000, loaded + rejected, odd,\n"
      "  ok.default];\n");
  rt_result r;
  rt_run("main.js", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[true,true,3000,[],\"ok\"]");
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
    {"fifo_refused", t_fifo_refused},
    {"links_to_special_files", t_links_to_special_files},
    {"module_size_limit", t_module_size_limit},
    {"failed_imports_leave_nothing", t_failed_imports_leave_nothing},
    {"failed_import_retried", t_failed_import_retried},
    {"module_map_bounded", t_module_map_bounded},
    {"pending_dynamic_imports_bounded", t_pending_dynamic_imports_bounded},
    {"percent_escapes_not_utf8", t_percent_escapes_not_utf8},
    {"module_imports_bounded", t_module_imports_bounded},
    {"socket_refused", t_socket_refused},
    {"root_slash_devices", t_root_slash_devices},
    {"dynamic_import_random_specifiers", t_dynamic_import_random_specifiers},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
