/* test_ops_lifetime.c: ops that outlive what started them, in process
 * (isolate/rt_ops.c): a realm freed with ops in flight or while they
 * resolve, a cancelled call's ops forgotten (and logs blamed on the right
 * job), a runtime freed with a batch held or its ops on the thread pool.
 *
 * Each case makes its runtime on the harness of support/rt_ops_harness.h:
 * the test's own op table, and most often an op_send hook that holds each
 * batch until the case runs it (on its own thread or on a pthread) and
 * hands it back, so what is in flight at each point is known.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "rt_ops_harness.h"
#include "tap.h"

/* ---- 5. ops that outlive their realm ---- */

static void t_realm_freed_with_ops_in_flight(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm a, b;
  realm_open(&t, &a);
  realm_open(&t, &b);
  tev ea, eb;
  eval_start(&a, "a.js",
             "const { opAsync } = Isopool.core;\n"
             "export default await Promise.all([opAsync('op_t_echo', 'a1'),\n"
             "  opAsync('op_t_echo', 'a2'), opAsync('op_t_echo', 'a3')]);\n",
             &ea);
  eval_start(&b, "b.js",
             "const { opAsync } = Isopool.core;\n"
             "export default await Promise.all([opAsync('op_t_echo', 'b1'),\n"
             "  opAsync('op_t_echo', 'b2')]);\n",
             &eb);
  drain(&t);
  CHECK_EQ(t.nsent, 1); /* both realms' ops in one batch */
  CHECK_EQ(t.sent[0], 5);
  CHECK_EQ(iso_realm_pending_ops(a.realm), 3);
  CHECK_EQ(iso_realm_pending_ops(b.realm), 2);
  realm_close(&a); /* while its ops are in flight */
  /* a new realm (a new id) with an op of its own in a second batch; the
   * batches come back in the other order */
  tealm c;
  realm_open(&t, &c);
  tev ec;
  eval_start(&c, "c.js",
             "export default await Isopool.core.opAsync('op_t_echo', 'c1');\n",
             &ec);
  drain(&t);
  CHECK_EQ(t.nsent, 2);
  CHECK_EQ(t.sent[1], 1);
  release(&t, 1);
  drain(&t);
  CHECK_EQ(ec.done, 1);
  CHECK_STR(ec.value, "\"c1\"");
  CHECK_EQ(eb.done, 0);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 3);
  CHECK_EQ(ea.done, 0);
  CHECK_EQ(eb.done, 1);
  CHECK_EQ(eb.status, 0);
  CHECK_STR(eb.value, "[\"b1\",\"b2\"]");
  CHECK(b.error == NULL);
  CHECK(c.error == NULL);
  CHECK_EQ(ec.done, 1);
  ev_free(&ea);
  ev_free(&eb);
  ev_free(&ec);
  realm_close(&b);
  realm_close(&c);
  tctx_free(&t);
}

/* ---- 5b. a cancelled call's ops: forgotten, and logs by job ---- */

/* Which evaluation each console line belongs to (iso_realm_current). */
typedef struct blame {
  char text[8][64];
  void* job[8];
  int n;
} blame;

static void blame_log_cb(iso_realm* realm,
                         void* data,
                         const char* level,
                         const char* text,
                         size_t len) {
  blame* b = data;
  if (b->n < 8) {
    snprintf(b->text[b->n], sizeof(b->text[0]), "%.*s", (int)len, text);
    b->job[b->n++] = iso_realm_current(realm);
  }
}

static void* blamed(const blame* b, const char* text) {
  for (int i = 0; i < b->n; i++) {
    if (strcmp(b->text[i], text) == 0) {
      return b->job[i];
    }
  }
  return NULL;
}

static void call_start(iso_realm* realm,
                       const char* export_name,
                       const char* arg,
                       tev* e) {
  memset(e, 0, sizeof(*e));
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/calls.js", rt_root_path());
  static const char src[] =
      "const { opAsync } = Isopool.core;\n"
      "export async function slow(x) {\n"
      "  const v = await opAsync('op_t_echo', x);\n"
      "  console.log('after ' + v);\n"
      "  globalThis.seen = (globalThis.seen ?? '') + v;\n"
      "  return v;\n"
      "}\n"
      "export const seen = () => globalThis.seen ?? 'none';\n";
  uint8_t args[8] = {0x91, 0xa1, (uint8_t)arg[0]};
  iso_eval_opts o = {.specifier = spec,
                     .source = src,
                     .source_len = strlen(src),
                     .export_name = export_name,
                     .call = 1,
                     .args_mp = args,
                     .args_len = 3};
  CHECK_EQ(iso_realm_eval(realm, &o, ev_cb, e), 0);
}

/* A warm realm: two calls await an op each; one is cancelled (its job
 * timed out) while the batch is away. Its response is forgotten: the code
 * after its await never runs; the other call's continuation runs and its
 * console line is blamed on it, though it ran after the await (V8 carries
 * the job tag across it). */
