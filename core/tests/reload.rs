//! Enrichment data replaced while flows are enriched: several threads enrich continuously (NetBox
//! exporter lookup + GeoIP) while the main thread publishes 100 new NetBox inventories (and new GeoIP
//! tables every tenth time). Every flow must be enriched, and a batch from exactly one inventory: all
//! its devices carry the same inventory version, versions never go backwards, and the GeoIP answer is
//! always the known one.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use helios_core::enrich::geoip::GeoTable;
use helios_core::enrich::inventory::{Device, Inventory, NetboxSnapshot};
use helios_core::enrich::labels::Labels;
use helios_core::enrich::published::{Published, Snapshot};

const EXPORTERS: u32 = 64;
const RELOADS: u64 = 100;

fn exporter(i: u32) -> IpAddr {
    IpAddr::from((0xc000_0200u32 + i).to_be_bytes())
}

/// Inventory version `v`: every device is named `v<v>-d<i>`.
fn inventory(version: u64) -> NetboxSnapshot {
    let devices = (0..EXPORTERS)
        .map(|i| Device {
            id: u64::from(i),
            labels: Labels { device: format!("v{version}-d{i}"), site: "s".into(), ..Labels::default() },
            addresses: vec![exporter(i)],
            ..Device::default()
        })
        .collect();
    NetboxSnapshot::build(Inventory { format: 1, devices, ..Inventory::default() }).expect("valid inventory")
}

fn geo() -> GeoTable {
    let db = |n: &str| {
        let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "geoip", n].iter().collect();
        std::fs::read(p).expect("test database")
    };
    GeoTable::build(Some(&db("GeoIP2-City-Test.mmdb")), Some(&db("GeoLite2-ASN-Test.mmdb"))).expect("builds")
}

#[test]
fn reloading_100_times_under_load_never_drops_or_mixes_an_enrichment() {
    let published = Arc::new(Published::new(Snapshot {
        geo: Some(Arc::new(geo())),
        netbox: Some(Arc::new(inventory(0))),
        generation: 0,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let enriched = Arc::new(AtomicU64::new(0));
    let london: IpAddr = "81.2.69.142".parse().expect("ip");
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (published, stop, enriched) = (published.clone(), stop.clone(), enriched.clone());
            std::thread::spawn(move || {
                let mut versions = std::collections::BTreeSet::new();
                let mut last_version = 0u64;
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    // One snapshot per "batch" of 256 flows, as an enricher would.
                    let snap = published.current();
                    let (nb, geo) = (snap.netbox.as_ref().expect("netbox"), snap.geo.as_ref().expect("geo"));
                    let mut batch_version = None;
                    for _ in 0..256 {
                        i = (i + 7) % EXPORTERS;
                        let device =
                            nb.exporter(exporter(i)).expect("every exporter is known in every snapshot").device;
                        let (version, index) = device.labels.device.split_once("-d").expect("name format");
                        let version: u64 = version.trim_start_matches('v').parse().expect("version");
                        assert_eq!(index, i.to_string(), "wrong device");
                        assert_eq!(*batch_version.get_or_insert(version), version, "one batch saw two inventories");
                        assert_eq!(geo.lookup(london).city, Some("London"));
                        enriched.fetch_add(1, Ordering::Relaxed);
                    }
                    assert!(version_of(batch_version) >= last_version, "went back to an older inventory");
                    last_version = version_of(batch_version);
                    versions.insert(last_version);
                }
                versions.len()
            })
        })
        .collect();
    for v in 1..=RELOADS {
        // A new NetBox inventory (and, every tenth time, GeoIP tables) while readers read.
        published.replace_netbox(inventory(v));
        if v % 10 == 0 {
            published.replace_geo(geo());
        }
        // Readers make progress between reloads, however loaded the machine.
        let seen = enriched.load(Ordering::Relaxed);
        while enriched.load(Ordering::Relaxed) < seen + 512 {
            std::thread::yield_now();
        }
    }
    // Let readers run on the final snapshot a little, then stop them.
    let before = enriched.load(Ordering::Relaxed);
    while enriched.load(Ordering::Relaxed) < before + 10_000 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let versions: usize = workers.into_iter().map(|w| w.join().expect("no reader panicked")).sum();
    assert_eq!(published.current().generation, RELOADS + RELOADS / 10);
    assert!(enriched.load(Ordering::Relaxed) >= 10_000);
    assert!(versions > 10, "readers saw the inventory change under load ({versions} versions)");
}

fn version_of(v: Option<u64>) -> u64 {
    v.unwrap_or(0)
}
