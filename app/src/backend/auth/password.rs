//! Password hashing (ONC 170.315(d)(12): credentials stored hashed) with Argon2id, and the
//! common-password check (NIST SP 800-63B 5.1.1.2).

use crate::domain::{EmailAddress, PasswordError, check_length};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

/// Argon2id cost, from settings. OWASP's Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing task stopped: {0}")]
    Task(String),
}

/// Hashes and verifies passwords off the async runtime (Argon2 is deliberately slow).
#[derive(Clone)]
pub struct Passwords {
    argon: Arc<Argon2<'static>>,
    /// A hash of a random password, verified when the email is unknown so that an unknown email
    /// and a wrong password take the same time (zero-to-production's `authentication/password.rs`).
    dummy_hash: Arc<String>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passwords")
    }
}

fn random_salt() -> Result<SaltString, HashError> {
    let bytes: [u8; 16] = rand::random();
    SaltString::encode_b64(&bytes).map_err(|e| HashError::Hash(e.to_string()))
}

impl Passwords {
    pub fn new(cost: HashCost) -> Result<Self, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError::Params(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let random: [u8; 32] = rand::random();
        let dummy = argon
            .hash_password(hex::encode(random).as_bytes(), &random_salt()?)
            .map_err(|e| HashError::Hash(e.to_string()))?
            .to_string();
        Ok(Passwords { argon: Arc::new(argon), dummy_hash: Arc::new(dummy) })
    }

    /// A PHC string (`$argon2id$v=19$m=...`) carrying its own salt and parameters, so changing the
    /// cost setting leaves old hashes verifiable.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let argon = self.argon.clone();
        tokio::task::spawn_blocking(move || {
            argon
                .hash_password(password.as_bytes(), &random_salt()?)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| HashError::Task(e.to_string()))?
    }

    /// Whether `password` matches `stored`; with `None` it checks against the dummy hash and
    /// answers false, spending the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, HashError> {
        let argon = self.argon.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.as_str().to_string());
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&stored).map_err(|e| HashError::Hash(e.to_string()))?;
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok() && known)
        })
        .await
        .map_err(|e| HashError::Task(e.to_string()))?
    }
}

static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();

/// The shipped list of common passwords (see app/data/README.md for its source and licence).
pub fn common_passwords() -> &'static HashSet<&'static str> {
    COMMON.get_or_init(|| include_str!("../../../data/common-passwords.txt").lines().collect())
}

/// The whole policy for a new password: length, not common, not the email address.
pub fn check_new_password(password: &str, email: Option<&EmailAddress>) -> Result<(), PasswordError> {
    check_length(password)?;
    let lowered = password.to_lowercase();
    if common_passwords().contains(lowered.trim()) {
        return Err(PasswordError::Common);
    }
    if email.is_some_and(|e| lowered.trim() == e.as_str() || lowered.trim() == e.as_str().split('@').next().unwrap_or_default()) {
        return Err(PasswordError::SameAsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(HashCost { memory_kib: 1024, iterations: 1, parallelism: 1 }).expect("valid cost")
    }

    #[test]
    fn the_shipped_list_has_at_least_ten_thousand_entries() {
        assert!(common_passwords().len() >= 10_000, "{}", common_passwords().len());
        assert!(common_passwords().contains("password"));
        assert!(common_passwords().contains("qwertyuiop123"));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(check_new_password("QwertyUiop123", None), Err(PasswordError::Common));
        assert_eq!(check_new_password("1qaz2wsx3edc", None), Err(PasswordError::Common));
        assert_eq!(check_new_password("lantern orbit kettle", None), Ok(()));
    }

    #[test]
    fn the_email_address_is_not_a_password() {
        let email = EmailAddress::parse("ana.lopez.1984@example.org").expect("valid");
        assert_eq!(check_new_password("ana.lopez.1984@example.org", Some(&email)), Err(PasswordError::SameAsEmail));
        assert_eq!(check_new_password("ana.lopez.1984", Some(&email)), Err(PasswordError::SameAsEmail));
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let passwords = cheap();
        let a = passwords.hash("lantern orbit kettle".into()).await.expect("hash");
        let b = passwords.hash("lantern orbit kettle".into()).await.expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(passwords.verify("lantern orbit kettle".into(), Some(a.clone())).await.expect("verify"));
        assert!(!passwords.verify("lantern orbit kettle!".into(), Some(a)).await.expect("verify"));
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let passwords = cheap();
        assert!(!passwords.verify("anything at all".into(), None).await.expect("verify"));
    }
}
