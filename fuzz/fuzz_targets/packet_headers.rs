//! Raw packet header parsing (sFlow sampled headers, pcap frames) of arbitrary bytes, every link type:
//! never panics, and a UDP payload is always a slice of the input.
#![no_main]

use helios_core::decode::packet::{self, LinkType};
use helios_core::flow::FlowRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for link in [LinkType::Ethernet, LinkType::Ipv4, LinkType::Ipv6, LinkType::Ip] {
        let (mut rec, mut lists) = (FlowRecord::default(), None);
        let payload = packet::parse(data, link, &mut rec, &mut lists);
        assert!(payload.len() <= data.len());
    }
});
