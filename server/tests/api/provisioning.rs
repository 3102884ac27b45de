//! Provisioning through the job queue, on SQLite and on PostgreSQL: an approved project becomes active through the
//! GitOps files (its history, the owner's mail, the audit trail and the project pages), the webhook backend with
//! signed deliveries that are retried until a 2xx, giving up after the last attempt (the project shows it, the
//! admins are mailed) and an admin's reprovision, and one job per project however many changes queue it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use server::provision::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

use crate::application_store::{approved_project, audit};
use crate::applications::call;
use crate::helpers::{Backend, TestApp, TestDatabase, TestOptions, eventually};
use crate::on_both_backends;

on_both_backends!(
    an_approved_project_becomes_active_through_the_gitops_files,
    a_failing_webhook_is_retried_with_the_same_delivery_until_it_answers_2xx,
    after_the_last_attempt_the_project_shows_the_failure_and_an_admin_can_reprovision,
    a_slow_webhook_times_out_and_is_tried_again,
    changes_queued_while_a_job_waits_make_no_second_job,
    admins_list_jobs_cancel_a_waiting_one_and_retry_it,
    a_job_cut_off_by_sigkill_is_done_once_after_a_restart,
);

const SECRET: &str = "a-webhook-secret-for-tests";

/// Every object the desired state makes, for projects of every shape, is valid against the real Kubernetes schemas
/// (PyPI `kubernetes-validate`, offline, strict: no property Kubernetes does not know). Not a storage case: once.
#[test]
fn every_manifest_is_valid_against_the_kubernetes_schemas() {
    use app::applications::model::Quota;
    use app::projects::model::{MemberRole, ProjectState};
    use app::projects::ssr::desired::{ClusterSettings, ProjectMember, ProjectSpec, desired_state};
    let member = |user_id, role| ProjectMember { user_id, username: format!("user{user_id}@example.org"), role };
    let spec = |id, state, gpus| ProjectSpec {
        id,
        name: format!("project-{id}"),
        title: "A \"quoted\" title: with colons # and hashes".to_owned(),
        owner_id: 1,
        owner_email: "user1@example.org".to_owned(),
        quota: Quota { gpus, ..Quota::STANDARD },
        state,
        members: vec![member(1, MemberRole::Manager), member(2, MemberRole::Member), member(3, MemberRole::Viewer)],
    };
    let openshift = ClusterSettings { openshift: true, ..ClusterSettings::default() };
    let no_policy =
        ClusterSettings { network_policy: false, max_pvc_size: "1.5Ti".to_owned(), ..ClusterSettings::default() };
    let cases = [
        (spec(1, ProjectState::Provisioning, 0), ClusterSettings::default()),
        (spec(2, ProjectState::Active, 4), openshift),
        (spec(3, ProjectState::Suspended, 1), no_policy),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (spec, settings) in &cases {
        let path = dir.path().join(format!("{}.yaml", spec.name));
        std::fs::write(&path, server::provision::gitops::render_yaml(&desired_state(spec, settings)).unwrap()).unwrap();
        files.push(path);
    }
    let validator = crate::peers::repo_root().join("end2end/.venv/bin/kubernetes-validate");
    let output = std::process::Command::new(&validator)
        .args(["--strict", "--kubernetes-version", "1.32.0"])
        .args(&files)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {} ({error}): run .ci/setup", validator.display()));
    let report = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubernetes-validate refused a manifest:\n{report}");
    assert_eq!(report.matches("passed for resource").count(), 20, "every object was checked:\n{report}");
}

/// A webhook receiver on loopback: checks each delivery's signature, records it, and answers with the next
/// status of its script (the last one repeats), after the script's delay.
#[derive(Clone)]
struct Receiver {
    address: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    script: Arc<Mutex<Vec<(StatusCode, Duration)>>>,
}

#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    signed: bool,
    body: serde_json::Value,
}

