//! `helios-core`: the sans-IO data plane of Helios.
//!
//! Bytes and time go in, values come out: no sockets, clocks, threads or async runtime live here, so
//! everything is embeddable, fuzzable and benchmarkable. See `ARCHITECTURE.md` for the layout.
//!
//! - [`flow`]: the fixed-size, `Copy` [`flow::FlowRecord`] (goflow2 `FlowMessage` fields) and the reusable
//!   [`flow::Batch`] decoders write into.
//! - [`decode`]: NetFlow v5, NetFlow v9, IPFIX and sFlow v5 decoders behind one [`decode::Decoder`].
//! - [`encode`]: goflow2-compatible protobuf and JSON lines.
//! - [`enrich`]: GeoIP / ASN lookups compiled into flat tables, NetBox lookups, the label taxonomy.
//! - [`rollup`]: flows summed per minute over the aggregate tables' dimensions.
//! - [`targets`]: collection targets (gnmic, snmp_exporter, blackbox, Prometheus) from NetBox.
//! - [`redact`]: credentials kept out of printed configurations, logs and errors.

#![forbid(unsafe_code)]

pub mod decode;
pub mod encode;
pub mod enrich;
pub mod error;
pub mod flow;
pub mod redact;
pub mod rollup;
pub mod targets;

pub use error::{Error, Result};
