#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test, then builds with
# ASan+UBSan and runs the unit and simulation tests again, and last builds everything with
# clang-14 in Release (-O3) under the thread-safety analysis and runs the unit tests there,
# and runs every fuzz harness for a short slice.
# Exit code 0 means all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
JOBS=$(nproc)
# ccache: rewrite absolute paths so clones in other directories share the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

echo "== release build and all tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_BUILD_BENCH=ON >/dev/null
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS"

echo "== ASan+UBSan build, unit and simulation tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCAIRN_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" -LE integration

# Last, so the phases above report first: the Release configuration a packager builds, and
# clang's -Wthread-safety over the GUARDED_BY annotations, in one build of every target.
echo "== clang-14 Release build with thread-safety analysis, unit tests"
cmake -S . -B build-clang -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
  -DCAIRN_THREAD_SAFETY=ON -DCAIRN_BUILD_BENCH=ON >/dev/null
cmake --build build-clang -j "$JOBS"
ctest --test-dir build-clang --output-on-failure -j "$JOBS" -L unit

# Every libFuzzer harness for a short slice over its committed seeds (docs/FUZZING.md); the
# long soak is `scripts/fuzz.sh --soak SECONDS`.
echo "== fuzz smoke: every libFuzzer harness ~2 s over its seeds (clang-14, ASan+UBSan)"
./scripts/fuzz.sh --smoke
