//! Property tests: random flows are written as datagrams by an encoder written here, independently of
//! the decoders (NetFlow v5, NetFlow v9, IPFIX with reduced-size, variable-length and enterprise
//! fields, sFlow v5 raw headers), then decoded; every field must come back. Protobuf: the hand-written
//! encoder must be byte-identical to prost's, and decode back to the same record.

use std::net::IpAddr;

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::encode::protobuf::{self, to_message};
use helios_core::flow::{Addr, Batch, FlowLists, FlowRecord, FlowType, Layer};
use proptest::prelude::*;
use prost::Message;

const EXPORTER: [u8; 4] = [192, 0, 2, 7];
const MS: u64 = 1_000_000;

/// A flow as an exporter would describe it.
#[derive(Debug, Clone)]
struct Wire {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    src_port: u16,
    dst_port: u16,
    proto: u8,
    tos: u8,
    tcp_flags: u8,
    bytes: u32,
    packets: u32,
    in_if: u16,
    out_if: u16,
    src_as: u16,
    dst_as: u16,
    src_net: u8,
    dst_net: u8,
    /// Milliseconds before export time that the flow started / ended.
    start_ago: u16,
    end_ago: u16,
}

fn wire() -> impl Strategy<Value = Wire> {
    (
        (
            any::<bool>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>(), 0u8..=32, 0u8..=32),
        (1000u16..60_000, 0u16..1000),
    )
        .prop_map(
            |(
                (v6, src, dst, src_port, dst_port, proto, tos, tcp_flags),
                (bytes, packets, in_if, out_if, src_as, dst_as, src_net, dst_net),
                (start_ago, end_ago),
            )| Wire {
                v6,
                src,
                dst,
                src_port,
                dst_port,
                proto,
                tos,
                tcp_flags,
                bytes,
                packets,
                in_if,
                out_if,
                src_as,
                dst_as,
                src_net,
                dst_net,
                start_ago,
                end_ago,
            },
        )
}

impl Wire {
    fn src_addr(&self) -> Addr {
        if self.v6 { Addr::v6(self.src) } else { Addr::v4([self.src[0], self.src[1], self.src[2], self.src[3]]) }
    }
    fn dst_addr(&self) -> Addr {
        if self.v6 { Addr::v6(self.dst) } else { Addr::v4([self.dst[0], self.dst[1], self.dst[2], self.dst[3]]) }
    }
}

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}
fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// Decodes `datagrams` into a batch of `capacity` records; the results (records produced or errors).
fn decode_into(datagrams: &[Vec<u8>], now_ns: u64, keep_extra_fields: bool, capacity: usize) -> (Batch, Vec<String>) {
    let mut d = Decoder::new(DecoderConfig { keep_extra_fields, ..DecoderConfig::default() });
    let mut batch = Batch::with_capacity(capacity);
    let errors = datagrams
        .iter()
        .filter_map(|dg| d.decode(IpAddr::from(EXPORTER), now_ns, dg, &mut batch).err().map(|e| e.to_string()))
        .collect();
    (batch, errors)
}

/// Decodes with extra fields kept, and again without (the decoders' bulk path): both must give the
/// same records, bar where the extras are.
fn decode_all(datagrams: &[Vec<u8>], now_ns: u64) -> Batch {
    let (with_extras, errors) = decode_into(datagrams, now_ns, true, 4096);
    assert_eq!(errors, Vec::<String>::new(), "valid datagrams decode");
    let (without, _) = decode_into(datagrams, now_ns, false, 4096);
    let no_extras =
        |b: &Batch| b.records().iter().map(|r| FlowRecord { extra: Default::default(), ..*r }).collect::<Vec<_>>();
    assert_eq!(no_extras(&with_extras), no_extras(&without));
    with_extras
}

