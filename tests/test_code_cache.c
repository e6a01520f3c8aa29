/* test_code_cache.c: the process's code cache of user modules
 * (isolate/v8s_code.cc) through the real runtime: each run is a new
 * isolate (rt_harness.h), so the second run of a module makes its cache
 * and the third consumes it; the figures are the cache's counters
 * (iso_rt_code_stats), and every run's value is checked too, since a
 * cache that V8 took wrongly would show as a wrong answer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"
#include "v8s.h"

static iso_code_stats stats(void) {
  iso_code_stats s;
  iso_rt_code_stats(&s);
  return s;
}

/* runs root/main (a fresh isolate), checks its value, keeps the root */
static void run_expect(const char* main, const char* want) {
  rt_result r;
  rt_run(main, &r);
  if (r.status != 0) {
    fprintf(stderr, "  %s\n", r.error ? r.error : "(no error text)");
  }
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, want);
  free(r.value);
  free(r.hex);
  free(r.error);
  iso_buf_close(&r.out);
}

/* runs root/main, which fails with a JS error whose text has `part` */
static void run_error(const char* main, const char* part) {
  rt_result r;
  rt_run(main, &r);
  CHECK(r.status == ISO_EJS || r.status == ISO_ESYNTAX);
  CHECK(r.error != NULL);
  CHECK_CONTAINS(r.error, part);
  free(r.value);
  free(r.hex);
  free(r.error);
  iso_buf_close(&r.out);
}

/* A module of a realistic size (some 40 lines per part): functions, a
 * class, a table; `salt` makes the text distinct, and its default export
 * a sum that names it. */
static void write_lib(const char* name, int salt, int parts) {
  iso_buf b;
  iso_buf_init(&b);
  char line[2048];
  for (int i = 0; i < parts; i++) {
    snprintf(line, sizeof(line),
             "export function f%d(x) {\n"
             "  let acc = %d;\n"
             "  for (let i = 0; i < x; i++) {\n"
             "    acc = (acc * 31 + i) %% 1000003;\n"
             "  }\n"
             "  return acc;\n"
             "}\n"
             "export class C%d {\n"
             "  constructor(v) { this.v = v; this.items = []; }\n"
             "  add(x) { this.items.push(x); return this; }\n"
             "  sum() { return this.items.reduce((a, b) => a + b, this.v); }\n"
             "  get size() { return this.items.length; }\n"
             "}\n"
             "const table%d = { a: 1, b: 2, c: [1, 2, 3], d: 'x%d' };\n"
             "export function g%d(s) {\n"
             "  return String(s).split('').map((c) => c.charCodeAt(0))\n"
             "    .filter((n) => n %% 2 === 0).length + table%d.c.length;\n"
             "}\n",
             i, salt, i, i, salt, i, i);
    iso_buf_append(&b, line, strlen(line));
  }
  snprintf(line, sizeof(line),
           "export default new C0(%d).add(f0(3)).add(g0('ab')).sum();\n", salt);
  iso_buf_append(&b, line, strlen(line));
  iso_buf_append(&b, "", 1);
  rt_write(name, "%s", (const char*)b.data);
  iso_buf_close(&b);
}

/* what write_lib's default export is for salt (f0(3) then g0('ab')) */
static long lib_value(int salt) {
  long acc = salt;
  for (int i = 0; i < 3; i++) {
    acc = (acc * 31 + i) % 1000003;
  }
  return salt + acc + 1 + 3; /* 'b' is the even one; table.c has 3 */
}

static void expect_lib(const char* main, int salt) {
  char want[64];
  snprintf(want, sizeof(want), "%ld", lib_value(salt));
  run_expect(main, want);
}

