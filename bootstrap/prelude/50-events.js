  // -------------------------------------------------------------------------
  // Event, CustomEvent, EventTarget.
  //
  // There is no tree: an event's path is its target alone, so dispatch runs
  // the target's capture listeners, then its other listeners (both in the
  // AT_TARGET phase). A listener's exception is reported, not thrown, and
  // does not stop the other listeners.

  //
  // The event classes are made the first time a context needs one
  // (eventsApi(): their globals, an abort, reportError, the runtime's
  // events), not when the prelude runs, so a new context deserializes
  // none of their objects (docs/architecture.md, "Where the time goes").
  // EventTarget is not: globalThis is one (a Window).

  // (value) => the internal state of an Event, or undefined; set by
  // Event's static block (no Event exists before that)
  let eventState = (value) => undefined;
  let eventsExports;

  function eventsApi() {
    if (eventsExports === undefined) {
      eventsExports = eventsModule();
    }
    return eventsExports;
  }

  function eventsModule() {
    class Event {
      #s;

      constructor(type, eventInitDict = undefined) {
        if (arguments.length === 0) {
          throw new TypeError(
            "Failed to construct 'Event': 1 argument required, but only 0 " +
              "present.",
          );
        }
        const init = eventInitDict ?? {};
        this.#s = {
          type: `${type}`,
          bubbles: !!init.bubbles,
          cancelable: !!init.cancelable,
          composed: !!init.composed,
          canceled: false,
          target: null,
          currentTarget: null,
          phase: 0,
          stop: false,
          stopImmediate: false,
          dispatching: false,
          passive: false,
          trusted: false, // set for the events the platform fires (abort)
          timeStamp: now(),
        };
      }

      static {
        eventState = (value) =>
          value !== null && typeof value === "object" && #s in value
            ? value.#s
            : undefined;
      }

      static #state(self) {
        const s = eventState(self);
        if (s === undefined) {
          throw new TypeError("Illegal invocation");
        }
        return s;
      }

      get type() {
        return Event.#state(this).type;
      }

      get target() {
        return Event.#state(this).target;
      }

      get srcElement() {
        return Event.#state(this).target;
      }

      get currentTarget() {
        return Event.#state(this).currentTarget;
      }

      get eventPhase() {
        return Event.#state(this).phase;
      }

      get bubbles() {
        return Event.#state(this).bubbles;
      }

      get cancelable() {
        return Event.#state(this).cancelable;
      }

      get composed() {
        return Event.#state(this).composed;
      }

      get defaultPrevented() {
        return Event.#state(this).canceled;
      }

      get returnValue() {
        return !Event.#state(this).canceled;
      }

      set returnValue(value) {
        if (!value) {
          this.preventDefault();
        }
      }

      get cancelBubble() {
        return Event.#state(this).stop;
      }

      set cancelBubble(value) {
        if (value) {
          Event.#state(this).stop = true;
        }
      }

      get timeStamp() {
        return Event.#state(this).timeStamp;
      }

      get isTrusted() {
        return Event.#state(this).trusted;
      }

      composedPath() {
        const s = Event.#state(this);
        return s.dispatching ? [s.currentTarget] : [];
      }

      stopPropagation() {
        Event.#state(this).stop = true;
      }

      stopImmediatePropagation() {
        const s = Event.#state(this);
        s.stop = true;
        s.stopImmediate = true;
      }

      preventDefault() {
        const s = Event.#state(this);
        if (s.cancelable && !s.passive) {
          s.canceled = true;
        }
      }

      initEvent(type, bubbles = false, cancelable = false) {
        const s = Event.#state(this);
        if (s.dispatching) {
          return;
        }
        s.type = `${type}`;
        s.bubbles = !!bubbles;
        s.cancelable = !!cancelable;
        s.canceled = false;
        s.stop = false;
        s.stopImmediate = false;
        s.target = null;
      }
    }
    defineConstants([Event, Event.prototype], {
      NONE: 0,
      CAPTURING_PHASE: 1,
      AT_TARGET: 2,
      BUBBLING_PHASE: 3,
    });
    const eventFields = [
      "bubbles",
      "cancelable",
      "composed",
      "currentTarget",
      "defaultPrevented",
      "eventPhase",
      "srcElement",
      "target",
      "returnValue",
      "timeStamp",
      "type",
    ];
    inspectFields(Event.prototype, eventFields);

    class CustomEvent extends Event {
      #detail;

      constructor(type, eventInitDict = undefined) {
        if (arguments.length === 0) {
          throw new TypeError(
            "Failed to construct 'CustomEvent': 1 argument required, but " +
              "only 0 present.",
          );
        }
        super(type, eventInitDict);
        this.#detail = eventInitDict?.detail ?? null;
      }

      get detail() {
        if (!(#detail in this)) {
          throw new TypeError("Illegal invocation");
        }
        return this.#detail;
      }
    }
    inspectFields(CustomEvent.prototype, [...eventFields, "detail"]);

    // ErrorEvent: what reportError and a listener's exception dispatch on
    // globalThis (35-microtasks.js, reportUncaught).
    class ErrorEvent extends Event {
      #message;
      #filename;
      #lineno;
      #colno;
      #error;

      constructor(type, eventInitDict = undefined) {
        if (arguments.length === 0) {
          throw new TypeError(
            "Failed to construct 'ErrorEvent': 1 argument required, but " +
              "only 0 present.",
          );
        }
        super(type, eventInitDict);
        const init = eventInitDict ?? {};
        this.#message = init.message === undefined ? "" : `${init.message}`;
        this.#filename = init.filename === undefined ? "" : `${init.filename}`;
        this.#lineno = init.lineno === undefined ? 0 : toLong(init.lineno) >>> 0;
        this.#colno = init.colno === undefined ? 0 : toLong(init.colno) >>> 0;
        this.#error = init.error;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#message in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get message() {
        return ErrorEvent.#check(this).#message;
      }

      get filename() {
        return ErrorEvent.#check(this).#filename;
      }

      get lineno() {
        return ErrorEvent.#check(this).#lineno;
      }

      get colno() {
        return ErrorEvent.#check(this).#colno;
      }

      get error() {
        return ErrorEvent.#check(this).#error;
      }
    }
    inspectFields(ErrorEvent.prototype, [
      ...eventFields,
      "message",
      "filename",
      "lineno",
      "colno",
      "error",
    ]);

    // PromiseRejectionEvent (HTML): what the runtime dispatches on
    // globalThis for a promise rejected with no handler at the end of a tick
    // ("unhandledrejection", cancelable) and for one that got a handler
    // after that ("rejectionhandled"): 99-globals.js, unhandledRejections.
    // The init dictionary and its promise are required, as WebIDL says (Deno
    // takes neither and stores what it gets).
    class PromiseRejectionEvent extends Event {
      #promise;
      #reason;

      constructor(type, eventInitDict) {
        const prefix = "Failed to construct 'PromiseRejectionEvent': ";
        if (arguments.length < 2) {
          throw new TypeError(
            `${prefix}2 arguments required, but only ${arguments.length} ` +
              "present.",
          );
        }
        const init = eventInitDict;
        if (init !== undefined && init !== null && typeof init !== "object") {
          throw new TypeError(
            `${prefix}The provided value is not of type ` +
              "'PromiseRejectionEventInit'.",
          );
        }
        super(type, init);
        const promise = init?.promise;
        const member =
          `${prefix}Failed to read the 'promise' property from ` +
          "'PromiseRejectionEventInit': ";
        if (promise === undefined) {
          throw new TypeError(`${member}Required member is undefined.`);
        }
        if (
          promise === null ||
          (typeof promise !== "object" && typeof promise !== "function")
        ) {
          throw new TypeError(
            `${member}The provided value is not of type 'object'.`,
          );
        }
        this.#promise = promise;
        this.#reason = init.reason;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#promise in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get promise() {
        return PromiseRejectionEvent.#check(this).#promise;
      }

      get reason() {
        return PromiseRejectionEvent.#check(this).#reason;
      }
    }
    inspectFields(PromiseRejectionEvent.prototype, [
      ...eventFields,
      "promise",
      "reason",
    ]);
    defineProperty(PromiseRejectionEvent.prototype, SymbolToStringTag, {
      value: "PromiseRejectionEvent",
      configurable: true,
    });


    // WebIDL's class strings ([object Name]), as Deno has them.
    for (const klass of [Event, CustomEvent, ErrorEvent]) {
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: klass.name,
        configurable: true,
      });
    }
    return { Event, CustomEvent, ErrorEvent, PromiseRejectionEvent };
  }

  // target -> Map(type -> listener records). A WeakMap rather than a
  // private field so that globalThis, which no constructor ran on, can be
  // an EventTarget too.
  const eventTargets = new WeakMap();
  let dispatchDepth = 0;
  let drainAfterListeners = false; // set by hooks.dispatch

  function targetOf(self) {
    const target = self === undefined || self === null ? globalThis : self;
    const listeners =
      (typeof target === "object" || typeof target === "function") &&
      eventTargets.get(target);
    if (!listeners) {
      throw new TypeError("Illegal invocation");
    }
    return { target, listeners };
  }

  function captureOption(options) {
    if (options !== null && typeof options === "object") {
      return !!options.capture;
    }
    return !!options;
  }

  function removeListener(listeners, type, record) {
    record.removed = true;
    const list = listeners.get(type);
    const i = list === undefined ? -1 : list.indexOf(record);
    if (i !== -1) {
      list.splice(i, 1);
    }
  }

  function addListener(listeners, type, callback, capture, once) {
    let list = listeners.get(type);
    if (list === undefined) {
      list = [];
      listeners.set(type, list);
    }
    const record = { callback, capture, once, passive: false, removed: false };
    list.push(record);
    return record;
  }

  // The number of listeners target has for type (an EventTarget).
  function listenerCount(target, type) {
    const list = eventTargets.get(target)?.get(type);
    return list === undefined ? 0 : list.length;
  }

  // Event handler attributes (onabort, ...), enumerable accessors on proto:
  // setting a handler the first time adds a listener that calls whatever
  // the handler is when the event comes (a false return value cancels the
  // event); setting null removes it, so a later handler goes last, as the
  // HTML standard has it. check(self) throws for a wrong receiver, else
  // returns what changed(target, it) is called with after a listener came
  // or went (optional).
  const eventHandlers = new WeakMap(); // target -> Map(type -> handler)

  function defineEventHandler(proto, type, check, changed = undefined) {
    defineProperty(proto, `on${type}`, {
      get() {
        const handlers = eventHandlers.get(this);
        const h = handlers === undefined ? undefined : mapGet(handlers, type);
        return h === undefined ? null : h.value;
      },
      set(value) {
        const state = check(this);
        const { target, listeners } = targetOf(this);
        let handlers = eventHandlers.get(target);
        if (handlers === undefined) {
          handlers = new Map();
          eventHandlers.set(target, handlers);
        }
        const callable =
          typeof value === "function" ||
          (value !== null && typeof value === "object");
        let h = mapGet(handlers, type);
        if (!callable) {
          if (h !== undefined) {
            removeListener(listeners, type, h.record);
            mapDelete(handlers, type);
            changed?.(target, state);
          }
          return;
        }
        if (h !== undefined) {
          h.value = value;
          return;
        }
        h = { value, record: null };
        const handler = h;
        h.record = addListener(
          listeners,
          type,
          function (event) {
            if (typeof handler.value === "function") {
              const result = fnCall(handler.value, this, event);
              if (result === false) {
                event.preventDefault();
              }
            }
          },
          false,
          false,
        );
        mapSet(handlers, type, h);
        changed?.(target, state);
      },
      enumerable: true,
      configurable: true,
    });
  }

  function dispatchInternal(target, event) {
    const s = eventState(event);
    if (s.dispatching) {
      throw new (domExceptionApi().DOMException)(
        "The event is already being dispatched.",
        "InvalidStateError",
      );
    }
    const drain = drainAfterListeners && dispatchDepth === 0;
    s.dispatching = true;
    s.target = target;
    s.currentTarget = target;
    s.phase = 2; // AT_TARGET
    dispatchDepth++;
    try {
      const listeners = eventTargets.get(target);
      const list = listeners.get(s.type);
      if (list !== undefined && list.length > 0) {
        const snapshot = list.slice();
        for (const capture of [true, false]) {
          if (s.stop) {
            break;
          }
          for (const record of snapshot) {
            if (record.removed || record.capture !== capture) {
              continue;
            }
            invokeListener(listeners, s, event, record);
            if (drain) {
              runMicrotasks();
            }
            if (s.stopImmediate) {
              break;
            }
          }
        }
      }
    } finally {
      dispatchDepth--;
      s.dispatching = false;
      s.phase = 0;
      s.currentTarget = null;
      s.stop = false;
      s.stopImmediate = false;
    }
    return !s.canceled;
  }

  function invokeListener(listeners, s, event, record) {
    if (record.once) {
      removeListener(listeners, s.type, record);
    }
    s.passive = record.passive;
    try {
      const callback = record.callback;
      if (typeof callback === "function") {
        fnCall(callback, s.currentTarget, event);
      } else {
        const handleEvent = callback.handleEvent;
        if (typeof handleEvent !== "function") {
          throw new TypeError("'handleEvent' property is not a function");
        }
        fnCall(handleEvent, callback, event);
      }
    } catch (error) {
      reportUncaught(error);
    } finally {
      s.passive = false;
    }
  }

  class EventTarget {
    constructor() {
      eventTargets.set(this, new Map());
    }

    addEventListener(type, callback, options = undefined) {
      const { listeners } = targetOf(this);
      if (arguments.length < 2) {
        throw new TypeError(
          "Failed to execute 'addEventListener': 2 arguments required.",
        );
      }
      if (callback === null || callback === undefined) {
        return;
      }
      if (typeof callback !== "function" && typeof callback !== "object") {
        throw new TypeError(
          "Failed to execute 'addEventListener': The callback provided as " +
            "parameter 2 is not an object.",
        );
      }
      type = `${type}`;
      const capture = captureOption(options);
      let once = false;
      let passive = false;
      let signal;
      if (options !== null && typeof options === "object") {
        once = !!options.once;
        passive = !!options.passive;
        signal = options.signal ?? undefined;
      }
      if (signal !== undefined && !isAbortSignal(signal)) {
        throw new TypeError(
          "Failed to execute 'addEventListener' on 'EventTarget': member " +
            "signal is not of type AbortSignal.",
        );
      }
      if (signal !== undefined && signalAborted(signal)) {
        return;
      }
      let list = listeners.get(type);
      if (list !== undefined) {
        for (const record of list) {
          if (record.callback === callback && record.capture === capture) {
            return;
          }
        }
      }
      const record = addListener(listeners, type, callback, capture, once);
      record.passive = passive;
      if (signal !== undefined) {
        signalAdd(signal, () => removeListener(listeners, type, record));
      }
    }

    removeEventListener(type, callback, options = undefined) {
      const { listeners } = targetOf(this);
      if (arguments.length < 2) {
        throw new TypeError(
          "Failed to execute 'removeEventListener': 2 arguments required.",
        );
      }
      type = `${type}`;
      const capture = captureOption(options);
      const list = listeners.get(type);
      if (list === undefined) {
        return;
      }
      for (const record of list) {
        if (record.callback === callback && record.capture === capture) {
          removeListener(listeners, type, record);
          return;
        }
      }
    }

    dispatchEvent(event) {
      const { target } = targetOf(this);
      if (eventState(event) === undefined) {
        throw new TypeError(
          "Failed to execute 'dispatchEvent': Argument 1 is not an Event.",
        );
      }
      return dispatchInternal(target, event);
    }
  }

  // globalThis is a Window, which is an EventTarget, as in Deno.
  class Window extends EventTarget {
    constructor() {
      throw new TypeError("Illegal constructor");
    }
  }
  defineProperty(Window.prototype, SymbolToStringTag, {
    value: "Window",
    configurable: true,
  });
  setPrototypeOf(globalThis, Window.prototype);
  // by the global object's identity, which a context from the startup
  // snapshot does not keep (its global proxy is new): set again then
  const globalListeners = new Map();
  eventTargets.set(globalThis, globalListeners);
  late(() => {
    eventTargets.set(globalThis, globalListeners);
  });

  // WebIDL's class strings ([object Name]), as Deno has them.
  defineProperty(EventTarget.prototype, SymbolToStringTag, {
    value: "EventTarget",
    configurable: true,
  });

  // ErrorEvent, PromiseRejectionEvent and onerror are new with issue 13:
  // installed here rather than in 99-globals.js's list.
  defineLazy(globalThis, ["ErrorEvent", "PromiseRejectionEvent"], eventsApi);
  defineHidden(globalThis, { onerror: null });
