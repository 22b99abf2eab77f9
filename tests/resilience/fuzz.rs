//! Fuzzing on stable Rust (cargo-fuzz needs a nightly compiler this machine cannot fetch): a
//! mutation fuzzer with a little feedback. Three targets, each seeded from `fuzz/corpus/`:
//!
//! - the FHIR importer: byte mutations and JSON-aware ones (a node replaced by a value of another
//!   type, a key dropped, an array element doubled, deep nesting) through the reader and the
//!   mapper, and every 25th input through the whole import into a database;
//! - the settings file: mutated TOML through `Settings::load`;
//! - server-function arguments: mutated form bodies posted to 30 endpoints of a running server,
//!   as a patient, a clerk and a stranger: every answer must be below 500 (a clear refusal), and
//!   the server must stay up.
//!
//! A panic, a 5xx or a dead server is a crash: the input is written to `fuzz/crashes/` and the
//! check fails. An input that gives an outcome not seen before (a new error, a new mapped type)
//! joins the pool; with `FUZZ_SAVE=1` it is also written to the corpus. `FUZZ_SECONDS` sets the
//! time (default 20 s, 30 minutes with `--all`), `FUZZ_SEED` repeats a run, and
//! `FUZZ_REPLAY=fuzz/crashes/args-…` sends one found input again.

use crate::kill::{LEON, signed_in};
use crate::portal::{Portal, env_of};
use app::backend::fhir::{map, parse};
use app::domain::Role;
use portal_tests::spawn_app_with;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target)).expect("the corpus").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Writes a crashing input where it can be replayed, and fails the check.
fn crashed(target: &str, input: &[u8], what: &str) -> ! {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/crashes");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{}", &hex::encode(Sha256::digest(input))[..16]));
    let _ = std::fs::write(&path, input);
    panic!("{target}: {what}; the input is in {}", path.display());
}

/// Keeps an input that showed something new, in the pool and (with FUZZ_SAVE=1) the corpus.
fn keep(target: &str, ext: &str, input: &[u8], pool: &mut Vec<Vec<u8>>) {
    if pool.len() < 2000 {
        pool.push(input.to_vec());
    }
    // At most 200 finds of a target in the corpus: small and varied beats many.
    let saved = std::fs::read_dir(corpus_dir(target)).map(|d| d.filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("found-"))).count()).unwrap_or(0);
    if std::env::var("FUZZ_SAVE").is_ok_and(|v| v == "1") && input.len() <= 32 * 1024 && saved < 200 {
        let _ = std::fs::write(corpus_dir(target).join(format!("found-{}.{ext}", &hex::encode(Sha256::digest(input))[..16])), input);
    }
}

const TABLE: &[u8] = b"{}[]\",:0123456789-+.eE\\ntfu \x00\xff\n=&%";

/// One to four byte-level changes, sometimes spliced with another input of the pool.
fn mutate_bytes(rng: &mut StdRng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = bytes.len();
        if len == 0 {
            bytes.push(TABLE[rng.random_range(0..TABLE.len())]);
            continue;
        }
        let at = rng.random_range(0..len);
        match rng.random_range(0..7) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = TABLE[rng.random_range(0..TABLE.len())],
            2 => {
                let end = (at + rng.random_range(1..=64)).min(len);
                bytes.drain(at..end);
            }
            3 => {
                let end = (at + rng.random_range(1..=64)).min(len);
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            4 => {
                let insert: Vec<u8> = (0..rng.random_range(1..=16)).map(|_| rng.random::<u8>()).collect();
                bytes.splice(at..at, insert);
            }
            5 => bytes.truncate(at),
            _ => {
                let other = &pool[rng.random_range(0..pool.len())];
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let end = (from + rng.random_range(1..=256)).min(other.len());
                    bytes.splice(at..at, other[from..end].iter().copied());
                }
            }
        }
    }
    bytes
}

