//! A flat, immutable table over disjoint address ranges: entries `(start, end, value)` sorted by start,
//! with a 65,536-entry index on the top 16 bits, so a lookup is one index read and a short binary
//! search whose last probe holds the answer in the same cache line.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

/// An address as an integer (IPv4 as `u32`, IPv6 as `u128`).
pub(crate) trait Key: Copy + Ord + Default {
    /// The largest key.
    const MAX: Self;
    /// The top 16 bits.
    fn bucket(self) -> usize;
    /// `self + 1`, `None` at `MAX`.
    fn next(self) -> Option<Self>;
    /// `self - 1` (callers never pass the smallest key).
    fn prev(self) -> Self;
}

macro_rules! key {
    ($t:ty) => {
        impl Key for $t {
            const MAX: Self = <$t>::MAX;
            fn bucket(self) -> usize {
                (self >> (<$t>::BITS - 16)) as usize
            }
            fn next(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn prev(self) -> Self {
                self.saturating_sub(1)
            }
        }
    };
}
key!(u32);
key!(u128);

const BUCKETS: usize = 1 << 16;

#[derive(Debug, Clone, Copy)]
struct Entry<K> {
    start: K,
    end: K,
    value: u32,
}

/// Disjoint `[start, end]` ranges, each with a value.
#[derive(Debug, Clone, Default)]
pub(crate) struct RangeTable<K> {
    entries: Vec<Entry<K>>,
    /// `first[b]`: how many ranges start before bucket `b`. `BUCKETS + 1` entries (empty when the table is).
    first: Vec<u32>,
}

impl<K: Key> RangeTable<K> {
    /// Builds the table. Ranges must be disjoint (MaxMind databases' networks are); a range that
    /// overlaps the previous one is dropped and counted in the returned number.
    pub(crate) fn build(mut ranges: Vec<(K, K, u32)>) -> (Self, usize) {
        ranges.sort_unstable_by_key(|r| r.0);
        let mut entries: Vec<Entry<K>> = Vec::with_capacity(ranges.len());
        let mut dropped = 0;
        for (start, end, value) in ranges {
            if end < start || entries.last().is_some_and(|last| start <= last.end) {
                dropped += 1;
                continue;
            }
            entries.push(Entry { start, end, value });
        }
        let mut first = Vec::new();
        if !entries.is_empty() {
            first = vec![0u32; BUCKETS + 1];
            // Count starts per bucket, then prefix-sum into "ranges starting before bucket b".
            for e in &entries {
                first[e.start.bucket() + 1] += 1;
            }
            for b in 1..=BUCKETS {
                first[b] += first[b - 1];
            }
        }
        (RangeTable { entries, first }, dropped)
    }

    /// The value of the range holding `k`.
    #[inline]
    pub(crate) fn get(&self, k: K) -> Option<u32> {
        let b = k.bucket();
        let (lo, hi) = (*self.first.get(b)? as usize, *self.first.get(b + 1)? as usize);
        // Ranges starting at or before k: all before bucket b, plus those in the bucket up to k.
        let n = lo + self.entries.get(lo..hi)?.partition_point(|e| e.start <= k);
        let e = self.entries.get(n.checked_sub(1)?)?;
        (k <= e.end).then_some(e.value)
    }

    /// Overlays two tables: every address covered by either gets `combine(a's value, b's value)`.
    pub(crate) fn overlay(a: &Self, b: &Self, mut combine: impl FnMut(Option<u32>, Option<u32>) -> u32) -> Self {
        // Elementary segments start at every range start and just after every range end.
        let mut points: Vec<K> = Vec::with_capacity(2 * (a.entries.len() + b.entries.len()));
        for e in a.entries.iter().chain(&b.entries) {
            points.push(e.start);
            points.extend(e.end.next());
        }
        points.sort_unstable();
        points.dedup();
        let mut ranges: Vec<(K, K, u32)> = Vec::with_capacity(points.len());
        for (i, &p) in points.iter().enumerate() {
            let (va, vb) = (a.get(p), b.get(p));
            if va.is_none() && vb.is_none() {
                continue;
            }
            let end = points.get(i + 1).map_or(K::MAX, |&next| next.prev());
            let value = combine(va, vb);
            match ranges.last_mut() {
                // Adjacent segments with the same answer become one range.
                Some(last) if last.2 == value && last.1.next() == Some(p) => last.1 = end,
                _ => ranges.push((p, end, value)),
            }
        }
        Self::build(ranges).0
    }

    /// Builds a longest-match table from possibly nested prefixes `(start, end, value)`: each address
    /// gets the value of the most specific prefix holding it. Prefixes are nested or disjoint, never
    /// partially overlapping; duplicates keep the first.
    pub(crate) fn longest_match(mut prefixes: Vec<(K, K, u32)>) -> Self {
        // Outer prefixes first at equal starts, so a stack of enclosing prefixes can be kept.
        prefixes.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut ranges: Vec<(K, K, u32)> = Vec::with_capacity(prefixes.len() * 2);
        let mut stack: Vec<(K, K, u32)> = Vec::new();
        // Emits the part of the enclosing prefixes' coverage from `from` up to `until` (inclusive).
        let fill = |ranges: &mut Vec<(K, K, u32)>, stack: &mut Vec<(K, K, u32)>, from: &mut Option<K>, until: K| {
            while let Some(&(_, end, value)) = stack.last() {
                let Some(start) = *from else { return };
                if start > until {
                    return;
                }
                let stop = end.min(until);
                if start <= stop {
                    ranges.push((start, stop, value));
                }
                *from = stop.next();
                if end <= until {
                    stack.pop();
                } else {
                    return;
                }
            }
        };
        let mut cursor: Option<K> = None;
        for p in prefixes {
            if stack.last().is_some_and(|top| top.0 == p.0 && top.1 == p.1) {
                continue; // duplicate
            }
            // The enclosing prefixes cover what lies before this one (nothing does before address 0).
            if p.0 > K::default() {
                fill(&mut ranges, &mut stack, &mut cursor, p.0.prev());
            }
            // Outer prefixes that end before this one starts are done.
            while stack.last().is_some_and(|top| top.1 < p.0) {
                stack.pop();
            }
            stack.push(p);
            cursor = Some(p.0);
        }
        fill(&mut ranges, &mut stack, &mut cursor, K::MAX);
        Self::build(ranges).0
    }

    /// Number of ranges.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<Entry<K>>() + self.first.capacity() * 4
    }
}

