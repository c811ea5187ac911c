//! Generated MaxMind databases of realistic size for the GeoIP benchmarks: deterministic, ≥ 1M
//! networks, names shared between networks as in the real databases.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mmdb_writer::Writer;
use mmdb_writer::ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

#[derive(Serialize)]
struct Names<'a> {
    en: &'a str,
}

#[derive(Serialize)]
struct Country<'a> {
    iso_code: &'a str,
}

#[derive(Serialize)]
struct CityName<'a> {
    names: Names<'a>,
}

#[derive(Serialize)]
struct City<'a> {
    country: Country<'a>,
    city: CityName<'a>,
}

#[derive(Serialize)]
struct Asn<'a> {
    autonomous_system_number: u32,
    autonomous_system_organization: &'a str,
}

/// IPv4 /24 networks and IPv6 /48 networks in the generated databases.
pub const V4_NETWORKS: u32 = 900_000;
/// IPv6 /48 networks.
pub const V6_NETWORKS: u32 = 100_000;

/// A City database and an ASN database, each of `V4_NETWORKS + V6_NETWORKS` networks.
pub fn databases() -> (Vec<u8>, Vec<u8>) {
    let countries: Vec<String> =
        (0..200).map(|i| format!("{}{}", (b'A' + (i / 26) as u8) as char, (b'A' + (i % 26) as u8) as char)).collect();
    let cities: Vec<String> = (0..5000).map(|i| format!("City {i}")).collect();
    let orgs: Vec<String> = (0..20_000).map(|i| format!("Network Operator {i}")).collect();
    let mut city = Writer::new("GeoIP2-City");
    let mut asn = Writer::new("GeoLite2-ASN");
    for (i, net) in networks().enumerate() {
        let c = &cities[i % cities.len()];
        let record = City {
            country: Country { iso_code: &countries[i % countries.len()] },
            city: CityName { names: Names { en: c } },
        };
        city.insert(net, &record).expect("valid network");
        let a = Asn {
            autonomous_system_number: 64_512 + (i % orgs.len()) as u32,
            autonomous_system_organization: &orgs[i % orgs.len()],
        };
        asn.insert(net, &a).expect("valid network");
    }
    (city.to_bytes().expect("city database"), asn.to_bytes().expect("asn database"))
}

/// The networks: /24s spread over the IPv4 unicast space by a stride coprime with 2^24, /48s in 2a00::/16.
fn networks() -> impl Iterator<Item = IpNet> {
    let v4 = (0..V4_NETWORKS).map(|i| {
        let block = (0x01_0000 + i.wrapping_mul(2_654_435_761) % 0xdf_0000) & 0xff_ffff;
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(block << 8), 24))
    });
    let v6 = (0..V6_NETWORKS).map(|i| {
        IpNet::V6(Ipv6Net::new_assert(
            Ipv6Addr::from((0x2a00u128 << 112) | (u128::from(i.wrapping_mul(40_503)) << 80)),
            48,
        ))
    });
    v4.chain(v6)
}

/// `count` addresses to look up: 80% IPv4, 20% IPv6, most inside the generated networks.
pub fn addresses(count: usize) -> Vec<IpAddr> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..count)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::from((0x2a00u128 << 112) | (u128::from(x) << 40)))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0100_0000 + (x as u32) % 0xdf00_0000))
            }
        })
        .collect()
}

/// The perf gate's GeoIP workload: MaxMind's small test databases (testdata/geoip) and 1,024
/// addresses, most inside their networks (IPv4, IPv6, IPv4-mapped), some outside.
pub fn gate_workload() -> (helios_core::enrich::geoip::GeoTable, Vec<IpAddr>) {
    let read = |name: &str| {
        let path: std::path::PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "geoip", name].iter().collect();
        std::fs::read(&path).unwrap_or_else(|e| panic!("benchmark input {}: {e}", path.display()))
    };
    let table = helios_core::enrich::geoip::GeoTable::build(
        Some(&read("GeoIP2-City-Test.mmdb")),
        Some(&read("GeoLite2-ASN-Test.mmdb")),
    )
    .expect("MaxMind test databases build");
    let addrs = (0u32..1024)
        .map(|i| match i % 6 {
            0 => IpAddr::V4(Ipv4Addr::new(81, 2, 69, (i % 256) as u8)),
            1 => IpAddr::V4(Ipv4Addr::from(0x0180_0000 | (i.wrapping_mul(2_654_435_761) & 0xffff))),
            2 => IpAddr::V4(Ipv4Addr::new(89, 160, 20, 112 + (i % 16) as u8)),
            3 => IpAddr::V6(Ipv6Addr::from((0x2001_0218u128 << 96) | u128::from(i))),
            4 => IpAddr::V6(Ipv4Addr::new(175, 16, 199, (i % 256) as u8).to_ipv6_mapped()),
            _ => IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761))),
        })
        .collect();
    (table, addrs)
}
