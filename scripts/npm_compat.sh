#!/usr/bin/env bash
# npm_compat.sh [BIN] [N]: of the N (default 100) most-downloaded npm
# packages, how many load with `import * as m from "pkg"` under
# `isopool run` and under Node, side by side, and why the rest fail under
# isopool (CommonJS, a Node built-in module, a Node global such as
# `process`, other). The list is npmTopDownloads
# of wooorm's npm-high-impact at a fixed version (the registry has no
# download ranking of its own); each package is installed at its latest
# version with its install scripts off, all into one temporary folder
# (kept with KEEP=1). Needs the npm registry and Node; exits 0 whatever
# the counts (a measurement, not a test).
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
n=${2:-100}
ranking=npm-high-impact@1.13.0
dir=$(mktemp -d /tmp/isopool-npm-compat.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT
cd "$dir"
npm init -y >/dev/null
npm_quiet() { npm --no-audit --no-fund --ignore-scripts --legacy-peer-deps \
  --loglevel=error "$@"; }
npm_quiet install "$ranking" >/dev/null
mapfile -t pkgs < <(node --input-type=module -e \
  "import {npmTopDownloads} from 'npm-high-impact';
   for (const p of npmTopDownloads.slice(0, $n)) console.log(p);")
# all at once; if that fails (one package that can't install), one by one
if ! npm_quiet install "${pkgs[@]}" >/dev/null 2>npm.err; then
  for p in "${pkgs[@]}"; do npm_quiet install "$p" >/dev/null 2>>npm.err || true; done
fi
mkdir t
ok_node=0 ok_iso=0 cjs=0 builtin=0 nglobal=0 other=0 i=0
printf '%-32s %-6s %-7s %s\n' package node isopool "why isopool failed"
for p in "${pkgs[@]}"; do
  i=$((i + 1))
  f=t/$i.mjs
  printf 'import * as m from "%s";\nconsole.log(Object.keys(m).length);\n' "$p" >"$f"
  node_r=fail iso_r=fail why=
  if timeout 20 node "$f" >/dev/null 2>&1; then node_r=ok; ok_node=$((ok_node + 1)); fi
  if timeout 20 "$bin/isopool" run --root "$dir" "$f" >/dev/null 2>err; then
    iso_r=ok
    ok_iso=$((ok_iso + 1))
  else
    e=$(tr '\n' ' ' <err)
    case $e in
      *"Node built-in"* | *"Node.js built-in"*)
        why="Node built-in $(grep -o 'module "[^"]*"\|import "[^"]*"' err | head -1 || true)"
        builtin=$((builtin + 1)) ;;
      *"process is not defined"* | *"Buffer is not defined"* | \
        *"global is not defined"* | *"setImmediate is not defined"*)
        why="Node global: $(grep -o '[A-Za-z]* is not defined' err | head -1 || true)"
        nglobal=$((nglobal + 1)) ;;
      *"require is not defined"* | *"module is not defined"* | \
        *"exports is not defined"* | *"does not provide an export named"*)
        why="CommonJS"
        cjs=$((cjs + 1)) ;;
      *) why="other: $(head -c 160 err | head -1 || true)"
        other=$((other + 1)) ;;
    esac
  fi
  printf '%-32s %-6s %-7s %s\n' "$p" "$node_r" "$iso_r" "$why"
done
echo "loaded: isopool $ok_iso/${#pkgs[@]}, node $ok_node/${#pkgs[@]}" \
  "(ranking: npmTopDownloads of $ranking)"
echo "isopool failures: CommonJS $cjs, Node built-in module $builtin," \
  "Node global $nglobal, other $other"
