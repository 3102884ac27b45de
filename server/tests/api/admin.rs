//! The admin area and roles: every admin page and server function refuses anonymous visitors and plain users;
//! admins change roles and disable accounts; the audit trail is filtered and cannot be changed; `berth admin`.

use std::process::{Command, Stdio};

use crate::helpers::{Backend, Browser, TestApp, TestOptions, berth_binary, location};
use crate::on_both_backends;

on_both_backends!(
    every_admin_route_refuses_anonymous_visitors_and_plain_users,
    admins_grant_and_revoke_roles_and_disable_accounts,
    admins_cannot_lock_themselves_out,
    the_audit_view_filters_by_actor_action_and_time,
    the_audit_trail_cannot_be_changed_or_deleted,
    the_cli_grants_and_revokes_the_admin_role,
);

const ADMIN_PAGES: [&str; 3] = ["/admin", "/admin/users", "/admin/audit"];
/// Each admin server function with arguments that would be valid for an admin.
const ADMIN_FUNCTIONS: [(&str, &[(&str, &str)]); 4] = [
    ("/api/admin_users", &[]),
    ("/api/admin_set_role", &[("user_id", "1"), ("role", "user")]),
    ("/api/admin_set_disabled", &[("user_id", "1"), ("disabled", "true")]),
    ("/api/admin_audit", &[("query[actor]", ""), ("query[action]", ""), ("query[since]", ""), ("query[until]", "")]),
];

async fn admin_app(backend: Backend) -> (TestApp, Browser) {
    let app = TestApp::spawn_with(
        backend,
        TestOptions { admin_emails: vec!["boss@example.org".into()], ..Default::default() },
    )
    .await;
    let admin = app.browser();
    app.sign_in(&admin, "boss@example.org").await;
    (app, admin)
}

/// Calls a server function as the hydrated app does (asking for data, not a page).
async fn call(browser: &Browser, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser
        .client
        .post(format!("{}{path}", browser.address))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    app.scalar(&format!("SELECT id || '' FROM users WHERE email = '{email}'")).await.unwrap()
}

async fn every_admin_route_refuses_anonymous_visitors_and_plain_users(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let anonymous = app.browser();
    let user = app.browser();
    app.sign_in(&user, "plain@example.org").await;

    for page in ADMIN_PAGES {
        assert_eq!(location(&anonymous.get(page).await), "/signin", "{page} sends anonymous visitors to sign in");
        let refused = user.get(page).await;
        assert_eq!(refused.status(), 403, "{page} refuses a plain user");
        assert!(refused.text().await.unwrap().contains("You do not have permission"));
        assert_eq!(admin.get(page).await.status(), 200, "{page} serves an admin");
    }
    let boss = user_id(&app, "boss@example.org").await;
    for (path, form) in ADMIN_FUNCTIONS {
        let form: Vec<(&str, &str)> =
            form.iter().map(|&(key, value)| (key, if key == "user_id" { boss.as_str() } else { value })).collect();
        assert_eq!(call(&anonymous, path, &form).await.status(), 401, "{path} refuses anonymous callers");
        assert_eq!(call(&user, path, &form).await.status(), 403, "{path} refuses a plain user");
    }
    assert_eq!(
        app.scalar("SELECT role || CASE WHEN disabled_at IS NULL THEN '' ELSE '+disabled' END FROM users WHERE email = 'boss@example.org'").await.as_deref(),
        Some("admin"),
        "nothing the refused calls asked for happened"
    );
    assert_eq!(call(&admin, "/api/admin_users", &[]).await.status(), 200);
}

async fn admins_grant_and_revoke_roles_and_disable_accounts(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let user = app.browser();
    app.sign_in(&user, "helper@example.org").await;
    let id = user_id(&app, "helper@example.org").await;
    let users = admin.page("/admin/users").await;
    assert!(users.contains("helper@example.org") && users.contains("Make admin"), "{users}");

    // Granting works without JavaScript: the form posts and comes back to the list.
    let granted = admin.submit("/admin/users", "/api/admin_set_role", &[("user_id", &id), ("role", "admin")]).await;
    assert!(location(&granted).starts_with(&format!("{}/admin/users", app.address)), "back to the list");
    let cookie_before = user.session_cookie().unwrap();
    assert_eq!(user.get("/admin/users").await.status(), 200, "the new admin gets in at once");
    assert_ne!(user.session_cookie().unwrap(), cookie_before, "the session id changes with the privileges");

    let revoked = call(&admin, "/api/admin_set_role", &[("user_id", &id), ("role", "user")]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(user.get("/admin/users").await.status(), 403);

    let disabled = call(&admin, "/api/admin_set_disabled", &[("user_id", &id), ("disabled", "true")]).await;
    assert_eq!(disabled.status(), 200);
    assert_eq!(location(&user.get("/account").await), "/signin", "disabling ends the account's sessions");
    let again = app.browser();
    let sent = app.mail_files().len();
    again.post("/auth/email", &[("email", "helper@example.org")]).await;
    let token = app.wait_for_token(sent + 1).await;
    let refused = again.post("/auth/email/verify", &[("token", &token)]).await;
    assert!(location(&refused).contains("disabled"), "a disabled account cannot sign in");
    let attempt = app.scalar("SELECT actor FROM audit_log WHERE action = 'user.sign_in_refused'").await;
    assert_eq!(attempt.as_deref(), Some("helper@example.org"), "the refused attempt is in the audit trail");

    call(&admin, "/api/admin_set_disabled", &[("user_id", &id), ("disabled", "false")]).await;
    app.sign_in(&user, "helper@example.org").await;
    assert!(user.page("/account").await.contains("helper@example.org"), "enabled again");

    let actions = app
        .scalar(
            "SELECT COUNT(*) || '' FROM audit_log WHERE actor = 'boss@example.org' AND action IN \
             ('user.role_grant', 'user.role_revoke', 'user.disable', 'user.enable')",
        )
        .await;
    assert_eq!(actions.as_deref(), Some("4"), "each change is in the audit trail with who made it");
}

async fn admins_cannot_lock_themselves_out(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let me = user_id(&app, "boss@example.org").await;
    let refused = call(&admin, "/api/admin_set_role", &[("user_id", &me), ("role", "user")]).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("cannot change your own role"));
    let refused = call(&admin, "/api/admin_set_disabled", &[("user_id", &me), ("disabled", "true")]).await;
    assert_eq!(refused.status(), 400);
    let missing = call(&admin, "/api/admin_set_role", &[("user_id", "99999"), ("role", "admin")]).await;
    assert_eq!(missing.status(), 404);
}

