//! Collection targets from the NetBox inventory (US4): which devices gnmic, snmp_exporter,
//! blackbox_exporter and Prometheus collect from, as the files those tools read. A pure function:
//! the same inventory and rules always give byte-identical files (devices sorted by name), so a
//! caller writes only when something changed.
//!
//! Only devices with `helios_monitor` are targets; `helios_gnmi` / `helios_snmp` select the
//! streaming and SNMP targets. The management address is the device's first address (primary IPv4,
//! else primary IPv6, else out-of-band). Every target carries the FR-018 labels. No credential is
//! ever written: gnmic takes its username and password from its own configuration, and snmp_exporter
//! targets name an `auth` whose secrets live in a Secret (FR-028).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::enrich::inventory::{Device, Inventory};

/// How devices become targets, where NetBox does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetRules {
    /// gNMI port of devices without `helios_gnmi_port`.
    pub gnmi_port: u16,
    /// snmp_exporter module(s) by vendor (the NetBox manufacturer's slug), for devices without
    /// `helios_snmp_module`.
    pub snmp_modules: BTreeMap<String, String>,
    /// ... and for vendors not listed.
    pub snmp_module: String,
    /// snmp_exporter auth of devices without `helios_snmp_auth`.
    pub snmp_auth: String,
    /// The devices' SNMP port (snmp_exporter's targets carry it when it is not 161).
    pub snmp_port: u16,
    /// Probe every monitored device with ICMP.
    pub blackbox_icmp: bool,
    /// Probe these TCP ports of every monitored device (`tcp_connect`).
    pub blackbox_tcp_ports: Vec<u16>,
    /// Probe `https://<address>/` (`http_2xx`) on devices with these roles.
    pub blackbox_http_roles: Vec<String>,
}

impl Default for TargetRules {
    fn default() -> Self {
        TargetRules {
            gnmi_port: 57400,
            snmp_modules: BTreeMap::new(),
            snmp_module: "if_mib".into(),
            snmp_auth: "public_v2".into(),
            snmp_port: 161,
            blackbox_icmp: true,
            blackbox_tcp_ports: vec![22],
            blackbox_http_roles: Vec::new(),
        }
    }
}

/// One artefact kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// gnmic's file loader: targets by name with `address` and `event-tags`.
    Gnmic,
    /// snmp_exporter file_sd groups with `__param_module` / `__param_auth`.
    Snmp,
    /// blackbox_exporter file_sd groups with `__param_module`.
    Blackbox,
    /// Prometheus file_sd of every monitored device by name, `__meta_netbox_*` labels.
    Prometheus,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Gnmic, Kind::Snmp, Kind::Blackbox, Kind::Prometheus];

    /// A stable, lower-case name (metrics label).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Gnmic => "gnmic",
            Kind::Snmp => "snmp",
            Kind::Blackbox => "blackbox",
            Kind::Prometheus => "prometheus",
        }
    }

    /// The file (or ConfigMap key) it is written to.
    pub const fn file_name(self) -> &'static str {
        match self {
            Kind::Gnmic => "gnmic-targets.json",
            Kind::Snmp => "snmp-targets.json",
            Kind::Blackbox => "blackbox-targets.json",
            Kind::Prometheus => "prometheus-targets.json",
        }
    }
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// Which.
    pub kind: Kind,
    /// The file's bytes (JSON; gnmic reads JSON as the YAML subset it is).
    pub content: Vec<u8>,
    /// Targets in it.
    pub targets: usize,
}

