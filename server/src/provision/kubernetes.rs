//! The Kubernetes API backend, with kube-rs. Every object is applied with server-side apply under the field manager
//! `berth` (with `force`: Berth owns the fields it sets, so applying twice changes nothing, and a field somebody
//! changed by hand is set back). Objects Berth made that the project no longer needs (the binding of a member who
//! left, the network policy when it was turned off) are deleted after the apply. A namespace that exists without
//! Berth's labels for this project is never taken over: the job fails with that reason.
//!
//! The client comes from a kubeconfig file (and context), or is inferred: `$KUBECONFIG` or `~/.kube/config`, then
//! the in-cluster service account. Its token stays inside kube's client, which redacts it; no message here names it.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use app::projects::ssr::desired::{DesiredState, MANAGED_BY_LABEL, MANAGER, ObjectKind, PROJECT_ID_LABEL};
use async_trait::async_trait;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use super::{ApplyContext, DriftReport, ProvisionError, Provisioner};
use crate::config::KubeSource;

/// Why the Kubernetes client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KubeSetupError {
    /// The kubeconfig could not be read or lacks what it needs.
    #[error("cannot use the kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig nor an in-cluster service account was found.
    #[error("cannot find Kubernetes settings (no kubeconfig and not running in a cluster)")]
    Infer(#[source] kube::config::InferConfigError),
    /// The client could not be made from the settings.
    #[error("cannot set up the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// Applies each project's objects through the Kubernetes API.
pub struct KubernetesProvisioner {
    client: kube::Client,
    cluster: String,
    timeout: Duration,
}

impl std::fmt::Debug for KubernetesProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesProvisioner")
            .field("cluster", &self.cluster)
            .field("field_manager", &MANAGER)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KubernetesProvisioner {
    /// A backend that talks through `client` to `cluster` (its address, for messages), waiting at most `timeout`
    /// for each answer.
    pub fn new(client: kube::Client, cluster: impl Into<String>, timeout: Duration) -> Self {
        Self { client, cluster: cluster.into(), timeout }
    }

    /// Sets up the client from `source`. kube's own retries are off: the job queue retries, with backoff, and
    /// shows each attempt.
    pub async fn connect(source: &KubeSource, timeout: Duration) -> Result<Self, KubeSetupError> {
        let mut config = match source {
            KubeSource::Kubeconfig { path, context } => {
                let failed = |source| KubeSetupError::Kubeconfig { path: path.clone(), source };
                let kubeconfig = Kubeconfig::read_from(path).map_err(failed)?;
                let options = KubeConfigOptions { context: context.clone(), ..KubeConfigOptions::default() };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(failed)?
            }
            KubeSource::Infer => kube::Config::infer().await.map_err(KubeSetupError::Infer)?,
        };
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.reset_reader_on_write = true;
        config.default_retry = false;
        let cluster = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(KubeSetupError::Client)?;
        Ok(Self::new(client, cluster, timeout))
    }

    fn api(&self, kind: ObjectKind, namespace: Option<&str>) -> Api<DynamicObject> {
        let (group, version) = kind.api_version().rsplit_once('/').unwrap_or(("", kind.api_version()));
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind.kind()), kind.plural());
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// Runs one API call, bounded by the timeout, and explains its failure.
    async fn call<T>(
        &self,
        what: impl FnOnce() -> String,
        request: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ProvisionError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(api_error(&what(), &error)),
            Err(_elapsed) => Err(self.timed_out(&what())),
        }
    }

    fn timed_out(&self, what: &str) -> ProvisionError {
        ProvisionError::Transient(format!(
            "{what}: the Kubernetes API at {} did not answer within {} s",
            self.cluster,
            self.timeout.as_secs_f64()
        ))
    }

    /// Deletes an object; one that is already gone is fine.
    async fn delete(
        &self,
        kind: ObjectKind,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<(), ProvisionError> {
        let what = || format!("deleting {} {name}", kind.kind());
        match tokio::time::timeout(self.timeout, self.api(kind, namespace).delete(name, params)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(kube::Error::Api(status))) if status.is_not_found() => Ok(()),
            Ok(Err(error)) => Err(api_error(&what(), &error)),
            Err(_elapsed) => Err(self.timed_out(&what())),
        }
    }

    /// The project's namespace as it is on the cluster, or `None` when there is none. A namespace that Berth did
    /// not make for this project is refused.
    async fn own_namespace(&self, name: &str, project_id: i64) -> Result<Option<DynamicObject>, ProvisionError> {
        let api = self.api(ObjectKind::Namespace, None);
        let Some(namespace) = self.call(|| format!("reading namespace {name}"), api.get_opt(name)).await? else {
            return Ok(None);
        };
        let labels = namespace.metadata.labels.clone().unwrap_or_default();
        let managed = labels.get(MANAGED_BY_LABEL).is_some_and(|value| value == MANAGER);
        let project = labels.get(PROJECT_ID_LABEL).map(String::as_str);
        if !managed {
            return Err(ProvisionError::Permanent(format!(
                "namespace {name} already exists and was not made by Berth (it lacks the label \
                 {MANAGED_BY_LABEL}={MANAGER}); Berth does not take it over. Remove or rename it on the cluster, \
                 then retry"
            )));
        }
        if project != Some(project_id.to_string().as_str()) {
            return Err(ProvisionError::Permanent(format!(
                "namespace {name} belongs to another Berth project (its {PROJECT_ID_LABEL} label is {}); Berth does \
                 not take it over",
                project.unwrap_or("missing")
            )));
        }
        Ok(Some(namespace))
    }

    /// Berth's objects of `kind` in the project's namespace.
    async fn managed_objects(
        &self,
        kind: ObjectKind,
        namespace: &str,
        project_id: i64,
    ) -> Result<Vec<String>, ProvisionError> {
        let selector = format!("{MANAGED_BY_LABEL}={MANAGER},{PROJECT_ID_LABEL}={project_id}");
        let api = self.api(kind, Some(namespace));
        let list = self
            .call(
                || format!("listing {}s in {namespace}", kind.kind()),
                api.list(&ListParams::default().labels(&selector)),
            )
            .await?;
        Ok(list.items.into_iter().filter_map(|object| object.metadata.name).collect())
    }

    /// Names of Berth's objects in the namespace that `desired` no longer has, by kind.
    async fn unwanted(
        &self,
        desired: &DesiredState,
        project_id: i64,
    ) -> Result<Vec<(ObjectKind, String)>, ProvisionError> {
        let wanted: BTreeSet<(ObjectKind, String)> =
            desired.manifests().into_iter().map(|manifest| (manifest.kind, manifest.name)).collect();
        let mut unwanted = Vec::new();
        // Only these come and go with the project's settings; the quota and limits are always there.
        for kind in [ObjectKind::RoleBinding, ObjectKind::NetworkPolicy] {
            for name in self.managed_objects(kind, desired.namespace_name(), project_id).await? {
                if !wanted.contains(&(kind, name.clone())) {
                    unwanted.push((kind, name));
                }
            }
        }
        Ok(unwanted)
    }
}

