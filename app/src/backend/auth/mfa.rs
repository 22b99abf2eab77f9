//! Multi-factor authentication (ONC 170.315(d)(13)): TOTP enrolment, the second-factor check at
//! sign-in, and ten single-use recovery codes stored only as SHA-256 hashes. Required for staff;
//! optional for patients unless the `patient_mfa_required` setting says otherwise.

use super::throttle::{self, ThrottlePolicy};
use super::totp;
use super::users::User;
use crate::backend::copies::seal::FileKeys;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, one_time_token};
use crate::backend::request::RequestMeta;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_PURPOSE: &str = "mfa_recovery";

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("the code is not right")]
    InvalidCode,
    #[error("locked for {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    #[error("no authenticator is set up")]
    NotEnrolled,
    /// The stored secret could not be sealed or opened (its key is no longer configured).
    #[error("the authenticator secret could not be sealed or opened")]
    Sealing,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// How the second factor was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::RecoveryCode => "recovery_code",
        }
    }
}

fn unix_secs() -> i64 {
    now_ms().div_euclid(1000)
}

fn hash_code(code: &str) -> String {
    // Recovery codes are typed with or without the dash, in any case.
    let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// The authenticator secret as stored: sealed with the file keys (AES-256-GCM), bound to its
/// account, so a copy of the database (a backup, a read replica) does not hand out everyone's
/// second factor.
fn seal_secret(keys: &FileKeys, user_id: &str, secret: &[u8]) -> Result<String, MfaError> {
    keys.seal_text(secret, &format!("totp/{user_id}")).map_err(|_| MfaError::Sealing)
}

/// The secret and whether it was stored before sealing (plain base32, still read).
fn open_secret(keys: &FileKeys, user_id: &str, stored: &str) -> Result<(Vec<u8>, bool), MfaError> {
    match keys.open_text(stored, &format!("totp/{user_id}")) {
        Some(opened) => Ok((opened.map_err(|_| MfaError::Sealing)?, false)),
        None => totp::decode_secret(stored).map(|s| (s, true)).ok_or(MfaError::NotEnrolled),
    }
}

/// Ten fresh codes like `k7pq-3mxa-vt`: 50 random bits each, from an alphabet without look-alikes.
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10).map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char).collect();
            format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..])
        })
        .collect()
}

/// Turns on TOTP for `user` once they typed a valid code for `secret` (proving their app has it),
/// replacing any earlier authenticator and recovery codes. Returns the new recovery codes, to be
/// shown once.
pub async fn enable(
    db: &DatabaseConnection,
    keys: &FileKeys,
    user: &User,
    secret: &[u8],
    typed: &str,
    request: &RequestMeta,
) -> Result<Vec<String>, MfaError> {
    let Some(step) = totp::verify(secret, typed, unix_secs(), None) else {
        audit::record_alone(
            db,
            AuditEvent::new(AuditAction::MfaEnroll, Outcome::Failure, request).actor(&user.id).detail("invalid_code"),
        )
        .await?;
        return Err(MfaError::InvalidCode);
    };
    let codes = new_recovery_codes();
    let now = now_ms();
    let sealed = seal_secret(keys, &user.id, secret)?;
    let txn = write_transaction(db).await?;
    app_user::Entity::update_many()
        .col_expr(app_user::Column::TotpSecret, Expr::value(sealed))
        .col_expr(app_user::Column::TotpEnabledAtMs, Expr::value(now))
        .col_expr(app_user::Column::TotpLastStep, Expr::value(step))
        .filter(app_user::Column::Id.eq(user.id.as_str()))
        .exec(&txn)
        .await?;
    one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::UserId.eq(user.id.as_str()))
        .filter(one_time_token::Column::Purpose.eq(RECOVERY_PURPOSE))
        .exec(&txn)
        .await?;
    for code in &codes {
        one_time_token::Entity::insert(one_time_token::ActiveModel {
            token_hash: Set(hash_code(code)),
            purpose: Set(RECOVERY_PURPOSE.into()),
            user_id: Set(Some(user.id.clone())),
            patient_id: Set(None),
            issued_by: Set(Some(user.id.clone())),
            created_at_ms: Set(now),
            // Recovery codes do not expire; a new enrolment replaces them.
            expires_at_ms: Set(i64::MAX),
            used_at_ms: Set(None),
        })
        .exec(&txn)
        .await?;
    }
    audit::record(&txn, AuditEvent::new(AuditAction::MfaEnroll, Outcome::Success, request).actor(&user.id).detail("totp")).await?;
    txn.commit().await?;
    Ok(codes)
}

