//! The integration-test harness: `spawn_app()` starts the real router on port 0 with a fresh
//! database and the real migrations, and returns a cookie-keeping HTTP client that does not follow
//! redirects (so tests see the 302s that forms answer without JavaScript).
//!
//! SQLite by default (a new file per test). When `TEST_DATABASE_URL` names a PostgreSQL server,
//! every test gets its own fresh schema there instead, so the same suite covers both databases.

#![expect(clippy::expect_used, reason = "test code: a failed step should stop the test with its message")]

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use server::settings::Settings;
use server::startup::Application;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Which database the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test, described as settings.
pub struct TestDatabase {
    pub backend: TestBackend,
    /// The SQLite directory, kept alive (and deleted afterwards) with the test.
    dir: Option<tempfile::TempDir>,
    database_url: Option<String>,
    schema: Option<String>,
}

impl TestDatabase {
    /// Creates the database: a temporary directory for SQLite, a new schema on PostgreSQL.
    pub async fn create() -> TestDatabase {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let admin = Database::connect(&url).await.expect("TEST_DATABASE_URL answers");
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create test schema");
                admin.close().await.ok();
                TestDatabase {
                    backend: TestBackend::Postgres,
                    dir: None,
                    database_url: Some(url),
                    schema: Some(schema),
                }
            }
            _ => TestDatabase {
                backend: TestBackend::Sqlite,
                dir: Some(tempfile::tempdir().expect("temporary directory")),
                database_url: None,
                schema: None,
            },
        }
    }

    /// Settings pointing at this database, listening on a free port, otherwise the defaults.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_schema: self.schema.clone(),
            database_url: self.database_url.clone().map(Into::into),
            log_level: "warn".into(),
            ..Settings::default()
        };
        if let Some(dir) = &self.dir {
            settings.data_dir = dir.path().join("data");
        }
        settings
    }
}

/// A running portal for one test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The server's own pool (closing it simulates a lost database).
    pub db: DatabaseConnection,
    pub backend: TestBackend,
    /// Keeps cookies between requests; never follows redirects.
    pub client: reqwest::Client,
    pub settings: Settings,
    _database: TestDatabase,
    _stop: oneshot::Sender<()>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// A plain HTML form post, as a browser without JavaScript sends it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("accept", "text/html")
            .header("referer", self.url("/"))
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }
}

/// Settings as a production deployment behind TLS has them (Secure cookies, HSTS).
pub fn production_behind_tls(settings: &mut Settings) {
    settings.environment = server::settings::Environment::Production;
    settings.public_url = Some("https://portal.example.org".parse().expect("a valid URL"));
}

/// Starts the portal with default settings on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the portal after `customize` has adjusted the settings.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDatabase::create().await;
    let mut settings = database.settings();
    customize(&mut settings);
    server::telemetry::init(&settings);
    let app = Application::build(settings.clone()).await.expect("the portal starts");
    let address = format!("http://{}", app.local_addr());
    let db = app.db().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    TestApp { address, db, backend: database.backend, client, settings, _database: database, _stop: stop }
}
