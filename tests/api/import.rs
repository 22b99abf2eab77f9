//! FHIR R4 import on both databases: the eight shared Synthea bundles with their counts checked
//! against `manifest.csv`, idempotent re-import, patient matching (identifier, or a possible
//! duplicate), sensitive tags, and every bad input the issue lists: each a clear error naming
//! where, with nothing of that file written.

use app::backend::access::import::{ImportError, Summary};
use app::backend::fhir::parse::{Limits, ParseError};
use portal_tests::{TestApp, spawn_app};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea");

async fn import_with(app: &TestApp, name: &str, bytes: &[u8], limits: Limits) -> Result<Summary, ImportError> {
    app.system().importer(limits).import(name, bytes, &|_, _| {}).await
}

async fn import(app: &TestApp, name: &str, bytes: &[u8]) -> Result<Summary, ImportError> {
    import_with(app, name, bytes, Limits::default()).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app.db.query_one_raw(Statement::from_string(backend, sql.to_string())).await.expect("query").expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

async fn support(app: &TestApp) {
    for file in ["0-hospitalInformation1625911868739.json", "0-practitionerInformation1625911868739.json"] {
        let bytes = std::fs::read(format!("{FIXTURES}/support/{file}")).expect("support file");
        let summary = import(app, file, &bytes).await.expect("directory bundles import");
        assert!(summary.patient.is_none());
    }
}

fn manifest() -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/manifest.csv")).expect("manifest");
    let mut lines = text.lines();
    let header: Vec<String> = split_csv(lines.next().expect("header"));
    lines.filter(|l| !l.is_empty()).map(|l| header.iter().cloned().zip(split_csv(l)).collect()).collect()
}

