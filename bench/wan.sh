#!/usr/bin/env bash
# WAN variant: each validator in its own Linux network namespace behind a veth pair on one
# bridge, with tc netem adding --delay-ms (default 25 ms) one way on every node's egress, so
# validators see 2 x delay round trips and cairn-bench (in the root namespace) one delay
# each way. Needs root, `ip netns` and the sch_netem qdisc; otherwise prints SKIPPED and exits
# 77. --delay-ms 0 runs the namespaces without netem (to check the plumbing).
#   bench/wan.sh [--consensus raft|bft] [--validators N] [--delay-ms D] [scenario options]
# Scenario options as in bench/lib.sh (--smoke, --rate, --duration, ...).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CONSENSUS=raft VALIDATORS=3 DELAY_MS=25
ARGS=()
while (($#)); do
  case "$1" in
    --consensus) CONSENSUS=$2; shift 2 ;;
    --validators) VALIDATORS=$2; shift 2 ;;
    --delay-ms) DELAY_MS=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
SCENARIO=wan-$CONSENSUS$VALIDATORS

TAG=cb$$
SUBNET=10.$((77 + $$ % 100)).$(($$ / 100 % 250))
skip() {
  log "SKIPPED: $*"
  exit $SKIP
}
[[ $(id -u) -eq 0 ]] || skip "network namespaces need root"
ip netns add "${TAG}probe" 2>/dev/null || skip "'ip netns add' is not permitted here"
if ((DELAY_MS > 0)) && ! ip netns exec "${TAG}probe" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
  ip netns del "${TAG}probe"
  skip "tc netem is not available (kernel module sch_netem missing: 'Specified qdisc kind is unknown')"
fi
ip netns del "${TAG}probe"

node_prefix() { echo "ip netns exec ${TAG}n$1"; }
node_host() { echo "$SUBNET.$(($1 + 1))"; }
before_network() {
  local i
  ip link add "${TAG}br" type bridge
  ip addr add "$SUBNET.254/24" dev "${TAG}br"
  ip link set "${TAG}br" up
  for ((i = 0; i < VALIDATORS; i++)); do
    ip netns add "${TAG}n$i"
    ip link add "${TAG}h$i" type veth peer name eth0 netns "${TAG}n$i"
    ip link set "${TAG}h$i" master "${TAG}br" up
    ip -n "${TAG}n$i" addr add "$SUBNET.$((i + 1))/24" dev eth0
    ip -n "${TAG}n$i" link set eth0 up
    ip -n "${TAG}n$i" link set lo up
    if ((DELAY_MS > 0)); then
      ip netns exec "${TAG}n$i" tc qdisc add dev eth0 root netem delay "${DELAY_MS}ms" limit 100000
    fi
  done
}
network_teardown() {
  local i
  for ((i = 0; i < VALIDATORS; i++)); do ip netns del "${TAG}n$i" 2>/dev/null || true; done
  ip link del "${TAG}br" 2>/dev/null || true
}
# Node i listens on its own address; peers and genesis entries follow.
after_testnet() {
  python3 - "$WORK/net" "$1" "$VALIDATORS" "$SUBNET" <<'PY'
import json, sys
net, base, n, subnet = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ip = lambda i: f"{subnet}.{i + 1}"
p2p = {f"127.0.0.1:{base + 100 + i}": f"{ip(i)}:{base + 100 + i}" for i in range(n)}
g = json.load(open(f"{net}/genesis.json"))
for v in g["validators"]:
    v["address"] = p2p.get(v["address"], v["address"])
json.dump(g, open(f"{net}/genesis.json", "w"), indent=2)
for i in range(n):
    path = f"{net}/v{i}/config.json"
    c = json.load(open(path))
    c["rpc"]["listen"] = f"{ip(i)}:{base + i}"
    c["p2p"]["listen"] = f"{ip(i)}:{base + 100 + i}"
    for peer in c["p2p"]["peers"]:
        peer["address"] = p2p.get(peer["address"], peer["address"])
    json.dump(c, open(path, "w"), indent=2)
PY
}

scenario_main "$SCENARIO" "$CONSENSUS" "$VALIDATORS" "${ARGS[@]}"
