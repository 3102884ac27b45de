//! Accounts as both sides see them: roles, profile fields and what the account page shows.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the terms of use that sign-up asks people to accept; recorded with each acceptance.
pub const TERMS_VERSION: &str = "2026-11";

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Applies for projects and manages their own.
    User,
    /// Also reviews applications, manages users and reads the audit trail.
    Admin,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Result<Self, crate::status::model::ParseError> {
        match text {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(crate::status::model::ParseError::new("role", other)),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's name as shown to admins: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

/// An organisation's name: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation(String);

fn short_text(text: &str, what: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("Enter your {what}."));
    }
    if text.chars().count() > 100 {
        return Err(format!("Your {what} can have at most 100 characters."));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("Your {what} cannot contain control characters."));
    }
    Ok(text.to_owned())
}

impl DisplayName {
    /// Checks and trims `text`; the error is a sentence fit for the form.
    pub fn parse(text: &str) -> Result<Self, String> {
        short_text(text, "name").map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Organisation {
    /// Checks and trims `text`; the error is a sentence fit for the form.
    pub fn parse(text: &str) -> Result<Self, String> {
        short_text(text, "organisation").map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The signed-in user, as pages see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// User id.
    pub id: i64,
    /// Verified e-mail address, if known.
    pub email: Option<String>,
    /// Name, once sign-up is complete.
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// Whether sign-up (name, organisation, terms) still has to be completed.
    pub needs_sign_up: bool,
}

/// One signed-in session on the account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Opaque id used to sign that session out.
    pub id: String,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_seen_at: DateTime<Utc>,
    /// Where from.
    pub ip: Option<String>,
    /// Which browser.
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// One way of signing in, on the account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityView {
    /// Provider id (`email` for e-mail links).
    pub provider: String,
    /// Provider's display name.
    pub provider_name: String,
    /// E-mail address the provider gave, if any.
    pub email: Option<String>,
    /// Last sign-in with it.
    pub last_sign_in_at: DateTime<Utc>,
}

/// Everything the account page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Who.
    pub viewer: Viewer,
    /// Organisation, once sign-up is complete.
    pub organisation: Option<String>,
    /// Terms accepted, and when.
    pub terms: Option<(String, DateTime<Utc>)>,
    /// Linked identities.
    pub identities: Vec<IdentityView>,
    /// Signed-in sessions, newest first.
    pub sessions: Vec<SessionView>,
}

/// A way to sign in offered on the sign-in page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLink {
    /// Provider id, used in `/auth/oidc/{id}/start`.
    pub id: String,
    /// Name on the button.
    pub display_name: String,
}

/// One row of the audit trail, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Row id; later rows have larger ids.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: an e-mail address at the time, or `anonymous` / `system`.
    pub actor: String,
    /// What, e.g. `user.sign_in`.
    pub action: String,
    /// To what, e.g. `user:7`.
    pub target: String,
    /// From which address.
    pub ip: Option<String>,
    /// Anything else recorded, as JSON text.
    pub details: String,
}

/// Which audit rows to show; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Rows whose actor contains this text.
    pub actor: Option<String>,
    /// Rows whose action starts with this text (`user.` matches every user action).
    pub action: Option<String>,
    /// Rows at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Rows before this time.
    pub until: Option<DateTime<Utc>>,
    /// Rows older than this row id (the next page).
    pub before_id: Option<i64>,
}

/// A user in the admins' user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Id.
    pub id: i64,
    /// E-mail address.
    pub email: Option<String>,
    /// Name.
    pub display_name: Option<String>,
    /// Organisation.
    pub organisation: Option<String>,
    /// Role.
    pub role: Role,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// `a•••@example.org`: enough for people to recognise their own address, too little to learn someone else's.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}\u{2022}\u{2022}\u{2022}@{domain}")
        }
        None => "\u{2022}\u{2022}\u{2022}".to_owned(),
    }
}