static void t_second_isolate_consumes(void) {
  rt_root();
  write_lib("lib.js", 7, 10);
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  iso_code_stats s0 = stats();
  expect_lib("main.js", 7); /* compiles main and lib */
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.misses - s0.misses, 2);
  CHECK_EQ(s1.hits - s0.hits, 0);
  CHECK_EQ(s1.made - s0.made, 0); /* one compile: no cache made */
  expect_lib("main.js", 7);       /* the second compiles make them */
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.made - s1.made, 2);
  CHECK_EQ(s2.hits - s1.hits, 0);
  CHECK_EQ(s1.cached - s0.cached, 0); /* seen, but no cache yet */
  CHECK_EQ(s2.cached - s0.cached, 2);
  for (int i = 0; i < 3; i++) {
    expect_lib("main.js", 7);
  }
  iso_code_stats s3 = stats();
  CHECK_EQ(s3.hits - s2.hits, 6);
  CHECK_EQ(s3.misses - s2.misses, 0);
  CHECK_EQ(s3.rejected, 0);
  CHECK(s3.bytes > 0 && s3.bytes <= s3.limit);
  rt_result r = {0};
  rt_result_free(&r);
}

static void t_changed_source_misses(void) {
  rt_root();
  write_lib("lib.js", 1, 5);
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  expect_lib("main.js", 1);
  expect_lib("main.js", 1);
  iso_code_stats s0 = stats();
  write_lib("lib.js", 2, 5); /* one number changed */
  expect_lib("main.js", 2);
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.hits - s0.hits, 1); /* main */
  CHECK_EQ(s1.misses - s0.misses, 1);
  expect_lib("main.js", 2);
  expect_lib("main.js", 2);
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.hits - s1.hits, 3);
  write_lib("lib.js", 1, 5); /* the first text again: its entry */
  expect_lib("main.js", 1);
  CHECK_EQ(stats().hits - s2.hits, 2);
  rt_result r = {0};
  rt_result_free(&r);
}

/* The same bytes at two URLs are two entries: V8 10.2 keeps the name a
 * script was compiled under in its cache (a throw would name the other
 * file), so the URL is part of the key. */
static void t_same_bytes_two_urls(void) {
  rt_root();
  rt_write("c.js", "export function boom() {\n  throw new Error('x');\n}\n");
  rt_write("d.js", "export function boom() {\n  throw new Error('x');\n}\n");
  rt_write("e.js", "import { boom } from './c.js';\nboom();\n");
  rt_write("f.js", "import { boom } from './d.js';\nboom();\n");
  run_error("e.js", "c.js:2");
  run_error("e.js", "c.js:2"); /* c.js's cache made */
  iso_code_stats s0 = stats();
  run_error("f.js", "d.js:2");
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.hits - s0.hits, 0);
  CHECK_EQ(s1.misses - s0.misses, 2);
  run_error("f.js", "d.js:2");
  run_error("f.js", "d.js:2");         /* d.js from its own cache */
  CHECK_EQ(stats().hits - s1.hits, 1); /* f.js threw: never made */
  run_error("e.js", "c.js:2");
  rt_result r = {0};
  rt_result_free(&r);
}

/* A cache V8 refuses (made with other flags: V8's flag hash in it
 * differs) is dropped, the module compiled from its text, and the cache
 * made again by that compile. */
static void t_rejected_remade(void) {
  rt_root();
  write_lib("lib.js", 5, 5);
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  expect_lib("main.js", 5);
  expect_lib("main.js", 5);
  iso_code_stats s0 = stats();
  v8s_code_cache_flip(12); /* SerializedCodeData's flag hash */
  expect_lib("main.js", 5);
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.rejected - s0.rejected, 2);
  CHECK_EQ(s1.hits - s0.hits, 0);
  CHECK_EQ(s1.made - s0.made, 2); /* remade by the compile that found it */
  expect_lib("main.js", 5);
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.hits - s1.hits, 2);
  CHECK_EQ(s2.rejected - s1.rejected, 0);
  rt_result r = {0};
  rt_result_free(&r);
}

/* many distinct modules under a small bound: the bound holds, the least
 * recently used go, and what went compiles from its text again */