impl Receiver {
    async fn start(script: Vec<(StatusCode, Duration)>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            address: format!("http://{}/hook", listener.local_addr().unwrap()),
            deliveries: Arc::default(),
            script: Arc::new(Mutex::new(script)),
        };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move { state.handle(&headers, &body).await }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        receiver
    }

    async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        let header =
            |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
        let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap_or(0);
        let fresh = (chrono::Utc::now().timestamp() - timestamp).abs() < 300;
        let signed = fresh && header(SIGNATURE_HEADER) == signature(SECRET, timestamp, body);
        self.deliveries.lock().unwrap().push(Delivery {
            id: header(DELIVERY_HEADER),
            signed,
            body: serde_json::from_slice(body).unwrap_or_default(),
        });
        let (status, delay) = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 { script.remove(0) } else { script[0] }
        };
        tokio::time::sleep(delay).await;
        if signed { status } else { StatusCode::UNAUTHORIZED }
    }

    fn set(&self, script: Vec<(StatusCode, Duration)>) {
        *self.script.lock().unwrap() = script;
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }
}

fn now_ok() -> (StatusCode, Duration) {
    (StatusCode::OK, Duration::ZERO)
}

fn now_failing() -> (StatusCode, Duration) {
    (StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO)
}

async fn state_of(db: &TestDatabase, project_id: i64) -> String {
    db.scalar(&format!("SELECT state FROM projects WHERE id = {project_id}")).await.unwrap_or_default()
}

pub(crate) async fn wait_for_state(db: &TestDatabase, project_id: i64, state: &str, within: Duration) {
    let mut last = String::new();
    let reached = eventually(within, || async move { state_of(db, project_id).await == state }).await;
    if !reached {
        last = state_of(db, project_id).await;
    }
    assert!(reached, "project {project_id} did not become {state} within {within:?} (it is {last})");
}

async fn an_approved_project_becomes_active_through_the_gitops_files(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        TestOptions { admin_emails: vec!["boss@example.org".into()], ..Default::default() },
    )
    .await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "climate").await;
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(10)).await;

    // The file holds the namespace, quota, limits, binding and policy.
    let file = std::fs::read_to_string(app.gitops_dir.join("climate.yaml")).expect("the project's file");
    for expected in [
        "kind: Namespace",
        "kind: ResourceQuota",
        "kind: LimitRange",
        "kind: RoleBinding",
        "kind: NetworkPolicy",
        "berth.io/project-id: '",
        "requests.cpu: '2'",
        "name: ada@example.org",
    ] {
        assert!(file.contains(expected), "the file lacks {expected:?}:\n{file}");
    }

    // One attempt, succeeded; the job is done; the owner is told; the audit trail has it.
    let attempts = app
        .scalar(&format!(
            "SELECT COUNT(*) || ' ' || MIN(outcome) || ' ' || MIN(backend) FROM provisioning_attempts WHERE project_id = {project_id}"
        ))
        .await;
    assert_eq!(attempts.as_deref(), Some("1 succeeded gitops"));
    let job = app.scalar("SELECT outcome || ' ' || attempts FROM jobs WHERE kind = 'provision_project'").await;
    assert_eq!(job.as_deref(), Some("done 1"));
    let generations = app
        .scalar(&format!("SELECT generation || ' ' || provisioned_generation FROM projects WHERE id = {project_id}"))
        .await;
    assert_eq!(generations.as_deref(), Some("1 1"));
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            app.mail_files()
                .iter()
                .any(|mail| mail.contains("Your project climate is ready") && mail.contains("/projects/climate"))
        ))
        .await,
        "the owner is mailed"
    );
    let audited = app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action = 'project.provisioned'").await;
    assert_eq!(audited.as_deref(), Some("1"));
    let activated = app
        .scalar(&format!("SELECT COUNT(*) || '' FROM projects WHERE id = {project_id} AND activated_at IS NOT NULL"))
        .await;
    assert_eq!(activated.as_deref(), Some("1"));

    // The pages: the owner and an admin see it; another user gets 404; anonymous visitors are sent to sign in.
    let (owner, other, admin, anonymous) = (app.browser(), app.browser(), app.browser(), app.browser());
    app.sign_in(&owner, "ada@example.org").await;
    app.sign_in(&other, "eve@example.org").await;
    app.sign_in(&admin, "boss@example.org").await;
    let page = owner.page("/projects/climate").await;
    for expected in ["Active", "<code>climate</code>", "gitops", "succeeded", "Manager", "<code>admin</code>"] {
        assert!(page.contains(expected), "the project page lacks {expected:?}");
    }
    assert!(!page.contains("Reprovision"), "only admins reprovision");
    assert!(owner.page("/projects").await.contains("/projects/climate"));
    assert_eq!(other.get("/projects/climate").await.status(), 404);
    assert!(!other.page("/projects").await.contains("climate"));
    assert_eq!(anonymous.get("/projects/climate").await.status(), 303);
    assert_eq!(owner.get("/projects/nothing-here").await.status(), 404);
    let admin_page = admin.page("/projects/climate").await;
    assert!(admin_page.contains("Reprovision"));
    assert!(admin.page("/projects").await.contains("/projects/climate"), "admins see every project");

    // The metric of approval to active has its observation.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("berth_project_approval_to_active_seconds_count 1"), "{metrics}");
    assert!(metrics.contains("berth_jobs{kind=\"provision_project\",state=\"pending\"} 0"), "{metrics}");

    // An admin's reprovision applies it again: a new generation, one more attempt, nothing else changes.
    let (status, _) = call(&admin, "project_reprovision", &[("name", "climate")]).await;
    assert_eq!(status, 200);
    let (status, _) = call(&owner, "project_reprovision", &[("name", "climate")]).await;
    assert_eq!(status, 403, "members do not reprovision");
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.scalar(&format!("SELECT provisioned_generation || '' FROM projects WHERE id = {project_id}"))
                .await
                .as_deref()
                == Some("2")
        })
        .await
    );
    assert_eq!(state_of(&app.db, project_id).await, "active");
}

