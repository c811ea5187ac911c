//! What Helios knows of the network from NetBox, and its compiled, lock-free lookup form.
//!
//! [`Inventory`] is plain data: what the NetBox adapter reads, and the JSON snapshot file
//! `helios decode --netbox-snapshot` loads. [`NetboxSnapshot`] compiles it into lookups: the device that
//! exported a flow (by any of its addresses), its interfaces by ifIndex, and the most specific NetBox
//! prefix holding an address.

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::labels::Labels;
use super::ranges::{AddrTable, Networks};
use crate::error::{Error, Result};

/// The snapshot file's format version.
pub const INVENTORY_FORMAT: u32 = 1;

/// Devices, interfaces and prefixes as NetBox describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Always [`INVENTORY_FORMAT`].
    pub format: u32,
    /// Devices.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Interfaces of those devices.
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    /// IP prefixes (IPAM).
    #[serde(default)]
    pub prefixes: Vec<Prefix>,
}

/// A device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// NetBox id.
    pub id: u64,
    /// FR-018 labels (the device name is `labels.device`).
    pub labels: Labels,
    /// Tenant.
    #[serde(default)]
    pub tenant: String,
    /// Every address the device can export flows from: primary, out-of-band, interface addresses.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// Custom field `helios_monitor`.
    #[serde(default)]
    pub monitor: bool,
    /// Custom field `helios_gnmi`.
    #[serde(default)]
    pub gnmi: bool,
    /// Custom field `helios_snmp`.
    #[serde(default)]
    pub snmp: bool,
    /// Custom field `helios_flow_source`.
    #[serde(default)]
    pub flow_source: bool,
    /// Custom field `helios_gnmi_port`: the device's gNMI port, when not the default.
    #[serde(default)]
    pub gnmi_port: Option<u16>,
    /// Custom field `helios_snmp_module`: snmp_exporter module(s), comma-separated, when not the
    /// default for the device's vendor.
    #[serde(default)]
    pub snmp_module: String,
    /// Custom field `helios_snmp_auth`: the name of the snmp_exporter auth (credentials live in a
    /// Secret), when not the default.
    #[serde(default)]
    pub snmp_auth: String,
}

/// An interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// NetBox id of its device.
    pub device_id: u64,
    /// Name (`et-0/0/1`).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Speed in kbit/s (0: unknown).
    #[serde(default)]
    pub speed_kbps: u64,
    /// SNMP ifIndex, from a custom field where NetBox has it.
    #[serde(default)]
    pub if_index: Option<u32>,
}

/// An IPAM prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefix {
    /// The prefix, `10.1.0.0/16` or `2001:db8::/32`.
    pub prefix: String,
    /// Tenant.
    #[serde(default)]
    pub tenant: String,
    /// Role.
    #[serde(default)]
    pub role: String,
    /// Site.
    #[serde(default)]
    pub site: String,
    /// VRF.
    #[serde(default)]
    pub vrf: String,
}

impl Inventory {
    /// Parses a JSON snapshot (untrusted: the whole file is validated by [`NetboxSnapshot::build`]).
    pub fn from_json(bytes: &[u8]) -> Result<Inventory> {
        let inv: Inventory = serde_json::from_slice(bytes).map_err(|e| inventory_error(e.to_string()))?;
        if inv.format != INVENTORY_FORMAT {
            return Err(inventory_error(format!("format {} is not {INVENTORY_FORMAT}", inv.format)));
        }
        Ok(inv)
    }

    /// The JSON snapshot.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

fn inventory_error(detail: String) -> Error {
    Error::Inventory { detail }
}

/// A device found by exporter address, with the way to its interfaces.
#[derive(Debug, Clone, Copy)]
pub struct Exporter<'s> {
    /// The device.
    pub device: &'s Device,
    /// Its position in the inventory's devices (see [`NetboxSnapshot::device`]).
    pub index: u32,
    snapshot: &'s NetboxSnapshot,
}

impl<'s> Exporter<'s> {
    /// The device's interface with SNMP index `if_index`.
    pub fn interface(&self, if_index: u32) -> Option<&'s Interface> {
        self.snapshot.interface(self.interface_index(if_index)?)
    }

    /// The position of that interface in the inventory's interfaces.
    pub fn interface_index(&self, if_index: u32) -> Option<u32> {
        self.snapshot.by_if_index.get(&(self.index, if_index)).copied()
    }
}

/// An [`Inventory`] compiled for lookups. Immutable: share it behind an `Arc` / `ArcSwap`.
#[derive(Debug, Default)]
pub struct NetboxSnapshot {
    inventory: Inventory,
    by_address: FxHashMap<IpAddr, u32>,
    by_if_index: FxHashMap<(u32, u32), u32>,
    prefixes: AddrTable,
}

impl NetboxSnapshot {
    /// Compiles `inventory`. A prefix that does not parse rejects the whole inventory (the caller keeps
    /// its previous snapshot); an address claimed by two devices goes to the first.
    pub fn build(inventory: Inventory) -> Result<NetboxSnapshot> {
        let mut by_address = FxHashMap::default();
        let mut device_index = FxHashMap::default();
        for (i, d) in inventory.devices.iter().enumerate() {
            device_index.entry(d.id).or_insert(i as u32);
            for a in &d.addresses {
                by_address.entry(*a).or_insert(i as u32);
            }
        }
        let mut by_if_index = FxHashMap::default();
        for (i, itf) in inventory.interfaces.iter().enumerate() {
            if let (Some(&dev), Some(ix)) = (device_index.get(&itf.device_id), itf.if_index) {
                by_if_index.entry((dev, ix)).or_insert(i as u32);
            }
        }
        let mut nets = Networks::default();
        for (i, p) in inventory.prefixes.iter().enumerate() {
            let net: IpNetwork =
                p.prefix.parse().map_err(|e| inventory_error(format!("prefix {:?}: {e}", p.prefix)))?;
            nets.push(net, i as u32);
        }
        Ok(NetboxSnapshot { by_address, by_if_index, prefixes: AddrTable::longest_match(nets), inventory })
    }

