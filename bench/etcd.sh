#!/usr/bin/env bash
# etcd side by side: installs etcd from Debian's packages (etcd-server, and
# golang-etcd-server-dev + golang-go to build the client), builds bench/etcd/etcd_put_bench.go
# offline against Debian's Go sources, starts a 3-member etcd cluster on loopback with its
# data in /tmp (the same disk as the Cairn scenarios' data), and measures committed puts/s of
# 200-byte values at each client concurrency. Prints a table and saves JSON in bench/results/.
#
#   bench/etcd.sh [--clients "1 16 256"] [--duration S] [--smoke] [--build-dir DIR] [--out FILE]
#
# --clients: concurrencies to measure (default "1 16 256": 16 is the number of
# sendTransactions calls cairn-bench keeps in flight against 4 nodes at full rate, 12 on 3).
# Needs root or sudo for apt-get the first time. No network access beyond Debian's mirror.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$BENCH_DIR")
CLIENTS="1 12 16 256"
DURATION=15
SMOKE=0
BUILD_DIR=${CAIRN_BUILD_DIR:-$REPO/build}
OUT=""
while (($#)); do
  case "$1" in
    --clients) CLIENTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --smoke) SMOKE=1 ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "etcd.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
((SMOKE)) && DURATION=2
log() { printf '[etcd] %s\n' "$*" >&2; }

# 1. Packages.
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v go >/dev/null || need+=(golang-go)
[[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]] || need+=(golang-etcd-server-dev)
if ((${#need[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  log "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
ETCD_VERSION=$(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}')

# 2. The client, built offline in GOPATH mode from Debian's packaged sources (the Go module
# proxy is not reachable; etcd's tools/benchmark is not packaged).
TOOL=$BUILD_DIR/bench/etcd-put-bench
mkdir -p "$BUILD_DIR/bench"
if [[ ! -x $TOOL || $BENCH_DIR/etcd/etcd_put_bench.go -nt $TOOL ]]; then
  log "building $TOOL"
  (cd "$BENCH_DIR/etcd" && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off \
    GOCACHE="$BUILD_DIR/bench/go-cache" go build -o "$TOOL" etcd_put_bench.go)
fi

# 3. The cluster.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  BASE=$((20000 + (RANDOM % 400) * 100)) ok=1
  for i in 0 1 2; do
    if port_busy $((BASE + i)) || port_busy $((BASE + 50 + i)); then ok=0; fi
  done
  ((ok)) && break
done
((ok)) || { log "no free ports"; exit 1; }
WORK=$(mktemp -d /tmp/cairn-bench-etcd-XXXXXX)
PIDS=()
teardown() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((rc == 0)); then rm -rf "$WORK"; else log "kept $WORK (logs: $WORK/m*.log)"; fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM
CLUSTER=""
ENDPOINTS=""
for i in 0 1 2; do
  CLUSTER+="${CLUSTER:+,}m$i=http://127.0.0.1:$((BASE + 50 + i))"
  ENDPOINTS+="${ENDPOINTS:+,}127.0.0.1:$((BASE + i))"
done
for i in 0 1 2; do
  etcd --name "m$i" --data-dir "$WORK/m$i" \
    --listen-client-urls "http://127.0.0.1:$((BASE + i))" \
    --advertise-client-urls "http://127.0.0.1:$((BASE + i))" \
    --listen-peer-urls "http://127.0.0.1:$((BASE + 50 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 50 + i))" \
    --initial-cluster "$CLUSTER" --initial-cluster-state new \
    --initial-cluster-token cairn-bench --logger zap --log-level warn \
    </dev/null >"$WORK/m$i.log" 2>&1 &
  PIDS+=($!)
done
deadline=$((SECONDS + 30))
for i in 0 1 2; do
  until curl -s -m 1 "http://127.0.0.1:$((BASE + i))/health" | grep -q '"health":"true"'; do
    ((SECONDS < deadline)) || { tail -n 20 "$WORK/m$i.log" >&2; log "member m$i not healthy"; exit 1; }
    sleep 0.2
  done
done
log "etcd $ETCD_VERSION: 3 members on 127.0.0.1:$BASE-$((BASE + 2)), data in $WORK (pids ${PIDS[*]})"

cpu_of() {  # total user+system seconds of the members
  local pid total=0 f
  for pid in "${PIDS[@]}"; do
    read -ra f <"/proc/$pid/stat"
    total=$((total + f[13] + f[14]))
  done
  echo "$total"
}
rss_of() {
  local pid out=""
  for pid in "${PIDS[@]}"; do out+="${out:+,}$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")"; done
  echo "[$out]"
}

# 4. The load: a short warm-up, then each concurrency for DURATION seconds.
"$TOOL" --endpoints "$ENDPOINTS" --clients 16 --conns 4 --total 2000 >/dev/null
RESULTS=()
TICKS=$(getconf CLK_TCK)
for c in $CLIENTS; do
  conns=$((c < 16 ? c : 16))
  before=$(cpu_of)
  r=$("$TOOL" --endpoints "$ENDPOINTS" --clients "$c" --conns "$conns" --total 100000000 \
    --duration "${DURATION}s" --val-size 200)
  after=$(cpu_of)
  RESULTS+=("$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
r["etcd_cpu_s"] = cpu
r["etcd_cpu_us_per_put"] = cpu * 1e6 / max(1, r["committed"])
r["etcd_rss_mib"] = json.loads(sys.argv[5])
print(json.dumps(r))' "$r" "$before" "$after" "$TICKS" "$(rss_of)")")
  log "clients $c: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.0f puts/s, p50 %.1f ms, p99 %.1f ms" % (r["puts_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"]))' "${RESULTS[-1]}")"
done

# 5. Report.
if [[ -z $OUT ]]; then
  mkdir -p "$BENCH_DIR/results"
  OUT="$BENCH_DIR/results/etcd-$(date -u +%Y%m%d-%H%M%S)$( ((SMOKE)) && echo -smoke || true).json"
fi
python3 - "$OUT" "$ETCD_VERSION" "$(cat /proc/loadavg)" "${RESULTS[@]}" <<'PY'
import json, sys, time
out, version, loadavg, rows = sys.argv[1], sys.argv[2], sys.argv[3], [json.loads(r) for r in sys.argv[4:]]
report = {"schema": "cairn-bench-etcd/1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "etcd_version": version, "members": 3, "loadavg_after": loadavg,
          "note": "3 members on loopback, data in /tmp; this virtual disk acknowledges fsync in ~0.17 ms (optimistic)",
          "results": rows}
with open(out, "w") as f:
    json.dump(report, f, indent=2)
print("etcd %s, 3 members on loopback, 200-byte values (fsync ~0.17 ms on this disk: optimistic)" % version)
print("%8s %10s %9s %9s %9s %9s %11s" % ("clients", "puts/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "cpu us/put"))
for r in rows:
    l = r["latency_ms"]
    print("%8d %10.0f %9.1f %9.1f %9.1f %9.1f %11.1f" % (r["clients"], r["puts_per_s"], l["p50"], l["p95"], l["p99"], l["max"], r["etcd_cpu_us_per_put"]))
print("report: " + out)
PY
