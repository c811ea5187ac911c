//! `helios-clickhouse`: everything Helios does with ClickHouse.
//!
//! - [`schema`]: the flow tables (`flows_raw`, `flows_1m`, `flows_1h` and their materialized views,
//!   the optional Kafka-engine path), as numbered migrations applied idempotently.
//! - [`block`]: batching encoded rows into insert blocks by rows, bytes and age.
//! - [`rollup`]: `flows_1m` rows from the `flows_raw` blocks ClickHouse acknowledged.
//! - [`client`]: the connection: migrations, inserts with a deduplication token (a retried or
//!   replayed block is stored once), retries with backoff for transient failures, disk usage.
//! - [`metrics`]: what the adapter reports to Prometheus.
//!
//! Rows are encoded by `helios_core::encode::rowbinary`; this crate only moves bytes.
#![forbid(unsafe_code)]

pub mod block;
pub mod client;
pub mod config;
pub mod metrics;
pub mod rollup;
pub mod schema;

pub use block::{Block, BlockBuilder, Table};
pub use client::{ClickHouse, migrate_once};
pub use config::{Config, InsertFormat, RawCodec};
pub use metrics::Metrics;
pub use rollup::Rollup;

/// Errors talking to ClickHouse. Messages carry the URL and table, never a password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ClickHouse could not be reached or did not answer in time; retrying may help.
    #[error("ClickHouse {url}: {detail}")]
    Unavailable {
        /// The server URL.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// ClickHouse refused a statement or insert, with its error code (0 when it gave none).
    #[error("ClickHouse {url} refused {what}: {message}")]
    Refused {
        /// The server URL.
        url: String,
        /// What was refused (`INSERT INTO helios.flows_raw`, `migration 2`, ...).
        what: String,
        /// ClickHouse's error code.
        code: u32,
        /// ClickHouse's message.
        message: String,
    },
    /// The password file could not be read.
    #[error("ClickHouse password file {path}: {detail}")]
    Password {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The configuration is invalid.
    #[error("ClickHouse configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether trying again later may succeed: transport failures, and refusals for load or space
    /// (the server is overloaded, out of memory or out of disk), but not a statement ClickHouse will
    /// never accept.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable { .. } => true,
            Error::Refused { code, .. } => TRANSIENT_CODES.contains(code),
            Error::Password { .. } | Error::Config(_) => false,
        }
    }

    /// A short, bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Unavailable { .. } => "unavailable",
            Error::Refused { code: NOT_ENOUGH_SPACE, .. } => "disk_full",
            Error::Refused { .. } if self.is_transient() => "overloaded",
            Error::Refused { .. } => "refused",
            Error::Password { .. } | Error::Config(_) => "config",
        }
    }
}

/// `NOT_ENOUGH_SPACE`: the disk is full; the insert is rejected whole, nothing is half-written.
pub const NOT_ENOUGH_SPACE: u32 = 243;

/// ClickHouse error codes worth retrying: TIMEOUT_EXCEEDED, MEMORY_LIMIT_EXCEEDED, NOT_ENOUGH_SPACE,
/// TOO_MANY_PARTS, TOO_MANY_SIMULTANEOUS_QUERIES, NETWORK_ERROR, SOCKET_TIMEOUT, TABLE_IS_READ_ONLY,
/// ALL_CONNECTION_TRIES_FAILED.
const TRANSIENT_CODES: [u32; 9] = [159, 241, NOT_ENOUGH_SPACE, 252, 202, 210, 209, 242, 279];

/// The result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
