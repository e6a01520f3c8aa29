/* test_ops_many.c: many ops at once, in process (isolate/rt_ops.c): the
 * default transport under thousands of ops, max_pending_ops, the memory
 * an op's arguments and results may hold (per realm and per runtime) and
 * give back, and a sync result not kept.
 *
 * Each case makes its runtime on the harness of support/rt_ops_harness.h:
 * the test's own op table, and most often an op_send hook that holds each
 * batch until the case runs it (on its own thread or on a pthread) and
 * hands it back, so what is in flight at each point is known.
 */
#include <stdio.h>
#include <uv.h>

#include "iso_rt.h"
#include "rt_harness.h"
#include "rt_ops_harness.h"
#include "tap.h"

/* ---- 6. many ops ---- */

static void t_many_ops_default_transport(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 0});
  tev e;
  eval_all(&t,
           "const { opAsync } = Isopool.core;\n"
           "const n = 10000;\n"
           "const vs = await Promise.all(Array.from({ length: n },\n"
           "  (_, i) => opAsync('op_t_echo', { i, s: `v${i}` })));\n"
           "export default [vs.length,\n"
           "  vs.every((v, i) => v.i === i && v.s === `v${i}`)];\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value, "[10000,true]");
  ev_free(&e);
  tctx_free(&t);
}

static void t_max_pending_ops(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 0, .max_pending_ops = 100});
  tev e;
  eval_all(&t,
           "const { opAsync } = Isopool.core;\n"
           "const ps = [];\n"
           "for (let i = 0; i < 100; i++) ps.push(opAsync('op_t_echo', i));\n"
           "let threw = 'no';\n"
           "let over;\n"
           "try { over = opAsync('op_t_echo', 100); }\n"
           "catch (e) { threw = 'sync throw'; }\n"
           "const err = await over.then(() => null, (e) => e);\n"
           "const vs = await Promise.all(ps);\n"
           "const again = await opAsync('op_t_echo', 'again');\n"
           "export default [threw, err?.constructor === Error, err?.name,\n"
           "  err?.message, vs.length, again];\n",
           &e);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value,
            "[\"no\",true,\"Error\",\"op_t_echo: too many ops in flight "
            "(100): await some first\",100,\"again\"]");
  ev_free(&e);
  tctx_free(&t);
}

/* ASan keeps freed memory in its quarantine (256 MiB), so resident
 * memory says nothing about what the runtime keeps there. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL 1
#endif

/* Resident memory of the process, in MiB. */
static long rss_mib(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
      resident = 0;
    }
    fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE) / (1 << 20);
}

/* The case: 40 writeFile calls of 15 MiB each, all denied (no
 * write permission), started in one tick by one job (realm A), while
 * another job (realm B) on the same runtime makes 15 of its own. A's
 * arguments in flight stop at its realm's 256 MiB (17 calls; the other 23
 * fail at once with an error that says so), B's all go; a third job (C),
 * in the next tick while that batch is still out, meets the runtime's 512
 * MiB (2 of its 3 calls go). Once the batches are back nothing of them
 * stays resident: the runtime keeps its spare batch small. Printed: RSS
 * before, with the batches in flight, after. */
static const char* write_job(int n) {
  static char src[1024];
  snprintf(src, sizeof(src),
           "const { opAsync } = Isopool.core;\n"
           "const big = new Uint8Array(15 << 20);\n"
           "const ps = [];\n"
           "for (let i = 0; i < %d; i++) {\n"
           "  ps.push(opAsync('op_fs_write_file', 'x', big));\n"
           "}\n"
           "const rs = await Promise.allSettled(ps);\n"
           "const n = (re) => rs.filter((r) => re.test(r.reason?.name + "
           "': ' +\n"
           "  r.reason?.message)).length;\n"
           "export default [n(/^PermissionDenied: op_fs_write_file: requires "
           "--allow-write/),\n"
           "  n(/^Error: op_fs_write_file: the arguments of this realm's ops "
           "in flight would pass 256 MiB: await some first$/),\n"
           "  n(/^Error: op_fs_write_file: the arguments of the ops in "
           "flight would pass 512 MiB: await some first$/)];\n",
           n);
  return src;
}

