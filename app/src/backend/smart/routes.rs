//! The token endpoint as an axum route (`POST /oauth/token`, RFC 6749 3.2): a form in, JSON
//! out, never cached (`Cache-Control: no-store`, SMART App Launch 2.x), errors as RFC 6749 5.2
//! objects. A confidential client may authenticate with HTTP Basic (RFC 6749 2.3.1).

use crate::backend::access::{OAuthError, TokenForm, smart_token};
use crate::backend::request::RequestMeta;
use crate::backend::state::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::net::SocketAddr;

/// `Authorization: Basic base64(client_id:client_secret)`, if sent and well-formed.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn error_response(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    no_store(status, serde_json::json!({ "error": e.error, "error_description": e.description }))
}

/// `POST /oauth/token`.
pub async fn token(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Result<Form<TokenForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return error_response(OAuthError { status: 400, error: "invalid_request", description: "the body must be application/x-www-form-urlencoded".into() });
    };
    let request = RequestMeta::from_parts(&headers, Some(peer));
    match smart_token(&state.db, &form, basic_credentials(&headers), &request).await {
        Ok(answer) => no_store(StatusCode::OK, serde_json::to_value(&answer).unwrap_or_default()),
        Err(e) => error_response(e),
    }
}
