/* iso_rt.h: the JavaScript runtime, Deno's JsRuntime in C on libuv.
 *
 * An iso_rt owns one V8 isolate and its JsRuntimeState (the seed's state,
 * kept in the isolate's data slot): the global context, the realms and
 * their module maps, the pending promise exceptions, the pending module
 * evaluations, the dynamic imports being prepared, loaded and evaluated, the
 * pending-op counts for the op bus, and the op state. It is driven by the
 * libuv loop it was given: file reads for module loading run on libuv's
 * thread pool, timers on one uv_timer, and every change that JavaScript may
 * observe schedules one tick of the event loop (the seed's poll_event_loop)
 * on a uv_idle handle.
 *
 * A realm (iso_realm) is one V8 context with everything the seed keeps per
 * program: its module map, pending module evaluation(s), dynamic imports,
 * promise exceptions and timers. `isopool run` uses one realm; the pool uses
 * a fresh realm per eval job and a long-lived warm realm for call jobs.
 *
 * DESIGN: single-threaded. Everything here runs on the thread that owns the
 * loop (Thread: owning loop; debug builds assert it at each entry point),
 * except iso_rt_terminate(), iso_rt_running() and iso_rt_terminate_gen(),
 * which a watchdog calls from its own thread (they share one mutex with
 * the entries into JavaScript). Callbacks are
 * called from that loop, never from inside a function that returned an
 * error, and never re-entrantly from the function that registered them.
 */
#ifndef ISO_RT_H
#define ISO_RT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "iso_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_rt iso_rt;
typedef struct iso_realm iso_realm;

/* How an error reached the top, for the Deno-style prefix. */
typedef enum iso_js_error_kind {
  ISO_JS_PLAIN = 0, /* "error: <text>" (stall messages, load errors) */
  ISO_JS_UNCAUGHT,  /* "error: Uncaught Error: boom" */
  ISO_JS_IN_PROMISE /* "error: Uncaught (in promise) Error: boom" */
} iso_js_error_kind;

/* A JavaScript error as plain, owned data. Freed with iso_js_error_close
 * (accepts a zeroed struct). Thread: any, like the formatter below. */
typedef struct iso_js_error {
  char* name;    /* "Error", "TypeError", ...; NULL for a thrown non-Error */
  char* message; /* never NULL once filled */
  char* stack;   /* with file:// URLs, lines and columns; may be NULL */
  iso_js_error_kind kind;
  int code; /* ISO_EJS, ISO_ESTALL, ISO_ENOENT, ISO_ETERMINATED, ... */
} iso_js_error;

void iso_js_error_close(iso_js_error* e);

/* iso_js_error_format: the Deno-style text, "error: Uncaught Error: boom\n
 * at file:///...". Returns a malloc'd string the caller frees. */
char* iso_js_error_format(const iso_js_error* e);

/* iso_rt_init_process: initialise V8 once per process; `v8_flags` is
 * passed to V8 (may be NULL). Thread: main, before any iso_rt_new. */
int iso_rt_init_process(const char* v8_flags);

/* An import map (the WICG standard, as Deno uses it): immutable once made,
 * so runtimes on several threads may share one. */
typedef struct iso_import_map iso_import_map;

