//! Server side of accounts: the store contract, signed-in sessions and the sign-in service.

mod limits;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

pub use limits::{Limiter, MAX_KEYS, client_key};

use super::model::{
    AuditFilter, AuditRecord, DisplayName, Organisation, Role, SignInError, UserSummary, Viewer, mask_email,
};
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

/// An identity a provider (or an e-mail link) has vouched for. Identities are keyed by provider id, issuer and
/// subject, so that a provider id pointed at another issuer cannot reach the old issuer's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// Provider id; `email` for e-mail links.
    pub provider: String,
    /// The provider's issuer URL; empty for e-mail links.
    pub issuer: String,
    /// The provider's stable id for the person.
    pub subject: String,
    /// The address the provider gave, if it says it is verified (and the provider may vouch for its domain).
    pub email: Option<EmailAddress>,
}

impl VerifiedIdentity {
    /// The identity an e-mail link proves.
    pub fn email_link(email: &EmailAddress) -> Self {
        Self {
            provider: "email".into(),
            issuer: String::new(),
            subject: email.as_str().to_owned(),
            email: Some(email.clone()),
        }
    }
}

/// A signed-in session as stored. `Debug` hides the id.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for UserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSession")
            .field("id", &"********")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
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

/// A rendered message for the outbox. `Debug` hides the bodies, which may carry a sign-in link.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient.
    pub recipient: EmailAddress,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text_body: String,
    /// HTML part.
    pub html_body: String,
    /// For a message that carries a secret (a sign-in link): when the secret stops working. Its body is erased
    /// once delivered, or at that time if it was not.
    pub secret_expires_at: Option<DateTime<Utc>>,
    /// For a message to a list (status subscribers): the one-click unsubscribe URL, sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post` (RFC 8058).
    pub list_unsubscribe: Option<String>,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("bodies", &"********")
            .field("secret_expires_at", &self.secret_expires_at)
            .field("list_unsubscribe", &self.list_unsubscribe.is_some())
            .finish()
    }
}

/// Who set a user's role. A role set or taken away by a person is never changed again by `admin_emails`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    /// `admin_emails`, at a sign-in whose address was proven by an e-mail link.
    Config,
    /// Another admin.
    Admin,
    /// `berth admin grant|revoke`.
    Cli,
}

impl RoleSource {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleSource::Config => "config",
            RoleSource::Admin => "admin",
            RoleSource::Cli => "cli",
        }
    }
}

/// A used e-mail link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedLink {
    /// The address it proves.
    pub email: EmailAddress,
    /// The provider identity it also joins to the account of that address, if it was sent for that.
    pub joins: Option<VerifiedIdentity>,
}

/// Session record key of a provider identity waiting for the e-mail link that proves its address.
pub const PENDING_JOIN_KEY: &str = "pending_join";

/// Session record key of the page to show once the visitor has signed in (and signed up): the invitation they
/// opened before signing in.
pub const RETURN_TO_KEY: &str = "return_to";

/// The page `session` asked to return to after sign-in (see [`RETURN_TO_KEY`]), forgotten as it is read.
pub async fn take_return_path(session: &tower_sessions::Session) -> Option<String> {
    let path: String = session.remove(RETURN_TO_KEY).await.ok().flatten()?;
    local_path(&path).map(str::to_owned)
}

/// `path` if it is a path on this site (`/…`; not `//host`, no backslash or control character), fit to go to after
/// sign-in without becoming an open redirect.
pub fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path.len() <= 2_048;
    local.then_some(path)
}

/// A provider sign-in whose verified address belongs to an existing account, waiting in the browser session that
/// started it for the e-mail link sent to that address. The link works for the join only in this session. (Kept in
/// the server-side session record; never sent to the browser.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingJoin {
    /// Hash of the link's token.
    pub token_hash: String,
    /// Provider id.
    pub provider: String,
    /// Provider issuer.
    pub issuer: String,
    /// Subject at the provider.
    pub subject: String,
    /// The verified address.
    pub email: String,
    /// When the link was sent (Unix seconds).
    pub started_at: i64,
}

impl PendingJoin {
    fn matches(&self, token_hash: &str, identity: &VerifiedIdentity) -> bool {
        self.token_hash == token_hash
            && self.provider == identity.provider
            && self.issuer == identity.issuer
            && self.subject == identity.subject
    }
}

