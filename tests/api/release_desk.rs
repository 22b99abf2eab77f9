//! The HIM release desk (issue 17): requests logged from mail, fax, the counter, the phone and
//! email, from every requester type; what each type needs before release, whether it is
//! accountable, how it is billed, and the clock that runs until the copy is provided. One test
//! per rule, named for its citation.

use app::domain::{IsoDate, Role};
use portal_tests::{TestApp, spawn_app, spawn_app_with};
use serde_json::Value;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const TIFF: &[u8] = b"II*\0\x08\0\0\0\0\0\0\0";

fn today(app: &TestApp) -> IsoDate {
    app::backend::clock::SiteClock::new(&app.settings.time_zone).expect("zone").today()
}

fn days_ago(app: &TestApp, days: i64) -> String {
    today(app).add_days(-days).expect("date").to_string()
}

async fn staff(app: &TestApp, email: &str, roles: &[Role]) -> reqwest::Client {
    app.create_user(email, roles, None).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

/// Logs a request as the intake form posts it (multipart, with scans), answering JSON.
async fn log(app: &TestApp, clerk: &reqwest::Client, fields: &[(&str, &str)], scans: Vec<(&str, &[u8])>) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    for (name, bytes) in scans {
        form = form.part("scans", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()));
    }
    let response = clerk.post(app.url("/staff/intake/new")).header("accept", "application/json").multipart(form).send().await.expect("intake");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn fields_of(body: &Value) -> Vec<String> {
    body["fields"].as_array().map(|f| f.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// A faxed request of `kind` for `patient`, received `received` days ago, with these checklist
/// items ticked; answers the new request.
async fn logged(app: &TestApp, clerk: &reqwest::Client, patient: &str, kind: &str, received: i64, checklist: &str, scope: &str) -> Value {
    let received = days_ago(app, received);
    let (status, body) = log(
        app,
        clerk,
        &[
            ("channel", "fax"),
            ("received_on", &received),
            ("requester_type", kind),
            ("requester_name", "Smith & Lee LLP"),
            ("requester_address", "records@smithlee.example"),
            ("patient_id", patient),
            ("scope", scope),
            ("pdf", "on"),
            ("checklist", checklist),
        ],
        vec![("fax.pdf", PDF)],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn id(view: &Value) -> String {
    view["id"].as_str().expect("id").to_string()
}

/// Identity steps, then the decision: the answer of `decide_request`.
async fn review_and_approve(app: &TestApp, clerk: &reqwest::Client, id: &str) -> reqwest::Response {
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(clerk, "advance_request", &[("id", id), ("step", step)]).await;
    }
    app.call(clerk, "decide_request", &[("id", id), ("decision", "approve")]).await
}

#[tokio::test]
async fn rule_164_512_e_1_ii_subpoena_without_assurance_waits() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let view = logged(&app, &clerk, &patient, "subpoena", 3, "", "all").await;
    assert!(view["waiting_for"].as_str().is_some_and(|w| w.contains("164.512(e)(1)(ii)")), "{view}");
    let request = id(&view);
    let refused = review_and_approve(&app, &clerk, &request).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("\"field\":\"checklist\""));
    let still = app.call_ok(&clerk, "request_detail", &[("id", &request)]).await;
    assert_eq!(still["status"], "in_review", "nothing moved");
    assert!(app.audit("release_request", "failure").await.iter().any(|e| e.detail.as_deref().is_some_and(|d| d.starts_with("waiting:"))));
    // The protective-order assurance arrives: the request may go.
    let ready = app.call_ok(&clerk, "update_checklist", &[("id", &request), ("checklist", "protective_order")]).await;
    assert_eq!(ready["waiting_for"], Value::Null);
    assert_eq!(app.call_ok(&clerk, "decide_request", &[("id", &request), ("decision", "approve")]).await["status"], "approved");
    assert_eq!(app.call_ok(&clerk, "release_copy", &[("id", &request)]).await["status"], "released");
    // A subpoena's disclosure is in the accounting (164.528(a)).
    let accounting = app.call_ok(&clerk, "patient_disclosures", &[("patient", &patient)]).await;
    assert_eq!(accounting["entries"][0]["accountable"], true, "{accounting}");
}

#[tokio::test]
async fn rule_164_512_e_1_i_court_order_releases_its_scope() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let view = logged(&app, &clerk, &patient, "court_order", 2, "signed_by_judge", "labs").await;
    assert_eq!(view["scope"], "Lab results", "what the order covers is what is asked");
    let request = id(&view);
    assert_eq!(review_and_approve(&app, &clerk, &request).await.status(), 200);
    let released = app.call_ok(&clerk, "release_copy", &[("id", &request)]).await;
    assert_eq!(released["status"], "released");
    let labels: Vec<&str> = released["files"].as_array().expect("files").iter().filter_map(|f| f["label"].as_str()).collect();
    assert!(labels.contains(&"Record copy (PDF)"), "the clerk's words: {labels:?}");
    assert!(labels.contains(&"Scan of the request"), "{labels:?}");
    let accounting = app.call_ok(&clerk, "patient_disclosures", &[("patient", &patient)]).await;
    let entry = &accounting["entries"][0];
    assert_eq!((entry["accountable"].as_bool(), entry["recipient"].as_str()), (Some(true), Some("Smith & Lee LLP")));
    assert!(entry["description"].as_str().is_some_and(|d| d.contains("Lab results")), "{entry}");
    // The patient's own request list holds what they asked for, not the court's.
    app.create_user("ana@example.org", &[Role::Patient], Some(&patient)).await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    assert_eq!(app.call_ok(&ana, "my_requests", &[]).await, serde_json::json!([]));
}

