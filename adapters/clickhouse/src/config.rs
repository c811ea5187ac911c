//! Connection, batching and retention settings, with the defaults a small deployment wants.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How to reach ClickHouse, how to batch, and how long to keep flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP(S) interface, `http://clickhouse:8123`.
    pub url: String,
    /// Database of the flow tables (created by the migrations).
    pub database: String,
    /// User.
    pub user: String,
    /// File holding the user's password (a mounted Secret); none: no password.
    pub password_file: Option<PathBuf>,
    /// LZ4-compress insert bodies (off for servers that cannot decompress them, like the test front).
    pub compression: bool,
    /// The format of insert bodies: `native` (the default: ClickHouse ingests it ~1.5× faster) or
    /// `rowbinary`.
    pub format: InsertFormat,
    /// Timeout of one request, in milliseconds.
    pub timeout_ms: u64,
    /// Flush a block at this many rows.
    pub batch_rows: usize,
    /// ... or at this many encoded bytes.
    pub batch_bytes: usize,
    /// ... or when its oldest row is this old, in milliseconds.
    pub batch_age_ms: u64,
    /// First retry delay, in milliseconds; doubles up to `retry_max_ms`.
    pub retry_min_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub retry_max_ms: u64,
    /// Memory for the minute rollup that writes `flows_1m` (groups of flows per minute and
    /// dimensions, ~200 bytes each), in bytes. The groups of a minute go out once it has ended; when
    /// they reach this size, they go out at once (more, smaller rows in `flows_1m`, same sums).
    pub rollup_bytes: usize,
    /// How `flows_raw`'s columns are compressed: `lz4` (the default: ClickHouse writes enriched flows
    /// about twice as fast, ~29 bytes each on disk) or `zstd` (~17 bytes each, for deployments short of
    /// disk rather than CPU; figures in `perf/README.md`). A change applies to parts written from then
    /// on; older parts take it as they merge.
    pub raw_codec: RawCodec,
    /// Days `flows_raw` keeps rows.
    pub raw_ttl_days: u32,
    /// Days `flows_1m` keeps rows.
    pub ttl_1m_days: u32,
    /// Days `flows_1h` keeps rows.
    pub ttl_1h_days: u32,
    /// The spec's compatible path: ClickHouse itself consumes the enriched topic (a Kafka-engine table
    /// and a materialized view into `flows_raw`, created by the migrations). Off: Helios inserts.
    pub kafka_engine: Option<crate::schema::KafkaSource>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "http://127.0.0.1:8123".into(),
            database: "helios".into(),
            user: "default".into(),
            password_file: None,
            compression: true,
            format: InsertFormat::Native,
            timeout_ms: 30_000,
            batch_rows: 100_000,
            batch_bytes: 32 << 20,
            batch_age_ms: 1_000,
            retry_min_ms: 100,
            retry_max_ms: 5_000,
            rollup_bytes: 24 << 20,
            raw_codec: RawCodec::Lz4,
            raw_ttl_days: 7,
            ttl_1m_days: 30,
            ttl_1h_days: 90,
            kafka_engine: None,
        }
    }
}

/// The format of insert bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsertFormat {
    /// Column by column (`helios_core::encode::native`): what ClickHouse parses fastest.
    Native,
    /// Row by row (`helios_core::encode::rowbinary`).
    RowBinary,
}

/// How `flows_raw`'s columns are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawCodec {
    /// `LZ4` on every column: the cheapest to write.
    Lz4,
    /// `ZSTD(1)`, after `DoubleDelta` on times and `Delta` on sequence numbers: the smallest.
    Zstd,
}

impl InsertFormat {
    /// The name in `INSERT ... FORMAT <name>`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InsertFormat::Native => "Native",
            InsertFormat::RowBinary => "RowBinary",
        }
    }
}

impl Config {
    /// Checks what ClickHouse would only reject later, at the first insert.
    pub fn validate(&self) -> Result<()> {
        let db_ok = !self.database.is_empty()
            && self.database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !self.database.as_bytes()[0].is_ascii_digit();
        if !db_ok {
            return Err(Error::Config(format!("database {:?}: use letters, digits and _", self.database)));
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            let url = helios_core::redact::url_credentials(&self.url);
            return Err(Error::Config(format!("url {url:?}: expected http:// or https://")));
        }
        if self.batch_rows == 0 || self.batch_bytes == 0 || self.rollup_bytes == 0 {
            return Err(Error::Config("batch_rows, batch_bytes and rollup_bytes must be positive".into()));
        }
        if [self.raw_ttl_days, self.ttl_1m_days, self.ttl_1h_days].contains(&0) {
            return Err(Error::Config("TTLs must be at least one day".into()));
        }
        Ok(())
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The password, read from `password_file` (trailing newline removed).
    pub fn password(&self) -> Result<Option<String>> {
        let Some(path) = &self.password_file else { return Ok(None) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Password { path: path.display().to_string(), detail: e.to_string() })?;
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        Config::default().validate().expect("defaults are valid");
        let bad_db = Config { database: "a;drop".into(), ..Config::default() };
        assert!(bad_db.validate().expect_err("bad").to_string().contains("a;drop"));
        let digit = Config { database: "1x".into(), ..Config::default() };
        assert!(digit.validate().is_err());
        let url = Config { url: "ftp://x".into(), ..Config::default() };
        assert!(url.validate().expect_err("bad").to_string().contains("ftp://x"));
        assert!(Config { batch_rows: 0, ..Config::default() }.validate().is_err());
        assert!(Config { rollup_bytes: 0, ..Config::default() }.validate().is_err());
        assert!(Config { ttl_1h_days: 0, ..Config::default() }.validate().is_err());
    }

    #[test]
    fn the_password_comes_from_its_file_without_the_newline() {
        let path = std::env::temp_dir().join(format!("helios-ch-password-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").expect("write");
        let c = Config { password_file: Some(path.clone()), ..Config::default() };
        assert_eq!(c.password().expect("read").as_deref(), Some("s3cret"));
        std::fs::remove_file(&path).expect("remove");
        let err = c.password().expect_err("gone");
        assert!(err.to_string().contains("password file"));
        assert!(!err.to_string().contains("s3cret"));
        assert_eq!(Config::default().password().expect("none"), None);
    }
}
