//! The app-facing HTTP surface (issue 22): the FHIR R4 API at `/fhir/r4` (the
//! CapabilityStatement, reads, searches, `Patient/$everything`), SMART discovery
//! (`/.well-known/smart-configuration`, at the FHIR base as SMART App Launch 2.x asks and at the
//! site's root), and the token and revocation endpoints.
//!
//! These routes carry no cookies and no session: an app proves itself with its bearer token (or
//! its client credentials), so they sit outside the session and same-site layers and answer
//! cross-origin requests (CORS, `*`, no credentials): a browser app of the patient's choice
//! lives on its own site. Every answer is JSON; every FHIR error is an `OperationOutcome`.

use super::search;
use crate::backend::access::{ApiError, api_context, operation_outcome};
use crate::backend::request::RequestMeta;
use crate::backend::state::AppState;
use crate::domain::smart::RESOURCE_TYPES;
use axum::Router;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The FHIR JSON media type (R4 2.6.1).
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// The routes apps call, with their CORS layer (to be merged outside the session layers).
pub fn routes() -> Router<AppState> {
    let fhir = Router::new()
        .route("/metadata", get(metadata))
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/Patient/{id}/$everything", get(everything))
        .route("/{resource_type}", get(search_type))
        .route("/{resource_type}/{id}", get(read))
        .fallback(unknown_path);
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(std::time::Duration::from_secs(3_600));
    Router::new()
        .nest("/fhir/r4", fhir)
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route("/oauth/token", post(super::routes::token))
        .route("/oauth/revoke", post(super::routes::revoke))
        .route("/oauth/jwks", get(super::routes::jwks))
        .route("/oauth/register", post(super::routes::register))
        .layer(cors)
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    // Patient data: never kept by a cache on the way.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error(e: &ApiError) -> Response {
    let mut response = fhir_json(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), &operation_outcome(e));
    if e.status == 401 {
        // RFC 6750 3: the scheme the client must use, and why it failed.
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"fhir\", error=\"invalid_token\""));
    }
    response
}

/// The bearer token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Only JSON is served (R4 2.6.1): an app asking for XML alone is told so (406).
fn accepts_json(headers: &HeaderMap, pairs: &[(String, String)]) -> Result<(), ApiError> {
    let not_acceptable = || ApiError::new(406, "not-supported", "this server answers in JSON only (application/fhir+json)");
    if let Some((_, format)) = pairs.iter().find(|(k, _)| k == "_format")
        && !matches!(format.as_str(), "json" | "application/json" | "application/fhir+json")
    {
        return Err(not_acceptable());
    }
    match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        Some(accept) if !accept.contains("json") && !accept.contains("*/*") && !accept.trim().is_empty() => Err(not_acceptable()),
        _ => Ok(()),
    }
}

fn known_type(resource_type: &str) -> Result<(), ApiError> {
    if RESOURCE_TYPES.contains(&resource_type) {
        Ok(())
    } else {
        Err(ApiError::new(404, "not-supported", format!("{resource_type} is not a resource type this server serves (it serves {})", RESOURCE_TYPES.join(", "))))
    }
}

fn pairs_of(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().take(64).collect()
}

/// What `[base]/...` answers for a signed request: the context, then the work.
async fn with_token<F, Fut>(state: &AppState, headers: &HeaderMap, peer: SocketAddr, work: F) -> Response
where
    F: FnOnce((crate::backend::access::AccessContext, crate::backend::access::ApiGrant)) -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    let Some(token) = bearer(headers) else {
        return error(&ApiError::new(401, "login", "an access token is required (Authorization: Bearer …)"));
    };
    let request = RequestMeta::from_parts(headers, Some(peer));
    match api_context(state, token, request).await {
        Ok(context) => match work(context).await {
            Ok(body) => fhir_json(StatusCode::OK, &body),
            Err(e) => error(&e),
        },
        Err(e) => error(&e),
    }
}

/// `GET [base]/<type>/<id>`.
async fn read(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, Path((resource_type, id)): Path<(String, String)>, RawQuery(query): RawQuery) -> Response {
    if let Err(e) = known_type(&resource_type).and_then(|_| accepts_json(&headers, &pairs_of(query.as_deref()))) {
        return error(&e);
    }
    if !search::is_id(&id) {
        return error(&ApiError::new(400, "invalid", format!("{id:?} is not a FHIR id (1 to 64 letters, digits, '-' and '.')")));
    }
    with_token(&state, &headers, peer, |(context, grant)| async move { context.api_read(&grant, &resource_type, &id).await }).await
}

