//! Two servers, one database: the mail outbox raced by two servers sends each message once,
//! the daily caregiver job runs once a day between them, and what a server killed in the middle
//! of a send leaves (a leased message) the other sends once the lease has passed.

use crate::portal::{Portal, env_of};
use app::domain::Role;
use portal_tests::{SmtpSink, TestDatabase, count};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const MESSAGES: usize = 40;
/// The line each server logs when it ran the daily rules.
const DAILY_RAN: &str = "caregiver age and expiry rules applied";


async fn execute(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_string())).await.expect("statement");
}

/// One pending notification for `user`, as `notify` leaves it.
async fn pending_mail(db: &DatabaseConnection, user: &str) {
    let sql = format!(
        "INSERT INTO notification (id, user_id, request_id, message, created_at_ms, read_at_ms, emailed_at_ms, mail_attempts, mail_next_at_ms, mail_failed_at_ms, mail_error) VALUES ('{}', '{user}', NULL, 'Access changed.', {}, NULL, NULL, 0, NULL, NULL, NULL)",
        uuid::Uuid::new_v4(),
        app::backend::db::now_ms()
    );
    execute(db, &sql).await;
}

/// An SMTP server that greets and then never answers: a relay that hangs mid-send.
async fn stalling_relay() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("smtp://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let _ = write.write_all(b"220 slow ESMTP\r\n").await;
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(_)) = lines.next_line().await {}
            });
        }
    });
    url
}

/// How many messages the sink holds for each address, and the total.
fn per_recipient(sink: &SmtpSink) -> (usize, std::collections::BTreeMap<String, usize>) {
    let messages = sink.messages();
    let mut seen = std::collections::BTreeMap::new();
    for message in &messages {
        if let Some(to) = message.lines().find_map(|l| l.strip_prefix("To: ")) {
            *seen.entry(to.trim().to_string()).or_insert(0) += 1;
        }
    }
    (messages.len(), seen)
}

/// Polls `sql` (a count) until it gives `expected`, for at most `seconds`.
async fn wait_until(db: &DatabaseConnection, sql: &str, expected: i64, what: &str, seconds: u64) {
    let started = Instant::now();
    while count(db, sql).await != expected {
        assert!(started.elapsed() < Duration::from_secs(seconds), "{what}: not within {seconds} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn run() -> String {
    let database = TestDatabase::create().await;
    let sink = SmtpSink::start().await;
    let mut settings = database.settings();
    settings.smtp_url = Some(sink.url.clone().into());
    let env = env_of(&settings);
    // The first server creates the schema; the suite reads the database on its own connection.
    let mut first = Portal::start(env.clone()).await;
    let db = server::database::connect(&settings).await.expect("the database");
    let mut users_ids = Vec::new();
    for n in 0..MESSAGES {
        users_ids.push(portal_tests::create_account(&db, &settings, &format!("person{n}@example.org"), &[Role::Patient], None).await.id);
    }

    // 1. The daily job: both servers start together on a day nobody has run yet.
    first.kill9();
    execute(&db, "DELETE FROM job_run").await;
    let (mut first, second) = tokio::join!(Portal::start(env.clone()), Portal::start(env.clone()));
    wait_until(&db, "SELECT COUNT(*) FROM job_run WHERE finished_at_ms IS NOT NULL", 1, "the daily rules ran", 30).await;
    let daily_runs = first.log_text().matches(DAILY_RAN).count() + second.log_text().matches(DAILY_RAN).count();
    assert_eq!(daily_runs, 1, "the daily rules ran once between two servers");

    // 2. The outbox raced by two servers: 40 messages, each sent once.
    for user in &users_ids {
        pending_mail(&db, user).await;
    }
    wait_until(&db, "SELECT COUNT(*) FROM notification WHERE emailed_at_ms IS NULL", 0, "every message sent", 60).await;
    // One more outbox tick on both servers: nothing goes twice afterwards either.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (total, seen) = per_recipient(&sink);
    assert_eq!(seen.len(), MESSAGES, "every person got their message: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "nobody got one twice: {seen:?}");
    assert_eq!(total, MESSAGES);

    // 3. A server killed in the middle of a send: its relay hangs, it is killed holding the
    //    message's lease; the other server sends it once the lease has passed.
    drop(second);
    first.kill9();
    let mut slow_settings = settings.clone();
    slow_settings.smtp_url = Some(stalling_relay().await.into());
    let mut stuck = Portal::start(env_of(&slow_settings)).await;
    pending_mail(&db, &users_ids[0]).await;
    wait_until(&db, "SELECT COUNT(*) FROM notification WHERE emailed_at_ms IS NULL AND mail_attempts = 1", 1, "the message leased by the stuck server", 30).await;
    stuck.kill9();
    first = Portal::start(env.clone()).await;
    // Five minutes pass (the lease, MAIL_LEASE_MS): moved on in the database rather than waited.
    let past = app::backend::db::now_ms() - 1;
    execute(&db, &format!("UPDATE notification SET mail_next_at_ms = {past} WHERE emailed_at_ms IS NULL")).await;
    wait_until(&db, "SELECT COUNT(*) FROM notification WHERE emailed_at_ms IS NULL", 0, "the other server sent what the killed one held", 30).await;
    assert_eq!(sink.count(), MESSAGES + 1, "sent once more, not twice");

    // 4. The daily job killed mid-run: today's claim is left unfinished past its lease (as a
    //    server killed during the rules leaves it); the next server to look takes the day over.
    first.kill9();
    let stale = app::backend::db::now_ms() - app::backend::access::DAILY_JOB_LEASE_MS - 1;
    execute(&db, &format!("UPDATE job_run SET finished_at_ms = NULL, at_ms = {stale}")).await;
    let taker = Portal::start(env.clone()).await;
    wait_until(&db, "SELECT COUNT(*) FROM job_run WHERE finished_at_ms IS NOT NULL", 1, "the day taken over", 30).await;
    assert_eq!(taker.log_text().matches(DAILY_RAN).count(), 1, "the rules ran on the server that took the day over");
    drop(db);
    format!(
        "daily rules: 1 run between 2 servers started together; outbox: {MESSAGES} messages raced by 2 servers, each sent once ({total} sent); a server killed holding a message's lease: sent once by the other after the lease; a run killed mid-day: taken over after its lease"
    )
}
