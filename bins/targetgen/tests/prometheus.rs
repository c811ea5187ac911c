//! The generated targets read by the real tools (Debian packages, installed by
//! `scripts/install-deps.sh`): Prometheus 2.42 scraping snmp_exporter 0.21 (walking a real snmpd)
//! and blackbox_exporter 0.23 through the file_sd files helios-targetgen writes (with hand-written
//! jobs, and with the chart's own), and a CronJob run pushing to a real Pushgateway. NetBox is the
//! stand-in of `common`. The alert rules' promtool tests are charts/tests/tests/alerts.rs.
//!
//! snmp_exporter 0.21 predates `auths:`: its module carries the community itself, and the
//! `__param_auth` the generator writes (for the >= 0.23 the chart deploys) is ignored by it. No
//! snmp_exporter >= 0.23 can be installed here (Debian 12 ships 0.21; no registry this machine reaches
//! carries a newer build), so the test checks our side of that contract: Prometheus sends the auth
//! *name* as the `auth` URL parameter of every SNMP scrape, beside `module` and `target`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Netbox, device};
use helios_testkit::netbox::NETBOX4_TOKEN;
use helios_testkit::{Service, TempDir, free_port, http_body, http_get, http_post_to, repo_root};

mod common;

fn need(program: &str) -> String {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let path = Path::new(dir).join(program);
        if path.exists() {
            return path.display().to_string();
        }
    }
    panic!(
        "{program} is not installed: run scripts/install-deps.sh (Debian packages prometheus, prometheus-snmp-exporter, prometheus-blackbox-exporter, snmpd)"
    );
}

/// NetBox custom fields of a device monitored over SNMP.
const MONITORED: &str = r#""helios_monitor": true, "helios_snmp": true"#;

