//! The store contract: the same cases on SQLite and on PostgreSQL.

use std::time::Duration;

use app::auth::model::{AuditFilter, Role};
use app::auth::ssr::{NewAuditEntry, OutgoingMail, RoleSource, SignInOutcome, User, VerifiedIdentity};
use app::email::EmailAddress;
use app::error::StoreError;
use app::status::model::{Health, IssueStatus, MaturityIndicator, RatedValue, ServiceSummary, WorkArea};
use app::status::ssr::{KnownIssueSeed, StatusSeed};
use chrono::{TimeZone as _, Utc};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion as _, SessionStore as _};

use crate::helpers::{Backend, TestDatabase};
use crate::on_both_backends;

on_both_backends!(
    a_new_database_has_no_status_content_yet,
    the_first_start_seeds_the_documents_content_once,
    seeding_round_trips_every_field_in_order,
    concurrent_seeding_writes_exactly_once,
    two_processes_opening_one_database_at_once_both_succeed,
    migrations_are_idempotent,
    expired_sessions_are_deleted_and_live_ones_kept,
    a_closed_store_reports_unavailable,
    a_sign_in_link_is_used_at_most_once_even_when_raced,
    jobs_are_leased_retried_after_their_backoff_and_taken_over_after_a_crash,
    concurrent_runners_never_claim_the_same_job,
    sign_in_finds_links_or_refuses_identities_by_address,
    the_audit_filter_combines_actor_action_and_time,
    identities_are_told_apart_by_issuer,
    admin_emails_need_a_proven_address_and_never_undo_a_revocation,
    a_join_link_carries_its_identity_and_previews_without_being_used,
    secret_bodies_are_erased_once_delivered_or_expired,
);

fn mail_to(address: &str) -> OutgoingMail {
    OutgoingMail {
        recipient: EmailAddress::parse(address).unwrap(),
        subject: "s".into(),
        text_body: "t".into(),
        html_body: "<p>h</p>".into(),
        secret_expires_at: None,
        list_unsubscribe: None,
    }
}

fn audit(action: &str, actor: &str, at: chrono::DateTime<Utc>) -> NewAuditEntry {
    NewAuditEntry {
        at,
        actor_id: None,
        actor: actor.into(),
        action: action.into(),
        target: "test".into(),
        ip: Some("127.0.0.1".into()),
        details: serde_json::json!({}),
    }
}

async fn queue_link(store: &dyn server::storage::Store, hash: &str, address: &str) {
    let now = Utc::now();
    let email = EmailAddress::parse(address).unwrap();
    let entry = audit("sign_in_link.request", "anonymous", now);
    store
        .create_sign_in_link(hash, &email, now + chrono::Duration::minutes(10), None, &mail_to(address), &entry)
        .await
        .unwrap();
}

async fn a_sign_in_link_is_used_at_most_once_even_when_raced(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    queue_link(store.as_ref(), "hash-1", "race@example.org").await;
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.consume_sign_in_link("hash-1", Utc::now()).await.unwrap() })
    });
    let used: Vec<_> = futures_util::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(used.iter().flatten().count(), 1, "exactly one of eight racing uses succeeds: {used:?}");
    let link = used.iter().flatten().next().unwrap();
    assert_eq!((link.email.as_str(), link.joins.as_ref()), ("race@example.org", None));
    assert!(store.consume_sign_in_link("no-such-hash", Utc::now()).await.unwrap().is_none());
}

async fn jobs_are_leased_retried_after_their_backoff_and_taken_over_after_a_crash(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    queue_link(store.as_ref(), "hash-2", "jobs@example.org").await;
    let now = Utc::now();
    let job = store.claim_job(now, crate::helpers::leased(now)).await.unwrap().expect("the mail job is due");
    assert_eq!((job.attempts, job.payload.is_ok()), (1, true));
    assert!(
        store.claim_job(now, crate::helpers::leased(now)).await.unwrap().is_none(),
        "a leased job is not handed out twice"
    );

    // The runner died: once the lease runs out, another takes the job over.
    let lease = chrono::Duration::from_std(server::jobs::LEASE).unwrap();
    let later = now + lease + chrono::Duration::seconds(1);
    let again =
        store.claim_job(later, crate::helpers::leased(later)).await.unwrap().expect("taken over after the lease");
    assert_eq!((again.id, again.attempts), (job.id, 2));

    store.fail_job(job.id, "smtp down", Some(later + chrono::Duration::seconds(10)), later).await.unwrap();
    assert!(
        store
            .claim_job(
                later + chrono::Duration::seconds(5),
                crate::helpers::leased(later + chrono::Duration::seconds(5))
            )
            .await
            .unwrap()
            .is_none(),
        "not before its retry time"
    );
    let retried = store
        .claim_job(later + chrono::Duration::seconds(11), crate::helpers::leased(later + chrono::Duration::seconds(11)))
        .await
        .unwrap()
        .expect("due again");
    assert_eq!(retried.attempts, 3);

    let Ok(server::jobs::JobPayload::SendMail { outbox_id }) = retried.payload else { panic!("a mail job") };
    let message = store.outbox_message(outbox_id).await.unwrap().unwrap();
    assert_eq!((message.recipient.as_str(), message.sent_at), ("jobs@example.org", None));
    store.mark_mail_sent(outbox_id, retried.id, Utc::now()).await.unwrap();
    assert!(store.outbox_message(outbox_id).await.unwrap().unwrap().sent_at.is_some());
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    assert!(
        store
            .claim_job(later + chrono::Duration::hours(1), crate::helpers::leased(later + chrono::Duration::hours(1)))
            .await
            .unwrap()
            .is_none(),
        "done jobs stay done"
    );
}

