//! The adapter against a real ClickHouse 26.9 engine (chdb behind `scripts/chdb_server.py`, a
//! stand-in for the server's HTTP front only): schema, inserts, deduplication, aggregates, TTL,
//! outages.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use helios_clickhouse::block::{BlockBuilder, Limits};
use helios_clickhouse::schema::{KafkaSource, Storage, kafka_path, migrations};
use helios_clickhouse::{Block, ClickHouse, Config, InsertFormat, Metrics, RawCodec, Rollup, Table};
use helios_core::encode::rowbinary::{FLOW_COLUMNS, write_header, write_row};
use helios_core::enrich::enricher::enrich;
use helios_core::enrich::published::Snapshot;
use helios_core::flow::{Addr, FlowLists, FlowRecord, FlowType};
use helios_testkit::{ClickHouse as Engine, enrichment_snapshot};

fn config(engine: &Engine) -> Config {
    // The test front cannot decompress LZ4 bodies.
    Config { url: engine.url(), compression: false, retry_min_ms: 50, retry_max_ms: 200, ..Config::default() }
}

async fn connect(engine: &Engine) -> ClickHouse {
    let ch = ClickHouse::new(config(engine), Metrics::default()).expect("valid config");
    ch.migrate().await.expect("migrate");
    ch
}

const MINUTE_NS: u64 = 60_000_000_000;

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos() as u64
}

/// `n` flows from edge1.fra1 (192.0.2.1): 81.2.69.142 (GB, London) to 1.128.0.1 (AS1221), sampled 1:10,
/// flow `i` carrying `i + 1` bytes, received at `at_ns`.
fn flows(n: u64, at_ns: u64) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| FlowRecord {
            flow_type: FlowType::Ipfix,
            time_received_ns: at_ns + i,
            sampler_address: Addr::v4([192, 0, 2, 1]),
            src_addr: Addr::v4([81, 2, 69, 142]),
            dst_addr: Addr::v4([1, 128, 0, 1]),
            in_if: 1,
            out_if: 2,
            proto: 6,
            etype: 0x800,
            src_port: 443,
            dst_port: (i % 1000) as u16,
            bytes: i + 1,
            packets: 1,
            sampling_rate: 10,
            ..FlowRecord::default()
        })
        .collect()
}

/// The records as one block in the default format (Native), without lists.
fn block(records: &[FlowRecord], snap: &Snapshot, token: &str) -> Block {
    block_in(InsertFormat::Native, records, |_| FlowLists::EMPTY, snap, token)
}

fn block_in(
    format: InsertFormat,
    records: &[FlowRecord],
    lists: impl Fn(usize) -> FlowLists,
    snap: &Snapshot,
    token: &str,
) -> Block {
    let mut enriched = Vec::new();
    enrich(records, snap, &mut enriched);
    let limits = Limits { rows: usize::MAX, bytes: usize::MAX, age: Duration::from_secs(60) };
    let mut b = BlockBuilder::new(limits, format);
    for (i, (r, e)) in records.iter().zip(&enriched).enumerate() {
        write_row(r, &lists(i), e, snap, b.buffer());
    }
    b.add_rows(records.len(), Instant::now());
    let block = b.take(token.into()).expect("rows");
    assert_eq!(block.format, format);
    block
}

/// Inserts `b` into `flows_raw`, then its rollup into `flows_1m`, as helios-enricher does.
async fn store(ch: &ClickHouse, b: &Block) {
    ch.insert(b).await.expect("flows_raw");
    let mut rollup = Rollup::default();
    rollup.add(b).expect("our block");
    ch.insert(&rollup.take_for(b).expect("rows")).await.expect("flows_1m");
}

