//! The scale database (issue 21): `portal bench seed`'s copying, on both databases — new
//! patients with their own ids, names, dates and record items, release requests for them, and
//! the searches that must stay indexed at 100,000 patients finding them by the start of a name.

use app::domain::Role;
use portal_tests::{count, spawn_app};
use sea_orm::ConnectionTrait;
use server::seed::{Scale, seed};

/// SQLite's plan for a query, step by step (`EXPLAIN QUERY PLAN`'s details).
async fn sqlite_plan(db: &sea_orm::DatabaseConnection, sql: String) -> Vec<String> {
    db.query_all_raw(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Sqlite, sql))
        .await
        .expect("plan")
        .iter()
        .map(|row| row.try_get::<String>("", "detail").expect("detail"))
        .collect()
}

#[tokio::test]
async fn seeded_patients_are_whole_records_of_their_own_and_are_found_by_the_start_of_a_name() {
    let app = spawn_app().await;
    let newborn = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json")).await;
    let adult = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/6c8f3e83-c351-ed33-c38d-6be101c275d2.json")).await;
    let clerk = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let before = count(&app.db, "SELECT COUNT(*) FROM clinical_item").await;
    let today = app::domain::IsoDate::parse("2026-12-03").expect("date");
    let seeded = seed(&app.db, &[newborn.clone(), adult.clone()], &clerk.id, today, Scale { patients: 40, requests: 300 }, &|_, _| {}).await.expect("seeded");
    assert_eq!((seeded.patients, seeded.requests), (40, 300));

    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM patient").await, 42);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM release_request").await, 300);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM patient_identifier WHERE system = 'urn:portal:bench-seed'").await, 40);
    // Every new patient has items of their own, each with its own resource whose JSON carries
    // the new id; the templates are untouched and the helper tables are gone.
    assert_eq!(count(&app.db, "SELECT COUNT(DISTINCT patient_id) FROM clinical_item").await, 42);
    assert!(count(&app.db, "SELECT COUNT(*) FROM clinical_item").await > before + 40);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clinical_item i JOIN fhir_resource r ON r.id = i.resource_id WHERE r.patient_id <> i.patient_id").await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM fhir_resource WHERE patient_id IS NOT NULL AND json NOT LIKE '%' || fhir_id || '%'").await, 0);
    assert_eq!(count(&app.db, &format!("SELECT COUNT(*) FROM clinical_item WHERE patient_id IN ('{newborn}', '{adult}')")).await, before);
    // Moved back in time with the birth date: nothing recorded before birth that was not so.
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clinical_item WHERE start_text IS NOT NULL AND start_ms IS NOT NULL AND length(start_text) < 10").await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM release_request r LEFT JOIN patient p ON p.id = r.patient_id WHERE p.id IS NULL").await, 0);
    // A copy holds its template's newest items only: its own latest readings are marked, one
    // per test (the summary reads the marks).
    let unmarked = "SELECT COUNT(*) FROM (SELECT patient_id, category, COALESCE(code, display) AS k, SUM(CASE WHEN latest_reading THEN 1 ELSE 0 END) AS marked \
                    FROM clinical_item WHERE kind = 'observation' GROUP BY patient_id, category, COALESCE(code, display)) t WHERE t.marked <> 1";
    assert_eq!(count(&app.db, unmarked).await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clinical_item WHERE latest_reading AND kind <> 'observation'").await, 0);

    // A seeded patient reads their own record like any other.
    let someone = portal_tests::count(&app.db, "SELECT COUNT(*) FROM patient WHERE mrn LIKE 'S%'").await;
    assert_eq!(someone, 40);
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), "SELECT id, family_name FROM patient WHERE mrn LIKE 'S%' ORDER BY mrn LIMIT 1"))
        .await
        .expect("query")
        .expect("a seeded patient");
    let (id, family): (String, String) = (row.try_get("", "id").expect("id"), row.try_get("", "family_name").expect("family"));
    app.create_user("seeded@example.org", &[Role::Patient], Some(&id)).await;
    let patient = app.new_client();
    app.login_as(&patient, "seeded@example.org").await;
    let summary = app.call_ok(&patient, "record_summary", &[]).await;
    assert_eq!(summary["patient"]["family_name"], serde_json::json!(family));

    // Staff find them by the start of the name, in any case, and only those.
    let staff = app.new_client();
    app.login_as(&staff, "sam@example.org").await;
    let start = &family[..4];
    let found = app.call_ok(&staff, "search_patients", &[("q", &start.to_uppercase())]).await;
    let names: Vec<&str> = found.as_array().expect("list").iter().filter_map(|p| p["family_name"].as_str()).collect();
    assert!(names.contains(&family.as_str()), "{names:?}");
    assert!(names.iter().all(|n| n.to_lowercase().starts_with(&start.to_lowercase())), "{names:?}");
    let inside = &family[1..5];
    let none = app.call_ok(&staff, "search_patients", &[("q", inside)]).await;
    assert!(none.as_array().expect("list").iter().all(|p| p["family_name"].as_str().is_some_and(|n| n.to_lowercase().starts_with(&inside.to_lowercase()))), "{none}");
}

