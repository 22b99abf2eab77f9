//! `portal bench http` (issue 21): the real portal on a fresh database with one record imported,
//! and in the same process a bare axum "hello" on another port as the ceiling; `wrk` (Debian's
//! package) drives each endpoint of a fixed mix, signed in, for a few seconds at 64 connections,
//! and the command prints requests per second, p50 and p99 per endpoint and the ratio to bare
//! axum. Figures for the README, never a test.
//!
//! `--servers N` starts N portals on the one database (the connections split among them);
//! `--db-latency-ms` puts [`crate::latency_proxy`] between them and PostgreSQL.
//!
//! The sessions are made directly in the database (a sign-in row and its cookie session), as a
//! sign-in would: staff would otherwise need an authenticator app to get one.

use crate::error::StartupError;
use crate::settings::Settings;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// What `wrk` measured for one endpoint.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers that were neither 2xx nor 3xx.
    pub failed: u64,
    /// Bytes received per second (headers included).
    pub bytes_per_sec: f64,
}

/// How one `portal bench http` runs.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub seconds: u64,
    pub connections: u32,
    /// A PostgreSQL URL to run on (a fresh schema in it, dropped afterwards) instead of SQLite.
    pub postgres: Option<&'a str>,
    /// Only the endpoints whose name contains this text.
    pub only: Option<&'a str>,
    /// Portal servers sharing the database, each given an equal share of the connections.
    pub servers: usize,
    /// Added to every round trip between the servers and PostgreSQL (a proxy in between).
    pub db_latency_ms: u64,
    /// Patients and release requests seeded before measuring (none by default).
    pub scale: crate::seed::Scale,
}

/// How a wrk size reads (`15.00MB`, `812.50KB`, `100.00B`), in bytes.
fn bytes(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("GB") {
        (n, 1024.0 * 1024.0 * 1024.0)
    } else if let Some(n) = text.strip_suffix("MB") {
        (n, 1024.0 * 1024.0)
    } else if let Some(n) = text.strip_suffix("KB") {
        (n, 1024.0)
    } else if let Some(n) = text.strip_suffix('B') {
        (n, 1.0)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// One endpoint of the mix: who calls it, the method, the path and the form body.
struct Endpoint {
    name: &'static str,
    staff: bool,
    method: &'static str,
    path: &'static str,
    body: String,
}

/// How a wrk duration reads (`812.00us`, `1.23ms`, `2.01s`), in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// Reads `wrk --latency`'s report.
pub fn parse_wrk(report: &str) -> Option<Measured> {
    let mut measured = Measured::default();
    let mut seen_rate = false;
    for line in report.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            measured.requests_per_sec = rate.trim().parse().ok()?;
            seen_rate = true;
        } else if let Some(rest) = line.strip_prefix("50%") {
            measured.p50_ms = millis(rest)?;
        } else if let Some(rest) = line.strip_prefix("99%") {
            measured.p99_ms = millis(rest)?;
        } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            measured.failed = n.trim().parse().ok()?;
        } else if let Some(n) = line.strip_prefix("Transfer/sec:") {
            measured.bytes_per_sec = bytes(n)?;
        }
    }
    seen_rate.then_some(measured)
}

const SCRIPT: &str = r#"
wrk.method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then wrk.body = body end
local cookie = os.getenv("BENCH_COOKIE")
if cookie ~= nil and cookie ~= "" then wrk.headers["cookie"] = cookie end
wrk.headers["accept"] = "application/json"
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
"#;

