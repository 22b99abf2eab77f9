//! Two-step verification: the second step of sign-in, setting up an authenticator app (QR code
//! and manual key), and showing the recovery codes once. Staff cannot finish signing in until they
//! have set one up (ONC 170.315(d)(13)).

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use super::ssr;

/// What the set-up page shows: the QR code (an SVG data URI) and the same key to type by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSetup {
    pub qr_data_uri: String,
    pub manual_key: String,
    /// Set up as part of signing in (a staff member's first sign-in).
    pub during_sign_in: bool,
    /// An authenticator is already set up: replacing it needs the password or a current code.
    pub replacing: bool,
}

/// The account page's view of two-step verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaOverview {
    pub enabled: bool,
    pub required: bool,
    pub recovery_codes_left: u64,
}

#[cfg(feature = "ssr")]
mod server {
    use crate::backend::auth::sessions::SignedIn;
    use crate::backend::auth::users::{self, User};
    use super::ssr::*;
    use crate::backend::db::now_ms;
    use crate::backend::session::{Key, PendingSignIn, PendingStage, PortalSession};
    use crate::error::AppError;

    /// A half-finished sign-in is good for ten minutes.
    const PENDING_MS: i64 = 10 * 60_000;

    /// The user in the middle of signing in at `stage`, if that is where this browser is.
    pub async fn pending(session: &PortalSession, stage: PendingStage) -> Result<Option<User>, AppError> {
        let Some(p) = session.get::<PendingSignIn>(Key::PendingSignIn).await? else { return Ok(None) };
        if p.stage != stage || now_ms() - p.since_ms > PENDING_MS {
            return Ok(None);
        }
        let state = state()?;
        users::find_by_id(&state.db, &p.user_id).await.map_err(|e| internal("reading a user failed", &e)).map(|u| u.filter(|u| u.active))
    }

    /// How the waiting sign-in gave its first factor (`password`, `oidc:<provider>`).
    pub async fn first_factor(session: &PortalSession) -> Result<String, AppError> {
        Ok(session.get::<PendingSignIn>(Key::PendingSignIn).await?.map(|p| p.first_factor).unwrap_or_else(|| "password".into()))
    }

    /// Whoever may set up an authenticator now: the signed-in user, or a staff member whose
    /// sign-in waits for it.
    pub async fn enrolling_user() -> Result<(User, Option<SignedIn>), AppError> {
        match signed_in(true).await {
            Ok((s, _)) => Ok((s.user.clone(), Some(s))),
            Err(AppError::Unauthenticated) => {
                let session = PortalSession::current().await?;
                pending(&session, PendingStage::Enroll).await?.map(|u| (u, None)).ok_or(AppError::Unauthenticated)
            }
            Err(e) => Err(e),
        }
    }
}

/// Step two of signing in: a code from the authenticator app, or a recovery code.
#[server(prefix = "/api", endpoint = "verify_second_factor")]
pub async fn verify_second_factor(code: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::auth::{login, mfa};
    use self::ssr::*;
    use crate::backend::session::{Key, PendingStage, PortalSession};
    with_status(async move {
        let state = state()?;
        let session = PortalSession::current().await?;
        let request = RequestMeta::current().await;
        let user = server::pending(&session, PendingStage::Verify).await?.ok_or(AppError::Unauthenticated)?;
        let method = mfa::check(&state.db, &state.file_keys, &state.auth.config.throttle, &user.id, &code, &request).await.map_err(|e| match e {
            mfa::MfaError::InvalidCode => AppError::Validation {
                fields: vec![FieldError {
                    field: "code".into(),
                    message: "That code is not right. Use the newest code from your app, or one of your recovery codes.".into(),
                }],
            },
            mfa::MfaError::Locked { retry_after_secs } => AppError::Locked { retry_after_secs },
            mfa::MfaError::NotEnrolled => AppError::Unauthenticated,
            e @ mfa::MfaError::Sealing => internal("opening an authenticator secret failed (is its key still in file_keys?)", &e),
            mfa::MfaError::Db(e) => internal("checking a second factor failed", &e),
        })?;
        let first = server::first_factor(&session).await?;
        let login_id = login::complete(&state.db, &state.auth, &user.id, &format!("{first}+{}", method.as_str()), &request)
            .await
            .map_err(|e| internal("completing a sign-in failed", &e))?;
        session.remove::<serde_json::Value>(Key::PendingSignIn).await?;
        session.cycle_id().await?;
        session.insert(Key::Login, login_id).await?;
        leptos_axum::redirect(&crate::domain::after_sign_in(next.as_deref(), user.roles.iter().copied()));
        Ok(())
    }.await)
}

/// Starts (or shows again) setting up an authenticator: a new secret kept in the session until
/// the person proves their app has it.
#[server(prefix = "/api", endpoint = "mfa_setup_start")]
pub async fn mfa_setup_start() -> Result<MfaSetup, AppError> {
    use crate::backend::auth::totp;
    use self::ssr::*;
    with_status(async move {
        let (user, signed) = server::enrolling_user().await?;
        let session = PortalSession::current().await?;
        let secret = match session.get::<String>(Key::PendingTotpSecret).await?.and_then(|s| totp::decode_secret(&s)) {
            Some(secret) => secret,
            None => {
                let secret = totp::new_secret().to_vec();
                session.insert(Key::PendingTotpSecret, totp::encode_secret(&secret)).await?;
                secret
            }
        };
        let uri = totp::otpauth_uri("Patient portal", &user.email, &secret);
        let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| internal("drawing the QR code failed", &e))?;
        let svg = code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build();
        Ok(MfaSetup {
            qr_data_uri: format!("data:image/svg+xml;base64,{}", data_encoding::BASE64.encode(svg.as_bytes())),
            manual_key: totp::manual_key(&secret),
            during_sign_in: signed.is_none(),
            replacing: signed.is_some() && user.mfa_enabled,
        })
    }.await)
}

