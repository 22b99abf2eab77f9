//! Patient activation: HIM staff issue a single-use, expiring code (stored hashed) and print it;
//! the patient registers with the code and their date of birth and lands signed in on their own
//! record. Wrong, used, replaced and expired codes are refused alike, audited, and change nothing.

use app::backend::entities::one_time_token;
use app::domain::Role;
use portal_tests::{SmtpSink, TestApp, link_token, spawn_app, spawn_app_with};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// A patient record and a signed-in HIM staff member.
async fn scene(app: &TestApp) -> (String, reqwest::Client) {
    let patient = app.create_patient("MRN-7", "Lopez", "1984-03-07").await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let staff = app.new_client();
    app.login_as(&staff, "sam@example.org").await;
    (patient, staff)
}

async fn issue(app: &TestApp, staff: &reqwest::Client, patient: &str) -> String {
    let response = app.call(staff, "issue_activation_code", &[("patient_id", patient)]).await;
    assert!(response.status().is_success(), "{}", response.status());
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert_eq!(location, format!("/staff/patients/{patient}/letter"));
    let letter = app.call_ok(staff, "take_activation_letter", &[]).await;
    assert_eq!(letter["patient_id"], patient);
    assert!(letter["patient_name"].as_str().is_some_and(|n| n.starts_with("Test ")));
    assert_eq!(app.call_ok(staff, "take_activation_letter", &[]).await, serde_json::Value::Null, "shown once");
    letter["code"].as_str().expect("code").to_string()
}

async fn activate(app: &TestApp, client: &reqwest::Client, code: &str, birth: &str, email: &str) -> reqwest::Response {
    app.call(client, "activate_account", &[
        ("code", code),
        ("birth_date", birth),
        ("name", "Ana Lopez"),
        ("email", email),
        ("password", "kettle orbit lantern"),
    ])
    .await
}

#[tokio::test]
async fn a_patient_activates_with_code_and_birth_date_and_sees_their_record() {
    let app = spawn_app().await;
    let (patient, staff) = scene(&app).await;
    let code = issue(&app, &staff, &patient).await;
    assert_eq!(code.len(), 14);
    let stored = one_time_token::Entity::find().all(&app.db).await.expect("rows");
    assert!(stored.iter().all(|t| !t.token_hash.contains(&code) && t.token_hash.len() == 64), "only the hash is stored");

    let person = app.new_client();
    // Typed loosely: lower case, no dashes.
    let response = activate(&app, &person, &code.replace('-', "").to_lowercase(), "1984-03-07", "ana@example.org").await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/record");
    let record = app.call_ok(&person, "my_record", &[]).await;
    assert_eq!(record["id"], patient.as_str());
    assert_eq!(app.me(&person).await.expect("signed in")["roles"], serde_json::json!(["patient"]));

    assert_eq!(app.audit("activation_issue", "success").await.len(), 1);
    let redeemed = app.audit("activation_redeem", "success").await;
    assert_eq!(redeemed.len(), 1);
    assert_eq!(redeemed[0].patient_id.as_deref(), Some(patient.as_str()));

    // The code is spent.
    let again = activate(&app, &app.new_client(), &code, "1984-03-07", "other@example.org").await;
    assert_eq!(again.status(), 422);
}

