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
     p.application_id, p.created_at, p.activated_at, p.provision_error, p.drift, p.drift_checked_at, \
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
                tx.commit().await.map_err(store_error)?;
                project.into_view(members, attempts).map(Some)
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
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
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
                let action = if spec.state == app::projects::model::ProjectState::Closed {
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

            async fn admin_addresses(&self) -> Result<Vec<String>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::projects_sql::SELECT_ADMIN_ADDRESSES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
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
