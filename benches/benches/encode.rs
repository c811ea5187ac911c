//! Encoding, and the whole per-datagram path of helios-flowd.
//!
//! - `encode/protobuf`: goflow2 `FlowMessage`s, length-delimited, for the same records: Helios's
//!   hand-written encoder straight from `FlowRecord`s against `prost` encoding ready-made messages
//!   (the peer is not charged for building them).
//! - `encode/rowbinary`: ClickHouse rows of enriched records (NetBox + GeoIP test data).
//! - `encode/native`: a 10,000-row block of those rows transposed into a ClickHouse `Native` block.
//! - `rollup/minute`: that `Native` block added to a minute rollup (the groups already exist, as for
//!   all but a minute's first flows of each group).
//! - `pipeline/<workload>`: decode + enrich + RowBinary of one datagram, records per second — what a
//!   helios-flowd worker does per datagram besides the receive syscall.
//!
//! `cargo bench -p helios-benches --bench encode`; figures in perf/README.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helios_benches::workloads;
use helios_core::encode::native::NativeEncoder;
use helios_core::encode::protobuf::{self, FlowMessage};
use helios_core::encode::rowbinary::write_row;
use helios_core::enrich::enricher::enrich;
use helios_core::rollup::minute::MinuteRollup;
use prost::Message;
use std::hint::black_box;

fn encode(c: &mut Criterion) {
    let snapshot = helios_testkit::enrichment_snapshot();
    for w in workloads() {
        let (mut decoder, mut batch) = w.decoder();
        let records = w.decode(&mut decoder, &mut batch);

        let mut group = c.benchmark_group(format!("encode/protobuf/{}", w.name));
        group.throughput(Throughput::Elements(records as u64));
        let mut out = Vec::with_capacity(64 * 1024);
        group.bench_function("helios", |b| {
            b.iter(|| {
                out.clear();
                for r in batch.records() {
                    protobuf::encode_delimited(r, batch.lists(r), &mut out);
                }
                black_box(out.len())
            })
        });
        let messages: Vec<FlowMessage> =
            batch.records().iter().map(|r| protobuf::to_message(r, batch.lists(r))).collect();
        group.bench_function("prost", |b| {
            b.iter(|| {
                out.clear();
                for m in &messages {
                    m.encode_length_delimited(&mut out).expect("a Vec grows");
                }
                black_box(out.len())
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("encode/rowbinary/{}", w.name));
        group.throughput(Throughput::Elements(records as u64));
        let mut enriched = Vec::new();
        enrich(batch.records(), &snapshot, &mut enriched);
        group.bench_function("helios", |b| {
            b.iter(|| {
                out.clear();
                for (r, e) in batch.records().iter().zip(&enriched) {
                    write_row(r, batch.lists(r), e, &snapshot, &mut out);
                }
                black_box(out.len())
            })
        });
        group.finish();

        // A block of about 10,000 of these rows, transposed into a Native block.
        let (mut rows, mut block_rows) = (Vec::new(), 0);
        while block_rows < 10_000 {
            for (r, e) in batch.records().iter().zip(&enriched) {
                write_row(r, batch.lists(r), e, &snapshot, &mut rows);
            }
            block_rows += records.max(1);
        }
        let mut group = c.benchmark_group(format!("encode/native/{}", w.name));
        group.throughput(Throughput::Elements(block_rows as u64));
        let mut native = NativeEncoder::new();
        let mut block = Vec::new();
        group.bench_function("from_rowbinary", |b| {
            b.iter(|| {
                block.clear();
                native.encode(&rows, &mut block).expect("whole rows");
                black_box(block.len())
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("rollup/minute/{}", w.name));
        group.throughput(Throughput::Elements(block_rows as u64));
        let mut rollup = MinuteRollup::new();
        block.clear();
        native.encode(&rows, &mut block).expect("whole rows");
        group.bench_function("add_native", |b| b.iter(|| black_box(rollup.add_native(&block).expect("our block"))));
        group.finish();

        let mut group = c.benchmark_group(format!("pipeline/{}", w.name));
        group.throughput(Throughput::Elements(records as u64));
        group.bench_function("decode_enrich_rowbinary", |b| {
            b.iter(|| {
                w.decode(&mut decoder, &mut batch);
                enrich(batch.records(), &snapshot, &mut enriched);
                out.clear();
                for (r, e) in batch.records().iter().zip(&enriched) {
                    write_row(r, batch.lists(r), e, &snapshot, &mut out);
                }
                black_box(out.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, encode);
criterion_main!(benches);
