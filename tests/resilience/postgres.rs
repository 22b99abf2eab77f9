//! PostgreSQL restarted under load: the check starts its own cluster (`initdb` and `pg_ctl` from
//! Debian's `postgresql` package, in a temporary directory, as the `postgres` user when run as
//! root), runs the portal on it with eight clients reading and writing, stops the cluster for
//! two seconds and starts it again. `/readyz` reports the outage; errors last at most 5 s
//! beyond it and the portal recovers without a restart.

use crate::portal::{Portal, env_of, free_port};
use portal_tests::{PASSWORD, TestDatabase};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seconds from `origin` to `at`, negative before it.
fn secs_from(origin: Instant, at: Instant) -> f64 {
    if at >= origin { at.duration_since(origin).as_secs_f64() } else { -origin.duration_since(at).as_secs_f64() }
}

/// Runs a PostgreSQL tool, as the `postgres` user when this process is root (PostgreSQL refuses
/// to run as root).
fn pg(tool: &str, args: &[&str]) {
    let as_root = std::fs::read_to_string("/proc/self/status").unwrap_or_default().lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let mut command = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", tool]);
        c
    } else {
        Command::new(tool)
    };
    let output = command.args(args).output().unwrap_or_else(|e| panic!("{tool} (Debian's postgresql package) runs: {e}"));
    assert!(output.status.success(), "{tool} {args:?}: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
}

/// A throwaway cluster on a free port; stopped when dropped.
struct Cluster {
    _dir: tempfile::TempDir,
    data: String,
    port: u16,
}

impl Cluster {
    fn create() -> Cluster {
        let dir = tempfile::tempdir().expect("a directory");
        let owner = Command::new("id").args(["-u", "postgres"]).output().ok().and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(uid) = owner {
            let _ = std::os::unix::fs::chown(dir.path(), Some(uid), None);
        }
        let data = dir.path().join("data").display().to_string();
        pg("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        let cluster = Cluster { data, port: free_port(), _dir: dir };
        cluster.start();
        cluster
    }

    fn options(&self) -> String {
        let socket_dir = Path::new(&self.data).parent().expect("a parent").display().to_string();
        format!("-p {} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off", self.port)
    }

    fn start(&self) {
        let log = format!("{}/../server.log", self.data);
        pg("pg_ctl", &["-D", &self.data, "-o", &self.options(), "-l", &log, "-w", "start"]);
    }

    fn stop(&self) {
        pg("pg_ctl", &["-D", &self.data, "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| pg("pg_ctl", &["-D", &self.data, "-m", "immediate", "-w", "stop"]));
    }
}

/// What each client saw: when, and whether it worked.
type Log = Arc<Mutex<Vec<(Instant, bool, u16)>>>;

pub async fn run() -> String {
    let cluster = Cluster::create();
    let database = TestDatabase::create().await;
    let mut settings = database.settings();
    settings.database_url = Some(format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port).into());
    settings.database_schema = None;
    settings.auth_rate_limit_per_minute = 100_000;
    let portal = Portal::start(env_of(&settings)).await;
    let db = server::database::connect(&settings).await.expect("the cluster answers");
    portal_tests::create_account(&db, &settings, "ana@example.org", &[app::domain::Role::Patient], None).await;
    db.close().await.ok();

    // Eight clients: a signed-in read (the session and the request list) and a sign-in (writes:
    // the throttle, the session, the audit trail), over and over.
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (log, stop, base) = (log.clone(), stop.clone(), portal.address.clone());
        clients.spawn(async move {
            let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(10)).build().expect("a client");
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let answer = if n % 2 == 0 {
                    client.post(format!("{base}/api/sign_in")).header("accept", "application/json").form(&[("email", "ana@example.org"), ("password", PASSWORD)]).send().await
                } else {
                    client.post(format!("{base}/api/my_requests")).header("accept", "application/json").send().await
                };
                // A refusal (401 signed out, 404 no record) is an answer; a 5xx or no answer is not.
                let status = answer.map(|r| r.status().as_u16()).unwrap_or(0);
                log.lock().expect("lock").push((Instant::now(), (1..500).contains(&status), status));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // /readyz polled throughout, as a load balancer does (each check noted when it was sent).
    let probe = reqwest::Client::builder().timeout(Duration::from_secs(4)).build().expect("a client");
    // Each check: when it was sent, when it was answered, and how.
    let readiness: Arc<Mutex<Vec<(Instant, Instant, u16)>>> = Arc::new(Mutex::new(Vec::new()));
    let prober = {
        let (probe, readiness, stop, url) = (probe.clone(), readiness.clone(), stop.clone(), portal.url("/readyz"));
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let sent = Instant::now();
                let status = probe.get(&url).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                readiness.lock().expect("lock").push((sent, Instant::now(), status));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let stopped_at = Instant::now();
    tokio::task::block_in_place(|| cluster.stop());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| cluster.start());
    let started_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    while clients.join_next().await.is_some() {}
    prober.await.expect("the probe");
    // A check in flight during the outage counts (one may wait up to 2 s for the pool, about the
    // outage's length, so one sent just before the stop answers inside it).
    let readyz_saw = readiness.lock().expect("lock").iter().filter(|(sent, answered, status)| *answered > stopped_at && *sent < started_at && *status == 503).count();
    let ready_after = probe.get(portal.url("/readyz")).send().await.expect("answered").status().as_u16();

    let log = log.lock().expect("lock").clone();
    let errors: Vec<Instant> = log.iter().filter(|(_, ok, _)| !ok).map(|(at, ..)| *at).collect();
    let before: Vec<u16> = log.iter().filter(|(at, ok, _)| *at < stopped_at && !ok).map(|(.., status)| *status).collect();
    let logged: Vec<String> = portal.log_text().lines().filter(|l| l.contains("ERROR")).take(3).map(str::to_string).collect();
    assert!(before.is_empty(), "no errors before the outage: {before:?} {logged:?}");
    let last_error_after_start = errors.iter().filter(|at| **at >= started_at).max().map(|at| at.duration_since(started_at)).unwrap_or_default();
    let error_window = match (errors.first(), errors.last()) {
        (Some(first), Some(last)) => last.duration_since(*first),
        _ => Duration::ZERO,
    };
    let outage = started_at.duration_since(stopped_at);
    let tail_ok = log.iter().filter(|(at, ..)| at.duration_since(started_at) > Duration::from_secs(5)).all(|(_, ok, _)| *ok);
    let probes: Vec<String> = readiness
        .lock()
        .expect("lock")
        .iter()
        .map(|(sent, answered, status)| format!("{status} sent {:+.1} s answered {:+.1} s", secs_from(stopped_at, *sent), secs_from(stopped_at, *answered)))
        .collect();
    assert!(readyz_saw > 0, "/readyz reported the outage with a 503 (outage {:.1} s; checks relative to the stop: {probes:?})", started_at.duration_since(stopped_at).as_secs_f64());
    assert_eq!(ready_after, 200, "/readyz ready again");
    assert!(last_error_after_start <= Duration::from_secs(5), "errors went on {last_error_after_start:?} after the database came back");
    assert!(tail_ok, "every request works again 5 s after the restart");
    format!(
        "{} requests by 8 clients; database down {:.1} s; {} errors over {:.1} s, the last {:.1} s after the database was back; /readyz answered 503 {readyz_saw} times during the outage, 200 after",
        log.len(),
        outage.as_secs_f64(),
        errors.len(),
        error_window.as_secs_f64(),
        last_error_after_start.as_secs_f64()
    )
}
