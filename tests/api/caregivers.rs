//! Caregivers end to end: the patient invites, the caregiver accepts and acts within the scope
//! (limited record, a copy requested on the patient's behalf), both identities on every action,
//! revocation effective on the caregiver's next request in the same session; bad invitations;
//! HIM-established representatives with documents checked by content; the age rules applied on
//! every request and by the daily job.

use app::domain::Role;
use app::domain::caregiver::AgeThresholds;
use portal_tests::{TestApp, spawn_app, spawn_app_with};
use sea_orm::ConnectionTrait;

const LEON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json");
const ZANDRA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json");

async fn import(app: &TestApp, path: &str) -> String {
    app.import_fhir(&std::fs::read(path).expect("fixture")).await
}

async fn signed_in(app: &TestApp, email: &str, roles: &[Role], patient: Option<&str>) -> reqwest::Client {
    app.create_user(email, roles, patient).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

async fn sql(app: &TestApp, statement: &str) {
    app.db.execute_unprepared(statement).await.expect("SQL runs");
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}")))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// Tags one of the patient's problems as mental health and names it uniquely.
async fn tag_a_problem(app: &TestApp, patient: &str) -> String {
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT resource_id FROM clinical_item WHERE patient_id = '{patient}' AND kind = 'condition' AND status = 'active' ORDER BY display"),
        ))
        .await
        .expect("conditions");
    let resource_id: String = rows.first().expect("an active problem").try_get("", "resource_id").expect("id");
    sql(app, &format!("UPDATE clinical_item SET display = 'Tagged problem Zq-7' WHERE resource_id = '{resource_id}'")).await;
    sql(app, &format!("INSERT INTO sensitive_tag (resource_id, category, patient_id) VALUES ('{resource_id}', 'mental_health', '{patient}')")).await;
    "Tagged problem Zq-7".into()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("a token in the link").to_string()
}

async fn invite(app: &TestApp, patient: &reqwest::Client, email: &str, view: &str, copies: bool) -> String {
    let mut fields = vec![("form[email]", email), ("form[view]", view), ("form[days]", "30"), ("form[track_requests]", "true")];
    if copies {
        fields.push(("form[request_copies]", "true"));
    }
    let sent = app.call_ok(patient, "invite_caregiver", &fields).await;
    // The page the form redirects to shows the link once, from the session.
    let shown = app.call_ok(patient, "take_sent_invitation", &[]).await;
    assert_eq!(shown["link"], sent["link"]);
    assert!(app.call_ok(patient, "take_sent_invitation", &[]).await.is_null(), "shown once");
    token_of(sent["link"].as_str().expect("link"))
}

