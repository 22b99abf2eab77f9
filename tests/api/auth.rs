//! Password sign-in, lock-out, session id rotation, time-outs, sign-out everywhere, the session
//! list, password changes and role changes: each through the real endpoints, each checked in the
//! audit trail.

use app::backend::auth::users;
use app::backend::entities::login_session;
use app::backend::request::RequestMeta;
use app::domain::Role;
use portal_tests::{PASSWORD, spawn_app, spawn_app_with};
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, QueryFilter, ColumnTrait};
use server::startup::SESSION_COOKIE;

fn session_cookie_value(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

/// Makes every open sign-in look idle for `minutes` (as if nobody had touched it since).
async fn idle_for(app: &portal_tests::TestApp, minutes: i64) {
    login_session::Entity::update_many()
        .col_expr(login_session::Column::LastSeenMs, Expr::value(app::backend::db::now_ms() - minutes * 60_000))
        .exec(&app.db)
        .await
        .expect("update");
}

#[tokio::test]
async fn a_patient_signs_in_and_out_and_both_are_audited() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    assert_eq!(app.me(&client).await, None);

    let response = app.sign_in(&client, "  Ana@Example.org ", PASSWORD).await;
    assert_eq!(response.status(), 200, "the page's client follows the redirect header");
    // A patient lands on their record (issue 15: not on the account page).
    assert!(response.headers()["location"].to_str().expect("ASCII").ends_with("/record"));
    let me = app.me(&client).await.expect("signed in");
    assert_eq!(me["email"], "ana@example.org");
    assert_eq!(me["roles"], serde_json::json!(["patient"]));

    let logins = app.audit("login", "success").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].actor_user_id.as_deref(), Some(user.id.as_str()));
    assert!(logins[0].client_address.as_deref().is_some_and(|a| a.starts_with("127.")));
    assert!(logins[0].request_id.as_deref().is_some_and(|r| r.len() == 32));

    let response = app.call(&client, "sign_out", &[]).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(app.me(&client).await, None);
    assert_eq!(app.audit("logout", "success").await.len(), 1);
}

