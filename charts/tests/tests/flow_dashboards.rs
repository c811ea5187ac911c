//! The 6 flow dashboards of `dashboards/flows` against a real ClickHouse (chdb 26.9 behind
//! `scripts/chdb_server.py`, a stand-in for the server's HTTP front only; no Grafana server can run
//! here). A day of flows for a scaled Large-tier inventory goes in through Helios's own insert path —
//! enrichment from a NetBox snapshot and MaxMind's test databases, `flows_raw` blocks, the minute
//! rollup into `flows_1m`, ClickHouse's view into `flows_1h`, as helios-enricher writes them — and
//! every panel's SQL runs with Grafana's variables and the ClickHouse plugin's macros substituted
//! (`$__timeFilter`, `$__fromTime`, `$__toTime`, `$__interval_s`, as the plugin's `pkg/macros`
//! expands them), parses and returns rows that mean what the panel says.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use helios_chart_tests::{Value, dashboards, metric_contract, p95_and_max};
use helios_clickhouse::block::{BlockBuilder, Limits};
use helios_clickhouse::{ClickHouse, Config, InsertFormat, Metrics, Rollup};
use helios_core::encode::rowbinary::write_row;
use helios_core::enrich::enricher::enrich;
use helios_core::enrich::published::Snapshot;
use helios_core::flow::{Addr, FlowLists, FlowRecord, FlowType};
use helios_testkit::{ClickHouse as Engine, TempDir, repo_root};

/// Exporting devices: the Large tier's lower bound (500–2,000 devices).
const DEVICES: usize = 500;
/// Flows per minute of the day. Dashboards read the rollups, whose size is the number of groups per
/// minute, not the flow rate; `HELIOS_FLOW_BACKFILL_PER_MINUTE` raises it for a heavier run.
fn flows_per_minute() -> usize {
    std::env::var("HELIOS_FLOW_BACKFILL_PER_MINUTE").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
}

/// Conversations: source, destination, AS path. The first is the day's heaviest; all addresses but
/// the documentation ones have answers in MaxMind's test databases (the first's source has an AS).
const PAIRS: &[(&str, &str, &[u32])] = &[
    ("1.128.0.1", "89.160.20.112", &[1221, 1299, 29518]),
    ("81.2.69.142", "12.81.92.1", &[64500, 3356, 7018]),
    ("175.16.199.1", "216.160.83.56", &[64500, 4134, 3356, 209]),
    ("2.125.160.216", "67.43.156.1", &[64500, 35908]),
    ("216.160.83.56", "89.160.20.112", &[64500, 1299, 29518]),
    ("2001:218::1", "2001:db8::1", &[64500, 2914, 2516]),
];
const TENANTS: &[(&str, &str)] = &[
    ("89.160.0.0/16", "customer-a"),
    ("81.2.0.0/16", "customer-b"),
    ("1.128.0.0/11", "transit-1221"),
    ("12.81.0.0/16", "customer-c"),
    ("216.160.0.0/16", "customer-d"),
    ("2001:218::/32", "customer-e"),
];

/// The inventory as a NetBox snapshot: `dev-NNN` over 6 sites and 3 regions, FR-018 labels as the
/// metrics backfill gives them, four 10G interfaces `xe-0/0/1..4` (ifIndex 501..504) each.
fn netbox_snapshot() -> String {
    let mut devices = Vec::new();
    let mut interfaces = Vec::new();
    for d in 0..DEVICES {
        let (vendor, platform) = if d % 2 == 0 { ("juniper", "junos") } else { ("cisco", "iosxr") };
        let region = ["eu", "us", "ap"][d % 3];
        devices.push(serde_json::json!({
            "id": d + 1,
            "labels": {
                "device": format!("dev-{d:03}"), "site": format!("site-{}", d % 6), "region": region,
                "vendor": vendor, "platform": platform, "role": if d % 4 == 0 { "core" } else { "edge" },
                "tier": (1 + d % 2).to_string(),
            },
            "tenant": "network-ops",
            "addresses": [exporter(d).to_string()],
            "monitor": true, "gnmi": true, "snmp": true, "flow_source": true,
        }));
        for i in 1..=4 {
            interfaces.push(serde_json::json!({
                "device_id": d + 1, "name": format!("xe-0/0/{i}"), "description": "", "speed_kbps": 10_000_000,
                "if_index": 500 + i,
            }));
        }
    }
    let prefixes: Vec<_> =
        TENANTS.iter().map(|(p, t)| serde_json::json!({"prefix": p, "tenant": t, "role": "customer"})).collect();
    serde_json::json!({"format": 1, "devices": devices, "interfaces": interfaces, "prefixes": prefixes}).to_string()
}

