#!/usr/bin/env python3
"""Line coverage per Helios crate from `cargo llvm-cov report --json --summary-only` (stdin).

Prints a table and exits 1 when any crate is below the minimum (SC-009: 70%). Crates are the
workspace members' directories; test and bench sources do not count.
Usage: cargo llvm-cov report --json --summary-only | scripts/coverage-gate.py [MIN_PERCENT]
"""
import json
import os
import sys

CRATES = {
    "core": "helios-core",
    "adapters/clickhouse": "helios-clickhouse",
    "adapters/enrichment": "helios-enrichment",
    "adapters/kafka": "helios-kafka",
    "adapters/kube": "helios-kube",
    "adapters/netbox": "helios-netbox",
    "adapters/pcap": "helios-pcap",
    "adapters/service": "helios-service",
    "adapters/udp": "helios-udp",
    "bins/enricher": "helios-enricher",
    "bins/flowd": "helios-flowd",
    "bins/helios": "helios",
    "bins/targetgen": "helios-targetgen",
}
minimum = float(sys.argv[1]) if len(sys.argv) > 1 else 70.0
root = os.getcwd() + "/"
totals = {name: [0, 0] for name in CRATES.values()}
for f in json.load(sys.stdin)["data"][0]["files"]:
    rel = f["filename"].removeprefix(root)
    for prefix, name in CRATES.items():
        if rel.startswith(prefix + "/src/"):
            lines = f["summary"]["lines"]
            totals[name][0] += lines["covered"]
            totals[name][1] += lines["count"]
failed = []
print(f"{'crate':<18} {'lines':>7} {'covered':>8}")
for name, (covered, count) in totals.items():
    pct = 100.0 * covered / count if count else 0.0
    print(f"{name:<18} {count:>7} {pct:>7.1f}%")
    if pct < minimum:
        failed.append(name)
if failed:
    print(f"coverage: below {minimum:.0f}%: {', '.join(failed)}", file=sys.stderr)
    sys.exit(1)
print(f"coverage: every crate at or above {minimum:.0f}%")
