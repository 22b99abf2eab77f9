//! The clinical record's pages: summary, sections, a visit, a note, a trend. `patient` is `None`
//! for the signed-in patient's own record and a record id for HIM staff; either way the access
//! context decides, filters and audits, and another patient's record answers 404.

use crate::domain::{DocumentView, ListPage, RecordOverview, Trend, VisitView};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// The record's front page.
#[server(prefix = "/api", endpoint = "record_summary")]
pub async fn record_summary(patient: Option<String>) -> Result<RecordOverview, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.record_summary(patient.as_deref()).await }.await)
}

/// One section's page, newest first, within an optional date range.
#[server(prefix = "/api", endpoint = "record_section")]
pub async fn record_section(
    patient: Option<String>,
    section: String,
    from: Option<String>,
    to: Option<String>,
    page: Option<u32>,
) -> Result<ListPage, AppError> {
    use self::ssr::*;
    use crate::domain::{ListFilter, Section};
    with_status(async move {
        let section = Section::parse(&section).ok_or(AppError::NotFound)?;
        access().await?.record_section_page(patient.as_deref(), section, &ListFilter { from, to, page }).await
    }.await)
}

/// A visit with everything recorded in it.
#[server(prefix = "/api", endpoint = "record_visit")]
pub async fn record_visit(patient: Option<String>, id: String) -> Result<VisitView, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.record_visit(patient.as_deref(), &id).await }.await)
}

/// A note, as text.
#[server(prefix = "/api", endpoint = "record_document")]
pub async fn record_document(patient: Option<String>, id: String) -> Result<DocumentView, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.record_document(patient.as_deref(), &id).await.map(|(view, _)| view) }.await)
}

/// Every result of one test, for its trend chart.
#[server(prefix = "/api", endpoint = "record_trend")]
pub async fn record_trend(patient: Option<String>, code: String) -> Result<Trend, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.record_trend(patient.as_deref(), &code).await }.await)
}