#[async_trait]
impl Provisioner for KubernetesProvisioner {
    fn backend(&self) -> &'static str {
        "kubernetes"
    }

    async fn apply(&self, desired: &DesiredState, context: &ApplyContext) -> Result<(), ProvisionError> {
        let name = desired.namespace_name();
        if let Some(namespace) = self.own_namespace(name, context.project_id).await?
            && namespace.metadata.deletion_timestamp.is_some()
        {
            return Err(ProvisionError::Transient(format!(
                "namespace {name} is being deleted; it can be provisioned again once it is gone"
            )));
        }
        let params = PatchParams::apply(MANAGER).force();
        for manifest in desired.manifests() {
            let api = self.api(manifest.kind, manifest.namespace.as_deref());
            self.call(
                || format!("applying {} {}", manifest.kind.kind(), manifest.name),
                api.patch(&manifest.name, &params, &Patch::Apply(&manifest.body)),
            )
            .await?;
        }
        for (kind, object) in self.unwanted(desired, context.project_id).await? {
            self.delete(kind, Some(name), &object, &DeleteParams::default()).await?;
            tracing::info!(
                namespace = name,
                kind = kind.kind(),
                object,
                "deleted an object the project no longer needs"
            );
        }
        Ok(())
    }

    async fn remove(&self, namespace: &str, context: &ApplyContext) -> Result<(), ProvisionError> {
        if self.own_namespace(namespace, context.project_id).await?.is_none() {
            return Ok(());
        }
        // Deleting the namespace deletes everything in it; the cluster finishes that in the background.
        self.delete(ObjectKind::Namespace, None, namespace, &DeleteParams::background()).await
    }

    async fn check_drift(&self, desired: &DesiredState) -> Result<Option<DriftReport>, ProvisionError> {
        let mut differences = Vec::new();
        for manifest in desired.manifests() {
            let api = self.api(manifest.kind, manifest.namespace.as_deref());
            let what = format!("{} {}", manifest.kind.kind(), manifest.name);
            let actual = self.call(|| format!("reading {what}"), api.get_opt(&manifest.name)).await?;
            let Some(actual) = actual else {
                differences.push(format!("{what} is missing"));
                if manifest.kind == ObjectKind::Namespace {
                    // Nothing can be inside a namespace that is not there.
                    return Ok(Some(DriftReport { differences }));
                }
                continue;
            };
            let actual = serde_json::to_value(&actual)
                .map_err(|error| ProvisionError::Transient(format!("cannot read {what}: {error}")))?;
            for (field, value) in manifest.body.as_object().into_iter().flatten() {
                if field != "apiVersion" && field != "kind" {
                    compare(&what, field, value, actual.get(field), &mut differences);
                }
            }
        }
        let project_id =
            desired.namespace.metadata.labels.get(PROJECT_ID_LABEL).and_then(|id| id.parse().ok()).unwrap_or_default();
        for (kind, name) in self.unwanted(desired, project_id).await? {
            differences
                .push(format!("{} {name} is not wanted (Berth made it, the project no longer needs it)", kind.kind()));
        }
        Ok(Some(DriftReport { differences }))
    }
}

