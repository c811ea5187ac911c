//! Real devices' datagrams (testdata/vendor-captures, Apache-2.0, from logstash-codec-netflow and
//! logstash-codec-sflow) decode without error and with the values the upstream project's own spec
//! (`spec/codecs/netflow_spec.rb`) expects. Flow indices below skip option records, which upstream
//! emits as events and Helios applies to its exporter state instead.

use std::net::IpAddr;
use std::path::PathBuf;

use helios_core::decode::{Decoder, DecoderConfig, Protocol};
use helios_core::error::{Error, Reason};
use helios_core::flow::{Batch, FlowRecord, FlowType};

const MS: u64 = 1_000_000;

fn capture(name: &str) -> Vec<u8> {
    let dir = if name.starts_with("sflow") { "sflow" } else { "netflow" };
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "vendor-captures", dir, name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Decoded {
    batch: Batch,
    errors: Vec<Error>,
    decoder: Decoder,
}

impl Decoded {
    fn flow(&self, i: usize) -> &FlowRecord {
        &self.batch.records()[i]
    }
}

/// Decodes `files` in order, as one exporter, into one batch.
fn decode(files: &[&str]) -> Decoded {
    let mut decoder = Decoder::new(DecoderConfig { keep_extra_fields: true, ..DecoderConfig::default() });
    let mut batch = Batch::with_capacity(4096);
    let exporter = IpAddr::from([192, 0, 2, 1]);
    let errors = files
        .iter()
        .filter_map(|f| decoder.decode(exporter, 1_700_000_000 * 1_000 * MS, &capture(f), &mut batch).err())
        .collect();
    Decoded { batch, errors, decoder }
}

fn clean(files: &[&str], flows: usize) -> Decoded {
    let d = decode(files);
    assert!(d.errors.is_empty(), "{files:?}: {:?}", d.errors);
    assert_eq!(d.batch.len(), flows, "{files:?}");
    d
}

/// Upstream computes uptime-relative times with seconds truncation and ms/µs mixed up (its v9
/// "first_switched" always ends in .999), so its expected values are only good to 2 s. The exact
/// RFC 3954 arithmetic is unit-tested in `decode::fields` and round-trip tested in `roundtrip.rs`.
fn assert_near_upstream(actual_ns: u64, upstream_ms: u64) {
    let diff = (actual_ns / MS).abs_diff(upstream_ms);
    assert!(diff < 2_000, "{actual_ns} ns is {diff} ms away from upstream's {upstream_ms} ms");
}

fn addrs(r: &FlowRecord) -> (String, String) {
    (r.src_addr.to_string(), r.dst_addr.to_string())
}

#[test]
fn netflow_v5_softflowd_mikrotik_and_juniper() {
    let d = clean(&["netflow5.dat"], 2);
    let r = d.flow(0);
    assert_eq!(addrs(r), ("10.0.2.2".into(), "10.0.2.15".into()));
    assert_eq!((r.src_port, r.dst_port, r.tcp_flags, r.proto, r.bytes, r.packets), (54435, 22, 16, 6, 230, 5));
    assert_eq!(r.flow_type, FlowType::NetflowV5);
    assert_eq!((d.flow(1).src_port, d.flow(1).tcp_flags), (22, 24));

    let d = clean(&["netflow5_test_microtik.dat"], 30);
    let r = d.flow(29);
    assert_eq!(addrs(r), ("10.0.8.1".into(), "192.168.0.1".into()));
    assert_eq!(
        (r.dst_port, r.ip_tos, r.in_if, r.out_if, r.bytes, r.packets, r.tcp_flags),
        (51826, 40, 13, 46, 11442, 13, 82)
    );
    assert_eq!(r.next_hop.to_string(), "192.168.0.1");
    assert_eq!(r.sequence_num, 8140050);
    assert_near_upstream(r.time_flow_start_ns, 1469109102514);

    let d = clean(&["netflow5_test_juniper_mx80.dat"], 29);
    let r = d.flow(28);
    assert_eq!(addrs(r), ("66.249.92.75".into(), "192.168.0.1".into()));
    assert_eq!((r.src_as, r.dst_as, r.src_net, r.dst_net, r.in_if, r.out_if), (15169, 64496, 19, 24, 542, 536));
    assert_eq!(r.sampling_rate, 1000);
}

#[test]
fn netflow_v5_invalid_datagrams_are_rejected_as_truncated() {
    for f in ["netflow5_test_invalid01.dat", "netflow5_test_invalid02.dat"] {
        let d = decode(&[f]);
        assert_eq!(d.errors.len(), 1, "{f}");
        assert_eq!(d.errors[0].reason(), Reason::Truncated);
        assert_eq!(d.decoder.stats().errors(Reason::Truncated), 1);
    }
}

#[test]
fn netflow_v9_softflowd_mac_addresses_and_multiple_exporters() {
    let d = clean(&["netflow9_test_valid01.dat"], 7);
    let r = d.flow(0);
    assert_eq!(addrs(r), ("172.16.32.100".into(), "172.16.32.248".into()));
    assert_eq!((r.src_port, r.dst_port, r.proto, r.bytes, r.packets, r.etype), (123, 123, 17, 76, 1, 0x0800));
    assert_near_upstream(r.time_flow_end_ns, 1444331027999);
    assert_eq!(r.flow_type, FlowType::NetflowV9);

    let d = clean(&["netflow9_test_macaddr_tpl.dat", "netflow9_test_macaddr_data.dat"], 29);
    let r = d.batch.records().iter().find(|r| (r.src_port, r.dst_port) == (65058, 22)).expect("ssh flow");
    assert_eq!((r.src_mac, r.dst_mac), (0x0050_56c0_0001, 0x000c_2970_8609));
    assert_eq!(addrs(r), ("172.16.32.1".into(), "172.16.32.201".into()));

    // nprobe's template, then softflowd's (another source id), then nprobe's data: still decodes.
    let d = clean(
        &["netflow9_test_nprobe_tpl.dat", "netflow9_test_softflowd_tpl_data.dat", "netflow9_test_nprobe_data.dat"],
        8,
    );
    let r = d.flow(7);
    assert_eq!(addrs(r), ("172.16.32.201".into(), "172.16.32.1".into()));
    assert_eq!((r.src_port, r.dst_port, r.bytes, r.packets, r.ip_tos, r.tcp_flags), (22, 65058, 200, 2, 16, 24));
    assert_eq!(d.decoder.stats().option_records, 1);
}

#[test]
fn netflow_v9_cisco_asa_asr9k_and_nbar() {
    let d = clean(&["netflow9_test_cisco_asa_1_tpl.dat", "netflow9_test_cisco_asa_1_data.dat"], 14);
    let r = d.flow(1);
    assert_eq!(addrs(r), ("192.168.23.22".into(), "164.164.37.11".into()));
    assert_eq!((r.proto, r.icmp_type, r.icmp_code, r.in_if, r.out_if, r.src_port), (1, 8, 0, 2, 3, 17549));
    assert_eq!(r.bytes, 56); // in_permanent_bytes (IE 85)
    assert_eq!(r.time_flow_start_ns, 1444384068169 * MS);

    let d = clean(
        &[
            "netflow9_test_cisco_asa_2_tpl_26x.dat",
            "netflow9_test_cisco_asa_2_tpl_27x.dat",
            "netflow9_test_cisco_asa_2_data.dat",
        ],
        19,
    );
    let r = d.flow(18);
    assert_eq!(addrs(r), ("192.168.0.1".into(), "192.168.0.18".into()));
    assert_eq!((r.src_port, r.dst_port, r.in_if, r.out_if), (56651, 80, 3, 4));
    assert_eq!(r.time_flow_start_ns, 1469109036395 * MS);

    let d = clean(&["netflow9_test_cisco_asr9k_tpl260.dat", "netflow9_test_cisco_asr9k_data260.dat"], 21);
    let r = d.flow(20);
    assert_eq!(addrs(r), ("10.0.29.46".into(), "10.0.15.38".into()));
    assert_eq!((r.src_port, r.dst_port, r.src_as, r.dst_as, r.in_if, r.out_if), (443, 52364, 15169, 64498, 75, 158));
    assert_eq!((r.bytes, r.packets, r.tcp_flags, r.src_net, r.dst_net), (112, 2, 18, 24, 24));
    assert_eq!(r.bgp_next_hop.to_string(), "10.0.14.27");
    assert_eq!(r.forwarding_status, 0x40); // status 1 (forwarded), reason 0
    assert_near_upstream(r.time_flow_start_ns, 1481018933999);

    // Options data (interface table) only: no flows, applied as option records.
    let d = clean(&["netflow9_test_cisco_asr9k_opttpl256.dat", "netflow9_test_cisco_asr9k_data256.dat"], 0);
    assert_eq!(d.decoder.stats().option_records, 19);

    let d = clean(&["netflow9_test_cisco_nbar_tpl262.dat", "netflow9_test_cisco_nbar_data262.dat"], 5);
    let r = d.flow(4);
    assert_eq!(addrs(r), ("10.10.172.60".into(), "10.30.19.180".into()));
    assert_eq!((r.src_port, r.dst_port, r.proto, r.bytes, r.packets, r.in_if), (45269, 161, 17, 2794, 36, 1));
    assert_eq!((r.src_mac, r.dst_mac), (0x0018_199e_6c01, 0x1cdf_0f7e_c358));
}

#[test]
fn netflow_v9_zero_length_fields_mpls_and_vendor_variable_strings() {
    let d = clean(&["netflow9_test_0length_fields_tpl_data.dat"], 10);
    let r = d.flow(9);
    assert_eq!(addrs(r), ("192.168.1.33".into(), "239.255.255.250".into()));
    assert_eq!((r.proto, r.in_if, r.out_if, r.src_net, r.dst_net), (2, 2, 3, 32, 32));
    assert_eq!((r.bytes, r.packets), (32, 1)); // in_* are 0: out_bytes / out_pkts stand in

    let d = clean(
        &[
            "netflow9_test_ubnt_edgerouter_tpl.dat",
            "netflow9_test_ubnt_edgerouter_data1024.dat",
            "netflow9_test_ubnt_edgerouter_data1025.dat",
        ],
        16,
    );
    assert_eq!(d.flow(0).src_addr.to_string(), "10.1.0.135");
    let r = d.flow(15);
    assert_eq!(addrs(r), ("192.168.1.102".into(), "10.2.0.95".into()));
    assert_eq!(
        (r.src_port, r.dst_port, r.bytes, r.packets, r.in_if, r.out_if, r.tcp_flags),
        (47690, 443, 3668, 21, 2, 4, 27)
    );
    // The MPLS field of this exporter is IE 201 (mplsLabelStackOctets), kept as an extra.
    assert!(d.batch.extra_field(r, 0, 201).is_some());

    let d = clean(&["netflow9_test_streamcore_tpl_data256.dat", "netflow9_test_streamcore_tpl_data260.dat"], 4);
    let r = d.flow(0);
    assert_eq!(addrs(r), ("100.78.40.201".into(), "10.231.128.150".into()));
    assert_eq!(
        (r.src_port, r.dst_port, r.bytes, r.packets, r.ip_tos, r.in_if, r.out_if),
        (8080, 50073, 128, 3, 40, 1152, 1148)
    );
    // The vendor's hostname field is kept as an extra.
    assert!(d.batch.extra_fields(d.flow(3)).any(|(_, v)| v.starts_with(b"live.lemde.fr")));

    clean(
        &["netflow9_test_h3c_netstream_varstring_tpl3281.dat", "netflow9_test_h3c_netstream_varstring_data3281.dat"],
        1,
    );
    clean(&["netflow9_test_juniper_srx_tplopt.dat"], 0);
}

#[test]
fn ipfix_softflowd_uses_option_data_for_sampling_and_uptime() {
    let d = clean(&["ipfix.dat"], 6);
    let r = d.flow(0);
    assert_eq!(addrs(r), ("192.168.253.1".into(), "192.168.253.128".into()));
    assert_eq!((r.src_port, r.dst_port, r.proto, r.tcp_flags, r.bytes, r.packets), (60560, 22, 6, 16, 260, 5));
    // systemInitTimeMilliseconds 1431516013506 + flowStartSysUpTime 0 / flowEndSysUpTime 12726.
    assert_eq!((r.time_flow_start_ns, r.time_flow_end_ns), (1431516013506 * MS, 1431516026232 * MS));
    assert_eq!(r.sampling_rate, 1);
    assert_eq!(r.flow_type, FlowType::Ipfix);
    assert_eq!(addrs(d.flow(5)), ("192.168.253.132".into(), "54.214.9.161".into()));
}

#[test]
fn ipfix_openbsd_netscaler_and_vmware() {
    let d = clean(&["ipfix_test_openbsd_pflow_tpl.dat", "ipfix_test_openbsd_pflow_data.dat"], 26);
    let r = d.flow(25);
    assert_eq!(addrs(r), ("192.168.0.1".into(), "192.168.0.17".into()));
    assert_eq!((r.in_if, r.out_if, r.packets, r.bytes, r.src_port, r.dst_port, r.proto), (1, 1, 8, 6425, 80, 64026, 6));
    assert_eq!((r.time_flow_start_ns, r.time_flow_end_ns), (1469107799000 * MS, 1469107801000 * MS));

    // The template datagram also carries an options data set for a template it never sent.
    let d = decode(&["ipfix_test_netscaler_tpl.dat", "ipfix_test_netscaler_data.dat"]);
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0].reason(), Reason::MissingTemplate);
    assert_eq!(d.batch.len(), 3);
    let r = d.flow(0);
    assert_eq!(addrs(r), ("192.168.0.1".into(), "10.0.0.1".into()));
    assert_eq!(r.time_flow_end_ns / (1000 * MS), 1478866159);
    assert_eq!(d.flow(1).observation_point_id, 167954698);
    let r = d.flow(2);
    assert_eq!(
        (r.in_if, r.out_if, r.bytes, r.packets, r.src_port, r.dst_port, r.tcp_flags),
        (8, 2147483651, 1541, 2, 51053, 443, 24)
    );
    // Enterprise (Citrix, PEN 5951) variable-length fields, one longer than 255 bytes.
    // The strings are NUL-terminated on the wire (upstream trims the NUL).
    let text = |id| {
        d.batch
            .extra_field(r, 5951, id)
            .map(|v| String::from_utf8_lossy(v.strip_suffix(b"\0").unwrap_or(v)).into_owned())
    };
    assert_eq!(text(190).as_deref(), Some("11.222.33.255"));
    assert_eq!(text(130).as_deref(), Some("/aa/bb/ccccc/ddddddddddddddddddddddddd"));
    assert_eq!(text(186).as_deref(), Some("1.1 akamai.net(ghost) (AkamaiGHost)"));
    let cookie = text(131).expect("cookie field");
    assert!(cookie.len() > 255 && cookie.starts_with("beer=123456789"), "{cookie}");

    let d = clean(
        &[
            "ipfix_test_vmware_vds_tpl.dat",
            "ipfix_test_vmware_vds_data264.dat",
            "ipfix_test_vmware_vds_data266.dat",
            "ipfix_test_vmware_vds_data266_267.dat",
        ],
        5,
    );
    let r = d.flow(0);
    assert_eq!(addrs(r), ("172.18.65.21".into(), "172.18.65.211".into()));
    assert_eq!(
        (r.src_port, r.dst_port, r.tcp_flags, r.in_if, r.out_if, r.bytes, r.packets),
        (61209, 5985, 2, 3, 11, 100, 2)
    );
    let r = d.flow(4);
    assert_eq!(addrs(r), ("fe80::5187:5cd8:d750:cdc9".into(), "ff02::1:3".into()));
    assert_eq!((r.bytes, r.dst_port), (144, 5355));
}

