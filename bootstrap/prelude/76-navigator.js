  // -------------------------------------------------------------------------
  // navigator (a Navigator, as in Deno: userAgent, hardwareConcurrency,
  // language, languages). Its values are read on first use, not when the
  // prelude runs.

  const navigatorNatives = { cpuCount: iso.cpuCount, version: iso.version };
  let navigatorLanguages;

  function defaultLanguages() {
    if (navigatorLanguages === undefined) {
      let language = "en-US";
      try {
        language = new Intl.DateTimeFormat().resolvedOptions().locale;
      } catch {
        // no Intl: keep en-US
      }
      navigatorLanguages = freeze([language]);
    }
    return navigatorLanguages;
  }

  // Navigator and navigator are made the first time a context reads one
  // of them (defineLazy), not when the prelude runs.
  let navigatorExports;

  function navigatorApi() {
    if (navigatorExports === undefined) {
      navigatorExports = navigatorModule();
    }
    return navigatorExports;
  }

  function navigatorModule() {
    class Navigator {
      constructor(key = undefined) {
        if (key !== illegal) {
          throw new TypeError("Illegal constructor");
        }
      }

      static #check(self) {
        if (!(self instanceof Navigator)) {
          throw new TypeError("Illegal invocation");
        }
      }

      get hardwareConcurrency() {
        Navigator.#check(this);
        const count = navigatorNatives.cpuCount;
        return typeof count === "function" ? count() : 1;
      }

      get userAgent() {
        Navigator.#check(this);
        return `isopool/${navigatorNatives.version ?? "0"}`;
      }

      get language() {
        Navigator.#check(this);
        return defaultLanguages()[0];
      }

      get languages() {
        Navigator.#check(this);
        return defaultLanguages();
      }
    }
    defineProperty(Navigator.prototype, SymbolToStringTag, {
      value: "Navigator",
      configurable: true,
    });
    inspectFields(Navigator.prototype, [
      "hardwareConcurrency",
      "userAgent",
      "language",
      "languages",
    ]);


    return { Navigator, navigator: new Navigator(illegal) };
  }
  defineLazy(globalThis, ["Navigator", "navigator"], navigatorApi);
