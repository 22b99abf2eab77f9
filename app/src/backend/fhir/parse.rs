//! Reading one FHIR R4 file: a `Bundle` (transaction, batch, collection, document, searchset) or
//! NDJSON (one resource per line, as bulk data export writes it). Pure: bytes in, resources out,
//! or one error that names the entry and the JSON pointer (or the line) at fault.
//!
//! Memory: the file's bytes are held once; each resource is kept as the exact text it had in the
//! file (`RawValue`, borrowed from those bytes), so the original JSON is stored unchanged and the
//! parsed tree of one resource at a time is all the mapping ever holds.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Limits on what one file may hold (settings; the defaults suit EHR exports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: u64,
    /// The longest string value (a base64 attachment is the usual long one).
    pub max_string_bytes: usize,
    /// The deepest nesting of objects and arrays inside one resource.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_file_bytes: 64 * 1024 * 1024, max_string_bytes: 16 * 1024 * 1024, max_depth: 32 }
    }
}

/// Why a file cannot be imported. Each names where: the entry's index and a JSON pointer inside
/// it, or a line (and column) of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {bytes} bytes; the limit is {limit} (setting import_max_file_bytes)")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("the file is UTF-16 text; FHIR JSON must be UTF-8 (re-save it as UTF-8)")]
    Utf16,
    #[error("the file is not UTF-8 (byte {offset} on line {line}; Latin-1 or Windows-1252 text?): re-save it as UTF-8")]
    NotUtf8 { offset: usize, line: usize },
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    NotJson { line: usize, column: usize, message: String },
    #[error("the top-level resource is a {found}, not a Bundle (or NDJSON with one resource per line)")]
    NotBundle { found: String },
    #[error("this looks like a FHIR {version} bundle ({evidence}); only FHIR R4 is imported")]
    OldVersion { version: &'static str, evidence: String },
    #[error("entry {entry}: {message}")]
    Entry { entry: usize, message: String },
    #[error("entry {entry} at {pointer}: {message}")]
    Field { entry: usize, pointer: String, message: String },
}

/// One resource of the file.
#[derive(Debug)]
pub struct RawEntry<'a> {
    /// Position in the bundle (or line number - 1 in NDJSON).
    pub index: usize,
    pub full_url: Option<String>,
    pub resource_type: String,
    /// `Resource.id`, or the UUID of a `urn:uuid:` full URL when the resource has no id.
    pub id: String,
    /// The resource exactly as the file wrote it.
    pub raw: &'a RawValue,
}

/// What a file holds.
#[derive(Debug)]
pub struct ParsedFile<'a> {
    /// `transaction`, `collection`, ... or `ndjson`.
    pub bundle_type: String,
    pub entries: Vec<RawEntry<'a>>,
}

#[derive(Deserialize)]
struct BundleShape<'a> {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    #[serde(rename = "type")]
    bundle_type: Option<String>,
    #[serde(default, borrow)]
    entry: Vec<EntryShape<'a>>,
}

#[derive(Deserialize)]
struct EntryShape<'a> {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    id: Option<String>,
}

const BUNDLE_TYPES: [&str; 5] = ["transaction", "batch", "collection", "document", "searchset"];

/// Checks the encoding and strips a UTF-8 byte-order mark (accepted, as many Windows tools write
/// one).
pub fn text<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, ParseError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ParseError::TooLarge { bytes: bytes.len() as u64, limit: limits.max_file_bytes });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") || looks_like_utf16(bytes) {
        return Err(ParseError::Utf16);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        ParseError::NotUtf8 { offset, line }
    })?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(text)
}

/// UTF-16 without a byte-order mark: every other byte of ASCII JSON is zero.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && (bytes[..4].iter().step_by(2).all(|b| *b == 0) || bytes[1..4].iter().step_by(2).all(|b| *b == 0))
}

fn json_error(e: &serde_json::Error) -> ParseError {
    let message = e.to_string();
    // serde_json appends " at line L column C"; the position is given separately.
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    ParseError::NotJson { line: e.line(), column: e.column(), message }
}