#[tokio::test]
async fn rule_164_506_treatment_request_needs_no_authorization() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let view = logged(&app, &clerk, &patient, "provider", 1, "treating_provider", "all").await;
    assert_eq!(view["checklist"].as_array().map(Vec::len), Some(1), "no authorization on the checklist: {view}");
    let request = id(&view);
    assert_eq!(review_and_approve(&app, &clerk, &request).await.status(), 200);
    assert_eq!(app.call_ok(&clerk, "release_copy", &[("id", &request)]).await["status"], "released");
    let accounting = app.call_ok(&clerk, "patient_disclosures", &[("patient", &patient)]).await;
    assert_eq!(accounting["entries"][0]["accountable"], false, "treatment is not accountable (164.528(a)(1)(i))");
}

#[tokio::test]
async fn rule_164_508_c_a_paper_authorization_missing_an_element_blocks_the_release_naming_it() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let all_but_signature = "auth_description,auth_disclosers,auth_recipients,auth_purpose,auth_expiration,auth_revocation,auth_conditioning,auth_redisclosure,auth_plain_language";
    let view = logged(&app, &clerk, &patient, "third_party", 2, all_but_signature, "all").await;
    assert_eq!(view["checklist"].as_array().map(Vec::len), Some(10), "every core element and statement: {view}");
    assert!(view["waiting_for"].as_str().is_some_and(|w| w.contains("the signature and date") && w.contains("164.508")), "{view}");
    let request = id(&view);
    let refused = review_and_approve(&app, &clerk, &request).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("the signature and date"));
    app.call_ok(&clerk, "update_checklist", &[("id", &request), ("checklist", &format!("{all_but_signature},auth_signature"))]).await;
    assert_eq!(app.call_ok(&clerk, "decide_request", &[("id", &request), ("decision", "approve")]).await["status"], "approved");
    let accounting = app.call_ok(&clerk, "patient_disclosures", &[("patient", &patient)]).await;
    assert_eq!(accounting["entries"], serde_json::json!([]), "not released yet");
    app.call_ok(&clerk, "release_copy", &[("id", &request)]).await;
    let accounting = app.call_ok(&clerk, "patient_disclosures", &[("patient", &patient)]).await;
    assert_eq!(accounting["entries"][0]["accountable"], false, "under an authorization: not accountable (164.528(a)(1)(iv))");
}

