//! Loading and reloading enrichment files, with MaxMind's test databases and a NetBox snapshot.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use helios_core::enrich::published::Published;
use helios_enrichment::{Metrics, Reloader, Sources, load};
use helios_testkit::{TempDir, repo_root};

fn copy(from: &str, to: &Path) {
    std::fs::copy(repo_root().join("testdata").join(from), to).unwrap_or_else(|e| panic!("{from}: {e}"));
}

/// Sets a file's mtime forward, so a change is seen even within the filesystem's time resolution.
fn touch_later(path: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(path).expect("open");
    f.set_modified(SystemTime::now() + Duration::from_secs(secs)).expect("set mtime");
}

#[test]
fn changed_files_are_republished_and_bad_ones_keep_the_last_good_data() {
    let dir = TempDir::new("enrichment");
    let (city, asn, nb) = (dir.path().join("city.mmdb"), dir.path().join("asn.mmdb"), dir.path().join("nb.json"));
    copy("geoip/GeoIP2-City-Test.mmdb", &city);
    copy("geoip/GeoLite2-ASN-Test.mmdb", &asn);
    copy("netbox/example-snapshot.json", &nb);
    let sources = Sources {
        geoip_city: Some(city.clone()),
        geoip_asn: Some(asn),
        netbox_snapshot: Some(nb.clone()),
        reload_secs: 1,
        ..Sources::default()
    };
    let published = Arc::new(Published::new(load(&sources).expect("initial load")));
    let mut registry = prometheus_client::registry::Registry::default();
    let mut reloader = Reloader::new(sources, published.clone(), Metrics::register(&mut registry)).expect("reloader");
    assert_eq!(reloader.check(), 0, "nothing changed");

    // A corrupt City database: reported, the last good tables stay.
    copy("geoip/GeoIP2-City-Test-Invalid-Node-Count.mmdb", &city);
    touch_later(&city, 10);
    assert_eq!(reloader.check(), 0);
    let london: IpAddr = "81.2.69.142".parse().expect("ip");
    let geo = published.current().geo.clone().expect("geo");
    assert_eq!(geo.lookup(london).city, Some("London"));

    // The good file back, and a new snapshot: both republished.
    copy("geoip/GeoIP2-City-Test.mmdb", &city);
    touch_later(&city, 20);
    touch_later(&nb, 20);
    assert_eq!(reloader.check(), 2);
    assert_eq!(published.current().generation, 2);
    std::fs::write(&nb, "{not json").expect("write");
    touch_later(&nb, 30);
    assert_eq!(reloader.check(), 0);
    assert!(published.current().netbox.is_some(), "the last good snapshot stays");

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(text.contains(r#"enrichment_reloads_total{source="geoip",result="failed"} 1"#), "{text}");
    assert!(text.contains(r#"enrichment_reloads_total{source="netbox",result="failed"} 1"#), "{text}");
    assert!(text.contains(r#"enrichment_reloads_total{source="geoip",result="ok"} 1"#), "{text}");
    assert!(text.contains("enrichment_generation 2"), "{text}");
}

#[test]
fn missing_or_invalid_sources_fail_the_initial_load_with_the_file_named() {
    assert!(load(&Sources::default()).expect("nothing to load").geo.is_none());
    let err =
        load(&Sources { geoip_asn: Some("/nonexistent/asn.mmdb".into()), ..Sources::default() }).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/asn.mmdb"), "{err}");
    let bad = repo_root().join("testdata/geoip/MaxMind-DB-test-broken-pointers-24.mmdb");
    let err = load(&Sources { geoip_city: Some(bad), ..Sources::default() }).expect_err("broken");
    assert!(err.to_string().contains("broken-pointers"), "{err}");
}

#[test]
fn netbox_is_read_on_refresh_and_an_outage_keeps_the_last_inventory_visibly() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use helios_testkit::netbox::{NETBOX4_TOKEN, netbox4, serve_self_referencing};

    static DOWN: AtomicBool = AtomicBool::new(false);
    fn flaky(base: String) -> Box<helios_testkit::netbox::Route> {
        let netbox = netbox4(base);
        Box::new(move |req, n| {
            if DOWN.load(Ordering::Relaxed) { (503, "unavailable".into(), Duration::ZERO) } else { netbox(req, n) }
        })
    }
    let (base, _) = serve_self_referencing(flaky);
    let dir = TempDir::new("netbox-token");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{NETBOX4_TOKEN}\n")).expect("token");
    let sources = Sources { netbox_url: Some(base), netbox_token_file: Some(token), ..Sources::default() };
    let published = Arc::new(Published::new(load(&sources).expect("no files to load")));
    let mut registry = prometheus_client::registry::Registry::default();
    let mut reloader = Reloader::new(sources, published.clone(), Metrics::register(&mut registry)).expect("reloader");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let device = |p: &Published| {
        let snap = p.current();
        let nb = snap.netbox.as_ref()?;
        let exporter = nb.exporter("192.0.2.1".parse().expect("ip"))?;
        Some(exporter.device.labels.device.clone())
    };

    assert!(runtime.block_on(reloader.refresh_netbox()));
    assert_eq!(device(&published).as_deref(), Some("edge1"));
    DOWN.store(true, Ordering::Relaxed);
    assert!(!runtime.block_on(reloader.refresh_netbox()), "an outage publishes nothing");
    assert_eq!(device(&published).as_deref(), Some("edge1"), "the last good inventory stays");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(text.contains("enrichment_netbox_up 0"), "{text}");
    assert!(text.contains(r#"enrichment_reloads_total{source="netbox_api",result="failed"} 1"#), "{text}");
    assert!(!text.contains("enrichment_netbox_last_success_timestamp_seconds 0"), "{text}");
    DOWN.store(false, Ordering::Relaxed);
    assert!(runtime.block_on(reloader.refresh_netbox()));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(text.contains("enrichment_netbox_up 1"), "{text}");
}

#[test]
fn netbox_without_a_token_file_is_refused_at_start() {
    let sources = Sources { netbox_url: Some("http://127.0.0.1:1/".into()), ..Sources::default() };
    let published = Arc::new(Published::new(Default::default()));
    let err = Reloader::new(sources, published, Metrics::default()).expect_err("no token");
    assert!(err.to_string().contains("netbox_token_file"), "{err}");
}