/// Why a sign-in did not complete. Routes send the visitor back to `/signin` with its code in the query
/// (`?error=link_expired`), and the page turns the code into words: text from a URL is never shown as Berth's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// No address was typed.
    EmailMissing,
    /// The address is not of the form `name@example.org`.
    EmailInvalid,
    /// The address is longer than 254 characters.
    EmailTooLong,
    /// The link expired or was used already.
    LinkExpired,
    /// The link lacks its token.
    LinkIncomplete,
    /// The link joins a provider sign-in that was started in another browser.
    LinkOtherBrowser,
    /// Too many attempts; try again after this many minutes.
    RateLimited {
        /// Minutes to wait.
        wait_minutes: u32,
    },
    /// No provider has the id in the URL.
    ProviderUnknown,
    /// The provider (by id) cannot be reached.
    ProviderUnavailable {
        /// Provider id.
        provider: String,
    },
    /// The person cancelled at the provider (by id).
    ProviderCancelled {
        /// Provider id.
        provider: String,
    },
    /// The provider (by id) refused, or its answer was unusable.
    ProviderFailed {
        /// Provider id.
        provider: String,
    },
    /// The started sign-in expired, or the callback does not belong to this browser.
    FlowExpired,
    /// The account is disabled.
    AccountDisabled,
    /// The database cannot be reached; the reference is in the log.
    Unavailable {
        /// Opaque reference.
        reference: String,
    },
    /// A fault on the server; the reference is in the log.
    ServerError {
        /// Opaque reference.
        reference: String,
    },
}

