  // -------------------------------------------------------------------------
  // web-streams-polyfill 4.3.0, dist/ponyfill.js, MIT (bootstrap/vendor/):
  // the WHATWG streams standard's reference implementation. The build puts
  // the package's file, unchanged, between this part and
  // web-streams-polyfill.post.js, so it is the body of a function that
  // defines nothing global: its UMD header sees `exports` and `module` and
  // fills `exports`. 80-streams.js calls it once per context, the first time
  // a stream is needed. The parameters shadow the globals the file reads,
  // so user code that replaces them cannot reach into the streams.
  function webStreamsPolyfill(queueMicrotask, structuredClone, globalThis) {
    const exports = {};
    const module = { exports };
    // prettier-ignore
