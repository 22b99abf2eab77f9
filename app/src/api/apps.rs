//! Apps of the patient's choice (issue 22): the consent step of a SMART standalone launch. The
//! authorization request is checked and shown (which app, whose record, what it may read, in
//! plain language), and the person's decision sends the browser back to the app with a code or
//! `access_denied`. The access context decides and audits.

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

/// The person's decision (`scopes`: the ticked ones, space-separated): where the browser goes.
#[server(prefix = "/api", endpoint = "app_decide")]
pub async fn app_decide(request: AuthorizeQuery, approve: bool, scopes: String) -> Result<String, AppError> {
    use self::ssr::*;
    with_status(async move {
        let base = state()?.fhir_base();
        let ticked: Vec<String> = scopes.split_whitespace().map(str::to_string).collect();
        access().await?.smart_decide(&request, &base, approve, &ticked).await
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
