//! Test kit for Helios's Helm charts: renders `charts/helios` with the real helm (offline, as
//! `scripts/install-deps.sh` installs it), validates every object — built-in kinds against the
//! Kubernetes schemas, custom resources against their operators' CRD schemas — and answers questions
//! about the rendered objects. No Kubernetes API server runs here; what a cluster would do with the
//! manifests is asserted on them.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use helios_testkit::{TempDir, cache_dir, repo_root, shared_dir};
use serde::Deserialize;
pub use serde_yaml_ng::Value;

/// The Kubernetes version the charts are rendered and validated for (the oldest the chart supports
/// with the Strimzi version it pins).
pub const KUBE_VERSION: &str = "1.30.0";

/// The operators' APIs a cluster serves once `charts/helios-operators` is installed; rendering with
/// them is what `helm install` does on such a cluster.
pub const OPERATOR_APIS: &[&str] = &[
    "argoproj.io/v1alpha1/ApplicationSet",
    "clickhouse-keeper.altinity.com/v1/ClickHouseKeeperInstallation",
    "clickhouse.altinity.com/v1/ClickHouseInstallation",
    "external-secrets.io/v1/ClusterSecretStore",
    "external-secrets.io/v1/ExternalSecret",
    "kafka.strimzi.io/v1/Kafka",
    "kafka.strimzi.io/v1/KafkaNodePool",
    "kafka.strimzi.io/v1/KafkaTopic",
    "monitoring.coreos.com/v1/Alertmanager",
    "monitoring.coreos.com/v1/Prometheus",
    "monitoring.coreos.com/v1/PrometheusRule",
];

/// The scale tiers, each with its `values-<tier>.yaml`.
pub const TIERS: &[&str] = &["small", "medium", "large", "xl"];

fn tool(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} is missing: run scripts/install-deps.sh", path.display());
    path
}

/// Runs the real helm.
pub fn helm(args: &[&str]) -> Output {
    Command::new(tool(cache_dir().join("bin/helm"))).args(args).output().expect("helm runs")
}

/// A chart of the repository, by directory name under `charts/`.
pub fn chart(name: &str) -> String {
    repo_root().join("charts").join(name).display().to_string()
}

/// What to render: a tier's values file, `--set` values, and whether the operators' APIs exist.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// `small`, `medium`, `large` or `xl`: adds `values-<tier>.yaml`; None: values.yaml alone.
    pub tier: Option<&'a str>,
    /// `--set key=value` pairs.
    pub sets: Vec<&'a str>,
    /// Render as on a cluster where the operators are installed (their CRDs served).
    pub operators: bool,
}

impl<'a> Options<'a> {
    /// A tier with the operators installed, as `scripts/install.sh` leaves a cluster.
    pub fn tier(tier: &'a str) -> Options<'a> {
        Options { tier: Some(tier), sets: Vec::new(), operators: true }
    }

    /// Adds `--set` values.
    pub fn set(mut self, sets: &[&'a str]) -> Options<'a> {
        self.sets.extend_from_slice(sets);
        self
    }

    /// Renders as on a cluster without the operators.
    pub fn without_operators(mut self) -> Options<'a> {
        self.operators = false;
        self
    }

    fn args(&self, command: &'a str) -> Vec<String> {
        let chart = chart("helios");
        let mut args = vec![command.to_string()];
        if command == "template" {
            args.extend(["helios".to_string(), chart.clone(), "--kube-version".into(), KUBE_VERSION.into()]);
        } else {
            // helm lint cannot be told the cluster's APIs: it lints what renders without the operators.
            args.extend([
                "--strict".to_string(),
                chart.clone(),
                "--set".into(),
                "global.requireOperators=false".into(),
            ]);
        }
        if let Some(tier) = self.tier {
            args.extend(["-f".into(), format!("{chart}/values-{tier}.yaml")]);
        }
        for s in &self.sets {
            args.extend(["--set".into(), (*s).to_string()]);
        }
        if self.operators && command == "template" {
            for api in OPERATOR_APIS {
                args.extend(["--api-versions".into(), (*api).to_string()]);
            }
        }
        args
    }
}

/// `helm template`'s output, parsed.
#[derive(Debug)]
pub struct Render {
    /// Every object, in helm's order.
    pub docs: Vec<Value>,
    /// The YAML as helm printed it.
    pub text: String,
}

/// `helm template` of `charts/helios`; panics with helm's message when it refuses.
pub fn render(options: &Options) -> Render {
    let args = options.args("template");
    let out = helm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "helm template {:?}: {}", options, String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("helm printed valid YAML"))
        .filter(|v| !v.is_null())
        .collect();
    Render { docs, text }
}

/// `helm template` that must fail; its error message.
pub fn render_error(options: &Options) -> String {
    let args = options.args("template");
    let out = helm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success(), "helm template {options:?} was expected to fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `helm lint --strict`; panics with helm's findings when it fails.
pub fn lint(options: &Options) {
    let args = options.args("lint");
    let out = helm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "helm lint {options:?}: {}", String::from_utf8_lossy(&out.stdout));
}

impl Render {
    /// Every object of a kind.
    pub fn kind(&self, kind: &str) -> Vec<&Value> {
        self.docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect()
    }