/// A CSV line with quoted fields (the manifest's notes contain commas).
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[tokio::test]
async fn all_eight_shared_bundles_import_with_the_counts_of_the_manifest() {
    let app = spawn_app().await;
    support(&app).await;
    let rows = manifest();
    assert_eq!(rows.len(), 8);
    for row in rows {
        let file = &row["file"];
        let bytes = std::fs::read(format!("{FIXTURES}/{file}")).expect("fixture");
        let summary = import(&app, file, &bytes).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(summary.resources.to_string(), row["entries"], "{file}");
        assert_eq!(summary.bundle_type, row["bundle_type"], "{file}");
        for (column, expected) in row.iter().filter(|(k, _)| k.starts_with("count_")) {
            let kind = column.trim_start_matches("count_");
            let got = summary.per_type.get(kind).copied().unwrap_or(0);
            assert_eq!(got.to_string(), *expected, "{file}: {kind}");
        }
        let patient = summary.patient.clone().expect("a patient");
        assert_eq!(patient.name, row["patient_name"], "{file}");
        assert!(patient.created);
        let p = &patient.id;
        let (birth, sex, deceased): (String, String, Option<String>) = {
            let backend = app.db.get_database_backend();
            let r = app
                .db
                .query_one_raw(Statement::from_string(backend, format!("SELECT birth_date, sex, deceased_date FROM patient WHERE id = '{p}'")))
                .await
                .expect("query")
                .expect("row");
            (r.try_get_by_index(0).expect("birth"), r.try_get_by_index(1).expect("sex"), r.try_get_by_index(2).expect("deceased"))
        };
        assert_eq!(birth, row["birth_date"], "{file}");
        assert_eq!(sex, row["gender"], "{file}");
        assert_eq!(deceased.as_deref().unwrap_or(""), row["deceased_date"], "{file}");

        // Every resource kept whole; directory resources (inline in the older bundles) belong to no one.
        let directory: usize = ["Organization", "Practitioner", "Location", "PractitionerRole", "Medication"]
            .iter()
            .map(|t| summary.per_type.get(*t).copied().unwrap_or(0))
            .sum();
        let stored = count(&app, &format!("SELECT COUNT(*) FROM fhir_resource WHERE patient_id = '{p}'")).await;
        assert_eq!(stored as usize, summary.resources - directory, "{file}");
        let notes = count(&app, &format!(
            "SELECT COUNT(*) FROM clinical_document d JOIN fhir_resource r ON r.id = d.resource_id WHERE d.patient_id = '{p}' AND r.resource_type = 'DocumentReference' AND d.text_body IS NOT NULL"
        )).await;
        assert_eq!(notes.to_string(), row["docref_with_base64"], "{file}: notes decoded as text");
        let labs = count(&app, &format!(
            "SELECT COUNT(*) FROM clinical_item WHERE patient_id = '{p}' AND kind = 'observation' AND category = 'laboratory' AND value_num IS NOT NULL"
        )).await;
        assert_eq!(labs.to_string(), row["lab_obs_with_valueQuantity"], "{file}: lab results with a value");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM patient").await, 8);
    // Medications given by reference (`medicationReference`) carry the Medication's code and name.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM clinical_item WHERE kind LIKE 'medication%' AND (codes = '[]' OR display = '')").await, 0);
    // The support files resolved the conditional references: every encounter of the blaze
    // bundles found its practitioner, so no warning was left.
    let runs = count(&app, "SELECT COUNT(*) FROM import_run WHERE status = 'imported'").await;
    assert_eq!(runs, 10);
    assert_eq!(app.audit("record_import", "success").await.len(), 10);
}

async fn rows(app: &TestApp) -> (i64, i64, i64, i64) {
    (
        count(app, "SELECT COUNT(*) FROM fhir_resource").await,
        count(app, "SELECT COUNT(*) FROM clinical_item").await,
        count(app, "SELECT COUNT(*) FROM clinical_document").await,
        count(app, "SELECT COUNT(*) FROM patient").await,
    )
}

#[tokio::test]
async fn importing_the_same_bundle_again_changes_nothing_and_duplicates_nothing() {
    let app = spawn_app().await;
    let file = "ab5537a3-8608-5f56-53f5-d10b00eb4680.json";
    let bytes = std::fs::read(format!("{FIXTURES}/{file}")).expect("fixture");
    let first = import(&app, file, &bytes).await.expect("first import");
    let before = rows(&app).await;
    let second = import(&app, file, &bytes).await.expect("second import");
    assert_eq!((second.created, second.updated, second.unchanged), (0, 0, first.resources));
    assert_eq!(second.patient.as_ref().map(|p| (&p.id, p.created)), first.patient.as_ref().map(|p| (&p.id, false)));
    assert_eq!(rows(&app).await, before);

    // A changed resource is updated in place: still one row, new content.
    let text = String::from_utf8(bytes).expect("UTF-8");
    let mut bundle: Value = serde_json::from_str(&text).expect("JSON");
    let entries = bundle["entry"].as_array_mut().expect("entries");
    let condition = entries.iter_mut().find(|e| e["resource"]["resourceType"] == "Condition").expect("a condition");
    condition["resource"]["code"]["text"] = json!("Renamed by the source system");
    let third = import(&app, file, bundle.to_string().as_bytes()).await.expect("third import");
    // Re-serialising changed the bytes of every resource; what counts is that nothing is duplicated.
    assert_eq!(third.created, 0);
    assert_eq!(rows(&app).await, before);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM clinical_item WHERE display = 'Renamed by the source system'").await, 1);
}

/// A small, valid bundle: one patient and what `extra` adds.
fn bundle(patient_id: &str, identifier: &str, family: &str, extra: Vec<Value>) -> Value {
    let mut entries = vec![json!({"fullUrl": format!("urn:uuid:{patient_id}"), "resource": {
        "resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1970-05-06",
        "name": [{"use": "official", "family": family, "given": ["Ana"]}],
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                        "system": "urn:test:mrn", "value": identifier}]}})];
    entries.extend(extra.into_iter().map(|r| json!({"resource": r})));
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}

fn condition(id: &str, system: &str, code: &str, patient: &str) -> Value {
    json!({"resourceType": "Condition", "id": id, "subject": {"reference": format!("urn:uuid:{patient}")},
           "code": {"coding": [{"system": system, "code": code, "display": "test"}]}, "onsetDateTime": "2020-01-01T10:00:00Z"})
}

#[tokio::test]
async fn patients_match_on_identifiers_and_namesakes_go_to_the_duplicates_list() {
    let app = spawn_app().await;
    let first = import(&app, "a.json", bundle("p-1", "MRN-1", "Lopez", vec![]).to_string().as_bytes()).await.expect("first");
    let first_id = first.patient.expect("patient").id;

    // Another file, another resource id, but the same identifier: the same record, updated.
    let again = import(&app, "b.json", bundle("p-9", "MRN-1", "López", vec![]).to_string().as_bytes()).await.expect("same identifier");
    let again = again.patient.expect("patient");
    assert_eq!((again.id.as_str(), again.created), (first_id.as_str(), false));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM patient").await, 1);

    // Same name and birth date, other identifier: a new record AND a row for HIM, never a merge.
    let namesake = import(&app, "c.json", bundle("p-2", "MRN-2", "López", vec![]).to_string().as_bytes()).await.expect("namesake");
    assert_eq!(namesake.possible_duplicates, 1);
    let second = namesake.patient.expect("patient");
    assert!(second.created);
    assert_ne!(second.id, first_id);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM patient").await, 2);
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM duplicate_candidate WHERE patient_id = '{}' AND other_patient_id = '{first_id}' AND status = 'open'", second.id)).await,
        1
    );
}

