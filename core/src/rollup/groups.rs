//! Groups keyed by byte strings, with what is summed over their flows. Every key lives in one arena
//! and the hash table holds fixed-size entries, so adding to an existing group never allocates and a
//! drained table keeps its capacity for the next window.

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

/// What a group accumulates: maxima of the interface speeds, sums of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Highest input interface speed, bits/s.
    pub in_if_speed: u64,
    /// Highest output interface speed, bits/s.
    pub out_if_speed: u64,
    /// Bytes (normalised by sampling).
    pub bytes: u64,
    /// Packets (normalised by sampling).
    pub packets: u64,
    /// Flows.
    pub flows: u64,
}

impl Sums {
    /// Adds `other` in. Counters wrap as ClickHouse's `sum(UInt64)` does, so both agree to the bit.
    pub fn merge(&mut self, other: &Sums) {
        self.in_if_speed = self.in_if_speed.max(other.in_if_speed);
        self.out_if_speed = self.out_if_speed.max(other.out_if_speed);
        self.bytes = self.bytes.wrapping_add(other.bytes);
        self.packets = self.packets.wrapping_add(other.packets);
        self.flows = self.flows.wrapping_add(other.flows);
    }
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    key: (usize, usize),
    sums: Sums,
}

/// Groups by key.
#[derive(Debug, Default)]
pub struct Groups {
    table: HashTable<Entry>,
    arena: Vec<u8>,
}

impl Groups {
    /// Adds `sums` to the group of `key`, creating it when new.
    #[inline]
    pub fn add(&mut self, key: &[u8], sums: &Sums) {
        let hash = hash(key);
        let arena = &self.arena;
        let same = |e: &Entry| e.hash == hash && arena.get(e.key.0..e.key.1) == Some(key);
        if let Some(e) = self.table.find_mut(hash, same) {
            e.sums.merge(sums);
            return;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(key);
        let entry = Entry { hash, key: (start, self.arena.len()), sums: *sums };
        self.table.insert_unique(hash, entry, |e| e.hash);
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes of all the keys.
    pub fn key_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Every group, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Sums)> {
        self.table.iter().map(|e| (self.arena.get(e.key.0..e.key.1).unwrap_or_default(), &e.sums))
    }

    /// Hands each group whose key `take` selects to `each`, and removes it; the others stay.
    pub fn drain_where(&mut self, mut take: impl FnMut(&[u8]) -> bool, mut each: impl FnMut(&[u8], &Sums)) {
        let arena = &self.arena;
        let mut kept = 0;
        self.table.retain(|e| {
            let key = arena.get(e.key.0..e.key.1).unwrap_or_default();
            if take(key) {
                each(key, &e.sums);
                return false;
            }
            kept += e.key.1 - e.key.0;
            true
        });
        if self.table.is_empty() {
            self.arena.clear();
            return;
        }
        // The kept keys move to a compact arena.
        let mut compact = Vec::with_capacity(kept);
        for e in self.table.iter_mut() {
            let start = compact.len();
            compact.extend_from_slice(self.arena.get(e.key.0..e.key.1).unwrap_or_default());
            e.key = (start, compact.len());
        }
        self.arena = compact;
    }
}

fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(bytes: u64, speed: u64) -> Sums {
        Sums { in_if_speed: speed, out_if_speed: 0, bytes, packets: 1, flows: 1 }
    }

    fn sorted(g: &Groups) -> Vec<(Vec<u8>, Sums)> {
        let mut all: Vec<_> = g.iter().map(|(k, s)| (k.to_vec(), *s)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    #[test]
    fn equal_keys_share_a_group() {
        let mut g = Groups::default();
        g.add(b"a", &sums(10, 5));
        g.add(b"bb", &sums(1, 7));
        g.add(b"a", &sums(u64::MAX, 3));
        g.add(b"", &sums(2, 0));
        assert_eq!(g.len(), 3);
        assert_eq!(g.key_bytes(), 3);
        let a = Sums { in_if_speed: 5, out_if_speed: 0, bytes: 9, packets: 2, flows: 2 };
        assert_eq!(sorted(&g), [(b"".to_vec(), sums(2, 0)), (b"a".to_vec(), a), (b"bb".to_vec(), sums(1, 7))]);
    }

    #[test]
    fn draining_some_keeps_the_others_whole() {
        let mut g = Groups::default();
        for k in 0u8..100 {
            g.add(&[k; 3], &sums(u64::from(k), 0));
        }
        let mut taken = Vec::new();
        g.drain_where(|k| k[0] % 2 == 0, |k, s| taken.push((k[0], s.bytes)));
        taken.sort_unstable();
        assert_eq!(taken, (0u8..100).step_by(2).map(|k| (k, u64::from(k))).collect::<Vec<_>>());
        assert_eq!((g.len(), g.key_bytes()), (50, 150));
        g.add(&[3; 3], &sums(1, 0));
        let left = sorted(&g);
        assert_eq!(left[1], (vec![3; 3], Sums { bytes: 4, packets: 2, flows: 2, ..Sums::default() }));
        assert!(left.iter().all(|(k, s)| k[0] % 2 == 1 && s.bytes >= u64::from(k[0])));
        g.drain_where(|_| true, |_, _| ());
        assert!(g.is_empty());
        assert_eq!(g.key_bytes(), 0);
    }
}