typedef struct iso_rt_opts {
  uv_loop_t* loop;        /* required; the runtime's handles live on it */
  const char* root;       /* module root; NULL: the current directory */
  size_t heap_max_mb;     /* 0: V8's default */
  size_t value_max_bytes; /* largest value, as msgpack; 0: 256 MiB */
  /* The op bus. Ops come from `ops` (NULL: iso_ops_builtin()) and use
   * `ops_env` (service-wide state: data root, kv store; may be NULL, then
   * ops that need it fail). A new realm's ops may do what
   * `default_perms` allows (NULL: nothing; see iso_realm_set_perms). */
  const iso_op_table* ops;
  iso_ops_env* ops_env;
  const iso_perms* default_perms;
  /* op_send: hand a batch of async op requests to the op threads; the
   * transport owns it until it gives it back with iso_rt_ops_done (on
   * this loop). Returns 0, or an error after which the runtime fails the
   * batch's ops itself. NULL: the runtime runs batches on libuv's thread
   * pool (`isopool run`, tests). Thread: owning loop. */
  int (*op_send)(void* data, iso_op_batch* batch);
  void* op_send_data;
  /* 1: async op records carry the realm's perm id (iso_realm_set_perm_id)
   * and no permission set, which the transport resolves before the batch
   * runs (the pool's op threads, from the sets the front sent that
   * worker); 0: they carry the set. Sync ops always use the set. */
  int op_perm_ids;
  size_t max_pending_ops; /* async ops in flight per realm; 0: 100000 */
  /* How long JavaScript that belongs to no pending job may run at a time
   * before it is stopped: a timer a finished call left running in a warm
   * realm, a FinalizationRegistry callback (0: no limit, as for `isopool
   * run`, whose program is all its own). */
  uint32_t background_ms;
  /* The import map every resolution consults first (NULL: none); the
   * caller's, which must outlive the runtime. */
  const iso_import_map* import_map;
  /* 1: no per-evaluation costs (iso_eval_stats stay 0, and CPU budgets
   * are not enforced): for runtime_bench's side-by-side figure of what
   * the accounting costs. */
  int no_costs;
} iso_rt_opts;

/* ---- import maps (rt_importmap.c) ---- */

/* The largest import map text: 120 KiB (pool processes get it on their
 * command line, where one argument may have 128 KiB). */
#define ISO_IMPORT_MAP_MAX ((size_t)120 << 10)

/* iso_import_map_new: parses the import map `json` (`len` bytes, JSON with
 * "imports" and "scopes") whose own URL is `url` (file:///...: its
 * addresses and scope prefixes resolve against it). Returns 0 and *out
 * (free with iso_import_map_free), with *warnings (if not NULL) NULL or
 * the spec's warnings, one "import map: ..." line each (the caller frees
 * them; the entries they name are null, which blocks what they match); or
 * ISO_EINVAL with a sentence in err (not JSON, not an object, "imports",
 * "scopes" or a scope that is not an object, over ISO_IMPORT_MAP_MAX), or
 * ISO_ENOMEM. Thread: any. */
int iso_import_map_new(const char* json,
                       size_t len,
                       const char* url,
                       iso_import_map** out,
                       char** warnings,
                       char* err,
                       size_t errlen);

/* iso_import_map_free: destructor; accepts NULL. Thread: any, once no
 * runtime uses it. */
void iso_import_map_free(iso_import_map* m);

/* iso_import_map_resolve: what the map makes of `specifier` imported from
 * the module at URL `base` (the spec's "resolve a module specifier" up to
 * its fallback): 0 with *out a URL (the caller frees it) when an entry
 * maps it; 0 with *out NULL when none does (the specifier resolves as it
 * would without a map); ISO_ENOENT with a sentence in err when the entry
 * that matches blocks it (null, or an invalid address) or a prefix entry
 * would leave its address ("../" after the prefix); ISO_ENOMEM.
 * Thread: any. */
int iso_import_map_resolve(const iso_import_map* m,
                           const char* specifier,
                           const char* base,
                           char** out,
                           char* err,
                           size_t errlen);

/* iso_rt_new: constructor. Returns 0 and *out, ISO_EINVAL (no loop),
 * ISO_ENOENT (root does not exist) or ISO_ENOMEM. Thread: the thread that
 * runs opts->loop. */
int iso_rt_new(const iso_rt_opts* opts, iso_rt** out);

/* iso_rt_free: destructor; frees every realm (without calling their
 * callbacks) and starts closing the runtime's handles. The caller must run
 * the loop once more (uv_run) so the close callbacks finish before the loop
 * is closed. Accepts NULL. Thread: owning loop. */
void iso_rt_free(iso_rt* rt);

