//! Sign-in, sign-out and the signed-in person's view of their sessions. Thin: parse, call
//! `backend::auth`, map errors. Forms post here directly, so all of it works before hydration.

use crate::error::AppError;
use crate::domain::Role;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use super::ssr;

/// The signed-in person, as the header and account page show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
    /// The account is linked to a patient record (identity verified).
    pub has_record: bool,
    pub mfa_enabled: bool,
    /// The person whose record is on screen when a caregiver switched to them.
    pub acting: Option<crate::domain::caregiver::ActingChoice>,
    /// The switch points at someone whose access has ended.
    pub acting_lost: bool,
    /// The user may act for at least one other person (shows the switcher).
    pub helps_others: bool,
}

impl CurrentUser {
    pub fn is(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// How long until the idle time-out, for the warning one minute before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleClock {
    pub idle_seconds_left: i64,
    /// Show the warning this many seconds before the time-out.
    pub warn_seconds: i64,
}

/// One of the person's open sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub started: String,
    pub last_active: String,
    pub address: String,
    pub browser: String,
    pub current: bool,
}

/// A demo account shown on the sign-in page in demo mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoCredential {
    pub label: String,
    pub email: String,
    pub password: String,
    pub authenticator_key: Option<String>,
    pub current_code: Option<String>,
}

/// Signs in with email and password and goes to `next` (or the account page).
#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::auth::login::{self, SignInError};
    use crate::backend::current::{begin_sign_in, state};
    use self::ssr::*;
    use crate::backend::session::PortalSession;
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let user = login::verify_password(&state.db, &state.auth, &email, password, &request).await.map_err(|e| match e {
            SignInError::InvalidCredentials => AppError::InvalidCredentials,
            SignInError::Locked { retry_after_secs } => AppError::Locked { retry_after_secs },
            SignInError::Malformed { field, message } => {
                AppError::Validation { fields: vec![FieldError { field: field.into(), message: message.into() }] }
            }
            SignInError::Hash(e) => internal("password verification failed", &e),
            SignInError::Db(e) => internal("sign-in failed", &e),
        })?;
        if !user.email_verified && user.patient_id.is_none() && user.roles.is_empty() {
            // A registration not finished: only the link mailed to the address finishes it (the
            // right password alone does not show the address is theirs). A fresh link goes out.
            crate::backend::auth::addresses::send_link(&state.db, &state.mailer, &state.base_url, &user.id, &user.email, next.as_deref())
                .await
                .map_err(|e| internal("mailing a confirmation link failed", &e))?;
            return Err(AppError::Validation {
                fields: vec![FieldError { field: "email".into(), message: "Confirm your email address first: open the link we sent to it. We have just sent a new one.".into() }],
            });
        }
        let session = PortalSession::current().await?;
        let to = begin_sign_in(&state, &session, &user, "password", next.as_deref(), &request).await?;
        leptos_axum::redirect(&to);
        Ok(())
    }.await)
}

/// Signs out of this browser.
#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::backend::auth::sessions;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        if let Ok((me, request)) = signed_in(false).await {
            sessions::end(&state.db, &me, &request).await.map_err(|e| internal("sign-out failed", &e))?;
        }
        let session = PortalSession::current().await?;
        session.start_over().await?;
        leptos_axum::redirect("/sign-in?signed_out=1");
        Ok(())
    }.await)
}