/// A signed-in session that is still valid, found for a request.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// Whose.
    pub user: User,
    /// Which.
    pub session: UserSession,
    /// Whether this request was recorded as activity; the browser session's expiry should then move too.
    pub touched: bool,
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
    /// Stores a sign-in link (only its hash) and queues its mail, in one transaction. `joins` is the provider
    /// identity the link also joins to the account of `email`, if it is sent for that.
    async fn create_sign_in_link(
        &self,
        token_hash: &str,
        email: &EmailAddress,
        expires_at: DateTime<Utc>,
        joins: Option<&VerifiedIdentity>,
        mail: &OutgoingMail,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// Marks the link used and returns what it proves, if it exists, is unused and has not expired. Succeeds at
    /// most once per link, even when raced.
    async fn consume_sign_in_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ConsumedLink>, StoreError>;

    /// The address and the provider id to join of a link that could still be used, without using it.
    async fn sign_in_link_preview(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(EmailAddress, Option<String>)>, StoreError>;

    /// Signs `identity` in: finds or creates its user, records the session and the audit rows (`user.sign_up`
    /// when created, `user.sign_in`), and ends the other unused sign-in links of the account's address. `admin`
    /// says the address is in `admin_emails`: the role is granted only if the address has been proven by an
    /// e-mail link and no person ever set the role.
    async fn sign_in(
        &self,
        identity: &VerifiedIdentity,
        admin: bool,
        session: &UserSession,
        audit: &NewAuditEntry,
    ) -> Result<SignInOutcome, StoreError>;

    /// A user by id.
    async fn user(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// A signed-in session by id, with its user (one query: this runs on every page view).
    async fn user_session(&self, id: &str) -> Result<Option<(UserSession, User)>, StoreError>;

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

    /// Sets a user's role and records who set it; returns whether the role changed (the audit row is written only
    /// then).
    async fn set_role(
        &self,
        user_id: i64,
        role: Role,
        source: RoleSource,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

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

/// The window of every sign-in rate limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Link requests per address in [`RATE_WINDOW`] (against mail bombing one person).
pub const LINKS_PER_ADDRESS: u32 = 5;
/// Link requests per client in [`RATE_WINDOW`], whatever the addresses.
pub const LINKS_PER_CLIENT: u32 = 20;
/// Failed link uses per client in [`RATE_WINDOW`]; once spent, that client's link uses are refused until the
/// budget refills. Link requests are counted apart, so a flood of junk tokens does not stop anyone asking for one.
pub const FAILED_LINKS_PER_CLIENT: u32 = 20;
/// Provider sign-ins started per client in [`RATE_WINDOW`].
pub const OIDC_STARTS_PER_CLIENT: u32 = 30;

/// The sign-in rate limits: separate budgets, each keyed by what it protects.
#[derive(Debug)]
pub struct SignInLimits {
    links_per_address: Limiter<String>,
    links_per_client: Limiter<IpAddr>,
    failed_links_per_client: Limiter<IpAddr>,
    oidc_starts_per_client: Limiter<IpAddr>,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            links_per_address: Limiter::new(LINKS_PER_ADDRESS, RATE_WINDOW, MAX_KEYS),
            links_per_client: Limiter::new(LINKS_PER_CLIENT, RATE_WINDOW, MAX_KEYS),
            failed_links_per_client: Limiter::new(FAILED_LINKS_PER_CLIENT, RATE_WINDOW, MAX_KEYS),
            oidc_starts_per_client: Limiter::new(OIDC_STARTS_PER_CLIENT, RATE_WINDOW, MAX_KEYS),
        }
    }
}

/// Renders the mail Berth sends; implemented with templates on the server.
pub trait MailRenderer: Send + Sync + 'static {
    /// The sign-in link message.
    fn sign_in_link(&self, to: &EmailAddress, link: &str, valid_minutes: u32) -> OutgoingMail;

    /// The message that proves an address before the provider `provider` (display name) is linked to its account.
    fn join_link(&self, to: &EmailAddress, link: &str, valid_minutes: u32, provider: &str) -> OutgoingMail;

    /// A notice about something that changed (an application decided, a comment): paragraphs of plain text, which
    /// the renderer escapes, and a link to the page.
    fn notice(&self, to: &EmailAddress, notice: &MailNotice) -> OutgoingMail;
}

/// What a notice message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailNotice {
    /// Subject line.
    pub subject: String,
    /// Paragraphs of plain text (may hold text users typed: the renderer escapes it).
    pub paragraphs: Vec<String>,
    /// Path of the page it is about, from the base URL (`/applications/7`).
    pub path: String,
    /// The link's words.
    pub link_label: String,
}

