//! Prometheus metrics at `/metrics` (issue 21), behind a bearer token (`metrics_token`; without
//! one the route does not exist): requests by route pattern and status, latency histograms by
//! route, the database pool, the audit writer's queue and the sealer's lag, the mail outbox's
//! backlog and the sign-ins alive. Labels are route patterns (`/requests/{id}`), methods and
//! status codes: never a raw path, a patient identifier or anything a client typed.

use app::backend::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// What this process has served since it started (process-wide, as Prometheus expects: one
/// scrape per server).
#[derive(Default)]
struct Served {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

static SERVED: LazyLock<Mutex<Served>> = LazyLock::new(Default::default);

/// Counts one answered request (called by the request span middleware, with the route label the
/// log uses).
pub fn observe(route: &str, method: &str, status: u16, seconds: f64) {
    // The site's own files are named by their content: one label for them all.
    let route = if route.starts_with("/pkg/") { "/pkg/{file}" } else { route };
    let mut served = SERVED.lock().unwrap_or_else(|e| e.into_inner());
    *served.requests.entry((route.to_string(), method.to_string(), status)).or_default() += 1;
    let histogram = served.latency.entry(route.to_string()).or_default();
    if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
        histogram.counts[i] += 1;
    }
    histogram.sum += seconds;
    histogram.count += 1;
}

/// A label value as the text format wants it.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn render_served(out: &mut String) {
    let served = SERVED.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str("# HELP portal_http_requests_total Requests answered, by route pattern, method and status.\n# TYPE portal_http_requests_total counter\n");
    for ((route, method, status), n) in &served.requests {
        let _ = writeln!(out, "portal_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}", label(route), label(method));
    }
    out.push_str("# HELP portal_http_request_duration_seconds Time to answer, by route pattern.\n# TYPE portal_http_request_duration_seconds histogram\n");
    for (route, h) in &served.latency {
        let route = label(route);
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(h.counts) {
            cumulative += n;
            let _ = writeln!(out, "portal_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "portal_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "portal_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
        let _ = writeln!(out, "portal_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
    }
}

async fn number(db: &DatabaseConnection, sql: &str) -> Option<i64> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string())).await.ok()??;
    row.try_get_by_index::<Option<i64>>(0).ok().flatten()
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
}

async fn render_state(out: &mut String, state: &AppState) {
    let db = &state.db;
    let (size, idle) = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    gauge(out, "portal_db_pool_connections", "Open database connections of this server.", size);
    gauge(out, "portal_db_pool_idle_connections", "Of those, idle.", idle);
    gauge(out, "portal_audit_queue_depth", "Audited reads waiting for the group commit.", state.audit.depth());
    let now = app::backend::db::now_ms();
    // A query that fails leaves its gauge out rather than failing the scrape.
    if let Some(n) = number(db, "SELECT COUNT(*) FROM audit_event WHERE mac IS NULL").await {
        gauge(out, "portal_audit_unsealed_events", "Committed audit events the sealer has not chained yet.", n);
    }
    if let Some(oldest) = number(db, "SELECT MIN(occurred_at_ms) FROM audit_event WHERE mac IS NULL").await.or(Some(now)) {
        gauge(out, "portal_audit_sealer_lag_seconds", "Age of the oldest unsealed audit event.", (now - oldest).max(0) as f64 / 1000.0);
    }
    if let Some(n) = number(db, "SELECT COUNT(*) FROM notification WHERE emailed_at_ms IS NULL AND mail_failed_at_ms IS NULL").await {
        gauge(out, "portal_mail_outbox_backlog", "Messages waiting to be sent.", n);
    }
    if let Some(n) = number(db, &format!("SELECT COUNT(*) FROM login_session WHERE revoked_at_ms IS NULL AND expires_at_ms > {now}")).await {
        gauge(out, "portal_sessions_alive", "Sign-ins neither ended nor past their absolute limit.", n);
    }
}

/// `GET /metrics` with `Authorization: Bearer <metrics_token>`; anything else is 401 (the route
/// exists only when the token is set).
pub async fn serve(State(state): State<AppState>, headers: HeaderMap, token: std::sync::Arc<secrecy::SecretString>) -> Response {
    use secrecy::ExposeSecret;
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    let expected = token.expose_secret();
    // Compared in constant time: the token is a password.
    let same = given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a bearer token (metrics_token) is required\n").into_response();
    }
    let mut out = String::new();
    render_served(&mut out);
    render_state(&mut out, &state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_pattern_with_latency_buckets() {
        observe("/metrics-test/{id}", "GET", 200, 0.003);
        observe("/metrics-test/{id}", "GET", 200, 0.2);
        observe("/pkg/portal-3f2a.wasm", "GET", 200, 0.001);
        let mut out = String::new();
        render_served(&mut out);
        assert!(out.contains("portal_http_requests_total{route=\"/metrics-test/{id}\",method=\"GET\",status=\"200\"} 2"), "{out}");
        assert!(out.contains("portal_http_request_duration_seconds_bucket{route=\"/metrics-test/{id}\",le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("portal_http_request_duration_seconds_bucket{route=\"/metrics-test/{id}\",le=\"0.25\"} 2"), "{out}");
        assert!(out.contains("route=\"/pkg/{file}\"") && !out.contains("3f2a"), "{out}");
    }
}
