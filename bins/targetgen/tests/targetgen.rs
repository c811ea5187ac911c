//! helios-targetgen end to end against the NetBox stand-in (`helios_testkit::netbox`: real HTTP on
//! loopback, NetBox 4.x-shaped pages; no NetBox can run here): the artefacts match the golden files in
//! `testdata/targets/` (regenerate with `HELIOS_UPDATE_GOLDEN=1` after an intended change), an outage
//! or a suspicious shrink leaves the files untouched, and the webhook syncs at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Netbox, device};
use helios_testkit::netbox::NETBOX4_TOKEN;
use helios_testkit::{Service, TempDir, free_port, http_post_with, repo_root};
use hmac::{Hmac, Mac};
use sha2::Sha512;

mod common;

const FILES: [&str; 4] =
    ["gnmic-targets.json", "snmp-targets.json", "blackbox-targets.json", "prometheus-targets.json"];

fn netbox() -> Netbox {
    Netbox::start(vec![
        device(1, "edge1", "192.0.2.1", "edge", r#""helios_monitor": true, "helios_gnmi": true, "helios_snmp": true"#),
        device(
            2,
            "fw1",
            "192.0.2.2",
            "firewall",
            r#""helios_monitor": true, "helios_snmp": true, "helios_snmp_auth": "v3_ops", "helios_gnmi_port": 6030"#,
        ),
        device(3, "lab1", "192.0.2.3", "edge", r#""helios_monitor": false, "helios_snmp": true"#),
    ])
}

struct Setup {
    netbox: Netbox,
    out: TempDir,
    args: Vec<String>,
}

fn setup() -> Setup {
    Setup::with(netbox())
}

impl Setup {
    fn with(netbox: Netbox) -> Setup {
        let out = TempDir::new("targets");
        let token = out.path().join("token");
        std::fs::write(&token, NETBOX4_TOKEN).expect("token");
        let dir = out.path().join("targets");
        let args = [
            "--netbox-url".to_owned(),
            netbox.base.clone(),
            "--set".to_owned(),
            format!("output_dir={}", dir.display()),
            "--set".to_owned(),
            format!("netbox_token_file={}", token.display()),
            "--set".to_owned(),
            "rules.blackbox_http_roles=[firewall]".to_owned(),
            "--set".to_owned(),
            "netbox_timeout_secs=2".to_owned(),
        ]
        .into();
        Setup { netbox, out, args }
    }
}

impl Setup {
    fn dir(&self) -> PathBuf {
        self.out.path().join("targets")
    }

    fn once(&self, extra: &[&str]) -> bool {
        Command::new(env!("CARGO_BIN_EXE_helios-targetgen"))
            .arg("once")
            .args(&self.args)
            .args(extra)
            .output()
            .expect("helios-targetgen runs")
            .status
            .success()
    }

    fn files(&self) -> Vec<Vec<u8>> {
        FILES.iter().map(|f| std::fs::read(self.dir().join(f)).unwrap_or_default()).collect()
    }
}

fn golden(file: &str) -> PathBuf {
    repo_root().join("testdata/targets").join(file)
}

fn targets(dir: &Path, file: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).expect("file")).expect("JSON")
}

#[test]
fn once_writes_every_artefact_as_in_the_golden_files() {
    let s = setup();
    assert!(s.once(&[]));
    for file in FILES {
        let got = std::fs::read(s.dir().join(file)).expect("written");
        if std::env::var_os("HELIOS_UPDATE_GOLDEN").is_some() {
            std::fs::write(golden(file), &got).expect("update golden");
        }
        let want =
            std::fs::read(golden(file)).unwrap_or_else(|e| panic!("{file}: {e} (HELIOS_UPDATE_GOLDEN=1 creates it)"));
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{file}");
    }
    let snmp = targets(&s.dir(), "snmp-targets.json");
    assert_eq!(snmp.as_array().map(Vec::len), Some(2), "lab1 is not monitored");
    assert_eq!(snmp[1]["labels"]["__param_auth"], "v3_ops");
    assert_eq!(targets(&s.dir(), "gnmic-targets.json")["edge1"]["address"], "192.0.2.1:57400");
    let mtime = std::fs::metadata(s.dir().join("snmp-targets.json")).and_then(|m| m.modified()).expect("mtime");
    std::thread::sleep(Duration::from_millis(20));
    assert!(s.once(&[]));
    let again = std::fs::metadata(s.dir().join("snmp-targets.json")).and_then(|m| m.modified()).expect("mtime");
    assert_eq!(mtime, again, "unchanged content is not rewritten");
}

#[test]
fn an_outage_or_a_sudden_shrink_leaves_the_targets_untouched_unless_forced() {
    let s = setup();
    assert!(s.once(&[]));
    let before = s.files();
    s.netbox.down.store(true, Ordering::Relaxed);
    assert!(!s.once(&[]), "a NetBox outage fails the sync");
    assert_eq!(s.files(), before, "and changes nothing");
    s.netbox.down.store(false, Ordering::Relaxed);
    // NetBox answers, but without the monitored devices: more than half the targets would go.
    s.netbox.devices.lock().expect("devices").truncate(0);
    assert!(!s.once(&[]), "a sudden shrink is refused");
    assert_eq!(s.files(), before);
    assert!(s.once(&["--set", "force=true"]), "unless forced");
    assert_eq!(targets(&s.dir(), "snmp-targets.json"), serde_json::json!([]));
}

