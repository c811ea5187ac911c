//! JSON lines: one object per flow with goflow2's field names, addresses as text, MACs as
//! `aa:bb:cc:dd:ee:ff`, `type` and `layer_stack` as goflow2's enum names. Numbers stay numbers
//! (`etype`, `proto`), which is what queries and tests want.

use std::io::Write;

use crate::enrich::geoip::{GeoAnswer, GeoTable};
use crate::enrich::inventory::{Exporter, Interface, NetboxSnapshot};
use crate::flow::{Addr, ExtraField, FlowLists, FlowRecord};

/// Appends `rec` (with its `lists`) as one JSON object and a newline to `out`. `extras` (from
/// [`crate::flow::Batch::extra_fields`]) are written under `"extra"`, keyed `"<pen>.<id>"`, as hex.
///
/// With [`Enrichment::geo`], the source and destination addresses are looked up and `src_country`,
/// `src_city`, `src_as_name` (and `dst_*`) are added; `src_as` / `dst_as` the exporter left at 0 are
/// filled in. With [`Enrichment::netbox`], the exporter's labels (`exporter_device`, `exporter_site`,
/// ... the FR-018 taxonomy, and `exporter_tenant`), its interfaces (`in_if_name`,
/// `in_if_description`, `in_if_speed` in bit/s, `out_if_*`) and the NetBox prefixes of both addresses
/// (`src_prefix_tenant`, `src_prefix_role`, `dst_prefix_*`) are added.
pub fn write_record<'a>(
    rec: &FlowRecord,
    lists: &FlowLists,
    extras: impl Iterator<Item = (&'a ExtraField, &'a [u8])>,
    enrich: Enrichment<'_>,
    out: &mut Vec<u8>,
) {
    let geo = enrich.geo;
    let look = |a: &Addr| geo.zip(a.ip()).map(|(g, ip)| g.lookup(ip)).unwrap_or_default();
    let (src, dst) = (look(&rec.src_addr), look(&rec.dst_addr));
    let or_geo = |asn: u32, g: &GeoAnswer<'_>| if asn == 0 { g.asn } else { asn };
    // Writing to a Vec cannot fail; the results are ignored for that reason.
    let w = out;
    let _ = write!(w, r#"{{"type":"{}","time_received_ns":{}"#, rec.flow_type.as_str(), rec.time_received_ns);
    let _ = write!(w, r#","sequence_num":{},"sampling_rate":{}"#, rec.sequence_num, rec.sampling_rate);
    addr(w, "sampler_address", &rec.sampler_address);
    let _ = write!(
        w,
        r#","time_flow_start_ns":{},"time_flow_end_ns":{},"bytes":{},"packets":{}"#,
        rec.time_flow_start_ns, rec.time_flow_end_ns, rec.bytes, rec.packets
    );
    addr(w, "src_addr", &rec.src_addr);
    addr(w, "dst_addr", &rec.dst_addr);
    let _ = write!(
        w,
        r#","etype":{},"proto":{},"src_port":{},"dst_port":{}"#,
        rec.etype, rec.proto, rec.src_port, rec.dst_port
    );
    let _ = write!(w, r#","in_if":{},"out_if":{}"#, rec.in_if, rec.out_if);
    mac(w, "src_mac", rec.src_mac);
    mac(w, "dst_mac", rec.dst_mac);
    for (k, v) in [
        ("src_vlan", u32::from(rec.src_vlan)),
        ("dst_vlan", rec.dst_vlan.into()),
        ("vlan_id", rec.vlan_id.into()),
        ("ip_tos", rec.ip_tos.into()),
        ("forwarding_status", rec.forwarding_status.into()),
        ("ip_ttl", rec.ip_ttl.into()),
        ("ip_flags", rec.ip_flags.into()),
        ("tcp_flags", rec.tcp_flags.into()),
        ("icmp_type", rec.icmp_type.into()),
        ("icmp_code", rec.icmp_code.into()),
        ("ipv6_flow_label", rec.ipv6_flow_label),
        ("fragment_id", rec.fragment_id),
        ("fragment_offset", rec.fragment_offset.into()),
        ("src_as", or_geo(rec.src_as, &src)),
        ("dst_as", or_geo(rec.dst_as, &dst)),
    ] {
        let _ = write!(w, r#","{k}":{v}"#);
    }
    addr(w, "next_hop", &rec.next_hop);
    let _ = write!(w, r#","next_hop_as":{},"src_net":{},"dst_net":{}"#, rec.next_hop_as, rec.src_net, rec.dst_net);
    addr(w, "bgp_next_hop", &rec.bgp_next_hop);
    list(w, "bgp_communities", lists.bgp_communities.as_slice());
    list(w, "as_path", lists.as_path.as_slice());
    list(w, "mpls_ttl", lists.mpls_ttl.as_slice());
    list(w, "mpls_label", rec.mpls_label.as_slice());
    addr_list(w, "mpls_ip", lists.mpls_ip.as_slice());
    let _ = write!(
        w,
        r#","observation_domain_id":{},"observation_point_id":{},"layer_stack":["#,
        rec.observation_domain_id, rec.observation_point_id
    );
    for (i, l) in rec.layer_stack.iter().enumerate() {
        let _ = write!(w, r#"{}"{}""#, if i == 0 { "" } else { "," }, l.as_str());
    }
    w.push(b']');
    addr_list(w, "ipv6_routing_header_addresses", lists.ipv6_routing_header_addresses.as_slice());
    let _ = write!(w, r#","ipv6_routing_header_seg_left":{}"#, rec.ipv6_routing_header_seg_left);
    if geo.is_some() {
        for (side, g) in [("src", &src), ("dst", &dst)] {
            text(w, side, "country", g.country);
            text(w, side, "city", g.city);
            text(w, side, "as_name", g.as_name);
        }
    }
    if let Some(nb) = enrich.netbox {
        netbox(w, nb, rec);
    }
    let mut extras = extras.peekable();
    if extras.peek().is_some() {
        w.extend_from_slice(br#","extra":{"#);
        for (i, (f, v)) in extras.enumerate() {
            let _ = write!(w, r#"{}"{}.{}":""#, if i == 0 { "" } else { "," }, f.pen, f.id);
            for b in v {
                let _ = write!(w, "{b:02x}");
            }
            w.push(b'"');
        }
        w.push(b'}');
    }
    w.extend_from_slice(b"}\n");
}

/// What the JSON writer adds to each flow.
#[derive(Debug, Clone, Copy, Default)]
pub struct Enrichment<'a> {
    /// GeoIP / ASN tables.
    pub geo: Option<&'a GeoTable>,
    /// The NetBox snapshot.
    pub netbox: Option<&'a NetboxSnapshot>,
}

fn netbox(w: &mut Vec<u8>, nb: &NetboxSnapshot, rec: &FlowRecord) {
    let exporter: Option<Exporter<'_>> = rec.sampler_address.ip().and_then(|ip| nb.exporter(ip));
    let device = exporter.map(|e| e.device);
    let labels = device.map(|d| d.labels.pairs());
    for (i, name) in crate::enrich::labels::LABEL_NAMES.into_iter().enumerate() {
        text(w, "exporter", name, labels.map(|l| l[i].1).filter(|v| !v.is_empty()));
    }
    text(w, "exporter", "tenant", device.map(|d| d.tenant.as_str()).filter(|v| !v.is_empty()));
    for (side, index) in [("in_if", rec.in_if), ("out_if", rec.out_if)] {
        let itf: Option<&Interface> = exporter.and_then(|e| e.interface(index));
        text(w, side, "name", itf.map(|i| i.name.as_str()));
        text(w, side, "description", itf.map(|i| i.description.as_str()).filter(|v| !v.is_empty()));
        let _ = write!(w, r#","{side}_speed":{}"#, itf.map_or(0, |i| i.speed_kbps.saturating_mul(1000)));
    }
    for (side, a) in [("src", &rec.src_addr), ("dst", &rec.dst_addr)] {
        let p = a.ip().and_then(|ip| nb.prefix(ip));
        text(w, side, "prefix_tenant", p.map(|p| p.tenant.as_str()).filter(|v| !v.is_empty()));
        text(w, side, "prefix_role", p.map(|p| p.role.as_str()).filter(|v| !v.is_empty()));
    }
}

/// `"<side>_<key>": "<value>"` (JSON-escaped), or `null`.
fn text(w: &mut Vec<u8>, side: &str, key: &str, value: Option<&str>) {
    let _ = write!(w, r#","{side}_{key}":"#);
    match value {
        // serde_json escapes names from the database (quotes, control characters).
        Some(v) => {
            let _ = serde_json::to_writer(&mut *w, v);
        }
        None => w.extend_from_slice(b"null"),
    }
}

fn addr(w: &mut Vec<u8>, key: &str, a: &Addr) {
    match a.ip() {
        Some(ip) => {
            let _ = write!(w, r#","{key}":"{ip}""#);
        }
        None => {
            let _ = write!(w, r#","{key}":null"#);
        }
    }
}

fn addr_list(w: &mut Vec<u8>, key: &str, a: &[Addr]) {
    let _ = write!(w, r#","{key}":["#);
    for (i, x) in a.iter().enumerate() {
        let _ = write!(w, r#"{}"{x}""#, if i == 0 { "" } else { "," });
    }
    w.push(b']');
}

fn mac(w: &mut Vec<u8>, key: &str, m: u64) {
    let b = m.to_be_bytes();
    let _ = write!(w, r#","{key}":"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}""#, b[2], b[3], b[4], b[5], b[6], b[7]);
}

fn list<T: std::fmt::Display>(w: &mut Vec<u8>, key: &str, v: &[T]) {
    let _ = write!(w, r#","{key}":["#);
    for (i, x) in v.iter().enumerate() {
        let _ = write!(w, "{}{x}", if i == 0 { "" } else { "," });
    }
    w.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Batch, FlowType, Layer};

    #[test]
    fn a_record_is_one_valid_json_line_with_goflow2_names() {
        let mut rec = FlowRecord {
            flow_type: FlowType::Ipfix,
            src_addr: Addr::v4([10, 0, 0, 1]),
            src_mac: 0x0050_56c0_0001,
            bytes: 42,
            ..FlowRecord::default()
        };
        let mut lists = FlowLists::EMPTY;
        lists.as_path.push(65000);
        lists.as_path.push(65001);
        rec.layer_stack.push(Layer::IPv4);
        lists.mpls_ip.push(Addr::v4([1, 1, 1, 1]));
        let mut batch = Batch::with_capacity(1);
        batch.push(&rec);
        batch.push_extra(5951, 128, b"/a");
        let mut out = Vec::new();
        let r = &batch.records()[0];
        write_record(r, &lists, batch.extra_fields(r), Enrichment::default(), &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["type"], "IPFIX");
        assert_eq!(v["src_addr"], "10.0.0.1");
        assert_eq!(v["dst_addr"], serde_json::Value::Null);
        assert_eq!(v["src_mac"], "00:50:56:c0:00:01");
        assert_eq!(v["bytes"], 42);
        assert_eq!(v["as_path"], serde_json::json!([65000, 65001]));
        assert_eq!(v["layer_stack"], serde_json::json!(["IPv4"]));
        assert_eq!(v["mpls_ip"], serde_json::json!(["1.1.1.1"]));
        assert_eq!(v["extra"]["5951.128"], "2f61");
    }
}
