//! The metrics platform of the umbrella chart (US1, US6): gnmic, snmp_exporter and blackbox_exporter
//! in helios-collection; sharded Prometheus with Thanos and the object store in helios-storage;
//! multi-datacenter renders. Every render is validated; the configuration each engine gets is checked
//! by that engine where it runs here (promtool), or against the engine's documented schema (gnmic).
//! The real scrape path (a real Prometheus with these jobs, snmp_exporter + snmpd, blackbox) is
//! `bins/targetgen/tests/prometheus.rs`, which runs the target generator that writes the target files.

use std::collections::BTreeMap;
use std::process::Command;

use helios_chart_tests::{Options, Render, TIERS, Value, assert_no_secret_values, config_file, render, strings};
use helios_testkit::{TempDir, cache_dir, repo_root};

const TOPOLOGIES: &[&str] = &["single-dc-minio", "multi-dc-minio", "cloud-s3", "hybrid"];

/// The DC roles of US6: one DC alone, the primary and a secondary of several, and the hub.
const ROLES: &[(&str, &[&str])] = &[
    ("single", &[]),
    ("primary", &["global.dc=dc1", "global.primaryDc=dc1"]),
    ("secondary", &["global.dc=dc2", "global.primaryDc=dc1"]),
    (
        "hub",
        &[
            "global.dc=hub",
            "global.primaryDc=dc1",
            "thanos.hub.enabled=true",
            "thanos.hub.endpoints={thanos-dc1.example.net:10901,thanos-dc2.example.net:10901}",
        ],
    ),
];

const SITE: &str = "objectStorage.minio.sites[0].name=dc2,objectStorage.minio.sites[0].url=https://minio.dc2.example.net,objectStorage.minio.sites[0].rootUser.key=helios/minio-dc2,objectStorage.minio.sites[0].rootUser.property=root-user,objectStorage.minio.sites[0].rootPassword.key=helios/minio-dc2,objectStorage.minio.sites[0].rootPassword.property=root-password";

fn args<'a>(tier: &'a str, topology: &'a str, role: &[&'a str], sets: &'a mut Vec<String>) -> Options<'a> {
    sets.push(format!("global.storageTopology={topology}"));
    let mut o = Options::tier(tier).set(role);
    o.sets.extend(sets.iter().map(String::as_str));
    o.sets.push(SITE);
    o
}

fn containers<'a>(r: &'a Render, kind: &str, name: &str) -> &'a Value {
    &r.named(kind, name)["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn every_tier_topology_and_datacenter_role_renders_valid_objects() {
    let mut text = String::new();
    for tier in TIERS {
        for topology in TOPOLOGIES {
            for (role, sets) in ROLES {
                let mut extra = Vec::new();
                let r = render(&args(tier, topology, sets, &mut extra));
                assert_no_secret_values(&r);
                let prometheus = r.kind("Prometheus");
                let compactors = r.all_named("StatefulSet", "helios-thanos-compactor").len();
                let minio = r.all_named("StatefulSet", "helios-minio").len();
                match *role {
                    "hub" => {
                        assert!(
                            prometheus.is_empty() && compactors == 0 && minio == 0,
                            "{tier}/{topology}: the hub only queries"
                        );
                        let query = strings(&containers(&r, "Deployment", "helios-thanos-query")["args"]).join(" ");
                        assert!(
                            query.contains(
                                "--endpoint=thanos-dc1.example.net:10901 --endpoint=thanos-dc2.example.net:10901"
                            ),
                            "{query}"
                        );
                        assert!(query.contains("--grpc-client-tls-secure"));
                    }
                    _ => {
                        assert_eq!(prometheus.len(), 1, "{tier}/{topology}/{role}");
                        assert_eq!(
                            compactors,
                            usize::from(*role != "secondary"),
                            "{tier}/{topology}/{role}: compactor"
                        );
                        assert_eq!(minio, usize::from(*topology != "cloud-s3"), "{tier}/{topology}/{role}: MinIO");
                        let dc = if *role == "secondary" { "dc2" } else { "dc1" };
                        assert_eq!(prometheus[0]["spec"]["externalLabels"]["dc"].as_str(), Some(dc));
                        assert_eq!(prometheus[0]["spec"]["externalLabels"]["cluster"].as_str(), Some("helios"));
                    }
                }
                text.push_str(&r.text);
                text.push_str("\n---\n");
            }
        }
    }
    // One validation of all 64 renders (strict Kubernetes and CRD schemas, object by object).
    Render { docs: Vec::new(), text }.validate();
}

