//! Email addresses people show they read. Registration without an activation code is
//! email-first: whoever types an address gets the same answer ("we sent you a link"), and only
//! the link, opened from that mailbox, finishes the account and signs it in, so the form never
//! tells anyone which addresses have accounts (issue 19). Links are single use, expire after 24
//! hours and are stored as a SHA-256 hash, like reset links. An address also counts as verified
//! when its owner opens a password-reset link or accepts a caregiver invitation mailed to it.

use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, one_time_token};
use crate::backend::mail::Mailer;
use crate::backend::request::RequestMeta;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

pub const PURPOSE: &str = "email_verify";
/// How long a confirmation link works.
pub const VALID_MS: i64 = 24 * 3600 * 1000;

/// Mails `email` a link that confirms it and finishes the account (then goes to `next`, a page
/// of the portal). A new link replaces the last one. The mail leaves in the background.
pub async fn send_link(db: &DatabaseConnection, mailer: &Mailer, base_url: &str, user_id: &str, email: &str, next: Option<&str>) -> Result<(), DbErr> {
    let txn = write_transaction(db).await?;
    let token = super::issue_link_token(&txn, user_id, PURPOSE, VALID_MS).await?;
    txn.commit().await?;
    let next = next.map(|n| format!("&next={}", crate::domain::percent(n))).unwrap_or_default();
    let body = format!(
        "Someone (we hope you) created a patient portal account with this email address.\n\n\
         To confirm the address and finish, open this link within 24 hours:\n\n{base_url}/verify-email?token={token}{next}\n\n\
         If it was not you, ignore this message: without the link the account cannot be used.\n"
    );
    mail_later(mailer, email, "Confirm your email address for the patient portal", body);
    Ok(())
}

/// Tells the owner of an address that already has an account that someone tried to register it
/// (the form answered as for any address). No link that does anything but sign in or reset.
pub fn mail_already_registered(mailer: &Mailer, base_url: &str, email: &str) {
    let body = format!(
        "Someone (we hope you) tried to create a patient portal account with this email address, \
         which already has one.\n\nTo sign in: {base_url}/sign-in\nForgot the password? {base_url}/forgot-password\n\n\
         If it was not you, ignore this message: nothing changed.\n"
    );
    mail_later(mailer, email, "You already have a patient portal account", body);
}

fn mail_later(mailer: &Mailer, to: &str, subject: &'static str, body: String) {
    let (mailer, to) = (mailer.clone(), to.to_string());
    tokio::spawn(async move {
        if let Err(error) = mailer.send(&to, subject, body).await {
            tracing::error!(%error, "sending an address confirmation failed");
        }
    });
}

/// Records that the account's owner read mail at its address (once; later calls change nothing).
pub async fn mark_verified(conn: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    app_user::Entity::update_many()
        .col_expr(app_user::Column::EmailVerifiedAtMs, Expr::value(now_ms()))
        .filter(app_user::Column::Id.eq(user_id))
        .filter(app_user::Column::EmailVerifiedAtMs.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Spends a confirmation link's token: the address is verified and the account's id returned
/// (to sign it in). Single use, before it expires; audited either way.
pub async fn confirm(db: &DatabaseConnection, token: &str, request: &RequestMeta) -> Result<Option<String>, DbErr> {
    let now = now_ms();
    let row = if token.len() <= 128 { one_time_token::Entity::find_by_id(super::token_hash(token)).filter(one_time_token::Column::Purpose.eq(PURPOSE)).one(db).await? } else { None };
    let Some((row, user_id)) = row.filter(|r| r.used_at_ms.is_none() && r.expires_at_ms > now).and_then(|r| r.user_id.clone().map(|u| (r, u))) else {
        audit::record_alone(db, AuditEvent::new(AuditAction::EmailVerify, Outcome::Failure, request).detail("invalid_link")).await?;
        return Ok(None);
    };
    let txn = write_transaction(db).await?;
    let spent = one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAtMs, Expr::value(now))
        .filter(one_time_token::Column::TokenHash.eq(row.token_hash.as_str()))
        .filter(one_time_token::Column::UsedAtMs.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Ok(None);
    }
    mark_verified(&txn, &user_id).await?;
    audit::record(&txn, AuditEvent::new(AuditAction::EmailVerify, Outcome::Success, request).actor(&user_id)).await?;
    txn.commit().await?;
    Ok(Some(user_id))
}
