#!/usr/bin/env bash
# Audit speed: builds a chain with cairn-bench (solo, or four BFT validators), stops the nodes,
# then times `cairn audit --data-dir` on validator v0's store and prints tx/s and blocks/s.
#   bench/audit.sh [--consensus solo|bft] [--duration S] [--rate R] [--accounts M]
#                  [--cairn BIN]... [--repeat N] [--threads N] [--chain DIR] [--save-chain DIR]
# Options beyond bench/lib.sh's (--duration defaults to 20 here; --build-dir, --no-build, --keep):
#   --consensus C      solo (default) or bft (four validators; the store holds certificates)
#   --cairn BIN        a cairn binary to time; repeat it to compare binaries on the same chain
#                      (default: the build dir's cli/cairn)
#   --repeat N         audits per binary, interleaved between binaries (default 3)
#   --threads N        cairn audit --threads (default: cairn's own default)
#   --chain DIR        audit DIR (holding genesis.json and data/, as --save-chain leaves it)
#                      instead of building a new chain
#   --save-chain DIR   copy the chain built here to DIR, for later --chain runs
# Prints one line per audit ("cairn=BIN run=I blocks=B txs=T ms=M tx/s=X blocks/s=Y cpu_s=C
# cpu/wall=P": the audit's own elapsed time, and the process's CPU seconds, user and system,
# over it: below the core count when the machine is shared) and, per binary, the best run;
# exit status 1 when an audit fails or the setup does.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SCENARIO=audit

CONSENSUS=solo CAIRNS=() REPEAT=3 THREADS="" CHAIN="" SAVE_CHAIN=""
ARGS=()
while (($#)); do
  case "$1" in
    --consensus) CONSENSUS=$2; shift ;;
    --cairn) CAIRNS+=("$2"); shift ;;
    --repeat) REPEAT=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --chain) CHAIN=$2; shift ;;
    --save-chain) SAVE_CHAIN=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
has_duration=0
for a in "${ARGS[@]}"; do [[ $a != --duration ]] || has_duration=1; done
((has_duration)) || ARGS+=(--duration 20)
parse_args "${ARGS[@]}"
case "$CONSENSUS" in
  solo) VALIDATORS=1 K=1 ;;
  bft) VALIDATORS=4 K=4 ;;
  *) die "--consensus must be solo or bft" ;;
esac

if [[ -z $CHAIN ]]; then
  build
fi
if ((${#CAIRNS[@]} == 0)); then
  CAIRNS=("$BUILD_DIR/cli/cairn")
  if ((!NO_BUILD)); then
    cmake --build "$BUILD_DIR" -j2 --target cairn >"$BUILD_DIR/bench-build.log" 2>&1 ||
      { tail -n 30 "$BUILD_DIR/bench-build.log" >&2; die "building cairn failed"; }
  fi
fi
for c in "${CAIRNS[@]}"; do [[ -x $c ]] || die "no cairn binary at $c"; done

if [[ -z $CHAIN ]]; then
  start_network "$CONSENSUS" "$VALIDATORS"
  [[ $CONSENSUS == solo ]] || wait_leader
  OUT=${OUT:-$WORK/bench.json}
  run_bench "$K" >"$WORK/bench.out" 2>&1 || { tail -n 20 "$WORK/bench.out" >&2; die "cairn-bench failed"; }
  # Stop the validators: LevelDB admits one process, and the audit reads v0's store offline.
  for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  NODE_PIDS=()
  CHAIN=$WORK/chain
  mkdir -p "$CHAIN"
  cp "$WORK/net/genesis.json" "$CHAIN/genesis.json"
  mv "$WORK/net/v0/data" "$CHAIN/data"
  if [[ -n $SAVE_CHAIN ]]; then
    mkdir -p "$SAVE_CHAIN"
    cp -r "$CHAIN/genesis.json" "$CHAIN/data" "$SAVE_CHAIN/"
    log "chain saved in $SAVE_CHAIN"
  fi
fi
[[ -f $CHAIN/genesis.json && -d $CHAIN/data ]] || die "$CHAIN holds no genesis.json and data/"

TIMES=$(mktemp /tmp/cairn-audit-times-XXXXXX)
extra=()
[[ -z $THREADS ]] || extra+=(--threads "$THREADS")
declare -A BEST
for ((run = 1; run <= REPEAT; run++)); do
  for c in "${CAIRNS[@]}"; do
    json=$(/usr/bin/time -f '%U %S' -o "$TIMES" "$c" --json audit --data-dir "$CHAIN/data" \
      --genesis "$CHAIN/genesis.json" "${extra[@]}" </dev/null 2>/dev/null) ||
      die "$c: the audit failed: $json"
    line=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
ms, txs, blocks = max(1, r["elapsed_ms"]), r["transactions"], r["blocks"]
user, sys_ = (float(x) for x in open(sys.argv[2]).read().split()[-2:])
cpu = user + sys_
print(f"blocks={blocks} txs={txs} ms={ms} tx/s={txs * 1000 // ms} blocks/s={blocks * 1000 // ms} "
      f"cpu_s={cpu:.2f} cpu/wall={cpu * 1000 / ms:.2f}")' "$json" "$TIMES")
    echo "cairn=$c run=$run $line"
    ms=${line#*ms=}
    ms=${ms%% *}
    if [[ -z ${BEST[$c]:-} || $ms -lt ${BEST[$c]%%:*} ]]; then BEST[$c]="$ms:$line"; fi
  done
done
for c in "${CAIRNS[@]}"; do echo "best cairn=$c ${BEST[$c]#*:}"; done
rm -f "$TIMES"