/// Prometheus, snmp_exporter, blackbox_exporter and snmpd, as installed.
fn engines() -> (String, String, String, String) {
    (need("prometheus"), need("prometheus-snmp-exporter"), need("prometheus-blackbox-exporter"), need("snmpd"))
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A Prometheus instant query: the label sets of the result.
fn query(prometheus: SocketAddr, promql: &str) -> Vec<serde_json::Value> {
    let encoded: String = promql
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let Some(response) = http_get(prometheus, &format!("/api/v1/query?query={encoded}")) else { return Vec::new() };
    let v: serde_json::Value = serde_json::from_str(http_body(&response).trim()).unwrap_or_default();
    v["data"]["result"].as_array().map(|r| r.iter().map(|s| s["metric"].clone()).collect()).unwrap_or_default()
}

/// The URLs Prometheus scrapes for `job`.
fn scrape_urls(prometheus: SocketAddr, job: &str) -> Vec<String> {
    let Some(response) = http_get(prometheus, "/api/v1/targets?state=active") else { return Vec::new() };
    let v: serde_json::Value = serde_json::from_str(http_body(&response).trim()).unwrap_or_default();
    let targets = v["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
    targets
        .iter()
        .filter(|t| t["labels"]["job"] == job)
        .filter_map(|t| t["scrapeUrl"].as_str().map(str::to_owned))
        .collect()
}

/// A Prometheus exporter started with `config` written to `file`, listening on a free port.
fn exporter(bin: &str, file: &Path, config: &str) -> (Service, SocketAddr) {
    std::fs::write(file, config).expect("exporter config");
    let http = local(free_port());
    let args = [format!("--config.file={}", file.display()), format!("--web.listen-address={http}")];
    (Service::start(bin, &args, http), http)
}

/// A real snmpd answering community `public` on `addresses` (`udp:127.0.0.1:PORT,...`).
fn snmpd(bin: &str, dir: &Path, addresses: &str) -> Service {
    let conf = dir.join("snmpd.conf");
    std::fs::write(&conf, format!("agentaddress {addresses}\nrocommunity public 127.0.0.1\n")).expect("snmpd.conf");
    let args: Vec<String> = ["-f", "-Lo", "-C", "-c", &conf.display().to_string()].map(String::from).into();
    Service::start(bin, &args, local(0))
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn flagged_devices_are_scraped_with_their_labels_and_vanish_when_unflagged() {
    let (prometheus_bin, snmp_bin, blackbox_bin, snmpd_bin) = engines();
    let work = TempDir::new("prom-e2e");
    let dir = work.path();
    let snmp_port = free_port();
    let netbox = Netbox::start(vec![
        device(1, "edge1", "127.0.0.1", "edge", MONITORED),
        device(2, "edge2", "127.0.0.2", "core", MONITORED),
    ]);

    // snmpd answering on both loopback "devices".
    let _snmpd = snmpd(&snmpd_bin, dir, &format!("udp:127.0.0.1:{snmp_port},udp:127.0.0.2:{snmp_port}"));

    // snmp_exporter 0.21 with one module: sysUpTime, community public.
    let (snmp, snmp_http) = exporter(
        &snmp_bin,
        &dir.join("snmp.yml"),
        "if_mib:\n  walk: [1.3.6.1.2.1.1.3]\n  metrics:\n  - name: sysUpTime\n    oid: 1.3.6.1.2.1.1.3\n    type: gauge\n    help: uptime\n  version: 2\n  auth:\n    community: public\n",
    );
    let (blackbox, blackbox_http) = exporter(
        &blackbox_bin,
        &dir.join("blackbox.yml"),
        "modules:\n  icmp:\n    prober: icmp\n  tcp_connect:\n    prober: tcp\n    timeout: 2s\n  http_2xx:\n    prober: http\n",
    );

    // helios-targetgen, long-running, syncing on the webhook.
    let targets = dir.join("targets");
    std::fs::write(dir.join("token"), NETBOX4_TOKEN).expect("token");
    let targetgen_http = local(free_port());
    let sets = [
        format!("output_dir={}", targets.display()),
        format!("netbox_token_file={}", dir.join("token").display()),
        format!("rules.snmp_port={snmp_port}"),
        "rules.blackbox_tcp_ports=[]".to_owned(),
        "netbox_timeout_secs=2".to_owned(),
        "interval_secs=3600".to_owned(),
        // A test NetBox does not sign its calls; each may sync at once.
        "webhook_allow_unsigned=true".to_owned(),
        "webhook_min_interval_secs=0".to_owned(),
    ];
    let mut args = vec!["run".to_owned(), "--netbox-url".to_owned(), netbox.base.clone(), "--http".to_owned()];
    args.push(targetgen_http.to_string());
    for s in sets {
        args.extend(["--set".to_owned(), s]);
    }
    let targetgen = Service::start(env!("CARGO_BIN_EXE_helios-targetgen"), &args, targetgen_http);
    targetgen.wait_ready(Duration::from_secs(20));

    // Prometheus reading the generated files.
    let file = |name: &str| targets.join(name).display().to_string();
    let config = format!(
        r#"global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: snmp
    metrics_path: /snmp
    file_sd_configs: [{{files: ["{snmp_file}"], refresh_interval: 1s}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{target_label: __address__, replacement: "{snmp_http}"}}
  - job_name: blackbox
    metrics_path: /probe
    file_sd_configs: [{{files: ["{blackbox_file}"], refresh_interval: 1s}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{target_label: __address__, replacement: "{blackbox_http}"}}
  - job_name: netbox
    file_sd_configs: [{{files: ["{prometheus_file}"], refresh_interval: 1s}}]
    relabel_configs:
      - {{action: labelmap, regex: __meta_netbox_(.+)}}
      - {{source_labels: [__meta_netbox_primary_ip], target_label: __address__, replacement: "$1:9"}}
"#,
        snmp_file = file("snmp-targets.json"),
        blackbox_file = file("blackbox-targets.json"),
        prometheus_file = file("prometheus-targets.json"),
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
    let prom_http = local(free_port());
    let prometheus = Service::start(
        &prometheus_bin,
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address={prom_http}"),
            "--query.lookback-delta=3s".to_owned(),
        ],
        prom_http,
    );
    prometheus.wait_for(&["/-/ready"], Duration::from_secs(30));
    snmp.wait_for(&["/"], Duration::from_secs(10));
    blackbox.wait_for(&["/"], Duration::from_secs(10));

    // Both devices are walked by snmp_exporter and probed by blackbox, with their FR-018 labels.
    wait_until("edge1's SNMP metrics", Duration::from_secs(30), || {
        query(prom_http, r#"sysUpTime{device="edge1"}"#).len() == 1
    });
    let edge1 = &query(prom_http, r#"sysUpTime{device="edge1"}"#)[0];
    for (label, value) in
        [("site", "fra1"), ("vendor", "juniper"), ("platform", "junos"), ("role", "edge"), ("tier", "1")]
    {
        assert_eq!(edge1[label], value, "{label}: {edge1}");
    }
    // snmp_exporter >= 0.23 reads the credentials' name from `auth`, the module from `module`.
    let urls = scrape_urls(prom_http, "snmp");
    assert_eq!(urls.len(), 2, "{urls:?}");
    for url in &urls {
        for param in ["auth=public_v2", "module=if_mib", "target=127.0.0."] {
            assert!(url.contains(param), "{param} in {url}");
        }
    }
    wait_until("both devices probed", Duration::from_secs(30), || {
        query(prom_http, r#"probe_success{job="blackbox"}"#).len() == 2
    });
    // The Prometheus file_sd, relabelled by labelmap (nothing listens on port 9: up is 0, labels count).
    wait_until("both devices in the netbox job", Duration::from_secs(30), || {
        query(prom_http, r#"up{job="netbox", site="fra1"}"#).len() == 2
    });

    // A NetBox outage during a sync: nothing changes, the error is counted.
    let before = std::fs::read(targets.join("snmp-targets.json")).expect("file");
    netbox.down.store(true, Ordering::Relaxed);
    let webhook = || http_post_to(targetgen_http, "/webhook", "{}").is_some_and(|r| r.starts_with("HTTP/1.1 202"));
    assert!(webhook());
    wait_until("the failed sync counted", Duration::from_secs(20), || {
        targetgen.metrics().contains(r#"helios_targetgen_sync_errors_total{reason="netbox"} 1"#)
    });
    assert_eq!(std::fs::read(targets.join("snmp-targets.json")).expect("file"), before, "targets untouched");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(query(prom_http, r#"sysUpTime{device="edge1"}"#).len(), 1, "still scraped");

    // edge1 unflagged in NetBox: gone from every list and from Prometheus after the next sync.
    netbox.down.store(false, Ordering::Relaxed);
    netbox.devices.lock().expect("devices")[0] = device(1, "edge1", "127.0.0.1", "edge", r#""helios_monitor": false"#);
    let unflagged = Instant::now();
    assert!(webhook());
    wait_until("edge1 gone from Prometheus", Duration::from_secs(30), || {
        query(prom_http, r#"sysUpTime{device="edge1"}"#).is_empty()
            && query(prom_http, r#"probe_success{device="edge1"}"#).is_empty()
    });
    eprintln!("unflagged to gone from Prometheus: {:?}", unflagged.elapsed());
    assert_eq!(query(prom_http, r#"sysUpTime{device="edge2"}"#).len(), 1, "edge2 stays");
    assert!(targetgen.terminate().success());
}

#[test]
fn a_cron_run_pushes_its_outcome_to_the_pushgateway() {
    let pushgateway_bin = need("prometheus-pushgateway");
    let work = TempDir::new("pushgateway");
    let pushgateway = local(free_port());
    let pg = Service::start(&pushgateway_bin, &[format!("--web.listen-address={pushgateway}")], pushgateway);
    pg.wait_for(&["/-/ready"], Duration::from_secs(20));
    let netbox =
        Netbox::start(vec![device(1, "edge1", "192.0.2.1", "edge", r#""helios_monitor": true, "helios_snmp": true"#)]);
    std::fs::write(work.path().join("token"), NETBOX4_TOKEN).expect("token");
    let once = || {
        Command::new(env!("CARGO_BIN_EXE_helios-targetgen"))
            .args(["once", "--netbox-url", &netbox.base, "--set"])
            .arg(format!("output_dir={}", work.path().join("targets").display()))
            .arg("--set")
            .arg(format!("netbox_token_file={}", work.path().join("token").display()))
            .args(["--set", "netbox_timeout_secs=2", "--set"])
            .arg(format!("pushgateway_url=http://{pushgateway}"))
            .status()
            .expect("runs")
            .success()
    };
    let pushed = |name: &str| -> Option<String> {
        let page = http_get(pushgateway, "/metrics")?;
        let line = page.lines().find(|l| l.starts_with(name) && l.contains(r#"job="helios-targetgen""#))?;
        line.rsplit(' ').next().map(str::to_owned)
    };
    assert!(once());
    let success = pushed("helios_targetgen_last_success_timestamp_seconds{").expect("success pushed");
    assert!(success.parse::<f64>().is_ok_and(|t| t > 1.7e9), "{success}");
    assert_eq!(
        pushed(r#"helios_targetgen_targets{instance="",job="helios-targetgen",kind="snmp"}"#).as_deref(),
        Some("1")
    );
    netbox.down.store(true, Ordering::Relaxed);
    assert!(!once(), "the sync fails while NetBox is down");
    assert!(pushed("helios_targetgen_last_failure_timestamp_seconds{").is_some(), "the failure is pushed");
    assert_eq!(pushed("helios_targetgen_last_success_timestamp_seconds{"), Some(success), "the last success stays");
}

/// The chart's SNMP modules (snmp_exporter >= 0.23 layout) as snmp_exporter 0.21 reads them, a
/// stand-in translation since no newer build installs here: the modules a target names together
/// (`if_mib,system,host_resources`) become one module of that name, carrying the community 0.21 wants
/// inside each module instead of in `auths`.
fn snmp_modules_for_0_21(chart_modules: &str, combined: &str, community: &str) -> String {
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(chart_modules).expect("modules.yml");
    let mut merged = serde_yaml_ng::Mapping::new();
    for key in ["walk", "get", "metrics"] {
        let items: Vec<serde_yaml_ng::Value> = combined
            .split(',')
            .flat_map(|m| parsed["modules"][m][key].as_sequence().cloned().unwrap_or_default())
            .collect();
        if !items.is_empty() {
            merged.insert(key.into(), items.into());
        }
    }
    merged.insert("version".into(), 2.into());
    merged.insert(
        "auth".into(),
        serde_yaml_ng::to_value([("community", community)].into_iter().collect::<std::collections::BTreeMap<_, _>>())
            .expect("auth"),
    );
    let mut modules = serde_yaml_ng::Mapping::new();
    modules.insert(combined.into(), merged.into());
    serde_yaml_ng::to_string(&modules).expect("yaml")
}

/// The chart's scrape jobs (what the Prometheus Operator appends to its configuration), translated to
/// this machine: the targets ConfigMap's mount becomes the generator's directory, the exporters'
/// Service names become their loopback addresses, intervals shrink to keep the test short, and the
/// jobs that need a Kubernetes API server (pod discovery) or a Pushgateway are left out.
fn chart_scrape_jobs(targets: &Path, snmp: SocketAddr, blackbox: SocketAddr) -> String {
    use helios_chart_tests::{Options, Value, render};
    let r = render(&Options::tier("medium"));
    let secret = r.named("Secret", "helios-scrape-configs");
    let text = secret["stringData"]["scrape-configs.yaml"].as_str().expect("scrape-configs.yaml");
    let text = text
        .replace("/etc/prometheus/configmaps/helios-targets", &targets.display().to_string())
        .replace("helios-snmp-exporter.helios-collection.svc:9116", &snmp.to_string())
        .replace("helios-blackbox-exporter.helios-collection.svc:9115", &blackbox.to_string());
    let mut jobs: Vec<Value> = serde_yaml_ng::from_str(&text).expect("jobs");
    jobs.retain(|j| ["snmp", "blackbox"].contains(&j["job_name"].as_str().unwrap_or("")));
    assert_eq!(jobs.len(), 2, "the chart's snmp and blackbox jobs");
    for j in &mut jobs {
        j["scrape_interval"] = "2s".into();
        j["scrape_timeout"] = "2s".into();
        j["file_sd_configs"][0]["refresh_interval"] = "1s".into();
    }
    serde_yaml_ng::to_string(
        &serde_yaml_ng::to_value([("scrape_configs", jobs)].into_iter().collect::<std::collections::BTreeMap<_, _>>())
            .expect("yaml"),
    )
    .expect("yaml")
}

#[test]
fn the_charts_scrape_jobs_and_modules_collect_every_device_with_the_fr018_labels_within_sc002() {
    let (prometheus_bin, snmp_bin, blackbox_bin, snmpd_bin) = engines();
    let work = TempDir::new("chart-scrape");
    let dir = work.path();
    let snmp_port = free_port();
    let netbox = Netbox::start(vec![device(1, "edge1", "127.0.0.1", "edge", MONITORED)]);
    let _snmpd = snmpd(&snmpd_bin, dir, &format!("udp:127.0.0.1:{snmp_port}"));

    // The exporters with the modules the chart ships.
    let chart = repo_root().join("charts/helios/files");
    let modules = std::fs::read_to_string(chart.join("snmp/modules.yml")).expect("modules.yml");
    let combined = "if_mib,system,host_resources";
    let (snmp, snmp_http) =
        exporter(&snmp_bin, &dir.join("snmp.yml"), &snmp_modules_for_0_21(&modules, combined, "public"));
    let blackbox_config = std::fs::read_to_string(chart.join("blackbox/blackbox.yml")).expect("blackbox.yml");
    let (blackbox, blackbox_http) = exporter(&blackbox_bin, &dir.join("blackbox.yml"), &blackbox_config);
    for (bin, file) in [(&snmp_bin, "snmp.yml"), (&blackbox_bin, "blackbox.yml")] {
        let check = if bin.ends_with("snmp-exporter") { "--dry-run" } else { "--config.check" };
        let out = Command::new(bin)
            .arg(format!("--config.file={}", dir.join(file).display()))
            .arg(check)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{bin} refuses the chart's modules: {}", String::from_utf8_lossy(&out.stderr));
    }

    // helios-targetgen with the chart's target rules (modules by default: if_mib,system,host_resources).
    let targets = dir.join("targets");
    std::fs::write(dir.join("token"), NETBOX4_TOKEN).expect("token");
    let mut args = vec!["once".to_owned(), "--netbox-url".to_owned(), netbox.base.clone()];
    for s in [
        format!("output_dir={}", targets.display()),
        format!("netbox_token_file={}", dir.join("token").display()),
        format!("rules.snmp_port={snmp_port}"),
        format!("rules.snmp_module={combined}"),
        "rules.blackbox_tcp_ports=[]".to_owned(),
    ] {
        args.extend(["--set".to_owned(), s]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_helios-targetgen")).args(&args).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A real Prometheus with the chart's jobs.
    let config = format!(
        "global: {{scrape_interval: 2s, external_labels: {{dc: dc1, cluster: helios}}}}\n{}",
        chart_scrape_jobs(&targets, snmp_http, blackbox_http)
    );
    std::fs::write(dir.join("prometheus.yml"), &config).expect("prometheus.yml");
    let promtool = Command::new(need("promtool"))
        .args(["check", "config"])
        .arg(dir.join("prometheus.yml"))
        .output()
        .expect("promtool");
    assert!(
        promtool.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    let prom_http = local(free_port());
    let prometheus = Service::start(
        &prometheus_bin,
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address={prom_http}"),
        ],
        prom_http,
    );
    prometheus.wait_for(&["/-/ready"], Duration::from_secs(30));
    snmp.wait_for(&["/"], Duration::from_secs(10));
    blackbox.wait_for(&["/"], Duration::from_secs(10));

    // Every series of the device carries the FR-018 labels from NetBox (region is empty in the
    // stand-in's inventory, so Prometheus drops it), whatever metric family.
    let fr018 = [
        ("device", "edge1"),
        ("site", "fra1"),
        ("vendor", "juniper"),
        ("platform", "junos"),
        ("role", "edge"),
        ("tier", "1"),
    ];
    for metric in ["sysUpTime", "ifHCInOctets", "ifOperStatus", "hrStorageUsed", "probe_success"] {
        wait_until(metric, Duration::from_secs(30), || {
            !query(prom_http, &format!(r#"{metric}{{device="edge1"}}"#)).is_empty()
        });
        for series in query(prom_http, &format!(r#"{metric}{{device="edge1"}}"#)) {
            for (label, value) in fr018 {
                assert_eq!(series[label], value, "{metric}: {label} in {series}");
            }
        }
    }
    let lo = query(prom_http, r#"ifHCInOctets{device="edge1", ifName="lo"}"#);
    assert_eq!(lo.len(), 1, "interfaces are named by the ifName lookup: {lo:?}");
    assert_eq!(
        query(prom_http, r#"probe_success{device="edge1", module="icmp"} == 1"#).len(),
        1,
        "ICMP probe succeeds"
    );
    assert!(scrape_urls(prom_http, "snmp")[0].contains("module=if_mib%2Csystem%2Chost_resources"));

    // Ingestion to query (SC-002): how long after a scrape its sample can be queried. The wait for the
    // next scrape adds at most the job's interval (SNMP 30 s polled; gNMI scraped every 10 s).
    let mut delays = Vec::new();
    let mut last = 0.0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while delays.len() < 8 && Instant::now() < deadline {
        let answer = http_get(prom_http, "/api/v1/query?query=timestamp%28sysUpTime%7Bdevice%3D%22edge1%22%7D%29")
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(http_body(&answer).trim()).unwrap_or_default();
        let ts = v["data"]["result"][0]["value"][1].as_str().and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0);
        if ts > last {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
            if last > 0.0 {
                delays.push(now - ts);
            }
            last = ts;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    delays.sort_by(f64::total_cmp);
    assert!(delays.len() >= 5, "new samples kept arriving: {delays:?}");
    let median = delays[delays.len() / 2];
    eprintln!(
        "SC-002: scrape to queryable, median {median:.3} s, max {:.3} s over {} samples",
        delays[delays.len() - 1],
        delays.len()
    );
    assert!(delays[delays.len() - 1] < 5.0, "a sample took more than 5 s to become queryable: {delays:?}");
}
