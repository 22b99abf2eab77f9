//! Two-step verification: set-up with a code from the app, the second step at sign-in (TOTP and
//! recovery codes, each usable once), staff who must set it up before their first sign-in
//! completes, and lock-out after repeated bad codes. Every step audited.

use app::backend::auth::totp;
use app::domain::Role;
use portal_tests::{PASSWORD, TestApp, spawn_app, spawn_app_with};

fn now_secs() -> i64 {
    app::backend::db::now_ms() / 1000
}

fn code_for(secret: &[u8], unix_secs: i64) -> String {
    format!("{:06}", totp::hotp(secret, totp::step_at(unix_secs) as u64))
}

/// Starts set-up in `client`'s session and returns the secret the app would scan.
async fn start_setup(app: &TestApp, client: &reqwest::Client) -> Vec<u8> {
    let setup = app.call_ok(client, "mfa_setup_start", &[]).await;
    assert!(setup["qr_data_uri"].as_str().expect("uri").starts_with("data:image/svg+xml;base64,"));
    let key: String = setup["manual_key"].as_str().expect("key").split_whitespace().collect();
    totp::decode_secret(&key).expect("base32 key")
}

/// Enables TOTP for the signed-in `client`; returns the secret and the recovery codes.
async fn enable(app: &TestApp, client: &reqwest::Client) -> (Vec<u8>, Vec<String>) {
    let secret = start_setup(app, client).await;
    app.call_ok(client, "mfa_setup_confirm", &[("code", &code_for(&secret, now_secs()))]).await;
    let codes = app.call_ok(client, "take_recovery_codes", &[]).await;
    let codes: Vec<String> = codes.as_array().expect("array").iter().map(|c| c.as_str().expect("code").to_string()).collect();
    (secret, codes)
}

#[tokio::test]
async fn a_patient_turns_on_two_step_verification_and_then_needs_it() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let status = app.call_ok(&client, "mfa_status", &[]).await;
    assert_eq!(status["enabled"], false);
    assert_eq!(status["required"], false, "optional for patients by default");

    // A wrong code does not turn it on.
    let secret = start_setup(&app, &client).await;
    let wrong = app.call(&client, "mfa_setup_confirm", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(app.call_ok(&client, "mfa_status", &[]).await["enabled"], false);
    assert_eq!(app.audit("mfa_enroll", "failure").await.len(), 1);

    app.call_ok(&client, "mfa_setup_confirm", &[("code", &code_for(&secret, now_secs()))]).await;
    let codes = app.call_ok(&client, "take_recovery_codes", &[]).await;
    assert_eq!(codes.as_array().expect("array").len(), 10);
    assert_eq!(app.call_ok(&client, "take_recovery_codes", &[]).await, serde_json::json!([]), "shown once");
    let status = app.call_ok(&client, "mfa_status", &[]).await;
    assert_eq!((status["enabled"].clone(), status["recovery_codes_left"].clone()), (serde_json::json!(true), serde_json::json!(10)));
    assert_eq!(app.audit("mfa_enroll", "success").await.len(), 1);

    // Next sign-in: the password alone is not enough.
    let phone = app.new_client();
    let response = app.sign_in(&phone, "ana@example.org", PASSWORD).await;
    assert!(response.headers()["location"].to_str().expect("ASCII").starts_with("/sign-in/verify"));
    assert_eq!(app.me(&phone).await, None, "not signed in before the second step");
    // A code from the previous step is fine (clock drift); the one used at set-up is not reusable.
    let next_code = code_for(&secret, now_secs() + 30);
    app.call_ok(&phone, "verify_second_factor", &[("code", &next_code)]).await;
    assert!(app.me(&phone).await.is_some());
    let logins = app.audit("login", "success").await;
    assert_eq!(logins.last().and_then(|r| r.detail.clone()).as_deref(), Some("password+totp"));

    // The same code cannot be replayed for another sign-in.
    let laptop = app.new_client();
    app.sign_in(&laptop, "ana@example.org", PASSWORD).await;
    let replay = app.call(&laptop, "verify_second_factor", &[("code", &next_code)]).await;
    assert_eq!(replay.status(), 422);
    assert_eq!(app.me(&laptop).await, None);
}

#[tokio::test]
async fn recovery_codes_work_once_each() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let (_, codes) = enable(&app, &client).await;

    let phone = app.new_client();
    app.sign_in(&phone, "ana@example.org", PASSWORD).await;
    // Typed loosely: upper case, no dashes.
    let loose = codes[0].replace('-', "").to_uppercase();
    app.call_ok(&phone, "verify_second_factor", &[("code", &loose)]).await;
    assert!(app.me(&phone).await.is_some());
    assert_eq!(app.audit("login", "success").await.last().and_then(|r| r.detail.clone()).as_deref(), Some("password+recovery_code"));

    let again = app.new_client();
    app.sign_in(&again, "ana@example.org", PASSWORD).await;
    assert_eq!(app.call(&again, "verify_second_factor", &[("code", &codes[0])]).await.status(), 422, "a used code is spent");
    app.call_ok(&again, "verify_second_factor", &[("code", &codes[1])]).await;
    assert_eq!(app.call_ok(&again, "mfa_status", &[]).await["recovery_codes_left"], 8);
}