/* iso_rt_terminate: stop the JavaScript running now (an infinite loop).
 * The realm it ran in fails with code ISO_ETERMINATED. Thread: any. */
void iso_rt_terminate(iso_rt* rt);

/* iso_rt_running: what JavaScript the runtime runs right now: returns 1
 * with the entry's generation, start time and deadline (uv_hrtime() ns, 0:
 * none), or 0 when no JavaScript runs. The deadline is the job's whose
 * JavaScript it is when the runtime knows (an evaluation's own, a timer
 * callback of a pending job: each callback is an entry of its own), else
 * the realm's (iso_realm_set_deadline), else the background deadline
 * (iso_rt_opts.background_ms). Thread: any (the watchdog). */
int iso_rt_running(iso_rt* rt,
                   uint64_t* gen,
                   uint64_t* since_ns,
                   uint64_t* deadline_ns);

/* iso_rt_terminate_gen: iso_rt_terminate, but only if the entry `gen` is
 * still the one running, so a late watchdog never stops the next job.
 * Returns 1 if it terminated. Thread: any. */
int iso_rt_terminate_gen(iso_rt* rt, uint64_t gen);

/* iso_rt_cpu_stop: stops the running entry when the evaluation it runs
 * for has spent its CPU budget (iso_eval_opts.cpu_ms): the entry
 * published what is left of the budget when it began; here the runtime's
 * thread's CPU clock is read from the caller's thread (pthread_
 * getcpuclockid), the first look at an entry reckons the clock's value
 * when it began (the clock now less the time since it began: as if the
 * thread had not been preempted meanwhile), and a later one stops the
 * entry once the clock has moved past what was left. The stop is
 * iso_rt_terminate_gen's (only that entry) and the evaluation fails with
 * ISO_ECPULIMIT. Costs one clock_gettime when an entry with a budget
 * runs, nothing otherwise. Returns 1 and *gen if it stopped one, else 0.
 * Thread: any (the watchdog, every round). */
int iso_rt_cpu_stop(iso_rt* rt, uint64_t* gen);

/* iso_rt_tick: run the event loop tick now, if one is due, instead of in
 * the loop's idle phase: an owner that has just started work (the pool, on
 * a batch of jobs) saves a trip around the loop. Thread: owning loop, not
 * from inside a runtime callback. */
void iso_rt_tick(iso_rt* rt);

/* iso_rt_ops_done: a batch sent with op_send came back with its
 * responses: settle each op's promise (one call into JavaScript per realm
 * that has responses in it), drop the responses of realms that are gone,
 * and keep the batch for reuse. Thread: owning loop, not from inside a
 * runtime callback. */
void iso_rt_ops_done(iso_rt* rt, iso_op_batch* batch);

/* iso_rt_condemned: why this runtime's isolate should be replaced once
 * its jobs are answered, or NULL: background JavaScript (a
 * FinalizationRegistry callback) had to be stopped, and V8 would run it
 * again; or the heap reached its limit. A static string. Thread: owning
 * loop. */
const char* iso_rt_condemned(const iso_rt* rt);

/* iso_rt_retire: this runtime runs no more JavaScript: V8's tasks for its
 * isolate still due (a FinalizationRegistry cleanup posted again after the
 * one that condemned it) are dropped unrun from now on, as iso_rt_free
 * drops them. For a runtime its owner no longer watches (nothing enforces
 * its deadlines) and frees once its loop has turned. Not undone. Thread:
 * owning loop. */
void iso_rt_retire(iso_rt* rt);

/* iso_rt_collect: a full garbage collection of the isolate now, so that
 * iso_rt_heap then counts what is alive. A realm's context comes from the
 * startup snapshot straight into the old generation, which only a full
 * collection frees: between two, the heap in use holds the freed realms'
 * contexts (~0.3 MB each). Thread: owning loop. */
void iso_rt_collect(iso_rt* rt);

