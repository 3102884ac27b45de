//! A project's lifecycle after approval, on SQLite and on PostgreSQL: an admin suspends it with a reason (its quota
//! on the cluster goes to zero through the provisioning job; the managers are told) and resumes it; quota change
//! requests decided by each auto-approval rule or by an admin; renewals; closing with a grace period, restoring and
//! deletion; expiry reminders and automatic suspension, with the daily sweep run at chosen times (the clock the
//! sweep reads is the time it was scheduled for).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::applications::call;
use crate::helpers::{Backend, Browser, TestApp, eventually};
use crate::members::project;
use crate::on_both_backends;

on_both_backends!(
    an_admin_suspends_a_project_with_a_reason_and_resumes_it,
    quota_changes_are_decided_by_the_first_rule_that_applies_or_by_an_admin,
    each_visitor_may_ask_and_decide_only_what_their_role_allows,
    a_closed_project_keeps_its_namespace_for_the_grace_period_and_can_be_restored_until_then,
    managers_are_reminded_before_the_end_date_and_an_expired_project_is_suspended_until_renewed,
);

/// Waits until the project's GitOps file holds `pods` as its pod quota.
async fn pods_are(app: &TestApp, pods: &str) -> bool {
    let file = app.gitops_dir.join("climate.yaml");
    eventually(Duration::from_secs(10), || {
        std::future::ready(std::fs::read_to_string(&file).is_ok_and(|text| text.contains(&format!("pods: '{pods}'"))))
    })
    .await
}

/// Waits until a mail to `to` containing `text` arrived after the first `before` files.
async fn mailed(app: &TestApp, before: usize, to: &str, text: &str) -> bool {
    eventually(Duration::from_secs(10), || {
        std::future::ready(
            app.mail_files()[before.min(app.mail_files().len())..]
                .iter()
                .any(|mail| mail.contains(&format!("To: {to}")) && mail.contains(text)),
        )
    })
    .await
}

/// The quota form's fields with `cpu` cores and `pods` pods (the rest as the standard quota), and `reason`.
fn quota_form<'a>(name: &'a str, cpu: &'a str, pods: &'a str, reason: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("cpu_cores", cpu),
        ("memory_gib", "16"),
        ("storage_gib", "100"),
        ("pods", pods),
        ("gpus", "0"),
        ("reason", reason),
    ]
}

async fn scalar(app: &TestApp, sql: &str) -> String {
    app.scalar(sql).await.unwrap_or_default()
}

/// The id of the project's newest request.
async fn newest_request(app: &TestApp, project_id: i64) -> String {
    scalar(app, &format!("SELECT CAST(MAX(id) AS TEXT) FROM project_requests WHERE project_id = {project_id}")).await
}

/// Makes `address` (signed in with a fresh browser) a `role` of the project, directly in the database.
async fn member(app: &TestApp, project_id: i64, address: &str, role: &str) -> Browser {
    let browser = app.browser();
    app.sign_in(&browser, address).await;
    app.execute(&format!(
        "INSERT INTO project_members (project_id, user_id, role, created_at) \
         SELECT {project_id}, id, '{role}', '2026-12-01T00:00:00+00:00' FROM users WHERE email = '{address}'"
    ))
    .await;
    browser
}

/// A project service over the test's database, to schedule the daily sweep at a chosen time.
async fn projects_of(app: &TestApp) -> app::projects::ssr::ProjectService {
    let store = app.db.open().await;
    let base = url::Url::parse(&app.address).unwrap();
    app::projects::ssr::ProjectService::new(
        store.clone(),
        store,
        Arc::new(server::mail::TemplateRenderer::new(&base)),
        app::projects::ssr::ProjectSettings::default(),
    )
}

/// Schedules the sweep as of `at` and waits until the app's job runner has run it.
async fn sweep(app: &TestApp, at: DateTime<Utc>) {
    let projects = projects_of(app).await;
    assert!(projects.schedule_lifecycle(at).await.unwrap(), "the sweep of {at} is queued once");
    assert!(!projects.schedule_lifecycle(at).await.unwrap(), "and only once");
    let done = eventually(Duration::from_secs(10), || async {
        app.scalar("SELECT COUNT(*) || '' FROM jobs WHERE kind = 'project_lifecycle' AND done_at IS NULL")
            .await
            .as_deref()
            == Some("0")
    })
    .await;
    assert!(done, "the sweep ran");
    let failed = app.scalar("SELECT COALESCE(MAX(last_error), '') FROM jobs WHERE kind = 'project_lifecycle'").await;
    assert_eq!(failed.as_deref(), Some(""), "the sweep of {at} failed");
}

