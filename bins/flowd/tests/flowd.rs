//! helios-flowd end to end: the vendor capture replayed over UDP into the real binary, flows counted
//! in a real ClickHouse 26.9 (chdb behind `scripts/chdb_server.py`, a stand-in for the server's HTTP
//! front only). Each vendor's exporter `10.0.<n>.1` is replayed from its own loopback address
//! `127.0.<n>.1`, so template state stays per exporter as it does in the capture.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::Batch;
use helios_testkit::{ClickHouse, Service, free_port, repo_root};

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
    expected(datagrams).0
}

/// Flows, and datagrams with at least one flow, that core decodes from the capture.
fn expected(datagrams: &[(IpAddr, Vec<u8>)]) -> (u64, u64) {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(8192);
    let (mut flows, mut with_flows) = (0, 0);
    for (exporter, payload) in datagrams {
        batch.clear();
        let _ = decoder.decode(*exporter, 0, payload, &mut batch);
        flows += batch.len() as u64;
        with_flows += u64::from(!batch.is_empty());
    }
    (flows, with_flows)
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

struct Flowd {
    service: Service,
    udp: SocketAddr,
}

impl Flowd {
    fn start(clickhouse: &ClickHouse) -> Flowd {
        Flowd::start_with(&["--clickhouse-url", &clickhouse.url()])
    }

    fn start_with(extra: &[&str]) -> Flowd {
        let (udp, http) =
            (SocketAddr::from(([127, 0, 0, 1], free_port())), SocketAddr::from(([127, 0, 0, 1], free_port())));
        let data = repo_root().join("testdata");
        let mut args: Vec<String> =
            ["--listen", &udp.to_string(), "--http", &http.to_string()].map(String::from).into();
        args.extend(extra.iter().map(|a| a.to_string()));
        for set in [
            "workers=2".to_owned(),
            "clickhouse.compression=false".to_owned(),
            "clickhouse.batch_age_ms=200".to_owned(),
            "clickhouse.retry_max_ms=300".to_owned(),
            format!("enrichment.netbox_snapshot={}", data.join("netbox/example-snapshot.json").display()),
            format!("enrichment.geoip_city={}", data.join("geoip/GeoIP2-City-Test.mmdb").display()),
        ] {
            args.extend(["--set".to_owned(), set]);
        }
        let service = Service::start(env!("CARGO_BIN_EXE_helios-flowd"), &args, http);
        service.wait_ready(Duration::from_secs(30));
        Flowd { service, udp }
    }
}

/// Waits until `flows_raw` holds `n` rows, then checks it stays there (nothing late, nothing twice).
fn wait_for_rows(ch: &ClickHouse, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let count = || ch.query("SELECT count() FROM helios.flows_raw").parse::<u64>().unwrap_or(0);
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
        ch.query("SELECT groupArray(t) FROM (SELECT DISTINCT toString(type) AS t FROM helios.flows_raw ORDER BY t)");
    assert_eq!(types, "['IPFIX','NETFLOW_V5','NETFLOW_V9','SFLOW_5']");
    let metrics = flowd.service.metrics();
    assert!(metrics.contains(r#"helios_flowd_datagrams_total{exporter="127.0.1.1",protocol="#), "{metrics}");
    assert!(
        metrics.contains(r#"helios_flowd_decode_errors_total{reason="#),
        "the capture's invalid datagrams are counted"
    );
    let raw_rows = format!(r#"helios_flowd_clickhouse_rows_total{{table="flows_raw"}} {expected}"#);
    assert!(metrics.contains(&raw_rows), "{metrics}");
    assert!(metrics.contains(r#"helios_flowd_enrichment_misses_total{lookup="exporter"}"#), "{metrics}");
    assert!(metrics.contains("helios_flowd_rollup_groups "), "{metrics}");
    assert!(flowd.service.terminate().success());
    assert_rolled_up(&ch, expected);
}

/// `flows_1m` sums exactly what `flows_raw` holds, per minute (the rollup's last minute goes out at
/// shutdown, the others once they are over).
fn assert_rolled_up(ch: &ClickHouse, expected: u64) {
    let sums = |table: &str, time: &str, flows: &str| {
        ch.query(&format!(
            "SELECT groupArray((t, b, p, f)) FROM (SELECT {time} AS t, sum(bytes) AS b, sum(packets) AS p, \
             {flows} AS f FROM helios.{table} GROUP BY t ORDER BY t)"
        ))
    };
    let raw = sums("flows_raw", "toDateTime(toStartOfMinute(time_received), 'UTC')", "count()");
    assert_eq!(sums("flows_1m", "time", "sum(flows)"), raw);
    assert_eq!(ch.query("SELECT sum(flows) FROM helios.flows_1m"), expected.to_string());
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
    assert!(flowd.service.metrics().contains("helios_flowd_clickhouse_errors_total{reason=\"unavailable\"}"));
    ch.restart();
    wait_for_rows(&ch, expected);
    assert!(!flowd.service.metrics().contains("helios_flowd_dropped_flows_total{"), "nothing dropped");
    assert!(flowd.service.terminate().success());
    assert_rolled_up(&ch, expected);
}

/// Reads `topic` from the start until `n` messages came (or 60 s passed); returns their payloads.
fn read_topic(brokers: &str, topic: &str, n: usize) -> Vec<Vec<u8>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let config = helios_kafka::Config {
            brokers: brokers.into(),
            group: format!("test-{topic}"),
            session_timeout_ms: 6000,
            ..helios_kafka::Config::default()
        };
        let consumer =
            helios_kafka::FlowConsumer::new(&config, topic, helios_kafka::Metrics::default()).expect("consumer");
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while out.len() < n {
            let Ok(m) = tokio::time::timeout_at(deadline, consumer.recv()).await else { break };
            out.push(m.expect("recv").payload().unwrap_or_default().to_vec());
        }
        out
    })
}

#[test]
fn kafka_outputs_carry_every_flow_through_a_ten_second_broker_outage() {
    let cluster: rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> =
        rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    for topic in ["helios-flows-raw", "helios-flows-enriched"] {
        cluster.create_topic(topic, 2, 1).expect("topic");
    }
    let brokers = cluster.bootstrap_servers();
    let flowd = Flowd::start_with(&[
        "--set",
        "outputs.clickhouse=false",
        "--set",
        "outputs.kafka_raw=true",
        "--set",
        "outputs.kafka_enriched=true",
        "--set",
        &format!("kafka.brokers={brokers}"),
    ]);
    let datagrams = capture();
    let (flows, messages) = expected(&datagrams);
    // The first replay teaches the templates; then the broker goes away for 10 s under load.
    replay(&datagrams, flowd.udp);
    cluster.broker_down(1).expect("down");
    let mut replays = 1;
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(10) {
        replay(&datagrams, flowd.udp);
        replays += 1;
    }
    cluster.broker_up(1).expect("up");
    let raw = read_topic(&brokers, "helios-flows-raw", (flows * replays) as usize);
    let mut batch = Batch::with_capacity(16);
    let decoded: usize = raw
        .iter()
        .map(|m| {
            batch.clear();
            helios_core::encode::protobuf::decode_payload(m, &mut batch).expect("goflow2 framing")
        })
        .sum();
    assert_eq!((raw.len(), decoded as u64), ((flows * replays) as usize, flows * replays), "one flow per message");
    let enriched = read_topic(&brokers, "helios-flows-enriched", (messages * replays) as usize);
    assert_eq!(enriched.len() as u64, messages * replays, "one message per datagram with flows");
    let mut header = Vec::new();
    helios_core::encode::rowbinary::write_header(&mut header);
    assert!(enriched.iter().all(|m| m.starts_with(&header) && m.len() > header.len()));
    let metrics = flowd.service.metrics();
    assert!(!metrics.contains("helios_flowd_dropped_flows_total{"), "nothing dropped: {metrics}");
    assert!(flowd.service.terminate().success());
}

#[test]
fn saved_templates_let_a_restarted_collector_decode_at_once() {
    let ch = ClickHouse::start();
    let dir = helios_testkit::TempDir::new("templates");
    let templates = format!("template_dir={}", dir.path().display());
    let datagrams = capture();
    // The data-only datagrams: a decoder that has seen no template cannot decode them.
    let mut batch = Batch::with_capacity(8192);
    let data_only: Vec<(IpAddr, Vec<u8>)> = datagrams
        .iter()
        .filter(|(exporter, payload)| {
            batch.clear();
            matches!(
                Decoder::new(DecoderConfig::default()).decode(*exporter, 0, payload, &mut batch),
                Err(helios_core::Error::Datagram { reason: helios_core::error::Reason::MissingTemplate, .. })
            ) && batch.is_empty()
        })
        .cloned()
        .collect();
    let (all, data_only_flows) = (expected_flows(&datagrams), {
        // What they decode to once the templates are known.
        let mut warm = Decoder::new(DecoderConfig::default());
        for (exporter, payload) in &datagrams {
            batch.clear();
            let _ = warm.decode(*exporter, 0, payload, &mut batch);
        }
        data_only
            .iter()
            .map(|(exporter, payload)| {
                batch.clear();
                let _ = warm.decode(*exporter, 0, payload, &mut batch);
                batch.len() as u64
            })
            .sum::<u64>()
    });
    assert!(data_only_flows > 50, "{data_only_flows}");

    let first = Flowd::start_with(&["--clickhouse-url", &ch.url(), "--set", &templates]);
    replay(&datagrams, first.udp);
    wait_for_rows(&ch, all);
    assert!(first.service.terminate().success());
    let second = Flowd::start_with(&["--clickhouse-url", &ch.url(), "--set", &templates]);
    replay(&data_only, second.udp);
    wait_for_rows(&ch, all + data_only_flows);
    assert!(second.service.terminate().success());
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let ch = ClickHouse::start();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_helios-flowd"))
        .args(["migrate", "--clickhouse-url", &ch.url(), "--set", "clickhouse.compression=false"])
        .status()
        .expect("helios-flowd runs");
    assert!(status.success());
    assert_eq!(ch.query("SELECT count() FROM system.tables WHERE database = 'helios' AND name LIKE 'flows_%'"), "4");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_helios-flowd"))
        .args(["migrate", "--set", "clickhouse.url=ftp://x"])
        .output()
        .expect("helios-flowd runs");
    assert!(!bad.status.success(), "an invalid setting fails before anything starts");
}