async fn concurrent_runners_never_claim_the_same_job(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    for n in 0..20 {
        queue_link(store.as_ref(), &format!("hash-c{n}"), &format!("c{n}@example.org")).await;
    }
    let runners = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(job) = store.claim_job(Utc::now(), crate::helpers::leased(Utc::now())).await.unwrap() {
                claimed.push(job.id);
            }
            claimed
        })
    });
    let mut ids: Vec<i64> =
        futures_util::future::join_all(runners).await.into_iter().flat_map(Result::unwrap).collect();
    ids.sort_unstable();
    let total = ids.len();
    ids.dedup();
    assert_eq!((total, ids.len()), (20, 20), "every job claimed exactly once");
}

async fn sign_in_finds_links_or_refuses_identities_by_address(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let now = Utc::now();
    let session = |id: &str| crate::helpers::user_session(id, now);
    let email = EmailAddress::parse("same@example.org").unwrap();
    let by_link = VerifiedIdentity::email_link(&email);
    let entry = audit("user.sign_in", "same@example.org", now);
    let SignInOutcome::SignedIn { user, created } =
        store.sign_in(&by_link, false, &session("s1"), &entry).await.unwrap()
    else {
        panic!("signed in")
    };
    assert!(created && user.role == Role::User);

    let provider = VerifiedIdentity {
        provider: "idp".into(),
        issuer: "https://idp.example".into(),
        subject: "42".into(),
        email: Some(email.clone()),
    };
    let outcome = store.sign_in(&provider, false, &session("s2"), &entry).await.unwrap();
    assert_eq!(outcome, SignInOutcome::EmailTaken, "a provider cannot take over an account by its address");
    assert!(store.user_session("s2").await.unwrap().is_none(), "and nothing of that attempt is kept");

    let SignInOutcome::SignedIn { user: again, created } =
        store.sign_in(&by_link, true, &session("s3"), &entry).await.unwrap()
    else {
        panic!("signed in")
    };
    assert_eq!((again.id, created, again.role), (user.id, false, Role::Admin), "admins from the config are promoted");
    assert_eq!(store.user_sessions(user.id).await.unwrap().len(), 2);

    assert!(store.set_disabled(user.id, true, &entry).await.unwrap());
    assert!(!store.set_disabled(user.id, true, &entry).await.unwrap(), "no change, no audit row");
    assert!(store.user_sessions(user.id).await.unwrap().is_empty(), "disabling ends every session");
    assert_eq!(store.sign_in(&by_link, false, &session("s4"), &entry).await.unwrap(), SignInOutcome::Disabled);
}

fn provider_identity(issuer: &str, subject: &str, address: &str) -> VerifiedIdentity {
    VerifiedIdentity {
        provider: "idp".into(),
        issuer: issuer.into(),
        subject: subject.into(),
        email: Some(EmailAddress::parse(address).unwrap()),
    }
}

/// Signs `identity` in and returns the user and whether it was created; panics on any other outcome.
async fn signed_in(
    store: &dyn server::storage::Store,
    identity: &VerifiedIdentity,
    admin: bool,
    session: &str,
) -> (User, bool) {
    let now = Utc::now();
    let entry = audit("user.sign_in", "test", now);
    match store.sign_in(identity, admin, &crate::helpers::user_session(session, now), &entry).await.unwrap() {
        SignInOutcome::SignedIn { user, created } => (user, created),
        other => panic!("expected a sign-in, got {other:?}"),
    }
}

