#!/usr/bin/env bash
# What serving and scraping metrics costs raft4 (issue 16): bench/raft4.sh with metrics.listen
# off, then on with every node scraped once a second (15x Prometheus's default rate), in
# alternating pairs so that drift in the machine's load hits both sides alike. Prints each
# run's steady TPS and the mean of each side; uptime is logged before each run.
#   bench/metrics_cost.sh [--pairs N] [--duration S] [-- raft4.sh args]
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
PAIRS=3 DURATION=20 EXTRA=()
while (($#)); do
  case "$1" in
    --pairs) PAIRS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown argument $1" >&2; exit 1 ;;
  esac
  shift
done
OUT=$(mktemp -d /tmp/cairn-metrics-cost-XXXXXX)
SCRAPER=""
cleanup() { [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null || true; }
trap cleanup EXIT

# Scrapes every /metrics URL a running bench node printed, once a second, until killed.
scrape_loop() {
  while true; do
    for url in $(grep -ho 'metrics: http://[0-9.:]*/metrics' /tmp/cairn-bench-raft4-*/v*.log \
                   2>/dev/null | sed 's/^metrics: //' | sort -u); do
      curl -s --max-time 2 -o /dev/null "$url" || true
    done
    sleep 1
  done
}

run() {  # run NAME [raft4 args]
  local name=$1
  shift
  echo "[$name] uptime: $(uptime)" >&2
  "$BENCH/raft4.sh" --no-build --duration "$DURATION" --out "$OUT/$name.json" "$@" "${EXTRA[@]}" \
    >"$OUT/$name.log" 2>&1 || { echo "[$name] raft4.sh failed, see $OUT/$name.log" >&2; exit 1; }
}

for ((i = 1; i <= PAIRS; i++)); do
  run "off-$i"
  scrape_loop &
  SCRAPER=$!
  run "on-$i" --set metrics.listen=127.0.0.1:0
  kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true
  SCRAPER=""
done

python3 - "$OUT" "$PAIRS" <<'PY'
import json, sys, statistics
out, pairs = sys.argv[1], int(sys.argv[2])
side = {"off": [], "on": []}
for i in range(1, pairs + 1):
    for s in ("off", "on"):
        r = json.load(open(f"{out}/{s}-{i}.json"))
        tps = r["metrics"]["tps"]["steady"] if "metrics" in r else r["tps"]["steady"]
        side[s].append(tps)
        print(f"{s}-{i}: steady {tps:,.0f} tx/s")
off, on = statistics.mean(side["off"]), statistics.mean(side["on"])
print(f"mean off {off:,.0f}, on {on:,.0f}: {100 * (on - off) / off:+.1f}%")
PY
echo "reports and logs in $OUT" >&2
