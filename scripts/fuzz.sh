#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang-14, ASan and UBSan into build-fuzz,
# and runs them over the committed seed corpora (docs/FUZZING.md).
#   scripts/fuzz.sh --smoke            every harness for a short slice (CI: ~2 s each); fails on
#                                      any crash, leak, sanitizer report or broken property
#   scripts/fuzz.sh --soak SECONDS     every harness for SECONDS, nproc at a time under nice,
#                                      growing a working corpus in build-fuzz/corpus; prints
#                                      executions per harness and keeps crash inputs
#   scripts/fuzz.sh --build            only build
#   scripts/fuzz.sh --seeds            regenerate tests/fuzz/corpus from the fixtures
# Options: --only NAME (one harness; repeatable), --jobs N (parallel harnesses), --no-build
# (use the harnesses already in build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${CAIRN_FUZZ_BUILD:-build-fuzz}
MODE=""
SECONDS_EACH=0
JOBS=$(nproc)
ONLY=()
BUILD_FIRST=1
while (($#)); do
  case "$1" in
    --smoke) MODE=smoke ;;
    --soak) MODE=soak; SECONDS_EACH=${2:?--soak needs SECONDS}; shift ;;
    --build) MODE=build ;;
    --seeds) MODE=seeds ;;
    --only) ONLY+=("${2:?--only needs a harness name}"); shift ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift ;;
    --no-build) BUILD_FIRST=0 ;;
    *) echo "usage: $0 --smoke | --soak SECONDS | --build | --seeds [--only NAME] [--jobs N] [--no-build]" >&2
       exit 2 ;;
  esac
  shift
done
[ -n "$MODE" ] || { echo "usage: $0 --smoke | --soak SECONDS | --build | --seeds" >&2; exit 2; }

if ((BUILD_FIRST)); then
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=true
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_FUZZ=ON -DCAIRN_BUILD_TESTS=OFF \
    -DCAIRN_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD" -j "${CAIRN_FUZZ_BUILD_JOBS:-2}" --target cairn_fuzz
fi
[ "$MODE" = build ] && exit 0

if [ "$MODE" = seeds ]; then
  "$BUILD/tests/fuzz/fuzz_make_seeds" tests/fuzz/corpus
  exit 0
fi

HARNESSES=()
if ((${#ONLY[@]})); then
  HARNESSES=("${ONLY[@]}")
else
  for d in tests/fuzz/corpus/*/; do HARNESSES+=("$(basename "$d")"); done
fi

# Leaks are findings too; UBSan reports abort (the build already makes them fatal).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

LOGS="$BUILD/fuzz-logs"
ARTIFACTS="$BUILD/fuzz-artifacts"
mkdir -p "$LOGS" "$ARTIFACTS"

# run_one NAME SECONDS: one harness over its committed seeds (and, in a soak, a working corpus
# it grows); its log is $LOGS/NAME.log and crash inputs land in $ARTIFACTS/NAME-*.
run_one() {
  local name=$1 secs=$2 bin="$BUILD/tests/fuzz/fuzz_$1"
  # libFuzzer writes new inputs into the first directory: a working one, never the committed
  # seeds. A smoke run starts from the seeds alone; a soak keeps its corpus between runs.
  local work="$BUILD/corpus/$name"
  if [ "$MODE" = smoke ]; then
    work="$BUILD/smoke-corpus/$name"
    rm -rf "$work"
  fi
  mkdir -p "$work" "tests/fuzz/corpus/$name"
  local dirs=("$work" "tests/fuzz/corpus/$name")
  # -max_len: the seeds hold whole blocks; 64 KiB lets mutations grow past any one of them.
  "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" "${dirs[@]}" \
    >"$LOGS/$name.log" 2>&1
}

# stat_of LOG NAME: the value of libFuzzer's final "stat::NAME:" line.
stat_of() { awk -v k="stat::$2:" '$1 == k {v = $2} END {print v}' "$1"; }

if [ "$MODE" = smoke ]; then
  SLICE=${CAIRN_FUZZ_SLICE:-2}
  failed=()
  for h in "${HARNESSES[@]}"; do
    if run_one "$h" "$SLICE"; then
      printf '%-16s ok   %s execs\n' "$h" "$(stat_of "$LOGS/$h.log" number_of_executed_units)"
    else
      printf '%-16s FAIL (log: %s)\n' "$h" "$LOGS/$h.log"
      tail -n 40 "$LOGS/$h.log" >&2
      failed+=("$h")
    fi
  done
  ((${#failed[@]} == 0)) || { echo "fuzz smoke failed: ${failed[*]}" >&2; exit 1; }
  echo "fuzz smoke: ${#HARNESSES[@]} harnesses passed"
  exit 0
fi

# Soak: JOBS harnesses at a time, niced so the machine stays usable.
echo "soak: ${#HARNESSES[@]} harnesses x ${SECONDS_EACH}s, $JOBS at a time; logs in $LOGS"
export -f run_one
export BUILD LOGS ARTIFACTS MODE
status=0
printf '%s\n' "${HARNESSES[@]}" |
  xargs -P "$JOBS" -I{} nice -n 19 bash -c 'run_one "$1" "$2" || echo "{}: FAILED" >&2' _ {} "$SECONDS_EACH" ||
  status=$?
printf '%-16s %14s %10s %8s  %s\n' harness executions exec/s corpus result
for h in "${HARNESSES[@]}"; do
  log="$LOGS/$h.log"
  execs=$(stat_of "$log" number_of_executed_units)
  rate=$(stat_of "$log" average_exec_per_sec)
  units=$(find "$BUILD/corpus/$h" -type f | wc -l)
  result=ok
  if grep -qE 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:|fuzz property failed|deadly signal' "$log"; then
    result=CRASH
    status=1
  fi
  printf '%-16s %14s %10s %8s  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$units" "$result"
done
exit $status