#[tokio::test]
async fn staff_must_set_up_two_step_verification_before_their_sign_in_completes() {
    let app = spawn_app().await;
    app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    let response = app.sign_in(&client, "sam@example.org", PASSWORD).await;
    assert!(response.headers()["location"].to_str().expect("ASCII").starts_with("/sign-in/setup"));
    assert_eq!(app.me(&client).await, None);
    // Nothing else works in between.
    assert_eq!(app.call(&client, "search_patients", &[("q", "Lopez")]).await.status(), 401);

    let secret = start_setup(&app, &client).await;
    app.call_ok(&client, "mfa_setup_confirm", &[("code", &code_for(&secret, now_secs()))]).await;
    assert!(app.me(&client).await.is_some(), "setting it up completes the sign-in");
    assert_eq!(app.call_ok(&client, "take_recovery_codes", &[]).await.as_array().expect("array").len(), 10);
    assert_eq!(app.call_ok(&client, "search_patients", &[("q", "Lopez")]).await.as_array().expect("array").len(), 1);
    assert_eq!(app.audit("login", "success").await.last().and_then(|r| r.detail.clone()).as_deref(), Some("password+totp_enrolment"));
}

#[tokio::test]
async fn patients_can_be_required_to_use_it_too() {
    let app = spawn_app_with(|s| s.patient_mfa_required = true).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    let response = app.sign_in(&client, "ana@example.org", PASSWORD).await;
    assert!(response.headers()["location"].to_str().expect("ASCII").starts_with("/sign-in/setup"));
}

#[tokio::test]
async fn the_second_step_cannot_be_skipped_or_guessed_forever() {
    let app = spawn_app_with(|s| s.lockout_threshold = 3).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let (secret, _) = enable(&app, &client).await;

    // Without a password step first, there is nothing to verify.
    let stranger = app.new_client();
    assert_eq!(app.call(&stranger, "verify_second_factor", &[("code", "123456")]).await.status(), 401);

    let phone = app.new_client();
    app.sign_in(&phone, "ana@example.org", PASSWORD).await;
    for bad in ["000000", "abcdef", &"9".repeat(10_000)] {
        assert_eq!(app.call(&phone, "verify_second_factor", &[("code", bad)]).await.status(), 422);
    }
    let locked = app.call(&phone, "verify_second_factor", &[("code", &code_for(&secret, now_secs() + 30))]).await;
    assert_eq!(locked.status(), 429, "locked after three bad codes, even with a good one");
    assert_eq!(app.me(&phone).await, None);
    let failures = app.audit("mfa_challenge", "failure").await;
    assert_eq!(failures.len(), 4);
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("locked"));
}

#[tokio::test]
async fn replacing_an_authenticator_needs_the_password_or_a_current_code_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let laptop = app.new_client();
    app.login_as(&laptop, "ana@example.org").await;
    let (old_secret, _) = enable(&app, &laptop).await;
    // Another sign-in, with the old authenticator.
    let phone = app.new_client();
    app.sign_in(&phone, "ana@example.org", PASSWORD).await;
    // The next step's code (the enrolment spent this one; the app's clock may run ahead a step).
    let step_code = code_for(&old_secret, now_secs() + 30);
    app.call_ok(&phone, "verify_second_factor", &[("code", &step_code)]).await;
    assert!(app.me(&phone).await.is_some());

    // Someone at the laptop (a borrowed session) tries to put their own app in its place.
    let secret = start_setup(&app, &laptop).await;
    let refused = app.call(&laptop, "mfa_setup_confirm", &[("code", &code_for(&secret, now_secs()))]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").contains("\"current\""));
    let refused = app.call(&laptop, "mfa_setup_confirm", &[("code", &code_for(&secret, now_secs())), ("current", "not my password at all")]).await;
    assert_eq!(refused.status(), 422);
    assert!(app.me(&phone).await.is_some(), "nothing changed");

    // The owner proves it with the password: the new app works, the other sign-in ended.
    app.call_ok(&laptop, "mfa_setup_confirm", &[("code", &code_for(&secret, now_secs())), ("current", PASSWORD)]).await;
    assert!(app.me(&laptop).await.is_some());
    assert_eq!(app.me(&phone).await, None, "whoever held the old authenticator is signed out");
}

#[tokio::test]
async fn parallel_wrong_codes_are_tried_exactly_the_thresholds_number_of_times() {
    // The attempt is counted in the transaction that checks it: 40 guesses sent at once cannot
    // all be checked against the same count (before the fix, each read "0 failures so far").
    let app = spawn_app_with(|s| {
        s.lockout_threshold = 5;
        s.auth_rate_limit_per_minute = 1000;
    })
    .await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    enable(&app, &client).await;
    let phone = app.new_client();
    app.sign_in(&phone, "ana@example.org", PASSWORD).await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..40 {
        let (phone, url) = (phone.clone(), app.url("/api/verify_second_factor"));
        guesses.spawn(async move {
            phone.post(url).header("accept", "application/json").form(&[("code", format!("{:06}", 100_000 + n))]).send().await.expect("sent").status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = guesses.join_next().await {
        statuses.push(status.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 5, "exactly five were checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 35);
    let tried = app.audit("mfa_challenge", "failure").await.into_iter().filter(|r| r.detail.as_deref() == Some("invalid_code")).count();
    assert_eq!(tried, 5);
}
