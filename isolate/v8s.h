/* v8s.h: the V8 shim, a plain C API over V8 10.2.
 *
 * This header is the only door to V8. It compiles as C11 and as C++ and
 * exposes no V8 type: an isolate is an opaque pointer, and every JavaScript
 * value the C side keeps is a v8s_ref, an index into the isolate's table of
 * persistent handles (like v8go's values). A ref lives until v8s_ref_free();
 * ref 0 is never valid and means "none". No C++ exception crosses this
 * header; an empty MaybeLocal becomes an error code, and a thrown JavaScript
 * value is returned as a caller-owned v8s_exc {name, message, stack}.
 *
 * V8 calls back into C (module resolution, dynamic import, promise
 * rejection, the prelude's natives) through the v8s_host table given to
 * v8s_isolate_new(); every callback gets the `realm` pointer that was
 * attached to the context the JavaScript ran in.
 *
 * Thread: an isolate and everything made from it belong to the thread that
 * created it (its owning loop), except v8s_terminate(), which any thread may
 * call. The isolate stays entered on that thread until it is freed, so
 * isolates made on one thread are freed in the reverse order.
 * v8s_platform_init() is called once per process, before any isolate.
 */
#ifndef ISO_V8S_H
#define ISO_V8S_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;
struct iso_buf;

typedef struct v8s_isolate v8s_isolate;
typedef uint32_t v8s_ref;

/* A JavaScript exception as plain data; every field is malloc'd or NULL.
 * Freed with v8s_exc_close(), which accepts a zeroed struct. */
typedef struct v8s_exc {
  char* name;     /* "Error", "TypeError", ...; for a thrown non-Error, NULL */
  char* message;  /* the message, or the inspected value for a non-Error */
  char* stack;    /* "Error: boom\n    at file:///...:1:7", or NULL */
  int terminated; /* 1 when execution was stopped by v8s_terminate() */
} v8s_exc;

void v8s_exc_close(v8s_exc* exc);

/* Promise states, as V8 numbers them. */
enum { V8S_PENDING = 0, V8S_FULFILLED = 1, V8S_REJECTED = 2 };

/* Promise rejection events (v8::PromiseRejectEvent). */
enum {
  V8S_REJECT_NO_HANDLER = 0,
  V8S_HANDLER_ADDED_AFTER_REJECT = 1,
  V8S_REJECT_AFTER_RESOLVED = 2,
  V8S_RESOLVE_AFTER_RESOLVED = 3
};

/* Module status (v8::Module::Status). */
enum {
  V8S_MOD_UNINSTANTIATED = 0,
  V8S_MOD_INSTANTIATING,
  V8S_MOD_INSTANTIATED,
  V8S_MOD_EVALUATING,
  V8S_MOD_EVALUATED,
  V8S_MOD_ERRORED
};

/* Value kinds reported by v8s_kind(). */
enum {
  V8S_UNDEFINED = 0,
  V8S_NULL,
  V8S_FUNCTION,
  V8S_PROMISE,
  V8S_OBJECT,
  V8S_OTHER
};

/* The host: C functions V8 reaches. All run on the isolate's thread, inside
 * the shim's scopes; they must not free the refs they are given (the shim
 * frees them when the callback returns) unless they say they keep them. */
/* An op the shim installs as __iso.ops[name] in every context (the
 * registry, ops/iso_ops.h, seen from the shim: index = position). */
typedef struct v8s_op_info {
  const char* name;
  int is_async;
} v8s_op_info;

/* One response of a batch of async ops, for v8s_ops_resolve. */
typedef struct v8s_op_result {
  uint32_t promise;      /* the JavaScript promise id */
  const char* err_class; /* NULL: `data` is the msgpack value (len 0:
                            undefined); "": forget the promise without
                            settling it (its job was cancelled); else
                            "NotFound", ... and `data` is the message */
  const uint8_t* data;
  size_t len;
} v8s_op_result;