#[test]
fn every_vendor_capture_decodes_in_template_order() {
    // (files in order, flows). Each group is one exporter; templates before data.
    let groups: &[(&[&str], usize)] = &[
        (&["ipfix_test_barracuda_tpl.dat", "ipfix_test_barracuda_data256.dat"], 8),
        (&["ipfix_test_barracuda_extended_uniflow_tpl256.dat", "ipfix_test_barracuda_extended_uniflow_data256.dat"], 2),
        (&["ipfix_test_ixia_tpldata256.dat", "ipfix_test_ixia_tpldata271.dat"], 3),
        (
            &[
                "ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat",
                "ipfix_test_juniper_mx240_junos151r6s3_data512.dat",
            ],
            0,
        ),
        (&["ipfix_test_mikrotik_tpl.dat", "ipfix_test_mikrotik_data258.dat", "ipfix_test_mikrotik_data259.dat"], 46),
        (&["ipfix_test_nokia_bras_tpl.dat", "ipfix_test_nokia_bras_data256.dat"], 1),
        (&["ipfix_test_procera_tpl52935.dat", "ipfix_test_procera_data52935.dat"], 8),
        (&["ipfix_test_viptela_tpl257.dat", "ipfix_test_viptela_data257.dat"], 1),
        (
            &[
                "ipfix_test_yaf_tpls_option_tpl.dat",
                "ipfix_test_yaf_tpl45841.dat",
                "ipfix_test_yaf_data45841.dat",
                "ipfix_test_yaf_data45873.dat",
                "ipfix_test_yaf_data53248.dat",
            ],
            2,
        ),
        (&["netflow9_cisco_asr1001x_tpl259.dat"], 25),
        (&["netflow9_test_cisco_1941K9.dat"], 29),
        (&["netflow9_test_cisco_aci_tpl256-258.dat", "netflow9_test_cisco_aci_data256.dat"], 3),
        (
            &[
                "netflow9_test_cisco_asr9k_opttpl257.dat",
                "netflow9_test_cisco_asr9k_opttpl334.dat",
                "netflow9_test_cisco_asr9k_tpl266.dat",
            ],
            0,
        ),
        (&["netflow9_test_cisco_nbar_opttpl260.dat"], 0),
        (&["netflow9_test_cisco_wlc_tpl.dat", "netflow9_test_cisco_wlc_data261.dat"], 19),
        (&["netflow9_test_cisco_wlc_8510_tpl_262.dat"], 0),
        (&["netflow9_test_field_layer2segmentid_tpl.dat", "netflow9_test_field_layer2segmentid_data.dat"], 1),
        (
            &[
                "netflow9_test_fortigate_fortios_521_tpl.dat",
                "netflow9_test_fortigate_fortios_521_data256.dat",
                "netflow9_test_fortigate_fortios_521_data257.dat",
            ],
            1,
        ),
        (
            &[
                "netflow9_test_fortigate_fortios_542_appid_tpl258-269.dat",
                "netflow9_test_fortigate_fortios_542_appid_data258_262.dat",
            ],
            17,
        ),
        (&["netflow9_test_h3c_tpl3281.dat", "netflow9_test_h3c_data3281.dat"], 16),
        (&["netflow9_test_huawei_netstream_tpl.dat", "netflow9_test_huawei_netstream_data.dat"], 1),
        (&["netflow9_test_nprobe_dpi.dat"], 1),
        (
            &[
                "netflow9_test_paloalto_81_tpl256-263.dat",
                "netflow9_test_paloalto_81_data257_1flowset_in_large_zerofilled_packet.dat",
            ],
            1,
        ),
        (&["netflow9_test_paloalto_panos_tpl.dat", "netflow9_test_paloalto_panos_data.dat"], 8),
        (&["netflow9_test_unknown_tpl266_292_data.dat"], 2),
        (&["sflow_flow_sample.dat"], 1),
        (&["sflow_flow_sample_eth_vlan.dat"], 1),
        (&["sflow_with_lag_counters.dat"], 5),
        (&["sflow_counters_sample.dat"], 0),
        (&["sflow_1_counters_sample.dat"], 0),
    ];
    for (files, flows) in groups {
        clean(files, *flows);
    }
}

