//! NetFlow version 5: a 24-byte header and fixed 48-byte records (Cisco's published format).

use std::net::IpAddr;

use super::reader::Reader;
use super::{Fault, Faults};
use crate::error::Reason;
use crate::flow::{Addr, Batch, FlowRecord, FlowType};

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
    let sampler_address = Addr::from(exporter);
    let to_ns = |switched_ms: u32| {
        export_ns.saturating_sub(u64::from(uptime_ms.wrapping_sub(switched_ms)).saturating_mul(1_000_000))
    };
    let records = d[HEADER_LEN..].chunks_exact(RECORD_LEN).take(usize::from(count));
    let complete = records.len();
    for r in records {
        let u16_at = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        // Built whole, in its slot, over defaults (stored as zeros): no template copied and patched.
        let pushed = batch.push_with(|| FlowRecord {
            flow_type: FlowType::NetflowV5,
            time_received_ns: now_ns,
            sequence_num: sequence,
            sampling_rate,
            sampler_address,
            etype: 0x0800,
            src_addr: Addr::v4([r[0], r[1], r[2], r[3]]),
            dst_addr: Addr::v4([r[4], r[5], r[6], r[7]]),
            next_hop: Addr::v4([r[8], r[9], r[10], r[11]]),
            in_if: u32::from(u16_at(12)),
            out_if: u32::from(u16_at(14)),
            packets: u64::from(u32_at(16)),
            bytes: u64::from(u32_at(20)),
            time_flow_start_ns: to_ns(u32_at(24)),
            time_flow_end_ns: to_ns(u32_at(28)),
            src_port: u16_at(32),
            dst_port: u16_at(34),
            tcp_flags: u16::from(r[37]),
            proto: r[38],
            ip_tos: r[39],
            src_as: u32::from(u16_at(40)),
            dst_as: u32::from(u16_at(42)),
            src_net: r[44],
            dst_net: r[45],
            ..FlowRecord::default()
        });
        if pushed.is_none() {
            return faults.add(Fault::at(Reason::BatchFull, HEADER_LEN));
        }
    }
    if complete < usize::from(count) {
        faults.add(Fault::at(Reason::Truncated, HEADER_LEN + complete * RECORD_LEN));
    }
}
