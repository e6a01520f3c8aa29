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
    reportException(error);
  }

