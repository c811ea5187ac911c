//! The flow schema, as numbered migrations. Every statement is idempotent (`IF NOT EXISTS`), and the
//! versions applied are recorded in `helios_schema_migrations`, so running the migrations again — at
//! every start, or `migrate` by hand — changes nothing that is already there.
//!
//! Which dashboard reads which table:
//!
//! | dashboard               | table                                   | why it is fast                          |
//! |-------------------------|-----------------------------------------|-----------------------------------------|
//! | top talkers (addresses) | `flows_raw` (7 days)                    | sorted by minute, then exporter         |
//! | traffic matrix          | `flows_1m` / `flows_1h`                 | site, prefix tenant and country columns |
//! | AS paths                | `flows_1m` / `flows_1h` (`as_path`)     | pre-summed per path                     |
//! | protocol distribution   | `flows_1m` / `flows_1h` (`etype`, `proto`) | pre-summed                           |
//! | geographic flows        | `flows_1m` / `flows_1h` (countries)     | pre-summed                              |
//! | interface correlation   | `flows_1m` (`in_if*`, `out_if*`, speeds)| pre-summed per interface, with speed    |
//!
//! `flows_1m` and `flows_1h` are AggregatingMergeTree tables fed by materialized views (`flows_raw` →
//! `flows_1m` → `flows_1h`):
//! every dimension is in the sorting key, counters are `SimpleAggregateFunction(sum)` (read them with
//! `sum()`), interface speeds `SimpleAggregateFunction(max)`.

use helios_core::encode::block_order::SORTING_KEY;
use helios_core::encode::rowbinary::FLOW_COLUMNS;

/// One schema version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Version, from 1, applied in order.
    pub version: u32,
    /// What it does.
    pub name: &'static str,
    /// Its statements, each idempotent.
    pub statements: Vec<String>,
}

/// How long each table keeps rows, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `flows_raw`.
    pub raw_days: u32,
    /// `flows_1m`.
    pub m1_days: u32,
    /// `flows_1h`.
    pub h1_days: u32,
}

impl From<&crate::Config> for Retention {
    fn from(c: &crate::Config) -> Self {
        Retention { raw_days: c.raw_ttl_days, m1_days: c.ttl_1m_days, h1_days: c.ttl_1h_days }
    }
}

/// The table that records applied versions.
pub const MIGRATIONS_TABLE: &str = "helios_schema_migrations";

/// Blocks remembered per table for insert deduplication: enough to cover every block a crashed
/// writer can replay.
const DEDUP_WINDOW: u32 = 10_000;

/// The dimensions of the aggregate tables (all `flows_raw` columns, same types).
const DIMENSIONS: [&str; 22] = [
    "type",
    "sampler_address",
    "exporter_device",
    "exporter_site",
    "exporter_region",
    "exporter_role",
    "exporter_tenant",
    "in_if",
    "out_if",
    "in_if_name",
    "out_if_name",
    "etype",
    "proto",
    "src_as",
    "dst_as",
    "src_as_name",
    "dst_as_name",
    "src_country",
    "dst_country",
    "src_prefix_tenant",
    "dst_prefix_tenant",
    "as_path",
];

/// Every migration, in order.
pub fn migrations(db: &str, r: Retention) -> Vec<Migration> {
    vec![
        Migration { version: 1, name: "flows_raw", statements: vec![flows_raw(db, r.raw_days)] },
        Migration {
            version: 2,
            name: "flows_1m and flows_1h with their materialized views",
            statements: vec![
                aggregate_table(db, "flows_1m", "toDate(time)", r.m1_days),
                minute_view(db),
                aggregate_table(db, "flows_1h", "toYYYYMM(time)", r.h1_days),
                hour_view(db),
            ],
        },
    ]
}

/// The table, its TTL expression and retention, for each table with a TTL (to check the live TTL
/// against the configured one).
pub fn ttls(db: &str, r: Retention) -> [(String, String); 3] {
    [
        (format!("{db}.flows_raw"), raw_ttl(r.raw_days)),
        (format!("{db}.flows_1m"), aggregate_ttl(r.m1_days)),
        (format!("{db}.flows_1h"), aggregate_ttl(r.h1_days)),
    ]
}

/// `CREATE DATABASE` and the migrations table: what must exist before versions can be read.
pub fn bootstrap(db: &str) -> [String; 2] {
    [
        format!("CREATE DATABASE IF NOT EXISTS {db}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.{MIGRATIONS_TABLE} (version UInt32, name String, \
             applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version"
        ),
    ]
}

fn raw_ttl(days: u32) -> String {
    format!("toDateTime(time_received) + toIntervalDay({days})")
}

fn aggregate_ttl(days: u32) -> String {
    format!("time + toIntervalDay({days})")
}

fn flows_raw(db: &str, days: u32) -> String {
    let columns: Vec<String> = FLOW_COLUMNS
        .iter()
        .map(|c| match c.codec {
            "" => format!("    {} {}", c.name, c.ty),
            codec => format!("    {} {} CODEC({codec})", c.name, c.ty),
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.flows_raw (\n{}\n) ENGINE = MergeTree\n\
         PARTITION BY toDate(time_received)\n\
         ORDER BY ({SORTING_KEY})\n\
         TTL {}\n\
         SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}",
        columns.join(",\n"),
        raw_ttl(days)
    )
}

fn column_type(name: &str) -> &'static str {
    FLOW_COLUMNS.iter().find(|c| c.name == name).map_or("String", |c| c.ty)
}