/// Runs wrk against each of `urls` at once (one server each) for `seconds`, `connections` shared
/// among them; requests per second and bytes add up, and the slowest server's p50 and p99 stand.
fn wrk(urls: &[String], method: &str, body: &str, cookie: &str, seconds: u64, connections: u32, script: &Path) -> Result<Measured, StartupError> {
    let each = (connections / urls.len().max(1) as u32).max(1);
    let mut running = Vec::new();
    for url in urls {
        let child = std::process::Command::new("wrk")
            .args(["-t2", &format!("-c{each}"), &format!("-d{seconds}s"), "--latency", "-s"])
            .arg(script)
            .arg(url)
            .env("BENCH_METHOD", method)
            .env("BENCH_BODY", body)
            .env("BENCH_COOKIE", cookie)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| StartupError::Import(format!("wrk could not be started (install Debian's `wrk`): {e}")))?;
        running.push(child);
    }
    let mut total = Measured::default();
    for child in running {
        let output = child.wait_with_output().map_err(|e| StartupError::Import(format!("wrk: {e}")))?;
        let report = String::from_utf8_lossy(&output.stdout);
        let m = parse_wrk(&report)
            .ok_or_else(|| StartupError::Import(format!("wrk's report could not be read: {report}{}", String::from_utf8_lossy(&output.stderr))))?;
        total.requests_per_sec += m.requests_per_sec;
        total.bytes_per_sec += m.bytes_per_sec;
        total.failed += m.failed;
        total.p50_ms = total.p50_ms.max(m.p50_ms);
        total.p99_ms = total.p99_ms.max(m.p99_ms);
    }
    Ok(total)
}

/// `url` with its host and port replaced by `addr` (the latency proxy's).
fn through(url: &str, addr: SocketAddr) -> Result<String, StartupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| StartupError::Import(format!("--postgres: {e}")))?;
    parsed.set_host(Some(&addr.ip().to_string())).map_err(|e| StartupError::Import(format!("--postgres: {e}")))?;
    parsed.set_port(Some(addr.port())).map_err(|()| StartupError::Import("--postgres: the URL takes no port".into()))?;
    Ok(parsed.to_string())
}

/// Where a PostgreSQL URL's server listens.
async fn database_address(url: &str) -> Result<SocketAddr, StartupError> {
    let parsed = url::Url::parse(url).map_err(|e| StartupError::Import(format!("--postgres: {e}")))?;
    let host = parsed.host_str().filter(|h| !h.is_empty()).unwrap_or("127.0.0.1").to_string();
    let port = parsed.port().unwrap_or(5432);
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| StartupError::Import(format!("--postgres: {e}")))?
        .next()
        .ok_or_else(|| StartupError::Import(format!("--postgres: {host} has no address")))
}

/// A signed-in cookie for `user_id`, made as a sign-in makes one.
async fn session_cookie(db: &sea_orm::DatabaseConnection, settings: &Settings, user_id: &str) -> Result<String, StartupError> {
    use app::backend::session_store::{SESSION_ID_PURPOSE, SeaOrmSessionStore};
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let request = app::backend::request::RequestMeta::command_line();
    let login = app::backend::auth::sessions::start(db, &settings.auth_config(), user_id, &request).await.map_err(|e| fail("sign-in", &e))?;
    let store = SeaOrmSessionStore::new(db.clone(), settings.file_keys().derive(SESSION_ID_PURPOSE));
    let mut record = Record {
        id: Id::default(),
        data: [("login".to_string(), serde_json::json!(login))].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(12),
    };
    store.create(&mut record).await.map_err(|e| fail("session", &e))?;
    Ok(format!("{}={}", crate::startup::SESSION_COOKIE, record.id))
}

/// Serves "hello" on a free port of 127.0.0.1: what axum alone answers on this machine.
async fn bare_axum() -> Result<SocketAddr, StartupError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| StartupError::Import(format!("bare axum: {e}")))?;
    let addr = listener.local_addr().map_err(|e| StartupError::Import(format!("bare axum: {e}")))?;
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    Ok(addr)
}

