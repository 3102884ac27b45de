//! E-mail addresses, checked the same way in the browser and on the server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically plausible e-mail address, lower-cased so that comparisons are exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// Why a string is not an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was given.
    #[error("enter an e-mail address")]
    Empty,
    /// Longer than 254 characters.
    #[error("an e-mail address has at most 254 characters")]
    TooLong,
    /// Not of the form `name@domain`.
    #[error("{0:?} is not an e-mail address of the form name@example.org")]
    Malformed(String),
}

impl EmailAddress {
    /// Checks `text` (surrounding spaces ignored) and lower-cases it.
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let malformed = || EmailError::Malformed(text.chars().take(80).collect());
        let (local, domain) = text.split_once('@').ok_or_else(malformed)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(malformed());
        }
        Ok(Self(text.to_lowercase()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<EmailAddress> for String {
    fn from(email: EmailAddress) -> Self {
        email.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lower_cases_them() {
        assert_eq!(EmailAddress::parse("  Ada.Lovelace@Example.ORG ").unwrap().as_str(), "ada.lovelace@example.org");
        assert!(EmailAddress::parse("ops+berth@csc.fi").is_ok());
        assert!(EmailAddress::parse("root@localhost").is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        assert_eq!(EmailAddress::parse(" "), Err(EmailError::Empty));
        for bad in [
            "plain",
            "@example.org",
            "a@",
            "a@@b",
            "a b@example.org",
            "a@-x.org",
            "a@x..org",
            ".a@x.org",
            "<script>@x.org",
        ] {
            assert!(matches!(EmailAddress::parse(bad), Err(EmailError::Malformed(_))), "{bad} must be refused");
        }
        assert_eq!(EmailAddress::parse(&format!("{}@x.org", "a".repeat(250))), Err(EmailError::TooLong));
    }

    #[test]
    fn deserialising_checks_the_address() {
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
        assert_eq!(serde_json::from_str::<EmailAddress>("\"A@B.fi\"").unwrap().as_str(), "a@b.fi");
    }
}
