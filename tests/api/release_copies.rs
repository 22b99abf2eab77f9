//! Released copies end to end: HIM decides (withholding a sensitive category with its basis),
//! the portal renders the PDF and the FHIR Bundle, seals and stores them, and the patient
//! downloads them. The PDF is checked with poppler's `pdftotext` and `pdfinfo` and with
//! `qpdf --check` (scripts/setup.sh installs them): the name with its accent, every section,
//! "Page X of Y" on every page, the withheld item absent.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app, third_party_fields};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::process::Command;

const LEON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json");

async fn import(app: &TestApp, path: &str) -> String {
    app.import_fhir(&std::fs::read(path).expect("fixture")).await
}

async fn signed_in(app: &TestApp, email: &str, roles: &[Role], patient: Option<&str>) -> reqwest::Client {
    app.create_user(email, roles, patient).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

/// One of the patient's problems, tagged as mental health (as the importer tags F-codes).
async fn tag_a_problem(app: &TestApp, patient: &str) -> (String, String) {
    let backend = app.db.get_database_backend();
    let rows = app
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            if backend == sea_orm::DatabaseBackend::Postgres {
                "SELECT c.resource_id, c.display, r.fhir_id FROM clinical_item c JOIN fhir_resource r ON r.id = c.resource_id WHERE c.patient_id = $1 AND c.kind = 'condition' ORDER BY c.display"
            } else {
                "SELECT c.resource_id, c.display, r.fhir_id FROM clinical_item c JOIN fhir_resource r ON r.id = c.resource_id WHERE c.patient_id = ? AND c.kind = 'condition' ORDER BY c.display"
            },
            [patient.into()],
        ))
        .await
        .expect("conditions");
    let all: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.try_get("", "resource_id").expect("id"), r.try_get("", "display").expect("display"), r.try_get("", "fhir_id").expect("fhir id")))
        .collect();
    let (resource_id, _, fhir_id) = all.first().cloned().expect("a problem");
    // Synthea repeats problem names in claims and visits: give this one a name found nowhere
    // else, so its absence from the copy means the item itself was left out.
    let display = "Tagged problem Zq-7".to_string();
    app.db
        .execute_unprepared(&format!("UPDATE clinical_item SET display = '{display}' WHERE resource_id = '{resource_id}'"))
        .await
        .expect("renamed");
    app.db
        .execute_unprepared(&format!("INSERT INTO sensitive_tag (resource_id, category, patient_id) VALUES ('{resource_id}', 'mental_health', '{patient}')"))
        .await
        .expect("tagged");
    (display, fhir_id)
}

