//! The command-line options every service takes, and what they do.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `--config`, `--set`, `--http`, `--print-config`: flatten into a service's clap parser.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// YAML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set one setting, `key.sub=value` (the value is read as YAML: `workers=2`, `listen=[0.0.0.0:2055]`).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, global = true, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Print the effective configuration (YAML) and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
}

impl CommonArgs {
    /// The configuration: defaults, `--config`, `<env_prefix>__*` variables, then `flag_sets` (from
    /// the service's own flags), `--http` and `--set`. `None` when `--print-config` printed it.
    pub fn load<T: Serialize + DeserializeOwned + Default>(
        &self,
        env_prefix: &str,
        mut flag_sets: Vec<String>,
    ) -> Result<Option<T>, crate::config::ConfigError> {
        if let Some(http) = self.http {
            flag_sets.push(format!("http={http}"));
        }
        flag_sets.extend(self.sets.iter().cloned());
        let config: T = crate::config::load(self.config.as_deref(), env_prefix, std::env::vars(), &flag_sets)?;
        if self.print_config {
            print!("{}", crate::config::to_yaml(&config));
            return Ok(None);
        }
        Ok(Some(config))
    }
}

/// The async runtime of a service: two worker threads (the hot paths run on threads of their own).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

/// The subcommands of a service that stores flows in ClickHouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::Subcommand)]
pub enum ServiceCommand {
    /// Run the service (the default).
    #[default]
    Run,
    /// Apply the ClickHouse schema migrations and exit.
    Migrate,
}

/// A service's `main`: installs logging, runs `start`, and turns its error into a logged failure
/// and a non-zero exit code.
pub fn main(name: &str, start: impl FnOnce() -> anyhow::Result<()>) -> std::process::ExitCode {
    crate::logging::init();
    match start() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "{name} failed");
            std::process::ExitCode::FAILURE
        }
    }
}