#[test]
fn exactly_one_compactor_across_every_datacenter_with_retention_per_resolution() {
    let mut compactors = Vec::new();
    for dc in ["dc1", "dc2", "dc3"] {
        let r = render(&Options::tier("large").set(&[
            &format!("global.dc={dc}"),
            "global.primaryDc=dc1",
            "global.storageTopology=multi-dc-minio",
        ]));
        for c in r.all_named("StatefulSet", "helios-thanos-compactor") {
            assert_eq!(c["spec"]["replicas"].as_u64(), Some(1));
            compactors.push((dc, strings(&c["spec"]["template"]["spec"]["containers"][0]["args"]).join(" ")));
        }
    }
    assert_eq!(compactors.len(), 1, "{compactors:?}");
    let (dc, args) = &compactors[0];
    assert_eq!(*dc, "dc1");
    for flag in
        ["--retention.resolution-raw=14d", "--retention.resolution-5m=30d", "--retention.resolution-1h=90d", "--wait"]
    {
        assert!(args.contains(flag), "{flag} in {args}");
    }
    assert!(!args.contains("downsampling.disable"), "downsampling stays on");
}

#[test]
fn prometheus_shards_and_replicas_follow_the_tier_and_thanos_deduplicates_them() {
    for (tier, shards, replicas, gnmic) in
        [("small", 1, 1, 1), ("medium", 1, 2, 2), ("large", 2, 2, 4), ("xl", 4, 2, 8)]
    {
        let r = render(&Options::tier(tier));
        let p = &r.named("Prometheus", "helios")["spec"];
        assert_eq!((p["shards"].as_u64(), p["replicas"].as_u64()), (Some(shards), Some(replicas)), "{tier}");
        assert_eq!(p["replicaExternalLabelName"].as_str(), Some("prometheus_replica"));
        assert_eq!(p["thanos"]["objectStorageConfig"]["name"].as_str(), Some("helios-thanos-objstore"));
        assert_eq!(strings(&p["configMaps"]), ["helios-targets"], "the generator's files, from this namespace's copy");
        assert_eq!(p["additionalScrapeConfigs"]["name"].as_str(), Some("helios-scrape-configs"));
        assert_eq!(r.named("StatefulSet", "helios-gnmic")["spec"]["replicas"].as_u64(), Some(gnmic), "{tier}");
        let query = strings(&containers(&r, "Deployment", "helios-thanos-query")["args"]).join(" ");
        assert!(query.contains("--query.replica-label=prometheus_replica"), "{query}");
        assert!(query.contains("--endpoint=dnssrv+_grpc._tcp.prometheus-operated.helios-storage.svc"), "{query}");
        assert!(query.contains("--endpoint=dnssrv+_grpc._tcp.helios-thanos-store.helios-storage.svc"), "{query}");
    }
}