typedef struct v8s_host {
  /* Resolve an import of `specifier` (with import type "" or "json") by
   * the module `referrer` during instantiation. Returns the module's ref,
   * or 0 after writing a message into err (the shim throws a TypeError). */
  v8s_ref (*resolve)(void* realm,
                     const char* specifier,
                     const char* type,
                     v8s_ref referrer,
                     char* err,
                     size_t errlen);
  /* import(specifier) from the script or module named `referrer_url`.
   * `resolver` is a fresh promise-resolver ref the host now owns and must
   * settle with v8s_resolver_resolve/reject and free. Returns 0, or a
   * negative code after which the shim rejects with `err`. */
  int (*dyn_import)(void* realm,
                    const char* specifier,
                    const char* type,
                    const char* referrer_url,
                    v8s_ref resolver,
                    char* err,
                    size_t errlen);
  /* import.meta for `module`: write its URL and whether it is the main
   * module. */
  void (*import_meta)(void* realm,
                      v8s_ref module,
                      const char** url,
                      int* is_main);
  /* A promise was rejected with no handler, or got one later. `promise`
   * and `reason` are borrowed refs (copy with v8s_ref_dup to keep them). */
  void (*promise_reject)(void* realm,
                         int event,
                         v8s_ref promise,
                         v8s_ref reason);
  /* An exception nobody caught (a throwing microtask, an event listener). */
  void (*uncaught)(void* realm, const v8s_exc* exc);
  /* The prelude's natives (see bootstrap/iso_bootstrap.h). */
  void (*print)(void* realm, const char* level, const char* text, size_t len);
  /* The realm's earliest timer deadline (-1: none) and whether a timer
   * that keeps the loop alive (not unref'd) is pending. */
  void (*timer_arm)(void* realm, double deadline_ms, int refed);
  /* The timer callback about to run (fireTimers) belongs to the
   * evaluation tagged `tag`, the job tag that was current when it was set
   * (0: none; also called with 0 before each pass's microtasks). The shim
   * has made `tag` the context's job tag already. */
  void (*timer_job)(void* realm, uint32_t tag);
  /* A sync op, `op` an index into the isolate's op list, its arguments a
   * msgpack array. Returns 0 with the result as msgpack (*res_len 0:
   * undefined), or ISO_EOP with an error class name and message. The outputs
   * stay valid until the next op call. */
  int (*op_sync)(void* realm,
                 uint32_t op,
                 const uint8_t* args,
                 size_t len,
                 const uint8_t** res,
                 size_t* res_len,
                 const char** err_class,
                 const char** err_msg);
  /* An async op request for promise id `promise`: queue it. Returns 0, or
   * ISO_EOP with an error class and message (thrown at once). */
  int (*op_async)(void* realm,
                  uint32_t op,
                  uint32_t promise,
                  const uint8_t* args,
                  size_t len,
                  const char** err_class,
                  const char** err_msg);
  /* Isopool.core.unrefOp/refOp: the pending op `promise` stops (ref 0)
   * or starts again (1) keeping the event loop alive. */
  void (*op_ref)(void* realm, uint32_t promise, int ref);
  /* An Atomics.waitAsync with a timeout started (delta 1) or settled (-1)
   * in `realm` (the prelude tells): it keeps the event loop alive, as V8's
   * timeout is a delayed task the loop does not count. Optional. */
  void (*wait_ref)(void* realm, int delta);
  /* The heap went past heap_max_mb after a garbage collection (or reached
   * V8's own limit, heap_max_mb + 1 GiB, which then grows): the host
   * should replace the isolate once its jobs are answered. Returns 1 if
   * JavaScript of one of its entries runs now, which the shim then stops
   * (TerminateExecution); 0 if none does (a collection while C code made
   * values), so that no later entry is stopped in its place. */
  int (*near_heap_limit)(void* data);
  /* V8 runs one of its own tasks for this isolate on the loop (a
   * FinalizationRegistry cleanup, which calls JavaScript; Wasm compilation
   * steps): task_enter before, task_leave after, so the host can give that
   * JavaScript a deadline and cancel a termination afterwards, as for any
   * entry. task_enter returns 0 to run the task; anything else drops it
   * unrun (and task_leave is not called), as freeing the isolate would:
   * for an isolate that is to run no more JavaScript. Optional. */
  int (*task_enter)(void* data);
  void (*task_leave)(void* data);
  /* require(specifier) in the CommonJS module whose file is `parent` (an
   * absolute path; v8s_cjs.cc): *path (malloc'd, the shim frees it) and
   * its *format (V8S_FMT_*), or a negative code after writing a message
   * into err, which the shim throws (ISO_ENOENT with Node's code
   * MODULE_NOT_FOUND). Optional: NULL makes every require throw. */
  int (*cjs_resolve)(void* realm,
                     const char* specifier,
                     const char* parent,
                     char** path,
                     int* format,
                     char* err,
                     size_t errlen);
  /* The text of the file at `path` (one cjs_resolve returned), read at
   * once and checked as a module's file is: *src is malloc'd (the shim
   * frees it), or a negative code and err. */
  int (*cjs_read)(void* realm,
                  const char* path,
                  char** src,
                  size_t* len,
                  char* err,
                  size_t errlen);
} v8s_host;

