#!/usr/bin/env bash
# CI smoke: every scenario in --smoke mode (3 s at 1,000 tx/s), then each JSON report is
# checked (bench/check_report.py: fields present, committed > 0, lost == 0); then the goodput
# sweep in miniature (bench/sweep.sh --smoke: raft4 at 0.5x, 1x and 2x of 500 tx/s, checked
# the same way). bft4 is skipped,
# with a message, only when cairnd says BFT is not available.
#   bench/smoke.sh [--build-dir DIR] [--no-build]
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
PASS=()
while (($#)); do
  case "$1" in
    --build-dir) PASS+=(--build-dir "$2"); shift ;;
    --no-build) NO_BUILD=1 ;;
    *) echo "smoke.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
OUT=$(mktemp -d /tmp/cairn-bench-smoke-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
reports=()
failed=()
first=1
for s in solo raft3 raft4 bft4; do
  args=(--smoke --out "$OUT/$s.json" "${PASS[@]}")
  # Build once, with the first scenario.
  if [[ -n ${NO_BUILD:-} ]] || ((first == 0)); then args+=(--no-build); fi
  first=0
  rc=0
  "$BENCH_DIR/$s.sh" "${args[@]}" >"$OUT/$s.out" 2>&1 || rc=$?
  if ((rc == 77)) && [[ $s == bft4 ]] && grep -q 'bft.* is not available' "$OUT/$s.out"; then
    echo "SKIPPED bft4: $(grep -m1 'is not available' "$OUT/$s.out")"
    continue
  fi
  if ((rc != 0)); then
    echo "FAIL $s (exit $rc):"
    tail -n 25 "$OUT/$s.out"
    failed+=("$s")
    [[ -f $OUT/$s.json ]] && reports+=("$OUT/$s.json")
    continue
  fi
  reports+=("$OUT/$s.json")
done
check_rc=0
((${#reports[@]} == 0)) || python3 "$BENCH_DIR/check_report.py" "${reports[@]}" || check_rc=$?
if ! "$BENCH_DIR/sweep.sh" --smoke --no-build "${PASS[@]}" --out "$OUT/sweep" >"$OUT/sweep.out" 2>&1; then
  echo "FAIL sweep:"
  tail -n 25 "$OUT/sweep.out"
  failed+=(sweep)
fi
if ((${#failed[@]})) || ((check_rc != 0)); then
  echo "bench smoke FAILED: ${failed[*]:-report check}"
  exit 1
fi
echo "bench smoke passed"
