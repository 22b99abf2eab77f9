//! Forgotten passwords: ask for a reset link by email, then choose a new password with it.

use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// Mails a reset link if the address has an account. The answer is the same either way.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::backend::auth::reset;
    use self::ssr::*;
    use crate::domain::EmailAddress;
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let email = EmailAddress::parse(&email).map_err(|e| AppError::Validation {
            fields: vec![FieldError { field: "email".into(), message: e.to_string() }],
        })?;
        reset::request(&state.db, &state.mailer, &state.base_url, &email, &request)
            .await
            .map_err(|e| internal("starting a password reset failed", &e))?;
        leptos_axum::redirect("/forgot-password?sent=1");
        Ok(())
    }.await)
}

/// Sets a new password with the token from the emailed link, then goes to sign-in.
#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, new_password: String) -> Result<(), AppError> {
    use crate::backend::auth::reset::{self, ResetError};
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        if new_password.chars().count() > crate::domain::MAX_PASSWORD_CHARS {
            return Err(AppError::Validation {
                fields: vec![FieldError { field: "new_password".into(), message: "Use at most 128 characters.".into() }],
            });
        }
        reset::reset(&state.db, &state.auth, &token, new_password, &request).await.map_err(|e| match e {
            ResetError::InvalidLink => AppError::Conflict {
                message: "This link does not work any more (it expires after 30 minutes and works once). Ask for a new one.".into(),
            },
            ResetError::Password(p) => AppError::Validation {
                fields: vec![FieldError { field: "new_password".into(), message: p.to_string() }],
            },
            ResetError::Hash(e) => internal("hashing a password failed", &e),
            ResetError::Db(e) => internal("resetting a password failed", &e),
        })?;
        leptos_axum::redirect("/sign-in?reset=1");
        Ok(())
    }.await)
}
