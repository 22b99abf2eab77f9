//! The one set of migrations runs up, down and up again on this suite's database (SQLite, or
//! PostgreSQL under `TEST_DATABASE_URL`).

use portal_tests::TestDatabase;
use migrations::MigratorTrait;
use sea_orm_migration::SchemaManager;
use server::cli::{MigrateAction, migrate};

/// Whether the schema is there: true if every table exists, false if none does, a failure if
/// only some do (a half-applied or half-rolled-back history).
async fn has_session_table(settings: &server::settings::Settings) -> bool {
    let db = server::database::connect(settings).await.expect("connects");
    let tables = ["tower_session", "patient", "app_user", "user_role", "login_session", "login_throttle",
        "one_time_token", "external_identity", "identity_claim", "audit_event", "audit_checkpoint"];
    let mut present = Vec::new();
    for table in tables {
        present.push(SchemaManager::new(&db).has_table(table).await.expect("query"));
    }
    db.close().await.ok();
    assert!(present.iter().all(|p| *p) || present.iter().all(|p| !*p), "{tables:?}: {present:?}");
    present[0]
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let database = TestDatabase::create().await;
    let settings = database.settings();
    let total = migrations::Migrator::migrations().len();

    let report = migrate(&settings, MigrateAction::Up).await.expect("up");
    assert!(report.starts_with(&format!("Applied {total} migration(s)")), "{report}");
    assert!(has_session_table(&settings).await);

    let report = migrate(&settings, MigrateAction::Up).await.expect("up again");
    assert_eq!(report, "The database is up to date; nothing to apply.");

    let status = migrate(&settings, MigrateAction::Status).await.expect("status");
    assert!(status.contains("Applied") && !status.contains("Pending"), "{status}");

    let report = migrate(&settings, MigrateAction::Down { steps: u32::MAX }).await.expect("down");
    assert!(report.starts_with(&format!("Rolled back {total} migration(s)")), "{report}");
    assert!(!has_session_table(&settings).await);

    let status = migrate(&settings, MigrateAction::Status).await.expect("status");
    assert!(status.contains("Pending") && !status.contains("Applied"), "{status}");

    migrate(&settings, MigrateAction::Up).await.expect("up after down");
    assert!(has_session_table(&settings).await);
}

#[tokio::test]
async fn rolling_back_an_empty_database_says_so_and_succeeds() {
    let database = TestDatabase::create().await;
    let report = migrate(&database.settings(), MigrateAction::Down { steps: 1 }).await.expect("not an error");
    assert_eq!(report, "No migrations are applied; nothing to roll back.");
}

/// Every entity of the backend reads its table on the freshly migrated schema (both databases),
/// with rows in the tables a FHIR import and a new account fill: a column an entity names and the
/// migrations lack, or a type it cannot decode, fails here.
#[tokio::test]
async fn every_entity_matches_the_migrated_schema() {
    let app = portal_tests::spawn_app().await;
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json")).expect("fixture");
    let patient = app.import_fhir(&bytes).await;
    app.create_user("leon@example.org", &[app::domain::Role::Patient], Some(&patient)).await;
    // A copy downloaded at once fills the verification tables.
    let leon = app.new_client();
    app.login_as(&leon, "leon@example.org").await;
    let download = leon.get(app.url("/record/download/file?format=fhir")).send().await.expect("download");
    assert_eq!(download.status(), 200);
    app::backend::smart::apps::register(&app.db, "Health Diary", &["http://127.0.0.1:9000/cb".to_string()], true, None, &app::backend::request::RequestMeta::command_line()).await.expect("an app");
    let read = app::backend::access::check_entities(&app.db).await.expect("every entity reads its table");
    assert_eq!(read.len(), 40, "{read:?}");
    for table in ["patient", "fhir_resource", "clinical_item", "app_user", "user_role", "audit_event", "import_run", "copy_record", "copy_record_file", "segment_rule", "smart_app"] {
        assert!(read.iter().any(|(t, n)| *t == table && *n > 0), "{table} has rows that decode: {read:?}");
    }
}
