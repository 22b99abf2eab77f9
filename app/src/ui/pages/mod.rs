//! One module per route.

pub mod account;
pub mod activation;
pub mod apps;
pub mod audit_report;
pub mod caregivers;
pub mod desk;
pub mod disclosures;
pub mod download;
pub mod error;
pub mod home;
pub mod import;
pub mod mfa;
pub mod not_found;
pub mod record;
pub mod requests;
pub mod reset;
pub mod shared;
pub mod sign_in;
pub mod staff_patients;
pub mod users;
pub mod verify;
