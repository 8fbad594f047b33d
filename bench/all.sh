#!/usr/bin/env bash
# Every scenario of issue #7 in one sitting, then one summary table against the targets:
# solo, raft3, raft4 and bft4 at full rate (steady --duration, default 60 s), then solo, raft4
# and bft4 again at half their TPS target for latency (20 ms block interval), then etcd (bench/etcd.sh). bft4 is
# skipped while cairnd lacks BFT. Takes about 15 minutes with the defaults.
#   bench/all.sh [--duration S] [--only "solo raft4"] [--skip-etcd] [--build-dir DIR] [--no-build]
# Reports go to bench/results/all-DATE/ (SCENARIO-max.json, SCENARIO-lat.json, etcd.json,
# summary.txt).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
DURATION=60 ONLY="solo raft3 raft4 bft4" SKIP_ETCD=0 NO_BUILD=0
PASS=()
while (($#)); do
  case "$1" in
    --duration) DURATION=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --skip-etcd) SKIP_ETCD=1 ;;
    --build-dir) PASS+=(--build-dir "$2"); shift ;;
    --no-build) NO_BUILD=1 ;;
    -h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "all.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
DIR=$BENCH_DIR/results/all-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$DIR"
declare -A LAT_RATE=([solo]=10000 [raft4]=5000 [bft4]=2500)
failed=()
run() {  # run NAME KIND [args]
  local name=$1 kind=$2 rc=0
  shift 2
  local build=()
  ((NO_BUILD)) && build=(--no-build)
  NO_BUILD=1  # build once
  echo "== $name $kind ($(uptime | sed 's/.*load/load/'))"
  "$BENCH_DIR/$name.sh" --duration "$DURATION" --out "$DIR/$name-$kind.json" "${PASS[@]}" \
    "${build[@]}" "$@" 2>&1 | tee "$DIR/$name-$kind.txt" || true
  rc=${PIPESTATUS[0]}
  if ((rc == 77)); then
    echo "(skipped)"
  elif ((rc != 0)); then
    failed+=("$name-$kind")
  fi
}
for s in $ONLY; do run "$s" max; done
for s in $ONLY; do
  [[ -n ${LAT_RATE[$s]:-} ]] || continue
  [[ $s != bft4 || -f $DIR/bft4-max.json ]] || continue
  # Latency runs use a 20 ms block interval: at half load a block then waits ~10 ms to fill
  # instead of ~50 (the interval is the operator's throughput/latency knob, docs/CONFIG.md).
  run "$s" lat --rate "${LAT_RATE[$s]}" --block-interval-ms 20
done
if ((SKIP_ETCD == 0)); then
  echo "== etcd"
  "$BENCH_DIR/etcd.sh" --out "$DIR/etcd.json" "${PASS[@]}" || failed+=(etcd)
fi
echo
python3 "$BENCH_DIR/summary.py" "$DIR" | tee "$DIR/summary.txt"
echo "reports: $DIR"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
