//! OpenID Connect sign-in against a real provider (npm `oidc-provider` on 127.0.0.1, see
//! `tests/oidc/provider.mjs`): linking an identity, signing in with it, activation with it, and
//! the attacks the issue names (forged or replayed `state` and `code`, another `nonce`), each
//! refused, audited and changing nothing.

use app::backend::entities::{app_user, external_identity};
use app::domain::Role;
use portal_tests::fake_idp::{FakeIdp, Flaw};
use portal_tests::oidc::{self, PROVIDER, journey, location, login_at_provider, spawn_app_with_provider, start, visit_callback};
use portal_tests::{TestApp, spawn_app_with};
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};

/// A signed-in patient who linked the provider identity `login`.
async fn linked_patient(app: &TestApp, email: &str, login: &str) -> reqwest::Client {
    app.create_user(email, &[Role::Patient], None).await;
    let client = app.new_client();
    app.login_as(&client, email).await;
    let to = journey(app, &client, "oidc_link", &[("provider", PROVIDER)], login).await;
    assert_eq!(to, "/account?oidc=linked");
    client
}

fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("an address")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("an address");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { value.to_string() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[tokio::test]
async fn a_linked_identity_signs_in_through_the_provider_and_is_audited() {
    let app = spawn_app_with_provider(|_| {}).await;
    linked_patient(&app, "pat@example.org", "alice").await;
    let link = app.audit("identity_link", "success").await;
    assert_eq!(link.len(), 1);
    assert_eq!(link[0].detail.as_deref(), Some("provider=Test IdP"));

    let rows = external_identity::Entity::find().all(&app.db).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].issuer, oidc::issuer());
    assert_eq!(rows[0].subject, "alice");

    // Another browser, no password: the provider's word (a verified ID token) is enough.
    let browser = app.new_client();
    let to = journey(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER), ("next", "/record")], "alice").await;
    assert_eq!(to, "/record");
    assert_eq!(app.me(&browser).await.expect("signed in")["email"], "pat@example.org");
    let logins = app.audit("login", "success").await;
    assert_eq!(logins.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc:test"));
}

#[tokio::test]
async fn an_identity_linked_to_no_account_is_refused_and_creates_nothing() {
    let app = spawn_app_with_provider(|_| {}).await;
    let users_before = app_user::Entity::find().count(&app.db).await.expect("count");
    let browser = app.new_client();
    let to = journey(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)], "stranger").await;
    assert_eq!(to, "/sign-in?oidc=unlinked");
    assert!(app.me(&browser).await.is_none());
    assert_eq!(app_user::Entity::find().count(&app.db).await.expect("count"), users_before);
    let failures = app.audit("login", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc_unlinked"));

    // The page explains what to do, from a fixed table (nothing the provider sent is echoed).
    let page = browser.get(app.url(&to)).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("No portal account is linked to that sign-in yet"), "{page}");
}

#[tokio::test]
async fn staff_who_sign_in_through_the_provider_still_give_their_second_factor() {
    let app = spawn_app_with_provider(|_| {}).await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let staff = app.new_client();
    app.login_as(&staff, "sam@example.org").await;
    assert_eq!(journey(&app, &staff, "oidc_link", &[("provider", PROVIDER)], "sam").await, "/account?oidc=linked");

    let browser = app.new_client();
    let to = journey(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)], "sam").await;
    assert!(to.starts_with("/sign-in/verify"), "{to}");
    assert!(app.me(&browser).await.is_none(), "not signed in before the second factor");
    app.second_factor(&browser, "sam@example.org").await;
    assert_eq!(app.me(&browser).await.expect("signed in")["email"], "sam@example.org");
    let logins = app.audit("login", "success").await;
    assert_eq!(logins.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc:test+totp"));
}

#[tokio::test]
async fn a_forged_state_is_refused_and_the_real_one_then_no_longer_works() {
    let app = spawn_app_with_provider(|_| {}).await;
    linked_patient(&app, "pat@example.org", "alice").await;
    let browser = app.new_client();
    let authorize = start(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)]).await;
    let callback = login_at_provider(&browser, &authorize, "alice").await;

    let forged = with_param(&callback, "state", "forged-by-an-attacker");
    assert_eq!(visit_callback(&browser, &forged).await, "/sign-in?oidc=expired");
    assert!(app.me(&browser).await.is_none());
    let failures = app.audit("login", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc_state_mismatch"));

    // The flow's secrets left the session with the first callback: single use.
    assert_eq!(visit_callback(&browser, &callback).await, "/sign-in?oidc=expired");
    assert!(app.me(&browser).await.is_none());
}

