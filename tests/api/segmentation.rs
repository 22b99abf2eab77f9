//! Nothing released that must not be (issue 18): the review lists the sensitive categories the
//! record actually holds in the scope, Part 2 records need a complete Part 2 consent and carry the
//! 2.32 notice, psychotherapy notes are recognised by the site's rules and never go out under the
//! right of access, any part withheld on a denial ground has its letter naming the organization,
//! its address and the privacy contact's telephone, and an expired or revoked authorization stops
//! releases and closes links. One test per rule, named for its citation.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::process::Command;

/// A patient with a visit at a Part 2 program (alcohol dependence), an HIV test and a glucose
/// result at the general clinic, a note titled as psychotherapy, a note whose only sign is its
/// LOINC type (a site's code, 99999-9), and an ordinary discharge summary. The browser test
/// imports the same file.
fn record() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/segmentation/marta-rivera.json")).expect("fixture")
}

async fn signed_in(app: &TestApp, email: &str, roles: &[Role], patient: Option<&str>) -> reqwest::Client {
    app.create_user(email, roles, patient).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

/// The record imported and the site's rules set: the Part 2 program's identifier and a LOINC
/// note code for psychotherapy notes (added by an administrator, which re-tags what is stored).
async fn set_up(app: &TestApp) -> (String, reqwest::Client) {
    let patient = app.import_fhir(&record()).await;
    let admin = signed_in(app, "admin@example.org", &[Role::Administrator], None).await;
    app.call_ok(&admin, "change_segment_rule", &[("kind", "part2_program"), ("system", "http://example.org/programs"), ("code", "P2-001"), ("note", "Harbour Recovery Program")]).await;
    let rules = app.call_ok(&admin, "change_segment_rule", &[("kind", "psychotherapy_note"), ("system", "http://loinc.org"), ("code", "99999-9"), ("note", "Our EHR's psychotherapy note type")]).await;
    assert_eq!(rules.as_array().map(Vec::len), Some(3), "{rules}");
    (patient, admin)
}

fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("portal-seg-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, pdf).expect("temp file");
    let out = Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext is needed (scripts/setup.sh installs poppler-utils)");
    std::fs::remove_file(&path).ok();
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn file_text(app: &TestApp, client: &reqwest::Client, view: &Value, kind: &str) -> String {
    let file = view["files"].as_array().expect("files").iter().find(|f| f["kind"] == kind).unwrap_or_else(|| panic!("a {kind} file: {view}"));
    let bytes = client.get(app.url(file["href"].as_str().expect("href"))).send().await.expect("download").bytes().await.expect("bytes");
    pdf_text(&bytes)
}

fn fields_of(body: &Value) -> Vec<String> {
    body["fields"].as_array().map(|f| f.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// An attorney's request logged from the fax, with a complete 164.508 authorization, in review.
async fn attorney_request(app: &TestApp, clerk: &reqwest::Client, patient: &str) -> String {
    let checklist = app::domain::release::intake::AUTHORIZATION.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(",");
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in [
        ("channel", "fax"),
        ("received_on", "2026-11-30"),
        ("requester_type", "third_party"),
        ("requester_name", "Smith & Lee LLP"),
        ("requester_address", "records@smithlee.example"),
        ("patient_id", patient),
        ("scope", "all"),
        ("pdf", "on"),
        ("checklist", checklist.as_str()),
    ] {
        form = form.text(name.to_string(), value.to_string());
    }
    let response = clerk.post(app.url("/staff/intake/new")).header("accept", "application/json").multipart(form).send().await.expect("intake");
    let body: Value = response.json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("{body}")).to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(clerk, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    id
}

#[tokio::test]
async fn the_review_lists_the_categories_present_with_their_items_and_defaults() {
    let app = spawn_app().await;
    let (patient, _) = set_up(&app).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let id = attorney_request(&app, &clerk, &patient).await;
    let view = app.call_ok(&clerk, "request_detail", &[("id", &id)]).await;
    let segments = view["segments"].as_array().expect("segments");
    let by = |code: &str| segments.iter().find(|s| s["category"] == code).cloned().unwrap_or_else(|| panic!("{code} present: {view}"));
    // Only what the record holds: no genetic, no reproductive health, no mental health.
    let codes: Vec<&str> = segments.iter().filter_map(|s| s["category"].as_str()).collect();
    assert_eq!(codes, vec!["psychotherapy_notes", "part2", "substance_use", "hiv_sti"], "{view}");
    assert_eq!(by("psychotherapy_notes")["count"], 2, "by title and by the site's LOINC code");
    assert_eq!(by("hiv_sti")["items"][0]["title"], "Lab results: HIV screen Hv-77");
    assert!(by("hiv_sti")["items"][0]["href"].as_str().expect("href").starts_with(&format!("/staff/patients/{patient}/record/")));
    // The visit at the program, and what was recorded in it.
    assert_eq!(by("part2")["count"], 2, "{}", by("part2"));
    // For a third party, what the authorization does not name is withheld by default.
    assert_eq!(by("hiv_sti")["default_basis"], "not_authorized");
    assert_eq!(by("part2")["default_basis"], "part2_no_consent");
    assert_eq!(by("psychotherapy_notes")["default_basis"], "psychotherapy_separate");
}

#[tokio::test]
async fn rule_42_cfr_2_31_sud_needs_part2_consent() {
    let app = spawn_app().await;
    let (patient, _) = set_up(&app).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let id = attorney_request(&app, &clerk, &patient).await;
    let base = [("id", id.as_str()), ("decision", "approve"), ("psychotherapy_notes", "psychotherapy_separate"), ("hiv_sti", "not_authorized"), ("substance_use", "not_authorized")];
    // Part 2 records included with a consent missing elements: each missing one is named.
    let mut fields = base.to_vec();
    fields.extend([("named[0]", "part2"), ("consent[0]", "patient_name"), ("consent[1]", "recipient")]);
    let refused = app.call(&clerk, "decide_request", &fields).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(fields_of(&body), vec!["part2"]);
    let message = body.to_string();
    for named in ["who may disclose", "the purpose", "substance use disorder information", "the right to revoke", "the expiration", "the signature and date", "2.31"] {
        assert!(message.contains(named), "{named} is named: {message}");
    }
    // A complete consent that does not name the records does not cover them.
    let all = ["patient_name", "discloser", "recipient", "purpose", "information", "revocation", "expiration", "signature"];
    let consent: Vec<(String, &str)> = all.iter().enumerate().map(|(n, e)| (format!("consent[{n}]"), *e)).collect();
    let mut fields = base.to_vec();
    fields.extend(consent.iter().map(|(k, v)| (k.as_str(), *v)));
    let refused = app.call(&clerk, "decide_request", &fields).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("does not cover"));
    // HIV included without the authorization naming it: refused on its own field.
    let mut fields: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != "hiv_sti").collect();
    fields.push(("part2", "part2_no_consent"));
    let refused = app.call(&clerk, "decide_request", &fields).await;
    assert_eq!(fields_of(&refused.json().await.expect("json")), vec!["hiv_sti"]);
    assert!(app.audit("release_request", "failure").await.iter().any(|r| r.detail.as_deref() == Some("refused: segmentation hiv_sti")), "refusals are audited");
    assert_eq!(app.call_ok(&clerk, "request_detail", &[("id", &id)]).await["status"], "in_review", "nothing decided");
    // Named and consented: released, with the consent kept with the decision.
    let mut fields = base.to_vec();
    fields.push(("named[0]", "part2"));
    fields.extend(consent.iter().map(|(k, v)| (k.as_str(), *v)));
    let decided = app.call_ok(&clerk, "decide_request", &fields).await;
    assert_eq!(decided["status"], "approved", "leaving out what was not authorized is not a denial");
    assert!(decided["files"].as_array().expect("files").iter().all(|f| f["kind"] != "denial_letter"), "nothing was denied: no letter");
}

#[tokio::test]
async fn rule_42_cfr_2_32_notice_on_every_part2_release() {
    let app = spawn_app().await;
    let (patient, _) = set_up(&app).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let consent: Vec<(String, &str)> =
        ["patient_name", "discloser", "recipient", "purpose", "information", "revocation", "expiration", "signature"].iter().enumerate().map(|(n, e)| (format!("consent[{n}]"), *e)).collect();
    // With the Part 2 records: the notice is in the copy (cover and every page).
    let with = attorney_request(&app, &clerk, &patient).await;
    // The consent names the program's records, and the authorization the substance use coded in them.
    let mut fields = vec![("id", with.as_str()), ("decision", "approve"), ("psychotherapy_notes", "psychotherapy_separate"), ("hiv_sti", "not_authorized"), ("named[0]", "part2"), ("named[1]", "substance_use")];
    fields.extend(consent.iter().map(|(k, v)| (k.as_str(), *v)));
    app.call_ok(&clerk, "decide_request", &fields).await;
    let released = app.call_ok(&clerk, "release_copy", &[("id", &with)]).await;
    let text = file_text(&app, &clerk, &released, "pdf").await;
    assert!(text.contains("Alcohol dependence Qx-41"), "the Part 2 record is in it: {text}");
    assert!(text.contains("42 CFR part 2 prohibits unauthorized use or disclosure of these records"), "{text}");
    assert!(!text.contains("HIV screen Hv-77") && text.contains("Glucose Gl-12"), "HIV left out, the rest in: {text}");
    assert!(text.contains("the authorization does not name this information"), "the cover says why: {text}");
    assert!(text.contains("Released to the recipient below under 45 CFR 164.508"), "not under the right of access: {text}");
    // Without them: no Part 2 record, no notice.
    let without = attorney_request(&app, &clerk, &patient).await;
    app.call_ok(&clerk, "decide_request", &[("id", &without), ("decision", "approve"), ("psychotherapy_notes", "psychotherapy_separate"), ("hiv_sti", "not_authorized"), ("substance_use", "not_authorized"), ("part2", "part2_no_consent")]).await;
    let released = app.call_ok(&clerk, "release_copy", &[("id", &without)]).await;
    let text = file_text(&app, &clerk, &released, "pdf").await;
    assert!(!text.contains("Alcohol dependence Qx-41") && !text.contains("42 CFR part 2 prohibits"), "{text}");
    assert!(text.contains("42 CFR 2.31: no Part 2 consent"), "{text}");
}

#[tokio::test]
async fn rule_164_524_a_1_i_psychotherapy_notes_never_by_access() {
    let app = spawn_app().await;
    let (patient, _) = set_up(&app).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    // Online: neither note is listed (by title, by the site's code) nor opens; the plain one does.
    let notes = app.call_ok(&marta, "record_section", &[("section", "documents")]).await;
    let titles: Vec<&str> = notes["documents"].as_array().expect("documents").iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles, vec!["Discharge summary"], "{notes}");
    let staff_view = app.call_ok(&clerk, "record_section", &[("patient", patient.as_str()), ("section", "documents")]).await;
    let staff_docs = staff_view["documents"].as_array().expect("documents");
    assert_eq!(staff_docs.len(), 3, "HIM staff see every note: {staff_view}");
    let hidden = staff_docs.iter().find(|d| d["title"] == "Session summary").expect("the coded note")["id"].as_str().expect("id").to_string();
    assert_eq!(marta.get(app.url(&format!("/record/documents/{hidden}"))).send().await.expect("page").status(), 404);
    // Downloaded at once: not in it.
    let download = marta.get(app.url("/record/download/file?format=pdf")).send().await.expect("download");
    assert_eq!(download.status(), 200);
    let text = pdf_text(&download.bytes().await.expect("bytes"));
    assert!(text.contains("Plain-note-3") && !text.contains("Psy-secret"), "{text}");
    // Asked of HIM under the right of access: refused if included, left out otherwise.
    let id = app.call_ok(&marta, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&clerk, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    let view = app.call_ok(&clerk, "request_detail", &[("id", &id)]).await;
    let psy = view["segments"].as_array().expect("segments").iter().find(|s| s["category"] == "psychotherapy_notes").cloned().expect("listed");
    assert_eq!(psy["fixed"], true, "no choice under the right of access");
    app.call_ok(&clerk, "decide_request", &[("id", &id), ("decision", "approve"), ("psychotherapy_notes", "")]).await;
    let released = app.call_ok(&clerk, "release_copy", &[("id", &id)]).await;
    let text = file_text(&app, &marta, &released, "pdf").await;
    assert!(text.contains("Plain-note-3") && !text.contains("Psy-secret"), "{text}");
    // To a third party: only under an authorization for them alone, for the notes alone.
    let attorney = attorney_request(&app, &clerk, &patient).await;
    let refused = app.call(&clerk, "decide_request", &[("id", &attorney), ("decision", "approve"), ("psychotherapy_notes", ""), ("named[0]", "psychotherapy_notes"), ("hiv_sti", "not_authorized"), ("substance_use", "not_authorized"), ("part2", "part2_no_consent")]).await;
    assert_eq!(refused.status(), 422, "the whole record with the notes");
    assert!(refused.text().await.expect("body").contains("for them alone"));
}

#[tokio::test]
async fn rule_164_524_d_2_partial_denial_has_letter() {
    let app = spawn_app().await;
    let (patient, _) = set_up(&app).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&marta, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&clerk, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    // Withholding on a denial ground is a partial approval, never a plain one.
    assert_eq!(app.call(&clerk, "decide_request", &[("id", &id), ("decision", "approve"), ("hiv_sti", "danger_to_life_or_safety")]).await.status(), 422);
    let decided = app.call_ok(&clerk, "decide_request", &[("id", &id), ("decision", "approve_partially"), ("hiv_sti", "danger_to_life_or_safety")]).await;
    assert_eq!(decided["status"], "partially_approved");
    let text = file_text(&app, &marta, &decided, "denial_letter").await;
    for needed in ["part of your record withheld", "HIV and sexually transmitted infections", "164.524(a)(3)(i)", "Psychotherapy notes", "reviewed by a licensed health care professional who did not take part in it: HIV", "Office for Civil Rights", "We are giving you the rest of your record"] {
        assert!(text.contains(needed), "the letter says {needed:?}: {text}");
    }
    // The rest is released.
    let released = app.call_ok(&clerk, "release_copy", &[("id", &id)]).await;
    let copy = file_text(&app, &marta, &released, "pdf").await;
    assert!(copy.contains("Glucose Gl-12") && !copy.contains("HIV screen Hv-77"), "{copy}");
}

#[tokio::test]
async fn rule_164_524_d_2_iii_letter_names_contact_and_phone() {
    let app = spawn_app_with(|s| {
        s.organization_name = Some("Springfield General Hospital".into());
        s.organization_address = Some("1 Hospital Drive, Springfield, IL 62701".into());
        s.privacy_contact_phone = Some("217-555-0100".into());
        s.privacy_contact = "the Privacy Officer".into();
    })
    .await;
    let patient = app.import_fhir(&record()).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let id = app.call_ok(&marta, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    app.call_ok(&clerk, "advance_request", &[("id", &id), ("step", "start_identity_check")]).await;
    // A denial without a ground is refused on its field.
    let refused = app.call(&clerk, "decide_request", &[("id", &id), ("decision", "deny")]).await;
    assert_eq!(fields_of(&refused.json().await.expect("json")), vec!["ground"]);
    assert!(app.audit("release_request", "failure").await.iter().any(|r| r.detail.as_deref() == Some("refused: decision ground")), "audited");
    let denied = app.call_ok(&clerk, "decide_request", &[("id", &id), ("decision", "deny"), ("ground", "confidential_source")]).await;
    let text = file_text(&app, &marta, &denied, "denial_letter").await;
    for needed in ["Springfield General Hospital", "1 Hospital Drive, Springfield, IL 62701", "the Privacy Officer", "telephone 217-555-0100", "1-800-368-1019"] {
        assert!(text.contains(needed), "the letter names {needed:?}: {text}");
    }
    assert!(!text.contains("main Health Information Management"), "{text}");
}

/// A copy of the labs for Dr. Gomez, on an authorization signed in the portal, approved.
async fn portal_third_party(app: &TestApp, patient_client: &reqwest::Client, clerk: &reqwest::Client, expires_on: &str) -> String {
    signed_third_party(app, patient_client, "Test marta@example.org", clerk, expires_on).await
}

/// The same, signed by `signer` (the name on the account of whoever files it).
async fn signed_third_party(app: &TestApp, client: &reqwest::Client, signer: &str, clerk: &reqwest::Client, expires_on: &str) -> String {
    let fields = [
        ("scope", "labs"),
        ("pdf", "on"),
        ("recipient", "someone_else"),
        ("recipient_name", "Dr. Ana Gomez, Harbour Clinic"),
        ("recipient_address", "ana.gomez@clinic.example"),
        ("purpose", "At my request: a second opinion"),
        ("expires_on", expires_on),
        ("signature_name", signer),
        ("consent", "on"),
        ("ack_revocation", "on"),
        ("ack_no_conditioning", "on"),
        ("ack_redisclosure", "on"),
    ];
    let id = app.call_ok(client, "submit_request", &fields).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(clerk, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    app.call_ok(clerk, "decide_request", &[("id", &id), ("decision", "approve"), ("hiv_sti", "not_authorized")]).await;
    id
}

/// Opens a shared link with its passcode, as the recipient's browser does: the answer's status
/// and where it redirects.
async fn open_link(app: &TestApp, patient_client: &reqwest::Client, id: &str) -> (u16, String) {
    let view = app.call_ok(patient_client, "request_detail", &[("id", id)]).await;
    let url = view["share"]["url"].as_str().expect("url").to_string();
    let passcode: String = view["share"]["passcode"].as_str().expect("passcode").chars().filter(char::is_ascii_digit).collect();
    let path = url.split_once("/shared/").map(|(_, t)| format!("/shared/{t}")).expect("path");
    let recipient = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let origin = app.url("");
    let response = recipient.post(app.url(&path)).header("origin", origin.trim_end_matches('/')).form(&[("passcode", passcode.as_str()), ("kind", "pdf")]).send().await.expect("post");
    (response.status().as_u16(), response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string())
}

#[tokio::test]
async fn rule_164_508_b_2_expired_authorization_blocks_release() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let patient = app.import_fhir(&record()).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let unreleased = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    let released = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    app.call_ok(&clerk, "release_copy", &[("id", &released)]).await;
    assert_eq!(open_link(&app, &marta, &released).await.0, 200, "the link works while the authorization stands");
    // Time passes: both authorizations reach their expiration date.
    app.db.execute_unprepared("UPDATE release_authorization SET expires_on = '2020-01-01'").await.expect("expired");
    let refused = app.call(&clerk, "release_copy", &[("id", &unreleased)]).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(fields_of(&body), vec!["authorization"]);
    assert!(body.to_string().contains("expired on 2020-01-01"), "{body}");
    assert!(app.audit("release_request", "failure").await.iter().any(|r| r.detail.as_deref() == Some("refused: authorization ended")));
    let view = app.call_ok(&clerk, "request_detail", &[("id", &unreleased)]).await;
    assert_eq!(view["status"], "approved", "nothing released");
    assert!(view["files"].as_array().expect("files").iter().all(|f| f["kind"] != "pdf"));
    assert!(view["authorization_state"].as_str().is_some_and(|s| s.contains("expired")), "{view}");
    // Its link no longer opens.
    let (status, location) = open_link(&app, &marta, &released).await;
    assert_eq!(status, 303);
    assert!(location.ends_with("?error=expired"), "{location}");
    assert!(app.audit("release_request", "failure").await.iter().any(|r| r.detail.as_deref() == Some("shared link: authorization expired")));
}

/// A caregiver acting for the patient revokes the authorizations they signed, and the timeline
/// names them; never one the patient signed. The patient revokes any on her record, the
/// caregiver's included (45 CFR 164.508(b)(5)).
#[tokio::test]
async fn a_caregiver_revokes_the_authorizations_they_signed_and_no_others() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&record()).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let sent = app
        .call_ok(&marta, "invite_caregiver", &[("form[email]", "carl@example.org"), ("form[view]", "full"), ("form[days]", "30"), ("form[track_requests]", "true"), ("form[request_copies]", "true")])
        .await;
    let invitation = sent["link"].as_str().expect("link").split("token=").nth(1).expect("token").to_string();
    let carl = signed_in(&app, "carl@example.org", &[], None).await;
    app.call_ok(&carl, "accept_invitation", &[("token", &invitation)]).await;
    app.call_ok(&carl, "switch_person", &[("patient", &patient)]).await;
    let martas = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    let carls = signed_third_party(&app, &carl, "Test carl@example.org", &clerk, "2099-01-01").await;
    let carls_second = signed_third_party(&app, &carl, "Test carl@example.org", &clerk, "2099-01-01").await;

    // Marta's authorization is not Carl's to revoke: refused, and it stands.
    let refused = app.call(&carl, "revoke_authorization", &[("id", martas.as_str())]).await.status().as_u16();
    assert!(refused == 403 || refused == 404, "{refused}");
    let view = app.call_ok(&marta, "request_detail", &[("id", &martas)]).await;
    assert!(view["authorization_state"].is_null() && view["can_revoke"] == true, "{view}");

    // His own: offered to him, revoked, and the timeline says he did it.
    assert_eq!(app.call_ok(&carl, "request_detail", &[("id", &carls)]).await["can_revoke"], true);
    let view = app.call_ok(&carl, "revoke_authorization", &[("id", carls.as_str())]).await;
    assert_eq!(view["status"], "cancelled", "{view}");
    assert!(view["timeline"].to_string().contains("Authorization revoked by Test carl@example.org (caregiver)"), "{}", view["timeline"]);

    // Marta revokes the other one Carl signed.
    let view = app.call_ok(&marta, "revoke_authorization", &[("id", carls_second.as_str())]).await;
    assert!(view["timeline"].to_string().contains("Authorization revoked by the patient"), "{}", view["timeline"]);
}

#[tokio::test]
async fn rule_164_508_b_5_revoked_authorization_stops_release() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&record()).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let other = signed_in(&app, "other@example.org", &[Role::Patient], Some(&app.create_patient("MRN-9", "Other", "1990-01-01").await)).await;
    let unreleased = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    let released = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    app.call_ok(&clerk, "release_copy", &[("id", &released)]).await;
    assert_eq!(open_link(&app, &marta, &released).await.0, 200);
    // Another patient cannot revoke it: the request does not exist for them.
    assert_eq!(app.call(&other, "revoke_authorization", &[("id", released.as_str())]).await.status(), 404);
    // The patient revokes in the portal: the live link stops at once.
    let view = app.call_ok(&marta, "revoke_authorization", &[("id", released.as_str()), ("note", "I changed my mind")]).await;
    assert!(view["authorization_state"].as_str().is_some_and(|s| s.contains("revoked")), "{view}");
    assert_eq!(view["can_revoke"], false);
    let timeline = view["timeline"].to_string();
    assert!(timeline.contains("Authorization revoked by the patient") && timeline.contains("I changed my mind"), "{timeline}");
    let (status, location) = open_link(&app, &marta, &released).await;
    assert_eq!(status, 303, "{location}");
    assert!(location.ends_with("?error=expired"), "{location}");
    // Twice is a conflict, not a second revocation.
    assert_eq!(app.call(&marta, "revoke_authorization", &[("id", released.as_str())]).await.status(), 409);
    // The unreleased request under its own authorization stops when that one is revoked.
    let view = app.call_ok(&marta, "revoke_authorization", &[("id", unreleased.as_str())]).await;
    assert_eq!(view["status"], "cancelled", "{view}");
    assert!(app.call(&clerk, "release_copy", &[("id", &unreleased)]).await.status().is_client_error(), "nothing released after revocation");
    // The accounting shows each revocation beside the disclosure.
    let accounting = app.call_ok(&marta, "my_disclosures", &[]).await;
    let entries = accounting["entries"].as_array().expect("entries");
    assert_eq!(entries.iter().filter(|e| e["kind"] == "revocation").count(), 2, "{accounting}");
    assert!(entries.iter().any(|e| e["description"].as_str().is_some_and(|d| d.contains("revoked"))));
    assert!(app.audit("release_request", "success").await.iter().any(|r| r.detail.as_deref() == Some("authorization revoked")));
}

