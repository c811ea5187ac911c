#!/usr/bin/env python3
"""End-to-end load benchmark: `helios sim` -> UDP -> helios-flowd -> ClickHouse (chdb), on this machine.

For each rate (flows/s, all exporters together) it sends NetFlow v9, IPFIX and sFlow from 1,000
exporters (SC-003's large tier: 500-2,000 devices) for --duration seconds, waits until ClickHouse
stops growing, and compares the rows in flows_raw with the flows sent. helios-flowd enriches every
flow from a NetBox snapshot written for those exporters (device labels, interface names, descriptions
and speeds, prefix tenants and roles) and from MaxMind's test GeoIP databases, so rows carry the labels
a deployment's rows carry (--no-enrichment: without). Zero loss means every flow sent is a row. For each Helios process it reports CPU (in
cores, averaged over the send window) and peak RSS; the ClickHouse stand-in (chdb behind a Python HTTP
front, one process) and the generator are reported too, since on a 2-core machine they compete for
the same cores, and so is the count of flows_raw's active parts once the rows are in (merges keeping
up keep it small). ClickHouse runs with perf/clickhouse-load.xml (merges at a lower priority than
inserts).

With --merges deferred, ClickHouse's background merges of flows_raw are paused while each rate runs
(SYSTEM STOP MERGES; they run afterwards): what is left is the path Helios is responsible for, UDP to
inserted rows, without the database's background work competing for the same two cores.

Usage: perf/load.py [--rates 100000,200000,...] [--duration 60] [--merges on|deferred]
                    [--clickhouse-config FILE] [--out FILE]
Builds the release binaries first. Stops at the first rate that loses flows.
"""

