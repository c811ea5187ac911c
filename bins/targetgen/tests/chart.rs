//! The target generator's part of the umbrella chart (`charts/helios`, namespace helios-integration),
//! rendered by the real helm and validated by `helios-chart-tests`; the configuration it renders is
//! fed to this binary, which refuses unknown keys. No Kubernetes API server runs here.

use helios_chart_tests::{Options, Value, config_file, effective_config, render, render_error, strings};

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

fn config(r: &helios_chart_tests::Render) -> String {
    effective_config(env!("CARGO_BIN_EXE_helios-targetgen"), config_file(r, "helios-targetgen", "targetgen.yaml"))
}

#[test]
fn the_default_is_a_five_minute_cronjob_with_least_privilege() {
    let r = render(&Options::tier("medium"));
    let cron = r.named("CronJob", "helios-targetgen");
    assert_eq!(cron["metadata"]["namespace"].as_str(), Some("helios-integration"));
    assert_eq!(cron["spec"]["schedule"].as_str(), Some("*/5 * * * *"));
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_hardened(pod);
    assert_eq!(strings(&pod["containers"][0]["args"]), ["once", "--config", "/etc/helios/targetgen.yaml"]);
    assert!(r.all_named("Deployment", "helios-targetgen").is_empty());
    // Get and patch on the targets ConfigMap, which the chart creates, in each namespace that reads
    // it (a pod mounts only its own namespace's ConfigMaps): nothing more.
    let namespaces = ["helios-integration", "helios-collection", "helios-storage"];
    for (kind, name) in
        [("Role", "helios-targetgen"), ("RoleBinding", "helios-targetgen"), ("ConfigMap", "helios-targets")]
    {
        let found: Vec<_> =
            r.all_named(kind, name).iter().map(|d| d["metadata"]["namespace"].as_str().expect("ns")).collect();
        assert_eq!(found, namespaces, "{kind}");
    }
    for role in r.all_named("Role", "helios-targetgen") {
        let rules = role["rules"].as_sequence().expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(strings(&rules[0]["resources"]), ["configmaps"]);
        assert_eq!(strings(&rules[0]["resourceNames"]), ["helios-targets"]);
        assert_eq!(strings(&rules[0]["verbs"]), ["get", "patch"]);
    }
    for binding in r.all_named("RoleBinding", "helios-targetgen") {
        assert_eq!(binding["subjects"][0]["namespace"].as_str(), Some("helios-integration"));
    }
    assert!(r.kind("ClusterRole").is_empty());
    // The token is the Secret External Secrets keeps; the config names its path only.
    let secrets: Vec<_> = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .filter_map(|v| v["secret"]["secretName"].as_str())
        .collect();
    assert_eq!(secrets, ["helios-netbox"]);
    let config = config(&r);
    for expected in [
        "netbox_token_file: /run/secrets/netbox/token",
        "configmap_namespace: helios-integration",
        "configmap_name: helios-targets",
        "configmap_copies:\n- helios-collection\n- helios-storage",
        "pushgateway_url: http://helios-pushgateway.helios-storage.svc:9091",
    ] {
        assert!(config.contains(expected), "{expected} in\n{config}");
    }
    let rule = r.named("PrometheusRule", "helios-helios-targetgen");
    assert_eq!(rule["spec"]["groups"][0]["rules"][0]["alert"].as_str(), Some("HeliosTargetSyncStale"));
}

#[test]
fn the_deployment_mode_serves_the_signed_webhook_and_metrics() {
    let r = render(&Options::tier("medium").set(&["targetgen.mode=deployment", "targetgen.rules.snmp_module=if_mib"]));
    r.validate();
    assert!(r.kind("CronJob").is_empty());
    let pod = &r.named("Deployment", "helios-targetgen")["spec"]["template"]["spec"];
    assert_hardened(pod);
    let container = &pod["containers"][0];
    assert_eq!(strings(&container["args"])[0], "run");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    assert_eq!(r.named("Service", "helios-targetgen")["spec"]["ports"][0]["port"].as_u64(), Some(9104));
    // The webhook's shared secret comes with the token, from the secret manager.
    let es: Vec<_> = r
        .all_named("ExternalSecret", "helios-netbox")
        .into_iter()
        .filter(|e| e["metadata"]["namespace"].as_str() == Some("helios-integration"))
        .collect();
    let keys: Vec<_> = es[0]["spec"]["data"]
        .as_sequence()
        .expect("data")
        .iter()
        .map(|d| d["secretKey"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["token", "webhook-secret"]);
    let config = config(&r);
    assert!(config.contains("webhook_secret_file: /run/secrets/netbox/webhook-secret"), "{config}");
    assert!(config.contains("snmp_module: if_mib"), "{config}");
    assert!(!config.contains("pushgateway_url: http"), "a long-running pod is scraped, not pushed: {config}");
}

#[test]
fn a_wrong_mode_is_refused_with_the_choices() {
    let err = render_error(&Options::tier("medium").set(&["targetgen.mode=daemon"]));
    assert!(err.contains("targetgen.mode must be one of the following: \"cronjob\", \"deployment\""), "{err}");
}