/// Every artefact of `inventory` under `rules`, in [`Kind::ALL`] order.
pub fn generate(inventory: &Inventory, rules: &TargetRules) -> Vec<Artefact> {
    let mut devices: Vec<(&Device, IpAddr)> = inventory
        .devices
        .iter()
        .filter(|d| d.monitor && !d.labels.device.is_empty())
        .filter_map(|d| d.addresses.first().map(|&ip| (d, ip)))
        .collect();
    devices.sort_by(|a, b| a.0.labels.device.cmp(&b.0.labels.device));

    let mut gnmic = BTreeMap::new();
    let (mut snmp, mut blackbox, mut prometheus) = (Vec::new(), Vec::new(), Vec::new());
    for &(d, ip) in &devices {
        let labels = labels(d);
        if d.gnmi {
            let address = SocketAddr::new(ip, d.gnmi_port.unwrap_or(rules.gnmi_port));
            gnmic.insert(d.labels.device.clone(), json!({ "address": address.to_string(), "event-tags": labels }));
        }
        if d.snmp {
            let module = if d.snmp_module.is_empty() {
                rules.snmp_modules.get(&d.labels.vendor.to_ascii_lowercase()).unwrap_or(&rules.snmp_module)
            } else {
                &d.snmp_module
            };
            let auth = if d.snmp_auth.is_empty() { &rules.snmp_auth } else { &d.snmp_auth };
            let mut l = labels.clone();
            l.insert("__param_module".into(), module.clone());
            l.insert("__param_auth".into(), auth.clone());
            let target = match rules.snmp_port {
                161 => ip.to_string(),
                port => SocketAddr::new(ip, port).to_string(),
            };
            snmp.push(json!({ "targets": [target], "labels": l }));
        }
        let mut probe = |module: &str, target: String| {
            let mut l = labels.clone();
            l.insert("__param_module".into(), module.to_owned());
            blackbox.push(json!({ "targets": [target], "labels": l }));
        };
        if rules.blackbox_icmp {
            probe("icmp", ip.to_string());
        }
        for &port in &rules.blackbox_tcp_ports {
            probe("tcp_connect", SocketAddr::new(ip, port).to_string());
        }
        if rules.blackbox_http_roles.iter().any(|r| r.eq_ignore_ascii_case(&d.labels.role)) {
            let host = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            probe("http_2xx", format!("https://{host}/"));
        }
        let mut meta: BTreeMap<String, String> =
            labels.iter().map(|(k, v)| (format!("__meta_netbox_{k}"), v.clone())).collect();
        meta.insert("__meta_netbox_primary_ip".into(), ip.to_string());
        if !d.tenant.is_empty() {
            meta.insert("__meta_netbox_tenant".into(), d.tenant.clone());
        }
        prometheus.push(json!({ "targets": [d.labels.device], "labels": meta }));
    }
    let artefact = |kind, value: &Value, targets| Artefact { kind, content: pretty(value), targets };
    vec![
        artefact(Kind::Gnmic, &json!(gnmic), gnmic.len()),
        artefact(Kind::Snmp, &json!(snmp), snmp.len()),
        artefact(Kind::Blackbox, &json!(blackbox), blackbox.len()),
        artefact(Kind::Prometheus, &json!(prometheus), prometheus.len()),
    ]
}

/// How many targets an artefact written earlier holds (`None` when it is not one of ours).
pub fn count_targets(kind: Kind, content: &[u8]) -> Option<usize> {
    let v: Value = serde_json::from_slice(content).ok()?;
    match kind {
        Kind::Gnmic => v.as_object().map(serde_json::Map::len),
        _ => v.as_array().map(Vec::len),
    }
}

/// Whether going from `previous` to `next` targets is a shrink the caller must refuse: losing more
/// than `max_shrink` (a fraction, 0..=1) of the targets at once — the signature of a NetBox outage
/// answering with an empty or partial inventory rather than of a real change.
pub fn is_suspicious_shrink(previous: usize, next: usize, max_shrink: f64) -> bool {
    next < previous && (previous - next) as f64 > previous as f64 * max_shrink.clamp(0.0, 1.0)
}

