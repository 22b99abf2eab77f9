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
    ] {
        assert!(html.contains(expected), "home page lacks {expected}");
    }
    assert!(html.contains("/pkg/portal.css"), "home page links the stylesheet");
    assert!(html.contains("id=\"privacy-notice\""), "a first visit shows the privacy reminder");
}

#[tokio::test]
async fn only_islands_are_marked_for_hydration() {
    let app = spawn_app().await;
    let html = app.get("/").await.text().await.expect("body");
    // Islands mode (issue 15): the interactive parts are marked for Leptos's islands loader,
    // and the module is hinted in the head so its download starts at once.
    for island in ["PrivacyReminder", "HydrationMarker"] {
        assert!(html.contains(&format!("data-component=\"{island}_")), "the home page lacks the {island} island");
    }
    let hints = html.split("<link").skip(1).filter(|l| l.contains("/pkg/portal") && !l.contains(".css")).count();
    assert_eq!(hints, 2, "the glue and the module are hinted");
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
