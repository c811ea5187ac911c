//! What NetFlow v9 and IPFIX share: learning templates into the cache and decoding data sets with them.

use std::net::IpAddr;

use super::fields::Clock;
use super::reader::Reader;
use super::template::{FieldSpec, Sink};
use super::templates::{Learned, SourceKey, TemplateCache};
use super::{DecodeStats, Fault, Faults};
use crate::error::Reason;
use crate::flow::{Batch, FlowRecord};

/// Counters of one datagram, added to the decoder's stats at the end.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    learned: u64,
    refreshed: u64,
    pub(crate) withdrawn: u64,
    options: u64,
    truncated_lists: u64,
}

impl Counters {
    pub(crate) fn add_to(&self, s: &mut DecodeStats) {
        s.templates_learned += self.learned;
        s.templates_refreshed += self.refreshed;
        s.templates_withdrawn += self.withdrawn;
        s.option_records += self.options;
        s.truncated_lists += self.truncated_lists;
    }
}

/// Decoder state lent to the v9 / IPFIX decoders for one datagram.
pub(crate) struct Context<'d> {
    pub(crate) cache: &'d mut TemplateCache,
    pub(crate) specs: &'d mut Vec<FieldSpec>,
    pub(crate) stats: Counters,
    pub(crate) keep_extras: bool,
    pub(crate) exporter: IpAddr,
    pub(crate) now_ns: u64,
}

impl Context<'_> {
    pub(crate) fn key(&self, version: u16, domain: u32) -> SourceKey {
        SourceKey { exporter: self.exporter, version, domain }
    }

    /// Learns the template whose fields are in `self.specs`.
    pub(crate) fn learn(
        &mut self,
        key: SourceKey,
        id: u16,
        scope_fields: u16,
        options: bool,
        at: usize,
        faults: &mut Faults,
    ) {
        if id < 256 {
            faults.add(Fault { reason: Reason::BadTemplate, offset: at, template_id: Some(id) });
            return;
        }
        match self.cache.learn(key, id, self.specs, scope_fields, options, super::secs(self.now_ns)) {
            Ok(Learned::New) => self.stats.learned += 1,
            Ok(Learned::Refreshed) => self.stats.refreshed += 1,
            Err(reason) => faults.add(Fault { reason, offset: at, template_id: Some(id) }),
        }
    }

    /// Decodes every data set (id >= 256) of `msg` into `batch`: the second pass over a datagram, after
    /// its template sets were learnt. The exporter's source is looked up once; option data met on the
    /// way applies to the data sets after it and is saved to the cache at the end.
    #[allow(clippy::too_many_arguments)] // one call site per protocol; a struct would only rename these
    pub(crate) fn data_sets(
        &mut self,
        key: SourceKey,
        msg: &[u8],
        header_len: usize,
        base: &FlowRecord,
        mut clock: Clock,
        batch: &mut Batch,
        faults: &mut Faults,
    ) {
        let now_s = super::secs(self.now_ns);
        let Context { cache, stats, keep_extras, .. } = self;
        let ttl = cache.ttl_secs();
        let source = cache.source(&key);
        let (mut sampling, mut sys_init_ms) = source.map_or((0, 0), |s| (s.sampling_rate, s.sys_init_ms));
        let mut learnt = None;
        for_each_set(msg, header_len, |id, at, body| {
            if id < 256 {
                return; // template and reserved sets: first pass
            }
            let template =
                source.and_then(|s| s.templates.get(&id)).filter(|t| now_s.saturating_sub(t.last_seen_s) <= ttl);
            let Some(tpl) = template else {
                return faults.add(Fault { reason: Reason::MissingTemplate, offset: at, template_id: Some(id) });
            };
            tpl.last_used_s.set(now_s);
            clock.sys_init_ms = sys_init_ms;
            let mut sink = Sink {
                batch: &mut *batch,
                base,
                clock,
                source_sampling: sampling,
                keep_extras: *keep_extras,
                truncated_lists: 0,
            };
            let result = tpl.decode_set(body, &mut sink);
            stats.truncated_lists += sink.truncated_lists;
            match result {
                Ok(opts) if opts.records > 0 => {
                    stats.options += opts.records as u64;
                    sampling = if opts.sampling != 0 { opts.sampling } else { sampling };
                    sys_init_ms = if opts.sys_init_ms != 0 { opts.sys_init_ms } else { sys_init_ms };
                    learnt = Some((opts.sampling, opts.sys_init_ms));
                }
                Ok(_) => {}
                Err((reason, offset)) => faults.add(Fault { reason, offset: at + offset, template_id: Some(id) }),
            }
        });
        if let Some((sampling, sys_init_ms)) = learnt {
            cache.set_options(&key, sampling, sys_init_ms);
        }
    }
}

/// Calls `f(set id, offset of the set body, set body)` for each set of a NetFlow v9 / IPFIX message
/// after its `header_len`-byte header. Returns the framing problem that ended the walk early, if any;
/// zero bytes after the last set are padding, not a problem.
pub(crate) fn for_each_set<'a>(
    msg: &'a [u8],
    header_len: usize,
    mut f: impl FnMut(u16, usize, &'a [u8]),
) -> Option<Fault> {
    let mut rd = Reader::new(msg);
    rd.skip(header_len)?;
    while rd.remaining() >= 4 {
        let at = rd.pos();
        let (Some(id), Some(len)) = (rd.u16(), rd.u16()) else { break };
        if len < 4 {
            let padding = id == 0 && len == 0 && is_zero_padding(rd.rest());
            return (!padding).then_some(Fault::at(Reason::BadLength, at));
        }
        let Some(body) = rd.take(usize::from(len) - 4) else {
            return Some(Fault::at(Reason::Truncated, at));
        };
        f(id, at + 4, body);
    }
    None
}

/// Whether `rest` is only zero bytes (exporters that pad datagrams with zeros after the last set).
pub(crate) fn is_zero_padding(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}
