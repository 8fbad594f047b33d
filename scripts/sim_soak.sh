#!/usr/bin/env bash
# Soaks the consensus simulation (docs/CONSENSUS.md, "Simulation soaks"): runs a range of
# seeds per engine (default 1,000,000 each for Raft and BFT) split into chunks across
# parallel processes, each one `CAIRN_SIM_FIRST_SEED=<first> CAIRN_SIM_SEEDS=<count>` of the
# CI test binary. Prints every failing seed with the command that replays it, a summary of
# what ran, and exits 1 if any seed failed (2 on a usage error).
#
# Every release runs a fresh range: pass --first-seed (or --raft-first-seed/--bft-first-seed)
# above every range recorded in docs/CONSENSUS.md, and record the new one there.
#
#   scripts/sim_soak.sh --first-seed 9000001                  # 1M Raft + 1M BFT seeds
#   scripts/sim_soak.sh --engine bft --bft-first-seed 8000001 --seeds 200000 --until 16:20
#
# Needs a build with the two test binaries (an optimised one: a Debug build is ~10x slower):
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build --target consensus_test bft_sim_test
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/sim_soak.sh [options]
  --engine raft|bft|both   engines to soak (default both)
  --first-seed N           first seed of every engine's range (default 1)
  --raft-first-seed N      first Raft seed (overrides --first-seed)
  --bft-first-seed N       first BFT seed (overrides --first-seed)
  --seeds N                seeds per engine (default 1000000)
  --jobs N                 parallel processes (default: nproc)
  --chunk N                seeds per process run (default 5000)
  --until TIME             start no chunk after TIME (anything `date -d` reads, e.g. 16:20);
                           running chunks finish, and only finished ones are counted
  --minutes M              the same, M minutes from now
  --nice N                 run the simulations under `nice -n N` (default 19)
  --build-dir DIR          where the test binaries are (default build)
  --out DIR                chunk logs (default: a new directory under /tmp)
EOF
}

# Internal: one chunk, run by xargs. Writes <out>/<engine>-<first>.{log,done}.
if [[ "${1:-}" == "--run-chunk" ]]; then
  engine=$2 first=$3 count=$4 out=$5 bin=$6 filter=$7 deadline=$8 niceness=$9
  name="$out/$engine-$first"
  if [[ -e "$out/stop" ]] || ((deadline > 0 && $(date +%s) >= deadline)); then
    echo "skipped" >"$name.done"
    exit 0
  fi
  start=$(date +%s)
  rc=0
  CAIRN_SIM_FIRST_SEED=$first CAIRN_SIM_SEEDS=$count nice -n "$niceness" "$bin" "$filter" \
    >"$name.log" 2>&1 &
  echo $! >"$name.pid"
  wait $! || rc=$?
  rm -f "$name.pid"
  echo "ran $rc $(($(date +%s) - start))" >"$name.done"
  exit 0
fi

engine=both first_all=1 raft_first="" bft_first="" seeds=1000000 chunk=5000
jobs=$(nproc) deadline=0 niceness=19 build=build out=""
while (($#)); do
  case "$1" in
    --engine) engine=$2 ;;
    --first-seed) first_all=$2 ;;
    --raft-first-seed) raft_first=$2 ;;
    --bft-first-seed) bft_first=$2 ;;
    --seeds) seeds=$2 ;;
    --jobs) jobs=$2 ;;
    --chunk) chunk=$2 ;;
    --until) deadline=$(date -d "$2" +%s) ;;
    --minutes) deadline=$(($(date +%s) + $2 * 60)) ;;
    --nice) niceness=$2 ;;
    --build-dir) build=$2 ;;
    --out) out=$2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "sim_soak: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift 2 || { echo "sim_soak: $1 needs a value" >&2; exit 2; }
done
for v in "$first_all" "$seeds" "$jobs" "$chunk" "${raft_first:-1}" "${bft_first:-1}"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "sim_soak: '$v' is not a positive integer" >&2; exit 2; }
done
case "$engine" in
  raft) engines=(raft) ;;
  bft) engines=(bft) ;;
  both) engines=(raft bft) ;;
  *) echo "sim_soak: --engine must be raft, bft or both" >&2; exit 2 ;;
esac
raft_first=${raft_first:-$first_all}
bft_first=${bft_first:-$first_all}

declare -A bin filter first
bin[raft]="$build/tests/consensus/consensus_test"
filter[raft]="raft keeps*"
first[raft]=$raft_first
bin[bft]="$build/tests/consensus/bft_sim_test"
filter[bft]="bft keeps*"
first[bft]=$bft_first
for e in "${engines[@]}"; do
  if [[ ! -x "${bin[$e]}" ]]; then
    echo "sim_soak: ${bin[$e]} not found; build it first:" >&2
    echo "  cmake --build $build --target consensus_test bft_sim_test" >&2
    exit 2
  fi
