//! Planted secrets, for tests that look for them in everything a binary prints: its effective
//! configuration (`--print-config`), a refused configuration's error, and its logs while it fails to
//! reach servers whose URLs carry the secrets.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Values no output may contain: a ClickHouse password in a URL, a Kafka `sasl.password`, a NetBox
/// password in a URL.
pub const PLANTED: [&str; 3] = ["chpass-planted-1", "kafkapass-planted-2", "nbpass-planted-3"];

/// A ClickHouse URL carrying [`PLANTED`]'s password, at a port where nothing answers.
pub fn clickhouse_url() -> String {
    format!("http://default:{}@127.0.0.1:9/", PLANTED[0])
}

/// A configuration file (in `dir`) giving Kafka [`PLANTED`]'s SASL password, as a user writes it (a
/// property's dots are not `--set` levels).
pub fn kafka_password_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("kafka-secret.yaml");
    let yaml = format!("kafka:\n  properties:\n    sasl.password: {}\n", PLANTED[1]);
    std::fs::write(&path, yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// A NetBox URL carrying [`PLANTED`]'s password, at a port where nothing answers.
pub fn netbox_url() -> String {
    format!("http://admin:{}@127.0.0.1:9/", PLANTED[2])
}

/// Runs `binary` with `args`, ending it after `within` if it is still running; its stdout and stderr.
///
/// # Panics
/// When the binary cannot be started.
pub fn outputs(binary: &str, args: &[String], within: Duration) -> String {
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut text = String::new();
    let pipes = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    ];
    for mut pipe in pipes.into_iter().flatten() {
        let _ = pipe.read_to_string(&mut text);
    }
    text
}

/// Asserts that no [`PLANTED`] value appears in what `binary` prints with each of `runs` (argument
/// lists), each given `within` to run; returns the outputs, for the caller's own checks.
///
/// # Panics
/// When a secret shows.
pub fn assert_hidden(binary: &str, runs: &[Vec<String>], within: Duration) -> Vec<String> {
    runs.iter()
        .map(|args| {
            let text = outputs(binary, args, within);
            for secret in PLANTED {
                assert!(!text.contains(secret), "{binary} {args:?} shows a secret:\n{text}");
            }
            text
        })
        .collect()
}

/// The common check of a Kafka and ClickHouse service: `base` (its flags, carrying the planted
/// ClickHouse URL and Kafka password) then `--print-config`, then `--set refused` (a setting the
/// service refuses), then `base` alone, then each of `more`; no output shows a secret, the printed
/// configuration shows their redacted forms and the refusal names its setting. Returns the outputs
/// after the refusal.
///
/// # Panics
/// When a secret shows or an expected redaction is missing.
pub fn assert_service_hides_secrets(binary: &str, base: &[String], refused: &str, more: &[Vec<String>]) -> Vec<String> {
    let with = |extra: &[&str]| base.iter().cloned().chain(extra.iter().map(|s| s.to_string())).collect::<Vec<_>>();
    let mut runs = vec![with(&["--print-config"]), with(&["--set", refused]), base.to_vec()];
    runs.extend(more.iter().cloned());
    let mut outputs = assert_hidden(binary, &runs, Duration::from_secs(4));
    let printed = &outputs[0];
    assert!(
        printed.contains("default:***@127.0.0.1:9") && printed.contains("sasl.password: <redacted>"),
        "{binary} --print-config: {printed}"
    );
    let setting = refused.split_once('=').map_or(refused, |(k, _)| k);
    assert!(outputs[1].contains(setting), "the refusal names {setting}: {}", outputs[1]);
    outputs.split_off(2)
}