async fn identities_are_told_apart_by_issuer(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let old = provider_identity("https://old.example", "7", "seven@example.org");
    let (first, created) = signed_in(store.as_ref(), &old, false, "i1").await;
    assert!(created);
    // The provider id now points at another issuer, whose subject "7" is somebody else.
    let repointed = provider_identity("https://new.example", "7", "other-seven@example.org");
    let (second, created) = signed_in(store.as_ref(), &repointed, false, "i2").await;
    assert!(created && second.id != first.id, "the new issuer's subject does not reach the old account");
    let (again, created) = signed_in(store.as_ref(), &old, false, "i3").await;
    assert_eq!((again.id, created), (first.id, false), "each issuer keeps its own subjects");
}

async fn admin_emails_need_a_proven_address_and_never_undo_a_revocation(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let claimed = provider_identity("https://idp.example", "boss", "boss@example.org");
    let (user, _) = signed_in(store.as_ref(), &claimed, true, "a1").await;
    assert_eq!(user.role, Role::User, "a provider's claim alone never makes an admin");

    let email = EmailAddress::parse("boss@example.org").unwrap();
    let proven = VerifiedIdentity::email_link(&email);
    let (user, _) = signed_in(store.as_ref(), &proven, true, "a2").await;
    assert_eq!(user.role, Role::Admin, "the e-mail link proved the address");
    let (user, _) = signed_in(store.as_ref(), &claimed, true, "a3").await;
    assert_eq!(user.role, Role::Admin, "once proven, any identity of the account signs in as admin");

    let entry = audit("user.role_revoke", "another admin", Utc::now());
    assert!(store.set_role(user.id, Role::User, RoleSource::Admin, &entry).await.unwrap());
    let (user, _) = signed_in(store.as_ref(), &proven, true, "a4").await;
    assert_eq!(user.role, Role::User, "a revocation by a person is not undone at the next sign-in");
    let grants = store
        .audit_entries(&AuditFilter { action: Some("user.role_grant".into()), ..AuditFilter::default() }, 10)
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "one grant by the config, audited: {grants:?}");
}

async fn a_join_link_carries_its_identity_and_previews_without_being_used(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let now = Utc::now();
    let email = EmailAddress::parse("joiner@example.org").unwrap();
    let identity = provider_identity("https://idp.example", "j-1", "joiner@example.org");
    let entry = audit("sign_in_link.request", "anonymous", now);
    let expires = now + chrono::Duration::minutes(10);
    store
        .create_sign_in_link("hash-j", &email, expires, Some(&identity), &mail_to("joiner@example.org"), &entry)
        .await
        .unwrap();
    for _ in 0..2 {
        let preview = store.sign_in_link_preview("hash-j", now).await.unwrap();
        assert_eq!(preview, Some((email.clone(), Some("idp".into()))), "a preview does not use the link");
    }
    let used = store.consume_sign_in_link("hash-j", now).await.unwrap().expect("usable once");
    assert_eq!((used.email, used.joins), (email.clone(), Some(identity)));
    assert_eq!(store.sign_in_link_preview("hash-j", now).await.unwrap(), None, "used links preview nothing");

    queue_link(store.as_ref(), "hash-p", "joiner@example.org").await;
    assert_eq!(store.sign_in_link_preview("hash-p", now).await.unwrap(), Some((email, None)));
    let later = now + chrono::Duration::minutes(11);
    assert_eq!(store.sign_in_link_preview("hash-p", later).await.unwrap(), None, "nor do expired ones");
    assert!(store.consume_sign_in_link("hash-p", later).await.unwrap().is_none());
}

