  // -------------------------------------------------------------------------
  // The globals, and the hooks the runtime calls.

  // console: made on first read (20-console.js)
  defineLazy(globalThis, ["console"], consoleApi);
  defineHidden(globalThis, {
    setTimeout,
    setInterval,
    clearTimeout,
    clearInterval,
    queueMicrotask,
    structuredClone,
    reportError,
  });
  defineLazy(globalThis, ["TextEncoder", "TextDecoder"], encodingApi);
  defineHidden(globalThis, {
    atob,
    btoa,
  });
  defineLazy(globalThis, ["DOMException"], domExceptionApi);
  defineLazy(globalThis, ["Event", "CustomEvent"], eventsApi); // 50-events.js
  defineHidden(globalThis, {
    EventTarget,
    Window,
  });
  defineLazy(globalThis, [
    "Performance",
    "PerformanceEntry",
    "PerformanceMark",
    "PerformanceMeasure",
    "performance",
  ], performanceApi); // 55-performance.js
  defineLazy(globalThis, ["Crypto"], cryptoApi); // 60-crypto.js
  defineLazy(globalThis, ["SubtleCrypto"], subtleApi);
  defineLazy(globalThis, ["crypto"], cryptoApi);
  defineHidden(globalThis, {
    self: globalThis,
    window: globalThis,
    onload: null,
    onunload: null,
    onunhandledrejection: null,
    onrejectionhandled: null,
  });

  // Dispatches a plain Event named type on globalThis, then calls the
  // matching on<type> handler. Called from the runtime with no script on
  // the stack, so a microtask checkpoint follows each listener, as in a
  // browser.
  function dispatch(type) {
    const event = new (eventsApi().Event)(`${type}`);
    drainAfterListeners = true;
    try {
      dispatchInternal(globalThis, event);
    } finally {
      drainAfterListeners = false;
    }
    const handler = globalThis[`on${event.type}`];
    if (typeof handler === "function") {
      try {
        fnCall(handler, globalThis, event);
      } catch (error) {
        reportException(error);
      }
      runMicrotasks();
    }
  }

  // The promises an "unhandledrejection" event was dispatched for: one that
  // gets a handler later gets a "rejectionhandled" event (HTML's
  // outstanding rejected promises, a weak set). Each is added after its
  // event whether it was canceled or not, and whether a listener handled
  // it or not, as in Deno.
  const rejectionsNotified = new WeakSet();
  const weakSetAdd = uncurry(WeakSet.prototype.add);
  const weakSetDelete = uncurry(WeakSet.prototype.delete);

  // Fires a PromiseRejectionEvent of type on globalThis, then calls the
  // matching on<type> handler (a plain property, as onerror; its return
  // value cancels nothing, as in Deno). A listener's or the handler's
  // exception is reported as uncaught (an "error" event first). Returns
  // whether no one canceled the event.
  function firePromiseRejection(type, promise, reason) {
    const event = new (eventsApi().PromiseRejectionEvent)(type, {
      cancelable: type === "unhandledrejection",
      promise,
      reason,
    });
    dispatchInternal(globalThis, event);
    const handler = globalThis[`on${type}`];
    if (typeof handler === "function") {
      try {
        fnCall(handler, globalThis, event);
      } catch (error) {
        reportUncaught(error);
      }
    }
    return !event.defaultPrevented;
  }

  // The runtime's unhandled rejections of a tick, as (promise, reason)
  // pairs in the order they were rejected (HTML's "notify about rejected
  // promises", the way Deno does it): an "unhandledrejection" event for
  // each in turn, up to the first that no listener canceled, which is
  // returned (the runtime reports its reason as an uncaught error, and
  // calls again with the pairs after it if the realm lives on); undefined
  // when all were canceled. The runtime's call ends with a microtask
  // checkpoint: the listeners' microtasks run after the last event, as in
  // Deno.
  function unhandledRejections() {
    for (let i = 0; i + 1 < arguments.length; i += 2) {
      const promise = arguments[i];
      const notCanceled = firePromiseRejection(
        "unhandledrejection",
        promise,
        arguments[i + 1],
      );
      weakSetAdd(rejectionsNotified, promise);
      if (notCanceled) {
        return promise;
      }
    }
    return undefined;
  }

  // The promises of the realm that got a handler after they were rejected
  // with none (a late `.catch`), at the end of a tick: a "rejectionhandled"
  // event (not cancelable) for each that had an "unhandledrejection" one.
  function rejectionsHandled() {
    for (let i = 0; i < arguments.length; i++) {
      const promise = arguments[i];
      if (!weakSetHas(rejectionsNotified, promise)) {
        continue;
      }
      weakSetDelete(rejectionsNotified, promise);
      firePromiseRejection(
        "rejectionhandled",
        promise,
        promiseResult(promise),
      );
    }
  }

  // Array.prototype.fill over a long range never runs as one builtin call.
  // Near the heap limit the builtin spends its time in garbage collections
  // that never notice a stop (`new Array(4.5e7).fill(1.5)` ran tens of
  // seconds and gigabytes past the limit), and on a sparse array it grows
  // one dictionary whose next doubling V8 cannot place, which aborts the
  // process. A dense array is filled in slices of the builtin, a sparse
  // one (its first index a hole) by a loop whose stores let V8 turn it into
  // a plain array as it fills up; a stop (a deadline, the heap limit) lands
  // between slices or iterations. Short ranges, and receivers that are not
  // arrays, go to the builtin as they are.
  const nativeFill = Array.prototype.fill;
  const kLongFill = 1 << 16;
  const toIntegerOrInfinity = (v) => {
    const n = +v;
    return n !== n ? 0 : n === Infinity || n === -Infinity ? n : Math.trunc(n);
  };
  const relativeIndex = (v, len, dflt) => {
    const n = v === undefined ? dflt : toIntegerOrInfinity(v);
    return n < 0 ? mathMax(len + n, 0) : mathMin(n, len);
  };
  defineProperty(Array.prototype, "fill", {
    value: {
      fill(value, start, end) {
        if (!isArray(this) || this.length <= kLongFill) {
          return fnApply(nativeFill, this, arguments);
        }
        const len = this.length;
        const k = relativeIndex(start, len, 0);
        const last = relativeIndex(end, len, len);
        if (k < last && !(k in this)) {
          for (let i = k; i < last; i++) {
            this[i] = value;
          }
          return this;
        }
        for (let i = k; i < last; i += kLongFill) {
          fnCall(nativeFill, this, value, i, mathMin(i + kLongFill, last));
        }
        return this;
      },
    }.fill,
    writable: true,
    enumerable: false,
    configurable: true,
  });

  // Isopool: the namespace user code and the built-in modules (isopool:fs,
  // ...) reach ops through. Neither writable nor configurable, so a module
  // that captures Isopool.core gets the real one.
  defineProperty(globalThis, "Isopool", {
    value: freeze({
      core,
      errors,
      unrefTimer,
      refTimer,
      version: iso.version, // the build's (common/iso_version.h)
    }),
    writable: false,
    enumerable: false,
    configurable: false,
  });

  // the late() installs (05-builtins.js): now, and for a context from the
  // startup snapshot when it starts
  const runLate = () => {
    for (let i = 0; i < lateInstalls.length; i++) {
      lateInstalls[i]();
    }
  };
  runLate();

  return freeze({
    snapshotStarted: runLate,
    fireTimers,
    dispatch,
    resolveOps,
    unhandledRejections,
    rejectionsHandled,
  });
})(globalThis.__iso);