fn webhook_options(receiver: &Receiver) -> TestOptions {
    TestOptions {
        webhook: Some((receiver.address.clone(), SECRET.to_owned())),
        admin_emails: vec!["boss@example.org".into()],
        ..Default::default()
    }
}

async fn a_failing_webhook_is_retried_with_the_same_delivery_until_it_answers_2xx(backend: Backend) {
    let receiver = Receiver::start(vec![now_failing(), now_failing(), now_ok()]).await;
    let app = TestApp::spawn_with(backend, webhook_options(&receiver)).await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "hooked").await;
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(20)).await;

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 3, "two 500s and a 200: {deliveries:?}");
    assert!(deliveries.iter().all(|delivery| delivery.signed), "every delivery is signed");
    let expected_id = format!("project-{project_id}-generation-1");
    assert!(deliveries.iter().all(|delivery| delivery.id == expected_id), "the same change keeps its delivery id");
    let body = &deliveries[2].body;
    assert_eq!(body["action"], "provision");
    assert_eq!(body["namespace"], "hooked");
    assert_eq!(body["objects"][0]["kind"], "Namespace");
    assert_eq!(body["objects"][1]["spec"]["hard"]["requests.cpu"], "2");

    let history = app
        .scalar(&format!(
            "SELECT COUNT(*) || ' ' || SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) FROM provisioning_attempts WHERE project_id = {project_id}"
        ))
        .await;
    assert_eq!(history.as_deref(), Some("3 2"), "each attempt is in the history");
    let error = app
        .scalar(&format!("SELECT error FROM provisioning_attempts WHERE project_id = {project_id} ORDER BY id LIMIT 1"))
        .await
        .unwrap();
    assert!(error.contains("500"), "the error says what the webhook answered: {error}");
    assert!(!error.contains(SECRET), "secrets never appear in errors");
    let provision_error = app.scalar(&format!("SELECT provision_error FROM projects WHERE id = {project_id}")).await;
    assert_eq!(provision_error, None, "cleared once it worked");
    let job = app.scalar("SELECT outcome || ' ' || attempts FROM jobs WHERE kind = 'provision_project'").await;
    assert_eq!(job.as_deref(), Some("done 3"));
}

