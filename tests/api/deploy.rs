//! Issue 19, deployment safety: each test shows an attack or a misconfiguration failing.

use portal_tests::{PASSWORD, TestApp, TestBackend, TestDatabase, spawn_app_with};
use server::startup::Application;
use app::domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// A browser behind the hospital's proxy: every request carries the hop the proxy appended.
fn behind_proxy(client_address: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", client_address.parse().expect("header value"));
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

async fn wrong_passwords(app: &TestApp, client: &reqwest::Client, count: usize) -> u16 {
    let mut last = 0;
    for n in 0..count {
        last = app.sign_in(client, &format!("guess{n}@example.org"), "a wrong password here").await.status().as_u16();
    }
    last
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_locked_out_client_does_not_lock_out_another() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.lockout_address_threshold = 3;
    })
    .await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let attacker = behind_proxy("198.51.100.1");
    wrong_passwords(&app, &attacker, 3).await;
    assert_eq!(app.sign_in(&attacker, "ana@example.org", PASSWORD).await.status(), 429, "the guessing client is locked");

    // Everyone else comes through the same proxy and signs in as usual.
    let patient = behind_proxy("198.51.100.2");
    assert_eq!(app.sign_in(&patient, "ana@example.org", PASSWORD).await.status(), 200);
    let login = app.audit("login", "success").await;
    assert_eq!(login[0].client_address.as_deref(), Some("198.51.100.2"), "the audit trail names the client, not the proxy");
    let failures = app.audit("login", "failure").await;
    assert!(failures.iter().all(|r| r.client_address.as_deref() == Some("198.51.100.1")));
}

#[tokio::test]
async fn without_trusted_proxies_a_forged_forwarding_header_changes_nothing() {
    let app = spawn_app_with(|s| s.lockout_address_threshold = 3).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    wrong_passwords(&app, &behind_proxy("198.51.100.1"), 3).await;
    // The same socket claiming another address is still the same client.
    assert_eq!(app.sign_in(&behind_proxy("198.51.100.2"), "ana@example.org", PASSWORD).await.status(), 429);
    assert!(app.audit("login", "failure").await.iter().all(|r| r.client_address.as_deref().is_some_and(|a| a.starts_with("127."))));
}

#[tokio::test]
async fn trusted_proxies_must_be_address_blocks() {
    let settings = server::settings::Settings { trusted_proxies: vec!["proxy.internal".into()], ..Default::default() };
    let error = settings.validate().expect_err("refused").to_string();
    assert!(error.contains("trusted_proxies"), "{error}");
}

#[tokio::test]
async fn outside_demo_mode_the_server_refuses_to_start_until_the_demo_accounts_are_purged() {
    let database = TestDatabase::create().await;
    if database.backend == TestBackend::Postgres {
        return; // Demo mode runs only on SQLite.
    }
    let mut settings = database.settings();
    settings.demo = true;
    let demo = Application::build(settings.clone()).await.expect("demo mode starts");
    drop(demo);

    settings.demo = false;
    let refused = Application::build(settings.clone()).await.err().expect("refused while demo accounts are active").to_string();
    assert!(refused.contains("portal admin purge-demo") && refused.contains("staff@demo.example"), "{refused}");

    let report = server::cli::admin(&settings, server::cli::AdminAction::PurgeDemo, None).await.expect("purged");
    assert!(report.contains("admin@demo.example"), "{report}");
    let again = server::cli::admin(&settings, server::cli::AdminAction::PurgeDemo, None).await.expect("nothing left");
    assert!(again.contains("nothing changed"), "{again}");

    let app = Application::build(settings).await.expect("starts once the demo accounts are disabled");
    let disabled = app::backend::entities::audit_event::Entity::find()
        .filter(app::backend::entities::audit_event::Column::Action.eq("user_disable"))
        .all(app.db())
        .await
        .expect("audit rows");
    assert_eq!(disabled.len(), 3, "each account disabled is audited");
    assert!(disabled.iter().all(|r| r.actor_user_id.as_deref() == Some("system:command-line")));
}

