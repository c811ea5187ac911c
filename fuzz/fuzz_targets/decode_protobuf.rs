//! goflow2 protobuf decoding (length-delimited stream and single messages, and whole Kafka payloads as
//! helios-enricher reads them) of arbitrary bytes: never panics; whatever decodes re-encodes and
//! decodes to the same record; a payload appends all of its flows or none.
#![no_main]

use helios_core::encode::protobuf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((rec, lists)) = protobuf::decode(data) {
        let mut out = Vec::new();
        protobuf::encode(&rec, &lists, &mut out);
        assert_eq!(protobuf::decode(&out), Ok((rec, lists)));
    }
    let mut rest = data;
    while let Ok((_, _, used)) = protobuf::decode_delimited(rest) {
        rest = &rest[used..];
    }
    let mut batch = helios_core::flow::Batch::with_capacity(64);
    match protobuf::decode_payload(data, &mut batch) {
        Ok(n) => assert_eq!(n, batch.len()),
        Err(_) => assert!(batch.is_empty()),
    }
});