/// Networks of both address families, collected for an [`AddrTable`].
#[derive(Debug, Default)]
pub(crate) struct Networks {
    v4: Vec<(u32, u32, u32)>,
    v6: Vec<(u128, u128, u32)>,
}

impl Networks {
    /// Adds `net` with `value`.
    pub(crate) fn push(&mut self, net: IpNetwork, value: u32) {
        match net {
            IpNetwork::V4(n) => self.v4.push((u32::from(n.network()), u32::from(n.broadcast()), value)),
            IpNetwork::V6(n) => {
                let start = u128::from(n.network());
                let end = start | u128::MAX.checked_shr(u32::from(n.prefix())).unwrap_or(0);
                self.v6.push((start, end, value));
            }
        }
    }
}

/// One range table per address family; IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up
/// as IPv4.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrTable {
    v4: RangeTable<u32>,
    v6: RangeTable<u128>,
}

impl AddrTable {
    /// From disjoint networks (overlaps dropped, see [`RangeTable::build`]).
    pub(crate) fn disjoint(n: Networks) -> Self {
        AddrTable { v4: RangeTable::build(n.v4).0, v6: RangeTable::build(n.v6).0 }
    }

    /// From nested prefixes, most specific wins (see [`RangeTable::longest_match`]).
    pub(crate) fn longest_match(n: Networks) -> Self {
        AddrTable { v4: RangeTable::longest_match(n.v4), v6: RangeTable::longest_match(n.v6) }
    }

    /// Both tables overlaid (see [`RangeTable::overlay`]).
    pub(crate) fn overlay(a: &Self, b: &Self, mut combine: impl FnMut(Option<u32>, Option<u32>) -> u32) -> Self {
        AddrTable {
            v4: RangeTable::overlay(&a.v4, &b.v4, &mut combine),
            v6: RangeTable::overlay(&a.v6, &b.v6, &mut combine),
        }
    }

