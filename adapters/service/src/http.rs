//! The HTTP endpoints of every service: `/metrics` (Prometheus text format), `/healthz` (the
//! process is alive) and `/readyz` (it can do its work: 200 when ready, 503 otherwise); and, for
//! services that take one, `POST /webhook` (see [`crate::webhook`]).
//!
//! The port is reachable by anything on the network, so every connection is bounded ([`Limits`]):
//! its request headers must arrive within a timeout (a half-sent header — slowloris — is cut off), an
//! idle keep-alive connection is closed after the same time, no connection outlives a lifetime, and
//! only so many are served at once (the rest wait in the kernel's backlog, in order). When accepting
//! fails (no file descriptors left), the loop backs off instead of spinning.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::webhook::{MAX_BODY_BYTES, SIGNATURE_HEADER, Webhook};

/// Whether the service is ready; shared between the service and its `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the service ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    /// Whether it is ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How much one client may take of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// Time to send a request's headers, and the longest a keep-alive connection may sit idle.
    pub header_timeout: Duration,
    /// The longest a connection lives.
    pub lifetime: Duration,
}

impl Default for Limits {
    /// 128 connections (a scrape, a probe and a webhook need a handful); 10 s for headers (a kubelet
    /// probe times out sooner, so an attacker's connections free their places first); 5 minutes.
    fn default() -> Limits {
        Limits { connections: 128, header_timeout: Duration::from_secs(10), lifetime: Duration::from_secs(300) }
    }
}

/// Backoff after a failed accept: from 10 ms, doubling to 1 s.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// Binds `addr` and serves the endpoints until the task is dropped (`POST /webhook` goes to
/// `webhook`, when given), within the default [`Limits`]. Returns the bound address (for port 0)
/// once listening.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    ready: Readiness,
    webhook: Option<Webhook>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_within(addr, registry, ready, webhook, Limits::default()).await
}

/// [`serve`] within `limits`.
pub async fn serve_within(
    addr: SocketAddr,
    registry: Arc<Registry>,
    ready: Readiness,
    webhook: Option<Webhook>,
    limits: Limits,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let places = Arc::new(Semaphore::new(limits.connections));
    let task = tokio::spawn(async move {
        let mut backoff = ACCEPT_BACKOFF.0;
        loop {
            let Ok(place) = places.clone().acquire_owned().await else { return };
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = ACCEPT_BACKOFF.0;
                    stream
                }
                Err(e) => {
                    tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "cannot accept a connection");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                    continue;
                }
            };
            let (registry, ready, webhook) = (registry.clone(), ready.clone(), webhook.clone());
            tokio::spawn(async move {
                let _place = place;
                let service = service_fn(move |req: Request<Incoming>| {
                    let (registry, ready, webhook) = (registry.clone(), ready.clone(), webhook.clone());
                    async move {
                        let response = match (webhook, req.method(), req.uri().path()) {
                            (Some(hook), &Method::POST, "/webhook") => call_webhook(&hook, req).await,
                            _ => respond(req.uri().path(), &registry, &ready),
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                // A client that hangs up mid-request, or is cut off, is not worth a log line.
                let _ = tokio::time::timeout(limits.lifetime, connection).await;
            });
        }
    });
    Ok((local, task))
}

async fn call_webhook(hook: &Webhook, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let signature = req.headers().get(SIGNATURE_HEADER).map(|v| v.as_bytes().to_vec());
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await.ok().map(|b| b.to_bytes());
    let outcome = hook.handle(body.as_deref(), signature.as_deref());
    let (label, status) = outcome.label_and_status();
    let message =
        if status == StatusCode::ACCEPTED { "sync requested\n".to_owned() } else { format!("refused: {label}\n") };
    text(status, "text/plain", message)
}

fn respond(path: &str, registry: &Registry, ready: &Readiness) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => {
            let mut text = String::new();
            match prometheus_client::encoding::text::encode(&mut text, registry) {
                Ok(()) => (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", text),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, "text/plain", format!("encoding metrics: {e}\n")),
            }
        }
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" if ready.get() => (StatusCode::OK, "text/plain", "ready\n".to_owned()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "try /metrics, /healthz or /readyz\n".to_owned()),
    };
    text(status, content_type, body)
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Notify;

    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    /// Reads until the server closes the connection; whether it did within `within`.
    async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let until_closed = async {
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    return;
                }
            }
        };
        tokio::time::timeout(within, until_closed).await.is_ok()
    }

    async fn half_sent(addr: SocketAddr) -> tokio::net::TcpStream {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        s
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_headers_idle_connections_and_a_full_house_are_cut_off_in_time() {
        let limits =
            Limits { connections: 4, header_timeout: Duration::from_millis(500), lifetime: Duration::from_secs(60) };
        let registry = Arc::new(Registry::default());
        let (addr, task) =
            serve_within("127.0.0.1:0".parse().expect("addr"), registry, Readiness::default(), None, limits)
                .await
                .expect("bind");
        // Slowloris: a header never finished.
        let mut slow = half_sent(addr).await;
        assert!(closed_within(&mut slow, Duration::from_secs(3)).await, "a half-sent header is cut off");
        // An idle keep-alive connection, after one answered request.
        let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        assert!(closed_within(&mut idle, Duration::from_secs(3)).await, "an idle keep-alive connection is closed");
        // Every place taken by half-sent headers, and more waiting: a probe is still answered once
        // they are cut off.
        let mut hogs = Vec::new();
        for _ in 0..12 {
            hogs.push(half_sent(addr).await);
        }
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(10), get(addr, "/healthz")).await.expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
        task.abort();
    }

    #[tokio::test]
    async fn endpoints_answer() {
        let mut registry = Registry::with_prefix("helios_test");
        let c = Counter::<u64>::default();
        registry.register("things", "Things", c.clone());
        c.inc_by(3);
        let ready = Readiness::default();
        let notify = Arc::new(Notify::new());
        let hook = Webhook::new(notify.clone(), None, &mut registry);
        let (addr, task) = serve("127.0.0.1:0".parse().expect("addr"), Arc::new(registry), ready.clone(), Some(hook))
            .await
            .expect("bind");
        assert!(get(addr, "/metrics").await.contains("helios_test_things_total 3"));
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503"));
        ready.set(true);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .await
            .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        assert!(out.starts_with("HTTP/1.1 202"), "{out}");
        tokio::time::timeout(std::time::Duration::from_secs(5), notify.notified()).await.expect("woken");
        task.abort();
    }
}