/* iso_rt_heap: the isolate's heap in use and its limit, in bytes.
 * Thread: owning loop. */
void iso_rt_heap(iso_rt* rt, size_t* used, size_t* limit);

/* iso_rt_memory: what the isolate holds, in bytes: `used`, its heap in use
 * (garbage not yet collected included) with its ArrayBuffer and
 * WebAssembly memory; `committed`, the heap V8 has committed (what a
 * collection leaves reserved: fragmentation, a past peak) with the same
 * buffers; committed >= used. Thread: owning loop. */
void iso_rt_memory(iso_rt* rt, size_t* used, size_t* committed);

/* iso_code_stats: the process's code cache of user modules, shared by
 * all its isolates (isolate/v8s_code.cc, docs/architecture.md "The code
 * cache"): compiles that consumed a cache (hits) and that compiled the
 * text (misses; rejected: those whose cache V8 refused), caches made,
 * entries evicted, the entries' bytes against the bound, and entries
 * made elsewhere and put (iso_rt_code_put); `tag`, V8's version tag in
 * this process's keys (the last 4 bytes: a key of another tag is of
 * another V8, its flags or CPU, and never consumed here). */
typedef struct iso_code_stats {
  uint64_t hits;
  uint64_t misses;
  uint64_t rejected;
  uint64_t made;
  uint64_t evicted;
  uint64_t bytes;
  uint64_t entries; /* texts seen (compiled once: no cache yet) */
  uint64_t cached;  /* of them, those that hold a cache */
  uint64_t limit;
  uint64_t put;
  uint32_t tag;
} iso_code_stats;

/* iso_rt_code_stats: fills *out. Thread: any. */
void iso_rt_code_stats(iso_code_stats* out);

/* iso_rt_code_limit: bounds the code cache of user modules at `bytes`
 * (32 MiB unless set), evicting the least recently used entries down to
 * it now; 0 keeps none (every module compiles from its text).
 * Thread: any. */
void iso_rt_code_limit(size_t bytes);

/* Sharing entries between processes (pool/: a pool process sends the
 * entries it makes to its front, which passes them to the others).
 * iso_rt_code_export: on (non-zero), each user module entry made from now
 * on is queued (256 at most) for iso_rt_code_next_made; off unless set.
 * iso_rt_code_next_made: gives the oldest queued entry still cached to cb
 * (key and cache, valid during the call; called without the cache's
 * lock) and dequeues it; returns 1, or 0 when none waits.
 * iso_rt_code_put: inserts a copy of an entry another process of this
 * build made, which the cache then trusts as its own (V8 does not check
 * a cache's payload): only from a trusted source. Returns 1 if put; 0 for
 * a key not of this V8's version, a key that has a cache, a cache over a
 * quarter of the bound or empty. Thread: any. */
typedef void (*iso_code_entry_cb)(const uint8_t* key,
                                  size_t key_len,
                                  const uint8_t* data,
                                  size_t len,
                                  void* arg);
void iso_rt_code_export(int on);
int iso_rt_code_next_made(iso_code_entry_cb cb, void* arg);
int iso_rt_code_put(const uint8_t* key,
                    size_t key_len,
                    const uint8_t* data,
                    size_t len);

/* iso_rt_ops_dropped: how many op responses arrived for a realm that was
 * gone (a job that timed out or was cancelled). Thread: owning loop. */
uint64_t iso_rt_ops_dropped(const iso_rt* rt);

/* iso_rt_execute: run a classic script in the runtime's global context
 * (the seed's execute()), made by the first call (a runtime that never
 * executes one makes no context of its own). Returns 0, an error of
 * iso_realm_new, or ISO_EJS/ISO_ESYNTAX/ISO_ETERMINATED with *err filled
 * (may be NULL). Thread: owning loop. */
int iso_rt_execute(iso_rt* rt,
                   const char* name,
                   const char* source,
                   iso_js_error* err);

/* ---- realms ---- */

