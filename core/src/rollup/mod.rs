//! Rollups: flows summed per minute over the dimensions of the `flows_1m` table, computed by Helios
//! from the blocks it stored in `flows_raw`, so that ClickHouse does not aggregate every insert block
//! in a materialized view (`perf/README.md`: the views set the enriched ingest ceiling).
//!
//! - [`groups`]: the hash table of groups, keys in one arena.
//! - [`minute`]: [`minute::MinuteRollup`], `flows_raw` `Native` blocks in, `flows_1m` `RowBinary` rows out.
//!
//! The dimension list lives here, beside the code that must match it; the ClickHouse adapter builds
//! the aggregate tables from it.

pub mod groups;
pub mod minute;

/// The dimensions of `flows_1m` and `flows_1h`: `flows_raw` columns, in this order after `time`.
pub const DIMENSIONS: [&str; 23] = [
    "type",
    "sampler_address",
    "exporter_device",
    "exporter_site",
    "exporter_region",
    "exporter_role",
    "exporter_tier",
    "exporter_tenant",
    "in_if",
    "out_if",
    "in_if_name",
    "out_if_name",
    "etype",
    "proto",
    "src_as",
    "dst_as",
    "src_as_name",
    "dst_as_name",
    "src_country",
    "dst_country",
    "src_prefix_tenant",
    "dst_prefix_tenant",
    "as_path",
];

/// What is aggregated per group, after the dimensions: maxima of the speeds, sums of the rest.
pub const MEASURES: [&str; 5] = ["in_if_speed", "out_if_speed", "bytes", "packets", "flows"];

/// The columns of a rollup row, for `INSERT INTO flows_1m (...)`: `time`, the dimensions, the
/// measures.
pub fn column_names() -> String {
    std::iter::once("time").chain(DIMENSIONS).chain(MEASURES).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::rowbinary::FLOW_COLUMNS;

    #[test]
    fn every_dimension_and_measured_column_is_a_flows_raw_column() {
        for d in DIMENSIONS.iter().chain(&MEASURES[..4]) {
            assert!(FLOW_COLUMNS.iter().any(|c| c.name == *d), "{d}");
        }
        assert!(column_names().starts_with("time, type, sampler_address, "));
        assert!(column_names().ends_with(", as_path, in_if_speed, out_if_speed, bytes, packets, flows"));
    }
}
