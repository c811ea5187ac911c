//! helios-flowd as the umbrella chart deploys it: the configuration the chart renders for each flow
//! path is accepted by this binary (it refuses unknown keys) and says what the path means.

use helios_chart_tests::{Options, config_file, effective_config, render};

fn config(sets: &[&str]) -> String {
    let r = render(&Options::tier("large").set(sets));
    effective_config(env!("CARGO_BIN_EXE_helios-flowd"), config_file(&r, "helios-flowd", "flowd.yaml"))
}

#[test]
fn through_kafka_flowd_publishes_raw_flows_for_the_enricher() {
    let c = config(&[]);
    for expected in [
        "- 0.0.0.0:2055",
        "- 0.0.0.0:6343",
        "workers: 2",
        "clickhouse: false",
        "kafka_raw: true",
        "brokers: helios-kafka-bootstrap.helios-flows.svc:9092",
        "raw_topic: helios-flows-raw",
        // The migration Job runs this same file: the ClickHouse section is always there.
        "url: http://clickhouse-helios.helios-flows.svc:8123",
        "password_file: /run/secrets/clickhouse/password",
        "raw_ttl_days: 7",
    ] {
        assert!(c.contains(expected), "{expected} in\n{c}");
    }
}

#[test]
fn direct_flowd_enriches_and_inserts_into_clickhouse() {
    let c = config(&["flows.viaKafka=false", "flows.geoip.claimName=geoip"]);
    for expected in [
        "clickhouse: true",
        "kafka_raw: false",
        "netbox_url: http://netbox.netbox.svc:8080/",
        "netbox_token_file: /run/secrets/netbox/token",
        "geoip_city: /data/geoip/GeoLite2-City.mmdb",
        "geoip_asn: /data/geoip/GeoLite2-ASN.mmdb",
    ] {
        assert!(c.contains(expected), "{expected} in\n{c}");
    }
}
