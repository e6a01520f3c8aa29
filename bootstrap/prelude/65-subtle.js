  // -------------------------------------------------------------------------
  // crypto.subtle (Web Crypto: digest; HMAC sign/verify; AES-GCM
  // encrypt/decrypt; ECDSA and Ed25519 verify; importKey/exportKey as raw
  // and jwk; generateKey for HMAC and AES-GCM), SubtleCrypto and CryptoKey.
  // The cryptography is OpenSSL's, as async ops (ops/crypto.c); this part
  // normalises algorithms, checks keys and usages as the Web Crypto
  // standard says, and keeps each key's bytes in its CryptoKey.
  //
  // A lazy part of the prelude (README.md "Lazy parts"), script
  // isopool:bootstrap/subtle: compiled the first time a context reads
  // crypto.subtle, SubtleCrypto or CryptoKey (60-crypto.js's subtleApi()),
  // one function that takes what it uses of the prelude's scope as its
  // argument (60-crypto.js's subtleScope()).
  "use strict";

  (function subtle({
    DOMException,
    PlatformObject,
    SymbolIterator,
    SymbolToStringTag,
    arrayBufferByteLength,
    arrayBufferSlice,
    atob,
    btoa,
    constructOnto,
    dataViewBuffer,
    dataViewByteLength,
    dataViewByteOffset,
    defineCloneKind,
    defineProperty,
    illegal,
    inspectFields,
    isArray,
    isArrayBuffer,
    isDataView,
    isView,
    jsonParse,
    jsonStringify,
    opAsync,
    opSync,
    typedArrayBuffer,
    typedArrayByteLength,
    typedArrayByteOffset,
  }) {
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


    // ---- keys ----

    const hashNames = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
    // Algorithms this subtle knows, by the standard's spelling.
    const keyAlgorithms = ["HMAC", "AES-GCM", "ECDSA", "Ed25519"];
    const curves = { "P-256": 32, "P-384": 48, "P-521": 66 };
    const ecJwkAlg = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
    const aesJwkAlg = { 128: "A128GCM", 192: "A192GCM", 256: "A256GCM" };
    const hmacJwkAlg = {
      "SHA-1": "HS1",
      "SHA-256": "HS256",
      "SHA-384": "HS384",
      "SHA-512": "HS512",
    };
    // The usages each kind of key may have.
    const allowedUsages = {
      HMAC: ["sign", "verify"],
      "AES-GCM": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
      ECDSA: ["verify"],
      Ed25519: ["verify"],
    };
    const dataError = (msg) => new DOMException(msg, "DataError");
    const notSupported = (msg) => new DOMException(msg, "NotSupportedError");

    // The algorithm dictionary of `algorithm` (a name, or an object with a
    // `name`), its name in the standard's spelling.
    function normalizeAlgorithm(algorithm, allowed) {
      const dict =
        typeof algorithm === "string" ? { name: algorithm } : algorithm;
      if (dict === null || typeof dict !== "object") {
        throw new TypeError("Algorithm: Argument must be a string or an object");
      }
      if (dict.name === undefined) {
        throw new TypeError("Failed to normalize algorithm: 'name' is required.");
      }
      const upper = asciiUpper(`${dict.name}`);
      for (const name of allowed) {
        if (asciiUpper(name) === upper) {
          return { dict, name };
        }
      }
      throw notSupported("Unrecognized algorithm name");
    }

    function normalizeHash(hash) {
      if (hash === undefined) {
        throw new TypeError("Failed to normalize algorithm: 'hash' is required.");
      }
      return normalizeAlgorithm(hash, hashNames).name;
    }

    // A copy of a BufferSource's bytes (a key must not change with its
    // source).
    function copyBytes(data, what) {
      const view = bufferSourceBytes(data, what);
      return new Uint8Array(view);
    }

    const base64urlOf = (bytes) => {
      let bin = "";
      for (let i = 0; i < bytes.length; i++) {
        bin += String.fromCharCode(bytes[i]);
      }
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    };
    function bytesOfBase64url(text, what) {
      if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
        throw dataError(`${what} is not base64url`);
      }
      let bin;
      try {
        bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
      } catch {
        throw dataError(`${what} is not base64url`);
      }
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) {
        out[i] = bin.charCodeAt(i);
      }
      return out;
    }

    // Which of CryptoKey's slots a key has; undefined for anything else.
    let keySlots;

    // A platform object (35-microtasks.js's PlatformObject): structuredClone
    // copies it (defineCloneKind, below), as the standard says.
    class CryptoKey extends PlatformObject {
      #slots;

      constructor(key = undefined, slots = undefined) {
        if (key !== illegal) {
          throw new TypeError("Illegal constructor");
        }
        super();
        this.#slots = slots;
      }

      static {
        keySlots = (v) =>
          v !== null && typeof v === "object" && #slots in v ? v.#slots : undefined;
      }

      static #of(self) {
        const slots = keySlots(self);
        if (slots === undefined) {
          throw new TypeError("Illegal invocation");
        }
        return slots;
      }

      get type() {
        return CryptoKey.#of(this).type;
      }

      get extractable() {
        return CryptoKey.#of(this).extractable;
      }

      get algorithm() {
        return CryptoKey.#of(this).algorithm;
      }

      get usages() {
        return CryptoKey.#of(this).usages;
      }
    }
    defineProperty(CryptoKey.prototype, SymbolToStringTag, {
      value: "CryptoKey",
      configurable: true,
    });
    inspectFields(CryptoKey.prototype, [
      "type",
      "extractable",
      "algorithm",
      "usages",
    ]);

    // structuredClone: a key's slots as strings (the material one code unit
    // per byte), and back onto the bare object the copy is made on.
    defineCloneKind(
      "CryptoKey",
      (object) => {
        const slots = keySlots(object);
        if (slots === undefined) {
          return undefined;
        }
        let material = "";
        for (let i = 0; i < slots.material.length; i++) {
          material += String.fromCharCode(slots.material[i]);
        }
        return [slots.type, slots.extractable ? "1" : "0",
                jsonStringify(slots.algorithm), jsonStringify(slots.usages),
                material];
      },
      (object, type, extractable, algorithm, usages, material) => {
        const bytes = new Uint8Array(material.length);
        for (let i = 0; i < material.length; i++) {
          bytes[i] = material.charCodeAt(i);
        }
        constructOnto(object, () => newKey(type, extractable === "1",
          jsonParse(algorithm), jsonParse(usages), bytes));
      },
    );

    function newKey(type, extractable, algorithm, usages, material) {
      return new CryptoKey(illegal, {
        type,
        extractable: !!extractable,
        algorithm,
        usages,
        material,
      });
    }

    // The usages, checked against the kind of key (SyntaxError, as the
    // standard says), in the order given, without repeats.
    function checkUsages(usages, name, type) {
      if (usages === null || typeof usages !== "object" ||
          typeof usages[SymbolIterator] !== "function") {
        throw new TypeError("keyUsages: Argument must be a sequence");
      }
      const out = [];
      for (const u of usages) {
        const usage = `${u}`;
        if (!allowedUsages[name].includes(usage)) {
          throw new DOMException(`Invalid key usage '${usage}'`, "SyntaxError");
        }
        if (!out.includes(usage)) {
          out.push(usage);
        }
      }
      if (out.length === 0 && type !== "public") {
        throw new DOMException("Usages cannot be empty", "SyntaxError");
      }
      return out;
    }

    // A JWK's common members: `use`, `key_ops`, `ext`.
    function checkJwk(jwk, kty, use, usages, extractable) {
      if (jwk === null || typeof jwk !== "object") {
        throw new TypeError("keyData: a JsonWebKey must be an object");
      }
      if (jwk.kty !== kty) {
        throw dataError(`'kty' must be '${kty}'`);
      }
      if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
        throw dataError(`'use' must be '${use}'`);
      }
      if (jwk.key_ops !== undefined) {
        if (!isArray(jwk.key_ops)) {
          throw dataError("'key_ops' must be an array");
        }
        for (const u of usages) {
          if (!jwk.key_ops.includes(u)) {
            throw dataError(`'key_ops' does not allow '${u}'`);
          }
        }
      }
      if (jwk.ext === false && extractable) {
        throw dataError("'ext' is false but the key would be extractable");
      }
    }

    async function importKey(format, keyData, algorithm, extractable, usages) {
      const what = "Failed to execute 'importKey' on 'SubtleCrypto'";
      const { dict, name } = normalizeAlgorithm(algorithm, keyAlgorithms);
      format = `${format}`;
      if (format !== "raw" && format !== "jwk") {
        throw notSupported(`Unsupported key format '${format}' (raw, jwk)`);
      }
      const type = name === "HMAC" || name === "AES-GCM" ? "secret" : "public";
      usages = checkUsages(usages, name, type);
      if (name === "HMAC") {
        const hash = normalizeHash(dict.hash);
        let bytes;
        if (format === "raw") {
          bytes = copyBytes(keyData, what);
        } else {
          checkJwk(keyData, "oct", "sig", usages, extractable);
          bytes = bytesOfBase64url(keyData.k, "'k'");
          if (keyData.alg !== undefined && keyData.alg !== hmacJwkAlg[hash]) {
            throw dataError(`'alg' must be '${hmacJwkAlg[hash]}'`);
          }
        }
        let length = bytes.length * 8;
        if (length === 0) {
          throw dataError("The key is empty");
        }
        if (dict.length !== undefined) {
          const want = +dict.length;
          if (!(want <= length && want > length - 8)) {
            throw dataError(`The key is ${length} bits, not ${want}`);
          }
          length = want;
        }
        return newKey(type, extractable, { name, length, hash: { name: hash } },
                      usages, bytes);
      }
      if (name === "AES-GCM") {
        let bytes;
        if (format === "raw") {
          bytes = copyBytes(keyData, what);
        } else {
          checkJwk(keyData, "oct", "enc", usages, extractable);
          bytes = bytesOfBase64url(keyData.k, "'k'");
        }
        const length = bytes.length * 8;
        if (aesJwkAlg[length] === undefined) {
          throw dataError("An AES key is 128, 192 or 256 bits");
        }
        if (format === "jwk" && keyData.alg !== undefined &&
            keyData.alg !== aesJwkAlg[length]) {
          throw dataError(`'alg' must be '${aesJwkAlg[length]}'`);
        }
        return newKey(type, extractable, { name, length }, usages, bytes);
      }
      if (name === "ECDSA") {
        const namedCurve = `${dict.namedCurve}`;
        const field = curves[namedCurve];
        if (field === undefined) {
          throw notSupported(`Unsupported namedCurve '${namedCurve}'`);
        }
        let point;
        if (format === "raw") {
          point = copyBytes(keyData, what);
        } else {
          checkJwk(keyData, "EC", "sig", usages, extractable);
          if (keyData.d !== undefined) {
            throw notSupported("ECDSA private keys are not supported");
          }
          if (keyData.crv !== namedCurve) {
            throw dataError(`'crv' must be '${namedCurve}'`);
          }
          const x = bytesOfBase64url(keyData.x, "'x'");
          const y = bytesOfBase64url(keyData.y, "'y'");
          if (x.length !== field || y.length !== field) {
            throw dataError(`'x' and 'y' must be ${field} bytes`);
          }
          point = new Uint8Array(1 + 2 * field);
          point[0] = 4;
          point.set(x, 1);
          point.set(y, 1 + field);
        }
        try {
          point = await opAsync("op_crypto_ec_point", namedCurve, point);
        } catch {
          throw dataError(`The key is not a point of ${namedCurve}`);
        }
        return newKey(type, extractable, { name, namedCurve }, usages, point);
      }
      // Ed25519
      let bytes;
      if (format === "raw") {
        bytes = copyBytes(keyData, what);
      } else {
        checkJwk(keyData, "OKP", "sig", usages, extractable);
        if (keyData.d !== undefined) {
          throw notSupported("Ed25519 private keys are not supported");
        }
        if (keyData.crv !== "Ed25519") {
          throw dataError("'crv' must be 'Ed25519'");
        }
        bytes = bytesOfBase64url(keyData.x, "'x'");
      }
      if (bytes.length !== 32) {
        throw dataError("An Ed25519 public key is 32 bytes");
      }
      return newKey(type, extractable, { name }, usages, bytes);
    }

    function exportKey(format, key) {
      const slots = keySlots(key);
      if (slots === undefined) {
        throw new TypeError("key: Argument is not a CryptoKey");
      }
      format = `${format}`;
      if (format !== "raw" && format !== "jwk") {
        throw notSupported(`Unsupported key format '${format}' (raw, jwk)`);
      }
      if (!slots.extractable) {
        throw new DOMException("key is not extractable", "InvalidAccessError");
      }
      const { algorithm, material } = slots;
      if (format === "raw") {
        return arrayBufferSlice(typedArrayBuffer(material), 0);
      }
      const jwk = {};
      switch (algorithm.name) {
        case "HMAC":
          jwk.kty = "oct";
          jwk.alg = hmacJwkAlg[algorithm.hash.name];
          jwk.k = base64urlOf(material);
          break;
        case "AES-GCM":
          jwk.kty = "oct";
          jwk.alg = aesJwkAlg[algorithm.length];
          jwk.k = base64urlOf(material);
          break;
        case "ECDSA": {
          const field = curves[algorithm.namedCurve];
          jwk.kty = "EC";
          jwk.alg = ecJwkAlg[algorithm.namedCurve];
          jwk.crv = algorithm.namedCurve;
          jwk.x = base64urlOf(material.subarray(1, 1 + field));
          jwk.y = base64urlOf(material.subarray(1 + field));
          break;
        }
        default:
          jwk.kty = "OKP";
          jwk.crv = "Ed25519";
          jwk.x = base64urlOf(material);
      }
      jwk.key_ops = [...slots.usages];
      jwk.ext = true;
      return jwk;
    }

    // The key's slots once it is checked to be of `name` and to allow
    // `usage` (InvalidAccessError otherwise, as the standard says).
    function keyFor(key, name, usage) {
      const slots = keySlots(key);
      if (slots === undefined) {
        throw new TypeError("key: Argument is not a CryptoKey");
      }
      if (slots.algorithm.name !== name) {
        throw new DOMException(
          "The key's algorithm does not match the operation's",
          "InvalidAccessError",
        );
      }
      if (!slots.usages.includes(usage)) {
        throw new DOMException(
          `The key's usages do not include '${usage}'`,
          "InvalidAccessError",
        );
      }
      return slots;
    }

    function bufferOf(bytes) {
      const buffer = typedArrayBuffer(bytes);
      const offset = typedArrayByteOffset(bytes);
      const length = typedArrayByteLength(bytes);
      return offset === 0 && length === arrayBufferByteLength(buffer)
        ? buffer
        : arrayBufferSlice(buffer, offset, offset + length);
    }

    const gcmTagLengths = [32, 64, 96, 104, 112, 120, 128];

    async function aesGcm(encrypt, algorithm, key, data) {
      const what = `Failed to execute '${encrypt ? "encrypt" : "decrypt"}' ` +
        "on 'SubtleCrypto'";
      const { dict, name } = normalizeAlgorithm(algorithm, keyAlgorithms);
      if (name !== "AES-GCM") {
        throw notSupported(`${name} does not ${encrypt ? "encrypt" : "decrypt"}`);
      }
      if (dict.iv === undefined) {
        throw new TypeError("Failed to normalize algorithm: 'iv' is required.");
      }
      const iv = copyBytes(dict.iv, what);
      const aad = dict.additionalData === undefined
        ? new Uint8Array(0)
        : copyBytes(dict.additionalData, what);
      const tagLength = dict.tagLength === undefined ? 128 : +dict.tagLength;
      const slots = keyFor(key, name, encrypt ? "encrypt" : "decrypt");
      const bytes = copyBytes(data, what);
      if (!gcmTagLengths.includes(tagLength)) {
        throw new DOMException(`Invalid tag length ${tagLength}`,
                               "OperationError");
      }
      if (iv.length === 0) {
        throw new DOMException("The IV is empty", "OperationError");
      }
      try {
        return bufferOf(await opAsync("op_crypto_aes_gcm", encrypt,
                                      slots.material, iv, aad, tagLength,
                                      bytes));
      } catch (error) {
        throw new DOMException(
          encrypt ? "Encryption failed" : "Decryption failed",
          "OperationError",
        );
      }
    }

    async function generateKey(algorithm, extractable, usages) {
      const { dict, name } = normalizeAlgorithm(algorithm, keyAlgorithms);
      if (name !== "HMAC" && name !== "AES-GCM") {
        throw notSupported(`Generating ${name} keys is not supported`);
      }
      usages = checkUsages(usages, name, "secret");
      let bits;
      let alg;
      if (name === "HMAC") {
        const hash = normalizeHash(dict.hash);
        bits = dict.length === undefined
          ? (hash === "SHA-384" || hash === "SHA-512" ? 1024 : 512)
          : +dict.length;
        if (!(bits > 0 && bits % 8 === 0 && bits <= 65536 * 8)) {
          throw new DOMException(`Invalid HMAC key length ${bits}`,
                                 "OperationError");
        }
        alg = { name, length: bits, hash: { name: hash } };
      } else {
        bits = +dict.length;
        if (aesJwkAlg[bits] === undefined) {
          throw new DOMException("AES key length must be 128, 192 or 256 bits",
                                 "OperationError");
        }
        alg = { name, length: bits };
      }
      const bytes = opSync("op_crypto_random", bits / 8);
      return newKey("secret", extractable, alg, usages, new Uint8Array(bytes));
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

      #check(what, n, args) {
        if (args.length < n) {
          throw new TypeError(
            `Failed to execute '${what}' on 'SubtleCrypto': ${n} arguments ` +
              `required, but only ${args.length} present.`,
          );
        }
      }

      async importKey(format, keyData, algorithm, extractable, keyUsages) {
        this.#check("importKey", 5, arguments);
        return await importKey(format, keyData, algorithm, extractable,
                               keyUsages);
      }

      async exportKey(format, key) {
        this.#check("exportKey", 2, arguments);
        return exportKey(format, key);
      }

      async generateKey(algorithm, extractable, keyUsages) {
        this.#check("generateKey", 3, arguments);
        return await generateKey(algorithm, extractable, keyUsages);
      }

      async sign(algorithm, key, data) {
        this.#check("sign", 3, arguments);
        const { name } = normalizeAlgorithm(algorithm, keyAlgorithms);
        if (name !== "HMAC") {
          throw notSupported(`Signing with ${name} is not supported`);
        }
        const slots = keyFor(key, name, "sign");
        const bytes = copyBytes(data, "Failed to execute 'sign' on 'SubtleCrypto'");
        return bufferOf(await opAsync("op_crypto_hmac",
                                      slots.algorithm.hash.name,
                                      slots.material, bytes));
      }

      async verify(algorithm, key, signature, data) {
        this.#check("verify", 4, arguments);
        const what = "Failed to execute 'verify' on 'SubtleCrypto'";
        const { dict, name } = normalizeAlgorithm(algorithm, keyAlgorithms);
        if (name === "AES-GCM") {
          throw notSupported("AES-GCM does not verify");
        }
        const slots = keyFor(key, name, "verify");
        const sig = copyBytes(signature, what);
        const bytes = copyBytes(data, what);
        if (name === "HMAC") {
          return await opAsync("op_crypto_hmac_verify",
                               slots.algorithm.hash.name, slots.material,
                               bytes, sig);
        }
        if (name === "ECDSA") {
          return await opAsync("op_crypto_ecdsa_verify",
                               slots.algorithm.namedCurve,
                               normalizeHash(dict.hash), slots.material, sig,
                               bytes);
        }
        return await opAsync("op_crypto_ed25519_verify", slots.material, sig,
                             bytes);
      }

      async encrypt(algorithm, key, data) {
        this.#check("encrypt", 3, arguments);
        return await aesGcm(true, algorithm, key, data);
      }

      async decrypt(algorithm, key, data) {
        this.#check("decrypt", 3, arguments);
        return await aesGcm(false, algorithm, key, data);
      }
    }
    defineProperty(SubtleCrypto.prototype, SymbolToStringTag, {
      value: "SubtleCrypto",
      configurable: true,
    });
    inspectFields(SubtleCrypto.prototype, []);

    const subtle = new SubtleCrypto(illegal);

    return { SubtleCrypto, CryptoKey, subtle };
  })
