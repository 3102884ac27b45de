//! The Kubernetes backend end to end, on SQLite and on PostgreSQL: Berth reads a kubeconfig, an approved project is
//! applied object by object with server-side apply as `berth`, a drift check finds a quota changed by hand and shows
//! it on the project page, an admin's reprovision sets it back, and a namespace somebody else made is not taken over.
//!
//! No Kubernetes API server can run here (none is packaged for this machine), so the API server is a small fake on
//! loopback: it keeps objects by path, answers GET, list with label selectors, server-side apply PATCH and DELETE as
//! the real one does for these five kinds, and refuses requests without the kubeconfig's bearer token. The requests
//! Berth sends are checked in detail against kube's mocked client in `server/src/provision/kubernetes.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use crate::application_store::approved_project;
use crate::applications::call;
use crate::helpers::{Backend, TestApp, TestOptions, eventually};
use crate::on_both_backends;
use crate::provisioning::wait_for_state;

on_both_backends!(
    an_approved_project_is_applied_to_the_cluster_and_drift_is_shown_and_repaired,
    a_namespace_somebody_else_made_is_not_taken_over,
);

const TOKEN: &str = "kube-token-for-tests";
const PLURALS: [&str; 5] = ["namespaces", "resourcequotas", "limitranges", "rolebindings", "networkpolicies"];

/// One request as the fake API server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    field_manager: Option<String>,
}

/// A Kubernetes API server for five kinds of object, in memory.
#[derive(Clone, Default)]
struct FakeApiServer {
    address: String,
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApiServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = FakeApiServer { address: format!("http://{}", listener.local_addr().unwrap()), ..Self::default() };
        let state = server.clone();
        let router = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move { state.handle(&method, &uri, &headers, &body) }
            },
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        server
    }

    /// A kubeconfig for this server, in `dir`.
    fn kubeconfig(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: test\n  context:\n    cluster: fake\n    user: berth\nusers:\n- name: berth\n  user:\n\
             \x20   token: {TOKEN}\n",
            self.address
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn object(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    fn put(&self, path: &str, object: Value) {
        self.objects.lock().unwrap().insert(path.to_owned(), object);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn handle(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (StatusCode, axum::Json<Value>) {
        let path = uri.path().to_owned();
        let query: BTreeMap<String, String> = uri
            .query()
            .map(|query| url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        self.seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            field_manager: query.get("fieldManager").cloned(),
        });
        if headers.get("authorization").and_then(|value| value.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
            return failure(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
        }
        let last = path.rsplit('/').next().unwrap_or_default();
        let collection = PLURALS.contains(&last);
        let mut objects = self.objects.lock().unwrap();
        match (method.clone(), collection) {
            (Method::GET, true) => {
                let selector: Vec<(String, String)> = query
                    .get("labelSelector")
                    .map(|selector| {
                        selector
                            .split(',')
                            .filter_map(|term| term.split_once('='))
                            .map(|(key, value)| (key.to_owned(), value.to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|(key, _)| key.rsplit_once('/').is_some_and(|(parent, _)| parent == path))
                    .map(|(_, object)| object.clone())
                    .filter(|object| {
                        selector.iter().all(|(key, value)| object["metadata"]["labels"][key].as_str() == Some(value))
                    })
                    .collect();
                (
                    StatusCode::OK,
                    axum::Json(json!({ "apiVersion": "v1", "kind": "List", "metadata": {}, "items": items })),
                )
            }
            (Method::GET, false) => match objects.get(&path) {
                Some(object) => (StatusCode::OK, axum::Json(object.clone())),
                None => not_found(last),
            },
            (Method::PATCH, false) => {
                if headers.get("content-type").and_then(|value| value.to_str().ok())
                    != Some("application/apply-patch+yaml")
                {
                    return failure(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", "not an apply patch");
                }
                let Some(manager) = query.get("fieldManager") else {
                    return failure(StatusCode::BAD_REQUEST, "BadRequest", "fieldManager is required for apply");
                };
                if let Some((_, rest)) = path.split_once("/namespaces/")
                    && let Some((namespace, _)) = rest.split_once('/')
                    && !objects.contains_key(&format!("/api/v1/namespaces/{namespace}"))
                {
                    return not_found(namespace);
                }
                let mut object: Value = serde_json::from_slice(body).unwrap();
                object["metadata"]["managedFields"] = json!([{ "manager": manager, "operation": "Apply" }]);
                if path.starts_with("/api/v1/namespaces/") && path.matches('/').count() == 4 {
                    object["status"] = json!({ "phase": "Active" });
                }
                let created = objects.insert(path, object.clone()).is_none();
                (if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(object))
            }
            (Method::DELETE, false) => match objects.remove(&path) {
                Some(object) => {
                    // Deleting a namespace deletes what is in it.
                    if let Some(namespace) = path.strip_prefix("/api/v1/namespaces/") {
                        let inside = format!("/namespaces/{namespace}/");
                        objects.retain(|key, _| !key.contains(&inside));
                    }
                    (StatusCode::OK, axum::Json(object))
                }
                None => not_found(last),
            },
            _ => failure(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "not supported by the fake"),
        }
    }
}

fn failure(status: StatusCode, reason: &str, message: &str) -> (StatusCode, axum::Json<Value>) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": status.as_u16(),
    });
    (status, axum::Json(body))
}

fn not_found(name: &str) -> (StatusCode, axum::Json<Value>) {
    failure(StatusCode::NOT_FOUND, "NotFound", &format!("\"{name}\" not found"))
}

async fn start(backend: Backend, api: &FakeApiServer, dir: &tempfile::TempDir) -> TestApp {
    TestApp::spawn_with(
        backend,
        TestOptions {
            kubeconfig: Some(api.kubeconfig(dir.path())),
            drift_check: Some(Duration::from_millis(300)),
            admin_emails: vec!["boss@example.org".into()],
            ..TestOptions::default()
        },
    )
    .await
}

const QUOTA: &str = "/api/v1/namespaces/climate/resourcequotas/berth-quota";

async fn an_approved_project_is_applied_to_the_cluster_and_drift_is_shown_and_repaired(backend: Backend) {
    let api = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = start(backend, &api, &dir).await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "climate").await;
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(10)).await;

    // Every object is on the cluster, applied by the field manager berth.
    let namespace = api.object("/api/v1/namespaces/climate").expect("the namespace");
    assert_eq!(namespace["metadata"]["labels"]["berth.io/project-id"], project_id.to_string());
    assert_eq!(api.object(QUOTA).expect("the quota")["spec"]["hard"]["requests.cpu"], "2");
    assert!(api.object("/api/v1/namespaces/climate/limitranges/berth-limits").is_some());
    let binding = api
        .objects
        .lock()
        .unwrap()
        .iter()
        .find(|(path, _)| path.contains("/namespaces/climate/rolebindings/"))
        .map(|(_, binding)| binding.clone())
        .expect("the owner's role binding");
    assert_eq!(binding["subjects"][0]["name"], "ada@example.org");
    assert_eq!(binding["roleRef"]["name"], "admin");
    assert!(api.object("/apis/networking.k8s.io/v1/namespaces/climate/networkpolicies/berth-default").is_some());
    let patches: Vec<Seen> = api.seen().into_iter().filter(|seen| seen.method == Method::PATCH).collect();
    assert_eq!(patches.len(), 5, "one apply per object: {patches:?}");
    assert!(patches.iter().all(|seen| seen.field_manager.as_deref() == Some("berth")), "{patches:?}");
    let attempts = app
        .scalar(&format!(
            "SELECT COUNT(*) || ' ' || MIN(outcome) || ' ' || MIN(backend) FROM provisioning_attempts WHERE project_id = {project_id}"
        ))
        .await;
    assert_eq!(attempts.as_deref(), Some("1 succeeded kubernetes"));

    // Somebody raises the quota by hand; the drift check sees it and the project page shows it to an admin.
    let mut quota = api.object(QUOTA).unwrap();
    quota["spec"]["hard"]["pods"] = json!("999");
    api.put(QUOTA, quota);
    let admin = app.browser();
    app.sign_in(&admin, "boss@example.org").await;
    let drifted = "ResourceQuota berth-quota: spec.hard.pods is 999, wants 50";
    assert!(
        eventually(Duration::from_secs(10), || async { admin.page("/projects/climate").await.contains(drifted) }).await,
        "the project page shows the drift:\n{}",
        admin.page("/projects/climate").await
    );

    // The admin reprovisions; the quota is set back and the next check finds nothing.
    let (status, _) = call(&admin, "project_reprovision", &[("name", "climate")]).await;
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(10), || async {
            api.object(QUOTA).is_some_and(|quota| quota["spec"]["hard"]["pods"] == "50")
        })
        .await,
        "the reprovision applies the quota again"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            admin.page("/projects/climate").await.contains("the cluster matches the project")
        })
        .await,
        "the next drift check finds nothing"
    );
    assert!(api.seen().iter().all(|seen| seen.method != Method::DELETE), "nothing was deleted");
}

