//! Login sessions: one `login_session` row per signed-in browser, referenced from the cookie's
//! server-side session. Enforces the idle time-out (ONC 170.315(d)(5); 15 minutes for staff, 30
//! for patients by default) and the absolute lifetime (12 hours), lists a user's sessions and
//! signs them out everywhere. Everything lives in the database, so any server can check any
//! session (scale-out).

use super::AuthConfig;
use super::last_seen::LastSeen;
use super::users::{self, User};
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::login_session;
use crate::backend::request::RequestMeta;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

/// Why a session ended without the person signing out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Idle longer than the time-out.
    Idle,
    /// Older than the absolute lifetime.
    Absolute,
    /// Signed out from another device ("sign out everywhere"), or a role changed.
    Revoked,
}

/// A signed-in user, checked against the database on this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub login_id: String,
    pub user: User,
    /// When this session times out for inactivity, counting from this request.
    pub idle_deadline_ms: i64,
    pub absolute_deadline_ms: i64,
}

/// The idle time-out that applies to `user`: the staff one if they hold any staff role.
pub fn idle_ms(config: &AuthConfig, user: &User) -> i64 {
    let minutes = if user.roles.iter().any(|r| r.is_staff()) {
        config.staff_idle_minutes
    } else {
        config.patient_idle_minutes
    };
    i64::from(minutes) * 60_000
}

/// Starts a login session for `user` (the caller audits the sign-in in the same transaction).
pub async fn start(
    db: &impl ConnectionTrait,
    config: &AuthConfig,
    user_id: &str,
    request: &RequestMeta,
) -> Result<String, DbErr> {
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    login_session::Entity::insert(login_session::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        created_at_ms: Set(now),
        last_seen_ms: Set(now),
        expires_at_ms: Set(now + i64::from(config.absolute_hours) * 3_600_000),
        revoked_at_ms: Set(None),
        client_address: Set(request.client_address.chars().take(64).collect()),
        user_agent: Set(request.user_agent.clone()),
    })
    .exec(db)
    .await?;
    Ok(id)
}

/// A sign-in's activity is written to its row at most once per this interval: a request that
/// only moves `last_seen_ms` by less costs no write (issue 21: two writes per page were most of a
/// page's cost on SQLite).
pub const TOUCH_WRITE_MS: i64 = 60_000;

/// Checks the login session `login_id` on this request. `touch` counts the request as activity
/// (a status poll does not). A session past its idle or absolute limit is ended and audited here,
/// and the reason returned, so the sign-in page can say why.
pub async fn check(
    db: &DatabaseConnection,
    config: &AuthConfig,
    seen: &LastSeen,
    login_id: &str,
    touch: bool,
    request: &RequestMeta,
) -> Result<Result<SignedIn, EndReason>, DbErr> {
    check_with_slack(db, config, seen, login_id, touch, request, 0).await
}

/// [`check`], ending an idle session only `slack_ms` after its limit (the background sweep
/// allows for activity another server saw but has not written yet).
async fn check_with_slack(
    db: &DatabaseConnection,
    config: &AuthConfig,
    seen: &LastSeen,
    login_id: &str,
    touch: bool,
    request: &RequestMeta,
    slack_ms: i64,
) -> Result<Result<SignedIn, EndReason>, DbErr> {
    let now = now_ms();
    let Some((row, user)) = users::login_with_user(db, login_id).await? else {
        return Ok(Err(EndReason::Revoked));
    };
    if row.revoked_at_ms.is_some() {
        seen.forget(login_id);
        return Ok(Err(EndReason::Revoked));
    }
    if !user.active {
        return Ok(Err(EndReason::Revoked));
    }
    let idle = idle_ms(config, &user);
    let last_activity = seen.last_activity(login_id, row.last_seen_ms);
    let ended = if now >= row.expires_at_ms {
        Some(EndReason::Absolute)
    } else if now - last_activity >= idle + slack_ms {
        Some(EndReason::Idle)
    } else {
        None
    };
    if let Some(reason) = ended {
        seen.forget(login_id);
        let txn = write_transaction(db).await?;
        let revoked = login_session::Entity::update_many()
            .col_expr(login_session::Column::RevokedAtMs, Expr::value(now))
            .filter(login_session::Column::Id.eq(login_id))
            .filter(login_session::Column::RevokedAtMs.is_null())
            .exec(&txn)
            .await?;
        // Only the request that ended it audits it (several may race on one session).
        if revoked.rows_affected == 1 {
            let detail = if reason == EndReason::Idle { "idle" } else { "absolute" };
            audit::record(
                &txn,
                AuditEvent::new(AuditAction::SessionTimeout, Outcome::Success, request)
                    .actor(&user.id)
                    .entity("login_session", login_id)
                    .detail(detail),
            )
            .await?;
        }
        txn.commit().await?;
        return Ok(Err(reason));
    }
    let last_seen = if touch {
        if now - row.last_seen_ms >= TOUCH_WRITE_MS {
            login_session::Entity::update_many()
                .col_expr(login_session::Column::LastSeenMs, Expr::value(now))
                .filter(login_session::Column::Id.eq(login_id))
                .exec(db)
                .await?;
            seen.remember(login_id, now, now);
        } else {
            seen.remember(login_id, row.last_seen_ms, now);
        }
        now
    } else {
        last_activity
    };
    Ok(Ok(SignedIn {
        login_id: login_id.to_string(),
        idle_deadline_ms: (last_seen + idle).min(row.expires_at_ms),
        absolute_deadline_ms: row.expires_at_ms,
        user,
    }))
}

