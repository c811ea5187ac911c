//! The CI performance gate: instructions per decoded record (per GeoIP lookup, per enriched flow, per
//! encoded row, per row transposed to `Native`, per row rolled up), counted by
//! valgrind's callgrind (exact and repeatable on a noisy machine, unlike time), compared with the
//! committed baseline.
//!
//! `helios-perf-gate check` fails when any workload needs more than 10% more instructions per record
//! than `perf/baseline.json`; `--update` rewrites the baseline. Each workload is measured as the
//! difference between two runs of different lengths, so process start-up and setup cancel out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use helios_benches::{geo, workloads};
use helios_core::encode::native::NativeEncoder;
use helios_core::encode::rowbinary::write_row;
use helios_core::enrich::enricher::{Enriched, enrich};
use helios_core::enrich::published::Snapshot;
use helios_core::flow::Batch;
use helios_core::rollup::minute::MinuteRollup;

/// The enrichment workload's name: one GeoIP + ASN lookup per "record".
const GEOIP: &str = "geoip";
/// The whole enrichment step (`enricher::enrich`) of the `ipfix` workload's flows, per flow, with the
/// test data's NetBox snapshot and MaxMind databases.
const ENRICH: &str = "enrich";
/// ClickHouse RowBinary rows of those enriched flows, per flow.
const ROWBINARY: &str = "rowbinary";
/// A block of those rows, repeated [`BLOCK_REPEATS`] times, as a `Native` block in `flows_raw`'s key
/// order, per row.
const NATIVE: &str = "native";
/// That block added to a minute rollup holding its groups, per row.
const ROLLUP: &str = "rollup";
/// Copies of the flows in the `Native` and rollup workloads' block: enough rows that the per-block
/// work (column headers, checks) weighs as in a real block.
const BLOCK_REPEATS: usize = 64;

/// Every workload's name and records (or lookups) per iteration.
fn measured() -> Vec<(String, usize)> {
    let mut all: Vec<(String, usize)> = workloads().into_iter().map(|w| (w.name.to_owned(), w.records)).collect();
    all.push((GEOIP.to_owned(), geo::gate_workload().1.len()));
    let flows = enrich_input().0.len();
    all.push((ENRICH.to_owned(), flows));
    all.push((ROWBINARY.to_owned(), flows));
    all.extend([NATIVE, ROLLUP].map(|name| (name.to_owned(), flows * BLOCK_REPEATS)));
    all
}

/// The flows the enrichment and encoding workloads work on, and the snapshot.
fn enrich_input() -> (Batch, Snapshot) {
    let w = workloads().into_iter().find(|w| w.name == "ipfix").expect("the ipfix workload exists");
    let (mut decoder, mut batch) = w.decoder();
    w.decode(&mut decoder, &mut batch);
    (batch, helios_testkit::enrichment_snapshot())
}

/// Runs the enrichment or encoding workload `n` times; `None` for another workload.
fn run_stage(name: &str, n: u64) -> Option<usize> {
    if ![ENRICH, ROWBINARY, NATIVE, ROLLUP].contains(&name) {
        return None;
    }
    let (batch, snapshot) = enrich_input();
    let mut enriched = Vec::new();
    enrich(batch.records(), &snapshot, &mut enriched);
    let mut rows = Vec::with_capacity(64 * 1024);
    let write_rows = |rows: &mut Vec<u8>, enriched: &[Enriched]| {
        rows.clear();
        for (r, e) in batch.records().iter().zip(enriched) {
            write_row(std::hint::black_box(r), batch.lists(r), e, &snapshot, rows);
        }
    };
    write_rows(&mut rows, &enriched);
    let block_rows = rows.repeat(BLOCK_REPEATS);
    let (mut native, mut block, mut rollup) = (NativeEncoder::new(), Vec::new(), MinuteRollup::new());
    native.encode(&block_rows, &mut block).ok()?;
    rollup.add_native(&block).ok()?;
    let mut total = 0;
    for _ in 0..n {
        total += match name {
            ENRICH => {
                enrich(std::hint::black_box(batch.records()), &snapshot, &mut enriched);
                enriched.len()
            }
            ROWBINARY => {
                write_rows(&mut rows, &enriched);
                rows.len()
            }
            NATIVE => {
                block.clear();
                native.encode(std::hint::black_box(&block_rows), &mut block).ok()?;
                block.len()
            }
            _ => rollup.add_native(std::hint::black_box(&block)).ok()?,
        };
    }
    Some(total)
}
use serde::{Deserialize, Serialize};

const SHORT: u64 = 2_000;
const LONG: u64 = 6_000;

