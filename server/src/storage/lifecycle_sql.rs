//! SQL of a project's change requests, closing and expiry, shared by both backends through
//! [`impl_lifecycle_store!`]. Every change is one conditional update of the state it leaves, with its event, mail,
//! audit row and provisioning job in the same transaction.

pub(crate) const SELECT_REQUESTS: &str = "SELECT r.id, r.project_id, p.name AS project, r.kind, r.state, \
     COALESCE(u.email, '') AS requested_by, r.reason, r.from_quota, r.quota, r.from_end_date, r.end_date, \
     r.granted_quota, r.granted_end_date, r.rule, d.email AS decided_by, r.decided_at, r.decision_reason, \
     r.created_at FROM project_requests r JOIN projects p ON p.id = r.project_id \
     JOIN users u ON u.id = r.requested_by LEFT JOIN users d ON d.id = r.decided_by";
pub(crate) const OF_PROJECT: &str = " WHERE r.project_id = $1 ORDER BY r.id DESC LIMIT 50";
pub(crate) const PENDING_OLDEST_FIRST: &str = " WHERE r.state = 'pending' ORDER BY r.created_at, r.id LIMIT 500";
pub(crate) const BY_ID: &str = " WHERE r.id = $1";
pub(crate) const SELECT_BASIS: &str = "SELECT state, cpu_cores, memory_gib, storage_gib, pods, gpus, end_date, \
     last_increase_at FROM projects WHERE id = $1";
pub(crate) const COUNT_PENDING: &str =
    "SELECT COUNT(*) FROM project_requests WHERE project_id = $1 AND kind = $2 AND state = 'pending'";
pub(crate) const INSERT_REQUEST: &str = "INSERT INTO project_requests (project_id, kind, state, requested_by, \
     reason, from_quota, quota, from_end_date, end_date, granted_quota, granted_end_date, rule, decided_at, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id";
pub(crate) const SET_QUOTA: &str = "UPDATE projects SET cpu_cores = $2, memory_gib = $3, storage_gib = $4, \
     pods = $5, gpus = $6, last_increase_at = $7, updated_at = $8 WHERE id = $1";
// The CASE expressions read the row as it was: a renewal resumes a project that its end date suspended.
pub(crate) const SET_END_DATE: &str = "UPDATE projects SET end_date = $2, \
     state = CASE WHEN state = 'suspended' AND expired_at IS NOT NULL THEN 'active' ELSE state END, \
     suspend_reason = CASE WHEN state = 'suspended' AND expired_at IS NOT NULL THEN NULL ELSE suspend_reason END, \
     expired_at = NULL, updated_at = $3 WHERE id = $1";
pub(crate) const DECIDE_REQUEST: &str = "UPDATE project_requests SET state = $3, granted_quota = $4, \
     granted_end_date = $5, decided_by = $6, decided_at = $7, decision_reason = $8, updated_at = $7 \
     WHERE id = $1 AND project_id = $2 AND state = 'pending'";
pub(crate) const SELECT_DECIDED: &str = "SELECT r.state, d.email, r.decided_at FROM project_requests r \
     LEFT JOIN users d ON d.id = r.decided_by WHERE r.id = $1 AND r.project_id = $2";
pub(crate) const CLOSE: &str = "UPDATE projects SET state = 'closed', closed_at = $2, delete_after = $3, \
     close_reason = $4, updated_at = $2 WHERE id = $1 AND state <> 'closed'";
pub(crate) const WITHDRAW_ON_CLOSE: &str = "UPDATE project_requests SET state = 'withdrawn', \
     decision_reason = 'the project was closed', decided_at = $2, updated_at = $2 \
     WHERE project_id = $1 AND state = 'pending'";
// Back to the state it was closed in: suspended (its reason is kept), provisioning (never active), or active.
pub(crate) const RESTORE: &str = "UPDATE projects SET state = CASE WHEN suspend_reason IS NOT NULL THEN 'suspended' \
     WHEN activated_at IS NULL THEN 'provisioning' ELSE 'active' END, closed_at = NULL, delete_after = NULL, \
     close_reason = NULL, updated_at = $2 \
     WHERE id = $1 AND state = 'closed' AND deleted_at IS NULL AND delete_after > $2";
