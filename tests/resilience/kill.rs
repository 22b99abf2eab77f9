//! kill -9 of the server during 100 concurrent copy requests and 20 concurrent releases: every
//! acknowledged request is there after the restart, no release is half-written (files without
//! their audit event or timeline step, or the reverse), a retry of a request whose answer was
//! lost files it once (the form's idempotency key), and `portal verify-audit` passes.

use crate::portal::{Portal, call, env_of, run_command};
use app::domain::Role;
use portal_tests::{TestApp, spawn_app_with};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;

pub const LEON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json");

/// A client signed in (through the in-process server: sessions live in the shared database, so
/// the cookie works on every server on 127.0.0.1).
pub async fn signed_in(app: &TestApp, email: &str, roles: &[Role], patient: Option<&str>) -> reqwest::Client {
    app.create_user(email, roles, patient).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    client
}

/// One number from a query on the app's database.
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    portal_tests::count(&app.db, sql).await
}

/// A request approved and waiting for its release.
async fn approved(app: &TestApp, patient: &reqwest::Client, staff: &reqwest::Client) -> String {
    let id = app.call_ok(patient, "submit_request", &[("scope", "problems"), ("pdf", "on"), ("fhir", "on")]).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(staff, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    app.call_ok(staff, "decide_request", &[("id", &id), ("decision", "approve")]).await;
    id
}

/// Sends a release of each request at once; each task tells whether it was acknowledged.
fn fire_releases(staff: &reqwest::Client, base: &Arc<String>, ids: &[String], acked: &Arc<AtomicUsize>) -> JoinSet<(String, bool)> {
    let mut tasks = JoinSet::new();
    for id in ids {
        let (client, base, id, acked) = (staff.clone(), base.clone(), id.clone(), acked.clone());
        tasks.spawn(async move {
            let answer = client.post(format!("{base}/api/release_copy")).header("accept", "application/json").form(&[("id", id.as_str())]).send().await;
            let ok = matches!(&answer, Ok(r) if r.status().is_success());
            if ok {
                acked.fetch_add(1, Ordering::SeqCst);
            }
            (id, ok)
        });
    }
    tasks
}

/// The acknowledged releases, once every task has ended.
async fn collect(tasks: &mut JoinSet<(String, bool)>) -> Vec<String> {
    let mut acknowledged = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (id, ok) = done.expect("a release task");
        if ok {
            acknowledged.push(id);
        }
    }
    acknowledged
}

/// Each release is whole (its two files, its audit event, its timeline step, its status) or
/// absent, every acknowledged one is whole, and the absent ones are released again now. Returns
/// how many were whole before.
async fn releases_whole_or_absent(app: &TestApp, staff: &reqwest::Client, portal: &Portal, ids: &[String], acknowledged: &[String]) -> usize {
    let mut whole = 0;
    for id in ids {
        let files = count(app, &format!("SELECT COUNT(*) FROM release_file WHERE request_id = '{id}'")).await;
        let events = count(app, &format!("SELECT COUNT(*) FROM audit_event WHERE entity_id = '{id}' AND action = 'release_request' AND outcome = 'success' AND detail LIKE 'files %'")).await;
        let steps = count(app, &format!("SELECT COUNT(*) FROM release_event WHERE request_id = '{id}' AND to_status = 'released'")).await;
        let status = count(app, &format!("SELECT COUNT(*) FROM release_request WHERE id = '{id}' AND status = 'released'")).await;
        let found = (files, events, steps, status);
        assert!(found == (2, 1, 1, 1) || found == (0, 0, 0, 0), "release {id} is half-written: {files} files, {events} events, {steps} steps, released {status}");
        assert!(status == 1 || !acknowledged.contains(id), "acknowledged release {id} is lost");
        if status == 1 {
            whole += 1;
        } else {
            let (code, body) = call(staff, portal, "release_copy", &[("id", id)]).await.expect("answered");
            assert_eq!(code, 200, "releasing again after the restart: {body}");
        }
    }
    whole
}