/// `GET [base]/<type>?…`.
async fn search_type(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, Path(resource_type): Path<String>, RawQuery(query): RawQuery) -> Response {
    let pairs = pairs_of(query.as_deref());
    if let Err(e) = known_type(&resource_type).and_then(|_| accepts_json(&headers, &pairs)) {
        return error(&e);
    }
    let search = match search::parse(&resource_type, &pairs) {
        Ok(s) => s,
        Err(e) => return error(&ApiError::new(400, "invalid", e.0)),
    };
    // The links repeat the criteria as asked, without the paging (added back per link).
    let kept = {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| !matches!(k.as_str(), "_count" | "_offset" | "_format")) {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let base = state.fhir_base();
    with_token(&state, &headers, peer, |(context, grant)| async move { context.api_search(&grant, &resource_type, &search, &base, &kept).await }).await
}

/// `GET [base]/Patient/<id>/$everything`.
async fn everything(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, Path(id): Path<String>, RawQuery(query): RawQuery) -> Response {
    if let Err(e) = accepts_json(&headers, &pairs_of(query.as_deref())) {
        return error(&e);
    }
    if let Some((name, _)) = pairs_of(query.as_deref()).into_iter().find(|(k, _)| k != "_format") {
        return error(&ApiError::new(400, "not-supported", format!("$everything takes no parameters here (got {name})")));
    }
    let base = state.fhir_base();
    with_token(&state, &headers, peer, |(context, grant)| async move { context.api_everything(&grant, &id, &base).await }).await
}

async fn unknown_path() -> Response {
    error(&ApiError::new(404, "not-found", "no such interaction: the API serves metadata, [type], [type]/[id] and Patient/[id]/$everything"))
}

/// `GET [base]/metadata`: the CapabilityStatement (no token needed).
async fn metadata(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Err(e) = accepts_json(&headers, &pairs_of(query.as_deref())) {
        return error(&e);
    }
    fhir_json(StatusCode::OK, &capability_statement(&state.base_url, &state.fhir_base()))
}

/// The CapabilityStatement: each served type with its interactions and search parameters, and
/// where SMART authorization happens (the `oauth-uris` extension, for clients that predate
/// `.well-known/smart-configuration`).
pub fn capability_statement(site: &str, fhir_base: &str) -> Value {
    let site = site.trim_end_matches('/');
    let resources: Vec<Value> = RESOURCE_TYPES
        .iter()
        .map(|t| {
            let mut resource = json!({
                "type": t,
                "interaction": [{ "code": "read" }, { "code": "search-type" }],
                "searchParam": search::capability_parameters(t).into_iter().map(|(name, kind)| json!({ "name": name, "type": kind })).collect::<Vec<_>>(),
            });
            if *t == "Patient" {
                resource["operation"] = json!([{ "name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything" }]);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": crate::backend::copies::fhir::instant(crate::backend::db::now_ms()),
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "software": { "name": "Patient portal" },
        "implementation": { "description": "The patient's record, for apps of the patient's choice", "url": fhir_base },
        "rest": [{
            "mode": "server",
            "security": {
                "cors": true,
                "service": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR" }] }],
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        { "url": "authorize", "valueUri": format!("{site}/oauth/authorize") },
                        { "url": "token", "valueUri": format!("{site}/oauth/token") },
                        { "url": "revoke", "valueUri": format!("{site}/oauth/revoke") },
                    ],
                }],
            },
            "resource": resources,
        }],
    })
}

/// `GET /.well-known/smart-configuration` (SMART App Launch 2.x 2.1): what this server supports.
async fn smart_configuration(State(state): State<AppState>) -> Response {
    let mut response = axum::Json(smart_configuration_of(&state.base_url, state.open_app_registration)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    response
}

/// `GET /fhir/r4/.well-known/openid-configuration`: OpenID Connect discovery at the issuer.
async fn openid_configuration(State(state): State<AppState>) -> Response {
    let config = super::id_token::openid_configuration(&state.base_url, &json!(scopes_supported()));
    let mut response = axum::Json(config).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    response
}

fn scopes_supported() -> Vec<String> {
    let mut scopes: Vec<String> = vec!["openid".into(), "fhirUser".into(), "launch/patient".into(), "offline_access".into(), "patient/*.rs".into(), "patient/*.read".into()];
    scopes.extend(RESOURCE_TYPES.iter().map(|t| format!("patient/{t}.rs")));
    scopes
}

pub fn smart_configuration_of(site: &str, open_registration: bool) -> Value {
    let site = site.trim_end_matches('/');
    let scopes = scopes_supported();
    let mut config = json!({
        "issuer": format!("{site}/fhir/r4"),
        "jwks_uri": format!("{site}/oauth/jwks"),
        "authorization_endpoint": format!("{site}/oauth/authorize"),
        "token_endpoint": format!("{site}/oauth/token"),
        "revocation_endpoint": format!("{site}/oauth/revoke"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "context-standalone-patient",
            "sso-openid-connect",
            "permission-patient",
            "permission-offline",
            "permission-v1",
            "permission-v2",
        ],
    });
    if open_registration {
        config["registration_endpoint"] = json!(format!("{site}/oauth/register"));
    }
    config
}
