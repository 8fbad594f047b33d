#!/usr/bin/env bash
# Multi-host variant: a validator and an observer in two Linux network namespaces joined by
# a veth pair, each with its own address. A transaction sent to the observer must be
# committed by the validator and followed by the observer. Where namespaces cannot be made
# (not root, no CAP_NET_ADMIN), prints "SKIPPED: <why>" on its own line and passes.
# Usage: netns_test.sh CAIRND CAIRN
set -euo pipefail
CAIRND=$1
CAIRN=$2
TAG="cairn$$"
NS_A="${TAG}a"
NS_B="${TAG}b"
ADDR_A=10.231.$(($$ % 200)).1
ADDR_B=10.231.$(($$ % 200)).2

if [ "$(id -u)" -ne 0 ]; then echo "SKIPPED: network namespaces need root"; exit 0; fi
if ! ip netns add "$NS_A" 2>/dev/null; then
  echo "SKIPPED: 'ip netns add' is not permitted on this machine"; exit 0
fi
DIR=$(mktemp -d /tmp/cairn-netns-XXXXXX)
cleanup() {
  for p in $(cat "$DIR"/*.pid 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  [ -n "${CAIRN_KEEP_TEST_DIRS:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS_B"
ip link add "${TAG}va" type veth peer name "${TAG}vb"
ip link set "${TAG}va" netns "$NS_A"
ip link set "${TAG}vb" netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev "${TAG}va"
ip -n "$NS_B" addr add "$ADDR_B/24" dev "${TAG}vb"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set "${TAG}va" up
ip -n "$NS_B" link set "${TAG}vb" up

"$CAIRND" testnet --out "$DIR/net" --consensus solo --validators 1 --observers 1 \
  --host "$ADDR_A" --rpc-host "$ADDR_A" --rpc-port 8545 --p2p-port 26656 --block-interval-ms 50 >/dev/null
# The observer lives on the other host: move its listen addresses and its genesis entry.
python3 - "$DIR/net" "$ADDR_B" <<'PY'
import json, sys
net, addr_b = sys.argv[1], sys.argv[2]
c = json.load(open(f"{net}/o0/config.json"))
c["rpc"]["listen"] = f"{addr_b}:8546"
c["p2p"]["listen"] = f"{addr_b}:26657"
json.dump(c, open(f"{net}/o0/config.json", "w"), indent=2)
g = json.load(open(f"{net}/genesis.json"))
g["observers"][0]["address"] = f"{addr_b}:26657"
json.dump(g, open(f"{net}/genesis.json", "w"), indent=2)
PY

ip netns exec "$NS_A" "$CAIRND" --home "$DIR/net/v0" >"$DIR/v0.out" 2>"$DIR/v0.log" &
echo $! > "$DIR/v0.pid"
ip netns exec "$NS_B" "$CAIRND" --home "$DIR/net/o0" >"$DIR/o0.out" 2>"$DIR/o0.log" &
echo $! > "$DIR/o0.pid"

wait_for() {  # wait_for SECONDS COMMAND...: polls until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then return 1; fi
    sleep 0.1
  done
}
RPC_A="http://$ADDR_A:8545"
RPC_B="http://$ADDR_B:8546"
wait_for 30 ip netns exec "$NS_A" "$CAIRN" --rpc "$RPC_A" status
wait_for 30 ip netns exec "$NS_B" "$CAIRN" --rpc "$RPC_B" status
peers_of_b() { ip netns exec "$NS_B" "$CAIRN" --rpc "$RPC_B" --json peers | grep -q "$ADDR_A"; }
wait_for 30 peers_of_b || { echo "observer never connected to the validator"; tail -20 "$DIR/o0.log"; exit 1; }

ip netns exec "$NS_B" "$CAIRN" --rpc "$RPC_B" keys new --out "$DIR/alice.json" >/dev/null
ALICE=$(ip netns exec "$NS_B" "$CAIRN" keys show --key "$DIR/alice.json" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
TX=$(ip netns exec "$NS_B" "$CAIRN" --rpc "$RPC_B" --json send register --key "$DIR/net/admin_key.json" \
  --pubkey "$ALICE" --role member | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
committed_on_a() {
  ip netns exec "$NS_A" "$CAIRN" --rpc "$RPC_A" --json tx "$TX" | grep -q '"committed"'
}
wait_for 30 committed_on_a || { echo "validator never committed $TX"; tail -20 "$DIR/v0.log"; exit 1; }
account_on_b() {
  ip netns exec "$NS_B" "$CAIRN" --rpc "$RPC_B" --json account "$ALICE" | grep -q '"member"'
}
wait_for 30 account_on_b || { echo "observer never saw the new account"; exit 1; }
echo "PASSED: tx sent to the observer at $ADDR_B was committed by the validator at $ADDR_A"
