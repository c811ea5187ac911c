//! The connection to ClickHouse: migrations, deduplicated inserts with retries, disk usage.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clickhouse::Compression;
use helios_core::encode::rowbinary::column_names;
use helios_core::rollup;

use crate::block::{Block, Table};
use crate::metrics::{DiskLabel, Metrics, ReasonLabel, TableLabel};
use crate::rollup::Rollup;
use crate::schema::{self, MIGRATIONS_TABLE, Storage};
use crate::{Config, Error, Result};

/// One ClickHouse disk's space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// ClickHouse's name for it.
    pub name: String,
    /// Free bytes.
    pub free: u64,
    /// Total bytes.
    pub total: u64,
}

impl Disk {
    /// Used fraction, 0..=1 (0 for an empty disk).
    pub fn used_ratio(&self) -> f64 {
        if self.total == 0 { 0.0 } else { 1.0 - self.free as f64 / self.total as f64 }
    }
}

/// A ClickHouse server, its flow schema and its metrics. Cheap to clone (connections are pooled).
#[derive(Clone)]
pub struct ClickHouse {
    client: clickhouse::Client,
    config: Config,
    metrics: Metrics,
    /// `INSERT INTO <db>.<table> (<columns>) FORMAT ` per [`Table`], completed by each block's format.
    insert_prefixes: [String; 2],
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse").field("url", &self.shown_url()).field("database", &self.config.database).finish()
    }
}

