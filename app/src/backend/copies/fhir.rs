//! The FHIR copy made self-contained: a `collection` Bundle in which every reference resolves to
//! an entry of the same Bundle (the "Complete copies" requirement of the self-service issue).
//!
//! - Every entry gets a `urn:uuid:` full URL (the resource's own id when it is a UUID, as
//!   Synthea's are), and every reference is rewritten to the full URL of its target, whatever
//!   form it came in: `urn:uuid:…`, `Type/id`, an absolute URL ending in `Type/id`, or a
//!   conditional `Type?identifier=system|value`.
//! - Targets the copy needs to be read on its own (the people, places and visits around an item:
//!   Patient, Practitioner, PractitionerRole, Organization, Location, Encounter, Medication) are
//!   pulled in from the pool the caller read; anything else outside the copy, and any target the
//!   portal does not hold, becomes a display-only reference (with its identifier when it had
//!   one): never a dangling one.
//! - A `Provenance` entry names the portal, the time and who asked.
//! - Each released item is listed for the manifest with the SHA-256 of its canonical JSON (keys
//!   sorted, no spaces), computed on the entry exactly as it is in the Bundle.

use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet, VecDeque};

/// Resource types pulled into a copy because an included item refers to them.
const CONTEXT_TYPES: &[&str] = &["Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "Encounter", "Medication"];

/// A stored resource the copy may use. Its JSON text is parsed only when it goes into the
/// Bundle, one at a time, so a whole record never sits in memory as parsed values; a stored
/// resource's text is not even held (`json` is `None`): the writer reads it by `row`, a slice of
/// the queue at a time (`BATCH`), when it reaches it, and a large one (a scanned document
/// carried as base64) alone, so a record with a hundred scans holds one.
#[derive(Debug, Clone)]
pub struct PoolResource {
    pub resource_type: String,
    pub id: String,
    /// The stored row it comes from.
    pub row: String,
    /// The text when the caller holds it (directory resources, tests); `None`: read by `row`.
    pub json: Option<String>,
    /// The text's length in bytes, so reads are sliced by size as well as by count.
    pub size: usize,
    /// Its business identifiers (system, value), for conditional references (read for the
    /// directory resources: practitioners, organizations, locations).
    pub identifiers: Vec<(String, String)>,
}

/// Who made the copy, when, for whom: the Provenance entry.
#[derive(Debug, Clone)]
pub struct ProvenanceFacts {
    pub bundle_id: String,
    /// FHIR `instant` (`2026-12-02T10:00:00Z`).
    pub timestamp: String,
    /// The portal, as the Provenance's assembler.
    pub portal: String,
    /// The person who asked, as people read it ("Ana León (the patient)").
    pub asked_by: String,
}

/// One released item, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestItem {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    pub date: Option<String>,
    pub sha256: String,
}

/// How many stored resources one read of the writer brings at most, and how many bytes of text:
/// the record is read in slices as the Bundle is written, never held whole; a resource larger
/// than `BATCH_BYTES` is read alone.
const BATCH: usize = 128;
const BATCH_BYTES: usize = 1024 * 1024;

/// Whether a slice of `count` texts and `bytes` bytes is full before one more of `size` bytes
/// (a slice always takes its first text, however large).
pub fn slice_full(count: usize, bytes: usize, size: usize) -> bool {
    count > 0 && (count >= BATCH || bytes + size > BATCH_BYTES)
}

/// Reads the texts of stored resources (those the pool does not hold), in the order asked; a
/// resource no longer stored is `None`.
pub type ReadJson<'a> = dyn Fn(&[&PoolResource]) -> std::io::Result<Vec<Option<String>>> + 'a;

/// JSON with object keys sorted and no whitespace: the form the manifest's hashes are taken of,
/// so anyone can recompute them from the Bundle whatever their JSON library's key order.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// A JSON string as serde_json writes it (only `"`, `\` and control characters escaped).
fn write_string(s: &str, out: &mut String) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::String(s.to_string()).to_string());
    }
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (n, k) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => {
            use std::fmt::Write;
            let _ = write!(out, "{other}");
        }
    }
}

