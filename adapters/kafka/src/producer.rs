//! Publishing flows: keyed messages (one exporter's flows go to one partition, in order) through
//! librdkafka's queue, which is the bounded ring of the issue: while brokers are down messages wait
//! there — they never expire — and flow out in order when brokers return; when the ring is full,
//! `send` refuses at once and the refusal is counted.

use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::metrics::{Metrics, TopicLabels};
use crate::{Config, Error, Result, kafka_error};

/// Delivery reports: counts and latency.
struct Reports {
    metrics: Metrics,
    epoch: Instant,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    /// Microseconds since `epoch` when the message was sent.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_us: usize) {
        use rdkafka::Message as _;
        match result {
            Ok(m) => {
                let elapsed = (self.epoch.elapsed().as_micros() as usize).saturating_sub(sent_us);
                self.metrics.produce_seconds.observe(elapsed as f64 / 1e6);
                self.metrics.produced.get_or_create(&TopicLabels { topic: m.topic().to_owned() }).inc();
            }
            Err((e, m)) => {
                tracing::error!(error = %e, topic = m.topic(), "Kafka refused a message for good");
                self.metrics.error(m.topic(), "delivery_failed");
            }
        }
    }
}

/// A producer of flow messages. Cheap to share by reference across threads.
pub struct FlowProducer {
    inner: ThreadedProducer<Reports>,
    ring_bytes: usize,
    metrics: Metrics,
}

impl std::fmt::Debug for FlowProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowProducer").field("ring_bytes", &self.ring_bytes).finish()
    }
}

impl FlowProducer {
    /// A producer for `config`'s brokers.
    pub fn new(config: &Config, metrics: Metrics) -> Result<FlowProducer> {
        let mut c = config.client_config()?;
        let kbytes = (config.ring_bytes / 1024).clamp(1, 2_097_151);
        c.set("queue.buffering.max.kbytes", kbytes.to_string())
            .set("queue.buffering.max.messages", "2147483647")
            // Messages wait for brokers as long as it takes: the ring's size is the only bound.
            .set("message.timeout.ms", "0")
            // Retries keep order and never duplicate.
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("compression.type", "lz4");
        let reports = Reports { metrics: metrics.clone(), epoch: Instant::now() };
        let inner = c.create_with_context(reports).map_err(kafka_error("creating the producer"))?;
        Ok(FlowProducer { inner, ring_bytes: config.ring_bytes, metrics })
    }

    /// Queues one message; the ring holds it until a broker acknowledges it.
    pub fn send(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<()> {
        let sent_us = self.inner.context().epoch.elapsed().as_micros() as usize;
        let record = BaseRecord::with_opaque_to(topic, sent_us).key(key).payload(payload);
        match self.inner.send(record) {
            Ok(()) => Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                self.metrics.error(topic, "ring_full");
                Err(Error::RingFull { topic: topic.to_owned(), ring_bytes: self.ring_bytes })
            }
            Err((e, _)) => {
                self.metrics.error(topic, "rejected");
                Err(kafka_error(format!("producing to {topic}"))(e))
            }
        }
    }

    /// Messages in the ring, not yet acknowledged (also exported as `kafka_ring_messages`).
    pub fn waiting(&self) -> usize {
        let n = self.inner.in_flight_count().max(0);
        self.metrics.ring_messages.set(i64::from(n));
        n as usize
    }

    /// Waits until every queued message is acknowledged, or `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.inner.flush(timeout).map_err(kafka_error("flushing the producer"))
    }
}
