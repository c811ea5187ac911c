//! IPFIX (RFC 7011): a 16-byte message header, then template (id 2), options template (id 3) and data
//! (id >= 256) sets. Enterprise-specific fields, variable-length fields, reduced-size encoding,
//! padding and template withdrawal are handled.

use super::fields::Clock;
use super::reader::Reader;
use super::template::FieldSpec;
use super::templated::{Context, for_each_set, is_zero_padding};
use super::templates::SourceKey;
use super::{Fault, Faults};
use crate::error::Reason;
use crate::flow::{Addr, Batch, FlowRecord, FlowType};

const HEADER_LEN: usize = 16;
const TEMPLATE_SET: u16 = 2;
const OPTIONS_TEMPLATE_SET: u16 = 3;

pub(crate) fn decode(d: &[u8], ctx: &mut Context<'_>, batch: &mut Batch, faults: &mut Faults) {
    let mut h = Reader::new(d);
    let header = (|| {
        h.skip(2)?;
        Some((h.u16()?, h.u32()?, h.u32()?, h.u32()?))
    })();
    let Some((length, export_s, sequence, domain)) = header else {
        return faults.add(Fault::at(Reason::Truncated, h.pos()));
    };
    let length = usize::from(length);
    if length < HEADER_LEN {
        return faults.add(Fault::at(Reason::BadLength, 2));
    }
    let Some(message) = d.get(..length) else {
        return faults.add(Fault::at(Reason::Truncated, d.len()));
    };
    let key = ctx.key(10, domain);
    let base = FlowRecord {
        flow_type: FlowType::Ipfix,
        time_received_ns: ctx.now_ns,
        sequence_num: sequence,
        sampler_address: Addr::from(ctx.exporter),
        observation_domain_id: domain,
        ..FlowRecord::default()
    };
    let clock = Clock { export_ns: u64::from(export_s) * 1_000_000_000, uptime_ms: None, sys_init_ms: 0 };
    let framing = for_each_set(message, HEADER_LEN, |id, at, body| match id {
        TEMPLATE_SET | OPTIONS_TEMPLATE_SET => templates(body, at, id, key, ctx, faults),
        0..=255 => faults.add(Fault::at(Reason::BadSetId, at - 4)),
        _ => {}
    });
    if let Some(f) = framing {
        faults.add(f);
    }
    ctx.data_sets(key, message, HEADER_LEN, &base, clock, batch, faults);
}

/// Template or options template records; a record with no fields withdraws its template, or all of
/// them when its id is the set id (RFC 7011 §8.1).
fn templates(body: &[u8], at: usize, set_id: u16, key: SourceKey, ctx: &mut Context<'_>, faults: &mut Faults) {
    let options = set_id == OPTIONS_TEMPLATE_SET;
    let mut rd = Reader::new(body);
    while rd.remaining() >= 4 {
        let start = at + rd.pos();
        let (Some(id), Some(count)) = (rd.u16(), rd.u16()) else {
            break;
        };
        if id == 0 && is_zero_padding(rd.rest()) {
            break;
        }
        if count == 0 {
            ctx.stats.withdrawn += if id == set_id {
                ctx.cache.withdraw_all(&key, options) as u64
            } else {
                u64::from(ctx.cache.withdraw(&key, id))
            };
            continue;
        }
        let scope = if options {
            match rd.u16() {
                Some(s) if s <= count => s,
                _ => {
                    return faults.add(Fault { reason: Reason::BadTemplate, offset: start, template_id: Some(id) });
                }
            }
        } else {
            0
        };
        if !read_specs(&mut rd, usize::from(count), ctx.specs) {
            return faults.add(Fault { reason: Reason::Truncated, offset: start, template_id: Some(id) });
        }
        ctx.learn(key, id, scope, options, start, faults);
    }
}

/// Reads `count` field specifiers (id with enterprise bit, length, optional PEN) into `specs`.
fn read_specs(rd: &mut Reader<'_>, count: usize, specs: &mut Vec<FieldSpec>) -> bool {
    specs.clear();
    for _ in 0..count {
        let (Some(raw), Some(len)) = (rd.u16(), rd.u16()) else {
            return false;
        };
        let pen = if raw & 0x8000 != 0 {
            match rd.u32() {
                Some(p) => p,
                None => return false,
            }
        } else {
            0
        };
        // Past the field bound the template cannot compile; keep reading to stay aligned.
        if specs.len() <= super::MAX_TEMPLATE_FIELDS {
            specs.push(FieldSpec { id: raw & 0x7fff, len, pen });
        }
    }
    true
}
