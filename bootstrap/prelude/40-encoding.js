  // -------------------------------------------------------------------------
  // TextEncoder, TextDecoder (UTF-8 only, as in Deno).

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }

    encode(input = "") {
      return encodeUtf8(`${input}`);
    }

    encodeInto(source, destination) {
      source = `${source}`;
      if (!isInstanceof(destination, Uint8Array)) {
        throw new TypeError(
          "Failed to execute 'encodeInto': Argument 2 is not a Uint8Array.",
        );
      }
      const bytes = encodeUtf8(source);
      if (bytes.length <= destination.length) {
        destination.set(bytes);
        return { read: source.length, written: bytes.length };
      }
      // Only whole code points fit: walk them to find where to stop.
      const room = destination.length;
      let read = 0;
      let written = 0;
      while (read < source.length) {
        const c = source.charCodeAt(read);
        let units = 1;
        let size = 3;
        if (c < 0x80) {
          size = 1;
        } else if (c < 0x800) {
          size = 2;
        } else if (c >= 0xd800 && c <= 0xdbff && read + 1 < source.length) {
          const d = source.charCodeAt(read + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            units = 2;
            size = 4;
          }
        }
        if (written + size > room) {
          break;
        }
        written += size;
        read += units;
      }
      destination.set(bytes.subarray(0, written));
      return { read, written };
    }
  }
  inspectFields(TextEncoder.prototype, ["encoding"]);

  const utf8Labels = [
    "unicode-1-1-utf-8",
    "unicode11utf8",
    "unicode20utf8",
    "utf-8",
    "utf8",
    "x-unicode20utf8",
  ];
  const emptyBytes = new Uint8Array(0);

  // The length of bytes without a trailing, still incomplete but so far
  // valid UTF-8 sequence (which a streaming decode keeps for later).
  function completePrefixLength(bytes) {
    const n = bytes.length;
    for (let k = 1; k <= 3 && k <= n; k++) {
      const lead = bytes[n - k];
      if ((lead & 0xc0) === 0x80) {
        continue; // a continuation byte: keep looking for the lead
      }
      let need = 0;
      if (lead >= 0xc2 && lead <= 0xdf) {
        need = 2;
      } else if (lead >= 0xe0 && lead <= 0xef) {
        need = 3;
      } else if (lead >= 0xf0 && lead <= 0xf4) {
        need = 4;
      }
      if (need <= k) {
        return n; // complete, or not a lead byte at all
      }
      if (k >= 2) {
        const second = bytes[n - k + 1];
        const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
        const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
        if (second < lo || second > hi) {
          return n; // already invalid: let the decoder replace it now
        }
      }
      return n - k;
    }
    return n;
  }

  function toBytes(input) {
    if (isArrayBuffer(input) || isSharedArrayBuffer(input)) {
      return new Uint8Array(input);
    }
    if (ArrayBuffer.isView(input)) {
      return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    }
    throw new TypeError(
      "Failed to execute 'decode': Argument 1 is not an ArrayBuffer or " +
        "ArrayBufferView.",
    );
  }

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    #pending = null; // bytes of an incomplete sequence, while streaming
    #bomDone = false; // the stream is past the point where a BOM can be

    constructor(label = "utf-8", options = {}) {
      const name = `${label}`.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
      if (!utf8Labels.includes(name.toLowerCase())) {
        throw new RangeError(
          `The encoding label provided ('${label}') is invalid.`,
        );
      }
      options = options ?? {};
      this.#fatal = !!options.fatal;
      this.#ignoreBOM = !!options.ignoreBOM;
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#fatal in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get encoding() {
      TextDecoder.#check(this);
      return "utf-8";
    }

    get fatal() {
      return TextDecoder.#check(this).#fatal;
    }

    get ignoreBOM() {
      return TextDecoder.#check(this).#ignoreBOM;
    }

    decode(input = undefined, options = undefined) {
      TextDecoder.#check(this);
      const stream = !!(options !== null && options?.stream);
      let bytes = input === undefined ? emptyBytes : toBytes(input);
      if (this.#pending !== null) {
        const joined = new Uint8Array(this.#pending.length + bytes.length);
        joined.set(this.#pending);
        joined.set(bytes, this.#pending.length);
        bytes = joined;
        this.#pending = null;
      }
      try {
        let end = bytes.length;
        if (stream) {
          end = completePrefixLength(bytes);
          if (end < bytes.length) {
            this.#pending = bytes.slice(end);
          }
        }
        let text = "";
        if (end > 0) {
          const view = end === bytes.length ? bytes : bytes.subarray(0, end);
          text = decodeUtf8(view, this.#fatal);
        }
        if (!this.#bomDone && text.length > 0) {
          this.#bomDone = true;
          if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) {
            text = text.slice(1);
          }
        }
        return text;
      } finally {
        if (!stream) {
          this.#pending = null;
          this.#bomDone = false;
        }
      }
    }
  }
  inspectFields(TextDecoder.prototype, ["encoding", "fatal", "ignoreBOM"]);

