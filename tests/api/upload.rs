//! The HIM upload page and the duplicates list: a file uploaded as a multipart form is imported
//! in the staff member's name (audited), a bad file is refused with its reason listed, patients
//! cannot upload, and a pair of possible duplicates is shown side by side and decided.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app};
use serde_json::json;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json");

async fn staff(app: &TestApp) -> reqwest::Client {
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await;
    client
}

async fn upload(app: &TestApp, client: &reqwest::Client, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str("application/json").expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    client.post(app.url("/staff/import/upload")).multipart(form).send().await.expect("upload")
}

#[tokio::test]
async fn him_staff_upload_a_bundle_and_see_the_outcome() {
    let app = spawn_app().await;
    let client = staff(&app).await;
    let response = upload(&app, &client, "zandra.json", std::fs::read(FIXTURE).expect("fixture")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/staff/import?done=1");
    let runs = app.call_ok(&client, "import_runs", &[]).await;
    assert_eq!(runs[0]["status"], "imported");
    assert_eq!(runs[0]["source"], "zandra.json");
    assert!(runs[0]["outcome"].as_str().expect("outcome").contains("66 resources: 66 new"), "{runs}");
    let user = app.audit("record_import", "success").await;
    assert!(user.last().and_then(|r| r.actor_user_id.clone()).is_some(), "imported in the staff member's name");

    // A broken file: nothing imported, the reason listed first.
    let response = upload(&app, &client, "broken.json", b"{\"resourceType\":\"Bundle\",".to_vec()).await;
    assert_eq!(response.status(), 303);
    let runs = app.call_ok(&client, "import_runs", &[]).await;
    assert_eq!(runs[0]["status"], "failed");
    assert!(runs[0]["outcome"].as_str().expect("outcome").contains("not valid JSON"), "{runs}");

    let page = client.get(app.url("/staff/import?done=1")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("Not imported: broken.json") && page.contains("role=\"alert\""), "{page}");
}

#[tokio::test]
async fn patients_cannot_upload_or_list_imports() {
    let app = spawn_app().await;
    app.create_user("pat@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "pat@example.org").await;
    let response = upload(&app, &client, "zandra.json", std::fs::read(FIXTURE).expect("fixture")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(app.call(&client, "import_runs", &[]).await.status(), 404);
    assert_eq!(app.call(&client, "duplicates", &[]).await.status(), 404);
    let signed_out = app.new_client();
    assert_eq!(upload(&app, &signed_out, "z.json", b"{}".to_vec()).await.status(), 401);
}

fn patient_bundle(id: &str, mrn: &str) -> Vec<u8> {
    json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Patient", "id": id, "gender": "male", "birthDate": "1950-01-02",
        "name": [{"family": "Okafor", "given": ["Ben"]}],
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:test", "value": mrn}]}}]})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn possible_duplicates_are_listed_side_by_side_and_decided() {
    let app = spawn_app().await;
    let client = staff(&app).await;
    upload(&app, &client, "a.json", patient_bundle("pa", "A-1")).await;
    upload(&app, &client, "b.json", patient_bundle("pb", "B-2")).await;
    let pairs = app.call_ok(&client, "duplicates", &[]).await;
    let pairs = pairs.as_array().expect("pairs");
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0]["new_record"]["mrn"], "B-2");
    assert_eq!(pairs[0]["existing_record"]["mrn"], "A-1");
    assert_eq!(pairs[0]["new_identifiers"], json!(["urn:test: B-2"]));
    let id = pairs[0]["id"].as_str().expect("id").to_string();
    let page = client.get(app.url("/staff/duplicates")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("Newly imported") && page.contains("A-1") && page.contains("B-2"));

    assert_eq!(app.call(&client, "resolve_duplicate", &[("id", &id), ("decision", "merge-it")]).await.status(), 400);
    app.call_ok(&client, "resolve_duplicate", &[("id", &id), ("decision", "distinct")]).await;
    assert_eq!(app.call_ok(&client, "duplicates", &[]).await, json!([]));
    assert_eq!(app.audit("duplicate_review", "success").await.len(), 2, "one event per record");
    // Decided once: deciding again finds nothing open.
    assert_eq!(app.call(&client, "resolve_duplicate", &[("id", &id), ("decision", "same_person")]).await.status(), 404);
}

#[tokio::test]
async fn an_administrator_sees_counts_and_record_numbers_but_not_file_names() {
    // A file name can be a patient's name ("Marcos_Delagarza_….json"): only its importer and
    // HIM staff see it.
    let app = spawn_app().await;
    let clerk = staff(&app).await;
    upload(&app, &clerk, "Zandra_OHara.json", std::fs::read(FIXTURE).expect("fixture")).await;
    app.create_user("root@example.org", &[Role::Administrator], None).await;
    let admin = app.new_client();
    app.login_as(&admin, "root@example.org").await;
    let runs = app.call_ok(&admin, "import_runs", &[]).await;
    assert!(!runs.to_string().contains("Zandra"), "{runs}");
    assert!(runs[0]["outcome"].as_str().expect("outcome").contains("resources"), "the counts are still there");
    assert_eq!(app.call_ok(&clerk, "import_runs", &[]).await[0]["source"], "Zandra_OHara.json");
}
