//! Server side of accounts: the store contract, signed-in sessions and the sign-in service.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::model::{AuditFilter, AuditRecord, DisplayName, Organisation, Role, UserSummary, Viewer};
use crate::email::EmailAddress;
use crate::error::{AppError, StoreError};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Verified address for mail.
    pub email: Option<EmailAddress>,
    /// Name, after sign-up.
    pub display_name: Option<String>,
    /// Organisation, after sign-up.
    pub organisation: Option<String>,
    /// Role.
    pub role: Role,
    /// Terms version accepted and when.
    pub terms: Option<(String, DateTime<Utc>)>,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The view pages get.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            id: self.id,
            email: self.email.as_ref().map(|email| email.as_str().to_owned()),
            display_name: self.display_name.clone(),
            role: self.role,
            needs_sign_up: self.needs_sign_up(),
        }
    }

    /// Whether the user still has to complete sign-up: they never did, or the terms changed since they accepted.
    pub fn needs_sign_up(&self) -> bool {
        self.terms.as_ref().is_none_or(|(version, _)| version != super::model::TERMS_VERSION)
    }

    /// The row of the admins' user list.
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id,
            email: self.email.as_ref().map(|email| email.as_str().to_owned()),
            display_name: self.display_name.clone(),
            organisation: self.organisation.clone(),
            role: self.role,
            disabled: self.disabled,
            created_at: self.created_at,
        }
    }

    /// How the audit trail names this user.
    pub fn audit_name(&self) -> String {
        self.email.as_ref().map_or_else(|| format!("user:{}", self.id), |email| email.as_str().to_owned())
    }
}

/// An identity a provider (or an e-mail link) has vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// Provider id; `email` for e-mail links.
    pub provider: String,
    /// The provider's stable id for the person.
    pub subject: String,
    /// The address the provider gave, if it says it is verified.
    pub email: Option<EmailAddress>,
}

/// A signed-in session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// Random id kept in the session record.
    pub id: String,
    /// Whose.
    pub user_id: i64,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last request.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// Browser at sign-in.
    pub user_agent: Option<String>,
}

/// A linked identity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    /// Provider id.
    pub provider: String,
    /// Address the provider gave.
    pub email: Option<String>,
    /// Last sign-in with it.
    pub last_sign_in_at: DateTime<Utc>,
}

/// A rendered message for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient.
    pub recipient: EmailAddress,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text_body: String,
    /// HTML part.
    pub html_body: String,
}

/// One row for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Acting user, if signed in.
    pub actor_id: Option<i64>,
    /// Acting user's e-mail, or `anonymous` / `system`.
    pub actor: String,
    /// What was done, e.g. `user.sign_in`.
    pub action: String,
    /// What it was done to, e.g. `user:7`.
    pub target: String,
    /// Client address.
    pub ip: Option<String>,
    /// Anything else worth keeping.
    pub details: serde_json::Value,
}

/// What a sign-in produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Signed in (the account is new when `created`).
    SignedIn {
        /// The user.
        user: User,
        /// Whether this sign-in created the account.
        created: bool,
    },
    /// The account is disabled.
    Disabled,
    /// The identity is new, but its address belongs to another account: linking needs that account signed in.
    EmailTaken,
}

/// What linking an identity to a signed-in account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The identity now belongs to the account.
    Linked,
    /// It already did.
    AlreadyLinked,
    /// It belongs to another account, and stays there.
    OwnedByAnother,
}

