//! The FHIR R4 API that SMART tokens open (issue 22): discovery and the CapabilityStatement,
//! every served type read and searched and valid against the FHIR R4 JSON schema (an independent
//! validator), US Core searches, paging, `$everything`, scopes (403), other patients' ids and
//! hidden items (404), missing, expired and revoked tokens (401), bad input named in an
//! OperationOutcome, and every read audited under the app's name.

use crate::instant_copies::{ROOT, temp_file};
use crate::smart::{connect, launch_ready};
use app::domain::smart::RESOURCE_TYPES;
use portal_tests::{TestApp, count, spawn_app};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;

/// Carl, signed in, who accepted Leon's invitation to the limited view (30 days) and now acts
/// for Leon's record.
async fn limited_caregiver(app: &TestApp, leon: &reqwest::Client, patient: &str) -> reqwest::Client {
    let sent = app.call_ok(leon, "invite_caregiver", &[("form[email]", "carl@example.org"), ("form[view]", "limited"), ("form[days]", "30")]).await;
    let invitation = sent["link"].as_str().expect("link").split("token=").nth(1).expect("token").to_string();
    app.create_user("carl@example.org", &[], None).await;
    let carl = app.new_client();
    app.login_as(&carl, "carl@example.org").await;
    app.call_ok(&carl, "accept_invitation", &[("token", &invitation)]).await;
    app.call_ok(&carl, "switch_person", &[("patient", patient)]).await;
    carl
}

/// `GET /fhir/r4/<path>` with the token; (status, body).
async fn get(app: &TestApp, token: Option<&str>, path: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(app.url(&format!("/fhir/r4/{path}")));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 200 {
        assert_eq!(body["resourceType"], "OperationOutcome", "{path}: {status} {body}");
    }
    assert!(kind.starts_with("application/fhir+json"), "{path}: {kind}");
    (status, body)
}

/// The resources of a searchset.
fn resources(bundle: &Value) -> Vec<Value> {
    bundle["entry"].as_array().map(|e| e.iter().map(|x| x["resource"].clone()).collect()).unwrap_or_default()
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"].as_array()?.iter().find(|l| l["relation"] == relation).and_then(|l| l["url"].as_str()).map(str::to_string)
}

