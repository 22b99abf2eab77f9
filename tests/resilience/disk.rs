//! SQLite on a full disk, then on a read-only one. The database lives on a small filesystem of
//! its own (a 32 MiB tmpfs; mounting needs root, as CI runs). The disk is filled while the
//! portal serves: writes that no longer fit are refused with the portal's error and a reference
//! id (never a crash, never half a request), every write either is whole or absent, and once
//! space returns the portal writes again without a restart. Then the filesystem is remounted
//! read-only: a server started on it refuses at once with the cause and the setting to check.
//!
//! Reads of patient data write their audit event first (nothing is shown that is not audited,
//! 45 CFR 164.312(b)), so on a disk where not even that fits they are refused like writes; the
//! check counts them.

use crate::portal::{Portal, call, env_of};
use app::domain::Role;
use portal_tests::{PASSWORD, TestDatabase, count};
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn mount(args: &[&str]) {
    let output = Command::new("mount").args(args).output().expect("mount runs");
    assert!(output.status.success(), "mount {args:?} (the disk check needs root to mount a small tmpfs): {}", String::from_utf8_lossy(&output.stderr));
}

/// Unmounts on the way out, whatever happened.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}


/// Writes a file until the filesystem is full; returns how much it took.
fn fill(dir: &Path) -> u64 {
    let mut file = std::fs::File::create(dir.join("filler")).expect("the filler file");
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.sync_all();
    written
}

/// A write refused as it should be: a server error whose body carries a reference (`E-…`).
fn refused_with_reference(status: u16, body: &str) -> bool {
    status >= 500 && body.contains("E-")
}

/// The end of the server's log, for a failure's message.
fn tail(log: &str) -> &str {
    let start = log.len().saturating_sub(3000);
    log.get(start..).or_else(|| log.get(log.char_indices().map(|(i, _)| i).find(|i| *i >= start).unwrap_or(0)..)).unwrap_or(log)
}

pub async fn run() -> String {
    let root = tempfile::tempdir().expect("a directory");
    let disk = root.path().join("disk");
    std::fs::create_dir_all(&disk).expect("mount point");
    mount(&["-t", "tmpfs", "-o", "size=32m", "tmpfs", &disk.display().to_string()]);
    let _mounted = Mounted(disk.clone());
    let database = TestDatabase::create().await;
    let mut settings = database.settings();
    settings.database_url = None;
    settings.database_schema = None;
    settings.data_dir = disk.join("data");
    settings.auth_rate_limit_per_minute = 100_000;
    let mut portal = Portal::start(env_of(&settings)).await;

    let db = server::database::connect(&settings).await.expect("the database");
    let system = app::backend::access::SystemContext::command_line(db.clone(), settings.site_code.clone());
    let fixture = std::fs::read(crate::kill::LEON).expect("fixture");
    let patient = system.importer(app::backend::fhir::parse::Limits::default()).import("fixture.json", &fixture, &|_, _| {}).await.expect("imports").patient.expect("a patient").id;
    portal_tests::create_account(&db, &settings, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let leon = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let (status, body) = call(&leon, &portal, "sign_in", &[("email", "leon@example.org"), ("password", PASSWORD)]).await.expect("answered");
    assert_eq!(status, 200, "sign-in: {body}");
    assert_eq!(call(&leon, &portal, "record_summary", &[]).await.expect("answered").0, 200);

    // The disk fills up while the portal serves.
    let filler = fill(&disk);
    let mut keys = Vec::new();
    let (mut accepted, mut refused, mut reads_ok, mut reads_refused) = (0, 0, 0, 0);
    for _ in 0..300 {
        let key = uuid::Uuid::new_v4().to_string();
        let (status, body) = call(&leon, &portal, "submit_request", &[("scope", "all"), ("pdf", "on"), ("idempotency_key", key.as_str())]).await.expect("answered, not dropped");
        keys.push(key);
        if status == 200 {
            accepted += 1;
        } else {
            assert!(refused_with_reference(status, &body), "a refused write says so with a reference: {status} {body}\n{}", tail(&portal.log_text()));
            refused += 1;
        }
        let (status, body) = call(&leon, &portal, "record_summary", &[]).await.expect("answered");
        if status == 200 {
            reads_ok += 1;
        } else {
            assert!(refused_with_reference(status, &body), "a refused read says so with a reference: {status} {body}\n{}", tail(&portal.log_text()));
            reads_refused += 1;
        }
        if refused >= 20 {
            break;
        }
    }
    assert!(refused > 0, "a full disk refused no write in {accepted} attempts");
    assert!(portal.url("/healthz").starts_with("http"));
    let health = reqwest::get(portal.url("/healthz")).await.expect("answered").status().as_u16();
    assert_eq!(health, 200, "the process still answers");

    // Space returns: the portal writes again, without a restart.
    std::fs::remove_file(disk.join("filler")).expect("space freed");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, body) = call(&leon, &portal, "submit_request", &[("scope", "all"), ("pdf", "on"), ("idempotency_key", key.as_str())]).await.expect("answered");
    assert_eq!(status, 200, "writes work again once space returns: {body}");
    keys.push(key);
    // Every attempt is whole (the request, its first timeline step, its audit event) or absent.
    let (mut whole, mut absent) = (0, 0);
    for key in &keys {
        let requests = count(&db, &format!("SELECT COUNT(*) FROM release_request WHERE idempotency_key = '{key}'")).await;
        let steps = count(&db, &format!("SELECT COUNT(*) FROM release_event e JOIN release_request r ON r.id = e.request_id WHERE r.idempotency_key = '{key}'")).await;
        let events = count(&db, &format!("SELECT COUNT(*) FROM audit_event a JOIN release_request r ON r.id = a.entity_id WHERE r.idempotency_key = '{key}' AND a.action = 'release_request'")).await;
        match (requests, steps, events) {
            (1, 1, 1) => whole += 1,
            (0, 0, 0) => absent += 1,
            found => panic!("request with key {key} is half-written: {found:?}"),
        }
    }
    assert_eq!(whole, accepted + 1, "every accepted request is there");
    let (intact, report) = crate::portal::run_command(portal.env(), &["verify-audit"]);
    assert!(intact, "verify-audit after the full disk: {report}");

    // Read-only: the server stops, the filesystem is remounted read-only, and a server started
    // on it refuses at once, naming the setting and the cause (it could not write one audit
    // event, so it could show nothing).
    portal.kill9();
    drop(system);
    db.close().await.ok();
    mount(&["-o", "remount,ro", &disk.display().to_string()]);
    let refusal = tokio::task::block_in_place(|| crate::portal::refuses_to_start(portal.env())).expect("a server on a read-only database refuses to start");
    let line = refusal.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_string();
    assert!(line.contains("read-only") && line.contains("data_dir"), "the refusal names the cause and the setting: {refusal}");
    mount(&["-o", "remount,rw", &disk.display().to_string()]);
    portal.restart().await;
    let (status, body) = call(&leon, &portal, "submit_request", &[("scope", "all"), ("pdf", "on")]).await.expect("answered");
    assert_eq!(status, 200, "writable again: {body}");
    portal.kill9();
    format!(
        "disk filled ({} MiB of filler): {accepted} writes fitted, {refused} refused with a reference, patient-record reads {reads_ok} served and {reads_refused} refused with a reference; {whole} requests whole, {absent} absent, none half-written; writes resumed when space returned, audit chain intact; on a read-only disk the server refuses to start with \"{line}\", and starts and writes once it is writable again",
        filler / (1024 * 1024)
    )
}
