//! The token endpoint as an axum route (`POST /oauth/token`, RFC 6749 3.2): a form in, JSON
//! out, never cached (`Cache-Control: no-store`, SMART App Launch 2.x), errors as RFC 6749 5.2
//! objects. A confidential client may authenticate with HTTP Basic (RFC 6749 2.3.1). Also the
//! revocation endpoint (`POST /oauth/revoke`, RFC 7009), which takes the same form, and the
//! key set ID tokens are verified with (`GET /oauth/jwks`).

use crate::backend::access::{OAuthError, TokenForm, smart_revoke, smart_token};
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
    let signer = crate::backend::smart::id_token::IdTokenSigner { db: &state.db, keys: &state.file_keys, issuer: state.fhir_base() };
    // A caregiver whose access ended since the app was connected gets no new token.
    let may_read = async |grant: &_| crate::backend::access::grant_holder_may_read(&state, grant, &request).await;
    match smart_token(&state.db, &signer, &form, basic_credentials(&headers), &request, may_read).await {
        Ok(answer) => no_store(StatusCode::OK, serde_json::to_value(&answer).unwrap_or_default()),
        Err(e) => error_response(e),
    }
}

/// `POST /oauth/revoke` (RFC 7009): the token's whole grant ends (its access and refresh tokens
/// with it). An unknown or already revoked token is no error (RFC 7009 2.2): the answer is the
/// same 200, so the endpoint tells nobody which tokens exist.
pub async fn revoke(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Result<Form<TokenForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return error_response(OAuthError { status: 400, error: "invalid_request", description: "the body must be application/x-www-form-urlencoded".into() });
    };
    let request = RequestMeta::from_parts(&headers, Some(peer));
    match smart_revoke(&state.db, &form, basic_credentials(&headers), &request).await {
        Ok(()) => no_store(StatusCode::OK, serde_json::json!({})),
        Err(e) => error_response(e),
    }
}

/// `GET /oauth/jwks`: the public keys of ID tokens (RFC 7517), cacheable for a while (a new
/// key is only made when none exists).
pub async fn jwks(State(state): State<AppState>) -> Response {
    match crate::backend::smart::id_token::key_set(&state.db).await {
        Ok(set) => {
            let mut response = axum::Json(set).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "jwks: database");
            error_response(OAuthError { status: 500, error: "server_error", description: "the server could not answer; try again".into() })
        }
    }
}

/// `POST /oauth/authorize/decision`: the consent page's form (the request's own fields, each
/// ticked `grant`, and `decision=allow` or `deny`). Sends the browser back to the app with a
/// code or `access_denied`; with nothing ticked, back to the page, which says so. A plain form
/// post: it works before any script, and the same-site check guards it like every form.
pub async fn decide(State(state): State<AppState>, session: tower_sessions::Session, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: String) -> Response {
    use crate::backend::export::{error_response as page_error, see_other, signed_in_context};
    use crate::domain::smart::AuthorizeQuery;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().take(200).collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let query = AuthorizeQuery::from_fields(get);
    let again = |problem: Option<&str>| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for name in AuthorizeQuery::FIELDS {
            s.append_pair(name, query.field(name));
        }
        if let Some(p) = problem {
            s.append_pair("problem", p);
        }
        format!("/oauth/authorize?{}", s.finish())
    };
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(crate::error::AppError::Unauthenticated) => return see_other(&format!("/sign-in?next={}", crate::domain::percent(&again(None)))),
        Err(e) => return page_error(e),
    };
    let ticked: Vec<String> = pairs.iter().filter(|(k, _)| k == "grant").map(|(_, v)| v.clone()).collect();
    match context.smart_decide(&query, &state.fhir_base(), get("decision") == "allow", &ticked).await {
        Ok(url) => back_to_app(&url),
        Err(crate::error::AppError::Validation { fields }) if fields.iter().any(|f| f.field == "scopes") => see_other(&again(Some("scopes"))),
        Err(e) => page_error(e),
    }
}

/// The way back to the app after the decision: a page that moves on at once (`refresh`) with
/// a link. Not a redirect: the portal's `form-action` policy (a form leads only to this site)
/// would stop a form post redirected to the app's own site.
fn back_to_app(url: &str) -> Response {
    let href = crate::backend::copies::html::escape(url);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"0;url={href}\">\
         <title>Returning to the app · Patient portal</title></head>\
         <body><main><h1>Returning you to the app</h1>\
         <p><a id=\"back-to-app\" href=\"{href}\">Continue to the app</a></p></main></body></html>"
    );
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The code is in the address: no other site learns it from this page's links.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// An app's registration request (RFC 7591 2): what the portal reads of it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RegistrationRequest {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    /// `none` (a public app, PKCE alone) or `client_secret_basic` / `client_secret_post`.
    pub token_endpoint_auth_method: String,
}

/// `POST /oauth/register` (RFC 7591 dynamic registration), only when `open_app_registration`
/// is on (otherwise there is no such endpoint: 404). Registering grants nothing: the patient
/// still decides on the consent page what the app may read. Rate-limited per address like the
/// sign-in endpoints, and audited.
pub async fn register(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Result<axum::Json<RegistrationRequest>, axum::extract::rejection::JsonRejection>) -> Response {
    let refuse = |error: &str, description: &str| no_store(StatusCode::BAD_REQUEST, serde_json::json!({ "error": error, "error_description": description }));
    if !state.open_app_registration {
        return no_store(StatusCode::NOT_FOUND, serde_json::json!({ "error": "not_found", "error_description": "apps are registered by this site's administrators" }));
    }
    let Ok(axum::Json(asked)) = body else {
        return refuse("invalid_client_metadata", "the body must be a JSON object (RFC 7591 2)");
    };
    let confidential = match asked.token_endpoint_auth_method.as_str() {
        "" | "none" => false,
        "client_secret_basic" | "client_secret_post" => true,
        _ => return refuse("invalid_client_metadata", "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post"),
    };
    let request = RequestMeta::from_parts(&headers, Some(peer));
    match super::apps::register(&state.db, &asked.client_name, &asked.redirect_uris, confidential, None, &request).await {
        Ok(registered) => {
            let mut answer = serde_json::json!({
                "client_id": registered.client_id,
                "client_id_issued_at": crate::backend::db::now_ms() / 1000,
                "client_name": asked.client_name.trim(),
                "redirect_uris": asked.redirect_uris,
                "token_endpoint_auth_method": if confidential { "client_secret_basic" } else { "none" },
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            });
            if let Some(secret) = registered.secret {
                answer["client_secret"] = serde_json::Value::String(secret);
                answer["client_secret_expires_at"] = serde_json::Value::from(0);
            }
            no_store(StatusCode::CREATED, answer)
        }
        Err(crate::error::AppError::Validation { fields }) => {
            let first = fields.into_iter().next();
            let error = if first.as_ref().is_some_and(|f| f.field == "redirect_uri") { "invalid_redirect_uri" } else { "invalid_client_metadata" };
            let description = first.map(|f| format!("{}: {}", if f.field == "name" { "client_name" } else { "redirect_uris" }, f.message)).unwrap_or_default();
            refuse(error, &description)
        }
        Err(e) => {
            tracing::error!(status = e.status_code(), "app registration failed");
            no_store(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": "server_error" }))
        }
    }
}
