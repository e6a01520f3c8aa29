  // -------------------------------------------------------------------------
  // crypto (Web Crypto: getRandomValues, randomUUID, and subtle, which is
  // the lazy part 65-subtle.js: compiled the first time a context reads
  // crypto.subtle, SubtleCrypto or CryptoKey). The randomness is OpenSSL's,
  // through sync ops (ops/crypto.c).

  // { SubtleCrypto, CryptoKey, subtle } (65-subtle.js), made on first use
  // in this context; the part takes what it uses of the prelude's scope
  // from subtleScope() (README.md "Lazy parts").
  let subtleExports;
  const jsonParse = JSON.parse;

  function subtleScope() {
    return {
      DOMException: domExceptionApi().DOMException,
      PlatformObject,
      constructOnto,
      defineCloneKind,
      jsonParse,
      jsonStringify,
      SymbolIterator,
      SymbolToStringTag,
      arrayBufferByteLength,
      arrayBufferSlice,
      atob,
      btoa,
      dataViewBuffer,
      dataViewByteLength,
      dataViewByteOffset,
      defineProperty,
      illegal,
      inspectFields,
      isArray,
      isArrayBuffer,
      isDataView,
      isView,
      opAsync,
      opSync,
      typedArrayBuffer,
      typedArrayByteLength,
      typedArrayByteOffset,
    };
  }

  function subtleApi() {
    if (subtleExports === undefined) {
      subtleExports = loadPart("subtle")(subtleScope());
    }
    return subtleExports;
  }

  // Crypto and crypto are made the first time a context reads one of them
  // (cryptoApi(), defineLazy in 99-globals.js), not when the prelude runs,
  // so a new context deserializes none of their objects.
  let cryptoExports;

  function cryptoApi() {
    if (cryptoExports === undefined) {
      cryptoExports = cryptoModule();
    }
    return cryptoExports;
  }

  function cryptoModule() {
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
        return subtleApi().subtle;
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
          throw new (domExceptionApi().DOMException)(
            "The provided ArrayBufferView is not an integer array type",
            "TypeMismatchError",
          );
        }
        const n = typedArrayByteLength(array);
        if (n > 65536) {
          throw new (domExceptionApi().DOMException)(
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

    return { Crypto, crypto: new Crypto(illegal) };
  }

  defineLazy(globalThis, ["CryptoKey"], subtleApi); // 80-streams.js
