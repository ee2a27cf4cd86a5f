//! The intake's position in an IMAP mailbox (UIDVALIDITY and last settled
//! UID), kept in the store's `meta` tree so that a restart resumes where the
//! desk stopped, and backups carry it.
//!
//! The daemon holds the store only during a round of work, while the IMAP
//! adapter may move its mark at any time (a settle inside a round, a
//! renumbering noticed on reconnect between rounds). So the position lives
//! in memory, shared with the daemon, which lends it the open store at the
//! start of each round: a mark saved while no store is lent is written at
//! the next round.

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;

use super::Store;
use crate::intake::imap::{UidCursor, UidMark};

const KEY: &str = "imap_position";

#[derive(Default)]
struct Position {
    store: Option<Arc<Store>>,
    mark: Option<UidMark>,
    unsaved: bool,
}

/// A `UidCursor` on the store. Clones share one position.
#[derive(Clone, Default)]
pub struct ImapPosition(Arc<Mutex<Position>>);

impl ImapPosition {
    /// The position as the store last recorded it.
    pub fn load_from(store: &Store) -> Result<ImapPosition> {
        let mark = store
            .meta_get(KEY)?
            .map(|bytes| serde_json::from_slice(&bytes))
            .transpose()?;
        Ok(ImapPosition(Arc::new(Mutex::new(Position {
            mark,
            ..Default::default()
        }))))
    }

    fn lock(&self) -> MutexGuard<'_, Position> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The round has the store open: marks are written through, and one
    /// saved meanwhile is written now.
    pub fn lend(&self, store: Arc<Store>) -> Result<()> {
        let mut p = self.lock();
        if p.unsaved {
            if let Some(mark) = p.mark {
                store.meta_set(KEY, &serde_json::to_vec(&mark)?)?;
            }
            p.unsaved = false;
        }
        p.store = Some(store);
        Ok(())
    }

    /// The round is over: the store is let go.
    pub fn take_back(&self) {
        self.lock().store = None;
    }
}

impl UidCursor for ImapPosition {
    fn load(&self) -> Result<Option<UidMark>> {
        Ok(self.lock().mark)
    }

    fn save(&self, mark: UidMark) -> Result<()> {
        let mut p = self.lock();
        p.mark = Some(mark);
        match &p.store {
            Some(store) => store.meta_set(KEY, &serde_json::to_vec(&mark)?)?,
            None => p.unsaved = true,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_saved_between_rounds_is_written_at_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let mark = UidMark {
            uidvalidity: 7,
            last_uid: 42,
        };
        {
            let store = Store::open(dir.path()).unwrap();
            let position = ImapPosition::load_from(&store).unwrap();
            assert_eq!(position.load().unwrap(), None);
            drop(store);
            position.save(mark).unwrap();
            let store = Arc::new(Store::open(dir.path()).unwrap());
            position.lend(store.clone()).unwrap();
            position.take_back();
        }
        let store = Store::open(dir.path()).unwrap();
        let again = ImapPosition::load_from(&store).unwrap();
        assert_eq!(again.load().unwrap(), Some(mark));
    }
}
