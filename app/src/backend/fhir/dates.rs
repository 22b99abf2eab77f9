//! FHIR `date`, `dateTime` and `instant` values (R4 §2.24.0.1): `YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
//! or a date with a time and a zone offset. Checked for real calendar dates (`2023-02-30` is
//! refused), and turned into the first millisecond they cover, in UTC, for sorting and date-range
//! filters. The text as written is kept for display.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A checked FHIR date or date-time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirDate {
    /// As written in the resource.
    pub text: String,
    /// The first millisecond it covers (UTC; a date without a zone is taken as UTC).
    pub start_ms: i64,
}

/// A text that is not a FHIR date or dateTime (the message quotes at most 40 characters of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FhirDateError(String);

/// Parses `text`, or says why it is not a FHIR date.
pub fn parse(text: &str) -> Result<FhirDate, FhirDateError> {
    let bad = || FhirDateError(format!("`{}` is not a valid FHIR date or dateTime", text.chars().take(40).collect::<String>()));
    let t = text.trim();
    let ms = |dt: OffsetDateTime| (dt.unix_timestamp_nanos() / 1_000_000) as i64;
    let start_ms = match t.len() {
        4 => {
            let year: i32 = t.parse().map_err(|_| bad())?;
            ms(Date::from_calendar_date(year, Month::January, 1).map_err(|_| bad())?.midnight().assume_utc())
        }
        7 => {
            let (y, m) = t.split_once('-').ok_or_else(bad)?;
            let month = Month::try_from(m.parse::<u8>().map_err(|_| bad())?).map_err(|_| bad())?;
            ms(Date::from_calendar_date(y.parse().map_err(|_| bad())?, month, 1).map_err(|_| bad())?.midnight().assume_utc())
        }
        10 => ms(date(t).ok_or_else(bad)?.midnight().assume_utc()),
        _ => {
            // A time needs a zone (R4): Rfc3339 requires one. Some exports omit the seconds'
            // fraction or write `Z`; both are RFC 3339.
            match OffsetDateTime::parse(t, &Rfc3339) {
                Ok(dt) => ms(dt),
                Err(_) => {
                    // Tolerated: a date-time without a zone (common in older exports), as UTC.
                    let (d, rest) = t.split_once('T').ok_or_else(bad)?;
                    let day = date(d).ok_or_else(bad)?;
                    let hms: Vec<&str> = rest.split(':').collect();
                    if hms.len() < 2 {
                        return Err(bad());
                    }
                    let h: u8 = hms[0].parse().map_err(|_| bad())?;
                    let m: u8 = hms[1].parse().map_err(|_| bad())?;
                    let s: u8 = hms.get(2).map(|s| s.split('.').next().unwrap_or("0")).unwrap_or("0").parse().map_err(|_| bad())?;
                    let time = Time::from_hms(h, m, s).map_err(|_| bad())?;
                    ms(PrimitiveDateTime::new(day, time).assume_utc())
                }
            }
        }
    };
    Ok(FhirDate { text: t.to_string(), start_ms })
}

fn date(t: &str) -> Option<Date> {
    let mut parts = t.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// The date part (`YYYY-MM-DD`) of a FHIR date, when it has one.
pub fn day(date: &FhirDate) -> Option<String> {
    (date.text.len() >= 10).then(|| date.text[..10].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fhir_precision_parses_to_its_first_instant() {
        assert_eq!(parse("2020").map(|d| d.start_ms), Ok(1_577_836_800_000));
        assert_eq!(parse("2020-02").map(|d| d.start_ms), Ok(1_580_515_200_000));
        assert_eq!(parse("2020-02-29").map(|d| d.start_ms), Ok(1_582_934_400_000));
        // Synthea (blaze) writes European offsets.
        assert_eq!(parse("2020-02-29T01:00:00+01:00").map(|d| d.start_ms), Ok(1_582_934_400_000));
        assert_eq!(parse("2020-02-29T00:00:00.123Z").map(|d| d.start_ms), Ok(1_582_934_400_123));
        assert_eq!(parse("2020-02-29T00:00:00").map(|d| d.start_ms), Ok(1_582_934_400_000));
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in ["2023-02-30", "2023-13-01", "2023-1-1", "yesterday", "", "2023-02-28T25:00:00Z", "20230228"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
