//! SQL of the account store, shared by both backends through [`impl_account_store!`] like the status store's.
//! Every change writes its audit row, and any mail it causes, in the same transaction.

pub(crate) const SELECT_USER: &str = "SELECT id, email, display_name, organisation, role, terms_version, \
     terms_accepted_at, disabled_at, created_at FROM users WHERE id = $1";
pub(crate) const SELECT_USER_BY_EMAIL: &str = "SELECT id, email, display_name, organisation, role, terms_version, \
     terms_accepted_at, disabled_at, created_at FROM users WHERE email = $1";
pub(crate) const SELECT_USERS: &str = "SELECT id, email, display_name, organisation, role, terms_version, \
     terms_accepted_at, disabled_at, created_at FROM users ORDER BY id DESC LIMIT $1";
pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (email, role, created_at, updated_at) VALUES ($1, 'user', $2, $2) RETURNING id";
pub(crate) const UPDATE_ROLE: &str = "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1 AND role <> $2";
// Recorded even when the role stays as it was: a revocation by a person must stop `admin_emails` from granting it.
pub(crate) const SET_ROLE_SOURCE: &str = "UPDATE users SET role_source = $2 WHERE id = $1";
// `admin_emails` grants the role only to an address proven by an e-mail link (an `email` identity of that address)
// and only while no person ever set the role.
pub(crate) const GRANT_CONFIG_ADMIN: &str = "UPDATE users SET role = 'admin', role_source = 'config', \
     updated_at = $2 WHERE id = $1 AND role <> 'admin' AND role_source IS NULL AND EXISTS (SELECT 1 FROM identities \
     WHERE identities.user_id = users.id AND identities.provider = 'email' AND identities.subject = users.email)";
pub(crate) const DISABLE_USER: &str =
    "UPDATE users SET disabled_at = $2, updated_at = $2 WHERE id = $1 AND disabled_at IS NULL";
pub(crate) const ENABLE_USER: &str =
    "UPDATE users SET disabled_at = NULL, updated_at = $2 WHERE id = $1 AND disabled_at IS NOT NULL";
pub(crate) const COMPLETE_SIGN_UP: &str = "UPDATE users SET display_name = $2, organisation = $3, \
     terms_version = $4, terms_accepted_at = $5, updated_at = $5 WHERE id = $1";
pub(crate) const UPDATE_PROFILE: &str =
    "UPDATE users SET display_name = $2, organisation = $3, updated_at = $4 WHERE id = $1";

// Identities are keyed by provider, issuer and subject. A row from before issuers were recorded has the issuer ''
// and is taken by the provider's current issuer at its next sign-in; an exact match wins over such a row.
pub(crate) const SELECT_IDENTITY_OWNER: &str = "SELECT id, user_id FROM identities \
     WHERE provider = $1 AND subject = $2 AND issuer IN ($3, '') ORDER BY issuer DESC LIMIT 1";
pub(crate) const TOUCH_IDENTITY: &str = "UPDATE identities SET last_sign_in_at = $2, email = COALESCE($3, email), \
     issuer = CASE WHEN issuer = '' THEN $4 ELSE issuer END WHERE id = $1";
pub(crate) const INSERT_IDENTITY: &str = "INSERT INTO identities \
     (user_id, provider, issuer, subject, email, created_at, last_sign_in_at) VALUES ($1, $2, $3, $4, $5, $6, $6)";
pub(crate) const SELECT_IDENTITIES: &str =
    "SELECT provider, email, last_sign_in_at FROM identities WHERE user_id = $1 ORDER BY created_at, id";

pub(crate) const INSERT_USER_SESSION: &str = "INSERT INTO user_sessions \
     (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent) VALUES ($1, $2, $3, $3, $4, $5, $6)";
pub(crate) const SELECT_USER_SESSION: &str = "SELECT s.id AS session_id, s.user_id, \
     s.created_at AS session_created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, u.email, u.display_name, \
     u.organisation, u.role, u.terms_version, u.terms_accepted_at, u.disabled_at, u.created_at AS user_created_at \
     FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1";
pub(crate) const SELECT_USER_SESSIONS: &str = "SELECT id, user_id, created_at, last_seen_at, expires_at, ip, \
     user_agent FROM user_sessions WHERE user_id = $1 ORDER BY created_at DESC, id";
