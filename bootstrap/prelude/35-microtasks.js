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

  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'structuredClone': 1 argument required.",
      );
    }
    if (options !== undefined && options !== null) {
      const transfer = options.transfer;
      if (transfer !== undefined && [...transfer].length > 0) {
        throw new DOMException(
          "Transferring objects is not supported",
          "DataCloneError",
        );
      }
    }
    try {
      return nativeClone(value);
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
