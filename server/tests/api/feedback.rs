//! Feedback: a user reports a problem from a page and sees the admins' reply, which is also mailed; a report becomes
//! a known issue with one action; input checks, the per-user limit and who may do what.

use std::time::Duration;

use crate::applications::call;
use crate::helpers::{Backend, Browser, TestApp, TestOptions, eventually, without_markers};
use crate::on_both_backends;

on_both_backends!(
    a_user_reports_a_problem_and_sees_the_reply_which_is_mailed,
    a_report_becomes_a_known_issue_with_one_action,
    feedback_is_checked_limited_per_user_and_triaged_by_admins_only,
);

async fn app_with_admin(backend: Backend) -> (TestApp, Browser, Browser) {
    let app = TestApp::spawn_with(
        backend,
        TestOptions { admin_emails: vec!["triage@example.org".into()], ..Default::default() },
    )
    .await;
    let admin = app.browser();
    app.sign_in(&admin, "triage@example.org").await;
    let user = app.browser();
    app.sign_in(&user, "reporter@example.org").await;
    (app, admin, user)
}

async fn send(user: &Browser, kind: &str, body: &str, page: &str, component: &str) -> (u16, String) {
    call(
        user,
        "feedback_send",
        &[("form[kind]", kind), ("form[body]", body), ("form[page]", page), ("form[component]", component)],
    )
    .await
}

async fn a_user_reports_a_problem_and_sees_the_reply_which_is_mailed(backend: Backend) {
    let (app, admin, user) = app_with_admin(backend).await;
    // The footer of any page links to the form with the page it was on.
    let home = without_markers(&user.page("/projects").await);
    assert!(home.contains("href=\"/feedback?from=/projects\""), "{home}");
    let form = without_markers(&user.page("/feedback?from=/projects").await);
    assert!(form.contains("value=\"/projects\"") && form.contains("Nothing yet."), "{form}");

    let registry = app.scalar("SELECT CAST(id AS TEXT) FROM status_components WHERE name = 'Image registry'").await;
    let (status, body) =
        send(&user, "problem", "Pushing <big> images fails\nAfter 60 s.", "/projects", &registry.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let mine = without_markers(&user.page("/feedback").await);
    assert!(mine.contains("Pushing &lt;big&gt; images fails") && mine.contains("Component: Image registry."), "{mine}");
    assert!(mine.contains(">New<"), "{mine}");

    let queue = without_markers(&admin.page("/admin/feedback?status=new").await);
    assert!(queue.contains("Pushing &lt;big&gt; images fails") && queue.contains("Turn into a known issue"), "{queue}");
    let id = app.scalar("SELECT CAST(id AS TEXT) FROM feedback").await.unwrap();
    let mails_before = app.mail_files().len();
    let triage = |reply: &'static str| {
        let id = id.clone();
        let admin = &admin;
        async move {
            call(
                admin,
                "admin_feedback_triage",
                &[("form[id]", &id), ("form[status]", "planned"), ("form[reply]", reply)],
            )
            .await
        }
    };
    let (status, body) = triage("We will raise the limit next week.").await;
    assert_eq!(status, 200, "{body}");
    let mine = without_markers(&user.page("/feedback").await);
    assert!(mine.contains(">Planned<") && mine.contains("We will raise the limit next week."), "{mine}");
    let mailed = eventually(Duration::from_secs(10), || {
        let files = app.mail_files();
        std::future::ready(files.iter().any(|mail| {
            mail.contains("To: reporter@example.org")
                && mail.contains("Reply to your problem report")
                && mail.contains("We will raise the limit next week.")
        }))
    })
    .await;
    assert!(mailed, "the reply is mailed: {:?}", app.mail_files());
    // The same reply again (a state change only) is not mailed twice.
    let (status, _) = triage("We will raise the limit next week.").await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mail_files().len(), mails_before + 1);
    let audited = app.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action LIKE 'feedback.%'").await;
    assert_eq!(audited.as_deref(), Some("3"));
}

