#!/usr/bin/env bash
# Issue 17's benchmarks on a long chain made by cairn-chaingen (a solo validator v0 holding the
# chain, an observer o0 whose data dir each part empties): docs/design/state-sync.md is what
# they measure. Each part works on its own copy of the chain.
#   bench/state_sync.sh [--accounts N] [--blocks M] [--txs-per-block K] [--seed S]
#                       [--chain DIR] [--save-chain DIR] [--parts P1,P2,...]
#                       [--sync-limit S] [--snapshot-interval I] [--rate R] [--duration S]
#                       [--bench-accounts A] [--retain-blocks B] [--pairs N] [--smoke]
#                       [--blocksync-seconds S]
#                       [--build-dir DIR] [--no-build] [--keep] [--out FILE]
# Parts (default: all four, in this order):
#   blocksync  o0 joins from genesis by block sync; its height polled every second (getStatus)
#              until it reaches v0's head, or --sync-limit seconds (default 1800) have passed:
#              then the rest is extrapolated at the rate of the last minute, and said so.
#   statesync  v0 with snapshot.interval = I and empty blocks until its first snapshot is
#              written, then restarted idle; o0 joins with state_sync.enable and the trust
#              height and hash of v0's head (getBlock); timed until o0 holds v0's head.
#   latency    v0 under cairn-bench --rate R for --duration S, with snapshot.interval 0, then
#              with snapshot.interval I (snapshots taken during the window), --pairs times
#              alternated on one copy of the chain; commit latency p50/p99 of each run.
#   pruning    two copies of the chain under the same load: storage.retain_blocks = B and 0
#              (the key left out); du of each data dir before and after.
# Options:
#   --accounts N, --blocks M, --txs-per-block K, --seed S
#                        the chain (default 1,000,000 / 100,000 / 10 / 1; --smoke 1000 / 200)
#   --chain DIR          use a chain cairn-chaingen made before (DIR holds genesis.json, v0/,
#                        o0/); it is copied, never changed
#   --save-chain DIR     keep the generated chain in DIR for later --chain runs
#   --snapshot-interval  snapshot.interval of the snapshot runs (default 100)
#   --rate R, --duration S
#                        the fixed offered load of latency and pruning (default 2000 tx/s, 60 s;
#                        --smoke 200 tx/s, 5 s), from --bench-accounts (default 1000) of the
#                        chain's accounts (cairn-bench --prefunded --seed S: chaingen registered
#                        them)
#   --retain-blocks B    storage.retain_blocks of the pruned copy (default 1000)
#   --blocksync-seconds S  the block sync time that statesync's speedup divides, when the
#                        blocksync part does not run in the same invocation
#   --out FILE           the JSON summary (default bench/results/state_sync-DATE.json)
# A part whose config key this cairnd refuses (issue 17 not built in) is reported "skipped"
# and the others still run. Prints one "result ..." line per measurement; exit status 1 when
# a part that could run failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SCENARIO=state_sync

CHAIN_ACCOUNTS="" BLOCKS="" TXS_PER_BLOCK=10 SEED=1 CHAIN="" SAVE_CHAIN="" PARTS=blocksync,statesync,latency,pruning
SYNC_LIMIT="" BLOCKSYNC_TOTAL="" SNAP_INTERVAL=100 BENCH_ACCOUNTS=1000 RETAIN=1000 PAIRS=1
ARGS=()
while (($#)); do
  case "$1" in
    --accounts) CHAIN_ACCOUNTS=$2; shift ;;
    --blocks) BLOCKS=$2; shift ;;
    --txs-per-block) TXS_PER_BLOCK=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --chain) CHAIN=$2; shift ;;
    --save-chain) SAVE_CHAIN=$2; shift ;;
    --parts) PARTS=$2; shift ;;
    --sync-limit) SYNC_LIMIT=$2; shift ;;
    --snapshot-interval) SNAP_INTERVAL=$2; shift ;;
    --bench-accounts) BENCH_ACCOUNTS=$2; shift ;;
    --blocksync-seconds) BLOCKSYNC_TOTAL=$2; shift ;;
    --retain-blocks) RETAIN=$2; shift ;;
    --pairs) PAIRS=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
