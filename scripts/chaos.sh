#!/usr/bin/env bash
# The chaos soak (docs/CHAOS.md): four real cairnd validators under client load, killed and
# paused by a seeded plan, checked after every round (nothing committed lost, one chain, clean
# audits, liveness); and the in-process power-loss test, whose storage drops every unsynced
# write when the power fails.
#   scripts/chaos.sh --smoke                       a few rounds of each engine (CI, ~2 min)
#   scripts/chaos.sh --rounds N [--seed S] [--consensus raft|bft|both]
#   scripts/chaos.sh --power-loss N [--seed S]     N power-loss networks per engine
# Options: --build-dir DIR (default build), --no-build. Everything runs under nice -n 19.
# Exit 0 when every check held; the seed of a failure is printed (replay with --seed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
ROUNDS=""
SEED=""
CONSENSUS=both
POWER=""
SMOKE=""
NO_BUILD=""
while (($#)); do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --consensus) CONSENSUS=$2; shift ;;
    --power-loss) POWER=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --no-build) NO_BUILD=1 ;;
    *) echo "chaos.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z $SMOKE && -z $ROUNDS && -z $POWER ]]; then
  echo "chaos.sh: give --smoke, --rounds N or --power-loss N" >&2
  exit 2
fi
if [[ -z $NO_BUILD ]]; then
  nice -n 19 cmake --build "$BUILD" -j2 --target cairn-chaos cairnd cairn chaos_power_loss_test
fi
CHAOS="$BUILD/tests/chaos/cairn-chaos"
POWER_TEST="$BUILD/tests/chaos/chaos_power_loss_test"
engines=(raft bft)
[[ $CONSENSUS != both ]] && engines=("$CONSENSUS")
seed_args=()
[[ -n $SEED ]] && seed_args=(--seed "$SEED")
rc=0
if [[ -n $SMOKE ]]; then
  for e in raft bft; do
    nice -n 19 "$CHAOS" --consensus "$e" --rounds 3 "${seed_args[@]}" || rc=1
  done
  env CAIRN_POWER_LOSS_ITERS=2 ${SEED:+CAIRN_POWER_LOSS_SEED=$SEED} nice -n 19 "$POWER_TEST" || rc=1
  exit $rc
fi
if [[ -n $ROUNDS ]]; then
  for e in "${engines[@]}"; do
    nice -n 19 "$CHAOS" --consensus "$e" --rounds "$ROUNDS" "${seed_args[@]}" || rc=1
  done
fi
if [[ -n $POWER ]]; then
  tags=()
  for e in "${engines[@]}"; do tags+=("[powerloss][$e]"); done
  for t in "${tags[@]}"; do
    env CAIRN_POWER_LOSS_ITERS=$POWER ${SEED:+CAIRN_POWER_LOSS_SEED=$SEED} \
      nice -n 19 "$POWER_TEST" "$t" || rc=1
  done
fi
exit $rc
