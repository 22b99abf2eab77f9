//! The audit trail is append-only and tamper-evident: the hash chain verifies, an edited or
//! deleted row is named, and on PostgreSQL the database itself refuses changes.

use app::backend::audit::{self, AuditAction, AuditEvent, ChainReport, Outcome};
use app::backend::request::RequestMeta;
use app::domain::Role;
use portal_tests::{TestBackend, spawn_app};
use sea_orm::ConnectionTrait;

async fn some_events(app: &portal_tests::TestApp) {
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    app.sign_in(&client, "ana@example.org", "the wrong password").await;
    app.call(&client, "sign_out", &[]).await;
}

async fn allow_tampering(app: &portal_tests::TestApp) {
    if app.backend == TestBackend::Postgres {
        // The test connects as a superuser, who can switch the guard off, as an attacker with
        // full database access could. The chain must still tell.
        app.db.execute_unprepared("ALTER TABLE audit_event DISABLE TRIGGER USER").await.expect("disable triggers");
    }
}

#[tokio::test]
async fn an_untouched_trail_verifies() {
    let app = spawn_app().await;
    some_events(&app).await;
    let rows = app.audit_rows().await;
    assert!(rows.len() >= 5, "user, role, login, failed login, logout: {}", rows.len());
    assert!(rows.windows(2).all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1));
    match audit::verify(&app.db).await.expect("verify") {
        ChainReport::Intact { rows: n, head_hash } => {
            assert_eq!(n, rows.len() as i64);
            assert_eq!(head_hash, rows.last().expect("rows").hash);
        }
        other => panic!("expected an intact chain, got {other:?}"),
    }
}

#[tokio::test]
async fn an_edited_row_is_named() {
    let app = spawn_app().await;
    some_events(&app).await;
    allow_tampering(&app).await;
    app.db
        .execute_unprepared("UPDATE audit_event SET outcome = 'success' WHERE seq = 4")
        .await
        .expect("tampered");
    assert_eq!(audit::verify(&app.db).await.expect("verify"), ChainReport::Altered { seq: 4 });
}

#[tokio::test]
async fn a_deleted_row_is_named() {
    let app = spawn_app().await;
    some_events(&app).await;
    allow_tampering(&app).await;
    app.db.execute_unprepared("DELETE FROM audit_event WHERE seq = 2").await.expect("tampered");
    assert_eq!(audit::verify(&app.db).await.expect("verify"), ChainReport::Missing { seq: 2 });
}

#[tokio::test]
async fn deleting_the_newest_rows_is_caught_by_the_head() {
    let app = spawn_app().await;
    some_events(&app).await;
    let last = app.audit_rows().await.last().expect("rows").seq;
    allow_tampering(&app).await;
    app.db.execute_unprepared(&format!("DELETE FROM audit_event WHERE seq = {last}")).await.expect("tampered");
    assert_eq!(audit::verify(&app.db).await.expect("verify"), ChainReport::Missing { seq: last });
}

#[tokio::test]
async fn postgresql_refuses_to_change_or_delete_audit_rows() {
    let app = spawn_app().await;
    if app.backend != TestBackend::Postgres {
        return; // The trigger exists only on PostgreSQL; SQLite relies on the chain alone.
    }
    some_events(&app).await;
    for statement in ["UPDATE audit_event SET outcome = 'success'", "DELETE FROM audit_event", "TRUNCATE audit_event"] {
        let refused = app.db.execute_unprepared(statement).await.expect_err("refused");
        assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
    }
    assert!(matches!(audit::verify(&app.db).await.expect("verify"), ChainReport::Intact { .. }));
}

#[tokio::test]
async fn concurrent_writers_keep_one_unbroken_chain() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let db = app.db.clone();
        tasks.push(tokio::spawn(async move {
            let event = AuditEvent::new(AuditAction::PatientSearch, Outcome::Success, &RequestMeta::command_line())
                .detail(format!("n={n}"));
            audit::record_alone(&db, event).await
        }));
    }
    for task in tasks {
        task.await.expect("joined").expect("recorded");
    }
    match audit::verify(&app.db).await.expect("verify") {
        ChainReport::Intact { rows, .. } => assert_eq!(rows, 40),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_event_rolls_back_with_the_change_it_describes() {
    let app = spawn_app().await;
    let txn = app::backend::db::write_transaction(&app.db).await.expect("begin");
    audit::record(&txn, AuditEvent::new(AuditAction::PatientCreate, Outcome::Success, &RequestMeta::command_line()))
        .await
        .expect("recorded");
    txn.rollback().await.expect("rolled back");
    assert!(app.audit_rows().await.is_empty());
    assert!(matches!(audit::verify(&app.db).await.expect("verify"), ChainReport::Intact { rows: 0, .. }));
}