#[tokio::test]
async fn rule_164_524_b_2_clock_runs_until_provided() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let view = logged(&app, &clerk, &patient, "patient", 35, "identity", "all").await;
    assert_eq!(view["received"].as_str(), Some(days_ago(&app, 35).as_str()), "the clock starts when the paper arrived");
    assert_eq!(view["overdue"], true);
    let request = id(&view);
    let approved: Value = review_and_approve(&app, &clerk, &request).await.json().await.expect("json");
    assert_eq!((approved["status"].as_str(), approved["overdue"].as_bool()), (Some("approved"), Some(true)), "approving is not providing");
    let overdue = app.call_ok(&clerk, "request_queue", &[("filter[overdue]", "on")]).await;
    assert_eq!(overdue.as_array().map(Vec::len), Some(1), "still on the overdue list");
    let released = app.call_ok(&clerk, "release_copy", &[("id", &request)]).await;
    assert_eq!(released["overdue"], false, "the copy is made available: the clock stops");
    assert_eq!(app.call_ok(&clerk, "request_queue", &[("filter[overdue]", "on")]).await, serde_json::json!([]));
}

#[tokio::test]
async fn rule_164_524_b_2_extension_letter_before_day_30() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let fields_for = |received: String| {
        vec![
            ("channel".to_string(), "mail".to_string()),
            ("received_on".to_string(), received),
            ("requester_type".to_string(), "patient".to_string()),
            ("requester_name".to_string(), "Ana Lopez".to_string()),
            ("requester_address".to_string(), "12 Harbour Road, Springfield".to_string()),
            ("patient_id".to_string(), patient.clone()),
            ("scope".to_string(), "all".to_string()),
            ("pdf".to_string(), "on".to_string()),
        ]
    };
    let on_time = fields_for(days_ago(&app, 20));
    let pairs: Vec<(&str, &str)> = on_time.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (status, view) = log(&app, &clerk, &pairs, vec![("letter.pdf", PDF)]).await;
    assert_eq!(status, 201, "{view}");
    let due = IsoDate::parse(view["due"].as_str().expect("due")).expect("date");
    let new_due = due.add_days(30).expect("date").to_string();
    let extended = app.call_ok(&clerk, "extend_request", &[("id", &id(&view)), ("new_due", &new_due), ("reason", "The paper chart is stored off site.")]).await;
    assert_eq!(extended["due"].as_str(), Some(new_due.as_str()));
    let letter = extended["files"].as_array().expect("files").iter().find(|f| f["kind"] == "extension_letter").expect("the extension letter").clone();
    let pdf = clerk.get(app.url(letter["href"].as_str().expect("href"))).send().await.expect("letter");
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.expect("bytes").starts_with(b"%PDF-"));
    assert!(extended["timeline"].as_array().expect("timeline").iter().any(|t| t["note"].as_str().is_some_and(|n| n.contains("to be mailed"))), "a mailed request gets its letter by mail");
    // Past day 30 it is too late to extend.
    let late = fields_for(days_ago(&app, 31));
    let pairs: Vec<(&str, &str)> = late.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_, view) = log(&app, &clerk, &pairs, vec![]).await;
    let response = app.call(&clerk, "extend_request", &[("id", &id(&view)), ("new_due", &new_due), ("reason", "Late")]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("body").contains("\"field\":\"new_due\""));
}