fn names(list: &serde_json::Value, key: &str) -> Vec<String> {
    list.as_array().expect("a list").iter().filter_map(|r| r[key].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn an_invited_caregiver_acts_within_the_scope_with_both_identities_until_revoked() {
    let app = spawn_app().await;
    let leon = import(&app, LEON).await;
    let tagged = tag_a_problem(&app, &leon).await;
    let ana = signed_in(&app, "ana@example.org", &[Role::Patient], Some(&leon)).await;
    let token = invite(&app, &ana, "carl@example.org", "limited", true).await;
    // Stored hashed: the token itself is nowhere in the database.
    let stored = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), "SELECT token_hash FROM caregiver_invitation".to_string()))
        .await
        .expect("query")
        .expect("a row");
    assert_ne!(stored.try_get::<String>("", "token_hash").expect("hash"), token);

    let carl = signed_in(&app, "carl@example.org", &[], None).await;
    let preview = app.call_ok(&carl, "invitation_preview", &[("token", &token)]).await;
    assert_eq!(preview["for_you"], true);
    assert_eq!(preview["patient_name"], "Lucas404 León820");
    app.call_ok(&carl, "accept_invitation", &[("token", &token)]).await;
    let me = app.me(&carl).await.expect("signed in");
    assert_eq!(me["helps_others"], true);
    assert!(me["roles"].as_array().expect("roles").iter().any(|r| r == "caregiver"), "accepting gives the caregiver role");

    // Switch to Lucas: the limited record, without the tagged problem and without notes.
    let switched = app.call_ok(&carl, "switch_person", &[("patient", &leon)]).await;
    assert_eq!(switched["name"], "Lucas404 León820");
    assert_eq!(app.me(&carl).await.expect("me")["acting"]["patient_id"], leon.as_str());
    let summary = app.call_ok(&carl, "record_summary", &[]).await;
    assert_eq!(summary["limited"], true);
    assert_eq!(summary["patient"]["id"], leon.as_str());
    let problems = app.call_ok(&carl, "record_section", &[("section", "problems")]).await;
    assert!(!names(&problems["items"], "display").contains(&tagged), "the sensitive problem is hidden from a limited proxy");
    let own_problems = app.call_ok(&ana, "record_section", &[("section", "problems")]).await;
    assert!(names(&own_problems["items"], "display").contains(&tagged), "the patient sees it");
    let notes = app.call_ok(&carl, "record_section", &[("section", "documents")]).await;
    assert_eq!(notes["total"], 0, "no notes for a limited proxy");
    let own_notes = app.call_ok(&ana, "record_section", &[("section", "documents")]).await;
    let note_id = own_notes["documents"][0]["id"].as_str().expect("Lucas has notes").to_string();
    assert_eq!(app.call(&carl, "record_document", &[("id", &note_id)]).await.status(), 404);

    // A copy on Lucas's behalf: requested by Carl, for Lucas.
    let request = app.call_ok(&carl, "submit_request", &[("scope", "all"), ("pdf", "on")]).await;
    let request_id = request["id"].as_str().expect("id").to_string();
    assert_eq!(request["representative"], "Test carl@example.org (invited by the patient), on the patient's behalf", "the request says who asked, for HIM to check");
    assert_eq!(names(&app.call_ok(&ana, "my_requests", &[]).await, "id"), vec![request_id.clone()], "the patient sees it among theirs");
    let submitted = app.audit("release_request", "success").await;
    let row = submitted.last().expect("the request is audited");
    assert_eq!(row.on_behalf_of.as_deref(), Some(leon.as_str()), "both identities: for Lucas");
    let carl_id = row.actor_user_id.clone().expect("an actor");
    assert_ne!(Some(carl_id.as_str()), app.audit("login", "success").await.first().and_then(|r| r.actor_user_id.as_deref()), "by Carl, not Ana");
    for read in app.audit("patient_read", "success").await.iter().filter(|r| r.actor_user_id.as_deref() == Some(carl_id.as_str())) {
        assert_eq!(read.on_behalf_of.as_deref(), Some(leon.as_str()), "every read by the caregiver names the patient");
    }
    // The patient's activity history names the caregiver.
    let activity = app.call_ok(&ana, "my_activity", &[]).await;
    let who = names(&activity, "who");
    assert!(who.iter().any(|w| w.contains("(caregiver)")), "{who:?}");
    assert!(activity.as_array().expect("rows").iter().any(|r| r["action"] == "Request"), "the request on the patient's behalf is listed");

    // HIM release it: the cover names the patient and the representative, and a limited
    // representative's copy leaves the sensitive problem out.
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&sam, "advance_request", &[("id", &request_id), ("step", step)]).await;
    }
    app.call_ok(&sam, "decide_request", &[("id", &request_id), ("decision", "approve"), ("note", "ok")]).await;
    app.call_ok(&sam, "release_copy", &[("id", &request_id)]).await;
    let pdf = carl.get(app.url(&format!("/requests/{request_id}/files/pdf"))).send().await.expect("download").bytes().await.expect("bytes");
    let path = std::env::temp_dir().join(format!("portal-caregiver-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, &pdf).expect("temp file");
    let text = String::from_utf8(std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext runs").stdout).expect("UTF-8");
    let _ = std::fs::remove_file(&path);
    assert!(text.contains("Lucas404 León820"), "the patient is named");
    assert!(text.contains("Test carl@example.org (invited by the patient), on the patient's behalf"), "the representative is named: {}", &text[..text.len().min(1500)]);
    assert!(!text.contains(&tagged), "a limited representative's copy leaves out sensitive categories");
    // And the notes: named once, on the cover's list of what was left out, never as a section.
    assert_eq!(text.matches("Documents and notes").count(), 1, "the notes are only listed as left out");
    assert!(text.contains("Lab results"), "the rest is there");

    // Carl cannot grant access onward.
    assert_eq!(app.call(&carl, "invite_caregiver", &[("form[email]", "dan@example.org"), ("form[view]", "limited"), ("form[days]", "5")]).await.status(), 404);
    assert_eq!(count(&app, "caregiver_invitation").await, 1);

    // Ana revokes: Carl's very next request in the same session fails.
    let overview = app.call_ok(&ana, "caregivers_overview", &[]).await;
    let grant = overview["active"][0]["id"].as_str().expect("an active grant").to_string();
    assert_eq!(overview["active"][0]["caregiver_email"], "carl@example.org");
    app.call_ok(&ana, "revoke_caregiver", &[("id", &grant)]).await;
    assert_eq!(app.call(&carl, "record_summary", &[]).await.status(), 404);
    assert_eq!(app.call(&carl, "request_detail", &[("id", &request_id)]).await.status(), 404);
    let me = app.me(&carl).await.expect("still signed in");
    assert_eq!(me["acting_lost"], true, "the banner says the access ended");
    let overview = app.call_ok(&ana, "caregivers_overview", &[]).await;
    assert_eq!(overview["active"], serde_json::json!([]));
    assert_eq!(overview["history"][0]["status"], "Revoked by the patient");
    assert_eq!(app.audit("caregiver_revoke", "success").await.len(), 1);
    assert!(!app.audit("patient_read", "denied").await.is_empty(), "the refused read is audited");
}

#[tokio::test]
async fn bad_invitations_are_refused_audited_and_change_nothing() {
    let app = spawn_app().await;
    let ana_record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let ana = signed_in(&app, "ana@example.org", &[Role::Patient], Some(&ana_record)).await;
    // Self-invitation and a scope that does not exist.
    let response = app.call(&ana, "invite_caregiver", &[("form[email]", "ANA@example.org"), ("form[view]", "everything"), ("form[days]", "9999")]).await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.expect("body");
    for field in ["email", "view", "days"] {
        assert!(body.contains(&format!("\"field\":\"{field}\"")), "{field}: {body}");
    }
    assert_eq!(count(&app, "caregiver_invitation").await, 0);
    assert_eq!(app.audit("caregiver_invite", "failure").await.len(), 1);

    let token = invite(&app, &ana, "carl@example.org", "full", false).await;
    // Someone signed in with another email cannot accept it.
    let eve = signed_in(&app, "eve@example.org", &[], None).await;
    // Nor learn what the link opens: whose record, what scope, until when.
    let seen = app.call_ok(&eve, "invitation_preview", &[("token", &token)]).await;
    assert_eq!((seen["for_you"].clone(), seen["patient_name"].clone(), seen["days"].clone(), seen["expires_on"].clone()), (serde_json::json!(false), serde_json::json!(""), serde_json::json!(0), serde_json::json!("")), "{seen}");
    assert_eq!(seen["scope"]["view"], "limited", "a fixed placeholder, not the invitation's scope ({seen})");
    let refused = app.call(&eve, "accept_invitation", &[("token", &token)]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("another email address"));
    // A made-up token.
    assert!(app.call(&eve, "accept_invitation", &[("token", "0123")]).await.text().await.expect("body").contains("not valid"));
    // Accepted once; the second time is refused.
    let carl = signed_in(&app, "carl@example.org", &[], None).await;
    app.call_ok(&carl, "accept_invitation", &[("token", &token)]).await;
    let twice = app.call(&carl, "accept_invitation", &[("token", &token)]).await;
    assert_eq!(twice.status(), 422);
    assert!(twice.text().await.expect("body").contains("already been accepted"));
    assert_eq!(count(&app, "caregiver_grant").await, 1);

    // Withdrawn, then expired.
    let withdrawn = invite(&app, &ana, "dan@example.org", "limited", false).await;
    let overview = app.call_ok(&ana, "caregivers_overview", &[]).await;
    let pending = overview["invitations"].as_array().expect("invitations").iter().find(|i| i["status"] == "pending").expect("pending")["id"].as_str().expect("id").to_string();
    app.call_ok(&ana, "withdraw_invitation", &[("id", &pending)]).await;
    let dan = signed_in(&app, "dan@example.org", &[], None).await;
    assert!(app.call(&dan, "accept_invitation", &[("token", &withdrawn)]).await.text().await.expect("body").contains("withdrew"));
    let expired = invite(&app, &ana, "dan@example.org", "limited", false).await;
    sql(&app, "UPDATE caregiver_invitation SET expires_at_ms = 1 WHERE status = 'pending'").await;
    assert!(app.call(&dan, "accept_invitation", &[("token", &expired)]).await.text().await.expect("body").contains("expired"));
    assert_eq!(count(&app, "caregiver_grant").await, 1, "no refused acceptance created a grant");
    let reasons: Vec<String> = app.audit("caregiver_accept", "failure").await.into_iter().filter_map(|r| r.detail).collect();
    for reason in ["other_email", "unknown_invitation", "already_accepted", "withdrawn", "expired"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason} audited: {reasons:?}");
    }
    // The caregiver cannot switch to someone they hold no grant for: 404, audited.
    let ben_record = app.create_patient("MRN-2", "Lopez", "1990-01-01").await;
    assert_eq!(app.call(&carl, "switch_person", &[("patient", &ben_record)]).await.status(), 404);
    assert_eq!(app.audit("caregiver_switch", "denied").await.len(), 1);
}

async fn send_representative_request(app: &TestApp, client: &reqwest::Client, birth_date: &str, file: (&str, Vec<u8>)) -> String {
    let part = reqwest::multipart::Part::bytes(file.1).file_name(file.0.to_string());
    let form = reqwest::multipart::Form::new()
        .text("kind", "parent")
        .text("patient_name", "Zandra O'Hara")
        .text("birth_date", birth_date.to_string())
        .text("mrn", "")
        .text("statement", "I am her mother.")
        .part("documents", part);
    let response = client.post(app.url("/representatives/new")).multipart(form).send().await.expect("upload");
    assert_eq!(response.status(), 303);
    response.headers().get("location").and_then(|l| l.to_str().ok()).expect("a redirect").to_string()
}

#[tokio::test]
async fn him_verifies_a_parent_and_the_age_rules_narrow_then_end_the_access_on_their_own() {
    let app = spawn_app_with(|s| s.representative_document_max_bytes = 16 * 1024).await;
    // Her IPV immunization carries the source EHR's "restricted" label, as a minor's own
    // confidential care does.
    let mut bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(ZANDRA).expect("fixture")).expect("JSON");
    let shot = bundle["entry"]
        .as_array_mut()
        .expect("entries")
        .iter_mut()
        .map(|e| &mut e["resource"])
        .find(|r| r["resourceType"] == "Immunization" && r["vaccineCode"]["text"] == "IPV")
        .expect("an IPV immunization");
    shot["meta"]["security"] = serde_json::json!([{ "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R" }]);
    let restricted = "IPV".to_string();
    let zandra = app.import_fhir(&serde_json::to_vec(&bundle).expect("JSON")).await;
    sql(&app, &format!("UPDATE patient SET birth_date = '2016-01-01' WHERE id = '{zandra}'")).await;
    let mrn: String = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), format!("SELECT mrn FROM patient WHERE id = '{zandra}'")))
        .await
        .expect("query")
        .expect("row")
        .try_get("", "mrn")
        .expect("mrn");
    let mia = signed_in(&app, "mia@example.org", &[], None).await;
    // A "PDF" that is not one, and one too large: refused with the reason, nothing stored.
    // The page is told there were errors (`?error=1`); the messages wait in the session, shown
    // once, and never travel in the address (a link could otherwise show anyone's words).
    let refusal = async |location: String| {
        assert_eq!(location, "/representatives?error=1");
        let errors = app.call_ok(&mia, "take_form_errors", &[("form", "representatives")]).await.to_string();
        assert_eq!(app.call_ok(&mia, "take_form_errors", &[("form", "representatives")]).await, serde_json::json!([]), "shown once");
        errors
    };
    let fake = refusal(send_representative_request(&app, &mia, "2016-01-01", ("birth-certificate.pdf", b"MZ this is not a pdf".to_vec())).await).await;
    assert!(fake.contains("not a PDF"), "{fake}");
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(20 * 1024, b'x');
    let large = refusal(send_representative_request(&app, &mia, "2016-01-01", ("scan.pdf", big)).await).await;
    assert!(large.contains("larger than"), "{large}");
    // Far over the whole body limit (as a 200 MB upload would be): cut off, a clear error.
    let mut huge = b"%PDF-1.4\n".to_vec();
    huge.resize(1024 * 1024, b'x');
    let cut = refusal(send_representative_request(&app, &mia, "2016-01-01", ("huge.pdf", huge)).await).await;
    assert!(cut.contains("could not be read") || cut.contains("larger than"), "{cut}");
    assert_eq!(count(&app, "representative_request").await, 0);
    assert_eq!(count(&app, "representative_document").await, 0);
    assert_eq!(app.audit("representative_request", "failure").await.len(), 3);

    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let ok = send_representative_request(&app, &mia, "2016-01-01", ("birth-certificate.pdf", pdf.clone())).await;
    assert_eq!(ok, "/representatives?sent=1");
    // Sealed at rest: the stored bytes are not the document.
    let stored = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), "SELECT ciphertext FROM representative_document".to_string()))
        .await
        .expect("query")
        .expect("row")
        .try_get::<Vec<u8>>("", "ciphertext")
        .expect("bytes");
    assert!(!stored.windows(8).any(|w| w == b"%PDF-1.4"), "documents are encrypted");

    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let queue = app.call_ok(&sam, "representative_queue", &[]).await;
    let request_id = queue[0]["id"].as_str().expect("a request").to_string();
    let document = queue[0]["documents"][0]["id"].as_str().expect("a document").to_string();
    let opened = sam.get(app.url(&format!("/representatives/{request_id}/documents/{document}"))).send().await.expect("download");
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.bytes().await.expect("bytes").to_vec(), pdf, "staff read the document as sent");
    // Another user cannot open it.
    let eve = signed_in(&app, "eve@example.org", &[Role::Patient], None).await;
    assert_eq!(eve.get(app.url(&format!("/representatives/{request_id}/documents/{document}"))).send().await.expect("download").status(), 404);
    // A wrong record number is refused; the right one approves.
    assert_eq!(app.call(&sam, "decide_representative", &[("id", &request_id), ("decision", "approve"), ("mrn", "NOPE-1"), ("view", "full")]).await.status(), 422);
    app.call_ok(&sam, "decide_representative", &[("id", &request_id), ("decision", "approve"), ("mrn", &mrn), ("view", "full"), ("request_copies", "on"), ("track_requests", "on")]).await;

    // A child of 10: the full record.
    app.call_ok(&mia, "switch_person", &[("patient", &zandra)]).await;
    assert_eq!(app.call_ok(&mia, "record_summary", &[]).await["limited"], false);
    let shots = app.call_ok(&mia, "record_section", &[("section", "immunizations")]).await;
    assert!(names(&shots["items"], "display").contains(&restricted), "a child's parent sees everything");
    // She turns 13: limited on the very next request, before any job runs; the restricted
    // item is hidden from the parent.
    sql(&app, &format!("UPDATE patient SET birth_date = '2013-01-01' WHERE id = '{zandra}'")).await;
    assert_eq!(app.call_ok(&mia, "record_summary", &[]).await["limited"], true);
    let shots = app.call_ok(&mia, "record_section", &[("section", "immunizations")]).await;
    assert!(!names(&shots["items"], "display").contains(&restricted), "adolescent-confidential care is not the parent's");
    assert!(names(&shots["items"], "display").contains(&"DTaP".to_string()), "the rest still shows");
    let ages = AgeThresholds::default();
    let today = app::backend::db::today();
    let run = app.system().apply_age_rules(ages, today).await.expect("the job runs");
    assert_eq!((run.narrowed, run.ended_at_majority, run.expired), (1, 0, 0));
    let messages = app.call_ok(&mia, "my_notifications", &[]).await;
    assert!(messages.to_string().contains("now limited"), "{messages}");
    assert!(!messages.to_string().contains("Zandra"), "no name or health information in the message");
    // She turns 18: the parent's access ends on the next request, and the job closes it.
    sql(&app, &format!("UPDATE patient SET birth_date = '2008-01-01' WHERE id = '{zandra}'")).await;
    assert_eq!(app.call(&mia, "record_summary", &[]).await.status(), 404);
    let run = app.system().apply_age_rules(ages, today).await.expect("the job runs");
    assert_eq!((run.narrowed, run.ended_at_majority, run.expired), (0, 1, 0));
    assert!(app.call_ok(&mia, "my_notifications", &[]).await.to_string().contains("has ended"));
    // Once a day across servers: the first claim runs, the second does nothing (the server
    // under test ran today's already at start-up; pretend that was yesterday).
    sql(&app, "UPDATE job_run SET last_run_on = '2000-01-01'").await;
    assert!(app.system().run_daily_age_rules(ages, today).await.expect("runs").is_some());
    assert!(app.system().run_daily_age_rules(ages, today).await.expect("runs").is_none());
    // A server that claimed today and died mid-run: nobody runs it while its lease lasts, the
    // next server takes it over once the lease has passed, and finishes it.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    sql(&app, &format!("UPDATE job_run SET finished_at_ms = NULL, at_ms = {now}")).await;
    assert!(app.system().run_daily_age_rules(ages, today).await.expect("runs").is_none(), "the other server's lease holds");
    sql(&app, &format!("UPDATE job_run SET at_ms = {}", now - app::backend::access::DAILY_JOB_LEASE_MS - 1)).await;
    assert!(app.system().run_daily_age_rules(ages, today).await.expect("runs").is_some(), "taken over after the lease");
    assert!(app.system().run_daily_age_rules(ages, today).await.expect("runs").is_none(), "and finished: once is enough");
    assert_eq!(count(&app, "job_run WHERE finished_at_ms IS NOT NULL").await, 1);
    let ended = app.audit("caregiver_revoke", "success").await;
    assert!(ended.iter().any(|r| r.detail.as_deref() == Some("ended: age of majority")), "the job is audited");
}