# lib.sh's options (--rate, --duration, --smoke, --build-dir, --no-build, --keep, --out).
parse_args "${ARGS[@]}"
if ((SMOKE)); then
  CHAIN_ACCOUNTS=${CHAIN_ACCOUNTS:-1000} BLOCKS=${BLOCKS:-200}
  [[ $RATE != 0 ]] || RATE=200
  BENCH_ACCOUNTS=50 SYNC_LIMIT=${SYNC_LIMIT:-120}
else
  CHAIN_ACCOUNTS=${CHAIN_ACCOUNTS:-1000000} BLOCKS=${BLOCKS:-100000} SYNC_LIMIT=${SYNC_LIMIT:-1800}
  [[ $RATE != 0 ]] || RATE=2000
fi

CAIRN=${CAIRN:-$BUILD_DIR/cli/cairn}
CAIRN_CHAINGEN=${CAIRN_CHAINGEN:-$BUILD_DIR/bench/cairn-chaingen}
if ((NO_BUILD)); then
  build
  [[ -x $CAIRN && -x $CAIRN_CHAINGEN ]] || die "no cairn or cairn-chaingen in $BUILD_DIR"
else
  export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=true
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCAIRN_BUILD_BENCH=ON >/dev/null
  log "building cairnd, cairn, cairn-bench and cairn-chaingen in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j2 --target cairnd cairn cairn-bench cairn-chaingen \
    >"$BUILD_DIR/bench-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR/bench-build.log" >&2; die "build failed (log: $BUILD_DIR/bench-build.log)"; }
  NO_BUILD=1
  build
fi

WORK=$(mktemp -d /tmp/cairn-bench-state-sync-XXXXXX)
trap teardown EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
FAILED=0

# result PART KEY=VALUE...: one line for the reader, one JSON object for the summary.
result() {
  local part=$1
  shift
  echo "result $part $*"
  python3 - "$part" "$@" >>"$RESULTS" <<'PY'
import json, sys
r = {"part": sys.argv[1]}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        r[k] = json.loads(v)
    except ValueError:
        r[k] = v
print(json.dumps(r))
PY
}

rpc() { # rpc URL METHOD [PARAMS_JSON]: the result, as JSON
  curl -s -m 10 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1" |
    python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["result"]))'
}
height_of() { rpc "$1" getStatus 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo -1; }
dir_bytes() { du -sb "$1" | cut -f1; }
# cpu_s_of PID: the process's user + system CPU seconds so far (what a join cost, whatever
# share of the machine it got).
cpu_s_of() {
  python3 -c '
import sys
f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print(f"{(int(f[11]) + int(f[12])) / int(sys.argv[2]):.1f}")' "$1" "$(getconf CLK_TCK)" 2>/dev/null || echo -1
}
mib() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }

# ---- the chain ----
if [[ -z $CHAIN ]]; then
  CHAIN=$WORK/chain
  log "cairn-chaingen: $CHAIN_ACCOUNTS accounts, $BLOCKS blocks, $TXS_PER_BLOCK transfers a block (nice 19)"
  t0=$(date +%s.%N)
  nice -n 19 "$CAIRN_CHAINGEN" --out "$CHAIN" --accounts "$CHAIN_ACCOUNTS" --blocks "$BLOCKS" \
    --txs-per-block "$TXS_PER_BLOCK" --seed "$SEED" >"$WORK/chaingen.log" 2>&1 ||
    { tail -n 20 "$WORK/chaingen.log" >&2; die "cairn-chaingen failed"; }
  gen_s=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
  result chaingen accounts="$CHAIN_ACCOUNTS" blocks="$BLOCKS" txs_per_block="$TXS_PER_BLOCK" \
    seconds="$gen_s" data_dir_mib="$(mib "$(dir_bytes "$CHAIN/v0/data")")"
  if [[ -n $SAVE_CHAIN ]]; then
    mkdir -p "$SAVE_CHAIN"
    cp -a "$CHAIN/." "$SAVE_CHAIN/"
    log "chain saved in $SAVE_CHAIN"
  fi