#[tokio::test]
async fn a_callback_in_a_browser_that_never_started_a_flow_is_refused() {
    let app = spawn_app_with_provider(|_| {}).await;
    linked_patient(&app, "pat@example.org", "alice").await;
    let victim = app.new_client();
    let attacker = app.new_client();
    // Login CSRF: the attacker gets a valid code for their own identity and sends the victim there.
    let authorize = start(&app, &attacker, "oidc_sign_in", &[("provider", PROVIDER)]).await;
    let callback = login_at_provider(&attacker, &authorize, "alice").await;
    assert_eq!(visit_callback(&victim, &callback).await, "/sign-in?oidc=expired");
    assert!(app.me(&victim).await.is_none());
}

#[tokio::test]
async fn a_replayed_code_is_refused_by_the_provider() {
    let app = spawn_app_with_provider(|_| {}).await;
    linked_patient(&app, "pat@example.org", "alice").await;
    let browser = app.new_client();
    let authorize = start(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)]).await;
    let callback = login_at_provider(&browser, &authorize, "alice").await;
    assert_eq!(visit_callback(&browser, &callback).await, "/record");

    // An attacker who saw the old callback starts a fresh flow and pairs its state with the
    // spent code: the provider refuses the code (already used, and PKCE no longer matches).
    let attacker = app.new_client();
    let fresh = start(&app, &attacker, "oidc_sign_in", &[("provider", PROVIDER)]).await;
    let replay = with_param(&callback, "state", &query_param(&fresh, "state"));
    assert_eq!(visit_callback(&attacker, &replay).await, "/sign-in?oidc=failed");
    assert!(app.me(&attacker).await.is_none());
    let failures = app.audit("login", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc_code_rejected"));
}

#[tokio::test]
async fn an_id_token_carrying_another_nonce_is_refused() {
    let app = spawn_app_with_provider(|_| {}).await;
    linked_patient(&app, "pat@example.org", "alice").await;
    let browser = app.new_client();
    let authorize = start(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)]).await;
    // The provider puts whatever nonce the request carried into the ID token.
    let tampered = with_param(&authorize, "nonce", "a-nonce-the-portal-never-issued");
    let callback = login_at_provider(&browser, &tampered, "alice").await;
    assert_eq!(visit_callback(&browser, &callback).await, "/sign-in?oidc=failed");
    assert!(app.me(&browser).await.is_none());
    let failures = app.audit("login", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc_token_rejected"));
}

#[tokio::test]
async fn cancelling_at_the_provider_changes_nothing() {
    let app = spawn_app_with_provider(|_| {}).await;
    let browser = app.new_client();
    let authorize = start(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)]).await;
    let state = query_param(&authorize, "state");
    let callback = app.url(&format!("/auth/oidc/callback?error=access_denied&state={state}"));
    assert_eq!(visit_callback(&browser, &callback).await, "/sign-in?oidc=cancelled");
    let failures = app.audit("login", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc_refused"));
}

#[tokio::test]
async fn an_identity_belongs_to_one_account_only() {
    let app = spawn_app_with_provider(|_| {}).await;
    linked_patient(&app, "one@example.org", "shared").await;
    app.create_user("two@example.org", &[Role::Patient], None).await;
    let second = app.new_client();
    app.login_as(&second, "two@example.org").await;
    let to = journey(&app, &second, "oidc_link", &[("provider", PROVIDER)], "shared").await;
    assert_eq!(to, "/account?oidc=taken");
    assert_eq!(external_identity::Entity::find().count(&app.db).await.expect("count"), 1);
    let failures = app.audit("identity_link", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("identity_linked_to_another_account"));
}

#[tokio::test]
async fn linking_needs_a_signed_in_account() {
    let app = spawn_app_with_provider(|_| {}).await;
    let browser = app.new_client();
    assert_eq!(app.call(&browser, "oidc_link", &[("provider", PROVIDER)]).await.status().as_u16(), 401);
    assert_eq!(app.call(&browser, "oidc_sign_in", &[("provider", "no-such-provider")]).await.status().as_u16(), 404);
}