#[test]
fn each_topology_gives_thanos_its_bucket_without_a_secret_value() {
    let objstore = |sets: &[&str]| -> (String, Vec<String>) {
        let r = render(&Options::tier("medium").set(sets));
        if let Some(es) = r.all_named("ExternalSecret", "helios-thanos-objstore").first() {
            let file =
                es["spec"]["target"]["template"]["data"]["objstore.yml"].as_str().expect("objstore.yml").to_string();
            let keys = es["spec"]["data"]
                .as_sequence()
                .expect("data")
                .iter()
                .map(|d| d["remoteRef"]["property"].as_str().expect("p").to_string())
                .collect();
            (file, keys)
        } else {
            let s = r.named("Secret", "helios-thanos-objstore");
            (s["stringData"]["objstore.yml"].as_str().expect("objstore.yml").to_string(), Vec::new())
        }
    };
    let parse = |text: &str| -> Value { serde_yaml_ng::from_str(text).expect("objstore.yml") };
    let (minio, keys) = objstore(&["global.storageTopology=single-dc-minio"]);
    let c = &parse(&minio)["config"];
    assert_eq!(
        (c["endpoint"].as_str(), c["insecure"].as_bool()),
        (Some("helios-minio.helios-storage.svc:9000"), Some(true)),
        "{minio}"
    );
    assert_eq!(c["access_key"].as_str(), Some("{{ .access_key }}"), "keys filled in by External Secrets: {minio}");
    assert_eq!(keys, ["thanos-access-key", "thanos-secret-key"]);
    let (s3, keys) = objstore(&["global.storageTopology=cloud-s3"]);
    let c = &parse(&s3)["config"];
    assert_eq!(
        (c["endpoint"].as_str(), c["aws_sdk_auth"].as_bool()),
        (Some("s3.eu-west-1.amazonaws.com"), Some(true)),
        "{s3}"
    );
    assert!(c["access_key"].is_null() && keys.is_empty(), "the cloud identity, no keys: {s3}");
    let (s3keys, keys) = objstore(&["global.storageTopology=cloud-s3", "objectStorage.s3.useCloudIdentity=false"]);
    assert_eq!(parse(&s3keys)["config"]["region"].as_str(), Some("eu-west-1"), "{s3keys}");
    assert_eq!(keys, ["access-key", "secret-key"]);
    // hybrid: MinIO here, mirrored to the cloud bucket.
    let r = render(&Options::tier("medium").set(&["global.storageTopology=hybrid"]));
    let mirror = strings(&containers(&r, "Deployment", "helios-minio-mirror")["args"]).join(" ");
    assert!(mirror.contains("mc mirror --watch --overwrite \"local/$BUCKET\" \"cloud/$S3_BUCKET\""), "{mirror}");
    // multi-dc-minio: the setup Job knows the peer sites.
    let mut extra = Vec::new();
    let r = render(&args("medium", "multi-dc-minio", &[], &mut extra));
    let env = &r.named("Job", "helios-minio-setup")["spec"]["template"]["spec"]["containers"][0]["env"];
    let sites = env.as_sequence().expect("env").iter().find(|e| e["name"] == "SITES").expect("SITES");
    assert_eq!(sites["value"].as_str(), Some("dc2=https://minio.dc2.example.net"));
}

/// Runs the chart's MinIO setup script with a stand-in `mc` (no MinIO server installs here) that
/// answers `admin replicate info` with `state` and records every call.
fn minio_setup(state: &str) -> Vec<String> {
    let dir = TempDir::new("minio-setup");
    let log = dir.path().join("calls");
    let mc = dir.path().join("mc");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$*\" in *'replicate info'*) printf '%s' '{state}' ;; *'user info'*) echo 'PolicyName: none' ;; esac\n",
        log = log.display()
    );
    std::fs::write(&mc, script).expect("mc");
    assert!(Command::new("chmod").arg("+x").arg(&mc).status().expect("chmod").success());
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .arg(repo_root().join("charts/helios/files/minio/setup.sh"))
        .env("PATH", path)
        .envs([
            ("MINIO_URL", "http://minio:9000"),
            ("ROOT_USER", "root"),
            ("ROOT_PASSWORD", "rootpw"),
            ("BUCKET", "helios-metrics"),
        ])
        .envs([
            ("THANOS_ACCESS_KEY", "thanos"),
            ("THANOS_SECRET_KEY", "thanospw"),
            ("SITES", "dc2=https://minio.dc2.example.net"),
        ])
        .envs([("SITE_DC2_USER", "root2"), ("SITE_DC2_PASSWORD", "root2pw")])
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&log)
        .expect("calls")
        .lines()
        .map(|l| l.trim_start_matches("--quiet ").to_string())
        .collect()
}

