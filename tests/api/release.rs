//! Requests for copies: a patient asks for a copy of their own record and follows it; HIM staff
//! move it through the lifecycle; every step is kept on the timeline and audited; refused steps,
//! bad forms and other patients' requests change nothing.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app};

async fn patient(app: &TestApp, email: &str, mrn: &str) -> reqwest::Client {
    let record = app.create_patient(mrn, "Lopez", "1984-03-07").await;
    app.create_user(email, &[Role::Patient], Some(&record)).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

async fn staff(app: &TestApp) -> reqwest::Client {
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await;
    client
}

#[tokio::test]
async fn a_patient_requests_a_copy_and_him_staff_take_it_to_release() {
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    let request = app.call_ok(&ana, "submit_request", &[("scope", "labs,problems"), ("from", "2020-01-01"), ("pdf", "on")]).await;
    assert!(request["number"].as_str().expect("number").starts_with("R-"));
    assert_eq!(request["status"], "submitted");
    assert_eq!(request["days_left"], 30, "due 30 days after receipt (45 CFR 164.524(b)(2))");
    assert_eq!(request["fee"], "Free");
    assert_eq!(request["scope"], "Lab results, Problems, from 2020-01-01");
    let id = request["id"].as_str().expect("id").to_string();
    assert_eq!(app.call_ok(&ana, "my_requests", &[]).await.as_array().map(Vec::len), Some(1));

    let sam = staff(&app).await;
    let queue = app.call_ok(&sam, "request_queue", &[]).await;
    assert_eq!(queue[0]["id"], id.as_str());
    for (step, status) in [("start_identity_check", "identity_check"), ("identity_verified", "in_review")] {
        let view = app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step), ("note", "ok")]).await;
        assert_eq!(view["status"], status, "{step}");
    }
    assert_eq!(app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "approve"), ("note", "ok")]).await["status"], "approved");
    assert_eq!(app.call_ok(&sam, "release_copy", &[("id", &id)]).await["status"], "released");
    let view = app.call_ok(&ana, "request_detail", &[("id", &id)]).await;
    let timeline: Vec<&str> = view["timeline"].as_array().expect("timeline").iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(timeline, ["Received", "Checking identity", "In review", "Approved", "Ready to download"]);
    assert_eq!(view["can_cancel"], false, "a released copy cannot be withdrawn");
    // Releasing twice is refused, and audited.
    let again = app.call(&sam, "release_copy", &[("id", &id)]).await;
    assert_eq!(again.status(), 409);
    assert!(!app.audit("release_request", "failure").await.is_empty());
    // Submit, four transitions, and the release's record of its files' hashes.
    assert_eq!(app.audit("release_request", "success").await.len(), 6);
}

#[tokio::test]
async fn the_requester_cancels_before_release_and_only_staff_decide() {
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    let id = app.call_ok(&ana, "submit_request", &[("scope", "all"), ("pdf", "on"), ("fhir", "on")]).await["id"].as_str().expect("id").to_string();
    // A patient cannot approve their own request: as if it did not exist.
    assert_eq!(app.call(&ana, "decide_request", &[("id", &id), ("decision", "approve")]).await.status(), 404);
    let view = app.call_ok(&ana, "advance_request", &[("id", &id), ("step", "cancel")]).await;
    assert_eq!(view["status"], "cancelled");
    // Approving a cancelled request is refused.
    let sam = staff(&app).await;
    assert_eq!(app.call(&sam, "advance_request", &[("id", &id), ("step", "start_identity_check")]).await.status(), 409);
    assert_eq!(app.call_ok(&sam, "request_queue", &[]).await, serde_json::json!([]), "cancelled requests leave the queue");
}

#[tokio::test]
async fn another_patients_request_answers_404() {
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    let ben = patient(&app, "ben@example.org", "MRN-2").await;
    let id = app.call_ok(&ana, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.call(&ben, "request_detail", &[("id", &id)]).await.status(), 404);
    assert_eq!(app.call(&ben, "advance_request", &[("id", &id), ("step", "cancel")]).await.status(), 404);
    assert_eq!(app.call(&ben, "request_queue", &[]).await.status(), 404);
    assert_eq!(app.call_ok(&ben, "my_requests", &[]).await, serde_json::json!([]));
}

#[tokio::test]
async fn bad_request_forms_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    for (fields, field) in [
        (vec![("scope", ""), ("pdf", "on")], "scope"),
        (vec![("scope", "all")], "formats"),
        (vec![("scope", "all"), ("pdf", "on"), ("from", "2020-02-01"), ("to", "2020-01-01")], "to"),
        (vec![("scope", "all"), ("pdf", "on"), ("from", "2999-01-01")], "from"),
    ] {
        let response = app.call(&ana, "submit_request", &fields).await;
        assert_eq!(response.status(), 422, "{field}");
        let body = response.text().await.expect("body");
        assert!(body.contains(&format!("\"field\":\"{field}\"")), "{body}");
    }
    assert_eq!(app.call_ok(&ana, "my_requests", &[]).await, serde_json::json!([]));
    // An account not yet linked to a record cannot ask.
    app.create_user("new@example.org", &[], None).await;
    let newcomer = app.new_client();
    app.login_as(&newcomer, "new@example.org").await;
    assert_eq!(app.call(&newcomer, "submit_request", &[("scope", "all"), ("pdf", "on")]).await.status(), 404);
}

