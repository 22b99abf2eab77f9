//! Behind a proxy: a small reverse proxy in front of the server appends each client's real
//! address to `X-Forwarded-For`, as nginx's `$proxy_add_x_forwarded_for` does. The clients come
//! from different loopback addresses (127.0.0.2, 127.0.0.3: Linux routes all of 127/8 to the
//! loopback), the server trusts only the proxy (127.0.0.1/32). One client guessing passwords is
//! locked out, forging the header does not free it, and another client through the same proxy
//! signs in as usual.

use crate::portal::{Portal, env_of};
use app::domain::Role;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use portal_tests::{PASSWORD, spawn_app_with};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

struct Upstream {
    client: reqwest::Client,
    base: String,
}

/// Forwards one request and its answer unchanged, but for the forwarding header.
async fn forward(State(upstream): State<Arc<Upstream>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20).await.expect("a body");
    let mut headers = parts.headers.clone();
    headers.remove("host");
    let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    headers.insert("x-forwarded-for", forwarded.parse().expect("a header value"));
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let answer = upstream.client.request(parts.method, format!("{}{path}", upstream.base)).headers(headers).body(body).send().await.expect("the server answers");
    let status = answer.status();
    let mut headers = answer.headers().clone();
    headers.remove("transfer-encoding");
    headers.remove("connection");
    let bytes = answer.bytes().await.expect("a body");
    (status, headers, bytes).into_response()
}

/// A browser on its own address, through the proxy.
fn browser_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(address))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

async fn sign_in(client: &reqwest::Client, proxy: &str, email: &str, password: &str, forged: Option<&str>) -> u16 {
    let mut request = client.post(format!("{proxy}/api/sign_in")).header("accept", "application/json").form(&[("email", email), ("password", password)]);
    if let Some(forged) = forged {
        request = request.header("x-forwarded-for", forged);
    }
    request.send().await.expect("answered").status().as_u16()
}

pub async fn run() -> String {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.lockout_address_threshold = 3;
        s.auth_rate_limit_per_minute = 100_000;
    })
    .await;
    app.create_user("ana@example.org", &[Role::Patient], None).await;
    let portal = Portal::start(env_of(&app.settings)).await;
    let upstream = Arc::new(Upstream { client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client"), base: portal.address.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let proxy = format!("http://{}", listener.local_addr().expect("address"));
    let router = axum::Router::new().fallback(forward).with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await });

    let attacker = browser_from([127, 0, 0, 2]);
    for n in 0..3 {
        assert_eq!(sign_in(&attacker, &proxy, &format!("guess{n}@example.org"), "a wrong password", None).await, 401);
    }
    let locked = sign_in(&attacker, &proxy, "ana@example.org", PASSWORD, None).await;
    assert_eq!(locked, 429, "the guessing client is locked");
    let forged = sign_in(&attacker, &proxy, "ana@example.org", PASSWORD, Some("198.51.100.7")).await;
    assert_eq!(forged, 429, "a forged forwarding header does not free it");
    let patient = browser_from([127, 0, 0, 3]);
    let other = sign_in(&patient, &proxy, "ana@example.org", PASSWORD, None).await;
    assert_eq!(other, 200, "another client through the same proxy signs in");
    let success = app.audit("login", "success").await;
    assert_eq!(success.last().and_then(|r| r.client_address.as_deref()), Some("127.0.0.3"), "the audit trail names the client, not the proxy");
    let failures = app.audit("login", "failure").await;
    assert!(failures.iter().all(|r| r.client_address.as_deref() == Some("127.0.0.2")), "every failure is the attacker's");
    format!("attacker (127.0.0.2) locked after 3 wrong passwords ({locked}), forged header: {forged}; another client (127.0.0.3) through the same proxy: {other}; audit names each client")
}
