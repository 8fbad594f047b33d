#!/usr/bin/env bash
# The demo: installs dependencies, builds cairnd, cairn and cairn-bench, starts a local
# Raft network of three validators in the background and does real work on it with the CLI:
# keys, registration, transfers, a notarised document hash, the explorer on every node, a
# short load run and a full audit. The nodes are left running; the last lines say how to
# stop and audit them.
#
#   ./scripts/demo.sh [--port N]
#
# Debian 12, as root or as a user with sudo (only scripts/deps.sh needs it). Everything it
# writes is under ./build and ./demo. Run it again to start over: it stops the node of the
# previous run and wipes ./demo first.
set -euo pipefail

usage() {
  sed -n '2,11s/^# \{0,1\}//p' "$0"
  echo "Options: --port N   JSON-RPC port (default 8545, or the next free one)"
}

PORT=""
while (($#)); do
  case "$1" in
    --port)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -ge 1 && "$2" -le 65535 ]] || {
        echo "demo: --port needs a port number (1-65535)" >&2
        exit 2
      }
      PORT=$2
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "demo: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO=demo
NET=$DEMO/net
NODES=(v0 v1 v2)
HOME_DIR=$NET/v0
PID_FILE=$DEMO/nodes.pid
LOG=$DEMO/v0.log
MARKER=$DEMO/.cairn-demo
CAIRN=build/cli/cairn
CAIRND=build/node/cairnd
BENCH=build/bench/cairn-bench
ADMIN=$NET/admin_key.json
STEP="starting"
NODE_PID=""

if [[ -t 1 ]]; then
  BOLD=$'\e[1m' DIM=$'\e[2m' RED=$'\e[31m' OFF=$'\e[0m'
else
  BOLD="" DIM="" RED="" OFF=""
fi

