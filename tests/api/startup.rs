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

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_on() {
    use sea_orm::{ConnectionTrait, Statement};
    let database = TestDatabase::create().await;
    if database.backend != portal_tests::TestBackend::Sqlite {
        return; // A PostgreSQL run: these are SQLite pragmas.
    }
    let db = server::database::connect(&database.settings()).await.expect("connects");
    let pragma = |name: &'static str| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), format!("PRAGMA {name}")))
                .await
                .expect("pragma")
                .expect("one row");
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                .expect("a value")
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("foreign_keys").await, "1");
}

#[tokio::test]
async fn the_server_stops_gracefully_when_asked() {
    let database = TestDatabase::create().await;
    let app = Application::build(database.settings()).await.expect("starts");
    let address = format!("http://{}/healthz", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    assert_eq!(reqwest::get(&address).await.expect("answers").status(), 200);

    stop.send(()).expect("server still running");
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("stops well within the grace period")
        .expect("task not cancelled");
    assert!(result.is_ok(), "{result:?}");
    assert!(reqwest::get(&address).await.is_err(), "no longer accepting connections");
}