typedef struct iso_realm_cbs {
  /* One line of console output at level "log", "info", "debug", "warn" or
   * "error". NULL: log/info/debug to stdout, warn/error to stderr. */
  void (*log_cb)(iso_realm* realm,
                 void* data,
                 const char* level,
                 const char* text,
                 size_t len);
  /* The realm failed: an uncaught exception (in a timer, a microtask), an
   * unhandled promise rejection, a stalled dynamic import, or termination.
   * Called once; the realm then runs no more JavaScript, and evaluations
   * still pending in it get no callback. */
  void (*error_cb)(iso_realm* realm, void* data, const iso_js_error* err);
  /* The realm has nothing pending: no evaluation, timer, op or import.
   * Called at the end of each event loop tick that finds it so. */
  void (*idle_cb)(iso_realm* realm, void* data);
  /* Optional. When set, the realm survives its errors (a long-lived realm
   * that many jobs share, like the pool's warm realm): an unhandled
   * rejection, an uncaught exception or a stall is reported here instead
   * of failing the realm through error_cb, with `culprit`, the `data` of
   * the evaluation whose own JavaScript was running when the promise was
   * rejected or the exception thrown (NULL when none was: a timer, a
   * later continuation). Termination of an evaluation's own JavaScript
   * still fails only that evaluation. */
  void (*job_error_cb)(iso_realm* realm,
                       void* data,
                       void* culprit,
                       const iso_js_error* err);
} iso_realm_cbs;

/* iso_realm_new: constructor. A new V8 context with the bootstrap prelude
 * run in it. `cbs` is copied; `data` is passed to every callback. Returns 0
 * and *out, or ISO_EJS if the prelude failed (a bug). Thread: owning loop. */
int iso_realm_new(iso_rt* rt,
                  const iso_realm_cbs* cbs,
                  void* data,
                  iso_realm** out);

/* iso_realm_set_cbs: the realm's callbacks and their data from now on
 * (`cbs` copied): a realm made in advance, before its owner was known (a
 * spare isolate's, pool/worker.c), given to it. Thread: owning loop. */
void iso_realm_set_cbs(iso_realm* realm, const iso_realm_cbs* cbs, void* data);

/* iso_realm_free: destructor; cancels its timers and pending work without
 * calling callbacks. Accepts NULL. Safe to call from the realm's own
 * callbacks (the memory is released after the callback returns).
 * Thread: owning loop. */
void iso_realm_free(iso_realm* realm);

/* iso_realm_set_perms: what the realm's ops may do from now on (a new
 * reference is taken; NULL: nothing). Ops already in flight keep the set
 * they were called with. Thread: owning loop. */
void iso_realm_set_perms(iso_realm* realm, const iso_perms* perms);

/* iso_realm_set_perm_id: the transport's name for the realm's permission
 * set, which its async op records carry when iso_rt_opts.op_perm_ids is
 * set (0: none). Thread: owning loop. */
void iso_realm_set_perm_id(iso_realm* realm, uint32_t perm_id);

/* iso_realm_module_count: the modules in the realm's module map.
 * iso_realm_has_module: 1 iff `specifier` (resolved against the module
 * root, like a job's `module`) is in it. Thread: owning loop. */
int iso_realm_module_count(const iso_realm* realm);
int iso_realm_has_module(iso_realm* realm, const char* specifier);

/* iso_rt_module_url: the file:// (or isopool:) URL `specifier` names when
 * a job gives it as its module (relative to the module root; a bare name
 * is taken as ./name). Returns 0 and a malloc'd *url the caller frees, or
 * the resolution's error (the specifier leaves the root, is malformed).
 * Thread: owning loop. */
int iso_rt_module_url(iso_rt* rt, const char* specifier, char** url);

/* iso_realm_pending_ops: async ops of the realm in flight (ref'd and
 * unref'd). Thread: owning loop. */
int iso_realm_pending_ops(const iso_realm* realm);

