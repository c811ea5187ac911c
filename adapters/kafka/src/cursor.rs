//! Replay-stable blocks: which offsets of a partition make up each ClickHouse block.
//!
//! Before a block `[start, end)` is inserted, the consumer commits offset `start` with the metadata
//! `helios-block-end=<end>` (the intent); after ClickHouse acknowledged it, it commits `end`. A
//! consumer that takes over after a crash or a rebalance between the two commits resumes at `start`,
//! reads the intent and closes its first block at exactly `end`: the same rows under the same token,
//! which ClickHouse deduplicates. Without an intent, blocks close by size or age as usual.

use std::ops::Range;

const INTENT: &str = "helios-block-end=";

/// Commit metadata announcing a block ending at `end` (exclusive).
pub fn intent(end: i64) -> String {
    format!("{INTENT}{end}")
}

/// The block end an intent announces.
pub fn parse_intent(metadata: &str) -> Option<i64> {
    metadata.strip_prefix(INTENT)?.parse().ok()
}

/// The deduplication token of a block.
pub fn token(group: &str, topic: &str, partition: i32, offsets: &Range<i64>) -> String {
    format!("{group}/{topic}/{partition}/{}-{}", offsets.start, offsets.end)
}

/// One partition's position: where the open block starts, and where it must end if a previous
/// owner announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    start: i64,
    next: i64,
    planned_end: Option<i64>,
}

impl Cursor {
    /// Resumes from the group's committed offset and metadata (none: from the first message read).
    pub fn resume(committed: Option<i64>, metadata: &str, first_offset: i64) -> Cursor {
        let start = committed.unwrap_or(first_offset);
        let planned_end = committed.and_then(|_| parse_intent(metadata)).filter(|&e| e > start);
        Cursor { start, next: start, planned_end }
    }

    /// Whether the open block must be sealed before the message at `offset` joins: it would cross
    /// the announced end.
    pub fn must_seal_before(&self, offset: i64) -> bool {
        self.planned_end.is_some_and(|end| offset >= end)
    }

    /// The message at `offset` joined the open block.
    pub fn add(&mut self, offset: i64) {
        self.next = offset + 1;
    }

    /// Whether the open block reached its announced end.
    pub fn is_complete(&self) -> bool {
        self.planned_end == Some(self.next)
    }

    /// Whether a previous owner announced where the open block ends (then it must not close early).
    pub fn is_planned(&self) -> bool {
        self.planned_end.is_some()
    }

    /// Closes the open block: its offsets (the announced end, or one past the last message). The
    /// next block starts there.
    pub fn seal(&mut self) -> Range<i64> {
        let end = self.planned_end.take().unwrap_or(self.next).max(self.start);
        let block = self.start..end;
        self.start = end;
        self.next = self.next.max(end);
        block
    }

    /// Where the open block starts.
    pub fn start(&self) -> i64 {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_round_trip_and_junk_is_ignored() {
        assert_eq!(parse_intent(&intent(42)), Some(42));
        assert_eq!(parse_intent(""), None);
        assert_eq!(parse_intent("helios-block-end=x"), None);
        assert_eq!(token("g", "t", 3, &(10..20)), "g/t/3/10-20");
    }

    #[test]
    fn without_an_intent_blocks_end_after_the_last_message() {
        let mut c = Cursor::resume(None, "", 100);
        assert_eq!(c.start(), 100);
        c.add(100);
        c.add(101);
        assert!(!c.must_seal_before(102) && !c.is_complete() && !c.is_planned());
        assert_eq!(c.seal(), 100..102);
        c.add(102);
        assert_eq!(c.seal(), 102..103);
    }

    #[test]
    fn a_replay_ends_its_first_block_where_the_crashed_owner_announced() {
        // The previous owner committed 10 with the intent to insert [10, 15), then crashed.
        let mut c = Cursor::resume(Some(10), &intent(15), 10);
        assert!(c.is_planned());
        for o in 10..15 {
            assert!(!c.must_seal_before(o));
            c.add(o);
        }
        assert!(c.is_complete());
        assert_eq!(c.seal(), 10..15);
        assert!(!c.is_planned());
    }

    #[test]
    fn offsets_missing_from_a_planned_block_still_end_it_at_the_announced_offset() {
        // Compaction removed offsets 13 and 14: the message at 15 seals [10, 15) first.
        let mut c = Cursor::resume(Some(10), &intent(15), 10);
        c.add(10);
        c.add(12);
        assert!(c.must_seal_before(15));
        assert_eq!(c.seal(), 10..15);
        c.add(15);
        assert_eq!(c.seal(), 15..16);
    }

    #[test]
    fn a_stale_intent_is_ignored() {
        let c = Cursor::resume(Some(20), &intent(15), 20);
        assert!(!c.is_planned());
        let c = Cursor::resume(None, &intent(15), 3);
        assert!(!c.is_planned());
    }
}