pub async fn run() -> String {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 100_000).await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let mut releases = Vec::new();
    for _ in 0..20 {
        releases.push(approved(&app, &leon, &sam).await);
    }
    let mut portal = Portal::start(env_of(&app.settings)).await;
    let portal_ref = Arc::new(portal.address.clone());

    // 20 releases and 100 copy requests at once; the server is killed once 30 requests and one
    // release were acknowledged.
    let (requests_acked, releases_acked) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut release_tasks = fire_releases(&sam, &portal_ref, &releases, &releases_acked);
    let mut request_tasks = JoinSet::new();
    for _ in 0..100 {
        let (client, base, acked) = (leon.clone(), portal_ref.clone(), requests_acked.clone());
        let key = uuid::Uuid::new_v4().to_string();
        request_tasks.spawn(async move {
            let answer = async {
                let response = client
                    .post(format!("{base}/api/submit_request"))
                    .header("accept", "application/json")
                    .form(&[("scope", "all"), ("pdf", "on"), ("idempotency_key", key.as_str())])
                    .send()
                    .await?;
                let status = response.status();
                Ok::<_, reqwest::Error>((status, response.text().await?))
            }
            .await;
            let id = match answer {
                Ok((status, body)) if status.is_success() => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["id"].as_str().map(str::to_string))
                }
                Ok((status, body)) => panic!("a copy request answered {status}: {body}"),
                Err(_) => None,
            };
            (key, id)
        });
    }
    let waited = tokio::time::timeout(Duration::from_secs(300), async {
        while requests_acked.load(Ordering::SeqCst) < 30 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "30 requests were not acknowledged within 5 minutes");
    portal.kill9();
    let acked_at_kill = (requests_acked.load(Ordering::SeqCst), releases_acked.load(Ordering::SeqCst));

    let mut answered = Vec::new();
    let mut lost = Vec::new();
    while let Some(done) = request_tasks.join_next().await {
        match done.expect("a request task") {
            (key, Some(id)) => answered.push((key, id)),
            (key, None) => lost.push(key),
        }
    }
    let released_acked = collect(&mut release_tasks).await;

    // After the restart: every acknowledged request is there.
    portal.restart().await;
    for (_, id) in &answered {
        assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM release_request WHERE id = '{id}'")).await, 1, "acknowledged request {id} is lost");
    }
    let in_list = |keys: &[String]| keys.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(",");
    let committed_unanswered = if lost.is_empty() { 0 } else { count(&app, &format!("SELECT COUNT(*) FROM release_request WHERE idempotency_key IN ({})", in_list(&lost))).await };
    // The client retries what got no answer, with the same key: filed once, whatever happened.
    for key in &lost {
        let (status, body) = call(&leon, &portal, "submit_request", &[("scope", "all"), ("pdf", "on"), ("idempotency_key", key)]).await.expect("the retry is answered");
        assert_eq!(status, 200, "retry: {body}");
    }
    let all_keys: Vec<String> = answered.iter().map(|(k, _)| k.clone()).chain(lost.iter().cloned()).collect();
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM release_request WHERE idempotency_key IN ({})", in_list(&all_keys))).await, 100, "each of the 100 keys filed exactly once");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM release_request WHERE patient_id = '{patient}'")).await, 120, "nothing filed twice");

    let whole_before = releases_whole_or_absent(&app, &sam, &portal, &releases, &released_acked).await;

    // A second round: 20 more releases, the server killed once 10 were acknowledged.
    let mut more = Vec::new();
    for _ in 0..20 {
        more.push(approved(&app, &leon, &sam).await);
    }
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = fire_releases(&sam, &portal_ref, &more, &acked);
    let waited = tokio::time::timeout(Duration::from_secs(300), async {
        while acked.load(Ordering::SeqCst) < 10 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "10 releases were not acknowledged within 5 minutes");
    portal.kill9();
    let second_acked = collect(&mut tasks).await;
    portal.restart().await;
    let second_whole = releases_whole_or_absent(&app, &sam, &portal, &more, &second_acked).await;
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM release_request WHERE patient_id = '{patient}' AND status = 'released'")).await, 40);

    let (intact, report) = run_command(portal.env(), &["verify-audit"]);
    assert!(intact, "portal verify-audit: {report}");
    format!(
        "killed after {} acknowledged requests ({} releases): 0 of {} acknowledged requests lost; {} of {} unanswered had been committed, and their retries filed none twice; 20 releases killed after 10 acknowledged: {} whole before the kill (first round {}), the rest released after the restart, 0 half-written; verify-audit: {}",
        acked_at_kill.0,
        acked_at_kill.1,
        answered.len(),
        committed_unanswered,
        lost.len(),
        second_whole,
        whole_before,
        report.trim()
    )
}
