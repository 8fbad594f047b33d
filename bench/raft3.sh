#!/usr/bin/env bash
# Scenario raft3: three Raft validators on loopback, every block fsynced (storage.sync, the default), from a
# fresh testnet; runs cairn-bench against every node and tears the network down.
#   bench/raft3.sh [--smoke] [--rate R] [--duration S] [--accounts M] [-- cairn-bench args]
# See bench/lib.sh for every option; the JSON report lands in bench/results/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scenario_main raft3 raft 3 "$@"
