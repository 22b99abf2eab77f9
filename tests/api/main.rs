//! Integration tests against the real router. One binary (faster to link); one module per area.

mod health;
mod migrations;
mod pages;
mod security_headers;
mod sessions;
mod startup;