fn assert_common(r: &FlowRecord, w: &Wire) {
    assert_eq!((r.src_addr, r.dst_addr), (w.src_addr(), w.dst_addr()));
    assert_eq!((r.src_port, r.dst_port, r.proto), (w.src_port, w.dst_port, w.proto));
    assert_eq!((r.bytes, r.packets), (u64::from(w.bytes), u64::from(w.packets)));
    assert_eq!(r.sampler_address, Addr::v4(EXPORTER));
}

// ---- NetFlow v5 ----

fn netflow_v5(flows: &[Wire], secs: u32, uptime: u32, seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(be16(5));
    d.extend(be16(flows.len() as u16));
    d.extend(be32(uptime));
    d.extend(be32(secs));
    d.extend(be32(0));
    d.extend(be32(seq));
    d.extend([0, 0]);
    d.extend(be16(0x4000 | 100)); // sampling mode 1, interval 100
    for w in flows {
        d.extend(&w.src[..4]);
        d.extend(&w.dst[..4]);
        d.extend([10, 0, 0, 254]);
        d.extend(be16(w.in_if));
        d.extend(be16(w.out_if));
        d.extend(be32(w.packets));
        d.extend(be32(w.bytes));
        d.extend(be32(uptime - u32::from(w.start_ago)));
        d.extend(be32(uptime - u32::from(w.end_ago)));
        d.extend(be16(w.src_port));
        d.extend(be16(w.dst_port));
        d.extend([0, w.tcp_flags, w.proto, w.tos]);
        d.extend(be16(w.src_as));
        d.extend(be16(w.dst_as));
        d.extend([w.src_net, w.dst_net, 0, 0]);
    }
    d
}

// ---- NetFlow v9 ----

fn netflow_v9(flows: &[Wire], secs: u32, uptime: u32, source_id: u32) -> Vec<u8> {
    // Template 300 (IPv4) and 301 (IPv6) in one template flowset; data flowsets after.
    let fields = |v6: bool| -> Vec<(u16, u16)> {
        let (s, d) = if v6 { (27, 28) } else { (8, 12) };
        let l = if v6 { 16 } else { 4 };
        vec![
            (s, l),
            (d, l),
            (7, 2),
            (11, 2),
            (4, 1),
            (5, 1),
            (6, 1),
            (1, 4),
            (2, 4),
            (10, 2),
            (14, 2),
            (16, 2),
            (17, 2),
            (9, 1),
            (13, 1),
            (22, 4),
            (21, 4),
        ]
    };
    let mut tpl = Vec::new();
    for (id, v6) in [(300u16, false), (301, true)] {
        let f = fields(v6);
        tpl.extend(be16(id));
        tpl.extend(be16(f.len() as u16));
        for (t, l) in f {
            tpl.extend(be16(t));
            tpl.extend(be16(l));
        }
    }
    let mut d = Vec::new();
    d.extend(be16(9));
    d.extend(be16(flows.len() as u16));
    d.extend(be32(uptime));
    d.extend(be32(secs));
    d.extend(be32(1));
    d.extend(be32(source_id));
    d.extend(be16(0));
    d.extend(be16(tpl.len() as u16 + 4));
    d.extend(tpl);
    for w in flows {
        let mut rec = Vec::new();
        let n = if w.v6 { 16 } else { 4 };
        rec.extend(&w.src[..n]);
        rec.extend(&w.dst[..n]);
        rec.extend(be16(w.src_port));
        rec.extend(be16(w.dst_port));
        rec.extend([w.proto, w.tos, w.tcp_flags]);
        rec.extend(be32(w.bytes));
        rec.extend(be32(w.packets));
        rec.extend(be16(w.in_if));
        rec.extend(be16(w.out_if));
        rec.extend(be16(w.src_as));
        rec.extend(be16(w.dst_as));
        rec.extend([w.src_net, w.dst_net]);
        rec.extend(be32(uptime - u32::from(w.start_ago)));
        rec.extend(be32(uptime - u32::from(w.end_ago)));
        let pad = (4 - rec.len() % 4) % 4;
        d.extend(be16(if w.v6 { 301 } else { 300 }));
        d.extend(be16((rec.len() + pad + 4) as u16));
        d.extend(rec);
        d.extend(std::iter::repeat_n(0, pad));
    }
    d
}