fn aggregate_table(db: &str, table: &str, partition: &str, days: u32) -> String {
    // Dimensions are grouped by in every dashboard query: their strings are LowCardinality here.
    let dims: Vec<String> = DIMENSIONS
        .iter()
        .map(|d| match column_type(d) {
            "String" => format!("    {d} LowCardinality(String)"),
            ty => format!("    {d} {ty}"),
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.{table} (\n    time DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),\n{},\n\
         \x20   in_if_speed SimpleAggregateFunction(max, UInt64),\n\
         \x20   out_if_speed SimpleAggregateFunction(max, UInt64),\n\
         \x20   bytes SimpleAggregateFunction(sum, UInt64),\n\
         \x20   packets SimpleAggregateFunction(sum, UInt64),\n\
         \x20   flows SimpleAggregateFunction(sum, UInt64)\n\
         ) ENGINE = AggregatingMergeTree\n\
         PARTITION BY {partition}\n\
         ORDER BY (time, {})\n\
         TTL {}\n\
         SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}, allow_nullable_key = 0",
        dims.join(",\n"),
        DIMENSIONS.join(", "),
        aggregate_ttl(days)
    )
}

/// `flows_1m` from each block inserted into `flows_raw`.
fn minute_view(db: &str) -> String {
    let dims = DIMENSIONS.join(", ");
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.flows_1m_mv TO {db}.flows_1m AS\n\
         SELECT toDateTime(toStartOfMinute(time_received), 'UTC') AS time, {dims},\n\
         \x20   max(in_if_speed) AS in_if_speed, max(out_if_speed) AS out_if_speed,\n\
         \x20   sum(bytes) AS bytes, sum(packets) AS packets, count() AS flows\n\
         FROM {db}.flows_raw\n\
         GROUP BY time, {dims}"
    )
}

/// `flows_1h` from each block the minute view writes: it groups the block's minute rows, not its raw
/// flows again, which halves the views' share of an insert (measured: `perf/README.md`).
fn hour_view(db: &str) -> String {
    let dims = DIMENSIONS.join(", ");
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.flows_1h_mv TO {db}.flows_1h AS\n\
         SELECT toStartOfHour(time) AS time, {dims},\n\
         \x20   max(in_if_speed) AS in_if_speed, max(out_if_speed) AS out_if_speed,\n\
         \x20   sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows\n\
         FROM {db}.flows_1m\n\
         GROUP BY time, {dims}"
    )
}

/// Where the Kafka-engine path reads enriched flows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSource {
    /// `host:port,host:port`.
    pub brokers: String,
    /// The enriched topic (`helios-flows-enriched`).
    pub topic: String,
    /// ClickHouse's consumer group.
    pub group: String,
}

/// The spec's compatible path: a Kafka-engine table reading `RowBinaryWithNamesAndTypes` messages
/// (what Helios publishes on the enriched topic; the header names the columns, so adding a column
/// later does not break older producers) and a materialized view into `flows_raw`. Malformed
/// messages are streamed aside (`kafka_handle_error_mode = 'stream'`) and skipped, never wedging the
/// consumer.
pub fn kafka_path(db: &str, k: &KafkaSource) -> [String; 2] {
    let columns: Vec<String> = FLOW_COLUMNS.iter().map(|c| format!("    {} {}", c.name, c.ty)).collect();
    let names: Vec<&str> = FLOW_COLUMNS.iter().map(|c| c.name).collect();
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.flows_kafka (\n{}\n) ENGINE = Kafka\n\
             SETTINGS kafka_broker_list = {}, kafka_topic_list = {}, kafka_group_name = {},\n\
             \x20   kafka_format = 'RowBinaryWithNamesAndTypes', kafka_handle_error_mode = 'stream'",
            columns.join(",\n"),
            quote(&k.brokers),
            quote(&k.topic),
            quote(&k.group)
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.flows_kafka_mv TO {db}.flows_raw AS\n\
             SELECT {} FROM {db}.flows_kafka WHERE length(_error) = 0",
            names.join(", ")
        ),
    ]
}

/// A ClickHouse string literal.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('\'');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Retention = Retention { raw_days: 7, m1_days: 30, h1_days: 90 };

    #[test]
    fn versions_count_up_from_one() {
        let m = migrations("helios", R);
        let versions: Vec<u32> = m.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=m.len() as u32).collect::<Vec<_>>());
        assert!(m.iter().flat_map(|m| &m.statements).all(|s| s.contains("IF NOT EXISTS")));
    }

    #[test]
    fn every_dimension_is_a_flows_raw_column() {
        for d in DIMENSIONS {
            assert!(FLOW_COLUMNS.iter().any(|c| c.name == d), "{d}");
        }
    }

    #[test]
    fn retention_is_in_the_ddl() {
        let m = migrations("x", Retention { raw_days: 3, m1_days: 4, h1_days: 5 });
        assert!(m[0].statements[0].contains("toIntervalDay(3)"));
        assert!(m[1].statements[0].contains("toIntervalDay(4)"));
        assert!(m[1].statements[2].contains("toIntervalDay(5)"));
    }

    #[test]
    fn kafka_settings_are_quoted() {
        let k = KafkaSource { brokers: "b:9092".into(), topic: "t'x".into(), group: "g\\".into() };
        let ddl = kafka_path("helios", &k);
        assert!(ddl[0].contains(r"kafka_topic_list = 't\'x'"));
        assert!(ddl[0].contains(r"kafka_group_name = 'g\\'"));
        assert!(ddl[1].contains("TO helios.flows_raw"));
    }
}
