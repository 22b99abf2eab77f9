//! The scale database (issue 21): `portal bench seed --patients N --requests M`, and the same
//! seeding under `portal bench http --patients N --requests M`. Made from patients already
//! imported from the shared fixtures (the templates): each new patient copies one template's
//! demographics under a new record id, record number, name and birth date, and the newest few
//! items of each kind of its record (with their FHIR resources and sensitivity tags) under new
//! ids, moved back in time by the same random number of days. Then release requests spread over
//! the new patients as five years of a busy desk has them.
//!
//! The copying is done by the database (`INSERT … SELECT` from the templates, one transaction per
//! batch of patients), so 100,000 patients take minutes, not the hours importing that many files
//! would. A copied resource keeps its template's JSON with its own id rewritten; its references
//! keep pointing at the template's resources. A benchmark database, never a clinical one.

use app::domain::IsoDate;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait};

/// Where the shared fixtures are, from the project's root.
pub const FIXTURES: &str = "tests/fixtures/fhir/synthea";

/// How big a database to make.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scale {
    pub patients: u64,
    pub requests: u64,
}

/// What a seeding made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeded {
    pub patients: u64,
    pub items: u64,
    pub requests: u64,
    pub seconds: f64,
}

/// The newest items of each kind (conditions, results, medicines…) a new patient copies; of
/// claims and explanations of benefit, whose resources are the largest (10 KB each), one.
const PER_KIND: u32 = 3;
/// New patients per transaction.
const BATCH: u64 = 500;
/// Release requests per statement, and statements per transaction.
const REQUEST_ROWS: usize = 1000;
const REQUEST_STATEMENTS: usize = 50;

/// A small deterministic generator (xorshift64): the same database on every run.
pub struct Generator(u64);

impl Default for Generator {
    fn default() -> Self {
        Generator(0x9E37_79B9_7F4A_7C15)
    }
}

impl Generator {
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }

    fn days(&mut self, n: u64) -> i64 {
        i64::try_from(self.below(n)).unwrap_or(0)
    }
}

/// The columns [`request_values`] fills, in its order.
pub const REQUEST_COLUMNS: &str = "id, number, patient_id, requester_user_id, status, scope, formats, recipient_kind, fee_cents, received_on, due_on, extended, created_at_ms, updated_at_ms, channel, requester_type, provided_on, turnaround_days";

/// One release request as a busy desk has them, as SQL values for [`REQUEST_COLUMNS`]: 98 in 100
/// provided, 0 to 45 days after receipt (mostly within a week or two; a tail past the deadline),
/// received over five years, and closed (delivered only, when provided in the last two weeks);
/// the rest open, received in the last 60 days; every requester type.
/// Only generated values go into the text: ids, numbers, dates and fixed words.
pub fn request_values(g: &mut Generator, number: u64, today: IsoDate, patient: &str, user: &str) -> String {
    use app::domain::release::{RequesterType, Status};
    let open = [Status::Submitted, Status::IdentityCheck, Status::InReview, Status::Approved];
    let kinds = RequesterType::ALL;
    let kind = g.pick(&kinds).as_str();
    let is_open = g.below(100) < 2;
    let age = if is_open { g.days(60) } else { 60 + g.days(5 * 365 - 60) };
    let received = today.add_days(-age).unwrap_or(today);
    let due = received.add_days(30).unwrap_or(received);
    let took = [g.below(8), g.below(15), g.below(31), g.below(46)][usize::try_from(g.below(4)).unwrap_or(0)];
    let (status, provided, turnaround) = if is_open {
        (g.pick(&open).as_str(), "NULL".to_string(), "NULL".to_string())
    } else {
        let day = received.add_days(i64::try_from(took).unwrap_or(0)).unwrap_or(received);
        // Delivered, then closed by the desk; the last two weeks' not closed yet.
        let status = if day >= today.add_days(-14).unwrap_or(today) { Status::Delivered } else { Status::Closed };
        (status.as_str(), format!("'{day}'"), took.to_string())
    };
    format!(
        "('{id}', {number}, '{patient}', '{user}', '{status}', '{{\"sections\":[],\"from\":null,\"to\":null}}', 'pdf', 'third_party', 0, '{received}', '{due}', false, 0, 0, 'mail', '{kind}', {provided}, {turnaround})",
        id = uuid::Uuid::new_v4(),
    )
}

