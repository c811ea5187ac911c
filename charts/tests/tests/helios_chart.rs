//! The umbrella chart, `charts/helios`, rendered by the real helm for every tier and option, every
//! object validated (Kubernetes schemas, the operators' CRD schemas), and what each part of the
//! platform must be asserted on the rendered objects. No Kubernetes API server runs here.

use std::collections::{BTreeMap, BTreeSet};

use helios_chart_tests::{
    Options, Render, TIERS, Value, assert_no_secret_values, chart, config_file, lint, render, render_error, strings,
};

const GROUPS: &[&str] = &["integration", "collection", "storage", "visualization", "automation", "flows"];

fn ns(group: &str) -> String {
    format!("helios-{group}")
}

fn namespace_of(doc: &Value) -> &str {
    doc["metadata"]["namespace"].as_str().unwrap_or("")
}

#[test]
fn every_tier_lints_strictly() {
    lint(&Options { tier: None, sets: vec![], operators: false });
    for tier in TIERS {
        lint(&Options::tier(tier));
    }
}

#[test]
fn every_tier_renders_valid_objects_with_the_operators_installed() {
    for tier in TIERS {
        let r = render(&Options::tier(tier));
        r.validate();
        for kind in ["Kafka", "KafkaNodePool", "KafkaTopic", "ClickHouseInstallation", "ClickHouseKeeperInstallation"] {
            assert!(!r.kind(kind).is_empty(), "{tier}: no {kind}");
        }
        for kind in ["ExternalSecret", "ClusterSecretStore", "Alertmanager", "PrometheusRule", "NetworkPolicy"] {
            assert!(!r.kind(kind).is_empty(), "{tier}: no {kind}");
        }
    }
}

