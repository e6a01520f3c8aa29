  // -------------------------------------------------------------------------
  // crypto (Web Crypto: getRandomValues, randomUUID, subtle.digest).

  const integerArrayTypes = [
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "BigInt64Array",
    "BigUint64Array",
  ];
  const digestAlgorithms = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const asciiUpper = (s) => s.replace(/[a-z]+/g, (m) => m.toUpperCase());

  // The bytes of a BufferSource, as a Uint8Array over the same memory (the
  // shim copies them when it records the op).
  function bufferSourceBytes(data, what) {
    if (isArrayBuffer(data)) {
      return new Uint8Array(data);
    }
    if (isView(data)) {
      if (isDataView(data)) {
        return new Uint8Array(
          dataViewBuffer(data),
          dataViewByteOffset(data),
          dataViewByteLength(data),
        );
      }
      return new Uint8Array(
        typedArrayBuffer(data),
        typedArrayByteOffset(data),
        typedArrayByteLength(data),
      );
    }
    throw new TypeError(
      `${what}: Argument 2 is not an ArrayBuffer or ArrayBufferView.`,
    );
  }

  function normalizeDigest(algorithm) {
    let name;
    if (algorithm !== null && typeof algorithm === "object") {
      if (algorithm.name === undefined) {
        throw new TypeError(
          "Failed to normalize algorithm: 'name' is required.",
        );
      }
      name = `${algorithm.name}`;
    } else {
      name = `${algorithm}`;
    }
    const upper = asciiUpper(name);
    if (!digestAlgorithms.includes(upper)) {
      throw new DOMException(
        "Unrecognized algorithm name",
        "NotSupportedError",
      );
    }
    return upper;
  }

  class SubtleCrypto {
    #brand = true;

    constructor(key = undefined) {
      if (key !== illegal) {
        throw new TypeError("Illegal constructor");
      }
    }

    // Every failure is a rejection, as for any promise-returning method.
    async digest(algorithm, data) {
      const what = "Failed to execute 'digest' on 'SubtleCrypto'";
      if (this === null || typeof this !== "object" || !(#brand in this)) {
        throw new TypeError("Illegal invocation");
      }
      if (arguments.length < 2) {
        throw new TypeError(
          `${what}: 2 arguments required, but only ${arguments.length} ` +
            "present.",
        );
      }
      const name = normalizeDigest(algorithm);
      const bytes = bufferSourceBytes(data, what);
      const out = await opAsync("op_crypto_digest", name, bytes);
      const buffer = typedArrayBuffer(out);
      const offset = typedArrayByteOffset(out);
      const length = typedArrayByteLength(out);
      return offset === 0 && length === arrayBufferByteLength(buffer)
        ? buffer
        : arrayBufferSlice(buffer, offset, offset + length);
    }
  }
  defineProperty(SubtleCrypto.prototype, SymbolToStringTag, {
    value: "SubtleCrypto",
    configurable: true,
  });
  inspectFields(SubtleCrypto.prototype, []);

  const subtle = new SubtleCrypto(illegal);

  class Crypto {
    #brand = true;

    constructor(key = undefined) {
      if (key !== illegal) {
        throw new TypeError("Illegal constructor");
      }
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#brand in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get subtle() {
      Crypto.#check(this);
      return subtle;
    }

    getRandomValues(array) {
      Crypto.#check(this);
      const what = "Failed to execute 'getRandomValues' on 'Crypto'";
      if (arguments.length === 0) {
        throw new TypeError(
          `${what}: 1 argument required, but only 0 present.`,
        );
      }
      if (!isView(array)) {
        throw new TypeError(`${what}: Argument 1 is not an ArrayBufferView.`);
      }
      if (!integerArrayTypes.includes(typedArrayTag(array))) {
        throw new DOMException(
          "The provided ArrayBufferView is not an integer array type",
          "TypeMismatchError",
        );
      }
      const n = typedArrayByteLength(array);
      if (n > 65536) {
        throw new DOMException(
          `The ArrayBufferView's byte length (${n}) exceeds the number of ` +
            "bytes of entropy available via this API (65536)",
          "QuotaExceededError",
        );
      }
      if (n > 0) {
        const bytes = opSync("op_crypto_random", n);
        if (
          typedArrayTag(bytes) !== "Uint8Array" ||
          typedArrayLength(bytes) !== n
        ) {
          throw new Error(`op_crypto_random: expected ${n} random bytes`);
        }
        const target = typedArrayBuffer(array);
        const offset = typedArrayByteOffset(array);
        typedArraySet(new Uint8Array(target, offset, n), bytes);
      }
      return array;
    }

    randomUUID() {
      Crypto.#check(this);
      return opSync("op_crypto_random_uuid");
    }
  }
  defineProperty(Crypto.prototype, SymbolToStringTag, {
    value: "Crypto",
    configurable: true,
  });
  inspectFields(Crypto.prototype, ["subtle"]);

