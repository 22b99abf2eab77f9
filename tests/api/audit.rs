//! The audit trail is append-only and cannot be rewritten quietly: the sealer chains committed
//! events under `audit_key`, and `verify` names what was edited, deleted, cut short, rebuilt with
//! another key or left unguarded (issue 21). Both databases refuse changes themselves.

use app::backend::audit::{self, AuditAction, AuditEvent, AuditKey, ChainReport, Outcome};
use app::backend::entities::audit_event;
use app::backend::request::RequestMeta;
use app::domain::Role;
use portal_tests::{TestApp, TestBackend, spawn_app, spawn_app_with};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

async fn some_events(app: &TestApp) {
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, "ana@example.org").await;
    app.sign_in(&client, "ana@example.org", "the wrong password").await;
    app.call(&client, "sign_out", &[]).await;
}

/// What an attacker with full database access does first: switch the guards off.
async fn allow_tampering(app: &TestApp) {
    let statements: &[&str] = match app.backend {
        TestBackend::Postgres => &["ALTER TABLE audit_event DISABLE TRIGGER USER", "ALTER TABLE audit_checkpoint DISABLE TRIGGER USER"],
        TestBackend::Sqlite => &[
            "DROP TRIGGER audit_event_no_update",
            "DROP TRIGGER audit_event_no_delete",
            "DROP TRIGGER audit_checkpoint_no_update",
            "DROP TRIGGER audit_checkpoint_no_delete",
        ],
    };
    for statement in statements {
        app.db.execute_unprepared(statement).await.expect("guard off");
    }
}

fn sealed_rows(rows: &[audit_event::Model]) -> Vec<i64> {
    let mut numbers: Vec<i64> = rows.iter().filter_map(|r| r.sealed_no).collect();
    numbers.sort();
    numbers
}

#[tokio::test]
async fn an_untouched_trail_verifies_with_its_external_checkpoint() {
    let app = spawn_app().await;
    some_events(&app).await;
    let sealed = app.seal_audit().await;
    let rows = app.audit_rows().await;
    assert!(rows.len() >= 5, "user, role, login, failed login, logout: {}", rows.len());
    assert_eq!(sealed, rows.len() as i64);
    assert_eq!(sealed_rows(&rows), (1..=sealed).collect::<Vec<_>>(), "one place in the chain each, none skipped");
    match app.verify_audit().await {
        ChainReport::Intact { sealed: n, pending, checkpoint, .. } => {
            assert_eq!((n, pending), (sealed, 0));
            assert_eq!(checkpoint, Some(sealed), "the file outside the database names the end of the chain");
        }
        other => panic!("expected an intact trail, got {other:?}"),
    }
    let file = std::fs::read_to_string(app.settings.audit_sealer().checkpoint_file.expect("a file")).expect("checkpoint file");
    assert!(file.lines().last().is_some_and(|l| l.contains(&format!("\"sealed_no\":{sealed}"))), "{file}");
}

#[tokio::test]
async fn an_edited_row_is_named() {
    let app = spawn_app().await;
    some_events(&app).await;
    app.seal_audit().await;
    allow_tampering(&app).await;
    app.db.execute_unprepared("UPDATE audit_event SET outcome = 'success' WHERE sealed_no = 4").await.expect("tampered");
    let edited = app.audit_rows().await.into_iter().find(|r| r.sealed_no == Some(4)).expect("row 4");
    assert_eq!(app.verify_audit().await, ChainReport::Altered { seq: edited.seq });
}

#[tokio::test]
async fn a_row_rewritten_and_its_chain_recomputed_without_the_key_is_named() {
    let secret = "c2VjcmV0LWtleS1vZi10aGlzLWhvc3BpdGFsLTAwMDA=";
    let app = spawn_app_with(|s| s.audit_key = Some(secret.to_string().into())).await;
    some_events(&app).await;
    app.seal_audit().await;
    allow_tampering(&app).await;
    // The attacker rewrites the third event and reseals it and every later event the way the
    // portal does, with the only key they can find: the development key in the source code.
    app.db.execute_unprepared("UPDATE audit_event SET actor_user_id = NULL WHERE sealed_no = 3").await.expect("rewritten");
    let rows = audit_event::Entity::find().order_by_asc(audit_event::Column::SealedNo).all(&app.db).await.expect("rows");
    let guess = AuditKey::development();
    let mut prev = rows[1].mac.clone().expect("sealed");
    for row in rows.iter().skip(2) {
        let no = row.sealed_no.expect("sealed");
        prev = guess.seal_event(row, no, &prev);
        app.db.execute_unprepared(&format!("UPDATE audit_event SET mac = '{prev}' WHERE seq = {}", row.seq)).await.expect("resealed");
    }
    assert_eq!(app.verify_audit().await, ChainReport::Altered { seq: rows[2].seq });
}

