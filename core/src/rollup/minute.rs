//! The minute rollup: `flows_raw` `Native` blocks in (as [`crate::encode::native::NativeEncoder`]
//! writes them), one group per (minute of `time_received`, [`DIMENSIONS`]), `flows_1m` `RowBinary`
//! rows out — what the `flows_raw` → `flows_1m` materialized view computed, over as many blocks as
//! the caller lets it gather instead of one.
//!
//! A group's key is its row as `flows_1m` reads it: the minute as a `DateTime` (4 bytes) then each
//! dimension's `RowBinary` value, copied from the block; draining appends the measures. Memory is
//! what the groups hold: [`MinuteRollup::groups`] and [`MinuteRollup::key_bytes`] let the caller
//! drain before it is too much.

use super::groups::{Groups, Sums};
use super::{DIMENSIONS, MEASURES};
use crate::encode::block_order::NS_PER_MINUTE;
use crate::encode::leb128::{self, length};
use crate::encode::native::copy;
use crate::encode::native_columns::{NativeColumns, Span};
use crate::encode::rowbinary::{FLOW_COLUMNS, Layout};
use crate::error::Result;

/// Flows grouped by minute and dimensions.
#[derive(Debug)]
pub struct MinuteRollup {
    groups: Groups,
    columns: NativeColumns,
    /// The dimensions, in key order.
    dimensions: Vec<Dimension>,
    /// Indices in [`FLOW_COLUMNS`] of `time_received` and of the measured columns.
    time: usize,
    measured: [usize; 4],
    key: Vec<u8>,
    /// The oldest minute held, as a `DateTime`.
    oldest: Option<u32>,
}

/// One dimension's column, and where it is in the block being added.
#[derive(Debug, Clone)]
struct Dimension {
    /// Index in [`FLOW_COLUMNS`].
    column: usize,
    layout: Layout,
    span: Span,
    /// Where the next row's value is (strings are read in turn).
    cursor: usize,
}

impl Default for MinuteRollup {
    fn default() -> Self {
        MinuteRollup::new()
    }
}

impl MinuteRollup {
    /// An empty rollup.
    pub fn new() -> MinuteRollup {
        let index = |name: &str| FLOW_COLUMNS.iter().position(|c| c.name == name).unwrap_or_default();
        let dimensions = DIMENSIONS
            .iter()
            .map(|d| Dimension {
                column: index(d),
                layout: FLOW_COLUMNS[index(d)].layout,
                span: Span::default(),
                cursor: 0,
            })
            .collect();
        MinuteRollup {
            groups: Groups::default(),
            columns: NativeColumns::default(),
            dimensions,
            time: index("time_received"),
            measured: [index(MEASURES[0]), index(MEASURES[1]), index(MEASURES[2]), index(MEASURES[3])],
            key: Vec::with_capacity(512),
            oldest: None,
        }
    }

    /// Adds the flows of `block`, a `Native` block of `flows_raw`; returns how many. A block that is
    /// not one whole block of `flows_raw`'s columns is refused and nothing of it is added.
    pub fn add_native(&mut self, block: &[u8]) -> Result<usize> {
        self.columns.read(block)?;
        let rows = self.columns.rows();
        let span = |c: &NativeColumns, i: usize| c.span(i).cloned().unwrap_or_default();
        let time = span(&self.columns, self.time);
        let measured = self.measured.map(|i| span(&self.columns, i));
        for d in &mut self.dimensions {
            d.span = span(&self.columns, d.column);
            d.cursor = d.span.values.start;
        }
        for row in 0..rows {
            let minute = minute_of(u64_at(block, &time, row));
            self.oldest = Some(self.oldest.map_or(minute, |m| m.min(minute)));
            self.key.clear();
            self.key.extend_from_slice(&minute.to_le_bytes());
            for d in &mut self.dimensions {
                append(block, d, row, &mut self.key);
            }
            let [in_speed, out_speed, bytes, packets] = measured.each_ref().map(|s| u64_at(block, s, row));
            let sums = Sums { in_if_speed: in_speed, out_if_speed: out_speed, bytes, packets, flows: 1 };
            self.groups.add(&self.key, &sums);
        }
        Ok(rows)
    }

    /// How many groups are held.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Bytes of the groups' keys.
    pub fn key_bytes(&self) -> usize {
        self.groups.key_bytes()
    }

    /// The oldest minute held (Unix seconds), `None` when empty.
    pub fn oldest_minute(&self) -> Option<u32> {
        self.oldest
    }

