//! What the audit trail records about the request behind an action: its id (the one returned in
//! `x-request-id`, for support) and the client's address and browser.

use axum::extract::ConnectInfo;
use http::HeaderMap;
use std::net::SocketAddr;

/// The request id header the server's telemetry middleware sets on every request.
const REQUEST_ID: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_address: String,
    /// The browser's self-description, clipped; shown in the user's list of sessions.
    pub user_agent: String,
}

impl RequestMeta {
    pub fn from_parts(headers: &HeaderMap, peer: Option<SocketAddr>) -> Self {
        let header = |name: &str| {
            headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
        };
        RequestMeta {
            request_id: header(REQUEST_ID),
            // The client's address: the server's `proxy::client_address` middleware has already
            // replaced a trusted proxy's address with the client it forwarded for.
            client_address: peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into()),
            user_agent: header("user-agent").chars().take(200).collect(),
        }
    }

    /// The current server function's request.
    pub async fn current() -> Self {
        let headers = leptos_axum::extract::<HeaderMap>().await.unwrap_or_default();
        let peer = leptos_axum::extract::<ConnectInfo<SocketAddr>>().await.ok().map(|c| c.0);
        Self::from_parts(&headers, peer)
    }

    /// For the server's own background work (no request behind it).
    pub fn system() -> Self {
        RequestMeta {
            request_id: format!("system-{}", uuid::Uuid::new_v4().simple()),
            client_address: "server".into(),
            user_agent: String::new(),
        }
    }

    /// For work that no HTTP request started (the command line).
    pub fn command_line() -> Self {
        RequestMeta {
            request_id: format!("cli-{}", uuid::Uuid::new_v4().simple()),
            client_address: "command-line".into(),
            user_agent: String::new(),
        }
    }
}
