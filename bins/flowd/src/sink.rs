//! The way from workers to ClickHouse: a queue bounded in bytes (workers never wait on ClickHouse;
//! what does not fit is dropped and counted) and a few tasks inserting blocks, each retrying
//! transient failures with the block's token, so a retry never stores twice. Every block ClickHouse
//! acknowledged is added to the minute rollup, which goes to `flows_1m` once a minute (or sooner
//! when it reaches its memory budget), spread over the following seconds, and at shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use helios_clickhouse::{Block, ClickHouse, Rollup};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

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

/// Rows per `flows_1m` block: a minute of a large network's groups (70K for 1,000 exporters) as one
/// insert held `flows_raw`'s inserts up for most of a second behind it (measured: one 89K-row block
/// lost per minute at 300K flows/s); in pieces they take turns.
const ROLLUP_BLOCK_ROWS: usize = 16_384;

/// Seconds over which the blocks of the groups that fall due are spread: sent back to back, a minute's
/// groups (~130K rows for 1,000 exporters) kept the stand-in busy for ~3 s, long enough to fill the
/// queue of `flows_raw` blocks (measured: one block lost per minute at 500K flows/s). Spread over 20 s,
/// they are out well before the next minute falls due.
const ROLLUP_SPREAD_S: usize = 20;

/// The minute rollup and its blocks taken but not yet inserted. Due groups are taken out of the
/// rollup at once and wait as blocks: left in the rollup while they go out, they kept it over its
/// memory budget, which sends everything at once — the burst the spread is for (measured: one block
/// lost per 60-s run at 500K).
#[derive(Debug, Default)]
struct Minutes {
    rollup: Rollup,
    taken: VecDeque<Block>,
    /// Blocks of `taken` to insert per tick.
    per_tick: usize,
}

impl Minutes {
    /// Takes the groups of minutes before `before` as blocks waiting to be inserted, numbered from
    /// `token`, and spreads what waits over [`ROLLUP_SPREAD_S`] ticks.
    fn take(&mut self, before: u64, token: &str) {
        self.taken.extend(self.rollup.take_before(before, ROLLUP_BLOCK_ROWS, token));
        self.spread();
    }

    fn spread(&mut self) {
        self.per_tick = self.taken.len().div_ceil(ROLLUP_SPREAD_S);
    }

    /// The blocks to insert this tick.
    fn next(&mut self) -> Vec<Block> {
        let n = self.per_tick.min(self.taken.len());
        self.taken.drain(..n).collect()
    }

    /// Groups not yet sent to ClickHouse, held or taken.
    fn waiting(&self) -> u64 {
        self.rollup.groups() as u64 + self.taken.iter().map(|b| b.rows).sum::<u64>()
    }
}

/// How the sink writes `flows_1m`.
#[derive(Debug, Clone)]
pub struct RollupSettings {
    /// Memory for the groups, in bytes.
    pub max_bytes: usize,
    /// Prefix of the rollup blocks' tokens (unique per process).
    pub token_prefix: String,
}

impl Sink {
    /// Inserts blocks, `concurrency` at a time, and the minute rollup of those stored, until every
    /// queue end is dropped and the queue is empty; then the rollup's last groups.
    pub async fn run(self, ch: ClickHouse, concurrency: usize, settings: RollupSettings) {
        let Sink { rx, bytes, rows, metrics } = self;
        let rx = Arc::new(Mutex::new(rx));
        let minutes = Arc::new(std::sync::Mutex::new(Minutes::default()));
        let mut inserters = JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (rx, bytes, rows, metrics, ch, minutes) =
                (rx.clone(), bytes.clone(), rows.clone(), metrics.clone(), ch.clone(), minutes.clone());
            inserters.spawn(async move {
                // The lock is held only while waiting for the next block, not during its insert.
                while let Some(block) = { rx.lock().await.recv().await } {
                    match ch.insert_retrying(&block, None).await {
                        Ok(()) => {
                            let mut m = minutes.lock().unwrap_or_else(PoisonError::into_inner);
                            ch.roll_up(&mut m.rollup, &block);
                            metrics.rollup_groups.set(m.waiting() as i64);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, rows = block.rows, "ClickHouse refused a block; its flows are dropped");
                            metrics.drop_flows("clickhouse_refused", block.rows);
                        }
                    }
                    rows.fetch_sub(block.rows, Ordering::AcqRel);
                    let left = bytes.fetch_sub(block.data.len(), Ordering::AcqRel) - block.data.len();
                    metrics.queue_bytes.set(left as i64);
                }
            });
        }
        let mut flusher = Flusher { ch, minutes, settings, metrics, takes: 0 };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                joined = inserters.join_next() => match joined {
                    None => break,
                    Some(Err(e)) => tracing::error!(error = %e, "a ClickHouse inserter ended abnormally"),
                    Some(Ok(())) => {}
                },
                _ = tick.tick() => {
                    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                    flusher.tick(now_s).await;
                }
            }
        }
        flusher.flush_all().await;
    }
}

/// Sends the rollup's due groups to `flows_1m`.
struct Flusher {
    ch: ClickHouse,
    minutes: Arc<std::sync::Mutex<Minutes>>,
    settings: RollupSettings,
    metrics: Metrics,
    /// Takes of due groups so far (numbers the tokens).
    takes: u64,
}

impl Flusher {
    /// Once a second: takes the groups that fell due, then inserts this tick's share of the blocks
    /// waiting (retrying like any block).
    async fn tick(&mut self, now_s: u64) {
        let token = self.token();
        let blocks = {
            let mut m = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(before) = m.rollup.due(now_s, self.settings.max_bytes) {
                m.take(before, &token);
                self.takes += 1;
            }
            m.next()
        };
        self.insert(blocks).await;
    }

    /// At shutdown: every group, now.
    async fn flush_all(&mut self) {
        let blocks = {
            let mut m = self.lock();
            m.take(u64::MAX, &self.token());
            m.taken.drain(..).collect::<Vec<_>>()
        };
        self.insert(blocks).await;
    }

    async fn insert(&self, blocks: Vec<Block>) {
        if !blocks.is_empty() {
            self.ch.insert_rollup(blocks).await;
        }
        let waiting = self.lock().waiting();
        self.metrics.rollup_groups.set(waiting as i64);
    }

    fn token(&self) -> String {
        format!("{}-1m-{}", self.settings.token_prefix, self.takes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Minutes> {
        self.minutes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(len: usize, rows: u64) -> Block {
        Block {
            table: helios_clickhouse::Table::FlowsRaw,
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
    fn taken_rollup_blocks_are_spread_over_the_ticks() {
        let mut m = Minutes::default();
        assert!(m.next().is_empty(), "nothing taken");
        m.taken.extend((0..45).map(|_| block(10, 2)));
        m.spread();
        assert_eq!(m.waiting(), 90);
        let sizes: Vec<usize> = std::iter::from_fn(|| Some(m.next().len()).filter(|&n| n > 0)).collect();
        assert_eq!(sizes, [3; 15], "45 blocks in 15 ticks, within {ROLLUP_SPREAD_S}");
        m.taken.push_back(block(10, 2));
        m.spread();
        assert_eq!(m.next().len(), 1, "a block alone goes at the next tick");
        assert_eq!(m.waiting(), 0);
    }

    #[test]
    fn an_oversized_block_still_moves_through_an_empty_queue() {
        let (q, mut sink) = queue(10, Metrics::default());
        q.push(block(50, 5));
        assert_eq!(sink.rx.try_recv().expect("taken").rows, 5);
    }
}
