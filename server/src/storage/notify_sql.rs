//! SQL of status notifications: events, subscribers, webhooks and deliveries, shared by both backends through
//! [`impl_notify_store!`].

pub(crate) const INSERT_EVENT: &str = "INSERT INTO status_events \
     (kind, subject_id, status, message, component_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
pub(crate) const SELECT_EVENT: &str = "SELECT e.id, e.kind, e.subject_id, e.status, e.message, e.component_ids, \
     e.created_at, COALESCE(i.title, w.title, '') AS title, w.starts_at, w.ends_at FROM status_events e \
     LEFT JOIN incidents i ON e.kind LIKE 'incident.%' AND i.id = e.subject_id \
     LEFT JOIN maintenance_windows w ON e.kind LIKE 'maintenance.%' AND w.id = e.subject_id WHERE e.id = $1";
pub(crate) const SELECT_COMPONENT_NAMES: &str = "SELECT id, name FROM status_components";
pub(crate) const INSERT_DELIVERIES: &str = "INSERT INTO webhook_deliveries (webhook_id, event_id, created_at) \
     SELECT id, $1, $2 FROM webhooks WHERE removed_at IS NULL ON CONFLICT (webhook_id, event_id) DO NOTHING \
     RETURNING id";
pub(crate) const SELECT_RECIPIENTS: &str = "SELECT id, email, token, components FROM status_subscribers \
     WHERE confirmed_at IS NOT NULL AND unsubscribed_at IS NULL AND id > $1 ORDER BY id LIMIT $2";
pub(crate) const MARK_MAILED: &str = "INSERT INTO status_event_mails (event_id, subscriber_id) VALUES ($1, $2) \
     ON CONFLICT (event_id, subscriber_id) DO NOTHING";
pub(crate) const SELECT_DELIVERY: &str = "SELECT d.id, h.url, h.secret, \
     (d.delivered_at IS NOT NULL OR h.removed_at IS NOT NULL) AS finished, d.event_id \
     FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id WHERE d.id = $1";
pub(crate) const INSERT_ATTEMPT: &str = "INSERT INTO webhook_attempts (delivery_id, at, status_code, error, duration_ms) \
     VALUES ($1, $2, $3, $4, $5)";
pub(crate) const UPDATE_DELIVERY: &str = "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, \
     last_error = $3, delivered_at = CASE WHEN $4 THEN $5 ELSE delivered_at END WHERE id = $1";

pub(crate) const SELECT_SUBSCRIBER_BY_EMAIL: &str = "SELECT id, email, token, components, confirm_sent_at, \
     confirmed_at, unsubscribed_at FROM status_subscribers WHERE email = $1";
// A new address gets a row with the token; an existing one keeps its token and takes the new choice of components.
pub(crate) const UPSERT_SUBSCRIBER: &str = "INSERT INTO status_subscribers \
     (email, token, components, confirm_sent_at, created_at) VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (email) DO UPDATE SET components = excluded.components, confirm_sent_at = excluded.confirm_sent_at";
pub(crate) const CONFIRM_SUBSCRIBER: &str = "UPDATE status_subscribers SET confirmed_at = COALESCE(confirmed_at, $2), \
     unsubscribed_at = NULL WHERE token = $1";
pub(crate) const UNSUBSCRIBE: &str = "UPDATE status_subscribers SET unsubscribed_at = COALESCE(unsubscribed_at, $2) \
     WHERE token = $1";
pub(crate) const INSERT_WEBHOOK: &str = "INSERT INTO webhooks (url, secret, description, created_by, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id";
pub(crate) const REMOVE_WEBHOOK: &str = "UPDATE webhooks SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL";
pub(crate) const SELECT_WEBHOOKS: &str =
    "SELECT id, url, description FROM webhooks WHERE removed_at IS NULL ORDER BY id";
// Each live webhook's latest deliveries ($1 each), newest first.
pub(crate) const SELECT_RECENT_DELIVERIES: &str = "SELECT webhook_id, kind, created_at, attempts, last_status, \
     last_error, delivered_at FROM (SELECT d.webhook_id, e.kind, e.created_at, d.attempts, d.last_status, \
     d.last_error, d.delivered_at, d.id, ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.id DESC) AS n \
     FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id AND h.removed_at IS NULL \
     JOIN status_events e ON e.id = d.event_id) recent WHERE n <= $1 ORDER BY webhook_id, id DESC";

/// An event row.
pub(crate) type EventRow = (
    i64,
    String,
    i64,
    Option<String>,
    String,
    String,
    chrono::DateTime<chrono::Utc>,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);
/// A subscriber row.
pub(crate) type SubscriberRow = (
    i64,
    String,
    String,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);
