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

use super::super::rows::{clinical_document, clinical_item, fhir_resource, sensitive_tag};
use super::super::record::to_row;
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
use crate::domain::release::{Actor, Decision, DecisionKind, DenialGround, Event, FileView, RecipientKind, RequestView, Scope, Status, Withheld, withhold_basis};
use crate::domain::{DocumentRow, ItemRow, Role, Section};
use crate::error::AppError;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashSet;

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
    pub keys: &'a FileKeys,
    pub download_days: u32,
    /// The organization as letters and covers name it.
    pub site: &'a str,
    pub site_code: &'a str,
    /// The portal's public address, for the verification page of each copy.
    pub base_url: &'a str,
    pub privacy_contact: &'a str,
}

/// What the access context read for a copy, before rendering.
pub(super) struct Content {
    pub(super) sections: Vec<(Section, Vec<ItemRow>)>,
    /// The same items as stored (raw dates, numbers and codes), for the C-CDA.
    pub(super) items: Vec<(Section, Vec<clinical_item::Model>)>,
    pub(super) documents: Option<Vec<(DocumentRow, Option<String>)>>,
    /// With FHIR: every resource of the patient not withheld (what references may pull in), as
    /// (stored id, type, FHIR id, JSON), and the stored ids of those released.
    pub(super) pool: Vec<(String, String, String, String)>,
    pub(super) released: HashSet<String>,
    pub(super) part2: bool,
}

/// A released file being stored.
pub(in crate::backend::access) struct Produced {
    pub(in crate::backend::access) kind: &'static str,
    pub(in crate::backend::access) file_name: String,
    pub(in crate::backend::access) content_type: &'static str,
    pub(in crate::backend::access) bytes: Vec<u8>,
    pub(in crate::backend::access) pages: Option<i32>,
}

/// A patient's documents with their text but without attachment bytes (read one at a time).
fn documents_without_data() -> sea_orm::Select<clinical_document::Entity> {
    use clinical_document::Column as C;
    clinical_document::Entity::find()
        .select_only()
        .columns([C::Id, C::ResourceId, C::PatientId, C::Position, C::Title, C::ContentType, C::DateText, C::DateMs, C::EncounterId, C::TextBody, C::Size])
        .expr_as(sea_orm::sea_query::Expr::cust("NULL"), "data")
}

impl From<crate::backend::copies::package::CopyFile> for Produced {
    /// A file of a copy, stored as a release file of its kind.
    fn from(f: crate::backend::copies::package::CopyFile) -> Self {
        Produced {
            kind: match f.content_type {
                "application/pdf" => "pdf",
                "application/fhir+json" => "fhir",
                _ => "ccda",
            },
            file_name: f.name,
            content_type: f.content_type,
            pages: f.pages.and_then(|p| i32::try_from(p).ok()),
            bytes: f.bytes,
        }
    }
}