async fn a_report_becomes_a_known_issue_with_one_action(backend: Backend) {
    let (app, admin, user) = app_with_admin(backend).await;
    let storage = app.scalar("SELECT CAST(id AS TEXT) FROM status_components WHERE name = 'Storage'").await.unwrap();
    let (status, body) =
        send(&user, "problem", "Volumes attach slowly\nIt takes five minutes to mount.", "/status", &storage).await;
    assert_eq!(status, 200, "{body}");
    let id = app.scalar("SELECT CAST(id AS TEXT) FROM feedback").await.unwrap();
    let (status, body) = call(&admin, "admin_feedback_to_issue", &[("id", &id)]).await;
    assert_eq!(status, 200, "{body}");
    let issue = app.scalar("SELECT CAST(known_issue_id AS TEXT) FROM feedback").await.expect("linked");
    assert_eq!(app.scalar("SELECT status FROM feedback").await.as_deref(), Some("acknowledged"));
    let page = without_markers(&app.get("/status").await.text().await.unwrap());
    assert!(page.contains(&format!("id=\"issue-{issue}\"")) && page.contains("Volumes attach slowly"), "{page}");
    assert!(page.contains("<dt>Affects</dt><dd>Storage</dd>"), "{page}");
    let summary = app.scalar("SELECT summary FROM status_revisions ORDER BY revision DESC LIMIT 1").await.unwrap();
    assert_eq!(summary, "Known issue “Volumes attach slowly” added");
    // Once only.
    let (status, body) = call(&admin, "admin_feedback_to_issue", &[("id", &id)]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(&format!("known issue #{issue} already")), "{body}");
    let queue = without_markers(&admin.page("/admin/feedback").await);
    assert!(queue.contains(&format!("href=\"/status#issue-{issue}\"")), "{queue}");
}

async fn feedback_is_checked_limited_per_user_and_triaged_by_admins_only(backend: Backend) {
    let (app, admin, user) = app_with_admin(backend).await;
    let (status, body) = send(&user, "praise", "  ", "/", "999999").await;
    assert_eq!(status, 400, "{body}");
    for field in ["\"kind\"", "\"body\"", "\"component\""] {
        assert!(body.contains(field), "{field} in {body}");
    }
    // Five an hour; the sixth is refused with when to try again.
    for n in 0..5 {
        let (status, body) = send(&user, "suggestion", &format!("Idea {n}"), "/", "").await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = send(&user, "suggestion", "Idea 6", "/", "").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("RateLimited"), "{body}");
    // Another user is not limited by the first.
    let other = app.browser();
    app.sign_in(&other, "other@example.org").await;
    assert_eq!(send(&other, "suggestion", "Mine", "/", "").await.0, 200);
    // Only the author sees their feedback; visitors must sign in; users do not triage.
    let theirs = without_markers(&other.page("/feedback").await);
    assert!(theirs.contains("Mine") && !theirs.contains("Idea 0"), "{theirs}");
    assert_eq!(send(&app.browser(), "problem", "Anonymous", "/", "").await.0, 401);
    let id = app.scalar("SELECT CAST(MIN(id) AS TEXT) FROM feedback").await.unwrap();
    let triage = [("form[id]", id.as_str()), ("form[status]", "done"), ("form[reply]", "")];
    assert_eq!(call(&user, "admin_feedback_triage", &triage).await.0, 403);
    assert_eq!(call(&user, "admin_feedback_to_issue", &[("id", &id)]).await.0, 403);
    assert_eq!(call(&admin, "admin_feedback_triage", &triage).await.0, 200);
    let bad = [("form[id]", id.as_str()), ("form[status]", "shelved"), ("form[reply]", "")];
    assert_eq!(call(&admin, "admin_feedback_triage", &bad).await.0, 400);
    let missing = [("form[id]", "424242"), ("form[status]", "done"), ("form[reply]", "")];
    assert_eq!(call(&admin, "admin_feedback_triage", &missing).await.0, 404);
    let done = without_markers(&admin.page("/admin/feedback?status=done").await);
    assert!(done.contains("Idea 0") && !done.contains("Idea 1"), "{done}");
}
