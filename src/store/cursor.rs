//! What the store keeps for the intake, as values it only persists: the
//! IMAP position (the intake's own type, kept as JSON in `meta`, so that a
//! restart resumes where the desk stopped and backups carry it) and why
//! the mailbox last stopped the daemon (for `guichet status`).
//!
//! The store knows nothing of the intake: the daemon, which holds both,
//! writes the position the intake moved after each message and round.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Store;

/// The `meta` key of the IMAP position.
const POSITION_KEY: &str = "imap_position";
/// The `meta` key of the last stop for a mailbox error.
const STOP_KEY: &str = "mailbox_stopped";

impl Store {
    /// The IMAP position as last written.
    pub fn imap_position<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        Ok(self
            .meta_get(POSITION_KEY)?
            .map(|bytes| serde_json::from_slice(&bytes))
            .transpose()?)
    }

    /// Writes the IMAP position.
    pub fn set_imap_position<T: Serialize>(&self, position: &T) -> Result<()> {
        self.meta_set(POSITION_KEY, &serde_json::to_vec(position)?)
    }

    /// Records why the mailbox stopped the daemon (`error`, at `now`), or
    /// clears the record once the mailbox works again.
    pub fn record_mailbox_stop(&self, error: Option<&str>, now: DateTime<Utc>) -> Result<()> {
        match error {
            Some(e) => {
                let line = format!(
                    "stopped at {}: {e}",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                self.meta_set(STOP_KEY, line.as_bytes())
            }
            None if self.meta_get(STOP_KEY)?.is_some_and(|v| !v.is_empty()) => {
                self.meta_set(STOP_KEY, b"")
            }
            None => Ok(()),
        }
    }

    /// Why the mailbox last stopped the daemon, if it has not worked since.
    pub fn mailbox_stop(&self) -> Result<Option<String>> {
        Ok(self
            .meta_get(STOP_KEY)?
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_and_the_last_stop_survive_a_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mark = (7u32, 42u32);
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.imap_position::<(u32, u32)>().unwrap(), None);
            store.set_imap_position(&mark).unwrap();
            store
                .record_mailbox_stop(Some("folder refused"), Utc::now())
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.imap_position().unwrap(), Some(mark));
        let stop = store.mailbox_stop().unwrap().unwrap();
        assert!(stop.ends_with(": folder refused"), "{stop}");
        store.record_mailbox_stop(None, Utc::now()).unwrap();
        assert_eq!(store.mailbox_stop().unwrap(), None);
    }
}
