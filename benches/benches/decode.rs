//! Decoding throughput, Helios against peer crates on the same datagrams in the same run:
//! `netflow_parser` (NetFlow v5/v9, IPFIX) and `sflow-parser` (sFlow v5). Throughput is in records.
//!
//! `cargo bench -p helios-benches --bench decode`; figures and ratios are kept in perf/README.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helios_benches::workloads;
use netflow_parser::NetflowParser;

fn decode(c: &mut Criterion) {
    for w in workloads() {
        let mut group = c.benchmark_group(format!("decode/{}", w.name));
        group.throughput(Throughput::Elements(w.records as u64));
        let (mut decoder, mut batch) = w.decoder();
        group.bench_function("helios", |b| b.iter(|| black_box(w.decode(&mut decoder, &mut batch))));
        if w.name.starts_with("sflow") {
            group.bench_function("sflow_parser", |b| {
                b.iter(|| black_box(sflow_parser::parse_datagram(black_box(&w.datagram)).map(|d| d.samples.len())))
            });
        } else {
            let mut parser = NetflowParser::default();
            for d in &w.setup {
                let _ = parser.parse_bytes(d);
            }
            let peer_records = parser.parse_bytes(&w.datagram).packets.len();
            assert!(peer_records > 0, "{}: netflow_parser decodes nothing", w.name);
            group.bench_function("netflow_parser", |b| {
                b.iter(|| black_box(parser.parse_bytes(black_box(&w.datagram)).packets.len()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