#[test]
fn every_option_renders_valid_objects() {
    let options: &[&[&str]] = &[
        &["flows.collector=goflow2"],
        &["flows.viaKafka=false"],
        &["flows.viaKafka=false", "flows.enrichedTopic=true"],
        &["flows.enrichedTopic=true"],
        &["targetgen.mode=deployment"],
        &["secrets.store.provider=aws"],
        &["secrets.store.provider=gcp"],
        &["secrets.store.provider=azure"],
        &["secrets.store.create=false"],
        &["grafana.oidc.enabled=false"],
        &["grafana.enabled=false", "alertmanager.enabled=false", "prometheusRules.enabled=false"],
        &["global.createNamespaces=false"],
        &["clickhouse.external.url=https://ch.example.net:8443", "kafka.external.bootstrap=kafka.example.net:9092"],
        &["flows.geoip.claimName=geoip", "flows.service.type=ClusterIP"],
        &["images.digests.flowd=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ];
    for sets in options {
        render(&Options::tier("medium").set(sets)).validate();
    }
    for group in GROUPS {
        render(&Options::tier("medium").set(&[&format!("global.scope={group}")])).validate();
    }
}

#[test]
fn six_namespaces_restricted_each_component_in_its_own() {
    let r = render(&Options::tier("medium"));
    let namespaces: BTreeMap<&str, &Value> =
        r.kind("Namespace").into_iter().map(|n| (n["metadata"]["name"].as_str().expect("name"), n)).collect();
    assert_eq!(
        namespaces.keys().copied().collect::<Vec<_>>(),
        GROUPS.iter().map(|g| ns(g)).collect::<BTreeSet<_>>().iter().map(String::as_str).collect::<Vec<_>>()
    );
    for n in namespaces.values() {
        assert_eq!(n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as_str(), Some("restricted"));
    }
    let expect = [
        ("Deployment", "helios-flowd", "flows"),
        ("Deployment", "helios-enricher", "flows"),
        ("Kafka", "helios", "flows"),
        ("ClickHouseInstallation", "helios", "flows"),
        ("Job", "helios-migrate", "flows"),
        ("CronJob", "helios-targetgen", "integration"),
        ("Deployment", "helios-grafana", "visualization"),
        ("Alertmanager", "helios", "visualization"),
        ("PrometheusRule", "helios-helios-targetgen", "storage"),
    ];
    for (kind, name, group) in expect {
        assert_eq!(namespace_of(r.named(kind, name)), ns(group), "{kind} {name}");
    }
    // Everything namespaced is in one of the six.
    for d in &r.docs {
        let kind = d["kind"].as_str().unwrap_or("");
        if !["Namespace", "ClusterSecretStore"].contains(&kind) {
            assert!(
                GROUPS.iter().any(|g| namespace_of(d) == ns(g)),
                "{kind} {:?} outside the six namespaces",
                d["metadata"]["name"]
            );
        }
    }
}

#[test]
fn kafka_node_pools_and_topic_partitions_follow_the_tier() {
    for (tier, partitions, brokers, controllers) in
        [("small", 3, 1, 0), ("medium", 12, 3, 0), ("large", 48, 6, 3), ("xl", 192, 12, 3)]
    {
        let r = render(&Options::tier(tier));
        for topic in ["helios-flows-raw", "helios-flows-enriched"] {
            let t = r.named("KafkaTopic", topic);
            assert_eq!(t["spec"]["partitions"].as_u64(), Some(partitions), "{tier} {topic}");
            assert_eq!(t["metadata"]["labels"]["strimzi.io/cluster"].as_str(), Some("helios"));
        }
        let pools: BTreeMap<&str, &Value> =
            r.kind("KafkaNodePool").into_iter().map(|p| (p["metadata"]["name"].as_str().expect("name"), p)).collect();
        assert_eq!(pools["broker"]["spec"]["replicas"].as_u64(), Some(brokers), "{tier}");
        if controllers == 0 {
            assert_eq!(pools.len(), 1, "{tier}: one combined pool");
            assert_eq!(strings(&pools["broker"]["spec"]["roles"]), ["controller", "broker"]);
        } else {
            assert_eq!(pools["controller"]["spec"]["replicas"].as_u64(), Some(controllers), "{tier}");
            assert_eq!(strings(&pools["controller"]["spec"]["roles"]), ["controller"]);
            assert_eq!(strings(&pools["broker"]["spec"]["roles"]), ["broker"]);
        }
        // Node pools are the only way brokers are declared (KRaft, no ZooKeeper).
        assert!(r.named("Kafka", "helios")["spec"].get("zookeeper").is_none());
    }
}

#[test]
fn clickhouse_keeper_and_the_schema_job() {
    let r = render(&Options::tier("large"));
    let chi = r.named("ClickHouseInstallation", "helios");
    assert_eq!(
        chi["spec"]["configuration"]["zookeeper"]["nodes"][0]["host"].as_str(),
        Some("keeper-helios.helios-flows.svc")
    );
    // The password is a reference to the Secret External Secrets keeps.
    let password = &chi["spec"]["configuration"]["users"]["helios/password"];
    assert_eq!(password["valueFrom"]["secretKeyRef"]["name"].as_str(), Some("helios-clickhouse"));
    let chk = r.named("ClickHouseKeeperInstallation", "helios");
    assert_eq!(chk["spec"]["configuration"]["clusters"][0]["layout"]["replicasCount"].as_u64(), Some(3));
    let job = r.named("Job", "helios-migrate");
    assert_eq!(job["metadata"]["annotations"]["helm.sh/hook"].as_str(), Some("post-install,post-upgrade"));
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(strings(&c["args"]), ["migrate", "--config", "/etc/helios/flowd.yaml"]);
    assert_eq!(c["image"].as_str(), Some("ghcr.io/helios-observability/helios-flowd:0.1.0"));
}

/// The components each flow path runs, and where helios-flowd sends flows.
fn flow_path(r: &Render) -> (BTreeSet<String>, String) {
    let deployments = r
        .kind("Deployment")
        .into_iter()
        .filter(|d| namespace_of(d) == "helios-flows")
        .map(|d| d["metadata"]["name"].as_str().expect("name").to_string())
        .collect();
    let outputs = r
        .all_named("ConfigMap", "helios-flowd")
        .first()
        .map(|c| {
            let config: Value =
                serde_yaml_ng::from_str(c["data"]["flowd.yaml"].as_str().expect("flowd.yaml")).expect("yaml");
            let o = &config["outputs"];
            ["clickhouse", "kafka_raw", "kafka_enriched"]
                .iter()
                .filter(|k| o[**k].as_bool() == Some(true))
                .copied()
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    (deployments, outputs)
}

#[test]
fn both_flow_paths_of_the_architecture() {
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // Default (FR-008): helios-flowd -> helios-flows-raw -> helios-enricher -> ClickHouse.
    let r = render(&Options::tier("medium"));
    assert_eq!(flow_path(&r), (set(&["helios-enricher", "helios-flowd"]), "kafka_raw".into()));
    // The fast path: helios-flowd straight into ClickHouse, no Kafka.
    let r = render(&Options::tier("medium").set(&["flows.viaKafka=false"]));
    assert_eq!(flow_path(&r), (set(&["helios-flowd"]), "clickhouse".into()));
    assert!(r.kind("Kafka").is_empty() && r.kind("KafkaTopic").is_empty());
    // The spec's compatible path: goflow2 -> Kafka -> helios-enricher.
    let r = render(&Options::tier("medium").set(&["flows.collector=goflow2"]));
    assert_eq!(flow_path(&r), (set(&["helios-enricher", "helios-goflow2"]), String::new()));
    let goflow2 = &r.named("Deployment", "helios-goflow2")["spec"]["template"]["spec"]["containers"][0];
    let args = strings(&goflow2["args"]);
    assert!(args.contains(&"-transport.kafka.topic=helios-flows-raw"), "{args:?}");
    assert!(args.contains(&"-transport.kafka.brokers=helios-kafka-bootstrap.helios-flows.svc:9092"), "{args:?}");
    // Whichever collector runs, exporters reach it on UDP 2055 and 6343, their address kept.
    for r in [render(&Options::tier("medium")), r] {
        let svc = r.named("Service", "helios-flows");
        assert_eq!(svc["spec"]["externalTrafficPolicy"].as_str(), Some("Local"));
        let ports: Vec<(u64, &str)> = svc["spec"]["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .map(|p| (p["port"].as_u64().expect("port"), p["protocol"].as_str().expect("protocol")))
            .collect();
        assert_eq!(ports, [(2055, "UDP"), (6343, "UDP")]);
        let collectors: Vec<_> = r
            .kind("Deployment")
            .into_iter()
            .filter(|d| {
                d["spec"]["template"]["metadata"]["labels"]["helios.io/role"].as_str() == Some("flow-collector")
            })
            .collect();
        assert_eq!(collectors.len(), 1, "one collector behind the Service");
    }
    let r = render(&Options::tier("medium"));
    assert_eq!(r.named("HorizontalPodAutoscaler", "helios-flowd")["spec"]["maxReplicas"].as_u64(), Some(4));
    assert_eq!(r.named("PodDisruptionBudget", "helios-flowd")["spec"]["maxUnavailable"].as_u64(), Some(1));
}

#[test]
fn grafana_provisions_its_datasources_dashboards_and_oidc_roles() {
    let r = render(&Options::tier("medium"));
    let datasources: Value =
        serde_yaml_ng::from_str(config_file(&r, "helios-grafana-datasources", "datasources.yaml")).expect("yaml");
    let by_type: BTreeMap<&str, &Value> = datasources["datasources"]
        .as_sequence()
        .expect("datasources")
        .iter()
        .map(|d| (d["type"].as_str().expect("type"), d))
        .collect();
    assert_eq!(
        by_type.keys().copied().collect::<Vec<_>>(),
        ["alertmanager", "grafana-clickhouse-datasource", "prometheus"]
    );
    assert_eq!(by_type["prometheus"]["url"].as_str(), Some("http://helios-thanos-query.helios-storage.svc:9090"));
    assert_eq!(by_type["prometheus"]["jsonData"]["prometheusType"].as_str(), Some("Thanos"));
    assert_eq!(
        by_type["alertmanager"]["url"].as_str(),
        Some("http://alertmanager-operated.helios-visualization.svc:9093")
    );
    let ch = &by_type["grafana-clickhouse-datasource"];
    assert_eq!(ch["jsonData"]["host"].as_str(), Some("clickhouse-helios.helios-flows.svc"));
    assert_eq!(ch["jsonData"]["port"].as_u64(), Some(8123));
    assert_eq!(
        ch["secureJsonData"]["password"].as_str(),
        Some("$CLICKHOUSE_PASSWORD"),
        "expanded from the environment"
    );

    let providers: Value =
        serde_yaml_ng::from_str(config_file(&r, "helios-grafana-datasources", "dashboards.yaml")).expect("yaml");
    assert_eq!(providers["providers"][0]["options"]["path"].as_str(), Some("/var/lib/grafana/dashboards"));
    // Every dashboard of dashboards/ is shipped, byte for byte, from that one directory.
    let root = std::path::Path::new(&chart("helios")).join("dashboards");
    let mut shipped = 0;
    for folder in ["metrics", "flows"].map(|f| root.join(f)).into_iter().filter(|p| p.is_dir()) {
        for file in std::fs::read_dir(&folder).expect("folder").flatten() {
            let name = file.file_name().into_string().expect("utf-8");
            if name.ends_with(".json") {
                let cm = format!("helios-dashboards-{}", folder.file_name().expect("folder").to_string_lossy());
                assert_eq!(config_file(&r, &cm, &name), std::fs::read_to_string(file.path()).expect("read").trim_end());
                shipped += 1;
            }
        }
    }
    assert_eq!(
        r.kind("ConfigMap")
            .iter()
            .filter(|c| c["metadata"]["labels"]["helios.io/dashboards"].is_string())
            .map(|c| c["data"].as_mapping().map_or(0, |m| m.len()))
            .sum::<usize>(),
        shipped
    );

    let ini = config_file(&r, "helios-grafana", "grafana.ini");
    for line in [
        "client_secret = $__file{/run/secrets/grafana/oidc-client-secret}",
        "admin_password = $__file{/run/secrets/grafana/admin-password}",
        "role_attribute_path = contains(groups[*], 'helios-admin') && 'Admin' || contains(groups[*], 'helios-engineer') && 'Editor' || contains(groups[*], 'helios-viewer') && 'Viewer'",
        "role_attribute_strict = true",
        "preinstall_sync = grafana-clickhouse-datasource@4.11.1",
    ] {
        assert!(ini.lines().any(|l| l.trim() == line), "grafana.ini lacks {line}");
    }
    let off = render(&Options::tier("medium").set(&["grafana.oidc.enabled=false"]));
    assert!(!config_file(&off, "helios-grafana", "grafana.ini").contains("generic_oauth"));
}

#[test]
fn alertmanager_routes_by_severity_with_keys_from_files() {
    let r = render(&Options::tier("medium"));
    let secret = r.named("Secret", "helios-alertmanager-config");
    let config: Value =
        serde_yaml_ng::from_str(secret["stringData"]["alertmanager.yaml"].as_str().expect("config")).expect("yaml");
    let routes: Vec<(&str, &str)> = config["route"]["routes"]
        .as_sequence()
        .expect("routes")
        .iter()
        .map(|r| (r["matchers"][0].as_str().expect("matcher"), r["receiver"].as_str().expect("receiver")))
        .collect();
    assert_eq!(
        routes,
        [("severity=\"critical\"", "pagerduty"), ("severity=\"warning\"", "slack"), ("severity=\"info\"", "email")]
    );
    assert_eq!(strings(&config["route"]["group_by"]), ["alertname", "site", "device"]);
    let secrets = "/etc/alertmanager/secrets/helios-alertmanager";
    assert_eq!(
        config["receivers"][0]["pagerduty_configs"][0]["routing_key_file"].as_str(),
        Some(&*format!("{secrets}/pagerduty-routing-key"))
    );
    assert_eq!(
        config["receivers"][1]["slack_configs"][0]["api_url_file"].as_str(),
        Some(&*format!("{secrets}/slack-webhook-url"))
    );
    assert_eq!(
        config["receivers"][2]["email_configs"][0]["auth_password_file"].as_str(),
        Some(&*format!("{secrets}/smtp-password"))
    );
    assert_eq!(strings(&r.named("Alertmanager", "helios")["spec"]["secrets"]), ["helios-alertmanager"]);
}

#[test]
fn no_secret_value_outside_secrets_every_credential_from_external_secrets() {
    for sets in [&[][..], &["flows.collector=goflow2", "targetgen.mode=deployment"], &["flows.viaKafka=false"]] {
        assert_no_secret_values(&render(&Options::tier("medium").set(sets)));
    }
}

/// The ports a policy rule allows, as "PROTOCOL/port".
fn ports(rule: &Value) -> BTreeSet<String> {
    rule["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|p| format!("{}/{}", p["protocol"].as_str().unwrap_or("TCP"), p["port"].as_u64().unwrap_or(0)))
        .collect()
}

fn cidrs(peers: &Value) -> Vec<&str> {
    peers.as_sequence().into_iter().flatten().filter_map(|p| p["ipBlock"]["cidr"].as_str()).collect()
}

#[test]
fn network_policies_deny_by_default_and_open_only_each_components_ports() {
    let r = render(
        &Options::tier("medium")
            .set(&["global.managementCidrs={192.0.2.0/24,2001:db8::/32}", "global.flowSourceCidrs={198.51.100.0/24}"]),
    );
    for group in GROUPS {
        let deny: Vec<_> =
            r.all_named("NetworkPolicy", "default-deny").into_iter().filter(|p| namespace_of(p) == ns(group)).collect();
        assert_eq!(deny.len(), 1, "{group}");
        assert_eq!(strings(&deny[0]["spec"]["policyTypes"]), ["Ingress", "Egress"]);
        assert!(deny[0]["spec"]["ingress"].is_null(), "{group}: nothing in");
        assert_eq!(
            ports(&deny[0]["spec"]["egress"][0]),
            ["UDP/53", "TCP/53"].iter().map(|s| s.to_string()).collect(),
            "{group}: DNS only"
        );
    }
    // Collection reaches devices on the management networks only, on gNMI and SNMP ports.
    let collectors = r.named("NetworkPolicy", "helios-collectors");
    assert_eq!(namespace_of(collectors), "helios-collection");
    let egress = collectors["spec"]["egress"].as_sequence().expect("egress");
    assert_eq!(egress.len(), 1);
    assert_eq!(cidrs(&egress[0]["to"]), ["192.0.2.0/24", "2001:db8::/32"]);
    assert_eq!(ports(&egress[0]), ["TCP/6030", "TCP/57400", "UDP/161"].iter().map(|s| s.to_string()).collect());
    // Flows come in on UDP 2055 / 6343 from the exporters' networks.
    let flows = r.named("NetworkPolicy", "helios-flow-collector");
    let ingress = &flows["spec"]["ingress"][0];
    assert_eq!(cidrs(&ingress["from"]), ["198.51.100.0/24"]);
    assert_eq!(ports(ingress), ["UDP/2055", "UDP/6343"].iter().map(|s| s.to_string()).collect());
    // Kafka's listener admits the flow components only (also in Strimzi's own policy).
    let kafka = r.named("Kafka", "helios");
    let peers = &kafka["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"][0]["podSelector"]["matchLabels"];
    assert_eq!(peers["helios.io/kafka-client"].as_str(), Some("true"));
    for d in ["helios-flowd", "helios-enricher"] {
        assert_eq!(
            r.named("Deployment", d)["spec"]["template"]["metadata"]["labels"]["helios.io/kafka-client"].as_str(),
            Some("true")
        );
    }
    // Every policy selects pods of its own namespace and names both directions.
    for p in r.kind("NetworkPolicy") {
        assert!(GROUPS.iter().any(|g| namespace_of(p) == ns(g)));
        assert_eq!(strings(&p["spec"]["policyTypes"]), ["Ingress", "Egress"]);
    }
}

fn restricted(sc: &Value, pod: &Value, what: &str) {
    let pod_sc = &pod["securityContext"];
    let non_root = sc["runAsNonRoot"].as_bool().or(pod_sc["runAsNonRoot"].as_bool());
    assert_eq!(non_root, Some(true), "{what}: runAsNonRoot");
    let seccomp = sc["seccompProfile"]["type"].as_str().or(pod_sc["seccompProfile"]["type"].as_str());
    assert_eq!(seccomp, Some("RuntimeDefault"), "{what}: seccomp");
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false), "{what}: allowPrivilegeEscalation");
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{what}: capabilities");
}

#[test]
fn every_pod_meets_pod_security_restricted_with_a_read_only_root() {
    for sets in [&[][..], &["flows.collector=goflow2", "targetgen.mode=deployment"], &["flows.viaKafka=false"]] {
        let r = render(&Options::tier("large").set(sets));
        let pods = r.pods();
        assert!(pods.len() >= 4, "{sets:?}");
        for (name, pod) in pods {
            assert_ne!(pod["hostNetwork"].as_bool(), Some(true), "{name}");
            for c in pod["containers"].as_sequence().expect("containers") {
                let what = format!("{name} {}", c["name"].as_str().unwrap_or("?"));
                restricted(&c["securityContext"], pod, &what);
                assert_eq!(c["securityContext"]["readOnlyRootFilesystem"].as_bool(), Some(true), "{what}");
                assert!(c["resources"]["limits"]["memory"].is_string(), "{what}: memory limit");
            }
        }
        // The pods operators create from the chart's templates are restricted too.
        let chi = r.named("ClickHouseInstallation", "helios");
        let tpl = &chi["spec"]["templates"]["podTemplates"][0]["spec"];
        restricted(&tpl["containers"][0]["securityContext"], tpl, "ClickHouse");
        let chk = r.named("ClickHouseKeeperInstallation", "helios");
        let tpl = &chk["spec"]["templates"]["podTemplates"][0]["spec"];
        restricted(&tpl["containers"][0]["securityContext"], tpl, "Keeper");
        for kafka in r.kind("Kafka") {
            let tpl = &kafka["spec"]["kafka"]["template"];
            restricted(&tpl["kafkaContainer"]["securityContext"], &tpl["pod"], "Kafka");
        }
    }
}

#[test]
fn every_image_is_pinned() {
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let d = format!("images.digests.enricher={digest}");
    let r = render(&Options::tier("medium").set(&["flows.collector=goflow2", &d]));
    let mut images = BTreeSet::new();
    for (_, pod) in r.pods() {
        for c in pod["containers"].as_sequence().expect("containers") {
            images.insert(c["image"].as_str().expect("image").to_string());
        }
    }
    for (kind, path) in [
        ("ClickHouseInstallation", "/spec/templates/podTemplates/0/spec/containers/0/image"),
        ("ClickHouseKeeperInstallation", "/spec/templates/podTemplates/0/spec/containers/0/image"),
    ] {
        let json = serde_json::to_value(r.named(kind, "helios")).expect("json");
        images.insert(json.pointer(path).and_then(|v| v.as_str()).expect("image").to_string());
    }
    assert!(images.contains(&format!("ghcr.io/helios-observability/helios-enricher@{digest}")), "{images:?}");
    assert!(images.contains("ghcr.io/helios-observability/helios-targetgen:0.1.0"), "{images:?}");
    for image in &images {
        let (_, tag) = image.rsplit_once(['@', ':']).expect("a tag or digest");
        assert!(!tag.is_empty() && tag != "latest" && !tag.contains('/'), "{image} is not pinned");
    }
    let e = render_error(&Options::tier("medium").set(&["grafana.image.tag=latest"]));
    assert!(e.contains("grafana.image.tag"), "{e}");
}

#[test]
fn the_values_schema_rejects_nonsense_with_a_message_that_says_what_to_change() {
    let cases: &[(&[&str], &str)] = &[
        (&["global.tier=huge"], "global.tier must be one of the following: \"small\", \"medium\", \"large\", \"xl\""),
        (
            &["global.managementCidrs={10.0.0.0/33}"],
            "global.managementCidrs: \"10.0.0.0/33\" is not a network in CIDR notation (write it like 10.0.0.0/8 or 2001:db8::/32)",
        ),
        (
            &["global.flowSourceCidrs={10.1.2.3}"],
            "global.flowSourceCidrs: \"10.1.2.3\" is not a network in CIDR notation",
        ),
        (&["kafka.topix=3"], "Additional property topix is not allowed"),
        (
            &["kafka.replicationFactor=5"],
            "kafka.replicationFactor (5) is larger than kafka.brokers (3): every copy of a partition needs its own broker",
        ),
        (&["flows.enricher.replicas=20"], "flows.enricher.replicas (20) exceeds kafka.topics.raw.partitions (12)"),
        (
            &["flows.collector=goflow2", "kafka.enabled=false"],
            "but kafka.enabled is false and kafka.external.bootstrap is empty",
        ),
        (&["flows.collector=nfacctd"], "flows.collector must be one of the following: \"helios\", \"goflow2\""),
        (&["clickhouse.replicas=2"], "clickhouse.replicas"),
        (&["secrets.store.provider=keepass"], "secrets.store.provider must be one of the following"),
        (&["netbox.url=netbox:8080"], "netbox.url: Does not match pattern '^https?://'"),
    ];
    for (sets, message) in cases {
        let e = render_error(&Options::tier("medium").set(sets));
        assert!(e.contains(message), "{sets:?}: expected {message:?} in:\n{e}");
    }
}

#[test]
fn without_the_operators_the_install_stops_and_says_how_to_proceed() {
    let e = render_error(&Options::tier("medium").without_operators());
    assert!(e.contains("this cluster does not serve"), "{e}");
    assert!(e.contains("install the operators first (scripts/install.sh installs them, then Helios"), "{e}");
    // Left out on request (helm lint, a cluster whose operators live elsewhere).
    let r = render(&Options::tier("medium").without_operators().set(&["global.requireOperators=false"]));
    for kind in [
        "Kafka",
        "KafkaTopic",
        "ClickHouseInstallation",
        "ExternalSecret",
        "ClusterSecretStore",
        "Alertmanager",
        "PrometheusRule",
    ] {
        assert!(r.kind(kind).is_empty(), "{kind} rendered without its CRD");
    }
    assert!(!r.kind("Deployment").is_empty());
    r.validate();
}

#[test]
fn gitops_one_application_per_namespace_operators_first() {
    let r = render(&Options::tier("large").set(&["global.scope=gitops"]));
    r.validate();
    assert_eq!(r.docs.len(), 1, "only the ApplicationSet");
    let set = r.named("ApplicationSet", "helios");
    assert_eq!(namespace_of(set), "argocd");
    let elements = set["spec"]["generators"][0]["list"]["elements"].as_sequence().expect("elements");
    let by_group: BTreeMap<&str, (&str, &str)> = elements
        .iter()
        .map(|e| {
            (
                e["group"].as_str().expect("group"),
                (e["namespace"].as_str().expect("ns"), e["wave"].as_str().expect("wave")),
            )
        })
        .collect();
    assert_eq!(by_group["operators"], ("helios-operators", "0"));
    for group in GROUPS {
        let (namespace, wave) = by_group[group];
        assert_eq!(namespace, ns(group));
        assert_eq!(wave, if ["storage", "flows", "integration"].contains(group) { "1" } else { "2" }, "{group}");
    }
    assert_eq!(set["spec"]["strategy"]["type"].as_str(), Some("RollingSync"));
    let source = &set["spec"]["template"]["spec"]["source"];
    assert_eq!(strings(&source["helm"]["valueFiles"]), ["values-large.yaml"]);
    assert_eq!(source["helm"]["parameters"][0]["name"].as_str(), Some("global.scope"));
    // Each Application's render holds its namespace only (the store, cluster-wide, with integration).
    for group in GROUPS {
        let r = render(&Options::tier("large").set(&[&format!("global.scope={group}")]));
        assert!(!r.docs.is_empty(), "{group}");
        for d in &r.docs {
            let kind = d["kind"].as_str().unwrap_or("");
            match kind {
                "Namespace" => assert_eq!(d["metadata"]["name"].as_str(), Some(&*ns(group))),
                "ClusterSecretStore" => assert_eq!(*group, "integration"),
                _ => assert_eq!(namespace_of(d), ns(group), "{group}: {kind} {:?}", d["metadata"]["name"]),
            }
        }
    }
}

#[test]
fn the_operators_chart_names_upstream_charts_at_exact_versions() {
    let dir = std::path::PathBuf::from(chart("helios-operators"));
    let meta: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join("Chart.yaml")).expect("Chart.yaml")).expect("yaml");
    let deps: BTreeMap<&str, &Value> = meta["dependencies"]
        .as_sequence()
        .expect("dependencies")
        .iter()
        .map(|d| (d["name"].as_str().expect("name"), d))
        .collect();
    assert_eq!(
        deps.keys().copied().collect::<Vec<_>>(),
        ["altinity-clickhouse-operator", "external-secrets", "kube-prometheus-stack", "strimzi-kafka-operator"]
    );
    for (name, d) in &deps {
        let version = d["version"].as_str().expect("version");
        assert!(
            version.split('.').count() == 3 && version.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "{name}: {version} is not exact"
        );
        assert!(d["repository"].as_str().expect("repository").starts_with("https://"), "{name}");
        assert!(d["condition"].as_str().expect("condition").ends_with(".enabled"), "{name}: can be turned off");
    }
    // Upstream charts are dependencies, never copies: no templates and nothing vendored.
    assert!(!dir.join("templates").exists() && !dir.join("charts").exists());
}

#[test]
fn the_install_script_brings_the_operators_up_before_helios() {
    // A stand-in for helm (no cluster here) that records how install.sh calls it.
    let dir = helios_testkit::TempDir::new("install-script");
    let log = dir.path().join("calls");
    let fake = dir.path().join("helm");
    std::fs::write(&fake, format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display())).expect("write");
    let status = std::process::Command::new("chmod").arg("+x").arg(&fake).status().expect("chmod");
    assert!(status.success());
    let script = helios_testkit::repo_root().join("scripts/install.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["--tier", "large", "-f", "site.yaml"])
        .env("HELM", &fake)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = std::fs::read_to_string(&log).expect("calls");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0], "dependency build charts/helios-operators");
    assert!(
        calls[1].starts_with("upgrade --install helios-operators charts/helios-operators")
            && calls[1].contains("--wait"),
        "{}",
        calls[1]
    );
    assert!(
        calls[2].starts_with("upgrade --install helios charts/helios")
            && calls[2].contains("-f charts/helios/values-large.yaml -f site.yaml"),
        "{}",
        calls[2]
    );
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["--tier", "huge"])
        .env("HELM", &fake)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tier 'huge': use small, medium, large or xl"));
}

