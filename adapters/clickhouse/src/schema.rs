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
//! `flows_1m` and `flows_1h` are AggregatingMergeTree tables: every dimension is in the sorting key,
//! counters are `SimpleAggregateFunction(sum)` (read them with `sum()`), interface speeds
//! `SimpleAggregateFunction(max)`. Since version 3, whoever inserts into `flows_raw` also writes
//! `flows_1m` — Helios's writers from their minute rollups (`helios_core::rollup`), the Kafka-engine
//! path from a view of its own — and a view feeds `flows_1h` from `flows_1m`. Version 2 had a view
//! aggregate every `flows_raw` insert block into `flows_1m`; it set the ingest ceiling (`perf/README.md`).

use helios_core::encode::block_order::SORTING_KEY;
use helios_core::encode::rowbinary::FLOW_COLUMNS;
use helios_core::rollup::DIMENSIONS;

use crate::config::RawCodec;

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

/// How the tables keep rows: how long each, in days, and how `flows_raw` is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// `flows_raw`.
    pub raw_days: u32,
    /// `flows_1m`.
    pub m1_days: u32,
    /// `flows_1h`.
    pub h1_days: u32,
    /// `flows_raw`'s column codecs.
    pub raw_codec: RawCodec,
}

impl From<&crate::Config> for Storage {
    fn from(c: &crate::Config) -> Self {
        Storage { raw_days: c.raw_ttl_days, m1_days: c.ttl_1m_days, h1_days: c.ttl_1h_days, raw_codec: c.raw_codec }
    }
}

/// The table that records applied versions.
pub const MIGRATIONS_TABLE: &str = "helios_schema_migrations";

/// Blocks remembered per table for insert deduplication: enough to cover every block a crashed
/// writer can replay.
const DEDUP_WINDOW: u32 = 10_000;

/// `flows_raw`'s inserted parts (level 0) are compact — every column in one file — and merged parts
/// wide (two files per column). Every inserted block is a part: written compact, an insert creates 3
/// files instead of ~120 and costs ClickHouse about half the CPU on ext4 (chdb 26.9: 67–70 ms instead
/// of 144–193 ms per 100,000 enriched rows, file creation was a quarter of it; `perf/README.md`),
/// while merges, which read and write many rows per file, stay wide (1.2 s per million rows; 2.1 s
/// merging compact into compact).
const WIDE_FROM_LEVEL: u32 = 1;

/// Every migration, in order.
pub fn migrations(db: &str, r: Storage) -> Vec<Migration> {
    vec![
        Migration { version: 1, name: "flows_raw", statements: vec![flows_raw(db, r)] },
        Migration {
            version: 2,
            name: "flows_1m and flows_1h with their materialized views",
            statements: vec![
                aggregate_table(db, "flows_1m", "toDate(time)", r.m1_days),
                minute_view(db, "flows_1m_mv", "flows_raw", "", &dimensions_at(2)),
                aggregate_table(db, "flows_1h", "toYYYYMM(time)", r.h1_days),
                hour_view(db, &dimensions_at(2)),
            ],
        },
        Migration {
            version: 3,
            name: "flows_1m written by the writers of flows_raw, not by a view of every insert",
            statements: vec![format!("DROP VIEW IF EXISTS {db}.flows_1m_mv")],
        },
        Migration {
            version: 4,
            name: "flows_raw writes inserted blocks as compact parts",
            statements: vec![format!(
                "ALTER TABLE {db}.flows_raw MODIFY SETTING min_level_for_wide_part = {WIDE_FROM_LEVEL}"
            )],
        },
        Migration { version: 5, name: "exporter_tier in flows_1m and flows_1h", statements: added_dimensions(db, 5) },
    ]
}

/// Dimensions added after version 2, each with the version that added it. A table made by version 2
/// has the others, and each added one is appended to the sorting key: fresh and upgraded tables end
/// up the same, and inserts name their columns, so the order of the key is not the order of
/// [`DIMENSIONS`].
const ADDED_DIMENSIONS: [(&str, u32); 1] = [("exporter_tier", 5)];

