//! No planted secret (a ClickHouse password in its URL, a Kafka SASL password) shows in anything
//! helios-flowd prints: `--print-config`, a refused configuration, its logs while ClickHouse and
//! Kafka are unreachable, `migrate`'s errors.

use helios_testkit::secrets::{assert_service_hides_secrets, clickhouse_url, kafka_password_config};
use helios_testkit::{TempDir, free_port};

#[test]
fn planted_secrets_never_show() {
    let dir = TempDir::new("flowd-secrets");
    let base: Vec<String> = [
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--http",
        &format!("127.0.0.1:{}", free_port()),
        "--clickhouse-url",
        &clickhouse_url(),
        "--config",
        &kafka_password_config(dir.path()).display().to_string(),
        "--set",
        "kafka.brokers=127.0.0.1:9",
        "--set",
        "outputs.kafka_raw=true",
    ]
    .map(String::from)
    .into();
    let migrate = ["migrate", "--clickhouse-url", &clickhouse_url()].map(String::from).to_vec();
    let outputs = assert_service_hides_secrets(env!("CARGO_BIN_EXE_helios-flowd"), &base, "workers=many", &[migrate]);
    assert!(
        outputs.iter().any(|o| o.contains("default:***@127.0.0.1:9")),
        "the unreachable server is named: {outputs:?}"
    );
}
