//! ClickHouse `RowBinary` rows for the `flows_raw` table: one enriched flow per row, appended to a
//! caller's buffer, so a whole batch becomes one `INSERT ... FORMAT RowBinary` body.
//!
//! [`FLOW_COLUMNS`] is the table's column list, defined here beside the encoder that must match it;
//! the ClickHouse adapter builds its schema from it. Addresses are stored as `IPv6` (IPv4 as
//! `::ffff:a.b.c.d`, absent as `::`), times as `DateTime64(9)`, labels as `String` (empty when
//! unknown). `bytes` and `packets` are normalised by the sampling rate — what every
//! dashboard sums — and `raw_bytes` / `raw_packets` keep what the exporter sent.

use super::leb128;
use crate::enrich::enricher::Enriched;
use crate::enrich::geoip::GeoAnswer;
use crate::enrich::inventory::{Device, Interface, Prefix};
use crate::enrich::published::Snapshot;
use crate::flow::{Addr, FlowLists, FlowRecord};

/// One column of `flows_raw`: name, ClickHouse type and its compression codec when `flows_raw` is
/// compressed for size (the adapter's `raw_codec = zstd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// ClickHouse type.
    pub ty: &'static str,
    /// `CODEC(...)` arguments.
    pub codec: &'static str,
    /// How its values are laid out (derived from the type).
    pub layout: Layout,
}

/// How a column's values are laid out, in `RowBinary` and in `Native` alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A fixed number of little-endian bytes (integers, `Enum8`, `DateTime64`, `IPv6`).
    Fixed(u8),
    /// A LEB128 length, then the bytes.
    String,
    /// `Array(UInt32)`: in a row, a LEB128 count then the elements; in `Native`, cumulative `UInt64`
    /// offsets, then all the elements.
    ArrayU32,
}

const fn col(name: &'static str, ty: &'static str, codec: &'static str) -> Column {
    Column { name, ty, codec, layout: layout_of(ty) }
}