async fn an_admin_suspends_a_project_with_a_reason_and_resumes_it(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    let file = app.gitops_dir.join("climate.yaml");
    let quota_is = |pods: &'static str| {
        let file = file.clone();
        async move {
            eventually(Duration::from_secs(10), || {
                std::future::ready(
                    std::fs::read_to_string(&file).is_ok_and(|text| text.contains(&format!("pods: '{pods}'"))),
                )
            })
            .await
        }
    };
    assert!(quota_is("50").await);

    // Only admins suspend, and only with a reason.
    let (status, _) = call(&ada, "project_suspend", &[("name", "climate"), ("reason", "Mining coins.")]).await;
    assert_eq!(status, 403, "a manager does not suspend");
    let (status, body) = call(&boss, "project_suspend", &[("name", "climate"), ("reason", "  ")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("reason"), "{body}");
    let (status, _) = call(&boss, "project_suspend", &[("name", "nothing-here"), ("reason", "x")]).await;
    assert_eq!(status, 404);

    let before = app.mail_files().len();
    let (status, body) =
        call(&boss, "project_suspend", &[("name", "climate"), ("reason", "Mining coins <b>again</b>.")]).await;
    assert_eq!(status, 200, "{body}");
    let state = app.scalar(&format!("SELECT state FROM projects WHERE id = {project_id}")).await;
    assert_eq!(state.as_deref(), Some("suspended"));
    assert!(quota_is("0").await, "the quota on the cluster goes to zero");
    let page = ada.page("/projects/climate").await;
    assert!(page.contains("An admin suspended this project: Mining coins &lt;b&gt;again&lt;/b&gt;."), "escaped reason");
    assert!(page.contains("suspended the project (quota set to zero)"), "the history has it");
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(app.mail_files()[before..].iter().any(|mail| {
            mail.contains("To: ada@example.org") && mail.contains("Your project climate is suspended")
        })))
        .await,
        "the manager is told"
    );
    let (status, body) = call(&boss, "project_suspend", &[("name", "climate"), ("reason", "Twice.")]).await;
    assert_eq!(status, 409, "{body}");

    // Resuming restores the quota.
    let (status, _) = call(&ada, "project_resume", &[("name", "climate")]).await;
    assert_eq!(status, 403);
    let (status, _) = call(&boss, "project_resume", &[("name", "climate")]).await;
    assert_eq!(status, 200);
    assert!(quota_is("50").await, "the quota is restored");
    let state = app.scalar(&format!("SELECT state FROM projects WHERE id = {project_id}")).await;
    assert_eq!(state.as_deref(), Some("active"));
    assert!(!ada.page("/projects/climate").await.contains("An admin suspended this project"));
    let (status, _) = call(&boss, "project_resume", &[("name", "climate")]).await;
    assert_eq!(status, 409, "it is not suspended");
    let audited =
        app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('project.suspend', 'project.resume')").await;
    assert_eq!(audited.as_deref(), Some("2"));
}

/// Gives the project the standard quota (the test application asks for less), as its page and the rules see it.
async fn standard_quota(app: &TestApp, project_id: i64) {
    app.execute(&format!(
        "UPDATE projects SET cpu_cores = 4, memory_gib = 16, storage_gib = 100, pods = 50, gpus = 0 WHERE id = {project_id}"
    ))
    .await;
}

