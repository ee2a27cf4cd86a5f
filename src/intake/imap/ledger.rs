//! Which UIDs of the intake mailbox have been handled: the functional core
//! behind the persisted cursor.

use std::collections::BTreeSet;

/// The persisted position of the intake in one mailbox generation: every
/// message with a UID up to `last_uid` has had its effects committed.
/// A different `uidvalidity` means the UIDs were renumbered: start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UidMark {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// The key of a handed-out message, `uidvalidity:uid`: a UID alone could
/// name another message after the mailbox is renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageKey {
    pub uidvalidity: u32,
    pub uid: u32,
}

impl std::fmt::Display for MessageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uidvalidity, self.uid)
    }
}

impl std::str::FromStr for MessageKey {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<MessageKey> {
        let parsed = s.split_once(':').and_then(|(v, u)| {
            Some(MessageKey {
                uidvalidity: v.parse().ok()?,
                uid: u.parse().ok()?,
            })
        });
        parsed.ok_or_else(|| anyhow::anyhow!("`{s}` is not an IMAP message key (uidvalidity:uid)"))
    }
}

/// Handed-out and settled UIDs above the mark. The mark only advances over
/// an unbroken run of settled UIDs, so a message the daemon could not
/// settle (it will retry it) is never skipped after a restart.
#[derive(Debug, Clone)]
pub struct Ledger {
    mark: UidMark,
    /// Handed out by `next`, not settled yet.
    outstanding: BTreeSet<u32>,
    /// Settled above the mark, waiting for a lower one: not to be handed out again.
    settled: BTreeSet<u32>,
    highest_seen: u32,
}

impl Ledger {
    pub fn new(mark: UidMark) -> Ledger {
        Ledger {
            mark,
            outstanding: BTreeSet::new(),
            settled: BTreeSet::new(),
            highest_seen: mark.last_uid,
        }
    }

    pub fn mark(&self) -> UidMark {
        self.mark
    }

    /// Whether `uid` is still to be handed out.
    pub fn wanted(&self, uid: u32) -> bool {
        uid > self.mark.last_uid && !self.settled.contains(&uid)
    }

    /// Records UIDs handed out by `next` (all UIDs from the mark up to the
    /// highest of them that were not handed out are gone from the mailbox).
    pub fn handed_out(&mut self, uids: impl IntoIterator<Item = u32>) {
        for uid in uids {
            self.outstanding.insert(uid);
            self.highest_seen = self.highest_seen.max(uid);
        }
    }

    /// Records a settled UID; returns the new mark when it advanced.
    pub fn settle(&mut self, uid: u32) -> Option<UidMark> {
        if !self.wanted(uid) {
            return None;
        }
        self.outstanding.remove(&uid);
        self.settled.insert(uid);
        let reach = match self.outstanding.first() {
            Some(lowest) => lowest - 1,
            None => self.highest_seen.max(uid),
        };
        if reach <= self.mark.last_uid {
            return None;
        }
        self.mark.last_uid = reach;
        self.settled = self.settled.split_off(&(reach + 1));
        Some(self.mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(last: u32) -> Ledger {
        Ledger::new(UidMark {
            uidvalidity: 7,
            last_uid: last,
        })
    }

    #[test]
    fn mark_advances_over_settled_runs_only() {
        let mut l = ledger(10);
        l.handed_out([11, 12, 15]);
        assert_eq!(l.settle(12), None, "11 is still outstanding");
        assert!(!l.wanted(12), "a settled UID is not handed out again");
        assert!(l.wanted(11));
        assert_eq!(l.settle(11).map(|m| m.last_uid), Some(14));
        assert_eq!(l.settle(15).map(|m| m.last_uid), Some(15));
        assert_eq!(
            l.mark(),
            UidMark {
                uidvalidity: 7,
                last_uid: 15
            }
        );
        assert!(!l.wanted(15) && l.wanted(16));
    }

    #[test]
    fn keys_round_trip_and_refuse_garbage() {
        let key = MessageKey {
            uidvalidity: 1795849625,
            uid: 42,
        };
        assert_eq!(key.to_string(), "1795849625:42");
        assert_eq!("1795849625:42".parse::<MessageKey>().unwrap(), key);
        for bad in ["42", "a:1", "1:", ":1", "1:2:3", "-1:2"] {
            assert!(bad.parse::<MessageKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn settling_twice_or_below_the_mark_changes_nothing() {
        let mut l = ledger(10);
        l.handed_out([11]);
        assert!(l.settle(11).is_some());
        assert_eq!(l.settle(11), None);
        assert_eq!(l.settle(3), None);
        assert_eq!(l.mark().last_uid, 11);
    }

    #[test]
    fn an_unsettled_message_holds_the_mark_back() {
        let mut l = ledger(0);
        l.handed_out([1, 2, 3]);
        assert_eq!(l.settle(2), None);
        assert_eq!(l.settle(3), None);
        assert_eq!(l.mark().last_uid, 0);
        assert!(l.wanted(1) && !l.wanted(2) && !l.wanted(3));
    }
}
