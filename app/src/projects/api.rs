//! Server functions of projects: each reads the session and state, calls one service method and maps the error.

use leptos::prelude::*;

use super::members::InvitationPreview;
use super::view::{ProjectSummary, ProjectView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in};

/// The signed-in user's projects (every project for an admin).
#[server(prefix = "/api", endpoint = "projects")]
pub async fn get_projects() -> Result<Vec<ProjectSummary>, AppError> {
    let (state, auth, _) = signed_in()?;
    state.projects.list(&auth.user).await.map_err(respond_with_error)
}

/// One project, for its members and admins (404 for anyone else).
#[server(prefix = "/api", endpoint = "project")]
pub async fn get_project(name: String) -> Result<ProjectView, AppError> {
    let (state, auth, _) = signed_in()?;
    state.projects.view(&auth.user, &name).await.map_err(respond_with_error)
}

/// An admin queues the project's provisioning again.
#[server(prefix = "/api", endpoint = "project_reprovision")]
pub async fn reprovision_project(name: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.reprovision(&auth.user, &name, &request).await.map_err(respond_with_error)
}

/// A manager (or an admin) invites somebody to the project by e-mail.
#[server(prefix = "/api", endpoint = "project_invite")]
pub async fn invite_member(name: String, email: String, role: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.invite(&auth.user, &name, &email, &role, &request).await.map_err(respond_with_error)
}

/// A manager sends an open invitation again, with a new link.
#[server(prefix = "/api", endpoint = "project_invitation_resend")]
pub async fn resend_invitation(name: String, invitation_id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.resend_invitation(&auth.user, &name, invitation_id, &request).await.map_err(respond_with_error)
}

/// A manager revokes an open invitation.
#[server(prefix = "/api", endpoint = "project_invitation_revoke")]
pub async fn revoke_invitation(name: String, invitation_id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.revoke_invitation(&auth.user, &name, invitation_id, &request).await.map_err(respond_with_error)
}

/// A manager gives a member another role.
#[server(prefix = "/api", endpoint = "project_member_role")]
pub async fn change_member_role(name: String, user_id: i64, role: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.change_role(&auth.user, &name, user_id, &role, &request).await.map_err(respond_with_error)
}

/// A manager removes a member, or a member leaves (their own id); leaving goes to the projects list.
#[server(prefix = "/api", endpoint = "project_member_remove")]
pub async fn remove_member(name: String, user_id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.remove_member(&auth.user, &name, user_id, &request).await.map_err(respond_with_error)?;
    if user_id == auth.user.id {
        leptos_axum::redirect("/projects");
    }
    Ok(())
}

/// What an invitation link is, for whoever opened it (signed in or not).
#[server(prefix = "/api", endpoint = "invitation")]
pub async fn get_invitation(token: String) -> Result<InvitationPreview, AppError> {
    let state = crate::ssr::app_state()?;
    let viewer = crate::ssr::authenticated().map(|auth| auth.user);
    let preview = state
        .projects
        .invitation_preview(viewer.as_ref(), &token, chrono::Utc::now())
        .await
        .map_err(respond_with_error)?;
    if viewer.is_none() && preview.status == super::members::InvitationStatus::Open {
        // The token found an invitation, so it is one of ours (base64url): safe in a path.
        crate::ssr::return_after_sign_in(&format!("/invitations/accept?token={}", token.trim())).await;
    }
    Ok(preview)
}

/// The signed-in, invited person accepts; then their new project's page is shown.
#[server(prefix = "/api", endpoint = "invitation_accept")]
pub async fn accept_invitation(token: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    let project = state.projects.accept_invitation(&auth.user, &token, &request).await.map_err(respond_with_error)?;
    leptos_axum::redirect(&format!("/projects/{project}"));
    Ok(())
}

/// An admin suspends an active project, with a reason.
#[server(prefix = "/api", endpoint = "project_suspend")]
pub async fn suspend_project(name: String, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.suspend(&auth.user, &name, &reason, &request).await.map_err(respond_with_error)
}

/// An admin resumes a suspended project.
#[server(prefix = "/api", endpoint = "project_resume")]
pub async fn resume_project(name: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.resume(&auth.user, &name, &request).await.map_err(respond_with_error)
}

/// A manager (or an admin) asks for another quota; returns the decision in words (which rule approved it, or why an
/// admin must decide).
#[server(prefix = "/api", endpoint = "project_request_quota")]
pub async fn request_quota(
    name: String,
    cpu_cores: String,
    memory_gib: String,
    storage_gib: String,
    pods: String,
    gpus: String,
    reason: String,
) -> Result<String, AppError> {
    let (state, auth, request) = signed_in()?;
    let values = [cpu_cores, memory_gib, storage_gib, pods, gpus];
    let decision = state
        .projects
        .request_quota(&auth.user, &name, &values, &reason, &request)
        .await
        .map_err(respond_with_error)?;
    Ok(decision.explanation().to_owned())
}

/// A manager (or an admin) asks for a later end date.
#[server(prefix = "/api", endpoint = "project_request_renewal")]
pub async fn request_renewal(name: String, end_date: String, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.request_renewal(&auth.user, &name, &end_date, &reason, &request).await.map_err(respond_with_error)
}

/// A manager (or an admin) withdraws a waiting request.
#[server(prefix = "/api", endpoint = "project_request_withdraw")]
pub async fn withdraw_request(name: String, request_id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.withdraw_request(&auth.user, &name, request_id, &request).await.map_err(respond_with_error)
}

/// An admin approves a quota change, possibly with other values (which need a reason).
#[server(prefix = "/api", endpoint = "project_request_approve_quota")]
pub async fn approve_quota_request(
    request_id: i64,
    cpu_cores: String,
    memory_gib: String,
    storage_gib: String,
    pods: String,
    gpus: String,
    reason: String,
) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    let values = [cpu_cores, memory_gib, storage_gib, pods, gpus];
    state
        .projects
        .approve_quota_request(&auth.user, request_id, &values, &reason, &request)
        .await
        .map_err(respond_with_error)
}

/// An admin approves a renewal, possibly with another end date (which needs a reason).
#[server(prefix = "/api", endpoint = "project_request_approve_renewal")]
pub async fn approve_renewal_request(request_id: i64, end_date: String, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state
        .projects
        .approve_renewal_request(&auth.user, request_id, &end_date, &reason, &request)
        .await
        .map_err(respond_with_error)
}

/// An admin rejects a request, with a reason.
#[server(prefix = "/api", endpoint = "project_request_reject")]
pub async fn reject_request(request_id: i64, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.reject_request(&auth.user, request_id, &reason, &request).await.map_err(respond_with_error)
}

/// Requests waiting for an admin, oldest first (admins only).
#[server(prefix = "/api", endpoint = "project_requests_pending")]
pub async fn get_pending_requests() -> Result<Vec<super::requests::QueueRow>, AppError> {
    let (state, auth, _) = signed_in()?;
    let pending = state.projects.pending_requests(&auth.user).await.map_err(respond_with_error)?;
    Ok(pending.iter().map(super::requests::RequestView::queue_row).collect())
}

/// A manager or an admin closes the project (`confirm` repeats its name).
#[server(prefix = "/api", endpoint = "project_close")]
pub async fn close_project(name: String, confirm: String, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.close(&auth.user, &name, &confirm, &reason, &request).await.map_err(respond_with_error)
}

/// An admin restores a closed project within its grace period.
#[server(prefix = "/api", endpoint = "project_restore")]
pub async fn restore_project(name: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.projects.restore(&auth.user, &name, &request).await.map_err(respond_with_error)
}
