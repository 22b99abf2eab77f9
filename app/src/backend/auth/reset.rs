//! Password reset by an emailed one-time link: expiring (30 minutes), single use, stored only as
//! a SHA-256 hash. Asking gives the same answer whether or not the address has an account, and
//! the mail is sent in the background so the answer takes the same time either way.

use super::Auth;
use super::password::check_new_password;
use super::users;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, one_time_token};
use crate::backend::mail::Mailer;
use crate::backend::request::RequestMeta;
use crate::domain::{EmailAddress, PasswordError};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

pub const PURPOSE: &str = "password_reset";
/// How long a link works.
pub const VALID_MS: i64 = 30 * 60_000;

fn hash(token: &str) -> String {
    super::token_hash(token)
}

/// Starts a reset for `email` if it names an active account with a password: stores the token's
/// hash and mails the link. Always succeeds from the caller's point of view.
pub async fn request(
    db: &DatabaseConnection,
    mailer: &Mailer,
    base_url: &str,
    email: &EmailAddress,
    request: &RequestMeta,
) -> Result<(), DbErr> {
    let user = users::find_by_email(db, email).await?.filter(|u| u.active && u.has_password);
    let Some(user) = user else {
        audit::record_alone(db, AuditEvent::new(AuditAction::PasswordResetRequest, Outcome::Failure, request).detail("unknown_account")).await?;
        return Ok(());
    };
    let txn = write_transaction(db).await?;
    // One link at a time: a new request replaces the old link.
    let token = super::issue_link_token(&txn, &user.id, PURPOSE, VALID_MS).await?;
    audit::record(&txn, AuditEvent::new(AuditAction::PasswordResetRequest, Outcome::Success, request).actor(&user.id)).await?;
    txn.commit().await?;
    let link = format!("{base_url}/reset-password?token={token}");
    let body = format!(
        "Someone (we hope you) asked to reset the password of your patient portal account.\n\n\
         To choose a new password, open this link within 30 minutes:\n\n{link}\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n"
    );
    let mailer = mailer.clone();
    let to = user.email.clone();
    tokio::spawn(async move {
        if let Err(error) = mailer.send(&to, "Reset your patient portal password", body).await {
            tracing::error!(%error, "sending a password-reset message failed");
        }
    });
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the link is not valid")]
    InvalidLink,
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Hash(#[from] super::password::HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Sets a new password with a reset link's token: single use, before it expires. Ends every
/// session of the account and clears its sign-in lock; audited either way.
pub async fn reset(
    db: &DatabaseConnection,
    auth: &Auth,
    token: &str,
    new_password: String,
    request: &RequestMeta,
) -> Result<(), ResetError> {
    let now = now_ms();
    let row = if token.len() <= 128 {
        one_time_token::Entity::find_by_id(hash(token)).filter(one_time_token::Column::Purpose.eq(PURPOSE)).one(db).await?
    } else {
        None
    };
    let valid = row.filter(|r| r.used_at_ms.is_none() && r.expires_at_ms > now);
    let Some((row, user_id)) = valid.and_then(|r| r.user_id.clone().map(|u| (r, u))) else {
        audit::record_alone(db, AuditEvent::new(AuditAction::PasswordReset, Outcome::Failure, request).detail("invalid_link")).await?;
        return Err(ResetError::InvalidLink);
    };
    let user = users::find_by_id(db, &user_id).await?.ok_or(ResetError::InvalidLink)?;
    let email = EmailAddress::parse(&user.email).ok();
    check_new_password(&new_password, email.as_ref())?;
    let new_hash = auth.passwords.hash(new_password).await?;
    let txn = write_transaction(db).await?;
    let spent = one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAtMs, Expr::value(now))
        .filter(one_time_token::Column::TokenHash.eq(row.token_hash.as_str()))
        .filter(one_time_token::Column::UsedAtMs.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(ResetError::InvalidLink);
    }
    app_user::Entity::update_many()
        .col_expr(app_user::Column::PasswordHash, Expr::value(new_hash))
        .filter(app_user::Column::Id.eq(user_id.as_str()))
        .exec(&txn)
        .await?;
    // The link was opened from the mailbox: the address is the owner's.
    super::addresses::mark_verified(&txn, &user_id).await?;
    super::sessions::revoke_all(&txn, &user_id).await?;
    if let Some(email) = &email {
        super::throttle::record_success(&txn, &super::throttle::Keys::new(email.as_str(), "")).await?;
    }
    audit::record(&txn, AuditEvent::new(AuditAction::PasswordReset, Outcome::Success, request).actor(&user_id)).await?;
    txn.commit().await?;
    Ok(())
}