static void t_bound_evicts(void) {
  rt_root();
  enum { N = 60 };
  size_t limit = 256 * 1024;
  iso_rt_code_limit(limit);
  iso_buf b;
  iso_buf_init(&b);
  char line[128];
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof(name), "m%d.js", i);
    write_lib(name, 100 + i, 4);
    snprintf(line, sizeof(line), "import v%d from './m%d.js';\n", i, i);
    iso_buf_append(&b, line, strlen(line));
  }
  long sum = 0;
  iso_buf_append(&b, "export default 0", 16);
  for (int i = 0; i < N; i++) {
    snprintf(line, sizeof(line), " + v%d", i);
    iso_buf_append(&b, line, strlen(line));
    sum += lib_value(100 + i);
  }
  iso_buf_append(&b, ";\n", 3);
  rt_write("main.js", "%s", (const char*)b.data);
  iso_buf_close(&b);
  char want[64];
  snprintf(want, sizeof(want), "%ld", sum);
  iso_code_stats s0 = stats();
  for (int i = 0; i < 3; i++) {
    run_expect("main.js", want);
    iso_code_stats s = stats();
    CHECK(s.bytes <= limit);
  }
  iso_code_stats s1 = stats();
  CHECK(s1.made - s0.made > 5); /* entries were made */
  CHECK(s1.evicted - s0.evicted > 0);
  CHECK(s1.misses - s0.misses > 2 * (N + 1)); /* evicted ones compiled */
  iso_rt_code_limit(0); /* nothing kept, everything still runs */
  CHECK_EQ(stats().bytes, 0);
  CHECK_EQ(stats().entries, 0);
  run_expect("main.js", want);
  run_expect("main.js", want);
  CHECK_EQ(stats().bytes, 0);
  iso_rt_code_limit(32 << 20);
  rt_result r = {0};
  rt_result_free(&r);
}

/* A module that throws while it evaluates makes no cache then; the next
 * compile that runs it does, and later runs consume it and are right. */
static void t_throw_at_evaluation(void) {
  rt_root();
  rt_write("lib.js",
           "export const v = 41;\n"
           "export function f() { return v + 1; }\n"
           "if (globalThis.boom) { throw new Error('boom'); }\n");
  rt_write("main.js",
           "export default async function (boom) {\n"
           "  globalThis.boom = boom;\n"
           "  try {\n"
           "    return (await import('./lib.js')).f();\n"
           "  } catch (e) {\n"
           "    return e.message;\n"
           "  }\n"
           "}\n");
  const char* no[] = {"false"};
  const char* yes[] = {"true"};
  rt_result r;
  struct {
    const char** arg;
    const char* want;
  } runs[] = {{no, "42"}, {yes, "\"boom\""}, {no, "42"},
              {no, "42"}, {yes, "\"boom\""}, {no, "42"}};
  iso_code_stats s0 = stats();
  for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
    rt_run_args("main.js", 1, runs[i].arg, &r);
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.value, runs[i].want);
    free(r.value);
    free(r.hex);
    free(r.error);
    iso_buf_close(&r.out);
  }
  iso_code_stats s1 = stats();
  /* main: made by run 2; lib: run 2 threw, so run 3 made it */
  CHECK_EQ(s1.made - s0.made, 2);
  CHECK_EQ(s1.hits - s0.hits, 4 + 3);
  memset(&r, 0, sizeof(r));
  rt_result_free(&r);
}

/* A module compiled twice but never run (its graph failed to link) makes
 * no cache, and its claim goes back with its isolate: the next compile
 * that runs it makes the cache. */
static void t_never_ran(void) {
  rt_root();
  write_lib("lib.js", 12, 3);
  rt_write("bad.js",
           "import v from './lib.js';\n"
           "import { nope } from './lib.js';\n"
           "export default v + nope;\n");
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  iso_code_stats s0 = stats();
  run_error("bad.js", "does not provide an export named 'nope'");
  run_error("bad.js", "does not provide an export named 'nope'");
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.made - s0.made, 0);
  expect_lib("main.js", 12); /* lib's third compile: it runs, made */
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.made - s1.made, 1);
  expect_lib("main.js", 12);
  CHECK_EQ(stats().hits - s2.hits, 1); /* lib; main made now */
  rt_result r = {0};
  rt_result_free(&r);
}

