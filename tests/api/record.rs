//! The clinical record through the access context: the patient reads their own imported record
//! (summary, sections with dates and pages, a visit with its contents, a note, a trend, an
//! attachment), staff read any, and anyone else gets 404 for another patient's record. Every
//! read is audited.

use app::backend::fhir::parse::Limits;
use app::domain::Role;
use portal_tests::{TestApp, spawn_app};
use sea_orm::ConnectionTrait;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea");
/// Lucas404 León820: 93 lab results, notes, non-ASCII name.
const LEON: &str = "ab5537a3-8608-5f56-53f5-d10b00eb4680.json";
const ZANDRA: &str = "8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json";

async fn import(app: &TestApp, file: &str) -> String {
    let bytes = std::fs::read(format!("{FIXTURES}/{file}")).expect("fixture");
    app.system().importer(Limits::default()).import(file, &bytes, &|_, _| {}).await.expect("imports").patient.expect("a patient").id
}

/// Leon's record imported, and a signed-in browser for an account linked to it.
async fn leon(app: &TestApp) -> (String, reqwest::Client) {
    let id = import(app, LEON).await;
    app.create_user("leon@example.org", &[Role::Patient], Some(&id)).await;
    let client = app.new_client();
    app.login_as(&client, "leon@example.org").await;
    (id, client)
}

#[tokio::test]
async fn a_patient_reads_their_summary_and_every_section() {
    let app = spawn_app().await;
    let (id, client) = leon(&app).await;
    let summary = app.call_ok(&client, "record_summary", &[]).await;
    assert_eq!(summary["patient"]["id"], id.as_str());
    assert_eq!(summary["patient"]["family_name"], "León820");
    assert!(!summary["labs"].as_array().expect("labs").is_empty());
    assert!(!summary["vitals"].as_array().expect("vitals").is_empty());
    let lab = &summary["labs"][0];
    assert!(lab["codes"][0]["system"] == "LOINC", "codes carry their system: {lab}");

    for section in ["problems", "medications", "allergies", "immunizations", "labs", "vitals", "procedures", "visits", "documents", "care-plans", "claims"] {
        let page = app.call_ok(&client, "record_section", &[("section", section)]).await;
        assert_eq!(page["page"], 1, "{section}");
        assert!(page["total"].as_u64().is_some(), "{section}");
    }
    let labs = app.call_ok(&client, "record_section", &[("section", "labs")]).await;
    let total = labs["total"].as_u64().expect("total");
    assert!(total >= 93, "at least the manifest's 93 lab results with a value: {total}");
    assert_eq!(labs["items"].as_array().expect("items").len(), 20, "one page");
    assert_eq!(labs["pages"].as_u64(), Some(total.div_ceil(20)));
    let last = app.call_ok(&client, "record_section", &[("section", "labs"), ("page", "5")]).await;
    assert_eq!(last["items"].as_array().expect("items").len() as u64, total - 80);
    assert!(app.audit("patient_read", "success").await.iter().any(|r| r.detail.as_deref() == Some("section=labs page=5")));
}

#[tokio::test]
async fn the_date_range_filters_every_list_and_bad_dates_are_explained() {
    let app = spawn_app().await;
    let (_, client) = leon(&app).await;
    let all = app.call_ok(&client, "record_section", &[("section", "visits")]).await;
    let dates: Vec<String> = all["items"].as_array().expect("items").iter().filter_map(|i| i["date"].as_str().map(|d| d[..10].to_string())).collect();
    let newest = dates.first().expect("a visit").clone();
    let some = app.call_ok(&client, "record_section", &[("section", "visits"), ("from", &newest), ("to", &newest)]).await;
    assert!(some["total"].as_u64().expect("total") >= 1);
    assert!(some["total"].as_u64() < all["total"].as_u64());
    for item in some["items"].as_array().expect("items") {
        assert!(item["date"].as_str().expect("date").starts_with(&newest));
    }
    let bad = app.call(&client, "record_section", &[("section", "visits"), ("from", "2020-02-30")]).await;
    assert_eq!(bad.status(), 422);
    let reversed = app.call(&client, "record_section", &[("section", "visits"), ("from", "2020-02-01"), ("to", "2020-01-01")]).await;
    assert_eq!(reversed.status(), 422);
    assert_eq!(app.call(&client, "record_section", &[("section", "nonsense")]).await.status(), 404);
}

