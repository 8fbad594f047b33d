#!/usr/bin/env bash
# Reconfiguration under load (issue 15): runs the membership integration test (real cairnd
# processes: BFT 4 -> 5 -> 7 validators, one removed, one key rotated; Raft 3 -> 4 with a
# learner promoted, then the leader removed) N times, and prints what it measured:
#   - a joining validator's time from its first synced block to its first counted vote
#     (BFT: v0 commits the first block whose certificate the joiner signed; Raft: the joiner
#     logs its promotion to voter), from the nodes' logs;
#   - the committed throughput of a closed-loop client (batches of 20 writes, each waiting
#     for its commit) before, during and after the changes, and per second.
#   bench/membership.sh [--repeat N] [--build-dir DIR]
# The client is latency-bound (one batch in flight), so the numbers show the dip relative to
# the baseline of the same run, not the network's capacity (bench/bft4.sh measures that).
set -euo pipefail
REPEAT=3
BUILD=build
while (($#)); do
  case "$1" in
    --repeat) REPEAT=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
cmake --build "$BUILD" --target membership_integration_test cairnd cairn >/dev/null
for ((i = 1; i <= REPEAT; i++)); do
  out=$(nice -n 10 "$BUILD/tests/integration/membership_integration_test" 2>&1) || {
    echo "run $i failed:" >&2
    echo "$out" | tail -40 >&2
    exit 1
  }
  echo "run $i"
  echo "$out" | grep '^\[membership-'
done
