//! `helios-netbox`: reads the network inventory from NetBox's REST API (3.7 and 4.x) into a
//! helios-core [`Inventory`]: devices (with site region, manufacturer, role, platform, tenant, custom
//! fields), interfaces (with ifIndex from a custom field), every address assigned to a device's
//! interfaces, and IPAM prefixes.
//!
//! Owns what talking to NetBox needs: token auth (never logged), pagination (`limit`/`offset`, then
//! the `next` links, which must stay on the configured origin so the token cannot leak elsewhere),
//! per-request timeouts, retries with exponential backoff for transient failures only (timeouts,
//! connection errors, 429, 5xx), TLS (rustls). JSON is parsed with simd-json.
#![forbid(unsafe_code)]

mod api;
mod convert;
mod token;

use std::time::Duration;

use helios_core::enrich::inventory::Inventory;
use serde::de::DeserializeOwned;
use url::Url;

pub use convert::CustomFieldNames;
pub use token::Token;

/// Errors reading NetBox. URLs in messages never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token could not be read or is malformed.
    #[error("NetBox token: {detail}")]
    Token {
        /// What was wrong.
        detail: String,
    },
    /// The configured URL is unusable.
    #[error("NetBox URL {url}: {detail}")]
    Url {
        /// The URL, without credentials.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// NetBox answered with an error status that retrying cannot fix (401, 403, 404, ...).
    #[error("NetBox {url}: HTTP {status}{}", hint(*.status))]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// No usable answer after every attempt (timeouts, connection failures, 429, 5xx).
    #[error("NetBox {url}: {detail} (after {attempts} attempts)")]
    Unavailable {
        /// The request URL.
        url: String,
        /// The last failure.
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The answer is not the JSON NetBox serves.
    #[error("NetBox {url}: malformed answer: {detail}")]
    Json {
        /// The request URL.
        url: String,
        /// The parser's complaint.
        detail: String,
    },
    /// Pagination went wrong (a `next` link off the NetBox origin, or more objects than allowed).
    #[error("NetBox {url}: {detail}")]
    Pagination {
        /// The request URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The inventory NetBox described is invalid (an unparsable prefix, say).
    #[error(transparent)]
    Inventory(#[from] helios_core::Error),
}

fn hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (token rejected: check the token and its permissions)",
        404 => " (not found: check the NetBox URL)",
        _ => "",
    }
}

/// How to reach NetBox and what to read.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL (`https://netbox.example.com/`).
    pub url: Url,
    /// API token.
    pub token: Token,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Objects per page (NetBox's maximum is 1000 by default).
    pub page_size: u32,
    /// Retries after a transient failure.
    pub retries: u32,
    /// First retry delay; doubled at each retry.
    pub backoff: Duration,
    /// Read only devices with the custom field `helios_monitor` true.
    pub monitored_only: bool,
    /// Custom field names for the tier and the ifIndex.
    pub fields: CustomFieldNames,
    /// Most objects read from one endpoint (a bound on memory, whatever NetBox answers).
    pub max_objects: usize,
}

impl Config {
    /// Defaults: 30 s timeout, pages of 1000, 3 retries from 500 ms, every device, 2M objects.
    pub fn new(url: &str, token: Token) -> Result<Config, Error> {
        let mut parsed = Url::parse(url).map_err(|e| Error::Url {
            url: helios_core::redact::url_credentials(url).into_owned(),
            detail: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Url { url: redact(&parsed), detail: "not http(s)".into() });
        }
        if !parsed.path().ends_with('/') {
            parsed.set_path(&format!("{}/", parsed.path()));
        }
        Ok(Config {
            url: parsed,
            token,
            timeout: Duration::from_secs(30),
            page_size: 1000,
            retries: 3,
            backoff: Duration::from_millis(500),
            monitored_only: false,
            fields: CustomFieldNames::default(),
            max_objects: 2_000_000,
        })
    }
}

/// A NetBox API client.
#[derive(Debug, Clone)]
pub struct Client {
    config: Config,
    http: reqwest::Client,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: Config) -> Result<Client, Error> {
        // reqwest is built without a default crypto provider; ring is ours. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("helios/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Url { url: redact(&config.url), detail: e.to_string() })?;
        Ok(Client { config, http })
    }

    /// Reads the whole inventory. Any failure fails the whole read: a caller keeps its previous
    /// inventory rather than use a partial one.
    pub async fn inventory(&self) -> Result<Inventory, Error> {
        let devices_filter: &[(&str, &str)] =
            if self.config.monitored_only { &[("cf_helios_monitor", "true")] } else { &[] };
        let raw = convert::Raw {
            sites: self.list("api/dcim/sites/", &[]).await?,
            devices: self.list("api/dcim/devices/", devices_filter).await?,
            interfaces: self.list("api/dcim/interfaces/", &[]).await?,
            addresses: self.list("api/ipam/ip-addresses/", &[("assigned_object_type", "dcim.interface")]).await?,
            prefixes: self.list("api/ipam/prefixes/", &[]).await?,
        };
        let inventory = convert::inventory(raw, &self.config.fields);
        // Validate now (prefixes parse, ...), so callers get a NetBox error, not a later surprise.
        helios_core::enrich::inventory::NetboxSnapshot::build(inventory.clone())?;
        Ok(inventory)
    }

    /// Every object of a list endpoint, page by page.
    async fn list<T: DeserializeOwned>(&self, path: &str, filter: &[(&str, &str)]) -> Result<Vec<T>, Error> {
        let mut url = self
            .config
            .url
            .join(path)
            .map_err(|e| Error::Url { url: redact(&self.config.url), detail: e.to_string() })?;
        url.query_pairs_mut().append_pair("limit", &self.config.page_size.to_string()).append_pair("offset", "0");
        for (k, v) in filter {
            url.query_pairs_mut().append_pair(k, v);
        }
        let mut all = Vec::new();
        loop {
            let mut body = self.get(&url).await?;
            let page: api::Page<T> = simd_json::serde::from_slice(&mut body)
                .map_err(|e| Error::Json { url: redact(&url), detail: e.to_string() })?;
            all.extend(page.results);
            if all.len() > self.config.max_objects || page.count.is_some_and(|c| c > self.config.max_objects as u64) {
                return Err(Error::Pagination {
                    url: redact(&url),
                    detail: format!("more than {} objects", self.config.max_objects),
                });
            }
            let Some(next) = page.next else { return Ok(all) };
            let next = Url::parse(&next)
                .map_err(|e| Error::Pagination { url: redact(&url), detail: format!("bad next link: {e}") })?;
            if next.origin() != self.config.url.origin() {
                return Err(Error::Pagination {
                    url: redact(&url),
                    detail: format!("next link leaves the NetBox origin ({}): not followed", redact(&next)),
                });
            }
            url = next;
        }
    }

    /// One GET, retried on transient failures.
    async fn get(&self, url: &Url) -> Result<Vec<u8>, Error> {
        let attempts = self.config.retries + 1;
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.config.backoff.saturating_mul(1 << (attempt - 1).min(16))).await;
            }
            let sent = self
                .http
                .get(url.clone())
                .header("Authorization", self.config.token.header())
                .header("Accept", "application/json")
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                    Ok(b) => return Ok(b.to_vec()),
                    Err(e) => last = e.to_string(),
                },
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if status != 429 && status < 500 {
                        return Err(Error::Status { url: redact(url), status });
                    }
                    last = format!("HTTP {status}");
                }
                Err(e) if e.is_timeout() => last = format!("timed out after {:?}", self.config.timeout),
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Unavailable { url: redact(url), detail: last, attempts })
    }
}

/// `url` without user name and password.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}