impl SignInError {
    /// The query of `/signin` that shows this error.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let code = |code: &'static str| vec![("error", code.to_owned())];
        let with =
            |code: &'static str, key: &'static str, value: String| vec![("error", code.to_owned()), (key, value)];
        match self {
            SignInError::EmailMissing => code("email_missing"),
            SignInError::EmailInvalid => code("email_invalid"),
            SignInError::EmailTooLong => code("email_too_long"),
            SignInError::LinkExpired => code("link_expired"),
            SignInError::LinkIncomplete => code("link_incomplete"),
            SignInError::LinkOtherBrowser => code("link_other_browser"),
            SignInError::RateLimited { wait_minutes } => with("rate_limited", "wait", wait_minutes.to_string()),
            SignInError::ProviderUnknown => code("provider_unknown"),
            SignInError::ProviderUnavailable { provider } => with("provider_unavailable", "provider", provider.clone()),
            SignInError::ProviderCancelled { provider } => with("provider_cancelled", "provider", provider.clone()),
            SignInError::ProviderFailed { provider } => with("provider_failed", "provider", provider.clone()),
            SignInError::FlowExpired => code("flow_expired"),
            SignInError::AccountDisabled => code("account_disabled"),
            SignInError::Unavailable { reference } => with("unavailable", "ref", reference.clone()),
            SignInError::ServerError { reference } => with("server_error", "ref", reference.clone()),
        }
    }

    /// Reads the error from the query parameters of `/signin`; unknown codes give `None`. `get` looks a parameter up.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let provider = || get("provider").unwrap_or_default();
        // A reference is shown as it is: only accept what Berth makes (hex and dashes).
        let reference = || {
            get("ref")
                .filter(|reference| {
                    !reference.is_empty()
                        && reference.len() <= 40
                        && reference.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                .unwrap_or_else(|| "unknown".to_owned())
        };
        Some(match get("error")?.as_str() {
            "email_missing" => SignInError::EmailMissing,
            "email_invalid" => SignInError::EmailInvalid,
            "email_too_long" => SignInError::EmailTooLong,
            "link_expired" => SignInError::LinkExpired,
            "link_incomplete" => SignInError::LinkIncomplete,
            "link_other_browser" => SignInError::LinkOtherBrowser,
            "rate_limited" => SignInError::RateLimited {
                wait_minutes: get("wait").and_then(|wait| wait.parse().ok()).unwrap_or(15).clamp(1, 24 * 60),
            },
            "provider_unknown" => SignInError::ProviderUnknown,
            "provider_unavailable" => SignInError::ProviderUnavailable { provider: provider() },
            "provider_cancelled" => SignInError::ProviderCancelled { provider: provider() },
            "provider_failed" => SignInError::ProviderFailed { provider: provider() },
            "flow_expired" => SignInError::FlowExpired,
            "account_disabled" => SignInError::AccountDisabled,
            "unavailable" => SignInError::Unavailable { reference: reference() },
            "server_error" => SignInError::ServerError { reference: reference() },
            _ => return None,
        })
    }

    /// Whether the message belongs next to the e-mail field.
    pub fn is_about_the_email_field(&self) -> bool {
        matches!(self, SignInError::EmailMissing | SignInError::EmailInvalid | SignInError::EmailTooLong)
    }

    /// The sentence shown. `provider_name` turns a provider id into its display name; an id it does not know is
    /// shown as "your provider".
    pub fn message(&self, provider_name: impl Fn(&str) -> Option<String>) -> String {
        let name = |id: &str| provider_name(id).unwrap_or_else(|| "your provider".to_owned());
        match self {
            SignInError::EmailMissing => "Enter your e-mail address.".to_owned(),
            SignInError::EmailInvalid => "Enter an e-mail address of the form name@example.org.".to_owned(),
            SignInError::EmailTooLong => "An e-mail address has at most 254 characters.".to_owned(),
            SignInError::LinkExpired => {
                "This sign-in link has expired or has already been used. Ask for a new one.".to_owned()
            }
            SignInError::LinkIncomplete => "This sign-in link is incomplete. Ask for a new one.".to_owned(),
            SignInError::LinkOtherBrowser => "This link confirms a sign-in that was started in another browser, so \
                 it was not used. If you started it, sign in with your provider again in the browser you want to \
                 use and open the new link there. If you did not, someone else tried to link their sign-in to your \
                 account: nothing was changed."
                .to_owned(),
            SignInError::RateLimited { wait_minutes } => {
                format!("Too many attempts. Please wait {wait_minutes} minutes and try again.")
            }
            SignInError::ProviderUnknown => "There is no such way to sign in. Choose one below.".to_owned(),
            SignInError::ProviderUnavailable { provider } => format!(
                "Sign-in with {} is not available right now: Berth cannot reach it. Try again later, or sign in \
                 with an e-mail link.",
                name(provider)
            ),
            SignInError::ProviderCancelled { provider } => format!(
                "Sign-in with {} was cancelled. You can try again, or sign in with an e-mail link.",
                name(provider)
            ),
            SignInError::ProviderFailed { provider } => format!(
                "Sign-in with {} did not complete. Try again; if it keeps failing, sign in with an e-mail link.",
                name(provider)
            ),
            SignInError::FlowExpired => {
                "This sign-in expired or was not started in this browser. Please start again.".to_owned()
            }
            SignInError::AccountDisabled => "This account is disabled. Contact the service desk.".to_owned(),
            SignInError::Unavailable { reference } => format!(
                "Berth cannot reach its database right now. Please try again in a minute. (Reference {reference})"
            ),
            SignInError::ServerError { reference } => {
                format!("Something went wrong on our side. (Reference {reference})")
            }
        }
    }
}

impl From<crate::error::AppError> for SignInError {
    fn from(error: crate::error::AppError) -> Self {
        use crate::error::AppError;
        // Sign-in services report their own problems as `SignInError`s; here only faults and limits arrive.
        match error {
            AppError::RateLimited { retry_after_minutes } => {
                SignInError::RateLimited { wait_minutes: retry_after_minutes }
            }
            AppError::Unavailable { reference } => SignInError::Unavailable { reference },
            AppError::Internal { reference } => SignInError::ServerError { reference },
            // Services report the sign-in problems above as these; anything else is a fault.
            _ => SignInError::ServerError { reference: "unexpected".to_owned() },
        }
    }
}

