//! The site's clock: instants are stored as UTC milliseconds, and people read them in the
//! hospital's own time zone (setting `time_zone`, an IANA name such as `America/Chicago`) as a
//! readable date and time: "Dec 1, 2026, 6:30 PM CST". The legal deadlines count calendar days
//! (45 CFR 164.524(b)(2): "no later than 30 calendar days"), and a calendar day is the
//! hospital's: a request made at 9 pm in Chicago is made that day, not the next UTC day.
//!
//! The zone rules come from the system's tz database, or the copy built into the binary when the
//! system has none (a slim container), so a time zone that starts is a time zone that formats.

use crate::domain::IsoDate;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The configured zone, shared by every formatter on the server.
#[derive(Debug, Clone)]
pub struct SiteClock {
    zone: TimeZone,
    name: String,
}

/// `time_zone` names no zone this portal knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {0:?}: use an IANA name such as America/Chicago or UTC")]
pub struct UnknownZone(pub String);

impl Default for SiteClock {
    fn default() -> Self {
        SiteClock::utc()
    }
}

impl SiteClock {
    /// The zone named `name` (`UTC`, `America/Chicago`, ...).
    pub fn new(name: &str) -> Result<Self, UnknownZone> {
        let name = name.trim();
        let zone = TimeZone::get(name).map_err(|_| UnknownZone(name.to_string()))?;
        Ok(SiteClock { zone, name: name.to_string() })
    }

    pub fn utc() -> Self {
        SiteClock { zone: TimeZone::UTC, name: "UTC".to_string() }
    }

    /// The IANA name, as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn at(&self, ms: i64) -> jiff::ZonedDateTime {
        // Out-of-range instants cannot be stored (they come from the server's own clock);
        // the epoch stands in rather than a panic.
        Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned_datetime(self.zone.clone())
    }

    /// "Dec 1, 2026, 6:30 PM CST": what a person reads next to an event.
    pub fn minutes(&self, ms: i64) -> String {
        self.at(ms).strftime("%b %-d, %Y, %-I:%M %p %Z").to_string()
    }

    /// "2026-12-01 18:30:05 CST": sortable to the second, for the audit report and the
    /// stamps on released files.
    pub fn seconds(&self, ms: i64) -> String {
        self.at(ms).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
    }

    /// "2026-12-01 18:30": a recorded clinical time here, sortable (the page makes it readable).
    pub fn iso_minutes(&self, ms: i64) -> String {
        self.at(ms).strftime("%Y-%m-%d %H:%M").to_string()
    }

    /// "Dec 1, 2026": the day an instant falls on here, as a person reads it.
    pub fn day(&self, ms: i64) -> String {
        self.at(ms).strftime("%b %-d, %Y").to_string()
    }

    /// The calendar day an instant falls on here.
    pub fn date_of(&self, ms: i64) -> IsoDate {
        let at = self.at(ms);
        let (y, m, d) = (at.year(), at.month(), at.day());
        IsoDate::from_parts(u16::try_from(y).unwrap_or(1970), u16::try_from(m).unwrap_or(1), u16::try_from(d).unwrap_or(1))
            .unwrap_or_else(|_| unreachable!("a zoned date is a calendar date"))
    }

    /// The first millisecond of `date` here (its local midnight), for filters by day.
    pub fn start_of(&self, date: IsoDate) -> i64 {
        date.to_string()
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned_datetime(self.zone.clone()).ok())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or_else(|| date.start_ms())
    }

    /// Today, here: the first day of every legal clock.
    pub fn today(&self) -> IsoDate {
        self.date_of(super::db::now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-02 03:00:00 UTC is 9 pm on December 1 in Chicago (CST, UTC-6).
    const LATE_EVENING_IN_CHICAGO: i64 = 1_796_180_400_000;

    #[test]
    fn times_are_read_in_the_hospital_zone_as_a_readable_date() {
        let chicago = SiteClock::new("America/Chicago").expect("a known zone");
        assert_eq!(chicago.minutes(LATE_EVENING_IN_CHICAGO), "Dec 1, 2026, 9:00 PM CST");
        assert_eq!(chicago.seconds(LATE_EVENING_IN_CHICAGO), "2026-12-01 21:00:00 CST");
        assert_eq!(chicago.day(LATE_EVENING_IN_CHICAGO), "Dec 1, 2026");
        assert_eq!(SiteClock::utc().minutes(LATE_EVENING_IN_CHICAGO), "Dec 2, 2026, 3:00 AM UTC");
        // Summer time has its own abbreviation.
        assert_eq!(chicago.minutes(1_783_000_000_000), "Jul 2, 2026, 8:46 AM CDT");
    }

    #[test]
    fn rule_164_524_b_2_the_calendar_day_is_the_hospitals() {
        // A request made at 9 pm in Chicago is made on December 1 there, so its 30 calendar
        // days end on December 31, not January 1.
        let chicago = SiteClock::new("America/Chicago").expect("a known zone");
        let made = chicago.date_of(LATE_EVENING_IN_CHICAGO);
        assert_eq!(made.to_string(), "2026-12-01");
        assert_eq!(made.add_days(30).map(|d| d.to_string()).as_deref(), Some("2026-12-31"));
        assert_eq!(SiteClock::utc().date_of(LATE_EVENING_IN_CHICAGO).to_string(), "2026-12-02");
        // Midnight in Chicago is 6 am UTC in winter.
        let day = IsoDate::parse("2026-12-01").expect("a date");
        assert_eq!(chicago.start_of(day), day.start_ms() + 6 * 3_600_000);
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name() {
        let error = SiteClock::new("Mars/Olympus").expect_err("no such zone");
        assert!(error.to_string().contains("Mars/Olympus"));
        assert!(SiteClock::new(" UTC ").is_ok());
    }

}