/// A browser's page request (browsers ask for HTML; the status must not depend on it).
async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let response = client.get(app.url(path)).header("accept", "text/html,application/xhtml+xml").send().await.expect("page");
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, location)
}

#[tokio::test]
async fn every_page_with_an_id_answers_404_for_what_is_missing_or_not_the_viewers() {
    let app = spawn_app_with(|_| {}).await;
    let ana_record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let ben_record = app.create_patient("MRN-2", "Okafor", "1979-11-02").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&ana_record)).await;
    app.create_user("ben@example.org", &[Role::Patient], Some(&ben_record)).await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let (ana, ben, sam) = (app.new_client(), app.new_client(), app.new_client());
    app.login_as(&ana, "ana@example.org").await;
    app.login_as(&ben, "ben@example.org").await;
    app.login_as(&sam, "sam@example.org").await;
    let submit = [("scope", "all"), ("pdf", "on")];
    let own = app.call_ok(&ana, "submit_request", &submit).await["id"].as_str().expect("id").to_string();
    let bens = app.call_ok(&ben, "submit_request", &submit).await["id"].as_str().expect("id").to_string();

    // The pages that exist render whole: no part of them failed on the server (a failure shows
    // "quote reference E-…" and is logged as an error).
    for (client, path) in [(&ana, format!("/requests/{own}")), (&sam, format!("/staff/requests/{bens}")), (&sam, format!("/staff/patients/{ben_record}")), (&sam, format!("/staff/patients/{ben_record}/disclosures"))] {
        let response = client.get(app.url(&path)).header("accept", "text/html").send().await.expect("page");
        assert_eq!(response.status(), 200, "{path}");
        let body = response.text().await.expect("body");
        assert!(!body.contains("quote reference"), "{path} rendered a server error");
        if path == format!("/staff/patients/{ben_record}") {
            // Its caregivers panel loads its own data: it must have rendered, not failed.
            assert!(body.contains("Nobody acts for this patient."), "the caregivers panel did not render");
        }
    }
    let cases: Vec<(&reqwest::Client, String)> = vec![
        (&ana, format!("/requests/{bens}")),
        (&ana, "/requests/no-such-request".into()),
        (&ana, "/record/visits/no-such-visit".into()),
        (&ana, "/record/documents/no-such-note".into()),
        (&ana, format!("/staff/requests/{bens}")),
        (&ana, format!("/staff/patients/{ben_record}")),
        (&ana, format!("/staff/patients/{ben_record}/record")),
        (&ana, format!("/staff/patients/{ben_record}/disclosures")),
        (&ana, format!("/staff/patients/{ben_record}/letter")),
        (&sam, "/staff/requests/no-such-request".into()),
        (&sam, "/staff/patients/no-such-patient".into()),
        (&sam, "/staff/patients/no-such-patient/record".into()),
        (&sam, "/staff/patients/no-such-patient/disclosures".into()),
        (&sam, "/staff/patients/no-such-patient/record/visits/no-such-visit".into()),
    ];
    let mut soft = Vec::new();
    for (client, path) in &cases {
        let (status, _) = page(client, &app, path).await;
        if status != 404 {
            soft.push(format!("{path}: {status}"));
        }
    }
    assert!(soft.is_empty(), "pages that did not answer 404: {soft:?}");
    // The API says the same for a patient that does not exist.
    assert_eq!(app.call(&sam, "patient_disclosures", &[("patient", "no-such-patient")]).await.status(), 404);

    // A signed-out visitor is sent to sign in, and brought back.
    let visitor = app.new_client();
    for path in [format!("/requests/{own}"), "/record".to_string(), "/account".to_string(), "/staff/requests".to_string(), "/requests".to_string()] {
        let (status, location) = page(&visitor, &app, &path).await;
        assert_eq!(status, 303, "{path}");
        assert!(location.starts_with(&format!("/sign-in?next={path}")), "{path}: {location}");
    }
}

