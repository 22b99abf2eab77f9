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
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
