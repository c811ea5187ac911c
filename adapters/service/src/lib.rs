//! `helios-service`: what every Helios service shares, so each binary only wires its own parts.
//!
//! - [`cli`]: the options every service takes (`--config`, `--set`, `--http`, `--print-config`).
//! - [`config`]: the configuration from defaults, a YAML file, `HELIOS_<SERVICE>__*` variables and
//!   `--set key=value` flags, in that order of precedence; `--print-config` output.
//! - [`http`]: `/metrics`, `/healthz`, `/readyz`, and `POST /webhook` for services that take one.
//! - [`webhook`]: that webhook, with NetBox's HMAC signature checked when a secret is set.
//! - [`logging`]: structured logs, human-readable on a terminal and JSON otherwise (in a pod).
//! - [`shutdown`]: SIGINT / SIGTERM.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod http;
pub mod webhook;

/// Structured logs.
pub mod logging {
    use std::io::IsTerminal;

    /// Installs the global subscriber: `RUST_LOG` filters (default `info`); JSON lines unless stderr
    /// is a terminal or `HELIOS_LOG_FORMAT=text`. Calling it again does nothing.
    pub fn init() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let text = std::io::stderr().is_terminal() || std::env::var("HELIOS_LOG_FORMAT").is_ok_and(|f| f == "text");
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        let _ = if text { builder.try_init() } else { builder.json().flatten_event(true).try_init() };
    }
}

/// Shutdown signals.
pub mod shutdown {
    /// Resolves at the first SIGINT or SIGTERM (Kubernetes stops pods with SIGTERM).
    pub async fn signal() {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            // Without signal handlers (never seen on Linux) the service runs until killed.
            _ => std::future::pending().await,
        }
    }
}
