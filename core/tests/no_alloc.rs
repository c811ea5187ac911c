//! After warm-up, decoding a datagram (any protocol, template refreshes included), enriching its
//! records and encoding them as protobuf perform no heap allocation, nor does adding a block to a
//! minute rollup that already holds its groups. A counting global allocator proves it.
// The allocator below is the only unsafe code in the workspace's tests: GlobalAlloc is an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;
use std::path::PathBuf;

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::encode::native::NativeEncoder;
use helios_core::encode::protobuf;
use helios_core::encode::rowbinary::write_row;
use helios_core::enrich::enricher;
use helios_core::enrich::geoip::GeoTable;
use helios_core::enrich::inventory::{Inventory, NetboxSnapshot};
use helios_core::enrich::published::Snapshot;
use helios_core::flow::Batch;
use helios_core::rollup::minute::MinuteRollup;

struct Counting;

thread_local! {
    // Const-initialised: reading it never allocates. Only this test's thread is counted.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Every capture with an exporter address of its own vendor (its file name up to `_tpl` / `_data`),
/// so that vendors' templates with the same ids do not replace each other: a changed template is
/// compiled (and allocates) by design, a refreshed one must not.
fn captures() -> Vec<(IpAddr, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "vendor-captures"].iter().collect();
    let mut files: Vec<PathBuf> = ["netflow", "sflow"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).expect("captures dir"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    // Templates before data, as an exporter sends them.
    files.sort_by_key(|p| {
        let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        (!(n.contains("tpl") || n.contains("opt")), n)
    });
    files
        .iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let vendor = ["_tpl", "_data", "_opttpl"]
                .iter()
                .filter_map(|s| name.find(s))
                .min()
                .map_or(&name[..], |i| &name[..i]);
            let h = vendor.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            (IpAddr::from(h.to_be_bytes()), std::fs::read(p).expect("capture"))
        })
        .collect()
}

/// NetBox and GeoIP test data.
fn snapshot() -> Snapshot {
    let testdata: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata"].iter().collect();
    let read = |p: &str| std::fs::read(testdata.join(p)).expect("test data");
    Snapshot {
        geo: Some(
            GeoTable::build(Some(&read("geoip/GeoIP2-City-Test.mmdb")), Some(&read("geoip/GeoLite2-ASN-Test.mmdb")))
                .expect("geo")
                .into(),
        ),
        netbox: Some(
            NetboxSnapshot::build(Inventory::from_json(&read("netbox/example-snapshot.json")).expect("json"))
                .expect("inventory")
                .into(),
        ),
        generation: 0,
    }
}

#[test]
fn steady_state_decoding_and_encoding_allocate_nothing() {
    let datagrams = captures();
    assert!(datagrams.len() > 90);
    let snapshot = snapshot();
    let mut enriched = Vec::with_capacity(8192);
    for keep_extra_fields in [false, true] {
        let mut decoder = Decoder::new(DecoderConfig { keep_extra_fields, ..DecoderConfig::default() });
        let mut batch = Batch::with_capacity(8192);
        let mut out = Vec::with_capacity(1 << 20);
        let mut pass = |now_s: u64| {
            let mut flows = 0;
            for (exporter, d) in &datagrams {
                batch.clear();
                let _ = decoder.decode(*exporter, now_s * 1_000_000_000, d, &mut batch);
                flows += batch.len();
                enricher::enrich(batch.records(), &snapshot, &mut enriched);
                out.clear();
                for r in batch.records() {
                    protobuf::encode_delimited(r, batch.lists(r), &mut out);
                }
            }
            flows
        };
        let warm = pass(1_000);
        let before = allocations();
        let steady = pass(1_001);
        assert_eq!(allocations() - before, 0, "allocations in steady state (extras kept: {keep_extra_fields})");
        assert!(steady >= warm && steady > 500, "decoded {steady} flows after {warm}");
    }
}

#[test]
fn adding_a_block_to_a_rollup_holding_its_groups_allocates_nothing() {
    let snapshot = snapshot();
    let (mut decoder, mut batch, mut enriched) =
        (Decoder::new(DecoderConfig::default()), Batch::with_capacity(8192), Vec::new());
    let mut rows = Vec::new();
    for (exporter, d) in &captures() {
        batch.clear();
        let _ = decoder.decode(*exporter, 1_000_000_000_000, d, &mut batch);
        enricher::enrich(batch.records(), &snapshot, &mut enriched);
        for (r, e) in batch.records().iter().zip(&enriched) {
            write_row(r, batch.lists(r), e, &snapshot, &mut rows);
        }
    }
    let mut block = Vec::new();
    NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
    let mut rollup = MinuteRollup::new();
    let flows = rollup.add_native(&block).expect("our block");
    assert!(flows > 500 && rollup.groups() > 10, "{flows} flows in {} groups", rollup.groups());
    let before = allocations();
    assert_eq!(rollup.add_native(&block).expect("our block"), flows);
    assert_eq!(allocations() - before, 0, "allocations adding to existing groups");
}
