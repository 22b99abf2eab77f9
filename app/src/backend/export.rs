//! Downloads served as plain axum routes (registered before the Leptos routes): the audit report
//! as CSV, and a record's attachments. Each checks the session itself and goes through the access context like any server
//! function; answers carry `Cache-Control: no-store` (ONC 170.315(d)(7)).

use super::access::AccessContext;
use super::current::signed_in_with;
use super::request::RequestMeta;
use super::session::PortalSession;
use super::state::AppState;
use crate::domain::{AuditReportForm, AuditReportQuery, to_csv};
use crate::error::AppError;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tower_sessions::Session;

/// The most events one CSV file carries.
pub const CSV_MAX_ROWS: u64 = 100_000;

/// A file as a download: its type, `attachment` with the given name (always one the portal
/// chose, never typed by anyone), and `Cache-Control: no-store` (ONC 170.315(d)(7)).
fn attachment(body: impl IntoResponse, content_type: &str, file_name: &str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 303 to an address the portal built (never one typed by anyone), not cached.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn error_response(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], error.to_string()).into_response()
}

/// The signed-in user's access context for a plain route (a download), with a caregiver's
/// switch read from the session; not signed in answers 401.
pub(crate) async fn signed_in_context(state: &AppState, session: Session, headers: &HeaderMap, peer: SocketAddr) -> Result<AccessContext, AppError> {
    let request = RequestMeta::from_parts(headers, Some(peer));
    let session = PortalSession::from(session);
    let signed = signed_in_with(state, &session, &request, true).await?;
    crate::backend::current::access_with(state, &session, &signed, request).await
}

/// `GET /admin/audit.csv?from=&to=&user=&patient=&action=&sort=&dir=`
pub async fn audit_csv(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(form): Query<AuditReportForm>,
) -> Response {
    let query = match AuditReportQuery::parse(&form) {
        Ok(q) => q,
        Err(fields) => return error_response(AppError::Validation { fields }),
    };
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    match context.audit_report(&query, CSV_MAX_ROWS, true).await {
        Ok(rows) => attachment(to_csv(&rows), "text/csv; charset=utf-8", "audit-report.csv"),
        Err(e) => error_response(e),
    }
}

/// `GET /staff/desk.csv`: the lead's dashboard figures (turnaround per month and per requester
/// type) as CSV; no patient data in it.
pub async fn desk_csv(State(state): State<AppState>, session: Session, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    match context.dashboard(12).await {
        Ok(d) => attachment(crate::domain::release::dashboard::dashboard_csv(&d).into_bytes(), "text/csv; charset=utf-8", "release-desk.csv"),
        Err(e) => error_response(e),
    }
}

/// Types a downloaded attachment may be served as; anything else goes out as
/// `application/octet-stream`, so an imported file can never run as a page of the portal.
const DOWNLOAD_TYPES: &[&str] = &["application/pdf", "image/png", "image/jpeg", "image/gif", "image/tiff", "text/plain"];

/// Query of a document download: whose record (staff), or none for one's own.
#[derive(Debug, serde::Deserialize)]
pub struct DownloadQuery {
    pub patient: Option<String>,
}

/// `GET /record/documents/{id}/download[?patient=]`: an attachment (a PDF, an image) as a file.
pub async fn document_download(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    match context.record_document(query.patient.as_deref(), &id).await {
        Ok((view, data)) => {
            let bytes = match (data, view.text) {
                (Some(bytes), _) => bytes,
                (None, Some(text)) => text.into_bytes(),
                (None, None) => return error_response(AppError::NotFound),
            };
            let base = view.row.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            let content_type = if DOWNLOAD_TYPES.contains(&base.as_str()) { base } else { "application/octet-stream".into() };
            let extension = match content_type.as_str() {
                "application/pdf" => "pdf",
                "image/png" => "png",
                "image/jpeg" => "jpg",
                "image/gif" => "gif",
                "image/tiff" => "tiff",
                "text/plain" => "txt",
                _ => "bin",
            };
            attachment(bytes, &content_type, &format!("document.{extension}"))
        }
        Err(e) => error_response(e),
    }
}

