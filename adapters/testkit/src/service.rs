//! A Helios service binary run by a test: started with arguments, probed over its HTTP endpoints,
//! stopped with SIGTERM (a clean shutdown) or SIGKILL (a crash).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `GET path` on `addr`; the whole response (status line, headers, body), or `None` when nothing
/// answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    http(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
}

/// The body of an HTTP/1.1 `response` as [`http_get`] returns it, its chunked transfer encoding
/// undone (servers chunk bodies they do not size up front, such as Prometheus's larger answers).
pub fn http_body(response: &str) -> String {
    let Some((head, body)) = response.split_once("\r\n\r\n") else { return String::new() };
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return body.to_owned();
    }
    let (mut out, mut rest) = (String::new(), body);
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// `POST /` with `body` on `addr`; the whole response, or `None` when nothing answers.
pub fn http_post(addr: SocketAddr, body: &str) -> Option<String> {
    http_post_to(addr, "/", body)
}

/// `POST path` with `body` on `addr`; the whole response, or `None` when nothing answers.
pub fn http_post_to(addr: SocketAddr, path: &str, body: &str) -> Option<String> {
    http_post_with(addr, path, &[], body)
}

/// `POST path` with extra `headers` and `body` on `addr`; the whole response, or `None`.
pub fn http_post_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Option<String> {
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    http(addr, &(head + body))
}

fn http(addr: SocketAddr, request: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    child: Child,
    http: SocketAddr,
}

impl Service {
    /// Starts `binary` with `args` (its `/metrics` etc. on `http`, which the args must set).
    ///
    /// # Panics
    /// When the binary cannot be started.
    pub fn start(binary: &str, args: &[String], http: SocketAddr) -> Service {
        let child = Command::new(binary)
            .args(args)
            .stderr(if std::env::var_os("HELIOS_TEST_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        Service { child, http }
    }

    /// Waits until `/readyz` answers 200.
    ///
    /// # Panics
    /// When it does not within `within`.
    pub fn wait_ready(&self, within: Duration) {
        self.wait_for(&["/readyz"], within);
    }

    /// Waits until `GET path` answers 200 for every one of `paths` (`/-/ready` for Prometheus, ...).
    ///
    /// # Panics
    /// When they do not within `within`.
    pub fn wait_for(&self, paths: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        for path in paths {
            while !http_get(self.http, path).is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                assert!(Instant::now() < deadline, "{path} not answering 200 within {within:?}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Its HTTP address.
    pub fn http(&self) -> SocketAddr {
        self.http
    }

    /// The `/metrics` page.
    ///
    /// # Panics
    /// When the service does not answer.
    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics").expect("the service answers /metrics")
    }

    /// SIGTERM, then the exit status.
    ///
    /// # Panics
    /// When the service does not stop within 30 s.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "the service did not stop within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: a crash, with nothing flushed or committed.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
