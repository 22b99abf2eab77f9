//! Baseline security headers on every response, and the per-request CSP nonce.
//!
//! The Content-Security-Policy allows scripts only from the portal itself or carrying this
//! response's nonce (Leptos puts it on its hydration and streaming scripts), and WebAssembly
//! compilation (`'wasm-unsafe-eval'`); never `'unsafe-inline'`. Pages may not be framed.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;
use std::sync::Arc;

/// What the header middleware needs to know, fixed at start-up.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    /// Add `Strict-Transport-Security` (only when people reach the portal over https).
    pub hsts: bool,
    /// Allow the cargo-leptos live-reload websocket (development only).
    pub dev_reload: bool,
    /// Origins a form may lead to besides the portal: the OpenID providers' (a sign-in button
    /// posts to the portal, which redirects to the provider, and `form-action` covers that
    /// redirect). Space-separated; empty when no provider is configured.
    pub form_targets: String,
}

/// The policy for one response.
pub fn content_security_policy(nonce: &str, dev_reload: bool, form_targets: &str) -> String {
    let connect = if dev_reload { "'self' ws://127.0.0.1:* ws://localhost:*" } else { "'self'" };
    let forms = if form_targets.is_empty() { "'self'".to_string() } else { format!("'self' {form_targets}") };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src {connect}; \
         object-src 'none'; base-uri 'none'; form-action {forms}; frame-ancestors 'none'"
    )
}

/// The origins (`scheme://host:port`) of the given addresses, deduplicated, for `form-action`.
pub fn origins<'a>(addresses: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for address in addresses {
        if let Ok(url) = url::Url::parse(address) {
            let origin = url.origin().ascii_serialization();
            if origin != "null" && !seen.contains(&origin) {
                seen.push(origin);
            }
        }
    }
    seen.join(" ")
}

/// Middleware: draws a nonce for the request (read by the Leptos renderer through the request
/// extensions) and sets the security headers on the response.
pub async fn headers(State(config): State<Arc<SecurityHeaders>>, mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let asset = asset_kind(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    let headers = response.headers_mut();

    if let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce, config.dev_reload, &config.form_targets)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // `same-origin`: no address ever leaks to another site, and the portal's own form posts keep
    // the Referer that the no-JavaScript redirect back relies on.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if config.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    // 45 CFR 170.315(d)(7): no health data left in browser or proxy caches. Pages and API answers
    // are never stored. Site assets hold no health data: one whose name carries its content hash
    // never changes, so a phone keeps it for a year and never asks again; an asset without a hash
    // (a development build) may be kept five minutes. A missing asset (a tab older than the last
    // deploy asking for a file that is gone) is not kept at all.
    if !headers.contains_key(header::CACHE_CONTROL) {
        let found = status.is_success();
        let policy = match asset {
            Some(Asset::Hashed) if found => "public, max-age=31536000, immutable",
            Some(_) if found => "public, max-age=300",
            _ => "no-store",
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// A file under `/pkg/`, with or without a content hash in its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asset {
    Hashed,
    Plain,
}

/// Whether `path` is a site asset, and whether its name carries a content hash: cargo-leptos'
/// `hash-files` names them `portal.<hash>.<ext>` (the hash url-safe base64, at least 8 characters).
fn asset_kind(path: &str) -> Option<Asset> {
    let name = path.strip_prefix("/pkg/")?;
    let mut parts = name.split('.');
    let hashed = matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(_), Some(hash), Some(_), None)
            if hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    Some(if hashed { Asset::Hashed } else { Asset::Plain })
}

/// Middleware: refuses state-changing requests that a browser says come from another site
/// (cross-site request forgery). Browsers send `Sec-Fetch-Site` and `Origin` on every POST; a
/// request with neither comes from a non-browser client, which has no ambient cookies to abuse.
/// Together with `SameSite=Lax` cookies this makes every form and server function CSRF-safe by
/// construction (OWASP CSRF Prevention Cheat Sheet, "Verifying Origin with standard headers").
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    use axum::http::{Method, StatusCode};
    use axum::response::IntoResponse;
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !is_same_origin(request.headers()) {
        tracing::warn!("refused a cross-site write");
        return (StatusCode::FORBIDDEN, "Cross-site requests are not accepted.").into_response();
    }
    next.run(request).await
}

fn is_same_origin(headers: &axum::http::HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        // `none`: typed in the address bar or a bookmark; not a forgery.
        return matches!(site, "same-origin" | "none");
    }
    match (get("origin"), get("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) == Some(host)
        }
        (Some(_), None) => false,
    }
}

