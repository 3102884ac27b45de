//! Editing the status page's content: each edit a revision (who, when, what changed), compared with the one before
//! and restored; edits made on an older revision refused unless their part is untouched; field checks; admins only.

use crate::applications::call;
use crate::helpers::{Backend, Browser, TestApp, TestOptions};
use crate::on_both_backends;

on_both_backends!(
    edits_are_revisions_that_can_be_compared_and_restored,
    an_edit_made_on_an_older_revision_is_refused_only_when_its_part_changed,
    content_edits_check_every_field_and_need_an_admin,
);

async fn admin_app(backend: Backend) -> (TestApp, Browser) {
    let app = TestApp::spawn_with(
        backend,
        TestOptions { admin_emails: vec!["editor@example.org".into()], ..Default::default() },
    )
    .await;
    let admin = app.browser();
    app.sign_in(&admin, "editor@example.org").await;
    (app, admin)
}

async fn scalar(app: &TestApp, sql: &str) -> String {
    app.scalar(sql).await.unwrap_or_else(|| panic!("no row for {sql}"))
}

async fn save_issue(
    admin: &Browser,
    base: &str,
    id: &str,
    title: &str,
    status: &str,
    components: &[&str],
) -> (u16, String) {
    let keys: Vec<String> = components.iter().map(|id| format!("form[components][{id}]")).collect();
    let mut form = vec![
        ("base", base),
        ("form[id]", id),
        ("form[title]", title),
        ("form[description]", "Pushes of large images stop after 60 s."),
        ("form[status]", status),
        ("form[workaround]", "Push from inside the cluster."),
    ];
    form.extend(keys.iter().map(|key| (key.as_str(), "on")));
    call(admin, "admin_known_issue_save", &form).await
}

fn matrix_row<'a>(index: usize, indicator: &'a str, now: &'a str) -> Vec<(String, &'a str)> {
    vec![
        (format!("rows[{index}][indicator]"), indicator),
        (format!("rows[{index}][current_value]"), now),
        (format!("rows[{index}][current_state]"), "warn"),
        (format!("rows[{index}][best_value]"), "Full"),
        (format!("rows[{index}][best_state]"), "ok"),
        (format!("rows[{index}][position]"), ""),
    ]
}

async fn save_matrix(admin: &Browser, base: &str, rows: &[Vec<(String, &str)>]) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = vec![("base", base)];
    for row in rows {
        form.extend(row.iter().map(|(key, value)| (key.as_str(), *value)));
    }
    call(admin, "admin_status_matrix_save", &form).await
}

