//! `portal import PATH...`: FHIR R4 files and folders into the database, one transaction per
//! file, with a progress bar on a terminal and a summary at the end (per file, then counts per
//! resource type). The import itself is `app::backend::access::import`.

use crate::database;
use crate::error::StartupError;
use crate::settings::Settings;
use std::path::PathBuf;

/// What `portal import` did, for printing.
pub struct ImportReport {
    pub text: String,
    pub files: usize,
    pub failed: usize,
}

/// The files to import: each file named, and every `*.json` / `*.ndjson` under each folder.
/// Files without a Patient (practitioner and organization directories) go first, so the
/// conditional references of the patient files resolve against them.
pub fn import_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, StartupError> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "json" || e == "ndjson") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files).map_err(|e| StartupError::Import(format!("cannot read the folder {}: {e}", path.display())))?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(StartupError::Import(format!("{}: no such file or folder", path.display())));
        }
    }
    // A cheap look, for the order only: directory files (no patient at all) first, then files
    // that hold Patients, then bulk files that only point at them (Observation.ndjson, ...).
    let rank = |path: &PathBuf| match std::fs::read(path) {
        Ok(bytes) if bytes.windows(9).any(|w| w == b"\"Patient\"") => 1,
        Ok(bytes) if bytes.windows(8).any(|w| w == b"Patient/") => 2,
        Ok(_) => 0,
        Err(_) => 1,
    };
    files.sort_by_key(|p| rank(p));
    Ok(files)
}

/// `portal import PATH...`: imports each file in its own transaction, with a progress bar on a
/// terminal, and returns the summary (per file, then counts per resource type).
pub async fn import(settings: &Settings, paths: &[PathBuf]) -> Result<ImportReport, StartupError> {
    use app::backend::access::SystemContext;
    use indicatif::{ProgressBar, ProgressStyle};
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let files = import_files(paths)?;
    let db = database::connect(settings).await?;
    database::migrate_up(&db).await?;
    let system = SystemContext::command_line(db.clone(), settings.site_code.clone());
    let importer = system.importer(settings.import_limits());
    let style = ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} entries {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut text = String::new();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    let (mut failed, mut warnings) = (0, 0);
    for (n, path) in files.iter().enumerate() {
        let name = path.display().to_string();
        let bar = ProgressBar::new(0).with_style(style.clone()).with_prefix(format!("{}/{}", n + 1, files.len()));
        bar.set_message(path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default());
        let outcome = match std::fs::metadata(path) {
            Ok(meta) if meta.len() > settings.import_max_file_bytes => Err(format!(
                "the file is {} bytes; the limit is {} (setting import_max_file_bytes)",
                meta.len(),
                settings.import_max_file_bytes
            )),
            Ok(_) => match std::fs::read(path) {
                Ok(bytes) => {
                    let progress = |done: usize, total: usize| {
                        bar.set_length(total as u64);
                        bar.set_position(done as u64);
                    };
                    importer.import(&name, &bytes, &progress).await.map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("cannot read it: {e}")),
            },
            Err(e) => Err(format!("cannot read it: {e}")),
        };
        bar.finish_and_clear();
        match outcome {
            Ok(summary) => {
                let who = match &summary.patient {
                    Some(p) => format!("{} (record {}, {})", p.name, p.mrn, if p.created { "new" } else { "updated" }),
                    None if summary.patients > 0 => format!("{} patient record(s)", summary.patients),
                    None => "no patient of its own (directory resources, or resources of patients imported before)".into(),
                };
                let _ = writeln!(
                    text,
                    "ok      {name}: {who}; {} resources: {} new, {} changed, {} unchanged",
                    summary.resources, summary.created, summary.updated, summary.unchanged
                );
                if summary.possible_duplicates > 0 {
                    let _ = writeln!(text, "        possible duplicate of {} existing record(s): listed for HIM review", summary.possible_duplicates);
                }
                if !summary.sensitive.is_empty() {
                    let tags: Vec<String> = summary.sensitive.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    let _ = writeln!(text, "        sensitive items tagged: {}", tags.join(", "));
                }
                for w in &summary.warnings {
                    let _ = writeln!(text, "        warning: {w}");
                }
                warnings += summary.warnings.len();
                for (kind, count) in summary.per_type {
                    *totals.entry(kind).or_default() += count;
                }
            }
            Err(error) => {
                failed += 1;
                let _ = writeln!(text, "FAILED  {name}: {error} (nothing from this file was written)");
            }
        }
    }
    let _ = writeln!(text, "\n{} file(s): {} imported, {} failed, {} warning(s)", files.len(), files.len() - failed, failed, warnings);
    if !totals.is_empty() {
        let counts: Vec<String> = totals.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(text, "resources: {}", counts.join(", "));
    }
    db.close_by_ref().await.ok();
    Ok(ImportReport { text, files: files.len(), failed })
}