#[tokio::test]
async fn a_deleted_row_is_named() {
    let app = spawn_app().await;
    some_events(&app).await;
    app.seal_audit().await;
    allow_tampering(&app).await;
    app.db.execute_unprepared("DELETE FROM audit_event WHERE sealed_no = 2").await.expect("tampered");
    assert_eq!(app.verify_audit().await, ChainReport::Missing { sealed_no: 2 });
}

#[tokio::test]
async fn deleting_the_newest_rows_and_their_checkpoints_is_caught_by_the_file_outside_the_database() {
    let app = spawn_app().await;
    some_events(&app).await;
    let sealed = app.seal_audit().await;
    allow_tampering(&app).await;
    app.db
        .execute_unprepared(&format!("DELETE FROM audit_event WHERE sealed_no > {}", sealed - 2))
        .await
        .expect("tail deleted");
    app.db.execute_unprepared("DELETE FROM audit_checkpoint").await.expect("checkpoints deleted");
    assert_eq!(app.verify_audit().await, ChainReport::Truncated { checkpoint: sealed, sealed: sealed - 2 });
}

#[tokio::test]
async fn a_dropped_trigger_is_reported_even_when_no_row_was_touched() {
    let app = spawn_app().await;
    some_events(&app).await;
    app.seal_audit().await;
    let (statement, trigger) = match app.backend {
        TestBackend::Postgres => ("DROP TRIGGER audit_event_append_only ON audit_event", "audit_event_append_only"),
        TestBackend::Sqlite => ("DROP TRIGGER audit_event_no_delete", "audit_event_no_delete"),
    };
    app.db.execute_unprepared(statement).await.expect("dropped");
    assert_eq!(app.verify_audit().await, ChainReport::Unguarded { trigger: trigger.into() });
    if app.backend == TestBackend::Postgres {
        // Disabling counts as dropping.
        app.db.execute_unprepared("ALTER TABLE audit_checkpoint DISABLE TRIGGER audit_checkpoint_no_truncate").await.expect("disabled");
        app.db
            .execute_unprepared("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()")
            .await
            .expect("restored");
        assert_eq!(app.verify_audit().await, ChainReport::Unguarded { trigger: "audit_checkpoint_no_truncate".into() });
    }
}

#[tokio::test]
async fn verifying_with_another_key_says_so() {
    let app = spawn_app().await;
    some_events(&app).await;
    app.seal_audit().await;
    let other = AuditKey::from_bytes([7; 32]);
    let file = app.settings.audit_sealer().checkpoint_file;
    let report = audit::verify(&app.db, &other, file.as_deref()).await.expect("verified");
    assert_eq!(report, ChainReport::WrongKey { sealed_with: AuditKey::development().id().into(), configured: other.id().into() });
    // Without the file, the checkpoints in the database say the same.
    let report = audit::verify(&app.db, &other, None).await.expect("verified");
    assert!(matches!(report, ChainReport::WrongKey { .. }), "{report:?}");
}

#[tokio::test]
async fn both_databases_refuse_to_change_or_delete_audit_rows() {
    let app = spawn_app().await;
    some_events(&app).await;
    app.seal_audit().await;
    let mut statements = vec![
        "UPDATE audit_event SET outcome = 'success'",
        // Sealed rows keep their seal: the sealer's one update cannot be made twice.
        "UPDATE audit_event SET mac = NULL, sealed_no = NULL",
        "DELETE FROM audit_event",
        "UPDATE audit_checkpoint SET sealed_no = sealed_no + 100",
        "DELETE FROM audit_checkpoint",
    ];
    if app.backend == TestBackend::Postgres {
        statements.extend(["TRUNCATE audit_event", "TRUNCATE audit_checkpoint"]);
    }
    for statement in statements {
        let refused = app.db.execute_unprepared(statement).await.expect_err("refused");
        assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
    }
    // An unsealed row cannot be edited before the sealer reaches it either.
    audit::record_alone(&app.db, AuditEvent::new(AuditAction::PatientSearch, Outcome::Success, &RequestMeta::command_line())).await.expect("recorded");
    let refused = app.db.execute_unprepared("UPDATE audit_event SET outcome = 'denied' WHERE mac IS NULL").await.expect_err("refused");
    assert!(refused.to_string().contains("append-only"), "{refused}");
    app.seal_audit().await;
    assert!(matches!(app.verify_audit().await, ChainReport::Intact { pending: 0, .. }));
}

