  // -------------------------------------------------------------------------
  // Streams: ReadableStream (default and byte streams, BYOB readers, tee,
  // pipeTo/pipeThrough, async iteration, from), WritableStream,
  // TransformStream, the queuing strategies (all from the vendored
  // web-streams-polyfill, evaluated lazily), TextEncoderStream and
  // TextDecoderStream.
  //
  // The polyfill is ~65 KB of code: evaluating it in every new context
  // would cost every eval job, most of which never touch a stream, and
  // even parsing it costs every process. It is a lazy part of the prelude
  // (loadPart("streams"): a script of its own, compiled once per isolate
  // the first time a context needs it; README.md "Lazy parts"), and so are
  // TextEncoderStream and TextDecoderStream (81-text-streams.js), Blob
  // (85-blob.js) and the Fetch standard's classes (90-body.js), which this
  // part loads too. Their globals are accessors that load them the
  // first time one is read and then replace themselves with plain data
  // properties, so `typeof ReadableStream` is still "function". The
  // prelude's own users call streams(), blobApi(), bodyApi().

  let streamsExports;

  // The buffer transfer the polyfill does for BYOB reads and byte
  // enqueues: a real transfer where structuredClone supports one, else a
  // copy (the source then stays attached, which only a test that checks
  // detachment can tell).
  function transferForStreams(value, options) {
    try {
      return structuredClone(value, options);
    } catch {
      return arrayBufferSlice(value, 0);
    }
  }

  // streams(): the polyfill's exports, evaluated on first use in this
  // context, with Deno's inspection of the stream classes.
  function streams() {
    if (streamsExports === undefined) {
      const exported = loadPart("streams")(
        queueMicrotask,
        transferForStreams,
        freeze({ DOMException: domExceptionApi().DOMException }),
        abortApi().AbortController,
      );
      // Deno's fields; state and supportsBYOB from the polyfill's slots.
      const ByteController = exported.ReadableByteStreamController;
      defineHidden(exported.ReadableStream.prototype, {
        [customInspect](inspectValue, options) {
          const shown = {
            locked: this.locked,
            state: this._state,
            supportsBYOB: this._readableStreamController instanceof
              ByteController,
          };
          return `ReadableStream ${inspectValue(shown, options)}`;
        },
      });
      // structuredClone refuses the three (their getters are the brand
      // checks: they throw for anything else), as Deno does.
      for (const [klass, name] of [
        [exported.ReadableStream, "locked"],
        [exported.WritableStream, "locked"],
        [exported.TransformStream, "readable"],
      ]) {
        const brand = getter(klass.prototype, name);
        definePlatformBrand((value) => passes(brand, value));
      }
      inspectFields(exported.WritableStream.prototype, ["locked"]);
      inspectFields(exported.TransformStream.prototype, [
        "readable",
        "writable",
      ]);
      for (const name of [
        "ReadableStreamDefaultReader",
        "ReadableStreamBYOBReader",
        "WritableStreamDefaultWriter",
      ]) {
        inspectFields(exported[name].prototype, ["closed"]);
      }
      inspectFields(exported.ByteLengthQueuingStrategy.prototype, [
        "highWaterMark",
        "size",
      ]);
      inspectFields(exported.CountQueuingStrategy.prototype, [
        "highWaterMark",
        "size",
      ]);
      streamsExports = exported;
    }
    return streamsExports;
  }

  const streamGlobalNames = [
    "ReadableStream",
    "ReadableStreamDefaultReader",
    "ReadableStreamBYOBReader",
    "ReadableStreamBYOBRequest",
    "ReadableByteStreamController",
    "ReadableStreamDefaultController",
    "WritableStream",
    "WritableStreamDefaultWriter",
    "WritableStreamDefaultController",
    "TransformStream",
    "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy",
    "CountQueuingStrategy",
  ];

  // TextEncoderStream and TextDecoderStream (81-text-streams.js), made on
  // first use as well.
  let textStreamsExports;

  function textStreams() {
    if (textStreamsExports === undefined) {
      textStreamsExports = loadPart("textstreams")(lazyScope());
    }
    return textStreamsExports;
  }

  defineLazy(globalThis, streamGlobalNames, streams);
  defineLazy(globalThis, ["TextEncoderStream", "TextDecoderStream"],
    textStreams);

  // The lazy parts' scope: what 85-blob.js and 90-body.js take from the
  // prelude's scope, each destructuring its own share. A part is a script
  // of its own, so a name it does not take here is a global (which user
  // code may have replaced) or a ReferenceError.
  function lazyScope() {
    return {
      DOMException: domExceptionApi().DOMException,
      PlatformObject,
      PromiseCtor,
      SymbolIterator,
      SymbolToStringTag,
      arrayBufferSlice,
      blobApi,
      constructOnto,
      coreDecode,
      customInspect,
      defineCloneKind,
      defineHidden,
      definePlatformBrand,
      encodingApi,
      defineProperty,
      encodeUtf8,
      fnCall,
      getOwnPropertyDescriptor,
      getPrototypeOf,
      hasOwn,
      inspectFields,
      isAbortSignal,
      isArrayBuffer,
      isSharedArrayBuffer,
      isView,
      loadedStreams: () => streamsExports,
      loadedUrl: () => urlExports,
      mathMax,
      mathMin,
      newAbortSignal,
      objectKeys,
      ownKeys,
      promiseReject,
      setPrototypeOf,
      signalFollow,
      streams,
      toLong,
      typedArrayBuffer,
      typedArraySet,
      unitsToString,
      urlApi,
    };
  }

  // Blob and File (85-blob.js), made on first use in this context.
  let blobExports;

  function blobApi() {
    if (blobExports === undefined) {
      blobExports = loadPart("blob")(lazyScope());
    }
    return blobExports;
  }

  // Headers, FormData, Request, Response and the hooks fetch is built on
  // (90-body.js), made on first use in this context.
  let bodyExports;

  function bodyApi() {
    if (bodyExports === undefined) {
      bodyExports = loadPart("body")(lazyScope());
    }
    return bodyExports;
  }

  defineLazy(globalThis, ["Blob", "File"], blobApi);
  defineLazy(globalThis, ["Headers", "FormData", "Request", "Response"],
    bodyApi);

  // -------------------------------------------------------------------------
  // CompressionStream, DecompressionStream (the Compression standard):
  // "gzip", "deflate" (zlib's format), "deflate-raw", on zlib through the
  // natives zlibNew/zlibRun (isolate/v8s_zlib.cc), whose state lives in an
  // ArrayBuffer held here (freed by the GC, like the stream).
  //
  // Not a TransformStream: a transformer cannot wait for the reader, so
  // one small chunk that inflates to gigabytes would be enqueued whole. A
  // readable/writable pair instead: each zlibRun gives at most 64 KiB,
  // which is enqueued, and the next one waits until the reader pulls (the
  // readable's highWaterMark is 0); the write that fed it settles once its
  // input is used up. Memory: the chunk being written (copied when
  // written) and one piece of output. Corrupt input errors both sides
  // with a TypeError (Deno's messages, v8s_zlib.cc); canceling the
  // readable errors the writable with the reason, aborting the writable
  // errors the readable, as a TransformStream's sides do.
  const zlibNew = iso.zlibNew;
  const zlibRun = iso.zlibRun;
  let compressionExports;

  function compressionStreams() {
    if (compressionExports === undefined) {
      compressionExports = compressionModule();
    }
    return compressionExports;
  }

  function compressionModule() {
    const { ReadableStream, WritableStream } = streams();
    // the modes v8s_zlib.cc numbers; DecompressionStream's are 3 more
    const formats = { __proto__: null, gzip: 0, deflate: 1, "deflate-raw": 2 };

    function compressionMode(args, what) {
      if (args.length < 1) {
        throw new TypeError(
          `Failed to construct '${what}': 1 argument required, but only 0 ` +
            "present",
        );
      }
      const format = `${args[0]}`;
      const mode = formats[format];
      if (mode === undefined) {
        throw new TypeError(
          `Failed to construct '${what}': The provided value '${format}' is ` +
            "not a valid enum value of type CompressionFormat",
        );
      }
      return mode;
    }

    // A chunk's bytes, copied (the writer may change its buffer while
    // the chunk waits for the reader).
    function chunkBytes(chunk) {
      if (isArrayBuffer(chunk) || isSharedArrayBuffer(chunk)) {
        return new Uint8Array(arrayBufferSlice(chunk, 0));
      }
      if (isView(chunk)) {
        const view = isDataView(chunk)
          ? new Uint8Array(
              dataViewBuffer(chunk),
              dataViewByteOffset(chunk),
              dataViewByteLength(chunk),
            )
          : new Uint8Array(
              typedArrayBuffer(chunk),
              typedArrayByteOffset(chunk),
              typedArrayByteLength(chunk),
            );
        return new Uint8Array(view);
      }
      throw new TypeError(
        "Failed to execute 'write': The provided value is not of type " +
          "'(ArrayBuffer or ArrayBufferView)'",
      );
    }

    function zlibPair(mode) {
      const state = zlibNew(mode);
      const result = new Uint32Array(2);
      let readableController;
      let writableController;
      let wake = null; // resolves the producer's wait when the reader pulls
      let stopped = false; // canceled, aborted or errored

      function wakeProducer() {
        if (wake !== null) {
          const resolve = wake;
          wake = null;
          resolve();
        }
      }

      // Runs zlib over bytes (undefined at the end) and enqueues what
      // comes out, one piece at a time as the reader asks.
      async function produce(bytes, finish) {
        const length = bytes === undefined ? 0 : bytes.length;
        let at = 0;
        for (;;) {
          if (stopped) {
            return;
          }
          let out;
          try {
            out = zlibRun(state, bytes, at, finish, result);
          } catch (error) {
            stopped = true;
            readableController.error(error);
            throw error;
          }
          at = result[0];
          if (out.length > 0) {
            readableController.enqueue(out);
            if (readableController.desiredSize <= 0) {
              await new PromiseCtor((resolve) => {
                wake = resolve;
              });
            }
          }
          if (finish ? result[1] === 1 : at >= length && out.length === 0) {
            return;
          }
        }
      }

      const readable = new ReadableStream(
        {
          start(controller) {
            readableController = controller;
          },
          pull() {
            wakeProducer();
          },
          cancel(reason) {
            stopped = true;
            writableController.error(reason);
            wakeProducer();
          },
        },
        { highWaterMark: 0 },
      );
      const writable = new WritableStream(
        {
          start(controller) {
            writableController = controller;
          },
          write(chunk) {
            let bytes;
            try {
              bytes = chunkBytes(chunk);
            } catch (error) {
              stopped = true;
              readableController.error(error);
              throw error;
            }
            return produce(bytes, false);
          },
          async close() {
            await produce(undefined, true);
            if (!stopped) {
              readableController.close();
            }
          },
          abort(reason) {
            stopped = true;
            readableController.error(reason);
            wakeProducer();
          },
        },
        { highWaterMark: 1 },
      );
      return { readable, writable };
    }

    class CompressionStream {
      #readable;
      #writable;

      constructor(format) {
        const pair = zlibPair(compressionMode(arguments, "CompressionStream"));
        this.#readable = pair.readable;
        this.#writable = pair.writable;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#readable in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get readable() {
        return CompressionStream.#check(this).#readable;
      }

      get writable() {
        return CompressionStream.#check(this).#writable;
      }
    }

    class DecompressionStream {
      #readable;
      #writable;

      constructor(format) {
        const pair = zlibPair(
          compressionMode(arguments, "DecompressionStream") + 3,
        );
        this.#readable = pair.readable;
        this.#writable = pair.writable;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#readable in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get readable() {
        return DecompressionStream.#check(this).#readable;
      }

      get writable() {
        return DecompressionStream.#check(this).#writable;
      }
    }

    for (const klass of [CompressionStream, DecompressionStream]) {
      inspectFields(klass.prototype, ["readable", "writable"]);
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: klass.name,
        configurable: true,
      });
    }
    return { CompressionStream, DecompressionStream };
  }

  defineLazy(globalThis, ["CompressionStream", "DecompressionStream"],
    compressionStreams);
