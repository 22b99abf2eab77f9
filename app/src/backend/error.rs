//! Turning server-side failures into the client-safe [`AppError`]: the cause is logged with its
//! whole source chain and a fresh reference id; the client gets only the id.

use crate::domain::ErrorRef;
use crate::error::AppError;
use std::error::Error as StdError;
use std::fmt::Write as _;

/// Logs `cause` (never shown to the client) and returns `AppError::Internal` with a new reference.
///
/// Callers must make sure `cause` carries no health information: database and I/O errors do not.
pub fn internal(context: &str, cause: &(dyn StdError + 'static)) -> AppError {
    let ref_id = ErrorRef::from_bits(random_bits());
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(inner) = source {
        let _ = write!(chain, ": {inner}");
        source = inner.source();
    }
    tracing::error!(error.ref_id = %ref_id, error.cause = %chain, "{context}");
    AppError::Internal { ref_id }
}

fn random_bits() -> u32 {
    // A v4 UUID is 122 random bits from the OS generator; 32 of them make the reference.
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Sets the HTTP status of the current server-function response from the error, so API callers
/// and tests see 404, 422, 500... rather than the framework's blanket 500.
///
/// Not for requests that accept HTML: a plain form post must keep the 302 back to the form (which
/// carries the error in its query string), and a page rendered on the server must not take the
/// status of one of its data calls.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    let accepts_html = leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false);
    if let Err(error) = &result
        && !accepts_html
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status_code())
    {
        response.set_status(status);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_get_distinct_references() {
        let io = std::io::Error::other("disk full");
        let a = internal("test", &io);
        let b = internal("test", &io);
        assert!(matches!(a, AppError::Internal { .. }));
        assert_ne!(a, b, "each failure gets its own reference");
    }
}