pub(crate) const SELECT_CANDIDATES: &str = "SELECT id, name, state, end_date, reminded_30_for, reminded_7_for, \
     delete_after FROM projects WHERE (state IN ('active', 'suspended') AND end_date <= $1) \
     OR (state = 'closed' AND deleted_at IS NULL AND delete_after <= $2) ORDER BY id";
pub(crate) const REMINDED_30: &str = "UPDATE projects SET reminded_30_for = $2 \
     WHERE id = $1 AND end_date = $2 AND (reminded_30_for IS NULL OR reminded_30_for <> $2)";
pub(crate) const REMINDED_7: &str = "UPDATE projects SET reminded_7_for = $2 \
     WHERE id = $1 AND end_date = $2 AND (reminded_7_for IS NULL OR reminded_7_for <> $2)";
pub(crate) const EXPIRE: &str = "UPDATE projects SET state = 'suspended', suspend_reason = $3, expired_at = $4, \
     updated_at = $4 WHERE id = $1 AND state = 'active' AND end_date < $2";
pub(crate) const DELETION_DUE: &str = "SELECT COUNT(*) FROM projects \
     WHERE id = $1 AND state = 'closed' AND deleted_at IS NULL AND delete_after <= $2";
pub(crate) const SET_DELETED: &str = "UPDATE projects SET deleted_at = $2 WHERE id = $1 AND state = 'closed'";
/// The name of the daily sweep's run in `scheduled_runs`.
pub(crate) const LIFECYCLE_RUN: &str = "project_lifecycle";

