//! Password sign-in. An unknown email and a wrong password get the same answer after the same
//! work (one Argon2 verification, the same throttle and audit writes); a locked sign-in says so
//! whether or not the account exists, because the lock is keyed by the typed email.

use super::throttle::{self, Keys};
use super::users;
use super::{Auth, sessions};
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::request::RequestMeta;
use crate::domain::{EmailAddress, MAX_EMAIL_LEN, MAX_PASSWORD_CHARS};
use sea_orm::{DatabaseConnection, DbErr};

/// Why a sign-in failed. Only [`SignInError::Db`] and [`SignInError::Hash`] are server faults.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email, wrong password, unknown or disabled account: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failures for this email or from this address.
    #[error("locked for {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    /// Input that cannot be an email or a password at all (empty, far too long).
    #[error("malformed input")]
    Malformed { field: &'static str, message: &'static str },
    #[error(transparent)]
    Hash(#[from] super::password::HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn failure(request: &RequestMeta, detail: &str) -> AuditEvent {
    AuditEvent::new(AuditAction::Login, Outcome::Failure, request).detail(detail)
}

/// Checks `email` and `password` against an active account and returns it. The sign-in is not
/// complete yet: the caller asks for the second factor where one is set up or required, then
/// calls [`complete`]. Failures are counted and audited here.
pub async fn verify_password(
    db: &DatabaseConnection,
    auth: &Auth,
    email: &str,
    password: String,
    request: &RequestMeta,
) -> Result<users::User, SignInError> {
    let typed = email.trim().to_lowercase();
    // Far too long or empty input is refused before any work, with a clear reason (and audited).
    let malformed = if typed.is_empty() {
        Some(("email", "Enter your email address."))
    } else if typed.chars().count() > MAX_EMAIL_LEN {
        Some(("email", "An email address has at most 254 characters."))
    } else if password.is_empty() {
        Some(("password", "Enter your password."))
    } else if password.chars().count() > MAX_PASSWORD_CHARS {
        Some(("password", "Passwords have at most 128 characters."))
    } else {
        None
    };
    if let Some((field, message)) = malformed {
        audit::record_alone(db, failure(request, "malformed_input")).await?;
        return Err(SignInError::Malformed { field, message });
    }

    let now = now_ms();
    let keys = Keys::new(&typed, &request.client_address);
    // Counted before the password is checked, in its own short transaction (the hash takes tens
    // of milliseconds: no lock is held across it): parallel guesses cannot all pass the check.
    let txn = write_transaction(db).await?;
    let tickets = match throttle::take_both(&txn, &auth.config.throttle, &keys, now).await? {
        Ok(tickets) => tickets,
        Err(ms) => {
            audit::record(&txn, failure(request, "locked")).await?;
            txn.commit().await?;
            return Err(SignInError::Locked { retry_after_secs: (ms as u64).div_ceil(1000) });
        }
    };
    txn.commit().await?;

    let user = match EmailAddress::parse(&typed) {
        Ok(parsed) => users::find_by_email(db, &parsed).await?,
        Err(_) => None,
    };
    let stored = match &user {
        Some(u) => users::password_hash(db, &u.id).await?,
        None => None,
    };
    let matches = auth.passwords.verify(password, stored).await?;

    let txn = write_transaction(db).await?;
    match user {
        Some(user) if matches && user.active => {
            // The account's count starts again; the address only gets this attempt back, so one
            // good account does not clear an attack spread over many.
            throttle::record_success(&txn, &keys).await?;
            throttle::give_back(&txn, &tickets[1]).await?;
            txn.commit().await?;
            Ok(user)
        }
        user => {
            // Already counted when the attempt was taken.
            let (actor, detail) = match &user {
                None => (None, "unknown_account"),
                Some(u) if !u.active && matches => (Some(u.id.clone()), "account_disabled"),
                Some(u) => (Some(u.id.clone()), "wrong_password"),
            };
            let mut event = failure(request, detail);
            if let Some(actor) = actor {
                event = event.actor(actor);
            }
            audit::record(&txn, event).await?;
            txn.commit().await?;
            Err(SignInError::InvalidCredentials)
        }
    }
}

/// Completes a sign-in whose factors all passed: starts the login session and audits the login
/// with how it was made (`password`, `password+totp`, ...). Returns the login session id.
pub async fn complete(
    db: &DatabaseConnection,
    auth: &Auth,
    user_id: &str,
    how: &str,
    request: &RequestMeta,
) -> Result<String, DbErr> {
    let txn = write_transaction(db).await?;
    let login_id = sessions::start(&txn, &auth.config, user_id, request).await?;
    audit::record(
        &txn,
        AuditEvent::new(AuditAction::Login, Outcome::Success, request)
            .actor(user_id)
            .entity("login_session", &login_id)
            .detail(how),
    )
    .await?;
    txn.commit().await?;
    Ok(login_id)
}