#[tokio::test]
async fn rule_164_524_c_4_patient_fee_cap() {
    let app = spawn_app_with(|s| s.copy_fee_cap_cents = 3000).await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let received = days_ago(&app, 1);
    let base = |kind: &'static str, fee: &'static str| -> Vec<(String, String)> {
        [("channel", "in_person"), ("requester_type", kind), ("requester_name", "Ana Lopez"), ("scope", "all"), ("pdf", "on"), ("fee", fee), ("pages", "100")]
            .into_iter()
            .chain([("received_on", received.as_str()), ("patient_id", patient.as_str())])
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let send = |fields: Vec<(String, String)>| {
        let app = &app;
        let clerk = &clerk;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            log(app, clerk, &pairs, vec![]).await
        }
    };
    // The patient's own copy: the flat fee is at most $6.50.
    let (status, body) = send(base("patient", "25.00")).await;
    assert_eq!((status, fields_of(&body)), (422, vec!["fee".to_string()]), "{body}");
    // More only as actual labour and supplies, stated as such.
    let mut actual = base("patient", "25.00");
    actual.push(("actual_costs".into(), "on".into()));
    let (status, body) = send(actual).await;
    assert_eq!((status, body["fee"].as_str()), (201, Some("$25.00")), "{body}");
    // Others pay from the administrator's schedule, within the state's cap.
    let admin = staff(&app, "root@example.org", &[Role::Administrator]).await;
    assert_eq!(app.call(&clerk, "set_fee", &[("requester_type", "third_party"), ("flat", "15"), ("per_page", "0.10")]).await.status(), 404, "only administrators set fees");
    assert_eq!(app.call(&admin, "set_fee", &[("requester_type", "patient"), ("flat", "15"), ("per_page", "0")]).await.status(), 422, "the patient's fee is cost-based by law");
    app.call_ok(&admin, "set_fee", &[("requester_type", "third_party"), ("flat", "15"), ("per_page", "0.10")]).await;
    let (status, body) = send(base("third_party", "")).await;
    assert_eq!((status, body["fee"].as_str()), (201, Some("$25.00")), "$15 + 100 pages at $0.10: {body}");
    assert!(body["files"].as_array().expect("files").iter().any(|f| f["kind"] == "invoice"), "the invoice is a PDF");
    let paid = app.call_ok(&clerk, "mark_paid", &[("id", &id(&body))]).await;
    assert_eq!(paid["paid"], true);
    assert_eq!(app.call(&clerk, "mark_paid", &[("id", &id(&body))]).await.status(), 409, "paid once");
    app.call_ok(&admin, "set_fee", &[("requester_type", "third_party"), ("flat", "15"), ("per_page", "0.50")]).await;
    let (_, body) = send(base("third_party", "")).await;
    assert_eq!(body["fee"].as_str(), Some("$30.00"), "the state's cap stops the estimate");
    let (status, body) = send(base("third_party", "45.00")).await;
    assert_eq!((status, fields_of(&body)), (422, vec!["fee".to_string()]), "a fee above the cap: {body}");
}