/// Every resource against the FHIR R4 JSON schema, in one run of the validator.
fn assert_all_valid(values: &[Value]) {
    let paths: Vec<_> = values.iter().map(|v| temp_file(v.to_string().as_bytes(), "json")).collect();
    let out = Command::new("node").arg(format!("{ROOT}/tests/tools/validate-fhir.cjs")).args(&paths).current_dir(ROOT).output().expect("node is needed");
    for p in &paths {
        std::fs::remove_file(p).ok();
    }
    assert!(out.status.success(), "not valid FHIR R4: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("reference").and_then(Value::as_str) {
                out.push(r.to_string());
            }
            m.values().for_each(|x| references(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn an_app_reads_and_searches_the_record_it_was_granted() {
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    // Synthea's practitioners and organizations come in a file of their own; this one carries
    // some, for the shared directory the API serves.
    app.import_fhir(include_bytes!("../fixtures/fhir/synthea/Marcos_Delagarza_4acb6705-25a7-430a-b799-a4ad8d7fbb38.json")).await;

    // Discovery, without a token, at the FHIR base as SMART asks and at the site's root.
    for path in ["/fhir/r4/.well-known/smart-configuration", "/.well-known/smart-configuration"] {
        let config: Value = reqwest::get(app.url(path)).await.expect("sent").json().await.expect("JSON");
        assert_eq!(config["token_endpoint"], app.url("/oauth/token"));
        assert_eq!(config["authorization_endpoint"], app.url("/oauth/authorize"));
        assert_eq!(config["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert!(config["capabilities"].as_array().expect("list").iter().any(|c| c == "launch-standalone"));
    }
    let (status, capability) = get(&app, None, "metadata").await;
    assert_eq!(status, 200);
    assert_eq!(capability["fhirVersion"], "4.0.1");
    let observation = capability["rest"][0]["resource"].as_array().expect("types").iter().find(|r| r["type"] == "Observation").expect("Observation").clone();
    assert!(observation["searchParam"].to_string().contains("\"patient\""), "{observation}");

    let tokens = connect(&app, &leon, &client_id, "launch/patient offline_access patient/*.rs").await;
    let token = tokens["access_token"].as_str().expect("token").to_string();
    let t = Some(token.as_str());

    // The patient, under the id the token response named.
    let (status, me) = get(&app, t, &format!("Patient/{patient}")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], patient.as_str());
    let mut all = vec![capability, me];

    // Every type: a search by patient; what is found reads back by id; references point at this
    // server or are display-only.
    let mut served_refs = Vec::new();
    let mut found_types = HashSet::new();
    for kind in RESOURCE_TYPES {
        let query = match kind {
            "Practitioner" | "Organization" | "Location" => format!("{kind}?_count=5"),
            "Patient" => format!("Patient?_id={patient}"),
            _ => format!("{kind}?patient={patient}&_count=5"),
        };
        let (status, bundle) = get(&app, t, &query).await;
        assert_eq!(status, 200, "{kind}: {bundle}");
        assert_eq!(bundle["type"], "searchset");
        for resource in resources(&bundle) {
            assert_eq!(resource["resourceType"], kind);
            found_types.insert(kind);
            references(&resource, &mut served_refs);
            all.push(resource);
        }
        all.push(bundle);
    }
    for kind in ["Patient", "Condition", "Observation", "Encounter", "Immunization", "MedicationRequest", "Procedure", "DiagnosticReport", "Practitioner", "Organization"] {
        assert!(found_types.contains(kind), "the medium record has {kind}");
    }
    assert_all_valid(&all);
    served_refs.sort();
    served_refs.dedup();
    for reference in served_refs.iter().take(40) {
        assert!(!reference.starts_with("urn:uuid:") && !reference.contains('?'), "{reference}");
        let (status, target) = get(&app, t, reference).await;
        assert_eq!(status, 200, "{reference} resolves: {target}");
    }

    // US Core: laboratory observations, paged by `next` links to the end.
    let (_, first) = get(&app, t, &format!("Observation?patient=Patient/{patient}&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&_count=20")).await;
    let total = first["total"].as_u64().expect("total");
    assert!(total > 20, "93 lab results in the medium record: {total}");
    let mut seen = resources(&first).len() as u64;
    let mut next = link(&first, "next");
    let mut ids = HashSet::new();
    while let Some(url) = next {
        let path = url.strip_prefix(&app.url("/fhir/r4/")).expect("a link on this server").to_string();
        let (status, page) = get(&app, t, &path).await;
        assert_eq!(status, 200);
        for r in resources(&page) {
            assert!(r["category"].to_string().contains("laboratory"), "{r}");
            assert!(ids.insert(r["id"].as_str().expect("id").to_string()), "no resource twice");
        }
        seen += resources(&page).len() as u64;
        next = link(&page, "next");
    }
    assert_eq!(seen, total);

    // By code and by date: every match has them.
    let sample = resources(&first).into_iter().next().expect("a lab result");
    let code = sample["code"]["coding"][0]["code"].as_str().expect("a code").to_string();
    let (_, by_code) = get(&app, t, &format!("Observation?patient={patient}&code=http://loinc.org|{code}")).await;
    assert!(!resources(&by_code).is_empty());
    assert!(resources(&by_code).iter().all(|r| r["code"].to_string().contains(&code)));
    let (_, dated) = get(&app, t, &format!("Observation?patient={patient}&category=vital-signs&date=ge2015-01-01&date=lt2016-01-01")).await;
    for r in resources(&dated) {
        let when = r["effectiveDateTime"].as_str().expect("a date");
        assert!(when.as_bytes()[..4] == *b"2015", "{when}");
    }
    let (_, conditions) = get(&app, t, &format!("Condition?patient={patient}&clinical-status=active")).await;
    assert!(resources(&conditions).iter().all(|r| r["clinicalStatus"].to_string().contains("active")));
    let (_, by_id) = get(&app, t, &format!("Observation?_id={}", sample["id"].as_str().expect("id"))).await;
    assert_eq!(by_id["total"], 1);

    // `_count`: 0 gives the total only; a million is capped.
    let (_, counted) = get(&app, t, &format!("Observation?patient={patient}&_count=0")).await;
    assert!(counted["total"].as_u64().expect("total") > 100 && resources(&counted).is_empty());
    let (_, capped) = get(&app, t, &format!("Observation?patient={patient}&_count=1000000")).await;
    let all_observations = capped["total"].as_u64().expect("total") as usize;
    assert_eq!(resources(&capped).len(), all_observations.min(200));
    assert!(link(&capped, "self").expect("self").contains("_count=200"), "{:?}", link(&capped, "self"));

    // $everything: the patient and every resource of theirs.
    let (status, everything) = get(&app, t, &format!("Patient/{patient}/$everything")).await;
    assert_eq!(status, 200);
    let kinds: HashSet<String> = resources(&everything).iter().filter_map(|r| r["resourceType"].as_str().map(str::to_string)).collect();
    assert!(kinds.contains("Patient") && kinds.contains("Observation") && kinds.contains("Condition"), "{kinds:?}");
    let served = count(&app.db, &format!("SELECT COUNT(*) FROM fhir_resource WHERE patient_id = '{patient}' AND resource_type IN ('{}')", RESOURCE_TYPES.join("','"))).await;
    let matched = everything["entry"].as_array().expect("entries").iter().filter(|e| e["search"]["mode"] == "match").count() as i64;
    assert_eq!(matched, served, "every served resource of the record once");

    // Every read is audited under the app, and the activity history names it.
    let reads = count(&app.db, "SELECT COUNT(*) FROM audit_event WHERE action = 'patient_read' AND entity_type = 'smart_app'").await;
    assert!(reads >= 20, "{reads}");
    let history = app.call_ok(&leon, "my_activity", &[]).await.to_string();
    assert!(history.contains("Health Diary (an app connected by you)"), "{history}");
}

#[tokio::test]
async fn the_api_refuses_what_the_token_does_not_open() {
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    let tokens = connect(&app, &leon, &client_id, "patient/Patient.rs patient/Condition.rs offline_access").await;
    let token = tokens["access_token"].as_str().expect("token").to_string();
    let t = Some(token.as_str());

    // Scopes: a type not granted is 403; granted ones answer.
    assert_eq!(get(&app, t, &format!("Observation?patient={patient}")).await.0, 403);
    assert_eq!(get(&app, t, &format!("Condition?patient={patient}")).await.0, 200);

    // Another patient's record: their ids are 404, as is a search naming them.
    let other = app.import_fhir(include_bytes!("../fixtures/fhir/synthea/b6f92fa3-b989-fa1b-aad8-aafb1020a5e9.json")).await;
    let theirs: String = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), format!("SELECT fhir_id FROM fhir_resource WHERE patient_id = '{other}' AND resource_type = 'Condition'")))
        .await
        .expect("query")
        .expect("a condition")
        .try_get("", "fhir_id")
        .expect("id");
    assert_eq!(get(&app, t, &format!("Condition/{theirs}")).await.0, 404);
    assert_eq!(get(&app, t, &format!("Patient/{other}")).await.0, 404);
    assert_eq!(get(&app, t, &format!("Condition?patient={other}")).await.0, 404);

    // A psychotherapy note is never served online (45 CFR 164.524(a)(1)(i)): 404 like absence.
    let (_, conditions) = get(&app, t, &format!("Condition?patient={patient}")).await;
    let hidden = resources(&conditions)[0]["id"].as_str().expect("id").to_string();
    assert_eq!(get(&app, t, &format!("Condition/{hidden}")).await.0, 200);
    app.db
        .execute_unprepared(&format!("INSERT INTO sensitive_tag (resource_id, category, patient_id) SELECT id, 'psychotherapy_notes', patient_id FROM fhir_resource WHERE fhir_id = '{hidden}' AND resource_type = 'Condition'"))
        .await
        .expect("tagged");
    assert_eq!(get(&app, t, &format!("Condition/{hidden}")).await.0, 404);
    let (_, after) = get(&app, t, &format!("Condition?patient={patient}")).await;
    assert_eq!(after["total"].as_u64(), conditions["total"].as_u64().map(|n| n - 1));

    // Bad input: named in an OperationOutcome.
    let (status, outcome) = get(&app, t, &format!("Condition?patient={patient}&severity=severe&_sort=date")).await;
    assert_eq!(status, 400);
    assert!(outcome.to_string().contains("severity, _sort"), "{outcome}");
    let (status, outcome) = get(&app, t, "Condition?onset-date=yesterday").await;
    assert_eq!(status, 400);
    assert!(outcome.to_string().contains("onset-date"), "{outcome}");
    assert_eq!(get(&app, t, "Spaceship?patient=x").await.0, 404);
    assert_eq!(get(&app, t, "Condition/not%20an%20id").await.0, 400);
    assert_eq!(get(&app, t, "Condition/x/y/z").await.0, 404);
    let xml = reqwest::Client::new().get(app.url("/fhir/r4/metadata?_format=xml")).send().await.expect("sent");
    assert_eq!(xml.status(), 406);

    // Tokens: none, unknown, expired.
    let (status, _) = get(&app, None, &format!("Patient/{patient}")).await;
    assert_eq!(status, 401);
    assert_eq!(get(&app, Some("not-a-token"), &format!("Patient/{patient}")).await.0, 401);
    let second = connect(&app, &leon, &client_id, "patient/Patient.rs").await;
    let second = second["access_token"].as_str().expect("token").to_string();
    app.db.execute_unprepared(&format!("UPDATE smart_token SET expires_at_ms = 0 WHERE token_hash = '{}'", sha256_hex(&second))).await.expect("expired");
    assert_eq!(get(&app, Some(&second), &format!("Patient/{patient}")).await.0, 401);

    // Disconnected from "Who can see my records": the next call fails.
    let listed = app.call_ok(&leon, "connected_apps", &[]).await;
    let grants: Vec<String> = listed.as_array().expect("list").iter().map(|a| a["grant_id"].as_str().expect("id").to_string()).collect();
    assert!(listed.to_string().contains("Health Diary"), "{listed}");
    for grant in &grants {
        app.call_ok(&leon, "disconnect_app", &[("id", grant.as_str())]).await;
    }
    assert_eq!(get(&app, t, &format!("Patient/{patient}")).await.0, 401);
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let (status, _) = crate::smart::token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(status, 400, "a disconnected app cannot refresh");
    assert!(count(&app.db, "SELECT COUNT(*) FROM audit_event WHERE action = 'app_revoke'").await >= 1);

    // The app's own revocation (RFC 7009): 200 whatever the token, and the grant ends.
    let third = connect(&app, &leon, &client_id, "patient/Patient.rs").await;
    let third = third["access_token"].as_str().expect("token").to_string();
    assert_eq!(get(&app, Some(&third), &format!("Patient/{patient}")).await.0, 200);
    for revoked in [third.as_str(), "unknown"] {
        let response = reqwest::Client::new().post(app.url("/oauth/revoke")).form(&[("token", revoked), ("client_id", client_id.as_str())]).send().await.expect("sent");
        assert_eq!(response.status(), 200);
    }
    assert_eq!(get(&app, Some(&third), &format!("Patient/{patient}")).await.0, 401);
}

/// A caregiver with a limited view (45 CFR 164.502(g)(3)) connects an app for the patient they
/// act for: it reads that patient's record within the caregiver's own view (no sensitive item,
/// no notes), its ID token has no fhirUser (the caregiver is not the Patient resource), the
/// patient sees the app on "Who can see my records" as connected by the caregiver and every
/// read in the activity history, and when the patient ends the caregiver's access the app's
/// next call is refused with 401.
#[tokio::test]
async fn a_limited_proxys_app_reads_only_what_the_proxy_may_see_and_stops_with_the_proxy() {
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    // One active problem tagged as mental health: a limited view does not show it.
    let tagged: String = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT r.fhir_id FROM clinical_item c JOIN fhir_resource r ON r.id = c.resource_id WHERE c.patient_id = '{patient}' AND c.kind = 'condition' ORDER BY c.display"),
        ))
        .await
        .expect("query")
        .expect("a condition")
        .try_get("", "fhir_id")
        .expect("id");
    app.db
        .execute_unprepared(&format!("INSERT INTO sensitive_tag (resource_id, category, patient_id) SELECT id, 'mental_health', patient_id FROM fhir_resource WHERE fhir_id = '{tagged}' AND resource_type = 'Condition'"))
        .await
        .expect("tagged");
    let carl = limited_caregiver(&app, &leon, &patient).await;

    let tokens = connect(&app, &carl, &client_id, "launch/patient openid fhirUser patient/*.rs").await;
    assert_eq!(tokens["patient"], patient.as_str(), "the record the caregiver acts for");
    let payload = tokens["id_token"].as_str().expect("id_token").split('.').nth(1).map(|p| {
        use base64::Engine;
        serde_json::from_slice::<Value>(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("JSON")
    });
    let payload = payload.expect("payload");
    assert!(payload.get("fhirUser").is_none(), "a caregiver is not the patient: {payload}");
    let carl_token = tokens["access_token"].as_str().expect("token").to_string();
    let t = Some(carl_token.as_str());
    let (status, conditions) = get(&app, t, &format!("Condition?patient={patient}")).await;
    assert_eq!(status, 200);
    assert!(!resources(&conditions).iter().any(|c| c["id"] == tagged.as_str()), "the sensitive problem is not listed");
    assert!(!resources(&conditions).is_empty());
    assert_eq!(get(&app, t, &format!("Condition/{tagged}")).await.0, 404, "nor read by id");
    let (status, notes) = get(&app, t, &format!("DocumentReference?patient={patient}")).await;
    assert_eq!((status, notes["total"].as_u64()), (200, Some(0)), "no notes in a limited view");
    let (_, everything) = get(&app, t, &format!("Patient/{patient}/$everything")).await;
    assert!(!resources(&everything).iter().any(|r| r["id"] == tagged.as_str() || r["resourceType"] == "DocumentReference"));

    // The patient's own app sees both.
    let own = connect(&app, &leon, &client_id, "patient/*.rs").await;
    let own = own["access_token"].as_str().expect("token").to_string();
    assert_eq!(get(&app, Some(&own), &format!("Condition/{tagged}")).await.0, 200);
    let (_, own_notes) = get(&app, Some(&own), &format!("DocumentReference?patient={patient}")).await;
    assert!(own_notes["total"].as_u64().unwrap_or(0) > 0);

    // Leon sees who connected it, and the reads, under the app's name.
    let listed = app.call_ok(&leon, "connected_apps", &[]).await;
    assert!(listed.as_array().expect("list").iter().any(|a| a["connected_by"].as_str().is_some_and(|b| b.contains("carl"))), "{listed}");
    let activity = app.call_ok(&leon, "my_activity", &[]).await;
    assert!(activity.to_string().contains("Health Diary"), "{activity}");

    // The list says when Carl (here through his app) last used the record.
    let overview = app.call_ok(&leon, "caregivers_overview", &[]).await;
    assert!(overview["active"][0]["last_used"].is_string(), "{overview}");
    let grant = overview["active"][0]["id"].as_str().expect("a grant").to_string();

    // Carl's access runs out (its end date passes): his app gets 401 at once, the refusal is
    // audited, and the patient no longer sees it among connected apps.
    app.db.execute_unprepared(&format!("UPDATE caregiver_grant SET expires_at_ms = 1 WHERE id = '{grant}'")).await.expect("expired");
    assert_eq!(get(&app, t, &format!("Patient/{patient}")).await.0, 401);
    assert!(app.audit("patient_read", "denied").await.iter().any(|r| r.detail.as_deref().is_some_and(|d| d.ends_with("the caregiver's access has ended"))));
    assert_eq!(app.call_ok(&leon, "connected_apps", &[]).await.as_array().map(Vec::len), Some(1));
    app.db.execute_unprepared(&format!("UPDATE caregiver_grant SET expires_at_ms = NULL WHERE id = '{grant}'")).await.expect("back in force");
    assert_eq!(get(&app, t, &format!("Patient/{patient}")).await.0, 200, "in force again: the app reads again");

    // Leon revokes Carl's access: Carl's app grant is revoked with it (it cannot wake up again).
    app.call_ok(&leon, "revoke_caregiver", &[("id", grant.as_str())]).await;
    assert_eq!(get(&app, t, &format!("Patient/{patient}")).await.0, 401);
    let ended = "SELECT COUNT(*) FROM smart_grant g JOIN app_user u ON u.id = g.user_id WHERE u.email = 'carl@example.org' AND g.revoked_at_ms IS NOT NULL";
    assert_eq!(count(&app.db, ended).await, 1, "the caregiver's app grant ended with the access");
    assert_eq!(get(&app, Some(&own), &format!("Patient/{patient}")).await.0, 200, "the patient's own app goes on");
    let listed = app.call_ok(&leon, "connected_apps", &[]).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "only Leon's own app is still connected: {listed}");
}