    /// The object of a kind and name; panics when there is not exactly one.
    pub fn named(&self, kind: &str, name: &str) -> &Value {
        let found: Vec<_> =
            self.kind(kind).into_iter().filter(|d| d["metadata"]["name"].as_str() == Some(name)).collect();
        assert_eq!(found.len(), 1, "exactly one {kind} {name}, found {}", found.len());
        found[0]
    }

    /// The objects of a kind and name (one per namespace it is in).
    pub fn all_named(&self, kind: &str, name: &str) -> Vec<&Value> {
        self.kind(kind).into_iter().filter(|d| d["metadata"]["name"].as_str() == Some(name)).collect()
    }

    /// Every pod spec the chart itself defines, with the name of the object that holds it.
    pub fn pods(&self) -> Vec<(String, &Value)> {
        let mut pods = Vec::new();
        for d in &self.docs {
            let name =
                format!("{} {}", d["kind"].as_str().unwrap_or("?"), d["metadata"]["name"].as_str().unwrap_or("?"));
            let spec = match d["kind"].as_str() {
                Some("Deployment" | "StatefulSet" | "DaemonSet" | "Job") => &d["spec"]["template"]["spec"],
                Some("CronJob") => &d["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                _ => continue,
            };
            pods.push((name, spec));
        }
        pods
    }

    /// Validates every object: `kubernetes-validate --strict` for built-in kinds, the operators' CRD
    /// schemas (read in place from the shared test data) for custom resources.
    pub fn validate(&self) {
        let dir = TempDir::new("chart-validate");
        let rendered = dir.path().join("rendered.yaml");
        std::fs::write(&rendered, &self.text).expect("write");
        let script = repo_root().join("charts/tests/validate_manifests.py");
        let out = Command::new(tool(cache_dir().join("venv/bin/python")))
            .arg(script)
            .arg(KUBE_VERSION)
            .arg(&rendered)
            .arg(shared_dir().join("schemas"))
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "invalid objects:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The strings of a YAML sequence.
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// A ConfigMap's file, by key.
pub fn config_file<'a>(render: &'a Render, configmap: &str, key: &str) -> &'a str {
    render.named("ConfigMap", configmap)["data"][key].as_str().unwrap_or_else(|| panic!("{configmap} has no {key}"))
}

/// Runs a Helios binary on a configuration file the chart renders and returns its `--print-config`
/// (the binaries refuse unknown keys, so this proves the chart and the code agree).
pub fn effective_config(binary: &str, config: &str) -> String {
    let dir = TempDir::new("chart-config");
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, config).expect("write");
    let out = Command::new(binary)
        .args(["--config", &file.display().to_string(), "--print-config"])
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{binary} refuses the chart's config: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn namespace_of(doc: &Value) -> &str {
    doc["metadata"]["namespace"].as_str().unwrap_or("")
}

/// Every Secret a workload or custom resource mounts or reads (`secretName`, `secretKeyRef`, an
/// Alertmanager's `secrets`), with the namespace it must exist in.
pub fn secrets_used(r: &Render) -> std::collections::BTreeSet<(String, String)> {
    fn walk(v: &Value, ns: &str, out: &mut std::collections::BTreeSet<(String, String)>) {
        match v {
            Value::Mapping(m) => {
                for (k, v) in m {
                    let secret = match k.as_str() {
                        Some("secretName") => v.as_str(),
                        Some("secretKeyRef") => Some(v["name"].as_str().unwrap_or("?")),
                        _ => None,
                    };
                    match secret {
                        Some(name) => {
                            out.insert((ns.to_string(), name.to_string()));
                        }
                        None => walk(v, ns, out),
                    }
                }
            }
            Value::Sequence(s) => s.iter().for_each(|v| walk(v, ns, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for d in &r.docs {
        if d["kind"].as_str() != Some("ExternalSecret") {
            walk(&d["spec"], namespace_of(d), &mut out);
        }
    }
    for am in r.kind("Alertmanager") {
        for s in strings(&am["spec"]["secrets"]) {
            out.insert((namespace_of(am).to_string(), s.to_string()));
        }
    }
    out
}

/// The chart holds no secret value: every Secret a pod reads is kept by an ExternalSecret (or is one
/// the chart writes without credentials); no credential-looking variable has a literal value; the
/// Secrets and ConfigMaps the chart writes name credentials only by the file or variable holding them.
///
/// # Panics
/// On the first violation, naming the object.
pub fn assert_no_secret_values(r: &Render) {
    let written: std::collections::BTreeSet<(String, String)> = r
        .kind("ExternalSecret")
        .into_iter()
        .map(|e| (namespace_of(e).to_string(), e["spec"]["target"]["name"].as_str().expect("target").to_string()))
        .chain(
            r.kind("Secret")
                .into_iter()
                .map(|s| (namespace_of(s).to_string(), s["metadata"]["name"].as_str().expect("name").to_string())),
        )
        .collect();
    let used = secrets_used(r);
    assert!(!used.is_empty(), "no pod reads a Secret: nothing was checked");
    for s in &used {
        assert!(written.contains(s), "{s:?} is used but neither an ExternalSecret nor the chart writes it");
    }
    for (pod, spec) in r.pods() {
        for c in spec["containers"].as_sequence().expect("containers") {
            for e in c["env"].as_sequence().into_iter().flatten() {
                let name = e["name"].as_str().unwrap_or("").to_ascii_uppercase();
                if ["PASSWORD", "TOKEN", "SECRET", "KEY", "COMMUNITY"].iter().any(|w| name.contains(w)) {
                    assert!(e["value"].is_null(), "{pod}: {name} has a literal value");
                }
            }
        }
    }
    let inline = [
        "routing_key:",
        "api_url:",
        "auth_password:",
        "service_key:",
        "access_key:",
        "secret_key:",
        "password:",
        "community:",
    ];
    for sec in r.kind("Secret") {
        for (k, v) in sec["stringData"].as_mapping().into_iter().flatten() {
            let text = v.as_str().unwrap_or("");
            for key in inline {
                assert!(!text.contains(key), "{:?} {k:?}: {key} inline", sec["metadata"]["name"]);
            }
        }
    }
    let credentials = ["password", "token", "sasl.password", "client_secret", "admin_password", "secret", "community"];
    for cm in r.kind("ConfigMap") {
        for (k, v) in cm["data"].as_mapping().into_iter().flatten() {
            for line in v.as_str().unwrap_or("").lines().map(str::trim) {
                let lower = line.to_ascii_lowercase();
                let Some((key, value)) = lower.split_once([':', '=']) else { continue };
                let value = value.trim();
                // A credential is named only by the file or variable that holds it.
                let reference = value.starts_with("$__file{/run/secrets/")
                    || value.starts_with('$')
                    || value.starts_with("/run/secrets/");
                if credentials.contains(&key.trim()) {
                    assert!(reference, "{:?} {k:?}: {line}", cm["metadata"]["name"]);
                }
            }
        }
    }
}

/// The metric names a PromQL expression reads (identifiers that are not functions, keywords,
/// labels, strings, ranges or grouping clauses).
pub fn metrics_in(expr: &str) -> std::collections::BTreeSet<String> {
    let mut text = String::new();
    let mut chars = expr.chars().peekable();
    // Drop strings, label matchers and ranges.
    while let Some(c) = chars.next() {
        let close = match c {
            '"' | '\'' | '`' => Some(c),
            '{' => Some('}'),
            '[' => Some(']'),
            _ => None,
        };
        match close {
            Some(end) => {
                let mut escaped = false;
                for d in chars.by_ref() {
                    if d == end && !escaped {
                        break;
                    }
                    escaped = d == '\\' && !escaped;
                }
                text.push(' ');
            }
            None => text.push(c),
        }
    }
    // Drop grouping clauses' label lists.
    let mut cleaned = String::new();
    let words = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    let mut rest = text.as_str();
    while let Some((i, word)) = words.iter().filter_map(|w| find_word(rest, w).map(|i| (i, *w))).min_by_key(|(i, _)| *i)
    {
        cleaned.push_str(&rest[..i]);
        let after = rest[i + word.len()..].trim_start();
        rest = match after.strip_prefix('(') {
            Some(inside) => inside.split_once(')').map_or("", |(_, tail)| tail),
            None => after,
        };
        cleaned.push(' ');
    }
    cleaned.push_str(rest);
    let keywords = ["and", "or", "unless", "bool", "offset", "inf", "nan"];
    let bytes = cleaned.as_bytes();
    let mut out = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < bytes.len() && ((bytes[i] as char).is_ascii_alphanumeric() || b"_:".contains(&bytes[i])) {
                i += 1;
            }
            let word = &cleaned[start..i];
            let next = cleaned[i..].trim_start().chars().next();
            let after_digit = start > 0 && (bytes[start - 1] as char).is_ascii_digit();
            if next != Some('(') && !keywords.contains(&word) && !after_digit {
                out.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(word).map(|i| i + from) {
        let before = text[..i].chars().last();
        let after = text[i + word.len()..].chars().next();
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !is_ident(before) && !is_ident(after) {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

/// The metric contract (`charts/helios/files/metric-contract.yaml`), parsed.
pub fn metric_contract() -> Value {
    let path = repo_root().join("charts/helios/files/metric-contract.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(&path).expect("metric-contract.yaml"))
        .expect("metric-contract.yaml is YAML")
}

/// Every metric name the contract knows: the producers' metrics and the recording rules'.
pub fn contract_metrics() -> std::collections::BTreeSet<String> {
    let contract = metric_contract();
    ["metrics", "recorded"]
        .iter()
        .flat_map(|k| {
            contract[*k]
                .as_mapping()
                .expect(k)
                .keys()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The dashboards under `dir` (`dir/metrics/*.json`, `dir/flows/*.json`) as (`folder/file`, JSON),
/// sorted by name.
pub fn dashboards(dir: &std::path::Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for folder in ["metrics", "flows"] {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else { continue };
        for e in entries.flatten() {
            let name = format!("{folder}/{}", e.file_name().to_string_lossy());
            let v: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(e.path()).expect("read")).expect("json");
            out.push((name, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `q` percent-encoded for a URL's query string.
pub fn url_encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

/// The 95th percentile of `times` (sorted in place), and the largest.
pub fn p95_and_max(times: &mut [std::time::Duration]) -> (std::time::Duration, std::time::Duration) {
    times.sort();
    let p95 = times[(times.len() * 95).div_ceil(100).saturating_sub(1)];
    (p95, times[times.len() - 1])
}

/// Every rules file of `charts/helios/files/rules` with its rules (alerting and recording).
pub fn rule_files() -> Vec<(PathBuf, Vec<Value>)> {
    let dir = repo_root().join("charts/helios/files/rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("rules/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".rules.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let doc: Value = serde_yaml_ng::from_str(&text).expect("yaml");
            let rules = doc["groups"]
                .as_sequence()
                .expect("groups")
                .iter()
                .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
                .collect();
            (p, rules)
        })
        .collect()
}
