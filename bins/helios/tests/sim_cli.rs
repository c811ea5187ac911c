//! `helios sim` end to end: the real binary sending to a UDP socket of the test, every datagram
//! decoded by helios-core.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::Batch;

#[test]
fn sim_sends_the_flows_it_reports_from_one_address_per_exporter() {
    let collector = UdpSocket::bind("127.0.0.1:0").expect("bind");
    collector.set_read_timeout(Some(Duration::from_millis(1500))).expect("timeout");
    let target = collector.local_addr().expect("addr").to_string();
    let sim = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_helios"))
            .args(["sim", "--target", &target, "--rate", "20000", "--duration", "1", "--exporters", "3"])
            .output()
            .expect("helios sim runs")
    });
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(64);
    let (mut flows, mut sources, mut buf) = (0u64, Vec::new(), vec![0u8; 65_536]);
    while let Ok((n, from)) = collector.recv_from(&mut buf) {
        batch.clear();
        flows += decoder.decode(from.ip(), 0, &buf[..n], &mut batch).expect("every datagram decodes") as u64;
        if !sources.contains(&from.ip()) {
            sources.push(from.ip());
        }
    }
    let out = sim.join().expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["flows"].as_u64(), Some(flows));
    assert!((15_000..=25_000).contains(&flows), "{flows}");
    sources.sort();
    assert_eq!(sources.iter().map(ToString::to_string).collect::<Vec<_>>(), ["127.1.0.1", "127.1.0.2", "127.1.0.3"]);
}
