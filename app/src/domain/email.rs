//! `EmailAddress`: a sign-in identifier, checked and normalized once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest address SMTP can carry (RFC 5321 4.5.3.1.3); anything longer is refused before it
/// reaches the database.
pub const MAX_EMAIL_LEN: usize = 254;

/// A syntactically plausible email address, trimmed and lower-cased (the portal treats addresses
/// case-insensitively, so one person cannot hold two accounts by changing case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmailAddress(String);

/// Why an address was refused, worded for the person typing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your email address.")]
    Empty,
    #[error("An email address has at most 254 characters.")]
    TooLong,
    #[error("Enter an email address like name@example.org.")]
    Malformed,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.split_once('@').ok_or(EmailError::Malformed)?;
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && trimmed.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>');
        if !well_formed {
            return Err(EmailError::Malformed);
        }
        Ok(EmailAddress(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Ana.Lopez@Example.ORG ").expect("valid");
        assert_eq!(email.as_str(), "ana.lopez@example.org");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        assert_eq!(EmailAddress::parse(""), Err(EmailError::Empty));
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Empty));
        for bad in ["ana", "ana@", "@example.org", "ana@example", "a b@example.org", "ana@@example.org",
            "ana@example..org", "ana@.example.org", "<ana@example.org>", "ana@example.org."] {
            assert_eq!(EmailAddress::parse(bad), Err(EmailError::Malformed), "{bad}");
        }
    }

    #[test]
    fn over_long_addresses_are_refused() {
        let long = format!("{}@example.org", "a".repeat(10_000));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long_local), Err(EmailError::Malformed));
    }
}
