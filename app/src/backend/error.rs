//! Server-side failures: [`BackendError`] names every cause the backend can meet (database,
//! sealing, PDF, FHIR, I/O, a stored value that does not parse), and one conversion turns it into
//! the client-safe [`AppError`]: the cause is logged with its whole source chain and a fresh
//! reference id; the client gets only the id.
//!
//! `?` does the conversion, so code that reads the database returns `Result<_, AppError>` and
//! never maps errors by hand. Which door method failed is on the log line through its tracing
//! span (`#[tracing::instrument]` on the access context's methods).

use crate::domain::{ErrorRef, FieldError};
use crate::error::AppError;
use sea_orm::{DbErr, SqlErr};
use std::error::Error as StdError;
use std::fmt::Write as _;

/// Every server-side cause of an internal error. Messages carry no health information: database
/// and I/O errors do not, and a corrupt value is named by its table and column, never its content.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("database")]
    Db(#[from] DbErr),
    #[error("sealing or opening a file")]
    Seal(#[from] super::copies::seal::SealError),
    #[error("rendering a PDF")]
    Pdf(#[from] super::copies::pdf::PdfError),
    #[error("reading a FHIR date")]
    FhirDate(#[from] super::fhir::dates::FhirDateError),
    #[error("i/o")]
    Io(#[from] std::io::Error),
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("writing JSON")]
    Json(#[from] serde_json::Error),
    /// A value read from the database that does not parse: an error with a reference id, never a
    /// default that would turn a damaged row into a wrong answer.
    #[error("stored value {table}.{column} does not parse")]
    Corrupt { table: &'static str, column: &'static str },
    /// Application state missing from the request context (a wiring mistake).
    #[error("{0} missing from the request context")]
    Missing(&'static str),
}

impl BackendError {
    /// A stored value of `table.column` that does not parse.
    pub fn corrupt(table: &'static str, column: &'static str) -> Self {
        BackendError::Corrupt { table, column }
    }
}

/// Reading a stored value: a value that does not parse is [`BackendError::Corrupt`] (an error with
/// a reference id), never a default. `Status::parse(&row.status).stored("release_request", "status")?`
pub trait Stored<T> {
    fn stored(self, table: &'static str, column: &'static str) -> Result<T, BackendError>;
}

impl<T> Stored<T> for Option<T> {
    fn stored(self, table: &'static str, column: &'static str) -> Result<T, BackendError> {
        self.ok_or(BackendError::Corrupt { table, column })
    }
}

impl<T, E> Stored<T> for Result<T, E> {
    fn stored(self, table: &'static str, column: &'static str) -> Result<T, BackendError> {
        self.map_err(|_| BackendError::Corrupt { table, column })
    }
}

impl From<BackendError> for AppError {
    fn from(error: BackendError) -> Self {
        let context = error.to_string();
        match &error {
            BackendError::Db(e) => internal(&context, e),
            BackendError::Seal(e) => internal(&context, e),
            BackendError::Pdf(e) => internal(&context, e),
            BackendError::FhirDate(e) => internal(&context, e),
            BackendError::Io(e) => internal(&context, e),
            BackendError::Task(e) => internal(&context, e),
            BackendError::Json(e) => internal(&context, e),
            BackendError::Corrupt { .. } | BackendError::Missing(_) => internal(&context, &error),
        }
    }
}

/// `?` from each cause straight into [`AppError`], through [`BackendError`].
macro_rules! into_app_error {
    ($($cause:ty),* $(,)?) => {$(
        impl From<$cause> for AppError {
            fn from(error: $cause) -> Self {
                BackendError::from(error).into()
            }
        }
    )*};
}
into_app_error!(
    DbErr,
    super::copies::seal::SealError,
    super::copies::pdf::PdfError,
    super::fhir::dates::FhirDateError,
    std::io::Error,
    tokio::task::JoinError,
    serde_json::Error,
);

/// What a failed insert or update means to the person: a unique constraint that was broken
/// becomes the field error `field` with `message` (the value is taken); anything else is an
/// internal error. Use for the constraints a person can break by typing a duplicate.
pub fn unique_or(error: DbErr, field: &str, message: &str) -> AppError {
    if is_unique_violation(&error) {
        AppError::Validation { fields: vec![FieldError { field: field.into(), message: message.into() }] }
    } else {
        error.into()
    }
}

/// Whether `error` is a unique-constraint violation (two writers raced, or a duplicate value).
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Logs `cause` (never shown to the client) and returns `AppError::Internal` with a new reference.
///
/// Callers must make sure `cause` carries no health information: database and I/O errors do not.
pub fn internal(context: &str, cause: &(dyn StdError + 'static)) -> AppError {
    let ref_id = ErrorRef::from_bits(random_bits());
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(inner) = source {
        let _ = write!(chain, ": {inner}");
        source = inner.source();
    }
    tracing::error!(error.ref_id = %ref_id, error.cause = %chain, "{context}");
    AppError::Internal { ref_id }
}

fn random_bits() -> u32 {
    // A v4 UUID is 122 random bits from the OS generator; 32 of them make the reference.
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Sets the HTTP status of the current server-function response from the error, so API callers
/// and tests see 404, 422, 500... rather than the framework's blanket 500.
///
/// Not for requests that accept HTML: a plain form post must keep the 302 back to the form (which
/// carries the error in its query string), and a page rendered on the server must not take the
/// status of one of its data calls.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    let accepts_html = leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false);
    if let Err(error) = &result
        && !accepts_html
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status_code())
    {
        response.set_status(status);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_get_distinct_references() {
        let io = std::io::Error::other("disk full");
        let a = internal("test", &io);
        let b = internal("test", &io);
        assert!(matches!(a, AppError::Internal { .. }));
        assert_ne!(a, b, "each failure gets its own reference");
    }

    #[test]
    fn a_corrupt_stored_value_is_an_internal_error_not_a_default() {
        let error: AppError = BackendError::corrupt("release_request", "status").into();
        assert!(matches!(error, AppError::Internal { .. }), "{error:?}");
    }

    #[test]
    fn database_errors_convert_with_the_question_mark() {
        fn fails() -> Result<(), AppError> {
            Err(DbErr::Custom("connection reset".into()))?;
            Ok(())
        }
        assert!(matches!(fails(), Err(AppError::Internal { .. })));
    }
}
