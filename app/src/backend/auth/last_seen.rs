//! This server's memory of sign-ins' last activity between writes of their rows (issue 21:
//! `login_session.last_seen_ms` is written at most once a minute; see `sessions::TOUCH_WRITE_MS`).

/// What this server saw of each sign-in since it last wrote the row: the row's `last_seen_ms` as
/// the server last read or wrote it, and the real last activity. Kept per server, so the idle
/// time-out stays exact on the server that served the activity; it is used only while the row
/// still holds the value it was taken against (another server's write, or an administrator's,
/// wins).
#[derive(Debug, Clone, Default)]
pub struct LastSeen(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>>);

impl LastSeen {
    pub(super) fn last_activity(&self, login_id: &str, stored: i64) -> i64 {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(login_id) {
            Some((known, real)) if *known == stored => (*real).max(stored),
            _ => stored,
        }
    }

    pub(super) fn remember(&self, login_id: &str, stored: i64, real: i64) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Forget sign-ins idle for longer than any limit could be (12 hours), now and then.
        if seen.len() >= 4096 && seen.len().is_power_of_two() {
            seen.retain(|_, (_, last)| real - *last < 12 * 3_600_000);
        }
        seen.insert(login_id.to_string(), (stored, real));
    }

    pub(super) fn forget(&self, login_id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(login_id);
    }
}

#[cfg(test)]
mod tests {
    use super::LastSeen;

    #[test]
    fn activity_remembered_between_writes_counts_until_the_row_changes() {
        let seen = LastSeen::default();
        assert_eq!(seen.last_activity("a", 1_000), 1_000, "nothing remembered: the row");
        // A request at 31 s did not write the row (written at 1 s): the idle time counts from 31 s.
        seen.remember("a", 1_000, 31_000);
        assert_eq!(seen.last_activity("a", 1_000), 31_000);
        // Another server (or an administrator) wrote the row since: the row wins.
        assert_eq!(seen.last_activity("a", 500), 500);
        assert_eq!(seen.last_activity("a", 90_000), 90_000);
        seen.forget("a");
        assert_eq!(seen.last_activity("a", 1_000), 1_000);
    }
}
