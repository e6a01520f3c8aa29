  // -------------------------------------------------------------------------
  // DOMException.

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

  class DOMException extends Error {
    #message;
    #name;

    constructor(message = "", options = "Error") {
      super();
      this.#message = `${message}`;
      if (options !== null && typeof options === "object") {
        this.#name = options.name === undefined ? "Error" : `${options.name}`;
        if ("cause" in options) {
          defineHidden(this, { cause: options.cause });
        }
      } else {
        this.#name = `${options}`;
      }
      // Capture again now that name and message are known, so the stack
      // starts with "DataCloneError: ..." and skips this constructor.
      captureStackTrace(this, new.target);
    }

    static #check(self) {
      if (self === null || typeof self !== "object" || !(#name in self)) {
        throw new TypeError("Illegal invocation");
      }
      return self;
    }

    get message() {
      return DOMException.#check(this).#message;
    }

    get name() {
      return DOMException.#check(this).#name;
    }

    get code() {
      const name = DOMException.#check(this).#name;
      return hasOwn(domExceptionCodes, name) ? domExceptionCodes[name] : 0;
    }
  }
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

