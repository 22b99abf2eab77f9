//! FHIR R4 import, the database half. One file is one unit: everything it holds is written in one
//! transaction or nothing is (a bad entry, a conflict or a database failure rolls the whole file
//! back). Re-importing a file updates its resources in place, matched on resource identity
//! (type + id), and rewrites nothing that did not change.
//!
//! Patient matching (DOMAIN.md, "Data quality"): an incoming Patient that shares an identifier
//! with a record updates that record; one that only shares name and birth date with another record
//! becomes a new record **and** a row on the HIM "possible duplicates" list. Never a silent merge.
//!
//! Called by `portal import` (no signed-in user) and, through the access context's policy check,
//! by the HIM upload page. Every import, success or failure, is audited and kept in `import_run`.

mod resolver;
mod staff;
use resolver::{Prepared, Resolver, identifiers};

use super::rows::{
    clinical_document, clinical_item, duplicate_candidate, fhir_resource, import_run, patient_identifier,
    resource_identifier, sensitive_tag,
};
use super::rows::{JsonText, patient_row};
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::fhir::map::{self, PatientData};
use crate::backend::fhir::parse::{self, Limits, ParseError, RawEntry};
use crate::backend::fhir::sensitive;
use crate::backend::request::RequestMeta;
use crate::domain::{Category, Mrn};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Resource types that describe the care system rather than a patient (no Patient needed).
pub const DIRECTORY_TYPES: &[&str] =
    &["Organization", "Location", "Practitioner", "PractitionerRole", "Medication", "HealthcareService", "Endpoint", "Substance"];

/// Ids per `IN (...)` lookup.
const CHUNK: usize = 500;
/// Bound parameters per multi-row INSERT: under SQLite's limit (32,766) and PostgreSQL's (65,535).
const MAX_PARAMS: usize = 30_000;

/// Inserts `rows` in as few statements as the parameter limit allows, moving (not copying) them.
async fn insert_all<E, A>(txn: &DatabaseTransaction, mut rows: Vec<A>, columns: usize) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let per_statement = (MAX_PARAMS / columns.max(1)).max(1);
    while !rows.is_empty() {
        let rest = rows.split_off(std::cmp::min(per_statement, rows.len()));
        E::insert_many(rows).exec_without_returning(txn).await?;
        rows = rest;
    }
    Ok(())
}
/// The condition that picks each test's latest reading, word for word the partial index's
/// (migration 15, `idx_clinical_item_latest`): SQLite uses a partial index only for a query that
/// repeats its condition.
pub const LATEST_READING: &str = "latest_reading = TRUE";

/// Marks each test's newest reading among `patients`' observations, and unmarks the others
/// (issue 21: the summary then reads the marked rows from an index, where ranking every
/// reading on each view made its cost grow with the record). A test is its category and code,
/// or its name when it has none; undated readings rank last; of two at the same instant the
/// smaller id is marked, so each test has exactly one. The same ranking as migration 15's.
/// Called after every import that touched the patients, in its transaction.
pub async fn mark_latest_readings(db: &impl ConnectionTrait, patients: &[String]) -> Result<(), DbErr> {
    for chunk in patients.chunks(MARKED_PER_STATEMENT) {
        let list = |first: usize| (first..first + chunk.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE clinical_item SET latest_reading = (resource_id IN (\
               SELECT resource_id FROM (\
                 SELECT resource_id, ROW_NUMBER() OVER (PARTITION BY patient_id, category, COALESCE(code, display) ORDER BY start_ms DESC NULLS LAST, resource_id) AS n \
                 FROM clinical_item WHERE kind = 'observation' AND patient_id IN ({ranked})\
               ) ranked WHERE n = 1)) \
             WHERE kind = 'observation' AND patient_id IN ({marked})",
            ranked = list(1),
            marked = list(1 + chunk.len()),
        );
        let values: Vec<sea_orm::Value> = chunk.iter().chain(chunk).map(|id| id.as_str().into()).collect();
        db.execute_raw(crate::backend::db::numbered(db.get_database_backend(), &sql, values)).await?;
    }
    Ok(())
}

