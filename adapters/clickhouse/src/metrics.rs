//! What the adapter reports: rows and blocks inserted, insert latency, errors by reason, disk space.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// [`crate::Error::reason`].
    pub reason: &'static str,
}

/// Labels of the insert counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    /// [`crate::block::Table::as_str`].
    pub table: &'static str,
}

/// Labels of the disk gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiskLabel {
    /// ClickHouse's disk name.
    pub disk: String,
}

/// The adapter's metrics; clones share the same series.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Rows ClickHouse acknowledged, by table.
    pub rows: Family<TableLabel, Counter>,
    /// Blocks ClickHouse acknowledged, by table.
    pub blocks: Family<TableLabel, Counter>,
    /// Failed insert attempts, by reason.
    pub errors: Family<ReasonLabel, Counter>,
    /// Seconds per successful insert.
    pub insert_seconds: Histogram,
    /// Rollup failures: a stored block that could not be rolled up, or a `flows_1m` block refused
    /// (`flows_1m` then misses flows that `flows_raw` has).
    pub rollup_errors: Counter,
    /// Free bytes per ClickHouse disk.
    pub disk_free: Family<DiskLabel, Gauge<i64>>,
    /// Total bytes per ClickHouse disk.
    pub disk_total: Family<DiskLabel, Gauge<i64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            rows: Family::default(),
            blocks: Family::default(),
            errors: Family::default(),
            rollup_errors: Counter::default(),
            insert_seconds: Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            disk_free: Family::default(),
            disk_total: Family::default(),
        }
    }
}

impl Metrics {
    /// New metrics, registered under `helios_<component>_clickhouse_*`.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::default();
        let r = registry.sub_registry_with_prefix("clickhouse");
        r.register("rows", "Rows ClickHouse acknowledged, by table", m.rows.clone());
        r.register("blocks", "Insert blocks ClickHouse acknowledged, by table", m.blocks.clone());
        r.register("errors", "Failed ClickHouse requests, by reason", m.errors.clone());
        r.register("insert_duration_seconds", "Seconds per acknowledged insert", m.insert_seconds.clone());
        r.register(
            "rollup_errors",
            "Stored blocks not rolled up and flows_1m blocks refused (flows_1m misses their flows)",
            m.rollup_errors.clone(),
        );
        r.register("disk_free_bytes", "Free bytes on each ClickHouse disk", m.disk_free.clone());
        r.register("disk_total_bytes", "Size of each ClickHouse disk", m.disk_total.clone());
        m
    }
}
