//! Usage and the BU ledger, on SQLite and on PostgreSQL: collectors pushing samples through `POST /api/v1/usage`
//! (tokens, idempotence, bad samples, limits), and the hourly rollup (each hour once, gaps filled, late samples
//! corrected, quota changes within an hour, the rollup job) and what the project page shows of it. The rollup is run
//! with chosen hours: the project's reservations are written into the past directly.

use std::sync::Arc;
use std::time::Duration;

use chrono::DurationRound as _;
use chrono::{DateTime, Datelike, Utc};
use serde_json::{Value, json};

use crate::applications::call;
use crate::helpers::{Backend, TestApp, eventually};
use crate::members::project;
use crate::on_both_backends;

on_both_backends!(
    what_a_project_reserves_follows_its_state_and_quota,
    collectors_push_samples_that_count_once_and_bad_samples_are_reported_one_by_one,
    the_rollup_charges_each_hour_once_fills_gaps_and_corrects_late_samples,
    the_rollup_job_runs_once_per_hour_and_the_project_page_shows_the_cost,
    monthly_statements_add_up_the_ledger_per_resource_as_a_page_and_as_csv,
    accounts_hold_granted_bu_and_tell_their_owner_at_80_and_100_percent_once_per_grant,
    only_an_accounts_owner_puts_projects_and_applications_on_it,
    when_asked_berth_suspends_the_projects_of_an_account_whose_bu_ran_out,
    the_quota_change_form_previews_the_cost_and_a_waiting_change_shows_it,
);

/// A billing service over the test's database, to run the rollup up to chosen hours.
pub(crate) async fn billing_of(app: &TestApp) -> app::billing::ssr::BillingService {
    billing_with(app, app::billing::ssr::BillingSettings::default()).await
}

/// [`billing_of`] with `settings`.
async fn billing_with(
    app: &TestApp,
    settings: app::billing::ssr::BillingSettings,
) -> app::billing::ssr::BillingService {
    let store = app.db.open().await;
    let base = url::Url::parse(&app.address).unwrap();
    let mail = Arc::new(server::mail::TemplateRenderer::new(&base));
    let projects = Arc::new(app::projects::ssr::ProjectService::new(
        store.clone(),
        store.clone(),
        mail.clone(),
        app::projects::ssr::ProjectSettings::default(),
    ));
    app::billing::ssr::BillingService::new(store, projects, mail, settings)
}

