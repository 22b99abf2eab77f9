//! Pure domain types and rules: no async, no I/O, no database, no Leptos.
//! Newtypes have private fields and a `parse` constructor, so an invalid value cannot exist.

mod account_form;
mod audit_action;
mod audit_report;
mod text_enum;
pub(crate) use text_enum::text_enum;
pub mod caregiver;
mod date;
mod email;
mod error_ref;
mod field_error;
mod import;
mod navigation;
mod password;
mod patient;
mod provider;
mod record;
pub mod release;
mod role;
mod sensitive;
pub mod smart;

pub use account_form::{Activation, ActivationForm, Registration, RegistrationForm, StaffUserForm, check_display_name};
pub use audit_action::AuditAction;
pub use audit_report::{AuditReportForm, AuditReportQuery, AuditReportRow, AuditSort, to_csv};
pub use date::{DateError, IsoDate, format_utc_minutes, format_utc_seconds, readable_day, readable_when};
pub use email::{EmailAddress, EmailError, MAX_EMAIL_LEN};
pub use error_ref::{ErrorRef, ErrorRefParseError};
pub use field_error::{FieldError, MAX_SEARCH_CHARS, search_text};
pub use navigation::{SafeNext, after_sign_in, landing_page, percent, query_pairs, safe_next};
pub use import::{DuplicateDecision, DuplicatePair, ImportRunRow};
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PasswordError, check_length};
pub use patient::{ActivationLetter, LinkFacts, LinkPreview, Mrn, PendingVerification, link_differences, NewPatient, PatientForm, PatientSummary, Sex};
pub use record::{
    CodeView, DocumentRow, DocumentView, Flag, ItemRow, ListFilter, ListPage, PAGE_SIZE, Range, RecordOverview, Section, Trend,
    TrendPoint, VisitView, format_value, html_to_text, system_name,
};
pub use provider::ProviderInfo;
pub use role::Role;
pub use sensitive::Category;