fn exporter(d: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(10, 1, (d / 256) as u8, (d % 256) as u8)
}

fn snapshot(dir: &std::path::Path) -> Snapshot {
    let netbox = dir.join("netbox.json");
    std::fs::write(&netbox, netbox_snapshot()).expect("write the snapshot");
    let data = repo_root().join("testdata/geoip");
    helios_enrichment::load(&helios_enrichment::Sources {
        geoip_city: Some(data.join("GeoIP2-City-Test.mmdb")),
        geoip_asn: Some(data.join("GeoLite2-ASN-Test.mmdb")),
        netbox_snapshot: Some(netbox),
        ..helios_enrichment::Sources::default()
    })
    .expect("enrichment data")
}

/// Flow `k` of the minute starting at `minute_ns`. Every 20th flow is the heaviest conversation,
/// exported by dev-007 on xe-0/0/1 (the interface the metrics backfill makes the busiest too).
fn flow(pairs: &[(Addr, Addr, FlowLists)], minute_ns: u64, k: usize, per_minute: usize) -> (FlowRecord, FlowLists) {
    let heavy = k.is_multiple_of(20);
    let d = if heavy { 7 } else { k % DEVICES };
    let i = if heavy { 0 } else { (k / DEVICES) % 4 } as u32;
    let pair = if heavy { 0 } else { 1 + (k / 7) % (PAIRS.len() - 1) };
    let (src, dst, lists) = &pairs[pair];
    let record = FlowRecord {
        flow_type: FlowType::Ipfix,
        time_received_ns: minute_ns + (k as u64 * 60_000_000_000 / per_minute as u64),
        sampler_address: Addr::v4(exporter(d).octets()),
        src_addr: *src,
        dst_addr: *dst,
        etype: if PAIRS[pair].0.contains(':') { 0x86dd } else { 0x800 },
        proto: [6, 6, 17, 1][k % 4],
        src_port: 443,
        dst_port: [443, 53, 8080, 0][k % 4],
        in_if: 501 + i,
        out_if: 501 + (i + 1) % 4,
        bytes: if heavy { 60_000 } else { 1_000 + (k % 13) as u64 * 100 },
        packets: 10,
        sampling_rate: 100,
        ..FlowRecord::default()
    };
    (record, *lists)
}

/// [`PAIRS`] parsed.
fn pairs() -> Vec<(Addr, Addr, FlowLists)> {
    let ip = |s: &str| Addr::from(s.parse::<std::net::IpAddr>().expect("address"));
    PAIRS
        .iter()
        .map(|(src, dst, path)| {
            let mut lists = FlowLists::EMPTY;
            for asn in *path {
                lists.as_path.push(*asn);
            }
            (ip(src), ip(dst), lists)
        })
        .collect()
}

/// Writes the day before `end_s` (Unix seconds, a whole minute) as helios-enricher does: blocks of
/// 30 minutes into `flows_raw`, then each block's rollup into `flows_1m` under the block's token.
async fn backfill(ch: &ClickHouse, snap: &Snapshot, end_s: u64, per_minute: usize) -> u64 {
    let minutes = 24 * 60;
    let mut rollup = Rollup::default();
    let mut stored = 0;
    let pairs = pairs();
    for chunk in 0..minutes / 30 {
        let (mut records, mut lists) = (Vec::new(), Vec::new());
        for m in chunk * 30..(chunk + 1) * 30 {
            let minute_ns = (end_s - 86_400 + m as u64 * 60) * 1_000_000_000;
            for k in 0..per_minute {
                let (r, l) = flow(&pairs, minute_ns, k, per_minute);
                records.push(r);
                lists.push(l);
            }
        }
        let mut enriched = Vec::new();
        enrich(&records, snap, &mut enriched);
        let limits = Limits { rows: usize::MAX, bytes: usize::MAX, age: Duration::from_secs(60) };
        let mut b = BlockBuilder::new(limits, InsertFormat::Native);
        for ((r, l), e) in records.iter().zip(&lists).zip(&enriched) {
            write_row(r, l, e, snap, b.buffer());
        }
        b.add_rows(records.len(), Instant::now());
        let block = b.take(format!("backfill-{chunk}")).expect("rows");
        ch.insert(&block).await.expect("flows_raw");
        rollup.add(&block).expect("our block");
        ch.insert(&rollup.take_for(&block).expect("groups")).await.expect("flows_1m");
        stored += records.len() as u64;
    }
    stored
}

