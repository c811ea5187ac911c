//! What the adapter reports: produced and failed messages, produce latency, ring fill, consumed
//! messages and consumer lag.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Per topic.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    /// The topic.
    pub topic: String,
}

/// Per topic and reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The topic.
    pub topic: String,
    /// `ring_full`, `delivery_failed`, `rejected`.
    pub reason: &'static str,
}

/// Per partition.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

/// The adapter's metrics; clones share series.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Messages brokers acknowledged.
    pub produced: Family<TopicLabels, Counter>,
    /// Messages not produced, by reason.
    pub produce_errors: Family<ErrorLabels, Counter>,
    /// Seconds from send to acknowledgement.
    pub produce_seconds: Histogram,
    /// Messages waiting in the producer ring.
    pub ring_messages: Gauge,
    /// Messages consumed.
    pub consumed: Family<TopicLabels, Counter>,
    /// Messages behind the partition's high watermark, as of the last message read.
    pub lag: Family<PartitionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            produced: Family::default(),
            produce_errors: Family::default(),
            produce_seconds: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 300.0]),
            ring_messages: Gauge::default(),
            consumed: Family::default(),
            lag: Family::default(),
        }
    }
}

impl Metrics {
    /// New metrics, registered under `<prefix>_kafka_*`.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::default();
        let r = registry.sub_registry_with_prefix("kafka");
        r.register("produced", "Messages the brokers acknowledged", m.produced.clone());
        r.register("produce_errors", "Messages not produced, by reason", m.produce_errors.clone());
        r.register("produce_latency_seconds", "Seconds from send to acknowledgement", m.produce_seconds.clone());
        r.register("ring_messages", "Messages waiting in the producer ring", m.ring_messages.clone());
        r.register("consumed", "Messages consumed", m.consumed.clone());
        r.register("consumer_lag", "Messages behind the high watermark, per partition", m.lag.clone());
        m
    }

    pub(crate) fn error(&self, topic: &str, reason: &'static str) {
        self.produce_errors.get_or_create(&ErrorLabels { topic: topic.to_owned(), reason }).inc();
    }
}