#[tokio::test]
async fn concurrent_writers_and_two_sealers_keep_one_unbroken_chain() {
    let app = spawn_app().await;
    let sink = audit::AuditSink::start(app.db.clone());
    let mut tasks = Vec::new();
    for n in 0..60 {
        let (db, sink) = (app.db.clone(), sink.clone());
        tasks.push(tokio::spawn(async move {
            let event = AuditEvent::new(AuditAction::PatientSearch, Outcome::Success, &RequestMeta::command_line()).detail(format!("n={n}"));
            // Half alone (a change's own transaction), half through the group commit (reads).
            if n % 2 == 0 { audit::record_alone(&db, event).await } else { sink.record(event).await }
        }));
    }
    // Two more sealers race the server's own while the events arrive.
    let sealers: Vec<_> = (0..2)
        .map(|_| {
            let (db, sealer) = (app.db.clone(), app.settings.audit_sealer());
            tokio::spawn(async move {
                for _ in 0..10 {
                    sealer.seal(&db).await.expect("sealed");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("joined").expect("recorded");
    }
    for sealer in sealers {
        sealer.await.expect("joined");
    }
    assert_eq!(app.seal_audit().await, 60);
    assert_eq!(sealed_rows(&app.audit_rows().await), (1..=60).collect::<Vec<_>>());
    assert!(matches!(app.verify_audit().await, ChainReport::Intact { sealed: 60, pending: 0, .. }));
}

#[tokio::test]
async fn verification_beside_a_live_server_raises_no_false_alarm() {
    let app = spawn_app().await;
    let writing = {
        let db = app.db.clone();
        let sink = audit::AuditSink::start(db.clone());
        tokio::spawn(async move {
            for n in 0..300 {
                let event = AuditEvent::new(AuditAction::PatientRead, Outcome::Success, &RequestMeta::command_line()).detail(format!("n={n}"));
                sink.record(event).await.expect("recorded");
            }
        })
    };
    // The server's sealer runs meanwhile, and checkpoints on every round.
    let (db, mut sealer) = (app.db.clone(), app.settings.audit_sealer());
    sealer.checkpoint_ms = 0;
    let sealing = tokio::spawn(async move {
        for _ in 0..60 {
            sealer.seal(&db).await.expect("sealed");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    let mut checks = 0;
    while !writing.is_finished() || !sealing.is_finished() {
        let report = app.verify_audit().await;
        assert!(matches!(report, ChainReport::Intact { .. }), "check {checks}: {report}");
        checks += 1;
    }
    writing.await.expect("joined");
    sealing.await.expect("joined");
    assert!(checks > 1, "verification ran while the trail grew ({checks} checks)");
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
    assert!(matches!(app.verify_audit().await, ChainReport::Intact { sealed: 0, pending: 0, .. }));
}

#[tokio::test]
async fn every_list_of_patients_or_their_requests_is_audited_without_the_searched_name() {
    let app = spawn_app().await;
    app.create_user("sam@example.org", &[Role::HimStaff, Role::HimReviewer, Role::Administrator], None).await;
    let sam = app.new_client();
    app.login_as(&sam, "sam@example.org").await;
    app.call_ok(&sam, "request_queue", &[("filter[q]", "Smithson")]).await;
    for endpoint in ["request_queue", "review_queue", "representative_queue", "pending_verifications", "import_runs"] {
        app.call_ok(&sam, endpoint, &[]).await;
    }
    app.call_ok(&sam, "list_users", &[("q", "sam")]).await;
    let details: Vec<String> = app.audit("list_read", "success").await.into_iter().map(|r| r.detail.unwrap_or_default()).collect();
    for expected in [
        "request_queue; rows=0; searched",
        "request_queue; rows=0",
        "review_queue; rows=0",
        "representative_queue; rows=0",
        "pending_verifications; rows=0",
        "import_runs; rows=0",
        "users; rows=1; searched",
    ] {
        assert!(details.iter().any(|d| d == expected), "{expected} in {details:?}");
    }
    assert!(details.iter().all(|d| !d.contains("Smithson") && !d.contains("sam")), "never the searched text: {details:?}");
    let actor = app.audit("list_read", "success").await[0].actor_user_id.clone();
    assert!(actor.is_some(), "who read it");
}