/* What a module file is (Node's "format"): an ES module, CommonJS,
 * CommonJS unless it only parses as an ES module (Node's detect-module, for
 * a .js file whose package says no "type"), JSON. */
enum { V8S_FMT_ESM = 0, V8S_FMT_CJS, V8S_FMT_DETECT, V8S_FMT_JSON };

typedef struct v8s_isolate_opts {
  struct uv_loop_s* loop; /* V8's foreground tasks run on this loop */
  const v8s_host* host;
  void* host_data;        /* the embedder's state for this isolate,
                             kept in the isolate's data slot 1 (the
                             runtime's JsRuntimeState); passed to
                             near_heap_limit */
  size_t heap_max_mb;     /* 0: V8's default; also caps the isolate's
                             ArrayBuffer memory (0: 4 GiB) */
  const v8s_op_info* ops; /* installed as __iso.ops; copied */
  size_t nops;
  size_t op_args_max; /* largest op arguments, as msgpack; 0: 256 MiB */
} v8s_isolate_opts;

/* v8s_platform_init: initialise V8 once per process with `flags` (a V8
 * flags string such as "--max-old-space-size=64", may be NULL) and a
 * platform with `threads` background threads (0: default). Returns 0 or
 * ISO_EINVAL when called twice. Thread: main, before any isolate. */
int v8s_platform_init(const char* flags, int threads);

/* ---- the startup snapshot ----
 *
 * A V8 startup snapshot whose context 0 is a context the prelude ran in,
 * made at build time by isolate/snapshot_gen.c (v8s_snapshot_make) and
 * embedded as iso_snapshot_blob; an isolate starts from it when its
 * header fits this process (isolate/README.md, "The startup snapshot"). */

/* The embedded blob (header and V8's snapshot) and its length; 0: none.
 * Defined by the build's generated isolate/snapshot_blob.c (the generator
 * defines an empty one). */
extern const unsigned char iso_snapshot_blob[];
extern const size_t iso_snapshot_blob_len;

/* v8s_snapshot_make: a snapshot blob (header and V8's) of a context in
 * which the prelude ran, with the ops of `ops` (as v8s_isolate_opts): a
 * new isolate of its own, through v8s_context_new and
 * v8s_execute_static like every context's. *out is malloc'd, the
 * caller's. Returns 0, ISO_EJS (the prelude threw: exc filled) or
 * ISO_ENOMEM. Thread: main, after v8s_platform_init with the runtime's
 * flags (NULL), with no other isolate alive. */
int v8s_snapshot_make(const v8s_op_info* ops,
                      size_t nops,
                      uint8_t** out,
                      size_t* len,
                      v8s_exc* exc);

/* v8s_snapshot_check: whether a blob's header fits this process: its V8
 * version, its V8 flags and its build id (the prelude's text, the
 * snapshot format). Returns 0, or ISO_EINVAL with *why (static text) set.
 * Thread: any, after v8s_platform_init. */
int v8s_snapshot_check(const unsigned char* blob, size_t len, const char** why);

/* v8s_snapshot_used: 1 when isolates of this process start from the
 * embedded snapshot (checked on first use: a blob that does not fit, or
 * none, or ISOPOOL_SNAPSHOT=0 in the environment, is 0), else 0.
 * ISOPOOL_SNAPSHOT=FILE uses the blob in FILE instead (checked alike).
 * Isolates whose ops differ from the snapshot's run the prelude anyway.
 * Thread: any, after v8s_platform_init. */
int v8s_snapshot_used(void);

/* v8s_isolate_pending_tasks: 1 if V8 has work under way for `iso` that
 * will run on its loop (a task posted to run now, not run yet: the last
 * step of a Wasm compilation, a FinalizationRegistry cleanup, an
 * Atomics.notify's resolution; or background work that will post one,
 * such as a Wasm compilation), else 0. Delayed tasks do not count.
 * Thread: the isolate's. */
