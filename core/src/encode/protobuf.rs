//! goflow2-compatible protobuf: `flowpb.FlowMessage` (goflow2 `pb/flow.proto`, same field names and
//! numbers) with goflow2's varint length-delimited framing on Kafka.
//!
//! Encoding is hand-written straight from a [`FlowRecord`] into a reusable buffer (no intermediate
//! message, no allocation once the buffer is warm), fields in ascending number order as Go's protobuf
//! writes them. [`FlowMessage`] is the same schema as a `prost` message: it decodes what goflow2
//! writes, and serves the tests as an independent reference for the hand-written encoder.

use prost::Message;

use super::leb128;
use crate::error::{Error, Reason, Result};
use crate::flow::{Addr, Batch, Bounded, FlowLists, FlowRecord, FlowType, Layer, LayerStack};

/// `flowpb.FlowMessage`, field for field. Declared in field-number order so that prost's encoding is
/// byte-identical to Go's.
#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)] // see goflow2 pb/flow.proto
pub struct FlowMessage {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(uint64, tag = "3")]
    pub sampling_rate: u64,
    #[prost(uint32, tag = "4")]
    pub sequence_num: u32,
    #[prost(bytes = "vec", tag = "6")]
    pub src_addr: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    pub dst_addr: Vec<u8>,
    #[prost(uint64, tag = "9")]
    pub bytes: u64,
    #[prost(uint64, tag = "10")]
    pub packets: u64,
    #[prost(bytes = "vec", tag = "11")]
    pub sampler_address: Vec<u8>,
    #[prost(bytes = "vec", tag = "12")]
    pub next_hop: Vec<u8>,
    #[prost(uint32, tag = "13")]
    pub next_hop_as: u32,
    #[prost(uint32, tag = "14")]
    pub src_as: u32,
    #[prost(uint32, tag = "15")]
    pub dst_as: u32,
    #[prost(uint32, tag = "16")]
    pub src_net: u32,
    #[prost(uint32, tag = "17")]
    pub dst_net: u32,
    #[prost(uint32, tag = "18")]
    pub in_if: u32,
    #[prost(uint32, tag = "19")]
    pub out_if: u32,
    #[prost(uint32, tag = "20")]
    pub proto: u32,
    #[prost(uint32, tag = "21")]
    pub src_port: u32,
    #[prost(uint32, tag = "22")]
    pub dst_port: u32,
    #[prost(uint32, tag = "23")]
    pub ip_tos: u32,
    #[prost(uint32, tag = "24")]
    pub forwarding_status: u32,
    #[prost(uint32, tag = "25")]
    pub ip_ttl: u32,
    #[prost(uint32, tag = "26")]
    pub tcp_flags: u32,
    #[prost(uint64, tag = "27")]
    pub src_mac: u64,
    #[prost(uint64, tag = "28")]
    pub dst_mac: u64,
    #[prost(uint32, tag = "29")]
    pub vlan_id: u32,
    #[prost(uint32, tag = "30")]
    pub etype: u32,
    #[prost(uint32, tag = "31")]
    pub icmp_type: u32,
    #[prost(uint32, tag = "32")]
    pub icmp_code: u32,
    #[prost(uint32, tag = "33")]
    pub src_vlan: u32,
    #[prost(uint32, tag = "34")]
    pub dst_vlan: u32,
    #[prost(uint32, tag = "35")]
    pub fragment_id: u32,
    #[prost(uint32, tag = "36")]
    pub fragment_offset: u32,
    #[prost(uint32, tag = "37")]
    pub ipv6_flow_label: u32,
    #[prost(uint32, tag = "38")]
    pub ip_flags: u32,
    #[prost(uint32, tag = "70")]
    pub observation_domain_id: u32,
    #[prost(uint32, tag = "71")]
    pub observation_point_id: u32,
    #[prost(uint32, repeated, tag = "80")]
    pub mpls_ttl: Vec<u32>,
    #[prost(uint32, repeated, tag = "81")]
    pub mpls_label: Vec<u32>,
    #[prost(bytes = "vec", repeated, tag = "82")]
    pub mpls_ip: Vec<Vec<u8>>,
    #[prost(bytes = "vec", tag = "100")]
    pub bgp_next_hop: Vec<u8>,
    #[prost(uint32, repeated, tag = "101")]
    pub bgp_communities: Vec<u32>,
    #[prost(uint32, repeated, tag = "102")]
    pub as_path: Vec<u32>,
    #[prost(int32, repeated, tag = "103")]
    pub layer_stack: Vec<i32>,
    /// The size of each layer of `layer_stack`, bytes (goflow2 fills it for sFlow). Read and not
    /// kept: Helios's layer stack carries no sizes, so it writes none.
    #[prost(uint32, repeated, tag = "104")]
    pub layer_size: Vec<u32>,
    #[prost(bytes = "vec", repeated, tag = "105")]
    pub ipv6_routing_header_addresses: Vec<Vec<u8>>,
    #[prost(uint32, tag = "106")]
    pub ipv6_routing_header_seg_left: u32,
    #[prost(uint64, tag = "110")]
    pub time_received_ns: u64,
    #[prost(uint64, tag = "111")]
    pub time_flow_start_ns: u64,
    #[prost(uint64, tag = "112")]
    pub time_flow_end_ns: u64,
}

