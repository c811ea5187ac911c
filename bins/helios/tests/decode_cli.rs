//! `helios decode` end to end: the real binary on pcap, pcapng and raw captures of real exporters.

use std::path::PathBuf;
use std::process::{Command, Output};

fn testdata(rel: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", "..", "testdata", rel].iter().collect()
}

fn helios(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helios")).args(args).output().expect("helios runs")
}

fn flows(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

#[test]
fn decodes_every_vendor_in_a_pcap_and_reports_bad_datagrams_on_stderr() {
    let pcap = testdata("pcap/vendors.pcap");
    let out = helios(&["decode", "--summary", pcap.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let flows = flows(&out);
    assert_eq!(flows.len(), 121 + 272 + 111 + 7);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The upstream project's invalid datagrams are reported with their reason, and decoding goes on.
    assert_eq!(stderr.matches(": truncated at byte 1464").count(), 2, "{stderr}");
    assert!(stderr.contains("missing_template at byte 24 (template 259)"), "{stderr}");
    assert!(stderr.contains("sflow_v5: 5 datagrams, 7 flows"), "{stderr}");
    // Exporter = IP source of the datagram; type names as goflow2's.
    let mikrotik_v5 =
        flows.iter().find(|f| f["type"] == "NETFLOW_V5" && f["dst_port"] == 51826).expect("MikroTik flow");
    assert_eq!(mikrotik_v5["src_addr"], "10.0.8.1");
    assert!(mikrotik_v5["sampler_address"].as_str().expect("address").starts_with("10.0."));
    let types: std::collections::BTreeSet<_> =
        flows.iter().map(|f| f["type"].as_str().expect("type").to_owned()).collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), ["IPFIX", "NETFLOW_V5", "NETFLOW_V9", "SFLOW_5"]);
    let vlan = flows.iter().find(|f| f["type"] == "SFLOW_5" && f["vlan_id"] == 2422).expect("sFlow 802.1Q flow");
    assert_eq!(vlan["src_mac"], "00:09:0f:09:37:1c");
}

#[test]
fn decodes_pcapng_and_raw_payloads_alike() {
    let ng = helios(&["decode", testdata("pcap/ipfix-pflow.pcapng").to_str().expect("utf-8")]);
    assert!(ng.status.success());
    let from_pcapng = flows(&ng);
    assert_eq!(from_pcapng.len(), 26);
    assert_eq!(from_pcapng[25]["sampler_address"], "192.0.2.9");
    let dir = testdata("vendor-captures/netflow");
    let raw = helios(&[
        "decode",
        "--raw",
        "--exporter",
        "192.0.2.9",
        dir.join("ipfix_test_openbsd_pflow_tpl.dat").to_str().expect("utf-8"),
        dir.join("ipfix_test_openbsd_pflow_data.dat").to_str().expect("utf-8"),
    ]);
    let from_raw = flows(&raw);
    assert_eq!(from_raw.len(), 26);
    for (a, b) in from_pcapng.iter().zip(&from_raw) {
        assert_eq!(
            (&a["src_addr"], &a["bytes"], &a["time_flow_end_ns"]),
            (&b["src_addr"], &b["bytes"], &b["time_flow_end_ns"])
        );
    }
    assert_eq!(from_raw[25]["dst_port"], 64026);
}

#[test]
fn saved_templates_decode_data_without_its_templates() {
    let dir = testdata("vendor-captures/netflow");
    let tmp = std::env::temp_dir().join(format!("helios-templates-{}.json", std::process::id()));
    let (tpl, data) = (dir.join("netflow9_test_cisco_asa_1_tpl.dat"), dir.join("netflow9_test_cisco_asa_1_data.dat"));
    let save =
        helios(&["decode", "--raw", "--save-templates", tmp.to_str().expect("utf-8"), tpl.to_str().expect("utf-8")]);
    assert!(save.status.success());
    let without = helios(&["decode", "--raw", data.to_str().expect("utf-8")]);
    assert_eq!(flows(&without).len(), 0);
    assert!(String::from_utf8_lossy(&without.stderr).contains("missing_template"));
    let with =
        helios(&["decode", "--raw", "--load-templates", tmp.to_str().expect("utf-8"), data.to_str().expect("utf-8")]);
    assert_eq!(flows(&with).len(), 14);
    std::fs::remove_file(&tmp).expect("cleanup");
}

#[test]
fn unreadable_inputs_fail_the_command_but_not_the_other_files() {
    let good = testdata("vendor-captures/netflow/netflow5.dat");
    let out = helios(&["decode", "--raw", "/nonexistent/capture.dat", good.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert_eq!(flows(&out).len(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/capture.dat"));
    // A file that is not a capture is unreadable as pcap.
    let not_pcap = helios(&["decode", good.to_str().expect("utf-8")]);
    assert!(!not_pcap.status.success());
    assert!(String::from_utf8_lossy(&not_pcap.stderr).contains("not a readable pcap"));
    let help = helios(&["decode", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("goflow2"));
}

/// A NetFlow v5 datagram of one flow 81.2.69.142:443 -> 1.128.0.1:51000 (addresses MaxMind's test
/// databases know), exporter AS numbers left at 0.
fn v5_datagram() -> Vec<u8> {
    let mut d = vec![0, 5, 0, 1];
    d.extend(100_000u32.to_be_bytes());
    d.extend(1_700_000_000u32.to_be_bytes());
    d.extend([0; 8]);
    d.extend([0; 4]);
    d.extend([81, 2, 69, 142, 1, 128, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2]);
    d.extend(3u32.to_be_bytes());
    d.extend(400u32.to_be_bytes());
    d.extend(90_000u32.to_be_bytes());
    d.extend(99_000u32.to_be_bytes());
    d.extend(443u16.to_be_bytes());
    d.extend(51_000u16.to_be_bytes());
    d.extend([0, 0x18, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    d
}

#[test]
fn geoip_databases_add_country_city_and_as_of_both_ends() {
    let file = std::env::temp_dir().join(format!("helios-geo-{}.dat", std::process::id()));
    std::fs::write(&file, v5_datagram()).expect("write datagram");
    let (city, asn) = (testdata("geoip/GeoIP2-City-Test.mmdb"), testdata("geoip/GeoLite2-ASN-Test.mmdb"));
    let out = helios(&[
        "decode",
        "--raw",
        "--geoip-city",
        city.to_str().expect("utf-8"),
        "--geoip-asn",
        asn.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f = &flows(&out)[0];
    assert_eq!((&f["src_country"], &f["src_city"]), (&"GB".into(), &"London".into()));
    assert_eq!((&f["dst_as"], &f["dst_as_name"]), (&1221.into(), &"Telstra Pty Ltd".into()));
    assert_eq!((&f["src_as_name"], &f["dst_country"]), (&serde_json::Value::Null, &serde_json::Value::Null));
    // Without databases, no GeoIP keys at all.
    let plain = flows(&helios(&["decode", "--raw", file.to_str().expect("utf-8")]));
    assert!(plain[0].get("src_country").is_none());
    assert_eq!(plain[0]["dst_as"], 0);
    // A corrupt database is refused, naming it.
    let bad = helios(&[
        "decode",
        "--raw",
        "--geoip-city",
        testdata("geoip/GeoIP2-City-Test-Invalid-Node-Count.mmdb").to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("city database"), "{}", String::from_utf8_lossy(&bad.stderr));
    std::fs::remove_file(&file).expect("cleanup");
}

#[test]
fn a_netbox_snapshot_adds_exporter_labels_interfaces_and_prefixes() {
    let file = std::env::temp_dir().join(format!("helios-nb-{}.dat", std::process::id()));
    std::fs::write(&file, v5_datagram()).expect("write datagram");
    let snapshot = testdata("netbox/example-snapshot.json");
    let with_snapshot = |exporter: &str| {
        helios(&[
            "decode",
            "--raw",
            "--exporter",
            exporter,
            "--netbox-snapshot",
            snapshot.to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
        ])
    };
    let out = with_snapshot("192.0.2.1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f = &flows(&out)[0];
    for (k, v) in [
        ("exporter_device", "edge1.fra1"),
        ("exporter_site", "fra1"),
        ("exporter_region", "eu-central"),
        ("exporter_vendor", "Juniper"),
        ("exporter_platform", "junos"),
        ("exporter_role", "edge"),
        ("exporter_tier", "1"),
        ("exporter_tenant", "network-ops"),
        ("in_if_name", "et-0/0/1"),
        ("out_if_description", "core: core1.fra1"),
        ("src_prefix_role", "anycast"),
        ("dst_prefix_role", "peering"),
    ] {
        assert_eq!(f[k], v, "{k}");
    }
    assert_eq!((&f["in_if_speed"], &f["dst_prefix_tenant"]), (&100_000_000_000u64.into(), &serde_json::Value::Null));
    // An exporter NetBox does not know: the keys are there, null.
    let unknown = flows(&with_snapshot("192.0.2.99"));
    assert_eq!(
        (&unknown[0]["exporter_site"], &unknown[0]["in_if_name"]),
        (&serde_json::Value::Null, &serde_json::Value::Null)
    );
    // A malformed snapshot is refused with its file named.
    let bad = std::env::temp_dir().join(format!("helios-nb-bad-{}.json", std::process::id()));
    std::fs::write(&bad, br#"{"format":1,"prefixes":[{"prefix":"81.2.0.0/40"}]}"#).expect("write");
    let refused =
        helios(&["decode", "--raw", "--netbox-snapshot", bad.to_str().expect("utf-8"), file.to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("81.2.0.0/40"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    for f in [file, bad] {
        std::fs::remove_file(&f).expect("cleanup");
    }
}

#[test]
fn the_inventory_read_can_be_dumped_as_a_snapshot() {
    let dump = std::env::temp_dir().join(format!("helios-dump-{}.json", std::process::id()));
    let good = testdata("vendor-captures/netflow/netflow5.dat");
    let snapshot = testdata("netbox/example-snapshot.json");
    let out = helios(&[
        "decode",
        "--raw",
        "--netbox-snapshot",
        snapshot.to_str().expect("utf-8"),
        "--dump-netbox-snapshot",
        dump.to_str().expect("utf-8"),
        good.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dumped: serde_json::Value = serde_json::from_slice(&std::fs::read(&dump).expect("dump written")).expect("JSON");
    assert_eq!(dumped["devices"][0]["labels"]["site"], "fra1");
    assert_eq!(
        (dumped["interfaces"].as_array().map(Vec::len), dumped["prefixes"].as_array().map(Vec::len)),
        (Some(2), Some(3))
    );
    std::fs::remove_file(&dump).expect("cleanup");
    // A NetBox URL needs its token file, and a snapshot file and a URL exclude each other.
    let no_token = helios(&["decode", "--raw", "--netbox-url", "http://127.0.0.1:9/", good.to_str().expect("utf-8")]);
    assert!(!no_token.status.success());
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("--netbox-token-file"));
}
