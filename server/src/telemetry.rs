//! Logging with `tracing`: human-readable by default, JSON by setting. Log lines carry a message
//! and fields; they never carry health information, tokens, passwords or session ids.

use crate::settings::{LogFormat, Settings};
use std::time::Instant;
use tracing::span;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

/// Installs the global subscriber once. Later calls (tests start many servers) are no-ops.
pub fn init(settings: &Settings) {
    // `RUST_LOG` wins for a developer chasing a problem; otherwise the setting.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter).with(DoorTimings);
    let _ = match settings.log_format {
        LogFormat::Human => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
    };
}

/// The access context's methods run in spans (`#[tracing::instrument]` in `backend::access`);
/// when one closes, this logs its name and how long it took, inside the request's span (so the
/// line carries the request id). Nothing else of the span is logged: its fields are identifiers.
struct DoorTimings;

const DOOR_TARGET: &str = "app::backend::access";

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for DoorTimings {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if attrs.metadata().target().starts_with(DOOR_TARGET)
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(Instant::now());
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(started) = span.extensions().get::<Instant>().copied() else { return };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(target: "portal::door", door = span.name(), ms = format!("{ms:.1}"), "door");
    }
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
