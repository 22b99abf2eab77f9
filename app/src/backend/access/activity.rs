//! The activity history (ONC 170.315(e)(1)): each view, download and transmit of the patient's
//! record, from the audit trail and the disclosures.

use super::rows::disclosure;
use super::AccessContext;
use crate::backend::audit::{AuditAction, Outcome};
use crate::error::AppError;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

impl AccessContext {
    /// The activity history of the signed-in patient's record (170.315(e)(1)): each view and
    /// download by the patient, each copy sent to someone else (with the addressee) and each
    /// opening of its link, newest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn activity_history(&self) -> Result<Vec<crate::domain::release::ActivityRow>, AppError> {
        use crate::backend::entities::audit_event;
        use sea_orm::{QueryOrder, QuerySelect};
        use crate::backend::entities::app_user;
        let patient_id = self.subject().ok_or(AppError::NotFound)?;
        // Who viewed, downloaded and sent what, and to whom, can name sensitive care (a copy sent
        // to a clinic): a limited proxy (a parent of a teenager) does not see it (45 CFR
        // 164.502(g)(3)); the patient and a full proxy do.
        self.authorize(crate::backend::policy::Action::ReadSensitive, crate::backend::policy::Target::Patient(&patient_id), AuditAction::PatientRead).await?;
        let patient_user = app_user::Entity::find()
            .filter(app_user::Column::PatientId.eq(patient_id.as_str()))
            .one(&self.db)
            .await?
            .map(|u| u.id);
        let you = if patient_user.as_deref() == Some(self.principal.user_id.as_str()) { "You" } else { "The patient" };
        let mut caregiver_names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut app_names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::PatientId.eq(patient_id.as_str()))
            .filter(audit_event::Column::Outcome.eq("success"))
            .filter(audit_event::Column::Action.is_in(["patient_read", "release_request"]))
            .order_by_desc(audit_event::Column::Seq)
            .limit(500)
            .all(&self.db)
            .await?;
        let mut rows = Vec::new();
        for e in events {
            // The detail is optional by design (most reads carry none).
            let detail = e.detail.as_deref().unwrap_or("");
            let by_patient = e.actor_user_id.is_some() && e.actor_user_id == patient_user;
            // 170.315(e)(1): who acted, the patient or a representative; a caregiver's actions
            // carry the patient as on-behalf-of.
            let by_caregiver = !by_patient && e.on_behalf_of.as_deref() == Some(patient_id.as_str());
            let who = match (&e.actor_user_id, by_caregiver) {
                (Some(actor), true) => match caregiver_names.get(actor) {
                    Some(name) => name.clone(),
                    None => {
                        let name = format!("{} (caregiver)", self.display_name(actor).await?);
                        caregiver_names.insert(actor.clone(), name.clone());
                        name
                    }
                },
                _ => you.to_string(),
            };
            let row = match (e.action.as_str(), by_patient || by_caregiver) {
                // A read through an app the person connected (issue 22): the app named, and who
                // connected it.
                ("patient_read", true) if detail.starts_with("app ") => {
                    let (app_id, what) = detail["app ".len()..].split_once(": ").unwrap_or(("", ""));
                    let app = match app_names.get(app_id) {
                        Some(name) => name.clone(),
                        None => {
                            let name = crate::backend::entities::smart_app::Entity::find_by_id(app_id).one(&self.db).await?.map_or_else(|| "An app".to_string(), |a| a.name);
                            app_names.insert(app_id.to_string(), name.clone());
                            name
                        }
                    };
                    let by = if who == "You" { "you".to_string() } else { who };
                    Some(("View", format!("{app} (an app connected by {by})"), describe_app_read(what), None))
                }
                ("patient_read", true) if detail.starts_with("download now:") => Some(("Download", who, describe_instant(detail), None)),
                ("patient_read", true) if detail != "accounting of disclosures" => Some(("View", who, describe_read(detail), None)),
                ("release_request", true) if detail.starts_with("downloaded") => Some(("Download", who, describe_download(detail), None)),
                ("release_request", true) if by_caregiver && detail.starts_with("submitted") => Some(("Request", who, "Asked for a copy on the patient's behalf".to_string(), None)),
                ("release_request", false) if detail.starts_with("shared link opened") => {
                    let to = detail.split_once(" to ").map(|(_, r)| r.to_string());
                    Some(("Transmit", "The recipient, with your passcode".to_string(), "Opened the copy you sent".to_string(), to))
                }
                _ => None,
            };
            if let Some((action, who, what, addressee)) = row {
                rows.push((e.occurred_at_ms, crate::domain::release::ActivityRow { at: self.clock.minutes(e.occurred_at_ms), action: action.into(), who, what, addressee }));
            }
        }
        // Copies sent at the patient's request (the transmit itself, with the addressee).
        let sent = disclosure::Entity::find()
            .filter(disclosure::Column::PatientId.eq(patient_id.as_str()))
            .filter(disclosure::Column::Kind.eq("automatic"))
            .all(&self.db)
            .await?;
        for d in sent {
            // Who directed it: a caregiver's send names them (170.315(e)(1)).
            let requester = match &d.request_id {
                Some(request_id) => super::rows::release_request::Entity::find_by_id(request_id.clone()).one(&self.db).await?.map(|r| r.requester_user_id),
                None => None,
            };
            let who = match requester {
                Some(user) if Some(user.as_str()) != patient_user.as_deref() => format!("Sent at the request of {} (caregiver)", self.display_name(&user).await?),
                _ => "Sent at your request".into(),
            };
            rows.push((d.created_at_ms, crate::domain::release::ActivityRow {
                at: self.clock.minutes(d.created_at_ms),
                action: "Transmit".into(),
                who,
                what: d.description,
                addressee: Some([Some(d.recipient_name), d.recipient_address].into_iter().flatten().collect::<Vec<_>>().join(", ")),
            }));
        }
        // Newest first by the instant itself: the shown time has minutes only, and a transmit
        // made in the same minute as earlier views must still come above them.
        // (Ties keep the later-recorded row first.)
        rows.sort_by_key(|(at, _)| *at);
        rows.reverse();
        let rows: Vec<_> = rows.into_iter().map(|(_, row)| row).collect();
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(&patient_id).entity("activity", &patient_id).detail("activity history");
        self.audit_alone(event).await?;
        Ok(rows)
    }
}

