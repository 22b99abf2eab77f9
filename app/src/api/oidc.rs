//! Signing in with an OpenID provider (the hospital's, or one for patients): the buttons' server
//! functions start a flow and send the browser to the provider; the provider sends it back to
//! the plain route `/auth/oidc/callback` (`backend::oidc_routes`), which redirects to a page
//! with one of the fixed outcome codes below. Forms post here directly, so all of it works
//! before hydration.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use super::ssr;

pub use crate::domain::ProviderInfo;

/// One of the signed-in person's linked identities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRow {
    /// The provider's label, or its address when it is no longer configured.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub linked: String,
}

/// What a page says for an outcome code in its address (`?oidc=...`). A fixed table: nothing
/// the provider or the browser sent is ever shown.
pub fn outcome_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "linked" => "Your sign-in with the provider is now linked. You can use it next time.",
        "unlinked" => "No portal account is linked to that sign-in yet. Sign in with your email and password, then link it on your account page; new patients can use the activation letter.",
        "taken" => "That sign-in is already linked to another portal account.",
        "cancelled" => "The sign-in at the provider was cancelled. Nothing was changed.",
        "expired" => "The sign-in at the provider took too long or was started in another window. Please try again.",
        "unavailable" => "The sign-in provider cannot be reached right now. Please try again later, or sign in with your password.",
        "failed" => "The sign-in provider's answer could not be verified. Please try again.",
        "signed_out" => "Your session ended before the provider answered. Sign in and try again.",
        "activation_invalid" => "The activation code or the date of birth is not right, or the code has expired or was used. Check your letter, or ask the records team for a new code.",
        "activation_locked" => "Too many attempts. Please wait a few minutes and try again.",
        "already_activated" => "This health record already has an account. Sign in, or ask the records team for help.",
        "email_taken" => "An account with this email address already exists. Sign in, or use another address.",
        _ => return None,
    })
}

/// The configured providers (an empty list hides the buttons).
#[server(prefix = "/api", endpoint = "oidc_providers")]
pub async fn oidc_providers() -> Result<Vec<ProviderInfo>, AppError> {
    use self::ssr::*;
    Ok(state()?.oidc.providers())
}

/// "Sign in with ...": starts a flow and sends the browser to the provider.
#[server(prefix = "/api", endpoint = "oidc_sign_in")]
pub async fn oidc_sign_in(provider: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::auth::oidc::Intent;
    use self::ssr::*;
    with_status(async move {
        // An empty `next` lands by role once the provider answers.
        let next = crate::domain::SafeNext::checked(next.as_deref()).map(|n| n.into_string()).unwrap_or_default();
        server::start(&provider, Intent::SignIn { next }).await
    }.await)
}

/// "Link my ... sign-in" on the account page: the identity the provider returns is linked to
/// the signed-in account.
#[server(prefix = "/api", endpoint = "oidc_link")]
pub async fn oidc_link(provider: String) -> Result<(), AppError> {
    use crate::backend::auth::oidc::Intent;
    use self::ssr::*;
    with_status(async move {
        let (me, _) = signed_in(true).await?;
        server::start(&provider, Intent::Link { user_id: me.user.id.clone(), login_id: me.login_id.clone() }).await
    }.await)
}

/// The signed-in person's linked identities.
#[server(prefix = "/api", endpoint = "my_identities")]
pub async fn my_identities() -> Result<Vec<IdentityRow>, AppError> {
    use crate::backend::auth::identities;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (me, _) = signed_in(true).await?;
        let rows = identities::list(&state.db, &me.user.id).await.map_err(|e| internal("listing identities failed", &e))?;
        Ok(rows
            .into_iter()
            .map(|row| IdentityRow {
                provider: state.oidc.label_for_issuer(&row.issuer).unwrap_or_else(|| row.issuer.clone()),
                linked: state.clock.minutes(row.linked_at_ms),
                issuer: row.issuer,
                subject: row.subject,
            })
            .collect())
    }.await)
}

/// Removes one of the person's linked identities (never their last way to sign in).
#[server(prefix = "/api", endpoint = "unlink_identity")]
pub async fn unlink_identity(issuer: String, subject: String) -> Result<(), AppError> {
    use crate::backend::auth::identities::{self, LinkError};
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let (me, request) = signed_in(true).await?;
        identities::unlink(&state.db, &me.user.id, &issuer, &subject, &request).await.map_err(|e| match e {
            LinkError::NotFound | LinkError::TakenByAnother => AppError::NotFound,
            LinkError::LastCredential => AppError::Conflict {
                message: "This is your only way to sign in. Set a password first (Forgot password on the sign-in page), then unlink it.".into(),
            },
            LinkError::Db(e) => internal("unlinking an identity failed", &e),
        })
    }.await)
}

#[cfg(feature = "ssr")]
pub(crate) mod server {
    use crate::backend::auth::oidc::{Intent, OidcError};
    use super::ssr::*;
    use crate::error::AppError;

    /// Starts a flow for `intent`: keeps its secrets in the session (replacing any earlier flow
    /// in this browser) and redirects to the provider.
    pub async fn start(provider: &str, intent: Intent) -> Result<(), AppError> {
        let state = state()?;
        let (url, pending) = state.oidc.start(provider, intent).await.map_err(|e| match e {
            OidcError::UnknownProvider => AppError::NotFound,
            OidcError::ProviderUnavailable => AppError::Unavailable {
                message: outcome("unavailable"),
            },
            other => internal("starting an OpenID sign-in failed", &other),
        })?;
        let session = PortalSession::current().await?;
        session.insert(Key::OidcPending, pending).await?;
        leptos_axum::redirect(&url);
        Ok(())
    }

    fn outcome(code: &str) -> String {
        super::outcome_message(code).unwrap_or_default().to_string()
    }
}
