//! The HTTP endpoints of every service: `/metrics` (Prometheus text format), `/healthz` (the
//! process is alive) and `/readyz` (it can do its work: 200 when ready, 503 otherwise); and, for
//! services that take one, `POST /webhook` (see [`crate::webhook`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

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

/// Binds `addr` and serves the endpoints until the task is dropped (`POST /webhook` goes to
/// `webhook`, when given). Returns the bound address (for port 0) once listening.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    ready: Readiness,
    webhook: Option<Webhook>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (registry, ready, webhook) = (registry.clone(), ready.clone(), webhook.clone());
            tokio::spawn(async move {
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
                // A client that hangs up mid-request is not worth a log line.
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
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