#[tokio::test]
async fn wrong_replaced_and_expired_codes_are_refused_alike_and_change_nothing() {
    let app = spawn_app().await;
    let (patient, staff) = scene(&app).await;
    let first = issue(&app, &staff, &patient).await;
    let person = app.new_client();

    let wrong_birth = activate(&app, &person, &first, "1984-03-08", "ana@example.org").await;
    assert_eq!(wrong_birth.status(), 422);
    let wrong_birth = wrong_birth.text().await.expect("body");
    let unknown = activate(&app, &person, "AAAA-BBBB-CCCC", "1984-03-07", "ana@example.org").await.text().await.expect("body");
    assert_eq!(wrong_birth, unknown, "the answer does not say which part was wrong");

    // A new code replaces the first.
    let second = issue(&app, &staff, &patient).await;
    assert_eq!(activate(&app, &person, &first, "1984-03-07", "ana@example.org").await.status(), 422);

    // An expired code is refused.
    one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::ExpiresAtMs, Expr::value(app::backend::db::now_ms() - 1))
        .filter(one_time_token::Column::Purpose.eq("activation"))
        .exec(&app.db)
        .await
        .expect("expire");
    assert_eq!(activate(&app, &person, &second, "1984-03-07", "ana@example.org").await.status(), 422);

    assert_eq!(app.me(&person).await, None);
    let details: Vec<String> = app.audit("activation_redeem", "failure").await.into_iter().filter_map(|r| r.detail).collect();
    assert_eq!(details, vec!["birth_date_mismatch", "unknown_code", "unknown_code", "expired_code"]);
    assert!(app.audit("user_create", "success").await.iter().all(|r| r.patient_id.is_none()), "no patient account was made");
}

#[tokio::test]
async fn bad_registration_input_keeps_the_code_usable() {
    let app = spawn_app().await;
    let (patient, staff) = scene(&app).await;
    let code = issue(&app, &staff, &patient).await;
    let person = app.new_client();
    let weak = app
        .call(&person, "activate_account", &[("code", &code), ("birth_date", "1984-03-07"), ("name", "Ana"), ("email", "ana@example.org"), ("password", "password1234")])
        .await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.expect("body").contains("too common"));
    let bad_email = activate(&app, &person, &code, "1984-03-07", "not-an-email").await;
    assert_eq!(bad_email.status(), 422);
    let taken = activate(&app, &person, &code, "1984-03-07", "sam@example.org").await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.expect("body").contains("\"field\":\"email\""));
    // Still usable after all that.
    assert!(activate(&app, &person, &code, "1984-03-07", "ana@example.org").await.status().is_success());
}

#[tokio::test]
async fn guessing_codes_from_one_address_is_locked() {
    let app = spawn_app_with(|s| s.lockout_threshold = 3).await;
    let (patient, staff) = scene(&app).await;
    let code = issue(&app, &staff, &patient).await;
    let person = app.new_client();
    for _ in 0..3 {
        activate(&app, &person, "AAAA-BBBB-CCCC", "1984-03-07", "ana@example.org").await;
    }
    assert_eq!(activate(&app, &person, &code, "1984-03-07", "ana@example.org").await.status(), 429);
}

#[tokio::test]
async fn only_him_staff_issue_codes_and_a_record_gets_one_account() {
    let app = spawn_app().await;
    let (_, staff) = scene(&app).await;
    let other = app.create_patient("MRN-8", "Nguyen", "1990-01-01").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&other)).await;
    let patient_client = app.new_client();
    app.login_as(&patient_client, "ana@example.org").await;
    assert_eq!(app.call(&patient_client, "issue_activation_code", &[("patient_id", &other)]).await.status(), 404);
    assert_eq!(app.call(&staff, "issue_activation_code", &[("patient_id", "no-such-id")]).await.status(), 404);

    // MRN-8 already has an account: its code is refused with a clear message.
    let code = issue(&app, &staff, &other).await;
    let response = activate(&app, &app.new_client(), &code, "1990-01-01", "ben@example.org").await;
    assert_eq!(response.status(), 409);
    assert!(response.text().await.expect("body").contains("already has an account"));
}

async fn self_register(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    app.call(client, "self_register", &[
        ("name", "Ben Nguyen"),
        ("email", email),
        ("birth_date", "1990-01-01"),
        ("phone", "+1 555 0100"),
        ("password", "kettle orbit lantern"),
    ])
    .await
}

/// An app that mails through a sink the test reads.
async fn app_with_mail() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url.clone();
    (spawn_app_with(move |s| s.smtp_url = Some(url.into())).await, sink)
}

