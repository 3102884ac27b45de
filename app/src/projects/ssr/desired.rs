//! A project's desired state on the cluster: one pure function from a project (and its members) to the Kubernetes
//! objects it needs, as typed values. Every provisioning backend takes what this makes; none decides anything.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::applications::model::Quota;
use crate::projects::model::{MemberRole, ProjectState};

/// The label every object Berth makes carries; an existing namespace without it was not made by Berth.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] (and the server-side apply field manager).
pub const MANAGER: &str = "berth";
/// Label of the project's id.
pub const PROJECT_ID_LABEL: &str = "berth.io/project-id";
/// Label of the project's name.
pub const PROJECT_NAME_LABEL: &str = "berth.io/project";
/// Label of the owner's user id (an address is not a valid label value; it goes in [`OWNER_ANNOTATION`]).
pub const OWNER_ID_LABEL: &str = "berth.io/owner-id";
/// Annotation with the owner's address.
pub const OWNER_ANNOTATION: &str = "berth.io/owner";

/// Settings of the objects every project gets; from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// Default CPU limit of a container that sets none (e.g. `500m`).
    pub default_cpu_limit: String,
    /// Default memory limit (e.g. `1Gi`).
    pub default_memory_limit: String,
    /// Default CPU request (e.g. `100m`).
    pub default_cpu_request: String,
    /// Default memory request (e.g. `500Mi`).
    pub default_memory_request: String,
    /// Largest limit-to-request ratio a container may have, for CPU and memory.
    pub max_limit_request_ratio: u32,
    /// Largest persistent volume claim (e.g. `100Gi`).
    pub max_pvc_size: String,
    /// Whether each namespace gets the default NetworkPolicy.
    pub network_policy: bool,
    /// Labels of the namespace the ingress controller runs in, which the NetworkPolicy admits traffic from.
    pub ingress_namespace_labels: BTreeMap<String, String>,
    /// OpenShift: adds the requester and display-name annotations to the namespace.
    pub openshift: bool,
}

impl Default for ClusterSettings {
    /// Rahti-like defaults.
    fn default() -> Self {
        Self {
            default_cpu_limit: "500m".to_owned(),
            default_memory_limit: "1Gi".to_owned(),
            default_cpu_request: "100m".to_owned(),
            default_memory_request: "500Mi".to_owned(),
            max_limit_request_ratio: 5,
            max_pvc_size: "100Gi".to_owned(),
            network_policy: true,
            ingress_namespace_labels: BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                "ingress-nginx".to_owned(),
            )]),
            openshift: false,
        }
    }
}

/// A member as provisioning needs them: who, as the cluster knows them, and with which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectMember {
    /// Berth's user id.
    pub user_id: i64,
    /// Their name on the cluster (their address).
    pub username: String,
    /// Their role.
    pub role: MemberRole,
}

/// What the desired state is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSpec {
    /// Project id.
    pub id: i64,
    /// Project name, which is the namespace's name.
    pub name: String,
    /// Title (OpenShift's display name).
    pub title: String,
    /// Owner's user id.
    pub owner_id: i64,
    /// Owner's address.
    pub owner_email: String,
    /// Granted quota.
    pub quota: Quota,
    /// Lifecycle state: a suspended project keeps its objects with a quota of zero.
    pub state: ProjectState,
    /// Members, each bound to their role's cluster role.
    pub members: Vec<ProjectMember>,
}

/// Name, namespace, labels and annotations of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Name.
    pub name: String,
    /// Namespace (none for the Namespace itself).
    pub namespace: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The project's Namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// Metadata.
    pub metadata: ObjectMeta,
}

/// Its ResourceQuota: `hard` limits by resource name, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceQuota {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Resource name → quantity.
    pub hard: BTreeMap<String, String>,
}

/// Its LimitRange: container defaults and maximum ratio, and the largest PVC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRange {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Default limits (`cpu`, `memory`).
    pub default_limit: BTreeMap<String, String>,
    /// Default requests.
    pub default_request: BTreeMap<String, String>,
    /// Largest limit-to-request ratios.
    pub max_limit_request_ratio: BTreeMap<String, String>,
    /// Largest persistent volume claim.
    pub max_pvc_size: String,
}

