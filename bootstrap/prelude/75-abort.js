  // -------------------------------------------------------------------------
  // AbortController, AbortSignal (DOM standard, "Aborting ongoing
  // activities").
  //
  // A signal's state lives in a record kept in a WeakMap (signalState), so
  // the internal hooks below reach it without a brand check that user code
  // could fool. Dependent signals (AbortSignal.any) are held weakly both
  // ways, as the standard asks: a source keeps WeakRefs to its dependents,
  // a dependent WeakRefs to its sources. A dependent that has "abort"
  // listeners or abort algorithms must stay alive while a source may still
  // abort it, so each of its sources also holds it strongly from then on
  // (the standard's garbage collection rule); a source sheds its dead
  // WeakRefs whenever their count doubles, so a long-lived signal given to
  // many AbortSignal.any calls does not grow without bound.
  //
  // The hooks other parts use (streams, fetch), like the standard's
  // algorithms of the same names:
  //   newAbortSignal()              a fresh signal, not aborted
  //   isAbortSignal(v)              whether v is a signal
  //   signalAborted(signal)         its aborted flag
  //   signalReason(signal)          its abort reason
  //   signalAdd(signal, algo)       "add an abort algorithm": algo(reason)
  //                                 runs once when signal aborts (at once
  //                                 if it has); returns algo for
  //                                 signalRemove
  //   signalRemove(signal, algo)    "remove an abort algorithm"
  //   signalAbort(signal, reason)   "signal abort" (reason undefined: an
  //                                 AbortError DOMException)
  //   signalFollow(following, parent)  "follow": following aborts with
  //                                 parent's reason when parent does
  //   dependentSignal(signals)      "create a dependent abort signal"
  //                                 (AbortSignal.any without the checks)
  // An algorithm's exception is reported (reportError), not thrown.

  const signalStates = new WeakMap();

  function signalState(value) {
    const s =
      value !== null && typeof value === "object"
        ? signalStates.get(value)
        : undefined;
    if (s === undefined) {
      throw new TypeError("Illegal invocation");
    }
    return s;
  }

  function isAbortSignal(value) {
    return (
      value !== null &&
      typeof value === "object" &&
      signalStates.get(value) !== undefined
    );
  }

  function newAbortSignal() {
    return new (abortApi().AbortSignal)(illegal);
  }

  function signalAborted(signal) {
    return signalState(signal).aborted;
  }

  function signalReason(signal) {
    return signalState(signal).reason;
  }

  function signalAdd(signal, algo) {
    const s = signalState(signal);
    if (s.aborted) {
      runAbortAlgorithm(algo, s.reason);
      return algo;
    }
    if (s.algorithms === null) {
      s.algorithms = new Set();
    }
    setAdd(s.algorithms, algo);
    retainDependent(signal, s);
    return algo;
  }

  function signalRemove(signal, algo) {
    const s = signalState(signal);
    if (s.algorithms !== null) {
      setDelete(s.algorithms, algo);
    }
  }

  function runAbortAlgorithm(algo, reason) {
    try {
      algo(reason);
    } catch (error) {
      reportException(error);
    }
  }

  function defaultAbortReason() {
    return new (domExceptionApi().DOMException)("The signal has been aborted", "AbortError");
  }

  function signalAbort(signal, reason = undefined) {
    const s = signalState(signal);
    if (s.aborted) {
      return;
    }
    s.aborted = true;
    s.reason = reason === undefined ? defaultAbortReason() : reason;
    // Every dependent takes the reason before any listener runs, so a
    // listener of this signal sees its dependents aborted already.
    const dependents = [];
    if (s.dependents !== null) {
      for (const ref of s.dependents) {
        const dependent = ref.deref();
        const d =
          dependent === undefined ? undefined : signalStates.get(dependent);
        if (d !== undefined && !d.aborted) {
          d.aborted = true;
          d.reason = s.reason;
          dependents.push(dependent);
        }
      }
      s.dependents = null;
      s.strongDependents = null;
    }
    runAbortSteps(signal, s);
    for (const dependent of dependents) {
      runAbortSteps(dependent, signalStates.get(dependent));
    }
  }

  function runAbortSteps(signal, s) {
    const algorithms = s.algorithms;
    s.algorithms = null;
    if (algorithms !== null) {
      for (const algo of algorithms) {
        runAbortAlgorithm(algo, s.reason);
      }
    }
    const event = new (eventsApi().Event)("abort");
    eventState(event).trusted = true;
    dispatchInternal(signal, event);
    // Aborted for good: the sources need not keep it any longer.
    s.sources = null;
  }

  function signalFollow(following, parent) {
    const f = signalState(following);
    if (f.aborted) {
      return;
    }
    f.followed = true;
    const p = signalState(parent);
    if (p.aborted) {
      signalAbort(following, p.reason);
      return;
    }
    const ref = new WeakRef(following);
    signalAdd(parent, (reason) => {
      const target = ref.deref();
      if (target !== undefined) {
        signalAbort(target, reason);
      }
    });
  }

  // signalMayAbort(signal): whether signal could ever abort: aborted
  // already, following another, or dependent on others (a signal made by
  // newAbortSignal and left alone never does: fetch then needs no way to
  // cancel its request before the response's head).
  function signalMayAbort(signal) {
    const s = signalState(signal);
    return s.aborted || s.followed === true || s.sources !== null;
  }

  // Sources hold a dependent strongly once it has listeners or algorithms
  // (anything that could observe its abort).
  function retainDependent(signal, s) {
    if (s.sources === null || s.retained) {
      return;
    }
    s.retained = true;
    for (const ref of s.sources) {
      const source = ref.deref();
      const src = source === undefined ? undefined : signalStates.get(source);
      if (src !== undefined && !src.aborted) {
        if (src.strongDependents === null) {
          src.strongDependents = new Set();
        }
        setAdd(src.strongDependents, signal);
      }
    }
  }

  function addDependent(source, src, dependent) {
    if (src.dependents === null) {
      src.dependents = new Set();
      src.pruneAt = 16;
    }
    setAdd(src.dependents, new WeakRef(dependent));
    if (src.dependents.size >= src.pruneAt) {
      for (const ref of src.dependents) {
        if (ref.deref() === undefined) {
          setDelete(src.dependents, ref);
        }
      }
      src.pruneAt = mathMax(16, src.dependents.size * 2);
    }
  }

  function dependentSignal(signals) {
    const result = newAbortSignal();
    const r = signalStates.get(result);
    for (const signal of signals) {
      const s = signalStates.get(signal);
      if (s.aborted) {
        r.aborted = true;
        r.reason = s.reason;
        return result;
      }
    }
    r.dependent = true;
    r.sources = new Set();
    const seen = new Set();
    const addSource = (source, src) => {
      if (setHas(seen, source)) {
        return;
      }
      setAdd(seen, source);
      setAdd(r.sources, new WeakRef(source));
      addDependent(source, src, result);
    };
    for (const signal of signals) {
      const s = signalStates.get(signal);
      if (!s.dependent) {
        addSource(signal, s);
        continue;
      }
      if (s.sources === null) {
        continue;
      }
      for (const ref of s.sources) {
        const source = ref.deref();
        const src = source === undefined ? undefined : signalStates.get(source);
        if (src !== undefined && !src.aborted) {
          addSource(source, src);
        }
      }
    }
    return result;
  }

  // The two classes are made the first time a context needs them
  // (abortApi(): the globals, newAbortSignal, the streams), not when the
  // prelude runs, so a new context deserializes none of their objects
  // (docs/architecture.md, "Where the time goes"); the hooks above work
  // on the states in signalStates and need no class until a signal is
  // made.
  let abortExports;

  function abortApi() {
    if (abortExports === undefined) {
      abortExports = abortModule();
    }
    return abortExports;
  }

  function abortModule() {
    class AbortSignal extends EventTarget {
      constructor(key = undefined) {
        if (key !== illegal) {
          throw new TypeError("Illegal constructor");
        }
        super();
        const s = {
          aborted: false,
          reason: undefined,
          algorithms: null, // Set of abort algorithms, or null
          dependent: false,
          sources: null, // Set of WeakRefs to source signals, or null
          dependents: null, // Set of WeakRefs to dependent signals, or null
          strongDependents: null, // dependents with listeners or algorithms
          pruneAt: 16,
          retained: false,
          timer: 0, // AbortSignal.timeout's pending timer
        };
        signalStates.set(this, s);
      }

      static any(signals) {
        if (arguments.length === 0) {
          throw new TypeError(
            "Failed to execute 'AbortSignal.any': 1 argument required, but " +
              "only 0 present",
          );
        }
        if (
          signals === null ||
          (typeof signals !== "object" && typeof signals !== "function") ||
          typeof signals[SymbolIterator] !== "function"
        ) {
          throw new TypeError(
            "Failed to execute 'AbortSignal.any': Argument 1 can not be " +
              "converted to sequence.",
          );
        }
        const list = [...signals];
        for (let i = 0; i < list.length; i++) {
          if (!isAbortSignal(list[i])) {
            throw new TypeError(
              "Failed to execute 'AbortSignal.any': Argument 1, index " +
                `${i} is not of type AbortSignal`,
            );
          }
        }
        return dependentSignal(list);
      }

      static abort(reason = undefined) {
        const signal = newAbortSignal();
        const s = signalStates.get(signal);
        s.aborted = true;
        s.reason = reason === undefined ? defaultAbortReason() : reason;
        return signal;
      }

      static timeout(milliseconds) {
        if (arguments.length === 0) {
          throw new TypeError(
            "Failed to execute 'AbortSignal.timeout': 1 argument required, " +
              "but only 0 present",
          );
        }
        // WebIDL [EnforceRange] unsigned long long
        const ms = Number(milliseconds);
        if (
          !Number.isFinite(ms) ||
          Math.trunc(ms) < 0 ||
          Math.trunc(ms) > Number.MAX_SAFE_INTEGER
        ) {
          throw new TypeError(
            "Failed to execute 'AbortSignal.timeout': Argument 1 is outside " +
              "the accepted range of 0 to 9007199254740991, inclusive",
          );
        }
        const signal = newAbortSignal();
        // The timer holds the signal until it fires. It keeps the event loop
        // alive only while the signal has "abort" listeners (as in Deno: an
        // operation that follows the signal holds the loop by itself).
        const s = signalStates.get(signal);
        const id = setTimeout(() => {
          s.timer = 0;
          signalAbort(
            signal,
            new (domExceptionApi().DOMException)(
              "The operation was aborted due to timeout",
              "TimeoutError",
            ),
          );
        }, Math.trunc(ms));
        unrefTimer(id);
        s.timer = id;
        return signal;
      }

      get aborted() {
        return signalState(this).aborted;
      }

      get reason() {
        return signalState(this).reason;
      }

      throwIfAborted() {
        const s = signalState(this);
        if (s.aborted) {
          throw s.reason;
        }
      }

      // A dependent signal someone listens to is held by its sources; a
      // timeout signal someone listens to keeps the event loop alive.
      addEventListener(type, callback, options = undefined) {
        const s = signalState(this);
        fnApply(EventTarget.prototype.addEventListener, this, arguments);
        listenersChanged(this, s);
      }

      removeEventListener(type, callback, options = undefined) {
        const s = signalState(this);
        fnApply(EventTarget.prototype.removeEventListener, this, arguments);
        listenersChanged(this, s);
      }
    }
    defineEventHandler(
      AbortSignal.prototype,
      "abort",
      (self) => signalState(self),
      listenersChanged,
    );

    function listenersChanged(signal, s) {
      const listening = listenerCount(signal, "abort") > 0;
      if (listening) {
        retainDependent(signal, s);
      }
      if (s.timer !== 0) {
        if (listening) {
          refTimer(s.timer);
        } else {
          unrefTimer(s.timer);
        }
      }
    }
    defineProperty(AbortSignal.prototype, SymbolToStringTag, {
      value: "AbortSignal",
      configurable: true,
    });
    inspectFields(AbortSignal.prototype, ["aborted", "reason", "onabort"]);

    class AbortController {
      #signal = newAbortSignal();

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#signal in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get signal() {
        return AbortController.#check(this).#signal;
      }

      abort(reason = undefined) {
        signalAbort(AbortController.#check(this).#signal, reason);
      }
    }
    defineProperty(AbortController.prototype, SymbolToStringTag, {
      value: "AbortController",
      configurable: true,
    });
    inspectFields(AbortController.prototype, ["signal"]);

    return { AbortController, AbortSignal };
  }

  defineLazy(globalThis, ["AbortController", "AbortSignal"], abortApi);

