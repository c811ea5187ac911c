#!/usr/bin/env python3
"""Wraps the vendor datagrams of ../vendor-captures into captures that `helios decode` reads.

vendors.pcap (classic pcap, Ethernet): every vendor's datagrams, templates first, each vendor from an
exporter address of its own (10.0.<n>.1 -> 10.255.0.1, NetFlow/IPFIX to UDP 2055, sFlow to 6343), one
packet per datagram with a timestamp 1 ms apart. ipfix-pflow.pcapng (pcapng, raw IPv4): the OpenBSD
pflow template and data. Deterministic: re-running writes identical files.

Usage: python3 make_captures.py   (from anywhere; writes beside this script)
"""
import re
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURES = HERE.parent / "vendor-captures"
# Header fragments, not datagrams (see vendor-captures/README.md).
NOT_DATAGRAMS = {"sflow_ethernet_ipv4_udp_header.dat", "sflow_ethernet_vlan_ipv4_tcp_header.dat", "sflow_ipv4_tcp_header.dat", "sflow_tcp.dat", "sflow_udp.dat"}


def vendor(name):
    return re.split(r"_(?:tpl|data|opttpl|tplopt|tpls)", name.removesuffix(".dat"))[0]


def ordered_groups():
    files = sorted(p for p in CAPTURES.glob("*/*.dat") if p.name not in NOT_DATAGRAMS)
    groups = {}
    for p in files:
        groups.setdefault((p.parent.name, vendor(p.name)), []).append(p)
    for key in sorted(groups):
        # Templates (and options templates) before data, as an exporter sends them.
        yield key, sorted(groups[key], key=lambda p: (not re.search(r"tpl|opt", p.name), p.name))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(src, dst, dport, payload):
    udp = struct.pack("!HHHH", 50000, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + udp


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts_us, frame in packets:
            f.write(struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame)))
            f.write(frame)


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def write_pcapng(path, packets):
    def block(kind, body):
        body = pad4(body)
        n = 12 + len(body)
        return struct.pack("<II", kind, n) + body + struct.pack("<I", n)

    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack("<HHI", 228, 0, 65535)))  # LINKTYPE_IPV4, default µs resolution
        for ts_us, pkt in packets:
            body = struct.pack("<IIIII", 0, ts_us >> 32, ts_us & 0xFFFFFFFF, len(pkt), len(pkt)) + pkt
            f.write(block(6, body))


def main():
    t = 1_700_000_000_000_000
    frames = []
    for n, ((kind, _), paths) in enumerate(ordered_groups(), start=1):
        src = (10, 0, n, 1)
        port = 6343 if kind == "sflow" else 2055
        for p in paths:
            eth = bytes.fromhex("020000000002020000000001") + struct.pack("!H", 0x0800)
            frames.append((t, eth + ipv4_udp(src, (10, 255, 0, 1), port, p.read_bytes())))
            t += 1000
    write_pcap(HERE / "vendors.pcap", frames)
    pflow = [CAPTURES / "netflow" / "ipfix_test_openbsd_pflow_tpl.dat", CAPTURES / "netflow" / "ipfix_test_openbsd_pflow_data.dat"]
    write_pcapng(HERE / "ipfix-pflow.pcapng", [(t + i, ipv4_udp((192, 0, 2, 9), (10, 255, 0, 1), 4739, p.read_bytes())) for i, p in enumerate(pflow)])


if __name__ == "__main__":
    main()
