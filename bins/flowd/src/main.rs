//! `helios-flowd`: the Helios flow collector.

mod config;
mod metrics;
mod sink;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use helios_clickhouse::ClickHouse;
use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::enrich::published::Published;
use helios_service::http::Readiness;
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::metrics::Metrics;

/// Receives NetFlow v5/v9, IPFIX and sFlow v5 over UDP, decodes and enriches every flow (NetBox
/// labels, GeoIP, ASN, sampling-normalised counters) and inserts it into ClickHouse (`flows_raw`,
/// which feeds `flows_1m` and `flows_1h`).
///
/// Configuration comes from defaults, then --config (YAML), then HELIOS_FLOWD__* variables
/// (HELIOS_FLOWD__CLICKHOUSE__URL sets clickhouse.url), then --set and the flags below.
/// --print-config shows the result. Serves /metrics, /healthz and /readyz (ready once the sockets
/// are bound and the ClickHouse schema is in place).
#[derive(Parser)]
#[command(
    name = "helios-flowd",
    version,
    after_help = "Examples:\n  helios-flowd --clickhouse-url http://clickhouse:8123\n  helios-flowd --config flowd.yaml --set workers=2 --print-config\n  helios-flowd migrate --clickhouse-url http://clickhouse:8123"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// YAML configuration file.
    #[arg(long, global = true, value_name = "FILE", env = "HELIOS_FLOWD_CONFIG")]
    config: Option<PathBuf>,
    /// Set one setting, `key.sub=value` (value as YAML: `workers=2`, `listen=[0.0.0.0:2055]`).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// UDP address to receive on (repeatable; replaces the default 0.0.0.0:2055 and 0.0.0.0:6343).
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// ClickHouse HTTP interface.
    #[arg(long, global = true, value_name = "URL")]
    clickhouse_url: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, global = true, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Print the effective configuration (YAML) and exit.
    #[arg(long, global = true)]
    print_config: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Receive, enrich and store flows (the default).
    Run,
    /// Apply the ClickHouse schema migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    helios_service::logging::init();
    match start(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "helios-flowd failed");
            ExitCode::FAILURE
        }
    }
}

fn start(cli: Cli) -> anyhow::Result<()> {
    let mut sets = Vec::new();
    if !cli.listen.is_empty() {
        let list: Vec<String> = cli.listen.iter().map(ToString::to_string).collect();
        sets.push(format!("listen=[{}]", list.join(", ")));
    }
    if let Some(url) = &cli.clickhouse_url {
        sets.push(format!("clickhouse.url={url}"));
    }
    if let Some(http) = cli.http {
        sets.push(format!("http={http}"));
    }
    sets.extend(cli.sets.iter().cloned());
    let config: Config = helios_service::config::load(cli.config.as_deref(), "HELIOS_FLOWD", std::env::vars(), &sets)?;
    if cli.print_config {
        print!("{}", helios_service::config::to_yaml(&config));
        return Ok(());
    }
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => runtime.block_on(async {
            let ch = ClickHouse::new(config.clickhouse.clone(), helios_clickhouse::Metrics::default())?;
            let applied = ch.migrate().await?;
            tracing::info!(?applied, "ClickHouse schema is up to date");
            Ok(())
        }),
        Command::Run => runtime.block_on(run(config)),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let mut registry = Registry::with_prefix("helios_flowd");
    let metrics = Metrics::register(&mut registry);
    let ch = ClickHouse::new(config.clickhouse.clone(), helios_clickhouse::Metrics::register(&mut registry))?;
    let reload_metrics = helios_enrichment::Metrics::register(&mut registry);
    let published = Arc::new(Published::new(helios_enrichment::load(&config.enrichment)?));
    let ready = Readiness::default();
    let (http, _http_task) = helios_service::http::serve(config.http, Arc::new(registry), ready.clone())
        .await
        .with_context(|| format!("binding {}", config.http))?;

    let (queue, sink) = sink::queue(config.queue_bytes, metrics.clone());
    let pending = queue.pending();
    let stop = Arc::new(AtomicBool::new(false));
    let instance = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut threads = Vec::new();
    for addr in &config.listen {
        for n in 0..config.workers {
            let socket = helios_udp::bind(*addr, config.recv_buffer_bytes, Duration::from_millis(100))
                .with_context(|| format!("binding UDP {addr}"))?;
            let w = worker::Worker {
                socket,
                decoder: Decoder::new(DecoderConfig {
                    keep_extra_fields: config.keep_extra_fields,
                    ..DecoderConfig::default()
                }),
                block: helios_clickhouse::BlockBuilder::new((&config.clickhouse).into()),
                published: published.clone(),
                queue: queue.clone(),
                metrics: metrics.clone(),
                max_exporter_series: config.max_exporter_series,
                token_prefix: format!("flowd-{instance}-{addr}-{n}"),
            };
            let stop = stop.clone();
            let name = format!("recv-{addr}-{n}");
            threads.push(std::thread::Builder::new().name(name).spawn(move || w.run(&stop))?);
        }
    }
    drop(queue);
    tracing::info!(listen = ?config.listen, workers = config.workers, %http, "receiving flows");

    let reloader = helios_enrichment::Reloader::new(config.enrichment.clone(), published, reload_metrics);
    let reload_task = tokio::spawn(reloader.run());
    let sink_task = {
        let ready = ready.clone();
        tokio::spawn(async move {
            migrate_until_done(&ch).await;
            ready.set(true);
            let disk_task = tokio::spawn(watch_disk(ch.clone()));
            sink.run(ch).await;
            disk_task.abort();
        })
    };

    helios_service::shutdown::signal().await;
    tracing::info!("shutting down: delivering what was accepted");
    ready.set(false);
    reload_task.abort();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        tokio::task::spawn_blocking(move || t.join()).await?.ok();
    }
    let drain = Duration::from_secs(config.drain_secs);
    if tokio::time::timeout(drain, sink_task).await.is_err() {
        let lost = pending.rows();
        metrics.drop_flows("shutdown", lost);
        anyhow::bail!("ClickHouse did not take {lost} flows within {drain:?}; they are lost");
    }
    tracing::info!("all accepted flows delivered");
    Ok(())
}

/// Applies the schema, retrying until ClickHouse answers (flows queue meanwhile).
async fn migrate_until_done(ch: &ClickHouse) {
    let mut delay = Duration::from_millis(200);
    loop {
        match ch.migrate().await {
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

/// Refreshes the disk gauges (for the 80% disk alert) every 30 s.
async fn watch_disk(ch: ClickHouse) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        if let Err(e) = ch.disk_usage().await {
            tracing::warn!(error = %e, "reading ClickHouse disk space failed");
        }
    }
}