/// A value of some other shape than the one it replaces.
fn odd_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => serde_json::json!(-1),
        3 => serde_json::json!(1e308),
        4 => serde_json::json!(u64::MAX),
        5 => Value::String(String::new()),
        6 => Value::String("9".repeat(rng.random_range(1..20_000))),
        7 => serde_json::json!([]),
        8 => serde_json::json!({}),
        9 => Value::String("2024-02-30T25:61:61+99:99".into()),
        10 => Value::String("\u{202e}\u{0}\u{feff}x".into()),
        _ => {
            let mut deep = Value::Null;
            for _ in 0..rng.random_range(1..300) {
                deep = Value::Array(vec![deep]);
            }
            deep
        }
    }
}

/// Changes one node of a JSON document, `depth` levels down at most: replaced, removed, or
/// (in an array) doubled.
fn mutate_json(rng: &mut StdRng, node: &mut Value, depth: u32) {
    if depth > 0 && rng.random_range(0..5) != 0 {
        match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(rng.random_range(0..map.len())).cloned().expect("a key");
                if rng.random_range(0..6) == 0 {
                    map.remove(&key);
                } else if let Some(child) = map.get_mut(&key) {
                    mutate_json(rng, child, depth - 1);
                }
                return;
            }
            Value::Array(items) if !items.is_empty() => {
                let at = rng.random_range(0..items.len());
                if rng.random_range(0..6) == 0 {
                    let copy = items[at].clone();
                    items.insert(at, copy);
                } else {
                    mutate_json(rng, &mut items[at], depth - 1);
                }
                return;
            }
            _ => {}
        }
    }
    *node = odd_value(rng);
}

/// What reading and mapping a file gave, as outcome names (its "coverage", coarsely).
fn fhir_outcomes(bytes: &[u8]) -> Vec<String> {
    let limits = parse::Limits::default();
    let words = |e: &dyn std::fmt::Display| e.to_string().split_whitespace().take(4).collect::<Vec<_>>().join(" ");
    let text = match parse::text(bytes, &limits) {
        Ok(t) => t,
        Err(e) => return vec![format!("text: {}", words(&e))],
    };
    let file = match parse::parse(text, &limits) {
        Ok(f) => f,
        Err(e) => return vec![format!("parse: {}", words(&e))],
    };
    let mut outcomes = Vec::new();
    for entry in &file.entries {
        match parse::resource(entry, &limits) {
            Ok(value) => match map::map(&entry.resource_type, &value) {
                Ok(_) => outcomes.push(format!("map {} ok", entry.resource_type)),
                Err(e) => outcomes.push(format!("map {} {}", entry.resource_type, e.0)),
            },
            Err(e) => outcomes.push(format!("resource {}: {}", entry.resource_type, words(&e))),
        }
    }
    outcomes
}

async fn fuzz_fhir(rng: &mut StdRng, until: Instant) -> (usize, usize, usize) {
    let app = spawn_app_with(|_| {}).await;
    let mut pool = seeds("fhir");
    let mut seen: HashSet<String> = HashSet::new();
    let (mut inputs, mut imported, mut new) = (0, 0, 0);
    while Instant::now() < until {
        let base = pool[rng.random_range(0..pool.len())].clone();
        let input = match serde_json::from_slice::<Value>(&base) {
            Ok(mut value) if rng.random_bool(0.6) => {
                for _ in 0..rng.random_range(1..=3) {
                    mutate_json(rng, &mut value, 12);
                }
                serde_json::to_vec(&value).expect("JSON")
            }
            _ => mutate_bytes(rng, &base, &pool),
        };
        inputs += 1;
        let outcomes = match std::panic::catch_unwind(|| fhir_outcomes(&input)) {
            Ok(o) => o,
            Err(_) => crashed("fhir", &input, "the reader or the mapper panicked"),
        };
        let fresh = outcomes.iter().filter(|o| !seen.contains(*o)).count();
        if fresh > 0 {
            seen.extend(outcomes);
            new += 1;
            keep("fhir", "json", &input, &mut pool);
        }
        // The whole import (the database half) for some: an error is fine, a panic is not.
        if inputs % 25 == 0 {
            let system = app.system();
            let bytes = input.clone();
            let outcome = tokio::spawn(async move {
                let importer = system.importer(parse::Limits::default());
                let _ = importer.import("fuzz.json", &bytes, &|_, _| {}).await;
            })
            .await;
            if outcome.is_err() {
                crashed("fhir-import", &input, "the import panicked");
            }
            imported += 1;
        }
    }
    (inputs, imported, new)
}