#[tokio::test]
async fn sensitive_categories_are_tagged_from_codes() {
    let app = spawn_app().await;
    let extra = vec![
        condition("c-mh", "http://hl7.org/fhir/sid/icd-10-cm", "F32.9", "p-1"),
        condition("c-sud", "http://hl7.org/fhir/sid/icd-10-cm", "F10.20", "p-1"),
        condition("c-hiv", "http://snomed.info/sct", "86406008", "p-1"),
        condition("c-flu", "http://snomed.info/sct", "6142004", "p-1"),
    ];
    let summary = import(&app, "s.json", bundle("p-1", "MRN-1", "Lopez", extra).to_string().as_bytes()).await.expect("imports");
    assert_eq!(summary.sensitive.get("mental_health"), Some(&1));
    assert_eq!(summary.sensitive.get("substance_use"), Some(&1));
    assert_eq!(summary.sensitive.get("hiv_sti"), Some(&1));
    let tagged = |id: &'static str, category: &'static str| {
        let app = &app;
        async move {
            count(app, &format!("SELECT COUNT(*) FROM sensitive_tag t JOIN fhir_resource r ON r.id = t.resource_id WHERE r.fhir_id = '{id}' AND t.category = '{category}'")).await
        }
    };
    assert_eq!(tagged("c-mh", "mental_health").await, 1);
    assert_eq!(tagged("c-sud", "substance_use").await, 1);
    assert_eq!(tagged("c-hiv", "hiv_sti").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sensitive_tag t JOIN fhir_resource r ON r.id = t.resource_id WHERE r.fhir_id = 'c-flu'").await, 0);
}

#[tokio::test]
async fn ndjson_imports_like_a_bundle() {
    let app = spawn_app().await;
    let b = bundle("p-1", "MRN-1", "Lopez", vec![condition("c-1", "http://snomed.info/sct", "6142004", "p-1")]);
    let lines: Vec<String> = b["entry"].as_array().expect("entries").iter().map(|e| e["resource"].to_string()).collect();
    let summary = import(&app, "export.ndjson", lines.join("\n").as_bytes()).await.expect("imports");
    assert_eq!(summary.bundle_type, "ndjson");
    assert_eq!(summary.resources, 2);
}

/// Imports `bytes`, expects a refusal, and checks that nothing of the file was written and the
/// attempt was audited and recorded.
async fn refused(app: &TestApp, bytes: &[u8], limits: Limits) -> ImportError {
    let failures_before = app.audit("record_import", "failure").await.len();
    let error = import_with(app, "bad.json", bytes, limits).await.expect_err("refused");
    assert!(error.is_input_error(), "{error}");
    assert_eq!(count(app, "SELECT COUNT(*) FROM patient").await, 0, "{error}");
    assert_eq!(count(app, "SELECT COUNT(*) FROM fhir_resource").await, 0, "{error}");
    assert_eq!(app.audit("record_import", "failure").await.len(), failures_before + 1);
    error
}

#[tokio::test]
async fn every_bad_input_is_refused_with_where_and_writes_nothing() {
    let app = spawn_app().await;
    let ok = bundle("p-1", "MRN-1", "Lopez", vec![]).to_string();
    let limits = Limits::default();

    let e = refused(&app, b"this is not JSON", limits).await;
    assert!(matches!(e, ImportError::Parse(ParseError::NotJson { line: 1, .. })), "{e}");
    let e = refused(&app, &ok.as_bytes()[..ok.len() / 2], limits).await;
    assert!(matches!(e, ImportError::Parse(ParseError::NotJson { .. })), "truncated: {e}");
    assert!(matches!(refused(&app, b"", limits).await, ImportError::Parse(ParseError::Empty)));
    let utf16: Vec<u8> = ok.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    assert!(matches!(refused(&app, &utf16, limits).await, ImportError::Parse(ParseError::Utf16)));
    let latin1 = ok.replace("Lopez", "L\u{f3}pez").replace('\u{f3}', "\u{1}");
    let latin1: Vec<u8> = latin1.bytes().map(|b| if b == 1 { 0xF3 } else { b }).collect();
    assert!(matches!(refused(&app, &latin1, limits).await, ImportError::Parse(ParseError::NotUtf8 { .. })));
    // A UTF-8 byte-order mark (as Windows tools write) is accepted.
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), ok.as_bytes()].concat();
    let bom = import(&app, "bom.json", &with_bom).await.expect("a BOM is accepted");
    let bom_patient = bom.patient.expect("patient").id;
    let backend = app.db.get_database_backend();
    app.db.execute_raw(Statement::from_string(backend, format!("DELETE FROM fhir_resource WHERE patient_id = '{bom_patient}'"))).await.expect("clean up");
    app.db.execute_raw(Statement::from_string(backend, format!("DELETE FROM patient_identifier WHERE patient_id = '{bom_patient}'"))).await.expect("clean up");
    app.db.execute_raw(Statement::from_string(backend, format!("DELETE FROM patient WHERE id = '{bom_patient}'"))).await.expect("clean up");
    let patient_only = json!({"resourceType": "Patient", "id": "p"}).to_string();
    assert!(matches!(refused(&app, patient_only.as_bytes(), limits).await, ImportError::Parse(ParseError::NotBundle { .. })));
    let stu3 = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "ProcedureRequest", "id": "x"}}]});
    let e = refused(&app, stu3.to_string().as_bytes(), limits).await;
    assert!(e.to_string().contains("STU3"), "{e}");
    let no_patient = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": condition("c", "http://snomed.info/sct", "1", "x")}]});
    assert!(matches!(refused(&app, no_patient.to_string().as_bytes(), limits).await, ImportError::NoPatient));
    let mut two = bundle("p-1", "MRN-1", "Lopez", vec![]);
    let second = bundle("p-2", "MRN-2", "Lopez", vec![])["entry"][0].clone();
    two["entry"].as_array_mut().expect("entries").push(second);
    assert!(matches!(refused(&app, two.to_string().as_bytes(), limits).await, ImportError::SeveralPatients(2)));

    // An impossible date in the last entry: the patient before it is not written either.
    let bad_date = bundle("p-1", "MRN-1", "Lopez", vec![json!({"resourceType": "Condition", "id": "c", "onsetDateTime": "2023-02-30"})]);
    let e = refused(&app, bad_date.to_string().as_bytes(), limits).await;
    assert!(matches!(&e, ImportError::Parse(ParseError::Field { entry: 1, pointer, .. }) if pointer == "/onsetDateTime"), "{e}");
    let dup = bundle("p-1", "MRN-1", "Lopez", vec![condition("c", "s", "1", "p-1"), condition("c", "s", "2", "p-1")]);
    assert!(matches!(refused(&app, dup.to_string().as_bytes(), limits).await, ImportError::Parse(ParseError::Entry { entry: 2, .. })));
    let deep = bundle("p-1", "MRN-1", "Lopez", vec![json!({"resourceType": "Basic", "id": "b", "x": serde_json::from_str::<Value>(&format!("{}1{}", "[".repeat(60), "]".repeat(60))).expect("nested")})]);
    assert!(matches!(refused(&app, deep.to_string().as_bytes(), limits).await, ImportError::Parse(ParseError::Field { entry: 1, .. })));
    let small = Limits { max_string_bytes: 2048, max_file_bytes: 100_000, ..Limits::default() };
    let long = bundle("p-1", "MRN-1", "Lopez", vec![json!({"resourceType": "Basic", "id": "b", "text": "x".repeat(3000)})]);
    assert!(matches!(refused(&app, long.to_string().as_bytes(), small).await, ImportError::Parse(ParseError::Field { entry: 1, .. })));
    let big = bundle("p-1", "MRN-1", "Lopez", vec![json!({"resourceType": "Basic", "id": "b", "text": "x".repeat(1500)}); 1]).to_string();
    let tiny = Limits { max_file_bytes: 1024, ..Limits::default() };
    assert!(matches!(refused(&app, big.as_bytes(), tiny).await, ImportError::Parse(ParseError::TooLarge { .. })));
    let huge_number = ok.replace("\"gender\":\"female\"", "\"gender\":\"female\",\"x\":1e400");
    assert!(matches!(refused(&app, huge_number.as_bytes(), limits).await, ImportError::Parse(_)));
    // Deeper than any parser's own guard: an error, not a stack overflow.
    let abyss = format!("{{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"x\":{}}}", "[".repeat(200_000));
    assert!(matches!(refused(&app, abyss.as_bytes(), limits).await, ImportError::Parse(ParseError::NotJson { .. })));
}

