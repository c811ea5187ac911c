//! helios-enricher's configuration: one struct, loaded by `helios_service::config` from defaults, a
//! YAML file, `HELIOS_ENRICHER__*` variables and `--set` flags.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Where enriched flows go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Outputs {
    /// Insert into ClickHouse `flows_raw` (deduplicated: exactly once per Kafka offset range).
    pub clickhouse: bool,
    /// Publish to the enriched topic (`RowBinaryWithNamesAndTypes`, one message per raw message, same
    /// key), for the ClickHouse Kafka-engine path. At least once: a replay publishes again.
    pub kafka: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs { clickhouse: true, kafka: false }
    }
}

/// Everything helios-enricher can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `/metrics`, `/healthz`, `/readyz`.
    pub http: SocketAddr,
    /// Brokers, topics, group.
    pub kafka: helios_kafka::Config,
    /// Create the raw and enriched topics with this many partitions when missing (0: never create).
    pub create_topic_partitions: i32,
    /// ClickHouse connection, batching and retention.
    pub clickhouse: helios_clickhouse::Config,
    /// Where enriched flows go.
    pub outputs: Outputs,
    /// Enrichment data.
    pub enrichment: helios_enrichment::Sources,
    /// Flows one Kafka message may carry, at most; a message with more is counted as malformed.
    pub max_message_flows: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: SocketAddr::from(([0, 0, 0, 0], 9103)),
            kafka: helios_kafka::Config::default(),
            create_topic_partitions: 0,
            clickhouse: helios_clickhouse::Config::default(),
            outputs: Outputs::default(),
            enrichment: helios_enrichment::Sources::default(),
            max_message_flows: 8192,
        }
    }
}

impl Config {
    /// Rejects settings that cannot work, before anything starts.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.outputs.clickhouse || self.outputs.kafka, "outputs: enable clickhouse, kafka or both");
        anyhow::ensure!(self.max_message_flows > 0, "max_message_flows must be positive");
        if self.outputs.clickhouse {
            self.clickhouse.validate()?;
        }
        Ok(())
    }
}