/// Appends `rec` (with its `lists`) as one length-delimited `FlowMessage` (goflow2's Kafka framing).
pub fn encode_delimited(rec: &FlowRecord, lists: &FlowLists, out: &mut Vec<u8>) {
    // Reserve a 2-byte length (messages are < 16 KiB), write the body, then fix the prefix up.
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    encode(rec, lists, out);
    let len = out.len() - at - 2;
    let mut prefix = [0u8; 10];
    let n = leb128::write_into(len as u64, &mut prefix);
    match n {
        2 => out[at..at + 2].copy_from_slice(&prefix[..2]),
        1 => {
            out[at] = prefix[0];
            out.copy_within(at + 2.., at + 1);
            out.truncate(out.len() - 1);
        }
        _ => {
            out.splice(at..at + 2, prefix[..n].iter().copied());
        }
    }
}

/// Appends `rec` (with its `lists`) as one un-prefixed `FlowMessage` body to `out`.
pub fn encode(rec: &FlowRecord, lists: &FlowLists, out: &mut Vec<u8>) {
    let w = out;
    uint(w, 1, rec.flow_type as u64);
    uint(w, 3, rec.sampling_rate);
    uint(w, 4, rec.sequence_num.into());
    bytes(w, 6, rec.src_addr.as_bytes());
    bytes(w, 7, rec.dst_addr.as_bytes());
    uint(w, 9, rec.bytes);
    uint(w, 10, rec.packets);
    bytes(w, 11, rec.sampler_address.as_bytes());
    bytes(w, 12, rec.next_hop.as_bytes());
    for (tag, v) in [
        (13, rec.next_hop_as),
        (14, rec.src_as),
        (15, rec.dst_as),
        (16, rec.src_net.into()),
        (17, rec.dst_net.into()),
        (18, rec.in_if),
        (19, rec.out_if),
        (20, rec.proto.into()),
        (21, rec.src_port.into()),
        (22, rec.dst_port.into()),
        (23, rec.ip_tos.into()),
        (24, rec.forwarding_status.into()),
        (25, rec.ip_ttl.into()),
        (26, rec.tcp_flags.into()),
    ] {
        uint(w, tag, v.into());
    }
    uint(w, 27, rec.src_mac);
    uint(w, 28, rec.dst_mac);
    for (tag, v) in [
        (29, rec.vlan_id.into()),
        (30, rec.etype.into()),
        (31, rec.icmp_type.into()),
        (32, rec.icmp_code.into()),
        (33, rec.src_vlan.into()),
        (34, rec.dst_vlan.into()),
        (35, rec.fragment_id),
        (36, rec.fragment_offset.into()),
        (37, rec.ipv6_flow_label),
        (38, rec.ip_flags.into()),
        (70, rec.observation_domain_id),
        (71, rec.observation_point_id),
    ] {
        uint(w, tag, v.into());
    }
    packed(w, 80, lists.mpls_ttl.as_slice().iter().map(|&v| u64::from(v)));
    packed(w, 81, rec.mpls_label.as_slice().iter().map(|&v| u64::from(v)));
    for a in lists.mpls_ip.as_slice() {
        bytes_always(w, 82, a.as_bytes());
    }
    bytes(w, 100, rec.bgp_next_hop.as_bytes());
    packed(w, 101, lists.bgp_communities.as_slice().iter().map(|&v| u64::from(v)));
    packed(w, 102, lists.as_path.as_slice().iter().map(|&v| u64::from(v)));
    packed(w, 103, rec.layer_stack.iter().map(|l| l as u64));
    for a in lists.ipv6_routing_header_addresses.as_slice() {
        bytes_always(w, 105, a.as_bytes());
    }
    uint(w, 106, rec.ipv6_routing_header_seg_left.into());
    uint(w, 110, rec.time_received_ns);
    uint(w, 111, rec.time_flow_start_ns);
    uint(w, 112, rec.time_flow_end_ns);
}

