//! `helios-enrichment`: the enrichment data of a service, kept current.
//!
//! [`Sources`] names MaxMind City / ASN databases, and NetBox: a snapshot file or the NetBox API.
//! [`load`] reads the files into a `helios_core` [`Snapshot`]; a [`Reloader`] watches the files and,
//! when one changes (a new MMDB dropped in by geoipupdate, a new snapshot file), builds the new tables
//! aside and publishes them atomically; with `netbox_url` it also reads NetBox at start and every
//! `netbox_refresh_secs`. Whatever fails to load (a corrupt or half-written file, a NetBox outage, a
//! malformed answer) is reported and counted, and the last good data stays in force; NetBox's state
//! is visible in `enrichment_netbox_up` and `enrichment_netbox_last_success_timestamp_seconds`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use helios_core::enrich::geoip::GeoTable;
use helios_core::enrich::inventory::{Inventory, NetboxSnapshot};
use helios_core::enrich::published::{Published, Snapshot};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

/// Where enrichment data comes from. All optional: without any, flows are stored unenriched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sources {
    /// MaxMind City database (`GeoIP2-City.mmdb` / `GeoLite2-City.mmdb`).
    pub geoip_city: Option<PathBuf>,
    /// MaxMind ASN database (`GeoLite2-ASN.mmdb`).
    pub geoip_asn: Option<PathBuf>,
    /// NetBox snapshot (the JSON `helios decode --dump-netbox-snapshot` and the NetBox sync write).
    pub netbox_snapshot: Option<PathBuf>,
    /// How often to look for changed files, in seconds (0: never).
    pub reload_secs: u64,
    /// NetBox (3.7 or 4.x) to read the inventory from, at start and every `netbox_refresh_secs`
    /// (instead of `netbox_snapshot`).
    pub netbox_url: Option<String>,
    /// File holding the NetBox API token (a mounted Secret; never logged).
    pub netbox_token_file: Option<PathBuf>,
    /// How often to read NetBox, in seconds.
    pub netbox_refresh_secs: u64,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            geoip_city: None,
            geoip_asn: None,
            netbox_snapshot: None,
            reload_secs: 60,
            netbox_url: None,
            netbox_token_file: None,
            netbox_refresh_secs: 300,
        }
    }
}

/// A source that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("reading {path}: {detail}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The file's content is invalid.
    #[error("loading {path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// What core found wrong.
        source: helios_core::Error,
    },
    /// NetBox could not be read (or is misconfigured).
    #[error(transparent)]
    Netbox(#[from] helios_netbox::Error),
    /// `netbox_url` without `netbox_token_file`.
    #[error("netbox_url needs netbox_token_file")]
    NoToken,
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Read { path: path.display().to_string(), detail: e.to_string() })
}

/// The GeoIP tables of `city` and/or `asn`; `None` when neither is given.
pub fn load_geo(city: Option<&Path>, asn: Option<&Path>) -> Result<Option<GeoTable>, Error> {
    if city.is_none() && asn.is_none() {
        return Ok(None);
    }
    let (city_db, asn_db) = (city.map(read).transpose()?, asn.map(read).transpose()?);
    let named = city.or(asn).map(|p| p.display().to_string()).unwrap_or_default();
    GeoTable::build(city_db.as_deref(), asn_db.as_deref())
        .map(Some)
        .map_err(|source| Error::Invalid { path: named, source })
}

/// The inventory of a NetBox snapshot file.
pub fn load_inventory(path: &Path) -> Result<Inventory, Error> {
    Inventory::from_json(&read(path)?).map_err(|source| Error::Invalid { path: path.display().to_string(), source })
}

/// A NetBox snapshot file, compiled.
pub fn load_netbox(path: &Path) -> Result<NetboxSnapshot, Error> {
    NetboxSnapshot::build(load_inventory(path)?)
        .map_err(|source| Error::Invalid { path: path.display().to_string(), source })
}

/// Everything `sources` names, loaded (the initial snapshot of a service).
pub fn load(sources: &Sources) -> Result<Snapshot, Error> {
    Ok(Snapshot {
        geo: load_geo(sources.geoip_city.as_deref(), sources.geoip_asn.as_deref())?.map(Arc::new),
        netbox: sources.netbox_snapshot.as_deref().map(load_netbox).transpose()?.map(Arc::new),
        generation: 0,
    })
}

/// Labels of the reload counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    source: &'static str,
    result: &'static str,
}

/// Reload metrics.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    reloads: Family<ReloadLabels, Counter>,
    generation: Gauge,
    netbox_up: Gauge,
    netbox_last_success: Gauge,
}

impl Metrics {
    /// Registers `enrichment_reloads_total{source,result}` and `enrichment_generation`.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::default();
        let r = registry.sub_registry_with_prefix("enrichment");
        r.register(
            "reloads",
            "Enrichment reloads by source (geoip, netbox) and result (ok, failed)",
            m.reloads.clone(),
        );
        r.register("generation", "Generation of the enrichment snapshot in force", m.generation.clone());
        r.register("netbox_up", "1 when the last NetBox read succeeded, 0 when it failed", m.netbox_up.clone());
        r.register(
            "netbox_last_success_timestamp_seconds",
            "When NetBox was last read successfully (Unix time)",
            m.netbox_last_success.clone(),
        );
        m
    }

    fn count(&self, source: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.reloads.get_or_create(&ReloadLabels { source, result }).inc();
    }
}