#[tokio::test]
async fn sign_in_gives_the_browser_a_new_session_id() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    // A session exists before sign-in (the privacy reminder was dismissed).
    let before = app.call(&client, "dismiss_privacy_notice", &[]).await;
    let planted = session_cookie_value(&before).expect("a session before sign-in");

    let response = app.sign_in(&client, "ana@example.org", PASSWORD).await;
    let after = session_cookie_value(&response).expect("sign-in sets the cookie");
    assert_ne!(planted, after, "session fixation: the pre-sign-in id must not survive");

    // The planted id is worthless: a browser holding only it is not signed in.
    let attacker = reqwest::Client::builder().build().expect("client");
    let answer = attacker
        .post(app.url("/api/me"))
        .header("cookie", format!("{SESSION_COOKIE}={planted}"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert_eq!(answer, "null");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();

    let wrong = app.sign_in(&client, "ana@example.org", "not the password at all").await;
    let (wrong_status, wrong_body) = (wrong.status(), wrong.text().await.expect("body"));
    let unknown = app.sign_in(&client, "nobody@example.org", "not the password at all").await;
    let (unknown_status, unknown_body) = (unknown.status(), unknown.text().await.expect("body"));

    assert_eq!(wrong_status, 401);
    assert_eq!((wrong_status, &wrong_body), (unknown_status, &unknown_body));
    assert!(wrong_body.contains("invalid_credentials"), "{wrong_body}");
    assert_eq!(app.me(&client).await, None);
    let failures = app.audit("login", "failure").await;
    let details: Vec<_> = failures.iter().map(|r| r.detail.clone().unwrap_or_default()).collect();
    assert_eq!(details, vec!["wrong_password", "unknown_account"]);
}

#[tokio::test]
async fn repeated_failures_lock_the_email_whether_or_not_it_has_an_account() {
    let app = spawn_app_with(|s| s.lockout_threshold = 3).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();

    for email in ["ana@example.org", "nobody@example.org"] {
        for _ in 0..3 {
            assert_eq!(app.sign_in(&client, email, "a wrong password here").await.status(), 401);
        }
        // Locked now: even the right password is refused, and the answer is the same for both.
        let locked = app.sign_in(&client, email, PASSWORD).await;
        assert_eq!(locked.status(), 429, "{email}");
        let body = locked.text().await.expect("body");
        assert!(body.contains("\"kind\":\"locked\""), "{body}");
        assert!(body.contains("\"retry_after_secs\":60"), "{body}");
    }
    assert_eq!(app.me(&client).await, None);
    assert_eq!(app.audit("login", "failure").await.iter().filter(|r| r.detail.as_deref() == Some("locked")).count(), 2);
    assert!(app.audit("login", "success").await.is_empty());
}

#[tokio::test]
async fn one_client_address_failing_on_many_emails_is_locked_too() {
    let app = spawn_app_with(|s| s.lockout_address_threshold = 4).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    for n in 0..4 {
        app.sign_in(&client, &format!("guess{n}@example.org"), "a wrong password here").await;
    }
    assert_eq!(app.sign_in(&client, "ana@example.org", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn absurd_input_is_refused_clearly_audited_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    let sessions_before = login_session::Entity::find().all(&app.db).await.expect("rows").len();

    let huge = "x".repeat(10_000);
    let response = app.sign_in(&client, "ana@example.org", &huge).await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.expect("body");
    assert!(body.contains("at most 128 characters"), "{body}");

    let long_email = format!("{}@example.org", "a".repeat(10_000));
    let response = app.sign_in(&client, &long_email, PASSWORD).await;
    assert_eq!(response.status(), 422);

    assert_eq!(app.sign_in(&client, "", PASSWORD).await.status(), 422);
    assert_eq!(login_session::Entity::find().all(&app.db).await.expect("rows").len(), sessions_before);
    assert_eq!(app.audit("login", "failure").await.len(), 3);
    assert_eq!(app.me(&client).await, None);
}

#[tokio::test]
async fn an_idle_session_times_out_says_why_and_is_audited() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let clock = app.call_ok(&client, "session_clock", &[]).await;
    let left = clock["idle_seconds_left"].as_i64().expect("number");
    assert!((29 * 60..=30 * 60).contains(&left), "patients get 30 minutes: {left}");
    assert_eq!(clock["warn_seconds"], 60);

    // 31 minutes without activity.
    idle_for(&app, 31).await;

    assert_eq!(app.me(&client).await, None);
    assert_eq!(app.call_ok(&client, "signed_out_reason", &[]).await, "idle");
    let timeouts = app.audit("session_timeout", "success").await;
    assert_eq!(timeouts.len(), 1);
    assert_eq!(timeouts[0].detail.as_deref(), Some("idle"));
    // Signing in again resumes.
    app.login_as(&client, "ana@example.org").await;
    assert!(app.me(&client).await.is_some());
}

#[tokio::test]
async fn staff_time_out_sooner_than_patients() {
    let app = spawn_app().await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await;
    let left = app.call_ok(&client, "session_clock", &[]).await["idle_seconds_left"].as_i64().expect("number");
    assert!((14 * 60..=15 * 60).contains(&left), "staff get 15 minutes: {left}");

    // 16 minutes idle ends a staff session (it would not end a patient's).
    idle_for(&app, 16).await;
    assert_eq!(app.me(&client).await, None);
}

#[tokio::test]
async fn the_status_poll_does_not_count_as_activity_but_staying_does() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    idle_for(&app, 10).await;

    let polled = app.call_ok(&client, "session_clock", &[]).await["idle_seconds_left"].as_i64().expect("number");
    assert!(polled <= 20 * 60, "{polled}");
    let stayed = app.call_ok(&client, "keep_alive", &[]).await["idle_seconds_left"].as_i64().expect("number");
    assert!(stayed >= 29 * 60, "{stayed}");
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_whatever_the_activity() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let row = login_session::Entity::find().one(&app.db).await.expect("query").expect("a session");
    assert_eq!(row.expires_at_ms - row.created_at_ms, 12 * 3_600_000, "12 hours by default");

    login_session::Entity::update_many()
        .col_expr(login_session::Column::ExpiresAtMs, Expr::value(app::backend::db::now_ms() - 1))
        .exec(&app.db)
        .await
        .expect("update");
    assert_eq!(app.me(&client).await, None);
    assert_eq!(app.call_ok(&client, "signed_out_reason", &[]).await, "absolute");
}

#[tokio::test]
async fn sessions_are_listed_and_signing_out_everywhere_ends_them_all() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let (phone, laptop) = (app.new_client(), app.new_client());
    app.login_as(&phone, "ana@example.org").await;
    app.login_as(&laptop, "ana@example.org").await;

    let list = app.call_ok(&phone, "my_sessions", &[]).await;
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["current"], true, "this device first");
    assert_eq!(list[1]["current"], false);

    // End the other device only.
    let other = list[1]["id"].as_str().expect("id").to_string();
    app.call_ok(&phone, "end_session", &[("id", &other)]).await;
    assert_eq!(app.me(&laptop).await, None);
    assert!(app.me(&phone).await.is_some());
    assert_eq!(app.audit("session_revoke", "success").await.len(), 1);

    // Someone else's session id cannot be ended from here.
    app.create_user("ben@example.org", &[Role::Patient], None).await;
    let ben = app.new_client();
    app.login_as(&ben, "ben@example.org").await;
    let bens = app.call_ok(&ben, "my_sessions", &[]).await[0]["id"].as_str().expect("id").to_string();
    assert_eq!(app.call(&phone, "end_session", &[("id", &bens)]).await.status(), 404);
    assert!(app.me(&ben).await.is_some());

    app.login_as(&laptop, "ana@example.org").await;
    app.call_ok(&phone, "sign_out_everywhere", &[]).await;
    assert_eq!(app.me(&phone).await, None);
    assert_eq!(app.me(&laptop).await, None);
    assert!(app.me(&ben).await.is_some(), "other people are not affected");
    assert_eq!(app.audit("sign_out_everywhere", "success").await.len(), 1);
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_the_policy_and_ends_other_sessions() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let (phone, laptop) = (app.new_client(), app.new_client());
    app.login_as(&phone, "ana@example.org").await;
    app.login_as(&laptop, "ana@example.org").await;

    let wrong = app.call(&phone, "change_password", &[("current_password", "not it at all"), ("new_password", "a brand new passphrase")]).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.expect("body").contains("current_password"));
    let common = app.call(&phone, "change_password", &[("current_password", PASSWORD), ("new_password", "qwertyuiop123")]).await;
    assert_eq!(common.status(), 422);
    assert!(common.text().await.expect("body").contains("too common"));
    let short = app.call(&phone, "change_password", &[("current_password", PASSWORD), ("new_password", "short")]).await;
    assert_eq!(short.status(), 422);

    app.call_ok(&phone, "change_password", &[("current_password", PASSWORD), ("new_password", "a brand new passphrase")]).await;
    assert!(app.me(&phone).await.is_some(), "this device stays signed in");
    assert_eq!(app.me(&laptop).await, None, "other devices are signed out");
    assert_eq!(app.sign_in(&laptop, "ana@example.org", PASSWORD).await.status(), 401);
    assert_eq!(app.sign_in(&laptop, "ana@example.org", "a brand new passphrase").await.status(), 200);
    assert_eq!(app.audit("password_change", "failure").await.len(), 1);
    assert_eq!(app.audit("password_change", "success").await.len(), 1);
}

