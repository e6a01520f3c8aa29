  // -------------------------------------------------------------------------
  // The op bus: Isopool.errors and Isopool.core (Deno.core's op layer).
  //
  // The shim gives a native per op. A sync op's native is called as is and
  // returns the result or throws one of the error classes below. An async
  // op's native takes a promise id first, records the request (flushed to
  // the op threads at the end of the tick) and returns nothing; the runtime
  // later calls resolveOps with the responses.

  class NotFound extends Error {}
  class PermissionDenied extends Error {}
  class AlreadyExists extends Error {}
  class InvalidData extends Error {}
  class TimedOut extends Error {}

  const errors = freeze({
    NotFound,
    PermissionDenied,
    AlreadyExists,
    InvalidData,
    TimedOut,
  });
  for (const name of objectKeys(errors)) {
    defineHidden(errors[name].prototype, { name });
  }
  // The classes an op's error can have, by the name the C side uses.
  const opErrorClasses = freeze({
    __proto__: null,
    ...errors,
    TypeError,
    RangeError,
    Error,
  });
  if (typeof setOpErrors === "function") {
    setOpErrors(opErrorClasses);
  }

  function opError(cls, message) {
    const Class =
      typeof cls === "string" && hasOwn(opErrorClasses, cls)
        ? opErrorClasses[cls]
        : Error;
    return new Class(message === undefined ? "" : `${message}`);
  }

  // name -> native, split by kind.
  const syncOps = { __proto__: null };
  const asyncOps = { __proto__: null };
  for (const name of objectKeys(nativeOps)) {
    const fn = nativeOps[name];
    if (typeof fn !== "function") {
      continue;
    }
    if (nativeOpKinds[name] === "async") {
      asyncOps[name] = fn;
    } else {
      syncOps[name] = fn;
    }
  }

  // Pending async ops, as in Deno's core.js: promise id -> { id, resolve,
  // reject }, in a ring of RING_SIZE slots indexed by id % RING_SIZE; a
  // request whose slot is still taken by an older pending op moves that
  // older one to promiseMap. Unlike Deno, a record carries its id (an
  // entry is found by comparing it) and ids wrap below 2^32 (the C side
  // keeps them as uint32), skipping any id still pending.
  const RING_SIZE = 4 * 1024;
  const MAX_PROMISE_ID = 4294967295;
  const NO_PROMISE = null;
  const promiseRing = new Array(RING_SIZE).fill(NO_PROMISE);
  const promiseMap = new Map();
  let nextPromiseId = 1;
  const promiseIdSymbol = Symbol("Isopool.core.promiseId");
  const unrefedOps = new Set(); // ids given to opUnref and not since opRef

  const isPromiseId = (id) =>
    typeof id === "number" && id >= 1 && id <= MAX_PROMISE_ID && id % 1 === 0;

  function hasPromise(id) {
    return (
      isPromiseId(id) &&
      (promiseRing[id % RING_SIZE]?.id === id || mapHas(promiseMap, id))
    );
  }

  function newPromiseId() {
    for (;;) {
      const id = nextPromiseId;
      nextPromiseId = id === MAX_PROMISE_ID ? 1 : id + 1;
      if (!hasPromise(id)) {
        return id;
      }
    }
  }

  function setPromise(rec) {
    const idx = rec.id % RING_SIZE;
    const old = promiseRing[idx];
    if (old !== NO_PROMISE) {
      mapSet(promiseMap, old.id, old);
    }
    promiseRing[idx] = rec;
  }

  // Removes and returns the record of a pending id, or undefined.
  function takePromise(id) {
    if (!isPromiseId(id)) {
      return undefined;
    }
    const idx = id % RING_SIZE;
    const rec = promiseRing[idx];
    if (rec?.id === id) {
      promiseRing[idx] = NO_PROMISE;
      return rec;
    }
    const other = mapGet(promiseMap, id);
    if (other !== undefined) {
      mapDelete(promiseMap, id);
    }
    return other;
  }

  // Starts an async op; the promise settles in resolveOps.
  function opCall(fn, args) {
    const id = newPromiseId();
    let resolve;
    let reject;
    const promise = new PromiseCtor((res, rej) => {
      resolve = res;
      reject = rej;
    });
    defineProperty(promise, promiseIdSymbol, { value: id });
    setPromise({ id, resolve, reject });
    try {
      fn(id, ...args);
    } catch (error) {
      // Arguments the shim could not convert, too many ops in flight: the
      // request was not recorded, so the id is free again.
      takePromise(id);
      reject(error);
    }
    return promise;
  }

  function opAsync(name, ...args) {
    if (typeof name === "string" && hasOwn(asyncOps, name)) {
      return opCall(asyncOps[name], args);
    }
    return promiseReject(
      new TypeError(
        typeof name === "string" && hasOwn(syncOps, name)
          ? `${name} is a sync op: use opSync`
          : `Unknown op: ${typeof name === "string" ? name : typeof name}`,
      ),
    );
  }

  function opSync(name, ...args) {
    if (typeof name === "string" && hasOwn(syncOps, name)) {
      return syncOps[name](...args);
    }
    throw new TypeError(
      typeof name === "string" && hasOwn(asyncOps, name)
        ? `${name} is an async op: use opAsync`
        : `Unknown op: ${typeof name === "string" ? name : typeof name}`,
    );
  }

  function opIdOf(value, caller) {
    if (typeof value === "number") {
      return value;
    }
    if (value !== null && typeof value === "object") {
      const id = value[promiseIdSymbol];
      if (typeof id === "number") {
        return id;
      }
    }
    throw new TypeError(
      `${caller}: argument is not a promise returned by an op or its id`,
    );
  }

  // unrefOp / refOp: whether a pending async op keeps the event loop alive
  // (Deno's core.unrefOp). A settled op is ignored.
  function unrefOp(promiseOrId) {
    const id = opIdOf(promiseOrId, "unrefOp");
    if (!hasPromise(id) || setHas(unrefedOps, id)) {
      return;
    }
    setAdd(unrefedOps, id);
    opUnref(id);
  }

  function refOp(promiseOrId) {
    const id = opIdOf(promiseOrId, "refOp");
    if (!setHas(unrefedOps, id)) {
      return;
    }
    setDelete(unrefedOps, id);
    if (hasPromise(id)) {
      opRef(id);
    }
  }

  // The hook the runtime calls with a batch of responses, flat triplets
  // [promiseId, errorClass, value, ...]: errorClass undefined (or null) for
  // a success, else the class name and value the message. The runtime runs
  // a microtask checkpoint afterwards.
  function resolveOps(flat) {
    const n = flat.length - 2;
    for (let i = 0; i < n; i += 3) {
      const rec = takePromise(flat[i]);
      if (rec === undefined) {
        continue; // dropped
      }
      if (unrefedOps.size > 0) {
        setDelete(unrefedOps, rec.id);
      }
      const cls = flat[i + 1];
      if (cls === "") {
        continue; // its job was cancelled: forgotten, never settled
      }
      if (cls === undefined || cls === null) {
        rec.resolve(flat[i + 2]);
      } else {
        rec.reject(opError(cls, flat[i + 2]));
      }
    }
  }

  // core.ops: sync ops are the natives themselves (a direct native call);
  // async ops are wrappers around opAsync.
  const coreOps = { __proto__: null };
  for (const name of objectKeys(syncOps)) {
    coreOps[name] = syncOps[name];
  }
  for (const name of objectKeys(asyncOps)) {
    // The computed key names the function after the op.
    coreOps[name] = { [name]: (...args) => opAsync(name, ...args) }[name];
  }

  // core.encode / core.decode (as in Deno.core): UTF-8 without going
  // through globals user code may have replaced; decode replaces bad
  // sequences with U+FFFD and drops a leading BOM, like new TextDecoder().
  function coreEncode(string) {
    return encodeUtf8(`${string}`);
  }

  function coreDecode(bytes) {
    const text = decodeUtf8(bytes, false);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  const core = freeze({
    ops: freeze(coreOps),
    opAsync,
    opSync,
    unrefOp,
    refOp,
    encode: coreEncode,
    decode: coreDecode,
  });

