//! helios-enricher end to end: goflow2-framed flows on librdkafka's MockCluster (a real Kafka
//! protocol implementation, in this test process, over TCP), the real binary, and a real ClickHouse
//! 26.9 (chdb behind `scripts/chdb_server.py`, a stand-in for the server's HTTP front only).
//!
//! Every flow carries a unique `sequence_num`, so "exactly once" is `count() = uniqExact(sequence_num)
//! = flows sent`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use helios_core::encode::protobuf::{encode, encode_delimited};
use helios_core::flow::{Addr, FlowLists, FlowRecord, FlowType};
use helios_kafka::{Config, FlowProducer, Metrics};
use helios_testkit::{ClickHouse, Service, free_port};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

const TOPIC: &str = "helios-flows-raw";

fn flow(seq: u32) -> FlowRecord {
    FlowRecord {
        flow_type: FlowType::NetflowV9,
        sequence_num: seq,
        time_received_ns: 1_700_000_000_000_000_000u64.max(now_ns()) + u64::from(seq),
        sampler_address: Addr::v4([192, 0, 2, (seq % 4) as u8]),
        src_addr: Addr::v4([10, 0, 0, 1]),
        dst_addr: Addr::v4([10, 0, 0, 2]),
        bytes: 100,
        packets: 1,
        ..FlowRecord::default()
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Publishes flows `from..to` as goflow2 does, keyed by exporter: mostly one delimited message per
/// Kafka message, every 7th as an un-prefixed message, every 11th with two more flows in the same
/// message. Returns the flows published.
fn publish(p: &FlowProducer, from: u32, to: u32) -> u32 {
    let mut seq = from;
    let mut payload = Vec::new();
    let mut n = 0;
    while seq < to {
        payload.clear();
        let key = [(seq % 4) as u8];
        if seq.is_multiple_of(7) {
            encode(&flow(seq), &FlowLists::EMPTY, &mut payload);
            seq += 1;
            n += 1;
        } else {
            let k = if seq.is_multiple_of(11) { 3.min(to - seq) } else { 1 };
            for s in seq..seq + k {
                encode_delimited(&flow(s), &FlowLists::EMPTY, &mut payload);
            }
            seq += k;
            n += k;
        }
        p.send(TOPIC, &key, &payload).expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    n
}

fn enricher(brokers: &str, ch: &ClickHouse) -> Service {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut args: Vec<String> =
        ["--brokers", brokers, "--clickhouse-url", &ch.url(), "--http", &http.to_string()].map(String::from).into();
    for set in [
        "clickhouse.compression=false",
        "clickhouse.batch_rows=400",
        "clickhouse.batch_age_ms=200",
        "clickhouse.retry_max_ms=300",
        "kafka.session_timeout_ms=6000",
    ] {
        args.extend(["--set".to_owned(), set.to_owned()]);
    }
    Service::start(env!("CARGO_BIN_EXE_helios-enricher"), &args, http)
}

fn stored(ch: &ClickHouse) -> (u64, u64) {
    let r = ch.query("SELECT count(), uniqExact(sequence_num) FROM helios.flows_raw");
    let mut f = r.split('\t').map(|v| v.parse().unwrap_or(0));
    (f.next().unwrap_or(0), f.next().unwrap_or(0))
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for exactly `n` distinct flows, and that nothing more arrives after; `flows_1m` counts them
/// once too (each block's rollup is stored before its offsets are committed).
fn assert_exactly_once(ch: &ClickHouse, n: u64) {
    wait_until(&format!("{n} flows stored"), Duration::from_secs(90), || stored(ch).0 >= n);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(stored(ch), (n, n), "every flow once");
    assert_eq!(ch.query("SELECT sum(flows) FROM helios.flows_1m"), n.to_string(), "every flow once in flows_1m");
}

fn cluster() -> (MockCluster<'static, DefaultProducerContext>, FlowProducer) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic(TOPIC, 2, 1).expect("topic");
    let producer =
        FlowProducer::new(&Config { brokers: cluster.bootstrap_servers(), ..Config::default() }, Metrics::default())
            .expect("producer");
    (cluster, producer)
}

#[test]
fn goflow2_flows_are_stored_once_and_malformed_messages_are_skipped() {
    let ch = ClickHouse::start();
    let (cluster, producer) = cluster();
    let sent = publish(&producer, 0, 3000);
    for junk in [&b"\xff\xff\xff"[..], b"\x0a\x05ab", b""] {
        producer.send(TOPIC, b"junk", junk).expect("send");
    }
    let sent = sent + publish(&producer, 3000, 3500);
    let enricher = enricher(&cluster.bootstrap_servers(), &ch);
    assert_exactly_once(&ch, u64::from(sent));
    let metrics = enricher.metrics();
    assert!(metrics.contains("helios_enricher_malformed_messages_total{reason="), "{metrics}");
    assert!(metrics.contains(&format!("helios_enricher_flows_total {sent}")), "{metrics}");
    assert!(enricher.terminate().success());
}

#[test]
fn a_killed_enricher_resumes_without_loss_or_duplicates() {
    let ch = ClickHouse::start();
    let (cluster, producer) = cluster();
    let mut sent = publish(&producer, 0, 40_000);
    let first = enricher(&cluster.bootstrap_servers(), &ch);
    wait_until("a first part stored", Duration::from_secs(60), || stored(&ch).0 >= 4_000);
    first.crash();
    let partial = stored(&ch).0;
    assert!(partial < u64::from(sent), "the crash came before the end ({partial})");
    sent += publish(&producer, 40_000, 45_000);
    let second = enricher(&cluster.bootstrap_servers(), &ch);
    assert_exactly_once(&ch, u64::from(sent));
    assert!(second.terminate().success());
}

#[test]
fn a_clickhouse_outage_stops_commits_and_loses_nothing() {
    let mut ch = ClickHouse::start();
    let (cluster, producer) = cluster();
    let enricher = enricher(&cluster.bootstrap_servers(), &ch);
    let mut sent = publish(&producer, 0, 2000);
    assert_exactly_once(&ch, u64::from(sent));
    ch.stop();
    sent += publish(&producer, 2000, 6000);
    std::thread::sleep(Duration::from_secs(2));
    assert!(enricher.metrics().contains("helios_enricher_clickhouse_errors_total{reason=\"unavailable\"}"));
    ch.restart();
    assert_exactly_once(&ch, u64::from(sent));
    assert!(enricher.terminate().success());
}

#[test]
fn a_rebalance_between_two_members_loses_nothing_and_stores_nothing_twice() {
    let ch = ClickHouse::start();
    let (cluster, producer) = cluster();
    let mut sent = publish(&producer, 0, 20_000);
    let a = enricher(&cluster.bootstrap_servers(), &ch);
    wait_until("a first part stored", Duration::from_secs(60), || stored(&ch).0 >= 2_000);
    // A second member joins mid-stream: the group rebalances the two partitions.
    let b = enricher(&cluster.bootstrap_servers(), &ch);
    sent += publish(&producer, 20_000, 30_000);
    assert_exactly_once(&ch, u64::from(sent));
    // One member leaves: its partitions move back.
    assert!(a.terminate().success());
    sent += publish(&producer, 30_000, 33_000);
    assert_exactly_once(&ch, u64::from(sent));
    assert!(b.terminate().success());
}
