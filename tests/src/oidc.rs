//! The real OpenID provider the tests sign in through: npm `oidc-provider`, started once per test
//! process from `tests/oidc/provider.mjs` on 127.0.0.1, and a "browser" walk through its login
//! form. Each test portal registers its own client there (OpenID Dynamic Client Registration),
//! with its own callback address.

use super::{TestApp, spawn_app_with};
use server::settings::{OidcProviderSettings, Settings};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The provider id the test portals give the real provider.
pub const PROVIDER: &str = "test";
pub const LABEL: &str = "Test IdP";

/// The running provider; its standard input stays open while this process lives (the provider
/// exits when it closes, so it never outlives the tests).
static PROVIDER_PROCESS: OnceLock<(String, Mutex<Child>)> = OnceLock::new();

/// The provider's issuer, starting it on first use.
pub fn issuer() -> String {
    PROVIDER_PROCESS
        .get_or_init(|| {
            let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
            let script = format!("{root}/tests/oidc/provider.mjs");
            assert!(
                std::path::Path::new(&format!("{root}/node_modules/oidc-provider")).is_dir(),
                "the test OpenID provider needs the npm packages: run scripts/setup.sh (npm ci)"
            );
            // Its warnings and errors go to a log file, for when a test fails at the provider.
            let log_path = std::env::temp_dir().join(format!("portal-test-oidc-provider-{}.log", std::process::id()));
            let log = std::fs::File::create(&log_path).expect("provider log file");
            let mut child = Command::new("node")
                .arg(&script)
                .env("OIDC_EXIT_WITH_STDIN", "1")
                .env("OIDC_PORT", "0")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("node starts the test OpenID provider");
            let stdout = child.stdout.take().expect("provider stdout");
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).expect("the provider reports its issuer");
            // Keep reading what it prints, so a later write never meets a closed pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            let ready: serde_json::Value = serde_json::from_str(&line).expect("a JSON line with the issuer");
            let issuer = ready["issuer"].as_str().expect("issuer").to_string();
            (issuer, Mutex::new(child))
        })
        .0
        .clone()
}

/// A port that was free a moment ago (the portal's callback address must be known before the
/// portal starts, to register it with the provider).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// Registers a confidential client for `redirect_uri`; returns (client_id, client_secret).
pub async fn register_client(issuer: &str, redirect_uri: &str) -> (String, String) {
    let body = serde_json::json!({
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let response = reqwest::Client::new().post(format!("{issuer}/reg")).json(&body).send().await.expect("registration");
    let status = response.status();
    let json: serde_json::Value = response.json().await.expect("registration JSON");
    assert!(status.is_success(), "client registration failed: {json}");
    (json["client_id"].as_str().expect("client_id").into(), json["client_secret"].as_str().expect("client_secret").into())
}

/// Settings for one provider entry.
pub fn provider_settings(id: &str, issuer: &str, client_id: &str, secret: Option<&str>) -> OidcProviderSettings {
    OidcProviderSettings {
        id: id.into(),
        label: LABEL.into(),
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: secret.map(|s| s.to_string().into()),
        for_patients: true,
    }
}

/// A portal with the real test provider configured as `test`.
pub async fn spawn_app_with_provider(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let issuer = issuer();
    let port = free_port();
    let (client_id, secret) = register_client(&issuer, &format!("http://127.0.0.1:{port}/auth/oidc/callback")).await;
    spawn_app_with(move |s| {
        s.addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        s.oidc_providers = vec![provider_settings(PROVIDER, &issuer, &client_id, Some(&secret))];
        customize(s);
    })
    .await
}

/// The `Location` of a redirect (a 30x, or a server function's 200 with a redirect for a
/// JavaScript client).
pub fn location(response: &reqwest::Response) -> Option<String> {
    response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Walks the provider's pages as a person would: the authorization address, the login form
/// (typing `login` as the user name), and on through the redirects until the provider sends the
/// browser back to the portal. Returns that callback address, unvisited, so tests can replay or
/// alter it.
pub async fn login_at_provider(client: &reqwest::Client, authorize_url: &str, login: &str) -> String {
    let issuer = issuer();
    let absolute = |href: &str| if href.starts_with("http") { href.to_string() } else { format!("{issuer}{href}") };
    let mut url = authorize_url.to_string();
    for _ in 0..10 {
        if url.contains("/auth/oidc/callback") {
            return url;
        }
        let response = client.get(&url).send().await.expect("provider page");
        if let Some(next) = location(&response) {
            url = absolute(&next);
            continue;
        }
        let status = response.status();
        let html = response.text().await.expect("provider page body");
        assert!(status.is_success(), "the provider answered {status}: {html}");
        // The development login form: <form ... action="/interaction/UID/login" method="post">.
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("a form on the provider's page: {html}"));
        let prompt = if html.contains("name=\"prompt\" value=\"consent\"") { "consent" } else { "login" };
        let response = client
            .post(absolute(action))
            .form(&[("prompt", prompt), ("login", login), ("password", "any password")])
            .send()
            .await
            .expect("provider form post");
        url = absolute(&location(&response).unwrap_or_else(|| panic!("the provider redirects after its form ({})", response.status())));
    }
    panic!("the provider never sent the browser back to the portal");
}

/// Starts a flow by calling a server function (as the hydrated page does) and returns the
/// provider's authorization address it redirects to.
pub async fn start(app: &TestApp, client: &reqwest::Client, endpoint: &str, fields: &[(&str, &str)]) -> String {
    let response = app.call(client, endpoint, fields).await;
    let status = response.status();
    let to = location(&response);
    let body = response.text().await.unwrap_or_default();
    to.filter(|l| l.starts_with("http://127.0.0.1") && !l.starts_with(&app.address))
        .unwrap_or_else(|| panic!("{endpoint} should redirect to the provider, answered {status}: {body}"))
}

/// Visits the callback address and returns where the portal sends the browser next.
pub async fn visit_callback(client: &reqwest::Client, callback: &str) -> String {
    let response = client.get(callback).send().await.expect("callback");
    assert_eq!(response.status().as_u16(), 303, "the callback answers with a redirect");
    location(&response).expect("a Location")
}

/// The whole journey: start, log in at the provider as `login`, come back. Returns where the
/// portal sends the browser at the end.
pub async fn journey(app: &TestApp, client: &reqwest::Client, endpoint: &str, fields: &[(&str, &str)], login: &str) -> String {
    let authorize = start(app, client, endpoint, fields).await;
    let callback = login_at_provider(client, &authorize, login).await;
    visit_callback(client, &callback).await
}