fi
[[ -f $CHAIN/genesis.json && -d $CHAIN/v0/data && -d $CHAIN/o0 ]] ||
  die "$CHAIN is not a cairn-chaingen network (genesis.json, v0/data, o0/)"

# net_copy NAME: a fresh copy of the chain in $WORK/NAME, on new free ports; sets NET.
NET="" BASE=0
net_copy() {
  NET=$WORK/$1
  rm -rf "$NET"
  cp -a --reflink=auto "$CHAIN" "$NET"
  rm -rf "$NET"/o*/data
  BASE=$(pick_ports 2)
  python3 - "$NET" "$BASE" <<'PY' || die "cannot set the ports of $NET"
import json, os, sys
net, base = sys.argv[1], int(sys.argv[2])
names = ["v0", "o0"]
v0_key = None
with open(os.path.join(net, "genesis.json")) as f:
    g = json.load(f)
v0_key = g["validators"][0]["public_key"]
for i, name in enumerate(names):
    path = os.path.join(net, name, "config.json")
    with open(path) as f:
        c = json.load(f)
    c["rpc"]["listen"] = f"127.0.0.1:{base + i}"
    c["p2p"]["listen"] = f"127.0.0.1:{base + 100 + i}"
    c["p2p"]["peers"] = [] if name == "v0" else [{"address": f"127.0.0.1:{base + 100}", "node_id": v0_key}]
    with open(path, "w") as f:
        json.dump(c, f, indent=2)
PY
}
url_of() { echo "http://127.0.0.1:$((BASE + $1))"; }

# start_node NAME [cairnd args]: starts cairnd on $NET/NAME, waits for its RPC; sets PID.
# Returns 2 (and prints why) when cairnd refuses its config (an issue 17 key it lacks).
PID=0
start_node() {
  local name=$1
  shift
  # Each start has a fresh log (the older ones kept as NAME.log.1, .2, ...).
  local n=1
  while [[ -e $NET/$name.log.$n ]]; do n=$((n + 1)); done
  [[ ! -e $NET/$name.log ]] || mv "$NET/$name.log" "$NET/$name.log.$n"
  "$CAIRND" --home "$NET/$name" "$@" </dev/null >"$NET/$name.log" 2>&1 &
  PID=$!
  NODE_PIDS+=("$PID")
  local deadline=$((SECONDS + 600))
  # The store's open rebuilds the state tree of every account: minutes at 1M accounts.
  until grep -q '^rpc: http' "$NET/$name.log" 2>/dev/null; do
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID" 2>/dev/null || true
      if grep -qE 'unknown key|The following argument' "$NET/$name.log"; then
        log "cairnd $name refused its config: $(grep -m1 -E 'unknown key|argument' "$NET/$name.log")"
        return 2
      fi
      tail -n 20 "$NET/$name.log" >&2
      die "cairnd $name exited before serving RPC"
    fi
    ((SECONDS < deadline)) || die "cairnd $name did not serve RPC within 600 s"
    sleep 0.2
  done
}
stop_node() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=()
  for p in "${NODE_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  NODE_PIDS=("${keep[@]}")
}

