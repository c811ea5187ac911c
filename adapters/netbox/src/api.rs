//! The NetBox REST API objects Helios reads, as NetBox 3.7 and 4.x serve them. Only the fields Helios
//! uses are declared; everything else is ignored, and nested objects may be `null`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One page of a list endpoint.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub(crate) count: Option<u64>,
    pub(crate) next: Option<String>,
    pub(crate) results: Vec<T>,
}

/// A nested reference (`{"id": 1, "name": "...", "slug": "..."}`), any of which may be missing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Ref {
    pub(crate) id: Option<u64>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) slug: Option<String>,
}

impl Ref {
    /// The slug, else the name, else "".
    pub(crate) fn label(r: &Option<Ref>) -> String {
        r.as_ref().and_then(|r| r.slug.clone().or_else(|| r.name.clone())).unwrap_or_default()
    }

    /// The name, else "".
    pub(crate) fn name(r: &Option<Ref>) -> String {
        r.as_ref().and_then(|r| r.name.clone()).unwrap_or_default()
    }
}

/// A custom field's value: booleans, numbers and strings are used, anything else is ignored.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Custom {
    Bool(bool),
    Int(i64),
    Str(String),
    Other(serde::de::IgnoredAny),
}

pub(crate) type CustomFields = BTreeMap<String, Custom>;

#[derive(Debug, Deserialize)]
pub(crate) struct Address {
    pub(crate) address: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeviceType {
    #[serde(default)]
    pub(crate) manufacturer: Option<Ref>,
}

/// `/api/dcim/devices/`. NetBox 4.0 renamed `device_role` to `role`; both are read.
#[derive(Debug, Deserialize)]
pub(crate) struct Device {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) role: Option<Ref>,
    #[serde(default)]
    pub(crate) device_role: Option<Ref>,
    #[serde(default)]
    pub(crate) device_type: Option<DeviceType>,
    #[serde(default)]
    pub(crate) platform: Option<Ref>,
    #[serde(default)]
    pub(crate) tenant: Option<Ref>,
    #[serde(default)]
    pub(crate) site: Option<Ref>,
    #[serde(default)]
    pub(crate) primary_ip4: Option<Address>,
    #[serde(default)]
    pub(crate) primary_ip6: Option<Address>,
    #[serde(default)]
    pub(crate) oob_ip: Option<Address>,
    #[serde(default)]
    pub(crate) custom_fields: CustomFields,
}

/// `/api/dcim/sites/`: for the region of each site.
#[derive(Debug, Deserialize)]
pub(crate) struct Site {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) region: Option<Ref>,
}

/// `/api/dcim/interfaces/`.
#[derive(Debug, Deserialize)]
pub(crate) struct Interface {
    pub(crate) device: Ref,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) speed: Option<u64>,
    #[serde(default)]
    pub(crate) custom_fields: CustomFields,
}

/// What an IP address is assigned to (an interface, with its device).
#[derive(Debug, Deserialize)]
pub(crate) struct Assigned {
    #[serde(default)]
    pub(crate) device: Option<Ref>,
}

/// `/api/ipam/ip-addresses/`.
#[derive(Debug, Deserialize)]
pub(crate) struct IpAddress {
    pub(crate) address: String,
    #[serde(default)]
    pub(crate) assigned_object: Option<Assigned>,
}

/// `/api/ipam/prefixes/`. NetBox 4.2 replaced `site` by a generic `scope`; both are read.
#[derive(Debug, Deserialize)]
pub(crate) struct Prefix {
    pub(crate) prefix: String,
    #[serde(default)]
    pub(crate) tenant: Option<Ref>,
    #[serde(default)]
    pub(crate) role: Option<Ref>,
    #[serde(default)]
    pub(crate) site: Option<Ref>,
    #[serde(default)]
    pub(crate) scope_type: Option<String>,
    #[serde(default)]
    pub(crate) scope: Option<Ref>,
    #[serde(default)]
    pub(crate) vrf: Option<Ref>,
}
