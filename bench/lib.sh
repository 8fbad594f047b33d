# Shared by the scenario scripts (solo.sh, raft3.sh, raft4.sh, bft4.sh, wan.sh): option
# parsing, building, a fresh testnet in a temp dir, starting and stopping cairnd, running
# cairn-bench. Source it, then call `scenario_main NAME CONSENSUS VALIDATORS "$@"`.
#
# Options of every scenario script:
#   --smoke              3 s at 1,000 tx/s from 50 accounts (what CI runs)
#   --rate R             offered tx/s (default 0: as fast as the network accepts)
#   --duration S         submission bound in seconds (default 60; smoke 3)
#   --accounts M         sending accounts, put in the genesis (default 1000; smoke 50)
#   --block-interval-ms  consensus.block_interval_ms of every node (default 100)
#   --build-dir DIR      where cairnd/cairn-bench are built (default $CAIRN_BUILD_DIR or ./build)
#   --no-build           use the binaries already in the build dir
#   --out FILE           the JSON report (default bench/results/NAME-DATE[-smoke].json)
#   --keep               keep the temp dir (data, logs) after the run
#   --sweep F1,F2,...    goodput sweep instead of one run: one step of --duration seconds at
#                        each factor of --capacity, drained in between (bench/sweep.sh)
#   --capacity TPS       what the --sweep factors multiply
#   --set KEY=VALUE      set a key of every node's config.json (docs/CONFIG.md), e.g.
#                        --set mempool.admission_nice=0; repeatable (for A/B runs)
#   -- ARGS              passed to cairn-bench as they are
# Exit status: cairn-bench's (0 ok, 2 lost transactions, 3 nothing committed), 1 on a setup
# failure, 77 when the scenario cannot run here (e.g. bft not in this cairnd).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
SKIP=77

log() { printf '[%s] %s\n' "$SCENARIO" "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

parse_args() {
  SMOKE=0 RATE=0 DURATION="" ACCOUNTS="" BLOCK_INTERVAL=100 NO_BUILD=0 KEEP=0 OUT=""
  SWEEP="" CAPACITY=0 SETS=()
  BUILD_DIR=${CAIRN_BUILD_DIR:-$REPO/build}
  EXTRA=()
  while (($#)); do
    case "$1" in
      --smoke) SMOKE=1 ;;
      --rate) RATE=$2; shift ;;
      --duration) DURATION=$2; shift ;;
      --accounts) ACCOUNTS=$2; shift ;;
      --block-interval-ms) BLOCK_INTERVAL=$2; shift ;;
      --build-dir) BUILD_DIR=$2; shift ;;
      --no-build) NO_BUILD=1 ;;
      --out) OUT=$2; shift ;;
      --keep) KEEP=1 ;;
      --sweep) SWEEP=$2; shift ;;
      --capacity) CAPACITY=$2; shift ;;
      --set) [[ $2 == *=* ]] || die "--set wants KEY=VALUE, got '$2'"; SETS+=("$2"); shift ;;
      --) shift; EXTRA=("$@"); break ;;
      -h | --help)
        sed -n '/^# Options/,/^# failure/p' "$BENCH_DIR/lib.sh" | sed 's/^# \{0,1\}//'
        exit 0 ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  if ((SMOKE)); then
    # A few seconds at a modest fixed rate: exercises the time bound, the follower and drain.
    DURATION=${DURATION:-3} ACCOUNTS=${ACCOUNTS:-50}
    [[ $RATE != 0 ]] || RATE=1000
  else
    DURATION=${DURATION:-60} ACCOUNTS=${ACCOUNTS:-1000}
  fi
}

