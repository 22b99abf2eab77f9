//! `IsoDate`: a calendar date written `YYYY-MM-DD`, as FHIR and HTML date inputs write it. Kept
//! dependency-free so the same check runs in the browser.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IsoDate {
    year: u16,
    month: u8,
    day: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Enter a real date as YYYY-MM-DD, for example 1984-03-07.")]
pub struct DateError;

impl IsoDate {
    pub fn parse(input: &str) -> Result<Self, DateError> {
        let s = input.trim();
        let bytes = s.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(DateError);
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, DateError> {
            let part = &s[range];
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DateError);
            }
            part.parse().map_err(|_| DateError)
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        Self::from_parts(year, month, day)
    }

    pub fn from_parts(year: u16, month: u16, day: u16) -> Result<Self, DateError> {
        if !(1850..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(DateError);
        }
        let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days {
            return Err(DateError);
        }
        Ok(IsoDate { year, month: month as u8, day: day as u8 })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    /// Whole years from this date (a birth date) to `on`; a birthday counts on its day, and
    /// 29 February birthdays count on 1 March in other years.
    pub fn age_on(self, on: IsoDate) -> i64 {
        let before_birthday = (on.month, on.day) < (self.month, self.day);
        i64::from(on.year) - i64::from(self.year) - i64::from(before_birthday)
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// (year, month, day, seconds into the day) of a Unix time in milliseconds, UTC. Howard
/// Hinnant's civil-from-days algorithm, so no date library is needed in the browser.
fn civil(ms: i64) -> (i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem)
}

/// `2026-11-24 09:30 UTC`
pub fn format_utc_minutes(ms: i64) -> String {
    let (y, m, d, rem) = civil(ms);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// `2026-11-24 09:30:05`, UTC (the audit report says so in its column heading).
pub fn format_utc_seconds(ms: i64) -> String {
    let (y, m, d, rem) = civil(ms);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// A stored calendar date ("2026-12-05") as a person reads it ("Dec 5, 2026"); anything that is
/// not such a date is shown as it is.
pub fn readable_day(text: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    match IsoDate::parse(text) {
        Ok(date) => format!("{} {}, {:04}", MONTHS[usize::from(date.month) - 1], date.day, date.year),
        Err(_) => text.to_string(),
    }
}

/// A recorded clinical date or time as the server sends it ("2026-12-05" or "2026-12-05 14:30",
/// already in the hospital's zone) as a person reads it ("Dec 5, 2026" or "Dec 5, 2026,
/// 2:30 PM"); a partial date ("2026", "2026-12") is shown as it is.
pub fn readable_when(text: &str) -> String {
    let Some((day, time)) = text.split_once(' ') else { return readable_day(text) };
    let (Ok(_), Some((h, m))) = (IsoDate::parse(day), time.split_once(':')) else { return text.to_string() };
    let (Ok(hour), Ok(minute)) = (h.parse::<u8>(), m.parse::<u8>()) else { return text.to_string() };
    if hour > 23 || minute > 59 {
        return text.to_string();
    }
    let (twelve, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{}, {twelve}:{minute:02} {half}", readable_day(day))
}

impl IsoDate {
    /// The date `days` later (earlier when negative), if it is still a date this type holds.
    pub fn add_days(self, days: i64) -> Option<IsoDate> {
        let (y, m, d, _) = civil(self.start_ms() + days * 86_400_000);
        IsoDate::from_parts(u16::try_from(y).ok()?, u16::try_from(m).ok()?, u16::try_from(d).ok()?).ok()
    }

    /// Calendar days from this date to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: IsoDate) -> i64 {
        (later.start_ms() - self.start_ms()) / 86_400_000
    }

    /// Milliseconds since the Unix epoch at the start of this day, UTC.
    pub fn start_ms(self) -> i64 {
        // Days from civil (Hinnant), the inverse of `civil`.
        let (y, m, d) = (i64::from(self.year), i64::from(self.month), i64::from(self.day));
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * 86_400_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_dates_read_like_dates() {
        assert_eq!(readable_day("2026-12-05"), "Dec 5, 2026");
        assert_eq!(readable_day("2027-01-31"), "Jan 31, 2027");
        assert_eq!(readable_day("not a date"), "not a date");
        assert_eq!(readable_when("2026-12-05 14:30"), "Dec 5, 2026, 2:30 PM");
        assert_eq!(readable_when("2026-12-05 00:05"), "Dec 5, 2026, 12:05 AM");
        assert_eq!(readable_when("2026-12-05 12:00"), "Dec 5, 2026, 12:00 PM");
        assert_eq!(readable_when("2026-12-05"), "Dec 5, 2026");
        assert_eq!(readable_when("2026-12"), "2026-12");
    }

    #[test]
    fn instants_print_as_utc_dates() {
        assert_eq!(format_utc_minutes(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc_minutes(1_795_512_600_000), "2026-11-24 09:30 UTC");
        assert_eq!(format_utc_seconds(951_782_405_000), "2000-02-29 00:00:05");
    }

    #[test]
    fn days_start_at_utc_midnight() {
        for s in ["1970-01-01", "2000-02-29", "2026-11-24", "1899-12-31"] {
            let day = IsoDate::parse(s).expect("valid");
            assert_eq!(format_utc_seconds(day.start_ms()), format!("{s} 00:00:00"));
        }
        assert_eq!(IsoDate::parse("2026-11-24").expect("valid").start_ms(), 1_795_478_400_000);
    }

    #[test]
    fn days_add_across_months_years_and_leap_days() {
        let day = |s: &str| IsoDate::parse(s).expect("valid");
        assert_eq!(day("2024-02-15").add_days(30), Some(day("2024-03-16")));
        assert_eq!(day("2023-12-20").add_days(30), Some(day("2024-01-19")));
        assert_eq!(day("2024-03-01").add_days(-1), Some(day("2024-02-29")));
        assert_eq!(day("2024-01-01").days_until(day("2024-12-31")), 365);
        assert_eq!(day("2024-01-31").days_until(day("2024-01-01")), -30);
    }

    #[test]
    fn real_dates_parse_and_print_back() {
        for s in ["1984-03-07", "2000-02-29", "2024-12-31"] {
            assert_eq!(IsoDate::parse(s).expect("valid").to_string(), s);
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        for s in ["1900-02-29", "2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "24-01-01",
            "2024/01/01", "2024-1-01", "+024-01-01", "", "1700-01-01"] {
            assert_eq!(IsoDate::parse(s), Err(DateError), "{s}");
        }
    }

    #[test]
    fn dates_order_chronologically() {
        let a = IsoDate::parse("1999-12-31").expect("valid");
        let b = IsoDate::parse("2000-01-01").expect("valid");
        assert!(a < b);
    }
}
