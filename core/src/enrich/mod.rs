//! Enrichment: what Helios adds to a flow from what it knows about addresses.
//!
//! - [`geoip`]: country, city, ASN and AS name of an address, from MaxMind databases compiled into
//!   flat range tables.
//!
//! Tables are immutable once built, so lookups never lock; a reload builds a new table and swaps it in.

pub mod geoip;
mod ranges;
