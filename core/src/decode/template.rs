//! A template (NetFlow v9 / IPFIX) compiled into a decode plan, and the walk that decodes a data set
//! with it. Templates are compiled once when they arrive; records are decoded by walking the plan.

use serde::{Deserialize, Serialize};

use super::fields::{self, Clock, Scratch, Target, VARIABLE_LENGTH};
use super::reader::Reader;
use crate::error::Reason;
use crate::flow::{Batch, FlowRecord, ListsRef};

/// Most fields a template may have. A 64 KiB datagram could carry ~16K; no real exporter comes near
/// this, and the bound keeps a template flood's memory predictable (see `TemplateLimits`).
pub const MAX_TEMPLATE_FIELDS: usize = 512;

/// Records up to this many bytes (a power of two) are decoded through a fixed-size window on which
/// every field read is in bounds by construction (offset < `WINDOW`, reads ≤ 16 bytes), so the
/// reads carry no bounds checks.
const WINDOW: usize = 256;
const WINDOW_LEN: usize = WINDOW + 16;

/// A fixed-length record as the field reads see it.
enum Window<'a> {
    /// The record at the start of a [`WINDOW_LEN`]-byte array.
    Fixed(&'a [u8; WINDOW_LEN]),
    /// A record longer than [`WINDOW`].
    Slice(&'a [u8]),
}

/// The window of the `record` at `start` of `body`: the body itself when it extends far enough past
/// the record, else a copy in `copy`.
#[inline(always)]
fn window<'a>(body: &'a [u8], start: usize, record: &'a [u8], copy: &'a mut [u8; WINDOW_LEN]) -> Window<'a> {
    if record.len() > WINDOW {
        return Window::Slice(record);
    }
    if let Some(w) = body.get(start..).and_then(<[u8]>::first_chunk::<WINDOW_LEN>) {
        return Window::Fixed(w);
    }
    match copy.get_mut(..record.len()) {
        Some(c) => {
            c.copy_from_slice(record);
            Window::Fixed(copy)
        }
        None => Window::Slice(record),
    }
}

/// One field of a template as the exporter sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Information element id (enterprise bit removed).
    pub id: u16,
    /// Length in bytes; 65535 for variable length.
    pub len: u16,
    /// Private enterprise number, 0 for IANA / NetFlow v9 elements.
    pub pen: u32,
}

#[derive(Debug, Clone, Copy)]
struct FieldOp {
    target: Target,
    /// See [`fields::numeric_shift`].
    shift: u8,
    len: u16,
    offset: u32,
    id: u16,
    pen: u32,
}

/// A compiled template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    specs: Box<[FieldSpec]>,
    scope_fields: u16,
    options: bool,
    ops: Box<[FieldOp]>,
    /// The ops that write the record (no skipped or unmapped fields): what fixed-length records walk.
    mapped: Box<[FieldOp]>,
    /// Record length when no field is variable-length.
    fixed_len: Option<usize>,
    /// Shortest possible record (variable-length fields count their 1-byte length prefix).
    min_len: usize,
    pub(crate) last_seen_s: u64,
    /// When data last used it (0: never): what makes it worth keeping when the cache is full. A
    /// `Cell`, so decoding marks it through the shared borrow the decoder walks sets with.
    pub(crate) last_used_s: std::cell::Cell<u64>,
}

/// Values an options data record carries for its exporter.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OptionValues {
    pub(crate) sampling: u64,
    pub(crate) sys_init_ms: u64,
    pub(crate) records: usize,
}

/// Where decoded data records go, and the datagram context they need.
pub(crate) struct Sink<'b> {
    pub(crate) batch: &'b mut Batch,
    pub(crate) base: &'b FlowRecord,
    pub(crate) clock: Clock,
    pub(crate) source_sampling: u64,
    pub(crate) keep_extras: bool,
    /// Records whose bounded lists overflowed.
    pub(crate) truncated_lists: u64,
}

