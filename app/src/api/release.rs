//! Requests for copies: the patient submits, follows and cancels their own; HIM staff work the
//! queue. Thin: parse, call the access context, map errors.
// Form endpoints take one argument per form field (plain forms post them before hydration).
#![allow(clippy::too_many_arguments)]

use crate::domain::release::RequestView;
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// Asks for a copy of one's own record, for oneself or (`recipient=someone_else`) sent to
/// someone else on a signed authorization, and opens its tracking page.
#[server(prefix = "/api", endpoint = "submit_request")]
pub async fn submit_request(#[server(flatten)] form: crate::domain::release::CopyRequestForm, #[server(default)] sensitive: Vec<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        // 45 CFR 164.524(b)(2): the 30 days count from the day received, the hospital's day.
        let today = state.clock.today();
        let key = crate::domain::release::idempotency_key(form.idempotency_key.as_deref()).map_err(|e| AppError::Validation { fields: vec![e] })?;
        let (copy, mut third_party) = form.split().ok_or_else(AppError::bad_request)?;
        // The sensitive categories the patient's authorization names (a copy to someone else).
        let named = crate::domain::release::segment::parse_named(&sensitive).map_err(|e| AppError::Validation { fields: vec![e] })?;
        if let Some(form) = third_party.as_mut() {
            form.sensitive = named.into_iter().filter(|c| *c != crate::domain::Category::PsychotherapyNotes).collect();
        }
        let checked = copy.check(today);
        let site = site_name(&state);
        let view = access().await?.submit_request(checked, third_party, key, today, release_settings(&state, &site)).await?;
        leptos_axum::redirect(&format!("/requests/{}", view.id));
        Ok(view)
    }.await)
}

/// The signed-in patient's requests, newest first.
#[server(prefix = "/api", endpoint = "my_requests")]
pub async fn my_requests() -> Result<Vec<RequestView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.my_requests().await }.await)
}

/// One request with its timeline (and, for its requester, the link and passcode to pass on).
#[server(prefix = "/api", endpoint = "request_detail")]
pub async fn request_detail(id: String) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let access = access().await?;
        let view = access.copy_request(&id).await?;
        access.with_share(view, &state.file_keys, &state.base_url).await
    }.await)
}

/// The HIM queue of open requests, filtered and searched.
#[server(prefix = "/api", endpoint = "request_queue")]
pub async fn request_queue(#[server(default)] filter: crate::domain::release::QueueFilter) -> Result<Vec<RequestView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.request_queue(&filter).await }.await)
}

/// HIM staff claim a request (`claim=on`) or let it go.
#[server(prefix = "/api", endpoint = "claim_request")]
pub async fn claim_request(id: String, #[server(default)] claim: Option<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.claim_request(&id, claim.is_some()).await }.await)
}

/// The one extension (before the deadline, with the reason and the new date; the patient is told).
#[server(prefix = "/api", endpoint = "extend_request")]
pub async fn extend_request(id: String, new_due: String, reason: String) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let date = crate::domain::IsoDate::parse(&new_due)
            .map_err(|_| AppError::Validation { fields: vec![FieldError { field: "new_due".into(), message: "Enter the new due date as YYYY-MM-DD.".into() }] })?;
        if reason.trim().is_empty() {
            return Err(AppError::Validation { fields: vec![FieldError { field: "reason".into(), message: "Tell the patient why (45 CFR 164.524(b)(2)(iii)).".into() }] });
        }
        let state = state()?;
        let site = site_name(&state);
        access().await?.extend_request(&id, date, &reason, 30, release_settings(&state, &site)).await
    }.await)
}

/// Moves a request on: `cancel` (the requester), or an HIM step (`start_identity_check`,
/// `identity_verified`, `close`). Decisions and releases have their own functions.
#[server(prefix = "/api", endpoint = "advance_request")]
pub async fn advance_request(id: String, step: String, #[server(default)] note: Option<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    use crate::domain::release::{self, Event};
    with_status(async move {
        let event = Event::parse(&step).filter(|e| release::is_plain_step(*e)).ok_or_else(AppError::bad_request)?;
        access().await?.advance_request(&id, event, note).await
    }.await)
}

