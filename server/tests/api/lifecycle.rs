//! A project's lifecycle after approval, on SQLite and on PostgreSQL: an admin suspends it with a reason (its quota
//! on the cluster goes to zero through the provisioning job; the managers are told) and resumes it.

use std::time::Duration;

use crate::applications::call;
use crate::helpers::{Backend, eventually};
use crate::members::project;
use crate::on_both_backends;

on_both_backends!(an_admin_suspends_a_project_with_a_reason_and_resumes_it);

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
