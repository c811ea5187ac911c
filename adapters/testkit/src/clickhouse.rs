//! ClickHouse for tests: `scripts/chdb_server.py` on a loopback port, over a database directory the
//! test owns. It can be stopped and started again on the same port and data, to test outages.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{TempDir, repo_root};

/// The Python with chdb installed: `$HELIOS_CHDB_PYTHON`, else the virtualenv `scripts/install-deps.sh`
/// makes (`$HELIOS_CACHE`, default `~/.cache/helios`, `/venv/bin/python`).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HELIOS_CHDB_PYTHON") {
        return PathBuf::from(p);
    }
    crate::cache_dir().join("venv/bin/python")
}

/// A running ClickHouse (chdb) with an HTTP interface on 127.0.0.1.
#[derive(Debug)]
pub struct ClickHouse {
    child: Option<Child>,
    port: u16,
    data: TempDir,
}

impl ClickHouse {
    /// Starts ClickHouse over a new, empty database directory on a free port.
    ///
    /// # Panics
    /// When chdb is not installed (the message says how to install it) or the server does not start.
    pub fn start() -> ClickHouse {
        let data = TempDir::new("clickhouse");
        let (child, port) = spawn(data.path(), 0, None);
        ClickHouse { child: Some(child), port, data }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `sql`, returning its `TabSeparated` result trimmed; empty when ClickHouse is down or
    /// refuses it.
    pub fn query(&self, sql: &str) -> String {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        match crate::http_post(addr, sql).as_deref().and_then(|r| r.split_once("\r\n\r\n")) {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.trim().to_owned(),
            _ => String::new(),
        }
    }

    /// Stops the server (an outage); the data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data.
    ///
    /// # Panics
    /// When the server does not start.
    pub fn restart(&mut self) {
        self.stop();
        let (child, _) = spawn(self.data.path(), self.port, None);
        self.child = Some(child);
    }

    /// Starts the server again on the same port and data, with a disk that has no space left:
    /// ClickHouse keeps more free space in reserve than the disk has (`keep_free_space_bytes`), so
    /// every insert fails with NOT_ENOUGH_SPACE, as on a full disk. [`ClickHouse::restart`] frees it.
    ///
    /// # Panics
    /// When the server does not start.
    pub fn restart_with_full_disk(&mut self) {
        self.stop();
        let config = self.data.path().with_extension("full-disk.xml");
        std::fs::write(
            &config,
            "<clickhouse><storage_configuration><disks><default>\
             <keep_free_space_bytes>1000000000000000000</keep_free_space_bytes>\
             </default></disks></storage_configuration></clickhouse>",
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        let (child, _) = spawn(self.data.path(), self.port, Some(&config));
        self.child = Some(child);
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(data: &Path, port: u16, config: Option<&Path>) -> (Child, u16) {
    let python = python();
    assert!(
        python.exists(),
        "ClickHouse for tests needs chdb in {}: run scripts/install-deps.sh (or set HELIOS_CHDB_PYTHON \
         to a Python with `pip install chdb-core==26.9.0`)",
        python.display()
    );
    let script = repo_root().join("scripts/chdb_server.py");
    let mut command = Command::new(&python);
    command.arg(&script).arg("--path").arg(data).arg("--port").arg(port.to_string());
    if let Some(config) = config {
        command.arg("--config-file").arg(config);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {} {}: {e}", python.display(), script.display()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    // A restart can race the old process releasing the port: the script retries binding itself.
    BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("reading chdb_server.py output: {e}"));
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("chdb_server.py did not start (it printed {line:?})"));
    (child, port)
}
