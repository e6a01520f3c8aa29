// isopool:fs: files under the service's data root (--data), as Deno's file
// API. Every path is a string relative to the data root ("data/x.txt");
// what a realm may read and write is its read/write permissions. Errors are
// Isopool.errors (NotFound, PermissionDenied, AlreadyExists, ...) or
// TypeError for bad arguments.
//
// Built into the binary (bootstrap/CMakeLists.txt); the ops are reached
// through Isopool.core, captured here once.

const core = globalThis.Isopool.core;
const opAsync = core.opAsync;
const encode = core.encode;
const decode = core.decode;
const isView = ArrayBuffer.isView;

function checkPath(path, name, what = "path") {
  if (typeof path !== "string") {
    throw new TypeError(`${name}: ${what} must be a string`);
  }
}

function toBytes(data, name) {
  if (data instanceof Uint8Array) {
    return data;
  }
  if (isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) {
    return new Uint8Array(data);
  }
  throw new TypeError(
    `${name}: data must be a Uint8Array, an ArrayBufferView or an ArrayBuffer`,
  );
}

const toDate = (ms) => (typeof ms === "number" ? new Date(ms) : null);

export async function readFile(path) {
  checkPath(path, "readFile");
  return await opAsync("op_fs_read_file", path);
}

export async function readTextFile(path) {
  checkPath(path, "readTextFile");
  return decode(await opAsync("op_fs_read_file", path));
}

export async function writeFile(path, data, options = {}) {
  checkPath(path, "writeFile");
  const bytes = toBytes(data, "writeFile");
  const { append = false, create = true, createNew = false } = options ?? {};
  await opAsync(
    "op_fs_write_file",
    path,
    bytes,
    !!append,
    !!create,
    !!createNew,
  );
}

export async function writeTextFile(path, text, options = {}) {
  checkPath(path, "writeTextFile");
  const { append = false, create = true, createNew = false } = options ?? {};
  await opAsync(
    "op_fs_write_file",
    path,
    encode(`${text}`),
    !!append,
    !!create,
    !!createNew,
  );
}

export async function readDir(path) {
  checkPath(path, "readDir");
  const entries = await opAsync("op_fs_read_dir", path);
  return entries.map((e) => ({
    name: e.name,
    isFile: !!e.isFile,
    isDirectory: !!e.isDirectory,
    isSymlink: !!e.isSymlink,
  }));
}

export async function stat(path) {
  checkPath(path, "stat");
  const s = await opAsync("op_fs_stat", path);
  return {
    isFile: !!s.isFile,
    isDirectory: !!s.isDirectory,
    isSymlink: !!s.isSymlink,
    size: s.size,
    mtime: toDate(s.mtime),
    atime: toDate(s.atime),
    birthtime: toDate(s.birthtime),
    mode: s.mode ?? null,
  };
}

export async function mkdir(path, options = {}) {
  checkPath(path, "mkdir");
  const { recursive = false } = options ?? {};
  await opAsync("op_fs_mkdir", path, !!recursive);
}

export async function remove(path, options = {}) {
  checkPath(path, "remove");
  const { recursive = false } = options ?? {};
  await opAsync("op_fs_remove", path, !!recursive);
}

export async function rename(oldpath, newpath) {
  checkPath(oldpath, "rename", "oldpath");
  checkPath(newpath, "rename", "newpath");
  await opAsync("op_fs_rename", oldpath, newpath);
}

export default Object.freeze({
  readFile,
  readTextFile,
  writeFile,
  writeTextFile,
  readDir,
  stat,
  mkdir,
  remove,
  rename,
});