/// Inserts `count` release requests for `patients` (chosen at random), numbered after the
/// highest number already taken; `done` is told after each transaction.
pub async fn insert_requests(db: &DatabaseConnection, g: &mut Generator, count: u64, today: IsoDate, patients: &[String], user: &str, done: &(dyn Fn(u64) + Sync)) -> Result<(), DbErr> {
    if patients.is_empty() {
        return Ok(());
    }
    let first: i64 = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COALESCE(MAX(number), 1000) AS n FROM release_request"))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(1000);
    let first = u64::try_from(first).unwrap_or(1000) + 1;
    let mut n: u64 = 0;
    while n < count {
        let txn = db.begin().await?;
        for _ in 0..REQUEST_STATEMENTS {
            let rows: Vec<String> = (n..count.min(n + REQUEST_ROWS as u64))
                .map(|k| {
                    let patient = g.pick(patients).as_str();
                    request_values(g, first + k, today, patient, user)
                })
                .collect();
            if rows.is_empty() {
                break;
            }
            n += rows.len() as u64;
            txn.execute_unprepared(&format!("INSERT INTO release_request ({REQUEST_COLUMNS}) VALUES {}", rows.join(","))).await?;
        }
        txn.commit().await?;
        done(n);
    }
    Ok(())
}

/// A day `ms` milliseconds after 1970 as `YYYY-MM-DD`, in this database's SQL.
fn day_of_ms(backend: DatabaseBackend, ms: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("to_char(to_timestamp(({ms}) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        _ => format!("strftime('%Y-%m-%d', ({ms}) / 1000, 'unixepoch')"),
    }
}

/// Syllables the new names are made of (made up: no real person is named on purpose).
const FAMILY_START: [&str; 24] = ["Ander", "Bal", "Cor", "Dun", "El", "Fair", "Gar", "Hol", "Ing", "Jar", "Kel", "Lom", "Mar", "Nor", "Ol", "Pem", "Quin", "Ros", "Sal", "Tor", "Ul", "Var", "Wes", "Yar"];
const FAMILY_END: [&str; 12] = ["son", "berg", "ley", "wood", "ton", "ford", "well", "by", "stead", "more", "field", "ham"];
const GIVEN: [&str; 40] = [
    "Ada", "Ben", "Cara", "Dev", "Edna", "Finn", "Gail", "Hugo", "Iris", "Joel", "Kira", "Leo", "Mae", "Nico", "Opal", "Paul", "Quinn", "Rosa", "Sam", "Tess", "Uma",
    "Vic", "Wren", "Xena", "Yuri", "Zoe", "Abel", "Bea", "Cole", "Dina", "Eli", "Faye", "Gus", "Hana", "Ivan", "June", "Kai", "Lena", "Milo", "Nell",
];

/// A template: an imported patient the new ones are copied from.
struct Template {
    id: String,
    birth: IsoDate,
}

