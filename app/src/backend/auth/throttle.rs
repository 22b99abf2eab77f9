//! Lock-out with increasing delay after repeated failed sign-ins, per account and per client
//! address (issue 3; NIST SP 800-63B 5.2.2 rate limiting). The account key is a hash of the typed
//! email whether or not an account exists, so "locked" reveals nothing about existence.

use crate::backend::entities::login_throttle;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use sha2::{Digest, Sha256};

/// Lock-out settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before the first lock.
    pub account_threshold: i32,
    /// A client address may fail more often (many people share an address at a hospital).
    pub address_threshold: i32,
    /// The first lock's length; each further failure doubles it.
    pub base_lock_secs: i64,
    pub max_lock_secs: i64,
    /// Failures older than this are forgotten.
    pub window_secs: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            account_threshold: 5,
            address_threshold: 20,
            base_lock_secs: 60,
            max_lock_secs: 3600,
            window_secs: 3600,
        }
    }
}

/// The throttle keys for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    /// `typed_email` is what the person typed, normalized (trimmed, lower-cased) by the caller.
    pub fn new(typed_email: &str, client_address: &str) -> Self {
        Keys {
            account: format!("account:{}", hex::encode(Sha256::digest(typed_email.as_bytes()))),
            address: format!("address:{client_address}"),
        }
    }
}

/// How long until the lock on `key` ends, if it is locked.
pub async fn locked_for_ms(db: &impl ConnectionTrait, key: &str, now_ms: i64) -> Result<Option<i64>, DbErr> {
    let row = login_throttle::Entity::find_by_id(key.to_string()).one(db).await?;
    Ok(row.and_then(|r| r.locked_until_ms).filter(|until| *until > now_ms).map(|until| until - now_ms))
}

/// The longer remaining lock of the two keys.
pub async fn locked(db: &impl ConnectionTrait, keys: &Keys, now_ms: i64) -> Result<Option<i64>, DbErr> {
    let account = locked_for_ms(db, &keys.account, now_ms).await?;
    let address = locked_for_ms(db, &keys.address, now_ms).await?;
    Ok(account.max(address))
}

/// The lock after `failures` failures: none up to the threshold, then base × 2^(over − 1),
/// capped.
pub fn lock_secs(policy: &ThrottlePolicy, failures: i32, threshold: i32) -> Option<i64> {
    if failures < threshold {
        return None;
    }
    let over = (failures - threshold).clamp(0, 30) as u32;
    Some(policy.base_lock_secs.saturating_mul(1i64 << over).min(policy.max_lock_secs))
}

/// Counts a failure against one key (the second-factor lock uses its own key).
pub async fn record_failure_one(
    db: &impl ConnectionTrait,
    policy: &ThrottlePolicy,
    key: &str,
    threshold: i32,
    now_ms: i64,
) -> Result<(), DbErr> {
    let previous = login_throttle::Entity::find_by_id(key.to_string()).one(db).await?;
    let failures = match previous {
        Some(row) if now_ms - row.updated_at_ms < policy.window_secs * 1000 => row.failures + 1,
        _ => 1,
    };
    let locked_until_ms = lock_secs(policy, failures, threshold).map(|secs| now_ms + secs * 1000);
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key.to_string()),
        failures: Set(failures),
        locked_until_ms: Set(locked_until_ms),
        updated_at_ms: Set(now_ms),
    })
    .on_conflict(
        OnConflict::column(login_throttle::Column::Key)
            .update_columns([
                login_throttle::Column::Failures,
                login_throttle::Column::LockedUntilMs,
                login_throttle::Column::UpdatedAtMs,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Counts a failed attempt against both keys.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    policy: &ThrottlePolicy,
    keys: &Keys,
    now_ms: i64,
) -> Result<(), DbErr> {
    record_failure_one(db, policy, &keys.account, policy.account_threshold, now_ms).await?;
    record_failure_one(db, policy, &keys.address, policy.address_threshold, now_ms).await
}

/// A successful sign-in clears the account's count. The address keeps its count (it decays with
/// the window) so that one good account does not reset an attack spread over many.
pub async fn record_success(db: &impl ConnectionTrait, keys: &Keys) -> Result<(), DbErr> {
    login_throttle::Entity::delete_by_id(keys.account.clone()).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_after_the_threshold_and_is_capped() {
        let p = ThrottlePolicy::default();
        let locks: Vec<Option<i64>> = (1..=9).map(|n| lock_secs(&p, n, 5)).collect();
        assert_eq!(locks, vec![None, None, None, None, Some(60), Some(120), Some(240), Some(480), Some(960)]);
        assert_eq!(lock_secs(&p, 50, 5), Some(3600));
        assert_eq!(lock_secs(&p, i32::MAX, 5), Some(3600));
    }

    #[test]
    fn account_keys_do_not_contain_the_email() {
        let keys = Keys::new("ana@example.org", "10.0.0.7");
        assert!(!keys.account.contains("ana"));
        assert_eq!(keys.account.len(), "account:".len() + 64);
        assert_eq!(keys.address, "address:10.0.0.7");
    }
}
