//! The minute rollup reading `Native` blocks: arbitrary bytes, and whole blocks of flows built from
//! the input then damaged where the input says, never panic; a refused block adds nothing.
#![no_main]

use helios_core::encode::native::NativeEncoder;
use helios_core::encode::rowbinary::write_row;
use helios_core::flow::{Addr, FlowLists, FlowRecord};
use helios_core::rollup::minute::MinuteRollup;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rollup = MinuteRollup::new();
    if rollup.add_native(data).is_err() {
        assert_eq!(rollup.groups(), 0);
    }
    // Flows from the input, eight bytes each: time, exporter, AS path length, bytes.
    let (mut rows, mut flows) = (Vec::new(), 0);
    for chunk in data.chunks_exact(8).take(64) {
        flows += 1;
        let rec = FlowRecord {
            time_received_ns: u64::from(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])) << 24,
            sampler_address: Addr::v4([192, 0, 2, chunk[4]]),
            bytes: u64::from(chunk[6]),
            ..FlowRecord::default()
        };
        let mut lists = FlowLists::EMPTY;
        for hop in 0..chunk[5] % 4 {
            lists.as_path.push(u32::from(hop));
        }
        write_row(&rec, &lists, &Default::default(), &Default::default(), &mut rows);
    }
    let mut block = Vec::new();
    NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
    assert_eq!(rollup.add_native(&block).expect("a whole block"), flows);
    let groups = rollup.groups();
    for damage in data.chunks_exact(3).take(4) {
        let at = usize::from(u16::from_le_bytes([damage[0], damage[1]])) % block.len().max(1);
        if let Some(b) = block.get_mut(at) {
            *b ^= damage[2] | 1;
        }
    }
    if rollup.add_native(&block).is_err() {
        assert_eq!(rollup.groups(), groups);
    }
    let (held, mut rows) = (rollup.groups(), 0);
    assert_eq!(rollup.drain_before(u64::MAX, |_| rows += 1), held);
    assert_eq!((rows, rollup.groups()), (held, 0));
});