fn pdf_tool(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("portal-test-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, pdf).expect("temp file");
    let mut command = Command::new(tool);
    command.args(args).arg(&path);
    if tool == "pdftotext" {
        command.arg("-");
    }
    let out = command.output().unwrap_or_else(|e| panic!("{tool} is needed (Debian poppler-utils / qpdf; scripts/setup.sh installs them): {e}"));
    std::fs::remove_file(&path).ok();
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn released(app: &TestApp, staff: &reqwest::Client, id: &str, decision: &[(&str, &str)]) -> Value {
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(staff, "advance_request", &[("id", id), ("step", step)]).await;
    }
    let mut fields = vec![("id", id)];
    fields.extend_from_slice(decision);
    app.call_ok(staff, "decide_request", &fields).await;
    app.call_ok(staff, "release_copy", &[("id", id)]).await
}

#[tokio::test]
async fn a_partly_approved_copy_is_released_downloaded_and_passes_the_pdf_checks() {
    let app = spawn_app().await;
    let patient = import(&app, LEON).await;
    let (withheld, withheld_fhir_id) = tag_a_problem(&app, &patient).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&leon, "submit_request", &[("scope", "all"), ("pdf", "on"), ("fhir", "on")]).await["id"].as_str().expect("id").to_string();

    // A partial approval must say what it withholds, and on a known basis.
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    assert_eq!(app.call(&sam, "decide_request", &[("id", &id), ("decision", "approve_partially")]).await.status(), 422);
    assert_eq!(app.call(&sam, "decide_request", &[("id", &id), ("decision", "approve_partially"), ("mental_health", "because")]).await.status(), 422);
    // Nothing can be released before a decision.
    assert_eq!(app.call(&sam, "release_copy", &[("id", &id)]).await.status(), 409);
    let decided = app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "approve_partially"), ("mental_health", "references_another_person")]).await;
    assert_eq!(decided["status"], "partially_approved");
    let view = app.call_ok(&sam, "release_copy", &[("id", &id)]).await;
    assert_eq!(view["status"], "released");
    let withheld_lines: Vec<&str> = view["withheld"].as_array().expect("withheld").iter().filter_map(Value::as_str).collect();
    assert!(withheld_lines.iter().any(|w| w.starts_with("Mental health") && w.contains("164.524(a)(3)(ii)")), "{withheld_lines:?}");
    assert!(withheld_lines.iter().any(|w| w.starts_with("Psychotherapy notes")), "always withheld: {withheld_lines:?}");

    // The patient sees both files with their SHA-256 and downloads them.
    let view = app.call_ok(&leon, "request_detail", &[("id", &id)]).await;
    let files = view["files"].as_array().expect("files");
    // The copy, its FHIR data, and the letter for the part denied (45 CFR 164.524(d)(2)).
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().any(|f| f["kind"] == "denial_letter"));
    let pdf_file = files.iter().find(|f| f["kind"] == "pdf").expect("pdf");
    // A GET (a browser's prefetch, a re-download) changes nothing; the download button posts.
    let href = pdf_file["href"].as_str().expect("href");
    assert_eq!(leon.get(app.url(href)).send().await.expect("get").status(), 200);
    assert_eq!(app.call_ok(&leon, "request_detail", &[("id", &id)]).await["status"], "released", "a GET delivers nothing");
    let response = leon.post(app.url(href)).send().await.expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.expect("bytes").to_vec();
    assert_eq!(hex::encode(Sha256::digest(&pdf)), pdf_file["sha256"].as_str().expect("sha"), "the recorded SHA-256 is the file's");
    assert_eq!(app.call_ok(&leon, "request_detail", &[("id", &id)]).await["status"], "delivered", "the first download delivers");

    // The PDF's content.
    let text = pdf_tool("pdftotext", &["-layout"], &pdf);
    let info = pdf_tool("pdfinfo", &[], &pdf);
    let pages: usize = info.lines().find_map(|l| l.strip_prefix("Pages:")).and_then(|n| n.trim().parse().ok()).expect("page count");
    assert!(pages > 5, "{pages} pages");
    assert!(text.contains("Lucas404 León820"), "the name with its accent: {}", &text[..text.len().min(600)]);
    for n in 1..=pages {
        assert!(text.contains(&format!("Page {n} of {pages}")), "page {n} is numbered");
    }
    for section in ["Problems", "Medications", "Allergies", "Immunizations", "Lab results", "Vital signs", "Procedures", "Visits", "Documents and notes", "Care plans, goals and devices", "Claims and benefits", "Contents"] {
        assert!(text.contains(section), "section {section}");
    }
    assert!(text.contains("R-1001"), "the request on every page's header");
    assert!(text.contains("Mental health"), "the cover says what was left out");
    assert!(!text.contains(&withheld), "the withheld problem {withheld:?} is absent");
    assert!(info.contains("Title:") && info.contains("León820"), "metadata: {info}");
    let check = pdf_tool("qpdf", &["--check"], &pdf);
    assert!(check.contains("No syntax or stream encoding errors"), "{check}");

    // The FHIR copy: a collection of the originals, without the withheld one.
    let fhir_file = files.iter().find(|f| f["kind"] == "fhir").expect("fhir");
    let bundle: Value = leon.get(app.url(fhir_file["href"].as_str().expect("href"))).send().await.expect("download").json().await.expect("json");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().expect("entries");
    assert!(entries.iter().any(|e| e["resource"]["resourceType"] == "Patient"));
    assert!(entries.len() > 250, "the whole record: {}", entries.len());
    assert!(!entries.iter().any(|e| e["resource"]["id"] == withheld_fhir_id.as_str()), "the withheld condition is not in the FHIR copy");

    // The control: approved in full, the same problem is in the copy.
    let second = app.call_ok(&leon, "submit_request", &[("scope", "problems"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    let view = released(&app, &sam, &second, &[("decision", "approve")]).await;
    let href = view["files"][0]["href"].as_str().expect("href").to_string();
    let full = leon.get(app.url(&href)).send().await.expect("download").bytes().await.expect("bytes").to_vec();
    assert!(pdf_tool("pdftotext", &["-layout"], &full).contains(&withheld), "without the withholding the problem is there");

    // Downloads are audited with the file's hash.
    let downloads = app.audit("release_request", "success").await;
    assert!(downloads.iter().filter(|r| r.detail.as_deref().is_some_and(|d| d.starts_with("downloaded"))).count() >= 2);
}

#[tokio::test]
async fn downloads_are_for_the_requester_and_staff_only_and_expire() {
    let app = spawn_app().await;
    let patient = import(&app, LEON).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let other = app.create_patient("MRN-2", "Other", "1990-01-01").await;
    let eve = signed_in(&app, "eve@example.org", &[Role::Patient], Some(&other)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&leon, "submit_request", &[("scope", "labs"), ("from", "2015-01-01"), ("fhir", "on")]).await["id"].as_str().expect("id").to_string();
    let view = released(&app, &sam, &id, &[("decision", "approve")]).await;
    let href = view["files"][0]["href"].as_str().expect("href").to_string();
    assert_eq!(view["files"].as_array().map(Vec::len), Some(1), "FHIR only, as asked");

    assert_eq!(eve.get(app.url(&href)).send().await.expect("eve").status(), 404, "another patient's copy");
    assert_eq!(app.new_client().get(app.url(&href)).send().await.expect("anonymous").status(), 401);
    assert_eq!(sam.get(app.url(&href)).send().await.expect("staff").status(), 200);
    assert_eq!(app.call_ok(&leon, "request_detail", &[("id", &id)]).await["status"], "released", "a staff download does not deliver");
    let bundle: Value = leon.get(app.url(&href)).send().await.expect("leon").json().await.expect("json");
    let kinds: Vec<&str> = bundle["entry"].as_array().expect("entries").iter().filter_map(|e| e["resource"]["resourceType"].as_str()).collect();
    assert!(kinds.contains(&"Observation") && kinds.contains(&"Patient"), "{kinds:?}");
    // Labs only, with what they refer to (the visit, who and where) and the provenance, so the
    // copy reads on its own: nothing else of the record.
    assert!(
        kinds.iter().all(|k| matches!(*k, "Observation" | "Patient" | "Encounter" | "Practitioner" | "PractitionerRole" | "Organization" | "Location" | "Provenance")),
        "labs only: {kinds:?}"
    );
    assert!(!kinds.contains(&"Condition") && !kinds.contains(&"MedicationRequest"), "{kinds:?}");

    // A tampered file is never served; an expired one answers 410.
    app.db.execute_unprepared("UPDATE release_file SET expires_at_ms = 0").await.expect("expire");
    let gone = leon.get(app.url(&href)).send().await.expect("expired");
    assert_eq!(gone.status(), 410);
    assert!(gone.text().await.unwrap_or_default().contains("Ask for a new copy"));
    assert!(app.audit("release_request", "failure").await.iter().any(|r| r.detail.as_deref() == Some("download refused: expired")));
}

#[tokio::test]
async fn a_denial_comes_with_its_letter_and_a_reviewer_who_took_no_part_decides_the_review() {
    let app = spawn_app().await;
    let patient = import(&app, LEON).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    // Sam works requests and is also a reviewer: he still may not review his own denial.
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff, Role::HimReviewer], None).await;
    let rita = signed_in(&app, "rita@example.org", &[Role::HimReviewer], None).await;
    let id = app.call_ok(&leon, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    assert_eq!(app.call(&sam, "decide_request", &[("id", &id), ("decision", "deny")]).await.status(), 422, "a denial needs its ground");
    let view = app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "deny"), ("ground", "danger_to_life_or_safety")]).await;
    assert_eq!(view["status"], "denied");
    assert!(view["grounds"][0].as_str().expect("ground").contains("164.524(a)(3)(i)"));
    assert_eq!(app.call(&sam, "release_copy", &[("id", &id)]).await.status(), 409, "a denied request cannot be released");

    // The letter (164.524(d)(2)): plain language, the basis, review rights, how to complain.
    let view = app.call_ok(&leon, "request_detail", &[("id", &id)]).await;
    assert_eq!(view["can_request_review"], true);
    let files = view["files"].as_array().expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["kind"], "denial_letter");
    let letter = leon.get(app.url(files[0]["href"].as_str().expect("href"))).send().await.expect("letter").bytes().await.expect("bytes").to_vec();
    let text = pdf_tool("pdftotext", &[], &letter);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for needed in ["Why we denied your request", "endanger your life or physical safety", "164.524(a)(3)(i)", "Your right to have this decision reviewed", "Ask for a review", "the Privacy Officer", "Office for Civil Rights", "1-800-368-1019", "Lucas404 León820"] {
        assert!(flat.contains(needed), "the letter says {needed:?}: {flat}");
    }
    assert!(pdf_tool("qpdf", &["--check"], &letter).contains("No syntax or stream encoding errors"));
    assert_eq!(app.call_ok(&leon, "request_detail", &[("id", &id)]).await["status"], "denied", "reading the letter delivers nothing");

    // A reviewer reads what they review, nothing else (minimum necessary, 164.514(d)): no
    // record while no review waits.
    assert_eq!(app.call(&rita, "record_summary", &[("patient", &patient)]).await.status(), 404, "no review waits yet");
    // The patient asks for a review; the reviewer queue shows it.
    assert_eq!(app.call(&sam, "request_denial_review", &[("id", &id)]).await.status(), 404, "only the requester asks");
    assert_eq!(app.call_ok(&leon, "request_denial_review", &[("id", &id)]).await["status"], "denial_under_review");
    assert_eq!(app.call_ok(&rita, "review_queue", &[]).await[0]["id"], id.as_str());
    assert_eq!(app.call(&leon, "review_queue", &[]).await.status(), 404);
    // The one who denied may not review; a patient may not either.
    let own = app.call(&sam, "review_denial", &[("id", &id), ("outcome", "overturn")]).await;
    assert_eq!(own.status(), 409);
    assert!(own.text().await.unwrap_or_default().contains("took no part"));
    assert_eq!(app.call(&leon, "review_denial", &[("id", &id), ("outcome", "overturn")]).await.status(), 404);
    // While it waits, Rita reads the record she reviews, and the request.
    app.call_ok(&rita, "record_summary", &[("patient", &patient)]).await;
    app.call_ok(&rita, "request_detail", &[("id", &id)]).await;
    let other = app.create_patient("MRN-9", "Other", "1970-01-01").await;
    assert_eq!(app.call(&rita, "record_summary", &[("patient", &other)]).await.status(), 404, "not another patient's");
    let view = app.call_ok(&rita, "review_denial", &[("id", &id), ("outcome", "overturn"), ("note", "No risk found.")]).await;
    assert_eq!(view["status"], "approved");
    assert_eq!(app.call(&rita, "record_summary", &[("patient", &patient)]).await.status(), 404, "reviewed: the record is closed to her again");
    assert_eq!(app.call_ok(&rita, "request_detail", &[("id", &id)]).await["status"], "approved", "what she decided stays in sight");
    assert!(view["timeline"].as_array().expect("timeline").iter().any(|t| t["note"] == "Denial overturned on review: No risk found." && t["who"] == "Reviewer"));
    // Overturned, HIM releases the copy after all.
    assert_eq!(app.call_ok(&sam, "release_copy", &[("id", &id)]).await["status"], "released");
}