/// The queue repeats the condition of the partial index on open requests word for word (SQLite
/// uses a partial index only then), and after a seeding (statistics gathered: nearly every
/// request closed) a page of the queue reads that index on SQLite instead of every request.
#[tokio::test]
async fn the_queue_pages_from_the_index_of_open_requests() {
    use app::domain::release::OPEN_REQUESTS;
    let migration = include_str!("../../migrations/src/m20261206_000014_search_indexes.rs");
    assert!(migration.contains(&format!("WHERE {OPEN_REQUESTS}\"")), "migration 14 and OPEN_REQUESTS differ");
    let app = spawn_app().await;
    if app.db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return;
    }
    let template = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json")).await;
    let clerk = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let today = app::domain::IsoDate::parse("2026-12-03").expect("date");
    seed(&app.db, &[template], &clerk.id, today, Scale { patients: 20, requests: 2000 }, &|_, _| {}).await.expect("seeded");
    let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM release_request WHERE channel <> 'self_service' AND {OPEN_REQUESTS} ORDER BY due_on, number LIMIT 50");
    let plan = sqlite_plan(&app.db, sql).await;
    assert!(plan.iter().any(|step| step.contains("idx_release_request_open")), "{plan:?}");
    assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{plan:?}");
}

/// The summary reads each test's latest reading from the partial index of marked readings
/// (migration 15), whose condition it repeats word for word; on a seeded SQLite database the
/// plan for those readings uses that index.
#[tokio::test]
async fn the_summary_reads_latest_readings_from_their_index() {
    use app::backend::access::import::LATEST_READING;
    let migration = include_str!("../../migrations/src/m20261207_000015_latest_readings.rs");
    assert!(migration.contains(&format!("WHERE {LATEST_READING}\"")), "migration 15 and LATEST_READING differ");
    let app = spawn_app().await;
    if app.db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return;
    }
    let template = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json")).await;
    let clerk = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let today = app::domain::IsoDate::parse("2026-12-03").expect("date");
    seed(&app.db, std::slice::from_ref(&template), &clerk.id, today, Scale { patients: 20, requests: 0 }, &|_, _| {}).await.expect("seeded");
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT resource_id, start_ms FROM clinical_item WHERE patient_id = '{template}' AND kind IN ('observation') AND category = 'laboratory' AND {LATEST_READING}"
    );
    let plan = sqlite_plan(&app.db, sql).await;
    assert!(plan.iter().any(|step| step.contains("idx_clinical_item_latest")), "{plan:?}");
}

/// `portal bench seed` refuses a database holding real patients (made-up records must never
/// mix with them); an empty database, or one it seeded before, is fine.
#[tokio::test]
async fn bench_seed_refuses_a_database_with_real_patients() {
    use server::seed::refuse_real_records;
    let app = spawn_app().await;
    refuse_real_records(&app.db).await.expect("an empty database is fine");
    let template = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json")).await;
    let refused = refuse_real_records(&app.db).await.expect_err("a real patient");
    assert!(refused.to_string().contains("1 patient record(s) and no bench data"), "{refused}");
    let clerk = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let today = app::domain::IsoDate::parse("2026-12-03").expect("date");
    seed(&app.db, &[template], &clerk.id, today, Scale { patients: 3, requests: 0 }, &|_, _| {}).await.expect("seeded");
    refuse_real_records(&app.db).await.expect("a bench database seeded before");
}
