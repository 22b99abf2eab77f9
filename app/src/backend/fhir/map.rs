//! From one parsed FHIR R4 resource to the rows the portal shows and filters: patient
//! demographics and identifiers, one `Item` per clinical resource (encounters, conditions,
//! procedures, medications, allergies, immunizations, observations, reports, care plans, goals,
//! devices, claims, explanations of benefit) and `Document`s for notes and attachments. Pure.
//!
//! Dates are checked (an impossible date refuses the bundle); a reference is kept as written and
//! resolved later; base64 that does not decode keeps the resource and adds a warning.

use super::dates::{self, FhirDate};
use base64::Engine;
use serde_json::Value;

/// A code with its system, as the record shows it ("never invent a display text").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

/// Demographics and identifiers of a `Patient`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientData {
    pub family: String,
    pub given: String,
    pub birth_date: Option<String>,
    pub sex: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub deceased_date: Option<String>,
    /// (system, value) pairs; the medical record number is the one typed `MR`.
    pub identifiers: Vec<(String, String)>,
    pub mrn: Option<String>,
}

/// One clinical entry of a list page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    pub kind: &'static str,
    /// Every coding of the main code, in order.
    pub codes: Vec<Coding>,
    /// What a person reads: the code's text, or its first coding's display.
    pub display: String,
    pub status: Option<String>,
    pub category: Option<String>,
    pub start: Option<FhirDate>,
    pub end: Option<FhirDate>,
    /// The encounter reference as written (`urn:uuid:...`, `Encounter/...`).
    pub encounter_ref: Option<String>,
    pub value_num: Option<f64>,
    pub value_text: Option<String>,
    pub unit: Option<String>,
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
    pub ref_text: Option<String>,
    pub interpretation: Option<String>,
    /// For a DiagnosticReport: its result observations' references.
    pub members: Vec<String>,
    /// For a medication given by reference (`medicationReference`): that reference, so the
    /// importer can take the code from the Medication resource.
    pub medication_ref: Option<String>,
    /// For an encounter: its service provider's reference (a Part 2 program is recognised by it,
    /// 42 CFR 2.11).
    pub provider_ref: Option<String>,
}

/// A note or attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub content_type: String,
    pub date: Option<FhirDate>,
    /// Decoded text for text/plain and text/html.
    pub text: Option<String>,
    /// Decoded bytes for anything else (PDFs, images).
    pub data: Option<Vec<u8>>,
    pub encounter_ref: Option<String>,
}

/// What one resource gives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapped {
    pub patient: Option<PatientData>,
    pub item: Option<Item>,
    pub documents: Vec<Document>,
    /// Every reference in the resource (`reference` fields), to resolve or warn about.
    pub references: Vec<String>,
    /// For a `Medication`: its code and name, for the requests that point at it.
    pub medication: Option<(Vec<Coding>, String)>,
    /// The resource's security labels (`meta.security`), e.g. a confidentiality code.
    pub security: Vec<Coding>,
    pub warnings: Vec<String>,
}

/// A field that cannot be imported: the JSON pointer and why.
pub type FieldError = (String, String);

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn codings(concept: Option<&Value>) -> Vec<Coding> {
    concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|c| Coding { system: s(c, "system"), code: s(c, "code"), display: s(c, "display") }).collect())
        .unwrap_or_default()
}

fn concept_text(concept: Option<&Value>) -> Option<String> {
    let concept = concept?;
    s(concept, "text").or_else(|| codings(Some(concept)).into_iter().find_map(|c| c.display.or(c.code)))
}

fn first_code(concept: Option<&Value>) -> Option<String> {
    codings(concept).into_iter().find_map(|c| c.code)
}

/// The first concept of an array field (`category`, `type`, ...).
fn first<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).and_then(Value::as_array).and_then(|a| a.first())
}

fn reference(v: Option<&Value>) -> Option<String> {
    v.and_then(|r| r.get("reference")).and_then(Value::as_str).map(str::to_string)
}

fn date_at(resource: &Value, pointer: &str) -> Result<Option<FhirDate>, FieldError> {
    match resource.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => dates::parse(text).map(Some).map_err(|e| (pointer.to_string(), e.to_string())),
        Some(_) => Err((pointer.to_string(), "a date must be a string".into())),
    }
}

/// The first of several possible date fields that is present.
fn date_of(resource: &Value, pointers: &[&str]) -> Result<Option<FhirDate>, FieldError> {
    for p in pointers {
        if let Some(d) = date_at(resource, p)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|n| n.is_finite())
}

