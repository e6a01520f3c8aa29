  // -------------------------------------------------------------------------
  // Event, CustomEvent, EventTarget.
  //
  // There is no tree: an event's path is its target alone, so dispatch runs
  // the target's capture listeners, then its other listeners (both in the
  // AT_TARGET phase). A listener's exception is reported, not thrown, and
  // does not stop the other listeners.

  let eventState; // (value) => the internal state of an Event, or undefined

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
      Event.#state(this);
      return false;
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
  inspectFields(Event.prototype, [
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
  ]);

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

  function dispatchInternal(target, event) {
    const s = eventState(event);
    if (s.dispatching) {
      throw new DOMException(
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
      reportException(error);
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
      if (signal !== undefined && signal.aborted) {
        return;
      }
      let list = listeners.get(type);
      if (list === undefined) {
        list = [];
        listeners.set(type, list);
      }
      for (const record of list) {
        if (record.callback === callback && record.capture === capture) {
          return;
        }
      }
      const record = { callback, capture, once, passive, removed: false };
      list.push(record);
      const onAbort = signal?.addEventListener;
      if (typeof onAbort === "function") {
        fnCall(
          onAbort,
          signal,
          "abort",
          () => removeListener(listeners, type, record),
          { once: true },
        );
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
  eventTargets.set(globalThis, new Map());