fn fuzz_settings(rng: &mut StdRng, until: Instant) -> (usize, usize) {
    let mut pool = seeds("settings");
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("portal.toml");
    let mut seen: HashSet<String> = HashSet::new();
    let (mut inputs, mut new) = (0, 0);
    while Instant::now() < until {
        let base = pool[rng.random_range(0..pool.len())].clone();
        let input = if rng.random_bool(0.5) {
            // Line-level: a line doubled, dropped, or its value swapped for another line's.
            let text = String::from_utf8_lossy(&base).to_string();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            if !lines.is_empty() {
                let at = rng.random_range(0..lines.len());
                match rng.random_range(0..3) {
                    0 => lines.insert(at, lines[at].clone()),
                    1 => {
                        lines.remove(at);
                    }
                    _ => {
                        let other = lines[rng.random_range(0..lines.len())].clone();
                        if let (Some((key, _)), Some((_, value))) = (lines[at].split_once('='), other.split_once('=')) {
                            lines[at] = format!("{key}={value}");
                        }
                    }
                }
            }
            lines.join("\n").into_bytes()
        } else {
            mutate_bytes(rng, &base, &pool)
        };
        inputs += 1;
        std::fs::write(&path, &input).expect("the settings file");
        let outcome = match std::panic::catch_unwind(|| server::settings::Settings::load(Some(&path))) {
            Ok(Ok(_)) => "ok".to_string(),
            // The kind of refusal, without the values it quotes.
            Ok(Err(e)) => e.to_string().split(['`', '"', '\'']).step_by(2).collect::<String>().chars().filter(|c| !c.is_ascii_digit()).take(60).collect(),
            Err(_) => crashed("settings", &input, "Settings::load panicked"),
        };
        if seen.insert(outcome) {
            new += 1;
            keep("settings", "toml", &input, &mut pool);
        }
    }
    (inputs, new)
}

/// One pair of a form body mutated as a client might send it (or an attacker would).
fn mutate_form(rng: &mut StdRng, body: &str) -> String {
    let mut pairs: Vec<(String, String)> = body.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap_or((p.to_string(), String::new()))).collect();
    for _ in 0..rng.random_range(1..=3) {
        if pairs.is_empty() {
            pairs.push(("x".into(), "1".into()));
        }
        let at = rng.random_range(0..pairs.len());
        match rng.random_range(0..9) {
            0 => {
                pairs.remove(at);
            }
            1 => pairs.push(pairs[at].clone()),
            2 => pairs[at].1 = String::new(),
            3 => pairs[at].1 = "a".repeat(rng.random_range(1..100_000)),
            4 => pairs[at].1 = ["-1", "99999999999999999999", "%FF%FE", "%00", "1e309", "NaN", "[", "on", "%E2%80%AE", "2024-02-30"][rng.random_range(0..10)].into(),
            5 => pairs[at].0 = format!("{}[{}]", pairs[at].0, ["", "0", "x", "[", "]]"][rng.random_range(0..5)]),
            6 => pairs[at].0 = ["", "%FF", "a[b][c][d]", "id[", "__proto__"][rng.random_range(0..5)].into(),
            7 => pairs[at].1 = String::from_utf8_lossy(&mutate_bytes(rng, pairs[at].1.as_bytes(), &[b"x".to_vec()])).to_string(),
            _ => {
                let swap = rng.random_range(0..pairs.len());
                let value = pairs[swap].1.clone();
                pairs[at].1 = value;
            }
        }
    }
    pairs.iter().map(|(k, v)| if v.is_empty() && rng.random_bool(0.2) { k.clone() } else { format!("{k}={v}") }).collect::<Vec<_>>().join("&")
}