async fn secret_bodies_are_erased_once_delivered_or_expired(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let now = Utc::now();
    let entry = audit("sign_in_link.request", "anonymous", now);
    let queue = |hash: &'static str, address: &'static str, secret: Option<chrono::DateTime<Utc>>| {
        let store = store.clone();
        let entry = entry.clone();
        async move {
            let email = EmailAddress::parse(address).unwrap();
            let mail = OutgoingMail { secret_expires_at: secret, ..mail_to(address) };
            store.create_sign_in_link(hash, &email, now + chrono::Duration::minutes(10), None, &mail, &entry).await
        }
    };
    queue("hash-s1", "delivered@example.org", Some(now + chrono::Duration::minutes(10))).await.unwrap();
    queue("hash-s2", "stuck@example.org", Some(now + chrono::Duration::minutes(10))).await.unwrap();
    queue("hash-s3", "plain@example.org", None).await.unwrap();

    let job = store.claim_job(now, crate::helpers::leased(now)).await.unwrap().expect("a mail job");
    let Ok(server::jobs::JobPayload::SendMail { outbox_id }) = job.payload else { panic!("a mail job") };
    let before = store.outbox_message(outbox_id).await.unwrap().unwrap();
    assert_eq!((before.text_body.as_str(), before.html_body.as_str()), ("t", "<p>h</p>"));
    store.mark_mail_sent(outbox_id, job.id, now).await.unwrap();
    let sent = store.outbox_message(outbox_id).await.unwrap().unwrap();
    assert_eq!((sent.text_body.as_str(), sent.html_body.as_str()), ("", ""), "delivered: the secret is gone");
    assert_eq!(sent.subject, "s", "what was sent, and when, is kept");

    assert_eq!(store.erase_expired_secrets(now).await.unwrap(), 0, "nothing has expired yet");
    let erased = store.erase_expired_secrets(now + chrono::Duration::minutes(11)).await.unwrap();
    assert_eq!(erased, 1, "the undelivered secret is erased once it has expired; the plain message is not");
    let mut bodies = Vec::new();
    for id in 1..=3 {
        let message = store.outbox_message(outbox_id - 1 + id).await.unwrap();
        bodies.extend(message.map(|message| (message.recipient, message.text_body)));
    }
    bodies.sort();
    let expected = [("delivered@example.org", ""), ("plain@example.org", "t"), ("stuck@example.org", "")];
    let expected: Vec<_> = expected.iter().map(|(to, body)| ((*to).to_owned(), (*body).to_owned())).collect();
    assert_eq!(bodies, expected);
}

async fn the_audit_filter_combines_actor_action_and_time(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let base = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    for (n, (action, actor)) in [
        ("user.sign_in", "a@x.org"),
        ("user.role_grant", "b@x.org"),
        ("user.sign_in", "b@x.org"),
        ("x_y.z", "c%@x.org"),
    ]
    .into_iter()
    .enumerate()
    {
        store.record_audit(&audit(action, actor, base + chrono::Duration::days(n as i64))).await.unwrap();
    }
    let find = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .audit_entries(&filter, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.action + "/" + &row.actor)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find(AuditFilter::default()).await.len(), 4);
    assert_eq!(
        find(AuditFilter { actor: Some("b@".into()), ..Default::default() }).await,
        ["user.sign_in/b@x.org", "user.role_grant/b@x.org"]
    );
    assert_eq!(find(AuditFilter { action: Some("user.sign".into()), ..Default::default() }).await.len(), 2);
    assert_eq!(find(AuditFilter { action: Some("x_".into()), ..Default::default() }).await, ["x_y.z/c%@x.org"]);
    assert_eq!(
        find(AuditFilter { actor: Some("%".into()), ..Default::default() }).await,
        ["x_y.z/c%@x.org"],
        "literal %"
    );
    let window = AuditFilter {
        since: Some(base + chrono::Duration::days(1)),
        until: Some(base + chrono::Duration::days(3)),
        ..Default::default()
    };
    assert_eq!(find(window).await, ["user.sign_in/b@x.org", "user.role_grant/b@x.org"]);
    let newest = store.audit_entries(&AuditFilter::default(), 1).await.unwrap();
    let older = find(AuditFilter { before_id: Some(newest[0].id), ..Default::default() }).await;
    assert_eq!(older.len(), 3, "paging by row id");
}

fn custom_seed() -> StatusSeed {
    let rated = |value: &str, state| RatedValue { value: value.to_owned(), state };
    StatusSeed {
        service: ServiceSummary { stage: "Pilot".into(), service_level: "Best effort <b>only</b> & \"quoted\"".into() },
        maturity: vec![
            MaturityIndicator {
                indicator: "Zeta".into(),
                current: rated("broken", Health::Bad),
                best_feasible: rated("fine", Health::Ok),
            },
            MaturityIndicator {
                indicator: "Alpha".into(),
                current: rated("so-so", Health::Warn),
                best_feasible: rated("ok", Health::Ok),
            },
        ],
        work_remaining: vec![
            WorkArea { area: "Second".into(), description: "Ääkköset and emoji 🚢".into() },
            WorkArea { area: "First".into(), description: "Plain".into() },
        ],
        known_issues: vec![
            KnownIssueSeed {
                title: "Resolved one".into(),
                description: "Was bad".into(),
                status: IssueStatus::Resolved,
                workaround: Some("Wait".into()),
            },
            KnownIssueSeed {
                title: "Open one".into(),
                description: "Is bad".into(),
                status: IssueStatus::Investigating,
                workaround: None,
            },
        ],
    }
}

async fn a_new_database_has_no_status_content_yet(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    assert_eq!(store.status_revision().await.unwrap(), 0);
    let error = store.load_status().await.expect_err("nothing to load before the seed");
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
}