/// "Who can see my records" (issue 22) lists the live links and the authorizations in force;
/// closing a link stops its next opening but leaves the authorization; revoking an
/// authorization from the list takes it off. Another patient's link answers 404.
#[tokio::test]
async fn who_can_see_my_records_lists_live_links_and_authorizations_and_ends_each() {
    let app = spawn_app().await;
    let patient = app.import_fhir(&record()).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let other = signed_in(&app, "other@example.org", &[Role::Patient], Some(&app.create_patient("MRN-9", "Other", "1990-01-01").await)).await;
    let overview = app.call_ok(&marta, "caregivers_overview", &[]).await;
    assert_eq!(overview["links"], json!([]), "{overview}");
    assert_eq!(overview["authorizations"], json!([]), "{overview}");
    let unreleased = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    let released = portal_third_party(&app, &marta, &clerk, "2099-01-01").await;
    app.call_ok(&clerk, "release_copy", &[("id", &released)]).await;
    assert_eq!(open_link(&app, &marta, &released).await.0, 200);

    let overview = app.call_ok(&marta, "caregivers_overview", &[]).await;
    let links = overview["links"].as_array().expect("links");
    assert_eq!(links.len(), 1, "only the released copy has a link: {overview}");
    assert_eq!(links[0]["request_id"], released.as_str());
    assert_eq!(links[0]["recipient"], "Dr. Ana Gomez, Harbour Clinic");
    assert_eq!(links[0]["opened"], 1);
    assert!(links[0]["last_opened"].is_string(), "{overview}");
    let authorizations = overview["authorizations"].as_array().expect("authorizations");
    let mut listed: Vec<&str> = authorizations.iter().map(|a| a["request_id"].as_str().expect("id")).collect();
    listed.sort_unstable();
    let mut expected = vec![released.as_str(), unreleased.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected, "{overview}");
    assert!(authorizations.iter().all(|a| a["expires_on"] == "2099-01-01" && a["purpose"] == "At my request: a second opinion"), "{overview}");
    let sent = |id: &str| authorizations.iter().find(|a| a["request_id"] == id).map(|a| a["last_sent"].clone()).expect("listed");
    assert!(sent(&released).is_string() && sent(&unreleased).is_null(), "the last sending under each: {overview}");
    assert_eq!(app.call_ok(&other, "caregivers_overview", &[]).await["links"], json!([]), "another patient sees none of it");

    // Another patient cannot close it; the patient can, and the next opening is refused.
    let link = links[0]["id"].as_str().expect("link id").to_string();
    assert_eq!(app.call(&other, "close_shared_link", &[("id", link.as_str())]).await.status(), 404);
    assert_eq!(open_link(&app, &marta, &released).await.0, 200, "still open after the refused attempt");
    app.call_ok(&marta, "close_shared_link", &[("id", link.as_str())]).await;
    let (status, location) = open_link(&app, &marta, &released).await;
    assert_eq!(status, 303, "{location}");
    assert!(location.ends_with("?error=expired"), "{location}");
    assert_eq!(app.call(&marta, "close_shared_link", &[("id", link.as_str())]).await.status(), 404, "closed once");
    assert!(app.audit("release_request", "success").await.iter().any(|r| r.detail.as_deref().is_some_and(|d| d.starts_with("shared link closed by the patient"))));
    let view = app.call_ok(&marta, "request_detail", &[("id", released.as_str())]).await;
    assert!(view["timeline"].to_string().contains("closed by the patient"), "{view}");
    let overview = app.call_ok(&marta, "caregivers_overview", &[]).await;
    assert_eq!(overview["links"], json!([]), "{overview}");
    assert_eq!(overview["authorizations"].as_array().map(Vec::len), Some(2), "closing a link is not a revocation");

    // Revoking from the list takes the authorization off it.
    app.call_ok(&marta, "revoke_authorization", &[("id", unreleased.as_str())]).await;
    let overview = app.call_ok(&marta, "caregivers_overview", &[]).await;
    let left: Vec<&str> = overview["authorizations"].as_array().expect("authorizations").iter().map(|a| a["request_id"].as_str().expect("id")).collect();
    assert_eq!(left, vec![released.as_str()], "{overview}");
}