/// Grafana's regex format of one value (`kbn.regexEscape`).
fn regex_escape(v: &str) -> String {
    v.chars().fold(String::new(), |mut s, c| {
        if r"\^$*+?.()|[]{}/".contains(c) {
            s.push('\\');
        }
        s.push(c);
        s
    })
}

/// `sql` as Grafana and the ClickHouse plugin send it for the range `from..to` (Unix seconds), each
/// variable of `chosen` set to one value and the others to "All" (".*").
fn substitute(sql: &str, from: u64, to: u64, chosen: &[(&str, &str)]) -> String {
    let mut s = sql.to_owned();
    for v in ["region", "site", "role", "tier", "device"] {
        let value = chosen.iter().find(|(n, _)| *n == v).map_or(".*".to_owned(), |(_, x)| regex_escape(x));
        s = s.replace(&format!("${{{v}:regex}}"), &value);
    }
    let interface = chosen.iter().find(|(n, _)| *n == "interface").map_or("xe-0/0/1", |(_, x)| x);
    s = s.replace("${interface:sqlstring}", &format!("'{}'", interface.replace('\'', "''")));
    while let Some(at) = s.find("$__timeFilter(") {
        let rest = &s[at + "$__timeFilter(".len()..];
        let close = rest.find(')').expect("closing parenthesis");
        let column = rest[..close].trim().to_owned();
        let expanded = format!("{column} >= toDateTime({from}) AND {column} <= toDateTime({to})");
        s.replace_range(at..at + "$__timeFilter(".len() + close + 1, &expanded);
    }
    // A 1,000-pixel panel's interval.
    let interval = ((to - from) / 1000).max(1);
    s = s
        .replace("$__fromTime", &format!("toDateTime({from})"))
        .replace("$__toTime", &format!("toDateTime({to})"))
        .replace("$__interval_s", &interval.to_string());
    assert!(!s.contains("$__") && !s.contains("${"), "left unsubstituted: {s}");
    s
}

/// Runs `sql` on `http` (database `helios`) as JSON: its rows, and how long it took.
fn run(http: SocketAddr, sql: &str) -> (Vec<serde_json::Value>, Duration) {
    let started = Instant::now();
    let answer = helios_testkit::http_post_to(http, "/?database=helios", &format!("{sql} FORMAT JSON"))
        .expect("ClickHouse answers");
    let took = started.elapsed();
    let body = helios_testkit::http_body(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{sql}\n{body}");
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    (v["data"].as_array().cloned().unwrap_or_default(), took)
}

fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).expect("a number")
}

struct Panel {
    dashboard: String,
    title: String,
    sql: Vec<String>,
    last_15_minutes: bool,
}

fn flow_panels() -> Vec<Panel> {
    let mut out = Vec::new();
    for (name, d) in dashboards(&repo_root().join("dashboards")).into_iter().filter(|(n, _)| n.starts_with("flows/")) {
        for p in d["panels"].as_sequence().expect("panels").iter().filter(|p| p["datasource"]["uid"] == "clickhouse") {
            out.push(Panel {
                dashboard: name.clone(),
                title: p["title"].as_str().expect("title").to_owned(),
                sql: p["targets"]
                    .as_sequence()
                    .expect("targets")
                    .iter()
                    .map(|t| t["rawSql"].as_str().expect("rawSql").to_owned())
                    .collect(),
                last_15_minutes: p["timeFrom"].as_str() == Some("15m"),
            });
        }
    }
    out
}

