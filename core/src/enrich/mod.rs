//! Enrichment: what Helios adds to a flow from what it knows about addresses.
//!
//! - [`enricher`]: a batch's records enriched from one snapshot, counters normalised by sampling.
//! - [`geoip`]: country, city, ASN and AS name of an address, from MaxMind databases compiled into
//!   flat range tables.
//! - [`inventory`]: NetBox devices, interfaces and prefixes, compiled into exporter, ifIndex and
//!   longest-prefix lookups.
//! - [`labels`]: the FR-018 label taxonomy.
//! - [`published`]: the current enrichment data, replaced atomically while readers keep reading.
//!
//! Tables are immutable once built, so lookups never lock; a reload builds a new table and swaps it in.

pub mod enricher;
pub mod geoip;
pub mod inventory;
pub mod labels;
pub mod published;
mod ranges;
