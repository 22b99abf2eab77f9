//! Logging with `tracing`: human-readable by default, JSON by setting. Log lines carry a message
//! and fields; they never carry health information, tokens, passwords or session ids.

use crate::settings::{LogFormat, Settings};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber once. Later calls (tests start many servers) are no-ops.
pub fn init(settings: &Settings) {
    // `RUST_LOG` wins for a developer chasing a problem; otherwise the setting.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.log_format {
        LogFormat::Human => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
    };
}

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the request id back to the client (for support calls).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware: gives every request a fresh id (an incoming one is replaced: it could be forged or
/// carry anything), runs the request inside a span that carries it, logs one line per response,
/// and returns the id in `x-request-id`. Only the path is logged, never the query string, which
/// may carry search terms or tokens.
pub async fn request_span(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        let ms = started.elapsed().as_millis() as u64;
        if status >= 500 {
            tracing::error!(status, ms, "request failed");
        } else {
            tracing::info!(status, ms, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
