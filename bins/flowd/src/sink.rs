//! The way from workers to ClickHouse: a queue bounded in bytes (workers never wait on ClickHouse;
//! what does not fit is dropped and counted) and a few tasks inserting blocks, each retrying
//! transient failures with the block's token, so a retry never stores twice. Every block ClickHouse
//! acknowledged is added to the minute rollup, which goes to `flows_1m` once a minute (or sooner
//! when it reaches its memory budget), spread over the following seconds, and at shutdown.

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

/// Which due groups are going out, a few blocks each tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Drain {
    /// Groups of minutes before this one (Unix seconds; `u64::MAX`: all).
    before: u64,
    /// Blocks per tick.
    blocks: usize,
}

impl Drain {
    /// The groups of minutes before `before` spread over [`ROLLUP_SPREAD_S`] ticks, `groups` being
    /// all the rollup holds (a bound on those due).
    fn spread(before: u64, groups: usize) -> Drain {
        Drain { before, blocks: groups.div_ceil(ROLLUP_BLOCK_ROWS).div_ceil(ROLLUP_SPREAD_S).max(1) }
    }

    /// Everything, at once: the groups outgrew their memory budget, or shutdown.
    const ALL: Drain = Drain { before: u64::MAX, blocks: usize::MAX };

    /// What goes out this tick, given what is due (`due`, from [`Rollup::due`]) and the drain under way.
    fn next(current: Option<Drain>, due: Option<u64>, groups: usize) -> Option<Drain> {
        match due {
            Some(u64::MAX) => Some(Drain::ALL),
            Some(before) if current.is_none() => Some(Drain::spread(before, groups)),
            _ => current,
        }
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
        let rollup = Arc::new(std::sync::Mutex::new(Rollup::default()));
        let mut inserters = JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (rx, bytes, rows, metrics, ch, rollup) =
                (rx.clone(), bytes.clone(), rows.clone(), metrics.clone(), ch.clone(), rollup.clone());
            inserters.spawn(async move {
                // The lock is held only while waiting for the next block, not during its insert.
                while let Some(block) = { rx.lock().await.recv().await } {
                    match ch.insert_retrying(&block, None).await {
                        Ok(()) => {
                            let mut r = rollup.lock().unwrap_or_else(PoisonError::into_inner);
                            ch.roll_up(&mut r, &block);
                            metrics.rollup_groups.set(r.groups() as i64);
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
        let mut flusher = Flusher { ch, rollup, settings, metrics, takes: 0, drain: None };
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
    rollup: Arc<std::sync::Mutex<Rollup>>,
    settings: RollupSettings,
    metrics: Metrics,
    /// Takes of due groups so far (numbers the tokens).
    takes: u64,
    /// The drain under way.
    drain: Option<Drain>,
}

impl Flusher {
    /// Once a second: starts draining the groups that fell due, then inserts this tick's blocks
    /// (retrying like any block). The groups wait in the rollup, not as blocks, until their tick.
    async fn tick(&mut self, now_s: u64) {
        let blocks = {
            let mut r = self.rollup.lock().unwrap_or_else(PoisonError::into_inner);
            self.drain = Drain::next(self.drain, r.due(now_s, self.settings.max_bytes), r.groups());
            let Some(drain) = self.drain else { return };
            let token = format!("{}-1m-{}", self.settings.token_prefix, self.takes);
            self.takes += 1;
            let blocks = r.take_before(drain.before, ROLLUP_BLOCK_ROWS, drain.blocks, &token);
            if !r.holds_before(drain.before) {
                self.drain = None;
            }
            self.metrics.rollup_groups.set(r.groups() as i64);
            blocks
        };
        self.ch.insert_rollup(blocks).await;
    }

    /// At shutdown: every group, now.
    async fn flush_all(&mut self) {
        self.drain = Some(Drain::ALL);
        self.tick(0).await;
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
    fn due_groups_are_spread_over_the_ticks_unless_memory_or_shutdown_presses() {
        assert_eq!(Drain::next(None, None, 100), None, "nothing due");
        // A minute of 1,000 exporters (~130K groups): 8 blocks, one a tick.
        assert_eq!(Drain::next(None, Some(60), 130_000), Some(Drain { before: 60, blocks: 1 }));
        // Ten times more groups: 80 blocks, 4 a tick, still out within the spread.
        let big = Drain::next(None, Some(60), 1_300_000).expect("due");
        assert_eq!(big.blocks, 4);
        assert!(1_300_000usize.div_ceil(ROLLUP_BLOCK_ROWS).div_ceil(big.blocks) <= ROLLUP_SPREAD_S);
        // A drain under way goes on; the memory budget or shutdown takes everything at once.
        let current = Some(Drain { before: 60, blocks: 1 });
        assert_eq!(Drain::next(current, Some(120), 5), current);
        assert_eq!(Drain::next(current, Some(u64::MAX), 5), Some(Drain::ALL));
    }

    #[test]
    fn an_oversized_block_still_moves_through_an_empty_queue() {
        let (q, mut sink) = queue(10, Metrics::default());
        q.push(block(50, 5));
        assert_eq!(sink.rx.try_recv().expect("taken").rows, 5);
    }
}