/// Registers without a letter, then opens the link mailed to the address (the `n`th message):
/// signed in from there.
async fn registered(app: &TestApp, sink: &SmtpSink, n: usize, client: &reqwest::Client, email: &str) {
    let response = self_register(app, client, email).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/register?sent=1");
    assert_eq!(app.me(client).await, None, "nothing until the link is opened");
    let token = link_token(&sink.message(n).await, "/verify-email?token=");
    app.call_ok(client, "verify_email", &[("token", &token)]).await;
}

#[tokio::test]
async fn a_self_registered_account_sees_nothing_until_him_staff_verify_and_link_it() {
    let (app, sink) = app_with_mail().await;
    let (_, staff) = scene(&app).await;
    let record = app.create_patient("MRN-9", "Nguyen", "1990-01-01").await;
    let person = app.new_client();
    registered(&app, &sink, 1, &person, "ben@example.org").await;
    assert_eq!(app.me(&person).await.expect("signed in")["roles"], serde_json::json!([]));
    assert_eq!(app.call_ok(&person, "my_record", &[]).await, serde_json::Value::Null, "nothing to see yet");
    assert_eq!(app.call(&person, "patient", &[("id", &record)]).await.status(), 404);
    assert_eq!(app.call(&person, "pending_verifications", &[]).await.status(), 404, "not staff work");

    let pending = app.call_ok(&staff, "pending_verifications", &[]).await;
    let pending = pending.as_array().expect("array");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["full_name"], "Ben Nguyen");
    assert_eq!(pending[0]["birth_date"], "1990-01-01");
    let user_id = pending[0]["user_id"].as_str().expect("id").to_string();

    // A wrong record number is refused by field; a record that has an account cannot be linked.
    let wrong = app.call(&staff, "verify_identity", &[("user_id", &user_id), ("mrn", "MRN-404")]).await;
    assert_eq!(wrong.status(), 422);
    app.call_ok(&staff, "verify_identity", &[("user_id", &user_id), ("mrn", "mrn-9")]).await;
    assert_eq!(app.call_ok(&staff, "pending_verifications", &[]).await, serde_json::json!([]));

    // The privilege change ended the person's session; signing in again shows the record.
    assert_eq!(app.me(&person).await, None);
    assert_eq!(app.sign_in(&person, "ben@example.org", "kettle orbit lantern").await.status(), 200);
    assert_eq!(app.call_ok(&person, "my_record", &[]).await["id"], record.as_str());
    let verified = app.audit("identity_verify", "success").await;
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].patient_id.as_deref(), Some(record.as_str()));
}