#[tokio::test]
async fn a_role_change_is_audited_and_ends_the_users_sessions() {
    let app = spawn_app().await;
    let user = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let admin = app.create_user("root@example.org", &[Role::Administrator], None).await;
    let client = app.new_client();
    app.login_as(&client, "sam@example.org").await;

    let changed = users::set_role(&app.db, &user.id, Role::HimReviewer, true, Some(&admin.id), &RequestMeta::command_line())
        .await
        .expect("granted");
    assert!(changed);
    assert_eq!(app.me(&client).await, None, "new privileges need a new sign-in (and a new session id)");
    app.login_as(&client, "sam@example.org").await;
    assert_eq!(app.me(&client).await.expect("signed in")["roles"], serde_json::json!(["him_staff", "him_reviewer"]));

    let grants = app.audit("role_grant", "success").await;
    let last = grants.last().expect("a grant");
    assert_eq!(last.actor_user_id.as_deref(), Some(admin.id.as_str()));
    assert_eq!(last.entity_id.as_deref(), Some(user.id.as_str()));
    assert_eq!(last.detail.as_deref(), Some("role=him_reviewer"));

    let unchanged = users::set_role(&app.db, &user.id, Role::HimReviewer, true, None, &RequestMeta::command_line())
        .await
        .expect("no-op");
    assert!(!unchanged);
    let revoked = users::set_role(&app.db, &user.id, Role::HimReviewer, false, None, &RequestMeta::command_line())
        .await
        .expect("revoked");
    assert!(revoked);
    assert_eq!(app.audit("role_revoke", "success").await.len(), 1);
    let open = login_session::Entity::find()
        .filter(login_session::Column::RevokedAtMs.is_null())
        .all(&app.db)
        .await
        .expect("rows");
    assert!(open.is_empty());
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    let response = client
        .post(app.url("/api/sign_in"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "ana@example.org"), ("password", PASSWORD)])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 403);
    assert!(app.audit("login", "success").await.is_empty());

    let same_site = client
        .post(app.url("/api/sign_in"))
        .header("origin", app.address.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ana@example.org"), ("password", PASSWORD)])
        .send()
        .await
        .expect("sent");
    assert_eq!(same_site.status(), 200);
}

