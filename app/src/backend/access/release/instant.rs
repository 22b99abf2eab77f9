//! Download now and send now (ONC 45 CFR 170.315(e)(1)(i)(B), (C); 45 CFR 171): the patient, or a caregiver within
//! their grant, takes a copy of what they can see in the portal at once, with no staff review.
//!
//! - What is in it: the scope chosen (whole record or a date range; all or some sections), read
//!   through `copy_content` like an HIM release. Psychotherapy notes never (45 CFR
//!   164.524(a)(1)(i)); for a limited proxy, nothing a limited view hides (the sensitive
//!   categories and the notes, 45 CFR 164.502(g)(3)). The cover lists what was left out and why.
//! - The files: the PDF (the release renderer, with the cover, the manifest's summary and a last
//!   page with the verification code and its QR code), the self-contained FHIR Bundle
//!   (`copies::fhir`) and the C-CDA CCD (`copies::ccda`), rendered on a blocking thread. More
//!   than one file ships as a `.zip` with `manifest.json`.
//! - Nothing of the copy is stored: only the record `/verify` needs (code, who, when, the
//!   manifest, the SHA-256 of each file), in the same transaction as the audit event that puts
//!   the download in the patient's activity history.

use super::super::AccessContext;
use super::super::rows::patient_row;
use super::copy::{CopyJob, CopyRecordRow, InstantSettings, MadeCopy};
use super::files::{LinkNotice, ReleaseSettings};
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::copies::package::CopyFile;
use crate::backend::copies;
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::fhir::sensitive::Category;
use crate::backend::policy::{Action, Target};
use crate::domain::release::{InstantCopy, Scope, Withheld};
use crate::domain::Section;
use crate::error::AppError;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};


/// The download: one file, or a `.zip` of several with the manifest.
#[derive(Debug)]
pub struct InstantFile {
    pub file_name: String,
    pub content_type: &'static str,
    /// In memory, or spooled on disk and streamed (a copy with scanned pages).
    pub body: copies::package::Body,
}


/// The patient and what an instant copy may hold.
struct InstantScope {
    patient: patient_row::Model,
    scope: Scope,
    withheld: Vec<Withheld>,
    no_notes: bool,
}