/// The clinically meaningful date of a resource, for the manifest (the first of the usual
/// date elements that is present).
pub fn resource_date(value: &Value) -> Option<String> {
    const FIELDS: &[&str] = &[
        "effectiveDateTime",
        "onsetDateTime",
        "recordedDate",
        "authoredOn",
        "occurrenceDateTime",
        "performedDateTime",
        "issued",
        "date",
        "created",
        "birthDate",
    ];
    for f in FIELDS {
        if let Some(s) = value.get(*f).and_then(Value::as_str) {
            return Some(s.to_string());
        }
    }
    for f in ["period", "effectivePeriod", "performedPeriod", "billablePeriod"] {
        if let Some(s) = value.get(f).and_then(|p| p.get("start")).and_then(Value::as_str) {
            return Some(s.to_string());
        }
    }
    None
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

/// Where a reference points, as written.
pub(crate) enum Target<'a> {
    Local,
    Uuid(&'a str),
    TypeId(&'a str, &'a str),
    Conditional(&'a str, &'a str, &'a str),
    Unknown,
}

pub(crate) fn parse_reference(r: &str) -> Target<'_> {
    if r.starts_with('#') {
        return Target::Local;
    }
    if let Some(id) = r.strip_prefix("urn:uuid:") {
        return Target::Uuid(id);
    }
    if let Some((kind, query)) = r.split_once('?') {
        if let Some(ident) = query.strip_prefix("identifier=")
            && let Some((system, value)) = ident.split_once('|')
        {
            return Target::Conditional(kind.rsplit('/').next().unwrap_or(kind), system, value);
        }
        return Target::Unknown;
    }
    let path = r.split("/_history/").next().unwrap_or(r);
    let mut parts = path.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(id), Some(kind)) if kind.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => Target::TypeId(kind, id),
        _ => Target::Unknown,
    }
}

struct Index<'a> {
    pool: &'a [PoolResource],
    by_id: HashMap<&'a str, usize>,
    by_type_id: HashMap<(&'a str, &'a str), usize>,
    by_identifier: HashMap<(&'a str, &'a str, &'a str), usize>,
}

impl<'a> Index<'a> {
    fn new(pool: &'a [PoolResource]) -> Self {
        let mut index = Index { pool, by_id: HashMap::new(), by_type_id: HashMap::new(), by_identifier: HashMap::new() };
        for (n, r) in pool.iter().enumerate() {
            index.by_id.entry(r.id.as_str()).or_insert(n);
            index.by_type_id.entry((r.resource_type.as_str(), r.id.as_str())).or_insert(n);
            for (system, value) in &r.identifiers {
                index.by_identifier.entry((r.resource_type.as_str(), system.as_str(), value.as_str())).or_insert(n);
            }
        }
        index
    }

    fn find(&self, target: &Target<'_>) -> Option<usize> {
        match target {
            Target::Uuid(id) => self.by_id.get(id).copied(),
            Target::TypeId(kind, id) => self.by_type_id.get(&(*kind, *id)).copied(),
            Target::Conditional(kind, system, value) => self.by_identifier.get(&(*kind, *system, *value)).copied(),
            Target::Local | Target::Unknown => None,
        }
    }
}

/// Rewrites every reference inside `value`; returns the pool entries it now points to.
fn rewrite(value: &mut Value, index: &Index<'_>, included: &HashSet<usize>, urls: &[String], wanted: &mut Vec<usize>) {
    rewrite_references(value, &mut |target| {
        let n = index.find(target).filter(|n| included.contains(n) || CONTEXT_TYPES.contains(&index.pool[*n].resource_type.as_str()))?;
        wanted.push(n);
        Some(urls[n].clone())
    });
}

