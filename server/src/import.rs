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
    use app::backend::access::import::Importer;
    use app::backend::request::RequestMeta;
    use indicatif::{ProgressBar, ProgressStyle};
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let files = import_files(paths)?;
    let db = database::connect(settings).await?;
    database::migrate_up(&db).await?;
    let request = RequestMeta::command_line();
    let importer = Importer { db: &db, site_code: &settings.site_code, limits: settings.import_limits(), actor: None, request: &request };
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
    use app::backend::access::import::Importer;
    use app::backend::request::RequestMeta;
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
    let dir = std::env::temp_dir().join(format!("portal-bench-{}", uuid::Uuid::new_v4().simple()));
    let mut fresh = settings.clone();
    fresh.data_dir = dir.clone();
    fresh.database_url = None;
    let db = database::connect(&fresh).await?;
    database::migrate_up(&db).await?;
    let request = RequestMeta::command_line();
    let importer = Importer { db: &db, site_code: &fresh.site_code, limits: fresh.import_limits(), actor: None, request: &request };
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