#[test]
fn the_dockerfile_builds_a_non_root_distroless_image_of_every_binary_the_chart_runs() {
    let root = helios_testkit::repo_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    let from: Vec<_> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(from.len(), 1);
    assert!(from[0].starts_with("FROM gcr.io/distroless/cc-debian12:nonroot"), "{}", from[0]);
    assert!(lines.contains(&"USER 65532:65532"));
    assert!(lines.iter().any(|l| l.starts_with("COPY ") && l.contains("dist/${TARGETARCH}/${BINARY}")));
    // The build script builds (for both architectures) every image the chart names.
    let script = std::fs::read_to_string(root.join("scripts/build-images.sh")).expect("build-images.sh");
    assert!(
        script.contains("build amd64 x86_64-unknown-linux-gnu")
            && script.contains("build arm64 aarch64-unknown-linux-gnu")
    );
    let r = render(&Options::tier("medium").set(&["targetgen.mode=deployment"]));
    for (_, pod) in r.pods() {
        let image = pod["containers"][0]["image"].as_str().expect("image");
        if let Some(rest) = image.strip_prefix("ghcr.io/helios-observability/") {
            let binary = rest.split([':', '@']).next().expect("name");
            assert!(
                script.contains(&format!(" {binary} ")) || script.contains(&format!("({binary} ")),
                "{binary} is not built"
            );
            // The chart runs them as the image's user: the pod's user matches.
            assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(65532));
        }
    }
}

#[test]
fn the_values_schema_is_what_its_generator_writes() {
    let root = helios_testkit::repo_root();
    let out =
        std::process::Command::new("python3").arg(root.join("scripts/chart-schema.py")).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = std::fs::read(root.join("charts/helios/values.schema.json")).expect("values.schema.json");
    assert!(
        out.stdout == committed,
        "charts/helios/values.schema.json is stale: run scripts/chart-schema.py > charts/helios/values.schema.json"
    );
}
