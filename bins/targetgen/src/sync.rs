//! One sync: NetBox → `helios_core::targets` → files, safely. Nothing is written unless the whole
//! inventory was read and every artefact passed the shrink check; a file is rewritten only when its
//! content changed, atomically (write aside, then rename), so the tools reading it never see half a
//! file and are not woken for nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use helios_core::targets::{self, Artefact, Kind};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::Config;

/// Why a sync changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// NetBox could not be read: the files stay as they were.
    #[error(transparent)]
    Netbox(#[from] helios_netbox::Error),
    /// An artefact would lose too many targets at once; refused unless forced.
    #[error(
        "{kind} targets would shrink from {previous} to {next} (more than {max_shrink:.0}% at once): refused; \
         set force=true if this is intended"
    )]
    Shrink {
        /// Which artefact.
        kind: &'static str,
        /// Targets now.
        previous: usize,
        /// Targets NetBox asks for.
        next: usize,
        /// The limit, in percent.
        max_shrink: f64,
    },
    /// A file could not be written.
    #[error("writing {path}: {detail}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The ConfigMap could not be read or applied.
    #[error(transparent)]
    Kube(#[from] helios_kube::Error),
}

impl SyncError {
    fn reason(&self) -> &'static str {
        match self {
            SyncError::Netbox(_) => "netbox",
            SyncError::Shrink { .. } => "shrink_refused",
            SyncError::Write { .. } | SyncError::Kube(_) => "write",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// `helios_targetgen_*`.
#[derive(Debug, Clone)]
pub struct Metrics {
    errors: Family<ReasonLabels, Counter>,
    last_success: Gauge,
    targets: Family<KindLabels, Gauge>,
    writes: Family<KindLabels, Counter>,
    duration: Histogram,
}

impl Metrics {
    /// Registers the metrics.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            errors: Family::default(),
            last_success: Gauge::default(),
            targets: Family::default(),
            writes: Family::default(),
            duration: Histogram::new([0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]),
        };
        registry.register("sync_errors", "Failed syncs, by reason (netbox, shrink_refused, write)", m.errors.clone());
        registry.register(
            "last_success_timestamp_seconds",
            "When a sync last succeeded (Unix time)",
            m.last_success.clone(),
        );
        registry.register("targets", "Targets in each artefact, as last written", m.targets.clone());
        registry.register("writes", "Artefacts rewritten because their content changed", m.writes.clone());
        registry.register("sync_duration_seconds", "Seconds per sync", m.duration.clone());
        m
    }
}

/// Where the artefacts go.
pub enum Output {
    /// Files in a directory.
    Files(PathBuf),
    /// One ConfigMap (a key per artefact), by server-side apply.
    ConfigMap(Box<helios_kube::ConfigMaps>, String),
}

/// The Pushgateway body after a `once` sync (Prometheus text format, gauges only: counters would
/// restart at every run).
pub fn push_body(metrics: &Metrics, succeeded: bool) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if !succeeded {
        return format!(
            "# TYPE helios_targetgen_last_failure_timestamp_seconds gauge\nhelios_targetgen_last_failure_timestamp_seconds {now}\n"
        );
    }
    let mut body = format!(
        "# TYPE helios_targetgen_last_success_timestamp_seconds gauge\nhelios_targetgen_last_success_timestamp_seconds {}\n\
         # TYPE helios_targetgen_targets gauge\n",
        metrics.last_success.get()
    );
    for kind in Kind::ALL {
        let n = metrics.targets.get_or_create(&KindLabels { kind: kind.as_str() }).get();
        body.push_str(&format!("helios_targetgen_targets{{kind=\"{}\"}} {n}\n", kind.as_str()));
    }
    body
}

/// Reads NetBox and writes the artefacts.
pub struct Syncer {
    client: helios_netbox::Client,
    config: Config,
    output: Output,
    metrics: Metrics,
}

