//! The NetBox client against a real HTTP server inside the test (`helios_testkit::netbox`, a NetBox
//! stand-in on loopback that serves pages shaped like NetBox 3.7's and 4.x's): pagination, both token schemes, both API shapes,
//! and every way a sync can fail — rejected token, server errors (retried), timeouts, malformed JSON,
//! a `next` link off the NetBox origin.

use std::time::Duration;

use helios_core::enrich::inventory::NetboxSnapshot;
use helios_netbox::{Client, Config, Error, Token};
use helios_testkit::netbox::{netbox4, page, serve, serve_self_referencing};

const LEGACY_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

fn config(base: &str, token: &str) -> Config {
    let mut c = Config::new(base, Token::new(token).expect("token")).expect("config");
    c.backoff = Duration::from_millis(10);
    c.timeout = Duration::from_secs(5);
    c
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

#[test]
fn netbox_4_inventory_with_pagination_and_a_v2_token() {
    let (base, seen) = serve_self_referencing(netbox4);
    let mut cfg = config(&base, "nbt_k3y.s3cret");
    cfg.page_size = 1;
    let inv = run(Client::new(cfg).expect("client").inventory()).expect("inventory");
    assert_eq!(inv.devices.len(), 2);
    let edge = &inv.devices[0];
    assert_eq!(
        (edge.labels.device.as_str(), edge.labels.site.as_str(), edge.labels.region.as_str()),
        ("edge1", "fra1", "eu-central")
    );
    assert_eq!(
        (
            edge.labels.vendor.as_str(),
            edge.labels.platform.as_str(),
            edge.labels.role.as_str(),
            edge.labels.tier.as_str()
        ),
        ("juniper", "junos", "edge", "1")
    );
    assert_eq!(edge.tenant, "Network Ops");
    assert!(edge.monitor && edge.gnmi && !edge.snmp && edge.flow_source);
    let addrs: Vec<String> = edge.addresses.iter().map(ToString::to_string).collect();
    assert_eq!(addrs, ["192.0.2.1", "198.51.100.7", "203.0.113.9"]);
    assert_eq!((inv.devices[1].labels.role.as_str(), inv.devices[1].labels.vendor.as_str()), ("core", ""));
    assert_eq!((inv.interfaces[0].if_index, inv.interfaces[0].speed_kbps), (Some(512), 100_000_000));
    assert_eq!(inv.interfaces[1].if_index, None);
    assert_eq!(
        (inv.prefixes[0].site.as_str(), inv.prefixes[0].role.as_str(), inv.prefixes[0].tenant.as_str()),
        ("fra1", "internal", "Corp")
    );
    // It compiles into lookups.
    let snap = NetboxSnapshot::build(inv).expect("valid");
    let exporter = snap.exporter("203.0.113.9".parse().expect("ip")).expect("interface address finds its device");
    assert_eq!(exporter.interface(512).map(|i| i.name.as_str()), Some("et-0/0/1"));
    let log = seen.lock().expect("log");
    assert!(log.iter().all(|r| r.authorization == "Bearer nbt_k3y.s3cret"));
    assert_eq!(log.iter().filter(|r| r.target.starts_with("/api/dcim/devices/")).count(), 2, "two pages");
    assert!(log.iter().any(|r| r.target.contains("assigned_object_type=dcim.interface")));
}

#[test]
fn netbox_3_7_shapes_and_a_legacy_token() {
    let (base, seen) = serve(Box::new(|req, _| {
        let path = req.target.split('?').next().unwrap_or("").to_owned();
        let body = match path.as_str() {
            "/api/dcim/devices/" => page(
                r#"{"id": 1, "name": "r1", "device_role": {"id": 1, "name": "Access", "slug": "access"}, "device_type": {"manufacturer": {"name": "Cisco", "slug": "cisco"}},
                   "platform": {"name": "IOS-XE", "slug": "ios-xe"}, "tenant": null, "site": {"id": 4, "name": "LON1", "slug": "lon1"}, "primary_ip4": {"address": "192.0.2.10/24"},
                   "custom_fields": {"helios_monitor": true, "helios_tier": null}}"#,
                None,
            ),
            "/api/ipam/prefixes/" => page(
                r#"{"prefix": "2001:db8::/32", "site": {"name": "LON1", "slug": "lon1"}, "vrf": {"name": "mgmt"}, "tenant": null, "role": null}"#,
                None,
            ),
            _ => page("", None),
        };
        (200, body, Duration::ZERO)
    }));
    let mut cfg = config(&base, LEGACY_TOKEN);
    cfg.monitored_only = true;
    let inv = run(Client::new(cfg).expect("client").inventory()).expect("inventory");
    let r1 = &inv.devices[0];
    assert_eq!(
        (r1.labels.role.as_str(), r1.labels.vendor.as_str(), r1.labels.site.as_str(), r1.labels.tier.as_str()),
        ("access", "cisco", "lon1", "")
    );
    assert_eq!(r1.addresses[0].to_string(), "192.0.2.10");
    assert_eq!((inv.prefixes[0].site.as_str(), inv.prefixes[0].vrf.as_str()), ("lon1", "mgmt"));
    let log = seen.lock().expect("log");
    assert!(log.iter().all(|r| r.authorization == format!("Token {LEGACY_TOKEN}")));
    assert!(
        log.iter().any(|r| r.target.starts_with("/api/dcim/devices/") && r.target.contains("cf_helios_monitor=true"))
    );
}