#[tokio::test]
async fn a_failed_sign_in_without_javascript_comes_back_to_the_form_with_the_error() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/sign_in"))
        .header("accept", "text/html")
        .header("referer", app.url("/sign-in"))
        .form(&[("email", "nobody@example.org"), ("password", "whatever it is")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert!(location.contains("/sign-in") && location.contains("__err="), "{location}");
    let page = app.client.get(location).send().await.expect("sent").text().await.expect("body");
    assert!(page.contains("The email address or password is not right"), "the error is rendered without JavaScript");
}

#[tokio::test]
async fn the_time_out_warnings_clock_is_what_ends_an_idle_session() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    idle_for(&app, 31).await;
    // The browser's countdown reached zero and asks the server, which ends the session.
    assert_eq!(app.call(&client, "session_clock", &[]).await.status(), 401);
    assert_eq!(app.call_ok(&client, "signed_out_reason", &[]).await, "idle");
    assert_eq!(app.audit("session_timeout", "success").await.len(), 1);
}

#[tokio::test]
async fn sign_ins_nobody_comes_back_to_are_ended_and_audited_in_the_background() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let (left_open, active) = (app.new_client(), app.new_client());
    app.login_as(&left_open, "ana@example.org").await;
    app.login_as(&active, "ana@example.org").await;
    let rows = login_session::Entity::find().all(&app.db).await.expect("rows");
    let past = app::backend::db::now_ms() - 45 * 60_000;
    login_session::Entity::update_many()
        .col_expr(login_session::Column::LastSeenMs, Expr::value(past))
        .filter(login_session::Column::Id.eq(rows[0].id.clone()))
        .exec(&app.db)
        .await
        .expect("update");

    let ended = app::backend::auth::sessions::sweep(&app.db, &app.settings.auth_config()).await.expect("sweep");
    assert_eq!(ended, 1);
    let timeouts = app.audit("session_timeout", "success").await;
    assert_eq!(timeouts.len(), 1);
    assert_eq!(timeouts[0].entity_id.as_deref(), Some(rows[0].id.as_str()));
    assert_eq!(app::backend::auth::sessions::sweep(&app.db, &app.settings.auth_config()).await.expect("sweep"), 0, "once");
}

