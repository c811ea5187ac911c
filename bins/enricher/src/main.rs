//! `helios-enricher`: enriches the flows goflow2 (or helios-flowd) publishes on Kafka.

mod config;
mod pipeline;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use helios_clickhouse::ClickHouse;
use helios_core::enrich::published::Published;
use helios_kafka::{FlowConsumer, FlowProducer};
use helios_service::cli::{CommonArgs, ServiceCommand};
use helios_service::http::Readiness;
use prometheus_client::registry::Registry;

use crate::config::Config;

/// Consumes goflow2 `FlowMessage`s (varint length-delimited, as goflow2 v2 writes them, or single
/// un-prefixed messages) from the raw topic in a consumer group, enriches every flow (NetBox labels,
/// GeoIP, ASN, sampling-normalised counters) and inserts it into ClickHouse `flows_raw` and/or
/// publishes it on the enriched topic.
///
/// Offsets are committed only after ClickHouse stored a block, and a block is announced in the
/// commit metadata before it is inserted, so a crash or rebalance replays the same block under the
/// same deduplication token: nothing is lost and nothing is stored twice. (This needs a broker that
/// keeps offset-commit metadata, as Apache Kafka does.) Malformed messages are counted and skipped.
///
/// Configuration: defaults, then --config (YAML), then HELIOS_ENRICHER__* variables
/// (HELIOS_ENRICHER__KAFKA__BROKERS sets kafka.brokers), then --set and the flags below.
#[derive(Parser)]
#[command(
    name = "helios-enricher",
    version,
    after_help = "Examples:\n  helios-enricher --brokers kafka:9092 --clickhouse-url http://clickhouse:8123\n  helios-enricher --config enricher.yaml --set outputs.kafka=true --print-config"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    common: CommonArgs,
    /// Kafka bootstrap brokers.
    #[arg(long, global = true, value_name = "HOST:PORT,...")]
    brokers: Option<String>,
    /// ClickHouse HTTP interface.
    #[arg(long, global = true, value_name = "URL")]
    clickhouse_url: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    helios_service::cli::main("helios-enricher", || start(cli))
}

fn start(cli: Cli) -> anyhow::Result<()> {
    let mut sets = Vec::new();
    if let Some(brokers) = &cli.brokers {
        sets.push(format!("kafka.brokers={brokers}"));
    }
    if let Some(url) = &cli.clickhouse_url {
        sets.push(format!("clickhouse.url={url}"));
    }
    let Some(config) = cli.common.load::<Config>("HELIOS_ENRICHER", sets)? else { return Ok(()) };
    config.validate()?;
    let runtime = helios_service::cli::runtime().context("starting the async runtime")?;
    match cli.command.unwrap_or_default() {
        ServiceCommand::Migrate => Ok(runtime.block_on(helios_clickhouse::migrate_once(config.clickhouse))?),
        ServiceCommand::Run => runtime.block_on(run(config)),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let mut registry = Registry::with_prefix("helios_enricher");
    let metrics = pipeline::Metrics::register(&mut registry);
    let kafka_metrics = helios_kafka::Metrics::register(&mut registry);
    let clickhouse = if config.outputs.clickhouse {
        let ch = ClickHouse::new(config.clickhouse.clone(), helios_clickhouse::Metrics::register(&mut registry))?;
        Some(ch)
    } else {
        None
    };
    let reload_metrics = helios_enrichment::Metrics::register(&mut registry);
    let published = Arc::new(Published::new(helios_enrichment::load(&config.enrichment)?));
    let ready = Readiness::default();
    let (http, _http_task) = helios_service::http::serve(config.http, Arc::new(registry), ready.clone(), None)
        .await
        .with_context(|| format!("binding {}", config.http))?;

    let k = &config.kafka;
    if config.create_topic_partitions > 0 {
        let topics = [k.raw_topic.as_str(), k.enriched_topic.as_str()];
        helios_kafka::admin::ensure_topics(k, &topics, config.create_topic_partitions, 1).await?;
    }
    if let Some(ch) = &clickhouse {
        ch.migrate_until_done().await;
    }
    let producer = match config.outputs.kafka {
        true => Some((FlowProducer::new(k, kafka_metrics.clone())?, k.enriched_topic.clone())),
        false => None,
    };
    let consumer = FlowConsumer::new(k, &k.raw_topic, kafka_metrics)?;
    let disk_task = clickhouse.clone().map(|ch| tokio::spawn(ch.watch_disk(Duration::from_secs(30))));
    let reloader = helios_enrichment::Reloader::new(config.enrichment.clone(), published.clone(), reload_metrics)?;
    let reload_task = tokio::spawn(reloader.run());
    let pipeline = pipeline::Pipeline {
        consumer,
        clickhouse,
        producer,
        published,
        limits: (&config.clickhouse).into(),
        max_message_flows: config.max_message_flows,
        metrics,
    };
    ready.set(true);
    tracing::info!(topic = %k.raw_topic, group = %k.group, %http, "enriching flows");
    let result = pipeline.run(helios_service::shutdown::signal()).await;
    ready.set(false);
    reload_task.abort();
    if let Some(t) = disk_task {
        t.abort();
    }
    result?;
    tracing::info!("stopped; every stored block is committed");
    Ok(())
}