#[tokio::test]
async fn a_visit_opens_with_what_was_recorded_in_it_and_a_note_reads_as_text() {
    let app = spawn_app().await;
    let (_, client) = leon(&app).await;
    let docs = app.call_ok(&client, "record_section", &[("section", "documents")]).await;
    let doc = docs["documents"].as_array().expect("documents").iter().find(|d| d["is_text"] == true).expect("a note").clone();
    let note = app.call_ok(&client, "record_document", &[("id", doc["id"].as_str().expect("id"))]).await;
    assert!(note["text"].as_str().is_some_and(|t| t.len() > 20), "{note}");

    let visits = app.call_ok(&client, "record_section", &[("section", "visits")]).await;
    let mut found = false;
    for visit in visits["items"].as_array().expect("visits") {
        let view = app.call_ok(&client, "record_visit", &[("id", visit["id"].as_str().expect("id"))]).await;
        if !view["sections"].as_array().expect("sections").is_empty() {
            found = true;
            assert_eq!(view["visit"]["id"], visit["id"]);
            break;
        }
    }
    assert!(found, "some visit recorded something");
}

#[tokio::test]
async fn a_test_with_several_results_has_a_trend() {
    let app = spawn_app().await;
    let (_, client) = leon(&app).await;
    let summary = app.call_ok(&client, "record_summary", &[]).await;
    let code = summary["vitals"].as_array().expect("vitals").iter().find_map(|v| v["trend_code"].as_str()).expect("a numeric vital").to_string();
    let trend = app.call_ok(&client, "record_trend", &[("code", &code)]).await;
    let points = trend["points"].as_array().expect("points");
    assert!(points.len() >= 2, "{trend}");
    let ms: Vec<i64> = points.iter().map(|p| p["ms"].as_i64().expect("ms")).collect();
    assert!(ms.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert_eq!(app.call(&client, "record_trend", &[("code", "no-such-code")]).await.status(), 404);
}

#[tokio::test]
async fn another_patients_record_answers_404_and_staff_read_any() {
    let app = spawn_app().await;
    let (_, client) = leon(&app).await;
    let other = import(&app, ZANDRA).await;
    for (endpoint, fields) in [
        ("record_summary", vec![("patient", other.as_str())]),
        ("record_section", vec![("patient", other.as_str()), ("section", "labs")]),
        ("record_trend", vec![("patient", other.as_str()), ("code", "8302-2")]),
    ] {
        let response = app.call(&client, endpoint, &fields).await;
        assert_eq!(response.status(), 404, "{endpoint}");
    }
    assert!(!app.audit("patient_read", "denied").await.is_empty(), "refusals are audited");
    // A visit or note of another patient, asked for by id, is not found either.
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let staff = app.new_client();
    app.login_as(&staff, "sam@example.org").await;
    let theirs = app.call_ok(&staff, "record_section", &[("patient", &other), ("section", "visits")]).await;
    let visit = theirs["items"][0]["id"].as_str().expect("a visit").to_string();
    assert_eq!(app.call(&client, "record_visit", &[("id", &visit)]).await.status(), 404);
    let summary: Value = app.call_ok(&staff, "record_summary", &[("patient", &other)]).await;
    assert_eq!(summary["patient"]["id"], other.as_str());
    // Signed out: nothing.
    let stranger = app.new_client();
    assert_eq!(app.call(&stranger, "record_summary", &[]).await.status(), 401);
}

#[tokio::test]
async fn attachments_download_as_files_only_for_their_patient() {
    let app = spawn_app().await;
    let (_, client) = leon(&app).await;
    let docs = app.call_ok(&client, "record_section", &[("section", "documents")]).await;
    let id = docs["documents"][0]["id"].as_str().expect("a document").to_string();
    let response = client.get(app.url(&format!("/record/documents/{id}/download"))).send().await.expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers()["content-disposition"].to_str().expect("ASCII").starts_with("attachment"));
    assert!(!response.bytes().await.expect("bytes").is_empty());
    let stranger = app.new_client();
    let other = import(&app, ZANDRA).await;
    app.create_user("z@example.org", &[Role::Patient], Some(&other)).await;
    app.login_as(&stranger, "z@example.org").await;
    let theirs = stranger.get(app.url(&format!("/record/documents/{id}/download"))).send().await.expect("download");
    assert_eq!(theirs.status(), 404);
}

