//! `AppError`: the one error type a client (browser or API caller) sees.
//!
//! Causes stay on the server: an internal failure is logged there with its whole source chain and
//! a reference id ([`crate::domain::ErrorRef`]); the client gets only the id, which a patient can
//! read to the help desk.

use crate::domain::ErrorRef;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

pub use crate::domain::FieldError;

/// Every failure a client can be told about. Messages are safe to show as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthenticated,
    /// Also the answer for another patient's data: the response must not reveal that it exists.
    #[error("We could not find that page or record.")]
    NotFound,
    #[error("Please correct the fields marked below.")]
    Validation { fields: Vec<FieldError> },
    #[error("{message}")]
    Conflict { message: String },
    /// Something that existed and has expired (a released copy past its download period).
    #[error("{message}")]
    Gone { message: String },
    #[error("Too many attempts. Please wait {retry_after_secs} seconds and try again.")]
    RateLimited { retry_after_secs: u64 },
    /// One answer for an unknown email, a wrong password and a disabled account.
    #[error("The email address or password is not right. Check them and try again.")]
    InvalidCredentials,
    /// Too many failed sign-ins for this email or from this device; says nothing about whether
    /// the account exists.
    #[error("Sign-in is locked after too many attempts. Try again in {} minute(s), or reset your password.", retry_after_secs.div_ceil(60))]
    Locked { retry_after_secs: u64 },
    #[error("Something went wrong on our side. If it keeps happening, quote reference {ref_id}.")]
    Internal { ref_id: ErrorRef },
    /// The request never reached the server, or its answer could not be read.
    #[error("The portal could not be reached. Check your connection and try again.")]
    Unreachable,
    /// A service the portal depends on (an OpenID provider) does not answer.
    #[error("{message}")]
    Unavailable { message: String },
    /// A malformed request (missing or unreadable arguments), not a person's typing mistake;
    /// `field` names the argument when it is known.
    #[error("The request could not be understood. Please reload the page and try again.")]
    BadRequest {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

impl AppError {
    /// A malformed request whose faulty argument is not named.
    pub fn bad_request() -> Self {
        AppError::BadRequest { field: None }
    }

    /// The HTTP status that goes with the error: one match, used by every handler.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::NotFound => 404,
            AppError::Validation { .. } => 422,
            AppError::Conflict { .. } => 409,
            AppError::Gone { .. } => 410,
            AppError::RateLimited { .. } | AppError::Locked { .. } => 429,
            AppError::InvalidCredentials => 401,
            AppError::BadRequest { .. } => 400,
            AppError::Unreachable | AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Deserialization(_) => {
                AppError::Unreachable
            }
            // The decoder names a missing argument ("missing field `page`"); other failures
            // are named by the server from the submitted form (server/src/api_errors.rs).
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => AppError::BadRequest {
                field: message.split('`').nth(1).filter(|_| message.contains("missing field")).map(str::to_string),
            },
            ServerFnErrorErr::UnsupportedRequestMethod(_) => AppError::bad_request(),
            other => AppError::Internal {
                ref_id: ErrorRef::for_framework_error(&other.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_patients_record_and_a_missing_one_look_the_same() {
        // HOUSE-STYLE: another patient's data answers 404, never 403.
        assert_eq!(AppError::NotFound.status_code(), 404);
    }

    #[test]
    fn internal_errors_show_only_the_reference() {
        let ref_id = ErrorRef::parse("E-7F3A9C2D").expect("valid reference");
        let shown = AppError::Internal { ref_id }.to_string();
        assert!(shown.contains("E-7F3A9C2D"), "{shown}");
        assert!(!shown.to_lowercase().contains("sql"), "{shown}");
    }

    #[test]
    fn errors_round_trip_through_the_wire_format() {
        let err = AppError::Validation {
            fields: vec![FieldError { field: "email".into(), message: "Enter an email address.".into() }],
        };
        let bytes = err.ser();
        assert_eq!(AppError::de(bytes), err);
    }

    #[test]
    fn transport_failures_are_not_reported_as_server_bugs() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert_eq!(e, AppError::Unreachable);
        let e = AppError::from_server_fn_error(ServerFnErrorErr::MissingArg("size".into()));
        assert_eq!(e, AppError::bad_request());
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field `page`".into()));
        assert_eq!(e, AppError::BadRequest { field: Some("page".into()) });
    }
}
