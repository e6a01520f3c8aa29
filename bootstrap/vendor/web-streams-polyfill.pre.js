  // -------------------------------------------------------------------------
  // web-streams-polyfill 4.3.0, dist/ponyfill.js, MIT (bootstrap/vendor/):
  // the WHATWG streams standard's reference implementation. The build puts
  // the package's file, unchanged, between this part and
  // web-streams-polyfill.post.js, so it is the body of a function that
  // defines nothing global: its UMD header sees `exports` and `module` and
  // fills `exports`. The three files are the prelude's lazy part "streams"
  // (script isopool:bootstrap/streams, compiled when a context first needs
  // a stream); 80-streams.js calls the function once per context. The
  // parameters shadow the globals the file reads that the prelude has its
  // own of, so user code that replaces them cannot reach into the streams.
  (function webStreamsPolyfill(
    queueMicrotask,
    structuredClone,
    globalThis,
    AbortController,
  ) {
    "use strict";
    const exports = {};
    const module = { exports };
    // prettier-ignore