/// Why an API call failed, and whether trying again may help.
fn api_error(what: &str, error: &kube::Error) -> ProvisionError {
    let kube::Error::Api(status) = error else {
        return ProvisionError::Transient(format!(
            "{what}: cannot reach the Kubernetes API: {}",
            app::error::cause_chain(error)
        ));
    };
    let reason = if status.reason.is_empty() { String::new() } else { format!(" {}", status.reason) };
    let text = format!("{what}: the Kubernetes API answered {}{reason}: {}", status.code, status.message.trim());
    match status.code {
        // A namespace being deleted forbids new objects in it for a while; that passes.
        403 if status.message.contains("being terminated") => ProvisionError::Transient(text),
        // Refused as invalid, or Berth may not do this: the same request would be refused again.
        400 | 403 | 422 => ProvisionError::Permanent(format!("{text} (fix the cause, then retry the job)")),
        // 404 (the namespace went away meanwhile), 409 (a conflict), 429, 5xx, and 401 (kube refreshes tokens).
        _ => ProvisionError::Transient(text),
    }
}

/// Adds a line to `differences` for each value of `desired` (at `path` in `what`) that `actual` lacks or holds
/// otherwise. Only what Berth sets is compared: the cluster adds defaults, status and bookkeeping of its own.
fn compare(what: &str, path: &str, desired: &Value, actual: Option<&Value>, differences: &mut Vec<String>) {
    match (desired, actual) {
        (Value::Object(fields), Some(Value::Object(actual))) => {
            for (field, value) in fields {
                compare(what, &format!("{path}.{field}"), value, actual.get(field), differences);
            }
        }
        (Value::Array(items), Some(Value::Array(actual))) if items.len() == actual.len() => {
            for (index, (item, actual)) in items.iter().zip(actual).enumerate() {
                compare(what, &format!("{path}[{index}]"), item, Some(actual), differences);
            }
        }
        (Value::Object(fields), None) if fields.is_empty() => {}
        (Value::String(desired), Some(Value::String(actual))) if same_quantity(desired, actual) => {}
        (desired, Some(actual)) if desired == actual => {}
        (desired, actual) => differences.push(format!(
            "{what}: {path} is {}, wants {}",
            actual.map_or_else(|| "not set".to_owned(), short),
            short(desired)
        )),
    }
}

