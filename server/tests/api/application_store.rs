//! The application store's contract, on SQLite and on PostgreSQL: drafts saved once per form, edits and decisions
//! conditional on the version they were made on, exactly one winner when admins race, and approval creating the
//! project, its manager and a provisioning job in one transaction.

use app::applications::model::{ApplicationFields, BillingChoice, ProjectName, Quota};
use app::applications::ssr::{ChangeOutcome, NewEvent, NewProject, QueueFilter, QueueSort, TransitionChange};
use app::applications::state::{Actor, ApplicationState, Transition, next_state};
use app::auth::ssr::{NewAuditEntry, SignInOutcome, VerifiedIdentity};
use app::email::EmailAddress;
use chrono::{NaiveDate, Utc};

use crate::helpers::{Backend, TestDatabase};
use crate::on_both_backends;

on_both_backends!(
    a_form_saved_twice_makes_one_draft_and_stale_edits_are_refused,
    racing_admins_make_exactly_one_decision_and_one_project,
    a_submitted_name_is_held_and_approval_queues_one_provisioning_job,
    the_queue_pages_by_keyset_and_filters,
    scheduled_work_runs_once_per_period_and_mail_choices_are_kept,
);

pub(crate) type Store = std::sync::Arc<dyn server::storage::Store>;

/// Approves a new application for project `name` by `owner` (an address), as an admin would; returns the project's
/// id. Its provisioning job is queued with it.
pub(crate) async fn approved_project(store: &Store, owner: &str, name: &str) -> i64 {
    let applicant = user(store, owner).await;
    let admin = user(store, "approver@example.org").await;
    let (id, version) = submitted(store, applicant, name).await;
    let approve = TransitionChange {
        project: Some(project_for(name, applicant)),
        ..change(id, (ApplicationState::Submitted, version), Transition::Approve, admin)
    };
    let ChangeOutcome::Done { project_id: Some(project_id), .. } = store.transition(&approve).await.unwrap() else {
        panic!("approved")
    };
    project_id
}

pub(crate) async fn user(store: &Store, address: &str) -> i64 {
    let now = Utc::now();
    let email = EmailAddress::parse(address).unwrap();
    // Each sign-in its own session id: a test may sign the same person in more than once.
    static SIGN_INS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SIGN_INS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let session = crate::helpers::user_session(&format!("s-{address}-{n}"), now);
    let outcome =
        store.sign_in(&VerifiedIdentity::email_link(&email), false, &session, &audit("user.sign_in")).await.unwrap();
    let SignInOutcome::SignedIn { user, .. } = outcome else { panic!("signed in: {outcome:?}") };
    user.id
}

pub(crate) fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: Utc::now(),
        actor_id: None,
        actor: "test".into(),
        action: action.into(),
        target: "test".into(),
        ip: None,
        details: serde_json::json!({}),
    }
}

pub(crate) fn event(actor_id: i64, by_admin: bool, message: &str) -> NewEvent {
    NewEvent { actor_id, actor: format!("user {actor_id}"), by_admin, message: message.into() }
}

pub(crate) fn fields(name: &str) -> ApplicationFields {
    ApplicationFields {
        project_name: Some(ProjectName::parse(name).unwrap()),
        title: format!("Project {name}"),
        purpose: "Research.".into(),
        organisation: "Uni".into(),
        end_date: NaiveDate::from_ymd_opt(2027, 6, 30),
        quota: Quota::STANDARD,
        quota_justification: String::new(),
        billing: Some(BillingChoice::New { justification: "None yet.".into() }),
        terms_accepted: true,
    }
}

/// A transition as the service would ask for it: decided by the state machine from what the actor saw.
pub(crate) fn change(id: i64, seen: (ApplicationState, i64), transition: Transition, actor: i64) -> TransitionChange {
    let to = next_state(seen.0, transition, transition.actor()).unwrap();
    TransitionChange {
        application_id: id,
        transition,
        from: seen.0,
        to,
        version: seen.1,
        event: event(actor, transition.actor() == Actor::Admin, "because"),
        submitted: None,
        project: None,
        mail: Vec::new(),
        audit: audit(&format!("application.{}", transition.as_str())),
    }
}

/// Saves a draft of `name` for `applicant` and submits it; returns its id and version.
pub(crate) async fn submitted(store: &Store, applicant: i64, name: &str) -> (i64, i64) {
    let draft = fields(name);
    let (id, version) = store
        .save_new_draft(applicant, &format!("key-{name}"), &draft, &event(applicant, false, ""), &audit("a"))
        .await
        .unwrap();
    let submit = TransitionChange {
        submitted: Some((draft, "2026-11".into())),
        ..change(id, (ApplicationState::Draft, version), Transition::Submit, applicant)
    };
    let ChangeOutcome::Done { version, .. } = store.transition(&submit).await.unwrap() else { panic!("submitted") };
    (id, version)
}

pub(crate) fn project_for(name: &str, owner: i64) -> NewProject {
    NewProject {
        name: name.into(),
        owner_id: owner,
        title: format!("Project {name}"),
        organisation: "Uni".into(),
        end_date: NaiveDate::from_ymd_opt(2027, 6, 30).unwrap(),
        quota: Quota { cpu_cores: 2, ..Quota::STANDARD },
        billing_account_id: None,
    }
}

