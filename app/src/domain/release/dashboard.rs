//! How the release desk is doing (issue 17), as HIM leads read it: open requests by status and
//! age, the overdue list, and per month and per requester type the turnaround (median and 90th
//! percentile, in calendar days from receipt to the copy provided or the denial sent) and the
//! share answered on time. Wire types and the small pure rules; the service computes every
//! figure with SQL aggregates.

use serde::{Deserialize, Serialize};

/// The age bands of open requests, in days since receipt: the last is "over 30" (past the
/// federal deadline unless extended).
pub const AGE_BANDS: [(i64, &str); 4] = [(7, "0–7 days"), (14, "8–14 days"), (30, "15–30 days"), (i64::MAX, "over 30 days")];

/// Open requests of one status, counted per age band (in [`AGE_BANDS`] order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAges {
    pub status: String,
    pub counts: Vec<i64>,
    pub total: i64,
}

/// Turnaround of the requests provided in one month or of one requester type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turnaround {
    /// `2026-11`, or a requester type's code.
    pub key: String,
    pub label: String,
    pub provided: i64,
    pub median_days: Option<i64>,
    pub p90_days: Option<i64>,
    pub on_time: i64,
}

impl Turnaround {
    /// "94%": the share provided by the due date (after any extension).
    pub fn on_time_text(&self) -> String {
        if self.provided == 0 { "—".into() } else { format!("{}%", (self.on_time * 100 + self.provided / 2) / self.provided) }
    }
}

/// One overdue request, as the lead's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueRow {
    pub id: String,
    pub number: String,
    pub requester_type: String,
    pub due: String,
    pub days_late: i64,
    pub assignee: Option<String>,
}

/// The lead's dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub today: String,
    pub bands: Vec<String>,
    pub open: Vec<StatusAges>,
    pub overdue: Vec<OverdueRow>,
    pub overdue_total: i64,
    /// From this month (received on or after `since`), newest month first.
    pub since: String,
    pub months: Vec<Turnaround>,
    pub types: Vec<Turnaround>,
}

/// A colleague a lead may assign work to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colleague {
    pub id: String,
    pub name: String,
    /// Open requests assigned to them now.
    pub open: i64,
}

/// One bucket of the turnaround histogram the database counts: requests of `key` provided after
/// `days` days, on time or not, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket<'a> {
    pub key: &'a str,
    pub days: i64,
    pub on_time: bool,
    pub count: i64,
}

/// The turnaround of each key from its histogram: the nearest-rank median and 90th percentile
/// (the smallest day count reached by half, and by nine in ten, of the requests) and the number
/// on time. The database groups the rows; this reads at most one bucket per day count.
pub fn turnaround_of(buckets: &[Bucket<'_>], label: impl Fn(&str) -> String) -> Vec<Turnaround> {
    let mut keys: Vec<&str> = buckets.iter().map(|b| b.key).collect();
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let mut mine: Vec<&Bucket<'_>> = buckets.iter().filter(|b| b.key == key).collect();
            mine.sort_by_key(|b| b.days);
            let provided: i64 = mine.iter().map(|b| b.count).sum();
            let rank = |share: i64| {
                let mut seen = 0;
                mine.iter().find(|b| {
                    seen += b.count;
                    seen * 10 >= provided * share
                }).map(|b| b.days)
            };
            Turnaround {
                key: key.to_string(),
                label: label(key),
                provided,
                median_days: rank(5),
                p90_days: rank(9),
                on_time: mine.iter().filter(|b| b.on_time).map(|b| b.count).sum(),
            }
        })
        .collect()
}

/// The dashboard as CSV: one line per month and per requester type.
pub fn dashboard_csv(d: &Dashboard) -> String {
    let mut out = String::from("group,key,label,provided,median_days,p90_days,on_time,on_time_share\n");
    let field = |s: &str| if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() };
    let number = |n: Option<i64>| n.map(|v| v.to_string()).unwrap_or_default();
    for (group, rows) in [("month", &d.months), ("requester_type", &d.types)] {
        for t in rows {
            out.push_str(&format!(
                "{group},{},{},{},{},{},{},{}\n",
                field(&t.key),
                field(&t.label),
                t.provided,
                number(t.median_days),
                number(t.p90_days),
                t.on_time,
                if t.provided == 0 { String::new() } else { t.on_time_text() }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_90th_percentile_are_nearest_rank_over_the_histogram() {
        let b = |key, days, on_time, count| Bucket { key, days, on_time, count };
        // 2026-11: ten requests: 5 at 2 days, 4 at 10 days, 1 at 40 days (late).
        let buckets = [b("2026-11", 10, true, 4), b("2026-11", 2, true, 5), b("2026-11", 40, false, 1), b("2026-10", 7, true, 1)];
        let t = turnaround_of(&buckets, |k| format!("month {k}"));
        assert_eq!(t.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), ["2026-11", "2026-10"], "newest first");
        assert_eq!((t[0].provided, t[0].median_days, t[0].p90_days, t[0].on_time), (10, Some(2), Some(10), 9));
        assert_eq!((t[1].median_days, t[1].p90_days, t[1].on_time_text()), (Some(7), Some(7), "100%".to_string()));
        assert!(turnaround_of(&[], |k| k.to_string()).is_empty());
    }

    #[test]
    fn the_csv_has_a_line_per_month_and_type_and_quotes_what_needs_it() {
        let t = |key: &str, label: &str, provided, on_time| Turnaround { key: key.into(), label: label.into(), provided, median_days: Some(4), p90_days: Some(12), on_time };
        let d = Dashboard {
            today: "2026-12-02".into(),
            bands: Vec::new(),
            open: Vec::new(),
            overdue: Vec::new(),
            overdue_total: 0,
            since: "2026-01-01".into(),
            months: vec![t("2026-11", "Nov 2026", 16, 15)],
            types: vec![t("workers_comp", "Workers' compensation, state fund", 3, 2)],
        };
        let csv = dashboard_csv(&d);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "month,2026-11,Nov 2026,16,4,12,15,94%");
        assert_eq!(lines[2], "requester_type,workers_comp,\"Workers' compensation, state fund\",3,4,12,2,67%");
    }
}
