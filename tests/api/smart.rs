//! Apps of the patient's choice (issue 22): registering them. An administrator registers an
//! app from the command line with its name and exact redirect URIs; a confidential app's secret
//! is printed once and stored only as its hash; bad input names the option; each registration is
//! audited.

use portal_tests::{count, spawn_app};
use server::cli::{AppsAction, apps};

#[tokio::test]
async fn an_administrator_registers_public_and_confidential_apps() {
    let app = spawn_app().await;
    let register = |name: &str, uris: &[&str], confidential: bool| AppsAction::Register {
        name: name.to_string(),
        redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
        confidential,
    };
    let public = apps(&app.settings, register("Health Diary", &["http://127.0.0.1:9000/cb"], false)).await.expect("registered");
    assert!(public.contains("client_id: ") && !public.contains("client_secret"), "{public}");
    let confidential = apps(&app.settings, register("Clinic Coach", &["https://coach.example/cb", "https://coach.example/cb2"], true)).await.expect("registered");
    let secret = confidential.lines().find_map(|l| l.strip_prefix("client_secret: ")).expect("the secret, once").to_string();
    assert_eq!(secret.len(), 64);
    // Only the secret's hash is stored.
    assert_eq!(count(&app.db, &format!("SELECT COUNT(*) FROM smart_app WHERE secret_hash = '{secret}'")).await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM smart_app WHERE confidential AND secret_hash IS NOT NULL AND length(secret_hash) = 64").await, 1);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_event WHERE action = 'app_register' AND entity_type = 'smart_app'").await, 2);

    let list = apps(&app.settings, AppsAction::List).await.expect("listed");
    assert!(list.contains("Health Diary") && list.contains("public") && list.contains("https://coach.example/cb2"), "{list}");

    // Bad input: the option named, nothing written.
    for (name, uris, field) in [
        ("", vec!["https://a.example/cb"], "--name"),
        ("Spy", vec!["http://spy.example/cb"], "--redirect-uri"),
        ("Spy", vec!["https://spy.example/cb#x"], "--redirect-uri"),
        ("Spy", vec![], "--redirect-uri"),
    ] {
        let refused = apps(&app.settings, register(name, &uris, false)).await.expect_err("refused");
        assert!(refused.to_string().contains(field), "{refused}");
    }
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM smart_app").await, 2);
}

pub const REDIRECT: &str = "http://127.0.0.1:9000/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const NONCE: &str = "n-0S6_WzA2Mj";

/// A public app registered, Leon's record imported and Leon signed in.
pub async fn launch_ready(app: &portal_tests::TestApp) -> (String, String, reqwest::Client) {
    let registered = app::backend::smart::apps::register(&app.db, "Health Diary", &[REDIRECT.to_string()], false, None, &app::backend::request::RequestMeta::command_line()).await.expect("app");
    let patient = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json")).await;
    app.create_user("leon@example.org", &[app::domain::Role::Patient], Some(&patient)).await;
    let leon = app.new_client();
    app.login_as(&leon, "leon@example.org").await;
    (registered.client_id, patient, leon)
}

/// The authorization request's fields as the consent server functions take them.
pub fn authorize_fields<'a>(app: &portal_tests::TestApp, client_id: &'a str, scope: &'a str) -> Vec<(String, String)> {
    [
        ("response_type", "code".to_string()),
        ("client_id", client_id.to_string()),
        ("redirect_uri", REDIRECT.to_string()),
        ("scope", scope.to_string()),
        ("state", "s-42".to_string()),
        ("aud", app.url("/fhir/r4")),
        ("code_challenge", CHALLENGE.to_string()),
        ("code_challenge_method", "S256".to_string()),
        ("nonce", NONCE.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("request[{k}]"), v))
    .collect()
}

