//! NetFlow v5 decoding of arbitrary bytes: never panics, never reads out of bounds, never produces more records than the batch holds.
//! The input is decoded twice with one decoder, so templates it defines are used by its data sets.
#![no_main]

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::Batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut datagram = data.to_vec();
    // Force the version field so that every input exercises this decoder.
    if datagram.len() >= 2 {
        datagram[..2].copy_from_slice(&[0, 5]);
    }
    let mut decoder = Decoder::new(DecoderConfig { keep_extra_fields: true, ..DecoderConfig::default() });
    let mut batch = Batch::with_capacity(256);
    for now in [1, 2] {
        batch.clear();
        let _ = decoder.decode([192, 0, 2, 1].into(), now * 1_000_000_000, &datagram, &mut batch);
        assert!(batch.len() <= batch.capacity());
        for r in batch.records() {
            let _ = batch.extra_fields(r).count();
        }
    }
    let _ = decoder.templates().export();
});
