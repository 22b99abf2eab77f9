//! Deciding a request and producing its copy, through the access context.
//!
//! - `decide_request`: HIM approves, approves in part (withholding sensitive categories, each
//!   with its legal basis) or denies (with its 164.524 ground). Psychotherapy notes are withheld
//!   from every copy without asking (45 CFR 164.524(a)(1)(i)).
//! - `release_copy`: reads the record in the request's scope, leaves out what the decision
//!   withheld, renders the PDF and the FHIR Bundle on a blocking thread (never on the async
//!   runtime), seals each file (AES-256-GCM) and stores it with its SHA-256 in the same
//!   transaction as the status change: a failure anywhere leaves the request approved and
//!   retryable, never half-released.
//! - `download_copy`: the requester (or HIM staff) fetches a file; audited; the first download
//!   by the requester marks the request delivered. Expired files answer 410.

use super::copy::Produced;
use super::super::rows::{JsonText, release_decision, release_file, release_request};
use super::super::rows::patient_row;
use super::super::AccessContext;
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::copies::seal::{FileKeys, Sealed};
use crate::backend::copies::{self, CoverFacts, sha256_hex};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::error::{BackendError, Stored};
use crate::backend::entities::app_user;
use crate::backend::fhir::sensitive::Category;
use crate::backend::policy::{Action, Target};
use crate::domain::release::segment::denied_parts;
use crate::domain::release::{Actor, Decision, DecisionKind, DenialGround, Event, FileView, Part2Element, Receiver, RecipientKind, RequestView, Scope, Status, Withheld, withhold_basis};
use crate::domain::{Role, Section};
use crate::error::AppError;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Denial letters stay downloadable as long as the record of the decision is kept (six years,
/// as documentation under 45 CFR 164.530(j)).
pub(super) const LETTER_KEEP_MS: i64 = 6 * 366 * DAY_MS;

/// What the recipient of a copy sent to someone else is mailed: where the link is. The passcode
/// is not in it: the patient passes it on.
#[derive(Debug, Clone)]
pub struct LinkNotice {
    pub email: String,
    pub path: String,
}

/// The settings a release uses.
#[derive(Clone, Copy)]
pub struct ReleaseSettings<'a> {
    /// Calendar days to act on a request (164.524(b)(2)).
    pub response_days: i64,
    pub self_fee_cents: u32,
    pub third_party_fee_cents: u32,
    /// Calendar days to answer anyone other than the patient (`third_party_response_days`).
    pub third_party_response_days: i64,
    /// The state's cap on a copy fee (cents; 0: none).
    pub fee_cap_cents: u32,
    pub keys: &'a FileKeys,
    pub download_days: u32,
    /// The organization as letters and covers name it.
    pub site: &'a str,
    pub site_code: &'a str,
    /// The portal's public address, for the verification page of each copy.
    pub base_url: &'a str,
    /// The organization, its address and the privacy contact, in every letter.
    pub letterhead: &'a copies::Letterhead,
}


/// What a file is called on the request's page: to the patient, "Your record"; to the clerk,
/// "Record copy".
fn file_label(kind: &str, patient_view: bool) -> &'static str {
    match (kind, patient_view) {
        ("pdf", true) => "Your record (PDF)",
        ("pdf", false) => "Record copy (PDF)",
        ("fhir", true) => "Your record as FHIR data (JSON)",
        ("fhir", false) => "Record copy as FHIR data (JSON)",
        ("ccda", true) => "Your record as a C-CDA summary (XML)",
        ("ccda", false) => "Record copy as a C-CDA summary (XML)",
        ("denial_letter", _) => "Denial letter (PDF)",
        ("extension_letter", _) => "Extension letter (PDF)",
        ("invoice", _) => "Invoice (PDF)",
        ("authorization", _) => "Signed authorization (PDF)",
        (k, _) if k.starts_with("scan-") => "Scan of the request",
        _ => "File",
    }
}