#[tokio::test]
async fn unlinking_never_removes_the_last_way_to_sign_in() {
    let app = spawn_app_with_provider(|_| {}).await;
    let client = linked_patient(&app, "pat@example.org", "alice").await;
    let listed = app.call_ok(&client, "my_identities", &[]).await;
    assert_eq!(listed[0]["provider"], "Test IdP");
    assert_eq!(listed[0]["subject"], "alice");
    let issuer = oidc::issuer();

    // Someone else's identity (or none) answers 404.
    let other = app.call(&client, "unlink_identity", &[("issuer", &issuer), ("subject", "bob")]).await;
    assert_eq!(other.status().as_u16(), 404);

    // This account has a password, so the identity can go.
    app.call_ok(&client, "unlink_identity", &[("issuer", &issuer), ("subject", "alice")]).await;
    assert_eq!(app.audit("identity_unlink", "success").await.len(), 1);
    let browser = app.new_client();
    assert_eq!(journey(&app, &browser, "oidc_sign_in", &[("provider", PROVIDER)], "alice").await, "/sign-in?oidc=unlinked");
}

#[tokio::test]
async fn a_patient_activates_with_the_provider_instead_of_a_password() {
    let app = spawn_app_with_provider(|_| {}).await;
    let patient = app.create_patient("MRN-9", "Lopez", "1984-03-07").await;
    app.create_user("sam@example.org", &[Role::HimStaff], None).await;
    let staff = app.new_client();
    app.login_as(&staff, "sam@example.org").await;
    app.call_ok(&staff, "issue_activation_code", &[("patient_id", &patient)]).await;
    let letter = app.call_ok(&staff, "take_activation_letter", &[]).await;
    let code = letter["code"].as_str().expect("code").to_string();

    let fields = |code: &'static str, birth: &'static str| {
        [("code", code), ("birth_date", birth), ("name", "León Lopez"), ("email", "leon@example.org"), ("oidc_provider", PROVIDER)]
    };
    let code: &'static str = code.leak();

    // A wrong date of birth: back to the form, the code unspent.
    let person = app.new_client();
    let wrong = fields(code, "1990-01-01");
    assert_eq!(journey(&app, &person, "activate_account", &wrong, "leon").await, "/register?oidc=activation_invalid");
    assert!(app.me(&person).await.is_none());

    let right = fields(code, "1984-03-07");
    assert_eq!(journey(&app, &person, "activate_account", &right, "leon").await, "/record");
    let me = app.me(&person).await.expect("signed in");
    assert_eq!(me["email"], "leon@example.org");
    assert_eq!(me["has_record"], true);
    let user = app_user::Entity::find().all(&app.db).await.expect("users").into_iter().find(|u| u.email == "leon@example.org").expect("user");
    assert!(user.password_hash.is_none(), "no password: the provider identity is the way in");

    // Next time, the provider alone signs them in.
    let later = app.new_client();
    assert_eq!(journey(&app, &later, "oidc_sign_in", &[("provider", PROVIDER), ("next", "/record")], "leon").await, "/record");

    // The only way in cannot be unlinked.
    let unlink = app.call(&later, "unlink_identity", &[("issuer", &oidc::issuer()), ("subject", "leon")]).await;
    assert_eq!(unlink.status().as_u16(), 409);
}

#[tokio::test]
async fn activation_with_the_provider_checks_the_form_before_leaving() {
    let app = spawn_app_with_provider(|_| {}).await;
    let person = app.new_client();
    let response = app
        .call(&person, "activate_account", &[("code", ""), ("birth_date", "nope"), ("name", ""), ("email", "x"), ("oidc_provider", PROVIDER)])
        .await;
    assert_eq!(response.status().as_u16(), 422);
    assert!(location(&response).is_none(), "no trip to the provider with a form that cannot work");
    let body = response.text().await.expect("body");
    for field in ["code", "birth_date", "email", "name"] {
        assert!(body.contains(&format!("\"field\":\"{field}\"")), "{field} in {body}");
    }
}