/// Makes `scale.patients` new patients from `templates` (imported patients' ids) and
/// `scale.requests` release requests for them (requested by `requester`), telling `progress`
/// (done, total) as it goes. Ends with `ANALYZE`, as an operator would after a bulk load.
pub async fn seed(db: &DatabaseConnection, templates: &[String], requester: &str, today: IsoDate, scale: Scale, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<Seeded, DbErr> {
    let started = std::time::Instant::now();
    let backend = db.get_database_backend();
    let total = scale.patients + scale.requests;
    let mut g = Generator::default();
    db.execute_unprepared("DROP TABLE IF EXISTS seed_copy").await?;
    db.execute_unprepared("DROP TABLE IF EXISTS seed_pick").await?;
    db.execute_unprepared(
        "CREATE TABLE seed_copy (template_id VARCHAR(36) NOT NULL, patient_id VARCHAR(36) NOT NULL, prefix VARCHAR(8) NOT NULL, mrn VARCHAR(32) NOT NULL, family VARCHAR(100) NOT NULL, given VARCHAR(100) NOT NULL, birth_date VARCHAR(10) NOT NULL, shift_ms BIGINT NOT NULL)",
    )
    .await?;
    db.execute_unprepared("CREATE TABLE seed_pick (template_id VARCHAR(36) NOT NULL, resource_id VARCHAR(36) NOT NULL)").await?;

    // Each template's newest items of each kind: what its copies take.
    let mut usable = Vec::new();
    for id in templates {
        let quoted = quote(id);
        db.execute_unprepared(&format!(
            "INSERT INTO seed_pick (template_id, resource_id) SELECT {quoted}, resource_id FROM (SELECT resource_id, kind, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY (start_ms IS NULL), start_ms DESC, resource_id) AS n FROM clinical_item WHERE patient_id = {quoted}) ranked WHERE n <= CASE WHEN kind IN ('claim', 'explanation_of_benefit') THEN 1 ELSE {PER_KIND} END"
        ))
        .await?;
        let row = db.query_one_raw(Statement::from_string(backend, format!("SELECT birth_date FROM patient WHERE id = {quoted}"))).await?;
        if let Some(birth) = row.map(|r| r.try_get::<String>("", "birth_date")).transpose()?.and_then(|b| IsoDate::parse(&b).ok()) {
            usable.push(Template { id: id.clone(), birth });
        }
    }
    if usable.is_empty() && scale.patients > 0 {
        return Err(DbErr::Custom("no imported patient to copy from".into()));
    }
    let per_template: u64 = db
        .query_one_raw(Statement::from_string(backend, "SELECT COUNT(*) AS n FROM seed_pick"))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .map_or(0, |n| u64::try_from(n).unwrap_or(0));

    // A fresh run's ids start at a random prefix, so seeding twice does not collide.
    let base = u32::from_be_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().unwrap_or([0; 4]));
    let shifted = |column: &str| format!("{column} - c.shift_ms");
    let remap = |column: &str| format!("c.prefix || substr({column}, 9)");
    // A moved date's text is its new day; an undated item keeps its text.
    let day_text = |which: &str| {
        let day = day_of_ms(backend, &shifted(&format!("i.{which}_ms")));
        format!("CASE WHEN i.{which}_ms IS NULL THEN i.{which}_text ELSE {day} END")
    };
    let copy_statements = [
        "INSERT INTO patient (id, site_code, mrn, family_name, given_names, birth_date, sex, phone, email, deceased_date, created_at_ms) \
         SELECT c.patient_id, p.site_code, c.mrn, c.family, c.given, c.birth_date, p.sex, NULL, NULL, NULL, p.created_at_ms FROM seed_copy c JOIN patient p ON p.id = c.template_id"
            .to_string(),
        "INSERT INTO patient_identifier (system, value, patient_id) SELECT 'urn:portal:bench-seed', c.mrn, c.patient_id FROM seed_copy c".to_string(),
        format!(
            "INSERT INTO fhir_resource (id, resource_type, fhir_id, patient_id, json, sha256, imported_at_ms, updated_at_ms) \
             SELECT {id}, r.resource_type, {fhir}, c.patient_id, replace(r.json, r.fhir_id, {fhir}), r.sha256, r.imported_at_ms, r.updated_at_ms \
             FROM seed_copy c JOIN seed_pick s ON s.template_id = c.template_id JOIN fhir_resource r ON r.id = s.resource_id",
            id = remap("r.id"),
            fhir = remap("r.fhir_id"),
        ),
        format!(
            "INSERT INTO clinical_item (resource_id, patient_id, kind, display, codes, code_system, code, status, category, start_text, start_ms, end_text, end_ms, encounter_id, report_id, value_num, value_text, unit, ref_low, ref_high, ref_text, interpretation) \
             SELECT {id}, c.patient_id, i.kind, i.display, i.codes, i.code_system, i.code, i.status, i.category, {start_text}, {start}, {end_text}, {end}, {encounter}, {report}, i.value_num, i.value_text, i.unit, i.ref_low, i.ref_high, i.ref_text, i.interpretation \
             FROM seed_copy c JOIN seed_pick s ON s.template_id = c.template_id JOIN clinical_item i ON i.resource_id = s.resource_id",
            id = remap("i.resource_id"),
            start_text = day_text("start"),
            start = shifted("i.start_ms"),
            end_text = day_text("end"),
            end = shifted("i.end_ms"),
            encounter = remap("i.encounter_id"),
            report = remap("i.report_id"),
        ),
        format!(
            "INSERT INTO sensitive_tag (resource_id, category, patient_id) SELECT {id}, t.category, c.patient_id FROM seed_copy c JOIN seed_pick s ON s.template_id = c.template_id JOIN sensitive_tag t ON t.resource_id = s.resource_id",
            id = remap("t.resource_id"),
        ),
    ];

    let mut patients = Vec::with_capacity(usize::try_from(scale.patients).unwrap_or(0));
    let mut made: u64 = 0;
    while made < scale.patients {
        let txn = db.begin().await?;
        let mut rows = Vec::new();
        for n in made..scale.patients.min(made + BATCH) {
            let template = g.pick(&usable);
            let prefix = format!("{:08x}", base.wrapping_add(u32::try_from(n).unwrap_or(u32::MAX)));
            let patient_id = format!("{prefix}{}", template.id.get(8..).unwrap_or_default());
            // Up to ten years back: the record and the birth date move together.
            let days = g.days(3650);
            let birth = template.birth.add_days(-days).unwrap_or(template.birth);
            let family = format!("{}{}", g.pick(&FAMILY_START), g.pick(&FAMILY_END));
            let given = *g.pick(&GIVEN);
            rows.push(format!(
                "('{template}', '{patient_id}', '{prefix}', 'S{prefix}{n}', '{family}', '{given}', '{birth}', {shift})",
                template = template.id,
                shift = days * 86_400_000,
            ));
            patients.push(patient_id);
        }
        txn.execute_unprepared(&format!("INSERT INTO seed_copy (template_id, patient_id, prefix, mrn, family, given, birth_date, shift_ms) VALUES {}", rows.join(","))).await?;
        for statement in &copy_statements {
            txn.execute_unprepared(statement).await?;
        }
        // A copy holds only its template's newest items: its latest readings are its own.
        let batch = patients.len() - rows.len();
        app::backend::access::import::mark_latest_readings(&txn, &patients[batch..]).await?;
        txn.execute_unprepared("DELETE FROM seed_copy").await?;
        txn.commit().await?;
        made += rows.len() as u64;
        progress(made, total);
    }
    insert_requests(db, &mut g, scale.requests, today, &patients, requester, &|n| progress(scale.patients + n, total)).await?;
    db.execute_unprepared("DROP TABLE seed_copy").await?;
    db.execute_unprepared("DROP TABLE seed_pick").await?;
    db.execute_unprepared("ANALYZE").await?;
    Ok(Seeded { patients: made, items: made * per_template / (usable.len().max(1) as u64), requests: scale.requests, seconds: started.elapsed().as_secs_f64() })
}