fn withheld_text(w: &Withheld) -> String {
    let what = Category::parse(&w.category).map(Category::label).unwrap_or("Other information");
    format!("{what}. {}", withhold_basis(&w.basis).unwrap_or("withheld"))
}

/// A decision's denial grounds as stored (a JSON list of codes); an unknown code is an error.
fn stored_grounds(decision: &release_decision::Model) -> Result<Vec<DenialGround>, BackendError> {
    decision.grounds.iter().map(|g| DenialGround::parse(g).stored("release_decision", "grounds")).collect()
}

impl AccessContext {
    async fn latest_decision(&self, request_id: &str) -> Result<Option<release_decision::Model>, AppError> {
        release_decision::Entity::find()
            .filter(release_decision::Column::RequestId.eq(request_id))
            .order_by_desc(release_decision::Column::AtMs)
            .one(&self.db)
            .await.map_err(AppError::from)
    }

    /// Whether the request's denial may be reviewed (only 164.524(a)(3) grounds).
    pub(in crate::backend::access) async fn denial_is_reviewable(&self, request_id: &str) -> Result<bool, AppError> {
        let Some(decision) = self.latest_decision(request_id).await? else { return Ok(false) };
        let grounds = stored_grounds(&decision)?;
        Ok(crate::domain::release::denial_reviewable(&grounds))
    }

    /// Files (never their bytes), withholdings and grounds for a request's page.
    pub(in crate::backend::access) async fn add_release_details(&self, view: &mut RequestView) -> Result<(), AppError> {
        let files: Vec<(String, String, i64, String, Option<i32>, i64)> = release_file::Entity::find()
            .select_only()
            .columns([release_file::Column::Kind, release_file::Column::FileName, release_file::Column::Size, release_file::Column::Sha256, release_file::Column::Pages, release_file::Column::ExpiresAtMs])
            .filter(release_file::Column::RequestId.eq(view.id.as_str()))
            .order_by_asc(release_file::Column::Kind)
            .into_tuple()
            .all(&self.db)
            .await?;
        if let Some(row) = release_request::Entity::find_by_id(view.id.clone()).one(&self.db).await? {
            if row.on_behalf_of.is_some() {
                let name = self.display_name(&row.requester_user_id).await?;
                view.representative = Some(match self.representative_of(&row.requester_user_id, &row.patient_id).await? {
                    Some((kind, _)) => crate::domain::caregiver::representative_line(&name, kind),
                    None => format!("{name}, on the patient's behalf"),
                });
            }
            // Who asked, as the clerk says it; the timeline says "You" only to the requester.
            view.requester = match (&row.requester_name, &view.representative) {
                (Some(name), _) if row.channel.logged() => format!("{name} ({})", row.requester_type.label().to_lowercase()),
                (_, Some(representative)) => representative.clone(),
                _ => format!("{} (patient)", self.display_name(&row.requester_user_id).await?),
            };
            let viewer_is_requester = row.requester_user_id == self.principal.user_id && !row.channel.logged();
            if !viewer_is_requester {
                for step in view.timeline.iter_mut().filter(|t| t.who == "You") {
                    step.who = view.requester.clone();
                }
            }
            if let Some(worker) = &row.assigned_to {
                view.assignee = Some(self.display_name(worker).await?);
            }
            // Staff read the patient at the top of the page: name, birth date, record number;
            // in review, the sensitive categories the scope holds, each with its default.
            if self.subject().as_deref() != Some(row.patient_id.as_str()) {
                let patient = self.patient_row_of(&row).await?;
                view.patient_label = format!("{} · born {} · record {}", super::super::patients::full_name(&patient), patient.birth_date, patient.mrn);
                view.receiver = Some(super::segment::receiver_of(&row));
                if row.status == Status::InReview {
                    let (named, consent) = self.authorization_names(&row).await?;
                    view.segments = self.review_segments(&row, &named, &consent).await?;
                    view.named = named.iter().map(|c| c.as_str().to_string()).collect();
                    view.consent = consent.iter().map(|e| e.as_str().to_string()).collect();
                }
            }
            self.add_authorization_state(view, &row).await?;
        }
        let now = now_ms();
        let patient_view = self.subject().as_deref() == Some(view.patient_id.as_str());
        view.files = files
            .into_iter()
            .map(|(kind, file_name, size, sha256, pages, expires)| FileView {
                label: file_label(&kind, patient_view).into(),
                href: format!("/requests/{}/files/{kind}", view.id),
                kind,
                file_name,
                size,
                sha256,
                pages,
                expires: self.clock.minutes(expires),
                expired: expires <= now,
            })
            .collect();
        if let Some(decision) = self.latest_decision(&view.id).await? {
            let withheld: Vec<Withheld> = decision.exclusions.0.clone();
            view.withheld = withheld.iter().map(withheld_text).collect();
            let parsed = stored_grounds(&decision)?;
            view.grounds = parsed.iter().map(|g| format!("{} ({})", g.plain_language(), g.citation())).collect();
            view.can_request_review = view.status == Status::Denied && crate::domain::release::denial_reviewable(&parsed);
        }
        Ok(())
    }