/// The endpoints where credentials or codes are guessed: sign-in, the second factor, set-up,
/// activation. Each also has its own lock-out in the database; this per-address rate limit (in
/// memory, per server) stops a burst before it reaches the password hasher.
pub const RATE_LIMITED_PATHS: &[&str] = &[
    "/api/sign_in",
    "/api/verify_second_factor",
    "/api/mfa_setup_confirm",
    "/api/activate_account",
    "/api/self_register",
    "/api/request_password_reset",
    "/api/reset_password",
    "/api/oidc_sign_in",
    "/api/oidc_link",
    // Anyone may check a copy, without signing in: bounded per address like the rest.
    "/api/verify_copy",
    "/verify/file",
    // Apps registering themselves (when open_app_registration allows it).
    "/oauth/register",
];

/// The verify page answers a code or a hash in its query (`GET /verify?code=…`): limited too.
pub const RATE_LIMITED_QUERY_PATH: &str = "/verify";

/// Passcode links of copies sent to someone else (`POST /shared/{token}`): the passcode is
/// guessed there, so the same per-address limit applies on top of the link's own lock-out.
pub const RATE_LIMITED_PREFIX: &str = "/shared/";

/// A per-client-address limiter (governor's GCRA), shared by the rate-limit middleware.
pub struct RateLimit {
    limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl RateLimit {
    /// `per_minute` requests a minute per address, all of which may come at once.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = std::num::NonZeroU32::new(per_minute.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        RateLimit { limiter: governor::RateLimiter::keyed(governor::Quota::per_minute(n).allow_burst(n)) }
    }
}

/// Middleware: answers 429 with `Retry-After` when one address posts to the endpoints above
/// faster than the limit. The body is the portal's JSON error, so forms show the message.
pub async fn rate_limit(
    State(limit): State<Arc<RateLimit>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let limited = (request.method() == axum::http::Method::POST && (RATE_LIMITED_PATHS.contains(&path) || path.starts_with(RATE_LIMITED_PREFIX)))
        || (path == RATE_LIMITED_QUERY_PATH && request.uri().query().is_some_and(|q| q.contains("code=") || q.contains("sha256=")));
    if limited {
        if limit.limiter.len() > 100_000 {
            limit.limiter.retain_recent();
        }
        if let Err(not_until) = limit.limiter.check_key(&peer.ip()) {
            use governor::clock::{Clock, DefaultClock};
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
            // The route, not the path: a passcode link's path is its token.
            tracing::warn!(route = %crate::telemetry::route_label(&request), "rate limit reached");
            let body = app::error::AppError::RateLimited { retry_after_secs: wait };
            let json = serde_json::to_string(&body).unwrap_or_default();
            let mut response = (StatusCode::TOO_MANY_REQUESTS, json).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    next.run(request).await
}

/// Leptos context hook: makes the renderer use the nonce that [`headers`] put in the request.
pub fn provide_request_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(parts) = use_context::<http::request::Parts>()
        && let Some(nonce) = parts.extensions.get::<Nonce>()
    {
        provide_context(nonce.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_wasm_and_nonced_scripts_but_not_inline_ones() {
        let csp = content_security_policy("abc123", false, "");
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("ws:"));
        assert!(csp.contains("form-action 'self';"));
    }

    #[test]
    fn only_assets_named_by_their_content_are_kept_for_good() {
        assert_eq!(asset_kind("/pkg/portal.Xq3v_9Zk-2aB.wasm"), Some(Asset::Hashed));
        assert_eq!(asset_kind("/pkg/portal.wasm"), Some(Asset::Plain));
        assert_eq!(asset_kind("/pkg/portal.css"), Some(Asset::Plain));
        assert_eq!(asset_kind("/pkg/portal.min.js"), Some(Asset::Plain), "too short to be a hash");
        assert_eq!(asset_kind("/pkg/a.b.c.d.js"), Some(Asset::Plain));
        assert_eq!(asset_kind("/record/portal.Xq3v_9Zk-2aB.wasm"), None);
        assert_eq!(asset_kind("/favicon.svg"), None);
    }

    #[test]
    fn forms_may_lead_to_the_openid_providers_only() {
        let targets = origins(["https://id.example.org/realms/staff", "https://id.example.org", "http://127.0.0.1:3190", "not a url"]);
        assert_eq!(targets, "https://id.example.org http://127.0.0.1:3190");
        assert!(content_security_policy("n", false, &targets).contains("form-action 'self' https://id.example.org http://127.0.0.1:3190;"));
    }

    #[test]
    fn cross_site_writes_are_recognized() {
        use axum::http::HeaderMap;
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, HeaderValue::from_static(v));
            }
            map
        };
        assert!(is_same_origin(&headers(&[])), "non-browser clients carry no cookies to abuse");
        assert!(is_same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(is_same_origin(&headers(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")])));
        assert!(!is_same_origin(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:3000")])));
        assert!(!is_same_origin(&headers(&[("origin", "null"), ("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn live_reload_is_allowed_only_in_development() {
        assert!(content_security_policy("n", true, "").contains("ws://127.0.0.1:*"));
    }
}