static void t_cancelled_call_ops_forgotten(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  blame b = {0};
  iso_realm_cbs cbs = {.log_cb = blame_log_cb};
  iso_realm* realm = NULL;
  CHECK_EQ(iso_realm_new(t.rt, &cbs, &b, &realm), 0);
  tev ea, eb, es;
  call_start(realm, "slow", "A", &ea);
  call_start(realm, "slow", "B", &eb);
  drain(&t);
  CHECK_EQ(t.nsent, 1);
  CHECK_EQ(t.sent[0], 2);
  CHECK_EQ(iso_realm_eval_cancel(realm, &ea), 1);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(ea.done, 0);
  CHECK_EQ(eb.done, 1);
  CHECK_STR(eb.value, "\"B\"");
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 1);
  CHECK_EQ(b.n, 1);
  CHECK(blamed(&b, "after B") == &eb);
  CHECK(blamed(&b, "after A") == NULL);
  call_start(realm, "seen", "-", &es);
  drain(&t);
  CHECK_STR(es.value, "\"B\"");
  CHECK_EQ(iso_realm_pending_ops(realm), 0);
  ev_free(&ea);
  ev_free(&eb);
  ev_free(&es);
  iso_realm_free(realm);
  tctx_free(&t);
}

/* Two realms with a response each in one batch: the console.log that the
 * first one's response runs frees both realms from inside iso_rt_ops_done
 * (the second one's response is then dropped). */
static tealm* g_victims[2];

static void freeing_log_cb(iso_realm* realm,
                           void* data,
                           const char* level,
                           const char* text,
                           size_t len) {
  realm_log_cb(realm, data, level, text, len);
  for (int i = 0; i < 2; i++) {
    if (g_victims[i] != NULL) {
      iso_realm_free(g_victims[i]->realm);
      g_victims[i]->realm = NULL;
      g_victims[i] = NULL;
    }
  }
}

static void t_realm_freed_during_resolve(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm a, b;
  memset(&a, 0, sizeof(a));
  iso_buf_init(&a.out);
  iso_realm_cbs cbs = {.log_cb = freeing_log_cb, .error_cb = realm_error_cb};
  CHECK_EQ(iso_realm_new(t.rt, &cbs, &a, &a.realm), 0);
  memset(&b, 0, sizeof(b));
  iso_buf_init(&b.out);
  CHECK_EQ(iso_realm_new(t.rt, &cbs, &b, &b.realm), 0);
  static const char src[] =
      "const v = await Isopool.core.opAsync('op_t_echo', 'v');\n"
      "console.log(v);\n"
      "export default v;\n";
  tev ea, eb;
  eval_start(&a, "a.js", src, &ea);
  eval_start(&b, "b.js", src, &eb);
  drain(&t);
  CHECK_EQ(t.nsent, 1);
  CHECK_EQ(t.sent[0], 2);
  g_victims[0] = &b;
  g_victims[1] = &a;
  release(&t, 0);
  drain(&t);
  CHECK(a.realm == NULL);
  CHECK(b.realm == NULL);
  CHECK_EQ(ea.done + eb.done, 0);
  CHECK_EQ(a.out.len + b.out.len, strlen("log: v\n")); /* one logged */
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 1);
  ev_free(&ea);
  ev_free(&eb);
  realm_close(&a);
  realm_close(&b);
  tctx_free(&t);
}

static void t_runtime_freed_with_batch_held(void) {
  /* tctx_free frees the held batch after the runtime: the transport's */
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "export default await Isopool.core.opAsync('op_t_echo', 1);\n",
             &e);
  drain(&t);
  CHECK_EQ(t.nheld, 1);
  iso_op_batch_run(t.held[0]); /* ran, never handed back */
  realm_close(&r);
  CHECK_EQ(e.done, 0);
  ev_free(&e);
  tctx_free(&t);
}

static void t_runtime_freed_with_ops_on_threadpool(void) {
  /* the default transport: the runtime is freed while its batch is on
   * libuv's thread pool (held there by op_t_wait); the batch comes back
   * to no runtime */
  tctx t;
  tctx_init(&t, (topts){.hold = 0});
  gate_set(0);
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const { opAsync } = Isopool.core;\n"
             "const ps = [opAsync('op_t_wait')];\n"
             "for (let i = 0; i < 1000; i++) ps.push(opAsync('op_t_echo', "
             "i));\n"
             "export default (await Promise.all(ps)).length;\n",
             &e);
  for (int i = 0; i < 100 && iso_realm_pending_ops(r.realm) == 0; i++) {
    uv_run(&t.loop, UV_RUN_NOWAIT); /* evaluate, flush to the pool */
  }
  CHECK_EQ(iso_realm_pending_ops(r.realm), 1001);
  realm_close(&r);
  CHECK_EQ(e.done, 0);
  ev_free(&e);
  gate_set(1); /* the batch finishes; its after-work runs in tctx_free */
  tctx_free(&t);
}

static const iso_test cases[] = {
    {"realm_freed_with_ops_in_flight", t_realm_freed_with_ops_in_flight},
    {"cancelled_call_ops_forgotten", t_cancelled_call_ops_forgotten},
    {"realm_freed_during_resolve", t_realm_freed_during_resolve},
    {"runtime_freed_with_batch_held", t_runtime_freed_with_batch_held},
    {"runtime_freed_with_ops_on_threadpool",
     t_runtime_freed_with_ops_on_threadpool},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
