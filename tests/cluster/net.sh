# shellcheck shell=bash
# net.sh: the cluster test's network, sourced by cluster_test.sh (bash).
#
# One "client" network namespace holding a bridge (br0, NET_PFX.1/24) and
# three node namespaces, each joined to the bridge by a veth pair: vnI on
# the bridge, eth0 (NET_PFX.1I) in node I's namespace; lo up everywhere.
# The names carry the test's PID (isoc-PID, isonI-PID) and so does the
# subnet (NET_PFX=10.X.Y), so two runs never meet; nothing is done in the
# host's own namespace (every command is `ip -n NS` or `ip netns exec`).
# net_down removes the namespaces (their links go with them); the caller
# calls it from its EXIT trap, after it has ended the processes inside.
# Where the namespaces cannot be made (not root, no `ip netns`, no veth or
# bridge support) net_up says why on one line and exits 77 (skipped).

NET_CLIENT="isoc-$$"
NET_NODES=("" "ison1-$$" "ison2-$$" "ison3-$$")
NET_PFX="10.$((($$ >> 8) & 255)).$(($$ & 255))"
NET_MADE=()

net_skip() {
  echo "cluster_test: SKIP: $*"
  net_down
  exit 77
}

# net_addr I: node I's address
net_addr() {
  echo "$NET_PFX.1$1"
}

net_up() {
  local err i ns
  [ "$(id -u)" = 0 ] ||
    net_skip "not root: network namespaces need CAP_SYS_ADMIN (run as root)"
  command -v ip >/dev/null || net_skip "no ip command (Debian: iproute2)"
  err=$(ip netns add "$NET_CLIENT" 2>&1) ||
    net_skip "ip netns add failed: $err"
  NET_MADE+=("$NET_CLIENT")
  err=$(ip -n "$NET_CLIENT" link add br0 type bridge 2>&1) ||
    net_skip "no bridge in a network namespace: $err"
  ip -n "$NET_CLIENT" link set lo up
  ip -n "$NET_CLIENT" addr add "$NET_PFX.1/24" dev br0
  ip -n "$NET_CLIENT" link set br0 up
  for i in 1 2 3; do
    ns=${NET_NODES[$i]}
    err=$(ip netns add "$ns" 2>&1) || net_skip "ip netns add failed: $err"
    NET_MADE+=("$ns")
    err=$(ip -n "$NET_CLIENT" link add "vn$i" type veth peer name eth0 \
      netns "$ns" 2>&1) || net_skip "no veth pair between namespaces: $err"
    ip -n "$NET_CLIENT" link set "vn$i" master br0
    ip -n "$NET_CLIENT" link set "vn$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(net_addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

net_down() {
  local ns
  for ns in "${NET_MADE[@]}"; do
    ip netns del "$ns" 2>/dev/null
  done
  NET_MADE=()
}
