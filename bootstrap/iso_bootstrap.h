/* iso_bootstrap.h: the JavaScript prelude and the built-in modules,
 * embedded at build time (bootstrap/embed.cmake).
 *
 * The prelude is a classic script that the runtime runs with execute() once
 * in every context it creates; its source is bootstrap/prelude/ *.js, joined
 * in the order bootstrap/CMakeLists.txt lists them (build/bootstrap/
 * prelude.js holds the joined text). It finds the native binding object
 * globalThis.__iso (installed by the V8 shim, see isolate/v8s.h), removes it
 * from the global object, builds the web-like globals (console, timers,
 * TextEncoder, Event/EventTarget, crypto, ...) and the Isopool namespace,
 * and evaluates to a hooks object the runtime calls:
 * { fireTimers(), dispatch(type), resolveOps(flat) }. bootstrap/README.md
 * is the contract. Its lazy parts (the streams, Blob, the Fetch standard's
 * classes) are embedded apart and compiled only when a context first uses
 * them.
 *
 * The built-in modules (bootstrap/modules/ *.js, listed in
 * bootstrap/CMakeLists.txt) are ES module sources the loader compiles when
 * user code imports their specifier ("isopool:fs"). They reach native code
 * only through globalThis.Isopool.core, so they need the prelude to have
 * run in the same context.
 */
#ifndef ISO_BOOTSTRAP_H
#define ISO_BOOTSTRAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The prelude's UTF-8 source, NUL-terminated; static storage. */
extern const char iso_bootstrap_prelude[];
extern const size_t iso_bootstrap_prelude_len;

/* One lazy part of the prelude: its name ("streams") and its UTF-8 source
 * (NUL-terminated, `len` bytes without the NUL; static storage), one
 * function expression that the prelude's natives compile (once per
 * isolate) and evaluate when a context first needs it: __iso.part(name),
 * bootstrap/README.md "Lazy parts". */
typedef struct iso_bootstrap_part {
  const char* name;
  const char* source;
  size_t len;
} iso_bootstrap_part;

/* The lazy parts, in the order bootstrap/CMakeLists.txt lists them; names
 * are unique. Thread: any (immutable). */
extern const iso_bootstrap_part iso_bootstrap_parts[];
extern const size_t iso_bootstrap_parts_count;

/* One built-in module: its import specifier and its UTF-8 source
 * (NUL-terminated, `len` bytes without the NUL; static storage). */
typedef struct iso_builtin_module {
  const char* specifier; /* "isopool:fs" */
  const char* source;
  size_t len;
} iso_builtin_module;

/* The built-in modules, in the order bootstrap/CMakeLists.txt lists them;
 * specifiers are unique. Thread: any (immutable). */
extern const iso_builtin_module iso_builtin_modules[];
extern const size_t iso_builtin_modules_count;

#ifdef __cplusplus
}
#endif

#endif /* ISO_BOOTSTRAP_H */
