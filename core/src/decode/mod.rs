//! Flow decoders: NetFlow v5, NetFlow v9, IPFIX and sFlow v5 behind one [`Decoder`].
//!
//! A [`Decoder`] owns the template cache and per-reason counters; the caller owns sockets, clocks and
//! threads and hands in `(exporter address, receive time, datagram bytes)`. Records are written into a
//! caller-provided, reusable [`Batch`]: once warmed up, decoding allocates nothing.

mod fields;
mod ipfix;
mod netflow_v5;
mod netflow_v9;
pub mod packet;
mod reader;
mod sflow;
mod template;
mod templated;
mod templates;

use std::net::IpAddr;

pub use template::{FieldSpec, MAX_TEMPLATE_FIELDS};
pub use templates::{TemplateCache, TemplateLimits};

use crate::error::{Error, Reason, Result};
use crate::flow::Batch;

/// The flow protocols Helios decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Cisco NetFlow version 5.
    NetflowV5,
    /// NetFlow version 9 (RFC 3954).
    NetflowV9,
    /// IPFIX (RFC 7011).
    Ipfix,
    /// sFlow version 5.
    SflowV5,
}

impl Protocol {
    /// Every protocol, in counter order.
    pub const ALL: [Protocol; 4] = [Protocol::NetflowV5, Protocol::NetflowV9, Protocol::Ipfix, Protocol::SflowV5];

    /// A stable, lower-case label for metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::NetflowV5 => "netflow_v5",
            Protocol::NetflowV9 => "netflow_v9",
            Protocol::Ipfix => "ipfix",
            Protocol::SflowV5 => "sflow_v5",
        }
    }

    /// Recognises a datagram's protocol from its version field.
    pub fn detect(datagram: &[u8]) -> Option<Protocol> {
        match datagram {
            [0, 5, ..] => Some(Protocol::NetflowV5),
            [0, 9, ..] => Some(Protocol::NetflowV9),
            [0, 10, ..] => Some(Protocol::Ipfix),
            [0, 0, 0, 5, ..] => Some(Protocol::SflowV5),
            _ => None,
        }
    }
}

/// Decoder settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecoderConfig {
    /// Bounds and TTL of the NetFlow v9 / IPFIX template cache.
    pub templates: TemplateLimits,
    /// Keep fields that map to no record field (enterprise-specific and unmapped elements) in the
    /// batch, addressable by (PEN, id). Off by default: it costs a copy of their bytes.
    pub keep_extra_fields: bool,
}

/// What the decoder has seen, for metrics. Monotonic counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Datagrams offered, by [`Protocol::ALL`] index (unrecognised ones count as `UnknownVersion`).
    pub datagrams: [u64; 4],
    /// Flow records produced, by protocol.
    pub flows: [u64; 4],
    /// Problems, by [`Reason::ALL`] index. One datagram can count several (one per bad set).
    pub errors: [u64; Reason::ALL.len()],
    /// Templates learnt or changed.
    pub templates_learned: u64,
    /// Templates re-sent unchanged.
    pub templates_refreshed: u64,
    /// Templates withdrawn by their exporter.
    pub templates_withdrawn: u64,
    /// Options data records applied (sampling rate, system init time).
    pub option_records: u64,
    /// sFlow interface counter samples produced.
    pub counter_samples: u64,
    /// Records whose inline lists (MPLS labels, AS path, communities) were longer than the record holds.
    pub truncated_lists: u64,
}

impl DecodeStats {
    /// Datagrams of `p`.
    pub fn datagrams(&self, p: Protocol) -> u64 {
        self.datagrams[p as usize]
    }

    /// Flows of `p`.
    pub fn flows(&self, p: Protocol) -> u64 {
        self.flows[p as usize]
    }

    /// Problems of kind `r`.
    pub fn errors(&self, r: Reason) -> u64 {
        self.errors[r.index()]
    }
}

/// A problem found while decoding, before the exporter and protocol are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) reason: Reason,
    pub(crate) offset: usize,
    pub(crate) template_id: Option<u16>,
}