/// `GET` and `POST /requests/{id}/files/{kind}`: a released copy (`pdf`, `fhir`, letters, scans)
/// for its requester or HIM staff. Decrypted on the way out, never cached (`no-store`), audited
/// by the access context. A GET changes nothing but the download count (RFC 9110 9.2.1: safe
/// methods); the page's download button posts, which also records the request's delivery.
pub async fn release_file_download(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
    headers: HeaderMap,
    axum::extract::Path((id, kind)): axum::extract::Path<(String, String)>,
) -> Response {
    release_file(state, session, peer, headers, id, kind, method == axum::http::Method::POST).await
}

async fn release_file(state: AppState, session: Session, peer: SocketAddr, headers: HeaderMap, id: String, kind: String, deliver: bool) -> Response {
    let scan = kind.strip_prefix("scan-").and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| (1..=super::access::MAX_SCANS).contains(&n));
    if !scan && !matches!(kind.as_str(), "pdf" | "fhir" | "ccda" | "denial_letter" | "authorization" | "extension_letter" | "invoice") {
        return error_response(AppError::NotFound);
    }
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    match context.download_copy(&id, &kind, &state.file_keys, deliver).await {
        Ok((file_name, content_type, bytes)) => attachment(bytes, &content_type, &file_name),
        Err(e) => error_response(e),
    }
}

/// The recipient's form on `/shared/{token}`.
#[derive(Debug, serde::Deserialize)]
pub struct SharedForm {
    #[serde(default)]
    pub passcode: String,
    #[serde(default)]
    pub kind: String,
}

/// `POST /shared/{token}`: the recipient of a copy sent to someone else types the passcode and
/// gets the file. No account: the token and passcode are the authority (checked, counted,
/// locked and audited by `access::open_shared_copy`). A refusal goes back to the page with a
/// reason code, so the form announces it without JavaScript.
pub async fn shared_open(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
    axum::extract::Form(form): axum::extract::Form<SharedForm>,
) -> Response {
    let request = RequestMeta::from_parts(&headers, Some(peer));
    let kind = match form.kind.as_str() {
        "fhir" => "fhir",
        "ccda" => "ccda",
        _ => "pdf",
    };
    let back = |code: String| see_other(&format!("/shared/{token}?error={code}"));
    if token.len() > 100 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return back("unknown".into());
    }
    match super::access::open_shared_copy(&state.db, &request, &token, &form.passcode, kind, &state.file_keys, state.clock.today()).await {
        Ok((file_name, content_type, bytes)) => attachment(bytes, &content_type, &file_name),
        Err(AppError::Validation { fields }) => {
            let left = fields.first().and_then(|f| f.message.split_whitespace().find_map(|w| w.parse::<u32>().ok())).unwrap_or(0);
            back(format!("wrong-{left}"))
        }
        Err(AppError::RateLimited { .. }) => back("locked".into()),
        Err(AppError::Gone { .. }) => back("expired".into()),
        Err(AppError::Conflict { .. }) => back(format!("missing-{kind}")),
        Err(AppError::NotFound) => back("unknown".into()),
        Err(e) => error_response(e),
    }
}

/// `GET /disclosures.pdf`: the signed-in patient's accounting of disclosures as a PDF.
pub async fn accounting_pdf(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    let accounting = match context.accounting(None).await {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    let patient = match context.own_patient().await {
        Ok(Some(p)) => p,
        Ok(None) => return error_response(AppError::NotFound),
        Err(e) => return error_response(e),
    };
    let site = state.site_name();
    let name = format!("{} {}", patient.given_names, patient.family_name);
    let document = super::copies::accounting_document(&site, (&name, &patient.birth_date, &patient.mrn), &accounting, super::db::now_ms() / 1000);
    let rendered = match tokio::task::spawn_blocking(move || super::copies::pdf::render(document, &|_, _| {})).await {
        Ok(Ok(r)) => r,
        _ => return error_response(AppError::Unavailable { message: "The accounting could not be produced just now. Try again.".into() }),
    };
    attachment(rendered.bytes, "application/pdf", "accounting-of-disclosures.pdf")
}

/// `GET /representatives/{id}/documents/{doc}`: a representative's supporting document, for HIM
/// staff verifying it (or the person who sent it). Opened from its seal, `no-store`, audited.
pub async fn representative_document(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::Path((id, doc)): axum::extract::Path<(String, String)>,
) -> Response {
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    match context.representative_document(&id, &doc, &state.file_keys).await {
        Ok((link, bytes)) => {
            let extension = match link.content_type.as_str() {
                "application/pdf" => "pdf",
                "image/png" => "png",
                _ => "jpg",
            };
            attachment(bytes, &link.content_type, &format!("document.{extension}"))
        }
        Err(e) => error_response(e),
    }
}

/// Signed out (or timed out) on the download form: sign in, then back to it.
fn sign_in_first() -> Response {
    see_other("/sign-in?next=%2Frecord%2Fdownload")
}

/// Back to the download form with what was sent and `checked=1`: the page shows each field's
/// error beside it, with everything typed still there (no script needed).
fn back_to_download_form(pairs: &[(String, String)], sending: bool) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "checked") {
        query.append_pair(k, v);
    }
    query.append_pair("checked", if sending { "send" } else { "1" });
    see_other(&format!("/record/download?{}{}", query.finish(), if sending { "#send" } else { "" }))
}