/// A caregiver's access can end by its date (or the age rules) with no event that would end
/// their apps: the next token exchange does it. The refresh is refused (`invalid_grant`), the
/// grant is revoked with its tokens and audited, and it does not wake up when the access is
/// renewed (45 CFR 164.502(g)).
#[tokio::test]
async fn a_caregiver_whose_access_ran_out_gets_no_new_token_and_the_app_stays_disconnected() {
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    let carl = limited_caregiver(&app, &leon, &patient).await;
    let tokens = connect(&app, &carl, &client_id, "launch/patient offline_access patient/*.rs").await;
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
    let access = tokens["access_token"].as_str().expect("token").to_string();
    let grant = app.call_ok(&leon, "caregivers_overview", &[]).await["active"][0]["id"].as_str().expect("a grant").to_string();

    app.db.execute_unprepared(&format!("UPDATE caregiver_grant SET expires_at_ms = 1 WHERE id = '{grant}'")).await.expect("expired");
    let (status, refused) = crate::smart::token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", client_id.as_str())]).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")), "{refused}");
    let revoked = "SELECT COUNT(*) FROM smart_grant g JOIN app_user u ON u.id = g.user_id WHERE u.email = 'carl@example.org' AND g.revoked_at_ms IS NOT NULL AND g.revoked_reason LIKE '%access to the record has ended%'";
    assert_eq!(count(&app.db, revoked).await, 1, "the app's grant is revoked");
    assert!(app.audit("app_revoke", "success").await.iter().any(|r| r.detail.as_deref().is_some_and(|d| d.contains("access to the record has ended"))));

    // Renewed access does not bring the app back: its tokens are gone.
    app.db.execute_unprepared(&format!("UPDATE caregiver_grant SET expires_at_ms = NULL WHERE id = '{grant}'")).await.expect("back in force");
    let (status, _) = crate::smart::token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", client_id.as_str())]).await;
    assert_eq!(status, 400);
    assert_eq!(get(&app, Some(&access), &format!("Patient/{patient}")).await.0, 401);
}

