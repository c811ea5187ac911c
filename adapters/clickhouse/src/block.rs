//! Insert blocks: encoded rows gathered until a block is big or old enough, then handed out whole
//! with a deduplication token. ClickHouse stores a block with a token once, however often it is
//! sent, so a retry after a lost answer or a replay after a crash never double-counts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use helios_core::encode::native::NativeEncoder;

use crate::InsertFormat;

/// A table Helios inserts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `flows_raw`: one row per flow ([`helios_core::encode::rowbinary::FLOW_COLUMNS`]).
    FlowsRaw,
    /// `flows_1m`: minute rollups ([`helios_core::rollup::column_names`]), always `RowBinary`.
    Flows1m,
}

impl Table {
    /// Its name, also the `table` label of the insert metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Table::FlowsRaw => "flows_raw",
            Table::Flows1m => "flows_1m",
        }
    }
}

/// A block ready to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Where it goes.
    pub table: Table,
    /// The rows, in `format`.
    pub data: Bytes,
    /// How `data` is encoded.
    pub format: InsertFormat,
    /// How many.
    pub rows: u64,
    /// The `insert_deduplication_token`: the same rows must always get the same token.
    pub token: String,
}

/// When to close a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At this many rows.
    pub rows: usize,
    /// At this many bytes.
    pub bytes: usize,
    /// When the oldest row is this old.
    pub age: Duration,
}

impl From<&crate::Config> for Limits {
    fn from(c: &crate::Config) -> Self {
        Limits { rows: c.batch_rows, bytes: c.batch_bytes, age: Duration::from_millis(c.batch_age_ms) }
    }
}

/// Gathers rows into blocks. Callers encode `RowBinary` rows straight into
/// [`BlockBuilder::buffer`], then [`BlockBuilder::add_rows`]; a closed block is handed out in the
/// configured [`InsertFormat`].
#[derive(Debug)]
pub struct BlockBuilder {
    limits: Limits,
    buf: Vec<u8>,
    rows: usize,
    since: Option<Instant>,
    /// Present when blocks go out as `Native`.
    native: Option<NativeEncoder>,
}

impl BlockBuilder {
    /// An empty builder of blocks in `format`.
    pub fn new(limits: Limits, format: InsertFormat) -> BlockBuilder {
        let native = (format == InsertFormat::Native).then(NativeEncoder::new);
        BlockBuilder { limits, buf: Vec::new(), rows: 0, since: None, native }
    }

    /// The buffer rows are encoded into.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Records that `n` more rows were encoded into the buffer, at `now`.
    pub fn add_rows(&mut self, n: usize, now: Instant) {
        if n > 0 && self.since.is_none() {
            self.since = Some(now);
        }
        self.rows += n;
    }

    /// Rows waiting.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the block should be sent now: full, or its oldest row has waited long enough.
    pub fn is_due(&self, now: Instant) -> bool {
        self.rows >= self.limits.rows
            || self.buf.len() >= self.limits.bytes
            || self.since.is_some_and(|t| now.saturating_duration_since(t) >= self.limits.age)
    }

    /// When the block becomes due by age (`None` when empty).
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|t| t + self.limits.age)
    }

    /// Closes the block with `token`; `None` when there are no rows.
    pub fn take(&mut self, token: String) -> Option<Block> {
        if self.rows == 0 {
            return None;
        }
        let rows = std::mem::take(&mut self.rows) as u64;
        self.since = None;
        let (data, format) = match self.native.as_mut() {
            None => (std::mem::take(&mut self.buf), InsertFormat::RowBinary),
            Some(native) => {
                let mut block = Vec::new();
                match native.encode(&self.buf, &mut block) {
                    // The rows' buffer stays, at its size, for the next block.
                    Ok(()) => {
                        self.buf.clear();
                        (block, InsertFormat::Native)
                    }
                    Err(e) => {
                        // Our own rows, so a bug; the block still goes out, as the rows it was given.
                        tracing::error!(error = %e, rows, "Native encoding failed; inserting the block as RowBinary");
                        (std::mem::take(&mut self.buf), InsertFormat::RowBinary)
                    }
                }
            }
        };
        Some(Block { table: Table::FlowsRaw, data: Bytes::from(data), format, rows, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> BlockBuilder {
        BlockBuilder::new(Limits { rows: 3, bytes: 100, age: Duration::from_secs(1) }, InsertFormat::RowBinary)
    }

    #[test]
    fn a_block_is_due_by_rows_bytes_or_age() {
        let t0 = Instant::now();
        let mut b = builder();
        assert!(!b.is_due(t0 + Duration::from_secs(60)), "an empty block is never due");
        assert_eq!(b.deadline(), None);
        b.buffer().extend_from_slice(&[1; 10]);
        b.add_rows(2, t0);
        assert!(!b.is_due(t0));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(b.is_due(t0 + Duration::from_secs(1)));
        b.add_rows(1, t0);
        assert!(b.is_due(t0), "3 rows");
        let mut b = builder();
        b.buffer().extend_from_slice(&[1; 100]);
        b.add_rows(1, t0);
        assert!(b.is_due(t0), "100 bytes");
    }

    #[test]
    fn take_hands_out_the_rows_once() {
        let t0 = Instant::now();
        let mut b = builder();
        assert_eq!(b.take("t".into()), None);
        b.buffer().extend_from_slice(b"abc");
        b.add_rows(2, t0);
        let block = b.take("tok".into()).expect("rows");
        assert_eq!((&block.data[..], block.rows, block.token.as_str()), (&b"abc"[..], 2, "tok"));
        assert_eq!(block.format, InsertFormat::RowBinary);
        assert_eq!((b.rows(), b.deadline()), (0, None));
        assert_eq!(b.take("t".into()), None);
    }

    #[test]
    fn native_blocks_are_the_rows_transposed_and_bad_rows_still_go_out() {
        let t0 = Instant::now();
        let limits = Limits { rows: 10, bytes: 1 << 20, age: Duration::from_secs(1) };
        let mut b = BlockBuilder::new(limits, InsertFormat::Native);
        let (rec, lists) = (helios_core::flow::FlowRecord::default(), helios_core::flow::FlowLists::EMPTY);
        let (e, snapshot) = (Default::default(), Default::default());
        helios_core::encode::rowbinary::write_row(&rec, &lists, &e, &snapshot, b.buffer());
        let rows = b.buffer().clone();
        b.add_rows(1, t0);
        let block = b.take("n".into()).expect("a row");
        let mut expected = Vec::new();
        NativeEncoder::new().encode(&rows, &mut expected).expect("whole rows");
        assert_eq!((block.format, &block.data[..]), (InsertFormat::Native, &expected[..]));
        // Not whole rows (a bug upstream): the block is not lost, it goes out as it was given.
        b.buffer().extend_from_slice(b"abc");
        b.add_rows(1, t0);
        let block = b.take("m".into()).expect("a row");
        assert_eq!((block.format, &block.data[..]), (InsertFormat::RowBinary, &b"abc"[..]));
    }
}
