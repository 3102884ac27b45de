//! Server functions of projects: each reads the session and state, calls one service method and maps the error.

use leptos::prelude::*;

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
