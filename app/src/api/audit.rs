//! The audit report for administrators (ONC 170.315(d)(3)). The CSV download of the same report
//! is a plain route: `backend::export::audit_csv`.

use crate::domain::{AuditReportForm, AuditReportRow};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// The most events the page shows; the CSV carries up to 100,000.
pub const PAGE_ROWS: u64 = 500;

/// The newest events matching the filters, sorted as asked.
#[server(prefix = "/api", endpoint = "audit_report")]
pub async fn audit_report(form: AuditReportForm) -> Result<Vec<AuditReportRow>, AppError> {
    use self::ssr::*;
    use crate::domain::AuditReportQuery;
    with_status(async move {
        let context = access().await?;
        let query = AuditReportQuery::parse(&form).map_err(|fields| AppError::Validation { fields })?;
        context.audit_report(&query, PAGE_ROWS, false).await
    }.await)
}