/// Imports every FHIR file under `fixtures` (the templates; importing one again updates it in
/// place), then seeds `scale` on them with a progress bar, and records the seeding in the audit
/// trail (a system action that made patients). `requester` asks for the seeded requests.
pub async fn seed_from_fixtures(db: &DatabaseConnection, settings: &crate::settings::Settings, fixtures: &std::path::Path, requester: &str, scale: Scale) -> Result<Seeded, crate::error::StartupError> {
    use app::backend::audit::{AuditAction, AuditEvent, Outcome, record_alone};
    use crate::error::StartupError;
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    let system = app::backend::access::SystemContext::command_line(db.clone(), settings.site_code.clone());
    let importer = system.importer(settings.import_limits());
    let mut templates = Vec::new();
    for file in crate::import::import_files(&[fixtures.to_path_buf()])? {
        let bytes = std::fs::read(&file).map_err(|e| fail(&file.display().to_string(), &e))?;
        let summary = importer.import(&file.display().to_string(), &bytes, &|_, _| {}).await.map_err(|e| fail(&file.display().to_string(), &e))?;
        templates.extend(summary.patient.map(|p| p.id));
    }
    let bar = indicatif::ProgressBar::new(scale.patients + scale.requests).with_style(
        indicatif::ProgressStyle::with_template("seeding [{bar:30}] {percent}% {msg} ({elapsed}, about {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = |done: u64, _total: u64| {
        bar.set_position(done);
        bar.set_message(if done <= scale.patients { format!("{done} patients") } else { format!("{} requests", done - scale.patients) });
    };
    let today = settings.clock().today();
    let seeded = seed(db, &templates, requester, today, scale, &progress).await.map_err(|e| fail("seeding", &e))?;
    bar.finish_and_clear();
    let request = app::backend::request::RequestMeta::command_line();
    let event = AuditEvent::new(AuditAction::RecordImport, Outcome::Success, &request)
        .actor(system.actor())
        .entity("bench_seed", format!("{}+{}", seeded.patients, seeded.requests))
        .detail("bench_seed");
    record_alone(db, event).await.map_err(|e| fail("audit", &e))?;
    Ok(seeded)
}

/// `portal bench seed`: the configured database migrated, an HIM account that asks for the
/// seeded requests (it has no password: nobody signs in as it), then [`seed_from_fixtures`].
pub async fn bench_seed(settings: &crate::settings::Settings, fixtures: &std::path::Path, scale: Scale) -> Result<String, crate::error::StartupError> {
    use crate::error::StartupError;
    use app::backend::auth::{Auth, users};
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Import(format!("{what}: {e}"));
    if settings.environment == crate::settings::Environment::Production {
        return Err(StartupError::Import("bench seed makes up patients and requests: it refuses to run with `environment = \"production\"`".into()));
    }
    let db = crate::database::connect(settings).await?;
    crate::database::migrate_up(&db).await?;
    refuse_real_records(&db).await?;
    let auth = Auth::new(settings.auth_config()).map_err(|e| fail("hashing", &e))?;
    let email = format!("seed-{}@bench.invalid", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let new = users::NewUser {
        email: app::domain::EmailAddress::parse(&email).map_err(|e| fail("email", &e))?,
        display_name: "Benchmark seed".into(),
        password: None,
        roles: [app::domain::Role::HimStaff].into_iter().collect(),
        patient_id: None,
    };
    let user = users::create(&db, &auth, new, None, &app::backend::request::RequestMeta::command_line()).await.map_err(|e| fail("user", &e))?;
    let seeded = seed_from_fixtures(&db, settings, fixtures, &user.id, scale).await?;
    db.close_by_ref().await.ok();
    Ok(format!(
        "seeded {} patients (about {} clinical items) and {} release requests in {:.1} s",
        seeded.patients, seeded.items, seeded.requests, seeded.seconds
    ))
}

/// Refuses a database that holds patients and no bench data: made-up patients and requests
/// must never mix with real ones. An empty database or one seeded before is fine.
pub async fn refuse_real_records(db: &DatabaseConnection) -> Result<(), crate::error::StartupError> {
    let backend = db.get_database_backend();
    let number = |sql: &'static str| async move {
        let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
        row.map(|r| r.try_get_by_index::<i64>(0)).transpose().map(|n| n.unwrap_or(0))
    };
    let fail = |e: DbErr| crate::error::StartupError::Import(format!("reading the database: {e}"));
    let patients = number("SELECT COUNT(*) FROM patient").await.map_err(fail)?;
    let seeded = number("SELECT COUNT(*) FROM patient_identifier WHERE system = 'urn:portal:bench-seed'").await.map_err(fail)?;
    if patients > 0 && seeded == 0 {
        return Err(crate::error::StartupError::Import(format!(
            "this database holds {patients} patient record(s) and no bench data: bench seed adds made-up patients and runs only on an empty database or one it seeded before (point `data_dir` or `database_url` at a new one)"
        )));
    }
    Ok(())
}

/// `text` as an SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_stays_below_its_bound() {
        let (mut a, mut b) = (Generator::default(), Generator::default());
        for n in [1, 2, 7, 100, 3650] {
            let x = a.below(n);
            assert_eq!(x, b.below(n));
            assert!(x < n);
        }
        assert_eq!(a.below(0), 0);
    }

    #[test]
    fn a_seeded_request_is_open_and_recent_or_provided_within_45_days() {
        let today = IsoDate::parse("2026-12-03").expect("date");
        let mut g = Generator::default();
        for n in 0..500 {
            let row = request_values(&mut g, n, today, "p", "u");
            assert_eq!(row.matches(", ").count() + 1, REQUEST_COLUMNS.split(", ").count(), "{row}");
            if row.contains("'delivered'") || row.contains("'closed'") {
                let turnaround: u64 = row.trim_end_matches(')').rsplit(", ").next().and_then(|t| t.parse().ok()).expect("turnaround");
                assert!(turnaround <= 45, "{row}");
            } else {
                assert!(row.ends_with("NULL, NULL)"), "{row}");
            }
        }
    }
}
