//! `helios decode`: flow captures to JSON lines, for debugging an exporter.

use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use helios_core::decode::{Decoder, DecoderConfig, Protocol};
use helios_core::encode::json::{self, Enrichment};
use helios_core::enrich::geoip::GeoTable;
use helios_core::enrich::inventory::{Inventory, NetboxSnapshot};
use helios_core::error::Reason;
use helios_core::flow::Batch;

/// Decode NetFlow v5/v9, IPFIX and sFlow v5 from captures and print one JSON object per flow.
///
/// Reads pcap/pcapng files (every UDP datagram is a flow export; the exporter is its IP source
/// address; template state carries over from file to file in the order given) or, with --raw, files
/// that each hold one UDP payload. Output keys are goflow2's field names. A malformed datagram is
/// reported on stderr with its reason and decoding goes on; the exit code is non-zero only when an
/// input cannot be read.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  helios decode capture.pcap\n  helios decode --raw --exporter 192.0.2.1 tpl.dat data.dat\n  helios decode --save-templates t.json a.pcap && helios decode --load-templates t.json b.pcap"
)]
pub struct Args {
    /// Capture files, decoded in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Each file is one raw UDP payload (no pcap framing).
    #[arg(long)]
    raw: bool,
    /// Exporter address of --raw payloads.
    #[arg(long, default_value = "127.0.0.1", env = "HELIOS_EXPORTER")]
    exporter: IpAddr,
    /// Load a template cache saved by --save-templates before decoding.
    #[arg(long, value_name = "FILE")]
    load_templates: Option<PathBuf>,
    /// Save the template cache after decoding (JSON), to decode later captures without waiting for
    /// template refreshes.
    #[arg(long, value_name = "FILE")]
    save_templates: Option<PathBuf>,
    /// MaxMind City database (GeoIP2 / GeoLite2 City, .mmdb): adds src_country, src_city, dst_country,
    /// dst_city.
    #[arg(long, value_name = "FILE.mmdb", env = "HELIOS_GEOIP_CITY")]
    geoip_city: Option<PathBuf>,
    /// MaxMind ASN database (GeoLite2 ASN, .mmdb): adds src_as_name, dst_as_name, and fills src_as /
    /// dst_as when the exporter sent none.
    #[arg(long, value_name = "FILE.mmdb", env = "HELIOS_GEOIP_ASN")]
    geoip_asn: Option<PathBuf>,
    /// NetBox snapshot (JSON, the `Inventory` format of helios-core): adds the exporter's labels
    /// (exporter_device, exporter_site, ...), its interfaces' names, descriptions and speeds, and the
    /// tenant and role of the source and destination prefixes.
    #[arg(long, value_name = "FILE.json", env = "HELIOS_NETBOX_SNAPSHOT", conflicts_with = "netbox_url")]
    netbox_snapshot: Option<PathBuf>,
    /// Read the inventory from NetBox itself (3.7 or 4.x) instead of a snapshot file.
    #[arg(long, value_name = "URL", env = "HELIOS_NETBOX_URL", requires = "netbox_token_file")]
    netbox_url: Option<String>,
    /// File holding the NetBox API token (never printed).
    #[arg(long, value_name = "FILE", env = "HELIOS_NETBOX_TOKEN_FILE")]
    netbox_token_file: Option<PathBuf>,
    /// Write the inventory read (from NetBox or a snapshot) as a snapshot file, for --netbox-snapshot.
    #[arg(long, value_name = "FILE.json")]
    dump_netbox_snapshot: Option<PathBuf>,
    /// Leave out fields Helios does not map (they are printed under "extra" as hex by default).
    #[arg(long)]
    no_extra: bool,
    /// Print a summary of datagrams, flows and errors per reason on stderr at the end.
    #[arg(long)]
    summary: bool,
}