/// The contract's columns of `table`.
fn contract_columns(contract: &Value, table: &str) -> BTreeSet<String> {
    contract["clickhouse"][table]["columns"]
        .as_sequence()
        .unwrap_or_else(|| panic!("the contract lists no columns of {table}"))
        .iter()
        .map(|c| c.as_str().expect("a column name").to_owned())
        .collect()
}

/// The words of `sql` that could name a column.
fn identifiers(sql: &str) -> BTreeSet<&str> {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_panel_returns_meaningful_data_from_a_real_clickhouse_holding_a_day_of_flows() {
    let engine = Engine::start();
    let work = TempDir::new("flow-dashboards");
    // The stand-in cannot decompress LZ4 bodies (issue: the defaults tested for real).
    let config = Config { url: engine.url(), compression: false, ..Config::default() };
    let ch = ClickHouse::new(config, Metrics::default()).expect("config");
    ch.migrate().await.expect("migrate");
    let snap = snapshot(work.path());
    let end = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() / 60 * 60;
    let per_minute = flows_per_minute();
    let started = Instant::now();
    let stored = backfill(&ch, &snap, end, per_minute).await;
    eprintln!("backfill: {stored} flows ({DEVICES} exporters, {per_minute} a minute) in {:?}", started.elapsed());
    let http =
        SocketAddr::from(([127, 0, 0, 1], engine.url().rsplit(':').next().expect("port").parse().expect("port")));
    let scalar = |sql: &str| run(http, sql).0.first().and_then(|r| r.as_object()?.values().next().cloned());
    let count = |sql: &str| scalar(sql).map(|v| number(&v)).unwrap_or(-1.0) as u64;
    assert_eq!(count("SELECT count() FROM flows_raw"), stored);
    assert_eq!(count("SELECT sum(flows) FROM flows_1m"), stored, "the rollup holds every stored flow once");
    assert_eq!(count("SELECT sum(flows) FROM flows_1h"), stored, "and so does the hour table");
    let groups = count("SELECT count() FROM flows_1m") as f64 / 1440.0;
    eprintln!("flows_1m: {groups:.0} groups a minute; flows_1h: {} rows", count("SELECT count() FROM flows_1h"));

    // The contract's ClickHouse section: every column it lists exists, holds data in the backfill,
    // and is every column the panels read.
    let contract = metric_contract();
    let mut live = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for table in ["flows_raw", "flows_1m", "flows_1h"] {
        let columns: BTreeSet<String> =
            run(http, &format!("SELECT name FROM system.columns WHERE database = 'helios' AND table = '{table}'"))
                .0
                .iter()
                .map(|r| r["name"].as_str().expect("name").to_owned())
                .collect();
        for c in contract_columns(&contract, table) {
            assert!(columns.contains(&c), "the contract's {table}.{c} is not a column of {table}");
            let filled = count(&format!("SELECT countIf({c} != defaultValueOfArgumentType({c})) FROM {table}"));
            assert!(filled > 0, "the backfill leaves {table}.{c} empty");
            listed.insert(c);
        }
        live.extend(columns);
    }
    let panels = flow_panels();
    assert!(panels.len() >= 25, "{} flow panels", panels.len());
    for p in &panels {
        for sql in &p.sql {
            for word in identifiers(sql).into_iter().filter(|w| live.contains(*w)) {
                assert!(
                    listed.contains(word),
                    "{} {:?} reads {word}, not in the contract's clickhouse section",
                    p.dashboard,
                    p.title
                );
            }
        }
    }

    // Every panel, over 24 h (flows_1h) and the last 3 h (flows_1m); address panels over their 15 minutes.
    let mut answers = std::collections::BTreeMap::new();
    let mut report = Vec::new();
    for (range, seconds) in [("24 h", 86_400), ("3 h", 10_800)] {
        let mut per_dashboard: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
        for p in &panels {
            let from = end - if p.last_15_minutes { 900 } else { seconds };
            for sql in &p.sql {
                let (rows, took) = run(http, &substitute(sql, from, end, &[]));
                assert!(!rows.is_empty(), "{} {:?} over {range}: no rows for {sql}", p.dashboard, p.title);
                per_dashboard.entry(&p.dashboard).or_default().push(took);
                answers.insert(format!("{range} {} {}", p.dashboard, p.title), rows);
            }
        }
        for (dashboard, mut times) in per_dashboard {
            let (p95, max) = p95_and_max(&mut times);
            report.push(format!("{dashboard} over {range}: {} queries, p95 {p95:?}, max {max:?}", times.len()));
        }
    }
    eprintln!("SC-004 (flows, {DEVICES} exporters, {per_minute} flows a minute for 24 h):\n  {}", report.join("\n  "));

    // Meaning.
    let first = |key: &str| answers.get(key).and_then(|r| r.first()).cloned().unwrap_or_else(|| panic!("{key}"));
    let top = first("24 h flows/helios-flow-top-talkers.json Top conversations (last 15 minutes)");
    assert_eq!((top["source"].as_str(), top["destination"].as_str()), (Some("1.128.0.1"), Some("89.160.20.112")));
    let heaviest_as = scalar(
        "SELECT concat('AS', toString(src_as), ' ', src_as_name) FROM flows_raw GROUP BY src_as, src_as_name \
         ORDER BY sum(bytes) DESC LIMIT 1",
    )
    .expect("an AS");
    assert_ne!(heaviest_as, "AS0 ", "the heaviest source has an AS in MaxMind's test database");
    assert_eq!(first("24 h flows/helios-flow-top-talkers.json Top source ASes")["source_as"], heaviest_as);
    let heaviest_country = scalar(
        "SELECT src_country FROM flows_raw WHERE src_country != '' GROUP BY src_country ORDER BY sum(bytes) DESC LIMIT 1",
    )
    .expect("a country");
    assert_eq!(first("24 h flows/helios-flow-geography.json Traffic by source country")["country"], heaviest_country);
    for range in ["24 h", "3 h"] {
        let hops = &answers[&format!("{range} flows/helios-flow-as-paths.json Path length")];
        let flows: f64 = hops.iter().map(|r| number(&r["flows"])).sum();
        let minutes = if range == "24 h" { 1440 } else { 180 };
        assert_eq!(flows as usize, minutes * per_minute, "{range}: every flow of the range, once");
    }

    // Interface Correlation on dev-007 xe-0/0/1: the flows through it add up to what flows_raw holds.
    let on = [("device", "dev-007"), ("interface", "xe-0/0/1")];
    let correlation: Vec<&Panel> =
        panels.iter().filter(|p| p.dashboard == "flows/helios-flow-interface-correlation.json").collect();
    let by_as = correlation.iter().find(|p| p.title == "Top source ASes through the interface").expect("panel");
    let (rows, _) = run(http, &substitute(&by_as.sql[0], end - 86_400, end, &on));
    // Rates are over the rows of the range: from the hour holding its first second.
    let covered = (end - (end - 86_400) / 3600 * 3600) as f64;
    let bits: f64 = rows.iter().map(|r| number(&r["bps"])).sum::<f64>() * covered;
    let raw_bits = 8.0
        * count(&format!(
            "SELECT sum(bytes) FROM flows_raw WHERE exporter_device = 'dev-007' AND (in_if_name = 'xe-0/0/1' \
             OR out_if_name = 'xe-0/0/1') AND time_received >= toDateTime({})",
            end - 86_400
        )) as f64;
    assert!(
        rows.len() <= 10 && (bits - raw_bits).abs() <= raw_bits * 1e-9,
        "{bits} bits through the interface, flows_raw {raw_bits}"
    );
    let conversations = correlation.iter().find(|p| p.title.starts_with("Top conversations")).expect("panel");
    let (rows, _) = run(http, &substitute(&conversations.sql[0], end - 900, end, &on));
    assert_eq!(rows.first().and_then(|r| r["source"].as_str()), Some("1.128.0.1"));
    let flows = correlation.iter().find(|p| p.title.starts_with("Flows")).expect("panel");
    let (rows, _) = run(http, &substitute(&flows.sql[0], end - 86_400, end, &on));
    assert!(rows.len() >= 24 && rows.iter().all(|r| number(&r["inbound"]) > 0.0), "{rows:?}");
}