/// Patients per marking statement (each id is bound twice).
const MARKED_PER_STATEMENT: usize = 500;

/// Unresolved references listed by name in a summary; the rest are counted.
const LISTED_REFERENCES: usize = 5;

/// The patient record a file was imported into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedPatient {
    pub id: String,
    pub mrn: String,
    pub name: String,
    /// A new record (rather than an update of an existing one).
    pub created: bool,
}

/// What one file did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub bundle_type: String,
    pub resources: usize,
    /// Resources per type, as in the file.
    pub per_type: BTreeMap<String, usize>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub patient: Option<ImportedPatient>,
    /// Patient records the file created or updated (several in a bulk NDJSON file).
    pub patients: usize,
    /// Records with the same name and birth date but other identifiers, put on the HIM list.
    pub possible_duplicates: usize,
    /// Items tagged with a sensitive category, per category.
    pub sensitive: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
}

/// Why a file was not imported (nothing of it was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the file holds clinical resources but no Patient")]
    NoPatient,
    #[error("the file holds {0} Patient resources; import one patient per file")]
    SeveralPatients(usize),
    #[error("entry {entry}: {message}")]
    Conflict { entry: usize, message: String },
    #[error("the database failed: {0}")]
    Db(#[from] DbErr),
}

impl ImportError {
    /// A person's mistake in the file (as opposed to a server fault).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, ImportError::Db(_))
    }

    fn audit_detail(&self) -> &'static str {
        match self {
            ImportError::Parse(_) => "invalid_file",
            ImportError::NoPatient => "no_patient",
            ImportError::SeveralPatients(_) => "several_patients",
            ImportError::Conflict { .. } => "conflict",
            ImportError::Db(_) => "database_error",
        }
    }
}

/// Who imports, from where: made by [`super::SystemContext::importer`] (set-up, the command
/// line) or by the access context for a signed-in HIM user.
pub struct Importer<'a> {
    pub(in crate::backend::access) db: &'a DatabaseConnection,
    pub(in crate::backend::access) site_code: &'a str,
    pub(in crate::backend::access) limits: Limits,
    /// The signed-in HIM user or administrator, or the system context's actor.
    pub(in crate::backend::access) actor: Option<&'a str>,
    pub(in crate::backend::access) request: &'a RequestMeta,
}

