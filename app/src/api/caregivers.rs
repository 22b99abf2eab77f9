//! Caregivers: the patient's "Who can see my records" page (invite, withdraw, revoke), accepting
//! an invitation, the switcher between oneself and each person one acts for, representative
//! requests and HIM staff's queue for them. The access context decides and audits everything;
//! the supporting documents travel as a plain multipart form (`backend::upload::representative`).

#![allow(clippy::too_many_arguments, reason = "a decision form's fields arrive as server-function arguments")]

use crate::domain::caregiver::{
    Acting, ActingChoice, CaregiversOverview, GrantView, InvitationPreview, InvitationSent, InviteForm, RepresentativeView,
};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// Whose record is on screen, and everyone the user may act for.
#[server(prefix = "/api", endpoint = "acting")]
pub async fn acting_state() -> Result<Acting, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.acting().await }.await)
}

/// Switches whose record is on screen (`patient` empty: oneself), then opens the record.
#[server(prefix = "/api", endpoint = "switch_person")]
pub async fn switch_person(patient: String) -> Result<Option<ActingChoice>, AppError> {
    use self::ssr::*;
    with_status(async move {
        let context = access().await?;
        let session = PortalSession::current().await?;
        let patient = patient.trim();
        let choice = context.switch_to((!patient.is_empty()).then_some(patient)).await?;
        match &choice {
            Some(c) => session.insert(Key::ActingFor, c.patient_id.clone()).await?,
            None => {
                session.remove::<String>(Key::ActingFor).await?;
            }
        }
        leptos_axum::redirect(if choice.is_some() { "/record" } else { "/" });
        Ok(choice)
    }.await)
}

/// The patient's caregivers, invitations, representatives and history.
#[server(prefix = "/api", endpoint = "caregivers_overview")]
pub async fn who_can_see() -> Result<CaregiversOverview, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.caregivers_overview(&state()?.caregivers).await }.await)
}

/// The patient invites someone; the link is mailed (no health information) and shown once: the
/// answer is a redirect back to the page, which takes it from the session ([`take_sent_invitation`]),
/// so the form starts afresh and a second tap cannot send it twice.
#[server(prefix = "/api", endpoint = "invite_caregiver")]
pub async fn invite_caregiver(form: InviteForm) -> Result<InvitationSent, AppError> {
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let sent = access().await?.invite_caregiver(&form, &state.caregivers, &state.base_url).await?;
        let body = format!(
            "Someone invited you to help with their health records in the {} patient portal.\n\n\
             Open this link and sign in with, or create, an account for this email address: {}\n\n\
             The invitation expires on {}. This message does not contain health information.\n",
            state.site_code, sent.link, sent.invitation.expires_on
        );
        if let Err(e) = state.mailer.send(&sent.invitation.email, "An invitation to a patient portal", body).await {
            tracing::warn!(error = %e, "mailing an invitation failed; the patient can pass the link on");
        }
        PortalSession::current().await?.insert(Key::InvitationSentOnce, sent.clone()).await?;
        leptos_axum::redirect("/caregivers?sent=1");
        Ok(sent)
    }.await)
}

/// The invitation this session just sent, once.
/// The field errors a plain multipart form (`representatives`, `intake`) was refused with, once:
/// the refusal kept them in the session and redirected with `?error=1`.
#[server(prefix = "/api", endpoint = "take_form_errors")]
pub async fn take_form_errors(form: String) -> Result<Vec<crate::error::FieldError>, AppError> {
    use self::ssr::*;
    with_status(async move {
        let session = PortalSession::current().await?;
        match session.remove::<(String, Vec<crate::error::FieldError>)>(Key::FormErrorsOnce).await? {
            Some((name, fields)) if name == form => Ok(fields),
            Some(other) => {
                // Another form's errors: left for that form's page.
                session.insert(Key::FormErrorsOnce, other).await?;
                Ok(Vec::new())
            }
            None => Ok(Vec::new()),
        }
    }.await)
}

#[server(prefix = "/api", endpoint = "take_sent_invitation")]
pub async fn take_sent_invitation() -> Result<Option<InvitationSent>, AppError> {
    use self::ssr::*;
    with_status(async move {
        signed_in(true).await?;
        PortalSession::current().await?.remove::<InvitationSent>(Key::InvitationSentOnce).await
    }.await)
}

/// The patient withdraws a pending invitation.
#[server(prefix = "/api", endpoint = "withdraw_invitation")]
pub async fn withdraw_invitation(id: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.withdraw_invitation(&id).await }.await)
}

/// The patient closes a live link to a copy sent to someone else: its next opening is refused.
#[server(prefix = "/api", endpoint = "close_shared_link")]
pub async fn close_shared_link(id: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.close_shared_link(&id).await }.await)
}

/// The patient ends a caregiver's access, effective on their next request.
#[server(prefix = "/api", endpoint = "revoke_caregiver")]
pub async fn revoke_caregiver(id: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.revoke_grant(&id).await }.await)
}

/// What an invitation offers, for its accept page.
#[server(prefix = "/api", endpoint = "invitation_preview")]
pub async fn preview_invitation(token: String) -> Result<InvitationPreview, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.invitation_preview(&token).await }.await)
}

/// The address an invitation link was sent to, to fill in the registration form of someone
/// invited who has no account yet (nothing when the link is not a pending invitation).
#[server(prefix = "/api", endpoint = "invited_address")]
pub async fn invited_address(token: String) -> Result<Option<String>, AppError> {
    use self::ssr::*;
    with_status(async move {
        crate::backend::access::caregivers::invited_address(&state()?.db, &token)
            .await
            .map_err(|e| internal("looking up an invitation failed", &e))
    }.await)
}

/// The invited person accepts with the signed-in account, then goes to the switcher.
#[server(prefix = "/api", endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String) -> Result<ActingChoice, AppError> {
    use self::ssr::*;
    with_status(async move {
        let choice = access().await?.accept_invitation(&token).await?;
        leptos_axum::redirect("/people?accepted=1");
        Ok(choice)
    }.await)
}

/// The signed-in user's own requests to be recognised as a representative.
#[server(prefix = "/api", endpoint = "my_representative_requests")]
pub async fn my_representative_requests() -> Result<Vec<RepresentativeView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.my_representative_requests().await }.await)
}

/// HIM staff: representative requests waiting for a decision.
#[server(prefix = "/api", endpoint = "representative_queue")]
pub async fn representative_queue() -> Result<Vec<RepresentativeView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.representative_queue().await }.await)
}

/// HIM staff approve (with the verified record number, scope and optional length in days) or
/// refuse (with a reason) a representative request.
#[server(prefix = "/api", endpoint = "decide_representative")]
pub async fn decide_representative(id: String, #[server(flatten)] form: crate::domain::caregiver::RepresentativeDecisionForm) -> Result<RepresentativeView, AppError> {
    use self::ssr::*;
    with_status(async move {
        let d = form.check().map_err(|fields| AppError::Validation { fields })?;
        access().await?.decide_representative(&id, d.approve, &d.mrn, d.scope, d.days, &d.reason).await
    }.await)
}

/// HIM staff: every grant on a patient's record.
#[server(prefix = "/api", endpoint = "patient_caregivers")]
pub async fn patient_caregivers(patient: String) -> Result<Vec<GrantView>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.patient_grants(&patient).await }.await)
}

/// HIM staff end a representative's access where abuse or endangerment is suspected.
#[server(prefix = "/api", endpoint = "end_caregiver")]
pub async fn end_caregiver(id: String, reason: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.end_grant_by_staff(&id, &reason).await }.await)
}
