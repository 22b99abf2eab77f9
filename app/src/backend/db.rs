//! Transactions the way this portal needs them on both databases.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Begins a transaction that will write. On SQLite it starts `IMMEDIATE`, taking the write lock
/// up front (waiting out `busy_timeout`), so a read followed by a write cannot fail half-way with
/// `SQLITE_BUSY`; PostgreSQL ignores the option.
pub async fn write_transaction(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Milliseconds since the Unix epoch: the portal's stored instant.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Today's date in UTC. Legal clocks use the hospital's day instead (`SiteClock::today`); this
/// is for jobs that have no site clock at hand and only compare dates roughly.
pub fn today() -> crate::domain::IsoDate {
    let now = time::OffsetDateTime::now_utc().date();
    crate::domain::IsoDate::from_parts(now.year().clamp(1850, 9999) as u16, u8::from(now.month()).into(), now.day().into())
        .unwrap_or_else(|_| unreachable!("a calendar date is a valid date"))
}

/// A statement written with `$1`, `$2`: PostgreSQL's own; SQLite reads the same numbers as `?1`,
/// `?2`.
pub fn numbered(backend: sea_orm::DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
    let text = if backend == sea_orm::DbBackend::Sqlite { sql.replace('$', "?") } else { sql.to_string() };
    sea_orm::Statement::from_sql_and_values(backend, text, values)
}