/// Pushes `body` with `token`; the status and the JSON answer.
async fn push(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app.client.post(format!("{}/api/v1/usage", app.address)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn sample(project: &str, resource: &str, value: f64, time: DateTime<Utc>) -> Value {
    json!({ "project": project, "resource": resource, "value": value, "time": time.to_rfc3339() })
}

/// The start of the hour `hours` before the current one.
fn hours_ago(hours: i64) -> DateTime<Utc> {
    app::billing::ssr::hour_of(Utc::now()) - chrono::Duration::hours(hours)
}

/// An admin's new collector token.
async fn collector(boss: &crate::helpers::Browser, name: &str) -> String {
    let (status, body) = call(boss, "admin_collector_create", &[("name", name)]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until no rollup job waits or runs (the one every process queues at startup, say).
pub(crate) async fn rollups_done(app: &TestApp) {
    let done = eventually(Duration::from_secs(10), || async {
        app.scalar("SELECT COUNT(*) || '' FROM jobs WHERE kind = 'usage_rollup' AND done_at IS NULL").await.as_deref()
            == Some("0")
    })
    .await;
    assert!(done, "the rollup jobs ran");
    let failed = app.scalar("SELECT COALESCE(MAX(last_error), '') FROM jobs WHERE kind = 'usage_rollup'").await;
    assert_eq!(failed.as_deref(), Some(""), "a rollup failed");
}

/// Replaces the project's reservation history with `(from, cores)` entries (16 GiB memory, 100 GiB storage).
async fn reservations(app: &TestApp, project_id: i64, entries: &[(DateTime<Utc>, u32)]) {
    app.execute(&format!("DELETE FROM project_reservations WHERE project_id = {project_id}")).await;
    for (from, cores) in entries {
        app.execute(&format!(
            "INSERT INTO project_reservations (project_id, from_at, cpu_cores, memory_gib, storage_gib) \
             VALUES ({project_id}, '{}', {cores}, 16, 100)",
            from.to_rfc3339()
        ))
        .await;
    }
}

/// The ledger rows of `resource` in the hour from `hour`: (kind, amount in milli-BU, usage), oldest first.
async fn ledger(app: &TestApp, resource: &str, hour: DateTime<Utc>) -> Vec<String> {
    let rows = app
        .scalar(&format!(
            "SELECT COALESCE(STRING_AGG(line, ' | '), '') FROM (SELECT kind || ' ' || CAST(amount_mbu AS TEXT) || ' ' \
             || COALESCE(CAST(usage_milli AS TEXT), '-') AS line FROM billing_ledger WHERE resource = '{resource}' \
             AND hour = '{}' ORDER BY id) lines",
            hour.to_rfc3339()
        ))
        .await
        .unwrap_or_default();
    if rows.is_empty() { Vec::new() } else { rows.split(" | ").map(str::to_owned).collect() }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {sql}")).await.unwrap().parse().unwrap()
}

/// The cores the project reserves, oldest first, as the database's triggers recorded them.
async fn reserved_cores(app: &TestApp, project_id: i64) -> String {
    app.scalar(&format!(
        "SELECT STRING_AGG(cores, ' ') FROM (SELECT CAST(cpu_cores AS TEXT) AS cores FROM project_reservations \
         WHERE project_id = {project_id} ORDER BY from_at) history"
    ))
    .await
    .unwrap_or_default()
}

async fn what_a_project_reserves_follows_its_state_and_quota(backend: Backend) {
    let (app, project_id, _ada, boss) = project(backend).await;
    // Nothing while it was provisioned, its quota (2 cores) once active.
    assert_eq!(reserved_cores(&app, project_id).await, "0 2");
    let (status, body) = call(&boss, "project_suspend", &[("name", "climate"), ("reason", "Unpaid.")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(reserved_cores(&app, project_id).await, "0 2 0", "nothing while suspended");
    let (status, body) = call(&boss, "project_resume", &[("name", "climate")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(reserved_cores(&app, project_id).await, "0 2 0 2");
}

async fn collectors_push_samples_that_count_once_and_bad_samples_are_reported_one_by_one(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;

    // Only admins add collectors; a name is needed.
    let (status, _) = call(&ada, "admin_collector_create", &[("name", "mine")]).await;
    assert_eq!(status, 403);
    let (status, body) = call(&boss, "admin_collector_create", &[("name", "  ")]).await;
    assert_eq!(status, 400, "{body}");
    let token = collector(&boss, "cluster A federation").await;
    assert!(token.starts_with("berth_collector_"), "{token}");
    let stored = app.scalar("SELECT token_hash FROM usage_collectors").await.unwrap();
    assert!(!stored.contains(&token[16..]), "only the hash is kept");

    let at = hours_ago(1) + chrono::Duration::minutes(10);
    let batch = json!({ "samples": [
        sample("climate", "cpu", 1.5, at),
        sample("climate", "memory", 3.25, at),
        sample("climate", "cpu", 1.5, at),
        sample("nowhere", "cpu", 1.0, at),
        sample("climate", "cpu", -1.0, at),
        sample("climate", "cpu", 1.0, Utc::now() + chrono::Duration::hours(1)),
        sample("climate", "gpu", 1.0, at),
        sample("climate", "storage", 1.0, Utc::now() - chrono::Duration::days(400)),
    ]});

    // No token, a wrong one: refused as a whole, nothing kept.
    let (status, body) = push(&app, None, &batch).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = push(&app, Some("berth_collector_guess"), &batch).await;
    assert_eq!(status, 401);
    assert_eq!(count(&app, "usage_samples").await, 0);

    let (status, report) = push(&app, Some(&token), &batch).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["duplicates"], 1, "the repeated sample counts once: {report}");
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["index"].as_u64().unwrap(), entry["error"].as_str().unwrap().to_owned()))
        .collect();
    let indexes: Vec<u64> = rejected.iter().map(|(index, _)| *index).collect();
    assert_eq!(indexes, [3, 4, 5, 6, 7], "{report}");
    assert!(rejected[0].1.contains("no project \"nowhere\""), "{rejected:?}");
    assert!(rejected[1].1.contains("negative"), "{rejected:?}");
    assert!(rejected[2].1.contains("future"), "{rejected:?}");
    assert!(rejected[3].1.contains("unknown resource"), "{rejected:?}");
    assert!(rejected[4].1.contains("days ago"), "{rejected:?}");
    let stored = app
        .scalar(&format!(
            "SELECT CAST(SUM(value_milli) AS TEXT) || ' ' || CAST(COUNT(*) AS TEXT) FROM usage_samples \
             WHERE project_id = {project_id}"
        ))
        .await;
    assert_eq!(stored.as_deref(), Some("4750 2"), "values are kept in thousandths");
    let hour = app
        .scalar(
            "SELECT CAST(samples AS TEXT) || ' ' || CAST(total_milli AS TEXT) FROM usage_hours WHERE resource = 'cpu'",
        )
        .await;
    assert_eq!(hour.as_deref(), Some("1 1500"));

    // Sent again (a collector retrying after a lost answer): nothing counts twice.
    let (status, report) = push(&app, Some(&token), &batch).await;
    assert_eq!(status, 200);
    assert_eq!((report["accepted"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(3)), "{report}");
    let hour = app.scalar("SELECT CAST(samples AS TEXT) FROM usage_hours WHERE resource = 'cpu'").await;
    assert_eq!(hour.as_deref(), Some("1"));

    // A body that is not a batch, and one too large.
    let (status, body) = push(&app, Some(&token), &json!({ "sample": [] })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not a batch"), "{body}");
    let many: Vec<Value> =
        (0..5_001).map(|minute| sample("climate", "cpu", 1.0, at - chrono::Duration::minutes(minute))).collect();
    let (status, body) = push(&app, Some(&token), &json!({ "samples": many })).await;
    assert_eq!(status, 413, "{body}");

    // A large batch goes in whole (in several statements) and adds to each of the twenty-odd hours it covers.
    let large: Vec<Value> =
        (1..=1_200).map(|minute| sample("climate", "cpu", 1.0, at - chrono::Duration::minutes(minute))).collect();
    let (status, report) = push(&app, Some(&token), &json!({ "samples": large.clone() })).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1_200)), "{report}");
    let hours = app
        .scalar(
            "SELECT CAST(SUM(samples) AS TEXT) || ' ' || CAST(SUM(total_milli) AS TEXT) || ' ' || \
             CAST(COUNT(*) AS TEXT) FROM usage_hours WHERE resource = 'cpu'",
        )
        .await;
    let spanned = (at - chrono::Duration::minutes(1_200)).duration_trunc(chrono::Duration::hours(1)).unwrap();
    let hour_count = (at.duration_trunc(chrono::Duration::hours(1)).unwrap() - spanned).num_hours() + 1;
    assert_eq!(hours, Some(format!("1201 {} {hour_count}", 1500 + 1_200 * 1000)));
    let (status, report) = push(&app, Some(&token), &json!({ "samples": large })).await;
    assert_eq!((status, report["duplicates"].as_u64()), (200, Some(1_200)), "{report}");

    // The admins' page lists it; revoked, its token stops working.
    let (status, body) = call(&boss, "admin_collectors", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("cluster A federation") && body.contains("last_used_at"), "{body}");
    let (status, _) = call(&ada, "admin_collectors", &[]).await;
    assert_eq!(status, 403);
    let id = app.scalar("SELECT CAST(id AS TEXT) FROM usage_collectors").await.unwrap();
    let (status, _) = call(&ada, "admin_collector_revoke", &[("id", &id)]).await;
    assert_eq!(status, 403);
    let (status, body) = call(&boss, "admin_collector_revoke", &[("id", &id)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(&boss, "admin_collector_revoke", &[("id", &id)]).await;
    assert_eq!(status, 404, "revoked already");
    let (status, _) = push(&app, Some(&token), &batch).await;
    assert_eq!(status, 401, "a revoked token is refused");
    assert_eq!(count(&app, "audit_log WHERE action IN ('collector.create', 'collector.revoke')").await, 2);
}

async fn the_rollup_charges_each_hour_once_fills_gaps_and_corrects_late_samples(backend: Backend) {
    let (app, project_id, _ada, boss) = project(backend).await;
    rollups_done(&app).await;
    let billing = billing_of(&app).await;
    // Four cores from T0; eight from half past T0 + 3 h.
    let t0 = hours_ago(8);
    let hour = |n: i64| t0 + chrono::Duration::hours(n);
    reservations(&app, project_id, &[(t0, 4), (hour(3) + chrono::Duration::minutes(30), 8)]).await;

    let report = billing.rollup(hour(2)).await.unwrap();
    assert_eq!((report.hours, report.charges, report.corrections), (3, 9, 0), "{report:?}");
    // 4 cores × 1.05, 16 GiB × 1.6, 100 GiB at 3.6 per TiB (0.3515625 → 0.352) each hour; no usage known.
    assert_eq!(ledger(&app, "cpu", hour(0)).await, ["charge 4200 -"]);
    assert_eq!(ledger(&app, "memory", hour(1)).await, ["charge 25600 -"]);
    assert_eq!(ledger(&app, "storage", hour(2)).await, ["charge 352 -"]);
    assert!(ledger(&app, "cpu", hour(3)).await.is_empty(), "not yet rolled up");

    // Run again: nothing new.
    let again = billing.rollup(hour(2)).await.unwrap();
    assert_eq!(again, app::billing::ssr::RollupReport::default());
    assert_eq!(count(&app, "billing_ledger").await, 9);

    // Late usage for hour 1 (6 cores, above the 4 reserved), and usage for hour 5 before it is rolled up.
    let token = collector(&boss, "collector").await;
    let (status, report) = push(
        &app,
        Some(&token),
        &json!({ "samples": [
            sample("climate", "cpu", 6.0, hour(1) + chrono::Duration::minutes(5)),
            sample("climate", "memory", 20.0, hour(5) + chrono::Duration::minutes(5)),
        ]}),
    )
    .await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(2)), "{report}");

    // After downtime the next run fills hours 3 to 5 and corrects hour 1 with the difference, never an edit.
    let report = billing.rollup(hour(5)).await.unwrap();
    assert_eq!((report.hours, report.charges, report.corrections), (3, 9, 1), "{report:?}");
    assert_eq!(ledger(&app, "cpu", hour(1)).await, ["charge 4200 -", "correction 2100 6000"]);
    // The quota went up to 8 cores within hour 3: the hour is charged the most reserved in it.
    assert_eq!(ledger(&app, "cpu", hour(3)).await, ["charge 8400 -"]);
    assert_eq!(ledger(&app, "cpu", hour(4)).await, ["charge 8400 -"]);
    assert_eq!(ledger(&app, "memory", hour(5)).await, ["charge 32000 20000"], "20 GiB used of 16 reserved");

    // Once corrected, a run writes nothing; a second sample in hour 1 brings its mean to 4 cores, and the
    // correction takes back what was added.
    assert_eq!(billing.rollup(hour(5)).await.unwrap(), app::billing::ssr::RollupReport::default());
    let (status, _) = push(
        &app,
        Some(&token),
        &json!({ "samples": [sample("climate", "cpu", 2.0, hour(1) + chrono::Duration::minutes(35))] }),
    )
    .await;
    assert_eq!(status, 200);
    let report = billing.rollup(hour(5)).await.unwrap();
    assert_eq!((report.hours, report.corrections), (0, 1), "{report:?}");
    assert_eq!(ledger(&app, "cpu", hour(1)).await, ["charge 4200 -", "correction 2100 6000", "correction -2100 4000"]);
    let total = app.scalar("SELECT CAST(SUM(amount_mbu) AS TEXT) FROM billing_ledger").await;
    // Hours 0–2 at 30.152; hours 3–5 with 8 cores (4.2 more); hour 5's memory at 32 instead of 25.6.
    let expected = 3 * 30_152 + 3 * (30_152 + 4200) + (32_000 - 25_600);
    assert_eq!(total, Some(expected.to_string()));
    months_match_the_ledger(&app, backend).await;
}

/// `billing_months` holds exactly the ledger's sums per project, account and month.
async fn months_match_the_ledger(app: &TestApp, backend: Backend) {
    let month = match backend {
        Backend::Sqlite => "substr(hour, 1, 7)",
        Backend::Postgres => "to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM')",
    };
    let groups = format!(
        "(SELECT project_id, COALESCE(account_id, 0) AS account_id, {month} AS month, SUM(amount_mbu) AS amount \
         FROM billing_ledger GROUP BY project_id, COALESCE(account_id, 0), {month}) sums"
    );
    let unmatched = count(
        app,
        &format!(
            "{groups} WHERE NOT EXISTS (SELECT 1 FROM billing_months m WHERE m.project_id = sums.project_id \
             AND m.account_id = sums.account_id AND m.month = sums.month AND m.amount_mbu = sums.amount)"
        ),
    )
    .await;
    assert_eq!(unmatched, 0, "every ledger sum has its month row");
    assert_eq!(count(app, "billing_months").await, count(app, &groups).await, "and no other rows");
}

async fn the_rollup_job_runs_once_per_hour_and_the_project_page_shows_the_cost(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    rollups_done(&app).await;
    let store = app.db.open().await;
    // The project's quota: 2 cores, 16 GiB memory, 100 GiB storage (28.052 BU an hour).
    reservations(&app, project_id, &[(hours_ago(3), 2)]).await;
    let token = collector(&boss, "collector").await;
    let (status, _) = push(
        &app,
        Some(&token),
        &json!({ "samples": [sample("climate", "cpu", 1.0, hours_ago(2) + chrono::Duration::minutes(1))] }),
    )
    .await;
    assert_eq!(status, 200);

    // Queued once per hour whichever process asks; the app's runner writes the ledger up to that hour.
    assert!(app::billing::ssr::BillingStore::schedule_rollup(store.as_ref(), hours_ago(2)).await.unwrap());
    assert!(!app::billing::ssr::BillingStore::schedule_rollup(store.as_ref(), hours_ago(2)).await.unwrap());
    rollups_done(&app).await;
    assert_eq!(ledger(&app, "cpu", hours_ago(3)).await, ["charge 2100 -"]);
    assert_eq!(ledger(&app, "cpu", hours_ago(2)).await, ["charge 2100 1000"], "usage below the request");
    assert!(ledger(&app, "cpu", hours_ago(1)).await.is_empty());

    // The project page's figures: its members and admins only.
    let (status, body) = call(&ada, "project_billing", &[("name", "climate")]).await;
    assert_eq!(status, 200, "{body}");
    let billing: Value = serde_json::from_str(&body).unwrap();
    let months = [billing["this_month"].as_str().unwrap(), billing["last_month"].as_str().unwrap()];
    if hours_ago(3).format("%Y-%m").to_string() == Utc::now().format("%Y-%m").to_string() {
        assert_eq!(months, ["56.104 BU", "0 BU"], "{billing}");
    }
    assert!(billing["reserved"].as_str().unwrap().starts_with("28.052 BU per hour"), "{billing}");
    let chart = billing["months"].as_array().unwrap();
    assert_eq!(chart.len(), 12, "twelve months");
    assert_eq!(chart[11][0], Utc::now().format("%b %Y").to_string(), "ending with this one");
    assert_eq!(billing["usage"][0]["used"], "1 cores", "{billing}");
    assert_eq!(billing["usage"][0]["percent"], 50);
    assert_eq!(billing["usage"][1]["used"], Value::Null, "no memory usage known");
    let (status, _) = call(&boss, "project_billing", &[("name", "climate")]).await;
    assert_eq!(status, 200);
    let stranger = app.browser();
    app.sign_in(&stranger, "eve@example.org").await;
    let (status, _) = call(&stranger, "project_billing", &[("name", "climate")]).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app.browser(), "project_billing", &[("name", "climate")]).await;
    assert_eq!(status, 401);

    // And the page itself, rendered on the server.
    let page = ada.page("/projects/climate").await;
    assert!(page.contains("Usage and cost") && page.contains("28.052 BU per hour"), "the cost section is shown");
}

/// An admin's (or anyone's) grant of `amount` BU to the account.
async fn grant(browser: &crate::helpers::Browser, account_id: &str, amount: &str, reason: &str) -> (u16, String) {
    call(browser, "billing_grant", &[("account_id", account_id), ("amount", amount), ("reason", reason)]).await
}

/// The mails to `to` whose subject mentions `text`.
fn mails_about(app: &TestApp, to: &str, text: &str) -> usize {
    app.mail_files().iter().filter(|mail| mail.contains(&format!("To: {to}")) && mail.contains(text)).count()
}

async fn accounts_hold_granted_bu_and_tell_their_owner_at_80_and_100_percent_once_per_grant(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    rollups_done(&app).await;
    // The application asked for a new account: approving it opened one for the applicant, named after the project.
    let account = app
        .scalar(&format!(
            "SELECT CAST(a.id AS TEXT) || ' ' || a.name || ' ' || u.email FROM projects p \
             JOIN billing_accounts a ON a.id = p.billing_account_id JOIN users u ON u.id = a.owner_id \
             WHERE p.id = {project_id}"
        ))
        .await
        .unwrap();
    let account_id = account.split(' ').next().unwrap().to_owned();
    assert!(account.ends_with(" climate ada@example.org"), "{account}");

    // Admins grant, with a reason; bad amounts are refused next to the field.
    let (status, _) = grant(&ada, &account_id, "100", "More please.").await;
    assert_eq!(status, 403, "owners do not grant themselves BU");
    for bad in ["abc", "0", "-5", "1.0001"] {
        let (status, body) = grant(&boss, &account_id, bad, "x").await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("amount"), "{body}");
    }
    let (status, body) = grant(&boss, &account_id, "100", " ").await;
    assert_eq!(status, 400, "a reason is needed: {body}");
    assert_eq!(grant(&boss, "999999", "1", "x").await.0, 404);
    let (status, body) = grant(&boss, &account_id, "100", "Pilot allocation.").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(count(&app, "audit_log WHERE action = 'billing.grant'").await, 1);

    // 28.052 BU an hour: three hours use 84% of the 100 granted, four hours 112%.
    let billing = billing_of(&app).await;
    reservations(&app, project_id, &[(hours_ago(4), 2)]).await;
    let report = billing.rollup(hours_ago(2)).await.unwrap();
    assert_eq!(report.alerts, 1, "{report:?}");
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            mails_about(&app, "ada@example.org", "80% of its BU used") == 1
        ))
        .await
    );
    assert_eq!(billing.rollup(hours_ago(2)).await.unwrap().alerts, 0, "once per grant");
    let (_, body) = call(&ada, "project_billing", &[("name", "climate")]).await;
    assert!(body.contains("80% of the BU granted are used"), "the project page shows the alert: {body}");
    assert_eq!(billing.rollup(hours_ago(1)).await.unwrap().alerts, 1);
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            mails_about(&app, "ada@example.org", "all BU used") == 1
        ))
        .await
    );
    assert_eq!(billing.rollup(hours_ago(1)).await.unwrap().alerts, 0);

    // The owner's page: granted, consumed, balance and runway; a new grant arms the alerts again.
    let (status, body) = call(&ada, "billing_accounts", &[]).await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let summary = &page["accounts"][0]["summary"];
    assert_eq!(
        (summary["granted"].as_str(), summary["consumed"].as_str()),
        (Some("100 BU"), Some("112.208 BU (112%)")),
        "{page}"
    );
    assert_eq!(summary["balance"], "-12.208 BU");
    assert_eq!(summary["runway"], "The balance is used up.");
    assert_eq!(summary["alert"], "All the BU granted are used.");
    assert_eq!(page["accounts"][0]["projects"][0], "climate");
    assert_eq!(page["viewer_is_admin"], false);
    let (status, _) = grant(&boss, &account_id, "200", "Second allocation.").await;
    assert_eq!(status, 200);
    let (_, body) = call(&ada, "billing_accounts", &[]).await;
    let page: Value = serde_json::from_str(&body).unwrap();
    let summary = &page["accounts"][0]["summary"];
    assert_eq!(summary["alert"], Value::Null, "{page}");
    // 187.792 BU left at 112.208 a week (16.029 a day): 11 days.
    assert_eq!(summary["runway"], "At the last week's rate the balance lasts 11 days.", "{page}");
    assert_eq!(page["accounts"][0]["grants"][0]["reason"], "Second allocation.");

    // Others see none of it; admins see every account, and the page renders without JavaScript.
    let eve = app.browser();
    app.sign_in(&eve, "eve@example.org").await;
    let (status, body) = call(&eve, "billing_accounts", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"accounts\":[]"), "{body}");
    let (status, body) = call(&boss, "billing_accounts", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Pilot allocation.") && body.contains("\"viewer_is_admin\":true"), "{body}");
    assert_eq!(call(&app.browser(), "billing_accounts", &[]).await.0, 401);
    let page = boss.page("/billing").await;
    assert!(
        page.contains("Billing accounts") && page.contains("Second allocation.") && page.contains("Grant"),
        "{page}"
    );

    // The admins' consumption of every project, sortable, with the rate history and a CSV download.
    let month = hours_ago(1).format("%Y-%m").to_string();
    assert_eq!(call(&ada, "billing_consumption", &[("month", &month), ("sort", "bu")]).await.0, 403);
    let (status, body) = call(&boss, "billing_consumption", &[("month", &month), ("sort", "name")]).await;
    assert_eq!(status, 200, "{body}");
    let consumption: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(consumption["rows"][0][0], "climate", "{consumption}");
    assert_eq!(consumption["rates"][0], json!(["2026-01-01", "1.05 BU", "1.6 BU", "3.6 BU"]));
    assert_eq!(call(&boss, "billing_consumption", &[("month", "May"), ("sort", "")]).await.0, 400);
    let csv = boss.get(&format!("/billing/consumption.csv?month={month}")).await;
    assert_eq!(csv.status(), 200);
    assert!(csv.text().await.unwrap().starts_with(&format!("month,project,account,bu\n{month},climate,climate,")));
    assert_eq!(ada.get("/billing/consumption.csv").await.status(), 403);
    let page = boss.page(&format!("/billing?month={month}&sort=name")).await;
    assert!(page.contains("Consumption in") && page.contains("Sort by BU"), "{page}");
}