#[tokio::test]
async fn a_denial_on_a_ground_without_review_cannot_be_sent_to_review() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let ana = signed_in(&app, "ana@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&ana, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    app.call_ok(&sam, "advance_request", &[("id", &id), ("step", "start_identity_check")]).await;
    let view = app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "deny"), ("ground", "litigation_preparation")]).await;
    assert_eq!(view["can_request_review"], false);
    let refused = app.call(&ana, "request_denial_review", &[("id", &id)]).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap_or_default().contains("not reviewable"));
}

#[tokio::test]
async fn a_copy_for_someone_else_needs_a_complete_authorization_and_reaches_them_by_passcode_link() {
    let app = spawn_app().await;
    let patient = import(&app, LEON).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;

    // Each missing element of 164.508 is named; a recipient email that is not one is refused;
    // nothing is stored.
    for (field, value) in [("consent", ""), ("ack_redisclosure", ""), ("signature_name", "Someone Else"), ("recipient_address", "ana@"), ("expires_on", "2001-01-01"), ("purpose", "")] {
        let response = app.call(&leon, "submit_request", &third_party_fields(&[(field, value)])).await;
        assert_eq!(response.status(), 422, "{field}");
        let body: Value = response.json().await.expect("json");
        assert!(body.to_string().contains(field), "{field} is named: {body}");
    }
    assert_eq!(app.call_ok(&leon, "my_requests", &[]).await, serde_json::json!([]), "nothing half-written");

    let view = app.call_ok(&leon, "submit_request", &third_party_fields(&[])).await;
    let id = view["id"].as_str().expect("id").to_string();
    assert_eq!(view["recipient"], "Dr. Ana Gomez, Harbour Clinic, ana.gomez@clinic.example");
    let authorization = view["files"].as_array().expect("files").iter().find(|f| f["kind"] == "authorization").expect("the signed form is kept");
    let form = leon.get(app.url(authorization["href"].as_str().expect("href"))).send().await.expect("form").bytes().await.expect("bytes").to_vec();
    let text = pdf_tool("pdftotext", &[], &form).split_whitespace().collect::<Vec<_>>().join(" ");
    for needed in ["Authorization to release health information", "Dr. Ana Gomez", "second opinion", "2099-01-01", "revoke", "does not depend", "redisclosed", "Test leon@example.org", "From network address 127.0.0.1", "Lab results"] {
        assert!(text.contains(needed), "the form shows {needed:?}: {text}");
    }

    released(&app, &sam, &id, &[("decision", "approve")]).await;
    // The requester sees the link and passcode to pass on; staff never see the passcode.
    let view = app.call_ok(&leon, "request_detail", &[("id", &id)]).await;
    let share = &view["share"];
    let url = share["url"].as_str().expect("url").to_string();
    let passcode: String = share["passcode"].as_str().expect("passcode").chars().filter(char::is_ascii_digit).collect();
    assert_eq!(passcode.len(), 8);
    assert!(app.call_ok(&sam, "request_detail", &[("id", &id)]).await["share"].is_null());
    let path = url.split_once("/shared/").map(|(_, t)| format!("/shared/{t}")).expect("path");

    // The accounting entry was written with the release.
    let accounting = app.call_ok(&leon, "my_disclosures", &[]).await;
    let entry = &accounting["entries"][0];
    assert_eq!(entry["recipient"], "Dr. Ana Gomez, Harbour Clinic");
    assert_eq!(entry["address"], "ana.gomez@clinic.example");
    assert_eq!(entry["purpose"], "At my request: a second opinion");
    assert!(entry["description"].as_str().expect("description").contains("Lab results"));

    // The recipient, without an account: a wrong passcode is counted, the right one opens.
    let recipient = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let origin = app.url("");
    let post = |code: String| {
        let recipient = recipient.clone();
        let url = app.url(&path);
        let origin = origin.clone();
        async move { recipient.post(url).header("origin", origin.trim_end_matches('/')).form(&[("passcode", code.as_str()), ("kind", "pdf")]).send().await.expect("post") }
    };
    let wrong = post("00000000".into()).await;
    assert_eq!(wrong.status(), 303);
    assert!(wrong.headers()["location"].to_str().unwrap_or_default().ends_with("?error=wrong-4"));
    let opened = post(passcode.clone()).await;
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.headers()["cache-control"], "no-store");
    assert!(opened.bytes().await.expect("pdf").starts_with(b"%PDF-"));
    let view = app.call_ok(&leon, "request_detail", &[("id", &id)]).await;
    assert_eq!(view["status"], "delivered", "opening the link delivers");
    assert_eq!(view["share"]["opened"], 1, "each opening is recorded");
    assert!(app.audit("release_request", "success").await.iter().any(|r| r.detail.as_deref().is_some_and(|d| d.starts_with("shared link opened: pdf"))));

    // A format that was not asked for is named as such, not as a bad link.
    let no_fhir = recipient.post(app.url(&path)).header("origin", origin.trim_end_matches('/')).form(&[("passcode", passcode.as_str()), ("kind", "fhir")]).send().await.expect("post");
    assert!(no_fhir.headers()["location"].to_str().unwrap_or_default().ends_with("?error=missing-fhir"));

    // Five wrong passcodes in a row lock the link, even for the right one.
    for _ in 0..5 {
        post("11111111".into()).await;
    }
    let locked = post(passcode.clone()).await;
    assert!(locked.headers()["location"].to_str().unwrap_or_default().ends_with("?error=locked"));
    assert!(app.audit("release_request", "failure").await.iter().any(|r| r.detail.as_deref() == Some("shared link: wrong passcode, locked")));
    // The activity history shows the transmit with its addressee, and the patient's own views.
    app.call_ok(&leon, "record_section", &[("section", "labs")]).await;
    let activity = app.call_ok(&leon, "my_activity", &[]).await;
    let rows = activity.as_array().expect("rows");
    assert!(rows.iter().any(|r| r["action"] == "Transmit" && r["addressee"].as_str().is_some_and(|a| a.contains("ana.gomez@clinic.example"))), "{activity}");
    assert!(rows.iter().any(|r| r["action"] == "View" && r["what"] == "Lab results (record)" && r["who"] == "You"), "{activity}");
    assert!(rows.iter().any(|r| r["action"] == "Download" && r["what"] == "A signed authorization"), "{activity}");

    // HIM adds an entry made outside the portal, then corrects it with a new one.
    let added = app
        .call_ok(&sam, "add_disclosure", &[("patient", &patient), ("disclosed_on", "2026-01-15"), ("recipient_name", "County Health Department"), ("description", "Immunization history"), ("purpose", "Public health reporting"), ("accountable", "on")])
        .await;
    let first = added["entries"].as_array().expect("entries").iter().find(|e| e["kind"] == "manual").expect("manual")["id"].as_str().expect("id").to_string();
    let corrected = app
        .call_ok(&sam, "add_disclosure", &[("patient", &patient), ("disclosed_on", "2026-01-15"), ("recipient_name", "County Health Department"), ("description", "Immunization history, 2020 to 2025"), ("purpose", "Public health reporting"), ("accountable", "on"), ("corrects", &first)])
        .await;
    assert_eq!(corrected["entries"].as_array().map(Vec::len), Some(3), "the old entry stays; the correction is added");
    assert!(corrected["entries"].as_array().expect("entries").iter().any(|e| e["corrects"] == first.as_str()));
    assert_eq!(app.call(&sam, "add_disclosure", &[("patient", &patient), ("disclosed_on", "2999-01-01"), ("recipient_name", "X"), ("description", "Y"), ("purpose", "Z")]).await.status(), 422, "not in the future");
    assert_eq!(app.call(&leon, "add_disclosure", &[("patient", &patient), ("disclosed_on", "2026-01-01"), ("recipient_name", "X"), ("description", "Y"), ("purpose", "Z")]).await.status(), 404, "patients cannot write their accounting");
    let pdf = leon.get(app.url("/disclosures.pdf")).send().await.expect("pdf");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    let text = pdf_tool("pdftotext", &[], &pdf.bytes().await.expect("bytes")).split_whitespace().collect::<Vec<_>>().join(" ");
    for needed in ["Accounting of disclosures", "County Health Department", "Dr. Ana Gomez", "Correction of an earlier entry", "Not required", "Page 1 of"] {
        assert!(text.contains(needed), "the accounting PDF shows {needed:?}: {text}");
    }

    // A tampered token is unknown.
    let tampered = recipient.post(app.url(&format!("{path}x"))).header("origin", origin.trim_end_matches('/')).form(&[("passcode", passcode.as_str()), ("kind", "pdf")]).send().await.expect("post");
    assert!(tampered.headers()["location"].to_str().unwrap_or_default().ends_with("?error=unknown"));
}

