//! Downloads served as plain axum routes (registered before the Leptos routes): the audit report
//! as CSV. Each checks the session itself and goes through the access context like any server
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

fn error_response(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], error.to_string()).into_response()
}

/// `GET /admin/audit.csv?from=&to=&user=&patient=&action=&sort=&dir=`
pub async fn audit_csv(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(form): Query<AuditReportForm>,
) -> Response {
    let request = RequestMeta::from_parts(&headers, Some(peer));
    let session = PortalSession::from(session);
    let signed = match signed_in_with(&state, &session, &request, true).await {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    let query = match AuditReportQuery::parse(&form) {
        Ok(q) => q,
        Err(fields) => return error_response(AppError::Validation { fields }),
    };
    let context = AccessContext::new(state.db.clone(), &signed, request, state.site_code.clone());
    match context.audit_report(&query, CSV_MAX_ROWS, true).await {
        Ok(rows) => {
            let mut response = to_csv(&rows).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit-report.csv\""));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => error_response(e),
    }
}
