//! Enrichment. GeoIP + ASN lookups: Helios's compiled tables against direct `maxminddb` lookups (lookup
//! and decode of the same four attributes) on generated databases of 1M networks, same addresses, same
//! run. NetBox: compiling a 10K-device / 200K-interface / 50K-prefix inventory, and every lookup one
//! flow needs (exporter, both interfaces, both prefixes, both GeoIP answers).
//!
//! `cargo bench -p helios-benches --bench geoip`; figures in perf/README.md.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helios_benches::{geo, netbox};
use helios_core::enrich::enricher;
use helios_core::enrich::geoip::GeoTable;
use helios_core::enrich::inventory::NetboxSnapshot;
use helios_core::enrich::published::Snapshot;
use helios_core::flow::FlowRecord;
use maxminddb::{Reader, geoip2};

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

    let inventory = netbox::inventory();
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
