  // -------------------------------------------------------------------------
  // performance.
  //
  // The classes and the performance object are made the first time a
  // context reads one of the five globals (performanceApi(), defineLazy
  // in 99-globals.js), not when the prelude runs, so a new context
  // deserializes none of their objects (docs/architecture.md, "Where the
  // time goes"). The marks and measures are the context's, made with them.

  const illegal = Symbol("illegal constructor");
  let performanceExports;

  // performanceApi(): { Performance, PerformanceEntry, PerformanceMark,
  // PerformanceMeasure, performance } of this context, made on first use.
  function performanceApi() {
    if (performanceExports === undefined) {
      performanceExports = performanceModule();
    }
    return performanceExports;
  }

  function performanceModule() {
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
      throw new (domExceptionApi().DOMException)(
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
        return timeOrigin();
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
        return { timeOrigin: timeOrigin() };
      }
    }
    inspectFields(Performance.prototype, ["timeOrigin"]);

    // WebIDL's class strings ([object Name]), as Deno has them.
    for (const klass of [PerformanceEntry, PerformanceMark, PerformanceMeasure, Performance]) {
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: klass.name,
        configurable: true,
      });
    }

    return {
      Performance,
      PerformanceEntry,
      PerformanceMark,
      PerformanceMeasure,
      performance: new Performance(illegal),
    };
  }