pub(crate) const TOUCH_USER_SESSION: &str = "UPDATE user_sessions SET last_seen_at = $2 WHERE id = $1";
pub(crate) const DELETE_USER_SESSION: &str = "DELETE FROM user_sessions WHERE id = $1 AND user_id = $2";
pub(crate) const DELETE_USER_SESSIONS: &str = "DELETE FROM user_sessions WHERE user_id = $1";

pub(crate) const INSERT_SIGN_IN_LINK: &str = "INSERT INTO sign_in_links \
     (token_hash, email, created_at, expires_at, join_provider, join_issuer, join_subject) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
// One statement, so that two requests racing with the same link cannot both use it.
pub(crate) const CONSUME_SIGN_IN_LINK: &str = "UPDATE sign_in_links SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
     RETURNING email, join_provider, join_issuer, join_subject";
pub(crate) const PREVIEW_SIGN_IN_LINK: &str = "SELECT email, join_provider FROM sign_in_links \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
// A successful sign-in ends the other links of the address: one that leaked cannot be used afterwards.
pub(crate) const END_UNUSED_SIGN_IN_LINKS: &str =
    "UPDATE sign_in_links SET used_at = $2 WHERE email = $1 AND used_at IS NULL";
// Used and expired links are kept a day, for support questions, then deleted with the next request.
pub(crate) const DELETE_OLD_SIGN_IN_LINKS: &str = "DELETE FROM sign_in_links WHERE expires_at < $1";

pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO outbox \
     (recipient, subject, text_body, html_body, created_at, secret_expires_at, list_unsubscribe) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
// A job whose dedupe key is already waiting or running is not queued again (the partial unique index on
// `dedupe_key` among jobs not done).
pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (kind, payload, run_at, created_at, dedupe_key) \
     VALUES ($1, $2, $3, $3, $4) ON CONFLICT DO NOTHING";

pub(crate) const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, actor_id, actor, action, target, ip, details) VALUES ($1, $2, $3, $4, $5, $6, $7)";
// Each filter applies only when given. `actor` matches anywhere, `action` as a prefix; both patterns are escaped.
pub(crate) const SELECT_AUDIT: &str = "SELECT id, at, actor, action, target, ip, details FROM audit_log \
     WHERE ($1 IS NULL OR actor LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR action LIKE $2 ESCAPE '\\') \
     AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) AND ($5 IS NULL OR id < $5) \
     ORDER BY id DESC LIMIT $6";

