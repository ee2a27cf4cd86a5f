//! The outbox's pause: when the SMTP server or the sign-in fails, no reply
//! is at fault, so none is given up. Sending stops as a whole, is tried
//! again after a growing delay, and `guichet status` and the metrics say
//! "sending refused since …, why" until it works again.
//!
//! Pure: the state is a value the drain keeps in the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest wait between two attempts while paused: once the server
/// takes mail again, replies go out within five minutes, and a refused
/// login is tried at most twelve times an hour.
pub const MAX_DELAY_S: i64 = 300;

/// Sending is refused since `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    pub since: DateTime<Utc>,
    /// The last failure, as the server or the connection put it (addresses
    /// masked).
    pub why: String,
    /// Failed attempts since `since`.
    pub attempts: u32,
    /// When the next attempt is made.
    pub retry_at: DateTime<Utc>,
}

impl Paused {
    /// The pause after one more failure `why` at `now`: a new one when
    /// sending worked until now, else the same pause, waiting twice as long
    /// as before (from `first_retry_s`, at most `MAX_DELAY_S`).
    pub fn after_failure(
        before: Option<Paused>,
        why: &str,
        now: DateTime<Utc>,
        first_retry_s: i64,
    ) -> Paused {
        let (since, attempts) = match before {
            Some(p) => (p.since, p.attempts.saturating_add(1)),
            None => (now, 1),
        };
        let delay = (first_retry_s.max(1) << (attempts - 1).min(12)).min(MAX_DELAY_S);
        Paused {
            since,
            why: mask_addresses(why),
            attempts,
            retry_at: now + chrono::Duration::seconds(delay),
        }
    }

    /// Whether an attempt is due at `now`.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        now >= self.retry_at
    }

    /// What `status` prints: "sending refused since <time>, <why>".
    pub fn line(&self) -> String {
        format!(
            "sending refused since {}, {}",
            self.since
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.why
        )
    }

    /// The kind of failure, first word of `why` (`connection`, `tls`,
    /// `authentication`, `sender`, `server`): a metrics label.
    pub fn kind(&self) -> &str {
        self.why
            .split([':', ' '])
            .next()
            .filter(|k| !k.is_empty())
            .unwrap_or("server")
    }
}

/// `why` with every e-mail address replaced by `<address>`: servers quote
/// the sender or recipient in their refusals, and neither goes in a log.
pub fn mask_addresses(why: &str) -> String {
    why.split_inclusive(char::is_whitespace)
        .map(|word| {
            let core = word.trim_end();
            if !core.contains('@') {
                return word.to_string();
            }
            // What follows the address in the sentence stays: `>: ` → `: `.
            let address_end = core.trim_end_matches([':', ',', ';', '.']).len();
            format!("<address>{}", &word[address_end..])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_pause_keeps_its_start_and_waits_longer_each_time_up_to_five_minutes() {
        let first = Paused::after_failure(None, "authentication: 535 5.7.8 failed", at(0), 30);
        assert_eq!(first.since, at(0));
        assert_eq!(first.retry_at, at(30));
        assert!(!first.due(at(29)) && first.due(at(30)));
        let second = Paused::after_failure(Some(first), "connection: refused", at(30), 30);
        assert_eq!(second.since, at(0), "the same pause goes on");
        assert_eq!(second.attempts, 2);
        assert_eq!(second.retry_at, at(30 + 60));
        assert_eq!(second.kind(), "connection");
        let mut p = second;
        for i in 0..20 {
            p = Paused::after_failure(Some(p), "server: 421 busy", at(100 + i), 30);
        }
        assert_eq!(p.retry_at, at(119 + MAX_DELAY_S));
        assert_eq!(
            p.line(),
            "sending refused since 2026-09-21T14:13:20Z, server: 421 busy"
        );
    }

    #[test]
    fn addresses_never_reach_the_reason() {
        let why = "sender: 553 5.7.1 <acces@organisme.example>: Sender address rejected";
        assert_eq!(
            mask_addresses(why),
            "sender: 553 5.7.1 <address>: Sender address rejected"
        );
        assert_eq!(
            mask_addresses("to a@b.example, c@d.example."),
            "to <address>, <address>."
        );
        let p = Paused::after_failure(None, why, at(0), 1);
        assert!(!p.why.contains('@'));
    }
}
