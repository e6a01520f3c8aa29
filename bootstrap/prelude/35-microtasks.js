  // -------------------------------------------------------------------------
  // Microtasks, structuredClone, reportError.

  function queueMicrotask(callback) {
    if (typeof callback !== "function") {
      throw new TypeError(
        "Failed to execute 'queueMicrotask': Argument 1 is not a function.",
      );
    }
    enqueueMicrotask(callback);
  }

  // structuredClone(value, { transfer }): V8's serializer through the
  // native (isolate/v8s_natives.cc). Besides what V8 clones (primitives,
  // wrappers, Date, RegExp, ArrayBuffer and views, Map, Set, arrays, plain
  // objects, errors with their message, stack and cause), a DOMException is
  // cloned through the host object hooks below, a SharedArrayBuffer's copy
  // shares its memory, and the ArrayBuffers of `transfer` move to the copy
  // (the originals are detached). MessagePort is not implemented, so no
  // other object is transferable. A duplicate in `transfer` is a
  // DataCloneError, as the HTML standard says (Deno ignores it).
  let cloneHooksSet = false;

  function describeHost(object) {
    const state = domExceptions.get(object);
    if (state === undefined) {
      return undefined;
    }
    let stack;
    try {
      stack = object.stack;
    } catch {
      stack = undefined;
    }
    return typeof stack === "string"
      ? ["DOMException", state.name, state.message, stack]
      : ["DOMException", state.name, state.message];
  }

  // A bare HostObject the shim made while it read the copy (V8 runs no
  // JavaScript then) becomes the DOMException describeHost described.
  function reviveHost(object, kind, name, message, stack = undefined) {
    if (kind !== "DOMException") {
      return;
    }
    setPrototypeOf(object, DOMException.prototype);
    domExceptions.set(object, { name, message });
    if (stack !== undefined) {
      defineProperty(object, "stack", {
        value: stack,
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
  }

  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'structuredClone': 1 argument required.",
      );
    }
    let transfer;
    if (options !== undefined && options !== null) {
      if (typeof options !== "object" && typeof options !== "function") {
        throw new TypeError(
          "Failed to execute 'structuredClone': Argument 2 can not be " +
            "converted to a dictionary.",
        );
      }
      const list = options.transfer;
      if (list !== undefined) {
        if (
          list === null ||
          (typeof list !== "object" && typeof list !== "function") ||
          typeof list[SymbolIterator] !== "function"
        ) {
          throw new TypeError(
            "Failed to execute 'structuredClone': 'transfer' of " +
              "'StructuredSerializeOptions' (Argument 2) can not be " +
              "converted to sequence.",
          );
        }
        transfer = [...list];
        for (let i = 0; i < transfer.length; i++) {
          const item = transfer[i];
          if (
            item === null ||
            (typeof item !== "object" && typeof item !== "function")
          ) {
            throw new TypeError(
              "Failed to execute 'structuredClone': 'transfer' of " +
                "'StructuredSerializeOptions' (Argument 2), index " +
                `${i} is not an object`,
            );
          }
        }
      }
    }
    if (!cloneHooksSet && typeof iso.setCloneHooks === "function") {
      iso.setCloneHooks(describeHost, reviveHost);
      cloneHooksSet = true;
    }
    try {
      return nativeClone(value, transfer);
    } catch (error) {
      // The serializer throws a plain Error; anything else (a getter's own
      // exception) passes through unchanged.
      if (
        error !== null &&
        typeof error === "object" &&
        getPrototypeOf(error) === Error.prototype
      ) {
        throw new DOMException(error.message, "DataCloneError");
      }
      throw error;
    }
  }

  function reportError(error) {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'reportError': 1 argument required.",
      );
    }
    reportUncaught(error);
  }

  // "Report an exception" (HTML): an ErrorEvent named "error", cancelable,
  // is dispatched on globalThis, then globalThis.onerror is called with it
  // (a true return value cancels it, as in Deno); unless a listener
  // canceled it, the exception is reported as uncaught (reportException,
  // which ends a `run` with "error: Uncaught ..."). An exception thrown
  // while an error event is being dispatched is reported as uncaught at
  // once, so a throwing error listener cannot recurse.
  let reportingError = false;

  function reportUncaught(error) {
    if (reportingError) {
      reportException(error);
      return;
    }
    reportingError = true;
    let canceled = false;
    try {
      const where = errorLocation(error);
      const event = new ErrorEvent("error", {
        cancelable: true,
        message: `Uncaught ${describeUncaught(error)}`,
        filename: where.filename,
        lineno: where.lineno,
        colno: where.colno,
        error,
      });
      canceled = !dispatchInternal(globalThis, event);
      const handler = globalThis.onerror;
      if (typeof handler === "function") {
        if (fnCall(handler, globalThis, event) === true) {
          canceled = true;
        }
      }
    } catch (thrown) {
      reportException(thrown);
    } finally {
      reportingError = false;
    }
    if (!canceled) {
      reportException(error);
    }
  }

  function describeUncaught(error) {
    try {
      if (error !== null && typeof error === "object" && isError(error)) {
        return errorToString(error);
      }
      return inspect(error);
    } catch {
      return "(an exception that cannot be described)";
    }
  }

  // Where an exception comes from: the first frame of its stack outside
  // the prelude, or of the caller's when it has none.
  const frameRegExp =
    /\n {4}at (?:.*? \()?((?!isopool:bootstrap)[^\n()]+?):(\d+):(\d+)\)?(?=\n|$)/;
  function errorLocation(error) {
    let stack;
    try {
      stack = error !== null && typeof error === "object" ? error.stack : "";
    } catch {
      stack = undefined;
    }
    if (typeof stack !== "string" || !stack.includes("\n    at ")) {
      stack = new Error().stack;
    }
    const frame = frameRegExp.exec(stack);
    if (frame === null) {
      return { filename: "", lineno: 0, colno: 0 };
    }
    return { filename: frame[1], lineno: +frame[2], colno: +frame[3] };
  }