build() {
  CAIRND=${CAIRND:-$BUILD_DIR/node/cairnd}
  CAIRN_BENCH=${CAIRN_BENCH:-$BUILD_DIR/bench/cairn-bench}
  if ((NO_BUILD)); then
    [[ -x $CAIRND && -x $CAIRN_BENCH ]] || die "no binaries in $BUILD_DIR (drop --no-build)"
    return
  fi
  export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=true
  if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  log "building cairnd and cairn-bench in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j2 --target cairnd cairn-bench >"$BUILD_DIR/bench-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR/bench-build.log" >&2; die "build failed (log: $BUILD_DIR/bench-build.log)"; }
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A base port with BASE..BASE+n-1 (RPC) and BASE+100.. (p2p) free.
pick_ports() {
  local n=$1 base i ok
  for _ in $(seq 1 50); do
    # Below the kernel's ephemeral range (32768+), where outbound connections take ports.
    base=$((10000 + (RANDOM % 200) * 100))
    ok=1
    for ((i = 0; i < n; i++)); do
      if port_busy $((base + i)) || port_busy $((base + 100 + i)); then ok=0; fi
    done
    if ((ok)); then
      echo "$base"
      return
    fi
  done
  die "no free ports found"
}

NODE_PIDS=()
NODE_NAMES=()
WORK=""
teardown() {
  local rc=$?
  local pid deadline
  for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 15))
  for pid in "${NODE_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  network_teardown
  if [[ -n $WORK && -d $WORK ]]; then
    if ((KEEP)) || { ((rc != 0)) && ((rc != SKIP)); }; then
      log "kept $WORK (node logs: $WORK/*.log)"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

# Hooks for wan.sh (defaults: everything on 127.0.0.1 in this network namespace).
NODE_HOST=127.0.0.1
node_prefix() { :; }                # command prefix of node i, e.g. "ip netns exec NS"
node_host() { echo "$NODE_HOST"; }  # address node i listens on
before_network() { :; }             # set up hosts (after WORK exists and the trap is set)
after_testnet() { :; }              # after_testnet BASE_PORT N: adjust $WORK/net
network_teardown() { :; }

# set_config FILE KEY=VALUE...: a dotted key ("mempool.admission_nice") of a node's
# config.json; the value is read as JSON (a number, true, a quoted string), else a string.
set_config() {
  local file=$1
  shift
  python3 - "$file" "$@" <<'PY' || die "cannot set $* in $file"
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
for kv in sys.argv[2:]:
    key, raw = kv.split("=", 1)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    *parents, leaf = key.split(".")
    node = cfg
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
PY
}

