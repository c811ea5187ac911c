//! Regression tests on other projects' flow captures (`testdata/public-captures/` of the shared test
//! data, read in place: Akvorado, pmacct, Telegraf, Graylog, nDPI and others, each with its licence
//! there), and the device captures of logstash's codecs: every file decodes without a panic, no flow
//! comes out empty, and the faults found by comparing Helios with Wireshark's dissector record by
//! record stay fixed — doubled IPv4/IPv6 fields, frames carried in the record (IE 315), physical
//! interfaces (IE 252/253).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use helios_core::decode::{Decoder, DecoderConfig};
use helios_core::flow::{Batch, FlowRecord};

fn public(path: &str) -> PathBuf {
    helios_testkit::shared_dir().join("testdata/public-captures").join(path)
}

/// The flows of `files`, decoded in order by one decoder (templates first, then data).
fn flows(files: &[PathBuf]) -> Vec<FlowRecord> {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(1 << 16);
    let mut out = Vec::new();
    for file in files {
        helios_pcap::for_each_udp(file, |d| {
            // Errors are counted by the decoder; records decoded before one are kept.
            let _ = decoder.decode(d.src, d.ts_ns, d.payload, &mut batch);
            out.extend_from_slice(batch.records());
            batch.clear();
        })
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    out
}

/// A flow with nothing in it: no address, no counter.
fn empty(f: &FlowRecord) -> bool {
    f.src_addr.is_unspecified() && f.dst_addr.is_unspecified() && f.bytes == 0 && f.packets == 0
}

fn describe(f: &FlowRecord) -> String {
    format!("{:?} -> {:?} etype {:#x} bytes {} in_if {}", f.src_addr, f.dst_addr, f.etype, f.bytes, f.in_if)
}

#[test]
fn every_public_capture_decodes_without_panic_and_without_empty_flows() {
    let root = public("");
    let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                by_dir.entry(dir.clone()).or_default().push(p);
            }
        }
    }
    let (mut files, mut total) = (0, 0);
    for (dir, mut captures) in by_dir {
        // Template captures before their data: "x-template.pcap" sorts after "x-data.pcap".
        captures.sort_by_key(|p| (!p.to_string_lossy().contains("templ"), p.clone()));
        files += captures.len();
        let decoded = flows(&captures);
        let empties: Vec<String> = decoded.iter().filter(|f| empty(f)).take(3).map(describe).collect();
        assert!(empties.is_empty(), "{}: empty flows, e.g. {empties:?}", dir.display());
        total += decoded.len();
    }
    assert!(files >= 80, "{files} captures under {}", root.display());
    assert!(total > 1000, "{total} flows");
}

/// Records carrying both address families, the unused one zero (pmacct's 400–403 and 501–502 put
/// a zero IPv4 pair after the IPv6 addresses; Akvorado's physicalinterfaces too).
#[test]
fn doubled_address_fields_keep_the_family_in_use() {
    let captures = [
        "akvorado/netflow/physicalinterfaces.pcap",
        "pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources-traffic-00.pcap",
        "pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources-traffic-01.pcap",
        "pmacct/401-IPFIXv10-BMP-IPv6-CISCO-MPLS-multiple-sources-traffic-00.pcap",
        "pmacct/401-IPFIXv10-BMP-IPv6-CISCO-MPLS-multiple-sources-traffic-01.pcap",
        "pmacct/403-IPFIXv10-BMP-IPv6-CISCO-locrib-peerdown-vrf.pcap",
        "pmacct/501-IPFIXv10-BGP-IPv6-CISCO-MPLS.pcap",
        "pmacct/502-IPFIXv10-BGP-IPv6-CISCO-SRv6-lcomms.pcap",
    ];
    let mut checked = 0;
    for capture in captures {
        let decoded = flows(&[public(capture)]);
        for f in &decoded {
            assert!(
                !(f.src_addr.is_unspecified() && f.dst_addr.is_unspecified()) && f.etype != 0,
                "{capture}: {}",
                describe(f)
            );
        }
        checked += decoded.len();
    }
    assert!(checked >= 300, "{checked} flows");
}

/// Procera's IPFIX (logstash's device captures) carries IPv4 and IPv6 fields in every record.
#[test]
fn procera_records_keep_their_ipv4_addresses() {
    let dir = helios_testkit::shared_dir().join("testdata/vendor-captures/netflow");
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(1024);
    let exporter = IpAddr::from([192, 0, 2, 1]);
    for file in ["ipfix_test_procera_tpl52935.dat", "ipfix_test_procera_data52935.dat"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        decoder.decode(exporter, 1, &bytes, &mut batch).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let v4 = batch.records().iter().filter(|f| f.etype == 0x0800).count();
    assert!(v4 >= 6, "{v4} IPv4 flows of {}", batch.len());
    for f in batch.records() {
        assert!(!f.src_addr.is_unspecified() && !f.dst_addr.is_unspecified(), "{}", describe(f));
    }
}

/// Records that carry the packet itself (`dataLinkFrameSection`, IE 315) come out with the frame's
/// addresses and ports, its size as bytes, one packet — through MPLS and a pseudowire's control word
/// to the Ethernet frame it carries, too.
#[test]
fn data_link_frame_sections_are_dissected() {
    for name in ["datalink", "ethernet-over-mpls-with-control-word", "ipfix-srv6", "juniper-cpid"] {
        let dir = Path::new("akvorado/netflow");
        let decoded = flows(&[
            public(&dir.join(format!("{name}-template.pcap")).to_string_lossy()),
            public(&dir.join(format!("{name}-data.pcap")).to_string_lossy()),
        ]);
        assert!(!decoded.is_empty(), "{name}: no flows");
        for f in &decoded {
            assert!(
                !f.src_addr.is_unspecified() && !f.dst_addr.is_unspecified() && f.bytes > 0 && f.packets > 0,
                "{name}: {}",
                describe(f)
            );
        }
    }
}

#[test]
fn physical_interfaces_fill_in_where_logical_ones_are_absent() {
    let decoded = flows(&[public("akvorado/netflow/physicalinterfaces.pcap")]);
    assert!(!decoded.is_empty());
    for f in &decoded {
        assert_ne!(f.in_if, 0, "{}", describe(f));
    }
}
