//! `POST /staff/import/upload`: a FHIR file from the HIM upload page, as a plain multipart form
//! (works without JavaScript; the browser shows the upload's progress). The file is imported
//! through the access context (policy `ImportRecords`, audited, one transaction) and the browser
//! goes back to the page, which lists the outcome first.

use super::access::AccessContext;
use super::current::signed_in_with;
use super::request::RequestMeta;
use super::session::PortalSession;
use super::state::AppState;
use crate::error::AppError;
use axum::extract::{ConnectInfo, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tower_sessions::Session;

fn plain(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

fn back_to_page() -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/staff/import?done=1"));
    response
}

pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let request = RequestMeta::from_parts(&headers, Some(peer));
    let session = PortalSession::from(session);
    let signed = match signed_in_with(&state, &session, &request, true).await {
        Ok(s) => s,
        Err(e) => return plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::UNAUTHORIZED), e.to_string()),
    };
    let context = AccessContext::new(state.db.clone(), &signed, request, state.site_code.clone());
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                // Only the file's own name is kept (no client path).
                let name = field.file_name().map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).chars().take(200).collect()).unwrap_or_else(|| "upload".to_string());
                match field.bytes().await {
                    Ok(bytes) => file = Some((name, bytes.to_vec())),
                    Err(e) => return plain(StatusCode::PAYLOAD_TOO_LARGE, format!("The upload could not be read ({e}). Files may be at most {} MB.", state.import_limits.max_file_bytes / (1024 * 1024))),
                }
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return plain(StatusCode::BAD_REQUEST, format!("The upload could not be read: {e}")),
        }
    }
    let Some((name, bytes)) = file else {
        return plain(StatusCode::BAD_REQUEST, "Choose a FHIR file (.json or .ndjson) to upload.".into());
    };
    match context.upload_import(&name, &bytes, state.import_limits).await {
        // A refused file is recorded too (status `failed`, with the reason): the page shows it.
        Ok(_) | Err(AppError::Conflict { .. }) => back_to_page(),
        Err(e) => plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    }
}