// ---- IPFIX ----

/// Minimal bytes for `v` (reduced-size encoding), at least `min`.
fn reduced(v: u64, min: usize) -> Vec<u8> {
    let n = ((64 - v.leading_zeros() as usize).div_ceil(8)).max(min);
    v.to_be_bytes()[8 - n..].to_vec()
}

fn varfield(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if v.len() < 255 {
        out.push(v.len() as u8);
    } else {
        out.push(255);
        out.extend(be16(v.len() as u16));
    }
    out.extend(v);
    out
}

/// One message: a template set, an options template set + options data (sampling rate), and a data
/// set per flow (each flow gets its own template, so counter widths and the string vary per flow).
fn ipfix(flows: &[Wire], labels: &[Vec<u8>], secs: u32, domain: u32, sampling: u32) -> Vec<u8> {
    let export_ms = u64::from(secs) * 1000;
    let mut sets = Vec::new();
    let mut data_sets = Vec::new();
    let mut tpl = Vec::new();
    for (i, (w, label)) in flows.iter().zip(labels).enumerate() {
        let id = 400 + i as u16;
        let bytes = reduced(u64::from(w.bytes), 1);
        let packets = reduced(u64::from(w.packets), 1);
        let n = if w.v6 { 16 } else { 4 };
        let (s, d) = if w.v6 { (27u16, 28u16) } else { (8, 12) };
        // (id, len, pen): an enterprise variable-length field sits in the middle.
        let fields: Vec<(u16, u16, u32)> = vec![
            (s, n as u16, 0),
            (d, n as u16, 0),
            (7, 2, 0),
            (11, 2, 0),
            (4, 1, 0),
            (1, bytes.len() as u16, 0),
            (2, packets.len() as u16, 0),
            (29305, 65535, 0x1234_5678),
            (10, 4, 0),
            (14, 4, 0),
            (152, 8, 0),
            (153, 8, 0),
            (16, 4, 0),
            (17, 4, 0),
        ];
        tpl.extend(be16(id));
        tpl.extend(be16(fields.len() as u16));
        for (fid, len, pen) in &fields {
            if *pen != 0 {
                tpl.extend(be16(fid | 0x8000));
                tpl.extend(be16(*len));
                tpl.extend(be32(*pen));
            } else {
                tpl.extend(be16(*fid));
                tpl.extend(be16(*len));
            }
        }
        let mut rec = Vec::new();
        rec.extend(&w.src[..n]);
        rec.extend(&w.dst[..n]);
        rec.extend(be16(w.src_port));
        rec.extend(be16(w.dst_port));
        rec.push(w.proto);
        rec.extend(&bytes);
        rec.extend(&packets);
        rec.extend(varfield(label));
        rec.extend(be32(u32::from(w.in_if)));
        rec.extend(be32(u32::from(w.out_if)));
        rec.extend((export_ms - u64::from(w.start_ago)).to_be_bytes());
        rec.extend((export_ms - u64::from(w.end_ago)).to_be_bytes());
        rec.extend(be32(u32::from(w.src_as)));
        rec.extend(be32(u32::from(w.dst_as)));
        let pad = (4 - rec.len() % 4) % 4; // RFC 7011 §3.3.1 set padding
        data_sets.extend(be16(id));
        data_sets.extend(be16((rec.len() + pad + 4) as u16));
        data_sets.extend(rec);
        data_sets.extend(std::iter::repeat_n(0, pad));
    }
    sets.extend(be16(2));
    sets.extend(be16(tpl.len() as u16 + 4));
    sets.extend(tpl);
    // Options template 256: scope observationDomainId (149), option samplingPacketInterval (305).
    sets.extend([0, 3, 0, 18, 1, 0, 0, 2, 0, 1, 0, 149, 0, 4, 1, 49, 0, 4]);
    sets.extend([1, 0, 0, 12]);
    sets.extend(be32(domain));
    sets.extend(be32(sampling));
    sets.extend(data_sets);
    let mut d = Vec::new();
    d.extend(be16(10));
    d.extend(be16((sets.len() + 16) as u16));
    d.extend(be32(secs));
    d.extend(be32(7));
    d.extend(be32(domain));
    d.extend(sets);
    d
}