#[test]
fn a_rejected_token_fails_at_once_without_retrying() {
    let (base, seen) = serve_self_referencing(netbox4);
    let err = run(Client::new(config(&base, "nbt_wrong")).expect("client").inventory()).expect_err("403");
    assert!(matches!(err, Error::Status { status: 403, .. }), "{err}");
    assert!(err.to_string().contains("token rejected"), "{err}");
    assert!(!err.to_string().contains("nbt_wrong"), "the token never appears in errors");
    assert_eq!(seen.lock().expect("log").len(), 1);
}

#[test]
fn server_errors_are_retried_then_succeed_or_give_up() {
    // Two 500s, then pages.
    let (base, seen) = serve(Box::new(|_, n| {
        if n <= 2 { (500, String::new(), Duration::ZERO) } else { (200, page("", None), Duration::ZERO) }
    }));
    let inv = run(Client::new(config(&base, LEGACY_TOKEN)).expect("client").inventory()).expect("recovers");
    assert!(inv.devices.is_empty());
    assert_eq!(seen.lock().expect("log").len(), 2 + 5, "two failures, then one request per endpoint");
    // Always 503: gives up after 1 + retries attempts.
    let (base, seen) = serve(Box::new(|_, _| (503, String::new(), Duration::ZERO)));
    let err = run(Client::new(config(&base, LEGACY_TOKEN)).expect("client").inventory()).expect_err("unavailable");
    assert!(matches!(err, Error::Unavailable { attempts: 4, .. }), "{err}");
    assert_eq!(seen.lock().expect("log").len(), 4);
}

#[test]
fn slow_answers_time_out() {
    let (base, _) = serve(Box::new(|_, _| (200, page("", None), Duration::from_secs(3))));
    let mut cfg = config(&base, LEGACY_TOKEN);
    cfg.timeout = Duration::from_millis(200);
    cfg.retries = 1;
    let err = run(Client::new(cfg).expect("client").inventory()).expect_err("timeout");
    assert!(matches!(&err, Error::Unavailable { detail, attempts: 2, .. } if detail.contains("timed out")), "{err}");
}

#[test]
fn malformed_answers_and_foreign_next_links_are_refused() {
    let (base, _) = serve(Box::new(|_, _| (200, r#"{"results": [{"id": "#.into(), Duration::ZERO)));
    let err = run(Client::new(config(&base, LEGACY_TOKEN)).expect("client").inventory()).expect_err("json");
    assert!(matches!(err, Error::Json { .. }), "{err}");
    let (base, seen) = serve(Box::new(|_, _| {
        (200, page("", Some("http://198.51.100.200/api/dcim/sites/?offset=1".into())), Duration::ZERO)
    }));
    let err = run(Client::new(config(&base, LEGACY_TOKEN)).expect("client").inventory()).expect_err("foreign next");
    assert!(matches!(&err, Error::Pagination { detail, .. } if detail.contains("leaves the NetBox origin")), "{err}");
    assert_eq!(seen.lock().expect("log").len(), 1);
    // A prefix NetBox should never hold is an inventory error, not a panic.
    let (base, _) = serve(Box::new(|req, _| {
        let body = if req.target.starts_with("/api/ipam/prefixes/") {
            page(r#"{"prefix": "10.0.0.0/99"}"#, None)
        } else {
            page("", None)
        };
        (200, body, Duration::ZERO)
    }));
    let err = run(Client::new(config(&base, LEGACY_TOKEN)).expect("client").inventory()).expect_err("bad prefix");
    assert!(err.to_string().contains("10.0.0.0/99"), "{err}");
    assert!(Config::new("ftp://netbox", Token::new(LEGACY_TOKEN).expect("token")).is_err());
}
