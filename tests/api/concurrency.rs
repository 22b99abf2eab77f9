//! Several portal servers in one process (as this suite runs them): starting one must not stall
//! pages that another is rendering. Leptos switches resource loading off process-wide while it
//! generates a route list, so the server generates its routes only once per process.

use portal_tests::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_do_not_stall_pages_being_served() {
    let mut handles = Vec::new();
    for n in 0..4 {
        handles.push(tokio::spawn(async move {
            let app = spawn_app().await;
            for i in 0..20 {
                let c = reqwest::Client::new();
                let r = tokio::time::timeout(std::time::Duration::from_secs(10), async { c.get(app.url("/")).send().await.expect("sent").text().await.expect("body") }).await;
                assert!(r.is_ok(), "app {n} request {i} hung");
            }
        }));
    }
    for h in handles { h.await.expect("no hang"); }
}