async fn after_the_last_attempt_the_project_shows_the_failure_and_an_admin_can_reprovision(backend: Backend) {
    let receiver = Receiver::start(vec![now_failing()]).await;
    let options = TestOptions { job_max_attempts: Some(2), ..webhook_options(&receiver) };
    let app = TestApp::spawn_with(backend, options).await;
    // The admin has signed in once, so that Berth knows whom to tell.
    let admin = app.browser();
    app.sign_in(&admin, "boss@example.org").await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "doomed").await;
    wait_for_state(&app.db, project_id, "provisioning_failed", Duration::from_secs(20)).await;
    assert_eq!(receiver.deliveries().len(), 2, "exactly the maximum number of attempts");
    let job = app.scalar("SELECT outcome || ' ' || attempts FROM jobs WHERE kind = 'provision_project'").await;
    assert_eq!(job.as_deref(), Some("failed 2"));
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            app.mail_files()
                .iter()
                .any(|mail| mail.contains("Provisioning failed: doomed") && mail.contains("boss@example.org"))
        ))
        .await,
        "the admins are mailed"
    );
    let audited = app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action = 'project.provisioning_failed'").await;
    assert_eq!(audited.as_deref(), Some("1"));

    // The owner's page says so, with the reason.
    let owner = app.browser();
    app.sign_in(&owner, "ada@example.org").await;
    let page = owner.page("/projects/doomed").await;
    assert!(page.contains("Provisioning failed") && page.contains("500"), "the page explains the failure");

    // The receiver is fixed; an admin reprovisions; the project becomes active.
    receiver.set(vec![now_ok()]);
    let (status, body) = call(&admin, "project_reprovision", &[("name", "doomed")]).await;
    assert_eq!(status, 200, "{body}");
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(20)).await;
    assert_eq!(receiver.deliveries().last().unwrap().id, format!("project-{project_id}-generation-2"));
}

async fn a_slow_webhook_times_out_and_is_tried_again(backend: Backend) {
    let receiver = Receiver::start(vec![(StatusCode::OK, Duration::from_secs(5)), now_ok()]).await;
    let options = TestOptions { webhook_timeout_seconds: Some(1), ..webhook_options(&receiver) };
    let app = TestApp::spawn_with(backend, options).await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "slowpoke").await;
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(20)).await;
    let error = app
        .scalar(&format!("SELECT error FROM provisioning_attempts WHERE project_id = {project_id} ORDER BY id LIMIT 1"))
        .await
        .unwrap();
    assert!(error.contains("did not answer in time"), "{error}");
    assert_eq!(receiver.deliveries().len(), 2);
}

async fn changes_queued_while_a_job_waits_make_no_second_job(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "busy").await;
    for _ in 0..3 {
        assert!(store.reprovision(project_id, &audit("project.reprovision")).await.unwrap());
    }
    assert!(!store.reprovision(999_999, &audit("project.reprovision")).await.unwrap(), "no such project");
    let pending: i64 = crate::on_test_pool!(db.url(), |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'provision_project' AND done_at IS NULL"
    )
    .fetch_one(&pool)
    .await
    .unwrap());
    assert_eq!(pending, 1, "one job per project while one waits");
    let generation: i64 =
        crate::on_test_pool!(db.url(), |pool| sqlx::query_scalar("SELECT generation FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_one(&pool)
            .await
            .unwrap());
    assert_eq!(generation, 4, "each change is a new generation, which the one job applies");
}

