// isopool:env: environment variables of the service process, as far as the
// realm's env permission allows (PermissionDenied otherwise).
//
// Built into the binary (bootstrap/CMakeLists.txt); the ops are reached
// through Isopool.core, captured here once.

const opSync = globalThis.Isopool.core.opSync;

// The variable's value, or undefined when it is not set.
export function get(name) {
  if (typeof name !== "string") {
    throw new TypeError("get: name must be a string");
  }
  const value = opSync("op_env_get", name);
  return value === null ? undefined : value;
}

export default Object.freeze({ get });
