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

/// Site assets named by their content hash are kept by the browser for a year (a phone never
/// downloads the same wasm twice); plain names (a development build) five minutes; a missing
/// asset (a tab older than the last deploy) not at all, so a later deploy's file is not masked.
#[tokio::test]
async fn hashed_assets_are_cached_for_good_and_missing_ones_not_at_all() {
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(site.path().join("pkg")).expect("pkg dir");
    std::fs::write(site.path().join("pkg/portal.Xq3v9Zk2aB4c.wasm"), b"\0asm").expect("write");
    std::fs::write(site.path().join("pkg/portal.css"), b"body{}").expect("write");
    let root = site.path().to_path_buf();
    let app = spawn_app_with(move |s| s.site_root = root.clone()).await;
    let hashed = app.get("/pkg/portal.Xq3v9Zk2aB4c.wasm").await;
    assert_eq!(hashed.status(), 200);
    assert_eq!(header(&hashed, "cache-control"), "public, max-age=31536000, immutable");
    let plain = app.get("/pkg/portal.css").await;
    assert_eq!(plain.status(), 200);
    assert_eq!(header(&plain, "cache-control"), "public, max-age=300");
    let gone = app.get("/pkg/portal.OldDeploy123.wasm").await;
    assert_eq!(gone.status(), 404);
    assert_eq!(header(&gone, "cache-control"), "no-store");
}