# follow URL TARGET LIMIT_S NAME T0: polls URL's height every 0.2 s until it reaches TARGET or
# LIMIT_S seconds pass since T0 (epoch seconds: when its cairnd was started); progress every
# 30 s on stderr. Sets FOLLOW_S (seconds since T0), FOLLOW_H (the height reached) and
# FOLLOW_RECENT (blocks/s over the last 60 s).
follow() {
  local out
  out=$(python3 - "$@" <<'PY'
import json, sys, time, urllib.request
url, target, limit, name, t0 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getStatus"}).encode()
h, last_print, hist = -1, time.time(), []
while True:
    try:
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        h = json.load(urllib.request.urlopen(req, timeout=5))["result"]["height"]
    except Exception:
        pass
    now = time.time()
    hist.append((now, h))
    if h >= target or now - t0 >= limit:
        break
    if now - last_print >= 30:
        print(f"[state_sync] {name}: height {h}/{target} after {now - t0:.0f} s", file=sys.stderr)
        last_print = now
    time.sleep(0.2)
# The rate over the last minute: what an extrapolation of the rest should use (the first
# blocks, of thousands of registrations, are slower than the transfer blocks after them).
old = next(((t, x) for t, x in hist if now - t <= 60 and x >= 0), (now, h))
recent = (h - old[1]) / (now - old[0]) if now > old[0] else 0.0
print(f"{now - t0:.1f} {h} {recent:.1f}")
PY
  )
  read -r FOLLOW_S FOLLOW_H FOLLOW_RECENT <<<"$out"
}

# ---- (2) block sync from genesis ----
part_blocksync() {
  net_copy blocksync
  start_node v0 || return 1
  local v0=$PID head
  head=$(height_of "$(url_of 0)")
  log "blocksync: v0 serves height $head; starting o0 with an empty data dir"
  local t0
  t0=$(date +%s.%N)
  start_node o0 || return 1
  local o0=$PID
  follow "$(url_of 1)" "$head" "$SYNC_LIMIT" blocksync "$t0"
  local rate total extrapolated=false
  rate=$(python3 -c "print(f'{$FOLLOW_H / max($FOLLOW_S, 0.001):.1f}')")
  total=$FOLLOW_S
  if ((FOLLOW_H < head)); then
    # The rest at the rate of the last minute.
    extrapolated=true
    total=$(python3 -c "print(f'{$FOLLOW_S + ($head - $FOLLOW_H) / max($FOLLOW_RECENT, 0.001):.0f}')")
  fi
  result blocksync head="$head" reached="$FOLLOW_H" seconds="$FOLLOW_S" blocks_per_s="$rate" \
    recent_blocks_per_s="$FOLLOW_RECENT" o0_cpu_s="$(cpu_s_of "$o0")" \
    load_avg="$(cut -d' ' -f1 /proc/loadavg)" \
    total_s="$total" extrapolated="$extrapolated" \
    o0_data_mib="$(mib "$(dir_bytes "$NET/o0/data")")"
  BLOCKSYNC_TOTAL=$total
  stop_node "$o0"
  stop_node "$v0"
  # A smoke run's chain is small: the observer must have reached the head.
  ((!SMOKE || FOLLOW_H >= head))
}

