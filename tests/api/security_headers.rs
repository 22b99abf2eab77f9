//! Security headers on every response, and a CSP nonce that matches the page's scripts.

use portal_tests::{production_behind_tls, spawn_app_with};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("missing header {name}"))
}

#[tokio::test]
async fn an_html_page_carries_the_baseline_headers() {
    let app = spawn_app_with(|_| {}).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let csp = header(&response, "content-security-policy");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "referrer-policy"), "same-origin");
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_eq!(header(&response, "x-request-id").len(), 32);
    assert!(response.headers().get("strict-transport-security").is_none(), "no HSTS over plain http");

    // Every inline script Leptos wrote carries this response's nonce, and only that one.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the CSP names a nonce")
        .to_string();
    assert!(nonce.len() >= 16);
    let html = response.text().await.expect("body");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "the page has its hydration script");
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "every <script> has the nonce");
}

#[tokio::test]
async fn every_response_gets_a_fresh_nonce() {
    let app = spawn_app_with(|_| {}).await;
    let a = header(&app.get("/").await, "content-security-policy");
    let b = header(&app.get("/").await, "content-security-policy");
    assert_ne!(a, b);
}

#[tokio::test]
async fn json_and_error_responses_carry_the_headers_too() {
    let app = spawn_app_with(|_| {}).await;
    for path in ["/healthz", "/no-such-page"] {
        let response = app.get(path).await;
        assert_eq!(header(&response, "x-content-type-options"), "nosniff", "{path}");
        assert!(header(&response, "content-security-policy").contains("frame-ancestors 'none'"), "{path}");
    }
}

#[tokio::test]
async fn hsts_is_sent_when_served_over_tls() {
    let app = spawn_app_with(production_behind_tls).await;
    let response = app.get("/").await;
    assert!(header(&response, "strict-transport-security").contains("max-age="));
}