#[test]
fn the_minio_setup_is_idempotent_and_adds_site_replication_only_when_missing() {
    let calls = minio_setup(r#"{"enabled":false}"#);
    for expected in [
        "mb --ignore-existing local/helios-metrics",
        "version enable local/helios-metrics",
        "anonymous set none local/helios-metrics",
        "admin policy attach local helios-thanos --user thanos",
        "admin replicate add local dc2",
    ] {
        assert!(calls.iter().any(|c| c == expected), "{expected} in {calls:?}");
    }
    let calls = minio_setup(
        r#"{"enabled":true,"sites":[{"name":"dc1","endpoint":"http://minio:9000"},{"name":"dc2","endpoint":"https://minio.dc2.example.net"}]}"#,
    );
    assert!(!calls.iter().any(|c| c.starts_with("admin replicate add")), "already joined: {calls:?}");
    assert!(calls.iter().any(|c| c == "admin replicate info local --json"));
}

#[test]
fn promtool_accepts_the_rendered_scrape_jobs_and_alert_rules() {
    let r = render(&Options::tier("large"));
    let dir = TempDir::new("promtool-chart");
    let jobs: Value = serde_yaml_ng::from_str(
        r.named("Secret", "helios-scrape-configs")["stringData"]["scrape-configs.yaml"].as_str().expect("jobs"),
    )
    .expect("yaml");
    let mut jobs = jobs.as_sequence().expect("jobs").clone();
    let names: Vec<_> = jobs.iter().map(|j| j["job_name"].as_str().expect("name").to_string()).collect();
    assert_eq!(names, ["snmp", "blackbox", "gnmic", "helios", "pushgateway"]);
    // Debian's Prometheus (2.42, the one that installs here) is built without Kubernetes discovery, so
    // promtool cannot parse kubernetes_sd_configs: the two pod-discovery jobs are checked with that
    // block swapped for a static target (relabelling, intervals and the rest as rendered), and the
    // discovery itself is asserted here.
    for job in &mut jobs {
        let Some(sd) = job.as_mapping_mut().and_then(|m| m.remove("kubernetes_sd_configs")) else { continue };
        assert_eq!(sd[0]["role"].as_str(), Some("pod"), "{job:?}");
        let namespaces = strings(&sd[0]["namespaces"]["names"]);
        assert!(!namespaces.is_empty() && namespaces.iter().all(|n| n.starts_with("helios-")), "{namespaces:?}");
        job["static_configs"] = serde_yaml_ng::from_str("[{targets: ['pod.invalid:9102']}]").expect("yaml");
    }
    let jobs = Value::Sequence(jobs);
    let mut rule_files = Vec::new();
    for (i, rule) in r.kind("PrometheusRule").into_iter().enumerate() {
        let file = dir.path().join(format!("rules-{i}.yaml"));
        std::fs::write(&file, serde_yaml_ng::to_string(&rule["spec"]).expect("yaml")).expect("write");
        rule_files.push(file.display().to_string());
    }
    assert!(!rule_files.is_empty());
    let config: BTreeMap<&str, Value> = [
        (
            "global",
            serde_yaml_ng::from_str("{scrape_interval: 30s, external_labels: {dc: dc1, cluster: helios}}")
                .expect("yaml"),
        ),
        ("rule_files", serde_yaml_ng::to_value(&rule_files).expect("yaml")),
        ("scrape_configs", jobs),
    ]
    .into();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, serde_yaml_ng::to_string(&config).expect("yaml")).expect("write");
    let promtool =
        ["/usr/bin/promtool", "/usr/local/bin/promtool"].into_iter().find(|p| std::path::Path::new(p).exists());
    let promtool =
        promtool.expect("promtool is not installed: run scripts/install-deps.sh (Debian package prometheus)");
    let out = Command::new(promtool).args(["check", "config"]).arg(&file).output().expect("promtool runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check config:\n{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn gnmic_clusters_loads_the_generators_targets_and_exports_numbers_with_the_device_labels() {
    let r = render(&Options::tier("medium"));
    let text = config_file(&r, "helios-gnmic", "gnmic.yaml");
    let config: Value = serde_yaml_ng::from_str(text).expect("gnmic.yaml");
    // Checked against gnmic's documented options (no gnmic binary installs here; see the schema).
    let dir = TempDir::new("gnmic-schema");
    let doc = dir.path().join("gnmic.json");
    std::fs::write(&doc, serde_json::to_string(&config).expect("json")).expect("write");
    let schema = repo_root().join("charts/tests/gnmic-config.schema.json");
    let check = "import json, sys, jsonschema\nschema = json.load(open(sys.argv[1]))\njsonschema.Draft7Validator.check_schema(schema)\njsonschema.Draft7Validator(schema).validate(json.load(open(sys.argv[2])))";
    let out = Command::new(cache_dir().join("venv/bin/python"))
        .args(["-c", check])
        .arg(&schema)
        .arg(&doc)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "gnmic.yaml against gnmic's documented schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Clustering on a Kubernetes lease locker in its own namespace, peers found by the API Service.
    assert_eq!(config["clustering"]["locker"]["type"].as_str(), Some("k8s"));
    assert_eq!(config["clustering"]["locker"]["namespace"].as_str(), Some("helios-collection"));
    let service =
        r.named("Service", &format!("{}-gnmic-api", config["clustering"]["cluster-name"].as_str().expect("name")));
    assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"));
    // The generator's gnmic file, from the targets ConfigMap copy in this namespace, re-read every 30 s.
    let sts = r.named("StatefulSet", "helios-gnmic");
    let pod = &sts["spec"]["template"]["spec"];
    let targets =
        pod["volumes"].as_sequence().expect("volumes").iter().find(|v| v["name"] == "targets").expect("targets volume");
    assert_eq!(targets["configMap"]["name"].as_str(), Some("helios-targets"));
    assert_eq!(config["loader"]["path"].as_str(), Some("/etc/helios-targets/gnmic-targets.json"));
    assert_eq!(config["loader"]["interval"].as_str(), Some("30s"));
    // Every processor the output names exists; enumerations become numbers.
    let processors = config["processors"].as_mapping().expect("processors");
    for name in strings(&config["outputs"]["prometheus"]["event-processors"]) {
        assert!(processors.contains_key(name), "{name}");
    }
    assert!(text.contains("old: \"ESTABLISHED\", new: \"6\"") && text.contains("old: \"UP\", new: \"1\""), "{text}");
    // Credentials from the Secret only; reconnecting on a timer.
    assert_eq!(config["username"].as_str(), Some("${GNMI_USERNAME}"));
    let env = pod["containers"][0]["env"].as_sequence().expect("env");
    let password = env.iter().find(|e| e["name"] == "GNMI_PASSWORD").expect("GNMI_PASSWORD");
    assert_eq!(password["valueFrom"]["secretKeyRef"]["name"].as_str(), Some("helios-gnmi"));
    assert_eq!(config["retry"].as_str(), Some("10s"));
    // The lease locker's rights, in this namespace only.
    let role = r.all_named("Role", "helios-gnmic");
    assert_eq!(role.len(), 1);
    assert_eq!(strings(&role[0]["rules"][0]["resources"]), ["leases"]);
}

#[test]
fn the_exporters_run_the_modules_of_the_repository_with_icmp_unprivileged() {
    let r = render(&Options::tier("medium"));
    let files = repo_root().join("charts/helios/files");
    assert_eq!(
        config_file(&r, "helios-snmp-exporter", "modules.yml").trim_end(),
        std::fs::read_to_string(files.join("snmp/modules.yml")).expect("read").trim_end()
    );
    assert_eq!(
        config_file(&r, "helios-blackbox-exporter", "blackbox.yml").trim_end(),
        std::fs::read_to_string(files.join("blackbox/blackbox.yml")).expect("read").trim_end()
    );
    let blackbox = &r.named("Deployment", "helios-blackbox-exporter")["spec"]["template"]["spec"];
    assert_eq!(blackbox["securityContext"]["sysctls"][0]["name"].as_str(), Some("net.ipv4.ping_group_range"));
    assert!(blackbox["containers"][0]["securityContext"]["capabilities"]["add"].is_null(), "no NET_RAW");
    // SNMP credentials: an ExternalSecret renders snmp_exporter's auths file from the secret manager.
    let es = r.named("ExternalSecret", "helios-snmp-auths");
    let auths = es["spec"]["target"]["template"]["data"]["auths.yml"].as_str().expect("auths.yml");
    assert!(auths.contains("public_v2:") && auths.contains("community: '{{ .public_v2_community }}'"), "{auths}");
    let snmp = strings(&containers(&r, "Deployment", "helios-snmp-exporter")["args"]).join(" ");
    assert!(
        snmp.contains("--config.file=/etc/snmp_exporter/modules.yml --config.file=/etc/snmp_exporter/auths/auths.yml"),
        "{snmp}"
    );
}