async fn quota_changes_are_decided_by_the_first_rule_that_applies_or_by_an_admin(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    standard_quota(&app, project_id).await;
    assert!(pods_are(&app, "50").await);

    // Rule 1: a decrease is always approved, and applied through the provisioner at once.
    let before = app.mail_files().len();
    let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", "4", "40", "Fewer pods.")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Approved automatically by rule 1: a decrease is always approved."), "{body}");
    assert!(pods_are(&app, "40").await, "the decrease reached the cluster");
    assert!(mailed(&app, before, "ada@example.org", "Quota change approved for climate").await);
    let increased = scalar(
        &app,
        &format!("SELECT COALESCE(CAST(last_increase_at AS TEXT), 'none') FROM projects WHERE id = {project_id}"),
    )
    .await;
    assert_eq!(increased, "none", "a decrease is not an increase");

    // Rule 2: at most 50% more, with no increase in the last 30 days.
    let (status, body) =
        call(&ada, "project_request_quota", &quota_form("climate", "6", "60", "A second model.")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Approved automatically by rule 2: an increase of at most 50%"), "{body}");
    assert!(pods_are(&app, "60").await);
    assert_eq!(
        scalar(&app, &format!("SELECT CAST(cpu_cores AS TEXT) FROM projects WHERE id = {project_id}")).await,
        "6"
    );

    // Another step within 30 days: no rule applies; the request waits, and the admins are told why.
    let before = app.mail_files().len();
    let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", "8", "60", "Even more.")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No rule applied, so an admin decides"), "{body}");
    assert!(body.contains("the last increase was 0 days ago, not more than 30"), "{body}");
    assert!(mailed(&app, before, "boss@example.org", "Quota change waiting: climate").await);
    let page = ada.page("/projects/climate").await;
    assert!(page.contains("Waiting for an admin") && page.contains("CPU cores 6 → 8"), "the requester sees it wait");
    assert!(page.contains("the last increase was 0 days ago"), "and why no rule applied");
    let queue = boss.page("/admin/requests").await;
    assert!(
        queue.contains("/projects/climate#requests") && queue.contains("CPU cores 6 → 8"),
        "the admins' queue has it"
    );
    let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", "7", "60", "Again.")).await;
    assert_eq!(status, 409, "one waiting request of a kind: {body}");

    // The admin grants other values: that needs a reason, and the requester sees both.
    let id = newest_request(&app, project_id).await;
    let grant = |cpu: &'static str, reason: &'static str| {
        let (id, boss) = (id.clone(), &boss);
        async move {
            let form = [
                ("request_id", id.as_str()),
                ("cpu_cores", cpu),
                ("memory_gib", "16"),
                ("storage_gib", "100"),
                ("pods", "60"),
                ("gpus", "0"),
                ("reason", reason),
            ];
            call(boss, "project_request_approve_quota", &form).await
        }
    };
    let (status, body) = grant("7", "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Say why you grant other values"), "{body}");
    let before = app.mail_files().len();
    let (status, body) = grant("7", "Seven is what the cluster can spare.").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        scalar(&app, &format!("SELECT CAST(cpu_cores AS TEXT) FROM projects WHERE id = {project_id}")).await,
        "7"
    );
    assert!(mailed(&app, before, "ada@example.org", "the admin granted other values").await);
    let page = ada.page("/projects/climate").await;
    assert!(page.contains("Granted instead: ") && page.contains("By boss@example.org"), "both values show");
    let (status, body) = grant("7", "Twice.").await;
    assert_eq!(status, 409);
    assert!(body.contains("This request was approved already, by boss@example.org on "), "{body}");

    // More than 50%: an admin decides, and may reject with a reason; a manager may withdraw.
    let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", "20", "60", "Big run.")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("CPU cores goes from 7 to 20, more than 50% (at most 10)"), "{body}");
    let id = newest_request(&app, project_id).await;
    let (status, _) = call(&boss, "project_request_reject", &[("request_id", &id), ("reason", " ")]).await;
    assert_eq!(status, 400, "a rejection needs a reason");
    let (status, _) =
        call(&boss, "project_request_reject", &[("request_id", &id), ("reason", "Not <b>now</b>.")]).await;
    assert_eq!(status, 200);
    let page = ada.page("/projects/climate").await;
    assert!(page.contains("Decision: Not &lt;b&gt;now&lt;/b&gt;."), "the reason shows, escaped");
    let (status, _) = call(&ada, "project_request_quota", &quota_form("climate", "20", "60", "Please.")).await;
    assert_eq!(status, 200);
    let id = newest_request(&app, project_id).await;
    let (status, _) = call(&ada, "project_request_withdraw", &[("name", "climate"), ("request_id", &id)]).await;
    assert_eq!(status, 200);
    let state = scalar(&app, &format!("SELECT state FROM project_requests WHERE id = {id}")).await;
    assert_eq!(state, "withdrawn");
    let (status, _) = call(&boss, "project_request_reject", &[("request_id", &id), ("reason", "Late.")]).await;
    assert_eq!(status, 409, "a withdrawn request is decided");

    // Bad values get messages by their fields, never a 500.
    for (cpu, expected) in [
        ("-1", "Enter a whole number from 1 to 64."),
        ("many", "Enter a whole number from 1 to 64."),
        ("99999999999999999999", "Enter a whole number from 1 to 64."),
        ("65", "At most 64; ask the admins about more."),
        ("0", "At least 1."),
    ] {
        let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", cpu, "60", "x")).await;
        assert_eq!(status, 400, "{cpu}: {body}");
        assert!(body.contains(expected) && body.contains("cpu_cores"), "{cpu}: {body}");
    }
    let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", "7", "60", "Same.")).await;
    assert_eq!(status, 400, "an unchanged quota: {body}");
    let (status, body) = call(&ada, "project_request_quota", &quota_form("climate", "8", "60", "")).await;
    assert_eq!(status, 400);
    assert!(body.contains("reason"), "{body}");

    // Every change is in the project's history and the audit trail.
    let requests = scalar(&app, "SELECT COUNT(*) || '' FROM audit_log WHERE action LIKE 'project.request%'").await;
    assert_eq!(requests, "8", "5 requests (2 approved by a rule), 1 approval by an admin, 1 rejection, 1 withdrawal");
    let events = scalar(
        &app,
        &format!(
            "SELECT COUNT(*) || '' FROM project_events WHERE project_id = {project_id} AND request_id IS NOT NULL"
        ),
    )
    .await;
    assert_eq!(events, "8", "each in its request's timeline");
}