async fn fuzz_arguments(rng: &mut StdRng, until: Instant) -> (usize, usize) {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 1_000_000).await;
    let patient = app.import_fhir(&std::fs::read(LEON).expect("fixture")).await;
    let leon = signed_in(&app, "leon@example.org", &[Role::Patient], Some(&patient)).await;
    let sam = signed_in(&app, "sam@example.org", &[Role::HimStaff], None).await;
    let anyone = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let portal = Portal::start(env_of(&app.settings)).await;
    // FUZZ_REPLAY=fuzz/crashes/args-… sends that input once, unchanged.
    let replay = std::env::var("FUZZ_REPLAY").ok();
    let text = match &replay {
        Some(path) => std::fs::read_to_string(path).expect("the input to replay"),
        None => String::from_utf8(seeds("args").concat()).expect("UTF-8 seeds"),
    };
    let calls: Vec<(String, String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            Some((parts.next()?.to_string(), parts.next()?.to_string(), parts.next().unwrap_or("").to_string()))
        })
        .collect();
    let endpoints: HashSet<&str> = calls.iter().map(|(_, e, _)| e.as_str()).collect();
    let mut sent = 0;
    while Instant::now() < until {
        let (who, endpoint, body) = &calls[rng.random_range(0..calls.len())];
        let body = if replay.is_some() { body.clone() } else { mutate_form(rng, body) };
        let client = match who.as_str() {
            "patient" => &leon,
            "staff" => &sam,
            _ => &anyone,
        };
        let answer = client
            .post(portal.url(&format!("/api/{endpoint}")))
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        sent += 1;
        let input = format!("{who}\t{endpoint}\t{body}");
        let last = replay.is_some();
        match answer {
            Ok(r) if r.status().as_u16() >= 500 => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                // The server's own line for it (found by the reference it answered with).
                let reference = text.split('"').find(|w| w.starts_with("E-")).unwrap_or("none").to_string();
                let cause = portal.log_text().lines().find(|l| l.contains(&reference)).map(|l| l.chars().rev().take(400).collect::<String>().chars().rev().collect::<String>()).unwrap_or_default();
                crashed("args", input.as_bytes(), &format!("{endpoint} answered {status}: {} ({cause})", text.chars().take(300).collect::<String>()))
            }
            Ok(_) => {}
            Err(e) => crashed("args", input.as_bytes(), &format!("{endpoint}: no answer ({e}); the server may have died")),
        }
        if last {
            break;
        }
    }
    (sent, endpoints.len())
}

pub async fn run() -> String {
    let seconds: u64 = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(if crate::long_run() { 30 * 60 } else { 20 });
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| u64::from(std::process::id()) ^ app::backend::db::now_ms() as u64);
    let mut rng = StdRng::seed_from_u64(seed);
    // Two fifths of the time to the importer, two to the arguments, one to the settings.
    let started = Instant::now();
    let share = |fifths: u64| Duration::from_millis(seconds * 1000 * fifths / 5);
    if std::env::var("FUZZ_REPLAY").is_ok() {
        let (calls, _) = fuzz_arguments(&mut rng, started + share(5)).await;
        return format!("replayed {calls} call: no crash");
    }
    let (fhir, imported, fhir_new) = fuzz_fhir(&mut rng, started + share(2)).await;
    let (settings, settings_new) = tokio::task::block_in_place(|| fuzz_settings(&mut rng, started + share(3)));
    let (calls, endpoints) = fuzz_arguments(&mut rng, started + share(5)).await;
    format!(
        "seed {seed}, {seconds} s: FHIR reader and mapper {fhir} inputs ({fhir_new} with a new outcome), {imported} whole imports; settings {settings} files ({settings_new} new outcomes); {calls} calls to {endpoints} server functions; 0 crashes"
    )
}
