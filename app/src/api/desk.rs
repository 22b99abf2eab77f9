//! The HIM release desk (issue 17): finding the patient a paper request names, the clerk's
//! checklist, the fee paid, and the administrator's fee schedule. The intake itself, with its
//! scans, is a plain multipart form (`backend::upload::intake`). Thin: parse, call the access
//! context, map errors.

use crate::domain::release::{PatientMatch, PatientSearch, RequestView};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// The records that may be the patient the paper names, each with what agrees and what does
/// not, for the side-by-side check before the clerk confirms one.
#[server(prefix = "/api", endpoint = "intake_matches")]
pub async fn intake_matches(#[server(flatten)] search: PatientSearch) -> Result<Vec<PatientMatch>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.intake_matches(&search).await }.await)
}

/// The clerk ticks what the paper shows: `checklist` (item codes separated by commas) or the
/// page's boxes, `items[N]` (one per item, indexed so plain forms decode without JavaScript).
#[server(prefix = "/api", endpoint = "update_checklist")]
pub async fn update_checklist(id: String, #[server(default)] checklist: Option<String>, #[server(default)] items: Vec<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let ticked = [checklist.unwrap_or_default(), items.join(",")].join(",");
        access().await?.update_checklist(&id, &ticked).await
    }.await)
}

/// A fresh idempotency key for the intake form: a retried post logs the request once.
#[server(prefix = "/api", endpoint = "intake_key")]
pub async fn intake_key() -> Result<String, AppError> {
    use self::ssr::*;
    with_status(async move {
        access().await?.require(crate::backend::policy::Action::WorkRequests, crate::backend::audit::AuditAction::ReleaseRequest).await?;
        Ok(uuid::Uuid::new_v4().to_string())
    }.await)
}

/// The fee was paid: a step on the timeline.
#[server(prefix = "/api", endpoint = "mark_paid")]
pub async fn mark_paid(id: String) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.mark_paid(&id).await }.await)
}

/// The fee schedule, one row per requester type.
#[server(prefix = "/api", endpoint = "fee_schedule")]
pub async fn fee_schedule() -> Result<Vec<crate::domain::release::FeeScheduleRow>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.fee_schedule().await }.await)
}

/// The administrator sets one requester type's fees (dollars: `flat`, `per_page`).
#[server(prefix = "/api", endpoint = "set_fee")]
pub async fn set_fee(requester_type: String, flat: String, per_page: String) -> Result<Vec<crate::domain::release::FeeScheduleRow>, AppError> {
    use self::ssr::*;
    use crate::domain::release::{RequesterType, intake::parse_dollars};
    with_status(async move {
        let kind = RequesterType::parse(requester_type.trim()).ok_or_else(|| AppError::Validation { fields: vec![FieldError::new("requester_type", "Choose a requester type.")] })?;
        let mut fields = Vec::new();
        let flat = parse_dollars(&flat).unwrap_or_else(|| {
            fields.push(FieldError::new("flat", "Enter the flat fee in dollars, like 15.00."));
            0
        });
        let per_page = parse_dollars(&per_page).unwrap_or_else(|| {
            fields.push(FieldError::new("per_page", "Enter the fee per page in dollars, like 0.25."));
            0
        });
        if !fields.is_empty() {
            return Err(AppError::Validation { fields });
        }
        access().await?.set_fee(kind, flat, per_page, state()?.copy_fee_cap_cents).await
    }.await)
}

/// HIM staff a lead may assign work to, with the open work each holds.
#[server(prefix = "/api", endpoint = "desk_colleagues")]
pub async fn desk_colleagues() -> Result<Vec<crate::domain::release::Colleague>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.colleagues().await }.await)
}

/// A lead assigns a request (`assignee` empty: unassigned); `expected` is who held it when the
/// lead's page was drawn (empty: nobody), so two leads at once cannot both win.
#[server(prefix = "/api", endpoint = "assign_request")]
pub async fn assign_request(id: String, #[server(default)] assignee: Option<String>, #[server(default)] expected: Option<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        access().await?.assign_request(&id, text(assignee).as_deref(), text(expected).as_deref()).await
    }.await)
}

/// The lead's dashboard over the last `months` months (default 12).
#[server(prefix = "/api", endpoint = "desk_dashboard")]
pub async fn desk_dashboard(#[server(default)] months: Option<u32>) -> Result<crate::domain::release::Dashboard, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.dashboard(months.unwrap_or(12)).await }.await)
}

/// The site's segmentation rules: psychotherapy note types and Part 2 programs (administrators).
#[server(prefix = "/api", endpoint = "segment_rules")]
pub async fn segment_rules() -> Result<Vec<crate::domain::release::segment::SegmentRuleRow>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.segment_rules().await }.await)
}

/// Adds a rule (`kind`, `system`, `code`, `title_contains`, `note`), or removes one (`remove`:
/// its id); every record is re-tagged by the rules as they then stand.
#[server(prefix = "/api", endpoint = "change_segment_rule")]
pub async fn change_segment_rule(
    #[server(flatten)] form: crate::domain::release::segment::SegmentRuleForm,
    #[server(default)] remove: Option<String>,
) -> Result<Vec<crate::domain::release::segment::SegmentRuleRow>, AppError> {
    use self::ssr::*;
    with_status(async move {
        let remove = remove.filter(|r| !r.trim().is_empty());
        let add = remove.is_none().then_some(&form);
        access().await?.change_segment_rule(add, remove.as_deref()).await
    }.await)
}
