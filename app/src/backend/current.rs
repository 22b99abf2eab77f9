//! The signed-in user of the current request, for server functions: reads the login id from the
//! session, checks it against the database (time-outs, revocation), and builds the access context.
//! Every server function that touches anything personal starts here.

use super::access::AccessContext;
use super::auth::sessions::{self, EndReason, SignedIn};
use super::error::internal;
use super::request::RequestMeta;
use super::session::{Key, PortalSession};
use super::state::AppState;
use crate::error::AppError;

/// The application state, provided as context by the server's Leptos routes.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| internal("application state missing", &std::io::Error::other("no AppState in context")))
}

/// The signed-in user, or `Unauthenticated`. `touch` counts this request as activity.
/// A session that timed out is ended here and the reason kept for the sign-in page.
pub async fn signed_in(touch: bool) -> Result<(SignedIn, RequestMeta), AppError> {
    let state = state()?;
    let session = PortalSession::current().await?;
    if session.get::<String>(Key::Login).await?.is_none() {
        return Err(AppError::Unauthenticated);
    }
    let request = RequestMeta::current().await;
    let signed = signed_in_with(&state, &session, &request, touch).await?;
    Ok((signed, request))
}

/// The same check for plain axum routes (downloads), which have no Leptos context.
pub async fn signed_in_with(
    state: &AppState,
    session: &PortalSession,
    request: &RequestMeta,
    touch: bool,
) -> Result<SignedIn, AppError> {
    let Some(login_id) = session.get::<String>(Key::Login).await? else {
        return Err(AppError::Unauthenticated);
    };
    match sessions::check(&state.db, &state.auth.config, &login_id, touch, request)
        .await
        .map_err(|e| internal("checking the session failed", &e))?
    {
        Ok(signed_in) => Ok(signed_in),
        Err(reason) => {
            session.remove::<String>(Key::Login).await?;
            if reason != EndReason::Revoked {
                session.insert(Key::SignedOutReason, reason).await?;
            }
            Err(AppError::Unauthenticated)
        }
    }
}

/// The access context for this request's signed-in user.
pub async fn access() -> Result<AccessContext, AppError> {
    let state = state()?;
    let (signed_in, request) = signed_in(true).await?;
    Ok(AccessContext::new(state.db.clone(), &signed_in, request, state.site_code.clone()))
}