int v8s_isolate_pending_tasks(v8s_isolate* iso);

/* v8s_platform_handle: the node::MultiIsolatePlatform, as void*, for the
 * bare-V8 baseline (v8_baseline.cc), which must register its isolates with
 * it too. Thread: any, after v8s_platform_init. */
void* v8s_platform_handle(void);

/* v8s_platform_now_ms: the clock the prelude's now() uses, in ms since
 * v8s_platform_init. Thread: any. */
double v8s_platform_now_ms(void);

/* v8s_isolate_new: constructor. Registers the isolate with the platform
 * on opts->loop. Returns 0 and *out, or ISO_ENOMEM/ISO_EINVAL. Thread: the
 * thread that will own the isolate and run opts->loop. */
int v8s_isolate_new(const v8s_isolate_opts* opts, v8s_isolate** out);

/* v8s_isolate_free: destructor; frees every ref. Accepts NULL. The loop
 * must still be alive (the platform closes its handles on it). */
void v8s_isolate_free(v8s_isolate* iso);

/* v8s_heap_allocated: the bytes the isolate's heap has held so far: what
 * is in use now in its spaces (all of them, or where V8's internal count
 * can't be read, the ones JavaScript allocates in: new, old, large
 * objects) plus what every collection freed there (their use before it
 * less after, from the GC prologue and epilogue callbacks). V8 10.2
 * has no allocation counter in its API; this one grows by what JavaScript
 * allocates between two reads, less objects promoted or compacted (a
 * collection moves them, it frees nothing of them), so the difference of
 * two reads is an estimate of the bytes allocated between them (never a
 * count of live bytes). Thread: the isolate's. */
uint64_t v8s_heap_allocated(v8s_isolate* iso);

/* v8s_collect: a full garbage collection now (V8's LowMemoryNotification).
 * Thread: the isolate's. */
void v8s_collect(v8s_isolate* iso);

/* v8s_heap_stats: the heap in use and the heap's limit, in bytes. */
void v8s_heap_stats(v8s_isolate* iso, size_t* used, size_t* limit);

/* v8s_memory: what the isolate holds, in bytes: `used`, the heap in use
 * (live objects and garbage not yet collected) and ArrayBuffer and
 * WebAssembly memory; `committed`, the heap's pages V8 has committed
 * (which stay after a collection: fragmentation) and the same buffers. */
void v8s_memory(v8s_isolate* iso, size_t* used, size_t* committed);

/* v8s_terminate: stop the JavaScript running on iso now. The only entry
 * point that any thread may call. v8s_cancel_terminate, on the owning
 * thread, lets the isolate run again. Thread: any / owning. */
void v8s_terminate(v8s_isolate* iso);
void v8s_cancel_terminate(v8s_isolate* iso);

/* ---- refs ---- */
void v8s_ref_free(v8s_isolate* iso, v8s_ref ref); /* accepts 0 */
v8s_ref v8s_ref_dup(v8s_isolate* iso, v8s_ref ref);
int v8s_ref_same(v8s_isolate* iso, v8s_ref a, v8s_ref b); /* === */
int v8s_kind(v8s_isolate* iso, v8s_ref ref);

/* ---- contexts ---- */

/* v8s_context_new: a fresh context whose global holds the __iso natives
 * and whose callbacks carry `realm`. Returns 0 and the context's ref. */
int v8s_context_new(v8s_isolate* iso, void* realm, v8s_ref* out);

/* v8s_context_boot: a context for `realm` with the prelude run in it,
 * from the isolate's startup snapshot (v8s_snapshot_make) when it started
 * from one: *out is the context's ref and *hooks the prelude's hooks
 * object's (its completion value, iso_bootstrap.h). Otherwise it is
 * v8s_context_new's context, *hooks is 0 and the caller runs the prelude.
 * Returns 0 or ISO_ENOMEM/ISO_EINVAL. Thread: the isolate's. */
int v8s_context_boot(v8s_isolate* iso,
                     void* realm,
                     v8s_ref* out,
                     v8s_ref* hooks);

/* v8s_context_free: detach realm from the context (callbacks from
 * leftover JavaScript see NULL and do nothing) and free its ref. */
