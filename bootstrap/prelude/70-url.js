  // -------------------------------------------------------------------------
  // URL and URLSearchParams (the WHATWG URL standard).
  //
  // Parsing and the setters are ada's (isolate/v8s_url.cc): a URL is its
  // href plus the offsets of its components in it, which every getter
  // slices (the shape of Node's lib/internal/url.js, on the same parser).
  // URLSearchParams is JavaScript: a list of [name, value] pairs, parsed
  // and serialized as application/x-www-form-urlencoded here, kept in step
  // with its URL both ways. Error messages are Deno's.
  //
  // Both classes are made the first time a context needs them (urlApi():
  // the globals' lazy accessors, fetch, the body part, URLPattern), not
  // when the prelude runs: every context is a copy of the snapshot's, and
  // the ~70 functions and objects of this part made there cost each new
  // context its share of deserializing (docs/architecture.md, "Where the
  // time goes"). What urlModule() uses of the global scope when it runs
  // is captured here, since user code may have replaced it by then.

  const urlParse = iso.urlParse;
  const urlCanParse = iso.urlCanParse;
  const urlSet = iso.urlSet;
  const urlOrigin = iso.urlOrigin;
  const urlUint8Array = Uint8Array;
  const urlDeleteProperty = Reflect.deleteProperty;

  // blobUrlStore(): this realm's blob URL store, a Map from a blob: URL
  // (as createObjectURL made it: no fragment) to its Blob. fetch resolves
  // a blob: URL by looking up its href without the fragment
  // (withoutFragment) here.
  let blobUrls;

  function blobUrlStore() {
    if (blobUrls === undefined) {
      blobUrls = new Map();
    }
    return blobUrls;
  }

  function withoutFragment(href) {
    const hash = href.indexOf("#");
    return hash === -1 ? href : href.slice(0, hash);
  }

  let urlExports;

  // urlApi(): { URL, URLSearchParams, toUSVString } of this context, made
  // on first use. The prelude's own users call it rather than read the
  // globals, which user code may replace or delete.
  function urlApi() {
    if (urlExports === undefined) {
      urlExports = urlModule();
    }
    return urlExports;
  }

  function urlModule() {

    // What the natives write: the offsets of ada::url_components, then the
    // scheme type. One array per context, made on first use and copied out
    // at once (a URL keeps plain numbers).
    let urlSlots;
    const kOmitted = 0xffffffff;
    const kSchemeNotSpecial = 1;
    const kSchemeFile = 6;
    // The setters of urlSet, by index (kSetters in v8s_url.cc).
    const kSetProtocol = 0;
    const kSetUsername = 1;
    const kSetPassword = 2;
    const kSetHost = 3;
    const kSetHostname = 4;
    const kSetPort = 5;
    const kSetPathname = 6;
    const kSetSearch = 7;
    const kSetHash = 8;

    // What URL.parse passes its constructor, with the href it parsed.
    const parsedHref = {};
    // The privileged paths between the classes, set by their static blocks:
    // a URL's query from its URLSearchParams, and back; a new
    // URLSearchParams of a URL; an iterator's list.
    let urlSetQuery;
    let paramsReset;
    let newParams;
    let paramsList;
    let newParamsIterator;
    const kIterKeys = 0;
    const kIterValues = 1;
    const kIterEntries = 2;
    const kInspectBreak = 80; // Node's breakLength, which Deno's output has

    const loneSurrogate = /[\uD800-\uDFFF]/;
    const loneSurrogates =
      /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

    // WebIDL USVString: ToString (a Symbol throws), lone surrogates to
    // U+FFFD. The natives do the latter themselves, as they encode UTF-8.
    function toUSVString(value) {
      const s = typeof value === "string" ? value : `${value}`;
      return loneSurrogate.test(s) ? s.replace(loneSurrogates, "\uFFFD") : s;
    }

    const toDOMString = (value) =>
      typeof value === "string" ? value : `${value}`;

    // Node's ERR_INVALID_ARG_TYPE tail, as Deno prints it.
    function receivedType(value) {
      if (value === null) {
        return "null";
      }
      return typeof value === "object" ? "object" : typeof value;
    }

    // ---- application/x-www-form-urlencoded ----

    // The form set's complement in ASCII (what stays as it is), and each
    // byte's "%XX".
    const formSafeAscii = new urlUint8Array(128);
    for (const c of
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._") {
      formSafeAscii[c.charCodeAt(0)] = 1;
    }
    const percentHex = [];
    for (let i = 0; i < 256; i++) {
      percentHex.push(`%${i < 16 ? "0" : ""}${i.toString(16).toUpperCase()}`);
    }
    const formMarks = /[!'()~]/g;
    const formMark = {
      "!": "%21",
      "'": "%27",
      "(": "%28",
      ")": "%29",
      "~": "%7E",
    };

    // A USVString percent-encoded with the form set, space as "+". ASCII is
    // encoded here, a run of safe characters sliced whole (a loop: the
    // replace with a callback that fixed up encodeURIComponent's output
    // cost more than half of toString); from the first non-ASCII character
    // on, encodeURIComponent does the UTF-8, and only its "%20" and the
    // marks it leaves ("!'()~") are fixed up.
    function formEncode(s) {
      let out = "";
      let start = 0;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          let rest = encodeURIComponent(s.slice(start));
          if (rest.indexOf("%20") !== -1) {
            rest = rest.replaceAll("%20", "+");
          }
          formMarks.lastIndex = 0;
          if (formMarks.test(rest)) {
            rest = rest.replace(formMarks, (m) => formMark[m]);
          }
          return out + rest;
        }
        if (formSafeAscii[c] === 1) {
          continue;
        }
        if (i > start) {
          out += s.slice(start, i);
        }
        out += c === 0x20 ? "+" : percentHex[c];
        start = i + 1;
      }
      return start === 0 ? s : out + s.slice(start);
    }

    function hexValue(c) {
      if (c >= 0x30 && c <= 0x39) {
        return c - 0x30;
      }
      c |= 0x20;
      return c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
    }

    // "+" as space, then percent-decoding of the UTF-8 bytes, bad sequences
    // as U+FFFD. decodeURIComponent is the fast path; it throws where the
    // standard keeps a stray "%" or decodes bytes that are not UTF-8.
    function formDecode(s) {
      if (s.indexOf("+") !== -1) {
        s = s.replaceAll("+", " ");
      }
      if (s.indexOf("%") === -1) {
        return s;
      }
      try {
        return decodeURIComponent(s);
      } catch {
        // the byte-wise decoding below
      }
      const bytes = encodeUtf8(s);
      const out = new Uint8Array(bytes.length);
      let n = 0;
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if (b === 0x25 && i + 2 < bytes.length) {
          const hi = hexValue(bytes[i + 1]);
          const lo = hexValue(bytes[i + 2]);
          if (hi >= 0 && lo >= 0) {
            out[n++] = hi * 16 + lo;
            i += 2;
            continue;
          }
        }
        out[n++] = b;
      }
      return decodeUtf8(out.subarray(0, n), false);
    }

    // The list of [name, value] pairs a form-urlencoded string holds.
    function formParse(s) {
      const list = [];
      if (s === "") {
        return list;
      }
      for (const sequence of s.split("&")) {
        if (sequence === "") {
          continue;
        }
        const eq = sequence.indexOf("=");
        if (eq === -1) {
          list.push([formDecode(sequence), ""]);
        } else {
          list.push([
            formDecode(sequence.slice(0, eq)),
            formDecode(sequence.slice(eq + 1)),
          ]);
        }
      }
      return list;
    }

    function formSerialize(list) {
      let out = "";
      for (let i = 0; i < list.length; i++) {
        if (i > 0) {
          out += "&";
        }
        out += `${formEncode(list[i][0])}=${formEncode(list[i][1])}`;
      }
      return out;
    }

    // ---- URL ----


    class URL {
      #href = "";
      #protocolEnd = 0;
      #usernameEnd = 0;
      #hostStart = 0;
      #hostEnd = 0;
      #port = kOmitted;
      #pathnameStart = 0;
      #searchStart = kOmitted;
      #hashStart = kOmitted;
      #scheme = kSchemeNotSpecial;
      #searchParams = null;

      static {
        definePlatformBrand((value) => #href in value);
        // The query a URLSearchParams' change gives its URL ("" drops it).
        urlSetQuery = (url, query) => {
          url.#update(kSetSearch, query);
        };
      }

      constructor(url, base = undefined) {
        if (url === parsedHref) {
          this.#take(base); // URL.parse's: base is the href just parsed
          return;
        }
        if (arguments.length < 1) {
          throw new TypeError(
            "Failed to construct 'URL': 1 argument required, but only 0 present",
          );
        }
        url = toDOMString(url);
        if (base !== undefined) {
          base = toDOMString(base);
        }
        const href = parse(url, base);
        if (href === undefined) {
          throw new TypeError(
            base === undefined
              ? `Invalid URL: '${url}'`
              : `Invalid URL: '${url}' with base '${base}'`,
          );
        }
        this.#take(href);
      }

      static parse(url, base = undefined) {
        if (arguments.length < 1) {
          throw new TypeError(
            "Failed to execute 'URL.parse': 1 argument required, but only 0 " +
              "present",
          );
        }
        url = toDOMString(url);
        if (base !== undefined) {
          base = toDOMString(base);
        }
        const href = parse(url, base);
        if (href === undefined) {
          return null;
        }
        return new URL(parsedHref, href);
      }

      static canParse(url, base = undefined) {
        if (arguments.length < 1) {
          throw new TypeError(
            "Failed to execute 'URL.canParse': 1 argument required, but only " +
              "0 present",
          );
        }
        url = toDOMString(url);
        if (base !== undefined) {
          base = toDOMString(base);
        }
        return urlCanParse(url, base);
      }

      // blob: URLs (the File API): createObjectURL(blob) adds an entry to
      // this realm's store (blobUrlStore, below) under a new
      // "blob:null/<uuid>" (Deno's origin for them too), revokeObjectURL(url)
      // removes the entry of url (without its fragment); a url that does not
      // parse, or names no entry, is ignored (Deno throws for one that does
      // not parse).
      static createObjectURL(blob) {
        if (arguments.length < 1) {
          throw new TypeError(
            "Failed to execute 'createObjectURL' on 'URL': 1 argument " +
              "required, but only 0 present",
          );
        }
        if (blobExports === undefined || !blobExports.isBlob(blob)) {
          // Deno's two messages: an object of Blob.prototype that is no Blob
          // fails the brand check after the instanceof one
          throw new TypeError(
            blobExports !== undefined && blob instanceof blobExports.Blob
              ? "Failed to execute 'createObjectURL' on 'URL': Argument 1 is " +
                "not of type Blob"
              : "Failed to execute 'createObjectURL' on 'URL': The \"blob\" " +
                "argument must be an instance of Blob",
          );
        }
        const url = `blob:null/${opSync("op_crypto_random_uuid")}`;
        mapSet(blobUrlStore(), url, blob);
        return url;
      }

      static revokeObjectURL(url) {
        if (arguments.length < 1) {
          throw new TypeError(
            "Failed to execute 'revokeObjectURL' on 'URL': 1 argument " +
              "required, but only 0 present",
          );
        }
        const href = parse(toDOMString(url), undefined);
        if (href === undefined || blobUrls === undefined) {
          return;
        }
        mapDelete(blobUrls, withoutFragment(href));
      }

      // The slots the last native call wrote, copied into this URL.
      #take(href) {
        const s = urlSlots;
        this.#href = href;
        this.#protocolEnd = s[0];
        this.#usernameEnd = s[1];
        this.#hostStart = s[2];
        this.#hostEnd = s[3];
        this.#port = s[4];
        this.#pathnameStart = s[5];
        this.#searchStart = s[6];
        this.#hashStart = s[7];
        this.#scheme = s[8];
      }

      // One setter through ada; a refused value leaves the URL as it was.
      #update(setter, value) {
        const href = urlSet(slots(), this.#href, setter, value);
        if (href !== undefined) {
          this.#take(href);
        }
        return href !== undefined;
      }

      static #check(url) {
        if (url === null || typeof url !== "object" || !(#href in url)) {
          throw new TypeError("Illegal invocation");
        }
      }

      get href() {
        URL.#check(this);
        return this.#href;
      }

      set href(value) {
        URL.#check(this);
        value = toDOMString(value);
        const href = parse(value, undefined);
        if (href === undefined) {
          throw new TypeError(`Invalid URL: '${value}'`);
        }
        this.#take(href);
        if (this.#searchParams !== null) {
          paramsReset(this.#searchParams, this.#query());
        }
      }

      get origin() {
        URL.#check(this);
        if (this.#scheme !== kSchemeNotSpecial) {
          if (this.#scheme === kSchemeFile) {
            return "null";
          }
          return `${this.#href.slice(0, this.#protocolEnd)}//${this.host}`;
        }
        if (this.#href.startsWith("blob:")) {
          return urlOrigin(this.#href);
        }
        return "null";
      }

      get protocol() {
        URL.#check(this);
        return this.#href.slice(0, this.#protocolEnd);
      }

      set protocol(value) {
        URL.#check(this);
        this.#update(kSetProtocol, toDOMString(value));
      }

      get username() {
        URL.#check(this);
        if (this.#protocolEnd + 2 < this.#usernameEnd) {
          return this.#href.slice(this.#protocolEnd + 2, this.#usernameEnd);
        }
        return "";
      }

      set username(value) {
        URL.#check(this);
        this.#update(kSetUsername, toDOMString(value));
      }

      get password() {
        URL.#check(this);
        if (this.#hostStart - this.#usernameEnd > 0) {
          return this.#href.slice(this.#usernameEnd + 1, this.#hostStart);
        }
        return "";
      }

      set password(value) {
        URL.#check(this);
        this.#update(kSetPassword, toDOMString(value));
      }

      get host() {
        URL.#check(this);
        let start = this.#hostStart;
        if (this.#href[start] === "@") {
          start++;
        }
        // An empty host: what lies between host_end and pathname_start may
        // be a "/".
        if (start === this.#hostEnd) {
          return "";
        }
        return this.#href.slice(start, this.#pathnameStart);
      }

      set host(value) {
        URL.#check(this);
        this.#update(kSetHost, toDOMString(value));
      }

      get hostname() {
        URL.#check(this);
        let start = this.#hostStart;
        if (this.#href[start] === "@") {
          start++;
        }
        return this.#href.slice(start, this.#hostEnd);
      }

      set hostname(value) {
        URL.#check(this);
        this.#update(kSetHostname, toDOMString(value));
      }

      get port() {
        URL.#check(this);
        return this.#port === kOmitted ? "" : `${this.#port}`;
      }

      set port(value) {
        URL.#check(this);
        this.#update(kSetPort, toDOMString(value));
      }

      get pathname() {
        URL.#check(this);
        let end = this.#href.length;
        if (this.#searchStart !== kOmitted) {
          end = this.#searchStart;
        } else if (this.#hashStart !== kOmitted) {
          end = this.#hashStart;
        }
        return this.#href.slice(this.#pathnameStart, end);
      }

      set pathname(value) {
        URL.#check(this);
        this.#update(kSetPathname, toDOMString(value));
      }

      // The query without its "?" ("" when there is none).
      #query() {
        if (this.#searchStart === kOmitted) {
          return "";
        }
        const end =
          this.#hashStart !== kOmitted ? this.#hashStart : this.#href.length;
        return this.#href.slice(this.#searchStart + 1, end);
      }

      get search() {
        URL.#check(this);
        const query = this.#query();
        return query === "" ? "" : `?${query}`;
      }

      set search(value) {
        URL.#check(this);
        this.#update(kSetSearch, toDOMString(value));
        if (this.#searchParams !== null) {
          paramsReset(this.#searchParams, this.#query());
        }
      }

      get hash() {
        URL.#check(this);
        if (
          this.#hashStart === kOmitted ||
          this.#href.length - this.#hashStart <= 1
        ) {
          return "";
        }
        return this.#href.slice(this.#hashStart);
      }

      set hash(value) {
        URL.#check(this);
        this.#update(kSetHash, toDOMString(value));
      }

      get searchParams() {
        URL.#check(this);
        if (this.#searchParams === null) {
          this.#searchParams = newParams(this, this.#query());
        }
        return this.#searchParams;
      }

      toString() {
        URL.#check(this);
        return this.#href;
      }

      toJSON() {
        URL.#check(this);
        return this.#href;
      }

    }

    function slots() {
      if (urlSlots === undefined) {
        urlSlots = new Uint32Array(9);
      }
      return urlSlots;
    }

    // The href of url parsed against base (undefined: none), or undefined.
    function parse(url, base) {
      return urlParse(slots(), url, base);
    }

    inspectFields(URL.prototype, [
      "href",
      "origin",
      "protocol",
      "username",
      "password",
      "host",
      "hostname",
      "port",
      "pathname",
      "hash",
      "search",
    ]);

    // ---- URLSearchParams ----

    class URLSearchParams {
      #list = [];
      #url = null;

      static {
        definePlatformBrand((value) => #list in value);
        newParams = (url, query) => {
          const params = new URLSearchParams();
          params.#url = url;
          params.#list = formParse(query);
          return params;
        };
        paramsReset = (params, query) => {
          params.#list = formParse(query);
        };
        paramsList = (params) => params.#list;
      }

      constructor(init = undefined) {
        if (init === undefined || init === null) {
          if (init === null) {
            this.#list = formParse("null");
          }
          return;
        }
        if (typeof init === "object" || typeof init === "function") {
          const method = init[SymbolIterator];
          if (method !== undefined && method !== null) {
            if (typeof method !== "function") {
              throw new TypeError("Query pairs must be iterable");
            }
            for (const pair of fnCall(method, init)) {
              if (
                pair === null ||
                (typeof pair !== "object" && typeof pair !== "function") ||
                typeof pair[SymbolIterator] !== "function"
              ) {
                throw new TypeError(
                  "Each query pair must be an iterable [name, value] tuple",
                );
              }
              const items = [...pair];
              if (items.length !== 2) {
                throw new TypeError(
                  "Each query pair must be an iterable [name, value] tuple",
                );
              }
              this.#list.push([toUSVString(items[0]), toUSVString(items[1])]);
            }
            return;
          }
          // A record: own enumerable keys, in order.
          for (const key of ownKeys(init)) {
            const desc = getOwnPropertyDescriptor(init, key);
            if (desc !== undefined && desc.enumerable) {
              const name = toUSVString(key);
              this.#list.push([name, toUSVString(init[key])]);
            }
          }
          return;
        }
        let s = toUSVString(init);
        if (s[0] === "?") {
          s = s.slice(1);
        }
        this.#list = formParse(s);
      }

      static #check(params) {
        if (
          params === null ||
          typeof params !== "object" ||
          !(#list in params)
        ) {
          throw new TypeError(
            'Value of "this" must be of type URLSearchParams',
          );
        }
      }

      // The URL's query follows the list.
      #changed() {
        if (this.#url !== null) {
          urlSetQuery(this.#url, formSerialize(this.#list));
        }
      }

      append(name, value) {
        URLSearchParams.#check(this);
        if (arguments.length < 2) {
          throw new TypeError(
            'The "name" and "value" arguments must be specified',
          );
        }
        this.#list.push([toUSVString(name), toUSVString(value)]);
        this.#changed();
      }

      delete(name, value = undefined) {
        URLSearchParams.#check(this);
        if (arguments.length < 1) {
          throw new TypeError('The "name" argument must be specified');
        }
        name = toUSVString(name);
        const list = this.#list;
        let kept = 0;
        if (value === undefined) {
          for (let i = 0; i < list.length; i++) {
            if (list[i][0] !== name) {
              list[kept++] = list[i];
            }
          }
        } else {
          value = toUSVString(value);
          for (let i = 0; i < list.length; i++) {
            if (list[i][0] !== name || list[i][1] !== value) {
              list[kept++] = list[i];
            }
          }
        }
        list.length = kept;
        this.#changed();
      }

      get(name) {
        URLSearchParams.#check(this);
        if (arguments.length < 1) {
          throw new TypeError('The "name" argument must be specified');
        }
        name = toUSVString(name);
        for (const pair of this.#list) {
          if (pair[0] === name) {
            return pair[1];
          }
        }
        return null;
      }

      getAll(name) {
        URLSearchParams.#check(this);
        if (arguments.length < 1) {
          throw new TypeError('The "name" argument must be specified');
        }
        name = toUSVString(name);
        const out = [];
        for (const pair of this.#list) {
          if (pair[0] === name) {
            out.push(pair[1]);
          }
        }
        return out;
      }

      has(name, value = undefined) {
        URLSearchParams.#check(this);
        if (arguments.length < 1) {
          throw new TypeError('The "name" argument must be specified');
        }
        name = toUSVString(name);
        if (value !== undefined) {
          value = toUSVString(value);
        }
        for (const pair of this.#list) {
          if (pair[0] === name && (value === undefined || pair[1] === value)) {
            return true;
          }
        }
        return false;
      }

      set(name, value) {
        URLSearchParams.#check(this);
        if (arguments.length < 2) {
          throw new TypeError(
            'The "name" and "value" arguments must be specified',
          );
        }
        name = toUSVString(name);
        value = toUSVString(value);
        const list = this.#list;
        let found = false;
        let kept = 0;
        for (let i = 0; i < list.length; i++) {
          if (list[i][0] !== name) {
            list[kept++] = list[i];
          } else if (!found) {
            found = true;
            list[i][1] = value;
            list[kept++] = list[i];
          }
        }
        list.length = kept;
        if (!found) {
          list.push([name, value]);
        }
        this.#changed();
      }

      // Stable, by the names' code units.
      sort() {
        URLSearchParams.#check(this);
        this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        this.#changed();
      }

      get size() {
        URLSearchParams.#check(this);
        return this.#list.length;
      }

      toString() {
        URLSearchParams.#check(this);
        return formSerialize(this.#list);
      }

      forEach(callback, thisArg = undefined) {
        URLSearchParams.#check(this);
        if (typeof callback !== "function") {
          throw new TypeError(
            'The "callback" argument must be of type function. Received ' +
              receivedType(callback),
          );
        }
        // Live: pairs added or removed by the callback are seen.
        for (let i = 0; i < this.#list.length; i++) {
          const pair = this.#list[i];
          fnCall(callback, thisArg, pair[1], pair[0], this);
        }
      }

      entries() {
        URLSearchParams.#check(this);
        return newParamsIterator(this, kIterEntries);
      }

      keys() {
        URLSearchParams.#check(this);
        return newParamsIterator(this, kIterKeys);
      }

      values() {
        URLSearchParams.#check(this);
        return newParamsIterator(this, kIterValues);
      }

      // Node's inspection, as Deno prints it.
      [customInspect](inspectValue, options) {
        const output = this.#list.map(
          (pair) =>
            `${inspectValue(pair[0], options)} => ` +
            inspectValue(pair[1], options),
        );
        let length = -2;
        for (const item of output) {
          length += item.length + 2;
        }
        if (length > kInspectBreak) {
          return `URLSearchParams {\n  ${output.join(",\n  ")} }`;
        }
        if (output.length > 0) {
          return `URLSearchParams { ${output.join(", ")} }`;
        }
        return "URLSearchParams {}";
      }
    }


    // The iterators of keys(), values(), entries(): live, an index into the
    // list as it is when next() is called.
    class URLSearchParamsIterator {
      #params;
      #kind;
      #index = 0;

      static {
        newParamsIterator = (params, kind) => {
          const it = new URLSearchParamsIterator();
          it.#params = params;
          it.#kind = kind;
          return it;
        };
      }

      next() {
        if (this === null || typeof this !== "object" || !(#kind in this)) {
          throw new TypeError(
            'Value of "this" must be of type URLSearchParamsIterator',
          );
        }
        const list = paramsList(this.#params);
        if (this.#index >= list.length) {
          return { value: undefined, done: true };
        }
        const pair = list[this.#index++];
        const value =
          this.#kind === kIterKeys
            ? pair[0]
            : this.#kind === kIterValues
            ? pair[1]
            : [pair[0], pair[1]];
        return { value, done: false };
      }

      // Node's inspection, as Deno prints it: what is left to iterate.
      [customInspect](inspectValue, options) {
        if (!(#kind in this)) {
          return "URLSearchParams Iterator {}"; // the prototype
        }
        const left = paramsList(this.#params)
          .slice(this.#index)
          .map((pair) =>
            this.#kind === kIterKeys
              ? pair[0]
              : this.#kind === kIterValues
              ? pair[1]
              : [pair[0], pair[1]],
          );
        const items = left.map((v) => inspectValue(v, options));
        const text = inspectValue(left, options);
        return text.includes("\n")
          ? `URLSearchParams Iterator {\n  ${items.join(",\n  ")} }`
          : `URLSearchParams Iterator { ${items.join(", ")} }`;
      }
    }

    setPrototypeOf(
      URLSearchParamsIterator.prototype,
      getPrototypeOf(getPrototypeOf([][SymbolIterator]())),
    );
    defineProperty(URLSearchParamsIterator.prototype, SymbolToStringTag, {
      value: "URLSearchParams Iterator",
      configurable: true,
    });
    urlDeleteProperty(URLSearchParamsIterator.prototype, "constructor");
    defineHidden(URLSearchParams.prototype, {
      [SymbolIterator]: URLSearchParams.prototype.entries,
    });
    defineProperty(URLSearchParams.prototype, SymbolToStringTag, {
      value: "URLSearchParams",
      configurable: true,
    });
    defineProperty(URL.prototype, SymbolToStringTag, {
      value: "URL",
      configurable: true,
    });

    return { URL, URLSearchParams, toUSVString };
  }

  // WebIDL makes attributes and operations enumerable (Deno does); they
  // stay as class syntax defines them, since redefining some 30
  // properties took 30-50 us per context, a third of this part's cost.
  defineLazy(globalThis, ["URL", "URLSearchParams"], urlApi);

  // URLPattern: the vendored urlpattern-polyfill (bootstrap/vendor/), a
  // lazy part compiled the first time a context reads the global
  // (defineLazy, 80-streams.js). What the package's file reads of the
  // global scope is taken here, when the prelude runs, so a user who
  // replaces URL, RegExp or TypeError first does not reach into it.
  const urlPatternScope = [TypeError, RegExp, Object, Math, Symbol];
  let urlPatternExports;

  function urlPatternApi() {
    if (urlPatternExports === undefined) {
      const { URLPattern } = loadPart("urlpattern")(
        urlApi().URL,
        ...urlPatternScope,
      );
      inspectFields(URLPattern.prototype, [
        "protocol", "username", "password", "hostname", "port", "pathname",
        "search", "hash", "hasRegExpGroups",
      ]);
      defineProperty(URLPattern.prototype, SymbolToStringTag, {
        value: "URLPattern",
        configurable: true,
      });
      urlPatternExports = { URLPattern };
    }
    return urlPatternExports;
  }
  defineLazy(globalThis, ["URLPattern"], urlPatternApi);