/// `portal bench import FILE`: a plain `serde_json` parse of the file (the best of five runs),
/// then its import into a fresh SQLite database in a temporary directory (migrations applied
/// before the clock starts). Prints both times and their ratio (target: under 10).
pub async fn bench(settings: &Settings, file: &std::path::Path) -> Result<String, StartupError> {
    use app::backend::access::SystemContext;
    use std::time::Instant;
    let bytes = std::fs::read(file).map_err(|e| StartupError::Import(format!("{}: {e}", file.display())))?;
    let mut parse = std::time::Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| StartupError::Import(format!("{}: not JSON: {e}", file.display())))?;
        parse = parse.min(start.elapsed());
        drop(value);
    }
    let (db, dir, fresh) = fresh_database(settings).await?;
    let system = SystemContext::command_line(db.clone(), fresh.site_code.clone());
    let importer = system.importer(fresh.import_limits());
    let start = Instant::now();
    let summary = importer.import(&file.display().to_string(), &bytes, &|_, _| {}).await.map_err(|e| StartupError::Import(e.to_string()))?;
    let import = start.elapsed();
    db.close_by_ref().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    Ok(format!(
        "file: {} ({} bytes, {} resources)\nserde_json parse (best of 5): {:.1} ms\nimport into a fresh SQLite database: {:.1} ms\nratio: {:.1}x (target: under 10x)",
        file.display(),
        bytes.len(),
        summary.resources,
        ms(parse),
        ms(import),
        ms(import) / ms(parse).max(0.001)
    ))
}

/// The peak resident memory of this process since the last reset, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()).and_then(|n| n.parse().ok())
}

/// A fresh SQLite database in a new temporary directory, migrated, for a benchmark.
async fn fresh_database(settings: &Settings) -> Result<(sea_orm::DatabaseConnection, std::path::PathBuf, Settings), StartupError> {
    let dir = std::env::temp_dir().join(format!("portal-bench-{}", uuid::Uuid::new_v4().simple()));
    let mut fresh = settings.clone();
    fresh.data_dir = dir.clone();
    fresh.database_url = None;
    let db = database::connect(&fresh).await?;
    database::migrate_up(&db).await?;
    Ok((db, dir, fresh))
}

/// A benchmark's world: one file imported into a fresh SQLite database in a temporary
/// directory, and an account with `roles` (linked to the imported patient when `own` is set),
/// signed in, as an access context.
struct BenchWorld {
    db: sea_orm::DatabaseConnection,
    dir: std::path::PathBuf,
    bytes: usize,
    resources: usize,
    patient_id: String,
    context: app::backend::access::AccessContext,
    settings: Settings,
}

impl BenchWorld {
    async fn new(settings: &Settings, file: &std::path::Path, roles: &[app::domain::Role], own: bool) -> Result<BenchWorld, StartupError> {
        let bytes = std::fs::read(file).map_err(|e| StartupError::Import(format!("{}: {e}", file.display())))?;
        BenchWorld::with_bytes(settings, &file.display().to_string(), bytes, roles, own).await
    }

    async fn with_bytes(settings: &Settings, label: &str, bytes: Vec<u8>, roles: &[app::domain::Role], own: bool) -> Result<BenchWorld, StartupError> {
        use app::backend::access::{AccessContext, SystemContext};
        use app::backend::auth::Auth;
        use app::backend::auth::sessions::SignedIn;
        use app::backend::auth::users::{self, NewUser};
        use app::backend::request::RequestMeta;
        use app::domain::EmailAddress;
        let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
        let (db, dir, fresh) = fresh_database(settings).await?;
        let system = SystemContext::command_line(db.clone(), fresh.site_code.clone());
        let importer = system.importer(fresh.import_limits());
        let summary = importer.import(label, &bytes, &|_, _| {}).await.map_err(|e| fail("import", &e))?;
        let patient = summary.patient.ok_or_else(|| fail("import", &"the file has no patient"))?;
        let auth = Auth::new(fresh.auth_config()).map_err(|e| fail("hashing", &e))?;
        let email = EmailAddress::parse("bench@portal.invalid").map_err(|e| fail("email", &e))?;
        let new = NewUser { email, display_name: "Benchmark".into(), password: None, roles: roles.iter().copied().collect(), patient_id: own.then(|| patient.id.clone()) };
        let request = RequestMeta::command_line();
        let user = users::create(&db, &auth, new, None, &request).await.map_err(|e| fail("user", &e))?;
        let signed = SignedIn { login_id: "bench".into(), user, idle_deadline_ms: i64::MAX, absolute_deadline_ms: i64::MAX };
        let context = AccessContext::new(db.clone(), &signed, request, fresh.site_code.clone());
        Ok(BenchWorld { db, dir, bytes: bytes.len(), resources: summary.resources, patient_id: patient.id, context, settings: fresh })
    }