step() {
  STEP=$1
  printf '\n%s== %s%s\n' "$BOLD" "$1" "$OFF"
}
note() { printf '%s\n' "$*"; }
# Prints a command line (paths relative to the repository root); run() also runs it.
show() { printf '%s$ %s%s\n' "$DIM" "$*" "$OFF"; }
run() {
  show "$@"
  "$@"
}
# Polls "$@" every 100 ms until it succeeds or `timeout_s` seconds pass.
wait_until() {
  local timeout_s=$1
  shift
  local deadline=$((SECONDS + timeout_s))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

on_error() {
  local rc=$?
  printf '\n%sdemo FAILED during: %s (exit %d)%s\n' "$RED" "$STEP" "$rc" "$OFF" >&2
  if [[ -n $NODE_PID && -f $LOG ]]; then
    echo "last lines of the node log ($LOG):" >&2
    tail -n 15 "$LOG" >&2 || true
  fi
  if [[ -f $PID_FILE ]]; then
    echo "stop the demo's nodes with: kill \$(cat $PID_FILE)" >&2
  fi
  exit "$rc"
}
trap on_error ERR

is_demo_node() {  # pid: is it a cairnd serving a node of ./demo/net?
  local pid=$1
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == cairnd ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$NET/"
}
# Prints the pids of processes that hold the node's LevelDB lock (any cairnd on ./demo/node).
lock_holders() {
  local lock fd n
  for n in "${NODES[@]}"; do
    lock=$(realpath -m "$NET/$n/data/LOCK")
    for fd in /proc/[0-9]*/fd/*; do
      if [[ $(readlink "$fd" 2>/dev/null) == "$lock" ]]; then
        fd=${fd#/proc/}
        echo "${fd%%/*}"
      fi
    done
  done | sort -u
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Gone, or a zombie nobody has reaped yet (it holds no files any more).
not_running() {
  local state
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ -z $state || $state == Z ]]
}

# ---------------------------------------------------------------------------------------------
step "Step 1 of 9: dependencies (scripts/deps.sh: Debian packages, needs root or sudo)"
run ./scripts/deps.sh
note "dependencies ready"

step "Step 2 of 9: build cairnd, cairn and cairn-bench (RelWithDebInfo, Ninja, ./build)"
SECONDS_BEFORE=$SECONDS
# As in scripts/test.sh: ccache keys on relative paths, so the two share one cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
show cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
run cmake --build build -j "$(nproc)" --target cairnd cairn cairn-bench
note "built in $((SECONDS - SECONDS_BEFORE)) s"

# ---------------------------------------------------------------------------------------------
step "Step 3 of 9: clean up the previous demo"
if [[ -e $DEMO && ! -e $MARKER ]]; then
  echo "demo: ./$DEMO exists but was not made by this script; move it away and run again" >&2
  exit 1
fi
if [[ -f $PID_FILE ]]; then
  for old in $(cat "$PID_FILE"); do
    if is_demo_node "$old"; then
      note "stopping a node of the previous demo (pid $old)"
      kill -TERM "$old"
      if ! wait_until 15 not_running "$old"; then
        note "it did not stop within 15 s; killing it"
        kill -KILL "$old" 2>/dev/null || true
        wait_until 5 not_running "$old"
      fi
    fi
  done
fi
if [[ -d $NET ]]; then
  others=$(lock_holders | tr '\n' ' ')
  if [[ -n $others ]]; then
    echo "demo: a node started outside this script is using ./$NET (pid ${others% })." >&2
    echo "      Stop it first (kill ${others% }), then run the demo again." >&2
    exit 1
  fi
fi
if [[ -e $DEMO ]]; then
  note "removing ./$DEMO from the previous run"
  rm -rf "$DEMO"
else
  note "nothing to clean"
fi
mkdir -p "$DEMO"
touch "$MARKER"

# ---------------------------------------------------------------------------------------------
step "Step 4 of 9: start a local Raft network of three validators"
# Three RPC ports from PORT and three p2p ports from PORT + 100 must be free.
ports_free() {
  local i
  for i in 0 1 2; do
    if port_busy $(($1 + i)) || port_busy $(($1 + 100 + i)); then return 1; fi
  done
}
if [[ -n $PORT ]]; then
  if ! ports_free "$PORT"; then
    echo "demo: ports $PORT-$((PORT + 2)) or $((PORT + 100))-$((PORT + 102)) are in use; pick another --port" >&2
    exit 1
  fi
else
  for p in $(seq 8545 3 8599); do
    if ports_free "$p"; then
      PORT=$p
      break
    fi
  done
  [[ -n $PORT ]] || {
    echo "demo: no free ports between 8545 and 8599; pass --port N" >&2
    exit 1
  }
  [[ $PORT == 8545 ]] || note "port 8545 is busy; using $PORT"
fi
run "$CAIRN" testnet --out "$NET" --validators 3 --consensus raft --rpc-port "$PORT" \
  --p2p-port $((PORT + 100)) --block-interval-ms 100
: >"$PID_FILE"
for n in "${NODES[@]}"; do
  show "$CAIRND" --home "./$NET/$n" ">$DEMO/$n.log" "2>&1" "&"
  # setsid: the nodes outlive this script and the terminal's Ctrl-C.
  setsid "$CAIRND" --home "./$NET/$n" </dev/null >"$DEMO/$n.log" 2>&1 &
  echo $! >>"$PID_FILE"
done
NODE_PID=$(head -n1 "$PID_FILE")
rpc_of() { grep -m1 -oE '^rpc: http://[^[:space:]]+' "$DEMO/$1.log" 2>/dev/null | sed 's/^rpc: //'; }
all_up() {
  local n pid i=0
  for pid in $(cat "$PID_FILE"); do
    n=${NODES[$i]}
    i=$((i + 1))
    ! not_running "$pid" || {
      echo "demo: cairnd $n exited before serving; its log ($DEMO/$n.log) follows" >&2
      cat "$DEMO/$n.log" >&2
      exit 1
    }
    [[ -n $(rpc_of "$n") ]] || return 1
  done
}
if ! wait_until 30 all_up; then
  echo "demo: the nodes did not all serve RPC within 30 s" >&2
  false
fi
RPC=$(rpc_of v0)
RPCS=()
for n in "${NODES[@]}"; do RPCS+=(--rpc "$(rpc_of "$n")"); done
export CAIRN_RPC=$RPC
has_leader() { "$CAIRN" --json status 2>/dev/null | grep -qE '"leader": *"[0-9a-f]{64}"'; }
if ! wait_until 30 has_leader; then
  echo "demo: no Raft leader was elected within 30 s" >&2
  false
fi
note "three validators running (pids $(tr '\n' ' ' <"$PID_FILE")), logs ./$DEMO/v*.log"
note "every cairn command below talks to v0 through CAIRN_RPC=$RPC"
run "$CAIRN" status

# ---------------------------------------------------------------------------------------------
step "Step 5 of 9: two member accounts: keys, registration by the admin, funding"
note "the admin key ./$ADMIN is the chain's funded admin account (made by cairn testnet)"
show "$CAIRN" keys new --out "$DEMO/alice.json"
ALICE=$("$CAIRN" keys new --out "$DEMO/alice.json")
note "alice = $ALICE"
show "$CAIRN" keys new --out "$DEMO/bob.json"
BOB=$("$CAIRN" keys new --out "$DEMO/bob.json")
note "bob   = $BOB"
run "$CAIRN" send register --key "$ADMIN" --pubkey "$ALICE" --role member --wait
run "$CAIRN" send register --key "$ADMIN" --pubkey "$BOB" --role member --wait
run "$CAIRN" send transfer --key "$ADMIN" --to "$ALICE" --amount 10000 --wait
run "$CAIRN" send transfer --key "$ADMIN" --to "$BOB" --amount 5000 --wait

step "Step 6 of 9: alice pays bob, then notarises a document's hash"
show "$CAIRN" send transfer --key "$DEMO/alice.json" --to "$BOB" --amount 2500 --wait
out=$("$CAIRN" send transfer --key "$DEMO/alice.json" --to "$BOB" --amount 2500 --wait)
printf '%s\n' "$out"
XFER=$(awk '$1 == "hash" { print $2 }' <<<"$out")
cat >"$DEMO/contract.txt" <<'EOF'
Supply agreement between Alice and Bob: 2500 units, delivered on the Cairn demo chain.
EOF
DOC_HASH=$(sha256sum "$DEMO/contract.txt" | cut -d' ' -f1)
note "sha256 of ./$DEMO/contract.txt = $DOC_HASH"
run "$CAIRN" send put --key "$DEMO/alice.json" --name contract.txt --value "sha256:$DOC_HASH" --wait

# ---------------------------------------------------------------------------------------------
step "Step 7 of 9: explore the chain (the same head on every validator)"
for n in "${NODES[@]}"; do run "$CAIRN" --rpc "$(rpc_of "$n")" status; done
run "$CAIRN" blocks
run "$CAIRN" account "$ALICE"
run "$CAIRN" account "$BOB"
run "$CAIRN" record --address "$ALICE" --name contract.txt
run "$CAIRN" tx "$XFER"

step "Step 8 of 9: a short load: 20 accounts, 2000 transfers (cairn-bench)"
run "$BENCH" "${RPCS[@]}" --key "$ADMIN" --accounts 20 --txs 2000

step "Step 9 of 9: audit the whole chain from genesis: links, roots, signatures, state replay"
run "$CAIRN" --rpc "$(rpc_of v1)" audit --genesis "$NET/genesis.json"

# ---------------------------------------------------------------------------------------------
trap - ERR
cat <<EOF

${BOLD}Demo complete. The three validators are still running.${OFF}
  JSON-RPC   $RPC (v0), $(rpc_of v1) (v1), $(rpc_of v2) (v2); logs ./$DEMO/v*.log
  explore    export CAIRN_RPC=$RPC; $CAIRN status
             curl -s -H 'Content-Type: application/json' \\
               -d '{"jsonrpc":"2.0","id":1,"method":"getStatus"}' $RPC
  fail over  kill -9 the leader's pid (cairn status names the leader); the others elect a new one
  stop all   kill \$(cat $PID_FILE)        (they exit within a second)
  then audit a data directory offline, read-only:
             $CAIRN audit --data-dir $NET/v0/data --genesis $NET/genesis.json
  restart    $CAIRND --home $NET/v0    (likewise v1, v2)
(paths are relative to $ROOT; run ./scripts/demo.sh again to start over)
EOF
