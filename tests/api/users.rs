//! Staff account management by administrators: create staff accounts (temporary password shown
//! once), grant and revoke roles, disable accounts; never demote the last administrator or
//! disable oneself; nobody else may do any of it.

use app::domain::Role;
use portal_tests::{TestApp, spawn_app};

async fn admin(app: &TestApp) -> reqwest::Client {
    app.create_user("root@example.org", &[Role::Administrator], None).await;
    let client = app.new_client();
    app.login_as(&client, "root@example.org").await;
    client
}

#[tokio::test]
async fn administrators_create_staff_accounts_that_can_sign_in() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let response = app
        .call(&root, "create_staff_user", &[("email", "dana@example.org"), ("name", "Dana Staff"), ("him_staff", "on"), ("him_reviewer", "on")])
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let created = app.call_ok(&root, "take_created_account", &[]).await;
    assert_eq!(created["email"], "dana@example.org");
    let password = created["temporary_password"].as_str().expect("password").to_string();
    assert_eq!(app.call_ok(&root, "take_created_account", &[]).await, serde_json::Value::Null, "shown once");

    let dana = app.new_client();
    let signed = app.sign_in(&dana, "dana@example.org", &password).await;
    assert!(signed.headers()["location"].to_str().expect("ASCII").starts_with("/sign-in/setup"), "staff set up two-step verification first");

    let list = app.call_ok(&root, "list_users", &[("q", "dana")]).await;
    assert_eq!(list[0]["roles"], serde_json::json!(["him_staff", "him_reviewer"]));
    let creation = app.audit("user_create", "success").await;
    let root_id = app.audit("login", "success").await[0].actor_user_id.clone();
    assert_eq!(creation.last().and_then(|r| r.actor_user_id.clone()), root_id, "the administrator is the actor");

    let bad = app.call(&root, "create_staff_user", &[("email", "nope"), ("name", "X")]).await;
    assert_eq!(bad.status(), 422);
    let body = bad.text().await.expect("body");
    assert!(body.contains("\"field\":\"email\"") && body.contains("\"field\":\"roles\""), "{body}");
}

#[tokio::test]
async fn roles_change_and_accounts_are_disabled_with_their_sessions_ended() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let sam = app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let sam_client = app.new_client();
    app.login_as(&sam_client, "sam@example.org").await;

    app.call_ok(&root, "set_user_role", &[("user_id", &sam.id), ("role", "him_reviewer"), ("grant", "true")]).await;
    assert_eq!(app.me(&sam_client).await, None, "a privilege change ends the sessions");
    assert_eq!(app.audit("role_grant", "success").await.last().and_then(|r| r.detail.clone()).as_deref(), Some("role=him_reviewer"));
    // Patient and caregiver roles are not granted here.
    assert_eq!(app.call(&root, "set_user_role", &[("user_id", &sam.id), ("role", "patient"), ("grant", "true")]).await.status(), 400);

    app.login_as(&sam_client, "sam@example.org").await;
    app.call_ok(&root, "set_user_active", &[("user_id", &sam.id), ("active", "false")]).await;
    assert_eq!(app.me(&sam_client).await, None);
    assert_eq!(app.sign_in(&sam_client, "sam@example.org", portal_tests::PASSWORD).await.status(), 401, "a disabled account cannot sign in");
    assert_eq!(app.audit("user_disable", "success").await.len(), 1);
    app.call_ok(&root, "set_user_active", &[("user_id", &sam.id), ("active", "true")]).await;
    assert!(app.sign_in(&sam_client, "sam@example.org", portal_tests::PASSWORD).await.status().is_success());
}

#[tokio::test]
async fn the_last_administrator_stays_and_nobody_disables_themselves() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let list = app.call_ok(&root, "list_users", &[("q", "root")]).await;
    let root_id = list[0]["id"].as_str().expect("id").to_string();
    let demote = app.call(&root, "set_user_role", &[("user_id", &root_id), ("role", "administrator"), ("grant", "false")]).await;
    assert_eq!(demote.status(), 409);
    let disable = app.call(&root, "set_user_active", &[("user_id", &root_id), ("active", "false")]).await;
    assert_eq!(disable.status(), 409);
    assert!(app.me(&root).await.is_some());
}

#[tokio::test]
async fn only_administrators_manage_accounts() {
    let app = spawn_app().await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let sam = app.new_client();
    app.login_as(&sam, "sam@example.org").await;
    assert_eq!(app.call(&sam, "list_users", &[("q", "")]).await.status(), 404);
    assert_eq!(app.call(&sam, "create_staff_user", &[("email", "x@example.org"), ("name", "X"), ("administrator", "on")]).await.status(), 404);
    assert_eq!(app.new_client().post(app.url("/api/list_users")).form(&[("q", "")]).send().await.expect("sent").status(), 401);
}
