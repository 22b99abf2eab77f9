//! The signed-in user of the current request, for server functions: reads the login id from the
//! session, checks it against the database (time-outs, revocation), and builds the access context.
//! Every server function that touches anything personal starts here.

use super::access::AccessContext;
use super::auth::sessions::{self, EndReason, SignedIn};
use super::error::{BackendError, internal};
use super::request::RequestMeta;
use super::session::{Key, PortalSession};
use super::state::AppState;
use crate::error::AppError;

/// The application state, provided as context by the server's Leptos routes.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| BackendError::Missing("application state").into())
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
    match sessions::check(&state.db, &state.auth.config, &state.auth.seen, &login_id, touch, request)
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
    let session = PortalSession::current().await?;
    access_with(&state, &session, &signed_in, request).await
}

/// The access context for plain axum routes (downloads): the same, with whose record is on
/// screen (a caregiver's switch) read from the session.
pub async fn access_with(state: &AppState, session: &PortalSession, signed_in: &SignedIn, request: RequestMeta) -> Result<AccessContext, AppError> {
    let acting_for = session.get::<String>(Key::ActingFor).await?;
    Ok(AccessContext::new(state.db.clone(), signed_in, request, state.site_code.clone())
        .with_audit(state.audit.clone())
        .with_caregivers(acting_for, state.caregivers.ages)
        .with_clock(state.clock.clone()))
}

/// Where a sign-in whose first factor passed (a password, or a provider's ID token) goes next:
/// the second factor when one is set up, its set-up when one is required (staff always,
/// ONC 170.315(d)(13)), or straight in. Gives the session a new id first, so an id planted
/// before sign-in (session fixation) is worthless. Returns the path to send the browser to.
pub async fn begin_sign_in(
    state: &AppState,
    session: &PortalSession,
    user: &super::auth::users::User,
    first_factor: &str,
    next: Option<&str>,
    request: &RequestMeta,
) -> Result<String, AppError> {
    use super::auth::{login, requires_mfa};
    use super::session::{PendingSignIn, PendingStage};
    use crate::domain::{percent, safe_next};
    // A new sign-in starts afresh: nobody inherits what the previous person left in the
    // session (their switch to someone's record, one-time values shown to them).
    session.start_over().await?;
    let stage = if user.mfa_enabled {
        Some(PendingStage::Verify)
    } else if requires_mfa(&state.auth.config, user) {
        Some(PendingStage::Enroll)
    } else {
        None
    };
    if let Some(stage) = stage {
        let pending = PendingSignIn {
            user_id: user.id.clone(),
            stage,
            since_ms: super::db::now_ms(),
            first_factor: first_factor.to_string(),
        };
        session.insert(Key::PendingSignIn, pending).await?;
        let page = if stage == PendingStage::Verify { "/sign-in/verify" } else { "/sign-in/setup" };
        // A missing `next` stays missing, so the second step still lands by role.
        let next_query = next
            .filter(|n| !n.is_empty())
            .map(|n| format!("?next={}", percent(&safe_next(Some(n)))))
            .unwrap_or_default();
        return Ok(format!("{page}{next_query}"));
    }
    let login_id = login::complete(&state.db, &state.auth, &user.id, first_factor, request)
        .await
        .map_err(|e| internal("completing a sign-in failed", &e))?;
    session.insert(Key::Login, login_id).await?;
    Ok(crate::domain::after_sign_in(next, user.roles.iter().copied()))
}
