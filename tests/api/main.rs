//! Integration tests against the real router. One binary (faster to link); one module per area.

#![expect(clippy::expect_used, reason = "test code: a failed step should stop the test with its message")]

mod access;
mod activation;
mod audit;
mod audit_report;
mod caregivers;
mod auth;
mod concurrency;
mod demo;
mod deploy;
mod health;
mod import;
mod instant_copies;
mod mfa;
mod oidc;
mod migrations;
mod pages;
mod record;
mod release;
mod release_copies;
mod release_desk;
mod reset;
mod scale_out;
mod seed;
mod segmentation;
mod security_headers;
mod sessions;
mod smart;
mod smart_fhir;
mod startup;
mod upload;
mod users;