fn short(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 { format!("{}…", text.chars().take(80).collect::<String>()) } else { text }
}

/// Whether two strings are the same Kubernetes quantity (the API server writes `1024Mi` as `1Gi`, `0.5` as `500m`).
fn same_quantity(a: &str, b: &str) -> bool {
    match (quantity(a), quantity(b)) {
        (Some(a), Some(b)) => (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()) * 4.0,
        _ => false,
    }
}

/// A quantity's value: a decimal number and an optional binary (`Ki`…`Ei`) or decimal (`m`, `k`…`E`) suffix.
fn quantity(text: &str) -> Option<f64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    //! kube's client over `tower_test`'s mock service (no Kubernetes API server can run here): each test plays the
    //! API server, checking every request Berth sends (method, path, field manager, body) and answering as the API
    //! server would.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use app::applications::model::Quota;
    use app::projects::model::{MemberRole, ProjectState};
    use app::projects::ssr::desired::{ClusterSettings, ProjectMember, ProjectSpec, desired_state};
    use http::{Method, Request, Response, StatusCode};
    use http_body_util::BodyExt;
    use kube::client::Body;
    use serde_json::json;
    use tower_test::mock::{self, SendResponse};

    use super::*;

    type Handle = mock::Handle<Request<Body>, Response<Body>>;

    /// A request as the API server got it.
    struct Received {
        method: Method,
        path: String,
        query: BTreeMap<String, String>,
        content_type: Option<String>,
        body: Value,
        answer: SendResponse<Response<Body>>,
    }

    impl Received {
        fn reply(self, status: u16, body: &Value) {
            let response = Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(body).unwrap()))
                .unwrap();
            self.answer.send_response(response);
        }

        /// Answers with a `Status` object, as the API server does for errors.
        fn fail(self, code: u16, reason: &str, message: &str) {
            let status = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code,
            });
            self.reply(code, &status);
        }

        fn not_found(self) {
            let name = self.path.rsplit('/').next().unwrap_or_default().to_owned();
            self.fail(404, "NotFound", &format!("\"{name}\" not found"));
        }
    }

    struct FakeApiServer(std::pin::Pin<Box<Handle>>);

    impl FakeApiServer {
        async fn next(&mut self) -> Received {
            let (request, answer) = tokio::time::timeout(Duration::from_secs(5), self.0.next_request())
                .await
                .expect("Berth sent the next request")
                .expect("the client is still there");
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            Received {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                query: parts
                    .uri
                    .query()
                    .map(|query| url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
                    .unwrap_or_default(),
                content_type: parts.headers.get("content-type").map(|value| value.to_str().unwrap().to_owned()),
                body: if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() },
                answer,
            }
        }

        /// The next request, which must be `method` on `path`.
        async fn expect(&mut self, method: Method, path: &str) -> Received {
            let request = self.next().await;
            assert_eq!((&request.method, request.path.as_str()), (&method, path), "the request Berth sent");
            request
        }

        /// No request came (the client was dropped once the call ended).
        async fn expect_no_more(&mut self) {
            let next = tokio::time::timeout(Duration::from_secs(5), self.0.next_request()).await.unwrap();
            let sent = next.map(|(request, _)| format!("{} {}", request.method(), request.uri()));
            assert!(sent.is_none(), "Berth sent {sent:?}");
        }
    }

    fn backend(timeout: Duration) -> (Arc<KubernetesProvisioner>, FakeApiServer) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "default");
        (Arc::new(KubernetesProvisioner::new(client, "https://cluster.test", timeout)), FakeApiServer(Box::pin(handle)))
    }

    fn spec(members: &[(i64, MemberRole)]) -> ProjectSpec {
        ProjectSpec {
            id: 7,
            name: "demo".to_owned(),
            title: "Demo project".to_owned(),
            owner_id: 2,
            owner_email: "ada@example.org".to_owned(),
            quota: Quota::STANDARD,
            state: ProjectState::Provisioning,
            members: members
                .iter()
                .map(|&(user_id, role)| ProjectMember { user_id, username: format!("user{user_id}@example.org"), role })
                .collect(),
        }
    }

    fn desired() -> DesiredState {
        desired_state(&spec(&[(2, MemberRole::Manager), (3, MemberRole::Viewer)]), &ClusterSettings::default())
    }

    /// The namespace as the API server holds it once Berth made it.
    fn existing_namespace(desired: &DesiredState) -> Value {
        let mut namespace = desired.manifests()[0].body.clone();
        namespace["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!("demo");
        namespace["metadata"]["uid"] = json!("0b6c-…");
        namespace["status"] = json!({ "phase": "Active" });
        namespace
    }

    fn list(items: &[Value]) -> Value {
        json!({ "apiVersion": "v1", "kind": "List", "metadata": { "resourceVersion": "1" }, "items": items })
    }

    fn path_of(manifest: &app::projects::ssr::desired::Manifest) -> String {
        let base = if manifest.kind.api_version() == "v1" {
            "/api/v1".to_owned()
        } else {
            format!("/apis/{}", manifest.kind.api_version())
        };
        match &manifest.namespace {
            Some(namespace) => format!("{base}/namespaces/{namespace}/{}/{}", manifest.kind.plural(), manifest.name),
            None => format!("{base}/{}/{}", manifest.kind.plural(), manifest.name),
        }
    }

    /// Plays the server for every server-side apply of `desired`, answering each with `status`.
    async fn expect_applies(api: &mut FakeApiServer, desired: &DesiredState, status: u16) {
        for manifest in desired.manifests() {
            let request = api.expect(Method::PATCH, &path_of(&manifest)).await;
            assert_eq!(request.query.get("fieldManager").map(String::as_str), Some("berth"));
            assert_eq!(request.query.get("force").map(String::as_str), Some("true"));
            assert_eq!(request.content_type.as_deref(), Some("application/apply-patch+yaml"));
            assert_eq!(request.body, manifest.body, "the whole desired object is applied");
            request.reply(status, &manifest.body);
        }
    }

    const BINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/demo/rolebindings";
    const POLICIES: &str = "/apis/networking.k8s.io/v1/namespaces/demo/networkpolicies";

    async fn expect_lists(api: &mut FakeApiServer, bindings: &[Value], policies: &[Value]) {
        let request = api.expect(Method::GET, BINDINGS).await;
        assert_eq!(
            request.query.get("labelSelector").map(String::as_str),
            Some("app.kubernetes.io/managed-by=berth,berth.io/project-id=7"),
            "only Berth's objects of this project are considered"
        );
        request.reply(200, &list(bindings));
        api.expect(Method::GET, POLICIES).await.reply(200, &list(policies));
    }

    fn objects_of(desired: &DesiredState, kind: ObjectKind) -> Vec<Value> {
        desired.manifests().into_iter().filter(|manifest| manifest.kind == kind).map(|manifest| manifest.body).collect()
    }

    #[tokio::test]
    async fn a_new_project_is_made_by_server_side_apply_as_berth() {
        let (backend, mut api) = backend(Duration::from_secs(5));
        let state = desired();
        let run = {
            let (backend, state) = (backend.clone(), state.clone());
            tokio::spawn(async move { backend.apply(&state, &ApplyContext::new(7, 1)).await })
        };
        api.expect(Method::GET, "/api/v1/namespaces/demo").await.not_found();
        expect_applies(&mut api, &state, 201).await;
        let bindings = objects_of(&state, ObjectKind::RoleBinding);
        assert_eq!(bindings.len(), 2);
        expect_lists(&mut api, &bindings, &objects_of(&state, ObjectKind::NetworkPolicy)).await;
        run.await.unwrap().expect("the project is provisioned");
        drop(backend);
        api.expect_no_more().await;
    }

    #[tokio::test]
    async fn applying_again_sends_the_same_objects_and_deletes_the_binding_of_a_member_who_left() {
        let (backend, mut api) = backend(Duration::from_secs(5));
        let before = desired();
        let after = desired_state(&spec(&[(2, MemberRole::Manager)]), &ClusterSettings::default());
        let run = {
            let (backend, after) = (backend.clone(), after.clone());
            tokio::spawn(async move { backend.apply(&after, &ApplyContext::new(7, 2)).await })
        };
        api.expect(Method::GET, "/api/v1/namespaces/demo").await.reply(200, &existing_namespace(&before));
        expect_applies(&mut api, &after, 200).await;
        expect_lists(
            &mut api,
            &objects_of(&before, ObjectKind::RoleBinding),
            &objects_of(&after, ObjectKind::NetworkPolicy),
        )
        .await;
        let delete = api.expect(Method::DELETE, &format!("{BINDINGS}/berth-view-3")).await;
        delete.reply(200, &json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" }));
        run.await.unwrap().expect("the project is provisioned again");
        drop(backend);
        api.expect_no_more().await;
    }

    #[tokio::test]
    async fn a_namespace_berth_did_not_make_or_made_for_another_project_is_not_taken_over() {
        let mut theirs = existing_namespace(&desired());
        theirs["metadata"]["labels"] = json!({ "team": "physics" });
        let mut other_project = existing_namespace(&desired());
        other_project["metadata"]["labels"][PROJECT_ID_LABEL] = json!("8");
        for (namespace, expected) in
            [(theirs, "was not made by Berth"), (other_project, "belongs to another Berth project")]
        {
            let (backend, mut api) = backend(Duration::from_secs(5));
            let run = {
                let backend = backend.clone();
                tokio::spawn(async move { backend.apply(&desired(), &ApplyContext::new(7, 1)).await })
            };
            api.expect(Method::GET, "/api/v1/namespaces/demo").await.reply(200, &namespace);
            let error = run.await.unwrap().unwrap_err();
            assert!(error.is_permanent() && error.to_string().contains(expected), "{error}");
            drop(backend);
            api.expect_no_more().await;
        }
    }

    #[tokio::test]
    async fn conflicts_missing_namespaces_and_server_errors_are_retried_and_invalid_objects_are_not() {
        let cases = [
            (
                409,
                "Conflict",
                "Operation cannot be fulfilled on namespaces \"demo\": the object has been modified",
                false,
            ),
            (404, "NotFound", "namespaces \"demo\" not found", false),
            (500, "InternalError", "Internal error occurred: etcdserver: request timed out", false),
            (503, "ServiceUnavailable", "the server is currently unable to handle the request", false),
            (422, "Invalid", "ResourceQuota \"berth-quota\" is invalid: spec.hard[pods]: Invalid value", true),
            (
                403,
                "Forbidden",
                "resourcequotas is forbidden: User \"system:serviceaccount:berth:berth\" cannot patch",
                true,
            ),
            (
                403,
                "Forbidden",
                "resourcequotas \"berth-quota\" is forbidden: unable to create new content in namespace demo because it is being terminated",
                false,
            ),
        ];
        for (code, reason, message, permanent) in cases {
            let (backend, mut api) = backend(Duration::from_secs(5));
            let state = desired();
            let run = {
                let (backend, state) = (backend.clone(), state.clone());
                tokio::spawn(async move { backend.apply(&state, &ApplyContext::new(7, 1)).await })
            };
            api.expect(Method::GET, "/api/v1/namespaces/demo").await.not_found();
            api.expect(Method::PATCH, "/api/v1/namespaces/demo").await.reply(201, &state.manifests()[0].body);
            api.expect(Method::PATCH, "/api/v1/namespaces/demo/resourcequotas/berth-quota")
                .await
                .fail(code, reason, message);
            let error = run.await.unwrap().unwrap_err();
            assert_eq!(error.is_permanent(), permanent, "{code}: {error}");
            let text = error.to_string();
            assert!(
                text.starts_with("applying ResourceQuota berth-quota: the Kubernetes API answered")
                    && text.contains(&code.to_string())
                    && text.contains(message),
                "{text}"
            );
            drop(backend);
            api.expect_no_more().await;
        }
    }

    #[tokio::test]
    async fn an_api_server_that_does_not_answer_times_out_and_is_retried() {
        let (backend, mut api) = backend(Duration::from_millis(200));
        let run = {
            let backend = backend.clone();
            tokio::spawn(async move { backend.apply(&desired(), &ApplyContext::new(7, 1)).await })
        };
        let request = api.expect(Method::GET, "/api/v1/namespaces/demo").await;
        let error = run.await.unwrap().unwrap_err();
        drop(request);
        assert!(!error.is_permanent(), "{error}");
        assert_eq!(
            error.to_string(),
            "reading namespace demo: the Kubernetes API at https://cluster.test did not answer within 0.2 s"
        );
    }

    #[tokio::test]
    async fn an_unreachable_api_server_is_retried() {
        // A real client and a closed port: nothing listens on port 9 (discard) here.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let backend = KubernetesProvisioner::new(client, "http://127.0.0.1:9", Duration::from_secs(5));
        let error = backend.apply(&desired(), &ApplyContext::new(7, 1)).await.unwrap_err();
        assert!(!error.is_permanent(), "{error}");
        assert!(error.to_string().starts_with("reading namespace demo: cannot reach the Kubernetes API"), "{error}");
    }

    #[tokio::test]
    async fn closing_deletes_the_namespace_and_what_is_gone_or_foreign_is_left_alone() {
        let (backend, mut api) = backend(Duration::from_secs(5));
        let run = {
            let backend = backend.clone();
            tokio::spawn(async move { backend.remove("demo", &ApplyContext::new(7, 3)).await })
        };
        api.expect(Method::GET, "/api/v1/namespaces/demo").await.reply(200, &existing_namespace(&desired()));
        let delete = api.expect(Method::DELETE, "/api/v1/namespaces/demo").await;
        assert_eq!(delete.body["propagationPolicy"], "Background");
        let mut terminating = existing_namespace(&desired());
        terminating["status"]["phase"] = json!("Terminating");
        delete.reply(200, &terminating);
        run.await.unwrap().expect("the namespace is deleted");

        let run = {
            let backend = backend.clone();
            tokio::spawn(async move { backend.remove("demo", &ApplyContext::new(7, 3)).await })
        };
        api.expect(Method::GET, "/api/v1/namespaces/demo").await.not_found();
        run.await.unwrap().expect("a namespace that is gone is fine");

        let run = {
            let backend = backend.clone();
            tokio::spawn(async move { backend.remove("demo", &ApplyContext::new(7, 3)).await })
        };
        let mut theirs = existing_namespace(&desired());
        theirs["metadata"]["labels"] = json!({});
        api.expect(Method::GET, "/api/v1/namespaces/demo").await.reply(200, &theirs);
        assert!(run.await.unwrap().unwrap_err().is_permanent(), "somebody else's namespace is never deleted");
        drop(backend);
        api.expect_no_more().await;
    }

    #[tokio::test]
    async fn the_drift_check_reports_what_was_changed_is_missing_or_is_left_over() {
        let (backend, mut api) = backend(Duration::from_secs(5));
        let state = desired();
        let run = {
            let (backend, state) = (backend.clone(), state.clone());
            tokio::spawn(async move { backend.check_drift(&state).await })
        };
        for manifest in state.manifests() {
            let request = api.expect(Method::GET, &path_of(&manifest)).await;
            let mut actual = manifest.body.clone();
            // What the API server adds, and how it writes quantities, is not drift.
            actual["metadata"]["managedFields"] = json!([{ "manager": "berth", "operation": "Apply" }]);
            actual["metadata"]["resourceVersion"] = json!("42");
            match manifest.kind {
                ObjectKind::Namespace => actual = existing_namespace(&state),
                ObjectKind::ResourceQuota => {
                    actual["spec"]["hard"]["pods"] = json!("100");
                    actual["spec"]["hard"]["requests.memory"] = json!("16384Mi");
                    actual["status"] = json!({ "used": { "pods": "3" } });
                }
                ObjectKind::LimitRange => {
                    actual["spec"]["limits"][0]["defaultRequest"]["cpu"] = json!("0.1");
                }
                ObjectKind::RoleBinding if manifest.name == "berth-view-3" => {
                    request.not_found();
                    continue;
                }
                _ => {}
            }
            request.reply(200, &actual);
        }
        let mut left_over = objects_of(&state, ObjectKind::RoleBinding)[0].clone();
        left_over["metadata"]["name"] = json!("berth-edit-9");
        expect_lists(&mut api, &[objects_of(&state, ObjectKind::RoleBinding)[0].clone(), left_over], &[]).await;
        let report = run.await.unwrap().unwrap().expect("the Kubernetes backend can check");
        assert_eq!(
            report.differences,
            [
                "ResourceQuota berth-quota: spec.hard.pods is 100, wants 50",
                "RoleBinding berth-view-3 is missing",
                "RoleBinding berth-edit-9 is not wanted (Berth made it, the project no longer needs it)",
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_namespace_is_the_whole_drift() {
        let (backend, mut api) = backend(Duration::from_secs(5));
        let run = {
            let backend = backend.clone();
            tokio::spawn(async move { backend.check_drift(&desired()).await })
        };
        api.expect(Method::GET, "/api/v1/namespaces/demo").await.not_found();
        let report = run.await.unwrap().unwrap().unwrap();
        assert_eq!(report.differences, ["Namespace demo is missing"]);
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(same_quantity("16Gi", "16384Mi"));
        assert!(same_quantity("0.1", "100m"));
        assert!(same_quantity("1k", "1000"));
        assert!(!same_quantity("50", "100"));
        assert!(!same_quantity("1Gi", "1G"));
        assert!(!same_quantity("admin", "admin"), "not quantities: compared as text elsewhere");
    }

    #[tokio::test]
    async fn a_kubeconfig_sets_up_the_client_and_its_token_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: c\n  cluster:\n    server: \
             https://127.0.0.1:6443\ncontexts:\n- name: test\n  context:\n    cluster: c\n    user: u\nusers:\n- name: \
             u\n  user:\n    token: s3cr3t-token-value\n",
        )
        .unwrap();
        let source = KubeSource::Kubeconfig { path: path.clone(), context: None };
        let backend = KubernetesProvisioner::connect(&source, Duration::from_secs(3)).await.unwrap();
        let shown = format!("{backend:?}");
        assert!(shown.contains("https://127.0.0.1:6443") && !shown.contains("s3cr3t"), "{shown}");
        let missing = KubeSource::Kubeconfig { path, context: Some("elsewhere".to_owned()) };
        let error = KubernetesProvisioner::connect(&missing, Duration::from_secs(3)).await.unwrap_err();
        let chain = app::error::cause_chain(&error);
        assert!(chain.contains("elsewhere") && !chain.contains("s3cr3t"), "{chain}");
    }
}