start_network() {
  local consensus=$1 n=$2 base i
  WORK=$(mktemp -d "/tmp/cairn-bench-$SCENARIO-XXXXXX")
  trap teardown EXIT
  trap 'exit 130' INT TERM
  before_network
  base=$(pick_ports "$n")
  "$CAIRND" testnet --out "$WORK/net" --validators "$n" --consensus "$consensus" \
    --host "$NODE_HOST" --rpc-host "$NODE_HOST" --rpc-port "$base" --p2p-port $((base + 100)) \
    --block-interval-ms "$BLOCK_INTERVAL" >"$WORK/testnet.log" 2>&1 ||
    { cat "$WORK/testnet.log" >&2; die "cairnd testnet failed"; }
  after_testnet "$base" "$n"
  if ((${#SETS[@]})); then
    for ((i = 0; i < n; i++)); do set_config "$WORK/net/v$i/config.json" "${SETS[@]}"; done
  fi
  "$CAIRN_BENCH" genesis --genesis "$WORK/net/genesis.json" --accounts "$ACCOUNTS" >/dev/null ||
    die "adding bench accounts to the genesis failed"
  RPCS=()
  for ((i = 0; i < n; i++)); do
    NODE_NAMES+=("v$i")
    # shellcheck disable=SC2046
    $(node_prefix "$i") "$CAIRND" --home "$WORK/net/v$i" </dev/null >"$WORK/v$i.log" 2>&1 &
    NODE_PIDS+=($!)
    RPCS+=(--rpc "http://$(node_host "$i"):$((base + i))")
  done
  log "$n cairnd ($consensus) started: pids ${NODE_PIDS[*]}, data in $WORK"
  wait_serving
}

wait_serving() {
  local i deadline=$((SECONDS + 30))
  for i in "${!NODE_PIDS[@]}"; do
    until grep -q '^rpc: http' "$WORK/v$i.log" 2>/dev/null; do
      if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
        if grep -q 'is not available' "$WORK/v$i.log"; then
          log "SKIPPED: $(grep -m1 'is not available' "$WORK/v$i.log")"
          exit $SKIP
        fi
        tail -n 20 "$WORK/v$i.log" >&2
        die "cairnd v$i exited before serving RPC"
      fi
      ((SECONDS < deadline)) || die "cairnd v$i did not serve RPC within 30 s"
      sleep 0.1
    done
  done
}

# Waits until the first node names a leader (Raft/BFT); solo has one from the start.
wait_leader() {
  local url=${RPCS[1]} deadline=$((SECONDS + 30))
  until curl -s -m 2 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"getStatus"}' "$url" | grep -qE '"leader": *"[0-9a-f]{64}"'; do
    ((SECONDS < deadline)) || die "no leader within 30 s"
    sleep 0.1
  done
}

run_bench() {
  local k=$1 i stamp
  local args=(--prefunded --accounts "$ACCOUNTS" --scenario "$SCENARIO" --verifications-per-tx "$k"
    --duration "$DURATION")
  if [[ -n $SWEEP ]]; then
    args+=(--sweep "$SWEEP" --capacity "$CAPACITY")
  else
    args+=(--rate "$RATE")
  fi
  for i in "${!NODE_PIDS[@]}"; do args+=(--pid "${NODE_NAMES[$i]}=${NODE_PIDS[$i]}"); done
  if ((SMOKE)); then
    args+=(--drain-timeout 30 --verify-seconds 0.3)
  fi
  stamp=$(date -u +%Y%m%d-%H%M%S)
  if [[ -z $OUT ]]; then
    mkdir -p "$BENCH_DIR/results"
    local suffix=""
    ((SMOKE)) && suffix=-smoke
    if [[ -n $SWEEP ]]; then
      suffix+="-sweep"
    elif [[ $RATE != 0 ]]; then
      suffix+="-rate$RATE"
    fi
    OUT="$BENCH_DIR/results/$SCENARIO-$stamp$suffix.json"
  fi
  log "cairn-bench ${args[*]} ${EXTRA[*]}"
  local rc=0
  "$CAIRN_BENCH" "${RPCS[@]}" "${args[@]}" --json "$OUT" "${EXTRA[@]}" || rc=$?
  [[ -f $OUT ]] && log "report: $OUT"
  log_wire_bytes
  return $rc
}

# log_wire_bytes: what the nodes sent each other (getPeers bytes_out, summed over every node
# and peer: gossip, consensus, block sync), per transaction on the chain, and the last
# compact-block counters each node logged (docs/CONSENSUS.md, "Compact blocks").
log_wire_bytes() {
  local rpcs=() i
  for ((i = 1; i < ${#RPCS[@]}; i += 2)); do rpcs+=("${RPCS[$i]}"); done
  python3 - "$OUT" "${rpcs[@]}" <<'PY' || true
import json, sys, urllib.request
def call(url, method):
    req = urllib.request.Request(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=5))["result"]
out = sum(p.get("bytes_out", 0) for u in sys.argv[2:] for p in call(u, "getPeers"))
txs = 0
try:
    def find(j):
        if isinstance(j, dict):
            if isinstance(j.get("committed"), int): return j["committed"]
            for v in j.values():
                r = find(v)
                if r: return r
        return 0
    txs = find(json.load(open(sys.argv[1])))
except (OSError, ValueError):
    pass
per = f" ({out / txs:.0f} per committed tx of {txs})" if txs else ""
print(f"[bench] p2p bytes out, all nodes: {out}{per}", file=sys.stderr)
PY
  for ((i = 0; i < ${#NODE_PIDS[@]}; i++)); do
    grep -h "compact blocks:" "$WORK/v$i.log" 2>/dev/null | tail -1 | sed "s/^/[bench] v$i: /" >&2 || true
  done
}

# scenario_main NAME CONSENSUS VALIDATORS [args]: the whole run. K, the Ed25519
# verifications of each transaction across the network: under BFT every validator verifies
# each transaction once (node/sig_cache.h: admission, proposals and blocks share it), so
# K = n; under Raft (crash faults, trusted validators) only the validator that admits it
# from a client does, so K = 1, as for solo.
scenario_main() {
  SCENARIO=$1
  local consensus=$2 n=$3
  shift 3
  parse_args "$@"
  build
  start_network "$consensus" "$n"
  [[ $consensus == solo ]] || wait_leader
  local rc=0 k=1
  [[ $consensus != bft ]] || k=$n
  run_bench "$k" || rc=$?
  exit $rc
}