/// A RoleBinding of one member to a ClusterRole in the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleBinding {
    /// Metadata; the name carries the cluster role, because a binding's role cannot change.
    pub metadata: ObjectMeta,
    /// `admin`, `edit` or `view`.
    pub cluster_role: String,
    /// The user bound.
    pub username: String,
}

/// The default NetworkPolicy: traffic from the same namespace and from the ingress controller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Labels that select the ingress controller's namespace.
    pub ingress_namespace_labels: BTreeMap<String, String>,
}

/// Everything a project needs on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    /// The namespace.
    pub namespace: Namespace,
    /// Its quota.
    pub resource_quota: ResourceQuota,
    /// Its limits.
    pub limit_range: LimitRange,
    /// A binding per member.
    pub role_bindings: Vec<RoleBinding>,
    /// The default network policy, unless turned off.
    pub network_policy: Option<NetworkPolicy>,
}

/// The kinds of object a project has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    /// `v1` Namespace (cluster-scoped).
    Namespace,
    /// `v1` ResourceQuota.
    ResourceQuota,
    /// `v1` LimitRange.
    LimitRange,
    /// `rbac.authorization.k8s.io/v1` RoleBinding.
    RoleBinding,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
}

impl ObjectKind {
    /// The object's `apiVersion`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Namespace | Self::ResourceQuota | Self::LimitRange => "v1",
            Self::RoleBinding => "rbac.authorization.k8s.io/v1",
            Self::NetworkPolicy => "networking.k8s.io/v1",
        }
    }

    /// The object's `kind`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Namespace => "Namespace",
            Self::ResourceQuota => "ResourceQuota",
            Self::LimitRange => "LimitRange",
            Self::RoleBinding => "RoleBinding",
            Self::NetworkPolicy => "NetworkPolicy",
        }
    }

    /// The resource's plural name in API paths.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Namespace => "namespaces",
            Self::ResourceQuota => "resourcequotas",
            Self::LimitRange => "limitranges",
            Self::RoleBinding => "rolebindings",
            Self::NetworkPolicy => "networkpolicies",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        self != Self::Namespace
    }

    /// The kinds a project may have, in the order they are applied (the namespace first).
    pub const ALL: [ObjectKind; 5] =
        [Self::Namespace, Self::ResourceQuota, Self::LimitRange, Self::RoleBinding, Self::NetworkPolicy];
}

/// One object of the desired state, as the manifest every backend writes, applies or sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Its kind.
    pub kind: ObjectKind,
    /// Its name.
    pub name: String,
    /// Its namespace (none for the Namespace).
    pub namespace: Option<String>,
    /// The whole object, with `apiVersion`, `kind`, `metadata` and its spec.
    pub body: Value,
}