#[tokio::test]
async fn bad_intake_is_refused_on_its_field_audited_and_leaves_nothing() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_patient("MRN-2", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    // Two records match the paper: both are shown, with what agrees, and none is chosen.
    let matches = app.call_ok(&clerk, "intake_matches", &[("name", "Lopez"), ("birth_date", "1984-03-07")]).await;
    assert_eq!(matches.as_array().map(Vec::len), Some(2), "{matches}");
    assert_eq!(matches[0]["agrees"], serde_json::json!(["birth_date"]));
    let one = app.call_ok(&clerk, "intake_matches", &[("mrn", "mrn-1")]).await;
    assert_eq!((one.as_array().map(Vec::len), one[0]["patient_id"].as_str()), (Some(1), Some(patient.as_str())));
    let tomorrow = today(&app).add_days(1).expect("date").to_string();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a [u8])>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("received_on", &tomorrow), ("patient_id", &patient)], vec![], "received_on"),
        (vec![("received_on", "2026-11-01")], vec![], "patient_id"),
        (vec![("received_on", "2026-11-01"), ("patient_id", &patient)], vec![("notes.txt", b"not a scan")], "scans"),
    ];
    for (extra, scans, field) in cases {
        let mut fields = vec![("channel", "mail"), ("requester_type", "subpoena"), ("requester_name", "Smith & Lee LLP"), ("scope", "all"), ("pdf", "on")];
        fields.extend(extra);
        let (status, body) = log(&app, &clerk, &fields, scans).await;
        assert_eq!((status, fields_of(&body)), (422, vec![field.to_string()]), "{body}");
    }
    assert_eq!(app.call_ok(&clerk, "request_queue", &[]).await, serde_json::json!([]), "nothing half-stored");
    let refused = app.audit("release_request", "failure").await;
    assert_eq!(refused.len(), 3, "each refusal audited");
    assert_eq!(refused.iter().filter(|e| e.patient_id.as_deref() == Some(patient.as_str())).count(), 2, "naming the patient when one was confirmed");
    // A patient cannot log requests, nor search the registry through the desk.
    app.create_user("ana@example.org", &[Role::Patient], Some(&patient)).await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    assert_eq!(app.call(&ana, "intake_matches", &[("mrn", "MRN-2")]).await.status(), 404);
    let (status, _) = log(&app, &ana, &[("channel", "mail")], vec![]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_faxed_request_keeps_its_scans_sealed_and_a_retry_logs_it_once() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let received = days_ago(&app, 2);
    let fields = [
        ("channel", "fax"),
        ("received_on", received.as_str()),
        ("requester_type", "workers_comp"),
        ("requester_name", "State Fund"),
        ("patient_id", patient.as_str()),
        ("scope", "all"),
        ("pdf", "on"),
        ("idempotency_key", "fax-2026-12-01-0007"),
    ];
    let (status, first) = log(&app, &clerk, &fields, vec![("page1.pdf", PDF), ("page2.tif", TIFF)]).await;
    assert_eq!(status, 201, "{first}");
    let kinds: Vec<&str> = first["files"].as_array().expect("files").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!(kinds, ["scan-1", "scan-2"]);
    assert_eq!(first["requester"], "State Fund (workers' compensation)");
    assert!(first["patient_label"].as_str().is_some_and(|l| l.contains("MRN-1") && l.contains("1984-03-07")), "{first}");
    assert_eq!(first["timeline"][0]["who"], "Records team");
    let scan = clerk.get(app.url(&format!("/requests/{}/files/scan-2", id(&first)))).send().await.expect("scan");
    assert_eq!(scan.status(), 200);
    assert_eq!(scan.bytes().await.expect("bytes").as_ref(), TIFF);
    // The answer was lost and the form posted again: the same request, not a second one.
    let (status, again) = log(&app, &clerk, &fields, vec![("page1.pdf", PDF), ("page2.tif", TIFF)]).await;
    assert_eq!((status, id(&again)), (201, id(&first)));
    assert_eq!(app.call_ok(&clerk, "request_queue", &[]).await.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_lead_assigns_work_and_two_leads_at_once_cannot_both_win() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let kim_id = app.create_user("kim@example.org", &[Role::HimStaff], None).await.id;
    let lee_id = app.create_user("lee@example.org", &[Role::HimStaff], None).await.id;
    let lead_a = staff(&app, "ada@example.org", &[Role::HimStaff, Role::HimLead]).await;
    let lead_b = staff(&app, "bea@example.org", &[Role::HimStaff, Role::HimLead]).await;
    let request = id(&logged(&app, &clerk, &patient, "payer", 2, "paying_plan", "all").await);
    // A clerk is not a lead.
    assert_eq!(app.call(&clerk, "assign_request", &[("id", &request), ("assignee", &kim_id)]).await.status(), 404);
    let colleagues = app.call_ok(&lead_a, "desk_colleagues", &[]).await;
    assert!(colleagues.as_array().expect("list").iter().any(|c| c["id"] == kim_id.as_str()));
    // Both leads saw it unassigned; the first wins, the second is told and overwrites nothing.
    let first = app.call_ok(&lead_a, "assign_request", &[("id", &request), ("assignee", &kim_id), ("expected", "")]).await;
    assert_eq!(first["assignee_id"].as_str(), Some(kim_id.as_str()));
    assert!(first["timeline"].as_array().expect("timeline").iter().any(|t| t["note"].as_str().is_some_and(|n| n.starts_with("Assigned to"))), "{first}");
    let second = app.call(&lead_b, "assign_request", &[("id", &request), ("assignee", &lee_id), ("expected", "")]).await;
    assert_eq!(second.status(), 409);
    assert_eq!(app.call_ok(&lead_b, "request_detail", &[("id", &request)]).await["assignee_id"].as_str(), Some(kim_id.as_str()), "nothing overwritten");
    // Reassigning from who it is with now works.
    app.call_ok(&lead_b, "assign_request", &[("id", &request), ("assignee", &lee_id), ("expected", &kim_id)]).await;
    let lee = app.new_client();
    app.login_as(&lee, "lee@example.org").await;
    let mine = app.call_ok(&lee, "request_queue", &[("filter[mine]", "on")]).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "my work");
    assert_eq!(app.call(&lead_a, "assign_request", &[("id", &request), ("assignee", "not-a-colleague"), ("expected", &lee_id)]).await.status(), 422);
}

