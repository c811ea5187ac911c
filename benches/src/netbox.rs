//! A generated NetBox inventory of the size issue 3 names: 10K devices, 200K interfaces, 50K
//! prefixes (nested: /16s holding /24s), deterministic.

use std::net::{IpAddr, Ipv4Addr};

use helios_core::enrich::inventory::{Device, INVENTORY_FORMAT, Interface, Inventory, Prefix};
use helios_core::enrich::labels::Labels;

/// Devices in the generated inventory.
pub const DEVICES: u32 = 10_000;
/// Interfaces per device.
pub const INTERFACES_PER_DEVICE: u32 = 20;
/// Prefixes.
pub const PREFIXES: u32 = 50_000;

/// The exporter address of device `i`.
pub fn device_address(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))
}

/// The inventory.
pub fn inventory() -> Inventory {
    let devices = (0..DEVICES)
        .map(|i| Device {
            id: u64::from(i),
            labels: Labels {
                device: format!("dev{i}"),
                site: format!("site{}", i / 50),
                region: format!("region{}", i / 1000),
                vendor: ["juniper", "cisco", "arista", "nokia"][(i % 4) as usize].into(),
                platform: "os".into(),
                role: ["edge", "core", "access"][(i % 3) as usize].into(),
                tier: (i % 3).to_string(),
            },
            tenant: format!("tenant{}", i % 100),
            addresses: vec![device_address(i)],
            monitor: true,
            flow_source: true,
            ..Device::default()
        })
        .collect();
    let interfaces = (0..DEVICES * INTERFACES_PER_DEVICE)
        .map(|n| Interface {
            device_id: u64::from(n / INTERFACES_PER_DEVICE),
            name: format!("et-0/0/{}", n % INTERFACES_PER_DEVICE),
            description: format!("link {n}"),
            speed_kbps: 100_000_000,
            if_index: Some(500 + n % INTERFACES_PER_DEVICE),
        })
        .collect();
    // 2,000 /16s, each holding 24 /24s: 50,000 prefixes, nested.
    let prefixes = (0..PREFIXES)
        .map(|n| {
            let (outer, inner) = (n / 25, n % 25);
            let base = 0x0a00_0000u32 + (outer << 16);
            let prefix = if inner == 0 {
                format!("{}/16", Ipv4Addr::from(base))
            } else {
                format!("{}/24", Ipv4Addr::from(base + (inner << 8)))
            };
            Prefix { prefix, tenant: format!("t{}", n % 500), role: "customer".into(), ..Prefix::default() }
        })
        .collect();
    Inventory { format: INVENTORY_FORMAT, devices, interfaces, prefixes }
}