#[tokio::test]
async fn the_record_pages_render_on_the_server_without_javascript() {
    let app = spawn_app().await;
    let (_, client) = leon(&app).await;
    let html = |path: String| {
        let client = client.clone();
        let url = app.url(&path);
        async move {
            let response = client.get(url).header("accept", "text/html").send().await.expect("page");
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.expect("html")
        }
    };
    let summary = html("/record".into()).await;
    for expected in ["León820", "Latest lab results", "Active problems", "record-demographics", "LOINC"] {
        assert!(summary.contains(expected), "summary lacks {expected}");
    }
    let labs = html("/record/labs".into()).await;
    assert!(labs.contains("page 1 of 5") && labs.contains("rel=\"next\""), "pages: {labs}");
    assert!(labs.contains("See the trend"));
    let second = html("/record/labs?page=2".into()).await;
    assert!(second.contains("page 2 of 5") && second.contains("rel=\"prev\""));

    let summary_json = app.call_ok(&client, "record_summary", &[]).await;
    let code = summary_json["vitals"].as_array().expect("vitals").iter().find_map(|v| v["trend_code"].as_str()).expect("a trend").to_string();
    let trend = html(format!("/record/trend/{code}")).await;
    assert!(trend.contains("<svg") && trend.contains("role=\"img\"") && trend.contains("<polyline"), "{trend}");
    let visits = app.call_ok(&client, "record_section", &[("section", "visits")]).await;
    let visit = visits["items"][0]["id"].as_str().expect("a visit").to_string();
    assert!(html(format!("/record/visits/{visit}")).await.contains("record-heading"));
    let docs = app.call_ok(&client, "record_section", &[("section", "documents")]).await;
    let doc = docs["documents"][0]["id"].as_str().expect("a note").to_string();
    assert!(html(format!("/record/documents/{doc}")).await.contains("id=\"record-note\""));
}

