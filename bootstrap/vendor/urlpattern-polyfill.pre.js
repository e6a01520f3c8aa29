  // -------------------------------------------------------------------------
  // urlpattern-polyfill 10.1.0, dist/urlpattern.cjs, MIT (bootstrap/vendor/):
  // the WHATWG URL Pattern standard. The build puts the package's file,
  // unchanged, between this part and urlpattern-polyfill.post.js, so it is
  // the body of a function that defines nothing global: the CommonJS file
  // sees `module` and fills `module.exports` with { URLPattern }. The three
  // files are the prelude's lazy part "urlpattern" (script
  // isopool:bootstrap/urlpattern, compiled when a context first reads
  // URLPattern); 70-url.js calls the function once per context. The
  // parameters shadow every global the file reads, taken when the prelude
  // ran, so user code that replaces them cannot reach into the patterns:
  // URL is the prelude's (70-url.js, on ada).
  (function urlPatternPolyfill(URL, TypeError, RegExp, Object, Math, Symbol) {
    "use strict";
    const exports = {};
    const module = { exports };
    // prettier-ignore
