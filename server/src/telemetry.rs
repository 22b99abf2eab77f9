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
        // Debug, not info: the request's own line (status, time) is the access log; a line per
        // door on every request would double the log and its cost (`log_level = "portal::door=debug,info"`).
        tracing::debug!(target: "portal::door", door = span.name(), ms = format!("{ms:.1}"), "door");
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
/// and returns the id in `x-request-id`. Only the route's pattern is logged (`/shared/{token}`),
/// never the raw path or the query string, which carry tokens, record ids and search terms.
pub async fn request_span(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let method = request.method().clone();
    let route = route_label(&request);
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    crate::metrics::observe(&route, method.as_str(), status, started.elapsed().as_secs_f64());
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

/// What the logs call a request: the pattern of the route it matched (`/shared/{token}`,
/// `/requests/{id}`, `/api/sign_in`), never the raw path, which can hold a passcode link's token
/// or a record's id. The site's own files keep their path (nothing secret is in it); a path that
/// matched no route is logged as such, since it could be a mistyped token.
pub fn route_label(request: &Request) -> String {
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return matched.as_str().to_string();
    }
    let path = request.uri().path();
    let own_file = path.starts_with("/pkg/") && path.len() < 200 && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    if own_file || matches!(path, "/favicon.svg" | "/favicon.ico" | "/robots.txt") { path.to_string() } else { "(no route)".to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    /// Log lines written into memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_log_names_the_route_never_the_token_in_its_path() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let router = axum::Router::new()
            .route("/shared/{token}", post(|| async { "ok" }))
            .route("/requests/{id}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(request_span));
        for (method, uri) in [("POST", "/shared/tok-SECRET-123?passcode=PASS-456"), ("GET", "/requests/req-ID-789"), ("GET", "/shared-typo/tok-OTHER-000")] {
            let request = axum::http::Request::builder().method(method).uri(uri).body(axum::body::Body::empty()).expect("request");
            router.clone().oneshot(request).await.expect("answered");
        }
        let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("UTF-8");
        assert!(logs.contains("/shared/{token}") && logs.contains("/requests/{id}") && logs.contains("(no route)"), "{logs}");
        for secret in ["tok-SECRET-123", "PASS-456", "req-ID-789", "tok-OTHER-000"] {
            assert!(!logs.contains(secret), "{secret} is in the log: {logs}");
        }
    }
}