/// Scale (issue 21): the summary asks the database for each test's latest reading; it shows, for
/// vital signs and labs, the tests whose latest readings are the newest, one row each, the
/// latest reading of it.
#[tokio::test]
async fn the_summary_shows_the_latest_reading_of_each_test() {
    let app = spawn_app().await;
    let (id, client) = leon(&app).await;
    let summary = app.call_ok(&client, "record_summary", &[]).await;
    for (section, category, limit) in [("vitals", "vital-signs", 10), ("labs", "laboratory", 12)] {
        let rows = summary[section].as_array().expect("rows");
        let keys: Vec<String> = rows
            .iter()
            .map(|r| r["codes"][0]["code"].as_str().or(r["display"].as_str()).expect("a code or a name").to_string())
            .collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{section}: one row per test: {keys:?}");
        let from = format!("FROM clinical_item WHERE patient_id = '{id}' AND kind = 'observation' AND category = '{category}'");
        let distinct = portal_tests::count(&app.db, &format!("SELECT COUNT(DISTINCT COALESCE(code, display)) {from}")).await;
        assert_eq!(keys.len() as i64, distinct.min(limit), "{section}");
        // No test left out has a newer latest reading than one shown.
        let mut oldest_shown = i64::MAX;
        for key in &keys {
            let latest = portal_tests::count(&app.db, &format!("SELECT MAX(start_ms) {from} AND COALESCE(code, display) = '{key}'")).await;
            oldest_shown = oldest_shown.min(latest);
        }
        let newer_left_out = portal_tests::count(
            &app.db,
            &format!("SELECT COUNT(*) FROM (SELECT COALESCE(code, display) AS k, MAX(start_ms) AS m {from} GROUP BY COALESCE(code, display)) t WHERE t.m > {oldest_shown} AND t.k NOT IN ({})", keys.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")),
        )
        .await;
        assert_eq!(newer_left_out, 0, "{section}");
    }
}

/// The marks the summary reads (issue 21): one reading of each test marked in every record.
async fn tests_not_marked_once(app: &TestApp) -> i64 {
    portal_tests::count(
        &app.db,
        "SELECT COUNT(*) FROM (SELECT patient_id, category, COALESCE(code, display) AS k, SUM(CASE WHEN latest_reading THEN 1 ELSE 0 END) AS marked \
         FROM clinical_item WHERE kind = 'observation' GROUP BY patient_id, category, COALESCE(code, display)) t WHERE t.marked <> 1",
    )
    .await
}

/// The value the summary shows for the lab test with `code`, if it shows that test.
fn lab_value(summary: &Value, code: &str) -> Option<String> {
    let rows = summary["labs"].as_array().expect("labs");
    let row = rows.iter().find(|r| r["codes"].as_array().is_some_and(|c| c.iter().any(|c| c["code"] == code)))?;
    Some(row["value"].as_str().unwrap_or_default().to_string())
}

/// Scale (issue 21): each test's latest reading is marked at import, and a newer reading
/// imported later takes the mark; a viewer whose filters hide the marked reading (here a
/// psychotherapy tag, which the patient never sees online) gets the latest one they may see,
/// while staff see the marked one.
#[tokio::test]
async fn the_latest_reading_mark_follows_new_readings_and_hidden_ones() {
    let app = spawn_app().await;
    let (id, client) = leon(&app).await;
    assert_eq!(tests_not_marked_once(&app).await, 0);
    assert!(portal_tests::count(&app.db, "SELECT COUNT(*) FROM clinical_item WHERE latest_reading AND kind <> 'observation'").await == 0);

    // A lab test with two readings or more, and its latest one.
    let from = format!("FROM clinical_item WHERE patient_id = '{id}' AND kind = 'observation' AND category = 'laboratory'");
    let code_row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT code, MAX(start_ms) AS newest {from} AND code IS NOT NULL GROUP BY code HAVING COUNT(*) > 1 ORDER BY MAX(start_ms) DESC, code LIMIT 1"),
        ))
        .await
        .expect("query")
        .expect("a repeated test");
    let code: String = code_row.try_get("", "code").expect("code");
    let newest: i64 = code_row.try_get("", "newest").expect("newest");
    let marked = |app: &TestApp| {
        let sql = format!("SELECT COUNT(*) {from} AND code = '{code}' AND latest_reading AND start_ms = {newest}");
        let db = app.db.clone();
        async move { portal_tests::count(&db, &sql).await }
    };
    assert_eq!(marked(&app).await, 1);
    let before = lab_value(&app.call_ok(&client, "record_summary", &[]).await, &code).expect("the newest test is shown");

    // A newer reading of that test arrives in a later file: it takes the mark, and the summary
    // shows its value.
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[
            {{"fullUrl":"urn:uuid:{id}","resource":{patient}}},
            {{"fullUrl":"urn:uuid:5e0c8a4e-0000-4000-8000-000000000021","resource":{{"resourceType":"Observation","id":"5e0c8a4e-0000-4000-8000-000000000021","status":"final",
              "category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],
              "code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"The same test"}}],"text":"The same test"}},
              "subject":{{"reference":"urn:uuid:{id}"}},"effectiveDateTime":"2099-01-01T10:00:00Z","valueQuantity":{{"value":4242,"unit":"mg/dL"}}}}}}]}}"#,
        patient = leon_patient_resource(&app, &id).await,
    );
    app.import_fhir(bundle.as_bytes()).await;
    assert_eq!(tests_not_marked_once(&app).await, 0);
    assert_eq!(marked(&app).await, 0, "the older reading lost the mark");
    let summary = app.call_ok(&client, "record_summary", &[]).await;
    assert!(lab_value(&summary, &code).expect("shown").contains("4242"), "{summary}");

    // The new reading tagged as a psychotherapy note (as a site rule could): the patient's own
    // view falls back to the reading before it; staff still see the marked one.
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO sensitive_tag (resource_id, category, patient_id) SELECT resource_id, 'psychotherapy_notes', patient_id {from} AND code = '{code}' AND latest_reading"
        ))
        .await
        .expect("tagged");
    let own = app.call_ok(&client, "record_summary", &[]).await;
    assert_eq!(lab_value(&own, &code), Some(before), "{own}");
    let staff = app.new_client();
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    app.login_as(&staff, "sam@example.org").await;
    let theirs = app.call_ok(&staff, "record_summary", &[("patient", id.as_str())]).await;
    assert!(lab_value(&theirs, &code).expect("shown").contains("4242"), "{theirs}");
}

/// Leon's Patient resource as imported (a later file about him starts with it).
async fn leon_patient_resource(app: &TestApp, id: &str) -> String {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), format!("SELECT json FROM fhir_resource WHERE resource_type = 'Patient' AND patient_id = '{id}'")))
        .await
        .expect("query")
        .expect("the patient resource");
    row.try_get("", "json").expect("json")
}
