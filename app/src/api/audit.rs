//! The audit report for administrators (ONC 170.315(d)(3)). The CSV download of the same report
//! is a plain route: `backend::export::audit_csv`.

use crate::domain::{AuditReportForm, AuditReportRow};
use crate::error::AppError;
use leptos::prelude::*;

/// The most events the page shows; the CSV carries up to 100,000.
pub const PAGE_ROWS: u64 = 500;

/// The newest events matching the filters, sorted as asked.
#[server(prefix = "/api", endpoint = "audit_report")]
pub async fn audit_report(form: AuditReportForm) -> Result<Vec<AuditReportRow>, AppError> {
    use crate::backend::{current::access, error::with_status};
    use crate::domain::AuditReportQuery;
    with_status(async move {
        let context = access().await?;
        let query = AuditReportQuery::parse(&form).map_err(|fields| AppError::Validation { fields })?;
        context.audit_report(&query, PAGE_ROWS, false).await
    }.await)
}

/// The actions the report can filter by (for the select list).
pub fn action_names() -> &'static [&'static str] {
    &[
        "login", "logout", "session_timeout", "sign_out_everywhere", "session_revoke", "mfa_enroll", "mfa_challenge",
        "mfa_disable", "password_change", "password_reset_request", "password_reset", "user_create", "user_disable",
        "role_grant", "role_revoke", "patient_create", "patient_read", "patient_search", "activation_issue",
        "activation_redeem", "identity_verify", "identity_link", "identity_unlink", "record_import", "duplicate_review", "release_request", "audit_report_read", "audit_export",
        "caregiver_invite", "caregiver_accept", "caregiver_revoke", "caregiver_switch", "representative_request", "representative_decide",
    ]
}
