#!/usr/bin/env bash
# Checks what ops/ ships: the Prometheus alert rules (promtool check rules, and promtool test
# rules on their test file), the Grafana dashboard (valid JSON), that every cairn_* metric the
# rules and the dashboard name is one the node exports (its name in node/metrics*.cpp), and the
# systemd unit (systemd-analyze verify, with ExecStart pointed at the built cairnd). A tool that
# is absent is reported SKIPPED by name; anything else that fails fails the test.
# Usage: check_ops.sh SOURCE_DIR CAIRND_PATH
set -euo pipefail
src=$1
cairnd=$2
ops=$src/ops
fail=0

if command -v promtool >/dev/null; then
  promtool check rules "$ops/prometheus/cairn_rules.yml"
  (cd "$ops/prometheus" && promtool test rules cairn_rules_test.yml)
else
  echo "SKIPPED: promtool not installed (Debian: apt-get install prometheus)"
fi

python3 - "$src" <<'PY'
import json, re, sys, pathlib
src = pathlib.Path(sys.argv[1])
exported = set()
for f in (src / "node").glob("metrics*.cpp"):
    exported |= set(re.findall(r'"(cairn_[a-z0-9_]+)"', f.read_text()))
dash = json.loads((src / "ops/grafana/cairn_dashboard.json").read_text())
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
rules = (src / "ops/prometheus/cairn_rules.yml").read_text()
used = set(re.findall(r"\bcairn_[a-z0-9_]+", " ".join(exprs) + rules))
def base(n):
    for suffix in ("_bucket", "_sum", "_count"):
        if n.endswith(suffix) and n[: -len(suffix)] in exported:
            return n[: -len(suffix)]
    return n
missing = sorted(n for n in used if base(n) not in exported and not n.startswith("cairn_rules"))
if missing:
    print("metrics named in ops/ that the node does not export:", ", ".join(missing))
    sys.exit(1)
print(f"dashboard: {len(dash['panels'])} panels; {len(used)} metric names, all exported")
PY

if command -v systemd-analyze >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sed "s|/usr/local/bin/cairnd|$cairnd|" "$ops/systemd/cairnd.service" > "$tmp/cairnd.service"
  out=$(systemd-analyze verify "$tmp/cairnd.service" 2>&1) || fail=1
  if [ -n "$out" ]; then echo "$out"; fail=1; fi
  [ $fail = 0 ] && echo "systemd-analyze verify: cairnd.service OK"
else
  echo "SKIPPED: systemd-analyze not installed"
fi
exit $fail