done
# Replay commands name the binaries as given; chunks run them by absolute path.
declare -A shown=([raft]="${bin[raft]}" [bft]="${bin[bft]}")
bin[raft]=$(realpath "${bin[raft]}" 2>/dev/null || echo "${bin[raft]}")
bin[bft]=$(realpath "${bin[bft]}" 2>/dev/null || echo "${bin[bft]}")

out=${out:-$(mktemp -d /tmp/cairn-sim-soak.XXXXXX)}
mkdir -p "$out"
self=$(realpath "$0")

# The chunk list, engines interleaved so that a deadline cuts both ranges alike.
: >"$out/chunks"
nchunks=$(((seeds + chunk - 1) / chunk))
for ((k = 0; k < nchunks; ++k)); do
  for e in "${engines[@]}"; do
    f=$((first[$e] + k * chunk))
    c=$((seeds - k * chunk < chunk ? seeds - k * chunk : chunk))
    echo "$e $f $c" >>"$out/chunks"
  done
done

# shellcheck disable=SC2317  # called by the trap
stop() {
  touch "$out/stop"
  for p in "$out"/*.pid; do
    if [[ -e "$p" ]]; then kill "$(cat "$p")" 2>/dev/null || true; fi
  done
}
trap 'stop; echo "sim_soak: interrupted; finished chunks are summarised below" >&2' INT TERM

from=""
for e in "${engines[@]}"; do from+=", $e from ${first[$e]}"; done
echo "sim_soak: $seeds seeds per engine in chunks of $chunk, $jobs jobs$from; logs in $out" >&2
[[ $deadline -gt 0 ]] && echo "sim_soak: no chunk starts after $(date -u -d "@$deadline")" >&2
echo "sim_soak: commit $(git -C "$(dirname "$self")" describe --always --dirty 2>/dev/null ||
  echo unknown); $(nproc) cores; $(uname -m)" >&2
wall_start=$(date +%s)
while read -r e f c; do
  printf '%s\0' --run-chunk "$e" "$f" "$c" "$out" "${bin[$e]}" "${filter[$e]}" "$deadline" \
    "$niceness"
done <"$out/chunks" | xargs -0 -n 9 -P "$jobs" "$self" || true
wall=$(($(date +%s) - wall_start))

# Summary: only chunks that ran to the end count.
status=0
for e in "${engines[@]}"; do
  ran=0 secs=0 failed_chunks=0 skipped=0 ranges=""
  range_lo="" range_hi=""
  while read -r ce f c; do
    [[ "$ce" == "$e" ]] || continue
    name="$out/$e-$f"
    if [[ ! -e "$name.done" ]] || grep -q '^skipped' "$name.done"; then
      skipped=$((skipped + c))
      continue
    fi
    read -r _ rc _ <"$name.done"
    line=$(grep -E "^\[$e\] simulated [0-9]+ seeds" "$name.log" | tail -1 || true)
    n=$(sed -E 's/^\[[a-z]+\] simulated ([0-9]+) seeds.*/\1/' <<<"$line")
    s=$(sed -E 's/.* in ([0-9.]+) s:.*/\1/' <<<"$line")
    if [[ -z "$line" || "$rc" != 0 || "$n" != "$c" ]]; then
      failed_chunks=$((failed_chunks + 1))
      status=1
      echo "FAILED chunk: $e seeds $f..$((f + c - 1)) (exit $rc): $name.log" >&2
    fi
    if [[ -n "$line" ]]; then
      ran=$((ran + n))
      secs=$(awk -v a="$secs" -v b="$s" 'BEGIN { print a + b }')
      if [[ -n "$range_hi" && "$f" -eq $((range_hi + 1)) ]]; then
        range_hi=$((f + n - 1))
      else
        [[ -n "$range_lo" ]] && ranges+=" $range_lo..$range_hi"
        range_lo=$f range_hi=$((f + n - 1))
      fi
    fi
    while read -r seed; do
      echo "FAILING SEED: $e $seed" >&2
      grep -A1 -E "^SIM FAILURE \[$e\] seed=$seed " "$name.log" | sed 's/^/  /' >&2
      echo "  replay: CAIRN_SIM_SEED=$seed ${shown[$e]} '${filter[$e]}'" >&2
      echo "  trace:  CAIRN_SIM_SEED=$seed CAIRN_SIM_TRACE=1 ${shown[$e]} '${filter[$e]}'" >&2
    done < <(grep -oE "^SIM FAILURE \[$e\] seed=[0-9]+" "$name.log" 2>/dev/null |
      sed -E 's/.*seed=//' || true)
  done <"$out/chunks"
  [[ -n "$range_lo" ]] && ranges+=" $range_lo..$range_hi"
  rate=$(awk -v n="$ran" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
  echo "sim_soak: [$e] $ran seeds run (${ranges# }), $failed_chunks failed chunks," \
    "$skipped not started; $rate seeds/s per process" >&2
done
echo "sim_soak: wall time ${wall} s; logs in $out" >&2
if ((status != 0)); then
  echo "sim_soak: FAILED (see above)" >&2
fi
exit "$status"
