//! Enrichment. GeoIP + ASN lookups: Helios's compiled tables against direct `maxminddb` lookups (lookup
//! and decode of the same four attributes) on generated databases of 1M networks, same addresses, same
//! run. NetBox: compiling a 10K-device / 200K-interface / 50K-prefix inventory, and every lookup one
//! flow needs (exporter, both interfaces, both prefixes, both GeoIP answers).
//!
//! `cargo bench -p helios-benches --bench geoip`; figures in perf/README.md.

// The allocator below is this bench's only unsafe code: GlobalAlloc is an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helios_benches::{geo, netbox};
use helios_core::enrich::enricher;
use helios_core::enrich::geoip::GeoTable;
use helios_core::enrich::inventory::NetboxSnapshot;
use helios_core::enrich::published::Snapshot;
use helios_core::flow::FlowRecord;
use maxminddb::{Reader, geoip2};

/// Counts live heap bytes, to report what the compiled tables hold.
struct Live;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Live = Live;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn geoip(c: &mut Criterion) {
    let (city_db, asn_db) = geo::databases();
    let started = Instant::now();
    let table = GeoTable::build(Some(&city_db), Some(&asn_db)).expect("generated databases build");
    eprintln!("GeoTable build: {:?} for {:?}", started.elapsed(), table.stats());
    let (city, asn) =
        (Reader::from_source(&city_db[..]).expect("city"), Reader::from_source(&asn_db[..]).expect("asn"));
    let addrs = geo::addresses(4096);
    let mut group = c.benchmark_group("enrich/geoip");
    group.throughput(Throughput::Elements(addrs.len() as u64));
    group.bench_function("helios", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for &a in &addrs {
                let g = table.lookup(black_box(a));
                hits += u32::from(g.country.is_some()) + u32::from(g.asn != 0);
            }
            hits
        })
    });
    group.bench_function("maxminddb", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for &a in &addrs {
                let c = city.lookup(black_box(a)).ok().and_then(|l| l.decode::<geoip2::City>().ok().flatten());
                let s = asn.lookup(a).ok().and_then(|l| l.decode::<geoip2::Asn>().ok().flatten());
                hits += u32::from(c.is_some_and(|c| c.country.iso_code.is_some() && c.city.names.english.is_some()))
                    + u32::from(s.is_some_and(|s| {
                        s.autonomous_system_number.is_some() && s.autonomous_system_organization.is_some()
                    }));
            }
            hits
        })
    });
    group.finish();

    let before = LIVE.load(Ordering::Relaxed);
    let inventory = netbox::inventory();
    let with_inventory = LIVE.load(Ordering::Relaxed);
    let built = NetboxSnapshot::build(inventory.clone()).expect("valid inventory");
    let with_snapshot = LIVE.load(Ordering::Relaxed);
    eprintln!(
        "NetboxSnapshot memory: inventory {:.1} MiB, compiled snapshot {:.1} MiB (inventory kept + {:.1} MiB of indexes)",
        mib(with_inventory - before),
        mib(with_snapshot - with_inventory),
        mib((with_snapshot - with_inventory).saturating_sub(with_inventory - before))
    );
    drop(built);
    let mut group = c.benchmark_group("enrich/netbox");
    group.sample_size(10);
    group.bench_function("snapshot_build_10k_devices_200k_interfaces_50k_prefixes", |b| {
        b.iter(|| NetboxSnapshot::build(inventory.clone()).expect("valid inventory"))
    });
    group.finish();

    let snapshot = Snapshot {
        netbox: Some(NetboxSnapshot::build(inventory).expect("valid inventory").into()),
        geo: Some(table.into()),
        generation: 0,
    };
    let records: Vec<FlowRecord> = addrs
        .iter()
        .enumerate()
        .map(|(i, &dst)| {
            let i = i as u32;
            FlowRecord {
                sampler_address: netbox::device_address(i % netbox::DEVICES).into(),
                in_if: 500 + i % 20,
                out_if: 501 + i % 19,
                src_addr: std::net::IpAddr::from((0x0a00_0000u32 + (i * 7919) % (2000 << 16)).to_be_bytes()).into(),
                dst_addr: dst.into(),
                bytes: 1500,
                packets: 1,
                sampling_rate: 1000,
                ..FlowRecord::default()
            }
        })
        .collect();
    let mut out = Vec::with_capacity(records.len());
    let mut group = c.benchmark_group("enrich/flow");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("exporter_interfaces_prefixes_geoip_sampling", |b| {
        b.iter(|| {
            enricher::enrich(black_box(&records), &snapshot, &mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, geoip);
criterion_main!(benches);
