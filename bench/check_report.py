#!/usr/bin/env python3
"""Validates cairn-bench JSON reports (single runs and --sweep reports): the fields
BENCHMARKS.md and CI rely on are present and typed, nothing accepted was lost, something
committed. Usage: check_report.py FILE...
Exit 0 when every report passes; prints one line per report."""
import json
import sys

REQUIRED = {
    "schema": str, "scenario": str, "date": str, "ok": bool,
    "config.rpc": list, "config.rate": (int, float), "config.duration_s": (int, float),
    "machine.cores": int, "machine.ed25519_verify_per_s_core": (int, float),
    "machine.verifications_per_tx": (int, float), "machine.ceiling_tps": (int, float),
    "txs.presigned": int, "txs.accepted": int, "txs.committed": int, "txs.lost": int,
    "txs.refused": int, "txs.unsent": int,
    "window.steady_s": (int, float), "window.last_commit_s": (int, float),
    "tps.steady": (int, float), "tps.overall": (int, float), "tps.fraction_of_ceiling": (int, float),
    "latency_ms.p50": (int, float), "latency_ms.p95": (int, float),
    "latency_ms.p99": (int, float), "latency_ms.max": (int, float),
    "blocks.per_s": (int, float), "blocks.txs_per_block": (int, float),
    "nodes": list, "bench_process.cpu_s_steady": (int, float),
}
NODE_FIELDS = ("name", "pid", "cpu_s_steady", "cpu_us_per_tx", "rss_mib", "rss_peak_mib")


def get(report, dotted):
    cur = report
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(dotted)
        cur = cur[part]
    return cur


SWEEP_REQUIRED = {
    "schema": str, "scenario": str, "ok": bool, "capacity_tps": (int, float),
    "ceiling_tps": (int, float), "peak_goodput_tps": (int, float), "lost": int, "steps": list,
}
STEP_REQUIRED = {
    "factor": (int, float), "offered_tps": (int, float), "accepted_tps": (int, float),
    "goodput_tps": (int, float), "window_s": (int, float), "latency_ms.p50": (int, float),
    "latency_ms.p99": (int, float), "txs.accepted": int, "txs.committed": int, "txs.lost": int,
}


def typed(obj, fields, prefix=""):
    problems = []
    for field, kind in fields.items():
        try:
            v = get(obj, field)
        except KeyError:
            problems.append(f"missing {prefix}{field}")
            continue
        if not isinstance(v, kind) or (kind != bool and isinstance(v, bool)):
            problems.append(f"{prefix}{field} has type {type(v).__name__}")
    return problems


def check_sweep(r):
    problems = typed(r, SWEEP_REQUIRED)
    if problems:
        return problems
    if not r["steps"]:
        problems.append("no steps")
    factors = []
    for i, s in enumerate(r["steps"]):
        step_problems = typed(s, STEP_REQUIRED, f"steps[{i}].")
        problems += step_problems
        if step_problems:
            continue
        factors.append(s["factor"])
        if s["txs"]["lost"] != 0:
            problems.append(f"step {s['factor']}x: {s['txs']['lost']} accepted never committed")
        if s["txs"]["committed"] > s["txs"]["accepted"]:
            problems.append(f"step {s['factor']}x: more committed than accepted")
    if factors != sorted(set(factors)):
        problems.append("factors not strictly rising")
    if r["lost"] != 0:
        problems.append(f"{r['lost']} accepted transactions never committed")
    if r["peak_goodput_tps"] <= 0:
        problems.append("nothing committed")
    if not r["ok"]:
        problems.append("ok is false")
    return problems


def check(path):
    with open(path) as f:
        r = json.load(f)
    if r.get("schema") == "cairn-bench-sweep/1":
        return check_sweep(r)
    problems = typed(r, REQUIRED)
    if problems:
        return problems
    if r["schema"] != "cairn-bench/1":
        problems.append(f"schema {r['schema']}")
    t = r["txs"]
    if t["lost"] != 0:
        problems.append(f"{t['lost']} accepted transactions never committed")
    if t["committed"] <= 0:
        problems.append("nothing committed")
    if t["committed"] > t["accepted"] + r["txs"].get("committed_unacknowledged", 0):
        problems.append("more committed than accepted")
    if t["accepted"] + t["refused"] + t["unsent"] != t["presigned"]:
        problems.append("accepted + refused + unsent != presigned")
    if not r["nodes"]:
        problems.append("no node measured (--pid)")
    for n in r["nodes"]:
        for k in NODE_FIELDS:
            if k not in n:
                problems.append(f"node field {k} missing")
        if n.get("rss_mib", -1) <= 0:
            problems.append(f"node {n.get('name')}: no RSS (process gone?)")
    if not r["ok"]:
        problems.append("ok is false")
    return problems


def main(paths):
    failed = 0
    for p in paths:
        try:
            problems = check(p)
        except (OSError, ValueError) as e:
            problems = [str(e)]
        if problems:
            failed += 1
            print(f"FAIL {p}: " + "; ".join(problems))
        else:
            with open(p) as f:
                r = json.load(f)
            if r["schema"] == "cairn-bench-sweep/1":
                print(f"ok   {p}: {r['scenario']} sweep: {len(r['steps'])} steps, 0 lost, "
                      f"peak goodput {r['peak_goodput_tps']:.0f} TPS")
            else:
                print(f"ok   {p}: {r['scenario']}: {r['txs']['committed']} committed, 0 lost, "
                      f"{r['tps']['steady']:.0f} TPS steady")
    return 1 if failed or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
