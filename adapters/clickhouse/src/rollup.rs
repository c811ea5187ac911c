//! `flows_1m` from the blocks ClickHouse stored in `flows_raw`: a writer adds each block once it is
//! acknowledged (so the minute table holds exactly what the raw table does) and inserts the rollup
//! when it is due, as a `RowBinary` block with a token of its own (a retry stores it once).

use bytes::Bytes;
use helios_core::encode::native::NativeEncoder;
use helios_core::rollup::minute::MinuteRollup;

use crate::InsertFormat;
use crate::block::{Block, Table};

/// How long after a minute ends its late flows are still waited for before its groups go out: blocks
/// reach ClickHouse a second or two after their flows arrived (the block age, then the insert).
pub const GRACE_S: u64 = 10;

/// Bytes a group costs besides its key: the hash table entry and its share of the table's slack.
const GROUP_OVERHEAD: usize = 80;

/// A minute rollup of `flows_raw` blocks.
#[derive(Debug, Default)]
pub struct Rollup {
    minute: MinuteRollup,
    /// Transposes `RowBinary` blocks (the non-default format) so they are read like `Native` ones.
    native: Option<(NativeEncoder, Vec<u8>)>,
}

impl Rollup {
    /// Adds the flows of a `flows_raw` block ClickHouse acknowledged; returns how many. Fails only for
    /// a block that is not whole rows of `flows_raw` (a bug: Helios encodes them), adding nothing.
    pub fn add(&mut self, block: &Block) -> helios_core::Result<usize> {
        match block.format {
            InsertFormat::Native => self.minute.add_native(&block.data),
            InsertFormat::RowBinary => {
                let (encoder, native) = self.native.get_or_insert_with(Default::default);
                native.clear();
                encoder.encode(&block.data, native)?;
                self.minute.add_native(native)
            }
        }
    }

    /// Groups held.
    pub fn groups(&self) -> usize {
        self.minute.groups()
    }

    /// Memory the groups take, approximately.
    pub fn bytes(&self) -> usize {
        self.minute.key_bytes() + self.minute.groups() * GROUP_OVERHEAD
    }

    /// Which groups should go out at `now_s` (Unix seconds), as the minute before which to drain
    /// ([`Rollup::take_before`]): every minute that ended [`GRACE_S`] ago, or everything once the
    /// groups take `max_bytes`; `None` when nothing is due.
    pub fn due(&self, now_s: u64, max_bytes: usize) -> Option<u64> {
        if self.minute.groups() == 0 {
            return None;
        }
        if self.bytes() >= max_bytes {
            return Some(u64::MAX);
        }
        let current = now_s.saturating_sub(GRACE_S) / 60 * 60;
        self.minute.oldest_minute().filter(|&m| u64::from(m) < current).map(|_| current)
    }

    /// Everything held, as one `flows_1m` block under `block`'s token suffixed `-1m`, for a writer
    /// that rolls up each `flows_raw` block alone: replaying the block replays its rollup under the
    /// same token, stored once (one block, because the groups' order may differ in a replay).
    pub fn take_for(&mut self, block: &Block) -> Option<Block> {
        self.take_before(u64::MAX, usize::MAX, &format!("{}-1m", block.token)).pop()
    }