    /// The value of the range holding `ip`.
    #[inline]
    pub(crate) fn get(&self, ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(v4) => self.v4.get(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.v4.get(u32::from(v4)),
                None => self.v6.get(u128::from(v6)),
            },
        }
    }

    /// Number of ranges.
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_the_range_holding_the_address_across_buckets() {
        let (t, dropped) = RangeTable::<u32>::build(vec![
            (0x0a00_0000, 0x0aff_ffff, 1), // 10.0.0.0/8 spans 256 buckets
            (0xc0a8_0100, 0xc0a8_01ff, 2),
            (0xc0a8_0000, 0xc0a8_00ff, 3),
            (0xc0a8_0080, 0xc0a8_0090, 4), // overlaps the previous one: dropped
        ]);
        assert_eq!(dropped, 1);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(0x0a12_3456), Some(1));
        assert_eq!(t.get(0x0aff_ffff), Some(1));
        assert_eq!(t.get(0x0b00_0000), None);
        assert_eq!(t.get(0xc0a8_0105), Some(2));
        assert_eq!(t.get(0xc0a8_0080), Some(3));
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(u32::MAX), None);
        assert!(t.heap_bytes() > 0);
        let (empty, _) = RangeTable::<u128>::build(vec![]);
        assert_eq!(empty.get(1), None);
    }

    #[test]
    fn overlay_answers_both_tables_at_every_address() {
        let (a, _) = RangeTable::<u32>::build(vec![(10, 19, 1), (30, 39, 2), (u32::MAX - 5, u32::MAX, 3)]);
        let (b, _) = RangeTable::<u32>::build(vec![(15, 34, 7), (40, 40, 8)]);
        let o = RangeTable::overlay(&a, &b, |x, y| x.unwrap_or(0) * 10 + y.unwrap_or(0));
        for k in (0..60).chain(u32::MAX - 8..=u32::MAX) {
            let want = match (a.get(k), b.get(k)) {
                (None, None) => None,
                (x, y) => Some(x.unwrap_or(0) * 10 + y.unwrap_or(0)),
            };
            assert_eq!(o.get(k), want, "{k}");
        }
        // [10,14]=10, [15,19]=17, [20,29]=7, [30,34]=27, [35,39]=20, [40]=8, [MAX-5, MAX]=30
        assert_eq!(o.len(), 7);
    }

    #[test]
    fn longest_match_prefers_the_most_specific_nested_prefix() {
        // 10.0.0.0/8 (1) holding 10.1.0.0/16 (2) holding 10.1.2.0/24 (3); 10.2.0.0/16 (4); 0.0.0.0/0 (9).
        let p = vec![
            (0x0a00_0000, 0x0aff_ffff, 1),
            (0x0a01_0200, 0x0a01_02ff, 3),
            (0x0a01_0000, 0x0a01_ffff, 2),
            (0x0a02_0000, 0x0a02_ffff, 4),
            (0, u32::MAX, 9),
            (0x0a01_0000, 0x0a01_ffff, 5),
        ];
        let t = RangeTable::<u32>::longest_match(p.clone());
        let naive = |k: u32| p.iter().filter(|r| r.0 <= k && k <= r.1).min_by_key(|r| (r.1 - r.0, r.2)).map(|r| r.2);
        for k in [
            0,
            0x09ff_ffff,
            0x0a00_0000,
            0x0a00_ffff,
            0x0a01_0000,
            0x0a01_01ff,
            0x0a01_0200,
            0x0a01_02ff,
            0x0a01_0300,
            0x0a01_ffff,
            0x0a02_0000,
            0x0a02_ffff,
            0x0a03_0000,
            0x0aff_ffff,
            0x0b00_0000,
            u32::MAX,
        ] {
            assert_eq!(t.get(k), naive(k), "{k:#x}");
        }
        // Found by the property test: nested prefixes both starting at address 0.
        let at_zero = RangeTable::<u32>::longest_match(vec![(0, 0x07ff_ffff, 0), (0, 0x0fff_ffff, 1)]);
        assert_eq!((at_zero.get(0), at_zero.get(0x0800_0000), at_zero.get(0x1000_0000)), (Some(0), Some(1), None));
        let none = RangeTable::<u32>::longest_match(vec![(0x0a00_0000, 0x0a00_00ff, 1)]);
        assert_eq!((none.get(0x0a00_0001), none.get(0x0a00_0100), none.get(0)), (Some(1), None, None));
    }

    proptest::proptest! {
        #[test]
        fn longest_match_agrees_with_a_naive_search(nets in proptest::collection::vec((proptest::prelude::any::<u32>(), 4u32..=32), 0..24), probes in proptest::collection::vec(proptest::prelude::any::<u32>(), 32)) {
            let prefixes: Vec<(u32, u32, u32)> = nets.iter().enumerate().map(|(i, &(a, len))| {
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                (a & mask, (a & mask) | !mask, i as u32)
            }).collect();
            let t = RangeTable::<u32>::longest_match(prefixes.clone());
            let naive = |k: u32| prefixes.iter().filter(|r| r.0 <= k && k <= r.1).min_by_key(|r| (r.1 - r.0, r.2)).map(|r| r.2);
            let edges = prefixes.iter().flat_map(|r| [r.0, r.1, r.0.wrapping_sub(1), r.1.wrapping_add(1)]);
            for k in probes.into_iter().chain(edges) {
                proptest::prop_assert_eq!(t.get(k), naive(k), "{:#x}", k);
            }
        }
    }
}