/// HIM's decision after review: `approve`, `approve_partially` (withholding categories, each
/// with its basis) or `deny` (with its ground); `named[N]`: the sensitive categories the
/// authorization names; `consent[N]`: the 42 CFR 2.31 elements the Part 2 consent shows (each a
/// code, or several separated by commas).
#[server(prefix = "/api", endpoint = "decide_request")]
pub async fn decide_request(
    id: String,
    #[server(flatten)] form: crate::domain::release::DecisionForm,
    #[server(default)] named: Vec<String>,
    #[server(default)] consent: Vec<String>,
) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        use crate::domain::release::segment::{parse_consent, parse_named};
        let checked = form.check().ok_or_else(AppError::bad_request)?;
        let named = parse_named(&named);
        let consent = parse_consent(&consent);
        // Every field's error at once.
        let fields: Vec<crate::domain::FieldError> =
            checked.as_ref().err().cloned().unwrap_or_default().into_iter().chain(named.clone().err()).chain(consent.clone().err()).collect();
        let (Ok(checked), Ok(named), Ok(consent), true) = (checked, named, consent, fields.is_empty()) else {
            return access().await?.refuse_decision(&id, fields).await;
        };
        let state = state()?;
        let site = site_name(&state);
        access().await?.decide_request(&id, checked, named, consent, release_settings(&state, &site)).await
    }.await)
}

/// Revokes the authorization of a request (45 CFR 164.508(b)(5)): the patient who signed it, or
/// HIM staff recording a written revocation. `note`: what the revocation says (optional).
#[server(prefix = "/api", endpoint = "revoke_authorization")]
pub async fn revoke_authorization(id: String, #[server(default)] note: Option<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.revoke_authorization(&id, note).await }.await)
}

/// Produces the copy of an approved request and makes it downloadable (HIM staff).
#[server(prefix = "/api", endpoint = "release_copy")]
pub async fn release_copy(id: String) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let site = site_name(&state);
        let (view, notice) = access().await?.release_copy(&id, release_settings(&state, &site)).await?;
        if let Some(notice) = notice {
            let (subject, body) = crate::backend::access::shared_link_mail(&site, &state.base_url, &notice.path);
            if let Err(e) = state.mailer.send(&notice.email, subject, body).await {
                tracing::warn!(error = %e, "mailing a shared link failed; the patient can pass the link on");
            }
        }
        Ok(view)
    }.await)
}

#[cfg(feature = "ssr")]
fn site_name(state: &crate::backend::state::AppState) -> String {
    state.site_name()
}

#[cfg(feature = "ssr")]
fn release_settings<'a>(state: &'a crate::backend::state::AppState, site: &'a str) -> crate::backend::access::ReleaseSettings<'a> {
    state.release_settings(site)
}

/// The requester asks for a review of a reviewable denial.
#[server(prefix = "/api", endpoint = "request_denial_review")]
pub async fn request_denial_review(id: String) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.request_denial_review(&id).await }.await)
}

/// Denials waiting for a reviewer.
#[server(prefix = "/api", endpoint = "review_queue")]
pub async fn review_queue() -> Result<Vec<RequestView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.review_queue().await }.await)
}

/// A reviewer who took no part in the denial upholds (`uphold`) or overturns (`overturn`) it.
#[server(prefix = "/api", endpoint = "review_denial")]
pub async fn review_denial(id: String, outcome: String, #[server(default)] note: Option<String>) -> Result<RequestView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let uphold = match outcome.as_str() {
            "uphold" => true,
            "overturn" => false,
            _ => return Err(AppError::bad_request()),
        };
        access().await?.review_denial(&id, uphold, note).await
    }.await)
}

/// The signed-in patient's accounting of disclosures (six years).
#[server(prefix = "/api", endpoint = "my_disclosures")]
pub async fn my_disclosures() -> Result<crate::domain::release::Accounting, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.accounting(None).await }.await)
}

/// A patient's accounting, for HIM staff.
#[server(prefix = "/api", endpoint = "patient_disclosures")]
pub async fn patient_disclosures(patient: String) -> Result<crate::domain::release::Accounting, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.accounting(Some(&patient)).await }.await)
}

/// HIM records a disclosure made outside the portal, or corrects an entry (a new entry).
#[server(prefix = "/api", endpoint = "add_disclosure")]
pub async fn add_disclosure(patient: String, #[server(flatten)] form: crate::domain::release::DisclosureForm) -> Result<crate::domain::release::Accounting, AppError> {
    use self::ssr::*;
    with_status(async move {
        let entry = form.check(state()?.clock.today()).map_err(|fields| AppError::Validation { fields })?;
        access().await?.add_disclosure(&patient, entry).await
    }.await)
}

/// The signed-in patient's activity history: views, downloads, transmits.
#[server(prefix = "/api", endpoint = "my_activity")]
pub async fn my_activity() -> Result<Vec<crate::domain::release::ActivityRow>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.activity_history().await }.await)
}