void v8s_context_free(v8s_isolate* iso, v8s_ref ctx);

/* v8s_execute: compile and run a classic script `source` named `name` in
 * ctx, with a TryCatch. *result (may be NULL) receives the completion
 * value's ref. Returns 0, ISO_EJS (exc filled) or ISO_ETERMINATED. */
int v8s_execute(v8s_isolate* iso,
                v8s_ref ctx,
                const char* name,
                const char* source,
                size_t len,
                v8s_ref* result,
                v8s_exc* exc);

/* v8s_execute_static: v8s_execute for a source in static storage (the
 * prelude), compiled once per isolate and then only bound and run: the
 * source pointer is the cache key. The process keeps a V8 code cache of
 * it, made by the second isolate that compiles it and used by later ones
 * (v8s_context.cc, static_script). */
int v8s_execute_static(v8s_isolate* iso,
                       v8s_ref ctx,
                       const char* name,
                       const char* source,
                       size_t len,
                       v8s_ref* result,
                       v8s_exc* exc);

/* v8s_microtasks: perform a microtask checkpoint on the context's own
 * queue (every context has one). Returns 0, or ISO_ETERMINATED when the
 * JavaScript was stopped: V8 then dropped every promise job still waiting
 * in that queue, and v8s_microtasks_dropped() says so. */
int v8s_microtasks(v8s_isolate* iso, v8s_ref ctx);

/* v8s_microtasks_dropped: 1 if a checkpoint (here or after a v8s_call*,
 * v8s_ops_resolve) was stopped since the last call, which lost the promise
 * jobs queued in that context; resets it. */
int v8s_microtasks_dropped(v8s_isolate* iso);

/* ---- modules ---- */

/* The static imports a compiled module asks for; free with
 * v8s_requests_close. */
typedef struct v8s_requests {
  size_t n;
  char** specifier;
  char** type; /* "" or "json" (from `with`/`assert { type }`) */
} v8s_requests;
void v8s_requests_close(v8s_requests* r);

/* v8s_code_stats: the process's code cache of user modules (v8s_code.cc):
 * compiles that consumed a cache (hits), that compiled the text (misses;
 * rejected: of them, those whose cache V8 refused), caches made and
 * entries evicted, and the entries' bytes against the bound. */
typedef struct v8s_code_stats {
  uint64_t hits;
  uint64_t misses;
  uint64_t rejected;
  uint64_t made;
  uint64_t evicted;
  uint64_t bytes;
  uint64_t entries; /* texts seen, with their cache or not yet */
  uint64_t cached;  /* of them, those that hold a cache */
  uint64_t limit;
  uint64_t put; /* entries inserted by v8s_code_cache_put */
  uint32_t tag; /* ScriptCompiler::CachedDataVersionTag(): in each key */
} v8s_code_stats;
/* v8s_code_cache_stats: fills *out. Thread: any. */
void v8s_code_cache_stats(v8s_code_stats* out);
/* v8s_code_cache_limit: bounds the module entries at `bytes` (32 MiB
 * unless set), evicting the least recently used down to it now. 0 keeps
 * no module entry. Thread: any. */
void v8s_code_cache_limit(size_t bytes);
/* v8s_code_cache_export: on (non-zero): each module entry made from now
 * on is queued for v8s_code_cache_next_made (256 at most; past that the
 * newest are not); off: none, and the queue is emptied. Off unless set
 * (a process no one drains keeps no queue). Thread: any. */
void v8s_code_cache_export(int on);
/* v8s_code_entry_cb: an entry: its key (key_len bytes) and its cache
 * (len bytes), both valid during the call only. */
typedef void (*v8s_code_entry_cb)(const uint8_t* key,
                                  size_t key_len,
                                  const uint8_t* data,
                                  size_t len,
                                  void* arg);
/* v8s_code_cache_next_made: the oldest queued made entry still in the
 * cache, given to cb (called without the cache's lock) and dequeued.
 * Returns 1, or 0 when none waits. Thread: any. */
int v8s_code_cache_next_made(v8s_code_entry_cb cb, void* arg);
/* v8s_code_cache_put: inserts an entry made elsewhere (another process of
 * this build, through the front), copied: the cache trusts it as its own,
 * so the caller must (pool/: the front is trusted). A key that is not a
 * module key of this V8's version tag, an empty cache or one over a
 * quarter of the bound, a key that has a cache already: not put.
 * Returns 1 if put, else 0. Thread: any. */