/// Settings of the sign-in service.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Public base URL, for links in mail.
    pub base_url: String,
    /// Addresses that become admins when they sign in with an e-mail link.
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
    limits: SignInLimits,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl AuthService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn AccountStore>, mail: Arc<dyn MailRenderer>, settings: AuthSettings) -> Self {
        Self { store, mail, settings, limits: SignInLimits::default() }
    }

    /// How long a signed-in session may go without a request.
    pub fn session_idle(&self) -> Duration {
        self.settings.session_idle
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    /// Counts a provider sign-in started by the client of `request`.
    pub fn check_oidc_start(&self, request: &RequestInfo) -> Result<(), SignInError> {
        Ok(self.limits.oidc_starts_per_client.check(&client_key(request.ip))?)
    }

    fn link_lifetime(&self) -> (chrono::Duration, u32) {
        let lifetime = chrono::Duration::from_std(self.settings.link_lifetime).unwrap_or(chrono::Duration::minutes(10));
        (lifetime, u32::try_from(self.settings.link_lifetime.as_secs() / 60).unwrap_or(10).max(1))
    }

    fn link_url(&self, token: &str) -> String {
        format!("{}/signin/link?token={token}", self.settings.base_url.trim_end_matches('/'))
    }

    /// Sends a one-time sign-in link to `email`. Answers the same whether or not the address has an account.
    pub async fn request_link(&self, email: &EmailAddress, request: &RequestInfo) -> Result<(), SignInError> {
        self.limits.links_per_client.check(&client_key(request.ip))?;
        self.limits.links_per_address.check(&email.as_str().to_owned())?;
        let token = new_token();
        let now = Utc::now();
        let (lifetime, minutes) = self.link_lifetime();
        let mut mail = self.mail.sign_in_link(email, &self.link_url(&token), minutes);
        mail.secret_expires_at = Some(now + lifetime);
        let audit = NewAuditEntry {
            at: now,
            actor_id: None,
            actor: "anonymous".into(),
            action: "sign_in_link.request".into(),
            target: format!("email:{}", email.as_str()),
            ip: request.ip.map(|ip| ip.to_string()),
            details: serde_json::json!({}),
        };
        self.store.create_sign_in_link(&token_hash(&token), email, now + lifetime, None, &mail, &audit).await?;
        Ok(())
    }

    /// A provider vouched for an address that already has an account: sends that address a link which, opened in
    /// this browser, proves the address, joins the identity to the account and signs in. Returns what the browser
    /// session keeps until then. `provider_name` names the provider in the message.
    pub async fn request_join_link(
        &self,
        identity: &VerifiedIdentity,
        provider_name: &str,
        request: &RequestInfo,
    ) -> Result<PendingJoin, SignInError> {
        let email = identity.email.as_ref().ok_or(SignInError::FlowExpired)?;
        self.limits.links_per_address.check(&email.as_str().to_owned())?;
        let token = new_token();
        let now = Utc::now();
        let (lifetime, minutes) = self.link_lifetime();
        let mut mail = self.mail.join_link(email, &self.link_url(&token), minutes, provider_name);
        mail.secret_expires_at = Some(now + lifetime);
        let audit = NewAuditEntry {
            at: now,
            actor_id: None,
            actor: "anonymous".into(),
            action: "identity.join_link_request".into(),
            target: format!("email:{}", email.as_str()),
            ip: request.ip.map(|ip| ip.to_string()),
            details: serde_json::json!({ "provider": identity.provider, "issuer": identity.issuer }),
        };
        let hash = token_hash(&token);
        self.store.create_sign_in_link(&hash, email, now + lifetime, Some(identity), &mail, &audit).await?;
        Ok(PendingJoin {
            token_hash: hash,
            provider: identity.provider.clone(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: email.as_str().to_owned(),
            started_at: now.timestamp(),
        })
    }

    /// What the page behind a link shows: the masked address it signs in, and the provider id it also joins.
    pub async fn link_preview(&self, token: &str) -> Result<Option<(String, Option<String>)>, AppError> {
        let preview = self.store.sign_in_link_preview(&token_hash(token.trim()), Utc::now()).await?;
        Ok(preview.map(|(email, joins)| (mask_email(email.as_str()), joins)))
    }

    /// Uses a sign-in link; on success the person is signed in as a new session (returned with the user). A link
    /// sent to join a provider identity works only with the browser session that holds `pending`.
    pub async fn sign_in_with_link(
        &self,
        token: &str,
        pending: Option<&PendingJoin>,
        request: &RequestInfo,
    ) -> Result<(User, UserSession, bool), SignInError> {
        let client = client_key(request.ip);
        self.limits.failed_links_per_client.check_not_blocked(&client)?;
        let hash = token_hash(token.trim());
        let Some(link) = self.store.consume_sign_in_link(&hash, Utc::now()).await? else {
            self.limits.failed_links_per_client.record_failure(&client);
            return Err(SignInError::LinkExpired);
        };
        let by_link = VerifiedIdentity::email_link(&link.email);
        let Some(joins) = link.joins else {
            return self.sign_in_proven(&by_link, request).await;
        };
        if !pending.is_some_and(|pending| pending.matches(&hash, &joins)) {
            let audit = NewAuditEntry {
                at: Utc::now(),
                actor_id: None,
                actor: "anonymous".into(),
                action: "identity.join_refused".into(),
                target: format!("email:{}", link.email.as_str()),
                ip: request.ip.map(|ip| ip.to_string()),
                details: serde_json::json!({ "provider": joins.provider, "reason": "opened in another browser" }),
            };
            self.store.record_audit(&audit).await?;
            return Err(SignInError::LinkOtherBrowser);
        }
        let (user, session, created) = self.sign_in_proven(&by_link, request).await?;
        let audit = self
            .audit(&user, "identity.link", format!("user:{}", user.id), request)
            .with_details(serde_json::json!({ "provider": joins.provider, "confirmed_by": "e-mail link" }));
        let outcome = self.store.link_identity(user.id, &joins, &audit).await?;
        if outcome == LinkOutcome::OwnedByAnother {
            tracing::warn!(provider = ?joins.provider, "the identity to join was linked to another account meanwhile");
        }
        Ok((user, session, created))
    }

    async fn sign_in_proven(
        &self,
        identity: &VerifiedIdentity,
        request: &RequestInfo,
    ) -> Result<(User, UserSession, bool), SignInError> {
        // An e-mail link proves the address, so it always finds (or creates) the account of that address.
        self.try_sign_in(identity, request).await?.ok_or(SignInError::LinkExpired)
    }

    /// Signs in a verified identity as a new session; `None` when the identity is new but its address belongs to
    /// another account (joining them needs proof of that account: see [`AuthService::request_join_link`]).
    pub async fn try_sign_in(
        &self,
        identity: &VerifiedIdentity,
        request: &RequestInfo,
    ) -> Result<Option<(User, UserSession, bool)>, SignInError> {
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
                Err(SignInError::AccountDisabled)
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
            .with_details(serde_json::json!({ "provider": identity.provider, "confirmed_by": "signed in" }));
        Ok(self.store.link_identity(user.id, identity, &audit).await?)
    }

    /// The user of a signed-in session, if the session is still valid and the account enabled. Activity is
    /// recorded at most every minute (or every quarter of the idle timeout, if that is shorter); `touched` says
    /// whether this request was recorded.
    pub async fn session_user(&self, session_id: &str) -> Result<Option<ActiveSession>, AppError> {
        let Some((session, user)) = self.store.user_session(session_id).await? else { return Ok(None) };
        let now = Utc::now();
        let idle = chrono::Duration::from_std(self.settings.session_idle).unwrap_or(chrono::Duration::hours(8));
        if session.expires_at <= now || now - session.last_seen_at > idle {
            return Ok(None);
        }
        if user.disabled {
            return Ok(None);
        }
        // Recording every request would write on every page view; this precision is plenty.
        let precision = std::cmp::min(chrono::Duration::minutes(1), idle / 4);
        let touched = now - session.last_seen_at >= precision;
        if touched {
            self.store.touch_user_session(&session.id, now).await?;
        }
        Ok(Some(ActiveSession { user, session, touched }))
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
        Ok(self.store.set_role(target.id, role, RoleSource::Admin, &audit).await?)
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
        NewAuditEntry::by(user, action, target, request)
    }
}

impl NewAuditEntry {
    /// A row for what `user` did now, from the client of `request`, without details.
    pub fn by(user: &User, action: &str, target: String, request: &RequestInfo) -> Self {
        Self {
            at: Utc::now(),
            actor_id: Some(user.id),
            actor: user.audit_name(),
            action: action.to_owned(),
            target,
            ip: request.ip.map(|ip| ip.to_string()),
            details: serde_json::json!({}),
        }
    }

    /// A row for what Berth itself did at `at` (a background job), without details.
    pub fn system(action: &str, target: String, at: DateTime<Utc>) -> Self {
        Self {
            at,
            actor_id: None,
            actor: "system".to_owned(),
            action: action.to_owned(),
            target,
            ip: None,
            details: serde_json::json!({}),
        }
    }

    /// The same entry with `details`.
    pub fn with_details(self, details: serde_json::Value) -> Self {
        Self { details, ..self }
    }
}

impl From<StoreError> for SignInError {
    fn from(error: StoreError) -> Self {
        AppError::from(error).into()
    }
}

/// Rows per page of the audit view.
pub const AUDIT_PAGE: u32 = 100;

/// Refuses anyone but an admin.
pub fn require_admin(user: &User) -> Result<(), AppError> {
    if user.role == Role::Admin { Ok(()) } else { Err(AppError::Forbidden) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_site_are_returned_to_after_sign_in() {
        assert_eq!(local_path("/invitations/accept?token=abc-_1"), Some("/invitations/accept?token=abc-_1"));
        for outside in ["//evil.example/x", "https://evil.example", "evil", "/\\evil.example", "/a\nb", ""] {
            assert_eq!(local_path(outside), None, "{outside:?}");
        }
    }

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
}