/// The FR-018 labels of a device that have a value.
fn labels(d: &Device) -> BTreeMap<String, String> {
    d.labels.pairs().into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::labels::Labels;

    fn device(name: &str, ip: &str) -> Device {
        Device {
            id: 1,
            labels: Labels {
                device: name.into(),
                site: "fra1".into(),
                vendor: "Juniper".into(),
                role: "edge".into(),
                ..Labels::default()
            },
            addresses: vec![ip.parse().expect("ip")],
            monitor: true,
            ..Device::default()
        }
    }

    fn parsed(a: &[Artefact], kind: Kind) -> Value {
        let found = a.iter().find(|x| x.kind == kind).expect("every kind");
        serde_json::from_slice(&found.content).expect("JSON")
    }

    fn inventory(devices: Vec<Device>) -> Inventory {
        Inventory { format: 1, devices, ..Inventory::default() }
    }

    #[test]
    fn only_monitored_devices_with_an_address_are_targets() {
        let unmonitored = Device { monitor: false, ..device("b", "192.0.2.2") };
        let no_address = Device { addresses: vec![], ..device("c", "192.0.2.3") };
        let a = generate(&inventory(vec![device("a", "192.0.2.1"), unmonitored, no_address]), &TargetRules::default());
        assert_eq!(parsed(&a, Kind::Prometheus).as_array().map(Vec::len), Some(1));
        assert_eq!(a.iter().map(|x| x.targets).collect::<Vec<_>>(), [0, 0, 2, 1], "icmp + tcp/22 for a");
    }

    #[test]
    fn gnmi_targets_use_the_device_port_or_the_default_and_carry_labels_not_credentials() {
        let a = Device { gnmi: true, ..device("a", "192.0.2.1") };
        let b = Device { gnmi: true, gnmi_port: Some(6030), ..device("b", "2001:db8::1") };
        let out = generate(&inventory(vec![b, a]), &TargetRules::default());
        let g = parsed(&out, Kind::Gnmic);
        assert_eq!(g["a"]["address"], "192.0.2.1:57400");
        assert_eq!(g["b"]["address"], "[2001:db8::1]:6030");
        assert_eq!(g["a"]["event-tags"]["site"], "fra1");
        let text = String::from_utf8_lossy(&out[0].content);
        assert!(!text.contains("password") && !text.contains("username"));
        assert!(text.find("\"a\"") < text.find("\"b\""), "sorted by name");
    }

    #[test]
    fn snmp_module_and_auth_come_from_the_device_then_the_vendor_then_the_default() {
        let own = Device {
            snmp: true,
            snmp_module: "if_mib,arista_sw".into(),
            snmp_auth: "v3_ops".into(),
            ..device("a", "192.0.2.1")
        };
        let by_vendor = Device { snmp: true, ..device("b", "192.0.2.2") };
        let default = Device {
            snmp: true,
            labels: Labels { device: "c".into(), vendor: "Nokia".into(), ..Labels::default() },
            ..device("c", "192.0.2.3")
        };
        let rules = TargetRules {
            snmp_modules: [("juniper".to_owned(), "if_mib,juniper".to_owned())].into(),
            ..TargetRules::default()
        };
        let s = parsed(&generate(&inventory(vec![own, by_vendor, default]), &rules), Kind::Snmp);
        let params = |i: usize| (s[i]["labels"]["__param_module"].clone(), s[i]["labels"]["__param_auth"].clone());
        assert_eq!(params(0), (json!("if_mib,arista_sw"), json!("v3_ops")));
        assert_eq!(params(1), (json!("if_mib,juniper"), json!("public_v2")));
        assert_eq!(params(2), (json!("if_mib"), json!("public_v2")));
        assert_eq!(s[0]["targets"], json!(["192.0.2.1"]));
        assert_eq!(s[0]["labels"]["device"], "a");
        let port = TargetRules { snmp_port: 1161, ..TargetRules::default() };
        let d = Device { snmp: true, ..device("a", "2001:db8::1") };
        let s = parsed(&generate(&inventory(vec![d]), &port), Kind::Snmp);
        assert_eq!(s[0]["targets"], json!(["[2001:db8::1]:1161"]));
    }

    #[test]
    fn blackbox_probes_follow_the_rules() {
        let fw = Device {
            labels: Labels { device: "fw".into(), role: "Firewall".into(), ..Labels::default() },
            ..device("fw", "2001:db8::9")
        };
        let rules = TargetRules {
            blackbox_tcp_ports: vec![22, 830],
            blackbox_http_roles: vec!["firewall".into()],
            ..TargetRules::default()
        };
        let b = parsed(&generate(&inventory(vec![fw]), &rules), Kind::Blackbox);
        let probes: Vec<(String, String)> = b
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| {
                (
                    g["labels"]["__param_module"].as_str().unwrap_or("").into(),
                    g["targets"][0].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        assert_eq!(
            probes,
            [
                ("icmp".to_owned(), "2001:db8::9".to_owned()),
                ("tcp_connect".to_owned(), "[2001:db8::9]:22".to_owned()),
                ("tcp_connect".to_owned(), "[2001:db8::9]:830".to_owned()),
                ("http_2xx".to_owned(), "https://[2001:db8::9]/".to_owned()),
            ]
        );
        let none = TargetRules { blackbox_icmp: false, blackbox_tcp_ports: vec![], ..TargetRules::default() };
        assert_eq!(generate(&inventory(vec![device("a", "192.0.2.1")]), &none)[2].targets, 0);
    }

    #[test]
    fn prometheus_targets_are_names_with_netbox_meta_labels() {
        let d = Device { tenant: "ops".into(), ..device("edge1", "192.0.2.1") };
        let p = parsed(&generate(&inventory(vec![d]), &TargetRules::default()), Kind::Prometheus);
        assert_eq!(p[0]["targets"], json!(["edge1"]));
        assert_eq!(p[0]["labels"]["__meta_netbox_site"], "fra1");
        assert_eq!(p[0]["labels"]["__meta_netbox_primary_ip"], "192.0.2.1");
        assert_eq!(p[0]["labels"]["__meta_netbox_tenant"], "ops");
        assert!(p[0]["labels"].get("__meta_netbox_tier").is_none(), "empty labels are left out");
    }

    #[test]
    fn written_artefacts_are_counted_back_and_big_shrinks_are_flagged() {
        let out =
            generate(&inventory(vec![Device { gnmi: true, ..device("a", "192.0.2.1") }]), &TargetRules::default());
        for a in &out {
            assert_eq!(count_targets(a.kind, &a.content), Some(a.targets), "{:?}", a.kind);
        }
        assert_eq!(count_targets(Kind::Snmp, b"not json"), None);
        assert!(is_suspicious_shrink(10, 4, 0.5));
        assert!(!is_suspicious_shrink(10, 5, 0.5), "exactly half is allowed");
        assert!(!is_suspicious_shrink(10, 12, 0.5));
        assert!(is_suspicious_shrink(1, 0, 0.5));
        assert!(!is_suspicious_shrink(0, 0, 0.5));
        assert!(!is_suspicious_shrink(10, 0, 1.0), "1.0 allows anything");
    }

    #[test]
    fn the_same_inventory_gives_the_same_bytes() {
        let inv =
            inventory(vec![Device { gnmi: true, snmp: true, ..device("a", "192.0.2.1") }, device("b", "192.0.2.2")]);
        let mut reversed = inv.clone();
        reversed.devices.reverse();
        assert_eq!(generate(&inv, &TargetRules::default()), generate(&reversed, &TargetRules::default()));
        for kind in Kind::ALL {
            assert!(kind.file_name().starts_with(kind.as_str()));
        }
    }
}