#[tokio::test]
async fn each_step_notifies_the_requester_in_the_portal_and_by_mail_without_health_information() {
    use app::backend::mail::Mailer;
    let sink = portal_tests::Aiosmtpd::start().await;
    let app = spawn_app().await;
    let patient = import(&app, LEON).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let view = app.call_ok(&leon, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await;
    let (id, number) = (view["id"].as_str().expect("id").to_string(), view["number"].as_str().expect("number").to_string());
    assert_eq!(app.call_ok(&leon, "my_notifications", &[]).await, serde_json::json!([]), "no message for one's own step");
    released(&app, &sam, &id, &[("decision", "approve")]).await;
    let messages = app.call_ok(&leon, "my_notifications", &[]).await;
    let texts: Vec<&str> = messages.as_array().expect("messages").iter().filter_map(|m| m["message"].as_str()).collect();
    assert_eq!(texts.len(), 4, "identity check, in review, approved, ready: {texts:?}");
    assert_eq!(texts[0], format!("Your request {number} has an update: Ready to download."));
    assert!(messages[0]["unread"].as_bool().unwrap_or(false));
    app.call_ok(&leon, "mark_notifications_read", &[]).await;
    assert_eq!(app.call_ok(&leon, "my_notifications", &[]).await[0]["unread"], false);
    assert_eq!(app.call_ok(&sam, "my_notifications", &[]).await, serde_json::json!([]), "only the requester's");

    // The outbox mails each once, through a real SMTP server; a second run sends nothing.
    let mailer = Mailer::new(Some(&sink.url), "Portal <portal@example.org>", false).expect("mailer");
    let sent = app.system().send_pending_notifications(&mailer, "https://portal.example.org").await.expect("outbox");
    assert_eq!(sent, 4);
    assert_eq!(app.system().send_pending_notifications(&mailer, "https://portal.example.org").await.expect("outbox"), 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let printed = sink.stop();
    assert_eq!(printed.matches("Subject: Your request").count(), 4, "{printed}");
    assert!(printed.contains(&format!("Your request {number} has an update: sign in to see it.")), "{printed}");
    assert!(printed.contains("leon@example.org"));
    for health in ["León", "Lab", "lab", "Glucose", "Ready to download"] {
        assert!(!printed.contains(health), "no health information in mail ({health}): {printed}");
    }
}

async fn outbox_count(app: &TestApp, condition: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM notification WHERE {condition}");
    let row = app.db.query_one_raw(Statement::from_string(app.db.get_database_backend(), sql)).await.expect("query").expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

#[tokio::test]
async fn mail_that_cannot_be_sent_is_retried_with_back_off_then_given_up_where_him_sees_it() {
    use app::backend::access::{MAIL_ATTEMPTS, MAIL_LEASE_MS};
    use app::backend::mail::Mailer;
    let app = spawn_app().await;
    let patient = import(&app, LEON).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&leon, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    released(&app, &sam, &id, &[("decision", "approve")]).await;
    assert_eq!(outbox_count(&app, "emailed_at_ms IS NULL").await, 4);
    // A relay that refuses every connection: nothing is marked sent (send, then mark).
    let down = Mailer::new(Some("smtp://127.0.0.1:9"), "Portal <portal@example.org>", false).expect("mailer");
    let base = "https://portal.example.org";
    assert_eq!(app.system().send_pending_notifications(&down, base).await.expect("outbox"), 0);
    assert_eq!(outbox_count(&app, "emailed_at_ms IS NULL AND mail_attempts = 1 AND mail_error IS NOT NULL").await, 4, "tried once, the relay's answer kept");
    // Back-off: the next round, at once, does not hammer the relay.
    assert_eq!(app.system().send_pending_notifications(&down, base).await.expect("outbox"), 0);
    assert_eq!(outbox_count(&app, "mail_attempts = 1").await, 4, "not tried again before its time");
    // Time passes (each wait moved to now) until the last attempt: given up, never marked sent.
    for _ in 1..MAIL_ATTEMPTS {
        app.db.execute_unprepared("UPDATE notification SET mail_next_at_ms = 0 WHERE mail_failed_at_ms IS NULL").await.expect("time passes");
        app.system().send_pending_notifications(&down, base).await.expect("outbox");
    }
    assert_eq!(outbox_count(&app, &format!("mail_failed_at_ms IS NOT NULL AND emailed_at_ms IS NULL AND mail_attempts = {MAIL_ATTEMPTS}")).await, 4);
    app.db.execute_unprepared("UPDATE notification SET mail_next_at_ms = 0").await.expect("time passes");
    assert_eq!(app.system().send_pending_notifications(&down, base).await.expect("outbox"), 0);
    assert_eq!(outbox_count(&app, &format!("mail_attempts > {MAIL_ATTEMPTS}")).await, 0, "a given-up message is not tried again on its own");

    // HIM staff see them, with the address and the request; nobody else does.
    let listed = app.call_ok(&sam, "undelivered_mail", &[]).await;
    let listed = listed.as_array().expect("a list").clone();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed[0]["to"], "leon@example.org");
    assert_eq!(listed[0]["request_id"], id.as_str());
    assert_eq!(listed[0]["attempts"], MAIL_ATTEMPTS);
    assert!(!listed[0]["error"].as_str().unwrap_or_default().is_empty(), "the relay's last answer: {listed:?}");
    assert!(!app.call(&leon, "undelivered_mail", &[]).await.status().is_success());
    assert!(!app.call(&leon, "retry_mail", &[("id", listed[0]["id"].as_str().expect("id"))]).await.status().is_success());
    assert_eq!(app.audit("mail_outbox", "success").await.len(), 1, "the list read is audited");

    // The clerk sends one again once the relay is back: it goes at the next round, once.
    let sink = portal_tests::Aiosmtpd::start().await;
    let up = Mailer::new(Some(&sink.url), "Portal <portal@example.org>", false).expect("mailer");
    app.call_ok(&sam, "retry_mail", &[("id", listed[0]["id"].as_str().expect("id"))]).await;
    assert_eq!(app.call(&sam, "retry_mail", &[("id", listed[0]["id"].as_str().expect("id"))]).await.status(), 404, "no longer given up");
    assert_eq!(app.system().send_pending_notifications(&up, base).await.expect("outbox"), 1);
    assert_eq!(app.call_ok(&sam, "undelivered_mail", &[]).await.as_array().map(Vec::len), Some(3));

    // A message leased by a server that died before marking it waits for the lease, then goes.
    app.db.execute_unprepared("UPDATE notification SET mail_failed_at_ms = NULL, mail_attempts = 1, mail_next_at_ms = 0").await.expect("reset");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    app.db.execute_unprepared(&format!("UPDATE notification SET mail_next_at_ms = {} WHERE emailed_at_ms IS NULL", now + MAIL_LEASE_MS)).await.expect("leased");
    assert_eq!(app.system().send_pending_notifications(&up, base).await.expect("outbox"), 0, "held by the other server's lease");
    app.db.execute_unprepared("UPDATE notification SET mail_next_at_ms = 0 WHERE emailed_at_ms IS NULL").await.expect("the lease passes");
    assert_eq!(app.system().send_pending_notifications(&up, base).await.expect("outbox"), 3);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.stop().matches("Subject: Your request").count(), 4, "each message reached the relay once");
}

#[tokio::test]
async fn the_fee_schedule_is_shown_before_sending_and_kept_with_the_request() {
    let app = portal_tests::spawn_app_with(|s| {
        s.self_copy_fee_cents = 500;
        s.third_party_copy_fee_cents = 2500;
    })
    .await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let mut terms = app.call_ok(&leon, "copy_terms", &[]).await;
    assert_eq!(terms["request_key"].as_str().map(str::len), Some(36), "a fresh key for the form");
    terms.as_object_mut().expect("an object").remove("request_key");
    assert_eq!(terms, serde_json::json!({ "self_fee": "$5.00", "third_party_fee": "$25.00", "response_days": 30 }));
    assert_eq!(app.call_ok(&leon, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["fee"], "$5.00");
    assert_eq!(app.call_ok(&leon, "submit_request", &third_party_fields(&[])).await["fee"], "$25.00");
}
