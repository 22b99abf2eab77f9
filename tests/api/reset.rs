//! Password reset by an emailed one-time link, through a real SMTP conversation: the same answer
//! for every address, a single-use link that expires, a new password that ends every session.

use app::backend::entities::one_time_token;
use app::domain::Role;
use portal_tests::{PASSWORD, SmtpSink, spawn_app_with};
use sea_orm::sea_query::Expr;
use sea_orm::EntityTrait;

fn token_in(message: &str) -> String {
    portal_tests::link_token(message, "/reset-password?token=")
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let sink = SmtpSink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |s| s.smtp_url = Some(url.into())).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let laptop = app.new_client();
    app.login_as(&laptop, "ana@example.org").await;

    let phone = app.new_client();
    let known = app.call(&phone, "request_password_reset", &[("email", "Ana@Example.org")]).await;
    let unknown = app.call(&phone, "request_password_reset", &[("email", "nobody@example.org")]).await;
    assert_eq!(known.status(), unknown.status(), "the same answer for every address");
    assert_eq!(known.headers()["location"], unknown.headers()["location"]);

    let message = sink.message(1).await;
    assert!(message.contains("To: ana@example.org"), "{message}");
    assert!(message.contains("Subject: Reset your patient portal password"), "{message}");
    let token = token_in(&message);
    assert_eq!(token.len(), 64);
    let stored = one_time_token::Entity::find().all(&app.db).await.expect("rows");
    assert!(stored.iter().all(|t| t.token_hash != token), "only the hash is stored");

    let weak = app.call(&phone, "reset_password", &[("token", &token), ("new_password", "password1234")]).await;
    assert_eq!(weak.status(), 422, "the password policy applies");
    app.call_ok(&phone, "reset_password", &[("token", &token), ("new_password", "a fresh new passphrase")]).await;
    assert_eq!(app.me(&laptop).await, None, "every session ended");
    assert_eq!(app.sign_in(&phone, "ana@example.org", PASSWORD).await.status(), 401);
    assert!(app.sign_in(&phone, "ana@example.org", "a fresh new passphrase").await.status().is_success());

    let reused = app.call(&phone, "reset_password", &[("token", &token), ("new_password", "another passphrase here")]).await;
    assert_eq!(reused.status(), 409, "a link works once");
    assert_eq!(app.audit("password_reset", "success").await.len(), 1);
    assert_eq!(app.audit("password_reset", "failure").await.len(), 1);
    assert_eq!(app.audit("password_reset_request", "failure").await.len(), 1, "the unknown address");
    assert_eq!(sink.count(), 1, "no mail for an unknown address");
}

#[tokio::test]
async fn expired_and_forged_links_are_refused() {
    let sink = SmtpSink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |s| s.smtp_url = Some(url.into())).await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.call(&client, "request_password_reset", &[("email", "ana@example.org")]).await;
    let token = token_in(&sink.message(1).await);
    one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::ExpiresAtMs, Expr::value(app::backend::db::now_ms() - 1))
        .exec(&app.db)
        .await
        .expect("expire");
    let expired = app.call(&client, "reset_password", &[("token", &token), ("new_password", "a fresh new passphrase")]).await;
    assert_eq!(expired.status(), 409);
    let forged = app.call(&client, "reset_password", &[("token", &"0".repeat(64)), ("new_password", "a fresh new passphrase")]).await;
    assert_eq!(forged.status(), 409);
    let huge = app.call(&client, "reset_password", &[("token", &"a".repeat(10_000)), ("new_password", "a fresh new passphrase")]).await;
    assert_eq!(huge.status(), 409);
    assert!(app.sign_in(&client, "ana@example.org", PASSWORD).await.status().is_success(), "the old password still works");
}