/// A granular scope (SMART 2, US Core's category scopes): a token for vital signs only reads
/// vital signs everywhere: searches (indexed and in-memory paths), reads by id (a lab result is
/// 404) and `$everything`; the consent page says so in plain language; other types are 403.
#[tokio::test]
async fn a_granular_scope_reads_only_its_category() {
    use crate::smart::{authorize_fields, borrowed};
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    let vitals = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs";
    let scope = format!("launch/patient patient/Patient.rs {vitals}");
    let consent = app.call_ok(&leon, "app_consent", &borrowed(&authorize_fields(&app, &client_id, &scope))).await;
    assert!(consent.to_string().contains("other observations, only vital signs"), "{consent}");
    assert_eq!(consent["Ask"]["refused"], serde_json::json!([]), "{consent}");
    let tokens = connect(&app, &leon, &client_id, &scope).await;
    assert!(tokens["scope"].as_str().is_some_and(|s| s.contains(vitals)), "{tokens}");
    let token = tokens["access_token"].as_str().expect("token").to_string();
    let t = Some(token.as_str());
    let in_db = |category: &str| format!("SELECT COUNT(*) FROM clinical_item WHERE patient_id = '{patient}' AND kind = 'observation' AND category = '{category}'");
    let (vital_count, lab_count) = (count(&app.db, &in_db("vital-signs")).await, count(&app.db, &in_db("laboratory")).await);
    assert!(vital_count > 0 && lab_count > 0, "the fixture has both");

    let (status, page) = get(&app, t, &format!("Observation?patient={patient}&_count=200")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"].as_i64(), Some(vital_count));
    let first_codes = |r: &Value| r["category"][0]["coding"][0]["code"].as_str().unwrap_or_default().to_string();
    assert!(resources(&page).iter().all(|r| first_codes(r) == "vital-signs"), "only vital signs");
    assert_eq!(get(&app, t, &format!("Observation?patient={patient}&category=laboratory")).await.1["total"], 0);
    // The in-memory path (a code) is narrowed too.
    let vital = resources(&page)[0].clone();
    let code = vital["code"]["coding"][0]["code"].as_str().expect("a code").to_string();
    let (_, by_code) = get(&app, t, &format!("Observation?patient={patient}&code={code}")).await;
    assert!(by_code["total"].as_u64().unwrap_or(0) >= 1);
    assert!(resources(&by_code).iter().all(|r| first_codes(r) == "vital-signs"));
    // A lab result's own code finds nothing through a vital-signs grant (the in-memory path).
    let lab_json: String = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT r.json FROM clinical_item c JOIN fhir_resource r ON r.id = c.resource_id WHERE c.patient_id = '{patient}' AND c.category = 'laboratory'"),
        ))
        .await
        .expect("query")
        .expect("a lab result")
        .try_get("", "json")
        .expect("json");
    let lab_value: Value = serde_json::from_str(&lab_json).expect("JSON");
    let lab_code = lab_value["code"]["coding"][0]["code"].as_str().expect("a lab code").to_string();
    assert_eq!(get(&app, t, &format!("Observation?patient={patient}&code={lab_code}")).await.1["total"], 0, "no lab result through a vital-signs grant");
    // Read by id: a vital sign answers, a lab result is 404 like an absent one.
    assert_eq!(get(&app, t, &format!("Observation/{}", vital["id"].as_str().expect("id"))).await.0, 200);
    let lab: String = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT r.fhir_id FROM clinical_item c JOIN fhir_resource r ON r.id = c.resource_id WHERE c.patient_id = '{patient}' AND c.category = 'laboratory'"),
        ))
        .await
        .expect("query")
        .expect("a lab result")
        .try_get("", "fhir_id")
        .expect("id");
    assert_eq!(get(&app, t, &format!("Observation/{lab}")).await.0, 404);
    // $everything: the patient and the vital signs, nothing else.
    let (_, everything) = get(&app, t, &format!("Patient/{patient}/$everything")).await;
    let observations: Vec<Value> = resources(&everything).into_iter().filter(|r| r["resourceType"] == "Observation").collect();
    assert_eq!(observations.len() as i64, vital_count);
    assert!(observations.iter().all(|r| first_codes(r) == "vital-signs"));
    assert_eq!(get(&app, t, &format!("Condition?patient={patient}")).await.0, 403);
}