    async fn staff_request(&self, id: &str) -> Result<release_request::Model, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?;
        // Staff only; anyone else is told the request does not exist.
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
        row.ok_or(AppError::NotFound)
    }

    /// HIM's decision after review: approve, approve in part, or deny; stored with the
    /// transition in one transaction.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn decide_request(&self, id: &str, decision: Decision, named: Vec<Category>, consent: Vec<Part2Element>, settings: ReleaseSettings<'_>) -> Result<RequestView, AppError> {
        let row = self.staff_request(id).await?;
        let event = match decision.kind {
            DecisionKind::Approve => Event::Approve,
            DecisionKind::ApprovePartially => Event::ApprovePartially,
            DecisionKind::Deny => Event::Deny,
        };
        let (from, to) = self.check_transition(&row, event, Actor::HimStaff).await?;
        let receiver = super::segment::receiver_of(&row);
        let present: Vec<Category> = self.present_categories(&row).await?.into_iter().map(|(c, _)| c).collect();
        let mut withheld = decision.withheld.clone();
        // A release waits for what its requester type needs, under an authorization that still
        // stands, carrying nothing its receiver may not have (a denial needs none of this).
        if decision.kind != DecisionKind::Deny {
            self.require_checklist(&row).await?;
            self.authorization_block(&row).await?;
            // 45 CFR 164.524(a)(1)(i): never under the right of access, whatever the form says.
            if receiver == Receiver::Access && !withheld.iter().any(|w| w.category == Category::PsychotherapyNotes.as_str()) {
                withheld.push(Withheld { category: Category::PsychotherapyNotes.as_str().into(), basis: "psychotherapy_notes".into() });
            }
            self.check_segments(&row, &present, &withheld, &named, &consent).await?;
        }
        // A denial, whole or of the parts withheld on a 164.524 ground, comes with its letter,
        // rendered before anything is stored (164.524(d)(2)).
        let parts = if decision.kind == DecisionKind::Deny { Vec::new() } else { denied_parts(&present, &withheld) };
        let letter = if decision.kind == DecisionKind::Deny || !parts.is_empty() {
            let patient = self.patient_row_of(&row).await?;
            let scope: Scope = row.scope.0.clone();
            let facts = copies::LetterFacts {
                letterhead: settings.letterhead.clone(),
                date: self.clock.today().to_string(),
                patient_name: super::super::patients::full_name(&patient),
                birth_date: patient.birth_date.clone(),
                record_number: patient.mrn.clone(),
                request_number: format!("R-{}", row.number),
                received: row.received_on.clone(),
                scope: scope.describe(),
                grounds: decision.grounds.clone(),
                parts: parts.iter().map(|(c, g)| (c.label().to_string(), *g)).collect(),
                created_unix: now_ms() / 1000,
            };
            let rendered = tokio::task::spawn_blocking(move || copies::pdf::render(copies::denial_letter(&facts), &|_, _| {}))
                .await??;
            Some(Produced {
                kind: "denial_letter",
                file_name: format!("denial-letter-R-{}.pdf", row.number),
                content_type: "application/pdf",
                pages: i32::try_from(rendered.pages).ok(),
                bytes: rendered.bytes,
            })
        } else {
            None
        };
        let txn = write_transaction(&self.db).await?;
        if let Some(letter) = letter {
            self.store_files(&txn, &row.id, vec![letter], now_ms() + LETTER_KEEP_MS, settings.keys).await?;
        }
        release_decision::Entity::insert(release_decision::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(row.id.clone()),
            decided_by_user_id: Set(self.principal.user_id.clone()),
            decision: Set(decision.kind),
            exclusions: Set(JsonText(withheld.clone())),
            grounds: Set(JsonText(decision.grounds.iter().map(|g| g.code().to_string()).collect())),
            note: Set(decision.note.clone()),
            at_ms: Set(now_ms()),
            named: Set(JsonText(named.iter().map(|c| c.as_str().to_string()).collect())),
            consent: Set(JsonText(consent.iter().map(|e| e.as_str().to_string()).collect())),
        })
        .exec_without_returning(&txn)
        .await?;
        self.move_in(&txn, &row, from, to, Actor::HimStaff, decision.note).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }


    /// A decision the review form could not make (a denial without a ground, an unknown basis or
    /// category): refused on its fields and audited; nothing changes. Another patient's or a
    /// missing request answers 404 as any staff call does.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn refuse_decision(&self, id: &str, fields: Vec<crate::domain::FieldError>) -> Result<RequestView, AppError> {
        let row = self.staff_request(id).await?;
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail(format!("refused: decision {}", names.join(",")));
        self.audit_alone(refused).await?;
        Err(AppError::Validation { fields })
    }

    pub(super) async fn patient_row_of(&self, row: &release_request::Model) -> Result<patient_row::Model, AppError> {
        patient_row::Entity::find_by_id(row.patient_id.clone())
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Seals and stores produced files in the caller's transaction; returns `kind=sha256` each.
    pub(in crate::backend::access) async fn store_files(&self, txn: &sea_orm::DatabaseTransaction, request_id: &str, produced: Vec<Produced>, expires: i64, keys: &FileKeys) -> Result<Vec<String>, AppError> {
        let now = now_ms();
        let mut hashes = Vec::new();
        for file in produced {
            let file_id = uuid::Uuid::new_v4().to_string();
            let sealed = keys.seal(&file.bytes, &format!("{file_id}/{request_id}"))?;
            let sha = sha256_hex(&file.bytes);
            hashes.push(format!("{}={sha}", file.kind));
            release_file::Entity::insert(release_file::ActiveModel {
                id: Set(file_id),
                request_id: Set(request_id.to_string()),
                kind: Set(file.kind.into()),
                file_name: Set(file.file_name),
                content_type: Set(file.content_type.into()),
                size: Set(file.bytes.len() as i64),
                sha256: Set(sha),
                pages: Set(file.pages),
                key_id: Set(sealed.key_id),
                nonce: Set(sealed.nonce),
                ciphertext: Set(sealed.ciphertext),
                created_at_ms: Set(now),
                expires_at_ms: Set(expires),
                downloads: Set(0),
            })
            .exec_without_returning(txn)
            .await?;
        }
        Ok(hashes)
    }

    /// The requester sends a reviewable denial to review (45 CFR 164.524(d)(4)).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn request_denial_review(&self, id: &str) -> Result<RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        let own = self.subject().as_deref() == Some(row.patient_id.as_str()) && row.requester_user_id == self.principal.user_id;
        // Still entitled (a caregiver whose access ended asks for nothing more): read afresh.
        self.authorize(Action::RequestCopy, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
        if !own {
            return Err(AppError::NotFound);
        }
        let (from, to) = self.check_transition(&row, Event::RequestDenialReview, Actor::Requester).await?;
        let txn = write_transaction(&self.db).await?;
        self.move_in(&txn, &row, from, to, Actor::Requester, Some("Review requested".into())).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// Reviewable denials waiting for a reviewer, the oldest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn review_queue(&self) -> Result<Vec<RequestView>, AppError> {
        if !self.principal.roles.contains(&Role::HimReviewer) {
            self.authorize(Action::DecideReviewableDenial, Target::Site, AuditAction::ReleaseRequest).await?;
        }
        let rows = release_request::Entity::find()
            .filter(release_request::Column::Status.eq(Status::DenialUnderReview.as_str()))
            .order_by_asc(release_request::Column::UpdatedAtMs)
            .limit(500)
            .all(&self.db)
            .await?;
        self.audit_list("review_queue", rows.len(), false).await?;
        rows.into_iter().map(|r| self.view(r, Vec::new())).collect()
    }

    /// A licensed reviewer who took no part in the denial upholds or overturns it
    /// (45 CFR 164.524(a)(4)); overturned, the request is approved and HIM releases the copy.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn review_denial(&self, id: &str, uphold: bool, note: Option<String>) -> Result<RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        self.authorize(Action::DecideReviewableDenial, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
        let decision = self.latest_decision(&row.id).await?;
        if decision.as_ref().is_some_and(|d| d.decided_by_user_id == self.principal.user_id) {
            let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail("refused: reviewer made the denial");
            self.audit_alone(refused).await?;
            return Err(AppError::Conflict { message: "You made this denial: the review must be done by a reviewer who took no part in it (45 CFR 164.524(a)(4)).".into() });
        }
        let event = if uphold { Event::UpholdDenial } else { Event::OverturnDenial };
        let (from, to) = self.check_transition(&row, event, Actor::Reviewer).await?;
        let note = note.map(|n| n.trim().chars().take(2000).collect::<String>()).filter(|n| !n.is_empty());
        let txn = write_transaction(&self.db).await?;
        if !uphold {
            // Overturned: the copy is released in full (but psychotherapy notes) after all.
            release_decision::Entity::insert(release_decision::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                request_id: Set(row.id.clone()),
                decided_by_user_id: Set(self.principal.user_id.clone()),
                decision: Set(DecisionKind::Approve),
                exclusions: Set(JsonText(vec![Withheld { category: Category::PsychotherapyNotes.as_str().into(), basis: "psychotherapy_notes".into() }])),
                grounds: Set(JsonText(Vec::new())),
                note: Set(note.clone()),
                at_ms: Set(now_ms()),
                named: Set(JsonText(Vec::new())),
                consent: Set(JsonText(Vec::new())),
            })
            .exec_without_returning(&txn)
            .await?;
        }
        let outcome = if uphold { "Denial upheld on review" } else { "Denial overturned on review" };
        self.move_in(&txn, &row, from, to, Actor::Reviewer, Some(note.map(|n| format!("{outcome}: {n}")).unwrap_or_else(|| outcome.into()))).await?;
        txn.commit().await?;
        // Authorized above: decided, the review no longer opens the record to the reviewer.
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        self.request_view(row).await
    }

    /// The whole record of a patient laid out as the PDF copy shows it, nothing withheld but
    /// psychotherapy notes (HIM staff; audited as a read). The benchmark renders it.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn full_record_copy(&self, patient_id: &str, site: &str) -> Result<copies::pdf::PdfCopy, AppError> {
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::PatientRead).await?;
        let patient = patient_row::Entity::find_by_id(patient_id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let scope = Scope { sections: Vec::new(), from: None, to: None };
        let content = self.copy_content(patient_id, &scope, &[], false, false, super::copy::Rows::Shown).await?;
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(patient_id).entity("record_copy", patient_id).detail("full record laid out as a copy");
        self.audit_alone(event).await?;
        let facts = CoverFacts {
            request_number: "preview".into(),
            patient_name: super::super::patients::full_name(&patient),
            birth_date: patient.birth_date,
            record_number: patient.mrn,
            requester: self.display_name(&self.principal.user_id).await?,
            recipient: "HIM staff (preview)".into(),
            scope: scope.describe(),
            excluded: Vec::new(),
            released_by: "Not released".into(),
            released_on: self.clock.today().to_string(),
            site: site.to_string(),
            created_unix: now_ms() / 1000,
            ..Default::default()
        };
        Ok(copies::record_copy(&facts, &content.sections, content.documents.as_deref(), content.part2))
    }

    pub(in crate::backend::access) async fn display_name(&self, user_id: &str) -> Result<String, AppError> {
        Ok(app_user::Entity::find_by_id(user_id.to_string())
            .one(&self.db)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_else(|| "Unknown user".into()))
    }

    /// Produces and stores the copy of an approved request (HIM staff), then marks it released.
    /// For a copy sent to someone else, the notice to mail the recipient (their email and the
    /// link's path; no health information) comes back too.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn release_copy(&self, id: &str, settings: ReleaseSettings<'_>) -> Result<(RequestView, Option<LinkNotice>), AppError> {
        let (keys, download_days, site_name) = (settings.keys, settings.download_days, settings.site);
        let row = self.staff_request(id).await?;
        let (from, to) = self.check_transition(&row, Event::Release, Actor::HimStaff).await?;
        self.require_checklist(&row).await?;
        // An authorization revoked or expired since the decision stops the release.
        self.authorization_block(&row).await?;
        let patient = self.patient_row_of(&row).await?;
        let scope: Scope = row.scope.0.clone();
        let (mut withheld, named, consent): (Vec<Withheld>, Vec<Category>, Vec<Part2Element>) = match self.latest_decision(&row.id).await? {
            Some(d) => (d.exclusions.0, super::segment::stored_named(&d.named.0), super::segment::stored_consent(&d.consent.0)),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        // Checked again on what the record holds now (an import since the decision may have
        // brought a category the decision did not see).
        let present: Vec<Category> = self.present_categories(&row).await?.into_iter().map(|(c, _)| c).collect();
        self.check_segments(&row, &present, &withheld, &named, &consent).await?;
        let psychotherapy_allowed = super::segment::receiver_of(&row) != Receiver::Access && !withheld.iter().any(|w| w.category == Category::PsychotherapyNotes.as_str());
        // A copy asked for by a representative: their capacity goes on the cover, and a limited
        // representative's copy leaves out every sensitive category (45 CFR 164.502(g)(3)).
        let representative = match &row.on_behalf_of {
            Some(_) => self.representative_of(&row.requester_user_id, &row.patient_id).await?,
            None => None,
        };
        // A caregiver whose access has ended gets no copy of the patient's record, even one
        // they asked for while it lasted.
        if row.on_behalf_of.is_some() && !still_entitled(&self.db, &row).await? {
            let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail("refused: the requester's access to the patient has ended");
            self.audit_alone(refused).await?;
            return Err(AppError::Conflict { message: "The person who asked no longer acts for the patient (their access ended): cancel this request.".into() });
        }
        let mut scope = scope;
        if let Some((_, true)) = representative {
            // No notes for a limited representative either (DOMAIN.md, personal representatives).
            if scope.sections.is_empty() {
                scope.sections = Section::ALL.iter().copied().filter(|s| *s != Section::Documents).collect();
            } else {
                scope.sections.retain(|s| *s != Section::Documents);
            }
            for category in Category::ALL {
                if !withheld.iter().any(|w| w.category == category.as_str()) {
                    withheld.push(Withheld { category: category.as_str().into(), basis: "limited_representative".into() });
                }
            }
        }
        let formats = crate::domain::release::InstantFormats {
            pdf: row.formats.split(',').any(|f| f == "pdf"),
            fhir: row.formats.split(',').any(|f| f == "fhir"),
            ccda: row.formats.split(',').any(|f| f == "ccda"),
        };
        let number = format!("R-{}", row.number);
        // A logged request names its requester on the paper; a portal one, by the account.
        let requester_name = match &row.requester_name {
            Some(name) => name.clone(),
            None => self.display_name(&row.requester_user_id).await?,
        };
        let (requester, own_copy) = match representative {
            Some((kind, _)) => {
                let line = crate::domain::caregiver::representative_line(&requester_name, kind);
                (line.clone(), line)
            }
            None => (requester_name.clone(), format!("{requester_name} (the patient)")),
        };
        let no_notes = matches!(representative, Some((_, true)));
        let made = self
            .make_copy(super::copy::CopyJob {
                patient: &patient,
                scope: scope.clone(),
                withheld: withheld.clone(),
                no_notes,
                formats,
                recipient: match row.recipient_kind.as_str() {
                    "myself" => own_copy,
                    _ => [row.recipient_name.clone(), row.recipient_address.clone()].into_iter().flatten().collect::<Vec<_>>().join(", "),
                },
                requester,
                released_by: self.display_name(&self.principal.user_id).await?,
                request_number: Some(number.clone()),
                psychotherapy_allowed,
                released_under: match super::segment::receiver_of(&row) {
                    Receiver::Access => None,
                    _ if row.requester_type.is_access() => Some("45 CFR 164.508 (the patient's signed authorization)".into()),
                    _ => Some(row.requester_type.citation().into()),
                },
                download: false,
                file_prefix: format!("record-{number}"),
                settings: super::copy::InstantSettings { site: site_name, site_code: settings.site_code, base_url: settings.base_url },
            })
            .await?;
        let now = now_ms();
        let manifest_json = made.manifest.to_json();
        let hashes: Vec<(String, String, usize)> = made.files.iter().map(|f| (f.name.clone(), f.body.sha256(), f.body.len())).collect();
        let produced = made.files.into_iter().map(Produced::of).collect::<Result<Vec<Produced>, AppError>>()?;
        let expires = now + i64::from(download_days) * DAY_MS;
        let txn = write_transaction(&self.db).await?;
        let hashes_text = self.store_files(&txn, &row.id, produced, expires, keys).await?;
        // The manifest and the files' hashes, kept for /verify (the same record as a download's).
        self.store_copy_record(
            &txn,
            super::copy::CopyRecordRow {
                code: &made.code,
                patient_id: &row.patient_id,
                request_id: Some(&row.id),
                kind: "release",
                scope: &scope.describe(),
                formats: &formats.codes(),
                addressee: row.recipient_address.as_deref(),
                manifest: &manifest_json,
                hashes: &hashes,
            },
        )
        .await?;
        // To someone else: a passcode link for the recipient, and the accounting entry.
        let notice = if row.recipient_kind == RecipientKind::ThirdParty {
            let link = self.create_link(&txn, &row, expires, keys).await?;
            self.record_disclosure(&txn, &row, &scope.describe(), "automatic", row.requester_type.accountable()).await?;
            row.recipient_address.as_deref().filter(|a| a.contains('@')).map(|email| LinkNotice { email: email.to_string(), path: link })
        } else {
            None
        };
        self.move_in(&txn, &row, from, to, Actor::HimStaff, None).await?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_request", &row.id).detail(format!("files {}", hashes_text.join(" "))))
            .await?;
        txn.commit().await?;
        Ok((self.copy_request(id).await?, notice))
    }

    /// A released file for download: the requester's own, or any for HIM staff; another
    /// patient's answers 404 and an expired one 410. Audited. With `deliver` (the requester's
    /// download button, a POST) the request moves to delivered; a plain GET (a re-download, a
    /// link a browser or a mail scanner fetches on its own) never changes the request's state.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn download_copy(&self, id: &str, kind: &str, keys: &FileKeys, deliver: bool) -> Result<(String, String, Vec<u8>), AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        let own = self.subject().as_deref() == Some(row.patient_id.as_str()) && row.requester_user_id == self.principal.user_id;
        if !own && !self.principal.roles.contains(&Role::HimStaff) {
            self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
            return Err(AppError::NotFound);
        }
        self.authorize(Action::ReadPatientRecord, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
        let file = release_file::Entity::find()
            .filter(release_file::Column::RequestId.eq(row.id.as_str()))
            .filter(release_file::Column::Kind.eq(kind))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        if file.expires_at_ms <= now_ms() {
            let event = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_file", &file.id).detail("download refused: expired");
            self.audit_alone(event).await?;
            return Err(AppError::Gone { message: format!("{} expired on {}. Ask for a new copy.", file.file_name, self.clock.minutes(file.expires_at_ms)) });
        }
        let sealed = Sealed { key_id: file.key_id.clone(), nonce: file.nonce.clone(), ciphertext: file.ciphertext.clone() };
        let bytes = keys.open(&sealed, &format!("{}/{}", file.id, row.id))?;
        let txn = write_transaction(&self.db).await?;
        release_file::Entity::update_many()
            .col_expr(release_file::Column::Downloads, { use sea_orm::sea_query::ExprTrait; sea_orm::sea_query::Expr::col(release_file::Column::Downloads).add(1) })
            .filter(release_file::Column::Id.eq(file.id.as_str()))
            .exec(&txn)
            .await?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_file", &file.id).detail(format!("downloaded {kind} sha256={}", file.sha256)))
            .await?;
        // The requester's own copy is delivered when they download it; a copy for someone else
        // is delivered when the recipient opens the link.
        if deliver && own && row.status == Status::Released && row.recipient_kind == RecipientKind::Myself && matches!(kind, "pdf" | "fhir") {
            self.move_in(&txn, &row, Status::Released, Status::Delivered, Actor::Requester, Some(format!("{} downloaded", file_label(kind, true)))).await?;
        }
        txn.commit().await?;
        Ok((file.file_name, file.content_type, bytes))
    }
}

