// prelude.js: the JavaScript half of every isopool context.
//
// The runtime runs this classic script once in each new V8 context, after
// the shim has put its native functions on globalThis.__iso. The script
// takes those natives, removes __iso from the global object, installs the
// web-like globals Deno 1.x offers (console, timers, queueMicrotask,
// structuredClone, TextEncoder/TextDecoder, atob/btoa, DOMException,
// Event/EventTarget, performance, crypto) plus the Isopool namespace (the
// op bus as Isopool.core, like Deno.core) and evaluates to the hooks object
// the runtime calls: { fireTimers(), dispatch(type), resolveOps(flat) }.
// bootstrap/README.md is the contract with the shim and the runtime; keep
// the two in step.
//
// Everything lives inside one strict IIFE so that nothing but the globals
// listed at the bottom leaks out, and the IIFE's return value is the
// script's completion value. Builtins the globals depend on are captured up
// front, so a script that later patches Object.keys or Map.prototype cannot
// break console.log; prototype methods of plain arrays and strings are not
// captured (that would cost readability for little gain).
(function bootstrap(iso) {
  "use strict";

  if (iso === null || typeof iso !== "object") {
    throw new Error("prelude.js: globalThis.__iso is missing");
  }
  Reflect.deleteProperty(globalThis, "__iso");

  // Natives, captured once: user code never sees __iso.
  const print = iso.print;
  const timerArm = iso.timerArm;
  const now = iso.now;
  const timeOrigin = Number(iso.timeOrigin);
  const encodeUtf8 = iso.encodeUtf8;
  const decodeUtf8 = iso.decodeUtf8;
  const nativeClone = iso.structuredClone;
  const enqueueMicrotask = iso.queueMicrotask;
  const runMicrotasks = iso.runMicrotasks;
  const promiseState = iso.promiseState;
  const promiseResult = iso.promiseResult;
  // The op bus. A shim without ops (older builds, tests) gives an empty
  // registry rather than a prelude that cannot start.
  const nativeOps = iso.ops ?? {};
  const nativeOpKinds = iso.opKinds ?? {};
  const setOpErrors = iso.setOpErrors;
  const opUnref = iso.opUnref;
  const opRef = iso.opRef;

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
  const hasOwn = Object.hasOwn;
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
  const sharedArrayBufferByteLength =
    typeof SharedArrayBuffer === "function"
      ? getter(SharedArrayBuffer.prototype, "byteLength")
      : undefined;
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

  // -------------------------------------------------------------------------
  // DOMException.

  const domExceptionCodes = {
    IndexSizeError: 1,
    HierarchyRequestError: 3,
    WrongDocumentError: 4,
    InvalidCharacterError: 5,
    NoModificationAllowedError: 7,
    NotFoundError: 8,
    NotSupportedError: 9,
    InUseAttributeError: 10,
    InvalidStateError: 11,
    SyntaxError: 12,
    InvalidModificationError: 13,
    NamespaceError: 14,
    InvalidAccessError: 15,
    TypeMismatchError: 17,
    SecurityError: 18,
    NetworkError: 19,
    AbortError: 20,
    URLMismatchError: 21,
    QuotaExceededError: 22,
    TimeoutError: 23,
    InvalidNodeTypeError: 24,
    DataCloneError: 25,
  };

  class DOMException extends Error {
    #message;
    #name;

    constructor(message = "", options = "Error") {
      super();
      this.#message = `${message}`;
      if (options !== null && typeof options === "object") {
        this.#name = options.name === undefined ? "Error" : `${options.name}`;
        if ("cause" in options) {
          defineHidden(this, { cause: options.cause });
        }
      } else {
        this.#name = `${options}`;
      }
      // Capture again now that name and message are known, so the stack
      // starts with "DataCloneError: ..." and skips this constructor.
      captureStackTrace(this, new.target);
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#name in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get message() {
      return DOMException.#check(this).#message;
    }

    get name() {
      return DOMException.#check(this).#name;
    }

    get code() {
      const name = DOMException.#check(this).#name;
      return hasOwn(domExceptionCodes, name) ? domExceptionCodes[name] : 0;
    }
  }
  defineProperty(DOMException.prototype, SymbolToStringTag, {
    value: "DOMException",
    configurable: true,
  });
  defineConstants([DOMException, DOMException.prototype], {
    INDEX_SIZE_ERR: 1,
    DOMSTRING_SIZE_ERR: 2,
    HIERARCHY_REQUEST_ERR: 3,
    WRONG_DOCUMENT_ERR: 4,
    INVALID_CHARACTER_ERR: 5,
    NO_DATA_ALLOWED_ERR: 6,
    NO_MODIFICATION_ALLOWED_ERR: 7,
    NOT_FOUND_ERR: 8,
    NOT_SUPPORTED_ERR: 9,
    INUSE_ATTRIBUTE_ERR: 10,
    INVALID_STATE_ERR: 11,
    SYNTAX_ERR: 12,
    INVALID_MODIFICATION_ERR: 13,
    NAMESPACE_ERR: 14,
    INVALID_ACCESS_ERR: 15,
    VALIDATION_ERR: 16,
    TYPE_MISMATCH_ERR: 17,
    SECURITY_ERR: 18,
    NETWORK_ERR: 19,
    ABORT_ERR: 20,
    URL_MISMATCH_ERR: 21,
    QUOTA_EXCEEDED_ERR: 22,
    TIMEOUT_ERR: 23,
    INVALID_NODE_TYPE_ERR: 24,
    DATA_CLONE_ERR: 25,
  });

  // -------------------------------------------------------------------------
  // inspect(): Deno.inspect / util.inspect without colors.
  //
  // Follows the shape of Node's util.inspect (which Deno's console also
  // follows): formatValue() handles primitives, custom inspectors and
  // cycles; formatRaw() picks braces and a formatter per kind of object;
  // reduceToSingleString() decides between one line and one entry per
  // line. Strings nested in containers are quoted the way JSON quotes them.
  // Differences from Node: the line rule is plain width (Node also breaks
  // objects nesting more than three levels), and long arrays of short items
  // are not grouped into columns.

  const kObjectType = 0; // entries are "key: value"
  const kArrayType = 1; // an array element: the value alone
  const kArrayExtrasType = 2; // a non-index key of an array-like

  const defaultInspectOptions = freeze({
    depth: 4,
    lineWidth: 72,
    maxArrayLength: 100,
  });

  function inspect(value, options) {
    const ctx = {
      depth: defaultInspectOptions.depth,
      lineWidth: defaultInspectOptions.lineWidth,
      maxArrayLength: defaultInspectOptions.maxArrayLength,
      indentationLvl: 0,
      seen: [],
      circular: undefined,
    };
    if (options !== null && typeof options === "object") {
      if (options.depth !== undefined) {
        ctx.depth = options.depth === null ? Infinity : Number(options.depth);
      }
      if (typeof options.lineWidth === "number") {
        ctx.lineWidth = options.lineWidth;
      }
      const limit = options.maxArrayLength ?? options.iterableLimit;
      if (typeof limit === "number") {
        ctx.maxArrayLength = limit;
      }
    }
    return formatValue(ctx, value, 0);
  }

  const quoteString = (s) => jsonStringify(s);

  function formatNumber(n) {
    return objectIs(n, -0) ? "-0" : `${n}`;
  }

  function formatPrimitive(value) {
    switch (typeof value) {
      case "string":
        return quoteString(value);
      case "number":
        return formatNumber(value);
      case "bigint":
        return `${value}n`;
      case "symbol":
        return symbolToString(value);
      default:
        return `${value}`; // boolean, undefined
    }
  }

  function getCustomInspect(value) {
    let fn;
    let symbol = customInspect;
    try {
      fn = value[customInspect];
      if (typeof fn !== "function") {
        symbol = nodeCustomInspect;
        fn = value[nodeCustomInspect];
      }
    } catch {
      return undefined;
    }
    if (typeof fn !== "function") {
      return undefined;
    }
    // A prototype that defines an inspector is shown as a plain object:
    // its inspector expects an instance.
    try {
      const ctor = value.constructor;
      if (ctor && ctor.prototype === value) {
        return undefined;
      }
    } catch {
      return undefined;
    }
    return { symbol, fn };
  }

  function formatCustom(ctx, value, recurseTimes, custom) {
    const depth = ctx.depth - recurseTimes;
    // The result is indented here, so the inspector formats from column 0.
    const options = {
      depth,
      lineWidth: ctx.lineWidth,
      maxArrayLength: ctx.maxArrayLength,
    };
    const inner = (v, o) => inspect(v, { ...options, ...o });
    const result =
      custom.symbol === customInspect
        ? fnCall(custom.fn, value, inner, options)
        : fnCall(custom.fn, value, depth, options, inner);
    if (result === value) {
      return undefined;
    }
    if (typeof result !== "string") {
      return formatValue(ctx, result, recurseTimes);
    }
    if (ctx.indentationLvl === 0) {
      return result;
    }
    return result.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
  }

  function formatValue(ctx, value, recurseTimes) {
    if (typeof value !== "object" && typeof value !== "function") {
      return formatPrimitive(value);
    }
    if (value === null) {
      return "null";
    }
    const custom = getCustomInspect(value);
    if (custom !== undefined) {
      const out = formatCustom(ctx, value, recurseTimes, custom);
      if (out !== undefined) {
        return out;
      }
    }
    if (ctx.seen.includes(value)) {
      if (ctx.circular === undefined) {
        ctx.circular = new Map();
      }
      let index = ctx.circular.get(value);
      if (index === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      }
      return `[Circular *${index}]`;
    }
    return formatRaw(ctx, value, recurseTimes);
  }

  // The name of the nearest constructor on the prototype chain that value
  // is an instance of; null for null-prototype objects.
  function getConstructorName(value) {
    let obj = value;
    let first;
    while (obj !== null && obj !== undefined) {
      let desc;
      try {
        desc = getOwnPropertyDescriptor(obj, "constructor");
      } catch {
        desc = undefined;
      }
      if (
        desc !== undefined &&
        typeof desc.value === "function" &&
        desc.value.name !== "" &&
        isInstanceof(value, desc.value)
      ) {
        return `${desc.value.name}`;
      }
      try {
        obj = getPrototypeOf(obj);
      } catch {
        break;
      }
      if (first === undefined) {
        first = obj;
      }
    }
    if (first === null) {
      return null;
    }
    return objectToString(value).slice(8, -1);
  }

  function isInstanceof(value, ctor) {
    try {
      return value instanceof ctor;
    } catch {
      return false;
    }
  }

  function getPrefix(constructor, tag, fallback, size = "") {
    if (constructor === null) {
      if (tag !== "" && fallback !== tag) {
        return `[${fallback}${size}: null prototype] [${tag}] `;
      }
      return `[${fallback}${size}: null prototype] `;
    }
    if (tag !== "" && constructor !== tag) {
      return `${constructor}${size} [${tag}] `;
    }
    return `${constructor}${size} `;
  }

  function getKeys(value) {
    let keys;
    try {
      keys = objectKeys(value);
    } catch {
      // A module namespace with a binding in its temporal dead zone.
      keys = ownKeys(value).filter((key) => typeof key === "string");
    }
    for (const symbol of getOwnPropertySymbols(value)) {
      if (propIsEnumerable(value, symbol)) {
        keys.push(symbol);
      }
    }
    return keys;
  }

  const indexRegExp = /^(?:0|[1-9][0-9]*)$/;
  function isIndex(key) {
    return (
      typeof key === "string" && indexRegExp.test(key) && +key < 4294967295
    );
  }

  function getNonIndexKeys(value) {
    return getKeys(value).filter((key) => !isIndex(key));
  }

  const isMap = (v) => passes(mapSize, v);
  const isSet = (v) => passes(setSize, v);
  const isTypedArray = (v) => typedArrayTag(v) !== undefined;
  const isDate = (v) => passes(dateGetTime, v);
  const isRegExp = (v) =>
    v !== RegExp.prototype && passes(regexpSource, v);
  const isError = (v) =>
    objectToString(v) === "[object Error]" || isInstanceof(v, Error);
  const isArrayBuffer = (v) => passes(arrayBufferByteLength, v);
  const isSharedArrayBuffer = (v) =>
    sharedArrayBufferByteLength !== undefined &&
    passes(sharedArrayBufferByteLength, v);
  const isDataView = (v) => passes(dataViewByteLength, v);
  const isPromise = (v) => isInstanceof(v, Promise);
  const isWeakMap = (v) => passes((x) => weakMapHas(x, {}), v);
  const isWeakSet = (v) => passes((x) => weakSetHas(x, {}), v);
  const isArguments = (v) => objectToString(v) === "[object Arguments]";
  const isModuleNamespace = (v) =>
    getPrototypeOf(v) === null && objectToString(v) === "[object Module]";

  const boxedTypes = [
    ["Number", numberValueOf],
    ["String", stringValueOf],
    ["Boolean", booleanValueOf],
    ["BigInt", bigintValueOf],
    ["Symbol", symbolValueOf],
  ];
  function getBoxedType(value) {
    for (const entry of boxedTypes) {
      if (passes(entry[1], value)) {
        return entry;
      }
    }
    return undefined;
  }

  function formatRaw(ctx, value, recurseTimes) {
    let keys;
    const constructor = getConstructorName(value);
    let tag;
    try {
      tag = value[SymbolToStringTag];
    } catch {
      tag = "";
    }
    // The tag is shown only when it is not also an own enumerable property
    // (it would print twice) and differs from the constructor name.
    if (
      typeof tag !== "string" ||
      (tag !== "" && propIsEnumerable(value, SymbolToStringTag))
    ) {
      tag = "";
    }
    let base = "";
    let formatter = formatNothing;
    let braces;
    let noIterator = true;
    let extrasType = kObjectType;
    let iterator;
    try {
      iterator = value[SymbolIterator];
    } catch {
      iterator = undefined;
    }

    if (iterator || constructor === null) {
      noIterator = false;
      if (isArray(value)) {
        const prefix =
          constructor !== "Array" || tag !== ""
            ? getPrefix(constructor, tag, "Array", `(${value.length})`)
            : "";
        keys = getNonIndexKeys(value);
        braces = [`${prefix}[`, "]"];
        if (value.length === 0 && keys.length === 0) {
          return `${braces[0]}]`;
        }
        extrasType = kArrayExtrasType;
        formatter = formatArray;
      } else if (isSet(value)) {
        const size = setSize(value);
        const prefix = getPrefix(constructor, tag, "Set", `(${size})`);
        keys = getKeys(value);
        formatter = formatSet;
        if (size === 0 && keys.length === 0) {
          return `${prefix}{}`;
        }
        braces = [`${prefix}{`, "}"];
      } else if (isMap(value)) {
        const size = mapSize(value);
        const prefix = getPrefix(constructor, tag, "Map", `(${size})`);
        keys = getKeys(value);
        formatter = formatMap;
        if (size === 0 && keys.length === 0) {
          return `${prefix}{}`;
        }
        braces = [`${prefix}{`, "}"];
      } else if (isTypedArray(value)) {
        keys = getNonIndexKeys(value);
        const size = typedArrayLength(value);
        const fallback = typedArrayTag(value);
        const prefix = getPrefix(constructor, tag, fallback, `(${size})`);
        braces = [`${prefix}[`, "]"];
        if (size === 0 && keys.length === 0) {
          return `${braces[0]}]`;
        }
        formatter = formatTypedArray;
        extrasType = kArrayExtrasType;
      } else if (isArguments(value)) {
        keys = getNonIndexKeys(value);
        braces = ["[Arguments] [", "]"];
        if (value.length === 0 && keys.length === 0) {
          return "[Arguments] []";
        }
        extrasType = kArrayExtrasType;
        formatter = formatArray;
      } else {
        noIterator = true;
      }
    }

    if (noIterator) {
      keys = getKeys(value);
      braces = ["{", "}"];
      if (constructor === "Object") {
        if (tag !== "") {
          braces[0] = `${getPrefix(constructor, tag, "Object")}{`;
        }
        if (keys.length === 0) {
          return `${braces[0]}}`;
        }
      } else if (typeof value === "function") {
        base = getFunctionBase(value, constructor, tag);
        if (keys.length === 0) {
          return base;
        }
      } else if (isRegExp(value)) {
        base = regexpToString(value);
        const prefix = getPrefix(constructor, tag, "RegExp");
        if (prefix !== "RegExp ") {
          base = `${prefix}${base}`;
        }
        if (keys.length === 0 || recurseTimes > ctx.depth) {
          return base;
        }
      } else if (isDate(value)) {
        base = Number.isNaN(dateGetTime(value))
          ? dateToString(value)
          : dateToISOString(value);
        const prefix = getPrefix(constructor, tag, "Date");
        if (prefix !== "Date ") {
          base = `${prefix}${base}`;
        }
        if (keys.length === 0) {
          return base;
        }
      } else if (isError(value)) {
        base = formatError(value, constructor, tag, ctx, keys);
        if (keys.length === 0) {
          return base;
        }
      } else if (isArrayBuffer(value) || isSharedArrayBuffer(value)) {
        const type = isArrayBuffer(value) ? "ArrayBuffer" : "SharedArrayBuffer";
        braces[0] = `${getPrefix(constructor, tag, type)}{`;
        formatter = formatArrayBuffer;
        keys.unshift("byteLength");
      } else if (isDataView(value)) {
        braces[0] = `${getPrefix(constructor, tag, "DataView")}{`;
        keys.unshift("byteLength", "byteOffset", "buffer");
      } else if (isPromise(value)) {
        braces[0] = `${getPrefix(constructor, tag, "Promise")}{`;
        formatter = formatPromise;
      } else if (isWeakSet(value)) {
        braces[0] = `${getPrefix(constructor, tag, "WeakSet")}{`;
        formatter = formatWeakCollection;
      } else if (isWeakMap(value)) {
        braces[0] = `${getPrefix(constructor, tag, "WeakMap")}{`;
        formatter = formatWeakCollection;
      } else if (isModuleNamespace(value)) {
        braces[0] = `${getPrefix(constructor, tag, "Module")}{`;
        const names = keys;
        keys = [];
        formatter = (c, v, r) => formatNamespace(c, v, r, names);
      } else {
        const boxed = getBoxedType(value);
        if (boxed !== undefined) {
          base = getBoxedBase(value, keys, constructor, tag, boxed);
          if (keys.length === 0) {
            return base;
          }
        } else {
          if (keys.length === 0) {
            return `${getPrefix(constructor, tag, "Object")}{}`;
          }
          braces[0] = `${getPrefix(constructor, tag, "Object")}{`;
        }
      }
    }

    if (recurseTimes > ctx.depth) {
      let name = getPrefix(constructor, tag, "Object").slice(0, -1);
      if (constructor !== null) {
        name = `[${name}]`;
      }
      return name;
    }
    recurseTimes += 1;
    ctx.seen.push(value);
    let output;
    try {
      output = formatter(ctx, value, recurseTimes);
      for (const key of keys) {
        output.push(formatProperty(ctx, value, recurseTimes, key, extrasType));
      }
    } finally {
      ctx.seen.pop();
    }
    if (ctx.circular !== undefined) {
      const index = ctx.circular.get(value);
      if (index !== undefined) {
        const reference = `<ref *${index}>`;
        base = base === "" ? reference : `${reference} ${base}`;
      }
    }
    return reduceToSingleString(ctx, output, base, braces);
  }

  // One line when the one-line form, indented where it starts, fits in
  // lineWidth columns and no entry spans lines; otherwise one entry per
  // line, indented two more spaces than the braces.
  function reduceToSingleString(ctx, output, base, braces) {
    const head = base === "" ? braces[0] : `${base} ${braces[0]}`;
    if (output.length === 0) {
      return `${head}${braces[1]}`; // e.g. a namespace with no exports
    }
    if (!base.includes("\n")) {
      let width = ctx.indentationLvl + head.length + braces[1].length + 2;
      let fits = width <= ctx.lineWidth;
      for (let i = 0; fits && i < output.length; i++) {
        width += output[i].length + (i > 0 ? 2 : 0);
        fits = width <= ctx.lineWidth && !output[i].includes("\n");
      }
      if (fits) {
        return `${head} ${output.join(", ")} ${braces[1]}`;
      }
    }
    const indentation = `\n${" ".repeat(ctx.indentationLvl)}`;
    return (
      `${head}${indentation}  ` +
      `${output.join(`,${indentation}  `)}${indentation}${braces[1]}`
    );
  }

  function formatNothing() {
    return [];
  }

  function moreItems(remaining) {
    return `... ${remaining} more item${remaining > 1 ? "s" : ""}`;
  }

  function formatProperty(ctx, value, recurseTimes, key, type) {
    let desc;
    try {
      desc = getOwnPropertyDescriptor(value, key);
    } catch {
      desc = undefined;
    }
    if (desc === undefined) {
      desc = { value: value[key], enumerable: true };
    }
    let str;
    if (desc.value !== undefined) {
      ctx.indentationLvl += 2;
      str = formatValue(ctx, desc.value, recurseTimes);
      ctx.indentationLvl -= 2;
    } else if (desc.get !== undefined) {
      str = desc.set !== undefined ? "[Getter/Setter]" : "[Getter]";
    } else if (desc.set !== undefined) {
      str = "[Setter]";
    } else {
      str = "undefined";
    }
    if (type === kArrayType) {
      return str;
    }
    let name;
    if (typeof key === "symbol") {
      name = `[${symbolToString(key)}]`;
    } else if (key === "__proto__") {
      name = '["__proto__"]';
    } else if (desc.enumerable === false) {
      name = `[${key}]`;
    } else if (/^[a-zA-Z_$][a-zA-Z_$0-9]*$/.test(key)) {
      name = key;
    } else {
      name = quoteString(key);
    }
    return `${name}: ${str}`;
  }

  function formatArray(ctx, value, recurseTimes) {
    const length = value.length;
    const max = mathMin(mathMax(0, ctx.maxArrayLength), length);
    const output = [];
    let indices; // own index keys, computed on the first hole
    let next = 0;
    let i = 0;
    while (i < length && output.length < max) {
      if (hasOwn(value, i)) {
        output.push(formatProperty(ctx, value, recurseTimes, i, kArrayType));
        i++;
        continue;
      }
      if (indices === undefined) {
        indices = objectKeys(value).filter(isIndex).map(Number);
      }
      while (next < indices.length && indices[next] <= i) {
        next++;
      }
      const end = next < indices.length ? indices[next] : length;
      const holes = end - i;
      output.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
      i = end;
    }
    if (i < length) {
      output.push(moreItems(length - i));
    }
    return output;
  }

  function formatTypedArray(ctx, value) {
    const length = typedArrayLength(value);
    const max = mathMin(mathMax(0, ctx.maxArrayLength), length);
    const output = [];
    for (let i = 0; i < max; i++) {
      output.push(formatPrimitive(value[i]));
    }
    if (length > max) {
      output.push(moreItems(length - max));
    }
    return output;
  }

  function formatSet(ctx, value, recurseTimes) {
    const output = [];
    const max = mathMax(0, ctx.maxArrayLength);
    const size = setSize(value);
    const it = setValues(value);
    ctx.indentationLvl += 2;
    for (let r = setIteratorNext(it); !r.done; r = setIteratorNext(it)) {
      if (output.length >= max) {
        break;
      }
      output.push(formatValue(ctx, r.value, recurseTimes));
    }
    ctx.indentationLvl -= 2;
    if (size > output.length) {
      output.push(moreItems(size - output.length));
    }
    return output;
  }

  function formatMap(ctx, value, recurseTimes) {
    const output = [];
    const max = mathMax(0, ctx.maxArrayLength);
    const size = mapSize(value);
    const it = mapEntries(value);
    ctx.indentationLvl += 2;
    for (let r = iteratorNext(it); !r.done; r = iteratorNext(it)) {
      if (output.length >= max) {
        break;
      }
      const k = formatValue(ctx, r.value[0], recurseTimes);
      const v = formatValue(ctx, r.value[1], recurseTimes);
      output.push(`${k} => ${v}`);
    }
    ctx.indentationLvl -= 2;
    if (size > output.length) {
      output.push(moreItems(size - output.length));
    }
    return output;
  }

  function formatArrayBuffer(ctx, value) {
    let bytes;
    try {
      bytes = new Uint8Array(value);
    } catch {
      return ["(detached)"];
    }
    const max = mathMin(mathMax(0, ctx.maxArrayLength), bytes.length);
    let hex = "";
    for (let i = 0; i < max; i++) {
      hex += `${i > 0 ? " " : ""}${bytes[i] < 16 ? "0" : ""}`;
      hex += bytes[i].toString(16);
    }
    const remaining = bytes.length - max;
    if (remaining > 0) {
      hex += ` ... ${remaining} more byte${remaining > 1 ? "s" : ""}`;
    }
    return [`[Uint8Contents]: <${hex}>`];
  }

  function formatPromise(ctx, value, recurseTimes) {
    const state = promiseState(value);
    if (state === 0) {
      return ["<pending>"];
    }
    ctx.indentationLvl += 2;
    const str = formatValue(ctx, promiseResult(value), recurseTimes);
    ctx.indentationLvl -= 2;
    return [state === 2 ? `<rejected> ${str}` : str];
  }

  function formatWeakCollection() {
    return ["<items unknown>"];
  }

  function formatNamespace(ctx, value, recurseTimes, names) {
    const output = [];
    for (const name of names) {
      try {
        output.push(
          formatProperty(ctx, value, recurseTimes, name, kObjectType),
        );
      } catch (error) {
        if (!isInstanceof(error, ReferenceError)) {
          throw error;
        }
        // A binding still in its temporal dead zone.
        output.push(`${name}: <uninitialized>`);
      }
    }
    return output;
  }

  function getBoxedBase(value, keys, constructor, tag, boxed) {
    const type = boxed[0];
    const primitive = boxed[1](value);
    if (type === "String") {
      // The string's index keys are not interesting: the value shows them.
      keys.splice(0, primitive.length);
    }
    let base = `[${type}`;
    if (type !== constructor) {
      base += constructor === null ? " (null prototype)" : ` (${constructor})`;
    }
    base += `: ${formatPrimitive(primitive)}]`;
    if (tag !== "" && tag !== constructor) {
      base += ` [${tag}]`;
    }
    return base;
  }

  function getFunctionBase(value, constructor, tag) {
    let source = "";
    try {
      source = fnToString(value);
    } catch {
      // A revoked proxy or similar: fall through to the generic form.
    }
    // "class A", "class{" or "class extends": not a method named class.
    if (/^class[\s{/]/.test(source)) {
      return getClassBase(value, constructor, tag);
    }
    let type = "Function";
    const kind = objectToString(value);
    if (kind === "[object AsyncFunction]") {
      type = "AsyncFunction";
    } else if (kind === "[object GeneratorFunction]") {
      type = "GeneratorFunction";
    } else if (kind === "[object AsyncGeneratorFunction]") {
      type = "AsyncGeneratorFunction";
    }
    let base = `[${type}`;
    if (constructor === null) {
      base += " (null prototype)";
    }
    let name = "";
    try {
      name = value.name;
    } catch {
      name = "";
    }
    if (typeof name !== "string" || name === "") {
      base += " (anonymous)";
    } else {
      base += `: ${name}`;
    }
    base += "]";
    if (constructor !== type && constructor !== null) {
      base += ` ${constructor}`;
    }
    if (tag !== "" && constructor !== tag) {
      base += ` [${tag}]`;
    }
    return base;
  }

  function getClassBase(value, constructor, tag) {
    const name = (hasOwn(value, "name") && value.name) || "(anonymous)";
    let base = `class ${name}`;
    if (constructor !== "Function" && constructor !== null) {
      base += ` [${constructor}]`;
    }
    if (tag !== "" && constructor !== tag) {
      base += ` [${tag}]`;
    }
    if (constructor !== null) {
      const superName = getPrototypeOf(value).name;
      if (superName) {
        base += ` extends ${superName}`;
      }
    } else {
      base += " extends [null prototype]";
    }
    return `[${base}]`;
  }

  function formatError(err, constructor, tag, ctx, keys) {
    let name;
    let message;
    let stack;
    try {
      name = err.name != null ? `${err.name}` : "Error";
      message = err.message;
      stack = err.stack ? `${err.stack}` : errorToString(err);
    } catch {
      name = "Error";
      stack = objectToString(err);
    }
    // Own name/message/stack keys are noise when the stack shows them.
    for (const key of ["name", "message", "stack"]) {
      const index = keys.indexOf(key);
      if (index !== -1 && stack.includes(err[key])) {
        keys.splice(index, 1);
      }
    }
    if ("cause" in err && !keys.includes("cause")) {
      keys.push("cause");
    }
    if (isArray(err.errors) && !keys.includes("errors")) {
      keys.push("errors");
    }
    stack = improveStack(stack, constructor, name, tag);
    let pos = (typeof message === "string" && stack.indexOf(message)) || -1;
    if (pos !== -1) {
      pos += message.length;
    }
    if (stack.indexOf("\n    at", pos) === -1) {
      stack = `[${stack}]`;
    }
    if (ctx.indentationLvl !== 0) {
      stack = stack.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
    }
    return stack;
  }

  // Names the constructor when the stack's first line does not, e.g.
  // "DOMException [DataCloneError]: ..." for a DOMException.
  function improveStack(stack, constructor, name, tag) {
    let len = name.length;
    if (
      constructor === null ||
      (name.endsWith("Error") &&
        stack.startsWith(name) &&
        (stack.length === len || stack[len] === ":" || stack[len] === "\n"))
    ) {
      let fallback = "Error";
      if (constructor === null) {
        const start =
          /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n\s+at)/.exec(stack) ||
          /^([a-z_A-Z0-9-]*Error)$/.exec(stack);
        fallback = (start && start[1]) || "";
        len = fallback.length;
        fallback = fallback || "Error";
      }
      const prefix = getPrefix(constructor, tag, fallback).slice(0, -1);
      if (name !== prefix) {
        if (prefix.includes(name)) {
          stack =
            len === 0 ? `${prefix}: ${stack}` : `${prefix}${stack.slice(len)}`;
        } else {
          stack = `${prefix} [${name}]${stack.slice(len)}`;
        }
      }
    }
    return stack;
  }

  // Gives a host object (Event, TextDecoder, ...) a Deno-style inspection
  // that lists the values of its accessors.
  function inspectFields(proto, fields) {
    defineHidden(proto, {
      [customInspect](inspectValue, options) {
        const shown = {};
        for (const field of fields) {
          shown[field] = this[field];
        }
        return `${this.constructor.name} ${inspectValue(shown, options)}`;
      },
    });
  }

  // -------------------------------------------------------------------------
  // console.

  // Deno's rules: a leading string is a format string; %s String(), %d/%i
  // integers (NaN for non-numbers), %f floats, %j JSON, %o/%O inspect, %c
  // consumes its argument and prints nothing, %% is a percent sign. The
  // remaining arguments follow, separated by spaces; strings print raw.
  function formatArgs(args, options) {
    const first = args[0];
    let a = 0;
    let out = "";
    if (typeof first === "string" && args.length > 1) {
      a++;
      let appended = 0;
      for (let i = 0; i < first.length - 1; i++) {
        if (first[i] !== "%") {
          continue;
        }
        const c = first[++i];
        if (a < args.length) {
          let arg = null;
          switch (c) {
            case "s":
              arg = formatS(args[a++], options);
              break;
            case "d":
            case "i":
              arg = formatInteger(args[a++]);
              break;
            case "f":
              arg = formatFloat(args[a++]);
              break;
            case "j":
              arg = formatJson(args[a++]);
              break;
            case "o":
            case "O":
              arg = inspect(args[a++], options);
              break;
            case "c":
              a++;
              arg = "";
              break;
          }
          if (arg !== null) {
            out += first.slice(appended, i - 1) + arg;
            appended = i + 1;
          }
        }
        if (c === "%") {
          out += `${first.slice(appended, i - 1)}%`;
          appended = i + 1;
        }
      }
      out += first.slice(appended);
    }
    for (; a < args.length; a++) {
      if (a > 0) {
        out += " ";
      }
      const value = args[a];
      out += typeof value === "string" ? value : inspect(value, options);
    }
    return out;
  }

  function formatS(value, options) {
    try {
      return `${String(value)}`;
    } catch {
      return inspect(value, options); // e.g. a null-prototype object
    }
  }

  function formatInteger(value) {
    if (typeof value === "bigint") {
      return `${value}n`;
    }
    if (typeof value === "number") {
      return `${Number.parseInt(String(value))}`;
    }
    return "NaN";
  }

  function formatFloat(value) {
    return typeof value === "number" ? `${value}` : "NaN";
  }

  function formatJson(value) {
    try {
      const json = jsonStringify(value);
      return json === undefined ? "undefined" : json;
    } catch (error) {
      if (isInstanceof(error, TypeError) && /circular/i.test(error.message)) {
        return "[Circular]";
      }
      throw error;
    }
  }

  function createConsole() {
    let indent = "";
    const counts = new Map();
    const timers = new Map();

    function emit(level, text) {
      if (indent !== "") {
        text = indent + text.replaceAll("\n", `\n${indent}`);
      }
      print(level, text);
    }

    const log = (...args) => emit("log", formatArgs(args));
    const info = (...args) => emit("info", formatArgs(args));
    const debug = (...args) => emit("debug", formatArgs(args));
    const warn = (...args) => emit("warn", formatArgs(args));
    const error = (...args) => emit("error", formatArgs(args));

    const console = {
      log,
      info,
      debug,
      warn,
      error,
      trace(...args) {
        const trace = { name: "Trace", message: formatArgs(args) };
        captureStackTrace(trace, console.trace);
        emit("error", `${trace.stack}`);
      },
      assert(condition = false, ...args) {
        if (condition) {
          return;
        }
        if (args.length === 0) {
          error("Assertion failed");
        } else if (typeof args[0] === "string") {
          error(`Assertion failed: ${args[0]}`, ...args.slice(1));
        } else {
          error("Assertion failed:", ...args);
        }
      },
      dir(value, options) {
        emit("info", formatArgs([value], options));
      },
      dirxml: log,
      table(data, properties) {
        if (properties !== undefined && !isArray(properties)) {
          throw new TypeError(
            "The 'properties' argument must be of type Array",
          );
        }
        if (data === null || typeof data !== "object") {
          log(data);
          return;
        }
        emit("log", renderTable(data, properties));
      },
      time(label = "default") {
        label = `${label}`;
        if (timers.has(label)) {
          warn(`Timer '${label}' already exists`);
          return;
        }
        timers.set(label, now());
      },
      timeLog(label = "default", ...args) {
        label = `${label}`;
        if (!timers.has(label)) {
          warn(`Timer '${label}' does not exist`);
          return;
        }
        const ms = (now() - timers.get(label)).toFixed(3);
        info(`${label}: ${ms}ms`, ...args);
      },
      timeEnd(label = "default") {
        label = `${label}`;
        if (!timers.has(label)) {
          warn(`Timer '${label}' does not exist`);
          return;
        }
        const ms = (now() - timers.get(label)).toFixed(3);
        timers.delete(label);
        info(`${label}: ${ms}ms`);
      },
      count(label = "default") {
        label = `${label}`;
        const n = (counts.get(label) || 0) + 1;
        counts.set(label, n);
        info(`${label}: ${n}`);
      },
      countReset(label = "default") {
        label = `${label}`;
        if (!counts.has(label)) {
          warn(`Count for '${label}' does not exist`);
          return;
        }
        counts.set(label, 0);
      },
      group(...label) {
        if (label.length > 0) {
          log(...label);
        }
        indent += "  ";
      },
      groupCollapsed(...label) {
        console.group(...label);
      },
      groupEnd() {
        indent = indent.slice(2);
      },
      clear() {
        indent = "";
      },
      timeStamp() {},
      profile() {},
      profileEnd() {},
    };
    defineProperty(console, SymbolToStringTag, {
      value: "console",
      configurable: true,
    });
    return console;
  }

  // console.table: a box-drawn table of the rows of data (an array, a plain
  // object, a Map or a Set), cells inspected with quoted strings.
  function renderTable(data, properties) {
    const cell = (v) => inspect(v, { depth: 1, lineWidth: Infinity });
    const indexKey = isMap(data) || isSet(data) ? "(iter idx)" : "(idx)";
    const rows = []; // [index, value] pairs
    if (isMap(data)) {
      let i = 0;
      for (const [k, v] of mapEntries(data)) {
        rows.push([`${i++}`, { Key: k, Values: v }, true]);
      }
    } else if (isSet(data)) {
      let i = 0;
      for (const v of setValues(data)) {
        rows.push([`${i++}`, v]);
      }
    } else {
      for (const k of objectKeys(data)) {
        rows.push([k, data[k]]);
      }
    }
    const columns = [];
    const columnIndex = new Map();
    let hasValues = false;
    const addColumn = (name) => {
      if (!columnIndex.has(name)) {
        columnIndex.set(name, columns.length);
        columns.push(name);
      }
    };
    if (properties !== undefined) {
      for (const p of properties) {
        addColumn(`${p}`);
      }
    }
    const cells = rows.map(([index, value, isMapRow]) => {
      const row = new Map();
      if (isMapRow) {
        addColumn("Key");
        row.set("Key", cell(value.Key));
        value = value.Values;
        hasValues = true;
        row.set("Values", cell(value));
      } else if (
        value !== null &&
        (typeof value === "object" || typeof value === "function")
      ) {
        for (const k of objectKeys(value)) {
          if (properties === undefined) {
            addColumn(k);
          }
          if (columnIndex.has(k)) {
            row.set(k, cell(value[k]));
          }
        }
      } else {
        hasValues = true;
        row.set("Values", cell(value));
      }
      return [index, row];
    });
    const head = [indexKey, ...columns];
    if (hasValues) {
      head.push("Values");
    }
    const body = cells.map(([index, row]) => [
      index,
      ...head.slice(1).map((name) => (row.has(name) ? row.get(name) : "")),
    ]);
    const widths = head.map((h, i) =>
      mathMax(h.length, ...body.map((r) => r[i].length)),
    );
    const line = (l, m, r) =>
      l + widths.map((w) => "─".repeat(w + 2)).join(m) + r;
    const render = (row) =>
      "│" +
      row
        .map((c, i) => {
          const pad = widths[i] - c.length;
          const left = Math.floor(pad / 2);
          return ` ${" ".repeat(left)}${c}${" ".repeat(pad - left)} `;
        })
        .join("│") +
      "│";
    return [
      line("┌", "┬", "┐"),
      render(head),
      line("├", "┼", "┤"),
      ...body.map(render),
      line("└", "┴", "┘"),
    ].join("\n");
  }

  // -------------------------------------------------------------------------
  // Timers.
  //
  // One queue per context, a binary heap ordered by (deadline, seq); seq
  // grows with every (re)scheduling so equal deadlines run in creation
  // order. The runtime holds a single armed deadline: always the heap's
  // top, or -1 when the heap is empty, and whether any pending timer is
  // ref'd (Isopool.unrefTimer: an unref'd timer still fires, but does not
  // keep the event loop alive by itself). timerArm is called only when one
  // of the two changes, except that fireTimers always re-arms (the runtime
  // treats a fired deadline as consumed).

  const timers = new Map(); // id -> timer
  const heap = [];
  let nextTimerId = 1;
  let nextSeq = 1;
  let refedTimers = 0; // timers in `timers` with refed === true
  let armed = -1;
  let armedRefed = false;
  let firing = false;

  const timerBefore = (a, b) =>
    a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);

  function heapSwap(i, j) {
    const t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
    heap[i].index = i;
    heap[j].index = j;
  }

  function heapUp(i) {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!timerBefore(heap[i], heap[parent])) {
        break;
      }
      heapSwap(i, parent);
      i = parent;
    }
  }

  function heapDown(i) {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && timerBefore(heap[l], heap[min])) {
        min = l;
      }
      if (r < heap.length && timerBefore(heap[r], heap[min])) {
        min = r;
      }
      if (min === i) {
        return;
      }
      heapSwap(i, min);
      i = min;
    }
  }

  function heapPush(timer) {
    timer.index = heap.length;
    heap.push(timer);
    heapUp(timer.index);
  }

  function heapRemove(timer) {
    const i = timer.index;
    const last = heap.pop();
    if (last !== timer) {
      heap[i] = last;
      last.index = i;
      heapDown(i);
      heapUp(last.index);
    }
    timer.index = -1;
  }

  function rearm(force) {
    const deadline = heap.length > 0 ? heap[0].deadline : -1;
    const refed = deadline !== -1 && refedTimers > 0;
    if (force || deadline !== armed || refed !== armedRefed) {
      armed = deadline;
      armedRefed = refed;
      timerArm(deadline, refed);
    }
  }

  // Drops a timer from `timers` (it is no longer pending).
  function forgetTimer(timer) {
    timers.delete(timer.id);
    if (timer.refed) {
      refedTimers--;
    }
  }

  function schedule(timer) {
    timer.deadline = now() + timer.delay;
    timer.seq = nextSeq++;
    heapPush(timer);
  }

  function addTimer(callback, delay, args, repeat) {
    if (typeof callback !== "function") {
      // HTML allows a string of code; Deno evaluates it globally.
      const code = `${callback}`;
      callback = () => (0, eval)(code);
    }
    const timer = {
      id: nextTimerId++,
      callback,
      args,
      delay: mathMax(0, toLong(delay)),
      repeat,
      refed: true,
      deadline: 0,
      seq: 0,
      index: -1,
    };
    timers.set(timer.id, timer);
    refedTimers++;
    schedule(timer);
    if (!firing) {
      rearm(false);
    }
    return timer.id;
  }

  function clearTimer(id) {
    const timer = timers.get(toLong(id));
    if (timer === undefined) {
      return;
    }
    forgetTimer(timer);
    if (timer.index !== -1) {
      heapRemove(timer);
    }
    if (!firing) {
      rearm(false);
    }
  }

  function setTimeout(callback, delay = 0, ...args) {
    return addTimer(callback, delay, args, false);
  }

  function setInterval(callback, delay = 0, ...args) {
    return addTimer(callback, delay, args, true);
  }

  function clearTimeout(id = 0) {
    clearTimer(id);
  }

  function clearInterval(id = 0) {
    clearTimer(id);
  }

  // Isopool.unrefTimer / refTimer (Deno.unrefTimer): whether the timer
  // keeps the event loop alive. Unknown ids are ignored; an interval stays
  // as it is across its repeats.
  function setTimerRef(id, refed) {
    const timer = timers.get(toLong(id));
    if (timer === undefined || timer.refed === refed) {
      return;
    }
    timer.refed = refed;
    refedTimers += refed ? 1 : -1;
    if (!firing) {
      rearm(false);
    }
  }

  function unrefTimer(id) {
    setTimerRef(id, false);
  }

  function refTimer(id) {
    setTimerRef(id, true);
  }

  // Runs the timers that were due when the call began (not ones scheduled
  // by the callbacks themselves, so a zero-delay interval cannot starve the
  // loop), a microtask checkpoint after each. A callback's exception ends
  // the pass and propagates after the next deadline is armed.
  function fireTimers() {
    const due = now();
    const seqLimit = nextSeq;
    firing = true;
    try {
      while (heap.length > 0) {
        const timer = heap[0];
        if (timer.deadline > due || timer.seq >= seqLimit) {
          break;
        }
        heapRemove(timer);
        if (!timer.repeat) {
          forgetTimer(timer);
        }
        try {
          fnApply(timer.callback, globalThis, timer.args);
        } finally {
          if (timer.repeat && timers.get(timer.id) === timer) {
            schedule(timer);
          }
        }
        runMicrotasks();
      }
    } finally {
      firing = false;
      rearm(true);
    }
  }

  // -------------------------------------------------------------------------
  // The op bus: Isopool.errors and Isopool.core (Deno.core's op layer).
  //
  // The shim gives a native per op. A sync op's native is called as is and
  // returns the result or throws one of the error classes below. An async
  // op's native takes a promise id first, records the request (flushed to
  // the op threads at the end of the tick) and returns nothing; the runtime
  // later calls resolveOps with the responses.

  class NotFound extends Error {}
  class PermissionDenied extends Error {}
  class AlreadyExists extends Error {}
  class InvalidData extends Error {}
  class TimedOut extends Error {}

  const errors = freeze({
    NotFound,
    PermissionDenied,
    AlreadyExists,
    InvalidData,
    TimedOut,
  });
  for (const name of objectKeys(errors)) {
    defineHidden(errors[name].prototype, { name });
  }
  // The classes an op's error can have, by the name the C side uses.
  const opErrorClasses = freeze({
    __proto__: null,
    ...errors,
    TypeError,
    RangeError,
    Error,
  });
  if (typeof setOpErrors === "function") {
    setOpErrors(opErrorClasses);
  }

  function opError(cls, message) {
    const Class =
      typeof cls === "string" && hasOwn(opErrorClasses, cls)
        ? opErrorClasses[cls]
        : Error;
    return new Class(message === undefined ? "" : `${message}`);
  }

  // name -> native, split by kind.
  const syncOps = { __proto__: null };
  const asyncOps = { __proto__: null };
  for (const name of objectKeys(nativeOps)) {
    const fn = nativeOps[name];
    if (typeof fn !== "function") {
      continue;
    }
    if (nativeOpKinds[name] === "async") {
      asyncOps[name] = fn;
    } else {
      syncOps[name] = fn;
    }
  }

  // Pending async ops, as in Deno's core.js: promise id -> { id, resolve,
  // reject }, in a ring of RING_SIZE slots indexed by id % RING_SIZE; a
  // request whose slot is still taken by an older pending op moves that
  // older one to promiseMap. Unlike Deno, a record carries its id (an
  // entry is found by comparing it) and ids wrap below 2^32 (the C side
  // keeps them as uint32), skipping any id still pending.
  const RING_SIZE = 4 * 1024;
  const MAX_PROMISE_ID = 4294967295;
  const NO_PROMISE = null;
  const promiseRing = new Array(RING_SIZE).fill(NO_PROMISE);
  const promiseMap = new Map();
  let nextPromiseId = 1;
  const promiseIdSymbol = Symbol("Isopool.core.promiseId");
  const unrefedOps = new Set(); // ids given to opUnref and not since opRef

  const isPromiseId = (id) =>
    typeof id === "number" && id >= 1 && id <= MAX_PROMISE_ID && id % 1 === 0;

  function hasPromise(id) {
    return (
      isPromiseId(id) &&
      (promiseRing[id % RING_SIZE]?.id === id || mapHas(promiseMap, id))
    );
  }

  function newPromiseId() {
    for (;;) {
      const id = nextPromiseId;
      nextPromiseId = id === MAX_PROMISE_ID ? 1 : id + 1;
      if (!hasPromise(id)) {
        return id;
      }
    }
  }

  function setPromise(rec) {
    const idx = rec.id % RING_SIZE;
    const old = promiseRing[idx];
    if (old !== NO_PROMISE) {
      mapSet(promiseMap, old.id, old);
    }
    promiseRing[idx] = rec;
  }

  // Removes and returns the record of a pending id, or undefined.
  function takePromise(id) {
    if (!isPromiseId(id)) {
      return undefined;
    }
    const idx = id % RING_SIZE;
    const rec = promiseRing[idx];
    if (rec?.id === id) {
      promiseRing[idx] = NO_PROMISE;
      return rec;
    }
    const other = mapGet(promiseMap, id);
    if (other !== undefined) {
      mapDelete(promiseMap, id);
    }
    return other;
  }

  // Starts an async op; the promise settles in resolveOps.
  function opCall(fn, args) {
    const id = newPromiseId();
    let resolve;
    let reject;
    const promise = new PromiseCtor((res, rej) => {
      resolve = res;
      reject = rej;
    });
    defineProperty(promise, promiseIdSymbol, { value: id });
    setPromise({ id, resolve, reject });
    try {
      fn(id, ...args);
    } catch (error) {
      // Arguments the shim could not convert, too many ops in flight: the
      // request was not recorded, so the id is free again.
      takePromise(id);
      reject(error);
    }
    return promise;
  }

  function opAsync(name, ...args) {
    if (typeof name === "string" && hasOwn(asyncOps, name)) {
      return opCall(asyncOps[name], args);
    }
    return promiseReject(
      new TypeError(
        typeof name === "string" && hasOwn(syncOps, name)
          ? `${name} is a sync op: use opSync`
          : `Unknown op: ${typeof name === "string" ? name : typeof name}`,
      ),
    );
  }

  function opSync(name, ...args) {
    if (typeof name === "string" && hasOwn(syncOps, name)) {
      return syncOps[name](...args);
    }
    throw new TypeError(
      typeof name === "string" && hasOwn(asyncOps, name)
        ? `${name} is an async op: use opAsync`
        : `Unknown op: ${typeof name === "string" ? name : typeof name}`,
    );
  }

  function opIdOf(value, caller) {
    if (typeof value === "number") {
      return value;
    }
    if (value !== null && typeof value === "object") {
      const id = value[promiseIdSymbol];
      if (typeof id === "number") {
        return id;
      }
    }
    throw new TypeError(
      `${caller}: argument is not a promise returned by an op or its id`,
    );
  }

  // unrefOp / refOp: whether a pending async op keeps the event loop alive
  // (Deno's core.unrefOp). A settled op is ignored.
  function unrefOp(promiseOrId) {
    const id = opIdOf(promiseOrId, "unrefOp");
    if (!hasPromise(id) || setHas(unrefedOps, id)) {
      return;
    }
    setAdd(unrefedOps, id);
    opUnref(id);
  }

  function refOp(promiseOrId) {
    const id = opIdOf(promiseOrId, "refOp");
    if (!setHas(unrefedOps, id)) {
      return;
    }
    setDelete(unrefedOps, id);
    if (hasPromise(id)) {
      opRef(id);
    }
  }

  // The hook the runtime calls with a batch of responses, flat triplets
  // [promiseId, errorClass, value, ...]: errorClass undefined (or null) for
  // a success, else the class name and value the message. The runtime runs
  // a microtask checkpoint afterwards.
  function resolveOps(flat) {
    const n = flat.length - 2;
    for (let i = 0; i < n; i += 3) {
      const rec = takePromise(flat[i]);
      if (rec === undefined) {
        continue; // dropped
      }
      if (unrefedOps.size > 0) {
        setDelete(unrefedOps, rec.id);
      }
      const cls = flat[i + 1];
      if (cls === "") {
        continue; // its job was cancelled: forgotten, never settled
      }
      if (cls === undefined || cls === null) {
        rec.resolve(flat[i + 2]);
      } else {
        rec.reject(opError(cls, flat[i + 2]));
      }
    }
  }

  // core.ops: sync ops are the natives themselves (a direct native call);
  // async ops are wrappers around opAsync.
  const coreOps = { __proto__: null };
  for (const name of objectKeys(syncOps)) {
    coreOps[name] = syncOps[name];
  }
  for (const name of objectKeys(asyncOps)) {
    // The computed key names the function after the op.
    coreOps[name] = { [name]: (...args) => opAsync(name, ...args) }[name];
  }

  // core.encode / core.decode (as in Deno.core): UTF-8 without going
  // through globals user code may have replaced; decode replaces bad
  // sequences with U+FFFD and drops a leading BOM, like new TextDecoder().
  function coreEncode(string) {
    return encodeUtf8(`${string}`);
  }

  function coreDecode(bytes) {
    const text = decodeUtf8(bytes, false);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  const core = freeze({
    ops: freeze(coreOps),
    opAsync,
    opSync,
    unrefOp,
    refOp,
    encode: coreEncode,
    decode: coreDecode,
  });

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

  // -------------------------------------------------------------------------
  // TextEncoder, TextDecoder (UTF-8 only, as in Deno).

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }

    encode(input = "") {
      return encodeUtf8(`${input}`);
    }

    encodeInto(source, destination) {
      source = `${source}`;
      if (!isInstanceof(destination, Uint8Array)) {
        throw new TypeError(
          "Failed to execute 'encodeInto': Argument 2 is not a Uint8Array.",
        );
      }
      const bytes = encodeUtf8(source);
      if (bytes.length <= destination.length) {
        destination.set(bytes);
        return { read: source.length, written: bytes.length };
      }
      // Only whole code points fit: walk them to find where to stop.
      const room = destination.length;
      let read = 0;
      let written = 0;
      while (read < source.length) {
        const c = source.charCodeAt(read);
        let units = 1;
        let size = 3;
        if (c < 0x80) {
          size = 1;
        } else if (c < 0x800) {
          size = 2;
        } else if (c >= 0xd800 && c <= 0xdbff && read + 1 < source.length) {
          const d = source.charCodeAt(read + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            units = 2;
            size = 4;
          }
        }
        if (written + size > room) {
          break;
        }
        written += size;
        read += units;
      }
      destination.set(bytes.subarray(0, written));
      return { read, written };
    }
  }
  inspectFields(TextEncoder.prototype, ["encoding"]);

  const utf8Labels = [
    "unicode-1-1-utf-8",
    "unicode11utf8",
    "unicode20utf8",
    "utf-8",
    "utf8",
    "x-unicode20utf8",
  ];
  const emptyBytes = new Uint8Array(0);

  // The length of bytes without a trailing, still incomplete but so far
  // valid UTF-8 sequence (which a streaming decode keeps for later).
  function completePrefixLength(bytes) {
    const n = bytes.length;
    for (let k = 1; k <= 3 && k <= n; k++) {
      const lead = bytes[n - k];
      if ((lead & 0xc0) === 0x80) {
        continue; // a continuation byte: keep looking for the lead
      }
      let need = 0;
      if (lead >= 0xc2 && lead <= 0xdf) {
        need = 2;
      } else if (lead >= 0xe0 && lead <= 0xef) {
        need = 3;
      } else if (lead >= 0xf0 && lead <= 0xf4) {
        need = 4;
      }
      if (need <= k) {
        return n; // complete, or not a lead byte at all
      }
      if (k >= 2) {
        const second = bytes[n - k + 1];
        const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
        const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
        if (second < lo || second > hi) {
          return n; // already invalid: let the decoder replace it now
        }
      }
      return n - k;
    }
    return n;
  }

  function toBytes(input) {
    if (isArrayBuffer(input) || isSharedArrayBuffer(input)) {
      return new Uint8Array(input);
    }
    if (ArrayBuffer.isView(input)) {
      return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    }
    throw new TypeError(
      "Failed to execute 'decode': Argument 1 is not an ArrayBuffer or " +
        "ArrayBufferView.",
    );
  }

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    #pending = null; // bytes of an incomplete sequence, while streaming
    #bomDone = false; // the stream is past the point where a BOM can be

    constructor(label = "utf-8", options = {}) {
      const name = `${label}`.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
      if (!utf8Labels.includes(name.toLowerCase())) {
        throw new RangeError(
          `The encoding label provided ('${label}') is invalid.`,
        );
      }
      options = options ?? {};
      this.#fatal = !!options.fatal;
      this.#ignoreBOM = !!options.ignoreBOM;
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#fatal in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get encoding() {
      TextDecoder.#check(this);
      return "utf-8";
    }

    get fatal() {
      return TextDecoder.#check(this).#fatal;
    }

    get ignoreBOM() {
      return TextDecoder.#check(this).#ignoreBOM;
    }

    decode(input = undefined, options = undefined) {
      TextDecoder.#check(this);
      const stream = !!(options !== null && options?.stream);
      let bytes = input === undefined ? emptyBytes : toBytes(input);
      if (this.#pending !== null) {
        const joined = new Uint8Array(this.#pending.length + bytes.length);
        joined.set(this.#pending);
        joined.set(bytes, this.#pending.length);
        bytes = joined;
        this.#pending = null;
      }
      try {
        let end = bytes.length;
        if (stream) {
          end = completePrefixLength(bytes);
          if (end < bytes.length) {
            this.#pending = bytes.slice(end);
          }
        }
        let text = "";
        if (end > 0) {
          const view = end === bytes.length ? bytes : bytes.subarray(0, end);
          text = decodeUtf8(view, this.#fatal);
        }
        if (!this.#bomDone && text.length > 0) {
          this.#bomDone = true;
          if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) {
            text = text.slice(1);
          }
        }
        return text;
      } finally {
        if (!stream) {
          this.#pending = null;
          this.#bomDone = false;
        }
      }
    }
  }
  inspectFields(TextDecoder.prototype, ["encoding", "fatal", "ignoreBOM"]);

  // -------------------------------------------------------------------------
  // atob, btoa (forgiving-base64, HTML spec).

  const base64Chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const base64Values = new Uint8Array(128).fill(255);
  for (let i = 0; i < base64Chars.length; i++) {
    base64Values[base64Chars.charCodeAt(i)] = i;
  }

  function codesToString(codes) {
    let out = "";
    for (let i = 0; i < codes.length; i += 8192) {
      out += String.fromCharCode.apply(null, codes.subarray(i, i + 8192));
    }
    return out;
  }

  function btoa(data) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'btoa': 1 argument required.");
    }
    data = `${data}`;
    const n = data.length;
    const out = new Uint8Array(Math.ceil(n / 3) * 4);
    let o = 0;
    for (let i = 0; i < n; i += 3) {
      const a = data.charCodeAt(i);
      const b = i + 1 < n ? data.charCodeAt(i + 1) : 0;
      const c = i + 2 < n ? data.charCodeAt(i + 2) : 0;
      if (a > 0xff || b > 0xff || c > 0xff) {
        throw new DOMException(
          "The string to be encoded contains characters outside of the " +
            "Latin1 range.",
          "InvalidCharacterError",
        );
      }
      const bits = (a << 16) | (b << 8) | c;
      out[o++] = base64Chars.charCodeAt(bits >> 18);
      out[o++] = base64Chars.charCodeAt((bits >> 12) & 63);
      out[o++] = i + 1 < n ? base64Chars.charCodeAt((bits >> 6) & 63) : 61;
      out[o++] = i + 2 < n ? base64Chars.charCodeAt(bits & 63) : 61;
    }
    return codesToString(out);
  }

  function atob(data) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'atob': 1 argument required.");
    }
    data = `${data}`.replace(/[\t\n\f\r ]/g, "");
    if (data.length % 4 === 0) {
      data = data.replace(/==?$/, "");
    }
    const invalid = () =>
      new DOMException(
        "The string to be decoded is not correctly encoded.",
        "InvalidCharacterError",
      );
    if (data.length % 4 === 1) {
      throw invalid();
    }
    const out = new Uint8Array((data.length * 3) >> 2);
    let o = 0;
    let bits = 0;
    let count = 0;
    for (let i = 0; i < data.length; i++) {
      const code = data.charCodeAt(i);
      const v = code < 128 ? base64Values[code] : 255;
      if (v === 255) {
        throw invalid();
      }
      bits = (bits << 6) | v;
      if (++count === 4) {
        out[o++] = bits >> 16;
        out[o++] = (bits >> 8) & 0xff;
        out[o++] = bits & 0xff;
        bits = 0;
        count = 0;
      }
    }
    if (count === 3) {
      out[o++] = bits >> 10;
      out[o++] = (bits >> 2) & 0xff;
    } else if (count === 2) {
      out[o++] = bits >> 4;
    }
    return codesToString(out.subarray(0, o));
  }

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

  // -------------------------------------------------------------------------
  // performance.

  const illegal = Symbol("illegal constructor");
  const performanceEntries = [];

  class PerformanceEntry {
    #name;
    #entryType;
    #startTime;
    #duration;

    constructor(name, entryType, startTime, duration, key = undefined) {
      if (key !== illegal) {
        throw new TypeError("Illegal constructor");
      }
      this.#name = name;
      this.#entryType = entryType;
      this.#startTime = startTime;
      this.#duration = duration;
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#name in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get name() {
      return PerformanceEntry.#check(this).#name;
    }

    get entryType() {
      return PerformanceEntry.#check(this).#entryType;
    }

    get startTime() {
      return PerformanceEntry.#check(this).#startTime;
    }

    get duration() {
      return PerformanceEntry.#check(this).#duration;
    }

    toJSON() {
      return {
        name: this.name,
        entryType: this.entryType,
        startTime: this.startTime,
        duration: this.duration,
      };
    }
  }
  inspectFields(PerformanceEntry.prototype, [
    "name",
    "entryType",
    "startTime",
    "duration",
  ]);

  class PerformanceMark extends PerformanceEntry {
    #detail;

    constructor(name, options = undefined) {
      if (arguments.length === 0) {
        throw new TypeError(
          "Failed to construct 'PerformanceMark': 1 argument required.",
        );
      }
      const startTime =
        options?.startTime === undefined ? now() : Number(options.startTime);
      if (!(startTime >= 0)) {
        throw new TypeError("startTime cannot be negative");
      }
      super(`${name}`, "mark", startTime, 0, illegal);
      const detail = options?.detail;
      this.#detail = detail === undefined ? null : structuredClone(detail);
    }

    get detail() {
      if (!(#detail in this)) {
        throw new TypeError("Illegal invocation");
      }
      return this.#detail;
    }

    toJSON() {
      return { ...super.toJSON(), detail: this.detail };
    }
  }
  inspectFields(PerformanceMark.prototype, [
    "name",
    "entryType",
    "startTime",
    "duration",
    "detail",
  ]);

  class PerformanceMeasure extends PerformanceEntry {
    #detail;

    constructor(name, startTime, duration, detail, key = undefined) {
      super(name, "measure", startTime, duration, key);
      this.#detail = detail;
    }

    get detail() {
      if (!(#detail in this)) {
        throw new TypeError("Illegal invocation");
      }
      return this.#detail;
    }

    toJSON() {
      return { ...super.toJSON(), detail: this.detail };
    }
  }
  inspectFields(PerformanceMeasure.prototype, [
    "name",
    "entryType",
    "startTime",
    "duration",
    "detail",
  ]);

  // A mark name's latest startTime, or a number as is.
  function markTime(mark) {
    if (typeof mark === "number") {
      if (mark < 0) {
        throw new TypeError("Cannot use negative timestamp");
      }
      return mark;
    }
    const name = `${mark}`;
    for (let i = performanceEntries.length - 1; i >= 0; i--) {
      const entry = performanceEntries[i];
      if (entry.entryType === "mark" && entry.name === name) {
        return entry.startTime;
      }
    }
    throw new DOMException(
      `The mark '${name}' does not exist.`,
      "SyntaxError",
    );
  }

  function filterEntries(name, type) {
    return performanceEntries.filter(
      (e) =>
        (name === undefined || e.name === name) &&
        (type === undefined || e.entryType === type),
    );
  }

  function clearEntries(type, name) {
    for (let i = performanceEntries.length - 1; i >= 0; i--) {
      const e = performanceEntries[i];
      if (e.entryType === type && (name === undefined || e.name === name)) {
        performanceEntries.splice(i, 1);
      }
    }
  }

  class Performance extends EventTarget {
    constructor(key = undefined) {
      if (key !== illegal) {
        throw new TypeError("Illegal constructor");
      }
      super();
    }

    get timeOrigin() {
      return timeOrigin;
    }

    now() {
      return now();
    }

    mark(name, options = undefined) {
      const mark = new PerformanceMark(name, options);
      performanceEntries.push(mark);
      return mark;
    }

    measure(name, startOrOptions = undefined, endMark = undefined) {
      name = `${name}`;
      let start = 0;
      let end;
      let detail = null;
      if (startOrOptions !== null && typeof startOrOptions === "object") {
        const o = startOrOptions;
        if (o.start !== undefined) {
          start = markTime(o.start);
        } else if (o.end !== undefined && o.duration !== undefined) {
          start = markTime(o.end) - Number(o.duration);
        }
        if (o.end !== undefined) {
          end = markTime(o.end);
        } else if (o.duration !== undefined) {
          end = start + Number(o.duration);
        }
        detail = o.detail === undefined ? null : structuredClone(o.detail);
      } else if (startOrOptions !== undefined) {
        start = markTime(startOrOptions);
      }
      if (endMark !== undefined) {
        end = markTime(endMark);
      }
      if (end === undefined) {
        end = now();
      }
      const measure = new PerformanceMeasure(
        name,
        start,
        end - start,
        detail,
        illegal,
      );
      performanceEntries.push(measure);
      return measure;
    }

    getEntries() {
      return filterEntries(undefined, undefined);
    }

    getEntriesByName(name, type = undefined) {
      return filterEntries(
        `${name}`,
        type === undefined ? undefined : `${type}`,
      );
    }

    getEntriesByType(type) {
      return filterEntries(undefined, `${type}`);
    }

    clearMarks(name = undefined) {
      clearEntries("mark", name === undefined ? undefined : `${name}`);
    }

    clearMeasures(name = undefined) {
      clearEntries("measure", name === undefined ? undefined : `${name}`);
    }

    toJSON() {
      return { timeOrigin };
    }
  }
  inspectFields(Performance.prototype, ["timeOrigin"]);

  // -------------------------------------------------------------------------
  // crypto (Web Crypto: getRandomValues, randomUUID, subtle.digest).

  const integerArrayTypes = [
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "BigInt64Array",
    "BigUint64Array",
  ];
  const digestAlgorithms = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const asciiUpper = (s) => s.replace(/[a-z]+/g, (m) => m.toUpperCase());

  // The bytes of a BufferSource, as a Uint8Array over the same memory (the
  // shim copies them when it records the op).
  function bufferSourceBytes(data, what) {
    if (isArrayBuffer(data)) {
      return new Uint8Array(data);
    }
    if (isView(data)) {
      if (isDataView(data)) {
        return new Uint8Array(
          dataViewBuffer(data),
          dataViewByteOffset(data),
          dataViewByteLength(data),
        );
      }
      return new Uint8Array(
        typedArrayBuffer(data),
        typedArrayByteOffset(data),
        typedArrayByteLength(data),
      );
    }
    throw new TypeError(
      `${what}: Argument 2 is not an ArrayBuffer or ArrayBufferView.`,
    );
  }

  function normalizeDigest(algorithm) {
    let name;
    if (algorithm !== null && typeof algorithm === "object") {
      if (algorithm.name === undefined) {
        throw new TypeError(
          "Failed to normalize algorithm: 'name' is required.",
        );
      }
      name = `${algorithm.name}`;
    } else {
      name = `${algorithm}`;
    }
    const upper = asciiUpper(name);
    if (!digestAlgorithms.includes(upper)) {
      throw new DOMException(
        "Unrecognized algorithm name",
        "NotSupportedError",
      );
    }
    return upper;
  }

  class SubtleCrypto {
    #brand = true;

    constructor(key = undefined) {
      if (key !== illegal) {
        throw new TypeError("Illegal constructor");
      }
    }

    // Every failure is a rejection, as for any promise-returning method.
    async digest(algorithm, data) {
      const what = "Failed to execute 'digest' on 'SubtleCrypto'";
      if (this === null || typeof this !== "object" || !(#brand in this)) {
        throw new TypeError("Illegal invocation");
      }
      if (arguments.length < 2) {
        throw new TypeError(
          `${what}: 2 arguments required, but only ${arguments.length} ` +
            "present.",
        );
      }
      const name = normalizeDigest(algorithm);
      const bytes = bufferSourceBytes(data, what);
      const out = await opAsync("op_crypto_digest", name, bytes);
      const buffer = typedArrayBuffer(out);
      const offset = typedArrayByteOffset(out);
      const length = typedArrayByteLength(out);
      return offset === 0 && length === arrayBufferByteLength(buffer)
        ? buffer
        : arrayBufferSlice(buffer, offset, offset + length);
    }
  }
  defineProperty(SubtleCrypto.prototype, SymbolToStringTag, {
    value: "SubtleCrypto",
    configurable: true,
  });
  inspectFields(SubtleCrypto.prototype, []);

  const subtle = new SubtleCrypto(illegal);

  class Crypto {
    #brand = true;

    constructor(key = undefined) {
      if (key !== illegal) {
        throw new TypeError("Illegal constructor");
      }
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#brand in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get subtle() {
      Crypto.#check(this);
      return subtle;
    }

    getRandomValues(array) {
      Crypto.#check(this);
      const what = "Failed to execute 'getRandomValues' on 'Crypto'";
      if (arguments.length === 0) {
        throw new TypeError(
          `${what}: 1 argument required, but only 0 present.`,
        );
      }
      if (!isView(array)) {
        throw new TypeError(`${what}: Argument 1 is not an ArrayBufferView.`);
      }
      if (!integerArrayTypes.includes(typedArrayTag(array))) {
        throw new DOMException(
          "The provided ArrayBufferView is not an integer array type",
          "TypeMismatchError",
        );
      }
      const n = typedArrayByteLength(array);
      if (n > 65536) {
        throw new DOMException(
          `The ArrayBufferView's byte length (${n}) exceeds the number of ` +
            "bytes of entropy available via this API (65536)",
          "QuotaExceededError",
        );
      }
      if (n > 0) {
        const bytes = opSync("op_crypto_random", n);
        if (
          typedArrayTag(bytes) !== "Uint8Array" ||
          typedArrayLength(bytes) !== n
        ) {
          throw new Error(`op_crypto_random: expected ${n} random bytes`);
        }
        const target = typedArrayBuffer(array);
        const offset = typedArrayByteOffset(array);
        typedArraySet(new Uint8Array(target, offset, n), bytes);
      }
      return array;
    }

    randomUUID() {
      Crypto.#check(this);
      return opSync("op_crypto_random_uuid");
    }
  }
  defineProperty(Crypto.prototype, SymbolToStringTag, {
    value: "Crypto",
    configurable: true,
  });
  inspectFields(Crypto.prototype, ["subtle"]);

  // -------------------------------------------------------------------------
  // The globals, and the hooks the runtime calls.

  defineHidden(globalThis, {
    console: createConsole(),
    setTimeout,
    setInterval,
    clearTimeout,
    clearInterval,
    queueMicrotask,
    structuredClone,
    reportError,
    TextEncoder,
    TextDecoder,
    atob,
    btoa,
    DOMException,
    Event,
    CustomEvent,
    EventTarget,
    Window,
    Performance,
    PerformanceEntry,
    PerformanceMark,
    PerformanceMeasure,
    performance: new Performance(illegal),
    Crypto,
    SubtleCrypto,
    crypto: new Crypto(illegal),
    self: globalThis,
    window: globalThis,
    onload: null,
    onunload: null,
  });

  // Dispatches a plain Event named type on globalThis, then calls the
  // matching on<type> handler. Called from the runtime with no script on
  // the stack, so a microtask checkpoint follows each listener, as in a
  // browser.
  function dispatch(type) {
    const event = new Event(`${type}`);
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
      version: "0.1.0",
    }),
    writable: false,
    enumerable: false,
    configurable: false,
  });

  return freeze({ fireTimers, dispatch, resolveOps });
})(globalThis.__iso);