async fn the_first_start_seeds_the_documents_content_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    assert!(server::seed::seed_status(store.as_ref()).await.unwrap(), "the first start seeds");
    assert!(!server::seed::seed_status(store.as_ref()).await.unwrap(), "later starts do not");

    let report = store.load_status().await.unwrap();
    assert_eq!(report.revision, 1);
    assert_eq!(store.status_revision().await.unwrap(), 1);
    let indicators: Vec<_> = report.maturity.iter().map(|row| row.indicator.as_str()).collect();
    assert_eq!(indicators, ["OpenShift version", "Service level", "GlusterFS storage class"]);
    let areas: Vec<_> = report.work_remaining.iter().map(|area| area.area.as_str()).collect();
    assert_eq!(areas, ["Storage", "Networking", "Billing", "Customer processes"]);
    assert_eq!(report.known_issues.len(), 1);
    assert!(report.known_issues[0].description.contains("15–25 minutes"));
    assert_eq!(report.known_issues[0].status, IssueStatus::Identified);
}

async fn seeding_round_trips_every_field_in_order(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let seed = custom_seed();
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 30, 15).unwrap();
    assert!(store.seed_status_once("custom", &seed, now).await.unwrap());

    let report = store.load_status().await.unwrap();
    assert_eq!(report.service, seed.service);
    assert_eq!(report.updated_at, now);
    assert_eq!(report.maturity, seed.maturity, "stored in the given order, not alphabetically");
    assert_eq!(report.work_remaining, seed.work_remaining);
    let titles: Vec<_> = report.known_issues.iter().map(|issue| issue.title.as_str()).collect();
    assert_eq!(titles, ["Open one", "Resolved one"], "open issues come first");
    let resolved = &report.known_issues[1];
    assert_eq!(resolved.workaround.as_deref(), Some("Wait"));
    assert_eq!((resolved.opened_at, resolved.updated_at), (now, now));
    assert_eq!(report.known_issues[0].workaround, None);
}

async fn concurrent_seeding_writes_exactly_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let seed = custom_seed();
    let attempts = (0..6).map(|_| {
        let store = store.clone();
        let seed = seed.clone();
        tokio::spawn(async move { store.seed_status_once("race", &seed, Utc::now()).await })
    });
    let mut wrote = 0;
    for attempt in attempts {
        if attempt.await.unwrap().expect("no attempt fails") {
            wrote += 1;
        }
    }
    assert_eq!(wrote, 1);
    let report = store.load_status().await.unwrap();
    assert_eq!(report.known_issues.len(), 2, "no duplicated rows");
    assert_eq!(report.revision, 1);
}

async fn two_processes_opening_one_database_at_once_both_succeed(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let url = db.database_url();
    // Two pools stand for two processes: each migrates and seeds as startup does.
    let start = || async {
        let store = server::storage::open(&url).await.expect("opening succeeds");
        server::seed::seed_status(store.as_ref()).await.expect("seeding succeeds");
        store
    };
    let (first, second) = tokio::join!(start(), start());
    let (a, b) = (first.load_status().await.unwrap(), second.load_status().await.unwrap());
    assert_eq!(a, b);
    assert_eq!(a.known_issues.len(), 1);
    assert_eq!(a.revision, 1);
}

async fn migrations_are_idempotent(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let first = db.open().await;
    server::seed::seed_status(first.as_ref()).await.unwrap();
    first.close().await;
    let again = db.open().await;
    assert_eq!(again.load_status().await.unwrap().revision, 1, "reopening keeps the content");
}

async fn expired_sessions_are_deleted_and_live_ones_kept(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let sessions = store.session_store();
    let now = tower_sessions::cookie::time::OffsetDateTime::now_utc();
    let mut live = Record { id: Id::default(), data: Default::default(), expiry_date: now + Duration::from_secs(3600) };
    let mut expired = Record { id: Id::default(), data: Default::default(), expiry_date: now - Duration::from_secs(1) };
    live.data.insert("who".into(), serde_json::json!("ada"));
    sessions.create(&mut live).await.unwrap();
    sessions.create(&mut expired).await.unwrap();

    sessions.delete_expired().await.unwrap();

    let loaded = sessions.load(&live.id).await.unwrap().expect("the live session stays");
    assert_eq!(loaded.data.get("who"), Some(&serde_json::json!("ada")));
    assert!(sessions.load(&expired.id).await.unwrap().is_none(), "the expired session is gone");
}

async fn a_closed_store_reports_unavailable(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    store.close().await;
    let error = store.ping().await.expect_err("a closed pool cannot answer");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    let error = store.status_revision().await.expect_err("nor can the status store");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
}