fn file_label(kind: &str) -> &'static str {
    match kind {
        "pdf" => "Your record (PDF)",
        "fhir" => "Your record as FHIR data (JSON)",
        "ccda" => "Your record as a C-CDA summary (XML)",
        "denial_letter" => "Denial letter (PDF)",
        "authorization" => "Signed authorization (PDF)",
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
        if let Some(row) = release_request::Entity::find_by_id(view.id.clone()).one(&self.db).await?
            && row.on_behalf_of.is_some()
        {
            let name = self.display_name(&row.requester_user_id).await?;
            view.representative = Some(match self.representative_of(&row.requester_user_id, &row.patient_id).await? {
                Some((kind, _)) => crate::domain::caregiver::representative_line(&name, kind),
                None => format!("{name}, on the patient's behalf"),
            });
        }
        let now = now_ms();
        view.files = files
            .into_iter()
            .map(|(kind, file_name, size, sha256, pages, expires)| FileView {
                label: file_label(&kind).into(),
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
    pub async fn decide_request(&self, id: &str, decision: Decision, settings: ReleaseSettings<'_>) -> Result<RequestView, AppError> {
        let row = self.staff_request(id).await?;
        let event = match decision.kind {
            DecisionKind::Approve => Event::Approve,
            DecisionKind::ApprovePartially => Event::ApprovePartially,
            DecisionKind::Deny => Event::Deny,
        };
        let (from, to) = self.check_transition(&row, event, Actor::HimStaff).await?;
        let mut withheld = decision.withheld.clone();
        if decision.kind != DecisionKind::Deny && !withheld.iter().any(|w| w.category == Category::PsychotherapyNotes.as_str()) {
            withheld.push(Withheld { category: Category::PsychotherapyNotes.as_str().into(), basis: "psychotherapy_notes".into() });
        }
        // A denial comes with its letter, rendered before anything is stored.
        let letter = if decision.kind == DecisionKind::Deny {
            let patient = self.patient_row_of(&row).await?;
            let scope: Scope = row.scope.0.clone();
            let facts = copies::LetterFacts {
                site: settings.site.to_string(),
                date: self.clock.today().to_string(),
                patient_name: super::super::patients::full_name(&patient),
                birth_date: patient.birth_date.clone(),
                record_number: patient.mrn.clone(),
                request_number: format!("R-{}", row.number),
                received: row.received_on.clone(),
                scope: scope.describe(),
                grounds: decision.grounds.clone(),
                privacy_contact: settings.privacy_contact.to_string(),
                created_unix: now_ms() / 1000,
            };
            let rendered = tokio::task::spawn_blocking(move || copies::pdf::render(&copies::denial_letter(&facts), &|_, _| {}))
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
        })
        .exec_without_returning(&txn)
        .await?;
        self.move_in(&txn, &row, from, to, Actor::HimStaff, decision.note).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// Reads what a copy contains: the scope's sections and date range, without the resources
    /// tagged with a withheld category.
    pub(super) async fn copy_content(&self, patient_id: &str, scope: &Scope, withheld: &[Withheld], fhir: bool) -> Result<Content, AppError> {
        let withheld_categories: HashSet<&str> = withheld.iter().map(|w| w.category.as_str()).chain([Category::PsychotherapyNotes.as_str()]).collect();
        let tags = sensitive_tag::Entity::find().filter(sensitive_tag::Column::PatientId.eq(patient_id)).all(&self.db).await?;
        let mut skip: HashSet<String> = HashSet::new();
        let mut substance: HashSet<String> = HashSet::new();
        for tag in tags {
            if withheld_categories.contains(tag.category.as_str()) {
                skip.insert(tag.resource_id.clone());
            }
            if tag.category == Category::SubstanceUse.as_str() {
                substance.insert(tag.resource_id);
            }
        }
        let from_ms = scope.from.map(|d| d.start_ms());
        let until_ms = scope.to.map(|d| d.start_ms() + DAY_MS);
        let whole = scope.sections.is_empty();
        let wanted: Vec<Section> = if whole { Section::ALL.to_vec() } else { scope.sections.clone() };
        let mut included: HashSet<String> = HashSet::new();
        let mut sections = Vec::new();
        let mut items = Vec::new();
        for section in wanted.iter().copied().filter(|s| *s != Section::Documents) {
            let mut select = clinical_item::Entity::find()
                .filter(clinical_item::Column::PatientId.eq(patient_id))
                .filter(clinical_item::Column::Kind.is_in(section.kinds().iter().copied()));
            if let Some(category) = section.observation_category() {
                select = select.filter(clinical_item::Column::Category.eq(category));
            }
            if let Some(f) = from_ms {
                select = select.filter(clinical_item::Column::StartMs.gte(f));
            }
            if let Some(u) = until_ms {
                select = select.filter(clinical_item::Column::StartMs.lt(u));
            }
            let rows = select
                .order_by_desc(clinical_item::Column::StartMs)
                .order_by_asc(clinical_item::Column::Display)
                .all(&self.db)
                .await
                ?;
            let kept: Vec<clinical_item::Model> = rows.into_iter().filter(|r| !skip.contains(&r.resource_id)).collect();
            included.extend(kept.iter().map(|r| r.resource_id.clone()));
            let rows: Vec<ItemRow> = kept.iter().cloned().map(|r| to_row(r, &self.clock)).collect::<Result<_, _>>()?;
            sections.push((section, rows));
            items.push((section, kept));
        }
        let documents = if wanted.contains(&Section::Documents) {
            // Without the attachments' bytes: they are read one at a time when placed.
            let mut select = documents_without_data().filter(clinical_document::Column::PatientId.eq(patient_id));
            if let Some(f) = from_ms {
                select = select.filter(clinical_document::Column::DateMs.gte(f));
            }
            if let Some(u) = until_ms {
                select = select.filter(clinical_document::Column::DateMs.lt(u));
            }
            let docs = select
                .order_by_desc(clinical_document::Column::DateMs)
                .order_by_asc(clinical_document::Column::Position)
                .all(&self.db)
                .await
                ?;
            let mut out = Vec::with_capacity(docs.len());
            for d in docs.into_iter().filter(|d| !skip.contains(&d.resource_id)) {
                included.insert(d.resource_id.clone());
                let html = d.content_type.to_ascii_lowercase().starts_with("text/html");
                let text = d.text_body.clone().map(|t| if html { crate::domain::html_to_text(&t) } else { t });
                out.push((
                    DocumentRow {
                        id: d.id.clone(),
                        title: if d.title.is_empty() { "Document".into() } else { d.title.clone() },
                        date: d.date_text.clone().map(|t| t.chars().take(10).collect()),
                        content_type: d.content_type.clone(),
                        size: d.size,
                        is_text: text.is_some(),
                    },
                    text,
                ));
            }
            Some(out)
        } else {
            None
        };
        let part2 = included.iter().any(|id| substance.contains(id));
        let mut pool = Vec::new();
        let mut released = HashSet::new();
        if fhir {
            // The whole record without dates: every stored resource of the patient but the
            // withheld ones. Otherwise the Patient and the resources the PDF shows.
            let rows: Vec<(String, String, String, String)> = fhir_resource::Entity::find()
                .select_only()
                .columns([fhir_resource::Column::Id, fhir_resource::Column::ResourceType, fhir_resource::Column::FhirId, fhir_resource::Column::Json])
                .filter(fhir_resource::Column::PatientId.eq(patient_id))
                .order_by_asc(fhir_resource::Column::ImportedAtMs)
                .order_by_asc(fhir_resource::Column::Id)
                .into_tuple()
                .all(&self.db)
                .await
                ?;
            let everything = whole && from_ms.is_none() && until_ms.is_none();
            pool = rows.into_iter().filter(|(id, _, _, _)| !skip.contains(id)).collect();
            released = pool.iter().filter(|(id, kind, _, _)| kind == "Patient" || everything || included.contains(id)).map(|(id, _, _, _)| id.clone()).collect();
        }
        Ok(Content { sections, items, documents, pool, released, part2 })
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
        if !own {
            self.authorize(Action::RequestCopy, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
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
            audit::record_alone(&self.db, refused).await?;
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
            })
            .exec_without_returning(&txn)
            .await?;
        }
        let outcome = if uphold { "Denial upheld on review" } else { "Denial overturned on review" };
        self.move_in(&txn, &row, from, to, Actor::Reviewer, Some(note.map(|n| format!("{outcome}: {n}")).unwrap_or_else(|| outcome.into()))).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// The whole record of a patient laid out as the PDF copy shows it, nothing withheld but
    /// psychotherapy notes (HIM staff; audited as a read). The benchmark renders it.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn full_record_copy(&self, patient_id: &str, site: &str) -> Result<copies::pdf::PdfCopy, AppError> {
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::PatientRead).await?;
        let patient = patient_row::Entity::find_by_id(patient_id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let scope = Scope { sections: Vec::new(), from: None, to: None };
        let content = self.copy_content(patient_id, &scope, &[], false).await?;
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(patient_id).entity("record_copy", patient_id).detail("full record laid out as a copy");
        audit::record_alone(&self.db, event).await?;
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
        let patient = self.patient_row_of(&row).await?;
        let scope: Scope = row.scope.0.clone();
        let mut withheld: Vec<Withheld> = match self.latest_decision(&row.id).await? {
            Some(d) => d.exclusions.0,
            None => Vec::new(),
        };
        // A copy asked for by a representative: their capacity goes on the cover, and a limited
        // representative's copy leaves out every sensitive category (45 CFR 164.502(g)(3)).
        let representative = match &row.on_behalf_of {
            Some(_) => self.representative_of(&row.requester_user_id, &row.patient_id).await?,
            None => None,
        };
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
        let requester_name = self.display_name(&row.requester_user_id).await?;
        let (requester, own_copy) = match representative {
            Some((kind, _)) => {
                let line = crate::domain::caregiver::representative_line(&requester_name, kind);
                (line.clone(), line)
            }
            None => (requester_name.clone(), format!("{requester_name} (the patient)")),
        };
        let no_notes = matches!(representative, Some((_, true)));
        let made = self
            .make_copy(super::instant::CopyJob {
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
                file_prefix: format!("record-{number}"),
                settings: super::instant::InstantSettings { site: site_name, site_code: settings.site_code, base_url: settings.base_url },
            })
            .await?;
        let now = now_ms();
        let manifest_json = made.manifest.to_json();
        let hashes: Vec<(String, String, usize)> = made.files.iter().map(|f| (f.name.clone(), sha256_hex(&f.bytes), f.bytes.len())).collect();
        let produced: Vec<Produced> = made.files.into_iter().map(Produced::from).collect();
        let expires = now + i64::from(download_days) * DAY_MS;
        let txn = write_transaction(&self.db).await?;
        let hashes_text = self.store_files(&txn, &row.id, produced, expires, keys).await?;
        // The manifest and the files' hashes, kept for /verify (the same record as a download's).
        self.store_copy_record(
            &txn,
            super::instant::CopyRecordRow {
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
            self.record_disclosure(&txn, &row, &scope.describe(), "automatic").await?;
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
    /// patient's answers 404 and an expired one 410. Audited; the requester's first download
    /// marks the request delivered.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn download_copy(&self, id: &str, kind: &str, keys: &FileKeys) -> Result<(String, String, Vec<u8>), AppError> {
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
            audit::record_alone(&self.db, event).await?;
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
        if own && row.status == Status::Released && row.recipient_kind == RecipientKind::Myself && matches!(kind, "pdf" | "fhir") {
            self.move_in(&txn, &row, Status::Released, Status::Delivered, Actor::Requester, Some(format!("{} downloaded", file_label(kind)))).await?;
        }
        txn.commit().await?;
        Ok((file.file_name, file.content_type, bytes))
    }
}