async fn only_an_accounts_owner_puts_projects_and_applications_on_it(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    let eve = app.browser();
    app.sign_in(&eve, "eve@example.org").await;
    for (name, owner) in [("lab", "ada@example.org"), ("eves", "eve@example.org")] {
        app.execute(&format!(
            "INSERT INTO billing_accounts (name, owner_id, created_at) SELECT '{name}', id, '2026-12-01T00:00:00+00:00' \
             FROM users WHERE email = '{owner}'"
        ))
        .await;
    }
    let id_of = |name: &'static str| {
        let app = &app;
        async move {
            app.scalar(&format!("SELECT CAST(id AS TEXT) FROM billing_accounts WHERE name = '{name}'")).await.unwrap()
        }
    };
    let (lab, eves) = (id_of("lab").await, id_of("eves").await);

    // The owner moves a project they manage onto their account; nobody moves it onto someone else's.
    let (status, _) = call(&eve, "billing_attach", &[("account_id", &eves), ("project", "climate")]).await;
    assert_eq!(status, 400, "eve does not manage climate");
    let (status, _) = call(&ada, "billing_attach", &[("account_id", &eves), ("project", "climate")]).await;
    assert_eq!(status, 404, "not ada's account");
    let (status, body) = call(&ada, "billing_attach", &[("account_id", &lab), ("project", "climate")]).await;
    assert_eq!(status, 200, "{body}");
    let now_on =
        app.scalar(&format!("SELECT CAST(billing_account_id AS TEXT) FROM projects WHERE id = {project_id}")).await;
    assert_eq!(now_on, Some(lab.clone()));
    assert_eq!(count(&app, "audit_log WHERE action = 'project.billing_account'").await, 1);
    let (_, body) = call(&ada, "project", &[("name", "climate")]).await;
    assert!(body.contains("now draws on the billing account lab"), "the project's history says so");
    let _ = boss;

    // The application form lists the applicant's own accounts, and refuses anyone else's.
    let (status, body) = call(&ada, "application_new", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"lab\"") && !body.contains("\"eves\""), "{body}");
    let mut fields = crate::applications::form("key-billing-1", "save", "ml-lab", "Lab", ["4", "16", "100", "50", "0"]);
    fields.retain(|(field, _)| *field != "form[billing]");
    let mut theirs = fields.clone();
    theirs.push(("form[billing]", eves.as_str()));
    let (status, body) = call(&ada, "application_save", &theirs).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("billing"), "{body}");
    let mut own = fields.clone();
    own.push(("form[billing]", lab.as_str()));
    let (status, body) = call(&ada, "application_save", &own).await;
    assert_eq!(status, 200, "{body}");
    let chosen =
        app.scalar("SELECT CAST(billing_account_id AS TEXT) FROM applications WHERE project_name = 'ml-lab'").await;
    assert_eq!(chosen, Some(lab.clone()));

    // The cost preview, rendered on the server: the standard quota on a new form; without JavaScript, what was sent
    // (8 cores, on the empty account "lab") once the form comes back with its errors.
    let page = ada.page("/applications/new").await;
    assert!(page.contains("rates this quota costs 30.152 BU per hour, 22010.641 BU per month."), "{page}");
    let mut refused = crate::applications::form("key-billing-2", "submit", "ml-two", "", ["8", "16", "100", "50", "0"]);
    refused.retain(|(field, _)| *field != "form[billing]");
    refused.push(("form[billing]", lab.as_str()));
    let back = ada.submit("/applications/new", "/api/application_save", &refused).await;
    let target = crate::helpers::location(&back);
    let page = ada.page(target.strip_prefix(&app.address).unwrap_or(&target)).await;
    assert!(page.contains("34.352 BU per hour") && page.contains("balance lasts about 0 days"), "{page}");
}

