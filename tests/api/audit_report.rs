//! The audit report (ONC 170.315(d)(3)): administrators filter by period, user, patient and
//! action, sort, and download CSV; nobody else can read it; reading it is itself audited.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app};

/// A patient who read their record, and an administrator signed in.
async fn scene() -> (TestApp, reqwest::Client) {
    let app = spawn_app().await;
    let own = app.create_patient("MRN-1", "Lopez", "1984-03-07").await;
    app.create_patient("MRN-2", "Nguyen", "1990-01-01").await;
    app.create_user("ana@example.org", &[Role::Patient], Some(&own)).await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    app.call_ok(&ana, "my_record", &[]).await;
    app.create_user("root@example.org", &[Role::Administrator], None).await;
    let admin = app.new_client();
    app.login_as(&admin, "root@example.org").await;
    (app, admin)
}

fn form<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    let mut fields: Vec<(String, &str)> = ["from", "to", "user", "patient", "action", "sort", "dir"]
        .iter()
        .map(|k| (format!("form[{k}]"), ""))
        .collect();
    for (k, v) in pairs {
        if let Some(f) = fields.iter_mut().find(|(name, _)| name == &format!("form[{k}]")) {
            f.1 = v;
        }
    }
    fields
}

async fn report(app: &TestApp, client: &reqwest::Client, pairs: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let fields = form(pairs);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    app.call_ok(client, "audit_report", &borrowed).await.as_array().expect("array").clone()
}

#[tokio::test]
async fn administrators_filter_the_report_by_user_patient_action_and_period() {
    let (app, admin) = scene().await;
    let all = report(&app, &admin, &[]).await;
    assert!(all.len() >= 8, "{}", all.len());
    assert!(all.windows(2).all(|w| w[0]["seq"].as_i64() > w[1]["seq"].as_i64()), "newest first");

    let reads = report(&app, &admin, &[("patient", "mrn-1"), ("action", "patient_read")]).await;
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["user"], "ana@example.org");
    assert_eq!(reads[0]["patient"], "MRN-1");
    assert_eq!(reads[0]["outcome"], "success");

    let by_user = report(&app, &admin, &[("user", "ANA@example.org")]).await;
    assert!(by_user.iter().all(|r| r["user"] == "ana@example.org"));
    assert!(by_user.iter().any(|r| r["action"] == "login"));
    assert!(report(&app, &admin, &[("user", "nobody@example.org")]).await.is_empty());
    assert!(report(&app, &admin, &[("patient", "MRN-2"), ("action", "patient_read")]).await.is_empty(), "nobody read MRN-2");
    assert_eq!(report(&app, &admin, &[("patient", "MRN-2")]).await.len(), 1, "its creation");

    let today = app::domain::format_utc_seconds(app::backend::db::now_ms())[..10].to_string();
    let todays = report(&app, &admin, &[("from", &today), ("to", &today)]).await.len();
    let everything = report(&app, &admin, &[]).await.len();
    assert_eq!(todays + 1, everything, "today's events are all of them (plus the read of today's)");
    assert!(report(&app, &admin, &[("from", "2000-01-01"), ("to", "2000-12-31")]).await.is_empty());

    let by_action = report(&app, &admin, &[("sort", "action"), ("dir", "asc")]).await;
    let actions: Vec<&str> = by_action.iter().map(|r| r["action"].as_str().expect("text")).collect();
    let mut sorted = actions.clone();
    sorted.sort();
    assert_eq!(actions, sorted);

    let reads = app.audit("audit_report_read", "success").await;
    assert!(reads.len() >= 8, "each report read is audited");
}

#[tokio::test]
async fn bad_filters_are_refused_by_field() {
    let (app, admin) = scene().await;
    let fields = form(&[("from", "2026-12-01"), ("to", "2026-11-01")]);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let response = app.call(&admin, "audit_report", &borrowed).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("body").contains("\"field\":\"to\""));
}

#[tokio::test]
async fn only_administrators_read_the_report() {
    let (app, _) = scene().await;
    let ana = app.new_client();
    app.login_as(&ana, "ana@example.org").await;
    let fields = form(&[]);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(app.call(&ana, "audit_report", &borrowed).await.status(), 404);
    assert_eq!(ana.get(app.url("/admin/audit.csv")).send().await.expect("sent").status(), 404);
    assert_eq!(app.new_client().get(app.url("/admin/audit.csv")).send().await.expect("sent").status(), 401);
    assert_eq!(app.audit("audit_report_read", "denied").await.len(), 1);
    assert_eq!(app.audit("audit_export", "denied").await.len(), 1);
}

#[tokio::test]
async fn the_csv_download_matches_the_filters_and_is_not_cached() {
    let (app, admin) = scene().await;
    let response = admin
        .get(app.url("/admin/audit.csv?patient=MRN-1&action=patient_read&sort=time&dir=desc"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers()["content-disposition"].to_str().expect("ASCII").starts_with("attachment"));
    let csv = response.text().await.expect("body");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "sequence,time_utc,user,on_behalf_of,patient_mrn,action,entity,outcome,detail,client_address,request_id");
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains(",ana@example.org,,MRN-1,patient_read,"), "{}", lines[1]);
    assert_eq!(app.audit("audit_export", "success").await.len(), 1);

    let bad = admin.get(app.url("/admin/audit.csv?from=not-a-date")).send().await.expect("sent");
    assert_eq!(bad.status(), 422);
}
