//! `helios-flowd`: the Helios flow collector.

mod config;
mod metrics;
mod sink;
mod worker;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Parser;
use helios_clickhouse::{BlockBuilder, ClickHouse};
use helios_core::decode::{Decoder, DecoderConfig, TemplateLimits};
use helios_core::enrich::published::Published;
use helios_kafka::FlowProducer;
use helios_service::cli::{CommonArgs, ServiceCommand};
use helios_service::http::Readiness;
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::metrics::Metrics;

/// Receives NetFlow v5/v9, IPFIX and sFlow v5 over UDP, decodes and enriches every flow (NetBox
/// labels, GeoIP, ASN, sampling-normalised counters) and inserts it into ClickHouse (`flows_raw`),
/// with per-minute rollups of what was stored into `flows_1m` (which feeds `flows_1h`).
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
    command: Option<ServiceCommand>,
    #[command(flatten)]
    common: CommonArgs,
    /// UDP address to receive on (repeatable; replaces the default 0.0.0.0:2055 and 0.0.0.0:6343).
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// ClickHouse HTTP interface.
    #[arg(long, global = true, value_name = "URL")]
    clickhouse_url: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    helios_service::cli::main("helios-flowd", || start(cli))
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
    let Some(config) = cli.common.load::<Config>("HELIOS_FLOWD", sets)? else { return Ok(()) };
    config.validate()?;
    let runtime = helios_service::cli::runtime().context("starting the async runtime")?;
    match cli.command.unwrap_or_default() {
        ServiceCommand::Migrate => Ok(runtime.block_on(helios_clickhouse::migrate_once(config.clickhouse))?),
        ServiceCommand::Run => runtime.block_on(run(config)),
    }
}

/// The template files saved in `dir` (created when missing).
fn load_saved_templates(dir: Option<&std::path::Path>) -> anyhow::Result<Vec<(std::path::PathBuf, Vec<u8>)>> {
    let Some(dir) = dir else { return Ok(Vec::new()) };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            files.push((path, bytes));
        }
    }
    tracing::info!(files = files.len(), dir = %dir.display(), "loaded saved templates");
    Ok(files)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let mut registry = Registry::with_prefix("helios_flowd");
    let metrics = Metrics::register(&mut registry);
    let ch = match config.outputs.clickhouse {
        true => Some(ClickHouse::new(config.clickhouse.clone(), helios_clickhouse::Metrics::register(&mut registry))?),
        false => None,
    };
    let kafka_metrics = helios_kafka::Metrics::register(&mut registry);
    let reload_metrics = helios_enrichment::Metrics::register(&mut registry);
    let published = Arc::new(Published::new(helios_enrichment::load(&config.enrichment)?));
    let ready = Readiness::default();
    let (http, _http_task) = helios_service::http::serve(config.http, Arc::new(registry), ready.clone(), None)
        .await
        .with_context(|| format!("binding {}", config.http))?;

    let o = &config.outputs;
    let producer = match o.kafka_raw || o.kafka_enriched {
        true => Some(Arc::new(FlowProducer::new(&config.kafka, kafka_metrics)?)),
        false => None,
    };
    let (queue, sink) = sink::queue(config.queue_bytes, metrics.clone());
    let pending = queue.pending();
    let stop = Arc::new(AtomicBool::new(false));
    let instance = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let saved_templates = load_saved_templates(config.template_dir.as_deref())?;
    let mut threads = Vec::new();
    let decoders = (config.listen.len() * config.workers).max(1);
    let exporter_series = Arc::new(metrics::ExporterSeries::new(config.max_exporter_series));
    let templates = TemplateLimits { max_bytes: config.template_memory_bytes / decoders, ..TemplateLimits::default() };
    for addr in &config.listen {
        for n in 0..config.workers {
            let socket = helios_udp::bind(*addr, config.recv_buffer_bytes, Duration::from_millis(100))
                .with_context(|| format!("binding UDP {addr}"))?;
            let mut decoder = Decoder::new(DecoderConfig { keep_extra_fields: config.keep_extra_fields, templates });
            let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            // Every worker learns every saved template: the kernel may spread exporters differently now.
            for (path, saved) in &saved_templates {
                if let Err(e) = decoder.templates_mut().import(saved, now_s) {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring a saved template file");
                }
            }
            let file_name = format!("templates-{}-{n}.json", addr.to_string().replace([':', '[', ']'], "_"));
            let w = worker::Worker {
                socket,
                decoder,
                template_file: config.template_dir.as_ref().map(|d| d.join(file_name)),
                clickhouse: ch
                    .is_some()
                    .then(|| (BlockBuilder::new((&config.clickhouse).into(), config.clickhouse.format), queue.clone())),
                kafka: producer.clone().map(|producer| worker::KafkaOutputs {
                    producer,
                    raw_topic: o.kafka_raw.then(|| config.kafka.raw_topic.clone()),
                    enriched_topic: o.kafka_enriched.then(|| config.kafka.enriched_topic.clone()),
                }),
                published: published.clone(),
                metrics: metrics.clone(),
                exporter_series: exporter_series.clone(),
                other_series: Default::default(),
                token_prefix: format!("flowd-{instance}-{addr}-{n}"),
            };
            let stop = stop.clone();
            let name = format!("recv-{addr}-{n}");
            threads.push(std::thread::Builder::new().name(name).spawn(move || w.run(&stop))?);
        }
    }
    drop(queue);
    tracing::info!(listen = ?config.listen, workers = config.workers, %http, outputs = ?config.outputs, "receiving flows");

    let reloader = helios_enrichment::Reloader::new(config.enrichment.clone(), published, reload_metrics)?;
    let reload_task = tokio::spawn(reloader.run());
    let sink_task = {
        let (ready, insert_concurrency) = (ready.clone(), config.insert_concurrency);
        let rollup = sink::RollupSettings {
            max_bytes: config.clickhouse.rollup_bytes,
            token_prefix: format!("flowd-{instance}"),
        };
        tokio::spawn(async move {
            if let Some(ch) = ch {
                ch.migrate_until_done().await;
                ready.set(true);
                let disk_task = tokio::spawn(ch.clone().watch_disk(Duration::from_secs(30)));
                sink.run(ch, insert_concurrency, rollup).await;
                disk_task.abort();
            } else {
                ready.set(true);
            }
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
    let deadline = tokio::time::Instant::now() + drain;
    if tokio::time::timeout_at(deadline, sink_task).await.is_err() {
        let lost = pending.rows();
        metrics.drop_flows("shutdown", lost);
        anyhow::bail!("ClickHouse did not take {lost} flows within {drain:?}; they are lost");
    }
    if let Some(p) = producer {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::task::spawn_blocking(move || p.flush(left))
            .await?
            .context("Kafka did not take every message in time")?;
    }
    tracing::info!("all accepted flows delivered");
    Ok(())
}