    /// The groups of minutes before `minute` (Unix seconds; `u64::MAX`: all) as `flows_1m` blocks of
    /// at most `max_rows` rows, the first with `token`, the next with `token` suffixed `-1`, `-2`...,
    /// and forgets them. Smaller blocks keep each insert short, so inserts of `flows_raw` never wait
    /// long behind one; a retried block carries its own token.
    pub fn take_before(&mut self, minute: u64, max_rows: usize, token: &str) -> Vec<Block> {
        let mut blocks: Vec<Block> = Vec::new();
        let mut data = Vec::new();
        let mut rows = 0u64;
        let mut close = |data: &mut Vec<u8>, rows: &mut u64| {
            let token = match blocks.len() {
                0 => token.to_owned(),
                n => format!("{token}-{n}"),
            };
            let data = Bytes::from(std::mem::take(data));
            blocks.push(Block { table: Table::Flows1m, data, format: InsertFormat::RowBinary, rows: *rows, token });
            *rows = 0;
        };
        self.minute.drain_before(minute, |row| {
            data.extend_from_slice(row);
            rows += 1;
            if rows as usize >= max_rows {
                close(&mut data, &mut rows);
            }
        });
        if rows > 0 {
            close(&mut data, &mut rows);
        }
        blocks
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use helios_core::encode::rowbinary::write_row;
    use helios_core::flow::{FlowLists, FlowRecord};

    use super::*;
    use crate::block::{BlockBuilder, Limits};

    const T0: u64 = 1_800_000_000; // a minute's start

    fn block(format: InsertFormat, times_s: &[u64]) -> Block {
        let limits = Limits { rows: usize::MAX, bytes: usize::MAX, age: Duration::from_secs(60) };
        let mut b = BlockBuilder::new(limits, format);
        for &t in times_s {
            let rec = FlowRecord { time_received_ns: t * 1_000_000_000, ..FlowRecord::default() };
            write_row(&rec, &FlowLists::EMPTY, &Default::default(), &Default::default(), b.buffer());
        }
        b.add_rows(times_s.len(), Instant::now());
        b.take("raw".into()).expect("rows")
    }

    #[test]
    fn minutes_go_out_once_their_grace_has_passed() {
        let mut r = Rollup::default();
        assert_eq!(r.due(T0 + 600, 1 << 20), None, "nothing held");
        assert_eq!(r.add(&block(InsertFormat::Native, &[T0, T0 + 30, T0 + 61])).expect("ours"), 3);
        assert_eq!(r.add(&block(InsertFormat::RowBinary, &[T0 + 1])).expect("ours"), 1);
        assert_eq!(r.groups(), 2);
        assert_eq!(r.due(T0 + 60 + GRACE_S - 1, 1 << 20), None, "the first minute may still get flows");
        assert_eq!(r.due(T0 + 60 + GRACE_S, 1 << 20), Some(T0 + 60));
        assert_eq!(r.due(T0, r.bytes()), Some(u64::MAX), "too big: everything goes");
        let first = r.take_before(T0 + 60, 100, "m1");
        let first: Vec<_> = first.iter().map(|b| (b.table, b.format, b.rows, b.token.as_str())).collect();
        assert_eq!(first, [(Table::Flows1m, InsertFormat::RowBinary, 1, "m1")]);
        assert_eq!(r.due(T0 + 60 + GRACE_S, 1 << 20), None, "the next minute waits");
        assert_eq!(r.take_before(u64::MAX, 100, "m2").iter().map(|b| b.rows).sum::<u64>(), 1);
        assert_eq!(r.take_before(u64::MAX, 100, "m3"), []);
    }

    #[test]
    fn a_large_rollup_goes_out_in_blocks_with_tokens_of_their_own() {
        let times: Vec<u64> = (0..7).map(|m| T0 + 60 * m).collect();
        let mut r = Rollup::default();
        r.add(&block(InsertFormat::Native, &times)).expect("ours");
        let blocks = r.take_before(u64::MAX, 3, "t");
        let shape: Vec<_> = blocks.iter().map(|b| (b.rows, b.token.as_str())).collect();
        assert_eq!(shape, [(3, "t"), (3, "t-1"), (1, "t-2")]);
        let mut whole = Rollup::default();
        whole.add(&block(InsertFormat::Native, &times)).expect("ours");
        let one = whole.take_before(u64::MAX, usize::MAX, "w");
        let joined: Vec<u8> = blocks.iter().flat_map(|b| b.data.iter().copied()).collect();
        assert_eq!((one.len(), &one[0].data[..]), (1, &joined[..]), "the same rows, in the same order");
    }

    #[test]
    fn a_blocks_own_rollup_carries_its_token() {
        let mut r = Rollup::default();
        let raw = block(InsertFormat::Native, &[T0, T0 + 60, T0 + 61]);
        r.add(&raw).expect("ours");
        let minutes = r.take_for(&raw).expect("rows");
        assert_eq!((minutes.rows, minutes.token.as_str()), (2, "raw-1m"));
        assert_eq!(r.groups(), 0);
    }

    #[test]
    fn a_block_that_is_not_flows_raw_rows_is_refused() {
        let mut r = Rollup::default();
        let mut bad = block(InsertFormat::RowBinary, &[T0]);
        bad.data = bad.data.slice(..10);
        assert!(r.add(&bad).is_err());
        bad.format = InsertFormat::Native;
        assert!(r.add(&bad).is_err());
        assert_eq!(r.groups(), 0);
    }
}