impl Fault {
    pub(crate) fn at(reason: Reason, offset: usize) -> Fault {
        Fault { reason, offset, template_id: None }
    }
}

/// Collects the faults of one datagram: all are counted (straight into the decoder's counters), the
/// first is reported.
pub(crate) struct Faults<'a> {
    first: Option<Fault>,
    errors: &'a mut [u64; Reason::ALL.len()],
}

impl Faults<'_> {
    pub(crate) fn add(&mut self, f: Fault) {
        self.errors[f.reason.index()] += 1;
        self.first.get_or_insert(f);
    }
}

/// Decodes datagrams of every supported protocol, keeping template state per exporter.
#[derive(Debug, Default)]
pub struct Decoder {
    config: DecoderConfig,
    templates: TemplateCache,
    stats: DecodeStats,
    /// Reused while parsing template records, so a template refresh allocates nothing.
    specs: Vec<FieldSpec>,
}

impl Decoder {
    /// A decoder with `config`.
    pub fn new(config: DecoderConfig) -> Decoder {
        Decoder {
            config,
            templates: TemplateCache::new(config.templates),
            stats: DecodeStats::default(),
            specs: Vec::with_capacity(MAX_TEMPLATE_FIELDS),
        }
    }

    /// Decodes one datagram received from `exporter` at `now_ns` (ns since the Unix epoch), appending
    /// its flow records to `batch` and its sFlow counter samples to `batch.counters()`.
    ///
    /// Returns the number of flow records appended. On error the datagram was rejected wholly or in
    /// part: records decoded before the problem (and from other, valid sets) stay in `batch`, and the
    /// error names the first problem; every problem is counted in [`Decoder::stats`].
    pub fn decode(&mut self, exporter: IpAddr, now_ns: u64, datagram: &[u8], batch: &mut Batch) -> Result<usize> {
        let before = batch.len();
        let mut faults = Faults { first: None, errors: &mut self.stats.errors };
        let protocol = Protocol::detect(datagram);
        let mut learnt = templated::Counters::default();
        match protocol {
            Some(p) => {
                self.stats.datagrams[p as usize] += 1;
                match p {
                    Protocol::NetflowV5 => netflow_v5::decode(datagram, exporter, now_ns, batch, &mut faults),
                    Protocol::NetflowV9 | Protocol::Ipfix => {
                        let mut ctx = templated::Context {
                            cache: &mut self.templates,
                            specs: &mut self.specs,
                            stats: templated::Counters::default(),
                            keep_extras: self.config.keep_extra_fields,
                            exporter,
                            now_ns,
                        };
                        if p == Protocol::NetflowV9 {
                            netflow_v9::decode(datagram, &mut ctx, batch, &mut faults);
                        } else {
                            ipfix::decode(datagram, &mut ctx, batch, &mut faults);
                        }
                        learnt = ctx.stats;
                    }
                    Protocol::SflowV5 => {
                        let decoded = sflow::decode(datagram, exporter, now_ns, batch, &mut faults);
                        self.stats.counter_samples += decoded.counters;
                        self.stats.truncated_lists += decoded.truncated_lists;
                    }
                }
            }
            None => faults.add(Fault::at(Reason::UnknownVersion, 0)),
        }
        let first = faults.first;
        learnt.add_to(&mut self.stats);
        let produced = batch.len() - before;
        if let Some(p) = protocol {
            self.stats.flows[p as usize] += produced as u64;
        }
        match first {
            None => Ok(produced),
            Some(f) => Err(Error::Datagram {
                protocol: protocol.map_or("unknown", Protocol::as_str),
                exporter,
                reason: f.reason,
                offset: f.offset,
                template_id: f.template_id,
            }),
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// The template cache (for export, size metrics).
    pub fn templates(&self) -> &TemplateCache {
        &self.templates
    }

    /// The template cache, mutable (for import and purging expired templates).
    pub fn templates_mut(&mut self) -> &mut TemplateCache {
        &mut self.templates
    }
}

/// Seconds part of a nanosecond timestamp (template TTLs are kept in seconds).
pub(crate) const fn secs(ns: u64) -> u64 {
    ns / 1_000_000_000
}