#[test]
fn netflow_v9_edge_cases_from_real_exporters() {
    // iptnetflow sends data for template 259 in the datagram that defines only 260, and uses
    // reduced-size encoding for its counters.
    let d = decode(&["netflow9_test_iptnetflow_reduced_size_encoding_tpldata260.dat"]);
    assert_eq!(d.batch.len(), 12);
    assert_eq!(d.errors.iter().map(Error::reason).collect::<Vec<_>>(), [Reason::MissingTemplate]);
    assert!(d.batch.records().iter().all(|r| r.bytes > 0 && r.packets > 0));
    // A deliberately invalid datagram: its valid part decodes, nothing panics.
    let d = decode(&["netflow9_test_invalid01.dat"]);
    assert_eq!(d.batch.len(), 2);
}

#[test]
fn sflow_flow_samples_raw_headers_and_counters() {
    let d = clean(&["sflow_flow_sample.dat"], 1);
    let r = d.flow(0);
    assert_eq!(r.flow_type, FlowType::Sflow5);
    assert_eq!(r.sampler_address.to_string(), "10.1.240.66");
    assert_eq!(addrs(r), ("10.243.27.17".into(), "10.243.0.45".into()));
    assert_eq!((r.sampling_rate, r.bytes, r.packets, r.proto, r.src_port, r.dst_port), (2048, 490, 1, 6, 5672, 59451));
    assert_eq!((r.out_if, r.dst_vlan, r.ip_ttl, r.tcp_flags, r.sequence_num), (944, 1852, 62, 24, 47612));

    let d = clean(&["sflow_flow_sample_eth_vlan.dat"], 1);
    let r = d.flow(0);
    assert_eq!(
        (r.vlan_id, r.src_mac, r.dst_mac, r.in_if, r.out_if),
        (2422, 0x0009_0f09_371c, 0xa036_9f71_d2e0, 53, 52)
    );
    assert_eq!(addrs(r), ("10.243.2.11".into(), "10.243.13.15".into()));

    let d = clean(&["sflow_counters_sample.dat", "sflow_1_counters_sample.dat"], 0);
    let counters = d.batch.counters();
    assert_eq!(counters.len(), 10);
    assert!(counters.iter().all(|c| c.if_index == c.source_id && c.if_type == 6), "{counters:?}");
    let uplink = counters.iter().find(|c| c.if_index == 80).expect("ifIndex 80");
    assert_eq!((uplink.if_speed, uplink.if_in_octets), (1_000_000_000, 39096809265));
    assert_eq!(d.decoder.stats().counter_samples, 10);
    assert_eq!(d.decoder.stats().datagrams(Protocol::SflowV5), 2);
}

#[test]
fn sflow_header_fragments_are_not_datagrams() {
    for f in ["sflow_ethernet_ipv4_udp_header.dat", "sflow_ipv4_tcp_header.dat", "sflow_tcp.dat", "sflow_udp.dat"] {
        let d = decode(&[f]);
        assert_eq!(d.errors.iter().map(Error::reason).collect::<Vec<_>>(), [Reason::UnknownVersion], "{f}");
    }
}