/// Notices the account page shows after a provider was linked (`/account?notice=linked&provider=ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountNotice {
    /// The provider is now linked.
    Linked,
    /// It was linked already.
    AlreadyLinked,
    /// That provider account belongs to another Berth account.
    OwnedByAnother,
}

impl AccountNotice {
    /// The code in the query.
    pub fn code(self) -> &'static str {
        match self {
            AccountNotice::Linked => "linked",
            AccountNotice::AlreadyLinked => "already_linked",
            AccountNotice::OwnedByAnother => "owned_by_another",
        }
    }

    /// Reads a code; unknown codes give `None`.
    pub fn parse(code: &str) -> Option<Self> {
        [AccountNotice::Linked, AccountNotice::AlreadyLinked, AccountNotice::OwnedByAnother]
            .into_iter()
            .find(|notice| notice.code() == code)
    }

    /// The sentence, naming the provider by its display name.
    pub fn message(self, provider: &str) -> String {
        match self {
            AccountNotice::Linked => format!("{provider} is now linked to your account."),
            AccountNotice::AlreadyLinked => format!("{provider} was already linked to your account."),
            AccountNotice::OwnedByAnother => {
                format!("This {provider} account already belongs to another Berth account, so it was not linked.")
            }
        }
    }
}

/// What the page behind an e-mail link shows before the person uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPreview {
    /// The address the link signs in, masked (`a•••@example.org`).
    pub masked_email: String,
    /// The provider whose sign-in the link also joins to the account, by display name.
    pub joins_provider: Option<String>,
}

/// A provider sign-in waiting for its e-mail proof, as the page that says "check your e-mail" shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingJoinView {
    /// Provider display name.
    pub provider: String,
    /// Where the link went, masked.
    pub masked_email: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert_eq!(DisplayName::parse("   ").unwrap_err(), "Enter your name.");
        assert!(Organisation::parse(&"x".repeat(101)).unwrap_err().contains("at most 100"));
        assert!(Organisation::parse("CSC\u{0}").is_err());
    }

    #[test]
    fn addresses_are_masked_to_their_first_letter_and_domain() {
        assert_eq!(mask_email("ada@example.org"), "a\u{2022}\u{2022}\u{2022}@example.org");
        assert_eq!(mask_email("nonsense"), "\u{2022}\u{2022}\u{2022}");
    }

    #[test]
    fn sign_in_errors_round_trip_through_the_query_and_never_show_query_text() {
        let cases = [
            SignInError::EmailMissing,
            SignInError::EmailInvalid,
            SignInError::EmailTooLong,
            SignInError::LinkExpired,
            SignInError::LinkIncomplete,
            SignInError::LinkOtherBrowser,
            SignInError::RateLimited { wait_minutes: 7 },
            SignInError::ProviderUnknown,
            SignInError::ProviderUnavailable { provider: "haka".into() },
            SignInError::ProviderCancelled { provider: "haka".into() },
            SignInError::ProviderFailed { provider: "haka".into() },
            SignInError::FlowExpired,
            SignInError::AccountDisabled,
            SignInError::Unavailable { reference: "ab-12".into() },
            SignInError::ServerError { reference: "cd-34".into() },
        ];
        for error in cases {
            let query = error.to_query();
            let get = |key: &str| query.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
            assert_eq!(SignInError::from_query(get), Some(error));
        }
        let forged = |key: &str| match key {
            "error" => Some("provider_failed".to_owned()),
            "provider" => Some("Call +1 555 0100 now".to_owned()),
            _ => None,
        };
        let message = SignInError::from_query(forged).unwrap().message(|_| None);
        assert!(message.contains("your provider") && !message.contains("555"), "{message}");
        let reference = |key: &str| match key {
            "error" => Some("server_error".to_owned()),
            "ref" => Some("<script>".to_owned()),
            _ => None,
        };
        assert!(SignInError::from_query(reference).unwrap().message(|_| None).contains("Reference unknown"));
        assert_eq!(SignInError::from_query(|key: &str| (key == "error").then(|| "free text".to_owned())), None);
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("root").is_err());
    }
}
