//! Sessions over the sea-orm store: cookie attributes, persistence, expiry clean-up; and the
//! privacy-reminder form, which works without JavaScript (POST answered by a redirect).

use app::backend::session_store::SeaOrmSessionStore;
use portal_tests::{production_behind_tls, spawn_app_with};
use server::startup::SESSION_COOKIE;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

const DISMISS: &str = "/api/dismiss_privacy_notice";

fn session_cookie(response: &reqwest::Response) -> String {
    named_cookie(response, SESSION_COOKIE)
}

fn named_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
        .expect("the response sets the session cookie")
}

#[tokio::test]
async fn a_first_visit_creates_no_session() {
    let app = spawn_app_with(|_| {}).await;
    let response = app.get("/").await;
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(SeaOrmSessionStore::new(app.db.clone(), app.settings.file_keys().derive(app::backend::session_store::SESSION_ID_PURPOSE)).count().await.expect("count"), 0);
}

#[tokio::test]
async fn the_form_works_without_javascript_and_the_session_remembers_it() {
    let app = spawn_app_with(|_| {}).await;
    let response = app.post_form(DISMISS, &[]).await;
    assert_eq!(response.status(), 302, "a plain form post is answered by a redirect");
    // Back to the page the form was on (Leptos may append an empty query string).
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert_eq!(location.trim_end_matches('?'), app.url("/"));

    let cookie = session_cookie(&response);
    let attributes: Vec<String> = cookie.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
    assert!(attributes.contains(&"httponly".to_string()), "{cookie}");
    assert!(attributes.contains(&"samesite=lax".to_string()), "{cookie}");
    assert!(attributes.contains(&"path=/".to_string()), "{cookie}");
    assert!(!attributes.contains(&"secure".to_string()), "no Secure in local development: {cookie}");
    assert_eq!(SeaOrmSessionStore::new(app.db.clone(), app.settings.file_keys().derive(app::backend::session_store::SESSION_ID_PURPOSE)).count().await.expect("count"), 1);

    let html = app.get("/").await.text().await.expect("body");
    assert!(!html.contains("id=\"privacy-notice\""), "the dismissed reminder stays hidden");
}

#[tokio::test]
async fn cookies_are_secure_outside_local_development() {
    let app = spawn_app_with(production_behind_tls).await;
    let response = app.post_form(DISMISS, &[]).await;
    // Over https the name carries the `__Host-` prefix (Secure, Path=/, no Domain, or the
    // browser refuses it).
    let cookie = named_cookie(&response, server::startup::SECURE_SESSION_COOKIE).to_ascii_lowercase();
    assert!(cookie.split(';').any(|a| a.trim() == "secure"), "{cookie}");
    assert!(cookie.split(';').any(|a| a.trim() == "path=/") && !cookie.contains("domain="), "{cookie}");
    assert!(cookie.contains("httponly") && cookie.contains("samesite=lax"), "{cookie}");
}

#[tokio::test]
async fn the_store_saves_loads_and_deletes_expired_sessions() {
    let app = spawn_app_with(|_| {}).await;
    let store = SeaOrmSessionStore::new(app.db.clone(), app.settings.file_keys().derive(app::backend::session_store::SESSION_ID_PURPOSE));
    let now = time::OffsetDateTime::now_utc();

    let mut live = Record { id: Id::default(), data: Default::default(), expiry_date: now + time::Duration::hours(1) };
    live.data.insert("k".into(), serde_json::json!(1));
    store.create(&mut live).await.expect("create");
    let mut stale = Record { id: Id::default(), data: Default::default(), expiry_date: now - time::Duration::minutes(1) };
    store.create(&mut stale).await.expect("create");

    let loaded = store.load(&live.id).await.expect("load").expect("live session found");
    assert_eq!(loaded.data, live.data);
    assert!(store.load(&stale.id).await.expect("load").is_none(), "an expired session is not loaded");

    live.data.insert("k".into(), serde_json::json!(2));
    store.save(&live).await.expect("save updates in place");
    assert_eq!(store.load(&live.id).await.expect("load").expect("found").data["k"], 2);

    store.delete_expired().await.expect("clean-up");
    assert_eq!(store.count().await.expect("count"), 1, "only the live session remains");
    store.delete(&live.id).await.expect("delete");
    assert_eq!(store.count().await.expect("count"), 0);
}

#[tokio::test]
async fn the_table_keeps_a_keyed_hash_of_the_session_id_never_the_id() {
    let app = spawn_app_with(|_| {}).await;
    let response = app.post_form(DISMISS, &[]).await;
    let cookie = session_cookie(&response);
    let id = cookie.split(';').next().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_string()).expect("an id");
    use sea_orm::{ConnectionTrait, Statement};
    let rows = app.db.query_all_raw(Statement::from_string(app.db.get_database_backend(), "SELECT id FROM tower_session")).await.expect("rows");
    let stored: Vec<String> = rows.into_iter().map(|r| r.try_get::<String>("", "id").expect("id")).collect();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], id, "a copy of the table opens no session");
    assert_eq!(stored[0].len(), 64, "HMAC-SHA256, hex");
    // The cookie still works: the dismissed reminder stays dismissed.
    let html = app.get("/").await.text().await.expect("body");
    assert!(!html.contains("id=\"privacy-notice\""));
}