/// Rewrites every reference inside `value` to what `resolve` names for its target (a contained
/// `#id` reference is left as it is); a target `resolve` does not know becomes display-only
/// (with its identifier when it had one), never a dangling link. The copies and the FHIR API
/// (which names targets `Type/id`) both write references through this.
pub(crate) fn rewrite_references(value: &mut Value, resolve: &mut dyn FnMut(&Target<'_>) -> Option<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("reference").cloned() {
                let target = parse_reference(&reference);
                if matches!(target, Target::Local) {
                    return;
                }
                match resolve(&target) {
                    Some(url) => {
                        map.insert("reference".into(), Value::String(url));
                    }
                    None => display_only(map, &target),
                }
                return;
            }
            for v in map.values_mut() {
                rewrite_references(v, resolve);
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite_references(v, resolve);
            }
        }
        _ => {}
    }
}

/// A reference whose target is not in the copy: kept as what it names, never as a link.
fn display_only(map: &mut Map<String, Value>, target: &Target<'_>) {
    map.remove("reference");
    if let Target::Conditional(kind, system, value) = target {
        map.insert("identifier".into(), json!({ "system": system, "value": value }));
        map.entry("type").or_insert_with(|| Value::String((*kind).to_string()));
    }
    if !map.contains_key("display") {
        let text = match target {
            Target::Conditional(..) => "Held by another system; identified here by its identifier",
            _ => "Not part of this copy",
        };
        map.insert("display".into(), Value::String(text.into()));
    }
}

/// The self-contained Bundle of the `primary` pool entries (the items released), with what they
/// refer to, and its Provenance, written to `out` (none when only the manifest's items are
/// wanted); returns the items. Each entry is parsed, rewritten, written and hashed in turn; the
/// texts the pool does not hold are asked of `read` a slice of the queue at a time, and dropped
/// once written.
pub fn self_contained_bundle(pool: &[PoolResource], primary: &[usize], facts: &ProvenanceFacts, read: &ReadJson<'_>, mut out: Option<&mut dyn std::io::Write>) -> std::io::Result<Vec<ManifestItem>> {
    let index = Index::new(pool);
    let urls: Vec<String> = pool
        .iter()
        .map(|r| if is_uuid(&r.id) { format!("urn:uuid:{}", r.id) } else { format!("urn:uuid:{}", uuid::Uuid::new_v4()) })
        .collect();
    let mut included: HashSet<usize> = primary.iter().copied().collect();
    let mut order: Vec<usize> = Vec::with_capacity(primary.len());
    let mut queue: VecDeque<usize> = primary.iter().copied().collect();
    let mut queued: HashSet<usize> = included.clone();
    let mut items = Vec::with_capacity(primary.len());
    // One entry's text at a time.
    let mut text = String::with_capacity(64 * 1024);
    text.push_str("{\"resourceType\":\"Bundle\",\"id\":");
    write_string(&facts.bundle_id, &mut text);
    text.push_str(",\"type\":\"collection\",\"timestamp\":");
    write_string(&facts.timestamp, &mut text);
    text.push_str(",\"entry\":[");
    while !queue.is_empty() {
        // The next slice of the queue, its stored texts read in one go. Entries it pulls in go
        // to the back of the queue, so the Bundle's order is the queue's, slice or not.
        let (mut batch, mut bytes) = (Vec::new(), 0);
        while let Some(&n) = queue.front() {
            let size = if pool[n].json.is_some() { 0 } else { pool[n].size };
            if slice_full(batch.len(), bytes, size) {
                break;
            }
            queue.pop_front();
            batch.push(n);
            bytes += size;
        }
        let unread: Vec<&PoolResource> = batch.iter().map(|n| &pool[*n]).filter(|r| r.json.is_none()).collect();
        let mut texts = if unread.is_empty() { Vec::new() } else { read(&unread)? }.into_iter();
        for n in batch {
            // Stored resources were parsed at import; one that no longer parses is left out.
            let parsed = match &pool[n].json {
                Some(json) => serde_json::from_str::<Value>(json),
                None => match texts.next().flatten() {
                    Some(json) => serde_json::from_str::<Value>(&json),
                    None => continue,
                },
            };
            let Ok(mut value) = parsed else { continue };
            let mut wanted = Vec::new();
            rewrite(&mut value, &index, &included, &urls, &mut wanted);
            for w in wanted {
                if queued.insert(w) {
                    included.insert(w);
                    queue.push_back(w);
                }
            }
            if !order.is_empty() {
                text.push(',');
            }
            order.push(n);
            text.push_str("{\"fullUrl\":");
            write_string(&urls[n], &mut text);
            text.push_str(",\"resource\":");
            let start = text.len();
            write_canonical(&value, &mut text);
            items.push(ManifestItem {
                resource_type: pool[n].resource_type.clone(),
                id: pool[n].id.clone(),
                date: resource_date(&value),
                sha256: super::sha256_hex(&text.as_bytes()[start..]),
            });
            text.push('}');
            drop(value);
            if let Some(out) = out.as_mut() {
                out.write_all(text.as_bytes())?;
            }
            text.clear();
            if text.capacity() > 1024 * 1024 {
                text.shrink_to(64 * 1024);
            }
        }
    }
    if let Some(out) = out {
        let provenance_id = uuid::Uuid::new_v4().to_string();
        let provenance = json!({
            "resourceType": "Provenance",
            "id": provenance_id,
            "recorded": facts.timestamp,
            "activity": { "text": "Copy made at the patient's request (45 CFR 164.524)" },
            "agent": [
                {
                    "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "assembler", "display": "Assembler" }] },
                    "who": { "display": facts.portal }
                },
                {
                    "type": { "text": "Asked for the copy" },
                    "who": { "display": facts.asked_by }
                }
            ]
        });
        if !order.is_empty() {
            text.push(',');
        }
        text.push_str("{\"fullUrl\":");
        write_string(&format!("urn:uuid:{provenance_id}"), &mut text);
        text.push_str(",\"resource\":");
        // Canonical, as every entry: "target" sorts after the other keys, so it is written last,
        // one reference at a time (a record's thousands of targets are never a parsed value).
        write_canonical(&provenance, &mut text);
        text.pop();
        text.push_str(",\"target\":[");
        if order.is_empty() {
            text.push_str("{\"display\":\"An empty copy\"}");
        }
        for (i, n) in order.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str("{\"reference\":");
            write_string(&urls[*n], &mut text);
            text.push('}');
            if text.len() > 64 * 1024 {
                out.write_all(text.as_bytes())?;
                text.clear();
            }
        }
        text.push_str("]}}]}");
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(items)
}