impl Template {
    /// Compiles `specs`; `None` when the template is unusable (no fields, too many fields, or a data
    /// record that would be empty).
    pub(crate) fn compile(specs: &[FieldSpec], scope_fields: u16, options: bool, now_s: u64) -> Option<Template> {
        if specs.is_empty() || specs.len() > MAX_TEMPLATE_FIELDS || usize::from(scope_fields) > specs.len() {
            return None;
        }
        let mut offset = 0u32;
        let mut variable = false;
        let mut min_len = 0usize;
        let ops: Box<[FieldOp]> = specs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let target =
                    if i < usize::from(scope_fields) { Target::Skip } else { fields::target_for(f.pen, f.id, f.len) };
                let shift = fields::numeric_shift(f.len);
                let op = FieldOp { target, shift, len: f.len, offset, id: f.id, pen: f.pen };
                if f.len == VARIABLE_LENGTH {
                    variable = true;
                    min_len += 1;
                } else {
                    offset += u32::from(f.len);
                    min_len += usize::from(f.len);
                }
                op
            })
            .collect();
        if min_len == 0 {
            return None;
        }
        let mapped = ops.iter().filter(|op| !matches!(op.target, Target::Skip | Target::Unmapped)).copied().collect();
        Some(Template {
            specs: specs.into(),
            scope_fields,
            options,
            ops,
            mapped,
            fixed_len: (!variable).then_some(min_len),
            min_len,
            last_seen_s: now_s,
            last_used_s: std::cell::Cell::new(0),
        })
    }

    /// Bytes the compiled template holds: itself, its fields and both op lists.
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Template>()
            + std::mem::size_of_val(&*self.specs)
            + std::mem::size_of_val(&*self.ops)
            + std::mem::size_of_val(&*self.mapped)
    }

    /// Whether this template has exactly these fields (a refresh, not a change).
    pub(crate) fn same_as(&self, specs: &[FieldSpec], scope_fields: u16, options: bool) -> bool {
        *self.specs == *specs && self.scope_fields == scope_fields && self.options == options
    }

    pub(crate) fn specs(&self) -> &[FieldSpec] {
        &self.specs
    }

    pub(crate) fn scope_fields(&self) -> u16 {
        self.scope_fields
    }

    pub(crate) fn is_options(&self) -> bool {
        self.options
    }

    /// Decodes every record of a data set body (set header removed). Records go to `sink.batch`, or,
    /// for an options template, into the returned [`OptionValues`]. Trailing bytes shorter than a
    /// record are padding. On error, records decoded before it stay in the batch; the error carries
    /// the offset within `body`.
    pub(crate) fn decode_set(&self, body: &[u8], sink: &mut Sink<'_>) -> Result<OptionValues, (Reason, usize)> {
        if self.options {
            return self.decode_options(body);
        }
        let Some(n) = self.fixed_len else { return self.decode_variable(body, sink) };
        if sink.keep_extras {
            // Extras attach to the batch's last record: records go in one at a time.
            let mut copy = [0u8; WINDOW_LEN];
            for (i, record) in body.chunks_exact(n).enumerate() {
                let Some(rec) = sink.batch.push(sink.base) else { return Err((Reason::BatchFull, i * n)) };
                let truncated =
                    self.fill(rec, window(body, i * n, record, &mut copy), &sink.clock, sink.source_sampling);
                self.account(record, truncated, sink);
            }
            return Ok(OptionValues::default());
        }
        // The hot path: slots taken for the whole set at once, each written over the datagram's base
        // record, each field read at its precomputed offset.
        let count = body.len() / n;
        let extra = sink.batch.fresh_extra();
        let slots = sink.batch.push_slots(count);
        let written = slots.len();
        let mut copy = [0u8; WINDOW_LEN];
        for (i, (rec, record)) in slots.iter_mut().zip(body.chunks_exact(n)).enumerate() {
            // Copied whole from memory (one block copy), then the two per-record links set.
            *rec = *sink.base;
            rec.extra = extra;
            rec.lists = ListsRef::NONE;
            let truncated = self.fill(rec, window(body, i * n, record, &mut copy), &sink.clock, sink.source_sampling);
            sink.truncated_lists += u64::from(truncated);
        }
        if written < count {
            return Err((Reason::BatchFull, written * n));
        }
        Ok(OptionValues::default())
    }

    /// Writes a fixed-length record into `rec` (already holding the base record), through its
    /// [`window`] when it has one. Returns whether a bounded list overflowed.
    #[inline(always)]
    fn fill(&self, rec: &mut FlowRecord, record: Window<'_>, clock: &Clock, source_sampling: u64) -> bool {
        let mut s = Scratch::default();
        match record {
            // Masking is a no-op on real offsets (< WINDOW) and lets the compiler drop bounds checks.
            Window::Fixed(w) => self.read_fields(rec, w, WINDOW - 1, &mut s),
            Window::Slice(r) => self.read_fields(rec, r, usize::MAX, &mut s),
        }
        fields::finish(rec, &s, clock, source_sampling);
        s.truncated
    }

    #[inline(always)]
    fn read_fields(&self, rec: &mut FlowRecord, data: &[u8], mask: usize, s: &mut Scratch) {
        for op in self.mapped.iter() {
            fields::read_into(op.target, op.shift, data, op.offset as usize & mask, usize::from(op.len), rec, s);
        }
    }

    /// Records with variable-length fields: each record's length is found by walking it first.
    fn decode_variable(&self, body: &[u8], sink: &mut Sink<'_>) -> Result<OptionValues, (Reason, usize)> {
        let mut rd = Reader::new(body);
        while rd.remaining() >= self.min_len {
            let start = rd.pos();
            let Some(record) = self.variable_record(&mut rd) else { return Err((Reason::Truncated, start)) };
            let Some(rec) = sink.batch.push(sink.base) else { return Err((Reason::BatchFull, start)) };
            let mut s = Scratch::default();
            self.walk(record, |op, v| fields::apply(op.target, v, rec, &mut s));
            fields::finish(rec, &s, &sink.clock, sink.source_sampling);
            self.account(record, s.truncated, sink);
        }
        Ok(OptionValues::default())
    }

    /// After a record: counts overflowing lists and keeps its unmapped fields when asked to.
    #[inline(always)]
    fn account(&self, record: &[u8], truncated: bool, sink: &mut Sink<'_>) {
        sink.truncated_lists += u64::from(truncated);
        if sink.keep_extras {
            self.keep_extras(record, sink.batch);
        }
    }

    /// Options data records: their values are for the exporter, not flows.
    fn decode_options(&self, body: &[u8]) -> Result<OptionValues, (Reason, usize)> {
        let mut opts = OptionValues::default();
        let mut rd = Reader::new(body);
        while rd.remaining() >= self.min_len {
            let start = rd.pos();
            let record = match self.fixed_len {
                Some(n) => rd.take(n),
                None => self.variable_record(&mut rd),
            };
            let Some(record) = record else { return Err((Reason::Truncated, start)) };
            let mut rec = FlowRecord::default();
            let mut s = Scratch::default();
            self.walk(record, |op, v| fields::apply(op.target, v, &mut rec, &mut s));
            opts.records += 1;
            if s.sampling_rate() != 0 {
                opts.sampling = s.sampling_rate();
            }
            if s.sys_init_ms != 0 {
                opts.sys_init_ms = s.sys_init_ms;
            }
        }
        Ok(opts)
    }

    /// Keeps the unmapped fields of `record` (the last record of `batch`) as extras.
    fn keep_extras(&self, record: &[u8], batch: &mut Batch) {
        self.walk(record, |op, v| {
            if op.target == Target::Unmapped {
                batch.push_extra(op.pen, op.id, v);
            }
        });
    }

    /// Takes one variable-length record off `rd` (RFC 7011 §7: a 1-byte length, or 255 then 2 bytes).
    fn variable_record<'a>(&self, rd: &mut Reader<'a>) -> Option<&'a [u8]> {
        let rest = rd.rest();
        let mut probe = Reader::new(rest);
        for op in self.ops.iter() {
            let len = if op.len == VARIABLE_LENGTH { var_len(&mut probe)? } else { usize::from(op.len) };
            probe.skip(len)?;
        }
        rd.take(probe.pos())
    }

    /// Calls `f` with each field's op and value bytes. `record` is exactly one record (taken by
    /// `decode_set`), so every slice is in bounds; `get` keeps that a checked fact, not an assumption.
    #[inline]
    fn walk<'a>(&self, record: &'a [u8], mut f: impl FnMut(&FieldOp, &'a [u8])) {
        if self.fixed_len.is_some() {
            for op in self.ops.iter() {
                let at = op.offset as usize;
                if let Some(v) = record.get(at..at + usize::from(op.len)) {
                    f(op, v);
                }
            }
            return;
        }
        let mut rd = Reader::new(record);
        for op in self.ops.iter() {
            let len = if op.len == VARIABLE_LENGTH { var_len(&mut rd) } else { Some(usize::from(op.len)) };
            match len.and_then(|n| rd.take(n)) {
                Some(v) => f(op, v),
                None => return,
            }
        }
    }
}

