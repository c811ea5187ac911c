//! Enriching a batch: for each record, references into one [`Snapshot`] (the exporting device, its
//! input and output interfaces, the NetBox prefixes and GeoIP answers of both addresses) and the
//! counters normalised by the sampling rate. References are positions in that snapshot: resolve them
//! with the same snapshot (an encoder holds it for the batch), never with a later one.

use super::published::Snapshot;
use crate::flow::FlowRecord;

/// What enrichment adds to one record. `None`: not known to the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enriched {
    /// The exporting device ([`super::inventory::NetboxSnapshot::device`]).
    pub exporter: Option<u32>,
    /// Its input interface ([`super::inventory::NetboxSnapshot::interface`]).
    pub in_if: Option<u32>,
    /// Its output interface.
    pub out_if: Option<u32>,
    /// The most specific NetBox prefix of the source address ([`super::inventory::NetboxSnapshot::prefix_at`]).
    pub src_prefix: Option<u32>,
    /// The same for the destination address.
    pub dst_prefix: Option<u32>,
    /// GeoIP / ASN answer of the source address ([`super::geoip::GeoTable::answer`]).
    pub src_geo: Option<u32>,
    /// The same for the destination address.
    pub dst_geo: Option<u32>,
    /// `bytes` × sampling rate (the record keeps the raw value); saturating.
    pub bytes: u64,
    /// `packets` × sampling rate; saturating.
    pub packets: u64,
}

/// Enriches `records` with `snapshot` into `out` (cleared first; one entry per record, same order).
/// Allocation-free once `out` has grown to the batch size.
pub fn enrich(records: &[FlowRecord], snapshot: &Snapshot, out: &mut Vec<Enriched>) {
    out.clear();
    let (netbox, geo) = (snapshot.netbox.as_deref(), snapshot.geo.as_deref());
    out.extend(records.iter().map(|r| {
        let (src, dst) = (r.src_addr.ip(), r.dst_addr.ip());
        let exporter = netbox.zip(r.sampler_address.ip()).and_then(|(nb, ip)| nb.exporter(ip));
        // An unknown sampling rate (0) counts as unsampled.
        let rate = r.sampling_rate.max(1);
        Enriched {
            exporter: exporter.map(|e| e.index),
            in_if: exporter.and_then(|e| e.interface_index(r.in_if)),
            out_if: exporter.and_then(|e| e.interface_index(r.out_if)),
            src_prefix: netbox.zip(src).and_then(|(nb, ip)| nb.prefix_index(ip)),
            dst_prefix: netbox.zip(dst).and_then(|(nb, ip)| nb.prefix_index(ip)),
            src_geo: geo.zip(src).and_then(|(g, ip)| g.answer_id(ip)),
            dst_geo: geo.zip(dst).and_then(|(g, ip)| g.answer_id(ip)),
            bytes: r.bytes.saturating_mul(rate),
            packets: r.packets.saturating_mul(rate),
        }
    }));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::enrich::geoip::GeoTable;
    use crate::enrich::inventory::{Device, INVENTORY_FORMAT, Interface, Inventory, NetboxSnapshot, Prefix};
    use crate::flow::Addr;

    #[test]
    fn records_get_snapshot_references_and_normalised_counters() {
        let inv = Inventory {
            format: INVENTORY_FORMAT,
            devices: vec![Device { id: 1, addresses: vec!["192.0.2.1".parse().expect("ip")], ..Device::default() }],
            interfaces: vec![
                Interface { device_id: 1, name: "a".into(), if_index: Some(3), ..Interface::default() },
                Interface { device_id: 1, name: "b".into(), if_index: Some(4), ..Interface::default() },
            ],
            prefixes: vec![Prefix { prefix: "10.0.0.0/8".into(), ..Prefix::default() }],
        };
        let snap = Snapshot {
            netbox: Some(Arc::new(NetboxSnapshot::build(inv).expect("valid"))),
            geo: Some(Arc::new(GeoTable::default())),
            generation: 0,
        };
        let known = FlowRecord {
            sampler_address: Addr::v4([192, 0, 2, 1]),
            src_addr: Addr::v4([10, 1, 1, 1]),
            dst_addr: Addr::v4([8, 8, 8, 8]),
            in_if: 4,
            out_if: 9,
            bytes: 1500,
            packets: 3,
            sampling_rate: 1000,
            ..FlowRecord::default()
        };
        let unknown = FlowRecord {
            sampler_address: Addr::v4([192, 0, 2, 99]),
            bytes: u64::MAX,
            packets: 1,
            ..FlowRecord::default()
        };
        let mut out = Vec::new();
        enrich(&[known, unknown], &snap, &mut out);
        let nb = snap.netbox.as_ref().expect("netbox");
        assert_eq!(out[0].exporter.and_then(|i| nb.device(i)).map(|d| d.id), Some(1));
        assert_eq!(out[0].in_if.and_then(|i| nb.interface(i)).map(|i| i.name.as_str()), Some("b"));
        assert_eq!((out[0].out_if, out[0].src_prefix, out[0].dst_prefix, out[0].src_geo), (None, Some(0), None, None));
        assert_eq!((out[0].bytes, out[0].packets), (1_500_000, 3000));
        assert_eq!(out[1], Enriched { bytes: u64::MAX, packets: 1, ..Enriched::default() });
        enrich(&[], &Snapshot::default(), &mut out);
        assert!(out.is_empty());
    }
}
