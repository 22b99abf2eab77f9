//! The access context: a patient reads only their own record, another patient's record answers
//! 404 exactly like a missing one, staff work the registry, administrators read no records, and
//! every read and change is audited.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app};

async fn body(app: &TestApp, client: &reqwest::Client, endpoint: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = app.call(client, endpoint, fields).await;
    (response.status().as_u16(), response.text().await.expect("body"))
}

#[tokio::test]
async fn a_patient_reads_their_own_record_and_never_another_patients() {
    let app = spawn_app().await;
    let own = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let other = app.create_patient("MRN-2", "Nguyen", "1990-01-01").await;
    let ana = app.create_user("ana@example.org", &[Role::Patient], Some(&own)).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;

    let record = app.call_ok(&client, "my_record", &[]).await;
    assert_eq!(record["id"], own.as_str());
    assert_eq!(record["family_name"], "Lopez");
    let direct = app.call_ok(&client, "patient", &[("id", &own)]).await;
    assert_eq!(direct["mrn"], "MRN-1");

    let (status, another) = body(&app, &client, "patient", &[("id", &other)]).await;
    let (missing_status, missing) = body(&app, &client, "patient", &[("id", "00000000-0000-0000-0000-000000000000")]).await;
    assert_eq!(status, 404);
    assert_eq!((status, &another), (missing_status, &missing), "another patient's record looks missing");
    assert!(!another.contains("Nguyen"));

    // Search and creation are staff work: refused as 404 too.
    assert_eq!(body(&app, &client, "search_patients", &[("q", "Nguyen")]).await.0, 404);

    let reads = app.audit("patient_read", "success").await;
    assert_eq!(reads.len(), 2);
    assert!(reads.iter().all(|r| r.patient_id.as_deref() == Some(own.as_str()) && r.actor_user_id.as_deref() == Some(ana.id.as_str())));
    let denied = app.audit("patient_read", "denied").await;
    assert_eq!(denied.len(), 2, "the other patient's and the missing id alike");
    assert_eq!(denied[0].patient_id.as_deref(), Some(other.as_str()));
    assert_eq!(app.audit("patient_search", "denied").await.len(), 1);
}

#[tokio::test]
async fn an_unverified_account_sees_no_record() {
    let app = spawn_app().await;
    app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("new@example.org", &[], None).await;
    let client = app.new_client();
    app.login_as(&client, "new@example.org").await;
    assert_eq!(app.call_ok(&client, "my_record", &[]).await, serde_json::Value::Null);
    assert_eq!(body(&app, &client, "search_patients", &[("q", "Lopez")]).await.0, 404);
}

#[tokio::test]
async fn signed_out_callers_get_401_and_no_data() {
    let app = spawn_app().await;
    let id = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    let client = app.new_client();
    let (status, text) = body(&app, &client, "patient", &[("id", &id)]).await;
    assert_eq!(status, 401);
    assert!(!text.contains("Lopez"));
    assert_eq!(body(&app, &client, "my_record", &[]).await.0, 401);
}

#[tokio::test]
async fn him_staff_search_create_and_read_patients() {
    let app = spawn_app().await;
    app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_patient("MRN-2", "Lopes", "1990-01-01").await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await;

    let found = app.call_ok(&client, "search_patients", &[("q", "lop")]).await;
    assert_eq!(found.as_array().expect("array").len(), 2);
    let by_mrn = app.call_ok(&client, "search_patients", &[("q", "mrn-2")]).await;
    assert_eq!(by_mrn[0]["family_name"], "Lopes");
    let by_birth = app.call_ok(&client, "search_patients", &[("q", "lop"), ("birth_date", "1984-03-07")]).await;
    assert_eq!(by_birth.as_array().expect("array").len(), 1);
    // LIKE wildcards are searched literally, not as patterns.
    let wildcard = app.call_ok(&client, "search_patients", &[("q", "%")]).await;
    assert!(wildcard.as_array().expect("array").is_empty());

    let created = app
        .call_ok(&client, "create_patient", &[
            ("form[mrn]", "mrn-3"),
            ("form[family_name]", "Okafor"),
            ("form[given_names]", "Chidi"),
            ("form[birth_date]", "2001-12-31"),
            ("form[sex]", "male"),
            ("form[phone]", ""),
            ("form[email]", ""),
            ("form[deceased_date]", ""),
        ])
        .await;
    assert_eq!(created["mrn"], "MRN-3");
    let id = created["id"].as_str().expect("id");
    assert_eq!(app.call_ok(&client, "patient", &[("id", id)]).await["family_name"], "Okafor");

    let creates = app.audit("patient_create", "success").await;
    assert_eq!(creates.last().and_then(|r| r.patient_id.clone()).as_deref(), Some(id));
    let searches = app.audit("patient_search", "success").await;
    assert_eq!(searches.len(), 4);
    assert_eq!(searches[0].detail.as_deref(), Some("results=2"), "the count is audited, never the terms");
}

#[tokio::test]
async fn bad_patient_forms_are_refused_field_by_field_and_write_nothing() {
    let app = spawn_app().await;
    app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await;
    let creates_before = app.audit("patient_create", "success").await.len();

    let fields = |mrn: &'static str, birth: &'static str| {
        vec![
            ("form[mrn]", mrn),
            ("form[family_name]", "Okafor"),
            ("form[given_names]", "Chidi"),
            ("form[birth_date]", birth),
            ("form[sex]", "male"),
            ("form[phone]", ""),
            ("form[email]", ""),
            ("form[deceased_date]", ""),
        ]
    };
    let (status, text) = body(&app, &client, "create_patient", &fields("MRN 9", "2999-01-01")).await;
    assert_eq!(status, 422);
    assert!(text.contains("\"field\":\"mrn\"") && text.contains("\"field\":\"birth_date\""), "{text}");

    let (status, text) = body(&app, &client, "create_patient", &fields("mrn-1", "1999-01-01")).await;
    assert_eq!(status, 422, "a duplicate record number is the person's mistake, not a crash");
    assert!(text.contains("already has this medical record number"), "{text}");
    assert_eq!(app.audit("patient_create", "success").await.len(), creates_before);
}

#[tokio::test]
async fn administrators_manage_accounts_but_cannot_read_records() {
    let app = spawn_app().await;
    let id = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_user("root@example.org", &[Role::Administrator], None).await;
    let client = app.new_client();
    app.login_as(&client, "root@example.org").await;
    assert_eq!(body(&app, &client, "patient", &[("id", &id)]).await.0, 404);
    assert_eq!(body(&app, &client, "search_patients", &[("q", "Lopez")]).await.0, 404);
}