/// The project's desired state. Pure: the same project and settings always make the same objects.
pub fn desired_state(project: &ProjectSpec, settings: &ClusterSettings) -> DesiredState {
    let namespace = project.name.clone();
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGER.to_owned()),
        (PROJECT_ID_LABEL.to_owned(), project.id.to_string()),
        (PROJECT_NAME_LABEL.to_owned(), project.name.clone()),
    ]);
    let meta = |name: &str| ObjectMeta {
        name: name.to_owned(),
        namespace: Some(namespace.clone()),
        labels: labels.clone(),
        annotations: BTreeMap::new(),
    };
    let mut namespace_labels = labels.clone();
    namespace_labels.insert(OWNER_ID_LABEL.to_owned(), project.owner_id.to_string());
    let mut annotations = BTreeMap::from([(OWNER_ANNOTATION.to_owned(), project.owner_email.clone())]);
    if settings.openshift {
        annotations.insert("openshift.io/requester".to_owned(), project.owner_email.clone());
        annotations.insert("openshift.io/display-name".to_owned(), project.title.clone());
    }

    // A suspended project, or a closed one in its grace period, keeps its objects, but may run nothing and claim
    // nothing.
    let quota = if matches!(project.state, ProjectState::Suspended | ProjectState::Closed) {
        Quota { cpu_cores: 0, memory_gib: 0, storage_gib: 0, pods: 0, gpus: 0 }
    } else {
        project.quota
    };
    let cores = quota.cpu_cores.to_string();
    let memory = format!("{}Gi", quota.memory_gib);
    let mut hard = BTreeMap::from([
        ("requests.cpu".to_owned(), cores.clone()),
        ("limits.cpu".to_owned(), cores),
        ("requests.memory".to_owned(), memory.clone()),
        ("limits.memory".to_owned(), memory),
        ("requests.storage".to_owned(), format!("{}Gi", quota.storage_gib)),
        // One claim per 10 GiB granted, at least one while there is storage at all.
        ("persistentvolumeclaims".to_owned(), claims_for(quota.storage_gib).to_string()),
        ("pods".to_owned(), quota.pods.to_string()),
    ]);
    if project.quota.gpus > 0 {
        hard.insert("requests.nvidia.com/gpu".to_owned(), quota.gpus.to_string());
    }

    let ratio = settings.max_limit_request_ratio.to_string();
    let mut members = project.members.clone();
    // One binding per person (their first role, managers first), in a stable order.
    members.sort_by_key(|member| (member.user_id, member.role));
    members.dedup_by_key(|member| member.user_id);
    members.sort_by_key(|member| (member.role, member.user_id));
    DesiredState {
        namespace: Namespace {
            metadata: ObjectMeta { name: namespace.clone(), namespace: None, labels: namespace_labels, annotations },
        },
        resource_quota: ResourceQuota { metadata: meta("berth-quota"), hard },
        limit_range: LimitRange {
            metadata: meta("berth-limits"),
            default_limit: cpu_memory(&settings.default_cpu_limit, &settings.default_memory_limit),
            default_request: cpu_memory(&settings.default_cpu_request, &settings.default_memory_request),
            max_limit_request_ratio: cpu_memory(&ratio, &ratio),
            max_pvc_size: settings.max_pvc_size.clone(),
        },
        role_bindings: members
            .iter()
            .map(|member| {
                let role = member.role.cluster_role();
                RoleBinding {
                    metadata: meta(&format!("berth-{role}-{}", member.user_id)),
                    cluster_role: role.to_owned(),
                    username: member.username.clone(),
                }
            })
            .collect(),
        network_policy: settings.network_policy.then(|| NetworkPolicy {
            metadata: meta("berth-default"),
            ingress_namespace_labels: settings.ingress_namespace_labels.clone(),
        }),
    }
}

fn claims_for(storage_gib: u32) -> u32 {
    if storage_gib == 0 { 0 } else { storage_gib.div_ceil(10).max(1) }
}

fn cpu_memory(cpu: &str, memory: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("cpu".to_owned(), cpu.to_owned()), ("memory".to_owned(), memory.to_owned())])
}

impl ObjectMeta {
    fn to_json(&self) -> Value {
        let mut meta = json!({ "name": self.name, "labels": self.labels });
        if let Some(namespace) = &self.namespace {
            meta["namespace"] = json!(namespace);
        }
        if !self.annotations.is_empty() {
            meta["annotations"] = json!(self.annotations);
        }
        meta
    }
}

impl DesiredState {
    /// The namespace's name.
    pub fn namespace_name(&self) -> &str {
        &self.namespace.metadata.name
    }

