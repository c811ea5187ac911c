//! One receive worker: its own socket, decoder (template cache) and block; datagrams in, encoded
//! ClickHouse rows out to the queue. Runs on a plain thread: nothing here awaits.

use std::net::{IpAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use helios_clickhouse::BlockBuilder;
use helios_core::decode::{DecodeStats, Decoder, Protocol};
use helios_core::encode::protobuf::encode_delimited;
use helios_core::encode::rowbinary::{write_header, write_row};
use helios_core::enrich::enricher::{Enriched, enrich};
use helios_core::enrich::published::Published;
use helios_core::error::Reason;
use helios_core::flow::Batch;
use helios_kafka::FlowProducer;
use helios_udp::BatchReceiver;
use prometheus_client::metrics::counter::Counter;
use rustc_hash::FxHashMap;

use crate::metrics::{ExporterLabels, ExporterSeries, Metrics, MissLabels, ReasonLabels};
use crate::sink::Queue;

/// Records per datagram, at most (a 64 KiB datagram of the smallest records stays below it).
const BATCH: usize = 8192;

/// What a worker is made of.
pub struct Worker {
    /// Its socket.
    pub socket: UdpSocket,
    /// Its decoder.
    pub decoder: Decoder,
    /// Rows waiting to be queued for ClickHouse, and where blocks go (when ClickHouse is an output).
    pub clickhouse: Option<(BlockBuilder, Queue)>,
    /// The Kafka outputs.
    pub kafka: Option<KafkaOutputs>,
    /// The enrichment data in force.
    pub published: Arc<Published>,
    /// Shared metrics.
    pub metrics: Metrics,
    /// Per-exporter series at most (beyond: `other`).
    /// Which exporters have series of their own, process-wide.
    pub exporter_series: Arc<ExporterSeries>,
    /// The `other` series of each protocol, once made.
    pub other_series: FxHashMap<Protocol, Series>,
    /// Prefix of this worker's block tokens (unique per process and worker).
    pub token_prefix: String,
    /// Where this worker saves its templates.
    pub template_file: Option<PathBuf>,
}

/// How often the decode metrics (errors by reason, templates held) are brought up to date, whatever
/// the outputs and whether or not rows flow.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// How often templates are saved while running.
const SAVE_TEMPLATES_EVERY: Duration = Duration::from_secs(300);

/// Where flows go on Kafka.
pub struct KafkaOutputs {
    /// The producer all workers share.
    pub producer: Arc<FlowProducer>,
    /// goflow2-compatible raw flows, one per message, on this topic.
    pub raw_topic: Option<String>,
    /// Enriched flows, one message per datagram, on this topic.
    pub enriched_topic: Option<String>,
}

/// The counters of one (exporter, protocol), cached so a datagram costs no label allocation.
type Series = (Counter, Counter);

impl Worker {
    /// Receives until `stop` is set, then queues what it holds.
    pub fn run(mut self, stop: &AtomicBool) {
        let mut rx = match self.socket.try_clone() {
            Ok(socket) => BatchReceiver::new(socket),
            Err(e) => {
                tracing::error!(error = %e, "cannot use the UDP socket; this worker stops");
                return;
            }
        };
        let mut batch = Batch::with_capacity(BATCH);
        let mut enriched: Vec<Enriched> = Vec::with_capacity(BATCH);
        let mut series: FxHashMap<(IpAddr, Protocol), Series> = FxHashMap::default();
        let mut scratch = Scratch::default();
        let mut progress = Progress::default();
        let mut saved_at = Instant::now();
        let mut counted_at = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let received = rx.recv(|payload, from| {
                let exporter = from.ip().to_canonical();
                self.datagram(payload, exporter, &mut batch, &mut enriched, &mut series, &mut scratch);
            });
            if let Err(e) = received {
                tracing::warn!(error = %e, "UDP receive failed");
                self.metrics.receive_errors.inc();
            }
            if self.clickhouse.as_ref().is_some_and(|(b, _)| b.is_due(Instant::now())) {
                self.flush(&mut progress);
            }
            if counted_at.elapsed() >= METRICS_EVERY {
                self.count_decoding(&mut progress);
                counted_at = Instant::now();
            }
            if saved_at.elapsed() >= SAVE_TEMPLATES_EVERY {
                self.save_templates();
                saved_at = Instant::now();
            }
        }
        self.flush(&mut progress);
        self.save_templates();
    }

    /// Writes the template cache to this worker's file (atomically: a crash never leaves half a file).
    fn save_templates(&self) {
        let Some(path) = &self.template_file else { return };
        let tmp = path.with_extension("tmp");
        let result = std::fs::write(&tmp, self.decoder.templates().export()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "saving templates failed");
        }
    }

    fn datagram(
        &mut self,
        data: &[u8],
        exporter: IpAddr,
        batch: &mut Batch,
        enriched: &mut Vec<Enriched>,
        series: &mut FxHashMap<(IpAddr, Protocol), Series>,
        scratch: &mut Scratch,
    ) {
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        batch.clear();
        // Errors are counted by the decoder (synced into metrics at each flush); records decoded
        // before a problem are kept.
        let _ = self.decoder.decode(exporter, now_ns, data, batch);
        if let Some(protocol) = Protocol::detect(data) {
            let (datagrams, flows) = self.series(series, exporter, protocol);
            datagrams.inc();
            flows.inc_by(batch.len() as u64);
        }
        if batch.is_empty() {
            return;
        }
        let snapshot = self.published.current();
        enrich(batch.records(), &snapshot, enriched);
        self.count_misses(enriched, &snapshot);
        let key = exporter_key(exporter);
        if let Some(k) = &self.kafka
            && let Some(topic) = &k.raw_topic
        {
            for rec in batch.records() {
                scratch.message.clear();
                encode_delimited(rec, batch.lists(rec), &mut scratch.message);
                if k.producer.send(topic, key.as_bytes(), &scratch.message).is_err() {
                    self.metrics.drop_flows("kafka_ring_full", 1);
                }
            }
        }
        let enriched_topic = self.kafka.as_ref().and_then(|k| k.enriched_topic.as_ref().map(|t| (&k.producer, t)));
        if self.clickhouse.is_none() && enriched_topic.is_none() {
            return;
        }
        // Rows go straight into the ClickHouse block; the Kafka message copies this datagram's part.
        scratch.rows.clear();
        let rows = match &mut self.clickhouse {
            Some((block, _)) => block.buffer(),
            None => &mut scratch.rows,
        };
        let start = rows.len();
        for (rec, e) in batch.records().iter().zip(enriched.iter()) {
            write_row(rec, batch.lists(rec), e, &snapshot, rows);
        }
        if let Some((producer, topic)) = enriched_topic {
            scratch.message.clear();
            write_header(&mut scratch.message);
            scratch.message.extend_from_slice(&rows[start..]);
            if producer.send(topic, key.as_bytes(), &scratch.message).is_err() {
                self.metrics.drop_flows("kafka_ring_full", batch.len() as u64);
            }
        }
        if let Some((block, _)) = &mut self.clickhouse {
            block.add_rows(batch.len(), Instant::now());
        }
    }

    fn series(
        &mut self,
        series: &mut FxHashMap<(IpAddr, Protocol), Series>,
        exporter: IpAddr,
        protocol: Protocol,
    ) -> Series {
        if let Some(s) = series.get(&(exporter, protocol)) {
            return s.clone();
        }
        let metrics = &self.metrics;
        let make = |name: String| {
            let labels = ExporterLabels { exporter: name, protocol: protocol.as_str() };
            (metrics.datagrams.get_or_create(&labels).clone(), metrics.flows.get_or_create(&labels).clone())
        };
        if self.exporter_series.admit(exporter, protocol.as_str()) {
            // Bounded: only admitted pairs are kept, at most the process-wide maximum.
            let s = make(exporter.to_string());
            series.insert((exporter, protocol), s.clone());
            return s;
        }
        self.other_series.entry(protocol).or_insert_with(|| make("other".to_owned())).clone()
    }

    fn count_misses(&self, enriched: &[Enriched], snapshot: &helios_core::enrich::published::Snapshot) {
        let count = |lookup: &'static str, n: usize| {
            if n > 0 {
                self.metrics.enrichment_misses.get_or_create(&MissLabels { lookup }).inc_by(n as u64);
            }
        };
        if snapshot.netbox.is_some() {
            count("exporter", enriched.iter().filter(|e| e.exporter.is_none()).count());
        }
        if snapshot.geo.is_some() {
            count("geoip", enriched.iter().filter(|e| e.src_geo.is_none() || e.dst_geo.is_none()).count());
        }
    }

    /// Queues the block (if any) and brings the decode metrics up to date.
    fn flush(&mut self, p: &mut Progress) {
        if let Some((builder, queue)) = &mut self.clickhouse {
            let token = format!("{}-{}", self.token_prefix, p.blocks);
            if let Some(block) = builder.take(token) {
                p.blocks += 1;
                queue.push(block);
            }
        }
        self.count_decoding(p);
    }

    /// Adds the decode errors and template changes since the last call to the metrics.
    fn count_decoding(&self, p: &mut Progress) {
        let now = self.decoder.stats();
        for r in Reason::ALL {
            let delta = now.errors(r) - p.stats.errors(r);
            if delta > 0 {
                self.metrics.decode_errors.get_or_create(&ReasonLabels { reason: r.as_str() }).inc_by(delta);
            }
        }
        p.stats = now.clone();
        let cache = self.decoder.templates();
        let (templates, bytes) = (cache.len() as i64, cache.bytes() as i64);
        self.metrics.templates.inc_by(templates - p.templates);
        self.metrics.template_bytes.inc_by(bytes - p.template_bytes);
        self.metrics.template_evictions.inc_by(cache.evicted() - p.evicted);
        (p.templates, p.template_bytes, p.evicted) = (templates, bytes, cache.evicted());
    }
}

/// Buffers reused from datagram to datagram.
#[derive(Default)]
struct Scratch {
    /// One Kafka message.
    message: Vec<u8>,
    /// A datagram's rows when ClickHouse is not an output.
    rows: Vec<u8>,
}

/// The Kafka key of an exporter's messages: its address bytes (4 or 16, network order), so all its
/// flows share a partition and stay in order.
fn exporter_key(exporter: IpAddr) -> ExporterKey {
    match exporter {
        IpAddr::V4(v4) => {
            let mut k = [0u8; 16];
            k[..4].copy_from_slice(&v4.octets());
            ExporterKey(k, 4)
        }
        IpAddr::V6(v6) => ExporterKey(v6.octets(), 16),
    }
}

/// An exporter's address bytes.
struct ExporterKey([u8; 16], usize);

impl ExporterKey {
    fn as_bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

/// What a worker has reported so far.
#[derive(Default)]
struct Progress {
    /// Blocks queued (numbers the tokens).
    blocks: u64,
    /// Decoder counters already in the metrics.
    stats: DecodeStats,
    /// Templates already in the gauge.
    templates: i64,
    template_bytes: i64,
    evicted: u64,
}
