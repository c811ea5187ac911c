//! helios-targetgen's configuration: defaults, a YAML file, `HELIOS_TARGETGEN__*` variables and
//! `--set` flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use helios_core::targets::TargetRules;
use serde::{Deserialize, Serialize};

/// Everything helios-targetgen can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `/metrics`, `/healthz`, `/readyz` and `POST /webhook` (long-running mode).
    pub http: SocketAddr,
    /// NetBox (3.7 or 4.x).
    pub netbox_url: String,
    /// File holding the NetBox API token (a mounted Secret; never logged).
    pub netbox_token_file: PathBuf,
    /// Timeout of one NetBox request, in seconds.
    pub netbox_timeout_secs: u64,
    /// Where the artefacts are written as files (a volume the collectors read), unless
    /// `configmap_namespace` is set.
    pub output_dir: PathBuf,
    /// Write the artefacts into a ConfigMap of this namespace instead (server-side apply, only when
    /// changed; needs get and patch on that one ConfigMap).
    pub configmap_namespace: Option<String>,
    /// The ConfigMap's name.
    pub configmap_name: String,
    /// Further namespaces that get the same ConfigMap, for collectors running there (a pod mounts
    /// only its own namespace's ConfigMaps): gnmic's, Prometheus's. Needs get and patch there too.
    pub configmap_copies: Vec<String>,
    /// Long-running mode: seconds between syncs (a webhook call syncs at once).
    pub interval_secs: u64,
    /// File holding the secret of the NetBox webhook (a mounted Secret; never logged). When set, a
    /// `POST /webhook` counts only if NetBox signed it (`X-Hook-Signature`, HMAC-SHA512 of the body);
    /// anything else is refused with 403 and counted.
    pub webhook_secret_file: Option<PathBuf>,
    /// Long-running mode without `webhook_secret_file`: accept unsigned webhook calls. Off by
    /// default, and `run` refuses to start without one or the other: anyone who reaches the port
    /// could otherwise make Helios sync NetBox as often as they like.
    pub webhook_allow_unsigned: bool,
    /// Webhook calls coalesce: a sync they trigger starts at least this many seconds after the one
    /// before (a burst of NetBox events, or of replayed calls, costs one sync, not one each).
    pub webhook_min_interval_secs: u64,
    /// Refuse a sync that would remove more than this fraction of an artefact's targets at once.
    pub max_shrink: f64,
    /// Write even a shrink beyond `max_shrink` (after a deliberate mass removal).
    pub force: bool,
    /// `once` mode: push the outcome to this Prometheus Pushgateway (`http://pushgateway:9091`), since
    /// a CronJob's pod is gone before Prometheus could scrape it. A success pushes
    /// `helios_targetgen_last_success_timestamp_seconds` and the target counts; a failure pushes only
    /// `helios_targetgen_last_failure_timestamp_seconds`, so the last success stays as it was.
    pub pushgateway_url: Option<String>,
    /// How devices become targets.
    pub rules: TargetRules,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: SocketAddr::from(([0, 0, 0, 0], 9104)),
            netbox_url: "http://netbox:8080/".into(),
            netbox_token_file: "/run/secrets/netbox/token".into(),
            netbox_timeout_secs: 30,
            output_dir: "/var/lib/helios/targets".into(),
            configmap_namespace: None,
            configmap_name: "helios-targets".into(),
            configmap_copies: Vec::new(),
            interval_secs: 300,
            webhook_secret_file: None,
            webhook_allow_unsigned: false,
            webhook_min_interval_secs: 10,
            max_shrink: 0.5,
            force: false,
            pushgateway_url: None,
            rules: TargetRules::default(),
        }
    }
}

impl Config {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((0.0..=1.0).contains(&self.max_shrink), "max_shrink is a fraction: 0 to 1");
        anyhow::ensure!(self.interval_secs > 0, "interval_secs must be positive");
        Ok(())
    }
}
