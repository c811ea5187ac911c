//! NetFlow version 5: a 24-byte header and fixed 48-byte records (Cisco's published format).

use std::net::IpAddr;

use super::reader::Reader;
use super::{Fault, Faults};
use crate::error::Reason;
use crate::flow::{Addr, Batch, FlowRecord, FlowType, ListsRef};

const HEADER_LEN: usize = 24;
const RECORD_LEN: usize = 48;

pub(crate) fn decode(d: &[u8], exporter: IpAddr, now_ns: u64, batch: &mut Batch, faults: &mut Faults) {
    let mut h = Reader::new(d);
    let header = (|| {
        h.skip(2)?;
        Some((h.u16()?, h.u32()?, h.u32()?, h.u32()?, h.u32()?, h.u8()?, h.u8()?, h.u16()?))
    })();
    let Some((count, uptime_ms, secs, nsecs, sequence, _engine_type, _engine_id, sampling)) = header else {
        return faults.add(Fault::at(Reason::Truncated, h.pos()));
    };
    let export_ns = u64::from(secs) * 1_000_000_000 + u64::from(nsecs);
    // Top two bits are the sampling mode, the low 14 the interval.
    let sampling_rate = u64::from(sampling & 0x3fff);
    let to_ns = |switched_ms: u32| {
        export_ns.saturating_sub(u64::from(uptime_ms.wrapping_sub(switched_ms)).saturating_mul(1_000_000))
    };
    let (records, _) = d.get(HEADER_LEN..).unwrap_or(&[]).as_chunks::<RECORD_LEN>();
    let records = records.get(..usize::from(count)).unwrap_or(records);
    let complete = records.len();
    // The header's fields, shared by every record of the datagram.
    let base = FlowRecord {
        flow_type: FlowType::NetflowV5,
        time_received_ns: now_ns,
        sequence_num: sequence,
        sampling_rate,
        sampler_address: Addr::from(exporter),
        etype: 0x0800,
        extra: batch.fresh_extra(),
        lists: ListsRef::NONE,
        ..FlowRecord::default()
    };
    let slots = batch.push_slots(complete);
    let written = slots.len();
    // One capacity check for the whole datagram. The first slot gets the header's fields, every
    // other slot a block copy of the first: each record then overwrites the same fields, so what
    // it inherits from the copy is exactly the header's.
    if let Some((first, rest)) = slots.split_first_mut() {
        let mut records = records.iter();
        *first = base;
        if let Some(r) = records.next() {
            set_record_fields(first, r, to_ns);
        }
        for (slot, r) in rest.iter_mut().zip(records) {
            *slot = *first;
            set_record_fields(slot, r, to_ns);
        }
    }
    if written < complete {
        return faults.add(Fault::at(Reason::BatchFull, HEADER_LEN + written * RECORD_LEN));
    }
    if complete < usize::from(count) {
        faults.add(Fault::at(Reason::Truncated, HEADER_LEN + complete * RECORD_LEN));
    }
}

/// Writes the fields of the 48-byte record `r` into `rec`: the same fields for every record.
#[inline(always)]
fn set_record_fields(rec: &mut FlowRecord, r: &[u8; RECORD_LEN], to_ns: impl Fn(u32) -> u64) {
    let u16_at = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
    let u32_at = |i: usize| u32::from_be_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    rec.src_addr = Addr::v4([r[0], r[1], r[2], r[3]]);
    rec.dst_addr = Addr::v4([r[4], r[5], r[6], r[7]]);
    rec.next_hop = Addr::v4([r[8], r[9], r[10], r[11]]);
    rec.in_if = u32::from(u16_at(12));
    rec.out_if = u32::from(u16_at(14));
    rec.packets = u64::from(u32_at(16));
    rec.bytes = u64::from(u32_at(20));
    rec.time_flow_start_ns = to_ns(u32_at(24));
    rec.time_flow_end_ns = to_ns(u32_at(28));
    rec.src_port = u16_at(32);
    rec.dst_port = u16_at(34);
    rec.tcp_flags = u16::from(r[37]);
    rec.proto = r[38];
    rec.ip_tos = r[39];
    rec.src_as = u32::from(u16_at(40));
    rec.dst_as = u32::from(u16_at(42));
    rec.src_net = r[44];
    rec.dst_net = r[45];
}
