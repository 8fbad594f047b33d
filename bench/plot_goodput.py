#!/usr/bin/env python3
"""Plots goodput sweeps (cairn-bench --sweep reports, schema cairn-bench-sweep/1) with gnuplot:
one PNG per scenario (committed and accepted tx/s, and p99 latency, against offered tx/s) and
goodput-all.png (each scenario's goodput as a fraction of its peak, against the offered load
as a fraction of its capacity). Usage: plot_goodput.py --out DIR REPORT.json..."""
import argparse
import json
import os
import subprocess
import sys


def plot(script, out_dir):
    subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=out_dir)


def scenario_plot(report, out_dir):
    name = report["scenario"]
    data = os.path.join(out_dir, f"{name}.dat")
    with open(data, "w") as f:
        f.write("# offered accepted goodput p50_ms p99_ms\n")
        for s in report["steps"]:
            f.write(f'{s["offered_tps"]:.0f} {s["accepted_tps"]:.0f} {s["goodput_tps"]:.0f} '
                    f'{s["latency_ms"]["p50"]:.1f} {s["latency_ms"]["p99"]:.1f}\n')
    top = max(max(s["offered_tps"], s["accepted_tps"]) for s in report["steps"]) * 1.05
    plot(f"""
set terminal pngcairo size 900,520 font ",10"
set output "goodput-{name}.png"
set title "{name}: committed against offered (capacity {report['capacity_tps']:.0f} tx/s, ceiling {report['ceiling_tps']:.0f})"
set xlabel "offered tx/s"
set ylabel "tx/s"
set y2label "p99 latency, ms (log)"
set xrange [0:{top}]
set yrange [0:{top}]
set logscale y2
set y2tics
set ytics nomirror
set key left top
set grid
plot x title "offered" with lines dashtype 2 lc rgb "gray", \\
     "{name}.dat" using 1:2 title "accepted" with linespoints lc rgb "#999900", \\
     "{name}.dat" using 1:3 title "committed (goodput)" with linespoints lw 2 lc rgb "#0060ad", \\
     "{name}.dat" using 1:5 axes x1y2 title "p99 latency" with linespoints lc rgb "#dd181f"
""", out_dir)


def combined_plot(reports, out_dir):
    lines = []
    for r in reports:
        name = r["scenario"]
        peak = r["peak_goodput_tps"] or 1
        path = os.path.join(out_dir, f"{name}.norm.dat")
        with open(path, "w") as f:
            for s in r["steps"]:
                f.write(f'{s["factor"]} {s["goodput_tps"] / peak:.4f}\n')
        lines.append(f'"{name}.norm.dat" using 1:2 title "{name}" with linespoints lw 2')
    plot(f"""
set terminal pngcairo size 900,520 font ",10"
set output "goodput-all.png"
set title "goodput as a fraction of each scenario's peak"
set xlabel "offered load, fraction of capacity"
set ylabel "committed / peak"
set yrange [0:1.1]
set grid
set key right bottom
plot 0.95 title "95% of peak" with lines dashtype 2 lc rgb "gray", {", ".join(lines)}
""", out_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("reports", nargs="+")
    a = ap.parse_args()
    reports = []
    for p in a.reports:
        with open(p) as f:
            r = json.load(f)
        if r.get("schema") != "cairn-bench-sweep/1":
            print(f"{p}: not a sweep report", file=sys.stderr)
            return 1
        reports.append(r)
        scenario_plot(r, a.out)
    combined_plot(reports, a.out)
    print(f"plots in {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
