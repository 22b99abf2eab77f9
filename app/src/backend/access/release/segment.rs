//! Segmentation from the record, and the authorization behind a release (issue 18), through the
//! access context:
//!
//! - `present_categories`: the sensitive categories actually in a request's scope, with their
//!   items (what the review form lists, each openable), read from the tags the import wrote;
//! - `check_segments`: a decision or a release refused when it would carry what the receiver
//!   may not have (`domain::release::segment::check_release`): Part 2 records without a complete
//!   consent (42 CFR 2.31), psychotherapy notes other than alone (45 CFR 164.508(b)(3)(ii)), or a
//!   category the authorization does not name (164.508(c)(1)(i)); audited, nothing stored;
//! - `authorization_block`: an expired or revoked authorization stops a decision, a release and
//!   the links it opened (164.508(b)(5), (c)(1)(v));
//! - `revoke_authorization`: the patient (or HIM, recording a written revocation) revokes it;
//!   an unreleased request stops, live links close, and the revocation is on the timeline and in
//!   the accounting of disclosures.

use super::super::AccessContext;
use super::super::rows::{clinical_document, clinical_item, disclosure, release_authorization, release_link, release_request, sensitive_tag};
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::policy::{Action, Target};
use crate::domain::release::segment::{self as rules, Receiver, Segment, SegmentItem};
use crate::domain::release::{Part2Element, RecipientKind, Status, Withheld};
use crate::domain::{Category, FieldError, IsoDate, Section};
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::{BTreeMap, HashMap};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Items listed per category on the review form (the count says how many there are).
const LISTED: usize = 20;

/// A tagged item as the review reads it: resource, kind, name, category, date (ms, text).
type ItemFacts = (String, String, String, Option<String>, Option<i64>, Option<String>);
/// A tagged note: id, resource, title, date (text, ms).
type NoteFacts = (String, String, String, Option<String>, Option<i64>);

/// Who receives a request's copy, as the segmentation rules see it.
pub(super) fn receiver_of(row: &release_request::Model) -> Receiver {
    Receiver::of(row.requester_type, row.recipient_kind == RecipientKind::ThirdParty)
}

/// Whether an item of this kind (and observation category) is in the scope's sections.
fn in_sections(sections: &[Section], kind: &str, category: Option<&str>) -> bool {
    let Some(section) = Section::of_kind(kind, category) else { return false };
    if sections.is_empty() {
        return section != Section::Documents;
    }
    sections.contains(&section) && section.observation_category().is_none_or(|c| category == Some(c))
}

fn in_dates(ms: Option<i64>, from: Option<i64>, until: Option<i64>) -> bool {
    match ms {
        Some(ms) => from.is_none_or(|f| ms >= f) && until.is_none_or(|u| ms < u),
        None => from.is_none() && until.is_none(),
    }
}