/* iso_realm_set_deadline: the uv_hrtime() time by which JavaScript running
 * for this realm must stop (0: none); iso_rt_running() reports it for the
 * watchdog. In a realm many jobs share (job_error_cb), it is for
 * JavaScript that is not one evaluation's own (a continuation, op
 * responses, a timer set under no job's tag), which gets 50 ms of grace
 * past it (or past its own start, when later: the owner may be late to
 * move the deadline on), since it may be another job's; a timer callback of a
 * pending evaluation runs by that evaluation's deadline instead
 * (iso_eval_opts), one of no pending evaluation by the background deadline.
 * Thread: owning loop. */
void iso_realm_set_deadline(iso_realm* realm, uint64_t deadline_ns);

/* iso_realm_broken: 1 once a stop in a realm many jobs share may have
 * cost its pending evaluations what they awaited: JavaScript stopped
 * during a microtask checkpoint (V8 dropped every promise job queued), or
 * any stopped JavaScript that was not one evaluation's own (a
 * continuation, op responses, a timer callback of no pending job or not
 * past its job's deadline). A job's own JavaScript stopped outside a
 * checkpoint (its module body, call, or timer callback past its
 * deadline) fails that job alone. The runtime fails the other pending
 * evaluations with ISO_ELOST (never the stall message); the owner should
 * send no new work there and free it once idle. Thread: owning loop. */
int iso_realm_broken(const iso_realm* realm);

/* iso_realm_current: the `data` of the evaluation whose own JavaScript
 * (module body, export call) runs right now, or NULL (timers, microtasks,
 * no JavaScript). Lets log_cb tell which job printed. Thread: owning
 * loop. */
void* iso_realm_current(const iso_realm* realm);

/* iso_realm_dispatch: dispatch a plain Event of `type` on the realm's
 * globalThis (the seed's load/unload). Returns 0 or the error (the realm
 * fails too). Thread: owning loop. */
int iso_realm_dispatch(iso_realm* realm, const char* type);

/* The result of an evaluation: status 0 and the value as msgpack bytes
 * (mp == NULL when the value is undefined), or an error. The buffers are
 * only valid during the callback. */
typedef void (*iso_eval_cb)(iso_realm* realm,
                            void* data,
                            int status,
                            const uint8_t* mp,
                            size_t mp_len,
                            const iso_js_error* err);

typedef struct iso_eval_opts {
  /* The module: a path or file:// URL, resolved against the module root
   * (relative paths) when `source` is NULL; with `source`, the name its
   * relative imports resolve against (NULL: "<root>/$eval.js"). A module
   * is compiled once per realm: when the realm has it already, `source` is
   * not used (unless the module failed to compile). */
  const char* specifier;
  const char* source;
  size_t source_len;
  /* Which export is the value ("default" when NULL), and whether a
   * function there is called. The value (or the call's result) is
   * awaited. */
  const char* export_name;
  int call;
  /* The call's arguments: a msgpack array (args_mp), or strings each
   * parsed as JSON, else passed as a string (argv, for `isopool run`). */
  const uint8_t* args_mp;
  size_t args_len;
  int argc;
  const char* const* argv;
  /* 1: this is the realm's main module (import.meta.main). */
  int main;
  /* uv_hrtime() by which this evaluation's own JavaScript (the module
   * body, the export's call) must stop, reported by iso_rt_running while
   * it runs; 0: the realm's deadline. */
  uint64_t deadline_ns;
  /* The CPU time its JavaScript may use, in ms (0: no limit): the
   * worker thread's CPU time while the evaluation's own JavaScript runs,
   * its continuations and timer callbacks included (see
   * iso_realm_eval_stats for what counts). Past it the JavaScript is
   * stopped by whoever calls iso_rt_cpu_stop (the pool's watchdog) and
   * the evaluation fails with ISO_ECPULIMIT. */
  uint32_t cpu_ms;
} iso_eval_opts;