/// Ends one login session (sign-out), audited.
pub async fn end(
    db: &DatabaseConnection,
    signed_in: &SignedIn,
    request: &RequestMeta,
) -> Result<(), DbErr> {
    let txn = write_transaction(db).await?;
    login_session::Entity::update_many()
        .col_expr(login_session::Column::RevokedAtMs, Expr::value(now_ms()))
        .filter(login_session::Column::Id.eq(signed_in.login_id.as_str()))
        .filter(login_session::Column::RevokedAtMs.is_null())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent::new(AuditAction::Logout, Outcome::Success, request)
            .actor(&signed_in.user.id)
            .entity("login_session", &signed_in.login_id),
    )
    .await?;
    txn.commit().await
}

pub use super::users::revoke_all;

/// "Sign out everywhere": ends every session of the signed-in user, this one included; audited.
pub async fn end_everywhere(
    db: &DatabaseConnection,
    signed_in: &SignedIn,
    request: &RequestMeta,
) -> Result<u64, DbErr> {
    let txn = write_transaction(db).await?;
    let count = revoke_all(&txn, &signed_in.user.id).await?;
    audit::record(
        &txn,
        AuditEvent::new(AuditAction::SignOutEverywhere, Outcome::Success, request)
            .actor(&signed_in.user.id)
            .detail(format!("sessions={count}")),
    )
    .await?;
    txn.commit().await?;
    Ok(count)
}

/// Ends one of the user's own other sessions, from the session list. Returns false if it was not
/// theirs or already ended.
pub async fn end_one(
    db: &DatabaseConnection,
    signed_in: &SignedIn,
    login_id: &str,
    request: &RequestMeta,
) -> Result<bool, DbErr> {
    let txn = write_transaction(db).await?;
    let result = login_session::Entity::update_many()
        .col_expr(login_session::Column::RevokedAtMs, Expr::value(now_ms()))
        .filter(login_session::Column::Id.eq(login_id))
        .filter(login_session::Column::UserId.eq(signed_in.user.id.as_str()))
        .filter(login_session::Column::RevokedAtMs.is_null())
        .exec(&txn)
        .await?;
    if result.rows_affected == 1 {
        audit::record(
            &txn,
            AuditEvent::new(AuditAction::SessionRevoke, Outcome::Success, request)
                .actor(&signed_in.user.id)
                .entity("login_session", login_id),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(result.rows_affected == 1)
}

/// One row of the "your sessions" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at_ms: i64,
    pub last_seen_ms: i64,
    pub client_address: String,
    pub user_agent: String,
    pub current: bool,
}

/// The user's sessions that are still open (not revoked, not past either limit), newest first.
pub async fn list(
    db: &DatabaseConnection,
    config: &AuthConfig,
    signed_in: &SignedIn,
) -> Result<Vec<SessionInfo>, DbErr> {
    let now = now_ms();
    let idle = idle_ms(config, &signed_in.user);
    let rows = login_session::Entity::find()
        .filter(login_session::Column::UserId.eq(signed_in.user.id.as_str()))
        .filter(login_session::Column::RevokedAtMs.is_null())
        .filter(login_session::Column::ExpiresAtMs.gt(now))
        .filter(login_session::Column::LastSeenMs.gte(now - idle))
        .order_by_desc(login_session::Column::LastSeenMs)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionInfo {
            current: r.id == signed_in.login_id,
            id: r.id,
            created_at_ms: r.created_at_ms,
            last_seen_ms: r.last_seen_ms,
            client_address: r.client_address,
            user_agent: r.user_agent,
        })
        .collect())
}

/// Ends every open sign-in past its idle or absolute limit, auditing each time-out (run in the
/// background, so a sign-in left open on a shared computer is ended even if nobody comes back).
pub async fn sweep(db: &DatabaseConnection, config: &AuthConfig) -> Result<u64, DbErr> {
    use sea_orm::Condition;
    let now = now_ms();
    let shortest_idle = i64::from(config.staff_idle_minutes.min(config.patient_idle_minutes)) * 60_000;
    let candidates = login_session::Entity::find()
        .filter(login_session::Column::RevokedAtMs.is_null())
        .filter(
            Condition::any()
                .add(login_session::Column::LastSeenMs.lt(now - shortest_idle - TOUCH_WRITE_MS))
                .add(login_session::Column::ExpiresAtMs.lte(now)),
        )
        .all(db)
        .await?;
    let request = RequestMeta::system();
    let mut ended = 0;
    // This sweep may run on a server that did not serve the sign-in's last requests, whose
    // activity can be up to TOUCH_WRITE_MS newer than the row: it allows for that (a request
    // itself is checked exactly by the server that serves it).
    let seen = LastSeen::default();
    for row in candidates {
        if check_with_slack(db, config, &seen, &row.id, false, &request, TOUCH_WRITE_MS).await?.is_err() {
            ended += 1;
        }
    }
    Ok(ended)
}

