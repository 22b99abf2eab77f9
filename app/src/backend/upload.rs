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
    let context = AccessContext::new(state.db.clone(), &signed, request, state.site_code.clone()).with_audit(state.audit.clone()).with_clock(state.clock.clone());
    // Allowed before a byte of the body is read: up to 64 MiB is not buffered for anyone who may
    // not import (refused, audited, 404).
    if let Err(e) = context.require(crate::backend::policy::Action::ImportRecords, crate::backend::audit::AuditAction::RecordImport).await {
        return plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::NOT_FOUND), e.to_string());
    }
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
    use super::access::RepresentativeForm;
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
    let (texts, uploads) = read_form(&mut multipart, "documents", max_mb).await;
    let text = |name: &str| texts.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let form = RepresentativeForm { kind: text("kind"), patient_name: text("patient_name"), birth_date: text("birth_date"), mrn: text("mrn"), statement: text("statement") };
    match context.submit_representative_request(&form, uploads, &state.caregivers, &state.file_keys).await {
        Ok(_) => see_other("/representatives?sent=1"),
        Err(AppError::Validation { fields }) => refused(&session, "representatives", fields, "/representatives").await,
        Err(e) => plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    }
}

/// Back to a form's page with its field errors: kept in the session for the page to show once
/// (`?error=1` only says there are some), never written into the address.
async fn refused(session: &PortalSession, form: &str, fields: Vec<crate::error::FieldError>, page: &str) -> Response {
    match session.insert(super::session::Key::FormErrorsOnce, (form.to_string(), fields)).await {
        Ok(()) => see_other(&format!("{page}?error=1")),
        Err(e) => plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    }
}

/// Reads a plain multipart form: its text fields (name, value; at most 64 of 64 KiB) and the
/// files posted under `files_field` (their own names, never a client path). A file that cannot
/// be read (past the body limit) is kept as its error, to be reported on its field.
async fn read_form(multipart: &mut Multipart, files_field: &str, max_mb: u64) -> (Vec<(String, String)>, Vec<super::access::caregivers::Upload>) {
    let mut texts = Vec::new();
    let mut uploads = Vec::new();
    let too_large = || format!("could not be read; files may be at most {max_mb} MB");
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == files_field {
                    let file_name: String = field.file_name().map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).chars().take(200).collect()).unwrap_or_default();
                    let bytes = field.bytes().await.map(|b| b.to_vec()).map_err(|_| too_large());
                    uploads.push((file_name, bytes));
                } else if texts.len() < 64 {
                    let text: String = field.text().await.unwrap_or_default().chars().take(64 * 1024).collect();
                    texts.push((name, text));
                }
            }
            Ok(None) => break,
            // The body limit stops an oversized upload before it is read whole.
            Err(_) => {
                uploads.push(("upload".into(), Err(too_large())));
                break;
            }
        }
    }
    (texts, uploads)
}

/// `POST /staff/intake/new`: HIM staff log a request that came by mail, fax, in person, phone or
/// email, with the scans of the paper (plain multipart, works without JavaScript). A browser goes
/// to the new request's page, or back to the form with what to correct (nothing is kept then);
/// a client that asks for JSON gets the request (201) or the field errors (422).
pub async fn intake(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let wants_json = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    let request = RequestMeta::from_parts(&headers, Some(peer));
    let session = PortalSession::from(session);
    let signed = match signed_in_with(&state, &session, &request, true).await {
        Ok(s) => s,
        Err(_) if !wants_json => return see_other("/sign-in?next=/staff/intake"),
        Err(e) => return plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::UNAUTHORIZED), e.to_string()),
    };
    let context = match super::current::access_with(&state, &session, &signed, request).await {
        Ok(c) => c,
        Err(e) => return plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    };
    let max_bytes = state.caregivers.document_max_bytes;
    let (texts, uploads) = read_form(&mut multipart, "scans", max_bytes / (1024 * 1024)).await;
    let text = |name: &str| texts.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    // Checkboxes repeat their name: the ticked checklist items and the chosen sections.
    let all = |name: &str| texts.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(",");
    let sections = all("section");
    let form = crate::domain::release::IntakeForm {
        channel: text("channel").unwrap_or_default(),
        received_on: text("received_on").unwrap_or_default(),
        requester_type: text("requester_type").unwrap_or_default(),
        requester_name: text("requester_name").unwrap_or_default(),
        requester_address: text("requester_address"),
        patient_id: text("patient_id").unwrap_or_default(),
        scope: match text("scope") {
            Some(scope) if !scope.is_empty() && scope != "some" => scope,
            _ if !sections.is_empty() => sections,
            _ => "all".into(),
        },
        from: text("from"),
        to: text("to"),
        pdf: text("pdf"),
        fhir: text("fhir"),
        purpose: text("purpose"),
        checklist: Some([text("checklist").unwrap_or_default(), all("item")].join(",")),
        pages: text("pages"),
        fee: text("fee"),
        actual_costs: text("actual_costs"),
        idempotency_key: text("idempotency_key"),
    };
    let site = state.site_name();
    let outcome = context.log_request(&form, uploads, max_bytes, state.release_settings(&site)).await;
    match (outcome, wants_json) {
        (Ok(view), true) => (StatusCode::CREATED, axum::Json(view)).into_response(),
        (Ok(view), false) => see_other(&format!("/staff/requests/{}", view.id)),
        (Err(AppError::Validation { fields }), true) => (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(serde_json::json!({ "fields": fields }))).into_response(),
        (Err(AppError::Validation { fields }), false) => refused(&session, "intake", fields, "/staff/intake").await,
        (Err(e), _) => plain(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()),
    }
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

