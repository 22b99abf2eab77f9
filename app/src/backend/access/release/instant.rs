//! Download now (ONC 45 CFR 170.315(e)(1)(i)(B); 45 CFR 171): the patient, or a caregiver within
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
use super::super::rows::{copy_record, copy_record_file, fhir_resource, patient_row, resource_identifier};
use super::files::Content;
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::copies::fhir::{self as fhir_copy, PoolResource, ProvenanceFacts};
use crate::backend::copies::package::{CopyFile, Manifest, ManifestExclusion};
use crate::backend::copies::{self, CoverFacts, ccda};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::fhir::sensitive::Category;
use crate::backend::policy::{Action, Target};
use crate::domain::release::{InstantCopy, InstantFormats, Scope, Withheld, withhold_basis};
use crate::domain::Section;
use crate::error::AppError;
use rand::Rng;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashSet;

/// Where the copy comes from and where `/verify` is.
#[derive(Clone, Copy)]
pub struct InstantSettings<'a> {
    /// The organization as the cover names it.
    pub site: &'a str,
    pub site_code: &'a str,
    /// The portal's public address (`https://portal.example.org`), for the verification link.
    pub base_url: &'a str,
}

/// The download: one file, or a `.zip` of several with the manifest.
#[derive(Debug, Clone)]
pub struct InstantFile {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub code: String,
}

/// Letters and digits that cannot be mistaken for one another when typed from paper.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A verification code, `XXXX-XXXX-XXXX` (60 random bits).
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..12).map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())])).collect();
    format!("{}-{}-{}", chars[..4].iter().collect::<String>(), chars[4..8].iter().collect::<String>(), chars[8..].iter().collect::<String>())
}

/// A code as typed ("7kq2 abcd-efgh") in its stored form, or `None` when it cannot be one.
pub fn normalize_code(typed: &str) -> Option<String> {
    let chars: Vec<char> = typed.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    (chars.len() == 12 && chars.iter().all(|c| CODE_ALPHABET.contains(&(*c as u8))))
        .then(|| format!("{}-{}-{}", chars[..4].iter().collect::<String>(), chars[4..8].iter().collect::<String>(), chars[8..].iter().collect::<String>()))
}

/// What was left out of a copy, for the cover and the manifest.
fn exclusions(withheld: &[Withheld], no_notes: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = withheld
        .iter()
        .map(|w| (Category::parse(&w.category).map(Category::label).unwrap_or("Other information").to_string(), withhold_basis(&w.basis).unwrap_or("withheld").to_string()))
        .collect();
    if no_notes {
        out.push((Section::Documents.title().to_string(), withhold_basis("limited_representative").unwrap_or("withheld").to_string()));
    }
    out
}

fn cda_item(m: &super::super::rows::clinical_item::Model) -> ccda::CdaItem {
    ccda::CdaItem {
        id: m.resource_id.clone(),
        display: m.display.clone(),
        codes: m.codes.0.iter().filter_map(|c| Some((c.system.clone()?, c.code.clone()?, c.display.clone()))).collect(),
        status: m.status.clone(),
        start: m.start_text.clone(),
        end: m.end_text.clone(),
        value_num: m.value_num,
        unit: m.unit.clone(),
        value_text: m.value_text.clone(),
        ref_low: m.ref_low,
        ref_high: m.ref_high,
    }
}

/// The patient and what an instant copy may hold.
struct InstantScope {
    patient: patient_row::Model,
    scope: Scope,
    withheld: Vec<Withheld>,
    no_notes: bool,
}

/// What a copy is made of, whoever makes it (the patient at once, or HIM for a request).
pub(super) struct CopyJob<'a> {
    pub(super) patient: &'a patient_row::Model,
    pub(super) scope: Scope,
    pub(super) withheld: Vec<Withheld>,
    /// The notes were left out for a limited view (said on the cover and in the manifest).
    pub(super) no_notes: bool,
    pub(super) formats: InstantFormats,
    pub(super) requester: String,
    pub(super) recipient: String,
    pub(super) released_by: String,
    /// The request an HIM release answers; none for a copy made at once.
    pub(super) request_number: Option<String>,
    pub(super) file_prefix: String,
    pub(super) settings: InstantSettings<'a>,
}

