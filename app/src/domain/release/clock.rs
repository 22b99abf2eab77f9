//! The legal clocks: a request's 30 days and its one extension (45 CFR 164.524(b)(2)), and the
//! six years an accounting of disclosures covers (164.528(a)).

use super::lifecycle::Status;
use crate::domain::IsoDate;
use serde::{Deserialize, Serialize};

/// The legal clock of one request (164.524(b)(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub received: IsoDate,
    /// Received + the response period (setting, default 30 days), or the extended date.
    pub due: IsoDate,
    pub extended: bool,
}

/// Why an extension is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("a request can be extended only once (45 CFR 164.524(b)(2)(iii))")]
    AlreadyExtended,
    #[error("the extension must be sent before the original deadline ({due})")]
    TooLate { due: IsoDate },
    #[error("the new date must be after the current deadline and at most {max_days} days after it")]
    BadDate { max_days: i64 },
    #[error("the patient must be told why: give a reason")]
    NoReason,
    #[error("the copy was already provided (or the denial sent): no extension is needed")]
    AlreadyActedOn,
}

impl Clock {
    /// A new request's clock: due `response_days` calendar days after receipt.
    pub fn start(received: IsoDate, response_days: i64) -> Option<Clock> {
        Some(Clock { received, due: received.add_days(response_days)?, extended: false })
    }

    /// Past its due date and not yet provided (or denied): shown as overdue to patient and staff.
    pub fn overdue(&self, status: Status, today: IsoDate) -> bool {
        !status.clock_stopped() && today > self.due
    }

    /// Days left until the due date (negative when overdue).
    pub fn days_left(&self, today: IsoDate) -> i64 {
        today.days_until(self.due)
    }

    /// The one extension 164.524(b)(2)(iii) allows: before the deadline, with a written reason
    /// and the new date, by at most `max_days` (default 30). The caller sends the notice.
    pub fn extend(&self, status: Status, today: IsoDate, new_due: IsoDate, reason: &str, max_days: i64) -> Result<Clock, ExtensionError> {
        if status.clock_stopped() {
            return Err(ExtensionError::AlreadyActedOn);
        }
        if self.extended {
            return Err(ExtensionError::AlreadyExtended);
        }
        if today >= self.due {
            return Err(ExtensionError::TooLate { due: self.due });
        }
        if reason.trim().is_empty() {
            return Err(ExtensionError::NoReason);
        }
        let added = self.due.days_until(new_due);
        if added < 1 || added > max_days {
            return Err(ExtensionError::BadDate { max_days });
        }
        Ok(Clock { received: self.received, due: new_due, extended: true })
    }
}

/// The earliest date of an accounting: six years before `today` (164.528(a)).
pub fn accounting_start(today: IsoDate) -> IsoDate {
    // 2192 days is six years of which at most two are leap years: the start is never later
    // than six years back.
    today.add_days(-2192).unwrap_or(today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn day(s: &str) -> IsoDate {
        IsoDate::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn rule_164_524_b_2_due_30_days_after_receipt_and_overdue_until_provided() {
        let clock = Clock::start(day("2026-01-15"), 30).expect("clock");
        assert_eq!(clock.due, day("2026-02-14"));
        assert_eq!(clock.days_left(day("2026-02-10")), 4);
        assert!(!clock.overdue(InReview, day("2026-02-14")), "due on the day itself");
        assert!(clock.overdue(InReview, day("2026-02-15")));
        assert!(clock.overdue(Submitted, day("2026-03-01")));
        assert!(!clock.overdue(Denied, day("2026-03-01")), "a denial is acting on the request");
        assert!(!clock.overdue(Released, day("2026-03-01")));
        // Approved is not provided: the clock runs until the copy is made available.
        assert!(clock.overdue(Approved, day("2026-03-01")) && clock.overdue(PartiallyApproved, day("2026-03-01")));
        // A stricter state's 15 days is a setting.
        assert_eq!(Clock::start(day("2026-01-15"), 15).map(|c| c.due), Some(day("2026-01-30")));
    }

    #[test]
    fn rule_164_524_b_2_iii_one_extension_before_day_30_with_reason_and_new_date() {
        let clock = Clock::start(day("2026-01-15"), 30).expect("clock");
        let extended = clock.extend(InReview, day("2026-02-10"), day("2026-03-16"), "Records are stored off site", 30).expect("allowed");
        assert_eq!(extended.due, day("2026-03-16"));
        assert!(extended.extended);
        assert!(!extended.overdue(InReview, day("2026-03-01")));
        assert_eq!(extended.extend(InReview, day("2026-02-11"), day("2026-03-20"), "again", 30), Err(ExtensionError::AlreadyExtended));
        assert_eq!(clock.extend(InReview, day("2026-02-14"), day("2026-03-01"), "late", 30), Err(ExtensionError::TooLate { due: day("2026-02-14") }));
        assert_eq!(clock.extend(InReview, day("2026-02-01"), day("2026-03-20"), "too far", 30), Err(ExtensionError::BadDate { max_days: 30 }));
        assert_eq!(clock.extend(InReview, day("2026-02-01"), day("2026-02-10"), "earlier", 30), Err(ExtensionError::BadDate { max_days: 30 }));
        assert_eq!(clock.extend(InReview, day("2026-02-01"), day("2026-03-01"), "  ", 30), Err(ExtensionError::NoReason));
        assert_eq!(clock.extend(Released, day("2026-02-01"), day("2026-03-01"), "why", 30), Err(ExtensionError::AlreadyActedOn));
        assert!(clock.extend(Approved, day("2026-02-01"), day("2026-03-01"), "copying the paper chart", 30).is_ok(), "approved but not yet provided");
    }

    #[test]
    fn rule_164_528_a_the_accounting_covers_six_years() {
        let today = IsoDate::parse("2026-11-24").unwrap_or_else(|_| unreachable!());
        let start = accounting_start(today);
        assert_eq!(start.to_string(), "2020-11-23", "six years back (and one day: never short of six years)");
        assert!(start.days_until(today) > 6 * 365);
    }
}