async fn a_namespace_somebody_else_made_is_not_taken_over(backend: Backend) {
    let api = FakeApiServer::start().await;
    let theirs = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": "taken", "labels": { "team": "physics" } },
        "status": { "phase": "Active" },
    });
    api.put("/api/v1/namespaces/taken", theirs.clone());
    let dir = tempfile::tempdir().unwrap();
    let app = start(backend, &api, &dir).await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "taken").await;
    // The job fails at once: retrying cannot help.
    wait_for_state(&app.db, project_id, "provisioning_failed", Duration::from_secs(10)).await;
    assert_eq!(api.object("/api/v1/namespaces/taken"), Some(theirs), "left as it was");
    assert!(
        api.seen().iter().all(|seen| seen.method == Method::GET && seen.path == "/api/v1/namespaces/taken"),
        "Berth only looked at the namespace: {:?}",
        api.seen()
    );
    let owner = app.browser();
    app.sign_in(&owner, "ada@example.org").await;
    let page = owner.page("/projects/taken").await;
    for expected in ["Provisioning failed", "namespace taken already exists and was not made by Berth", "kubernetes"] {
        assert!(page.contains(expected), "the project page lacks {expected:?}");
    }
    let job = app.scalar("SELECT outcome || ' ' || attempts FROM jobs WHERE kind = 'provision_project'").await;
    assert_eq!(job.as_deref(), Some("failed 1"), "a permanent failure is not retried");
}
