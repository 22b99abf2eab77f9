//! `GET /auth/oidc/callback`: where OpenID providers send the browser back. A plain axum route
//! (the provider's redirect is a top-level GET, not a server-function call). The pending flow is
//! taken out of the session first, so a `state` works once whatever happens next; then the ID
//! token is verified and the flow's intent carried out: sign in, link to the signed-in account,
//! or register with an activation letter. Every outcome is audited and ends in a redirect to a
//! page with a fixed outcome code (`api::oidc::outcome_message`); nothing the provider sent is
//! ever echoed.

use super::access::activation::{self, Redeem, RedeemError};
use super::audit::{self, AuditAction, AuditEvent, Outcome};
use super::auth::identities::{self, LinkError};
use super::auth::oidc::{Callback, Intent, OidcError, Pending, VerifiedIdentity};
use super::auth::users::{self, NewUser, UserError};
use super::current::{begin_sign_in, signed_in_with};
use super::db::write_transaction;
use super::request::RequestMeta;
use super::session::{Key, PortalSession};
use super::state::AppState;
use crate::domain::EmailAddress;
use crate::error::AppError;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tower_sessions::Session;

/// A 303 to `to`, never cached (the answer depends on the session).
fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn server_error(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], error.to_string()).into_response()
}

/// The page each intent returns to, with an outcome code.
fn back(intent: Option<&Intent>, code: &str) -> Response {
    let page = match intent {
        Some(Intent::Link { .. }) => "/account",
        Some(Intent::Activate { .. }) => "/register",
        Some(Intent::SignIn { .. }) | None => "/sign-in",
    };
    redirect(&format!("{page}?oidc={code}"))
}

/// The audit action a flow's failure is recorded under.
fn action_of(intent: Option<&Intent>) -> AuditAction {
    match intent {
        Some(Intent::Link { .. }) => AuditAction::IdentityLink,
        Some(Intent::Activate { .. }) => AuditAction::ActivationRedeem,
        Some(Intent::SignIn { .. }) | None => AuditAction::Login,
    }
}

/// `GET /auth/oidc/callback?code=&state=` (or `?error=&state=`).
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Callback>,
) -> Response {
    let request = RequestMeta::from_parts(&headers, Some(peer));
    let session = PortalSession::from(session);
    match handle(&state, &session, &request, params).await {
        Ok(response) => response,
        Err(error) => server_error(error),
    }
}

async fn handle(state: &AppState, session: &PortalSession, request: &RequestMeta, params: Callback) -> Result<Response, AppError> {
    // Single use: the flow's secrets leave the session before anything is checked, so a replayed
    // callback finds nothing (and is refused as a state mismatch).
    let pending: Option<Pending> = session.remove(Key::OidcPending).await.unwrap_or(None);
    let intent = pending.as_ref().map(|p| p.intent.clone());
    let provider_label = pending.as_ref().and_then(|p| state.oidc.label(&p.provider)).unwrap_or_default();
    let identity = match state.oidc.finish(pending.as_ref(), &params).await {
        Ok(identity) => identity,
        Err(error) => {
            if let OidcError::TokenRejected(reason) = &error {
                // The reason names the failed check (nonce, audience, issuer, signature, expiry);
                // it carries no token and no personal data.
                tracing::warn!(%reason, "an ID token was rejected");
            }
            let event = AuditEvent::new(action_of(intent.as_ref()), Outcome::Failure, request).detail(error.audit_detail());
            audit::record_alone(&state.db, event).await.map_err(|e| super::error::internal("auditing failed", &e))?;
            let code = match error {
                OidcError::Refused => "cancelled",
                OidcError::Expired | OidcError::StateMismatch => "expired",
                OidcError::ProviderUnavailable | OidcError::UnknownProvider => "unavailable",
                OidcError::CodeRejected | OidcError::TokenRejected(_) => "failed",
            };
            return Ok(back(intent.as_ref(), code));
        }
    };
    let provider_id = pending.as_ref().map(|p| p.provider.clone()).unwrap_or_default();
    match intent {
        Some(Intent::SignIn { next }) => sign_in(state, session, request, &identity, &provider_id, &next).await,
        Some(Intent::Link { user_id, login_id }) => {
            link(state, session, request, &identity, &provider_label, &user_id, &login_id).await
        }
        Some(Intent::Activate { code_hash, birth_date, name, email }) => {
            let form = ActivationForm { code_hash, birth_date, name, email };
            activate(state, session, request, &identity, &provider_id, &provider_label, form).await
        }
        // `finish` refuses a callback with no pending flow.
        None => Ok(back(None, "expired")),
    }
}

