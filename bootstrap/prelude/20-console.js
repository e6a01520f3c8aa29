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

  // consoleApi(): { console } of this context, made the first time the
  // global is read, not when the prelude runs, so a new context
  // deserializes none of its methods.
  let consoleExports;

  function consoleApi() {
    if (consoleExports === undefined) {
      consoleExports = { console: createConsole() };
    }
    return consoleExports;
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
      l + widths.map((w) => "\u2500".repeat(w + 2)).join(m) + r;
    const render = (row) =>
      "\u2502" +
      row
        .map((c, i) => {
          const pad = widths[i] - c.length;
          const left = Math.floor(pad / 2);
          return ` ${" ".repeat(left)}${c}${" ".repeat(pad - left)} `;
        })
        .join("\u2502") +
      "\u2502";
    return [
      line("\u250c", "\u252c", "\u2510"),
      render(head),
      line("\u251c", "\u253c", "\u2524"),
      ...body.map(render),
      line("\u2514", "\u2534", "\u2518"),
    ].join("\n");
  }

