//! What the protocol fuzz targets share.

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::Batch;

/// Decodes `data` with its first bytes forced to `version` (so every input exercises that decoder),
/// twice with one decoder so that templates the input defines are used by its data sets, and checks
/// the invariants: the batch never exceeds its capacity, every extra field is readable, the template
/// cache exports.
pub fn decode_twice(data: &[u8], version: &[u8]) {
    let mut datagram = data.to_vec();
    if datagram.len() >= version.len() {
        datagram[..version.len()].copy_from_slice(version);
    }
    let mut decoder = Decoder::new(DecoderConfig { keep_extra_fields: true, ..DecoderConfig::default() });
    let mut batch = Batch::with_capacity(256);
    for now in [1, 2] {
        batch.clear();
        let _ = decoder.decode([192, 0, 2, 1].into(), now * 1_000_000_000, &datagram, &mut batch);
        assert!(batch.len() <= batch.capacity());
        for r in batch.records() {
            let _ = batch.extra_fields(r).count();
            let _ = batch.lists(r);
        }
    }
    let _ = decoder.templates().export();
}
