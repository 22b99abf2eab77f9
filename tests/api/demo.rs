//! Demo mode: creates its accounts once, shows them on the sign-in page, and refuses to run where
//! real patients could be.

use portal_tests::{TestBackend, TestDatabase, spawn_app_with};
use server::settings::{Environment, Settings};

#[tokio::test]
async fn demo_mode_creates_its_accounts_once_and_they_can_sign_in() {
    let database = TestDatabase::create().await;
    if database.backend == TestBackend::Postgres {
        return; // Demo mode runs only on SQLite (see the refusal test below).
    }
    let app = spawn_app_with(|s| s.demo = true).await;
    let credentials = app.call_ok(&app.client, "demo_credentials", &[]).await;
    let credentials = credentials.as_array().expect("array");
    assert_eq!(credentials.len(), 3);
    for account in credentials {
        let client = app.new_client();
        let email = account["email"].as_str().expect("email");
        let response = app.sign_in(&client, email, account["password"].as_str().expect("password")).await;
        assert_eq!(response.status(), 200, "{email}");
    }
    let patient = app.new_client();
    app.sign_in(&patient, "patient@demo.example", "demo-patient-lantern").await;
    assert_eq!(app.call_ok(&patient, "my_record", &[]).await["mrn"], "AB5537A3-8608-5F56-53F5-D10B00EB4680");
    // The demo records are real imported bundles: the patient reads their labs.
    let labs = app.call_ok(&patient, "record_section", &[("section", "labs")]).await;
    assert!(labs["total"].as_u64().is_some_and(|n| n >= 93), "{labs}");
    assert_eq!(app.audit("record_import", "success").await.len(), 3);

    // Running the set-up again changes nothing.
    let users_before = app.audit("user_create", "success").await.len();
    let auth = app::backend::auth::Auth::new(app.settings.auth_config()).expect("auth");
    app::backend::demo::ensure(&app.db, &auth, &app.settings.file_keys(), "main").await.expect("idempotent");
    assert_eq!(app.audit("user_create", "success").await.len(), users_before);

    let page = app.get("/sign-in").await.text().await.expect("body");
    assert!(page.contains("demo-staff-lantern"), "the sign-in page shows the demo credentials");
}

#[tokio::test]
async fn without_demo_mode_no_credentials_are_shown() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(app.call_ok(&app.client, "demo_credentials", &[]).await, serde_json::json!([]));
    let page = app.get("/sign-in").await.text().await.expect("body");
    assert!(!page.contains("Demo accounts"));
}

#[test]
fn demo_mode_refuses_production_and_postgresql() {
    let production = Settings {
        demo: true,
        environment: Environment::Production,
        public_url: Some("https://portal.example.org".parse().expect("url")),
        ..Settings::default()
    };
    assert!(production.validate().expect_err("refused").to_string().contains("demo"));
    let postgres = Settings {
        demo: true,
        database_url: Some("postgres://localhost/portal".to_string().into()),
        ..Settings::default()
    };
    assert!(postgres.validate().expect_err("refused").to_string().contains("PostgreSQL"));
}
