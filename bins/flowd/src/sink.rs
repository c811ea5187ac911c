//! The way from workers to ClickHouse: a queue bounded in bytes (workers never wait on ClickHouse;
//! what does not fit is dropped and counted) and a few tasks inserting blocks, each retrying
//! transient failures with the block's token, so a retry never stores twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use helios_clickhouse::{Block, ClickHouse};
use tokio::sync::{Mutex, mpsc};

use crate::metrics::Metrics;

/// The workers' end of the queue. Cloned per worker.
#[derive(Debug, Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Block>,
    bytes: Arc<AtomicUsize>,
    rows: Arc<AtomicU64>,
    limit: usize,
    metrics: Metrics,
}

/// Flows queued and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Pending(Arc<AtomicU64>);

impl Pending {
    /// How many.
    pub fn rows(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// The sink's end.
#[derive(Debug)]
pub struct Sink {
    rx: mpsc::UnboundedReceiver<Block>,
    bytes: Arc<AtomicUsize>,
    rows: Arc<AtomicU64>,
    metrics: Metrics,
}

/// A queue holding at most `limit` bytes of blocks.
pub fn queue(limit: usize, metrics: Metrics) -> (Queue, Sink) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (bytes, rows) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)));
    let q = Queue { tx, bytes: bytes.clone(), rows: rows.clone(), limit, metrics: metrics.clone() };
    (q, Sink { rx, bytes, rows, metrics })
}

impl Queue {
    /// The count of flows queued and not yet acknowledged by ClickHouse, readable after the queue
    /// ends are gone.
    pub fn pending(&self) -> Pending {
        Pending(self.rows.clone())
    }

    /// Queues `block`, or drops it (counted) when the queue is full or the sink is gone.
    pub fn push(&self, block: Block) {
        let size = block.data.len();
        let reserved = self.bytes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
            (b == 0 || b + size <= self.limit).then_some(b + size)
        });
        // An empty queue always takes a block, so one block larger than the limit still moves.
        if reserved.is_err() {
            self.metrics.drop_flows("queue_full", block.rows);
            return;
        }
        self.rows.fetch_add(block.rows, Ordering::AcqRel);
        self.metrics.queue_bytes.set(self.bytes.load(Ordering::Relaxed) as i64);
        if let Err(mpsc::error::SendError(block)) = self.tx.send(block) {
            self.bytes.fetch_sub(size, Ordering::AcqRel);
            self.rows.fetch_sub(block.rows, Ordering::AcqRel);
            self.metrics.drop_flows("shutdown", block.rows);
        }
    }
}

impl Sink {
    /// Inserts blocks, `concurrency` at a time, until every queue end is dropped and the queue is
    /// empty.
    pub async fn run(self, ch: ClickHouse, concurrency: usize) {
        let Sink { rx, bytes, rows, metrics } = self;
        let rx = Arc::new(Mutex::new(rx));
        let inserters: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                let (rx, bytes, rows, metrics, ch) = (rx.clone(), bytes.clone(), rows.clone(), metrics.clone(), ch.clone());
                tokio::spawn(async move {
                    // The lock is held only while waiting for the next block, not during its insert.
                    while let Some(block) = { rx.lock().await.recv().await } {
                        if let Err(e) = ch.insert_retrying(&block, None).await {
                            tracing::error!(error = %e, rows = block.rows, "ClickHouse refused a block; its flows are dropped");
                            metrics.drop_flows("clickhouse_refused", block.rows);
                        }
                        rows.fetch_sub(block.rows, Ordering::AcqRel);
                        let left = bytes.fetch_sub(block.data.len(), Ordering::AcqRel) - block.data.len();
                        metrics.queue_bytes.set(left as i64);
                    }
                })
            })
            .collect();
        for inserter in inserters {
            if let Err(e) = inserter.await {
                tracing::error!(error = %e, "a ClickHouse inserter ended abnormally");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(len: usize, rows: u64) -> Block {
        Block {
            data: vec![0u8; len].into(),
            format: helios_clickhouse::InsertFormat::RowBinary,
            rows,
            token: "t".into(),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let metrics = Metrics::default();
        let (q, mut sink) = queue(100, metrics.clone());
        q.push(block(60, 6));
        q.push(block(60, 7));
        q.push(block(40, 4));
        assert_eq!(metrics.queue_bytes.get(), 100);
        let dropped = metrics.dropped_flows.get_or_create(&crate::metrics::ReasonLabels { reason: "queue_full" }).get();
        assert_eq!(dropped, 7);
        assert_eq!(q.pending().rows(), 10);
        assert_eq!(sink.rx.try_recv().expect("first").rows, 6);
        assert_eq!(sink.rx.try_recv().expect("third").rows, 4);
    }

    #[test]
    fn an_oversized_block_still_moves_through_an_empty_queue() {
        let (q, mut sink) = queue(10, Metrics::default());
        q.push(block(50, 5));
        assert_eq!(sink.rx.try_recv().expect("taken").rows, 5);
    }
}