    /// Hands each group of the minutes before `minute` (Unix seconds; `u64::MAX`: all) to `each` as one
    /// `flows_1m` `RowBinary` row (columns: [`super::column_names`]) and forgets them; returns how
    /// many rows.
    pub fn drain_before(&mut self, minute: u64, mut each: impl FnMut(&[u8])) -> usize {
        let mut rows = 0;
        let mut oldest = None::<u32>;
        let row = &mut self.key;
        self.groups.drain_where(
            |key| {
                let m = key_minute(key);
                let take = u64::from(m) < minute;
                if !take {
                    oldest = Some(oldest.map_or(m, |o| o.min(m)));
                }
                take
            },
            |key, s| {
                row.clear();
                row.extend_from_slice(key);
                for v in [s.in_if_speed, s.out_if_speed, s.bytes, s.packets, s.flows] {
                    row.extend_from_slice(&v.to_le_bytes());
                }
                each(row);
                rows += 1;
            },
        );
        self.oldest = oldest;
        rows
    }
}

/// The minute of a `DateTime64(9)` as a `DateTime` (times before 1970 fold to 0, after 2106 to the end).
fn minute_of(ns: u64) -> u32 {
    let ns = i64::from_le_bytes(ns.to_le_bytes());
    u32::try_from(ns.max(0) / NS_PER_MINUTE as i64 * 60).unwrap_or(u32::MAX)
}

fn key_minute(key: &[u8]) -> u32 {
    key.first_chunk::<4>().map_or(0, |m| u32::from_le_bytes(*m))
}

/// The `UInt64` (or `DateTime64`) of `row` in a fixed-width column of 8-byte values.
#[inline(always)]
fn u64_at(block: &[u8], span: &Span, row: usize) -> u64 {
    // In bounds: the block was checked whole.
    let at = span.values.start + row * 8;
    block.get(at..).and_then(<[u8]>::first_chunk::<8>).map_or(0, |v| u64::from_le_bytes(*v))
}