#[tokio::test]
async fn him_refuses_or_ends_a_representative_with_a_reason() {
    let app = spawn_app().await;
    let record = app.create_patient("MRN-7", "Stone", "1950-05-05").await;
    let ray = signed_in(&app, "ray@example.org", &[], None).await;
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    for _ in 0..2 {
        let part = reqwest::multipart::Part::bytes(pdf.clone()).file_name("poa.pdf");
        let form = reqwest::multipart::Form::new()
            .text("kind", "power_of_attorney")
            .text("patient_name", "Pat Stone")
            .text("birth_date", "1950-05-05")
            .text("mrn", "MRN-7")
            .part("documents", part);
        assert_eq!(ray.post(app.url("/representatives/new")).multipart(form).send().await.expect("upload").status(), 303);
    }
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let queue = app.call_ok(&sam, "representative_queue", &[]).await;
    let (first, second) = (queue[0]["id"].as_str().expect("id").to_string(), queue[1]["id"].as_str().expect("id").to_string());
    // Refusing needs a reason.
    assert_eq!(app.call(&sam, "decide_representative", &[("id", &first), ("decision", "refuse")]).await.status(), 422);
    let refused = app.call_ok(&sam, "decide_representative", &[("id", &first), ("decision", "refuse"), ("reason", "The document is not signed.")]).await;
    assert_eq!(refused["status"], "refused");
    app.call_ok(&sam, "decide_representative", &[("id", &second), ("decision", "approve"), ("mrn", "MRN-7"), ("view", "full"), ("track_requests", "on")]).await;
    assert_eq!(app.call(&sam, "decide_representative", &[("id", &second), ("decision", "refuse"), ("reason", "x")]).await.status(), 409, "decided once");
    // Only HIM staff decide.
    assert_eq!(app.call(&ray, "representative_queue", &[]).await.status(), 404);
    app.call_ok(&ray, "switch_person", &[("patient", &record)]).await;
    assert_eq!(app.call_ok(&ray, "record_summary", &[]).await["limited"], false);
    // The agent's grant allows no copies.
    assert_eq!(app.call(&ray, "submit_request", &[("scope", "all"), ("pdf", "on")]).await.status(), 404);
    // Abuse suspected: HIM ends it, with the reason kept.
    let grants = app.call_ok(&sam, "patient_caregivers", &[("patient", &record)]).await;
    let grant = grants[0]["id"].as_str().expect("a grant").to_string();
    assert_eq!(app.call(&sam, "end_caregiver", &[("id", &grant), ("reason", " ")]).await.status(), 422);
    app.call_ok(&sam, "end_caregiver", &[("id", &grant), ("reason", "Endangerment reported")]).await;
    assert_eq!(app.call(&ray, "record_summary", &[]).await.status(), 404);
    let grants = app.call_ok(&sam, "patient_caregivers", &[("patient", &record)]).await;
    assert_eq!(grants[0]["status"], "Ended by HIM: Endangerment reported");
    let mine = app.call_ok(&ray, "my_representative_requests", &[]).await;
    assert!(mine.to_string().contains("The document is not signed."), "the requester sees the reason");
}