// ---- sFlow v5 ----

fn ethernet_frame(w: &Wire, vlan: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x81, 0x00];
    f.extend(be16(vlan));
    f.extend(be16(if w.v6 { 0x86dd } else { 0x0800 }));
    let l4 = if w.proto == 6 {
        let mut t = Vec::new();
        t.extend(be16(w.src_port));
        t.extend(be16(w.dst_port));
        t.extend([0; 8]);
        t.extend([0x50, w.tcp_flags, 0, 0, 0, 0, 0, 0]);
        t
    } else {
        let mut u = Vec::new();
        u.extend(be16(w.src_port));
        u.extend(be16(w.dst_port));
        u.extend([0, 8, 0, 0]);
        u
    };
    if w.v6 {
        f.extend(be32((6 << 28) | (u32::from(w.tos) << 20) | 0x12345));
        f.extend(be16(l4.len() as u16));
        f.extend([w.proto, 63]);
        f.extend(w.src);
        f.extend(w.dst);
    } else {
        f.extend([0x45, w.tos]);
        f.extend(be16(20 + l4.len() as u16));
        f.extend([0, 9, 0x40, 0, 63, w.proto, 0, 0]);
        f.extend(&w.src[..4]);
        f.extend(&w.dst[..4]);
    }
    f.extend(l4);
    f
}

fn sflow(flows: &[Wire], path: &[u32], seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(be32(5));
    d.extend(be32(1));
    d.extend(EXPORTER);
    d.extend(be32(0));
    d.extend(be32(seq));
    d.extend(be32(12345));
    d.extend(be32(flows.len() as u32));
    for w in flows {
        let frame = ethernet_frame(w, 42);
        let padded = frame.len().div_ceil(4) * 4;
        let mut raw = Vec::new();
        raw.extend(be32(1)); // Ethernet
        raw.extend(be32(w.bytes));
        raw.extend(be32(4));
        raw.extend(be32(frame.len() as u32));
        raw.extend(&frame);
        raw.extend(std::iter::repeat_n(0, padded - frame.len()));
        let mut gw = Vec::new();
        gw.extend(be32(1));
        gw.extend([10, 9, 9, 9]);
        gw.extend(be32(65000));
        gw.extend(be32(u32::from(w.src_as)));
        gw.extend(be32(0));
        gw.extend(be32(1)); // one segment
        gw.extend(be32(2)); // AS_SEQUENCE
        gw.extend(be32(path.len() as u32));
        for a in path {
            gw.extend(be32(*a));
        }
        gw.extend(be32(1)); // one community
        gw.extend(be32(0xfde8_0001));
        gw.extend(be32(100));
        let mut sample = Vec::new();
        sample.extend(be32(1));
        sample.extend(be32(7));
        sample.extend(be32(512)); // sampling rate
        sample.extend(be32(1000));
        sample.extend(be32(0));
        sample.extend(be32(u32::from(w.in_if)));
        sample.extend(be32(u32::from(w.out_if)));
        sample.extend(be32(2));
        for (fmt, body) in [(1u32, raw), (1003, gw)] {
            sample.extend(be32(fmt));
            sample.extend(be32(body.len() as u32));
            sample.extend(body);
        }
        d.extend(be32(1));
        d.extend(be32(sample.len() as u32));
        d.extend(sample);
    }
    d
}

// ---- protobuf ----

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![Just(Addr::NONE), any::<[u8; 4]>().prop_map(Addr::v4), any::<[u8; 16]>().prop_map(Addr::v6)]
}

