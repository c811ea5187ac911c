//! A NetBox stand-in: a real HTTP server on loopback (no NetBox can run here) that answers each
//! request with what a route decides — pages shaped like NetBox 3.7's and 4.x's REST API, errors,
//! slow answers — and logs what it was asked.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request target (path and query).
    pub target: String,
    /// The Authorization header.
    pub authorization: String,
}

/// A route: (status, body, delay before answering) for a request and the count of requests so far.
pub type Route = dyn Fn(&Seen, usize) -> (u16, String, Duration) + Send + Sync;

/// Serves `route(request, how many requests so far)` on 127.0.0.1:<any port>.
pub fn serve(route: Box<Route>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}/", listener.local_addr().expect("address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, route) = (seen.clone(), Arc::new(route));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (log, route) = (log.clone(), route.clone());
            std::thread::spawn(move || handle(conn, &log, &*route));
        }
    });
    (base, seen)
}

fn handle(conn: TcpStream, log: &Mutex<Vec<Seen>>, route: &Route) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut authorization = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("authorization:") {
            authorization = h[h.len() - v.len()..].trim().to_owned();
        }
    }
    let req = Seen { target, authorization };
    let n = {
        let mut l = log.lock().expect("log");
        l.push(req.clone());
        l.len()
    };
    let (status, body, delay) = route(&req, n);
    std::thread::sleep(delay);
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A NetBox list page of `results` (JSON objects, comma-separated) with an optional `next` link.
pub fn page(results: &str, next: Option<String>) -> String {
    let next = next.map_or("null".to_owned(), |n| format!("\"{n}\""));
    format!(r#"{{"count": null, "next": {next}, "previous": null, "results": [{results}]}}"#)
}

/// The token the [`netbox4`] fixture accepts.
pub const NETBOX4_TOKEN: &str = "nbt_k3y.s3cret";

/// NetBox 4.x: `role`, prefixes scoped to a site, v2 token; devices over two pages.
pub fn netbox4(base: String) -> Box<Route> {
    Box::new(move |req, _| {
        let ok = |body: String| (200, body, Duration::ZERO);
        if req.authorization != format!("Bearer {NETBOX4_TOKEN}") {
            return (403, r#"{"detail":"Invalid token"}"#.into(), Duration::ZERO);
        }
        let path = req.target.split('?').next().unwrap_or("");
        match path {
            "/api/dcim/sites/" => ok(page(
                r#"{"id": 1, "name": "FRA1", "slug": "fra1", "region": {"id": 3, "name": "EU Central", "slug": "eu-central"}}"#,
                None,
            )),
            "/api/dcim/devices/" if req.target.contains("offset=0") => ok(page(
                r#"{"id": 7, "name": "edge1", "role": {"id": 1, "name": "Edge", "slug": "edge"}, "device_type": {"manufacturer": {"name": "Juniper", "slug": "juniper"}},
                   "platform": {"name": "Junos", "slug": "junos"}, "tenant": {"name": "Network Ops"}, "site": {"id": 1, "name": "FRA1", "slug": "fra1"},
                   "primary_ip4": {"address": "192.0.2.1/32"}, "primary_ip6": null, "oob_ip": {"address": "198.51.100.7/24"},
                   "custom_fields": {"helios_monitor": true, "helios_gnmi": true, "helios_snmp": false, "helios_flow_source": true, "helios_tier": "1", "other": {"x": 1}}}"#,
                Some(format!("{base}api/dcim/devices/?limit=1&offset=1")),
            )),
            "/api/dcim/devices/" => ok(page(
                r#"{"id": 8, "name": "core1", "role": {"name": "Core", "slug": "core"}, "device_type": {"manufacturer": null}, "platform": null, "tenant": null,
                   "site": {"id": 2, "slug": "ams1"}, "primary_ip4": null, "custom_fields": {}}"#,
                None,
            )),
            "/api/dcim/interfaces/" => ok(page(
                r#"{"id": 70, "device": {"id": 7, "name": "edge1"}, "name": "et-0/0/1", "description": "transit", "speed": 100000000, "custom_fields": {"snmp_ifindex": 512}},
                   {"id": 71, "device": {"id": 7}, "name": "lo0", "description": "", "speed": null, "custom_fields": {"snmp_ifindex": null}}"#,
                None,
            )),
            "/api/ipam/ip-addresses/" => ok(page(
                r#"{"address": "203.0.113.9/31", "assigned_object_type": "dcim.interface", "assigned_object": {"id": 70, "device": {"id": 7}}}"#,
                None,
            )),
            "/api/ipam/prefixes/" => ok(page(
                r#"{"prefix": "10.0.0.0/8", "tenant": {"name": "Corp"}, "role": {"name": "Internal", "slug": "internal"}, "scope_type": "dcim.site", "scope": {"name": "FRA1", "slug": "fra1"}, "vrf": null}"#,
                None,
            )),
            _ => (404, r#"{"detail":"Not found."}"#.into(), Duration::ZERO),
        }
    })
}

/// Serves a route that needs its own base URL (for absolute `next` links).
pub fn serve_self_referencing(make: fn(String) -> Box<Route>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let slot: Arc<Mutex<Option<Box<Route>>>> = Arc::new(Mutex::new(None));
    let inner = slot.clone();
    let (base, seen) = serve(Box::new(move |req, n| match &*inner.lock().expect("route") {
        Some(route) => route(req, n),
        None => (503, String::new(), Duration::ZERO),
    }));
    *slot.lock().expect("route") = Some(make(base.clone()));
    (base, seen)
}
