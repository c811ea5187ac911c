//! GeoIP + ASN lookups: Helios's compiled tables against direct `maxminddb` lookups (lookup and decode
//! of the same four attributes) on generated databases of 1M networks, same addresses, same run.
//!
//! `cargo bench -p helios-benches --bench geoip`; figures in perf/README.md.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helios_benches::geo;
use helios_core::enrich::geoip::GeoTable;
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
}

criterion_group!(benches, geoip);
criterion_main!(benches);