/// A delivery row: webhook, kind, event time, attempts, last status, last error, delivered.
pub(crate) type DeliveryRow = (
    i64,
    String,
    chrono::DateTime<chrono::Utc>,
    i64,
    Option<i64>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// Comma-separated ids.
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Ids from their comma-separated list.
pub(crate) fn ids_of(list: &str) -> Vec<i64> {
    list.split(',').filter_map(|id| id.trim().parse().ok()).collect()
}

/// The event from its row and the component names.
pub(crate) fn event_of(
    (id, kind, subject_id, status, message, component_ids, at, title, starts, ends): EventRow,
    names: &std::collections::BTreeMap<i64, String>,
) -> crate::notify::StatusEvent {
    crate::notify::StatusEvent {
        id,
        kind,
        subject_id,
        title,
        status,
        message,
        components: crate::notify::names_of(&ids_of(&component_ids), names),
        window: starts.zip(ends),
        at,
    }
}

/// Implements the app's `NotificationStore` and the jobs' `NotifyStore` for a store type with `pool`,
/// `begin_write()`, `jobs_waker` and the account store's `insert_audit`, `insert_mail` and `insert_job`; and gives it
/// `insert_status_event`, which the status store calls in the transaction of each incident or maintenance change.
macro_rules! impl_notify_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Records a status event and queues its fan-out, in the transaction of `conn`.
            #[allow(clippy::too_many_arguments)]
            async fn insert_status_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                kind: &str,
                subject_id: i64,
                status: Option<&str>,
                message: &str,
                component_ids: &[i64],
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), sqlx::Error> {
                let event_id: i64 = sqlx::query_scalar($crate::storage::notify_sql::INSERT_EVENT)
                    .bind(kind)
                    .bind(subject_id)
                    .bind(status)
                    .bind(message)
                    .bind($crate::storage::notify_sql::id_list(component_ids))
                    .bind(at)
                    .fetch_one(&mut *conn)
                    .await?;
                Self::insert_job(conn, &$crate::jobs::JobPayload::NotifyStatus { event_id }, at).await
            }

            /// Runs `sql` (`$1` the token, `$2` now) on a subscriber; false when no subscriber has the token.
            async fn update_subscriber(
                &self,
                sql: &str,
                token: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let changed = sqlx::query(sql)
                    .bind(token)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                tx.commit().await.map_err(store_error)?;
                Ok(changed > 0)
            }
        }

        #[async_trait::async_trait]
        impl $crate::notify::NotifyStore for $store {
            async fn status_event(
                &self,
                id: i64,
            ) -> Result<Option<$crate::notify::StatusEvent>, app::error::StoreError> {
                use $crate::storage::notify_sql::*;
                use $crate::storage::store_error;
                let row: Option<EventRow> =
                    sqlx::query_as(SELECT_EVENT).bind(id).fetch_optional(&self.pool).await.map_err(store_error)?;
                let Some(row) = row else { return Ok(None) };
                let names: Vec<(i64, String)> =
                    sqlx::query_as(SELECT_COMPONENT_NAMES).fetch_all(&self.pool).await.map_err(store_error)?;
                Ok(Some(event_of(row, &names.into_iter().collect())))
            }

            async fn queue_webhook_deliveries(
                &self,
                event_id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<usize, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let ids: Vec<i64> = sqlx::query_scalar($crate::storage::notify_sql::INSERT_DELIVERIES)
                    .bind(event_id)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                for delivery_id in &ids {
                    let job = $crate::jobs::JobPayload::DeliverWebhook { delivery_id: *delivery_id };
                    Self::insert_job(&mut tx, &job, now).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                if !ids.is_empty() {
                    self.jobs_waker.notify_one();
                }
                Ok(ids.len())
            }

            async fn recipients_after(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<$crate::notify::Recipient>, app::error::StoreError> {
                let rows: Vec<(i64, String, String, String)> =
                    sqlx::query_as($crate::storage::notify_sql::SELECT_RECIPIENTS)
                        .bind(after)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, email, token, components)| $crate::notify::Recipient {
                        id,
                        email,
                        token,
                        components: $crate::storage::notify_sql::ids_of(&components),
                    })
                    .collect())
            }

            async fn queue_event_mails(
                &self,
                event_id: i64,
                mails: &[(i64, app::auth::ssr::OutgoingMail)],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<usize, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let mut queued = 0;
                for (subscriber_id, mail) in mails {
                    let fresh = sqlx::query($crate::storage::notify_sql::MARK_MAILED)
                        .bind(event_id)
                        .bind(subscriber_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    if fresh == 1 {
                        Self::insert_mail(&mut tx, mail, now).await.map_err(store_error)?;
                        queued += 1;
                    }
                }
                tx.commit().await.map_err(store_error)?;
                if queued > 0 {
                    self.jobs_waker.notify_one();
                }
                Ok(queued)
            }

            async fn webhook_delivery(
                &self,
                id: i64,
            ) -> Result<Option<$crate::notify::DeliveryWork>, app::error::StoreError> {
                let row: Option<(i64, String, String, bool, i64)> =
                    sqlx::query_as($crate::storage::notify_sql::SELECT_DELIVERY)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                let Some((id, url, secret, finished, event_id)) = row else { return Ok(None) };
                let event = $crate::notify::NotifyStore::status_event(self, event_id)
                    .await?
                    .ok_or_else(|| app::error::StoreError::Corrupt(format!("delivery {id} has no event")))?;
                Ok(Some($crate::notify::DeliveryWork { id, url, secret, finished, event }))
            }

            async fn record_attempt(
                &self,
                id: i64,
                status_code: Option<u16>,
                error: Option<&str>,
                duration: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::notify_sql::*;
                use $crate::storage::store_error;
                let code = status_code.map(i64::from);
                let delivered = status_code.is_some_and(|code| (200..300).contains(&code));
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query(INSERT_ATTEMPT)
                    .bind(id)
                    .bind(now)
                    .bind(code)
                    .bind(error)
                    .bind(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query(UPDATE_DELIVERY)
                    .bind(id)
                    .bind(code)
                    .bind(error)
                    .bind(delivered)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl app::status::notifications::ssr::NotificationStore for $store {
            async fn subscriber_by_email(
                &self,
                email: &str,
            ) -> Result<Option<app::status::notifications::ssr::SubscriberRecord>, app::error::StoreError> {
                let row: Option<$crate::storage::notify_sql::SubscriberRow> =
                    sqlx::query_as($crate::storage::notify_sql::SELECT_SUBSCRIBER_BY_EMAIL)
                        .bind(email)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(row.map(|(id, email, token, components, confirm_sent_at, confirmed_at, unsubscribed_at)| {
                    app::status::notifications::ssr::SubscriberRecord {
                        id,
                        email,
                        token,
                        components: $crate::storage::notify_sql::ids_of(&components),
                        confirm_sent_at,
                        confirmed_at,
                        unsubscribed_at,
                    }
                }))
            }

            async fn request_subscription(
                &self,
                email: &str,
                token: &str,
                components: &[i64],
                mail: &app::auth::ssr::OutgoingMail,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::notify_sql::UPSERT_SUBSCRIBER)
                    .bind(email)
                    .bind(token)
                    .bind($crate::storage::notify_sql::id_list(components))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_mail(&mut tx, mail, now).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(())
            }

            async fn confirm_subscription(
                &self,
                token: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                self.update_subscriber($crate::storage::notify_sql::CONFIRM_SUBSCRIBER, token, now).await
            }

            async fn unsubscribe(
                &self,
                token: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                self.update_subscriber($crate::storage::notify_sql::UNSUBSCRIBE, token, now).await
            }

            async fn add_webhook(
                &self,
                url: &str,
                secret: &str,
                description: &str,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<i64, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let id: i64 = sqlx::query_scalar($crate::storage::notify_sql::INSERT_WEBHOOK)
                    .bind(url)
                    .bind(secret)
                    .bind(description)
                    .bind(audit.actor_id)
                    .bind(audit.at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let audit = app::auth::ssr::NewAuditEntry { target: format!("webhook:{id}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(id)
            }

            async fn remove_webhook(
                &self,
                id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                self.update_audited($crate::storage::notify_sql::REMOVE_WEBHOOK, id, audit).await
            }

            async fn webhooks(
                &self,
            ) -> Result<Vec<app::status::notifications::ssr::WebhookRecord>, app::error::StoreError> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as($crate::storage::notify_sql::SELECT_WEBHOOKS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, url, description)| app::status::notifications::ssr::WebhookRecord {
                        id,
                        url,
                        description,
                    })
                    .collect())
            }

            async fn recent_deliveries(
                &self,
                per_webhook: u32,
            ) -> Result<Vec<app::status::notifications::ssr::DeliveryRecord>, app::error::StoreError> {
                let rows: Vec<$crate::storage::notify_sql::DeliveryRow> =
                    sqlx::query_as($crate::storage::notify_sql::SELECT_RECENT_DELIVERIES)
                        .bind(i64::from(per_webhook))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(webhook_id, event, at, attempts, last_status, last_error, delivered_at)| {
                        app::status::notifications::ssr::DeliveryRecord {
                            webhook_id,
                            event,
                            at,
                            attempts,
                            last_status,
                            last_error,
                            delivered_at,
                        }
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use impl_notify_store;
