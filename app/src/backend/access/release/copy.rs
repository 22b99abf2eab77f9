//! Making a copy, whoever asks for it (the patient at once, or HIM releasing a request): what
//! it contains (`copy_content`, never what a decision or a limited view withholds), the files
//! (the PDF with its attachments placed, the self-contained FHIR Bundle, the C-CDA; rendered on
//! blocking threads, never on the async runtime), the release manifest, the verification code,
//! and the record `/verify` answers from.

use super::super::AccessContext;
use super::super::record::to_row;
use super::super::rows::{clinical_document, clinical_item, copy_record, copy_record_file, fhir_resource, patient_row, release_request, resource_identifier, sensitive_tag};
use crate::backend::copies::fhir::{self as fhir_copy, PoolResource, ProvenanceFacts};
use crate::backend::copies::package::{Body, CopyFile, Manifest, ManifestExclusion};
use crate::backend::copies::{self, CoverFacts, ccda};
use crate::backend::db::now_ms;
use crate::backend::fhir::sensitive::Category;
use crate::domain::release::{InstantFormats, Scope, Withheld, withhold_basis};
use crate::domain::{DocumentRow, ItemRow, Section};
use crate::error::AppError;
use rand::Rng;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashSet;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the access context read for a copy, before rendering.
pub(super) struct Content {
    pub(super) sections: Vec<(Section, Vec<ItemRow>)>,
    /// The same items as stored (raw dates, numbers and codes), for the C-CDA (`Rows::Stored`
    /// only: a PDF alone does not hold them twice).
    pub(super) items: Vec<(Section, Vec<clinical_item::Model>)>,
    pub(super) documents: Option<Vec<(DocumentRow, Option<String>)>>,
    /// With FHIR: every resource of the patient not withheld (what references may pull in), as
    /// (stored id, type, FHIR id, length of its JSON; the text itself is read as the Bundle is
    /// written), and the stored ids of those released.
    pub(super) pool: Vec<(String, String, String, i64)>,
    pub(super) released: HashSet<String>,
    pub(super) part2: bool,
}

/// What a copy needs of the clinical items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rows {
    /// Only which resources a dated or partial scope releases (a FHIR copy).
    Ids,
    /// The rows as the PDF shows them.
    Shown,
    /// Those, and the rows as stored, for the C-CDA.
    Stored,
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

impl Produced {
    /// A file of a copy, stored as a release file of its kind.
    pub(in crate::backend::access) fn of(f: CopyFile) -> Result<Produced, AppError> {
        Ok(Produced {
            kind: match f.content_type {
                "application/pdf" => "pdf",
                "application/fhir+json" => "fhir",
                _ => "ccda",
            },
            file_name: f.name,
            content_type: f.content_type,
            pages: f.pages.and_then(|p| i32::try_from(p).ok()),
            bytes: f.body.into_bytes().map_err(|e| placing_failed(e.to_string()))?,
        })
    }
}

/// A copy that could not be written (a disk or a thread, never an attachment: those are
/// listed on the cover): logged, and nothing is changed.
fn placing_failed(e: String) -> AppError {
    tracing::error!(error = %e, "writing a copy failed");
    AppError::Unavailable { message: "Making the copy failed. Nothing was changed; try again.".into() }
}

