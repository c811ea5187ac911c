//! `helios-kafka`: everything Helios does with Kafka (librdkafka through `rdkafka`).
//!
//! - [`producer`]: publishing flows. librdkafka's own queue is the bounded ring: while brokers are
//!   down, messages wait there (`message.timeout.ms = 0`: never expire) up to `ring_bytes`, and flow
//!   out in order on recovery (idempotent producer); what does not fit is refused at once and counted.
//! - [`consumer`]: reading flows in a consumer group with manual commits.
//! - [`cursor`]: the per-partition protocol that makes a replay after a crash produce the same
//!   ClickHouse blocks (same rows, same deduplication token), so nothing is stored twice.
//! - [`metrics`]: what the adapter reports.
#![forbid(unsafe_code)]

pub mod admin;
pub mod consumer;
pub mod cursor;
pub mod metrics;
pub mod producer;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

pub use consumer::FlowConsumer;
pub use metrics::Metrics;
pub use producer::FlowProducer;

/// Errors talking to Kafka. Messages never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// librdkafka refused the configuration or an operation.
    #[error("Kafka {what}: {source}")]
    Kafka {
        /// What was being done.
        what: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// The ring is full (brokers down for longer than it holds): the message was not accepted.
    #[error("Kafka ring full ({ring_bytes} bytes): message to {topic} refused")]
    RingFull {
        /// The topic.
        topic: String,
        /// The ring size.
        ring_bytes: usize,
    },
    /// The SASL password file could not be read.
    #[error("Kafka password file {path}: {detail}")]
    Password {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
}

/// The result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to reach Kafka and which topics carry flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Bootstrap brokers, `host:port,host:port`.
    pub brokers: String,
    /// Raw flows, goflow2-compatible protobuf.
    pub raw_topic: String,
    /// Enriched flows, ClickHouse `RowBinaryWithNamesAndTypes`.
    pub enriched_topic: String,
    /// Consumer group of the enricher.
    pub group: String,
    /// Producer ring: bytes of messages held while brokers are unreachable.
    pub ring_bytes: usize,
    /// Consumer session timeout, in milliseconds (how fast a dead member's partitions move).
    pub session_timeout_ms: u32,
    /// Further librdkafka properties (`security.protocol`, `sasl.mechanisms`, `sasl.username`, ...).
    /// Put no secret here: see `sasl_password_file`.
    pub properties: BTreeMap<String, String>,
    /// File holding `sasl.password` (a mounted Secret).
    pub sasl_password_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            brokers: "127.0.0.1:9092".into(),
            raw_topic: "helios-flows-raw".into(),
            enriched_topic: "helios-flows-enriched".into(),
            group: "helios-enricher".into(),
            ring_bytes: 256 << 20,
            session_timeout_ms: 10_000,
            properties: BTreeMap::new(),
            sasl_password_file: None,
        }
    }
}

impl Config {
    /// The librdkafka configuration common to producers and consumers.
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        if let Some(path) = &self.sasl_password_file {
            let password = std::fs::read_to_string(path)
                .map_err(|e| Error::Password { path: path.display().to_string(), detail: e.to_string() })?;
            c.set("sasl.password", password.trim_end_matches(['\r', '\n']));
        }
        Ok(c)
    }
}

pub(crate) fn kafka_error(what: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
    let what = what.into();
    move |source| Error::Kafka { what, source }
}