#[tokio::test]
async fn the_dashboard_counts_open_work_by_age_and_turnaround_on_time() {
    let app = spawn_app().await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let lead = staff(&app, "ada@example.org", &[Role::HimStaff, Role::HimLead]).await;
    // Provided 3 days after receipt (on time), provided 40 days after (late), and two open.
    let on_time = id(&logged(&app, &clerk, &patient, "provider", 3, "treating_provider", "all").await);
    let late = id(&logged(&app, &clerk, &patient, "patient", 40, "identity", "all").await);
    for request in [&on_time, &late] {
        review_and_approve(&app, &clerk, request).await;
        app.call_ok(&clerk, "release_copy", &[("id", request)]).await;
    }
    logged(&app, &clerk, &patient, "subpoena", 10, "", "all").await;
    logged(&app, &clerk, &patient, "patient", 45, "", "all").await;
    assert_eq!(app.call(&clerk, "desk_dashboard", &[]).await.status(), 404, "leads only");
    let d = app.call_ok(&lead, "desk_dashboard", &[]).await;
    let received = d["open"].as_array().expect("open").iter().find(|s| s["status"] == "Received").expect("received row").clone();
    assert_eq!(received["counts"], serde_json::json!([0, 1, 0, 1]), "{d}");
    assert_eq!(d["overdue_total"], 1, "{d}");
    let months: i64 = d["months"].as_array().expect("months").iter().map(|m| m["provided"].as_i64().unwrap_or(0)).sum();
    assert_eq!(months, 2);
    let types = d["types"].as_array().expect("types");
    let provider = types.iter().find(|t| t["key"] == "provider").expect("provider row");
    assert_eq!((provider["median_days"].as_i64(), provider["on_time"].as_i64()), (Some(3), Some(1)));
    let patient_row = types.iter().find(|t| t["key"] == "patient").expect("patient row");
    assert_eq!((patient_row["p90_days"].as_i64(), patient_row["on_time"].as_i64()), (Some(40), Some(0)), "late");
    let csv = lead.get(app.url("/staff/desk.csv")).send().await.expect("csv");
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("text");
    assert!(text.starts_with("group,key,label,provided") && text.contains("requester_type,provider,"), "{text}");
}

#[tokio::test]
async fn requests_from_anyone_but_the_patient_follow_the_third_party_deadline() {
    let app = spawn_app_with(|s| s.third_party_response_days = 10).await;
    let patient = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let clerk = staff(&app, "sam@example.org", &[Role::HimStaff]).await;
    let received = today(&app).add_days(-2).expect("date");
    let attorney = logged(&app, &clerk, &patient, "third_party", 2, "", "all").await;
    assert_eq!(attorney["due"].as_str(), received.add_days(10).map(|d| d.to_string()).as_deref(), "third_party_response_days");
    let own = logged(&app, &clerk, &patient, "patient", 2, "", "all").await;
    assert_eq!(own["due"].as_str(), received.add_days(30).map(|d| d.to_string()).as_deref(), "the patient's own: 164.524(b)(2)");
}