/// Collects every `reference` string in the resource.
fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "reference" {
                    if let Some(r) = item.as_str() {
                        out.push(r.to_string());
                    }
                } else {
                    collect_references(item, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

/// Maps one resource. Unknown types map to nothing (kept in the lossless store only).
pub fn map(resource_type: &str, r: &Value) -> Result<Mapped, FieldError> {
    let mut out = Mapped::default();
    collect_references(r, &mut out.references);
    out.security = r
        .pointer("/meta/security")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|c| Coding { system: s(c, "system"), code: s(c, "code"), display: s(c, "display") }).collect())
        .unwrap_or_default();
    let item = |kind: &'static str, code: Option<&Value>| Item {
        kind,
        codes: codings(code),
        display: concept_text(code).unwrap_or_default(),
        ..Item::default()
    };
    match resource_type {
        "Patient" => out.patient = Some(patient(r)?),
        "Medication" => out.medication = Some((codings(r.get("code")), concept_text(r.get("code")).unwrap_or_default())),
        "Encounter" => {
            let mut i = item("encounter", first(r, "type"));
            i.status = s(r, "status");
            i.category = r.get("class").and_then(|c| s(c, "code"));
            i.start = date_at(r, "/period/start")?;
            i.end = date_at(r, "/period/end")?;
            i.value_text = concept_text(first(r, "reasonCode"));
            i.ref_text = r.get("serviceProvider").and_then(|p| s(p, "display"));
            i.provider_ref = reference(r.get("serviceProvider"));
            out.item = Some(i);
        }
        "Condition" => {
            let mut i = item("condition", r.get("code"));
            i.status = first_code(r.get("clinicalStatus"));
            i.category = first_code(first(r, "category"));
            i.start = date_of(r, &["/onsetDateTime", "/onsetPeriod/start", "/recordedDate"])?;
            i.end = date_of(r, &["/abatementDateTime", "/abatementPeriod/end"])?;
            i.encounter_ref = reference(r.get("encounter"));
            out.item = Some(i);
        }
        "Procedure" => {
            let mut i = item("procedure", r.get("code"));
            i.status = s(r, "status");
            i.start = date_of(r, &["/performedDateTime", "/performedPeriod/start"])?;
            i.end = date_at(r, "/performedPeriod/end")?;
            i.encounter_ref = reference(r.get("encounter"));
            i.value_text = concept_text(first(r, "reasonCode"));
            out.item = Some(i);
        }
        "MedicationRequest" | "MedicationAdministration" | "MedicationStatement" => {
            let kind = if resource_type == "MedicationRequest" { "medication_request" } else { "medication_administration" };
            let mut i = item(kind, r.get("medicationCodeableConcept"));
            if i.codes.is_empty() {
                i.medication_ref = reference(r.get("medicationReference"));
            }
            if i.display.is_empty() {
                i.display = r.get("medicationReference").and_then(|m| s(m, "display")).unwrap_or_default();
            }
            i.status = s(r, "status");
            i.category = s(r, "intent");
            i.start = date_of(r, &["/authoredOn", "/effectiveDateTime", "/effectivePeriod/start"])?;
            i.end = date_at(r, "/effectivePeriod/end")?;
            i.encounter_ref = reference(r.get("encounter")).or_else(|| reference(r.get("context")));
            i.value_text = first(r, "dosageInstruction").and_then(|d| s(d, "text"));
            out.item = Some(i);
        }
        "AllergyIntolerance" => {
            let mut i = item("allergy", r.get("code"));
            i.status = first_code(r.get("clinicalStatus"));
            i.category = r.get("category").and_then(Value::as_array).and_then(|a| a.first()).and_then(Value::as_str).map(str::to_string);
            i.start = date_of(r, &["/onsetDateTime", "/recordedDate"])?;
            i.interpretation = s(r, "criticality");
            i.value_text = r
                .get("reaction")
                .and_then(Value::as_array)
                .map(|reactions| {
                    reactions
                        .iter()
                        .flat_map(|re| re.get("manifestation").and_then(Value::as_array).cloned().unwrap_or_default())
                        .filter_map(|m| concept_text(Some(&m)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|t| !t.is_empty());
            out.item = Some(i);
        }
        "Immunization" => {
            let mut i = item("immunization", r.get("vaccineCode"));
            i.status = s(r, "status");
            i.start = date_of(r, &["/occurrenceDateTime", "/recorded"])?;
            i.encounter_ref = reference(r.get("encounter"));
            out.item = Some(i);
        }
        "Observation" => {
            let mut i = item("observation", r.get("code"));
            i.status = s(r, "status");
            i.category = first_code(first(r, "category"));
            i.start = date_of(r, &["/effectiveDateTime", "/effectivePeriod/start", "/effectiveInstant", "/issued"])?;
            i.encounter_ref = reference(r.get("encounter"));
            observation_value(r, &mut i);
            if let Some(range) = first(r, "referenceRange") {
                i.ref_low = number(range.pointer("/low/value"));
                i.ref_high = number(range.pointer("/high/value"));
                i.ref_text = s(range, "text");
            }
            i.interpretation = first_code(first(r, "interpretation"));
            out.item = Some(i);
        }
        "DiagnosticReport" => {
            let mut i = item("report", r.get("code"));
            i.status = s(r, "status");
            i.category = first_code(first(r, "category"));
            i.start = date_of(r, &["/effectiveDateTime", "/effectivePeriod/start", "/issued"])?;
            i.encounter_ref = reference(r.get("encounter"));
            i.members = r.get("result").and_then(Value::as_array).map(|a| a.iter().filter_map(|x| reference(Some(x))).collect()).unwrap_or_default();
            let date = i.start.clone();
            for (n, form) in r.get("presentedForm").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate() {
                let title = s(form, "title").unwrap_or_else(|| i.display.clone());
                if let Some(doc) = attachment(form, &format!("/presentedForm/{n}"), title, date.clone(), i.encounter_ref.clone(), &mut out.warnings) {
                    out.documents.push(doc);
                }
            }
            out.item = Some(i);
        }
        "DocumentReference" => {
            let mut i = item("document", r.get("type"));
            i.status = s(r, "status");
            i.category = first_code(first(r, "category"));
            i.start = date_of(r, &["/date", "/context/period/start"])?;
            i.encounter_ref = r.pointer("/context/encounter/0").and_then(|e| reference(Some(e)));
            let date = i.start.clone();
            for (n, content) in r.get("content").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate() {
                let Some(att) = content.get("attachment") else { continue };
                let title = s(att, "title").or_else(|| s(r, "description")).unwrap_or_else(|| i.display.clone());
                if let Some(doc) = attachment(att, &format!("/content/{n}/attachment"), title, date.clone(), i.encounter_ref.clone(), &mut out.warnings) {
                    out.documents.push(doc);
                }
            }
            out.item = Some(i);
        }
        "CarePlan" => {
            let categories = r.get("category").and_then(Value::as_array).cloned().unwrap_or_default();
            // Synthea puts the generic "assess-plan" category first and the plan itself second.
            let main = categories.iter().rev().find(|c| concept_text(Some(c)).is_some()).cloned();
            let mut i = item("care_plan", main.as_ref());
            i.status = s(r, "status");
            i.start = date_at(r, "/period/start")?;
            i.end = date_at(r, "/period/end")?;
            i.encounter_ref = reference(r.get("encounter"));
            i.value_text = r
                .get("activity")
                .and_then(Value::as_array)
                .map(|acts| acts.iter().filter_map(|a| concept_text(a.pointer("/detail/code"))).collect::<Vec<_>>().join(", "))
                .filter(|t| !t.is_empty());
            out.item = Some(i);
        }
        "Goal" => {
            let mut i = item("goal", r.get("description"));
            i.status = s(r, "lifecycleStatus");
            i.start = date_of(r, &["/startDate", "/statusDate"])?;
            i.end = date_at(r, "/target/0/dueDate")?;
            out.item = Some(i);
        }
        "Device" => {
            let mut i = item("device", r.get("type"));
            if i.display.is_empty() {
                i.display = first(r, "deviceName").and_then(|d| s(d, "name")).unwrap_or_default();
            }
            i.status = s(r, "status");
            i.start = date_of(r, &["/manufactureDate"])?;
            i.end = date_of(r, &["/expirationDate"])?;
            i.value_text = first(r, "udiCarrier").and_then(|u| s(u, "deviceIdentifier"));
            out.item = Some(i);
        }
        "Claim" | "ExplanationOfBenefit" => {
            let kind = if resource_type == "Claim" { "claim" } else { "explanation_of_benefit" };
            let mut i = item(kind, r.get("type"));
            i.status = s(r, "status");
            i.start = date_at(r, "/billablePeriod/start")?;
            i.end = date_at(r, "/billablePeriod/end")?;
            i.value_num = number(r.pointer("/total/value")).or_else(|| number(r.pointer("/total/0/amount/value")));
            i.unit = s(r.pointer("/total").unwrap_or(&Value::Null), "currency").or_else(|| r.pointer("/total/0/amount/currency").and_then(Value::as_str).map(str::to_string));
            // ICD-10 and CPT codes, where an EHR export has them, sit in the diagnoses and items.
            for d in r.get("diagnosis").and_then(Value::as_array).cloned().unwrap_or_default() {
                i.codes.extend(codings(d.get("diagnosisCodeableConcept")));
            }
            for it in r.get("item").and_then(Value::as_array).cloned().unwrap_or_default() {
                i.codes.extend(codings(it.get("productOrService")));
            }
            out.item = Some(i);
        }
        _ => {}
    }
    Ok(out)
}

fn observation_value(r: &Value, i: &mut Item) {
    if let Some(q) = r.get("valueQuantity") {
        i.value_num = number(q.get("value"));
        i.unit = s(q, "unit").or_else(|| s(q, "code"));
    } else if let Some(c) = r.get("valueCodeableConcept") {
        i.value_text = concept_text(Some(c));
    } else if let Some(v) = r.get("valueString").and_then(Value::as_str) {
        i.value_text = Some(v.to_string());
    } else if let Some(v) = r.get("valueBoolean").and_then(Value::as_bool) {
        i.value_text = Some(if v { "yes" } else { "no" }.into());
    } else if let Some(v) = number(r.get("valueInteger")) {
        i.value_num = Some(v);
    } else if let Some(components) = r.get("component").and_then(Value::as_array) {
        // A panel such as blood pressure: "Systolic 120 mm[Hg], Diastolic 80 mm[Hg]".
        let parts: Vec<String> = components
            .iter()
            .filter_map(|c| {
                let name = concept_text(c.get("code"))?;
                let q = c.get("valueQuantity")?;
                let value = number(q.get("value"))?;
                let unit = s(q, "unit").or_else(|| s(q, "code")).unwrap_or_default();
                Some(format!("{name}: {} {unit}", trim_number(value)).trim_end().to_string())
            })
            .collect();
        if !parts.is_empty() {
            i.value_text = Some(parts.join("; "));
        }
    }
}

/// `12.0` as `12`, `7.25` as `7.25`.
pub fn trim_number(value: f64) -> String {
    let text = format!("{value}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// An attachment's content: text decoded for text types, bytes kept for the rest; a link
/// (`url`) without data is noted as a document without content.
fn attachment(
    att: &Value,
    pointer: &str,
    title: String,
    date: Option<FhirDate>,
    encounter_ref: Option<String>,
    warnings: &mut Vec<String>,
) -> Option<Document> {
    let content_type = s(att, "contentType").unwrap_or_else(|| "application/octet-stream".into());
    let data = s(att, "data")?;
    let bytes = match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
        Ok(b) => b,
        Err(_) => {
            warnings.push(format!("{pointer}/data is not valid base64: the resource is kept, its attachment is not shown"));
            return None;
        }
    };
    let base = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (text, data) = if base == "text/plain" || base == "text/html" || base == "text/markdown" {
        match String::from_utf8(bytes) {
            Ok(t) => (Some(t), None),
            Err(e) => (Some(String::from_utf8_lossy(e.as_bytes()).into_owned()), None),
        }
    } else {
        (None, Some(bytes))
    };
    Some(Document { title, content_type, date, text, data, encounter_ref })
}

fn patient(r: &Value) -> Result<PatientData, FieldError> {
    let official = r
        .get("name")
        .and_then(Value::as_array)
        .and_then(|names| names.iter().find(|n| s(n, "use").as_deref() == Some("official")).or_else(|| names.first()))
        .cloned()
        .unwrap_or(Value::Null);
    let family = s(&official, "family").unwrap_or_default();
    let given = official
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let birth_date = match date_at(r, "/birthDate")? {
        Some(d) if d.text.len() == 10 => Some(d.text),
        Some(_) => return Err(("/birthDate".into(), "a birth date needs a day (YYYY-MM-DD)".into())),
        None => None,
    };
    let deceased_date = date_at(r, "/deceasedDateTime")?.and_then(|d| dates::day(&d));
    let telecom = r.get("telecom").and_then(Value::as_array).cloned().unwrap_or_default();
    let contact = |system: &str| telecom.iter().find(|t| s(t, "system").as_deref() == Some(system)).and_then(|t| s(t, "value"));
    let mut identifiers = Vec::new();
    let mut mrn = None;
    for id in r.get("identifier").and_then(Value::as_array).cloned().unwrap_or_default() {
        let (Some(system), Some(value)) = (s(&id, "system"), s(&id, "value")) else { continue };
        if mrn.is_none() && first_code(id.get("type")).as_deref() == Some("MR") {
            mrn = Some(value.clone());
        }
        identifiers.push((system, value));
    }
    Ok(PatientData {
        family,
        given,
        birth_date,
        sex: s(r, "gender").unwrap_or_else(|| "unknown".into()),
        phone: contact("phone"),
        email: contact("email"),
        deceased_date,
        identifiers,
        mrn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lab_result_keeps_value_unit_range_and_flag() {
        let obs = json!({
            "resourceType": "Observation", "id": "o", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}], "text": "Glucose"},
            "effectiveDateTime": "2020-01-02T03:04:05+01:00",
            "valueQuantity": {"value": 105.5, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            "referenceRange": [{"low": {"value": 70}, "high": {"value": 99}}],
            "interpretation": [{"coding": [{"code": "H"}]}],
            "encounter": {"reference": "urn:uuid:e1"}
        });
        let m = map("Observation", &obs).expect("maps");
        let i = m.item.expect("an item");
        assert_eq!(i.kind, "observation");
        assert_eq!(i.display, "Glucose");
        assert_eq!(i.codes[0].system.as_deref(), Some("http://loinc.org"));
        assert_eq!(i.category.as_deref(), Some("laboratory"));
        assert_eq!((i.value_num, i.unit.as_deref()), (Some(105.5), Some("mg/dL")));
        assert_eq!((i.ref_low, i.ref_high), (Some(70.0), Some(99.0)));
        assert_eq!(i.interpretation.as_deref(), Some("H"));
        assert_eq!(i.encounter_ref.as_deref(), Some("urn:uuid:e1"));
        assert_eq!(m.references, vec!["urn:uuid:e1".to_string()]);
    }

    #[test]
    fn an_impossible_date_names_its_field() {
        let c = json!({"resourceType": "Condition", "id": "c", "onsetDateTime": "2023-02-30"});
        let (pointer, _) = map("Condition", &c).expect_err("refused");
        assert_eq!(pointer, "/onsetDateTime");
    }

    #[test]
    fn a_note_is_decoded_and_broken_base64_is_a_warning() {
        let note = json!({"resourceType": "DocumentReference", "id": "d", "date": "2020-01-01T00:00:00Z",
            "type": {"coding": [{"system": "http://loinc.org", "code": "34117-2", "display": "History and physical note"}]},
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": "TGXDs24gbm90ZQ=="}},
                        {"attachment": {"contentType": "application/pdf", "data": "%%%not base64"}}]});
        let m = map("DocumentReference", &note).expect("maps");
        assert_eq!(m.documents.len(), 1);
        assert_eq!(m.documents[0].text.as_deref(), Some("León note"));
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0].contains("/content/1/attachment/data"));
    }

    #[test]
    fn a_patient_gives_names_identifiers_and_the_record_number() {
        let p = json!({"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1929-03-21",
            "deceasedDateTime": "2020-03-25T10:00:00+01:00",
            "name": [{"use": "official", "family": "O'Hara248", "given": ["Zandra428", "Ann"]}],
            "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": "abc"},
                           {"type": {"coding": [{"code": "MR"}]}, "system": "http://hospital.smarthealthit.org", "value": "mrn-1"}]});
        let d = map("Patient", &p).expect("maps").patient.expect("patient");
        assert_eq!((d.family.as_str(), d.given.as_str()), ("O'Hara248", "Zandra428 Ann"));
        assert_eq!(d.birth_date.as_deref(), Some("1929-03-21"));
        assert_eq!(d.deceased_date.as_deref(), Some("2020-03-25"));
        assert_eq!(d.mrn.as_deref(), Some("mrn-1"));
        assert_eq!(d.identifiers.len(), 2);
    }

    #[test]
    fn blood_pressure_panels_read_as_one_value() {
        let bp = json!({"resourceType": "Observation", "id": "bp", "code": {"text": "Blood pressure panel"},
            "effectiveDateTime": "2020-01-01",
            "component": [{"code": {"text": "Systolic"}, "valueQuantity": {"value": 120.0, "unit": "mm[Hg]"}},
                          {"code": {"text": "Diastolic"}, "valueQuantity": {"value": 80, "unit": "mm[Hg]"}}]});
        let i = map("Observation", &bp).expect("maps").item.expect("item");
        assert_eq!(i.value_text.as_deref(), Some("Systolic: 120 mm[Hg]; Diastolic: 80 mm[Hg]"));
    }
}