/// Decodes one length-delimited `FlowMessage` at the start of `buf`; returns the record, its lists and
/// the bytes consumed (prefix included).
pub fn decode_delimited(buf: &[u8]) -> Result<(FlowRecord, FlowLists, usize)> {
    let bad = |offset| Error::Protobuf { reason: Reason::BadProtobuf, offset };
    let (len, prefix) = leb128::read(buf).ok_or(bad(0))?;
    let end = usize::try_from(len).ok().and_then(|l| prefix.checked_add(l)).ok_or(bad(0))?;
    let body = buf.get(prefix..end).ok_or(Error::Protobuf { reason: Reason::Truncated, offset: buf.len() })?;
    let (rec, lists) = decode(body).map_err(|e| match e {
        Error::Protobuf { reason, .. } => Error::Protobuf { reason, offset: prefix },
        other => other,
    })?;
    Ok((rec, lists, end))
}

/// Decodes the flows of one Kafka message as goflow2 writes them — one or more varint length-delimited
/// `FlowMessage`s (goflow2 v2), or a single un-prefixed one (older producers) — appending them to
/// `batch`. The delimited reading is tried first and must consume the whole payload; otherwise the
/// payload is read as one un-prefixed message. On error nothing is appended.
pub fn decode_payload(payload: &[u8], batch: &mut Batch) -> Result<usize> {
    let before = batch.len();
    let full = |offset| Error::Protobuf { reason: Reason::BatchFull, offset };
    if payload.is_empty() {
        return Err(Error::Protobuf { reason: Reason::Truncated, offset: 0 });
    }
    let mut at = 0;
    let delimited = loop {
        if at == payload.len() {
            break Ok(());
        }
        match decode_delimited(&payload[at..]) {
            Ok((rec, lists, used)) => {
                if !batch.push_record(&rec, &lists) {
                    break Err(full(at));
                }
                at += used;
            }
            Err(e) => break Err(e),
        }
    };
    match delimited {
        Ok(()) => return Ok(batch.len() - before),
        Err(e @ Error::Protobuf { reason: Reason::BatchFull, .. }) => {
            batch.truncate(before);
            return Err(e);
        }
        Err(_) => batch.truncate(before),
    }
    let (rec, lists) = decode(payload)?;
    if !batch.push_record(&rec, &lists) {
        return Err(full(0));
    }
    Ok(1)
}

/// Decodes one un-prefixed `FlowMessage`. Lists longer than a record holds are truncated; an address
/// that is not 0, 4 or 16 bytes long, or a number too large for its field, rejects the message.
pub fn decode(body: &[u8]) -> Result<(FlowRecord, FlowLists)> {
    let m = FlowMessage::decode(body).map_err(|_| Error::Protobuf { reason: Reason::BadProtobuf, offset: 0 })?;
    from_message(&m)
}