#[tokio::test]
async fn segmentation_rules_are_for_administrators_and_bad_ones_name_their_field() {
    let app = spawn_app().await;
    let admin = signed_in(&app, "admin@example.org", &[Role::Administrator], None).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    assert_eq!(app.call(&clerk, "segment_rules", &[]).await.status(), 404);
    assert_eq!(app.call(&clerk, "change_segment_rule", &[("kind", "part2_program"), ("code", "X"), ("note", "n")]).await.status(), 404);
    let refused = app.call(&admin, "change_segment_rule", &[("kind", "part2_program"), ("note", "A program")]).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(fields_of(&refused.json().await.expect("json")), vec!["code"]);
    let refused = app.call(&admin, "change_segment_rule", &[("kind", "psychotherapy_note"), ("system", "loinc"), ("code", "1"), ("note", "n")]).await;
    assert_eq!(fields_of(&refused.json().await.expect("json")), vec!["system"]);
    let rules = app.call_ok(&admin, "segment_rules", &[]).await;
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "only the seeded title rule: {rules}");
    let seeded = rules[0]["id"].as_str().expect("id").to_string();
    assert_eq!(app.call_ok(&admin, "change_segment_rule", &[("remove", seeded.as_str())]).await, json!([]));
    assert_eq!(app.call(&admin, "change_segment_rule", &[("remove", "no-such-rule")]).await.status(), 404);
}

