//! SQL of the project pages and of the provisioning job, shared by both backends through [`impl_project_store!`].

macro_rules! project_columns {
    () => {
        "SELECT p.id, p.name, p.title, p.organisation, p.state, p.cpu_cores, p.memory_gib, p.storage_gib, p.pods, \
         p.gpus, p.updated_at, "
    };
}
pub(crate) const SELECT_ALL_PROJECTS: &str =
    concat!(project_columns!(), "CAST(NULL AS TEXT) AS role FROM projects p ORDER BY p.name");
pub(crate) const SELECT_PROJECTS_OF_MEMBER: &str = concat!(
    project_columns!(),
    "m.role FROM projects p JOIN project_members m ON m.project_id = p.id WHERE m.user_id = $1 ORDER BY p.name"
);
pub(crate) const SELECT_PROJECT_BY_NAME: &str = "SELECT p.id, p.name, p.title, p.organisation, p.state, \
     p.cpu_cores, p.memory_gib, p.storage_gib, p.pods, p.gpus, p.end_date, COALESCE(u.email, '') AS owner, \
     p.application_id, p.created_at, p.activated_at, p.provision_error, p.drift, p.drift_checked_at, p.suspend_reason, \
     p.last_increase_at, p.closed_at, p.delete_after, p.deleted_at, p.close_reason, p.expired_at, \
     EXISTS (SELECT 1 FROM jobs j WHERE j.dedupe_key = 'project:' || p.id AND j.done_at IS NULL) AS job_pending \
     FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.name = $1";
pub(crate) const SELECT_MEMBERS: &str = "SELECT m.user_id, COALESCE(u.email, '') AS email, u.display_name, m.role, \
     m.created_at FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 \
     ORDER BY CASE m.role WHEN 'manager' THEN 0 WHEN 'member' THEN 1 ELSE 2 END, u.email, m.user_id";
pub(crate) const SELECT_ATTEMPTS: &str = "SELECT id, action, backend, generation, started_at, finished_at, outcome, \
     error FROM provisioning_attempts WHERE project_id = $1 ORDER BY id DESC LIMIT $2";
// A change the cluster must follow: a new generation, and the job (one per project while one waits or runs: the
// job reads the newest generation when it runs, and goes on if another arrives meanwhile).
pub(crate) const BUMP_GENERATION: &str = "UPDATE projects SET generation = generation + 1, updated_at = $2, \
     state = CASE WHEN state = 'provisioning_failed' THEN 'provisioning' ELSE state END WHERE id = $1";

pub(crate) const INTERRUPT_ATTEMPTS: &str = "UPDATE provisioning_attempts SET outcome = 'interrupted', \
     finished_at = $2, error = 'the attempt ended without an answer (its runner stopped); tried again' \
     WHERE job_id = $1 AND outcome = 'running'";
pub(crate) const SELECT_PROJECT_SPEC: &str = "SELECT p.id, p.name, p.title, p.owner_id, \
     COALESCE(u.email, '') AS owner_email, p.state, p.cpu_cores, p.memory_gib, p.storage_gib, p.pods, p.gpus, \
     p.generation, p.created_at FROM projects p JOIN users u ON u.id = p.owner_id";
pub(crate) const SELECT_MEMBER_SPECS: &str = "SELECT m.project_id, m.user_id, \
     COALESCE(u.email, 'user-' || u.id) AS username, m.role FROM project_members m JOIN users u ON u.id = m.user_id";
pub(crate) const INSERT_ATTEMPT: &str = "INSERT INTO provisioning_attempts \
     (project_id, job_id, generation, action, backend, started_at, outcome) \
     VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id";
pub(crate) const END_ATTEMPT: &str =
    "UPDATE provisioning_attempts SET outcome = $2, finished_at = $3, error = $4 WHERE id = $1";