/// The aggregate tables' dimensions once `version` is applied, in sorting-key order.
fn dimensions_at(version: u32) -> Vec<&'static str> {
    let added = |d: &str| ADDED_DIMENSIONS.iter().find(|(name, _)| *name == d).map(|(_, v)| *v);
    let mut dims: Vec<&str> = DIMENSIONS.iter().copied().filter(|d| added(d).is_none()).collect();
    dims.extend(ADDED_DIMENSIONS.iter().filter(|(_, v)| *v <= version).map(|(d, _)| *d));
    dims
}

/// The statements of `version` that add its dimensions to both aggregate tables and rebuild the
/// views that group by them (the Kafka-engine path's view is made again after the migrations).
fn added_dimensions(db: &str, version: u32) -> Vec<String> {
    let dims = dimensions_at(version);
    let mut statements: Vec<String> = ["flows_1m", "flows_1h"]
        .iter()
        .map(|table| {
            let adds: Vec<String> = ADDED_DIMENSIONS
                .iter()
                .filter(|(_, v)| *v == version)
                .map(|(d, _)| format!("ADD COLUMN IF NOT EXISTS {d} {}", aggregate_type(d)))
                .collect();
            format!("ALTER TABLE {db}.{table} {}, MODIFY ORDER BY (time, {})", adds.join(", "), dims.join(", "))
        })
        .collect();
    statements.push(format!("DROP VIEW IF EXISTS {db}.flows_1h_mv"));
    statements.push(hour_view(db, &dims));
    statements.push(format!("DROP VIEW IF EXISTS {db}.flows_kafka_1m_mv"));
    statements
}

/// The table, its TTL expression and retention, for each table with a TTL (to check the live TTL
/// against the configured one).
pub fn ttls(db: &str, r: Storage) -> [(String, String); 3] {
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

/// Each `flows_raw` column and its codec as ClickHouse shows it (`system.columns.compression_codec`).
pub fn raw_codecs(codec: RawCodec) -> impl Iterator<Item = (&'static str, String)> {
    FLOW_COLUMNS.iter().map(move |c| match codec {
        RawCodec::Lz4 => (c.name, "CODEC(LZ4)".to_owned()),
        RawCodec::Zstd => (c.name, format!("CODEC({})", c.codec)),
    })
}

fn flows_raw(db: &str, r: Storage) -> String {
    let columns: Vec<String> = FLOW_COLUMNS
        .iter()
        .zip(raw_codecs(r.raw_codec))
        .map(|(c, (_, codec))| format!("    {} {} {codec}", c.name, c.ty))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.flows_raw (\n{}\n) ENGINE = MergeTree\n\
         PARTITION BY toDate(time_received)\n\
         ORDER BY ({SORTING_KEY})\n\
         TTL {}\n\
         SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}",
        columns.join(",\n"),
        raw_ttl(r.raw_days)
    )
}

fn column_type(name: &str) -> &'static str {
    FLOW_COLUMNS.iter().find(|c| c.name == name).map_or("String", |c| c.ty)
}

/// A dimension's type in the aggregate tables. Dimensions are grouped by in every dashboard query:
/// their strings are `LowCardinality` there.
fn aggregate_type(d: &str) -> String {
    match column_type(d) {
        "String" => "LowCardinality(String)".to_owned(),
        ty => ty.to_owned(),
    }
}

/// An aggregate table as version 2 made it.
fn aggregate_table(db: &str, table: &str, partition: &str, days: u32) -> String {
    let key = dimensions_at(2);
    let dims: Vec<String> = key.iter().map(|d| format!("    {d} {}", aggregate_type(d))).collect();
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
        key.join(", "),
        aggregate_ttl(days)
    )
}

/// `flows_1m` from each block inserted into `source` (rows of `flows_raw`'s columns) that passes
/// `filter` (a `WHERE` clause, or empty), as Helios's minute rollup computes it.
fn minute_view(db: &str, name: &str, source: &str, filter: &str, dims: &[&str]) -> String {
    let dims = dims.join(", ");
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{name} TO {db}.flows_1m AS\n\
         SELECT toDateTime(toStartOfMinute(time_received), 'UTC') AS time, {dims},\n\
         \x20   max(in_if_speed) AS in_if_speed, max(out_if_speed) AS out_if_speed,\n\
         \x20   sum(bytes) AS bytes, sum(packets) AS packets, count() AS flows\n\
         FROM {db}.{source}{filter}\n\
         GROUP BY time, {dims}"
    )
}