# ---- (3a) state sync ----
part_statesync() {
  net_copy statesync
  set_config "$NET/v0/config.json" snapshot.interval="$SNAP_INTERVAL" consensus.empty_blocks=true \
    consensus.block_interval_ms=100
  local rc=0
  start_node v0 || rc=$?
  if ((rc == 2)); then result statesync skipped="cairnd refuses snapshot.interval"; return 0; fi
  ((rc == 0)) || return 1
  local v0=$PID snapdir="$NET/v0/data/snapshots" deadline=$((SECONDS + 1200)) t0=$SECONDS
  log "statesync: v0 makes empty blocks until a snapshot is written in $snapdir"
  # A finished snapshot is a directory named by its height alone (one being written is not).
  local snap_h=""
  until [[ -n $snap_h ]]; do
    ((SECONDS < deadline)) || { log "no snapshot within 1200 s"; stop_node "$v0"; return 1; }
    sleep 1
    snap_h=$(ls "$snapdir" 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1 || true)
  done
  local snap_s=$((SECONDS - t0)) snap_line
  stop_node "$v0"
  snap_line=$(grep -h "snapshot at height $snap_h:" "$NET/v0.log" | tail -1 | sed 's/.*\] //' | tr ' ' '_' || true)
  # Idle from here: the observer syncs against a head that stays put.
  set_config "$NET/v0/config.json" consensus.empty_blocks=false
  start_node v0 || return 1
  v0=$PID
  local head hash
  head=$(height_of "$(url_of 0)")
  hash=$(rpc "$(url_of 0)" getBlock "[$head]" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
  set_config "$NET/o0/config.json" state_sync.enable=true state_sync.trust_height="$head" \
    "state_sync.trust_hash=\"$hash\""
  log "statesync: snapshot at $snap_h ($snap_s s after start), head $head $hash; starting o0"
  rc=0
  local started
  started=$(date +%s.%N)
  start_node o0 || rc=$?
  if ((rc == 2)); then
    stop_node "$v0"
    result statesync skipped="cairnd refuses state_sync.*"
    return 0
  fi
  ((rc == 0)) || return 1
  local o0=$PID
  follow "$(url_of 1)" "$head" "$SYNC_LIMIT" statesync "$started"
  local progress restored_s
  progress=$(grep -h 'state sync:' "$NET/o0.log" | tail -1 | tr ' ' '_' || true)
  # From o0's first log line to its "state sync: state at height H restored" line: the
  # snapshot part of the join, without the block sync to the head after it.
  restored_s=$(python3 - "$NET/o0.log" <<'PY'
import datetime, sys
def ts(line):
    try:
        return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return None
lines = [l for l in open(sys.argv[1]) if ts(l)]
done = [l for l in lines if "state sync: state at height" in l]
print(f"{(ts(done[0]) - ts(lines[0])).total_seconds():.1f}" if lines and done else -1)
PY
  )
  # The snapshot o0 chose (v0 may have finished a newer one than the first before its restart).
  local used
  used=$(grep -ohE 'state sync: snapshot at height [0-9]+' "$NET/o0.log" | tail -1 | grep -oE '[0-9]+$' || true)
  result statesync first_snapshot="$snap_h" snapshot_height="${used:-none}" head="$head" reached="$FOLLOW_H" seconds="$FOLLOW_S" \
    restored_s="$restored_s" o0_cpu_s="$(cpu_s_of "$o0")" load_avg="$(cut -d' ' -f1 /proc/loadavg)" \
    joined="$([[ $FOLLOW_H -ge $head ]] && echo true || echo false)" \
    speedup_vs_blocksync="$(python3 -c "print(f'{${BLOCKSYNC_TOTAL:-0} / max($FOLLOW_S, 0.001):.1f}')")" \
    snapshot_mib="$(mib "$(dir_bytes "$snapdir/$snap_h")")" snapshot_log="${snap_line:-none}" \
    last_progress="${progress:-none}"
  stop_node "$o0"
  stop_node "$v0"
  [[ $FOLLOW_H -ge $head ]]
}

# run_load NAME: cairn-bench at the fixed rate against v0 ($PID); the report in $WORK/NAME.json.
run_load() {
  local name=$1
  "$CAIRN_BENCH" --rpc "$(url_of 0)" --prefunded --seed "$SEED" --accounts "$BENCH_ACCOUNTS" \
    --rate "$RATE" --duration "$DURATION" --scenario "state_sync-$name" --verifications-per-tx 1 \
    --pid "v0=$PID" --json "$WORK/$name.json" "${EXTRA[@]}" >"$WORK/$name.out" 2>&1 ||
    { tail -n 20 "$WORK/$name.out" >&2; log "cairn-bench $name failed"; return 1; }
}
# commit_ms_of LOG: "p50 p99 max blocks" of the validator's own commits (BlockAcceptor's
# "committed block ... commit_ms=" lines: execution, the synced write and the mempool update),
# the latency the snapshot thread could slow down without the network in the way.
commit_ms_of() {
  python3 - "$1" <<'PY'
import re, sys
ms = sorted(int(m.group(1)) for line in open(sys.argv[1])
            if "(from peer)" not in line and (m := re.search(r"committed block .* commit_ms=(\d+)", line)))
pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))] if ms else -1
print(pick(0.5), pick(0.99), ms[-1] if ms else -1, len(ms))
PY
}
latency_of() { # FILE: "p50 p99 tps"
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["latency_ms"]["p50"], r["latency_ms"]["p99"], round(r["tps"]["steady"], 1))' "$1"
}

