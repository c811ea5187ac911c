//! helios-flowd under hostile input, as an attacker would send it: its service port with the
//! process's file descriptors used up by connections (it does not spin on failing accepts and
//! answers `/healthz` again once they go: the shared HTTP layer, `helios_service::http`), and
//! datagrams that only cause decode errors, which the metrics show within seconds whatever the
//! outputs (no row ever flows to trigger a flush).

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helios_testkit::free_port;

/// CPU seconds the process `pid` has used (user + system; the kernel counts 100 ticks a second).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("comm").1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / 100.0
}

fn healthy(http: SocketAddr) -> bool {
    helios_testkit::http_get(http, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
}

#[test]
fn descriptor_exhaustion_neither_spins_nor_wedges_the_service() {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let udp = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let script = format!(
        "ulimit -n 128 && exec {} --listen {udp} --http {http} --clickhouse-url http://127.0.0.1:9/",
        env!("CARGO_BIN_EXE_helios-flowd")
    );
    let mut child =
        Command::new("bash").args(["-c", &script]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("flowd");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthy(http) {
        assert!(Instant::now() < deadline, "flowd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // More connections than the process has descriptors: the rest wait in the backlog.
    let hogs: Vec<TcpStream> = (0..300).filter_map(|_| TcpStream::connect(http).ok()).collect();
    assert!(hogs.len() >= 200, "{} connections", hogs.len());
    std::thread::sleep(Duration::from_secs(1));
    let before = cpu_seconds(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_seconds(child.id()) - before;
    assert!(used < 1.0, "{used:.2} CPU-s in 3 s with descriptors exhausted: the accept loop spins");
    drop(hogs);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthy(http) {
        assert!(Instant::now() < deadline, "/healthz did not come back once the connections went");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// An IPFIX datagram whose one data set names template 300, which was never sent.
fn data_without_template() -> Vec<u8> {
    let mut d = vec![0, 10, 0, 28, 0x65, 0x4f, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7];
    d.extend_from_slice(&[0x01, 0x2c, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8]);
    d
}

/// helios-flowd with Kafka as its only output (no broker answers: no row is ever flushed) and
/// `sets` besides; its UDP address and the running service.
fn kafka_only_flowd(sets: &[&str]) -> (SocketAddr, helios_testkit::Service) {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let udp = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut args: Vec<String> = ["--listen", &udp.to_string(), "--http", &http.to_string()].map(String::from).into();
    for set in ["outputs.clickhouse=false", "outputs.kafka_raw=true", "kafka.brokers=127.0.0.1:9"].iter().chain(sets) {
        args.extend(["--set".to_owned(), (*set).to_owned()]);
    }
    let service = helios_testkit::Service::start(env!("CARGO_BIN_EXE_helios-flowd"), &args, http);
    service.wait_for(&["/healthz"], Duration::from_secs(30));
    (udp, service)
}

#[test]
fn decode_errors_reach_the_metrics_within_seconds_with_kafka_only_outputs() {
    let (udp, service) = kafka_only_flowd(&[]);
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..25 {
        sender.send_to(&data_without_template(), udp).expect("send");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let counted = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix(r#"helios_flowd_decode_errors_total{reason="missing_template"} "#))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    while counted(&service.metrics()) < 25 {
        assert!(Instant::now() < deadline, "decode errors not in /metrics after 5 s:\n{}", service.metrics());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A NetFlow v5 header announcing no records.
fn empty_v5() -> Vec<u8> {
    let mut d = vec![0, 5, 0, 0];
    d.extend_from_slice(&[0; 20]);
    d
}

#[test]
fn per_exporter_series_are_capped_for_the_whole_process() {
    let (udp, service) = kafka_only_flowd(&["workers=2", "max_exporter_series=3"]);
    // Twenty "exporters" (loopback answers on all of 127/8), each from several ports so the kernel
    // spreads them over both workers.
    for host in 2..22u8 {
        for _ in 0..4 {
            let sender = UdpSocket::bind((std::net::Ipv4Addr::new(127, 0, 0, host), 0)).expect("bind");
            sender.send_to(&empty_v5(), udp).expect("send");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = service.metrics();
        let counted: u64 = metrics
            .lines()
            .filter(|l| l.starts_with("helios_flowd_datagrams_total{"))
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<u64>().ok()))
            .sum();
        if counted == 80 {
            let exporters: std::collections::BTreeSet<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("helios_flowd_datagrams_total{"))
                .filter_map(|l| l.split("exporter=\"").nth(1).and_then(|r| r.split('"').next()))
                .collect();
            assert!(exporters.contains("other") && exporters.len() == 4, "{exporters:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{counted} of 80 datagrams counted:\n{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