int v8s_code_cache_put(const uint8_t* key,
                       size_t key_len,
                       const uint8_t* data,
                       size_t len);
/* v8s_code_cache_flip: for tests: flips byte `at` of every module entry's
 * cache, as a cache from elsewhere would differ (at 12, V8's hash of the
 * flags it was made with). Thread: any. */
void v8s_code_cache_flip(size_t at);

/* v8s_module_compile: compile an ES module named `url`. With is_json, the
 * source is parsed as JSON and becomes a synthetic module whose default
 * export is the value. An ES module's compile consumes the process's code
 * cache of its source when there is one, and the second compile of a
 * source makes it once the module ran (v8s_module_evaluate; v8s_code.cc).
 * Returns 0 and the module's ref, or ISO_ESYNTAX (exc->stack names
 * url:line:column) / ISO_EJS. */
int v8s_module_compile(v8s_isolate* iso,
                       v8s_ref ctx,
                       const char* url,
                       const char* source,
                       size_t len,
                       int is_json,
                       v8s_ref* out,
                       v8s_exc* exc);
/* v8s_cjs_compile: a CommonJS module named `url` (its file: `path`) as
 * Node's ESM loader sees it: a synthetic module whose evaluation runs the
 * source wrapped as (function (exports, require, module, __filename,
 * __dirname) {...}) through the context's require() and its cache, and
 * whose exports are "default" (module.exports) and `names` (its
 * properties then; the caller finds them, as cjs-module-lexer does; a
 * name V8 reads as "default" or as an earlier one is left out). With
 * detect (V8S_FMT_DETECT), a
 * source that fails to compile only for ES module syntax (import, export,
 * import.meta) sets *is_esm and returns 0 with *out 0: compile it as an ES
 * module. Returns 0, or ISO_ESYNTAX (exc->stack names url:line:column). */
int v8s_cjs_compile(v8s_isolate* iso,
                    v8s_ref ctx,
                    const char* url,
                    const char* path,
                    const char* source,
                    size_t len,
                    const char* const* names,
                    size_t nnames,
                    int detect,
                    int* is_esm,
                    v8s_ref* out,
                    v8s_exc* exc);
int v8s_module_requests(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref module,
                        v8s_requests* out);
int v8s_module_instantiate(v8s_isolate* iso,
                           v8s_ref ctx,
                           v8s_ref module,
                           v8s_exc* exc);
/* v8s_module_evaluate: Module::Evaluate; *promise gets the evaluation
 * promise, watched while its ref lives: its rejection is not reported to
 * the host's promise_reject, since the runtime polls it itself. */
int v8s_module_evaluate(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref module,
                        v8s_ref* promise,
                        v8s_exc* exc);
/* v8s_module_get: the export `name` of an instantiated module, as an
 * import reads it (a live binding's value now): its namespace and the
 * property in one entry, with the name as an internalized string cached
 * in *key between calls (0: make it; the caller passes the same name
 * with the same *key, and frees it with v8s_ref_free). A call job reads
 * its export this way on every call. Returns 0 with *out, ISO_EINVAL when
 * the module is not instantiated, or an error with exc (a stop). */
int v8s_module_get(v8s_isolate* iso,
                   v8s_ref ctx,
                   v8s_ref module,
                   const char* name,
                   v8s_ref* key,
                   v8s_ref* out,
                   v8s_exc* exc);
int v8s_module_namespace(v8s_isolate* iso,
                         v8s_ref ctx,
                         v8s_ref module,
                         v8s_ref* out);

/* ---- values, calls, promises ---- */

/* v8s_get: obj[key] (key a UTF-8 string). */
int v8s_get(v8s_isolate* iso,
            v8s_ref ctx,
            v8s_ref obj,
            const char* key,
            v8s_ref* out,
            v8s_exc* exc);
/* v8s_call: fn.call(undefined, ...argv), then a microtask checkpoint of
 * the context; a stop in either returns ISO_ETERMINATED (*out may then
 * be set, and is the caller's to free). */
int v8s_call(v8s_isolate* iso,
             v8s_ref ctx,
             v8s_ref fn,
             int argc,
             const v8s_ref* argv,
             v8s_ref* out,
             v8s_exc* exc);