/// The signed-in person, or `None`. Counts as activity (every page asks).
#[server(prefix = "/api", endpoint = "me")]
pub async fn me() -> Result<Option<CurrentUser>, AppError> {
    use self::ssr::*;
    with_status(async move {
        match signed_in(true).await {
            Ok((s, request)) => {
                let state = crate::backend::current::state()?;
                let session = crate::backend::session::PortalSession::current().await?;
                let acting = crate::backend::current::access_with(&state, &session, &s, request).await?.acting().await?;
                Ok(Some(CurrentUser {
                    name: s.user.display_name,
                    email: s.user.email,
                    roles: s.user.roles.into_iter().collect(),
                    has_record: s.user.patient_id.is_some(),
                    mfa_enabled: s.user.mfa_enabled,
                    helps_others: !acting.choices.is_empty(),
                    acting: acting.acting_for,
                    acting_lost: acting.lost,
                }))
            }
            Err(AppError::Unauthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }.await)
}

/// Time left before the idle time-out. Does not count as activity (the warning polls it).
#[server(prefix = "/api", endpoint = "session_clock")]
pub async fn session_clock() -> Result<IdleClock, AppError> {
    use self::ssr::*;
    use crate::backend::db::now_ms;
    with_status(async move {
        let warn = state()?.auth.config.idle_warning_secs;
        let (s, _) = signed_in(false).await?;
        Ok(IdleClock { idle_seconds_left: ((s.idle_deadline_ms - now_ms()) / 1000).max(0), warn_seconds: warn })
    }.await)
}

/// "Stay signed in": counts as activity and answers the new time left.
#[server(prefix = "/api", endpoint = "keep_alive")]
pub async fn keep_alive() -> Result<IdleClock, AppError> {
    use self::ssr::*;
    use crate::backend::db::now_ms;
    with_status(async move {
        let warn = state()?.auth.config.idle_warning_secs;
        let (s, _) = signed_in(true).await?;
        Ok(IdleClock { idle_seconds_left: ((s.idle_deadline_ms - now_ms()) / 1000).max(0), warn_seconds: warn })
    }.await)
}

/// Why the last session ended, shown once on the sign-in page ("idle" or "absolute").
#[server(prefix = "/api", endpoint = "signed_out_reason")]
pub async fn signed_out_reason() -> Result<Option<String>, AppError> {
    use crate::backend::auth::sessions::EndReason;
    use self::ssr::*;
    with_status(async move {
        let session = PortalSession::current().await?;
        let reason: Option<EndReason> = session.get(Key::SignedOutReason).await?;
        Ok(reason.map(|r| match r {
            EndReason::Idle => "idle".to_string(),
            EndReason::Absolute => "absolute".to_string(),
            EndReason::Revoked => "revoked".to_string(),
        }))
    }.await)
}

/// The demo credentials, in demo mode only.
#[server(prefix = "/api", endpoint = "demo_credentials")]
pub async fn demo_credentials() -> Result<Vec<DemoCredential>, AppError> {
    use self::ssr::*;
    with_status(async move {
        if !state()?.demo {
            return Ok(Vec::new());
        }
        Ok(crate::backend::demo::accounts()
            .into_iter()
            .map(|a| DemoCredential {
                label: a.label,
                email: a.email,
                password: a.password,
                authenticator_key: a.authenticator_key,
                current_code: a.current_code,
            })
            .collect())
    }.await)
}

/// The person's open sessions, this one first.
#[server(prefix = "/api", endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Vec<SessionRow>, AppError> {
    use crate::backend::auth::sessions;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (me, _) = signed_in(true).await?;
        let mut rows: Vec<SessionRow> = sessions::list(&state.db, &state.auth.config, &me)
            .await
            .map_err(|e| internal("listing sessions failed", &e))?
            .into_iter()
            .map(|s| SessionRow {
                id: s.id,
                started: state.clock.minutes(s.created_at_ms),
                last_active: state.clock.minutes(s.last_seen_ms),
                address: s.client_address,
                browser: s.user_agent,
                current: s.current,
            })
            .collect();
        rows.sort_by_key(|r| !r.current);
        Ok(rows)
    }.await)
}

/// Ends one of the person's other sessions.
#[server(prefix = "/api", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::backend::auth::sessions;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (me, request) = signed_in(true).await?;
        let ended = sessions::end_one(&state.db, &me, &id, &request).await.map_err(|e| internal("ending a session failed", &e))?;
        if !ended {
            return Err(AppError::NotFound);
        }
        leptos_axum::redirect("/account");
        Ok(())
    }.await)
}

/// "Sign out everywhere": ends every session of this person, this one included.
#[server(prefix = "/api", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::backend::auth::sessions;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (me, request) = signed_in(true).await?;
        sessions::end_everywhere(&state.db, &me, &request).await.map_err(|e| internal("signing out everywhere failed", &e))?;
        let session = PortalSession::current().await?;
        session.start_over().await?;
        leptos_axum::redirect("/sign-in?signed_out=everywhere");
        Ok(())
    }.await)
}

/// Changes the password after checking the current one; other sessions end.
#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::backend::auth::users::{self, ChangePasswordError};
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (me, request) = signed_in(true).await?;
        users::change_password(&state.db, &state.auth, &me.user, &me.login_id, current_password, new_password, &request)
            .await
            .map_err(|e| match e {
                ChangePasswordError::WrongCurrent => AppError::Validation {
                    fields: vec![FieldError { field: "current_password".into(), message: "Your current password is not right.".into() }],
                },
                ChangePasswordError::Locked { retry_after_secs } => AppError::RateLimited { retry_after_secs },
                ChangePasswordError::Policy(p) => AppError::Validation {
                    fields: vec![FieldError { field: "new_password".into(), message: p.to_string() }],
                },
                ChangePasswordError::Hash(e) => internal("password hashing failed", &e),
                ChangePasswordError::Db(e) => internal("changing the password failed", &e),
            })?;
        leptos_axum::redirect("/account?password=changed");
        Ok(())
    }.await)
}
