#!/usr/bin/env bash
# Installs every Debian 12 package Cairn needs to build, test and run. Idempotent.
# libclang-rt-14-dev (sanitizer and libFuzzer runtimes) is only a Recommends of clang-14.
# prometheus-cpp-dev: the metrics registry (node/metrics.cpp); prometheus: promtool and the
# server that tests/ops and tests/integration/metrics_test.cpp run.
set -euo pipefail
PKGS=(g++ clang-14 libclang-rt-14-dev cmake ninja-build ccache pkg-config git curl python3
      libssl-dev libsodium-dev libleveldb-dev libsnappy-dev nlohmann-json3-dev catch2
      libboost-dev libspdlog-dev libcli11-dev libbenchmark-dev iproute2
      python3-websockets prometheus-cpp-dev prometheus)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
