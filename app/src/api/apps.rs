//! Apps of the patient's choice (issue 22): the consent step of a SMART standalone launch. The
//! authorization request is checked and shown (which app, whose record, what it may read, in
//! plain language); the person's decision is the page's plain form, posted to
//! `/oauth/authorize/decision` (`backend::smart::routes::decide`). The access context decides
//! and audits.

use crate::domain::smart::{AuthorizeQuery, Consent};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// The authorization request checked: what to ask, or where to send the browser back.
#[server(prefix = "/api", endpoint = "app_consent")]
pub async fn app_consent(request: AuthorizeQuery) -> Result<Consent, AppError> {
    use self::ssr::*;
    with_status(async move {
        let base = state()?.fhir_base();
        access().await?.smart_consent(&request, &base).await
    }.await)
}

/// The apps connected to the record on screen, for "Who can see my records".
#[server(prefix = "/api", endpoint = "connected_apps")]
pub async fn connected_apps() -> Result<Vec<crate::domain::smart::ConnectedApp>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.connected_apps().await }.await)
}

/// Disconnects an app: its next request fails (401).
#[server(prefix = "/api", endpoint = "disconnect_app")]
pub async fn disconnect_app(id: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.disconnect_app(&id).await }.await)
}