/// The name an attachment travels under beside the PDF: `attachments/2-scan-of-letter.tiff`.
fn beside_name(n: usize, title: &str, content_type: &str) -> String {
    let stem: String = title.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let stem = stem.split('-').filter(|p| !p.is_empty()).take(8).collect::<Vec<_>>().join("-");
    let extension = match content_type.split(';').next().unwrap_or_default().trim() {
        "image/tiff" => "tiff",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/jpeg" => "jpg",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    format!("attachments/{n}-{}.{extension}", if stem.is_empty() { "document" } else { &stem })
}

/// The next request number (R-1001 onward), read in the transaction that inserts it. On
/// PostgreSQL two transactions could read the same maximum and the second insert would fail on
/// the unique number: a transaction-scoped advisory lock makes them take numbers one after the
/// other (released at commit). SQLite's write transaction already holds the database.
pub(super) async fn next_request_number(txn: &sea_orm::DatabaseTransaction) -> Result<i64, AppError> {
    use sea_orm::ConnectionTrait;
    /// The advisory lock's key: "R-number", any constant the portal uses for nothing else.
    const NUMBER_LOCK: i64 = 0x5220_6e75_6d62;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({NUMBER_LOCK})")).await?;
    }
    let last: Option<i64> = release_request::Entity::find()
        .select_only()
        .column_as(release_request::Column::Number.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(txn)
        .await?
        .flatten();
    Ok(last.unwrap_or(1000) + 1)
}

/// Where the copy comes from and where `/verify` is.
#[derive(Clone, Copy)]
pub struct InstantSettings<'a> {
    /// The organization as the cover names it.
    pub site: &'a str,
    pub site_code: &'a str,
    /// The portal's public address (`https://portal.example.org`), for the verification link.
    pub base_url: &'a str,
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
    /// Psychotherapy notes may be in it: a release to someone else under an authorization for
    /// them alone, checked before (45 CFR 164.508(b)(3)(ii)). Never for a copy made at once.
    pub(super) psychotherapy_allowed: bool,
    /// For a release to someone else: the rule it goes under (the cover says so).
    pub(super) released_under: Option<String>,
    /// A download: attachments the PDF cannot show may travel beside it (in the `.zip`), and a
    /// PDF with scanned pages is written to a spool on disk and streamed from it.
    pub(super) download: bool,
    pub(super) file_prefix: String,
    pub(super) settings: InstantSettings<'a>,
}

/// A copy made: its files (not yet packaged), its manifest and its verification code.
pub(super) struct MadeCopy {
    pub(super) files: Vec<CopyFile>,
    /// Attachments that travel beside the PDF (`attachments/…`), listed in the manifest.
    pub(super) beside: Vec<CopyFile>,
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
    /// Reads the stored resources' texts as the Bundle reaches them.
    fetch: StoredJson,
    /// A download: the FHIR file is written to a spool (streamed from disk).
    download: bool,
}

/// Reads stored resources' JSON from a blocking thread (the Bundle is written on one), a slice
/// of the Bundle at a time.
struct StoredJson {
    db: sea_orm::DatabaseConnection,
    runtime: tokio::runtime::Handle,
}

impl StoredJson {
    fn json(&self, resources: &[&PoolResource]) -> std::io::Result<Vec<Option<String>>> {
        self.runtime.block_on(stored_texts(&self.db, resources)).map_err(std::io::Error::other)
    }
}

/// The stored JSON of a slice of the pool, in its order (`None`: no longer stored).
async fn stored_texts(db: &sea_orm::DatabaseConnection, resources: &[&PoolResource]) -> Result<Vec<Option<String>>, sea_orm::DbErr> {
    let rows: Vec<(String, String)> = fhir_resource::Entity::find()
        .select_only()
        .columns([fhir_resource::Column::Id, fhir_resource::Column::Json])
        .filter(fhir_resource::Column::Id.is_in(resources.iter().map(|r| r.row.clone())))
        .into_tuple()
        .all(db)
        .await?;
    let mut found: std::collections::HashMap<String, String> = rows.into_iter().collect();
    Ok(resources.iter().map(|r| found.remove(&r.row)).collect())
}