/// `flows_1h` from each block written to `flows_1m`: it groups minute rows, not raw flows again.
fn hour_view(db: &str, dims: &[&str]) -> String {
    let dims = dims.join(", ");
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

/// The Kafka-engine table.
const KAFKA_TABLE: &str = "flows_kafka";
/// Its messages that parsed (the others carry `_error` and are skipped).
const KAFKA_PARSED: &str = "\nWHERE length(_error) = 0";

/// The spec's compatible path: a Kafka-engine table reading `RowBinaryWithNamesAndTypes` messages
/// (what Helios publishes on the enriched topic; the header names the columns, so adding a column
/// later does not break older producers), a materialized view into `flows_raw` and one into
/// `flows_1m` (this path has no Helios writer to roll minutes up). Malformed messages are streamed
/// aside (`kafka_handle_error_mode = 'stream'`) and skipped, never wedging the consumer.
pub fn kafka_path(db: &str, k: &KafkaSource) -> [String; 3] {
    let columns: Vec<String> = FLOW_COLUMNS.iter().map(|c| format!("    {} {}", c.name, c.ty)).collect();
    let names: Vec<&str> = FLOW_COLUMNS.iter().map(|c| c.name).collect();
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.{KAFKA_TABLE} (\n{}\n) ENGINE = Kafka\n\
             SETTINGS kafka_broker_list = {}, kafka_topic_list = {}, kafka_group_name = {},\n\
             \x20   kafka_format = 'RowBinaryWithNamesAndTypes', kafka_handle_error_mode = 'stream'",
            columns.join(",\n"),
            quote(&k.brokers),
            quote(&k.topic),
            quote(&k.group)
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.flows_kafka_mv TO {db}.flows_raw AS\n\
             SELECT {} FROM {db}.{KAFKA_TABLE}{KAFKA_PARSED}",
            names.join(", ")
        ),
        minute_view(db, "flows_kafka_1m_mv", KAFKA_TABLE, KAFKA_PARSED, &DIMENSIONS),
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

    const R: Storage = Storage { raw_days: 7, m1_days: 30, h1_days: 90, raw_codec: RawCodec::Lz4 };

    #[test]
    fn versions_count_up_from_one() {
        let m = migrations("helios", R);
        let versions: Vec<u32> = m.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=m.len() as u32).collect::<Vec<_>>());
        let idempotent = |s: &&String| {
            s.contains(" IF NOT EXISTS ") || s.starts_with("DROP VIEW IF EXISTS ") || s.contains(" MODIFY SETTING ")
        };
        assert!(m.iter().flat_map(|m| &m.statements).all(|s| idempotent(&s)));
    }

    #[test]
    fn retention_is_in_the_ddl() {
        let m = migrations("x", Storage { raw_days: 3, m1_days: 4, h1_days: 5, ..R });
        assert!(m[0].statements[0].contains("toIntervalDay(3)"));
        assert!(m[1].statements[0].contains("toIntervalDay(4)"));
        assert!(m[1].statements[2].contains("toIntervalDay(5)"));
    }

    #[test]
    fn the_raw_codec_is_in_the_ddl() {
        let lz4 = &migrations("x", R)[0].statements[0];
        assert!(lz4.contains("    time_received DateTime64(9, 'UTC') CODEC(LZ4),\n"), "{lz4}");
        assert!(!lz4.contains("ZSTD"));
        let zstd = &migrations("x", Storage { raw_codec: RawCodec::Zstd, ..R })[0].statements[0];
        assert!(zstd.contains("    time_received DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),\n"), "{zstd}");
        assert_eq!(zstd.matches("CODEC(").count(), FLOW_COLUMNS.len());
    }

    #[test]
    fn kafka_settings_are_quoted() {
        let k = KafkaSource { brokers: "b:9092".into(), topic: "t'x".into(), group: "g\\".into() };
        let ddl = kafka_path("helios", &k);
        assert!(ddl[0].contains(r"kafka_topic_list = 't\'x'"));
        assert!(ddl[0].contains(r"kafka_group_name = 'g\\'"));
        assert!(ddl[1].contains("TO helios.flows_raw"));
        assert!(
            ddl[2].contains("TO helios.flows_1m")
                && ddl[2].contains("FROM helios.flows_kafka\nWHERE length(_error) = 0")
        );
    }
}
