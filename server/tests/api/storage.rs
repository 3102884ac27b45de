//! The store contract: the same cases on SQLite and on PostgreSQL.

use std::time::Duration;

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
);

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