/// A record and its lists from a decoded message.
pub fn from_message(m: &FlowMessage) -> Result<(FlowRecord, FlowLists)> {
    {
        let addr = |b: &[u8]| Addr::from_slice(b).ok_or(Error::Protobuf { reason: Reason::BadLength, offset: 0 });
        fn list<T: Copy + Default, const N: usize>(it: impl Iterator<Item = T>) -> Bounded<T, N> {
            let mut b = Bounded::default();
            for v in it.take(N) {
                b.push(v);
            }
            b
        }
        let addrs = |v: &[Vec<u8>]| -> Result<Bounded<Addr, 4>> {
            let mut b = Bounded::default();
            for a in v.iter().take(4) {
                b.push(addr(a)?);
            }
            Ok(b)
        };
        let rec = FlowRecord {
            flow_type: FlowType::from_i32(m.r#type),
            time_received_ns: m.time_received_ns,
            sequence_num: m.sequence_num,
            sampling_rate: m.sampling_rate,
            sampler_address: addr(&m.sampler_address)?,
            time_flow_start_ns: m.time_flow_start_ns,
            time_flow_end_ns: m.time_flow_end_ns,
            bytes: m.bytes,
            packets: m.packets,
            src_addr: addr(&m.src_addr)?,
            dst_addr: addr(&m.dst_addr)?,
            etype: narrow(m.etype)?,
            proto: narrow(m.proto)?,
            src_port: narrow(m.src_port)?,
            dst_port: narrow(m.dst_port)?,
            in_if: m.in_if,
            out_if: m.out_if,
            src_mac: m.src_mac,
            dst_mac: m.dst_mac,
            src_vlan: narrow(m.src_vlan)?,
            dst_vlan: narrow(m.dst_vlan)?,
            vlan_id: narrow(m.vlan_id)?,
            ip_tos: narrow(m.ip_tos)?,
            forwarding_status: narrow(m.forwarding_status)?,
            ip_ttl: narrow(m.ip_ttl)?,
            ip_flags: narrow(m.ip_flags)?,
            tcp_flags: narrow(m.tcp_flags)?,
            icmp_type: narrow(m.icmp_type)?,
            icmp_code: narrow(m.icmp_code)?,
            ipv6_flow_label: m.ipv6_flow_label,
            fragment_id: m.fragment_id,
            fragment_offset: narrow(m.fragment_offset)?,
            src_as: m.src_as,
            dst_as: m.dst_as,
            next_hop: addr(&m.next_hop)?,
            next_hop_as: m.next_hop_as,
            src_net: narrow(m.src_net)?,
            dst_net: narrow(m.dst_net)?,
            bgp_next_hop: addr(&m.bgp_next_hop)?,
            mpls_label: list(m.mpls_label.iter().copied()),
            observation_domain_id: m.observation_domain_id,
            observation_point_id: m.observation_point_id,
            ipv6_routing_header_seg_left: narrow(m.ipv6_routing_header_seg_left)?,
            layer_stack: {
                let mut stack = LayerStack::default();
                for l in m.layer_stack.iter().filter_map(|&l| Layer::from_i32(l)) {
                    stack.push(l);
                }
                stack
            },
            lists: Default::default(),
            extra: Default::default(),
        };
        let mut ttls = Vec::new();
        let lists = FlowLists {
            bgp_communities: list(m.bgp_communities.iter().copied()),
            as_path: list(m.as_path.iter().copied()),
            mpls_ttl: {
                for &t in &m.mpls_ttl {
                    ttls.push(narrow::<u8>(t)?);
                }
                list(ttls.iter().copied())
            },
            mpls_ip: addrs(&m.mpls_ip)?,
            ipv6_routing_header_addresses: addrs(&m.ipv6_routing_header_addresses)?,
        };
        Ok((rec, lists))
    }
}

/// A protobuf `uint32` into a narrower record field.
fn narrow<T: TryFrom<u32>>(v: u32) -> Result<T> {
    T::try_from(v).map_err(|_| Error::Protobuf { reason: Reason::OutOfRange, offset: 0 })
}

/// The message for a record and its lists.
pub fn to_message(r: &FlowRecord, lists: &FlowLists) -> FlowMessage {
    {
        let addrs = |b: &[Addr]| b.iter().map(|a| a.as_bytes().to_vec()).collect();
        FlowMessage {
            r#type: r.flow_type as i32,
            sampling_rate: r.sampling_rate,
            sequence_num: r.sequence_num,
            src_addr: r.src_addr.as_bytes().to_vec(),
            dst_addr: r.dst_addr.as_bytes().to_vec(),
            bytes: r.bytes,
            packets: r.packets,
            sampler_address: r.sampler_address.as_bytes().to_vec(),
            next_hop: r.next_hop.as_bytes().to_vec(),
            next_hop_as: r.next_hop_as,
            src_as: r.src_as,
            dst_as: r.dst_as,
            src_net: r.src_net.into(),
            dst_net: r.dst_net.into(),
            in_if: r.in_if,
            out_if: r.out_if,
            proto: r.proto.into(),
            src_port: r.src_port.into(),
            dst_port: r.dst_port.into(),
            ip_tos: r.ip_tos.into(),
            forwarding_status: r.forwarding_status.into(),
            ip_ttl: r.ip_ttl.into(),
            tcp_flags: r.tcp_flags.into(),
            src_mac: r.src_mac,
            dst_mac: r.dst_mac,
            vlan_id: r.vlan_id.into(),
            etype: r.etype.into(),
            icmp_type: r.icmp_type.into(),
            icmp_code: r.icmp_code.into(),
            src_vlan: r.src_vlan.into(),
            dst_vlan: r.dst_vlan.into(),
            fragment_id: r.fragment_id,
            fragment_offset: r.fragment_offset.into(),
            ipv6_flow_label: r.ipv6_flow_label,
            ip_flags: r.ip_flags.into(),
            observation_domain_id: r.observation_domain_id,
            observation_point_id: r.observation_point_id,
            mpls_ttl: lists.mpls_ttl.as_slice().iter().map(|&t| u32::from(t)).collect(),
            mpls_label: r.mpls_label.as_slice().to_vec(),
            mpls_ip: addrs(lists.mpls_ip.as_slice()),
            bgp_next_hop: r.bgp_next_hop.as_bytes().to_vec(),
            bgp_communities: lists.bgp_communities.as_slice().to_vec(),
            as_path: lists.as_path.as_slice().to_vec(),
            layer_stack: r.layer_stack.iter().map(|l| l as i32).collect(),
            layer_size: Vec::new(),
            ipv6_routing_header_addresses: addrs(lists.ipv6_routing_header_addresses.as_slice()),
            ipv6_routing_header_seg_left: r.ipv6_routing_header_seg_left.into(),
            time_received_ns: r.time_received_ns,
            time_flow_start_ns: r.time_flow_start_ns,
            time_flow_end_ns: r.time_flow_end_ns,
        }
    }
}

#[inline]
fn key(w: &mut Vec<u8>, tag: u32, wire: u32) {
    leb128::write(w, u64::from((tag << 3) | wire));
}

#[inline]
fn uint(w: &mut Vec<u8>, tag: u32, v: u64) {
    if v != 0 {
        key(w, tag, 0);
        leb128::write(w, v);
    }
}

fn bytes(w: &mut Vec<u8>, tag: u32, b: &[u8]) {
    if !b.is_empty() {
        bytes_always(w, tag, b);
    }
}

fn bytes_always(w: &mut Vec<u8>, tag: u32, b: &[u8]) {
    key(w, tag, 2);
    leb128::write(w, b.len() as u64);
    w.extend_from_slice(b);
}

fn packed(w: &mut Vec<u8>, tag: u32, values: impl Iterator<Item = u64> + Clone) {
    let len: usize = values.clone().map(leb128::len).sum();
    if len > 0 {
        key(w, tag, 2);
        leb128::write(w, len as u64);
        for v in values {
            leb128::write(w, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// goflow2 v2.2's `flow.proto` numbers: `layer_size` 104, SRv6 addresses 105, segments left 106.
    #[test]
    fn goflow2s_layer_sizes_are_read_and_srv6_fields_use_its_numbers() {
        let segment: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut body = vec![0xC2, 0x06, 3, 14, 40, 20]; // 104: layer_size [14, 40, 20], packed
        body.extend_from_slice(&[0xCA, 0x06, 16]); // 105: one SRv6 address
        body.extend_from_slice(&segment);
        body.extend_from_slice(&[0xD0, 0x06, 2]); // 106: segments left
        let (rec, lists) = decode(&body).expect("a goflow2 message carrying layer_size");
        assert_eq!(rec.ipv6_routing_header_seg_left, 2);
        assert_eq!(lists.ipv6_routing_header_addresses.as_slice(), [Addr::from_slice(&segment).expect("v6")]);
        let mut out = Vec::new();
        encode(&rec, &lists, &mut out);
        assert_eq!(out, body[6..], "written back at goflow2's numbers, without sizes");
    }

    #[test]
    fn delimited_prefix_is_fixed_up_for_short_and_long_bodies() {
        let short = FlowRecord { bytes: 1, ..FlowRecord::default() };
        let mut out = vec![0xAA];
        encode_delimited(&short, &FlowLists::EMPTY, &mut out);
        assert_eq!(out, [0xAA, 2, 0x48, 1]);
        assert_eq!(decode_delimited(&out[1..]), Ok((short, FlowLists::EMPTY, 3)));
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        assert!(decode_delimited(&[]).is_err());
        assert_eq!(
            decode_delimited(&[5, 0]).map(|r| r.1),
            Err(Error::Protobuf { reason: Reason::Truncated, offset: 2 })
        );
        assert!(decode(&[0x0a]).is_err());
        // src_addr (field 6) of 3 bytes is not an address.
        assert!(matches!(decode(&[0x32, 3, 1, 2, 3]), Err(Error::Protobuf { reason: Reason::BadLength, .. })));
        assert!(decode_delimited(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        // src_port (field 21) of 70000 does not fit a port.
        assert!(matches!(
            decode(&[0xa8, 0x01, 0xf0, 0xa2, 0x04]),
            Err(Error::Protobuf { reason: Reason::OutOfRange, .. })
        ));
    }

    #[test]
    fn a_kafka_payload_holds_delimited_messages_or_one_plain_message() {
        let a = FlowRecord { bytes: 10, src_port: 443, ..FlowRecord::default() };
        let mut lists = FlowLists::EMPTY;
        lists.as_path.push(65000);
        let b = FlowRecord { packets: 2, ..FlowRecord::default() };
        let mut delimited = Vec::new();
        encode_delimited(&a, &lists, &mut delimited);
        encode_delimited(&b, &FlowLists::EMPTY, &mut delimited);
        let mut batch = Batch::with_capacity(4);
        assert_eq!(decode_payload(&delimited, &mut batch), Ok(2));
        assert_eq!(batch.records()[0].src_port, 443);
        assert_eq!(batch.lists(&batch.records()[0]).as_path.as_slice(), [65000]);
        assert_eq!(batch.records()[1].packets, 2);
        assert_eq!(batch.lists(&batch.records()[1]), &FlowLists::EMPTY);

        let mut plain = Vec::new();
        encode(&a, &FlowLists::EMPTY, &mut plain);
        assert_eq!(decode_payload(&plain, &mut batch), Ok(1));
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.records()[2].bytes, 10);
    }

    #[test]
    fn a_bad_or_oversized_payload_appends_nothing() {
        let mut batch = Batch::with_capacity(2);
        assert!(decode_payload(&[], &mut batch).is_err());
        assert!(decode_payload(&[0x0a, 0xff], &mut batch).is_err());
        let mut three = Vec::new();
        for _ in 0..3 {
            encode_delimited(&FlowRecord { bytes: 1, ..FlowRecord::default() }, &FlowLists::EMPTY, &mut three);
        }
        assert!(matches!(decode_payload(&three, &mut batch), Err(Error::Protobuf { reason: Reason::BatchFull, .. })));
        assert!(batch.is_empty());
    }
}
