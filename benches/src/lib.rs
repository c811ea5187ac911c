//! Inputs shared by the criterion benches and the instruction-count perf gate: real exporters'
//! datagrams from `testdata/vendor-captures`, each with the template datagrams it needs.
#![forbid(unsafe_code)]

pub mod geo;
pub mod netbox;

use std::net::IpAddr;
use std::path::PathBuf;

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::Batch;

/// One benchmark input: the datagram decoded in the loop, after its templates.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name used in reports and baselines (the protocol).
    pub name: &'static str,
    /// Datagrams that must be decoded once before (templates, option data).
    pub setup: Vec<Vec<u8>>,
    /// The datagram decoded in the measured loop.
    pub datagram: Vec<u8>,
    /// Flow records (or sFlow samples) in `datagram`.
    pub records: usize,
}

/// Exporter address used by every workload.
pub const EXPORTER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

fn capture(dir: &str, name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "vendor-captures", dir, name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("benchmark input {}: {e}", path.display()))
}

/// The workloads, from real exporters:
/// - `netflow_v5`: MikroTik, 30 records;
/// - `netflow_v9`: softflowd, one flowset of 29 small records (7 fields, with MACs);
/// - `netflow_v9_cisco`: Cisco ASR 9000, one flowset of 21 records of 23 fields (BGP, VRF, sampler);
/// - `ipfix`: OpenBSD pflow, 26 records (IPv4, millisecond timestamps);
/// - `ipfix_mikrotik`: MikroTik, 1400-byte set of 20+-field records (MACs, NAT, IPv6 fields);
/// - `sflow_v5`: a switch's datagram of 5 flow samples with Ethernet/802.1Q/IPv4/TCP raw headers.
pub fn workloads() -> Vec<Workload> {
    let nf = |n| capture("netflow", n);
    // Template datagram first, then the data datagram decoded in the loop.
    let templated = |name, tpl, data| Workload { name, setup: vec![nf(tpl)], datagram: nf(data), records: 0 };
    let mut w = vec![
        Workload { name: "netflow_v5", setup: vec![], datagram: nf("netflow5_test_microtik.dat"), records: 0 },
        templated("netflow_v9", "netflow9_test_macaddr_tpl.dat", "netflow9_test_macaddr_data.dat"),
        templated("netflow_v9_cisco", "netflow9_test_cisco_asr9k_tpl260.dat", "netflow9_test_cisco_asr9k_data260.dat"),
        templated("ipfix_mikrotik", "ipfix_test_mikrotik_tpl.dat", "ipfix_test_mikrotik_data258.dat"),
        templated("ipfix", "ipfix_test_openbsd_pflow_tpl.dat", "ipfix_test_openbsd_pflow_data.dat"),
        Workload {
            name: "sflow_v5",
            setup: vec![],
            datagram: capture("sflow", "sflow_with_lag_counters.dat"),
            records: 0,
        },
    ];
    for wl in &mut w {
        let (mut decoder, mut batch) = wl.decoder();
        wl.records = wl.decode(&mut decoder, &mut batch);
        assert!(wl.records > 0, "{}: benchmark datagram decodes to no records", wl.name);
    }
    w
}

impl Workload {
    /// A decoder that has seen the setup datagrams, and a batch for the loop.
    pub fn decoder(&self) -> (Decoder, Batch) {
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut batch = Batch::with_capacity(1024);
        for d in &self.setup {
            let _ = decoder.decode(EXPORTER, 1, d, &mut batch);
        }
        (decoder, batch)
    }

    /// Decodes the workload's datagram once; returns the records produced.
    #[inline]
    pub fn decode(&self, decoder: &mut Decoder, batch: &mut Batch) -> usize {
        batch.clear();
        let _ = decoder.decode(EXPORTER, 1, &self.datagram, batch);
        batch.len()
    }
}
