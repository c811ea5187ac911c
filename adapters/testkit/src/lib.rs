//! Real engines for Helios's integration tests, started and stopped by the tests themselves.
//!
//! - [`ClickHouse`]: ClickHouse 26.9 embedded by chdb, served over HTTP by `scripts/chdb_server.py`
//!   (no ClickHouse server binary installs from the package registries our machines reach). It is the
//!   real engine — MergeTree, TTL, materialized views, deduplication — behind a small stand-in for the
//!   server's HTTP front.
//! - [`netbox`]: a NetBox stand-in (HTTP on loopback) with NetBox 4.x-shaped fixture pages.
//! - [`Service`]: a Helios service binary, started, probed and stopped by a test.
//! - [`Tansu`]: the tansu Kafka-compatible broker (in-memory storage).
//!
//! `scripts/install-deps.sh` installs what these need; a missing piece fails the test with a message
//! saying how to install it, never a silent skip.
#![forbid(unsafe_code)]

mod clickhouse;
pub mod netbox;
pub mod secrets;
mod service;
mod tansu;

pub use clickhouse::ClickHouse;
pub use service::{Service, http_body, http_get, http_post, http_post_to, http_post_with};
pub use tansu::Tansu;

use std::path::PathBuf;

/// The repository's root (tests run with the crate directory as their working directory).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // adapters/testkit -> the workspace root
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

/// Where `scripts/install-deps.sh` keeps tools: `$HELIOS_CACHE`, default `~/.cache/helios`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("HELIOS_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache/helios")
    })
}

/// Third-party data the tests read in place and the repository does not hold (CRD schemas, device
/// captures from other projects): `$HELIOS_SHARED`, else the `shared/` directory beside the checkout.
///
/// # Panics
/// When neither exists, with what to set.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("HELIOS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().parent().map(|p| p.join("shared")).unwrap_or_default());
    assert!(
        dir.join("schemas").is_dir(),
        "third-party test data not found at {}: set HELIOS_SHARED to the directory holding schemas/ and testdata/",
        dir.display()
    );
    dir
}

/// A TCP port that was free a moment ago on 127.0.0.1 (the kernel does not reuse it at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// The enrichment data of `testdata/`: the example NetBox snapshot and MaxMind's City and ASN test
/// databases, loaded as a service would.
///
/// # Panics
/// When the files are missing or invalid.
pub fn enrichment_snapshot() -> helios_core::enrich::published::Snapshot {
    let data = repo_root().join("testdata");
    helios_enrichment::load(&helios_enrichment::Sources {
        geoip_city: Some(data.join("geoip/GeoIP2-City-Test.mmdb")),
        geoip_asn: Some(data.join("geoip/GeoLite2-ASN-Test.mmdb")),
        netbox_snapshot: Some(data.join("netbox/example-snapshot.json")),
        reload_secs: 0,
        ..helios_enrichment::Sources::default()
    })
    .unwrap_or_else(|e| panic!("testdata enrichment: {e}"))
}

/// A fresh, empty directory under the system temp directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `helios-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("helios-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