async fn a_form_saved_twice_makes_one_draft_and_stale_edits_are_refused(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let applicant = user(&store, "applicant@example.org").await;
    let other = user(&store, "other@example.org").await;
    let draft = fields("twice");
    let first =
        store.save_new_draft(applicant, "form-1", &draft, &event(applicant, false, ""), &audit("a")).await.unwrap();
    let retitled = ApplicationFields { title: "Second save".into(), ..draft.clone() };
    let second =
        store.save_new_draft(applicant, "form-1", &retitled, &event(applicant, false, ""), &audit("a")).await.unwrap();
    assert_eq!(second.0, first.0, "the same form saves the same draft");
    assert_eq!(store.applications_of(applicant).await.unwrap().len(), 1);
    assert_eq!(store.application(first.0).await.unwrap().unwrap().fields.title, "Second save");
    let target = format!("application:{}", first.0);
    let audited: i64 =
        crate::on_test_pool!(db.url(), |pool| sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE target = $1")
            .bind(&target)
            .fetch_one(&pool)
            .await
            .unwrap());
    assert_eq!(audited, 2, "both saves are in the audit trail");

    // An edit made on the old version is refused and told how it is now; the current version works.
    let stale = store
        .save_changes(first.0, applicant, first.1, &draft, &event(applicant, false, ""), &audit("a"))
        .await
        .unwrap();
    let ChangeOutcome::Stale(now) = stale else { panic!("stale edit accepted: {stale:?}") };
    assert_eq!((now.version, now.fields.title.as_str()), (second.1, "Second save"));
    let saved = store
        .save_changes(first.0, applicant, second.1, &draft, &event(applicant, false, ""), &audit("a"))
        .await
        .unwrap();
    assert!(matches!(saved, ChangeOutcome::Done { .. }), "{saved:?}");
    let foreign =
        store.save_changes(first.0, other, second.1 + 1, &draft, &event(other, false, ""), &audit("a")).await.unwrap();
    assert_eq!(foreign, ChangeOutcome::NotFound, "another user's application does not exist for them");
    let kinds: Vec<_> = store.events(first.0).await.unwrap().into_iter().map(|event| event.kind).collect();
    assert_eq!(kinds, ["created", "saved", "saved"]);
}

async fn racing_admins_make_exactly_one_decision_and_one_project(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let applicant = user(&store, "racer@example.org").await;
    let admins = [user(&store, "admin-a@example.org").await, user(&store, "admin-b@example.org").await];
    for round in 0..10 {
        let name = format!("race-{round}");
        let (id, version) = submitted(&store, applicant, &name).await;
        let attempts = admins.map(|admin| {
            let store = store.clone();
            let approve = TransitionChange {
                project: Some(project_for(&name, applicant)),
                ..change(id, (ApplicationState::Submitted, version), Transition::Approve, admin)
            };
            tokio::spawn(async move { store.transition(&approve).await.unwrap() })
        });
        let outcomes: Vec<_> = futures_util::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
        let winners = outcomes.iter().filter(|outcome| matches!(outcome, ChangeOutcome::Done { .. })).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        let loser = outcomes.iter().find_map(|outcome| match outcome {
            ChangeOutcome::Stale(record) => Some(record.clone()),
            _ => None,
        });
        let loser = loser.unwrap_or_else(|| panic!("the other admin is told: {outcomes:?}"));
        assert_eq!(loser.state, ApplicationState::Approved);
        let (by, _) = loser.decided.clone().expect("who decided, and when");
        assert!(by.starts_with("admin-"), "{by}");
    }
    let projects: i64 = crate::on_test_pool!(db.url(), |pool| sqlx::query_scalar("SELECT COUNT(*) FROM projects")
        .fetch_one(&pool)
        .await
        .unwrap());
    let jobs: i64 = crate::on_test_pool!(db.url(), |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'provision_project'"
    )
    .fetch_one(&pool)
    .await
    .unwrap());
    assert_eq!((projects, jobs), (10, 10), "exactly one project and one job per application");
}

