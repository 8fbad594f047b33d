#!/usr/bin/env bash
# Scenario raft4 with WebSocket subscribers: four Raft validators (as bench/raft4.sh), N
# subscribers to newBlocks on node v0 (bench/ws_subscribers.py) while cairn-bench loads the
# network; reports the delivery latency and v0's RSS (cairn-bench's --pid sampling).
#   bench/ws_subscribers.sh [--subscribers N] [raft4.sh options]
# --subscribers 0 runs the same network and load without subscribers: back to back, the two
# give what subscriptions cost raft4's TPS (BENCHMARKS.md "WebSocket subscriptions").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SUBSCRIBERS=1000
args=()
while (($#)); do
  if [[ $1 == --subscribers ]]; then SUBSCRIBERS=$2; shift 2; else args+=("$1"); shift; fi
done
SCENARIO=raft4-ws$SUBSCRIBERS
parse_args "${args[@]}" --set rpc.max_ws_connections=2000 --set rpc.max_ws_connections_per_ip=2000 \
  --set rpc.max_connections=2500 \
  --set rpc.max_connections_per_ip=2500
build
start_network raft 4
wait_leader
SUB_PID=""
if ((SUBSCRIBERS > 0)); then
  /usr/bin/python3 "$BENCH_DIR/ws_subscribers.py" "${RPCS[1]}" "$SUBSCRIBERS" "$WORK/subs.ready" \
    "$WORK/subs.json" >"$WORK/subs.log" 2>&1 &
  SUB_PID=$!
  deadline=$((SECONDS + 120))
  until [[ -f $WORK/subs.ready ]]; do
    kill -0 "$SUB_PID" 2>/dev/null || { cat "$WORK/subs.log" >&2; die "subscribers exited"; }
    ((SECONDS < deadline)) || die "subscribers not connected within 120 s"
    sleep 0.2
  done
  log "$(cat "$WORK/subs.ready") subscribers on ${RPCS[1]}"
fi
rc=0
run_bench 1 || rc=$?
if [[ -n $SUB_PID ]]; then
  kill -TERM "$SUB_PID"
  wait "$SUB_PID" || true
  log "subscribers: $(tr -d '\n' <"$WORK/subs.json")"
  [[ -n $OUT ]] && cp "$WORK/subs.json" "${OUT%.json}-subscribers.json"
fi
exit $rc