pub(crate) const SET_PROVISIONED: &str = "UPDATE projects SET provisioned_generation = $2, provision_error = NULL, \
     state = CASE WHEN state IN ('provisioning', 'provisioning_failed') THEN 'active' ELSE state END, \
     activated_at = COALESCE(activated_at, $3), updated_at = $3 WHERE id = $1";
pub(crate) const SET_PROVISION_ERROR: &str = "UPDATE projects SET provision_error = $2 WHERE id = $1";
pub(crate) const SET_PROVISIONING_FAILED: &str = "UPDATE projects SET state = 'provisioning_failed', \
     updated_at = $2 WHERE id = $1 AND state = 'provisioning'";
pub(crate) const SELECT_ADMIN_ADDRESSES: &str = "SELECT email FROM users \
     WHERE role = 'admin' AND disabled_at IS NULL AND email IS NOT NULL ORDER BY id";
pub(crate) const SET_DRIFT: &str = "UPDATE projects SET drift = $2, drift_checked_at = $3 WHERE id = $1";

// Members and invitations.
pub(crate) const SELECT_OPEN_INVITATIONS: &str = "SELECT i.id, i.email, i.role, COALESCE(u.email, '') AS invited_by, \
     i.sent_at, i.expires_at FROM project_invitations i JOIN users u ON u.id = i.invited_by \
     WHERE i.project_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL ORDER BY i.email";
pub(crate) const SELECT_EVENTS: &str = "SELECT e.at, COALESCE(u.email, 'Berth') AS actor, e.summary, e.request_id \
     FROM project_events e LEFT JOIN users u ON u.id = e.actor_id WHERE e.project_id = $1 ORDER BY e.id DESC LIMIT $2";
pub(crate) const INSERT_EVENT: &str = "INSERT INTO project_events (project_id, at, actor_id, kind, summary, \
     request_id) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const IS_MEMBER_BY_EMAIL: &str = "SELECT COUNT(*) FROM project_members m JOIN users u ON u.id = m.user_id \
     WHERE m.project_id = $1 AND u.email = $2";
pub(crate) const HAS_OPEN_INVITATION: &str = "SELECT COUNT(*) FROM project_invitations \
     WHERE project_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL";
pub(crate) const INSERT_INVITATION: &str = "INSERT INTO project_invitations \
     (project_id, email, role, token_hash, invited_by, created_at, sent_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7)";
pub(crate) const RESEND_INVITATION: &str = "UPDATE project_invitations SET token_hash = $3, sent_at = $4, \
     expires_at = $5 WHERE id = $2 AND project_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
     RETURNING email";
pub(crate) const REVOKE_INVITATION: &str = "UPDATE project_invitations SET revoked_at = $3 \
     WHERE id = $2 AND project_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING email";
pub(crate) const SELECT_INVITATION_BY_HASH: &str = "SELECT i.id, i.project_id, p.name AS project, p.title, \
     p.state AS project_state, i.email, i.role, COALESCE(u.email, '') AS invited_by, i.expires_at, i.accepted_at, \
     i.revoked_at FROM project_invitations i JOIN projects p ON p.id = i.project_id \
     JOIN users u ON u.id = i.invited_by WHERE i.token_hash = $1";
// Used up only while open: of two people (or two tabs) accepting at once, one succeeds.
pub(crate) const USE_INVITATION: &str = "UPDATE project_invitations SET accepted_at = $2, accepted_by = $3 \
     WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING project_id, role, email";
pub(crate) const MEMBER_ROLE: &str = "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2";
pub(crate) const MEMBER_EMAIL: &str = "SELECT COALESCE(email, 'user-' || id) FROM users WHERE id = $1";
pub(crate) const COUNT_MANAGERS: &str =
    "SELECT COUNT(*) FROM project_members WHERE project_id = $1 AND role = 'manager'";
pub(crate) const INSERT_MEMBER: &str =
    "INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)";