#[tokio::test]
async fn staff_cannot_link_themselves_or_a_colleague_to_a_patient_record() {
    let app = spawn_app_with(|_| {}).await;
    app.create_patient("MRN-9", "Nguyen", "1990-01-01").await;
    let sam = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let kim = app.create_user("kim@example.org", &[Role::HimReviewer], None).await;
    // An account that never asked to be linked (no pending identity claim).
    let bystander = app.create_user("lee@example.org", &[], None).await;
    let clerk = app.new_client();
    app.login_as(&clerk, "sam@example.org").await;
    for (who, user_id) in [("own account", &sam.id), ("a colleague", &kim.id), ("no claim", &bystander.id)] {
        for endpoint in ["link_preview", "verify_identity"] {
            let response = app.call(&clerk, endpoint, &[("user_id", user_id), ("mrn", "MRN-9"), ("reason", "trust me")]).await;
            assert_eq!(response.status(), 404, "{endpoint} for {who}");
        }
    }
    assert!(app.audit("identity_verify", "success").await.is_empty());
    let refused = app.audit("identity_verify", "failure").await;
    assert_eq!(refused.len(), 6, "every refusal is audited");
    assert_eq!(app.me(&clerk).await.expect("still signed in")["has_record"], false, "the clerk has no record");
}

#[tokio::test]
async fn a_link_cannot_make_a_page_show_words_of_its_own() {
    // `?error=` once carried the refusal's text: anyone could send a link that showed their own
    // "error" (a phone number to call, say) on the portal's page.
    let app = spawn_app_with(|_| {}).await;
    app.create_user("mia@example.org", &[Role::Patient], None).await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let (mia, sam) = (app.new_client(), app.new_client());
    app.login_as(&mia, "mia@example.org").await;
    app.login_as(&sam, "sam@example.org").await;
    let planted = "Call%20555-0199%20to%20verify%20your%20account";
    for (client, path) in [(&mia, format!("/representatives?error={planted}")), (&sam, format!("/staff/intake?error={planted}"))] {
        let body = client.get(app.url(&path)).send().await.expect("page").text().await.expect("body");
        assert!(!body.contains("555-0199"), "{path} shows the link's words");
    }
}

#[tokio::test]
async fn an_upload_is_refused_before_its_body_is_read() {
    use std::io::{Read, Write};
    let app = spawn_app_with(|_| {}).await;
    app.create_user("mia@example.org", &[Role::Patient], None).await;
    let browser = app.new_client();
    let signed = app.sign_in(&browser, "mia@example.org", PASSWORD).await;
    let cookie = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(server::startup::SESSION_COOKIE))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    // Announce 60 MB and send a few bytes: a server that read the body first would wait for
    // the rest; the upload is refused at once instead.
    let host = app.address.trim_start_matches("http://").to_string();
    let status_line = tokio::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(&host).expect("connect");
        socket.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
        let head = format!(
            "POST /staff/import/upload HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 60000000\r\n\r\n--x\r\n"
        );
        socket.write_all(head.as_bytes()).expect("send");
        let mut answer = vec![0u8; 512];
        let read = socket.read(&mut answer).expect("answered without the body");
        String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_string()
    })
    .await
    .expect("the client thread");
    assert!(status_line.contains(" 404 "), "{status_line}");
    assert_eq!(app.audit("record_import", "denied").await.len(), 1, "the refusal is audited");
}

#[tokio::test]
async fn guessing_the_current_password_on_the_change_form_locks_like_a_sign_in() {
    let app = spawn_app_with(|s| s.lockout_threshold = 3).await;
    app.create_user("mia@example.org", &[Role::Patient], None).await;
    let mia = app.new_client();
    app.login_as(&mia, "mia@example.org").await;
    let change = async |current: &str| app.call(&mia, "change_password", &[("current_password", current), ("new_password", "a brand new passphrase here")]).await.status();
    for _ in 0..3 {
        assert_eq!(change("a wrong password guess").await, 422);
    }
    assert_eq!(change("a wrong password guess").await, 429, "locked after the threshold");
    assert_eq!(change(PASSWORD).await, 429, "even the right one waits out the lock");
    assert_eq!(app.audit("password_change", "failure").await.len(), 5);
}

