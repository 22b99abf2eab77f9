//! Server-rendered pages: the shell, the home page, the not-found page.

use portal_tests::spawn_app;

#[tokio::test]
async fn the_home_page_renders_the_shell_without_javascript() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("body");
    for expected in [
        "<html lang=\"en\"",
        "name=\"viewport\"",
        "Skip to main content",
        "id=\"site-header\"",
        "id=\"site-nav\"",
        "id=\"home-heading\"",
        "id=\"site-footer\"",
        "/pkg/portal.css",
    ] {
        assert!(html.contains(expected), "home page lacks {expected}");
    }
    assert!(html.contains("id=\"privacy-notice\""), "a first visit shows the privacy reminder");
}

#[tokio::test]
async fn an_unknown_path_answers_404_with_the_not_found_page() {
    let app = spawn_app().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("body");
    assert!(html.contains("id=\"not-found-heading\""));
    assert!(html.contains("Go to the home page"));
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers().get("content-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
}