/// Records per batch; a datagram never holds more than this many.
const BATCH: usize = 8192;

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut decoder = Decoder::new(DecoderConfig { keep_extra_fields: !args.no_extra, ..DecoderConfig::default() });
    if let Some(path) = &args.load_templates {
        let saved = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        decoder.templates_mut().import(&saved, now_s()).with_context(|| format!("loading {}", path.display()))?;
    }
    let geo = geo_table(args)?;
    let netbox = match inventory(args)? {
        Some(inventory) => {
            if let Some(p) = &args.dump_netbox_snapshot {
                std::fs::write(p, inventory.to_json()).with_context(|| format!("writing {}", p.display()))?;
            }
            Some(NetboxSnapshot::build(inventory)?)
        }
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = Output {
        geo,
        netbox,
        decoder,
        batch: Batch::with_capacity(BATCH),
        line: Vec::with_capacity(4096),
        sink: BufWriter::new(stdout.lock()),
    };
    let mut unreadable = 0;
    for path in &args.files {
        if let Err(e) = out.file(path, args) {
            eprintln!("helios decode: {e:#}");
            unreadable += 1;
        }
    }
    out.sink.flush().context("writing to stdout")?;
    if let Some(path) = &args.save_templates {
        std::fs::write(path, out.decoder.templates().export())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.summary {
        summary(&out.decoder);
    }
    Ok(if unreadable == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

struct Output<W: Write> {
    decoder: Decoder,
    batch: Batch,
    line: Vec<u8>,
    geo: Option<GeoTable>,
    netbox: Option<NetboxSnapshot>,
    sink: W,
}

impl<W: Write> Output<W> {
    fn file(&mut self, path: &Path, args: &Args) -> anyhow::Result<()> {
        if args.raw {
            let payload = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            return self.datagram(path, 1, args.exporter, now_ns(), &payload);
        }
        let mut index = 0u64;
        let mut failed = Ok(());
        helios_pcap::for_each_udp(path, |d| {
            index += 1;
            if failed.is_ok() {
                failed = self.datagram(path, index, d.src, d.ts_ns, d.payload);
            }
        })?;
        failed
    }

    fn datagram(
        &mut self,
        path: &Path,
        index: u64,
        exporter: IpAddr,
        ts_ns: u64,
        payload: &[u8],
    ) -> anyhow::Result<()> {
        self.batch.clear();
        if let Err(e) = self.decoder.decode(exporter, ts_ns, payload, &mut self.batch) {
            eprintln!("{}: datagram {index}: {e}", path.display());
        }
        for rec in self.batch.records() {
            self.line.clear();
            let enrich = Enrichment { geo: self.geo.as_ref(), netbox: self.netbox.as_ref() };
            json::write_record(rec, self.batch.lists(rec), self.batch.extra_fields(rec), enrich, &mut self.line);
            self.sink.write_all(&self.line).context("writing to stdout")?;
        }
        Ok(())
    }
}

/// The inventory of --netbox-snapshot or --netbox-url.
fn inventory(args: &Args) -> anyhow::Result<Option<Inventory>> {
    if let Some(p) = &args.netbox_snapshot {
        return Ok(Some(helios_enrichment::load_inventory(p)?));
    }
    let (Some(url), Some(token_file)) = (&args.netbox_url, &args.netbox_token_file) else { return Ok(None) };
    let config = helios_netbox::Config::new(url, helios_netbox::Token::from_file(token_file)?)?;
    let client = helios_netbox::Client::new(config)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    Ok(Some(runtime.block_on(client.inventory())?))
}

/// The GeoIP table of --geoip-city / --geoip-asn, compiled once (the files are read, not kept).
fn geo_table(args: &Args) -> anyhow::Result<Option<GeoTable>> {
    let Some(table) = helios_enrichment::load_geo(args.geoip_city.as_deref(), args.geoip_asn.as_deref())? else {
        return Ok(None);
    };
    if args.summary {
        let s = table.stats();
        eprintln!(
            "geoip: {} city networks, {} ASN networks, {} ranges, {} KiB",
            s.city_networks,
            s.asn_networks,
            s.ranges,
            s.bytes / 1024
        );
    }
    Ok(Some(table))
}

fn summary(decoder: &Decoder) {
    let s = decoder.stats();
    for p in Protocol::ALL {
        if s.datagrams(p) > 0 {
            eprintln!("{}: {} datagrams, {} flows", p.as_str(), s.datagrams(p), s.flows(p));
        }
    }
    for r in Reason::ALL {
        if s.errors(r) > 0 {
            eprintln!("errors {}: {}", r.as_str(), s.errors(r));
        }
    }
    eprintln!(
        "templates: {} held, {} learnt, {} withdrawn; option records: {}; sFlow counter samples: {}",
        decoder.templates().len(),
        s.templates_learned,
        s.templates_withdrawn,
        s.option_records,
        s.counter_samples
    );
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn now_s() -> u64 {
    now_ns() / 1_000_000_000
}
