//! The target generator's part of the Helm chart (`charts/helios`), rendered by the real helm
//! (`helm lint --strict`, `helm template`), every manifest checked against the Kubernetes 1.30 schemas
//! (`kubernetes-validate --strict`) and the PrometheusRule against the prometheus-operator CRD schema
//! (`testdata/schemas`). No Kubernetes API server runs here: what a cluster would do with the
//! manifests is asserted on the rendered YAML, and the rendered configuration is fed to the binary.
//! helm and the validators come from `scripts/install-deps.sh`.

use std::path::PathBuf;
use std::process::{Command, Output};

use helios_testkit::{TempDir, cache_dir, repo_root};
use serde::Deserialize;
use serde_yaml_ng::Value;

fn tool(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} is missing: run scripts/install-deps.sh", path.display());
    path
}

fn helm(args: &[&str]) -> Output {
    Command::new(tool(cache_dir().join("bin/helm"))).args(args).output().expect("helm runs")
}

fn chart() -> String {
    repo_root().join("charts/helios").display().to_string()
}

/// `helm template` with `--set` values; the manifests and the raw output.
fn render(sets: &[&str]) -> (Vec<Value>, String) {
    let chart = chart();
    let mut args = vec!["template", "helios", chart.as_str(), "--namespace", "observability"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = helm(&args);
    assert!(out.status.success(), "helm template: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect();
    (docs, text)
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect()
}

fn one<'a>(docs: &'a [Value], k: &str) -> &'a Value {
    let found = kind(docs, k);
    assert_eq!(found.len(), 1, "exactly one {k}");
    found[0]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// The pod must run as non-root with a read-only root filesystem and no capabilities.
fn assert_hardened(pod: &Value) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true));
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], Value::Bool(true));
    assert_eq!(sc["allowPrivilegeEscalation"], Value::Bool(false));
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(pod["serviceAccountName"].as_str(), Some("helios-targetgen"));
    assert!(container["resources"]["limits"]["memory"].is_string());
}

/// The configuration the chart renders, accepted by the binary itself (unknown keys are refused).
fn effective_config(docs: &[Value]) -> String {
    let config = kind(docs, "ConfigMap")
        .into_iter()
        .find_map(|c| c["data"]["targetgen.yaml"].as_str())
        .expect("targetgen.yaml rendered");
    let dir = TempDir::new("chart-config");
    let file = dir.path().join("targetgen.yaml");
    std::fs::write(&file, config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_helios-targetgen"))
        .args(["--config", &file.display().to_string(), "--print-config"])
        .output()
        .expect("helios-targetgen runs");
    assert!(out.status.success(), "the binary refuses the chart's config: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `kubernetes-validate --strict` for the built-in kinds, `jsonschema` for the PrometheusRule.
fn validate(text: &str, docs: &[Value]) {
    let dir = TempDir::new("chart-validate");
    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, text).expect("write");
    let out = Command::new(tool(cache_dir().join("venv/bin/kubernetes-validate")))
        .args(["-k", "1.30.0", "--strict", "--quiet"])
        .arg(&rendered)
        .output()
        .expect("kubernetes-validate runs");
    assert!(
        out.status.success(),
        "kubernetes-validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let schema = repo_root().join("testdata/schemas/monitoring.coreos.com/prometheusrule_v1.json");
    for rule in kind(docs, "PrometheusRule") {
        let doc = dir.path().join("rule.json");
        std::fs::write(&doc, serde_json::to_string(rule).expect("json")).expect("write");
        // The schema itself is not checked: one of its patterns is Go syntax Python's `re` refuses
        // (`^(?i)...`, on a field Helios does not set); every field that is present is validated.
        let check = "import json, sys, jsonschema\n\
                     schema = json.load(open(sys.argv[1]))\n\
                     jsonschema.validators.validator_for(schema)(schema).validate(json.load(open(sys.argv[2])))";
        let out = Command::new(tool(cache_dir().join("venv/bin/python")))
            .args(["-c", check])
            .args([schema.as_path(), doc.as_path()])
            .output()
            .expect("python runs");
        assert!(out.status.success(), "PrometheusRule schema: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_chart_lints_strictly_in_both_modes() {
    for mode in ["cronjob", "deployment"] {
        let chart = chart();
        let set = format!("targetgen.mode={mode}");
        let out = helm(&["lint", "--strict", chart.as_str(), "--set", &set]);
        assert!(out.status.success(), "helm lint ({mode}): {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn the_default_is_a_five_minute_cronjob_with_least_privilege() {
    let (docs, text) = render(&[]);
    validate(&text, &docs);
    let cron = one(&docs, "CronJob");
    assert_eq!(cron["spec"]["schedule"].as_str(), Some("*/5 * * * *"));
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_hardened(pod);
    assert_eq!(strings(&pod["containers"][0]["args"]), ["once", "--config", "/etc/helios/targetgen.yaml"]);
    assert!(kind(&docs, "Deployment").is_empty());
    // Get and patch on the one targets ConfigMap, which the chart creates: nothing more.
    let role = one(&docs, "Role");
    let rules = role["rules"].as_sequence().expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(strings(&rules[0]["resources"]), ["configmaps"]);
    assert_eq!(strings(&rules[0]["resourceNames"]), ["helios-targets"]);
    assert_eq!(strings(&rules[0]["verbs"]), ["get", "patch"]);
    assert!(kind(&docs, "ConfigMap").iter().any(|c| c["metadata"]["name"].as_str() == Some("helios-targets")));
    assert!(kind(&docs, "ClusterRole").is_empty() && kind(&docs, "Secret").is_empty());
    // The token is a mounted Secret; the config names its path only, and the outcome is pushed.
    let config = effective_config(&docs);
    for expected in [
        "netbox_token_file: /run/secrets/netbox/token",
        "configmap_namespace: observability",
        "configmap_name: helios-targets",
        "pushgateway_url: http://prometheus-pushgateway:9091",
    ] {
        assert!(config.contains(expected), "{expected} in\n{config}");
    }
    let rule = one(&docs, "PrometheusRule");
    assert_eq!(rule["spec"]["groups"][0]["rules"][0]["alert"].as_str(), Some("HeliosTargetSyncStale"));
}

#[test]
fn the_deployment_mode_serves_the_signed_webhook_and_metrics() {
    let (docs, text) = render(&[
        "targetgen.mode=deployment",
        "targetgen.webhook.secret.name=netbox-webhook",
        "targetgen.rules.snmp_module=if_mib",
    ]);
    validate(&text, &docs);
    assert!(kind(&docs, "CronJob").is_empty());
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_hardened(pod);
    let container = &pod["containers"][0];
    assert_eq!(strings(&container["args"])[0], "run");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    let secrets: Vec<_> = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .filter_map(|v| v["secret"]["secretName"].as_str())
        .collect();
    assert_eq!(secrets, ["helios-netbox-token", "netbox-webhook"]);
    assert_eq!(one(&docs, "Service")["spec"]["ports"][0]["port"].as_u64(), Some(9104));
    let config = effective_config(&docs);
    assert!(config.contains("webhook_secret_file: /run/secrets/webhook/secret"), "{config}");
    assert!(config.contains("snmp_module: if_mib"), "{config}");
    assert!(!config.contains("pushgateway_url: http"), "a long-running pod is scraped, not pushed: {config}");
}

#[test]
fn a_wrong_mode_is_refused_with_the_choices() {
    let chart = chart();
    let out = helm(&["template", "helios", chart.as_str(), "--set", "targetgen.mode=daemon"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("targetgen.mode must be cronjob or deployment"), "{err}");
}
