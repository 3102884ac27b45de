//! Server functions of applications: each reads the session and state, calls one service method and maps the
//! error. Forms post to them with or without JavaScript.

// The approval takes one argument per form field, so that its plain form posts flat names; the macro gives the
// browser's stub the same list, where an `allow` on the function does not reach.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use super::view::{ApplicationForm, ApplicationSummaryRow, ApplicationView, FormView, QueuePage, QueueQuery};
use crate::error::AppError;

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in, signed_in_admin};

/// A new application form for the signed-in user (or, after a form posted without JavaScript was refused, what
/// they had typed into it).
#[server(prefix = "/api", endpoint = "application_new")]
pub async fn get_new_application() -> Result<FormView, AppError> {
    let (state, auth, _) = signed_in()?;
    let service = &state.applications;
    if let Some(form) = ssr::take_typed_form().await.filter(|form| form.id.is_empty()) {
        return service.form_view(auth.user.id, form, false).await.map_err(respond_with_error);
    }
    service.new_form(&auth.user).await.map_err(respond_with_error)
}

/// The signed-in user's applications.
#[server(prefix = "/api", endpoint = "applications_mine")]
pub async fn get_my_applications() -> Result<Vec<ApplicationSummaryRow>, AppError> {
    let (state, auth, _) = signed_in()?;
    state.applications.mine(&auth.user).await.map_err(respond_with_error)
}

/// One application: the applicant's own, or any for an admin; 404 for anyone else.
#[server(prefix = "/api", endpoint = "application")]
pub async fn get_application(id: i64) -> Result<ApplicationView, AppError> {
    let (state, auth, _) = signed_in()?;
    let mut view = state.applications.view(&auth.user, id).await.map_err(respond_with_error)?;
    if let (Some(form_view), Some(typed)) = (view.form.as_mut(), ssr::take_typed_form().await)
        && typed.id == id.to_string()
    {
        form_view.form = typed;
    }
    Ok(view)
}

/// One application with what admins need to decide it (admins only: 403 to anyone else).
#[server(prefix = "/api", endpoint = "admin_application")]
pub async fn get_application_for_review(id: i64) -> Result<ApplicationView, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.applications.view(&auth.user, id).await.map_err(respond_with_error)
}

/// Saves the application form as a draft or submits it, then shows the application.
#[server(prefix = "/api", endpoint = "application_save")]
pub async fn save_application(form: ApplicationForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    match state.applications.save(&auth.user, &form, &request).await {
        Ok(id) => {
            let notice = if form.intent == "submit" { "submitted" } else { "saved" };
            leptos_axum::redirect(&format!("/applications/{id}?notice={notice}"));
            Ok(())
        }
        Err(error) => {
            if crate::ssr::is_plain_form_post() {
                ssr::keep_typed_form(&form).await;
            }
            Err(respond_with_error(error))
        }
    }
}

/// The applicant withdraws their application (made on `version`).
#[server(prefix = "/api", endpoint = "application_withdraw")]
pub async fn withdraw_application(id: i64, version: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.applications.withdraw(&auth.user, id, version, &request).await.map_err(respond_with_error)
}

/// Adds a comment to an application (its applicant or an admin).
#[server(prefix = "/api", endpoint = "application_comment")]
pub async fn comment_on_application(id: i64, message: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.applications.comment(&auth.user, id, &message, &request).await.map_err(respond_with_error)
}

/// One page of the admins' queue (admins only).
#[server(prefix = "/api", endpoint = "admin_queue")]
pub async fn get_queue(query: QueueQuery) -> Result<QueuePage, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.applications.queue(&auth.user, &query).await.map_err(respond_with_error)
}

/// An admin takes an application for review (admins only).
#[server(prefix = "/api", endpoint = "admin_take")]
pub async fn take_application(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.applications.take(&auth.user, id, &request).await.map_err(respond_with_error)
}

/// Approves an application (of `version`) with the granted quota; a quota other than the request needs a reason
/// (admins only).
#[server(prefix = "/api", endpoint = "admin_approve")]
pub async fn approve_application(
    id: i64,
    version: i64,
    cpu_cores: String,
    memory_gib: String,
    storage_gib: String,
    pods: String,
    gpus: String,
    reason: String,
) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    let quota = [cpu_cores, memory_gib, storage_gib, pods, gpus];
    let decision = super::ssr::Decision::Approve { quota, reason };
    state.applications.decide(&auth.user, id, version, decision, &request).await.map_err(respond_with_error)
}

/// Rejects an application (of `version`) with a reason (admins only).
#[server(prefix = "/api", endpoint = "admin_reject")]
pub async fn reject_application(id: i64, version: i64, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    let decision = super::ssr::Decision::Reject { reason };
    state.applications.decide(&auth.user, id, version, decision, &request).await.map_err(respond_with_error)
}

/// Asks the applicant to change an application (of `version`) (admins only).
#[server(prefix = "/api", endpoint = "admin_request_changes")]
pub async fn request_changes(id: i64, version: i64, message: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    let decision = super::ssr::Decision::RequestChanges { message };
    state.applications.decide(&auth.user, id, version, decision, &request).await.map_err(respond_with_error)
}

/// How many applications wait for a decision; `None` unless the visitor is an admin.
#[server(prefix = "/api", endpoint = "waiting_count")]
pub async fn get_waiting_count() -> Result<Option<i64>, AppError> {
    let Some(auth) = crate::ssr::authenticated() else { return Ok(None) };
    let state = crate::ssr::app_state()?;
    state.applications.waiting_count(&auth.user).await.map_err(respond_with_error)
}

/// Whether the signed-in admin gets one daily digest instead of a message per application.
#[server(prefix = "/api", endpoint = "digest_choice")]
pub async fn get_digest_choice() -> Result<bool, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.applications.wants_digest(&auth.user).await.map_err(respond_with_error)
}

/// Chooses between a message per application (`each`) and one daily digest (`daily`) (admins only).
#[server(prefix = "/api", endpoint = "digest_choice_set")]
pub async fn set_digest_choice(mail: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    let daily = match mail.as_str() {
        "daily" => true,
        "each" => false,
        _ => return Err(respond_with_error(AppError::invalid("mail", "Choose one of the two."))),
    };
    state.applications.set_digest(&auth.user, daily, &request).await.map_err(respond_with_error)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::ApplicationForm;

    /// Where a form that was posted without JavaScript and refused waits for the page it is sent back to, so that
    /// nothing typed is lost (with JavaScript, the page keeps it).
    const TYPED_FORM_KEY: &str = "application.typed_form";

    /// Keeps `form` in the browser session for the page the refused post goes back to.
    pub(super) async fn keep_typed_form(form: &ApplicationForm) {
        if let Some(session) = crate::ssr::browser_session() {
            // Losing it costs a retype, not data: a failure is only logged.
            if let Err(error) = session.insert(TYPED_FORM_KEY, form).await {
                tracing::warn!(%error, "cannot keep the typed application form");
            }
        }
    }

    /// Takes the kept form, if any (once).
    pub(super) async fn take_typed_form() -> Option<ApplicationForm> {
        crate::ssr::browser_session()?.remove(TYPED_FORM_KEY).await.ok().flatten()
    }
}