async fn admins_list_jobs_cancel_a_waiting_one_and_retry_it(backend: Backend) {
    // The first attempt fails; its retry waits a minute, long enough to cancel it.
    let receiver = Receiver::start(vec![now_failing(), now_ok()]).await;
    let options = TestOptions { job_first_retry_seconds: Some(60), ..webhook_options(&receiver) };
    let app = TestApp::spawn_with(backend, options).await;
    let (admin, member, anonymous) = (app.browser(), app.browser(), app.browser());
    app.sign_in(&admin, "boss@example.org").await;
    app.sign_in(&member, "ada@example.org").await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "paused").await;
    assert!(eventually(Duration::from_secs(10), || std::future::ready(receiver.deliveries().len() == 1)).await);

    // Who may see the jobs: admins only.
    assert_eq!(call(&anonymous, "admin_jobs", &[("query[kind]", "")]).await.0, 401);
    assert_eq!(call(&member, "admin_jobs", &[("query[kind]", "")]).await.0, 403);
    assert_eq!(member.get("/admin/jobs").await.status(), 403);
    assert_eq!(anonymous.get("/admin/jobs").await.status(), 303);
    let (status, body) =
        call(&admin, "admin_jobs", &[("query[kind]", "provision_project"), ("query[state]", "bogus")]).await;
    assert_eq!(status, 400, "a state that does not exist is refused by name: {body}");
    assert!(body.contains("state"), "{body}");

    // The waiting retry shows with its attempt and error; the admin cancels it.
    let job_id = app.scalar("SELECT id || '' FROM jobs WHERE kind = 'provision_project'").await.unwrap();
    let page = admin.page("/admin/jobs?kind=provision_project&state=queued").await;
    assert!(
        page.contains(&format!("project {project_id}")) && page.contains("500"),
        "the page shows the job and its error"
    );
    assert_eq!(call(&member, "admin_job_cancel", &[("id", &job_id)]).await.0, 403);
    let (status, body) = call(&admin, "admin_job_cancel", &[("id", &job_id)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(&admin, "admin_job_cancel", &[("id", &job_id)]).await;
    assert_eq!(status, 409, "a cancelled job cannot be cancelled again");
    assert_eq!(call(&admin, "admin_job_cancel", &[("id", "999999")]).await.0, 404);
    let cancelled = app.scalar(&format!("SELECT outcome FROM jobs WHERE id = {job_id}")).await;
    assert_eq!(cancelled.as_deref(), Some("cancelled"));
    assert!(admin.page("/admin/jobs?state=cancelled").await.contains(&format!("project {project_id}")));

    // Retried: it runs at once, the receiver now answers 200, and the project becomes active.
    assert_eq!(call(&member, "admin_job_retry", &[("id", &job_id)]).await.0, 403);
    let (status, body) = call(&admin, "admin_job_retry", &[("id", &job_id)]).await;
    assert_eq!(status, 200, "{body}");
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(20)).await;
    let (status, _) = call(&admin, "admin_job_retry", &[("id", &job_id)]).await;
    assert_eq!(status, 409, "a done job is not retried");
    let audited = app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('job.cancel', 'job.retry')").await;
    assert_eq!(audited.as_deref(), Some("2"));
}