/* a module of some MBs: cached like any other, or not kept when its
 * cache is over a quarter of the bound; right either way */
static void t_huge_module(void) {
  rt_root();
  write_lib("lib.js", 9, 4000); /* 2.5 MB */
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  for (int i = 0; i < 3; i++) {
    expect_lib("main.js", 9);
  }
  CHECK(stats().bytes <= stats().limit);
  CHECK(stats().hits >= 1);
  iso_rt_code_limit(1 << 20); /* now over a quarter of it */
  iso_code_stats s0 = stats();
  write_lib("lib.js", 10, 4000);
  for (int i = 0; i < 3; i++) {
    expect_lib("main.js", 10);
  }
  iso_code_stats s1 = stats();
  CHECK(s1.bytes <= s1.limit);
  /* the new bound let nothing stay: main is made again (on its second
   * compile) and hits on its third, lib compiles from its text each time */
  CHECK_EQ(s1.made - s0.made, 1);
  CHECK_EQ(s1.hits - s0.hits, 1);
  CHECK_EQ(s1.misses - s0.misses, 3 + 2);
  iso_rt_code_limit(32 << 20);
  rt_result r = {0};
  rt_result_free(&r);
}

/* ---- the same module from many isolates at once ---- */

enum { THREADS = 6, ROUNDS = 4 };

typedef struct {
  int ok;                      /* runs with the right value */
  pthread_barrier_t* all_done; /* the threads' */
} runner;

/* Each thread runs its isolates on one loop of its own for its whole
 * life (rt_run's loop per run would close and reuse epoll descriptors
 * while other threads' file reads reuse their numbers, which
 * ThreadSanitizer reports as a race on the descriptor); the loops close
 * once every thread is done. */