/// The signed-in user's messages about their requests.
#[server(prefix = "/api", endpoint = "my_notifications")]
pub async fn my_notifications() -> Result<Vec<crate::domain::release::NotificationView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.my_notifications().await }.await)
}

/// The mail the outbox gave up on (HIM staff), to follow up another way.
#[server(prefix = "/api", endpoint = "undelivered_mail")]
pub async fn undelivered_mail() -> Result<Vec<crate::domain::release::UndeliveredMail>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.undelivered_mail().await }.await)
}

/// Puts a given-up message back in the outbox (HIM staff).
#[server(prefix = "/api", endpoint = "retry_mail")]
pub async fn retry_mail(id: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.retry_mail(&id).await }.await)
}

/// Marks the signed-in user's messages read.
#[server(prefix = "/api", endpoint = "mark_notifications_read")]
pub async fn mark_notifications_read() -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.mark_notifications_read().await }.await)
}

/// What a copy costs and how long it takes, shown on the form before sending (164.524(c)(4)).
#[server(prefix = "/api", endpoint = "copy_terms")]
pub async fn copy_terms() -> Result<crate::domain::release::CopyTerms, AppError> {
    use crate::backend::{current::state, error::with_status};
    use crate::domain::release::{RecipientKind, fee_cents, fee_text};
    with_status(async move {
        let state = state()?;
        Ok(crate::domain::release::CopyTerms {
            self_fee: fee_text(fee_cents(RecipientKind::Myself, state.self_copy_fee_cents, state.third_party_copy_fee_cents)),
            third_party_fee: fee_text(fee_cents(RecipientKind::ThirdParty, state.self_copy_fee_cents, state.third_party_copy_fee_cents)),
            response_days: state.request_response_days,
            request_key: uuid::Uuid::new_v4().to_string(),
        })
    }.await)
}

/// The download page's state: the form as sent (`query`, the page's own query string), its
/// errors after a refused attempt (`checked=1`), and whose view it is.
#[server(prefix = "/api", endpoint = "instant_form")]
pub async fn instant_form(query: String) -> Result<crate::domain::release::InstantFormView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.trim_start_matches('?').as_bytes()).into_owned().take(64).collect();
        let (limited, acting, can_send) = access().await?.download_context().await?;
        let checked_as = crate::domain::release::instant::field(&pairs, "checked");
        let checked = matches!(checked_as, Some("1" | "send"));
        let sending = checked_as == Some("send");
        let mut errors = if checked { crate::domain::release::check_instant(&pairs, state.clock.today(), sending).err().unwrap_or_default() } else { Vec::new() };
        if sending && errors.is_empty() && state.direct.is_none() && crate::domain::release::instant::field(&pairs, "via") == Some("direct") {
            errors.push(FieldError::new("via", "This hospital has no Direct relay: send it by email instead."));
        }
        // A limited view has no notes: asking for the notes alone is refused with this reason.
        let notes_only = crate::domain::release::instant::values(&pairs, "section").all(|s| s == "documents");
        if checked && errors.is_empty() && limited && crate::domain::release::instant::field(&pairs, "part") == Some("some") && notes_only {
            errors.push(FieldError::new("section", "Documents and notes are outside what you can see for this person. Choose other parts of the record."));
        }
        Ok(crate::domain::release::InstantFormView { pairs, errors, limited, acting, can_send, sending, direct_available: state.direct.is_some() })
    }.await)
}

/// `/verify`: whether this portal produced a copy, by its code or one of its files' SHA-256
/// (the page's `code` or `sha256` query). No sign-in; no health information in the answer.
#[server(prefix = "/api", endpoint = "verify_copy")]
pub async fn verify_copy(code: Option<String>, sha256: Option<String>) -> Result<crate::domain::release::VerifyOutcome, AppError> {
    use self::ssr::*;
    use crate::backend::access::VerifyQuery;
    with_status(async move {
        let state = state()?;
        let query = match (code.filter(|c| !c.trim().is_empty()), sha256.filter(|s| !s.trim().is_empty())) {
            (Some(code), _) => VerifyQuery::Code(code),
            (None, Some(hash)) => VerifyQuery::Sha256(hash),
            (None, None) => return Ok(crate::domain::release::VerifyOutcome::NotAsked),
        };
        let request = RequestMeta::current().await;
        crate::backend::access::verify_copy(&state.db, &request, &state.clock, query).await
    }.await)
}