fn var_len(rd: &mut Reader<'_>) -> Option<usize> {
    match rd.u8()? {
        255 => rd.u16().map(usize::from),
        n => Some(usize::from(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u16, len: u16) -> FieldSpec {
        FieldSpec { id, len, pen: 0 }
    }

    /// Decodes the data set `body` with `t` into a fresh 32-record batch.
    fn decode(t: &Template, body: &[u8], keep_extras: bool) -> (Batch, Result<OptionValues, (Reason, usize)>) {
        let mut batch = Batch::with_capacity(32);
        let base = FlowRecord::default();
        let mut sink = Sink {
            batch: &mut batch,
            base: &base,
            clock: Clock::default(),
            source_sampling: 0,
            keep_extras,
            truncated_lists: 0,
        };
        let result = t.decode_set(body, &mut sink);
        (batch, result)
    }

    #[test]
    fn unusable_templates_do_not_compile() {
        assert!(Template::compile(&[], 0, false, 0).is_none());
        assert!(Template::compile(&[spec(1, 0)], 0, false, 0).is_none());
        assert!(Template::compile(&vec![spec(1, 4); MAX_TEMPLATE_FIELDS + 1], 0, false, 0).is_none());
        assert!(Template::compile(&[spec(1, 4)], 2, true, 0).is_none());
        let t = Template::compile(&[spec(1, 4), spec(2, 0)], 0, false, 0).expect("valid");
        assert!(t.same_as(&[spec(1, 4), spec(2, 0)], 0, false));
        assert!(!t.same_as(&[spec(1, 4)], 0, false));
    }

    #[test]
    fn variable_length_records_use_one_or_three_byte_lengths() {
        let t = Template::compile(&[spec(7, 2), spec(82, VARIABLE_LENGTH), spec(11, 2)], 0, false, 0).expect("valid");
        let mut body = vec![0, 80, 3, b'a', b'b', b'c', 1, 187];
        body.extend_from_slice(&[0, 81, 255, 1, 0]);
        body.extend(std::iter::repeat_n(b'x', 256));
        body.extend_from_slice(&[0, 53]);
        let (batch, result) = decode(&t, &body, true);
        result.expect("decodes");
        let recs = batch.records();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].src_port, recs[0].dst_port), (80, 443));
        assert_eq!((recs[1].src_port, recs[1].dst_port), (81, 53));
        assert_eq!(batch.extra_field(&recs[0], 0, 82), Some(&b"abc"[..]));
        assert_eq!(batch.extra_field(&recs[1], 0, 82).map(<[u8]>::len), Some(256));
    }

    #[test]
    fn records_longer_than_the_window_and_at_the_set_end_decode_alike() {
        // 300-byte records take the checked path; 20-byte ones end the set within a window's length
        // (the last ones are copied). The fields sit at both ends of each record.
        for pad in [292u16, 12] {
            let t =
                Template::compile(&[spec(7, 2), spec(82, pad), spec(11, 2), spec(1, 4)], 0, false, 0).expect("valid");
            let mut body = Vec::new();
            for i in 0..20u16 {
                body.extend_from_slice(&i.to_be_bytes());
                body.extend(std::iter::repeat_n(i as u8, usize::from(pad)));
                body.extend_from_slice(&(1000 + i).to_be_bytes());
                body.extend_from_slice(&u32::from(i * 7).to_be_bytes());
            }
            for keep_extras in [false, true] {
                let (batch, result) = decode(&t, &body, keep_extras);
                result.expect("decodes");
                let recs = batch.records();
                assert_eq!(recs.len(), 20, "pad {pad}");
                for (i, r) in (0u16..).zip(recs) {
                    assert_eq!((r.src_port, r.dst_port, r.bytes), (i, 1000 + i, u64::from(i * 7)), "pad {pad}");
                    let name = batch.extra_field(r, 0, 82);
                    assert_eq!(name.map(|b| b.len()), keep_extras.then_some(usize::from(pad)));
                }
            }
        }
    }

    #[test]
    fn a_record_cut_short_is_an_error_after_the_good_ones() {
        let t = Template::compile(&[spec(82, VARIABLE_LENGTH), spec(7, 2)], 0, false, 0).expect("valid");
        let body = [1, b'a', 0, 1, 9, b'b', b'c'];
        let (batch, result) = decode(&t, &body, false);
        assert_eq!(result.map(|o| o.records), Err((Reason::Truncated, 4)));
        assert_eq!(batch.len(), 1);
    }
}
