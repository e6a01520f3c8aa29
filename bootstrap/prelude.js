// placeholder until the prelude lands
(function (iso) {
  delete globalThis.__iso;
  return { fireTimers() {}, dispatch(type) {} };
})(globalThis.__iso);
