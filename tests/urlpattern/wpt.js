// tests/urlpattern/wpt.js: web-platform-tests' URL Pattern cases
// (urlpatterntestdata.json, prepended as `const WPT_DATA = [...];` by
// test_urlpattern.c) run the way WPT's urlpattern/resources/
// urlpatterntests.js runs them, for isopool and Deno alike. Prints one
// line per failing case, "fail INDEX WHAT", then "urlpattern PASSED/TOTAL".
const kComponents = ["protocol", "username", "password", "hostname", "port",
  "pathname", "search", "hash"];
const kEarlier = {
  protocol: [], hostname: ["protocol"], port: ["protocol", "hostname"],
  username: [], password: [], pathname: ["protocol", "hostname", "port"],
  search: ["protocol", "hostname", "port", "pathname"],
  hash: ["protocol", "hostname", "port", "pathname", "search"],
};

class Failure extends Error {}
function expectEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new Failure(`${what}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
  }
}
function expectThrows(fn, what) {
  let thrown;
  try { fn(); } catch (e) { thrown = e; }
  if (!(thrown instanceof TypeError)) {
    throw new Failure(`${what}: ${thrown === undefined ? "no throw" : String(thrown)}, not a TypeError`);
  }
}
function sameGroups(actual, expected) {
  const a = Object.keys(actual).sort(), e = Object.keys(expected).sort();
  return a.length === e.length && a.every((k, i) => k === e[i] && actual[k] === expected[k]);
}

// The compiled pattern's component the case expects when it names none.
function expectedComponent(entry, component) {
  const first = entry.pattern[0];
  let base = null;
  if (entry.pattern.length > 0 && first && first.baseURL) {
    base = new URL(first.baseURL);
  } else if (entry.pattern.length > 1 && typeof entry.pattern[1] === "string") {
    base = new URL(entry.pattern[1]);
  }
  if (entry.exactly_empty_components?.includes(component)) {
    return "";
  }
  if (typeof first === "object" && first[component]) {
    return first[component];
  }
  if (typeof first === "object" && kEarlier[component].some((c) => c in first)) {
    return "*";
  }
  if (base && component !== "username" && component !== "password") {
    const v = base[component];
    if (component === "protocol") return v.slice(0, -1);
    if (component === "search" || component === "hash") return v.slice(1);
    return v;
  }
  return "*";
}

function runCase(entry) {
  if (entry.expected_obj === "error") {
    expectThrows(() => new URLPattern(...entry.pattern), "constructor");
    return;
  }
  const pattern = new URLPattern(...entry.pattern);
  const expectedObj = entry.expected_obj || {};
  for (const component of kComponents) {
    const expected = expectedObj[component] ?? expectedComponent(entry, component);
    expectEqual(pattern[component], expected, `pattern.${component}`);
  }
  if (entry.expected_match === "error") {
    expectThrows(() => pattern.test(...entry.inputs), "test()");
    expectThrows(() => pattern.exec(...entry.inputs), "exec()");
    return;
  }
  expectEqual(pattern.test(...entry.inputs), !!entry.expected_match, "test()");
  const result = pattern.exec(...entry.inputs);
  if (!entry.expected_match || typeof entry.expected_match !== "object") {
    expectEqual(result, entry.expected_match, "exec() without a match");
    return;
  }
  const inputs = entry.expected_match.inputs || entry.inputs;
  expectEqual(result.inputs.length, inputs.length, "exec().inputs.length");
  for (let i = 0; i < inputs.length; i++) {
    if (typeof result.inputs[i] === "string") {
      expectEqual(result.inputs[i], inputs[i], `exec().inputs[${i}]`);
      continue;
    }
    for (const component of kComponents) {
      expectEqual(result.inputs[i][component], inputs[i][component],
        `exec().inputs[${i}].${component}`);
    }
  }
  for (const component of kComponents) {
    let expected = entry.expected_match[component];
    if (!expected) {
      expected = { input: "", groups: {} };
      if (!entry.exactly_empty_components?.includes(component)) {
        expected.groups["0"] = "";
      }
    }
    const groups = {};
    for (const key in expected.groups) {
      groups[key] = expected.groups[key] === null ? undefined : expected.groups[key];
    }
    const got = result[component];
    expectEqual(got.input, expected.input, `exec().${component}.input`);
    if (!sameGroups(got.groups, groups)) {
      throw new Failure(`exec().${component}.groups: ${JSON.stringify(got.groups)} != ${JSON.stringify(groups)}`);
    }
  }
}

let passed = 0;
WPT_DATA.forEach((entry, i) => {
  try {
    runCase(entry);
    passed++;
  } catch (e) {
    const what = e instanceof Failure ? e.message : `threw ${e && e.name}: ${e && e.message}`;
    console.log(`fail ${i} ${what.replace(/\n/g, " ").slice(0, 200)}`);
  }
});
console.log(`urlpattern ${passed}/${WPT_DATA.length}`);