#[tokio::test]
async fn the_sqlite_file_is_readable_by_the_portal_alone() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app_with(|_| {}).await;
    if app.backend == TestBackend::Postgres {
        return;
    }
    let file = app.settings.data_dir.join("portal.db");
    let mode = std::fs::metadata(&file).expect("the database file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
}

#[tokio::test]
async fn authenticator_secrets_are_sealed_at_rest() {
    let app = spawn_app_with(|_| {}).await;
    let sam = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await; // enrols through the real set-up
    let row = app::backend::entities::app_user::Entity::find_by_id(sam.id.clone()).one(&app.db).await.expect("query").expect("row");
    let stored = row.totp_secret.expect("an authenticator");
    let secret = app.authenticators.lock().expect("lock").get("sam@example.org").cloned().expect("the test's authenticator");
    assert!(stored.starts_with("sealed:"), "{stored}");
    assert!(!stored.contains(&app::backend::auth::totp::encode_secret(&secret)), "the secret is not in the clear");
    // And it still works: a second sign-in with a code from the app.
    let again = app.new_client();
    app.login_as(&again, "sam@example.org").await;
    assert!(app.me(&again).await.is_some());
}

#[tokio::test]
async fn signing_out_and_in_leaves_nothing_of_the_last_person_in_the_session() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    app.create_user("ben@example.org", &[Role::Patient], None).await;
    let shared = app.new_client(); // one browser, two people
    app.login_as(&shared, "ana@example.org").await;
    let anas = app.call_ok(&shared, "mfa_setup_start", &[]).await["manual_key"].clone();
    app.call(&shared, "sign_out", &[]).await;
    app.login_as(&shared, "ben@example.org").await;
    let bens = app.call_ok(&shared, "mfa_setup_start", &[]).await["manual_key"].clone();
    assert_ne!(anas, bens, "Ben never sees the authenticator secret Ana was setting up");
}

const OLD_KEY: &str = "old:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_KEY: &str = "new:HxwdHhscGRoYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

#[tokio::test]
async fn a_key_is_rotated_without_losing_a_file_or_an_authenticator() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app_with(|s| s.file_keys = Some(OLD_KEY.to_string().into())).await;
    // A released copy (sealed under the old key) and a staff authenticator (sealed too).
    let record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&record)).await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let (ana, sam) = (app.new_client(), app.new_client());
    app.login_as(&ana, "ana@example.org").await;
    app.login_as(&sam, "sam@example.org").await;
    let id = app.call_ok(&ana, "submit_request", &[("scope", "all"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step), ("note", "ok")]).await;
    }
    app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "approve"), ("note", "ok")]).await;
    app.call_ok(&sam, "release_copy", &[("id", &id)]).await;

    // The new key goes first; the old one stays until everything is resealed.
    let mut rotated = app.settings.clone();
    rotated.file_keys = Some(format!("{NEW_KEY},{OLD_KEY}").into());
    let report = server::cli::reseal(&rotated, false).await.expect("resealed");
    assert!(report.resealed >= 2 && report.unreadable == 0, "{}", report.text);
    let again = server::cli::reseal(&rotated, false).await.expect("nothing left");
    assert_eq!(again.resealed, 0, "resumable: what is done is skipped");
    assert_eq!(app.audit("key_reseal", "success").await.len(), 8, "one event per table per run");

    // Only the new key is needed now: every value opens with it alone.
    let new_only = app::backend::copies::seal::FileKeys::parse(NEW_KEY).expect("key");
    let backend = app.db.get_database_backend();
    let files = app.db.query_all_raw(Statement::from_string(backend, "SELECT id, request_id, key_id, nonce, ciphertext FROM release_file")).await.expect("rows");
    assert!(!files.is_empty());
    for row in files {
        let (file, request): (String, String) = (row.try_get("", "id").expect("id"), row.try_get("", "request_id").expect("request"));
        let sealed = app::backend::copies::seal::Sealed { key_id: row.try_get("", "key_id").expect("key"), nonce: row.try_get("", "nonce").expect("nonce"), ciphertext: row.try_get("", "ciphertext").expect("bytes") };
        assert!(new_only.open(&sealed, &format!("{file}/{request}")).is_ok(), "{file} opens with the new key alone");
    }
    let secrets = app.db.query_all_raw(Statement::from_string(backend, "SELECT id, totp_secret FROM app_user WHERE totp_secret IS NOT NULL")).await.expect("rows");
    for row in secrets {
        let (user, secret): (String, String) = (row.try_get("", "id").expect("id"), row.try_get("", "totp_secret").expect("secret"));
        assert!(new_only.open_text(&secret, &format!("totp/{user}")).is_some_and(|r| r.is_ok()), "the authenticator opens with the new key alone");
    }
}