#[tokio::test]
async fn a_conflict_after_the_patient_was_written_rolls_the_whole_file_back() {
    let app = spawn_app().await;
    import(&app, "a.json", bundle("p-1", "MRN-1", "Lopez", vec![condition("shared-id", "s", "1", "p-1")]).to_string().as_bytes())
        .await
        .expect("first patient");
    // A second patient's file claims a resource that is part of the first patient's record.
    let error = import(&app, "b.json", bundle("p-2", "MRN-2", "Other", vec![condition("shared-id", "s", "1", "p-2")]).to_string().as_bytes())
        .await
        .expect_err("conflict");
    assert!(matches!(&error, ImportError::Conflict { entry: 1, message } if message.contains("another patient")), "{error}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM patient").await, 1, "the second patient was rolled back");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM import_run WHERE status = 'failed'").await, 1);
}

#[tokio::test]
async fn dangling_references_and_broken_attachments_import_with_warnings() {
    let app = spawn_app().await;
    let extra = vec![
        json!({"resourceType": "Encounter", "id": "e", "status": "finished", "class": {"code": "AMB"},
               "participant": [{"individual": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|999"}}],
               "period": {"start": "2020-01-01T10:00:00Z"}}),
        json!({"resourceType": "DocumentReference", "id": "d", "status": "current", "date": "2020-01-01T10:00:00Z",
               "content": [{"attachment": {"contentType": "application/pdf", "data": "@@@ not base64"}}]}),
    ];
    let summary = import(&app, "w.json", bundle("p-1", "MRN-1", "Lopez", extra).to_string().as_bytes()).await.expect("imports");
    assert_eq!(summary.created, 3);
    assert!(summary.warnings.iter().any(|w| w.contains("not valid base64")), "{:?}", summary.warnings);
    assert!(summary.warnings.iter().any(|w| w.contains("Practitioner?identifier=")), "{:?}", summary.warnings);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fhir_resource WHERE fhir_id = 'd'").await, 1, "the resource is kept");
}

#[tokio::test]
async fn bulk_ndjson_holds_many_patients_and_resources_that_name_them() {
    let app = spawn_app().await;
    let patient = |id: &str, mrn: &str, family: &str| {
        json!({"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1980-01-01",
               "name": [{"family": family, "given": ["Eve"]}],
               "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:bulk", "value": mrn}]})
        .to_string()
    };
    // A .ndjson file of a single line is one resource, not a misplaced top-level one.
    let single = import(&app, "One.ndjson", patient("bp-0", "B-0", "Clark").as_bytes()).await.expect("one line");
    assert_eq!(single.patients, 1);
    let patients = [patient("bp-1", "B-1", "Adams"), patient("bp-2", "B-2", "Brown")].join("\n");
    let summary = import(&app, "Patient.ndjson", patients.as_bytes()).await.expect("Patient.ndjson");
    assert_eq!(summary.patients, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM patient").await, 3);

    let observation = |id: &str, patient: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final", "subject": {"reference": format!("Patient/{patient}")},
               "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body height"}]},
               "effectiveDateTime": "2020-01-01T00:00:00Z", "valueQuantity": {"value": 170, "unit": "cm"}})
        .to_string()
    };
    let observations = [observation("o-1", "bp-1"), observation("o-2", "bp-2"), observation("o-3", "bp-2")].join("\n");
    import(&app, "Observation.ndjson", observations.as_bytes()).await.expect("Observation.ndjson");
    let owned = |id: &'static str| {
        let app = &app;
        async move {
            count(app, &format!("SELECT COUNT(*) FROM clinical_item i JOIN fhir_resource p ON p.patient_id = i.patient_id AND p.resource_type = 'Patient' WHERE p.fhir_id = '{id}'")).await
        }
    };
    assert_eq!(owned("bp-1").await, 1);
    assert_eq!(owned("bp-2").await, 2);

    // A resource naming a patient nobody imported: refused, nothing written.
    let orphan = [observation("o-4", "bp-1"), observation("o-5", "nobody")].join("\n");
    let error = import(&app, "More.ndjson", orphan.as_bytes()).await.expect_err("an unknown patient");
    assert!(matches!(&error, ImportError::Conflict { entry: 1, message } if message.contains("Patient.ndjson first")), "{error}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fhir_resource WHERE fhir_id = 'o-4'").await, 0, "all or nothing");
}
