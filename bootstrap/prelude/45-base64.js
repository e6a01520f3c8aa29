  // -------------------------------------------------------------------------
  // atob, btoa (forgiving-base64, HTML spec).

  const base64Chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const base64Values = new Uint8Array(128).fill(255);
  for (let i = 0; i < base64Chars.length; i++) {
    base64Values[base64Chars.charCodeAt(i)] = i;
  }

  function codesToString(codes) {
    let out = "";
    for (let i = 0; i < codes.length; i += 8192) {
      out += String.fromCharCode.apply(null, codes.subarray(i, i + 8192));
    }
    return out;
  }

  function btoa(data) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'btoa': 1 argument required.");
    }
    data = `${data}`;
    const n = data.length;
    const out = new Uint8Array(Math.ceil(n / 3) * 4);
    let o = 0;
    for (let i = 0; i < n; i += 3) {
      const a = data.charCodeAt(i);
      const b = i + 1 < n ? data.charCodeAt(i + 1) : 0;
      const c = i + 2 < n ? data.charCodeAt(i + 2) : 0;
      if (a > 0xff || b > 0xff || c > 0xff) {
        throw new (domExceptionApi().DOMException)(
          "The string to be encoded contains characters outside of the " +
            "Latin1 range.",
          "InvalidCharacterError",
        );
      }
      const bits = (a << 16) | (b << 8) | c;
      out[o++] = base64Chars.charCodeAt(bits >> 18);
      out[o++] = base64Chars.charCodeAt((bits >> 12) & 63);
      out[o++] = i + 1 < n ? base64Chars.charCodeAt((bits >> 6) & 63) : 61;
      out[o++] = i + 2 < n ? base64Chars.charCodeAt(bits & 63) : 61;
    }
    return codesToString(out);
  }

  function atob(data) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'atob': 1 argument required.");
    }
    data = `${data}`.replace(/[\t\n\f\r ]/g, "");
    if (data.length % 4 === 0) {
      data = data.replace(/==?$/, "");
    }
    const invalid = () =>
      new (domExceptionApi().DOMException)(
        "The string to be decoded is not correctly encoded.",
        "InvalidCharacterError",
      );
    if (data.length % 4 === 1) {
      throw invalid();
    }
    const out = new Uint8Array((data.length * 3) >> 2);
    let o = 0;
    let bits = 0;
    let count = 0;
    for (let i = 0; i < data.length; i++) {
      const code = data.charCodeAt(i);
      const v = code < 128 ? base64Values[code] : 255;
      if (v === 255) {
        throw invalid();
      }
      bits = (bits << 6) | v;
      if (++count === 4) {
        out[o++] = bits >> 16;
        out[o++] = (bits >> 8) & 0xff;
        out[o++] = bits & 0xff;
        bits = 0;
        count = 0;
      }
    }
    if (count === 3) {
      out[o++] = bits >> 10;
      out[o++] = (bits >> 2) & 0xff;
    } else if (count === 2) {
      out[o++] = bits >> 4;
    }
    return codesToString(out.subarray(0, o));
  }