/// Watches the source files, reads NetBox, and publishes new data when it changes.
#[derive(Debug)]
pub struct Reloader {
    sources: Sources,
    published: Arc<Published>,
    metrics: Metrics,
    geo_seen: Vec<Option<SystemTime>>,
    netbox_seen: Option<SystemTime>,
    netbox: Option<helios_netbox::Client>,
}

fn modified(path: Option<&Path>) -> Option<SystemTime> {
    path.and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

impl Reloader {
    /// A reloader for `sources`, publishing into `published` (which holds what was loaded at start).
    /// Fails when the NetBox settings are unusable (no token file, an unreadable token, a bad URL).
    pub fn new(sources: Sources, published: Arc<Published>, metrics: Metrics) -> Result<Reloader, Error> {
        let geo_seen = vec![modified(sources.geoip_city.as_deref()), modified(sources.geoip_asn.as_deref())];
        let netbox_seen = modified(sources.netbox_snapshot.as_deref());
        let netbox = match &sources.netbox_url {
            Some(url) => {
                let token_file = sources.netbox_token_file.as_deref().ok_or(Error::NoToken)?;
                let config = helios_netbox::Config::new(url, helios_netbox::Token::from_file(token_file)?)?;
                Some(helios_netbox::Client::new(config)?)
            }
            None => None,
        };
        Ok(Reloader { sources, published, metrics, geo_seen, netbox_seen, netbox })
    }

    /// Reads NetBox and publishes its inventory. On any failure the last good inventory stays in
    /// force, `netbox_up` drops to 0 and the failure is counted. Returns whether it published.
    pub async fn refresh_netbox(&mut self) -> bool {
        let Some(client) = &self.netbox else { return false };
        let read = client.inventory().await.map_err(Error::from).and_then(|inventory| {
            NetboxSnapshot::build(inventory).map_err(|source| Error::Invalid { path: "NetBox".into(), source })
        });
        match read {
            Ok(nb) => {
                let (devices, prefixes) = (nb.inventory().devices.len(), nb.inventory().prefixes.len());
                let generation = self.published.replace_netbox(nb);
                self.metrics.generation.set(generation as i64);
                self.metrics.netbox_up.set(1);
                let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                self.metrics.netbox_last_success.set(now as i64);
                self.metrics.count("netbox_api", true);
                tracing::info!(generation, devices, prefixes, "read the inventory from NetBox");
                true
            }
            Err(e) => {
                self.metrics.netbox_up.set(0);
                self.metrics.count("netbox_api", false);
                tracing::warn!(error = %e, "reading NetBox failed; keeping the last good inventory");
                false
            }
        }
    }

    /// Reloads what changed since the last check. Returns how many sources were republished.
    pub fn check(&mut self) -> usize {
        let mut published = 0;
        let geo_now = vec![modified(self.sources.geoip_city.as_deref()), modified(self.sources.geoip_asn.as_deref())];
        if geo_now != self.geo_seen {
            self.geo_seen = geo_now;
            match load_geo(self.sources.geoip_city.as_deref(), self.sources.geoip_asn.as_deref()) {
                Ok(Some(geo)) => {
                    let generation = self.published.replace_geo(geo);
                    self.metrics.generation.set(generation as i64);
                    tracing::info!(generation, "reloaded GeoIP databases");
                    self.metrics.count("geoip", true);
                    published += 1;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "GeoIP reload failed; keeping the last good databases");
                    self.metrics.count("geoip", false);
                }
            }
        }
        let netbox_now = modified(self.sources.netbox_snapshot.as_deref());
        if netbox_now != self.netbox_seen {
            self.netbox_seen = netbox_now;
            if let Some(path) = self.sources.netbox_snapshot.as_deref() {
                match load_netbox(path) {
                    Ok(nb) => {
                        let generation = self.published.replace_netbox(nb);
                        self.metrics.generation.set(generation as i64);
                        tracing::info!(generation, "reloaded the NetBox snapshot");
                        self.metrics.count("netbox", true);
                        published += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "NetBox snapshot reload failed; keeping the last good one");
                        self.metrics.count("netbox", false);
                    }
                }
            }
        }
        published
    }

    /// Checks the files every `reload_secs` and reads NetBox now and every `netbox_refresh_secs`,
    /// until the task is dropped. Returns at once when there is nothing to do.
    pub async fn run(mut self) {
        let every = |secs: u64| (secs > 0).then(|| tokio::time::interval(Duration::from_secs(secs)));
        let mut files = every(self.sources.reload_secs);
        let mut netbox = if self.netbox.is_some() { every(self.sources.netbox_refresh_secs) } else { None };
        if files.is_none() && netbox.is_none() {
            return;
        }
        async fn tick(i: &mut Option<tokio::time::Interval>) {
            match i {
                Some(i) => {
                    i.tick().await;
                }
                None => std::future::pending().await,
            }
        }
        loop {
            tokio::select! {
                () = tick(&mut files) => {
                    self.check();
                }
                () = tick(&mut netbox) => {
                    self.refresh_netbox().await;
                }
            }
        }
    }
}