import argparse
import ipaddress
import json
import os
import pathlib
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/helios/target"))
CACHE = pathlib.Path(os.environ.get("HELIOS_CACHE", pathlib.Path.home() / ".cache/helios"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def query(port, sql):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode().strip()


def wait_http(url, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} not ready within {within} s")


def udp_drops():
    """Datagrams the kernel dropped on full receive buffers (all UDP sockets)."""
    for line in pathlib.Path("/proc/net/snmp").read_text().splitlines():
        if line.startswith("Udp:") and "RcvbufErrors" not in line:
            values = line.split()
            return int(values[5])  # Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors ...
    return 0


def flowd_metrics(port):
    """helios-flowd's counters that explain a loss: ClickHouse inserts (count, seconds) by table, and
    dropped flows by reason."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    wanted = ("helios_flowd_clickhouse_insert_duration_seconds_sum", "helios_flowd_clickhouse_insert_duration_seconds_count",
              'helios_flowd_clickhouse_insert_duration_seconds_bucket{le="0.5"}',
              'helios_flowd_clickhouse_insert_duration_seconds_bucket{le="1.0"}',
              "helios_flowd_clickhouse_blocks_total", "helios_flowd_dropped_flows_total")
    out = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


CLICKHOUSE_EVENTS = ("InsertedRows", "MergedRows", "MergeTotalMilliseconds", "DelayedInserts", "RejectedInserts")


def clickhouse_events(port):
    """ClickHouse's counters of rows inserted and merged, and time spent merging."""
    names = ", ".join(f"'{e}'" for e in CLICKHOUSE_EVENTS)
    text = query(port, f"SELECT event, value FROM system.events WHERE event IN ({names})")
    return {line.split("\t")[0]: int(line.split("\t")[1]) for line in text.splitlines() if "\t" in line}


def exporter_address(n):
    """The address `helios sim` sends exporter n's datagrams from: 127.1.0.1 + n."""
    return str(ipaddress.IPv4Address("127.1.0.1") + n)


def netbox_snapshot(work, exporters):
    """A NetBox snapshot naming each simulated exporter, its two interfaces (ifIndex 1 and 2, what
    the simulated flows carry) and prefixes covering the flows' addresses; returns its path."""
    vendors = [("Juniper", "junos"), ("Cisco", "iosxr"), ("Arista", "eos"), ("Nokia", "sros")]
    devices, interfaces = [], []
    for n in range(exporters):
        vendor, platform = vendors[n % len(vendors)]
        site = f"pop{n // 20:03d}"
        devices.append({
            "id": n + 1, "tenant": "network-ops", "addresses": [exporter_address(n)],
            "labels": {"device": f"edge{n % 20}.{site}", "site": site, "region": f"region-{n // 250}",
                       "vendor": vendor, "platform": platform, "role": ["edge", "core", "border"][n % 3],
                       "tier": str(1 + n % 3)},
            "monitor": True, "snmp": True, "flow_source": True,
        })
        for if_index, peer in ((1, "transit: upstream-a"), (2, f"core: core1.{site}")):
            interfaces.append({"device_id": n + 1, "name": f"et-0/0/{if_index}", "description": peer,
                               "speed_kbps": 100_000_000, "if_index": if_index})
    prefixes = [{"prefix": "10.0.0.0/8", "tenant": "customers", "role": "customer"},
                {"prefix": "198.51.100.0/24", "tenant": "cdn-a", "role": "content"}]
    prefixes += [{"prefix": f"10.{i}.0.0/16", "tenant": f"customer-{i}", "role": "customer"} for i in range(64)]
    path = pathlib.Path(work) / "netbox-snapshot.json"
    path.write_text(json.dumps({"format": 1, "devices": devices, "interfaces": interfaces, "prefixes": prefixes}))
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="100000,200000,300000,400000,500000,600000")
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--exporters", type=int, default=1000)
    ap.add_argument("--no-enrichment", action="store_true", help="no NetBox snapshot, no GeoIP databases")
    ap.add_argument("--merges", choices=["on", "deferred"], default="on",
                    help="deferred: pause flows_raw's background merges while a rate runs")
    ap.add_argument("--clickhouse-config", default=str(ROOT / "perf/clickhouse-load.xml"),
                    help="ClickHouse server settings (XML) for the chdb stand-in")
    ap.add_argument("--out", default=str(ROOT / "perf/load-results.json"))
    ap.add_argument("--flowd-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra helios-flowd setting, e.g. clickhouse.format=rowbinary (repeatable)")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "helios", "-p", "helios-flowd"], cwd=ROOT,
                   check=True)
    try:
        pathlib.Path("/proc/sys/net/core/rmem_max").write_text("67108864")
    except OSError:
        print("note: could not raise net.core.rmem_max; the socket buffer stays at the kernel's limit")

    work = tempfile.mkdtemp(prefix="helios-load-")
    enrichment = [] if args.no_enrichment else [
        "--set", f"enrichment.netbox_snapshot={netbox_snapshot(work, args.exporters)}",
        "--set", f"enrichment.geoip_city={ROOT / 'testdata/geoip/GeoIP2-City-Test.mmdb'}",
        "--set", f"enrichment.geoip_asn={ROOT / 'testdata/geoip/GeoLite2-ASN-Test.mmdb'}",
    ]
    ch_port, udp_port, http_port = free_port(), free_port(), free_port()
    ch = subprocess.Popen([str(CACHE / "venv/bin/python"), str(ROOT / "scripts/chdb_server.py"),
                           "--config-file", args.clickhouse_config, "--path",
                           f"{work}/ch", "--port", str(ch_port)], stdout=subprocess.PIPE)
    ch.stdout.readline()
    flowd = subprocess.Popen([
        str(TARGET / "release/helios-flowd"), "--listen", f"127.0.0.1:{udp_port}", "--http", f"127.0.0.1:{http_port}",
        "--clickhouse-url", f"http://127.0.0.1:{ch_port}", "--set", "clickhouse.compression=false",
        "--set", "recv_buffer_bytes=67108864", "--set", "clickhouse.batch_rows=200000",
        *enrichment, *[a for kv in args.flowd_set for a in ("--set", kv)],
    ], stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{http_port}/readyz")
    results = []
    try:
        for rate in [int(r) for r in args.rates.split(",")]:
            query(ch_port, "TRUNCATE TABLE helios.flows_raw")
            if args.merges == "deferred":
                query(ch_port, "SYSTEM STOP MERGES helios.flows_raw")
            before = {p.pid: cpu_seconds(p.pid) for p in (flowd, ch)}
            metrics_before, events_before = flowd_metrics(http_port), clickhouse_events(ch_port)
            sim_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            drops_before = udp_drops()
            t0 = time.time()
            sim = subprocess.run([str(TARGET / "release/helios"), "sim", "--target", f"127.0.0.1:{udp_port}",
                                  "--rate", str(rate), "--duration", str(args.duration),
                                  "--exporters", str(args.exporters)], capture_output=True, check=True)
            window = time.time() - t0
            cpu = {p.pid: (cpu_seconds(p.pid) - before[p.pid]) / window for p in (flowd, ch)}
            sim_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            sim_cpu = (sim_after.ru_utime + sim_after.ru_stime - sim_before.ru_utime - sim_before.ru_stime) / window
            sent = json.loads(sim.stdout)
            rows, stable_since = -1, time.time()
            while time.time() - stable_since < 3:
                now = int(query(ch_port, "SELECT count() FROM helios.flows_raw"))
                if now != rows:
                    rows, stable_since = now, time.time()
                time.sleep(0.5)
            # A full disk makes ClickHouse refuse inserts: report the space left with every rate.
            disk_free_gib = round(shutil.disk_usage(work).free / 2**30, 1)
            parts = int(query(ch_port, "SELECT count() FROM system.parts WHERE database = 'helios' "
                                       "AND table = 'flows_raw' AND active"))
            enriched = int(query(ch_port, "SELECT countIf(exporter_device != '' AND in_if_name != '' "
                                          "AND src_prefix_tenant != '') FROM helios.flows_raw"))
            if args.merges == "deferred":
                query(ch_port, "SYSTEM START MERGES helios.flows_raw")
            metrics_after, events_after = flowd_metrics(http_port), clickhouse_events(ch_port)
            delta = {k.removeprefix("helios_flowd_"): v - metrics_before.get(k, 0) for k, v in metrics_after.items()}
            r = {
                "merges": args.merges,
                "rate": rate,
                "sent": sent["flows"],
                "sent_per_second": sent["flows_per_second"],
                "rows": rows,
                "lost": sent["flows"] - rows,
                "kernel_udp_drops": udp_drops() - drops_before,
                "flowd_cpu_cores": round(cpu[flowd.pid], 3),
                "flowd_peak_rss_mib": round(peak_rss_mib(flowd.pid), 1),
                "clickhouse_cpu_cores": round(cpu[ch.pid], 3),
                "clickhouse_peak_rss_mib": round(peak_rss_mib(ch.pid), 1),
                "generator_cpu_cores": round(sim_cpu, 3),
                "flows_raw_active_parts": parts,
                "disk_free_gib": disk_free_gib,
                "rows_enriched": enriched,
                "flowd_counters": {k: round(v, 3) for k, v in delta.items() if v},
                "clickhouse_events": {k: v - events_before.get(k, 0) for k, v in events_after.items()},
            }
            results.append(r)
            print(json.dumps(r), flush=True)
            if r["lost"] != 0:
                break
    finally:
        flowd.send_signal(signal.SIGTERM)
        flowd.wait(timeout=60)
        ch.kill()
        ch.wait()
        # The database of a long run takes gigabytes (inactive parts linger minutes after merges).
        shutil.rmtree(work, ignore_errors=True)
    pathlib.Path(args.out).write_text(json.dumps({"duration_s": args.duration, "exporters": args.exporters,
                                                "enrichment": not args.no_enrichment, "results": results}, indent=1) + "\n")
    ok = [r["rate"] for r in results if r["lost"] == 0]
    print(f"highest rate with zero loss: {max(ok) if ok else 'none'} flows/s for {args.duration} s")


if __name__ == "__main__":
    main()