async fn edits_are_revisions_that_can_be_compared_and_restored(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    // The seeded content is revision 1.
    assert_eq!(scalar(&app, "SELECT CAST(content_revision AS TEXT) FROM status_meta").await, "1");
    let editor = admin.get("/admin/status/content").await.text().await.unwrap().replace("<!>", "");
    assert!(editor.contains("Revision 1,") && editor.contains("Berth"), "{editor}");

    let api = scalar(&app, "SELECT CAST(id AS TEXT) FROM status_components WHERE name = 'API'").await;
    let (status, body) = save_issue(&admin, "1", "0", "Registry pushes <time out>", "identified", &[&api]).await;
    assert_eq!(status, 200, "{body}");
    let id = scalar(&app, "SELECT CAST(id AS TEXT) FROM known_issues WHERE title LIKE 'Registry%'").await;
    let page = app.get("/status").await.text().await.unwrap().replace("<!>", "");
    assert!(page.contains("Registry pushes &lt;time out&gt;"), "escaped on the public page: {page}");
    assert!(page.contains(&format!("id=\"issue-{id}\"")) && page.contains("<dt>Affects</dt><dd>API</dd>"), "{page}");
    let json: serde_json::Value = app.get("/status.json").await.json().await.unwrap();
    let issue =
        json["known_issues"].as_array().unwrap().iter().find(|issue| issue["title"] == "Registry pushes <time out>");
    assert_eq!(issue.unwrap()["components"], serde_json::json!(["API"]));

    let (status, body) =
        save_matrix(&admin, "2", &[matrix_row(0, "Monitoring", "Basic"), matrix_row(1, "Backups", "Nightly")]).await;
    assert_eq!(status, 200, "{body}");
    let list = admin.get("/admin/status/revisions").await.text().await.unwrap().replace("<!>", "");
    assert!(list.contains("Known issue “Registry pushes &lt;time out&gt;” added"), "{list}");
    assert!(
        list.contains("Maturity matrix: Backups added, Monitoring added, GlusterFS storage class removed"),
        "{list}"
    );
    assert!(list.contains("editor@example.org") || list.contains("Test Person"), "the author is named: {list}");
    let diff = admin.get("/admin/status/revisions/3").await.text().await.unwrap().replace("<!>", "");
    assert!(
        diff.contains("<span class=\"diff-added\">+   Monitoring: now Basic (Caution); best feasible Full (OK)"),
        "{diff}"
    );
    assert!(diff.contains("diff-removed") && diff.contains("GlusterFS storage class"), "{diff}");
    assert!(!diff.contains("Restore revision 3"), "the latest revision is not offered for restore");
    let older = admin.get("/admin/status/revisions/1").await.text().await.unwrap().replace("<!>", "");
    assert!(older.contains("Restore revision 1"), "{older}");

    // Restoring revision 1 takes the issue and the matrix back; it is a new revision, and the issue keeps its id.
    let (status, body) = call(&admin, "admin_status_restore", &[("base", "3"), ("revision", "1")]).await;
    assert_eq!(status, 200, "{body}");
    let page = app.get("/status").await.text().await.unwrap().replace("<!>", "");
    assert!(!page.contains("Registry pushes") && page.contains("GlusterFS storage class"), "{page}");
    let summary = scalar(&app, "SELECT summary FROM status_revisions WHERE revision = 4").await;
    assert!(summary.starts_with("Restored revision 1: "), "{summary}");
    assert_eq!(scalar(&app, "SELECT CAST(restored_from AS TEXT) FROM status_revisions WHERE revision = 4").await, "1");
    let (status, body) = call(&admin, "admin_status_restore", &[("base", "4"), ("revision", "2")]).await;
    assert_eq!(status, 200, "{body}");
    let page = app.get("/status").await.text().await.unwrap().replace("<!>", "");
    assert!(page.contains(&format!("id=\"issue-{id}\"")) && page.contains("<dt>Affects</dt><dd>API</dd>"), "{page}");

    // Each edit is audited with its summary; "last updated" moves with each.
    let audited =
        scalar(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE target LIKE 'status:revision:%'").await;
    assert_eq!(audited, "4");
    let (status, _) = call(&admin, "admin_status_restore", &[("base", "5"), ("revision", "99")]).await;
    assert_eq!(status, 404);
    // Saving what is already there makes no revision.
    let (status, _) = save_issue(&admin, "5", &id, "Registry pushes <time out>", "identified", &[&api]).await;
    assert_eq!(status, 200);
    assert_eq!(scalar(&app, "SELECT CAST(MAX(revision) AS TEXT) FROM status_revisions").await, "5");
}

async fn an_edit_made_on_an_older_revision_is_refused_only_when_its_part_changed(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let summary = |stage: &'static str| [("base", "1"), ("stage", stage), ("service_level", "97% on weekdays.")];
    let (status, body) = call(&admin, "admin_status_summary_save", &summary("Production")).await;
    assert_eq!(status, 200, "{body}");
    // Another admin's form, opened on revision 1, changes another part: taken.
    let (status, body) = save_matrix(&admin, "1", &[matrix_row(0, "Monitoring", "Basic")]).await;
    assert_eq!(status, 200, "{body}");
    let issue = scalar(&app, "SELECT CAST(MIN(id) AS TEXT) FROM known_issues").await;
    let (status, body) = save_issue(&admin, "1", &issue, "Clusters deploy slowly", "monitoring", &[]).await;
    assert_eq!(status, 200, "an untouched issue edited on an older revision: {body}");
    // The same part, changed since revision 1: refused, saying by whom and what.
    let (status, body) = call(&admin, "admin_status_summary_save", &summary("Beta")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("changed after you opened the form") && body.contains("Reload the page"), "{body}");
    assert!(body.contains("revision 4"), "names the latest change: {body}");
    assert_eq!(scalar(&app, "SELECT stage FROM status_meta").await, "Production");
    let (status, _) = save_issue(&admin, "2", &issue, "Clusters deploy slowly, again", "monitoring", &[]).await;
    assert_eq!(status, 409, "the issue changed in revision 4");

    // Two admins save the same part on the same revision at once: one wins, the other is told.
    let (full, none) = ([matrix_row(0, "Monitoring", "Full")], [matrix_row(0, "Monitoring", "None")]);
    let (first, second) = tokio::join!(save_matrix(&admin, "4", &full), save_matrix(&admin, "4", &none));
    let mut codes = [first.0, second.0];
    codes.sort_unstable();
    assert_eq!(codes, [200, 409], "{first:?} {second:?}");
    assert_eq!(scalar(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM status_revisions").await, "5");
    // A revision that does not exist is no base to edit on.
    let (status, _) = save_matrix(&admin, "77", &[matrix_row(0, "Monitoring", "Basic")]).await;
    assert_eq!(status, 409);
}

async fn content_edits_check_every_field_and_need_an_admin(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let mut blank_name = matrix_row(0, "", "Basic");
    blank_name[5].1 = "first";
    let (status, body) =
        save_matrix(&admin, "1", &[blank_name, matrix_row(1, "Backups", "None"), matrix_row(2, "backups", "Some")])
            .await;
    assert_eq!(status, 400, "{body}");
    let errors: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = errors.to_string();
    assert!(text.contains("rows[0][position]") && text.contains("whole number"), "{text}");
    let (status, body) = save_matrix(
        &admin,
        "1",
        &[matrix_row(0, "", "Basic"), matrix_row(1, "Backups", "None"), matrix_row(2, "backups", "Some")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("rows[0][indicator]") && body.contains("This cannot be empty."), "{body}");
    assert!(body.contains("rows[2][indicator]") && body.contains("Another row has this name."), "{body}");
    // A row whose remove box is ticked, or left blank, is not validated.
    let mut removed = matrix_row(0, "", "Basic");
    removed.push(("rows[0][remove]".into(), "on"));
    let mut blank = matrix_row(2, "", "");
    blank[3].1 = "";
    let (status, body) = save_matrix(&admin, "1", &[removed, matrix_row(1, "Backups", "None"), blank]).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = save_issue(&admin, "2", "0", "", "fixed", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("0.title") && body.contains("0.status"), "{body}");
    let (status, body) =
        call(&admin, "admin_status_summary_save", &[("base", "2"), ("stage", ""), ("service_level", "")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"stage\"") && body.contains("service_level"), "{body}");
    let (status, _) = call(&admin, "admin_known_issue_remove", &[("base", "2"), ("id", "424242")]).await;
    assert_eq!(status, 404);

    // Users and visitors may not edit or read revisions.
    let user = app.browser();
    app.sign_in(&user, "someone@example.org").await;
    let (status, _) =
        call(&user, "admin_status_summary_save", &[("base", "2"), ("stage", "GA"), ("service_level", "x")]).await;
    assert_eq!(status, 403);
    let (status, _) = call(&user, "admin_status_revisions", &[]).await;
    assert_eq!(status, 403);
    let (status, _) = call(&app.browser(), "admin_status_restore", &[("base", "2"), ("revision", "1")]).await;
    assert_eq!(status, 401);
    assert_eq!(scalar(&app, "SELECT CAST(content_revision AS TEXT) FROM status_meta").await, "2");
}
