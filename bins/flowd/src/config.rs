//! helios-flowd's configuration: one struct, loaded by `helios_service::config` from defaults, a YAML
//! file, `HELIOS_FLOWD__*` variables and `--set` flags.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Everything helios-flowd can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// UDP addresses to receive on (NetFlow/IPFIX and sFlow alike: the protocol is read from each
    /// datagram).
    pub listen: Vec<SocketAddr>,
    /// Receive workers per address, each with its own SO_REUSEPORT socket, decoder and template cache.
    pub workers: usize,
    /// Kernel receive buffer per socket, in bytes.
    pub recv_buffer_bytes: usize,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub http: SocketAddr,
    /// Encoded flows waiting for ClickHouse, at most, in bytes; beyond it flows are dropped and
    /// counted (`helios_flowd_dropped_flows_total{reason="queue_full"}`). The default keeps the
    /// collector's worst case — this queue full, a block being built and transposed, the minute
    /// rollup at its budget — under 256 MiB resident (258 MiB was measured with 128 MiB here).
    pub queue_bytes: usize,
    /// ClickHouse inserts in flight at once (1 to 8). Each block is its own insert with its own
    /// deduplication token, so their order does not matter; two let the server read one block while it
    /// writes the other.
    pub insert_concurrency: usize,
    /// On shutdown, how long to keep trying to deliver what was accepted, in seconds.
    pub drain_secs: u64,
    /// Directory where NetFlow v9 / IPFIX templates are saved (every 5 minutes and at shutdown) and
    /// loaded from at start, so a restarted collector decodes at once instead of dropping data until
    /// every exporter resends its templates. None: templates live in memory only.
    pub template_dir: Option<std::path::PathBuf>,
    /// Bytes of compiled NetFlow v9 / IPFIX templates the whole process may hold, shared evenly by
    /// its decoders (one per listener and worker). When full, a new template evicts the templates
    /// data has used least recently, from exporters over their share: no sender can lock others out.
    pub template_memory_bytes: usize,
    /// Keep fields Helios does not map (enterprise-specific elements). Off: they cost a copy.
    pub keep_extra_fields: bool,
    /// Per-exporter metric series, at most; further exporters are counted under `exporter="other"`.
    pub max_exporter_series: usize,
    /// Enrichment data.
    pub enrichment: helios_enrichment::Sources,
    /// Where flows go (any combination).
    pub outputs: Outputs,
    /// Direct inserts into ClickHouse (`flows_raw`).
    pub clickhouse: helios_clickhouse::Config,
    /// Kafka brokers and topics, for the Kafka outputs.
    pub kafka: helios_kafka::Config,
}

/// Where flows go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Outputs {
    /// Enriched flows straight into ClickHouse `flows_raw` (the fastest path).
    pub clickhouse: bool,
    /// Raw flows on `kafka.raw_topic` as goflow2 writes them: one varint length-delimited
    /// `FlowMessage` per message, keyed by exporter (a drop-in for goflow2).
    pub kafka_raw: bool,
    /// Enriched flows on `kafka.enriched_topic`: one `RowBinaryWithNamesAndTypes` message per
    /// datagram, keyed by exporter (for the ClickHouse Kafka engine).
    pub kafka_enriched: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs { clickhouse: true, kafka_raw: false, kafka_enriched: false }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 2055)), SocketAddr::from(([0, 0, 0, 0], 6343))],
            workers: 1,
            recv_buffer_bytes: 32 << 20,
            http: SocketAddr::from(([0, 0, 0, 0], 9102)),
            queue_bytes: 112 << 20,
            insert_concurrency: 2,
            drain_secs: 25,
            template_dir: None,
            template_memory_bytes: 32 << 20,
            keep_extra_fields: false,
            max_exporter_series: 2_000,
            enrichment: helios_enrichment::Sources::default(),
            outputs: Outputs::default(),
            clickhouse: helios_clickhouse::Config::default(),
            kafka: helios_kafka::Config::default(),
        }
    }
}

impl Config {
    /// Rejects settings that cannot work, before anything starts.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.listen.is_empty(), "listen: at least one address is needed");
        anyhow::ensure!((1..=64).contains(&self.workers), "workers: 1 to 64, not {}", self.workers);
        anyhow::ensure!(self.queue_bytes > 0, "queue_bytes must be positive");
        anyhow::ensure!(
            (1..=8).contains(&self.insert_concurrency),
            "insert_concurrency: 1 to 8, not {}",
            self.insert_concurrency
        );
        let o = &self.outputs;
        anyhow::ensure!(o.clickhouse || o.kafka_raw || o.kafka_enriched, "outputs: enable at least one");
        if o.clickhouse {
            self.clickhouse.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_insert_concurrency_is_bounded() {
        Config::default().validate().expect("defaults");
        for bad in [0, 9] {
            let c = Config { insert_concurrency: bad, ..Config::default() };
            let e = c.validate().expect_err("out of range").to_string();
            assert_eq!(e, format!("insert_concurrency: 1 to 8, not {bad}"));
        }
    }
}