/// A desk with thousands open sees the queue a page at a time (issue 21: 500 at once was 670 KB
/// per load), in due-date order across pages, and a page that is not a number from 1 to 10,000
/// is an error naming the field.
#[tokio::test]
async fn the_queue_comes_a_page_at_a_time() {
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    let sam = staff(&app).await;
    for _ in 0..52 {
        app.call_ok(&ana, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await;
    }
    let numbers = |v: &serde_json::Value| v.as_array().expect("list").iter().map(|r| r["number"].as_str().expect("number").to_string()).collect::<Vec<_>>();
    let first = numbers(&app.call_ok(&sam, "request_queue", &[]).await);
    assert_eq!(first, numbers(&app.call_ok(&sam, "request_queue", &[("filter[page]", "1")]).await));
    let second = numbers(&app.call_ok(&sam, "request_queue", &[("filter[page]", "2")]).await);
    assert_eq!((first.len(), second.len()), (50, 2));
    assert!(numbers(&app.call_ok(&sam, "request_queue", &[("filter[page]", "3")]).await).is_empty());
    // Received the same day, due the same day: by number, and no request on two pages.
    let all: Vec<i64> = first.iter().chain(&second).map(|n| n.trim_start_matches("R-").parse().expect("number")).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    for page in ["0", "ten", "10001"] {
        let response = app.call(&sam, "request_queue", &[("filter[page]", page)]).await;
        assert_eq!(response.status(), 422, "{page}");
        assert!(response.text().await.expect("body").contains("\"field\":\"page\""), "{page}");
    }
}

#[tokio::test]
async fn the_queue_filters_searches_and_claims_and_the_one_extension_is_told_to_the_patient() {
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    let ben = patient(&app, "ben@example.org", "MRN-2").await;
    let sam = staff(&app).await;
    app.create_user("kim@example.org", &[Role::HimStaff], None).await;
    let kim = app.new_client();
    app.login_as(&kim, "kim@example.org").await;
    let a = app.call_ok(&ana, "submit_request", &[("scope", "all"), ("pdf", "on")]).await;
    let b = app.call_ok(&ben, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await;
    let (a_id, b_id) = (a["id"].as_str().expect("id").to_string(), b["id"].as_str().expect("id").to_string());
    let ids = |v: &serde_json::Value| v.as_array().expect("list").iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect::<Vec<_>>();

    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[]).await).len(), 2);
    let by_mrn = app.call_ok(&sam, "request_queue", &[("filter[q]", "mrn-2")]).await;
    assert_eq!(ids(&by_mrn), [b_id.as_str()]);
    assert!(by_mrn[0]["patient_label"].as_str().expect("label").contains("MRN-2"));
    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[("filter[q]", a["number"].as_str().expect("n"))]).await), [a_id.as_str()]);
    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[("filter[due_within]", "40")]).await).len(), 2);
    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[("filter[due_within]", "3")]).await).len(), 0);
    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[("filter[overdue]", "on")]).await).len(), 0);
    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[("filter[recipient]", "third_party")]).await).len(), 0);
    assert_eq!(app.call(&sam, "request_queue", &[("filter[status]", "nonsense")]).await.status(), 422);
    assert_eq!(app.call(&sam, "request_queue", &[("filter[due_within]", "-1")]).await.status(), 422);

    // Claiming: mine, not Kim's to take; letting go frees it.
    assert_eq!(app.call_ok(&sam, "claim_request", &[("id", &a_id), ("claim", "on")]).await["assigned_to_me"], true);
    assert_eq!(ids(&app.call_ok(&sam, "request_queue", &[("filter[mine]", "on")]).await), [a_id.as_str()]);
    assert_eq!(app.call(&kim, "claim_request", &[("id", &a_id), ("claim", "on")]).await.status(), 409);
    app.call_ok(&sam, "claim_request", &[("id", &a_id)]).await;
    assert_eq!(app.call_ok(&kim, "claim_request", &[("id", &a_id), ("claim", "on")]).await["assigned_to_me"], true);
    assert_eq!(app.call(&ana, "claim_request", &[("id", &a_id), ("claim", "on")]).await.status(), 404);

    // The extension (164.524(b)(2)(iii)): a reason, a date at most 30 days later, only once.
    let due = a["due"].as_str().expect("due").to_string();
    let later = app::domain::IsoDate::parse(&due).expect("date").add_days(20).expect("date").to_string();
    let too_far = app::domain::IsoDate::parse(&due).expect("date").add_days(31).expect("date").to_string();
    assert_eq!(app.call(&sam, "extend_request", &[("id", &a_id), ("new_due", &later), ("reason", " ")]).await.status(), 422);
    assert_eq!(app.call(&sam, "extend_request", &[("id", &a_id), ("new_due", &too_far), ("reason", "Records are archived off site")]).await.status(), 422);
    let extended = app.call_ok(&sam, "extend_request", &[("id", &a_id), ("new_due", &later), ("reason", "Records are archived off site")]).await;
    assert_eq!(extended["due"], later.as_str());
    assert_eq!(extended["extended"], true);
    assert_eq!(app.call(&sam, "extend_request", &[("id", &a_id), ("new_due", &later), ("reason", "Again")]).await.status(), 422, "only once");
    let seen = app.call_ok(&ana, "request_detail", &[("id", &a_id)]).await;
    assert!(seen["timeline"].as_array().expect("timeline").iter().any(|t| t["note"].as_str().is_some_and(|n| n.contains(&later) && n.contains("archived off site"))), "the notice: {seen}");
    let messages = app.call_ok(&ana, "my_notifications", &[]).await;
    assert!(messages[0]["message"].as_str().expect("message").contains(&format!("new due date {later}")));
    assert_eq!(app.call(&ana, "extend_request", &[("id", &a_id), ("new_due", &later), ("reason", "x")]).await.status(), 404);
}

