//! sFlow version 5 (sflow.org, "sFlow Version 5", 2004): flow samples and expanded flow samples with
//! raw packet headers, Ethernet / IPv4 / IPv6 data, extended switch / router / gateway records; counter
//! samples with generic interface counters. Other enterprises' and unknown formats are skipped.

use std::net::IpAddr;

use super::packet::{self, LinkType};
use super::reader::Reader;
use super::{Fault, Faults};
use crate::error::Reason;
use crate::flow::{Addr, Batch, FlowLists, FlowRecord, FlowType, InterfaceCounters};

/// sFlow header protocol numbers (`header_protocol`).
const HEADER_ETHERNET: u32 = 1;
const HEADER_IPV4: u32 = 11;
const HEADER_IPV6: u32 = 12;

/// What a datagram held besides its flows.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Interface counter samples appended.
    pub(crate) counters: u64,
    /// Flows whose AS path or communities were longer than a record holds (the rest dropped).
    pub(crate) truncated_lists: u64,
}

/// Decodes a datagram.
pub(crate) fn decode(d: &[u8], _exporter: IpAddr, now_ns: u64, batch: &mut Batch, faults: &mut Faults) -> Decoded {
    let mut rd = Reader::new(d);
    let header = (|| {
        rd.skip(4)?;
        let agent = address(&mut rd)?;
        Some((agent, rd.u32()?, rd.u32()?, rd.u32()?, rd.u32()?))
    })();
    let Some((agent, _sub_agent, sequence, _uptime, samples)) = header else {
        let reason = if d.len() >= 8 && !matches!(d[4..8], [0, 0, 0, 1] | [0, 0, 0, 2]) {
            Reason::BadAddressType
        } else {
            Reason::Truncated
        };
        faults.add(Fault::at(reason, rd.pos()));
        return Decoded::default();
    };
    let Some(agent) = agent else {
        faults.add(Fault::at(Reason::BadAddressType, 4));
        return Decoded::default();
    };
    let base = FlowRecord {
        flow_type: FlowType::Sflow5,
        time_received_ns: now_ns,
        sequence_num: sequence,
        sampler_address: agent,
        packets: 1,
        ..FlowRecord::default()
    };
    let mut out = Decoded::default();
    for _ in 0..samples {
        let at = rd.pos();
        let (Some(format), Some(len)) = (rd.u32(), rd.u32()) else {
            faults.add(Fault::at(Reason::Truncated, at));
            break;
        };
        let Some(body) = rd.take(len as usize) else {
            faults.add(Fault::at(Reason::Truncated, at));
            break;
        };
        let ok = match format {
            1 | 3 => flow_sample(body, format == 3, &base, batch).map(|truncated| {
                out.truncated_lists += u64::from(truncated);
            }),
            2 | 4 => match counter_sample(body, format == 4, &base, batch) {
                Some(n) => {
                    out.counters += n;
                    Ok(())
                }
                None => Err(Reason::Truncated),
            },
            _ => Ok(()), // other enterprises / formats
        };
        if let Err(reason) = ok {
            faults.add(Fault::at(reason, at));
        }
    }
    out
}

/// An sFlow `address`: type 1 = IPv4, 2 = IPv6. `Some(None)` for an unknown type.
fn address(rd: &mut Reader<'_>) -> Option<Option<Addr>> {
    Some(match rd.u32()? {
        1 => Some(Addr::v4(rd.array()?)),
        2 => Some(Addr::v6(rd.array()?)),
        _ => None,
    })
}

/// Appends the sample's flow; returns whether one of its lists was cut to fit. A sample without flow
/// records describes no traffic and appends nothing.
fn flow_sample(body: &[u8], expanded: bool, base: &FlowRecord, batch: &mut Batch) -> Result<bool, Reason> {
    let mut rd = Reader::new(body);
    let head = if expanded {
        // sequence, source id type, source id index, rate, pool, drops, input format/value, output format/value, records
        rd.array::<44>().map(|h| (be32(&h, 12), be32(&h, 28), be32(&h, 36), be32(&h, 40)))
    } else {
        // sequence, source id, rate, pool, drops, input, output, records; compact interfaces: the top two
        // bits are the format, the low 30 the ifIndex.
        rd.array::<32>().map(|h| (be32(&h, 8), be32(&h, 20) & 0x3fff_ffff, be32(&h, 24) & 0x3fff_ffff, be32(&h, 28)))
    };
    let (rate, input, output, records) = head.ok_or(Reason::Truncated)?;
    if records == 0 {
        return Ok(false);
    }
    let rec = batch.push(base).ok_or(Reason::BatchFull)?;
    let mut lists = None;
    let mut truncated = false;
    rec.sampling_rate = u64::from(rate);
    rec.in_if = input;
    rec.out_if = output;
    let complete = (|| {
        for _ in 0..records {
            let format = rd.u32()?;
            let len = rd.u32()? as usize;
            flow_record(format, rd.take(len)?, rec, &mut lists, &mut truncated)?;
        }
        Some(())
    })();
    if complete.is_none() {
        // A half-read sample would be a wrong flow: drop it.
        batch.pop();
        return Err(Reason::Truncated);
    }
    if let Some(lists) = lists {
        batch.attach_lists(lists);
    }
    Ok(truncated)
}

