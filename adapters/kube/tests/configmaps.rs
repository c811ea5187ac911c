//! ConfigMap writes against a stand-in for the Kubernetes API server (no API server can run here):
//! `tower_test`'s mock service answering as the API server does, as kube-rs's own controller examples
//! test. Each scenario checks the exact requests: a GET, then a server-side apply PATCH only when the
//! content changed.

use std::collections::BTreeMap;

use helios_kube::{Applied, ConfigMaps, HASH_ANNOTATION, content_hash};
use http::{Method, Request, Response};
use kube::client::Body;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

const PATH: &str = "/api/v1/namespaces/monitoring/configmaps/helios-targets";

fn client() -> (ConfigMaps, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    (ConfigMaps::new(client, "monitoring", "helios-targetgen"), handle)
}

fn json(status: u16, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).expect("json")))
        .expect("response")
}

fn not_found() -> Response<Body> {
    json(
        404,
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                           "message": "configmaps \"helios-targets\" not found"}),
    )
}

fn live(data: &BTreeMap<String, String>, hash: &str) -> Response<Body> {
    json(
        200,
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "helios-targets", "namespace": "monitoring", "annotations": {HASH_ANNOTATION: hash}},
                           "data": data}),
    )
}

fn data(snmp: &str) -> BTreeMap<String, String> {
    [("snmp-targets.json".to_owned(), snmp.to_owned()), ("gnmic-targets.json".to_owned(), "{}".to_owned())].into()
}

fn labels() -> BTreeMap<String, String> {
    [("app.kubernetes.io/managed-by".to_owned(), "helios-targetgen".to_owned())].into()
}

#[tokio::test]
async fn a_missing_configmap_is_created_by_server_side_apply() {
    let (cms, mut handle) = client();
    let want = data("[1]");
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("GET");
        assert_eq!((req.method(), req.uri().path()), (&Method::GET, PATH));
        send.send_response(not_found());
        let (req, send) = handle.next_request().await.expect("PATCH");
        assert_eq!((req.method(), req.uri().path()), (&Method::PATCH, PATH));
        let query = req.uri().query().unwrap_or_default().to_owned();
        assert!(query.contains("fieldManager=helios-targetgen") && query.contains("force=true"), "{query}");
        assert_eq!(req.headers()["content-type"], "application/apply-patch+yaml");
        let body: serde_json::Value =
            serde_json::from_slice(&req.into_body().collect_bytes().await.expect("body")).expect("json");
        assert_eq!((body["apiVersion"].as_str(), body["kind"].as_str()), (Some("v1"), Some("ConfigMap")));
        assert_eq!(body["data"]["snmp-targets.json"], "[1]");
        assert_eq!(body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "helios-targetgen");
        let hash = body["metadata"]["annotations"][HASH_ANNOTATION].as_str().expect("hash").to_owned();
        send.send_response(json(200, body));
        hash
    });
    assert_eq!(cms.apply_if_changed("helios-targets", &want, &labels()).await.expect("apply"), Applied::Written);
    assert_eq!(server.await.expect("server"), content_hash(&want));
}

#[tokio::test]
async fn unchanged_content_sends_nothing_and_changed_content_is_applied() {
    let (cms, mut handle) = client();
    let old = data("[1]");
    let new = data("[1,2]");
    let server = tokio::spawn(async move {
        let (_, send) = handle.next_request().await.expect("GET");
        send.send_response(live(&data("[1]"), &content_hash(&data("[1]"))));
        // The same content again: a GET and nothing else.
        let (_, send) = handle.next_request().await.expect("GET");
        send.send_response(live(&data("[1]"), &content_hash(&data("[1]"))));
        let (req, send) = handle.next_request().await.expect("PATCH");
        assert_eq!(req.method(), Method::PATCH);
        let body: serde_json::Value =
            serde_json::from_slice(&req.into_body().collect_bytes().await.expect("body")).expect("json");
        assert_eq!(body["data"]["snmp-targets.json"], "[1,2]");
        send.send_response(json(200, body));
    });
    assert_eq!(cms.apply_if_changed("helios-targets", &old, &labels()).await.expect("apply"), Applied::Unchanged);
    assert_eq!(cms.apply_if_changed("helios-targets", &new, &labels()).await.expect("apply"), Applied::Written);
    server.await.expect("server");
}

#[tokio::test]
async fn reads_return_the_data_or_none_and_api_errors_are_named() {
    let (cms, mut handle) = client();
    let server = tokio::spawn(async move {
        let (_, send) = handle.next_request().await.expect("GET");
        send.send_response(live(&data("[7]"), "x"));
        let (_, send) = handle.next_request().await.expect("GET");
        send.send_response(not_found());
        let (_, send) = handle.next_request().await.expect("GET");
        send.send_response(json(
            403,
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                               "message": "configmaps is forbidden"}),
        ));
    });
    assert_eq!(cms.data("helios-targets").await.expect("read"), Some(data("[7]")));
    assert_eq!(cms.data("helios-targets").await.expect("read"), None);
    let err = cms.data("helios-targets").await.expect_err("forbidden");
    assert!(err.to_string().contains("read ConfigMap monitoring/helios-targets"), "{err}");
    server.await.expect("server");
}

#[tokio::test]
async fn copies_are_kept_in_every_namespace_and_a_lost_copy_is_rewritten() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let cms = ConfigMaps::new(kube::Client::new(service, "default"), "monitoring", "helios-targetgen")
        .with_copies_in(["collection".to_owned(), "monitoring".to_owned(), "storage".to_owned()]);
    let want = data("[1]");
    let server = tokio::spawn(async move {
        // The first namespace is current: a GET only.
        let (req, send) = handle.next_request().await.expect("GET");
        assert_eq!((req.method(), req.uri().path()), (&Method::GET, PATH));
        send.send_response(live(&data("[1]"), &content_hash(&data("[1]"))));
        // The copy in collection was deleted: read, then applied there.
        let copy = "/api/v1/namespaces/collection/configmaps/helios-targets";
        let (req, send) = handle.next_request().await.expect("GET");
        assert_eq!((req.method(), req.uri().path()), (&Method::GET, copy));
        send.send_response(not_found());
        let (req, send) = handle.next_request().await.expect("PATCH");
        assert_eq!((req.method(), req.uri().path()), (&Method::PATCH, copy));
        let body: serde_json::Value =
            serde_json::from_slice(&req.into_body().collect_bytes().await.expect("body")).expect("json");
        assert_eq!(body["metadata"]["namespace"], "collection");
        assert_eq!(body["data"]["snmp-targets.json"], "[1]");
        send.send_response(json(200, body));
        // The copy in storage is current (monitoring was named twice and is checked once).
        let (req, send) = handle.next_request().await.expect("GET");
        assert_eq!(req.uri().path(), "/api/v1/namespaces/storage/configmaps/helios-targets");
        send.send_response(live(&data("[1]"), &content_hash(&data("[1]"))));
    });
    assert_eq!(cms.apply_if_changed("helios-targets", &want, &labels()).await.expect("apply"), Applied::Written);
    server.await.expect("server");
}