/// A `berth` process on `db` that provisions through `receiver`'s webhook, with `settings` as extra variables.
fn berth_process(
    db: &TestDatabase,
    mail: &std::path::Path,
    receiver: &Receiver,
    settings: &[(&str, &str)],
) -> std::process::Child {
    crate::binary::berth()
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn"])
        .env("BERTH_DATABASE_URL", db.url())
        .env("BERTH_MAIL_URL", format!("file:{}", mail.display()))
        .env("BERTH_PROVISIONER", "webhook")
        .env("BERTH_WEBHOOK_URL", &receiver.address)
        .env("BERTH_WEBHOOK_SECRET", SECRET)
        .env("BERTH_WEBHOOK_TIMEOUT_SECONDS", "300")
        .envs(settings.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("berth starts")
}

/// Ends the child processes when the test ends, however it ends.
struct Processes(Vec<std::process::Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A real `berth` process is killed with SIGKILL while the webhook still holds the job's first delivery; a new
/// process takes the job over when its lease runs out, and the change is delivered again under the same delivery id
/// (so the receiver can tell it is the same change) and done once.
async fn a_job_cut_off_by_sigkill_is_done_once_after_a_restart(backend: Backend) {
    let receiver = Receiver::start(vec![(StatusCode::OK, Duration::from_secs(120)), now_ok()]).await;
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "killed").await;
    let mail = tempfile::tempdir().expect("a mail directory");
    let start = || berth_process(&db, mail.path(), &receiver, &[("BERTH_JOB_LEASE_SECONDS", "2")]);

    let mut first = Processes(vec![start()]);
    let delivered = eventually(Duration::from_secs(30), || {
        let receiver = receiver.clone();
        async move { !receiver.deliveries().is_empty() }
    })
    .await;
    assert!(delivered, "the first process started the job");
    first.0[0].kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix: no shutdown code runs.
    first.0[0].wait().expect("the first process ended");
    assert_eq!(state_of(&db, project_id).await, "provisioning");

    let _second = Processes(vec![start()]);
    wait_for_state(&db, project_id, "active", Duration::from_secs(30)).await;

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 2, "the cut-off delivery and one more: {deliveries:?}");
    let expected_id = format!("project-{project_id}-generation-1");
    assert!(deliveries.iter().all(|delivery| delivery.id == expected_id && delivery.signed), "{deliveries:?}");
    let job = db.scalar("SELECT outcome || ' ' || attempts FROM jobs WHERE kind = 'provision_project'").await;
    assert_eq!(job.as_deref(), Some("done 2"), "one job, taken over once");
    let attempts = db
        .scalar(&format!(
            "SELECT MIN(outcome) || ' ' || MAX(outcome) || ' ' || COUNT(*) FROM provisioning_attempts WHERE project_id = {project_id}"
        ))
        .await;
    assert_eq!(attempts.as_deref(), Some("interrupted succeeded 2"), "the history shows the attempt that was cut off");
}

/// Three `berth` processes on one PostgreSQL database share the queue: 500 approvals made while they run become 500
/// active projects, each delivered to the webhook exactly once. Their poll is an hour, so only LISTEN/NOTIFY can
/// wake them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_postgresql_provision_500_approvals_exactly_once() {
    const APPROVALS: usize = 500;
    let receiver = Receiver::start(vec![now_ok()]).await;
    let db = TestDatabase::new(Backend::Postgres).await;
    let store = db.open().await;
    let mail = tempfile::tempdir().expect("a mail directory");
    let _processes = Processes(
        (0..3).map(|_| berth_process(&db, mail.path(), &receiver, &[("BERTH_JOB_POLL_SECONDS", "3600")])).collect(),
    );
    let listening = eventually(Duration::from_secs(30), || {
        let db = &db;
        async move {
            let sql = "SELECT COUNT(*)::text FROM pg_stat_activity WHERE datname = current_database() \
                       AND query ILIKE 'LISTEN%berth_jobs%'";
            db.scalar(sql).await.as_deref() == Some("3")
        }
    })
    .await;
    assert!(listening, "all three processes listen for new jobs");

    for n in 0..APPROVALS {
        approved_project(&store, &format!("owner{n}@example.org"), &format!("shared-{n}")).await;
    }
    const ACTIVE: &str = "SELECT COUNT(*)::text FROM projects WHERE state = 'active'";
    let all_active =
        eventually(Duration::from_secs(120), || async { db.scalar(ACTIVE).await == Some(APPROVALS.to_string()) }).await;
    assert!(all_active, "{:?} of {APPROVALS} became active", db.scalar(ACTIVE).await);

    let deliveries = receiver.deliveries();
    let distinct: std::collections::HashSet<_> = deliveries.iter().map(|delivery| delivery.id.clone()).collect();
    assert_eq!(deliveries.len(), APPROVALS, "each project was delivered once, none twice");
    assert_eq!(distinct.len(), APPROVALS);
    assert!(deliveries.iter().all(|delivery| delivery.signed));
    let jobs = db
        .scalar(
            "SELECT COUNT(*)::text || ' ' || SUM(attempts)::text FROM jobs WHERE kind = 'provision_project' AND outcome = 'done'",
        )
        .await;
    assert_eq!(jobs, Some(format!("{APPROVALS} {APPROVALS}")), "one job per project, one attempt each");
}
