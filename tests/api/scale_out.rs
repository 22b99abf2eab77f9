//! Scale-out: two portal servers on one database share sign-ins. Signed in through one, a person
//! keeps working through the other, and signing out on one ends it on both.

use app::domain::Role;
use portal_tests::{PASSWORD, spawn_app};
use server::startup::{Application, SESSION_COOKIE};

async fn me(client: &reqwest::Client, base: &str, cookie: &str) -> String {
    client
        .post(format!("{base}/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn two_servers_on_one_database_share_sessions() {
    let first = spawn_app().await;
    // A second server with the same settings: the same database (SQLite file or PostgreSQL schema).
    let second = Application::build(first.settings.clone()).await.expect("second server starts");
    let second_address = format!("http://{}", second.local_addr());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(second.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    first.create_user("ana@example.org", &[Role::Patient], None).await;

    // A browser whose cookie we carry by hand between the two servers (as a load balancer would).
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = first.sign_in(&browser, "ana@example.org", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(SESSION_COOKIE))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();

    assert!(me(&browser, &second_address, &cookie).await.contains("ana@example.org"), "signed in on the second server");
    assert!(me(&browser, &first.address, &cookie).await.contains("ana@example.org"), "and still on the first");

    let response = browser
        .post(format!("{second_address}/api/sign_out"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_success());
    assert_eq!(me(&browser, &first.address, &cookie).await, "null", "signed out on the first server too");
}
