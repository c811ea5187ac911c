//! The enrichment data in force, published through `arc-swap`: readers take the current
//! [`Snapshot`] without locking and keep it for a whole batch, so every flow of the batch is enriched
//! from one consistent snapshot; a reload builds a new snapshot aside and swaps it in atomically, and a
//! failed reload leaves the last good one in place.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::geoip::GeoTable;
use super::inventory::NetboxSnapshot;

/// Everything enrichment reads, as of one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// GeoIP / ASN tables, if configured.
    pub geo: Option<Arc<GeoTable>>,
    /// The NetBox inventory, if configured.
    pub netbox: Option<Arc<NetboxSnapshot>>,
    /// Incremented by every replacement; 0 for the initial snapshot.
    pub generation: u64,
}

/// The snapshot in force.
#[derive(Debug, Default)]
pub struct Published {
    current: ArcSwap<Snapshot>,
}

impl Published {
    /// Publishes `initial`.
    pub fn new(initial: Snapshot) -> Published {
        Published { current: ArcSwap::from_pointee(initial) }
    }

    /// The snapshot in force. Cheap and lock-free; hold it for a batch, not forever (an old snapshot
    /// stays in memory while anyone holds it).
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replaces the GeoIP tables, keeping the NetBox inventory. Returns the new generation.
    pub fn replace_geo(&self, geo: GeoTable) -> u64 {
        let geo = Arc::new(geo);
        self.update(|s| Snapshot { geo: Some(geo.clone()), netbox: s.netbox.clone(), generation: s.generation + 1 })
    }

    /// Replaces the NetBox inventory, keeping the GeoIP tables. Returns the new generation.
    pub fn replace_netbox(&self, netbox: NetboxSnapshot) -> u64 {
        let netbox = Arc::new(netbox);
        self.update(|s| Snapshot { geo: s.geo.clone(), netbox: Some(netbox.clone()), generation: s.generation + 1 })
    }

    fn update(&self, next: impl Fn(&Snapshot) -> Snapshot) -> u64 {
        // rcu: a concurrent replacement of the other half is never lost.
        let prev = self.current.rcu(|s| Arc::new(next(s)));
        prev.generation + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::inventory::Inventory;

    #[test]
    fn replacing_one_half_keeps_the_other_and_counts_generations() {
        let p = Published::new(Snapshot::default());
        assert_eq!(p.current().generation, 0);
        assert_eq!(p.replace_geo(GeoTable::default()), 1);
        let held = p.current();
        let nb = NetboxSnapshot::build(Inventory { format: 1, ..Inventory::default() }).expect("empty inventory");
        assert_eq!(p.replace_netbox(nb), 2);
        let now = p.current();
        assert!(now.geo.is_some() && now.netbox.is_some());
        assert!(Arc::ptr_eq(now.geo.as_ref().expect("geo"), held.geo.as_ref().expect("geo")));
        // A reader's snapshot does not change under it.
        assert_eq!(held.generation, 1);
        assert!(held.netbox.is_none());
    }
}
