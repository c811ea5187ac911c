//! helios-flowd end to end: the vendor capture replayed over UDP into the real binary, flows counted
//! in a real ClickHouse 26.9 (chdb behind `scripts/chdb_server.py`, a stand-in for the server's HTTP
//! front only). Each vendor's exporter `10.0.<n>.1` is replayed from its own loopback address
//! `127.0.<n>.1`, so template state stays per exporter as it does in the capture.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::Batch;
use helios_testkit::{ClickHouse, free_port, repo_root};

/// The capture's datagrams, each with the loopback address it is replayed from.
fn capture() -> Vec<(IpAddr, Vec<u8>)> {
    let mut out = Vec::new();
    helios_pcap::for_each_udp(&repo_root().join("testdata/pcap/vendors.pcap"), |d| {
        let IpAddr::V4(v4) = d.src else { panic!("the capture's exporters are IPv4") };
        let o = v4.octets();
        out.push((IpAddr::V4(Ipv4Addr::new(127, o[1], o[2], o[3])), d.payload.to_vec()));
    })
    .expect("capture");
    out
}

/// How many flows core decodes from the capture, exporters as replayed.
fn expected_flows(datagrams: &[(IpAddr, Vec<u8>)]) -> u64 {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(8192);
    let mut n = 0;
    for (exporter, payload) in datagrams {
        batch.clear();
        let _ = decoder.decode(*exporter, 0, payload, &mut batch);
        n += batch.len() as u64;
    }
    n
}

fn replay(datagrams: &[(IpAddr, Vec<u8>)], to: SocketAddr) {
    let mut senders: Vec<(IpAddr, UdpSocket)> = Vec::new();
    for (from, payload) in datagrams {
        if !senders.iter().any(|(a, _)| a == from) {
            senders.push((*from, UdpSocket::bind(SocketAddr::new(*from, 0)).expect("loopback sender")));
        }
        let socket = &senders.iter().find(|(a, _)| a == from).expect("just added").1;
        socket.send_to(payload, to).expect("send");
        // Paced, so the kernel's default receive buffer never overflows.
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Flowd {
    child: Child,
    udp: SocketAddr,
    http: SocketAddr,
}

impl Flowd {
    fn start(clickhouse: &ClickHouse) -> Flowd {
        let (udp, http) =
            (SocketAddr::from(([127, 0, 0, 1], free_port())), SocketAddr::from(([127, 0, 0, 1], free_port())));
        let data = repo_root().join("testdata");
        let child = Command::new(env!("CARGO_BIN_EXE_helios-flowd"))
            .args(["--listen", &udp.to_string(), "--http", &http.to_string(), "--clickhouse-url", &clickhouse.url()])
            .args([
                "--set",
                "workers=2",
                "--set",
                "clickhouse.compression=false",
                "--set",
                "clickhouse.batch_age_ms=200",
            ])
            .args(["--set", "clickhouse.retry_max_ms=300"])
            .arg("--set")
            .arg(format!("enrichment.netbox_snapshot={}", data.join("netbox/example-snapshot.json").display()))
            .arg("--set")
            .arg(format!("enrichment.geoip_city={}", data.join("geoip/GeoIP2-City-Test.mmdb").display()))
            .stderr(Stdio::null())
            .spawn()
            .expect("start helios-flowd");
        let flowd = Flowd { child, udp, http };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http_get(http, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            assert!(Instant::now() < deadline, "helios-flowd not ready within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        flowd
    }

    fn metrics(&self) -> String {
        http_get(self.http, "/metrics").expect("metrics")
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "helios-flowd did not stop within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Flowd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query(ch: &ClickHouse, sql: &str) -> String {
    let url = ch.url();
    let addr: SocketAddr = url.trim_start_matches("http://").parse().expect("addr");
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sql}", sql.len())
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("response");
    assert!(head.starts_with("HTTP/1.1 200"), "{sql}: {out}");
    body.trim().to_owned()
}

/// Waits until `flows_raw` holds `n` rows, then checks it stays there (nothing late, nothing twice).
fn wait_for_rows(ch: &ClickHouse, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let count = || query(ch, "SELECT count() FROM helios.flows_raw").parse::<u64>().expect("count");
    while count() < n {
        assert!(Instant::now() < deadline, "only {} of {n} flows arrived within 30 s", count());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(count(), n, "flows_raw holds exactly the flows sent");
}

#[test]
fn every_flow_of_the_capture_arrives_once_enriched_and_shutdown_is_clean() {
    let ch = ClickHouse::start();
    let flowd = Flowd::start(&ch);
    let datagrams = capture();
    let expected = expected_flows(&datagrams);
    assert!(expected > 100, "{expected}");
    replay(&datagrams, flowd.udp);
    wait_for_rows(&ch, expected);

    let types =
        query(&ch, "SELECT groupArray(t) FROM (SELECT DISTINCT toString(type) AS t FROM helios.flows_raw ORDER BY t)");
    assert_eq!(types, "['IPFIX','NETFLOW_V5','NETFLOW_V9','SFLOW_5']");
    assert_eq!(query(&ch, "SELECT sum(flows) FROM helios.flows_1m"), expected.to_string());
    let metrics = flowd.metrics();
    assert!(metrics.contains(r#"helios_flowd_datagrams_total{exporter="127.0.1.1",protocol="#), "{metrics}");
    assert!(
        metrics.contains(r#"helios_flowd_decode_errors_total{reason="#),
        "the capture's invalid datagrams are counted"
    );
    assert!(metrics.contains(&format!("helios_flowd_clickhouse_rows_total {expected}")), "{metrics}");
    assert!(metrics.contains(r#"helios_flowd_enrichment_misses_total{lookup="exporter"}"#), "{metrics}");
    assert!(flowd.terminate().success());
}

#[test]
fn a_clickhouse_outage_loses_nothing_and_stores_nothing_twice() {
    let mut ch = ClickHouse::start();
    let flowd = Flowd::start(&ch);
    let datagrams = capture();
    let expected = expected_flows(&datagrams);
    ch.stop();
    replay(&datagrams, flowd.udp);
    std::thread::sleep(Duration::from_secs(2));
    assert!(flowd.metrics().contains("helios_flowd_clickhouse_errors_total{reason=\"unavailable\"}"));
    ch.restart();
    wait_for_rows(&ch, expected);
    assert!(!flowd.metrics().contains("helios_flowd_dropped_flows_total{"), "nothing dropped");
    assert!(flowd.terminate().success());
}
