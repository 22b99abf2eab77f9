//! Requests for copies: the patient submits, follows and cancels their own; HIM staff work the
//! queue. Thin: parse, call the access context, map errors.

use crate::domain::release::RequestView;
use crate::error::AppError;
use leptos::prelude::*;

/// Asks for a copy of one's own record (for oneself) and opens its tracking page.
#[server(prefix = "/api", endpoint = "submit_request")]
pub async fn submit_request(
    scope: String,
    #[server(default)] from: Option<String>,
    #[server(default)] to: Option<String>,
    #[server(default)] pdf: Option<String>,
    #[server(default)] fhir: Option<String>,
) -> Result<RequestView, AppError> {
    use crate::backend::current::{access, state};
    use crate::backend::error::with_status;
    use crate::domain::release::RequestForm;
    with_status(async move {
        let state = state()?;
        let today = {
            let text = crate::domain::format_utc_seconds(crate::backend::db::now_ms());
            crate::domain::IsoDate::parse(&text[..10]).map_err(|_| AppError::BadRequest)?
        };
        let request = RequestForm { scope, from, to, pdf, fhir }.check(today).map_err(|fields| AppError::Validation { fields })?;
        let view = access().await?.submit_request(request, i64::from(state.request_response_days), state.self_copy_fee_cents).await?;
        leptos_axum::redirect(&format!("/requests/{}", view.id));
        Ok(view)
    }.await)
}

/// The signed-in patient's requests, newest first.
#[server(prefix = "/api", endpoint = "my_requests")]
pub async fn my_requests() -> Result<Vec<RequestView>, AppError> {
    use crate::backend::{current::access, error::with_status};
    with_status(async move { access().await?.my_requests().await }.await)
}

/// One request with its timeline.
#[server(prefix = "/api", endpoint = "request_detail")]
pub async fn request_detail(id: String) -> Result<RequestView, AppError> {
    use crate::backend::{current::access, error::with_status};
    with_status(async move { access().await?.copy_request(&id).await }.await)
}

/// The HIM queue of open requests.
#[server(prefix = "/api", endpoint = "request_queue")]
pub async fn request_queue() -> Result<Vec<RequestView>, AppError> {
    use crate::backend::{current::access, error::with_status};
    with_status(async move { access().await?.request_queue().await }.await)
}

/// Moves a request on: `cancel` (the requester), or an HIM step (`start_identity_check`,
/// `identity_verified`, `close`). Decisions and releases have their own functions.
#[server(prefix = "/api", endpoint = "advance_request")]
pub async fn advance_request(id: String, step: String, #[server(default)] note: Option<String>) -> Result<RequestView, AppError> {
    use crate::backend::{current::access, error::with_status};
    use crate::domain::release::Event;
    with_status(async move {
        let event = match step.as_str() {
            "cancel" => Event::Cancel,
            "start_identity_check" => Event::StartIdentityCheck,
            "identity_verified" => Event::IdentityVerified,
            "close" => Event::Close,
            _ => return Err(AppError::BadRequest),
        };
        access().await?.advance_request(&id, event, note).await
    }.await)
}

/// HIM's decision after review: `approve`, `approve_partially` (withholding categories, each
/// with its basis) or `deny` (with its ground).
#[server(prefix = "/api", endpoint = "decide_request")]
#[allow(clippy::too_many_arguments)]
pub async fn decide_request(
    id: String,
    decision: String,
    #[server(default)] ground: Option<String>,
    #[server(default)] note: Option<String>,
    #[server(default)] mental_health: Option<String>,
    #[server(default)] substance_use: Option<String>,
    #[server(default)] hiv_sti: Option<String>,
    #[server(default)] reproductive_health: Option<String>,
    #[server(default)] genetic: Option<String>,
) -> Result<RequestView, AppError> {
    use crate::backend::{current::access, error::with_status};
    use crate::domain::release::{Decision, DecisionKind};
    with_status(async move {
        let kind = match decision.as_str() {
            "approve" => DecisionKind::Approve,
            "approve_partially" => DecisionKind::ApprovePartially,
            "deny" => DecisionKind::Deny,
            _ => return Err(AppError::BadRequest),
        };
        let withheld = [
            ("mental_health", mental_health),
            ("substance_use", substance_use),
            ("hiv_sti", hiv_sti),
            ("reproductive_health", reproductive_health),
            ("genetic", genetic),
        ]
        .into_iter()
        .map(|(c, b)| (c.to_string(), b.unwrap_or_default()))
        .collect();
        let checked = Decision::check(kind, withheld, ground.as_deref(), note).map_err(|fields| AppError::Validation { fields })?;
        let state = crate::backend::current::state()?;
        let site = site_name(&state);
        access().await?.decide_request(&id, checked, release_settings(&state, &site)).await
    }.await)
}

/// Produces the copy of an approved request and makes it downloadable (HIM staff).
#[server(prefix = "/api", endpoint = "release_copy")]
pub async fn release_copy(id: String) -> Result<RequestView, AppError> {
    use crate::backend::current::{access, state};
    use crate::backend::error::with_status;
    with_status(async move {
        let state = state()?;
        let site = site_name(&state);
        access().await?.release_copy(&id, release_settings(&state, &site)).await
    }.await)
}

#[cfg(feature = "ssr")]
fn site_name(state: &crate::backend::state::AppState) -> String {
    format!("{} Health Information Management", state.site_code)
}

#[cfg(feature = "ssr")]
fn release_settings<'a>(state: &'a crate::backend::state::AppState, site: &'a str) -> crate::backend::access::ReleaseSettings<'a> {
    crate::backend::access::ReleaseSettings { keys: &state.file_keys, download_days: state.release_download_days, site, privacy_contact: &state.privacy_contact }
}

/// The requester asks for a review of a reviewable denial.
#[server(prefix = "/api", endpoint = "request_denial_review")]
pub async fn request_denial_review(id: String) -> Result<RequestView, AppError> {
    use crate::backend::{current::access, error::with_status};
    with_status(async move { access().await?.request_denial_review(&id).await }.await)
}

/// Denials waiting for a reviewer.
#[server(prefix = "/api", endpoint = "review_queue")]
pub async fn review_queue() -> Result<Vec<RequestView>, AppError> {
    use crate::backend::{current::access, error::with_status};
    with_status(async move { access().await?.review_queue().await }.await)
}

/// A reviewer who took no part in the denial upholds (`uphold`) or overturns (`overturn`) it.
#[server(prefix = "/api", endpoint = "review_denial")]
pub async fn review_denial(id: String, outcome: String, #[server(default)] note: Option<String>) -> Result<RequestView, AppError> {
    use crate::backend::{current::access, error::with_status};
    with_status(async move {
        let uphold = match outcome.as_str() {
            "uphold" => true,
            "overturn" => false,
            _ => return Err(AppError::BadRequest),
        };
        access().await?.review_denial(&id, uphold, note).await
    }.await)
}