impl AccessContext {
    /// Send now (ONC 45 CFR 170.315(e)(1)(i)(C)): the copy made at once and sent to the address
    /// the patient typed. At the patient's direction no HIPAA authorization is needed (45 CFR
    /// 164.524(c)(3)); the form says the recipient may not be bound by HIPAA. It goes as the
    /// third-party copies do: sealed files behind an expiring link for the recipient, the
    /// passcode shown to the patient to pass on. It is tracked as a request released at once
    /// (never in HIM's work), listed (not accountable) among the disclosures, recorded for
    /// `/verify`, and audited. Returns the request's id and what to mail the recipient.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    ///
    /// To a Direct address (`copy.direct`), the files themselves go through the site's Direct
    /// relay (`relay`, which signs and encrypts for Direct) before anything is recorded; a relay
    /// that refuses means nothing was sent. No link then: the request is delivered at once.
    pub async fn send_now(&self, copy: &InstantCopy, settings: ReleaseSettings<'_>, relay: Option<&crate::backend::mail::Mailer>) -> Result<(String, Option<LinkNotice>), AppError> {
        let email = copy.email.clone().ok_or_else(|| AppError::Validation { fields: vec![crate::error::FieldError::new("email", "Enter the email address to send the copy to.")] })?;
        let (patient, scope, made) = self.make_instant(copy, Action::RequestCopy, Some(format!("{} (sent at the patient's direction)", email.as_str())), InstantSettings { site: settings.site, site_code: settings.site_code, base_url: settings.base_url }).await?;
        let manifest_json = made.manifest.to_json();
        let hashes: Vec<(String, String, usize)> = made.files.iter().map(|f| (f.name.clone(), f.body.sha256(), f.body.len())).collect();
        let direct = match (copy.direct, relay) {
            (false, _) => false,
            (true, None) => return Err(AppError::Validation { fields: vec![crate::error::FieldError::new("via", "This hospital has no Direct relay: send it by email instead.")] }),
            (true, Some(relay)) => {
                let mut files = Vec::with_capacity(made.files.len() + 1);
                for f in &made.files {
                    let bytes = f.body.to_vec().map_err(|e| {
                        tracing::error!(error = %e, "reading a copy to send failed");
                        AppError::Unavailable { message: "Making the copy failed. Nothing was sent; try again.".into() }
                    })?;
                    files.push((f.name.clone(), f.content_type, bytes));
                }
                files.push(("manifest.json".into(), "application/json", manifest_json.clone()));
                let body = format!(
                    "Health records sent through the {} patient portal at the patient's direction (45 CFR 164.524(c)(3)). \
                     The copy is attached, with manifest.json listing every item and file with its SHA-256. Verification code: {}.\n",
                    settings.site, made.code
                );
                relay.send_files(email.as_str(), "Health records sent at the patient's direction", body, &files).await.map_err(|e| {
                    tracing::warn!(error = %e, "the Direct relay did not take a copy");
                    AppError::Unavailable { message: "The hospital's Direct relay did not accept the copy, so nothing was sent. Try again later, or send it by email.".into() }
                })?;
                true
            }
        };
        let produced: Vec<super::copy::Produced> = if direct { Vec::new() } else { made.files.into_iter().map(super::copy::Produced::of).collect::<Result<_, AppError>>()? };
        let status = if direct { crate::domain::release::Status::Delivered } else { crate::domain::release::Status::Released };
        let now = now_ms();
        let today = self.clock.today();
        let id = uuid::Uuid::new_v4().to_string();
        let described = scope.describe();
        let txn = write_transaction(&self.db).await?;
        let number = super::copy::next_request_number(&txn).await?;
        let row = super::super::rows::release_request::Model {
            id: id.clone(),
            number,
            patient_id: patient.id.clone(),
            requester_user_id: self.principal.user_id.clone(),
            on_behalf_of: self.acting_for.clone(),
            status,
            scope: super::super::rows::JsonText(scope.clone()),
            formats: copy.formats.codes(),
            recipient_kind: crate::domain::release::RecipientKind::ThirdParty,
            recipient_name: Some(email.as_str().to_string()),
            recipient_address: Some(email.as_str().to_string()),
            purpose: Some("Sent at the patient's direction (45 CFR 164.524(c)(3))".into()),
            fee_cents: 0,
            received_on: today.to_string(),
            due_on: today.to_string(),
            extended: false,
            extension_reason: None,
            assigned_to: None,
            created_at_ms: now,
            updated_at_ms: now,
            channel: crate::domain::release::Channel::SelfService,
            requester_type: if self.acting_for.is_some() { crate::domain::release::RequesterType::Representative } else { crate::domain::release::RequesterType::Patient },
            requester_name: None,
            requester_address: None,
            checklist: super::super::rows::JsonText(Vec::new()),
            logged_by: None,
            // Sent at once: provided the day it was asked.
            provided_on: Some(today.to_string()),
            // Not desk work: no turnaround on the dashboard.
            turnaround_days: None,
            pages: 0,
            paid_at_ms: None,
            idempotency_key: None,
        };
        super::super::rows::release_request::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row.clone())).exec_without_returning(&txn).await?;
        super::super::rows::release_event::Entity::insert(super::super::rows::release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(crate::domain::release::Actor::Requester),
            from_status: Set(None),
            to_status: Set(status),
            note: Set(Some(format!(
                "Sent at once to {}{} (no staff review needed: 45 CFR 164.524(c)(3)).",
                email.as_str(),
                if direct { " through the Direct relay" } else { "" }
            ))),
        })
        .exec_without_returning(&txn)
        .await?;
        let notice = if direct {
            None
        } else {
            let expires = now + i64::from(settings.download_days) * 24 * 60 * 60 * 1000;
            self.store_files(&txn, &id, produced, expires, settings.keys).await?;
            let path = self.create_link(&txn, &row, expires, settings.keys).await?;
            Some(LinkNotice { email: email.as_str().to_string(), path })
        };
        self.record_disclosure(&txn, &row, &described, "automatic", false).await?;
        let formats = copy.formats.codes();
        let record_id = self
            .store_copy_record(&txn, CopyRecordRow { code: &made.code, patient_id: &patient.id, request_id: Some(&id), kind: "transmit", scope: &described, formats: &formats, addressee: Some(email.as_str()), manifest: &manifest_json, hashes: &hashes })
            .await?;
        let event = self
            .event(AuditAction::ReleaseRequest, Outcome::Success)
            .patient(&patient.id)
            .entity("copy_record", &record_id)
            .detail(format!("send now{}: formats={formats}; scope={described}; request R-{number}", if direct { " by Direct" } else { "" }));
        audit::record(&txn, event).await?;
        txn.commit().await?;
        Ok((id, notice))
    }

    /// A copy made at once for the patient or the caregiver acting (`action`: reading, or
    /// sending, which a caregiver's grant must allow), to them or to `recipient`.
    async fn make_instant(&self, copy: &InstantCopy, action: Action, recipient: Option<String>, settings: InstantSettings<'_>) -> Result<(patient_row::Model, Scope, MadeCopy), AppError> {
        let InstantScope { patient, scope, withheld, no_notes } = self.instant_scope(copy, action).await?;
        // Only a download can carry files the PDF cannot show beside it.
        let downloading = recipient.is_none();
        let name = self.display_name(&self.principal.user_id).await?;
        let asked_by = if self.acting_for.is_some() { format!("{name} (caregiver)") } else { format!("{name} (the patient)") };
        let made = self
            .make_copy(CopyJob {
                patient: &patient,
                scope: scope.clone(),
                withheld,
                no_notes,
                formats: copy.formats,
                recipient: recipient.unwrap_or_else(|| asked_by.clone()),
                requester: asked_by,
                released_by: "The patient portal, at once (no staff review)".into(),
                request_number: None,
                psychotherapy_allowed: false,
                released_under: None,
                download: downloading,
                file_prefix: format!("health-record-{}", self.clock.today()),
                settings,
            })
            .await?;
        Ok((patient, scope, made))
    }

    /// Whose copy, and what it may hold: the signed-in patient's record or the person a
    /// caregiver acts for (404 for anyone else, or a caregiver whose grant does not allow
    /// `action`). Never psychotherapy notes (45 CFR 164.524(a)(1)(i)); for a limited view (45 CFR
    /// 164.502(g)(3)) no sensitive category and no notes either, said on the cover.
    async fn instant_scope(&self, copy: &InstantCopy, action: Action) -> Result<InstantScope, AppError> {
        let patient_id = self.subject().ok_or(AppError::NotFound)?;
        let grants = self.grants_for(&patient_id).await?;
        self.authorize_with(Action::ReadPatientRecord, Target::Patient(&patient_id), AuditAction::PatientRead, &grants).await?;
        if action != Action::ReadPatientRecord {
            self.authorize_with(action, Target::Patient(&patient_id), AuditAction::ReleaseRequest, &grants).await?;
        }
        let limited = !self.allows_with(Action::ReadSensitive, &patient_id, &grants);
        let patient = patient_row::Entity::find_by_id(patient_id.clone())
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut scope = copy.scope.clone();
        let mut withheld = vec![Withheld { category: Category::PsychotherapyNotes.as_str().into(), basis: "psychotherapy_notes".into() }];
        let no_notes = limited && (scope.sections.is_empty() || scope.sections.contains(&Section::Documents));
        if limited {
            if scope.sections.is_empty() {
                scope.sections = Section::ALL.iter().copied().filter(|s| *s != Section::Documents).collect();
            } else {
                scope.sections.retain(|s| *s != Section::Documents);
            }
            withheld.extend(Category::ALL.iter().filter(|c| **c != Category::PsychotherapyNotes).map(|c| Withheld { category: c.as_str().into(), basis: "limited_representative".into() }));
            if !copy.scope.sections.is_empty() && scope.sections.is_empty() {
                return Err(AppError::Validation {
                    fields: vec![crate::error::FieldError::new("section", "Documents and notes are outside what you can see for this person. Choose other parts of the record.")],
                });
            }
        }
        Ok(InstantScope { patient, scope, withheld, no_notes })
    }

    /// Whose download page this is: a limited proxy's view, a caregiver's, whether they may send
    /// copies. Anyone who may not read the record gets 404 (audited).
    pub async fn download_context(&self) -> Result<(bool, bool, bool), AppError> {
        let patient_id = self.subject().ok_or(AppError::NotFound)?;
        let grants = self.grants_for(&patient_id).await?;
        self.authorize_with(Action::ReadPatientRecord, Target::Patient(&patient_id), AuditAction::PatientRead, &grants).await?;
        Ok((!self.allows_with(Action::ReadSensitive, &patient_id, &grants), self.acting_for.is_some(), self.allows_with(Action::RequestCopy, &patient_id, &grants)))
    }

    /// Download now: the copy made on the spot, for the signed-in patient or the person a
    /// caregiver acts for (404 for anyone else). Audited, recorded for `/verify`.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn download_now(&self, copy: &InstantCopy, settings: InstantSettings<'_>) -> Result<InstantFile, AppError> {
        let (patient, scope, made) = self.make_instant(copy, Action::ReadPatientRecord, None, settings).await?;
        let patient_id = patient.id.clone();
        let stamp = self.clock.today().to_string();
        let formats = copy.formats;
        let code = made.code.clone();
        let manifest_json = made.manifest.to_json();
        let (download, mut hashes) = if made.files.len() == 1 && made.beside.is_empty() {
            let file = made.files.into_iter().next().ok_or_else(AppError::bad_request)?;
            let hashes = vec![(file.name.clone(), file.body.sha256(), file.body.len())];
            (InstantFile { file_name: file.name, content_type: file.content_type, body: file.body }, hashes)
        } else {
            let mut all = made.files;
            all.extend(made.beside);
            all.push(CopyFile { name: "manifest.json".into(), content_type: "application/json", body: copies::package::Body::Memory(manifest_json.clone()), pages: None });
            let hashes: Vec<(String, String, usize)> = all.iter().map(|f| (f.name.clone(), f.body.sha256(), f.body.len())).collect();
            // Zipping reads spooled files from disk: blocking work.
            let zipped = tokio::task::spawn_blocking(move || copies::package::zip(&mut all))
                .await
                .map_err(|e| e.to_string())
                .and_then(|z| z.map_err(|e| e.to_string()))
                .map_err(|e| {
                    tracing::error!(error = %e, "zipping an instant copy failed");
                    AppError::Unavailable { message: "Making the copy failed. Nothing was downloaded; try again.".into() }
                })?;
            (InstantFile { file_name: format!("health-record-{stamp}.zip"), content_type: "application/zip", body: zipped }, hashes)
        };
        if download.content_type == "application/zip" {
            hashes.push((download.file_name.clone(), download.body.sha256(), download.body.len()));
        }
        let txn = write_transaction(&self.db).await?;
        let record_id = self
            .store_copy_record(&txn, CopyRecordRow { code: &code, patient_id: &patient_id, request_id: None, kind: "download", scope: &scope.describe(), formats: &formats.codes(), addressee: None, manifest: &manifest_json, hashes: &hashes })
            .await?;
        let event = self
            .event(AuditAction::PatientRead, Outcome::Success)
            .patient(&patient_id)
            .entity("copy_record", &record_id)
            .detail(format!("download now: formats={}; scope={}", formats.codes(), scope.describe()));
        audit::record(&txn, event).await?;
        txn.commit().await?;
        Ok(download)
    }
}

