//! No planted secret (a NetBox password in its URL) shows in anything helios-targetgen prints:
//! `--print-config`, a refused configuration, a failed sync against an unreachable NetBox.

use std::time::Duration;

use helios_testkit::secrets::{assert_hidden, netbox_url};
use helios_testkit::{TempDir, free_port};

#[test]
fn planted_secrets_never_show() {
    let out = TempDir::new("targetgen-secrets");
    let token = out.path().join("token");
    std::fs::write(&token, "0123456789abcdef").expect("token");
    let base: Vec<String> = [
        "--netbox-url",
        &netbox_url(),
        "--http",
        &format!("127.0.0.1:{}", free_port()),
        "--set",
        &format!("output_dir={}", out.path().display()),
        "--set",
        &format!("netbox_token_file={}", token.display()),
    ]
    .map(String::from)
    .into();
    let with = |first: &[&str], extra: &[&str]| {
        first
            .iter()
            .map(|s| s.to_string())
            .chain(base.iter().cloned())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect::<Vec<_>>()
    };
    let outputs = assert_hidden(
        env!("CARGO_BIN_EXE_helios-targetgen"),
        &[with(&[], &["--print-config"]), with(&[], &["--set", "interval_secs=often"]), with(&["once"], &[])],
        Duration::from_secs(20),
    );
    assert!(outputs[0].contains("admin:***@127.0.0.1:9"), "{}", outputs[0]);
    assert!(outputs[1].contains("interval_secs"), "the refusal names the setting: {}", outputs[1]);
    assert!(!outputs[2].contains("0123456789abcdef") && outputs[2].contains("127.0.0.1:9"), "{}", outputs[2]);
}
