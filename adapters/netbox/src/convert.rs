//! NetBox API objects into a helios-core [`Inventory`]: labels from slugs (stable, lower-case), the
//! tier and flags from custom fields, every address a device owns (primary, out-of-band, interface).

use std::collections::HashMap;
use std::net::IpAddr;

use helios_core::enrich::inventory::{self, INVENTORY_FORMAT, Inventory};
use helios_core::enrich::labels::Labels;

use crate::api::{self, Custom, CustomFields, Ref};

/// Custom field names the conversion reads.
#[derive(Debug, Clone)]
pub struct CustomFieldNames {
    /// A string field holding the device's tier.
    pub tier: String,
    /// An integer field holding an interface's SNMP ifIndex.
    pub if_index: String,
}

impl Default for CustomFieldNames {
    fn default() -> Self {
        CustomFieldNames { tier: "helios_tier".into(), if_index: "snmp_ifindex".into() }
    }
}

/// Everything read from NetBox, before conversion.
#[derive(Debug, Default)]
pub(crate) struct Raw {
    pub(crate) sites: Vec<api::Site>,
    pub(crate) devices: Vec<api::Device>,
    pub(crate) interfaces: Vec<api::Interface>,
    pub(crate) addresses: Vec<api::IpAddress>,
    pub(crate) prefixes: Vec<api::Prefix>,
}

fn flag(cf: &CustomFields, name: &str) -> bool {
    matches!(cf.get(name), Some(Custom::Bool(true)))
}

fn text(cf: &CustomFields, name: &str) -> String {
    match cf.get(name) {
        Some(Custom::Str(s)) => s.clone(),
        Some(Custom::Int(i)) => i.to_string(),
        _ => String::new(),
    }
}

/// `192.0.2.1/32` -> 192.0.2.1.
fn host(address: &str) -> Option<IpAddr> {
    address.split('/').next()?.parse().ok()
}

pub(crate) fn inventory(raw: Raw, fields: &CustomFieldNames) -> Inventory {
    let region: HashMap<u64, String> = raw.sites.iter().map(|s| (s.id, Ref::label(&s.region))).collect();
    let mut extra_addresses: HashMap<u64, Vec<IpAddr>> = HashMap::new();
    for a in &raw.addresses {
        let device = a.assigned_object.as_ref().and_then(|o| o.device.as_ref()).and_then(|d| d.id);
        if let (Some(device), Some(ip)) = (device, host(&a.address)) {
            extra_addresses.entry(device).or_default().push(ip);
        }
    }
    let devices = raw
        .devices
        .iter()
        .map(|d| {
            let mut addresses: Vec<IpAddr> = [&d.primary_ip4, &d.primary_ip6, &d.oob_ip]
                .into_iter()
                .flatten()
                .filter_map(|a| host(&a.address))
                .collect();
            for ip in extra_addresses.remove(&d.id).unwrap_or_default() {
                if !addresses.contains(&ip) {
                    addresses.push(ip);
                }
            }
            let site_id = d.site.as_ref().and_then(|s| s.id);
            inventory::Device {
                id: d.id,
                labels: Labels {
                    device: d.name.clone().unwrap_or_default(),
                    site: Ref::label(&d.site),
                    region: site_id.and_then(|id| region.get(&id).cloned()).unwrap_or_default(),
                    vendor: Ref::label(&d.device_type.as_ref().and_then(|t| t.manufacturer.as_ref().map(copy_ref))),
                    platform: Ref::label(&d.platform),
                    role: Ref::label(if d.role.is_some() { &d.role } else { &d.device_role }),
                    tier: text(&d.custom_fields, &fields.tier),
                },
                tenant: Ref::name(&d.tenant),
                addresses,
                monitor: flag(&d.custom_fields, "helios_monitor"),
                gnmi: flag(&d.custom_fields, "helios_gnmi"),
                snmp: flag(&d.custom_fields, "helios_snmp"),
                flow_source: flag(&d.custom_fields, "helios_flow_source"),
                gnmi_port: match d.custom_fields.get("helios_gnmi_port") {
                    Some(Custom::Int(p)) => u16::try_from(*p).ok().filter(|&p| p > 0),
                    _ => None,
                },
                snmp_module: text(&d.custom_fields, "helios_snmp_module"),
                snmp_auth: text(&d.custom_fields, "helios_snmp_auth"),
            }
        })
        .collect();
    let interfaces = raw
        .interfaces
        .iter()
        .filter_map(|i| {
            Some(inventory::Interface {
                device_id: i.device.id?,
                name: i.name.clone(),
                description: i.description.clone().unwrap_or_default(),
                speed_kbps: i.speed.unwrap_or(0),
                if_index: match i.custom_fields.get(&fields.if_index) {
                    Some(Custom::Int(n)) => u32::try_from(*n).ok(),
                    _ => None,
                },
            })
        })
        .collect();
    let prefixes = raw
        .prefixes
        .iter()
        .map(|p| inventory::Prefix {
            prefix: p.prefix.clone(),
            tenant: Ref::name(&p.tenant),
            role: Ref::label(&p.role),
            site: if p.site.is_some() {
                Ref::label(&p.site)
            } else if p.scope_type.as_deref() == Some("dcim.site") {
                Ref::label(&p.scope)
            } else {
                String::new()
            },
            vrf: Ref::name(&p.vrf),
        })
        .collect();
    Inventory { format: INVENTORY_FORMAT, devices, interfaces, prefixes }
}

fn copy_ref(r: &Ref) -> Ref {
    Ref { id: r.id, name: r.name.clone(), slug: r.slug.clone() }
}
