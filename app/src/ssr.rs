//! What server functions read from the request context, and how they turn errors into responses.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::error::{AppError, report_internal};
use crate::status::ssr::StatusService;

/// Services shared by every request; provided to server functions through Leptos context.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The public status content.
    pub status: Arc<StatusService>,
}

#[derive(Debug, thiserror::Error)]
#[error("AppState is missing from the Leptos context")]
struct MissingAppState;

/// The [`AppState`] of this request.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| report_internal(&MissingAppState))
}

/// Converts `error` into the user-facing error and sets the response status to match.
pub fn respond_with_error(error: impl Into<AppError>) -> AppError {
    let error = error.into();
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let status = http::StatusCode::from_u16(error.status_code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.set_status(status);
    }
    error
}
