#!/usr/bin/env bash
# The goodput curve (BENCHMARKS.md "Goodput under overload"): each scenario on a fresh
# network, offered a rising series of fixed rates (fractions of its capacity) for --duration
# seconds each, drained in between; then one plot per scenario of committed tx/s and p99
# latency against offered tx/s (gnuplot, Debian's gnuplot-nox).
#   bench/sweep.sh [--scenarios "solo raft3 raft4 bft4"] [--factors LIST] [--duration S]
#                  [--capacity TPS] [--build-dir DIR] [--no-build] [--smoke] [--out DIR]
#                  [--set KEY=VALUE]...
# --capacity sets every scenario's (default: each one's sustained rate from BENCHMARKS.md).
# --set KEY=VALUE sets a key of every node's config.json (bench/lib.sh), for A/B sweeps.
# --smoke: raft4 only, factors 0.5,1,2 of 500 tx/s for 2 s each, no plot (what CI runs).
# Reports and plots land in --out (default bench/results/sweep-DATE/). Exit status: 0 ok,
# 1 a scenario failed, 2 an accepted transaction was lost.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
scenarios="solo raft3 raft4 bft4" factors="0.25,0.5,0.75,1,1.25,1.5,2,3" duration=20
capacity="" smoke=0 out="" pass=()
while (($#)); do
  case "$1" in
    --scenarios) scenarios=$2; shift ;;
    --factors) factors=$2; shift ;;
    --duration) duration=$2; shift ;;
    --capacity) capacity=$2; shift ;;
    --build-dir) pass+=(--build-dir "$2"); shift ;;
    --no-build) pass+=(--no-build) ;;
    --set) pass+=(--set "$2"); shift ;;
    --smoke) smoke=1 ;;
    --out) out=$2; shift ;;
    *) echo "sweep.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if ((smoke)); then
  scenarios=raft4 factors=0.5,1,2 duration=2 capacity=${capacity:-500}
  pass+=(--smoke)
fi
out=${out:-$BENCH_DIR/results/sweep-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"

# Sustained rates at bounded latency measured before issue 13 (BENCHMARKS.md): the x axis
# is in fractions of these, the curve itself is measured.
default_capacity() {
  case "$1" in
    solo) echo 20000 ;;
    raft3) echo 9000 ;;
    raft4) echo 9000 ;;
    bft4) echo 3500 ;;
    *) echo 5000 ;;
  esac
}

rc=0
reports=()
for s in $scenarios; do
  cap=${capacity:-$(default_capacity "$s")}
  echo "sweep: $s, capacity $cap tx/s, factors $factors, $duration s per step" >&2
  src=0
  "$BENCH_DIR/$s.sh" "${pass[@]}" --duration "$duration" --sweep "$factors" --capacity "$cap" \
    --out "$out/$s.json" || src=$?
  if ((src == 77)); then
    echo "sweep: $s skipped (not available here)" >&2
    continue
  fi
  ((src == 0)) || { ((src == 2)) && rc=2 || ((rc)) || rc=1; }
  [[ -f $out/$s.json ]] && reports+=("$out/$s.json")
  # Later steps of one binary reuse the build.
  [[ " ${pass[*]} " == *" --no-build "* ]] || pass+=(--no-build)
done
((${#reports[@]})) || { echo "sweep: no report" >&2; exit 1; }
python3 "$BENCH_DIR/check_report.py" "${reports[@]}" || { ((rc)) || rc=1; }
if ((smoke == 0)); then
  if command -v gnuplot >/dev/null; then
    python3 "$BENCH_DIR/plot_goodput.py" --out "$out" "${reports[@]}"
  else
    echo "sweep: gnuplot not found (apt-get install gnuplot-nox): no plot" >&2
  fi
fi
echo "sweep: reports in $out" >&2
exit $rc