/// Finishes setting up the authenticator with a code from it; the recovery codes are then shown
/// once on their own page. During a staff member's first sign-in this also completes the sign-in.
/// Replacing an authenticator already set up needs `current`: the password, or a code from the
/// app in use (or a recovery code), so a borrowed session cannot take the second factor over;
/// the account's other sessions end.
#[server(prefix = "/api", endpoint = "mfa_setup_confirm")]
pub async fn mfa_setup_confirm(code: String, #[server(default)] current: Option<String>) -> Result<(), AppError> {
    use crate::backend::auth::{login, mfa, totp, users};
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (user, signed) = server::enrolling_user().await?;
        let session = PortalSession::current().await?;
        let request = RequestMeta::current().await;
        let replacing = signed.is_some() && user.mfa_enabled;
        if replacing {
            let typed = current.unwrap_or_default();
            // A code (6 digits, or a recovery code `xxxx-xxxx-xx`) is checked as one; anything
            // else as the password: each counted against its own lock.
            let code_shaped = {
                let t = typed.trim();
                (t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit())) || (t.len() == 12 && t.matches('-').count() == 2)
            };
            let proven = if typed.trim().is_empty() {
                false
            } else if code_shaped {
                mfa::check(&state.db, &state.file_keys, &state.auth.config.throttle, &user.id, typed.trim(), &request).await.is_ok()
            } else {
                users::confirm_password(&state.db, &state.auth, &user, typed, &request).await.map_err(|e| match e {
                    users::ChangePasswordError::Locked { retry_after_secs } => AppError::RateLimited { retry_after_secs },
                    other => internal("checking the password failed", &other),
                })?
            };
            if !proven {
                return Err(AppError::Validation {
                    fields: vec![FieldError::new("current", "Type your password, or a code from the app you use now (or a recovery code), to replace it.")],
                });
            }
        }
        let secret = session
            .get::<String>(Key::PendingTotpSecret)
            .await?
            .and_then(|s| totp::decode_secret(&s))
            .ok_or(AppError::Conflict { message: "The set-up expired. Please start again.".into() })?;
        let codes = mfa::enable(&state.db, &state.file_keys, &user, &secret, &code, &request).await.map_err(|e| match e {
            mfa::MfaError::InvalidCode => AppError::Validation {
                fields: vec![FieldError {
                    field: "code".into(),
                    message: "That code is not right. Type the 6-digit code your app shows now.".into(),
                }],
            },
            mfa::MfaError::Locked { retry_after_secs } => AppError::Locked { retry_after_secs },
            mfa::MfaError::NotEnrolled => AppError::bad_request(),
            e @ mfa::MfaError::Sealing => internal("sealing an authenticator secret failed", &e),
            mfa::MfaError::Db(e) => internal("enabling two-step verification failed", &e),
        })?;
        session.remove::<String>(Key::PendingTotpSecret).await?;
        if signed.is_none() {
            let first = server::first_factor(&session).await?;
            let login_id = login::complete(&state.db, &state.auth, &user.id, &format!("{first}+totp_enrolment"), &request)
                .await
                .map_err(|e| internal("completing a sign-in failed", &e))?;
            session.remove::<serde_json::Value>(Key::PendingSignIn).await?;
            session.insert(Key::Login, login_id).await?;
        }
        if replacing && let Some(signed) = &signed {
            // Whoever signed in with the old authenticator is signed out.
            users::revoke_others(&state.db, &user.id, &signed.login_id).await.map_err(|e| internal("ending the other sessions failed", &e))?;
        }
        // A stronger sign-in is a privilege change: new session id.
        session.cycle_id().await?;
        session.insert(Key::RecoveryCodesOnce, codes).await?;
        leptos_axum::redirect("/account/recovery-codes");
        Ok(())
    }.await)
}

/// The recovery codes from the last set-up, once: reading them removes them from the session.
#[server(prefix = "/api", endpoint = "take_recovery_codes")]
pub async fn take_recovery_codes() -> Result<Vec<String>, AppError> {
    use self::ssr::*;
    with_status(async move {
        signed_in(true).await?;
        let session = PortalSession::current().await?;
        Ok(session.remove::<Vec<String>>(Key::RecoveryCodesOnce).await?.unwrap_or_default())
    }.await)
}

/// Two-step verification as the account page shows it.
#[server(prefix = "/api", endpoint = "mfa_status")]
pub async fn mfa_status() -> Result<MfaOverview, AppError> {
    use crate::backend::auth::{mfa, requires_mfa};
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (s, _) = signed_in(true).await?;
        Ok(MfaOverview {
            enabled: s.user.mfa_enabled,
            required: requires_mfa(&state.auth.config, &s.user),
            recovery_codes_left: mfa::recovery_codes_left(&state.db, &s.user.id).await.map_err(|e| internal("counting recovery codes failed", &e))?,
        })
    }.await)
}
