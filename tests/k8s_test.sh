#!/usr/bin/env bash
# k8s_test.sh BIN SRC WORK KUBECTL: deploy/k8s checked offline (ctest
# k8s_test, label deploy; part of `make test`). No cluster is needed or
# reached.
#
# tests/k8s/check.js does the checking (its header says what); this
# installs its npm packages (kubernetes-models for the Kubernetes schemas,
# yaml) with `npm ci` into WORK/node, again only when
# tests/k8s/package-lock.json changed, and hands it KUBECTL: Debian 12's
# kubernetes-client (kubectl 1.20, whose `kubectl kustomize` works
# offline), which scripts/deps.sh unpacks into .deps/kubernetes-client
# rather than installing it over another kubectl. Without npm's registry
# (npm ci failed and `npm ping` too) the test is skipped (exit 77); a
# missing node, npm or KUBECTL is a failure that says what to install.
set -u
bin=$1 src=$2 work=$3 kubectl=$4
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "k8s_test: FAIL: no node or npm (apt-get install npm)" >&2
  exit 1
fi
if [ ! -x "$kubectl" ]; then
  echo "k8s_test: FAIL: no $kubectl (scripts/deps.sh unpacks Debian's" \
    "kubernetes-client there)" >&2
  exit 1
fi
node_dir=$work/node
mkdir -p "$node_dir"
for f in package.json package-lock.json check.js; do
  cp "$src/tests/k8s/$f" "$node_dir/$f"
done
if [ ! -f "$node_dir/node_modules/.installed" ] ||
  ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.installed"; then
  if (cd "$node_dir" && timeout 300 npm ci --no-audit --no-fund \
    --cache "$work/npm-cache") >"$work/npm.log" 2>&1; then
    cp "$node_dir/package-lock.json" "$node_dir/node_modules/.installed"
  elif ! timeout 30 npm ping >/dev/null 2>&1; then
    echo "k8s_test: npm's registry is unreachable: skipped" >&2
    exit 77
  else
    cat "$work/npm.log" >&2
    echo "k8s_test: FAIL: npm ci failed" >&2
    exit 1
  fi
fi
exec node "$node_dir/check.js" --bin "$bin" --src "$src" --kubectl "$kubectl" \
  --work "$work"