/// `text` as a LIKE pattern that matches it literally (with `\` as the escape character).
pub(crate) fn like_literal(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// Implements `AccountStore` for a store type with a `pool` field of database `$db`, a `begin_write()` method and
/// a `jobs_waker` (`Arc<Notify>`) that is told when mail is queued.
macro_rules! impl_account_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Runs `sql`, a conditional update of the row `id` (`$1`) at the audit's time (`$2`); when it changed the
            /// row, adds `audit` in the same transaction. False when no row matched.
            async fn update_audited(
                &self,
                sql: &str,
                id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let changed =
                    sqlx::query(sql).bind(id).bind(audit.at).execute(&mut *tx).await.map_err(store_error)?.rows_affected();
                if changed == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(false);
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn insert_audit(
                conn: &mut <$db as sqlx::Database>::Connection,
                entry: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), sqlx::Error> {
                sqlx::query($crate::storage::accounts_sql::INSERT_AUDIT)
                    .bind(entry.at)
                    .bind(entry.actor_id)
                    .bind(&entry.actor)
                    .bind(&entry.action)
                    .bind(&entry.target)
                    .bind(&entry.ip)
                    .bind(entry.details.to_string())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn insert_mail(
                conn: &mut <$db as sqlx::Database>::Connection,
                mail: &app::auth::ssr::OutgoingMail,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), sqlx::Error> {
                let outbox_id: i64 = sqlx::query_scalar($crate::storage::accounts_sql::INSERT_OUTBOX)
                    .bind(mail.recipient.as_str())
                    .bind(&mail.subject)
                    .bind(&mail.text_body)
                    .bind(&mail.html_body)
                    .bind(now)
                    .bind(mail.secret_expires_at)
                    .bind(mail.list_unsubscribe.as_deref())
                    .fetch_one(&mut *conn)
                    .await?;
                Self::insert_job(conn, &$crate::jobs::JobPayload::SendMail { outbox_id }, now).await
            }

            /// Queues `job` in the transaction of `conn`; does nothing when its dedupe key is already queued.
            async fn insert_job(
                conn: &mut <$db as sqlx::Database>::Connection,
                job: &$crate::jobs::JobPayload,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), sqlx::Error> {
                sqlx::query($crate::storage::accounts_sql::INSERT_JOB)
                    .bind(job.kind())
                    .bind(job.to_json())
                    .bind(now)
                    .bind(job.dedupe_key())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// The rows `sql` selects for `user_id` (its only parameter), converted.
            async fn rows_of_user<R, T>(&self, sql: &'static str, user_id: i64) -> Result<Vec<T>, app::error::StoreError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
                T: From<R>,
            {
                let rows = sqlx::query_as::<_, R>(sql)
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows.into_iter().map(T::from).collect())
            }

            async fn load_user(
                conn: &mut <$db as sqlx::Database>::Connection,
                user_id: i64,
            ) -> Result<Option<app::auth::ssr::User>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::UserRow>($crate::storage::accounts_sql::SELECT_USER)
                    .bind(user_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err($crate::storage::store_error)?
                    .map($crate::storage::rows::UserRow::into_user)
                    .transpose()
            }
        }

        #[async_trait::async_trait]
        impl app::auth::ssr::AccountStore for $store {
            async fn create_sign_in_link(
                &self,
                token_hash: &str,
                email: &app::email::EmailAddress,
                expires_at: chrono::DateTime<chrono::Utc>,
                joins: Option<&app::auth::ssr::VerifiedIdentity>,
                mail: &app::auth::ssr::OutgoingMail,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::accounts_sql::*;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query(DELETE_OLD_SIGN_IN_LINKS)
                    .bind(now - chrono::Duration::days(1))
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query(INSERT_SIGN_IN_LINK)
                    .bind(token_hash)
                    .bind(email.as_str())
                    .bind(now)
                    .bind(expires_at)
                    .bind(joins.map(|identity| identity.provider.as_str()))
                    .bind(joins.map(|identity| identity.issuer.as_str()))
                    .bind(joins.map(|identity| identity.subject.as_str()))
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_mail(&mut tx, mail, now).await.map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(())
            }

            async fn consume_sign_in_link(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<app::auth::ssr::ConsumedLink>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ConsumedLinkRow>(
                    $crate::storage::accounts_sql::CONSUME_SIGN_IN_LINK,
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .map($crate::storage::rows::ConsumedLinkRow::into_link)
                .transpose()
            }

            async fn sign_in_link_preview(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<(app::email::EmailAddress, Option<String>)>, app::error::StoreError> {
                let row: Option<(String, Option<String>)> =
                    sqlx::query_as($crate::storage::accounts_sql::PREVIEW_SIGN_IN_LINK)
                        .bind(token_hash)
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                row.map(|(email, joins)| {
                    app::email::EmailAddress::parse(&email)
                        .map(|email| (email, joins))
                        .map_err(|error| app::error::StoreError::Corrupt(error.to_string()))
                })
                .transpose()
            }

            async fn sign_in(
                &self,
                identity: &app::auth::ssr::VerifiedIdentity,
                admin: bool,
                session: &app::auth::ssr::UserSession,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::auth::ssr::SignInOutcome, app::error::StoreError> {
                use app::auth::ssr::{NewAuditEntry, SignInOutcome};
                use $crate::storage::accounts_sql::*;
                use $crate::storage::rows::UserRow;
                use $crate::storage::store_error;
                let now = audit.at;
                let email = identity.email.as_ref().map(app::email::EmailAddress::as_str);
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let owner: Option<(i64, i64)> = sqlx::query_as(SELECT_IDENTITY_OWNER)
                    .bind(&identity.provider)
                    .bind(&identity.subject)
                    .bind(&identity.issuer)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let mut created = false;
                let user_id = if let Some((identity_id, user_id)) = owner {
                    sqlx::query(TOUCH_IDENTITY)
                        .bind(identity_id)
                        .bind(now)
                        .bind(email)
                        .bind(&identity.issuer)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    user_id
                } else {
                    let by_email = match email {
                        Some(email) => sqlx::query_as::<_, UserRow>(SELECT_USER_BY_EMAIL)
                            .bind(email)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(store_error)?,
                        None => None,
                    };
                    let user_id = match by_email {
                        // An e-mail link proves the address, so it may join the account with that address.
                        Some(user) if identity.provider == "email" => user.id,
                        Some(_) => return Ok(SignInOutcome::EmailTaken),
                        None => {
                            created = true;
                            sqlx::query_scalar::<_, i64>(INSERT_USER)
                                .bind(email)
                                .bind(now)
                                .fetch_one(&mut *tx)
                                .await
                                .map_err(store_error)?
                        }
                    };
                    sqlx::query(INSERT_IDENTITY)
                        .bind(user_id)
                        .bind(&identity.provider)
                        .bind(&identity.issuer)
                        .bind(&identity.subject)
                        .bind(email)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    user_id
                };
                let Some(mut user) = Self::load_user(&mut tx, user_id).await? else {
                    return Err(app::error::StoreError::Corrupt(format!("identity of missing user {user_id}")));
                };
                if user.disabled {
                    return Ok(SignInOutcome::Disabled);
                }
                let target = format!("user:{user_id}");
                let actor = NewAuditEntry { actor_id: Some(user_id), target: target.clone(), ..audit.clone() };
                if created {
                    let entry = NewAuditEntry { action: "user.sign_up".into(), ..actor.clone() };
                    Self::insert_audit(&mut tx, &entry).await.map_err(store_error)?;
                }
                let granted = admin
                    && user.role != app::auth::model::Role::Admin
                    && sqlx::query(GRANT_CONFIG_ADMIN)
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?
                        .rows_affected()
                        > 0;
                if granted {
                    user.role = app::auth::model::Role::Admin;
                    let entry = NewAuditEntry {
                        actor_id: None,
                        actor: "system".into(),
                        action: "user.role_grant".into(),
                        details: serde_json::json!({
                            "role": "admin",
                            "reason": "listed in admin_emails, address proven by an e-mail link"
                        }),
                        ..actor.clone()
                    };
                    Self::insert_audit(&mut tx, &entry).await.map_err(store_error)?;
                }
                if let Some(address) = &user.email {
                    sqlx::query(END_UNUSED_SIGN_IN_LINKS)
                        .bind(address.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                sqlx::query(INSERT_USER_SESSION)
                    .bind(&session.id)
                    .bind(user_id)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .bind(&session.ip)
                    .bind(&session.user_agent)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_audit(&mut tx, &actor).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(SignInOutcome::SignedIn { user, created })
            }

            async fn user(&self, id: i64) -> Result<Option<app::auth::ssr::User>, app::error::StoreError> {
                let mut conn = self.pool.acquire().await.map_err($crate::storage::store_error)?;
                Self::load_user(&mut conn, id).await
            }

            async fn user_session(
                &self,
                id: &str,
            ) -> Result<Option<(app::auth::ssr::UserSession, app::auth::ssr::User)>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::SessionUserRow>(
                    $crate::storage::accounts_sql::SELECT_USER_SESSION,
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .map($crate::storage::rows::SessionUserRow::into_parts)
                .transpose()
            }

            async fn touch_user_session(
                &self,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                sqlx::query($crate::storage::accounts_sql::TOUCH_USER_SESSION)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }

            async fn complete_sign_up(
                &self,
                user_id: i64,
                name: &app::auth::model::DisplayName,
                organisation: &app::auth::model::Organisation,
                terms_version: &str,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::accounts_sql::COMPLETE_SIGN_UP)
                    .bind(user_id)
                    .bind(name.as_str())
                    .bind(organisation.as_str())
                    .bind(terms_version)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }

            async fn end_session(
                &self,
                user_id: i64,
                session_id: &str,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let ended = sqlx::query($crate::storage::accounts_sql::DELETE_USER_SESSION)
                    .bind(session_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if ended > 0 {
                    Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(ended > 0)
            }

            async fn end_all_sessions(
                &self,
                user_id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<u64, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let ended = sqlx::query($crate::storage::accounts_sql::DELETE_USER_SESSIONS)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                let audit = audit.clone().with_details(serde_json::json!({ "sessions": ended }));
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(ended)
            }

            async fn user_sessions(
                &self,
                user_id: i64,
            ) -> Result<Vec<app::auth::ssr::UserSession>, app::error::StoreError> {
                use $crate::storage::{accounts_sql::SELECT_USER_SESSIONS, rows::UserSessionRow};
                self.rows_of_user::<UserSessionRow, _>(SELECT_USER_SESSIONS, user_id).await
            }

            async fn identities(
                &self,
                user_id: i64,
            ) -> Result<Vec<app::auth::ssr::IdentityRecord>, app::error::StoreError> {
                use $crate::storage::{accounts_sql::SELECT_IDENTITIES, rows::IdentityRow};
                self.rows_of_user::<IdentityRow, _>(SELECT_IDENTITIES, user_id).await
            }

            async fn user_by_email(
                &self,
                email: &app::email::EmailAddress,
            ) -> Result<Option<app::auth::ssr::User>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::UserRow>(
                    $crate::storage::accounts_sql::SELECT_USER_BY_EMAIL,
                )
                .bind(email.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .map($crate::storage::rows::UserRow::into_user)
                .transpose()
            }

            async fn users(&self, limit: u32) -> Result<Vec<app::auth::ssr::User>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::UserRow>($crate::storage::accounts_sql::SELECT_USERS)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?
                    .into_iter()
                    .map($crate::storage::rows::UserRow::into_user)
                    .collect()
            }

            async fn set_role(
                &self,
                user_id: i64,
                role: app::auth::model::Role,
                source: app::auth::ssr::RoleSource,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::accounts_sql::SET_ROLE_SOURCE)
                    .bind(user_id)
                    .bind(source.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let changed = sqlx::query($crate::storage::accounts_sql::UPDATE_ROLE)
                    .bind(user_id)
                    .bind(role.as_str())
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected()
                    > 0;
                if changed {
                    Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(changed)
            }

            async fn set_disabled(
                &self,
                user_id: i64,
                disabled: bool,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::accounts_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let statement = if disabled { DISABLE_USER } else { ENABLE_USER };
                let changed = sqlx::query(statement)
                    .bind(user_id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected()
                    > 0;
                if changed {
                    let mut audit = audit.clone();
                    if disabled {
                        let ended = sqlx::query(DELETE_USER_SESSIONS)
                            .bind(user_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?
                            .rows_affected();
                        audit = audit.with_details(serde_json::json!({ "sessions_ended": ended }));
                    }
                    Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(changed)
            }

            async fn update_profile(
                &self,
                user_id: i64,
                name: &app::auth::model::DisplayName,
                organisation: &app::auth::model::Organisation,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::accounts_sql::UPDATE_PROFILE)
                    .bind(user_id)
                    .bind(name.as_str())
                    .bind(organisation.as_str())
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }

            async fn link_identity(
                &self,
                user_id: i64,
                identity: &app::auth::ssr::VerifiedIdentity,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::auth::ssr::LinkOutcome, app::error::StoreError> {
                use app::auth::ssr::LinkOutcome;
                use $crate::storage::accounts_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let owner: Option<(i64, i64)> = sqlx::query_as(SELECT_IDENTITY_OWNER)
                    .bind(&identity.provider)
                    .bind(&identity.subject)
                    .bind(&identity.issuer)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let outcome = match owner {
                    Some((_, owner)) if owner == user_id => LinkOutcome::AlreadyLinked,
                    Some(_) => LinkOutcome::OwnedByAnother,
                    None => {
                        sqlx::query(INSERT_IDENTITY)
                            .bind(user_id)
                            .bind(&identity.provider)
                            .bind(&identity.issuer)
                            .bind(&identity.subject)
                            .bind(identity.email.as_ref().map(app::email::EmailAddress::as_str))
                            .bind(audit.at)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                        LinkOutcome::Linked
                    }
                };
                tx.commit().await.map_err(store_error)?;
                Ok(outcome)
            }

            async fn audit_entries(
                &self,
                filter: &app::auth::model::AuditFilter,
                limit: u32,
            ) -> Result<Vec<app::auth::model::AuditRecord>, app::error::StoreError> {
                use $crate::storage::accounts_sql::{SELECT_AUDIT, like_literal};
                let actor = filter.actor.as_deref().map(|actor| format!("%{}%", like_literal(actor)));
                let action = filter.action.as_deref().map(|action| format!("{}%", like_literal(action)));
                let rows = sqlx::query_as::<_, $crate::storage::rows::AuditRow>(SELECT_AUDIT)
                    .bind(actor)
                    .bind(action)
                    .bind(filter.since)
                    .bind(filter.until)
                    .bind(filter.before_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn record_audit(&self, entry: &app::auth::ssr::NewAuditEntry) -> Result<(), app::error::StoreError> {
                let mut conn = self.pool.acquire().await.map_err($crate::storage::store_error)?;
                Self::insert_audit(&mut conn, entry).await.map_err($crate::storage::store_error)
            }
        }
    };
}

pub(crate) use impl_account_store;

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_match_only_literally() {
        assert_eq!(super::like_literal("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(super::like_literal("user."), "user.");
    }
}