#[test]
fn the_long_running_mode_syncs_on_the_webhook_within_seconds() {
    let s = setup();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let secret_file = s.out.path().join("webhook-secret");
    std::fs::write(&secret_file, "hook-secret\n").expect("secret");
    let mut args = vec![
        "run".to_owned(),
        "--http".to_owned(),
        http.to_string(),
        "--set".to_owned(),
        "interval_secs=3600".to_owned(),
        "--set".to_owned(),
        format!("webhook_secret_file={}", secret_file.display()),
    ];
    args.extend(s.args.iter().cloned());
    let service = Service::start(env!("CARGO_BIN_EXE_helios-targetgen"), &args, http);
    service.wait_ready(Duration::from_secs(20));
    assert_eq!(targets(&s.dir(), "snmp-targets.json").as_array().map(Vec::len), Some(2));
    // A device is flagged for monitoring in NetBox.
    s.netbox.devices.lock().expect("devices").push(device(
        4,
        "core2",
        "192.0.2.4",
        "core",
        r#""helios_monitor": true, "helios_snmp": true"#,
    ));
    // NetBox signs its webhooks with the shared secret; a call without the right signature is refused.
    let body = r#"{"event": "updated", "model": "device"}"#;
    let mut mac = Hmac::<Sha512>::new_from_slice(b"hook-secret").expect("any key length");
    mac.update(body.as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    for forged in [vec![], vec![("X-Hook-Signature", "00ff")]] {
        let refused = http_post_with(http, "/webhook", &forged, body);
        assert!(refused.as_deref().is_some_and(|r| r.starts_with("HTTP/1.1 403")), "{refused:?}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(targets(&s.dir(), "snmp-targets.json").as_array().map(Vec::len), Some(2), "no sync on a forged call");
    let changed = Instant::now();
    let webhook = http_post_with(http, "/webhook", &[("X-Hook-Signature", &signature)], body);
    assert!(webhook.is_some_and(|r| r.starts_with("HTTP/1.1 202")));
    while targets(&s.dir(), "snmp-targets.json").as_array().map(Vec::len) != Some(3) {
        assert!(changed.elapsed() < Duration::from_secs(10), "the change did not reach the files within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("NetBox change to target files: {:?}", changed.elapsed());
    let metrics = service.metrics();
    assert!(metrics.contains("helios_targetgen_targets{kind=\"snmp\"} 3"), "{metrics}");
    assert!(metrics.contains("helios_targetgen_last_success_timestamp_seconds "), "{metrics}");
    assert!(!metrics.contains("helios_targetgen_sync_errors_total{"), "{metrics}");
    assert!(metrics.contains(r#"helios_targetgen_webhook_requests_total{result="bad_signature"} 2"#), "{metrics}");
    assert!(metrics.contains(r#"helios_targetgen_webhook_requests_total{result="accepted"} 1"#), "{metrics}");
    assert!(!metrics.contains("hook-secret"));
    assert!(service.terminate().success());
}

#[test]
fn netbox_3_7_devices_become_the_same_targets() {
    // NetBox 3.7 calls the role `device_role`; everything else the generator reads is shaped alike.
    let v37 = device(1, "edge1", "192.0.2.1", "edge", r#""helios_monitor": true, "helios_snmp": true"#)
        .replace(r#""role": {"#, r#""device_role": {"#);
    assert!(v37.contains("device_role"));
    let s = Setup::with(Netbox::start(vec![v37]));
    assert!(s.once(&[]));
    let snmp = targets(&s.dir(), "snmp-targets.json");
    assert_eq!(snmp[0]["labels"]["role"], "edge");
    assert_eq!(snmp[0]["labels"]["device"], "edge1");
}

#[test]
fn run_needs_a_webhook_secret_unless_unsigned_calls_are_allowed_and_bursts_coalesce() {
    let s = setup();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut args = vec!["run".to_owned(), "--http".to_owned(), http.to_string()];
    args.extend(s.args.iter().cloned());
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_helios-targetgen")).args(&args).output().expect("run");
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && text.contains("webhook_secret_file") && text.contains("webhook_allow_unsigned"),
        "{text}"
    );
    args.extend(["--set", "webhook_allow_unsigned=true", "--set", "interval_secs=3600"].map(String::from));
    let service = Service::start(env!("CARGO_BIN_EXE_helios-targetgen"), &args, http);
    service.wait_ready(Duration::from_secs(20));
    let syncs = || {
        let m = service.metrics();
        m.lines()
            .find_map(|l| l.strip_prefix("helios_targetgen_sync_duration_seconds_count "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("sync count")
    };
    let before = syncs();
    // A burst of 50 unsigned calls (an attacker's, or a replay): one sync now, one 10 s later at most.
    for _ in 0..50 {
        let r = http_post_with(http, "/webhook", &[], "{}");
        assert!(r.is_some_and(|r| r.starts_with("HTTP/1.1 202")));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(syncs() - before, 1, "50 calls within the minimum interval sync once");
    assert!(service.terminate().success());
}