impl Importer<'_> {
    /// Imports one file. `progress(done, total)` is called as entries are read and written.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn import(&self, source: &str, bytes: &[u8], progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Summary, ImportError> {
        let started = now_ms();
        let result = self.import_inner(source, bytes, progress, started).await;
        if let Err(error) = &result {
            // Nothing of the file was written; the attempt itself is recorded.
            let mut event = AuditEvent::new(AuditAction::RecordImport, Outcome::Failure, self.request).detail(error.audit_detail());
            if let Some(actor) = self.actor {
                event = event.actor(actor);
            }
            let summary = serde_json::json!({ "error": error.to_string() });
            let txn = write_transaction(self.db).await?;
            audit::record(&txn, event).await?;
            insert_run(&txn, source, self.actor, None, started, "failed", summary).await?;
            txn.commit().await?;
        }
        result
    }

    async fn import_inner(
        &self,
        source: &str,
        bytes: &[u8],
        progress: &(dyn Fn(usize, usize) + Sync),
        started: i64,
    ) -> Result<Summary, ImportError> {
        // Phase times for `RUST_LOG=app::backend::access::import=debug` (no content is logged).
        let clock = std::time::Instant::now();
        let mut phases: Vec<(&str, u128)> = Vec::new();
        let mut mark = |name: &'static str| phases.push((name, clock.elapsed().as_micros()));
        let text = parse::text(bytes, &self.limits)?;
        let ndjson = source.to_ascii_lowercase().ends_with(".ndjson") || source.to_ascii_lowercase().ends_with(".jsonl");
        let file = parse::parse_as(text, &self.limits, ndjson)?;
        mark("split");
        let total = file.entries.len() * 2;
        let patients: Vec<&RawEntry<'_>> = file.entries.iter().filter(|e| e.resource_type == "Patient").collect();
        let clinical = file.entries.iter().any(|e| e.resource_type != "Patient" && !DIRECTORY_TYPES.contains(&e.resource_type.as_str()));
        // A Bundle is one patient's. Bulk-data NDJSON is one resource type for many patients
        // (Patient.ndjson, Observation.ndjson, ...): each resource names its patient.
        let bulk = file.bundle_type == "ndjson";
        if patients.len() > 1 && !bulk {
            return Err(ImportError::SeveralPatients(patients.len()));
        }
        if clinical && patients.is_empty() && !bulk {
            return Err(ImportError::NoPatient);
        }

        let mut summary = Summary { bundle_type: file.bundle_type.clone(), resources: file.entries.len(), ..Summary::default() };
        let mut prepared = Vec::with_capacity(file.entries.len());
        for (n, entry) in file.entries.iter().enumerate() {
            let value = parse::resource(entry, &self.limits)?;
            let mapped = map::map(&entry.resource_type, &value)
                .map_err(|(pointer, message)| ParseError::Field { entry: entry.index, pointer, message })?;
            for warning in &mapped.warnings {
                summary.warnings.push(format!("entry {} ({}): {warning}", entry.index, entry.resource_type));
            }
            *summary.per_type.entry(entry.resource_type.clone()).or_default() += 1;
            let is_directory = DIRECTORY_TYPES.contains(&entry.resource_type.as_str());
            let subject = ["subject", "patient", "beneficiary"]
                .iter()
                .find_map(|k| value.get(*k).and_then(|r| r.get("reference")).and_then(Value::as_str))
                .map(str::to_string);
            prepared.push(Prepared {
                entry,
                subject,
                identifiers: if is_directory { identifiers(&value) } else { Vec::new() },
                sha256: hex::encode(Sha256::digest(entry.raw.get().as_bytes())),
                mapped,
                is_directory,
            });
            progress(n + 1, total);
        }
        mark("map");

        let txn = write_transaction(self.db).await?;
        // The patient record of each Patient in the file, by its FHIR id.
        let mut matched: HashMap<String, ImportedPatient> = HashMap::new();
        for p in prepared.iter().filter(|p| p.entry.resource_type == "Patient") {
            if let Some(data) = &p.mapped.patient {
                let record = self.match_patient(&txn, data, p.entry, &mut summary).await?;
                matched.insert(p.entry.id.clone(), record);
            }
        }
        let patient = if matched.len() == 1 { matched.values().next().cloned() } else { None };
        summary.patients = matched.len();
        let patient_id = patient.as_ref().map(|p| p.id.clone());
        // Whose each resource is: the file's one patient, or (bulk NDJSON) the patient it names.
        let mut owner_of: Vec<Option<String>> = Vec::with_capacity(prepared.len());
        for p in &prepared {
            let owner = if p.is_directory {
                None
            } else if p.entry.resource_type == "Patient" {
                matched.get(&p.entry.id).map(|m| m.id.clone())
            } else if !bulk {
                patient_id.clone()
            } else {
                let named = p.subject.as_deref().and_then(|r| r.strip_prefix("Patient/").or_else(|| r.strip_prefix("urn:uuid:")));
                let found = match named {
                    Some(id) => match matched.get(id) {
                        Some(m) => Some(m.id.clone()),
                        None => fhir_resource::Entity::find()
                            .filter(fhir_resource::Column::ResourceType.eq("Patient"))
                            .filter(fhir_resource::Column::FhirId.eq(id))
                            .one(&txn)
                            .await?
                            .and_then(|r| r.patient_id),
                    },
                    None => None,
                };
                Some(found.ok_or_else(|| ImportError::Conflict {
                    entry: p.entry.index,
                    message: format!(
                        "{}/{} names no patient that is in this file or already imported (import Patient.ndjson first)",
                        p.entry.resource_type, p.entry.id
                    ),
                })?)
            };
            owner_of.push(owner);
        }

        // Resource identity: which of these resources the database already has.
        let mut existing: HashMap<(String, String), fhir_resource::Model> = HashMap::new();
        let ids: Vec<String> = prepared.iter().map(|p| p.entry.id.clone()).collect();
        for chunk in ids.chunks(CHUNK) {
            for row in fhir_resource::Entity::find().filter(fhir_resource::Column::FhirId.is_in(chunk.to_vec())).all(&txn).await? {
                existing.insert((row.resource_type.clone(), row.fhir_id.clone()), row);
            }
        }
        let now = now_ms();
        let mut uuid_of: Vec<String> = Vec::with_capacity(prepared.len());
        let mut new_rows = Vec::new();
        let mut rewrite: Vec<usize> = Vec::new();
        let mut updated_ids: Vec<String> = Vec::new();
        for (n, p) in prepared.iter().enumerate() {
            let owner = owner_of[n].clone();
            match existing.get(&(p.entry.resource_type.clone(), p.entry.id.clone())) {
                Some(row) => {
                    if row.patient_id != owner {
                        return Err(ImportError::Conflict {
                            entry: p.entry.index,
                            message: format!("{}/{} is already part of another patient's record", p.entry.resource_type, p.entry.id),
                        });
                    }
                    uuid_of.push(row.id.clone());
                    if row.sha256 == p.sha256 {
                        summary.unchanged += 1;
                    } else {
                        fhir_resource::Entity::update_many()
                            .col_expr(fhir_resource::Column::Json, Expr::value(p.entry.raw.get()))
                            .col_expr(fhir_resource::Column::Sha256, Expr::value(p.sha256.clone()))
                            .col_expr(fhir_resource::Column::UpdatedAtMs, Expr::value(now))
                            .filter(fhir_resource::Column::Id.eq(row.id.as_str()))
                            .exec(&txn)
                            .await?;
                        summary.updated += 1;
                        updated_ids.push(row.id.clone());
                        rewrite.push(n);
                    }
                }
                None => {
                    let id = uuid::Uuid::new_v4().to_string();
                    new_rows.push(fhir_resource::ActiveModel {
                        id: Set(id.clone()),
                        resource_type: Set(p.entry.resource_type.clone()),
                        fhir_id: Set(p.entry.id.clone()),
                        patient_id: Set(owner),
                        json: Set(p.entry.raw.get().to_string()),
                        sha256: Set(p.sha256.clone()),
                        imported_at_ms: Set(now),
                        updated_at_ms: Set(now),
                    });
                    uuid_of.push(id);
                    summary.created += 1;
                    rewrite.push(n);
                }
            }
        }
        insert_all(&txn, new_rows, 8).await?;
        progress(file.entries.len() + file.entries.len() / 2, total);
        // The normalized rows of changed resources are rebuilt from their new JSON.
        for chunk in updated_ids.chunks(CHUNK) {
            let ids = chunk.to_vec();
            clinical_item::Entity::delete_many().filter(clinical_item::Column::ResourceId.is_in(ids.clone())).exec(&txn).await?;
            clinical_document::Entity::delete_many().filter(clinical_document::Column::ResourceId.is_in(ids.clone())).exec(&txn).await?;
            sensitive_tag::Entity::delete_many().filter(sensitive_tag::Column::ResourceId.is_in(ids.clone())).exec(&txn).await?;
            resource_identifier::Entity::delete_many().filter(resource_identifier::Column::ResourceId.is_in(ids)).exec(&txn).await?;
        }

        mark("store");
        let resolver = Resolver::new(&prepared, &uuid_of);
        let mut unresolved: BTreeMap<String, usize> = BTreeMap::new();
        for p in &prepared {
            for reference in &p.mapped.references {
                if resolver.resolve(&txn, reference).await?.is_none() && !reference.starts_with('#') {
                    *unresolved.entry(reference.clone()).or_default() += 1;
                }
            }
        }
        // Observations that a DiagnosticReport lists as its results.
        let mut report_of: HashMap<String, String> = HashMap::new();
        for (n, p) in prepared.iter().enumerate() {
            if let Some(item) = &p.mapped.item {
                for member in &item.members {
                    if let Some(target) = resolver.resolve(&txn, member).await? {
                        report_of.insert(target, uuid_of[n].clone());
                    }
                }
            }
        }

        mark("resolve");
        let mut items = Vec::new();
        let mut documents = Vec::new();
        let mut tags = Vec::new();
        let mut directory_ids = Vec::new();
        for &n in &rewrite {
            let p = &prepared[n];
            let resource_id = &uuid_of[n];
            let mut seen = HashSet::new();
            for (system, value) in p.identifiers.iter().filter(|pair| seen.insert(*pair)) {
                directory_ids.push(resource_identifier::ActiveModel {
                    resource_id: Set(resource_id.clone()),
                    system: Set(system.clone()),
                    value: Set(value.clone()),
                });
            }
            let Some(patient_id) = owner_of[n].as_ref() else { continue };
            let mut categories = Vec::new();
            // A medication given by reference takes its code and name from the Medication.
            let from_medication = p.mapped.item.as_ref().and_then(|i| i.medication_ref.as_deref()).and_then(|r| resolver.local(r)).and_then(|n| prepared[n].mapped.medication.clone());
            let item_with_medication = p.mapped.item.clone().map(|mut item| {
                if let Some((codes, display)) = from_medication {
                    item.codes = codes;
                    if item.display.is_empty() {
                        item.display = display;
                    }
                }
                item
            });
            if let Some(item) = &item_with_medication {
                let encounter_id = match &item.encounter_ref {
                    Some(r) => resolver.resolve(&txn, r).await?,
                    None => None,
                };
                categories = sensitive::categories(&item.codes);
                let first = item.codes.iter().find(|c| c.code.is_some());
                items.push(clinical_item::ActiveModel {
                    resource_id: Set(resource_id.clone()),
                    patient_id: Set(patient_id.clone()),
                    kind: Set(item.kind.to_string()),
                    display: Set(item.display.clone()),
                    codes: Set(JsonText(item.codes.clone())),
                    code_system: Set(first.and_then(|c| c.system.clone()).map(|s| clip(&s, 255))),
                    code: Set(first.and_then(|c| c.code.clone()).map(|s| clip(&s, 128))),
                    status: Set(item.status.as_deref().map(|s| clip(s, 64))),
                    category: Set(item.category.as_deref().map(|s| clip(s, 64))),
                    start_text: Set(item.start.as_ref().map(|d| clip(&d.text, 40))),
                    start_ms: Set(item.start.as_ref().map(|d| d.start_ms)),
                    end_text: Set(item.end.as_ref().map(|d| clip(&d.text, 40))),
                    end_ms: Set(item.end.as_ref().map(|d| d.start_ms)),
                    encounter_id: Set(encounter_id),
                    report_id: Set(report_of.get(resource_id).cloned()),
                    value_num: Set(item.value_num),
                    value_text: Set(item.value_text.clone()),
                    unit: Set(item.unit.as_deref().map(|s| clip(s, 64))),
                    ref_low: Set(item.ref_low),
                    ref_high: Set(item.ref_high),
                    ref_text: Set(item.ref_text.clone()),
                    interpretation: Set(item.interpretation.as_deref().map(|s| clip(s, 64))),
                    latest_reading: Set(false),
                });
            }
            for c in sensitive::security_categories(&p.mapped.security) {
                if !categories.contains(&c) {
                    categories.push(c);
                }
            }
            for (position, doc) in p.mapped.documents.iter().enumerate() {
                let encounter_id = match &doc.encounter_ref {
                    Some(r) => resolver.resolve(&txn, r).await?,
                    None => None,
                };
                let size = doc.text.as_ref().map(String::len).or(doc.data.as_ref().map(Vec::len)).unwrap_or(0);
                documents.push(clinical_document::ActiveModel {
                    id: Set(uuid::Uuid::new_v4().to_string()),
                    resource_id: Set(resource_id.clone()),
                    patient_id: Set(patient_id.clone()),
                    position: Set(position as i32),
                    title: Set(doc.title.clone()),
                    content_type: Set(clip(&doc.content_type, 128)),
                    date_text: Set(doc.date.as_ref().map(|d| clip(&d.text, 40))),
                    date_ms: Set(doc.date.as_ref().map(|d| d.start_ms)),
                    encounter_id: Set(encounter_id),
                    text_body: Set(doc.text.clone()),
                    data: Set(doc.data.clone()),
                    size: Set(size as i64),
                });
            }
            for category in categories {
                *summary.sensitive.entry(category.as_str().to_string()).or_default() += 1;
                tags.push(sensitive_tag::ActiveModel {
                    resource_id: Set(resource_id.clone()),
                    category: Set(category.as_str().to_string()),
                    patient_id: Set(patient_id.clone()),
                });
            }
        }
        mark("rows");
        insert_all(&txn, items, 23).await?;
        // Documents in small groups: one attachment may be large.
        while !documents.is_empty() {
            let rest = documents.split_off(std::cmp::min(20, documents.len()));
            clinical_document::Entity::insert_many(documents).exec_without_returning(&txn).await?;
            documents = rest;
        }
        insert_all(&txn, tags, 3).await?;
        insert_all(&txn, directory_ids, 3).await?;
        // The site's rules (psychotherapy note types, Part 2 programs) on these patients' notes
        // and encounters, old and new, in the same transaction.
        let touched: Vec<String> = owner_of.iter().flatten().cloned().collect::<HashSet<_>>().into_iter().collect();
        if !touched.is_empty() {
            mark_latest_readings(&txn, &touched).await?;
            let (notes, part2) = super::segment_rules::retag(&txn, Some(&touched)).await?;
            for (category, count) in [(Category::PsychotherapyNotes, notes), (Category::Part2, part2)] {
                if count > 0 {
                    summary.sensitive.insert(category.as_str().to_string(), count);
                }
            }
        }

        mark("insert");
        if !unresolved.is_empty() {
            let count: usize = unresolved.values().sum();
            let examples: Vec<&str> = unresolved.keys().take(LISTED_REFERENCES).map(String::as_str).collect();
            summary.warnings.push(format!(
                "{count} reference(s) to {} resource(s) not in this file or the database were kept as text (import the practitioner and organization files to resolve them), e.g. {}",
                unresolved.len(),
                examples.join(", ")
            ));
        }
        summary.patient = patient;

        let mut event = AuditEvent::new(AuditAction::RecordImport, Outcome::Success, self.request).detail(format!(
            "resources={} created={} updated={} unchanged={}",
            summary.resources, summary.created, summary.updated, summary.unchanged
        ));
        if let Some(actor) = self.actor {
            event = event.actor(actor);
        }
        if let Some(p) = &summary.patient {
            event = event.patient(&p.id).entity("patient", &p.id);
        }
        audit::record(&txn, event).await?;
        let run_summary = serde_json::to_value(&summary).map_err(|e| DbErr::Json(e.to_string()))?;
        insert_run(&txn, source, self.actor, patient_id.as_deref(), started, "imported", run_summary).await?;
        txn.commit().await?;
        mark("commit");
        tracing::debug!(?phases, resources = summary.resources, "import phases (microseconds since start)");
        progress(total, total);
        Ok(summary)
    }

    /// Finds or creates the patient record for the incoming Patient (see the module notes).
    async fn match_patient(
        &self,
        txn: &DatabaseTransaction,
        data: &PatientData,
        entry: &RawEntry<'_>,
        summary: &mut Summary,
    ) -> Result<ImportedPatient, ImportError> {
        let conflict = |message: String| ImportError::Conflict { entry: entry.index, message };
        let Some(birth_date) = data.birth_date.clone() else {
            return Err(conflict("the Patient has no birthDate, which record matching and every released page need".into()));
        };
        // 1. The same Patient resource imported before.
        let by_resource = fhir_resource::Entity::find()
            .filter(fhir_resource::Column::ResourceType.eq("Patient"))
            .filter(fhir_resource::Column::FhirId.eq(entry.id.as_str()))
            .one(txn)
            .await?
            .and_then(|r| r.patient_id);
        // 2. A record that holds one of its identifiers.
        let mut by_identifier: Vec<String> = Vec::new();
        for (system, value) in &data.identifiers {
            if let Some(row) = patient_identifier::Entity::find_by_id((system.clone(), value.clone())).one(txn).await?
                && !by_identifier.contains(&row.patient_id)
            {
                by_identifier.push(row.patient_id);
            }
        }
        if by_identifier.len() > 1 {
            return Err(conflict("the Patient's identifiers belong to two different records; resolve that on the duplicates list first".into()));
        }
        let matched = by_resource.or_else(|| by_identifier.first().cloned());
        let name = format!("{} {}", data.given, data.family).trim().to_string();
        let imported = match matched {
            Some(id) => {
                let Some(row) = patient_row::Entity::find_by_id(id.clone()).one(txn).await? else {
                    return Err(conflict("the matching record has disappeared".into()));
                };
                if row.site_code != self.site_code {
                    return Err(conflict("the matching record belongs to another site".into()));
                }
                patient_row::Entity::update_many()
                    .col_expr(patient_row::Column::FamilyName, Expr::value(clip(&data.family, 100)))
                    .col_expr(patient_row::Column::GivenNames, Expr::value(clip(&data.given, 100)))
                    .col_expr(patient_row::Column::BirthDate, Expr::value(birth_date.clone()))
                    .col_expr(patient_row::Column::Sex, Expr::value(data.sex.clone()))
                    .col_expr(patient_row::Column::Phone, Expr::value(data.phone.as_deref().map(|p| clip(p, 32))))
                    .col_expr(patient_row::Column::Email, Expr::value(data.email.as_deref().map(|e| clip(e, 254))))
                    .col_expr(patient_row::Column::DeceasedDate, Expr::value(data.deceased_date.clone()))
                    .filter(patient_row::Column::Id.eq(id.as_str()))
                    .exec(txn)
                    .await?;
                ImportedPatient { id, mrn: row.mrn, name, created: false }
            }
            None => {
                // Record numbers hold letters, digits and dashes: other characters become dashes.
                let usable = |text: &str| {
                    let cleaned: String = text.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(64).collect();
                    Mrn::parse(cleaned.trim_matches('-')).ok()
                };
                let mrn = data
                    .mrn
                    .as_deref()
                    .and_then(usable)
                    .or_else(|| usable(&entry.id))
                    .ok_or_else(|| conflict("the Patient has no usable record number (an identifier typed MR, or a resource id)".into()))?;
                let taken = patient_row::Entity::find()
                    .filter(patient_row::Column::SiteCode.eq(self.site_code))
                    .filter(patient_row::Column::Mrn.eq(mrn.as_str()))
                    .one(txn)
                    .await?;
                if taken.is_some() {
                    return Err(conflict(format!("record number {} already belongs to another record with other identifiers", mrn.as_str())));
                }
                let id = uuid::Uuid::new_v4().to_string();
                patient_row::Entity::insert(patient_row::ActiveModel {
                    id: Set(id.clone()),
                    site_code: Set(self.site_code.to_string()),
                    mrn: Set(mrn.as_str().to_string()),
                    family_name: Set(clip(&data.family, 100)),
                    given_names: Set(clip(&data.given, 100)),
                    birth_date: Set(birth_date.clone()),
                    sex: Set(data.sex.clone()),
                    phone: Set(data.phone.as_deref().map(|p| clip(p, 32))),
                    email: Set(data.email.as_deref().map(|e| clip(e, 254))),
                    deceased_date: Set(data.deceased_date.clone()),
                    created_at_ms: Set(now_ms()),
                })
                .exec(txn)
                .await?;
                let mut event = AuditEvent::new(AuditAction::PatientCreate, Outcome::Success, self.request).patient(&id).entity("patient", &id).detail("import");
                if let Some(actor) = self.actor {
                    event = event.actor(actor);
                }
                audit::record(txn, event).await?;
                // Same name and birth date, other identifiers: maybe the same person. HIM decides.
                let namesakes = patient_row::Entity::find()
                    .filter(patient_row::Column::SiteCode.eq(self.site_code))
                    .filter(patient_row::Column::BirthDate.eq(birth_date.as_str()))
                    .filter(Expr::expr(Func::lower(Expr::col(patient_row::Column::FamilyName))).eq(data.family.to_lowercase()))
                    .filter(Expr::expr(Func::lower(Expr::col(patient_row::Column::GivenNames))).eq(data.given.to_lowercase()))
                    .filter(patient_row::Column::Id.ne(id.as_str()))
                    .all(txn)
                    .await?;
                for other in namesakes {
                    duplicate_candidate::Entity::insert(duplicate_candidate::ActiveModel {
                        id: Set(uuid::Uuid::new_v4().to_string()),
                        patient_id: Set(id.clone()),
                        other_patient_id: Set(other.id),
                        reason: Set("same name and birth date, different identifiers".into()),
                        status: Set("open".into()),
                        created_at_ms: Set(now_ms()),
                        resolved_by_user_id: Set(None),
                        resolved_at_ms: Set(None),
                    })
                    .exec(txn)
                    .await?;
                    summary.possible_duplicates += 1;
                }
                ImportedPatient { id, mrn: mrn.as_str().to_string(), name, created: true }
            }
        };
        for (system, value) in &data.identifiers {
            if system.len() > 255 || value.len() > 255 {
                continue;
            }
            let known = patient_identifier::Entity::find_by_id((system.clone(), value.clone())).one(txn).await?;
            if known.is_none() {
                patient_identifier::Entity::insert(patient_identifier::ActiveModel {
                    system: Set(system.clone()),
                    value: Set(value.clone()),
                    patient_id: Set(imported.id.clone()),
                })
                .exec(txn)
                .await?;
            }
        }
        Ok(imported)
    }
}

async fn insert_run(
    txn: &DatabaseTransaction,
    source: &str,
    actor: Option<&str>,
    patient_id: Option<&str>,
    started: i64,
    status: &str,
    summary: serde_json::Value,
) -> Result<(), DbErr> {
    import_run::Entity::insert(import_run::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        source: Set(clip(source, 255)),
        actor_user_id: Set(actor.map(str::to_string)),
        patient_id: Set(patient_id.map(str::to_string)),
        started_at_ms: Set(started),
        finished_at_ms: Set(now_ms()),
        status: Set(status.to_string()),
        summary: Set(JsonText(summary)),
    })
    .exec(txn)
    .await?;
    Ok(())
}

/// At most `max` bytes, cut at a character boundary.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}