async fn the_audit_view_filters_by_actor_action_and_time(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let user = app.browser();
    app.sign_in(&user, "someone@example.org").await;
    let id = user_id(&app, "someone@example.org").await;
    call(&admin, "/api/admin_set_role", &[("user_id", &id), ("role", "admin")]).await;

    let all = admin.page("/admin/audit").await;
    for action in ["user.sign_in", "user.sign_up", "user.role_grant", "sign_in_link.request"] {
        assert!(all.contains(action), "the unfiltered trail shows {action}");
    }
    let by_actor = admin.page("/admin/audit?actor=someone").await;
    assert!(by_actor.contains("someone@example.org") && !by_actor.contains("<td>boss@example.org</td>"));
    let by_action = admin.page("/admin/audit?action=user.role").await;
    assert!(by_action.contains("user.role_grant") && !by_action.contains("user.sign_in"));
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let future = admin.page(&format!("/admin/audit?since={tomorrow}")).await;
    assert!(future.contains("No entries match."));
    let current = admin.page(&format!("/admin/audit?since={today}&until={today}&action=user.role")).await;
    assert!(current.contains("user.role_grant"));
    let bad = admin.get("/admin/audit?until=soon").await;
    assert_eq!(bad.status(), 400);
    let bad = bad.text().await.unwrap();
    assert!(bad.contains(r#"id="until-error""#) && bad.contains("YYYY-MM-DD"), "the message is next to the field");
    let wildcard = admin.page("/admin/audit?actor=%25").await;
    assert!(wildcard.contains("No entries match."), "filter text is matched literally");
}

async fn the_audit_trail_cannot_be_changed_or_deleted(backend: Backend) {
    let (app, _admin) = admin_app(backend).await;
    for statement in ["UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"] {
        let refused = crate::on_test_pool!(app.db.url(), |pool| sqlx::query(statement).execute(&pool).await.err());
        let refused = refused.unwrap_or_else(|| panic!("{statement} should fail"));
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    assert_ne!(app.scalar("SELECT COUNT(*) || '' FROM audit_log").await.as_deref(), Some("0"));
}

async fn the_cli_grants_and_revokes_the_admin_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.browser();
    app.sign_in(&user, "ops@example.org").await;
    let berth = |args: &[&str]| {
        let mut command = Command::new(berth_binary());
        for (key, _) in std::env::vars() {
            if key.starts_with("BERTH_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let output = command
            .args(args)
            .env("BERTH_DATABASE_URL", app.db.url())
            .env("BERTH_MAIL_URL", format!("file:{}", app.mail_dir.display()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (code, output) = berth(&["admin", "grant", "OPS@example.org"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("ops@example.org is now an admin"), "{output}");
    assert_eq!(user.get("/admin").await.status(), 200, "the running server sees the new role");
    let (code, output) = berth(&["admin", "grant", "ops@example.org"]);
    assert_eq!(code, Some(0));
    assert!(output.contains("already an admin"), "{output}");
    let (code, output) = berth(&["admin", "revoke", "ops@example.org"]);
    assert_eq!(code, Some(0));
    assert!(output.contains("no longer an admin"), "{output}");
    assert_eq!(user.get("/admin").await.status(), 403);
    let (code, output) = berth(&["admin", "grant", "nobody@example.org"]);
    assert_eq!(code, Some(1));
    assert!(output.contains("must sign in to Berth once first"), "{output}");
    let (code, output) = berth(&["admin", "grant", "not-an-address"]);
    assert_eq!(code, Some(1));
    assert!(output.contains("is not an e-mail address"), "{output}");
    let actors = app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE actor = 'cli'").await;
    assert_eq!(actors.as_deref(), Some("2"), "the two changes are audited as made by the CLI");
}