#[tokio::test]
async fn the_cookie_session_outlives_the_idle_time_out_so_the_reason_can_be_shown() {
    let app = spawn_app_with(|s| s.patient_idle_minutes = 1).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let store = app::backend::session_store::SeaOrmSessionStore::new(app.db.clone(), app.settings.file_keys().derive(app::backend::session_store::SESSION_ID_PURPOSE));
    assert_eq!(store.count().await.expect("count"), 1);
    // The cookie session expires after the absolute limit of inactivity, not after one minute.
    let rows: Vec<(String, i64)> = {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = app.db.get_database_backend();
        app.db
            .query_all_raw(Statement::from_string(backend, "SELECT id, expires_at FROM tower_session"))
            .await
            .expect("rows")
            .into_iter()
            .map(|r| (r.try_get::<String>("", "id").expect("id"), r.try_get::<i64>("", "expires_at").expect("expiry")))
            .collect()
    };
    let now_secs = app::backend::db::now_ms() / 1000;
    assert!(rows[0].1 - now_secs > 11 * 3600, "{} s", rows[0].1 - now_secs);
}

#[tokio::test]
async fn bursts_of_sign_in_attempts_from_one_address_are_rate_limited() {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 3).await;
    let client = app.new_client();
    for _ in 0..3 {
        assert_eq!(app.sign_in(&client, "nobody@example.org", "a wrong password here").await.status(), 401);
    }
    let limited = app.sign_in(&client, "nobody@example.org", "a wrong password here").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers()["retry-after"].to_str().expect("ASCII").parse::<u64>().expect("seconds") >= 1);
    assert!(limited.text().await.expect("body").contains("\"kind\":\"rate_limited\""));
    // Other pages are not limited.
    assert_eq!(app.get("/sign-in").await.status(), 200);
}

#[tokio::test]
async fn times_are_shown_in_the_hospitals_time_zone_as_a_readable_date() {
    // `time_zone`: a patient in Chicago reads "Dec 1, 2026, 6:30 PM CST", not "... UTC".
    let app = spawn_app_with(|s| s.time_zone = "America/Chicago".to_string()).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let list = app.call_ok(&client, "my_sessions", &[]).await;
    let started = list[0]["started"].as_str().expect("a time").to_string();
    assert!(started.ends_with(" CST") || started.ends_with(" CDT"), "{started}");
    assert!(!started.contains("UTC"), "{started}");
    let (month, _) = started.split_once(' ').expect("a month first");
    assert!(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].contains(&month), "{started}");

    // An unknown zone stops start-up, naming the setting.
    let settings = server::settings::Settings { time_zone: "Mars/Olympus".to_string(), ..Default::default() };
    let error = settings.validate().expect_err("refused").to_string();
    assert!(error.contains("PORTAL_TIME_ZONE") || error.contains("time_zone"), "{error}");
}

/// Scale (issue 21): a page writes neither the sign-in's row nor the cookie session's row unless
/// its time moved by a minute or more; the idle limit still counts from the last request.
#[tokio::test]
async fn pages_write_the_session_rows_at_most_once_a_minute() {
    let app = spawn_app().await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    let rows = || async {
        let login = login_session::Entity::find().one(&app.db).await.expect("row").expect("a sign-in");
        let cookie = portal_tests::count(&app.db, "SELECT MAX(expires_at) FROM tower_session").await;
        (login.last_seen_ms, cookie)
    };
    assert!(app.me(&client).await.is_some());
    let before = rows().await;
    for _ in 0..5 {
        assert!(app.me(&client).await.is_some(), "still signed in");
    }
    assert_eq!(rows().await, before, "five pages, no session write");

    // Two minutes later (the row backdated), the next page writes the sign-in's time again.
    idle_for(&app, 2).await;
    assert!(app.me(&client).await.is_some(), "two minutes idle is within the limit");
    let after = rows().await.0;
    assert!(app::backend::db::now_ms() - after < 5_000, "last_seen_ms written again: {after}");

    // Past the idle limit, the sign-in ends as before, whatever this server remembers.
    idle_for(&app, 31).await;
    assert_eq!(app.me(&client).await, None);
    assert_eq!(app.audit("session_timeout", "success").await.len(), 1);
}
