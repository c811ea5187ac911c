//! Country, city, ASN and AS name of an address, from MaxMind databases (GeoIP2 / GeoLite2 City and
//! ASN). A database is read once, from its bytes (memory-mapped by the caller), and compiled into flat
//! range tables with interned names, so a lookup is a few memory reads and never decodes MMDB data.
//!
//! The City and ASN databases are overlaid into one table per address family, so one lookup answers
//! both. IPv6 addresses that MaxMind databases alias to their IPv4 data are looked up as IPv4, as
//! `maxminddb` answers them: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), 6to4
//! (`2002:AABB:CCDD::/48`: a.b.c.d in bits 16–48) and Teredo (`2001:0:AABB:CCDD::`: the server's
//! address in bits 32–64). A corrupt or truncated database is an error and builds nothing: the caller
//! keeps what it had.

use std::net::IpAddr;

use maxminddb::{Reader, WithinOptions, geoip2};
use rustc_hash::FxHashMap;

use super::ranges::{AddrTable, Networks};
use crate::error::{Error, Result};

/// What a lookup found. Absent parts are `None` / 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GeoAnswer<'t> {
    /// ISO 3166-1 alpha-2 country code (`"GB"`).
    pub country: Option<&'t str>,
    /// City name, in English.
    pub city: Option<&'t str>,
    /// Autonomous system number (0: unknown).
    pub asn: u32,
    /// Autonomous system organisation.
    pub as_name: Option<&'t str>,
}

/// What a table holds, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GeoStats {
    /// City database networks (IPv4 + IPv6).
    pub city_networks: usize,
    /// ASN database networks.
    pub asn_networks: usize,
    /// Distinct names interned (countries, cities, AS names).
    pub names: usize,
    /// Ranges of the overlaid lookup tables.
    pub ranges: usize,
    /// Bytes of the compiled tables.
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Place {
    country: u32,
    city: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct AsInfo {
    asn: u32,
    name: u32,
}

/// One distinct answer: a place and an AS (either may be absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Answer {
    place: Place,
    asn: AsInfo,
}

/// Compiled GeoIP and ASN tables. Immutable: share it behind an `Arc` / `ArcSwap`.
#[derive(Debug, Default)]
pub struct GeoTable {
    table: AddrTable,
    answers: Vec<Answer>,
    /// Interned names; id 0 is "none".
    names: Vec<Box<str>>,
    city_networks: usize,
    asn_networks: usize,
}

impl GeoTable {
    /// Compiles the City database `city` and the ASN database `asn` (either may be absent).
    pub fn build(city_db: Option<&[u8]>, asn_db: Option<&[u8]>) -> Result<GeoTable> {
        let mut names = Interner::default();
        let mut places: Vec<Place> = Vec::new();
        let mut ases: Vec<AsInfo> = Vec::new();
        let (mut city, mut asn) = (AddrTable::default(), AddrTable::default());
        if let Some(bytes) = city_db {
            let mut ids: FxHashMap<Place, u32> = FxHashMap::default();
            city = networks(bytes, "city", |lookup| {
                let Some(rec) = lookup.decode::<geoip2::City>()? else { return Ok(None) };
                let place = Place { country: names.id(rec.country.iso_code), city: names.id(rec.city.names.english) };
                Ok((place != Place::default()).then(|| intern(&mut ids, &mut places, place)))
            })?;
        }
        if let Some(bytes) = asn_db {
            let mut ids: FxHashMap<AsInfo, u32> = FxHashMap::default();
            asn = networks(bytes, "asn", |lookup| {
                let Some(rec) = lookup.decode::<geoip2::Asn>()? else { return Ok(None) };
                let info = AsInfo {
                    asn: rec.autonomous_system_number.unwrap_or(0),
                    name: names.id(rec.autonomous_system_organization),
                };
                Ok((info != AsInfo::default()).then(|| intern(&mut ids, &mut ases, info)))
            })?;
        }
        let mut answers = Vec::new();
        let mut ids: FxHashMap<Answer, u32> = FxHashMap::default();
        let mut combine = |p: Option<u32>, a: Option<u32>| {
            let answer = Answer {
                place: p.and_then(|i| places.get(i as usize)).copied().unwrap_or_default(),
                asn: a.and_then(|i| ases.get(i as usize)).copied().unwrap_or_default(),
            };
            intern(&mut ids, &mut answers, answer)
        };
        let table = AddrTable::overlay(&city, &asn, &mut combine);
        Ok(GeoTable { table, answers, names: names.into_names(), city_networks: city.len(), asn_networks: asn.len() })
    }