#[tokio::test]
async fn requests_sent_at_the_same_moment_each_get_their_own_number() {
    // On PostgreSQL two requests once read the same highest number, and the second failed (500).
    let app = spawn_app_with(|_| {}).await;
    let record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&record)).await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    let mut sending = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (client, url) = (ana.clone(), app.url("/api/submit_request"));
        sending.spawn(async move {
            let response = client.post(url).header("accept", "application/json").form(&[("scope", "all"), ("pdf", "on")]).send().await.expect("sent");
            (response.status().as_u16(), response.text().await.expect("body"))
        });
    }
    let mut numbers = Vec::new();
    while let Some(done) = sending.join_next().await {
        let (status, body) = done.expect("the task");
        assert_eq!(status, 200, "{body}");
        numbers.push(serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["number"].as_str().expect("number").to_string());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 12, "{numbers:?}");
}

#[tokio::test]
async fn two_administrators_demoting_each_other_at_once_leave_one() {
    use app::backend::auth::users;
    use app::backend::request::RequestMeta;
    let app = spawn_app_with(|_| {}).await;
    let ada = app.create_user("ada@example.org", &[Role::Administrator], None).await;
    let bob = app.create_user("bob@example.org", &[Role::Administrator], None).await;
    let request = RequestMeta::command_line();
    let (first, second) = tokio::join!(
        users::set_role(&app.db, &ada.id, Role::Administrator, false, Some(&bob.id), &request),
        users::set_role(&app.db, &bob.id, Role::Administrator, false, Some(&ada.id), &request),
    );
    let refused = [&first, &second].iter().filter(|r| r.as_ref().is_err_and(users::is_last_administrator)).count();
    assert_eq!(refused, 1, "{first:?} {second:?}");
    assert_eq!(users::count_active_with(&app.db, Role::Administrator).await.expect("count"), 1);
    // Disabling the last one is refused the same way.
    let last = if first.is_ok() { &bob } else { &ada };
    let disabled = users::set_active(&app.db, &last.id, false, None, &request).await;
    assert!(disabled.as_ref().is_err_and(users::is_last_administrator), "{disabled:?}");
}

#[tokio::test]
async fn arguments_that_do_not_decode_are_a_400_naming_the_argument_and_searches_are_capped() {
    let app = spawn_app_with(|_| {}).await;
    let record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&record)).await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let (ana, sam) = (app.new_client(), app.new_client());
    app.login_as(&ana, "ana@example.org").await;
    app.login_as(&sam, "sam@example.org").await;
    for page in ["abc", "-1", "99999999999"] {
        let response = app.call(&ana, "record_section", &[("section", "labs"), ("page", page)]).await;
        assert_eq!(response.status(), 400, "page={page}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!((body["kind"].as_str(), body["field"].as_str()), (Some("bad_request"), Some("page")), "page={page}: {body}");
    }
    // A missing argument is named too, for anyone (signed in or not).
    let missing = app.call(&app.new_client(), "record_section", &[]).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.json::<serde_json::Value>().await.expect("JSON")["field"], "section");
    // A search of 200,000 characters is refused by field, not failed by the database.
    let long = "x".repeat(200_000);
    let response = app.call(&sam, "request_queue", &[("filter[q]", long.as_str())]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("body").contains("\"field\":\"q\""));
}