/// The database's page (criteria all said in SQL) and the in-memory ranking (a criterion read
/// from the resource) agree: the same matches, in the same order, with the same total.
#[tokio::test]
async fn the_sql_and_in_memory_search_paths_agree() {
    let app = spawn_app().await;
    let (client_id, patient, leon) = launch_ready(&app).await;
    let tokens = connect(&app, &leon, &client_id, "patient/*.rs").await;
    let token = tokens["access_token"].as_str().expect("token").to_string();
    let t = Some(token.as_str());
    // Every status there is: the same set, but read from each resource.
    let any_status = "status=registered,preliminary,final,amended,corrected,cancelled,entered-in-error,unknown";
    for criteria in ["_count=200", "_count=200&category=laboratory", "_count=200&date=ge2015-01-01&category=vital-signs", "_count=7&_offset=14"] {
        let (_, sql) = get(&app, t, &format!("Observation?patient={patient}&{criteria}")).await;
        let (_, memory) = get(&app, t, &format!("Observation?patient={patient}&{criteria}&{any_status}")).await;
        let ids = |b: &Value| resources(b).iter().map(|r| r["id"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
        assert!(sql["total"].as_u64().unwrap_or(0) > 0, "{criteria}");
        assert_eq!(sql["total"], memory["total"], "{criteria}");
        assert_eq!(ids(&sql), ids(&memory), "{criteria}");
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