/// `GET /record/download/file?range=&from=&to=&part=&section=…&format=…`: Download now (ONC
/// 170.315(e)(1)(i)(B)). The form is checked before anything is made (a refusal goes back to
/// the form); the copy is made on the spot for the signed-in patient, or the person a caregiver
/// acts for, and sent as it is made, never stored.
pub async fn download_now(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().take(64).collect();
    let Ok(copy) = crate::domain::release::check_instant(&pairs, state.clock.today(), false) else {
        return back_to_download_form(&pairs, false);
    };
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(AppError::Unauthenticated) => return sign_in_first(),
        Err(e) => return error_response(e),
    };
    let site = state.site_name();
    let settings = super::access::InstantSettings { site: &site, site_code: &state.site_code, base_url: &state.base_url };
    match context.download_now(&copy, settings).await {
        Ok(file) => attachment(file.body, file.content_type, &file.file_name),
        Err(AppError::Validation { .. }) => back_to_download_form(&pairs, false),
        Err(e) => error_response(e),
    }
}

/// The largest file `/verify` reads: copies with many scanned pages are large, but a check
/// never needs more than the hash, computed as the file streams in.
pub const VERIFY_MAX_BYTES: usize = 512 * 1024 * 1024;

/// `POST /verify/file`: a copy dropped on the verify page. Hashed as it streams in (never held
/// in memory, never stored), then the page shows what the hash matches: `/verify?sha256=…`.
pub async fn verify_file(mut multipart: axum::extract::Multipart) -> Response {
    use sha2::{Digest, Sha256};
    let to = |query: String| see_other(&format!("/verify?{query}"));
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) if field.name() == Some("file") => {
                let mut hasher = Sha256::new();
                let mut size = 0usize;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len();
                            if size > VERIFY_MAX_BYTES {
                                return to("error=too-large".into());
                            }
                            hasher.update(&chunk);
                        }
                        Ok(None) => break,
                        Err(_) => return to("error=unreadable".into()),
                    }
                }
                if size == 0 {
                    return to("error=empty".into());
                }
                return to(format!("sha256={}", hex::encode(hasher.finalize())));
            }
            Ok(Some(_)) => continue,
            Ok(None) => return to("error=empty".into()),
            Err(_) => return to("error=unreadable".into()),
        }
    }
}

/// `POST /record/send` (the download form's "Send now"): the copy made at once and sent to the
/// address typed (ONC 170.315(e)(1)(i)(C); at the patient's direction, 45 CFR 164.524(c)(3)).
/// The recipient is mailed the link; the patient lands on the request's page, which shows the
/// passcode to pass on. A refusal goes back to the form, the field named.
pub async fn send_now(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().take(64).collect();
    let Ok(copy) = crate::domain::release::check_instant(&pairs, state.clock.today(), true) else {
        return back_to_download_form(&pairs, true);
    };
    let context = match signed_in_context(&state, session, &headers, peer).await {
        Ok(c) => c,
        Err(AppError::Unauthenticated) => return sign_in_first(),
        Err(e) => return error_response(e),
    };
    let site = state.site_name();
    match context.send_now(&copy, state.release_settings(&site), state.direct.as_ref()).await {
        Ok((id, notice)) => {
            if let Some(notice) = notice {
                let (subject, body) = super::access::shared_link_mail(&site, &state.base_url, &notice.path);
                if let Err(e) = state.mailer.send(&notice.email, subject, body).await {
                    tracing::warn!(error = %e, "mailing a shared link failed; the patient can pass the link on");
                }
            }
            see_other(&format!("/requests/{id}"))
        }
        Err(AppError::Validation { .. }) => back_to_download_form(&pairs, true),
        Err(e) => error_response(e),
    }
}