/// `portal bench http`: see the module's note.
pub async fn bench_http(settings: &Settings, file: &Path, run: Run<'_>) -> Result<String, StartupError> {
    let Run { seconds, connections, postgres, only, servers, db_latency_ms, scale } = run;
    if db_latency_ms > 0 && postgres.is_none() {
        return Err(StartupError::Import("--db-latency-ms needs --postgres (SQLite is a file, not a server)".into()));
    }
    let servers = servers.max(1);
    use app::backend::auth::{Auth, users};
    use app::domain::{EmailAddress, Role};
    use sea_orm::ConnectionTrait;
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let dir = std::env::temp_dir().join(format!("portal-bench-http-{}", uuid::Uuid::new_v4().simple()));
    let mut fresh = settings.clone();
    fresh.data_dir = dir.clone();
    fresh.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    fresh.log_level = "warn".into();
    // The benchmark's own two sessions make every request: no rate limit in the way.
    fresh.auth_rate_limit_per_minute = 1_000_000;
    let schema = postgres.map(|_| format!("bench_{}", uuid::Uuid::new_v4().simple()));
    if let (Some(url), Some(schema)) = (postgres, &schema) {
        let admin = sea_orm::Database::connect(url).await.map_err(|e| fail("PostgreSQL", &e))?;
        admin.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\"")).await.map_err(|e| fail("PostgreSQL", &e))?;
        admin.close().await.ok();
        fresh.database_url = Some(url.to_string().into());
        fresh.database_schema = Some(schema.clone());
    } else {
        fresh.database_url = None;
    }
    let db = crate::database::connect(&fresh).await?;
    crate::database::migrate_up(&db).await?;

    // The record, a patient signed in to it, and an HIM clerk who is also an administrator.
    let bytes = std::fs::read(file).map_err(|e| fail(&file.display().to_string(), &e))?;
    let system = app::backend::access::SystemContext::command_line(db.clone(), fresh.site_code.clone());
    let summary = system.importer(fresh.import_limits()).import(&file.display().to_string(), &bytes, &|_, _| {}).await.map_err(|e| fail("import", &e))?;
    let patient = summary.patient.ok_or_else(|| fail("import", &"the file has no patient"))?;
    let auth = Auth::new(fresh.auth_config()).map_err(|e| fail("hashing", &e))?;
    let request = app::backend::request::RequestMeta::command_line();
    let mut cookies = Vec::new();
    // The seeded requests are the clerk's (the second account).
    let mut clerk = String::new();
    for (email, roles, own) in [("patient@bench.invalid", vec![Role::Patient], true), ("clerk@bench.invalid", vec![Role::HimStaff, Role::Administrator], false)] {
        let new = users::NewUser {
            email: EmailAddress::parse(email).map_err(|e| fail("email", &e))?,
            display_name: "Benchmark".into(),
            password: None,
            roles: roles.into_iter().collect(),
            patient_id: own.then(|| patient.id.clone()),
        };
        let user = users::create(&db, &auth, new, None, &request).await.map_err(|e| fail("user", &e))?;
        cookies.push(session_cookie(&db, &fresh, &user.id).await?);
        clerk = user.id;
    }
    let (patient_cookie, staff_cookie) = (cookies[0].clone(), cookies[1].clone());
    let seeded = if scale.patients + scale.requests > 0 {
        Some(crate::seed::seed_from_fixtures(&db, &fresh, Path::new(crate::seed::FIXTURES), &clerk, scale).await?)
    } else {
        None
    };

    // The servers reach PostgreSQL through the latency proxy when one is asked for (the set-up
    // above went straight).
    let mut serving = fresh.clone();
    if let Some(url) = postgres.filter(|_| db_latency_ms > 0) {
        let upstream = database_address(url).await?;
        let proxy = crate::latency_proxy::start(upstream, Duration::from_millis(db_latency_ms)).await.map_err(|e| fail("latency proxy", &e))?;
        serving.database_url = Some(through(url, proxy)?.into());
    }
    let mut portals = Vec::new();
    let mut running = Vec::new();
    for _ in 0..servers {
        let app = crate::startup::Application::build(serving.clone()).await?;
        portals.push(app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            stopped.await.ok();
        }));
        running.push((stop, server));
    }
    let hello = bare_axum().await?;
    let script = dir.join("bench.lua");
    std::fs::write(&script, SCRIPT).map_err(|e| fail("script", &e))?;

    let today = fresh.clock().today().to_string();
    // The queue is searched the way a clerk would: by the patient's family name.
    let family = patient.name.split_whitespace().last().unwrap_or_default().to_string();
    let mix = [
        Endpoint { name: "record summary (POST /api/record_summary)", staff: false, method: "POST", path: "/api/record_summary", body: String::new() },
        Endpoint { name: "a section page (labs, page 1)", staff: false, method: "POST", path: "/api/record_section", body: "section=labs&page=1".into() },
        Endpoint { name: "HIM queue, first page", staff: true, method: "POST", path: "/api/request_queue", body: String::new() },
        Endpoint { name: "HIM queue, search by name", staff: true, method: "POST", path: "/api/request_queue", body: format!("filter[q]={}", family.replace(' ', "+")) },
        Endpoint {
            name: "audit report, one day",
            staff: true,
            method: "POST",
            path: "/api/audit_report",
            body: format!("form[from]={today}&form[to]={today}&form[user]=&form[patient]=&form[action]=&form[sort]=&form[dir]="),
        },
        Endpoint { name: "submit a copy request", staff: false, method: "POST", path: "/api/submit_request", body: "scope=problems&pdf=on".into() },
    ];
    let ceiling = wrk(&[format!("http://{hello}/")], "GET", "", "", seconds, connections, &script)?;
    let mut table = format!(
        "portal bench http: {} ({} resources){}, {} s per endpoint, {connections} connections, {}, {servers} server(s){}\n\n| endpoint | req/s | p50 | p99 | of bare axum | not 2xx | bytes per answer |\n|---|---|---|---|---|---|---|\n| bare axum \"hello\" (same process) | {:.0} | {:.2} ms | {:.2} ms | 100 % | {} | {:.0} |\n",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
        summary.resources,
        seeded.map(|s| format!(", {} more patients and {} release requests seeded in {:.0} s", s.patients, s.requests, s.seconds)).unwrap_or_default(),
        seconds,
        if postgres.is_some() { "PostgreSQL" } else { "SQLite" },
        if db_latency_ms > 0 { format!(", {db_latency_ms} ms added to each database round trip") } else { String::new() },
        ceiling.requests_per_sec,
        ceiling.p50_ms,
        ceiling.p99_ms,
        ceiling.failed,
        ceiling.bytes_per_sec / ceiling.requests_per_sec.max(1.0),
    );
    for endpoint in mix.iter().filter(|e| only.is_none_or(|text| e.name.contains(text))) {
        let cookie = if endpoint.staff { &staff_cookie } else { &patient_cookie };
        let urls: Vec<String> = portals.iter().map(|portal| format!("http://{portal}{}", endpoint.path)).collect();
        let m = wrk(&urls, endpoint.method, &endpoint.body, cookie, seconds, connections, &script)?;
        table.push_str(&format!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} % | {} | {:.0} |\n",
            endpoint.name,
            m.requests_per_sec,
            m.p50_ms,
            m.p99_ms,
            100.0 * m.requests_per_sec / ceiling.requests_per_sec.max(1.0),
            m.failed,
            m.bytes_per_sec / m.requests_per_sec.max(1.0),
        ));
        // The sealer catches up between endpoints, as it would between bursts.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let unsealed = app::backend::audit::unsealed(&db).await.map_err(|e| fail("audit", &e))?;
    table.push_str(&format!("\naudit events left for the sealer at the end: {unsealed}\n"));
    for (stop, server) in running {
        stop.send(()).ok();
        server.await.ok();
    }
    db.close_by_ref().await.ok();
    if let (Some(url), Some(schema)) = (postgres, &schema)
        && let Ok(admin) = sea_orm::Database::connect(url).await
    {
        admin.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.ok();
        admin.close().await.ok();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let report = "Running 10s test @ http://127.0.0.1:3000/\n  2 threads and 64 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.10ms  300.00us   9.00ms   80.00%\n  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    1.50ms\n     99%    2.01s\n  1234567 requests in 10.00s, 150.00MB read\n  Non-2xx or 3xx responses: 12\nRequests/sec: 123456.78\nTransfer/sec:     15.00MB\n";
        let m = parse_wrk(report).expect("read");
        assert!((m.requests_per_sec - 123_456.78).abs() < 0.01);
        assert!((m.p50_ms - 0.812).abs() < 1e-9);
        assert!((m.p99_ms - 2010.0).abs() < 1e-9);
        assert_eq!(m.failed, 12);
        assert!((m.bytes_per_sec - 15.0 * 1024.0 * 1024.0).abs() < 1e-6);
        assert!(parse_wrk("nothing").is_none());
    }
}
