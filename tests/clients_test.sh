#!/usr/bin/env bash
# clients_test.sh BIN SRC WORK: the clients in other languages
# (examples/clients/, README "Clients") against the real service (ctest
# clients_test, label clients; part of `make test`).
#
# Starts `isopool serve` three times on ipc:// sockets in a temporary
# directory: one on SRC/examples (also on a free loopback tcp:// port),
# one on a module root whose double.js throws, one whose double.js never
# returns (the clients give it a deadline of 300 ms). The
# README's "Concepts" runs first: its eval module twice with the same
# value, and examples/counter.js's calls counting up on the one worker
# (poolctl). Each
# client, run against the first, must print the call job's value
# {"input":21,"doubled":42} and the eval job's 5, and exit 0, over each
# transport; against the second it must exit 1 and name what the job threw
# (a rejected job is an error, not a value), against the third exit 1
# naming the error code, timeout. Python runs on Debian's python3 with
# python3-msgpack; Go is built offline (GOPATH mode, GOPROXY=off) from
# Debian's golang-go and golang-github-ugorji-go-codec-dev into
# WORK/go; Node's packages are installed with `npm ci` into WORK/node,
# again only when package-lock.json changed. Without the registry (npm ci
# failed and `npm ping` too) the Node client is skipped with a note and,
# when it is the only one left, the test is skipped (exit 77); anything
# else missing is a failure that says which Debian package to install
# (scripts/deps.sh installs them all).
set -u
bin=$1 src=$2 work=$3
dir=$(mktemp -d /tmp/isopool-clients.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fails=0
fail() {
  echo "clients_test: FAIL: $*" >&2
  fails=$((fails + 1))
}
# serve NAME ROOT [OPTION...]: a service on ipc://DIR/NAME.ipc, up
# within 30 s
serve() {
  local name=$1 root=$2
  shift 2
  "$bin/isopool" serve --listen "ipc://$dir/$name.ipc" --modules "$root" \
    --workers 1 --admin none --quiet "$@" 2>>"$dir/$name.log" &
  pids+=($!)
  for _ in $(seq 300); do
    [ -S "$dir/$name.ipc" ] && return 0
    sleep 0.1
  done
  cat "$dir/$name.log" >&2
  echo "clients_test: FAIL: the service on $root did not listen" >&2
  exit 1
}
mkdir -p "$dir/throws" "$dir/hangs" "$work"
echo 'export default () => { throw new TypeError("no double today"); };' \
  >"$dir/throws/double.js"
echo 'export default () => { for (;;) {} };' >"$dir/hangs/double.js"
# a free loopback port, for the tcp:// listener
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve ok "$src/examples" --listen "tcp://127.0.0.1:$port"
serve throws "$dir/throws"
serve hangs "$dir/hangs"

want='{"input":21,"doubled":42}
5'
# check NAME CMD...: CMD URL against each service: the values over ipc://
# and tcp://, a rejected job and an error (the job's deadline: the
# service's `timeout` reply, not the client's own) as errors
check() {
  local name=$1 got rc url
  shift
  for url in "ipc://$dir/ok.ipc" "tcp://127.0.0.1:$port"; do
    got=$(timeout 60 "$@" "$url" 2>&1)
    rc=$?
    { [ $rc = 0 ] && [ "$got" = "$want" ]; } ||
      fail "$name, $url: exit $rc, printed \"$got\", not \"$want\""
  done
  got=$(timeout 60 "$@" "ipc://$dir/throws.ipc" 2>&1)
  rc=$?
  { [ $rc = 1 ] && [[ $got == *"TypeError: no double today"* ]]; } ||
    fail "$name, a job that throws: exit $rc, printed \"$got\""
  got=$(timeout 60 "$@" "ipc://$dir/hangs.ipc" 300 2>&1)
  rc=$?
  { [ $rc = 1 ] && [[ $got == *"timeout: "* ]]; } ||
    fail "$name, a job past its deadline: exit $rc, printed \"$got\""
  echo "clients_test: $name: ok"
}
ran=0

# ---- README, "Concepts": its two modules and what poolctl prints ----
cat >"$dir/words.js" <<'JS'
// An eval job: a fresh realm each time, its default export called with args.
const words = (s) => s.split(/\s+/).filter(Boolean);
export default (text) => ({ words: words(text).length,
  longest: words(text).reduce((a, b) => (b.length > a.length ? b : a)) });
JS
grep -qF 'longest: words(text).reduce((a, b) => (b.length > a.length ? b : a)) });' \
  "$src/README.md" || fail "README's eval module is not the one tested here"
pc() { "$bin/poolctl" --url "ipc://$dir/ok.ipc" --timeout 30000 "$@" 2>&1; }
for i in 1 2; do
  got=$(pc eval "$dir/words.js" "to be or not to be")
  [ "$got" = '{"words":6,"longest":"not"}' ] ||
    fail "README eval job, run $i: \"$got\""
  got=$(pc call counter.js --export hit ada)
  [ "$got" = "\"ada: call $i on this worker\"" ] ||
    fail "README call job, call $i: \"$got\""
done

# ---- Python ----
if ! /usr/bin/python3 -c 'import msgpack' 2>/dev/null; then
  fail "python: /usr/bin/python3 has no msgpack (apt-get install python3-msgpack)"
else
  check python /usr/bin/python3 "$src/examples/clients/python/isopool_client.py"
  ran=$((ran + 1))
fi

# ---- Go ----
if ! command -v go >/dev/null; then
  fail "go: no go (apt-get install golang-go golang-github-ugorji-go-codec-dev)"
elif ! (cd "$src/examples/clients/go" &&
  GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' \
    GOCACHE=$work/go-cache go build -o "$work/go/isopool-client" .) \
  >"$dir/go.log" 2>&1; then
  cat "$dir/go.log" >&2
  fail "go: the client does not build (golang-github-ugorji-go-codec-dev, libnng-dev?)"
else
  check go "$work/go/isopool-client"
  ran=$((ran + 1))
fi

# ---- Node ----
node_dir=$work/node
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  fail "node: no node or npm (apt-get install npm)"
else
  mkdir -p "$node_dir"
  for f in package.json package-lock.json client.js; do
    cp "$src/examples/clients/node/$f" "$node_dir/$f"
  done
  if [ ! -f "$node_dir/node_modules/.installed" ] ||
    ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.installed"; then
    if (cd "$node_dir" && timeout 300 npm ci --no-audit --no-fund \
      --cache "$work/npm-cache") >"$dir/npm.log" 2>&1; then
      cp "$node_dir/package-lock.json" "$node_dir/node_modules/.installed"
    elif ! timeout 30 npm ping >/dev/null 2>&1; then
      echo "clients_test: note: npm's registry is unreachable: the Node" \
        "client is not tested" >&2
      node_dir=
    else
      cat "$dir/npm.log" >&2
      fail "node: npm ci failed"
      node_dir=
    fi
  fi
  if [ -n "$node_dir" ]; then
    check node node "$node_dir/client.js"
    ran=$((ran + 1))
  fi
fi

if [ $fails -gt 0 ]; then
  echo "clients_test: $fails failed" >&2
  exit 1
fi
if [ $ran = 0 ]; then exit 77; fi
echo "clients_test: ok ($ran clients)"
