//! No planted secret (a ClickHouse password in its URL, a Kafka SASL password) shows in anything
//! helios-enricher prints: `--print-config`, a refused configuration, its logs while ClickHouse and
//! Kafka are unreachable.

use helios_testkit::secrets::{assert_service_hides_secrets, clickhouse_url, kafka_password_config};
use helios_testkit::{TempDir, free_port};

#[test]
fn planted_secrets_never_show() {
    let dir = TempDir::new("enricher-secrets");
    let base: Vec<String> = [
        "--http",
        &format!("127.0.0.1:{}", free_port()),
        "--brokers",
        "127.0.0.1:9",
        "--clickhouse-url",
        &clickhouse_url(),
        "--config",
        &kafka_password_config(dir.path()).display().to_string(),
    ]
    .map(String::from)
    .into();
    assert_service_hides_secrets(env!("CARGO_BIN_EXE_helios-enricher"), &base, "kafka.properties=many", &[]);
}
