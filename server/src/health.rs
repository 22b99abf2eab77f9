//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers and its schema is
//! current), both JSON, for load balancers and orchestrators. No session, no personal data.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sea_orm::DatabaseConnection;
use serde_json::json;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(db): State<DatabaseConnection>) -> impl IntoResponse {
    // A load balancer's check times out after a few seconds: a database that does not answer
    // within two is reported as failing rather than leaving the check hanging on the pool. The
    // two seconds cover both questions: a database that went away between the ping and the
    // migrations query once kept a check waiting through a whole outage, then answered "ready"
    // (the fault suite's PostgreSQL restart).
    let checks = async {
        let database = db.ping().await.is_ok();
        let migrations = database && crate::database::migrations_current(&db).await.unwrap_or(false);
        (database, migrations)
    };
    let (database, migrations) = tokio::time::timeout(std::time::Duration::from_secs(2), checks).await.unwrap_or((false, false));
    let ready = database && migrations;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let check = |ok: bool| if ok { "ok" } else { "failing" };
    if !ready {
        tracing::warn!(database, migrations, "readiness check failed");
    }
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "checks": { "database": check(database), "migrations": check(migrations) },
        })),
    )
}
