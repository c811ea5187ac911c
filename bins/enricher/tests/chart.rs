//! helios-enricher as the umbrella chart deploys it: the configuration the chart renders is accepted
//! by this binary (it refuses unknown keys).

use helios_chart_tests::{Options, config_file, effective_config, render};

#[test]
fn the_chart_runs_the_enricher_from_the_raw_topic_into_clickhouse() {
    let r = render(&Options::tier("medium").set(&["flows.enrichedTopic=true"]));
    let c =
        effective_config(env!("CARGO_BIN_EXE_helios-enricher"), config_file(&r, "helios-enricher", "enricher.yaml"));
    for expected in [
        "http: 0.0.0.0:9103",
        "brokers: helios-kafka-bootstrap.helios-flows.svc:9092",
        "raw_topic: helios-flows-raw",
        "enriched_topic: helios-flows-enriched",
        "group: helios-enricher",
        "url: http://clickhouse-helios.helios-flows.svc:8123",
        "password_file: /run/secrets/clickhouse/password",
        "netbox_token_file: /run/secrets/netbox/token",
        // Topics are the Strimzi topic operator's, never created by the enricher.
        "create_topic_partitions: 0",
    ] {
        assert!(c.contains(expected), "{expected} in\n{c}");
    }
    assert!(c.contains("outputs:\n  clickhouse: true\n  kafka: true"), "{c}");
}