static void* run_thread(void* arg) {
  runner* t = arg;
  char want[64], spec[1024];
  snprintf(want, sizeof(want), "%ld", lib_value(11));
  snprintf(spec, sizeof(spec), "%s/main.js", rt_root_path());
  uv_loop_t loop;
  uv_loop_init(&loop);
  for (int i = 0; i < ROUNDS; i++) {
    rt_result r;
    memset(&r, 0, sizeof(r));
    iso_buf_init(&r.out);
    r.loop = &loop;
    iso_rt* rt = NULL;
    iso_rt_opts ro = {.loop = &loop, .root = rt_root_path()};
    if (iso_rt_new(&ro, &rt) != 0) {
      break;
    }
    iso_eval_opts eo = {.specifier = spec, .call = 1};
    iso_run_cbs cbs = rt_cbs();
    iso_run* run = NULL;
    if (iso_run_new(rt, &eo, &cbs, &r, &run) == 0) {
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    iso_run_free(run);
    iso_rt_free(rt);
    uv_run(&loop, UV_RUN_DEFAULT);
    t->ok += r.done && r.status == 0 && r.value != NULL &&
             strcmp(r.value, want) == 0;
    free(r.value);
    free(r.hex);
    free(r.error);
    iso_buf_close(&r.out);
  }
  /* no loop's descriptors close while another thread still reads */
  pthread_barrier_wait(t->all_done);
  uv_loop_close(&loop);
  return NULL;
}

static void t_many_isolates_at_once(void) {
  rt_init_process();
  rt_root();
  write_lib("lib.js", 11, 20);
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  iso_code_stats s0 = stats();
  pthread_t th[THREADS];
  runner t[THREADS];
  memset(t, 0, sizeof(t));
  pthread_barrier_t all_done;
  pthread_barrier_init(&all_done, NULL, THREADS);
  for (int i = 0; i < THREADS; i++) {
    t[i].all_done = &all_done;
    CHECK_EQ(pthread_create(&th[i], NULL, run_thread, &t[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ(t[i].ok, ROUNDS);
  }
  pthread_barrier_destroy(&all_done);
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.hits + s1.misses - s0.hits - s0.misses, 2 * THREADS * ROUNDS);
  CHECK(s1.made - s0.made <= 2 * THREADS); /* claimed: not one per run */
  CHECK(s1.made - s0.made >= 2);
  CHECK(s1.hits - s0.hits > 0);
  CHECK_EQ(s1.rejected - s0.rejected, 0);
  expect_lib("main.js", 11);
  rt_result r = {0};
  rt_result_free(&r);
}

/* what export_put collects of the entries made */
typedef struct got_entries {
  int n;
  uint8_t* key[4];
  size_t key_len[4];
  uint8_t* data[4];
  size_t len[4];
} got_entries;

static void got_cb(const uint8_t* key,
                   size_t key_len,
                   const uint8_t* data,
                   size_t len,
                   void* arg) {
  got_entries* g = arg;
  if (g->n < 4) {
    g->key[g->n] = malloc(key_len);
    memcpy(g->key[g->n], key, key_len);
    g->key_len[g->n] = key_len;
    g->data[g->n] = malloc(len);
    memcpy(g->data[g->n], data, len);
    g->len[g->n] = len;
  }
  g->n++;
}

/* Entries leave a process (iso_rt_code_next_made, with exporting on) and
 * come into one (iso_rt_code_put), as between pool processes: after the
 * cache is emptied, the entries put serve the next run (hits, no miss);
 * entries put are not given out again; a key of another V8 version, a
 * key that has a cache and an empty cache are not put. */
static void t_export_put(void) {
  rt_root();
  write_lib("lib.js", 23, 10);
  rt_write("main.js", "import v from './lib.js';\nexport default v;\n");
  got_entries g = {0};
  CHECK_EQ(iso_rt_code_next_made(got_cb, &g), 0); /* exporting is off */
  iso_rt_code_export(1);
  expect_lib("main.js", 23);
  expect_lib("main.js", 23); /* makes main's and lib's */
  while (iso_rt_code_next_made(got_cb, &g) == 1) {
  }
  CHECK_EQ(g.n, 2);
  if (g.n != 2) {
    return;
  }
  iso_code_stats s0 = stats();
  iso_rt_code_limit(0); /* empties the cache */
  iso_rt_code_limit((size_t)32 << 20);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(iso_rt_code_put(g.key[i], g.key_len[i], g.data[i], g.len[i]), 1);
    /* one that has a cache */
    CHECK_EQ(iso_rt_code_put(g.key[i], g.key_len[i], g.data[i], g.len[i]), 0);
  }
  CHECK_EQ(iso_rt_code_next_made(got_cb, &g), 0); /* put: not given out */
  g.key[0][g.key_len[0] - 1] ^= 1;                /* another version tag */
  CHECK_EQ(iso_rt_code_put(g.key[0], g.key_len[0], g.data[0], g.len[0]), 0);
  CHECK_EQ(iso_rt_code_put(g.key[1], g.key_len[1] - 1, g.data[1], g.len[1]), 0);
  CHECK_EQ(iso_rt_code_put(g.key[1], g.key_len[1], g.data[1], 0), 0);
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.put - s0.put, 2);
  expect_lib("main.js", 23); /* from the entries put */
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.hits - s1.hits, 2);
  CHECK_EQ(s2.misses - s1.misses, 0);
  CHECK_EQ(s2.rejected, 0);
  iso_rt_code_export(0);
  for (int i = 0; i < 2; i++) {
    free(g.key[i]);
    free(g.data[i]);
  }
}

/* CommonJS modules (isolate/v8s_cjs.cc's wrapper functions) are cached
 * as ES modules are: an import of one that requires another is three
 * compiles (main, lib.cjs, dep.cjs) that the second run makes caches of
 * and the third consumes, the wrapper's inner functions included (the
 * value is checked each run); their entries leave the process and come
 * back (iso_rt_code_next_made, iso_rt_code_put) as a module's do, under a
 * key of their own kind ('c', where a module's is 'm'). */
