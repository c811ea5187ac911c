//! tansu 0.6.0 (Apache-2.0), an independent Kafka-compatible broker written in Rust, with in-memory
//! storage: a second, real implementation of the Kafka protocol beside librdkafka's MockCluster.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cache_dir;

/// A running tansu broker on 127.0.0.1.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    port: u16,
}

/// The binary `scripts/install-deps.sh` installs: `$HELIOS_TANSU`, else `<cache>/bin/tansu`.
fn binary() -> PathBuf {
    std::env::var_os("HELIOS_TANSU").map(PathBuf::from).unwrap_or_else(|| cache_dir().join("bin/tansu"))
}

impl Tansu {
    /// Starts a broker on a free port and waits until it accepts connections.
    ///
    /// # Panics
    /// When tansu is not installed (the message says how) or does not start within 10 s.
    pub fn start() -> Tansu {
        let bin = binary();
        assert!(
            bin.exists(),
            "tansu not found at {}: run scripts/install-deps.sh (or set HELIOS_TANSU)",
            bin.display()
        );
        let port = crate::free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child, port }
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