/// The consent form posted as the page posts it (`POST /oauth/authorize/decision`, the request's
/// own fields, each ticked `grant`, `decision`): where the answer page sends the browser back.
pub async fn decide(app: &portal_tests::TestApp, person: &reqwest::Client, fields: &[(String, String)], approve: bool, ticked: &str) -> String {
    let mut form: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.trim_start_matches("request[").trim_end_matches(']').to_string(), v.clone())).collect();
    form.push(("decision".into(), if approve { "allow" } else { "deny" }.into()));
    form.extend(ticked.split_whitespace().map(|s| ("grant".to_string(), s.to_string())));
    let origin = app.url("");
    let response = person.post(app.url("/oauth/authorize/decision")).header("origin", origin.trim_end_matches('/')).form(&form).send().await.expect("decision");
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    let href = page.split("id=\"back-to-app\" href=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_else(|| panic!("a link back to the app: {page}"));
    href.replace("&amp;", "&")
}

pub fn borrowed(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The query parameter `name` of a redirect URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(url).expect("a URL");
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub async fn token(app: &portal_tests::TestApp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().post(app.url("/oauth/token")).form(form).send().await.expect("token request");
    let status = response.status().as_u16();
    assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    (status, response.json().await.expect("JSON"))
}

/// A launch carried through: `scope` asked for and all of it allowed, the code exchanged; the
/// token endpoint's answer.
pub async fn connect(app: &portal_tests::TestApp, person: &reqwest::Client, client_id: &str, scope: &str) -> serde_json::Value {
    let back = decide(app, person, &authorize_fields(app, client_id, scope), true, scope).await;
    let code = param(&back, "code").expect("a code");
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER), ("client_id", client_id)];
    let (status, tokens) = token(app, &form).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// The standalone launch's authorization server (SMART App Launch 2.x): the consent step shows
/// the app, the record and each scope in plain language and names what it will not grant; the
/// person's decision yields a code bound to the redirect URI and the PKCE challenge; the code is
/// exchanged once for an access token and a rotating refresh token; a reused code or refresh
/// token revokes the grant; wrong verifiers, redirect URIs and unknown apps are refused.
#[tokio::test]
async fn a_patient_lets_an_app_in_with_pkce_and_tokens_rotate_once() {
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    let scope = "launch/patient openid fhirUser offline_access patient/Observation.rs patient/Patient.rs user/*.rs";
    let fields = authorize_fields(&app, &client_id, scope);
    let consent = app.call_ok(&leon, "app_consent", &borrowed(&fields)).await;
    let ask = &consent["Ask"];
    assert_eq!(ask["app_name"], "Health Diary", "{consent}");
    assert!(ask["patient_name"].as_str().expect("name").contains("León"), "{consent}");
    let texts = ask["scopes"].to_string();
    assert!(texts.contains("your test results, vital signs and other observations"), "{texts}");
    assert_eq!(ask["refused"], serde_json::json!(["user/*.rs"]));

    // Leon unticks his demographics: the grant holds what he ticked, within what was asked.
    let ticked = "launch/patient offline_access patient/Observation.rs patient/Goal.rs";
    let back = decide(&app, &leon, &fields, true, ticked).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("s-42"));
    let code = param(&back, "code").expect("a code");
    assert_eq!(count(&app.db, &format!("SELECT COUNT(*) FROM smart_code WHERE code_hash = '{code}'")).await, 0, "only the code's hash is stored");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_event WHERE action = 'app_authorize' AND outcome = 'success'").await, 1);

    // A wrong verifier spends the code.
    let exchange = |code: &str, verifier: &str| {
        vec![("grant_type", "authorization_code".to_string()), ("code", code.to_string()), ("redirect_uri", REDIRECT.to_string()), ("code_verifier", verifier.to_string()), ("client_id", client_id.clone())]
    };
    let wrong = exchange(&code, &"x".repeat(43));
    let (status, body) = token(&app, &wrong.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // A fresh code, exchanged as it should be.
    let back = decide(&app, &leon, &fields, true, ticked).await;
    let code = param(&back, "code").expect("a code");
    let right = exchange(&code, VERIFIER);
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, tokens) = token(&app, &right).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["patient"], patient.as_str());
    assert_eq!(tokens["scope"], "patient/Observation.rs offline_access launch/patient");
    assert!(tokens["expires_in"].as_i64().expect("expiry") > 3000);
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_string();

    // Used once more, the code revokes what it gave.
    let (status, body) = token(&app, &right).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, _) = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())]).await;
    assert_eq!(status, 400, "the grant was revoked with its tokens");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_event WHERE action = 'app_revoke'").await, 1);

    // Another launch: refresh rotates, and the old refresh token replayed revokes the grant.
    let back = decide(&app, &leon, &fields, true, ticked).await;
    let code = param(&back, "code").expect("a code");
    let third = exchange(&code, VERIFIER);
    let (_, tokens) = token(&app, &third.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    let first = tokens["refresh_token"].as_str().expect("refresh").to_string();
    let (status, renewed) = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", first.as_str())]).await;
    assert_eq!(status, 200, "{renewed}");
    let second = renewed["refresh_token"].as_str().expect("a new refresh token").to_string();
    assert_ne!(first, second);
    let (status, body) = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", first.as_str())]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, _) = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", second.as_str())]).await;
    assert_eq!(status, 400, "the replay revoked the whole grant");

    // Denied: the app hears access_denied.
    let back = decide(&app, &leon, &fields, false, "").await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
}

