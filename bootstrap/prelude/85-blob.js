  // -------------------------------------------------------------------------
  // Blob, File (the File API standard).
  //
  // A Blob is immutable: its bytes are a list of Uint8Array parts it owns
  // (copied once, when the Blob is made from buffers or strings) and never
  // hands out. slice() makes a new list of views into the same parts, so
  // slicing copies nothing; the bytes are copied only when they are read
  // (text, arrayBuffer, bytes, stream). Later parts reach a Blob's bytes
  // through blobBytes() and make one from bytes they own with
  // blobFromBytes().
  //
  // Like the streams, this is a lazy part of the prelude (README.md "Lazy
  // parts"): a script of its own, isopool:bootstrap/blob, compiled the
  // first time a context needs a Blob (80-streams.js's blobApi(); the
  // globals are lazy accessors), one function that takes what it uses of
  // the prelude's scope as its argument (80-streams.js's lazyScope()).
  "use strict";

  (function blob({
    DOMException,
    PlatformObject,
    PromiseCtor,
    SymbolIterator,
    SymbolToStringTag,
    arrayBufferSlice,
    constructOnto,
    coreDecode,
    defineCloneKind,
    defineProperty,
    encodeUtf8,
    inspectFields,
    isArrayBuffer,
    isSharedArrayBuffer,
    isView,
    mathMax,
    mathMin,
    promiseReject,
    streams,
    typedArrayBuffer,
    typedArraySet,
    unitsToString,
  }) {

    const kBlobChunk = 65536; // the most stream() enqueues at a time
    const kBlobCloneMax = 0x1fffffe8; // V8's longest string, in code units

    let blobPartsOf; // (blob) -> its parts, set by Blob's static block
    let blobWithParts; // (parts, size, type) -> a new Blob, no copy
    let blobSetParts; // (blob, parts, size, type): a revived Blob's state
    let blobStateOf; // (Blob) -> [parts, size, type], or undefined
    let fileStateOf; // (File) -> [name, lastModified], or undefined

    // A type as the standard keeps it: "" when any code unit is outside
    // U+0020..U+007E, else lowercased.
    function normalizeBlobType(type) {
      const s = `${type}`;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x20 || c > 0x7e) {
          return "";
        }
      }
      return s.toLowerCase();
    }

    // The bytes of a BufferSource as a fresh Uint8Array (a copy), or
    // undefined when value is not one.
    function copyBufferSource(value) {
      if (isArrayBuffer(value) || isSharedArrayBuffer(value)) {
        return new Uint8Array(arrayBufferSlice(value, 0));
      }
      if (isView(value)) {
        const view = new Uint8Array(
          value.buffer,
          value.byteOffset,
          value.byteLength,
        );
        return new Uint8Array(view);
      }
      return undefined;
    }

    // Concatenates parts into one new Uint8Array of size bytes.
    function joinParts(parts, size) {
      if (parts.length === 1 && parts[0].byteLength === size) {
        return new Uint8Array(parts[0]);
      }
      const out = new Uint8Array(size);
      let at = 0;
      for (const part of parts) {
        typedArraySet(out, part, at);
        at += part.byteLength;
      }
      return out;
    }

    function convertLineEndings(s) {
      return s.replace(/\r\n|\r/g, "\n");
    }

    // Blob's constructor argument: a WebIDL sequence<BlobPart>.
    function blobPartsFrom(bits, endings, what) {
      if (bits === null || typeof bits !== "object") {
        if (typeof bits !== "function") {
          throw new TypeError(
            `Failed to construct '${what}': The provided value cannot be ` +
              "converted to a sequence.",
          );
        }
      }
      if (typeof bits[SymbolIterator] !== "function") {
        throw new TypeError(
          `Failed to construct '${what}': The object must have a callable ` +
            "[Symbol.iterator] property.",
        );
      }
      const parts = [];
      let size = 0;
      for (const bit of bits) {
        if (bit instanceof Blob) {
          for (const part of blobPartsOf(bit)) {
            parts.push(part);
            size += part.byteLength;
          }
          continue;
        }
        let bytes = copyBufferSource(bit);
        if (bytes === undefined) {
          let s = `${bit}`;
          if (endings === "native") {
            s = convertLineEndings(s);
          }
          bytes = encodeUtf8(s);
        }
        if (bytes.byteLength > 0) {
          parts.push(bytes);
          size += bytes.byteLength;
        }
      }
      return { parts, size };
    }

    function blobOptions(options, what) {
      if (options !== undefined && options !== null) {
        if (typeof options !== "object" && typeof options !== "function") {
          throw new TypeError(
            `Failed to construct '${what}': The provided value is not of ` +
              "type 'BlobPropertyBag'.",
          );
        }
      }
      const type = options?.type;
      const endings = options?.endings;
      let ending = "transparent";
      if (endings !== undefined) {
        ending = `${endings}`;
        if (ending !== "transparent" && ending !== "native") {
          throw new TypeError(
            `Failed to construct '${what}': The provided value '${ending}' ` +
              "is not a valid enum value of type EndingType.",
          );
        }
      }
      return {
        type: type === undefined ? "" : normalizeBlobType(type),
        endings: ending,
      };
    }

    // WebIDL's relative index clamp, as Blob.slice applies it.
    function blobIndex(value, size, dflt) {
      if (value === undefined) {
        return dflt;
      }
      let n = Number(value);
      n = n !== n ? 0 : Math.trunc(n);
      if (n < 0) {
        return mathMax(size + n, 0);
      }
      return mathMin(n, size);
    }

    class Blob extends PlatformObject {
      #parts;
      #size;
      #type;

      constructor(blobParts = undefined, options = undefined) {
        super();
        const opts = blobOptions(options, "Blob");
        const { parts, size } =
          blobParts === undefined
            ? { parts: [], size: 0 }
            : blobPartsFrom(blobParts, opts.endings, new.target.name);
        this.#parts = parts;
        this.#size = size;
        this.#type = opts.type;
      }

      static {
        blobPartsOf = (blob) => blob.#parts;
        blobWithParts = (parts, size, type) => {
          const blob = new Blob();
          blob.#parts = parts;
          blob.#size = size;
          blob.#type = type;
          return blob;
        };
        blobSetParts = (blob, parts, size, type) => {
          blob.#parts = parts;
          blob.#size = size;
          blob.#type = type;
        };
        blobStateOf = (value) =>
          value !== null && typeof value === "object" && #parts in value
            ? [value.#parts, value.#size, value.#type]
            : undefined;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#parts in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get size() {
        return Blob.#check(this).#size;
      }

      get type() {
        return Blob.#check(this).#type;
      }

      slice(start = undefined, end = undefined, contentType = undefined) {
        Blob.#check(this);
        const size = this.#size;
        const from = blobIndex(start, size, 0);
        const to = blobIndex(end, size, size);
        const span = mathMax(to - from, 0);
        const parts = [];
        let skip = from;
        let left = span;
        for (const part of this.#parts) {
          if (left === 0) {
            break;
          }
          const n = part.byteLength;
          if (skip >= n) {
            skip -= n;
            continue;
          }
          const take = mathMin(n - skip, left);
          parts.push(
            skip === 0 && take === n
              ? part
              : new Uint8Array(part.buffer, part.byteOffset + skip, take),
          );
          skip = 0;
          left -= take;
        }
        const type =
          contentType === undefined ? "" : normalizeBlobType(contentType);
        return blobWithParts(parts, span, type);
      }

      stream() {
        Blob.#check(this);
        const parts = this.#parts;
        let index = 0;
        let offset = 0;
        return new (streams().ReadableStream)({
          type: "bytes",
          pull(controller) {
            if (index >= parts.length) {
              controller.close();
              controller.byobRequest?.respond(0);
              return;
            }
            const part = parts[index];
            const n = mathMin(part.byteLength - offset, kBlobChunk);
            // a copy: the stream may transfer (detach) what it is given
            controller.enqueue(
              new Uint8Array(
                new Uint8Array(part.buffer, part.byteOffset + offset, n),
              ),
            );
            offset += n;
            if (offset === part.byteLength) {
              index++;
              offset = 0;
            }
          },
        });
      }

      text() {
        try {
          Blob.#check(this);
          const bytes = joinParts(this.#parts, this.#size);
          return PromiseCtor.resolve(coreDecode(bytes));
        } catch (error) {
          return promiseReject(error);
        }
      }

      arrayBuffer() {
        try {
          Blob.#check(this);
          return PromiseCtor.resolve(
            typedArrayBuffer(joinParts(this.#parts, this.#size)),
          );
        } catch (error) {
          return promiseReject(error);
        }
      }

      bytes() {
        try {
          Blob.#check(this);
          return PromiseCtor.resolve(joinParts(this.#parts, this.#size));
        } catch (error) {
          return promiseReject(error);
        }
      }

    }

    class File extends Blob {
      #name;
      #lastModified;

      constructor(fileBits, fileName, options = undefined) {
        if (arguments.length < 2) {
          throw new TypeError(
            "Failed to construct 'File': 2 arguments required, but only " +
              `${arguments.length} present.`,
          );
        }
        super(fileBits, options);
        this.#name = `${fileName}`;
        const last = options?.lastModified;
        if (last === undefined) {
          this.#lastModified = Date.now();
        } else {
          const n = Number(last);
          this.#lastModified = n !== n || !Number.isFinite(n) ? 0 : Math.trunc(n);
        }
      }

      static {
        fileStateOf = (value) =>
          value !== null && typeof value === "object" && #name in value
            ? [value.#name, value.#lastModified]
            : undefined;
      }

      static #check(self) {
        if (self === null || typeof self !== "object" || !(#name in self)) {
          throw new TypeError("Illegal invocation");
        }
        return self;
      }

      get name() {
        return File.#check(this).#name;
      }

      get lastModified() {
        return File.#check(this).#lastModified;
      }

    }

    // blobBytes(blob): a Blob's bytes as one new Uint8Array.
    function blobBytes(blob) {
      return joinParts(blobPartsOf(blob), blob.size);
    }

    // blobFromBytes(bytes, type): a Blob over bytes the caller gives up (no
    // copy); type is used as it is.
    function blobFromBytes(bytes, type) {
      return blobWithParts(
        bytes.byteLength > 0 ? [bytes] : [],
        bytes.byteLength,
        type,
      );
    }

    // fileFromBlob(blob, name, lastModified): a File with blob's bytes and
    // type (shared, no copy), as FormData makes one.
    function fileFromBlob(blob, name, lastModified) {
      return new File([blob], name, {
        type: blob.type,
        lastModified,
      });
    }

    // structuredClone: a Blob or File is copied (serializable, as the File
    // API says; Deno too), its bytes as a string of one code unit per byte
    // (a Blob larger than the longest string V8 makes, 2^29 - 24 units, is
    // a DataCloneError).
    function stringToBytes(s) {
      const bytes = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) {
        bytes[i] = s.charCodeAt(i);
      }
      return bytes;
    }

    defineCloneKind(
      "Blob",
      (object) => {
        const blob = blobStateOf(object);
        if (blob === undefined) {
          return undefined;
        }
        const [parts, size, type] = blob;
        if (size > kBlobCloneMax) {
          throw new DOMException(
            `Cannot clone a Blob of more than ${kBlobCloneMax} bytes.`,
            "DataCloneError",
          );
        }
        const data = unitsToString(joinParts(parts, size), size);
        const file = fileStateOf(object);
        return file === undefined
          ? ["Blob", type, data]
          : ["File", type, data, file[0], `${file[1]}`];
      },
      (object, which, type, data, name = "", lastModified = "0") => {
        const bytes = stringToBytes(data);
        constructOnto(object, () =>
          which === "File"
            ? new File([], name, { lastModified: +lastModified })
            : new Blob(),
        );
        blobSetParts(
          object,
          bytes.byteLength > 0 ? [bytes] : [],
          bytes.byteLength,
          type,
        );
      },
    );

    for (const [klass, tag] of [
      [Blob, "Blob"],
      [File, "File"],
    ]) {
      defineProperty(klass.prototype, SymbolToStringTag, {
        value: tag,
        configurable: true,
      });
    }
    inspectFields(Blob.prototype, ["size", "type"]);
    inspectFields(File.prototype, ["name", "size", "type"]);

    return {
      Blob,
      File,
      isBlob: (value) => blobStateOf(value) !== undefined,
      blobBytes,
      blobFromBytes,
      fileFromBlob,
      normalizeBlobType,
      copyBufferSource,
      joinParts,
    };
  })