    /// What the tables know about `ip`.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> GeoAnswer<'_> {
        self.answer(self.answer_id(ip))
    }

    /// The id of the answer for `ip`, to keep with a flow and resolve later with [`Self::answer`]
    /// (ids are only meaningful for this table).
    #[inline]
    pub fn answer_id(&self, ip: IpAddr) -> Option<u32> {
        self.table.get(ipv4_alias(ip))
    }

    /// The answer an [`Self::answer_id`] stands for (empty for `None` or an unknown id).
    pub fn answer(&self, id: Option<u32>) -> GeoAnswer<'_> {
        let a = id.and_then(|i| self.answers.get(i as usize)).copied().unwrap_or_default();
        GeoAnswer {
            country: self.name(a.place.country),
            city: self.name(a.place.city),
            asn: a.asn.asn,
            as_name: self.name(a.asn.name),
        }
    }

    fn name(&self, id: u32) -> Option<&str> {
        if id == 0 { None } else { self.names.get(id as usize).map(|n| &**n) }
    }

    /// Sizes, for logs and metrics.
    pub fn stats(&self) -> GeoStats {
        GeoStats {
            city_networks: self.city_networks,
            asn_networks: self.asn_networks,
            names: self.names.len().saturating_sub(1),
            ranges: self.table.len(),
            bytes: self.table.heap_bytes()
                + self.answers.capacity() * size_of::<Answer>()
                + self.names.iter().map(|n| n.len() + size_of::<Box<str>>()).sum::<usize>(),
        }
    }
}

/// Walks every network of the database in `bytes`, mapping each to a value id with `value`, into a
/// range table.
fn networks<'a>(
    bytes: &'a [u8],
    database: &'static str,
    mut value: impl for<'r> FnMut(
        &maxminddb::LookupResult<'r, &'a [u8]>,
    ) -> std::result::Result<Option<u32>, maxminddb::MaxMindDbError>,
) -> Result<AddrTable> {
    let err = |e: maxminddb::MaxMindDbError| Error::GeoIp { database, detail: e.to_string() };
    let reader = Reader::from_source(bytes).map_err(err)?;
    let mut nets = Networks::default();
    for item in reader.networks(WithinOptions::default()).map_err(err)? {
        let lookup = item.map_err(err)?;
        let Some(id) = value(&lookup).map_err(err)? else { continue };
        nets.push(lookup.network().map_err(err)?, id);
    }
    Ok(AddrTable::disjoint(nets))
}

/// The IPv4 address a MaxMind database answers for `ip` when `ip` is one of the IPv6 ranges it aliases
/// to its IPv4 tree (`::/96`, `2002::/16`, `2001::/32`); `ip` itself otherwise (IPv4-mapped addresses
/// are the range table's own concern).
#[inline]
fn ipv4_alias(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let bits = u128::from(v6);
    let v4 = if bits >> 32 == 0 {
        bits as u32
    } else if bits >> 112 == 0x2002 {
        (bits >> 80) as u32
    } else if bits >> 96 == 0x2001_0000 {
        (bits >> 64) as u32
    } else {
        return ip;
    };
    IpAddr::V4(v4.into())
}

/// The id of `value` in `values`, adding it if new.
fn intern<T: Copy + Eq + std::hash::Hash>(ids: &mut FxHashMap<T, u32>, values: &mut Vec<T>, value: T) -> u32 {
    *ids.entry(value).or_insert_with(|| {
        values.push(value);
        (values.len() - 1) as u32
    })
}

/// Interns names; id 0 is reserved for "none".
#[derive(Default)]
struct Interner {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, name: Option<&str>) -> u32 {
        let Some(name) = name.filter(|n| !n.is_empty()) else { return 0 };
        if self.names.is_empty() {
            self.names.push("".into());
        }
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn into_names(mut self) -> Vec<Box<str>> {
        if self.names.is_empty() {
            self.names.push("".into());
        }
        self.names
    }
}
