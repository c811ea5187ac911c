//! The order of a block's rows under `flows_raw`'s sorting key, [`SORTING_KEY`]: ClickHouse sorts
//! every inserted block by the table's key unless it already is, so a block sent in order costs it
//! less (measured with chdb 26.9 on enriched rows: 15–21% more rows per second, `perf/README.md`).
//!
//! Rows are grouped by (minute, exporter address) — the exporter's device name is a function of its
//! address within a block — and the groups are ordered by (minute, device, address). Rows keep their
//! arrival order within a group, which is `time_received` order when one collector worker received
//! them. Were either not so (a clock stepping back, a NetBox reload renaming a device mid-block), the
//! block would only be out of order, and ClickHouse would sort it itself, as it does any block.

use std::ops::Range;

use rustc_hash::FxHashMap;

/// `flows_raw`'s `ORDER BY`, which the `Native` encoder's blocks follow.
pub const SORTING_KEY: &str = "toStartOfMinute(time_received), exporter_device, sampler_address, time_received";

/// Nanoseconds in a minute.
pub(crate) const NS_PER_MINUTE: u64 = 60_000_000_000;

/// One group: the key parts of its rows and where its first row's device name is.
#[derive(Debug, Clone)]
struct Group {
    minute: u64,
    exporter: [u8; 16],
    device: Range<usize>,
}

/// Reused between blocks: after warm-up it allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct BlockOrder {
    ids: FxHashMap<(u64, [u8; 16]), u32>,
    /// The last row's key and group: a datagram's rows share both.
    last: Option<((u64, [u8; 16]), u32)>,
    groups: Vec<Group>,
    /// The group of each row, in arrival order.
    group_of: Vec<u32>,
    /// Per group: its first position in the order.
    firsts: Vec<u32>,
    ranked: Vec<u32>,
    /// Row indexes in key order.
    order: Vec<u32>,
}

impl BlockOrder {
    /// Starts a new block.
    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.last = None;
        self.groups.clear();
        self.group_of.clear();
    }

    /// Adds the next row, received at `time_ns` from `exporter`; returns its group when the row is
    /// the group's first, whose device name the caller then gives to [`BlockOrder::set_device`].
    pub(crate) fn add(&mut self, time_ns: u64, exporter: [u8; 16]) -> Option<u32> {
        let key = (time_ns / NS_PER_MINUTE, exporter);
        if let Some((last, id)) = self.last
            && last == key
        {
            self.group_of.push(id);
            return None;
        }
        let next = self.groups.len() as u32;
        let id = *self.ids.entry(key).or_insert(next);
        self.last = Some((key, id));
        self.group_of.push(id);
        let (minute, exporter) = key;
        (id == next).then(|| {
            self.groups.push(Group { minute, exporter, device: 0..0 });
            id
        })
    }

    /// Where, in the rows, group `id`'s device name is (without its length).
    pub(crate) fn set_device(&mut self, id: u32, device: Range<usize>) {
        if let Some(g) = self.groups.get_mut(id as usize) {
            g.device = device;
        }
    }

    /// The row indexes of the block in key order.
    pub(crate) fn order(&mut self, rows: &[u8]) -> &[u32] {
        let groups = &self.groups;
        let device = |g: &Group| rows.get(g.device.clone()).unwrap_or_default();
        self.ranked.clear();
        self.ranked.extend(0..groups.len() as u32);
        self.ranked.sort_unstable_by(|&a, &b| {
            let (a, b) = (&groups[a as usize], &groups[b as usize]);
            (a.minute, device(a), a.exporter).cmp(&(b.minute, device(b), b.exporter))
        });
        // Counting sort of the rows by their group's rank: stable, so arrival order holds within groups.
        self.firsts.clear();
        self.firsts.resize(groups.len(), 0);
        for &g in &self.group_of {
            self.firsts[g as usize] += 1;
        }
        let mut next = 0;
        for &g in &self.ranked {
            let count = std::mem::replace(&mut self.firsts[g as usize], next);
            next += count;
        }
        self.order.clear();
        self.order.resize(self.group_of.len(), 0);
        for (row, &g) in self.group_of.iter().enumerate() {
            let at = &mut self.firsts[g as usize];
            self.order[*at as usize] = row as u32;
            *at += 1;
        }
        &self.order
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Orders rows given as (minute, exporter), each exporter's device name being `devices[exporter]`.
    fn order(rows: &[(u64, u8)], devices: &[&str]) -> Vec<u32> {
        let names: Vec<u8> = devices.concat().into_bytes();
        let mut ranges = Vec::new();
        let mut at = 0;
        for d in devices {
            ranges.push(at..at + d.len());
            at += d.len();
        }
        let mut o = BlockOrder::default();
        for _ in 0..2 {
            // twice: a reused order starts afresh
            o.clear();
            for &(minute, exporter) in rows {
                let mut address = [0u8; 16];
                address[15] = exporter;
                if let Some(group) = o.add(minute * NS_PER_MINUTE + 7, address) {
                    o.set_device(group, ranges[usize::from(exporter)].clone());
                }
            }
        }
        o.order(&names).to_vec()
    }

    #[test]
    fn rows_go_by_minute_then_device_then_exporter_keeping_arrival_order_within_each() {
        // exporter 0 is "edge-b", 1 is "edge-a", 2 is "edge-a" too.
        let devices = ["edge-b", "edge-a", "edge-a"];
        let rows = [(5, 0), (4, 1), (5, 2), (5, 1), (4, 1), (5, 0), (5, 2)];
        // minute 4: exporter 1 (rows 1, 4); minute 5: "edge-a" exporter 1 (row 3), "edge-a" exporter
        // 2 (rows 2, 6), "edge-b" (rows 0, 5).
        assert_eq!(order(&rows, &devices), [1, 4, 3, 2, 6, 0, 5]);
    }

    proptest! {
        #[test]
        fn the_order_is_a_stable_sort_by_the_key(rows in proptest::collection::vec((0u64..3, 0u8..5), 0..200)) {
            let devices = ["d", "c", "", "c", "a"];
            let got = order(&rows, &devices);
            let mut expected: Vec<u32> = (0..rows.len() as u32).collect();
            let key = |i: &u32| {
                let (minute, exporter) = rows[*i as usize];
                (minute, devices[usize::from(exporter)], exporter)
            };
            expected.sort_by_key(key);
            prop_assert_eq!(got, expected);
        }
    }
}