/// How many unused recovery codes `user_id` has left.
pub async fn recovery_codes_left(db: &DatabaseConnection, user_id: &str) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    one_time_token::Entity::find()
        .filter(one_time_token::Column::UserId.eq(user_id))
        .filter(one_time_token::Column::Purpose.eq(RECOVERY_PURPOSE))
        .filter(one_time_token::Column::UsedAtMs.is_null())
        .count(db)
        .await
}

/// Checks the second factor at sign-in: a current TOTP code (each step usable once) or an unused
/// recovery code (each usable once). Failures count towards a lock on this account's second
/// factor, and every attempt is audited.
pub async fn check(
    db: &DatabaseConnection,
    keys: &FileKeys,
    policy: &ThrottlePolicy,
    user_id: &str,
    typed: &str,
    request: &RequestMeta,
) -> Result<Method, MfaError> {
    let now = now_ms();
    let key = format!("mfa:{user_id}");
    let row = app_user::Entity::find_by_id(user_id.to_string()).one(db).await?.ok_or(MfaError::NotEnrolled)?;
    let stored = row.totp_secret.as_deref().ok_or(MfaError::NotEnrolled)?;
    let (secret, was_plain) = open_secret(keys, user_id, stored)?;
    // The attempt is taken (and counted) in the transaction that checks the code: parallel
    // guesses wait for each other, and exactly the threshold's number are tried before the lock.
    let txn = write_transaction(db).await?;
    if let throttle::Taken::Locked { ms } = throttle::take(&txn, policy, &key, policy.account_threshold, now).await? {
        audit::record(&txn, AuditEvent::new(AuditAction::MfaChallenge, Outcome::Failure, request).actor(user_id).detail("locked")).await?;
        txn.commit().await?;
        return Err(MfaError::Locked { retry_after_secs: (ms as u64).div_ceil(1000) });
    }
    let mut method = None;
    if typed.len() <= 64 {
        if let Some(step) = totp::verify(&secret, typed, now.div_euclid(1000), row.totp_last_step) {
            // Conditional on the stored step, so two requests racing with one code cannot both win.
            let updated = app_user::Entity::update_many()
                .col_expr(app_user::Column::TotpLastStep, Expr::value(step))
                .filter(app_user::Column::Id.eq(user_id))
                .filter(
                    Condition::any()
                        .add(app_user::Column::TotpLastStep.is_null())
                        .add(app_user::Column::TotpLastStep.lt(step)),
                )
                .exec(&txn)
                .await?;
            if updated.rows_affected == 1 {
                method = Some(Method::Totp);
            }
        } else {
            let used = one_time_token::Entity::update_many()
                .col_expr(one_time_token::Column::UsedAtMs, Expr::value(now))
                .filter(one_time_token::Column::TokenHash.eq(hash_code(typed)))
                .filter(one_time_token::Column::UserId.eq(user_id))
                .filter(one_time_token::Column::Purpose.eq(RECOVERY_PURPOSE))
                .filter(one_time_token::Column::UsedAtMs.is_null())
                .exec(&txn)
                .await?;
            if used.rows_affected == 1 {
                method = Some(Method::RecoveryCode);
            }
        }
    }
    match method {
        Some(method) => {
            if was_plain {
                // Stored before secrets were sealed: sealed now that it was used.
                app_user::Entity::update_many()
                    .col_expr(app_user::Column::TotpSecret, Expr::value(seal_secret(keys, user_id, &secret)?))
                    .filter(app_user::Column::Id.eq(user_id))
                    .exec(&txn)
                    .await?;
            }
            throttle::record_success(&txn, &throttle::Keys { account: key, address: String::new() }).await?;
            audit::record(&txn, AuditEvent::new(AuditAction::MfaChallenge, Outcome::Success, request).actor(user_id).detail(method.as_str())).await?;
            txn.commit().await?;
            Ok(method)
        }
        None => {
            audit::record(&txn, AuditEvent::new(AuditAction::MfaChallenge, Outcome::Failure, request).actor(user_id).detail("invalid_code")).await?;
            txn.commit().await?;
            Err(MfaError::InvalidCode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 12 && c.chars().nth(4) == Some('-')));
        assert_eq!(hash_code("K7PQ-3MXA-VT"), hash_code("k7pq3mxavt"));
        assert_ne!(hash_code("k7pq3mxavt"), hash_code("k7pq3mxavu"));
    }
}