    async fn close(self) {
        self.db.close_by_ref().await.ok();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `portal bench download FILE`: "Download now" of the patient's whole record, as the patient,
/// in each format (PDF, FHIR, C-CDA): the server time from the access check to the finished file
/// (reading, rendering, hashing, recording the copy and its audit event), best and median of five
/// after a first run, and the peak memory the first and the second download add (targets: PDF
/// under 250 ms, FHIR under 150 ms, under 16 MiB). Then the same record with 100 scanned pages
/// (`SCANS` one-page PDFs of about 500 KiB each): the PDF copy is written one attachment at a
/// time, so the memory it adds stays near what one attachment takes, not their sum.
pub async fn bench_download(settings: &Settings, file: &std::path::Path, only: Option<&str>) -> Result<String, StartupError> {
    use app::domain::release::InstantFormats;
    let world = BenchWorld::new(settings, file, &[app::domain::Role::Patient], true).await?;
    let mut out = format!("file: {} ({} bytes, {} resources)\n", file.display(), world.bytes, world.resources);
    for (part, label, formats) in [
        ("pdf", "PDF", InstantFormats { pdf: true, ..Default::default() }),
        ("fhir", "FHIR", InstantFormats { fhir: true, ..Default::default() }),
        ("ccda", "C-CDA", InstantFormats { ccda: true, ..Default::default() }),
        ("zip", "all three (.zip)", InstantFormats { pdf: true, fhir: true, ccda: true }),
    ] {
        if only.is_none_or(|o| o == part) {
            out.push_str(&measure_download(&world, label, formats).await?);
        }
    }
    world.close().await;
    if only.is_some_and(|o| o != "scanned") {
        return Ok(out);
    }

    let bytes = std::fs::read(file).map_err(|e| StartupError::Import(format!("{}: {e}", file.display())))?;
    let scanned = with_scans(&bytes, SCANS)?;
    let mut roomy = settings.clone();
    roomy.import_max_file_bytes = roomy.import_max_file_bytes.max(scanned.len() as u64 * 2);
    roomy.import_max_string_bytes = roomy.import_max_string_bytes.max(4 * 1024 * 1024);
    let world = BenchWorld::with_bytes(&roomy, "with scans", scanned, &[app::domain::Role::Patient], true).await?;
    out.push_str(&format!("the same record with {SCANS} scanned pages ({SCANS} one-page PDFs of {} KiB each):\n", SCAN_PIXELS / 1024));
    out.push_str(&measure_download(&world, "PDF with the scanned pages", InstantFormats { pdf: true, ..Default::default() }).await?);
    world.close().await;
    Ok(out)
}

/// How many scanned pages `bench download` adds, and the bytes of each one's image.
const SCANS: usize = 100;
const SCAN_PIXELS: usize = 800 * 640;

/// One download format, six times: its size, best and median of the last five, and the peak
/// memory the first and the second add.
async fn measure_download(world: &BenchWorld, label: &str, formats: app::domain::release::InstantFormats) -> Result<String, StartupError> {
    use app::domain::release::{InstantCopy, Scope};
    use std::time::Instant;
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let site = format!("{} Health Information Management", world.settings.site_code);
    let instant = app::backend::access::InstantSettings { site: &site, site_code: &world.settings.site_code, base_url: "https://portal.invalid" };
    let copy = InstantCopy { scope: Scope { sections: Vec::new(), from: None, to: None }, formats, email: None, direct: false };
    let mut times = Vec::new();
    let mut size = 0;
    let (mut cold, mut warm) = (None, None);
    for n in 0..6 {
        // The first run loads what stays loaded (fonts, allocator arenas): its growth is
        // reported apart; the second is measured from a reset peak, as one more download on a
        // running server adds.
        if n <= 1 {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
        let before = peak_rss_kib();
        let start = Instant::now();
        let made = world.context.download_now(&copy, instant).await.map_err(|e| fail("download", &e))?;
        let took = start.elapsed();
        let growth = peak_rss_kib().zip(before).map(|(after, before)| after.saturating_sub(before));
        match n {
            0 => cold = growth,
            1 => warm = growth,
            _ => {}
        }
        if n > 0 {
            times.push(took);
        }
        size = made.body.len();
    }
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    Ok(format!(
        "{label}: {size} bytes, best {:.1} ms, median {:.1} ms (5 runs after a first); memory added: first {:.1} MiB, then {:.1} MiB\n",
        ms(times[0]),
        ms(times[2]),
        cold.unwrap_or(0) as f64 / 1024.0,
        warm.unwrap_or(0) as f64 / 1024.0
    ))
}

/// The bundle with `count` scanned documents added for its patient, each a one-page PDF whose
/// image is noise (scans are compressed already: they do not shrink again).
fn with_scans(bundle: &[u8], count: usize) -> Result<Vec<u8>, StartupError> {
    use base64::Engine;
    let fail = |e: &dyn std::fmt::Display| StartupError::Import(format!("adding scans: {e}"));
    let mut bundle: serde_json::Value = serde_json::from_slice(bundle).map_err(|e| fail(&e))?;
    let entries = bundle["entry"].as_array_mut().ok_or_else(|| fail(&"a bundle without entries"))?;
    let patient = entries.iter().find(|e| e["resource"]["resourceType"] == "Patient").and_then(|e| e["fullUrl"].as_str()).ok_or_else(|| fail(&"no patient"))?.to_string();
    for n in 0..count {
        let id = format!("5ca00000-0000-4000-8000-{n:012}");
        let data = base64::engine::general_purpose::STANDARD.encode(scan_pdf(n as u64));
        entries.push(serde_json::json!({
            "fullUrl": format!("urn:uuid:{id}"),
            "resource": {"resourceType": "DocumentReference", "id": id, "status": "current", "subject": {"reference": patient},
                "date": "2019-03-01T10:00:00Z", "description": format!("Scanned letter {}", n + 1), "type": {"text": "Scanned letter"},
                "content": [{"attachment": {"contentType": "application/pdf", "title": format!("Scanned letter {}", n + 1), "data": data}}]},
            "request": {"method": "POST", "url": "DocumentReference"}
        }));
    }
    serde_json::to_vec(&bundle).map_err(|e| fail(&e))
}

/// A one-page PDF holding an 800 × 640 grey image of noise, as a scanner makes.
fn scan_pdf(seed: u64) -> Vec<u8> {
    use lopdf::{Dictionary, Document, Object, Stream};
    let mut state = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let pixels: Vec<u8> = (0..SCAN_PIXELS)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    let name = |n: &str| Object::Name(n.as_bytes().to_vec());
    let mut document = Document::with_version("1.5");
    let pages = document.new_object_id();
    let mut image = Dictionary::new();
    image.set("Type", name("XObject"));
    image.set("Subtype", name("Image"));
    image.set("Width", 800);
    image.set("Height", 640);
    image.set("ColorSpace", name("DeviceGray"));
    image.set("BitsPerComponent", 8);
    let image = document.add_object(Stream::new(image, pixels));
    let content = document.add_object(Stream::new(Dictionary::new(), b"q 612 0 0 490 0 150 cm /Im0 Do Q".to_vec()));
    let mut xobjects = Dictionary::new();
    xobjects.set("Im0", image);
    let mut resources = Dictionary::new();
    resources.set("XObject", xobjects);
    let mut page = Dictionary::new();
    page.set("Type", name("Page"));
    page.set("Parent", pages);
    page.set("MediaBox", vec![0.into(), 0.into(), 612.into(), 792.into()]);
    page.set("Contents", content);
    page.set("Resources", resources);
    let page = document.add_object(page);
    let mut tree = Dictionary::new();
    tree.set("Type", name("Pages"));
    tree.set("Kids", vec![page.into()]);
    tree.set("Count", 1);
    document.objects.insert(pages, Object::Dictionary(tree));
    let mut catalog = Dictionary::new();
    catalog.set("Type", name("Catalog"));
    catalog.set("Pages", pages);
    let catalog = document.add_object(catalog);
    document.trailer.set("Root", catalog);
    let mut out = Vec::new();
    document.save_to(&mut out).ok();
    out
}

/// `portal bench fhir FILE`: the FHIR API (issue 22) as an app holding `patient/*.rs` for the
/// patient: a search page of 50 observations (the newest, and the newest laboratory results), and
/// `Patient/$everything`; the server time from the access check (the policy, the reads, the
/// reference rewriting and the audit event) to the JSON text, best and median after a first run
/// (targets: a page of 50 under 20 ms, `$everything` under 300 ms).
pub async fn bench_fhir(settings: &Settings, file: &std::path::Path) -> Result<String, StartupError> {
    use app::backend::access::ApiGrant;
    use app::backend::smart::search;
    use std::time::Instant;
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let world = BenchWorld::new(settings, file, &[app::domain::Role::Patient], true).await?;
    let grant = ApiGrant { app_id: "bench".into(), patient_id: world.patient_id.clone(), scopes: app::domain::smart::ScopeSet::from_text("patient/*.rs") };
    let base = "https://portal.invalid/fhir/r4";
    let mut out = format!("file: {} ({} bytes, {} resources)\n", file.display(), world.bytes, world.resources);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    for (label, query, runs) in [
        ("Observation, newest 50", "_count=50", 21),
        ("Observation, laboratory, newest 50", "category=laboratory&_count=50", 21),
        ("Patient/$everything", "", 6),
    ] {
        let mut times = Vec::new();
        let mut shown = (0, 0, 0);
        for run in 0..runs {
            let start = Instant::now();
            let body = if query.is_empty() {
                world.context.api_everything(&grant, &world.patient_id, base).await
            } else {
                let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                let parsed = search::parse("Observation", &pairs).map_err(|e| fail("search", &e.0))?;
                world.context.api_search(&grant, "Observation", &parsed, base, query).await
            }
            .map_err(|e| fail("api", &e.message))?;
            let text = body.to_string();
            if run > 0 {
                times.push(start.elapsed());
            }
            shown = (body["entry"].as_array().map_or(0, Vec::len), body["total"].as_u64().unwrap_or(0), text.len());
        }
        times.sort();
        out.push_str(&format!(
            "{label}: {} entries of {} ({} bytes), best {:.1} ms, median {:.1} ms ({} runs after a first)\n",
            shown.0,
            shown.1,
            shown.2,
            ms(times[0]),
            ms(times[times.len() / 2]),
            times.len()
        ));
    }
    world.close().await;
    Ok(out)
}

/// `portal bench desk --requests N`: a fresh SQLite database with one patient (the smallest
/// shared fixture) and N release requests spread over five years as a busy desk has them (98 in
/// 100 provided, 0 to 45 days after receipt; the rest open, received in the last 60 days; every
/// requester type), then the HIM lead's dashboard over the last 12 months: best and median of
/// five after a first run (target: under 200 ms with 1,000,000).
pub async fn bench_desk(settings: &Settings, requests: u64) -> Result<String, StartupError> {
    use sea_orm::ConnectionTrait;
    use std::time::Instant;
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let fixture = std::path::Path::new("tests/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json");
    let BenchWorld { db, dir, patient_id, context, settings: fresh, .. } = BenchWorld::new(settings, fixture, &[app::domain::Role::HimStaff, app::domain::Role::HimLead], false).await?;
    let context = context.with_clock(fresh.clock());
    let today = fresh.clock().today();
    let user = context.principal().user_id.clone();
    let seeded = Instant::now();
    let mut generator = crate::seed::Generator::default();
    crate::seed::insert_requests(&db, &mut generator, requests, today, &[patient_id], &user, &|_| {}).await.map_err(|e| fail("seed", &e))?;
    db.execute_unprepared("ANALYZE").await.map_err(|e| fail("analyze", &e))?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut last = None;
    for run in 0..6 {
        let start = Instant::now();
        let dashboard = context.dashboard(12).await.map_err(|e| fail("dashboard", &e))?;
        if run > 0 {
            times.push(start.elapsed());
        }
        last = Some(dashboard);
    }
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let d = last.ok_or_else(|| fail("dashboard", &"no run"))?;
    let provided: i64 = d.months.iter().map(|m| m.provided).sum();
    let open_total: i64 = d.open.iter().map(|s| s.total).sum();
    let out = format!(
        "requests: {requests} (seeded in {seed_secs:.1} s)\ndashboard over 12 months ({provided} provided, {} months, {open_total} open, {} overdue): best {:.1} ms, median {:.1} ms (5 runs after a first)\n",
        d.months.len(),
        d.overdue_total,
        ms(times[0]),
        ms(times[2]),
    );
    db.close_by_ref().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// `portal bench pdf FILE`: imports the file into a fresh SQLite database, lays the patient's
/// whole record out as the released PDF copy would, and renders it (best of three), printing
/// pages, bytes, milliseconds, pages per second and the peak memory of the render. In the same
/// run, headless Chromium prints the same content as HTML (styled with the portal's stylesheet)
/// to PDF (`chromium --headless --print-to-pdf`), and the ratio is printed (target: 20x or more).
pub async fn bench_pdf(settings: &Settings, file: &std::path::Path, chromium: &std::path::Path) -> Result<String, StartupError> {
    use std::time::Instant;
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let world = BenchWorld::new(settings, file, &[app::domain::Role::HimStaff], false).await?;
    let (context, patient_id) = (&world.context, world.patient_id.clone());
    let start = Instant::now();
    let copy = context.full_record_copy(&patient_id, "Benchmark Health Information Management").await.map_err(|e| fail("reading the record", &e))?;
    let read = start.elapsed();
    let (bytes, resources) = (world.bytes, world.resources);
    world.close().await;

    // The render, three times; memory measured on the first from a reset of the peak (Linux
    // clear_refs 5).
    let mut best = std::time::Duration::MAX;
    let mut rendered = None;
    let mut peak = None;
    for n in 0..3 {
        // The first render is the one that grows the heap: measure its peak.
        if n == 0 {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
        let input = copy.clone();
        let before = peak_rss_kib();
        let start = Instant::now();
        let r = app::backend::copies::pdf::render(input, &|_, _| {}).map_err(|e| fail("render", &e))?;
        best = best.min(start.elapsed());
        if n == 0 {
            peak = peak_rss_kib().zip(before).map(|(after, before)| (after, after.saturating_sub(before)));
        }
        rendered = Some(r);
    }
    let rendered = rendered.ok_or_else(|| fail("render", &"no run"))?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let mut out = format!(
        "file: {} ({} bytes, {} resources)\nreading the record through the access context: {:.1} ms\nPDF render (best of 3): {} pages, {} bytes, {:.1} ms, {:.0} pages/s\n",
        file.display(),
        bytes,
        resources,
        ms(read),
        rendered.pages,
        rendered.bytes.len(),
        ms(best),
        rendered.pages as f64 / best.as_secs_f64().max(1e-9),
    );
    if let Some((after, growth)) = peak {
        out.push_str(&format!("peak resident memory of the process during the render: {:.1} MiB ({:.1} MiB above the start of the render)\n", after as f64 / 1024.0, growth as f64 / 1024.0));
    }

    // Chromium printing the same content from HTML.
    let work = std::env::temp_dir().join(format!("portal-bench-html-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).map_err(|e| fail("temp dir", &e))?;
    let css = std::fs::read_to_string("style/main.css").unwrap_or_default();
    let html_path = work.join("record.html");
    std::fs::write(&html_path, app::backend::copies::html::to_html(&copy, &css)).map_err(|e| fail("html", &e))?;
    let pdf_path = work.join("record.pdf");
    let print = |page: String, to: &std::path::Path| {
        let start = Instant::now();
        let result = std::process::Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--no-pdf-header-footer"])
            .arg(format!("--user-data-dir={}", work.join("profile").display()))
            .arg(format!("--print-to-pdf={}", to.display()))
            .arg(page)
            .output();
        (result, start.elapsed())
    };
    // Chromium's own start-up, printing an empty page: reported so the ratio can be read fairly.
    let (_, empty) = print("about:blank".into(), &work.join("empty.pdf"));
    let (status, chrome) = print(format!("file://{}", html_path.display()), &pdf_path);
    match status {
        Ok(o) if o.status.success() && pdf_path.exists() => {
            let size = std::fs::metadata(&pdf_path).map(|m| m.len()).unwrap_or(0);
            out.push_str(&format!(
                "chromium --headless --print-to-pdf of the same content as HTML: {size} bytes, {:.1} ms (an empty page: {:.1} ms)\nratio: {:.1}x faster than Chromium (target: at least 20x); {:.1}x without Chromium's start-up",
                ms(chrome),
                ms(empty),
                ms(chrome) / ms(best).max(0.001),
                (ms(chrome) - ms(empty)).max(0.0) / ms(best).max(0.001)
            ));
        }
        Ok(o) => out.push_str(&format!("chromium failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or_default())),
        Err(e) => out.push_str(&format!("chromium could not be started ({}): {e}", chromium.display())),
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(out)
}