    /// The device that owns `ip`.
    pub fn exporter(&self, ip: IpAddr) -> Option<Exporter<'_>> {
        let index = *self.by_address.get(&ip)?;
        Some(Exporter { device: self.inventory.devices.get(index as usize)?, index, snapshot: self })
    }

    /// The most specific prefix holding `ip`.
    pub fn prefix(&self, ip: IpAddr) -> Option<&Prefix> {
        self.prefix_at(self.prefix_index(ip)?)
    }

    /// The position in the inventory's prefixes of the most specific prefix holding `ip`.
    pub fn prefix_index(&self, ip: IpAddr) -> Option<u32> {
        self.prefixes.get(ip)
    }

    /// The device at `index` in the inventory.
    pub fn device(&self, index: u32) -> Option<&Device> {
        self.inventory.devices.get(index as usize)
    }

    /// The interface at `index` in the inventory.
    pub fn interface(&self, index: u32) -> Option<&Interface> {
        self.inventory.interfaces.get(index as usize)
    }

    /// The prefix at `index` in the inventory.
    pub fn prefix_at(&self, index: u32) -> Option<&Prefix> {
        self.inventory.prefixes.get(index as usize)
    }

    /// What the snapshot was built from.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        Inventory {
            format: INVENTORY_FORMAT,
            devices: vec![
                Device {
                    id: 7,
                    labels: Labels {
                        device: "edge1".into(),
                        site: "fra1".into(),
                        region: "eu".into(),
                        vendor: "Juniper".into(),
                        platform: "junos".into(),
                        role: "edge".into(),
                        tier: "1".into(),
                    },
                    tenant: "ops".into(),
                    addresses: vec!["192.0.2.1".parse().expect("ip"), "2001:db8::1".parse().expect("ip")],
                    monitor: true,
                    flow_source: true,
                    ..Device::default()
                },
                Device { id: 8, addresses: vec!["192.0.2.1".parse().expect("ip")], ..Device::default() },
            ],
            interfaces: vec![
                Interface {
                    device_id: 7,
                    name: "et-0/0/1".into(),
                    description: "to core".into(),
                    speed_kbps: 100_000_000,
                    if_index: Some(512),
                },
                Interface { device_id: 99, name: "orphan".into(), if_index: Some(512), ..Interface::default() },
            ],
            prefixes: vec![
                Prefix { prefix: "10.0.0.0/8".into(), tenant: "corp".into(), ..Prefix::default() },
                Prefix { prefix: "10.1.0.0/16".into(), tenant: "lab".into(), role: "test".into(), ..Prefix::default() },
                Prefix { prefix: "2001:db8:1::/48".into(), site: "fra1".into(), ..Prefix::default() },
            ],
        }
    }

    #[test]
    fn exporters_interfaces_and_prefixes_are_found() {
        let s = NetboxSnapshot::build(inventory()).expect("valid");
        let e = s.exporter("192.0.2.1".parse().expect("ip")).expect("first device owns the address");
        assert_eq!((e.device.id, e.device.labels.site.as_str()), (7, "fra1"));
        assert_eq!(s.exporter("2001:db8::1".parse().expect("ip")).map(|e| e.device.id), Some(7));
        assert_eq!(e.interface(512).map(|i| i.name.as_str()), Some("et-0/0/1"));
        assert!(e.interface(513).is_none());
        assert!(s.exporter("192.0.2.2".parse().expect("ip")).is_none());
        assert_eq!(s.prefix("10.1.2.3".parse().expect("ip")).map(|p| p.tenant.as_str()), Some("lab"));
        assert_eq!(s.prefix("10.2.0.1".parse().expect("ip")).map(|p| p.tenant.as_str()), Some("corp"));
        assert_eq!(s.prefix("::ffff:10.2.0.1".parse().expect("ip")).map(|p| p.tenant.as_str()), Some("corp"));
        assert_eq!(s.prefix("2001:db8:1::5".parse().expect("ip")).map(|p| p.site.as_str()), Some("fra1"));
        assert!(s.prefix("11.0.0.1".parse().expect("ip")).is_none());
    }

    #[test]
    fn the_json_snapshot_round_trips_and_bad_input_is_rejected() {
        let inv = inventory();
        assert_eq!(Inventory::from_json(&inv.to_json()), Ok(inv.clone()));
        assert!(matches!(Inventory::from_json(b"{"), Err(Error::Inventory { .. })));
        assert!(matches!(Inventory::from_json(br#"{"format":2}"#), Err(Error::Inventory { .. })));
        assert!(matches!(Inventory::from_json(br#"{"format":1,"secret":1}"#), Err(Error::Inventory { .. })));
        let mut bad = inv;
        bad.prefixes.push(Prefix { prefix: "10.0.0.0/33".into(), ..Prefix::default() });
        let err = NetboxSnapshot::build(bad).expect_err("invalid prefix");
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
    }
}