fn flow_record(
    format: u32,
    data: &[u8],
    rec: &mut FlowRecord,
    lists: &mut Option<FlowLists>,
    truncated: &mut bool,
) -> Option<()> {
    let mut rd = Reader::new(data);
    match format {
        1 => {
            // protocol, frame length, bytes stripped, header length
            let h: [u8; 16] = rd.array()?;
            let (protocol, frame_length) = (be32(&h, 0), be32(&h, 4));
            let header = rd.take(be32(&h, 12) as usize)?;
            rec.bytes = u64::from(frame_length);
            let link = match protocol {
                HEADER_ETHERNET => LinkType::Ethernet,
                HEADER_IPV4 => LinkType::Ipv4,
                HEADER_IPV6 => LinkType::Ipv6,
                _ => return Some(()),
            };
            packet::parse(header, link, rec, lists);
        }
        2 => {
            let length = rd.u32()?;
            let src: [u8; 8] = rd.array()?;
            let dst: [u8; 8] = rd.array()?;
            if rec.bytes == 0 {
                rec.bytes = u64::from(length);
            }
            rec.src_mac = mac(&src);
            rec.dst_mac = mac(&dst);
            rec.etype = rd.u32()? as u16;
        }
        3 | 4 => {
            let length = rd.u32()?;
            rec.proto = rd.u32()? as u8;
            if format == 3 {
                rec.src_addr = Addr::v4(rd.array()?);
                rec.dst_addr = Addr::v4(rd.array()?);
                rec.etype = 0x0800;
            } else {
                rec.src_addr = Addr::v6(rd.array()?);
                rec.dst_addr = Addr::v6(rd.array()?);
                rec.etype = 0x86dd;
            }
            rec.src_port = rd.u32()? as u16;
            rec.dst_port = rd.u32()? as u16;
            rec.tcp_flags = rd.u32()? as u16;
            rec.ip_tos = rd.u32()? as u8;
            if rec.bytes == 0 {
                rec.bytes = u64::from(length);
            }
        }
        1001 => {
            rec.src_vlan = rd.u32()? as u16;
            rd.skip(4)?;
            rec.dst_vlan = rd.u32()? as u16;
        }
        1002 => {
            rec.next_hop = address(&mut rd)?.unwrap_or_default();
            rec.src_net = rd.u32()? as u8;
            rec.dst_net = rd.u32()? as u8;
        }
        1003 => gateway(&mut rd, rec, lists.get_or_insert(FlowLists::EMPTY), truncated)?,
        _ => {}
    }
    Some(())
}

/// Extended gateway: BGP next hop, AS numbers, AS path segments and communities (`truncated` set when
/// a list is longer than the record holds).
fn gateway(rd: &mut Reader<'_>, rec: &mut FlowRecord, lists: &mut FlowLists, truncated: &mut bool) -> Option<()> {
    rec.bgp_next_hop = address(rd)?.unwrap_or_default();
    let own_as = rd.u32()?;
    rec.src_as = rd.u32()?;
    rd.skip(4)?; // src peer AS
    let segments = rd.u32()?;
    let mut last = None;
    for _ in 0..segments {
        rd.skip(4)?; // segment type (set / sequence)
        let n = rd.u32()?;
        for _ in 0..n {
            let asn = rd.u32()?;
            if lists.as_path.is_empty() {
                rec.next_hop_as = asn;
            }
            *truncated |= !lists.as_path.push(asn);
            last = Some(asn);
        }
    }
    rec.dst_as = last.unwrap_or(own_as);
    let communities = rd.u32()?;
    for _ in 0..communities {
        *truncated |= !lists.bgp_communities.push(rd.u32()?);
    }
    Some(())
}

/// Decodes a counter sample; returns how many interface counter records it held.
fn counter_sample(body: &[u8], expanded: bool, base: &FlowRecord, batch: &mut Batch) -> Option<u64> {
    let mut rd = Reader::new(body);
    let sequence = rd.u32()?;
    let source_id = if expanded {
        let t = rd.u32()?;
        (t << 24) | (rd.u32()? & 0x00ff_ffff)
    } else {
        rd.u32()?
    };
    let records = rd.u32()?;
    let mut n = 0;
    for _ in 0..records {
        let format = rd.u32()?;
        let len = rd.u32()? as usize;
        let data = rd.take(len)?;
        if format == 1 {
            let mut c = if_counters(data)?;
            c.sampler_address = base.sampler_address;
            c.sequence_num = sequence;
            c.source_id = source_id;
            if batch.push_counters(c) {
                n += 1;
            }
        }
    }
    Some(n)
}

fn if_counters(data: &[u8]) -> Option<InterfaceCounters> {
    let c: &[u8; 88] = data.get(..88)?.try_into().ok()?;
    let u32_at = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
    let u64_at =
        |i: usize| u64::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3], c[i + 4], c[i + 5], c[i + 6], c[i + 7]]);
    Some(InterfaceCounters {
        if_index: u32_at(0),
        if_type: u32_at(4),
        if_speed: u64_at(8),
        if_direction: u32_at(16),
        if_status: u32_at(20),
        if_in_octets: u64_at(24),
        if_in_ucast_pkts: u32_at(32),
        if_in_multicast_pkts: u32_at(36),
        if_in_broadcast_pkts: u32_at(40),
        if_in_discards: u32_at(44),
        if_in_errors: u32_at(48),
        if_in_unknown_protos: u32_at(52),
        if_out_octets: u64_at(56),
        if_out_ucast_pkts: u32_at(64),
        if_out_multicast_pkts: u32_at(68),
        if_out_broadcast_pkts: u32_at(72),
        if_out_discards: u32_at(76),
        if_out_errors: u32_at(80),
        if_promiscuous_mode: u32_at(84),
        ..InterfaceCounters::default()
    })
}

fn be32<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn mac(b: &[u8; 8]) -> u64 {
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}
