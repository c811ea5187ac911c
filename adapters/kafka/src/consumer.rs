//! Reading flows in a consumer group. Offsets are never committed automatically: the caller commits
//! once its sink acknowledged (see [`crate::cursor`]), so a crash replays instead of losing.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientContext, Message as _};

use crate::metrics::{Metrics, PartitionLabels, TopicLabels};
use crate::{Config, Result, kafka_error};

/// Tracks revocations (so the caller drops state for partitions it no longer owns) and lag.
struct Group {
    metrics: Metrics,
    revoked: Mutex<Vec<i32>>,
}

impl ClientContext for Group {
    fn stats(&self, stats: Statistics) {
        for (topic, t) in stats.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.consumer_lag >= 0 {
                    let labels = PartitionLabels { topic: topic.clone(), partition };
                    self.metrics.lag.get_or_create(&labels).set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for Group {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let mut revoked = self.revoked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            revoked.extend(list.elements().iter().map(|e| e.partition()));
            tracing::info!(partitions = ?*revoked, "partitions revoked");
        }
    }
}

/// One message, borrowed from the consumer.
pub struct Received<'a>(BorrowedMessage<'a>);

impl Received<'_> {
    /// Partition.
    pub fn partition(&self) -> i32 {
        self.0.partition()
    }

    /// Offset.
    pub fn offset(&self) -> i64 {
        self.0.offset()
    }

    /// Key (the exporter, for Helios producers).
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key()
    }

    /// Payload (absent: a tombstone, which carries no flows).
    pub fn payload(&self) -> Option<&[u8]> {
        self.0.payload()
    }
}

/// A group member reading one topic.
pub struct FlowConsumer {
    inner: StreamConsumer<Group>,
    topic: String,
    group: String,
}

impl std::fmt::Debug for FlowConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowConsumer").field("topic", &self.topic).field("group", &self.group).finish()
    }
}

impl FlowConsumer {
    /// Joins `config.group` and subscribes to `topic`, starting from the earliest offset when the
    /// group has committed none.
    pub fn new(config: &Config, topic: &str, metrics: Metrics) -> Result<FlowConsumer> {
        let mut c = config.client_config()?;
        c.set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", config.session_timeout_ms.to_string())
            .set("statistics.interval.ms", "5000");
        let group = Group { metrics, revoked: Mutex::new(Vec::new()) };
        let inner: StreamConsumer<Group> =
            c.create_with_context(group).map_err(kafka_error("creating the consumer"))?;
        inner.subscribe(&[topic]).map_err(kafka_error(format!("subscribing to {topic}")))?;
        Ok(FlowConsumer { inner, topic: topic.to_owned(), group: config.group.clone() })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The next message.
    pub async fn recv(&self) -> Result<Received<'_>> {
        let m = self.inner.recv().await.map_err(kafka_error(format!("reading {}", self.topic)))?;
        self.inner.context().metrics.consumed.get_or_create(&TopicLabels { topic: self.topic.clone() }).inc();
        Ok(Received(m))
    }

    /// Partitions revoked since the last call.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.inner.context().revoked.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The group's committed offset of `partition` (none yet: `None`) and its metadata.
    pub fn committed(&self, partition: i32, timeout: Duration) -> Result<(Option<i64>, String)> {
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.topic, partition);
        let list = self.inner.committed_offsets(list, timeout).map_err(kafka_error("reading committed offsets"))?;
        let found = list.find_partition(&self.topic, partition);
        Ok(match found {
            Some(e) => match e.offset() {
                Offset::Offset(o) => (Some(o), e.metadata().to_owned()),
                _ => (None, String::new()),
            },
            None => (None, String::new()),
        })
    }

    /// Commits `offset` (the next offset to read) of `partition` with `metadata`, synchronously.
    pub fn commit(&self, partition: i32, offset: i64, metadata: &str) -> Result<()> {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
            .map_err(kafka_error("building the commit"))?;
        for mut elem in list.elements() {
            elem.set_metadata(metadata);
        }
        self.inner
            .commit(&list, CommitMode::Sync)
            .map_err(kafka_error(format!("committing {}/{partition} at {offset}", self.topic)))
    }
}