async fn sign_in(
    state: &AppState,
    session: &PortalSession,
    request: &RequestMeta,
    identity: &VerifiedIdentity,
    provider_id: &str,
    next: &str,
) -> Result<Response, AppError> {
    let internal = |e: sea_orm::DbErr| super::error::internal("an OpenID sign-in failed", &e);
    let user_id = identities::user_for(&state.db, &identity.issuer, &identity.subject).await.map_err(internal)?;
    let user = match user_id {
        Some(id) => users::find_by_id(&state.db, &id).await.map_err(internal)?,
        None => None,
    };
    let Some(user) = user.clone().filter(|u| u.active) else {
        // An unknown identity, or one linked to a disabled account: the same answer for both.
        let event = match &user {
            Some(u) => AuditEvent::new(AuditAction::Login, Outcome::Failure, request).actor(&u.id).detail("account_disabled"),
            None => AuditEvent::new(AuditAction::Login, Outcome::Failure, request).detail("oidc_unlinked"),
        };
        audit::record_alone(&state.db, event).await.map_err(internal)?;
        return Ok(back(Some(&Intent::SignIn { next: String::new() }), "unlinked"));
    };
    let to = begin_sign_in(state, session, &user, &format!("oidc:{provider_id}"), Some(next), request).await?;
    Ok(redirect(&to))
}

async fn link(
    state: &AppState,
    session: &PortalSession,
    request: &RequestMeta,
    identity: &VerifiedIdentity,
    provider_label: &str,
    user_id: &str,
    login_id: &str,
) -> Result<Response, AppError> {
    let intent = Intent::Link { user_id: user_id.into(), login_id: login_id.into() };
    // The account must still be signed in, in this browser, with the session that asked.
    let signed = match signed_in_with(state, session, request, true).await {
        Ok(s) if s.user.id == user_id && s.login_id == login_id => s,
        Ok(_) | Err(AppError::Unauthenticated) => {
            let event = AuditEvent::new(AuditAction::IdentityLink, Outcome::Failure, request).detail("oidc_signed_out");
            audit::record_alone(&state.db, event).await.map_err(|e| super::error::internal("auditing failed", &e))?;
            return Ok(redirect("/sign-in?oidc=signed_out"));
        }
        Err(e) => return Err(e),
    };
    let internal = |e: sea_orm::DbErr| super::error::internal("linking an identity failed", &e);
    let txn = write_transaction(&state.db).await.map_err(internal)?;
    match identities::link(&txn, &signed.user.id, &identity.issuer, &identity.subject, provider_label, request).await {
        Ok(()) => {
            txn.commit().await.map_err(internal)?;
            Ok(back(Some(&intent), "linked"))
        }
        Err(LinkError::TakenByAnother) => {
            drop(txn);
            let event = AuditEvent::new(AuditAction::IdentityLink, Outcome::Failure, request)
                .actor(&signed.user.id)
                .detail("identity_linked_to_another_account");
            audit::record_alone(&state.db, event).await.map_err(internal)?;
            Ok(back(Some(&intent), "taken"))
        }
        Err(LinkError::Db(e)) => Err(internal(e)),
        Err(LinkError::LastCredential | LinkError::NotFound) => Ok(back(Some(&intent), "failed")),
    }
}

/// The activation form's fields, as the start of the flow checked them.
struct ActivationForm {
    code_hash: String,
    birth_date: String,
    name: String,
    email: String,
}

async fn activate(
    state: &AppState,
    session: &PortalSession,
    request: &RequestMeta,
    identity: &VerifiedIdentity,
    provider_id: &str,
    provider_label: &str,
    form: ActivationForm,
) -> Result<Response, AppError> {
    let intent = Intent::Activate { code_hash: String::new(), birth_date: String::new(), name: String::new(), email: String::new() };
    let internal = |e: sea_orm::DbErr| super::error::internal("activating an account failed", &e);
    // One provider identity, one portal account (the table's key): refuse before the code is spent.
    if identities::user_for(&state.db, &identity.issuer, &identity.subject).await.map_err(internal)?.is_some() {
        let event = AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).detail("identity_linked_to_another_account");
        audit::record_alone(&state.db, event).await.map_err(internal)?;
        return Ok(back(Some(&intent), "taken"));
    }
    let Ok(email) = EmailAddress::parse(&form.email) else {
        // Checked when the flow started; a session altered since is refused, not trusted.
        return Ok(back(Some(&intent), "failed"));
    };
    let redeem = Redeem {
        code_hash: Some(form.code_hash),
        birth_date: form.birth_date,
        new_user: NewUser { email, display_name: form.name, password: None, roles: Default::default(), patient_id: None },
        link: Some(activation::Link {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            provider_label: provider_label.to_string(),
        }),
    };
    let user_id = match activation::redeem(&state.db, &state.auth, &state.auth.config.throttle, redeem, request).await {
        Ok(id) => id,
        Err(RedeemError::Invalid) => return Ok(back(Some(&intent), "activation_invalid")),
        Err(RedeemError::Locked { .. }) => return Ok(back(Some(&intent), "activation_locked")),
        Err(RedeemError::AlreadyActivated) => return Ok(back(Some(&intent), "already_activated")),
        Err(RedeemError::User(UserError::EmailTaken)) => return Ok(back(Some(&intent), "email_taken")),
        Err(RedeemError::User(e)) => return Err(e.into_app_error()),
        Err(RedeemError::Db(e)) => return Err(internal(e)),
    };
    let Some(user) = users::find_by_id(&state.db, &user_id).await.map_err(internal)? else {
        return Err(AppError::NotFound);
    };
    let to = begin_sign_in(state, session, &user, &format!("oidc:{provider_id}"), Some("/record"), request).await?;
    Ok(redirect(&to))
}
