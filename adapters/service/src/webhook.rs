//! `POST /webhook`: a NetBox webhook asking a service for an immediate sync.
//!
//! The body is not used: a call only triggers work the service would do anyway, and repeated calls
//! coalesce into one wake-up. When the service holds a secret, a call counts only if it carries
//! NetBox's signature, `X-Hook-Signature: hex(HMAC-SHA512(secret, body))`; anything else is refused
//! with 403 and counted, so that nobody who can reach the port can make the service hammer NetBox.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use hyper::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use sha2::Sha512;
use tokio::sync::Notify;

/// Largest webhook body read (NetBox's change payloads are a few KiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The header NetBox signs its webhooks with.
pub const SIGNATURE_HEADER: &str = "x-hook-signature";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// How a webhook call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A sync was requested.
    Accepted,
    /// The signature was missing or wrong.
    BadSignature,
    /// The body was over [`MAX_BODY_BYTES`] or could not be read.
    BadBody,
}

impl Outcome {
    /// The metric label and the HTTP status of the answer.
    pub fn label_and_status(self) -> (&'static str, StatusCode) {
        match self {
            Outcome::Accepted => ("accepted", StatusCode::ACCEPTED),
            Outcome::BadSignature => ("bad_signature", StatusCode::FORBIDDEN),
            Outcome::BadBody => ("bad_body", StatusCode::PAYLOAD_TOO_LARGE),
        }
    }
}

/// The webhook of a service: whom to wake, the shared secret if any, and the calls counted by
/// outcome (`<prefix>_webhook_requests_total{result}`).
#[derive(Clone)]
pub struct Webhook {
    notify: Arc<Notify>,
    secret: Option<Arc<[u8]>>,
    requests: Family<ResultLabel, Counter>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.debug_struct("Webhook").field("signed", &self.secret.is_some()).finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook that wakes `notify`; with a `secret`, only signed calls count. Registers its
    /// counter in `registry`.
    pub fn new(notify: Arc<Notify>, secret: Option<Vec<u8>>, registry: &mut Registry) -> Webhook {
        let requests = Family::<ResultLabel, Counter>::default();
        registry.register(
            "webhook_requests",
            "Webhook calls, by result (accepted, bad_signature, bad_body)",
            requests.clone(),
        );
        Webhook { notify, secret: secret.map(Arc::from), requests }
    }

    /// Handles one call whose body is `body` (`None` when it could not be read within
    /// [`MAX_BODY_BYTES`]) and whose signature header is `signature`.
    pub fn handle(&self, body: Option<&[u8]>, signature: Option<&[u8]>) -> Outcome {
        let outcome = match (body, &self.secret) {
            (None, _) => Outcome::BadBody,
            (Some(_), None) => Outcome::Accepted,
            (Some(body), Some(secret)) if signature.is_some_and(|s| signed(secret, body, s)) => Outcome::Accepted,
            (Some(_), Some(_)) => Outcome::BadSignature,
        };
        if outcome == Outcome::Accepted {
            self.notify.notify_one();
        }
        self.requests.get_or_create(&ResultLabel { result: outcome.label_and_status().0 }).inc();
        outcome
    }
}

/// Reads a webhook secret from `path` (a mounted Secret), surrounding whitespace removed; an empty
/// secret is refused. The error names the file, never its content.
pub fn read_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    let secret = std::fs::read(path).with_context(|| format!("reading webhook secret file {}", path.display()))?;
    let secret = secret.trim_ascii();
    anyhow::ensure!(!secret.is_empty(), "webhook secret file {} is empty", path.display());
    Ok(secret.to_vec())
}

/// Whether `signature` (hex, either case) is HMAC-SHA512 of `body` under `secret`; compared in
/// constant time.
fn signed(secret: &[u8], body: &[u8], signature: &[u8]) -> bool {
    let Some(expected) = decode_hex(signature.trim_ascii()) else { return false };
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(s: &[u8]) -> Option<Vec<u8>> {
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn only_calls_signed_with_the_secret_count() {
        let mut registry = Registry::with_prefix("t");
        let hook = Webhook::new(Arc::new(Notify::new()), Some(b"s3cret".to_vec()), &mut registry);
        let body = br#"{"event":"updated","model":"device"}"#;
        let mut mac = Hmac::<Sha512>::new_from_slice(b"s3cret").expect("any key length");
        mac.update(body);
        let good = hex(&mac.finalize().into_bytes());
        assert_eq!(hook.handle(Some(body), Some(good.as_bytes())), Outcome::Accepted);
        assert_eq!(hook.handle(Some(body), Some(good.to_uppercase().as_bytes())), Outcome::Accepted);
        assert_eq!(hook.handle(Some(b"{}"), Some(good.as_bytes())), Outcome::BadSignature);
        assert_eq!(hook.handle(Some(body), None), Outcome::BadSignature);
        assert_eq!(hook.handle(Some(body), Some(b"zz")), Outcome::BadSignature);
        assert_eq!(hook.handle(Some(body), Some(&good.as_bytes()[1..])), Outcome::BadSignature);
        assert_eq!(hook.handle(None, Some(good.as_bytes())), Outcome::BadBody);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(text.contains(r#"t_webhook_requests_total{result="accepted"} 2"#), "{text}");
        assert!(text.contains(r#"t_webhook_requests_total{result="bad_signature"} 4"#), "{text}");
        assert!(!format!("{hook:?}").contains("s3cret"));
    }

    #[test]
    fn secrets_are_read_trimmed_and_never_empty() {
        let path = std::env::temp_dir().join(format!("helios-webhook-secret-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").expect("write");
        assert_eq!(read_secret(&path).expect("read"), b"s3cret");
        std::fs::write(&path, " \n").expect("write");
        let err = read_secret(&path).expect_err("empty").to_string();
        assert!(err.contains("is empty") && err.contains(&path.display().to_string()), "{err}");
        std::fs::remove_file(&path).expect("remove");
        assert!(read_secret(&path).is_err());
    }

    #[test]
    fn without_a_secret_any_readable_call_counts() {
        let hook = Webhook::new(Arc::new(Notify::new()), None, &mut Registry::default());
        assert_eq!(hook.handle(Some(b""), None), Outcome::Accepted);
        assert_eq!(hook.handle(None, None), Outcome::BadBody);
    }
}