/// The layout of a column type; a type without one does not compile (`FLOW_COLUMNS` is a constant).
const fn layout_of(ty: &str) -> Layout {
    const FIXED: [(&str, u8); 7] =
        [(TIME, 8), (FLOW_TYPE, 1), ("UInt8", 1), ("UInt16", 2), ("UInt32", 4), ("UInt64", 8), ("IPv6", 16)];
    let mut i = 0;
    while i < FIXED.len() {
        if same(ty, FIXED[i].0) {
            return Layout::Fixed(FIXED[i].1);
        }
        i += 1;
    }
    if same(ty, "String") {
        Layout::String
    } else if same(ty, "Array(UInt32)") {
        Layout::ArrayU32
    } else {
        panic!("a flows_raw column type without a known layout")
    }
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const TIME: &str = "DateTime64(9, 'UTC')";
/// Labels are plain `String`s in `flows_raw`: ClickHouse parses `LowCardinality` columns from
/// RowBinary about 3× slower (228K vs 664K rows/s for this table in one insert thread, measured with
/// chdb 26.9, `perf/README.md`), and ZSTD compresses the repeated values as well. The aggregate tables,
/// which dashboards group by, keep them `LowCardinality`.
const LABEL: &str = "String";
const FLOW_TYPE: &str = "Enum8('FLOWUNKNOWN' = 0, 'SFLOW_5' = 1, 'NETFLOW_V5' = 2, 'NETFLOW_V9' = 3, 'IPFIX' = 4)";

/// The columns of `flows_raw`, in the order [`write_row`] writes them.
pub const FLOW_COLUMNS: &[Column] = &[
    col("time_received", TIME, "DoubleDelta, ZSTD(1)"),
    col("time_flow_start", TIME, "DoubleDelta, ZSTD(1)"),
    col("time_flow_end", TIME, "DoubleDelta, ZSTD(1)"),
    col("type", FLOW_TYPE, "ZSTD(1)"),
    col("sequence_num", "UInt32", "Delta(4), ZSTD(1)"),
    col("sampling_rate", "UInt64", "ZSTD(1)"),
    col("sampler_address", "IPv6", "ZSTD(1)"),
    col("src_addr", "IPv6", "ZSTD(1)"),
    col("dst_addr", "IPv6", "ZSTD(1)"),
    col("src_net", "UInt8", "ZSTD(1)"),
    col("dst_net", "UInt8", "ZSTD(1)"),
    col("bytes", "UInt64", "ZSTD(1)"),
    col("packets", "UInt64", "ZSTD(1)"),
    col("raw_bytes", "UInt64", "ZSTD(1)"),
    col("raw_packets", "UInt64", "ZSTD(1)"),
    col("etype", "UInt16", "ZSTD(1)"),
    col("proto", "UInt8", "ZSTD(1)"),
    col("src_port", "UInt16", "ZSTD(1)"),
    col("dst_port", "UInt16", "ZSTD(1)"),
    col("in_if", "UInt32", "ZSTD(1)"),
    col("out_if", "UInt32", "ZSTD(1)"),
    col("src_mac", "UInt64", "ZSTD(1)"),
    col("dst_mac", "UInt64", "ZSTD(1)"),
    col("src_vlan", "UInt16", "ZSTD(1)"),
    col("dst_vlan", "UInt16", "ZSTD(1)"),
    col("ip_tos", "UInt8", "ZSTD(1)"),
    col("ip_ttl", "UInt8", "ZSTD(1)"),
    col("tcp_flags", "UInt16", "ZSTD(1)"),
    col("icmp_type", "UInt8", "ZSTD(1)"),
    col("icmp_code", "UInt8", "ZSTD(1)"),
    col("forwarding_status", "UInt8", "ZSTD(1)"),
    col("src_as", "UInt32", "ZSTD(1)"),
    col("dst_as", "UInt32", "ZSTD(1)"),
    col("next_hop_as", "UInt32", "ZSTD(1)"),
    col("next_hop", "IPv6", "ZSTD(1)"),
    col("bgp_next_hop", "IPv6", "ZSTD(1)"),
    col("as_path", "Array(UInt32)", "ZSTD(1)"),
    col("bgp_communities", "Array(UInt32)", "ZSTD(1)"),
    col("mpls_labels", "Array(UInt32)", "ZSTD(1)"),
    col("exporter_device", LABEL, "ZSTD(1)"),
    col("exporter_site", LABEL, "ZSTD(1)"),
    col("exporter_region", LABEL, "ZSTD(1)"),
    col("exporter_vendor", LABEL, "ZSTD(1)"),
    col("exporter_platform", LABEL, "ZSTD(1)"),
    col("exporter_role", LABEL, "ZSTD(1)"),
    col("exporter_tier", LABEL, "ZSTD(1)"),
    col("exporter_tenant", LABEL, "ZSTD(1)"),
    col("in_if_name", LABEL, "ZSTD(1)"),
    col("in_if_description", LABEL, "ZSTD(1)"),
    col("in_if_speed", "UInt64", "ZSTD(1)"),
    col("out_if_name", LABEL, "ZSTD(1)"),
    col("out_if_description", LABEL, "ZSTD(1)"),
    col("out_if_speed", "UInt64", "ZSTD(1)"),
    col("src_country", LABEL, "ZSTD(1)"),
    col("src_city", LABEL, "ZSTD(1)"),
    col("src_as_name", LABEL, "ZSTD(1)"),
    col("dst_country", LABEL, "ZSTD(1)"),
    col("dst_city", LABEL, "ZSTD(1)"),
    col("dst_as_name", LABEL, "ZSTD(1)"),
    col("src_prefix_tenant", LABEL, "ZSTD(1)"),
    col("src_prefix_role", LABEL, "ZSTD(1)"),
    col("dst_prefix_tenant", LABEL, "ZSTD(1)"),
    col("dst_prefix_role", LABEL, "ZSTD(1)"),
];

/// Bytes of a row's fixed-width columns (everything but arrays and strings).
const FIXED_WIDTH: usize = 205;

/// The column names, comma-separated, for `INSERT INTO flows_raw (...)`.
pub fn column_names() -> String {
    FLOW_COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Appends the `RowBinaryWithNamesAndTypes` header of [`FLOW_COLUMNS`] (count, names, types): rows
/// written by [`write_row`] after it form a self-describing message, which ClickHouse matches to a
/// table's columns by name.
pub fn write_header(out: &mut Vec<u8>) {
    let w = &mut Row(out);
    w.len(FLOW_COLUMNS.len());
    for c in FLOW_COLUMNS {
        w.str(c.name);
    }
    for c in FLOW_COLUMNS {
        w.str(c.ty);
    }
}

/// Appends `rec` (with its `lists` and its enrichment `e`, resolved in `snapshot` — the snapshot
/// [`crate::enrich::enricher::enrich`] used) to `out` as one `RowBinary` row of [`FLOW_COLUMNS`].
pub fn write_row(rec: &FlowRecord, lists: &FlowLists, e: &Enriched, snapshot: &Snapshot, out: &mut Vec<u8>) {
    let nb = snapshot.netbox.as_deref();
    let geo = snapshot.geo.as_deref();
    let answer = |id: Option<u32>| geo.map(|g| g.answer(id)).unwrap_or_default();
    let (src, dst): (GeoAnswer<'_>, GeoAnswer<'_>) = (answer(e.src_geo), answer(e.dst_geo));
    let device: Option<&Device> = nb.zip(e.exporter).and_then(|(nb, i)| nb.device(i));
    let interface = |i: Option<u32>| -> Option<&Interface> { nb.zip(i).and_then(|(nb, i)| nb.interface(i)) };
    let prefix = |i: Option<u32>| -> Option<&Prefix> { nb.zip(i).and_then(|(nb, i)| nb.prefix_at(i)) };

    // The fixed-width columns are assembled on the stack and appended in one copy.
    let mut f = Fixed { buf: [0; FIXED_WIDTH], at: 0 };
    f.put(&time(rec.time_received_ns));
    f.put(&time(rec.time_flow_start_ns));
    f.put(&time(rec.time_flow_end_ns));
    f.put(&[rec.flow_type as u8]);
    f.put(&rec.sequence_num.to_le_bytes());
    f.put(&rec.sampling_rate.to_le_bytes());
    f.put(&ipv6(&rec.sampler_address));
    f.put(&ipv6(&rec.src_addr));
    f.put(&ipv6(&rec.dst_addr));
    f.put(&[rec.src_net, rec.dst_net]);
    f.put(&e.bytes.to_le_bytes());
    f.put(&e.packets.to_le_bytes());
    f.put(&rec.bytes.to_le_bytes());
    f.put(&rec.packets.to_le_bytes());
    f.put(&rec.etype.to_le_bytes());
    f.put(&[rec.proto]);
    f.put(&rec.src_port.to_le_bytes());
    f.put(&rec.dst_port.to_le_bytes());
    f.put(&rec.in_if.to_le_bytes());
    f.put(&rec.out_if.to_le_bytes());
    f.put(&rec.src_mac.to_le_bytes());
    f.put(&rec.dst_mac.to_le_bytes());
    f.put(&rec.src_vlan.to_le_bytes());
    f.put(&rec.dst_vlan.to_le_bytes());
    f.put(&[rec.ip_tos, rec.ip_ttl]);
    f.put(&rec.tcp_flags.to_le_bytes());
    f.put(&[rec.icmp_type, rec.icmp_code, rec.forwarding_status]);
    // An AS the exporter left at 0 comes from the ASN database, as in the JSON output.
    f.put(&(if rec.src_as == 0 { src.asn } else { rec.src_as }).to_le_bytes());
    f.put(&(if rec.dst_as == 0 { dst.asn } else { rec.dst_as }).to_le_bytes());
    f.put(&rec.next_hop_as.to_le_bytes());
    f.put(&ipv6(&rec.next_hop));
    f.put(&ipv6(&rec.bgp_next_hop));
    debug_assert_eq!(f.at, FIXED_WIDTH);
    out.reserve(FIXED_WIDTH + 256);
    out.extend_from_slice(&f.buf);
    let w = &mut Row(out);
    w.u32s(lists.as_path.as_slice());
    w.u32s(lists.bgp_communities.as_slice());
    w.u32s(rec.mpls_label.as_slice());
    for (_, value) in device.map(|d| d.labels.pairs()).unwrap_or_default() {
        w.str(value);
    }
    w.str(device.map_or("", |d| &d.tenant));
    for itf in [interface(e.in_if), interface(e.out_if)] {
        w.str(itf.map_or("", |i| &i.name));
        w.str(itf.map_or("", |i| &i.description));
        w.u64(itf.map_or(0, |i| i.speed_kbps.saturating_mul(1000)));
    }
    for g in [&src, &dst] {
        w.str(g.country.unwrap_or(""));
        w.str(g.city.unwrap_or(""));
        w.str(g.as_name.unwrap_or(""));
    }
    for p in [prefix(e.src_prefix), prefix(e.dst_prefix)] {
        w.str(p.map_or("", |p| &p.tenant));
        w.str(p.map_or("", |p| &p.role));
    }
}

/// The fixed-width part of a row, written at increasing offsets.
struct Fixed {
    buf: [u8; FIXED_WIDTH],
    at: usize,
}

impl Fixed {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        // Offsets are constants after inlining; the bounds check folds away.
        if let Some(slot) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

/// `DateTime64(9)`: signed nanoseconds; times past 2262 saturate.
#[inline(always)]
fn time(ns: u64) -> [u8; 8] {
    i64::try_from(ns).unwrap_or(i64::MAX).to_le_bytes()
}

/// `IPv6`: sixteen bytes in network order; IPv4 as `::ffff:a.b.c.d`, absent as `::`.
#[inline(always)]
fn ipv6(a: &Addr) -> [u8; 16] {
    match *a.as_bytes() {
        [a, b, c, d] => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d],
        [] => [0; 16],
        ref v6 => <[u8; 16]>::try_from(v6).unwrap_or([0; 16]),
    }
}

/// RowBinary primitives: little-endian integers, LEB128 lengths.
pub(crate) struct Row<'a>(pub(crate) &'a mut Vec<u8>);

impl Row<'_> {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn len(&mut self, n: usize) {
        leb128::write(self.0, n as u64);
    }

    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        // Labels are short: a one-byte length is the rule, LEB128 the exception.
        match u8::try_from(s.len()) {
            Ok(n) if n < 0x80 => self.0.push(n),
            _ => self.len(s.len()),
        }
        self.0.extend_from_slice(s.as_bytes());
    }

    fn u32s(&mut self, v: &[u32]) {
        self.len(v.len());
        for x in v {
            self.u32(*x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowType;

    #[test]
    fn an_unenriched_row_has_the_fixed_layout() {
        let rec = FlowRecord {
            flow_type: FlowType::NetflowV9,
            time_received_ns: 1_700_000_000_000_000_000,
            src_addr: Addr::v4([10, 0, 0, 1]),
            dst_addr: Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            bytes: 100,
            ..FlowRecord::default()
        };
        let e = Enriched { bytes: 1000, packets: 0, ..Enriched::default() };
        let mut out = Vec::new();
        write_row(&rec, &FlowLists::EMPTY, &e, &Snapshot::default(), &mut out);
        assert_eq!(out[..8], 1_700_000_000_000_000_000i64.to_le_bytes());
        assert_eq!(out[24], FlowType::NetflowV9 as u8);
        // sampler_address (absent) then src_addr, IPv4-mapped.
        let src = 24 + 1 + 4 + 8 + 16;
        assert_eq!(out[src - 16..src], [0; 16]);
        assert_eq!(out[src..src + 16], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
        assert_eq!(out[src + 16], 0x20);
        let bytes = src + 32 + 2;
        assert_eq!(out[bytes..bytes + 8], 1000u64.to_le_bytes());
        assert_eq!(out[bytes + 16..bytes + 24], 100u64.to_le_bytes());
        // Fixed-width columns, 3 empty arrays, then the enrichment columns, all empty: 8 exporter
        // labels, 2 × (name, description, speed), 6 GeoIP and 4 prefix columns.
        let enrichment = 8 + 2 * (1 + 1 + 8) + 6 + 4;
        assert_eq!(out.len(), 205 + 3 + enrichment);
        assert!(out[out.len() - enrichment..].iter().all(|&b| b == 0));
    }

    #[test]
    fn lengths_are_leb128() {
        let mut out = Vec::new();
        Row(&mut out).len(300);
        assert_eq!(out, [0xac, 0x02]);
        let mut out = Vec::new();
        Row(&mut out).str(&"x".repeat(127));
        assert_eq!(out[0], 127);
        assert_eq!(out.len(), 128);
    }

    #[test]
    fn the_header_lists_names_then_types() {
        let mut out = Vec::new();
        write_header(&mut out);
        assert_eq!(usize::from(out[0]), FLOW_COLUMNS.len());
        assert_eq!(&out[1..15], b"\x0dtime_received");
        let types = out.windows(21).position(|w| w == b"\x14DateTime64(9, 'UTC')").expect("first type");
        let names_len: usize = FLOW_COLUMNS.iter().map(|c| 1 + c.name.len()).sum();
        assert_eq!(types, 1 + names_len);
    }

    #[test]
    fn the_fixed_width_part_is_the_leading_fixed_columns() {
        let fixed: usize = FLOW_COLUMNS
            .iter()
            .map_while(|c| match c.layout {
                Layout::Fixed(w) => Some(usize::from(w)),
                Layout::String | Layout::ArrayU32 => None,
            })
            .sum();
        assert_eq!(fixed, FIXED_WIDTH);
    }

    #[test]
    fn column_names_follow_the_column_list() {
        let names = column_names();
        assert!(names.starts_with("time_received, time_flow_start"));
        assert_eq!(names.split(", ").count(), FLOW_COLUMNS.len());
    }
}