/// A stored value no domain type has (a status, or a scope that is not JSON) is an error with a
/// reference id, never read as a default: the patient gets a 500 naming only the reference, and
/// once the row is right again the list reads as before.
#[tokio::test]
async fn a_corrupt_stored_status_or_scope_is_an_error_with_a_reference_not_a_default() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    app.call_ok(&ana, "submit_request", &[("scope", "labs"), ("pdf", "on")]).await;
    for (column, value) in [("status", "'lost'"), ("scope", "'not json'")] {
        let kept = app.db.query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), format!("SELECT {column} AS v FROM release_request")))
            .await.expect("SQL runs").expect("a row").try_get::<String>("", "v").expect("text");
        app.db.execute_unprepared(&format!("UPDATE release_request SET {column} = {value}")).await.expect("SQL runs");
        let response = app.call(&ana, "my_requests", &[]).await;
        assert_eq!(response.status().as_u16(), 500, "{column}");
        let body = response.text().await.expect("body");
        assert!(body.contains(r#""ref_id":"E-"#), "{column}: {body}");
        assert!(!body.contains("lost") && !body.contains("not json"), "the stored value never leaves: {body}");
        app.db.execute_unprepared(&format!("UPDATE release_request SET {column} = '{kept}'")).await.expect("SQL runs");
        assert_eq!(app.call_ok(&ana, "my_requests", &[]).await[0]["status"], "submitted", "{column}");
    }
}

#[tokio::test]
async fn a_request_posted_again_with_its_key_is_filed_once() {
    // A phone that lost the answer posts the form again: the key the form carried files it once.
    let app = spawn_app().await;
    let ana = patient(&app, "ana@example.org", "MRN-1").await;
    let terms = app.call_ok(&ana, "copy_terms", &[]).await;
    let key = terms["request_key"].as_str().expect("the form's key").to_string();
    let fields = [("scope", "all"), ("pdf", "on"), ("idempotency_key", key.as_str())];
    let first = app.call_ok(&ana, "submit_request", &fields).await;
    let again = app.call_ok(&ana, "submit_request", &fields).await;
    assert_eq!(first["id"], again["id"], "the same request answers");
    assert_eq!(app.call_ok(&ana, "my_requests", &[]).await.as_array().map(Vec::len), Some(1));
    let (one, two) = tokio::join!(
        app.call(&ana, "submit_request", &[("scope", "labs"), ("pdf", "on"), ("idempotency_key", "5b4f1d9e-0000-4000-8000-000000000001")]),
        app.call(&ana, "submit_request", &[("scope", "labs"), ("pdf", "on"), ("idempotency_key", "5b4f1d9e-0000-4000-8000-000000000001")]),
    );
    assert_eq!((one.status().as_u16(), two.status().as_u16()), (200, 200), "the same post twice at once: both answered");
    assert_eq!(app.call_ok(&ana, "my_requests", &[]).await.as_array().map(Vec::len), Some(2), "and filed once");

    // Someone else's key, or one the portal never hands out, is refused on its field.
    let ben = patient(&app, "ben@example.org", "MRN-2").await;
    for bad in [key.as_str(), "not a key!", &"a".repeat(65)] {
        let response = app.call(&ben, "submit_request", &[("scope", "all"), ("pdf", "on"), ("idempotency_key", bad)]).await;
        assert_eq!(response.status(), 422, "{bad}");
        assert!(response.text().await.expect("body").contains("\"field\":\"idempotency_key\""));
    }
    assert_eq!(app.call_ok(&ben, "my_requests", &[]).await, serde_json::json!([]), "nothing filed");
}