#[tokio::test]
async fn what_the_patients_portal_authorization_names_goes_and_the_rest_stays() {
    let app = spawn_app().await;
    let (patient, _) = set_up(&app).await;
    let marta = signed_in(&app, "marta@example.org", &[Role::Patient], Some(&patient)).await;
    let clerk = signed_in(&app, "clerk@example.org", &[Role::HimStaff], None).await;
    let fields = [
        ("scope", "all"),
        ("pdf", "on"),
        ("recipient", "someone_else"),
        ("recipient_name", "Dr. Ana Gomez, Harbour Clinic"),
        ("recipient_address", "ana.gomez@clinic.example"),
        ("purpose", "At my request: a second opinion"),
        ("expires_on", "2099-01-01"),
        ("signature_name", "Test marta@example.org"),
        ("consent", "on"),
        ("ack_revocation", "on"),
        ("ack_no_conditioning", "on"),
        ("ack_redisclosure", "on"),
        ("sensitive[0]", "part2"),
        ("sensitive[1]", "substance_use"),
    ];
    // An unknown category is refused on its field; nothing is stored.
    let mut bad = fields.to_vec();
    bad.push(("sensitive[2]", "everything"));
    assert_eq!(fields_of(&app.call(&marta, "submit_request", &bad).await.json().await.expect("json")), vec!["named"]);
    let id = app.call_ok(&marta, "submit_request", &fields).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&clerk, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    let view = app.call_ok(&clerk, "request_detail", &[("id", &id)]).await;
    assert_eq!(view["named"], json!(["part2", "substance_use"]), "{view}");
    assert_eq!(view["consent"].as_array().map(Vec::len), Some(8), "the portal's form carries every 2.31 element");
    let default = |code: &str| view["segments"].as_array().expect("segments").iter().find(|s| s["category"] == code).map(|s| s["default_basis"].clone()).expect("present");
    assert_eq!(default("part2"), Value::Null, "named and consented: released by default");
    assert_eq!(default("hiv_sti"), "not_authorized", "not named: withheld by default");
    // The form as it comes: the named categories ticked, the rest left out.
    let mut decision = vec![("id", id.as_str()), ("decision", "approve"), ("psychotherapy_notes", "psychotherapy_separate"), ("hiv_sti", "not_authorized"), ("named[0]", "part2"), ("named[1]", "substance_use")];
    let consent: Vec<(String, String)> = view["consent"].as_array().expect("consent").iter().enumerate().map(|(n, e)| (format!("consent[{n}]"), e.as_str().expect("code").to_string())).collect();
    decision.extend(consent.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    app.call_ok(&clerk, "decide_request", &decision).await;
    let released = app.call_ok(&clerk, "release_copy", &[("id", &id)]).await;
    let text = file_text(&app, &clerk, &released, "pdf").await;
    assert!(text.contains("Alcohol dependence Qx-41") && text.contains("42 CFR part 2 prohibits"), "{text}");
    assert!(!text.contains("HIV screen Hv-77") && !text.contains("Psy-secret"), "{text}");
    // The signed form says what it names.
    let form = file_text(&app, &marta, &released, "authorization").await;
    assert!(form.contains("including: Substance use disorder records from a Part 2 program (42 CFR Part 2); Substance use"), "{form}");
}