/* v8s_call_msgpack: fn(...args) where args_mp is a msgpack array (NULL:
 * no arguments). */
int v8s_call_msgpack(v8s_isolate* iso,
                     v8s_ref ctx,
                     v8s_ref fn,
                     const uint8_t* args_mp,
                     size_t args_len,
                     v8s_ref* out,
                     v8s_exc* exc);
/* v8s_call_jsonish: fn(...args) where each arg is JSON text, or a plain
 * string when it does not parse (the `isopool run` argument rule). */
int v8s_call_jsonish(v8s_isolate* iso,
                     v8s_ref ctx,
                     v8s_ref fn,
                     int argc,
                     const char* const* argv,
                     v8s_ref* out,
                     v8s_exc* exc);
v8s_ref v8s_string(v8s_isolate* iso, v8s_ref ctx, const char* s);

/* v8s_to_promise: Promise.resolve(value), watched while its ref lives.
 * Reads a thenable's `then` (a getter or Proxy trap runs): returns
 * ISO_ETERMINATED when that JavaScript was stopped. */
int v8s_to_promise(v8s_isolate* iso, v8s_ref ctx, v8s_ref value, v8s_ref* out);
int v8s_promise_state(v8s_isolate* iso, v8s_ref promise);
v8s_ref v8s_promise_result(v8s_isolate* iso, v8s_ref promise);

/* Settle a resolver from the dyn_import host callback. Resolving with a
 * thenable (a module namespace exporting `then`) runs its getter: these
 * return ISO_ETERMINATED when JavaScript was stopped, so call them inside
 * an entry the watchdog can see. */
int v8s_resolver_resolve(v8s_isolate* iso,
                         v8s_ref ctx,
                         v8s_ref resolver,
                         v8s_ref value);
int v8s_resolver_reject(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref resolver,
                        v8s_ref reason);
/* Reject with a new error of class `name` ("TypeError", "SyntaxError",
 * "RangeError", anything else: Error) carrying message. */
int v8s_resolver_reject_msg(v8s_isolate* iso,
                            v8s_ref ctx,
                            v8s_ref resolver,
                            const char* name,
                            const char* message);

/* v8s_exc_from_value: describe a thrown/rejected value as a v8s_exc. */
void v8s_exc_from_value(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref value,
                        v8s_exc* exc);

/* ---- job tags ---- */

/* v8s_set_job_tag: the tag (0: none) that JavaScript run from now on in
 * ctx carries, and that every promise continuation it creates carries
 * again when it runs later (V8's continuation-preserved embedder data):
 * the runtime tags an evaluation's own JavaScript with it. */
void v8s_set_job_tag(v8s_isolate* iso, v8s_ref ctx, uint32_t tag);

/* v8s_job_tag: the tag of the JavaScript running now (0: none, or no
 * JavaScript). For host callbacks. */
uint32_t v8s_job_tag(v8s_isolate* iso);

/* ---- ops ---- */

/* v8s_ops_resolve: settle a batch of async op promises with one call of
 * the prelude's hook fn([promise, class, value, ...]), then a microtask
 * checkpoint. Returns 0, ISO_EJS (exc filled) or ISO_ETERMINATED. */
int v8s_ops_resolve(v8s_isolate* iso,
                    v8s_ref ctx,
                    v8s_ref fn,
                    const v8s_op_result* results,
                    size_t n,
                    v8s_exc* exc);

/* ---- msgpack ---- */

/* v8s_to_msgpack: append value as msgpack, at most max_bytes of it (0:
 * 256 MiB), to the caller's buffer `out` (codec/iso_buf.h). Mapping in
 * docs/values.md. Returns 0, or ISO_ETYPE with err naming the path and the
 * offending type (a function, a symbol, a cycle, a BigInt outside int64),
 * ISO_ETOOBIG when the encoding would pass max_bytes, ISO_ENOMEM, or
 * ISO_ETERMINATED; on failure out->len is what it was (its allocation may
 * have grown: the caller frees it either way). */
int v8s_to_msgpack(v8s_isolate* iso,
                   v8s_ref ctx,
                   v8s_ref value,
                   size_t max_bytes,
                   struct iso_buf* out,
                   char* err,
                   size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* ISO_V8S_H */
