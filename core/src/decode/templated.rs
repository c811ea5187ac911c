//! What NetFlow v9 and IPFIX share: learning templates into the cache and decoding data sets with them.

use std::net::IpAddr;

use super::fields::Clock;
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

    /// Decodes data set `id` (body at datagram offset `at`) into `batch`.
    #[allow(clippy::too_many_arguments)] // one call site per protocol; a struct would only rename these
    pub(crate) fn data_set(
        &mut self,
        key: SourceKey,
        id: u16,
        body: &[u8],
        at: usize,
        base: &FlowRecord,
        mut clock: Clock,
        batch: &mut Batch,
        faults: &mut Faults,
    ) {
        let Some((tpl, src)) = self.cache.template(&key, id, super::secs(self.now_ns)) else {
            faults.add(Fault { reason: Reason::MissingTemplate, offset: at, template_id: Some(id) });
            return;
        };
        clock.sys_init_ms = src.sys_init_ms;
        let mut sink = Sink {
            batch,
            base,
            clock,
            source_sampling: src.sampling_rate,
            keep_extras: self.keep_extras,
            truncated_lists: 0,
        };
        let result = tpl.decode_set(body, &mut sink);
        self.stats.truncated_lists += sink.truncated_lists;
        match result {
            Ok(opts) => {
                if opts.records > 0 {
                    self.stats.options += opts.records as u64;
                    self.cache.set_options(&key, opts.sampling, opts.sys_init_ms);
                }
            }
            Err((reason, offset)) => faults.add(Fault { reason, offset: at + offset, template_id: Some(id) }),
        }
    }
}

/// Whether `rest` is only zero bytes (exporters that pad datagrams with zeros after the last set).
pub(crate) fn is_zero_padding(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}
