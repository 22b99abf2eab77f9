//! The integration-test harness: `spawn_app()` starts the real router on port 0 with a fresh
//! database and the real migrations, and returns a cookie-keeping HTTP client that does not follow
//! redirects (so tests see the 302s that forms answer without JavaScript).
//!
//! SQLite by default (a new file per test). When `TEST_DATABASE_URL` names a PostgreSQL server,
//! every test gets its own fresh schema there instead, so the same suite covers both databases.

#![expect(clippy::expect_used, reason = "test code: a failed step should stop the test with its message")]

use app::backend::access::SystemContext;
use app::backend::auth::{Auth, totp};
use app::backend::auth::users::{self, NewUser, User};
use app::backend::entities::audit_event;
use app::backend::request::RequestMeta;
use app::domain::{EmailAddress, IsoDate, NewPatient, PatientForm, Role};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryOrder};
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
    /// The data directory (the SQLite file; the audit checkpoint file on both databases), kept
    /// alive (and deleted afterwards) with the test.
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
                    dir: Some(tempfile::tempdir().expect("temporary directory")),
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
            // Cheap password hashing keeps the suite fast; the real cost is a setting, and the
            // stored hash carries its own parameters.
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
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
    /// Authenticator secrets that `login_as` set up, by email.
    pub authenticators: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
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

    /// A fresh browser: its own cookie jar, no redirects followed.
    pub fn new_client(&self) -> reqwest::Client {
        browser()
    }

    /// Calls a server function as the hydrated page does (form-encoded arguments, JSON answer).
    pub async fn call(&self, client: &reqwest::Client, endpoint: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{endpoint}")))
            .header("accept", "application/json")
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }

    /// Calls a server function and parses its JSON answer, asserting the status.
    pub async fn call_ok(&self, client: &reqwest::Client, endpoint: &str, fields: &[(&str, &str)]) -> serde_json::Value {
        let response = self.call(client, endpoint, fields).await;
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        assert!(status == 200 || status == 302, "{endpoint} answered {status}: {body}");
        if body.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&body).expect("JSON") }
    }

    /// Creates an account with `PASSWORD` directly in the database (as `portal admin` would).
    pub async fn create_user(&self, email: &str, roles: &[Role], patient_id: Option<&str>) -> User {
        create_account(&self.db, &self.settings, email, roles, patient_id).await
    }

    /// Creates a patient record and returns its id.
    pub async fn create_patient(&self, mrn: &str, family: &str, birth_date: &str) -> String {
        let form = PatientForm {
            mrn: mrn.into(),
            family_name: family.into(),
            given_names: "Test".into(),
            birth_date: birth_date.into(),
            sex: "unknown".into(),
            ..PatientForm::default()
        };
        let today = IsoDate::parse("2026-11-24").expect("valid date");
        let new = NewPatient::parse(&form, today).expect("valid patient");
        self.system().ensure_patient(new).await.expect("patient created")
    }

    /// Signs in through the real endpoint; returns the response (302 on success).
    pub async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        self.call(client, "sign_in", &[("email", email), ("password", password)]).await
    }

    /// Signs in and asserts it worked. Staff (who must use two-step verification) get an
    /// authenticator set up on their first sign-in, and codes from it afterwards, as a person
    /// with the app would type them.
    pub async fn login_as(&self, client: &reqwest::Client, email: &str) {
        let response = self.sign_in(client, email, PASSWORD).await;
        let status = response.status();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(status.is_redirection() || status.is_success(), "sign-in failed: {status} {}", response.text().await.unwrap_or_default());
        if location.starts_with("/sign-in/setup") {
            let setup = self.call_ok(client, "mfa_setup_start", &[]).await;
            let key: String = setup["manual_key"].as_str().expect("key").split_whitespace().collect();
            let secret = totp::decode_secret(&key).expect("base32");
            let code = format!("{:06}", totp::hotp(&secret, totp::step_at(app::backend::db::now_ms() / 1000) as u64));
            self.call_ok(client, "mfa_setup_confirm", &[("code", &code)]).await;
            self.call_ok(client, "take_recovery_codes", &[]).await;
            self.authenticators.lock().expect("lock").insert(email.to_string(), secret);
        } else if location.starts_with("/sign-in/verify") {
            self.second_factor(client, email).await;
        }
    }

    /// Types a fresh code from `email`'s authenticator (set up by `login_as`) into the second
    /// step of a sign-in waiting for it.
    pub async fn second_factor(&self, client: &reqwest::Client, email: &str) {
        {
            let secret = self.authenticators.lock().expect("lock").get(email).cloned().expect("an authenticator set up by login_as");
            // Each code works once; the window accepts the previous, current and next step.
            let now = totp::step_at(app::backend::db::now_ms() / 1000);
            let mut done = false;
            for step in now - 1..=now + 1 {
                let code = format!("{:06}", totp::hotp(&secret, step as u64));
                if self.call(client, "verify_second_factor", &[("code", &code)]).await.status().is_success() {
                    done = true;
                    break;
                }
            }
            assert!(done, "no fresh code left for {email} in this 30-second window");
        }
    }

    /// Who the portal thinks `client` is (`None` when signed out).
    pub async fn me(&self, client: &reqwest::Client) -> Option<serde_json::Value> {
        let value = self.call_ok(client, "me", &[]).await;
        (!value.is_null()).then_some(value)
    }

    /// Every audit row, oldest first.
    pub async fn audit_rows(&self) -> Vec<audit_event::Model> {
        audit_event::Entity::find().order_by_asc(audit_event::Column::Seq).all(&self.db).await.expect("audit rows")
    }

    /// Seals every committed audit event now, with a checkpoint (the server's own sealer also
    /// runs, every 250 ms), and returns how many are sealed.
    pub async fn seal_audit(&self) -> i64 {
        let mut sealer = self.settings.audit_sealer();
        sealer.checkpoint_ms = 0;
        loop {
            // On PostgreSQL the server's sealer may hold the round's lock: then try again.
            sealer.seal(&self.db).await.expect("sealed");
            if app::backend::audit::unsealed(&self.db).await.expect("counted") == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        count(&self.db, "SELECT COUNT(*) FROM audit_event WHERE sealed_no IS NOT NULL").await
    }

    /// `portal verify-audit` on this app's database, key and checkpoint file.
    pub async fn verify_audit(&self) -> app::backend::audit::ChainReport {
        let sealer = self.settings.audit_sealer();
        app::backend::audit::verify(&self.db, &sealer.key, sealer.checkpoint_file.as_deref()).await.expect("verified")
    }

    /// Audit rows with this action and outcome.
    pub async fn audit(&self, action: &str, outcome: &str) -> Vec<audit_event::Model> {
        self.audit_rows().await.into_iter().filter(|r| r.action == action && r.outcome == outcome).collect()
    }

    /// The system context the command line uses, on this app's database.
    pub fn system(&self) -> SystemContext {
        SystemContext::command_line(self.db.clone(), self.settings.site_code.clone())
    }

    /// Imports a FHIR file as the command line does; returns the patient record's id.
    pub async fn import_fhir(&self, bytes: &[u8]) -> String {
        let system = self.system();
        let importer = system.importer(app::backend::fhir::parse::Limits::default());
        importer.import("fixture.json", bytes, &|_, _| {}).await.expect("imports").patient.expect("a patient").id
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

pub mod fake_idp;
pub mod oidc;

/// One number from a query (`SELECT COUNT(*) …`) on `db`.
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_string())).await.expect("query").expect("a row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

/// Creates an account with `PASSWORD` on `db` directly (as `portal admin` would), for checks
/// that run the server elsewhere.
pub async fn create_account(db: &DatabaseConnection, settings: &Settings, email: &str, roles: &[Role], patient_id: Option<&str>) -> User {
    let auth = Auth::new(settings.auth_config()).expect("hashing parameters");
    let new = NewUser {
        email: EmailAddress::parse(email).expect("valid email"),
        display_name: format!("Test {email}"),
        password: Some(PASSWORD.to_string()),
        roles: roles.iter().copied().collect(),
        patient_id: patient_id.map(str::to_string),
    };
    users::create(db, &auth, new, None, &RequestMeta::command_line()).await.expect("user created")
}

/// A copy to someone else with a complete authorization, as the portal form posts it; `extra`
/// replaces fields (an empty value removes one).
pub fn third_party_fields<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("scope", "labs"),
        ("pdf", "on"),
        ("recipient", "someone_else"),
        ("recipient_name", "Dr. Ana Gomez, Harbour Clinic"),
        ("recipient_address", "ana.gomez@clinic.example"),
        ("purpose", "At my request: a second opinion"),
        ("expires_on", "2099-01-01"),
        ("signature_name", "Test leon@example.org"),
        ("consent", "on"),
        ("ack_revocation", "on"),
        ("ack_no_conditioning", "on"),
        ("ack_redisclosure", "on"),
    ];
    for (k, v) in extra {
        fields.retain(|(f, _)| f != k);
        if !v.is_empty() {
            fields.push((k, v));
        }
    }
    fields
}

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Settings as a production deployment behind TLS has them (Secure cookies, HSTS).
pub fn production_behind_tls(settings: &mut Settings) {
    settings.environment = server::settings::Environment::Production;
    settings.public_url = Some("https://portal.example.org".parse().expect("a valid URL"));
    settings.file_keys = Some("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    settings.audit_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    settings.organization_name = Some("Springfield General Hospital".into());
    settings.organization_address = Some("1 Hospital Drive, Springfield, IL 62701".into());
    settings.privacy_contact_phone = Some("217-555-0100".into());
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
    let client = browser();
    TestApp {
        address,
        db,
        backend: database.backend,
        client,
        settings,
        authenticators: Default::default(),
        _database: database,
        _stop: stop,
    }
}

/// The token of the link in a mail that follows `path` (`/reset-password?token=`), undoing
/// quoted-printable line folding (RFC 2045 6.7).
pub fn link_token(message: &str, path: &str) -> String {
    let message = message.replace("=\n", "").replace("=3D", "=");
    let start = message.find(path).expect("a link") + path.len();
    message[start..].chars().take_while(char::is_ascii_hexdigit).collect()
}

/// A minimal SMTP server on 127.0.0.1 that keeps every message it receives, so mail tests go
/// through the portal's real SMTP client.
pub struct SmtpSink {
    /// `smtp://127.0.0.1:PORT`
    pub url: String,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("smtp://{}", listener.local_addr().expect("address"));
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut in_data = false;
                    let mut data = String::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                store.lock().expect("lock").push(std::mem::take(&mut data));
                                let _ = write.write_all(b"250 OK\r\n").await;
                            } else {
                                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                                data.push('\n');
                            }
                            continue;
                        }
                        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 End data with <CR><LF>.<CR><LF>\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 Bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpSink { url, messages }
    }

    /// Waits (up to five seconds) for the `n`th message (counting from 1) and returns it.
    pub async fn message(&self, n: usize) -> String {
        for _ in 0..100 {
            if let Some(m) = self.messages.lock().expect("lock").get(n - 1).cloned() {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no message number {n} arrived");
    }

    /// Every message so far, in the order they arrived.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("lock").clone()
    }

    /// How many messages arrived so far.
    pub fn count(&self) -> usize {
        self.messages.lock().expect("lock").len()
    }
}

/// The PyPI `aiosmtpd` server on a free local port, printing each message it receives (its
/// `Debugging` handler); scripts/setup.sh installs it. The notification tests mail through it.
pub struct Aiosmtpd {
    pub url: String,
    child: std::process::Child,
}

impl Aiosmtpd {
    pub async fn start() -> Aiosmtpd {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
        let mut child = std::process::Command::new("python3")
            .args(["-u", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Debugging", "-l", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/setup.sh installs aiosmtpd)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Aiosmtpd { url: format!("smtp://127.0.0.1:{port}"), child };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start");
    }

    /// Stops the server and returns everything it printed (the messages).
    pub fn stop(mut self) -> String {
        use std::io::Read;
        let _ = self.child.kill();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let _ = self.child.wait();
        out
    }
}
