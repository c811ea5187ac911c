//! NetFlow version 9 (RFC 3954): a 20-byte header, then template (id 0), options template (id 1) and
//! data (id >= 256) flowsets.

use super::fields::Clock;
use super::reader::Reader;
use super::template::FieldSpec;
use super::templated::{Context, for_each_set};
use super::{Fault, Faults};
use crate::error::Reason;
use crate::flow::{Addr, Batch, FlowRecord, FlowType};

const HEADER_LEN: usize = 20;

pub(crate) fn decode(d: &[u8], ctx: &mut Context<'_>, batch: &mut Batch, faults: &mut Faults) {
    let mut h = Reader::new(d);
    let header = (|| {
        h.skip(4)?;
        Some((h.u32()?, h.u32()?, h.u32()?, h.u32()?))
    })();
    let Some((uptime_ms, secs, sequence, source_id)) = header else {
        return faults.add(Fault::at(Reason::Truncated, h.pos()));
    };
    let key = ctx.key(9, source_id);
    let base = FlowRecord {
        flow_type: FlowType::NetflowV9,
        time_received_ns: ctx.now_ns,
        sequence_num: sequence,
        sampler_address: Addr::from(ctx.exporter),
        observation_domain_id: source_id,
        ..FlowRecord::default()
    };
    let clock = Clock { export_ns: u64::from(secs) * 1_000_000_000, uptime_ms: Some(uptime_ms), sys_init_ms: 0 };
    let framing = for_each_set(d, HEADER_LEN, |id, at, body| match id {
        0 => templates(body, at, key, ctx, faults),
        1 => option_templates(body, at, key, ctx, faults),
        2..=255 => faults.add(Fault::at(Reason::BadSetId, at - 4)),
        _ => {}
    });
    if let Some(f) = framing {
        faults.add(f);
    }
    ctx.data_sets(key, d, HEADER_LEN, &base, clock, batch, faults);
}

/// Template records: id, field count, then (type, length) pairs.
fn templates(body: &[u8], at: usize, key: super::templates::SourceKey, ctx: &mut Context<'_>, faults: &mut Faults) {
    let mut rd = Reader::new(body);
    while rd.remaining() >= 4 {
        let start = at + rd.pos();
        let (Some(id), Some(count)) = (rd.u16(), rd.u16()) else {
            break;
        };
        if id == 0 && count == 0 {
            break; // padding
        }
        if !read_specs(&mut rd, usize::from(count), ctx.specs) {
            return faults.add(Fault { reason: Reason::Truncated, offset: start, template_id: Some(id) });
        }
        ctx.learn(key, id, 0, false, start, faults);
    }
}

/// Options template records: id, scope length and option length in bytes, then the fields.
fn option_templates(
    body: &[u8],
    at: usize,
    key: super::templates::SourceKey,
    ctx: &mut Context<'_>,
    faults: &mut Faults,
) {
    let mut rd = Reader::new(body);
    while rd.remaining() >= 6 {
        let start = at + rd.pos();
        let (Some(id), Some(scope_len), Some(opt_len)) = (rd.u16(), rd.u16(), rd.u16()) else {
            break;
        };
        if id == 0 {
            break; // padding
        }
        if scope_len % 4 != 0 || opt_len % 4 != 0 {
            return faults.add(Fault { reason: Reason::BadTemplate, offset: start, template_id: Some(id) });
        }
        let scope = usize::from(scope_len / 4);
        if !read_specs(&mut rd, scope + usize::from(opt_len / 4), ctx.specs) {
            return faults.add(Fault { reason: Reason::Truncated, offset: start, template_id: Some(id) });
        }
        ctx.learn(key, id, scope as u16, true, start, faults);
    }
}

/// Reads `count` (type, length) pairs into `specs`; `false` if the body ends first.
fn read_specs(rd: &mut Reader<'_>, count: usize, specs: &mut Vec<FieldSpec>) -> bool {
    specs.clear();
    if rd.remaining() < count * 4 {
        return false;
    }
    if count > super::MAX_TEMPLATE_FIELDS {
        // Leave `specs` empty: the template is skipped here and rejected as unusable by compile.
        return rd.skip(count * 4).is_some();
    }
    for _ in 0..count {
        let (Some(id), Some(len)) = (rd.u16(), rd.u16()) else {
            return false;
        };
        specs.push(FieldSpec { id, len, pen: 0 });
    }
    true
}
