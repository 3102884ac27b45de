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
    fn roles_round_trip() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("root").is_err());
    }
}