async fn a_submitted_name_is_held_and_approval_queues_one_provisioning_job(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let applicant = user(&store, "holder@example.org").await;
    let rival = user(&store, "rival@example.org").await;
    let admin = user(&store, "boss@example.org").await;
    let (id, version) = submitted(&store, applicant, "held").await;
    assert!(store.name_taken("held", None).await.unwrap());
    assert!(!store.name_taken("held", Some(id)).await.unwrap(), "not against itself");

    let (rival_id, rival_version) = store
        .save_new_draft(rival, "rival-form", &fields("held"), &event(rival, false, ""), &audit("a"))
        .await
        .unwrap();
    let rival_submit = TransitionChange {
        submitted: Some((fields("held"), "2026-11".into())),
        ..change(rival_id, (ApplicationState::Draft, rival_version), Transition::Submit, rival)
    };
    assert_eq!(store.transition(&rival_submit).await.unwrap(), ChangeOutcome::NameTaken);

    let approve = TransitionChange {
        project: Some(project_for("held", applicant)),
        ..change(id, (ApplicationState::Submitted, version), Transition::Approve, admin)
    };
    let ChangeOutcome::Done { project_id: Some(project_id), .. } = store.transition(&approve).await.unwrap() else {
        panic!("approved")
    };
    let record = store.application(id).await.unwrap().unwrap();
    let project = record.project.expect("the application links to its project");
    assert_eq!((project.id, project.name.as_str(), project.state.as_str()), (project_id, "held", "provisioning"));
    assert_eq!(project.quota.cpu_cores, 2, "the granted quota, not the requested one");
    assert_eq!(store.transition(&rival_submit).await.unwrap(), ChangeOutcome::NameTaken, "the project holds it now");

    // The provisioning job is queued with its project's dedupe key, for a runner to claim once.
    assert_eq!(store.pending_jobs().await.unwrap(), 1);
    let now = Utc::now();
    let job = store.claim_job(now, crate::helpers::leased(now)).await.unwrap().expect("the provisioning job is due");
    assert_eq!(job.payload.unwrap(), server::jobs::JobPayload::ProvisionProject { project_id });
    assert!(store.claim_job(now, crate::helpers::leased(now)).await.unwrap().is_none(), "claimed once");
    let manager: Option<String> = crate::on_test_pool!(db.url(), |pool| sqlx::query_scalar(
        "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2"
    )
    .bind(project_id)
    .bind(applicant)
    .fetch_optional(&pool)
    .await
    .unwrap());
    assert_eq!(manager.as_deref(), Some("manager"));
    let kinds: Vec<_> = store.events(id).await.unwrap().into_iter().map(|event| event.kind).collect();
    assert_eq!(kinds, ["created", "submit", "approve"]);
}

async fn the_queue_pages_by_keyset_and_filters(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let first = user(&store, "first@example.org").await;
    let second = user(&store, "second@example.org").await;
    for n in 0..7 {
        submitted(&store, if n % 2 == 0 { first } else { second }, &format!("q-{n}")).await;
    }
    assert_eq!(store.waiting_count(i64::MAX).await.unwrap(), 7);
    assert_eq!(store.waiting_count(5).await.unwrap(), 5, "counting stops at the limit");
    let mut seen = Vec::new();
    let mut filter = QueueFilter::default();
    loop {
        let page = store.queue(&filter, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        filter.after = Some((last.submitted_at.unwrap().to_rfc3339(), last.id));
        seen.extend(page.into_iter().map(|row| row.project_name));
    }
    assert_eq!(seen, (0..7).map(|n| format!("q-{n}")).collect::<Vec<_>>(), "oldest first, each once");

    let by_name = QueueFilter { sort: QueueSort::Name, after: Some(("q-4".into(), 0)), ..QueueFilter::default() };
    let names: Vec<_> = store.queue(&by_name, 50).await.unwrap().into_iter().map(|row| row.project_name).collect();
    assert_eq!(names, ["q-4", "q-5", "q-6"]);
    let mine = QueueFilter { applicant: Some("SECOND@".into()), ..QueueFilter::default() };
    assert_eq!(store.queue(&mine, 50).await.unwrap().len(), 3);
    let search = QueueFilter { search: Some("Project Q-6".into()), ..QueueFilter::default() };
    let found: Vec<_> = store.queue(&search, 50).await.unwrap().into_iter().map(|row| row.project_name).collect();
    assert_eq!(found, ["q-6"]);
    let wildcard = QueueFilter { search: Some("%".into()), ..QueueFilter::default() };
    assert!(store.queue(&wildcard, 50).await.unwrap().is_empty(), "patterns are matched literally");
}

async fn scheduled_work_runs_once_per_period_and_mail_choices_are_kept(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (first, second) = (db.open().await, db.open().await);
    let admin = user(&first, "boss@example.org").await;
    let mail = app::auth::ssr::OutgoingMail {
        recipient: EmailAddress::parse("boss@example.org").unwrap(),
        subject: "digest".into(),
        text_body: "t".into(),
        html_body: "h".into(),
        secret_expires_at: None,
        list_unsubscribe: None,
    };
    let now = Utc::now();
    let before = first.pending_jobs().await.unwrap();
    // Two processes (two pools on one database) race for the same day: one queues the mail.
    let (a, b) = tokio::join!(
        first.run_once("digest", "2026-11-25", std::slice::from_ref(&mail), now),
        second.run_once("digest", "2026-11-25", std::slice::from_ref(&mail), now)
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one run per period");
    assert_eq!(first.pending_jobs().await.unwrap(), before + 1, "and one message");
    assert!(first.run_once("digest", "2026-11-26", &[], now).await.unwrap(), "the next day runs again");

    assert!(!first.application_mail_daily(admin).await.unwrap(), "a message per application by default");
    first.set_application_mail_daily(admin, true, &audit("user.application_mail")).await.unwrap();
    assert!(second.application_mail_daily(admin).await.unwrap());
    assert!(first.admins_mailed_each().await.unwrap().is_empty(), "only a user here: no admins yet");
    assert!(first.projects_of(admin).await.unwrap().is_empty());
}