fn record() -> impl Strategy<Value = (FlowRecord, FlowLists)> {
    (
        (0u8..5, any::<u64>(), any::<u32>(), any::<u64>(), addr(), any::<u64>(), any::<u64>(), any::<u64>()),
        (any::<u64>(), addr(), addr(), any::<[u16; 8]>(), any::<[u64; 2]>(), addr(), addr(), any::<[u32; 8]>()),
        (
            prop::collection::vec(any::<u32>(), 0..=8),
            prop::collection::vec(any::<u32>(), 0..=8),
            prop::collection::vec(any::<u32>(), 0..=4),
        ),
        (
            prop::collection::vec(0i32..12, 0..=12),
            prop::collection::vec(addr().prop_filter("set", |a| !a.is_none()), 0..=4),
            any::<[u8; 11]>(),
        ),
    )
        .prop_map(
            |(
                (t, recv, seq, rate, sampler, start, end, bytes),
                (packets, src, dst, h, macs, nh, bgp, w),
                (comms, path, mpls),
                (layers, srv6, b),
            )| {
                let r = FlowRecord {
                    flow_type: FlowType::from_i32(i32::from(t)),
                    time_received_ns: recv,
                    sequence_num: seq,
                    sampling_rate: rate,
                    sampler_address: sampler,
                    time_flow_start_ns: start,
                    time_flow_end_ns: end,
                    bytes,
                    packets,
                    src_addr: src,
                    dst_addr: dst,
                    etype: h[0],
                    src_port: h[1],
                    dst_port: h[2],
                    src_vlan: h[3],
                    dst_vlan: h[4],
                    vlan_id: h[5],
                    fragment_offset: h[6],
                    tcp_flags: h[7],
                    in_if: w[0],
                    out_if: w[1],
                    ipv6_flow_label: w[2],
                    fragment_id: w[3],
                    src_as: w[4],
                    dst_as: w[5],
                    next_hop_as: w[6],
                    observation_point_id: w[7],
                    observation_domain_id: seq ^ 1,
                    src_mac: macs[0],
                    dst_mac: macs[1],
                    next_hop: nh,
                    bgp_next_hop: bgp,
                    proto: b[0],
                    ip_tos: b[1],
                    ip_ttl: b[2],
                    ip_flags: b[3],
                    icmp_type: b[4],
                    icmp_code: b[5],
                    src_net: b[6],
                    dst_net: b[7],
                    forwarding_status: b[8],
                    ipv6_routing_header_seg_left: b[9],
                    ..FlowRecord::default()
                };
                let mut r = r;
                let mut l = FlowLists::EMPTY;
                comms.iter().for_each(|&c| {
                    l.bgp_communities.push(c);
                });
                path.iter().for_each(|&c| {
                    l.as_path.push(c);
                });
                mpls.iter().for_each(|&c| {
                    r.mpls_label.push(c & 0xfffff);
                    l.mpls_ttl.push(b[10] ^ c as u8);
                    l.mpls_ip.push(Addr::v4(c.to_be_bytes()));
                });
                layers.iter().filter_map(|&x| Layer::from_i32(x)).for_each(|x| {
                    r.layer_stack.push(x);
                });
                srv6.iter().for_each(|&a| {
                    l.ipv6_routing_header_addresses.push(a);
                });
                (r, l)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn netflow_v5_round_trips(flows in prop::collection::vec(wire().prop_map(|w| Wire { v6: false, ..w }), 1..30), secs in 1_000_000u32..2_000_000_000, seq: u32) {
        let uptime = 100_000;
        let batch = decode_all(&[netflow_v5(&flows, secs, uptime, seq)], 1);
        prop_assert_eq!(batch.len(), flows.len());
        for (r, w) in batch.records().iter().zip(&flows) {
            assert_common(r, w);
            prop_assert_eq!((r.in_if, r.out_if, r.src_as, r.dst_as), (u32::from(w.in_if), u32::from(w.out_if), u32::from(w.src_as), u32::from(w.dst_as)));
            prop_assert_eq!((r.src_net, r.dst_net, r.ip_tos, r.tcp_flags), (w.src_net, w.dst_net, w.tos, u16::from(w.tcp_flags)));
            prop_assert_eq!(r.time_flow_start_ns, u64::from(secs) * 1000 * MS - u64::from(w.start_ago) * MS);
            prop_assert_eq!(r.time_flow_end_ns, u64::from(secs) * 1000 * MS - u64::from(w.end_ago) * MS);
            prop_assert_eq!((r.sampling_rate, r.sequence_num, r.flow_type), (100, seq, FlowType::NetflowV5));
        }
    }

    #[test]
    fn a_full_batch_keeps_the_records_that_fit_and_says_so(flows in prop::collection::vec(wire(), 2..20), capacity in 1usize..20, v9: bool) {
        let dg = if v9 { netflow_v9(&flows, 1_000_000, 100_000, 1) } else { netflow_v5(&flows, 1_000_000, 100_000, 1) };
        let all = decode_all(std::slice::from_ref(&dg), 1);
        for keep_extra_fields in [false, true] {
            let (batch, errors) = decode_into(std::slice::from_ref(&dg), 1, keep_extra_fields, capacity);
            prop_assert_eq!(batch.len(), capacity.min(flows.len()));
            prop_assert_eq!(errors.len(), usize::from(capacity < flows.len()));
            prop_assert!(errors.iter().all(|e| e.contains("batch")), "{:?}", errors);
            let strip = |r: &FlowRecord| FlowRecord { extra: Default::default(), ..*r };
            for (got, want) in batch.records().iter().zip(all.records()) {
                prop_assert_eq!(strip(got), strip(want));
            }
        }
    }

    #[test]
    fn netflow_v9_round_trips(flows in prop::collection::vec(wire(), 1..20), secs in 1_000_000u32..2_000_000_000, uptime in 60_000u32..u32::MAX, source_id: u32) {
        let batch = decode_all(&[netflow_v9(&flows, secs, uptime, source_id)], 1);
        prop_assert_eq!(batch.len(), flows.len());
        for (r, w) in batch.records().iter().zip(&flows) {
            assert_common(r, w);
            prop_assert_eq!((r.in_if, r.out_if, r.src_as, r.dst_as), (u32::from(w.in_if), u32::from(w.out_if), u32::from(w.src_as), u32::from(w.dst_as)));
            prop_assert_eq!((r.ip_tos, r.tcp_flags, r.src_net, r.dst_net), (w.tos, u16::from(w.tcp_flags), w.src_net, w.dst_net));
            prop_assert_eq!(r.time_flow_start_ns, u64::from(secs) * 1000 * MS - u64::from(w.start_ago) * MS);
            prop_assert_eq!(r.time_flow_end_ns, u64::from(secs) * 1000 * MS - u64::from(w.end_ago) * MS);
            prop_assert_eq!((r.observation_domain_id, r.flow_type), (source_id, FlowType::NetflowV9));
        }
    }

    #[test]
    fn ipfix_round_trips(flows in prop::collection::vec(wire(), 1..8), labels in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 8), secs in 1_000_000u32..2_000_000_000, domain: u32, sampling in 1u32..100_000) {
        let batch = decode_all(&[ipfix(&flows, &labels, secs, domain, sampling)], 1);
        prop_assert_eq!(batch.len(), flows.len());
        for ((r, w), label) in batch.records().iter().zip(&flows).zip(&labels) {
            assert_common(r, w);
            prop_assert_eq!((r.in_if, r.out_if, r.src_as, r.dst_as), (u32::from(w.in_if), u32::from(w.out_if), u32::from(w.src_as), u32::from(w.dst_as)));
            prop_assert_eq!(r.time_flow_start_ns, (u64::from(secs) * 1000 - u64::from(w.start_ago)) * MS);
            prop_assert_eq!(r.time_flow_end_ns, (u64::from(secs) * 1000 - u64::from(w.end_ago)) * MS);
            prop_assert_eq!(batch.extra_field(r, 0x1234_5678, 29305), Some(&label[..]));
            prop_assert_eq!((r.observation_domain_id, r.flow_type), (domain, FlowType::Ipfix));
        }
        // The options data precedes the data sets: every flow carries its sampling rate.
        prop_assert!(batch.records().iter().all(|r| r.sampling_rate == u64::from(sampling)));
    }

    #[test]
    fn sflow_round_trips(flows in prop::collection::vec(wire().prop_map(|w| Wire { proto: if w.proto % 2 == 0 { 6 } else { 17 }, ..w }), 1..10), path in prop::collection::vec(1u32.., 0..6), seq: u32) {
        let batch = decode_all(&[sflow(&flows, &path, seq)], 1);
        prop_assert_eq!(batch.len(), flows.len());
        for (r, w) in batch.records().iter().zip(&flows) {
            prop_assert_eq!((r.src_addr, r.dst_addr), (w.src_addr(), w.dst_addr()));
            prop_assert_eq!((r.src_port, r.dst_port, r.proto), (w.src_port, w.dst_port, w.proto));
            prop_assert_eq!((r.bytes, r.packets, r.sampling_rate, r.sequence_num), (u64::from(w.bytes), 1, 512, seq));
            prop_assert_eq!((r.in_if, r.out_if, r.vlan_id, r.ip_ttl, r.ip_tos), (u32::from(w.in_if), u32::from(w.out_if), 42, 63, w.tos));
            prop_assert_eq!((r.src_mac, r.dst_mac), (0x0200_0000_0001, 0x0200_0000_0002));
            if w.proto == 6 {
                prop_assert_eq!(r.tcp_flags, u16::from(w.tcp_flags));
            }
            let lists = batch.lists(r);
            prop_assert_eq!(lists.as_path.as_slice(), &path[..]);
            prop_assert_eq!(r.dst_as, path.last().copied().unwrap_or(65000));
            prop_assert_eq!((r.src_as, r.bgp_next_hop), (u32::from(w.src_as), Addr::v4([10, 9, 9, 9])));
            prop_assert_eq!(lists.bgp_communities.as_slice(), &[0xfde8_0001]);
        }
    }

    #[test]
    fn protobuf_encoding_is_byte_identical_to_prost_and_round_trips((rec, lists) in record()) {
        let mut ours = Vec::new();
        protobuf::encode(&rec, &lists, &mut ours);
        let reference = to_message(&rec, &lists);
        prop_assert_eq!(&ours, &reference.encode_to_vec());
        prop_assert_eq!(protobuf::decode(&ours), Ok((rec, lists)));
        let mut framed = vec![0xEE];
        protobuf::encode_delimited(&rec, &lists, &mut framed);
        prop_assert_eq!(&framed[1..], &reference.encode_length_delimited_to_vec()[..]);
        prop_assert_eq!(protobuf::decode_delimited(&framed[1..]), Ok((rec, lists, framed.len() - 1)));
    }

    #[test]
    fn truncated_datagrams_never_panic_and_never_invent_flows(flows in prop::collection::vec(wire(), 1..4), cut in 0usize..2000) {
        let labels = vec![b"x".to_vec(); 4];
        for dg in [netflow_v5(&flows, 2_000_000, 100_000, 1), netflow_v9(&flows, 2_000_000, 100_000, 1), ipfix(&flows, &labels, 2_000_000, 1, 1), sflow(&flows, &[1, 2], 1)] {
            let cut = cut.min(dg.len());
            let mut d = Decoder::new(DecoderConfig::default());
            let mut batch = Batch::with_capacity(64);
            let _ = d.decode(IpAddr::from(EXPORTER), 1, &dg[..cut], &mut batch);
            prop_assert!(batch.len() <= flows.len());
        }
    }
}
