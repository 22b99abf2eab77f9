//! Start-up failures are one clear line naming the setting, never a panic.

use portal_tests::TestDatabase;
use server::startup::Application;

async fn start_error(customize: impl FnOnce(&mut server::settings::Settings)) -> String {
    let database = TestDatabase::create().await;
    let mut settings = database.settings();
    customize(&mut settings);
    match Application::build(settings).await {
        Ok(_) => panic!("start-up should have failed"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_port_in_use_names_the_address_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let message = start_error(|s| s.addr = addr).await;
    assert!(message.contains("PORTAL_ADDR") && message.contains("already in use"), "{message}");
    assert!(!message.contains('\n'));
}

#[tokio::test]
async fn an_unknown_database_scheme_names_the_database_setting() {
    let message = start_error(|s| s.database_url = Some("mysql://root@127.0.0.1/portal".to_string().into())).await;
    assert!(message.contains("DATABASE_URL") && message.contains("`mysql`"), "{message}");
}

#[tokio::test]
async fn an_unreachable_database_names_the_database_setting() {
    let message = start_error(|s| {
        // Nothing listens on port 1.
        s.database_url = Some("postgres://portal:secret-password@127.0.0.1:1/portal".to_string().into());
        s.database_schema = None;
        s.database_connect_timeout_secs = 2;
    })
    .await;
    assert!(message.contains("cannot connect to the PostgreSQL database"), "{message}");
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(!message.contains("secret-password"), "the password must never be printed: {message}");
}
