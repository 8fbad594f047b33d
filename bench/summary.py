#!/usr/bin/env python3
"""Prints the issue #7 summary table from a directory written by bench/all.sh:
SCENARIO-max.json (full rate), SCENARIO-lat.json (the latency run at half the target) and
etcd.json. Usage: summary.py DIR"""
import json
import os
import sys

# scenario: (TPS target, latency run rate, p50 target ms, p99 target ms)
TARGETS = {
    "solo": (20000, 10000, 50, 250),
    "raft3": (None, None, None, None),  # vs etcd
    "raft4": (10000, 5000, 100, 500),
    "bft4": (5000, 2500, 250, 1000),
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(d):
    etcd = load(os.path.join(d, "etcd.json"))
    etcd_by_clients = {r["clients"]: r for r in etcd["results"]} if etcd else {}
    rows = []
    print(f"{'scenario':9} {'TPS steady':>10} {'target':>8} {'ceiling':>8} {'% ceil':>7} "
          f"{'lat. run':>9} {'p50 ms':>7} {'p99 ms':>7} {'target':>10} {'lost':>5}  verdict")
    for name, (tps_t, lat_rate, p50_t, p99_t) in TARGETS.items():
        mx = load(os.path.join(d, f"{name}-max.json"))
        lat = load(os.path.join(d, f"{name}-lat.json"))
        if mx is None:
            print(f"{name:9} {'not run / skipped':>10}")
            continue
        tps = mx["tps"]["steady"]
        lost = mx["txs"]["lost"] + (lat["txs"]["lost"] if lat else 0)
        verdicts = []
        target = f"{tps_t:,}" if tps_t else ""
        if name == "raft3" and etcd_by_clients:
            lanes = mx["config"].get("lanes")
            ref = etcd_by_clients.get(lanes) or etcd_by_clients.get(max(etcd_by_clients))
            best = max(r["puts_per_s"] for r in etcd_by_clients.values())
            target = f"{ref['puts_per_s']:,.0f}"
            verdicts.append(f"{tps / ref['puts_per_s']:.2f}x etcd@{ref['clients']} clients "
                            f"({tps / best:.2f}x etcd's best)")
            tps_ok = tps >= ref["puts_per_s"]
        elif name == "raft3":
            tps_ok = None  # no etcd figures in this directory
        else:
            tps_ok = tps >= tps_t
        if tps_ok is not None:
            verdicts.insert(0, "TPS ok" if tps_ok else "TPS below")
        else:
            verdicts.insert(0, "no etcd run to compare")
        p50 = p99 = "-"
        lat_target = ""
        if lat:
            p50, p99 = f"{lat['latency_ms']['p50']:.0f}", f"{lat['latency_ms']['p99']:.0f}"
            lat_target = f"{p50_t}/{p99_t}"
            lat_ok = lat["latency_ms"]["p50"] <= p50_t and lat["latency_ms"]["p99"] <= p99_t
            verdicts.append("latency ok" if lat_ok else "latency above")
        if lost:
            verdicts.append("LOST TRANSACTIONS")
        print(f"{name:9} {tps:10,.0f} {target:>8} {mx['machine']['ceiling_tps']:8,.0f} "
              f"{100 * mx['tps']['fraction_of_ceiling']:6.0f}% "
              f"{(str(lat_rate) if lat else '-'):>9} {p50:>7} {p99:>7} {lat_target:>10} {lost:5}  "
              + ", ".join(verdicts))
    if etcd:
        print("\netcd " + etcd["etcd_version"] + " (3 members, loopback, 200-byte puts; fsync ~0.17 ms on"
              " this disk is optimistic): " + ", ".join(
                  f"{r['clients']} clients {r['puts_per_s']:,.0f}/s (p99 {r['latency_ms']['p99']:.0f} ms)"
                  for r in etcd["results"]))


if __name__ == "__main__":
    main(sys.argv[1])