/// Inserts `records` as a Native block, then as a RowBinary block; after each, the answer to `query`,
/// then `flows_raw` is emptied.
async fn each_format(
    ch: &ClickHouse,
    records: &[FlowRecord],
    lists: impl Fn(usize) -> FlowLists + Copy,
    snap: &Snapshot,
    query: &str,
) -> [String; 2] {
    let mut answers = [String::new(), String::new()];
    for ((format, token), answer) in
        [(InsertFormat::Native, "n"), (InsertFormat::RowBinary, "r")].into_iter().zip(&mut answers)
    {
        ch.insert(&block_in(format, records, lists, snap, token)).await.expect("insert");
        *answer = scalar(ch, query).await;
        ch.execute("truncate", "TRUNCATE TABLE helios.flows_raw").await.expect("truncate");
    }
    answers
}

async fn scalar(ch: &ClickHouse, sql: &str) -> String {
    ch.query_text("test query", sql).await.expect(sql).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let engine = Engine::start();
    let ch = ClickHouse::new(config(&engine), Metrics::default()).expect("config");
    assert_eq!(ch.migrate().await.expect("first"), vec![1, 2, 3, 4, 5]);
    assert_eq!(ch.migrate().await.expect("second"), Vec::<u32>::new());
    let tables = scalar(
        &ch,
        "SELECT groupArray(name) FROM (SELECT name FROM system.tables WHERE database = 'helios' ORDER BY name)",
    )
    .await;
    // Version 3 removed the view that aggregated every flows_raw insert into flows_1m.
    assert_eq!(tables, "['flows_1h','flows_1h_mv','flows_1m','flows_raw','helios_schema_migrations']");
    // A changed retention is applied to the live table.
    let longer = ClickHouse::new(Config { raw_ttl_days: 9, ..config(&engine) }, Metrics::default()).expect("config");
    assert_eq!(longer.migrate().await.expect("third"), Vec::<u32>::new());
    let ttl =
        scalar(&ch, "SELECT engine_full FROM system.tables WHERE database = 'helios' AND name = 'flows_raw'").await;
    assert!(ttl.contains("toIntervalDay(9)"), "{ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_from_version_4_ends_like_a_fresh_install_and_keeps_its_minutes() {
    let engine = Engine::start();
    let fresh = ClickHouse::new(Config { database: "fresh".into(), ..config(&engine) }, Metrics::default());
    fresh.expect("config").migrate().await.expect("fresh");
    let cfg = Config { database: "upgraded".into(), ..config(&engine) };
    let old = ClickHouse::new(cfg.clone(), Metrics::default()).expect("config");
    for sql in helios_clickhouse::schema::bootstrap("upgraded") {
        old.execute("bootstrap", &sql).await.expect("bootstrap");
    }
    for m in migrations("upgraded", Storage::from(&cfg)).into_iter().filter(|m| m.version <= 4) {
        for sql in &m.statements {
            old.execute("old migration", sql).await.expect(sql);
        }
        let record =
            format!("INSERT INTO upgraded.helios_schema_migrations (version, name) VALUES ({}, 'v')", m.version);
        old.execute("record", &record).await.expect("record");
    }
    old.execute(
        "a minute",
        "INSERT INTO upgraded.flows_1m (time, exporter_device, bytes, flows) VALUES (now(), 'r1', 7, 1)",
    )
    .await
    .expect("a version 4 minute");
    assert_eq!(old.migrate().await.expect("upgrade"), vec![5]);
    assert_eq!(old.migrate().await.expect("again"), Vec::<u32>::new());
    let tables = "table IN ('flows_1m', 'flows_1h')";
    let keys = |db: &str| {
        format!("SELECT table, sorting_key FROM system.tables WHERE database = '{db}' AND {tables} ORDER BY table")
    };
    let columns = |db: &str| {
        format!(
            "SELECT table, groupArray(name || ' ' || type) FROM (SELECT table, name, type FROM system.columns \
             WHERE database = '{db}' AND {tables} ORDER BY table, name) GROUP BY table ORDER BY table"
        )
    };
    let upgraded_keys = scalar(&old, &keys("upgraded")).await;
    let upgraded_columns = scalar(&old, &columns("upgraded")).await;
    assert_eq!(upgraded_keys, scalar(&old, &keys("fresh")).await);
    assert_eq!(upgraded_columns, scalar(&old, &columns("fresh")).await);
    assert!(upgraded_columns.contains("exporter_tier LowCardinality(String)"), "{upgraded_columns}");
    assert!(upgraded_keys.lines().all(|l| l.ends_with(", exporter_tier")), "{upgraded_keys}");
    // The minute written before the upgrade is kept, with an empty tier; a new one carries its tier
    // into flows_1h through the rebuilt view.
    old.execute("a new minute", "INSERT INTO upgraded.flows_1m (time, exporter_device, exporter_tier, bytes, flows) VALUES (now(), 'r1', 'gold', 5, 1)")
        .await
        .expect("a version 5 minute");
    let tiers = "SELECT groupArray((exporter_tier, b)) FROM (SELECT exporter_tier, sum(bytes) AS b FROM upgraded.flows_1h GROUP BY exporter_tier ORDER BY exporter_tier)";
    assert_eq!(scalar(&old, "SELECT sum(bytes) FROM upgraded.flows_1m").await, "12");
    assert_eq!(scalar(&old, tiers).await, "[('',7),('gold',5)]", "the view made before version 5 was replaced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_codec_follows_the_configuration_without_rewriting_parts() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let codecs = "SELECT arraySort(groupUniqArray(compression_codec)) FROM system.columns \
                  WHERE database = 'helios' AND table = 'flows_raw'";
    assert_eq!(scalar(&ch, codecs).await, "['CODEC(LZ4)']", "the default");
    ch.insert(&block(&flows(10, now_ns()), &enrichment_snapshot(), "lz4")).await.expect("insert");
    let zstd = ClickHouse::new(Config { raw_codec: RawCodec::Zstd, ..config(&engine) }, Metrics::default());
    let zstd = zstd.expect("config");
    assert_eq!(zstd.migrate().await.expect("migrate"), Vec::<u32>::new());
    assert_eq!(
        scalar(&ch, codecs).await,
        "['CODEC(Delta(4), ZSTD(1))','CODEC(DoubleDelta, ZSTD(1))','CODEC(ZSTD(1))']"
    );
    assert_eq!(scalar(&ch, "SELECT count() FROM system.mutations WHERE database = 'helios'").await, "0");
    zstd.insert(&block(&flows(5, now_ns()), &enrichment_snapshot(), "zstd")).await.expect("insert");
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "15");
    // Codecs as configured are left alone: no ALTER at the next start.
    let altered =
        "SELECT metadata_modification_time FROM system.tables WHERE database = 'helios' AND name = 'flows_raw'";
    let before = scalar(&ch, altered).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(zstd.migrate().await.expect("again"), Vec::<u32>::new());
    assert_eq!(scalar(&ch, altered).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriched_flows_read_back_exactly() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    let at = now_ns();
    ch.insert(&block(&flows(3, at), &snap, "t1")).await.expect("insert");
    let row = scalar(
        &ch,
        "SELECT type, toUnixTimestamp64Nano(time_received), sampler_address, src_addr, dst_addr, bytes, raw_bytes, \
         packets, sampling_rate, proto, src_port, in_if, src_as, dst_as, exporter_device, exporter_site, \
         exporter_vendor, in_if_name, in_if_speed, out_if_name, src_country, src_city, dst_as_name, \
         src_prefix_tenant, src_prefix_role, dst_prefix_role FROM helios.flows_raw ORDER BY time_received LIMIT 1",
    )
    .await;
    let fields: Vec<&str> = row.split('\t').collect();
    assert_eq!(
        fields,
        [
            "IPFIX",
            &at.to_string(),
            "::ffff:192.0.2.1",
            "::ffff:81.2.69.142",
            "::ffff:1.128.0.1",
            "10",
            "1",
            "10",
            "10",
            "6",
            "443",
            "1",
            "0",
            "1221",
            "edge1.fra1",
            "fra1",
            "Juniper",
            "et-0/0/1",
            "100000000000",
            "et-0/0/2",
            "GB",
            "London",
            "Telstra Pty Ltd",
            "customer-a",
            "anycast",
            "peering",
        ]
    );
    assert_eq!(scalar(&ch, "SELECT count(), sum(raw_bytes) FROM helios.flows_raw").await, "3\t6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_and_rowbinary_blocks_store_the_same_rows() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    let records = flows(500, now_ns());
    // AS paths, communities and MPLS labels of varying lengths (arrays are laid out differently).
    let lists = |i: usize| {
        let mut l = FlowLists::EMPTY;
        for k in 0..i % 4 {
            l.as_path.push(65000 + k as u32);
            l.bgp_communities.push((i * 10 + k) as u32);
        }
        l
    };
    let stored =
        each_format(&ch, &records, lists, &snap, "SELECT * FROM helios.flows_raw ORDER BY time_received FORMAT TSV")
            .await;
    assert_eq!(stored[0].lines().count(), 500);
    assert!(stored[0].contains("[65000,65001,65002]"), "arrays stored");
    assert_eq!(stored[0], stored[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserted_blocks_are_compact_parts_and_merged_ones_wide() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    let part_types = "SELECT groupArray(part_type) FROM (SELECT part_type FROM system.parts \
                      WHERE database = 'helios' AND table = 'flows_raw' AND active ORDER BY name)";
    ch.execute("stop merges", "SYSTEM STOP MERGES helios.flows_raw").await.expect("stop merges");
    // A full default block (batch_rows, 100,000 enriched rows) is over ClickHouse's own threshold for
    // wide parts (10 MiB): without migration 4 it is written wide, ...
    let full = |i: u64| block(&flows(100_000, now_ns() + i), &snap, &format!("block-{i}"));
    ch.execute("reset", "ALTER TABLE helios.flows_raw RESET SETTING min_level_for_wide_part").await.expect("reset");
    ch.insert(&full(0)).await.expect("insert");
    assert_eq!(scalar(&ch, part_types).await, "['Wide']");
    // ... with it, compact: one file for all columns.
    ch.execute("truncate", "TRUNCATE TABLE helios.flows_raw").await.expect("truncate");
    let v4 = migrations("helios", Storage::from(&config(&engine))).into_iter().find(|m| m.version == 4);
    ch.execute("v4", &v4.expect("version 4").statements[0]).await.expect("migration 4");
    for i in 1..=3 {
        ch.insert(&full(i)).await.expect("insert");
    }
    assert_eq!(scalar(&ch, part_types).await, "['Compact','Compact','Compact']");
    // Merged, the part is wide.
    ch.execute("start merges", "SYSTEM START MERGES helios.flows_raw").await.expect("start merges");
    ch.execute("merge", "OPTIMIZE TABLE helios.flows_raw FINAL").await.expect("optimize");
    assert_eq!(scalar(&ch, part_types).await, "['Wide']");
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "300000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_blocks_arrive_in_the_tables_key_order() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    // Three exporters (one of them named in NetBox) taking turns, across a minute's end: arrival
    // order is not the key's order.
    let start = now_ns() / MINUTE_NS * MINUTE_NS - MINUTE_NS - 50;
    let mut records = flows(300, start);
    for (i, r) in records.iter_mut().enumerate() {
        r.sampler_address = Addr::v4([192, 0, 2, [9, 1, 5][i % 3]]);
    }
    let sorted = "SELECT sum(value) FROM system.events WHERE event = 'MergeTreeDataWriterBlocksAlreadySorted'";
    let count = |s: String| s.parse::<u64>().expect("a count");
    let before = count(scalar(&ch, sorted).await);
    let [native, rowbinary] = each_format(&ch, &records, |_| FlowLists::EMPTY, &snap, sorted).await.map(count);
    let already_sorted = [native - before, rowbinary - native];
    // The same rows, and the same views' blocks: flows_raw's block is the one difference.
    assert_eq!(already_sorted[0], already_sorted[1] + 1, "ClickHouse found the Native block already sorted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_block_is_stored_once_in_every_table() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    let b = block(&flows(100, now_ns()), &snap, "partition-0/offsets-0-99");
    for _ in 0..3 {
        store(&ch, &b).await;
    }
    let other = block(&flows(100, now_ns()), &snap, "partition-0/offsets-100-199");
    store(&ch, &other).await;
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "200");
    assert_eq!(scalar(&ch, "SELECT sum(flows) FROM helios.flows_1m").await, "200");
    assert_eq!(scalar(&ch, "SELECT sum(flows) FROM helios.flows_1h").await, "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_equal_sums_over_flows_raw() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    // Three minutes, several blocks, rolled up together as helios-flowd does: the first minute goes
    // out once it is over, the rest at the end; flows_1m merges rows of many inserts.
    let start = now_ns() / MINUTE_NS * MINUTE_NS - 3 * MINUTE_NS;
    let mut rollup = Rollup::default();
    for (i, offset) in [0, MINUTE_NS / 2, MINUTE_NS, 2 * MINUTE_NS, 2 * MINUTE_NS + 1].into_iter().enumerate() {
        let b = block(&flows(50 + i as u64, start + offset), &snap, &format!("b{i}"));
        ch.insert(&b).await.expect("insert");
        assert_eq!(rollup.add(&b).expect("our block"), 50 + i);
    }
    let second_minute = (start + MINUTE_NS) / 1_000_000_000;
    let first = rollup.take_before(second_minute, 100, "m0");
    let rest = rollup.take_before(u64::MAX, 1, "m1");
    let rows = |blocks: &[Block]| blocks.iter().map(|b| (b.table, b.rows)).collect::<Vec<_>>();
    assert_eq!(rows(&first), [(Table::Flows1m, 1)], "one group per minute");
    assert_eq!(rows(&rest), [(Table::Flows1m, 1), (Table::Flows1m, 1)], "in blocks of one row");
    for b in first.iter().chain(&rest) {
        ch.insert(b).await.expect("flows_1m");
    }
    ch.execute("optimize", "OPTIMIZE TABLE helios.flows_1m FINAL").await.expect("optimize");
    for (table, bucket) in [("flows_1m", "toStartOfMinute"), ("flows_1h", "toStartOfHour")] {
        let raw = scalar(
            &ch,
            &format!(
                "SELECT groupArray((t, b, p, f)) FROM (SELECT toDateTime({bucket}(time_received), 'UTC') AS t, \
                 sum(bytes) AS b, sum(packets) AS p, count() AS f FROM helios.flows_raw GROUP BY t ORDER BY t)"
            ),
        )
        .await;
        let agg = scalar(
            &ch,
            &format!(
                "SELECT groupArray((t, b, p, f)) FROM (SELECT time AS t, sum(bytes) AS b, sum(packets) AS p, \
                 sum(flows) AS f FROM helios.{table} GROUP BY t ORDER BY t)"
            ),
        )
        .await;
        assert_eq!(agg, raw, "{table}");
        assert!(raw.len() > 10, "{raw}");
    }
    let by_country = scalar(&ch, "SELECT src_country, dst_as, sum(bytes) FROM helios.flows_1m GROUP BY ALL").await;
    let raw_country = scalar(&ch, "SELECT src_country, dst_as, sum(bytes) FROM helios.flows_raw GROUP BY ALL").await;
    assert_eq!(by_country, raw_country);
    assert!(by_country.starts_with("GB\t1221\t"), "{by_country}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_purges_expired_rows() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    let day = 86_400_000_000_000u64;
    // Rows already past the 7-day TTL are dropped as they are written.
    store(&ch, &block(&flows(10, now_ns() - 8 * day), &snap, "expired")).await;
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "0");
    // Rows two seconds short of it are stored, then purged once they expire.
    let second = 1_000_000_000;
    store(&ch, &block(&flows(5, now_ns() - 7 * day + 2 * second), &snap, "expiring")).await;
    store(&ch, &block(&flows(3, now_ns() - day), &snap, "recent")).await;
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "8");
    tokio::time::sleep(Duration::from_secs(3)).await;
    ch.execute("optimize", "OPTIMIZE TABLE helios.flows_raw FINAL").await.expect("optimize");
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "3");
    // The aggregates keep every row they were given: their retention is longer.
    assert_eq!(scalar(&ch, "SELECT sum(flows) FROM helios.flows_1m").await, "18");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_retried_until_the_block_is_stored_once() {
    let mut engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    let b = block(&flows(1000, now_ns()), &snap, "outage-1");
    engine.stop();
    let err = ch.insert(&b).await.expect_err("down");
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.reason(), "unavailable");
    let giving_up = ch.insert_retrying(&b, Some(Instant::now() + Duration::from_millis(300))).await;
    assert!(giving_up.is_err(), "a deadline stops the retries");
    let writer = {
        let (ch, b) = (ch.clone(), b.clone());
        tokio::spawn(async move { ch.insert_retrying(&b, None).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!writer.is_finished(), "still retrying while ClickHouse is down");
    engine.restart();
    writer.await.expect("join").expect("stored after the outage");
    // Sent again, as a writer that lost the acknowledgement would: still once.
    ch.insert(&b).await.expect("insert");
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_reported_with_their_code_and_not_retried() {
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let garbage = Block {
        table: Table::FlowsRaw,
        data: bytes::Bytes::from_static(b"\x01\x02\x03"),
        format: InsertFormat::RowBinary,
        rows: 1,
        token: "bad".into(),
    };
    let started = Instant::now();
    let err = ch.insert_retrying(&garbage, None).await.expect_err("garbage is refused");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("INSERT INTO helios.flows_raw"), "{err}");
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_usage_and_metrics_are_reported() {
    let engine = Engine::start();
    let mut registry = prometheus_client::registry::Registry::with_prefix("helios_test");
    let ch = ClickHouse::new(config(&engine), Metrics::register(&mut registry)).expect("config");
    ch.migrate().await.expect("migrate");
    let disks = ch.disk_usage().await.expect("disks");
    assert!(disks.iter().any(|d| d.name == "default" && d.total > 0 && d.free <= d.total), "{disks:?}");
    ch.insert(&block(&flows(7, now_ns()), &enrichment_snapshot(), "m")).await.expect("insert");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(text.contains("helios_test_clickhouse_rows_total{table=\"flows_raw\"} 7"), "{text}");
    assert!(text.contains("helios_test_clickhouse_disk_total_bytes{disk=\"default\"}"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_engine_path_parses_and_its_views_feed_flows_raw_and_flows_1m() {
    // chdb cannot create Kafka-engine tables at all ("Shutdown was called"): ClickHouse's parser checks
    // the table's DDL, and a Null-engine stand-in with the same columns (and the engine's `_error`
    // column) checks the materialized views into flows_raw and flows_1m.
    let engine = Engine::start();
    let ch = connect(&engine).await;
    let k = KafkaSource { brokers: "127.0.0.1:1".into(), topic: "helios-flows-enriched".into(), group: "ch".into() };
    let [table, view, minute_view] = kafka_path("helios", &k);
    let ast = scalar(&ch, &format!("EXPLAIN AST {table}")).await;
    assert!(ast.contains("Function Kafka"), "{ast}");
    let columns: Vec<String> = FLOW_COLUMNS.iter().map(|c| format!("{} {}", c.name, c.ty)).collect();
    let stand_in = format!("CREATE TABLE helios.flows_kafka ({}, _error String) ENGINE = Null", columns.join(", "));
    ch.execute("stand-in", &stand_in).await.expect("stand-in");
    ch.execute("kafka view", &view).await.expect("view");
    ch.execute("kafka minute view", &minute_view).await.expect("minute view");
    // One message as Helios publishes it on the enriched topic: header, then rows.
    let mut message = Vec::new();
    write_header(&mut message);
    let rows =
        block_in(InsertFormat::RowBinary, &flows(4, now_ns()), |_| FlowLists::EMPTY, &enrichment_snapshot(), "k");
    message.extend_from_slice(&rows.data);
    let mut insert = ch
        .client()
        .insert_formatted_with("INSERT INTO helios.flows_kafka FORMAT RowBinaryWithNamesAndTypes".to_owned());
    insert.send(message.into()).await.expect("send");
    insert.end().await.expect("a message parses as RowBinaryWithNamesAndTypes");
    // A message the engine could not parse carries `_error`: the view skips it.
    let names: Vec<&str> = FLOW_COLUMNS.iter().map(|c| c.name).collect();
    let bad = format!(
        "INSERT INTO helios.flows_kafka SELECT {}, 'malformed message' FROM helios.flows_raw",
        names.join(", ")
    );
    ch.execute("through the view", &bad).await.expect("copy");
    assert_eq!(scalar(&ch, "SELECT count(), uniqExact(time_received) FROM helios.flows_raw").await, "4\t4");
    assert_eq!(scalar(&ch, "SELECT sum(flows), sum(bytes) FROM helios.flows_1m").await, "4\t100", "1+2+3+4 bytes ×10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_rejects_inserts_whole_and_they_succeed_once_space_is_back() {
    let mut engine = Engine::start();
    let ch = connect(&engine).await;
    let snap = enrichment_snapshot();
    ch.insert(&block(&flows(100, now_ns()), &snap, "before")).await.expect("insert");
    engine.restart_with_full_disk();
    let b = block(&flows(50, now_ns()), &snap, "while-full");
    let err = ch.insert(&b).await.expect_err("no space");
    assert_eq!((err.reason(), err.is_transient()), ("disk_full", true), "{err}");
    // Rejected whole: what was stored is intact, nothing of the refused block is there.
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "100");
    let check = scalar(&ch, "CHECK TABLE helios.flows_raw").await;
    assert!(!check.is_empty() && check.lines().all(|part| part.ends_with("\t1")), "every part passes: {check}");
    let disks = ch.disk_usage().await.expect("disks");
    assert!(disks.iter().any(|d| d.name == "default" && d.free == 0), "the gauge shows no space: {disks:?}");
    engine.restart();
    ch.insert_retrying(&b, Some(Instant::now() + Duration::from_secs(30))).await.expect("space is back");
    assert_eq!(scalar(&ch, "SELECT count() FROM helios.flows_raw").await, "150");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_engine_path_is_created_by_migrate_when_configured() {
    // chdb refuses every Kafka-engine table ("Shutdown was called"): that the migration sends it and
    // reports the refusal is what can be checked here; the DDL itself is checked by ClickHouse's
    // parser above.
    let engine = Engine::start();
    let k = KafkaSource { brokers: "127.0.0.1:1".into(), topic: "helios-flows-enriched".into(), group: "ch".into() };
    let config = Config { kafka_engine: Some(k), ..config(&engine) };
    let err = ClickHouse::new(config, Metrics::default()).expect("config").migrate().await.expect_err("chdb");
    assert!(err.to_string().contains("the Kafka-engine path"), "{err}");
    let ch = connect(&engine).await;
    assert_eq!(
        scalar(&ch, "SELECT count() FROM system.tables WHERE database = 'helios' AND name = 'flows_raw'").await,
        "1"
    );
}
