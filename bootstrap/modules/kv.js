// isopool:kv: the service's shared key-value store (one per service, in
// memory, size-limited). Keys are strings; values are anything msgpack
// carries (docs/values.md). Every function returns a promise.
//
// Built into the binary (bootstrap/CMakeLists.txt); the ops are reached
// through Isopool.core, captured here once.

const opAsync = globalThis.Isopool.core.opAsync;

function checkKey(key, name, what = "key") {
  if (typeof key !== "string") {
    throw new TypeError(`${name}: ${what} must be a string`);
  }
}

// The value stored under key, or what the op gives for a missing key.
export async function get(key) {
  checkKey(key, "get");
  return await opAsync("op_kv_get", key);
}

export async function set(key, value) {
  checkKey(key, "set");
  await opAsync("op_kv_set", key, value);
}

async function del(key) {
  checkKey(key, "delete");
  return await opAsync("op_kv_delete", key);
}
export { del as delete };

// The entries whose key starts with prefix, as [{ key, value }].
export async function list(options = {}) {
  const { prefix = "", limit = 1000 } = options ?? {};
  checkKey(prefix, "list", "prefix");
  return await opAsync("op_kv_list", prefix, limit);
}

// Adds by to the number under key (0 when missing); returns the new value.
export async function increment(key, by = 1) {
  checkKey(key, "increment");
  return await opAsync("op_kv_increment", key, by);
}

export default Object.freeze({ get, set, delete: del, list, increment });
