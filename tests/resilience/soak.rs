//! Soak: ten minutes (`SOAK_SECONDS` to change) at 64 connections of mixed reads and writes,
//! driven by `wrk` (Debian's package; `make test-resilience` installs it) with a Lua script:
//! the record summary and a record section (audited reads), the request list, a new copy request
//! (a write), the health check. No answer may be a 5xx, and the server's resident memory may
//! grow less than 10 % from the end of a one-minute warm-up to the end.

use crate::kill::{LEON, signed_in};
use crate::portal::{Portal, env_of};
use app::domain::Role;
use portal_tests::spawn_app_with;
use std::process::Command;
use std::time::Duration;

/// The wrk script: each request picks its kind in turn; 5xx answers are counted and printed.
const SCRIPT: &str = r#"
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
n = 0
fives = 0
local cookie = os.getenv("SOAK_COOKIE")
local kinds = {
  { "POST", "/api/record_summary", "" },
  { "POST", "/api/record_section", "section=labs&page=1" },
  { "POST", "/api/record_summary", "" },
  { "POST", "/api/my_requests", "" },
  { "POST", "/api/record_section", "section=problems" },
  { "POST", "/api/submit_request", "scope=problems&pdf=on" },
  { "POST", "/api/record_summary", "" },
  { "GET", "/healthz", nil },
}
request = function()
  n = n + 1
  local k = kinds[(n % #kinds) + 1]
  local headers = { ["cookie"] = cookie, ["accept"] = "application/json", ["content-type"] = "application/x-www-form-urlencoded" }
  return wrk.format(k[1], k[2], headers, k[3])
end
response = function(status, headers, body)
  if status >= 500 then fives = fives + 1 end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("fives") end
  io.write(string.format("SOAK requests=%d fives=%d errors=%d p50_ms=%.1f p99_ms=%.1f rps=%.1f\n",
    summary.requests, total, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6)))
end
"#;

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).and_then(|v| v.parse().ok()).unwrap_or(-1.0)
}

pub async fn run() -> String {
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    assert!(Command::new("wrk").arg("--version").output().is_ok(), "wrk is not installed: `apt-get install wrk` (make test-resilience installs it)");
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 1_000_000).await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    // The session cookie, as the browser holds it, for wrk to send.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let response = app.sign_in(&browser, "leon@example.org", portal_tests::PASSWORD).await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(server::startup::SESSION_COOKIE))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let portal = Portal::start(env_of(&app.settings)).await;
    let dir = tempfile::tempdir().expect("a directory");
    let script = dir.path().join("soak.lua");
    std::fs::write(&script, SCRIPT).expect("the script");
    let wrk = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--timeout", "10s", "--latency", "-s"])
        .arg(&script)
        .arg(portal.url("/"))
        .env("SOAK_COOKIE", &cookie)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("wrk runs");
    let finished = tokio::task::spawn_blocking(move || {
        let output = wrk.wait_with_output().expect("wrk ends");
        String::from_utf8_lossy(&output.stdout).to_string()
    });
    let warm_up = Duration::from_secs((seconds / 10).clamp(5, 60));
    tokio::time::sleep(warm_up).await;
    let rss_start = portal.rss_kib();
    let mut rss_peak = rss_start;
    while !finished.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(portal.rss_kib());
    }
    let output = finished.await.expect("wrk's output");
    let rss_end = portal.rss_kib();
    let line = output.lines().find(|l| l.starts_with("SOAK ")).unwrap_or_else(|| panic!("wrk printed no summary: {output}")).to_string();
    let growth = (rss_end as f64 - rss_start as f64) / rss_start as f64 * 100.0;
    assert_eq!(field(&line, "errors"), 0.0, "socket errors: {line}");
    assert_eq!(field(&line, "fives"), 0.0, "no 5xx: {line}");
    assert!(growth < 10.0, "resident memory grew {growth:.1} % ({rss_start} KiB after the warm-up, {rss_end} KiB at the end)");
    format!(
        "{seconds} s at 64 connections: {} requests ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms, 0 5xx, 0 socket errors; resident memory {} MiB after the warm-up, {} MiB at the end ({growth:+.1} %), peak {} MiB",
        field(&line, "requests"),
        field(&line, "rps"),
        field(&line, "p50_ms"),
        field(&line, "p99_ms"),
        rss_start / 1024,
        rss_end / 1024,
        rss_peak / 1024
    )
}
