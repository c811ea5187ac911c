//! NetFlow v9 decoding of arbitrary bytes: never panics, never reads out of bounds, never produces more
//! records than the batch holds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| helios_fuzz::decode_twice(data, &[0, 9]));