/// Renders the files of a copy and completes its manifest (items; the files' hashes are added
/// when the files are final). Also returns where the attachments' pages go in the PDF.
fn render_copy(job: RenderJob) -> Result<(Vec<CopyFile>, Manifest, Vec<copies::pdf::Slot>), String> {
    let RenderJob { pool, primary, facts, mut cover, content, cda, formats, mut manifest, file_prefix, attachments, fetch, download } = job;
    // The cover counts what was released; the Bundle and the manifest also carry what those
    // items refer to (their visits, practitioners, organizations, places).
    let mut counts: Vec<(String, usize)> = Vec::new();
    for n in &primary {
        let kind = &pool[*n].resource_type;
        match counts.iter_mut().find(|(t, _)| t == kind) {
            Some((_, c)) => *c += 1,
            None => counts.push((kind.clone(), 1)),
        }
    }
    cover.summary = vec![
        ("Items released".into(), format!("{} ({})", primary.len(), counts.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "))),
        (
            "Checking the copy".into(),
            "The manifest (manifest.json, with a download of several formats) lists each item, and what it refers to, with the SHA-256 of its canonical JSON, and the SHA-256 of every file; the last page says how to verify this copy.".into(),
        ),
    ];
    // The Bundle (which the manifest needs whatever the formats) and the C-CDA are built beside
    // the PDF, on a second thread: the machine's cores work on one copy at once.
    // The Bundle is written as it is made: to a spool for a download, in memory for a copy that
    // is stored, nowhere when only the manifest's items are wanted.
    let write_bundle = || -> std::io::Result<(Vec<fhir_copy::ManifestItem>, Option<Body>)> {
        let fetch = |r: &[&PoolResource]| fetch.json(r);
        match (formats.fhir, download) {
            (false, _) => Ok((fhir_copy::self_contained_bundle(&pool, &primary, &facts, &fetch, None)?, None)),
            (true, true) => {
                let mut spooler = copies::package::Spooler::new()?;
                let items = fhir_copy::self_contained_bundle(&pool, &primary, &facts, &fetch, Some(&mut spooler))?;
                Ok((items, Some(Body::Spooled(spooler.finish()?))))
            }
            (true, false) => {
                let mut bytes = Vec::with_capacity(1024 * 1024);
                let items = fhir_copy::self_contained_bundle(&pool, &primary, &facts, &fetch, Some(&mut bytes))?;
                Ok((items, Some(Body::Memory(bytes))))
            }
        }
    };
    // The PDF's text laid out from the rows, which are let go before rendering (the C-CDA has
    // its own): a copy holds its record once at a time, not in three forms.
    let pdf_copy = formats.pdf.then(|| {
        let mut pdf = copies::record_copy(&cover, &content.sections, content.documents.as_deref(), content.part2);
        pdf.attachments = attachments;
        pdf
    });
    drop(content);
    let (bundle, ccda_text, pdf) = std::thread::scope(|scope| {
        let bundle = scope.spawn(write_bundle);
        let ccda_text = cda.map(|cda| scope.spawn(move || ccda::document(&cda)));
        let pdf = pdf_copy.map(|pdf| copies::pdf::render(pdf, &|_, _| {}).map_err(|e| e.to_string())).transpose();
        (bundle.join(), ccda_text.map(|t| t.join()), pdf)
    });
    let (items, bundle) = bundle.map_err(|_| "building the FHIR copy stopped".to_string())?.map_err(|e| format!("writing the FHIR copy: {e}"))?;
    manifest.items = items;
    let mut files = Vec::new();
    let mut slots = Vec::new();
    if let Some(rendered) = pdf? {
        slots = rendered.slots;
        files.push(CopyFile { name: format!("{file_prefix}.pdf"), content_type: "application/pdf", body: Body::Memory(rendered.bytes), pages: Some(rendered.pages) });
    }
    if let Some(body) = bundle {
        files.push(CopyFile { name: format!("{file_prefix}.fhir.json"), content_type: "application/fhir+json", body, pages: None });
    }
    if let Some(text) = ccda_text {
        let text = text.map_err(|_| "building the C-CDA stopped".to_string())?;
        files.push(CopyFile { name: format!("{file_prefix}.ccda.xml"), content_type: "application/xml", body: Body::Memory(text.into_bytes()), pages: None });
    }
    Ok((files, manifest, slots))
}

impl AccessContext {
    /// Reads what a copy contains: the scope's sections and date range, without the resources
    /// tagged with a withheld category.
    /// `rows`: what the copy needs of the items (a whole-record FHIR copy skips reading them).
    pub(super) async fn copy_content(&self, patient_id: &str, scope: &Scope, withheld: &[Withheld], psychotherapy_allowed: bool, fhir: bool, rows: Rows) -> Result<Content, AppError> {
        // Psychotherapy notes are left out of every copy but one checked to carry them alone.
        let always = (!psychotherapy_allowed).then_some(Category::PsychotherapyNotes.as_str());
        let withheld_categories: HashSet<&str> = withheld.iter().map(|w| w.category.as_str()).chain(always).collect();
        let tags = sensitive_tag::Entity::find().filter(sensitive_tag::Column::PatientId.eq(patient_id)).all(&self.db).await?;
        let mut skip: HashSet<String> = HashSet::new();
        let mut substance: HashSet<String> = HashSet::new();
        for tag in tags {
            if withheld_categories.contains(tag.category.as_str()) {
                skip.insert(tag.resource_id.clone());
            }
            if tag.category == Category::Part2.as_str() {
                substance.insert(tag.resource_id);
            }
        }
        let from_ms = scope.from.map(|d| d.start_ms());
        let until_ms = scope.to.map(|d| d.start_ms() + DAY_MS);
        let whole = scope.sections.is_empty();
        let everything = whole && from_ms.is_none() && until_ms.is_none();
        let wanted: Vec<Section> = if rows == Rows::Ids && everything {
            Vec::new()
        } else if whole {
            Section::ALL.to_vec()
        } else {
            scope.sections.clone()
        };
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
            let found = select
                .order_by_desc(clinical_item::Column::StartMs)
                .order_by_asc(clinical_item::Column::Display)
                .all(&self.db)
                .await
                ?;
            let kept: Vec<clinical_item::Model> = found.into_iter().filter(|r| !skip.contains(&r.resource_id)).collect();
            included.extend(kept.iter().map(|r| r.resource_id.clone()));
            if rows == Rows::Stored {
                let shown: Vec<ItemRow> = kept.iter().cloned().map(|r| to_row(r, &self.clock)).collect::<Result<_, _>>()?;
                sections.push((section, shown));
                items.push((section, kept));
            } else {
                let shown: Vec<ItemRow> = kept.into_iter().map(|r| to_row(r, &self.clock)).collect::<Result<_, _>>()?;
                sections.push((section, shown));
            }
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
            // Without their texts: the Bundle's writer reads them a slice at a time (a large one,
            // a scan carried as base64, alone), so a record is never held whole.
            let rows: Vec<(String, String, String, i64)> = fhir_resource::Entity::find()
                .select_only()
                .columns([fhir_resource::Column::Id, fhir_resource::Column::ResourceType, fhir_resource::Column::FhirId])
                // OCTET_LENGTH: bytes, and SQLite answers it from the record header without
                // reading the text (LENGTH counts characters, reading every one).
                .expr(sea_orm::sea_query::Expr::cust("CAST(OCTET_LENGTH(json) AS BIGINT)"))
                .filter(fhir_resource::Column::PatientId.eq(patient_id))
                .order_by_asc(fhir_resource::Column::ImportedAtMs)
                .order_by_asc(fhir_resource::Column::Id)
                .into_tuple()
                .all(&self.db)
                .await
                ?;
            pool = rows.into_iter().filter(|(id, _, _, _)| !skip.contains(id)).collect();
            released = pool.iter().filter(|(id, kind, _, _)| kind == "Patient" || everything || included.contains(id)).map(|(id, _, _, _)| id.clone()).collect();
        }
        Ok(Content { sections, items, documents, pool, released, part2 })
    }
    /// The directory resources (practitioners, organizations, locations, medications) the
    /// patient's resources refer to, read so the FHIR copy can carry them. Only resources that
    /// belong to no patient are read this way.
    async fn directory_for(&self, pool: &[PoolResource]) -> Result<Vec<PoolResource>, AppError> {
        let mut conditional = HashSet::new();
        let mut typed = HashSet::new();
        // The stored texts a slice at a time (a large one alone), looked through and dropped.
        let mut slices: Vec<Vec<&PoolResource>> = vec![Vec::new()];
        let mut bytes = 0;
        for r in pool {
            match &r.json {
                Some(json) => fhir_copy::directory_wants(json, &mut conditional, &mut typed),
                None => {
                    let slice = slices.last_mut().filter(|s| !fhir_copy::slice_full(s.len(), bytes, r.size));
                    match slice {
                        Some(slice) => slice.push(r),
                        None => {
                            slices.push(vec![r]);
                            bytes = 0;
                        }
                    }
                    bytes += r.size;
                }
            }
        }
        for slice in slices.iter().filter(|s| !s.is_empty()) {
            for json in stored_texts(&self.db, slice).await?.into_iter().flatten() {
                fhir_copy::directory_wants(&json, &mut conditional, &mut typed);
            }
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
                Some(PoolResource { resource_type: r.resource_type, id: r.fhir_id, row: r.id, identifiers: fhir_copy::identifiers_of(&value), size: r.json.len(), json: Some(r.json) })
            })
            .collect())
    }

    /// The patient's pool of resources for the FHIR copy (parsed) and which are released.
    async fn fhir_pool(&self, content: &mut Content) -> Result<(Vec<PoolResource>, Vec<usize>), AppError> {
        // The pool names the stored resources; their texts are read a slice at a time when the
        // Bundle is written, and each is parsed only then. The patient's own resources are found
        // by id; conditional references (by identifier) are to directory resources, read next.
        let stored = std::mem::take(&mut content.pool);
        let mut pool = Vec::with_capacity(stored.len());
        let mut primary = Vec::new();
        for (id, kind, fhir_id, size) in stored {
            if content.released.contains(&id) {
                primary.push(pool.len());
            }
            pool.push(PoolResource { resource_type: kind, id: fhir_id, row: id, identifiers: Vec::new(), json: None, size: usize::try_from(size).unwrap_or(0) });
        }
        let directory = self.directory_for(&pool).await?;
        pool.extend(directory);
        Ok((pool, primary))
    }

    /// Makes a copy: reads what it contains (never what `withheld` names), renders the PDF, the
    /// self-contained FHIR Bundle and the C-CDA asked for on a blocking thread (never on the
    /// async runtime), and lists everything in the manifest. Stores nothing.
    pub(super) async fn make_copy(&self, job: CopyJob<'_>) -> Result<MadeCopy, AppError> {
        let CopyJob { patient, scope, withheld, no_notes, formats, requester, recipient, released_by, request_number, psychotherapy_allowed, released_under, download, file_prefix, settings } = job;
        let rows = if formats.ccda {
            Rows::Stored
        } else if formats.pdf {
            Rows::Shown
        } else {
            Rows::Ids
        };
        let mut content = self.copy_content(&patient.id, &scope, &withheld, psychotherapy_allowed, true, rows).await?;
        let (pool, primary) = self.fhir_pool(&mut content).await?;
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
            released_under,
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
        let mut beside = Vec::new();
        if formats.pdf {
            for (doc, text) in content.documents.iter().flatten() {
                if text.is_some() {
                    continue;
                }
                let Some(bytes) = self.document_data(&doc.id).await? else { continue };
                let declared = doc.content_type.clone();
                let (checked, bytes) = tokio::task::spawn_blocking(move || (copies::attach::inspect(&declared, &bytes), bytes))
                    .await
                    .map_err(|_| AppError::Unavailable { message: "Checking an attachment stopped unexpectedly; try again.".into() })?;
                let when = doc.date.clone().unwrap_or_else(|| "undated".into());
                match checked {
                    Ok(pages) => {
                        cover.attachment_notes.push((doc.id.clone(), format!("It is shown on the attached pages at the end of this copy ({pages} page(s)).")));
                        attachments.push((doc.title.clone(), pages));
                        attached.push((doc.id.clone(), doc.content_type.clone()));
                    }
                    Err(copies::attach::Refusal::Unplaceable(reason)) if download => {
                        let name = beside_name(beside.len() + 1, &doc.title, &doc.content_type);
                        cover.attachment_notes.push((doc.id.clone(), format!("It cannot be shown in this PDF ({reason}); it is in the download beside it, as {name}.")));
                        // On disk at once: a download holds one attachment at a time.
                        let body = tokio::task::spawn_blocking(move || Body::spooled(&bytes)).await.map_err(|e| placing_failed(e.to_string()))?.map_err(|e| placing_failed(e.to_string()))?;
                        beside.push(CopyFile { name, content_type: "application/octet-stream", body, pages: None });
                    }
                    Err(refusal) => {
                        let reason = refusal.reason();
                        cover.attachment_notes.push((doc.id.clone(), format!("It could not be included: {reason}.")));
                        cover.not_included.push((format!("{} ({when})", doc.title), format!("Could not be included: {reason}.")));
                    }
                }
            }
        }
        let fetch = StoredJson { db: self.db.clone(), runtime: tokio::runtime::Handle::current() };
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
        let (mut files, manifest, slots) = tokio::task::spawn_blocking(move || render_copy(RenderJob { pool, primary, facts, cover, content, cda, formats, manifest, file_prefix, attachments, fetch, download }))
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
            let rendered = std::mem::replace(&mut pdf.body, Body::Memory(Vec::new())).into_bytes().map_err(|e| placing_failed(e.to_string()))?;
            pdf.body = self.place_attachments(rendered, &attached, slots, download).await?;
        }
        let manifest = manifest.with_files(files.iter().chain(&beside));
        Ok(MadeCopy { files, beside, manifest, code })
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
    /// attachment at a time and writing it out before the next (the placing is CPU work, on a
    /// blocking thread). A download's copy goes to a spool on disk, so a record with a hundred
    /// scanned pages is never held whole; a stored copy (an HIM release) is kept in memory.
    async fn place_attachments(&self, pdf: Vec<u8>, attached: &[(String, String)], slots: Vec<copies::pdf::Slot>, spool: bool) -> Result<Body, AppError> {
        if spool {
            let out = tokio::task::spawn_blocking(copies::package::Spooler::new).await.map_err(|e| placing_failed(e.to_string()))?.map_err(|e| placing_failed(e.to_string()))?;
            let out = self.place_into(pdf, attached, slots, out).await?;
            tokio::task::spawn_blocking(move || out.finish()).await.map_err(|e| placing_failed(e.to_string()))?.map(Body::Spooled).map_err(|e| placing_failed(e.to_string()))
        } else {
            let capacity = pdf.len() * 2;
            self.place_into(pdf, attached, slots, Vec::with_capacity(capacity)).await.map(Body::Memory)
        }
    }

    async fn place_into<W: std::io::Write + Send + 'static>(&self, pdf: Vec<u8>, attached: &[(String, String)], slots: Vec<copies::pdf::Slot>, out: W) -> Result<W, AppError> {
        let mut placer = tokio::task::spawn_blocking(move || copies::attach::Placer::open(&pdf, out)).await.map_err(|e| placing_failed(e.to_string()))?.map_err(placing_failed)?;
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
            .map_err(|e| placing_failed(e.to_string()))?;
        }
        tokio::task::spawn_blocking(move || placer.finish()).await.map_err(|e| placing_failed(e.to_string()))?.map_err(placing_failed)
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
