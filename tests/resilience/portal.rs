//! The portal as a child process: started from this executable (`<exe> portal serve`, or the
//! binary `RESILIENCE_PORTAL_BIN` names) with the settings as `PORTAL_*` variables, its output
//! kept in a file, killed with SIGKILL on request (and when dropped, so a failed check leaves no
//! server behind).

use secrecy::ExposeSecret;
use server::settings::Settings;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Portal {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

/// The settings a check varies, as the environment the child reads (everything else: defaults).
pub fn env_of(settings: &Settings) -> Vec<(String, String)> {
    let mut env = vec![
        ("PORTAL_DATA_DIR".to_string(), settings.data_dir.display().to_string()),
        ("PORTAL_ARGON2_MEMORY_KIB".into(), settings.argon2_memory_kib.to_string()),
        ("PORTAL_ARGON2_ITERATIONS".into(), settings.argon2_iterations.to_string()),
        ("PORTAL_LOCKOUT_THRESHOLD".into(), settings.lockout_threshold.to_string()),
        ("PORTAL_LOCKOUT_ADDRESS_THRESHOLD".into(), settings.lockout_address_threshold.to_string()),
        ("PORTAL_AUTH_RATE_LIMIT_PER_MINUTE".into(), settings.auth_rate_limit_per_minute.to_string()),
        ("PORTAL_LOG_LEVEL".into(), "info".into()),
    ];
    if let Some(url) = &settings.database_url {
        env.push(("PORTAL_DATABASE_URL".into(), url.expose_secret().to_string()));
    }
    if let Some(schema) = &settings.database_schema {
        env.push(("PORTAL_DATABASE_SCHEMA".into(), schema.clone()));
    }
    if let Some(url) = &settings.smtp_url {
        env.push(("PORTAL_SMTP_URL".into(), url.expose_secret().to_string()));
    }
    if !settings.trusted_proxies.is_empty() {
        env.push(("PORTAL_TRUSTED_PROXIES".into(), settings.trusted_proxies.join(",")));
    }
    env
}

/// A free port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// The server to run: `RESILIENCE_PORTAL_BIN` (a built `portal`, such as the release build
/// `make test-resilience` makes), or this executable as `portal`.
fn command(env: &[(String, String)]) -> Command {
    let mut command = match std::env::var_os("RESILIENCE_PORTAL_BIN") {
        Some(bin) => Command::new(bin),
        None => {
            let mut own = Command::new(std::env::current_exe().expect("this executable"));
            own.arg("portal");
            own
        }
    };
    // Only what the check sets: a developer's own PORTAL_* variables stay out.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTAL_") || k == "DATABASE_URL") {
        command.env_remove(key);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// Runs a one-off command of the portal (`verify-audit`, `migrate status`) on the same
/// settings; returns whether it succeeded and what it printed.
pub fn run_command(env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let output = command(env).args(args).output().expect("the portal command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Starts `portal serve` and expects it to refuse: returns what it printed when it exited with
/// an error within 30 s, `None` when it was still running (then it is killed).
pub fn refuses_to_start(env: &[(String, String)]) -> Option<String> {
    let log = std::env::temp_dir().join(format!("portal-refused-{}.log", uuid::Uuid::new_v4().simple()));
    let out = std::fs::File::create(&log).expect("the log file");
    let err = out.try_clone().expect("the log file");
    let mut child = command(env).arg("serve").env("PORTAL_ADDR", format!("127.0.0.1:{}", free_port())).stdout(Stdio::from(out)).stderr(Stdio::from(err)).spawn().expect("the portal runs");
    let started = Instant::now();
    let refused = loop {
        match child.try_wait().expect("its status") {
            Some(status) => break !status.success(),
            None if started.elapsed() > Duration::from_secs(30) => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    refused.then_some(text)
}

impl Portal {
    /// Starts a server on a free port and waits until it answers `/healthz`.
    pub async fn start(env: Vec<(String, String)>) -> Portal {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("portal-resilience-{}.log", uuid::Uuid::new_v4().simple()));
        let mut portal = Portal { address: format!("http://127.0.0.1:{port}"), port, env, log, child: None };
        portal.spawn().await;
        portal
    }

    async fn spawn(&mut self) {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("the log file");
        let err = out.try_clone().expect("the log file");
        let mut command = command(&self.env);
        command.arg("serve").env("PORTAL_ADDR", format!("127.0.0.1:{}", self.port)).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        self.child = Some(command.spawn().expect("the portal starts"));
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if client.get(format!("{}/healthz", self.address)).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("the portal exited at start ({status}): {}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the portal did not answer within 120 s: {}", self.log_text());
    }

    /// SIGKILL: no shutdown, no flushing, as the kernel's OOM killer or a power cut of the VM.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and settings.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    /// The settings it runs with (for one-off commands on the same database).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Everything the server printed so far (its log).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory of the server process, in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().map(Child::id).expect("a running server");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A server function called as the hydrated page calls it: form-encoded, JSON answer.
pub async fn call(client: &reqwest::Client, portal: &Portal, endpoint: &str, fields: &[(&str, &str)]) -> Result<(u16, String), reqwest::Error> {
    let response = client.post(portal.url(&format!("/api/{endpoint}"))).header("accept", "application/json").form(fields).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}