/// Appends the `RowBinary` value of `row` in dimension `d` to `key` (a string dimension's cursor
/// moves on).
#[inline(always)]
fn append(block: &[u8], d: &mut Dimension, row: usize, key: &mut Vec<u8>) {
    let (span, cursor) = (&d.span, &mut d.cursor);
    match d.layout {
        Layout::Fixed(width) => {
            copy(block, span.values.start + row * usize::from(width), usize::from(width), key);
        }
        Layout::String => {
            let (n, header) = length(block, *cursor).unwrap_or_default();
            *cursor = copy(block, *cursor, header + n, key).unwrap_or(*cursor + header + n);
        }
        Layout::ArrayU32 => {
            // Offsets never decrease and stay within the elements: checked with the block.
            let offset = |r: usize| usize::try_from(u64_at(block, span, r)).unwrap_or(usize::MAX);
            let (first, end) = (if row == 0 { 0 } else { offset(row - 1) }, offset(row));
            leb128::write(key, end.saturating_sub(first) as u64);
            let at = |i: usize| span.elements.start.saturating_add(i.saturating_mul(4));
            key.extend_from_slice(block.get(at(first)..at(end)).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::native::NativeEncoder;
    use crate::encode::rowbinary::write_row;
    use crate::enrich::enricher::Enriched;
    use crate::enrich::published::Snapshot;
    use crate::flow::{Addr, FlowLists, FlowRecord};
    use proptest::prelude::*;

    const MIN: u64 = 60_000_000_000;

    /// A flow at `minute` (plus `ns`) from exporter `.x`, with `bytes` and an AS path of `path`.
    fn flow(minute: u64, ns: u64, x: u8, bytes: u64, path: &[u32]) -> (FlowRecord, FlowLists) {
        let rec = FlowRecord {
            time_received_ns: 1_800_000_000 * 1_000_000_000 + minute * MIN + ns,
            sampler_address: Addr::v4([192, 0, 2, x]),
            bytes,
            packets: 2,
            sampling_rate: 1,
            ..FlowRecord::default()
        };
        let mut lists = FlowLists::EMPTY;
        for &a in path {
            lists.as_path.push(a);
        }
        (rec, lists)
    }

    fn native(flows: &[(FlowRecord, FlowLists)]) -> Vec<u8> {
        let mut rows = Vec::new();
        for (rec, lists) in flows {
            let e = Enriched { bytes: rec.bytes, packets: rec.packets, ..Enriched::default() };
            write_row(rec, lists, &e, &Snapshot::default(), &mut rows);
        }
        let mut block = Vec::new();
        NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
        block
    }

    /// The rows drained, as (minute, exporter's last byte, AS path, bytes, flows), sorted.
    fn drained(r: &mut MinuteRollup, before: u64) -> Vec<(u32, u8, Vec<u32>, u64, u64)> {
        let mut out = Vec::new();
        let n = r.drain_before(before, |row| out.extend_from_slice(row));
        let mut rows = Vec::new();
        let mut at = 0;
        while at < out.len() {
            let minute = u32::from_le_bytes(out[at..at + 4].try_into().expect("4"));
            let exporter = out[at + 4 + 1 + 15];
            // After time, type and sampler_address: six empty labels, in_if, out_if, two empty
            // names, etype, proto, src_as, dst_as, six empty labels, then the AS path.
            at += 4 + 1 + 16 + 6 + 8 + 2 + 2 + 1 + 8 + 6;
            let count = usize::from(out[at]);
            let path = out[at + 1..at + 1 + 4 * count].chunks(4).map(|a| u32::from_le_bytes(a.try_into().expect("4")));
            let path: Vec<u32> = path.collect();
            at += 1 + 4 * count;
            let measure = |i: usize| u64::from_le_bytes(out[at + 8 * i..at + 8 * i + 8].try_into().expect("8"));
            rows.push((minute, exporter, path, measure(2), measure(4)));
            assert_eq!(measure(3), 2 * measure(4), "packets");
            at += 40;
        }
        assert_eq!(rows.len(), n);
        rows.sort();
        rows
    }

    #[test]
    fn flows_are_summed_per_minute_and_dimensions() {
        let base = 1_800_000_000 / 60 * 60;
        let m = |k: u32| base + 60 * k;
        let mut r = MinuteRollup::new();
        let a = [flow(0, 1, 1, 10, &[]), flow(0, 2, 2, 20, &[65000]), flow(0, 3, 1, 5, &[]), flow(1, 0, 1, 7, &[])];
        assert_eq!(r.add_native(&native(&a)).expect("block"), 4);
        let b = [flow(0, 59_000_000_000, 1, 100, &[]), flow(2, 0, 2, 1, &[65000, 65001])];
        assert_eq!(r.add_native(&native(&b)).expect("block"), 2);
        assert_eq!(r.groups(), 4);
        assert_eq!(r.oldest_minute(), Some(m(0)));
        assert_eq!(
            drained(&mut r, u64::from(m(1))),
            [(m(0), 1, vec![], 115, 3), (m(0), 2, vec![65000], 20, 1)],
            "the first minute, merged across blocks"
        );
        assert_eq!(r.oldest_minute(), Some(m(1)));
        assert_eq!(drained(&mut r, u64::MAX), [(m(1), 1, vec![], 7, 1), (m(2), 2, vec![65000, 65001], 1, 1)]);
        assert_eq!((r.groups(), r.key_bytes(), r.oldest_minute()), (0, 0, None));
    }

    #[test]
    fn a_bad_block_adds_nothing() {
        let mut r = MinuteRollup::new();
        let block = native(&[flow(0, 0, 1, 1, &[]), flow(0, 0, 2, 1, &[])]);
        assert!(r.add_native(&block[..block.len() - 3]).is_err());
        assert!(r.add_native(b"").is_err());
        assert_eq!((r.groups(), r.oldest_minute()), (0, None));
    }

    proptest! {
        /// Whatever the flows and however they are split into blocks, the rollup's rows hold every
        /// flow and byte once, and no two rows share a key.
        #[test]
        fn every_flow_is_counted_once(
            flows in proptest::collection::vec((0u64..3, 0u8..4, 1u64..10_000, 0usize..3), 1..200),
            split in 1usize..50,
        ) {
            let flows: Vec<_> = flows.iter().map(|&(m, x, bytes, hops)| flow(m, 0, x, bytes, &[7; 3][..hops])).collect();
            let mut r = MinuteRollup::new();
            for chunk in flows.chunks(split) {
                r.add_native(&native(chunk)).expect("block");
            }
            let rows = drained(&mut r, u64::MAX);
            prop_assert_eq!(rows.iter().map(|r| r.4).sum::<u64>(), flows.len() as u64);
            prop_assert_eq!(rows.iter().map(|r| r.3).sum::<u64>(), flows.iter().map(|f| f.0.bytes).sum::<u64>());
            let keys: std::collections::BTreeSet<_> = rows.iter().map(|r| (r.0, r.1, r.2.clone())).collect();
            prop_assert_eq!(keys.len(), rows.len());
        }
    }
}
