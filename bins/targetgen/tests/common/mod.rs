//! What the target generator's tests share: a NetBox stand-in (`helios_testkit::netbox`: real HTTP on
//! loopback, NetBox 4.x-shaped pages; no NetBox can run here) whose devices a test changes and which
//! it can take down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helios_testkit::netbox::{page, serve};

/// A NetBox 4.x device object; `custom` are extra custom-field entries (`"helios_snmp": true`).
pub fn device(id: u64, name: &str, ip: &str, role: &str, custom: &str) -> String {
    format!(
        r#"{{"id": {id}, "name": "{name}", "role": {{"name": "{role}", "slug": "{role}"}},
            "device_type": {{"manufacturer": {{"name": "Juniper", "slug": "juniper"}}}}, "platform": {{"name": "Junos", "slug": "junos"}},
            "tenant": null, "site": {{"id": 1, "name": "FRA1", "slug": "fra1"}}, "primary_ip4": {{"address": "{ip}/32"}},
            "custom_fields": {{"helios_tier": "1", {custom}}}}}"#
    )
}

/// A NetBox whose devices the test changes, and which it can take down.
pub struct Netbox {
    /// Its URL.
    pub base: String,
    /// The device objects it lists.
    pub devices: Arc<Mutex<Vec<String>>>,
    /// When set, every request fails with 502.
    pub down: Arc<AtomicBool>,
}

impl Netbox {
    /// Serves `devices` (and empty sites, interfaces, addresses and prefixes).
    pub fn start(devices: Vec<String>) -> Netbox {
        let devices = Arc::new(Mutex::new(devices));
        let down = Arc::new(AtomicBool::new(false));
        let (d, off) = (devices.clone(), down.clone());
        let (base, _) = serve(Box::new(move |req, _| {
            if off.load(Ordering::Relaxed) {
                return (502, "bad gateway".into(), Duration::ZERO);
            }
            let body = match req.target.split('?').next().unwrap_or("") {
                "/api/dcim/devices/" => page(&d.lock().expect("devices").join(","), None),
                _ => page("", None),
            };
            (200, body, Duration::ZERO)
        }));
        Netbox { base, devices, down }
    }
}
