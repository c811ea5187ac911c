//! The Grafana dashboards of `dashboards/`, written with the Grafana Foundation SDK in
//! `dashboards/builder`: regenerating them gives the committed bytes, each satisfies Grafana's
//! `Dashboard` type (`tsc --strict` against `@grafana/schema`, run by `scripts/dashboards.sh`), every
//! query reads only metrics of the metric contract, and every dashboard offers the FR-018 variables.
//! No Grafana server runs here; the queries' meaning against real data is the next check to add.

use std::collections::BTreeSet;
use std::process::Command;

use helios_chart_tests::{Value, metrics_in};
use helios_testkit::{TempDir, repo_root};

fn dashboards(dir: &std::path::Path) -> Vec<(String, Value)> {
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

#[test]
fn regenerating_the_dashboards_gives_the_committed_files_and_each_satisfies_grafanas_schema() {
    let out = TempDir::new("dashboards");
    let run = Command::new("bash")
        .arg(repo_root().join("scripts/dashboards.sh"))
        .arg(out.path())
        .output()
        .expect("dashboards.sh runs");
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "scripts/dashboards.sh (tsc --strict against @grafana/schema):\n{text}");
    assert!(text.contains("each satisfying Grafana's Dashboard type"), "{text}");
    let built = dashboards(out.path());
    let committed = dashboards(&repo_root().join("dashboards"));
    assert_eq!(built.iter().map(|d| &d.0).collect::<Vec<_>>(), committed.iter().map(|d| &d.0).collect::<Vec<_>>());
    for (name, _) in &built {
        let a = std::fs::read(out.path().join(name)).expect("built");
        let b = std::fs::read(repo_root().join("dashboards").join(name)).expect("committed");
        assert!(a == b, "dashboards/{name} differs from what dashboards/builder writes: run scripts/dashboards.sh");
    }
}

#[test]
fn the_eight_core_dashboards_offer_the_fr018_variables_and_read_only_the_contracts_metrics() {
    let all = dashboards(&repo_root().join("dashboards"));
    let titles: BTreeSet<&str> =
        all.iter().filter(|(n, _)| n.starts_with("metrics/")).filter_map(|(_, d)| d["title"].as_str()).collect();
    for title in [
        "Network Overview",
        "Interface Analytics",
        "Device Health",
        "Site Overview",
        "Latency & Reachability",
        "BGP Status",
        "Top Talkers (metrics)",
        "Alerts Overview",
    ] {
        assert!(titles.contains(title), "{title} missing: {titles:?}");
    }
    let contract: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo_root().join("charts/helios/files/metric-contract.yaml")).expect("contract"),
    )
    .expect("yaml");
    let known: BTreeSet<String> = ["metrics", "recorded"]
        .iter()
        .flat_map(|k| {
            contract[*k]
                .as_mapping()
                .expect(k)
                .keys()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut queries = 0;
    for (name, d) in &all {
        let variables: Vec<&str> = d["templating"]["list"]
            .as_sequence()
            .expect("variables")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        for label in ["region", "site", "role", "tier", "device"] {
            assert!(variables.contains(&label), "{name}: no ${label} variable");
        }
        for v in d["templating"]["list"].as_sequence().expect("variables") {
            let q = v["query"].as_str().unwrap_or("");
            let inner = q.strip_prefix("label_values(").and_then(|q| q.rsplit_once(',')).map(|(m, _)| m).unwrap_or(q);
            for metric in metrics_in(inner) {
                assert!(
                    known.contains(&metric),
                    "{name}: variable {:?} reads {metric}, not in the contract",
                    v["name"]
                );
            }
        }
        for panel in d["panels"].as_sequence().expect("panels") {
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(panel["datasource"]["uid"].as_str(), Some("thanos"), "{name}: {:?}", panel["title"]);
            for target in panel["targets"].as_sequence().expect("targets") {
                let expr = target["expr"].as_str().expect("expr");
                assert!(
                    expr.contains("$region") || expr.contains("$device"),
                    "{name}: {:?} ignores the variables: {expr}",
                    panel["title"]
                );
                for metric in metrics_in(expr) {
                    assert!(
                        known.contains(&metric),
                        "{name}: {:?} reads {metric}, not in files/metric-contract.yaml",
                        panel["title"]
                    );
                }
                queries += 1;
            }
        }
    }
    assert!(queries >= 39, "{queries} queries");
}