/// Splits a file into its resources, checking the container: JSON, a Bundle of a known type (or
/// NDJSON), R4 rather than DSTU2/STU3, every entry a resource with a type and an id, and no id
/// used twice.
pub fn parse<'a>(text: &'a str, limits: &Limits) -> Result<ParsedFile<'a>, ParseError> {
    parse_as(text, limits, false)
}

/// As [`parse`]; `ndjson` says the file is NDJSON whatever it looks like (a `.ndjson` file of
/// one line is one resource, not a top-level resource that should have been a Bundle).
pub fn parse_as<'a>(text: &'a str, limits: &Limits, ndjson: bool) -> Result<ParsedFile<'a>, ParseError> {
    let trimmed = text.trim_start();
    let is_ndjson = ndjson || trimmed.starts_with('{') && {
        // NDJSON: a first line that is a complete object on its own, followed by more lines.
        let first = trimmed.lines().next().unwrap_or_default();
        serde_json::from_str::<&RawValue>(first).is_ok() && trimmed.lines().filter(|l| !l.trim().is_empty()).count() > 1
    };
    let (bundle_type, mut entries) = if is_ndjson {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let raw: &RawValue = serde_json::from_str(line).map_err(|e| ParseError::NotJson {
                line: n + 1,
                column: e.column(),
                message: json_error(&e).to_string(),
            })?;
            entries.push((n, None, raw));
        }
        ("ndjson".to_string(), entries)
    } else {
        let bundle: BundleShape<'a> = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        let found = bundle.resource_type.unwrap_or_else(|| "JSON object without a resourceType".into());
        if found != "Bundle" {
            return Err(ParseError::NotBundle { found });
        }
        let bundle_type = bundle.bundle_type.unwrap_or_default();
        if !BUNDLE_TYPES.contains(&bundle_type.as_str()) {
            return Err(ParseError::Field {
                entry: 0,
                pointer: "/type".into(),
                message: format!("a Bundle of type `{bundle_type}` cannot be imported (use transaction, batch, collection, document or searchset)"),
            });
        }
        let entries = bundle
            .entry
            .into_iter()
            .enumerate()
            .map(|(i, e)| match e.resource {
                Some(raw) => Ok((i, e.full_url, raw)),
                None => Err(ParseError::Entry { entry: i, message: "has no resource".into() }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        (bundle_type, entries)
    };

    let mut out = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::new();
    for (index, full_url, raw) in entries.drain(..) {
        let head: Head = serde_json::from_str(raw.get()).map_err(|e| ParseError::Entry { entry: index, message: format!("is not a resource: {}", json_error(&e)) })?;
        let Some(resource_type) = head.resource_type.filter(|t| !t.is_empty()) else {
            return Err(ParseError::Field { entry: index, pointer: "/resourceType".into(), message: "missing".into() });
        };
        let id = head.id.or_else(|| full_url.as_deref().and_then(|u| u.strip_prefix("urn:uuid:")).map(str::to_string));
        let Some(id) = id.filter(|i| valid_id(i)) else {
            return Err(ParseError::Field {
                entry: index,
                pointer: "/id".into(),
                message: "missing or not a FHIR id (1 to 64 letters, digits, - and .)".into(),
            });
        };
        if !seen.insert((resource_type.clone(), id.clone())) {
            return Err(ParseError::Entry { entry: index, message: format!("{resource_type}/{id} appears twice in this file") });
        }
        out.push(RawEntry { index, full_url, resource_type, id, raw });
    }
    if let Some((version, evidence)) = older_version(&out) {
        return Err(ParseError::OldVersion { version, evidence });
    }
    let _ = limits;
    Ok(ParsedFile { bundle_type, entries: out })
}

/// A FHIR id: 1 to 64 of `A-Z a-z 0-9 - .` (R4 §2.24.0.1). Synthea's UUIDs qualify.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Resource types that exist only before R4, and shapes R4 changed: enough to tell an older
/// export from a broken one.
fn older_version(entries: &[RawEntry<'_>]) -> Option<(&'static str, String)> {
    let mut looked_at = std::collections::HashSet::new();
    for e in entries {
        let dstu2 = ["MedicationOrder", "DiagnosticOrder", "Order", "OrderResponse", "DeviceUseRequest"];
        let stu3 = ["ProcedureRequest", "ReferralRequest", "EligibilityRequest", "ProcessRequest", "DeviceComponent"];
        if dstu2.contains(&e.resource_type.as_str()) {
            return Some(("DSTU2", format!("entry {} is a {}", e.index, e.resource_type)));
        }
        if stu3.contains(&e.resource_type.as_str()) {
            return Some(("STU3", format!("entry {} is a {}", e.index, e.resource_type)));
        }
        // A file is written in one version: the first resource of each telling type is enough.
        if !matches!(e.resource_type.as_str(), "Condition" | "Immunization" | "Encounter") || !looked_at.insert(e.resource_type.as_str()) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(e.raw.get()) else { continue };
        let has = |field: &str| v.get(field).is_some();
        let is_text = |field: &str| v.get(field).is_some_and(Value::is_string);
        match e.resource_type.as_str() {
            "Condition" if is_text("clinicalStatus") => {
                let version = if has("asserter") || has("dateRecorded") { "DSTU2" } else { "STU3" };
                return Some((version, format!("entry {}: Condition.clinicalStatus is a code, not a CodeableConcept", e.index)));
            }
            "Immunization" if has("wasNotGiven") => return Some(("DSTU2", format!("entry {}: Immunization.wasNotGiven", e.index))),
            "Immunization" if has("notGiven") => return Some(("STU3", format!("entry {}: Immunization.notGiven", e.index))),
            "Encounter" if is_text("class") => {
                return Some(("DSTU2", format!("entry {}: Encounter.class is a code, not a Coding", e.index)));
            }
            _ => {}
        }
    }
    None
}

/// Parses one resource and checks what the limits bound: nesting depth and string length.
pub fn resource(entry: &RawEntry<'_>, limits: &Limits) -> Result<Value, ParseError> {
    let value: Value = serde_json::from_str(entry.raw.get()).map_err(|e| ParseError::Entry { entry: entry.index, message: json_error(&e).to_string() })?;
    if let Err((mut path, message)) = check_limits(&value, limits, 0) {
        // The path is collected innermost first, only when a limit was hit.
        path.reverse();
        return Err(ParseError::Field { entry: entry.index, pointer: path.concat(), message });
    }
    Ok(value)
}

/// Walks the tree; on a breach, returns the JSON pointer's segments (innermost first).
fn check_limits(value: &Value, limits: &Limits, depth: usize) -> Result<(), (Vec<String>, String)> {
    if depth > limits.max_depth {
        return Err((Vec::new(), format!("nested deeper than {} levels", limits.max_depth)));
    }
    match value {
        Value::String(s) if s.len() > limits.max_string_bytes => {
            Err((Vec::new(), format!("a string of {} bytes; the limit is {} (setting import_max_string_bytes)", s.len(), limits.max_string_bytes)))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_limits(item, limits, depth + 1).map_err(|(mut path, m)| {
                    path.push(format!("/{i}"));
                    (path, m)
                })?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                check_limits(item, limits, depth + 1).map_err(|(mut path, m)| {
                    path.push(format!("/{}", key.replace('~', "~0").replace('/', "~1")));
                    (path, m)
                })?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<usize, ParseError> {
        let limits = Limits::default();
        let text = text(s.as_bytes(), &limits)?;
        parse(text, &limits).map(|f| f.entries.len())
    }

    const PATIENT: &str = r#"{"resourceType":"Patient","id":"p1"}"#;

    #[test]
    fn a_bundle_and_ndjson_both_split_into_resources() {
        let bundle = format!(r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{PATIENT}}}]}}"#);
        assert_eq!(parse_str(&bundle), Ok(1));
        let ndjson = format!("{PATIENT}\n{{\"resourceType\":\"Observation\",\"id\":\"o1\"}}\n");
        assert_eq!(parse_str(&ndjson), Ok(2));
    }

    #[test]
    fn the_original_text_of_each_resource_is_kept_byte_for_byte() {
        let original = r#"{ "resourceType" : "Patient", "id":"p1",  "name":[{"family":"León"}] }"#;
        let bundle = format!(r#"{{"resourceType":"Bundle","type":"batch","entry":[{{"resource":{original}}}]}}"#);
        let limits = Limits::default();
        let file = parse(text(bundle.as_bytes(), &limits).expect("text"), &limits).expect("parses");
        assert_eq!(file.entries[0].raw.get(), original);
    }

    #[test]
    fn encodings_other_than_utf8_are_refused_and_a_bom_is_accepted() {
        let limits = Limits::default();
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), PATIENT.as_bytes()].concat();
        assert!(text(&with_bom, &limits).is_ok());
        let utf16: Vec<u8> = "{\"a\":1}".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(text(&utf16, &limits), Err(ParseError::Utf16));
        let latin1 = b"{\"name\":\"Le\xF3n\"}";
        assert!(matches!(text(latin1, &limits), Err(ParseError::NotUtf8 { line: 1, .. })));
        assert_eq!(text(b"  \n", &limits), Err(ParseError::Empty));
    }

    #[test]
    fn broken_json_names_the_line() {
        let err = parse_str("{\"resourceType\":\"Bundle\",\n\"type\":\"collection\",\n\"entry\":[").expect_err("truncated");
        assert!(matches!(err, ParseError::NotJson { line: 3, .. }), "{err:?}");
        assert!(matches!(parse_str("not json"), Err(ParseError::NotJson { line: 1, .. })));
    }

    #[test]
    fn a_top_level_resource_that_is_not_a_bundle_is_refused() {
        assert_eq!(parse_str(PATIENT), Err(ParseError::NotBundle { found: "Patient".into() }));
    }

    #[test]
    fn older_fhir_versions_are_named() {
        let stu3 = r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Condition","id":"c","clinicalStatus":"active"}}]}"#;
        assert!(matches!(parse_str(stu3), Err(ParseError::OldVersion { version: "STU3", .. })));
        let dstu2 = r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"MedicationOrder","id":"m"}}]}"#;
        assert!(matches!(parse_str(dstu2), Err(ParseError::OldVersion { version: "DSTU2", .. })));
    }

    #[test]
    fn duplicate_ids_and_missing_ids_are_refused() {
        let twice = format!(r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{PATIENT}}},{{"resource":{PATIENT}}}]}}"#);
        assert!(matches!(parse_str(&twice), Err(ParseError::Entry { entry: 1, .. })));
        let no_id = r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}"#;
        assert!(matches!(parse_str(no_id), Err(ParseError::Field { entry: 0, .. })));
        let from_url = r#"{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:abc-1","resource":{"resourceType":"Patient"}}]}"#;
        assert_eq!(parse_str(from_url), Ok(1));
    }

    #[test]
    fn deep_nesting_and_long_strings_stop_at_the_limits() {
        let limits = Limits { max_depth: 8, max_string_bytes: 10, ..Limits::default() };
        let deep = format!(r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{{"resourceType":"Basic","id":"b","x":{}1{}}}}}]}}"#, "[".repeat(20), "]".repeat(20));
        let file = parse(&deep, &limits).expect("the container is fine");
        assert!(matches!(resource(&file.entries[0], &limits), Err(ParseError::Field { .. })));
        let long = r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Basic","id":"b","text":"0123456789abc"}}]}"#;
        let file = parse(long, &limits).expect("the container is fine");
        let err = resource(&file.entries[0], &limits).expect_err("too long");
        assert!(matches!(&err, ParseError::Field { pointer, .. } if pointer == "/text"), "{err:?}");
        // Far deeper than serde_json's own guard: an error, never a stack overflow.
        let abyss = format!(r#"{{"resourceType":"Bundle","type":"collection","x":{}}}"#, "[".repeat(100_000));
        assert!(matches!(parse(&abyss, &Limits::default()), Err(ParseError::NotJson { .. })));
    }

    #[test]
    fn numbers_out_of_range_are_refused() {
        let huge = r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","id":"o","valueQuantity":{"value":1e400}}}]}"#;
        let limits = Limits::default();
        // The container only borrows the resource; the number is read when the resource is.
        let file = parse(huge, &limits);
        match file {
            Err(ParseError::NotJson { .. }) => {}
            Ok(f) => assert!(resource(&f.entries[0], &limits).is_err()),
            Err(other) => panic!("{other:?}"),
        }
    }
}