#[tokio::test]
async fn a_provider_that_does_not_answer_gets_a_clear_message() {
    // Port 9 (discard) is closed on the test machine: discovery fails.
    let app = spawn_app_with(|s| {
        s.oidc_providers = vec![oidc::provider_settings("down", "http://127.0.0.1:9", "portal", None)];
    })
    .await;
    let browser = app.new_client();
    let response = app.call(&browser, "oidc_sign_in", &[("provider", "down")]).await;
    assert_eq!(response.status().as_u16(), 503);
    let body = response.text().await.expect("body");
    assert!(body.contains("cannot be reached"), "{body}");
}

#[tokio::test]
async fn the_sign_in_page_offers_each_provider_without_javascript() {
    let app = spawn_app_with_provider(|_| {}).await;
    let html = app.get("/sign-in").await.text().await.expect("html");
    assert!(html.contains("Sign in with Test IdP"), "{html}");
    assert!(html.contains(r#"name="provider" value="test""#), "{html}");
    let html = app.get("/register").await.text().await.expect("html");
    assert!(html.contains("Continue with Test IdP"), "{html}");
}

/// Signs in through the hostile provider whose ID token has `flaw`; returns where the portal
/// sent the browser, and the app.
async fn through_fake_provider(flaw: Flaw) -> (TestApp, reqwest::Client, String) {
    let idp = FakeIdp::start(flaw).await;
    let app = spawn_app_with(|s| {
        s.oidc_providers = vec![oidc::provider_settings("fake", &idp.issuer, &idp.client_id, Some("secret"))];
    })
    .await;
    // The identity the fake provider vouches for belongs to a patient.
    let user = app.create_user("m@example.org", &[Role::Patient], None).await;
    external_identity::Entity::insert(external_identity::ActiveModel {
        issuer: Set(idp.issuer.clone()),
        subject: Set("mallory".into()),
        user_id: Set(user.id.clone()),
        linked_at_ms: Set(0),
    })
    .exec(&app.db)
    .await
    .expect("linked");
    let browser = app.new_client();
    let authorize = start(&app, &browser, "oidc_sign_in", &[("provider", "fake")]).await;
    idp.expect_nonce(&query_param(&authorize, "nonce"));
    let state = query_param(&authorize, "state");
    let to = visit_callback(&browser, &app.url(&format!("/auth/oidc/callback?code=fake-code&state={state}"))).await;
    (app, browser, to)
}

async fn assert_token_refused(flaw: Flaw) {
    let (app, browser, to) = through_fake_provider(flaw).await;
    assert_eq!(to, "/sign-in?oidc=failed", "{flaw:?}");
    assert!(app.me(&browser).await.is_none(), "{flaw:?}");
    let failures = app.audit("login", "failure").await;
    assert_eq!(failures.last().and_then(|r| r.detail.clone()).as_deref(), Some("oidc_token_rejected"), "{flaw:?}");
    assert!(app.audit("login", "success").await.is_empty(), "{flaw:?}");
}

#[tokio::test]
async fn the_hostile_provider_signs_in_when_its_token_is_sound() {
    // The control: without a flaw, the same set-up signs in, so each refusal below is a check.
    let (app, browser, to) = through_fake_provider(Flaw::None).await;
    assert_eq!(to, "/record");
    assert_eq!(app.me(&browser).await.expect("signed in")["email"], "m@example.org");
}

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    assert_token_refused(Flaw::OtherAudience).await;
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    assert_token_refused(Flaw::OtherIssuer).await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    assert_token_refused(Flaw::Expired).await;
}

#[tokio::test]
async fn an_id_token_with_a_broken_signature_is_refused() {
    assert_token_refused(Flaw::BrokenSignature).await;
}

#[tokio::test]
async fn the_provider_button_works_without_javascript() {
    let app = spawn_app_with_provider(|_| {}).await;
    let response = app.post_form("/api/oidc_sign_in", &[("provider", PROVIDER), ("next", "")]).await;
    let status = response.status().as_u16();
    let to = location(&response).unwrap_or_default();
    assert!((300..400).contains(&status), "a plain form post is redirected: {status} {to}");
    assert!(to.starts_with(&oidc::issuer()), "to the provider: {to}");
    // Browsers apply the page's `form-action` to that redirect: the provider must be allowed.
    let page = app.get("/sign-in").await;
    let csp = page.headers()["content-security-policy"].to_str().expect("ASCII").to_string();
    assert!(csp.contains(&format!("form-action 'self' {};", oidc::issuer())), "{csp}");
}
