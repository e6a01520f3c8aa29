// prelude.js: the JavaScript half of every isopool context.
//
// The runtime runs this classic script once in each new V8 context, after
// the shim has put its native functions on globalThis.__iso. The script
// takes those natives, removes __iso from the global object, installs the
// web-like globals Deno 1.x offers (console, timers, queueMicrotask,
// structuredClone, TextEncoder/TextDecoder, atob/btoa, DOMException,
// Event/EventTarget, performance, crypto) plus the Isopool namespace (the
// op bus as Isopool.core, like Deno.core) and evaluates to the hooks object
// the runtime calls: { fireTimers(), dispatch(type), resolveOps(flat),
// unhandledRejections(...pairs), rejectionsHandled(...promises) }.
// bootstrap/README.md is the contract with the shim and the runtime; keep
// the two in step.
//
// Everything lives inside one strict IIFE so that nothing but the globals
// listed at the bottom leaks out, and the IIFE's return value is the
// script's completion value. Builtins the globals depend on are captured up
// front, so a script that later patches Object.keys or Map.prototype cannot
// break console.log; prototype methods of plain arrays and strings are not
// captured (that would cost readability for little gain).
(function bootstrap(iso) {
  "use strict";

  if (iso === null || typeof iso !== "object") {
    throw new Error("prelude.js: globalThis.__iso is missing");
  }
  Reflect.deleteProperty(globalThis, "__iso");

  // Natives, captured once: user code never sees __iso.
  const print = iso.print;
  const timerArm = iso.timerArm;
  const jobTag = iso.jobTag;
  const timerJob = iso.timerJob;
  const now = iso.now;
  const timeOrigin = iso.timeOrigin; // a function: the process's origin
  const encodeUtf8 = iso.encodeUtf8;
  const decodeUtf8 = iso.decodeUtf8;
  const nativeClone = iso.structuredClone;
  const enqueueMicrotask = iso.queueMicrotask;
  const runMicrotasks = iso.runMicrotasks;
  const promiseState = iso.promiseState;
  const promiseResult = iso.promiseResult;
  // The op bus. A shim without ops (older builds, tests) gives an empty
  // registry rather than a prelude that cannot start.
  const nativeOps = iso.ops ?? {};
  const nativeOpKinds = iso.opKinds ?? {};
  const setOpErrors = iso.setOpErrors;
  const opUnref = iso.opUnref;
  const opRef = iso.opRef;
  const waitRef = iso.waitRef;
  // the lazy parts' loader (80-streams.js)
  const loadPart = iso.part;
  const lazyData = iso.lazyData;
  const setLazyLoader = iso.setLazyLoader;