impl ClickHouse {
    /// A client for `config` (validated; the password file is read now). Nothing is sent yet.
    pub fn new(config: Config, metrics: Metrics) -> Result<ClickHouse> {
        config.validate()?;
        let mut client = clickhouse::Client::default()
            .with_url(&config.url)
            .with_user(&config.user)
            .with_compression(if config.compression { Compression::Lz4 } else { Compression::None });
        if let Some(password) = config.password()? {
            client = client.with_password(password);
        }
        let db = &config.database;
        let insert_prefixes = [
            format!("INSERT INTO {db}.flows_raw ({}) FORMAT ", column_names()),
            format!("INSERT INTO {db}.flows_1m ({}) FORMAT ", rollup::column_names()),
        ];
        Ok(ClickHouse { client, config, metrics, insert_prefixes })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The underlying client, for queries.
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// Runs one statement that returns nothing; `what` names it in errors.
    pub async fn execute(&self, what: &str, sql: &str) -> Result<()> {
        let run = self.client.query_raw(sql).execute();
        self.timed(what, run).await
    }

    /// Runs a query, returning its `TabSeparated` text.
    pub async fn query_text(&self, what: &str, sql: &str) -> Result<String> {
        let run = async {
            let mut cursor = self.client.query_raw(sql).fetch_bytes("TabSeparated")?;
            cursor.collect().await
        };
        let bytes = self.timed(what, run).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Whether ClickHouse answers.
    pub async fn ping(&self) -> Result<()> {
        self.query_text("ping", "SELECT 1").await.map(drop)
    }

    /// Applies the migrations not yet applied (returns their versions), then brings table TTLs in
    /// line with the configured retention. Safe to run any number of times, concurrently with inserts.
    pub async fn migrate(&self) -> Result<Vec<u32>> {
        let db = &self.config.database;
        for sql in schema::bootstrap(db) {
            self.execute("schema bootstrap", &sql).await?;
        }
        let applied: BTreeSet<u32> = self
            .query_text("reading schema versions", &format!("SELECT version FROM {db}.{MIGRATIONS_TABLE} FINAL"))
            .await?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let storage = Storage::from(&self.config);
        let mut done = Vec::new();
        for m in schema::migrations(db, storage) {
            if applied.contains(&m.version) {
                continue;
            }
            let what = format!("migration {} ({})", m.version, m.name);
            for sql in &m.statements {
                self.execute(&what, sql).await?;
            }
            let record = format!(
                "INSERT INTO {db}.{MIGRATIONS_TABLE} (version, name) VALUES ({}, {})",
                m.version,
                schema::quote(m.name)
            );
            self.execute(&what, &record).await?;
            tracing::info!(version = m.version, name = m.name, "applied ClickHouse migration");
            done.push(m.version);
        }
        self.align_ttls(storage).await?;
        self.align_codecs(storage).await?;
        if let Some(source) = &self.config.kafka_engine {
            for sql in schema::kafka_path(db, source) {
                self.execute("the Kafka-engine path", &sql).await?;
            }
        }
        Ok(done)
    }

    /// Applies the schema, retrying until ClickHouse answers (a service starts before its database).
    pub async fn migrate_until_done(&self) {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.migrate().await {
                Ok(applied) => {
                    tracing::info!(?applied, "ClickHouse schema is up to date");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "ClickHouse schema not applied yet");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Refreshes the disk gauges (for the 80% disk alert) every `every`, until the task is dropped.
    pub async fn watch_disk(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = self.disk_usage().await {
                tracing::warn!(error = %e, "reading ClickHouse disk space failed");
            }
        }
    }

    /// Changes `flows_raw`'s column codecs when the configuration asks for others than the table has.
    /// A codec change rewrites nothing: parts written from then on take it, older ones as they merge.
    async fn align_codecs(&self, storage: Storage) -> Result<()> {
        let db = &self.config.database;
        let current = self
            .query_text(
                "reading flows_raw's codecs",
                &format!(
                    "SELECT name, compression_codec FROM system.columns WHERE database = {} AND table = 'flows_raw'",
                    schema::quote(db)
                ),
            )
            .await?;
        let current: std::collections::HashMap<&str, &str> =
            current.lines().filter_map(|l| l.split_once('\t')).collect();
        let changes: Vec<String> = schema::raw_codecs(storage.raw_codec)
            .filter(|(name, codec)| current.get(name).is_some_and(|c| c != codec))
            .map(|(name, codec)| format!("MODIFY COLUMN {name} {codec}"))
            .collect();
        if !changes.is_empty() {
            let sql = format!("ALTER TABLE {db}.flows_raw {}", changes.join(", "));
            self.execute("flows_raw codecs", &sql).await?;
            tracing::info!(codec = ?storage.raw_codec, columns = changes.len(), "changed flows_raw's codecs");
        }
        Ok(())
    }

    /// Changes a table's TTL when the configuration asks for another retention than the table has.
    /// Existing parts are not rewritten (`materialize_ttl_after_modify = 0`): rows expire as parts merge.
    async fn align_ttls(&self, storage: Storage) -> Result<()> {
        for (table, ttl) in schema::ttls(&self.config.database, storage) {
            let (db, name) = table.split_once('.').unwrap_or(("", &table));
            let current = self
                .query_text(
                    "reading table TTL",
                    &format!(
                        "SELECT engine_full FROM system.tables WHERE database = {} AND name = {}",
                        schema::quote(db),
                        schema::quote(name)
                    ),
                )
                .await?;
            if !current.contains(&format!("TTL {ttl}")) {
                let sql = format!("ALTER TABLE {table} MODIFY TTL {ttl} SETTINGS materialize_ttl_after_modify = 0");
                self.execute(&format!("TTL of {table}"), &sql).await?;
                tracing::info!(%table, %ttl, "changed ClickHouse table TTL");
            }
        }
        Ok(())
    }

    /// Inserts `block` into its table once: one attempt. A block already stored under the same
    /// token is acknowledged without being stored again.
    pub async fn insert(&self, block: &Block) -> Result<()> {
        let what = format!("INSERT INTO {}.{}", self.config.database, block.table.as_str());
        let prefix = &self.insert_prefixes[match block.table {
            Table::FlowsRaw => 0,
            Table::Flows1m => 1,
        }];
        let started = Instant::now();
        let run = async {
            let mut insert = self
                .client
                .insert_formatted_with(format!("{prefix}{}", block.format.as_str()))
                .with_setting("insert_deduplication_token", block.token.clone())
                .with_setting("insert_deduplicate", "1")
                .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
                .with_timeouts(Some(self.config.timeout()), Some(self.config.timeout()));
            insert.send(block.data.clone()).await?;
            insert.end().await
        };
        self.timed(&what, run).await?;
        self.metrics.insert_seconds.observe(started.elapsed().as_secs_f64());
        let table = TableLabel { table: block.table.as_str() };
        self.metrics.rows.get_or_create(&table).inc_by(block.rows);
        self.metrics.blocks.get_or_create(&table).inc();
        Ok(())
    }

    /// Inserts `block`, retrying transient failures with exponential backoff until it is stored or
    /// `give_up_at` passes. Returns the last error when it gives up, or at once for a refusal that
    /// retrying cannot fix. Every retry carries the same token, so nothing is stored twice.
    pub async fn insert_retrying(&self, block: &Block, give_up_at: Option<Instant>) -> Result<()> {
        let mut delay = Duration::from_millis(self.config.retry_min_ms);
        let max = Duration::from_millis(self.config.retry_max_ms.max(self.config.retry_min_ms));
        loop {
            match self.insert(block).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && give_up_at.is_none_or(|t| Instant::now() + delay < t) => {
                    tracing::warn!(error = %e, rows = block.rows, retry_in_ms = delay.as_millis() as u64, "insert failed");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(max);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Adds `block`, just stored in `flows_raw`, to `rollup`. A block that cannot be rolled up is
    /// Helios's own bug: logged and counted (`rollup_errors`); its flows stay in `flows_raw` only.
    pub fn roll_up(&self, rollup: &mut Rollup, block: &Block) {
        if let Err(e) = rollup.add(block) {
            tracing::error!(error = %e, rows = block.rows, "a stored block could not be rolled up");
            self.metrics.rollup_errors.inc();
        }
    }

    /// Inserts rollup `blocks` into `flows_1m` one after the other, each retried like any block; a
    /// refused one is logged and counted (`rollup_errors`).
    pub async fn insert_rollup(&self, blocks: impl IntoIterator<Item = Block>) {
        for block in blocks {
            if let Err(e) = self.insert_retrying(&block, None).await {
                tracing::error!(error = %e, rows = block.rows, "ClickHouse refused a flows_1m block");
                self.metrics.rollup_errors.inc();
            }
        }
    }

    /// Reads free and total space of ClickHouse's disks and updates the disk gauges.
    pub async fn disk_usage(&self) -> Result<Vec<Disk>> {
        let text =
            self.query_text("reading disk space", "SELECT name, free_space, total_space FROM system.disks").await?;
        let disks: Vec<Disk> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some(Disk { name: f.next()?.to_owned(), free: f.next()?.parse().ok()?, total: f.next()?.parse().ok()? })
            })
            .collect();
        for d in &disks {
            let label = DiskLabel { disk: d.name.clone() };
            self.metrics.disk_free.get_or_create(&label).set(i64::try_from(d.free).unwrap_or(i64::MAX));
            self.metrics.disk_total.get_or_create(&label).set(i64::try_from(d.total).unwrap_or(i64::MAX));
        }
        Ok(disks)
    }

    /// Runs `fut` under the configured timeout, mapping and counting its error.
    async fn timed<T>(&self, what: &str, fut: impl Future<Output = clickhouse::error::Result<T>>) -> Result<T> {
        let result = match tokio::time::timeout(self.config.timeout(), fut).await {
            Ok(r) => r.map_err(|e| self.error(what, e)),
            Err(_) => Err(Error::Unavailable {
                url: self.shown_url(),
                detail: format!("{what}: no answer within {} ms", self.config.timeout_ms),
            }),
        };
        if let Err(e) = &result {
            self.metrics.errors.get_or_create(&ReasonLabel { reason: e.reason() }).inc();
        }
        result
    }

    /// The server's URL as errors and logs show it: without credentials.
    fn shown_url(&self) -> String {
        helios_core::redact::url_credentials(&self.config.url).into_owned()
    }

    fn error(&self, what: &str, e: clickhouse::error::Error) -> Error {
        use clickhouse::error::Error as E;
        let url = self.shown_url();
        match e {
            E::Network(_) | E::TimedOut => Error::Unavailable { url, detail: format!("{what}: {e}") },
            E::BadResponse(message) => {
                Error::Refused { url, what: what.to_owned(), code: error_code(&message), message }
            }
            other => Error::Refused { url, what: what.to_owned(), code: 0, message: other.to_string() },
        }
    }
}

/// The `migrate` subcommand of the services: applies the schema once, and logs what it applied.
pub async fn migrate_once(config: Config) -> Result<()> {
    let applied = ClickHouse::new(config, Metrics::default())?.migrate().await?;
    tracing::info!(?applied, "ClickHouse schema is up to date");
    Ok(())
}

/// The code of a ClickHouse error message (`Code: 243. DB::Exception: ...`), 0 when absent.
fn error_code(message: &str) -> u32 {
    message
        .split_once("Code: ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_messages() {
        assert_eq!(error_code("Code: 243. DB::Exception: Cannot reserve 1.00 MiB"), 243);
        assert_eq!(error_code("Code: 62"), 62);
        assert_eq!(error_code("500 Internal Server Error"), 0);
    }

    #[test]
    fn disk_ratio() {
        assert_eq!(Disk { name: "d".into(), free: 25, total: 100 }.used_ratio(), 0.75);
        assert_eq!(Disk { name: "d".into(), free: 0, total: 0 }.used_ratio(), 0.0);
    }

    #[test]
    fn transient_errors_are_those_worth_retrying() {
        let refused = |code| Error::Refused { url: "u".into(), what: "w".into(), code, message: "m".into() };
        assert!(refused(crate::NOT_ENOUGH_SPACE).is_transient());
        assert_eq!(refused(crate::NOT_ENOUGH_SPACE).reason(), "disk_full");
        assert_eq!(refused(241).reason(), "overloaded");
        assert!(!refused(62).is_transient());
        assert_eq!(refused(62).reason(), "refused");
        assert!(Error::Unavailable { url: "u".into(), detail: "d".into() }.is_transient());
        assert!(!Error::Config("c".into()).is_transient());
    }
}
