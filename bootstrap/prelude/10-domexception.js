  // -------------------------------------------------------------------------
  // DOMException.

  // The class is made the first time a context needs it
  // (domExceptionApi(): the global, the prelude's own `new
  // (domExceptionApi().DOMException)(...)`, the lazy parts' scope), not
  // when the prelude runs, so a new context deserializes none of it (its
  // 50 constants included). The state of the DOMExceptions is here.

  // A DOMException is made by the shim's HostObject (when the shim has it)
  // and given DOMException.prototype, whose prototype is Error.prototype
  // (WebIDL; the class itself does not extend Error, as in Deno): V8's
  // serializer hands such an object to the shim, which is how
  // structuredClone copies a DOMException (describeHost/reviveHost in
  // 35-microtasks.js). Its name and message live in domExceptions; the only
  // own property is the stack.
  const HostObject = iso.HostObject;
  const domExceptions = new WeakMap(); // DOMException -> { name, message }

  let domExceptionExports;

  function domExceptionApi() {
    if (domExceptionExports === undefined) {
      domExceptionExports = domExceptionModule();
    }
    return domExceptionExports;
  }

  // DOMException.prototype where the class was made, else undefined (no
  // DOMException exists yet).
  function loadedDOMExceptionProto() {
    return domExceptionExports?.DOMException.prototype;
  }

  function domExceptionModule() {
    const domExceptionCodes = {
      IndexSizeError: 1,
      HierarchyRequestError: 3,
      WrongDocumentError: 4,
      InvalidCharacterError: 5,
      NoModificationAllowedError: 7,
      NotFoundError: 8,
      NotSupportedError: 9,
      InUseAttributeError: 10,
      InvalidStateError: 11,
      SyntaxError: 12,
      InvalidModificationError: 13,
      NamespaceError: 14,
      InvalidAccessError: 15,
      TypeMismatchError: 17,
      SecurityError: 18,
      NetworkError: 19,
      AbortError: 20,
      URLMismatchError: 21,
      QuotaExceededError: 22,
      TimeoutError: 23,
      InvalidNodeTypeError: 24,
      DataCloneError: 25,
    };

    class DOMException {
      constructor(message = "", options = "Error") {
        const self = typeof HostObject === "function" ? new HostObject() : {};
        setPrototypeOf(self, new.target.prototype);
        const state = { name: "Error", message: `${message}` };
        if (options !== null && typeof options === "object") {
          if (options.name !== undefined) {
            state.name = `${options.name}`;
          }
          if ("cause" in options) {
            defineHidden(self, { cause: options.cause });
          }
        } else {
          state.name = `${options}`;
        }
        domExceptions.set(self, state);
        // The stack starts with "AbortError: ..." and skips this constructor.
        captureStackTrace(self, new.target);
        return self;
      }

      static #state(self) {
        const state =
          self !== null && typeof self === "object"
            ? domExceptions.get(self)
            : undefined;
        if (state === undefined) {
          throw new TypeError("Illegal invocation");
        }
        return state;
      }

      get message() {
        return DOMException.#state(this).message;
      }

      get name() {
        return DOMException.#state(this).name;
      }

      get code() {
        const name = DOMException.#state(this).name;
        return hasOwn(domExceptionCodes, name) ? domExceptionCodes[name] : 0;
      }
    }
    setPrototypeOf(DOMException.prototype, Error.prototype);
    defineProperty(DOMException.prototype, SymbolToStringTag, {
      value: "DOMException",
      configurable: true,
    });
    defineConstants([DOMException, DOMException.prototype], {
      INDEX_SIZE_ERR: 1,
      DOMSTRING_SIZE_ERR: 2,
      HIERARCHY_REQUEST_ERR: 3,
      WRONG_DOCUMENT_ERR: 4,
      INVALID_CHARACTER_ERR: 5,
      NO_DATA_ALLOWED_ERR: 6,
      NO_MODIFICATION_ALLOWED_ERR: 7,
      NOT_FOUND_ERR: 8,
      NOT_SUPPORTED_ERR: 9,
      INUSE_ATTRIBUTE_ERR: 10,
      INVALID_STATE_ERR: 11,
      SYNTAX_ERR: 12,
      INVALID_MODIFICATION_ERR: 13,
      NAMESPACE_ERR: 14,
      INVALID_ACCESS_ERR: 15,
      VALIDATION_ERR: 16,
      TYPE_MISMATCH_ERR: 17,
      SECURITY_ERR: 18,
      NETWORK_ERR: 19,
      ABORT_ERR: 20,
      URL_MISMATCH_ERR: 21,
      QUOTA_EXCEEDED_ERR: 22,
      TIMEOUT_ERR: 23,
      INVALID_NODE_TYPE_ERR: 24,
      DATA_CLONE_ERR: 25,
    });

    return { DOMException };
  }