impl AccessContext {
    /// The sensitive categories present in a request's scope, each with its items (newest
    /// first), in the order the review lists them.
    pub(super) async fn present_categories(&self, row: &release_request::Model) -> Result<Vec<(Category, Vec<SegmentItem>)>, AppError> {
        let scope = &row.scope.0;
        let tags = sensitive_tag::Entity::find().filter(sensitive_tag::Column::PatientId.eq(row.patient_id.as_str())).all(&self.db).await?;
        let mut by_resource: HashMap<String, Vec<Category>> = HashMap::new();
        for tag in tags {
            if let Some(c) = Category::parse(&tag.category).filter(|c| rules::REVIEWED.contains(c)) {
                by_resource.entry(tag.resource_id).or_default().push(c);
            }
        }
        let from = scope.from.map(|d| d.start_ms());
        let until = scope.to.map(|d| d.start_ms() + DAY_MS);
        let staff_base = format!("/staff/patients/{}/record", row.patient_id);
        let mut found: BTreeMap<usize, Vec<(Option<i64>, SegmentItem)>> = BTreeMap::new();
        let ids: Vec<String> = by_resource.keys().cloned().collect();
        for chunk in ids.chunks(500) {
            let items: Vec<ItemFacts> = clinical_item::Entity::find()
                .select_only()
                .columns([clinical_item::Column::ResourceId, clinical_item::Column::Kind, clinical_item::Column::Display, clinical_item::Column::Category, clinical_item::Column::StartMs, clinical_item::Column::StartText])
                .filter(clinical_item::Column::PatientId.eq(row.patient_id.as_str()))
                .filter(clinical_item::Column::ResourceId.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&self.db)
                .await?;
            for (resource_id, kind, display, category, start_ms, start_text) in items {
                if !in_sections(&scope.sections, &kind, category.as_deref()) || !in_dates(start_ms, from, until) {
                    continue;
                }
                let section = Section::of_kind(&kind, category.as_deref()).unwrap_or(Section::Problems);
                let href = if kind == "encounter" { format!("{staff_base}/visits/{resource_id}") } else { format!("{staff_base}/{}", section.slug()) };
                for c in &by_resource[&resource_id] {
                    let at = rules::REVIEWED.iter().position(|r| r == c).unwrap_or(0);
                    let title = format!("{}: {}", section.title(), if display.is_empty() { "(no name)" } else { &display });
                    found.entry(at).or_default().push((start_ms, SegmentItem { title, date: start_text.as_ref().map(|t| t.chars().take(10).collect()), href: href.clone() }));
                }
            }
            if scope.sections.is_empty() || scope.sections.contains(&Section::Documents) {
                let docs: Vec<NoteFacts> = clinical_document::Entity::find()
                    .select_only()
                    .columns([clinical_document::Column::Id, clinical_document::Column::ResourceId, clinical_document::Column::Title, clinical_document::Column::DateText, clinical_document::Column::DateMs])
                    .filter(clinical_document::Column::PatientId.eq(row.patient_id.as_str()))
                    .filter(clinical_document::Column::ResourceId.is_in(chunk.iter().cloned()))
                    .into_tuple()
                    .all(&self.db)
                    .await?;
                for (id, resource_id, title, date_text, date_ms) in docs {
                    if !in_dates(date_ms, from, until) {
                        continue;
                    }
                    for c in &by_resource[&resource_id] {
                        let at = rules::REVIEWED.iter().position(|r| r == c).unwrap_or(0);
                        let title = format!("Note: {}", if title.is_empty() { "Document" } else { &title });
                        found.entry(at).or_default().push((date_ms, SegmentItem { title, date: date_text.as_ref().map(|t| t.chars().take(10).collect()), href: format!("{staff_base}/documents/{id}") }));
                    }
                }
            }
        }
        Ok(found
            .into_iter()
            .map(|(at, mut items)| {
                items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.title.cmp(&b.1.title)));
                (rules::REVIEWED[at], items.into_iter().map(|(_, i)| i).collect())
            })
            .collect())
    }

    /// The review form's list: each category present, its count, its first items, and its
    /// default for this receiver (before anything is ticked as named).
    pub(super) async fn review_segments(&self, row: &release_request::Model, named: &[Category], consent: &[Part2Element]) -> Result<Vec<Segment>, AppError> {
        let receiver = receiver_of(row);
        Ok(self
            .present_categories(row)
            .await?
            .into_iter()
            .map(|(category, items)| Segment {
                category: category.as_str().into(),
                label: category.label().into(),
                count: items.len(),
                items: items.into_iter().take(LISTED).collect(),
                default_basis: rules::default_basis(receiver, category, named, consent).map(str::to_string),
                rule: rules::rule_text(receiver, category).into(),
                fixed: receiver == Receiver::Access && category == Category::PsychotherapyNotes,
            })
            .collect())
    }

    /// Refuses a decision (or a release) that would carry what its receiver may not have;
    /// audited, nothing stored.
    pub(super) async fn check_segments(&self, row: &release_request::Model, present: &[Category], withheld: &[Withheld], named: &[Category], consent: &[Part2Element]) -> Result<(), AppError> {
        let documents_only = row.scope.0.sections == [Section::Documents];
        let Err(fields) = rules::check_release(receiver_of(row), present, withheld, named, consent, documents_only) else { return Ok(()) };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail(format!("refused: segmentation {}", names.join(",")));
        self.audit_alone(refused).await?;
        Err(AppError::Validation { fields })
    }

    /// What the authorization signed in the portal names, and the Part 2 consent elements it
    /// shows: every one when it names Part 2 records (the portal's form has the patient's name,
    /// this organization, the recipient, the purpose, the explicit description, the revocation
    /// statement, the expiration and the dated signature: 42 CFR 2.31(a)). Nothing for paper.
    pub(super) async fn authorization_names(&self, row: &release_request::Model) -> Result<(Vec<Category>, Vec<Part2Element>), AppError> {
        let Some(auth) = self.authorization_of(&row.id).await? else { return Ok((Vec::new(), Vec::new())) };
        let named = stored_named(&auth.named.0);
        let consent = if named.contains(&Category::Part2) { Part2Element::ALL.to_vec() } else { Vec::new() };
        Ok((named, consent))
    }

    /// The request's authorization, if it was signed in the portal.
    pub(super) async fn authorization_of(&self, request_id: &str) -> Result<Option<release_authorization::Model>, AppError> {
        Ok(release_authorization::Entity::find().filter(release_authorization::Column::RequestId.eq(request_id)).one(&self.db).await?)
    }

    /// Why the authorization no longer allows a release, if it does not: revoked, or past its
    /// expiration date (45 CFR 164.508(b)(2)(i), (b)(5)).
    pub(in crate::backend::access) fn authorization_ended(&self, auth: &release_authorization::Model) -> Option<String> {
        if let Some(at) = auth.revoked_at_ms {
            return Some(format!("The authorization was revoked on {} (45 CFR 164.508(b)(5)).", self.clock.minutes(at)));
        }
        match IsoDate::parse(&auth.expires_on) {
            Ok(end) if end < self.clock.today() => Some(format!("The authorization expired on {end} (45 CFR 164.508(b)(2)(i)).")),
            _ => None,
        }
    }

    /// Refuses a decision or release under an ended authorization; audited, nothing stored.
    pub(super) async fn authorization_block(&self, row: &release_request::Model) -> Result<(), AppError> {
        let Some(auth) = self.authorization_of(&row.id).await? else { return Ok(()) };
        let Some(why) = self.authorization_ended(&auth) else { return Ok(()) };
        let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail("refused: authorization ended");
        self.audit_alone(refused).await?;
        Err(AppError::Validation { fields: vec![FieldError::new("authorization", format!("{why} Nothing can be released under it."))] })
    }

    /// Whether the signed-in person revokes as the patient's side: the patient themselves, for
    /// any authorization on their record ("Who can see my records" lists them all), or the
    /// caregiver who signed it, acting for the patient. Staff revoke as staff.
    fn may_revoke_as_patient(&self, row: &release_request::Model) -> bool {
        let for_patient = self.subject().as_deref() == Some(row.patient_id.as_str());
        for_patient && (self.acting_for.is_none() || row.requester_user_id == self.principal.user_id)
    }

    /// The authorization's state for a request's page, and whether the viewer may revoke it.
    pub(super) async fn add_authorization_state(&self, view: &mut crate::domain::release::RequestView, row: &release_request::Model) -> Result<(), AppError> {
        let Some(auth) = self.authorization_of(&row.id).await? else { return Ok(()) };
        view.authorization_state = self.authorization_ended(&auth);
        let own = self.may_revoke_as_patient(row);
        view.can_revoke = view.authorization_state.is_none() && row.status != Status::Cancelled && (own || self.principal.roles.contains(&crate::domain::Role::HimStaff));
        Ok(())
    }

    /// Revokes a request's authorization (45 CFR 164.508(b)(5)): the patient who signed it, in
    /// the portal, or HIM staff recording a revocation received in writing. What was released
    /// stays released (the rule's "except to the extent … action"); an unreleased request stops,
    /// every live link closes, and the revocation goes on the timeline and in the accounting of
    /// disclosures. Another patient's request answers 404.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn revoke_authorization(&self, id: &str, note: Option<String>) -> Result<crate::domain::release::RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let own = self.may_revoke_as_patient(&row);
        if own {
            self.authorize(Action::RequestCopy, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
        } else {
            self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
        }
        let auth = self.authorization_of(&row.id).await?.ok_or(AppError::NotFound)?;
        if let Some(why) = self.authorization_ended(&auth) {
            return Err(AppError::Conflict { message: why });
        }
        let note = note.map(|n| n.trim().chars().take(500).collect::<String>()).filter(|n| !n.is_empty());
        let now = now_ms();
        let who = match (own, &self.acting_for) {
            (true, None) => "the patient".to_string(),
            // The caregiver who signed it, for the patient: named, so the timeline and the
            // accounting say who acted.
            (true, Some(_)) => format!("{} (caregiver)", self.display_name(&self.principal.user_id).await?),
            (false, _) => format!("HIM staff ({})", self.display_name(&self.principal.user_id).await?),
        };
        let txn = write_transaction(&self.db).await?;
        release_authorization::Entity::update_many()
            .col_expr(release_authorization::Column::RevokedAtMs, Expr::value(now))
            .col_expr(release_authorization::Column::RevokedBy, Expr::value(self.principal.user_id.clone()))
            .col_expr(release_authorization::Column::RevocationNote, Expr::value(note.clone()))
            .filter(release_authorization::Column::Id.eq(auth.id.as_str()))
            .exec(&txn)
            .await?;
        // Live links close now: the recipient's next open is refused.
        release_link::Entity::update_many()
            .col_expr(release_link::Column::ExpiresAtMs, Expr::value(now))
            .filter(release_link::Column::RequestId.eq(row.id.as_str()))
            .filter(release_link::Column::ExpiresAtMs.gt(now))
            .exec(&txn)
            .await?;
        let said = format!("Authorization revoked by {who} (45 CFR 164.508(b)(5)){}", note.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
        if row.status.clock_stopped() {
            self.staff_note(&txn, &row, said.clone()).await?;
        } else {
            // Nothing was released under it: the request stops here.
            self.move_in(&txn, &row, row.status, Status::Cancelled, if own { crate::domain::release::Actor::Requester } else { crate::domain::release::Actor::HimStaff }, Some(said.clone())).await?;
        }
        // The accounting keeps the revocation beside what went out under the authorization.
        disclosure::Entity::insert(disclosure::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            patient_id: Set(row.patient_id.clone()),
            request_id: Set(Some(row.id.clone())),
            disclosed_on: Set(self.clock.today().to_string()),
            recipient_name: Set(auth.recipient_name.clone()),
            recipient_address: Set(Some(auth.recipient_address.clone())),
            description: Set(format!("Authorization for request R-{} revoked: nothing more is disclosed under it; its links are closed", row.number)),
            purpose: Set(said),
            accountable: Set(false),
            kind: Set("revocation".into()),
            corrects_id: Set(None),
            recorded_by_user_id: Set(Some(self.principal.user_id.clone())),
            created_at_ms: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_authorization", &auth.id).detail("authorization revoked")).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }
}

/// The decision's named categories and consent elements, as stored (codes).
pub(super) fn stored_named(named: &[String]) -> Vec<Category> {
    named.iter().filter_map(|c| Category::parse(c)).collect()
}

pub(super) fn stored_consent(consent: &[String]) -> Vec<Part2Element> {
    consent.iter().filter_map(|c| Part2Element::parse(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_decides_which_items_are_reviewed() {
        assert!(in_sections(&[], "condition", None));
        assert!(in_sections(&[Section::Labs], "observation", Some("laboratory")));
        assert!(!in_sections(&[Section::Labs], "observation", Some("vital-signs")));
        assert!(!in_sections(&[Section::Problems], "encounter", None));
        assert!(in_dates(Some(5), Some(1), Some(10)) && !in_dates(Some(10), Some(1), Some(10)) && !in_dates(None, Some(1), None));
    }
}
