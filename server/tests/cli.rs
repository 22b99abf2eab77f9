//! The `portal` binary as an operator meets it: bad input at start-up gives one line naming the
//! setting and a non-zero exit, never a panic or a backtrace.

#![expect(clippy::expect_used, reason = "test code: a failed step should stop the test with its message")]

use std::process::{Command, Output};

/// Runs the binary with a clean environment (no stray PORTAL_* variables) in a fresh directory.
fn portal(args: &[&str], env: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .env_clear()
        .env("RUST_BACKTRACE", "1")
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .expect("the binary runs");
    (output, dir)
}

fn one_error_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "exit code");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    lines[0].to_string()
}

#[test]
fn a_malformed_setting_stops_start_up_with_one_line() {
    let (output, _dir) = portal(&["serve"], &[("PORTAL_ADDR", "not-an-address")]);
    let line = one_error_line(&output);
    assert!(line.contains("`addr`") && line.contains("PORTAL_ADDR"), "{line}");
}

#[test]
fn an_unknown_database_scheme_stops_start_up_with_one_line() {
    let (output, _dir) = portal(&[], &[("DATABASE_URL", "mysql://root@127.0.0.1/portal")]);
    let line = one_error_line(&output);
    assert!(line.contains("DATABASE_URL") && line.contains("`mysql`"), "{line}");
}

#[test]
fn a_port_in_use_stops_start_up_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let (output, _dir) = portal(&["serve"], &[("PORTAL_ADDR", addr.as_str())]);
    let line = one_error_line(&output);
    assert!(line.contains("PORTAL_ADDR") && line.contains("already in use"), "{line}");
}

#[test]
fn rolling_back_an_empty_database_says_so_and_exits_0() {
    let (output, dir) = portal(&["migrate", "down"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("No migrations are applied; nothing to roll back."), "{stdout}");
    assert!(dir.path().join("data/portal.db").exists(), "the SQLite file is created under data_dir on first run");
}

#[test]
fn migrate_status_lists_the_migrations() {
    let (output, _dir) = portal(&["migrate", "status"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Pending") && stdout.contains("create_session"), "{stdout}");
}