#[tokio::test]
async fn someone_new_registers_from_the_invitation_and_goes_straight_back_to_accept_it() {
    let app = spawn_app().await;
    let record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let ana = signed_in(&app, "ana@example.org", &[Role::Patient], Some(&record)).await;
    let token = invite(&app, &ana, "newcomer@example.org", "limited", false).await;
    let next = format!("/caregivers/accept?token={token}");
    let newcomer = app.new_client();
    // As the browser posts the form before hydration: the answer sends it back to the invitation.
    let response = newcomer
        .post(app.url("/api/self_register"))
        .header("accept", "text/html")
        .header("referer", app.url("/register"))
        .form(&[("name", "Nia New"), ("email", "newcomer@example.org"), ("birth_date", "1990-01-01"), ("phone", ""), ("password", "kettle orbit lantern"), ("next", &next)])
        .send()
        .await
        .expect("registered");
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers().get("location").and_then(|l| l.to_str().ok()), Some(next.as_str()));
    app.call_ok(&newcomer, "accept_invitation", &[("token", &token)]).await;
    assert_eq!(app.me(&newcomer).await.expect("signed in")["helps_others"], true);
    // Somewhere else is never a destination.
    let other = app.new_client();
    let response = other
        .post(app.url("/api/self_register"))
        .header("accept", "text/html")
        .header("referer", app.url("/register"))
        .form(&[("name", "Eve"), ("email", "eve@example.org"), ("birth_date", "1990-01-01"), ("phone", ""), ("password", "kettle orbit lantern"), ("next", "https://evil.example/")])
        .send()
        .await
        .expect("registered");
    assert_ne!(response.headers().get("location").and_then(|l| l.to_str().ok()), Some("https://evil.example/"));
}

