  // -------------------------------------------------------------------------
  // TextEncoder, TextDecoder (the Encoding standard's UTF-8, UTF-16LE/BE,
  // legacy single-byte encodings and x-user-defined; its CJK ones on ICU).
  //
  // Both classes are made the first time a context needs them
  // (encodingApi(): the globals' lazy accessors, TextDecoderStream), not
  // when the prelude runs, so a new context deserializes none of their
  // objects (docs/architecture.md, "Where the time goes"). What
  // encodingModule() uses of the global scope when it runs is captured
  // here, since user code may have replaced it by then.

  const icuDecoderNew = iso.icuDecoderNew;
  const icuDecode = iso.icuDecode;
  const encodingUint8Array = Uint8Array;

  // Code units to a string, in slices (fromCharCode's argument count is
  // bounded).
  function unitsToString(units, n) {
    let text = "";
    for (let i = 0; i < n; i += 8192) {
      text += fnApply(
        String.fromCharCode,
        null,
        units.subarray(i, mathMin(i + 8192, n)),
      );
    }
    return text;
  }

  let encodingExports;

  // encodingApi(): { TextEncoder, TextDecoder } of this context, made on
  // first use.
  function encodingApi() {
    if (encodingExports === undefined) {
      encodingExports = encodingModule();
    }
    return encodingExports;
  }

  function encodingModule() {
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

    // The Encoding standard's labels, "label name ..." per encoding (its
    // encodings.json), parsed into a Map on first use. The replacement
    // encoding's labels map to "replacement", which TextDecoder refuses as
    // the standard says; its CJK encodings are ICU's converters (IcuDecoder,
    // below). Parsed on first use, so a context that never makes a
    // TextDecoder pays nothing for them.
    let encodingLabels = null; // label -> name

    // "Get an encoding": the name for label, or undefined.
    function encodingForLabel(label) {
      if (encodingLabels === null) {
        const encodingLabelText = [
          "utf-8 unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 " +
            "x-unicode20utf8",
          "ibm866 866 cp866 csibm866 ibm866",
          "iso-8859-2 csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 " +
            "iso_8859-2 iso_8859-2:1987 l2 latin2",
          "iso-8859-3 csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 " +
            "iso_8859-3 iso_8859-3:1988 l3 latin3",
          "iso-8859-4 csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 " +
            "iso_8859-4 iso_8859-4:1988 l4 latin4",
          "iso-8859-5 csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 " +
            "iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
          "iso-8859-6 arabic asmo-708 csiso88596e csiso88596i csisolatinarabic " +
            "ecma-114 iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 " +
            "iso8859-6 " +
            "iso88596 iso_8859-6 iso_8859-6:1987",
          "iso-8859-7 csisolatingreek ecma-118 elot_928 greek greek8 " +
            "iso-8859-7 " +
            "iso-ir-126 iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 " +
            "sun_eu_greek",
          "iso-8859-8 csiso88598e csisolatinhebrew hebrew iso-8859-8 " +
            "iso-8859-8-e iso-ir-138 iso8859-8 iso88598 iso_8859-8 " +
            "iso_8859-8:1988 visual",
          "iso-8859-8-i csiso88598i iso-8859-8-i logical",
          "iso-8859-10 csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 " +
            "l6 latin6",
          "iso-8859-13 iso-8859-13 iso8859-13 iso885913",
          "iso-8859-14 iso-8859-14 iso8859-14 iso885914",
          "iso-8859-15 csisolatin9 iso-8859-15 iso8859-15 iso885915 " +
            "iso_8859-15 l9",
          "iso-8859-16 iso-8859-16",
          "koi8-r cskoi8r koi koi8 koi8-r koi8_r",
          "koi8-u koi8-ru koi8-u",
          "macintosh csmacintosh mac macintosh x-mac-roman",
          "windows-874 dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 " +
            "windows-874",
          "windows-1250 cp1250 windows-1250 x-cp1250",
          "windows-1251 cp1251 windows-1251 x-cp1251",
          "windows-1252 ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 " +
            "iso-8859-1 iso-ir-100 iso8859-1 iso88591 iso_8859-1 " +
            "iso_8859-1:1987 " +
            "l1 latin1 us-ascii windows-1252 x-cp1252",
          "windows-1253 cp1253 windows-1253 x-cp1253",
          "windows-1254 cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 " +
            "iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
          "windows-1255 cp1255 windows-1255 x-cp1255",
          "windows-1256 cp1256 windows-1256 x-cp1256",
          "windows-1257 cp1257 windows-1257 x-cp1257",
          "windows-1258 cp1258 windows-1258 x-cp1258",
          "x-mac-cyrillic x-mac-cyrillic x-mac-ukrainian",
          "gbk chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk " +
            "iso-ir-58 x-gbk",
          "gb18030 gb18030",
          "big5 big5 big5-hkscs cn-big5 csbig5 x-x-big5",
          "euc-jp cseucpkdfmtjapanese euc-jp x-euc-jp",
          "iso-2022-jp csiso2022jp iso-2022-jp",
          "shift_jis csshiftjis ms932 ms_kanji shift-jis shift_jis sjis " +
            "windows-31j x-sjis",
          "euc-kr cseuckr csksc56011987 euc-kr iso-ir-149 korean " +
            "ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 windows-949",
          "replacement csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext " +
            "iso-2022-kr replacement",
          "utf-16be unicodefffe utf-16be",
          "utf-16le csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 " +
            "utf-16le",
          "x-user-defined x-user-defined",
        ];
        encodingLabels = new Map();
        for (const line of encodingLabelText) {
          const [name, ...labels] = line.split(" ");
          for (const l of labels) {
            mapSet(encodingLabels, l, name);
          }
        }
      }
      const key = `${label}`
        .replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "")
        .toLowerCase();
      return mapGet(encodingLabels, key);
    }

    const emptyBytes = new encodingUint8Array(0);

    function decodeError() {
      return new TypeError("The encoded data is not valid");
    }

    // A decoder per encoding: decode(bytes, stream, fatal) gives the text of
    // bytes (after what an earlier streaming call kept back) and keeps back
    // an incomplete trailing sequence when stream is true.
    class SingleByteDecoder {
      #index; // 128 code points for bytes 0x80..0xFF; null: x-user-defined

      constructor(name) {
        // the indexes are a lazy part of the prelude (41-encodings.js)
        this.#index = name === "x-user-defined"
          ? null
          : loadPart("encodings")(name);
      }

      decode(bytes, stream, fatal) {
        const n = bytes.length;
        const units = new Uint16Array(n);
        const index = this.#index;
        for (let i = 0; i < n; i++) {
          const b = bytes[i];
          if (b < 0x80) {
            units[i] = b;
          } else if (index === null) {
            units[i] = 0xf780 + b - 0x80;
          } else {
            const c = index.charCodeAt(b - 0x80);
            if (c === 0xfffd && fatal) {
              throw decodeError();
            }
            units[i] = c;
          }
        }
        return unitsToString(units, n);
      }
    }

    class Utf16Decoder {
      #bigEndian;
      #leadByte = -1; // an odd byte kept from the last chunk
      #leadSurrogate = 0; // a lead surrogate kept from the last chunk

      constructor(bigEndian) {
        this.#bigEndian = bigEndian;
      }

      decode(bytes, stream, fatal) {
        const n = bytes.length;
        const units = new Uint16Array(((n + 1) >> 1) + 2);
        let o = 0;
        let i = 0;
        let lead = this.#leadSurrogate;
        const big = this.#bigEndian;
        const bad = () => {
          if (fatal) {
            this.#leadByte = -1;
            this.#leadSurrogate = 0;
            throw decodeError();
          }
          units[o++] = 0xfffd;
        };
        let first = this.#leadByte;
        while (true) {
          let b0;
          if (first !== -1) {
            b0 = first;
            first = -1;
          } else if (i < n) {
            b0 = bytes[i++];
          } else {
            break;
          }
          if (i >= n) {
            this.#leadByte = b0;
            break;
          }
          const b1 = bytes[i++];
          this.#leadByte = -1;
          const unit = big ? (b0 << 8) | b1 : (b1 << 8) | b0;
          if (lead !== 0) {
            if (unit >= 0xdc00 && unit <= 0xdfff) {
              units[o++] = lead;
              units[o++] = unit;
              lead = 0;
              continue;
            }
            lead = 0;
            bad();
          }
          if (unit >= 0xd800 && unit <= 0xdbff) {
            lead = unit;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            bad();
          } else {
            units[o++] = unit;
          }
        }
        this.#leadSurrogate = lead;
        if (!stream && (this.#leadByte !== -1 || lead !== 0)) {
          this.#leadByte = -1;
          this.#leadSurrogate = 0;
          bad();
        }
        return unitsToString(units, o);
      }
    }

    class Utf8Decoder {
      #pending = null; // bytes of an incomplete sequence, while streaming

      decode(bytes, stream, fatal) {
        if (this.#pending !== null) {
          const joined = new Uint8Array(this.#pending.length + bytes.length);
          joined.set(this.#pending);
          joined.set(bytes, this.#pending.length);
          bytes = joined;
          this.#pending = null;
        }
        let end = bytes.length;
        if (stream) {
          end = completePrefixLength(bytes);
          if (end < bytes.length) {
            this.#pending = bytes.slice(end);
          }
        }
        if (end === 0) {
          return "";
        }
        return decodeUtf8(
          end === bytes.length ? bytes : bytes.subarray(0, end),
          fatal,
        );
      }
    }

    // The CJK encodings, decoded by ICU's converters (isolate/v8s_icu.cc
    // numbers them so; the decoder's state is an ArrayBuffer held here).
    // ICU's tables are not exactly the standard's: bootstrap/README.md lists
    // where they differ.
    const icuEncodings = {
      __proto__: null,
      "gbk": 0,
      "gb18030": 1,
      "big5": 2,
      "euc-jp": 3,
      "iso-2022-jp": 4,
      "shift_jis": 5,
      "euc-kr": 6,
    };

    class IcuDecoder {
      #state;

      constructor(state) {
        this.#state = state;
      }

      decode(bytes, stream, fatal) {
        return icuDecode(this.#state, bytes, stream, fatal);
      }
    }

    // Whether ICU has the converter for a CJK encoding (the TextDecoder
    // constructor asks, so a missing one is its RangeError).
    function icuDecoderFor(name) {
      if (typeof icuDecoderNew !== "function") {
        return undefined;
      }
      const state = icuDecoderNew(icuEncodings[name]);
      return state === undefined ? undefined : new IcuDecoder(state);
    }

    function newDecoder(name) {
      if (name === "utf-8") {
        return new Utf8Decoder();
      }
      if (name === "utf-16le" || name === "utf-16be") {
        return new Utf16Decoder(name === "utf-16be");
      }
      if (icuEncodings[name] !== undefined) {
        return icuDecoderFor(name);
      }
      return new SingleByteDecoder(name);
    }

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
      #encoding;
      #fatal;
      #ignoreBOM;
      #decoder = null; // made on the first decode, again after a flush
      #bomDone = false; // the stream is past the point where a BOM can be

      constructor(label = "utf-8", options = {}) {
        const name = encodingForLabel(label);
        if (
          name === undefined ||
          name === "replacement" ||
          (icuEncodings[name] !== undefined && icuDecoderFor(name) === undefined)
        ) {
          throw new RangeError(
            `The encoding label provided ('${label}') is invalid.`,
          );
        }
        options = options ?? {};
        this.#encoding = name;
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
        return TextDecoder.#check(this).#encoding;
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
        const bytes = input === undefined ? emptyBytes : toBytes(input);
        if (this.#decoder === null) {
          this.#decoder = newDecoder(this.#encoding);
        }
        try {
          let text = this.#decoder.decode(bytes, stream, this.#fatal);
          // UTF-8 and UTF-16 drop a leading BOM unless ignoreBOM.
          if (!this.#bomDone && text.length > 0) {
            this.#bomDone = true;
            if (
              !this.#ignoreBOM &&
              text.charCodeAt(0) === 0xfeff &&
              (this.#encoding === "utf-8" ||
                this.#encoding === "utf-16le" ||
                this.#encoding === "utf-16be")
            ) {
              text = text.slice(1);
            }
          }
          return text;
        } catch (error) {
          this.#decoder = null;
          this.#bomDone = false;
          throw error;
        } finally {
          if (!stream) {
            this.#decoder = null;
            this.#bomDone = false;
          }
        }
      }
    }
    inspectFields(TextDecoder.prototype, ["encoding", "fatal", "ignoreBOM"]);

    // WebIDL's class strings ([object Name]), as Deno has them.
    for (const klass of [TextEncoder, TextDecoder]) {
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: klass.name,
        configurable: true,
      });
    }

    return { TextEncoder, TextDecoder };
  }
