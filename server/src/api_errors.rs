//! Server-function calls whose arguments do not decode (a missing field, `page=-1`, `page=abc`,
//! a number past `u32`) fail inside the framework, before the function runs, and the framework
//! answers every such failure with HTTP 500. A malformed request is the caller's mistake, not a
//! fault of the server: this middleware gives those answers their real status (400) and, where
//! the decoder's message or the submitted form shows which argument was wrong, names it
//! (`{"kind":"bad_request","field":"page"}`). A NUL character in an argument, a path or a
//! query is refused the same way.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use app::error::AppError;

/// The header the framework puts on its error answers (server_fn's `SERVER_FN_ERROR_HEADER`).
const SERVER_FN_ERROR: &str = "serverfnerror";

/// Server-function forms up to this size are read here first (to refuse a NUL, and to name a
/// field that did not decode): axum's default body limit, which the framework applies anyway.
/// A larger form is refused by the framework before any argument is used.
const KEEP_FORM_BYTES: usize = 2 * 1024 * 1024;

/// Error answers are small JSON; anything larger is left alone.
const MAX_ERROR_BYTES: usize = 16 * 1024;

pub async fn argument_errors(request: Request, next: Next) -> Response {
    // A NUL in the path or the query (`/requests/%00`) is no id or filter of the portal's.
    if request.uri().path_and_query().is_some_and(|p| p.as_str().contains("%00")) {
        return bad_request(None);
    }
    if request.method() != Method::POST || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    // Keep a copy of a small url-encoded form, to name the field that did not decode.
    let small_form = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
        && request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok()).is_some_and(|n| n <= KEEP_FORM_BYTES);
    let (request, form) = if small_form {
        let (parts, body) = request.into_parts();
        match axum::body::to_bytes(body, KEEP_FORM_BYTES).await {
            Ok(bytes) => {
                // No text the portal keeps may hold a NUL character (PostgreSQL refuses it in
                // text, and no form has a use for it): the argument is malformed, not a fault.
                if let Some(field) = nul_field(&bytes) {
                    return bad_request(Some(field));
                }
                (Request::from_parts(parts, Body::from(bytes.clone())), Some(bytes))
            }
            Err(_) => return bad_request(None),
        }
    } else {
        (request, None)
    };
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key(SERVER_FN_ERROR) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    match serde_json::from_slice::<AppError>(&bytes) {
        Ok(AppError::BadRequest { field }) => bad_request(field.or_else(|| form.as_ref().and_then(named_field))),
        // Any other error the framework answered keeps its body, with the status it stands for.
        Ok(error) => {
            let mut response = Response::from_parts(parts, Body::from(bytes));
            *response.status_mut() = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// Which submitted argument did not decode, when the decoder did not say (its number errors do
/// not name the key): the first numeric argument (`page`, `limit`, `*_cents`, `*_days`…) whose
/// value is not a whole number from 0 to 4294967295.
fn named_field(form: &Bytes) -> Option<String> {
    url::form_urlencoded::parse(form).map(|(key, value)| (field_name(&key), value)).find(|(name, value)| is_number_argument(name) && value.parse::<u32>().is_err()).map(|(name, _)| name)
}

/// The first argument whose name or value holds a NUL character (`%00`).
fn nul_field(form: &Bytes) -> Option<String> {
    url::form_urlencoded::parse(form).find(|(key, value)| key.contains('\0') || value.contains('\0')).map(|(key, _)| field_name(&key.replace('\0', "")))
}

/// The field a form key stands for: `page` for `page`, `fee_cents` for `form[fee_cents]`,
/// `named` for `named[3]`.
fn field_name(key: &str) -> String {
    key.split(['[', ']']).rfind(|part| !part.is_empty() && !part.bytes().all(|b| b.is_ascii_digit())).unwrap_or(key).to_string()
}

/// The portal's numeric server-function arguments, by name.
fn is_number_argument(name: &str) -> bool {
    matches!(name, "page" | "pages" | "months" | "days" | "seq" | "limit")
        || ["_cents", "_days", "_count", "_pages", "_minutes", "_page"].iter().any(|suffix| name.ends_with(suffix))
}

/// 400 with the portal's JSON error, naming the argument when it is known.
fn bad_request(field: Option<String>) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_string(&AppError::BadRequest { field }).unwrap_or_default()));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numeric_argument_that_does_not_decode_is_named() {
        let form = |text: &'static str| Bytes::from_static(text.as_bytes());
        assert_eq!(named_field(&form("section=labs&page=abc")), Some("page".into()));
        assert_eq!(named_field(&form("page=-1")), Some("page".into()));
        assert_eq!(named_field(&form("page=99999999999")), Some("page".into()));
        assert_eq!(named_field(&form("form%5Bfee_cents%5D=1e3")), Some("fee_cents".into()));
        assert_eq!(named_field(&form("section=abc&page=2")), None, "text arguments are not numbers");
    }

    #[test]
    fn an_argument_holding_a_nul_is_named() {
        let form = |text: &'static str| Bytes::from_static(text.as_bytes());
        assert_eq!(nul_field(&form("id=%00")), Some("id".into()));
        assert_eq!(nul_field(&form("section=labs&filter%5Bq%5D=a%00b")), Some("q".into()));
        assert_eq!(nul_field(&form("section=labs&page=2")), None);
    }
}
