//! `helios-targetgen`: NetBox inventory to collection targets.

mod config;
mod sync;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use helios_service::cli::CommonArgs;
use helios_service::http::Readiness;
use helios_service::webhook::{self, Webhook};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

use crate::config::Config;
use crate::sync::{Metrics, Output, Syncer};

/// Reads the devices NetBox flags for monitoring (`helios_monitor`, with `helios_gnmi` and
/// `helios_snmp` per protocol; NetBox 3.7 or 4.x) and writes what the collectors read:
/// gnmic's target file, snmp_exporter and blackbox_exporter file_sd groups, and a Prometheus file_sd
/// of every monitored device, each target carrying device, site, region, vendor, platform, role and
/// tier. No credential is written anywhere.
///
/// Two modes: `once` syncs and exits (for a CronJob, every 5 minutes by default); `run` (the default)
/// syncs every `interval_secs` and soon after NetBox calls `POST /webhook`, serving `/metrics`. It
/// needs `webhook_secret_file` (only calls NetBox signed with that secret count) or, to accept
/// unsigned calls, `webhook_allow_unsigned=true`; calls coalesce into at most one sync every
/// `webhook_min_interval_secs` (10).
/// A NetBox error, a timeout or a malformed answer leaves the files as they were; a sync that would
/// remove more than `max_shrink` of an artefact's targets is refused (and counted) unless
/// `force=true`. Files are rewritten only when their content changes.
///
/// Configuration: defaults, then --config (YAML), then HELIOS_TARGETGEN__* variables, then --set.
#[derive(Parser)]
#[command(
    name = "helios-targetgen",
    version,
    after_help = "Examples:\n  helios-targetgen once --netbox-url https://netbox.example/ --set output_dir=/targets\n  helios-targetgen run --config targetgen.yaml   # interval + webhook, /metrics on :9104"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: CommonArgs,
    /// NetBox URL.
    #[arg(long, global = true, value_name = "URL")]
    netbox_url: Option<String>,
}

#[derive(Subcommand, Default)]
enum Command {
    /// Sync every `interval_secs` and on `POST /webhook`, until stopped (the default).
    #[default]
    Run,
    /// Sync once and exit: 0 when the targets are in sync, 1 when the sync failed.
    Once,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    helios_service::cli::main("helios-targetgen", || start(cli))
}

fn start(cli: Cli) -> anyhow::Result<()> {
    let sets = cli.netbox_url.iter().map(|u| format!("netbox_url={u}")).collect();
    let Some(config) = cli.common.load::<Config>("HELIOS_TARGETGEN", sets)? else { return Ok(()) };
    config.validate()?;
    let runtime = helios_service::cli::runtime().context("starting the async runtime")?;
    runtime.block_on(async {
        let mut registry = Registry::with_prefix("helios_targetgen");
        let output = match &config.configmap_namespace {
            Some(namespace) => {
                let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
                let cms = helios_kube::ConfigMaps::new(client, namespace, "helios-targetgen")
                    .with_copies_in(config.configmap_copies.iter().cloned());
                Output::ConfigMap(Box::new(cms), config.configmap_name.clone())
            }
            None => Output::Files(config.output_dir.clone()),
        };
        let metrics = Metrics::register(&mut registry);
        let syncer = Syncer::new(config.clone(), output, metrics.clone())?;
        match cli.command.unwrap_or_default() {
            Command::Once => {
                let result = syncer.sync().await;
                if let Some(url) = &config.pushgateway_url {
                    push(url, &sync::push_body(&metrics, result.is_ok())).await?;
                }
                Ok(result.map(drop)?)
            }
            Command::Run => run(config, syncer, registry).await,
        }
    })
}

/// Replaces this job's group on the Pushgateway.
async fn push(url: &str, body: &str) -> anyhow::Result<()> {
    let target = format!("{}/metrics/job/helios-targetgen", url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&target)
        .header("content-type", "text/plain; version=0.0.4")
        .body(body.to_owned())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("pushing metrics to {target}"))?;
    anyhow::ensure!(response.status().is_success(), "pushing metrics to {target}: HTTP {}", response.status());
    Ok(())
}

async fn run(config: Config, syncer: Syncer, mut registry: Registry) -> anyhow::Result<()> {
    let ready = Readiness::default();
    let webhook = Arc::new(Notify::new());
    let secret = config.webhook_secret_file.as_deref().map(webhook::read_secret).transpose()?;
    anyhow::ensure!(
        secret.is_some() || config.webhook_allow_unsigned,
        "run serves POST /webhook: set webhook_secret_file to the secret NetBox signs its webhooks with, or \
         webhook_allow_unsigned=true to accept unsigned calls (anyone reaching the port can then trigger syncs)"
    );
    let hook = Webhook::new(webhook.clone(), secret, &mut registry);
    let (http, _task) = helios_service::http::serve(config.http, Arc::new(registry), ready.clone(), Some(hook))
        .await
        .with_context(|| format!("binding {}", config.http))?;
    tracing::info!(%http, interval_secs = config.interval_secs, "syncing targets");
    let mut tick = tokio::time::interval(Duration::from_secs(config.interval_secs));
    let min_interval = Duration::from_secs(config.webhook_min_interval_secs);
    let stop = helios_service::shutdown::signal();
    tokio::pin!(stop);
    // When the last webhook-triggered sync started.
    let mut last_webhook_sync: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            _ = tick.tick() => {}
            () = webhook.notified() => {
                // Calls arriving meanwhile leave one pending wake-up: a burst is one more sync.
                let wait = last_webhook_sync.map_or(Duration::ZERO, |t| min_interval.saturating_sub(t.elapsed()));
                tracing::info!(in_ms = wait.as_millis() as u64, "webhook: syncing");
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                last_webhook_sync = Some(tokio::time::Instant::now());
            }
        }
        if syncer.sync().await.is_ok() {
            ready.set(true);
        }
    }
}