/// Requests the app must hear about go back to it as OAuth errors; a request whose app or
/// redirect URI is unknown goes nowhere (the page names the field); the token endpoint refuses
/// unknown grant types and malformed bodies with OAuth errors.
#[tokio::test]
async fn bad_authorization_requests_are_refused_without_an_open_redirect() {
    let app = spawn_app().await;
    let (client_id, _, leon) = launch_ready(&app).await;
    let base = authorize_fields(&app, &client_id, "patient/*.rs");
    let with = |name: &str, value: &str| {
        let mut fields = base.clone();
        if let Some(field) = fields.iter_mut().find(|(k, _)| k == &format!("request[{name}]")) {
            field.1 = value.to_string();
        }
        fields
    };
    for (name, value, error) in [
        ("code_challenge_method", "plain", "invalid_request"),
        ("code_challenge", "", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("aud", "https://elsewhere.example/fhir", "invalid_request"),
        ("scope", "openid user/*.rs", "invalid_scope"),
    ] {
        let answer = app.call_ok(&leon, "app_consent", &borrowed(&with(name, value))).await;
        let url = answer["Redirect"].as_str().unwrap_or_else(|| panic!("{name}: {answer}"));
        assert!(url.starts_with(REDIRECT), "{url}");
        assert_eq!(param(url, "error").as_deref(), Some(error), "{name}");
        assert_eq!(param(url, "state").as_deref(), Some("s-42"));
    }
    for (name, value) in [("redirect_uri", "https://attacker.example/cb"), ("redirect_uri", "http://127.0.0.1:9000/cb/"), ("client_id", "nobody")] {
        let response = app.call(&leon, "app_consent", &borrowed(&with(name, value))).await;
        assert_eq!(response.status(), 422, "{name}");
        let body = response.text().await.expect("body");
        assert!(body.contains(name) && !body.contains("attacker.example/cb?"), "{body}");
    }
    // Not signed in: no consent at all.
    let stranger = app.new_client();
    assert_eq!(app.call(&stranger, "app_consent", &borrowed(&base)).await.status(), 401);

    let (status, body) = token(&app, &[("grant_type", "password"), ("username", "leon")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = token(&app, &[("grant_type", "authorization_code"), ("code", "nope"), ("client_id", client_id.as_str())]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let response = reqwest::Client::new().post(app.url("/oauth/token")).header("content-type", "application/json").body("{}").send().await.expect("sent");
    assert_eq!(response.status(), 400);
}

/// Dynamic registration (RFC 7591) exists only when the site opens it; then a public or a
/// confidential app registers itself, bad metadata is refused naming what is wrong, and
/// discovery points at the endpoint.
#[tokio::test]
async fn apps_register_themselves_only_when_the_site_allows_it() {
    let closed = spawn_app().await;
    let body = serde_json::json!({ "client_name": "Self Starter", "redirect_uris": [REDIRECT] });
    let response = reqwest::Client::new().post(closed.url("/oauth/register")).json(&body).send().await.expect("sent");
    assert_eq!(response.status(), 404);
    let config: serde_json::Value = reqwest::get(closed.url("/.well-known/smart-configuration")).await.expect("sent").json().await.expect("JSON");
    assert!(config.get("registration_endpoint").is_none(), "{config}");

    let app = portal_tests::spawn_app_with(|s| s.open_app_registration = true).await;
    let config: serde_json::Value = reqwest::get(app.url("/fhir/r4/.well-known/smart-configuration")).await.expect("sent").json().await.expect("JSON");
    assert_eq!(config["registration_endpoint"], app.url("/oauth/register"));
    let register = |body: serde_json::Value| {
        let url = app.url("/oauth/register");
        async move {
            let response = reqwest::Client::new().post(url).json(&body).send().await.expect("sent");
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.expect("JSON"))
        }
    };
    let (status, public) = register(body.clone()).await;
    assert_eq!(status, 201, "{public}");
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert!(public.get("client_secret").is_none());
    let (status, confidential) = register(serde_json::json!({ "client_name": "Coach", "redirect_uris": ["https://coach.example/cb"], "token_endpoint_auth_method": "client_secret_basic" })).await;
    assert_eq!(status, 201, "{confidential}");
    assert_eq!(confidential["client_secret"].as_str().map(str::len), Some(64));
    for (bad, error) in [
        (serde_json::json!({ "client_name": "Spy", "redirect_uris": ["http://spy.example/cb"] }), "invalid_redirect_uri"),
        (serde_json::json!({ "client_name": "", "redirect_uris": [REDIRECT] }), "invalid_client_metadata"),
        (serde_json::json!({ "client_name": "Spy", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt" }), "invalid_client_metadata"),
        (serde_json::json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let (status, answer) = register(bad).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some(error)), "{answer}");
    }
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM smart_app").await, 2);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_event WHERE action = 'app_register'").await, 2);
}

/// The payload of a compact JWS, as JSON (not verified: the test verifies separately).
fn jwt_payload(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// `openid fhirUser` (SMART App Launch 2.x, OpenID Connect Core 1.0): the token answer carries
/// an RS256 ID token that verifies against the published key set with an independent OpenID
/// Connect library, names the app as audience, echoes the nonce, and whose `fhirUser` is the
/// patient's own resource, readable with the access token. A refresh brings a new one without
/// the nonce; without `openid` there is none; a changed byte fails verification. The private
/// key is stored sealed.
#[tokio::test]
async fn openid_fhiruser_brings_an_id_token_that_verifies_and_names_the_patient() {
    use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
    use openidconnect::{ClientId, IssuerUrl, Nonce};
    use std::str::FromStr;
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    let discovery: serde_json::Value = reqwest::get(app.url("/fhir/r4/.well-known/openid-configuration")).await.expect("discovery").json().await.expect("JSON");
    let issuer = app.url("/fhir/r4");
    assert_eq!(discovery["issuer"], issuer.as_str(), "{discovery}");
    assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    let smart: serde_json::Value = reqwest::get(app.url("/fhir/r4/.well-known/smart-configuration")).await.expect("smart").json().await.expect("JSON");
    assert!(smart["capabilities"].as_array().expect("capabilities").iter().any(|c| c == "sso-openid-connect"), "{smart}");
    assert_eq!(smart["jwks_uri"], discovery["jwks_uri"]);

    let tokens = connect(&app, &leon, &client_id, "launch/patient openid fhirUser offline_access patient/Patient.rs").await;
    let id_token = tokens["id_token"].as_str().expect("an id_token").to_string();
    let jwks: CoreJsonWebKeySet = reqwest::get(discovery["jwks_uri"].as_str().expect("jwks_uri")).await.expect("jwks").json().await.expect("a key set");
    let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new(client_id.clone()), IssuerUrl::new(issuer.clone()).expect("issuer"), jwks);
    let parsed = CoreIdToken::from_str(&id_token).expect("a JWT");
    let claims = parsed.claims(&verifier, &Nonce::new(NONCE.to_string())).expect("verifies: signature, issuer, audience, expiry, nonce");
    assert!(claims.audiences().iter().any(|a| a.as_str() == client_id));
    assert!(!claims.subject().as_str().is_empty());
    assert!(parsed.claims(&verifier, &Nonce::new("another".into())).is_err(), "the nonce is checked");
    let mut tampered = id_token.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = CoreIdToken::from_str(std::str::from_utf8(&tampered).expect("ascii")).expect("still a JWT");
    assert!(tampered.claims(&verifier, &Nonce::new(NONCE.to_string())).is_err(), "a changed signature fails");

    // fhirUser: the patient's own resource, which the token reads.
    let payload = jwt_payload(&id_token);
    let fhir_user = payload["fhirUser"].as_str().expect("fhirUser").to_string();
    assert_eq!(fhir_user, format!("{issuer}/Patient/{patient}"));
    let access = tokens["access_token"].as_str().expect("access token");
    let read = reqwest::Client::new().get(&fhir_user).bearer_auth(access).send().await.expect("read");
    assert_eq!(read.status(), 200);

    // A refresh: a new ID token for the same person, with no nonce.
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let (status, refreshed) = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(status, 200, "{refreshed}");
    let again = jwt_payload(refreshed["id_token"].as_str().expect("a new id_token"));
    assert_eq!(again["sub"], payload["sub"]);
    assert!(again.get("nonce").is_none(), "{again}");
    // A refresh that drops fhirUser gets an ID token without it.
    let next = refreshed["refresh_token"].as_str().expect("a new refresh token");
    let (status, narrowed) = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", next), ("scope", "openid offline_access patient/Patient.rs")]).await;
    assert_eq!(status, 200, "{narrowed}");
    let narrowed_payload = jwt_payload(narrowed["id_token"].as_str().expect("an id_token"));
    assert!(narrowed_payload.get("fhirUser").is_none(), "{narrowed_payload}");

    // Without openid: no ID token. One key, its private half sealed.
    let plain = connect(&app, &leon, &client_id, "launch/patient patient/Patient.rs").await;
    assert!(plain.get("id_token").is_none(), "{plain}");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM signing_key").await, 1);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM signing_key WHERE private_sealed LIKE '%PRIVATE KEY%'").await, 0);
}

/// An app's authorization request carried through sign-in arrives whole: its percent-encoded
/// spaces and bars (`scope`), slashes (`redirect_uri`) and pluses come back exactly as the app
/// sent them, through the consent page's redirect to sign-in, the sign-in page's hidden field,
/// and the sign-in's own redirect (no decoding twice on the way).
#[tokio::test]
async fn an_authorization_request_survives_sign_in_byte_for_byte() {
    let app = spawn_app().await;
    let (client_id, _, _) = launch_ready(&app).await;
    let aud = app.url("/fhir/r4");
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>().replace('+', "%20");
    let query = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "launch/patient openid patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
        ("state", "a+b c%d"),
        ("aud", aud.as_str()),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", encode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let asked = format!("/oauth/authorize?{query}");
    let browser = app.new_client();
    let to_sign_in = browser.get(app.url(&asked)).send().await.expect("consent page");
    assert_eq!(to_sign_in.status(), 303);
    let location = to_sign_in.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with("/sign-in?next="), "{location}");
    let page = browser.get(app.url(&location)).send().await.expect("sign-in page").text().await.expect("html");
    let hidden = page.split("name=\"next\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("the hidden next field");
    let next = hidden.replace("&amp;", "&").replace("&#x27;", "'").replace("&quot;", "\"");
    assert_eq!(next, asked, "the sign-in page carries the request as the app sent it");
    app.create_user("ines@example.org", &[app::domain::Role::Patient], None).await;
    let signed_in = app.call(&browser, "sign_in", &[("email", "ines@example.org"), ("password", portal_tests::PASSWORD), ("next", next.as_str())]).await;
    let back = signed_in.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(back, asked, "signed in, back to the request byte for byte");
}
