//! The fault-and-attack suite (issue 20): the portal's promises — nothing acknowledged is lost,
//! nothing is half-written, the audit trail verifies, nobody is locked out by someone else, bad
//! input never crashes it — checked under faults and load, against the real `portal` server in
//! its own process (so it can be killed with SIGKILL) on SQLite or, with `TEST_DATABASE_URL`,
//! PostgreSQL.
//!
//! `cargo test -p portal-tests --test resilience` runs the quick checks (CI runs them on both
//! databases); `-- --all` adds the long ones (the 10-minute soak, 30 minutes of fuzzing);
//! `-- NAME…` runs the named checks; `-- --list` names them. Each check prints its figures and
//! the run exits non-zero if any failed. `make test-resilience` is `--all`.
//!
//! The suite runs the portal by starting this same executable with `portal` as its first
//! argument (see [`portal::Portal`]): the server is the library's own command line, unchanged.

#![expect(clippy::expect_used, reason = "test code: a failed step should stop the check with its message")]

mod attacks;
mod disk;
mod fuzz;
mod kill;
mod portal;
mod postgres;
mod proxy;
mod servers;
mod soak;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Instant;

type Run = fn() -> Pin<Box<dyn Future<Output = String> + Send>>;

/// One check: its name, whether the quick run includes it, and what it runs. A check panics
/// (with its reason) when the promise does not hold, and returns its figures when it does.
struct Check {
    name: &'static str,
    quick: bool,
    what: &'static str,
    run: Run,
}

fn checks() -> Vec<Check> {
    vec![
        Check { name: "kill", quick: true, what: "kill -9 during 100 copy requests and 20 releases; idempotent retries", run: || Box::pin(kill::run()) },
        Check { name: "attacks", quick: true, what: "200 parallel wrong codes and passcodes; two clerks, two administrators at once", run: || Box::pin(attacks::run()) },
        Check { name: "proxy", quick: true, what: "behind a proxy, a locked-out client does not lock out another", run: || Box::pin(proxy::run()) },
        Check { name: "servers", quick: true, what: "two servers, one database: outbox and daily job once; a killed server's work finished", run: || Box::pin(servers::run()) },
        Check { name: "disk", quick: true, what: "SQLite on a full disk and read-only: clear errors, nothing half-written, recovery", run: || Box::pin(disk::run()) },
        Check { name: "fuzz", quick: true, what: "fuzzing the FHIR importer, the settings and server-function arguments (20 s; 30 min with --all)", run: || Box::pin(fuzz::run()) },
        Check { name: "postgres", quick: true, what: "PostgreSQL restarted under load: errors for at most 5 s, then recovery", run: || Box::pin(postgres::run()) },
        Check { name: "soak", quick: false, what: "10 minutes at 64 connections with wrk: no 5xx, resident memory growth under 10 %", run: || Box::pin(soak::run()) },
    ]
}

/// Whether this run is the long one (`--all`): checks scale their durations by it.
pub fn long_run() -> bool {
    std::env::args().any(|a| a == "--all")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The child the checks start: the portal's own command line.
    if args.get(1).map(String::as_str) == Some("portal") {
        return server::cli::main_from(&args[1..]);
    }
    let all = long_run();
    let named: Vec<&str> = args.iter().skip(1).map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    let checks = checks();
    if args.iter().any(|a| a == "--list") {
        for c in &checks {
            println!("{:10} {}{}", c.name, c.what, if c.quick { "" } else { " (--all)" });
        }
        return ExitCode::SUCCESS;
    }
    if let Some(unknown) = named.iter().find(|n| !checks.iter().any(|c| c.name == **n)) {
        eprintln!("no check named {unknown}: see --list");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let mut failed = Vec::new();
    for check in checks.iter().filter(|c| if named.is_empty() { all || c.quick } else { named.contains(&c.name) }) {
        println!("==> {}: {}", check.name, check.what);
        let started = Instant::now();
        // Each check runs as a task: a panic is its failure, reported, and the others go on.
        let outcome = runtime.block_on(async { tokio::spawn((check.run)()).await });
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(figures) => println!("PASS {} ({seconds:.1} s): {figures}", check.name),
            Err(e) => {
                let reason = match e.try_into_panic() {
                    Ok(p) => p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
                println!("FAIL {} ({seconds:.1} s): {reason}", check.name);
                failed.push(check.name);
            }
        }
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failed: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}
