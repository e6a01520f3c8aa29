  // -------------------------------------------------------------------------
  // fetch: the Fetch standard's fetch(), on the service's net thread
  // (ops/net.c, libcurl) through the op_fetch_* ops (docs/ops.md), which
  // answer when the network has, later than the batch they came in.
  //
  //   op_fetch_start(method, url, headers [[name, bytes]...], body
  //     (Uint8Array or null), redirect) -> rid (the request is under way)
  //   op_fetch_send(rid) -> { rid, status, statusText, headers [[name,
  //     bytes]], url, redirected, body? } (body: the whole body, when it
  //     had come: the transfer is then done, one op for a small response)
  //   op_fetch_read(rid) -> Uint8Array (at most 256 KiB), or null at the end
  //   op_fetch_cancel(rid) -> undefined
  //
  // Errors: PermissionDenied (net access to "HOST:PORT" was not granted)
  // as it comes; a network failure, a redirect in "error" mode or a bad
  // request become TypeError("fetch failed", { cause }); an aborted signal
  // rejects with its reason, as Deno does. A request body is sent whole
  // (a ReadableStream body is read first); a response body streams.

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
      return new DOMException(message.slice(12), "AbortError");
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
    const headers = [];
    for (const [name, value] of req.headerList) {
      headers.push([name, latin1Bytes(value)]);
    }
    let body = req.body;
    if (body !== null && !(body instanceof Uint8Array)) {
      body = await readAll(body);
    }
    let rid;
    try {
      rid = await opAsync("op_fetch_start", req.method, req.url, headers,
                          body, req.redirect);
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
    if (signal !== null && signal !== undefined) {
      onAbort = signalAdd(signal, () => end(true));
    }
    let head;
    try {
      head = await opAsync("op_fetch_send", rid);
    } catch (err) {
      end(false);
      if (signal !== null && signal !== undefined && signalAborted(signal)) {
        throw signalReason(signal);
      }
      throw fetchError(err);
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
      let chunk = head.body;
      if (req.method !== "HEAD" && !nullBodyStatus(head.status)) {
        source = {
          read() {
            const c = chunk;
            chunk = null;
            return PromiseCtor.resolve(c);
          },
          cancel() {},
        };
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
                                 source, head.url, head.redirected);
  }

  defineHidden(globalThis, { fetch });