/* What one evaluation cost (iso_realm_eval_stats). */
typedef struct iso_eval_stats {
  /* The time its JavaScript ran on the runtime's thread: each entry into
   * V8 made for it (its module body, its export's call, the value's
   * conversion, its timer callbacks and the promise jobs they run), and
   * the realm's entries for it when it is the only evaluation pending
   * there (op responses and the continuations they run; in an eval job's
   * realm that is always). In a realm several pending calls share, such
   * shared entries are charged to no call. Each entry's time is read on
   * the monotonic clock, which is its CPU time unless the thread was
   * preempted meanwhile, except an entry of an evaluation with a CPU
   * budget that the watchdog looked at (iso_rt_cpu_stop), which is read
   * on the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID) from the base the
   * watchdog reckoned: a thread CPU clock read is a system call, which
   * at every entry cost too much (rt_enter.c). */
  uint64_t cpu_ns;
  /* bytes its JavaScript allocated on the heap, estimated over the same
   * entries (v8s_heap_allocated's growth, read when the entries switch
   * from one evaluation to another, and here), with what C code made on
   * the heap for it before its first entry (a call's arguments) */
  uint64_t heap_bytes;
  uint64_t ops; /* ops it called, sync and async (by its job tag) */
} iso_eval_stats;

/* iso_realm_eval_stats: the costs so far of the evaluation submitted with
 * `data` (the first such one not yet freed): valid in its iso_eval_cb and
 * before it was freed or cancelled. Reading them ends its share of the
 * heap until its next entry (a job reads them once, at its end).
 * Returns 0 with *out, or ISO_ENOENT. Thread: owning loop. */
int iso_realm_eval_stats(iso_realm* realm, void* data, iso_eval_stats* out);

/* iso_realm_eval: load the module graph asynchronously, instantiate,
 * evaluate (top-level await included), then take the export, call it when
 * asked, and await the value: the seed's load_main_module + mod_evaluate.
 * A module already evaluated in this realm is not evaluated again (the warm
 * path of call jobs). `cb` is called exactly once unless the realm fails
 * or is freed first. Returns 0, or ISO_EINVAL/ISO_ECLOSED (realm failed)
 * without calling cb. Thread: owning loop. */
int iso_realm_eval(iso_realm* realm,
                   const iso_eval_opts* opts,
                   iso_eval_cb cb,
                   void* data);

/* iso_realm_eval_cancel: drop the pending evaluations submitted with this
 * `data`; their callbacks will not be called. JavaScript they started goes
 * on (its promise is simply no longer awaited). Returns how many were
 * dropped. Thread: owning loop. */
int iso_realm_eval_cancel(iso_realm* realm, void* data);

/* ---- the run command ---- */

typedef struct iso_run iso_run;

typedef struct iso_run_cbs {
  /* console output; NULL: log/info/debug to stdout, warn/error to stderr */
  void (*log_cb)(void* data, const char* level, const char* text, size_t len);
  /* the value settled (mp == NULL: undefined); before `load` */
  void (*value_cb)(void* data, const uint8_t* mp, size_t len);
  /* the end: status 0 after `unload`, or the error that ended the run */
  void (*done_cb)(void* data, int status, const iso_js_error* err);
} iso_run_cbs;

/* iso_run_new: constructor; the run starts at once. The seed's run
 * command on a new realm: evaluate the main module (opts, with main = 1
 * implied) and its value, dispatch `load`, run the event loop until
 * nothing is pending, dispatch `unload`. done_cb is called exactly once;
 * the caller then stops its loop and frees the run. Returns 0 and *out,
 * or an error without calling any callback. Thread: owning loop. */
int iso_run_new(iso_rt* rt,
                const iso_eval_opts* opts,
                const iso_run_cbs* cbs,
                void* data,
                iso_run** out);

/* iso_run_free: destructor (frees its realm). Accepts NULL. Thread: owning
 * loop. */
void iso_run_free(iso_run* run);

#ifdef __cplusplus
}
#endif

#endif /* ISO_RT_H */
