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

  //
  // All of it but the few helpers other parts use (isInstanceof, the
  // brand checks below, inspectFields) is made the first time a context
  // formats a value (inspectApi()), not when the prelude runs, so a new
  // context deserializes none of its ~70 functions (docs/architecture.md,
  // "Where the time goes"); console.log of strings alone never needs it.

  let inspectExports;

  function inspectApi() {
    if (inspectExports === undefined) {
      inspectExports = inspectModule();
    }
    return inspectExports;
  }

  function inspect(value, options) {
    return inspectApi().inspect(value, options);
  }

  function isInstanceof(value, ctor) {
    try {
      return value instanceof ctor;
    } catch {
      return false;
    }
  }

  const isMap = (v) => passes(mapSize, v);
  const isSet = (v) => passes(setSize, v);
  const isError = (v) =>
    objectToString(v) === "[object Error]" || isInstanceof(v, Error);
  const isArrayBuffer = (v) => passes(arrayBufferByteLength, v);
  const isSharedArrayBuffer = (v) =>
    sharedArrayBufferByteLength !== undefined &&
    passes(sharedArrayBufferByteLength, v);
  const isDataView = (v) => passes(dataViewByteLength, v);

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

  function inspectModule() {
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
      if (domExceptions.has(value) || value === loadedDOMExceptionProto()) {
        return formatDOMException(ctx, value, recurseTimes);
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

    // A DOMException is shown as Deno shows it: its stack as it is (a string
    // stack is the whole inspection: no own properties, no cause, and no
    // indentation added when nested), else `Name { message, name, code }`;
    // DOMException.prototype lists the three as getters.
    function formatDOMException(ctx, value, recurseTimes) {
      const fields = ["message", "name", "code"];
      const shown = {};
      if (value === loadedDOMExceptionProto()) {
        for (const field of fields) {
          shown[field] = "[Getter]";
        }
        return `DOMException ${formatValue(ctx, shown, recurseTimes)}`.replace(
          /"\[Getter\]"/g,
          "[Getter]",
        );
      }
      let stack;
      try {
        stack = value.stack;
      } catch {
        stack = undefined;
      }
      if (typeof stack === "string") {
        return stack;
      }
      for (const field of fields) {
        shown[field] = domExceptionField(value, field);
      }
      const name = getConstructorName(value) ?? "DOMException";
      return `${name} ${formatValue(ctx, shown, recurseTimes)}`;
    }

    function domExceptionField(value, field) {
      try {
        return value[field];
      } catch {
        return undefined;
      }
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

    const isTypedArray = (v) => typedArrayTag(v) !== undefined;
    const isDate = (v) => passes(dateGetTime, v);
    const isRegExp = (v) =>
      v !== RegExp.prototype && passes(regexpSource, v);
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
    // "MyError [TypeError]: ..." for a subclass that keeps the builtin name.
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


    return { inspect };
  }