static void t_op_memory_bounded(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1, .builtin = 1});
  tealm a, b, c;
  realm_open(&t, &a);
  realm_open(&t, &b);
  realm_open(&t, &c);
  long before = rss_mib();
  tev ea, eb, ec;
  eval_start(&a, "a.js", write_job(40), &ea);
  eval_start(&b, "b.js", write_job(15), &eb);
  drain(&t);
  CHECK_EQ(t.nheld, 1);
  if (t.nheld == 1) {
    CHECK_EQ(t.held[0]->n, 32);
  }
  eval_start(&c, "c.js", write_job(3), &ec);
  drain(&t);
  CHECK_EQ(t.nheld, 2);
  if (t.nheld == 2) {
    CHECK_EQ(t.held[1]->n, 2);
    CHECK(t.held[0]->args.len + t.held[1]->args.len <= (size_t)512 << 20);
  }
  long peak = rss_mib();
  while (t.nheld > 0) {
    release_all(&t);
    drain(&t);
  }
  long after = rss_mib();
  CHECK_EQ(ea.done + eb.done + ec.done, 3);
  CHECK_STR(ea.value, "[17,23,0]");
  CHECK_STR(eb.value, "[15,0,0]");
  CHECK_STR(ec.value, "[2,0,1]");
  fprintf(stderr,
          "  # RSS: %ld MiB before, %ld MiB with the batches in flight, %ld "
          "MiB after\n",
          before, peak, after);
  CHECK(peak - before >= 400); /* the batches really held their arguments */
  CHECK(!RSS_MEANINGFUL || after - before < 100);
  ev_free(&ea);
  ev_free(&eb);
  ev_free(&ec);
  realm_close(&a);
  realm_close(&b);
  realm_close(&c);
  tctx_free(&t);
}

/* Two ticks' batches of large reads (200 MiB each), both run by op threads
 * before the runtime takes either back (it is busy). Realm A's first tick:
 * its third read meets A's own 256 MiB; realm B's tick, run after it:
 * B's first read goes (B has room), the next meet the runtime's 512 MiB.
 * Once the results are taken, reads work again in both. */
static void t_op_results_budget(void) {
  tctx t;
  tctx_init(&t,
            (topts){.hold = 1, .builtin = 1, .with_env = 1, .with_data = 1});
  char path[600];
  snprintf(path, sizeof(path), "%s/big", rt_root_path());
  FILE* f = fopen(path, "w");
  CHECK(f != NULL && ftruncate(fileno(f), (off_t)200 << 20) == 0);
  fclose(f);
  iso_perms* read = NULL;
  char err[128];
  CHECK_EQ(iso_perms_parse("", NULL, NULL, &read, err, sizeof(err)), 0);
  tealm a, b;
  realm_open(&t, &a);
  realm_open(&t, &b);
  iso_realm_set_perms(a.realm, read);
  iso_realm_set_perms(b.realm, read);
  const char* src =
      "const { opAsync } = Isopool.core;\n"
      "const read = () => opAsync('op_fs_read_file', 'big');\n"
      "const rs = await Promise.allSettled([read(), read(), read()]);\n"
      "const again = await read();\n"
      "export default [rs.map((x) => x.value?.length ??\n"
      "  x.reason.message.replace(/.*(this realm|the ops).*/, '$1')),\n"
      "  again.length];\n";
  tev ea, eb;
  eval_start(&a, "a.js", src, &ea);
  drain(&t);
  eval_start(&b, "b.js", src, &eb);
  drain(&t);
  CHECK_EQ(t.nheld, 2);
  if (t.nheld == 2) {
    iso_op_batch* b0 = t.held[0];
    iso_op_batch* b1 = t.held[1];
    t.nheld = 0;
    iso_op_batch_run(b0);
    iso_op_batch_run(b1);
    iso_rt_ops_done(t.rt, b0);
    iso_rt_ops_done(t.rt, b1);
  }
  drain(&t);
  while (t.nheld > 0) {
    release_all(&t);
    drain(&t);
  }
  CHECK_EQ(ea.done + eb.done, 2);
  CHECK_STR(ea.value, "[[209715200,209715200,\"this realm\"],209715200]");
  CHECK_STR(eb.value, "[[209715200,\"the ops\",\"the ops\"],209715200]");
  ev_free(&ea);
  ev_free(&eb);
  realm_close(&a);
  realm_close(&b);
  iso_perms_unref(read);
  tctx_free(&t);
}

/* A sync op's large result is not kept: the runtime's result buffer is
 * freed at the end of the loop iteration that made it (the shim copied it
 * into JavaScript already). */
static void t_sync_result_not_kept(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 0});
  tealm r;
  realm_open(&t, &r);
  long before = rss_mib();
  tev e;
  eval_start(&r, "main.js",
             "const n = Isopool.core.ops.op_t_big(96).length;\n"
             "await new Promise((r) => setTimeout(r, 1));\n"
             "export default n;\n",
             &e);
  drain(&t);
  long after = rss_mib();
  CHECK_EQ(e.done, 1);
  CHECK_STR(e.value, "100663296");
  fprintf(stderr, "  # RSS: %ld MiB before, %ld MiB after a 96 MiB result\n",
          before, after);
  /* the ArrayBuffer JavaScript got may still wait for a GC; a kept
   * buffer would add its 96 MiB (and more: it grew by doubling) */
  CHECK(!RSS_MEANINGFUL || after - before < 150);
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

static const iso_test cases[] = {
    {"many_ops_default_transport", t_many_ops_default_transport},
    {"max_pending_ops", t_max_pending_ops},
    {"op_memory_bounded", t_op_memory_bounded},
    {"op_results_budget", t_op_results_budget},
    {"sync_result_not_kept", t_sync_result_not_kept},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