async fn each_visitor_may_ask_and_decide_only_what_their_role_allows(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    standard_quota(&app, project_id).await;
    let mia = member(&app, project_id, "mia@example.org", "member").await;
    let vic = member(&app, project_id, "vic@example.org", "viewer").await;
    let eve = app.browser();
    app.sign_in(&eve, "eve@example.org").await;
    let anonymous = app.browser();
    let ask = quota_form("climate", "20", "50", "Big run.");
    let renew = [("name", "climate"), ("end_date", "2027-12-31"), ("reason", "Another year.")];
    let close = [("name", "climate"), ("confirm", "climate"), ("reason", "")];
    for (who, browser, expected) in
        [("member", &mia, 403), ("viewer", &vic, 403), ("stranger", &eve, 404), ("anonymous", &anonymous, 401)]
    {
        assert_eq!(call(browser, "project_request_quota", &ask).await.0, expected, "{who} asks for quota");
        assert_eq!(call(browser, "project_request_renewal", &renew).await.0, expected, "{who} asks for a renewal");
        assert_eq!(call(browser, "project_close", &close).await.0, expected, "{who} closes");
    }
    let (status, body) = call(&ada, "project_request_quota", &ask).await;
    assert_eq!(status, 200, "{body}");
    let quota_id = newest_request(&app, project_id).await;
    let (status, body) = call(&boss, "project_request_renewal", &renew).await;
    assert_eq!(status, 200, "an admin may ask too: {body}");
    let renewal_id = newest_request(&app, project_id).await;
    let page = vic.page("/projects/climate").await;
    assert!(page.contains("CPU cores 4 → 20") && !page.contains("Ask for another quota"), "a viewer sees, cannot ask");
    assert!(!page.contains("Close the project"), "nor close");

    let approve = [
        ("request_id", quota_id.as_str()),
        ("cpu_cores", "20"),
        ("memory_gib", "16"),
        ("storage_gib", "100"),
        ("pods", "50"),
        ("gpus", "0"),
        ("reason", ""),
    ];
    for (who, browser, expected) in [
        ("manager", &ada, 403),
        ("member", &mia, 403),
        ("viewer", &vic, 403),
        ("stranger", &eve, 403),
        ("anonymous", &anonymous, 401),
    ] {
        assert_eq!(call(browser, "project_request_approve_quota", &approve).await.0, expected, "{who} approves");
        let reject = [("request_id", renewal_id.as_str()), ("reason", "No.")];
        assert_eq!(call(browser, "project_request_reject", &reject).await.0, expected, "{who} rejects");
        assert_eq!(call(browser, "project_requests_pending", &[]).await.0, expected, "{who} lists the queue");
        assert_eq!(call(browser, "project_restore", &[("name", "climate")]).await.0, expected, "{who} restores");
        let suspend = [("name", "climate"), ("reason", "Because.")];
        assert_eq!(call(browser, "project_suspend", &suspend).await.0, expected, "{who} suspends");
        assert_eq!(call(browser, "project_resume", &[("name", "climate")]).await.0, expected, "{who} resumes");
    }
    for (who, browser, expected) in
        [("member", &mia, 403), ("viewer", &vic, 403), ("stranger", &eve, 404), ("anonymous", &anonymous, 401)]
    {
        let withdraw = [("name", "climate"), ("request_id", quota_id.as_str())];
        assert_eq!(call(browser, "project_request_withdraw", &withdraw).await.0, expected, "{who} withdraws");
    }
    let (status, body) = call(&boss, "project_requests_pending", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"kind\":\"Quota change\"") && body.contains("\"kind\":\"Renewal\""), "{body}");
    // Two admins approve at the same moment: one succeeds, the other is told it was decided already.
    let carol = app.browser();
    app.sign_in(&carol, "carol@example.org").await;
    app.execute("UPDATE users SET role = 'admin' WHERE email = 'carol@example.org'").await;
    let (first, second) = tokio::join!(
        call(&boss, "project_request_approve_quota", &approve),
        call(&carol, "project_request_approve_quota", &approve)
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{first:?} {second:?}");
    assert!([first.1, second.1].iter().any(|body| body.contains("This request was approved already, by ")));
    let approvals =
        scalar(&app, &format!("SELECT COUNT(*) || '' FROM project_events WHERE request_id = {quota_id}")).await;
    assert_eq!(approvals, "2", "asked once, approved once");
    assert!(pods_are(&app, "50").await);
    let (status, _) = call(
        &boss,
        "project_request_approve_renewal",
        &[("request_id", &renewal_id), ("end_date", "2027-12-31"), ("reason", "")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        scalar(&app, &format!("SELECT CAST(end_date AS TEXT) FROM projects WHERE id = {project_id}")).await,
        "2027-12-31"
    );
    // A request id of another kind, or that does not exist, is refused clearly.
    let (status, _) = call(
        &boss,
        "project_request_approve_renewal",
        &[("request_id", &quota_id), ("end_date", "2027-12-31"), ("reason", "")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(&boss, "project_request_reject", &[("request_id", "999999"), ("reason", "x")]).await;
    assert_eq!(status, 404);
}

async fn a_closed_project_keeps_its_namespace_for_the_grace_period_and_can_be_restored_until_then(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    assert!(pods_are(&app, "50").await);
    let (status, body) =
        call(&ada, "project_close", &[("name", "climate"), ("confirm", "climte"), ("reason", "")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Type the project's name, climate, to close it."), "{body}");
    let (status, _) = call(&ada, "project_request_quota", &quota_form("climate", "20", "50", "Pending.")).await;
    assert_eq!(status, 200);
    let before = app.mail_files().len();
    let (status, body) =
        call(&ada, "project_close", &[("name", "climate"), ("confirm", "climate"), ("reason", "The study ended.")])
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(scalar(&app, &format!("SELECT state FROM projects WHERE id = {project_id}")).await, "closed");
    assert!(pods_are(&app, "0").await, "the quota goes to zero; the namespace stays");
    assert!(mailed(&app, before, "ada@example.org", "Your project climate is closed").await);
    let pending = scalar(
        &app,
        &format!("SELECT COUNT(*) || '' FROM project_requests WHERE project_id = {project_id} AND state = 'pending'"),
    )
    .await;
    assert_eq!(pending, "0", "its waiting requests are withdrawn");
    let page = ada.page("/projects/climate").await;
    assert!(page.contains("This project was closed on ") && page.contains("The study ended."), "the page says so");
    assert!(!page.contains("Restore the project"), "only admins restore");
    let (status, _) = call(&ada, "project_close", &[("name", "climate"), ("confirm", "climate"), ("reason", "")]).await;
    assert_eq!(status, 409, "closed already");
    let (status, _) =
        call(&ada, "project_invite", &[("name", "climate"), ("email", "bob@example.org"), ("role", "member")]).await;
    assert_eq!(status, 409, "a closed project does not change");

    // An admin restores it within the grace period.
    assert!(boss.page("/projects/climate").await.contains("Restore the project"));
    let (status, body) = call(&boss, "project_restore", &[("name", "climate")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(scalar(&app, &format!("SELECT state FROM projects WHERE id = {project_id}")).await, "active");
    assert!(pods_are(&app, "50").await, "the quota is back");

    // Closed again; once the grace period is over the sweep deletes the namespace, and it cannot be restored.
    let (status, _) = call(&ada, "project_close", &[("name", "climate"), ("confirm", "climate"), ("reason", "")]).await;
    assert_eq!(status, 200);
    assert!(pods_are(&app, "0").await);
    let later = Utc::now() + chrono::Duration::days(29);
    sweep(&app, later).await;
    assert!(app.gitops_dir.join("climate.yaml").exists(), "29 days after closing: still kept");
    // The provisioning job reads the real clock: the grace period ends now, as far as both clocks go.
    app.execute(&format!("UPDATE projects SET delete_after = closed_at WHERE id = {project_id}")).await;
    sweep(&app, later + chrono::Duration::days(1)).await;
    let file = app.gitops_dir.join("climate.yaml");
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(!file.exists())).await,
        "the namespace's file is removed"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.scalar(&format!(
                "SELECT COUNT(*) || '' FROM projects WHERE id = {project_id} AND deleted_at IS NOT NULL"
            ))
            .await
            .as_deref()
                == Some("1")
        })
        .await
    );
    let (status, body) = call(&boss, "project_restore", &[("name", "climate")]).await;
    assert_eq!(status, 409, "{body}");
    assert!(ada.page("/projects/climate").await.contains("Its namespace was deleted on "));
    let audited = scalar(
        &app,
        "SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('project.close', 'project.restore', 'project.delete')",
    )
    .await;
    assert_eq!(audited, "4");
}

async fn managers_are_reminded_before_the_end_date_and_an_expired_project_is_suspended_until_renewed(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    assert!(pods_are(&app, "50").await);
    let end = Utc::now().date_naive() + chrono::Duration::days(100);
    app.execute(&format!("UPDATE projects SET end_date = '{end}' WHERE id = {project_id}")).await;
    let at = |days_before: i64| (end - chrono::Duration::days(days_before)).and_hms_opt(6, 0, 0).unwrap().and_utc();
    let reminders = |app: &TestApp| {
        app.mail_files().iter().filter(|mail| mail.contains(&format!("Your project climate ends on {end}"))).count()
    };

    sweep(&app, at(31)).await;
    assert_eq!(reminders(&app), 0, "31 days before: nothing yet");
    sweep(&app, at(30)).await;
    assert!(eventually(Duration::from_secs(10), || std::future::ready(reminders(&app) == 1)).await, "30 days before");
    sweep(&app, at(29)).await;
    sweep(&app, at(7)).await;
    assert!(eventually(Duration::from_secs(10), || std::future::ready(reminders(&app) == 2)).await, "7 days before");
    sweep(&app, at(6)).await;
    sweep(&app, at(0)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reminders(&app), 2, "each reminder once per end date");
    assert_eq!(
        scalar(&app, &format!("SELECT state FROM projects WHERE id = {project_id}")).await,
        "active",
        "the last day is inside"
    );

    // Two processes scheduling the same day: one run.
    let (first, second) = (projects_of(&app).await, projects_of(&app).await);
    let day = at(-5);
    let (a, b) = tokio::join!(first.schedule_lifecycle(day), second.schedule_lifecycle(day));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|queued| **queued).count(), 1, "exactly one process queues it");

    // The day after the end date the project is suspended, and the managers are told.
    let before = app.mail_files().len();
    sweep(&app, at(-1)).await;
    assert_eq!(scalar(&app, &format!("SELECT state FROM projects WHERE id = {project_id}")).await, "suspended");
    assert!(pods_are(&app, "0").await, "its quota goes to zero");
    assert!(mailed(&app, before, "ada@example.org", "Your project climate is suspended: its end date passed").await);
    let page = ada.page("/projects/climate").await;
    assert!(
        page.contains("Berth suspended this project: its end date") && page.contains("Ask for a later end date"),
        "{page}"
    );

    // A renewal, approved by an admin, resumes it; its reminders come again for the new date.
    let new_end = end + chrono::Duration::days(200);
    let (status, body) = call(
        &ada,
        "project_request_renewal",
        &[("name", "climate"), ("end_date", &end.to_string()), ("reason", "More.")],
    )
    .await;
    assert_eq!(status, 400, "not after the current end date: {body}");
    assert!(body.contains("Choose a date after the current end date"), "{body}");
    let (status, body) = call(
        &ada,
        "project_request_renewal",
        &[("name", "climate"), ("end_date", &new_end.to_string()), ("reason", "The study got funding.")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = newest_request(&app, project_id).await;
    let before = app.mail_files().len();
    let (status, body) = call(
        &boss,
        "project_request_approve_renewal",
        &[("request_id", &id), ("end_date", &new_end.to_string()), ("reason", "")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(scalar(&app, &format!("SELECT state FROM projects WHERE id = {project_id}")).await, "active");
    assert!(pods_are(&app, "50").await, "the quota is back");
    assert!(mailed(&app, before, "ada@example.org", &format!("it now ends on {new_end}")).await);
    let audited = scalar(
        &app,
        "SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('project.expiry_reminder', 'project.expire')",
    )
    .await;
    assert_eq!(audited, "3");
}