#[tokio::test]
async fn a_limited_proxy_sees_neither_the_accounting_nor_the_activity_nor_the_patients_own_requests() {
    // 45 CFR 164.502(g)(3): a parent with the limited view of a teenager's record.
    let app = spawn_app().await;
    let leon = import(&app, LEON).await;
    let ana = signed_in(&app, "ana@example.org", &[Role::Patient], Some(&leon)).await;
    let token = invite(&app, &ana, "carl@example.org", "limited", true).await;
    let carl = signed_in(&app, "carl@example.org", &[], None).await;
    app.call_ok(&carl, "accept_invitation", &[("token", &token)]).await;
    app.call_ok(&carl, "switch_person", &[("patient", &leon)]).await;
    // The patient asks for a copy of her own; the parent asks for one too.
    let hers = app.call_ok(&ana, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    let his = app.call_ok(&carl, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();

    assert_eq!(app.call(&carl, "my_disclosures", &[]).await.status(), 404, "the accounting names who received what");
    assert_eq!(app.call(&carl, "my_activity", &[]).await.status(), 404, "so does the activity history");
    assert_eq!(app.call(&carl, "request_detail", &[("id", &hers)]).await.status(), 404, "the patient's own request");
    assert_eq!(names(&app.call_ok(&carl, "my_requests", &[]).await, "id"), vec![his.clone()], "only what he asked for");
    app.call_ok(&carl, "request_detail", &[("id", &his)]).await;
    // The patient sees all of it.
    app.call_ok(&ana, "my_disclosures", &[]).await;
    app.call_ok(&ana, "my_activity", &[]).await;
    assert_eq!(names(&app.call_ok(&ana, "my_requests", &[]).await, "id").len(), 2);

    // Once the patient ends his access, he no longer acts even on the request he made.
    let grant = app.call_ok(&ana, "caregivers_overview", &[]).await["active"][0]["id"].as_str().expect("a grant").to_string();
    app.call_ok(&ana, "revoke_caregiver", &[("id", &grant)]).await;
    assert_eq!(app.call(&carl, "advance_request", &[("id", &his), ("step", "cancel")]).await.status(), 404);
    assert_eq!(app.call_ok(&ana, "request_detail", &[("id", &his)]).await["status"], "submitted", "nothing changed");
    // Nor is he told how it goes on.
    let before = app.call_ok(&carl, "my_notifications", &[]).await.as_array().map(Vec::len);
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    app.call_ok(&sam, "advance_request", &[("id", &his), ("step", "start_identity_check"), ("note", "checking")]).await;
    assert_eq!(app.call_ok(&carl, "my_notifications", &[]).await.as_array().map(Vec::len), before, "no status messages after his access ended");
    // And no copy goes out to him.
    app.call_ok(&sam, "advance_request", &[("id", &his), ("step", "identity_verified"), ("note", "ok")]).await;
    app.call_ok(&sam, "decide_request", &[("id", &his), ("decision", "approve"), ("note", "ok")]).await;
    let refused = app.call(&sam, "release_copy", &[("id", &his)]).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.expect("body").contains("no longer acts for the patient"));
}

#[tokio::test]
async fn one_account_cannot_fill_the_store_with_uploads() {
    let app = spawn_app_with(|s| {
        s.representative_document_max_bytes = 16 * 1024;
        s.upload_bytes_per_day = 40 * 1024;
    })
    .await;
    let mia = signed_in(&app, "mia@example.org", &[], None).await;
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(15 * 1024, b'x');
    for _ in 0..2 {
        assert_eq!(send_representative_request(&app, &mia, "2016-01-01", ("scan.pdf", pdf.clone())).await, "/representatives?sent=1");
    }
    // A third 15 KiB document would make 45 KiB in a day: refused, nothing stored.
    assert_eq!(send_representative_request(&app, &mia, "2016-01-01", ("scan.pdf", pdf.clone())).await, "/representatives?error=1");
    let errors = app.call_ok(&mia, "take_form_errors", &[("form", "representatives")]).await.to_string();
    assert!(errors.contains("limit is 1 MB a day") || errors.contains("the limit is"), "{errors}");
    assert_eq!(count(&app, "representative_document").await, 2);
    assert_eq!(app.audit("representative_request", "failure").await.iter().filter(|r| r.detail.as_deref() == Some("daily_upload_limit")).count(), 1);
    // Someone else is not held back by her uploads.
    let ray = signed_in(&app, "ray@example.org", &[], None).await;
    assert_eq!(send_representative_request(&app, &ray, "2016-01-01", ("scan.pdf", pdf)).await, "/representatives?sent=1");
}