#[derive(Serialize, Deserialize)]
struct Baseline {
    /// How the figures were obtained.
    note: String,
    /// Instructions per record, by workload.
    instructions_per_record: BTreeMap<String, f64>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: helios-perf-gate check [--update] [--baseline FILE] [--tolerance FRACTION]\n       helios-perf-gate run WORKLOAD ITERATIONS   (the loop callgrind measures)\n       helios-perf-gate records                   (records per datagram of each workload)\n\nWorkloads: {}",
        measured().into_iter().map(|(name, _)| name).collect::<Vec<_>>().join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("check") => check(&args[1..]),
        Some("records") => {
            for (name, records) in measured() {
                println!("{name} {records}");
            }
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}

fn run(args: &[String]) -> ExitCode {
    let (Some(name), Some(Ok(n))) = (args.first(), args.get(1).map(|s| s.parse::<u64>())) else { return usage() };
    if name == GEOIP {
        let (table, addrs) = geo::gate_workload();
        let mut found = 0u64;
        for _ in 0..n {
            for &a in &addrs {
                found += u64::from(table.lookup(std::hint::black_box(a)).asn != 0);
            }
        }
        println!("{found}");
        return ExitCode::SUCCESS;
    }
    if let Some(total) = run_stage(name, n) {
        println!("{total}");
        return ExitCode::SUCCESS;
    }
    let Some(w) = workloads().into_iter().find(|w| w.name == name) else { return usage() };
    let (mut decoder, mut batch) = w.decoder();
    let mut total = 0;
    for _ in 0..n {
        total += w.decode(&mut decoder, std::hint::black_box(&mut batch));
    }
    println!("{total}");
    ExitCode::SUCCESS
}

fn check(args: &[String]) -> ExitCode {
    let mut update = false;
    let mut baseline_path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../perf/baseline.json"));
    let mut tolerance = 0.10;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--update" => update = true,
            "--baseline" => baseline_path = it.next().map(PathBuf::from).unwrap_or(baseline_path),
            "--tolerance" => tolerance = it.next().and_then(|t| t.parse().ok()).unwrap_or(tolerance),
            _ => return usage(),
        }
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("perf gate: cannot find own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut measured = BTreeMap::new();
    for (name, records) in self::measured() {
        let count = |n| callgrind_instructions(&exe, &name, n);
        match (count(SHORT), count(LONG)) {
            (Ok(a), Ok(b)) => {
                let per_record = (b.saturating_sub(a)) as f64 / ((LONG - SHORT) as f64 * records as f64);
                measured.insert(name, (per_record * 10.0).round() / 10.0);
            }
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("perf gate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if update {
        let b = Baseline {
            note:
                "instructions per record, valgrind --tool=callgrind, release profile; `helios-perf-gate check --update`"
                    .into(),
            instructions_per_record: measured,
        };
        let json = serde_json::to_string_pretty(&b).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(&baseline_path, json) {
            eprintln!("perf gate: writing {}: {e}", baseline_path.display());
            return ExitCode::FAILURE;
        }
        println!("perf gate: baseline {} updated", baseline_path.display());
        return ExitCode::SUCCESS;
    }
    let baseline: Baseline = match std::fs::read(&baseline_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("perf gate: baseline {}: {e} (create it with --update)", baseline_path.display());
            return ExitCode::FAILURE;
        }
    };
    let mut failed = 0;
    println!("{:<12} {:>12} {:>12} {:>8}", "workload", "baseline", "measured", "change");
    for (name, &now) in &measured {
        let Some(&base) = baseline.instructions_per_record.get(name) else {
            println!("{name:<12} {:>12} {now:>12.1}      new", "-");
            continue;
        };
        let change = now / base - 1.0;
        let verdict = if change > tolerance {
            failed += 1;
            "  REGRESSION"
        } else {
            ""
        };
        println!("{name:<12} {base:>12.1} {now:>12.1} {:>+7.1}%{verdict}", change * 100.0);
    }
    if failed > 0 {
        eprintln!(
            "perf gate: {failed} workload(s) regressed by more than {:.0}% instructions per record",
            tolerance * 100.0
        );
        return ExitCode::FAILURE;
    }
    println!("perf gate: passed (tolerance {:.0}%)", tolerance * 100.0);
    ExitCode::SUCCESS
}

/// Total instructions (Ir) callgrind counts for `exe run <workload> <n>`.
fn callgrind_instructions(exe: &Path, workload: &str, n: u64) -> Result<u64, String> {
    let out_file = std::env::temp_dir().join(format!("helios-callgrind-{}-{workload}-{n}.out", std::process::id()));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .args(["run", workload, &n.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run valgrind ({e}); install it: apt-get install valgrind"))?;
    if !status.success() {
        return Err(format!("valgrind {workload} {n}: {status}"));
    }
    let text = std::fs::read_to_string(&out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let _ = std::fs::remove_file(&out_file);
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no instruction total in callgrind output for {workload}"))
}
