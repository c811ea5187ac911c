//! The alert rules and their routing, checked by the real engines: every rules file under
//! `charts/helios/files/rules/` passes `promtool check rules` and its own `promtool test rules` file,
//! in which every alert both fires and stays silent; every metric a rule reads is in the metric
//! contract (`files/metric-contract.yaml`), so a renamed metric fails here; every alert names its
//! severity, summary and runbook; and the Alertmanager configuration the chart renders passes
//! `amtool check-config` and routes each severity to its receiver (`amtool config routes test`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use helios_chart_tests::{Options, Value, contract_metrics, metrics_in, render, rule_files};
use helios_testkit::{TempDir, repo_root};

fn rules_dir() -> PathBuf {
    repo_root().join("charts/helios/files/rules")
}

fn need(program: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(program);
    assert!(
        path.exists(),
        "{program} is not installed: run scripts/install-deps.sh (Debian packages prometheus, prometheus-alertmanager)"
    );
    path
}

fn yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("yaml")
}

fn run(program: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program).args(args).current_dir(dir).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{} {args:?}:\n{text}", program.display());
    text
}

#[test]
fn every_rules_file_passes_promtool_and_its_own_unit_tests() {
    let promtool = need("promtool");
    for (file, _) in rule_files() {
        let name = file.file_name().expect("name").to_string_lossy().replace(".rules.yaml", ".test.yaml");
        let text = run(&promtool, &["check", "rules", &file.display().to_string()], &rules_dir());
        assert!(text.contains("SUCCESS"), "{text}");
        assert!(rules_dir().join("tests").join(&name).exists(), "{} has no tests/{name}", file.display());
        let text = run(&promtool, &["test", "rules", &name], &rules_dir().join("tests"));
        assert!(text.contains("SUCCESS"), "{text}");
    }
}

#[test]
fn every_alert_is_tested_both_firing_and_silent() {
    let alerts: BTreeSet<String> = rule_files()
        .iter()
        .flat_map(|(_, r)| r.iter().filter_map(|r| r["alert"].as_str().map(str::to_string)))
        .collect();
    assert!(alerts.len() >= 17, "{alerts:?}");
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for entry in std::fs::read_dir(rules_dir().join("tests")).expect("tests/").flatten() {
        for test in yaml(&entry.path())["tests"].as_sequence().expect("tests") {
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                let name = case["alertname"].as_str().expect("alertname").to_string();
                if case["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty()) {
                    fires.insert(name);
                } else {
                    silent.insert(name);
                }
            }
        }
    }
    for alert in &alerts {
        assert!(fires.contains(alert), "{alert}: no test where it fires");
        assert!(silent.contains(alert), "{alert}: no test where it stays silent");
    }
}

#[test]
fn every_alert_has_a_severity_a_summary_naming_what_and_a_runbook_that_exists() {
    let runbooks = std::fs::read_to_string(repo_root().join("docs/alerts.md")).expect("docs/alerts.md");
    let headings: BTreeSet<String> =
        runbooks.lines().filter_map(|l| l.strip_prefix("### ")).map(|h| h.trim().to_ascii_lowercase()).collect();
    for (file, rules) in rule_files() {
        for rule in rules.iter().filter(|r| r["alert"].is_string()) {
            let name = rule["alert"].as_str().expect("alert");
            let severity = rule["labels"]["severity"].as_str().unwrap_or("");
            assert!(["critical", "warning", "info"].contains(&severity), "{name}: severity {severity:?}");
            let a = &rule["annotations"];
            assert!(a["summary"].is_string() && a["description"].is_string(), "{name}: summary and description");
            let summary = a["summary"].as_str().expect("summary");
            if file.ends_with("helios-devices.rules.yaml") {
                assert!(
                    summary.contains("$labels.device") && summary.contains("$labels.site"),
                    "{name}: the summary names the device and site"
                );
            }
            let url = a["runbook_url"].as_str().unwrap_or_else(|| panic!("{name}: runbook_url"));
            let anchor = url.rsplit_once('#').map(|(_, a)| a).unwrap_or("");
            assert!(
                url.contains("/docs/alerts.md#") && headings.contains(anchor) && anchor == name.to_ascii_lowercase(),
                "{name}: {url} has no heading in docs/alerts.md"
            );
        }
    }
}