/// Storage of accounts, sessions, sign-in links and the audit trail. Every change writes its audit rows in the
/// same transaction.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Stores a sign-in link (only its hash) and queues its mail, in one transaction.
    async fn create_sign_in_link(
        &self,
        token_hash: &str,
        email: &EmailAddress,
        expires_at: DateTime<Utc>,
        mail: &OutgoingMail,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// Marks the link used and returns its address, if it exists, is unused and has not expired. Succeeds at most
    /// once per link, even when raced.
    async fn consume_sign_in_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<EmailAddress>, StoreError>;

    /// Signs `identity` in: finds or creates its user (an admin when `admin`), records the session and the audit
    /// rows (`user.sign_up` when created, `user.sign_in`).
    async fn sign_in(
        &self,
        identity: &VerifiedIdentity,
        admin: bool,
        session: &UserSession,
        audit: &NewAuditEntry,
    ) -> Result<SignInOutcome, StoreError>;

    /// A user by id.
    async fn user(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// A signed-in session by id.
    async fn user_session(&self, id: &str) -> Result<Option<UserSession>, StoreError>;

    /// Records activity on a session.
    async fn touch_user_session(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Sets name and organisation and records the terms accepted.
    async fn complete_sign_up(
        &self,
        user_id: i64,
        name: &DisplayName,
        organisation: &Organisation,
        terms_version: &str,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// Ends one of the user's sessions; returns whether it existed.
    async fn end_session(&self, user_id: i64, session_id: &str, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// Ends every session of the user; returns how many.
    async fn end_all_sessions(&self, user_id: i64, audit: &NewAuditEntry) -> Result<u64, StoreError>;

    /// The user's sessions, newest first.
    async fn user_sessions(&self, user_id: i64) -> Result<Vec<UserSession>, StoreError>;

    /// The user's identities.
    async fn identities(&self, user_id: i64) -> Result<Vec<IdentityRecord>, StoreError>;

    /// A user by e-mail address.
    async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// Users, newest first, at most `limit`.
    async fn users(&self, limit: u32) -> Result<Vec<User>, StoreError>;

    /// Sets a user's role; returns whether it changed (the audit row is written only then).
    async fn set_role(&self, user_id: i64, role: Role, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// Disables (ending every session) or enables a user; returns whether it changed.
    async fn set_disabled(&self, user_id: i64, disabled: bool, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// Changes name and organisation.
    async fn update_profile(
        &self,
        user_id: i64,
        name: &DisplayName,
        organisation: &Organisation,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// Links `identity` to the account `user_id`.
    async fn link_identity(
        &self,
        user_id: i64,
        identity: &VerifiedIdentity,
        audit: &NewAuditEntry,
    ) -> Result<LinkOutcome, StoreError>;

    /// Audit rows matching `filter`, newest first, at most `limit`.
    async fn audit_entries(&self, filter: &AuditFilter, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    /// Appends a row to the audit trail on its own.
    async fn record_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError>;
}

/// SHA-256 of a token, base64url: what is stored instead of the token.
pub fn token_hash(token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A new random token of 256 bits, base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Fixed-window counters per key, kept in memory: enough to slow down guessing and mail bombing from one process.
#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    limit: u32,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `limit` hits per key in each `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { window, limit, hits: Mutex::new(HashMap::new()) }
    }

    /// Counts a hit on `key`; refuses when the key is over its limit.
    pub fn check(&self, key: &str) -> Result<(), AppError> {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            let minutes = u32::try_from(left.as_secs().div_ceil(60)).unwrap_or(u32::MAX).max(1);
            return Err(AppError::RateLimited { retry_after_minutes: minutes });
        }
        Ok(())
    }
}

/// Renders the mail Berth sends; implemented with templates on the server.
pub trait MailRenderer: Send + Sync + 'static {
    /// The sign-in link message.
    fn sign_in_link(&self, to: &EmailAddress, link: &str, valid_minutes: u32) -> OutgoingMail;
}

/// Settings of the sign-in service.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Public base URL, for links in mail.
    pub base_url: String,
    /// Addresses that become admins at sign-in.
    pub admin_emails: Vec<EmailAddress>,
    /// How long an e-mail link works.
    pub link_lifetime: Duration,
    /// Absolute session lifetime.
    pub session_lifetime: Duration,
    /// A session unused this long has ended.
    pub session_idle: Duration,
}

/// Who is asking, for audit rows and rate limits.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Browser.
    pub user_agent: Option<String>,
}

/// Sign-in by e-mail link and by identity providers, sign-up and sessions.
pub struct AuthService {
    store: Arc<dyn AccountStore>,
    mail: Arc<dyn MailRenderer>,
    settings: AuthSettings,
    per_address: RateLimiter,
    per_ip: RateLimiter,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl AuthService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn AccountStore>, mail: Arc<dyn MailRenderer>, settings: AuthSettings) -> Self {
        let quarter = Duration::from_secs(15 * 60);
        Self { store, mail, settings, per_address: RateLimiter::new(5, quarter), per_ip: RateLimiter::new(30, quarter) }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    /// Counts a sign-in attempt from `request` (and for `email`, if given) against the rate limits.
    pub fn check_rate(&self, request: &RequestInfo, email: Option<&EmailAddress>) -> Result<(), AppError> {
        if let Some(ip) = request.ip {
            self.per_ip.check(&format!("ip:{ip}"))?;
        }
        if let Some(email) = email {
            self.per_address.check(&format!("email:{}", email.as_str()))?;
        }
        Ok(())
    }

    /// Sends a one-time sign-in link to `email`. Answers the same whether or not the address has an account.
    pub async fn request_link(&self, email: &str, request: &RequestInfo) -> Result<(), AppError> {
        let email =
            EmailAddress::parse(email).map_err(|error| AppError::invalid("email", capitalise(&error.to_string())))?;
        self.check_rate(request, Some(&email))?;
        let token = new_token();
        let now = Utc::now();
        let lifetime = chrono::Duration::from_std(self.settings.link_lifetime).unwrap_or(chrono::Duration::minutes(15));
        let link = format!("{}/signin/link?token={token}", self.settings.base_url.trim_end_matches('/'));
        let minutes = u32::try_from(self.settings.link_lifetime.as_secs() / 60).unwrap_or(15);
        let mail = self.mail.sign_in_link(&email, &link, minutes);
        let audit = NewAuditEntry {
            at: now,
            actor_id: None,
            actor: "anonymous".into(),
            action: "sign_in_link.request".into(),
            target: format!("email:{}", email.as_str()),
            ip: request.ip.map(|ip| ip.to_string()),
            details: serde_json::json!({}),
        };
        self.store.create_sign_in_link(&token_hash(&token), &email, now + lifetime, &mail, &audit).await?;
        Ok(())
    }

    /// Uses a sign-in link; on success the person is signed in as a new session (returned with the user).
    pub async fn sign_in_with_link(
        &self,
        token: &str,
        request: &RequestInfo,
    ) -> Result<(User, UserSession, bool), AppError> {
        self.check_rate(request, None)?;
        let email = self.store.consume_sign_in_link(&token_hash(token.trim()), Utc::now()).await?.ok_or_else(|| {
            AppError::invalid("token", "This sign-in link has expired or has already been used. Ask for a new one.")
        })?;
        let identity =
            VerifiedIdentity { provider: "email".into(), subject: email.as_str().to_owned(), email: Some(email) };
        self.sign_in(&identity, request).await
    }

    /// Signs in a verified identity as a new session.
    pub async fn sign_in(
        &self,
        identity: &VerifiedIdentity,
        request: &RequestInfo,
    ) -> Result<(User, UserSession, bool), AppError> {
        self.try_sign_in(identity, request).await?.ok_or_else(|| {
            AppError::invalid(
                "account",
                "Another account already uses this e-mail address. Sign in to it the usual way, then link this \
                 provider from your account page.",
            )
        })
    }

    /// Signs in a verified identity as a new session; `None` when the identity is new but its address belongs to
    /// another account (joining them needs that person's confirmation).
    pub async fn try_sign_in(
        &self,
        identity: &VerifiedIdentity,
        request: &RequestInfo,
    ) -> Result<Option<(User, UserSession, bool)>, AppError> {
        let now = Utc::now();
        let lifetime = chrono::Duration::from_std(self.settings.session_lifetime).unwrap_or(chrono::Duration::days(7));
        let session = UserSession {
            id: new_token(),
            user_id: 0,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            ip: request.ip.map(|ip| ip.to_string()),
            user_agent: request.user_agent.as_ref().map(|agent| agent.chars().take(300).collect()),
        };
        let admin = identity.email.as_ref().is_some_and(|email| self.settings.admin_emails.contains(email));
        let audit = NewAuditEntry {
            at: now,
            actor_id: None,
            actor: identity.email.as_ref().map_or_else(|| "anonymous".into(), |email| email.as_str().to_owned()),
            action: "user.sign_in".into(),
            target: String::new(),
            ip: session.ip.clone(),
            details: serde_json::json!({ "provider": identity.provider }),
        };
        match self.store.sign_in(identity, admin, &session, &audit).await? {
            SignInOutcome::SignedIn { user, created } => {
                let session = UserSession { user_id: user.id, ..session };
                Ok(Some((user, session, created)))
            }
            SignInOutcome::Disabled => {
                let refused = NewAuditEntry {
                    action: "user.sign_in_refused".into(),
                    target: format!("identity:{}", identity.provider),
                    details: serde_json::json!({ "provider": identity.provider, "reason": "account disabled" }),
                    ..audit
                };
                self.store.record_audit(&refused).await?;
                Err(AppError::invalid("account", "This account is disabled. Contact the service desk."))
            }
            SignInOutcome::EmailTaken => Ok(None),
        }
    }

    /// Links `identity` to the signed-in `user`.
    pub async fn link_identity(
        &self,
        user: &User,
        identity: &VerifiedIdentity,
        request: &RequestInfo,
    ) -> Result<LinkOutcome, AppError> {
        let audit = self
            .audit(user, "identity.link", format!("user:{}", user.id), request)
            .with_details(serde_json::json!({ "provider": identity.provider }));
        Ok(self.store.link_identity(user.id, identity, &audit).await?)
    }

    /// Signs in with a provider identity whose verified address belongs to an existing account, after the person
    /// confirmed that they want the two joined: links it to that account, then signs in.
    pub async fn link_by_email_and_sign_in(
        &self,
        identity: &VerifiedIdentity,
        request: &RequestInfo,
    ) -> Result<(User, UserSession, bool), AppError> {
        let email = identity
            .email
            .as_ref()
            .ok_or_else(|| AppError::invalid("account", "The provider did not confirm an e-mail address."))?;
        let Some(user) = self.store.user_by_email(email).await? else {
            return self.sign_in(identity, request).await;
        };
        if user.disabled {
            return Err(AppError::invalid("account", "This account is disabled. Contact the service desk."));
        }
        let audit = self
            .audit(&user, "identity.link", format!("user:{}", user.id), request)
            .with_details(serde_json::json!({ "provider": identity.provider, "confirmed_by": "verified e-mail" }));
        self.store.link_identity(user.id, identity, &audit).await?;
        self.sign_in(identity, request).await
    }

    /// The user of a signed-in session, if the session is still valid and the account enabled.
    pub async fn session_user(&self, session_id: &str) -> Result<Option<(User, UserSession)>, AppError> {
        let Some(session) = self.store.user_session(session_id).await? else { return Ok(None) };
        let now = Utc::now();
        let idle = chrono::Duration::from_std(self.settings.session_idle).unwrap_or(chrono::Duration::hours(8));
        if session.expires_at <= now || now - session.last_seen_at > idle {
            return Ok(None);
        }
        let Some(user) = self.store.user(session.user_id).await? else { return Ok(None) };
        if user.disabled {
            return Ok(None);
        }
        // Recording every request would write on every page view; a minute's precision is plenty.
        if now - session.last_seen_at > chrono::Duration::minutes(1) {
            self.store.touch_user_session(&session.id, now).await?;
        }
        Ok(Some((user, session)))
    }

    /// Completes sign-up: name, organisation and acceptance of the current terms.
    pub async fn complete_sign_up(
        &self,
        user: &User,
        name: &str,
        organisation: &str,
        accept_terms: bool,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let name = DisplayName::parse(name).map_err(|message| AppError::invalid("name", message))?;
        let organisation =
            Organisation::parse(organisation).map_err(|message| AppError::invalid("organisation", message))?;
        if !accept_terms {
            return Err(AppError::invalid("accept_terms", "You need to accept the terms of use to continue."));
        }
        let audit = self
            .audit(user, "user.sign_up_complete", format!("user:{}", user.id), request)
            .with_details(serde_json::json!({ "terms_version": super::model::TERMS_VERSION }));
        self.store.complete_sign_up(user.id, &name, &organisation, super::model::TERMS_VERSION, &audit).await?;
        Ok(())
    }

    /// Changes the name and organisation of `user`.
    pub async fn update_profile(
        &self,
        user: &User,
        name: &str,
        organisation: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let name = DisplayName::parse(name).map_err(|message| AppError::invalid("name", message))?;
        let organisation =
            Organisation::parse(organisation).map_err(|message| AppError::invalid("organisation", message))?;
        let audit = self
            .audit(user, "user.profile_update", format!("user:{}", user.id), request)
            .with_details(serde_json::json!({ "name": name.as_str(), "organisation": organisation.as_str() }));
        Ok(self.store.update_profile(user.id, &name, &organisation, &audit).await?)
    }

    /// Users for the admins' list, newest first.
    pub async fn users(&self, admin: &User) -> Result<Vec<UserSummary>, AppError> {
        require_admin(admin)?;
        Ok(self.store.users(500).await?.iter().map(User::summary).collect())
    }

    /// Grants or revokes the admin role. Admins cannot change their own role, so that nobody locks the last admin
    /// out by accident.
    pub async fn set_role(
        &self,
        admin: &User,
        user_id: i64,
        role: Role,
        request: &RequestInfo,
    ) -> Result<bool, AppError> {
        require_admin(admin)?;
        if admin.id == user_id {
            return Err(AppError::invalid("role", "You cannot change your own role. Ask another admin."));
        }
        let target = self.store.user(user_id).await?.ok_or(AppError::NotFound)?;
        let action = if role == Role::Admin { "user.role_grant" } else { "user.role_revoke" };
        let audit = self.audit(admin, action, format!("user:{}", target.id), request).with_details(
            serde_json::json!({ "role": role.as_str(), "from": target.role.as_str(), "email": target.audit_name() }),
        );
        Ok(self.store.set_role(target.id, role, &audit).await?)
    }

    /// Disables an account (ending all its sessions) or enables it again.
    pub async fn set_disabled(
        &self,
        admin: &User,
        user_id: i64,
        disabled: bool,
        request: &RequestInfo,
    ) -> Result<bool, AppError> {
        require_admin(admin)?;
        if admin.id == user_id {
            return Err(AppError::invalid("disabled", "You cannot disable your own account."));
        }
        let target = self.store.user(user_id).await?.ok_or(AppError::NotFound)?;
        let action = if disabled { "user.disable" } else { "user.enable" };
        let audit = self
            .audit(admin, action, format!("user:{}", target.id), request)
            .with_details(serde_json::json!({ "email": target.audit_name() }));
        Ok(self.store.set_disabled(target.id, disabled, &audit).await?)
    }

    /// Audit rows matching `filter`, newest first, a page at a time.
    pub async fn audit_entries(&self, admin: &User, filter: &AuditFilter) -> Result<Vec<AuditRecord>, AppError> {
        require_admin(admin)?;
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since >= until
        {
            return Err(AppError::invalid("until", "The end must be after the start."));
        }
        Ok(self.store.audit_entries(filter, AUDIT_PAGE).await?)
    }

    /// Ends one session of `user`.
    pub async fn end_session(&self, user: &User, session_id: &str, request: &RequestInfo) -> Result<bool, AppError> {
        let audit = self.audit(user, "session.end", format!("user:{}", user.id), request);
        Ok(self.store.end_session(user.id, session_id, &audit).await?)
    }

    /// Ends every session of `user`.
    pub async fn end_all_sessions(&self, user: &User, request: &RequestInfo) -> Result<u64, AppError> {
        let audit = self.audit(user, "session.end_all", format!("user:{}", user.id), request);
        Ok(self.store.end_all_sessions(user.id, &audit).await?)
    }

    /// An audit row with `user` as the actor.
    pub fn audit(&self, user: &User, action: &str, target: String, request: &RequestInfo) -> NewAuditEntry {
        NewAuditEntry {
            at: Utc::now(),
            actor_id: Some(user.id),
            actor: user.audit_name(),
            action: action.to_owned(),
            target,
            ip: request.ip.map(|ip| ip.to_string()),
            details: serde_json::json!({}),
        }
    }
}

impl NewAuditEntry {
    /// The same entry with `details`.
    pub fn with_details(self, details: serde_json::Value) -> Self {
        Self { details, ..self }
    }
}

/// Rows per page of the audit view.
pub const AUDIT_PAGE: u32 = 100;

/// Refuses anyone but an admin.
pub fn require_admin(user: &User) -> Result<(), AppError> {
    if user.role == Role::Admin { Ok(()) } else { Err(AppError::Forbidden) }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect::<String>() + ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn changed_terms_send_people_through_sign_up_again() {
        let mut user = User {
            id: 1,
            email: None,
            display_name: Some("A".into()),
            organisation: Some("B".into()),
            role: Role::User,
            terms: None,
            disabled: false,
            created_at: Utc::now(),
        };
        assert!(user.needs_sign_up());
        user.terms = Some((super::super::model::TERMS_VERSION.to_owned(), Utc::now()));
        assert!(!user.needs_sign_up());
        user.terms = Some(("2020-01".to_owned(), Utc::now()));
        assert!(user.needs_sign_up(), "an older version must be accepted again");
    }

    #[test]
    fn the_rate_limiter_refuses_over_the_limit_per_key() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert_eq!(limiter.check("a"), Err(AppError::RateLimited { retry_after_minutes: 1 }));
        assert!(limiter.check("b").is_ok(), "keys are counted apart");
    }
}
