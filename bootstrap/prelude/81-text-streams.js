  // -------------------------------------------------------------------------
  // TextEncoderStream and TextDecoderStream: TransformStreams over the
  // encoding of 40-encoding.js. A lazy part of the prelude (README.md "Lazy
  // parts"), script isopool:bootstrap/textstreams: compiled the first time
  // a context reads one of the two globals (80-streams.js's textStreams()),
  // one function that takes what it uses of the prelude's scope as its
  // argument (80-streams.js's lazyScope()).
  "use strict";

  (function textStreams({
    SymbolToStringTag,
    defineProperty,
    encodeUtf8,
    encodingApi,
    inspectFields,
    streams,
  }) {
    // TextEncoderStream: strings in, UTF-8 bytes out. A lone high surrogate
    // at the end of a chunk waits for the next chunk (it may be half of a
    // pair); at the end of the stream it becomes U+FFFD.
    class TextEncoderStream {
      #transform;

      constructor() {
        let pending = "";
        this.#transform = new (streams().TransformStream)({
          transform(chunk, controller) {
            let text = pending + `${chunk}`;
            pending = "";
            const last = text.charCodeAt(text.length - 1);
            if (last >= 0xd800 && last <= 0xdbff) {
              pending = text.slice(-1);
              text = text.slice(0, -1);
            }
            if (text.length > 0) {
              controller.enqueue(encodeUtf8(text));
            }
          },
          flush(controller) {
            if (pending.length > 0) {
              controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
            }
          },
        });
      }

      get encoding() {
        this.#transform;
        return "utf-8";
      }

      get readable() {
        return this.#transform.readable;
      }

      get writable() {
        return this.#transform.writable;
      }
    }

    // TextDecoderStream: BufferSource chunks in, strings out, through one
    // streaming TextDecoder (a sequence split across chunks decodes whole).
    class TextDecoderStream {
      #decoder;
      #transform;

      constructor(label = "utf-8", options = {}) {
        const decoder = new (encodingApi().TextDecoder)(label, options);
        this.#decoder = decoder;
        this.#transform = new (streams().TransformStream)({
          transform(chunk, controller) {
            const text = decoder.decode(chunk, { stream: true });
            if (text.length > 0) {
              controller.enqueue(text);
            }
          },
          flush(controller) {
            const text = decoder.decode();
            if (text.length > 0) {
              controller.enqueue(text);
            }
          },
        });
      }

      get encoding() {
        return this.#decoder.encoding;
      }

      get fatal() {
        return this.#decoder.fatal;
      }

      get ignoreBOM() {
        return this.#decoder.ignoreBOM;
      }

      get readable() {
        return this.#transform.readable;
      }

      get writable() {
        return this.#transform.writable;
      }
    }

    inspectFields(TextEncoderStream.prototype, [
      "encoding",
      "readable",
      "writable",
    ]);
    inspectFields(TextDecoderStream.prototype, [
      "encoding",
      "fatal",
      "ignoreBOM",
      "readable",
      "writable",
    ]);

    for (const klass of [TextEncoderStream, TextDecoderStream]) {
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: klass.name,
        configurable: true,
      });
    }
    return { TextEncoderStream, TextDecoderStream };
  })