async fn monthly_statements_add_up_the_ledger_per_resource_as_a_page_and_as_csv(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    rollups_done(&app).await;
    // Two hours in the middle of last month: the first with 3 cores used of 2 reserved, the second with no usage
    // known.
    let this_month = app::billing::ssr::hour_of(Utc::now());
    let first_of_this = this_month.date_naive().with_day0(0).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let last_month = (first_of_this - chrono::Duration::days(15)).date_naive().with_day0(0).unwrap();
    let start = last_month.and_hms_opt(0, 0, 0).unwrap().and_utc() + chrono::Duration::days(14);
    reservations(&app, project_id, &[(start, 2), (start + chrono::Duration::hours(2), 0)]).await;
    let hours = [start, start + chrono::Duration::hours(1)];
    app.execute(&format!(
        "INSERT INTO usage_hours (project_id, resource, hour, samples, total_milli) VALUES ({project_id}, 'cpu', '{}', 2, 6000)",
        hours[0].to_rfc3339()
    ))
    .await;
    let billing = billing_of(&app).await;
    // The rollup at startup found nothing to do; this one starts at last month's hours.
    app.execute("DELETE FROM billing_rollups").await;
    billing.rollup(hours[1]).await.unwrap();
    let month = last_month.format("%Y-%m").to_string();

    // 3 cores × 1.05 + 2 × 1.05 for CPU; 2 × 16 × 1.6 memory; 2 × 0.352 storage.
    let (status, body) = call(&ada, "billing_statement", &[("project", "climate"), ("month", &month)]).await;
    assert_eq!(status, 200, "{body}");
    let statement: Value = serde_json::from_str(&body).unwrap();
    let lines = statement["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{statement}");
    assert_eq!(
        (
            &lines[0]["resource"],
            &lines[0]["hours"],
            &lines[0]["average_request"],
            &lines[0]["average_usage"],
            &lines[0]["amount"]
        ),
        (&json!("CPU"), &json!(2), &json!("2 cores"), &json!("3 cores"), &json!("5.25 BU")),
        "{statement}"
    );
    assert_eq!(lines[1]["amount"], "51.2 BU");
    assert_eq!(lines[1]["average_usage"], "not known");
    assert_eq!(lines[2]["amount"], "0.704 BU");
    assert_eq!(statement["total"], "57.154 BU");

    // The CSV download: the same lines, numbers without units, a total row.
    let csv = ada.get(&format!("/billing/statement.csv?project=climate&month={month}")).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"].to_str().unwrap().contains(&format!("berth-project-climate-{month}.csv"))
    );
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "month,project,resource,unit,hours,average_request,average_usage,bu");
    assert_eq!(rows[1], format!("{month},climate,cpu,cores,2,2,3,5.25"));
    assert_eq!(rows[4], format!("{month},,total,,,,,57.154"));

    // The account's statement has the same lines; the page renders on the server.
    let account = app
        .scalar(&format!("SELECT CAST(billing_account_id AS TEXT) FROM projects WHERE id = {project_id}"))
        .await
        .unwrap();
    let (status, body) = call(&ada, "billing_statement", &[("account", &account), ("month", &month)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("57.154 BU") && body.contains("Billing account climate"), "{body}");
    let page = ada.page(&format!("/billing/statement?project=climate&month={month}")).await;
    assert!(page.contains("statement for") && page.contains("57.154 BU") && page.contains("Download as CSV"), "{page}");

    // Others: 404; a bad month: 400; anonymous: 401.
    let eve = app.browser();
    app.sign_in(&eve, "eve@example.org").await;
    assert_eq!(call(&eve, "billing_statement", &[("project", "climate"), ("month", &month)]).await.0, 404);
    assert_eq!(call(&eve, "billing_statement", &[("account", &account), ("month", &month)]).await.0, 404);
    assert_eq!(eve.get(&format!("/billing/statement.csv?project=climate&month={month}")).await.status(), 404);
    assert_eq!(call(&boss, "billing_statement", &[("account", &account), ("month", &month)]).await.0, 200);
    let (status, body) = call(&ada, "billing_statement", &[("project", "climate"), ("month", "2026-13")]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(ada.get("/billing/statement.csv?project=climate&month=soon").await.status(), 400);
    assert_eq!(app.get(&format!("/billing/statement.csv?project=climate&month={month}")).await.status(), 401);
}

async fn when_asked_berth_suspends_the_projects_of_an_account_whose_bu_ran_out(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    rollups_done(&app).await;
    let account = app
        .scalar(&format!("SELECT CAST(billing_account_id AS TEXT) FROM projects WHERE id = {project_id}"))
        .await
        .unwrap();
    assert_eq!(grant(&boss, &account, "100", "A small pilot.").await.0, 200);
    reservations(&app, project_id, &[(hours_ago(4), 2)]).await;
    // One hour: 28.052 of 100, no alert.
    assert_eq!(billing_of(&app).await.rollup(hours_ago(4)).await.unwrap().alerts, 0);
    let settings = app::billing::ssr::BillingSettings { suspend_when_spent: true, ..Default::default() };
    let billing = billing_with(&app, settings).await;
    // Three more hours: 112.208 of 100.
    assert_eq!(billing.rollup(hours_ago(1)).await.unwrap().alerts, 1);
    let state =
        app.scalar(&format!("SELECT state || ': ' || suspend_reason FROM projects WHERE id = {project_id}")).await;
    assert_eq!(state.as_deref(), Some("suspended: its billing account climate has used all the BU granted to it"));
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            mails_about(&app, "ada@example.org", "Your project climate is suspended") == 1
        ))
        .await
    );
    assert_eq!(count(&app, "audit_log WHERE action = 'project.suspend' AND actor = 'system'").await, 1);
    let _ = ada;
}