/// A copy made: its files (not yet packaged), its manifest and its verification code.
pub(super) struct MadeCopy {
    pub(super) files: Vec<CopyFile>,
    pub(super) manifest: Manifest,
    pub(super) code: String,
}

/// The record `/verify` keeps of a copy.
pub(super) struct CopyRecordRow<'a> {
    pub(super) code: &'a str,
    pub(super) patient_id: &'a str,
    pub(super) request_id: Option<&'a str>,
    pub(super) kind: &'static str,
    pub(super) scope: &'a str,
    pub(super) formats: &'a str,
    pub(super) addressee: Option<&'a str>,
    pub(super) manifest: &'a [u8],
    /// (file name, SHA-256, size) of each file.
    pub(super) hashes: &'a [(String, String, usize)],
}

/// Everything rendering needs, moved onto the blocking thread.
struct RenderJob {
    pool: Vec<PoolResource>,
    primary: Vec<usize>,
    facts: ProvenanceFacts,
    cover: CoverFacts,
    content: Content,
    cda: Option<ccda::CdaDocument>,
    formats: InstantFormats,
    manifest: Manifest,
    file_prefix: String,
    /// The attachments to place after the sections: (title, pages).
    attachments: Vec<(String, usize)>,
}

/// Renders the files of a copy and completes its manifest (items; the files' hashes are added
/// when the files are final). Also returns where the attachments' pages go in the PDF.
fn render_copy(job: RenderJob) -> Result<(Vec<CopyFile>, Manifest, Vec<copies::pdf::Slot>), String> {
    let RenderJob { pool, primary, facts, mut cover, content, cda, formats, mut manifest, file_prefix, attachments } = job;
    let bundle = fhir_copy::self_contained_bundle(&pool, &primary, &facts);
    manifest.items = bundle.items;
    let mut counts: Vec<(String, usize)> = Vec::new();
    for item in &manifest.items {
        match counts.iter_mut().find(|(t, _)| *t == item.resource_type) {
            Some((_, n)) => *n += 1,
            None => counts.push((item.resource_type.clone(), 1)),
        }
    }
    cover.summary = vec![
        ("Items released".into(), format!("{} ({})", manifest.items.len(), counts.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "))),
        (
            "Checking the copy".into(),
            "The manifest (manifest.json, with a download of several formats) lists each item with the SHA-256 of its canonical JSON and the SHA-256 of every file; the last page says how to verify this copy.".into(),
        ),
    ];
    let mut files = Vec::new();
    let mut slots = Vec::new();
    if formats.pdf {
        let mut pdf = copies::record_copy(&cover, &content.sections, content.documents.as_deref(), content.part2);
        pdf.attachments = attachments;
        let rendered = copies::pdf::render(&pdf, &|_, _| {}).map_err(|e| e.to_string())?;
        slots = rendered.slots;
        files.push(CopyFile { name: format!("{file_prefix}.pdf"), content_type: "application/pdf", bytes: rendered.bytes, pages: Some(rendered.pages) });
    }
    if formats.fhir {
        files.push(CopyFile { name: format!("{file_prefix}.fhir.json"), content_type: "application/fhir+json", bytes: bundle.json.into_bytes(), pages: None });
    }
    if let Some(cda) = cda {
        files.push(CopyFile { name: format!("{file_prefix}.ccda.xml"), content_type: "application/xml", bytes: ccda::document(&cda).into_bytes(), pages: None });
    }
    Ok((files, manifest, slots))
}

impl AccessContext {
    /// The directory resources (practitioners, organizations, locations, medications) the
    /// patient's resources refer to, read so the FHIR copy can carry them. Only resources that
    /// belong to no patient are read this way.
    async fn directory_for(&self, pool: &[PoolResource]) -> Result<Vec<PoolResource>, AppError> {
        let mut conditional = HashSet::new();
        let mut typed = HashSet::new();
        for r in pool {
            fhir_copy::directory_wants(&r.value, &mut conditional, &mut typed);
        }
        let held: HashSet<&str> = pool.iter().map(|r| r.id.as_str()).collect();
        let mut ids: HashSet<String> = HashSet::new();
        let values: Vec<String> = conditional.iter().map(|(_, _, v)| v.clone()).collect::<HashSet<_>>().into_iter().collect();
        for chunk in values.chunks(500) {
            let rows = resource_identifier::Entity::find().filter(resource_identifier::Column::Value.is_in(chunk.iter().cloned())).all(&self.db).await?;
            ids.extend(rows.into_iter().filter(|r| conditional.iter().any(|(_, s, v)| *s == r.system && *v == r.value)).map(|r| r.resource_id));
        }
        let mut found = Vec::new();
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(500) {
            found.extend(
                fhir_resource::Entity::find()
                    .filter(fhir_resource::Column::Id.is_in(chunk.iter().cloned()))
                    .filter(fhir_resource::Column::PatientId.is_null())
                    .all(&self.db)
                    .await?,
            );
        }
        let fhir_ids: Vec<String> = typed.iter().filter(|(_, id)| !held.contains(id.as_str())).map(|(_, id)| id.clone()).collect::<HashSet<_>>().into_iter().collect();
        for chunk in fhir_ids.chunks(500) {
            found.extend(
                fhir_resource::Entity::find()
                    .filter(fhir_resource::Column::FhirId.is_in(chunk.iter().cloned()))
                    .filter(fhir_resource::Column::PatientId.is_null())
                    .all(&self.db)
                    .await?,
            );
        }
        let mut seen = HashSet::new();
        Ok(found
            .into_iter()
            .filter(|r| seen.insert(r.id.clone()))
            .filter_map(|r| {
                let value: serde_json::Value = serde_json::from_str(&r.json).ok()?;
                Some(PoolResource { resource_type: r.resource_type, id: r.fhir_id, identifiers: fhir_copy::identifiers_of(&value), value })
            })
            .collect())
    }

    /// The patient's pool of resources for the FHIR copy (parsed) and which are released.
    async fn fhir_pool(&self, content: &Content) -> Result<(Vec<PoolResource>, Vec<usize>), AppError> {
        let mut pool = Vec::with_capacity(content.pool.len());
        let mut primary = Vec::new();
        for (id, kind, fhir_id, json) in &content.pool {
            // Stored resources were parsed at import; one that no longer parses is left out
            // rather than stopping the copy.
            let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else { continue };
            if content.released.contains(id) {
                primary.push(pool.len());
            }
            pool.push(PoolResource { resource_type: kind.clone(), id: fhir_id.clone(), identifiers: fhir_copy::identifiers_of(&value), value });
        }
        let directory = self.directory_for(&pool).await?;
        pool.extend(directory);
        Ok((pool, primary))
    }

    /// Makes a copy: reads what it contains (never what `withheld` names), renders the PDF, the
    /// self-contained FHIR Bundle and the C-CDA asked for on a blocking thread (never on the
    /// async runtime), and lists everything in the manifest. Stores nothing.
    pub(super) async fn make_copy(&self, job: CopyJob<'_>) -> Result<MadeCopy, AppError> {
        let CopyJob { patient, scope, withheld, no_notes, formats, requester, recipient, released_by, request_number, file_prefix, settings } = job;
        let content = self.copy_content(&patient.id, &scope, &withheld, true).await?;
        let (pool, primary) = self.fhir_pool(&content).await?;
        let now = now_ms();
        let code = new_code();
        let verify_url = format!("{}/verify?code={code}", settings.base_url.trim_end_matches('/'));
        let excluded = exclusions(&withheld, no_notes);
        let described = scope.describe();
        let cover = CoverFacts {
            request_number: request_number.clone().unwrap_or_else(|| code.clone()),
            patient_name: super::super::patients::full_name(patient),
            birth_date: patient.birth_date.clone(),
            record_number: patient.mrn.clone(),
            requester: requester.clone(),
            recipient,
            scope: described.clone(),
            excluded: excluded.clone(),
            released_by,
            released_on: self.clock.today().to_string(),
            site: settings.site.to_string(),
            created_unix: now / 1000,
            instant: request_number.is_none(),
            summary: Vec::new(),
            verification: Some((code.clone(), verify_url)),
            attachment_notes: Vec::new(),
            not_included: Vec::new(),
        };
        let cda = formats.ccda.then(|| ccda::CdaDocument {
            id: uuid::Uuid::new_v4().to_string(),
            created: fhir_copy::instant(now),
            site: settings.site.to_string(),
            site_code: settings.site_code.to_string(),
            patient: ccda::CdaPatient {
                given: patient.given_names.clone(),
                family: patient.family_name.clone(),
                birth_date: patient.birth_date.clone(),
                gender: Some(patient.sex.to_ascii_lowercase()),
                record_number: patient.mrn.clone(),
            },
            period: (scope.from.map(|d| d.to_string()), scope.to.map(|d| d.to_string())),
            sections: content.items.iter().filter(|(s, _)| ccda::section_template(*s).is_some()).map(|(s, items)| (*s, items.iter().map(cda_item).collect())).collect(),
        });
        // Scanned documents and images: each checked now (one at a time), placed after rendering.
        let mut cover = cover;
        let mut attached: Vec<(String, String)> = Vec::new();
        let mut attachments = Vec::new();
        if formats.pdf {
            for (doc, text) in content.documents.iter().flatten() {
                if text.is_some() {
                    continue;
                }
                let Some(bytes) = self.document_data(&doc.id).await? else { continue };
                let declared = doc.content_type.clone();
                let checked = tokio::task::spawn_blocking(move || copies::attach::inspect(&declared, &bytes)).await.map_err(|_| AppError::Unavailable { message: "Checking an attachment stopped unexpectedly; try again.".into() })?;
                match checked {
                    Ok(pages) => {
                        cover.attachment_notes.push((doc.id.clone(), format!("It is shown on the attached pages at the end of this copy ({pages} page(s)).")));
                        attachments.push((doc.title.clone(), pages));
                        attached.push((doc.id.clone(), doc.content_type.clone()));
                    }
                    Err(reason) => {
                        cover.attachment_notes.push((doc.id.clone(), format!("It could not be included: {reason}.")));
                        cover.not_included.push((format!("{} ({})", doc.title, doc.date.clone().unwrap_or_else(|| "undated".into())), format!("Could not be included: {reason}.")));
                    }
                }
            }
        }
        let facts = ProvenanceFacts { bundle_id: uuid::Uuid::new_v4().to_string(), timestamp: fhir_copy::instant(now), portal: format!("{} patient portal", settings.site), asked_by: requester };
        let manifest = Manifest {
            code: code.clone(),
            created: fhir_copy::instant(now),
            producer: facts.portal.clone(),
            scope: described,
            items: Vec::new(),
            excluded: excluded.iter().map(|(what, basis)| ManifestExclusion { what: what.clone(), basis: basis.clone() }).collect(),
            files: Vec::new(),
        };
        // Rendering is CPU work: a blocking thread keeps the runtime serving everyone else.
        let (mut files, manifest, slots) = tokio::task::spawn_blocking(move || render_copy(RenderJob { pool, primary, facts, cover, content, cda, formats, manifest, file_prefix, attachments }))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the copy's rendering thread stopped");
                AppError::Unavailable { message: "Making the copy stopped unexpectedly. Nothing was changed; try again.".into() }
            })?
            .map_err(|e| {
                tracing::error!(error = %e, "rendering a copy failed");
                AppError::Unavailable { message: "Making the copy failed. Nothing was changed; try again.".into() }
            })?;
        if !attached.is_empty()
            && let Some(pdf) = files.iter_mut().find(|f| f.content_type == "application/pdf")
        {
            pdf.bytes = self.place_attachments(std::mem::take(&mut pdf.bytes), &attached, slots).await?;
        }
        let manifest = manifest.with_files(&files);
        Ok(MadeCopy { files, manifest, code })
    }

    /// An attachment's bytes, alone (never a list of them: one attachment in memory at a time).
    async fn document_data(&self, document_id: &str) -> Result<Option<Vec<u8>>, AppError> {
        use super::super::rows::clinical_document;
        use sea_orm::QuerySelect;
        let data: Option<Option<Vec<u8>>> = clinical_document::Entity::find_by_id(document_id.to_string())
            .select_only()
            .column(clinical_document::Column::Data)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(data.flatten())
    }

    /// Places each attachment's pages in the slots the renderer reserved, reading one
    /// attachment at a time; the placing is CPU work, on a blocking thread.
    async fn place_attachments(&self, pdf: Vec<u8>, attached: &[(String, String)], slots: Vec<copies::pdf::Slot>) -> Result<Vec<u8>, AppError> {
        let stopped = |e: String| {
            tracing::error!(error = %e, "placing the attachments of a copy failed");
            AppError::Unavailable { message: "Making the copy failed. Nothing was changed; try again.".into() }
        };
        let mut placer = tokio::task::spawn_blocking(move || copies::attach::Placer::open(&pdf)).await.map_err(|e| stopped(e.to_string()))?.map_err(stopped)?;
        for (n, (document_id, declared)) in attached.iter().enumerate() {
            let Some(bytes) = self.document_data(document_id).await? else { continue };
            let mine: Vec<copies::pdf::Slot> = slots.iter().filter(|s| s.attachment == n).copied().collect();
            let declared = declared.clone();
            placer = tokio::task::spawn_blocking(move || {
                // Checked before rendering; a failure now leaves its pages with their title only.
                if let Err(e) = placer.place(&declared, &bytes, &mine) {
                    tracing::warn!(error = %e, "an attachment could not be placed");
                }
                placer
            })
            .await
            .map_err(|e| stopped(e.to_string()))?;
        }
        tokio::task::spawn_blocking(move || placer.finish()).await.map_err(|e| stopped(e.to_string()))?.map_err(stopped)
    }

    /// Stores the record `/verify` answers from, in the caller's transaction; returns its id.
    pub(super) async fn store_copy_record(&self, txn: &sea_orm::DatabaseTransaction, row: CopyRecordRow<'_>) -> Result<String, AppError> {
        let record_id = uuid::Uuid::new_v4().to_string();
        copy_record::Entity::insert(copy_record::ActiveModel {
            id: Set(record_id.clone()),
            code: Set(row.code.to_string()),
            patient_id: Set(row.patient_id.to_string()),
            actor_user_id: Set(self.principal.user_id.clone()),
            on_behalf_of: Set(self.acting_for.clone()),
            request_id: Set(row.request_id.map(str::to_string)),
            kind: Set(row.kind.into()),
            scope: Set(row.scope.chars().take(400).collect()),
            formats: Set(row.formats.chars().take(40).collect()),
            addressee: Set(row.addressee.map(|a| a.chars().take(254).collect())),
            manifest: Set(String::from_utf8_lossy(row.manifest).into_owned()),
            created_at_ms: Set(now_ms()),
        })
        .exec_without_returning(txn)
        .await?;
        let mut seen = HashSet::new();
        let files: Vec<copy_record_file::ActiveModel> = row
            .hashes
            .iter()
            .filter(|(_, sha, _)| seen.insert(sha.clone()))
            .map(|(name, sha, size)| copy_record_file::ActiveModel {
                sha256: Set(sha.clone()),
                copy_id: Set(record_id.clone()),
                name: Set(name.chars().take(200).collect()),
                size: Set(i64::try_from(*size).unwrap_or(i64::MAX)),
            })
            .collect();
        if !files.is_empty() {
            copy_record_file::Entity::insert_many(files).exec_without_returning(txn).await?;
        }
        Ok(record_id)
    }

    /// Send now (ONC 45 CFR 170.315(e)(1)(i)(C)): the copy made at once and sent to the address
    /// the patient typed. At the patient's direction no HIPAA authorization is needed (45 CFR
    /// 164.524(c)(3)); the form says the recipient may not be bound by HIPAA. It goes as the
    /// third-party copies do: sealed files behind an expiring link for the recipient, the
    /// passcode shown to the patient to pass on. It is tracked as a request released at once
    /// (never in HIM's work), listed (not accountable) among the disclosures, recorded for
    /// `/verify`, and audited. Returns the request's id and what to mail the recipient.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn send_now(&self, copy: &InstantCopy, settings: super::ReleaseSettings<'_>) -> Result<(String, super::LinkNotice), AppError> {
        let email = copy.email.clone().ok_or_else(|| AppError::Validation { fields: vec![crate::error::FieldError::new("email", "Enter the email address to send the copy to.")] })?;
        let (patient, scope, made) = self.make_instant(copy, Action::RequestCopy, Some(format!("{} (sent at the patient's direction)", email.as_str())), InstantSettings { site: settings.site, site_code: settings.site_code, base_url: settings.base_url }).await?;
        let manifest_json = made.manifest.to_json();
        let hashes: Vec<(String, String, usize)> = made.files.iter().map(|f| (f.name.clone(), copies::sha256_hex(&f.bytes), f.bytes.len())).collect();
        let produced: Vec<super::files::Produced> = made.files.into_iter().map(super::files::Produced::from).collect();
        let now = now_ms();
        let today = self.clock.today();
        let id = uuid::Uuid::new_v4().to_string();
        let described = scope.describe();
        let txn = write_transaction(&self.db).await?;
        let number = super::next_request_number(&txn).await?;
        let row = super::super::rows::release_request::Model {
            id: id.clone(),
            number,
            patient_id: patient.id.clone(),
            requester_user_id: self.principal.user_id.clone(),
            on_behalf_of: self.acting_for.clone(),
            status: crate::domain::release::Status::Released,
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
        };
        super::super::rows::release_request::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row.clone())).exec_without_returning(&txn).await?;
        super::super::rows::release_event::Entity::insert(super::super::rows::release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(crate::domain::release::Actor::Requester),
            from_status: Set(None),
            to_status: Set(crate::domain::release::Status::Released),
            note: Set(Some(format!("Sent at once to {} (no staff review needed: 45 CFR 164.524(c)(3)).", email.as_str()))),
        })
        .exec_without_returning(&txn)
        .await?;
        let expires = now + i64::from(settings.download_days) * 24 * 60 * 60 * 1000;
        self.store_files(&txn, &id, produced, expires, settings.keys).await?;
        let path = self.create_link(&txn, &row, expires, settings.keys).await?;
        self.record_disclosure(&txn, &row, &described, "automatic").await?;
        let formats = copy.formats.codes();
        let record_id = self
            .store_copy_record(&txn, CopyRecordRow { code: &made.code, patient_id: &patient.id, request_id: Some(&id), kind: "transmit", scope: &described, formats: &formats, addressee: Some(email.as_str()), manifest: &manifest_json, hashes: &hashes })
            .await?;
        let event = self
            .event(AuditAction::ReleaseRequest, Outcome::Success)
            .patient(&patient.id)
            .entity("copy_record", &record_id)
            .detail(format!("send now: formats={formats}; scope={described}; request R-{number}"));
        audit::record(&txn, event).await?;
        txn.commit().await?;
        Ok((id, super::LinkNotice { email: email.as_str().to_string(), path }))
    }

    /// A copy made at once for the patient or the caregiver acting (`action`: reading, or
    /// sending, which a caregiver's grant must allow), to them or to `recipient`.
    async fn make_instant(&self, copy: &InstantCopy, action: Action, recipient: Option<String>, settings: InstantSettings<'_>) -> Result<(patient_row::Model, Scope, MadeCopy), AppError> {
        let InstantScope { patient, scope, withheld, no_notes } = self.instant_scope(copy, action).await?;
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
        let (download, mut hashes) = if made.files.len() == 1 {
            let file = made.files.into_iter().next().ok_or(AppError::BadRequest)?;
            let hashes = vec![(file.name.clone(), copies::sha256_hex(&file.bytes), file.bytes.len())];
            (InstantFile { file_name: file.name, content_type: file.content_type, bytes: file.bytes, code: code.clone() }, hashes)
        } else {
            let mut all = made.files;
            all.push(CopyFile { name: "manifest.json".into(), content_type: "application/json", bytes: manifest_json.clone(), pages: None });
            let hashes: Vec<(String, String, usize)> = all.iter().map(|f| (f.name.clone(), copies::sha256_hex(&f.bytes), f.bytes.len())).collect();
            let zipped = copies::package::zip(&all).map_err(|e| {
                tracing::error!(error = %e, "zipping an instant copy failed");
                AppError::Unavailable { message: "Making the copy failed. Nothing was downloaded; try again.".into() }
            })?;
            (InstantFile { file_name: format!("health-record-{stamp}.zip"), content_type: "application/zip", bytes: zipped, code: code.clone() }, hashes)
        };
        if download.content_type == "application/zip" {
            hashes.push((download.file_name.clone(), copies::sha256_hex(&download.bytes), download.bytes.len()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typeable_and_read_back_however_typed() {
        let code = new_code();
        assert_eq!(code.len(), 14);
        assert_eq!(normalize_code(&code.to_ascii_lowercase().replace('-', " ")), Some(code.clone()));
        assert_eq!(normalize_code("0000-0000-0000"), None, "0 and O are not in the alphabet");
        assert_eq!(normalize_code("ABCD"), None);
    }
}