/// "Observation search" as people read it: "Read your test results, vital signs and other
/// observations".
fn describe_app_read(what: &str) -> String {
    match what.split_whitespace().next() {
        Some("Patient") if what.contains("$everything") => "Read your whole record".into(),
        Some(kind) => format!("Read {}", crate::domain::smart::plain_name(kind)),
        None => "Read your record".into(),
    }
}

fn describe_read(detail: &str) -> String {
    if let Some(section) = detail.strip_prefix("section=") {
        let slug = section.split_whitespace().next().unwrap_or_default();
        return crate::domain::Section::parse(slug).map(|s| format!("{} (record)", s.title())).unwrap_or_else(|| "Your record".into());
    }
    if detail.starts_with("visit=") {
        return "A visit".into();
    }
    if detail.starts_with("document=") {
        return "A document or note".into();
    }
    if detail == "activity history" {
        return "This activity history".into();
    }
    if detail == "connected apps" {
        return "Your connected apps".into();
    }
    "Your record".into()
}

/// "download now: formats=pdf,fhir; scope=Lab results, 2020-01-01 to 2021-01-01" as people
/// read it: "PDF and FHIR data: Lab results, 2020-01-01 to 2021-01-01" (170.315(e)(1): the
/// format and the date range).
fn describe_instant(detail: &str) -> String {
    let mut formats = String::new();
    let mut scope = String::new();
    for part in detail.trim_start_matches("download now:").split("; ") {
        if let Some(f) = part.trim().strip_prefix("formats=") {
            let mut chosen = crate::domain::release::InstantFormats::default();
            for code in f.split(',') {
                match code {
                    "pdf" => chosen.pdf = true,
                    "fhir" => chosen.fhir = true,
                    "ccda" => chosen.ccda = true,
                    _ => {}
                }
            }
            formats = chosen.describe();
        } else if let Some(s) = part.trim().strip_prefix("scope=") {
            scope = s.to_string();
        }
    }
    format!("A copy downloaded at once ({formats}): {scope}")
}

fn describe_download(detail: &str) -> String {
    match detail.split_whitespace().nth(1) {
        Some("pdf") => "A PDF copy of your record".into(),
        Some("fhir") => "Your record as FHIR data".into(),
        Some("denial_letter") => "A denial letter".into(),
        Some("authorization") => "A signed authorization".into(),
        _ => "A file".into(),
    }
}
