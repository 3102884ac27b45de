//! Server side of projects: the desired state on the cluster, the store contract of the project pages, and the
//! service that decides who sees what.

pub mod desired;

use std::sync::Arc;

use async_trait::async_trait;

use super::view::{ProjectSummary, ProjectView};
use crate::auth::model::Role;
use crate::auth::ssr::{NewAuditEntry, RequestInfo, User};
use crate::error::{AppError, StoreError};

/// Storage of the project pages.
#[async_trait]
pub trait ProjectStore: Send + Sync + 'static {
    /// The projects `member_id` belongs to (with their role), or every project when `None`; by name.
    async fn projects(&self, member_id: Option<i64>) -> Result<Vec<ProjectSummary>, StoreError>;

    /// A project's page by name (`viewer_is_admin` left false), with `attempts` newest first, at most that many.
    async fn project_by_name(&self, name: &str, attempts: u32) -> Result<Option<ProjectView>, StoreError>;

    /// Queues the project's provisioning job again (a new generation), with its audit row; false when there is no
    /// such project.
    async fn reprovision(&self, project_id: i64, audit: &NewAuditEntry) -> Result<bool, StoreError>;
}

/// How many provisioning attempts a project page lists.
pub const ATTEMPTS_SHOWN: u32 = 50;

/// Projects as their members and admins see them.
pub struct ProjectService {
    store: Arc<dyn ProjectStore>,
}

impl std::fmt::Debug for ProjectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectService").finish_non_exhaustive()
    }
}

impl ProjectService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn ProjectStore>) -> Self {
        Self { store }
    }

    /// The user's projects; every project for an admin.
    pub async fn list(&self, user: &User) -> Result<Vec<ProjectSummary>, AppError> {
        let member = (user.role != Role::Admin).then_some(user.id);
        let mut projects = self.store.projects(member).await?;
        if user.role == Role::Admin {
            // An admin who is also a member sees their role too.
            let own = self.store.projects(Some(user.id)).await?;
            for project in &mut projects {
                project.role = own.iter().find(|mine| mine.id == project.id).and_then(|mine| mine.role);
            }
        }
        Ok(projects)
    }

    /// A project's page, for its members and admins; to anyone else it does not exist.
    pub async fn view(&self, user: &User, name: &str) -> Result<ProjectView, AppError> {
        let mut project = self.store.project_by_name(name, ATTEMPTS_SHOWN).await?.ok_or(AppError::NotFound)?;
        let is_admin = user.role == Role::Admin;
        if !is_admin && !project.members.iter().any(|member| member.user_id == user.id) {
            return Err(AppError::NotFound);
        }
        project.viewer_is_admin = is_admin;
        Ok(project)
    }

    /// An admin queues the project's provisioning again (after a failure, or to repair drift).
    pub async fn reprovision(&self, admin: &User, name: &str, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let project = self.store.project_by_name(name, 0).await?.ok_or(AppError::NotFound)?;
        let audit = NewAuditEntry::by(admin, "project.reprovision", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name }));
        if self.store.reprovision(project.id, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }
}