/// Implements `LifecycleStore` for a store type that has the project store's helpers (`lock_project`,
/// `queue_provisioning`, `insert_project_event`) and the account store's `insert_audit`, `insert_mail` and `insert_job`.
macro_rules! impl_lifecycle_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn requests_where(
                &self,
                filter: &str,
                id: Option<i64>,
            ) -> Result<Vec<(i64, app::projects::requests::RequestView)>, app::error::StoreError> {
                let sql = format!("{}{filter}", $crate::storage::lifecycle_sql::SELECT_REQUESTS);
                let query = sqlx::query_as::<_, $crate::storage::rows::RequestRow>(&sql);
                let query = match id {
                    Some(id) => query.bind(id),
                    None => query,
                };
                query
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?
                    .into_iter()
                    .map($crate::storage::rows::RequestRow::into_view)
                    .collect()
            }

            /// The project's quota becomes `quota`; an increase of any resource over `current` is remembered for
            /// the auto-approval rules.
            async fn apply_quota(
                conn: &mut <$db as sqlx::Database>::Connection,
                project_id: i64,
                current: &app::applications::model::Quota,
                quota: &app::applications::model::Quota,
                last_increase_at: Option<chrono::DateTime<chrono::Utc>>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                let increase = app::applications::model::RESOURCES
                    .into_iter()
                    .any(|resource| quota.get(resource) > current.get(resource));
                sqlx::query($crate::storage::lifecycle_sql::SET_QUOTA)
                    .bind(project_id)
                    .bind(i64::from(quota.cpu_cores))
                    .bind(i64::from(quota.memory_gib))
                    .bind(i64::from(quota.storage_gib))
                    .bind(i64::from(quota.pods))
                    .bind(i64::from(quota.gpus))
                    .bind(if increase { Some(now) } else { last_increase_at })
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::storage::store_error)?;
                Self::queue_provisioning(&mut *conn, project_id, now).await
            }

            /// The project as a request sees it, under the transaction's lock.
            async fn request_basis(
                conn: &mut <$db as sqlx::Database>::Connection,
                project_id: i64,
            ) -> Result<Option<app::projects::ssr::lifecycle::RequestBasis>, app::error::StoreError> {
                use $crate::storage::store_error;
                Self::lock_project(&mut *conn, project_id).await?;
                #[allow(clippy::type_complexity)]
                let row: Option<(
                    String,
                    i64,
                    i64,
                    i64,
                    i64,
                    i64,
                    chrono::NaiveDate,
                    Option<chrono::DateTime<chrono::Utc>>,
                )> = sqlx::query_as($crate::storage::lifecycle_sql::SELECT_BASIS)
                    .bind(project_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let Some((state, cpu, memory, storage, pods, gpus, end_date, last_increase_at)) = row else {
                    return Ok(None);
                };
                Ok(Some(app::projects::ssr::lifecycle::RequestBasis {
                    state: $crate::storage::rows::project_state_of(&state)?,
                    quota: $crate::storage::rows::quota_of(cpu, memory, storage, pods, gpus)?,
                    end_date,
                    last_increase_at,
                }))
            }

            async fn finish_change(
                &self,
                mut tx: <$store as $crate::storage::WriteTransactions>::Write,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                for message in mail {
                    Self::insert_mail(&mut tx, message, audit.at).await.map_err(store_error)?;
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl app::projects::ssr::lifecycle::LifecycleStore for $store {
            async fn project_requests(
                &self,
                project_id: i64,
            ) -> Result<Vec<app::projects::requests::RequestView>, app::error::StoreError> {
                let rows = self.requests_where($crate::storage::lifecycle_sql::OF_PROJECT, Some(project_id)).await?;
                Ok(rows.into_iter().map(|(_, view)| view).collect())
            }

            async fn pending_requests(
                &self,
            ) -> Result<Vec<app::projects::requests::RequestView>, app::error::StoreError> {
                let rows = self.requests_where($crate::storage::lifecycle_sql::PENDING_OLDEST_FIRST, None).await?;
                Ok(rows.into_iter().map(|(_, view)| view).collect())
            }

            async fn request(
                &self,
                request_id: i64,
            ) -> Result<Option<(i64, app::projects::requests::RequestView)>, app::error::StoreError> {
                Ok(self
                    .requests_where($crate::storage::lifecycle_sql::BY_ID, Some(request_id))
                    .await?
                    .into_iter()
                    .next())
            }

            async fn create_request(
                &self,
                request: &app::projects::ssr::lifecycle::NewRequest,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::projects::ssr::lifecycle::CreateOutcome, app::error::StoreError> {
                use app::projects::requests::{RequestKind, RequestState, quota_change_summary};
                use app::projects::ssr::lifecycle::CreateOutcome;
                use $crate::storage::lifecycle_sql::*;
                use $crate::storage::rows::quota_json;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let basis = Self::request_basis(&mut tx, request.project_id).await?;
                if basis.as_ref() != Some(&request.basis) {
                    return Ok(CreateOutcome::Stale);
                }
                let pending: i64 = sqlx::query_scalar(COUNT_PENDING)
                    .bind(request.project_id)
                    .bind(request.kind.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if pending > 0 && !request.auto_approved {
                    return Ok(CreateOutcome::AlreadyPending);
                }
                let (state, granted, decided_at) = if request.auto_approved {
                    (RequestState::Approved, request.quota.as_ref(), Some(audit.at))
                } else {
                    (RequestState::Pending, None, None)
                };
                let is_quota = request.kind == RequestKind::Quota;
                let id: i64 = sqlx::query_scalar(INSERT_REQUEST)
                    .bind(request.project_id)
                    .bind(request.kind.as_str())
                    .bind(state.as_str())
                    .bind(request.requested_by)
                    .bind(&request.reason)
                    .bind(quota_json(Some(&request.basis.quota).filter(|_| is_quota)))
                    .bind(quota_json(request.quota.as_ref()))
                    .bind(Some(request.basis.end_date).filter(|_| !is_quota))
                    .bind(request.end_date)
                    .bind(quota_json(granted))
                    .bind(None::<chrono::NaiveDate>)
                    .bind(&request.rule)
                    .bind(decided_at)
                    .bind(audit.at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let summary = match (request.kind, &request.quota, request.end_date) {
                    (RequestKind::Quota, Some(quota), _) => {
                        let change = quota_change_summary(&request.basis.quota, quota);
                        if request.auto_approved {
                            Self::apply_quota(
                                &mut tx,
                                request.project_id,
                                &request.basis.quota,
                                quota,
                                request.basis.last_increase_at,
                                audit.at,
                            )
                            .await?;
                            format!("changed the quota: {change} ({})", request.rule.clone().unwrap_or_default())
                        } else {
                            format!("asked for a quota change: {change}")
                        }
                    }
                    (_, _, Some(end_date)) => format!("asked to renew the project until {end_date}"),
                    _ => "asked for a change".to_owned(),
                };
                Self::insert_project_event(&mut tx, request.project_id, Some(id), audit, "request", &summary).await?;
                self.finish_change(tx, mail, audit).await?;
                Ok(CreateOutcome::Created { id })
            }

            async fn decide_request(
                &self,
                decision: &app::projects::ssr::lifecycle::RequestDecision,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::projects::ssr::lifecycle::DecideOutcome, app::error::StoreError> {
                use app::projects::requests::{RequestKind, RequestState};
                use app::projects::ssr::lifecycle::DecideOutcome;
                use $crate::storage::lifecycle_sql::*;
                use $crate::storage::rows::quota_json;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let Some(basis) = Self::request_basis(&mut tx, decision.project_id).await? else {
                    return Ok(DecideOutcome::NotFound);
                };
                let changed = sqlx::query(DECIDE_REQUEST)
                    .bind(decision.request_id)
                    .bind(decision.project_id)
                    .bind(decision.state.as_str())
                    .bind(quota_json(decision.granted_quota.as_ref()))
                    .bind(decision.granted_end_date)
                    .bind(decision.decided_by)
                    .bind(audit.at)
                    .bind(&decision.reason)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if changed == 0 {
                    let row: Option<(String, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> =
                        sqlx::query_as(SELECT_DECIDED)
                            .bind(decision.request_id)
                            .bind(decision.project_id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(store_error)?;
                    return Ok(match row {
                        None => DecideOutcome::NotFound,
                        Some((state, by, at)) => DecideOutcome::AlreadyDecided {
                            state: RequestState::parse(&state).ok_or_else(|| {
                                app::error::StoreError::Corrupt(format!("unknown request state {state:?}"))
                            })?,
                            by,
                            at,
                        },
                    });
                }
                let kind = decision.kind.label().to_lowercase();
                let summary = match (decision.state, decision.kind) {
                    (RequestState::Approved, RequestKind::Quota) => {
                        let granted = decision.granted_quota.unwrap_or(basis.quota);
                        Self::apply_quota(
                            &mut tx,
                            decision.project_id,
                            &basis.quota,
                            &granted,
                            basis.last_increase_at,
                            audit.at,
                        )
                        .await?;
                        format!(
                            "approved the quota change: {}",
                            app::projects::requests::quota_change_summary(&basis.quota, &granted)
                        )
                    }
                    (RequestState::Approved, RequestKind::Renewal) => {
                        let end_date = decision.granted_end_date.unwrap_or(basis.end_date);
                        sqlx::query(SET_END_DATE)
                            .bind(decision.project_id)
                            .bind(end_date)
                            .bind(audit.at)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        Self::queue_provisioning(&mut tx, decision.project_id, audit.at).await?;
                        format!("renewed the project until {end_date}")
                    }
                    (RequestState::Rejected, _) => format!(
                        "rejected the {kind} request ({}): {}",
                        decision.summary,
                        decision.reason.clone().unwrap_or_default()
                    ),
                    _ => format!("withdrew the {kind} request ({})", decision.summary),
                };
                let summary = match (&decision.reason, decision.state) {
                    (Some(reason), RequestState::Approved) => format!("{summary} ({reason})"),
                    _ => summary,
                };
                Self::insert_project_event(
                    &mut tx,
                    decision.project_id,
                    Some(decision.request_id),
                    audit,
                    "decide",
                    &summary,
                )
                .await?;
                self.finish_change(tx, mail, audit).await?;
                Ok(DecideOutcome::Done)
            }

            async fn close_project(
                &self,
                project_id: i64,
                reason: Option<&str>,
                delete_after: chrono::DateTime<chrono::Utc>,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::lifecycle_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let closed = sqlx::query(CLOSE)
                    .bind(project_id)
                    .bind(audit.at)
                    .bind(delete_after)
                    .bind(reason)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if closed == 0 {
                    return Ok(false);
                }
                sqlx::query(WITHDRAW_ON_CLOSE)
                    .bind(project_id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let summary = format!(
                    "closed the project{} (quota set to zero; the namespace is deleted after {} UTC)",
                    reason.map(|reason| format!(": {reason}")).unwrap_or_default(),
                    delete_after.format("%Y-%m-%d %H:%M")
                );
                Self::insert_project_event(&mut tx, project_id, None, audit, "close", &summary).await?;
                Self::queue_provisioning(&mut tx, project_id, audit.at).await?;
                self.finish_change(tx, mail, audit).await?;
                Ok(true)
            }

            async fn restore_project(
                &self,
                project_id: i64,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let restored = sqlx::query($crate::storage::lifecycle_sql::RESTORE)
                    .bind(project_id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if restored == 0 {
                    return Ok(false);
                }
                Self::insert_project_event(
                    &mut tx,
                    project_id,
                    None,
                    audit,
                    "restore",
                    "restored the project (it is no longer closed)",
                )
                .await?;
                Self::queue_provisioning(&mut tx, project_id, audit.at).await?;
                self.finish_change(tx, mail, audit).await?;
                Ok(true)
            }

            async fn lifecycle_candidates(
                &self,
                remind_until: chrono::NaiveDate,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<app::projects::ssr::lifecycle::LifecycleCandidate>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::LifecycleCandidateRow>(
                    $crate::storage::lifecycle_sql::SELECT_CANDIDATES,
                )
                .bind(remind_until)
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .into_iter()
                .map($crate::storage::rows::LifecycleCandidateRow::into_candidate)
                .collect()
            }

            async fn remind_expiry(
                &self,
                project_id: i64,
                days: u32,
                end_date: chrono::NaiveDate,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::lifecycle_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let sql = if days <= 7 { REMINDED_7 } else { REMINDED_30 };
                let marked = sqlx::query(sql)
                    .bind(project_id)
                    .bind(end_date)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if marked == 0 {
                    return Ok(false);
                }
                let summary = format!("reminded the managers that the project ends on {end_date}");
                Self::insert_project_event(&mut tx, project_id, None, audit, "expiry_reminder", &summary).await?;
                self.finish_change(tx, mail, audit).await?;
                Ok(true)
            }

            async fn expire_project(
                &self,
                project_id: i64,
                today: chrono::NaiveDate,
                reason: &str,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let expired = sqlx::query($crate::storage::lifecycle_sql::EXPIRE)
                    .bind(project_id)
                    .bind(today)
                    .bind(reason)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if expired == 0 {
                    return Ok(false);
                }
                let summary = format!("suspended the project (quota set to zero): {reason}");
                Self::insert_project_event(&mut tx, project_id, None, audit, "expire", &summary).await?;
                Self::queue_provisioning(&mut tx, project_id, audit.at).await?;
                self.finish_change(tx, mail, audit).await?;
                Ok(true)
            }

            async fn queue_deletion(
                &self,
                project_id: i64,
                now: chrono::DateTime<chrono::Utc>,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                Self::lock_project(&mut tx, project_id).await?;
                let due: i64 = sqlx::query_scalar($crate::storage::lifecycle_sql::DELETION_DUE)
                    .bind(project_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if due == 0 {
                    return Ok(false);
                }
                Self::insert_project_event(
                    &mut tx,
                    project_id,
                    None,
                    audit,
                    "delete",
                    "the grace period is over: deleting the namespace",
                )
                .await?;
                Self::queue_provisioning(&mut tx, project_id, audit.at).await?;
                self.finish_change(tx, &[], audit).await?;
                Ok(true)
            }

            async fn admin_addresses(&self) -> Result<Vec<String>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::projects_sql::SELECT_ADMIN_ADDRESSES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn schedule_lifecycle(
                &self,
                day: chrono::NaiveDate,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let inserted = sqlx::query($crate::storage::applications_sql::INSERT_SCHEDULED_RUN)
                    .bind($crate::storage::lifecycle_sql::LIFECYCLE_RUN)
                    .bind(day.to_string())
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if inserted == 0 {
                    return Ok(false);
                }
                // Due now on the real clock, whatever time the sweep is for.
                Self::insert_job(&mut tx, &$crate::jobs::JobPayload::ProjectLifecycle { at }, chrono::Utc::now())
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }
        }
    };
}

pub(crate) use impl_lifecycle_store;
