//! Concurrency attacks against the real server: 200 wrong second-factor codes and 200 wrong
//! passcodes sent at once are each checked exactly the threshold's number of times before the
//! lock; two clerks deciding one request at once leave one decision; two administrators
//! demoting each other at once leave one administrator.

use crate::kill::{LEON, count, signed_in};
use crate::portal::{Portal, call, env_of};
use app::backend::auth::totp;
use app::domain::Role;
use portal_tests::{PASSWORD, spawn_app_with};
use tokio::task::JoinSet;

const THRESHOLD: i32 = 5;

/// Sends the same form 200 times at once; returns each answer's status and `location`.
async fn at_once(client: &reqwest::Client, url: String, forms: Vec<Vec<(String, String)>>) -> Vec<(u16, String)> {
    let mut tasks = JoinSet::new();
    for form in forms {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let response = client.post(url).header("accept", "application/json").form(&form).send().await.expect("answered");
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            (response.status().as_u16(), location)
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = tasks.join_next().await {
        answers.push(done.expect("a task"));
    }
    answers
}

pub async fn run() -> String {
    let app = spawn_app_with(|s| {
        s.lockout_threshold = THRESHOLD;
        s.auth_rate_limit_per_minute = 100_000;
    })
    .await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let sue = signed_in(&app, "sue@example.org", &[Role::HimStaff], None).await;
    let portal = Portal::start(env_of(&app.settings)).await;

    // 1. 200 wrong second-factor codes at once, on a sign-in waiting for its second step.
    let phone = app.new_client();
    let (status, _) = call(&phone, &portal, "sign_in", &[("email", "sam@example.org"), ("password", PASSWORD)]).await.expect("answered");
    assert!(status == 200 || status == 302, "the password step: {status}");
    let secret = app.authenticators.lock().expect("lock").get("sam@example.org").cloned().expect("sam's authenticator");
    let now = totp::step_at(app::backend::db::now_ms() / 1000);
    let right: Vec<String> = (now - 2..=now + 2).map(|s| format!("{:06}", totp::hotp(&secret, s as u64))).collect();
    let codes: Vec<Vec<(String, String)>> = (0..300).map(|n| format!("{:06}", 100_000 + n)).filter(|c| !right.contains(c)).take(200).map(|c| vec![("code".to_string(), c)]).collect();
    let answers = at_once(&phone, portal.url("/api/verify_second_factor"), codes).await;
    let checked = answers.iter().filter(|(s, _)| *s == 422).count();
    let locked = answers.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!((checked, locked), (THRESHOLD as usize, 200 - THRESHOLD as usize), "codes: {answers:?}");
    let recorded = app.audit("mfa_challenge", "failure").await.into_iter().filter(|r| r.detail.as_deref() == Some("invalid_code")).count();
    assert_eq!(recorded, THRESHOLD as usize, "failures recorded");

    // 2. 200 wrong passcodes at once on a copy sent to someone else.
    let fields = portal_tests::third_party_fields(&[("scope", "problems")]);
    let id = app.call_ok(&leon, "submit_request", &fields).await["id"].as_str().expect("id").to_string();
    for step in ["start_identity_check", "identity_verified"] {
        app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step)]).await;
    }
    app.call_ok(&sam, "decide_request", &[("id", &id), ("decision", "approve")]).await;
    app.call_ok(&sam, "release_copy", &[("id", &id)]).await;
    let share = app.call_ok(&leon, "request_detail", &[("id", &id)]).await["share"].clone();
    let url = share["url"].as_str().expect("a link").to_string();
    let path = &url[url.find("/shared/").expect("a shared path")..];
    let passcode: String = share["passcode"].as_str().expect("a passcode").chars().filter(char::is_ascii_digit).collect();
    let guesses: Vec<Vec<(String, String)>> = (0..201u32)
        .map(|n| format!("{:0width$}", n, width = passcode.len()))
        .filter(|g| *g != passcode)
        .take(200)
        .map(|g| vec![("passcode".to_string(), g), ("kind".to_string(), "pdf".to_string())])
        .collect();
    let recipient = app.new_client();
    let answers = at_once(&recipient, portal.url(path), guesses).await;
    let wrong = answers.iter().filter(|(_, l)| l.contains("error=wrong-")).count();
    let locked_out = answers.iter().filter(|(_, l)| l.contains("error=locked")).count();
    assert_eq!((wrong, locked_out), (THRESHOLD as usize - 1, 200 - (THRESHOLD as usize - 1)), "passcodes: {answers:?}");
    let tried = count(&app, "SELECT COUNT(*) FROM audit_event WHERE detail LIKE 'shared link: wrong passcode%'").await;
    assert_eq!(tried, i64::from(THRESHOLD), "passcodes checked");

    // 3. Two clerks deciding one request at the same moment, ten times over.
    let mut one_each = 0;
    for _ in 0..10 {
        let id = app.call_ok(&leon, "submit_request", &[("scope", "problems"), ("pdf", "on")]).await["id"].as_str().expect("id").to_string();
        for step in ["start_identity_check", "identity_verified"] {
            app.call_ok(&sam, "advance_request", &[("id", &id), ("step", step)]).await;
        }
        let (approve, deny) = ([("id", id.as_str()), ("decision", "approve")], [("id", id.as_str()), ("decision", "deny"), ("ground", "danger_to_life_or_safety")]);
        let (first, second) = tokio::join!(call(&sam, &portal, "decide_request", &approve), call(&sue, &portal, "decide_request", &deny));
        let mut statuses = [first.expect("answered").0, second.expect("answered").0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "one decision wins, the other is told: {statuses:?}");
        assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM release_decision WHERE request_id = '{id}'")).await, 1, "one decision stored");
        let decided = count(&app, &format!("SELECT COUNT(*) FROM release_event WHERE request_id = '{id}' AND to_status IN ('approved', 'denied')")).await;
        assert_eq!(decided, 1, "one decision on the timeline");
        one_each += 1;
    }

    // 4. Two administrators demoting each other at the same moment.
    let (ada_id, bob_id) = (
        app.create_user("ada@example.org", &[Role::Administrator], None).await.id,
        app.create_user("bob@example.org", &[Role::Administrator], None).await.id,
    );
    let (ada, bob) = (app.new_client(), app.new_client());
    app.login_as(&ada, "ada@example.org").await;
    app.login_as(&bob, "bob@example.org").await;
    let demote_bob = [("user_id", bob_id.as_str()), ("role", "administrator"), ("grant", "false")];
    let demote_ada = [("user_id", ada_id.as_str()), ("role", "administrator"), ("grant", "false")];
    let (first, second) = tokio::join!(call(&ada, &portal, "set_user_role", &demote_bob), call(&bob, &portal, "set_user_role", &demote_ada));
    let (first, second) = (first.expect("answered").0, second.expect("answered").0);
    let administrators = count(&app, "SELECT COUNT(*) FROM user_role r JOIN app_user u ON u.id = r.user_id WHERE r.role = 'administrator' AND u.status = 'active'").await;
    assert_eq!(administrators, 1, "one administrator remains ({first}, {second})");

    format!(
        "200 wrong codes: {checked} checked, {locked} refused as locked; 200 wrong passcodes: {tried} checked, {locked_out} refused as locked; two clerks deciding at once ×{one_each}: one decision each time; two administrators demoting each other: answers {first} and {second}, {administrators} administrator left"
    )
}
