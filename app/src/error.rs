//! The one error type users see. Server-side causes are logged with their chain and a reference; users get only the
//! reference.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, in words fit for the person using Berth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// A dependency (usually the database) is unreachable; trying again later may work.
    #[error("Berth cannot reach its database right now. Please try again in a minute. (Reference {reference})")]
    Unavailable {
        /// Opaque id that also appears in the server log.
        reference: String,
    },
    /// A fault on the server side.
    #[error("Something went wrong on our side. (Reference {reference})")]
    Internal {
        /// Opaque id that also appears in the server log.
        reference: String,
    },
    /// The browser could not talk to the server.
    #[error("Your browser could not reach Berth. Check your connection and try again.")]
    Transport,
    /// A form field holds a value that is not acceptable; shown next to that field.
    #[error("{message}")]
    Invalid {
        /// The form field's name.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Several form fields hold values that are not acceptable; each message is shown next to its field.
    #[error("Some fields need your attention.")]
    InvalidFields {
        /// Each field's problem.
        errors: Vec<FieldError>,
    },
    /// Somebody else changed the thing first (another admin decided, or the page was out of date).
    #[error("{message}")]
    Conflict {
        /// What happened, and by whom.
        message: String,
    },
    /// The visitor must sign in first.
    #[error("Please sign in first.")]
    Unauthenticated,
    /// The signed-in user may not do this.
    #[error("You do not have permission to do this.")]
    Forbidden,
    /// The thing asked for does not exist (or is not visible to this user).
    #[error("This could not be found.")]
    NotFound,
    /// Too many attempts in a short time.
    #[error("Too many attempts. Please wait {retry_after_minutes} minutes and try again.")]
    RateLimited {
        /// When trying again makes sense.
        retry_after_minutes: u32,
    },
}

impl AppError {
    /// The HTTP status that fits this error.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } => 500,
            AppError::Transport => 502,
            AppError::Invalid { .. } | AppError::InvalidFields { .. } => 400,
            AppError::Conflict { .. } => 409,
            AppError::Unauthenticated => 401,
            AppError::Forbidden => 403,
            AppError::NotFound => 404,
            AppError::RateLimited { .. } => 429,
        }
    }

    /// An invalid value of form field `field`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        AppError::Invalid { field: field.to_owned(), message: message.to_string() }
    }

    /// The errors of several fields as one: every field's message in one `InvalidFields`, unless one of them is not
    /// about a field (the database is down, say), which is returned as it is.
    pub fn from_fields(errors: impl IntoIterator<Item = AppError>) -> Self {
        let mut fields = Vec::new();
        for error in errors {
            match error {
                AppError::Invalid { field, message } => fields.push(FieldError { field, message }),
                AppError::InvalidFields { errors } => fields.extend(errors),
                other => return other,
            }
        }
        AppError::InvalidFields { errors: fields }
    }

    /// The message for form field `field`, if this error is about it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid { field: name, message } if name == field => Some(message.clone()),
            AppError::InvalidFields { errors } => {
                errors.iter().find(|error| error.field == field).map(|error| error.message.clone())
            }
            _ => None,
        }
    }
}

/// A form field and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        match error {
            // The request never got an answer: the network or the server is down.
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Transport,
            // A post that is not the form it should be (a field missing, a number that is not one): the sender's
            // fault, answered 400, never a 500.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                ssr_or_browser::bad_request(AppError::Invalid {
                    field: String::new(),
                    message: "The form was incomplete or out of date. Reload the page and try again.".to_owned(),
                })
            }
            // Anything else is a fault in Berth itself; on the server it is logged with a reference.
            other => ssr_or_browser::internal_from_server_fn(other),
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr_or_browser {
    pub(super) fn internal_from_server_fn(error: leptos::server_fn::error::ServerFnErrorErr) -> super::AppError {
        super::ssr::report_internal(&error)
    }

    /// Sets the response's status to 400, unless a browser posted a form without JavaScript (it is redirected).
    pub(super) fn bad_request(error: super::AppError) -> super::AppError {
        crate::ssr::respond_with_error(error)
    }
}

#[cfg(not(feature = "ssr"))]
mod ssr_or_browser {
    pub(super) fn internal_from_server_fn(_error: leptos::server_fn::error::ServerFnErrorErr) -> super::AppError {
        super::AppError::Transport
    }

    pub(super) fn bad_request(error: super::AppError) -> super::AppError {
        error
    }
}

#[cfg(feature = "ssr")]
pub use ssr::{StoreError, cause_chain, report_internal};

#[cfg(feature = "ssr")]
mod ssr {
    use std::error::Error;
    use std::fmt::Write as _;

    use super::AppError;

    /// A storage failure, as every store implementation reports it.
    #[derive(Debug, thiserror::Error)]
    pub enum StoreError {
        /// The database cannot be reached (connection refused, pool timed out, …).
        #[error("the database is unavailable")]
        Unavailable(#[source] Box<dyn Error + Send + Sync>),
        /// A query failed for another reason.
        #[error("a database query failed")]
        Query(#[source] Box<dyn Error + Send + Sync>),
        /// Stored data does not fit the domain (a bad enum value, say).
        #[error("stored data is invalid: {0}")]
        Corrupt(String),
    }

    impl From<StoreError> for AppError {
        fn from(error: StoreError) -> Self {
            let reference = new_reference();
            let chain = cause_chain(&error);
            match error {
                StoreError::Unavailable(_) => {
                    tracing::warn!(%reference, error = %chain, "database unavailable");
                    AppError::Unavailable { reference }
                }
                StoreError::Query(_) | StoreError::Corrupt(_) => {
                    tracing::error!(%reference, error = %chain, "storage error");
                    AppError::Internal { reference }
                }
            }
        }
    }

    /// Logs `error` with its whole cause chain and returns the opaque error users see.
    pub fn report_internal(error: &(dyn Error + 'static)) -> AppError {
        let reference = new_reference();
        tracing::error!(%reference, error = %cause_chain(error), "internal error");
        AppError::Internal { reference }
    }

    /// `error: cause: cause…`, for logs.
    pub fn cause_chain(error: &(dyn Error + 'static)) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        text
    }

    fn new_reference() -> String {
        uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[derive(Debug, thiserror::Error)]
        #[error("connection refused")]
        struct Refused;

        #[test]
        fn users_get_a_reference_but_never_the_cause() {
            let error: AppError = StoreError::Unavailable(Box::new(Refused)).into();
            let AppError::Unavailable { reference } = &error else { panic!("expected Unavailable, got {error:?}") };
            assert_eq!(reference.len(), 12);
            assert!(!error.to_string().contains("refused"));
            assert!(error.to_string().contains(reference.as_str()));
        }

        #[test]
        fn the_cause_chain_names_every_cause() {
            let error = StoreError::Query(Box::new(Refused));
            assert_eq!(cause_chain(&error), "a database query failed: connection refused");
        }
    }
}
