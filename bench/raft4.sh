#!/usr/bin/env bash
# Scenario raft4: four Raft validators on loopback, every block fsynced (storage.sync, the default), from a
# fresh testnet; runs cairn-bench against every node and tears the network down.
#   bench/raft4.sh [--smoke] [--rate R] [--duration S] [--accounts M] [-- cairn-bench args]
# See bench/lib.sh for every option; the JSON report lands in bench/results/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scenario_main raft4 raft 4 "$@"