static void t_cjs_consumes(void) {
  rt_root();
  rt_write("dep.cjs",
           "exports.twice = function (x) {\n"
           "  return x * 2;\n"
           "};\n");
  rt_write("lib.cjs",
           "const dep = require('./dep.cjs');\n"
           "function fib(n) {\n"
           "  return n < 2 ? n : fib(n - 1) + fib(n - 2);\n"
           "}\n"
           "module.exports = { v: fib(10) + dep.twice(4) };\n");
  rt_write("main.js", "import lib from './lib.cjs';\nexport default lib.v;\n");
  iso_rt_code_export(1);
  iso_code_stats s0 = stats();
  run_expect("main.js", "63");
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.misses - s0.misses, 3);
  CHECK_EQ(s1.made - s0.made, 0);
  run_expect("main.js", "63"); /* makes main's, lib's and dep's */
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.made - s1.made, 3);
  run_expect("main.js", "63");
  iso_code_stats s3 = stats();
  CHECK_EQ(s3.hits - s2.hits, 3);
  CHECK_EQ(s3.misses - s2.misses, 0);
  CHECK_EQ(s3.rejected, 0);
  got_entries g = {0};
  while (iso_rt_code_next_made(got_cb, &g) == 1) {
  }
  iso_rt_code_export(0);
  CHECK_EQ(g.n, 3);
  if (g.n != 3) {
    return;
  }
  int cjs = 0;
  for (int i = 0; i < 3; i++) {
    cjs += g.key[i][0] == 'c';
  }
  CHECK_EQ(cjs, 2);
  iso_rt_code_limit(0); /* empties the cache */
  iso_rt_code_limit((size_t)32 << 20);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(iso_rt_code_put(g.key[i], g.key_len[i], g.data[i], g.len[i]), 1);
    free(g.key[i]);
    free(g.data[i]);
  }
  iso_code_stats s4 = stats();
  run_expect("main.js", "63"); /* from the entries put */
  iso_code_stats s5 = stats();
  CHECK_EQ(s5.hits - s4.hits, 3);
  CHECK_EQ(s5.misses - s4.misses, 0);
  CHECK_EQ(s5.rejected, 0);
}

/* With a bound of 0 (--code-cache-mb 0) the cache is off: modules and
 * CommonJS modules run as ever, and no compile counts, keeps or makes an
 * entry (no key is hashed: code_key_user returns at once). */
static void t_off_no_entries(void) {
  rt_root();
  write_lib("lib.js", 31, 5);
  rt_write("dep.cjs", "module.exports = 5;\n");
  rt_write("main.js",
           "import v from './lib.js';\nimport d from './dep.cjs';\n"
           "export default v - d;\n");
  char want[64];
  snprintf(want, sizeof(want), "%ld", lib_value(31) - 5);
  iso_rt_code_limit(0);
  iso_code_stats s0 = stats();
  for (int i = 0; i < 3; i++) {
    run_expect("main.js", want);
  }
  iso_code_stats s1 = stats();
  CHECK_EQ(s1.entries, 0);
  CHECK_EQ(s1.cached, 0);
  CHECK_EQ(s1.bytes, 0);
  CHECK_EQ(s1.hits - s0.hits, 0);
  CHECK_EQ(s1.misses - s0.misses, 0);
  CHECK_EQ(s1.made - s0.made, 0);
  iso_rt_code_limit((size_t)32 << 20);
  run_expect("main.js", want); /* on again: counted */
  iso_code_stats s2 = stats();
  CHECK_EQ(s2.misses - s1.misses, 3);
}

static const iso_test cases[] = {
    {"second_isolate_consumes", t_second_isolate_consumes},
    {"changed_source_misses", t_changed_source_misses},
    {"same_bytes_two_urls", t_same_bytes_two_urls},
    {"rejected_remade", t_rejected_remade},
    {"bound_evicts", t_bound_evicts},
    {"throw_at_evaluation", t_throw_at_evaluation},
    {"never_ran", t_never_ran},
    {"huge_module", t_huge_module},
    {"many_isolates_at_once", t_many_isolates_at_once},
    {"export_put", t_export_put},
    {"cjs_consumes", t_cjs_consumes},
    {"off_no_entries", t_off_no_entries},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
