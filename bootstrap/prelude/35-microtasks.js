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
  // objects, errors with their message, stack and cause), a DOMException,
  // Blob, File and CryptoKey (host objects) are copied through the host object hooks
  // (the kinds defineCloneKind lists), a value that is another platform
  // object (URL, Headers, ...: definePlatformBrand) is a DataCloneError,
  // a SharedArrayBuffer's copy shares its memory, and the
  // ArrayBuffers of `transfer` move to the copy (the originals are
  // detached). MessagePort is not implemented, so no other object is
  // transferable. A duplicate in `transfer` is a DataCloneError, as the
  // HTML standard says (Deno ignores it).
  let cloneHooksSet = false;

  // Platform objects (WebIDL) that structuredClone copies (Blob, File;
  // DOMException makes its own): an instance of a class that extends
  // PlatformObject is the shim's HostObject (an API object, which V8's
  // serializer hands to the shim rather than copying its own properties),
  // given new.target's prototype, so its private fields are set on it as
  // usual. PlatformObject.prototype is Object.prototype, so such a class
  // has the prototype chain of a base class (the class itself has
  // PlatformObject as its [[Prototype]], not Function.prototype).
  // constructOnto(target, make): the object make() constructs through
  // PlatformObject is target (the revive hook's bare HostObject), so a
  // class's constructor can give an object V8 already made its private
  // fields. Making a HostObject costs: `new URL` ran at 1.1 M/s instead
  // of 1.7, an empty URLSearchParams at 6 M/s instead of 26 (through
  // Reflect.construct with new.target, 40 times slower still), which is
  // why the classes that are not serializable are not host objects but
  // brands (definePlatformBrand, below).
  let platformTarget = null;

  function PlatformObject() {
    if (new.target === undefined) {
      throw new TypeError("Illegal constructor");
    }
    const target = platformTarget;
    if (target !== null) {
      platformTarget = null;
      setPrototypeOf(target, new.target.prototype);
      return target;
    }
    if (typeof HostObject !== "function") {
      return this;
    }
    const self = new HostObject();
    setPrototypeOf(self, new.target.prototype);
    return self;
  }
  PlatformObject.prototype = Object.prototype;

  function constructOnto(target, make) {
    platformTarget = target;
    try {
      return make();
    } finally {
      platformTarget = null;
    }
  }

  // The platform objects structuredClone refuses (the standard: a platform
  // object that is not serializable is a DataCloneError): each class adds
  // its brand check, check(object) -> whether object is one of its
  // instances. Only the value itself is checked, as Deno does: one inside
  // an object or array is copied as V8 copies any object, its own
  // enumerable properties (none: `{}`). Checking every object V8 reaches
  // needs them to be host objects, which costs each construction (above).
  const platformBrands = [];

  function definePlatformBrand(check) {
    platformBrands.push(check);
  }

  function isPlatformObject(value) {
    if (value === null || typeof value !== "object") {
      return false;
    }
    for (let i = 0; i < platformBrands.length; i++) {
      if (platformBrands[i](value)) {
        return true;
      }
    }
    return false;
  }

  function cloneRefused() {
    return new (domExceptionApi().DOMException)(
      "Cannot clone object of unsupported type.",
      "DataCloneError",
    );
  }

  // The kinds of platform object structuredClone copies: kind -> {
  // describe(object): the object's state as an array of strings (at most
  // 15), or undefined when it is not of this kind; revive(object,
  // ...strings): gives the bare HostObject the deserializer made that
  // state }. Parts made lazily (85-blob.js) add theirs when they load:
  // an object of theirs exists only after that.
  const cloneKinds = [];

  function defineCloneKind(kind, describe, revive) {
    cloneKinds.push({ kind, describe, revive });
  }

  function describeHost(object) {
    for (let i = 0; i < cloneKinds.length; i++) {
      const fields = cloneKinds[i].describe(object);
      if (fields !== undefined) {
        return [cloneKinds[i].kind, ...fields];
      }
    }
    throw cloneRefused();
  }

  // A bare HostObject the shim made while it read the copy (V8 runs no
  // JavaScript then) becomes what describeHost described.
  function reviveHost(object, kind, ...fields) {
    for (let i = 0; i < cloneKinds.length; i++) {
      if (cloneKinds[i].kind === kind) {
        cloneKinds[i].revive(object, ...fields);
        return;
      }
    }
  }

  defineCloneKind(
    "DOMException",
    (object) => {
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
        ? [state.name, state.message, stack]
        : [state.name, state.message];
    },
    (object, name, message, stack = undefined) => {
      setPrototypeOf(object, domExceptionApi().DOMException.prototype);
      domExceptions.set(object, { name, message });
      if (stack !== undefined) {
        defineProperty(object, "stack", {
          value: stack,
          writable: true,
          enumerable: false,
          configurable: true,
        });
      }
    },
  );

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
    if (isPlatformObject(value)) {
      throw cloneRefused();
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
        throw new (domExceptionApi().DOMException)(error.message, "DataCloneError");
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
      const event = new (eventsApi().ErrorEvent)("error", {
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