impl Syncer {
    /// A syncer for `config` writing to `output` (the NetBox token is read now).
    pub fn new(config: Config, output: Output, metrics: Metrics) -> anyhow::Result<Syncer> {
        let token = helios_netbox::Token::from_file(&config.netbox_token_file)?;
        let mut nb = helios_netbox::Config::new(&config.netbox_url, token)?;
        nb.timeout = std::time::Duration::from_secs(config.netbox_timeout_secs);
        nb.monitored_only = true;
        let client = helios_netbox::Client::new(nb)?;
        if let Output::Files(dir) = &output {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        Ok(Syncer { client, config, output, metrics })
    }

    /// What the output holds now, by artefact.
    async fn previous(&self) -> Result<BTreeMap<Kind, Vec<u8>>, SyncError> {
        let mut out = BTreeMap::new();
        match &self.output {
            Output::Files(dir) => {
                for kind in Kind::ALL {
                    if let Ok(bytes) = std::fs::read(dir.join(kind.file_name())) {
                        out.insert(kind, bytes);
                    }
                }
            }
            Output::ConfigMap(cms, name) => {
                let data = cms.data(name).await?.unwrap_or_default();
                for kind in Kind::ALL {
                    if let Some(text) = data.get(kind.file_name()) {
                        out.insert(kind, text.clone().into_bytes());
                    }
                }
            }
        }
        Ok(out)
    }

    /// One sync. Returns the artefacts it rewrote.
    pub async fn sync(&self) -> Result<Vec<Kind>, SyncError> {
        let started = Instant::now();
        let result = self.try_sync().await;
        self.metrics.duration.observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(written) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                self.metrics.last_success.set(now as i64);
                tracing::info!(written = ?written, seconds = started.elapsed().as_secs_f64(), "targets in sync");
            }
            Err(e) => {
                self.metrics.errors.get_or_create(&ReasonLabels { reason: e.reason() }).inc();
                tracing::warn!(error = %e, "sync failed; the targets stay as they were");
            }
        }
        result
    }

    async fn try_sync(&self) -> Result<Vec<Kind>, SyncError> {
        let inventory = self.client.inventory().await?;
        let artefacts = targets::generate(&inventory, &self.config.rules);
        let previous = self.previous().await?;
        let mut changed: Vec<&Artefact> = Vec::new();
        for a in &artefacts {
            let before = previous.get(&a.kind);
            if before.map(Vec::as_slice) == Some(a.content.as_slice()) {
                continue;
            }
            let count = before.and_then(|p| targets::count_targets(a.kind, p));
            if let Some(previous) = count
                && !self.config.force
                && targets::is_suspicious_shrink(previous, a.targets, self.config.max_shrink)
            {
                return Err(SyncError::Shrink {
                    kind: a.kind.as_str(),
                    previous,
                    next: a.targets,
                    max_shrink: self.config.max_shrink * 100.0,
                });
            }
            changed.push(a);
        }
        match &self.output {
            Output::Files(dir) => {
                for a in &changed {
                    write_atomically(&dir.join(a.kind.file_name()), &a.content)?;
                }
            }
            // Every sync, changed or not: a copy deleted or edited by hand is put back (one GET each
            // when nothing differs).
            Output::ConfigMap(cms, name) => {
                let data = artefacts
                    .iter()
                    .map(|a| (a.kind.file_name().to_owned(), String::from_utf8_lossy(&a.content).into_owned()))
                    .collect();
                let labels = [("app.kubernetes.io/managed-by".to_owned(), "helios-targetgen".to_owned())].into();
                cms.apply_if_changed(name, &data, &labels).await?;
            }
        }
        for a in &changed {
            self.metrics.writes.get_or_create(&KindLabels { kind: a.kind.as_str() }).inc();
        }
        for a in &artefacts {
            self.metrics.targets.get_or_create(&KindLabels { kind: a.kind.as_str() }).set(a.targets as i64);
        }
        Ok(changed.iter().map(|a| a.kind).collect())
    }
}

fn write_atomically(path: &Path, content: &[u8]) -> Result<(), SyncError> {
    let err = |e: std::io::Error| SyncError::Write { path: path.display().to_string(), detail: e.to_string() };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
