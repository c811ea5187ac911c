//! The consume loop: raw messages per partition into blocks whose offsets follow
//! `helios_kafka::cursor`, so each block is committed only after ClickHouse stored it — in
//! `flows_raw`, and its minute rollup in `flows_1m` — and a replay rebuilds the same blocks under the
//! same tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use helios_clickhouse::block::Limits;
use helios_clickhouse::{BlockBuilder, ClickHouse, InsertFormat, Rollup};
use helios_core::encode::protobuf::decode_payload;
use helios_core::encode::rowbinary::{write_header, write_row};
use helios_core::enrich::enricher::{Enriched, enrich};
use helios_core::enrich::published::Published;
use helios_core::flow::Batch;
use helios_kafka::cursor::{Cursor, intent, token};
use helios_kafka::{FlowConsumer, FlowProducer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use rustc_hash::FxHashMap;

/// A bounded reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: &'static str,
}

/// helios-enricher's own metrics.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Flows enriched.
    pub flows: Counter,
    /// Messages skipped because they carry no valid flows, by reason.
    pub malformed: Family<ReasonLabels, Counter>,
    /// Flows lost, by reason.
    pub dropped_flows: Family<ReasonLabels, Counter>,
    /// Kafka operations that failed (the loop carries on), by reason.
    pub kafka_errors: Family<ReasonLabels, Counter>,
}

impl Metrics {
    /// Registers under the registry's prefix (`helios_enricher`).
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::default();
        registry.register("flows", "Flows enriched", m.flows.clone());
        registry.register("malformed_messages", "Raw messages skipped as malformed, by reason", m.malformed.clone());
        registry.register("dropped_flows", "Flows lost, by reason", m.dropped_flows.clone());
        registry.register("kafka_errors", "Failed Kafka reads and commits, by reason", m.kafka_errors.clone());
        m
    }

    fn count(family: &Family<ReasonLabels, Counter>, reason: &'static str, n: u64) {
        family.get_or_create(&ReasonLabels { reason }).inc_by(n);
    }
}

/// One partition's open block.
struct Partition {
    cursor: Cursor,
    block: BlockBuilder,
}

/// What the loop works with.
pub struct Pipeline {
    /// The raw topic's consumer.
    pub consumer: FlowConsumer,
    /// ClickHouse, when it is an output.
    pub clickhouse: Option<ClickHouse>,
    /// The enriched topic's producer and name, when it is an output.
    pub producer: Option<(FlowProducer, String)>,
    /// Enrichment data in force.
    pub published: Arc<Published>,
    /// Block limits.
    pub limits: Limits,
    /// Flows per message, at most.
    pub max_message_flows: usize,
    /// Metrics.
    pub metrics: Metrics,
}

/// Why the loop stopped with an error.
type Failure = anyhow::Error;

impl Pipeline {
    /// Consumes until `stop` resolves, then delivers every block it may close and returns.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> Result<(), Failure> {
        let Pipeline { consumer, clickhouse, producer, published, limits, max_message_flows, metrics } = self;
        let c = &consumer;
        let mut state = State {
            clickhouse,
            producer,
            published,
            limits,
            metrics,
            parts: FxHashMap::default(),
            batch: Batch::with_capacity(max_message_flows),
            enriched: Vec::new(),
            rows: Vec::new(),
            message: Vec::new(),
            rollup: Rollup::default(),
        };
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break,
                _ = tick.tick() => state.seal_due(c).await?,
                received = c.recv() => {
                    for p in c.take_revoked() {
                        // Rows not yet stored are read again by the partition's next owner.
                        state.parts.remove(&p);
                    }
                    match received {
                        Ok(m) => {
                            let (key, payload) = (m.key().unwrap_or_default(), m.payload().unwrap_or_default());
                            state.message(c, m.partition(), m.offset(), key, payload).await?;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "reading the raw topic failed");
                            Metrics::count(&state.metrics.kafka_errors, "read", 1);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        }
        state.seal_all(c).await?;
        if let Some((producer, _)) = &state.producer {
            producer.flush(Duration::from_secs(30))?;
        }
        Ok(())
    }
}

/// The loop's state, apart from the consumer (messages borrow from it while they are handled).
struct State {
    clickhouse: Option<ClickHouse>,
    producer: Option<(FlowProducer, String)>,
    published: Arc<Published>,
    limits: Limits,
    metrics: Metrics,
    parts: FxHashMap<i32, Partition>,
    batch: Batch,
    enriched: Vec<Enriched>,
    rows: Vec<u8>,
    message: Vec<u8>,
    /// Each stored block's minute rollup, written before its offsets are committed.
    rollup: Rollup,
}

