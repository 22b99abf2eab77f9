//! Authentication: passwords, sign-in throttling, login sessions with idle and absolute time-outs,
//! and the users and roles behind them. Every sign-in, sign-out, time-out and role change is
//! audited through `backend::audit`.

pub mod addresses;
pub mod identities;
pub mod last_seen;
pub mod login;
pub mod mfa;
pub mod oidc;
pub mod password;
pub mod reset;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod users;

use password::{HashCost, HashError, Passwords};

/// How a one-time link's token is stored (reset and confirmation links): its SHA-256, so the
/// table never holds a working link.
pub(crate) fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A new one-time link token for `user_id` and `purpose`, valid `valid_ms`, replacing the last
/// one of that purpose (one link at a time), written in `txn`. Returns the token for the mail;
/// only its hash is stored.
pub(crate) async fn issue_link_token(txn: &impl sea_orm::ConnectionTrait, user_id: &str, purpose: &str, valid_ms: i64) -> Result<String, sea_orm::DbErr> {
    use crate::backend::entities::one_time_token;
    use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let token = hex::encode(rand::random::<[u8; 32]>());
    let now = crate::backend::db::now_ms();
    one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::UserId.eq(user_id))
        .filter(one_time_token::Column::Purpose.eq(purpose))
        .exec(txn)
        .await?;
    one_time_token::Entity::insert(one_time_token::ActiveModel {
        token_hash: Set(token_hash(&token)),
        purpose: Set(purpose.into()),
        user_id: Set(Some(user_id.to_string())),
        patient_id: Set(None),
        issued_by: Set(None),
        created_at_ms: Set(now),
        expires_at_ms: Set(now + valid_ms),
        used_at_ms: Set(None),
    })
    .exec(txn)
    .await?;
    Ok(token)
}
use throttle::ThrottlePolicy;

/// Authentication settings, mapped by the server from its `Settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub hash_cost: HashCost,
    pub throttle: ThrottlePolicy,
    /// ONC 170.315(d)(5): automatic time-out after inactivity. Staff default 15 minutes.
    pub staff_idle_minutes: u32,
    /// Patients default 30 minutes.
    pub patient_idle_minutes: u32,
    /// The absolute lifetime of a sign-in, whatever the activity (default 12 hours).
    pub absolute_hours: u32,
    /// The idle warning appears this many seconds before the time-out (default one minute).
    pub idle_warning_secs: i64,
    /// Patients must set up a second factor too (staff always must).
    pub patient_mfa_required: bool,
    /// How long an activation code stays valid.
    pub activation_code_days: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hash_cost: HashCost::default(),
            throttle: ThrottlePolicy::default(),
            staff_idle_minutes: 15,
            patient_idle_minutes: 30,
            absolute_hours: 12,
            idle_warning_secs: 60,
            patient_mfa_required: false,
            activation_code_days: 30,
        }
    }
}

/// The authentication service shared by every request (cheap to clone).
#[derive(Debug, Clone)]
pub struct Auth {
    pub config: AuthConfig,
    pub passwords: Passwords,
    /// This server's memory of sign-ins' last activity (written to the database at most once
    /// a minute: `sessions::LastSeen`).
    pub seen: last_seen::LastSeen,
}

pub use users::requires_mfa;

impl Auth {
    pub fn new(config: AuthConfig) -> Result<Self, HashError> {
        let passwords = Passwords::new(config.hash_cost)?;
        Ok(Auth { config, passwords, seen: last_seen::LastSeen::default() })
    }
}