/// The `reference` strings in a resource's JSON text, found without parsing it (a quote inside
/// a JSON string is always escaped, so `"reference"` is only ever a key).
pub fn references_in(json: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(at) = rest.find("\"reference\"") {
        rest = &rest[at + 11..];
        let Some(after) = rest.trim_start().strip_prefix(':') else { continue };
        let Some(body) = after.trim_start().strip_prefix('"') else { continue };
        let bytes = body.as_bytes();
        let (mut i, mut escaped, mut end) = (0, false, None);
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    escaped = true;
                    i += 2;
                    continue;
                }
                b'"' => {
                    end = Some(i);
                    break;
                }
                _ => i += 1,
            }
        }
        let Some(end) = end else { break };
        let raw = &body[..end];
        if escaped {
            if let Ok(text) = serde_json::from_str::<String>(&format!("\"{raw}\"")) {
                out.push(text);
            }
        } else {
            out.push(raw.to_string());
        }
        rest = &body[end..];
    }
    out
}

/// The business identifiers of a resource (`identifier[].system|value`).
pub fn identifiers_of(value: &Value) -> Vec<(String, String)> {
    value
        .get("identifier")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|i| Some((i.get("system")?.as_str()?.to_string(), i.get("value")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Conditional and typed references to directory resources in a resource's JSON: what the
/// caller must read so the copy can resolve them. (type, identifier system, value) or (type, id).
pub fn directory_wants(json: &str, conditional: &mut HashSet<(String, String, String)>, typed: &mut HashSet<(String, String)>) {
    for r in references_in(json) {
        match parse_reference(&r) {
            Target::Conditional(kind, system, value) => {
                conditional.insert((kind.to_string(), system.to_string(), value.to_string()));
            }
            Target::TypeId(kind, id) if CONTEXT_TYPES.contains(&kind) => {
                typed.insert((kind.to_string(), id.to_string()));
            }
            Target::Uuid(id) => {
                typed.insert((String::new(), id.to_string()));
            }
            _ => {}
        }
    }
}

/// A FHIR `instant` (UTC, RFC 3339) of milliseconds since the epoch.
pub fn instant(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(kind: &str, id: &str, value: Value) -> PoolResource {
        let identifiers = identifiers_of(&value);
        let json = value.to_string();
        PoolResource { resource_type: kind.into(), id: id.into(), row: format!("row-{id}"), size: json.len(), json: Some(json), identifiers }
    }

    /// A pool that holds every text: nothing is read.
    fn none_read(_: &[&PoolResource]) -> std::io::Result<Vec<Option<String>>> {
        Ok(Vec::new())
    }

    fn facts() -> ProvenanceFacts {
        ProvenanceFacts { bundle_id: "b".into(), timestamp: "2026-12-02T10:00:00Z".into(), portal: "Portal".into(), asked_by: "Ana (the patient)".into() }
    }

    /// Every reference in the bundle names an entry's full URL (or is local or display-only).
    fn dangling(bundle: &Value) -> Vec<String> {
        let urls: HashSet<String> = bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["fullUrl"].as_str().map(String::from)).collect();
        let mut refs = Vec::new();
        fn walk(v: &Value, refs: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("reference").and_then(Value::as_str) {
                        refs.push(r.to_string());
                    }
                    m.values().for_each(|x| walk(x, refs));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, refs)),
                _ => {}
            }
        }
        walk(bundle, &mut refs);
        refs.into_iter().filter(|r| !r.starts_with('#') && !urls.contains(r)).collect()
    }

    #[test]
    fn every_reference_resolves_or_becomes_display_only() {
        let patient = "11111111-1111-1111-1111-111111111111";
        let encounter = "22222222-2222-2222-2222-222222222222";
        let pool = vec![
            res("Patient", patient, json!({"resourceType":"Patient","id":patient})),
            res("Encounter", encounter, json!({"resourceType":"Encounter","id":encounter,"subject":{"reference":format!("urn:uuid:{patient}")},
                "participant":[{"individual":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|42","display":"Dr. Who"}}],
                "serviceProvider":{"reference":"Organization?identifier=urn:org|7"}})),
            res("Observation", "obs-1", json!({"resourceType":"Observation","id":"obs-1","subject":{"reference":format!("Patient/{patient}")},
                "encounter":{"reference":format!("urn:uuid:{encounter}")},"hasMember":[{"reference":"Observation/withheld"}],"effectiveDateTime":"2020-01-02"})),
            res("Organization", "org-7", json!({"resourceType":"Organization","id":"org-7","identifier":[{"system":"urn:org","value":"7"}]})),
        ];
        let mut json = Vec::new();
        let items = self_contained_bundle(&pool, &[0, 2], &facts(), &none_read, Some(&mut json)).unwrap_or_default();
        let bundle: Value = serde_json::from_slice(&json).unwrap_or_default();
        assert_eq!(bundle["type"], "collection");
        assert!(dangling(&bundle).is_empty(), "{:?}", dangling(&bundle));
        let types: Vec<&str> = bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["resourceType"].as_str()).collect();
        assert_eq!(types, vec!["Patient", "Observation", "Encounter", "Organization", "Provenance"], "the visit and its organization are pulled in");
        let encounter_entry = &bundle["entry"][2]["resource"];
        assert_eq!(encounter_entry["participant"][0]["individual"]["identifier"]["value"], "42", "an unheld practitioner keeps its identifier");
        assert_eq!(encounter_entry["participant"][0]["individual"]["display"], "Dr. Who");
        assert_eq!(bundle["entry"][1]["resource"]["hasMember"][0]["display"], "Not part of this copy");
        let obs = &bundle["entry"][1]["resource"];
        assert_eq!(items[1].sha256, super::super::sha256_hex(canonical_json(obs).as_bytes()));
        assert_eq!(items[1].date.as_deref(), Some("2020-01-02"));
        assert_eq!(items.len(), 4, "the provenance is not a released item");
        // The Provenance names every entry, and is written in canonical form like the others.
        let provenance = &bundle["entry"][4]["resource"];
        assert_eq!(provenance["target"].as_array().map(Vec::len), Some(4));
        assert!(String::from_utf8_lossy(&json).contains(&canonical_json(provenance)));
        // Without an output, the same items: the manifest of a copy without the FHIR file (a
        // resource whose id is not a UUID gets a new one each time, and so its referrers' hashes).
        let alone = self_contained_bundle(&pool, &[0, 2], &facts(), &none_read, None).unwrap_or_default();
        assert_eq!(alone.iter().map(|i| (&i.resource_type, &i.id)).collect::<Vec<_>>(), items.iter().map(|i| (&i.resource_type, &i.id)).collect::<Vec<_>>());
        assert_eq!(alone[1].sha256, items[1].sha256);
    }

    #[test]
    fn stored_texts_are_read_a_slice_at_a_time_and_a_large_one_alone() {
        let patient = "11111111-1111-1111-1111-111111111111";
        let scan = json!({"resourceType":"DocumentReference","id":"doc-1","subject":{"reference":format!("urn:uuid:{patient}")},"content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}}]});
        let stored = |id: &str| json!({"resourceType":"Observation","id":id,"subject":{"reference":format!("urn:uuid:{patient}")}});
        let unheld = |mut r: PoolResource, size: usize| {
            r.json = None;
            r.size = size;
            r
        };
        let mut pool = vec![res("Patient", patient, json!({"resourceType":"Patient","id":patient}))];
        pool.extend((0..300).map(|n| unheld(res("Observation", &format!("obs-{n}"), stored(&format!("obs-{n}"))), 100)));
        pool.insert(150, unheld(res("DocumentReference", "doc-1", scan.clone()), BATCH_BYTES + 1));
        let reads = std::cell::RefCell::new(Vec::new());
        let read = |rows: &[&PoolResource]| {
            reads.borrow_mut().push(rows.iter().map(|r| r.row.clone()).collect::<Vec<_>>());
            Ok(rows.iter().map(|r| if r.row == "row-doc-1" { Some(scan.to_string()) } else { r.row.strip_prefix("row-").map(|id| stored(id).to_string()) }).collect())
        };
        let primary: Vec<usize> = (0..pool.len()).collect();
        let mut json = Vec::new();
        let items = self_contained_bundle(&pool, &primary, &facts(), &read, Some(&mut json)).unwrap_or_default();
        let reads = reads.into_inner();
        assert!(reads.iter().all(|r| r.len() <= BATCH), "never more than a slice at once");
        assert!(reads.contains(&vec!["row-doc-1".to_string()]), "the large one is read alone: {:?}", reads.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(reads.iter().map(Vec::len).sum::<usize>(), 301, "each stored text read once");
        let bundle: Value = serde_json::from_slice(&json).unwrap_or_default();
        let ids: Vec<&str> = bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str()).collect();
        let expected: Vec<&str> = pool.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(&ids[..pool.len()], &expected[..], "the Bundle keeps the pool's order");
        assert_eq!(bundle["entry"][150]["resource"]["content"][0]["attachment"]["data"], "JVBERi0=");
        assert_eq!(items.len(), 302);
        assert!(dangling(&bundle).is_empty());
    }

    #[test]
    fn references_are_found_in_the_text() {
        let json = r#"{"subject":{"reference":"urn:uuid:1"},"note":[{"text":"a \"reference\": \"x\""}],"performer":[{"reference" : "Practitioner?identifier=a\/b|9"}]}"#;
        assert_eq!(references_in(json), vec!["urn:uuid:1".to_string(), "Practitioner?identifier=a/b|9".to_string()]);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        assert_eq!(canonical_json(&json!({"b":1,"a":{"d":[1,{"f":2,"e":"x"}],"c":null}})), r#"{"a":{"c":null,"d":[1,{"e":"x","f":2}]},"b":1}"#);
        assert_eq!(canonical_json(&json!({"q":"say \"hi\"\n","n":1.5})), r#"{"n":1.5,"q":"say \"hi\"\n"}"#);
    }
}