#[tokio::test]
async fn self_registration_input_is_checked() {
    let (app, sink) = app_with_mail().await;
    let person = app.new_client();
    let bad = app
        .call(&person, "self_register", &[("name", ""), ("email", "nope"), ("birth_date", "1990-02-30"), ("phone", "call me"), ("password", "short")])
        .await;
    assert_eq!(bad.status(), 422);
    let body = bad.text().await.expect("body");
    assert!(body.contains("\"field\":\"email\"") && body.contains("\"field\":\"birth_date\"") && body.contains("\"field\":\"phone\""), "{body}");
    let first = self_register(&app, &person, "ben@example.org").await;
    assert!(first.status().is_success());
    // An address that has an account gets the very same answer (nobody learns who has one);
    // its owner is told by mail, and nothing is created.
    let again = self_register(&app, &app.new_client(), "Ben@Example.org").await;
    assert_eq!((again.status(), again.headers().get("location")), (first.status(), first.headers().get("location")));
    for _ in 0..100 {
        if sink.count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = [sink.message(1).await, sink.message(2).await];
    let notice = mail.iter().find(|m| m.contains("You already have a patient portal account")).expect("the owner is told");
    assert!(!notice.contains("/verify-email"), "the note finishes nothing: {notice}");
    assert_eq!(mail.iter().filter(|m| m.contains("/verify-email?token=")).count(), 1);
    assert_eq!(app.audit("user_create", "success").await.len(), 1);
    assert_eq!(app.audit("user_create", "failure").await.len(), 1);
}

#[tokio::test]
async fn a_registration_is_finished_only_by_the_link_mailed_to_the_address() {
    let (app, sink) = app_with_mail().await;
    let (_, staff) = scene(&app).await;
    let person = app.new_client();
    assert!(self_register(&app, &person, "ben@example.org").await.status().is_success());
    // HIM staff neither see nor link a registration nobody finished from the mailbox.
    assert_eq!(app.call_ok(&staff, "pending_verifications", &[]).await, serde_json::json!([]));
    let unfinished = app::backend::auth::users::find_by_email(&app.db, &app::domain::EmailAddress::parse("ben@example.org").expect("address")).await.expect("read").expect("the account");
    assert_eq!(app.call(&staff, "verify_identity", &[("user_id", &unfinished.id), ("mrn", "MRN-7")]).await.status(), 404);
    let first = link_token(&sink.message(1).await, "/verify-email?token=");
    // The right password is not enough: the address must be shown to be theirs. A new link goes.
    let refused = app.sign_in(&person, "ben@example.org", "kettle orbit lantern").await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("Confirm your email address first"));
    assert_eq!(app.me(&person).await, None);
    let second = link_token(&sink.message(2).await, "/verify-email?token=");
    assert_ne!(first, second);
    // The newest link replaces the older; each works once.
    assert_eq!(app.call(&person, "verify_email", &[("token", &first)]).await.status(), 409);
    app.call_ok(&person, "verify_email", &[("token", &second), ("next", "/account")]).await;
    assert_eq!(app.me(&person).await.expect("signed in")["email"], "ben@example.org");
    assert_eq!(app.call(&app.new_client(), "verify_email", &[("token", &second)]).await.status(), 409);
    assert_eq!(app.audit("email_verify", "success").await.len(), 1);
    assert_eq!(app.audit("email_verify", "failure").await.len(), 2);
    // From now on the password signs in, and HIM staff see the registration.
    let later = app.new_client();
    assert_eq!(app.sign_in(&later, "ben@example.org", "kettle orbit lantern").await.status(), 200);
    assert_eq!(app.call_ok(&staff, "pending_verifications", &[]).await.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn rule_164_514_h_linking_shows_account_and_record_side_by_side_and_a_mismatch_needs_a_reason() {
    let (app, sink) = app_with_mail().await;
    let (_, staff) = scene(&app).await;
    // The record's birth date is not the one the person registered with.
    app.create_patient("MRN-9", "Nguyen", "1990-01-02").await;
    let person = app.new_client();
    registered(&app, &sink, 1, &person, "ben@example.org").await;
    let pending = app.call_ok(&staff, "pending_verifications", &[]).await;
    let user_id = pending[0]["user_id"].as_str().expect("id").to_string();
    let preview = app.call_ok(&staff, "link_preview", &[("user_id", &user_id), ("mrn", "mrn-9")]).await;
    assert_eq!(preview["account"]["birth_date"], "1990-01-01");
    assert_eq!(preview["record"]["birth_date"], "1990-01-02");
    assert!(preview["account"]["contact"].as_str().is_some_and(|c| c.contains("ben@example.org") && c.contains("+1 555 0100")), "{preview}");
    assert_eq!(preview["differs"], serde_json::json!(["birth_date"]));
    // Without a reason: refused on the reason, nothing linked, the refusal audited.
    let refused = app.call(&staff, "verify_identity", &[("user_id", &user_id), ("mrn", "MRN-9")]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("\"field\":\"reason\""));
    assert_eq!(app.call_ok(&staff, "pending_verifications", &[]).await.as_array().map(Vec::len), Some(1));
    assert_eq!(app.audit("identity_verify", "failure").await.len(), 1);
    // With one: linked, and the reason is in the audit trail with what differed.
    app.call_ok(&staff, "verify_identity", &[("user_id", &user_id), ("mrn", "MRN-9"), ("reason", "Birth certificate seen at the desk; the record has a typo.")]).await;
    let linked = app.audit("identity_verify", "success").await;
    let detail = linked.iter().filter_map(|e| e.detail.as_deref()).find(|d| d.starts_with("linked")).expect("the link's audit event");
    assert!(detail.contains("birth_date") && detail.contains("typo"), "{detail}");
}
