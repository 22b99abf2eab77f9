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

/// Runs the binary in `dir` (so several commands share one SQLite database), feeding `stdin`.
fn portal_in(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .env_clear()
        .env("PORTAL_LOG_LEVEL", "warn")
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("written");
    child.wait_with_output().expect("finished")
}

#[test]
fn the_first_administrator_comes_from_the_command_line_and_the_trail_verifies() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let created = portal_in(
        dir.path(),
        &["admin", "create-user", "--email", "Root@Example.org", "--name", "Rosa Root", "--role", "administrator"],
        "",
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(created.status.success(), "{stdout} {}", String::from_utf8_lossy(&created.stderr));
    assert!(stdout.contains("Created root@example.org with role(s) administrator."), "{stdout}");
    let temporary = stdout.lines().find_map(|l| l.strip_prefix("Temporary password (shown once; change it after signing in): "));
    assert_eq!(temporary.map(str::len), Some(20), "{stdout}");

    let again = portal_in(
        dir.path(),
        &["admin", "create-user", "--email", "root@example.org", "--name", "Rosa", "--role", "him_staff", "--password-stdin"],
        "a perfectly good passphrase\n",
    );
    let line = one_error_line(&again);
    assert!(line.contains("already exists"), "{line}");

    let granted = portal_in(dir.path(), &["admin", "grant-role", "--email", "root@example.org", "--role", "him_reviewer"], "");
    assert!(String::from_utf8_lossy(&granted.stdout).contains("Granted him_reviewer"), "{granted:?}");

    let verified = portal_in(dir.path(), &["verify-audit"], "");
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    // No server ran to seal them: the three events wait for the sealer, guarded by the triggers.
    assert!(stdout.starts_with("The audit trail is intact: 0 sealed event(s), 3 awaiting the sealer"), "user, role, role: {stdout}");
}

#[test]
fn weak_passwords_and_unknown_roles_are_refused_on_the_command_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let weak = portal_in(
        dir.path(),
        &["admin", "create-user", "--email", "a@example.org", "--name", "A", "--role", "administrator", "--password-stdin"],
        "password1234\n",
    );
    let line = one_error_line(&weak);
    assert!(line.contains("too common"), "{line}");

    let role = portal_in(dir.path(), &["admin", "create-user", "--email", "a@example.org", "--name", "A", "--role", "root"], "");
    assert_eq!(role.status.code(), Some(2), "clap usage error");
    assert!(String::from_utf8_lossy(&role.stderr).contains("unknown role `root`"));
}

#[test]
fn import_tries_every_file_and_exits_1_when_one_failed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/fhir/synthea");
    let good = format!("{fixtures}/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json");
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, "{\"resourceType\":\"Bundle\",\n\"type\":\"collection\",\n\"entry\":[").expect("write");
    let bad = bad.display().to_string();
    let data = dir.path().join("data").display().to_string();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_portal"))
            .args(["import", bad.as_str(), good.as_str()])
            .env_clear()
            .env("PORTAL_DATA_DIR", &data)
            .env("PORTAL_LOG_LEVEL", "warn")
            .output()
            .expect("the binary runs")
    };
    let output = run();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("FAILED") && stdout.contains("broken.json") && stdout.contains("line 3"), "{stdout}");
    assert!(stdout.contains("Zandra428 O'Hara248") && stdout.contains("66 resources: 66 new"), "the good file after the bad one: {stdout}");
    assert!(stdout.contains("2 file(s): 1 imported, 1 failed"), "{stdout}");
    assert!(stderr.contains("1 of 2 file(s) failed") && !stderr.contains("panicked"), "{stderr}");

    // Again: the good file is unchanged, nothing is duplicated.
    let stdout = String::from_utf8_lossy(&run().stdout).to_string();
    assert!(stdout.contains("66 resources: 0 new, 0 changed, 66 unchanged"), "{stdout}");
}

#[test]
fn import_of_a_missing_path_names_it() {
    let (output, _dir) = portal(&["import", "no-such-folder"], &[]);
    let line = one_error_line(&output);
    assert!(line.contains("no-such-folder") && line.contains("no such file"), "{line}");
}
