  // -------------------------------------------------------------------------
  // Headers, FormData, the Body mixin, Request, Response (the Fetch
  // standard, without fetch itself: 95-fetch.js builds it on these, through
  // the hooks at the end of this part).
  //
  // A body is kept as bytes (or a Blob) for as long as nobody asks for its
  // stream: text(), json(), arrayBuffer() of a body made from a string
  // never make a ReadableStream, and so never evaluate the streams
  // polyfill. The stream is made the first time `body` is read or a clone
  // tees it. Forbidden header names are not applied, as in Deno on the
  // server side: only the "immutable" guard restricts a Headers.
  //
  // This is a lazy part of the prelude (README.md "Lazy parts"): a script
  // of its own, isopool:bootstrap/body, compiled the first time a context
  // needs one of its classes (80-streams.js's bodyApi(); the globals are
  // lazy accessors, as the streams' are), one function that takes what it
  // uses of the prelude's scope as its argument (80-streams.js's
  // lazyScope()).
  "use strict";

  (function body({
    SymbolIterator,
    SymbolToStringTag,
    blobApi,
    coreDecode,
    customInspect,
    defineHidden,
    definePlatformBrand,
    defineProperty,
    encodeUtf8,
    fnCall,
    getOwnPropertyDescriptor,
    getPrototypeOf,
    hasOwn,
    inspectFields,
    isAbortSignal,
    loadedStreams,
    loadedUrl,
    newAbortSignal,
    objectKeys,
    ownKeys,
    promiseReject,
    setPrototypeOf,
    signalFollow,
    streams,
    toLong,
    typedArrayBuffer,
    urlApi,
  }) {
    const {
      Blob,
      File,
      blobBytes,
      blobFromBytes,
      fileFromBlob,
      normalizeBlobType,
      copyBufferSource,
      joinParts,
    } = blobApi();

    const isHttpWhitespace = (c) => c === 0x20 || c === 0x09 || c === 0x0a ||
      c === 0x0d;
    const tokenRe = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

    function trimHttpWhitespace(s) {
      let a = 0;
      let b = s.length;
      while (a < b && isHttpWhitespace(s.charCodeAt(a))) {
        a++;
      }
      while (b > a && isHttpWhitespace(s.charCodeAt(b - 1))) {
        b--;
      }
      return s.slice(a, b);
    }

    // WebIDL ByteString: a code unit above U+00FF is a TypeError.
    function toByteString(value, what) {
      const s = `${value}`;
      for (let i = 0; i < s.length; i++) {
        if (s.charCodeAt(i) > 0xff) {
          throw new TypeError(`${what}: '${s}' is not a valid ByteString.`);
        }
      }
      return s;
    }

    // WebIDL USVString: lone surrogates become U+FFFD.
    function toUSVString(value) {
      return `${value}`.replace(
        /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
        "\ufffd",
      );
    }

    function headerName(name) {
      const s = toByteString(name, "Header name");
      if (!tokenRe.test(s)) {
        throw new TypeError(`Header name is not valid: "${s}"`);
      }
      return s.toLowerCase();
    }

    function headerValue(value) {
      const s = trimHttpWhitespace(toByteString(value, "Header value"));
      if (/[\0\r\n]/.test(s)) {
        throw new TypeError(`Header value is not valid: "${s}"`);
      }
      return s;
    }

    let headerListOf; // (headers) -> its [[name, value], ...] (names lowercase)
    let headersWithList; // (list, guard) -> a new Headers over list, no copy

    class Headers {
      #list = [];
      #guard = "none";

      constructor(init = undefined) {
        if (init === undefined || init === null) {
          if (init === null) {
            throw new TypeError(
              "Failed to construct 'Headers': The provided value is not of " +
                "type '(record<ByteString, ByteString> or " +
                "sequence<sequence<ByteString>>)'.",
            );
          }
          return;
        }
        this.#fill(init);
      }

      static {
        definePlatformBrand((value) => #list in value);
        headerListOf = (headers) => headers.#list;
        headersWithList = (list, guard) => {
          const headers = new Headers();
          headers.#list = list;
          headers.#guard = guard;
          return headers;
        };
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#list in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      #fill(init) {
        if (typeof init !== "object" && typeof init !== "function") {
          throw new TypeError(
            "Failed to construct 'Headers': The provided value is not of " +
              "type '(record<ByteString, ByteString> or " +
              "sequence<sequence<ByteString>>)'.",
          );
        }
        if (init instanceof Headers) {
          for (const [name, value] of init.#list) {
            this.#list.push([name, value]);
          }
          return;
        }
        if (typeof init[SymbolIterator] === "function") {
          for (const pair of init) {
            if (pair === null || typeof pair !== "object") {
              throw new TypeError(
                "Failed to construct 'Headers': a header is not a sequence.",
              );
            }
            const items = [...pair];
            if (items.length !== 2) {
              throw new TypeError(
                "Failed to construct 'Headers': a header must be a name/value " +
                  "pair.",
              );
            }
            this.append(items[0], items[1]);
          }
          return;
        }
        for (const key of ownKeys(init)) {
          const desc = getOwnPropertyDescriptor(init, key);
          if (desc === undefined || !desc.enumerable) {
            continue;
          }
          if (typeof key === "symbol") {
            throw new TypeError("Cannot convert a Symbol value to a string");
          }
          this.append(key, init[key]);
        }
      }

      #mutable() {
        if (this.#guard === "immutable") {
          throw new TypeError("Headers are immutable.");
        }
      }

      append(name, value) {
        Headers.#check(this);
        const n = headerName(name);
        const v = headerValue(value);
        this.#mutable();
        this.#list.push([n, v]);
      }

      delete(name) {
        Headers.#check(this);
        const n = headerName(name);
        this.#mutable();
        this.#list = this.#list.filter((entry) => entry[0] !== n);
      }

      get(name) {
        Headers.#check(this);
        const n = headerName(name);
        const values = [];
        for (const entry of this.#list) {
          if (entry[0] === n) {
            values.push(entry[1]);
          }
        }
        return values.length === 0 ? null : values.join(", ");
      }

      getSetCookie() {
        Headers.#check(this);
        const values = [];
        for (const entry of this.#list) {
          if (entry[0] === "set-cookie") {
            values.push(entry[1]);
          }
        }
        return values;
      }

      has(name) {
        Headers.#check(this);
        const n = headerName(name);
        return this.#list.some((entry) => entry[0] === n);
      }

      set(name, value) {
        Headers.#check(this);
        const n = headerName(name);
        const v = headerValue(value);
        this.#mutable();
        const list = [];
        let done = false;
        for (const entry of this.#list) {
          if (entry[0] !== n) {
            list.push(entry);
          } else if (!done) {
            list.push([n, v]);
            done = true;
          }
        }
        if (!done) {
          list.push([n, v]);
        }
        this.#list = list;
      }

      // The "sort and combine" list iteration walks: names sorted, values of
      // one name joined with ", ", set-cookie values one by one.
      #sorted() {
        const names = [];
        const seen = new Set();
        for (const entry of this.#list) {
          if (!seen.has(entry[0])) {
            seen.add(entry[0]);
            names.push(entry[0]);
          }
        }
        names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const out = [];
        for (const name of names) {
          if (name === "set-cookie") {
            for (const value of this.getSetCookie()) {
              out.push([name, value]);
            }
          } else {
            out.push([name, this.get(name)]);
          }
        }
        return out;
      }

      forEach(callback, thisArg = undefined) {
        Headers.#check(this);
        if (typeof callback !== "function") {
          throw new TypeError(
            "Failed to execute 'forEach' on 'Headers': parameter 1 is not of " +
              "type 'Function'.",
          );
        }
        for (let i = 0; ; i++) {
          const pairs = this.#sorted();
          if (i >= pairs.length) {
            break;
          }
          fnCall(callback, thisArg, pairs[i][1], pairs[i][0], this);
        }
      }

      entries() {
        return headersIterator(Headers.#check(this), "entries", () =>
          this.#sorted(),
        );
      }

      keys() {
        return headersIterator(Headers.#check(this), "keys", () =>
          this.#sorted(),
        );
      }

      values() {
        return headersIterator(Headers.#check(this), "values", () =>
          this.#sorted(),
        );
      }

      [customInspect](inspectValue, options) {
        const shown = {};
        for (const [name, value] of this.#sorted()) {
          shown[name] = hasOwn(shown, name) ? `${shown[name]}, ${value}` : value;
        }
        return `Headers ${inspectValue(shown, options)}`;
      }
    }

    // A live pair iterator, as WebIDL's iterable<K, V> declares: each next()
    // looks at the current sorted list.
    const headersIteratorProto = {
      next() {
        const state = this?.[headersIteratorState];
        if (state === undefined) {
          throw new TypeError("Illegal invocation");
        }
        const pairs = state.pairs();
        if (state.index >= pairs.length) {
          return { value: undefined, done: true };
        }
        const pair = pairs[state.index++];
        const value =
          state.kind === "keys"
            ? pair[0]
            : state.kind === "values"
              ? pair[1]
              : [pair[0], pair[1]];
        return { value, done: false };
      },
      [SymbolIterator]() {
        return this;
      },
    };
    const headersIteratorState = Symbol("headersIteratorState");
    setPrototypeOf(
      headersIteratorProto,
      getPrototypeOf(getPrototypeOf([][SymbolIterator]())),
    );
    defineProperty(headersIteratorProto, SymbolToStringTag, {
      value: "Headers Iterator",
      configurable: true,
    });
    for (const key of ["next", SymbolIterator]) {
      defineProperty(headersIteratorProto, key, { enumerable: false });
    }

    function headersIterator(headers, kind, pairs) {
      const it = Object.create(headersIteratorProto);
      defineProperty(it, headersIteratorState, {
        value: { kind, index: 0, pairs },
      });
      return it;
    }

    // -------------------------------------------------------------------------
    // FormData.

    let formDataList; // (formData) -> its [[name, value], ...]

    // An entry's value: a string, or a File (a Blob becomes a File named
    // "blob", or filename).
    function formDataEntry(name, value, filename, argc, what) {
      if (argc < 2) {
        throw new TypeError(
          `Failed to execute '${what}' on 'FormData': 2 arguments required, ` +
            `but only ${argc} present.`,
        );
      }
      const n = toUSVString(name);
      if (value instanceof Blob) {
        if (filename === undefined && value instanceof File) {
          return [n, value];
        }
        const fname =
          filename !== undefined
            ? toUSVString(filename)
            : value instanceof File
              ? value.name
              : "blob";
        const lastModified =
          value instanceof File ? value.lastModified : undefined;
        return [n, fileFromBlob(value, fname, lastModified)];
      }
      if (argc > 2) {
        throw new TypeError(
          `Failed to execute '${what}' on 'FormData': parameter 2 is not of ` +
            "type 'Blob'.",
        );
      }
      return [n, toUSVString(value)];
    }

    class FormData {
      #list = [];

      constructor(form = undefined) {
        if (form !== undefined) {
          throw new TypeError(
            "Failed to construct 'FormData': parameter 1 is not of type " +
              "'HTMLFormElement'.",
          );
        }
      }

      static {
        definePlatformBrand((value) => #list in value);
        formDataList = (formData) => formData.#list;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#list in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      append(name, value, filename = undefined) {
        FormData.#check(this);
        this.#list.push(
          formDataEntry(name, value, filename, arguments.length, "append"),
        );
      }

      set(name, value, filename = undefined) {
        FormData.#check(this);
        const entry = formDataEntry(
          name,
          value,
          filename,
          arguments.length,
          "set",
        );
        const list = [];
        let done = false;
        for (const e of this.#list) {
          if (e[0] !== entry[0]) {
            list.push(e);
          } else if (!done) {
            list.push(entry);
            done = true;
          }
        }
        if (!done) {
          list.push(entry);
        }
        this.#list = list;
      }

      delete(name) {
        FormData.#check(this);
        const n = toUSVString(name);
        this.#list = this.#list.filter((e) => e[0] !== n);
      }

      get(name) {
        FormData.#check(this);
        const n = toUSVString(name);
        for (const e of this.#list) {
          if (e[0] === n) {
            return e[1];
          }
        }
        return null;
      }

      getAll(name) {
        FormData.#check(this);
        const n = toUSVString(name);
        return this.#list.filter((e) => e[0] === n).map((e) => e[1]);
      }

      has(name) {
        FormData.#check(this);
        const n = toUSVString(name);
        return this.#list.some((e) => e[0] === n);
      }

      forEach(callback, thisArg = undefined) {
        FormData.#check(this);
        if (typeof callback !== "function") {
          throw new TypeError(
            "Failed to execute 'forEach' on 'FormData': parameter 1 is not " +
              "of type 'Function'.",
          );
        }
        for (let i = 0; i < this.#list.length; i++) {
          const e = this.#list[i];
          fnCall(callback, thisArg, e[1], e[0], this);
        }
      }

      entries() {
        FormData.#check(this);
        return headersIterator(this, "entries", () => this.#list);
      }

      keys() {
        FormData.#check(this);
        return headersIterator(this, "keys", () => this.#list);
      }

      values() {
        FormData.#check(this);
        return headersIterator(this, "values", () => this.#list);
      }
    }

    for (const klass of [Headers, FormData]) {
      defineProperty(klass.prototype, SymbolIterator, {
        value: klass.prototype.entries,
        writable: true,
        configurable: true,
      });
    }
    defineHidden(FormData.prototype, {
      [customInspect](inspectValue, options) {
        const shown = {};
        for (const [name, value] of formDataList(this)) {
          shown[name] = value;
        }
        return `FormData ${inspectValue(shown, options)}`;
      },
    });

    // multipart/form-data, as the HTML standard serializes a form: names and
    // filenames with ", CR and LF percent-escaped, string values with their
    // line breaks made CRLF.
    function escapeFormName(s) {
      return s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
    }

    function toCRLF(s) {
      return s.replace(/\r(?!\n)|(?<!\r)\n/g, "\r\n");
    }

    function encodeMultipart(list) {
      let boundary = "----IsopoolFormBoundary";
      for (let i = 0; i < 24; i++) {
        boundary += "0123456789abcdef"[Math.floor(Math.random() * 16)];
      }
      const parts = [];
      let size = 0;
      const add = (bytes) => {
        parts.push(bytes);
        size += bytes.byteLength;
      };
      for (const [name, value] of list) {
        let head = `--${boundary}\r\nContent-Disposition: form-data; name="${
          escapeFormName(toCRLF(name))
        }"`;
        if (typeof value === "string") {
          add(encodeUtf8(`${head}\r\n\r\n${toCRLF(value)}\r\n`));
        } else {
          head += `; filename="${escapeFormName(value.name)}"\r\n`;
          head += `Content-Type: ${value.type || "application/octet-stream"}`;
          add(encodeUtf8(`${head}\r\n\r\n`));
          add(blobBytes(value));
          add(encodeUtf8("\r\n"));
        }
      }
      add(encodeUtf8(`--${boundary}--\r\n`));
      return {
        bytes: joinParts(parts, size),
        type: `multipart/form-data; boundary=${boundary}`,
      };
    }

    // The limits of the multipart parser: a part's header block, and the
    // headers in it. A body is already bounded by whoever produced it.
    const kMultipartHeaderBytes = 16384;
    const kMultipartHeaders = 32;

    function indexOfBytes(hay, needle, from) {
      const first = needle[0];
      const last = hay.length - needle.length;
      for (let i = from; i <= last; i++) {
        if (hay[i] !== first) {
          continue;
        }
        let j = 1;
        while (j < needle.length && hay[i + j] === needle[j]) {
          j++;
        }
        if (j === needle.length) {
          return i;
        }
      }
      return -1;
    }

    // A parameter of a header value (name="x"; filename="y"): quoted strings
    // may hold backslash escapes, and browsers' %22, %0D, %0A.
    function headerParam(value, key) {
      const re = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
      let m;
      while ((m = re.exec(value)) !== null) {
        if (m[1].toLowerCase() !== key) {
          continue;
        }
        let v = m[2];
        if (v.startsWith('"')) {
          v = v.slice(1, -1).replace(/\\(.)/g, "$1");
        }
        return v
          .replace(/%22/g, '"')
          .replace(/%0D/gi, "\r")
          .replace(/%0A/gi, "\n");
      }
      return undefined;
    }

    function mimeBoundary(contentType) {
      const boundary = headerParam(contentType, "boundary");
      if (boundary === undefined || boundary.length === 0 ||
          boundary.length > 70) {
        throw new TypeError("Missing or invalid multipart boundary");
      }
      return boundary;
    }

    function parseMultipart(bytes, contentType) {
      const fail = (why) => {
        throw new TypeError(`Could not parse the multipart body: ${why}`);
      };
      const boundary = mimeBoundary(contentType);
      const delimiter = encodeUtf8(`--${boundary}`);
      const next = encodeUtf8(`\r\n--${boundary}`);
      const form = new FormData();
      const list = formDataList(form);
      let at = indexOfBytes(bytes, delimiter, 0);
      if (at < 0) {
        fail("no boundary");
      }
      at += delimiter.length;
      for (;;) {
        if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) {
          return form; // the closing delimiter; what follows is ignored
        }
        // transport padding, then CRLF
        while (bytes[at] === 0x20 || bytes[at] === 0x09) {
          at++;
        }
        if (bytes[at] !== 0x0d || bytes[at + 1] !== 0x0a) {
          fail("a boundary is not followed by CRLF");
        }
        at += 2;
        const headEnd = indexOfBytes(bytes, [0x0d, 0x0a, 0x0d, 0x0a], at - 2);
        if (headEnd < 0 || headEnd - at > kMultipartHeaderBytes) {
          fail("a part's headers do not end");
        }
        const head =
          headEnd < at ? "" : coreDecode(bytes.subarray(at, headEnd));
        const lines = head.length === 0 ? [] : head.split("\r\n");
        if (lines.length > kMultipartHeaders) {
          fail("too many headers in a part");
        }
        let disposition;
        let type = "";
        for (const line of lines) {
          const colon = line.indexOf(":");
          if (colon <= 0) {
            fail("a header line has no name");
          }
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          if (name === "content-disposition") {
            disposition = value;
          } else if (name === "content-type") {
            type = value;
          }
        }
        if (disposition === undefined ||
            !/^form-data\s*(;|$)/i.test(disposition)) {
          fail("a part has no form-data Content-Disposition");
        }
        const name = headerParam(disposition, "name");
        if (name === undefined) {
          fail("a part has no name");
        }
        const filename = headerParam(disposition, "filename");
        const bodyStart = headEnd + 4;
        const bodyEnd = indexOfBytes(bytes, next, bodyStart);
        if (bodyEnd < 0) {
          fail("a part does not end");
        }
        const body = bytes.subarray(bodyStart, bodyEnd);
        if (filename !== undefined) {
          list.push([
            name,
            new File([body], filename, { type: type || "text/plain" }),
          ]);
        } else {
          list.push([name, coreDecode(body)]);
        }
        at = bodyEnd + next.length;
      }
    }

    // application/x-www-form-urlencoded, as the URL standard parses it.
    function parseUrlencoded(bytes) {
      const form = new FormData();
      const list = formDataList(form);
      const text = coreDecode(bytes);
      for (const piece of text.split("&")) {
        if (piece.length === 0) {
          continue;
        }
        const eq = piece.indexOf("=");
        const rawName = eq < 0 ? piece : piece.slice(0, eq);
        const rawValue = eq < 0 ? "" : piece.slice(eq + 1);
        list.push([percentDecode(rawName), percentDecode(rawValue)]);
      }
      return form;
    }

    function percentDecode(s) {
      const bytes = encodeUtf8(s.replace(/\+/g, " "));
      const out = new Uint8Array(bytes.length);
      let n = 0;
      const hex = (c) =>
        c >= 0x30 && c <= 0x39
          ? c - 0x30
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : c >= 0x61 && c <= 0x66
              ? c - 0x57
              : -1;
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if (b === 0x25 && i + 2 < bytes.length + 0) {
          const h = hex(bytes[i + 1]);
          const l = hex(bytes[i + 2]);
          if (h >= 0 && l >= 0) {
            out[n++] = h * 16 + l;
            i += 2;
            continue;
          }
        }
        out[n++] = b;
      }
      return coreDecode(out.subarray(0, n));
    }

    // -------------------------------------------------------------------------
    // The Body mixin.
    //
    // A BodyState is one body: bytes (a Uint8Array it owns, or a Blob) until
    // its stream is asked for, then a ReadableStream. `used` is set when a
    // consumer took it without a stream.

    class BodyState {
      constructor(source, stream, length) {
        this.source = source; // Uint8Array | Blob | null
        this.stream = stream; // ReadableStream | null
        this.length = length; // byte count, or null when unknown (a stream)
        this.used = false;
      }
    }

    function isReadableStream(value) {
      return (
        loadedStreams() !== undefined &&
        value instanceof loadedStreams().ReadableStream
      );
    }

    // extractBody(init): { body: BodyState, type } for a BodyInit (the
    // Fetch standard's "extract a body"); type is null when it sets none.
    function extractBody(init) {
      if (typeof init === "string") {
        const bytes = encodeUtf8(init);
        return {
          body: new BodyState(bytes, null, bytes.byteLength),
          type: "text/plain;charset=UTF-8",
        };
      }
      const copied = copyBufferSource(init);
      if (copied !== undefined) {
        return {
          body: new BodyState(copied, null, copied.byteLength),
          type: null,
        };
      }
      if (init instanceof Blob) {
        return {
          body: new BodyState(init, null, init.size),
          type: init.type === "" ? null : init.type,
        };
      }
      if (init instanceof FormData) {
        const { bytes, type } = encodeMultipart(formDataList(init));
        return { body: new BodyState(bytes, null, bytes.byteLength), type };
      }
      if (loadedUrl() !== undefined &&
          init instanceof loadedUrl().URLSearchParams) {
        const bytes = encodeUtf8(`${init}`);
        return {
          body: new BodyState(bytes, null, bytes.byteLength),
          type: "application/x-www-form-urlencoded;charset=UTF-8",
        };
      }
      if (isReadableStream(init)) {
        if (init.locked || init._disturbed) {
          throw new TypeError("ReadableStream is locked or disturbed");
        }
        return { body: new BodyState(null, init, null), type: null };
      }
      return extractBody(`${init}`);
    }

    function bodyUsed(state) {
      if (state === null) {
        return false;
      }
      return state.used || (state.stream !== null && state.stream._disturbed);
    }

    // The body's stream, made from its bytes the first time it is needed.
    function bodyStream(state) {
      if (state.stream === null) {
        const source = state.source;
        state.source = null;
        state.stream =
          source instanceof Blob
            ? source.stream()
            : blobFromBytes(source, "").stream();
      }
      return state.stream;
    }

    async function readAllBytes(stream) {
      const reader = stream.getReader();
      const chunks = [];
      let size = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        if (!(value instanceof Uint8Array)) {
          reader.cancel().catch(() => {});
          throw new TypeError("A body stream chunk is not a Uint8Array");
        }
        chunks.push(value);
        size += value.byteLength;
      }
      return joinParts(chunks, size);
    }

    // The body's bytes, consuming it: a rejection when it was used or its
    // stream is locked.
    async function consumeBody(state) {
      if (state === null) {
        return new Uint8Array(0);
      }
      if (bodyUsed(state)) {
        throw new TypeError("Body already consumed");
      }
      if (state.stream === null) {
        const source = state.source;
        state.source = null;
        state.used = true;
        return source instanceof Blob ? blobBytes(source) : new Uint8Array(source);
      }
      if (state.stream.locked) {
        throw new TypeError("Body is locked");
      }
      return readAllBytes(state.stream);
    }

    // cloneBody(state): a second BodyState with the same bytes; a stream is
    // teed (the original keeps one branch).
    function cloneBody(state) {
      if (state === null) {
        return null;
      }
      if (state.stream === null) {
        return new BodyState(state.source, null, state.length);
      }
      const [a, b] = state.stream.tee();
      state.stream = a;
      return new BodyState(null, b, state.length);
    }

    function mimeEssence(type) {
      return (type ?? "").split(";")[0].trim().toLowerCase();
    }

    // Installs the Body mixin's members on klass.prototype; stateOf(self)
    // checks the receiver and returns its BodyState (or null), headersOf
    // its Headers.
    function installBody(klass, stateOf, headersOf) {
      const proto = klass.prototype;
      const methods = {
        arrayBuffer() {
          try {
            const state = stateOf(this);
            return consumeBody(state).then((b) => typedArrayBuffer(b));
          } catch (error) {
            return promiseReject(error);
          }
        },
        bytes() {
          try {
            return consumeBody(stateOf(this));
          } catch (error) {
            return promiseReject(error);
          }
        },
        blob() {
          try {
            const state = stateOf(this);
            const type = normalizeBlobType(
              headersOf(this).get("content-type") ?? "",
            );
            return consumeBody(state).then((b) => blobFromBytes(b, type));
          } catch (error) {
            return promiseReject(error);
          }
        },
        text() {
          try {
            return consumeBody(stateOf(this)).then((b) => coreDecode(b));
          } catch (error) {
            return promiseReject(error);
          }
        },
        json() {
          try {
            return consumeBody(stateOf(this)).then((b) =>
              JSON.parse(coreDecode(b)),
            );
          } catch (error) {
            return promiseReject(error);
          }
        },
        formData() {
          try {
            const state = stateOf(this);
            const type = headersOf(this).get("content-type") ?? "";
            return consumeBody(state).then((b) => {
              const essence = mimeEssence(type);
              if (essence === "multipart/form-data") {
                return parseMultipart(b, type);
              }
              if (essence === "application/x-www-form-urlencoded") {
                return parseUrlencoded(b);
              }
              throw new TypeError(
                `Body can not be decoded as form data (Content-Type: "${type}")`,
              );
            });
          } catch (error) {
            return promiseReject(error);
          }
        },
      };
      defineHidden(proto, methods);
      for (const name of objectKeys(methods)) {
        defineProperty(proto, name, { enumerable: true });
      }
      defineProperty(proto, "body", {
        get() {
          const state = stateOf(this);
          return state === null ? null : bodyStream(state);
        },
        enumerable: true,
        configurable: true,
      });
      defineProperty(proto, "bodyUsed", {
        get() {
          return bodyUsed(stateOf(this));
        },
        enumerable: true,
        configurable: true,
      });
    }

    // -------------------------------------------------------------------------
    // Request.

    const normalizedMethods = ["DELETE", "GET", "HEAD", "OPTIONS", "POST",
      "PUT"];
    const redirectModes = ["follow", "error", "manual"];

    function normalizeMethod(method) {
      const m = toByteString(method, "Method");
      if (!tokenRe.test(m)) {
        throw new TypeError(`Method is not valid: "${m}"`);
      }
      const upper = m.toUpperCase();
      if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") {
        throw new TypeError(`Method is forbidden: "${m}"`);
      }
      return normalizedMethods.includes(upper) ? upper : m;
    }

    // The URL a Request or Response.redirect keeps, serialized: parsed and
    // serialized as the standard says with the prelude's URL (urlApi(),
    // made here if nothing made it before); an invalid URL is a TypeError.
    function parseUrl(input) {
      const s = toUSVString(input);
      const { URL } = urlApi();
      try {
        return new URL(s).href;
      } catch {
        throw new TypeError(`Invalid URL: '${s}'`);
      }
    }

    let requestState; // (request) -> its internal record

    class Request {
      #r; // { method, url, headers, body, redirect, signal }

      constructor(input, init = {}) {
        if (arguments.length < 1) {
          throw new TypeError(
            "Failed to construct 'Request': 1 argument required, but only 0 " +
              "present.",
          );
        }
        if (init === null || init === undefined) {
          init = {};
        } else if (typeof init !== "object" && typeof init !== "function") {
          throw new TypeError(
            "Failed to construct 'Request': The provided value is not of " +
              "type 'RequestInit'.",
          );
        }
        let from;
        if (input instanceof Request) {
          from = input.#r;
        }
        const r = {
          method: from ? from.method : "GET",
          url: from ? from.url : parseUrl(input),
          headers: null,
          body: null,
          redirect: from ? from.redirect : "follow",
          signal: from ? from.signal : null,
        };
        if (init.method !== undefined) {
          r.method = normalizeMethod(init.method);
        }
        if (init.redirect !== undefined) {
          const mode = `${init.redirect}`;
          if (!redirectModes.includes(mode)) {
            throw new TypeError(
              `Failed to construct 'Request': The provided value '${mode}' ` +
                "is not a valid enum value of type RequestRedirect.",
            );
          }
          r.redirect = mode;
        }
        if (init.signal !== undefined && init.signal !== null) {
          if (!isAbortSignal(init.signal)) {
            throw new TypeError(
              "Failed to construct 'Request': member signal is not of type " +
                "AbortSignal.",
            );
          }
          r.signal = init.signal;
        }
        // the Request's own signal, following the given one (75-abort.js)
        const parentSignal = r.signal;
        r.signal = newAbortSignal();
        if (parentSignal !== null) {
          signalFollow(r.signal, parentSignal);
        }
        const headersInit =
          init.headers !== undefined ? init.headers : from?.headers;
        r.headers = headersWithList(
          headersInit === undefined ? [] : headerListOf(new Headers(headersInit)),
          "request",
        );
        let body = null;
        if (init.body !== undefined && init.body !== null) {
          if (r.method === "GET" || r.method === "HEAD") {
            throw new TypeError("Request with GET/HEAD method cannot have body.");
          }
          const extracted = extractBody(init.body);
          body = extracted.body;
          if (extracted.type !== null && !r.headers.has("content-type")) {
            r.headers.append("content-type", extracted.type);
          }
        } else if (from?.body && init.body === undefined) {
          if (bodyUsed(from.body)) {
            throw new TypeError(
              "Failed to construct 'Request': Cannot construct a Request " +
                "with a Request object that has already been used.",
            );
          }
          // the new Request takes over the input's body, as the standard's
          // "input's body is disturbed" says: the input can't be read again
          body = from.body;
          from.body = new BodyState(new Uint8Array(0), null, 0);
          from.body.used = true;
        }
        r.body = body;
        this.#r = r;
      }

      static {
        definePlatformBrand((value) => #r in value);
        requestState = (self) => {
          if (self === null || typeof self !== "object" || !(#r in self)) {
            throw new TypeError("Illegal invocation");
          }
          return self.#r;
        };
      }

      get method() {
        return requestState(this).method;
      }

      get url() {
        return requestState(this).url;
      }

      get headers() {
        return requestState(this).headers;
      }

      get redirect() {
        return requestState(this).redirect;
      }

      // The Request's own AbortSignal, which follows init's (or the input
      // Request's): aborting either aborts this one.
      get signal() {
        return requestState(this).signal;
      }

      get cache() {
        requestState(this);
        return "default";
      }

      get credentials() {
        requestState(this);
        return "same-origin";
      }

      get destination() {
        requestState(this);
        return "";
      }

      get integrity() {
        requestState(this);
        return "";
      }

      get keepalive() {
        requestState(this);
        return false;
      }

      get mode() {
        requestState(this);
        return "cors";
      }

      get referrer() {
        requestState(this);
        return "about:client";
      }

      get referrerPolicy() {
        requestState(this);
        return "";
      }

      clone() {
        const r = requestState(this);
        if (bodyUsed(r.body)) {
          throw new TypeError("Failed to execute 'clone' on 'Request': " +
            "Request body is already used");
        }
        const copy = new Request(this.url, {
          method: r.method,
          redirect: r.redirect,
          headers: r.headers,
        });
        const c = requestState(copy);
        signalFollow(c.signal, r.signal);
        c.body = cloneBody(r.body);
        return copy;
      }
    }

    installBody(
      Request,
      (self) => requestState(self).body,
      (self) => requestState(self).headers,
    );
    inspectFields(Request.prototype, [
      "bodyUsed",
      "headers",
      "method",
      "redirect",
      "url",
    ]);

    // -------------------------------------------------------------------------
    // Response.

    const nullBodyStatuses = [101, 103, 204, 205, 304];
    const redirectStatuses = [301, 302, 303, 307, 308];

    let responseState; // (response) -> its internal record
    let newResponse; // (record) -> a Response over record

    function reasonPhraseOk(s) {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c !== 0x09 && (c < 0x20 || c === 0x7f || c > 0xff)) {
          return false;
        }
      }
      return true;
    }

    class Response {
      #r; // { type, url, redirected, status, statusText, headers, body }

      constructor(body = null, init = undefined) {
        if (init !== undefined && init !== null && typeof init !== "object") {
          throw new TypeError(
            "Failed to construct 'Response': The provided value is not of " +
              "type 'ResponseInit'.",
          );
        }
        const status = init?.status === undefined ? 200 : toLong(init.status);
        if (status < 200 || status > 599) {
          throw new RangeError(
            "Failed to construct 'Response': The status provided " +
              `(${status}) is outside the range [200, 599].`,
          );
        }
        const statusText =
          init?.statusText === undefined ? "" : `${init.statusText}`;
        if (!reasonPhraseOk(statusText)) {
          throw new TypeError(
            "Failed to construct 'Response': Invalid statusText.",
          );
        }
        const headers = headersWithList(
          init?.headers === undefined
            ? []
            : headerListOf(new Headers(init.headers)),
          "response",
        );
        let state = null;
        if (body !== null && body !== undefined) {
          if (nullBodyStatuses.includes(status)) {
            throw new TypeError(
              "Failed to construct 'Response': Response with null body " +
                "status cannot have body",
            );
          }
          const extracted = extractBody(body);
          state = extracted.body;
          if (extracted.type !== null && !headers.has("content-type")) {
            headers.append("content-type", extracted.type);
          }
        }
        this.#r = {
          type: "default",
          url: "",
          redirected: false,
          status,
          statusText,
          headers,
          body: state,
        };
      }

      static {
        definePlatformBrand((value) => #r in value);
        responseState = (self) => {
          if (self === null || typeof self !== "object" || !(#r in self)) {
            throw new TypeError("Illegal invocation");
          }
          return self.#r;
        };
        newResponse = (record) => {
          const response = new Response();
          response.#r = record;
          return response;
        };
      }

      static error() {
        return newResponse({
          type: "error",
          url: "",
          redirected: false,
          status: 0,
          statusText: "",
          headers: headersWithList([], "immutable"),
          body: null,
        });
      }

      static redirect(url, status = 302) {
        const location = parseUrl(url);
        const code = toLong(status);
        if (!redirectStatuses.includes(code)) {
          throw new RangeError(
            `Failed to execute 'redirect' on 'Response': Invalid status code ` +
              `${code}`,
          );
        }
        return newResponse({
          type: "default",
          url: "",
          redirected: false,
          status: code,
          statusText: "",
          headers: headersWithList([["location", location]], "immutable"),
          body: null,
        });
      }

      static json(data, init = undefined) {
        const text = JSON.stringify(data);
        if (text === undefined) {
          throw new TypeError(
            "Failed to execute 'json' on 'Response': Value is not JSON " +
              "serializable",
          );
        }
        const response = new Response(text, init);
        const r = responseState(response);
        const list = headerListOf(r.headers);
        for (const entry of list) {
          if (entry[0] === "content-type" &&
              entry[1] === "text/plain;charset=UTF-8") {
            entry[1] = "application/json";
          }
        }
        return response;
      }

      get type() {
        return responseState(this).type;
      }

      get url() {
        return responseState(this).url;
      }

      get redirected() {
        return responseState(this).redirected;
      }

      get status() {
        return responseState(this).status;
      }

      get ok() {
        const status = responseState(this).status;
        return status >= 200 && status <= 299;
      }

      get statusText() {
        return responseState(this).statusText;
      }

      get headers() {
        return responseState(this).headers;
      }

      clone() {
        const r = responseState(this);
        if (bodyUsed(r.body)) {
          throw new TypeError("Failed to execute 'clone' on 'Response': " +
            "Response body is already used");
        }
        const list = [];
        for (const entry of headerListOf(r.headers)) {
          list.push([entry[0], entry[1]]);
        }
        const guard = r.type === "default" ? "response" : "immutable";
        return newResponse({
          type: r.type,
          url: r.url,
          redirected: r.redirected,
          status: r.status,
          statusText: r.statusText,
          headers: headersWithList(list, guard),
          body: cloneBody(r.body),
        });
      }
    }

    installBody(
      Response,
      (self) => responseState(self).body,
      (self) => responseState(self).headers,
    );
    inspectFields(Response.prototype, [
      "body",
      "bodyUsed",
      "headers",
      "ok",
      "redirected",
      "status",
      "statusText",
      "url",
    ]);

    // -------------------------------------------------------------------------
    // The hooks 95-fetch.js builds fetch on (bootstrap/README.md, "Hooks for
    // later parts").

    // newResponseFromNative(status, statusText, headerList, bodySource, url,
    // redirected): the Response a fetch resolves with. headerList is
    // [[name, value], ...] as the wire gave it (names are lowercased here,
    // values are trusted to be valid: they come from the HTTP client);
    // bodySource is null (no body) or { read(), cancel(reason) }: read()
    // returns a promise of the next Uint8Array, or of null at the end (a
    // rejection errors the stream); cancel(reason) is called once when the
    // reader cancels. The body stream pulls read() only when a reader wants
    // more, so at most one read is pending at a time. The headers are
    // immutable and the type is "basic".
    function newResponseFromNative(status, statusText, headerList, bodySource,
                                   url, redirected) {
      const list = [];
      for (const [name, value] of headerList) {
        list.push([`${name}`.toLowerCase(), `${value}`]);
      }
      let body = null;
      if (bodySource instanceof Uint8Array) {
        // the whole body, here already: no stream until one is asked for
        body = new BodyState(bodySource, null, bodySource.byteLength);
      } else if (bodySource !== null && bodySource !== undefined) {
        const stream = new (streams().ReadableStream)({
          type: "bytes",
          // A pull that enqueues nothing is not called again, so an empty
          // chunk reads on.
          async pull(controller) {
            for (;;) {
              const chunk = await bodySource.read();
              if (chunk === null || chunk === undefined) {
                controller.close();
                controller.byobRequest?.respond(0);
                return;
              }
              if (chunk.byteLength > 0) {
                controller.enqueue(chunk);
                return;
              }
            }
          },
          cancel(reason) {
            return bodySource.cancel(reason);
          },
        });
        body = new BodyState(null, stream, null);
      }
      return newResponse({
        type: "basic",
        url: `${url ?? ""}`,
        redirected: !!redirected,
        status,
        statusText: `${statusText ?? ""}`,
        headers: headersWithList(list, "immutable"),
        body,
      });
    }

    // requestForFetch(request): what fetch sends, taking the body (the
    // request's body is used afterwards): { method, url, headerList (a copy,
    // [[name, value], ...] in insertion order), body: null | Uint8Array |
    // ReadableStream, redirect, signal }. A used body is a TypeError.
    function requestForFetch(request) {
      const r = requestState(request);
      if (bodyUsed(r.body)) {
        throw new TypeError("Request body is already used");
      }
      let body = null;
      const state = r.body;
      if (state !== null) {
        if (state.stream === null) {
          const source = state.source;
          body = source instanceof Blob ? blobBytes(source) : source;
          state.source = null;
          state.used = true;
        } else {
          body = state.stream;
        }
      }
      const headerList = [];
      for (const entry of headerListOf(r.headers)) {
        headerList.push([entry[0], entry[1]]);
      }
      return {
        method: r.method,
        url: r.url,
        headerList,
        body,
        redirect: r.redirect,
        signal: r.signal,
      };
    }

    for (const klass of [Headers, FormData, Request, Response]) {
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: klass.name,
        configurable: true,
      });
    }

    return {
      Headers,
      FormData,
      Request,
      Response,
      newResponseFromNative,
      requestForFetch,
    };
  })
