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
    let context = AccessContext::new(state.db.clone(), &signed, request, state.site_code.clone()).with_clock(state.clock.clone());
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

/// `POST /representatives/new`: someone asks to be recognised as a patient's representative, with
/// supporting documents (plain multipart, works without JavaScript). Checked and stored through
/// the access context; the browser goes back to `/representatives`, with what to correct when
/// something was wrong (nothing is kept then).
pub async fn representative(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    use super::access::{RepresentativeForm, caregivers::Upload};
    let request = RequestMeta::from_parts(&headers, Some(peer));
    let session = PortalSession::from(session);
    let signed = match signed_in_with(&state, &session, &request, true).await {
        Ok(s) => s,
        Err(_) => return see_other("/sign-in?next=/representatives"),
    };
    let context = match super::current::access_with(&state, &session, &signed, request).await {
        Ok(c) => c,
        Err(e) => return plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    };
    let max_mb = state.caregivers.document_max_bytes / (1024 * 1024);
    let mut form = RepresentativeForm::default();
    let mut uploads: Vec<Upload> = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "documents" {
                    let file_name: String = field.file_name().map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).chars().take(200).collect()).unwrap_or_default();
                    let bytes = field.bytes().await.map(|b| b.to_vec()).map_err(|_| format!("could not be read; documents may be at most {max_mb} MB"));
                    uploads.push((file_name, bytes));
                } else {
                    let text = field.text().await.unwrap_or_default();
                    match name.as_str() {
                        "kind" => form.kind = text,
                        "patient_name" => form.patient_name = text,
                        "birth_date" => form.birth_date = text,
                        "mrn" => form.mrn = text,
                        "statement" => form.statement = text,
                        _ => {}
                    }
                }
            }
            Ok(None) => break,
            // The body limit stops an oversized upload before it is read whole.
            Err(_) => {
                uploads.push(("upload".into(), Err(format!("could not be read; documents may be at most {max_mb} MB"))));
                break;
            }
        }
    }
    match context.submit_representative_request(&form, uploads, &state.caregivers, &state.file_keys).await {
        Ok(_) => see_other("/representatives?sent=1"),
        Err(AppError::Validation { fields }) => {
            let text = fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join(" | ");
            let encoded: String = url_escape(&text);
            see_other(&format!("/representatives?error={encoded}"))
        }
        Err(e) => plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    }
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Percent-encodes a query value (everything but unreserved characters).
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
