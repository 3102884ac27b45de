//! `berth admin grant|revoke EMAIL`: role changes from the command line, for the first admin and for emergencies.
//! They are written to the audit trail with the actor `cli`.

use app::auth::model::Role;
use app::auth::ssr::NewAuditEntry;
use app::email::EmailAddress;
use app::error::StoreError;

use crate::config::{AdminAction, Config};
use crate::storage::{self, OpenError};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminCliError {
    /// The address does not parse.
    #[error("{0:?} is not an e-mail address")]
    BadAddress(String),
    /// Nobody has signed in with this address.
    #[error("no account has the address {0}; the person must sign in to Berth once first")]
    NoSuchUser(String),
    /// The database cannot be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The database failed.
    #[error("the database failed")]
    Store(#[from] StoreError),
}

/// Carries out `action`; returns what to tell the operator.
pub async fn run(config: &Config, action: &AdminAction) -> Result<String, AdminCliError> {
    let (email, role) = match action {
        AdminAction::Grant { email } => (email, Role::Admin),
        AdminAction::Revoke { email } => (email, Role::User),
    };
    let email = EmailAddress::parse(email).map_err(|_| AdminCliError::BadAddress(email.clone()))?;
    let store = storage::open(&config.database_url).await?;
    let result = async {
        let user =
            store.user_by_email(&email).await?.ok_or_else(|| AdminCliError::NoSuchUser(email.as_str().into()))?;
        let audit = NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: "cli".into(),
            action: if role == Role::Admin { "user.role_grant" } else { "user.role_revoke" }.into(),
            target: format!("user:{}", user.id),
            ip: None,
            details: serde_json::json!({ "role": role.as_str(), "from": user.role.as_str(), "email": email.as_str() }),
        };
        let changed = store.set_role(user.id, role, app::auth::ssr::RoleSource::Cli, &audit).await?;
        Ok(match (changed, role) {
            (true, Role::Admin) => format!("{} is now an admin", email.as_str()),
            (true, Role::User) => format!("{} is no longer an admin", email.as_str()),
            (false, Role::Admin) => format!("{} was already an admin", email.as_str()),
            (false, Role::User) => format!("{} was not an admin", email.as_str()),
        })
    }
    .await;
    store.close().await;
    result
}