/// The requester still acts for the request's patient: their own account, or a caregiver with
/// a grant in force now (not ended, started, not expired).
pub(super) async fn still_entitled(txn: &impl sea_orm::ConnectionTrait, row: &release_request::Model) -> Result<bool, sea_orm::DbErr> {
    use super::super::rows::caregiver_grant;
    use sea_orm::PaginatorTrait;
    let own = app_user::Entity::find_by_id(row.requester_user_id.clone())
        .one(txn)
        .await?
        .is_some_and(|u| u.patient_id.as_deref() == Some(row.patient_id.as_str()));
    if own {
        return Ok(true);
    }
    let now = now_ms();
    let grants = caregiver_grant::Entity::find()
        .filter(caregiver_grant::Column::UserId.eq(row.requester_user_id.as_str()))
        .filter(caregiver_grant::Column::PatientId.eq(row.patient_id.as_str()))
        .filter(caregiver_grant::Column::EndedAtMs.is_null())
        .filter(caregiver_grant::Column::StartsAtMs.lte(now))
        .filter(sea_orm::Condition::any().add(caregiver_grant::Column::ExpiresAtMs.is_null()).add(caregiver_grant::Column::ExpiresAtMs.gt(now)))
        .count(txn)
        .await?;
    Ok(grants > 0)
}
