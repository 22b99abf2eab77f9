//! Lock-out with increasing delay after repeated failed sign-ins, per account and per client
//! address (issue 3; NIST SP 800-63B 5.2.2 rate limiting). The account key is a hash of the typed
//! email whether or not an account exists, so "locked" reveals nothing about existence.

use crate::backend::entities::login_throttle;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect};
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

/// The lock after `failures` failures: none up to the threshold, then base × 2^(over − 1),
/// capped.
pub fn lock_secs(policy: &ThrottlePolicy, failures: i32, threshold: i32) -> Option<i64> {
    if failures < threshold {
        return None;
    }
    let over = (failures - threshold).clamp(0, 30) as u32;
    Some(policy.base_lock_secs.saturating_mul(1i64 << over).min(policy.max_lock_secs))
}

/// What taking an attempt gave: the attempt may go ahead (already counted as a failure), or the
/// key is locked for this many milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Allowed(Ticket),
    Locked { ms: i64 },
}

/// An attempt counted before its secret was checked; [`give_back`] uncounts it when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    key: String,
    /// The lock this attempt set (it reached the threshold) and the one it replaced.
    set_lock: bool,
    previous_lock: Option<i64>,
}

/// Takes one attempt against `key`, inside the caller's write transaction, before the secret is
/// checked. The row is created when missing and locked (`FOR UPDATE` on PostgreSQL; SQLite's
/// write transaction already holds the database), the lock is checked, and the attempt is
/// counted as a failure (`failures + 1`) in the same transaction. So parallel guesses are counted
/// one after another: the attempt that reaches the threshold sets the lock at once, and every
/// later one is refused without being checked or counted. Exactly `threshold` guesses are tried
/// before the lock, however many arrive together.
pub async fn take(
    txn: &DatabaseTransaction,
    policy: &ThrottlePolicy,
    key: &str,
    threshold: i32,
    now_ms: i64,
) -> Result<Taken, DbErr> {
    // A successful sign-in deletes the account's row (`record_success`): on PostgreSQL it can
    // go between this insert (which found it and did nothing) and the locking read, which then
    // finds nothing. Insert again: each statement sees what committed before it (READ COMMITTED).
    let mut found = None;
    for _ in 0..3 {
        login_throttle::Entity::insert(login_throttle::ActiveModel {
            key: Set(key.to_string()),
            failures: Set(0),
            locked_until_ms: Set(None),
            updated_at_ms: Set(now_ms),
        })
        .on_conflict_do_nothing_on([login_throttle::Column::Key])
        .exec_without_returning(txn)
        .await?;
        found = login_throttle::Entity::find_by_id(key.to_string()).lock_exclusive().one(txn).await?;
        if found.is_some() {
            break;
        }
    }
    let row = found.ok_or_else(|| DbErr::RecordNotFound(format!("throttle row {key}")))?;
    if let Some(until) = row.locked_until_ms.filter(|until| *until > now_ms) {
        return Ok(Taken::Locked { ms: until - now_ms });
    }
    let failures = if now_ms - row.updated_at_ms < policy.window_secs * 1000 { row.failures + 1 } else { 1 };
    let lock = lock_secs(policy, failures, threshold).map(|secs| now_ms + secs * 1000);
    login_throttle::Entity::update_many()
        .col_expr(login_throttle::Column::Failures, Expr::value(failures))
        .col_expr(login_throttle::Column::LockedUntilMs, Expr::value(lock.or(row.locked_until_ms)))
        .col_expr(login_throttle::Column::UpdatedAtMs, Expr::value(now_ms))
        .filter(login_throttle::Column::Key.eq(key))
        .exec(txn)
        .await?;
    Ok(Taken::Allowed(Ticket { key: key.to_string(), set_lock: lock.is_some(), previous_lock: row.locked_until_ms }))
}

/// Takes an attempt against both keys of a sign-in: the account's, then the address's. A lock on
/// either refuses it (and nothing is counted against the other).
pub async fn take_both(txn: &DatabaseTransaction, policy: &ThrottlePolicy, keys: &Keys, now_ms: i64) -> Result<Result<[Ticket; 2], i64>, DbErr> {
    let account = match take(txn, policy, &keys.account, policy.account_threshold, now_ms).await? {
        Taken::Allowed(ticket) => ticket,
        Taken::Locked { ms } => return Ok(Err(ms)),
    };
    match take(txn, policy, &keys.address, policy.address_threshold, now_ms).await? {
        Taken::Allowed(address) => Ok(Ok([account, address])),
        Taken::Locked { ms } => {
            give_back(txn, &account).await?;
            Ok(Err(ms))
        }
    }
}

/// Uncounts an attempt that succeeded: one failure fewer, and the lock it set (if it reached the
/// threshold) lifted again.
pub async fn give_back(db: &impl ConnectionTrait, ticket: &Ticket) -> Result<(), DbErr> {
    let mut update = login_throttle::Entity::update_many()
        .col_expr(login_throttle::Column::Failures, Expr::cust("CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END"))
        .filter(login_throttle::Column::Key.eq(ticket.key.as_str()));
    if ticket.set_lock {
        update = update.col_expr(login_throttle::Column::LockedUntilMs, Expr::value(ticket.previous_lock));
    }
    update.exec(db).await?;
    Ok(())
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