# ---- (3b) commit latency with and without a snapshot being taken ----
part_latency() {
  net_copy latency
  local i mode rc snaps_before snaps_after p50 p99 tps c50 c99 cmax cblocks
  for ((i = 1; i <= PAIRS; i++)); do
    for mode in off on; do
      if [[ $mode == on ]]; then
        set_config "$NET/v0/config.json" snapshot.interval="$SNAP_INTERVAL"
      else
        python3 - "$NET/v0/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c.pop("snapshot", None); json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
      fi
      rc=0
      start_node v0 || rc=$?
      if ((rc == 2)); then result latency run="$i" snapshots="$mode" skipped="cairnd refuses snapshot.interval"; continue; fi
      ((rc == 0)) || return 1
      snaps_before=$(grep -c 'snapshot' "$NET/v0.log" || true)
      run_load "latency-$mode-$i" || { stop_node "$PID"; return 1; }
      snaps_after=$(grep -c 'snapshot' "$NET/v0.log" || true)
      read -r p50 p99 tps < <(latency_of "$WORK/latency-$mode-$i.json")
      read -r c50 c99 cmax cblocks < <(commit_ms_of "$NET/v0.log")
      result latency run="$i" snapshots="$mode" rate="$RATE" steady_tps="$tps" p50_ms="$p50" \
        p99_ms="$p99" commit_ms_p50="$c50" commit_ms_p99="$c99" commit_ms_max="$cmax" \
        blocks="$cblocks" snapshot_log_lines="$((snaps_after - snaps_before))" \
        load_avg="$(cut -d' ' -f1 /proc/loadavg)"
      stop_node "$PID"
    done
  done
}

# ---- (3c) disk use with pruning and without ----
part_pruning() {
  local retain rc before after name
  for retain in "$RETAIN" 0; do
    name=pruning-$retain
    net_copy "$name"
    before=$(dir_bytes "$NET/v0/data")
    ((retain == 0)) || set_config "$NET/v0/config.json" storage.retain_blocks="$retain"
    rc=0
    start_node v0 || rc=$?
    if ((rc == 2)); then result pruning retain_blocks="$retain" skipped="cairnd refuses storage.retain_blocks"; continue; fi
    ((rc == 0)) || return 1
    run_load "$name" || { stop_node "$PID"; return 1; }
    stop_node "$PID"
    after=$(dir_bytes "$NET/v0/data")
    result pruning retain_blocks="$retain" before_mib="$(mib "$before")" after_mib="$(mib "$after")" \
      rate="$RATE" duration_s="$DURATION"
    rm -rf "$NET"
  done
}

IFS=, read -r -a parts <<<"$PARTS"
for part in "${parts[@]}"; do
  case "$part" in
    blocksync | statesync | latency | pruning) ;;
    *) die "unknown part '$part' (blocksync, statesync, latency, pruning)" ;;
  esac
  log "part $part"
  if "part_$part"; then
    ((KEEP)) || rm -rf "${WORK:?}/$part"
  else
    FAILED=1 KEEP=1
    log "part $part FAILED (logs kept in $WORK)"
  fi
done

if [[ -z $OUT ]]; then
  mkdir -p "$BENCH_DIR/results"
  OUT="$BENCH_DIR/results/state_sync-$(date -u +%Y%m%d-%H%M%S)$( ((SMOKE)) && echo -smoke).json"
fi
python3 - "$RESULTS" "$OUT" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"schema": "cairn-state-sync-bench/1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "commit": sys.argv[3], "results": rows}, open(sys.argv[2], "w"), indent=2)
PY
log "summary: $OUT"
exit $FAILED
