//! helios-flowd's own metrics (`helios_flowd_*`); the adapters register theirs beside them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Per exporter and protocol.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExporterLabels {
    /// Exporter address, or `other` beyond `max_exporter_series`.
    pub exporter: String,
    /// `netflow_v5`, `netflow_v9`, `ipfix`, `sflow_v5` or `unknown`.
    pub protocol: &'static str,
}

/// Which (exporter, protocol) pairs have series of their own: at most `max` for the whole process,
/// shared by every worker (an exporter's datagrams may reach several, one per listener), so a flood
/// from spoofed addresses grows the metrics by `max` series at most. The rest count as `other`.
#[derive(Debug)]
pub struct ExporterSeries {
    admitted: std::sync::Mutex<rustc_hash::FxHashSet<(std::net::IpAddr, &'static str)>>,
    max: usize,
}

impl ExporterSeries {
    /// Room for `max` pairs.
    pub fn new(max: usize) -> ExporterSeries {
        ExporterSeries { admitted: Default::default(), max }
    }

    /// Whether `exporter` gets series of its own for `protocol` (it has them, or there is room).
    pub fn admit(&self, exporter: std::net::IpAddr, protocol: &'static str) -> bool {
        let mut admitted = self.admitted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        admitted.contains(&(exporter, protocol)) || (admitted.len() < self.max && admitted.insert((exporter, protocol)))
    }
}

/// A bounded reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: &'static str,
}

/// Which enrichment found nothing.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MissLabels {
    /// `exporter` (not in NetBox), `interface`, `geoip`.
    pub lookup: &'static str,
}

/// Shared by every worker and the sink; clones share series.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Datagrams received.
    pub datagrams: Family<ExporterLabels, Counter>,
    /// Flow records decoded.
    pub flows: Family<ExporterLabels, Counter>,
    /// Decode problems, by reason.
    pub decode_errors: Family<ReasonLabels, Counter>,
    /// Socket receive errors (not timeouts).
    pub receive_errors: Counter,
    /// Flows accepted then lost, by reason (`queue_full`, `clickhouse_refused`, `shutdown`).
    pub dropped_flows: Family<ReasonLabels, Counter>,
    /// Encoded bytes waiting for ClickHouse.
    pub queue_bytes: Gauge,
    /// Flows an enrichment lookup found nothing for.
    pub enrichment_misses: Family<MissLabels, Counter>,
    /// NetFlow v9 / IPFIX templates held, all workers.
    pub templates: Gauge,
    /// Bytes of those templates.
    pub template_bytes: Gauge,
    /// Templates evicted to make room for others (a full cache under a flood).
    pub template_evictions: Counter,
    /// Groups in the minute rollup waiting for `flows_1m`.
    pub rollup_groups: Gauge,
}

impl Metrics {
    /// Registers the metrics in `registry` (already prefixed `helios_flowd`).
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::default();
        registry.register("datagrams", "Datagrams received, by exporter and protocol", m.datagrams.clone());
        registry.register("flows", "Flow records decoded, by exporter and protocol", m.flows.clone());
        registry.register("decode_errors", "Decode problems, by reason", m.decode_errors.clone());
        registry.register("receive_errors", "UDP receive errors", m.receive_errors.clone());
        registry.register("dropped_flows", "Accepted flows lost, by reason", m.dropped_flows.clone());
        registry.register("queue_bytes", "Encoded bytes waiting for ClickHouse", m.queue_bytes.clone());
        registry.register(
            "enrichment_misses",
            "Flows an enrichment lookup found nothing for",
            m.enrichment_misses.clone(),
        );
        registry.register("templates", "NetFlow v9 / IPFIX templates held", m.templates.clone());
        registry.register("template_bytes", "Bytes of the compiled templates held", m.template_bytes.clone());
        registry.register(
            "template_evictions",
            "Templates evicted to make room for others' (least recently used by data, over their exporter's share)",
            m.template_evictions.clone(),
        );
        registry.register("rollup_groups", "Minute rollup groups waiting for flows_1m", m.rollup_groups.clone());
        m
    }

    /// Counts `rows` flows lost for `reason`.
    pub fn drop_flows(&self, reason: &'static str, rows: u64) {
        self.dropped_flows.get_or_create(&ReasonLabels { reason }).inc_by(rows);
    }
}
