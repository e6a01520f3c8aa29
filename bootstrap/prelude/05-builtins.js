  // -------------------------------------------------------------------------
  // Captured builtins.

  const uncurry = (fn) => Function.prototype.call.bind(fn);
  const {
    defineProperty,
    freeze,
    getOwnPropertyDescriptor,
    getOwnPropertySymbols,
    getPrototypeOf,
    keys: objectKeys,
    setPrototypeOf,
  } = Object;
  const objectIs = Object.is;
  // not Object.hasOwn: V8 10.2 installs it (a "harmony" feature) only
  // after a context starts from the startup snapshot, in which the prelude
  // ran without it (late(), below)
  const hasOwn = uncurry(Object.prototype.hasOwnProperty);
  const ownKeys = Reflect.ownKeys;
  const isArray = Array.isArray;
  const jsonStringify = JSON.stringify;
  const mathMax = Math.max;
  const mathMin = Math.min;
  const getter = (proto, name) =>
    uncurry(getOwnPropertyDescriptor(proto, name).get);

  const objectToString = uncurry(Object.prototype.toString);
  const propIsEnumerable = uncurry(Object.prototype.propertyIsEnumerable);
  const fnToString = uncurry(Function.prototype.toString);
  const fnApply = uncurry(Function.prototype.apply);
  const fnCall = uncurry(Function.prototype.call);
  const errorToString = uncurry(Error.prototype.toString);
  const symbolToString = uncurry(Symbol.prototype.toString);
  const numberValueOf = uncurry(Number.prototype.valueOf);
  const stringValueOf = uncurry(String.prototype.valueOf);
  const booleanValueOf = uncurry(Boolean.prototype.valueOf);
  const symbolValueOf = uncurry(Symbol.prototype.valueOf);
  const bigintValueOf = uncurry(BigInt.prototype.valueOf);
  const dateGetTime = uncurry(Date.prototype.getTime);
  const dateToISOString = uncurry(Date.prototype.toISOString);
  const dateToString = uncurry(Date.prototype.toString);
  const regexpToString = uncurry(RegExp.prototype.toString);
  const regexpSource = getter(RegExp.prototype, "source");
  const mapSize = getter(Map.prototype, "size");
  const mapEntries = uncurry(Map.prototype.entries);
  const setSize = getter(Set.prototype, "size");
  const setValues = uncurry(Set.prototype.values);
  const weakMapHas = uncurry(WeakMap.prototype.has);
  const weakSetHas = uncurry(WeakSet.prototype.has);
  const arrayBufferByteLength = getter(ArrayBuffer.prototype, "byteLength");
  // What the prelude does with the globals V8 installs in a context only
  // after the startup snapshot's context is deserialized
  // (SharedArrayBuffer, Atomics, WebAssembly: the snapshot, in which the
  // prelude ran, is made without them), and what is keyed by the global
  // object's identity (a context from the snapshot gets a new global
  // proxy, whose identity hash is not the one the prelude saw): functions
  // given to late(), run
  // at the prelude's end (99-globals.js) and again, by the shim, when a
  // context starts from the snapshot (the hooks' snapshotStarted). Each
  // does nothing when its globals are missing.
  const lateInstalls = [];
  const late = (fn) => {
    lateInstalls[lateInstalls.length] = fn;
  };
  // set by a late() install (25-timers.js)
  let sharedArrayBufferByteLength;
  const dataViewByteLength = getter(DataView.prototype, "byteLength");
  const TypedArray = getPrototypeOf(Uint8Array);
  const typedArrayTag = getter(TypedArray.prototype, Symbol.toStringTag);
  const typedArrayLength = getter(TypedArray.prototype, "length");
  const iteratorNext = uncurry(getPrototypeOf(new Map().entries()).next);
  const setIteratorNext = uncurry(getPrototypeOf(new Set().values()).next);
  const captureStackTrace = Error.captureStackTrace;
  const SymbolIterator = Symbol.iterator;
  const SymbolToStringTag = Symbol.toStringTag;
  const PromiseCtor = Promise;
  const promiseReject = Promise.reject.bind(Promise);
  const mapGet = uncurry(Map.prototype.get);
  const mapSet = uncurry(Map.prototype.set);
  const mapHas = uncurry(Map.prototype.has);
  const mapDelete = uncurry(Map.prototype.delete);
  const setHas = uncurry(Set.prototype.has);
  const setAdd = uncurry(Set.prototype.add);
  const setDelete = uncurry(Set.prototype.delete);
  const isView = ArrayBuffer.isView;
  const arrayBufferSlice = uncurry(ArrayBuffer.prototype.slice);
  const typedArrayBuffer = getter(TypedArray.prototype, "buffer");
  const typedArrayByteOffset = getter(TypedArray.prototype, "byteOffset");
  const typedArrayByteLength = getter(TypedArray.prototype, "byteLength");
  const typedArraySet = uncurry(TypedArray.prototype.set);
  const dataViewBuffer = getter(DataView.prototype, "buffer");
  const dataViewByteOffset = getter(DataView.prototype, "byteOffset");
  const customInspect = Symbol.for("Deno.customInspect");
  const nodeCustomInspect = Symbol.for("nodejs.util.inspect.custom");

  // passes(check, v): whether a brand-checking builtin accepts v.
  function passes(check, value) {
    try {
      check(value);
      return true;
    } catch {
      return false;
    }
  }

  // Defines non-enumerable, writable, configurable properties, the way web
  // globals and class members are defined.
  function defineHidden(target, props) {
    for (const key of ownKeys(props)) {
      defineProperty(target, key, {
        value: props[key],
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
  }

  // Defines enumerable read-only constants (Event.AT_TARGET and friends).
  function defineConstants(targets, constants) {
    for (const target of targets) {
      for (const key of objectKeys(constants)) {
        defineProperty(target, key, {
          value: constants[key],
          writable: false,
          enumerable: true,
          configurable: false,
        });
      }
    }
  }

  // Reports an exception the way an uncaught one is reported, without
  // unwinding the caller: the native microtask queue rethrows it and the
  // runtime turns it into "error: Uncaught ...".
  function reportException(error) {
    enqueueMicrotask(() => {
      throw error;
    });
  }

  // WebIDL "long": what setTimeout's delay and clearTimeout's id become.
  function toLong(value) {
    let x = Number(value);
    if (!Number.isFinite(x)) {
      return 0;
    }
    x = Math.trunc(x) % 4294967296;
    if (x < 0) {
      x += 4294967296;
    }
    return x >= 2147483648 ? x - 4294967296 : x;
  }

  // Installs each name as a hidden, writable, configurable data property
  // of target whose value is load()[name], taken when it is first read:
  // the native lazyData, V8's lazy data property, which reads as a plain
  // data property (its descriptor too) and becomes one on first read; an
  // assignment or a delete before then is one as on any data property.
  // The properties hold the index of their loader in lazyLoaders, which
  // the native calls through lazyLoad.
  const lazyLoaders = [];

  function lazyLoad(index) {
    return lazyLoaders[index]();
  }
  setLazyLoader(lazyLoad);

  function defineLazy(target, names, load) {
    let index = lazyLoaders.indexOf(load);
    if (index === -1) {
      index = lazyLoaders.push(load) - 1;
    }
    for (const name of names) {
      lazyData(target, name, index);
    }
  }