/// The cost preview paragraph's attributes after its id, as the server renders them.
const PREVIEW_ATTRIBUTES: &str = "aria-live=\"polite\" class=\"cost-preview\"";

async fn the_quota_change_form_previews_the_cost_and_a_waiting_change_shows_it(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    rollups_done(&app).await;
    let account_id = app
        .scalar(&format!("SELECT CAST(billing_account_id AS TEXT) FROM projects WHERE id = {project_id}"))
        .await
        .unwrap();
    assert_eq!(grant(&boss, &account_id, "10000", "Pilot allocation.").await.0, 200);

    // The form opens on the project's quota (2 cores, 16 GiB, 100 GiB): 28.052 BU an hour, 673.248 a day, so
    // 10,000 BU last 14 days.
    let page = ada.page("/projects/climate").await;
    let preview = "At today's rates this quota costs 28.052 BU per hour, 20477.641 BU per month. \
                   The account's balance lasts about 14 days at that.";
    assert!(page.contains(&format!("id=\"quota-cost-preview\" {PREVIEW_ATTRIBUTES}>{preview}")), "{page}");

    // Without JavaScript the form posts and the page comes back; the waiting change shows what it would cost.
    let asked = [
        ("name", "climate"),
        ("cpu_cores", "20"),
        ("memory_gib", "16"),
        ("storage_gib", "100"),
        ("pods", "50"),
        ("gpus", "0"),
        ("reason", "A big run."),
    ];
    let back = ada.submit("/projects/climate", "/api/project_request_quota", &asked).await;
    // Back to the page, with no error in the query.
    let target = crate::helpers::location(&back);
    assert!(target.trim_end_matches('?').ends_with("/projects/climate"), "{target}");
    let request_id = app
        .scalar(&format!("SELECT CAST(MAX(id) AS TEXT) FROM project_requests WHERE project_id = {project_id}"))
        .await
        .unwrap();
    let page = ada.page("/projects/climate").await;
    // 20 cores: 21 + 25.6 + 0.352 = 46.952 BU an hour, 1126.848 a day: 8 days.
    let waiting = "At today's rates this quota costs 46.952 BU per hour, 34274.641 BU per month. \
                   The account's balance lasts about 8 days at that.";
    assert!(page.contains(&format!("id=\"request-{request_id}-cost\" {PREVIEW_ATTRIBUTES}>{waiting}")), "{page}");
    // An admin sees it too, beside the decision; someone else sees nothing of the project.
    assert!(boss.page("/projects/climate").await.contains(waiting));
    let stranger = app.browser();
    app.sign_in(&stranger, "eve@example.org").await;
    assert!(!stranger.get("/projects/climate").await.text().await.unwrap().contains("46.952"));
}