#[test]
fn the_metric_extraction_finds_metrics_and_nothing_else() {
    let found = metrics_in(
        r#"sum by (exporter) (rate(helios_flowd_flows_total{reason="x"}[5m])) or label_replace(up == 0, "a", "$1", "b", "(.*)") * on (device) group_left (site) max by (device) (probe_success) > 2 * helios:x:y"#,
    );
    let want: BTreeSet<String> =
        ["helios_flowd_flows_total", "up", "probe_success", "helios:x:y"].iter().map(|s| s.to_string()).collect();
    assert_eq!(found, want);
}

#[test]
fn every_metric_the_rules_read_is_in_the_metric_contract() {
    let known = contract_metrics();
    let mut used = BTreeMap::new();
    for (file, rules) in rule_files() {
        for rule in rules {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).expect("alert or record").to_string();
            if let Some(record) = rule["record"].as_str() {
                assert!(known.contains(record), "recording rule {record} is not in the contract's recorded");
            }
            for metric in metrics_in(rule["expr"].as_str().expect("expr")) {
                used.insert(metric, format!("{name} ({})", file.file_name().expect("name").to_string_lossy()));
            }
        }
    }
    assert!(used.len() >= 30, "{used:?}");
    for (metric, by) in &used {
        assert!(known.contains(metric), "{by} reads {metric}, which files/metric-contract.yaml does not list");
    }
}

#[test]
fn the_chart_ships_every_rules_file_where_prometheus_selects_it() {
    let r = render(&Options::tier("medium"));
    let shipped: BTreeSet<String> =
        r.kind("PrometheusRule").iter().map(|p| p["metadata"]["name"].as_str().expect("name").to_string()).collect();
    for (file, _) in rule_files() {
        let name =
            format!("helios-{}", file.file_name().expect("name").to_string_lossy().trim_end_matches(".rules.yaml"));
        assert!(shipped.contains(&name), "{name} not shipped: {shipped:?}");
    }
    let selector = &r.named("Prometheus", "helios")["spec"]["ruleSelector"]["matchLabels"]["helios.io/rules"];
    for rule in r.kind("PrometheusRule") {
        assert_eq!(&rule["metadata"]["labels"]["helios.io/rules"], selector);
    }
}

#[test]
fn alertmanager_passes_amtool_and_routes_each_severity_to_its_receiver() {
    let amtool = need("amtool");
    let r = render(&Options::tier("medium"));
    let config = r.named("Secret", "helios-alertmanager-config")["stringData"]["alertmanager.yaml"]
        .as_str()
        .expect("config")
        .to_string();
    let dir = TempDir::new("amtool");
    let file = dir.path().join("alertmanager.yaml");
    std::fs::write(&file, &config).expect("write");
    let file = file.display().to_string();
    let text = run(&amtool, &["check-config", &file], dir.path());
    assert!(text.contains("SUCCESS") && text.contains("3 receivers") && text.contains("1 inhibit rules"), "{text}");
    let labels = ["alertname=HeliosDeviceCpuHigh", "device=edge1", "site=fra1"];
    for (severity, receiver) in [("critical", "pagerduty"), ("warning", "slack"), ("info", "email")] {
        let mut args = vec!["config", "routes", "test", "--config.file", &file];
        let verify = format!("--verify.receivers={receiver}");
        let sev = format!("severity={severity}");
        args.push(&verify);
        args.push(&sev);
        args.extend(labels);
        run(&amtool, &args, dir.path());
        // And not to another receiver.
        let wrong = format!("--verify.receivers={}", if receiver == "slack" { "email" } else { "slack" });
        let out = Command::new(&amtool)
            .args(["config", "routes", "test", "--config.file", &file, &wrong, &sev])
            .output()
            .expect("amtool");
        assert!(!out.status.success(), "{severity} also matched {wrong}");
    }
    // Grouped by site and device; a device down silences its own warnings and infos.
    let parsed: Value = serde_yaml_ng::from_str(&config).expect("yaml");
    let group_by: Vec<_> =
        parsed["route"]["group_by"].as_sequence().expect("group_by").iter().filter_map(Value::as_str).collect();
    assert!(group_by.contains(&"site") && group_by.contains(&"device"));
    let inhibit = &parsed["inhibit_rules"][0];
    assert_eq!(inhibit["source_matchers"][0].as_str(), Some("alertname=\"HeliosDeviceUnreachable\""));
    assert_eq!(inhibit["equal"][0].as_str(), Some("device"));
}
