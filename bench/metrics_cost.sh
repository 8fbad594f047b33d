#!/usr/bin/env bash
# What serving and scraping metrics costs raft4 (issue 16): bench/raft4.sh with metrics.listen
# off, then on with every node scraped once a second (15x Prometheus's default rate), in
# alternating pairs, in ABBA order, so that drift in the machine's load hits both sides alike. Prints each
# run's steady TPS and the nodes' CPU per committed transaction, and the mean of each side;
# uptime is logged before each run. Flat out, TPS on this 2-core machine swings by +-20% run to
# run; at a fixed rate below capacity (-- --rate 5000) the CPU per transaction is the steadier
# measure of what metrics cost.
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

run_on() {
  scrape_loop &
  SCRAPER=$!
  run "on-$1" --set metrics.listen=127.0.0.1:0
  kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true
  SCRAPER=""
}

# ABBA order (off, on, on, off, ...): a trend in the machine's load during the sitting then
# favours neither side.
for ((i = 1; i <= PAIRS; i++)); do
  if ((i % 2)); then
    run "off-$i"
    run_on "$i"
  else
    run_on "$i"
    run "off-$i"
  fi
done

python3 - "$OUT" "$PAIRS" <<'PY'
import json, sys, statistics
out, pairs = sys.argv[1], int(sys.argv[2])
side = {"off": [], "on": []}
cpu = {"off": [], "on": []}
for i in range(1, pairs + 1):
    for s in ("off", "on"):
        r = json.load(open(f"{out}/{s}-{i}.json"))
        tps = r["metrics"]["tps"]["steady"] if "metrics" in r else r["tps"]["steady"]
        # CPU the four nodes spent per committed transaction in the steady window: at a fixed
        # offered rate (-- --rate N) this is what metrics cost, little moved by the
        # scheduling noise that dominates TPS on a 2-core machine running five processes.
        us = sum(n["cpu_us_per_tx"] for n in r.get("nodes", []))
        side[s].append(tps)
        cpu[s].append(us)
        print(f"{s}-{i}: steady {tps:,.0f} tx/s, nodes' CPU {us:,.1f} us per tx")
off, on = statistics.mean(side["off"]), statistics.mean(side["on"])
print(f"mean off {off:,.0f}, on {on:,.0f}: {100 * (on - off) / off:+.1f}%")
coff, con = statistics.mean(cpu["off"]), statistics.mean(cpu["on"])
print(f"nodes' CPU per tx: off {coff:,.1f} us, on {con:,.1f} us: {100 * (con - coff) / coff:+.1f}%")
PY
echo "reports and logs in $OUT" >&2
