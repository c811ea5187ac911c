#!/usr/bin/env python3
"""Runs the decode benchmark ROUNDS times (default 3) and prints, per workload, Helios's and the peer
crate's median time per datagram, throughput in records/s, and the median over rounds of the same-run
ratio. This machine is noisy: a ratio measured within one run is far steadier than absolute times.

Usage: python3 perf/compare.py [ROUNDS]   (from the repository root)
"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
records = {}  # workload -> records per datagram, from the perf gate's workload list


def records_per_datagram():
    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "helios-benches", "--bin", "helios-perf-gate", "--", "records"],
        capture_output=True, text=True, check=True,
    ).stdout
    return {name: int(n) for name, n in (line.split() for line in out.splitlines() if line.strip())}


records = records_per_datagram()
samples = {}
for r in range(rounds):
    print(f"round {r + 1}/{rounds} ...", file=sys.stderr)
    subprocess.run(
        ["cargo", "bench", "-q", "-p", "helios-benches", "--bench", "decode", "--", "--warm-up-time", "2", "--measurement-time", "5"],
        check=True, stdout=subprocess.DEVNULL,
    )
    for group in sorted((target / "criterion").glob("decode_*")):
        workload = group.name.removeprefix("decode_")
        fns = {f.name: json.loads((f / "new" / "estimates.json").read_text())["median"]["point_estimate"] for f in group.iterdir() if (f / "new").is_dir()}
        peer = next(k for k in fns if k != "helios")
        samples.setdefault(workload, []).append((fns["helios"], fns[peer], peer))

print(f"| workload | records/datagram | Helios ns/datagram | peer | peer ns/datagram | Helios records/s | peer records/s | ratio (median of {rounds} runs) |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
for workload, runs in samples.items():
    h = statistics.median(x[0] for x in runs)
    p = statistics.median(x[1] for x in runs)
    ratio = statistics.median(x[1] / x[0] for x in runs)
    n = records.get(workload, 0)
    print(f"| {workload} | {n} | {h:.0f} | {runs[0][2]} | {p:.0f} | {n / h * 1e3:.1f}M | {n / p * 1e3:.1f}M | {ratio:.2f}x |")
