  // -------------------------------------------------------------------------
  // fetch: the Fetch standard's fetch(), on the service's net thread
  // (ops/net.c, libcurl) through the op_fetch_* ops (docs/ops.md), which
  // answer when the network has, later than the batch they came in.
  //
  //   op_fetch_start(method, url, headers [[name, bytes]...], body
  //     (Uint8Array or null), redirect, send) -> rid (the request is under
  //     way), or with send the head as op_fetch_send answers it
  //   op_fetch_send(rid) -> { rid, status, statusText, headers [[name,
  //     bytes]], url, redirected, body? } (body: the whole body, when it
  //     had come: the transfer is then done, one op for a small response)
  //   op_fetch_read(rid) -> Uint8Array (at most 256 KiB), or null at the end
  //   op_fetch_cancel(rid) -> undefined
  //
  // A data: or blob: URL is answered here (localResponse), without an op
  // or a permission, as Deno does.
  //
  // Errors: PermissionDenied (net access to "HOST:PORT" was not granted)
  // as it comes; a network failure, a redirect in "error" mode or a bad
  // request become TypeError("fetch failed", { cause }); an aborted signal
  // rejects with its reason, as Deno does. A request body is sent whole
  // (a ReadableStream body is read first); a response body streams.

  // fetch and its helpers are made the first time a context reads the
  // global (fetchApi(), a lazy data property), not when the prelude runs,
  // so a new context deserializes none of them (docs/architecture.md,
  // "Where the time goes").
  const trimHttp = (s) => s.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  let fetchExports;

  function fetchApi() {
    if (fetchExports === undefined) {
      fetchExports = fetchModule();
    }
    return fetchExports;
  }

  function fetchModule() {
    // A ByteString (one char per byte) as bytes; a char past U+00FF is a
    // TypeError, as a Headers value would have been.
    function latin1Bytes(s) {
      const out = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c > 0xff) {
          throw new TypeError(`header value "${s}" is not a ByteString`);
        }
        out[i] = c;
      }
      return out;
    }

    // Bytes as a ByteString.
    function byteString(bytes) {
      let s = "";
      for (let i = 0; i < bytes.length; i += 8192) {
        s += fnApply(String.fromCharCode, null, bytes.subarray(i, i + 8192));
      }
      return s;
    }

    // An op's error as fetch rejects with it.
    function fetchError(err) {
      if (err instanceof errors.PermissionDenied) {
        return err;
      }
      const message = `${err?.message ?? err}`;
      if (message.startsWith("AbortError: ")) {
        return new (domExceptionApi().DOMException)(message.slice(12), "AbortError");
      }
      return new TypeError("fetch failed", { cause: err });
    }

    // The whole of a request body stream, as one Uint8Array.
    async function readAll(stream) {
      const reader = stream.getReader();
      const chunks = [];
      let total = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        if (!(value instanceof Uint8Array)) {
          throw new TypeError("a request body stream must give Uint8Arrays");
        }
        chunks.push(value);
        total += value.byteLength;
      }
      const out = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      return out;
    }

    // The MIME Sniffing standard's "parse a MIME type" (null: failure) and
    // its serialization, for data: URLs' types.
    const mimeTokenRe = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
    const mimeValueRe = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;
    const httpSpace = " \t\n\r";

    function parseMimeType(input) {
      input = trimHttp(input);
      const slash = input.indexOf("/");
      const type = slash < 0 ? "" : input.slice(0, slash);
      if (!mimeTokenRe.test(type)) {
        return null;
      }
      const rest = input.slice(slash + 1);
      let i = rest.indexOf(";");
      i = i < 0 ? rest.length : i;
      const subtype = rest.slice(0, i).replace(/[\t\n\r ]+$/, "");
      if (!mimeTokenRe.test(subtype)) {
        return null;
      }
      const params = new Map();
      while (i < rest.length) {
        i++; // the ";"
        while (i < rest.length && httpSpace.includes(rest[i])) {
          i++;
        }
        let j = i;
        while (j < rest.length && rest[j] !== ";" && rest[j] !== "=") {
          j++;
        }
        const name = rest.slice(i, j).toLowerCase();
        i = j;
        if (i < rest.length && rest[i] === ";") {
          continue;
        }
        i++; // the "="
        if (i >= rest.length) {
          break;
        }
        let value = "";
        if (rest[i] === '"') { // a quoted string, its value extracted
          i++;
          while (i < rest.length) {
            const c = rest[i++];
            if (c === '"') {
              break;
            }
            if (c === "\\") {
              value += i < rest.length ? rest[i++] : "\\";
            } else {
              value += c;
            }
          }
          while (i < rest.length && rest[i] !== ";") {
            i++;
          }
        } else {
          j = i;
          while (j < rest.length && rest[j] !== ";") {
            j++;
          }
          value = rest.slice(i, j).replace(/[\t\n\r ]+$/, "");
          i = j;
          if (value === "") {
            continue;
          }
        }
        if (name !== "" && mimeTokenRe.test(name) && mimeValueRe.test(value) &&
            !params.has(name)) {
          params.set(name, value);
        }
      }
      let out = `${type.toLowerCase()}/${subtype.toLowerCase()}`;
      for (const [name, value] of params) {
        out += `;${name}=`;
        out += value !== "" && mimeTokenRe.test(value)
          ? value
          : `"${value.replace(/["\\]/g, "\\$&")}"`;
      }
      return out;
    }

    // A URL string's percent-decoding, as bytes.
    function percentDecode(s) {
      const out = new Uint8Array(s.length);
      let n = 0;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === 0x25 && i + 2 < s.length &&
            /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
          out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
          i += 2;
        } else {
          out[n++] = c & 0xff; // a URL's href is ASCII
        }
      }
      return out.subarray(0, n);
    }

    // The Fetch standard's data: URL processor: { type, body } or null.
    function processDataUrl(href) {
      let input = href.slice(5);
      const hash = input.indexOf("#");
      if (hash >= 0) {
        input = input.slice(0, hash);
      }
      const comma = input.indexOf(",");
      if (comma < 0) {
        return null;
      }
      let mimeType = trimHttp(input.slice(0, comma).replace(/^\f+|\f+$/g, ""));
      let body = percentDecode(input.slice(comma + 1));
      const base64 = /;\u0020*base64$/i.exec(mimeType);
      if (base64 !== null) {
        let text;
        try {
          text = atob(byteString(body));
        } catch {
          return null;
        }
        body = latin1Bytes(text);
        mimeType = mimeType.slice(0, base64.index);
      }
      if (mimeType.startsWith(";")) {
        mimeType = `text/plain${mimeType}`;
      }
      return {
        type: parseMimeType(mimeType) ?? "text/plain;charset=US-ASCII",
        body,
      };
    }

    // A response's URL leaves the fragment out (withoutFragment: 70-url.js).

    // The response to a data: URL (the standard's processor) or a blob: URL
    // (a Blob in this realm's store: URL.createObjectURL), made here without
    // an op or a permission, as Deno does; a bad data: URL, a blob: URL that
    // names no Blob, or a blob: URL with another method than GET is a
    // TypeError.
    function localResponse(req) {
      let type, body;
      if (req.url.startsWith("data:")) {
        const data = processDataUrl(req.url);
        if (data === null) {
          throw new TypeError("fetch failed: not a valid data: URL", {
            cause: new TypeError(req.url),
          });
        }
        type = data.type;
        body = data.body;
      } else {
        const blob = req.method === "GET"
          ? mapGet(blobUrlStore(), withoutFragment(req.url))
          : undefined;
        if (blob === undefined) {
          throw new TypeError(req.method === "GET"
            ? `fetch failed: ${req.url} names no Blob (revoked, or another realm's)`
            : `fetch failed: a blob: URL takes GET only, not ${req.method}`);
        }
        body = blobApi().blobBytes(blob);
        type = blob.type;
      }
      const headers = [["content-type", type]];
      if (req.url.startsWith("blob:")) {
        headers.unshift(["content-length", `${body.byteLength}`]);
      }
      return bodyApi().newResponseFromNative(
        200, "OK", headers, req.method === "HEAD" ? null : body,
        withoutFragment(req.url), false);
    }

    const nullBodyStatus = (s) => s === 101 || s === 103 || s === 204 ||
      s === 205 || s === 304;

    async function fetch(input, init = undefined) {
      const { Request, newResponseFromNative, requestForFetch } = bodyApi();
      const request = new Request(input, init);
      const req = requestForFetch(request);
      const signal = req.signal;
      if (signal !== null && signal !== undefined && signalAborted(signal)) {
        throw signalReason(signal);
      }
      if (req.url.startsWith("data:") || req.url.startsWith("blob:")) {
        return localResponse(req);
      }
      const headers = [];
      for (const [name, value] of req.headerList) {
        headers.push([name, latin1Bytes(value)]);
      }
      let body = req.body;
      if (body !== null && !(body instanceof Uint8Array)) {
        body = await readAll(body);
      }
      // A signal that may abort needs the rid before the head (to cancel the
      // request): start, then send. Without one, one op does both.
      const mayAbort = signalMayAbort(signal);
      let rid, head;
      try {
        const started = await opAsync("op_fetch_start", req.method, req.url,
                                      headers, body, req.redirect, !mayAbort);
        if (mayAbort) {
          rid = started;
        } else {
          head = started;
          rid = head.rid;
        }
      } catch (err) {
        throw fetchError(err);
      }
      // the transfer ends once: its body read to the end, an error, a
      // cancel of the body, or an abort of the signal
      let ended = false;
      let onAbort = null;
      const end = (cancel) => {
        if (ended) {
          return;
        }
        ended = true;
        if (onAbort !== null) {
          signalRemove(signal, onAbort);
        }
        if (cancel) {
          opAsync("op_fetch_cancel", rid).catch(() => {});
        }
      };
      if (mayAbort) {
        onAbort = signalAdd(signal, () => end(true));
        try {
          head = await opAsync("op_fetch_send", rid);
        } catch (err) {
          end(false);
          if (signalAborted(signal)) {
            throw signalReason(signal);
          }
          throw fetchError(err);
        }
      }
      const headerList = [];
      for (const [name, value] of head.headers) {
        headerList.push([name, byteString(value)]);
      }
      let source = null;
      if (head.body !== undefined) {
        ended = true; // the transfer is done: nothing to cancel
        if (onAbort !== null) {
          signalRemove(signal, onAbort);
        }
        if (req.method !== "HEAD" && !nullBodyStatus(head.status)) {
          source = head.body; // bytes: no stream made unless one is asked for
        }
      } else if (req.method === "HEAD" || nullBodyStatus(head.status)) {
        end(true);
      } else {
        source = {
          async read() {
            if (ended) {
              if (signal !== null && signal !== undefined &&
                  signalAborted(signal)) {
                throw signalReason(signal);
              }
              return null;
            }
            let chunk;
            try {
              chunk = await opAsync("op_fetch_read", rid);
            } catch (err) {
              end(false);
              if (signal !== null && signal !== undefined &&
                  signalAborted(signal)) {
                throw signalReason(signal);
              }
              throw fetchError(err);
            }
            if (chunk === null || chunk === undefined) {
              end(false);
              return null;
            }
            return chunk;
          },
          cancel() {
            end(true);
          },
        };
      }
      return newResponseFromNative(head.status, head.statusText, headerList,
                                   source, withoutFragment(head.url),
                                   head.redirected);
    }

    return { fetch };
  }


  // WebAssembly.compileStreaming / instantiateStreaming (the WebAssembly
  // Web API), as Deno has them: the response's checks, then the module
  // compiled from its whole body (not while it streams in).
  // WebAssembly is a late() global (05-builtins.js).
  let wasmCompile;
  let wasmInstantiate;

  async function wasmBody(source) {
    const response = await source;
    if (!(response instanceof bodyApi().Response)) {
      throw new TypeError(
        "WebAssembly: the argument must be a Response or a promise of one");
    }
    const type = response.headers.get("content-type");
    if (type === null || trimHttp(type).toLowerCase() !== "application/wasm") {
      throw new TypeError(`WebAssembly: the response's Content-Type is ${
        type === null ? "missing" : `"${type}"`}, not "application/wasm"`);
    }
    if (!response.ok) {
      throw new TypeError(
        `WebAssembly: the response's status is ${response.status}`);
    }
    if (response.bodyUsed) {
      throw new TypeError("WebAssembly: the response's body is already used");
    }
    return response.arrayBuffer();
  }

  async function compileStreaming(source) {
    return wasmCompile(await wasmBody(source));
  }

  async function instantiateStreaming(source, importObject = undefined) {
    return wasmInstantiate(await wasmBody(source), importObject);
  }

  late(() => {
    if (typeof WebAssembly !== "object" || WebAssembly === null) {
      return;
    }
    wasmCompile = WebAssembly.compile;
    wasmInstantiate = WebAssembly.instantiate;
    defineHidden(WebAssembly, { compileStreaming, instantiateStreaming });
  });
  defineLazy(globalThis, ["fetch"], fetchApi);