    /// Every object as a manifest, in the order they are applied: the namespace first.
    pub fn manifests(&self) -> Vec<Manifest> {
        let mut manifests = vec![
            manifest(ObjectKind::Namespace, &self.namespace.metadata, None),
            manifest(
                ObjectKind::ResourceQuota,
                &self.resource_quota.metadata,
                Some(json!({ "hard": self.resource_quota.hard })),
            ),
            manifest(
                ObjectKind::LimitRange,
                &self.limit_range.metadata,
                Some(json!({ "limits": [
                    {
                        "type": "Container",
                        "default": self.limit_range.default_limit,
                        "defaultRequest": self.limit_range.default_request,
                        "maxLimitRequestRatio": self.limit_range.max_limit_request_ratio,
                    },
                    { "type": "PersistentVolumeClaim", "max": { "storage": self.limit_range.max_pvc_size } },
                ]})),
            ),
        ];
        for binding in &self.role_bindings {
            let mut body = manifest(ObjectKind::RoleBinding, &binding.metadata, None);
            body.body["roleRef"] =
                json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": binding.cluster_role });
            body.body["subjects"] =
                json!([{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": binding.username }]);
            manifests.push(body);
        }
        if let Some(policy) = &self.network_policy {
            manifests.push(manifest(
                ObjectKind::NetworkPolicy,
                &policy.metadata,
                Some(json!({
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        { "from": [{ "podSelector": {} }] },
                        { "from": [{ "namespaceSelector": { "matchLabels": policy.ingress_namespace_labels } }] },
                    ],
                })),
            ));
        }
        manifests
    }
}

fn manifest(kind: ObjectKind, metadata: &ObjectMeta, spec: Option<Value>) -> Manifest {
    let mut body = json!({ "apiVersion": kind.api_version(), "kind": kind.kind(), "metadata": metadata.to_json() });
    if let Some(spec) = spec {
        body["spec"] = spec;
    }
    Manifest { kind, name: metadata.name.clone(), namespace: metadata.namespace.clone(), body }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> ProjectSpec {
        ProjectSpec {
            id: 7,
            name: "climate-model".to_owned(),
            title: "Climate model runs".to_owned(),
            owner_id: 3,
            owner_email: "ada@example.org".to_owned(),
            quota: Quota::STANDARD,
            state: ProjectState::Provisioning,
            members: vec![
                ProjectMember { user_id: 3, username: "ada@example.org".to_owned(), role: MemberRole::Manager },
                ProjectMember { user_id: 9, username: "bob@example.org".to_owned(), role: MemberRole::Viewer },
                ProjectMember { user_id: 5, username: "cy@example.org".to_owned(), role: MemberRole::Member },
            ],
        }
    }

    #[test]
    fn the_namespace_is_labelled_with_the_project_and_its_owner() {
        let state = desired_state(&project(), &ClusterSettings::default());
        let labels = &state.namespace.metadata.labels;
        assert_eq!(state.namespace_name(), "climate-model");
        assert_eq!(labels[PROJECT_ID_LABEL], "7");
        assert_eq!(labels[PROJECT_NAME_LABEL], "climate-model");
        assert_eq!(labels[OWNER_ID_LABEL], "3");
        assert_eq!(labels[MANAGED_BY_LABEL], "berth");
        assert_eq!(state.namespace.metadata.annotations[OWNER_ANNOTATION], "ada@example.org");
        assert!(!state.namespace.metadata.annotations.contains_key("openshift.io/requester"));
    }

    #[test]
    fn openshift_mode_adds_the_requester_and_display_name() {
        let settings = ClusterSettings { openshift: true, ..ClusterSettings::default() };
        let annotations = desired_state(&project(), &settings).namespace.metadata.annotations;
        assert_eq!(annotations["openshift.io/requester"], "ada@example.org");
        assert_eq!(annotations["openshift.io/display-name"], "Climate model runs");
    }

    #[test]
    fn the_quota_holds_every_granted_resource_and_gpus_only_when_granted() {
        let hard = desired_state(&project(), &ClusterSettings::default()).resource_quota.hard;
        let expected = [
            ("limits.cpu", "4"),
            ("limits.memory", "16Gi"),
            ("persistentvolumeclaims", "10"),
            ("pods", "50"),
            ("requests.cpu", "4"),
            ("requests.memory", "16Gi"),
            ("requests.storage", "100Gi"),
        ];
        assert_eq!(hard, expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        let mut with_gpus = project();
        with_gpus.quota.gpus = 2;
        let hard = desired_state(&with_gpus, &ClusterSettings::default()).resource_quota.hard;
        assert_eq!(hard["requests.nvidia.com/gpu"], "2");
    }

    #[test]
    fn a_suspended_project_keeps_its_objects_with_a_quota_of_zero() {
        let mut suspended = project();
        suspended.state = ProjectState::Suspended;
        suspended.quota.gpus = 1;
        let state = desired_state(&suspended, &ClusterSettings::default());
        assert!(state.resource_quota.hard.values().all(|value| value == "0" || value == "0Gi"), "{state:?}");
        assert_eq!(state.resource_quota.hard["requests.nvidia.com/gpu"], "0");
        assert_eq!(state.role_bindings.len(), 3);
    }

    #[test]
    fn limits_follow_the_settings() {
        let state = desired_state(&project(), &ClusterSettings::default());
        let limits = &state.limit_range;
        assert_eq!(limits.default_limit["cpu"], "500m");
        assert_eq!(limits.default_limit["memory"], "1Gi");
        assert_eq!(limits.default_request["cpu"], "100m");
        assert_eq!(limits.default_request["memory"], "500Mi");
        assert_eq!(limits.max_limit_request_ratio["cpu"], "5");
        assert_eq!(limits.max_pvc_size, "100Gi");
        let settings =
            ClusterSettings { max_pvc_size: "20Gi".to_owned(), max_limit_request_ratio: 3, ..Default::default() };
        let limits = desired_state(&project(), &settings).limit_range;
        assert_eq!((limits.max_pvc_size.as_str(), limits.max_limit_request_ratio["memory"].as_str()), ("20Gi", "3"));
    }

    #[test]
    fn each_member_is_bound_to_their_roles_cluster_role_in_a_stable_order() {
        let state = desired_state(&project(), &ClusterSettings::default());
        let bindings: Vec<_> = state
            .role_bindings
            .iter()
            .map(|b| (b.metadata.name.as_str(), b.cluster_role.as_str(), b.username.as_str()))
            .collect();
        assert_eq!(
            bindings,
            [
                ("berth-admin-3", "admin", "ada@example.org"),
                ("berth-edit-5", "edit", "cy@example.org"),
                ("berth-view-9", "view", "bob@example.org"),
            ]
        );
        let mut shuffled = project();
        shuffled.members.reverse();
        assert_eq!(desired_state(&shuffled, &ClusterSettings::default()), state, "the order of members is irrelevant");
    }

    #[test]
    fn the_network_policy_admits_the_namespace_and_the_ingress_controller_and_can_be_turned_off() {
        let state = desired_state(&project(), &ClusterSettings::default());
        let manifests = state.manifests();
        let policy = manifests.iter().find(|m| m.kind == ObjectKind::NetworkPolicy).expect("a policy");
        assert_eq!(policy.body["spec"]["ingress"][0]["from"][0]["podSelector"], json!({}));
        assert_eq!(
            policy.body["spec"]["ingress"][1]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "ingress-nginx"
        );
        let off = ClusterSettings { network_policy: false, ..ClusterSettings::default() };
        assert!(desired_state(&project(), &off).manifests().iter().all(|m| m.kind != ObjectKind::NetworkPolicy));
    }

    #[test]
    fn manifests_come_namespace_first_and_every_namespaced_object_names_its_namespace() {
        let manifests = desired_state(&project(), &ClusterSettings::default()).manifests();
        assert_eq!(manifests[0].kind, ObjectKind::Namespace);
        assert_eq!(manifests[0].body["apiVersion"], "v1");
        assert!(manifests[0].body["metadata"].get("namespace").is_none());
        for manifest in &manifests[1..] {
            assert_eq!(manifest.body["metadata"]["namespace"], "climate-model", "{:?}", manifest.kind);
            assert_eq!(manifest.body["kind"], manifest.kind.kind());
            assert_eq!(manifest.body["metadata"]["labels"][MANAGED_BY_LABEL], "berth");
        }
        let binding = manifests.iter().find(|m| m.kind == ObjectKind::RoleBinding).expect("a binding");
        assert_eq!(binding.body["roleRef"]["name"], "admin");
        assert_eq!(binding.body["subjects"][0]["name"], "ada@example.org");
    }
}
