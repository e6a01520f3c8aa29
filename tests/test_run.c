/* test_run.c: `isopool run` end to end, on the fixture modules in
 * fixtures/run (the module root: the command runs with it as its current
 * directory; fixtures/pkg for packages, and real npm packages installed at
 * test time when the registry can be reached), checking stdout, stderr and
 * the exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "tap.h"

#define FIXTURES ISO_FIXTURES "/run"
#define ISOPOOL ISO_BIN_DIR "/isopool"

static void run(proc_result* r,
                const char* a1,
                const char* a2,
                const char* a3,
                const char* a4) {
  const char* argv[] = {ISOPOOL, a1, a2, a3, a4, NULL};
  CHECK(proc_run(FIXTURES, argv, 60, r) == 0);
}

static void t_hello_world(void) {
  proc_result r;
  run(&r, "run", "hello.js", NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "1\nOne\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
}

static void t_default_called_with_args(void) {
  proc_result r;
  run(&r, "run", "job.js", "21", "the answer");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "{\"label\":\"the answer\",\"value\":42}\n");
  proc_result_free(&r);
}

static void t_json_args(void) {
  proc_result r;
  run(&r, "run", "job.js", "1.5", "[1,{\"a\":null}]");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "{\"label\":[1,{\"a\":null}],\"value\":3}\n");
  proc_result_free(&r);
}

static void t_load_unload(void) {
  proc_result r;
  run(&r, "run", "events.js", NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "body\n\"done\"\nload\ntimer after load\nunload\n");
  proc_result_free(&r);
}

static void t_no_default_prints_no_value(void) {
  proc_result r;
  run(&r, "run", "no_default.js", NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "no default export\n");
  proc_result_free(&r);
  run(&r, "run", "null_value.js", NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "null\n");
  proc_result_free(&r);
}

static void t_console_levels(void) {
  proc_result r;
  run(&r, "run", "warn.js", NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "fine\n");
  CHECK_STR(r.err, "careful\nbad thing\n");
  proc_result_free(&r);
}

static void t_syntax_error(void) {
  proc_result r;
  run(&r, "run", "syntax.js", NULL, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "error: Uncaught SyntaxError: Unexpected token ';'");
  CHECK_CONTAINS(r.err, "/fixtures/run/syntax.js:2:17");
  proc_result_free(&r);
}

static void t_throw_in_timer(void) {
  proc_result r;
  run(&r, "run", "throw_in_timer.js", NULL, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "error: Uncaught Error: boom\n    at file://");
  CHECK_CONTAINS(r.err, "throw_in_timer.js:2:9");
  proc_result_free(&r);
}

static void t_never_settles(void) {
  proc_result r;
  run(&r, "run", "never.js", NULL, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.err,
            "error: Module evaluation is still pending but there are no "
            "pending ops or dynamic imports. This situation is often caused "
            "by unresolved promise.\n");
  proc_result_free(&r);
}

static void t_import_garbage(void) {
  proc_result r;
  run(&r, "run", "import_garbage.js", NULL, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "\"not a specifier\"");
  CHECK_CONTAINS(r.err, "import_garbage.js");
  proc_result_free(&r);
}

static void t_outside_root(void) {
  proc_result r;
  run(&r, "run", "--root", ".", "escape.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "outside the module root");
  proc_result_free(&r);
  /* the main module itself outside the root */
  run(&r, "run", "--root", FIXTURES "/lib", "hello.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "outside the module root");
  proc_result_free(&r);
}

