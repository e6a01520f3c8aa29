/* rt_ops_harness.h: the op mechanism in process, for the test_ops*.c
 * suites (library iso_test_rt_ops, on rt_harness.h): an op table of the
 * test's own (the way an embedder adds ops) passed in iso_rt_opts.ops, a
 * runtime whose op batches the test holds, and realms that evaluate
 * modules on it.
 *
 * Most cases use the op_send hook here (topts.hold): it keeps each batch
 * in a list (recording how many records it had) and the test decides when
 * to run it (on its own thread or on a pthread) and hand it back with
 * iso_rt_ops_done on the loop, so what is in flight at each point is
 * known. The loop is run with UV_RUN_DEFAULT until it has nothing left: a
 * held batch is not a libuv handle, so the loop returns while it is held.
 * Thread: the case's main thread, which runs the loop.
 */
#ifndef ISO_RT_OPS_HARNESS_H
#define ISO_RT_OPS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_ops.h"
#include "iso_rt.h"

/* ---- the test's op table ---- */

/* The table (rt_ops_harness.c), passed in iso_rt_opts.ops unless
 * topts.builtin: op_t_values and op_t_values_async (value `which`, 0..12,
 * of every type), op_t_fail and op_t_fail_async (fail with class k; 0:
 * without a class or message; 100: a message but no class), op_t_args
 * (name, data, count, flag: the argument readers), op_t_echo (async, its
 * argument back), gate (async, "opened"), op_t_wait (async: blocks its op
 * thread until gate_set(1)), op_t_read, op_t_read_async, op_t_env and
 * op_t_env_async (need read or env; "<name> ok"), op_t_big (sync, `mib`
 * MiB of zeros). */

/* gate_set: opens (1) or closes (0) the gate op_t_wait waits on. Thread:
 * any. */
void gate_set(int open);

/* OP: a row of an op table, for the cases that make their own. */
#define OP(n, k, p, f) \
  { .name = n, .kind = k, .perm = p, .fn = f }

/* ---- a runtime whose op batches the test holds ---- */

#define MAX_BATCHES 64

typedef struct tctx {
  uv_loop_t loop;
  iso_rt* rt;
  iso_ops_env* env;
  iso_op_batch* held[MAX_BATCHES]; /* sent and not yet handed back */
  int nheld;
  size_t sent[MAX_BATCHES]; /* records per batch, in the order sent */
  int nsent;
  int refuse; /* hold_send fails every batch */
} tctx;

typedef struct topts {
  int hold;               /* 1: hold_send; 0: libuv's thread pool */
  int builtin;            /* 1: the built-in table instead of kTable */
  int with_env;           /* 1: an iso_ops_env (the kv store) */
  int with_data;          /* 1: and the case's root as its data root */
  size_t max_pending_ops; /* 0: the default */
} topts;

/* tctx_init: the process's V8 (rt_init_process), a fresh root, a loop
 * and a runtime on it as o says. Exits the process when it cannot. */
void tctx_init(tctx* t, topts o);

/* Runs the loop until it has nothing left to do. */
void drain(tctx* t);

/* Runs held batch i and hands it back, on the test's thread. */
void release(tctx* t, int i);

/* release_all: releases every held batch, in order. */
void release_all(tctx* t);

/* release_on_thread: held batch i run on a pthread (an op thread), which
 * wakes the loop with a uv_async to hand it back; the loop is drained
 * meanwhile. */
void release_on_thread(tctx* t, int i);

/* Frees the runtime; batches still held are the transport's to free. */
void tctx_free(tctx* t);

/* ---- realms and evaluations ---- */

typedef struct tealm {
  iso_realm* realm;
  iso_buf out; /* console output, "level: text\n" */
  char* error; /* error_cb's formatted error, or NULL */
} tealm;

typedef struct tev {
  int done;
  int status;
  char* value;   /* the value as JSON, or NULL */
  char* error;   /* the formatted error, or NULL */
  char* message; /* the error's message, or NULL */
} tev;

/* realm_log_cb, realm_error_cb: a tealm's callbacks (console output into
 * out, the formatted error into error). */
void realm_log_cb(iso_realm* realm,
                  void* data,
                  const char* level,
                  const char* text,
                  size_t len);

void realm_error_cb(iso_realm* realm, void* data, const iso_js_error* err);

/* realm_open: a realm on t's runtime with the tealm callbacks. Exits the
 * process when it cannot. */
void realm_open(tctx* t, tealm* r);

/* realm_close: frees the realm and what r holds. */
void realm_close(tealm* r);

/* realm_out: the console output so far, as a string. */
const char* realm_out(tealm* r);

/* ev_cb: an evaluation's callback, filling the tev in data. */
void ev_cb(iso_realm* realm,
           void* data,
           int status,
           const uint8_t* mp,
           size_t len,
           const iso_js_error* err);

/* Starts evaluating `src` as module root/name in the realm; its default
 * export is the value. */
void eval_start(tealm* r, const char* name, const char* src, tev* e);

/* ev_free: frees what e holds and zeroes it. */
void ev_free(tev* e);

/* One realm, one module, the loop run to completion (all batches, held or
 * not, released as they come). */
void eval_all(tctx* t, const char* src, tev* e);

#endif /* ISO_RT_OPS_HARNESS_H */
