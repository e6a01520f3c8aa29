/* iso_bootstrap.h: the JavaScript prelude, embedded at build time.
 *
 * prelude.js is a classic script that the runtime runs with execute() once
 * in every context it creates. It finds the native binding object
 * globalThis.__iso (installed by the V8 shim, see isolate/v8s.h), removes it
 * from the global object, builds the web-like globals (console, timers,
 * TextEncoder, Event/EventTarget, ...) and evaluates to a hooks object the
 * runtime calls: { fireTimers(), dispatch(type) }.
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

#ifdef __cplusplus
}
#endif

#endif /* ISO_BOOTSTRAP_H */