static void write_at(const char* dir, const char* name, const char* text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* Without --root, as `deno run`: a main module in another directory (given
 * by absolute and by relative path, from the fixtures' directory), its
 * relative imports up and down from there; with --root, an import leaving
 * the root is refused, saying so, and the main module outside it too. */
static void t_any_path(void) {
  char dir[] = "/tmp/isopool-run-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char sub[64];
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  CHECK(mkdir(sub, 0755) == 0);
  write_at(dir, "other.js", "export const other = 'other';\n");
  write_at(sub, "dep.js",
           "import { other } from '../other.js';\n"
           "export const dep = ['dep', other];\n");
  write_at(sub, "main.js",
           "import { dep } from './dep.js';\n"
           "export default [...dep, import.meta.url.endsWith('/sub/main.js')];"
           "\n");
  char main[96];
  snprintf(main, sizeof(main), "%s/main.js", sub);
  proc_result r;
  run(&r, "run", main, NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[\"dep\",\"other\",true]\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
  /* a relative path from the current directory (the fixtures') */
  char rel[160];
  snprintf(rel, sizeof(rel), "../../../../../../../../../..%s", main);
  run(&r, "run", rel, NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[\"dep\",\"other\",true]\n");
  proc_result_free(&r);
  /* --root confines: ../other.js is outside sub/ */
  run(&r, "run", "--root", sub, main);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "Import of \"../other.js\"");
  CHECK_CONTAINS(r.err, "which is outside the module root");
  CHECK_CONTAINS(r.err, sub);
  CHECK_STR(r.out, "");
  proc_result_free(&r);
  /* inside the root it runs */
  run(&r, "run", "--root", dir, main);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[\"dep\",\"other\",true]\n");
  proc_result_free(&r);
  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

/* --import-map: a bare specifier, a "/" prefix and a scope, resolved
 * against the map's own directory (not the main module's), before
 * node_modules; a map that is not JSON is refused (status 2), a warning
 * is printed and its entry blocked. */
static void t_import_map(void) {
  char dir[] = "/tmp/isopool-map-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char sub[64], maps[64], nm[96];
  snprintf(sub, sizeof(sub), "%s/src", dir);
  snprintf(maps, sizeof(maps), "%s/maps", dir);
  CHECK(mkdir(sub, 0755) == 0);
  CHECK(mkdir(maps, 0755) == 0);
  snprintf(nm, sizeof(nm), "%s/node_modules", sub);
  CHECK(mkdir(nm, 0755) == 0);
  snprintf(nm, sizeof(nm), "%s/node_modules/dep", sub);
  CHECK(mkdir(nm, 0755) == 0);
  write_at(nm, "package.json", "{\"exports\": \"./index.js\"}");
  write_at(nm, "index.js", "export default 'node_modules';\n");
  write_at(dir, "dep.js", "export default 'mapped';\n");
  write_at(dir, "util-a.js", "export default 'util a';\n");
  write_at(sub, "scoped.js", "import u from 'util-a.js';\nexport default u;\n");
  write_at(dir, "util-b.js", "export default 'util b';\n");
  write_at(sub, "main.js",
           "import d from 'dep';\n"
           "import a from 'u/util-a.js';\n"
           "import s from './scoped.js';\n"
           "export default [d, a, s];\n");
  write_at(maps, "map.json",
           "{\"imports\": {\"dep\": \"../dep.js\", \"u/\": \"../\",\n"
           " \"blocked\": 42},\n"
           " \"scopes\": {\"../src/scoped.js\": {\"util-a.js\": "
           "\"../util-b.js\"}}}");
  write_at(maps, "bad.json", "{\"imports\": ");
  char main[96], map[96], bad[96];
  snprintf(main, sizeof(main), "%s/main.js", sub);
  snprintf(map, sizeof(map), "%s/map.json", maps);
  snprintf(bad, sizeof(bad), "%s/bad.json", maps);
  proc_result r;
  run(&r, "run", "--import-map", map, main);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[\"mapped\",\"util a\",\"util b\"]\n");
  CHECK_CONTAINS(r.err,
                 "warning: import map: the address of \"blocked\" is not a "
                 "string: it is blocked");
  proc_result_free(&r);
  /* without the map: node_modules */
  write_at(sub, "main.js", "import d from 'dep';\nexport default d;\n");
  run(&r, "run", main, NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "\"node_modules\"\n");
  proc_result_free(&r);
  run(&r, "run", "--import-map", bad, main);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "the import map is not valid JSON");
  CHECK_STR(r.out, "");
  proc_result_free(&r);
  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

static void t_missing_file(void) {
  proc_result r;
  run(&r, "run", "no-such-file.js", NULL, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "Module not found");
  CHECK_CONTAINS(r.err, "no-such-file.js");
  proc_result_free(&r);
}

static void t_v8_flags(void) {
  proc_result r;
  run(&r, "run", "gc.js", NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "\"undefined\"\n");
  proc_result_free(&r);
  run(&r, "run", "--v8-flags=--expose-gc", "gc.js", NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "\"function\"\n");
  proc_result_free(&r);
}

/* V8's own work keeps `isopool run` alive (issue 12): WebAssembly awaited
 * at top level, and a FinalizationRegistry cleanup the module awaits,
 * made due by gc() in a timer (only the cleanup task is pending then). */
static void t_platform_work(void) {
  proc_result r;
  run(&r, "run", "wasm.js", "20", "22");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[42,44]\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
  run(&r, "run", "--v8-flags=--expose-gc", "finalize.js", NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "collected\n\"x\"\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
}

static void t_usage(void) {
  proc_result r;
  run(&r, NULL, NULL, NULL, NULL);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "usage:");
  proc_result_free(&r);
  run(&r, "run", NULL, NULL, NULL);
  CHECK_EQ(r.status, 2);
  proc_result_free(&r);
  run(&r, "run", "--bogus", "hello.js", NULL);
  CHECK_EQ(r.status, 2);
  proc_result_free(&r);
  run(&r, "frobnicate", NULL, NULL, NULL);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "unknown command");
  proc_result_free(&r);
  /* a --max-message that leaves no room for the service's own error
   * replies is refused before anything starts */
  run(&r, "serve", "--max-message", "1023", NULL);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "--max-message needs a number from 1024");
  proc_result_free(&r);
  run(&r, "run", "--root", "/no/such/dir", "hello.js");
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "/no/such/dir");
  proc_result_free(&r);
}

/* --kv-path: isopool:kv in a file, so a count outlives the process;
 * without it, each run starts empty. */
static void t_kv_path(void) {
  char dir[] = "/tmp/iso_run_kv_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char file[64], lock[80];
  snprintf(file, sizeof file, "%s/kv.mdb", dir);
  snprintf(lock, sizeof lock, "%s-lock", file);
  proc_result r;
  for (int i = 1; i <= 2; i++) {
    run(&r, "run", "--kv-path", file, "kv_count.js");
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.out, i == 1 ? "1\n" : "2\n");
    proc_result_free(&r);
  }
  run(&r, "run", "kv_count.js", NULL, NULL);
  CHECK_STR(r.out, "1\n");
  proc_result_free(&r);
  run(&r, "run", "--kv-sync", "often", "kv_count.js");
  CHECK_EQ(r.status, 2);
  CHECK_STR(r.err, "isopool: --kv-sync is full, nometa or none\n");
  proc_result_free(&r);
  run(&r, "run", "--kv-path", "/no/such/dir/kv.mdb", "kv_count.js");
  CHECK_EQ(r.status, 2);
  CHECK_STR(r.err,
            "isopool: kv file \"/no/such/dir/kv.mdb\": no such file or "
            "directory\n");
  proc_result_free(&r);
  unlink(file);
  unlink(lock);
  rmdir(dir);
}

/* packages: a module importing from fixtures/pkg's node_modules (exports,
 * a scoped package, a pattern, "imports", main, nested node_modules),
 * with that fixture as the current directory and so the module root */
static void t_packages(void) {
  const char* argv[] = {ISOPOOL, "run", "main.js", NULL};
  proc_result r;
  CHECK(proc_run(ISO_FIXTURES "/pkg", argv, 60, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out,
            "[\"exp-string\",\"scoped-x\",\"special-x\",\"util\","
            "\"legacy-main-entry\",[\"outer\",\"dep-inner\"]]\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
}

/* --root confines the node_modules walk: with inner/ as the root, the
 * packages of the fixture above it are not found, and the error says
 * where it looked */
static void t_packages_above_root_not_found(void) {
  const char* argv[] = {ISOPOOL, "run",           "--root",
                        "inner", "inner/main.js", NULL};
  proc_result r;
  CHECK(proc_run(ISO_FIXTURES "/pkg", argv, 60, &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err,
                 "Cannot find package \"exp-string\" imported from "
                 "\"file://" ISO_FIXTURES
                 "/pkg/inner/main.js\" "
                 "(looked in " ISO_FIXTURES
                 "/pkg/inner/node_modules; "
                 "packages are looked up within the module root \"" ISO_FIXTURES
                 "/pkg/inner\")");
  proc_result_free(&r);
}

/* CommonJS from an ES module: fixtures/pkg's cjs.js imports cjs-main (a
 * "main", relative require, JSON, a package through its "require"
 * condition) and src/plain.cjs */
static void t_commonjs(void) {
  const char* argv[] = {ISOPOOL, "run", "cjs.js", NULL};
  proc_result r;
  CHECK(proc_run(ISO_FIXTURES "/pkg", argv, 60, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[\"hi run\",{\"x\":1},\"dep-require\",\"cjs\"]\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
}

/* Real packages from the npm registry, installed at test time (pinned
 * versions: preact's "exports" with conditions and a subpath, zod's
 * import/require split, lodash-es without "exports"; CommonJS ones: ms
 * (module.exports a function), dayjs (a UMD build), lodash (its default
 * export only: as in Node, its names are not found by the lexer)),
 * imported as Node imports them. Skipped, saying so, when npm is missing or the
 * registry cannot be reached: the fixtures above are the suite's own checks. */
static void t_npm_packages(void) {
  char dir[] = "/tmp/isopool-npm-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  const char* install[] = {
      "/bin/sh", "-c",
      "echo '{\"private\": true}' > package.json && "
      "npm install --no-audit --no-fund --ignore-scripts --no-save "
      "--fetch-retries=1 --fetch-retry-maxtimeout=5000 --fetch-timeout=20000 "
      "preact@11.2.0 zod@4.6.7 lodash-es@4.18.1 ms@2.1.3 dayjs@1.11.13 "
      "lodash@4.17.21",
      NULL};
  proc_result r;
  CHECK(proc_run(dir, install, 60, &r) == 0);
  if (r.status != 0) {
    fprintf(stderr, "  skipped: npm install failed (status %d): %.300s\n",
            r.status, r.err);
  } else {
    proc_result_free(&r);
    char main[128];
    snprintf(main, sizeof(main), "%s/main.mjs", dir);
    FILE* f = fopen(main, "w");
    CHECK(f != NULL);
    if (f != NULL) {
      fputs(
          "import { h } from 'preact';\n"
          "import { useState } from 'preact/hooks';\n"
          "import { z } from 'zod';\n"
          "import { chunk } from 'lodash-es';\n"
          "import ms from 'ms';\n"
          "import dayjs from 'dayjs';\n"
          "import _ from 'lodash';\n"
          "const s = z.object({ n: z.number() });\n"
          "export default [typeof h, typeof useState, s.parse({ n: 3 }).n,\n"
          "  chunk([1, 2, 3, 4], 2), ms('2h'), dayjs('2020-01-02').year(),\n"
          "  _.chunk([1, 2, 3], 2)];\n",
          f);
      fclose(f);
    }
    const char* argv[] = {ISOPOOL, "run", "main.mjs", NULL};
    CHECK(proc_run(dir, argv, 60, &r) == 0);
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.out,
              "[\"function\",\"function\",3,[[1,2],[3,4]],7200000,2020,"
              "[[1,2],[3]]]\n");
    CHECK_STR(r.err, "");
  }
  proc_result_free(&r);
  char cmd[64];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

static const iso_test cases[] = {
    {"hello_world", t_hello_world},
    {"default_called_with_args", t_default_called_with_args},
    {"json_args", t_json_args},
    {"load_unload", t_load_unload},
    {"no_default_prints_no_value", t_no_default_prints_no_value},
    {"console_levels", t_console_levels},
    {"syntax_error", t_syntax_error},
    {"throw_in_timer", t_throw_in_timer},
    {"never_settles", t_never_settles},
    {"import_garbage", t_import_garbage},
    {"outside_root", t_outside_root},
    {"any_path", t_any_path},
    {"import_map", t_import_map},
    {"missing_file", t_missing_file},
    {"v8_flags", t_v8_flags},
    {"platform_work", t_platform_work},
    {"usage", t_usage},
    {"kv_path", t_kv_path},
    {"packages", t_packages},
    {"packages_above_root_not_found", t_packages_above_root_not_found},
    {"commonjs", t_commonjs},
    {"npm_packages", t_npm_packages, .timeout_s = 120},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