impl State {
    async fn message(
        &mut self,
        consumer: &FlowConsumer,
        partition: i32,
        offset: i64,
        key: &[u8],
        payload: &[u8],
    ) -> Result<(), Failure> {
        if !self.parts.contains_key(&partition) {
            let (committed, metadata) = consumer.committed(partition, Duration::from_secs(10))?;
            let part = Partition {
                cursor: Cursor::resume(committed, &metadata, offset),
                block: BlockBuilder::new(
                    self.limits,
                    self.clickhouse.as_ref().map_or(InsertFormat::RowBinary, |c| c.config().format),
                ),
            };
            tracing::info!(
                partition,
                start = part.cursor.start(),
                planned = part.cursor.is_planned(),
                "partition resumed"
            );
            self.parts.insert(partition, part);
        }
        if self.parts.get(&partition).is_some_and(|p| p.cursor.must_seal_before(offset)) {
            self.seal(consumer, partition).await?;
        }
        self.rows.clear();
        self.batch.clear();
        match decode_payload(payload, &mut self.batch) {
            Ok(_) => {
                let snapshot = self.published.current();
                enrich(self.batch.records(), &snapshot, &mut self.enriched);
                for (rec, e) in self.batch.records().iter().zip(&self.enriched) {
                    write_row(rec, self.batch.lists(rec), e, &snapshot, &mut self.rows);
                }
                self.metrics.flows.inc_by(self.batch.len() as u64);
            }
            Err(e) => {
                let reason = match e {
                    helios_core::Error::Protobuf { reason, .. } => reason.as_str(),
                    _ => "bad_protobuf",
                };
                tracing::debug!(partition, offset, error = %e, "skipping a malformed message");
                Metrics::count(&self.metrics.malformed, reason, 1);
            }
        }
        if let (Some((producer, topic)), false) = (&self.producer, self.batch.is_empty()) {
            self.message.clear();
            write_header(&mut self.message);
            self.message.extend_from_slice(&self.rows);
            if let Err(e) = producer.send(topic, key, &self.message) {
                tracing::warn!(error = %e, "enriched message not published");
                Metrics::count(&self.metrics.dropped_flows, "kafka_ring_full", self.batch.len() as u64);
            }
        }
        let Some(part) = self.parts.get_mut(&partition) else { return Ok(()) };
        part.block.buffer().extend_from_slice(&self.rows);
        part.block.add_rows(self.batch.len(), Instant::now());
        part.cursor.add(offset);
        let due = part.cursor.is_complete() || (!part.cursor.is_planned() && part.block.is_due(Instant::now()));
        if due {
            self.seal(consumer, partition).await?;
        }
        Ok(())
    }

    /// Seals the blocks that are full or old enough (never a block a previous owner announced).
    async fn seal_due(&mut self, consumer: &FlowConsumer) -> Result<(), Failure> {
        let now = Instant::now();
        let due: Vec<i32> = self
            .parts
            .iter()
            .filter(|(_, p)| !p.cursor.is_planned() && p.block.rows() > 0 && p.block.is_due(now))
            .map(|(&k, _)| k)
            .collect();
        for partition in due {
            self.seal(consumer, partition).await?;
        }
        Ok(())
    }

    async fn seal_all(&mut self, consumer: &FlowConsumer) -> Result<(), Failure> {
        let open: Vec<i32> = self.parts.iter().filter(|(_, p)| !p.cursor.is_planned()).map(|(&k, _)| k).collect();
        for partition in open {
            self.seal(consumer, partition).await?;
        }
        Ok(())
    }

    /// Closes `partition`'s block: announce it, store it, commit past it.
    async fn seal(&mut self, consumer: &FlowConsumer, partition: i32) -> Result<(), Failure> {
        let Some(part) = self.parts.get_mut(&partition) else { return Ok(()) };
        let offsets = part.cursor.seal();
        if offsets.is_empty() {
            return Ok(());
        }
        let block = part.block.take(token(consumer.group(), consumer.topic(), partition, &offsets));
        if let (Some(ch), Some(block)) = (&self.clickhouse, &block) {
            if let Err(e) = consumer.commit(partition, offsets.start, &intent(offsets.end)) {
                self.lost_partition(partition, &e);
                return Ok(());
            }
            match ch.insert_retrying(block, None).await {
                Ok(()) => {
                    // The block's rollup before its offsets are committed: a replay stores it once.
                    ch.roll_up(&mut self.rollup, block);
                    ch.insert_rollup(self.rollup.take_for(block)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, rows = block.rows, "ClickHouse refused a block; its flows are dropped");
                    Metrics::count(&self.metrics.dropped_flows, "clickhouse_refused", block.rows);
                }
            }
        }
        if let Err(e) = consumer.commit(partition, offsets.end, "") {
            self.lost_partition(partition, &e);
        }
        Ok(())
    }

    /// A commit failed: the partition has most likely moved to another member, which replays it.
    fn lost_partition(&mut self, partition: i32, e: &helios_kafka::Error) {
        tracing::warn!(partition, error = %e, "commit failed; leaving the partition to its next owner");
        Metrics::count(&self.metrics.kafka_errors, "commit", 1);
        self.parts.remove(&partition);
    }
}