pub(crate) const SET_MEMBER_ROLE: &str = "UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2";
pub(crate) const DELETE_MEMBER: &str = "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2";
// Suspension: conditional on the state it leaves, so that of two admins acting at once one succeeds.
pub(crate) const SUSPEND: &str = "UPDATE projects SET state = 'suspended', suspend_reason = $2, updated_at = $3 \
     WHERE id = $1 AND state = 'active'";
pub(crate) const RESUME: &str = "UPDATE projects SET state = 'active', suspend_reason = NULL, updated_at = $2 \
     WHERE id = $1 AND state = 'suspended'";
pub(crate) const SELECT_MANAGER_ADDRESSES: &str = "SELECT u.email FROM project_members m JOIN users u ON u.id = m.user_id \
     WHERE m.project_id = $1 AND m.role = 'manager' AND u.email IS NOT NULL AND u.disabled_at IS NULL ORDER BY u.id";
/// Events a project page lists.
pub(crate) const EVENTS_SHOWN: i64 = 100;

/// Implements `ProjectStore` and `ProvisioningStore` for a store type with `pool`, `begin_write()`, `jobs_waker`
/// and the account store's `insert_audit` and `insert_mail`; `$lock` locks the project row read by the statement it
/// ends (`" FOR UPDATE"` on PostgreSQL; SQLite's write transaction holds the whole database).
macro_rules! impl_project_store {
    ($store:ty, $db:ty, $lock:literal) => {
        impl $store {
            async fn project_specs(
                conn: &mut <$db as sqlx::Database>::Connection,
                filter: &str,
                id: Option<i64>,
            ) -> Result<Vec<(app::projects::ssr::desired::ProjectSpec, i64, chrono::DateTime<chrono::Utc>)>, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let projects = sqlx::query_as::<_, $crate::storage::rows::ProjectSpecRow>(&format!(
                    "{SELECT_PROJECT_SPEC} WHERE {filter}"
                ))
                .bind(id)
                .fetch_all(&mut *conn)
                .await
                .map_err(store_error)?;
                let members = sqlx::query_as::<_, $crate::storage::rows::MemberSpecRow>(&format!(
                    "{SELECT_MEMBER_SPECS} WHERE m.project_id IN (SELECT p.id FROM projects p WHERE {filter})"
                ))
                .bind(id)
                .fetch_all(&mut *conn)
                .await
                .map_err(store_error)?;
                $crate::storage::rows::project_specs(projects, members)
            }

            /// Holds the project's row until the transaction ends (PostgreSQL; SQLite's write transaction holds
            /// the whole database already).
            async fn lock_project(
                conn: &mut <$db as sqlx::Database>::Connection,
                project_id: i64,
            ) -> Result<(), app::error::StoreError> {
                sqlx::query(concat!("SELECT id FROM projects WHERE id = $1", $lock))
                    .bind(project_id)
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }

            /// A change the cluster must follow: a new generation, and the provisioning job (a no-op while one
            /// waits: it reads the newest generation when it runs).
            async fn queue_provisioning(
                conn: &mut <$db as sqlx::Database>::Connection,
                project_id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                sqlx::query($crate::storage::projects_sql::BUMP_GENERATION)
                    .bind(project_id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                Self::insert_job(&mut *conn, &$crate::jobs::JobPayload::ProvisionProject { project_id }, now)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            /// A line of the project's history, by the audit entry's actor; `request_id` names the change request
            /// it belongs to (a request's timeline is its lines).
            async fn insert_project_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                project_id: i64,
                request_id: Option<i64>,
                audit: &app::auth::ssr::NewAuditEntry,
                kind: &str,
                summary: &str,
            ) -> Result<(), app::error::StoreError> {
                sqlx::query($crate::storage::projects_sql::INSERT_EVENT)
                    .bind(project_id)
                    .bind(audit.at)
                    .bind(audit.actor_id)
                    .bind(kind)
                    .bind(summary)
                    .bind(request_id)
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl app::projects::ssr::ProjectStore for $store {
            async fn projects(
                &self,
                member_id: Option<i64>,
            ) -> Result<Vec<app::projects::view::ProjectSummary>, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                let query = match member_id {
                    Some(id) => sqlx::query_as::<_, $crate::storage::rows::ProjectSummaryRow>(SELECT_PROJECTS_OF_MEMBER).bind(id),
                    None => sqlx::query_as::<_, $crate::storage::rows::ProjectSummaryRow>(SELECT_ALL_PROJECTS),
                };
                query
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?
                    .into_iter()
                    .map($crate::storage::rows::ProjectSummaryRow::into_summary)
                    .collect()
            }

            async fn project_by_name(
                &self,
                name: &str,
                attempts: u32,
            ) -> Result<Option<app::projects::view::ProjectView>, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_snapshot().await.map_err(store_error)?;
                let Some(project) = sqlx::query_as::<_, $crate::storage::rows::ProjectRow>(SELECT_PROJECT_BY_NAME)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?
                else {
                    return Ok(None);
                };
                let members = sqlx::query_as::<_, $crate::storage::rows::MemberRow>(SELECT_MEMBERS)
                    .bind(project.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let attempts = sqlx::query_as::<_, $crate::storage::rows::AttemptRow>(SELECT_ATTEMPTS)
                    .bind(project.id)
                    .bind(i64::from(attempts))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let invitations = sqlx::query_as::<_, $crate::storage::rows::InvitationRow>(SELECT_OPEN_INVITATIONS)
                    .bind(project.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let events = sqlx::query_as::<_, $crate::storage::rows::EventRow>(SELECT_EVENTS)
                    .bind(project.id)
                    .bind(EVENTS_SHOWN)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                project.into_view(members, attempts, invitations, events).map(Some)
            }

            async fn reprovision(
                &self,
                project_id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let bumped = sqlx::query($crate::storage::projects_sql::BUMP_GENERATION)
                    .bind(project_id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if bumped == 0 {
                    return Ok(false);
                }
                Self::insert_job(&mut tx, &$crate::jobs::JobPayload::ProvisionProject { project_id }, audit.at)
                    .await
                    .map_err(store_error)?;
                Self::insert_project_event(&mut tx, project_id, None, audit, "reprovision", "queued the project's provisioning again")
                    .await?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }

            async fn set_suspended(
                &self,
                project_id: i64,
                reason: Option<&str>,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let change = match reason {
                    Some(reason) => sqlx::query(SUSPEND).bind(project_id).bind(reason).bind(audit.at),
                    None => sqlx::query(RESUME).bind(project_id).bind(audit.at),
                };
                let changed = change.execute(&mut *tx).await.map_err(store_error)?.rows_affected();
                if changed == 0 {
                    return Ok(false);
                }
                let (kind, summary) = match reason {
                    Some(reason) => ("suspend", format!("suspended the project (quota set to zero): {reason}")),
                    None => ("resume", "resumed the project (its quota is restored)".to_owned()),
                };
                Self::insert_project_event(&mut tx, project_id, None, audit, kind, &summary).await?;
                Self::queue_provisioning(&mut tx, project_id, audit.at).await?;
                for message in mail {
                    Self::insert_mail(&mut tx, message, audit.at).await.map_err(store_error)?;
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }

            async fn manager_addresses(&self, project_id: i64) -> Result<Vec<String>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::projects_sql::SELECT_MANAGER_ADDRESSES)
                    .bind(project_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn invite(
                &self,
                invitation: &app::projects::ssr::NewInvitation,
                mail: &app::auth::ssr::OutgoingMail,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::projects::ssr::InviteOutcome, app::error::StoreError> {
                use app::projects::ssr::InviteOutcome;
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                Self::lock_project(&mut tx, invitation.project_id).await?;
                let members: i64 = sqlx::query_scalar(IS_MEMBER_BY_EMAIL)
                    .bind(invitation.project_id)
                    .bind(&invitation.email)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if members > 0 {
                    return Ok(InviteOutcome::AlreadyMember);
                }
                let open: i64 = sqlx::query_scalar(HAS_OPEN_INVITATION)
                    .bind(invitation.project_id)
                    .bind(&invitation.email)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if open > 0 {
                    return Ok(InviteOutcome::AlreadyInvited);
                }
                sqlx::query(INSERT_INVITATION)
                    .bind(invitation.project_id)
                    .bind(&invitation.email)
                    .bind(invitation.role.as_str())
                    .bind(&invitation.token_hash)
                    .bind(invitation.invited_by)
                    .bind(audit.at)
                    .bind(invitation.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let summary = format!("invited {} as {}", invitation.email, invitation.role.label().to_lowercase());
                Self::insert_project_event(&mut tx, invitation.project_id, None, audit, "invite", &summary).await?;
                Self::insert_mail(&mut tx, mail, audit.at).await.map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(InviteOutcome::Invited)
            }

            async fn resend_invitation(
                &self,
                project_id: i64,
                invitation_id: i64,
                token_hash: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
                mail: &app::auth::ssr::OutgoingMail,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let email: Option<String> = sqlx::query_scalar(RESEND_INVITATION)
                    .bind(project_id)
                    .bind(invitation_id)
                    .bind(token_hash)
                    .bind(audit.at)
                    .bind(expires_at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some(email) = email else { return Ok(false) };
                let summary = format!("sent the invitation of {email} again (the earlier link no longer works)");
                Self::insert_project_event(&mut tx, project_id, None, audit, "invitation_resend", &summary).await?;
                Self::insert_mail(&mut tx, mail, audit.at).await.map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }

            async fn revoke_invitation(
                &self,
                project_id: i64,
                invitation_id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let email: Option<String> = sqlx::query_scalar(REVOKE_INVITATION)
                    .bind(project_id)
                    .bind(invitation_id)
                    .bind(audit.at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some(email) = email else { return Ok(false) };
                Self::insert_project_event(&mut tx, project_id, None, audit, "invitation_revoke", &format!("revoked the invitation of {email}"))
                    .await?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn invitation(
                &self,
                token_hash: &str,
            ) -> Result<Option<app::projects::ssr::InvitationRecord>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::InvitationRecordRow>(
                    $crate::storage::projects_sql::SELECT_INVITATION_BY_HASH,
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .map($crate::storage::rows::InvitationRecordRow::into_record)
                .transpose()
            }

            async fn accept_invitation(
                &self,
                invitation_id: i64,
                user_id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::projects::ssr::AcceptOutcome, app::error::StoreError> {
                use app::projects::ssr::AcceptOutcome;
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let used: Option<(i64, String, String)> = sqlx::query_as(USE_INVITATION)
                    .bind(invitation_id)
                    .bind(audit.at)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some((project_id, role, email)) = used else { return Ok(AcceptOutcome::Gone) };
                Self::lock_project(&mut tx, project_id).await?;
                let current: Option<String> = sqlx::query_scalar(MEMBER_ROLE)
                    .bind(project_id)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if current.is_some() {
                    tx.commit().await.map_err(store_error)?;
                    return Ok(AcceptOutcome::AlreadyMember);
                }
                sqlx::query(INSERT_MEMBER)
                    .bind(project_id)
                    .bind(user_id)
                    .bind(&role)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let label = $crate::storage::rows::member_role_of(&role)?.label().to_lowercase();
                Self::insert_project_event(&mut tx, project_id, None, audit, "join", &format!("{email} joined as {label}")).await?;
                Self::queue_provisioning(&mut tx, project_id, audit.at).await?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(AcceptOutcome::Joined)
            }

            async fn change_member(
                &self,
                change: &app::projects::ssr::MemberChange,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::projects::ssr::MemberOutcome, app::error::StoreError> {
                use app::projects::ssr::MemberOutcome;
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                Self::lock_project(&mut tx, change.project_id).await?;
                let current: Option<String> = sqlx::query_scalar(MEMBER_ROLE)
                    .bind(change.project_id)
                    .bind(change.user_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some(current) = current else { return Ok(MemberOutcome::NotMember) };
                let current = $crate::storage::rows::member_role_of(&current)?;
                if change.role == Some(current) {
                    return Ok(MemberOutcome::Unchanged);
                }
                let managers: i64 = sqlx::query_scalar(COUNT_MANAGERS)
                    .bind(change.project_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if current == app::projects::model::MemberRole::Manager && managers <= 1 {
                    return Ok(MemberOutcome::LastManager);
                }
                let email: String = sqlx::query_scalar(MEMBER_EMAIL)
                    .bind(change.user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let (kind, summary) = match change.role {
                    Some(role) => {
                        sqlx::query(SET_MEMBER_ROLE)
                            .bind(change.project_id)
                            .bind(change.user_id)
                            .bind(role.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        ("member_role", format!("made {email} {}", role.label().to_lowercase()))
                    }
                    None => {
                        sqlx::query(DELETE_MEMBER)
                            .bind(change.project_id)
                            .bind(change.user_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        if audit.actor_id == Some(change.user_id) {
                            ("leave", "left the project".to_owned())
                        } else {
                            ("member_remove", format!("removed {email}"))
                        }
                    }
                };
                Self::insert_project_event(&mut tx, change.project_id, None, audit, kind, &summary).await?;
                Self::queue_provisioning(&mut tx, change.project_id, audit.at).await?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(MemberOutcome::Done)
            }
        }

        #[async_trait::async_trait]
        impl $crate::provision::ProvisioningStore for $store {
            async fn start_attempt(
                &self,
                project_id: i64,
                job_id: i64,
                backend: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::provision::ProvisioningWork>, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query(INTERRUPT_ATTEMPTS).bind(job_id).bind(now).execute(&mut *tx).await.map_err(store_error)?;
                let Some((spec, generation, approved_at)) =
                    Self::project_specs(&mut tx, "p.id = $1", Some(project_id)).await?.into_iter().next()
                else {
                    tx.commit().await.map_err(store_error)?;
                    return Ok(None);
                };
                // A closed project keeps its namespace (with a zero quota) until its grace period is over.
                let delete_after: Option<chrono::DateTime<chrono::Utc>> =
                    sqlx::query_scalar("SELECT delete_after FROM projects WHERE id = $1")
                        .bind(project_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(store_error)?;
                let action = if spec.state == app::projects::model::ProjectState::Closed
                    && delete_after.is_some_and(|at| at <= now)
                {
                    $crate::provision::Action::Deprovision
                } else {
                    $crate::provision::Action::Provision
                };
                let attempt_id: i64 = sqlx::query_scalar(INSERT_ATTEMPT)
                    .bind(project_id)
                    .bind(job_id)
                    .bind(generation)
                    .bind(action.as_str())
                    .bind(backend)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(Some($crate::provision::ProvisioningWork { attempt_id, action, generation, spec, approved_at }))
            }

            async fn finish_attempt(
                &self,
                work: &$crate::provision::ProvisioningWork,
                job_id: i64,
                mail: &[app::auth::ssr::OutgoingMail],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::provision::Finished, app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let project_id = work.spec.id;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                // Holding the project's row: a change committed meanwhile is seen here, and one that comes later
                // finds this job done and queues a new one.
                let current: Option<(i64, String, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(concat!(
                    "SELECT generation, state, activated_at FROM projects WHERE id = $1",
                    $lock
                ))
                .bind(project_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
                sqlx::query(END_ATTEMPT)
                    .bind(work.attempt_id)
                    .bind("succeeded")
                    .bind(now)
                    .bind(None::<String>)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some((generation, state, activated_at)) = current else {
                    sqlx::query($crate::storage::jobs_sql::FINISH_JOB).bind(job_id).bind(now).execute(&mut *tx).await.map_err(store_error)?;
                    tx.commit().await.map_err(store_error)?;
                    return Ok($crate::provision::Finished::Done { activated_after: None });
                };
                if generation > work.generation {
                    tx.commit().await.map_err(store_error)?;
                    return Ok($crate::provision::Finished::Changed);
                }
                let first_activation = activated_at.is_none() && (state == "provisioning" || state == "provisioning_failed")
                    && work.action == $crate::provision::Action::Provision;
                sqlx::query(SET_PROVISIONED)
                    .bind(project_id)
                    .bind(work.generation)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query($crate::storage::jobs_sql::FINISH_JOB).bind(job_id).bind(now).execute(&mut *tx).await.map_err(store_error)?;
                let audit = app::auth::ssr::NewAuditEntry::system(
                    if work.action == $crate::provision::Action::Deprovision { "project.deprovisioned" } else { "project.provisioned" },
                    format!("project:{project_id}"),
                    now,
                )
                .with_details(serde_json::json!({ "project": work.spec.name, "generation": work.generation }));
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                if work.action == $crate::provision::Action::Deprovision {
                    sqlx::query($crate::storage::lifecycle_sql::SET_DELETED)
                        .bind(project_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    Self::insert_project_event(&mut tx, project_id, None, &audit, "deleted", "deleted the namespace from the cluster")
                        .await?;
                }
                if first_activation {
                    for message in mail {
                        Self::insert_mail(&mut tx, message, now).await.map_err(store_error)?;
                    }
                }
                tx.commit().await.map_err(store_error)?;
                if first_activation && !mail.is_empty() {
                    self.jobs_waker.notify_one();
                }
                let activated_after = first_activation
                    .then(|| (now - work.approved_at).num_milliseconds().max(0) as f64 / 1000.0);
                Ok($crate::provision::Finished::Done { activated_after })
            }

            async fn fail_attempt(
                &self,
                work: &$crate::provision::ProvisioningWork,
                error: &str,
                give_up: Option<&$crate::provision::GiveUp>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::projects_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query(END_ATTEMPT)
                    .bind(work.attempt_id)
                    .bind("failed")
                    .bind(now)
                    .bind(error)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query(SET_PROVISION_ERROR).bind(work.spec.id).bind(error).execute(&mut *tx).await.map_err(store_error)?;
                if let Some(give_up) = give_up {
                    sqlx::query(SET_PROVISIONING_FAILED).bind(work.spec.id).bind(now).execute(&mut *tx).await.map_err(store_error)?;
                    sqlx::query($crate::storage::jobs_sql::CLOSE_FAILED_JOB)
                        .bind(give_up.job_id)
                        .bind(now)
                        .bind(error)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    for message in &give_up.mail {
                        Self::insert_mail(&mut tx, message, now).await.map_err(store_error)?;
                    }
                    Self::insert_audit(&mut tx, &give_up.audit).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                if give_up.is_some_and(|give_up| !give_up.mail.is_empty()) {
                    self.jobs_waker.notify_one();
                }
                Ok(())
            }

            async fn active_projects(&self) -> Result<Vec<app::projects::ssr::desired::ProjectSpec>, app::error::StoreError> {
                let mut conn = self.pool.acquire().await.map_err($crate::storage::store_error)?;
                // `$1 IS NULL` keeps the one parameter the statement is written with.
                let specs = Self::project_specs(&mut conn, "p.state = 'active' AND $1 IS NULL", None).await?;
                Ok(specs.into_iter().map(|(spec, _, _)| spec).collect())
            }

            async fn record_drift(
                &self,
                project_id: i64,
                drift: Option<&$crate::provision::DriftReport>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                let text = drift.map(|drift| serde_json::to_string(&drift.differences).unwrap_or_default());
                sqlx::query($crate::storage::projects_sql::SET_DRIFT)
                    .bind(project_id)
                    .bind(text)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_project_store;