#[tokio::test]
async fn parallel_wrong_passwords_are_tried_exactly_the_thresholds_number_of_times() {
    let app = spawn_app_with(|s| {
        s.lockout_threshold = 3;
        s.auth_rate_limit_per_minute = 1000;
    })
    .await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (client, url) = (app.new_client(), app.url("/api/sign_in"));
        guesses.spawn(async move {
            let password = format!("wrong password number {n}");
            client.post(url).header("accept", "application/json").form(&[("email", "ana@example.org"), ("password", password.as_str())]).send().await.expect("sent").status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = guesses.join_next().await {
        statuses.push(status.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 3, "exactly three passwords were checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 17);
    let checked = app.audit("login", "failure").await.into_iter().filter(|r| r.detail.as_deref() == Some("wrong_password")).count();
    assert_eq!(checked, 3);
}

#[tokio::test]
async fn a_nul_character_in_an_argument_or_a_path_is_a_400() {
    // Found by the fuzzer (tests/resilience/fuzz.rs): PostgreSQL refuses NUL in text, which
    // answered 500 for `record_document` with `id=%00`.
    let app = spawn_app_with(|_| {}).await;
    let record = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&record)).await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    let response = app.call(&ana, "record_document", &[("id", "\0")]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<serde_json::Value>().await.expect("JSON")["field"], "id");
    assert_eq!(app.get("/requests/%00").await.status(), 400);
    // And an "id" of 40,000 characters is no one's (404), audited without it (the fuzzer again:
    // PostgreSQL's 36-character id columns refused it, 500).
    let long = "a".repeat(40_000);
    assert_eq!(app.call(&ana, "switch_person", &[("patient", long.as_str())]).await.status(), 404);
    let denied = app.audit("caregiver_switch", "denied").await;
    assert!(denied.last().is_some_and(|r| r.patient_id.is_none() && r.detail.as_deref().is_some_and(|d| d.contains("longer than 36"))), "{denied:?}");
}

/// Scale (issue 21): `/metrics` answers only with its bearer token, and its labels are route
/// patterns: the id in a path never appears.
#[tokio::test]
async fn metrics_need_their_token_and_name_routes_never_ids() {
    let token = "metrics-token-for-this-test-0001";
    let app = spawn_app_with(|s| s.metrics_token = Some(token.to_string().into())).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    let id = "4d0c7a52-0000-4000-8000-metricsprobe";
    assert_eq!(ana.get(app.url(&format!("/requests/{id}"))).send().await.expect("sent").status(), 404);
    let client = reqwest::Client::new();
    let metrics = |bearer: Option<&str>| {
        let mut request = client.get(app.url("/metrics"));
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        request.send()
    };
    assert_eq!(metrics(None).await.expect("sent").status(), 401);
    assert_eq!(metrics(Some("metrics-token-for-this-test-0002")).await.expect("sent").status(), 401);
    let answer = metrics(Some(token)).await.expect("sent");
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("text");
    for name in [
        "portal_http_requests_total{route=\"/requests/{id}\",method=\"GET\",status=\"404\"}",
        "portal_http_request_duration_seconds_bucket{route=\"/api/sign_in\"",
        "portal_db_pool_connections",
        "portal_audit_queue_depth",
        "portal_audit_unsealed_events",
        "portal_audit_sealer_lag_seconds",
        "portal_mail_outbox_backlog",
        "portal_sessions_alive 1",
    ] {
        assert!(text.contains(name), "{name} in:\n{text}");
    }
    assert!(!text.contains(id) && !text.contains("ana@example.org"), "no identifier in a label:\n{text}");

    // Without a token the route does not exist.
    let plain = spawn_app_with(|_| {}).await;
    assert_eq!(reqwest::get(plain.url("/metrics")).await.expect("sent").status(), 404);
}
