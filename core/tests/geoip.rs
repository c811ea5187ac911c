//! GeoIP/ASN tables against MaxMind's own test databases (testdata/geoip, Apache-2.0 or MIT): known
//! answers, agreement with the `maxminddb` reader on every network's edges and on random addresses,
//! and corrupt or truncated databases rejected with an error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use helios_core::enrich::geoip::{GeoAnswer, GeoTable};
use helios_core::error::Error;
use maxminddb::{Reader, WithinOptions, geoip2};
use proptest::prelude::*;

fn db(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "geoip", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn table() -> GeoTable {
    GeoTable::build(Some(&db("GeoIP2-City-Test.mmdb")), Some(&db("GeoLite2-ASN-Test.mmdb")))
        .expect("test databases build")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

#[test]
fn known_answers_from_maxminds_test_data() {
    let t = table();
    let london = t.lookup(ip("81.2.69.142"));
    assert_eq!((london.country, london.city), (Some("GB"), Some("London")));
    assert_eq!(t.lookup(ip("::ffff:81.2.69.142")), london, "IPv4-mapped IPv6 is looked up as IPv4");
    let telstra = t.lookup(ip("1.128.0.1"));
    assert_eq!((telstra.asn, telstra.as_name), (1221, Some("Telstra Pty Ltd")));
    assert_eq!(t.lookup(ip("2001:218::1")).country, Some("JP"));
    assert_eq!(t.lookup(ip("10.0.0.1")), GeoAnswer::default());
    let s = t.stats();
    assert!(s.city_networks > 100 && s.asn_networks > 100 && s.names > 10 && s.bytes > 0, "{s:?}");
}

/// What the `maxminddb` reader itself answers.
fn reference(
    city: &Reader<Vec<u8>>,
    asn: &Reader<Vec<u8>>,
    addr: IpAddr,
) -> (Option<String>, Option<String>, u32, Option<String>) {
    let c = city.lookup(addr).ok().and_then(|l| l.decode::<geoip2::City>().ok().flatten());
    let a = asn.lookup(addr).ok().and_then(|l| l.decode::<geoip2::Asn>().ok().flatten());
    (
        c.as_ref().and_then(|c| c.country.iso_code.map(str::to_owned)),
        c.as_ref().and_then(|c| c.city.names.english.map(str::to_owned)).filter(|n| !n.is_empty()),
        a.as_ref().and_then(|a| a.autonomous_system_number).unwrap_or(0),
        a.as_ref().and_then(|a| a.autonomous_system_organization.map(str::to_owned)),
    )
}

fn ours(t: &GeoTable, addr: IpAddr) -> (Option<String>, Option<String>, u32, Option<String>) {
    let a = t.lookup(addr);
    (a.country.map(str::to_owned), a.city.map(str::to_owned), a.asn, a.as_name.map(str::to_owned))
}

fn readers() -> (Reader<Vec<u8>>, Reader<Vec<u8>>) {
    (
        Reader::from_source(db("GeoIP2-City-Test.mmdb")).expect("city"),
        Reader::from_source(db("GeoLite2-ASN-Test.mmdb")).expect("asn"),
    )
}

#[test]
fn every_network_edge_answers_as_maxminddb_does() {
    let t = table();
    let (city, asn) = readers();
    let mut checked = 0;
    for reader in [&city, &asn] {
        for item in reader.networks(WithinOptions::default()).expect("networks") {
            let net = item.expect("network").network().expect("network");
            let edges: Vec<IpAddr> = match net {
                ipnetwork::IpNetwork::V4(n) => {
                    let (s, e) = (u32::from(n.network()), u32::from(n.broadcast()));
                    [s.wrapping_sub(1), s, s + (e - s) / 2, e, e.wrapping_add(1)]
                        .map(|x| IpAddr::V4(Ipv4Addr::from(x)))
                        .to_vec()
                }
                ipnetwork::IpNetwork::V6(n) => {
                    let s = u128::from(n.network());
                    let e = s | u128::MAX.checked_shr(u32::from(n.prefix())).unwrap_or(0);
                    [s.wrapping_sub(1), s, e, e.wrapping_add(1)].map(|x| IpAddr::V6(Ipv6Addr::from(x))).to_vec()
                }
            };
            for addr in edges {
                assert_eq!(ours(&t, addr), reference(&city, &asn, addr), "{addr} (network {net})");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

/// The IPv6 forms MaxMind databases alias to IPv4 address `a`: IPv4-compatible, 6to4, Teredo (server).
fn aliases(a: u32) -> [IpAddr; 3] {
    let a = u128::from(a);
    [a, (0x2002 << 112) | (a << 80), (0x2001_0000 << 96) | (a << 64) | 0xffff].map(|v| IpAddr::V6(Ipv6Addr::from(v)))
}

#[test]
fn ipv6_aliases_of_ipv4_answer_as_maxminddb_does() {
    let t = table();
    let (city, asn) = readers();
    // MaxMind's own example: 2002:5102:458e:: is 81.2.69.142, London.
    assert_eq!(t.lookup(ip("2002:5102:458e::")).city, Some("London"));
    let mut answered = 0;
    for reader in [&city, &asn] {
        for item in reader.networks(WithinOptions::default()).expect("networks") {
            let ipnetwork::IpNetwork::V4(n) = item.expect("network").network().expect("network") else { continue };
            let (s, e) = (u32::from(n.network()), u32::from(n.broadcast()));
            for addr in [s, s + (e - s) / 2, e].into_iter().flat_map(aliases) {
                let want = reference(&city, &asn, addr);
                assert_eq!(ours(&t, addr), want, "{addr} (network {n})");
                answered += usize::from(want != (None, None, 0, None));
            }
        }
    }
    assert!(answered > 1000, "{answered}");
}

/// Our table and the reference readers for City and ASN.
type Shared = (GeoTable, Reader<Vec<u8>>, Reader<Vec<u8>>);

fn shared() -> &'static Shared {
    static SHARED: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let (city, asn) = readers();
        (table(), city, asn)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_addresses_answer_as_maxminddb_does(v4: u32, v6: u128, pick in 0usize..4) {
        let (t, city, asn) = shared();
        // Bias towards the prefixes the test databases cover.
        let prefixes = [0x0180_0000u32, 0x5102_0000, 0xd5_0000_u32 << 8, 0xca_0000_u32 << 8];
        let v4 = prefixes[pick] | (v4 & 0x000f_ffff);
        let v6 = (0x2001_0218u128 << 96) | (v6 >> 40);
        let [compatible, six_to_four, teredo] = aliases(v4);
        for addr in [IpAddr::V4(Ipv4Addr::from(v4)), IpAddr::V6(Ipv6Addr::from(v6)), compatible, six_to_four, teredo] {
            prop_assert_eq!(ours(t, addr), reference(city, asn, addr), "{}", addr);
        }
    }
}

#[test]
fn corrupt_databases_are_rejected_with_the_database_named() {
    for (file, which) in
        [("GeoIP2-City-Test-Invalid-Node-Count.mmdb", "city"), ("MaxMind-DB-test-broken-pointers-24.mmdb", "city")]
    {
        match GeoTable::build(Some(&db(file)), None) {
            Err(Error::GeoIp { database, detail }) => {
                assert_eq!(database, which);
                assert!(!detail.is_empty());
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    match GeoTable::build(None, Some(b"not a database")) {
        Err(e @ Error::GeoIp { database: "asn", .. }) => assert!(e.to_string().starts_with("asn database: ")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_databases_never_panic() {
    let whole = db("GeoLite2-ASN-Test.mmdb");
    for cut in (0..whole.len()).step_by(97) {
        // Either an error or a (partial) table: never a panic, never an out-of-bounds read.
        if let Ok(t) = GeoTable::build(None, Some(&whole[..cut])) {
            let _ = t.lookup(ip("1.128.0.1"));
        }
    }
    let empty = GeoTable::build(None, None).expect("no databases");
    assert_eq!(empty.lookup(ip("1.128.0.1")), GeoAnswer::default());
}
